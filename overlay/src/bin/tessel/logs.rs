//! Where logs go (`--log-format`): human text on stderr, JSON lines for
//! collectors, or the systemd journal with structured fields. `--log-level`
//! (or `log-level` in the config file) filters them, else `RUST_LOG`, else
//! info; the daemon changes the filter when it reloads its config file.

use std::io::IsTerminal;

use anyhow::{Context, Result};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

use crate::cli::LogFormat;

/// Changes which logs are written while the program runs.
#[derive(Clone)]
pub(crate) struct LogLevel(reload::Handle<EnvFilter, Registry>);

impl LogLevel {
    /// Filters with `level` (a `--log-level` value), or the default if `None`.
    ///
    /// # Errors
    /// If the filter does not parse (`--log-level` values were checked) or
    /// the subscriber is gone.
    pub(crate) fn set(&self, level: Option<&str>) -> Result<()> {
        self.0
            .reload(filter(level)?)
            .context("changing the log filter")
    }
}

/// Checks a `--log-level` value: a level or RUST_LOG-style directives.
pub(crate) fn parse_filter(s: &str) -> Result<String, String> {
    EnvFilter::builder()
        .parse(s)
        .map(|_| s.to_owned())
        .map_err(|e| format!("{e} (give a level: error, warn, info, debug or trace, or directives such as info,tessel_overlay=debug)"))
}

/// The filter for `level`, else `RUST_LOG`, else info.
fn filter(level: Option<&str>) -> Result<EnvFilter> {
    Ok(match level {
        Some(l) => EnvFilter::builder()
            .parse(l)
            .map_err(|e| anyhow::anyhow!("--log-level {l}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
    })
}

/// Installs the subscriber for `format`, filtered by `level` (see
/// [`LogLevel::set`]); the returned handle changes the filter.
///
/// # Errors
/// If `journal` was asked for and the journal cannot be reached.
pub(crate) fn init(format: LogFormat, level: Option<&str>) -> Result<LogLevel> {
    let (filter, handle) = reload::Layer::new(filter(level)?);
    let format = match format {
        LogFormat::Auto if stderr_is_the_journal() => LogFormat::Journal,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Journal => {
            let journal = tracing_journald::layer()
                .context("connecting to the systemd journal (use --log-format text)")?
                .with_syslog_identifier("tessel".to_owned());
            registry.with(journal).init();
        }
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Auto | LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .init(),
    }
    Ok(LogLevel(handle))
}

/// Whether systemd connected stderr to the journal: `$JOURNAL_STREAM`
/// names the device and inode of that stream (systemd.exec(5)).
fn stderr_is_the_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
}
