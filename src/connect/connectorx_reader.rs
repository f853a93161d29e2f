//! Reading MySQL/MariaDB and SQLite through connectorx, in bounded memory, without panics.
//!
//! connectorx 0.4.6 is fast, but three things about it have to be contained before Flow can use it:
//!
//! * **Memory.** Its arrow destination collects a whole result before handing anything back, and its
//!   streaming destination uses an unbounded channel. This module therefore runs a list of queries
//!   chosen by the caller (each one a bounded chunk, e.g. a key range) one after another through
//!   [`get_arrow`], and forwards the batches through a channel that holds at most `max_in_flight`
//!   batches. At most one chunk plus `max_in_flight` batches are in memory at any time.
//! * **Panics.** connectorx panics on data it cannot convert (a MySQL `TIME` outside
//!   `00:00:00..24:00:00`, a zero date, a column type it does not know, …) and its streaming
//!   iterator re-panics when a partition fails. Every call into it runs under
//!   [`std::panic::catch_unwind`] and a panic becomes a [`DataFusionError::Execution`]. (The default
//!   panic hook still prints the panic to stderr; the process carries on.)
//! * **Blocking.** Everything connectorx does is blocking, so the producer runs on a blocking thread
//!   ([`tokio::task::spawn_blocking`], or a plain thread outside a runtime).
//!
//! The batches arrive as arrow 56 and cross into arrow 59 through the C Data Interface
//! ([`super::ffi_bridge`]), without copying. Types are then normalised so that nothing is silently
//! lost (see the table below), and [`stream_queries`] casts each batch to the schema the caller
//! expects (normally the one [`query_schema`] returned), failing rather than turning values that do
//! not fit into NULLs.
//!
//! Dropping the stream cancels the read: the producer notices at its next send, and no further
//! query starts. A query that is already running in connectorx cannot be interrupted from this
//! side, so every MySQL query carries a comment unique to its stream (`/* flow-read PID-N */`),
//! and dropping the stream before its end stops the stream's running statement on the server with
//! `KILL QUERY` from a second connection (see `connect::mysql::source::KillOnDrop`).
//!
//! Error messages never contain a password from a URL: `user:secret@` is shown as `user:***@`, and
//! the password is scrubbed from messages of the drivers as well.
//!
//! # URLs
//!
//! * MySQL/MariaDB: `mysql://user:password@host:3306/database` (connectorx's `?cxprotocol=text`
//!   and `?ssl-mode=…` parameters are honoured).
//! * SQLite: `sqlite:///absolute/path/to/file.db` — connectorx takes everything after `sqlite://`
//!   as the (percent-decoded) path, so an absolute path gives three slashes. A missing file is an
//!   error here; connectorx would silently create an empty database.
//!
//! # Type mappings (observed with connectorx 0.4.6 and MariaDB 10.11, after normalisation)
//!
//! | MySQL / MariaDB type              | Arrow type delivered                                   |
//! |-----------------------------------|--------------------------------------------------------|
//! | `TINYINT` (incl. `BOOLEAN`)       | `Int8` (MySQL has no real boolean)                     |
//! | `SMALLINT`                        | `Int16`                                                |
//! | `MEDIUMINT`, `INT`                | `Int32`                                                |
//! | `BIGINT`                          | `Int64`                                                |
//! | `… UNSIGNED` of the above         | `UInt8` / `UInt16` / `UInt32` / `UInt32` / `UInt64` (full range, exact) |
//! | `YEAR`                            | `Int16`                                                |
//! | `BIT(n)`                          | `LargeBinary` (big-endian bytes, `ceil(n/8)` of them)  |
//! | `DECIMAL(p,s)`, `p ≤ 38`          | `Decimal128(p,s)`, exact                               |
//! | `DECIMAL(p,s)`, `p > 38`          | `Decimal256(p,s)`, exact                               |
//! | `FLOAT`                           | `Float32`                                              |
//! | `DOUBLE`                          | `Float64`                                              |
//! | `CHAR`, `VARCHAR`, `*TEXT`, `ENUM`, `SET` | `Utf8`                                         |
//! | `JSON`                            | `Utf8` (MariaDB: the stored text; MySQL 8: re-serialised by serde_json, keys sorted) |
//! | `BINARY`, `VARBINARY`, `*BLOB`    | `LargeBinary`                                          |
//! | `DATE`                            | `Date32`                                               |
//! | `TIME`                            | `Time64(µs)`; values outside `00:00:00..24:00:00` fail the read |
//! | `DATETIME`                        | `Timestamp(µs, None)` — wall-clock time, no zone       |
//! | `TIMESTAMP`                       | `Timestamp(µs, "+00:00")` — the session runs with `time_zone = '+00:00'`, so the instant is exact |
//! | `GEOMETRY`, `NULL` literal, …     | not supported by connectorx: the read fails with an error |
//!
//! | SQLite declared type (connectorx's rule)                 | Arrow type delivered        |
//! |----------------------------------------------------------|-----------------------------|
//! | `BOOLEAN`, `BOOL`                                        | `Boolean`                   |
//! | contains `INT` (`INTEGER`, `BIGINT`, `INT4`, `INT2`, …)  | `Int64`                     |
//! | contains `REAL`, `FLOA`, `DOUB`                          | `Float64`                   |
//! | contains `CHAR`, `CLOB`, `TEXT`                          | `Utf8`                      |
//! | contains `BLOB`                                          | `LargeBinary`               |
//! | `DATE` (text `YYYY-MM-DD`)                               | `Date32`                    |
//! | `TIME` (text `HH:MM[:SS[.f]]`)                           | `Time64(µs)`                |
//! | `DATETIME`, `TIMESTAMP` (text `YYYY-MM-DD[ T]HH:MM:SS[.f]`) | `Timestamp(µs, None)`    |
//! | anything else (`NUMERIC`, `DECIMAL(p,s)`, expressions, no type) | inferred from the value in the first row: `Int64`, `Float64`, `Utf8` or `LargeBinary`; a NULL there fails the read |
//!
//! SQLite values that do not match the column's mapped type (text in an `INTEGER` column, a real
//! after an inferred integer, a date not in the text formats above, …) fail the read with an error.
//! SQLite columns are always nullable. MySQL columns are nullable unless declared `NOT NULL`.
//!
//! # Decimals
//!
//! connectorx converts MySQL `DECIMAL`s through `rust_decimal` (at most 28 significant digits) into
//! `Decimal128(38,10)`. That is exact only for `scale ≤ 10` and at most 18 integer digits; beyond
//! that it rounds away fractional digits or fails (with an error or a panic). So:
//!
//! * columns inside that range are read natively and cast exactly to their declared
//!   `Decimal128(p,s)`;
//! * for a query with any wider `DECIMAL` column, that column is read as text instead —
//!   the query is wrapped as `SELECT …, CAST(col AS CHAR) AS col, … FROM (<query>) AS t` — and
//!   parsed into `Decimal128(p,s)` / `Decimal256(p,s)` exactly. The wrapping needs unique column
//!   names, and MariaDB may ignore an `ORDER BY` inside a derived table, so the row order within
//!   such a chunk is not guaranteed (sort downstream if it matters).

use super::ffi_bridge::batch_from_arrow56;
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, RecordBatchOptions};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, Field, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};
use connectorx::prelude::{
    ArrowDestination, CXQuery, Dispatcher, MySQLArrowTransport, MySQLSource, SQLiteArrowTransport, SQLiteSource,
    SourceConn, SourceType, get_arrow,
};
use connectorx::sources::mysql::{BinaryProtocol, build_opts};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use mysql::consts::{ColumnFlags, ColumnType};
use mysql::prelude::Queryable;
use std::any::Any;
use std::fmt::Display;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// One query against one source. Each query is a chunk whose result must fit in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CxQuery {
    /// `mysql://…` or `sqlite:///…`, see the module docs.
    pub url: String,
    pub sql: String,
}

/// Runs the queries one after another (each is a bounded chunk chosen by the caller) and streams
/// their batches, converted to arrow 59, through a bounded channel of `max_in_flight` batches.
///
/// Every batch is cast to `schema` (normally what [`query_schema`] returned for the same query);
/// a value that does not fit fails the stream instead of becoming NULL. The stream ends after the
/// first error. Dropping the stream stops the producer: no further query is started.
///
/// Call it from within a tokio runtime to run the producer on the runtime's blocking pool;
/// outside a runtime a dedicated thread is used.
pub fn stream_queries(queries: Vec<CxQuery>, schema: SchemaRef, max_in_flight: usize) -> SendableRecordBatchStream {
    spawn_stream(queries, schema, max_in_flight, None)
}

/// Reads one query completely (blocking) and returns its batches, normalised as described in the
/// module docs. An empty result gives one empty batch that carries the schema.
pub fn fetch_all(q: &CxQuery) -> Result<Vec<RecordBatch>> {
    let redactor = Redactor::new(&q.url);
    contain_panics(&redactor, || CxSource::open(&q.url)?.read(&q.sql))
}

/// The schema (arrow 59, normalised) that reading `sql` from `url` produces (blocking).
///
/// MySQL derives it from the prepared statement without running the query. SQLite derives it
/// from the declared column types and, for columns without a usable declared type, from the first
/// row of the query — exactly as connectorx does when it reads.
pub fn query_schema(url: &str, sql: &str) -> Result<SchemaRef> {
    let redactor = Redactor::new(url);
    contain_panics(&redactor, || CxSource::open(url)?.schema(sql))
}

/// Session setting for every MySQL read: `TIMESTAMP` values are instants stored in UTC and are
/// sent in the session time zone, which is thereby UTC too.
const MYSQL_SESSION_UTC: &str = "SET time_zone = '+00:00'";
/// Time zone label for MySQL `TIMESTAMP` columns (matches DataFusion's `now()`).
const UTC: &str = "+00:00";
/// connectorx scales every MySQL decimal to 10 fractional digits…
const CX_DECIMAL_SCALE: u8 = 10;
/// …inside a `rust_decimal` (28 digits), which leaves 18 exact integer digits.
const CX_DECIMAL_MAX_INTEGER_DIGITS: u8 = 18;
/// Bound for establishing the metadata connection, so an unreachable host fails in bounded time.
const MYSQL_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// tokio's channel rejects larger capacities; nobody needs more batches in flight than this.
const MAX_CHANNEL_CAPACITY: usize = 1 << 16;

/// What flows from the producer to the stream. `Done` is explicit so that a producer that vanishes
/// (a dropped task) can never look like a complete, merely shorter, result.
enum Message {
    Batch(RecordBatch),
    Error(DataFusionError),
    Done,
}

/// How the producer ended, and how many queries it had started by then (for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProducerEnd {
    Finished,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProducerReport {
    end: ProducerEnd,
    queries_started: usize,
}

fn spawn_stream(
    mut queries: Vec<CxQuery>,
    schema: SchemaRef,
    max_in_flight: usize,
    report: Option<oneshot::Sender<ProducerReport>>,
) -> SendableRecordBatchStream {
    let (tx, rx) = mpsc::channel(max_in_flight.clamp(1, MAX_CHANNEL_CAPACITY));
    let producer_done = Arc::new(AtomicBool::new(false));
    let mut guard = None;
    if let Some(first) = queries.first()
        && first.url.starts_with("mysql://")
    {
        let tag = super::mysql::source::read_tag();
        guard = Some(super::mysql::source::KillOnDrop::new(&first.url, &tag, Arc::clone(&producer_done)));
        for query in &mut queries {
            query.sql = format!("{tag} {}", query.sql);
        }
    }
    let done_flag = Arc::clone(&producer_done);
    // Kept only long enough to report a failure to start the producer; holding it longer would
    // keep the channel open after the producer is done.
    let spawn_error_tx = tx.clone();
    let producer_schema = Arc::clone(&schema);
    let work = move || {
        let redactors: Vec<Redactor> = queries.iter().map(|q| Redactor::new(&q.url)).collect();
        let mut started = 0;
        let end = catch_unwind(AssertUnwindSafe(|| produce(queries, &producer_schema, &tx, &mut started)))
            .unwrap_or_else(|payload| {
                // Only a bug in this module gets here: connectorx calls are guarded individually.
                let message =
                    redact_all(&redactors, &format!("connectorx reader panicked: {}", panic_message(&*payload)));
                // The consumer may be gone already; then there is nobody to tell.
                let _ = tx.blocking_send(Message::Error(DataFusionError::Execution(message)));
                ProducerEnd::Failed
            });
        done_flag.store(true, Ordering::SeqCst);
        if let Some(report) = report {
            let _ = report.send(ProducerReport { end, queries_started: started });
        }
    };
    if let Err(e) = spawn_blocking_work(work) {
        // The channel is empty and has room for at least one message.
        let _ = spawn_error_tx.try_send(Message::Error(DataFusionError::Execution(format!(
            "cannot start the connectorx reader thread: {e}"
        ))));
    }
    drop(spawn_error_tx);

    let batches = futures::stream::unfold(Some((rx, guard)), |state| async move {
        let (mut rx, mut guard) = state?;
        let message = rx.recv().await;
        if !matches!(message, Some(Message::Batch(_)))
            && let Some(guard) = guard.as_mut()
        {
            // The producer ran its last query: nothing is left to stop on the server.
            guard.disarm();
        }
        match message {
            Some(Message::Batch(batch)) => Some((Ok(batch), Some((rx, guard)))),
            Some(Message::Error(e)) => Some((Err(e), None)),
            Some(Message::Done) => None,
            None => Some((
                Err(DataFusionError::Execution(
                    "the connectorx reader stopped before finishing its queries".to_string(),
                )),
                None,
            )),
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, batches))
}

/// Runs `work` on tokio's blocking pool when called inside a runtime, else on a new thread.
fn spawn_blocking_work(work: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            // Detached on purpose: the producer ends on its own, or when the stream is dropped.
            drop(handle.spawn_blocking(work));
            Ok(())
        }
        Err(_) => std::thread::Builder::new().name("flow-connectorx-reader".to_string()).spawn(work).map(drop),
    }
}

/// The producer loop: one query at a time, each batch sent (blocking) as soon as there is room.
fn produce(queries: Vec<CxQuery>, schema: &SchemaRef, tx: &mpsc::Sender<Message>, started: &mut usize) -> ProducerEnd {
    let total = queries.len();
    let mut sources = SourceCache::default();
    for (index, query) in queries.into_iter().enumerate() {
        // Checked before every query, so that nothing new starts once the consumer is gone.
        if tx.is_closed() {
            return ProducerEnd::Cancelled;
        }
        *started += 1;
        let batches = match sources.get(&query.url).and_then(|source| source.read(&query.sql)) {
            Ok(batches) => batches,
            // A query stopped by `KillOnDrop` fails; the consumer is gone by then.
            Err(_) if tx.is_closed() => return ProducerEnd::Cancelled,
            Err(e) => {
                let _ = tx.blocking_send(Message::Error(e));
                return ProducerEnd::Failed;
            }
        };
        for batch in batches {
            // connectorx emits an empty batch for an empty result; the stream has the schema.
            if batch.num_rows() == 0 {
                continue;
            }
            let message = match conform(batch, schema) {
                Ok(batch) => Message::Batch(batch),
                Err(e) => Message::Error(DataFusionError::Execution(format!("query {} of {total}: {e}", index + 1))),
            };
            let failed = matches!(message, Message::Error(_));
            if tx.blocking_send(message).is_err() {
                return ProducerEnd::Cancelled;
            }
            if failed {
                return ProducerEnd::Failed;
            }
        }
    }
    match tx.blocking_send(Message::Done) {
        Ok(()) => ProducerEnd::Finished,
        Err(_) => ProducerEnd::Cancelled,
    }
}

/// Keeps the source of the previous query open, so that consecutive chunks of one source reuse
/// its metadata connection.
#[derive(Default)]
struct SourceCache {
    current: Option<(String, CxSource)>,
}

impl SourceCache {
    fn get(&mut self, url: &str) -> Result<&mut CxSource> {
        if self.current.as_ref().is_none_or(|(open, _)| open != url) {
            let redactor = Redactor::new(url);
            let source = contain_panics(&redactor, || CxSource::open(url))?;
            self.current = Some((url.to_string(), source));
        }
        match &mut self.current {
            Some((_, source)) => Ok(source),
            None => {
                Err(DataFusionError::Internal("connectorx source cache is empty right after filling it".to_string()))
            }
        }
    }
}

/// One opened source: connectorx's parsed connection plus what this module needs on the side.
struct CxSource {
    conn: SourceConn,
    redactor: Redactor,
    backend: Backend,
}

enum Backend {
    /// `meta` is our own connection, used to read the exact column types (decimal precision and
    /// scale, TIMESTAMP vs DATETIME) that connectorx does not keep.
    MySql {
        meta: mysql::Conn,
    },
    Sqlite,
}

/// Per-column adjustment of what connectorx delivers, decided from the source's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnFix {
    Keep,
    /// Cast to the declared decimal type; `as_text` when connectorx must read it as a string.
    Decimal {
        precision: u8,
        scale: i8,
        as_text: bool,
    },
    /// A MySQL `TIMESTAMP`: label the (UTC) values as such.
    UtcTimestamp,
}

/// The SQL actually sent to connectorx and the fixes to apply to its result.
struct ReadPlan {
    sql: String,
    fixes: Vec<ColumnFix>,
}

impl CxSource {
    fn open(url: &str) -> Result<Self> {
        let redactor = Redactor::new(url);
        let conn = SourceConn::try_from(url)
            .map_err(|e| redactor.error(format!("invalid source URL {}", redactor.shown_url), e))?;
        let backend = match conn.ty {
            SourceType::MySQL => {
                let opts = build_opts(conn.conn.as_str())
                    .map_err(|e| redactor.error(format!("invalid MySQL URL {}", redactor.shown_url), e))?
                    .tcp_connect_timeout(Some(MYSQL_CONNECT_TIMEOUT));
                // Connecting here first also turns a refused connection into a clear error after
                // Flow's own retries; connectorx's pool would retry for 30 seconds before giving up.
                let meta = super::mysql::connect(&opts.into()).map_err(|f| {
                    let e = &f.error;
                    let hint = super::connection_hint(&e.to_string());
                    let context = format!("cannot connect to {}{}", redactor.shown_url, f.attempts_note());
                    redactor.error(context, format!("{e}; {hint}"))
                })?;
                Backend::MySql { meta }
            }
            SourceType::SQLite => {
                let path = sqlite_path(&conn)
                    .map_err(|e| DataFusionError::Execution(format!("{e} (got {})", redactor.shown_url)))?;
                if !path.is_file() {
                    return Err(DataFusionError::Execution(format!(
                        "SQLite database {} does not exist (from {})",
                        path.display(),
                        redactor.shown_url
                    )));
                }
                Backend::Sqlite
            }
            other => {
                return Err(DataFusionError::Execution(format!(
                    "unsupported source {} ({other:?}): only mysql:// and sqlite:// URLs are read \
                     through connectorx",
                    redactor.shown_url
                )));
            }
        };
        Ok(Self { conn, redactor, backend })
    }

    /// Reads the whole result of `sql` (one chunk) and normalises it.
    fn read(&mut self, sql: &str) -> Result<Vec<RecordBatch>> {
        let plan = self.plan(sql)?;
        let session: Vec<String> = match self.backend {
            Backend::MySql { .. } => vec![MYSQL_SESSION_UTC.to_string()],
            Backend::Sqlite => Vec::new(),
        };
        let queries = [CXQuery::naked(&plan.sql)];
        let destination =
            self.guard("reading from", || get_arrow(&self.conn, None, &queries, Some(session.as_slice())))?;
        let batches = destination.arrow().map_err(|e| {
            let context = format!("collecting the result from {}", self.redactor.shown_url);
            self.redactor.error(context, e)
        })?;
        batches.into_iter().map(|batch| apply_fixes(batch_from_arrow56(batch)?, &plan.fixes)).collect()
    }

    /// The normalised schema connectorx produces for `sql`, from metadata only (see
    /// [`query_schema`]).
    fn schema(&mut self, sql: &str) -> Result<SchemaRef> {
        let plan = self.plan(sql)?;
        let queries = [CXQuery::naked(&plan.sql)];
        let url = self.conn.conn.as_str();
        let is_mysql = matches!(self.backend, Backend::MySql { .. });
        let empty = self.guard("reading the schema from", || {
            let mut destination = ArrowDestination::new();
            if is_mysql {
                // Metadata does not depend on the protocol; both use a prepared statement.
                let source = MySQLSource::<BinaryProtocol>::new(url, 1).map_err(|e| e.to_string())?;
                Dispatcher::<_, _, MySQLArrowTransport<BinaryProtocol>>::new(source, &mut destination, &queries, None)
                    .get_meta()
                    .map_err(|e| e.to_string())?;
            } else {
                // Same path argument as `get_arrow` derives from the URL.
                let path = url.get("sqlite://".len()..).unwrap_or_default();
                let source = SQLiteSource::new(path, 1).map_err(|e| e.to_string())?;
                Dispatcher::<_, _, SQLiteArrowTransport>::new(source, &mut destination, &queries, None)
                    .get_meta()
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(destination.empty_batch())
        })?;
        Ok(apply_fixes(batch_from_arrow56(empty)?, &plan.fixes)?.schema())
    }

    fn plan(&mut self, sql: &str) -> Result<ReadPlan> {
        match &mut self.backend {
            Backend::Sqlite => Ok(ReadPlan { sql: sql.to_string(), fixes: Vec::new() }),
            Backend::MySql { meta } => {
                let redactor = &self.redactor;
                let statement = meta
                    .prep(sql)
                    .map_err(|e| redactor.error(format!("preparing the query on {}", redactor.shown_url), e))?;
                let columns = statement.columns();
                let fixes: Vec<ColumnFix> = columns.iter().map(mysql_column_fix).collect();
                let needs_text = fixes.iter().any(|fix| matches!(fix, ColumnFix::Decimal { as_text: true, .. }));
                let sql = if needs_text {
                    let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
                    wrap_decimals_as_text(sql, &names, &fixes).map_err(DataFusionError::Execution)?
                } else {
                    sql.to_string()
                };
                Ok(ReadPlan { sql, fixes })
            }
        }
    }

    /// Runs a connectorx call, turning both its errors and its panics into redacted
    /// [`DataFusionError::Execution`]s.
    fn guard<T, E: Display>(&self, action: &str, call: impl FnOnce() -> std::result::Result<T, E>) -> Result<T> {
        let url = &self.redactor.shown_url;
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.redactor.error(format!("{action} {url}"), e)),
            Err(payload) => {
                Err(self.redactor.error(format!("{action} {url}: connectorx panicked"), panic_message(&*payload)))
            }
        }
    }
}

/// Decides how to treat one MySQL result column. Only decimals and TIMESTAMPs need help.
fn mysql_column_fix(column: &mysql::Column) -> ColumnFix {
    match column.column_type() {
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let scale = column.decimals();
            let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
            // The server reports the display length: digits, plus one for the decimal point when
            // there is a fraction, plus one for the sign unless unsigned.
            let overhead = u32::from(scale > 0) + u32::from(!unsigned);
            let digits = column.column_length().saturating_sub(overhead);
            let at_least = scale.clamp(1, DECIMAL256_MAX_PRECISION);
            let precision =
                u8::try_from(digits).unwrap_or(DECIMAL256_MAX_PRECISION).clamp(at_least, DECIMAL256_MAX_PRECISION);
            let exact_natively =
                scale <= CX_DECIMAL_SCALE && precision - scale.min(precision) <= CX_DECIMAL_MAX_INTEGER_DIGITS;
            ColumnFix::Decimal {
                precision,
                // MySQL scales are at most 30 (MariaDB 38), always within `i8`.
                scale: i8::try_from(scale).unwrap_or(i8::MAX),
                as_text: !exact_natively,
            }
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP => ColumnFix::UtcTimestamp,
        _ => ColumnFix::Keep,
    }
}

/// `SELECT a, CAST(d AS CHAR) AS d, … FROM (<sql>) AS t` for the decimals that must be read as
/// text. Column names must be unique for a derived table.
fn wrap_decimals_as_text(sql: &str, names: &[String], fixes: &[ColumnFix]) -> std::result::Result<String, String> {
    for (i, name) in names.iter().enumerate() {
        // MySQL compares column names case-insensitively.
        if names[..i].iter().any(|other| other.eq_ignore_ascii_case(name)) {
            return Err(format!(
                "column `{name}` appears more than once; a DECIMAL wider than connectorx reads \
                 exactly must be read as text, which needs unique column names: alias the columns"
            ));
        }
    }
    let select_list: Vec<String> = names
        .iter()
        .zip(fixes)
        .map(|(name, fix)| {
            let quoted = quote_mysql_identifier(name);
            match fix {
                ColumnFix::Decimal { as_text: true, .. } => {
                    format!("CAST({quoted} AS CHAR) AS {quoted}")
                }
                _ => quoted,
            }
        })
        .collect();
    let inner = sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
    // The newlines keep a trailing `-- comment` in the inner query from swallowing the `)`.
    Ok(format!("SELECT {} FROM (\n{inner}\n) AS `flow_cx_decimal_text`", select_list.join(", ")))
}

fn quote_mysql_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn decimal_type(precision: u8, scale: i8) -> DataType {
    if precision <= DECIMAL128_MAX_PRECISION {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    }
}

/// Casts that fail instead of producing NULL for values that do not fit.
fn strict_cast() -> CastOptions<'static> {
    CastOptions { safe: false, ..Default::default() }
}

/// Applies the per-column fixes of a [`ReadPlan`] to one converted batch.
fn apply_fixes(batch: RecordBatch, fixes: &[ColumnFix]) -> Result<RecordBatch> {
    if fixes.iter().all(|fix| *fix == ColumnFix::Keep) {
        return Ok(batch);
    }
    if fixes.len() != batch.num_columns() {
        return Err(DataFusionError::Execution(format!(
            "connectorx returned {} columns where the statement metadata announced {}",
            batch.num_columns(),
            fixes.len()
        )));
    }
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(fixes.len());
    let mut columns = Vec::with_capacity(fixes.len());
    for ((field, column), fix) in schema.fields().iter().zip(batch.columns()).zip(fixes) {
        let column: ArrayRef = match *fix {
            ColumnFix::Keep => Arc::clone(column),
            ColumnFix::Decimal { precision, scale, .. } => {
                // Natively read decimals arrive as Decimal128(38,10) holding at most `scale`
                // fractional digits, text ones as the server's exact rendering: both casts are
                // exact, and `safe: false` turns anything that does not fit into an error.
                let target = decimal_type(precision, scale);
                cast_with_options(column, &target, &strict_cast()).map_err(|e| {
                    DataFusionError::Execution(format!(
                        "column `{}`: converting {} to {target}: {e}",
                        field.name(),
                        column.data_type()
                    ))
                })?
            }
            ColumnFix::UtcTimestamp => match column.data_type() {
                // A relabel, not a cast: the values already are UTC microseconds.
                DataType::Timestamp(TimeUnit::Microsecond, None) => {
                    Arc::new(column.as_primitive::<TimestampMicrosecondType>().clone().with_timezone(UTC))
                }
                DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => Arc::clone(column),
                other => {
                    return Err(DataFusionError::Execution(format!(
                        "column `{}`: expected connectorx to deliver a MySQL TIMESTAMP as \
                         Timestamp(µs), got {other}",
                        field.name()
                    )));
                }
            },
        };
        fields.push(
            Field::new(field.name(), column.data_type().clone(), field.is_nullable())
                .with_metadata(field.metadata().clone()),
        );
        columns.push(column);
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    Ok(RecordBatch::try_new_with_options(
        schema,
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

/// Casts `batch` to the caller's expected schema (names, types, nullability, metadata).
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return Err(DataFusionError::Execution(format!(
            "the query returned {} columns, the expected schema has {}",
            batch.num_columns(),
            schema.fields().len()
        )));
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(Arc::clone(column));
            }
            cast_with_options(column, field.data_type(), &strict_cast()).map_err(|e| {
                DataFusionError::Execution(format!(
                    "column `{}`: cannot convert {} to the expected {}: {e}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .map_err(|e| DataFusionError::Execution(format!("batch does not match the expected schema: {e}")))
}

/// The file connectorx opens for a `sqlite://` URL: everything after the scheme's `//`,
/// percent-decoded (mirrors `get_arrow` and `SQLiteSource::new`).
fn sqlite_path(conn: &SourceConn) -> std::result::Result<PathBuf, String> {
    let url = conn.conn.as_str();
    let encoded = url
        .strip_prefix("sqlite://")
        .ok_or_else(|| "SQLite URLs must look like sqlite:///absolute/path/to/file.db".to_string())?;
    if encoded.is_empty() {
        return Err("the SQLite URL names no database file".to_string());
    }
    percent_decode(encoded)
        .map(PathBuf::from)
        .ok_or_else(|| "the SQLite path is not valid percent-encoded UTF-8".to_string())
}

/// Runs `call` and turns a panic (a bug, as the calls it wraps guard connectorx themselves) into
/// an error.
fn contain_panics<T>(redactor: &Redactor, call: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        Err(redactor.error(format!("connectorx reader panicked ({})", redactor.shown_url), panic_message(&*payload)))
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    super::blocking::panic_message(payload)
}

/// Keeps passwords out of messages: knows the URL as given, how to show it, and which strings
/// must never appear.
#[derive(Debug, Clone)]
struct Redactor {
    shown_url: String,
    secrets: Vec<String>,
}

impl Redactor {
    fn new(url: &str) -> Self {
        match password_span(url) {
            Some((start, end)) => {
                let raw = &url[start..end];
                let mut secrets = vec![url.to_string(), raw.to_string()];
                if let Some(decoded) = percent_decode(raw) {
                    secrets.push(decoded);
                }
                // Longest first, so a secret containing another is removed whole.
                secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
                secrets.dedup();
                let shown_url = format!("{}***{}", &url[..start], &url[end..]);
                Self { shown_url, secrets }
            }
            None => Self { shown_url: url.to_string(), secrets: Vec::new() },
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            // The full URL becomes its shown form; a bare password becomes `***`.
            let replacement = if secret.contains("://") { self.shown_url.as_str() } else { "***" };
            text = text.replace(secret.as_str(), replacement);
        }
        text
    }

    /// `context` is written by this module (it shows [`Self::shown_url`] at most); `cause` comes
    /// from a driver or from connectorx and is scrubbed.
    fn error(&self, context: String, cause: impl Display) -> DataFusionError {
        DataFusionError::Execution(format!("{context}: {}", self.redact(&cause.to_string())))
    }
}

fn redact_all(redactors: &[Redactor], text: &str) -> String {
    redactors.iter().fold(text.to_string(), |text, redactor| redactor.redact(&text))
}

/// Byte range of the password in `scheme://user:password@host…`, if there is a non-empty one.
///
/// The user info is taken to end at the *last* `@`, so a password containing an unescaped `@`,
/// `/`, `?` or `#` is still covered (at worst, more than the password is hidden).
fn password_span(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let rest = &url[authority_start..];
    let at = rest.rfind('@')?;
    let colon = rest[..at].find(':')?;
    let (start, end) = (authority_start + colon + 1, authority_start + at);
    (start < end).then_some((start, end))
}

/// Decodes `%XX` escapes (leaving `+` alone, as URL paths and user info do); `None` for invalid
/// UTF-8. Malformed escapes are kept literally.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(&hi), Some(&lo)) => hex_value(hi).zip(hex_value(lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|v| u8::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Decimal128Array, Decimal256Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
        Int64Array, LargeBinaryArray, StringArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
    };
    use arrow::compute::{cast, concat_batches, sort_to_indices, take_record_batch};
    use arrow::datatypes::i256;
    use futures::TryStreamExt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    // ---------------------------------------------------------------- helpers

    fn unique_name(prefix: &str) -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{prefix}_{}_{nanos}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
    }

    /// A SQLite file in the temp directory, removed on drop.
    struct TempSqlite {
        path: PathBuf,
    }

    impl TempSqlite {
        fn new(setup: &str) -> Self {
            let path = std::env::temp_dir().join(format!("{}.db", unique_name("cx_reader_test")));
            let conn = rusqlite::Connection::open(&path).expect("create SQLite file");
            conn.execute_batch(setup).expect("set up SQLite database");
            Self { path }
        }

        fn url(&self) -> String {
            format!("sqlite://{}", self.path.display())
        }

        fn query(&self, sql: &str) -> CxQuery {
            CxQuery { url: self.url(), sql: sql.to_string() }
        }
    }

    impl Drop for TempSqlite {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    async fn collect(stream: SendableRecordBatchStream) -> Result<Vec<RecordBatch>> {
        stream.try_collect().await
    }

    fn concat(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
        concat_batches(schema, batches).expect("batches share the schema")
    }

    /// Rows sorted by the first column, so that chunk order does not matter.
    fn sorted_by_first_column(batch: &RecordBatch) -> RecordBatch {
        let indices = sort_to_indices(batch.column(0), None, None).expect("sortable key");
        take_record_batch(batch, &indices).expect("take rows")
    }

    fn strings_as(values: &[Option<&str>], data_type: &DataType) -> ArrayRef {
        cast(&StringArray::from(values.to_vec()), data_type).expect("test literal parses")
    }

    fn utc_timestamps(values: &[Option<&str>]) -> ArrayRef {
        let naive = strings_as(values, &DataType::Timestamp(TimeUnit::Microsecond, None));
        Arc::new(naive.as_primitive::<TimestampMicrosecondType>().clone().with_timezone(UTC))
    }

    /// Compares column by column, naming the column that differs.
    fn assert_columns_eq(actual: &RecordBatch, expected: &[(&str, ArrayRef)]) {
        assert_eq!(actual.num_columns(), expected.len(), "column count");
        for (i, (name, want)) in expected.iter().enumerate() {
            assert_eq!(actual.schema().field(i).name(), name, "name of column {i}");
            assert_eq!(actual.column(i).data_type(), want.data_type(), "type of `{name}`");
            assert_eq!(actual.column(i).as_ref(), want.as_ref(), "values of `{name}`");
        }
    }

    fn error_text<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(DataFusionError::Execution(message)) => message,
            Err(other) => panic!("expected DataFusionError::Execution, got {other:?}"),
        }
    }

    fn text_10k() -> String {
        // 20 bytes per repetition: ASCII, a two-byte and a four-byte character.
        "0123456789abcdé🦀".repeat(512)
    }

    // ---------------------------------------------------------------- pure helpers

    #[test]
    fn passwords_are_redacted_from_urls_and_messages() {
        let redactor = Redactor::new("mysql://user:secret@db.example:3306/app");
        assert_eq!(redactor.shown_url, "mysql://user:***@db.example:3306/app");
        let message =
            redactor.redact("cannot reach mysql://user:secret@db.example:3306/app (password secret rejected)");
        assert_eq!(message, "cannot reach mysql://user:***@db.example:3306/app (password *** rejected)");

        // Percent-encoded passwords are scrubbed in both spellings.
        let redactor = Redactor::new("mysql://u:p%40ss%2Fw@h/db");
        assert_eq!(redactor.shown_url, "mysql://u:***@h/db");
        assert_eq!(redactor.redact("p@ss/w and p%40ss%2Fw"), "*** and ***");

        // Unescaped `@` and `/` in the password are still covered.
        let redactor = Redactor::new("mysql://u:pa/ss@word@h/db");
        assert_eq!(redactor.shown_url, "mysql://u:***@h/db");

        // Nothing to hide.
        for url in
            ["mysql://root@127.0.0.1:3306/test", "mysql://root:@127.0.0.1/test", "sqlite:///tmp/a.db", "not a url"]
        {
            let redactor = Redactor::new(url);
            assert_eq!(redactor.shown_url, url);
            assert_eq!(redactor.redact("unchanged"), "unchanged");
        }
    }

    #[test]
    fn percent_decoding_follows_url_rules() {
        assert_eq!(percent_decode("/tmp/a%20b.db").as_deref(), Some("/tmp/a b.db"));
        assert_eq!(percent_decode("a+b%2").as_deref(), Some("a+b%2"));
        assert_eq!(percent_decode("%F0%9F%A6%80").as_deref(), Some("🦀"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn wide_decimals_are_wrapped_as_text_with_quoted_unique_names() {
        let fixes = [
            ColumnFix::Keep,
            ColumnFix::Decimal { precision: 38, scale: 10, as_text: true },
            ColumnFix::Decimal { precision: 12, scale: 2, as_text: false },
        ];
        let names = ["id".to_string(), "we`ird".to_string(), "d".to_string()];
        let sql =
            wrap_decimals_as_text("SELECT * FROM t -- trailing comment\n;  ", &names, &fixes).expect("unique names");
        assert_eq!(
            sql,
            "SELECT `id`, CAST(`we``ird` AS CHAR) AS `we``ird`, `d` FROM (\nSELECT * FROM t -- \
             trailing comment\n) AS `flow_cx_decimal_text`"
        );

        let duplicate = ["a".to_string(), "A".to_string(), "d".to_string()];
        let err = wrap_decimals_as_text("SELECT 1", &duplicate, &fixes).expect_err("duplicate");
        assert!(err.contains("`A` appears more than once"), "{err}");
    }

    #[test]
    fn conforming_casts_strictly_and_applies_the_expected_schema() {
        let batch = RecordBatch::try_from_iter(vec![
            ("a", Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef),
            ("b", Arc::new(StringArray::from(vec!["1.50", "x"])) as ArrayRef),
        ])
        .expect("batch");
        let widened = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Float64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        let conformed = conform(batch.clone(), &widened).expect("int to float is fine");
        assert_eq!(conformed.schema(), widened);
        assert_eq!(conformed.column(0).as_ref(), &Float64Array::from(vec![Some(1.0), None]) as &dyn Array);

        // "x" is no decimal: an error, not a NULL.
        let strict = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Decimal128(5, 2), true),
        ]));
        let err = error_text(conform(batch.clone(), &strict));
        assert!(err.contains("column `b`"), "{err}");

        // NULLs do not fit a NOT NULL field.
        let not_null =
            Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Utf8, true)]));
        error_text(conform(batch.clone(), &not_null));

        let too_few = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let err = error_text(conform(batch, &too_few));
        assert!(err.contains("2 columns"), "{err}");
    }

    #[test]
    fn bad_urls_are_clear_errors() {
        let err = error_text(fetch_all(&CxQuery { url: "not a url".to_string(), sql: "SELECT 1".to_string() }));
        assert!(err.contains("invalid source URL not a url"), "{err}");

        let err = error_text(query_schema("postgresql://user:secret@127.0.0.1:5432/db", "SELECT 1"));
        assert!(err.contains("unsupported source"), "{err}");
        assert!(err.contains("user:***@"), "{err}");
        assert!(!err.contains("secret"), "{err}");

        let missing = std::env::temp_dir().join(format!("{}.db", unique_name("cx_missing")));
        let err = error_text(fetch_all(&CxQuery {
            url: format!("sqlite://{}", missing.display()),
            sql: "SELECT 1".to_string(),
        }));
        assert!(err.contains("does not exist"), "{err}");
        assert!(!missing.exists(), "no empty database may be created");
    }

    #[test]
    fn refused_mysql_connection_is_an_error_without_the_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let started = std::time::Instant::now();
        let err = error_text(fetch_all(&CxQuery {
            url: "mysql://flow:s3cr3t-pw@127.0.0.1:1/test".to_string(),
            sql: "SELECT 1".to_string(),
        }));
        assert!(err.contains("cannot connect to mysql://flow:***@127.0.0.1:1/test"), "{err}");
        assert!(!err.contains("s3cr3t-pw"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20), "fails fast");
    }

    // ---------------------------------------------------------------- SQLite

    const SQLITE_TYPES: &str = "
        CREATE TABLE t (
            id INTEGER PRIMARY KEY, i INTEGER, i4 INT4, small SMALLINT, flag BOOLEAN,
            r REAL, d DOUBLE, f FLOAT, txt TEXT, vc VARCHAR(20), bl BLOB,
            day DATE, tod TIME, dt DATETIME, ts TIMESTAMP
        );
        INSERT INTO t VALUES (1, -9223372036854775808, -2147483648, -32768, 0,
            -1.5, 9e999, -9e999, 'héllo 🦀👩‍👩‍👧', '', x'00ff',
            '1970-01-01', '00:00', '2024-02-29 12:34:56', '2024-02-29T12:34:56.789');
        INSERT INTO t VALUES (2, 9223372036854775807, 2147483647, 32767, 1,
            0.1, 1.7976931348623157e308, 2.2250738585072014e-308, 'TEN_K', 'x', x'',
            '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', '1900-01-01 00:00:00');
        INSERT INTO t (id) VALUES (3);
        -- (SQLite's own text-to-double parsing is not correctly rounded for every literal, so
        -- the values here are ones it parses exactly.)
        INSERT INTO t VALUES (4, 0, 1, 2, 1, 2.5, -0.0, 0.015625, 'four', 'vier', x'deadbeef',
            '2000-02-29', '12:00:00.5', '2000-02-29 00:00:00.000001', '1969-12-31 23:59:59.999999');
    ";

    fn sqlite_types_db() -> TempSqlite {
        TempSqlite::new(&SQLITE_TYPES.replace("TEN_K", &text_10k()))
    }

    fn sqlite_expected() -> Vec<(&'static str, ArrayRef)> {
        let ten_k = text_10k();
        vec![
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3, 4]))),
            ("i", Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), None, Some(0)]))),
            (
                "i4",
                Arc::new(Int64Array::from(vec![Some(i64::from(i32::MIN)), Some(i64::from(i32::MAX)), None, Some(1)])),
            ),
            ("small", Arc::new(Int64Array::from(vec![Some(-32768), Some(32767), None, Some(2)]))),
            ("flag", Arc::new(BooleanArray::from(vec![Some(false), Some(true), None, Some(true)]))),
            ("r", Arc::new(Float64Array::from(vec![Some(-1.5), Some(0.1), None, Some(2.5)]))),
            // SQLite itself stores the literal -0.0 as 0.0; the reader has nothing to keep.
            ("d", Arc::new(Float64Array::from(vec![Some(f64::INFINITY), Some(f64::MAX), None, Some(0.0)]))),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(f64::NEG_INFINITY),
                    Some(f64::MIN_POSITIVE),
                    None,
                    Some(0.015625),
                ])),
            ),
            ("txt", Arc::new(StringArray::from(vec![Some("héllo 🦀👩‍👩‍👧"), Some(ten_k.as_str()), None, Some("four")]))),
            ("vc", Arc::new(StringArray::from(vec![Some(""), Some("x"), None, Some("vier")]))),
            (
                "bl",
                Arc::new(LargeBinaryArray::from(vec![
                    Some(&[0x00_u8, 0xff][..]),
                    Some(&[][..]),
                    None,
                    Some(&[0xde, 0xad, 0xbe, 0xef][..]),
                ])),
            ),
            ("day", strings_as(&[Some("1970-01-01"), Some("9999-12-31"), None, Some("2000-02-29")], &DataType::Date32)),
            (
                "tod",
                strings_as(
                    &[Some("00:00:00"), Some("23:59:59.999999"), None, Some("12:00:00.5")],
                    &DataType::Time64(TimeUnit::Microsecond),
                ),
            ),
            (
                "dt",
                strings_as(
                    &[
                        Some("2024-02-29T12:34:56"),
                        Some("9999-12-31T23:59:59.999999"),
                        None,
                        Some("2000-02-29T00:00:00.000001"),
                    ],
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                ),
            ),
            (
                "ts",
                strings_as(
                    &[
                        Some("2024-02-29T12:34:56.789"),
                        Some("1900-01-01T00:00:00"),
                        None,
                        Some("1969-12-31T23:59:59.999999"),
                    ],
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                ),
            ),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_every_type_round_trips_through_chunks() {
        let db = sqlite_types_db();
        let schema = query_schema(&db.url(), "SELECT * FROM t").expect("schema");
        let expected = sqlite_expected();
        for (field, (name, array)) in schema.fields().iter().zip(&expected) {
            assert_eq!(field.name(), name);
            assert_eq!(field.data_type(), array.data_type(), "{name}");
            assert!(field.is_nullable(), "SQLite columns are nullable: {name}");
        }

        let chunks = [
            "SELECT * FROM t WHERE id >= 3 AND id < 5",
            "SELECT * FROM t WHERE id >= 100", // empty chunk
            "SELECT * FROM t WHERE id >= 1 AND id < 2",
            "SELECT * FROM t WHERE id >= 2 AND id < 3",
        ];
        let queries = chunks.iter().map(|sql| db.query(sql)).collect();
        let batches = collect(stream_queries(queries, Arc::clone(&schema), 1)).await.expect("stream succeeds");
        assert_eq!(batches.len(), 3, "one batch per non-empty chunk");
        assert!(batches.iter().all(|b| b.schema() == schema));
        let all = sorted_by_first_column(&concat(&schema, &batches));
        assert_columns_eq(&all, &expected);

        // The blocking helper sees the same data.
        let fetched = fetch_all(&db.query("SELECT * FROM t ORDER BY id")).expect("fetch_all");
        assert_columns_eq(&concat(&schema, &fetched), &expected);
    }

    #[test]
    fn sqlite_stream_works_outside_a_tokio_runtime() {
        let db = sqlite_types_db();
        let schema = query_schema(&db.url(), "SELECT id, txt FROM t").expect("schema");
        let stream = stream_queries(
            vec![db.query("SELECT id, txt FROM t WHERE id < 3")],
            schema,
            0, // clamped to 1
        );
        let batches = futures::executor::block_on(collect(stream)).expect("stream succeeds");
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
    }

    #[test]
    fn sqlite_empty_result_keeps_its_schema() {
        let db = sqlite_types_db();
        let batches = fetch_all(&db.query("SELECT id, dt FROM t WHERE id < 0")).expect("fetch");
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].num_rows(), 0);
        assert_eq!(batches[0].schema().field(1).data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
    }

    /// Columns without a usable declared type take the type of the first row's value; documents
    /// connectorx's behaviour, including where it fails (with errors, not panics).
    #[test]
    fn sqlite_numeric_columns_are_inferred_from_the_first_row() {
        let db = TempSqlite::new(
            "CREATE TABLE n (id INTEGER, amount NUMERIC, price DECIMAL(10,2));
             INSERT INTO n VALUES (1, 10, 1.5), (2, 2.5, 2), (3, NULL, NULL);",
        );
        let ints = fetch_all(&db.query("SELECT amount FROM n WHERE id = 1")).expect("int");
        assert_eq!(ints[0].column(0).data_type(), &DataType::Int64);

        let reals = fetch_all(&db.query("SELECT price FROM n WHERE id = 1")).expect("real");
        assert_eq!(reals[0].column(0).data_type(), &DataType::Float64);

        // Integer first, then a real: the read fails.
        let err = error_text(fetch_all(&db.query("SELECT amount FROM n ORDER BY id")));
        assert!(err.contains("Invalid column type Real"), "{err}");

        // NULL in the first row: the type cannot be inferred.
        let err = error_text(fetch_all(&db.query("SELECT price FROM n WHERE id = 3")));
        assert!(err.contains("Cannot infer type from null"), "{err}");

        // The workaround: a cast makes every value the same storage class.
        let cast = fetch_all(&db.query("SELECT CAST(amount AS REAL) AS amount FROM n WHERE id < 3")).expect("cast");
        assert_eq!(cast[0].column(0).as_ref(), &Float64Array::from(vec![10.0, 2.5]) as &dyn Array);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_failing_query_is_an_error_and_ends_the_stream() {
        let db = sqlite_types_db();
        let schema = query_schema(&db.url(), "SELECT id FROM t").expect("schema");
        let queries = vec![
            db.query("SELECT id FROM t WHERE id = 1"),
            db.query("SELECT id FROM no_such_table"),
            db.query("SELECT id FROM t WHERE id = 2"),
        ];
        let mut stream = stream_queries(queries, schema, 4);
        let first = stream.try_next().await.expect("first chunk").expect("a batch");
        assert_eq!(first.num_rows(), 1);
        let err = error_text(stream.try_next().await);
        assert!(err.contains("no such table: no_such_table"), "{err}");
        assert!(futures::StreamExt::next(&mut stream).await.is_none(), "nothing after the error");

        let err = error_text(query_schema(&db.url(), "SELECT * FROM no_such_table"));
        assert!(err.contains("no such table"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_stream_stops_the_producer() {
        let db = sqlite_types_db();
        let schema = query_schema(&db.url(), "SELECT id FROM t").expect("schema");
        let total = 50;
        let queries = (0..total).map(|_| db.query("SELECT id FROM t WHERE id = 1")).collect();
        let (report_tx, report_rx) = oneshot::channel();
        let mut stream = spawn_stream(queries, schema, 1, Some(report_tx));
        let first = stream.try_next().await.expect("first chunk").expect("a batch");
        assert_eq!(first.num_rows(), 1);
        drop(stream);

        let report = tokio::time::timeout(Duration::from_secs(30), report_rx)
            .await
            .expect("the producer stops soon after the stream is dropped")
            .expect("the producer reports");
        assert_eq!(report.end, ProducerEnd::Cancelled);
        // One batch consumed, at most one waiting in the channel, one blocked in `send`.
        assert!(report.queries_started <= 3, "started {} of {total} queries", report.queries_started);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn finished_producer_reports_every_query() {
        let db = sqlite_types_db();
        let schema = query_schema(&db.url(), "SELECT id FROM t").expect("schema");
        let queries = (1..=4).map(|id| db.query(&format!("SELECT id FROM t WHERE id = {id}"))).collect();
        let (report_tx, report_rx) = oneshot::channel();
        let batches = collect(spawn_stream(queries, schema, 2, Some(report_tx))).await.expect("stream succeeds");
        assert_eq!(batches.len(), 4);
        let report = report_rx.await.expect("report");
        assert_eq!(report, ProducerReport { end: ProducerEnd::Finished, queries_started: 4 });
    }

    // ---------------------------------------------------------------- MariaDB

    const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";

    /// A connection to the test MariaDB, or `None` (with a note) when it is not reachable and
    /// `FLOW_REQUIRE_DBS=1` is not set.
    fn mariadb() -> Option<mysql::Conn> {
        let connect = mysql::Opts::from_url(MARIADB_URL).map_err(|e| e.to_string()).and_then(|opts| {
            let opts = mysql::OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(Duration::from_secs(5)));
            mysql::Conn::new(opts).map_err(|e| e.to_string())
        });
        match connect {
            Ok(conn) => Some(conn),
            Err(e) if std::env::var("FLOW_REQUIRE_DBS").as_deref() == Ok("1") => {
                panic!("MariaDB at {MARIADB_URL} is required (FLOW_REQUIRE_DBS=1): {e}")
            }
            Err(e) => {
                eprintln!("skipping: MariaDB at {MARIADB_URL} is not reachable: {e}");
                None
            }
        }
    }

    /// A uniquely named table, dropped again on drop.
    struct MariaTable {
        conn: mysql::Conn,
        name: String,
    }

    impl MariaTable {
        fn create(mut conn: mysql::Conn, columns: &str, inserts: &[String]) -> Self {
            let name = unique_name("cx_reader_test");
            conn.query_drop(format!("CREATE TABLE `{name}` ({columns}) DEFAULT CHARSET = utf8mb4"))
                .expect("create table");
            let mut table = Self { conn, name };
            for insert in inserts {
                let sql = insert.replace("{t}", &format!("`{}`", table.name));
                table.conn.query_drop(sql).expect("insert");
            }
            table
        }

        fn query(&self, sql: &str) -> CxQuery {
            CxQuery { url: MARIADB_URL.to_string(), sql: sql.replace("{t}", &format!("`{}`", self.name)) }
        }
    }

    impl Drop for MariaTable {
        fn drop(&mut self) {
            let _ = self.conn.query_drop(format!("DROP TABLE IF EXISTS `{}`", self.name));
        }
    }

    const MARIADB_COLUMNS: &str = "
        id INT NOT NULL PRIMARY KEY,
        i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED,
        i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED, i32 INT, u32 INT UNSIGNED,
        i64 BIGINT, u64 BIGINT UNSIGNED, flag BOOLEAN, yr YEAR, bits BIT(12),
        d12 DECIMAL(12,2), d38 DECIMAL(38,10), d65 DECIMAL(65,30), du DECIMAL(5,0) UNSIGNED,
        f FLOAT, dbl DOUBLE,
        vc VARCHAR(100), ch CHAR(4), txt TEXT, bl BLOB, vb VARBINARY(8),
        dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
        js JSON, en ENUM('small', 'large')";

    fn mariadb_rows() -> Vec<String> {
        let all_bytes: String = (0..=255_u8).map(|b| format!("{b:02x}")).collect();
        vec![
            // TIMESTAMP literals are read in the session time zone: +05:00 here, so the reader
            // must deliver instants five hours earlier.
            "SET time_zone = '+05:00'".to_string(),
            "INSERT INTO {t} VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, \
             -9223372036854775808, 0, FALSE, 1901, b'0', -9999999999.99, \
             -9999999999999999999999999999.9999999999, \
             -99999999999999999999999999999999999.999999999999999999999999999999, 0, \
             -1.5, -1.7976931348623157e308, '', 'a', '', '', '', \
             '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 05:00:01', '{}', 'small')"
                .to_string(),
            format!(
                "INSERT INTO {{t}} VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, \
                 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, TRUE, 2155, \
                 b'111111111111', 9999999999.99, 9999999999999999999999999999.9999999999, \
                 99999999999999999999999999999999999.999999999999999999999999999999, 99999, \
                 3.5, 2.2250738585072014e-308, 'héllo 🦀 wörld 👩‍👩‍👧', 'abcd', '{}', x'{all_bytes}', \
                 x'00ff00', '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', \
                 '2038-01-19 08:14:07.999999', '{{\"b\": [1, 2], \"a\": \"x\"}}', 'large')",
                text_10k()
            ),
            "INSERT INTO {t} (id) VALUES (3)".to_string(),
            "INSERT INTO {t} VALUES (4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, TRUE, 2024, b'101', \
             1234.5, 0.0000000001, 0.000000000000000000000000000001, 42, 0.1, 0.1, 'ascii', \
             'ab', 'short', x'deadbeef', x'01', '2024-02-29', '12:34:56.5', \
             '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012', '[1,2,3]', 'small')"
                .to_string(),
        ]
    }

    fn mariadb_expected() -> Vec<(&'static str, ArrayRef)> {
        let ten_k = text_10k();
        let all_bytes: Vec<u8> = (0..=255).collect();
        let nines = |digits: usize| "9".repeat(digits);
        let d65_max = i256::from_string(&nines(65)).expect("i256 literal");
        let d65_min = i256::from_string(&format!("-{}", nines(65))).expect("i256 literal");
        vec![
            ("id", Arc::new(Int32Array::from(vec![1, 2, 3, 4]))),
            ("i8", Arc::new(Int8Array::from(vec![Some(i8::MIN), Some(i8::MAX), None, Some(1)]))),
            ("u8", Arc::new(UInt8Array::from(vec![Some(0), Some(u8::MAX), None, Some(1)]))),
            ("i16", Arc::new(Int16Array::from(vec![Some(i16::MIN), Some(i16::MAX), None, Some(1)]))),
            ("u16", Arc::new(UInt16Array::from(vec![Some(0), Some(u16::MAX), None, Some(1)]))),
            ("i24", Arc::new(Int32Array::from(vec![Some(-8_388_608), Some(8_388_607), None, Some(1)]))),
            ("u24", Arc::new(UInt32Array::from(vec![Some(0), Some(16_777_215), None, Some(1)]))),
            ("i32", Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None, Some(1)]))),
            ("u32", Arc::new(UInt32Array::from(vec![Some(0), Some(u32::MAX), None, Some(1)]))),
            ("i64", Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), None, Some(1)]))),
            ("u64", Arc::new(UInt64Array::from(vec![Some(0), Some(u64::MAX), None, Some(1)]))),
            ("flag", Arc::new(Int8Array::from(vec![Some(0), Some(1), None, Some(1)]))),
            ("yr", Arc::new(Int16Array::from(vec![Some(1901), Some(2155), None, Some(2024)]))),
            (
                "bits",
                Arc::new(LargeBinaryArray::from(vec![
                    Some(&[0x00_u8, 0x00][..]),
                    Some(&[0x0f, 0xff][..]),
                    None,
                    Some(&[0x00, 0x05][..]),
                ])),
            ),
            (
                "d12",
                Arc::new(
                    Decimal128Array::from(vec![Some(-999_999_999_999), Some(999_999_999_999), None, Some(123_450)])
                        .with_precision_and_scale(12, 2)
                        .expect("decimal type"),
                ),
            ),
            (
                "d38",
                Arc::new(
                    Decimal128Array::from(vec![Some(-(10_i128.pow(38) - 1)), Some(10_i128.pow(38) - 1), None, Some(1)])
                        .with_precision_and_scale(38, 10)
                        .expect("decimal type"),
                ),
            ),
            (
                "d65",
                Arc::new(
                    Decimal256Array::from(vec![Some(d65_min), Some(d65_max), None, Some(i256::ONE)])
                        .with_precision_and_scale(65, 30)
                        .expect("decimal type"),
                ),
            ),
            (
                "du",
                Arc::new(
                    Decimal128Array::from(vec![Some(0), Some(99_999), None, Some(42)])
                        .with_precision_and_scale(5, 0)
                        .expect("decimal type"),
                ),
            ),
            ("f", Arc::new(Float32Array::from(vec![Some(-1.5), Some(3.5), None, Some(0.1)]))),
            ("dbl", Arc::new(Float64Array::from(vec![Some(-f64::MAX), Some(f64::MIN_POSITIVE), None, Some(0.1)]))),
            ("vc", Arc::new(StringArray::from(vec![Some(""), Some("héllo 🦀 wörld 👩‍👩‍👧"), None, Some("ascii")]))),
            ("ch", Arc::new(StringArray::from(vec![Some("a"), Some("abcd"), None, Some("ab")]))),
            ("txt", Arc::new(StringArray::from(vec![Some(""), Some(ten_k.as_str()), None, Some("short")]))),
            (
                "bl",
                Arc::new(LargeBinaryArray::from(vec![
                    Some(&[][..]),
                    Some(all_bytes.as_slice()),
                    None,
                    Some(&[0xde, 0xad, 0xbe, 0xef][..]),
                ])),
            ),
            (
                "vb",
                Arc::new(LargeBinaryArray::from(vec![
                    Some(&[][..]),
                    Some(&[0x00, 0xff, 0x00][..]),
                    None,
                    Some(&[0x01][..]),
                ])),
            ),
            ("dt", strings_as(&[Some("1000-01-01"), Some("9999-12-31"), None, Some("2024-02-29")], &DataType::Date32)),
            (
                "tm",
                strings_as(
                    &[Some("00:00:00"), Some("23:59:59.999999"), None, Some("12:34:56.5")],
                    &DataType::Time64(TimeUnit::Microsecond),
                ),
            ),
            (
                "dtm",
                strings_as(
                    &[
                        Some("1000-01-01T00:00:00"),
                        Some("9999-12-31T23:59:59.999999"),
                        None,
                        Some("2024-02-29T12:34:56.789012"),
                    ],
                    &DataType::Timestamp(TimeUnit::Microsecond, None),
                ),
            ),
            (
                "ts",
                utc_timestamps(&[
                    Some("1970-01-01T00:00:01"),
                    Some("2038-01-19T03:14:07.999999"),
                    None,
                    Some("2024-02-29T07:34:56.789012"),
                ]),
            ),
            (
                "js",
                Arc::new(StringArray::from(vec![
                    Some("{}"),
                    Some("{\"b\": [1, 2], \"a\": \"x\"}"),
                    None,
                    Some("[1,2,3]"),
                ])),
            ),
            ("en", Arc::new(StringArray::from(vec![Some("small"), Some("large"), None, Some("small")]))),
        ]
    }

    fn mariadb_types_table() -> Option<MariaTable> {
        mariadb().map(|conn| MariaTable::create(conn, MARIADB_COLUMNS, &mariadb_rows()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb_every_type_round_trips_through_chunks() {
        let Some(table) = mariadb_types_table() else {
            return;
        };
        let expected = mariadb_expected();
        let all = table.query("SELECT * FROM {t}");
        let schema = query_schema(&all.url, &all.sql).expect("schema");
        for (field, (name, array)) in schema.fields().iter().zip(&expected) {
            assert_eq!(field.name(), name);
            assert_eq!(field.data_type(), array.data_type(), "type of `{name}`");
            assert_eq!(field.is_nullable(), *name != "id", "nullability of `{name}`");
        }

        let queries = [
            "SELECT * FROM {t} WHERE id >= 3 AND id < 5 ORDER BY id",
            "SELECT * FROM {t} WHERE id >= 100",
            "SELECT * FROM {t} WHERE id >= 1 AND id < 3 ORDER BY id",
        ]
        .iter()
        .map(|sql| table.query(sql))
        .collect();
        let batches = collect(stream_queries(queries, Arc::clone(&schema), 1)).await.expect("stream succeeds");
        assert!(batches.iter().all(|b| b.schema() == schema));
        let all_rows = sorted_by_first_column(&concat(&schema, &batches));
        assert_columns_eq(&all_rows, &expected);

        let fetched = fetch_all(&table.query("SELECT * FROM {t}")).expect("fetch_all");
        let fetched = sorted_by_first_column(&concat(&schema, &fetched));
        assert_columns_eq(&fetched, &expected);
    }

    /// Decimals connectorx reads exactly stay on its native path; wider ones go through text.
    #[test]
    fn mariadb_decimal_paths() {
        let Some(table) = mariadb_types_table() else {
            return;
        };
        let mut source = CxSource::open(MARIADB_URL).expect("open");

        let narrow = table.query("SELECT id, d12, du FROM {t} ORDER BY id");
        let plan = source.plan(&narrow.sql).expect("plan");
        assert_eq!(plan.sql, narrow.sql, "no rewrite needed");
        let batches = fetch_all(&narrow).expect("fetch narrow");
        let expected = mariadb_expected();
        let pick = |names: &[&str]| -> Vec<(&'static str, ArrayRef)> {
            expected.iter().filter(|(name, _)| names.contains(name)).cloned().collect()
        };
        assert_columns_eq(&concat(&batches[0].schema(), &batches), &pick(&["id", "d12", "du"]));

        let wide = table.query("SELECT id, d38, d65 FROM {t} ORDER BY id");
        let plan = source.plan(&wide.sql).expect("plan");
        assert!(plan.sql.contains("CAST(`d38` AS CHAR)"), "{}", plan.sql);
        assert!(plan.sql.contains("CAST(`d65` AS CHAR)"), "{}", plan.sql);
        let batches = fetch_all(&wide).expect("fetch wide");
        let batch = sorted_by_first_column(&concat(&batches[0].schema(), &batches));
        assert_columns_eq(&batch, &pick(&["id", "d38", "d65"]));

        // Duplicate names cannot be wrapped: a clear error instead of wrong data.
        let err = error_text(fetch_all(&table.query("SELECT d38, d38 FROM {t} WHERE id = 2")));
        assert!(err.contains("appears more than once"), "{err}");
    }

    /// Pins what connectorx 0.4.6 itself does with decimals it cannot hold, which is why the
    /// reader takes the text path for them.
    #[test]
    fn mariadb_raw_connectorx_loses_wide_decimals() {
        let Some(table) = mariadb_types_table() else {
            return;
        };
        let conn = SourceConn::try_from(MARIADB_URL).expect("url");
        let raw = |sql: &str| {
            let query = [CXQuery::naked(table.query(sql).sql)];
            catch_unwind(AssertUnwindSafe(|| get_arrow(&conn, None, &query, None).map(|d| d.arrow())))
        };

        // 1e-30 in a DECIMAL(65,30): rounded to 10 places, i.e. silently 0.
        let tiny = raw("SELECT d65 FROM {t} WHERE id = 4");
        let batches = match tiny {
            Ok(Ok(Ok(batches))) => batches,
            other => panic!("connectorx was expected to succeed (lossily): {other:?}"),
        };
        let column = batches[0].column(0);
        assert_eq!(column.data_type(), &arrow56::datatypes::DataType::Decimal128(38, 10));
        let values = arrow56::array::AsArray::as_primitive::<arrow56::datatypes::Decimal128Type>(column.as_ref());
        assert_eq!(values.value(0), 0, "the digit is lost");

        // 28 integer digits: more than rust_decimal holds at scale 10 — connectorx fails.
        let huge = raw("SELECT d38 FROM {t} WHERE id = 2");
        assert!(!matches!(huge, Ok(Ok(Ok(_)))), "connectorx was expected to fail on 28 integer digits");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb_failing_queries_are_errors_not_panics() {
        let Some(table) = mariadb_types_table() else {
            return;
        };
        // A missing table, in the stream.
        let missing = table.query("SELECT * FROM cx_reader_test_no_such_table");
        let schema = Arc::new(Schema::empty());
        let err = error_text(collect(stream_queries(vec![missing.clone()], schema, 2)).await);
        assert!(err.contains("doesn't exist"), "{err}");
        let err = error_text(query_schema(&missing.url, &missing.sql));
        assert!(err.contains("doesn't exist"), "{err}");

        // connectorx panics on these; the reader reports errors.
        for sql in [
            "SELECT CAST('-01:00:00' AS TIME) AS t",
            "SELECT CAST('25:00:00' AS TIME) AS t",
            "SELECT ST_GeomFromText('POINT(1 1)') AS g",
        ] {
            let err = error_text(fetch_all(&table.query(sql)));
            assert!(err.contains("connectorx panicked"), "{sql}: {err}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb_dropping_the_stream_stops_the_producer() {
        let Some(table) = mariadb_types_table() else {
            return;
        };
        let one = table.query("SELECT id, vc FROM {t} WHERE id = 2");
        let schema = query_schema(&one.url, &one.sql).expect("schema");
        let total = 30;
        let (report_tx, report_rx) = oneshot::channel();
        let mut stream = spawn_stream(vec![one; total], schema, 1, Some(report_tx));
        let first = stream.try_next().await.expect("first chunk").expect("a batch");
        assert_eq!(first.num_rows(), 1);
        drop(stream);
        let report = tokio::time::timeout(Duration::from_secs(60), report_rx)
            .await
            .expect("the producer stops")
            .expect("the producer reports");
        assert_eq!(report.end, ProducerEnd::Cancelled);
        assert!(report.queries_started <= 3, "{report:?}");
    }
}
