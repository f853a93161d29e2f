//! PostgreSQL through tokio-postgres. Reads use `COPY (query) TO STDOUT (FORMAT binary)` decoded
//! straight into Arrow builders (`copy`): async, cancellable, bounded memory, and no
//! connectorx `src_postgres` (which would pull the AWS SDK and OpenSSL into the build). A whole
//! database's schema is read by `catalog`; `ddl` is PostgreSQL's dialect as the target of a
//! schema copy.

pub mod catalog;
pub mod copy;
pub mod ddl;
pub mod inheritance;
pub mod pool;
pub mod sink;
pub mod source;
pub mod special_columns;
mod table_reads;
pub mod types;

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio_postgres::{Client, NoTls};

use super::connect_error::{Check, ConnectError, Reach};
use super::sql_log::{self, StatementKind};
use super::{cancel, retry};
use crate::diagnostics::{Failure, codes};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;

/// `application_name` of Flow's sessions unless the URL sets one, so a DBA (and the tests) can
/// tell them apart in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "flow";

/// How often a busy backend checks that Flow is still connected (PostgreSQL 14+): a statement
/// whose client has gone (a killed process) is stopped within this interval instead of running to
/// its end.
const CLIENT_CHECK_MS: u32 = 1000;

/// Connects and drives the connection on the runtime, retrying transient failures (see
/// `connect::retry`). Errors name the server (password redacted), say what to check, and how
/// many attempts were made.
pub async fn connect(url: &str) -> Result<Client> {
    let mut config: tokio_postgres::Config = url.parse().map_err(|e| connect_error(url, &e, ""))?;
    if config.get_application_name().is_none() {
        config.application_name(APPLICATION_NAME);
    }
    let (client, connection) = retry::retry_async(|| config.connect(NoTls), retryable)
        .await
        .map_err(|f| connect_error(url, &f.error, &f.attempts_note()))?;
    tokio::spawn(async move {
        // The client reports the broken connection on its next call; nothing to do here.
        let _ = connection.await;
    });
    // Timestamp literals in partition ranges and watermarks are UTC, as Arrow's instants are.
    client.batch_execute("SET TimeZone = 'UTC'").await.map_err(|e| connect_error(url, &e, ""))?;
    // Older servers do not know the setting; they simply keep the old behaviour.
    let _ = client.batch_execute(&format!("SET client_connection_check_interval = {CLIENT_CHECK_MS}")).await;
    Ok(client)
}

/// Whether a failed connection attempt is worth repeating: a transient SQLSTATE from the server,
/// or a refused / reset / closed socket.
fn retryable(e: &tokio_postgres::Error) -> bool {
    if let Some(code) = e.code() {
        return retryable_sqlstate(code.code());
    }
    e.is_closed() || retry::io_kind(e).is_some_and(retry::retryable_io)
}

/// SQLSTATEs worth retrying: too many connections (53300), the server starting up or shutting
/// down (57P01, 57P02, 57P03), and connection exceptions (class 08, except 08P01, a protocol
/// violation).
fn retryable_sqlstate(code: &str) -> bool {
    matches!(code, "53300" | "57P01" | "57P02" | "57P03") || (code.starts_with("08") && code != "08P01")
}

/// Whether the server answered a failed connection: it refused (SQLSTATE class 28, invalid
/// authorization, or 3D000, invalid catalog name: PostgreSQL docs, Appendix A) or did not
/// answer at all.
fn reach(e: &tokio_postgres::Error) -> Reach {
    match e.code().map(|c| c.code()) {
        Some(code) if code.starts_with("28") || code == "3D000" => Reach::Refused,
        _ => Reach::NoAnswer,
    }
}

/// What a failed connection to `url` should make the user check: SQLSTATE 28P01 (invalid
/// password) and the rest of class 28 (invalid authorization; 28000 is an unknown role) and
/// 3D000 (invalid catalog name), PostgreSQL docs, Appendix A; else the I/O error under the
/// client's.
fn check(e: &tokio_postgres::Error, url: &str) -> Check {
    match e.code().map(|c| c.code()) {
        Some("28000") => Check::UserName,
        Some(code) if code.starts_with("28") => Check::Credentials,
        Some("3D000") => Check::Database,
        Some(_) => Check::Everything,
        None => Check::of_io(retry::io_kind(e), url),
    }
}

fn connect_error(url: &str, e: &tokio_postgres::Error, attempts: &str) -> DataFusionError {
    let detail = scrub_secret(&error_text(e), url);
    let hint = check(e, url).hint();
    let message = format!("cannot connect to PostgreSQL at {}{attempts}: {detail}; {hint}", redact_url(url));
    ConnectError::new(reach(e), message).into_datafusion()
}

/// The server's message when there is one (`ERROR: relation "x" does not exist`), else the
/// client's.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

fn query_error(url: &str, sql: &str, e: &tokio_postgres::Error) -> DataFusionError {
    let message = format!("PostgreSQL at {} rejected `{sql}`: {}", redact_url(url), scrub_secret(&error_text(e), url));
    Failure::new(codes::source::READ_FAILED, message).into_datafusion()
}

/// The Arrow schema of a query's result, and the PostgreSQL types the decoder needs.
async fn describe(client: &Client, url: &str, sql: &str) -> Result<(SchemaRef, Vec<tokio_postgres::types::Type>)> {
    sql_log::record("postgres", StatementKind::Prepare, sql);
    let statement = client.prepare(sql).await.map_err(|e| query_error(url, sql, &e))?;
    let mut fields = Vec::new();
    let mut pg_types = Vec::new();
    for column in statement.columns() {
        fields.push(types::pg_field(column.name(), column.type_(), column.type_modifier()).map_err(|e| {
            let failure = crate::connect::connect_error::failure_of(&e, codes::source::UNSUPPORTED_TYPE);
            failure.reworded(format!("column `{}` of `{sql}`: {}", column.name(), failure.message)).into_datafusion()
        })?);
        pg_types.push(column.type_().clone());
    }
    Ok((Arc::new(Schema::new(fields)), pg_types))
}

pub async fn query_schema(url: &str, sql: &str) -> Result<SchemaRef> {
    let client = connect(url).await?;
    Ok(describe(&client, url, sql).await?.0)
}

/// The schema of a table source's query (`probe`), and on the same connection what `explain`
/// should say about the table's inheritance children (see [`inheritance::read_note`]).
pub async fn query_table_schema(
    url: &str,
    probe: &str,
    table: &crate::plan::TableName,
    only: bool,
) -> Result<(SchemaRef, Option<String>)> {
    let client = connect(url).await?;
    let schema = describe(&client, url, probe).await?.0;
    let descendants = inheritance::descendants_of(&client, url, table).await?;
    Ok((schema, inheritance::read_note(table, only, &descendants)))
}

/// A small result, whole (bounds, counts).
pub async fn fetch_all(url: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let client = connect(url).await?;
    fetch_all_on(&client, url, sql, None).await
}

/// A small result, whole, on an open connection; with `snapshot`, in a transaction that imports
/// that exported snapshot (left open: close the connection to end it).
async fn fetch_all_on(client: &Client, url: &str, sql: &str, snapshot: Option<&str>) -> Result<Vec<RecordBatch>> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(crate::connect::blocking::CHANNEL_DEPTH);
    let produce = async move {
        let read = ReadSpec { url, sql, planned: None, batch_size: 8192, snapshot };
        copy_on(client, &read, &tx).await.map(drop)
    };
    let collect = async {
        let mut out = Vec::new();
        while let Some(batch) = rx.recv().await {
            out.push(batch?);
        }
        Ok::<_, DataFusionError>(out)
    };
    let (produced, collected) = futures::join!(produce, collect);
    produced?;
    collected
}

/// How often the transaction holding an exported snapshot runs a trivial query.
const SNAPSHOT_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(1);

/// An open `REPEATABLE READ` transaction whose snapshot every partition of a source imports, so
/// that all partitions read the table as it was at one instant. The snapshot exists only while
/// the transaction is open: keep this alive until the last partition has started reading.
/// Dropping it closes the connection, which ends the transaction.
pub struct ExportedSnapshot {
    pub id: String,
    /// The exporting session, held and never queried (but for its keep-alive): it reads nothing,
    /// so it holds no lock on any table.
    _exporter: Arc<Client>,
    url: String,
}

impl std::fmt::Debug for ExportedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportedSnapshot").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ExportedSnapshot {
    pub async fn export(url: &str) -> Result<Self> {
        let client = connect(url).await?;
        let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        sql_log::record("postgres", StatementKind::Execute, begin);
        client.batch_execute(begin).await.map_err(|e| query_error(url, begin, &e))?;
        let export = "SELECT pg_export_snapshot()";
        sql_log::record("postgres", StatementKind::Query, export);
        let row = client.query_one(export, &[]).await.map_err(|e| query_error(url, export, &e))?;
        let client = Arc::new(client);
        // A server with `idle_in_transaction_session_timeout` would end an idle transaction, and
        // the snapshot with it, before the last partitions start: keep it busy now and then.
        let weak = Arc::downgrade(&client);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(SNAPSHOT_KEEPALIVE).await;
                let Some(client) = weak.upgrade() else { return };
                if client.simple_query("SELECT 1").await.is_err() {
                    return;
                }
            }
        });
        Ok(Self { id: row.get(0), _exporter: client, url: url.to_string() })
    }

    /// A small result, whole, as of the snapshot. It is read on a connection of its own that
    /// imports the snapshot and is closed at once, never inside the exporting transaction: a
    /// lock taken there (`AccessShareLock` on the table read) would be held until the run ends,
    /// and a run whose sink replaces the very table it reads would wait forever to publish.
    pub async fn fetch_all(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let client = connect(&self.url).await?;
        fetch_all_on(&client, &self.url, sql, Some(&self.id)).await
    }
}

/// Streams a query through binary COPY. `schema`, when given, is the schema planned earlier;
/// the stream's batches are checked against it. With `snapshot`, the query reads as of that
/// exported snapshot (see [`ExportedSnapshot`]).
///
/// Dropping the stream stops the query on the server: the reader sends a cancel request and
/// closes its connection, which also ends its transaction.
pub fn stream_query(
    url: String,
    sql: String,
    schema: impl Into<Option<SchemaRef>>,
    batch_size: usize,
    snapshot: Option<String>,
) -> SendableRecordBatchStream {
    let planned: Option<SchemaRef> = schema.into();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(crate::connect::blocking::CHANNEL_DEPTH);
    let stream_schema = planned.clone().unwrap_or_else(|| Arc::new(Schema::empty()));
    let pending = cancel::Pending::new();
    tokio::spawn(async move {
        let read = ReadSpec { url: &url, sql: &sql, planned, batch_size, snapshot: snapshot.as_deref() };
        if let Err(e) = copy_out(&read, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
        drop(pending);
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Box::pin(RecordBatchStreamAdapter::new(stream_schema, stream))
}

/// What one COPY reads.
struct ReadSpec<'a> {
    url: &'a str,
    sql: &'a str,
    planned: Option<SchemaRef>,
    batch_size: usize,
    snapshot: Option<&'a str>,
}

/// Connects and copies. If the consumer goes away while the server is still working (a stage
/// timeout, Ctrl-C), the query is cancelled on the server at once rather than at the next batch,
/// and the connection is closed.
///
/// Within a run, the connection comes from the run's pool of source connections when one is
/// idle (`pool::SOURCE_READS`), and goes back to it after a read that finished and, with a
/// snapshot, committed; after anything else it is closed.
async fn copy_out(read: &ReadSpec<'_>, tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
    let pool = pool::SessionPool::find(read.url, pool::SOURCE_READS);
    let idle = pool.as_ref().and_then(|p| p.take());
    let client = match idle {
        Some(client) => client,
        None => tokio::select! {
            client = connect(read.url) => client?,
            // Gone while connecting: nothing runs on the server yet.
            () = tx.closed() => return Ok(()),
        },
    };
    let finished = tokio::select! {
        finished = copy_on(&client, read, tx) => finished?,
        () = tx.closed() => false,
    };
    if !finished {
        let _ = client.cancel_token().cancel_query(NoTls).await;
        return Ok(());
    }
    let clean = match read.snapshot {
        Some(_) => client.batch_execute("COMMIT").await.is_ok(),
        None => true,
    };
    if let Some(pool) = pool.filter(|_| clean) {
        pool.give_back(client);
    }
    Ok(())
}

/// Runs `COPY (query) TO STDOUT (FORMAT binary)` on `client` and sends the decoded batches.
/// False when the consumer went away before the end.
async fn copy_on(
    client: &Client,
    read: &ReadSpec<'_>,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<bool> {
    let (url, sql) = (read.url, read.sql);
    let (schema, pg_types) = describe(client, url, sql).await?;
    if let Some(p) = &read.planned
        && p.fields().len() != schema.fields().len()
    {
        let message = format!(
            "the source changed since planning: `{sql}` now returns {} columns, not {}",
            schema.fields().len(),
            p.fields().len()
        );
        return Err(Failure::new(codes::source::CHANGED, message).into_datafusion());
    }
    if let Some(id) = read.snapshot {
        let import = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT {}",
            Dialect::Postgres.string(id)
        );
        sql_log::record("postgres", StatementKind::Execute, &import);
        client.batch_execute(&import).await.map_err(|e| {
            let message = format!(
                "PostgreSQL at {} cannot import the snapshot shared by the source's partitions (was its coordinating \
                 connection lost?): {}",
                redact_url(url),
                scrub_secret(&error_text(&e), url)
            );
            Failure::new(codes::source::READ_FAILED, message).into_datafusion()
        })?;
    }
    let mut decoder = copy::CopyDecoder::new(read.planned.clone().unwrap_or(schema), pg_types, read.batch_size)?;
    let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
    sql_log::record("postgres", StatementKind::Copy, &copy);
    let stream = client.copy_out(copy.as_str()).await.map_err(|e| query_error(url, sql, &e))?;
    futures::pin_mut!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| query_error(url, sql, &e))?;
        for batch in decoder.push(&chunk)? {
            if tx.send(Ok(batch)).await.is_err() {
                return Ok(false);
            }
        }
    }
    if let Some(batch) = decoder.finish()? {
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::retryable_sqlstate;

    #[test]
    fn transient_sqlstates_are_retried_and_others_are_not() {
        for code in ["53300", "57P03", "57P01", "08006", "08001"] {
            assert!(retryable_sqlstate(code), "{code}");
        }
        // Bad password, unknown role/database, missing table, syntax error, protocol violation.
        for code in ["28P01", "28000", "3D000", "42P01", "42601", "08P01"] {
            assert!(!retryable_sqlstate(code), "{code}");
        }
    }
}
