//! One function per command.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, bail, Context, Result};
use tessel_overlay::driver::portmap::PortMapping;
use tessel_overlay::driver::runtime_dir::SocketGroup;
use tessel_overlay::driver::scopes::ScopeOptions;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::tcp::TcpStatus;
use tessel_overlay::driver::userspace::{Userspace, UserspaceOptions};
use tessel_overlay::driver::{self, DeviceSpec, RunOptions};
use tessel_overlay::identity::address::initial_addresses;
use tessel_overlay::identity::{NetworkKey, NodeId, OwnerId};
use tessel_overlay::node::Status;
use tessel_stack::proxy::Credentials;
use zeroize::Zeroizing;

use crate::cli::{Command, DirsAndJson, NetworkCommand, NodeDirs, UpArgs};
use crate::local::{self, Unreachable};
use tessel_overlay::driver::local_addrs::local_addresses;

/// Runs `command`.
pub(crate) fn run(command: Command) -> Result<()> {
    match command {
        Command::Network(NetworkCommand::New) => network_new(),
        Command::Network(NetworkCommand::Rotate(args)) => crate::rotate::run(&args),
        Command::Network(NetworkCommand::Owner { out }) => crate::scope::key_new(&out),
        Command::Network(NetworkCommand::Sign(a)) => crate::network::sign(&a),
        Command::Network(NetworkCommand::Revoke(a)) => crate::network::revoke(&a),
        Command::Network(NetworkCommand::Revocations(a)) => crate::network::revocations(&a),
        Command::Up(args) => up(*args),
        Command::Down(a) => crate::down::run(&a.dirs, a.json),
        Command::Ip(a) => ip(&a.dirs, a.json),
        Command::Status(args) => status(args),
        Command::Netcheck(args) => crate::netcheck::run(args),
        Command::Ping(args) => ping(args),
        Command::Engine(cmd) => crate::engine::run(cmd),
        Command::Tile(cmd) => crate::tile::run(cmd),
        Command::Scope(cmd) => crate::scope::run(cmd),
        Command::Completions { shell } => crate::manual::completions(shell),
        Command::Man { out } => crate::manual::man(out.as_deref()),
        #[cfg(feature = "test-hooks")]
        Command::TestFlood(args) => crate::flood::run(args),
    }
}

fn network_new() -> Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    println!("{}", NetworkKey::from_secret(seed).to_text().as_str());
    Ok(())
}

/// Parses `--network KEY|@FILE`.
pub(crate) fn parse_network(arg: &str) -> Result<NetworkKey> {
    let (text, origin) = match arg.strip_prefix('@') {
        Some(path) => (
            Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading the network key from {path}"))?,
            ),
            format!(" in {path}"),
        ),
        None => (Zeroizing::new(arg.to_string()), String::new()),
    };
    NetworkKey::parse(&text).map_err(|e| {
        anyhow!(
            "invalid network key{origin}: {e}. Copy the whole key printed by `tessel network new` \
             (it starts with tessel-net-), or create a new network with `tessel network new`"
        )
    })
}

/// Parses `--socks5-auth @FILE|USER:PASSWORD`.
fn parse_credentials(arg: &str) -> Result<Credentials> {
    let text = match arg.strip_prefix('@') {
        Some(path) => Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the SOCKS5 credentials from {path}"))?,
        ),
        None => Zeroizing::new(arg.to_string()),
    };
    Credentials::parse(text.trim_end_matches(['\r', '\n']))
        .map_err(|e| anyhow!("invalid --socks5-auth: {e}; give USER:PASSWORD, or @FILE holding it"))
}

fn resolve_peer(peer: &str) -> Result<SocketAddr> {
    let mut addrs = peer.to_socket_addrs().map_err(|e| {
        anyhow!("cannot use --peer {peer}: {e}. Give it as HOST:PORT, e.g. 198.51.100.1:9740")
    })?;
    addrs
        .next()
        .ok_or_else(|| anyhow!("--peer {peer} resolves to no address"))
}

fn up(args: UpArgs) -> Result<()> {
    let state = StateDir::open(&args.dirs.state_dir)?;
    let peers = args
        .peers
        .iter()
        .map(|p| resolve_peer(p))
        .collect::<Result<Vec<_>>>()?;
    let stun_servers = crate::netcheck::resolve_stun_servers(&args.stun)?;
    let socks5_credentials = args
        .socks5_auth
        .as_deref()
        .map(parse_credentials)
        .transpose()?;
    let (network_key, created) = match &args.network {
        Some(arg) => (parse_network(arg)?, false),
        None => match state.network_key()? {
            Some(key) => (key, false),
            None => (state.new_network_key()?, true),
        },
    };
    // The daemon saves it at start (unless the state dir holds a newer
    // key of the same network: see driver/rotation.rs).
    let managed = crate::network::managed_options(&args, &state, &network_key)?;
    let tile = crate::tile::options(&args, state.path())?;
    let scopes = scope_options(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let interface = if args.userspace {
        "userspace".to_string()
    } else {
        args.interface.clone()
    };
    runtime.block_on(async {
        // In userspace mode the stack must exist before the node runs.
        let mut userspace = None;
        let device = if args.userspace {
            let node = state.node_key()?.id();
            let (ipv6, ipv4) = initial_addresses(&network_key.id(), &node);
            let (mut stack, device) = Userspace::start(
                ipv6,
                ipv4,
                args.stack_memory.map(|mib| (mib as usize) << 20),
            );
            let opts = UserspaceOptions {
                socks5: args.socks5,
                socks5_credentials: socks5_credentials.clone(),
                forwards: args.forward.clone(),
                exposes: args.expose.clone(),
            };
            for line in stack.serve(&opts).await? {
                tracing::info!("{line}");
            }
            userspace = Some(stack);
            DeviceSpec::Channel(device)
        } else {
            DeviceSpec::Tun {
                interface: args.interface.clone(),
            }
        };
        let opts = RunOptions {
            state_dir: args.dirs.state_dir.clone(),
            runtime_dir: args.dirs.daemon_runtime_dir(),
            socket_group: args
                .socket_group
                .clone()
                .map_or(SocketGroup::Default, SocketGroup::Named),
            network_key: network_key.clone(),
            listen: args.listen,
            peers,
            stun_servers,
            device,
            lan_discovery: !args.no_lan_discovery,
            tcp: !args.no_tcp,
            relay: !args.no_relay,
            tile,
            scopes,
            managed,
            metrics: args.metrics,
            engine_stack: userspace.as_ref().map(|u: &Userspace| u.handle.clone()),
            port_mapping: match (args.no_port_mapping, args.port_mapping_protocol) {
                (true, _) => PortMapping::Off,
                (false, Some(p)) => PortMapping::Only(p),
                (false, None) => PortMapping::Auto,
            },
        };
        let shutdown = driver::shutdown_signal()?;
        let result = driver::run(
            opts,
            |node, bound| {
                #[cfg(feature = "test-hooks")]
                if args.test_tamper_relayed {
                    tracing::warn!("test hook: tampering with every frame relayed for others");
                    node.set_relay_tampering(true);
                }
                tracing::info!(
                    node = %node.id(), network = %node.network_id(), ipv6 = %node.ipv6(),
                    ipv4 = %node.ipv4(), listen = %bound, interface = %interface, "tessel is up"
                );
                if created {
                    print_join_command(&network_key, bound);
                }
            },
            shutdown,
        )
        .await;
        drop(userspace);
        result
    })?;
    tracing::info!("tessel stopped");
    Ok(())
}

/// The `--scope-…` flags of `tessel up`.
fn scope_options(args: &UpArgs) -> Result<ScopeOptions> {
    let root = match &args.scope_root {
        None => return Ok(ScopeOptions::default()),
        Some(r) => OwnerId::parse(r).map_err(|e| {
            anyhow!("--scope-root {r}: {e} (the root key is an owner key's public half, tessel-owner-…, as `tessel scope key new` prints it)")
        })?,
    };
    let bootstrap = args
        .scope_bootstrap
        .iter()
        .map(|b| {
            NodeId::parse(b).map_err(|e| {
                anyhow!("--scope-bootstrap {b}: {e} (a node ID, tessel-node-…, as `tessel status` prints it)")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ScopeOptions {
        root: Some(root),
        bootstrap,
        dns: args.scope_bootstrap_dns.clone(),
        dns_server: args.dns_server,
    })
}

/// Where the printed join command keeps the network key on the joining
/// machine (a file only its owner reads, so the key is never an argument).
const KEY_FILE: &str = "tessel-network.key";

fn print_join_command(key: &NetworkKey, bound: SocketAddr) {
    let hosts: Vec<String> = if bound.ip().is_unspecified() {
        local_addresses()
            .iter()
            .map(|ip| SocketAddr::new(*ip, bound.port()).to_string())
            .collect()
    } else {
        vec![bound.to_string()]
    };
    let first = hosts
        .first()
        .cloned()
        .unwrap_or_else(|| format!("THIS-HOST:{}", bound.port()));
    println!("Started a new private network. To join it from another machine, run there:");
    println!();
    // printf is a shell builtin: the key never shows in the process list.
    println!(
        "  (umask 077; printf '%s\\n' '{}' > {KEY_FILE})",
        key.to_text().as_str()
    );
    println!("  tessel up --network @{KEY_FILE} --peer {first}");
    if hosts.len() > 1 {
        println!();
        println!(
            "(or use any other address of this machine for --peer: {})",
            hosts[1..].join(", ")
        );
    }
    println!();
}

/// Asks the running node for its status; `None` if no node is running.
fn running_status(dirs: &NodeDirs) -> Option<Result<Status>> {
    running_status_json(dirs).map(|r| {
        r.and_then(|v| serde_json::from_value(v).context("reading the node's status answer"))
    })
}

/// The running node's status as JSON (with the driver's parts, such as
/// `tcp`); `None` if no node is running (an error if one runs but may not
/// be asked).
fn running_status_json(dirs: &NodeDirs) -> Option<Result<serde_json::Value>> {
    match local::request(dirs, "status") {
        Ok(answer) => {
            Some(serde_json::from_str(&answer).context("reading the node's status answer"))
        }
        Err(Unreachable::NotRunning { .. }) => None,
        Err(e) => Some(Err(e.into())),
    }
}

fn ip(dirs: &NodeDirs, json: bool) -> Result<()> {
    let print = |node: &str, ipv6: &str, ipv4: &str| {
        if json {
            println!(
                "{}",
                serde_json::json!({ "node_id": node, "ipv6": ipv6, "ipv4": ipv4 })
            );
        } else {
            println!("{ipv6}\n{ipv4}");
        }
    };
    if let Some(status) = running_status(dirs) {
        let status = status?;
        print(&status.node_id, &status.ipv6, &status.ipv4);
        return Ok(());
    }
    let state_dir = &dirs.state_dir;
    let state = StateDir::open(state_dir)?;
    let Some(network) = state.network_key()? else {
        bail!(
            "no network key in {}: run `tessel up --network KEY --state-dir {}` once first",
            state_dir.display(),
            state_dir.display()
        );
    };
    let node = state.node_key()?.id();
    let (ipv6, ipv4) = initial_addresses(&network.id(), &node);
    print(&node.to_string(), &ipv6.to_string(), &ipv4.to_string());
    Ok(())
}

fn status(args: DirsAndJson) -> Result<()> {
    let json = match local::request(&args.dirs, "status") {
        Ok(answer) => serde_json::from_str::<serde_json::Value>(&answer)
            .context("reading the node's status answer")?,
        Err(e) => return Err(e.into()),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let tcp: Option<TcpStatus> = serde_json::from_value(json["tcp"].clone()).ok();
    let engine_lines = crate::engine::status_lines(&json);
    let status: Status =
        serde_json::from_value(json).context("reading the node's status answer")?;
    println!("node     {}", status.node_id);
    println!("network  {}", status.network_id);
    println!("address  {}  {}", status.ipv6, status.ipv4);
    println!("listen   {}", status.listen);
    let k = &status.network_key;
    match k.old_key_refused_after_unix_ms {
        Some(ms) => println!(
            "key      epoch {}; the old key (epoch {}) works until {}",
            k.epoch,
            k.retiring_epoch.unwrap_or_default(),
            crate::rotate::utc(ms / 1000)
        ),
        None => println!("key      epoch {}", k.epoch),
    }
    if let Some(m) = &status.port_mapping {
        println!("mapped   {} ({})", m.external, m.protocol);
    }
    if let Some(m) = &status.managed {
        println!("managed  owner {}", m.owner);
        println!(
            "         this node: {:?} groups [{}], certificate valid until {} (Unix seconds)",
            m.name,
            m.groups.join(", "),
            m.not_after
        );
        match m.revocations_serial {
            Some(s) => println!("         revocation list serial {s}, {} revoked", m.revoked),
            None => println!("         no revocation list"),
        }
    }
    println!();
    if status.peers.is_empty() {
        println!("no peers yet");
    }
    for p in &status.peers {
        let state = match (&p.path, p.connected) {
            (Some(path), true) => format!("connected ({path})"),
            (None, true) => "connected".to_string(),
            (_, false) => "not connected".to_string(),
        };
        let hs = p
            .last_handshake_ago_secs
            .map_or("never".to_string(), |s| format!("{s:.0}s ago"));
        println!("peer {}  {state}", p.node_id);
        println!(
            "     {}  {}  endpoint {}  handshake {hs}  rx {}  tx {}",
            p.ipv6,
            p.ipv4.as_deref().unwrap_or("-"),
            p.endpoint.as_deref().unwrap_or("-"),
            bytes(p.rx_bytes),
            bytes(p.tx_bytes)
        );
        if let Some(c) = &p.certificate {
            println!(
                "     certificate {:?} groups [{}] until {}",
                c.name,
                c.groups.join(", "),
                c.not_after
            );
        }
    }
    crate::nat_status::print(&status.nat);
    for line in tcp.iter().flat_map(TcpStatus::lines) {
        println!("{line}");
    }
    let r = &status.relay;
    println!(
        "relaying: {}; passed on {} frames ({}) for others, now for {} pairs of members, refused {} ({} over the pair limit, {} over a member's share); sent {} and received {} of ours through relays",
        if r.enabled { "on" } else { "off (--no-relay)" },
        r.forwarded,
        bytes(r.forwarded_bytes),
        r.pairs,
        r.refused,
        r.refused_pairs,
        r.refused_hop_share,
        r.sent_relayed,
        r.received_relayed
    );
    for line in engine_lines {
        println!("{line}");
    }
    let t = &status.traversal;
    if t.punches_started + t.punches_joined > 0 {
        println!(
            "hole punching: {} started, {} joined, {} direct, {} failed, {} probes ({} to random ports, {} birthday)",
            t.punches_started,
            t.punches_joined,
            t.direct_paths_found,
            t.punches_failed,
            t.probes_sent,
            t.spray_probes,
            t.birthday_punches
        );
    }
    if t.candidates_refused + t.joins_refused + t.probes_capped > 0 {
        println!(
            "hole punching refused: {} candidates, {} joins, {} probes over an address's budget",
            t.candidates_refused, t.joins_refused, t.probes_capped
        );
    }
    let drops: Vec<String> = status
        .drops
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    println!();
    println!(
        "dropped  {}",
        if drops.is_empty() {
            "none".to_string()
        } else {
            drops.join(", ")
        }
    );
    Ok(())
}

fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// `tessel ping`: asks the running node to ping, once a second.
fn ping(args: crate::cli::PingArgs) -> Result<()> {
    let mut answered = 0;
    for i in 0..args.count {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let answer = local::request(&args.dirs, &format!("ping {}", args.peer))?;
        let v: serde_json::Value =
            serde_json::from_str(&answer).context("reading the node's ping answer")?;
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            bail!("{e}");
        }
        if args.json {
            println!("{v}");
        } else if v.get("timeout").is_some() {
            println!(
                "no reply from {} (a session may still be starting)",
                args.peer
            );
        } else {
            let how = match (
                v["path"].as_str(),
                v["relay"].as_str(),
                v["endpoint"].as_str(),
            ) {
                (Some("relay"), Some(r), _) => format!("via relay {r}"),
                (Some("direct"), _, Some(e)) => format!("direct {e}"),
                _ => "on no known path".to_string(),
            };
            println!(
                "pong from {} {how} in {:.1} ms",
                v["peer"].as_str().unwrap_or("?"),
                v["rtt_ms"].as_f64().unwrap_or(0.0)
            );
        }
        if v.get("timeout").is_none() {
            answered += 1;
        }
    }
    if answered == 0 {
        bail!("no reply from {}", args.peer);
    }
    Ok(())
}
