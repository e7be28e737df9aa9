//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessel_overlay::driver::dns::{parse_domain, DEFAULT_DOMAIN, DEFAULT_LISTEN};
use tessel_overlay::driver::runtime_dir;
use tessel_overlay::driver::state_dir::DEFAULT_STATE_DIR;
use tessel_overlay::identity::address::Ipv4Range;
use tessel_overlay::identity::NodeName;
use tessel_overlay::limits::{DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_stack::proxy::{ExposeSpec, ForwardSpec};

/// Tessel: a peer-to-peer overlay network. Every member reaches every other
/// member by its overlay address; joining takes only the network key.
#[derive(Debug, Parser)]
#[command(name = "tessel", version)]
pub(crate) struct Cli {
    /// How to write logs: text (for a terminal), json (one object per
    /// line, for collectors) or journal (the systemd journal, with
    /// structured fields). Default: journal when systemd connected stderr to
    /// the journal, else text.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub(crate) log_format: LogFormat,
    /// Which logs to write: a level (error, warn, info, debug, trace) or
    /// filter directives as RUST_LOG takes them (info,tessel_overlay=debug).
    /// Default: $RUST_LOG, else info.
    #[arg(long, global = true, value_name = "LEVEL|FILTER", value_parser = crate::logs::parse_filter)]
    pub(crate) log_level: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// How logs are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// journal when stderr goes to the journal, else text.
    Auto,
    /// Human text on stderr.
    Text,
    /// One JSON object per line on stderr.
    Json,
    /// The systemd journal.
    Journal,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage network keys.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Run the node in the foreground until SIGINT or SIGTERM (SIGHUP
    /// reloads the config file).
    Up(Box<UpArgs>),
    /// The config file (`tessel up --config`).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Stop the running node, as SIGTERM does: it removes its interface,
    /// saves its state and exits (root or the daemon's user only).
    Down(DirsAndJson),
    /// Print this node's overlay IPv6 and IPv4 addresses.
    Ip(DirsAndJson),
    /// Show the running node's peers and counters.
    Status(DirsAndJson),
    /// Show who a member is: node ID, overlay addresses, path and
    /// round-trip time, last seen and, in a managed network, its
    /// certificate's name, groups and expiry.
    Whois(crate::whois::WhoisArgs),
    /// Find out what the NAT in front of this machine does: reflexive
    /// addresses, RTTs, mapping, port allocation, filtering, hairpinning.
    Netcheck(NetcheckArgs),
    /// Ping a member through the overlay and show the path each reply took
    /// (direct, or through which relay) and its round-trip time.
    Ping(PingArgs),
    /// Talk to the tile this node hosts (see `tessel up --tile`): status,
    /// packets to neighbours, managed files.
    #[command(subcommand)]
    Tile(crate::tile::TileCommand),
    /// Engines (actors): list them, call or cast to one by address or name.
    #[command(subcommand)]
    Engine(EngineCommand),
    /// Scopes: owner keys and the signed records that create scopes and
    /// grant hosting and read access.
    #[command(subcommand)]
    Scope(crate::scope::ScopeCommand),
    /// See it work: an emulated internet on this machine (network
    /// namespaces, real kernel NATs), a node in each site, narrated as the
    /// members find each other and punch through; removed at the end.
    /// Needs root.
    #[cfg(target_os = "linux")]
    Demo(crate::demo::DemoArgs),
    /// Print a completion script for a shell: bash, zsh or fish (e.g.
    /// `tessel completions bash > /etc/bash_completion.d/tessel`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the man page tessel(1), or with --out write it and one page
    /// per command (tessel-up(1), …) into a directory.
    #[command(hide = true)]
    Man {
        /// The directory to write the pages into.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Test only: flood a member with handshake initiations or garbage.
    #[cfg(feature = "test-hooks")]
    #[command(hide = true)]
    TestFlood(crate::flood::FloodArgs),
}

/// The shells `tessel completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Check a config file: every error with its line (syntax, unknown
    /// keys, wrong types, bad values, conflicts); prints "ok" if valid.
    Check {
        /// The file (default: /etc/tessel/tessel.toml).
        file: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EngineCommand {
    /// List local engines and the foreign ones this node knows, with
    /// their hosting node.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        dirs: NodeDirs,
    },
    /// Call an engine and print its reply.
    Call(EngineSendArgs),
    /// Send an engine a one-way message.
    Cast(EngineSendArgs),
}

#[derive(Debug, Args)]
pub(crate) struct EngineSendArgs {
    /// The engine: its address (64 hex digits) or a registered name.
    pub(crate) target: String,
    /// The message (UTF-8 text).
    pub(crate) data: String,
    /// How long a call waits for its reply, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    pub(crate) timeout_ms: u32,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct PingArgs {
    /// The member: its node ID (tessel-node-…) or an overlay address.
    pub(crate) peer: String,
    /// Stop after this many replies or timeouts.
    #[arg(short = 'c', long, default_value_t = 4)]
    pub(crate) count: u32,
    /// Print one JSON object per reply.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Print a new network key (the secret that admits members).
    New {
        /// Print JSON (the key and the network's public ID).
        #[arg(long)]
        json: bool,
    },
    /// Replace the network key: the running node makes a new one, prints
    /// it and hands it to the members it has sessions with; the old key
    /// keeps working for the grace period, so members offline now get the
    /// new one when they come back, and is refused after it.
    Rotate(RotateArgs),
    /// Create a network owner key (managed mode): writes the secret to a
    /// file (mode 0600) and prints the public `tessel-owner-…` that nodes
    /// are started with (`tessel up --owner`).
    Owner {
        /// Where to write the secret key (never over an existing file).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print JSON (the public key and the file).
        #[arg(long)]
        json: bool,
    },
    /// Sign a member certificate (managed mode) for a node.
    Sign(crate::network::SignArgs),
    /// Sign a revocation list that revokes members (managed mode).
    Revoke(crate::network::RevokeArgs),
    /// Hand the running node a revocation list: it closes the revoked
    /// members' sessions and passes the list on to the other members.
    Revocations(crate::network::RevocationsArgs),
    /// Hand the network to a new owner key (managed mode): signs, with the
    /// old owner key, that the new one takes over, and hands it to the
    /// running node, which passes it on to the members. Certificates of
    /// the old owner count until the grace ends.
    Handover(crate::network::HandoverArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// How long the old key keeps working: 90s, 30m, 12h, 7d (at most 30d).
    #[arg(long, default_value = "7d", value_parser = crate::scope::duration::parse)]
    pub(crate) grace: std::time::Duration,
    /// Managed mode: the owner key file that signs the rotation (members
    /// take a new key only with the owner's signature). The new key is made
    /// here as the next one of the state dir's key and handed to the node.
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_key: Option<PathBuf>,
    /// Print JSON: the node's answer (the new key, its epoch, when the old
    /// key stops working).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct StateDirArg {
    /// Where the node key, network key and peer cache live.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub(crate) state_dir: PathBuf,
}

/// The directories of a node: its state and its local sockets.
#[derive(Debug, Args)]
pub(crate) struct NodeDirs {
    /// Where the node key, network key and peer cache live.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub(crate) state_dir: PathBuf,
    /// Where the local sockets live (tessel.sock, engines.sock,
    /// tile.sock). Default: /run/tessel as root, $XDG_RUNTIME_DIR/tessel
    /// otherwise; with a --state-dir other than the default, STATE_DIR/run.
    #[arg(long, value_name = "DIR")]
    pub(crate) runtime_dir: Option<PathBuf>,
}

impl NodeDirs {
    /// The runtime dir a daemon started with these flags uses.
    pub(crate) fn daemon_runtime_dir(&self) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| runtime_dir::daemon_default(&self.state_dir))
    }

    /// The runtime dir a client with these flags looks in.
    pub(crate) fn client_runtime_dir(&self) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| runtime_dir::client_default(&self.state_dir))
    }
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The config file, whose keys are these flags' long names; flags
    /// override it. Default: /etc/tessel/tessel.toml if it exists.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The network key, or @FILE to read it from a file. Without it, the node
    /// uses the key in the state dir, or starts a new private network.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) network: Option<String>,
    /// Managed mode: the network owner's key (`tessel-owner-…`); members
    /// must then show a certificate from it. Kept in the state dir.
    #[arg(long, value_name = "tessel-owner-…")]
    pub(crate) owner: Option<String>,
    /// Managed mode: this node's certificate (`tessel-cert-…`), or @FILE
    /// holding it (see `tessel network sign`). Kept in the state dir.
    #[arg(long, value_name = "CERT|@FILE")]
    pub(crate) cert: Option<String>,
    /// This node's name: the other members reach it as NAME.<dns domain>
    /// (e.g. `ping web-1.tessel.internal`). A DNS label: letters, digits
    /// and hyphens, 1 to 63 characters, taken in lowercase. Kept in the
    /// state dir, so later starts need no --name. When two members claim
    /// one name, the earlier claim holds it. In a managed network the
    /// certificate's name is the node's name.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub(crate) name: Option<NodeName>,
    /// The DNS domain of the names: the node answers NAME.<DOMAIN>
    /// (`.internal` is reserved for private networks).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_DOMAIN, value_parser = parse_domain)]
    pub(crate) dns_domain: String,
    /// Where the node answers DNS for names, on UDP and TCP: by default a
    /// loopback address beside systemd-resolved's 127.0.0.53, port 53
    /// (needs root or CAP_NET_BIND_SERVICE). Point the system's resolver
    /// at it for the domain only (see the README). If the address cannot
    /// be bound, the node runs without DNS and says so in its log.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = DEFAULT_LISTEN)]
    pub(crate) dns_listen: SocketAddr,
    /// Do not answer DNS for names (names still show in `tessel status`).
    #[arg(long)]
    pub(crate) no_dns: bool,
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
    /// The group whose members may use the local sockets (a name or a
    /// number). Default: tessel when that group exists, else this
    /// process's own group.
    #[arg(long, value_name = "GROUP")]
    pub(crate) socket_group: Option<String>,
    /// UDP address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = SocketAddr::from(([0u16; 8], DEFAULT_PORT)))]
    pub(crate) listen: SocketAddr,
    /// UDP address of a member to join through (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub(crate) peers: Vec<String>,
    /// A STUN server to learn this node's reflexive address from
    /// (repeatable; the name is resolved at start).
    #[arg(long = "stun", value_name = "HOST:PORT")]
    pub(crate) stun: Vec<String>,
    /// Name of the TUN interface.
    #[arg(long, default_value = DEFAULT_INTERFACE)]
    pub(crate) interface: String,
    /// The IPv4 range of the overlay addresses, /8 to /24 (every member of
    /// the network must use the same).
    #[arg(long, value_name = "CIDR", default_value_t = Ipv4Range::DEFAULT)]
    pub(crate) ipv4_range: Ipv4Range,
    /// Do not ask the gateway (PCP, NAT-PMP, UPnP) to forward a port to
    /// this node.
    #[arg(long)]
    pub(crate) no_port_mapping: bool,
    /// Map the port with this protocol only (pcp, nat-pmp or upnp), without
    /// probing the others; for tests and debugging.
    #[arg(
        long,
        value_name = "PROTOCOL",
        hide = true,
        conflicts_with = "no_port_mapping"
    )]
    pub(crate) port_mapping_protocol: Option<tessel_nat::portmap::Protocol>,
    /// Run without a TUN device and without root: apps reach the overlay
    /// through --socks5, --forward and --expose.
    #[arg(long)]
    pub(crate) userspace: bool,
    /// With --userspace: run a SOCKS5 proxy on this loopback address, e.g.
    /// 127.0.0.1:1080 (no authentication unless --socks5-auth).
    #[arg(long, value_name = "ADDR:PORT", requires = "userspace")]
    pub(crate) socks5: Option<SocketAddr>,
    /// With --socks5: require this username and password (RFC 1929), as
    /// @FILE holding USER:PASSWORD (keeps it out of the process list) or
    /// USER:PASSWORD itself.
    #[arg(long, value_name = "@FILE|USER:PASSWORD", requires = "socks5")]
    pub(crate) socks5_auth: Option<String>,
    /// With --userspace: the most memory, in MiB, that the buffers of all
    /// overlay TCP connections may take together (default 256); one peer may
    /// hold half of it. New connections get smaller buffers as it fills.
    #[arg(long, value_name = "MIB", requires = "userspace", value_parser = clap::value_parser!(u64).range(8..=1_048_576))]
    pub(crate) stack_memory: Option<u64>,
    /// With --userspace: forward a local port to a member's service,
    /// `tcp:127.0.0.1:8080=PEER:80` or `udp:…` (PEER is an overlay address).
    #[arg(long, value_name = "PROTO:LOCAL=PEER:PORT", requires = "userspace")]
    pub(crate) forward: Vec<ForwardSpec>,
    /// With --userspace: offer a local service on this node's overlay port,
    /// `tcp:80=127.0.0.1:8080` or `udp:…`.
    #[arg(long, value_name = "PROTO:PORT=LOCAL", requires = "userspace")]
    pub(crate) expose: Vec<ExposeSpec>,
    /// Do not look for members on the same LAN (by multicast beacons on UDP
    /// port 9741), nor announce this node there.
    #[arg(long)]
    pub(crate) no_lan_discovery: bool,
    /// Do not carry datagrams over TCP: neither accept TCP connections on
    /// the listen port nor dial the --peer addresses over TCP when UDP gets
    /// no answer.
    #[arg(long)]
    pub(crate) no_tcp: bool,
    /// Do not relay traffic for other members (this node still uses
    /// relays itself).
    #[arg(long)]
    pub(crate) no_relay: bool,
    /// Host a tile: the neighbour in direction DIR (NT, NE, ET, SE, ST, SW,
    /// WT, NW) is node NODE_ID (repeatable, one per direction). Needs the
    /// TUN device.
    #[arg(long = "tile", value_name = "DIR=NODE_ID")]
    pub(crate) tile: Vec<tessel_overlay::driver::tile::Neighbour>,
    /// The tile's managed file directory (default: tile-files in the state
    /// dir); verified files live in DIR/live, transfers in DIR/tmp.
    #[arg(long, value_name = "DIR", requires = "tile")]
    pub(crate) tile_files: Option<PathBuf>,
    /// A key trusted to sign tile files and physics announcements: the
    /// ed25519 public key in hexadecimal, as `tessel tile keygen` prints it
    /// (repeatable).
    #[arg(long = "tile-trust", value_name = "KEY", requires = "tile")]
    pub(crate) tile_trust: Vec<String>,
    /// The command to (re)start on a change of physics; the managed file's
    /// path is appended as its last argument. Runs under /bin/sh -c.
    #[arg(long, value_name = "CMD", requires = "tile")]
    pub(crate) tile_run: Option<String>,
    /// Mean seconds between background file adverts to a random neighbour.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, requires = "tile")]
    pub(crate) tile_advert_interval: f64,
    /// Host scopes under this root key (the owner key of `/`, as `tessel
    /// scope key new` prints it): registrations, queries and sends to a
    /// scope through `tessel scope add|register|query|send`.
    #[arg(long, value_name = "tessel-owner-…")]
    pub(crate) scope_root: Option<String>,
    /// A runtime of the root scope's cluster to start scope queries from
    /// (repeatable; a node ID).
    #[arg(
        long = "scope-bootstrap",
        value_name = "tessel-node-…",
        requires = "scope_root"
    )]
    pub(crate) scope_bootstrap: Vec<String>,
    /// Find the root runtimes in DNS: TXT records `tessel-root=tessel-node-…`
    /// at NAME, looked up at start and every few minutes (the last good
    /// answer is kept in the state dir for when DNS fails).
    #[arg(long, value_name = "NAME", requires = "scope_root")]
    pub(crate) scope_bootstrap_dns: Option<String>,
    /// With --scope-bootstrap-dns: ask this DNS server instead of the
    /// system's resolvers.
    #[arg(long, value_name = "IP:PORT", requires = "scope_bootstrap_dns")]
    pub(crate) dns_server: Option<SocketAddr>,
    /// Serve Prometheus metrics over HTTP at http://ADDR:PORT/metrics (off
    /// by default). Use a local address, e.g. 127.0.0.1:9745: anyone who
    /// reaches it reads the node's counters.
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Serve a live map of the network, a web page, at http://ADDR:PORT/
    /// (off by default; e.g. 127.0.0.1:9746). On any address but loopback
    /// the page needs the token printed at start (also kept in map-url.txt
    /// in the state dir), and the address must be a specific one.
    #[arg(long, value_name = "ADDR:PORT")]
    pub(crate) map: Option<SocketAddr>,
    /// Test only: flip a byte of every frame relayed for others, to show
    /// that the recipients drop it.
    #[cfg(feature = "test-hooks")]
    #[arg(long, hide = true)]
    pub(crate) test_tamper_relayed: bool,
}

/// The directories of a node, and `--json`.
#[derive(Debug, Args)]
pub(crate) struct DirsAndJson {
    #[command(flatten)]
    pub(crate) dirs: NodeDirs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct NetcheckArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// A STUN server to ask (repeatable). One with two addresses (RFC 5780,
    /// e.g. coturn) also reveals the filtering behaviour.
    #[arg(long = "stun", value_name = "HOST:PORT")]
    pub(crate) stun: Vec<String>,
    /// The network key, or @FILE (default: the one in the state dir); the
    /// members in the state dir's peer cache are asked with it.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) network: Option<String>,
    #[command(flatten)]
    pub(crate) state_dir: StateDirArg,
}

/// `--name`: a node name, with what is wrong if it is none.
fn parse_name(text: &str) -> Result<NodeName, String> {
    NodeName::parse(text).map_err(|e| e.to_string())
}
