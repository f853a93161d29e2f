//! Reading SQLite files written by any program, value by value, with rusqlite.
//!
//! SQLite types values, not columns (<https://sqlite.org/datatype3.html>): a column has a
//! declared type and, from it, an *affinity*, but each value carries its own storage class
//! (INTEGER, REAL, TEXT, BLOB or NULL). Python's `sqlite3` binds a `float` into a
//! `NUMERIC(12,2)` column as REAL and a whole number as INTEGER; a `TIMESTAMP` column holds
//! whatever text or number the program wrote. So this reader decides each column's Arrow type
//! from its declared type once, and then converts every value by its own storage class into
//! that type — exactly, or not at all: a value that does not convert exactly is an error that
//! names the column, the row (its `rowid` when the source is a table) and the value.
//!
//! | declared type (first match)                   | Arrow type            | values accepted                                          |
//! |-----------------------------------------------|-----------------------|----------------------------------------------------------|
//! | `BOOLEAN`, `BOOL`                             | Boolean               | integers 0/1 (and reals 0.0/1.0), text `true`/`false`    |
//! | `DATE`                                        | Date32                | a time value (below) at midnight                         |
//! | `TIME`                                        | Time64(µs)            | text `HH:MM[:SS[.fff…]]`                                 |
//! | `DATETIME`, `TIMESTAMP`                       | Timestamp(µs)         | a time value (below)                                     |
//! | `TIMESTAMPTZ`                                 | Timestamp(µs, UTC)    | a time value (below)                                     |
//! | `DECIMAL(p,s)`, `NUMERIC(p,s)`, p ≤ 38        | Decimal128(p,s)       | integers; reals whose shortest decimal form has at most `s` fractional digits (1234.5 → 1234.50; 1.005 at scale 2 is refused); decimal text |
//! | `DECIMAL`, `NUMERIC` without precision        | Decimal128(38,10)     | as above                                                 |
//! | `DECIMAL(p,s)` with p > 38                    | Utf8                  | the exact digits (integers, reals in shortest form, text) |
//! | `JSON`, `UUID`                                | Utf8                  | text                                                     |
//! | name containing `INT` (INTEGER affinity)      | Int64                 | integers; reals without a fraction                       |
//! | containing `CHAR`, `CLOB`, `TEXT` (TEXT)      | Utf8                  | text; numbers as their exact decimal text                |
//! | containing `BLOB` (BLOB)                      | Binary                | blobs, text as its UTF-8 bytes                           |
//! | containing `REAL`, `FLOA`, `DOUB` (REAL)      | Float64               | reals; integers that a double holds exactly              |
//! | no declared type, or another name             | from the first 1,000 rows' values: Int64 if all are integers, Float64 if integers and reals, Utf8 if any is text, Binary if blobs | as above |
//!
//! **Time values** are the forms SQLite's own date functions accept
//! (<https://sqlite.org/lang_datefunc.html>): `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.fff…]]` (or
//! `T` between date and time), `HH:MM[:SS[.fff…]]` (which SQLite dates 2000-01-01), each
//! optionally followed by `Z` or `±HH:MM` (converted to UTC, as SQLite does); fractions finer
//! than a microsecond are refused unless they are zeros. A number (INTEGER, REAL, or numeric
//! text) is read as SQLite's `'auto'` modifier reads it: from 0 to 5373484.499999 it is a Julian
//! day number, otherwise (between -210866760000 and 253402300799) Unix time in seconds, both to
//! the millisecond as SQLite computes them. `now` is refused: it names the moment of reading,
//! not a stored time. Times without an offset are kept as written (SQLite takes them as UTC).
//!
//! A TEXT value in an INTEGER, REAL or NUMERIC column is one SQLite could not convert (it
//! converts well-formed numbers on insert), so it is refused: `column `qty` (declared INTEGER),
//! rowid 3: text value 'abc' is not an integer`.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};

mod values;

use values::Builder;
pub use values::ValueError;
pub(crate) use values::parse_decimal;

use super::raw::RawStatement;
use crate::connect::blocking::blocking_stream;
use crate::diagnostics::{Failure, codes};

/// Field metadata: the column's declared SQLite type, as written in the table definition.
pub const SOURCE_TYPE_KEY: &str = "flow.source_type";
/// Field metadata: how the reader interprets the column's values, shown by `flow explain`.
pub const READ_NOTE_KEY: &str = "flow.read_note";

/// Rows looked at to type a column without a usable declared type.
const SAMPLE_ROWS: usize = 1000;
/// UTC, as DataFusion labels it.
const UTC: &str = "+00:00";

/// How one result column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Text,
    Blob,
    Boolean,
    Decimal { precision: u8, scale: i8 },
    Date,
    Time,
    Timestamp { utc: bool },
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Integer => DataType::Int64,
            Kind::Real => DataType::Float64,
            Kind::Text => DataType::Utf8,
            Kind::Blob => DataType::Binary,
            Kind::Boolean => DataType::Boolean,
            Kind::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
            Kind::Date => DataType::Date32,
            Kind::Time => DataType::Time64(TimeUnit::Microsecond),
            Kind::Timestamp { utc: false } => DataType::Timestamp(TimeUnit::Microsecond, None),
            Kind::Timestamp { utc: true } => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        }
    }

    /// What `flow explain` says about reading this column, when it is more than a plain copy.
    fn note(self) -> Option<&'static str> {
        match self {
            Kind::Timestamp { .. } | Kind::Date => Some(
                "SQLite time values: text in SQLite's date/time forms (offsets converted to UTC); numbers as \
                 SQLite's 'auto' modifier reads them (0 to 5373484.5: Julian day, otherwise Unix seconds), to the \
                 millisecond",
            ),
            Kind::Decimal { .. } => Some(
                "REAL values are taken by their shortest decimal form; one with more fractional digits than the \
                 scale is refused",
            ),
            _ => None,
        }
    }
}

/// The Arrow type a declared SQLite type reads as; `None` when the values decide (no declared
/// type, or a name SQLite gives NUMERIC affinity without saying what it holds).
fn declared_kind(declared: &str) -> Option<Kind> {
    let upper = declared.trim().to_ascii_uppercase();
    let (base, args) = match upper.find('(') {
        Some(open) => (upper[..open].trim(), upper[open + 1..].trim_end_matches(')').to_string()),
        None => (upper.as_str(), String::new()),
    };
    let args: Vec<u32> = args.split(',').filter_map(|a| a.trim().parse().ok()).collect();
    Some(match base {
        "" => return None,
        "BOOLEAN" | "BOOL" => Kind::Boolean,
        "DATE" => Kind::Date,
        "TIME" => Kind::Time,
        "DATETIME" | "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => Kind::Timestamp { utc: false },
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => Kind::Timestamp { utc: true },
        "DECIMAL" | "NUMERIC" => match (args.first(), args.get(1)) {
            (Some(&p), s) if (1..=38).contains(&p) && s.is_none_or(|&s| s <= p) => {
                Kind::Decimal { precision: p as u8, scale: s.copied().unwrap_or(0) as i8 }
            }
            (Some(_), _) => Kind::Text,
            (None, _) => Kind::Decimal { precision: 38, scale: 10 },
        },
        "JSON" | "JSONB" | "UUID" => Kind::Text,
        _ if base.contains("INT") => Kind::Integer,
        _ if base.contains("CHAR") || base.contains("CLOB") || base.contains("TEXT") => Kind::Text,
        _ if base.contains("BLOB") => Kind::Blob,
        _ if base.contains("REAL") || base.contains("FLOA") || base.contains("DOUB") => Kind::Real,
        _ => return None,
    })
}

/// The kind the sampled values of an untyped column call for.
#[derive(Default)]
struct Sample {
    integer: bool,
    real: bool,
    text: bool,
    blob: bool,
}

impl Sample {
    fn add(&mut self, value: ValueRef<'_>) {
        match value {
            ValueRef::Null => {}
            ValueRef::Integer(_) => self.integer = true,
            ValueRef::Real(_) => self.real = true,
            ValueRef::Text(_) => self.text = true,
            ValueRef::Blob(_) => self.blob = true,
        }
    }

    fn kind(&self) -> Kind {
        if self.text {
            Kind::Text
        } else if self.blob {
            Kind::Blob
        } else if self.real {
            Kind::Real
        } else if self.integer {
            Kind::Integer
        } else {
            Kind::Text
        }
    }
}

/// One result column: its name, declared type and how it is read.
#[derive(Debug, Clone)]
struct ColumnPlan {
    name: String,
    declared: Option<String>,
    kind: Kind,
}

/// The file a `sqlite://path`, `sqlite:path` or plain path names. A missing file is an error:
/// opening it would create an empty database.
pub fn database_path(url: &str) -> Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
    let abs = std::path::absolute(path)
        .map_err(|e| Failure::new(codes::connection::BAD_URL, format!("bad path {path}: {e}")).into_datafusion())?;
    if !abs.is_file() {
        return Err(
            Failure::new(codes::source::MISSING, format!("SQLite database {path} does not exist")).into_datafusion()
        );
    }
    Ok(abs)
}

fn open(url: &str) -> Result<(Connection, String)> {
    let path = database_path(url)?;
    let shown = path.display().to_string();
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| {
        Failure::new(codes::source::READ_FAILED, format!("cannot open SQLite file {shown}: {e}")).into_datafusion()
    })?;
    Ok((conn, shown))
}

fn sql_error(shown: &str, e: rusqlite::Error) -> DataFusionError {
    Failure::new(codes::source::READ_FAILED, format!("SQLite {shown}: {e}")).into_datafusion()
}

/// The columns of a prepared query as their declared types plan them, and the indices of those
/// whose values decide (planned as text until [`Sample`]s say otherwise).
fn declared_plans(stmt: &rusqlite::Statement<'_>) -> (Vec<ColumnPlan>, Vec<usize>) {
    let mut undecided = Vec::new();
    let plans = (stmt.columns().iter().enumerate())
        .map(|(i, c)| {
            let declared = c.decl_type().map(str::to_string);
            let kind = declared.as_deref().and_then(declared_kind);
            if kind.is_none() {
                undecided.push(i);
            }
            ColumnPlan { name: c.name().to_string(), declared, kind: kind.unwrap_or(Kind::Text) }
        })
        .collect();
    (plans, undecided)
}

/// Types the `undecided` columns of `plans` from the values of the first [`SAMPLE_ROWS`] rows.
fn decide<'a>(plans: &mut [ColumnPlan], undecided: &[usize], rows: impl Iterator<Item = Vec<ValueRef<'a>>>) {
    let mut samples: Vec<Sample> = undecided.iter().map(|_| Sample::default()).collect();
    for row in rows.take(SAMPLE_ROWS) {
        for (sample, &i) in samples.iter_mut().zip(undecided) {
            sample.add(row[i]);
        }
    }
    for (sample, &i) in samples.iter().zip(undecided) {
        plans[i].kind = sample.kind();
    }
}

/// Plans the columns of `sql`: declared types first; the first rows' values for the rest.
fn plan_columns(conn: &Connection, shown: &str, sql: &str) -> Result<Vec<ColumnPlan>> {
    let mut stmt = conn.prepare(sql).map_err(|e| sql_error(shown, e))?;
    let (mut plans, undecided) = declared_plans(&stmt);
    if !undecided.is_empty() {
        let mut sampled: Vec<Vec<Value>> = Vec::new();
        let mut rows = stmt.query([]).map_err(|e| sql_error(shown, e))?;
        while sampled.len() < SAMPLE_ROWS
            && let Some(row) = rows.next().map_err(|e| sql_error(shown, e))?
        {
            let values = (0..plans.len()).map(|i| row.get_ref(i).map(owned));
            sampled.push(values.collect::<rusqlite::Result<_>>().map_err(|e| sql_error(shown, e))?);
        }
        decide(&mut plans, &undecided, sampled.iter().map(|row| row.iter().map(ValueRef::from).collect()));
    }
    Ok(plans)
}

/// A sampled value, owned. Text that is not UTF-8 is kept as text with its bad bytes replaced
/// (rusqlite's `Value::from` panics on it): it only decides the column's type, and the read
/// refuses the value itself by column, row and value.
fn owned(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Text(bytes) => Value::Text(String::from_utf8_lossy(bytes).into_owned()),
        other => Value::from(other),
    }
}

fn schema_of(plans: &[ColumnPlan]) -> SchemaRef {
    let fields: Vec<Field> = plans
        .iter()
        .map(|p| {
            let mut metadata = std::collections::HashMap::new();
            if let Some(declared) = &p.declared {
                metadata.insert(SOURCE_TYPE_KEY.to_string(), declared.clone());
            }
            if let Some(note) = p.kind.note() {
                metadata.insert(READ_NOTE_KEY.to_string(), note.to_string());
            }
            // SQLite does not say whether a result column may be NULL: every column may.
            Field::new(&p.name, p.kind.data_type(), true).with_metadata(metadata)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The Arrow schema reading `sql` from the SQLite file at `url` produces (blocking). See the
/// module docs for the type of each declared type.
pub fn query_schema(url: &str, sql: &str) -> Result<SchemaRef> {
    let (conn, shown) = open(url)?;
    Ok(schema_of(&plan_columns(&conn, &shown, sql)?))
}

/// The whole result of a small query (bounds, counts), typed as [`query_schema`] types it
/// (blocking). An empty result gives one empty batch that carries the schema.
///
/// The query runs once: its rows are kept, and the columns without a declared type (`MIN(x)`,
/// `count(*)`) are typed from them. (Running it once to type the columns and again to read them
/// would scan a table twice for a bounds query.)
pub fn fetch_all(url: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    const BATCH_ROWS: usize = 65_536;
    let (conn, shown) = open(url)?;
    let mut stmt = conn.prepare(sql).map_err(|e| sql_error(&shown, e))?;
    let (mut plans, undecided) = declared_plans(&stmt);
    let width = plans.len().max(1);
    let mut values: Vec<Value> = Vec::new();
    let mut rows = stmt.query([]).map_err(|e| sql_error(&shown, e))?;
    while let Some(row) = rows.next().map_err(|e| sql_error(&shown, e))? {
        for i in 0..plans.len() {
            values.push(Value::from(row.get_ref(i).map_err(|e| sql_error(&shown, e))?));
        }
    }
    decide(&mut plans, &undecided, values.chunks(width).map(|row| row.iter().map(ValueRef::from).collect()));
    let schema = schema_of(&plans);
    let mut batches = Vec::new();
    for (n, chunk) in values.chunks(width * BATCH_ROWS).enumerate() {
        let mut builders: Vec<Builder> = plans.iter().map(|p| Builder::new(p.kind, BATCH_ROWS)).collect();
        for (r, row) in chunk.chunks(width).enumerate() {
            for ((builder, plan), value) in builders.iter_mut().zip(&plans).zip(row) {
                let value = ValueRef::from(value);
                if let Err(why) = builder.append(value) {
                    let number = (n * BATCH_ROWS + r + 1) as u64;
                    let at = format!("row {number} of the query");
                    return Err(refused(&shown, plan, &at, value, why, number));
                }
            }
        }
        batches.push(finish(&schema, &mut builders, chunk.len() / width)?);
    }
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// Streams the results of `queries` (consecutive chunks of one partition) as batches of at most
/// `batch_size` rows of `schema` (what [`query_schema`] gave for the source). With
/// `with_rowid`, each query is run with the table's `rowid` in front so that a refused value
/// names its row; a relation without one (a view, a `WITHOUT ROWID` table) is read without.
pub fn stream_queries(
    url: String,
    queries: Vec<String>,
    schema: SchemaRef,
    batch_size: usize,
    with_rowid: bool,
) -> SendableRecordBatchStream {
    let out = schema.clone();
    blocking_stream(out, move |tx| {
        let (conn, shown) = open(&url)?;
        let plans: Vec<ColumnPlan> = schema
            .fields()
            .iter()
            .map(|f| ColumnPlan {
                name: f.name().clone(),
                declared: f.metadata().get(SOURCE_TYPE_KEY).cloned(),
                kind: kind_of(f.data_type()),
            })
            .collect();
        let mut read = 0;
        for sql in &queries {
            let batch_size = batch_size.max(1);
            let open = read_query(&conn, &shown, sql, &plans, &schema, with_rowid, batch_size, &mut read, &mut |b| {
                tx.send(b)
            })?;
            if !open {
                break;
            }
        }
        Ok(())
    })
}

/// The reading kind for an expected Arrow type (the schema [`query_schema`] produced, or a
/// projection of it).
fn kind_of(dt: &DataType) -> Kind {
    match dt {
        DataType::Int64 => Kind::Integer,
        DataType::Float64 => Kind::Real,
        DataType::Binary => Kind::Blob,
        DataType::Boolean => Kind::Boolean,
        DataType::Decimal128(precision, scale) => Kind::Decimal { precision: *precision, scale: *scale },
        DataType::Date32 => Kind::Date,
        DataType::Time64(_) => Kind::Time,
        DataType::Timestamp(_, tz) => Kind::Timestamp { utc: tz.is_some() },
        _ => Kind::Text,
    }
}

/// `SELECT rowid, …` for a `SELECT …` the dialect wrote.
fn with_rowid_sql(sql: &str) -> Option<String> {
    sql.strip_prefix("SELECT ").map(|rest| format!("SELECT rowid, {rest}"))
}

/// Runs one query and hands its rows to `emit` in batches; returns false when `emit` said the
/// consumer is gone. `read` counts the partition's rows read so far, over its consecutive
/// queries: a value that does not convert is a [`Failure`] at row `read + 1` of the partition.
#[allow(clippy::too_many_arguments)]
fn read_query(
    conn: &Connection,
    shown: &str,
    sql: &str,
    plans: &[ColumnPlan],
    schema: &SchemaRef,
    with_rowid: bool,
    batch_size: usize,
    read: &mut u64,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<bool> {
    // The statement of the hot loop, read through `raw` (a step's values without rusqlite's
    // per-value checks).
    let rowid_stmt =
        if with_rowid { with_rowid_sql(sql).and_then(|s| RawStatement::prepare(conn, &s).ok()) } else { None };
    let (mut stmt, offset) = match rowid_stmt {
        Some(stmt) => (stmt, 1),
        None => (RawStatement::prepare(conn, sql).map_err(|e| sql_error(shown, e))?, 0),
    };
    if stmt.column_count() != plans.len() + offset {
        let message = format!(
            "SQLite {shown}: the query returns {} columns, the source's schema has {}",
            stmt.column_count().saturating_sub(offset),
            plans.len()
        );
        return Err(Failure::new(codes::source::CHANGED, message).into_datafusion());
    }
    let mut builders: Vec<Builder> = plans.iter().map(|p| Builder::new(p.kind, batch_size)).collect();
    let mut in_batch = 0;
    let mut row_number: u64 = 0;
    while stmt.step().map_err(|e| sql_error(shown, e))? {
        row_number += 1;
        *read += 1;
        for (i, (builder, plan)) in builders.iter_mut().zip(plans).enumerate() {
            let value = stmt.value(i + offset).map_err(|e| sql_error(shown, e))?;
            if let Err(why) = builder.append(value) {
                let at = if offset == 1 {
                    match stmt.value(0) {
                        Ok(ValueRef::Integer(id)) => format!("rowid {id}"),
                        _ => format!("row {row_number}"),
                    }
                } else {
                    format!("row {row_number} of the query")
                };
                return Err(refused(shown, plan, &at, value, why, *read));
            }
        }
        in_batch += 1;
        if in_batch == batch_size {
            if !emit(finish(schema, &mut builders, in_batch)?) {
                return Ok(false);
            }
            in_batch = 0;
        }
    }
    if in_batch > 0 && !emit(finish(schema, &mut builders, in_batch)?) {
        return Ok(false);
    }
    Ok(true)
}

/// The failure for a value of column `plan` that does not convert: `at` names its row for the
/// message, `read` is its row number in the partition.
fn refused(
    shown: &str,
    plan: &ColumnPlan,
    at: &str,
    value: ValueRef<'_>,
    why: ValueError,
    read: u64,
) -> DataFusionError {
    let declared = plan.declared.as_deref().map(|d| format!(" (declared {d})")).unwrap_or_default();
    let message = format!("SQLite {shown}: column `{}`{declared}, {at}: {} {why}", plan.name, describe_value(value));
    Failure::new(codes::source::DECODE, message).row(read).column(&plan.name).into_datafusion()
}

fn finish(schema: &SchemaRef, builders: &mut [Builder], rows: usize) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

/// A value as an error message shows it: its storage class and text, at most 100 characters.
fn describe_value(value: ValueRef<'_>) -> String {
    let clip = |s: &str| {
        let mut out: String = s.chars().take(100).collect();
        if out.len() < s.len() {
            out.push('…');
        }
        out
    };
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("integer value {i}"),
        ValueRef::Real(f) => format!("real value {}", real_text(f)),
        ValueRef::Text(t) => format!("text value '{}'", clip(&String::from_utf8_lossy(t))),
        ValueRef::Blob(b) => format!("blob of {} bytes", b.len()),
    }
}

/// A double's shortest decimal text that reads back as the same double (Rust's `Display`, which
/// never uses an exponent).
fn real_text(f: f64) -> String {
    format!("{f}")
}

#[cfg(test)]
mod tests;
