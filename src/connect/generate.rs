//! The built-in synthetic source: a deterministic `orders` table, so demos, tests and benchmarks
//! need no data. Row `i` depends only on `(seed, i)`, so any partition can be generated alone and
//! the union of partitions is the same whatever the split.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use futures::stream::{self, StreamExt};

use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

use super::connection_options::{ConnectionOption, OptionValue};

/// The named arguments of `generate(...)`: how many rows, the seed they are made from, and an
/// optional pace.
pub static CONNECTION_OPTIONS: &[ConnectionOption] = &[
    ConnectionOption { name: "rows", meaning: None, value: OptionValue::Unsigned, default: Some("100000") },
    ConnectionOption { name: "seed", meaning: None, value: OptionValue::Unsigned, default: Some("42") },
    ConnectionOption { name: "rate", meaning: Some("rows per second"), value: OptionValue::Count, default: None },
];

pub const STATUSES: [&str; 5] = ["pending", "paid", "shipped", "delivered", "cancelled"];

/// 2024-01-01T00:00:00Z in microseconds.
const BASE_MICROS: i64 = 1_704_067_200_000_000;
/// 2024-01-01 in days since the epoch.
const BASE_DAYS: i32 = 19_723;

pub fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("customer_id", DataType::Int32, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("total", DataType::Decimal128(12, 2), false),
        Field::new("created_at", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("paid", DataType::Boolean, false),
        Field::new("note", DataType::Utf8, true),
        Field::new("weight", DataType::Float64, false),
        Field::new("ship_date", DataType::Date32, true),
    ]))
}

/// splitmix64: a tiny, good-quality hash from (seed, row, column) to 64 random bits.
fn mix(seed: u64, row: u64, column: u64) -> u64 {
    let mut z = seed
        .wrapping_add(row.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(column.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const WORDS: [&str; 16] = [
    "fragile", "gift", "wrap", "leave", "at", "door", "call", "before", "delivery", "express", "weekend", "office",
    "back", "entrance", "thanks", "please",
];

/// Rows `[start, end)` of the synthetic table (ids are `start+1 ..= end`), in batches.
pub fn generate_batch(seed: u64, start: u64, end: u64) -> Result<RecordBatch> {
    let n = usize::try_from(end.saturating_sub(start)).map_err(|e| DataFusionError::External(Box::new(e)))?;
    let mut id = Int64Builder::with_capacity(n);
    let mut customer = Int32Builder::with_capacity(n);
    let mut status = StringBuilder::with_capacity(n, n * 8);
    let mut total = Decimal128Builder::with_capacity(n).with_precision_and_scale(12, 2)?;
    let mut created = TimestampMicrosecondBuilder::with_capacity(n);
    let mut paid = BooleanBuilder::with_capacity(n);
    let mut note = StringBuilder::with_capacity(n, n * 30);
    let mut weight = Float64Builder::with_capacity(n);
    let mut ship = Date32Builder::with_capacity(n);
    let mut text = String::with_capacity(64);
    for row in start..end {
        let r = |c: u64| mix(seed, row, c);
        id.append_value(row as i64 + 1);
        customer.append_value((r(1) % 100_000) as i32 + 1);
        let s = (r(2) % STATUSES.len() as u64) as usize;
        status.append_value(STATUSES[s]);
        total.append_value((r(3) % 10_000_000) as i128);
        let created_at = BASE_MICROS + (r(4) % (365 * 86_400)) as i64 * 1_000_000;
        created.append_value(created_at);
        paid.append_value(s != 0 && s != 4);
        if r(5) % 10 < 3 {
            note.append_null();
        } else {
            text.clear();
            let target = 20 + (r(6) % 41) as usize;
            let mut k = 7;
            while text.len() < target {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(WORDS[(r(k) % WORDS.len() as u64) as usize]);
                k += 1;
            }
            text.truncate(target);
            note.append_value(&text);
        }
        weight.append_value((r(30) % 100_000) as f64 / 1000.0);
        if (2..=3).contains(&s) {
            ship.append_value(BASE_DAYS + (r(31) % 400) as i32);
        } else {
            ship.append_null();
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(customer.finish()),
        Arc::new(status.finish()),
        Arc::new(total.finish()),
        Arc::new(created.finish()),
        Arc::new(paid.finish()),
        Arc::new(note.finish()),
        Arc::new(weight.finish()),
        Arc::new(ship.finish()),
    ];
    Ok(RecordBatch::try_new(orders_schema(), columns)?)
}

/// Splits `rows` into `parts` contiguous row ranges.
pub fn row_ranges(rows: u64, parts: usize) -> Vec<(u64, u64)> {
    let parts = (parts.max(1) as u64).min(rows.max(1));
    let step = rows.div_ceil(parts);
    (0..parts).map(|i| (i * step, ((i + 1) * step).min(rows))).filter(|(a, b)| a < b || rows == 0).collect()
}

/// Streams rows `[start, end)` in batches of `batch_size`, optionally throttled to `rate` rows/s
/// (demos of progress and timeouts). Generation runs on the blocking pool: it is CPU work.
pub fn stream_rows(seed: u64, start: u64, end: u64, batch_size: usize, rate: Option<u64>) -> SendableRecordBatchStream {
    let batch = batch_size.max(1) as u64;
    let chunks = (start..end).step_by(batch as usize).map(move |s| (s, (s + batch).min(end)));
    let stream = stream::iter(chunks).then(move |(s, e)| async move {
        if let Some(rate) = rate.filter(|r| *r > 0) {
            tokio::time::sleep(Duration::from_secs_f64((e - s) as f64 / rate as f64)).await;
        }
        tokio::task::spawn_blocking(move || generate_batch(seed, s, e)).await.map_err(|e| {
            let message = format!("generator task failed: {e}");
            crate::diagnostics::Failure::new(crate::diagnostics::codes::run::INTERNAL, message).into_datafusion()
        })?
    });
    Box::pin(RecordBatchStreamAdapter::new(orders_schema(), stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_depend_only_on_seed_and_index() {
        let whole = generate_batch(7, 0, 100).unwrap();
        let tail = generate_batch(7, 40, 100).unwrap();
        assert_eq!(whole.slice(40, 60), tail);
        assert_ne!(generate_batch(8, 0, 100).unwrap(), whole);
    }

    #[test]
    fn row_ranges_cover_everything_once() {
        assert_eq!(row_ranges(10, 3), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(row_ranges(2, 8), vec![(0, 1), (1, 2)]);
    }
}
