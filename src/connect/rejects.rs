//! Rows a target refuses — a value that does not convert to the column's type, a text too long,
//! a NaN where the database has none, a constraint — and what the sink does with them, as its
//! `on error` option says: fail the run naming the row and column (the default), skip the row,
//! or write it to a reject table in the same transaction as the partition's rows. Skipped and
//! rejected rows are counted; `max rejects N` fails the run once more than N were refused.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::Result;
use std::sync::Arc;

use crate::diagnostics::{Failure, Remedy, codes};
use crate::ledger::LedgerKey;
use crate::plan::sql::Dialect;
use crate::plan::{OnError, TableName};

/// Longest value text kept in a reject row or an error message.
const VALUE_CHARS: usize = 200;
/// Longest whole-row text kept in a reject row.
const ROW_CHARS: usize = 2000;

/// One refused row.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub partition: usize,
    /// 1-based row number within the partition.
    pub row: u64,
    pub column: Option<String>,
    /// The refused value (truncated), or empty when the column is unknown.
    pub value: String,
    /// Why: the database's message or the conversion's.
    pub message: String,
    /// The whole row as `col=value, ...` (truncated).
    pub row_text: String,
    /// The row's index in the batch it came in.
    pub batch_row: usize,
}

impl BadRow {
    /// A refused row of `batch`; `row` is its index in the batch, `first_row` the partition's
    /// row number of the batch's first row.
    pub fn new(
        batch: &RecordBatch,
        row: usize,
        partition: usize,
        first_row: u64,
        column: Option<&str>,
        message: &str,
    ) -> Self {
        let value =
            column.and_then(|c| batch.column_by_name(c)).map(|a| value_text(a.as_ref(), row)).unwrap_or_default();
        Self {
            partition,
            row: first_row + row as u64 + 1,
            column: column.map(str::to_string),
            value,
            message: message.to_string(),
            row_text: row_text(batch, row),
            batch_row: row,
        }
    }

    /// `row 17, column amount = 'abc': message`, for a message that names the partition.
    pub fn describe_in_partition(&self) -> String {
        match &self.column {
            Some(c) => format!("row {}, column {c} = {}: {}", self.row, self.value, self.message),
            None => format!("row {} ({}): {}", self.row, self.row_text, self.message),
        }
    }

    /// `failure` at this row (and its column, when known).
    fn located(&self, failure: Failure) -> Failure {
        let failure = failure.row(self.row);
        match &self.column {
            Some(column) => failure.column(column),
            None => failure,
        }
    }

    /// `partition 2, row 17, column amount = 'abc': message`.
    pub fn describe(&self) -> String {
        match &self.column {
            Some(c) => {
                format!("partition {}, row {}, column {c} = {}: {}", self.partition, self.row, self.value, self.message)
            }
            None => format!("partition {}, row {} ({}): {}", self.partition, self.row, self.row_text, self.message),
        }
    }
}

/// A value as text for people: quoted strings, NULL, at most [`VALUE_CHARS`] characters.
pub fn value_text(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        return "NULL".to_string();
    }
    let options = FormatOptions::default().with_null("NULL");
    let text = ArrayFormatter::try_new(array, &options).map(|f| f.value(row).to_string()).unwrap_or_default();
    let quoted = matches!(array.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let text = truncate(&text, VALUE_CHARS);
    if quoted { format!("'{text}'") } else { text }
}

fn row_text(batch: &RecordBatch, row: usize) -> String {
    let schema = batch.schema();
    let parts: Vec<String> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| format!("{}={}", f.name(), value_text(a.as_ref(), row)))
        .collect();
    truncate(&parts.join(", "), ROW_CHARS)
}

fn truncate(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The sink's `on error` and `max rejects`, and the count of rows refused so far in this run.
#[derive(Debug)]
pub struct RejectPolicy {
    pub on_error: OnError,
    pub max: Option<u64>,
    sink: String,
    refused: AtomicU64,
    /// The last refused row, for the message when `max rejects` is exceeded.
    last: Mutex<Option<String>>,
}

impl RejectPolicy {
    pub fn new(sink: &str, on_error: OnError, max: Option<u64>) -> Self {
        Self { on_error, max, sink: sink.to_string(), refused: AtomicU64::new(0), last: Mutex::new(None) }
    }

    pub fn fails(&self) -> bool {
        self.on_error == OnError::Fail
    }

    /// The reject table, when rows go to one.
    pub fn table(&self) -> Option<&TableName> {
        match &self.on_error {
            OnError::Reject { table } => Some(table),
            _ => None,
        }
    }

    /// Rows skipped or rejected so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Accounts for refused rows: an error fails the run (always with `on error fail`, else once
    /// more than `max rejects` rows were refused). The caller then writes them to the reject
    /// table (if any) in the partition's transaction.
    pub fn admit(&self, rows: &[BadRow]) -> Result<()> {
        let Some(last) = rows.last() else { return Ok(()) };
        if self.fails() {
            // The runner prefixes the sink and partition (`sink `s` partition 0: `).
            let first = &rows[0];
            // The runner adds how to load the other rows, in the words of the command run.
            let message = format!("cannot write {}", first.describe_in_partition());
            let failure = Failure::new(codes::sink::VALUE_REFUSED, message).remedy(Remedy::OnError);
            return Err(first.located(failure).into_datafusion());
        }
        if let Ok(mut slot) = self.last.lock() {
            *slot = Some(last.describe());
        }
        let total = self.refused.fetch_add(rows.len() as u64, Ordering::Relaxed) + rows.len() as u64;
        match self.max {
            Some(max) if total > max => {
                let message = format!(
                    "sink `{}`: {total} rows refused, more than `max rejects {max}`; the last: {}",
                    self.sink,
                    last.describe()
                );
                Err(last.located(Failure::new(codes::sink::TOO_MANY_REJECTS, message)).into_datafusion())
            }
            _ => Ok(()),
        }
    }
}

impl RejectPolicy {
    /// Settles a batch's refused rows: admits them (which may fail the run), and returns the
    /// rows that were written and, when rows go to a reject table, the `INSERT` the caller runs
    /// in the partition's transaction.
    pub fn settle(
        &self,
        batch: &RecordBatch,
        bad: &[BadRow],
        dialect: Dialect,
        key: &LedgerKey,
    ) -> Result<(RecordBatch, Option<String>)> {
        self.admit(bad)?;
        let insert = match self.table() {
            Some(table) if !bad.is_empty() => Some(insert_sql(dialect, table, key, bad)),
            _ => None,
        };
        Ok((without_rows(batch, bad)?, insert))
    }
}

/// The reject table's columns, as an Arrow schema (each backend maps it to its types).
pub fn reject_schema() -> SchemaRef {
    let text = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("run_id", false),
        text("pipeline", false),
        text("sink", false),
        int("part"),
        int("row_no"),
        text("column_name", true),
        text("value", true),
        text("message", false),
        text("row_data", false),
        text("recorded_at", false),
    ]))
}

/// One `INSERT` of refused rows; every value is a quoted literal.
pub fn insert_sql(dialect: Dialect, table: &TableName, key: &LedgerKey, rows: &[BadRow]) -> String {
    let s = |v: &str| dialect.string(v);
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    let values: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                s(&key.run_id),
                s(&key.pipeline),
                s(&key.sink),
                r.partition,
                r.row,
                r.column.as_deref().map_or("NULL".to_string(), s),
                s(&r.value),
                s(&r.message),
                s(&r.row_text),
                s(&now)
            )
        })
        .collect();
    // Quoted like every identifier Flow writes.
    let columns: Vec<String> = reject_schema().fields().iter().map(|f| dialect.ident(f.name())).collect();
    format!("INSERT INTO {} ({}) VALUES {}", dialect.table(table), columns.join(", "), values.join(", "))
}

/// The rows of `batch` that are not among `bad`.
pub fn without_rows(batch: &RecordBatch, bad: &[BadRow]) -> Result<RecordBatch> {
    if bad.is_empty() {
        return Ok(batch.clone());
    }
    let mut keep = vec![true; batch.num_rows()];
    for b in bad {
        if let Some(k) = keep.get_mut(b.batch_row) {
            *k = false;
        }
    }
    Ok(arrow::compute::filter_record_batch(batch, &arrow::array::BooleanArray::from(keep))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, StringArray};

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec![Some("a'b"), None, Some("c")])) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn bad_rows_name_partition_row_column_and_value() {
        let bad = BadRow::new(&batch(), 0, 2, 100, Some("name"), "value too long");
        assert_eq!(bad.describe(), "partition 2, row 101, column name = 'a'b': value too long");
        assert_eq!(bad.row_text, "id=1, name='a'b'");
        let sql = insert_sql(
            Dialect::Postgres,
            &TableName::parse("rej"),
            &LedgerKey { run_id: "r".into(), pipeline: "p".into(), sink: "s".into() },
            &[bad],
        );
        assert!(sql.contains("'name', '''a''b''', 'value too long', 'id=1, name=''a''b'''"), "{sql}");
    }

    #[test]
    fn the_policy_fails_skips_and_caps() {
        let bad = vec![BadRow::new(&batch(), 1, 0, 0, Some("name"), "NULL not allowed")];
        let fail = RejectPolicy::new("s", OnError::Fail, None);
        let e = fail.admit(&bad).unwrap_err();
        let failure = Failure::find(&e).expect("a typed failure");
        assert_eq!(
            (failure.code, failure.row, failure.column.as_deref()),
            (codes::sink::VALUE_REFUSED, Some(2), Some("name"))
        );
        let e = e.to_string();
        assert!(e.contains("cannot write row 2, column name = NULL: NULL not allowed"), "{e}");
        let skip = RejectPolicy::new("s", OnError::Skip, Some(1));
        skip.admit(&bad).unwrap();
        let e = skip.admit(&bad).unwrap_err();
        assert_eq!(Failure::find(&e).map(|f| f.code), Some(codes::sink::TOO_MANY_REJECTS));
        let e = e.to_string();
        assert!(e.contains("2 rows refused, more than `max rejects 1`"), "{e}");
        assert_eq!(skip.refused(), 2);
        let two = [BadRow::new(&batch(), 0, 0, 0, None, "x"), BadRow::new(&batch(), 2, 0, 0, None, "y")];
        assert_eq!(without_rows(&batch(), &two).unwrap().num_rows(), 1);
    }
}
