//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessel_overlay::driver::state_dir::DEFAULT_STATE_DIR;
use tessel_overlay::limits::{DEFAULT_INTERFACE, DEFAULT_PORT};
use tessel_stack::proxy::{ExposeSpec, ForwardSpec};

/// Tessel: a peer-to-peer overlay network. Every member reaches every other
/// member by its overlay address; joining takes only the network key.
#[derive(Debug, Parser)]
#[command(name = "tessel", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Manage network keys.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Run the node in the foreground until SIGINT or SIGTERM.
    Up(UpArgs),
    /// Print this node's overlay IPv6 and IPv4 addresses.
    Ip(StateDirArg),
    /// Show the running node's peers and counters.
    Status(StatusArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Print a new network key (the secret that admits members).
    New,
}

#[derive(Debug, Args)]
pub(crate) struct StateDirArg {
    /// Where the node key, network key and control socket live.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    pub(crate) state_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// The network key, or @FILE to read it from a file. Without it, the node
    /// uses the key in the state dir, or starts a new private network.
    #[arg(long, value_name = "KEY|@FILE")]
    pub(crate) network: Option<String>,
    #[command(flatten)]
    pub(crate) state_dir: StateDirArg,
    /// UDP address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value_t = SocketAddr::from(([0u16; 8], DEFAULT_PORT)))]
    pub(crate) listen: SocketAddr,
    /// UDP address of a member to join through (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub(crate) peers: Vec<String>,
    /// Name of the TUN interface.
    #[arg(long, default_value = DEFAULT_INTERFACE)]
    pub(crate) interface: String,
    /// Run without a TUN device and without root: apps reach the overlay
    /// through --socks5, --forward and --expose.
    #[arg(long)]
    pub(crate) userspace: bool,
    /// With --userspace: run a SOCKS5 proxy (no authentication) on this
    /// loopback address, e.g. 127.0.0.1:1080.
    #[arg(long, value_name = "ADDR:PORT", requires = "userspace")]
    pub(crate) socks5: Option<SocketAddr>,
    /// With --userspace: forward a local port to a member's service,
    /// `tcp:127.0.0.1:8080=PEER:80` or `udp:…` (PEER is an overlay address).
    #[arg(long, value_name = "PROTO:LOCAL=PEER:PORT", requires = "userspace")]
    pub(crate) forward: Vec<ForwardSpec>,
    /// With --userspace: offer a local service on this node's overlay port,
    /// `tcp:80=127.0.0.1:8080` or `udp:…`.
    #[arg(long, value_name = "PROTO:PORT=LOCAL", requires = "userspace")]
    pub(crate) expose: Vec<ExposeSpec>,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) state_dir: StateDirArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
