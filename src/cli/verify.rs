//! `flow verify FILE`: compare every sink's target with its source, partition by partition.
//! Exit 0 when all are equal, 1 when any differs or cannot be read, 2 for a bad file.

use super::common::{Unanswered, load};
use super::{Exit, FileArgs};
use crate::analyze::Discover;
use crate::resolve::ResolvedPipeline;
use crate::verify::verify_pipeline;

pub async fn run(args: FileArgs) -> Exit {
    match load(&args.file, &args.vars, args.profiles.as_deref(), Discover::Online, Unanswered::LeaveToCommand, None)
        .await
    {
        Ok(loaded) => verify_plans(&loaded.analysis.resolved).await,
        Err(exit) => exit,
    }
}

/// Verifies resolved pipelines in order, printing each sink's check; exit 1 when any differs.
pub async fn verify_plans(pipelines: &[ResolvedPipeline]) -> Exit {
    let mut exit = Exit::Ok;
    for pipeline in pipelines {
        super::say!("verify pipeline {}\n", pipeline.plan.name);
        match verify_pipeline(pipeline).await {
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
}
