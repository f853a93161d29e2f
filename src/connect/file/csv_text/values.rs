//! The text forms each inferred type accepts: a value is given a type only when reading it back
//! from that type gives the text the file holds (no leading zeros, no `+`, no negative zero, an
//! exponent form only when a double holds it exactly, ISO dates and timestamps).

pub(super) fn is_canonical_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0"
}

/// `-?(0|[1-9]d*).d+`, not a negative zero: (integer digits, fractional digits).
pub(super) fn canonical_decimal(s: &str) -> Option<(usize, usize)> {
    let (int, frac) = s.split_once('.')?;
    if !is_canonical_integer(int) && int != "-0" {
        return None;
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let negative = int.starts_with('-');
    let digits = int.trim_start_matches('-');
    if negative && digits == "0" && frac.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((if digits == "0" { 0 } else { digits.len() }, frac.len()))
}

/// The number a decimal text denotes, normalised: (negative, significant digits, exponent of
/// the last digit). `None` if it is not `-?digits[.digits][e[+-]digits]`.
pub(super) fn normal_number(s: &str) -> Option<(bool, String, i64)> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = format!("{int}{frac}");
    let mut exp = exponent - frac.len() as i64;
    let trimmed_end = all.trim_end_matches('0');
    exp += (all.len() - trimmed_end.len()) as i64;
    let digits = trimmed_end.trim_start_matches('0').to_string();
    if digits.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, digits, exp))
}

/// An exponent form (`1e3`, `-2.5E-4`) whose double is exactly the number written.
pub(super) fn exact_float(s: &str) -> bool {
    let Some(i) = s.find(['e', 'E']) else { return false };
    let mantissa = &s[..i];
    if !(is_canonical_integer(mantissa) || canonical_decimal(mantissa).is_some()) {
        return false;
    }
    let Ok(f) = s.parse::<f64>() else { return false };
    f.is_finite() && f != 0.0 && normal_number(s).is_some() && normal_number(&format!("{f:e}")) == normal_number(s)
}

pub(super) fn naive_timestamp(s: &str) -> Option<i64> {
    // At most microseconds: a finer fraction would be cut.
    if let Some(dot) = s.rfind('.')
        && s.len() - dot - 1 > 6
    {
        return None;
    }
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    // Four-digit years only, as written by ISO 8601.
    (s.len() >= 19 && s.as_bytes()[4] == b'-').then(|| t.and_utc().timestamp_micros())
}

pub(super) fn zoned_timestamp(s: &str) -> Option<i64> {
    let split = s.len().checked_sub(if s.ends_with(['Z', 'z']) { 1 } else { 6 })?;
    if !s.is_char_boundary(split) {
        return None;
    }
    let (local, zone) = s.split_at(split);
    let micros = naive_timestamp(local)?;
    let offset = match zone.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => {
            let m = i64::from((h1 - b'0') * 10 + (h2 - b'0')) * 60 + i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    Some(micros - offset * 60_000_000)
}

pub(super) fn date_days(s: &str) -> Option<i32> {
    if s.len() != 10 || s.as_bytes()[4] != b'-' || s.as_bytes()[7] != b'-' {
        return None;
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some((d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}
