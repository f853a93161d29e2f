//! MySQL/MariaDB values into Arrow arrays: one builder per column ([`ColumnBuilder`]), fed the
//! values of each row as they arrive.
//!
//! Values are accepted as the binary protocol sends them (integers, floats, date/time structs,
//! decimal text) and as text (the text protocol), always checked, never rounded: a value that
//! does not fit its Arrow type is an error (the caller names column and row), and nothing
//! becomes NULL or loses digits silently. Zero dates (`0000-00-00`, also `2024-00-10`) have no
//! Arrow value and are refused the same way.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    DurationMicrosecondBuilder, Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    LargeBinaryBuilder, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder,
    UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, TimeUnit, i256};
use datafusion::error::Result;
use mysql::Value;

use super::types::{TINYINT1_OPTION, bit_length};
use crate::diagnostics::{Failure, codes};

/// The largest number of digits a MySQL (65) or MariaDB decimal can have, with room for a sign.
const MAX_DECIMAL_DIGITS: usize = 80;

/// An Arrow builder for one column, and how a MySQL value goes into it (see the module docs).
pub(super) enum ColumnBuilder {
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal128 {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
    },
    Decimal256 {
        builder: Decimal256Builder,
        precision: u8,
        scale: i8,
    },
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    LargeBinary(LargeBinaryBuilder),
    Date32(Date32Builder),
    Time64(Time64MicrosecondBuilder),
    Timestamp {
        builder: TimestampMicrosecondBuilder,
        zone: Option<Arc<str>>,
    },
    /// `TINYINT(1)` and `BIT(1)`: 0 or 1, nothing else.
    Boolean(BooleanBuilder),
    /// `BIT(n)`: the big-endian bytes the server sends, as an unsigned number.
    Bits(UInt64Builder),
    /// `TIME`: a signed span in microseconds.
    Duration(DurationMicrosecondBuilder),
}

/// Result of converting one value; the error is the reason, without column and row.
pub(super) type Conv<T> = std::result::Result<T, ValueError>;

/// Why one value the server sent does not fit its Arrow column, with the value as shown in the
/// message ([`shown`]: truncated). Its text follows `column `c`, row N: ` in the reader's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A value of another kind than the column's type (or text that does not read as it).
    #[error("the server sent {shown} where {wanted} was expected")]
    Unexpected { shown: String, wanted: &'static str },
    #[error("the text is not valid UTF-8 ({0})")]
    NotUtf8(std::str::Utf8Error),
    /// An integer outside the Arrow type (named as Rust names it, `i8`).
    #[error("{shown} is out of range for {ty}")]
    OutOfRange { shown: String, ty: &'static str },
    #[error("a negative decimal scale ({scale}) is not supported")]
    NegativeScale { scale: i8 },
    /// A decimal with more fractional digits than the column's scale keeps.
    #[error("{shown} has more than {scale} fractional digits")]
    Rounded { shown: String, scale: usize },
    #[error("{shown} does not fit DECIMAL({precision},{scale})")]
    DecimalOverflow { shown: String, precision: u8, scale: usize },
    /// `0000-00-00` or a date with a zero month or day.
    #[error(
        "{shown} is a zero date, which has no Arrow value; turn it into NULL in the query (e.g. NULLIF(col, \
         '0000-00-00'))"
    )]
    ZeroDate { shown: String },
    #[error("{shown} is not a calendar date")]
    NotCalendarDate { shown: String },
    #[error("{shown} has a time of day, which a DATE column cannot keep")]
    TimeInDate { shown: String },
    #[error("{shown} is not a time of day")]
    NotTimeOfDay { shown: String },
    /// A `TINYINT(1)` value other than 0 or 1, in a column read as booleans.
    #[error(
        "{shown} is not a boolean (0 or 1), and a TINYINT(1) column is read as a boolean; read the column as an \
         integer with mysql(\"...\", {TINYINT1_OPTION}: \"integer\"), or convert it in the query"
    )]
    NotBoolean { shown: String },
    /// A `TIME` span outside one day, for a column read as a time of day.
    #[error(
        "TIME {shown} is outside 00:00:00..24:00:00, which Arrow's time of day cannot hold; convert it in the \
         query (e.g. TIME_TO_SEC(col))"
    )]
    TimeOutsideDay { shown: String },
}

impl ColumnBuilder {
    /// A builder for `field`'s type with room for `rows` values; an error for a type this
    /// reader never plans (see `super::types`).
    pub(super) fn new(field: &Field, rows: usize) -> Result<Self> {
        Ok(match field.data_type() {
            DataType::Int8 => Self::Int8(Int8Builder::with_capacity(rows)),
            DataType::Int16 => Self::Int16(Int16Builder::with_capacity(rows)),
            DataType::Int32 => Self::Int32(Int32Builder::with_capacity(rows)),
            DataType::Int64 => Self::Int64(Int64Builder::with_capacity(rows)),
            DataType::UInt8 => Self::UInt8(UInt8Builder::with_capacity(rows)),
            DataType::UInt16 => Self::UInt16(UInt16Builder::with_capacity(rows)),
            DataType::UInt32 => Self::UInt32(UInt32Builder::with_capacity(rows)),
            DataType::UInt64 if bit_length(field).is_some() => Self::Bits(UInt64Builder::with_capacity(rows)),
            DataType::UInt64 => Self::UInt64(UInt64Builder::with_capacity(rows)),
            DataType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(rows)),
            DataType::Duration(TimeUnit::Microsecond) => {
                Self::Duration(DurationMicrosecondBuilder::with_capacity(rows))
            }
            DataType::Float32 => Self::Float32(Float32Builder::with_capacity(rows)),
            DataType::Float64 => Self::Float64(Float64Builder::with_capacity(rows)),
            &DataType::Decimal128(precision, scale) => {
                Self::Decimal128 { builder: Decimal128Builder::with_capacity(rows), precision, scale }
            }
            &DataType::Decimal256(precision, scale) => {
                Self::Decimal256 { builder: Decimal256Builder::with_capacity(rows), precision, scale }
            }
            DataType::Utf8 => Self::Utf8(StringBuilder::with_capacity(rows, rows * 16)),
            DataType::Binary => Self::Binary(BinaryBuilder::with_capacity(rows, rows * 16)),
            DataType::LargeBinary => Self::LargeBinary(LargeBinaryBuilder::with_capacity(rows, rows * 16)),
            DataType::Date32 => Self::Date32(Date32Builder::with_capacity(rows)),
            DataType::Time64(TimeUnit::Microsecond) => Self::Time64(Time64MicrosecondBuilder::with_capacity(rows)),
            DataType::Timestamp(TimeUnit::Microsecond, zone) => {
                Self::Timestamp { builder: TimestampMicrosecondBuilder::with_capacity(rows), zone: zone.clone() }
            }
            other => {
                let message = format!(
                    "MySQL: column `{}` is planned as {other}, which the MySQL reader does not produce",
                    field.name()
                );
                return Err(Failure::new(codes::source::CHANGED, message).column(field.name()).into_datafusion());
            }
        })
    }

    /// Appends one value; the error is the reason, for the caller to prefix with column and row.
    pub(super) fn append(&mut self, value: &Value) -> Conv<()> {
        if matches!(value, Value::NULL) {
            self.append_null();
            return Ok(());
        }
        match self {
            Self::Int8(b) => b.append_value(integer(value)?),
            Self::Int16(b) => b.append_value(integer(value)?),
            Self::Int32(b) => b.append_value(integer(value)?),
            Self::Int64(b) => b.append_value(integer(value)?),
            Self::UInt8(b) => b.append_value(integer(value)?),
            Self::UInt16(b) => b.append_value(integer(value)?),
            Self::UInt32(b) => b.append_value(integer(value)?),
            Self::UInt64(b) => b.append_value(integer(value)?),
            Self::Float32(b) => b.append_value(float32(value)?),
            Self::Float64(b) => b.append_value(float64(value)?),
            Self::Decimal128 { builder, precision, scale } => {
                builder.append_value(decimal(value, *precision, *scale, 0_i128, |v, d| v * 10 + i128::from(d))?);
            }
            Self::Decimal256 { builder, precision, scale } => {
                let ten = i256::from_i128(10);
                builder.append_value(decimal(value, *precision, *scale, i256::ZERO, |v, d| {
                    v.wrapping_mul(ten).wrapping_add(i256::from_i128(i128::from(d)))
                })?);
            }
            Self::Utf8(b) => b.append_value(text(value)?),
            Self::Binary(b) => b.append_value(bytes(value)?),
            Self::LargeBinary(b) => b.append_value(bytes(value)?),
            Self::Date32(b) => b.append_value(date32(value)?),
            Self::Time64(b) => b.append_value(time64(value)?),
            Self::Timestamp { builder, .. } => builder.append_value(timestamp(value)?),
            Self::Boolean(b) => b.append_value(boolean(value)?),
            Self::Bits(b) => b.append_value(bits(value)?),
            Self::Duration(b) => b.append_value(duration(value)?),
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Self::Int8(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::UInt8(b) => b.append_null(),
            Self::UInt16(b) => b.append_null(),
            Self::UInt32(b) => b.append_null(),
            Self::UInt64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal128 { builder, .. } => builder.append_null(),
            Self::Decimal256 { builder, .. } => builder.append_null(),
            Self::Utf8(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::LargeBinary(b) => b.append_null(),
            Self::Date32(b) => b.append_null(),
            Self::Time64(b) => b.append_null(),
            Self::Timestamp { builder, .. } => builder.append_null(),
            Self::Boolean(b) => b.append_null(),
            Self::Bits(b) => b.append_null(),
            Self::Duration(b) => b.append_null(),
        }
    }

    /// The values appended since the last call, as one array; the builder starts empty again.
    pub(super) fn finish(&mut self) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            Self::Int8(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::UInt8(b) => Arc::new(b.finish()),
            Self::UInt16(b) => Arc::new(b.finish()),
            Self::UInt32(b) => Arc::new(b.finish()),
            Self::UInt64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal128 { builder, precision, scale } => {
                Arc::new(builder.finish().with_precision_and_scale(*precision, *scale)?)
            }
            Self::Decimal256 { builder, precision, scale } => {
                Arc::new(builder.finish().with_precision_and_scale(*precision, *scale)?)
            }
            Self::Utf8(b) => Arc::new(b.finish()),
            Self::Binary(b) => Arc::new(b.finish()),
            Self::LargeBinary(b) => Arc::new(b.finish()),
            Self::Date32(b) => Arc::new(b.finish()),
            Self::Time64(b) => Arc::new(b.finish()),
            Self::Timestamp { builder, zone } => Arc::new(builder.finish().with_timezone_opt(zone.clone())),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Bits(b) => Arc::new(b.finish()),
            Self::Duration(b) => Arc::new(b.finish()),
        };
        Ok(array)
    }
}

/// Shows a value in an error message, truncated.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::Bytes(bytes) => format!("'{}'", String::from_utf8_lossy(bytes)),
        other => other.as_sql(false),
    };
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn unexpected(value: &Value, wanted: &'static str) -> ValueError {
    ValueError::Unexpected { shown: shown(value), wanted }
}

fn utf8(bytes: &[u8]) -> Conv<&str> {
    std::str::from_utf8(bytes).map_err(ValueError::NotUtf8)
}

fn integer<T: TryFrom<i64> + TryFrom<u64> + TryFrom<i128>>(value: &Value) -> Conv<T> {
    let converted = match value {
        Value::Int(v) => T::try_from(*v).ok(),
        Value::UInt(v) => T::try_from(*v).ok(),
        Value::Bytes(b) => {
            let parsed: i128 = utf8(b)?.parse().map_err(|_| unexpected(value, "an integer"))?;
            T::try_from(parsed).ok()
        }
        _ => return Err(unexpected(value, "an integer")),
    };
    converted.ok_or_else(|| ValueError::OutOfRange { shown: shown(value), ty: std::any::type_name::<T>() })
}

fn float32(value: &Value) -> Conv<f32> {
    match value {
        Value::Float(v) => Ok(*v),
        // Narrowing only when nothing is lost (NaN compares unequal, but is kept as NaN).
        Value::Double(v) if f64::from(*v as f32) == *v || v.is_nan() => Ok(*v as f32),
        Value::Bytes(b) => utf8(b)?.parse().map_err(|_| unexpected(value, "a FLOAT")),
        _ => Err(unexpected(value, "a FLOAT")),
    }
}

fn float64(value: &Value) -> Conv<f64> {
    match value {
        Value::Double(v) => Ok(*v),
        Value::Float(v) => Ok(f64::from(*v)),
        Value::Bytes(b) => utf8(b)?.parse().map_err(|_| unexpected(value, "a DOUBLE")),
        _ => Err(unexpected(value, "a DOUBLE")),
    }
}

/// The unscaled integer of an exact decimal (the server's text, e.g. `-12.50`) at `scale`,
/// accumulated digit by digit with `push`. Fails on anything that would lose a digit or not fit
/// `precision`.
fn decimal<T: std::ops::Neg<Output = T>>(
    value: &Value,
    precision: u8,
    scale: i8,
    zero: T,
    push: impl Fn(T, u8) -> T,
) -> Conv<T> {
    let text: std::borrow::Cow<'_, [u8]> = match value {
        Value::Bytes(b) => b.as_slice().into(),
        Value::Int(v) => v.to_string().into_bytes().into(),
        Value::UInt(v) => v.to_string().into_bytes().into(),
        _ => return Err(unexpected(value, "an exact DECIMAL")),
    };
    let invalid = || unexpected(value, "an exact DECIMAL");
    let (negative, unsigned) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, &text[..]),
    };
    let (whole, fraction) = match unsigned.iter().position(|&c| c == b'.') {
        Some(dot) => (&unsigned[..dot], &unsigned[dot + 1..]),
        None => (unsigned, &unsigned[..0]),
    };
    if whole.is_empty() && fraction.is_empty() || !whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let scale = usize::try_from(scale).map_err(|_| ValueError::NegativeScale { scale })?;
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale));
    if dropped.iter().any(|&c| c != b'0') {
        return Err(ValueError::Rounded { shown: shown(value), scale });
    }
    let whole = &whole[whole.iter().position(|&c| c != b'0').unwrap_or(whole.len())..];
    if whole.len() + scale > usize::from(precision) || whole.len() + scale > MAX_DECIMAL_DIGITS {
        return Err(ValueError::DecimalOverflow { shown: shown(value), precision, scale });
    }
    let padding = std::iter::repeat_n(&b'0', scale - kept.len());
    let unscaled = whole.iter().chain(kept).chain(padding).fold(zero, |v, &c| push(v, c - b'0'));
    Ok(if negative { -unscaled } else { unscaled })
}

fn text(value: &Value) -> Conv<&str> {
    match value {
        Value::Bytes(b) => utf8(b),
        _ => Err(unexpected(value, "text")),
    }
}

fn bytes(value: &Value) -> Conv<&[u8]> {
    match value {
        Value::Bytes(b) => Ok(b),
        _ => Err(unexpected(value, "bytes")),
    }
}

/// A `DATE`/`DATETIME`/`TIMESTAMP` as the binary protocol sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
}

pub(super) const MICROS_PER_SECOND: i64 = 1_000_000;
pub(super) const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

fn date_time(value: &Value) -> Conv<DateTime> {
    let parsed = match value {
        &Value::Date(year, month, day, hour, minute, second, micros) => {
            DateTime { year, month, day, hour, minute, second, micros }
        }
        Value::Bytes(b) => parse_date_time(b).ok_or_else(|| unexpected(value, "a date"))?,
        _ => return Err(unexpected(value, "a date")),
    };
    if parsed.month == 0 || parsed.day == 0 {
        return Err(ValueError::ZeroDate { shown: shown(value) });
    }
    Ok(parsed)
}

/// Days since 1970-01-01 of a validated calendar date.
fn epoch_days(value: &Value, dt: &DateTime) -> Conv<i32> {
    let date = chrono::NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))
        .ok_or_else(|| ValueError::NotCalendarDate { shown: shown(value) })?;
    // 719_163 is the day number of 1970-01-01 counted from 0001-01-01 (day 1).
    Ok(chrono::Datelike::num_days_from_ce(&date) - 719_163)
}

fn date32(value: &Value) -> Conv<i32> {
    let dt = date_time(value)?;
    if (dt.hour, dt.minute, dt.second, dt.micros) != (0, 0, 0, 0) {
        return Err(ValueError::TimeInDate { shown: shown(value) });
    }
    epoch_days(value, &dt)
}

fn timestamp(value: &Value) -> Conv<i64> {
    let dt = date_time(value)?;
    if dt.hour > 23 || dt.minute > 59 || dt.second > 59 || i64::from(dt.micros) >= MICROS_PER_SECOND {
        return Err(ValueError::NotTimeOfDay { shown: shown(value) });
    }
    let time = (i64::from(dt.hour) * 3600 + i64::from(dt.minute) * 60 + i64::from(dt.second)) * MICROS_PER_SECOND
        + i64::from(dt.micros);
    Ok(i64::from(epoch_days(value, &dt)?) * MICROS_PER_DAY + time)
}

/// A `TINYINT(1)` or `BIT(1)` value: 0 or 1 as an integer (binary protocol), as text (`0`/`1`,
/// text protocol) or as one byte (`BIT`). Any other value is refused, never taken as "true".
fn boolean(value: &Value) -> Conv<bool> {
    match value {
        Value::Int(0) | Value::UInt(0) => return Ok(false),
        Value::Int(1) | Value::UInt(1) => return Ok(true),
        Value::Bytes(b) => match b.as_slice() {
            [0] | b"0" => return Ok(false),
            [1] | b"1" => return Ok(true),
            _ => {}
        },
        _ => {}
    }
    let shown = match value {
        Value::Bytes(b) if std::str::from_utf8(b).is_ok_and(|t| t.parse::<i64>().is_ok()) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => shown(other),
    };
    Err(ValueError::NotBoolean { shown })
}

/// A `BIT(n)` value: up to 8 big-endian bytes (both protocols send the raw bits).
fn bits(value: &Value) -> Conv<u64> {
    match value {
        Value::Bytes(b) if b.len() <= 8 => Ok(b.iter().fold(0_u64, |v, &byte| (v << 8) | u64::from(byte))),
        Value::Int(_) | Value::UInt(_) => integer(value),
        _ => Err(unexpected(value, "a BIT value")),
    }
}

/// A `TIME` value as a signed number of microseconds: MySQL's `TIME` is a span from
/// `-838:59:59.000000` to `838:59:59.000000`, of which a time of day is only a part.
fn duration(value: &Value) -> Conv<i64> {
    let (negative, days, hour, minute, second, micros) = match value {
        &Value::Time(negative, days, hour, minute, second, micros) => {
            (negative, days, u32::from(hour), minute, second, micros)
        }
        Value::Bytes(b) => parse_time(b).ok_or_else(|| unexpected(value, "a time"))?,
        _ => return Err(unexpected(value, "a time")),
    };
    if minute > 59 || second > 59 || micros >= 1_000_000 {
        return Err(unexpected(value, "a time"));
    }
    let hours = i64::from(days) * 24 + i64::from(hour);
    let magnitude = (hours * 3600 + i64::from(minute) * 60 + i64::from(second)) * MICROS_PER_SECOND + i64::from(micros);
    Ok(if negative { -magnitude } else { magnitude })
}

fn time64(value: &Value) -> Conv<i64> {
    let (negative, days, hour, minute, second, micros) = match value {
        &Value::Time(negative, days, hour, minute, second, micros) => {
            (negative, days, u32::from(hour), minute, second, micros)
        }
        Value::Bytes(b) => parse_time(b).ok_or_else(|| unexpected(value, "a time"))?,
        _ => return Err(unexpected(value, "a time")),
    };
    let hours = i64::from(days) * 24 + i64::from(hour);
    let micros_total =
        (hours * 3600 + i64::from(minute) * 60 + i64::from(second)) * MICROS_PER_SECOND + i64::from(micros);
    if negative && micros_total != 0 || micros_total >= MICROS_PER_DAY || minute > 59 || second > 59 {
        return Err(ValueError::TimeOutsideDay { shown: shown(value) });
    }
    Ok(micros_total)
}

/// `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`, as the text protocol sends dates and timestamps.
fn parse_date_time(text: &[u8]) -> Option<DateTime> {
    let date = text.get(..10)?;
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let mut dt = DateTime {
        year: u16::try_from(digits(&date[..4])?).ok()?,
        month: u8::try_from(digits(&date[5..7])?).ok()?,
        day: u8::try_from(digits(&date[8..10])?).ok()?,
        hour: 0,
        minute: 0,
        second: 0,
        micros: 0,
    };
    match text.get(10) {
        None => Some(dt),
        Some(b' ' | b'T') => {
            let (negative, days, hour, minute, second, micros) = parse_time(&text[11..])?;
            if negative || days > 0 {
                return None;
            }
            dt.hour = u8::try_from(hour).ok()?;
            (dt.minute, dt.second, dt.micros) = (minute, second, micros);
            Some(dt)
        }
        Some(_) => None,
    }
}

/// `[-]H+:MM:SS[.f+]`, as the text protocol sends times (hours up to 838).
fn parse_time(text: &[u8]) -> Option<(bool, u32, u32, u8, u8, u32)> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (clock, fraction) = match text.iter().position(|&c| c == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &text[..0]),
    };
    let mut parts = clock.split(|&c| c == b':');
    let hours = u32::try_from(digits(parts.next()?)?).ok()?;
    let minute = u8::try_from(digits(parts.next()?)?).ok()?;
    let second = u8::try_from(digits(parts.next()?)?).ok()?;
    if parts.next().is_some() || fraction.len() > 6 {
        return None;
    }
    let micros = if fraction.is_empty() {
        0
    } else {
        u32::try_from(digits(fraction)? * 10_u64.pow(6 - fraction.len() as u32)).ok()?
    };
    Some((negative, hours / 24, hours % 24, minute, second, micros))
}

fn digits(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 18 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |v, &c| v * 10 + u64::from(c - b'0')))
}

#[cfg(test)]
mod tests;
