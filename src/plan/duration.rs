//! Durations as users write them (`500ms`, `30s`, `5m`, `1h30m`): parsed from `.flow` text and
//! profiles, and written back the same way in plans, `explain` and errors.

use std::time::Duration;

/// `500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m`. A bare number is rejected: the unit is the point.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let mut total_ms: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let value: u128 = rest[..digits_end].parse().map_err(|_| "the number is too large".to_string())?;
        rest = &rest[digits_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let factor: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err("a unit is missing (ms, s, m, h, d)".into()),
            other => return Err(format!("unknown unit `{other}` (use ms, s, m, h or d)")),
        };
        total_ms = total_ms.saturating_add(value.saturating_mul(factor));
        rest = &rest[unit_end..];
    }
    if total_ms == 0 {
        return Err("it must be longer than zero".into());
    }
    let ms = u64::try_from(total_ms).map_err(|_| "it is too long".to_string())?;
    Ok(Duration::from_millis(ms))
}

/// The shortest `1h30m`-style text for a duration, for plans and explain output.
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400_000u128), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for (text, ms) in [("500ms", 500), ("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000)]
        {
            let d = parse_duration(text).unwrap();
            assert_eq!(d.as_millis(), ms, "{text}");
            assert_eq!(format_duration(d), text);
        }
    }

    #[test]
    fn bad_durations_say_why() {
        assert_eq!(parse_duration("10x").unwrap_err(), "unknown unit `x` (use ms, s, m, h or d)");
        assert_eq!(parse_duration("10").unwrap_err(), "a unit is missing (ms, s, m, h, d)");
        assert_eq!(parse_duration("0s").unwrap_err(), "it must be longer than zero");
        assert_eq!(parse_duration("m").unwrap_err(), "expected a number at `m`");
    }
}
