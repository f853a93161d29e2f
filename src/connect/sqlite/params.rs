//! Arrow values as SQLite statement parameters ([`value_at`]): decimals as their exact text,
//! dates and times as ISO 8601 text, spans in MySQL's `TIME` notation; a value SQLite would
//! change (an unsigned integer beyond i64, a decimal of more than 15 digits into a column that
//! stores floats) is a [`ParamError`] the sink turns into a refused row.
//!
//! The sink binds a batch through [`BatchParams`], which resolves each column to its Arrow type
//! once per batch and binds values without a [`Value`] each: numbers directly, text and blobs
//! borrowed from the array, decimals, dates and timestamps written into one reused buffer. It
//! writes the same text as [`value_at`] (the tests compare the two), which stays the definition
//! and serves the rarer types. A multi-row `INSERT` is bound and run by [`BatchParams::execute`]
//! through `raw`: SQLite borrows the text and blobs (from the batch's arrays, or from one buffer
//! holding the run's written text) instead of copying each one.

use std::fmt::Write as _;
use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Decimal128Array,
    Decimal256Array, FixedSizeBinaryArray, Float64Array, Int64Array, LargeBinaryArray, LargeStringArray, StringArray,
    StringViewArray, UInt64Array,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, NaiveDate};
use rusqlite::types::{Value, ValueRef};

use super::raw::RawStatement;

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
    /// SQLite binds a NaN as NULL (`sqlite3_bind_double`: "a NaN ... is converted to NULL"), so
    /// writing it would change the value silently.
    #[error("SQLite stores a NaN as NULL; filter it out or cast the column to text")]
    NotANumber,
}

/// A float as SQLite keeps it: NaN is refused ([`ParamError::NotANumber`]); infinities and
/// every other value are stored exactly.
fn real(value: f64) -> std::result::Result<f64, ParamError> {
    if value.is_nan() { Err(ParamError::NotANumber) } else { Ok(value) }
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
        DataType::Float16 => Value::Real(real(array.as_primitive::<Float16Type>().value(row).to_f64())?),
        DataType::Float32 => Value::Real(real(array.as_primitive::<Float32Type>().value(row).into())?),
        DataType::Float64 => Value::Real(real(array.as_primitive::<Float64Type>().value(row))?),
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

/// Why a row could not be bound: one of its values cannot be a parameter (the row is refused),
/// or SQLite refused the bind itself (a value too big for it).
#[derive(Debug)]
pub enum BindError {
    Value { column: usize, error: ParamError },
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for BindError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// One column's value of a row: borrowed from the batch (or a number), written into the text
/// buffer the caller passed, or made by [`value_at`] for the rarer types.
#[derive(Debug)]
enum Out<'a> {
    Value(ValueRef<'a>),
    Written,
    Owned(Value),
}

/// A parameter of a run: a value borrowed from the batch, or text or a blob in the run's buffer
/// (`BatchParams::written`).
enum Param<'a> {
    Value(ValueRef<'a>),
    Text(Range<usize>),
    Blob(Range<usize>),
}

/// One column of a batch, resolved to its Arrow type for binding.
enum Column {
    Boolean(BooleanArray),
    /// Every signed integer type and the unsigned ones up to 32 bits, widened once per batch.
    Integer(Int64Array),
    UInt64(UInt64Array),
    /// Float16, Float32 and Float64, widened once per batch (exactly, as `value_at` does).
    Real(Float64Array),
    Text(StringArray),
    LargeText(LargeStringArray),
    TextView(StringViewArray),
    Blob(BinaryArray),
    LargeBlob(LargeBinaryArray),
    BlobView(BinaryViewArray),
    FixedBlob(FixedSizeBinaryArray),
    /// With the declared type of an existing target column that stores floats (see [`fits_float`]).
    Decimal128(Decimal128Array, Option<String>),
    Decimal256(Decimal256Array, Option<String>),
    Date32(Date32Array),
    /// Timestamps of any unit, as their stored integers; `data_type` names them in errors.
    Timestamp {
        values: Int64Array,
        data_type: DataType,
    },
    /// Any other type, through [`value_at`].
    Other(ArrayRef),
}

/// A batch's columns ready to bind row by row as parameters `1..=n` of an `INSERT`.
pub struct BatchParams {
    columns: Vec<Column>,
    /// The text of the value being bound, reused from value to value.
    text: String,
    /// A decimal's digits before the point is placed.
    digits: String,
    /// The text (and blobs) written for one run's parameters, bound from here while it runs.
    written: Vec<u8>,
}

impl BatchParams {
    /// `floats`: the columns (by index) whose existing target column stores 8-byte floats, with
    /// its declared type.
    pub fn new(batch: &RecordBatch, floats: &[(usize, String)]) -> Self {
        let columns = (batch.columns().iter().enumerate())
            .map(|(i, array)| {
                let declared = floats.iter().find(|(c, _)| *c == i).map(|(_, d)| d.clone());
                Column::of(array, declared)
            })
            .collect();
        Self { columns, text: String::with_capacity(64), digits: String::with_capacity(48), written: Vec::new() }
    }

    /// Binds rows `rows` to `stmt`, one after another (row `rows.start + k`'s column `i` to
    /// parameter `k × width + i + 1`), and runs it once: a multi-row `INSERT`, or a one-row one.
    /// A value that cannot be a parameter fails before anything runs.
    pub fn execute(&mut self, stmt: &mut RawStatement<'_>, rows: Range<usize>) -> std::result::Result<(), BindError> {
        let Self { columns, text, digits, written } = self;
        written.clear();
        let mut params = Vec::with_capacity(rows.len() * columns.len());
        for row in rows {
            for (i, column) in columns.iter().enumerate() {
                let out = column.value(row, text, digits).map_err(|error| BindError::Value { column: i, error })?;
                let mut keep = |bytes: &[u8]| {
                    written.extend_from_slice(bytes);
                    written.len() - bytes.len()..written.len()
                };
                params.push(match out {
                    Out::Value(v) => Param::Value(v),
                    Out::Written => Param::Text(keep(text.as_bytes())),
                    Out::Owned(Value::Text(t)) => Param::Text(keep(t.as_bytes())),
                    Out::Owned(Value::Blob(b)) => Param::Blob(keep(&b)),
                    Out::Owned(Value::Integer(v)) => Param::Value(ValueRef::Integer(v)),
                    Out::Owned(Value::Real(v)) => Param::Value(ValueRef::Real(v)),
                    Out::Owned(Value::Null) => Param::Value(ValueRef::Null),
                });
            }
        }
        let written = &*written;
        stmt.execute(|b| {
            for param in &params {
                match param {
                    Param::Value(v) => b.value(*v)?,
                    Param::Text(at) => b.text(&written[at.clone()])?,
                    Param::Blob(at) => b.blob(&written[at.clone()])?,
                }
            }
            Ok(())
        })
    }
}

impl Column {
    fn of(array: &ArrayRef, floats: Option<String>) -> Self {
        use arrow::datatypes::*;
        let widened = |to: &DataType| arrow::compute::cast(array, to).ok();
        match array.data_type() {
            DataType::Boolean => Self::Boolean(array.as_boolean().clone()),
            DataType::Int64 => Self::Integer(array.as_primitive::<Int64Type>().clone()),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => match widened(&DataType::Int64) {
                Some(wide) => Self::Integer(wide.as_primitive::<Int64Type>().clone()),
                None => Self::Other(array.clone()),
            },
            DataType::UInt64 => Self::UInt64(array.as_primitive::<UInt64Type>().clone()),
            DataType::Float64 => Self::Real(array.as_primitive::<Float64Type>().clone()),
            DataType::Float16 | DataType::Float32 => match widened(&DataType::Float64) {
                Some(wide) => Self::Real(wide.as_primitive::<Float64Type>().clone()),
                None => Self::Other(array.clone()),
            },
            DataType::Utf8 => Self::Text(array.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Self::LargeText(array.as_string::<i64>().clone()),
            DataType::Utf8View => Self::TextView(array.as_string_view().clone()),
            DataType::Binary => Self::Blob(array.as_binary::<i32>().clone()),
            DataType::LargeBinary => Self::LargeBlob(array.as_binary::<i64>().clone()),
            DataType::BinaryView => Self::BlobView(array.as_binary_view().clone()),
            DataType::FixedSizeBinary(_) => Self::FixedBlob(array.as_fixed_size_binary().clone()),
            DataType::Decimal128(..) => Self::Decimal128(array.as_primitive::<Decimal128Type>().clone(), floats),
            DataType::Decimal256(..) => Self::Decimal256(array.as_primitive::<Decimal256Type>().clone(), floats),
            DataType::Date32 => Self::Date32(array.as_primitive::<Date32Type>().clone()),
            DataType::Timestamp(unit, _) => {
                let values = match unit {
                    TimeUnit::Second => array.as_primitive::<TimestampSecondType>().reinterpret_cast::<Int64Type>(),
                    TimeUnit::Millisecond => {
                        array.as_primitive::<TimestampMillisecondType>().reinterpret_cast::<Int64Type>()
                    }
                    TimeUnit::Microsecond => {
                        array.as_primitive::<TimestampMicrosecondType>().reinterpret_cast::<Int64Type>()
                    }
                    TimeUnit::Nanosecond => {
                        array.as_primitive::<TimestampNanosecondType>().reinterpret_cast::<Int64Type>()
                    }
                };
                Self::Timestamp { values, data_type: array.data_type().clone() }
            }
            _ => Self::Other(array.clone()),
        }
    }

    /// The value at `row`; text the value needs written goes into `text` ([`Out::Written`]),
    /// and a decimal's digits into `digits`.
    fn value<'a>(
        &'a self,
        row: usize,
        text: &mut String,
        digits: &mut String,
    ) -> std::result::Result<Out<'a>, ParamError> {
        let borrowed = |v: ValueRef<'a>| Ok(Out::Value(v));
        let null = match self {
            Self::Other(array) => return value_at(array.as_ref(), row).map(Out::Owned),
            Self::Boolean(a) => a.is_null(row),
            Self::Integer(a) => a.is_null(row),
            Self::UInt64(a) => a.is_null(row),
            Self::Real(a) => a.is_null(row),
            Self::Text(a) => a.is_null(row),
            Self::LargeText(a) => a.is_null(row),
            Self::TextView(a) => a.is_null(row),
            Self::Blob(a) => a.is_null(row),
            Self::LargeBlob(a) => a.is_null(row),
            Self::BlobView(a) => a.is_null(row),
            Self::FixedBlob(a) => a.is_null(row),
            Self::Decimal128(a, _) => a.is_null(row),
            Self::Decimal256(a, _) => a.is_null(row),
            Self::Date32(a) => a.is_null(row),
            Self::Timestamp { values, .. } => values.is_null(row),
        };
        if null {
            return borrowed(ValueRef::Null);
        }
        text.clear();
        match self {
            Self::Other(_) => unreachable!("returned above"),
            Self::Boolean(a) => borrowed(ValueRef::Integer(i64::from(a.value(row)))),
            Self::Integer(a) => borrowed(ValueRef::Integer(a.value(row))),
            Self::UInt64(a) => {
                let v = a.value(row);
                i64::try_from(v)
                    .map(|v| Out::Value(ValueRef::Integer(v)))
                    .map_err(|_| ParamError::IntegerRange { value: v })
            }
            Self::Real(a) => borrowed(ValueRef::Real(real(a.value(row))?)),
            Self::Text(a) => borrowed(ValueRef::Text(a.value(row).as_bytes())),
            Self::LargeText(a) => borrowed(ValueRef::Text(a.value(row).as_bytes())),
            Self::TextView(a) => borrowed(ValueRef::Text(a.value(row).as_bytes())),
            Self::Blob(a) => borrowed(ValueRef::Blob(a.value(row))),
            Self::LargeBlob(a) => borrowed(ValueRef::Blob(a.value(row))),
            Self::BlobView(a) => borrowed(ValueRef::Blob(a.value(row))),
            Self::FixedBlob(a) => borrowed(ValueRef::Blob(a.value(row))),
            Self::Decimal128(a, floats) => {
                digits.clear();
                let v = a.value(row);
                // i64's formatting is the cheaper one, and most decimals fit it.
                let _ = match i64::try_from(v) {
                    Ok(small) => write!(digits, "{small}"),
                    Err(_) => write!(digits, "{v}"),
                };
                decimal_text(digits, a.precision(), a.scale(), text);
                decimal_fits(text, floats.as_deref())?;
                Ok(Out::Written)
            }
            Self::Decimal256(a, floats) => {
                digits.clear();
                let _ = write!(digits, "{}", a.value(row));
                decimal_text(digits, a.precision(), a.scale(), text);
                decimal_fits(text, floats.as_deref())?;
                Ok(Out::Written)
            }
            Self::Date32(a) => {
                let bad = || ParamError::TemporalRange { data_type: a.data_type().clone() };
                let date = a.value_as_date(row).ok_or_else(bad)?;
                write_date(date, text);
                Ok(Out::Written)
            }
            Self::Timestamp { values, data_type } => {
                let bad = || ParamError::TemporalRange { data_type: data_type.clone() };
                let DataType::Timestamp(unit, zone) = data_type else { return Err(bad()) };
                let v = values.value(row);
                let micros = match unit {
                    TimeUnit::Second => v.checked_mul(1_000_000),
                    TimeUnit::Millisecond => v.checked_mul(1_000),
                    TimeUnit::Microsecond => Some(v),
                    TimeUnit::Nanosecond => Some(v / 1_000),
                }
                .ok_or_else(bad)?;
                write_timestamp(micros, zone.is_some(), text).ok_or_else(bad)?;
                Ok(Out::Written)
            }
        }
    }
}

fn decimal_fits(text: &str, floats: Option<&str>) -> std::result::Result<(), ParamError> {
    match floats {
        Some(declared) => fits_float(text, declared),
        None => Ok(()),
    }
}

/// A decimal's text from its unscaled `digits` (`-` and the digits), exactly as Arrow's
/// `value_as_string` writes it (`arrow_data::decimal::format_decimal_str`, including its cut of
/// digits beyond the precision).
fn decimal_text(digits: &str, precision: u8, scale: i8, out: &mut String) {
    out.clear();
    let (sign, rest) = match digits.strip_prefix('-') {
        Some(stripped) => ("-", stripped),
        None => ("", digits),
    };
    let value = &digits[..usize::from(precision).min(rest.len()) + sign.len()];
    if scale == 0 {
        out.push_str(value);
    } else if scale < 0 {
        out.push_str(value);
        out.extend(std::iter::repeat_n('0', usize::from(scale.unsigned_abs())));
    } else if rest.len() > scale as usize {
        let (whole, fraction) = value.split_at(value.len() - scale as usize);
        out.push_str(whole);
        out.push('.');
        out.push_str(fraction);
    } else {
        out.push_str(sign);
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale as usize - rest.len()));
        out.push_str(rest);
    }
}

/// `YYYY-MM-DD`, as chrono's `NaiveDate` displays itself (which this falls back to outside years
/// 0 to 9999, where it writes a sign).
fn write_date(date: NaiveDate, out: &mut String) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        let _ = write!(out, "{date}");
        return;
    }
    push_digits(out, year as u32, 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
}

/// A timestamp of `micros` microseconds since 1970 as `value_at` writes it (chrono's
/// `%Y-%m-%d %H:%M:%S%.f`, then `+00:00` when `zoned`); `None` when chrono cannot place it.
fn write_timestamp(micros: i64, zoned: bool, out: &mut String) -> Option<()> {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000) as u32;
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400) as u32;
    // 719,163: the days from 0001-01-01 (chrono's day 1) to 1970-01-01.
    let date = NaiveDate::from_num_days_from_ce_opt(i32::try_from(days.checked_add(719_163)?).ok()?)?;
    if !(0..=9999).contains(&date.year()) {
        let dt = chrono::DateTime::from_timestamp_micros(micros)?;
        let format = if zoned { "%Y-%m-%d %H:%M:%S%.f+00:00" } else { "%Y-%m-%d %H:%M:%S%.f" };
        let _ = write!(out, "{}", dt.naive_utc().format(format));
        return Some(());
    }
    write_date(date, out);
    out.push(' ');
    push_digits(out, of_day / 3600, 2);
    out.push(':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(':');
    push_digits(out, of_day % 60, 2);
    // chrono's `%.f`: nothing for whole seconds, else milliseconds or microseconds, whichever
    // is exact.
    if fraction != 0 {
        out.push('.');
        if fraction.is_multiple_of(1_000) {
            push_digits(out, fraction / 1_000, 3);
        } else {
            push_digits(out, fraction, 6);
        }
    }
    if zoned {
        out.push_str("+00:00");
    }
    Some(())
}

/// `value` as exactly `width` decimal digits, zero-padded (`value` < 10^width).
fn push_digits(out: &mut String, value: u32, width: u32) {
    let mut divisor = 10u32.pow(width - 1);
    while divisor > 0 {
        out.push(char::from(b'0' + (value / divisor % 10) as u8));
        divisor /= 10;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::*;
    use arrow::datatypes::{Field, Schema, i256};

    use super::*;

    /// A repeatable spread of values: small ones, powers of ten and their neighbours, and
    /// pseudo-random ones across the whole range.
    fn spread() -> Vec<i64> {
        let mut values = vec![0, 1, -1, 999, -999, 1_000, 1_000_000, -1_000_001, i64::MAX, i64::MIN, i64::MAX - 1];
        for p in 0..19 {
            let t = 10i64.pow(p);
            values.extend([t, t - 1, t + 1, -t, -t + 1]);
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..3_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push(x as i64);
            // Within a few centuries of 1970 in each unit, where most timestamps are.
            values.push((x % 20_000_000_000_000_000) as i64 - 10_000_000_000_000_000);
            values.push((x % 20_000_000_000_000) as i64 - 10_000_000_000_000);
            values.push((x % 20_000_000_000) as i64 - 10_000_000_000);
        }
        values
    }

    fn as_value(output: Out<'_>, text: &str) -> Value {
        match output {
            Out::Value(v) => Value::from(v),
            Out::Written => Value::Text(text.to_string()),
            Out::Owned(v) => v,
        }
    }

    /// The batch path writes what `value_at`, the definition, writes: value for value, error for
    /// error.
    fn same_as_value_at(array: ArrayRef) {
        let column = Column::of(&array, None);
        let (mut text, mut digits) = (String::new(), String::new());
        for row in 0..array.len() {
            let fast = column.value(row, &mut text, &mut digits).map(|out| as_value(out, &text));
            assert_eq!(fast, value_at(array.as_ref(), row), "{} row {row}", array.data_type());
        }
    }

    #[test]
    fn batch_values_are_the_values_value_at_writes() {
        let v = spread();
        let with_nulls = |a: ArrayRef| {
            arrow::compute::nullif(&a, &BooleanArray::from_iter((0..a.len()).map(|i| Some(i % 7 == 3)))).unwrap()
        };
        for unit in ["s", "ms", "us", "ns"] {
            for zone in [None, Some("+00:00")] {
                let a: ArrayRef = match unit {
                    "s" => Arc::new(TimestampSecondArray::from(v.clone()).with_timezone_opt(zone)),
                    "ms" => Arc::new(TimestampMillisecondArray::from(v.clone()).with_timezone_opt(zone)),
                    "us" => Arc::new(TimestampMicrosecondArray::from(v.clone()).with_timezone_opt(zone)),
                    _ => Arc::new(TimestampNanosecondArray::from(v.clone()).with_timezone_opt(zone)),
                };
                same_as_value_at(with_nulls(a));
            }
        }
        same_as_value_at(Arc::new(Date32Array::from(v.iter().map(|x| *x as i32).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(Date32Array::from(v.iter().map(|x| (*x % 3_000_000) as i32).collect::<Vec<_>>())));
        for (precision, scale) in [(12, 2), (38, 10), (38, 0), (5, -2), (3, 3), (18, 18)] {
            let wide = v.iter().map(|x| i128::from(*x) * i128::from(x.rotate_left(7)));
            let a = Decimal128Array::from(v.iter().map(|x| i128::from(*x)).chain(wide).collect::<Vec<_>>())
                .with_precision_and_scale(precision, scale)
                .unwrap();
            same_as_value_at(with_nulls(Arc::new(a)));
        }
        let a = Decimal256Array::from(v.iter().map(|x| i256::from_i128(i128::from(*x) << 40)).collect::<Vec<_>>())
            .with_precision_and_scale(76, 20)
            .unwrap();
        same_as_value_at(Arc::new(a));
        same_as_value_at(with_nulls(Arc::new(Int64Array::from(v.clone()))));
        same_as_value_at(Arc::new(Int32Array::from(v.iter().map(|x| *x as i32).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(Int8Array::from(v.iter().map(|x| *x as i8).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(UInt32Array::from(v.iter().map(|x| *x as u32).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(UInt64Array::from(v.iter().map(|x| *x as u64).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(Float32Array::from(v.iter().map(|x| *x as f32 / 3.0).collect::<Vec<_>>())));
        same_as_value_at(Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::INFINITY), Some(-0.0)])));
        same_as_value_at(Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])));
        same_as_value_at(Arc::new(StringArray::from(vec![Some("a"), None, Some(""), Some("é")])));
        same_as_value_at(Arc::new(LargeStringArray::from(vec![Some("a"), None, Some("")])));
        same_as_value_at(Arc::new(StringViewArray::from(vec![Some("a long enough string to be out of line"), None])));
        same_as_value_at(Arc::new(BinaryArray::from(vec![Some(&b"ab"[..]), None, Some(&b""[..])])));
        same_as_value_at(Arc::new(Time64MicrosecondArray::from(vec![Some(3_723_000_001), None])));
        same_as_value_at(Arc::new(DurationMicrosecondArray::from(vec![Some(-5_400_000_000), None])));
    }

    /// A decimal into an existing column that stores floats is refused past 15 digits, as before.
    #[test]
    fn a_long_decimal_into_a_float_column_is_refused() {
        let a = Decimal128Array::from(vec![12_345_i128, 1_234_567_890_123_456_789])
            .with_precision_and_scale(38, 2)
            .unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("d", a.data_type().clone(), true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(a)]).unwrap();
        let params = BatchParams::new(&batch, &[(0, "NUMERIC(20,2)".to_string())]);
        let (mut text, mut digits) = (String::new(), String::new());
        let first = params.columns[0].value(0, &mut text, &mut digits).map(|out| as_value(out, &text));
        assert_eq!(first, Ok(Value::Text("123.45".into())));
        let second = params.columns[0].value(1, &mut text, &mut digits).map(|out| as_value(out, &text));
        assert!(matches!(second, Err(ParamError::FloatDigits { significant: 19, .. })), "{second:?}");
    }
}
