//! Durations as users write them (`500ms`, `30s`, `5m`, `1h30m`): parsed from `.flow` text and
//! profiles, and written back the same way in plans, `explain` and errors.

use std::time::Duration;

/// Why text is not a duration; its text completes `... is not a duration: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it is empty")]
    Empty,
    /// A unit, or the end of a number, where a number should start; `rest` is the text from there.
    #[error("expected a number at `{rest}`")]
    NoNumber { rest: String },
    #[error("the number is too large")]
    NumberTooLarge,
    #[error("a unit is missing (ms, s, m, h, d)")]
    NoUnit,
    #[error("unknown unit `{unit}` (use ms, s, m, h or d)")]
    UnknownUnit { unit: String },
    #[error("it must be longer than zero")]
    Zero,
    /// More milliseconds than a u64 holds.
    #[error("it is too long")]
    TooLong,
}

/// `500ms`, `30s`, `5m`, `2h`, `1d`, `1h30m`. A bare number is rejected: the unit is the point.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total_ms: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(DurationError::NoNumber { rest: rest.to_string() });
        }
        let value: u128 = rest[..digits_end].parse().map_err(|_| DurationError::NumberTooLarge)?;
        rest = &rest[digits_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let factor: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(DurationError::NoUnit),
            other => return Err(DurationError::UnknownUnit { unit: other.to_string() }),
        };
        total_ms = total_ms.saturating_add(value.saturating_mul(factor));
        rest = &rest[unit_end..];
    }
    if total_ms == 0 {
        return Err(DurationError::Zero);
    }
    let ms = u64::try_from(total_ms).map_err(|_| DurationError::TooLong)?;
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
        let why = |text: &str| parse_duration(text).unwrap_err();
        assert_eq!(why("10x"), DurationError::UnknownUnit { unit: "x".into() });
        assert_eq!(why("10x").to_string(), "unknown unit `x` (use ms, s, m, h or d)");
        assert_eq!(why("10").to_string(), "a unit is missing (ms, s, m, h, d)");
        assert_eq!(why("0s").to_string(), "it must be longer than zero");
        assert_eq!(why("m").to_string(), "expected a number at `m`");
        assert_eq!(why(" "), DurationError::Empty);
    }
}
