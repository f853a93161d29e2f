//! One column's values into its Arrow array ([`Builder`]), each converted by its own storage
//! class exactly or refused with a [`ValueError`] (the reader names column, row and value): the
//! rules of the table in the reader's module docs.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::DataType;
use rusqlite::types::ValueRef;

use super::{Kind, real_text};

/// Julian day numbers SQLite's `auto` modifier accepts (0000-01-01 .. 9999-12-31).
const JULIAN_DAY_MAX: f64 = 5_373_484.499_999;
/// Unix seconds SQLite's `auto` modifier accepts.
const UNIX_MIN: f64 = -210_866_760_000.0;
const UNIX_MAX: f64 = 253_402_300_799.0;
/// Milliseconds between Julian day 0 and the Unix epoch.
const JD_EPOCH_MS: i64 = 210_866_760_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;

pub(super) enum Builder {
    Integer(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Blob(BinaryBuilder),
    Boolean(BooleanBuilder),
    Decimal(Decimal128Builder, u8, i8),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

/// Why a stored value does not convert to its column's Arrow type, exactly; its text follows the
/// value in the reader's message (`column `n` (declared INTEGER), rowid 3: 'abc' is not an integer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("is not text")]
    NotText,
    #[error("is not a blob")]
    NotBlob,
    #[error("is not valid UTF-8")]
    NotUtf8,
    #[error("is not an integer")]
    NotInteger,
    #[error("is not a number")]
    NotNumber,
    /// An integer beyond 2^53 that a double would round.
    #[error("has more digits than a double holds exactly")]
    InexactDouble,
    #[error("is not a boolean (0 or 1, true or false)")]
    NotBoolean,
    #[error("is not a decimal number")]
    NotDecimal,
    /// More fractional digits than the decimal's scale, not all zeros.
    #[error("has more than {scale} fractional digits (decimal({precision},{scale}))")]
    Rounded { precision: u8, scale: i8 },
    /// More integer digits than `precision - scale`, or not finite.
    #[error("does not fit decimal({precision},{scale})")]
    DecimalOverflow { precision: u8, scale: i8 },
    #[error("has a time of day; a DATE column holds dates only")]
    TimeInDate,
    /// A date whose day number leaves Arrow's `Date32`.
    #[error("is out of range")]
    OutOfRange,
    #[error("is not a time of day (HH:MM[:SS[.fff]])")]
    NotTimeOfDay,
    /// `now`, which SQLite's date functions read as the current time.
    #[error("names the moment of reading, not a stored time")]
    Now,
    #[error("is not a SQLite time value")]
    NotTimeValue,
    #[error("is neither a Julian day number nor Unix time in SQLite's range")]
    TimeRange,
}

impl Builder {
    pub(super) fn new(kind: Kind, capacity: usize) -> Self {
        match kind {
            Kind::Integer => Self::Integer(Int64Builder::with_capacity(capacity)),
            Kind::Real => Self::Real(Float64Builder::with_capacity(capacity)),
            Kind::Text => Self::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
            Kind::Blob => Self::Blob(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            Kind::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            Kind::Decimal { precision, scale } => Self::Decimal(
                Decimal128Builder::with_capacity(capacity).with_data_type(DataType::Decimal128(precision, scale)),
                precision,
                scale,
            ),
            Kind::Date => Self::Date(Date32Builder::with_capacity(capacity)),
            Kind::Time => Self::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            Kind::Timestamp { utc } => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity)
                    .with_data_type(Kind::Timestamp { utc }.data_type()),
            ),
        }
    }

    pub(super) fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Integer(b) => Arc::new(b.finish()),
            Self::Real(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Blob(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
        }
    }

    /// Appends one value, converted exactly; `Err` says why it cannot be (the caller names the
    /// column, row and value).
    pub(super) fn append(&mut self, value: ValueRef<'_>) -> std::result::Result<(), ValueError> {
        if matches!(value, ValueRef::Null) {
            match self {
                Self::Integer(b) => b.append_null(),
                Self::Real(b) => b.append_null(),
                Self::Text(b) => b.append_null(),
                Self::Blob(b) => b.append_null(),
                Self::Boolean(b) => b.append_null(),
                Self::Decimal(b, ..) => b.append_null(),
                Self::Date(b) => b.append_null(),
                Self::Time(b) => b.append_null(),
                Self::Timestamp(b) => b.append_null(),
            }
            return Ok(());
        }
        match self {
            Self::Integer(b) => b.append_value(to_integer(value)?),
            Self::Real(b) => b.append_value(to_real(value)?),
            Self::Text(b) => match value {
                ValueRef::Text(t) => b.append_value(text(t)?),
                ValueRef::Integer(i) => b.append_value(i.to_string()),
                ValueRef::Real(f) => b.append_value(real_text(f)),
                _ => return Err(ValueError::NotText),
            },
            Self::Blob(b) => match value {
                ValueRef::Blob(bytes) | ValueRef::Text(bytes) => b.append_value(bytes),
                _ => return Err(ValueError::NotBlob),
            },
            Self::Boolean(b) => b.append_value(to_boolean(value)?),
            Self::Decimal(b, precision, scale) => b.append_value(to_decimal(value, *precision, *scale)?),
            Self::Date(b) => {
                let micros = to_time_value(value)?;
                if micros.rem_euclid(MICROS_PER_DAY) != 0 {
                    return Err(ValueError::TimeInDate);
                }
                let days = i32::try_from(micros.div_euclid(MICROS_PER_DAY)).map_err(|_| ValueError::OutOfRange)?;
                b.append_value(days);
            }
            Self::Time(b) => match value {
                ValueRef::Text(t) => {
                    let t = text(t)?;
                    let (micros, rest) = parse_time_of_day(t.trim()).ok_or(ValueError::NotTimeOfDay)?;
                    if !rest.is_empty() {
                        return Err(ValueError::NotTimeOfDay);
                    }
                    b.append_value(micros);
                }
                _ => return Err(ValueError::NotTimeOfDay),
            },
            Self::Timestamp(b) => b.append_value(to_time_value(value)?),
        }
        Ok(())
    }
}

pub(super) fn text(bytes: &[u8]) -> std::result::Result<&str, ValueError> {
    std::str::from_utf8(bytes).map_err(|_| ValueError::NotUtf8)
}

/// 2^63 as a double: the first value past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

pub(super) fn to_integer(value: ValueRef<'_>) -> std::result::Result<i64, ValueError> {
    match value {
        ValueRef::Integer(i) => Ok(i),
        ValueRef::Real(f) if f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) => Ok(f as i64),
        ValueRef::Real(_) => Err(ValueError::NotInteger),
        ValueRef::Text(t) => {
            let t = text(t)?;
            t.parse::<i64>().ok().filter(|i| i.to_string() == t).ok_or(ValueError::NotInteger)
        }
        _ => Err(ValueError::NotInteger),
    }
}

pub(super) fn to_real(value: ValueRef<'_>) -> std::result::Result<f64, ValueError> {
    match value {
        ValueRef::Real(f) => Ok(f),
        // Exact only when the double holds the integer itself (every |i| <= 2^53, and some above).
        ValueRef::Integer(i) if (i as f64) < TWO_POW_63 && (i as f64) as i64 == i => Ok(i as f64),
        ValueRef::Integer(_) => Err(ValueError::InexactDouble),
        _ => Err(ValueError::NotNumber),
    }
}

pub(super) fn to_boolean(value: ValueRef<'_>) -> std::result::Result<bool, ValueError> {
    match value {
        ValueRef::Integer(0) => Ok(false),
        ValueRef::Integer(1) => Ok(true),
        ValueRef::Real(0.0) => Ok(false),
        ValueRef::Real(1.0) => Ok(true),
        ValueRef::Text(t) if t.eq_ignore_ascii_case(b"true") => Ok(true),
        ValueRef::Text(t) if t.eq_ignore_ascii_case(b"false") => Ok(false),
        _ => Err(ValueError::NotBoolean),
    }
}

pub(super) fn to_decimal(value: ValueRef<'_>, precision: u8, scale: i8) -> std::result::Result<i128, ValueError> {
    match value {
        ValueRef::Integer(i) => match integer_decimal(i, precision, scale) {
            Some(unscaled) => Ok(unscaled),
            None => parse_decimal(&i.to_string(), precision, scale),
        },
        ValueRef::Real(f) if f.is_finite() => match real_decimal(f, precision, scale) {
            Some(unscaled) => Ok(unscaled),
            None => parse_decimal(&real_text(f), precision, scale),
        },
        ValueRef::Real(_) => Err(ValueError::DecimalOverflow { precision, scale }),
        ValueRef::Text(t) => parse_decimal(text(t)?.trim(), precision, scale),
        ValueRef::Blob(_) | ValueRef::Null => Err(ValueError::NotNumber),
    }
}

/// `10^0 ..= 10^38`: every power of ten a Decimal128's scale or precision names.
const POW10: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// An integer as a Decimal128 of `scale` when it fits `precision` (what [`parse_decimal`] gives
/// for its decimal text, without the text); `None` leaves the value to [`parse_decimal`], which
/// says why it does not fit.
pub(super) fn integer_decimal(i: i64, precision: u8, scale: i8) -> Option<i128> {
    let factor = *POW10.get(usize::try_from(scale).ok()?)?;
    let unscaled = i128::from(i).checked_mul(factor)?;
    (unscaled.unsigned_abs() < POW10.get(usize::from(precision))?.unsigned_abs()).then_some(unscaled)
}

/// 2^50: below it, a double times a power of ten rounds to the integer nearest the exact product
/// (see [`real_decimal`]).
const TWO_POW_50: f64 = 1_125_899_906_842_624.0;
/// Powers of ten a double holds exactly (10^0 ..= 10^22).
const EXACT_POW10: usize = 22;

/// A double as a Decimal128 of `scale` when its shortest decimal form has at most `scale`
/// fractional digits and fits `precision`: the value [`parse_decimal`] gives for [`real_text`]'s
/// text, computed without the text. `None` when it does not hold or cannot be decided here;
/// the caller then takes the text's way, which also says why a value is refused.
///
/// Why it is the same value: let `n` be `f × 10^scale` rounded to an integer. If `n / 10^scale`
/// (one correctly rounded division of two exact doubles, as `|n| < 2^50` and `10^scale ≤ 10^22`)
/// reads back as `f`, then the decimal `n × 10^-scale` lies in the interval of reals that round to
/// `f`. That interval is narrower than `10^-scale` (|f| < 2^50 / 10^scale makes `f`'s ulp less
/// than `10^-scale / 4`), so it holds no other multiple of `10^-scale`; the shortest decimal that
/// reads back as `f` is in the interval and has the fewest digits, so it is a multiple of
/// `10^-scale` too: it is `n × 10^-scale`.
pub(super) fn real_decimal(f: f64, precision: u8, scale: i8) -> Option<i128> {
    let scale = usize::try_from(scale).ok().filter(|&s| s <= EXACT_POW10)?;
    let factor = POW10[scale] as f64;
    let scaled = f * factor;
    if scaled.is_nan() || scaled.abs() >= TWO_POW_50 {
        return None;
    }
    let n = scaled.round();
    if n / factor != f {
        return None;
    }
    let unscaled = n as i128;
    (unscaled.unsigned_abs() < POW10.get(usize::from(precision))?.unsigned_abs()).then_some(unscaled)
}

/// `[+-]digits[.digits]` as a Decimal128 of `scale`, exactly: fractional digits beyond the
/// scale must be zeros, and the integer digits must fit `precision - scale`.
pub(crate) fn parse_decimal(s: &str, precision: u8, scale: i8) -> std::result::Result<i128, ValueError> {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ValueError::NotDecimal);
    }
    let scale_digits = usize::try_from(scale.max(0)).unwrap_or(0);
    let (kept, dropped) = frac_part.split_at(frac_part.len().min(scale_digits));
    if dropped.bytes().any(|b| b != b'0') {
        return Err(ValueError::Rounded { precision, scale });
    }
    let int_part = int_part.trim_start_matches('0');
    if int_part.len() + scale_digits > usize::from(precision) {
        return Err(ValueError::DecimalOverflow { precision, scale });
    }
    let mut value: i128 = 0;
    for b in int_part.bytes().chain(kept.bytes()).chain(std::iter::repeat_n(b'0', scale_digits - kept.len())) {
        value = value * 10 + i128::from(b - b'0');
    }
    Ok(if negative { -value } else { value })
}

/// A time value in microseconds since 1970-01-01 00:00:00 (UTC for values with an offset; the
/// wall-clock time as written otherwise). See the module docs for the forms.
pub(super) fn to_time_value(value: ValueRef<'_>) -> std::result::Result<i64, ValueError> {
    match value {
        ValueRef::Integer(i) => number_time(i as f64, Some(i)),
        ValueRef::Real(f) => number_time(f, None),
        ValueRef::Text(t) => {
            if let Some(micros) = plain_time_text(t) {
                return Ok(micros);
            }
            let t = text(t)?.trim();
            if t.eq_ignore_ascii_case("now") {
                return Err(ValueError::Now);
            }
            // `YYYY-` is no number's start: a date's text goes straight to its parser.
            if t.as_bytes().get(..5).is_some_and(|b| b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-') {
                return parse_time_text(t).ok_or(ValueError::NotTimeValue);
            }
            if let Ok(i) = t.parse::<i64>() {
                return number_time(i as f64, Some(i));
            }
            if let Ok(f) = t.parse::<f64>()
                && f.is_finite()
                && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            {
                return number_time(f, None);
            }
            parse_time_text(t).ok_or(ValueError::NotTimeValue)
        }
        _ => Err(ValueError::NotTimeValue),
    }
}

/// The forms most programs write, without offset or spaces around them: `YYYY-MM-DD`,
/// `YYYY-MM-DD HH:MM:SS` and `YYYY-MM-DD HH:MM:SS.f` with 1 to 6 fractional digits (Python's
/// `sqlite3` writes the first, and the others for a `datetime` with and without microseconds),
/// `T` allowed for the space. The value [`parse_time_text`] gives them, read in one pass over
/// fixed places; `None` for any other text, which takes the general way (and is refused there
/// if it is no time value: a fast path never refuses).
pub(super) fn plain_time_text(b: &[u8]) -> Option<i64> {
    let digit = |i: usize| -> Option<i64> {
        let d = b.get(i)?.wrapping_sub(b'0');
        (d < 10).then_some(i64::from(d))
    };
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two(0)? * 100 + two(2)?;
    let days = days_from_civil(year, two(5)?, two(8)?)?;
    if b.len() == 10 {
        return Some(days * MICROS_PER_DAY);
    }
    if b.len() < 19 || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hours, minutes, seconds) = (two(11)?, two(14)?, two(17)?);
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let mut micros = 0;
    if b.len() > 19 {
        let fraction = b.get(20..).filter(|f| b[19] == b'.' && (1..=6).contains(&f.len()))?;
        for i in 0..6 {
            micros = micros * 10 + if i < fraction.len() { digit(20 + i)? } else { 0 };
        }
    }
    Some(days * MICROS_PER_DAY + ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros)
}

/// A number as SQLite's `'auto'` modifier reads it, to the millisecond.
pub(super) fn number_time(f: f64, integer: Option<i64>) -> std::result::Result<i64, ValueError> {
    let ms = if (0.0..=JULIAN_DAY_MAX).contains(&f) {
        // SQLite: iJD = (sqlite3_int64)(r*86400000.0 + 0.5)
        (f * 86_400_000.0 + 0.5) as i64 - JD_EPOCH_MS
    } else if (UNIX_MIN..=UNIX_MAX).contains(&f) {
        match integer {
            Some(i) => i * 1000,
            // SQLite: iJD = (sqlite3_int64)(r*1000.0 + 210866760000000.0 + 0.5)
            None => (f * 1000.0 + JD_EPOCH_MS as f64 + 0.5) as i64 - JD_EPOCH_MS,
        }
    } else {
        return Err(ValueError::TimeRange);
    };
    Ok(ms * 1000)
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS[.f…]]][Z|±HH:MM]` or `HH:MM[:SS[.f…]][Z|±HH:MM]` (dated 2000-01-01).
pub(super) fn parse_time_text(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| -> Option<i64> {
        let part = b.get(from..from + n)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |v, d| v * 10 + i64::from(d - b'0')))
    };
    let (days, rest) = if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        (days_from_civil(digits(0, 4)?, digits(5, 2)?, digits(8, 2)?)?, &s[10..])
    } else {
        // SQLite dates a bare time 2000-01-01.
        (10_957, s)
    };
    let (time, rest) = if rest.len() == s.len() {
        parse_time_of_day(rest)?
    } else if rest.is_empty() {
        (0, rest)
    } else {
        let after = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?.trim_start();
        parse_time_of_day(after)?
    };
    let rest = rest.trim_start();
    let offset_minutes = match rest.as_bytes() {
        [] => 0,
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => {
            let minutes = i64::from((h1 - b'0') * 10 + (h2 - b'0')) * 60 + i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    Some(days * MICROS_PER_DAY + time - offset_minutes * 60_000_000)
}

/// Days from 1970-01-01 to the proleptic Gregorian date `year-month-day` (year 0 to 9999, as
/// four digits give it); `None` for a day the month does not have.
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_days).contains(&day) {
        return None;
    }
    // Howard Hinnant's `days_from_civil`: years counted from March, so that the leap day ends one.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// `HH:MM[:SS[.f…]]` at the start of `s`: microseconds since midnight and the rest of `s`.
/// Fractions finer than a microsecond must be zeros.
pub(super) fn parse_time_of_day(s: &str) -> Option<(i64, &str)> {
    let b = s.as_bytes();
    let two = |i: usize| -> Option<i64> {
        let (x, y) = (*b.get(i)?, *b.get(i + 1)?);
        (x.is_ascii_digit() && y.is_ascii_digit()).then(|| i64::from((x - b'0') * 10 + (y - b'0')))
    };
    let hours = two(0)?;
    if b.get(2) != Some(&b':') {
        return None;
    }
    let minutes = two(3)?;
    let mut end = 5;
    let mut seconds = 0;
    let mut micros = 0;
    if b.get(5) == Some(&b':') {
        seconds = two(6)?;
        end = 8;
        if b.get(8) == Some(&b'.') {
            let frac: &[u8] = &b[9..];
            let n = frac.iter().take_while(|d| d.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            if frac[6.min(n)..n].iter().any(|&d| d != b'0') {
                return None;
            }
            for i in 0..6 {
                micros = micros * 10 + frac.get(i).filter(|_| i < n).map_or(0, |d| i64::from(d - b'0'));
            }
            end = 9 + n;
        }
    }
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some((((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros, &s[end..]))
}
