//! `tessel down`: asks the running node to stop, as SIGTERM would (its
//! interface removed, its state saved), and waits until it has.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::cli::NodeDirs;
use crate::local;

/// How long the node may take to stop after it said it would.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// Runs `tessel down`.
pub(crate) fn run(dirs: &NodeDirs, json: bool) -> Result<()> {
    let answer = local::request(dirs, "down").map_err(|e| anyhow::anyhow!("{e}"))?;
    // A node that stops at once may close the socket before it answers.
    if !answer.trim().is_empty() {
        let v: serde_json::Value = serde_json::from_str(&answer)
            .map_err(|e| anyhow::anyhow!("reading the node's answer: {e}"))?;
        if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
            bail!("{e}");
        }
    }
    let deadline = Instant::now() + STOP_WAIT;
    while Instant::now() < deadline {
        if local::request(dirs, "status").is_err() {
            if json {
                println!("{}", serde_json::json!({ "stopped": true }));
            } else {
                eprintln!("tessel stopped");
            }
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!(
        "the node said it would stop but still answers after {}s; stop it with SIGTERM (systemctl stop tessel)",
        STOP_WAIT.as_secs()
    )
}
