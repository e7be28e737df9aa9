//! `tessel down`: asks the running node to stop (the control API's
//! `down`), as SIGTERM would (its interface removed, its state saved), and
//! waits until it has.

use std::time::Duration;

use anyhow::{bail, Result};
use tessel_overlay::driver::clock;
use tessel_overlay::driver::control::answers::DownAnswer;
use tessel_overlay::driver::control::Request;

use crate::cli::NodeDirs;
use crate::local::{self, AskError};

/// How long the node may take to stop after it said it would.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// Runs `tessel down`.
pub(crate) fn run(dirs: &NodeDirs, json: bool) -> Result<()> {
    match local::ask::<DownAnswer>(dirs, &Request::Down) {
        Ok(_) => {}
        // A node that stops at once may close the socket before it answers.
        Err(AskError::Answer(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = clock::now() + STOP_WAIT;
    while clock::now() < deadline {
        if local::call(dirs, &Request::Status).is_err() {
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
