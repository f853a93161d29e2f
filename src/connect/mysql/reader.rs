//! Reading MySQL/MariaDB natively with the `mysql` crate, so that Flow owns the connections a
//! source reads through — which is what lets the N partition queries of one source read one
//! consistent snapshot ([`consistent_connections`]). connectorx opens its own pooled connections,
//! so its partitions are read at different moments.
//!
//! * [`query_schema`] derives the Arrow schema from a prepared statement's column metadata.
//! * [`stream_query`] runs a query with the binary protocol and converts its rows into Arrow
//!   batches as they arrive from the socket: memory is bounded by one batch, not by the result.
//! * [`consistent_connections`] opens connections that all see one instant, with a brief global
//!   read lock while each starts a consistent-snapshot transaction.
//!
//! # Type mapping
//!
//! The same as the connectorx path delivers (see `connect::connectorx_reader`), except for
//! `TINYINT(1)`, `BIT(n)` and `TIME`, which connectorx reads as a small integer, bytes and a time
//! of day, and which Flow reads as what they hold:
//!
//! | MySQL / MariaDB type                       | Arrow type                                        |
//! |--------------------------------------------|---------------------------------------------------|
//! | `TINYINT(1)` (= `BOOLEAN`)                 | `Boolean`; a value other than 0 and 1 is an error naming column, row and value. With `mysql(..., tinyint1: "integer")`: `Int8` |
//! | `TINYINT`, `SMALLINT`, `MEDIUMINT`/`INT`, `BIGINT` | `Int8`, `Int16`, `Int32`, `Int64`         |
//! | `… UNSIGNED` of those                      | `UInt8`, `UInt16`, `UInt32`, `UInt64`             |
//! | `YEAR`                                     | `Int16`                                           |
//! | `BIT(1)`                                   | `Boolean`                                         |
//! | `BIT(n)`, n > 1                            | `UInt64` (the bits as an unsigned number, as `b'101' = 5` in MySQL) |
//! | `DECIMAL(p,s)`                             | `Decimal128(p,s)`; `Decimal256(p,s)` when `p > 38`; parsed from the server's exact text |
//! | `FLOAT`, `DOUBLE`                          | `Float32`, `Float64`                              |
//! | `CHAR`, `VARCHAR`, `*TEXT`, `ENUM`, `SET`, `JSON` | `Utf8` (the server's text, as sent)        |
//! | `BINARY`, `VARBINARY`, `*BLOB`             | `LargeBinary`                                     |
//! | `DATE`                                     | `Date32`                                          |
//! | `TIME`                                     | `Duration(µs)`: a MySQL `TIME` is a signed span (`-838:59:59` to `838:59:59`), not a time of day |
//! | `DATETIME`                                 | `Timestamp(µs)`, wall-clock, no zone              |
//! | `TIMESTAMP`                                | `Timestamp(µs, "+00:00")`: every session runs with `time_zone = '+00:00'` |
//! | `GEOMETRY`, a bare `NULL`, …               | an error saying to cast the column in the query   |
//!
//! The types of `TINYINT(1)`, `BIT(n)` and `TIME` columns are kept in the field's
//! `flow.source_type` metadata (`tinyint(1)`, `bit(12)`, `time(6)`), so that a MySQL target gets
//! `BIT(n)` back and PostgreSQL gets `bit(n)` (see `connect::mysql::sink::mysql_field_type` and
//! `connect::postgres::types::pg_type_for_field`). The decision is made from the column's type,
//! never from the values, so every partition and the DDL agree.
//!
//! Text and binary columns are told apart by the character set (63 is `binary`), as connectorx
//! does: `*_bin` collations are text. A column is nullable unless the server flags it `NOT NULL`.
//! Zero dates (`0000-00-00`, also `2024-00-10`) have no Arrow value: like connectorx (which
//! fails on them) the read fails, naming the column and row. So does any value that does not fit
//! its Arrow type; nothing becomes NULL or loses digits silently.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::ArrayRef;
use arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, Field, Schema, SchemaRef, TimeUnit,
};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use mysql::consts::{ColumnFlags, ColumnType};
use mysql::prelude::{Protocol, Queryable};
use mysql::{Conn, Opts, QueryResult, Value};

use crate::plan::endpoint::{redact_url, scrub_secret};

pub use super::convert::duration_text;
use super::convert::*;

/// Settings every reading session gets. `TIMESTAMP`s are sent in the session time zone, which
/// is thereby UTC and the values exact instants. A consumer that pauses (a slow sink downstream)
/// stops reading the socket; the server must wait rather than abort the statement after the
/// default 60 seconds.
pub(super) const SESSION_SETTINGS: &[&str] = &["SET time_zone = '+00:00'", "SET SESSION net_write_timeout = 3600"];
/// Time zone label of `TIMESTAMP` columns (the one connectorx's path and DataFusion's `now()` use).
pub(super) const UTC: &str = "+00:00";
/// Bound for establishing a connection, so an unreachable host fails in bounded time.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `FLUSH TABLES WITH READ LOCK` may wait for running statements. While it waits, it
/// already blocks the server's writers, so it must give up soon rather than stall them.
pub(super) const LOCK_WAIT_SECONDS: u32 = 10;
/// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: the user lacks `RELOAD` for the global read lock.
pub(super) const ACCESS_DENIED: u16 = 1227;
/// `ER_LOCK_WAIT_TIMEOUT`.
pub(super) const LOCK_WAIT_TIMEOUT: u16 = 1205;
/// The `binary` pseudo character set: the column holds bytes, not text.
pub(super) const BINARY_CHARSET: u16 = 63;
/// The largest number of digits a MySQL (65) or MariaDB decimal can have, with room for a sign.
pub(super) const MAX_DECIMAL_DIGITS: usize = 80;

/// Whether the connections of [`consistent_connections`] see one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Every connection's transaction started while a global read lock held back all commits:
    /// all partitions read the database as it was at one instant.
    Shared,
    /// The user may not take the global read lock (no `RELOAD` privilege): each connection has
    /// its own snapshot, so partitions are read at different moments.
    PerPartition,
}

impl SnapshotKind {
    /// One line for `explain` and the run report.
    pub fn note(self) -> &'static str {
        match self {
            Self::Shared => "all partitions read one consistent snapshot",
            Self::PerPartition => {
                "partitions are read at different moments: the MySQL user lacks the RELOAD privilege \
                 that FLUSH TABLES WITH READ LOCK needs to give them one snapshot"
            }
        }
    }
}

/// Opens one reading session on `url` (`mysql://` or `mariadb://`), with Flow's session
/// settings. Connecting retries transient failures (see `connect::retry`).
pub fn open_session(url: &str) -> Result<Conn> {
    open_with(&opts_from_url(url)?, url)
}

/// Opens `n` connections that all read one instant of the database (InnoDB tables; tables of
/// non-transactional engines such as MyISAM or Aria are read as they are when each query runs).
///
/// A coordinator connection takes `FLUSH TABLES WITH READ LOCK`, each connection starts a
/// `REPEATABLE READ` transaction `WITH CONSISTENT SNAPSHOT, READ ONLY`, and the coordinator
/// unlocks at once (also when starting a transaction failed). Everything that can be done
/// before the lock (connecting, session settings) is. The lock waits at most 10 seconds
/// (`lock_wait_timeout`) for running statements, then the call fails.
///
/// Without the `RELOAD` privilege the lock is refused: the connections then start their
/// transactions one after another and the kind is [`SnapshotKind::PerPartition`], for the caller
/// to say so. The snapshots last while the connections stay open (or until they run `COMMIT`).
pub fn consistent_connections(url: &str, n: usize) -> Result<(Vec<Conn>, SnapshotKind)> {
    let opts = opts_from_url(url)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = open_with(&opts, url)?;
        run(&mut conn, url, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        conns.push(conn);
    }
    let mut coordinator = open_with(&opts, url)?;
    run(&mut coordinator, url, &format!("SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}"))?;
    let kind = match coordinator.query_drop("FLUSH TABLES WITH READ LOCK") {
        Ok(()) => {
            let started = start_snapshots(&mut conns, url);
            let unlocked = run(&mut coordinator, url, "UNLOCK TABLES");
            // Closing the coordinator releases the lock too, should UNLOCK itself have failed.
            drop(coordinator);
            started?;
            unlocked?;
            SnapshotKind::Shared
        }
        Err(mysql::Error::MySqlError(e)) if e.code == ACCESS_DENIED => {
            start_snapshots(&mut conns, url)?;
            SnapshotKind::PerPartition
        }
        Err(mysql::Error::MySqlError(e)) if e.code == LOCK_WAIT_TIMEOUT => {
            return Err(DataFusionError::Execution(format!(
                "MySQL at {}: FLUSH TABLES WITH READ LOCK waited {LOCK_WAIT_SECONDS}s for running \
                 statements to finish (it holds back writers meanwhile), so no consistent snapshot \
                 was taken; retry when long statements are done: {}",
                redact_url(url),
                scrub_secret(&e.to_string(), url)
            )));
        }
        Err(e) => return Err(sql_error(url, "FLUSH TABLES WITH READ LOCK", &e)),
    };
    Ok((conns, kind))
}

fn start_snapshots(conns: &mut [Conn], url: &str) -> Result<()> {
    for conn in conns {
        run(conn, url, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")?;
    }
    Ok(())
}

/// How `TINYINT(1)` columns are read: the connection option `tinyint1` (`"boolean"`, the
/// default, or `"integer"`), e.g. `mysql("mysql://...", tinyint1: "integer")`.
///
/// MySQL has no boolean type: `BOOLEAN` is `TINYINT(1)`, and by convention (pgloader, DuckDB,
/// the MySQL Connector/J `tinyInt1isBit` default) a `TINYINT(1)` column holds a boolean. A
/// schema that uses `TINYINT(1)` for small numbers says `tinyint1: "integer"`, and the column is
/// read, and created on targets, as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tinyint1 {
    #[default]
    Boolean,
    Integer,
}

/// The name of the connection option, and its values.
pub const TINYINT1_OPTION: &str = "tinyint1";

impl Tinyint1 {
    /// The option's value as written (`"boolean"` or `"integer"`); anything else is an error
    /// that lists both.
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "boolean" | "bool" => Ok(Self::Boolean),
            "integer" | "int" => Ok(Self::Integer),
            _ => Err(format!("{TINYINT1_OPTION}: \"{value}\" is neither \"boolean\" nor \"integer\"")),
        }
    }

    /// The option of a MySQL endpoint; the default when it is not given (checked when the
    /// file is checked, so a bad value never gets here).
    pub fn of(endpoint: &crate::plan::endpoint::Endpoint) -> Self {
        endpoint.option(TINYINT1_OPTION).and_then(|v| Self::parse(v).ok()).unwrap_or_default()
    }
}

/// The Arrow schema the rows of `sql` get, from the prepared statement's column metadata: no row
/// is read. See the module docs for the mapping.
pub fn query_schema(conn: &mut Conn, sql: &str, tinyint1: Tinyint1) -> Result<SchemaRef> {
    let statement = conn
        .prep(sql)
        .map_err(|e| DataFusionError::Execution(format!("MySQL rejected the query: {}", super::error_text(&e))))?;
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
    let statement = conn
        .prep(sql)
        .map_err(|e| DataFusionError::Execution(format!("MySQL rejected the query: {}", super::error_text(&e))))?;
    check_width(statement.columns().len(), schema)?;
    let result = conn
        .exec_iter(&statement, ())
        .map_err(|e| DataFusionError::Execution(format!("the query failed on MySQL: {}", super::error_text(&e))))?;
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
        .map_err(|e| DataFusionError::Execution(format!("the query failed on MySQL: {}", super::error_text(&e))))?;
    check_width(result.columns().as_ref().len(), schema)?;
    convert_rows(result, schema, batch_size, emit)
}

fn check_width(columns: usize, schema: &SchemaRef) -> Result<()> {
    if columns == schema.fields().len() {
        return Ok(());
    }
    Err(DataFusionError::Execution(format!(
        "MySQL: the query returns {columns} columns, the planned schema has {}",
        schema.fields().len()
    )))
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
            DataFusionError::Execution(format!("MySQL: reading row {row_number}: {}", super::error_text(&e)))
        })?;
        if row.len() != columns.len() {
            return Err(DataFusionError::Execution(format!(
                "MySQL: row {row_number} has {} values, the planned schema {} columns",
                row.len(),
                columns.len()
            )));
        }
        for (index, column) in columns.iter_mut().enumerate() {
            let value = row.as_ref(index).unwrap_or(&Value::NULL);
            column.append(value).map_err(|reason| {
                DataFusionError::Execution(format!(
                    "MySQL: column `{}`, row {row_number}: {reason}",
                    schema.field(index).name()
                ))
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
    RecordBatch::try_new(Arc::clone(schema), arrays)
        .map_err(|e| DataFusionError::Execution(format!("MySQL: the rows do not match the planned schema: {e}")))
}

// ------------------------------------------------------------------------------------ types

/// The Arrow field of one result column (see the module docs).
fn arrow_field(column: &mysql::Column, tinyint1: Tinyint1) -> Result<Field> {
    let name = column.name_str();
    let flags = column.flags();
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.character_set() == BINARY_CHARSET;
    let pick = |signed: DataType, unsigned_type: DataType| if unsigned { unsigned_type } else { signed };
    // The column's own type, for the types whose Arrow type alone does not say it.
    let mut source_type = None;
    let data_type = match column.column_type() {
        // The display width is the `(1)` of `TINYINT(1)`; expressions over such a column
        // (`flag + 0`, `IF(...)`) come back wider and stay integers.
        ColumnType::MYSQL_TYPE_TINY if !unsigned && column.column_length() == 1 && tinyint1 == Tinyint1::Boolean => {
            source_type = Some("tinyint(1)".to_string());
            DataType::Boolean
        }
        ColumnType::MYSQL_TYPE_TINY => pick(DataType::Int8, DataType::UInt8),
        ColumnType::MYSQL_TYPE_SHORT => pick(DataType::Int16, DataType::UInt16),
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => pick(DataType::Int32, DataType::UInt32),
        ColumnType::MYSQL_TYPE_LONGLONG => pick(DataType::Int64, DataType::UInt64),
        ColumnType::MYSQL_TYPE_YEAR => DataType::Int16,
        ColumnType::MYSQL_TYPE_FLOAT => DataType::Float32,
        ColumnType::MYSQL_TYPE_DOUBLE => DataType::Float64,
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = decimal_precision_scale(column);
            decimal_type(precision, scale)
        }
        ColumnType::MYSQL_TYPE_BIT => {
            // The column length of a BIT column is its number of bits, 1 to 64.
            let bits = column.column_length().clamp(1, 64);
            source_type = Some(format!("bit({bits})"));
            if bits == 1 { DataType::Boolean } else { DataType::UInt64 }
        }
        ColumnType::MYSQL_TYPE_VARCHAR | ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET => DataType::Utf8,
        ColumnType::MYSQL_TYPE_JSON => DataType::Utf8,
        ColumnType::MYSQL_TYPE_STRING
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB => {
            if binary {
                DataType::LargeBinary
            } else {
                DataType::Utf8
            }
        }
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => DataType::Date32,
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
            source_type = Some(match column.decimals() {
                0 => "time".to_string(),
                digits => format!("time({})", digits.min(6)),
            });
            DataType::Duration(TimeUnit::Microsecond)
        }
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        }
        other => {
            return Err(DataFusionError::Execution(format!(
                "MySQL: column `{name}` has type {other:?}, which Flow cannot read; cast it in the query \
                 (e.g. ST_AsText(col) for geometries, CAST(NULL AS CHAR) for a bare NULL)"
            )));
        }
    };
    let field = Field::new(name, data_type, !flags.contains(ColumnFlags::NOT_NULL_FLAG));
    Ok(match source_type {
        Some(source_type) => field.with_metadata(std::collections::HashMap::from([(
            crate::connect::postgres::types::SOURCE_TYPE_METADATA_KEY.to_string(),
            source_type,
        )])),
        None => field,
    })
}

/// The number of bits of a `BIT(n)` column as recorded in a field's `flow.source_type`
/// metadata (`bit(12)` → 12), whichever reader or transform carried it.
pub fn bit_length(field: &Field) -> Option<u32> {
    let source = field.metadata().get(crate::connect::postgres::types::SOURCE_TYPE_METADATA_KEY)?;
    let bits: u32 = source.strip_prefix("bit(")?.strip_suffix(')')?.parse().ok()?;
    matches!(field.data_type(), DataType::Boolean | DataType::UInt64).then_some(bits).filter(|b| (1..=64).contains(b))
}

/// Precision and scale of a decimal column. The server reports the display length: digits, plus
/// one for the decimal point when there is a fraction, plus one for the sign unless unsigned.
fn decimal_precision_scale(column: &mysql::Column) -> (u8, i8) {
    let scale = column.decimals();
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let overhead = u32::from(scale > 0) + u32::from(!unsigned);
    let digits = column.column_length().saturating_sub(overhead);
    let at_least = scale.clamp(1, DECIMAL256_MAX_PRECISION);
    let precision = u8::try_from(digits).unwrap_or(DECIMAL256_MAX_PRECISION).clamp(at_least, DECIMAL256_MAX_PRECISION);
    // MySQL scales are at most 30 (MariaDB 38), always within `i8`.
    (precision, i8::try_from(scale).unwrap_or(i8::MAX))
}

fn decimal_type(precision: u8, scale: i8) -> DataType {
    if precision <= DECIMAL128_MAX_PRECISION {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    }
}

// ------------------------------------------------------------------------------ connections

/// Connection options from a `mysql://` or `mariadb://` URL, with the `ssl-mode` parameters
/// handled as on the connectorx path (and its `cxprotocol` parameter ignored).
pub(crate) fn opts_from_url(url: &str) -> Result<Opts> {
    let bad = |e: &dyn std::fmt::Display| {
        DataFusionError::Execution(format!(
            "invalid MySQL URL {}: {}",
            redact_url(url),
            scrub_secret(&e.to_string(), url)
        ))
    };
    let mut parsed = url::Url::parse(&url.replacen("mariadb://", "mysql://", 1)).map_err(|e| bad(&e))?;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("cxprotocol"))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    let builder = connectorx::sources::mysql::build_opts(parsed.as_str()).map_err(|e| bad(&e))?;
    Ok(builder.tcp_connect_timeout(Some(CONNECT_TIMEOUT)).into())
}

fn open_with(opts: &Opts, url: &str) -> Result<Conn> {
    let mut conn = super::connect(opts).map_err(|f| {
        use crate::connect::connect_error::{ConnectError, mysql_reach};
        let detail = scrub_secret(&super::error_text(&f.error), url);
        let hint = crate::connect::connection_hint(&detail);
        let message = format!("cannot connect to {}{}: {detail}; {hint}", redact_url(url), f.attempts_note());
        ConnectError::new(mysql_reach(&f.error), message).into_datafusion()
    })?;
    for setting in SESSION_SETTINGS {
        run(&mut conn, url, setting)?;
    }
    Ok(conn)
}

fn run(conn: &mut Conn, url: &str, sql: &str) -> Result<()> {
    conn.query_drop(sql).map_err(|e| sql_error(url, sql, &e))
}

fn sql_error(url: &str, sql: &str, e: &mysql::Error) -> DataFusionError {
    DataFusionError::Execution(format!(
        "MySQL at {}: {sql}: {}",
        redact_url(url),
        scrub_secret(&super::error_text(e), url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::connectorx_reader::{self, CxQuery};
    use arrow::array::{Array, AsArray, Decimal256Array, LargeBinaryArray, StringArray, UInt64Array};
    use arrow::compute::concat_batches;
    use arrow::datatypes::Int64Type;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    const URL: &str = "mysql://root@127.0.0.1:3306/test";

    /// A session on the test MariaDB, or `None` (with the reason printed) when it does not
    /// answer and `FLOW_REQUIRE_DBS=1` is not set.
    fn server() -> Option<Conn> {
        let required = std::env::var("FLOW_REQUIRE_DBS").is_ok_and(|v| v == "1");
        let answers =
            std::net::TcpStream::connect_timeout(&"127.0.0.1:3306".parse().expect("address"), Duration::from_secs(2));
        if let Err(e) = answers {
            assert!(!required, "MariaDB at 127.0.0.1:3306 does not answer and FLOW_REQUIRE_DBS=1: {e}");
            eprintln!(
                "skipping: MariaDB at 127.0.0.1:3306 does not answer ({e}; set FLOW_REQUIRE_DBS=1 to make this fail)"
            );
            return None;
        }
        Some(open_session(URL).expect("a session on the test MariaDB"))
    }

    fn unique_name(prefix: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// A uniquely named InnoDB table, dropped on drop. `{t}` in SQL stands for its name.
    struct Table {
        conn: Conn,
        name: String,
    }

    impl Table {
        fn create(columns: &str, setup: &[&str]) -> Option<Self> {
            let conn = server()?;
            let name = unique_name("mysql_reader_test");
            let mut table = Self { conn, name };
            let create = format!("CREATE TABLE {{t}} ({columns}) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4");
            table.run(&create);
            for sql in setup {
                table.run(sql);
            }
            Some(table)
        }

        fn sql(&self, sql: &str) -> String {
            sql.replace("{t}", &format!("`{}`", self.name))
        }

        fn run(&mut self, sql: &str) {
            let sql = self.sql(sql);
            self.conn.query_drop(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    impl Drop for Table {
        fn drop(&mut self) {
            let _ = self.conn.query_drop(format!("DROP TABLE IF EXISTS `{}`", self.name));
        }
    }

    fn read_all(conn: &mut Conn, sql: &str, batch_size: usize) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let schema = query_schema(conn, sql, Tinyint1::Boolean)?;
        let mut batches = Vec::new();
        stream_query(conn, sql, &schema, batch_size, &mut |batch| {
            batches.push(batch);
            true
        })?;
        Ok((schema, batches))
    }

    fn one_batch(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
        concat_batches(schema, batches).expect("concat")
    }

    fn error_text<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// What connectorx delivers for the same query, through Flow's connectorx reader.
    fn connectorx(sql: &str) -> (SchemaRef, RecordBatch) {
        let schema = connectorx_reader::query_schema(URL, sql).expect("connectorx schema");
        let batches = connectorx_reader::fetch_all(&CxQuery { url: URL.to_string(), sql: sql.to_string() })
            .expect("connectorx read");
        let batch = one_batch(&batches[0].schema(), &batches);
        (schema, batch)
    }

    /// Columns Flow reads as what they hold, where connectorx reads a small integer (`TINYINT(1)`),
    /// bytes (`BIT(n)`) or a time of day (`TIME`): compared on their own.
    const READ_AS_HELD: &[&str] = &["flag", "bits", "tm"];

    /// Schema (names, types, nullability) and every value equal to connectorx's, but for the
    /// columns of [`READ_AS_HELD`].
    fn assert_same_as_connectorx(conn: &mut Conn, sql: &str, batch_size: usize) -> RecordBatch {
        let (schema, batches) = read_all(conn, sql, batch_size).expect("native read");
        let (cx_schema, cx_batch) = connectorx(sql);
        assert_eq!(schema.fields().len(), cx_schema.fields().len());
        for (mine, theirs) in schema.fields().iter().zip(cx_schema.fields()) {
            if READ_AS_HELD.contains(&mine.name().as_str()) {
                continue;
            }
            assert_eq!(
                (mine.name(), mine.data_type(), mine.is_nullable()),
                (theirs.name(), theirs.data_type(), theirs.is_nullable()),
                "schema of `{}` for {sql}",
                mine.name()
            );
        }
        let batch = one_batch(&schema, &batches);
        assert_eq!(batch.num_rows(), cx_batch.num_rows(), "rows of {sql}");
        for (i, field) in schema.fields().iter().enumerate() {
            if READ_AS_HELD.contains(&field.name().as_str()) {
                continue;
            }
            assert_eq!(
                batch.column(i).to_data(),
                cx_batch.column(i).to_data(),
                "values of `{}` for {sql}",
                field.name()
            );
        }
        batch
    }

    const TYPES: &str = "
        id INT NOT NULL PRIMARY KEY,
        i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED,
        i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED, i32 INT, u32 INT UNSIGNED,
        i64 BIGINT, u64 BIGINT UNSIGNED, flag BOOLEAN, yr YEAR, bits BIT(12),
        d12 DECIMAL(12,2), d38 DECIMAL(38,10), d65 DECIMAL(65,30), du DECIMAL(5,0) UNSIGNED,
        f FLOAT, dbl DOUBLE,
        vc VARCHAR(100), ch CHAR(4), txt TEXT, vcbin VARCHAR(20) COLLATE utf8mb4_bin, nn VARCHAR(5) NOT NULL DEFAULT 'x',
        bl BLOB, vb VARBINARY(8), bn BINARY(3),
        dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
        js JSON, en ENUM('small', 'large'), st SET('a', 'b')";

    fn types_table() -> Option<Table> {
        let nines = |n: usize| "9".repeat(n);
        let d65_max = format!("{}.{}", nines(35), nines(30));
        let min_row = format!(
            "INSERT INTO {{t}} VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, \
             -9223372036854775808, 0, FALSE, 1901, b'0', -9999999999.99, \
             -9999999999999999999999999999.9999999999, -{d65_max}, 0, \
             -1.5, -1.7976931348623157e308, '', 'a', '', '', '', '', '', x'000000', \
             '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 05:00:01', '{{}}', 'small', '')"
        );
        let max_row = format!(
            "INSERT INTO {{t}} VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, \
             2147483647, 4294967295, 9223372036854775807, 18446744073709551615, TRUE, 2155, \
             b'111111111111', 9999999999.99, 9999999999999999999999999999.9999999999, {d65_max}, 99999, \
             3.5, 2.2250738585072014e-308, 'héllo 🦀 wörld 👩‍👩‍👧', 'abcd', REPEAT('xyz🦀', 3000), 'Bin🦀', 'five5', \
             x'00ff00ff00', x'00ff00', x'000102', '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', \
             '2038-01-19 08:14:07.999999', '{{\"b\": [1, 2], \"a\": \"🦀\"}}', 'large', 'a,b')"
        );
        Table::create(
            TYPES,
            &[
                // TIMESTAMP literals are taken in the session time zone: +05:00 while inserting, so
                // the reader must deliver instants five hours earlier.
                "SET time_zone = '+05:00'",
                &min_row,
                &max_row,
                "INSERT INTO {t} (id) VALUES (3)",
                "INSERT INTO {t} VALUES (4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, TRUE, 2024, b'101', \
                 -0.05, 0.0000000001, -0.000000000000000000000000000001, 42, 0.1, 0.1, 'ascii', \
                 'ab', 'short', 'b', 'n', x'deadbeef', x'01', 'a', '2024-02-29', '12:34:56.5', \
                 '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012', '[1,2,3]', 'small', 'b')",
                "SET time_zone = '+00:00'",
            ],
        )
    }

    #[test]
    fn every_type_reads_exactly_as_connectorx_reads_it() {
        let Some(table) = types_table() else { return };
        let mut conn = open_session(URL).expect("session");
        let sql = table.sql("SELECT * FROM {t} ORDER BY id");
        // Batches of 3 rows: the 4 rows arrive as 2 batches and are compared whole.
        let batch = assert_same_as_connectorx(&mut conn, &sql, 3);

        let schema = batch.schema();
        let field = |name: &str| schema.field_with_name(name).expect("field").clone();
        assert!(!field("id").is_nullable() && !field("nn").is_nullable() && field("vc").is_nullable());
        for (name, data_type) in [
            ("i8", DataType::Int8),
            ("flag", DataType::Boolean),
            ("yr", DataType::Int16),
            ("bits", DataType::UInt64),
            ("d12", DataType::Decimal128(12, 2)),
            ("d38", DataType::Decimal128(38, 10)),
            ("d65", DataType::Decimal256(65, 30)),
            ("du", DataType::Decimal128(5, 0)),
            ("vcbin", DataType::Utf8),
            ("bn", DataType::LargeBinary),
            ("js", DataType::Utf8),
            ("st", DataType::Utf8),
            ("tm", DataType::Duration(TimeUnit::Microsecond)),
            ("dtm", DataType::Timestamp(TimeUnit::Microsecond, None)),
            ("ts", DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))),
        ] {
            assert_eq!(field(name).data_type(), &data_type, "type of `{name}`");
        }

        // A few values spelled out, beyond agreeing with connectorx.
        let column = |name: &str| batch.column(schema.index_of(name).expect("column")).clone();
        assert_eq!(column("u64").as_any().downcast_ref::<UInt64Array>().expect("u64").value(1), u64::MAX);
        let d65 = column("d65");
        let d65 = d65.as_any().downcast_ref::<Decimal256Array>().expect("d65");
        assert_eq!(d65.value_as_string(0), format!("-{}.{}", "9".repeat(35), "9".repeat(30)));
        assert_eq!(d65.value_as_string(3), "-0.000000000000000000000000000001");
        assert!(d65.is_null(2));
        assert_eq!(column("d12").as_primitive::<arrow::datatypes::Decimal128Type>().value_as_string(3), "-0.05");
        assert_eq!(column("vc").as_any().downcast_ref::<StringArray>().expect("vc").value(1), "héllo 🦀 wörld 👩‍👩‍👧");
        assert_eq!(column("vcbin").as_string::<i32>().value(1), "Bin🦀");
        assert_eq!(column("txt").as_string::<i32>().value(1).len(), 3000 * "xyz🦀".len());
        let bl = column("bl");
        let bl = bl.as_any().downcast_ref::<LargeBinaryArray>().expect("bl");
        assert_eq!(bl.value(1), [0x00, 0xff, 0x00, 0xff, 0x00]);
        assert_eq!(column("bn").as_binary::<i64>().value(0), [0, 0, 0]);
        let bits = column("bits");
        let bits = bits.as_primitive::<arrow::datatypes::UInt64Type>();
        assert_eq!((bits.value(0), bits.value(1), bits.value(3)), (0, 0x0fff, 0b101));
        let flag = column("flag");
        let flag = flag.as_boolean();
        assert_eq!((flag.value(0), flag.value(1), flag.value(3)), (false, true, true));
        let source_type =
            |name: &str| field(name).metadata().get(crate::connect::postgres::types::SOURCE_TYPE_METADATA_KEY).cloned();
        assert_eq!(
            (source_type("flag"), source_type("bits"), source_type("tm")),
            (Some("tinyint(1)".into()), Some("bit(12)".into()), Some("time(6)".into()))
        );
        let ts = column("ts");
        let ts = ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(ts.value(0), MICROS_PER_SECOND, "1970-01-01 05:00:01 at +05:00 is 1 s after the epoch");
        assert_eq!(ts.value(3), 1_709_192_096_789_012, "2024-02-29 07:34:56.789012 UTC");
        let tm = column("tm");
        let tm = tm.as_primitive::<arrow::datatypes::DurationMicrosecondType>();
        assert_eq!((tm.value(0), tm.value(1), tm.value(3)), (0, MICROS_PER_DAY - 1, 45_296_500_000));
        assert_eq!(column("dt").as_primitive::<arrow::datatypes::Date32Type>().value(1), 2_932_896);
        assert!(
            (0..batch.num_columns())
                .filter(|&i| i != 0 && schema.field(i).name() != "nn")
                .all(|i| batch.column(i).is_null(2))
        );
    }

    #[test]
    fn expressions_and_projections_read_as_connectorx_reads_them() {
        let Some(table) = types_table() else { return };
        let mut conn = open_session(URL).expect("session");
        for sql in [
            "SELECT id, d12 * 3 AS triple, i32 + 1 AS next, CAST(i64 AS CHAR) AS text_i64, \
             CONCAT(vc, '!') AS shout, COALESCE(dt, DATE '2000-01-01') AS day, u64 DIV 2 AS half \
             FROM {t} ORDER BY id",
            // No ORDER BY: connectorx reads these wide decimals through a derived table, in which
            // MariaDB ignores it.
            "SELECT id, d38, d65, ts FROM {t} WHERE id >= 2",
            "SELECT id FROM {t} WHERE id > 100",
        ] {
            assert_same_as_connectorx(&mut conn, &table.sql(sql), 1);
        }
    }

    #[test]
    fn values_without_an_arrow_value_are_errors_naming_column_and_row() {
        let Some(table) = Table::create(
            "id INT PRIMARY KEY, dt DATE, dtm DATETIME",
            &[
                "SET SESSION sql_mode = ''",
                "INSERT INTO {t} VALUES (1, '2024-01-01', '2024-01-01 00:00:00'), (2, '0000-00-00', NULL), \
                 (3, NULL, '0000-00-00 00:00:00'), (4, '2024-00-10', NULL)",
            ],
        ) else {
            return;
        };
        let mut conn = open_session(URL).expect("session");
        let read = |conn: &mut Conn, sql: &str| read_all(conn, &table.sql(sql), 10).map(|(_, b)| b.len());
        let err = error_text(read(&mut conn, "SELECT id, dt FROM {t} ORDER BY id"));
        assert!(err.contains("column `dt`, row 2") && err.contains("zero date"), "{err}");
        let err = error_text(read(&mut conn, "SELECT dtm FROM {t} WHERE id > 1 ORDER BY id"));
        assert!(err.contains("column `dtm`, row 2") && err.contains("zero date"), "{err}");
        let err = error_text(read(&mut conn, "SELECT dt FROM {t} WHERE id = 4"));
        assert!(err.contains("column `dt`, row 1") && err.contains("zero date"), "{err}");
        // The connection stays usable after a failed read.
        assert_eq!(read(&mut conn, "SELECT dt FROM {t} WHERE id = 1").expect("read"), 1);

        // TIME is a span: beyond a day and negative values are read exactly.
        for (sql, micros) in [
            ("SELECT CAST('838:59:59' AS TIME) AS t", 3_020_399 * MICROS_PER_SECOND),
            ("SELECT CAST('-00:00:01.5' AS TIME(6)) AS t", -1_500_000),
            ("SELECT CAST('-838:59:59' AS TIME(6)) AS t", -3_020_399 * MICROS_PER_SECOND),
        ] {
            let (_, batches) = read_all(&mut conn, sql, 10).expect("time");
            let read = batches[0].column(0).as_primitive::<arrow::datatypes::DurationMicrosecondType>().value(0);
            assert_eq!(read, micros, "{sql}");
        }
        // A TINYINT(1) holding something else than 0 or 1 is refused, with the way out.
        let flags =
            Table::create("id INT PRIMARY KEY, f TINYINT(1)", &["INSERT INTO {t} VALUES (1, 1), (2, 0), (3, 2)"])
                .expect("table");
        let err = error_text(read_all(&mut conn, &flags.sql("SELECT f FROM {t} ORDER BY id"), 10));
        assert_eq!(
            err,
            "Execution error: MySQL: column `f`, row 3: 2 is not a boolean (0 or 1), and a TINYINT(1) column is \
             read as a boolean; read the column as an integer with mysql(\"...\", tinyint1: \"integer\"), or \
             convert it in the query"
        );
        let sql = flags.sql("SELECT f FROM {t} ORDER BY id");
        let schema = query_schema(&mut conn, &sql, Tinyint1::Integer).expect("schema");
        assert_eq!(schema.field(0).data_type(), &DataType::Int8);
        let err = error_text(query_schema(&mut conn, "SELECT ST_GeomFromText('POINT(1 1)') AS g", Tinyint1::Boolean));
        assert!(err.contains("column `g`") && err.contains("cast it in the query"), "{err}");
        let err = error_text(query_schema(&mut conn, "SELECT * FROM mysql_reader_no_such_table", Tinyint1::Boolean));
        assert!(err.contains("doesn't exist"), "{err}");

        // A value that does not fit the planned type fails rather than wrapping or becoming NULL.
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int8, true)]));
        let err = error_text(stream_query(&mut conn, "SELECT 1 AS v UNION ALL SELECT 300", &schema, 10, &mut |_| true));
        assert!(err.contains("column `v`, row 2") && err.contains("out of range"), "{err}");
    }

    #[test]
    fn decimal_text_is_parsed_exactly_or_refused() {
        let d128 = |text: &str, p: u8, s: i8| {
            decimal(&Value::Bytes(text.as_bytes().to_vec()), p, s, 0_i128, |v, d| v * 10 + i128::from(d))
        };
        assert_eq!(d128("-12.50", 5, 2), Ok(-1250));
        assert_eq!(d128("0.5", 3, 2), Ok(50));
        assert_eq!(d128("007", 1, 0), Ok(7));
        assert_eq!(d128("1.230", 3, 2), Ok(123), "trailing zeros beyond the scale lose nothing");
        assert_eq!(d128(&"9".repeat(38), 38, 0), Ok(10_i128.pow(38) - 1));
        for (bad, p, s) in [("1.234", 4, 2), ("1000", 5, 2), ("1e5", 10, 0), ("", 5, 2), ("-", 5, 2), ("1.2.3", 5, 2)] {
            assert!(d128(bad, p, s).is_err(), "{bad} as ({p},{s})");
        }
        assert_eq!(decimal(&Value::Int(-42), 5, 2, 0_i128, |v, d| v * 10 + i128::from(d)), Ok(-4200));
        assert!(decimal(&Value::Double(0.1), 5, 2, 0_i128, |v, d| v * 10 + i128::from(d)).is_err());
    }

    #[test]
    fn text_protocol_values_parse_like_binary_ones() {
        let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        assert_eq!(timestamp(&bytes("1970-01-01 00:00:01.5")), timestamp(&Value::Date(1970, 1, 1, 0, 0, 1, 500_000)));
        assert_eq!(timestamp(&bytes("2024-02-29 12:34:56")), Ok(1_709_210_096 * MICROS_PER_SECOND));
        assert_eq!(date32(&bytes("1970-01-02")), Ok(1));
        assert_eq!(date32(&Value::Date(1969, 12, 31, 0, 0, 0, 0)), Ok(-1));
        assert!(date32(&bytes("2023-02-29")).is_err());
        assert_eq!(time64(&bytes("23:59:59.000001")), Ok(MICROS_PER_DAY - MICROS_PER_SECOND + 1));
        assert_eq!(time64(&Value::Time(false, 0, 1, 0, 0, 0)), Ok(3600 * MICROS_PER_SECOND));
        assert!(time64(&bytes("24:00:00")).is_err());
        assert!(time64(&Value::Time(false, 1, 0, 0, 0, 0)).is_err());
        assert!(time64(&Value::Time(true, 0, 0, 0, 1, 0)).is_err());
        assert_eq!(duration(&bytes("-838:59:59.000001")), Ok(-(3_020_399 * MICROS_PER_SECOND + 1)));
        assert_eq!(duration(&Value::Time(true, 34, 22, 59, 59, 0)), Ok(-3_020_399 * MICROS_PER_SECOND));
        assert_eq!(duration(&bytes("25:00:00")), Ok(90_000 * MICROS_PER_SECOND));
        assert!(duration(&bytes("01:60:00")).is_err());
        assert_eq!(bits(&Value::Bytes(vec![0x0f, 0xff])), Ok(4095));
        assert_eq!(bits(&Value::Bytes(vec![0xff; 8])), Ok(u64::MAX));
        assert_eq!(
            (boolean(&Value::Int(1)), boolean(&bytes("0")), boolean(&Value::Bytes(vec![1]))),
            (Ok(true), Ok(false), Ok(true))
        );
        assert!(boolean(&Value::Int(-1)).is_err() && boolean(&bytes("2")).is_err());
        assert_eq!(integer::<u64>(&bytes("18446744073709551615")), Ok(u64::MAX));
        assert!(integer::<i8>(&Value::Int(-129)).is_err());
        assert!(integer::<u32>(&Value::Int(-1)).is_err());
        assert_eq!(float32(&bytes("0.1")), Ok(0.1_f32));
        assert!(float32(&Value::Double(0.1)).is_err(), "0.1 as a double has no exact f32");
        assert!(text(&Value::Bytes(vec![0xff])).is_err());
    }

    #[test]
    fn a_large_result_streams_in_batches_and_stops_when_told() {
        let Some(mut conn) = server() else { return };
        let sql = "SELECT seq FROM seq_1_to_500000";
        let schema = query_schema(&mut conn, sql, Tinyint1::Boolean).expect("schema");
        assert_eq!(schema.field(0).data_type(), &DataType::UInt64);
        let (mut sizes, mut sum) = (Vec::new(), 0_u64);
        stream_query(&mut conn, sql, &schema, 65_536, &mut |batch| {
            sizes.push(batch.num_rows());
            sum += batch.column(0).as_primitive::<arrow::datatypes::UInt64Type>().values().iter().sum::<u64>();
            true
        })
        .expect("stream");
        assert_eq!(sizes, [vec![65_536; 7], vec![500_000 - 7 * 65_536]].concat());
        assert_eq!(sum, 500_000 * 500_001 / 2);

        let mut emitted = 0;
        stream_query(&mut conn, sql, &schema, 1_000, &mut |batch| {
            assert_eq!(batch.num_rows(), 1_000);
            emitted += 1;
            emitted < 2
        })
        .expect("stopped stream");
        assert_eq!(emitted, 2, "no batch after emit said stop");
        let one: Option<i64> = conn.query_first("SELECT 1").expect("the connection is usable after an early stop");
        assert_eq!(one, Some(1));
    }

    /// The documented way to stop the server's work: kill the tagged statement from another
    /// connection, after which the drain that follows `emit` returning false ends at once.
    #[test]
    fn killing_the_statement_ends_an_early_stop_at_once() {
        let Some(mut conn) = server() else { return };
        let mut killer = open_session(URL).expect("session");
        let tag = unique_name("flow-read-kill-test");
        // About 50 million rows: draining them all would take far longer than the bound below.
        let sql = format!("SELECT /* {tag} */ a.seq * 10000 + b.seq AS n FROM seq_1_to_5000 a, seq_1_to_10000 b");
        let schema = query_schema(&mut conn, &sql, Tinyint1::Boolean).expect("schema");
        let start = Instant::now();
        let mut killed = 0;
        stream_query(&mut conn, &sql, &schema, 10_000, &mut |_| {
            killed = crate::connect::mysql::kill_queries_tagged(&mut killer, &tag).expect("kill");
            false
        })
        .expect("an early stop is no error");
        assert_eq!(killed, 1, "the statement was still running");
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        let one: Option<i64> = conn.query_first("SELECT 1").expect("the connection is usable after the kill");
        assert_eq!(one, Some(1));
    }

    fn count(conn: &mut Conn, table: &Table) -> i64 {
        let sql = table.sql("SELECT COUNT(*) AS n FROM {t}");
        let (_, batches) = read_all(conn, &sql, 10).expect("count");
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    }

    #[test]
    fn consistent_connections_share_one_snapshot() {
        let Some(mut table) = Table::create("id INT PRIMARY KEY", &["INSERT INTO {t} VALUES (1), (2), (3)"]) else {
            return;
        };
        let (mut conns, kind) = consistent_connections(URL, 3).expect("snapshot");
        assert_eq!(kind, SnapshotKind::Shared, "root has RELOAD");
        assert_eq!(conns.len(), 3);
        // Runs at once: the global read lock is gone.
        table.run("INSERT INTO {t} VALUES (4), (5)");
        for conn in &mut conns {
            assert_eq!(count(conn, &table), 3, "a snapshot connection sees the table as it was");
        }
        let mut fresh = open_session(URL).expect("session");
        assert_eq!(count(&mut fresh, &table), 5);
        let zone: Option<String> = conns[0].query_first("SELECT @@session.time_zone").expect("zone");
        assert_eq!(zone.as_deref(), Some("+00:00"));
    }

    #[test]
    fn without_reload_each_connection_gets_its_own_snapshot() {
        let Some(mut table) = Table::create("id INT PRIMARY KEY", &["INSERT INTO {t} VALUES (1), (2)"]) else {
            return;
        };
        let user = unique_name("flow_noreload");
        let password = "pw-secret-123";
        table.run(&format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'"));
        table.run(&format!("GRANT SELECT ON test.* TO '{user}'@'127.0.0.1'"));
        struct DropUser(String);
        impl Drop for DropUser {
            fn drop(&mut self) {
                if let Ok(mut conn) = open_session(URL) {
                    let _ = conn.query_drop(format!("DROP USER IF EXISTS '{}'@'127.0.0.1'", self.0));
                }
            }
        }
        let _drop_user = DropUser(user.clone());

        let url = format!("mysql://{user}:{password}@127.0.0.1:3306/test");
        let (mut conns, kind) = consistent_connections(&url, 2).expect("snapshots");
        assert_eq!(kind, SnapshotKind::PerPartition);
        assert!(kind.note().contains("different moments"));
        table.run("INSERT INTO {t} VALUES (3)");
        for conn in &mut conns {
            assert_eq!(count(conn, &table), 2, "each connection still reads its own snapshot");
        }

        let err =
            error_text(consistent_connections(&format!("mysql://{user}:wrong-{password}@127.0.0.1:3306/test"), 1));
        assert!(err.contains("cannot connect") && !err.contains(password), "{err}");
    }

    /// Times a 1,000,000-row read of mixed columns through this reader (binary and text protocol)
    /// and through connectorx. Run with
    /// `cargo test --lib mysql::reader::tests::measure -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_one_million_rows_against_connectorx() {
        let Some(table) = Table::create(
            "id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, total DECIMAL(12,2) NOT NULL, \
             created_at DATETIME(6) NOT NULL, note VARCHAR(64), weight DOUBLE, ship_date DATE",
            &[
                "INSERT INTO {t} SELECT seq, seq % 10007, ELT(1 + seq % 5, 'new', 'paid', 'shipped', 'done', 'cancelled'), \
               (seq % 100000) / 100, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, \
               IF(seq % 3 = 0, NULL, REPEAT(CHAR(97 + seq % 26), 20 + seq % 40)), seq / 7, \
               IF(seq % 4 = 0, NULL, DATE '2024-01-01' + INTERVAL seq % 365 DAY) FROM seq_1_to_1000000",
            ],
        ) else {
            return;
        };
        let sql = table.sql("SELECT * FROM {t}");
        let mut conn = open_session(URL).expect("session");
        let schema = query_schema(&mut conn, &sql, Tinyint1::Boolean).expect("schema");
        type Reader = fn(&mut Conn, &str, &SchemaRef, usize, &mut dyn FnMut(RecordBatch) -> bool) -> Result<()>;
        for round in 0..2 {
            for (name, read) in
                [("binary (exec_iter)", stream_query as Reader), ("text (query_iter)", stream_query_text)]
            {
                let start = Instant::now();
                let mut rows = 0;
                read(&mut conn, &sql, &schema, 8192, &mut |batch| {
                    rows += batch.num_rows();
                    true
                })
                .expect("read");
                let seconds = start.elapsed().as_secs_f64();
                println!(
                    "round {round}: native {name}: {rows} rows in {seconds:.2} s ({:.0} rows/s)",
                    rows as f64 / seconds
                );
            }
            let start = Instant::now();
            let batches =
                connectorx_reader::fetch_all(&CxQuery { url: URL.to_string(), sql: sql.clone() }).expect("connectorx");
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "round {round}: connectorx fetch_all: {rows} rows in {seconds:.2} s ({:.0} rows/s)",
                rows as f64 / seconds
            );
        }
    }
}
