//! `tessel network rotate`: asks the running daemon for a new network key
//! (the control API's `network_rotate`), which it hands to the members it
//! has sessions with; the old key keeps working for the grace period.
//!
//! In a managed network (`--owner-key FILE`) the new key is made here, as
//! the next key of the one in the node's state dir, and signed with the
//! owner key together with the end of the grace; the daemon gets that
//! signed rotation and members take the key only with the signature.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use tessel_overlay::driver::clock;
use tessel_overlay::driver::control::answers::RotateAnswer;
use tessel_overlay::driver::control::Request;
use tessel_overlay::driver::state_dir::StateDir;
use tessel_overlay::identity::SignedRotation;
use zeroize::Zeroize;

use crate::cli::RotateArgs;
use crate::local;
use crate::scope::read_key;

/// The owner's signed rotation to a fresh next key of the state dir's
/// network key, the old one refused `grace` from now.
fn signed_rotation(owner_key: &Path, state_dir: &Path, grace_s: u64) -> Result<String> {
    let owner = read_key(owner_key)?;
    let state = StateDir::open(state_dir)
        .with_context(|| format!("opening the state dir {}", state_dir.display()))?;
    let current = state.network_key()?.ok_or_else(|| {
        anyhow!(
            "no network key in {}: run this as the node's user, with its --state-dir",
            state_dir.display()
        )
    })?;
    let mut secret = clock::random_seed().context("reading the OS random source")?;
    let next = current.rotated(secret);
    secret.zeroize();
    let grace_end_s = (clock::unix_ms() / 1000).saturating_add(grace_s);
    let signed = SignedRotation::sign(&owner, next, grace_end_s);
    Ok(signed.to_text().as_str().to_owned())
}

/// Runs `tessel network rotate`.
pub(crate) fn run(args: &RotateArgs) -> Result<()> {
    let grace_s = args.grace.as_secs();
    let signed = match &args.owner_key {
        Some(file) => Some(signed_rotation(file, &args.dirs.state_dir, grace_s)?),
        None => None,
    };
    let request = Request::NetworkRotate { grace_s, signed };
    let v = local::ask::<RotateAnswer>(&args.dirs, &request).map_err(|e| {
        let hint = if e.not_running() {
            "\nThe network key is rotated by a running node, which hands the new key to its members."
        } else {
            ""
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    if args.json {
        return v.print_json(true);
    }
    println!("{}", v.key);
    eprintln!(
        "network key rotated (epoch {}); the members connected now are getting it.",
        v.epoch
    );
    match v.old_key_refused_after_unix_ms {
        Some(ms) => eprintln!(
            "the old key keeps working until {} (members offline until then get the new key when they come back); after that it is refused.",
            utc(ms / 1000)
        ),
        None => eprintln!("the old key is refused from now on."),
    }
    eprintln!("give new members the key above (in a file, with --network @FILE).");
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds.
pub(crate) fn utc(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(super::utc(1_796_601_599), "2026-12-06 23:59:59 UTC");
    }
}
