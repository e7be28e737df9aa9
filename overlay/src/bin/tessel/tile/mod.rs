//! `tessel tile …`: the tile this node hosts. Status, files, publishing
//! and announcing go through the control socket (the `tile_…` commands of
//! the control API); sending and listening go through the tile socket,
//! like any program.
//!
//! - `control`: status, files, publish, announce (control socket);
//! - `keys`: keygen and sign (local files only);
//! - `programs`: send and listen, over `client` (the tile socket).

mod client;
mod control;
mod keys;
mod programs;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use tessel_overlay::driver::tile::config::parse_public_key;
use tessel_overlay::driver::tile::TileOptions;
use tessel_tile_link::Dir;

use crate::cli::{NodeDirs, UpArgs};

/// `tessel tile …`.
#[derive(Debug, Subcommand)]
pub(crate) enum TileCommand {
    /// Show each direction: its neighbour, present or absent, counters.
    Status(JsonArgs),
    /// List the managed files: timestamp, size, which neighbours have them.
    Files(JsonArgs),
    /// Send DATA to service SVC on the neighbour in DIR.
    Send(SendArgs),
    /// Print what arrives: service SVC's packets, or without SVC the MFM
    /// channel (MFM packets and tile events).
    Listen(ListenArgs),
    /// Publish a signed file from this tile: it spreads to every tile.
    Publish(PublishArgs),
    /// Make a signed file of FILE (the format of docs/tile-link.md §4.1).
    Sign(SignArgs),
    /// Make a new signing key; prints its public key for --tile-trust.
    Keygen(KeygenArgs),
    /// Announce a change of physics: every tile runs this signed file.
    Announce(AnnounceArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JsonArgs {
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The direction (NT, NE, ET, SE, ST, SW, WT, NW, or 0-7).
    pub(super) dir: Dir,
    /// The service, 1 to 63 (8 and 9 are the daemon's own).
    pub(super) svc: u8,
    /// The payload, at most 253 bytes.
    pub(super) data: String,
    /// DATA is hexadecimal.
    #[arg(long)]
    pub(super) hex: bool,
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// The service to bind; without it, open the MFM channel.
    pub(super) svc: Option<u8>,
    /// Stop after this many packets, events or presence changes.
    #[arg(long)]
    pub(super) count: Option<u64>,
    /// Print one JSON object per line.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The signed file.
    pub(super) file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) dirs: NodeDirs,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// The content to sign.
    pub(super) file: PathBuf,
    /// The signing key file (from `tessel tile keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub(super) key: PathBuf,
    /// The managed file's name (default: FILE's name).
    #[arg(long)]
    pub(super) name: Option<String>,
    /// The timestamp, milliseconds since the Unix epoch (default: now).
    /// A later timestamp is a newer version.
    #[arg(long)]
    pub(super) timestamp: Option<u64>,
    /// Where to write the signed file (default: FILE.tsf).
    #[arg(long, short)]
    pub(super) out: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the secret key (mode 0600; must not exist).
    pub(super) keyfile: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AnnounceArgs {
    /// The signed file to run (it must be live on the tiles to run there).
    pub(super) file: PathBuf,
    /// The signing key file.
    #[arg(long, value_name = "KEYFILE")]
    pub(super) key: PathBuf,
    /// The announcement's timestamp, milliseconds (default: now).
    #[arg(long)]
    pub(super) timestamp: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) dirs: NodeDirs,
}

/// The tile part of `tessel up`, or `None` without `--tile`.
pub(crate) fn options(args: &UpArgs, state_dir: &Path) -> Result<Option<TileOptions>> {
    if args.tile.is_empty() {
        return Ok(None);
    }
    if args.userspace {
        bail!("--tile needs the TUN device: tile links are TCP connections between overlay addresses; drop --userspace");
    }
    let trusted = args
        .tile_trust
        .iter()
        .map(|k| parse_public_key(k).map_err(|e| anyhow!("--tile-trust: {e}")))
        .collect::<Result<Vec<_>>>()?;
    if trusted.is_empty() {
        tracing::warn!("no --tile-trust key: this tile accepts no managed file");
    }
    let secs = args.tile_advert_interval;
    if !(secs.is_finite() && secs > 0.0) {
        bail!("--tile-advert-interval must be a positive number of seconds");
    }
    tessel_overlay::driver::tile::config::check_neighbours(&args.tile)?;
    Ok(Some(TileOptions {
        neighbours: args.tile.clone(),
        files: args
            .tile_files
            .clone()
            .unwrap_or_else(|| state_dir.join("tile-files")),
        trusted,
        run: args.tile_run.clone(),
        advert_interval: Duration::from_secs_f64(secs),
    }))
}

/// Runs a `tessel tile` command.
pub(crate) fn run(cmd: TileCommand) -> Result<()> {
    match cmd {
        TileCommand::Status(a) => control::status(&a),
        TileCommand::Files(a) => control::files(&a),
        TileCommand::Send(a) => programs::send(&a),
        TileCommand::Listen(a) => programs::listen(&a),
        TileCommand::Publish(a) => control::publish(&a),
        TileCommand::Sign(a) => keys::sign(&a),
        TileCommand::Keygen(a) => keys::keygen(&a),
        TileCommand::Announce(a) => control::announce(&a),
    }
}
