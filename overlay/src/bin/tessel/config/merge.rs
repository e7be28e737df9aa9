//! The command line and the config file together: the file's keys become
//! arguments for the flags that the command line did not give (nor the
//! environment), appended to it, and clap parses the whole. Each key's
//! values are first checked alone, by clap, so a bad value is told at its
//! line; then the whole, whose conflicts and missing companions are told
//! at the first key with which they appear.

use std::ffi::OsString;

use anyhow::Result;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory};

use super::keys::up_command;
use super::problem::{Invalid, Problem};
use super::toml_file::{ConfigFile, Entry};
use crate::cli::Cli;

/// `argv` parsed (as `cli_only`) with the keys of `file` added for the
/// flags it did not give.
///
/// # Errors
/// [`Invalid`] with the problems: values that clap refuses, and the first
/// conflict or missing companion flag.
pub(crate) fn with_file(
    argv: &[OsString],
    cli_only: &ArgMatches,
    file: Option<&ConfigFile>,
) -> Result<ArgMatches> {
    let Some(file) = file else {
        return Ok(cli_only.clone());
    };
    let problems = value_problems(file);
    if !problems.is_empty() {
        return Err(invalid(file, problems).into());
    }
    let used: Vec<&Entry> = file
        .entries
        .iter()
        .filter(|e| !given(cli_only, &e.id))
        .collect();
    let parse = |entries: &[&Entry]| {
        let mut args = argv.to_vec();
        args.extend(
            entries
                .iter()
                .flat_map(|e| e.args.iter().map(OsString::from)),
        );
        Cli::command().try_get_matches_from(args)
    };
    let whole = match parse(&used) {
        Ok(m) => return Ok(m),
        Err(e) => e,
    };
    // The first key with which the command line and the keys before it
    // no longer parse.
    let culprit = (1..=used.len()).find_map(|n| parse(&used[..n]).err().map(|e| (used[n - 1], e)));
    let problem = match culprit {
        Some((entry, e)) => file.problem_at(entry, describe(&e)),
        None => Problem::at(&file.text, 0, None, describe(&whole)),
    };
    Err(invalid(file, vec![problem]).into())
}

/// Every value of `file` that clap refuses, each checked alone.
pub(crate) fn value_problems(file: &ConfigFile) -> Vec<Problem> {
    let up = up_command();
    let mut problems = Vec::new();
    for entry in &file.entries {
        let args = std::iter::once("up".to_owned()).chain(entry.args.iter().cloned());
        let Err(e) = up.clone().try_get_matches_from(args) else {
            continue;
        };
        if !is_value_error(e.kind()) {
            // Conflicts and companions are the whole file's business.
            continue;
        }
        // At the value clap named, if it is one of this key's.
        let bad = match e.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(v)) => Some(v.clone()),
            _ => None,
        };
        let at = bad
            .and_then(|v| {
                entry
                    .args
                    .iter()
                    .position(|a| a.split_once('=').is_some_and(|(_, x)| x == v))
            })
            .and_then(|i| entry.arg_spans.get(i))
            .map_or(entry.span.start, |s| s.start);
        problems.push(Problem::at(&file.text, at, Some(&entry.key), describe(&e)));
    }
    problems
}

/// The problems of `file` as an error.
fn invalid(file: &ConfigFile, problems: Vec<Problem>) -> Invalid {
    Invalid {
        path: file.path.clone(),
        problems,
    }
}

/// Whether the command line (or the environment) gave the argument `id`,
/// to `tessel up` or, for a global flag, before it.
pub(crate) fn given(cli_only: &ArgMatches, id: &str) -> bool {
    let from_user = |m: &ArgMatches| {
        m.ids().any(|i| i.as_str() == id)
            && matches!(
                m.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
    };
    from_user(cli_only) || cli_only.subcommand().is_some_and(|(_, sub)| from_user(sub))
}

fn is_value_error(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::InvalidValue
            | ErrorKind::ValueValidation
            | ErrorKind::NoEquals
            | ErrorKind::TooManyValues
            | ErrorKind::TooFewValues
            | ErrorKind::WrongNumberOfValues
            | ErrorKind::InvalidUtf8
    )
}

/// What clap's error says, in the file's terms (keys, not flags).
pub(crate) fn describe(e: &clap::Error) -> String {
    let text = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        Some(ContextValue::Strings(v)) => Some(v.join(", ")),
        Some(ContextValue::StyledStrs(v)) => Some(
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    };
    match e.kind() {
        ErrorKind::ValueValidation => {
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            match std::error::Error::source(e) {
                Some(why) => format!("invalid value {value:?}: {why}"),
                None => format!("invalid value {value:?}"),
            }
        }
        ErrorKind::InvalidValue => {
            let value = text(ContextKind::InvalidValue).unwrap_or_default();
            let valid = text(ContextKind::ValidValue).unwrap_or_default();
            if value.is_empty() {
                "a value is required".to_owned()
            } else {
                format!("invalid value {value:?}; the possible values are {valid}")
            }
        }
        ErrorKind::ArgumentConflict => {
            let this = text(ContextKind::InvalidArg).unwrap_or_default();
            let other = text(ContextKind::PriorArg).unwrap_or_default();
            format!(
                "`{}` cannot be used with `{}`",
                key_names(&this),
                key_names(&other)
            )
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = text(ContextKind::InvalidArg).unwrap_or_default();
            format!("needs `{}` as well (a key or a flag)", key_names(&missing))
        }
        _ => {
            let all = e.to_string();
            let first = all.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        }
    }
}

/// `--tile <DIR=NODE_ID>, --userspace` as keys: `tile, userspace`.
fn key_names(flags: &str) -> String {
    flags
        .split(", ")
        .map(|f| {
            let f = f.trim().trim_matches('\'');
            let name = f.split([' ', '=']).next().unwrap_or(f);
            name.trim_start_matches('-').to_owned()
        })
        .collect::<Vec<_>>()
        .join("`, `")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::cli::{Command, UpArgs};
    use clap::FromArgMatches;

    /// `tessel ARGS` with the config file `text`: the `up` arguments.
    fn up(args: &[&str], text: &str) -> Result<(Cli, Box<UpArgs>)> {
        let argv: Vec<OsString> = std::iter::once("tessel")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        let cli_only = Cli::command().try_get_matches_from(&argv)?;
        let file = ConfigFile::parse(Path::new("t.toml"), text.to_owned())?;
        let merged = with_file(&argv, &cli_only, Some(&file))?;
        let mut cli = Cli::from_arg_matches(&merged)?;
        let Command::Up(up) = std::mem::replace(
            &mut cli.command,
            Command::Network(crate::cli::NetworkCommand::New { json: false }),
        ) else {
            panic!("not up");
        };
        Ok((cli, up))
    }

    fn problem(args: &[&str], text: &str) -> (usize, String) {
        let e = up(args, text).unwrap_err();
        let invalid = e.downcast::<Invalid>().expect("a config problem");
        let p = &invalid.problems[0];
        (p.line, p.message.clone())
    }

    /// A scalar, a repeatable flag and a switch: the flag beats the file,
    /// the file beats the default.
    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file = "interface = \"fromfile0\"\npeer = [\"198.51.100.7:9740\", \"198.51.100.8:9740\"]\nno-relay = true\n";
        let (_, none) = up(&["up"], "").unwrap();
        assert_eq!(none.interface, "tessel0");
        assert!(none.peers.is_empty());
        assert!(!none.no_relay);

        let (_, file_only) = up(&["up"], file).unwrap();
        assert_eq!(file_only.interface, "fromfile0");
        assert_eq!(file_only.peers, ["198.51.100.7:9740", "198.51.100.8:9740"]);
        assert!(file_only.no_relay);

        let (_, flags) = up(
            &["up", "--interface", "flag0", "--peer", "203.0.113.1:1"],
            file,
        )
        .unwrap();
        assert_eq!(flags.interface, "flag0");
        assert_eq!(flags.peers, ["203.0.113.1:1"], "a flag replaces the list");
        assert!(flags.no_relay, "a switch on in the file stays on");

        let (_, off) = up(&["up"], "no-relay = false\n").unwrap();
        assert!(!off.no_relay);
    }

    #[test]
    fn global_flags_have_keys_and_the_command_line_wins_wherever_given() {
        let file = "log-level = \"debug\"\nlog-format = \"json\"\n";
        let (cli, _) = up(&["up"], file).unwrap();
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        assert_eq!(cli.log_format, crate::cli::LogFormat::Json);
        let (cli, _) = up(&["--log-level", "warn", "up", "--log-format", "text"], file).unwrap();
        assert_eq!(cli.log_level.as_deref(), Some("warn"));
        assert_eq!(cli.log_format, crate::cli::LogFormat::Text);
    }

    #[test]
    fn bad_values_are_told_at_their_line_by_clap() {
        let (line, msg) = problem(&["up"], "interface = \"a\"\nstack-memory = 3\n");
        assert_eq!(line, 2);
        assert!(msg.contains("invalid value \"3\""), "{msg}");
        let (line, msg) = problem(
            &["up"],
            "\npeer = [\n  \"198.51.100.1:9740\",\n]\nlisten = \"nowhere\"\n",
        );
        assert_eq!(line, 5);
        assert!(msg.contains("invalid value \"nowhere\""), "{msg}");
        let (line, msg) = problem(&["up"], "log-format = \"xml\"\n");
        assert_eq!(line, 1);
        assert!(
            msg.contains("possible values") && msg.contains("json"),
            "{msg}"
        );
        let (line, msg) = problem(&["up"], "ipv4-range = \"10.0.0.0/30\"\n");
        assert_eq!(line, 1);
        assert!(msg.contains("/30"), "{msg}");
        // The value in a list that is wrong, at its own line.
        let (line, _) = problem(
            &["up"],
            "forward = [\n  \"tcp:127.0.0.1:8080=[fd00::1]:80\",\n  \"sctp:1=[fd00::1]:2\",\n]\nuserspace = true\n",
        );
        assert_eq!(line, 3);
    }

    #[test]
    fn conflicts_and_missing_companions_are_told_at_the_key_that_makes_them() {
        let (line, msg) = problem(
            &["up"],
            "listen = \"[::]:9740\"\nsocks5 = \"127.0.0.1:1080\"\n",
        );
        assert_eq!(line, 2);
        assert!(msg.contains("`userspace`"), "{msg}");
        // With the companion on the command line, it is fine.
        let (_, up_args) = up(&["up", "--userspace"], "socks5 = \"127.0.0.1:1080\"\n").unwrap();
        assert!(up_args.userspace && up_args.socks5.is_some());
    }
}
