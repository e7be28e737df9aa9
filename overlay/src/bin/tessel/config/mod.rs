//! The config file of `tessel up` (TOML, by default
//! [`DEFAULT_CONFIG`] if it exists, else `--config FILE`, which must).
//!
//! Its keys are the long names of the `tessel up` flags, found in the
//! command line's own definition ([`keys`]), so a flag added later has its
//! key with no code here: `state-dir = "/srv/tessel"` for `--state-dir`,
//! `peer = ["198.51.100.1:9740"]` (a list) for a repeatable `--peer`,
//! `no-relay = true` for a switch. The file's keys become command-line
//! arguments ([`merge`]) for the flags that the command line did not
//! give, and clap parses the whole, so values, types and conflicts are
//! checked by the same code as flags. Flags override the file (a flag
//! replaces a list, it does not extend it); the file overrides defaults.
//! Every problem is told with its line ([`problem`]).

pub(crate) mod check;
pub(crate) mod keys;
pub(crate) mod merge;
pub(crate) mod problem;
pub(crate) mod reload;
pub(crate) mod toml_file;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use tessel_overlay::identity::address::Ipv4Range;

use crate::cli::Cli;
use toml_file::ConfigFile;

/// Where `tessel up` looks for its config file when not given `--config`.
pub(crate) const DEFAULT_CONFIG: &str = "/etc/tessel/tessel.toml";

/// Which config file `tessel up` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `--config FILE`: it must exist.
    Explicit(PathBuf),
    /// The default path: read only if it exists.
    Default(PathBuf),
}

impl Source {
    /// `--config`'s value, or the default path.
    pub(crate) fn new(explicit: Option<&Path>) -> Self {
        match explicit {
            Some(p) => Self::Explicit(p.to_path_buf()),
            None => Self::Default(PathBuf::from(DEFAULT_CONFIG)),
        }
    }

    /// Reads and parses the file (`None`: the default path has no file).
    ///
    /// # Errors
    /// If a given file is missing, a file cannot be read, or it is not
    /// valid TOML of the right shape.
    pub(crate) fn load(&self) -> Result<Option<ConfigFile>> {
        match self {
            Self::Explicit(p) => Ok(Some(ConfigFile::read(p)?)),
            Self::Default(p) if !p.exists() => Ok(None),
            Self::Default(p) => Ok(Some(ConfigFile::read(p)?)),
        }
    }
}

impl Source {
    /// The file's path.
    pub(crate) fn path(&self) -> PathBuf {
        match self {
            Self::Explicit(p) | Self::Default(p) => p.clone(),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Explicit(p) | Self::Default(p) => write!(f, "{}", p.display()),
        }
    }
}

/// What `tessel up` needs to read its config again (SIGHUP).
#[derive(Debug, Clone)]
pub(crate) struct UpContext {
    /// The process's arguments.
    pub(crate) argv: Vec<OsString>,
    /// The config file.
    pub(crate) source: Source,
    /// The command line and the file as parsed at start.
    pub(crate) matches: ArgMatches,
}

/// Parses the command line; for `tessel up`, with the config file's keys
/// for the flags the command line did not give. Help, version and command
/// line errors exit here, as clap does.
///
/// # Errors
/// If the config file is missing (when given), unreadable or invalid, or
/// its keys conflict with each other or with the flags.
pub(crate) fn command_line() -> Result<(Cli, Option<UpContext>)> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli_only = Cli::command().get_matches_from(&argv);
    let Some(("up", up)) = cli_only.subcommand() else {
        return Ok((Cli::from_arg_matches(&cli_only)?, None));
    };
    let source = Source::new(up.get_one::<PathBuf>("config").map(PathBuf::as_path));
    let file = source.load()?;
    for w in file.iter().flat_map(ConfigFile::warnings) {
        eprintln!("{}", w.render(&source.path()));
    }
    let merged = merge::with_file(&argv, &cli_only, file.as_ref())?;
    let cli = Cli::from_arg_matches(&merged)?;
    let ctx = UpContext {
        argv,
        source,
        matches: merged,
    };
    Ok((cli, Some(ctx)))
}

/// The IPv4 range for what computes addresses without a running node
/// (`tessel ip`): `ipv4-range` in the default config file if it is there
/// and readable, else the default range.
pub(crate) fn offline_ipv4_range() -> Ipv4Range {
    let Ok(Some(file)) = Source::new(None).load() else {
        return Ipv4Range::DEFAULT;
    };
    file.entries
        .iter()
        .find(|e| e.key == "ipv4-range")
        .and_then(|e| e.args.first())
        .and_then(|a| a.split_once('='))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_file_is_optional_and_a_given_one_is_not() {
        let nowhere = Path::new("/nonexistent/tessel.toml");
        assert!(matches!(Source::Default(nowhere.into()).load(), Ok(None)));
        let e = Source::Explicit(nowhere.into()).load().unwrap_err();
        assert!(
            format!("{e:#}").contains("/nonexistent/tessel.toml"),
            "{e:#}"
        );
        assert_eq!(
            Source::new(None),
            Source::Default(PathBuf::from("/etc/tessel/tessel.toml"))
        );
        assert_eq!(Source::new(Some(nowhere)), Source::Explicit(nowhere.into()));
        // An existing default file is read.
        let dir = std::env::temp_dir().join(format!("tessel-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tessel.toml");
        std::fs::write(&path, "no-relay = true\n").unwrap();
        let file = Source::Default(path).load().unwrap().expect("read");
        assert_eq!(file.entries[0].args, ["--no-relay"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
