//! Resolve: all the I/O of planning, done once. A checked plan (what the file says, lowered by
//! `semantic::lower`) becomes a [`ResolvedPipeline`]: table sets expanded into one source per
//! table, large tables partitioned automatically, every source described (schema, partition
//! bounds, the partitions it will read, an incremental source's range, the PostgreSQL snapshot
//! its partitions share) and batch sizes chosen from the described schema.
//!
//! `explain` renders a resolved pipeline, `run` executes it and `verify` compares it with its
//! targets: none of them describes a source that resolving already described, so a run sends
//! each source's schema probe, bounds query and `pg_export_snapshot()` once. `run` resolves
//! each pipeline of a file when its turn comes (`analyze::Discover::InTurn`), after the
//! pipelines before it, which may write its sources: a later pipeline is described once too,
//! as its sources are when it runs, and no snapshot stays open across another pipeline's run.

use std::collections::{BTreeMap, HashMap};

use crate::connect::catalog::TableRead;
use crate::connect::{self, SourceShape};
use crate::diagnostics::{Failure, codes};
use crate::expand::Expanded;
use crate::ledger::watermark::Since;
use crate::plan::{PipelinePlan, Relation, SourcePlan};

/// A pipeline whose sources have been looked at: the plan with its table sets expanded and its
/// automatic partitions and batch sizes chosen, and what describing each source found.
#[derive(Debug, Clone)]
pub struct ResolvedPipeline {
    pub plan: PipelinePlan,
    /// One entry per source of `plan`, by name.
    pub sources: Discovery,
}

impl ResolvedPipeline {
    /// A pipeline resolved without contacting anything (`--offline`): every source is
    /// [`SourceError::offline`].
    pub fn offline(plan: &PipelinePlan) -> Self {
        let sources = plan.sources.iter().map(|s| (s.name.clone(), Err(SourceError::offline()))).collect();
        Self { plan: plan.clone(), sources }
    }

    /// The shapes of the sources that could be described, by source name.
    pub fn shapes(&self) -> HashMap<String, SourceShape> {
        self.sources.iter().filter_map(|(name, shape)| Some((name.clone(), shape.as_ref().ok()?.clone()))).collect()
    }

    /// The shape of source `name`, when it could be described.
    pub fn shape(&self, name: &str) -> Option<&SourceShape> {
        self.sources.get(name).and_then(|s| s.as_ref().ok())
    }
}

/// Source shapes as far as they could be described: a shape, or why not.
pub type Discovery = HashMap<String, Result<SourceShape, SourceError>>;

/// Why a source could not be described, and whether that may change by the time it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// What went wrong, passwords redacted.
    pub message: String,
    pub kind: SourceErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceErrorKind {
    /// The server did not answer ([`connect::connect_error::Reach::NoAnswer`]).
    Unreachable,
    /// The source's file (CSV, Parquet, SQLite) is not there yet; an earlier job may write it.
    Missing,
    /// Not described on purpose (`--offline`).
    Offline,
    /// The server answered and refused the connection: credentials, an unknown database.
    Refused,
    /// The source answered but cannot be read as written: an unknown table or column, a bad
    /// query or partition column.
    Invalid,
}

impl SourceError {
    pub fn offline() -> Self {
        Self { message: "offline (--offline)".into(), kind: SourceErrorKind::Offline }
    }

    /// Classifies a failed description from the error's type and the source's plan: a typed
    /// connection error says whether the server answered; a file source whose path does not
    /// exist is missing.
    fn of(source: &SourcePlan, e: &datafusion::error::DataFusionError) -> Self {
        use connect::connect_error::{ConnectError, Reach};
        let message =
            crate::plan::endpoint::scrub_secret(&crate::diagnostics::strip_df_prefix(e), &source.endpoint.url);
        let kind = match ConnectError::find(e).map(|c| c.reach) {
            Some(Reach::NoAnswer) => SourceErrorKind::Unreachable,
            Some(Reach::Refused) => SourceErrorKind::Refused,
            None if source_file_missing(source) => SourceErrorKind::Missing,
            None => SourceErrorKind::Invalid,
        };
        Self { message, kind }
    }
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A file-backed source (CSV, Parquet, SQLite) whose file or directory does not exist.
fn source_file_missing(source: &SourcePlan) -> bool {
    let database = crate::connect::registry::backend(source.endpoint.backend).source;
    let path = match (&source.relation, database) {
        (Relation::File { path }, _) if source.endpoint.backend.is_file() => path.as_str(),
        (_, Some(db)) => match db.database_file(&source.endpoint) {
            Some(path) => path,
            None => return false,
        },
        _ => return false,
    };
    !std::path::Path::new(path).exists()
}

/// What resolving one pipeline found: the resolved pipeline, and what expanding its table
/// sets found wrong. With expansion errors the pipeline's sources are not described (its
/// `sources` is empty).
#[derive(Debug)]
pub struct Resolution {
    pub pipeline: ResolvedPipeline,
    pub expansion: Expanded,
}

/// Resolves a checked plan, in order: expand its table sets (`crate::expand`, reading the
/// source catalogs, and with them what describing each table of a set would ask its server),
/// partition large tables automatically (`connect::auto_partition`: one catalog query per
/// table source outside a set), describe every source concurrently ([`describe_sources`]) and
/// size the batches of sources without `batch N` (`connect::batch_size::automatic`, which may
/// read the database's statistics). A source outside a set is asked of its server on its own
/// connections, at most [`PLANNING_CONNECTIONS`] sources of one server at a time. `checked` is
/// left as it is.
///
/// Failures are data, not errors: a source that cannot be described is an `Err` in
/// [`ResolvedPipeline::sources`]; a table set that cannot be expanded is in
/// [`Resolution::expansion`].
pub async fn resolve(checked: &PipelinePlan) -> Resolution {
    // Sources of a server whose backend reuses planning sessions (MySQL) are described on one
    // connection per concurrent description rather than one per statement; all close here.
    connect::planning::scope(resolve_in_scope(checked)).await
}

async fn resolve_in_scope(checked: &PipelinePlan) -> Resolution {
    let mut plan = checked.clone();
    let expansion = crate::expand::expand(&mut plan).await;
    if !expansion.errors.is_empty() {
        return Resolution { pipeline: ResolvedPipeline { plan, sources: Discovery::new() }, expansion };
    }
    let known = &expansion.known;
    let parallelism = plan.parallelism;
    let automatic = futures::future::join_all(plan.sources.iter().map(|s| async move {
        let known = known.get(&s.name);
        let _turn = planning_turn(s).await;
        connect::auto_partition(s, parallelism, known).await
    }))
    .await;
    for (index, spec) in automatic.into_iter().enumerate() {
        if let Some(spec) = spec {
            plan.sources[index].partition = Some(spec);
            // A split that would send one key to two partitions of a `keep last by` sink is not
            // worth its speed: the sink could not keep one row per key.
            if splits_kept_keys(&plan, &plan.sources[index].name) {
                plan.sources[index].partition = None;
            }
        }
    }
    let sources = describe_sources(&plan, known).await;
    let sizes = futures::future::join_all(plan.sources.iter().filter(|s| s.batch_automatic).map(|source| {
        let shape = sources.get(&source.name);
        async move {
            let Some(Ok(shape)) = shape else { return None };
            let known = known.get(&source.name);
            let _turn = planning_turn(source).await;
            Some((source.name.clone(), connect::batch_size::automatic(source, &shape.schema, known).await.0))
        }
    }))
    .await;
    let sizes: HashMap<String, usize> = sizes.into_iter().flatten().collect();
    for source in plan.sources.iter_mut() {
        if let Some(size) = sizes.get(&source.name) {
            source.batch_size = *size;
        }
    }
    Resolution { pipeline: ResolvedPipeline { plan, sources }, expansion }
}

/// Whether the partitions of source `source` may send the rows of one key to two partitions of
/// a sink that keeps the last row of each key.
fn splits_kept_keys(plan: &PipelinePlan, source: &str) -> bool {
    let partitions = plan.source(source).and_then(|s| s.partition.as_ref()).map_or(1, |p| p.count);
    plan.sinks_fed_by(source).any(|sink| {
        matches!(&sink.mode, crate::plan::WriteMode::Upsert { keep: Some(_), .. })
            && crate::plan::upsert::key_split(plan, sink, partitions).is_some()
    })
}

/// How many sources of one database server resolving describes at a time (each on connections
/// of its own); `FLOW_PLANNING_CONNECTIONS` sets another bound. A table set's tables are read
/// from its catalog and mostly need none; this bounds the rest (and the large tables of a set,
/// whose bounds and snapshot are read one by one), so that a file of many sources neither
/// exceeds the server's connection limit nor waits on it.
pub const PLANNING_CONNECTIONS: usize = 8;

/// A turn to describe `source` on its server, held while the returned permit lives: one of
/// [`PLANNING_CONNECTIONS`] per server (by URL) in this process; `None` (no turn needed) for a
/// source that is not a database. A table whose set's catalog read described it asks nothing
/// unless it is partitioned or incremental; its turn is short.
async fn planning_turn(source: &SourcePlan) -> Option<tokio::sync::OwnedSemaphorePermit> {
    use std::sync::{Arc, LazyLock, Mutex};
    static SERVERS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>> = LazyLock::new(Default::default);
    crate::connect::registry::backend(source.endpoint.backend).source?;
    if source.endpoint.backend.is_file() {
        return None;
    }
    let semaphore = {
        let mut servers = SERVERS.lock().unwrap_or_else(|e| e.into_inner());
        let bound = std::env::var("FLOW_PLANNING_CONNECTIONS")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(PLANNING_CONNECTIONS);
        Arc::clone(
            servers.entry(source.endpoint.url.clone()).or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(bound))),
        )
    };
    semaphore.acquire_owned().await.ok()
}

/// Describes every source of a pipeline (concurrently, [`PLANNING_CONNECTIONS`] per server at
/// a time); failures are kept, classified. A table of a set whose catalog read described it
/// (`known`, by source name) is not probed again. An incremental source starts where its
/// sinks' ledgers say the last run stopped (from the beginning when they cannot be read: the
/// run reads them again and says so).
pub async fn describe_sources(plan: &PipelinePlan, known: &HashMap<String, TableRead>) -> Discovery {
    let marks = incremental_marks(plan).await.unwrap_or_default();
    let marks = &marks;
    let futures = plan.sources.iter().map(|s| async move {
        let since = marks.get(&s.name).cloned().unwrap_or(Since::FirstRun);
        let known = known.get(&s.name);
        let _turn = planning_turn(s).await;
        let shape =
            connect::describe_known(s, plan.parallelism, &since, known).await.map_err(|e| SourceError::of(s, &e));
        (s.name.clone(), shape)
    });
    futures::future::join_all(futures).await.into_iter().collect()
}

/// Where each incremental source's previous run stopped, from its sinks' ledgers; nothing to
/// read when no source is incremental. A ledger that cannot be read, or sinks whose ledgers
/// disagree, are `flow::run::ledger` failures.
async fn incremental_marks(plan: &PipelinePlan) -> Result<BTreeMap<String, Since>, Failure> {
    if !plan.sources.iter().any(|s| s.incremental.is_some()) {
        return Ok(BTreeMap::new());
    }
    let histories = crate::connect::sink::read_ledgers(plan, "").await?;
    crate::ledger::watermark::since_marks(plan, &histories).map_err(|e| Failure::new(codes::run::LEDGER, e.to_string()))
}

/// True when `shape` was described reading from `since`: a shape described before a run may
/// serve the run only if the ledgers still say the same about where the last run stopped.
pub fn described_since(shape: &SourceShape, since: &Since) -> bool {
    let previous = shape.watermark.as_ref().and_then(|w| w.previous.as_ref());
    match since {
        Since::FirstRun => previous.is_none(),
        Since::Mark(mark) => previous == Some(mark),
    }
}
