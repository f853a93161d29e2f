//! The sink contract and its registry: how each backend prepares a target, writes one
//! partition, and publishes the result, keeping the partition ledger (`crate::ledger`) in step with the data. The runner
//! reads the ledger, calls `prepare` once, `write_partition` once per partition still to do
//! (concurrently), then `publish` if every partition succeeded. A failed or killed run leaves
//! the target as it was, and its committed partitions in the staging area for `--resume`.
//!
//! Every sink blocks (the database sinks run the staged-table protocol of `connect::staged`,
//! files are written with `std::fs`): one `BlockingDriver` runs them on Tokio's blocking pool.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::connect::file::parts::PartedFileSink;
use crate::connect::rejects::RejectPolicy;
use crate::connect::staged::StagedTarget;
use crate::diagnostics::{Failure, codes};
use crate::ledger::{LedgerKey, LedgerRow, Preparation, SinkHistory};
use crate::plan::{PipelinePlan, Relation, SinkPlan};

/// Where a partition's writer reports rows as they are written (the run's progress counters).
pub trait RowsWritten: Send + Sync {
    fn add_rows(&self, rows: u64);
}

/// A sink: one target of a pipeline, written partition by partition (see the module docs).
/// Obtained from [`driver_for`], the registry of sink backends.
#[async_trait]
pub trait SinkDriver: Send + Sync {
    /// The ledger rows of this sink's pipeline (every run), oldest first.
    async fn read_ledger(&self) -> Result<Vec<LedgerRow>>;
    /// Cleans up earlier runs and starts the staging area; on a resume, checks it. `false`: the
    /// staging area no longer matches the ledger and the sink starts over.
    async fn prepare(&self, prep: &Preparation) -> Result<bool>;
    /// Writes one partition and records it in the ledger, atomically; returns the rows written.
    /// `detail` says what the partition read (its source predicate), for the ledger.
    async fn write_partition(
        &self,
        partition: usize,
        detail: String,
        input: SendableRecordBatchStream,
        metrics: Arc<dyn RowsWritten>,
    ) -> Result<u64>;
    /// Moves everything staged into the target and records `record`, atomically.
    async fn publish(&self, record: LedgerRow) -> Result<()>;
    /// Rows skipped or rejected so far in this run.
    fn refused(&self) -> u64 {
        0
    }
}

/// The registry of sink backends: the sink that writes `sink`'s target, shaped for rows of
/// `schema`, keeping its ledger under `key`; an upsert's hands its backend one row per key
/// (`connect::unique_keys`). Errors when no backend writes that target (a query, or a backend
/// without a sink).
pub fn driver_for(sink: &SinkPlan, schema: SchemaRef, key: LedgerKey) -> Result<Arc<dyn SinkDriver>> {
    backend_driver(sink, schema, key).map(|driver| crate::connect::unique_keys::wrap(sink, driver))
}

/// The backend's own driver for `sink` (see [`driver_for`]).
fn backend_driver(sink: &SinkPlan, schema: SchemaRef, key: LedgerKey) -> Result<Arc<dyn SinkDriver>> {
    let driver = |writer: Arc<dyn BlockingSink>, batch_rows: usize| -> Arc<dyn SinkDriver> {
        Arc::new(BlockingDriver { sink: writer, batch_rows })
    };
    let staged = |name: &crate::plan::TableName| {
        let rejects = RejectPolicy::new(&sink.name, sink.on_error.clone(), sink.max_rejects);
        let (mode, create) = (sink.mode.clone(), sink.create_if_missing);
        StagedTarget::new(name.clone(), mode, create, schema.clone(), key.clone(), rejects, sink.carried.clone())
    };
    let entry = crate::connect::registry::backend(sink.endpoint.backend);
    match (&sink.relation, entry.table_sink) {
        (Relation::Table { name }, Some(table)) => {
            let batch_rows = if table.regroup { sink.batch_size } else { 1 };
            Ok(driver((table.open)(&sink.endpoint, staged(name)), batch_rows))
        }
        (Relation::File { path }, _) if entry.file_sink.is_some() => {
            Ok(driver(Arc::new(PartedFileSink::new(sink.endpoint.clone(), path, schema, key)), sink.batch_size))
        }
        _ => Err(DataFusionError::NotImplemented(format!(
            "writing to {} is not available yet in this build (sink `{}`)",
            sink.endpoint.backend.name(),
            sink.name
        ))),
    }
}

/// Keeps what the sinks of `plan` share across a run open while the returned handles live: the
/// one connection to each SQLite file they write (`connect::sqlite::shared`), so that reading the
/// ledgers, preparing, writing, publishing and the foreign key check all use one. Without it the
/// connection closes whenever no sink of the file is alive (between reading the ledgers and the
/// run, say). Dropping the handles closes what no sink still holds. Each file is told how many
/// sinks write it (`SharedFile::held_by_run`: a new one that takes several is written in WAL mode).
pub fn hold_shared(plan: &PipelinePlan) -> Vec<Arc<crate::connect::sqlite::shared::SharedFile>> {
    use crate::connect::sqlite::shared::SharedFile;
    let mut files: Vec<(Arc<SharedFile>, usize)> = Vec::new();
    for sink in plan.sinks.iter().filter(|sink| sink.endpoint.backend == crate::plan::backend::Backend::Sqlite) {
        let file = SharedFile::of(sink.endpoint.file_path());
        match files.iter_mut().find(|(held, _)| Arc::ptr_eq(held, &file)) {
            Some((_, tables)) => *tables += 1,
            None => files.push((file, 1)),
        }
    }
    // A new file that takes several tables is written in WAL mode (`shared::Journal`).
    for (file, tables) in &files {
        file.held_by_run(*tables);
    }
    files.into_iter().map(|(file, _)| file).collect()
}

/// Opens a group (`connect::sqlite::shared::Group`) on each file of `files` (from
/// [`hold_shared`]) that only table-set sinks of `plan` write: until [`finish_groups`], their
/// steps (preparing, or `publishing`) commit up to `shared::GROUP_STEPS` tables at a time
/// instead of one. Only there, because a table set's publish turns `foreign_keys` off for its
/// transaction, and another sink's must not run in that transaction.
pub fn group_shared(
    plan: &PipelinePlan,
    files: &[Arc<crate::connect::sqlite::shared::SharedFile>],
    publishing: bool,
) -> Vec<crate::connect::sqlite::shared::Group> {
    let sqlite = || plan.sinks.iter().filter(|sink| sink.endpoint.backend == crate::plan::backend::Backend::Sqlite);
    files
        .iter()
        .filter(|file| {
            let mut writers = sqlite().filter(|sink| sink.endpoint.file_path() == file.path()).peekable();
            writers.peek().is_some() && writers.all(|sink| sink.carried.is_some())
        })
        .map(|file| file.group(publishing))
        .collect()
}

/// Commits and ends the groups of [`group_shared`]; errors with the first that cannot commit.
pub async fn finish_groups(groups: Vec<crate::connect::sqlite::shared::Group>) -> Result<(), Failure> {
    if groups.is_empty() {
        return Ok(());
    }
    let finished = tokio::task::spawn_blocking(move || groups.into_iter().map(|g| g.finish()).collect::<Vec<_>>())
        .await
        .map_err(|e| Failure::new(codes::run::INTERNAL, format!("sink task failed: {e}")))?;
    for outcome in finished {
        outcome.map_err(|e| crate::connect::connect_error::failure_of(&e, codes::sink::WRITE_FAILED))?;
    }
    Ok(())
}

/// One sink's ledger history for a pipeline. A failure names the sink (its `stage`) and says
/// `sink `NAME`: ...`; its code is the connection's when the target cannot be reached, else
/// [`codes::run::LEDGER`].
pub async fn read_ledger(plan: &PipelinePlan, sink: &SinkPlan) -> Result<SinkHistory, Failure> {
    Ok(crate::ledger::runs_of(&read_ledger_rows(plan, sink).await?, &sink.name))
}

/// Every row of the ledger `sink` writes to (the ledger table beside its target, or its files'
/// sidecar), whichever sink of `plan` recorded it: how `flow status` finds the tables of a
/// table set, which the ledger names but the file does not. Errors as [`read_ledger`].
pub async fn read_ledger_rows(plan: &PipelinePlan, sink: &SinkPlan) -> Result<Vec<crate::ledger::LedgerRow>, Failure> {
    read_ledger_rows_in(plan, sink, "").await
}

/// [`read_ledger_rows`] by run `run_id`, whose held connections it may use ([`hold_sessions`]).
async fn read_ledger_rows_in(
    plan: &PipelinePlan,
    sink: &SinkPlan,
    run_id: &str,
) -> Result<Vec<crate::ledger::LedgerRow>, Failure> {
    let key = LedgerKey { run_id: run_id.to_string(), pipeline: plan.name.clone(), sink: sink.name.clone() };
    let failed =
        |code: &'static str, message: String| Failure { stage: Some(sink.name.clone()), ..Failure::new(code, message) };
    let driver = driver_for(sink, Arc::new(arrow::datatypes::Schema::empty()), key).map_err(|e| {
        failed(codes::run::LEDGER, format!("sink `{}`: {}", sink.name, crate::diagnostics::strip_df_prefix(&e)))
    })?;
    let rows = driver.read_ledger().await.map_err(|e| {
        // A target that cannot be reached is said as such, not as a ledger problem.
        match crate::connect::connect_error::ConnectError::find(&e) {
            Some(connect) => failed(connect.code(), format!("sink `{}`: {connect}", sink.name)),
            None => failed(
                codes::run::LEDGER,
                format!("sink `{}`: cannot read its ledger: {}", sink.name, crate::diagnostics::strip_df_prefix(&e)),
            ),
        }
    })?;
    Ok(rows.into_iter().filter(|r| r.pipeline == plan.name).collect())
}

/// How many sinks' ledgers are read at once, each on a connection of its own: a table set of
/// hundreds of tables must not open a connection per table at once (PostgreSQL's default
/// `max_connections` is 100, MariaDB's 151), and reading a few at a time costs little.
pub const LEDGER_READS: usize = 8;

/// Every sink's ledger history for a pipeline, in plan order, read [`LEDGER_READS`] at a time by
/// run `run_id` (on the connections it holds, [`hold_sessions`]; `""`: by no run). Errors with
/// the first sink whose ledger cannot be read.
pub async fn read_ledgers(plan: &PipelinePlan, run_id: &str) -> Result<Vec<SinkHistory>, Failure> {
    use futures::{StreamExt, TryStreamExt};
    let reads = plan.sinks.iter().map(|sink| async move {
        Ok(crate::ledger::runs_of(&read_ledger_rows_in(plan, sink, run_id).await?, &sink.name))
    });
    futures::stream::iter(reads).buffered(LEDGER_READS).try_collect().await
}

/// How many sinks prepare, or publish, at once: each step is a few short statements, mostly
/// waiting on the server, on a connection of its own.
pub const SINK_STEPS: usize = 8;

/// Keeps, while the returned handles live, a pool of connections to each PostgreSQL server
/// the sinks of `plan` write, which the steps of run `run_id` share, and one to each PostgreSQL
/// server its sources read, which their reads share (`connect::postgres::pool`; a table set
/// of 1,000 small tables made a connection per table).
pub fn hold_sessions(plan: &PipelinePlan, run_id: &str) -> Vec<Arc<crate::connect::postgres::pool::SessionPool>> {
    use crate::connect::postgres::pool::{SOURCE_READS, SessionPool};
    use crate::plan::backend::Backend;
    let urls = |endpoints: &mut dyn Iterator<Item = &crate::plan::Endpoint>| {
        let mut urls: Vec<String> =
            endpoints.filter(|e| e.backend == Backend::Postgres).map(|e| e.url.clone()).collect();
        urls.sort_unstable();
        urls.dedup();
        urls
    };
    let sinks = urls(&mut plan.sinks.iter().map(|s| &s.endpoint));
    let sources = urls(&mut plan.sources.iter().map(|s| &s.endpoint));
    let written = sinks.iter().map(|url| SessionPool::hold(url, run_id));
    written.chain(sources.iter().map(|url| SessionPool::hold(url, SOURCE_READS))).collect()
}

/// Feeds a stream into a blocking writer through a bounded channel, regrouping batches to
/// `batch_rows` rows. The writer's `next` yields `Ok(None)` only after the whole input arrived;
/// if the input fails or this future is dropped, `next` fails instead, so a writer can never
/// mistake a cut-off input for a complete partition and commit it.
pub async fn feed_blocking<W>(mut input: SendableRecordBatchStream, batch_rows: usize, writer: W) -> Result<u64>
where
    W: FnOnce(&mut dyn FnMut() -> Result<Option<RecordBatch>>) -> Result<u64> + Send + 'static,
{
    // `None` in the channel marks the end of the input.
    let (tx, mut rx) = mpsc::channel::<Option<RecordBatch>>(2);
    let handle = tokio::task::spawn_blocking(move || {
        writer(&mut || match rx.blocking_recv() {
            Some(item) => Ok(item),
            None => Err(DataFusionError::Execution("the partition's input stopped before its end".into())),
        })
    });
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0usize;
    let mut input_error = None;
    while let Some(item) = input.next().await {
        match item {
            Ok(batch) if batch.num_rows() == 0 => {}
            Ok(batch) => {
                pending_rows += batch.num_rows();
                pending.push(batch);
                if pending_rows >= batch_rows {
                    let merged = merge(&mut pending)?;
                    pending_rows = 0;
                    if tx.send(Some(merged)).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                input_error = Some(e);
                break;
            }
        }
    }
    if input_error.is_none() {
        if !pending.is_empty() {
            let _ = tx.send(Some(merge(&mut pending)?)).await;
        }
        let _ = tx.send(None).await;
    }
    drop(tx);
    let written = handle
        .await
        .map_err(|e| Failure::new(codes::run::INTERNAL, format!("writer task failed: {e}")).into_datafusion())?;
    match input_error {
        Some(e) => Err(e),
        None => written,
    }
}

fn merge(pending: &mut Vec<RecordBatch>) -> Result<RecordBatch> {
    let batches = std::mem::take(pending);
    if batches.len() == 1 {
        return Ok(batches.into_iter().next().unwrap_or_else(|| unreachable!()));
    }
    let schema = batches[0].schema();
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// A sink whose driver blocks (the staged database sinks, files): it runs on the blocking pool,
/// one connection per writer.
pub trait BlockingSink: Send + Sync + 'static {
    fn read_ledger(&self) -> Result<Vec<LedgerRow>>;
    fn prepare(&self, prep: &Preparation) -> Result<bool>;
    /// Writes the batches `next` yields as one partition, with its ledger row, atomically.
    fn write_partition(
        &self,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64>;
    fn publish(&self, record: &LedgerRow) -> Result<()>;
    fn refused(&self) -> u64 {
        0
    }
    /// Called when a partition's write is abandoned mid-way (a timeout, Ctrl-C): stop what the
    /// writer is running on the server. The writer itself rolls back once its input ends.
    fn cancel(&self, _partition: usize) {}
}

struct BlockingDriver {
    sink: Arc<dyn BlockingSink>,
    /// Rows per batch handed to the writer.
    batch_rows: usize,
}

#[async_trait]
impl SinkDriver for BlockingDriver {
    async fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        let sink = self.sink.clone();
        blocking(move || sink.read_ledger()).await
    }

    async fn prepare(&self, prep: &Preparation) -> Result<bool> {
        let sink = self.sink.clone();
        let prep = prep.clone();
        blocking(move || sink.prepare(&prep)).await
    }

    async fn write_partition(
        &self,
        partition: usize,
        detail: String,
        input: SendableRecordBatchStream,
        metrics: Arc<dyn RowsWritten>,
    ) -> Result<u64> {
        let sink = self.sink.clone();
        let mut on_drop = CancelOnDrop { sink: Some(self.sink.clone()), partition };
        let written = feed_blocking(input, self.batch_rows, move |next| {
            sink.write_partition(partition, &detail, next, &|n| metrics.add_rows(n))
        })
        .await;
        on_drop.sink = None;
        written
    }

    async fn publish(&self, record: LedgerRow) -> Result<()> {
        let sink = self.sink.clone();
        blocking(move || sink.publish(&record)).await
    }

    fn refused(&self) -> u64 {
        self.sink.refused()
    }
}

/// Tells the sink to stop a partition's statements when the future writing it is dropped
/// before it finished (disarmed on completion).
struct CancelOnDrop {
    sink: Option<Arc<dyn BlockingSink>>,
    partition: usize,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(sink) = self.sink.take() {
            sink.cancel(self.partition);
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::new(codes::run::INTERNAL, format!("sink task failed: {e}")).into_datafusion())?
}
