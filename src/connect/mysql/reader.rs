//! Reading MySQL/MariaDB query results into Arrow with the `mysql` crate, on connections Flow
//! owns (see [`super::session`]), which is what lets the partitions of one source read one
//! consistent snapshot.
//!
//! * [`query_schema`] derives the Arrow schema from a prepared statement's column metadata
//!   (the type map is in [`super::types`]).
//! * [`stream_query`] runs a query with the binary protocol and converts its rows into Arrow
//!   batches as they arrive from the socket ([`super::convert`]): memory is bounded by one
//!   batch, not by the result.
//!
//! The tests compare every value with what the `mariadb` command-line client prints for the
//! same query: an independent reader (the C client, over the text protocol).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use mysql::prelude::{Protocol, Queryable};
use mysql::{Conn, QueryResult, Value};

use super::convert::ColumnBuilder;
use super::types::{Tinyint1, arrow_field};
use crate::diagnostics::{Failure, codes};

/// A read of the source that failed (`flow::source::read_failed`).
fn read_failed(message: String) -> DataFusionError {
    Failure::new(codes::source::READ_FAILED, message).into_datafusion()
}

/// The Arrow schema the rows of `sql` get, from the prepared statement's column metadata: no row
/// is read. See `super::types` for the mapping.
pub fn query_schema(conn: &mut Conn, sql: &str, tinyint1: Tinyint1) -> Result<SchemaRef> {
    let statement =
        conn.prep(sql).map_err(|e| read_failed(format!("MySQL rejected the query: {}", super::error_text(&e))))?;
    let fields = statement.columns().iter().map(|c| arrow_field(c, tinyint1)).collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Runs `sql` with the binary protocol and hands its rows to `emit` as batches of `batch_size`
/// rows (the last one shorter; an empty result emits nothing), typed by `schema` (normally what
/// [`query_schema`] returned for the same query). Rows are converted as they arrive, so memory is
/// bounded by one batch.
///
/// When `emit` returns false, no further batch is built and the call returns `Ok`. The `mysql`
/// crate then reads the rest of the result off the socket (unconverted) to keep the connection
/// usable; to stop the server's work too, stop the statement from another connection
/// (`connect::mysql::kill_queries_tagged`), which also ends that drain at once. The same drain
/// follows an error.
///
/// A value that does not fit its Arrow type fails the call with the column and the row (1-based,
/// within this result) named.
pub fn stream_query(
    conn: &mut Conn,
    sql: &str,
    schema: &SchemaRef,
    batch_size: usize,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let statement =
        conn.prep(sql).map_err(|e| read_failed(format!("MySQL rejected the query: {}", super::error_text(&e))))?;
    check_width(statement.columns().len(), schema)?;
    let result = conn
        .exec_iter(&statement, ())
        .map_err(|e| read_failed(format!("the query failed on MySQL: {}", super::error_text(&e))))?;
    convert_rows(result, schema, batch_size, emit)
}

/// [`stream_query`] with the text protocol (`query_iter`): every value arrives as text and is
/// parsed here. Kept for measuring the two protocols against each other.
#[cfg(test)]
fn stream_query_text(
    conn: &mut Conn,
    sql: &str,
    schema: &SchemaRef,
    batch_size: usize,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let result = conn
        .query_iter(sql)
        .map_err(|e| read_failed(format!("the query failed on MySQL: {}", super::error_text(&e))))?;
    check_width(result.columns().as_ref().len(), schema)?;
    convert_rows(result, schema, batch_size, emit)
}

fn check_width(columns: usize, schema: &SchemaRef) -> Result<()> {
    if columns == schema.fields().len() {
        return Ok(());
    }
    let message =
        format!("MySQL: the query returns {columns} columns, the planned schema has {}", schema.fields().len());
    Err(Failure::new(codes::source::CHANGED, message).into_datafusion())
}

fn convert_rows<P: Protocol>(
    mut result: QueryResult<'_, '_, '_, P>,
    schema: &SchemaRef,
    batch_size: usize,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let batch_size = batch_size.max(1);
    let mut columns =
        schema.fields().iter().map(|field| ColumnBuilder::new(field, batch_size)).collect::<Result<Vec<_>>>()?;
    let mut rows_in_batch = 0;
    for (row_number, row) in (1_u64..).zip(result.by_ref()) {
        let row = row.map_err(|e| {
            let message = format!("MySQL: reading row {row_number}: {}", super::error_text(&e));
            Failure::new(codes::source::READ_FAILED, message).row(row_number).into_datafusion()
        })?;
        if row.len() != columns.len() {
            let message = format!(
                "MySQL: row {row_number} has {} values, the planned schema {} columns",
                row.len(),
                columns.len()
            );
            return Err(Failure::new(codes::source::CHANGED, message).row(row_number).into_datafusion());
        }
        for (index, column) in columns.iter_mut().enumerate() {
            let value = row.as_ref(index).unwrap_or(&Value::NULL);
            column.append(value).map_err(|reason| {
                let name = schema.field(index).name();
                let message = format!("MySQL: column `{name}`, row {row_number}: {reason}");
                Failure::new(codes::source::DECODE, message).row(row_number).column(name).into_datafusion()
            })?;
        }
        rows_in_batch += 1;
        if rows_in_batch == batch_size {
            rows_in_batch = 0;
            if !emit(finish_batch(schema, &mut columns)?) {
                return Ok(());
            }
        }
    }
    if rows_in_batch > 0 {
        emit(finish_batch(schema, &mut columns)?);
    }
    Ok(())
}

fn finish_batch(schema: &SchemaRef, columns: &mut [ColumnBuilder]) -> Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = columns.iter_mut().map(ColumnBuilder::finish).collect::<Result<_>>()?;
    RecordBatch::try_new(Arc::clone(schema), arrays).map_err(|e| {
        let message = format!("MySQL: the rows do not match the planned schema: {e}");
        Failure::new(codes::source::CHANGED, message).into_datafusion()
    })
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;
