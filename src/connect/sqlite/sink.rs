//! SQLite sink. Every mode loads a staging table first (each partition one transaction, with
//! its ledger row) and publishes it in a single transaction at the end, so a failed or
//! cancelled run leaves the target exactly as it was:
//!
//! | mode     | publish                                                              |
//! |----------|----------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging`                         |
//! | replace  | `DELETE FROM target` (or drop + recreate if the columns differ), insert |
//! | truncate | `DELETE FROM target`, insert                                         |
//! | upsert   | `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE SET ...`         |

use std::sync::Mutex;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use rusqlite::{Connection, params_from_iter, types::Value};

use crate::connect::rejects::{self, BadRow, RejectPolicy};
use crate::connect::staging::{cleanup_sql, count_sql, ensure_ledger_sql, require_columns, restart_sql, staging_of};
use crate::ledger::{
    Event, LedgerKey, LedgerRow, Preparation, RowChecksum, insert_sql, ledger_schema, ledger_table, parse_row,
    select_sql,
};
use crate::plan::sql::Dialect;
use crate::plan::table_set::CarriedTable;
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
            return Err(DataFusionError::Execution(format!(
                "cannot store Arrow type {other} in SQLite; cast the column first"
            )));
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

pub struct SqliteSink {
    pub path: String,
    pub table: TableName,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub schema: SchemaRef,
    /// Unique per run, so concurrent runs never share a staging table.
    pub staging: TableName,
    key: LedgerKey,
    rejects: RejectPolicy,
    /// SQLite has one writer at a time: a partition holds this for its whole transaction, so
    /// the others wait here rather than on the database's busy timeout.
    write_lock: Mutex<()>,
    /// The source table's definition, for a table of a table set (see `with_carried`).
    carried: Option<CarriedTable>,
    /// Decimal columns that an existing target stores as numbers (INTEGER, REAL or NUMERIC
    /// affinity), with the declared type: a value of more than 15 significant digits would
    /// become a rounded float there, so it is refused by row. Found by `prepare`.
    float_targets: Mutex<Vec<(usize, String)>>,
}

fn sql_err(context: &str) -> impl Fn(rusqlite::Error) -> DataFusionError + '_ {
    move |e| DataFusionError::Execution(format!("SQLite: {context}: {e}"))
}

impl SqliteSink {
    pub fn new(
        path: &str,
        table: TableName,
        mode: WriteMode,
        create_if_missing: bool,
        schema: SchemaRef,
        key: LedgerKey,
        rejects: RejectPolicy,
    ) -> Self {
        let staging = staging_of(&table, &key.run_id);
        Self {
            path: path.to_string(),
            table,
            mode,
            create_if_missing,
            schema,
            staging,
            key,
            rejects,
            write_lock: Mutex::new(()),
            carried: None,
            float_targets: Mutex::new(Vec::new()),
        }
    }

    /// A table of a table set: when Flow creates the target (missing, or `mode replace`), it is
    /// created with the source's definition (foreign keys included) instead of from the schema.
    pub fn with_carried(mut self, carried: Option<CarriedTable>) -> Self {
        self.carried = carried;
        self
    }

    pub fn refused(&self) -> u64 {
        self.rejects.refused()
    }

    pub fn open(&self) -> Result<Connection> {
        if let Some(dir) = std::path::Path::new(&self.path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| DataFusionError::Execution(format!("cannot create directory {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(&self.path).map_err(sql_err(&format!("cannot open {}", self.path)))?;
        conn.busy_timeout(Duration::from_secs(300)).map_err(sql_err("busy timeout"))?;
        Ok(conn)
    }

    /// Refuses, before anything is read, a column whose values SQLite would change on the way
    /// into an existing table: text into a column of INTEGER, REAL or NUMERIC affinity (SQLite
    /// turns `'00123'` into `123`, keeps `'1,234.50'` as text in a number column), and decimals
    /// of more than 15 digits into one (they become 8-byte floats). Affinity rules:
    /// <https://sqlite.org/datatype3.html>, section 3.1.
    fn check_affinities(&self, conn: &Connection) -> Result<()> {
        let sql = match self.table.schema() {
            Some(schema) => format!(
                "SELECT name, type FROM pragma_table_info({}, {})",
                D.string(self.table.table()),
                D.string(schema)
            ),
            None => format!("SELECT name, type FROM pragma_table_info({})", D.string(self.table.table())),
        };
        let mut stmt = conn.prepare(&sql).map_err(sql_err("inspecting the target's column types"))?;
        let declared: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))
            .and_then(|rows| rows.collect())
            .map_err(sql_err("inspecting the target's column types"))?;
        for (column, declared_type) in declared {
            let Ok(field) = self.schema.field_with_name(&column) else { continue };
            let affinity = affinity(&declared_type);
            if !matches!(affinity, "INTEGER" | "REAL" | "NUMERIC") {
                continue;
            }
            if matches!(field.data_type(), DataType::Decimal128(..) | DataType::Decimal256(..)) {
                if let (Ok(index), Ok(mut floats)) = (self.schema.index_of(&column), self.float_targets.lock()) {
                    floats.push((index, declared_type));
                }
                continue;
            }
            if !matches!(field.data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
                continue;
            }
            let why = "SQLite would store numeric-looking text as a number (`'00123'` becomes 123) and keep other \
                       text as text";
            return Err(DataFusionError::Execution(format!(
                "column `{column}` of the existing table {} in {} is declared `{declared_type}` ({affinity} affinity) \
                 and Flow writes {} into it: {why}; cast the column in a transform (e.g. `cast {column} as \
                 bigint`), or write into a TEXT column (`mode replace` recreates the table with Flow's types)",
                self.table,
                self.path,
                field.data_type()
            )));
        }
        Ok(())
    }

    fn table_columns(conn: &Connection, table: &TableName) -> Result<Option<Vec<String>>> {
        let sql = format!("SELECT * FROM {} LIMIT 0", D.table(table));
        match conn.prepare(&sql) {
            Ok(stmt) => Ok(Some(stmt.column_names().into_iter().map(String::from).collect())),
            Err(e) if e.to_string().contains("no such table") => Ok(None),
            Err(e) => Err(sql_err("inspecting the target")(e)),
        }
    }

    /// The ledger rows of a pipeline; none when the database or its ledger does not exist yet.
    pub fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        if !std::path::Path::new(&self.path).exists() {
            return Ok(Vec::new());
        }
        let conn = self.open()?;
        let ledger = ledger_table(&self.table);
        if Self::table_columns(&conn, &ledger)?.is_none() {
            return Ok(Vec::new());
        }
        let mut stmt =
            conn.prepare(&select_sql(D, &ledger, &self.key.pipeline)).map_err(sql_err("reading the ledger"))?;
        let rows = stmt
            .query_map([], |row| (0..9).map(|i| row.get::<_, Option<String>>(i)).collect::<rusqlite::Result<Vec<_>>>())
            .map_err(sql_err("reading the ledger"))?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(parsed) = parse_row(&row.map_err(sql_err("reading the ledger"))?) {
                out.push(parsed);
            }
        }
        Ok(out)
    }

    /// Checks the target, cleans up earlier runs and starts (or checks, on a resume) the
    /// staging table. `false`: a resume found its staging table changed and starts over.
    pub fn prepare(&self, prep: &Preparation) -> Result<bool> {
        let mut conn = self.open()?;
        let existing = Self::table_columns(&conn, &self.table)?;
        if existing.is_none() && !self.create_if_missing {
            return Err(DataFusionError::Execution(format!(
                "table {} does not exist in {} and the sink says `create never`",
                self.table, self.path
            )));
        }
        if let (Some(cols), WriteMode::Append | WriteMode::Truncate | WriteMode::Upsert { .. }) =
            (&existing, &self.mode)
        {
            let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
            require_columns(&self.table, &self.schema, &cols)?;
            self.check_affinities(&conn)?;
        }
        let ledger = ledger_table(&self.table);
        conn.execute_batch(&ensure_ledger_sql(&create_table_sql(&ledger, &ledger_schema(), None)?))
            .map_err(sql_err("creating the ledger table"))?;
        if let Some(table) = self.rejects.table() {
            conn.execute_batch(&ensure_ledger_sql(&create_table_sql(table, &rejects::reject_schema(), None)?))
                .map_err(sql_err("creating the reject table"))?;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_err("begin"))?;
        for sql in cleanup_sql(D, &self.table, &self.key, prep) {
            tx.execute_batch(&sql).map_err(sql_err("cleaning up earlier runs"))?;
        }
        if let Some(expected) = prep.resume_rows {
            let held: rusqlite::Result<i64> = tx.query_row(&count_sql(D, &self.staging), [], |r| r.get(0));
            if held.ok().and_then(|n| u64::try_from(n).ok()) == Some(expected) {
                tx.commit().map_err(sql_err("commit"))?;
                return Ok(true);
            }
        }
        let create = create_table_sql(&self.staging, &self.schema, None)?;
        for sql in restart_sql(D, &self.table, &self.key, prep, &create) {
            tx.execute_batch(&sql).map_err(sql_err("creating the staging table"))?;
        }
        tx.commit().map_err(sql_err("commit"))?;
        Ok(prep.resume_rows.is_none())
    }

    /// Writes one partition into the staging table and records it in the ledger, in one
    /// transaction.
    pub fn write_partition(
        &self,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        let _one_writer =
            self.write_lock.lock().map_err(|_| DataFusionError::Execution("SQLite lock poisoned".into()))?;
        let mut conn = self.open()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_err("begin"))?;
        let mut checksum = RowChecksum::default();
        let mut seen = 0u64;
        while let Some(batch) = next()? {
            let bad = self.insert_batch(&tx, &batch, partition, seen)?;
            seen += batch.num_rows() as u64;
            let (good, rejected) = self.rejects.settle(&batch, &bad, D, &self.key)?;
            if let Some(sql) = rejected {
                tx.execute_batch(&sql).map_err(sql_err("writing rejected rows"))?;
            }
            checksum.add_batch(&good)?;
            on_rows(good.num_rows() as u64);
        }
        let row = self.key.row(Event::Partition, partition as i64, detail, checksum.rows(), &checksum.hex());
        tx.execute_batch(&insert_sql(D, &ledger_table(&self.table), &row))
            .map_err(sql_err("recording the partition"))?;
        tx.commit().map_err(sql_err("commit"))?;
        Ok(checksum.rows())
    }

    /// Inserts one batch into the staging table with one prepared statement; returns the rows
    /// that could not be converted or that SQLite refused (a failed statement leaves the
    /// transaction intact).
    fn insert_batch(
        &self,
        conn: &Connection,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Vec<BadRow>> {
        let names: Vec<String> = self.schema.fields().iter().map(|f| D.ident(f.name())).collect();
        let placeholders = vec!["?"; names.len()].join(", ");
        let sql = format!("INSERT INTO {} ({}) VALUES ({placeholders})", D.table(&self.staging), names.join(", "));
        let mut stmt = conn.prepare_cached(&sql).map_err(sql_err("preparing the insert"))?;
        let mut row_values: Vec<Value> = Vec::with_capacity(names.len());
        let mut bad = Vec::new();
        let floats = self.float_targets.lock().map(|f| f.clone()).unwrap_or_default();
        'rows: for row in 0..batch.num_rows() {
            row_values.clear();
            for (i, column) in batch.columns().iter().enumerate() {
                let value =
                    value_at(column.as_ref(), row).and_then(|v| match (&v, floats.iter().find(|(c, _)| *c == i)) {
                        (Value::Text(text), Some((_, declared))) => fits_float(text, declared).map(|_| v),
                        _ => Ok(v),
                    });
                match value {
                    Ok(v) => row_values.push(v),
                    Err(e) => {
                        let name = self.schema.field(i).name();
                        bad.push(BadRow::new(batch, row, partition, first_row, Some(name), &e));
                        continue 'rows;
                    }
                }
            }
            if let Err(e) = stmt.execute(params_from_iter(row_values.iter())) {
                // Only a constraint or a value too big is the row's fault; anything else (a full
                // disk, a locked database) fails the run.
                let the_rows_fault = matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::ConstraintViolation | rusqlite::ErrorCode::TooBig)
                );
                if !the_rows_fault {
                    return Err(sql_err("inserting into the staging table")(e));
                }
                bad.push(BadRow::new(batch, row, partition, first_row, None, &format!("SQLite refused the row: {e}")));
            }
            if self.rejects.fails() && !bad.is_empty() {
                break;
            }
        }
        Ok(bad)
    }

    /// Moves the staging rows into the target in one transaction, per mode.
    pub fn publish(&self, row: &LedgerRow) -> Result<()> {
        let mut conn = self.open()?;
        if self.carried.is_some() {
            // The tables of a set are published one by one, in any order: their foreign keys are
            // checked once all are in (`connect::foreign_keys`), not table by table.
            conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(sql_err("turning off foreign key checks"))?;
        }
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql_err("begin"))?;
        let existing = Self::table_columns(&tx, &self.table)?;
        let cols: Vec<String> = self.schema.fields().iter().map(|f| D.ident(f.name())).collect();
        let col_list = cols.join(", ");
        let target = D.table(&self.table);
        let staging = D.table(&self.staging);
        let keys = match &self.mode {
            WriteMode::Upsert { keys } => Some(keys.as_slice()),
            _ => None,
        };
        let same_columns = existing.as_ref().is_some_and(|c| {
            c.len() == self.schema.fields().len() && self.schema.fields().iter().all(|f| c.contains(f.name()))
        });
        let carried = self.carried.as_ref().filter(|_| existing.is_none() || self.mode == WriteMode::Replace);
        let recreate = existing.is_none() || (self.mode == WriteMode::Replace && !same_columns);
        if let Some(carried) = carried {
            if existing.is_some() {
                tx.execute_batch(&format!("DROP TABLE {target}")).map_err(sql_err("dropping the old target"))?;
            }
            for sql in &carried.create {
                tx.execute_batch(sql).map_err(sql_err("creating the target"))?;
            }
        } else if recreate {
            if existing.is_some() {
                tx.execute_batch(&format!("DROP TABLE {target}")).map_err(sql_err("dropping the old target"))?;
            }
            tx.execute_batch(&create_table_sql(&self.table, &self.schema, keys)?)
                .map_err(sql_err("creating the target"))?;
        } else if matches!(self.mode, WriteMode::Replace | WriteMode::Truncate) {
            tx.execute_batch(&format!("DELETE FROM {target}")).map_err(sql_err("emptying the target"))?;
        }
        let insert = match keys {
            Some(keys) => {
                let key_list = keys.iter().map(|k| D.ident(k)).collect::<Vec<_>>().join(", ");
                let updates: Vec<String> = cols
                    .iter()
                    .filter(|c| !keys.iter().any(|k| &D.ident(k) == *c))
                    .map(|c| format!("{c} = excluded.{c}"))
                    .collect();
                let action = if updates.is_empty() {
                    "NOTHING".to_string()
                } else {
                    format!("UPDATE SET {}", updates.join(", "))
                };
                format!(
                    "INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staging} WHERE true ON CONFLICT ({key_list}) DO {action}"
                )
            }
            None => format!("INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {staging}"),
        };
        tx.execute_batch(&insert).map_err(|e| {
            let hint = if keys.is_some() && e.to_string().contains("ON CONFLICT clause does not match") {
                "; the upsert keys need a PRIMARY KEY or UNIQUE constraint on the target table"
            } else {
                ""
            };
            DataFusionError::Execution(format!("SQLite: publishing into {}: {e}{hint}", self.table))
        })?;
        if let Some(carried) = carried {
            for sql in &carried.after_load {
                tx.execute_batch(sql).map_err(sql_err("creating the indexes of the target"))?;
            }
        }
        tx.execute_batch(&format!("DROP TABLE {staging}")).map_err(sql_err("dropping the staging table"))?;
        tx.execute_batch(&insert_sql(D, &ledger_table(&self.table), row)).map_err(sql_err("recording the publish"))?;
        tx.commit().map_err(sql_err("commit"))
    }
}

/// A decimal's text that an existing SQLite column of numeric affinity will store as a float:
/// exact to the digit only up to 15 significant digits (an IEEE double's guaranteed decimal
/// precision, which SQLite also prints with).
fn fits_float(text: &str, declared: &str) -> std::result::Result<(), String> {
    let digits = text.trim_start_matches('-').replace('.', "");
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant <= 15 {
        return Ok(());
    }
    Err(format!(
        "{text} has {significant} significant digits; the existing column is declared `{declared}`, which SQLite \
         stores as an 8-byte float (15 digits)"
    ))
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

/// One Arrow value as a SQLite value.
fn value_at(array: &dyn Array, row: usize) -> std::result::Result<Value, String> {
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
            i64::try_from(v).map(Value::Integer).map_err(|_| {
                format!(
                    "{v} is above 9223372036854775807, the largest integer SQLite stores (integers are signed 64-bit)"
                )
            })?
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
            .ok_or_else(|| format!("the duration does not fit whole microseconds ({})", array.data_type()))?;
            Value::Text(crate::connect::mysql::reader::duration_text(micros))
        }
        other => return Err(format!("type {other} cannot be written to SQLite")),
    })
}

/// ISO-8601 text for dates, times and timestamps (UTC offset kept for zoned timestamps).
fn temporal_text(array: &dyn Array, row: usize) -> std::result::Result<String, String> {
    use arrow::datatypes::*;
    let bad = || format!("value out of range for {}", array.data_type());
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
