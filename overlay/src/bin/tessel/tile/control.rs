//! The tile commands of the control API: `tile_status`, `tile_files`,
//! `tile_publish`, `tile_announce`.

use anyhow::{anyhow, Context, Result};
use serde::de::DeserializeOwned;
use tessel_overlay::driver::control::answers::{
    TileAnnounceAnswer, TileFilesAnswer, TilePublishAnswer, TileStatusAnswer,
};
use tessel_overlay::driver::control::Request;
use tessel_tile_link::file::signed;
use tessel_tile_link::physics::{Announcement, Message as PhysicsMessage};

use super::keys::{now_ms, read_key};
use super::{AnnounceArgs, JsonArgs, PublishArgs};
use crate::cli::NodeDirs;
use crate::local;
use crate::table::Table;

fn ask<T: DeserializeOwned>(dirs: &NodeDirs, request: &Request) -> Result<local::Answer<T>> {
    Ok(local::ask(dirs, request)?)
}

/// The counters of a direction that count dropped packets.
const DROPPED: [&str; 6] = [
    "rx_malformed",
    "rx_flags_set",
    "rx_tep",
    "rx_unbound",
    "rx_no_mfm",
    "rx_absent",
];

pub(super) fn status(a: &JsonArgs) -> Result<()> {
    let v = ask::<TileStatusAnswer>(&a.dirs, &Request::TileStatus)?;
    if a.json {
        return v.print_json(false);
    }
    let mut head = Table::plain();
    head.row(["socket", v.socket.as_str()]);
    head.row([
        "files".to_owned(),
        format!(
            "{} ({} live, {} downloading)",
            v.files_dir, v.files, v.downloads
        ),
    ]);
    head.row([
        "mfm".to_owned(),
        format!(
            "{}; {} programs on the socket",
            if v.mfm_open { "open" } else { "closed" },
            v.clients
        ),
    ]);
    head.print();
    println!();
    let mut t = Table::new(&[
        "dir",
        "state",
        "role",
        "tx pkts",
        "rx pkts",
        "dropped",
        "neighbour",
    ]);
    for d in &v.directions {
        let c = |k: &str| d.counters.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let dropped: u64 = DROPPED.iter().map(|k| c(k)).sum();
        t.row([
            d.dir.clone(),
            d.state.clone(),
            d.role.clone(),
            c("tx_packets").to_string(),
            c("rx_packets").to_string(),
            dropped.to_string(),
            d.neighbour.clone(),
        ]);
    }
    t.print();
    Ok(())
}

pub(super) fn files(a: &JsonArgs) -> Result<()> {
    let v = ask::<TileFilesAnswer>(&a.dirs, &Request::TileFiles)?;
    if a.json {
        return v.print_json(false);
    }
    if v.files.is_empty() {
        println!("no managed files");
        return Ok(());
    }
    let mut t = Table::new(&["name", "timestamp", "size", "neighbours with it"]);
    for f in &v.files {
        let with = if f.neighbours.is_empty() {
            "none known".to_string()
        } else {
            f.neighbours.join(" ")
        };
        t.row([
            f.name.clone(),
            f.timestamp.to_string(),
            format!("{} B", f.size),
            with,
        ]);
    }
    t.print();
    Ok(())
}

pub(super) fn publish(a: &PublishArgs) -> Result<()> {
    let path = a
        .file
        .canonicalize()
        .with_context(|| format!("finding {}", a.file.display()))?;
    let request = Request::TilePublish {
        path: path.display().to_string(),
    };
    let v = ask::<TilePublishAnswer>(&a.dirs, &request)?;
    if a.json {
        v.print_json(true)?;
    } else {
        println!("published {} ({} bytes)", path.display(), v.size);
    }
    Ok(())
}

pub(super) fn announce(a: &AnnounceArgs) -> Result<()> {
    let key = read_key(&a.key)?;
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let file = signed::Packet::new_checked(&bytes[..])
        .map_err(|e| anyhow!("{} is not a signed file: {e}", a.file.display()))?;
    let ann = Announcement::sign(
        &key,
        file.name(),
        file.version(),
        a.timestamp.unwrap_or_else(now_ms),
    );
    let hex = data_encoding::HEXLOWER.encode(&PhysicsMessage::Announce(ann).to_vec());
    let request = Request::TileAnnounce { announcement: hex };
    let v = ask::<TileAnnounceAnswer>(&a.dirs, &request)?;
    if a.json {
        v.print_json(true)?;
    } else {
        println!("announced {}", file.name().as_str());
    }
    Ok(())
}
