//! Runs one pipeline: describe the sources, build the physical graph, prepare the sinks, execute
//! every sink partition concurrently (at most `parallelism` at a time) under the stage and
//! pipeline timeouts and Ctrl-C, then publish every sink — or abort them all on any failure.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::error::DataFusionError;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::graph::{self, strip_df_prefix};
use super::metrics::{StageKind, StageMetrics, StageTimeout};
use super::progress::{Progress, ProgressMode};
use super::report::RunReport;
use super::sink::{SinkDriver, driver_for};
use super::sink_exec::SinkExec;
use crate::connect;
use crate::plan::PipelinePlan;
use crate::plan::endpoint::scrub_secret;
use crate::semantic::values::format_duration;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub progress: ProgressMode,
    /// Resolves when the user asks to stop (Ctrl-C); `None` never interrupts.
    pub interrupt: Option<Arc<tokio::sync::Notify>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { progress: ProgressMode::Quiet, interrupt: None }
    }
}

/// Runs a pipeline to completion. The report comes back whether the run succeeded or not; a
/// failed run has `status: failed` and the reason in `error`.
pub async fn run_pipeline(plan: &PipelinePlan, options: &RunOptions) -> RunReport {
    let run_start = Instant::now();
    let run_id = new_run_id();
    let mut metrics: Vec<Arc<StageMetrics>> = Vec::new();
    let outcome = run_inner(plan, options, &run_id, run_start, &mut metrics).await;
    let error = outcome.err().map(|e| scrub_all(plan, &e));
    RunReport::build(plan, &run_id, &metrics, run_start.elapsed().as_secs_f64(), error)
}

fn scrub_all(plan: &PipelinePlan, message: &str) -> String {
    let mut text = message.to_string();
    for e in plan.sources.iter().map(|s| &s.endpoint).chain(plan.sinks.iter().map(|s| &s.endpoint)) {
        text = scrub_secret(&text, &e.url);
    }
    text
}

async fn run_inner(
    plan: &PipelinePlan,
    options: &RunOptions,
    run_id: &str,
    run_start: Instant,
    metrics_out: &mut Vec<Arc<StageMetrics>>,
) -> Result<(), String> {
    // Everything below, including describing sources, counts against the pipeline timeout.
    let deadline = plan.timeout.map(|t| tokio::time::Instant::now() + t);
    let work = async {
        let shapes = describe_sources(plan).await?;
        let graph = graph::build(plan, &shapes, run_start, false).await.map_err(|e| strip_df_prefix(&e))?;
        metrics_out.extend(graph.metrics.iter().cloned());
        let mut sinks: Vec<SinkEntry> = Vec::new();
        for (sink, input, m) in &graph.sinks {
            let driver = driver_for(sink, input.schema(), run_id)
                .map_err(|e| format!("sink `{}`: {}", sink.name, strip_df_prefix(&e)))?;
            let input: Arc<dyn ExecutionPlan> =
                if driver.single_writer() && input.properties().partitioning.partition_count() > 1 {
                    Arc::new(CoalescePartitionsExec::new(input.clone()))
                } else {
                    input.clone()
                };
            m.set_partitions(input.properties().partitioning.partition_count());
            let exec = Arc::new(SinkExec::new(sink.clone(), run_id, input, driver.clone(), m.clone()));
            sinks.push(SinkEntry { driver, exec, metrics: m.clone(), timeout: sink.timeout, name: sink.name.clone() });
        }
        let progress = Progress::start(&plan.name, &graph.metrics, options.progress);
        let result = execute(plan, &graph, &sinks).await;
        progress.finish();
        match result {
            Ok(()) => {
                for SinkEntry { driver, name, .. } in &sinks {
                    driver.publish().await.map_err(|e| format!("sink `{name}`: {}", strip_df_prefix(&e)))?;
                }
                Ok(())
            }
            Err(e) => {
                for SinkEntry { driver, .. } in &sinks {
                    driver.abort().await;
                }
                Err(e)
            }
        }
    };
    let interrupted = async {
        match &options.interrupt {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    let timed_out = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    // Dropping `work` drops its JoinSet, which aborts every partition task; sinks whose work
    // was dropped never published, and their staging is cleaned below.
    let outcome = tokio::select! {
        r = work => r,
        _ = interrupted => Err("interrupted by Ctrl-C; nothing was published".to_string()),
        _ = timed_out => Err(format!(
            "pipeline `{}` exceeded its timeout of {}; nothing was published",
            plan.name,
            plan.timeout.map(format_duration).unwrap_or_default()
        )),
    };
    if outcome.is_err() {
        cleanup_after_cancel(plan, run_id).await;
    }
    outcome
}

/// After a cancellation the drivers were dropped mid-flight: remove what they staged.
async fn cleanup_after_cancel(plan: &PipelinePlan, run_id: &str) {
    for sink in &plan.sinks {
        if let Ok(driver) = driver_for(sink, Arc::new(arrow::datatypes::Schema::empty()), run_id) {
            driver.abort().await;
        }
    }
}

async fn describe_sources(plan: &PipelinePlan) -> Result<HashMap<String, connect::SourceShape>, String> {
    let futures = plan.sources.iter().map(|s| async move {
        let shape = connect::describe(s, plan.parallelism).await.map_err(|e| {
            format!(
                "source `{}` ({} {}): {}",
                s.name,
                s.endpoint.backend.name(),
                s.endpoint.redacted(),
                strip_df_prefix(&e)
            )
        })?;
        Ok::<_, String>((s.name.clone(), shape))
    });
    futures::future::try_join_all(futures).await.map(|v| v.into_iter().collect())
}

/// A sink ready to run: its driver (prepare, publish, abort), its plan, counters, timeout, name.
#[derive(Clone)]
struct SinkEntry {
    driver: Arc<dyn SinkDriver>,
    exec: Arc<SinkExec>,
    metrics: Arc<StageMetrics>,
    timeout: Option<Duration>,
    name: String,
}

/// Runs every sink partition. Partition `p` of all multi-writer sinks runs as one group under
/// one of `parallelism` permits: sinks fed by a fan-out read partition `p` together, so no
/// consumer waits for a permit held by another one blocked on it. Single-writer sinks (files)
/// read all their partitions at once and run outside the permits.
async fn execute(plan: &PipelinePlan, graph: &graph::PipelineGraph, sinks: &[SinkEntry]) -> Result<(), String> {
    for SinkEntry { driver, name, .. } in sinks {
        driver.prepare().await.map_err(|e| format!("sink `{name}`: {}", strip_df_prefix(&e)))?;
    }
    let permits = Arc::new(Semaphore::new(plan.parallelism.max(1)));
    let mut tasks = JoinSet::new();
    let (singles, multis): (Vec<&SinkEntry>, Vec<&SinkEntry>) = sinks.iter().partition(|s| s.driver.single_writer());
    for sink in singles {
        let sink = sink.clone();
        let task_ctx = graph.ctx.task_ctx();
        tasks.spawn(async move { write_partition(&sink, 0, task_ctx).await });
    }
    let widest = multis.iter().map(|s| s.exec.partitions()).max().unwrap_or(0);
    for partition in 0..widest {
        let group: Vec<SinkEntry> =
            multis.iter().filter(|s| partition < s.exec.partitions()).map(|s| (*s).clone()).collect();
        let permits = permits.clone();
        let task_ctx = graph.ctx.task_ctx();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            let writes = group.iter().map(|sink| write_partition(sink, partition, task_ctx.clone()));
            futures::future::try_join_all(writes).await.map(|_| ())
        });
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|e| Err(format!("a writer task failed: {e}")));
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
            // Stop every other partition: their rows would be thrown away anyway.
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
) -> Result<(), String> {
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
    result.map(|_| ()).map_err(|e| describe_failure(name, partition, &e))
}

/// A partition's failure as one line: a stage timeout names itself; other errors are prefixed
/// with the sink and partition that saw them.
fn describe_failure(sink: &str, partition: usize, e: &DataFusionError) -> String {
    if let Some(timeout) = find_timeout(e) {
        return format!("{timeout}; the target was left unchanged");
    }
    format!("sink `{sink}` partition {partition}: {}", strip_df_prefix(e))
}

fn find_timeout(e: &DataFusionError) -> Option<&StageTimeout> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<StageTimeout>(),
        DataFusionError::Context(_, inner) => find_timeout(inner),
        DataFusionError::Shared(inner) => find_timeout(inner),
        _ => None,
    }
}

fn new_run_id() -> String {
    let now = chrono::Utc::now();
    format!("{}{:04x}", now.format("%Y%m%d%H%M%S"), std::process::id() & 0xffff)
}
