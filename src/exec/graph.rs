//! Logical pipeline plan → DataFusion physical graph. Each source becomes a [`SourceTable`]; each
//! transform is planned by DataFusion over its input and capped with a [`StageExec`]; each sink
//! gets the physical plan of its input. Partitions flow through unchanged: the session is set up
//! so DataFusion does not repartition.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use super::fanout::FanOut;
use super::metrics::{StageKind, StageMetrics};
use super::nodes::StageExec;
use super::tables::{PlanTable, SourceTable};
use super::transform::apply_steps;
use crate::connect::SourceShape;
use crate::plan::{PipelinePlan, SinkPlan};

/// A session that keeps the partitions of the sources all the way to the sinks.
pub fn session(parallelism: usize) -> SessionContext {
    let mut config = SessionConfig::new()
        .with_target_partitions(parallelism.max(1))
        .with_round_robin_repartition(false)
        .with_repartition_joins(false)
        .with_repartition_aggregations(false)
        .with_repartition_windows(false)
        .with_repartition_sorts(false)
        .with_information_schema(false);
    config.options_mut().optimizer.repartition_file_scans = false;
    SessionContext::new_with_config(config)
}

enum StageOutput {
    Source(Arc<SourceTable>),
    Plan(Arc<dyn ExecutionPlan>),
}

pub struct PipelineGraph {
    pub ctx: SessionContext,
    /// The schema flowing out of each stage that could be planned.
    pub schemas: HashMap<String, arrow::datatypes::SchemaRef>,
    /// Metrics per stage, in declaration order: sources, transforms, sinks.
    pub metrics: Vec<Arc<StageMetrics>>,
    /// Each sink with the physical plan of its input.
    pub sinks: Vec<(SinkPlan, Arc<dyn ExecutionPlan>, Arc<StageMetrics>)>,
}

impl PipelineGraph {
    pub fn stage(&self, name: &str) -> Option<&Arc<StageMetrics>> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

/// Builds the graph. `shapes` holds the discovered shape of each source; with `partial`, stages
/// that depend on an undescribed source are left out (explain of an unreachable source) instead
/// of failing.
pub async fn build(
    plan: &PipelinePlan,
    shapes: &HashMap<String, SourceShape>,
    run_start: Instant,
    partial: bool,
) -> Result<PipelineGraph> {
    let ctx = session(plan.parallelism);
    let mut metrics = Vec::new();
    let mut schemas = HashMap::new();
    // Each consumer takes one output; a stage with several consumers is fanned out so it runs once.
    let mut consumers: HashMap<&str, usize> = HashMap::new();
    for input in plan.transforms.iter().map(|t| &t.input).chain(plan.sinks.iter().map(|s| &s.input)) {
        *consumers.entry(input.as_str()).or_default() += 1;
    }
    let fan_out = |plan: Arc<dyn ExecutionPlan>, k: usize| -> Vec<StageOutput> {
        if k <= 1 {
            vec![StageOutput::Plan(plan)]
        } else {
            FanOut::split(plan, k).into_iter().map(StageOutput::Plan).collect()
        }
    };
    let mut outputs: HashMap<String, Vec<StageOutput>> = HashMap::new();
    for source in &plan.sources {
        let Some(shape) = shapes.get(&source.name) else {
            if partial {
                continue;
            }
            return Err(DataFusionError::Internal(format!("source {} was not described", source.name)));
        };
        schemas.insert(source.name.clone(), shape.schema.clone());
        let m = Arc::new(StageMetrics::new(&source.name, StageKind::Source, run_start));
        // `SourceExec` has one partition per scan partition, and at least one.
        m.set_partitions(shape.partitions.len().max(1));
        metrics.push(m.clone());
        let table = Arc::new(SourceTable { source: source.clone(), shape: shape.clone(), metrics: m });
        let k = consumers.get(source.name.as_str()).copied().unwrap_or(0);
        let out = if k <= 1 {
            // A single consumer plans over the table itself, so its projection reaches the source query.
            vec![StageOutput::Source(table)]
        } else {
            fan_out(ctx.read_table(table)?.create_physical_plan().await?, k)
        };
        outputs.insert(source.name.clone(), out);
    }
    // Transforms in dependency order (the checker guarantees there is one).
    let mut pending: Vec<_> = plan.transforms.iter().collect();
    while !pending.is_empty() {
        let Some(ready) = pending.iter().position(|t| outputs.contains_key(&t.input)) else {
            if partial {
                break;
            }
            return Err(DataFusionError::Plan(format!("transform {} has no resolvable input", pending[0].name)));
        };
        let t = pending.remove(ready);
        let df = input_frame(&ctx, take(&mut outputs, &t.input)?)?;
        let df = apply_steps(&ctx, df, &t.steps).await.map_err(|e| TransformPlanError::wrap(&t.name, &e))?;
        let physical = df.create_physical_plan().await?;
        schemas.insert(t.name.clone(), physical.schema());
        let m = Arc::new(StageMetrics::new(&t.name, StageKind::Transform, run_start));
        metrics.push(m.clone());
        m.set_partitions(physical.properties().partitioning.partition_count());
        let staged: Arc<dyn ExecutionPlan> = Arc::new(StageExec::new(physical, m, t.timeout));
        let k = consumers.get(t.name.as_str()).copied().unwrap_or(0);
        outputs.insert(t.name.clone(), fan_out(staged, k));
    }
    let mut sinks = Vec::new();
    for sink in &plan.sinks {
        if !outputs.contains_key(&sink.input) {
            if partial {
                continue;
            }
            return Err(DataFusionError::Plan(format!("sink {} reads unknown stage {}", sink.name, sink.input)));
        }
        let input = match take(&mut outputs, &sink.input)? {
            StageOutput::Plan(p) => p,
            output @ StageOutput::Source(_) => input_frame(&ctx, output)?.create_physical_plan().await?,
        };
        let m = Arc::new(StageMetrics::new(&sink.name, StageKind::Sink, run_start));
        metrics.push(m.clone());
        sinks.push((sink.clone(), input, m));
    }
    Ok(PipelineGraph { ctx, schemas, metrics, sinks })
}

fn take(outputs: &mut HashMap<String, Vec<StageOutput>>, name: &str) -> Result<StageOutput> {
    outputs
        .get_mut(name)
        .and_then(Vec::pop)
        .ok_or_else(|| DataFusionError::Internal(format!("stage {name} has no output left for another consumer")))
}

fn input_frame(ctx: &SessionContext, output: StageOutput) -> Result<DataFrame> {
    match output {
        StageOutput::Source(table) => ctx.read_table(table),
        StageOutput::Plan(plan) => ctx.read_table(Arc::new(PlanTable { plan })),
    }
}

/// A transform's steps that DataFusion cannot plan (an unknown column or function, mismatched
/// types): the stage, kept as a field so `check` can point at it, and DataFusion's reason.
#[derive(Debug, thiserror::Error)]
#[error("transform `{stage}`: {reason}")]
pub struct TransformPlanError {
    pub stage: String,
    pub reason: String,
}

impl TransformPlanError {
    fn wrap(stage: &str, e: &DataFusionError) -> DataFusionError {
        DataFusionError::External(Box::new(Self { stage: stage.to_string(), reason: strip_df_prefix(e) }))
    }
}

/// The transform whose planning failed, when `e` is a [`TransformPlanError`].
pub fn failed_transform(e: &DataFusionError) -> Option<String> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<TransformPlanError>().map(|t| t.stage.clone()),
        _ => None,
    }
}

pub use crate::diagnostics::strip_df_prefix;
