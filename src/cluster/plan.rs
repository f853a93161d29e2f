//! A sink's job as the plan a Ballista cluster runs: the physical graph the runner built
//! (`exec::graph`) with each [`SourceExec`] swapped for a [`ScanExec`] over a work list and a
//! [`WriteExec`] on top (see `cluster::nodes` for why work lists). Runs on the client.
//!
//! ```text
//! StageExec ── … ── StageExec ── SourceExec{partitions}        (as built for a local run)
//!            ⇒
//! WriteExec ─┬─ StageExec ── … ── StageExec ── ScanExec ── work list
//!            └─ work list (part, detail)
//! ```
//!
//! Partition `k` of the result writes the job's `k`-th partition. When the job holds every
//! partition of the sink, the sources keep every partition (whatever lies between them and the
//! sink). When it holds only some (a resumed run), they are narrowed to the same partitions,
//! which is right only where the sink's partitions are the source's own: every node between
//! them has one input and keeps the partition count. Anything else is refused.
//!
//! A sink's comparison (`flow verify --engine`, [`digest_plan`]) is the same input under a
//! [`DigestExec`] instead of the writer, its work list saying what each partition reads of the
//! target.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;

use super::digest::DigestExec;
use super::nodes::{ScanExec, WriteExec, worklist};
use crate::connect::ScanPartition;
use crate::diagnostics::{Failure, codes};
use crate::exec::nodes::SourceExec;
use crate::exec::{DigestJob, SinkJob};

/// The plan of `job` (see the module docs). Errors name the sink and say why the job cannot run
/// on a cluster: a stage read by several consumers (its fan-out lives in one process), or a
/// resumed job whose partitions are not its source's.
pub fn job_plan(job: &SinkJob) -> Result<Arc<dyn ExecutionPlan>> {
    let input = &job.input;
    let n = input.properties().partitioning.partition_count();
    let all = job.parts.len() == n && job.parts.iter().enumerate().all(|(i, (p, _))| i == *p);
    if !all && !aligned(input, n) {
        return Err(DataFusionError::NotImplemented(format!(
            "sink `{}`: resuming on a cluster needs the sink's partitions to be its source's, and a \
             transform regroups them; run it again without --resume, or locally",
            job.sink.name
        )));
    }
    let keep: Option<Vec<usize>> = (!all).then(|| job.parts.iter().map(|(p, _)| *p).collect());
    let input = on_executors(input, keep.as_deref(), &job.sink.name)?;
    let list = worklist(&job.parts)?;
    Ok(Arc::new(WriteExec::try_new(job.sink.clone(), job.key.clone(), input, list)?))
}

/// The plan of a sink's comparison (see the module docs): partition `k` checksums input
/// partition `k` and reads what `job.targets[k]` says of the target. Errors as [`job_plan`]
/// does for a stage read by several consumers.
pub fn digest_plan(job: &DigestJob) -> Result<Arc<dyn ExecutionPlan>> {
    let input = on_executors(&job.input, None, &job.sink.name)?;
    let items = job
        .targets
        .iter()
        .enumerate()
        .map(|(k, read)| Ok((k, serde_json::to_string(read).map_err(|e| DataFusionError::External(e.into()))?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(DigestExec::try_new(job.sink.clone(), input, worklist(&items)?)?))
}

/// `input` with each [`SourceExec`] swapped for a [`ScanExec`] over a work list of its
/// partitions (only those in `keep`, when given). Errors on a stage read by several consumers.
fn on_executors(input: &Arc<dyn ExecutionPlan>, keep: Option<&[usize]>, sink: &str) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(input
        .clone()
        .transform_up(|node| {
            if node.name() == "FanOutExec" {
                // `check --engine` refuses this first (`semantic::lower::graph`).
                let message = format!(
                    "sink `{sink}`: its input is a stage read by several consumers, which a cluster run cannot share"
                );
                return Err(Failure::new(codes::cluster::FAN_OUT, message).into_datafusion());
            }
            let Some(source) = node.downcast_ref::<SourceExec>() else {
                return Ok(Transformed::no(node));
            };
            let items: Vec<(usize, &ScanPartition)> = match keep {
                None => source.partitions.iter().enumerate().collect(),
                Some(keep) => keep
                    .iter()
                    .map(|p| {
                        source.partitions.get(*p).map(|scan| (*p, scan)).ok_or_else(|| {
                            DataFusionError::Internal(format!("source {} has no partition {p}", source.source.name))
                        })
                    })
                    .collect::<Result<_>>()?,
            };
            let scan = ScanExec::over(
                source.source.clone(),
                source.schema(),
                source.pushdown.clone(),
                source.snapshot.clone(),
                &items,
            )?;
            Ok(Transformed::yes(Arc::new(scan) as Arc<dyn ExecutionPlan>))
        })?
        .data)
}

/// Whether every path from `plan` down to a source keeps `n` partitions through nodes of one
/// input, so that partition `p` of `plan` is partition `p` of the source.
fn aligned(plan: &Arc<dyn ExecutionPlan>, n: usize) -> bool {
    if plan.properties().partitioning.partition_count() != n {
        return false;
    }
    if let Some(source) = plan.downcast_ref::<SourceExec>() {
        return source.partitions.len() == n;
    }
    match plan.children().as_slice() {
        [child] => aligned(child, n),
        _ => false,
    }
}
