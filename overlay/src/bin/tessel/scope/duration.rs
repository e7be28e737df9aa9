//! Lifetimes on the command line: `90s`, `30m`, `12h`, `7d`.

use std::time::Duration;

/// Parses a number followed by `s`, `m`, `h` or `d`.
pub(crate) fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let secs_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{s}`: give a number and a unit, as in 90s, 30m, 12h or 7d"
            ))
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}`: `{num}` is not a whole number"))?;
    if n == 0 {
        return Err(format!("`{s}`: a lifetime must be longer than zero"));
    }
    n.checked_mul(secs_per)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}`: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_errors() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse("7").is_err());
        assert!(parse("0d").is_err());
        assert!(parse("x1d").is_err());
        assert!(parse("").is_err());
        assert!(parse("99999999999999999999d").is_err());
    }
}
