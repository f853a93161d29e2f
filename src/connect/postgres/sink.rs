//! PostgreSQL sink: the staged-table protocol (`connect::staged`) on tokio-postgres. What is
//! PostgreSQL's own is here: each partition streams its batches into the staging table with binary
//! `COPY ... FROM STDIN` (one `COPY`, or one per batch under a savepoint when refused rows are
//! skipped or rejected); into an existing target the staging table is shaped like it (types,
//! defaults, constraints, generated columns); and publishing, in one transaction:
//!
//! | mode     | publish (one transaction)                                               |
//! |----------|-------------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging`                            |
//! | replace  | `DROP TABLE target`, `ALTER TABLE staging RENAME TO target`             |
//! | truncate | `TRUNCATE target`, `INSERT INTO target SELECT ... FROM staging`         |
//! | upsert   | `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE SET ...`            |
//!
//! The protocol is blocking (see `connect::staged` for why): a session runs on Tokio's blocking
//! pool and drives its async client with `Handle::block_on`.

use std::pin::Pin;

use arrow::datatypes::{Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use bytes::{Bytes, BytesMut};
use datafusion::error::{DataFusionError, Result};
use futures::SinkExt;
use tokio::runtime::Handle;
use tokio_postgres::{CopyInSink, NoTls, SimpleQueryMessage};

use super::copy::CopyEncoder;
use super::pool::{PooledClient, SessionPool};
use super::types::pg_type_for_field;
use super::{connect, error_text};
use futures::future::BoxFuture;

use crate::connect::cancel::Pending;
use crate::connect::foreign_keys::KeyFailure;
use crate::connect::rejects::{self, BadRow};
use crate::connect::staged::{
    Canceller, PartitionLock, Renames, RowLoader, SqlSession, StagedBackend, StagedTarget, Step, on_conflict_sql,
};
use crate::connect::target_columns::{ExistingTable, Special, WritePlan};
use crate::diagnostics::{Failure, codes};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;
use crate::plan::table_set::{CarriedTable, ForeignKeyStep};
use crate::plan::{TableName, WriteMode};

const D: Dialect = Dialect::Postgres;

/// How the names of staging tables begin (`TableName::sibling("stage", ...)`).
const STAGING_PREFIX: &str = "_flow_stage_";

/// Bytes buffered before a COPY chunk is sent.
const COPY_CHUNK: usize = 1 << 20;

/// `CREATE TABLE` for an Arrow schema; upsert keys become the primary key.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
    D.create_table(table, schema, pg_type_for_field, keys.map(|k| ("PRIMARY KEY", k)))
}

/// The server a PostgreSQL sink writes.
pub struct PostgresBackend {
    url: String,
}

impl PostgresBackend {
    pub fn new(url: &str) -> Self {
        Self { url: url.to_string() }
    }
}

/// One connection, driven from a blocking thread: the run's pooled one when it holds a pool
/// (`pool`), given back when the session ends cleanly.
pub struct PgSession {
    client: PooledClient,
    runtime: Handle,
    url: String,
    table: TableName,
}

impl PgSession {
    /// `PostgreSQL at URL: WHAT TARGET: REASON`, password redacted, as a [`Failure`] classified
    /// by [`failure_of`].
    fn err(&self, what: &str, e: &tokio_postgres::Error) -> DataFusionError {
        self.client.spoil();
        let mut text = error_text(e);
        // A row the staging table refuses is refused by the target's own constraints, which
        // the staging table copies (`LIKE target INCLUDING CONSTRAINTS`): name the target, not
        // the run's work table (`null value in column "x" of relation "_flow_stage_..."`).
        if let Some(staging) = e.as_db_error().and_then(|db| db.table()).filter(|t| t.starts_with(STAGING_PREFIX)) {
            text = text.replace(&format!("relation \"{staging}\""), &format!("{} (checked while staging)", self.table));
        }
        let message = format!(
            "PostgreSQL at {}: {what} {}: {}",
            redact_url(&self.url),
            self.table,
            scrub_secret(&text, &self.url)
        );
        failure_of(e, message).into_datafusion()
    }

    fn simple_query(&self, sql: &str, step: Step) -> Result<Vec<tokio_postgres::SimpleQueryRow>> {
        let messages = self.runtime.block_on(self.client.simple_query(sql)).map_err(|e| self.err(step.phrase(), &e))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .collect())
    }
}

/// What begins a transaction of `step`: staging (preparing, a partition's rows with its ledger
/// row) commits at `synchronous_commit = off`, publishing at the server's setting (`on` by
/// default). A staging commit is atomic but not flushed one by one: a server crash can lose the
/// last ones, each whole with its ledger row, and `--resume` redoes exactly those (an unlogged
/// staging table loses its rows in a crash anyway). A publish's synchronous commit flushes the
/// write-ahead log up to it, and with it every staging commit before it: what a run says it
/// published is on disk.
fn begin_sql(step: Step) -> &'static str {
    match step {
        Step::BeginPreparing | Step::BeginWriting => "BEGIN; SET LOCAL synchronous_commit = off",
        _ => "BEGIN",
    }
}

impl SqlSession for PgSession {
    fn begin(&mut self, step: Step) -> Result<()> {
        self.execute(begin_sql(step), step)
    }

    /// Best effort, as the default; the connection is then closed, not given back to the pool.
    fn rollback(&mut self) {
        self.client.spoil();
        let _ = self.execute("ROLLBACK", Step::CommitRows);
    }

    fn execute(&mut self, sql: &str, step: Step) -> Result<()> {
        self.runtime.block_on(self.client.batch_execute(sql)).map_err(|e| self.err(step.phrase(), &e))
    }

    /// One simple query of every statement: one round trip, and the statements stop at the first
    /// that fails, as one by one (the protocol sends several only inside its transactions).
    fn execute_all(&mut self, statements: &[String], step: Step) -> Result<()> {
        match statements {
            [] => Ok(()),
            [one] => self.execute(one, step),
            many => self.execute(&many.join(";\n"), step),
        }
    }

    fn query_u64(&mut self, sql: &str, step: Step) -> Result<Option<u64>> {
        let rows = self.simple_query(sql, step)?;
        Ok(rows.first().and_then(|row| row.get(0)).and_then(|v| v.parse().ok()))
    }

    fn query_text(&mut self, sql: &str, step: Step) -> Result<Vec<Vec<Option<String>>>> {
        let rows = self.simple_query(sql, step)?;
        Ok(rows.iter().map(|row| (0..row.len()).map(|i| row.get(i).map(str::to_string)).collect()).collect())
    }

    /// `to_regclass`: a missing table is `NULL`, not an error that would end the transaction.
    fn table_exists(&mut self, table: &TableName) -> Result<bool> {
        let name = D.table(table);
        let lookup = self.runtime.block_on(self.client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name]));
        let row = lookup.map_err(|e| self.err(Step::LookUp.phrase(), &e))?;
        Ok(row.get(0))
    }

    fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>> {
        if !self.table_exists(table)? {
            return Ok(None);
        }
        let probe = format!("SELECT * FROM {} LIMIT 0", D.table(table));
        let statement =
            self.runtime.block_on(self.client.prepare(&probe)).map_err(|e| self.err(Step::Inspect.phrase(), &e))?;
        Ok(Some(statement.columns().iter().map(|c| c.name().to_string()).collect()))
    }

    /// A cancel request, sent from the runtime; the run waits for it before exiting
    /// (`connect::cancel`).
    fn canceller(&self) -> Option<Canceller> {
        let token = self.client.cancel_token();
        let runtime = self.runtime.clone();
        let cancelled = self.client.cancelled_flag();
        Some(Box::new(move || {
            // Before the request: the connection must not go back to the pool, where the
            // request could stop another step's statement.
            cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
            let pending = Pending::new();
            runtime.spawn(async move {
                let _ = token.cancel_query(NoTls).await;
                drop(pending);
            });
        }))
    }
}

impl StagedBackend for PostgresBackend {
    type Session = PgSession;
    type Loader = CopyLoader;
    const DIALECT: Dialect = D;
    const RENAMES: Renames = Renames::ToReplace;

    fn name(&self) -> String {
        format!("PostgreSQL at {}", redact_url(&self.url))
    }

    fn location(&self) -> String {
        format!("at {}", redact_url(&self.url))
    }

    fn open(&self, target: &StagedTarget) -> Result<PgSession> {
        let runtime = Handle::try_current().map_err(|e| {
            Failure::new(codes::run::INTERNAL, format!("the PostgreSQL sink needs the Tokio runtime: {e}"))
                .into_datafusion()
        })?;
        let pool = SessionPool::find(&self.url, &target.key.run_id);
        let client = match pool.as_ref().and_then(|p| p.take()) {
            Some(client) => client,
            None => runtime.block_on(connect(&self.url))?,
        };
        Ok(PgSession {
            client: PooledClient::new(client, pool),
            runtime,
            url: self.url.clone(),
            table: target.table.clone(),
        })
    }

    fn create_table_sql(&self, table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
        create_table_sql(table, schema, keys)
    }

    fn column_type(&self, field: &Field, _is_key: bool) -> Result<String> {
        pg_type_for_field(field)
    }

    fn replace_drops(&self) -> Option<&'static str> {
        Some("a view or foreign key that depends on it makes the publish fail")
    }

    fn publish_summary(&self, mode: &WriteMode, target: &str) -> String {
        match mode {
            WriteMode::Append => {
                format!("binary COPY into an unlogged staging table, then INSERT INTO {target} in one transaction")
            }
            WriteMode::Replace => format!(
                "binary COPY into a staging table, then drop {target} and rename the staging table, in one transaction"
            ),
            WriteMode::Truncate => {
                format!("binary COPY into a staging table, then TRUNCATE {target} and insert, in one transaction")
            }
            WriteMode::Upsert { .. } => format!(
                "binary COPY into a staging table, then INSERT ... ON CONFLICT DO UPDATE into {target}, in one transaction"
            ),
        }
    }

    fn lock_ledger_sql(&self, ledger: &TableName) -> Option<String> {
        Some(format!("SELECT pg_advisory_xact_lock(hashtext({}))", D.string(&D.table(ledger))))
    }

    fn partition_lock_sql(&self, name: &str) -> PartitionLock {
        PartitionLock::Transaction(format!("SELECT pg_advisory_xact_lock(hashtext({}))", D.string(name)))
    }

    fn existing_table(&self, s: &mut PgSession, table: &TableName) -> Result<Option<ExistingTable>> {
        let read = s.runtime.block_on(super::special_columns::read(&*s.client, table));
        read.map(Some).map_err(|e| s.err("cannot inspect", &e))
    }

    /// Into an existing table, stage with the target's own column types, defaults and CHECK /
    /// NOT NULL constraints, so a row the target would refuse is refused while staging, where it
    /// can be told apart from the others. Its generated columns are generated in the staging
    /// table too (PostgreSQL 12+, which has them), so a NOT NULL or CHECK on one is checked on
    /// the value the target will hold.
    fn staging_sql(&self, s: &mut PgSession, t: &StagedTarget, target_exists: bool) -> Result<String> {
        if target_exists && t.mode != WriteMode::Replace {
            // Its special columns only: `prepare` has checked the rest (`write_plan`).
            let read = s.runtime.block_on(super::special_columns::read_columns(&*s.client, &t.table));
            let special = read.map_err(|e| s.err("cannot inspect", &e))?.special;
            let generated = special.iter().any(|c| matches!(c.special, Special::Generated { .. }));
            return Ok(format!(
                "CREATE UNLOGGED TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS{})",
                D.table(&t.staging),
                D.table(&t.table),
                if generated { " INCLUDING GENERATED" } else { "" }
            ));
        }
        let create = create_table_sql(&t.staging, &t.schema, None)?;
        if t.mode == WriteMode::Replace && t.carried.is_none() {
            // `replace` renames the staging table into place: it is written logged once, rather
            // than unlogged and then rewritten whole by `SET LOGGED`.
            return Ok(create);
        }
        Ok(create.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1))
    }

    fn loader(&self, s: &mut PgSession, t: &StagedTarget, write: WritePlan) -> Result<CopyLoader> {
        let columns = write.column_list(&t.schema, D);
        let probe = format!("SELECT {columns} FROM {} LIMIT 0", D.table(&t.staging));
        let statement = s
            .runtime
            .block_on(s.client.prepare(&probe))
            .map_err(|e| s.err("cannot inspect the staging table of", &e))?;
        let types: Vec<_> = statement.columns().iter().map(|c| c.type_().clone()).collect();
        let encoder = CopyEncoder::new(&write.schema(&t.schema)?, &types)?;
        let copy_sql = format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", D.table(&t.staging));
        Ok(CopyLoader { write, encoder, copy_sql, copy: None })
    }

    /// The target gets the source's definition; other tables' foreign keys to the old one go with
    /// it (`CASCADE`) and are added again once every table is published.
    fn carried_sql(&self, t: &StagedTarget, carried: &CarriedTable, exists: bool) -> Vec<String> {
        let mut statements = Vec::new();
        if exists {
            // Tables publish several at once, and dropping one `CASCADE` locks the tables whose
            // foreign keys point at it: two such drops would deadlock (each waiting a second for
            // the server to notice). Held to the publish's commit, this lock has them take turns.
            statements.push(format!("SELECT pg_advisory_xact_lock(hashtext({}))", D.string("flow:drop cascade")));
            statements.push(format!("DROP TABLE {} CASCADE", D.table(&t.table)));
        }
        statements.extend(carried.create_types.iter().map(|sql| create_type_once(sql)));
        statements.extend(carried.create.iter().cloned());
        statements
    }

    /// PostgreSQL takes a value for an identity `ALWAYS` column only when told to; into a table
    /// just created from its source's definition, the staging columns are cast to its types.
    fn insert_sql(&self, t: &StagedTarget, write: &WritePlan, carried: Option<&CarriedTable>) -> String {
        let columns = write.column_list(&t.schema, D);
        let overriding = if write.identities.is_empty() { "" } else { " OVERRIDING SYSTEM VALUE" };
        let select = carried.map_or_else(|| columns.clone(), |c| carried_select(&t.schema, c));
        format!(
            "INSERT INTO {} ({columns}){overriding} SELECT {select} FROM {}",
            D.table(&t.table),
            D.table(&t.staging)
        )
    }

    fn upsert_sql(&self, _t: &StagedTarget, insert: String, keys: &[String], updates: &[String]) -> Vec<String> {
        vec![format!("{insert} {}", on_conflict_sql(D, keys, updates, "EXCLUDED"))]
    }

    fn empty_sql(&self, table: &TableName) -> String {
        format!("TRUNCATE {}", D.table(table))
    }

    fn after_rows_sql(&self, t: &StagedTarget, write: &WritePlan) -> Vec<String> {
        write.identities.iter().map(|column| identity_past_sql(&t.table, column)).collect()
    }

    fn rename_sql(&self, t: &StagedTarget, exists: bool) -> (Vec<String>, Vec<String>) {
        let mut statements = Vec::new();
        if exists {
            statements.push(format!("DROP TABLE {}", D.table(&t.table)));
        }
        statements.push(format!("ALTER TABLE {} RENAME TO {}", D.table(&t.staging), D.ident(t.table.table())));
        (statements, Vec::new())
    }
}

/// Streams a partition's batches into the staging table. A value the encoder cannot convert, or
/// a row PostgreSQL refuses, is handled as the sink's `on error` says: with `fail` the partition
/// is one `COPY`; otherwise each batch is a `COPY` under a savepoint, and a refused batch is split
/// in halves until the refused rows are found.
pub struct CopyLoader {
    write: WritePlan,
    encoder: CopyEncoder,
    copy_sql: String,
    /// With `on error fail`: the partition's `COPY` once started, and the bytes not sent yet.
    copy: Option<(Pin<Box<CopyInSink<Bytes>>>, BytesMut)>,
}

impl RowLoader<PgSession> for CopyLoader {
    fn load(
        &mut self,
        s: &mut PgSession,
        t: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        seen: u64,
    ) -> Result<Vec<BadRow>> {
        let written = self.write.project(batch)?;
        if t.rejects.fails() {
            return self.stream(s, batch, &written, partition, seen);
        }
        let mut refused = Vec::new();
        self.encoder.encode_batch_lenient(&written, &mut BytesMut::new(), &mut refused)?;
        let mut bad = bad_rows(batch, partition, seen, refused);
        let good = self.write.project(&rejects::without_rows(batch, &bad)?)?;
        let refused_by_server =
            s.runtime.block_on(copy_finding_refusals(s, &mut self.encoder, &good, &self.copy_sql))?;
        // Indices of the server's refusals are in `good`; the report numbers rows of `batch`.
        let kept: Vec<usize> = (0..batch.num_rows()).filter(|i| !bad.iter().any(|b| b.batch_row == *i)).collect();
        for (i, message, column) in refused_by_server {
            bad.push(BadRow::new(batch, kept[i], partition, seen, column.as_deref(), &message));
        }
        Ok(bad)
    }

    fn finish(&mut self, s: &mut PgSession) -> Result<()> {
        let Some((mut sink, mut buf)) = self.copy.take() else { return Ok(()) };
        CopyEncoder::write_trailer(&mut buf);
        let finished = async {
            sink.send(buf.freeze()).await?;
            sink.as_mut().finish().await
        };
        s.runtime.block_on(finished).map_err(|e| s.err("COPY failed for", &e))?;
        Ok(())
    }
}

impl CopyLoader {
    /// Adds `written` (the written columns of `batch`) to the partition's one `COPY`, sending a
    /// chunk once [`COPY_CHUNK`] bytes are buffered; returns the rows the encoder refused.
    fn stream(
        &mut self,
        s: &PgSession,
        batch: &RecordBatch,
        written: &RecordBatch,
        partition: usize,
        seen: u64,
    ) -> Result<Vec<BadRow>> {
        if self.copy.is_none() {
            let sink = s
                .runtime
                .block_on(s.client.copy_in::<_, Bytes>(self.copy_sql.as_str()))
                .map_err(|e| s.err("cannot start COPY into", &e))?;
            let mut buf = BytesMut::with_capacity(COPY_CHUNK + COPY_CHUNK / 4);
            self.encoder.write_header(&mut buf);
            self.copy = Some((Box::pin(sink), buf));
        }
        let Some((sink, buf)) = self.copy.as_mut() else {
            return Err(DataFusionError::Internal("the partition's COPY did not start".into()));
        };
        let mut refused = Vec::new();
        self.encoder.encode_batch_lenient(written, buf, &mut refused)?;
        if buf.len() >= COPY_CHUNK {
            s.runtime.block_on(sink.send(buf.split().freeze())).map_err(|e| s.err("COPY failed for", &e))?;
        }
        Ok(bad_rows(batch, partition, seen, refused))
    }
}

/// COPYs `batch` under savepoints, splitting refused slices in halves; returns each refused row
/// as (index in `batch`, the server's message, the column it names).
async fn copy_finding_refusals(
    s: &PgSession,
    encoder: &mut CopyEncoder,
    batch: &RecordBatch,
    copy_sql: &str,
) -> Result<Vec<(usize, String, Option<String>)>> {
    let mut refused = Vec::new();
    // Slices still to write, first half on top.
    let mut todo = vec![(0usize, batch.num_rows())];
    while let Some((offset, len)) = todo.pop() {
        if len == 0 {
            continue;
        }
        let mut buf = BytesMut::new();
        encoder.write_header(&mut buf);
        encoder.encode_batch(&batch.slice(offset, len), &mut buf)?;
        CopyEncoder::write_trailer(&mut buf);
        let savepoint = |sql: &'static str| async move {
            s.client.batch_execute(sql).await.map_err(|e| s.err("cannot write into", &e))
        };
        savepoint("SAVEPOINT flow_rows").await?;
        let copied = async {
            let sink = s.client.copy_in::<_, Bytes>(copy_sql).await?;
            futures::pin_mut!(sink);
            sink.send(buf.freeze()).await?;
            sink.as_mut().finish().await
        }
        .await;
        match copied {
            Ok(_) => savepoint("RELEASE SAVEPOINT flow_rows").await?,
            Err(e) if refuses_the_row(&e) => {
                savepoint("ROLLBACK TO SAVEPOINT flow_rows").await?;
                if len == 1 {
                    let db = e.as_db_error();
                    let column = db.and_then(|d| d.column().map(str::to_string).or_else(|| copy_column(d.where_())));
                    refused.push((offset, scrub_secret(&error_text(&e), &s.url), column));
                } else {
                    todo.push((offset + len / 2, len - len / 2));
                    todo.push((offset, len / 2));
                }
            }
            Err(e) => return Err(s.err("COPY failed for", &e)),
        }
    }
    Ok(refused)
}

/// Moves the sequence of identity column `column` of `table` past the largest value the table
/// holds, after rows were written with `OVERRIDING SYSTEM VALUE` (which leaves the sequence
/// where it was, so the next `INSERT` without an id would collide). Never moves it back, nor
/// touches a descending sequence.
fn identity_past_sql(table: &TableName, column: &str) -> String {
    format!(
        "SELECT setval(s.seqrelid::regclass, m.v) FROM pg_sequence s, (SELECT max({col}) AS v FROM {target}) m \
         WHERE s.seqrelid = pg_get_serial_sequence({table_text}, {column_text})::regclass AND s.seqincrement > 0 \
         AND m.v IS NOT NULL AND m.v >= COALESCE(pg_sequence_last_value(s.seqrelid::regclass), s.seqstart)",
        col = D.ident(column),
        target = D.table(table),
        table_text = D.string(&D.table(table)),
        column_text = D.string(column),
    )
}

/// `CREATE TYPE` (`sql`, one of `CarriedTable::create_types`) of an enum the target may have
/// from an earlier run: created once, kept after.
fn create_type_once(sql: &str) -> String {
    format!("DO $flow$ BEGIN {sql}; EXCEPTION WHEN duplicate_object THEN NULL; END $flow$")
}

/// The staging columns cast to the carried column types (text into an enum, say, needs one).
fn carried_select(schema: &SchemaRef, carried: &CarriedTable) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            let column = D.ident(f.name());
            match carried.column_types.iter().find(|(name, _)| name == f.name()) {
                Some((_, ty)) => format!("CAST({column} AS {ty})"),
                None => column,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows the encoder refused, as bad rows of `batch`.
fn bad_rows(
    batch: &RecordBatch,
    partition: usize,
    seen: u64,
    refused: Vec<(usize, String, super::copy::ValueError)>,
) -> Vec<BadRow> {
    refused
        .into_iter()
        .map(|(row, column, e)| BadRow::new(batch, row, partition, seen, Some(&column), &e.to_string()))
        .collect()
}

/// Whether PostgreSQL refused the data itself (a data exception, SQLSTATE class 22, or an
/// integrity violation, class 23), not the connection or the transaction.
fn refuses_the_row(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|d| matches!(&d.code().code()[..2], "22" | "23"))
}

/// A statement PostgreSQL refused, as a [`Failure`] with `message`, its code from the SQLSTATE
/// (PostgreSQL docs, Appendix A): classes 22 and 23 refuse a row (`flow::sink::value_refused`,
/// with the column the error names and, inside the partition's one `COPY`, its row: the COPY's
/// line N is the partition's row N); 42P10 (invalid column reference) is what an `ON CONFLICT`
/// whose columns match no unique constraint raises (`flow::sink::no_upsert_key`); the rest is
/// `flow::sink::write_failed`.
fn failure_of(e: &tokio_postgres::Error, message: String) -> Failure {
    let Some(db) = e.as_db_error() else { return Failure::new(codes::sink::WRITE_FAILED, message) };
    if db.code() == &tokio_postgres::error::SqlState::INVALID_COLUMN_REFERENCE {
        return Failure::new(codes::sink::NO_UPSERT_KEY, message);
    }
    if !refuses_the_row(e) {
        return Failure::new(codes::sink::WRITE_FAILED, message);
    }
    let failure = Failure::new(codes::sink::VALUE_REFUSED, message);
    let failure = match copy_line(db.where_()) {
        Some(line) => failure.row(line),
        None => failure,
    };
    match db.column().map(str::to_string).or_else(|| copy_column(db.where_())) {
        Some(column) => failure.column(column),
        None => failure,
    }
}

/// The column a COPY error's context names: `COPY t, line 1, column amount: "..."`. PostgreSQL
/// gives a COPY's line and column only in the text of the error's context (its `column` field
/// is empty for a value COPY refused), so they are read from the server's message here, where
/// the error comes in; everything after decides on the `Failure`'s fields.
fn copy_column(context: Option<&str>) -> Option<String> {
    let rest = &context?[context?.find(", column ")? + ", column ".len()..];
    Some(rest.split(':').next()?.trim().to_string())
}

/// Adds a table set's foreign keys on PostgreSQL (`connect::foreign_keys`); SQLSTATE 42710
/// `duplicate_object` means a constraint of that name exists, from an earlier run: kept.
pub fn add_foreign_keys(step: &ForeignKeyStep) -> BoxFuture<'_, std::result::Result<usize, KeyFailure>> {
    Box::pin(async move {
        let client = super::connect(&step.endpoint.url).await.map_err(KeyFailure::Connect)?;
        let mut added = 0;
        for sql in &step.statements {
            match client.batch_execute(sql).await {
                Ok(()) => added += 1,
                Err(e) if e.code().is_some_and(|c| c.code() == "42710") => {}
                Err(e) => return Err(KeyFailure::Statement { sql: sql.clone(), detail: super::error_text(&e) }),
            }
        }
        Ok(added)
    })
}

/// The line a COPY error's context names (`COPY t, line 3: ...`, `COPY t, line 3, column a:
/// ...`), 1-based: the row of the COPY's input. Read from the server's text, as
/// [`copy_column`] says.
fn copy_line(context: Option<&str>) -> Option<u64> {
    let rest = context?.strip_prefix("COPY ")?;
    let rest = &rest[rest.find(", line ")? + ", line ".len()..];
    rest.split([',', ':']).next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{begin_sql, copy_column, copy_line};
    use crate::connect::staged::Step;

    #[test]
    fn staging_commits_unflushed_and_publishing_flushed() {
        assert_eq!(begin_sql(Step::BeginPreparing), "BEGIN; SET LOCAL synchronous_commit = off");
        assert_eq!(begin_sql(Step::BeginWriting), "BEGIN; SET LOCAL synchronous_commit = off");
        assert_eq!(begin_sql(Step::BeginPublishing), "BEGIN");
    }

    #[test]
    fn a_copy_errors_context_gives_its_line_and_column() {
        let context = Some("COPY flow_t_stage_1, line 3, column name: \"x\"");
        assert_eq!((copy_line(context), copy_column(context).as_deref()), (Some(3), Some("name")));
        assert_eq!(copy_line(Some("COPY t, line 12: \"12,\\N\"")), Some(12));
        assert_eq!(copy_line(Some("SQL statement \"INSERT ...\"")), None);
        assert_eq!(copy_line(None), None);
    }
}
