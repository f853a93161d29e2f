//! Partition bounds from a `SELECT MIN(col), MAX(col)` result, whatever Arrow types the driver
//! returned them as.

use arrow::array::{Array, AsArray};
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;
use chrono::{NaiveDate, NaiveDateTime};
use datafusion::error::{DataFusionError, Result};

use crate::diagnostics::{Failure, codes};
use crate::plan::PartitionBounds;
use crate::plan::partition::BoundValue;

/// Bounds that cannot be read as written: the source's partition column does not work
/// (`flow::source::invalid`).
fn invalid(message: String) -> DataFusionError {
    Failure::new(codes::source::INVALID, message).into_datafusion()
}

pub fn is_partitionable(dt: &DataType) -> bool {
    dt.is_integer() || matches!(dt, DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _))
        // SQLite keeps dates as text; they partition as dates.
        || matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Decimal128(_, 0))
}

/// Reads `(lo, hi)` from the first row; `None` when the column holds only NULLs (or no rows).
pub fn from_batches(batches: &[RecordBatch], column_type: &DataType) -> Result<Option<PartitionBounds>> {
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    if batch.num_columns() < 2 {
        return Err(invalid("bounds query returned fewer than two columns".into()));
    }
    let lo = value(batch.column(0).as_ref(), column_type)?;
    let hi = value(batch.column(1).as_ref(), column_type)?;
    Ok(match (lo, hi) {
        (Some(min), Some(max)) => Some(PartitionBounds { min, max }),
        _ => None,
    })
}

fn value(array: &dyn Array, column_type: &DataType) -> Result<Option<BoundValue>> {
    if array.is_null(0) {
        return Ok(None);
    }
    let int = |v: i128| {
        i64::try_from(v)
            .map(BoundValue::Int)
            .map_err(|_| invalid(format!("partition bound {v} does not fit in 64 bits")))
    };
    let v = match array.data_type() {
        DataType::Int8 => int(array.as_primitive::<Int8Type>().value(0).into())?,
        DataType::Int16 => int(array.as_primitive::<Int16Type>().value(0).into())?,
        DataType::Int32 => int(array.as_primitive::<Int32Type>().value(0).into())?,
        DataType::Int64 => int(array.as_primitive::<Int64Type>().value(0).into())?,
        DataType::UInt8 => int(array.as_primitive::<UInt8Type>().value(0).into())?,
        DataType::UInt16 => int(array.as_primitive::<UInt16Type>().value(0).into())?,
        DataType::UInt32 => int(array.as_primitive::<UInt32Type>().value(0).into())?,
        DataType::UInt64 => int(array.as_primitive::<UInt64Type>().value(0).into())?,
        DataType::Decimal128(_, 0) => int(array.as_primitive::<Decimal128Type>().value(0))?,
        DataType::Date32 => date(array.as_primitive::<Date32Type>().value_as_date(0))?,
        DataType::Date64 if matches!(column_type, DataType::Timestamp(_, _)) => {
            timestamp(array.as_primitive::<Date64Type>().value_as_datetime(0))?
        }
        DataType::Date64 => date(array.as_primitive::<Date64Type>().value_as_date(0))?,
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(0).saturating_mul(1_000_000),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(0).saturating_mul(1_000)
                }
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(0),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(0) / 1_000,
            };
            timestamp(chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc()))?
        }
        DataType::Utf8 | DataType::LargeUtf8 => {
            let text = if matches!(array.data_type(), DataType::Utf8) {
                array.as_string::<i32>().value(0).to_string()
            } else {
                array.as_string::<i64>().value(0).to_string()
            };
            parse_text(&text)?
        }
        other => {
            return Err(invalid(format!("cannot partition by a column of type {other}")));
        }
    };
    Ok(Some(v))
}

fn date(d: Option<NaiveDate>) -> Result<BoundValue> {
    d.map(BoundValue::Date).ok_or_else(|| invalid("partition bound is not a valid date".into()))
}

fn timestamp(t: Option<NaiveDateTime>) -> Result<BoundValue> {
    t.map(BoundValue::Timestamp).ok_or_else(|| invalid("partition bound is not a valid timestamp".into()))
}

fn parse_text(text: &str) -> Result<BoundValue> {
    let t = text.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Ok(BoundValue::Int(v));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(BoundValue::Date(d));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(ts) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(BoundValue::Timestamp(ts));
        }
    }
    Err(invalid(format!("partition bound `{text}` is not an integer, a date or a timestamp")))
}
