//! Runs one resolved pipeline: read the sinks' ledgers (to resume, or to clean up earlier runs),
//! take the sources' shapes from resolving (describing again only a source that could not be
//! described then, or whose incremental range the ledgers now place elsewhere), build the
//! physical graph, prepare the sinks (a few at a time), execute every sink partition
//! still to do concurrently (at most `parallelism` at a time) under the stage and pipeline
//! timeouts and Ctrl-C, then publish every sink (a few at a time when their targets differ).
//! A failure publishes nothing; what was committed stays for `--resume`. The sinks' steps
//! share the run's connections to each PostgreSQL target (`connect::sink::hold_sessions`).
//!
//! A run that fails ends with one [`Failure`]: the code and location the failing stage gave it
//! (or the runner's own code, for a timeout, Ctrl-C or the ledgers), the stage and partition
//! filled in where the stage left them unset, and the message prefixed with what the runner
//! was doing (`sink `out` partition 2: ...`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::engine::PartitionEngine;
use super::graph;
use super::metrics::{StageKind, StageMetrics, StageTimeout};
use super::progress::events::EventLog;
use super::progress::{Board, Progress, ProgressMode};
use super::report::RunReport;
use super::sink_exec::SinkExec;
use crate::connect::connect_error::failure_of;
use crate::connect::sink::{SinkDriver, driver_for};
use crate::connect::{self, ScanPartition};
use crate::diagnostics::{Failure, Remedy, codes};
use crate::ledger::watermark::{PublishDetail, Since, Watermark};
use crate::ledger::{self, Event, Layout, LedgerKey, LedgerRow, Preparation, Resume, SinkRunState};
use crate::plan::PipelinePlan;
use crate::plan::duration::format_duration;
use crate::resolve::{self, ResolvedPipeline};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub progress: ProgressMode,
    /// Holds what made the user stop the run (`"Ctrl-C"`, `"SIGTERM"`) once they do; the run
    /// then fails with `flow::run::interrupted` naming it. `None` never interrupts.
    pub interrupt: Option<tokio::sync::watch::Receiver<Option<&'static str>>>,
    /// Continue the pipeline's last unfinished run instead of starting a new one.
    pub resume: bool,
    /// What a failed run's error tells people to do, in the terms of the command that was run.
    pub hints: RunHints,
    /// Where the sink partitions run: `None` in this process, else on that engine (a Ballista
    /// cluster, `crate::cluster`). Everything before and after writing stays here.
    pub engine: Option<Arc<dyn PartitionEngine>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { progress: ProgressMode::Quiet, interrupt: None, resume: false, hints: RunHints::default(), engine: None }
    }
}

/// What the error of a failed run tells people to do; the words depend on the command that was
/// run (`flow run FILE` or `flow copy`).
#[derive(Debug, Clone)]
pub struct RunHints {
    /// The command that continues an interrupted run (e.g. ``flow run orders.flow --resume``).
    pub resume: String,
    /// How to load the other rows when the target refuses one ([`Remedy::OnError`]).
    pub on_error: String,
    /// How to keep the last row of each key, for an upsert whose input repeats keys
    /// ([`Remedy::KeepLast`]).
    pub keep_last: String,
}

impl Default for RunHints {
    /// The words of `flow run FILE`: options of the `.flow` file.
    fn default() -> Self {
        Self {
            resume: "`flow run FILE --resume`".to_string(),
            on_error: "add `on error skip` or `on error reject to db.table(\"rejects\")` to load the other rows"
                .to_string(),
            keep_last: "add `keep last by COLUMN` after the keys to write the last row of each key".to_string(),
        }
    }
}

impl RunHints {
    /// What gets past `remedy`, in these words.
    fn remedy(&self, remedy: Remedy) -> &str {
        match remedy {
            Remedy::OnError => &self.on_error,
            Remedy::KeepLast => &self.keep_last,
        }
    }
}

/// What the run learned about itself on the way: its id (a resume takes the earlier run's) and
/// how many sink partitions an earlier attempt had already committed.
#[derive(Debug, Clone, Default)]
pub struct RunIdentity {
    pub run_id: String,
    pub resumed: bool,
    pub partitions_skipped: usize,
    /// `--resume` found the last run finished: nothing was done.
    pub already_complete: bool,
    /// Some sink recorded this run's start: a failure from here on leaves a resumable run.
    pub started: bool,
    /// Every partition was written and the sinks were publishing: a failure now is the
    /// target's refusal to publish (a view or a foreign key in the way, a duplicate key), which
    /// a resume repeats until its cause is fixed.
    pub publishing: bool,
    /// Lines for the run report about how the sources were read (see `RunReport::notes`).
    pub notes: Vec<String>,
    /// The range each incremental source read in this run.
    pub watermarks: BTreeMap<String, Watermark>,
}

/// Runs a resolved pipeline to completion. The report comes back whether the run succeeded or
/// not; a failed run has `status: failed`, the reason in `error` and its code and location in
/// `failure`.
pub async fn run_pipeline(resolved: &ResolvedPipeline, options: &RunOptions) -> RunReport {
    let plan = &resolved.plan;
    let run_start = Instant::now();
    let mut identity = RunIdentity { run_id: new_run_id(), ..RunIdentity::default() };
    let mut metrics: Vec<Arc<StageMetrics>> = Vec::new();
    let events = (options.progress == ProgressMode::Json).then(|| EventLog::stderr(&plan.name));
    let outcome = run_inner(resolved, options, &mut identity, run_start, &mut metrics, events.clone()).await;
    let failure = outcome.err().map(|f| {
        let message = scrub_all(plan, &f.message);
        f.reworded(message)
    });
    let mut report = RunReport::build(plan, &identity.run_id, &metrics, run_start.elapsed().as_secs_f64(), failure);
    report.resumed = identity.resumed;
    report.partitions_skipped = identity.partitions_skipped;
    report.already_complete = identity.already_complete;
    report.notes = identity.notes;
    report.watermarks = identity.watermarks;
    if let Some(events) = events {
        events.finish(&report, &metrics);
    }
    report
}

fn scrub_all(plan: &PipelinePlan, message: &str) -> String {
    plan.scrub_secrets(message)
}

/// A fingerprint of what the plan reads and writes, with every URL's password removed first.
/// What Flow chose from the source's size (batch sizes, automatic partitioning) is left out: it
/// may differ between an interrupted run and its resume, which reads the recorded partitions.
pub fn plan_fingerprint(plan: &PipelinePlan) -> String {
    let mut plan = plan.clone();
    for source in &mut plan.sources {
        source.batch_size = 0;
        source.batch_automatic = false;
        source.partition = source.partition.take().filter(|p| !p.automatic);
    }
    let json = serde_json::to_string(&plan).unwrap_or_default();
    ledger::fingerprint(&scrub_all(&plan, &json))
}

async fn run_inner(
    resolved: &ResolvedPipeline,
    options: &RunOptions,
    identity: &mut RunIdentity,
    run_start: Instant,
    metrics_out: &mut Vec<Arc<StageMetrics>>,
    events: Option<Arc<EventLog>>,
) -> Result<(), Failure> {
    let plan = &resolved.plan;
    // One connection to each SQLite file the sinks write, from the ledger reads to the end.
    let shared = connect::sink::hold_shared(plan);
    // Connections to the PostgreSQL targets, shared by the sinks' steps until the run ends.
    let sessions = connect::sink::hold_sessions(plan, &identity.run_id);
    // Everything below, including describing sources, counts against the pipeline timeout.
    let deadline = plan.timeout.map(|t| tokio::time::Instant::now() + t);
    let work = async {
        if let Some(engine) = &options.engine {
            // Before any ledger is read or staging area written: a cluster that cannot take the
            // work must leave nothing behind.
            identity.notes.push(format!("sink partitions ran on {}", engine.ready().await?));
        }
        let histories = super::status::read_ledgers(plan, &identity.run_id).await?;
        tracing::debug!("run: read {} ledgers at {:.2?}", plan.sinks.len(), run_start.elapsed());
        let marks = crate::ledger::watermark::since_marks(plan, &histories);
        let fingerprint = plan_fingerprint(plan);
        let resume = match options.resume.then(|| ledger::resume_point(&plan.name, &histories, &fingerprint)) {
            Some(Ok(Resume::Continue(point))) => Some(point),
            Some(Ok(Resume::Finished { run_id })) => {
                identity.run_id = run_id;
                identity.already_complete = true;
                return Ok(());
            }
            Some(Err(e)) => return Err(Failure::new(codes::run::LEDGER, e)),
            Some(Ok(Resume::NothingRecorded)) => {
                // Said, because a sink's ledger name follows the file (`INPUT->TABLE`): an edit
                // that renames a sink leaves the old run unfinished under the old name.
                identity.notes.push(
                    "--resume found no earlier run of these sinks (a sink renamed by an edit of the file starts \
                     afresh): this run reads everything"
                        .to_string(),
                );
                None
            }
            None => None,
        };
        // A resumed run reads the range recorded at its start, so marks need not agree now.
        let marks = match (&resume, marks) {
            (_, Ok(marks)) => marks,
            (Some(_), Err(_)) => BTreeMap::new(),
            (None, Err(e)) => return Err(Failure::new(codes::run::LEDGER, e.message(&options.hints.resume))),
        };
        let cluster = options.engine.is_some();
        let mut shapes = source_shapes(resolved, &marks, &mut identity.notes, cluster).await?;
        if options.engine.is_some() {
            refuse_split_upserts(plan, &shapes)?;
        }
        if let Some(point) = &resume {
            identity.run_id = point.run_id.clone();
            for pool in &sessions {
                pool.answer_to(&point.run_id);
            }
            identity.resumed = true;
            identity.started = true;
            // Read exactly what the interrupted run read, even if the source has grown since.
            for (name, shape) in shapes.iter_mut() {
                // A source none of whose sinks started in that run committed nothing: read afresh.
                let Some(partitions) = point.layout.sources.get(name) else { continue };
                shape.partitions = partitions.clone();
                if let Some(watermark) = point.layout.watermarks.get(name) {
                    shape.watermark = Some(watermark.clone());
                }
            }
        }
        let run_id = identity.run_id.clone();
        let layout = Layout {
            fingerprint,
            sources: shapes.iter().map(|(name, shape)| (name.clone(), shape.partitions.clone())).collect(),
            watermarks: shapes
                .iter()
                .filter_map(|(name, shape)| Some((name.clone(), shape.watermark.clone()?)))
                .collect(),
        };
        identity.watermarks = layout.watermarks.clone();
        let source_of = plan.source_of_sinks();
        let graph = graph::build(plan, &shapes, run_start, false).await.map_err(|e| {
            let failure = failure_of(&e, codes::plan::FAILED);
            match graph::failed_transform(&e) {
                Some(stage) => Failure { stage: Some(stage), ..failure },
                None => failure,
            }
        })?;
        metrics_out.extend(graph.metrics.iter().cloned());
        let mut sinks: Vec<SinkEntry> = Vec::new();
        for (index, (sink, input, m)) in graph.sinks.iter().enumerate() {
            let key = LedgerKey { run_id: run_id.clone(), pipeline: plan.name.clone(), sink: sink.name.clone() };
            let partitions = input.properties().partitioning.partition_count();
            let driver = driver_for(sink, input.schema(), key.clone())
                .map_err(|e| sink_failure(&sink.name, &e, codes::run::FAILED))?;
            let earlier = resume.as_ref().and_then(|p| p.sinks[index].clone());
            let (abandon, last_published) = match &resume {
                Some(_) => (Vec::new(), None),
                None => ledger::cleanup_for_fresh_run(&histories[index]),
            };
            // Its own source's part of the layout: N sinks holding (and recording) the whole
            // layout of N sources grew as N squared.
            let own = source_of.get(sink.name.as_str()).map(|source| layout.of_source(&source.name));
            let layout_json = serde_json::to_string(own.as_ref().unwrap_or(&layout))
                .map_err(|e| Failure::new(codes::run::INTERNAL, e.to_string()))?;
            let prep = Preparation {
                start: key.row(Event::Start, -1, &layout_json, partitions as u64, ""),
                resume_rows: earlier.as_ref().map(SinkRunState::committed_rows),
                abandon,
                last_published,
            };
            m.set_partitions(partitions);
            let details = partition_details(plan, &shapes, &sink.input, partitions);
            let exec =
                Arc::new(SinkExec::new(sink.clone(), &run_id, details, input.clone(), driver.clone(), m.clone()));
            sinks.push(SinkEntry {
                driver,
                exec,
                metrics: m.clone(),
                timeout: sink.timeout,
                name: sink.name.clone(),
                prep,
                committed: earlier.clone().unwrap_or_default().committed,
                published: earlier.is_some_and(|s| s.published),
            });
        }
        tracing::debug!("run: built the graph at {:.2?}", run_start.elapsed());
        // A table set's tables in one SQLite file prepare, and publish, in groups of commits
        // (`connect::sqlite::shared::Group`); what a failed step leaves out, the group still
        // commits the steps before it, as separate commits would have.
        let group = connect::sink::group_shared(plan, &shared, false);
        let prepared = prepare_sinks(&mut sinks, &mut identity.started).await;
        let finished = connect::sink::finish_groups(group).await;
        prepared?;
        finished?;
        tracing::debug!("run: prepared {} sinks at {:.2?}", sinks.len(), run_start.elapsed());
        let board = Board::new(plan, &shapes, &graph.metrics, table_stages(plan, &graph));
        let progress = Progress::start(board, options.progress, events);
        // The progress display stays up through the publish phase, which shows as
        // "publishing" on each sink's line; it is taken down when `progress` drops.
        let result = match &options.engine {
            None => {
                let result = execute(plan, &graph, &sinks).await;
                for sink in &sinks {
                    sink.metrics.set_refused(sink.driver.refused());
                }
                result
            }
            Some(engine) => super::remote::execute_remote(engine.as_ref(), &sinks, &graph.metrics).await,
        };
        identity.partitions_skipped = sinks.iter().map(|s| s.committed.len()).sum();
        result?;
        tracing::debug!("run: wrote every partition at {:.2?}", run_start.elapsed());
        identity.publishing = true;
        let group = connect::sink::group_shared(plan, &shared, true);
        let published = publish_sinks(plan, &layout, &sinks).await;
        let finished = connect::sink::finish_groups(group).await;
        published?;
        finished?;
        identity.publishing = false;
        tracing::debug!("run: published at {:.2?}", run_start.elapsed());
        for step in &plan.foreign_keys {
            connect::foreign_keys::add(step)
                .await
                .map_err(|e| claimed(failure_of(&e, codes::sink::WRITE_FAILED), "", &step.sink, None))?;
        }
        tracing::debug!("run: added foreign keys at {:.2?}", run_start.elapsed());
        progress.finish();
        Ok(())
    };
    let interrupted = async {
        let cause = match options.interrupt.clone() {
            Some(mut stop) => stop.wait_for(Option::is_some).await.ok().and_then(|cause| *cause),
            None => None,
        };
        // No interrupt, or its sender gone without one: never.
        match cause {
            Some(cause) => cause,
            None => std::future::pending().await,
        }
    };
    let timed_out = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    // Dropping `work` drops its JoinSet, which aborts every partition task: each rolls back its
    // open transaction. Committed partitions stay in the staging area for `--resume`.
    let outcome = tokio::select! {
        r = work => r,
        cause = interrupted => {
            Err(Failure::new(codes::run::INTERRUPTED, format!("interrupted by {cause}; nothing was published")))
        }
        _ = timed_out => Err(Failure::new(codes::run::TIMEOUT, format!(
            "pipeline `{}` exceeded its timeout of {}; nothing was published",
            plan.name,
            plan.timeout.map(format_duration).unwrap_or_default()
        ))),
    };
    outcome.map_err(|f| {
        let mut message = f.message.clone();
        if let Some(remedy) = f.remedy {
            message = format!("{message}; {}", options.hints.remedy(remedy));
        }
        // Once a sink recorded the run's start, a failure leaves a run that can be continued.
        if identity.publishing {
            message = format!(
                "{message}; every partition is staged and kept: once the cause is fixed, {} publishes them without \
                 reading the sources again",
                options.hints.resume
            );
        } else if identity.started {
            message = format!(
                "{message}; the partitions committed so far are kept: {} continues this run",
                options.hints.resume
            );
        }
        f.reworded(message)
    })
}

/// `found` as a failure of `stage`: its message after `prefix`, and located in `stage` (with
/// `partition`, when known) unless a stage it passed through first already claimed it.
fn claimed(found: Failure, prefix: &str, stage: &str, partition: Option<usize>) -> Failure {
    let message = format!("{prefix}{}", found.message);
    match (&found.stage, partition) {
        (Some(_), _) => found.reworded(message),
        (None, Some(p)) => found.reworded(message).at(stage, p),
        (None, None) => Failure { stage: Some(stage.to_string()), ..found.reworded(message) },
    }
}

/// What sink `sink` failed at outside its partitions (its driver, preparing, publishing):
/// `sink `out`: REASON`, with `fallback` as the code when the error carries none.
fn sink_failure(sink: &str, e: &DataFusionError, fallback: &'static str) -> Failure {
    claimed(failure_of(e, fallback), &format!("sink `{sink}`: "), sink, None)
}

/// Each table of the pipeline's table sets with the metrics of the sinks that write it.
fn table_stages(plan: &PipelinePlan, graph: &graph::PipelineGraph) -> super::progress::TableStages {
    let source_of = plan.source_of_sinks();
    let mut fed: HashMap<&str, Vec<&str>> = HashMap::new();
    for sink in &plan.sinks {
        if let Some(source) = source_of.get(sink.name.as_str()) {
            fed.entry(source.name.as_str()).or_default().push(sink.name.as_str());
        }
    }
    plan.table_set_members()
        .map(|source| {
            let sinks = fed.get(source.name.as_str()).into_iter().flatten();
            (source.name.clone(), sinks.filter_map(|sink| graph.stage(sink).cloned()).collect())
        })
        .collect()
}

/// What partition `p` of a sink reads, from the shape of the source its input comes from.
fn partition_details(
    plan: &PipelinePlan,
    shapes: &HashMap<String, connect::SourceShape>,
    stage: &str,
    partitions: usize,
) -> Vec<String> {
    let scans = plan.lineage(stage).and_then(|(source, _)| shapes.get(&source.name)).map(|s| &s.partitions);
    (0..partitions)
        .map(|p| match scans.and_then(|s| s.get(p)) {
            Some(ScanPartition::Rows { start, end }) => format!("rows [{start}, {end})"),
            Some(ScanPartition::File { path }) => path.clone(),
            Some(ScanPartition::Query { predicate: Some(p), .. }) => p.clone(),
            Some(ScanPartition::Query { predicate: None, .. }) => "all rows".to_string(),
            None => format!("partition {p}"),
        })
        .collect()
}

/// Every source's shape for this run, and the snapshot its partitions share: the shape
/// resolving described when there is one and the ledgers still agree on its incremental range,
/// else described now. `notes` gets what the run report should say about how the sources are
/// read (partitions of a MySQL source read at different moments, when the user may not lock or
/// the run is on a `cluster`).
async fn source_shapes(
    resolved: &ResolvedPipeline,
    marks: &BTreeMap<String, Since>,
    notes: &mut Vec<String>,
    cluster: bool,
) -> Result<HashMap<String, connect::SourceShape>, Failure> {
    let plan = &resolved.plan;
    let futures = plan.sources.iter().map(|s| async move {
        let since = marks.get(&s.name).cloned().unwrap_or(Since::FirstRun);
        let failed = |e: DataFusionError| {
            let prefix = format!("source `{}` ({} {}): ", s.name, s.endpoint.backend.name(), s.endpoint.redacted());
            claimed(failure_of(&e, codes::source::INVALID), &prefix, &s.name, None)
        };
        let mut shape = match resolved.shape(&s.name).filter(|shape| resolve::described_since(shape, &since)) {
            Some(shape) => shape.clone(),
            None => connect::describe(s, plan.parallelism, &since).await.map_err(failed)?,
        };
        let note = connect::hold_snapshot(s, &mut shape, cluster).await.map_err(failed)?;
        Ok::<_, Failure>((s.name.clone(), shape, note))
    });
    let described = futures::future::try_join_all(futures).await?;
    notes.extend(described.iter().filter_map(|(_, _, note)| note.clone()));
    Ok(described.into_iter().map(|(name, shape, _)| (name, shape)).collect())
}

/// On a cluster each partition is written by its own task, which sees only its own rows: an
/// upsert whose keys may span partitions could neither refuse a repeated key nor keep the last
/// row of one (locally the sink sees every partition), so it is refused before anything runs.
fn refuse_split_upserts(plan: &PipelinePlan, shapes: &HashMap<String, connect::SourceShape>) -> Result<(), Failure> {
    for sink in &plan.sinks {
        let partitions =
            plan.lineage(&sink.input).and_then(|(s, _)| shapes.get(&s.name)).map_or(1, |s| s.partitions.len());
        if let Some(reason) = crate::plan::upsert::key_split(plan, sink, partitions) {
            let message = format!(
                "sink `{}`: an upsert on a cluster needs each key's rows in one partition, and {reason}; partition the \
                 source by a key column, or run without --engine",
                sink.name
            );
            return Err(Failure {
                stage: Some(sink.name.clone()),
                ..Failure::new(codes::cluster::UPSERT_SPLIT, message)
            });
        }
    }
    Ok(())
}

/// A sink ready to run: its driver, its plan, counters, timeout, name, what `prepare` is told,
/// and what an earlier attempt of this run already committed.
#[derive(Clone)]
pub(super) struct SinkEntry {
    pub(super) driver: Arc<dyn SinkDriver>,
    pub(super) exec: Arc<SinkExec>,
    pub(super) metrics: Arc<StageMetrics>,
    timeout: Option<Duration>,
    pub(super) name: String,
    pub(super) prep: Preparation,
    committed: BTreeMap<usize, (u64, String)>,
    pub(super) published: bool,
}

impl SinkEntry {
    pub(super) fn needs(&self, partition: usize) -> bool {
        !self.published && partition < self.exec.partitions() && !self.committed.contains_key(&partition)
    }
}

/// Cleans up earlier runs and starts (or checks) each unpublished sink's staging area,
/// [`connect::sink::SINK_STEPS`] sinks at a time. Errors with the first sink (in plan order)
/// that failed; `started` is set once any sink has started.
async fn prepare_sinks(sinks: &mut [SinkEntry], started: &mut bool) -> Result<(), Failure> {
    use futures::StreamExt;
    let steps = sinks.iter().enumerate().filter(|(_, s)| !s.published).map(|(i, sink)| async move {
        let kept = sink.driver.prepare(&sink.prep).await;
        (i, kept.map_err(|e| sink_failure(&sink.name, &e, codes::sink::WRITE_FAILED)))
    });
    let outcomes: Vec<(usize, Result<bool, Failure>)> =
        futures::stream::iter(steps).buffered(connect::sink::SINK_STEPS).collect().await;
    *started |= outcomes.iter().any(|(_, kept)| kept.is_ok());
    for (i, kept) in outcomes {
        if !kept? {
            // The staging area no longer holds what the ledger says: this sink starts over.
            sinks[i].committed.clear();
        }
    }
    Ok(())
}

/// Publishes every unpublished sink, each in its own transaction, [`connect::sink::SINK_STEPS`]
/// at a time when no two write the same target (else one at a time, in plan order, so that the
/// last one's rows are the ones kept). A publish that fails while others run is tried once more
/// on its own after them: two publishes can still deadlock (PostgreSQL's drops of existing
/// tables take turns, `postgres::sink`, but an append into a table that references one being
/// dropped does not), and each publish is atomic (MySQL's as a resume repeats it), so only a
/// failure of its own ends the run. Errors with the first sink (in plan order) whose publish
/// failed alone.
async fn publish_sinks(plan: &PipelinePlan, layout: &Layout, sinks: &[SinkEntry]) -> Result<(), Failure> {
    use futures::StreamExt;
    let todo: Vec<&SinkEntry> = sinks.iter().filter(|s| !s.published).collect();
    let mut targets: Vec<(&str, String)> =
        todo.iter().map(|s| (s.exec.sink.endpoint.url.as_str(), s.exec.sink.relation.to_string())).collect();
    targets.sort_unstable();
    let distinct = targets.windows(2).all(|pair| pair[0] != pair[1]);
    if !distinct || todo.len() < 2 {
        for sink in todo {
            publish_sink(plan, layout, sink).await?;
        }
        return Ok(());
    }
    let outcomes: Vec<(&SinkEntry, Result<(), Failure>)> = futures::stream::iter(
        todo.into_iter().map(|sink| async move { (sink, publish_sink(plan, layout, sink).await) }),
    )
    .buffered(connect::sink::SINK_STEPS)
    .collect()
    .await;
    for (sink, outcome) in outcomes {
        if let Err(first) = outcome {
            tracing::debug!("run: sink `{}` publishes again on its own: {}", sink.name, first.message);
            publish_sink(plan, layout, sink).await?;
        }
    }
    Ok(())
}

/// Publishes one sink: its staged rows into the target, with the ledger's `publish` row (the
/// rows of this run and of the earlier attempt it continues, and the source's watermark).
async fn publish_sink(plan: &PipelinePlan, layout: &Layout, sink: &SinkEntry) -> Result<(), Failure> {
    let earlier: u64 = sink.committed.values().map(|(rows, _)| rows).sum();
    let total = earlier + sink.metrics.rows();
    let record = sink.prep.start.clone();
    let detail = PublishDetail {
        watermarks: plan
            .lineage(&sink.exec.sink.input)
            .and_then(|(source, _)| Some((source.name.clone(), layout.watermarks.get(&source.name)?.clone())))
            .into_iter()
            .collect(),
    };
    // The start row's identity, with the moment of publishing.
    let record = LedgerRow {
        event: Event::Publish,
        detail: detail.to_json(),
        rows: total as i64,
        recorded_at: ledger::now_text(),
        ..record
    };
    sink.metrics.publish_started();
    sink.driver.publish(record).await.map_err(|e| sink_failure(&sink.name, &e, codes::sink::WRITE_FAILED))?;
    sink.metrics.publish_finished();
    Ok(())
}

/// Runs every sink partition still to do, at most `parallelism` at a time. Sinks fed by the same
/// source may share a fan-out, which needs all its consumers of partition `p` reading together:
/// partition `p` of those sinks runs as one group under one permit, so no consumer waits for a
/// permit held by another one blocked on it. Sinks of different sources never wait on each other
/// and run as groups of their own. Groups start in order (the order of `plan.sources`), each as
/// soon as a permit is free.
async fn execute(plan: &PipelinePlan, graph: &graph::PipelineGraph, sinks: &[SinkEntry]) -> Result<(), Failure> {
    let permits = Arc::new(Semaphore::new(plan.parallelism.max(1)));
    let mut tasks = JoinSet::new();
    let source_of = plan.source_of_sinks();
    let mut fed_by: HashMap<&str, Vec<&SinkEntry>> = HashMap::new();
    for sink in sinks {
        let Some(source) = source_of.get(sink.exec.sink.name.as_str()) else {
            let message = format!("sink `{}` does not lead back to a source", sink.name);
            return Err(Failure { stage: Some(sink.name.clone()), ..Failure::new(codes::run::INTERNAL, message) });
        };
        fed_by.entry(source.name.as_str()).or_default().push(sink);
    }
    let mut groups: Vec<(usize, Vec<SinkEntry>)> = Vec::new();
    for source in &plan.sources {
        let fed: Vec<&SinkEntry> = fed_by.get(source.name.as_str()).cloned().unwrap_or_default();
        let widest = fed.iter().map(|s| s.exec.partitions()).max().unwrap_or(0);
        for partition in 0..widest {
            if fed.iter().any(|s| s.needs(partition)) {
                let group = fed.iter().filter(|s| partition < s.exec.partitions()).map(|s| (*s).clone()).collect();
                groups.push((partition, group));
            }
        }
    }
    let mut first_error: Option<Failure> = None;
    let task_failed =
        |e: tokio::task::JoinError| Err(Failure::new(codes::run::INTERNAL, format!("a writer task failed: {e}")));
    for (partition, group) in groups {
        // Taking the permit before spawning starts groups strictly in order.
        let permit =
            permits.clone().acquire_owned().await.map_err(|e| Failure::new(codes::run::INTERNAL, e.to_string()))?;
        while let Some(joined) = tasks.try_join_next() {
            if let Err(e) = joined.unwrap_or_else(task_failed) {
                first_error.get_or_insert(e);
            }
        }
        if first_error.is_some() {
            break;
        }
        let task_ctx = graph.ctx.task_ctx();
        tasks.spawn(async move {
            let _permit = permit;
            let writes = group.iter().map(|sink| {
                let task_ctx = task_ctx.clone();
                async move {
                    if sink.needs(partition) {
                        write_partition(sink, partition, task_ctx).await
                    } else {
                        // Done earlier, but fed by a fan-out another sink reads: take this
                        // sink's share and drop it, so the others are not held up.
                        let input = sink.exec.input.execute(partition, task_ctx);
                        drop(input.map_err(|e| {
                            claimed(failure_of(&e, codes::run::FAILED), "", &sink.name, Some(partition))
                        })?);
                        Ok(())
                    }
                }
            });
            futures::future::try_join_all(writes).await.map(|_| ())
        });
    }
    if first_error.is_some() {
        // Stop every other partition: the run fails anyway, and stopping rolls them back.
        tasks.abort_all();
    }
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(task_failed);
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
            // Stop every other partition: the run fails anyway, and stopping rolls them back.
            tasks.abort_all();
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes one partition of one sink, under the sink's timeout.
async fn write_partition(
    sink: &SinkEntry,
    partition: usize,
    task_ctx: Arc<datafusion::execution::TaskContext>,
) -> Result<(), Failure> {
    let SinkEntry { exec, metrics, timeout, name, .. } = sink;
    metrics.partition_started(partition);
    let write = async {
        let mut counts = exec.execute(partition, task_ctx)?;
        while let Some(batch) = futures::StreamExt::next(&mut counts).await {
            batch?;
        }
        Ok::<_, DataFusionError>(())
    };
    let result = match timeout {
        Some(limit) => match tokio::time::timeout(*limit, write).await {
            Ok(r) => r,
            Err(_) => Err(DataFusionError::External(Box::new(StageTimeout {
                stage: name.clone(),
                kind: StageKind::Sink,
                partition,
                limit: *limit,
            }))),
        },
        None => write.await,
    };
    metrics.partition_finished(partition, result.is_ok());
    result.map_err(|e| partition_failure(name, partition, &e))
}

/// A partition's failure: a stage timeout names itself (its stage and partition); other errors
/// are prefixed with the sink and partition that saw them, and located there unless the source
/// or transform they came from already claimed them. Also how an executor words a partition's
/// failure on a cluster (`cluster::nodes::WriteExec`).
pub fn partition_failure(sink: &str, partition: usize, e: &DataFusionError) -> Failure {
    if let Some(timeout) = find_timeout(e) {
        let message = format!("{timeout}; the target was left unchanged");
        return Failure::new(codes::run::TIMEOUT, message).at(&timeout.stage, timeout.partition);
    }
    let prefix = format!("sink `{sink}` partition {partition}: ");
    claimed(failure_of(e, codes::run::FAILED), &prefix, sink, Some(partition))
}

/// The stage timeout inside `e`, through DataFusion's wrappers.
pub fn find_timeout(e: &DataFusionError) -> Option<&StageTimeout> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<StageTimeout>(),
        DataFusionError::Context(_, inner) => find_timeout(inner),
        DataFusionError::Shared(inner) => find_timeout(inner),
        _ => None,
    }
}

/// A run id unique across runs: the start time (UTC, to the second, so ids sort by time), the
/// process id, and a counter of the runs this process started. Without the counter two runs of
/// one pipeline started in the same second by one process (a test, an orchestrator's worker)
/// would share an id, and the second would find the first's partitions in the ledger as its
/// own. 20 characters: staging table names carry it within identifier limits.
fn new_run_id() -> String {
    static STARTED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let now = chrono::Utc::now();
    let seq = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}{:04x}{seq:02x}", now.format("%Y%m%d%H%M%S"), std::process::id() & 0xffff)
}
