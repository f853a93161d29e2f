//! `flow run FILE`: run every pipeline in the file, with progress, a summary table, and an
//! optional JSON report. Ctrl-C cancels cleanly.

use std::path::Path;
use std::sync::Arc;

use super::common::{Unanswered, load};
use super::{Exit, ProgressFormat, RunArgs};
use crate::analyze::Discover;
use crate::exec::{PartitionEngine, ProgressMode, RunHints, RunOptions, RunReport, RunStatus, run_pipeline};
use crate::resolve::{self, ResolvedPipeline};

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
        Discover::Online,
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
    let (exit, ran) =
        run_plans(&loaded.analysis.resolved, progress, args.report.as_deref(), args.resume, hints, engine).await;
    if exit != Exit::Ok || !args.verify {
        return exit;
    }
    // Each pipeline is verified as it was run: the same source shapes (and snapshot).
    super::verify::verify_plans(&ran).await
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
    /// Not `ballista://HOST:PORT`, in `crate::cluster::parse_engine`'s words.
    #[cfg(feature = "cluster")]
    #[error("{0}")]
    Address(String),
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
        // `cluster::parse_engine` words its refusal as text.
        let scheduler = crate::cluster::parse_engine(engine).map_err(EngineError::Address)?;
        Ok(Some(Arc::new(crate::cluster::BallistaEngine::new(&scheduler))))
    }
    #[cfg(not(feature = "cluster"))]
    Err(EngineError::NoCluster { engine: engine.to_string() })
}

/// Runs resolved pipelines in order, stopping at the first failure; prints each summary and
/// writes the report. `hints` are what the error of a failed run tells people to do.
/// Returns the exit code and the pipelines as they were run: the first as resolved, each later
/// one described again just before it ran (see `resolve::refresh`).
pub async fn run_plans(
    pipelines: &[ResolvedPipeline],
    progress: ProgressMode,
    report: Option<&Path>,
    resume: bool,
    hints: RunHints,
    engine: Option<Arc<dyn PartitionEngine>>,
) -> (Exit, Vec<ResolvedPipeline>) {
    // A report that cannot be written must stop the run before it publishes anything: found
    // afterwards, a retried append would write its rows twice.
    if let Some(path) = report
        && let Err(e) = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)
    {
        tracing::error!("cannot write the report to {}: {e}; nothing was run", path.display());
        return (Exit::Usage, Vec::new());
    }
    let interrupt = Arc::new(tokio::sync::Notify::new());
    let on_signal = interrupt.clone();
    let signal_task = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.notify_one();
        }
    });
    let options = RunOptions { progress, interrupt: Some(interrupt), resume, hints, engine };
    let mut reports: Vec<RunReport> = Vec::new();
    let mut exit = Exit::Ok;
    let mut ran = Vec::new();
    for (index, pipeline) in pipelines.iter().enumerate() {
        // The pipelines before this one may have written its sources.
        let pipeline = if index == 0 { pipeline.clone() } else { resolve::refresh(pipeline).await };
        let report = run_pipeline(&pipeline, &options).await;
        ran.push(pipeline);
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
            for skipped in &pipelines[index + 1..] {
                tracing::warn!("pipeline `{}` was not run: pipeline `{name}` failed before it", skipped.plan.name);
            }
            break;
        }
    }
    signal_task.abort();
    if let Some(path) = report {
        // One object for a file of one pipeline, an array for a file of several (even when a
        // failure stopped the run after the first): the shape follows the file, not the outcome.
        let json = if pipelines.len() == 1 {
            serde_json::to_string_pretty(&reports[0])
        } else {
            serde_json::to_string_pretty(&reports)
        };
        let written =
            json.map_err(|e| e.to_string()).and_then(|j| std::fs::write(path, j + "\n").map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::error!("cannot write the report to {}: {e}", path.display());
            return (Exit::Runtime, ran);
        }
    }
    (exit, ran)
}
