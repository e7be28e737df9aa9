//! The `tile-…` requests of the control socket: status, files, publish,
//! announce.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use tessel_tile_link::file::signed;
use tessel_tile_link::physics::{Announcement, Message as PhysicsMessage};

use super::keys::{now_ms, read_key};
use super::{AnnounceArgs, JsonArgs, PublishArgs};
use crate::cli::NodeDirs;

fn ask(dirs: &NodeDirs, request: &str) -> Result<Value> {
    let answer = crate::local::request(dirs, request)?;
    let v: Value = serde_json::from_str(&answer).context("reading the node's answer")?;
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        bail!("{e}");
    }
    Ok(v)
}

pub(super) fn status(a: &JsonArgs) -> Result<()> {
    let v = ask(&a.dirs, "tile-status")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("socket  {}", v["socket"].as_str().unwrap_or("?"));
    println!(
        "files   {} ({} live, {} downloading)",
        v["files_dir"].as_str().unwrap_or("?"),
        v["files"],
        v["downloads"]
    );
    println!(
        "mfm     {}; {} programs on the socket",
        if v["mfm_open"] == json!(true) {
            "open"
        } else {
            "closed"
        },
        v["clients"]
    );
    println!();
    println!("DIR  STATE    ROLE    TX PKTS   RX PKTS   DROPPED  NEIGHBOUR");
    for d in v["directions"].as_array().into_iter().flatten() {
        let c = &d["counters"];
        let dropped: u64 = [
            "rx_malformed",
            "rx_flags_set",
            "rx_tep",
            "rx_unbound",
            "rx_no_mfm",
            "rx_absent",
        ]
        .iter()
        .map(|k| c[*k].as_u64().unwrap_or(0))
        .sum();
        println!(
            "{:<4} {:<8} {:<7} {:<9} {:<9} {:<8} {}",
            d["dir"].as_str().unwrap_or("?"),
            d["state"].as_str().unwrap_or("?"),
            d["role"].as_str().unwrap_or("?"),
            c["tx_packets"].as_u64().unwrap_or(0),
            c["rx_packets"].as_u64().unwrap_or(0),
            dropped,
            d["neighbour"].as_str().unwrap_or("?"),
        );
    }
    Ok(())
}

pub(super) fn files(a: &JsonArgs) -> Result<()> {
    let v = ask(&a.dirs, "tile-files")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let list = v["files"].as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no managed files");
    }
    for f in list {
        let with: Vec<&str> = f["neighbours"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{}  timestamp {}  {} bytes  neighbours with it: {}",
            f["name"].as_str().unwrap_or("?"),
            f["timestamp"],
            f["size"],
            if with.is_empty() {
                "none known".to_string()
            } else {
                with.join(" ")
            }
        );
    }
    Ok(())
}

pub(super) fn publish(a: &PublishArgs) -> Result<()> {
    let path = a
        .file
        .canonicalize()
        .with_context(|| format!("finding {}", a.file.display()))?;
    let v = ask(&a.dirs, &format!("tile-publish {}", path.display()))?;
    if a.json {
        println!("{v}");
    } else {
        println!("published {} ({} bytes)", path.display(), v["size"]);
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
    let v = ask(&a.dirs, &format!("tile-announce {hex}"))?;
    if a.json {
        println!("{v}");
    } else {
        println!("announced {}", file.name().as_str());
    }
    Ok(())
}
