//! SQLite sink: the staged-table protocol (`connect::staged`) on rusqlite. What is SQLite's own
//! is here: its column types, the affinity checks on an existing target (SQLite would change
//! some values on the way in), and a prepared `INSERT` per row into the staging table (values
//! bound by `params::BatchParams`). Publishing is one transaction:
//!
//! | mode     | publish                                                              |
//! |----------|----------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging`                         |
//! | replace  | drop the target, rename staging into place; `DELETE FROM target` and insert when the target is kept (see `rename`) |
//! | truncate | `DELETE FROM target`, insert                                         |
//! | upsert   | `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE SET ...`         |
//!
//! A target the run creates, in any mode, is the staging table renamed into place.

use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use rusqlite::{ErrorCode, OptionalExtension};

use futures::future::BoxFuture;

use super::params::{BatchParams, BindError};
use super::shared::{Lent, SharedFile};
use crate::connect::decimal_text;
use crate::connect::foreign_keys::KeyFailure;
use crate::connect::rejects::BadRow;
use crate::connect::staged::{
    Move, Renames, RowLoader, SqlSession, StagedBackend, StagedSink, StagedTarget, Step, on_conflict_sql,
};
use crate::connect::target_columns::WritePlan;
use crate::diagnostics::{Failure, codes};
use crate::plan::sql::Dialect;
use crate::plan::table_set::ForeignKeyStep;
use crate::plan::{TableName, WriteMode};

const D: Dialect = Dialect::Sqlite;

/// SQLite's declared type for an Arrow type. Decimals are exact text; dates and times are
/// ISO-8601 text, as SQLite's date functions expect.
pub fn sqlite_type(dt: &DataType) -> Result<&'static str> {
    Ok(match dt {
        DataType::Boolean => "BOOLEAN",
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => "INTEGER",
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => "INTEGER",
        // SQLite's integers are signed 64-bit; a larger value is refused by row (`value_at`), as
        // any affinity but BLOB would turn its text into an 8-byte float.
        DataType::UInt64 => "INTEGER",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "REAL",
        // SQLite's NUMERIC affinity turns decimals into 8-byte floats (about 15 digits), and a
        // column of mixed REAL/INTEGER/TEXT cannot be read back as one type: keep the exact text.
        DataType::Decimal128(..) | DataType::Decimal256(..) => "TEXT",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => "BLOB",
        DataType::Date32 | DataType::Date64 => "DATE",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        // A span (a MySQL TIME) has no SQLite type its date functions read: MySQL's own text.
        DataType::Duration(_) => "TEXT",
        DataType::Timestamp(_, None) => "TIMESTAMP",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ",
        other => {
            let message = format!("cannot store Arrow type {other} in SQLite; cast the column first");
            return Err(Failure::new(codes::sink::UNSUPPORTED_TYPE, message).into_datafusion());
        }
    })
}

/// `CREATE TABLE` for a schema, with a unique key for upserts.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef, unique_keys: Option<&[String]>) -> Result<String> {
    D.create_table(
        table,
        schema,
        |f| sqlite_type(f.data_type()).map(str::to_string),
        unique_keys.map(|k| ("UNIQUE", k)),
    )
}

/// A SQLite sink: the staged-table protocol on a database file.
pub type SqliteSink = StagedSink<SqliteBackend>;

/// The database file a SQLite sink writes, through the connection every sink of the process
/// writing that file shares (`shared`).
pub struct SqliteBackend {
    path: String,
    file: Arc<SharedFile>,
    /// Decimal columns that an existing target stores as numbers (INTEGER, REAL or NUMERIC
    /// affinity), with the declared type: a value of more than 15 significant digits would
    /// become a rounded float there, so it is refused by row. Found by `check_target`.
    float_targets: Mutex<Vec<(usize, String)>>,
}

impl SqliteBackend {
    pub fn new(path: &str) -> Self {
        Self { path: path.to_string(), file: SharedFile::of(path), float_targets: Mutex::new(Vec::new()) }
    }
}

/// The database file's connection, lent to one session (`shared`): its statements and
/// transactions are the session's alone until it drops.
pub struct SqliteSession {
    conn: Lent,
    table: TableName,
    /// The sink's upsert keys, in `mode upsert`.
    upsert_keys: Option<Vec<String>>,
}

impl SqliteSession {
    fn fail(&self, step: Step, e: &rusqlite::Error) -> DataFusionError {
        let message = match step {
            Step::Publish => format!("SQLite: publishing into {}: {e}", self.table),
            _ => format!("SQLite: {} {}: {e}", step.phrase(), self.table),
        };
        Failure::new(self.refusal_code(step, e), message).into_datafusion()
    }

    /// The code of a statement SQLite refused, from its result code
    /// (<https://sqlite.org/rescode.html>): a constraint (`SQLITE_CONSTRAINT_*`) refuses a row.
    /// An upsert whose `ON CONFLICT` columns match no unique index fails with a plain
    /// `SQLITE_ERROR`, as many other statements do; so when publishing an upsert fails that way,
    /// the target's unique keys are read ([`Self::unique_keys`]) and none equal to the sink's
    /// keys means `flow::sink::no_upsert_key`.
    fn refusal_code(&self, step: Step, e: &rusqlite::Error) -> &'static str {
        match (e.sqlite_error_code(), &self.upsert_keys) {
            (Some(ErrorCode::ConstraintViolation), _) => codes::sink::VALUE_REFUSED,
            (Some(ErrorCode::Unknown), Some(keys)) if step == Step::Publish => {
                let wanted = key_set(keys);
                match self.unique_keys() {
                    Ok(unique) if !unique.iter().any(|k| key_set(k) == wanted) => codes::sink::NO_UPSERT_KEY,
                    _ => codes::sink::WRITE_FAILED,
                }
            }
            _ => codes::sink::WRITE_FAILED,
        }
    }

    /// The column sets an `ON CONFLICT` may name on the target table: each unique index that is
    /// not partial (a primary key or `UNIQUE` constraint has one), and an `INTEGER PRIMARY KEY`,
    /// the rowid, which has none (<https://sqlite.org/lang_upsert.html>,
    /// <https://sqlite.org/pragma.html#pragma_index_list>).
    fn unique_keys(&self) -> rusqlite::Result<Vec<Vec<String>>> {
        let table = D.string(self.table.table());
        let schema = self.table.schema().map(|s| format!(", {}", D.string(s))).unwrap_or_default();
        let indexes: Vec<String> = self
            .conn
            .prepare(&format!(
                "SELECT name FROM pragma_index_list({table}{schema}) WHERE \"unique\" = 1 AND partial = 0"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut keys = Vec::new();
        for index in indexes {
            let columns = self
                .conn
                .prepare(&format!("SELECT name FROM pragma_index_info({}{schema}) ORDER BY seqno", D.string(&index)))?
                .query_map([], |r| r.get::<_, Option<String>>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // An index on an expression has a NULL name, and no column list can match it.
            keys.extend(columns.into_iter().collect::<Option<Vec<String>>>());
        }
        let rowid: Vec<(String, String)> = self
            .conn
            .prepare(&format!("SELECT name, type FROM pragma_table_info({table}{schema}) WHERE pk > 0"))?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if let [(column, declared)] = &rowid[..]
            && declared.eq_ignore_ascii_case("INTEGER")
        {
            keys.push(vec![column.clone()]);
        }
        Ok(keys)
    }

    /// The columns of `table` (a table or a view) as `SELECT *` returns them, from the schema
    /// SQLite holds in memory (`pragma_table_xinfo`, found by name without regard to case, as
    /// SQLite finds tables); `None` when it does not exist. Reading `sqlite_master` instead
    /// scanned every table's entry: with a thousand tables, a few such reads per table were a
    /// good part of a table set's time. A missing table gives no row (a table always has a
    /// column), not an error; hidden columns of virtual tables (`hidden` 1) are left out as
    /// `SELECT *` leaves them (<https://sqlite.org/pragma.html#pragma_table_xinfo>).
    fn columns(&self, table: &TableName) -> Result<Option<Vec<String>>> {
        let schema = table.schema().map(|s| format!(", {}", D.string(s))).unwrap_or_default();
        let sql = format!("SELECT name FROM pragma_table_xinfo({}{schema}) WHERE hidden <> 1", D.string(table.table()));
        let names = (|| {
            self.conn.prepare(&sql)?.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()
        })()
        .map_err(|e| self.fail(Step::Inspect, &e))?;
        Ok((!names.is_empty()).then_some(names))
    }
}

/// Column names as SQLite compares them: without regard to ASCII case, in any order.
fn key_set(columns: &[String]) -> std::collections::BTreeSet<String> {
    columns.iter().map(|c| c.to_ascii_lowercase()).collect()
}

impl SqlSession for SqliteSession {
    fn execute(&mut self, sql: &str, step: Step) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| self.fail(step, &e))
    }

    fn query_u64(&mut self, sql: &str, step: Step) -> Result<Option<u64>> {
        let value: Option<Option<i64>> =
            self.conn.query_row(sql, [], |r| r.get(0)).optional().map_err(|e| self.fail(step, &e))?;
        Ok(value.flatten().and_then(|v| u64::try_from(v).ok()))
    }

    fn query_text(&mut self, sql: &str, step: Step) -> Result<Vec<Vec<Option<String>>>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.fail(step, &e))?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map([], |row| (0..width).map(|i| row.get::<_, Option<String>>(i)).collect())
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>());
        drop(stmt);
        rows.map_err(|e| self.fail(step, &e))
    }

    fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>> {
        self.columns(table)
    }

    /// `IMMEDIATE`: the write lock is taken at once, so two writers wait on the busy timeout
    /// instead of one failing when it first writes.
    ///
    /// In WAL mode (`shared::Journal`), a publish commits at `synchronous = FULL`, every other
    /// step at `NORMAL`.
    ///
    /// In a table set's group (`shared::Group`), the transaction is a savepoint of the group's.
    fn begin(&mut self, step: Step) -> Result<()> {
        let level = if step == Step::BeginPublishing { "FULL" } else { "NORMAL" };
        self.conn.begin(level).map_err(|e| self.fail(step, &e))
    }

    fn commit(&mut self, step: Step) -> Result<()> {
        self.conn.commit().map_err(|e| self.fail(step, &e))
    }

    fn rollback(&mut self) {
        let _ = self.conn.rollback();
    }
}

impl StagedBackend for SqliteBackend {
    type Session = SqliteSession;
    type Loader = SqliteLoader;
    const DIALECT: Dialect = D;
    const ONE_WRITER: bool = true;
    const RENAMES: Renames = Renames::WhenAlike;

    fn name(&self) -> String {
        format!("SQLite {}", self.path)
    }

    fn location(&self) -> String {
        format!("in {}", self.path)
    }

    /// Waits while another session of the process holds the file's connection (`shared`).
    fn open(&self, target: &StagedTarget) -> Result<SqliteSession> {
        let conn = self.file.lend()?;
        let upsert_keys = target.keys().map(<[String]>::to_vec);
        Ok(SqliteSession { conn, table: target.table.clone(), upsert_keys })
    }

    fn open_existing(&self, target: &StagedTarget) -> Result<Option<SqliteSession>> {
        if !std::path::Path::new(&self.path).exists() {
            return Ok(None);
        }
        self.open(target).map(Some)
    }

    fn create_table_sql(&self, table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
        create_table_sql(table, schema, keys)
    }

    fn inexact(&self, field: &Field) -> Option<String> {
        let column = field.name();
        let bits = crate::connect::target::bit_note(field, "sqlite", |bits| match bits {
            1 => "a BOOLEAN (0 or 1)".to_string(),
            64 => "an INTEGER holding the bits as a number (b'101' is 5); SQLite integers are signed 64-bit, so a \
                   value above 9223372036854775807 is refused (by row, under `on error`)"
                .to_string(),
            _ => "an INTEGER holding the bits as a number (b'101' is 5)".to_string(),
        });
        if bits.is_some() {
            return bits;
        }
        if decimal_text::is_decimal_text(field) {
            return Some(format!(
                "column `{column}`: a numeric without precision is stored as its exact decimal text (TEXT), NaN and \
                 Infinity as the words"
            ));
        }
        match field.data_type() {
            DataType::Duration(_) => Some(format!(
                "column `{column}`: SQLite has no type for a span of time (a MySQL TIME); it is stored as TEXT in \
                 MySQL's notation [-]H:MM:SS.ffffff (e.g. 838:59:59.000000, -01:30:00.000000)"
            )),
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(format!(
                "column `{column}`: SQLite stores NaN as NULL, so a NaN is refused (by row, under `on error`)"
            )),
            DataType::UInt64 => Some(format!(
                "column `{column}`: SQLite integers are signed 64-bit; a value above 9223372036854775807 is refused \
                 (by row, under `on error`)"
            )),
            _ => None,
        }
    }

    fn column_type(&self, field: &Field, _is_key: bool) -> Result<String> {
        sqlite_type(field.data_type()).map(str::to_string)
    }

    fn publish_summary(&self, mode: &WriteMode, target: &str) -> String {
        match mode {
            WriteMode::Append => format!(
                "load a staging table, then INSERT INTO {target} (or rename the staging table into place when Flow \
                 creates {target}), in one transaction"
            ),
            WriteMode::Replace => format!(
                "load a staging table, then drop {target} and rename the staging table into place (or empty {target} \
                 and insert, when it is defined otherwise, has triggers or is referenced), in one transaction"
            ),
            WriteMode::Truncate => {
                format!("load a staging table, then DELETE FROM {target} and insert, in one transaction")
            }
            WriteMode::Upsert { .. } => format!(
                "load a staging table, then INSERT ... ON CONFLICT DO UPDATE into {target} (or rename the staging \
                 table into place when Flow creates {target}), in one transaction"
            ),
        }
    }

    /// Refuses a column whose values SQLite would change on the way into the existing table:
    /// text into a column of INTEGER, REAL or NUMERIC affinity (SQLite turns `'00123'` into
    /// `123`, keeps `'1,234.50'` as text in a number column); decimals into one are refused by
    /// row when they have more than 15 digits (they become 8-byte floats). Affinity rules:
    /// <https://sqlite.org/datatype3.html>, section 3.1.
    fn check_target(&self, s: &mut SqliteSession, target: &StagedTarget) -> Result<()> {
        let table = &target.table;
        let sql = match table.schema() {
            Some(schema) => {
                format!("SELECT name, type FROM pragma_table_info({}, {})", D.string(table.table()), D.string(schema))
            }
            None => format!("SELECT name, type FROM pragma_table_info({})", D.string(table.table())),
        };
        let mut floats = Vec::new();
        for row in s.query_text(&sql, Step::Inspect)? {
            let [Some(column), declared_type] = &row[..] else { continue };
            let declared_type = declared_type.clone().unwrap_or_default();
            let Ok(index) = target.schema.index_of(column) else { continue };
            let field = target.schema.field(index);
            let affinity = affinity(&declared_type);
            if !matches!(affinity, "INTEGER" | "REAL" | "NUMERIC") {
                continue;
            }
            if matches!(field.data_type(), DataType::Decimal128(..) | DataType::Decimal256(..)) {
                floats.push((index, declared_type));
                continue;
            }
            if !matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
                continue;
            }
            let why = "SQLite would store numeric-looking text as a number (`'00123'` becomes 123) and keep other \
                       text as text";
            let message = format!(
                "column `{column}` of the existing table {table} in {} is declared `{declared_type}` ({affinity} \
                 affinity) and Flow writes {} into it: {why}; cast the column in a transform (e.g. `cast {column} as \
                 bigint`), or write into a TEXT column (`mode replace` recreates the table with Flow's types)",
                self.path,
                field.data_type()
            );
            return Err(Failure::new(codes::sink::REFUSED, message).column(column).into_datafusion());
        }
        if let Ok(mut slot) = self.float_targets.lock() {
            *slot = floats;
        }
        Ok(())
    }

    /// Created as the target would be, when it is missing (with an upsert's `UNIQUE` keys), so
    /// that publishing can rename it into place (`rename`).
    fn staging_sql(&self, _s: &mut SqliteSession, target: &StagedTarget, target_exists: bool) -> Result<String> {
        create_table_sql(&target.staging, &target.schema, if target_exists { None } else { target.keys() })
    }

    fn loader(&self, _s: &mut SqliteSession, target: &StagedTarget, _write: WritePlan) -> Result<SqliteLoader> {
        let names: Vec<String> = target.schema.fields().iter().map(|f| D.ident(f.name())).collect();
        let row = format!("({})", vec!["?"; names.len()].join(", "));
        let insert = format!("INSERT INTO {} ({}) VALUES ", D.table(&target.staging), names.join(", "));
        // SQLite allows 32,766 parameters in a statement (SQLITE_MAX_VARIABLE_NUMBER, the
        // bundled build's default); a wide table gets fewer rows per statement, or one.
        let rows = (MAX_PARAMETERS / names.len().max(1)).clamp(1, ROWS_PER_STATEMENT);
        let floats = self.float_targets.lock().map(|f| f.clone()).unwrap_or_default();
        Ok(SqliteLoader {
            one: format!("{insert}{row}"),
            many: format!("{insert}{}", vec![row.as_str(); rows].join(", ")),
            rows,
            floats,
        })
    }

    /// Always: SQLite declares a table's foreign keys in its `CREATE TABLE`, and the bundled
    /// SQLite enforces them by default, so a table could otherwise only be published after the
    /// ones it references.
    fn foreign_keys_off_sql(&self, _created: bool) -> Option<&'static str> {
        Some("PRAGMA foreign_keys = OFF")
    }

    /// SQLite's `defer_foreign_keys` lasts until the transaction ends.
    fn defer_foreign_keys_sql(&self) -> Option<&'static str> {
        Some("PRAGMA defer_foreign_keys = ON")
    }

    fn rename_instead(
        &self,
        s: &mut SqliteSession,
        target: &StagedTarget,
        how: Move<'_>,
    ) -> Result<Option<Vec<String>>> {
        super::rename::rename_instead(s, target, how)
    }

    fn rename_sql(&self, target: &StagedTarget, exists: bool) -> (Vec<String>, Vec<String>) {
        (super::rename::rename_sql(target, exists), Vec::new())
    }

    /// `WHERE true`: without it, SQLite would read `ON` as the start of a join constraint of the
    /// `SELECT` (<https://sqlite.org/lang_upsert.html>, "Parsing Ambiguity").
    fn upsert_sql(&self, _t: &StagedTarget, insert: String, keys: &[String], updates: &[String]) -> Vec<String> {
        vec![format!("{insert} WHERE true {}", on_conflict_sql(D, keys, updates, "excluded"))]
    }
}

/// Rows per multi-row `INSERT`: enough to spread a statement's fixed cost (starting it, opening
/// the table's cursor) over many rows; more gains little.
const ROWS_PER_STATEMENT: usize = 64;
const MAX_PARAMETERS: usize = 32_766;

/// Inserts a partition's rows with two prepared statements: `many` for each run of `rows` rows
/// of a batch, `one` for the rest, and row by row for a run in which a value does not convert or
/// SQLite refuses a row (the failed statement undoes only itself, so the transaction goes on).
pub struct SqliteLoader {
    one: String,
    many: String,
    rows: usize,
    /// See `SqliteBackend::float_targets`.
    floats: Vec<(usize, String)>,
}

/// Whether an error of SQLite's is the row's fault: a constraint or a value too big. Anything
/// else (a full disk, a locked database) fails the run.
fn the_rows_fault(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::ConstraintViolation | rusqlite::ErrorCode::TooBig))
}

impl RowLoader<SqliteSession> for SqliteLoader {
    /// Returns the rows that could not be converted or that SQLite refused.
    fn load(
        &mut self,
        s: &mut SqliteSession,
        target: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Vec<BadRow>> {
        let mut params = BatchParams::new(batch, &self.floats);
        let mut bad = Vec::new();
        let rows = batch.num_rows();
        // Prepared per batch: a statement of `raw` borrows the connection, which the loader
        // does not hold. The one-row statement only when a run must be retried row by row.
        let mut many =
            super::raw::RawStatement::prepare(&s.conn, &self.many).map_err(|e| s.fail(Step::WriteRows, &e))?;
        let mut one = None;
        let mut next = 0;
        while next < rows && (bad.is_empty() || !target.rejects.fails()) {
            let run = next..(next + self.rows).min(rows);
            next = run.end;
            if self.rows > 1 && run.len() == self.rows {
                match params.execute(&mut many, run.clone()) {
                    Ok(()) => continue,
                    // The run again row by row, to find and refuse the row.
                    Err(BindError::Value { .. }) => {}
                    Err(BindError::Sqlite(e)) if the_rows_fault(&e) => {}
                    Err(BindError::Sqlite(e)) => return Err(s.fail(Step::WriteRows, &e)),
                }
            }
            let one = match &mut one {
                Some(one) => one,
                None => one.insert(
                    super::raw::RawStatement::prepare(&s.conn, &self.one).map_err(|e| s.fail(Step::WriteRows, &e))?,
                ),
            };
            for row in run {
                let done = params.execute(one, row..row + 1);
                match done {
                    Ok(_) => {}
                    Err(BindError::Value { column, error }) => {
                        let name = target.schema.field(column).name();
                        bad.push(BadRow::new(batch, row, partition, first_row, Some(name), &error.to_string()));
                    }
                    Err(BindError::Sqlite(e)) if the_rows_fault(&e) => {
                        let reason = format!("SQLite refused the row: {e}");
                        bad.push(BadRow::new(batch, row, partition, first_row, None, &reason));
                    }
                    Err(BindError::Sqlite(e)) => return Err(s.fail(Step::WriteRows, &e)),
                }
                if target.rejects.fails() && !bad.is_empty() {
                    break;
                }
            }
        }
        Ok(bad)
    }
}

/// The affinity SQLite gives a column declared `declared` (<https://sqlite.org/datatype3.html>,
/// section 3.1, rules applied in order).
fn affinity(declared: &str) -> &'static str {
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        "INTEGER"
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        "TEXT"
    } else if d.contains("BLOB") || d.is_empty() {
        "BLOB"
    } else if d.contains("REAL") || d.contains("FLOA") || d.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// Checks a table set's foreign keys on SQLite (`connect::foreign_keys`): SQLite declares them
/// in `CREATE TABLE` (it has no `ALTER TABLE ... ADD CONSTRAINT`), so once every table is in,
/// `PRAGMA foreign_key_check` lists the rows whose key finds no parent (SQLite docs, "PRAGMA
/// foreign_key_check"). Adds nothing: returns 0. Runs on the connection the set's sinks share
/// (`shared`).
pub fn add_foreign_keys(step: &ForeignKeyStep) -> BoxFuture<'_, std::result::Result<usize, KeyFailure>> {
    let file = SharedFile::of(step.endpoint.file_path());
    Box::pin(async move {
        let statement = |e: rusqlite::Error| KeyFailure::Statement {
            sql: "PRAGMA foreign_key_check".into(),
            detail: e.to_string(),
        };
        let violations = tokio::task::spawn_blocking(move || -> std::result::Result<Vec<String>, KeyFailure> {
            let conn = file.lend().map_err(KeyFailure::Connect)?;
            let mut check = conn.prepare("PRAGMA foreign_key_check").map_err(statement)?;
            let rows = check
                .query_map([], |r| {
                    Ok(format!(
                        "{} row {} -> {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1).unwrap_or(-1),
                        r.get::<_, String>(2)?
                    ))
                })
                .map_err(statement)?;
            rows.take(5).collect::<rusqlite::Result<_>>().map_err(statement)
        })
        .await
        .map_err(|e| KeyFailure::Task(e.to_string()))??;
        if violations.is_empty() { Ok(0) } else { Err(KeyFailure::Violations(violations)) }
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn session(sql: &str, table: &str) -> SqliteSession {
        let conn = Connection::open_in_memory().expect("in memory");
        conn.execute_batch(sql).expect("schema");
        SqliteSession { conn: Lent::own(conn), table: TableName::parse(table), upsert_keys: None }
    }

    /// What an `ON CONFLICT` may name, read from the catalog: unique indexes that are not
    /// partial and name only columns, and the rowid of an `INTEGER PRIMARY KEY`.
    #[test]
    fn the_keys_an_upsert_may_name_are_read_from_the_catalog() {
        let s = session(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT, UNIQUE (a, b));
             CREATE UNIQUE INDEX t_lower ON t (lower(c));
             CREATE UNIQUE INDEX t_partial ON t (c) WHERE c IS NOT NULL;
             CREATE INDEX t_plain ON t (b)",
            "t",
        );
        let mut keys = s.unique_keys().expect("catalog");
        keys.sort();
        assert_eq!(keys, [vec!["a".to_string(), "b".to_string()], vec!["id".to_string()]]);
        let s = session("CREATE TABLE u (x TEXT, y BIGINT, PRIMARY KEY (y, x))", "u");
        assert_eq!(s.unique_keys().expect("catalog"), [vec!["y".to_string(), "x".to_string()]]);
        // A single-column primary key that is not the rowid has an index of its own.
        let s = session("CREATE TABLE v (k BIGINT PRIMARY KEY)", "v");
        assert_eq!(s.unique_keys().expect("catalog"), [vec!["k".to_string()]]);
        assert_eq!(key_set(&["Y".into(), "x".into()]), key_set(&["x".into(), "y".into()]));
    }

    /// In WAL mode a publish commits at `synchronous = FULL` (2), flushing the log with every
    /// earlier commit in it; the other steps commit at `NORMAL` (1). A rollback journal stays at
    /// FULL for every step.
    #[test]
    fn in_wal_publishing_commits_at_full_and_staging_at_normal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let synchronous = |s: &SqliteSession| s.conn.query_row("PRAGMA synchronous", [], |r| r.get::<_, i64>(0));
        for (name, several, staging) in [("wal.db", true, 1), ("rollback.db", false, 2)] {
            let file = SharedFile::of(&dir.path().join(name).to_string_lossy());
            file.held_by_run(if several { 2 } else { 1 });
            let conn = file.lend().expect("lend");
            let mut s = SqliteSession { conn, table: TableName::parse("t"), upsert_keys: None };
            for (begin, commit, level) in [
                (Step::BeginPreparing, Step::CommitPreparing, staging),
                (Step::BeginWriting, Step::CommitRows, staging),
                (Step::BeginPublishing, Step::CommitPublishing, 2),
                (Step::BeginWriting, Step::CommitRows, staging),
            ] {
                s.begin(begin).expect("begin");
                s.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER); INSERT INTO t VALUES (1)", begin).expect("sql");
                assert_eq!(synchronous(&s).expect("pragma"), level, "{name} {begin:?}");
                s.commit(commit).expect("commit");
            }
        }
    }
}
