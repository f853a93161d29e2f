//! Sink drivers: how each backend prepares a target, writes one partition, and publishes or
//! abandons the result. The runner calls `prepare` once, `write_partition` once per partition
//! (concurrently), then `publish` if every partition succeeded, else `abort`: a failed run never
//! leaves a partial target.

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use tokio::sync::mpsc;

use super::metrics::StageMetrics;
use crate::connect::file::{FileWriter, StagedFile};
use crate::connect::mysql::sink::MysqlSink;
use crate::connect::postgres::sink::PostgresSink;
use crate::connect::sqlite::sink::SqliteSink;
use crate::plan::{Backend, Relation, SinkPlan};

#[async_trait]
pub trait SinkDriver: Send + Sync {
    /// True when the target takes one writer only (a single file).
    fn single_writer(&self) -> bool {
        false
    }
    async fn prepare(&self) -> Result<()>;
    /// Writes one partition; returns the rows written.
    async fn write_partition(
        &self,
        partition: usize,
        input: SendableRecordBatchStream,
        metrics: Arc<StageMetrics>,
    ) -> Result<u64>;
    async fn publish(&self) -> Result<()>;
    async fn abort(&self);
}

pub fn driver_for(sink: &SinkPlan, schema: SchemaRef, run_id: &str) -> Result<Arc<dyn SinkDriver>> {
    match (&sink.relation, sink.endpoint.backend) {
        (Relation::Table { name }, Backend::Sqlite) => Ok(Arc::new(BlockingDriver {
            sink: Arc::new(SqliteSink::new(
                sink.endpoint.file_path(),
                name.clone(),
                sink.mode.clone(),
                sink.create_if_missing,
                schema,
                run_id,
            )),
            batch_rows: sink.batch_size,
        })),
        (Relation::Table { name }, Backend::Postgres) => Ok(Arc::new(PostgresDriver(PostgresSink::new(
            &sink.endpoint.url,
            name.clone(),
            sink.mode.clone(),
            sink.create_if_missing,
            schema,
            run_id,
        )))),
        (Relation::Table { name }, Backend::Mysql) => Ok(Arc::new(BlockingDriver {
            sink: Arc::new(MysqlSink::new(
                &sink.endpoint.url,
                name.clone(),
                sink.mode.clone(),
                sink.create_if_missing,
                schema,
                run_id,
            )),
            batch_rows: sink.batch_size,
        })),
        (Relation::File { path }, Backend::Csv | Backend::Parquet) => {
            Ok(Arc::new(FileDriver { sink: sink.clone(), path: path.clone(), schema, staged: Mutex::new(None) }))
        }
        (_, backend) => Err(DataFusionError::NotImplemented(format!(
            "writing to {} is not available yet in this build (sink `{}`)",
            backend.name(),
            sink.name
        ))),
    }
}

/// Feeds a stream into a blocking writer through a bounded channel, regrouping batches to
/// `batch_rows` rows (the sink's transaction size). Returns the writer's result; an input error
/// wins over the writer's, since the writer only stopped because its input did.
pub async fn feed_blocking<W>(mut input: SendableRecordBatchStream, batch_rows: usize, writer: W) -> Result<u64>
where
    W: FnOnce(&mut dyn FnMut() -> Option<RecordBatch>) -> Result<u64> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<RecordBatch>(2);
    let handle = tokio::task::spawn_blocking(move || writer(&mut || rx.blocking_recv()));
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
                    if tx.send(merged).await.is_err() {
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
    if input_error.is_none() && !pending.is_empty() {
        let merged = merge(&mut pending)?;
        let _ = tx.send(merged).await;
    }
    drop(tx);
    let written = handle.await.map_err(|e| DataFusionError::Execution(format!("writer task failed: {e}")))?;
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

/// A sink whose driver blocks (rusqlite, the `mysql` crate): it runs on the blocking pool, one
/// connection per writer.
pub trait BlockingSink: Send + Sync + 'static {
    type Connection;
    fn connect(&self) -> Result<Self::Connection>;
    fn prepare(&self) -> Result<()>;
    /// Writes one batch (one transaction); returns the rows written.
    fn write_batch(&self, conn: &mut Self::Connection, batch: &RecordBatch) -> Result<u64>;
    fn publish(&self) -> Result<()>;
    fn abort(&self);
}

impl BlockingSink for SqliteSink {
    type Connection = rusqlite::Connection;
    fn connect(&self) -> Result<Self::Connection> {
        self.open()
    }
    fn prepare(&self) -> Result<()> {
        SqliteSink::prepare(self)
    }
    fn write_batch(&self, conn: &mut Self::Connection, batch: &RecordBatch) -> Result<u64> {
        SqliteSink::write_batch(self, conn, batch)
    }
    fn publish(&self) -> Result<()> {
        SqliteSink::publish(self)
    }
    fn abort(&self) {
        SqliteSink::abort(self)
    }
}

impl BlockingSink for MysqlSink {
    type Connection = mysql::Conn;
    fn connect(&self) -> Result<Self::Connection> {
        MysqlSink::connect(self)
    }
    fn prepare(&self) -> Result<()> {
        MysqlSink::prepare(self)
    }
    fn write_batch(&self, conn: &mut Self::Connection, batch: &RecordBatch) -> Result<u64> {
        MysqlSink::write_batch(self, conn, batch)
    }
    fn publish(&self) -> Result<()> {
        MysqlSink::publish(self)
    }
    fn abort(&self) {
        MysqlSink::abort(self)
    }
}

struct BlockingDriver<S> {
    sink: Arc<S>,
    /// Rows per transaction.
    batch_rows: usize,
}

#[async_trait]
impl<S: BlockingSink> SinkDriver for BlockingDriver<S> {
    async fn prepare(&self) -> Result<()> {
        let sink = self.sink.clone();
        blocking(move || sink.prepare()).await
    }

    async fn write_partition(
        &self,
        _partition: usize,
        input: SendableRecordBatchStream,
        metrics: Arc<StageMetrics>,
    ) -> Result<u64> {
        let sink = self.sink.clone();
        feed_blocking(input, self.batch_rows, move |next| {
            let mut conn = sink.connect()?;
            let mut written = 0;
            while let Some(batch) = next() {
                let n = sink.write_batch(&mut conn, &batch)?;
                metrics.add_rows(n);
                written += n;
            }
            Ok(written)
        })
        .await
    }

    async fn publish(&self) -> Result<()> {
        let sink = self.sink.clone();
        blocking(move || sink.publish()).await
    }

    async fn abort(&self) {
        let sink = self.sink.clone();
        let _ = blocking(move || {
            sink.abort();
            Ok(())
        })
        .await;
    }
}

struct PostgresDriver(PostgresSink);

#[async_trait]
impl SinkDriver for PostgresDriver {
    async fn prepare(&self) -> Result<()> {
        self.0.prepare().await
    }

    async fn write_partition(
        &self,
        _partition: usize,
        input: SendableRecordBatchStream,
        metrics: Arc<StageMetrics>,
    ) -> Result<u64> {
        self.0.write_partition(input, |n| metrics.add_rows(n)).await
    }

    async fn publish(&self) -> Result<()> {
        self.0.publish().await
    }

    async fn abort(&self) {
        self.0.abort().await;
    }
}

struct FileDriver {
    sink: SinkPlan,
    path: String,
    schema: SchemaRef,
    staged: Mutex<Option<StagedFile>>,
}

#[async_trait]
impl SinkDriver for FileDriver {
    fn single_writer(&self) -> bool {
        true
    }

    async fn prepare(&self) -> Result<()> {
        Ok(())
    }

    async fn write_partition(
        &self,
        _partition: usize,
        input: SendableRecordBatchStream,
        metrics: Arc<StageMetrics>,
    ) -> Result<u64> {
        let endpoint = self.sink.endpoint.clone();
        let path = self.path.clone();
        let schema = self.schema.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<StagedFile>(1);
        let written = feed_blocking(input, self.sink.batch_size, move |next| {
            let mut writer = FileWriter::create(&endpoint, &path, &schema)?;
            let mut written = 0;
            while let Some(batch) = next() {
                writer.write(&batch)?;
                metrics.add_rows(batch.num_rows() as u64);
                written += batch.num_rows() as u64;
            }
            let staged = writer.close()?;
            let _ = tx.send(staged);
            Ok(written)
        })
        .await?;
        let staged =
            rx.try_recv().map_err(|_| DataFusionError::Execution("file writer finished without a file".into()))?;
        *self.staged.lock().map_err(|_| DataFusionError::Execution("file sink state poisoned".into()))? = Some(staged);
        Ok(written)
    }

    async fn publish(&self) -> Result<()> {
        let staged =
            self.staged.lock().map_err(|_| DataFusionError::Execution("file sink state poisoned".into()))?.take();
        match staged {
            Some(s) => blocking(move || s.publish()).await,
            None => Err(DataFusionError::Execution(format!("sink `{}` wrote no file", self.sink.name))),
        }
    }

    async fn abort(&self) {
        if let Ok(mut staged) = self.staged.lock() {
            staged.take();
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| DataFusionError::Execution(format!("sink task failed: {e}")))?
}
