//! `flow explain`: what a pipeline will do, without writing anything. Sources that can be
//! reached are described (real schema, partition bounds, the SQL each partition sends); the
//! transforms are planned by DataFusion to show the schema flowing out of each stage; each sink
//! shows its type mapping and DDL. Rendered as text (`text`) or as stable JSON (this module's
//! types, serialised as they are); `graph` draws the resolved pipeline's stages and edges
//! instead (DOT, Mermaid).
//!
//! JSON shape (every key is always present; `null`, `false` or `[]` where it does not apply):
//! `{ "pipelines": [ { "pipeline", "parallelism", "timeout", "stages": [...], "edges": [ {
//! "from", "to" } ], "foreign_keys": [...] } ] }`, each stage `{ "name", "kind", "input",
//! "connection": { "name", "backend", "url" }, "reads", "writes", "batch_size",
//! "batch_automatic", "timeout", "partition_by": { "column", "requested", "automatic" },
//! "incremental", "bounds", "partitions": [ { "index", "reads" } ], "steps", "schema": [ {
//! "name", "type", "nullable" } ], "note", "mode", "create_if_missing", "on_error",
//! "type_mapping", "ddl", "publish", "warnings" }`. [`STAGE_KEYS`] lists the stage keys; a
//! test holds the output to it.

pub mod graph;
pub mod text;
mod unexpanded;

use std::collections::HashMap;
use std::time::Instant;

use arrow::datatypes::SchemaRef;
use serde::Serialize;

use crate::connect::target::{ColumnMapping, plan_target};
use crate::connect::{self, ScanPartition};
use crate::exec::graph as exec_graph;
use crate::exec::metrics::StageKind;
use crate::plan::duration::format_duration;
use crate::plan::{Backend, PartitionBounds, Relation, StepPlan};
use crate::resolve::ResolvedPipeline;

#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub pipelines: Vec<ExplainedPipeline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedPipeline {
    pub pipeline: String,
    pub parallelism: usize,
    pub timeout: Option<String>,
    pub stages: Vec<ExplainedStage>,
    pub edges: Vec<Edge>,
    /// Foreign keys between the tables of table sets, added after every table is published.
    pub foreign_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    pub name: String,
    pub backend: String,
    /// Password redacted.
    pub url: String,
}

/// The keys of every stage object in `flow explain --format json`, in output order.
pub const STAGE_KEYS: [&str; 23] = [
    "name",
    "kind",
    "input",
    "connection",
    "reads",
    "writes",
    "batch_size",
    "batch_automatic",
    "timeout",
    "partition_by",
    "incremental",
    "bounds",
    "partitions",
    "steps",
    "schema",
    "note",
    "mode",
    "create_if_missing",
    "on_error",
    "type_mapping",
    "ddl",
    "publish",
    "warnings",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct ExplainedStage {
    pub name: String,
    pub kind: Option<StageKind>,
    pub input: Option<String>,
    pub connection: Option<Connection>,
    /// Sources: the table, query or file read; null for other stages.
    pub reads: Option<String>,
    /// Sinks: the table or file written; null for other stages.
    pub writes: Option<String>,
    pub batch_size: Option<usize>,
    /// The batch size was chosen from the row width (no `batch` in the file or profile).
    pub batch_automatic: bool,
    pub timeout: Option<String>,
    pub partition_by: Option<PartitionBy>,
    /// An incremental source's range for the next run: `column`, `previous` (null: first run),
    /// `current` (the column's maximum now). Null for a source read whole, and other stages.
    pub incremental: Option<crate::ledger::watermark::Watermark>,
    pub bounds: Option<PartitionBounds>,
    pub partitions: Vec<ExplainedPartition>,
    pub steps: Vec<String>,
    pub schema: Option<Vec<Column>>,
    /// Why something is missing (e.g. the source could not be reached).
    pub note: Option<String>,
    pub mode: Option<String>,
    pub create_if_missing: Option<bool>,
    /// What happens to a row the target refuses (database sinks): `fail`, `skip`,
    /// `reject to TABLE`, with `max rejects N` when given. Null for other stages and file sinks.
    pub on_error: Option<String>,
    pub type_mapping: Vec<ColumnMapping>,
    pub ddl: Vec<String>,
    pub publish: Option<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartitionBy {
    pub column: String,
    pub requested: usize,
    /// Chosen by Flow for a large table with an integer primary key.
    pub automatic: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainedPartition {
    pub index: usize,
    /// The SQL sent, the file read, or the row range generated.
    pub reads: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

/// Explains one resolved pipeline; no I/O beyond what DataFusion's planner does. Planning errors
/// of transforms come back as `Err((stage, message))`, `stage` empty when the failure is not a
/// transform's, so `check` can point at the stage. `cluster`: the run goes to a cluster
/// (`--engine`), where a MySQL source's partitions cannot share one snapshot, as it then says.
pub async fn explain_pipeline(
    resolved: &ResolvedPipeline,
    cluster: bool,
) -> Result<ExplainedPipeline, (String, String)> {
    let (plan, discovery) = (&resolved.plan, &resolved.sources);
    let shapes = resolved.shapes();
    let graph = match exec_graph::build(plan, &shapes, Instant::now(), true).await {
        Ok(g) => g,
        Err(e) => {
            let message = exec_graph::strip_df_prefix(&e);
            let stage = exec_graph::failed_transform(&e).unwrap_or_default();
            return Err((stage, message));
        }
    };
    let source_sql = pushed_sql(&graph);
    let mut stages = Vec::new();
    for s in &plan.sources {
        let mut stage = ExplainedStage {
            name: s.name.clone(),
            kind: Some(StageKind::Source),
            connection: Some(connection(&s.endpoint)),
            reads: Some(relation_text(&s.relation)),
            batch_size: Some(s.batch_size),
            batch_automatic: s.batch_automatic,
            timeout: s.timeout.map(format_duration),
            partition_by: s.partition.as_ref().map(|p| PartitionBy {
                column: p.column.clone(),
                requested: p.count,
                automatic: p.automatic,
            }),
            ..Default::default()
        };
        match discovery.get(&s.name) {
            Some(Ok(shape)) => {
                stage.bounds = shape.bounds.clone();
                stage.incremental = shape.watermark.clone();
                stage.schema = Some(columns(&shape.schema));
                // How a reader interprets values that are not plain copies (SQLite time values,
                // REALs read as decimals, CSV types inferred from the first rows).
                let note_key = connect::sqlite::reader::READ_NOTE_KEY;
                stage.warnings.extend(shape.schema.metadata().get(note_key).cloned());
                stage.warnings.extend(shape.schema.fields().iter().filter_map(|f| {
                    let note = f.metadata().get(note_key)?;
                    Some(format!("column `{}`: {note}", f.name()))
                }));
                let pushed = source_sql.get(&s.name);
                stage.partitions = shape
                    .partitions
                    .iter()
                    .enumerate()
                    .map(|(i, p)| ExplainedPartition {
                        index: i,
                        reads: match p {
                            ScanPartition::Rows { start, end } => {
                                format!("rows {}..{} (ids {}..={})", start, end, start + 1, end)
                            }
                            ScanPartition::File { path } => format!("file {path}"),
                            ScanPartition::Query { predicate, chunks } => {
                                let sql = pushed.and_then(|sqls| sqls.get(i).cloned().flatten()).unwrap_or_else(|| {
                                    connect::partition_sql(s, &connect::Pushdown::default(), predicate.as_deref())
                                });
                                if chunks.is_empty() {
                                    sql
                                } else {
                                    format!(
                                        "{sql}  (read in {} chunks of at most {} keys)",
                                        chunks.len(),
                                        connect::CHUNK_KEYS
                                    )
                                }
                            }
                        },
                    })
                    .collect();
                stage.warnings.extend(shape.notes.iter().cloned());
                // What a run does to give the partitions one snapshot (explain takes none itself),
                // which a cluster's executors cannot share.
                let run_snapshot =
                    connect::registry::backend(s.endpoint.backend).source.and_then(|db| db.run_snapshot_note());
                if let Some(note) = run_snapshot.filter(|_| shape.partitions.len() > 1) {
                    stage.warnings.push(if cluster { connect::cluster_snapshot_note(s) } else { note.to_string() });
                }
            }
            Some(Err(reason)) => {
                stage.note = Some(format!("not reachable, so no schema or partition bounds: {reason}"));
            }
            None => {}
        }
        stages.push(stage);
    }
    let (set_sources, set_sinks, set_edges) = unexpanded::stages(plan);
    stages.extend(set_sources);
    for t in &plan.transforms {
        let schema = graph.schemas.get(&t.name);
        stages.push(ExplainedStage {
            name: t.name.clone(),
            kind: Some(StageKind::Transform),
            input: Some(t.input.clone()),
            timeout: t.timeout.map(format_duration),
            steps: t.steps.iter().map(step_text).collect(),
            schema: schema.map(columns),
            note: schema.is_none().then(|| "schema unknown: its source could not be described".to_string()),
            ..Default::default()
        });
    }
    for sink in &plan.sinks {
        let mut stage = ExplainedStage {
            name: sink.name.clone(),
            kind: Some(StageKind::Sink),
            input: Some(sink.input.clone()),
            connection: Some(connection(&sink.endpoint)),
            writes: Some(relation_text(&sink.relation)),
            batch_size: Some(sink.batch_size),
            timeout: sink.timeout.map(format_duration),
            mode: Some(sink.mode.to_string()),
            create_if_missing: sink.endpoint.backend.is_database().then_some(sink.create_if_missing),
            on_error: sink.endpoint.backend.is_database().then(|| match sink.max_rejects {
                Some(n) => format!("{}, max rejects {n}", sink.on_error),
                None => sink.on_error.to_string(),
            }),
            ..Default::default()
        };
        match graph.schemas.get(&sink.input) {
            Some(schema) => {
                stage.schema = Some(columns(schema));
                match plan_target(sink, schema) {
                    Ok(target) => {
                        stage.type_mapping = target.mapping;
                        stage.ddl = target.ddl;
                        stage.publish = Some(target.publish);
                        stage.warnings = target.warnings;
                    }
                    Err(e) => stage.note = Some(e.to_string()),
                }
                if let Some(carried) = &sink.carried {
                    apply_carried(&mut stage, carried, sink.endpoint.backend);
                }
            }
            None => stage.note = Some("type mapping unknown: the input's schema could not be determined".into()),
        }
        stages.push(stage);
    }
    stages.extend(set_sinks);
    Ok(ExplainedPipeline {
        pipeline: plan.name.clone(),
        parallelism: plan.parallelism,
        timeout: plan.timeout.map(format_duration),
        foreign_keys: plan.foreign_keys.iter().flat_map(|step| step.statements.iter().cloned()).collect(),
        stages,
        edges: plan.edges().into_iter().map(|(from, to)| Edge { from, to }).chain(set_edges).collect(),
    })
}

/// A table of a table set is created with its source's definition: that DDL, the target
/// types it gives, and what it could not carry over.
fn apply_carried(stage: &mut ExplainedStage, carried: &crate::plan::table_set::CarriedTable, backend: Backend) {
    for mapping in &mut stage.type_mapping {
        if let Some((_, ty)) = carried.column_types.iter().find(|(name, _)| *name == mapping.column) {
            mapping.target_type.clone_from(ty);
        }
    }
    stage.ddl = carried.create_types.iter().chain(&carried.create).chain(&carried.after_load).cloned().collect();
    if let Some(reset) = &carried.sequence_reset {
        stage.ddl.extend(connect::target::sequence_reset_text(backend, reset));
    }
    stage.publish = Some(format!(
        "{}; the table is created with the definition of {} when it is missing or replaced; indexes after \
         the rows, foreign keys after every table",
        stage.publish.take().unwrap_or_default(),
        carried.source
    ));
    stage.warnings.extend(carried.warnings.iter().cloned());
}

/// The SQL each source partition really sends (with the projection DataFusion pushed into it),
/// read from the `SourceExec` nodes of the planned graph.
fn pushed_sql(graph: &exec_graph::PipelineGraph) -> HashMap<String, Vec<Option<String>>> {
    use datafusion::physical_plan::ExecutionPlan;
    use std::sync::Arc;
    fn walk(plan: &Arc<dyn ExecutionPlan>, out: &mut HashMap<String, Vec<Option<String>>>) {
        if let Some(source) = (plan.as_ref() as &dyn std::any::Any).downcast_ref::<crate::exec::nodes::SourceExec>() {
            out.entry(source.source.name.clone()).or_insert_with(|| source.partition_sql());
        }
        for child in plan.children() {
            walk(child, out);
        }
    }
    let mut out = HashMap::new();
    for (_, input, _) in &graph.sinks {
        walk(input, &mut out);
    }
    out
}

fn connection(e: &crate::plan::Endpoint) -> Connection {
    Connection { name: e.name.clone(), backend: e.backend.name().to_string(), url: e.redacted() }
}

fn relation_text(r: &Relation) -> String {
    r.to_string()
}

pub fn columns(schema: &SchemaRef) -> Vec<Column> {
    schema
        .fields()
        .iter()
        .map(|f| Column { name: f.name().clone(), data_type: f.data_type().to_string(), nullable: f.is_nullable() })
        .collect()
}

fn step_text(step: &StepPlan) -> String {
    match step {
        StepPlan::Filter { predicate } => format!("filter {predicate}"),
        StepPlan::Derive { columns } => {
            format!(
                "derive {}",
                columns.iter().map(|c| format!("{} = {}", c.name, c.expr)).collect::<Vec<_>>().join(", ")
            )
        }
        StepPlan::Select { columns } => format!("select {}", columns.join(", ")),
        StepPlan::Drop { columns } => format!("drop {}", columns.join(", ")),
        StepPlan::Rename { columns } => {
            format!(
                "rename {}",
                columns.iter().map(|c| format!("{} as {}", c.from, c.to)).collect::<Vec<_>>().join(", ")
            )
        }
        StepPlan::Cast { columns } => {
            format!(
                "cast {}",
                columns.iter().map(|c| format!("{} as {}", c.column, c.to)).collect::<Vec<_>>().join(", ")
            )
        }
        StepPlan::Sql { query } => format!("sql {query}"),
    }
}
