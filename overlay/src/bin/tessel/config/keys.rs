//! The keys of the config file: one per `tessel up` flag, its long name,
//! read from the command line's definition (so new flags get keys with no
//! code here). Hidden (test) flags and `--config` itself have none. What
//! TOML type a key takes follows from the flag: a switch takes `true` or
//! `false`, a repeatable flag a list, a numeric flag a number, any other
//! a string.

use std::any::TypeId;

use clap::{Arg, ArgAction, Command, CommandFactory};

use crate::cli::Cli;

/// The flag `tessel up` has that the file may not set.
const NOT_IN_FILE: &[&str] = &["config"];

/// What values a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A switch: `true` or `false`.
    Switch,
    /// A repeatable flag: a list of scalars.
    List(Scalar),
    /// A flag with one value.
    Value(Scalar),
}

/// The TOML type of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// A string.
    Text,
    /// An integer.
    Integer,
    /// A number, integer or not.
    Float,
}

impl Scalar {
    /// What to call it in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Text => "a string",
            Self::Integer => "an integer",
            Self::Float => "a number",
        }
    }
}

/// One key: a flag of `tessel up`.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    /// The key (the flag's long name).
    pub(crate) name: String,
    /// The argument's ID in clap's matches.
    pub(crate) id: String,
    /// What it takes.
    pub(crate) kind: Kind,
}

/// The `tessel up` command as clap sees it, global flags included.
pub(crate) fn up_command() -> Command {
    let mut cli = Cli::command();
    cli.build();
    cli.find_subcommand("up")
        .cloned()
        .expect("tessel has an up command")
}

/// Every key, in the order of `tessel up --help`.
pub(crate) fn all() -> Vec<Key> {
    up_command()
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_long()?;
            if arg.is_hide_set() || NOT_IN_FILE.contains(&name) {
                return None;
            }
            Some(Key {
                name: name.to_owned(),
                id: arg.get_id().as_str().to_owned(),
                kind: kind(arg)?,
            })
        })
        .collect()
}

fn kind(arg: &Arg) -> Option<Kind> {
    let ty = arg.get_value_parser().type_id();
    let scalar = if [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<isize>(),
    ]
    .iter()
    .any(|t| ty == *t)
    {
        Scalar::Integer
    } else if ty == TypeId::of::<f64>() || ty == TypeId::of::<f32>() {
        Scalar::Float
    } else {
        Scalar::Text
    };
    match arg.get_action() {
        ArgAction::SetTrue => Some(Kind::Switch),
        ArgAction::Append => Some(Kind::List(scalar)),
        ArgAction::Set => Some(Kind::Value(scalar)),
        // Help, version and counters are no settings.
        _ => None,
    }
}

/// The key called `name`, or why there is none (with the nearest key).
pub(crate) fn find<'a>(keys: &'a [Key], name: &str) -> Result<&'a Key, String> {
    if let Some(k) = keys.iter().find(|k| k.name == name) {
        return Ok(k);
    }
    if NOT_IN_FILE.contains(&name) {
        return Err("cannot be set in the config file (give it on the command line)".to_owned());
    }
    let spelled = name.to_lowercase().replace('_', "-");
    if let Some(k) = keys.iter().find(|k| k.name == spelled) {
        return Err(format!(
            "unknown key: did you mean `{}`? (keys are the flags' long names, with -)",
            k.name
        ));
    }
    let nearest = keys
        .iter()
        .map(|k| (strsim::jaro_winkler(&spelled, &k.name), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    Err(match nearest {
        Some((_, k)) => format!("unknown key: did you mean `{}`?", k.name),
        None => "unknown key: the keys are the long names of the `tessel up` flags \
                 (see `tessel up --help` and docs/config.md)"
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_long_flags_with_their_kinds() {
        let keys = all();
        let kind_of = |n: &str| find(&keys, n).map(|k| k.kind);
        assert_eq!(kind_of("state-dir"), Ok(Kind::Value(Scalar::Text)));
        assert_eq!(kind_of("peer"), Ok(Kind::List(Scalar::Text)));
        assert_eq!(kind_of("no-relay"), Ok(Kind::Switch));
        assert_eq!(kind_of("stack-memory"), Ok(Kind::Value(Scalar::Integer)));
        assert_eq!(
            kind_of("tile-advert-interval"),
            Ok(Kind::Value(Scalar::Float))
        );
        // Global flags apply to `tessel up` too.
        assert_eq!(kind_of("log-level"), Ok(Kind::Value(Scalar::Text)));
        assert_eq!(kind_of("log-format"), Ok(Kind::Value(Scalar::Text)));
        assert_eq!(kind_of("ipv4-range"), Ok(Kind::Value(Scalar::Text)));
        // Hidden test flags, help and the file itself have no key.
        for none in ["port-mapping-protocol", "help", "config", "version"] {
            assert!(kind_of(none).is_err(), "{none}");
        }
        assert_eq!(find(&keys, "peer").unwrap().id, "peers");
    }

    #[test]
    fn unknown_keys_are_told_the_nearest_key() {
        let keys = all();
        let says = |n: &str| find(&keys, n).unwrap_err();
        assert!(
            says("peers").contains("did you mean `peer`?"),
            "{}",
            says("peers")
        );
        assert!(says("state_dir").contains("did you mean `state-dir`?"));
        assert!(says("no-rlay").contains("did you mean `no-relay`?"));
        assert!(says("Listen").contains("did you mean `listen`?"));
        assert!(says("config").contains("cannot be set in the config file"));
        assert!(says("zzzz").contains("tessel up --help"));
    }

    /// docs/config.md has a row for every key, and no row for a key that
    /// does not exist: a new flag fails this test until it is documented.
    #[test]
    fn every_key_is_documented_in_docs_config_md() {
        let doc = include_str!("../../../../../docs/config.md");
        let keys = all();
        let missing: Vec<&str> = keys
            .iter()
            .map(|k| k.name.as_str())
            .filter(|k| !doc.contains(&format!("\n| `{k}` |")))
            .collect();
        assert!(
            missing.is_empty(),
            "keys without a row in docs/config.md: {missing:?}"
        );
        let stale: Vec<&str> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
            .filter(|k| find(&keys, k).is_err())
            .collect();
        assert!(
            stale.is_empty(),
            "rows in docs/config.md for no key: {stale:?}"
        );
    }
}
