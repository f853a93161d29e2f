//! `flow run FILE`: run every pipeline in the file, with progress, a summary table, and an
//! optional JSON report. Ctrl-C cancels cleanly.

use std::path::Path;
use std::sync::Arc;

use super::common::{Unanswered, load, print_problems};
use super::{Exit, ProgressFormat, RunArgs};
use crate::analyze::{Analysis, Discover};
use crate::exec::{PartitionEngine, ProgressMode, RunHints, RunOptions, RunReport, RunStatus, run_pipeline};
use crate::resolve::ResolvedPipeline;

pub async fn run(args: RunArgs) -> Exit {
    crate::connect::retry::set_connect_retries(args.connect_retries);
    let engine = match engine_for(args.engine.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            super::command_error(e.code(), &e);
            return Exit::Usage;
        }
    };
    let loaded = match load(
        &args.file,
        &args.vars,
        args.profiles.as_deref(),
        Discover::InTurn,
        Unanswered::LeaveToCommand,
        args.engine.as_deref(),
    )
    .await
    {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    let hints = RunHints {
        resume: super::common::resume_command(&args.file, &args.vars, args.profiles.as_deref(), args.engine.as_deref()),
        ..RunHints::default()
    };
    let progress = if args.quiet { ProgressMode::Quiet } else { progress_mode(args.progress) };
    let verify = if args.verify { Verify::EachPipeline } else { Verify::No };
    run_plans(loaded.analysis, progress, args.report.as_deref(), args.resume, hints, engine, verify).await
}

/// Whether `run_plans` verifies each pipeline it ran (`--verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    No,
    /// Each pipeline that ran is verified at once, before the next one is resolved: as it was
    /// run (the same source shapes and snapshot), and without holding that snapshot open across
    /// the next pipeline's run.
    EachPipeline,
}

/// The progress a `--progress` value asks for.
fn progress_mode(format: ProgressFormat) -> ProgressMode {
    match format {
        ProgressFormat::Auto => ProgressMode::Auto,
        ProgressFormat::Lines => ProgressMode::Lines,
        ProgressFormat::Json => ProgressMode::Json,
        ProgressFormat::None => ProgressMode::Quiet,
    }
}

/// Why an `--engine` value names no engine this Flow can run on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Not `ballista://HOST:PORT` (`crate::cluster::parse_engine`).
    #[cfg(feature = "cluster")]
    #[error(transparent)]
    Address(#[from] crate::cluster::EngineAddressError),
    /// This Flow was built without the `cluster` feature.
    #[cfg(not(feature = "cluster"))]
    #[error("--engine {engine}: this flow was built without the `cluster` feature")]
    NoCluster { engine: String },
}

impl EngineError {
    pub fn code(&self) -> &'static str {
        match self {
            #[cfg(feature = "cluster")]
            Self::Address(_) => crate::diagnostics::codes::usage::BAD_VALUE,
            #[cfg(not(feature = "cluster"))]
            Self::NoCluster { .. } => crate::diagnostics::codes::usage::NO_CLUSTER,
        }
    }
}

/// The engine an `--engine` value names; `None` runs in this process.
pub fn engine_for(engine: Option<&str>) -> Result<Option<Arc<dyn PartitionEngine>>, EngineError> {
    let Some(engine) = engine else { return Ok(None) };
    #[cfg(feature = "cluster")]
    {
        let scheduler = crate::cluster::parse_engine(engine)?;
        Ok(Some(Arc::new(crate::cluster::BallistaEngine::new(&scheduler))))
    }
    #[cfg(not(feature = "cluster"))]
    Err(EngineError::NoCluster { engine: engine.to_string() })
}

/// Runs the pipelines of `analysis` in order, stopping at the first failure; prints each
/// summary (and, with [`Verify::EachPipeline`], each verification) and writes the report.
/// `hints` are what the error of a failed run tells people to do. A pipeline `analysis` has
/// not resolved yet is resolved and checked when its turn comes ([`Analysis::resolve_in_turn`]):
/// the pipelines before it may have written its sources. A pipeline is dropped once it has run
/// (and been verified), which ends the snapshot its sources were read in before the next one
/// starts. Returns the exit code: 2 when a pipeline resolved in its turn does not check, 1 when
/// a run fails or a verification differs.
pub async fn run_plans(
    mut analysis: Analysis,
    progress: ProgressMode,
    report: Option<&Path>,
    resume: bool,
    hints: RunHints,
    engine: Option<Arc<dyn PartitionEngine>>,
    verify: Verify,
) -> Exit {
    // A report that cannot be written must stop the run before it publishes anything: found
    // afterwards, a retried append would write its rows twice.
    if let Some(path) = report
        && let Err(e) = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)
    {
        tracing::error!("cannot write the report to {}: {e}; nothing was run", path.display());
        return Exit::Usage;
    }
    // Ctrl-C and SIGTERM (what `kill`, `timeout` and service managers send) stop the run alike.
    let (on_signal, interrupt) = tokio::sync::watch::channel(None);
    let signal_task = tokio::spawn(async move {
        let cause = super::stop_signal().await;
        let _ = on_signal.send(Some(cause));
        // Keep the sender, so the value stays for every pipeline still to check it.
        std::future::pending::<()>().await;
    });
    let options = RunOptions { progress, interrupt: Some(interrupt), resume, hints, engine };
    let mut reports: Vec<RunReport> = Vec::new();
    let mut exit = Exit::Ok;
    let count = analysis.checked.len();
    let mut ready = std::mem::take(&mut analysis.resolved).into_iter();
    for index in 0..count {
        let pipeline = match ready.next() {
            Some(pipeline) => pipeline,
            None => match in_turn(&analysis, index).await {
                Some(pipeline) => pipeline,
                None => {
                    exit = Exit::Usage;
                    not_run(&analysis, index, None);
                    break;
                }
            },
        };
        let report = run_pipeline(&pipeline, &options).await;
        // A cancelled run's readers stop their statements on the servers in the background.
        crate::connect::cancel::settle(std::time::Duration::from_secs(5)).await;
        super::say!("{}", report.table());
        let failed = report.status == RunStatus::Failed;
        if let Some(e) = &report.error {
            let code = report.failure.as_ref().map(|f| f.code);
            tracing::error!(pipeline = %report.pipeline, run_id = %report.run_id, code, "{e}");
        }
        let name = report.pipeline.clone();
        reports.push(report);
        if failed {
            exit = Exit::Runtime;
            not_run(&analysis, index + 1, Some(&name));
            break;
        }
        if verify == Verify::EachPipeline
            && super::verify::verify_plans(std::slice::from_ref(&pipeline), options.engine.clone()).await != Exit::Ok
        {
            exit = Exit::Runtime;
        }
    }
    signal_task.abort();
    if let Some(path) = report {
        // One object for a file of one pipeline, an array for a file of several (even when a
        // failure stopped the run after the first): the shape follows the file, not the outcome.
        let json = if let (1, [single]) = (count, reports.as_slice()) {
            serde_json::to_string_pretty(single)
        } else {
            serde_json::to_string_pretty(&reports)
        };
        let written =
            json.map_err(|e| e.to_string()).and_then(|j| std::fs::write(path, j + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::error!("cannot write the report to {}: {e}", path.display());
            return Exit::Runtime;
        }
    }
    exit
}

/// Pipeline `index` of `analysis`, resolved and checked now; its problems printed. `None` when
/// it does not check (or there is no such pipeline).
async fn in_turn(analysis: &Analysis, index: usize) -> Option<ResolvedPipeline> {
    let mut found = analysis.resolve_in_turn(index).await?;
    print_problems(&found, Unanswered::LeaveToCommand);
    if !found.ok() {
        return None;
    }
    found.resolved.pop()
}

/// Says that the pipelines from `first` on were not run: because pipeline `failed` failed, or
/// (`None`) because pipeline `first` does not check.
fn not_run(analysis: &Analysis, first: usize, failed: Option<&str>) {
    let mut pipelines = analysis.checked.iter().skip(first).map(|p| p.name.as_str());
    let failed = match failed {
        Some(name) => name,
        None => {
            let Some(name) = pipelines.next() else { return };
            tracing::warn!("pipeline `{name}` was not run: it does not check");
            name
        }
    };
    for skipped in pipelines {
        tracing::warn!("pipeline `{skipped}` was not run: pipeline `{failed}` failed before it");
    }
}
