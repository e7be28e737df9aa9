//! One function per command.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, Context, Result};
use tessel_overlay::driver::clock;
use tessel_overlay::driver::dns::DnsOptions;
use tessel_overlay::driver::portmap::PortMapping;
use tessel_overlay::driver::runtime_dir::SocketGroup;
use tessel_overlay::driver::scopes::ScopeOptions;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::driver::userspace::{Userspace, UserspaceOptions};
use tessel_overlay::driver::{self, DeviceSpec, RunOptions};
use tessel_overlay::identity::address::initial_addresses;
use tessel_overlay::identity::{NetworkKey, NodeId, OwnerId};
use tessel_stack::proxy::Credentials;
use zeroize::Zeroizing;

use crate::cli::{Command, ConfigCommand, NetworkCommand, UpArgs};
use crate::config::UpContext;
use crate::logs::LogLevel;
use tessel_overlay::driver::local_addrs::local_addresses;

/// Runs `command`; `up` is `tessel up`'s config (to read it again on
/// SIGHUP), `log` changes the log filter.
pub(crate) fn run(command: Command, up_ctx: Option<UpContext>, log: LogLevel) -> Result<()> {
    match command {
        Command::Network(NetworkCommand::New { json }) => network_new(json),
        Command::Network(NetworkCommand::Rotate(args)) => crate::rotate::run(&args),
        Command::Network(NetworkCommand::Owner { out, json }) => crate::scope::key_new(&out, json),
        Command::Network(NetworkCommand::Sign(a)) => crate::network::sign(&a),
        Command::Network(NetworkCommand::Revoke(a)) => crate::network::revoke(&a),
        Command::Network(NetworkCommand::Revocations(a)) => crate::network::revocations(&a),
        Command::Network(NetworkCommand::Handover(a)) => crate::network::handover(&a),
        Command::Up(args) => up(*args, up_ctx, log),
        Command::Config(ConfigCommand::Check { file, json }) => {
            crate::config::check::run(file.as_deref(), json)
        }
        Command::Down(a) => crate::down::run(&a.dirs, a.json),
        Command::Ip(a) => crate::status::ip(&a.dirs, a.json),
        Command::Status(args) => crate::status::status(&args),
        Command::Whois(args) => crate::whois::run(&args),
        Command::Netcheck(args) => crate::netcheck::run(args),
        Command::Ping(args) => crate::ping::run(&args),
        Command::Engine(cmd) => crate::engine::run(cmd),
        Command::Tile(cmd) => crate::tile::run(cmd),
        Command::Scope(cmd) => crate::scope::run(cmd),
        #[cfg(target_os = "linux")]
        Command::Demo(args) => crate::demo::run(&args),
        Command::Completions { shell } => crate::manual::completions(shell),
        Command::Man { out } => crate::manual::man(out.as_deref()),
        #[cfg(feature = "test-hooks")]
        Command::TestFlood(args) => crate::flood::run(args),
    }
}

fn network_new(json: bool) -> Result<()> {
    let mut seed = Zeroizing::new([0u8; 32]);
    clock::fill_random(&mut seed[..]).map_err(|e| anyhow!("reading the OS random source: {e}"))?;
    let key = NetworkKey::from_secret(*seed);
    if json {
        let v = serde_json::json!({
            "key": key.to_text().as_str(),
            "network_id": key.id().to_string(),
        });
        println!("{v}");
    } else {
        println!("{}", key.to_text().as_str());
    }
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

/// Resolves a `--peer HOST:PORT`.
pub(crate) fn resolve_peer(peer: &str) -> Result<SocketAddr> {
    let mut addrs = peer.to_socket_addrs().map_err(|e| {
        anyhow!("cannot use --peer {peer}: {e}. Give it as HOST:PORT, e.g. 198.51.100.1:9740")
    })?;
    addrs
        .next()
        .ok_or_else(|| anyhow!("--peer {peer} resolves to no address"))
}

fn up(args: UpArgs, up_ctx: Option<UpContext>, log: LogLevel) -> Result<()> {
    let state = StateDir::open(&args.dirs.state_dir)?;
    let live = crate::config::reload::settings_of(&args)?;
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
    let (map, map_announcer) = args
        .map
        .map(|addr| crate::map::open(addr, &args.dirs.state_dir))
        .transpose()?
        .unzip();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let interface = if args.userspace {
        "userspace".to_string()
    } else {
        args.interface.clone()
    };
    let ipv4_range = args.ipv4_range;
    // SIGHUP reloads the config file from now on.
    let (settings_tx, settings_rx) = tokio::sync::mpsc::channel(4);
    if let Some(ctx) = up_ctx {
        let _in_runtime = runtime.enter();
        crate::config::reload::spawn(ctx, log, settings_tx)?;
    }
    runtime.block_on(async {
        // In userspace mode the stack must exist before the node runs.
        let mut userspace = None;
        let device = if args.userspace {
            let node = state.node_key()?.id();
            let (ipv6, ipv4) = initial_addresses(&ipv4_range, &network_key.id(), &node);
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
        // A new network: where others reach this node, once known.
        let (public_tx, public_rx) = created
            .then(|| tokio::sync::watch::channel(Vec::new()))
            .unzip();
        let opts = RunOptions {
            state_dir: args.dirs.state_dir.clone(),
            runtime_dir: args.dirs.daemon_runtime_dir(),
            socket_group: args
                .socket_group
                .clone()
                .map_or(SocketGroup::Default, SocketGroup::Named),
            network_key: network_key.clone(),
            ipv4_range,
            listen: args.listen,
            peers: live.peers,
            stun_servers: live.stun_servers,
            settings: Some(settings_rx),
            public_addresses: public_tx,
            device,
            lan_discovery: !args.no_lan_discovery,
            tcp: !args.no_tcp,
            relay: live.relay,
            tile,
            scopes,
            managed,
            name: args.name.clone(),
            dns: (!args.no_dns).then(|| DnsOptions {
                domain: args.dns_domain.clone(),
                listen: args.dns_listen,
            }),
            metrics: args.metrics,
            map,
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
                if let Some(map) = &map_announcer {
                    map.announce();
                }
                if let Some(public) = public_rx {
                    let key = zeroize::Zeroizing::new(network_key.to_text().as_str().to_owned());
                    let join = crate::join::Announcer::new(key, &args.dirs.state_dir, bound.port());
                    let local = local_addresses(&ipv4_range);
                    let given = crate::join::peers(&[], &local, bound);
                    join.started(&given);
                    tokio::spawn(join.follow(given, public));
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
