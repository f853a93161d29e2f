//! `flow verify FILE [--engine ballista://HOST:PORT]`: compare every sink's target with its
//! source, partition by partition, here or on a cluster. Exit 0 when all are equal, 1 when any
//! differs or cannot be read (or the cluster cannot take the work), 2 for a bad file or
//! `--engine` value.

use std::sync::Arc;

use super::common::{Unanswered, load};
use super::{Exit, VerifyArgs};
use crate::analyze::Discover;
use crate::exec::PartitionEngine;
use crate::resolve::ResolvedPipeline;
use crate::verify::verify_pipeline;

pub async fn run(args: VerifyArgs) -> Exit {
    let engine = match super::run::engine_for(args.engine.as_deref()) {
        Ok(engine) => engine,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Usage;
        }
    };
    let file = &args.file;
    let loaded = load(
        &file.file,
        &file.vars,
        file.profiles.as_deref(),
        Discover::Online,
        Unanswered::LeaveToCommand,
        args.engine.as_deref(),
    )
    .await;
    match loaded {
        Ok(loaded) => verify_plans(&loaded.analysis.resolved, engine).await,
        Err(exit) => exit,
    }
}

/// Verifies resolved pipelines in order, printing each sink's check; exit 1 when any differs.
/// With `engine`, the engine must answer first (`PartitionEngine::ready`), and each sink's
/// partitions are checksummed where it runs.
pub async fn verify_plans(pipelines: &[ResolvedPipeline], engine: Option<Arc<dyn PartitionEngine>>) -> Exit {
    if let Some(engine) = &engine
        && let Err(failure) = engine.ready().await
    {
        tracing::error!(code = failure.code, "{}", failure.message);
        return Exit::Runtime;
    }
    let verify_all = async {
        let mut exit = Exit::Ok;
        for pipeline in pipelines {
            super::say!("verify pipeline {}\n", pipeline.plan.name);
            match verify_pipeline(pipeline, engine.as_deref()).await {
                Ok(checks) => {
                    for check in &checks {
                        super::say!("{}", check.render());
                        if !check.equal() {
                            exit = Exit::Runtime;
                        }
                    }
                }
                Err(failure) => {
                    tracing::error!(code = failure.code, "{}", failure.message);
                    exit = Exit::Runtime;
                }
            }
        }
        exit
    };
    // Ctrl-C or SIGTERM stops the comparison: dropping it stops the reads (and cancels a
    // cluster's job), which the process waits for before it exits.
    let stopped = tokio::select! {
        exit = verify_all => Ok(exit),
        cause = super::stop_signal() => Err(cause),
    };
    match stopped {
        Ok(exit) => exit,
        Err(cause) => {
            crate::connect::cancel::settle(std::time::Duration::from_secs(5)).await;
            tracing::error!(code = crate::diagnostics::codes::run::INTERRUPTED, "verify interrupted by {cause}");
            Exit::Runtime
        }
    }
}
