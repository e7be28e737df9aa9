//! `tessel demo --down`, and the same clean-up at the start of a demo when
//! an earlier one left something behind: the nodes named in the state file
//! get SIGTERM by PID (each checked to be inside its demo namespace first),
//! then every demo namespace is deleted with whatever still runs in it, and
//! the demo's files are removed.

use std::time::Duration;
use tessel_overlay::driver::clock;

use anyhow::{bail, Result};
use tessel_lab::netns;
use tessel_lab::process::signal_pid;

use super::narrate::Narrator;
use super::plan::PREFIX;
use super::preflight::require_root;
use super::state::{self, DemoState};

/// How long the nodes get to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a clean-up removed.
#[derive(Debug, Default)]
struct Removed {
    nodes: usize,
    namespaces: usize,
}

/// `tessel demo --down`: removes a demo kept with `--keep`.
pub(crate) fn run() -> Result<()> {
    require_root("tessel demo --down")?;
    let _lock = state::lock()?;
    let say = Narrator::new(false);
    let found = state::read()?;
    if found.is_none() && netns::names_with_prefix(PREFIX).is_empty() {
        say.print("no demo to remove");
        return Ok(());
    }
    let removed = teardown(&found.unwrap_or_default())?;
    say.print(&format!(
        "removed the demo: {} nodes stopped, {} namespaces deleted",
        removed.nodes, removed.namespaces
    ));
    Ok(())
}

/// At the start of a demo (lock held): refuses if a kept demo runs, and
/// removes what a demo that died without cleaning up left behind.
pub(crate) fn clear_leftovers(say: &Narrator) -> Result<()> {
    let found = state::read()?;
    if found.as_ref().is_some_and(|s| s.kept) {
        bail!(
            "a demo kept with --keep is still running ({PREFIX}* namespaces): \
             remove it first with `sudo tessel demo --down`"
        );
    }
    if found.is_none() && netns::names_with_prefix(PREFIX).is_empty() {
        return Ok(());
    }
    say.say("removing what an earlier demo left behind");
    let removed = teardown(&found.unwrap_or_default())?;
    say.say(format!(
        "removed {} nodes and {} namespaces",
        removed.nodes, removed.namespaces
    ));
    Ok(())
}

/// Stops the nodes of `found`, deletes its namespaces and every other
/// demo namespace, and removes the demo's files.
fn teardown(found: &DemoState) -> Result<Removed> {
    let mut removed = Removed::default();
    let alive = |n: &state::NodeRecord| {
        libc::pid_t::try_from(n.pid).is_ok_and(|pid| pid > 0 && netns::holds(&n.namespace, pid))
    };
    for node in found.nodes.iter().filter(|n| alive(n)) {
        if signal_pid(node.pid, libc::SIGTERM).is_ok() {
            removed.nodes += 1;
        }
    }
    let deadline = clock::now() + STOP_GRACE;
    while found.nodes.iter().any(alive) && clock::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut names: Vec<String> = found
        .namespaces
        .iter()
        .filter(|n| n.starts_with(PREFIX))
        .cloned()
        .collect();
    for n in netns::names_with_prefix(PREFIX) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    // The routers and the internet go last, after the hosts behind them.
    for name in names.iter().rev().filter(|n| netns::exists(n)) {
        netns::destroy(name)?;
        removed.namespaces += 1;
    }
    state::remove_files()?;
    Ok(removed)
}
