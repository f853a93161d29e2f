//! The source contract: what a database backend provides so that Flow can read a table or query
//! from it. The backend-neutral steps (partition bounds, the watermark, splitting into partitions,
//! predicates) are written once in `connect::describe`; each backend folder implements
//! [`DatabaseSource`] in its `source.rs`, and `connect::registry` maps a [`Backend`] to it.
//!
//! [`Backend`]: crate::plan::Backend

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::plan::{Endpoint, SourcePlan, TableName};

/// Tables with inheritance children: `schema.table` of the parent → `schema.table` of each
/// descendant (children, then grandchildren, ...).
pub type Descendants = std::collections::BTreeMap<String, Vec<String>>;

/// Why a backend's driver would refuse a URL ([`DatabaseSource::check_url`]): one line, in the
/// driver's words or the backend's (`unsupported ssl-mode value: bogus`), with no password in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct BadUrl {
    pub reason: String,
}

/// What a database backend does to read a source. `source` is always a source of this backend.
#[async_trait]
pub trait DatabaseSource: Send + Sync {
    /// Whether the backend's driver takes `url` as written (its options and their values),
    /// without connecting: `flow check` refuses a URL the run could never use
    /// (`flow::connection::bad_url`) instead of reporting its server as unreachable. The error
    /// says what is wrong.
    fn check_url(&self, _url: &str) -> std::result::Result<(), BadUrl> {
        Ok(())
    }

    /// The Arrow schema of `probe` (the source's query, `probe` reads no rows), and what
    /// `explain` should say that the source's name alone does not (a PostgreSQL table's
    /// inheritance children, read or left out).
    async fn probe(&self, source: &SourcePlan, probe: &str) -> Result<(SchemaRef, Vec<String>)>;

    /// A small query's whole result (bounds, counts, catalog rows), on a session of its own.
    async fn fetch_small(&self, source: &SourcePlan, sql: &str) -> Result<Vec<RecordBatch>>;

    /// For a partitioned source: a snapshot taken while describing it, in which the bounds are
    /// read and which every partition imports (PostgreSQL's `pg_export_snapshot`). `None`: the
    /// backend has none, and the bounds are read with [`Self::fetch_small`].
    async fn export_snapshot(&self, _source: &SourcePlan) -> Result<Option<Arc<dyn SourceSnapshot>>> {
        Ok(None)
    }

    /// For a run of a source read in `partitions` (at least 2) partitions: a snapshot the
    /// partitions share, taken now (MySQL: one connection per partition, see
    /// `mysql::source::SharedSnapshot`), and the line for the run report when the partitions read
    /// at different moments after all. `None`: nothing to take (the default).
    async fn hold_snapshot(
        &self,
        _source: &SourcePlan,
        _partitions: usize,
    ) -> Result<Option<(Arc<dyn SourceSnapshot>, Option<String>)>> {
        Ok(None)
    }

    /// What a run does, in [`Self::hold_snapshot`], to give a partitioned source's partitions
    /// one snapshot, as `explain` says it; `None`: nothing (the default).
    fn run_snapshot_note(&self) -> Option<&'static str> {
        None
    }

    /// The catalog query for automatic partitioning of `table`: one row of the primary key's
    /// column name (`k`), the primary key's column count (`n`), the estimated row count (`r`)
    /// and the key's type name (`t`). `None`: the backend is never partitioned automatically.
    fn auto_partition_sql(&self, _table: &TableName) -> Option<String> {
        None
    }

    /// The query for the number of rows of `table` as the database knows it without reading
    /// them (progress shows it as an estimate): one row whose first column is the count, NULL
    /// when the database does not know. `only`: without its inheritance children. `None`: the
    /// backend has no such number (the default).
    fn row_estimate_sql(&self, _table: &TableName, _only: bool) -> Option<String> {
        None
    }

    /// The statistics query for `table`'s average row width in bytes: one row whose first
    /// column is the width. `only`: the source reads the table without its inheritance children.
    /// `None`: the backend keeps no such statistics.
    fn row_width_sql(&self, _table: &TableName, _only: bool) -> Option<String> {
        None
    }

    /// The query for the smallest and largest value (`lo`, `hi`) of the partition column `col`
    /// (quoted) over the rows `scanned` (a `SELECT`); `alias` names the derived table. The
    /// default is one `MIN`/`MAX` over one scan.
    fn bounds_sql(&self, col: &str, scanned: &str, alias: &str) -> String {
        format!("SELECT MIN({col}) AS lo, MAX({col}) AS hi FROM ({scanned}) AS {alias}")
    }

    /// The local file the database lives in (SQLite), whose absence `check` reports as a
    /// missing file rather than a failed connection. `None` for a server (the default).
    fn database_file<'a>(&self, _endpoint: &'a Endpoint) -> Option<&'a str> {
        None
    }

    /// Whether a partition's reader holds each query's whole result, so that reads are split
    /// into chunks of keys (`connect::CHUNK_KEYS`), and an unpartitioned table is read in chunks
    /// of its `rowid` (SQLite). Streaming readers: `false`.
    fn chunked(&self) -> bool {
        false
    }

    /// Opens one partition: its queries (one, or for a [`Self::chunked`] backend its chunks in
    /// order), read as Arrow batches of `read.batch_size` rows typed by `read.schema`.
    fn open_partition(&self, read: PartitionRead<'_>) -> Result<SendableRecordBatchStream>;
}

/// One partition to read (see [`DatabaseSource::open_partition`]).
pub struct PartitionRead<'a> {
    pub source: &'a SourcePlan,
    pub schema: SchemaRef,
    /// The partition's number within the source.
    pub index: usize,
    /// One query, or for a chunked backend one or more chunks read one after another.
    pub queries: Vec<String>,
    pub batch_size: usize,
    /// The id of the source's snapshot ([`SourceSnapshot::id`]), if any.
    pub snapshot: Option<&'a str>,
}

impl PartitionRead<'_> {
    /// The partition's one query; a streaming backend is never given chunks.
    pub fn single_query(&mut self) -> Result<String> {
        match self.queries.len() {
            1 => Ok(self.queries.remove(0)),
            n => Err(DataFusionError::Internal(format!("a streamed partition was given {n} queries, not 1"))),
        }
    }
}

/// What holds a partitioned source's snapshot open; partitions find it by [`Self::id`] (the plan
/// carries only the id). It is held open for as long as any clone of the `Arc` lives.
#[async_trait]
pub trait SourceSnapshot: std::fmt::Debug + Send + Sync {
    fn id(&self) -> &str;

    /// A small result, whole, as of the snapshot (the bounds of a source described in it).
    async fn fetch_all(&self, _sql: &str) -> Result<Vec<RecordBatch>> {
        Err(DataFusionError::Internal(format!("snapshot `{}` runs no queries", self.id())))
    }
}

/// Runs blocking driver work on Tokio's blocking pool.
pub(crate) async fn run_blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        crate::diagnostics::Failure::new(crate::diagnostics::codes::run::INTERNAL, format!("database task failed: {e}"))
            .into_datafusion()
    })?
}
