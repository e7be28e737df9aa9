//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessel_overlay::driver::state_dir::DEFAULT_STATE_DIR;
use tessel_overlay::limits::{DEFAULT_INTERFACE, DEFAULT_PORT};

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
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) state_dir: StateDirArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
