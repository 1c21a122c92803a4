//! Parsing of `--duration 30s` style arguments, spelled as perf/bpftrace users expect.

use anyhow::{bail, Result};
use std::time::Duration;

/// Parses `500ms`, `30s`, `2m`, `1h`, or a bare number of seconds.
pub fn parse(s: &str) -> Result<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let Ok(value) = num.parse::<f64>() else {
        bail!("invalid duration {s:?}: expected e.g. 30s, 500ms, 2m, 1h");
    };
    let secs = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => bail!("invalid duration unit {unit:?} in {s:?}: use ms, s, m or h"),
    };
    if !(secs.is_finite() && secs > 0.0) {
        bail!("duration must be positive, got {s:?}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// [`parse`] as clap's value parser wants it.
pub fn parse_flag(s: &str) -> Result<Duration, String> {
    parse(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("15").unwrap(), Duration::from_secs(15));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse("abc").is_err());
        assert!(parse("10x").is_err());
        assert!(parse("0s").is_err());
    }
}
