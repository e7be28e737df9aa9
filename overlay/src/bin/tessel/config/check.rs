//! `tessel config check [FILE] [--json]`: every problem of a config file,
//! each with its line (TOML syntax, unknown keys, wrong types, values clap
//! refuses, then the first conflict), or "ok". Exits non-zero on problems.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::CommandFactory;

use super::problem::{Invalid, Problem};
use super::toml_file::ConfigFile;
use super::{merge, DEFAULT_CONFIG};
use crate::cli::Cli;

/// Runs the check and prints its outcome.
///
/// # Errors
/// If the file cannot be read or has problems (after printing them).
pub(crate) fn run(file: Option<&Path>, json: bool) -> Result<()> {
    let path = file.map_or_else(|| PathBuf::from(DEFAULT_CONFIG), Path::to_path_buf);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let warnings = ConfigFile::parse_all(&path, text.clone()).0.warnings();
    let problems = problems(&path, text);
    if json {
        let v = serde_json::json!({
            "file": path.display().to_string(),
            "ok": problems.is_empty(),
            "problems": problems,
            "warnings": warnings,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for p in warnings.iter().chain(&problems) {
            println!("{}", p.render(&path));
        }
        if problems.is_empty() {
            println!("ok");
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => bail!("{} has a problem", path.display()),
        n => bail!("{} has {n} problems", path.display()),
    }
}

/// The problems of `text`, read from `path`, in file order.
pub(crate) fn problems(path: &Path, text: String) -> Vec<Problem> {
    let (file, mut problems) = ConfigFile::parse_all(path, text);
    problems.extend(merge::value_problems(&file));
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.line, p.column));
        return problems;
    }
    // The keys together, as `tessel up` with no flags would take them.
    let argv: Vec<OsString> = ["tessel", "up"].iter().map(OsString::from).collect();
    let bare = Cli::command()
        .try_get_matches_from(&argv)
        .expect("`tessel up` alone parses");
    match merge::with_file(&argv, &bare, Some(&file)) {
        Ok(_) => Vec::new(),
        Err(e) => match e.downcast::<Invalid>() {
            Ok(invalid) => invalid.problems,
            Err(other) => vec![Problem::at(&file.text, 0, None, format!("{other:#}"))],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<usize> {
        problems(Path::new("t.toml"), text.to_owned())
            .iter()
            .map(|p| p.line)
            .collect()
    }

    #[test]
    fn a_valid_file_has_no_problems() {
        assert!(lines("").is_empty());
        assert!(lines("userspace = true\nsocks5 = \"127.0.0.1:1080\"\n").is_empty());
    }

    #[test]
    fn every_value_problem_is_found_not_only_the_first() {
        assert_eq!(
            lines("listen = \"x\"\nno-tcp = true\nipv4-range = \"1.2.3.4\"\nno-tcp2 = 1\nno-relay = 1\n"),
            [1, 3, 4, 5]
        );
        assert_eq!(lines("socks5 = \"127.0.0.1:1080\"\n"), [1]);
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../../../packaging/tessel.toml");
        let problems = problems(Path::new("packaging/tessel.toml"), text.to_owned());
        assert!(problems.is_empty(), "{problems:?}");
    }
}
