//! What each stage of a run is measured against, from what resolving learnt of its source: the
//! source's row count (exact or estimated: `connect::SourceShape::rows`), carried down the
//! transforms that keep every row; past a transform that may drop rows (a filter, SQL) an
//! estimate scaled by the share of the source's rows that transform passed so far (the last such
//! transform before the stage: the stages after it may lag behind, a slow sink behind a fast
//! one, and must not borrow its progress); without a count, the share of the stage's partitions
//! done; else nothing (an open count).

use std::collections::HashMap;
use std::sync::Arc;

use super::bar::Total;
use crate::connect::SourceShape;
use crate::exec::metrics::{StageKind, StageMetrics};
use crate::plan::{PipelinePlan, StepPlan};

/// How a stage's total is found at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Fixed(Total),
    /// `rows`, the count of the source whose counters are `source` (an index into the run's
    /// stages), times the share of the source's rows read so far that stage `through` passed.
    Scaled {
        source: usize,
        through: usize,
        rows: u64,
    },
}

impl Measure {
    /// The total now; `stages` are the run's counters, in the order the measures were made for.
    pub fn total(&self, stages: &[Arc<StageMetrics>]) -> Total {
        match *self {
            Self::Fixed(total) => total,
            Self::Scaled { source, through, rows } => {
                let read = stages.get(source).map_or(0, |m| m.rows());
                let passed = stages.get(through).map_or(0, |m| m.rows());
                let rows = if read == 0 { rows } else { (rows as f64 * passed as f64 / read as f64).round() as u64 };
                Total::Rows { rows, exact: false }
            }
        }
    }
}

/// One measure per stage of `stages`, in order.
pub fn measures(
    plan: &PipelinePlan,
    shapes: &HashMap<String, SourceShape>,
    stages: &[Arc<StageMetrics>],
) -> Vec<Measure> {
    stages
        .iter()
        .map(|m| {
            let upstream = match m.kind {
                StageKind::Source => plan.source(&m.name).map(|s| (s, Vec::new())),
                StageKind::Transform => plan.lineage(&m.name),
                StageKind::Sink => plan.sinks.iter().find(|s| s.name == m.name).and_then(|s| plan.lineage(&s.input)),
            };
            let by_partitions =
                Measure::Fixed(if m.partitions() > 1 { Total::Partitions(m.partitions()) } else { Total::Unknown });
            let Some((source, chain)) = upstream else { return by_partitions };
            let Some(count) = shapes.get(&source.name).and_then(|s| s.rows) else { return by_partitions };
            let Some(dropping) = chain.iter().rev().find(|t| !t.steps.iter().all(keeps_every_row)) else {
                return Measure::Fixed(Total::Rows { rows: count.rows, exact: count.exact });
            };
            let index = |kind: StageKind, name: &str| stages.iter().position(|s| s.kind == kind && s.name == name);
            match (index(StageKind::Source, &source.name), index(StageKind::Transform, &dropping.name)) {
                (Some(source), Some(through)) => Measure::Scaled { source, through, rows: count.rows },
                _ => by_partitions,
            }
        })
        .collect()
}

/// Whether a step passes every row of its input through (one row out per row in).
fn keeps_every_row(step: &StepPlan) -> bool {
    match step {
        StepPlan::Derive { .. }
        | StepPlan::Select { .. }
        | StepPlan::Drop { .. }
        | StepPlan::Rename { .. }
        | StepPlan::Cast { .. } => true,
        StepPlan::Filter { .. } | StepPlan::Sql { .. } => false,
    }
}
