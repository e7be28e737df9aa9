//! SIGHUP: the daemon reads its config file again (with the same command
//! line), and applies what can change while it runs: the `peer` list, the
//! `stun` servers and `no-relay` (sent to the event loop, which owns the
//! node) and `log-level` (the log filter). Every other key that changed is
//! named in a warning: it takes effect at the next start. A file with
//! problems is refused, with its problems in the log, and nothing changes.
//! The file is read and names are resolved off the event loop's thread.

use std::collections::BTreeSet;
use std::ffi::OsString;

use anyhow::{anyhow, Context, Result};
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use tessel_overlay::driver::settings::RuntimeSettings;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::{keys, merge, UpContext};
use crate::cli::{Cli, Command, UpArgs};
use crate::logs::LogLevel;

/// The keys that apply without a restart.
const LIVE_KEYS: &[&str] = &["peer", "stun", "no-relay", "log-level"];

/// Installs the SIGHUP handler (from now on SIGHUP no longer ends the
/// process) and spawns the task that reloads on it.
///
/// # Errors
/// If the handler cannot be installed.
pub(crate) fn spawn(
    ctx: UpContext,
    log: LogLevel,
    settings: mpsc::Sender<RuntimeSettings>,
) -> Result<()> {
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        let mut current = ctx.matches.clone();
        while hup.recv().await.is_some() {
            tracing::info!(file = %ctx.source, "SIGHUP: reading the config file again");
            let c = ctx.clone();
            let read = tokio::task::spawn_blocking(move || read_again(&c))
                .await
                .map_err(|e| anyhow!("the reload task failed: {e}"))
                .and_then(|r| r);
            match read {
                Ok(next) => {
                    apply(&current, &next, &log, &settings).await;
                    current = next.matches;
                }
                Err(e) => {
                    tracing::error!("reload refused, the node keeps running unchanged: {e:#}")
                }
            }
        }
    });
    Ok(())
}

/// The configuration read again.
struct Next {
    /// The command line and the file, parsed.
    matches: ArgMatches,
    /// The settings that apply at once, resolved.
    settings: RuntimeSettings,
    /// `--log-level`.
    log_level: Option<String>,
}

/// Reads the file again and resolves the names in it (blocking).
fn read_again(ctx: &UpContext) -> Result<Next> {
    let file = ctx.source.load()?;
    let cli_only = Cli::command()
        .try_get_matches_from(&ctx.argv)
        .context("parsing the command line again")?;
    let matches = merge::with_file(&ctx.argv, &cli_only, file.as_ref())?;
    let cli = Cli::from_arg_matches(&matches)?;
    let Command::Up(up) = cli.command else {
        return Err(anyhow!("the command line is not `tessel up` any more"));
    };
    Ok(Next {
        settings: settings_of(&up)?,
        log_level: cli.log_level,
        matches,
    })
}

/// The settings of `up` that apply at once, with names resolved.
///
/// # Errors
/// If a `--peer` or `--stun` name does not resolve.
pub(crate) fn settings_of(up: &UpArgs) -> Result<RuntimeSettings> {
    Ok(RuntimeSettings {
        peers: up
            .peers
            .iter()
            .map(|p| crate::commands::resolve_peer(p))
            .collect::<Result<Vec<_>>>()?,
        stun_servers: crate::netcheck::resolve_stun_servers(&up.stun)?,
        relay: !up.no_relay,
    })
}

/// Applies what changed from `old` to `next` and names what cannot be.
async fn apply(
    old: &ArgMatches,
    next: &Next,
    log: &LogLevel,
    settings: &mpsc::Sender<RuntimeSettings>,
) {
    let changed = changed_keys(old, &next.matches);
    let (live, restart): (Vec<&String>, Vec<&String>) = changed
        .iter()
        .partition(|k| LIVE_KEYS.contains(&k.as_str()));
    if changed.is_empty() {
        tracing::info!("reload: nothing changed");
    }
    if live.iter().any(|k| *k == "log-level") {
        match log.set(next.log_level.as_deref()) {
            Ok(()) => tracing::info!(level = ?next.log_level, "reload: new log level"),
            Err(e) => tracing::error!("reload: keeping the log level: {e:#}"),
        }
    }
    if live.iter().any(|k| *k != "log-level") {
        tracing::info!(keys = ?live, "reload: applying");
        if settings.send(next.settings.clone()).await.is_err() {
            tracing::warn!("reload: the node is stopping");
        }
    }
    for key in restart {
        tracing::warn!(
            key = %key,
            "reload: `{key}` changed, which takes effect only when the node restarts \
             (systemctl restart tessel)"
        );
    }
}

/// The keys whose values differ between two parses of `tessel up`.
fn changed_keys(old: &ArgMatches, new: &ArgMatches) -> BTreeSet<String> {
    let (Some(old), Some(new)) = (old.subcommand_matches("up"), new.subcommand_matches("up"))
    else {
        return BTreeSet::new();
    };
    keys::all()
        .into_iter()
        .filter(|k| raw(old, &k.id) != raw(new, &k.id))
        .map(|k| k.name)
        .collect()
}

/// The values of argument `id` as given (empty if none).
fn raw(m: &ArgMatches, id: &str) -> Vec<OsString> {
    match m.try_get_raw(id) {
        Ok(Some(values)) => values.map(OsString::from).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::toml_file::ConfigFile;
    use super::*;

    fn parse(text: &str) -> ArgMatches {
        let argv: Vec<OsString> = ["tessel", "up", "--listen", "127.0.0.1:9"]
            .iter()
            .map(OsString::from)
            .collect();
        let cli_only = Cli::command().try_get_matches_from(&argv).unwrap();
        let file = ConfigFile::parse(Path::new("t.toml"), text.to_owned()).unwrap();
        merge::with_file(&argv, &cli_only, Some(&file)).unwrap()
    }

    #[test]
    fn changed_keys_are_named_whatever_their_type() {
        let old = parse("peer = [\"198.51.100.1:1\"]\ninterface = \"a0\"\n");
        let new = parse(
            "peer = [\"198.51.100.1:1\", \"198.51.100.2:1\"]\ninterface = \"b0\"\nno-relay = true\nlisten = \"[::]:1\"\n",
        );
        let changed: Vec<String> = changed_keys(&old, &new).into_iter().collect();
        // `listen` is given on the command line: the file cannot change it.
        assert_eq!(changed, ["interface", "no-relay", "peer"]);
        assert!(changed_keys(&old, &old).is_empty());
    }
}
