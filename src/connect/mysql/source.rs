//! The MySQL/MariaDB source side: one partition read as a stream of Arrow batches through the
//! native reader ([`super::reader`]), and the snapshot a partitioned source's connections share.
//!
//! * [`stream_partition`] runs one query on the blocking pool, on a connection of a
//!   [`SharedSnapshot`] or a session of its own. The binary protocol streams, so a partition is one
//!   query, however large. Its SQL carries a comment unique to the stream
//!   (`/* flow-read PID-N */`); dropping the stream before its end (a stage timeout, Ctrl-C, a
//!   failure elsewhere) stops the statement on the server with `KILL QUERY` from a second
//!   connection, because the driver cannot interrupt a running statement from the client side.
//! * [`SharedSnapshot`] holds one connection per partition, all in consistent-snapshot
//!   transactions started together ([`super::session::consistent_connections`]). The plan carries
//!   only its id (plain data); [`SharedSnapshot::take_connection`] finds it again through a
//!   process-wide registry when a partition starts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use mysql::Conn;

use super::reader;
use super::session::{self, SnapshotKind};
use super::types::Tinyint1;
use crate::connect::blocking::blocking_stream;
use crate::connect::cancel::Pending;
use crate::connect::planning;
use crate::connect::source::{BadUrl, DatabaseSource, PartitionRead, SourceSnapshot, run_blocking};
use crate::connect::sql_log::{self, StatementKind};
use crate::plan::sql::Dialect;
use crate::plan::{SourcePlan, TableName};

/// MySQL/MariaDB as a source (see [`DatabaseSource`]).
pub struct MysqlSource;

#[async_trait]
impl DatabaseSource for MysqlSource {
    /// The options `connect` builds from the URL (`ssl-mode` and the `mysql` crate's own
    /// parameters, which it refuses when unknown).
    fn check_url(&self, url: &str) -> std::result::Result<(), BadUrl> {
        super::session::parse_opts(url).map(drop)
    }

    async fn probe(&self, source: &SourcePlan, probe: &str) -> Result<(SchemaRef, Vec<String>)> {
        let (url, sql) = (source.endpoint.url.clone(), probe.to_string());
        let tinyint1 = Tinyint1::of(&source.endpoint);
        let sessions = planning::current();
        let schema = run_blocking(move || {
            on_planning_session(sessions.as_deref(), &url, |conn| {
                sql_log::record("mysql", StatementKind::Prepare, &sql);
                reader::query_schema(conn, &sql, tinyint1)
            })
        });
        Ok((schema.await?, Vec::new()))
    }

    async fn fetch_small(&self, source: &SourcePlan, sql: &str) -> Result<Vec<RecordBatch>> {
        let (url, sql) = (source.endpoint.url.clone(), sql.to_string());
        let sessions = planning::current();
        run_blocking(move || on_planning_session(sessions.as_deref(), &url, |conn| fetch_all_on(conn, &sql))).await
    }

    /// Taken by a run only, so that `explain` takes no lock; the first and last ranges are open,
    /// so rows added between describing and the run are read all the same.
    async fn hold_snapshot(
        &self,
        source: &SourcePlan,
        partitions: usize,
    ) -> Result<Option<(Arc<dyn SourceSnapshot>, Option<String>)>> {
        let url = source.endpoint.url.clone();
        let snapshot = run_blocking(move || SharedSnapshot::take(&url, partitions)).await?;
        let note = (snapshot.kind == SnapshotKind::PerPartition)
            .then(|| format!("source `{}`: {}", source.name, snapshot.kind.note()));
        Ok(Some((snapshot, note)))
    }

    /// `explain` takes no lock itself: it says what the run will do.
    fn run_snapshot_note(&self) -> Option<&'static str> {
        Some(
            "partitions read one snapshot: Flow takes FLUSH TABLES WITH READ LOCK for a moment while each partition \
             connection starts a consistent-snapshot transaction (needs the RELOAD privilege; without it partitions \
             are read at different moments, as the run report will say)",
        )
    }

    fn auto_partition_sql(&self, table: &TableName) -> Option<String> {
        let dialect = Dialect::Mysql;
        let schema = match table.schema() {
            Some(s) => dialect.string(s),
            None => "DATABASE()".to_string(),
        };
        Some(format!(
            "SELECT MAX(k.COLUMN_NAME) AS k, COUNT(*) AS n, MAX(t.TABLE_ROWS) AS r, MAX(c.DATA_TYPE) AS t \
             FROM information_schema.KEY_COLUMN_USAGE k \
             JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = k.TABLE_SCHEMA AND t.TABLE_NAME = k.TABLE_NAME \
             JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME \
               AND c.COLUMN_NAME = k.COLUMN_NAME \
             WHERE k.TABLE_SCHEMA = {schema} AND k.TABLE_NAME = {} AND k.CONSTRAINT_NAME = 'PRIMARY'",
            dialect.string(table.table())
        ))
    }

    fn row_estimate_sql(&self, table: &TableName, _only: bool) -> Option<String> {
        let dialect = Dialect::Mysql;
        let schema = table.schema().map_or_else(|| "DATABASE()".to_string(), |s| dialect.string(s));
        Some(format!(
            "SELECT TABLE_ROWS AS r FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
            dialect.string(table.table())
        ))
    }

    fn row_width_sql(&self, table: &TableName, _only: bool) -> Option<String> {
        let dialect = Dialect::Mysql;
        let schema = table.schema().map_or_else(|| "DATABASE()".to_string(), |s| dialect.string(s));
        Some(format!(
            "SELECT CAST(AVG_ROW_LENGTH AS SIGNED) AS w, 1 AS n FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
            dialect.string(table.table())
        ))
    }

    fn open_partition(&self, mut read: PartitionRead<'_>) -> Result<SendableRecordBatchStream> {
        let sql = read.single_query()?;
        // The partition's connection of the shared snapshot; a plan executed again (or a
        // partition beyond the snapshot's) reads on a session of its own.
        let conn = read.snapshot.and_then(|id| SharedSnapshot::take_connection(id, read.index));
        Ok(stream_partition(read.source.endpoint.url.clone(), sql, read.schema, read.batch_size, conn))
    }
}

/// Connections of a partitioned MySQL source that all read one instant (or, without the
/// `RELOAD` privilege, each its own: see `kind`). Partition `i` takes connection `i` once; the
/// connections left untaken close when the last clone of the holder is dropped (the run's end),
/// ending their transactions.
pub struct SharedSnapshot {
    pub id: String,
    pub kind: SnapshotKind,
    connections: Mutex<Vec<Option<Conn>>>,
}

impl std::fmt::Debug for SharedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSnapshot").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// Live snapshots by id, so that a partition that knows only the id finds its connection.
static REGISTRY: LazyLock<Mutex<HashMap<String, Weak<SharedSnapshot>>>> = LazyLock::new(Default::default);
static NEXT_SNAPSHOT: AtomicU64 = AtomicU64::new(1);

impl SharedSnapshot {
    /// Opens `partitions` connections on `url` that read one snapshot (blocking: run it on the
    /// blocking pool). Takes `FLUSH TABLES WITH READ LOCK` for a moment; see
    /// [`session::consistent_connections`].
    pub fn take(url: &str, partitions: usize) -> Result<Arc<Self>> {
        let (conns, kind) = session::consistent_connections(url, partitions)?;
        let id = format!("mysql-{}-{}", std::process::id(), NEXT_SNAPSHOT.fetch_add(1, Ordering::Relaxed));
        let snapshot =
            Arc::new(Self { id: id.clone(), kind, connections: Mutex::new(conns.into_iter().map(Some).collect()) });
        registry().insert(id, Arc::downgrade(&snapshot));
        Ok(snapshot)
    }

    /// Connection `index` of the live snapshot `id`, unless it was taken already (a plan executed
    /// twice) or the snapshot is gone: the caller then opens a session of its own.
    pub fn take_connection(id: &str, index: usize) -> Option<Conn> {
        let snapshot = registry().get(id).and_then(Weak::upgrade)?;
        let mut connections = snapshot.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.get_mut(index).and_then(Option::take)
    }
}

#[async_trait]
impl SourceSnapshot for SharedSnapshot {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for SharedSnapshot {
    fn drop(&mut self) {
        registry().remove(&self.id);
    }
}

fn registry() -> std::sync::MutexGuard<'static, HashMap<String, Weak<SharedSnapshot>>> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Streams the rows of `sql` as batches of `batch_size`, typed by `schema`, on `conn` (a
/// [`SharedSnapshot`] connection) or, when `None`, a new session on `url`.
pub fn stream_partition(
    url: String,
    sql: String,
    schema: SchemaRef,
    batch_size: usize,
    conn: Option<Conn>,
) -> SendableRecordBatchStream {
    let tag = read_tag();
    let sql = format!("{tag} {sql}");
    sql_log::record("mysql", StatementKind::Copy, &sql);
    let done = Arc::new(AtomicBool::new(false));
    let guard = KillOnDrop::new(&url, &tag, Arc::clone(&done));
    let producer_schema = Arc::clone(&schema);
    let batches = blocking_stream(Arc::clone(&schema), move |sender| {
        let _done = SetOnDrop(done);
        let mut conn = match conn {
            Some(conn) => conn,
            None => session::open_session(&url)?,
        };
        // Gone while connecting: start nothing the kill could miss.
        if sender.is_closed() {
            return Ok(());
        }
        reader::stream_query(&mut conn, &sql, &producer_schema, batch_size, &mut |batch| sender.send(batch))
    });
    let guarded = futures::stream::unfold(Some((batches, guard)), |state| async move {
        let (mut batches, mut guard) = state?;
        match futures::StreamExt::next(&mut batches).await {
            Some(Ok(batch)) => Some((Ok(batch), Some((batches, guard)))),
            // The statement ended (failed, or every row was read): nothing is left to stop.
            Some(Err(e)) => {
                guard.disarm();
                Some((Err(e), None))
            }
            None => {
                guard.disarm();
                None
            }
        }
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, guarded))
}

/// A comment unique to one read within this process, put in front of its SQL so that the
/// statement can be found in the process list and stopped.
pub fn read_tag() -> String {
    static NEXT_TAG: AtomicU64 = AtomicU64::new(1);
    format!("/* flow-read {}-{} */", std::process::id(), NEXT_TAG.fetch_add(1, Ordering::Relaxed))
}

/// Sets the flag when the producer ends, however it ends.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// How long a dropped stream keeps trying to stop its statement on the server.
const KILL_PATIENCE: Duration = Duration::from_secs(5);
/// Bound for connecting to send `KILL QUERY`.
const KILL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Held by a MySQL stream: dropped before the stream ended, it stops the stream's statement on the
/// server with `KILL QUERY`, from a new connection on a thread of its own, until the producer
/// has stopped. The run waits for that work through `connect::cancel`.
struct KillOnDrop {
    url: String,
    tag: String,
    producer_done: Arc<AtomicBool>,
    pending: Option<Pending>,
}

impl KillOnDrop {
    fn new(url: &str, tag: &str, producer_done: Arc<AtomicBool>) -> Self {
        Self { url: url.to_string(), tag: tag.to_string(), producer_done, pending: Some(Pending::new()) }
    }

    fn disarm(&mut self) {
        self.pending = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Some(pending) = self.pending.take() else { return };
        if self.producer_done.load(Ordering::SeqCst) {
            return;
        }
        let (url, tag, done) = (self.url.clone(), self.tag.clone(), Arc::clone(&self.producer_done));
        let _ = std::thread::Builder::new().name("flow-mysql-kill".to_string()).spawn(move || {
            kill_until_stopped(&url, &tag, &done);
            drop(pending);
        });
    }
}

/// Kills the tagged statement until the producer has stopped (a statement it was about to send
/// when the stream was dropped is caught on a later round), for at most [`KILL_PATIENCE`].
fn kill_until_stopped(url: &str, tag: &str, producer_done: &AtomicBool) {
    let start = Instant::now();
    let Ok(opts) = session::opts_from_url(url) else { return };
    let opts = mysql::OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(KILL_CONNECT_TIMEOUT));
    let Ok(mut conn) = Conn::new(opts) else { return };
    while start.elapsed() < KILL_PATIENCE {
        let _ = super::kill_queries_tagged(&mut conn, tag);
        if producer_done.load(Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `work` (blocking) on a session of `url`: while resolving, an idle session of the
/// planning scope (`connect::planning`: a source's schema probe, bounds, row estimate, row
/// width and primary key then share one connection), given back when `work` succeeded; else a
/// session of its own. Each statement runs on its own (autocommit), so the session that runs
/// it changes nothing of its answer; a session whose statement failed is closed.
fn on_planning_session<T>(
    sessions: Option<&planning::PlanningSessions>,
    url: &str,
    work: impl FnOnce(&mut Conn) -> Result<T>,
) -> Result<T> {
    // A kept session the server has closed meanwhile (`wait_timeout`) is replaced, not used.
    let kept = sessions.and_then(|s| s.take::<Conn>(url)).and_then(|mut conn| conn.ping().is_ok().then_some(conn));
    let mut conn = match kept {
        Some(conn) => conn,
        None => session::open_session(url)?,
    };
    let result = work(&mut conn);
    if let (Ok(_), Some(sessions)) = (&result, sessions) {
        sessions.give(url, conn);
    }
    result
}

/// A small query's whole result (blocking) on `conn`: bounds, counts. An empty result gives
/// one empty batch that carries the schema.
fn fetch_all_on(conn: &mut Conn, sql: &str) -> Result<Vec<RecordBatch>> {
    sql_log::record("mysql", StatementKind::Query, sql);
    let schema = reader::query_schema(conn, sql, Tinyint1::default())?;
    let mut batches = Vec::new();
    reader::stream_query(conn, sql, &schema, 8192, &mut |batch| {
        batches.push(batch);
        true
    })?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}
