//! MySQL/MariaDB sink (the `mysql` crate connectorx already links): each writer has its own
//! connection and loads a staging table with multi-row prepared `INSERT`s, a transaction per
//! partition (with its ledger row); the staging table is published at the end:
//!
//! | mode     | publish                                                                  |
//! |----------|--------------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging` (one atomic statement)      |
//! | replace  | `RENAME TABLE target TO old, staging TO target` (atomic), drop `old`     |
//! | truncate | `DELETE FROM target` and insert, in one transaction                      |
//! | upsert   | `INSERT ... SELECT ... ON DUPLICATE KEY UPDATE c = VALUES(c)`            |

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Timelike};
use datafusion::error::{DataFusionError, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};

use crate::connect::decimal_text;
use crate::connect::rejects::{self, BadRow, RejectPolicy};
use crate::connect::staging::{
    cleanup_sql, count_sql, ensure_ledger_sql, old_of, require_columns, restart_sql, staging_of,
};
use crate::connect::target_columns::{self, WritePlan};
use crate::ledger::{
    Event, LedgerKey, LedgerRow, Preparation, RowChecksum, insert_sql, ledger_schema, ledger_table, parse_row,
    select_sql,
};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;
use crate::plan::table_set::CarriedTable;
use crate::plan::{TableName, WriteMode};

const D: Dialect = Dialect::Mysql;

/// MySQL allows 65,535 placeholders in one statement.
const MAX_PLACEHOLDERS: usize = 60_000;

/// Bytes of the server's `max_allowed_packet` kept free for what is not the rows' values: the
/// `COM_STMT_EXECUTE` header (11 bytes) and the protocol's packet headers. A row within this
/// much of the limit is refused rather than risk the server closing the connection, which is
/// what a packet over the limit does (the client then sees `Broken pipe`).
const PACKET_MARGIN: usize = 1024;

/// MySQL's column type for an Arrow field: [`mysql_type`] of its type, except that a column read
/// from a MySQL `BIT(n)` (its `flow.source_type` says `bit(n)`, see
/// `connect::mysql::reader::bit_length`) is `BIT(n)` again, so that `WHERE active = 1` means
/// what it meant on the source.
pub fn mysql_field_type(field: &Field, is_key: bool) -> Result<String> {
    // Exact decimal text (an unconstrained numeric): MySQL's widest decimal; `insert_batch`
    // refuses the values it would not keep exactly.
    if decimal_text::is_decimal_text(field) {
        let (p, s) = decimal_text::MYSQL_DECIMAL;
        return Ok(format!("DECIMAL({p},{s})"));
    }
    match super::reader::bit_length(field) {
        Some(bits) => Ok(format!("BIT({bits})")),
        None => mysql_type(field.data_type(), is_key),
    }
}

/// The table options of every table Flow creates on MySQL: `utf8mb4`, so that any text Flow
/// carries (which is UTF-8, 4-byte characters such as emoji included) fits, whatever the
/// database's default character set (`utf8mb3` on many older servers). The collation is the
/// server's default for `utf8mb4`.
pub const TABLE_OPTIONS: &str = "DEFAULT CHARACTER SET utf8mb4";

/// MySQL's column type for an Arrow type. Key columns of an upsert need an indexable type, so
/// text keys become `VARCHAR(255)`. A `Duration` (a MySQL `TIME` read by Flow) is `TIME(6)`,
/// which holds `-838:59:59` to `838:59:59`.
pub fn mysql_type(dt: &DataType, is_key: bool) -> Result<String> {
    Ok(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *p <= 65 => format!("DECIMAL({p},{})", (*s).max(0)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if is_key => "VARCHAR(255)".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "LONGTEXT".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) if is_key => {
            "VARBINARY(255)".into()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "LONGBLOB".into()
        }
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) => "TIME(6)".into(),
        DataType::Timestamp(_, _) => "DATETIME(6)".into(),
        other => {
            return Err(DataFusionError::Execution(format!(
                "cannot create a MySQL column for Arrow type {other}; cast it first"
            )));
        }
    })
}

pub fn create_table_sql(table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
    let is_key = |name: &str| keys.is_some_and(|k| k.iter().any(|k| k == name));
    let mut cols = Vec::new();
    for f in schema.fields() {
        let null = if f.is_nullable() && !is_key(f.name()) { "" } else { " NOT NULL" };
        cols.push(format!("{} {}{null}", D.ident(f.name()), mysql_field_type(f, is_key(f.name()))?));
    }
    if let Some(keys) = keys {
        cols.push(format!("PRIMARY KEY ({})", keys.iter().map(|k| D.ident(k)).collect::<Vec<_>>().join(", ")));
    }
    Ok(format!("CREATE TABLE {} ({}) {TABLE_OPTIONS}", D.table(table), cols.join(", ")))
}

pub struct MysqlSink {
    pub url: String,
    pub table: TableName,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub schema: SchemaRef,
    pub staging: TableName,
    key: LedgerKey,
    rejects: RejectPolicy,
    /// The connection id of each partition's writer while it runs, for `KILL QUERY`.
    running: std::sync::Mutex<std::collections::HashMap<usize, u32>>,
    /// The source table's definition, for a table of a table set (see `with_carried`).
    carried: Option<CarriedTable>,
}

impl MysqlSink {
    pub fn new(
        url: &str,
        table: TableName,
        mode: WriteMode,
        create_if_missing: bool,
        schema: SchemaRef,
        key: LedgerKey,
        rejects: RejectPolicy,
    ) -> Self {
        let staging = staging_of(&table, &key.run_id);
        let url = url.replacen("mariadb://", "mysql://", 1);
        let running = std::sync::Mutex::new(std::collections::HashMap::new());
        Self { url, table, mode, create_if_missing, schema, staging, key, rejects, running, carried: None }
    }

    /// A table of a table set: when Flow creates the target (missing, or `mode replace`), it is
    /// created with the source's definition instead of from the Arrow schema.
    pub fn with_carried(mut self, carried: Option<CarriedTable>) -> Self {
        self.carried = carried;
        self
    }

    /// Creates the target with the source's definition and fills it from the staging table.
    /// MySQL commits each DDL statement on its own, so unlike the other modes this is not one
    /// transaction: a crash in the middle leaves the table for `--resume` to create again.
    fn publish_carried(&self, conn: &mut Conn, carried: &CarriedTable, exists: bool, record: String) -> Result<()> {
        let target = D.table(&self.table);
        let staging = D.table(&self.staging);
        let cols = self.schema.fields().iter().map(|f| D.ident(f.name())).collect::<Vec<_>>().join(", ");
        let run = |conn: &mut Conn, sql: &str| conn.query_drop(sql).map_err(|e| self.err("cannot publish into", &e));
        // Other tables' foreign keys may reference the old table; they are checked again when
        // the set's foreign keys are added after every table is published.
        run(conn, "SET SESSION FOREIGN_KEY_CHECKS = 0")?;
        if exists {
            run(conn, &format!("DROP TABLE {target}"))?;
        }
        for sql in &carried.create {
            run(conn, sql)?;
        }
        run(conn, &format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}"))?;
        for sql in &carried.after_load {
            run(conn, sql)?;
        }
        if let Some(crate::schema::SequenceReset::MysqlAutoIncrement { next_value_sql }) = &carried.sequence_reset {
            let next: Option<u64> =
                conn.query_first(next_value_sql).map_err(|e| self.err("cannot read the next id of", &e))?;
            run(conn, &super::ddl::auto_increment_sql(&self.table, next.unwrap_or(1).max(1)))?;
        }
        run(conn, &record)?;
        run(conn, &format!("DROP TABLE {staging}"))?;
        run(conn, "SET SESSION FOREIGN_KEY_CHECKS = 1")
    }

    pub fn refused(&self) -> u64 {
        self.rejects.refused()
    }

    /// `MySQL at URL: WHAT TARGET: REASON`; a server error in the server's words and code
    /// ([`super::error_text`]), never the driver's `MySqlError { ... }` form.
    fn err<E: std::fmt::Display + 'static>(&self, what: &str, e: &E) -> DataFusionError {
        let text = match (e as &dyn std::any::Any).downcast_ref::<mysql::Error>() {
            Some(e) => super::error_text(e),
            None => e.to_string(),
        };
        DataFusionError::Execution(format!(
            "MySQL at {}: {what} {}: {}",
            redact_url(&self.url),
            self.table,
            self.server_message(&text)
        ))
    }

    /// A server message as the user should read it: no password, and the target's name where
    /// the server named the staging table (a work table the user never created).
    fn server_message(&self, message: &str) -> String {
        scrub_secret(message, &self.url).replace(self.staging.table(), self.table.table())
    }

    /// Why MySQL refused one row, from its message: what the message says with the target
    /// named, and for text the column's character set cannot hold (error 1366, `Incorrect
    /// string value`, e.g. an emoji into a `utf8mb3` column) the way out.
    fn row_refusal(&self, e: &mysql::Error) -> String {
        let message = match e {
            mysql::Error::MySqlError(m) => self.server_message(&format!("MySQL error {}: {}", m.code, m.message)),
            other => self.server_message(&super::error_text(other)),
        };
        match e {
            mysql::Error::MySqlError(m) if m.code == 1366 && m.message.starts_with("Incorrect string value") => {
                format!(
                    "{message}; the column's character set cannot store this text (4-byte UTF-8 characters \
                     such as emoji need utf8mb4): convert the table with ALTER TABLE {} CONVERT TO CHARACTER SET utf8mb4",
                    D.table(&self.table)
                )
            }
            _ => message,
        }
    }

    /// A connection in strict mode: a value that does not fit its column is an error, never
    /// silently truncated or clamped.
    pub fn connect(&self) -> Result<Conn> {
        let opts = Opts::from_url(&self.url).map_err(|e| self.err("bad URL for", &e))?;
        let mut conn = super::connect(&opts).map_err(|f| {
            use crate::connect::connect_error::{ConnectError, mysql_reach};
            let detail = self.server_message(&super::error_text(&f.error));
            let hint = crate::connect::connection_hint(&detail);
            let message = format!("cannot connect to {}{}: {detail}; {hint}", redact_url(&self.url), f.attempts_note());
            ConnectError::new(mysql_reach(&f.error), message).into_datafusion()
        })?;
        conn.query_drop("SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))")
            .map_err(|e| self.err("cannot set strict mode for", &e))?;
        Ok(conn)
    }

    /// The target's column names, when it exists.
    fn target_columns(&self, conn: &mut Conn) -> Result<Vec<String>> {
        let stmt = conn
            .prep(format!("SELECT * FROM {} LIMIT 0", D.table(&self.table)))
            .map_err(|e| self.err("cannot inspect", &e))?;
        Ok(stmt.columns().iter().map(|c| c.name_str().to_string()).collect())
    }

    fn table_exists(&self, conn: &mut Conn, table: &TableName) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {} LIMIT 0", D.table(table));
        match conn.query_drop(&sql) {
            Ok(()) => Ok(true),
            Err(mysql::Error::MySqlError(e)) if e.code == 1146 => Ok(false),
            Err(e) => Err(self.err("cannot look up", &e)),
        }
    }

    /// What is written into the target (see `connect::target_columns`): every column, unless
    /// the target exists (and is not replaced) with generated columns, whose source values are
    /// left out. `Err` when the target cannot take this write at all.
    fn write_plan(&self, conn: &mut Conn) -> Result<WritePlan> {
        if self.mode == WriteMode::Replace || !self.table_exists(conn, &self.table)? {
            return Ok(WritePlan::all(&self.schema));
        }
        let special = target_columns::read_mysql(conn, &self.table).map_err(|e| self.err("cannot inspect", &e))?;
        WritePlan::decide(&self.table, &target_columns::names(&self.schema), &self.mode, &special)
            .map_err(|message| DataFusionError::Execution(format!("MySQL at {}: {message}", redact_url(&self.url))))
    }

    /// The server's `max_allowed_packet`, in bytes: the largest statement (with its values) it
    /// takes, and so the largest row.
    fn max_allowed_packet(&self, conn: &mut Conn) -> Result<usize> {
        let bytes: Option<u64> = conn
            .query_first("SELECT @@max_allowed_packet")
            .map_err(|e| self.err("cannot read max_allowed_packet for", &e))?;
        Ok(bytes.map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(usize::MAX)))
    }

    fn keys(&self) -> Option<&[String]> {
        match &self.mode {
            WriteMode::Upsert { keys } => Some(keys.as_slice()),
            _ => None,
        }
    }

    /// The ledger rows of a pipeline; none when the ledger does not exist yet.
    pub fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        let mut conn = self.connect()?;
        let ledger = ledger_table(&self.table);
        if !self.table_exists(&mut conn, &ledger)? {
            return Ok(Vec::new());
        }
        let rows: Vec<mysql::Row> = conn
            .query(select_sql(D, &ledger, &self.key.pipeline))
            .map_err(|e| self.err("cannot read the ledger of", &e))?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let cols: Vec<Option<String>> =
                    (0..9).map(|i| row.get_opt::<Option<String>, usize>(i).and_then(|v| v.ok()).flatten()).collect();
                parse_row(&cols)
            })
            .collect())
    }

    /// Checks the target, cleans up earlier runs and starts (or checks, on a resume) the
    /// staging table. `false`: a resume found its staging table changed and starts over.
    pub fn prepare(&self, prep: &Preparation) -> Result<bool> {
        let mut conn = self.connect()?;
        let exists = self.table_exists(&mut conn, &self.table)?;
        if !exists && !self.create_if_missing {
            return Err(DataFusionError::Execution(format!(
                "table {} does not exist at {} and the sink says `create never`",
                self.table,
                redact_url(&self.url)
            )));
        }
        let ledger = ledger_table(&self.table);
        let run = |conn: &mut Conn, sql: &str, what: &str| conn.query_drop(sql).map_err(|e| self.err(what, &e));
        // A write the target cannot take is refused before anything is created.
        if exists {
            self.write_plan(&mut conn)?;
        }
        if let Some(table) = self.rejects.table() {
            let create = ensure_ledger_sql(&create_table_sql(table, &rejects::reject_schema(), None)?);
            run(&mut conn, &create, "cannot create the reject table of")?;
        }
        run(
            &mut conn,
            &ensure_ledger_sql(&create_table_sql(&ledger, &ledger_schema(), None)?),
            "cannot create the ledger of",
        )?;
        for sql in cleanup_sql(D, &self.table, &self.key, prep) {
            run(&mut conn, &sql, "cannot clean up earlier runs of")?;
        }
        if let Some(expected) = prep.resume_rows {
            let held: std::result::Result<Option<u64>, _> = conn.query_first(count_sql(D, &self.staging));
            if held.ok().flatten() == Some(expected) {
                return Ok(true);
            }
        }
        // Into an existing table, stage with the target's own columns, so a value that does not
        // fit is refused while staging, row by row, rather than failing the whole publish. Its
        // generated columns are generated in the staging table too (`LIKE` keeps them).
        let create = if exists && self.mode != WriteMode::Replace {
            let columns = self.target_columns(&mut conn)?;
            let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
            require_columns(&self.table, &self.schema, &columns)?;
            format!("CREATE TABLE {} LIKE {}", D.table(&self.staging), D.table(&self.table))
        } else {
            create_table_sql(&self.staging, &self.schema, self.keys())?
        };
        for sql in restart_sql(D, &self.table, &self.key, prep, &create) {
            run(&mut conn, &sql, "cannot create the staging table of")?;
        }
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
        let mut conn = self.connect()?;
        if let Ok(mut running) = self.running.lock() {
            running.insert(partition, conn.connection_id());
        }
        let written = self.write_partition_on(&mut conn, partition, detail, next, on_rows);
        if let Ok(mut running) = self.running.lock() {
            running.remove(&partition);
        }
        written
    }

    /// Stops the statement a partition's writer is running, with `KILL QUERY` from a second
    /// connection; the writer then sees its input end and rolls back.
    pub fn cancel(&self, partition: usize) {
        let Some(id) = self.running.lock().ok().and_then(|r| r.get(&partition).copied()) else { return };
        let pending = crate::connect::cancel::Pending::new();
        let url = self.url.clone();
        std::thread::spawn(move || {
            let _pending = pending;
            if let Ok(opts) = Opts::from_url(&url)
                && let Ok(mut conn) = Conn::new(opts)
            {
                let _ = conn.query_drop(format!("KILL QUERY {id}"));
            }
        });
    }

    fn write_partition_on(
        &self,
        conn: &mut Conn,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        // Read on the writer's own connection: the driver may run apart from `prepare`.
        let write = self.write_plan(conn)?;
        let packet = self.max_allowed_packet(conn)?;
        let mut tx =
            conn.start_transaction(mysql::TxOpts::default()).map_err(|e| self.err("cannot begin writing", &e))?;
        let mut checksum = RowChecksum::default();
        let mut seen = 0u64;
        while let Some(batch) = next()? {
            let bad = self.insert_batch(&mut tx, &batch, partition, seen, &write, packet)?;
            seen += batch.num_rows() as u64;
            let (good, rejected) = self.rejects.settle(&batch, &bad, D, &self.key)?;
            if let Some(sql) = rejected {
                tx.query_drop(sql).map_err(|e| self.err("cannot write rejected rows of", &e))?;
            }
            checksum.add_batch(&good)?;
            on_rows(good.num_rows() as u64);
        }
        let row = self.key.row(Event::Partition, partition as i64, detail, checksum.rows(), &checksum.hex());
        tx.query_drop(insert_sql(D, &ledger_table(&self.table), &row))
            .map_err(|e| self.err("cannot record a partition of", &e))?;
        tx.commit().map_err(|e| self.err("cannot commit rows for", &e))?;
        Ok(checksum.rows())
    }

    /// Inserts one batch with multi-row statements; returns the rows that could not be
    /// converted or that MySQL refused. A refused statement changes nothing (strict mode), so
    /// its rows are retried one by one to find the bad ones. Only `write`'s columns are sent.
    ///
    /// A statement travels in one packet, which the server takes only up to its
    /// `max_allowed_packet` (`packet`, in bytes): statements are cut to fit it, and a row that
    /// cannot fit even alone is refused by row and by its largest column, with both sizes.
    fn insert_batch(
        &self,
        conn: &mut impl Queryable,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
        write: &WritePlan,
        packet: usize,
    ) -> Result<Vec<BadRow>> {
        let width = write.columns.len().max(1);
        let rows_per_statement = (MAX_PLACEHOLDERS / width).clamp(1, 2000);
        let budget = packet.saturating_sub(PACKET_MARGIN);
        let mut bad = Vec::new();
        // Convert first: a value MySQL cannot hold (NaN, a year past 9999) never reaches it.
        // Decimal text is checked against DECIMAL(65,30) here because MySQL would round extra
        // fractional digits with only a note, even in strict mode.
        let decimal_text: Vec<bool> = self.schema.fields().iter().map(|f| decimal_text::is_decimal_text(f)).collect();
        let (decimal_p, decimal_s) = decimal_text::MYSQL_DECIMAL;
        let mut rows: Vec<(usize, Vec<Value>, usize)> = Vec::with_capacity(batch.num_rows());
        'rows: for row in 0..batch.num_rows() {
            let mut values = Vec::with_capacity(width);
            for &i in &write.columns {
                let column = batch.column(i);
                let value = value_at(column.as_ref(), row).and_then(|v| match &v {
                    Value::Bytes(text) if decimal_text.get(i).copied().unwrap_or(false) => {
                        decimal_text::fits_decimal(&String::from_utf8_lossy(text), decimal_p, decimal_s).map(|()| v)
                    }
                    _ => Ok(v),
                });
                match value {
                    Ok(v) => values.push(v),
                    Err(e) => {
                        let name = self.schema.field(i).name();
                        bad.push(BadRow::new(batch, row, partition, first_row, Some(name), &e));
                        if self.rejects.fails() {
                            return Ok(bad);
                        }
                        continue 'rows;
                    }
                }
            }
            let size = row_packet_bytes(&values);
            if EXECUTE_HEADER + size > budget {
                let (largest, bytes) = write
                    .columns
                    .iter()
                    .zip(&values)
                    .map(|(&i, v)| (self.schema.field(i).name(), value_bytes(v)))
                    .max_by_key(|(_, bytes)| *bytes)
                    .unwrap_or((self.schema.field(0).name(), 0));
                let message = format!(
                    "the row takes {} bytes in an INSERT packet, over the server's max_allowed_packet of {packet} \
                     bytes (Flow keeps {PACKET_MARGIN} of them for the statement); its column {largest} alone is \
                     {bytes} bytes. Raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = ..., \
                     and in its configuration) to write this row",
                    EXECUTE_HEADER + size
                );
                bad.push(BadRow::new(batch, row, partition, first_row, Some(largest), &message));
                if self.rejects.fails() {
                    return Ok(bad);
                }
                continue 'rows;
            }
            rows.push((row, values, size));
        }
        let columns = write.column_list(&self.schema, D);
        let mut start = 0;
        while start < rows.len() {
            // As many rows as fit the placeholders and the packet; one at least (it fits alone).
            let mut end = start + 1;
            let mut bytes = EXECUTE_HEADER + rows[start].2;
            while end < rows.len() && end - start < rows_per_statement && bytes + rows[end].2 <= budget {
                bytes += rows[end].2;
                end += 1;
            }
            let chunk = &rows[start..end];
            start = end;
            let params: Vec<Value> = chunk.iter().flat_map(|(_, v, _)| v.iter().cloned()).collect();
            match conn.exec_drop(self.insert_sql(&columns, width, chunk.len()), params) {
                Ok(()) => continue,
                Err(e) if !refuses_the_row(&e) => return Err(self.err("cannot write rows for", &e)),
                Err(_) => {}
            }
            for (row, values, _) in chunk {
                if let Err(e) = conn.exec_drop(self.insert_sql(&columns, width, 1), values.clone()) {
                    if !refuses_the_row(&e) {
                        return Err(self.err("cannot write rows for", &e));
                    }
                    let message = self.row_refusal(&e);
                    let column = refused_column(&message);
                    bad.push(BadRow::new(batch, *row, partition, first_row, column.as_deref(), &message));
                    if self.rejects.fails() {
                        return Ok(bad);
                    }
                }
            }
        }
        Ok(bad)
    }

    /// A `rows`-row `INSERT` of `columns` (quoted, `width` of them) into the staging table.
    fn insert_sql(&self, columns: &str, width: usize, rows: usize) -> String {
        let row_marks = format!("({})", vec!["?"; width].join(", "));
        format!(
            "INSERT INTO {} ({columns}) VALUES {}",
            D.table(&self.staging),
            vec![row_marks.as_str(); rows].join(", ")
        )
    }

    /// Moves the staging rows into the target and records `publish`. A crash between a
    /// `RENAME` (which MySQL commits on its own) and the ledger row makes a resume start the
    /// sink over, which ends in the same target.
    pub fn publish(&self, row: &LedgerRow) -> Result<()> {
        let mut conn = self.connect()?;
        let exists = self.table_exists(&mut conn, &self.table)?;
        let target = D.table(&self.table);
        let staging = D.table(&self.staging);
        let record = insert_sql(D, &ledger_table(&self.table), row);
        let write = if exists { self.write_plan(&mut conn)? } else { WritePlan::all(&self.schema) };
        let cols = write.column_list(&self.schema, D);
        let run = |conn: &mut Conn, sql: String| conn.query_drop(sql).map_err(|e| self.err("cannot publish into", &e));
        if let Some(carried) = self.carried.as_ref().filter(|_| !exists || self.mode == WriteMode::Replace) {
            return self.publish_carried(&mut conn, carried, exists, record);
        }
        if !exists || self.mode == WriteMode::Replace {
            // RENAME TABLE with several pairs is atomic: readers see the old or the new table.
            if exists {
                let old = D.table(&old_of(&self.table, &self.key.run_id));
                run(&mut conn, format!("RENAME TABLE {target} TO {old}, {staging} TO {target}"))?;
                run(&mut conn, record)?;
                return run(&mut conn, format!("DROP TABLE {old}"));
            }
            run(&mut conn, format!("RENAME TABLE {staging} TO {target}"))?;
            return run(&mut conn, record);
        }
        let insert = format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}");
        let statement = match self.keys() {
            Some(keys) => {
                let updates: Vec<String> = self
                    .schema
                    .fields()
                    .iter()
                    .filter(|f| !keys.contains(f.name()) && write.writes(&self.schema, f.name()))
                    .map(|f| format!("{0} = VALUES({0})", D.ident(f.name())))
                    .collect();
                let first = D.ident(&keys[0]);
                let action = if updates.is_empty() { format!("{first} = {first}") } else { updates.join(", ") };
                format!("{insert} ON DUPLICATE KEY UPDATE {action}")
            }
            None => insert,
        };
        let mut tx =
            conn.start_transaction(mysql::TxOpts::default()).map_err(|e| self.err("cannot begin publishing", &e))?;
        if self.mode == WriteMode::Truncate {
            tx.query_drop(format!("DELETE FROM {target}")).map_err(|e| self.err("cannot empty", &e))?;
        }
        tx.query_drop(statement).map_err(|e| self.err("cannot publish into", &e))?;
        tx.query_drop(record).map_err(|e| self.err("cannot record publishing", &e))?;
        tx.commit().map_err(|e| self.err("cannot commit publishing", &e))?;
        run(&mut conn, format!("DROP TABLE {staging}"))
    }
}

/// Bytes of a `COM_STMT_EXECUTE` packet before its parameters: command, statement id, flags,
/// iteration count and the new-parameters flag (MySQL client/server protocol).
const EXECUTE_HEADER: usize = 11;

/// Bytes one row's values take in a `COM_STMT_EXECUTE` packet: each value's type (2 bytes), its
/// NULL bit and its binary encoding.
fn row_packet_bytes(values: &[Value]) -> usize {
    values.len().div_ceil(8) + values.iter().map(value_packet_bytes).sum::<usize>()
}

/// Bytes of a value itself: the text or bytes, or its binary encoding.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Bytes(b) => b.len(),
        other => value_packet_bytes(other) - 2,
    }
}

/// Bytes one parameter takes in a `COM_STMT_EXECUTE` packet: its type, then its value in the
/// binary protocol (a length-encoded string for text and bytes; dates and times at their
/// longest form).
fn value_packet_bytes(value: &Value) -> usize {
    2 + match value {
        Value::NULL => 0,
        Value::Bytes(b) => {
            let prefix = match b.len() {
                0..251 => 1,
                251..65_536 => 3,
                65_536..16_777_216 => 4,
                _ => 9,
            };
            prefix + b.len()
        }
        Value::Int(_) | Value::UInt(_) | Value::Double(_) => 8,
        Value::Float(_) => 4,
        Value::Date(..) => 12,
        Value::Time(..) => 13,
    }
}

/// Whether an error is about the row (its values or a constraint), not the connection or the
/// server: only those may be skipped or rejected.
fn refuses_the_row(e: &mysql::Error) -> bool {
    match e {
        // Lock waits, deadlocks and a server going away are not the row's fault.
        // 1317: the statement was killed (a cancelled run).
        mysql::Error::MySqlError(e) => !matches!(e.code, 1040 | 1053 | 1205 | 1213 | 1317 | 2006 | 2013),
        _ => false,
    }
}

/// The column a MySQL error names: `... for column 'x' at row 1`, or
/// `... for column `db`.`t`.`x` at row 1`.
fn refused_column(message: &str) -> Option<String> {
    let rest = &message[message.find("column ")? + "column ".len()..];
    let name = match rest.chars().next()? {
        '\'' => rest[1..].split('\'').next()?,
        '`' => rest.split(" at row").next()?.rsplit('.').next()?.trim_matches('`'),
        _ => return None,
    };
    Some(name.to_string())
}

/// The largest span a MySQL `TIME` holds, in microseconds: `838:59:59` (the fraction cannot
/// go beyond it: `838:59:59.000001` is out of range).
const MYSQL_TIME_MAX_MICROS: i128 = 3_020_399 * 1_000_000;

/// A signed span in microseconds as a MySQL `TIME` parameter; beyond ±838:59:59 is refused
/// (MySQL would clamp it).
fn mysql_time(micros: i128) -> std::result::Result<Value, String> {
    let magnitude = micros.abs();
    let seconds = magnitude / 1_000_000;
    if magnitude > MYSQL_TIME_MAX_MICROS {
        let shown = i64::try_from(micros).map_or_else(|_| format!("{micros} µs"), super::reader::duration_text);
        return Err(format!("{shown} is outside MySQL TIME's range -838:59:59 to 838:59:59"));
    }
    let hours = seconds / 3600;
    Ok(Value::Time(
        micros < 0,
        (hours / 24) as u32,
        (hours % 24) as u8,
        (seconds / 60 % 60) as u8,
        (seconds % 60) as u8,
        (magnitude % 1_000_000) as u32,
    ))
}

/// One Arrow value as a MySQL parameter. NaN and infinities have no MySQL representation.
fn value_at(array: &dyn Array, row: usize) -> std::result::Result<Value, String> {
    use arrow::datatypes::*;
    if array.is_null(row) {
        return Ok(Value::NULL);
    }
    let float = |v: f64| {
        if v.is_finite() {
            Ok(Value::Double(v))
        } else {
            Err(format!("{v} cannot be stored in MySQL (no NaN or infinity)"))
        }
    };
    Ok(match array.data_type() {
        DataType::Boolean => Value::Int(i64::from(array.as_boolean().value(row))),
        DataType::Int8 => Value::Int(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => Value::Int(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => Value::Int(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => Value::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::UInt(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => Value::UInt(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => Value::UInt(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => Value::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).to_f64())?,
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(row).into())?,
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row))?,
        DataType::Decimal128(_, _) => {
            Value::Bytes(array.as_primitive::<Decimal128Type>().value_as_string(row).into_bytes())
        }
        DataType::Decimal256(_, _) => {
            Value::Bytes(array.as_primitive::<Decimal256Type>().value_as_string(row).into_bytes())
        }
        DataType::Utf8 => Value::Bytes(array.as_string::<i32>().value(row).as_bytes().to_vec()),
        DataType::LargeUtf8 => Value::Bytes(array.as_string::<i64>().value(row).as_bytes().to_vec()),
        DataType::Utf8View => Value::Bytes(array.as_string_view().value(row).as_bytes().to_vec()),
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Value::Bytes(array.as_binary_view().value(row).to_vec()),
        DataType::FixedSizeBinary(_) => Value::Bytes(array.as_fixed_size_binary().value(row).to_vec()),
        DataType::Date32 | DataType::Date64 => {
            let d = match array.data_type() {
                DataType::Date32 => array.as_primitive::<Date32Type>().value_as_date(row),
                _ => array.as_primitive::<Date64Type>().value_as_date(row),
            }
            .ok_or("date out of range")?;
            let year =
                u16::try_from(d.year()).map_err(|_| format!("year {} is outside MySQL's DATE range", d.year()))?;
            Value::Date(year, d.month() as u8, d.day() as u8, 0, 0, 0, 0)
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros: i64 = match array.data_type() {
                DataType::Time32(TimeUnit::Second) => {
                    i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000
                }
                DataType::Time32(_) => i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000,
                DataType::Time64(TimeUnit::Nanosecond) => {
                    array.as_primitive::<Time64NanosecondType>().value(row) / 1_000
                }
                _ => array.as_primitive::<Time64MicrosecondType>().value(row),
            };
            let (secs, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
            Value::Time(false, 0, (secs / 3600) as u8, ((secs / 60) % 60) as u8, (secs % 60) as u8, us as u32)
        }
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => i128::from(array.as_primitive::<DurationSecondType>().value(row)) * 1_000_000,
                TimeUnit::Millisecond => i128::from(array.as_primitive::<DurationMillisecondType>().value(row)) * 1_000,
                TimeUnit::Microsecond => i128::from(array.as_primitive::<DurationMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => {
                    let nanos = array.as_primitive::<DurationNanosecondType>().value(row);
                    if nanos % 1_000 != 0 {
                        return Err(format!(
                            "{nanos} ns has a fraction of a microsecond, which MySQL TIME cannot keep"
                        ));
                    }
                    i128::from(nanos / 1_000)
                }
            };
            mysql_time(v)?
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row).checked_mul(1_000_000),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row).checked_mul(1_000),
                TimeUnit::Microsecond => Some(array.as_primitive::<TimestampMicrosecondType>().value(row)),
                TimeUnit::Nanosecond => Some(array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000),
            }
            .ok_or("timestamp out of range")?;
            let t = chrono::DateTime::from_timestamp_micros(micros).ok_or("timestamp out of range")?.naive_utc();
            let year =
                u16::try_from(t.year()).map_err(|_| format!("year {} is outside MySQL's DATETIME range", t.year()))?;
            Value::Date(
                year,
                t.month() as u8,
                t.day() as u8,
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond() / 1_000,
            )
        }
        other => return Err(format!("type {other} cannot be written to MySQL")),
    })
}
