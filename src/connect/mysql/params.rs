//! Arrow values as MySQL statement parameters ([`value_at`]), checked before they reach the
//! server: a value MySQL cannot hold (NaN, a year past 9999, a span beyond `TIME`'s range) is a
//! [`ParamError`] the sink turns into a refused row, never a value MySQL would clamp or round.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use chrono::{Datelike, Timelike};
use mysql::Value;

use crate::connect::decimal_text::DecimalMisfit;
use crate::connect::span::span_text;

/// Why one value cannot be a MySQL parameter; its text is the reason after `column c = v: `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    #[error("{value} cannot be stored in MySQL (no NaN or infinity)")]
    NotFinite { value: f64 },
    /// A date Arrow itself cannot place on the calendar.
    #[error("date out of range")]
    DateRange,
    /// A year outside `0..=65535`, which no MySQL `DATE` or `DATETIME` (`ty`) takes.
    #[error("year {year} is outside MySQL's {ty} range")]
    YearRange { year: i32, ty: &'static str },
    #[error("{nanos} ns has a fraction of a microsecond, which MySQL TIME cannot keep")]
    SubMicrosecond { nanos: i64 },
    /// A span beyond ±838:59:59.
    #[error("{} is outside MySQL TIME's range -838:59:59 to 838:59:59", span_shown(*.micros))]
    TimeRange { micros: i128 },
    /// A timestamp whose microseconds leave i64, or the calendar.
    #[error("timestamp out of range")]
    TimestampRange,
    /// An Arrow type the sink has no MySQL parameter for.
    #[error("type {data_type} cannot be written to MySQL")]
    Unsupported { data_type: DataType },
    /// Exact decimal text a `DECIMAL(65,30)` would not keep.
    #[error(transparent)]
    Decimal(#[from] DecimalMisfit),
}

/// A span as `TIME` text, or in microseconds when it is beyond even i64.
fn span_shown(micros: i128) -> String {
    i64::try_from(micros).map_or_else(|_| format!("{micros} µs"), span_text)
}

/// The largest span a MySQL `TIME` holds, in microseconds: `838:59:59` (the fraction cannot
/// go beyond it: `838:59:59.000001` is out of range).
const MYSQL_TIME_MAX_MICROS: i128 = 3_020_399 * 1_000_000;

/// A signed span in microseconds as a MySQL `TIME` parameter; beyond ±838:59:59 is refused
/// (MySQL would clamp it).
fn mysql_time(micros: i128) -> std::result::Result<Value, ParamError> {
    let magnitude = micros.abs();
    let seconds = magnitude / 1_000_000;
    if magnitude > MYSQL_TIME_MAX_MICROS {
        return Err(ParamError::TimeRange { micros });
    }
    let hours = seconds / 3600;
    Ok(Value::Time(
        micros < 0,
        (hours / 24) as u32,
        (hours % 24) as u8,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        (magnitude % 1_000_000) as u32,
    ))
}

/// Bytes one parameter takes in a `COM_STMT_EXECUTE` packet: its type, then its value in the
/// binary protocol (a length-encoded string for text and bytes; dates and times at their
/// longest form).
pub fn value_packet_bytes(value: &Value) -> usize {
    match value {
        Value::NULL => 2,
        Value::Bytes(b) => bytes_packet_bytes(b.len()),
        Value::Int(_) | Value::UInt(_) | Value::Double(_) => 2 + 8,
        Value::Float(_) => 2 + 4,
        Value::Date(..) => 2 + 12,
        Value::Time(..) => 2 + 13,
    }
}

/// [`value_packet_bytes`] of `len` bytes of text or binary: type, length prefix, bytes.
pub fn bytes_packet_bytes(len: usize) -> usize {
    let prefix = match len {
        0..251 => 1,
        251..65_536 => 3,
        65_536..16_777_216 => 4,
        _ => 9,
    };
    2 + prefix + len
}

/// One Arrow value as a MySQL parameter. NaN and infinities have no MySQL representation.
pub fn value_at(array: &dyn Array, row: usize) -> std::result::Result<Value, ParamError> {
    use arrow::datatypes::*;
    if array.is_null(row) {
        return Ok(Value::NULL);
    }
    let float = |v: f64| {
        if v.is_finite() { Ok(Value::Double(v)) } else { Err(ParamError::NotFinite { value: v }) }
    };
    Ok(match array.data_type() {
        DataType::Boolean => Value::Int(i64::from(array.as_boolean().value(row))),
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::UInt(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::UInt(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::UInt(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => Value::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).to_f64())?,
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(row).into())?,
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row))?,
        DataType::Decimal128(_, _) => {
            Value::Bytes(array.as_primitive::<Decimal128Type>().value_as_string(row).into_bytes())
        }
        DataType::Decimal256(_, _) => {
            Value::Bytes(array.as_primitive::<Decimal256Type>().value_as_string(row).into_bytes())
        }
        DataType::Utf8 => Value::Bytes(array.as_string::<i32>().value(row).as_bytes().to_vec()),
        DataType::LargeUtf8 => Value::Bytes(array.as_string::<i64>().value(row).as_bytes().to_vec()),
        DataType::Utf8View => Value::Bytes(array.as_string_view().value(row).as_bytes().to_vec()),
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Value::Bytes(array.as_binary_view().value(row).to_vec()),
        DataType::FixedSizeBinary(_) => Value::Bytes(array.as_fixed_size_binary().value(row).to_vec()),
        DataType::Date32 | DataType::Date64 => {
            let d = match array.data_type() {
                DataType::Date32 => array.as_primitive::<Date32Type>().value_as_date(row),
                _ => array.as_primitive::<Date64Type>().value_as_date(row),
            }
            .ok_or(ParamError::DateRange)?;
            let year = u16::try_from(d.year()).map_err(|_| ParamError::YearRange { year: d.year(), ty: "DATE" })?;
            Value::Date(year, d.month() as u8, d.day() as u8, 0, 0, 0, 0)
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros: i64 = match array.data_type() {
                DataType::Time32(TimeUnit::Second) => {
                    i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000
                }
                DataType::Time32(_) => i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000,
                DataType::Time64(TimeUnit::Nanosecond) => {
                    array.as_primitive::<Time64NanosecondType>().value(row) / 1_000
                }
                _ => array.as_primitive::<Time64MicrosecondType>().value(row),
            };
            let (secs, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
            Value::Time(false, 0, (secs / 3600) as u8, ((secs / 60) % 60) as u8, (secs % 60) as u8, us as u32)
        }
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => i128::from(array.as_primitive::<DurationSecondType>().value(row)) * 1_000_000,
                TimeUnit::Millisecond => i128::from(array.as_primitive::<DurationMillisecondType>().value(row)) * 1_000,
                TimeUnit::Microsecond => i128::from(array.as_primitive::<DurationMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => {
                    let nanos = array.as_primitive::<DurationNanosecondType>().value(row);
                    if nanos % 1_000 != 0 {
                        return Err(ParamError::SubMicrosecond { nanos });
                    }
                    i128::from(nanos / 1_000)
                }
            };
            mysql_time(v)?
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row).checked_mul(1_000_000),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row).checked_mul(1_000),
                TimeUnit::Microsecond => Some(array.as_primitive::<TimestampMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => Some(array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000),
            }
            .ok_or(ParamError::TimestampRange)?;
            let t = chrono::DateTime::from_timestamp_micros(micros).ok_or(ParamError::TimestampRange)?.naive_utc();
            let year = u16::try_from(t.year()).map_err(|_| ParamError::YearRange { year: t.year(), ty: "DATETIME" })?;
            Value::Date(
                year,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond() / 1_000,
            )
        }
        other => return Err(ParamError::Unsupported { data_type: other.clone() }),
    })
}
