//! Arrow values as SQLite statement parameters ([`value_at`]): decimals as their exact text,
//! dates and times as ISO 8601 text, spans in MySQL's `TIME` notation; a value SQLite would
//! change (an unsigned integer beyond i64, a decimal of more than 15 digits into a column that
//! stores floats) is a [`ParamError`] the sink turns into a refused row.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use rusqlite::types::Value;

use crate::connect::span::span_text;

/// Why one value cannot be a SQLite parameter as it is; its text is the reason after
/// `column c = v: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A decimal of more than 15 significant digits for a column that stores 8-byte floats.
    #[error(
        "{text} has {significant} significant digits; the existing column is declared `{declared}`, which SQLite \
         stores as an 8-byte float (15 digits)"
    )]
    FloatDigits { text: String, significant: usize, declared: String },
    #[error("{value} is above 9223372036854775807, the largest integer SQLite stores (integers are signed 64-bit)")]
    IntegerRange { value: u64 },
    /// A span with nanoseconds, or beyond i64 microseconds.
    #[error("the duration does not fit whole microseconds ({data_type})")]
    FractionalMicros { data_type: DataType },
    /// A date, time or timestamp Arrow cannot place on the calendar.
    #[error("value out of range for {data_type}")]
    TemporalRange { data_type: DataType },
    #[error("type {data_type} cannot be written to SQLite")]
    Unsupported { data_type: DataType },
}

/// A decimal's text that an existing SQLite column of numeric affinity will store as a float:
/// exact to the digit only up to 15 significant digits (an IEEE double's guaranteed decimal
/// precision, which SQLite also prints with).
pub fn fits_float(text: &str, declared: &str) -> std::result::Result<(), ParamError> {
    let digits = text.trim_start_matches('-').replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant <= 15 {
        return Ok(());
    }
    Err(ParamError::FloatDigits { text: text.to_string(), significant, declared: declared.to_string() })
}

/// One Arrow value as a SQLite value.
pub fn value_at(array: &dyn Array, row: usize) -> std::result::Result<Value, ParamError> {
    use arrow::datatypes::*;
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Value::Integer(i64::from(array.as_boolean().value(row))),
        DataType::Int8 => Value::Integer(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Integer(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Integer(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Integer(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Integer(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::Integer(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::Integer(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => {
            let v = array.as_primitive::<UInt64Type>().value(row);
            i64::try_from(v).map(Value::Integer).map_err(|_| ParamError::IntegerRange { value: v })?
        }
        DataType::Float16 => Value::Real(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => Value::Real(array.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Value::Real(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, _) => Value::Text(array.as_primitive::<Decimal128Type>().value_as_string(row)),
        DataType::Decimal256(_, _) => Value::Text(array.as_primitive::<Decimal256Type>().value_as_string(row)),
        DataType::Utf8 => Value::Text(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Text(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Value::Text(array.as_string_view().value(row).to_string()),
        DataType::Binary => Value::Blob(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Blob(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Value::Blob(array.as_binary_view().value(row).to_vec()),
        DataType::FixedSizeBinary(_) => Value::Blob(array.as_fixed_size_binary().value(row).to_vec()),
        DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) | DataType::Timestamp(_, _) => {
            Value::Text(temporal_text(array, row)?)
        }
        DataType::Duration(unit) => {
            let micros = match unit {
                TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(row).checked_mul(1_000_000),
                TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().value(row).checked_mul(1_000),
                TimeUnit::Microsecond => Some(array.as_primitive::<DurationMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => {
                    let nanos = array.as_primitive::<DurationNanosecondType>().value(row);
                    (nanos % 1_000 == 0).then_some(nanos / 1_000)
                }
            }
            .ok_or_else(|| ParamError::FractionalMicros { data_type: array.data_type().clone() })?;
            Value::Text(span_text(micros))
        }
        other => return Err(ParamError::Unsupported { data_type: other.clone() }),
    })
}

/// ISO-8601 text for dates, times and timestamps (UTC offset kept for zoned timestamps).
fn temporal_text(array: &dyn Array, row: usize) -> std::result::Result<String, ParamError> {
    use arrow::datatypes::*;
    let bad = || ParamError::TemporalRange { data_type: array.data_type().clone() };
    Ok(match array.data_type() {
        DataType::Date32 => array.as_primitive::<Date32Type>().value_as_date(row).ok_or_else(bad)?.to_string(),
        DataType::Date64 => array.as_primitive::<Date64Type>().value_as_date(row).ok_or_else(bad)?.to_string(),
        DataType::Time32(TimeUnit::Second) => {
            array.as_primitive::<Time32SecondType>().value_as_time(row).ok_or_else(bad)?.to_string()
        }
        DataType::Time32(_) => {
            array.as_primitive::<Time32MillisecondType>().value_as_time(row).ok_or_else(bad)?.to_string()
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            array.as_primitive::<Time64NanosecondType>().value_as_time(row).ok_or_else(bad)?.to_string()
        }
        DataType::Time64(_) => {
            array.as_primitive::<Time64MicrosecondType>().value_as_time(row).ok_or_else(bad)?.to_string()
        }
        DataType::Timestamp(unit, tz) => {
            let v = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row).checked_mul(1_000_000),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row).checked_mul(1_000),
                TimeUnit::Microsecond => Some(array.as_primitive::<TimestampMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => Some(array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000),
            }
            .ok_or_else(bad)?;
            let dt = chrono::DateTime::from_timestamp_micros(v).ok_or_else(bad)?;
            match tz {
                Some(_) => dt.format("%Y-%m-%d %H:%M:%S%.f+00:00").to_string(),
                None => dt.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            }
        }
        _ => return Err(bad()),
    })
}
