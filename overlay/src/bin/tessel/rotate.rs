//! `tessel network rotate`: asks the running daemon for a new network key
//! (the control API's `network_rotate`), which it hands to the members it
//! has sessions with; the old key keeps working for the grace period.

use anyhow::Result;
use tessel_overlay::driver::control::answers::RotateAnswer;
use tessel_overlay::driver::control::Request;

use crate::cli::RotateArgs;
use crate::local;

/// Runs `tessel network rotate`.
pub(crate) fn run(args: &RotateArgs) -> Result<()> {
    let request = Request::NetworkRotate {
        grace_s: args.grace.as_secs(),
    };
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
