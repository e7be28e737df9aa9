//! Seeds for tests and runs: taken from `SIM_SEED` when it is set, else a
//! fixed default, and printed with a replay command when the test fails.
//!
//! ```
//! # fn main() {
//! let seed = tessel_sim::test_seed!(7);
//! let mut w = tessel_sim::World::new(seed.get());
//! # let _ = &mut w;
//! # }
//! ```
//!
//! If the test panics, the guard prints, for instance:
//! `seed 7; replay: SIM_SEED=7 cargo test -p tessel-sim --test scenarios -- --exact roaming --include-ignored`.

use std::fmt;

/// The environment variable that overrides a test's seed.
pub const ENV: &str = "SIM_SEED";

/// `SIM_SEED` holds something that is not a seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ENV}={0:?} is not a seed: give a decimal or 0x-prefixed hexadecimal u64")]
pub struct BadSeed(pub String);

/// Parses a seed: decimal, or hexadecimal with `0x`.
///
/// # Errors
/// [`BadSeed`] if `s` is neither.
pub fn parse(s: &str) -> Result<u64, BadSeed> {
    let t = s.trim();
    let r = match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    r.map_err(|_| BadSeed(s.to_string()))
}

/// The seed from `SIM_SEED`, or `default`.
///
/// # Panics
/// Panics with a clear message if `SIM_SEED` is set to something else.
pub fn from_env(default: u64) -> u64 {
    match std::env::var(ENV) {
        Ok(s) => parse(&s).unwrap_or_else(|e| panic!("{e}")),
        Err(_) => default,
    }
}

/// A test's seed; prints it and how to replay the test if the test panics.
#[derive(Debug)]
pub struct SeedGuard {
    seed: u64,
    replay: String,
}

impl SeedGuard {
    /// A guard for the test at `path` (`test_crate::module::test_fn`, as
    /// [`crate::test_seed!`] gives it), with the seed from `SIM_SEED` or `default`.
    pub fn for_test(path: &str, default: u64) -> Self {
        let seed = from_env(default);
        let (krate, name) = path.split_once("::").unwrap_or((path, ""));
        let target = if krate == "tessel_sim" {
            "--lib".to_string()
        } else {
            format!("--test {krate}")
        };
        let replay = format!(
            "{ENV}={seed} cargo test -p tessel-sim {target} -- --exact {name} --include-ignored"
        );
        Self { seed, replay }
    }

    /// A guard for a run of the binary, replayed by `command`.
    pub fn for_command(seed: u64, command: String) -> Self {
        Self {
            seed,
            replay: command,
        }
    }

    /// The seed.
    pub fn get(&self) -> u64 {
        self.seed
    }

    /// The command that replays the run.
    pub fn replay(&self) -> &str {
        &self.replay
    }
}

impl fmt::Display for SeedGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {}; replay: {}", self.seed, self.replay)
    }
}

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("\n*** simulation failed: {self}\n");
        }
    }
}

/// A [`SeedGuard`] for the enclosing test function: `test_seed!(default)`.
#[macro_export]
macro_rules! test_seed {
    ($default:expr) => {{
        fn here() {}
        let path = ::std::any::type_name_of_val(&here);
        let path = path.strip_suffix("::here").unwrap_or(path);
        $crate::seed::SeedGuard::for_test(path, $default)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_and_hex() {
        assert_eq!(parse("1234"), Ok(1234));
        assert_eq!(parse("0xff"), Ok(255));
        assert!(parse("seven").is_err());
    }

    #[test]
    fn the_replay_command_names_this_test() {
        let g = crate::test_seed!(99);
        assert!(
            g.replay().ends_with(
                "--exact seed::tests::the_replay_command_names_this_test --include-ignored"
            ),
            "{}",
            g.replay()
        );
    }
}
