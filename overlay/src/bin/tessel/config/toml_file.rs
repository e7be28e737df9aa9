//! Reading a config file: TOML (parsed with `toml_edit`, which keeps
//! where each key and value is) of top-level keys only, each turned into
//! the command-line arguments it stands for, or into a [`Problem`] at its
//! line. Values are not checked here: clap checks them as it checks flags
//! ([`super::merge`]).

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use toml_edit::{Item, Value};

use super::keys::{self, Kind, Scalar};
use super::problem::{Invalid, Problem};

/// Keys whose values are secrets unless given as `@FILE`.
const SECRET_KEYS: &[&str] = &["network", "socks5-auth"];

/// A config file: its text and the keys it sets, in file order.
#[derive(Debug, Clone)]
pub(crate) struct ConfigFile {
    /// Where it was read from.
    pub(crate) path: PathBuf,
    /// Its text.
    pub(crate) text: String,
    /// Its keys, in file order.
    pub(crate) entries: Vec<Entry>,
}

/// One key of the file and the arguments it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key.
    pub(crate) key: String,
    /// The argument's ID in clap's matches.
    pub(crate) id: String,
    /// Where the key is.
    pub(crate) span: Range<usize>,
    /// The arguments: `--key=VALUE` once per value, `--key` for a switch
    /// that is on, nothing for one that is off.
    pub(crate) args: Vec<String>,
    /// Where each argument's value is (for messages).
    pub(crate) arg_spans: Vec<Range<usize>>,
}

impl ConfigFile {
    /// Reads and parses `path`.
    ///
    /// # Errors
    /// If it cannot be read, or has problems ([`Invalid`]).
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading the config file {} (without --config, tessel up reads {} only if it exists)",
                path.display(),
                super::DEFAULT_CONFIG
            )
        })?;
        Self::parse(path, text).map_err(Into::into)
    }

    /// Parses `text`, read from `path`.
    ///
    /// # Errors
    /// Every problem found, each at its place.
    pub(crate) fn parse(path: &Path, text: String) -> Result<Self, Invalid> {
        let (file, problems) = Self::parse_all(path, text);
        if problems.is_empty() {
            Ok(file)
        } else {
            Err(Invalid {
                path: path.to_path_buf(),
                problems,
            })
        }
    }

    /// Parses `text`, read from `path`: the keys without problems, and the
    /// problems of the others.
    pub(crate) fn parse_all(path: &Path, text: String) -> (Self, Vec<Problem>) {
        let (entries, problems) = entries(&text);
        let file = Self {
            path: path.to_path_buf(),
            text,
            entries,
        };
        (file, problems)
    }

    /// What is allowed but unwise: a secret (`network`, `socks5-auth`)
    /// written into the file itself, not as `@FILE`, while users other
    /// than the owner may read the file.
    pub(crate) fn warnings(&self) -> Vec<Problem> {
        use std::os::unix::fs::PermissionsExt;
        let readable =
            std::fs::metadata(&self.path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0);
        if !readable {
            return Vec::new();
        }
        self.entries
            .iter()
            .filter(|e| SECRET_KEYS.contains(&e.key.as_str()))
            .filter(|e| {
                e.args
                    .iter()
                    .any(|a| a.split_once('=').is_some_and(|(_, v)| !v.starts_with('@')))
            })
            .map(|e| {
                self.problem_at(
                    e,
                    format!(
                        "warning: a secret in a file that other users may read: write it into a file of \
                         mode 0600 and give `{} = \"@FILE\"`, or chmod 600 {}",
                        e.key,
                        self.path.display()
                    ),
                )
            })
            .collect()
    }

    /// The problem `message` at `entry`'s key.
    pub(crate) fn problem_at(&self, entry: &Entry, message: impl Into<String>) -> Problem {
        Problem::at(&self.text, entry.span.start, Some(&entry.key), message)
    }
}

/// The keys of `text` without problems, and every problem found in it.
fn entries(text: &str) -> (Vec<Entry>, Vec<Problem>) {
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let p = Problem::spanning(
                text,
                e.span(),
                None,
                format!("TOML syntax: {}", e.message().trim_end()),
            );
            return (Vec::new(), vec![p]);
        }
    };
    let all = keys::all();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (name, item) in doc.iter() {
        let span = doc
            .key(name)
            .and_then(toml_edit::Key::span)
            .or_else(|| item.span())
            .unwrap_or(0..0);
        let problem = |message: String| Problem::at(text, span.start, Some(name), message);
        let Item::Value(value) = item else {
            problems.push(problem(
                "sections and dotted keys are not used here: write every key at the top level, \
                 `key = value`"
                    .to_owned(),
            ));
            continue;
        };
        let key = match keys::find(&all, name) {
            Ok(k) => k,
            Err(message) => {
                problems.push(problem(message));
                continue;
            }
        };
        match arguments(name, key.kind, value) {
            Ok((args, arg_spans)) => out.push(Entry {
                key: name.to_owned(),
                id: key.id.clone(),
                span,
                args,
                arg_spans,
            }),
            Err((at, message)) => {
                let at = at.map_or(span.start, |s| s.start);
                problems.push(Problem::at(text, at, Some(name), message));
            }
        }
    }
    out.sort_by_key(|e| e.span.start);
    problems.sort_by_key(|p| (p.line, p.column));
    (out, problems)
}

/// Where a wrong value is, and what is wrong with it.
type TypeError = (Option<Range<usize>>, String);

/// The arguments that `value` of key `name` stands for.
fn arguments(
    name: &str,
    kind: Kind,
    value: &Value,
) -> Result<(Vec<String>, Vec<Range<usize>>), TypeError> {
    let flag = format!("--{name}");
    match (kind, value) {
        (Kind::Switch, Value::Boolean(b)) => Ok(if *b.value() {
            (vec![flag], vec![value.span().unwrap_or(0..0)])
        } else {
            (Vec::new(), Vec::new())
        }),
        (Kind::Switch, other) => Err((
            other.span(),
            format!(
                "takes true or false, not {}: write `{name} = true`",
                type_name(other)
            ),
        )),
        (Kind::List(scalar), Value::Array(list)) => {
            let mut args = Vec::new();
            let mut spans = Vec::new();
            for v in list.iter() {
                args.push(format!("{flag}={}", scalar_text(name, scalar, v, true)?));
                spans.push(v.span().unwrap_or(0..0));
            }
            Ok((args, spans))
        }
        (Kind::List(scalar), other) => Err((
            other.span(),
            format!(
                "takes a list, not {}: write `{name} = [{}]`",
                type_name(other),
                example(scalar, other)
            ),
        )),
        (Kind::Value(scalar), v) => Ok((
            vec![format!("{flag}={}", scalar_text(name, scalar, v, false)?)],
            vec![v.span().unwrap_or(0..0)],
        )),
    }
}

/// The text of one scalar value, as on the command line.
fn scalar_text(name: &str, scalar: Scalar, v: &Value, in_list: bool) -> Result<String, TypeError> {
    let text = match (scalar, v) {
        (Scalar::Text, Value::String(s)) => Some(s.value().clone()),
        (Scalar::Integer | Scalar::Float, Value::Integer(i)) => Some(i.value().to_string()),
        (Scalar::Float, Value::Float(f)) => Some(f.value().to_string()),
        _ => None,
    };
    text.ok_or_else(|| {
        let wanted = scalar.name();
        let write = if in_list {
            format!("`{name} = [{}]`", example(scalar, v))
        } else {
            format!("`{name} = {}`", example(scalar, v))
        };
        (
            v.span(),
            format!("takes {wanted}, not {}: write {write}", type_name(v)),
        )
    })
}

/// `v` written as the type `scalar` wants, for messages.
fn example(scalar: Scalar, v: &Value) -> String {
    let plain = match v {
        Value::String(s) => s.value().clone(),
        Value::Array(a) if a.len() == 1 => {
            return a.get(0).map_or_else(String::new, |x| example(scalar, x))
        }
        other => other.to_string().trim().to_owned(),
    };
    match scalar {
        Scalar::Text => format!("{plain:?}"),
        Scalar::Integer | Scalar::Float => {
            if plain.parse::<f64>().is_ok() {
                plain
            } else {
                "…".to_owned()
            }
        }
    }
}

/// The TOML name of `v`'s type.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "a list",
        Value::InlineTable(_) => "a table",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, Invalid> {
        ConfigFile::parse(Path::new("t.toml"), text.to_owned())
    }

    fn problems(text: &str) -> Vec<(usize, String)> {
        parse(text)
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    #[test]
    fn keys_become_the_arguments_they_stand_for() {
        let f = parse(
            "# a comment\n\
             state-dir = \"/srv/tessel\"\n\
             peer = [\"198.51.100.1:9740\", \"[2001:db8::1]:9740\"]\n\
             no-relay = true\n\
             no-tcp = false\n\
             stack-memory = 64\n\
             tile-advert-interval = 2.5\n",
        )
        .unwrap();
        let args: Vec<&str> = f
            .entries
            .iter()
            .flat_map(|e| e.args.iter().map(String::as_str))
            .collect();
        assert_eq!(
            args,
            [
                "--state-dir=/srv/tessel",
                "--peer=198.51.100.1:9740",
                "--peer=[2001:db8::1]:9740",
                "--no-relay",
                "--stack-memory=64",
                "--tile-advert-interval=2.5",
            ]
        );
        assert_eq!(f.entries[0].id, "state_dir");
        let (line, _) = super::super::problem::position(&f.text, f.entries[1].span.start);
        assert_eq!(line, 3);
    }

    #[test]
    fn syntax_errors_are_told_with_their_line() {
        let p = problems("listen = \"[::]:9740\"\npeer = [\"a:1\"\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].0 >= 2 && p[0].1.starts_with("TOML syntax"), "{p:?}");
        let p = problems("listen = 1\nlisten = 2\n");
        assert_eq!(p[0].0, 2, "{p:?}");
    }

    #[test]
    fn every_unknown_key_and_wrong_type_is_told_at_its_line() {
        let p = problems(
            "peers = [\"a:1\"]\n\
             no-relay = \"yes\"\n\
             peer = \"198.51.100.1:9740\"\n\
             stack-memory = \"64\"\n\
             listen = 9740\n\
             [section]\n\
             x = 1\n",
        );
        let lines: Vec<usize> = p.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 4, 5, 6], "{p:?}");
        assert!(p[0].1.contains("did you mean `peer`?"));
        assert!(p[1].1.contains("takes true or false, not a string"));
        assert!(
            p[2].1.contains("takes a list") && p[2].1.contains("peer = [\"198.51.100.1:9740\"]")
        );
        assert!(p[3].1.contains("takes an integer") && p[3].1.contains("stack-memory = 64"));
        assert!(p[4].1.contains("takes a string") && p[4].1.contains("listen = \"9740\""));
        assert!(p[5].1.contains("top level"));
    }
}
