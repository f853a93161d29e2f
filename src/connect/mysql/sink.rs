//! MySQL/MariaDB sink: the staged-table protocol (`connect::staged`) on the `mysql` crate. What
//! is MySQL's own is here: strict-mode sessions, rows into the staging table with `LOAD DATA
//! LOCAL INFILE` streamed from memory (`load_data`) or, when the server refuses that or warns
//! about a batch, multi-row prepared `INSERT`s cut to the server's `max_allowed_packet`, a
//! staging table made `LIKE` an existing target, and publishing:
//!
//! | mode     | publish                                                                  |
//! |----------|--------------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging` (one atomic statement)      |
//! | replace  | `RENAME TABLE target TO old, staging TO target` (atomic), drop `old`     |
//! | truncate | `DELETE FROM target` and insert, in one transaction                      |
//! | upsert   | `UPDATE target JOIN staging ON keys`, then `INSERT ... SELECT` of new keys |
//!
//! MySQL commits each DDL statement on its own (the rename of `replace`, creating a table of a
//! table set): a crash between it and the ledger row makes a resume start the sink over, which
//! ends in the same target.

use arrow::array::Array;
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use mysql::consts::ColumnType;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;

use super::load_data::{self, LoadData};
use super::params::{value_at, value_packet_bytes};
use super::types::MYSQL_DECIMAL;
use crate::connect::decimal_text;
use crate::connect::foreign_keys::KeyFailure;
use crate::connect::rejects::BadRow;
use crate::connect::staged::{
    Canceller, PartitionLock, Renames, RowLoader, SqlSession, StagedBackend, StagedTarget, Step, old_of,
};
use crate::connect::target_columns::{ExistingTable, WritePlan};
use crate::diagnostics::{Failure, codes};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;
use crate::plan::table_set::ForeignKeyStep;
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
/// `connect::mysql::types::bit_length`) is `BIT(n)` again, so that `WHERE active = 1` means
/// what it meant on the source.
pub fn mysql_field_type(field: &Field, is_key: bool) -> Result<String> {
    // Exact decimal text (an unconstrained numeric): MySQL's widest decimal; `insert_batch`
    // refuses the values it would not keep exactly.
    if decimal_text::is_decimal_text(field) {
        let (p, s) = MYSQL_DECIMAL;
        return Ok(format!("DECIMAL({p},{s})"));
    }
    match super::types::bit_length(field) {
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
            let message = format!("cannot create a MySQL column for Arrow type {other}; cast it first");
            return Err(Failure::new(codes::sink::UNSUPPORTED_TYPE, message).into_datafusion());
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

/// The server a MySQL sink writes.
pub struct MysqlBackend {
    url: String,
    /// Whether rows may still be sent with `LOAD DATA LOCAL INFILE`: cleared, for the rest of
    /// the run, the first time the server refuses it (`local_infile=0`).
    local_infile: Arc<AtomicBool>,
}

impl MysqlBackend {
    pub fn new(url: &str) -> Self {
        Self { url: url.replacen("mariadb://", "mysql://", 1), local_infile: Arc::new(AtomicBool::new(true)) }
    }
}

/// One strict-mode connection.
pub struct MysqlSession {
    conn: Conn,
    url: String,
    table: TableName,
    staging: TableName,
}

impl MysqlSession {
    /// `MySQL at URL: WHAT TARGET: REASON`; a server error in the server's words and code
    /// ([`super::error_text`]), never the driver's `MySqlError { ... }` form. A [`Failure`] whose
    /// code is the SQLSTATE's: class 22 (data exception) and 23 (integrity constraint) refuse a
    /// row (`flow::sink::value_refused`, with the column the server names); the rest is
    /// `flow::sink::write_failed`. MySQL has no error for an upsert without a unique key: `ON
    /// DUPLICATE KEY UPDATE` then inserts.
    fn err(&self, what: &str, e: &mysql::Error) -> DataFusionError {
        let text = self.server_message(&super::error_text(e));
        let message = format!("MySQL at {}: {what} {}: {text}", redact_url(&self.url), self.table);
        match e {
            mysql::Error::MySqlError(m) if m.state.starts_with("22") || m.state.starts_with("23") => {
                let failure = Failure::new(codes::sink::VALUE_REFUSED, message);
                match refused_column(&text) {
                    Some(column) => failure.column(column),
                    None => failure,
                }
            }
            _ => Failure::new(codes::sink::WRITE_FAILED, message),
        }
        .into_datafusion()
    }

    /// A server message as the user should read it: no password, and the target's name where
    /// the server named the staging table (a work table the user never created).
    fn server_message(&self, message: &str) -> String {
        scrub_secret(message, &self.url).replace(self.staging.table(), self.table.table())
    }

    /// Why MySQL refused one row: what the server says with the target named, and the column
    /// it names. Error 1366 (ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: a value the column cannot take)
    /// on a column whose character set is not utf8mb4 ([`Self::narrow_charset`]) is text that
    /// character set cannot store (e.g. an emoji into a `utf8mb3` column): the way out is said.
    fn row_refusal(&mut self, e: &mysql::Error) -> (String, Option<String>) {
        let message = match e {
            mysql::Error::MySqlError(m) => self.server_message(&format!("MySQL error {}: {}", m.code, m.message)),
            other => self.server_message(&super::error_text(other)),
        };
        let column = refused_column(&message);
        let narrow = match (e, &column) {
            (mysql::Error::MySqlError(m), Some(column)) if m.code == 1366 => self.narrow_charset(column),
            _ => false,
        };
        if !narrow {
            return (message, column);
        }
        let message = format!(
            "{message}; the column's character set cannot store this text (4-byte UTF-8 characters such as emoji need \
             utf8mb4): convert the table with ALTER TABLE {} CONVERT TO CHARACTER SET utf8mb4",
            D.table(&self.table)
        );
        (message, column)
    }

    /// Whether `column` of the staging table (made `LIKE` an existing target, so with its
    /// character sets) holds text in a character set other than utf8mb4, the one that stores
    /// every UTF-8 character Flow sends. `false` for a column without a character set (not
    /// text) or one that cannot be looked up.
    fn narrow_charset(&mut self, column: &str) -> bool {
        let sql = "SELECT CHARACTER_SET_NAME FROM information_schema.COLUMNS \
                   WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = ?";
        let staging = (self.staging.schema(), self.staging.table(), column);
        let charset: Option<Option<String>> = self.conn.exec_first(sql, staging).ok().flatten();
        matches!(charset, Some(Some(set)) if !set.eq_ignore_ascii_case("utf8mb4"))
    }

    /// The server's `max_allowed_packet`, in bytes: the largest statement (with its values) it
    /// takes, and so the largest row.
    fn max_allowed_packet(&mut self) -> Result<usize> {
        let bytes: Option<u64> = self
            .conn
            .query_first("SELECT @@max_allowed_packet")
            .map_err(|e| self.err("cannot read max_allowed_packet for", &e))?;
        Ok(bytes.map_or(usize::MAX, |b| usize::try_from(b).unwrap_or(usize::MAX)))
    }

    /// The staging table's `LOAD DATA` statement for the written columns, when rows may go
    /// that way: the table is InnoDB (so a batch the server warns about can be rolled back to
    /// a savepoint; a non-transactional engine would keep its truncated values) and each
    /// column's values have a text form the server stores as it stores the `INSERT` path's
    /// values ([`LoadData::plan`]). `None`: `INSERT`s.
    fn load_data(&mut self, t: &StagedTarget, write: &WritePlan) -> Result<Option<LoadData>> {
        let sql = "SELECT (SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) \
                   AND TABLE_NAME = ?), @@SESSION.sql_mode LIKE '%NO_BACKSLASH_ESCAPES%'";
        let staging = (self.staging.schema(), self.staging.table());
        let row: Option<(Option<String>, bool)> =
            self.conn.exec_first(sql, staging).map_err(|e| self.err("cannot inspect", &e))?;
        let Some((Some(engine), backslash_is_plain)) = row else { return Ok(None) };
        if !engine.eq_ignore_ascii_case("InnoDB") {
            return Ok(None);
        }
        let columns = write.column_list(&t.schema, D);
        let probe = format!("SELECT {columns} FROM {} LIMIT 0", D.table(&t.staging));
        let stmt = self.conn.prep(probe).map_err(|e| self.err("cannot inspect", &e))?;
        let targets: Vec<ColumnType> = stmt.columns().iter().map(|c| c.column_type()).collect();
        let fields: Vec<&Field> = write.columns.iter().map(|&i| t.schema.field(i)).collect();
        Ok(LoadData::plan(&t.staging, &fields, &targets, backslash_is_plain))
    }
}

impl SqlSession for MysqlSession {
    fn execute(&mut self, sql: &str, step: Step) -> Result<()> {
        self.conn.query_drop(sql).map_err(|e| self.err(step.phrase(), &e))
    }

    fn query_u64(&mut self, sql: &str, step: Step) -> Result<Option<u64>> {
        let value: Option<Option<u64>> = self.conn.query_first(sql).map_err(|e| self.err(step.phrase(), &e))?;
        Ok(value.flatten())
    }

    fn query_text(&mut self, sql: &str, step: Step) -> Result<Vec<Vec<Option<String>>>> {
        let rows: Vec<mysql::Row> = self.conn.query(sql).map_err(|e| self.err(step.phrase(), &e))?;
        Ok(rows
            .iter()
            .map(|row| {
                (0..row.len()).map(|i| row.get_opt::<Option<String>, usize>(i).and_then(|v| v.ok()).flatten()).collect()
            })
            .collect())
    }

    fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>> {
        match self.conn.prep(format!("SELECT * FROM {} LIMIT 0", D.table(table))) {
            Ok(stmt) => Ok(Some(stmt.columns().iter().map(|c| c.name_str().to_string()).collect())),
            Err(mysql::Error::MySqlError(e)) if e.code == 1146 => Ok(None),
            Err(e) => Err(self.err(Step::Inspect.phrase(), &e)),
        }
    }

    /// `KILL QUERY` of this connection's statement, from a second connection.
    fn canceller(&self) -> Option<Canceller> {
        let id = self.conn.connection_id();
        let url = self.url.clone();
        Some(Box::new(move || {
            let pending = crate::connect::cancel::Pending::new();
            std::thread::spawn(move || {
                let _pending = pending;
                if let Ok(opts) = Opts::from_url(&url)
                    && let Ok(mut conn) = Conn::new(opts)
                {
                    let _ = conn.query_drop(format!("KILL QUERY {id}"));
                }
            });
        }))
    }
}

impl StagedBackend for MysqlBackend {
    type Session = MysqlSession;
    type Loader = MysqlLoader;
    const DIALECT: Dialect = D;
    const RENAMES: Renames = Renames::ToReplaceAndCreate;

    fn name(&self) -> String {
        format!("MySQL at {}", redact_url(&self.url))
    }

    fn location(&self) -> String {
        format!("at {}", redact_url(&self.url))
    }

    /// A connection in strict mode: a value that does not fit its column is an error, never
    /// silently truncated or clamped.
    fn open(&self, target: &StagedTarget) -> Result<MysqlSession> {
        let scrub =
            |message: &str| scrub_secret(message, &self.url).replace(target.staging.table(), target.table.table());
        let opts = Opts::from_url(&self.url).map_err(|e| {
            let message =
                format!("MySQL at {}: bad URL for {}: {}", redact_url(&self.url), target.table, scrub(&e.to_string()));
            Failure::new(codes::connection::BAD_URL, message).into_datafusion()
        })?;
        let conn = super::connect(&opts).map_err(|f| {
            use crate::connect::connect_error::ConnectError;
            let detail = scrub(&super::error_text(&f.error));
            let hint = super::check(&f.error, &self.url).hint();
            let message = format!("cannot connect to {}{}: {detail}; {hint}", redact_url(&self.url), f.attempts_note());
            ConnectError::new(super::reach(&f.error), message).into_datafusion()
        })?;
        let mut session =
            MysqlSession { conn, url: self.url.clone(), table: target.table.clone(), staging: target.staging.clone() };
        let strict = "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES'))";
        session.conn.query_drop(strict).map_err(|e| session.err("cannot set strict mode for", &e))?;
        Ok(session)
    }

    fn create_table_sql(&self, table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
        create_table_sql(table, schema, keys)
    }

    fn inexact(&self, field: &Field) -> Option<String> {
        let column = field.name();
        if decimal_text::is_decimal_text(field) {
            let (p, s) = MYSQL_DECIMAL;
            return Some(format!(
                "column `{column}`: a numeric without precision becomes DECIMAL({p},{s}), MySQL's widest decimal; a \
                 value with more than {} integer or {s} fractional digits, NaN or Infinity is refused by column, row \
                 and value",
                p - s
            ));
        }
        match field.data_type() {
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Some(format!(
                "column `{column}`: MySQL cannot store NaN or infinities; a row holding one fails the run"
            )),
            DataType::Timestamp(_, Some(_)) => {
                Some(format!("column `{column}`: MySQL DATETIME has no time zone; the UTC instant is stored"))
            }
            _ => None,
        }
    }

    fn column_type(&self, field: &Field, is_key: bool) -> Result<String> {
        mysql_field_type(field, is_key)
    }

    /// `GET_LOCK` is held by the connection, not the transaction (MySQL has no transaction-scoped
    /// named lock), so it is taken before `BEGIN` and released after the commit. Waits up to a
    /// day: the other writer of the partition ends by then or its connection is gone.
    fn partition_lock_sql(&self, name: &str) -> PartitionLock {
        PartitionLock::Session {
            acquire: format!("SELECT GET_LOCK({}, 86400)", D.string(name)),
            release: format!("DO RELEASE_LOCK({})", D.string(name)),
        }
    }

    fn replace_drops(&self) -> Option<&'static str> {
        Some("its column types are the mapping's above")
    }

    /// `explain` does not ask the server: it says the rule the run follows (see
    /// [`load_data`]); a run whose server refuses `LOCAL INFILE` says so on stderr.
    fn publish_summary(&self, mode: &WriteMode, target: &str) -> String {
        let load = "LOAD DATA LOCAL INFILE into a staging table (multi-row INSERTs when the server has \
                    local_infile=0, for a column without an exact text form, and for a batch the server warns about)";
        match mode {
            WriteMode::Append => format!("{load}, then INSERT INTO {target} SELECT ..."),
            WriteMode::Replace => format!("{load}, then RENAME TABLE it over {target} (atomic)"),
            WriteMode::Truncate => format!("{load}, then DELETE FROM {target} and insert, in one transaction"),
            WriteMode::Upsert { .. } => format!(
                "{load}, then UPDATE {target} JOIN staging on the keys and INSERT the rows whose keys are new, in one \
                 transaction"
            ),
        }
    }

    fn existing_table(&self, s: &mut MysqlSession, table: &TableName) -> Result<Option<ExistingTable>> {
        super::special_columns::read(&mut s.conn, table).map(Some).map_err(|e| s.err("cannot inspect", &e))
    }

    /// Into an existing table, stage with the target's own columns, so a value that does not fit
    /// is refused while staging, row by row, rather than failing the whole publish; its
    /// generated columns are generated in the staging table too (`LIKE` keeps them). Otherwise
    /// the staging table is created with the upsert key, as it is renamed into the target's place.
    fn staging_sql(&self, _s: &mut MysqlSession, t: &StagedTarget, target_exists: bool) -> Result<String> {
        if target_exists && t.mode != WriteMode::Replace {
            return Ok(format!("CREATE TABLE {} LIKE {}", D.table(&t.staging), D.table(&t.table)));
        }
        create_table_sql(&t.staging, &t.schema, t.keys())
    }

    fn loader(&self, s: &mut MysqlSession, t: &StagedTarget, write: WritePlan) -> Result<MysqlLoader> {
        let packet = s.max_allowed_packet()?;
        let bulk = if self.local_infile.load(Ordering::Relaxed) { s.load_data(t, &write)? } else { None };
        if let Some(bulk) = &bulk {
            s.conn.set_local_infile_handler(Some(bulk.handler()));
        }
        Ok(MysqlLoader { write, packet, bulk, local_infile: self.local_infile.clone() })
    }

    /// When the table is created: other tables' foreign keys may reference the old one; they
    /// are checked again when the set's foreign keys are added after every table is published.
    /// Rows appended to a kept table are checked against its keys as they go in.
    fn foreign_keys_off_sql(&self, created: bool) -> Option<&'static str> {
        created.then_some("SET SESSION FOREIGN_KEY_CHECKS = 0")
    }

    /// `INSERT ... ON DUPLICATE KEY UPDATE` would fire on any unique key of the target and
    /// update the row another unique key matched (MySQL manual, "INSERT ... ON DUPLICATE KEY
    /// UPDATE Statement"). So, in the publish transaction: the rows whose keys match are updated
    /// through a join on the keys, then the others are inserted, where a collision on another
    /// unique key fails as on PostgreSQL.
    fn upsert_sql(&self, t: &StagedTarget, insert: String, keys: &[String], updates: &[String]) -> Vec<String> {
        let (target, staging) = (D.table(&t.table), D.table(&t.staging));
        let matches = |left: &str| {
            keys.iter().map(|k| format!("{left}.{k} = {staging}.{k}", k = D.ident(k))).collect::<Vec<_>>().join(" AND ")
        };
        let mut out = Vec::new();
        if !updates.is_empty() {
            let set: Vec<String> = updates.iter().map(|c| format!("{target}.{c} = {staging}.{c}")).collect();
            out.push(format!("UPDATE {target} JOIN {staging} ON {} SET {}", matches(&target), set.join(", ")));
        }
        out.push(format!("{insert} WHERE NOT EXISTS (SELECT 1 FROM {target} AS _flow_t WHERE {})", matches("_flow_t")));
        out
    }

    /// `RENAME TABLE` with several pairs is atomic: readers see the old or the new table.
    fn rename_sql(&self, t: &StagedTarget, exists: bool) -> (Vec<String>, Vec<String>) {
        let (target, staging) = (D.table(&t.table), D.table(&t.staging));
        if !exists {
            return (vec![format!("RENAME TABLE {staging} TO {target}")], Vec::new());
        }
        let old = D.table(&old_of(&t.table, &t.key.run_id));
        (vec![format!("RENAME TABLE {target} TO {old}, {staging} TO {target}")], vec![format!("DROP TABLE {old}")])
    }

    fn set_next_value_sql(&self, table: &TableName, next: u64) -> Option<String> {
        Some(super::ddl::auto_increment_sql(table, next))
    }
}

/// Writes a partition's rows: `LOAD DATA LOCAL INFILE` per batch when it can ([`load_data`]),
/// multi-row prepared `INSERT`s otherwise.
pub struct MysqlLoader {
    /// The columns written (see `connect::target_columns`).
    write: WritePlan,
    /// The server's `max_allowed_packet`.
    packet: usize,
    /// The staging table's `LOAD DATA` statement; `None`: `INSERT`s only.
    bulk: Option<LoadData>,
    /// The backend's [`MysqlBackend::local_infile`].
    local_infile: Arc<AtomicBool>,
}

impl MysqlLoader {
    /// One row's values (the written columns'), checked as the `INSERT` path needs them, with
    /// their size in an `INSERT` packet; or the column and the reason the row is refused.
    ///
    /// A value MySQL cannot hold (NaN, a year past 9999) never reaches it. Decimal text is
    /// checked against DECIMAL(65,30) here because MySQL would round extra fractional digits
    /// with only a note, even in strict mode. A statement travels in one packet, which the
    /// server takes only up to its `max_allowed_packet` (`packet`, in bytes): a row that cannot
    /// fit even alone is refused by row and by its largest column, with both sizes; `LOAD DATA`
    /// refuses the same rows, so that both paths write the same rows.
    fn row_values(
        &self,
        t: &StagedTarget,
        batch: &RecordBatch,
        row: usize,
        decimal_text: &[bool],
    ) -> std::result::Result<(Vec<Value>, usize), (String, String)> {
        let (write, packet) = (&self.write, self.packet);
        let (decimal_p, decimal_s) = MYSQL_DECIMAL;
        let mut values = Vec::with_capacity(write.columns.len());
        for &i in &write.columns {
            let column = batch.column(i);
            let value = value_at(column.as_ref(), row).and_then(|v| match &v {
                Value::Bytes(text) if decimal_text.get(i).copied().unwrap_or(false) => {
                    decimal_text::fits_decimal(&String::from_utf8_lossy(text), decimal_p, decimal_s)?;
                    Ok(v)
                }
                _ => Ok(v),
            });
            match value {
                Ok(v) => values.push(v),
                Err(e) => return Err((t.schema.field(i).name().clone(), e.to_string())),
            }
        }
        let size = row_packet_bytes(&values);
        let budget = packet.saturating_sub(PACKET_MARGIN);
        if EXECUTE_HEADER + size > budget {
            let (largest, bytes) = write
                .columns
                .iter()
                .zip(&values)
                .map(|(&i, v)| (t.schema.field(i).name(), value_bytes(v)))
                .max_by_key(|(_, bytes)| *bytes)
                .unwrap_or((t.schema.field(0).name(), 0));
            let message = format!(
                "the row takes {} bytes in an INSERT packet, over the server's max_allowed_packet of {packet} \
                 bytes (Flow keeps {PACKET_MARGIN} of them for the statement); its column {largest} alone is \
                 {bytes} bytes. Raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = ..., \
                 and in its configuration) to write this row",
                EXECUTE_HEADER + size
            );
            return Err((largest.clone(), message));
        }
        Ok((values, size))
    }

    /// Loads the batch with `LOAD DATA LOCAL INFILE` after a savepoint (see [`load_data`]).
    /// `Some(bad)`: loaded, with the rows refused before sending (or, with `on error fail`,
    /// nothing sent and the first refused row). `None`: nothing of the batch stays (the server
    /// warned, loaded fewer rows than sent, or refused the statement): the caller sends it with
    /// `INSERT`s. A server that refuses `LOCAL INFILE` itself turns the bulk path off for the run.
    fn load_data(
        &mut self,
        s: &mut MysqlSession,
        t: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Option<Vec<BadRow>>> {
        let Some(bulk) = &self.bulk else { return Ok(None) };
        let decimal_text: Vec<bool> = t.schema.fields().iter().map(|f| decimal_text::is_decimal_text(f)).collect();
        let columns: Vec<&dyn Array> = self.write.columns.iter().map(|&i| batch.column(i).as_ref()).collect();
        let decimal: Vec<Option<(u32, u32)>> =
            self.write.columns.iter().map(|&i| decimal_text[i].then_some(MYSQL_DECIMAL)).collect();
        // `row_values`' packet check: header, NULL bitmap and values within the budget.
        let fixed = EXECUTE_HEADER + columns.len().div_ceil(8);
        let budget = self.packet.saturating_sub(PACKET_MARGIN);
        let mut bad = Vec::new();
        let sent = bulk.with_text(|text| {
            let mut sent = 0u64;
            for row in 0..batch.num_rows() {
                let start = text.len();
                match bulk.push_arrays(text, &columns, &decimal, row) {
                    Ok(size) if fixed + size <= budget => {
                        sent += 1;
                        continue;
                    }
                    _ => text.truncate(start),
                }
                // Refused: the `INSERT` path's check names the column and the reason.
                match self.row_values(t, batch, row, &decimal_text) {
                    Ok((values, _)) => {
                        bulk.push_row(text, &values);
                        sent += 1;
                    }
                    Err((column, message)) => {
                        bad.push(BadRow::new(batch, row, partition, first_row, Some(&column), &message));
                        if t.rejects.fails() {
                            return None;
                        }
                    }
                }
            }
            Some(sent)
        });
        let sent = match sent {
            Some(sent) if sent > 0 => sent,
            _ => return Ok(Some(bad)),
        };
        s.execute(load_data::SAVEPOINT, Step::WriteRows)?;
        crate::connect::sql_log::record("mysql", crate::connect::sql_log::StatementKind::Execute, &bulk.sql);
        match s.conn.query_drop(&bulk.sql) {
            Ok(()) if s.conn.warnings() == 0 && s.conn.affected_rows() == sent => return Ok(Some(bad)),
            Ok(()) => {}
            Err(e) if load_data::refuses_local_infile(&e) => {
                if self.local_infile.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        "MySQL at {}: the server refuses LOAD DATA LOCAL INFILE ({}); the rows of {} are written \
                         with multi-row INSERTs (slower, the same rows). SET GLOBAL local_infile = 1 on the server \
                         enables the faster path",
                        redact_url(&s.url),
                        s.server_message(&super::error_text(&e)),
                        t.table
                    );
                }
                self.bulk = None;
            }
            Err(e) if refuses_the_row(&e) => {}
            Err(e) => return Err(s.err(Step::WriteRows.phrase(), &e)),
        }
        crate::connect::sql_log::record("mysql", crate::connect::sql_log::StatementKind::Execute, load_data::ROLLBACK);
        s.execute(load_data::ROLLBACK, Step::WriteRows)?;
        Ok(None)
    }

    /// Inserts the batch with multi-row statements (see [`RowLoader::load`]).
    fn insert(
        &mut self,
        s: &mut MysqlSession,
        t: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Vec<BadRow>> {
        let (write, packet) = (&self.write, self.packet);
        let width = write.columns.len().max(1);
        let rows_per_statement = (MAX_PLACEHOLDERS / width).clamp(1, 2000);
        let budget = packet.saturating_sub(PACKET_MARGIN);
        let mut bad = Vec::new();
        let decimal_text: Vec<bool> = t.schema.fields().iter().map(|f| decimal_text::is_decimal_text(f)).collect();
        let mut rows: Vec<(usize, Vec<Value>, usize)> = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            match self.row_values(t, batch, row, &decimal_text) {
                Ok((values, size)) => rows.push((row, values, size)),
                Err((column, message)) => {
                    bad.push(BadRow::new(batch, row, partition, first_row, Some(&column), &message));
                    if t.rejects.fails() {
                        return Ok(bad);
                    }
                }
            }
        }
        let columns = write.column_list(&t.schema, D);
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
            match s.conn.exec_drop(insert_rows_sql(&t.staging, &columns, width, chunk.len()), params) {
                Ok(()) => continue,
                Err(e) if !refuses_the_row(&e) => return Err(s.err(Step::WriteRows.phrase(), &e)),
                Err(_) => {}
            }
            for (row, values, _) in chunk {
                if let Err(e) = s.conn.exec_drop(insert_rows_sql(&t.staging, &columns, width, 1), values.clone()) {
                    if !refuses_the_row(&e) {
                        return Err(s.err(Step::WriteRows.phrase(), &e));
                    }
                    let (message, column) = s.row_refusal(&e);
                    bad.push(BadRow::new(batch, *row, partition, first_row, column.as_deref(), &message));
                    if t.rejects.fails() {
                        return Ok(bad);
                    }
                }
            }
        }
        Ok(bad)
    }
}

impl RowLoader<MysqlSession> for MysqlLoader {
    /// Writes one batch; returns the rows that could not be converted or that MySQL refused.
    /// Only `write`'s columns are sent.
    ///
    /// With `LOAD DATA LOCAL INFILE` when the server takes it and the staging table's columns
    /// allow ([`load_data`]); a batch the server warns about is rolled back to its savepoint and
    /// sent again with `INSERT`s. Those are multi-row statements; a refused statement changes
    /// nothing (strict mode), so its rows are retried one by one to find the bad ones.
    fn load(
        &mut self,
        s: &mut MysqlSession,
        t: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Vec<BadRow>> {
        if let Some(bad) = self.load_data(s, t, batch, partition, first_row)? {
            return Ok(bad);
        }
        self.insert(s, t, batch, partition, first_row)
    }
}

/// A `rows`-row `INSERT` of `columns` (quoted, `width` of them) into `staging`.
fn insert_rows_sql(staging: &TableName, columns: &str, width: usize, rows: usize) -> String {
    let row_marks = format!("({})", vec!["?"; width].join(", "));
    format!("INSERT INTO {} ({columns}) VALUES {}", D.table(staging), vec![row_marks.as_str(); rows].join(", "))
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

/// The column a MySQL error names: `... for column 'x' at row 1`, `... for column `db`.`t`.`x`
/// at row 1`, or `Column 'x' cannot be null` (ER_BAD_NULL_ERROR, 1048: MySQL's error message
/// reference gives the column only in the text).
fn refused_column(message: &str) -> Option<String> {
    let at = message.find("column ").or_else(|| message.find("Column "))?;
    let rest = &message[at + "column ".len()..];
    let name = match rest.chars().next()? {
        '\'' => rest[1..].split('\'').next()?,
        '`' => rest.split(" at row").next()?.rsplit('.').next()?.trim_matches('`'),
        _ => return None,
    };
    Some(name.to_string())
}

/// Adds a table set's foreign keys on MySQL/MariaDB (`connect::foreign_keys`); errors 1826
/// (duplicate foreign key name) and 121/1022 (duplicate key on write) mean the key exists, from
/// an earlier run: kept. The driver blocks, so this runs on tokio's blocking pool.
pub fn add_foreign_keys(step: &ForeignKeyStep) -> BoxFuture<'_, std::result::Result<usize, KeyFailure>> {
    let statements = step.statements.clone();
    let url = step.endpoint.url.replacen("mariadb://", "mysql://", 1);
    Box::pin(async move {
        tokio::task::spawn_blocking(move || {
            use mysql::prelude::Queryable;
            let statement = |sql: &str, detail: String| KeyFailure::Statement { sql: sql.to_string(), detail };
            let opts = mysql::Opts::from_url(&url).map_err(|e| statement("", e.to_string()))?;
            let mut conn = super::connect(&opts).map_err(|f| statement("", f.error.to_string()))?;
            let mut added = 0;
            for sql in &statements {
                match conn.query_drop(sql) {
                    Ok(()) => added += 1,
                    Err(mysql::Error::MySqlError(e)) if matches!(e.code, 121 | 1022 | 1826) => {}
                    Err(e) => return Err(statement(sql, e.to_string())),
                }
            }
            Ok(added)
        })
        .await
        .map_err(|e| KeyFailure::Task(e.to_string()))?
    })
}

#[cfg(test)]
mod tests {
    use super::refused_column;

    #[test]
    fn the_refused_column_is_read_from_each_message_form() {
        assert_eq!(refused_column("Out of range value for column 'small' at row 1").as_deref(), Some("small"));
        assert_eq!(
            refused_column("Incorrect date value: '2024-02-30' for column `db`.`t`.`day` at row 1").as_deref(),
            Some("day")
        );
        assert_eq!(refused_column("Column 'code' cannot be null").as_deref(), Some("code"));
        assert_eq!(refused_column("Duplicate entry '1' for key 'PRIMARY'"), None);
    }
}
