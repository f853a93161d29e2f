//! Automatic batch sizes: a source without `batch N` (in the file or its connection profile)
//! reads batches of about [`TARGET_BATCH_BYTES`], so narrow rows travel in large batches (less
//! per-batch overhead) and wide rows in small ones (bounded memory: every stage holds a few
//! batches per partition).
//!
//! The row width is estimated from the Arrow schema, unless the database's own statistics
//! (`pg_stats.avg_width`, MySQL's `AVG_ROW_LENGTH`) say rows are several times wider: they know
//! how long the text really is.

use arrow::datatypes::{DataType, SchemaRef};

use crate::plan::{Relation, SourcePlan};

/// About this many bytes of Arrow data per batch.
pub const TARGET_BATCH_BYTES: usize = 4 << 20;
pub const MIN_BATCH_ROWS: usize = 1024;
pub const MAX_BATCH_ROWS: usize = 65_536;

/// Bytes a variable-length value is assumed to take when nothing better is known.
const VARIABLE_WIDTH_GUESS: usize = 32;

/// The batch size for rows of `row_bytes`, a multiple of 1,024 rows.
pub fn rows_for_width(row_bytes: usize) -> usize {
    let rows = TARGET_BATCH_BYTES / row_bytes.max(1);
    rows.clamp(MIN_BATCH_ROWS, MAX_BATCH_ROWS) / 1024 * 1024
}

/// Bytes per row in Arrow, from the types alone.
pub fn schema_row_width(schema: &SchemaRef) -> usize {
    schema.fields().iter().map(|f| type_width(f.data_type())).sum::<usize>().max(1)
}

fn type_width(dt: &DataType) -> usize {
    match dt {
        DataType::Boolean | DataType::Null => 1,
        DataType::Utf8 | DataType::Binary => VARIABLE_WIDTH_GUESS + 4,
        DataType::LargeUtf8 | DataType::LargeBinary | DataType::Utf8View | DataType::BinaryView => {
            VARIABLE_WIDTH_GUESS + 8
        }
        DataType::List(f) | DataType::LargeList(f) => 4 + 4 * type_width(f.data_type()),
        DataType::Struct(fields) => fields.iter().map(|f| type_width(f.data_type())).sum(),
        other => other.primitive_width().unwrap_or(16),
    }
}

/// The database's average row width for a table source, when it keeps one.
async fn statistics_row_width(source: &SourcePlan) -> Option<usize> {
    let Relation::Table { name } = &source.relation else { return None };
    let db = super::registry::backend(source.endpoint.backend).source?;
    let sql = db.row_width_sql(name, source.only)?;
    usize::try_from(super::first_number(source, db, &sql).await?).ok()
}

/// The batch size and the row width it was derived from, for a source whose batch size is not
/// set. Statistics are estimates that drift (sampling, page fill), so they are believed only
/// when they say rows are several times wider than the types suggest: long text, the case
/// that would otherwise blow the memory bound. `known`: the table's statistics as a table
/// set's catalog read found them, asked of no server again.
pub async fn automatic(
    source: &SourcePlan,
    schema: &SchemaRef,
    known: Option<&super::catalog::TableRead>,
) -> (usize, usize) {
    let from_schema = schema_row_width(schema);
    let statistics = match known {
        Some(known) => known.read_as(source.only).width.and_then(|w| usize::try_from(w).ok()),
        None => statistics_row_width(source).await,
    };
    let width = match statistics {
        Some(stats) if stats >= STATISTICS_TRUSTED_FACTOR * from_schema => stats,
        _ => from_schema,
    };
    (rows_for_width(width), width)
}

/// How many times wider than the schema estimate the statistics must say rows are to be used.
const STATISTICS_TRUSTED_FACTOR: usize = 4;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn narrow_rows_get_large_batches_and_wide_rows_small_ones() {
        let narrow = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        assert_eq!(schema_row_width(&narrow), 8);
        assert_eq!(rows_for_width(schema_row_width(&narrow)), MAX_BATCH_ROWS);
        let orders = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("total", DataType::Decimal128(12, 2), false),
            Field::new("paid", DataType::Boolean, false),
        ]));
        assert_eq!(schema_row_width(&orders), 8 + 36 + 16 + 1);
        assert_eq!(rows_for_width(61), 65_536);
        assert_eq!(rows_for_width(200), 20_480);
        assert_eq!(rows_for_width(100_000), MIN_BATCH_ROWS);
    }
}
