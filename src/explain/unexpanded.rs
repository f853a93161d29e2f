//! Table sets that resolving did not expand (`flow explain --offline` reads no catalog): each is
//! listed as written, as a source stage for the set, one for each of its tables another stage
//! reads, and a sink stage for each of its `.schema(...)` sinks, all marked as not expanded,
//! so the text and JSON views list every stage the graph views draw.

use super::{Edge, ExplainedStage, PartitionBy, connection};
use crate::exec::metrics::StageKind;
use crate::plan::PipelinePlan;
use crate::plan::duration::format_duration;
use crate::plan::table_set::{MemberSource, TableSetPlan};

/// The note on every stage of a set that was not expanded.
pub const NOT_EXPANDED: &str = "table set not expanded: its catalog is not read offline, so its tables are not listed";

/// The stages of `plan`'s unexpanded table sets: `(sources, sinks, edges)`; the edges run from
/// each set to its schema sinks (the plan's own edges already name the tables other stages read).
pub fn stages(plan: &PipelinePlan) -> (Vec<ExplainedStage>, Vec<ExplainedStage>, Vec<Edge>) {
    let (mut sources, mut sinks, mut edges) = (Vec::new(), Vec::new(), Vec::new());
    for set in plan.unexpanded_table_sets() {
        sources.push(source(set, set.name.clone(), tables_read(set), &set.defaults));
        let inputs = plan.transforms.iter().map(|t| &t.input).chain(plan.sinks.iter().map(|s| &s.input));
        let mut read: Vec<&str> = Vec::new();
        for input in inputs {
            if let Some(table) = set.member_table(input).filter(|_| !read.contains(&input.as_str())) {
                read.push(input);
                let options = set.tables.get(table).cloned().unwrap_or_default();
                let member = MemberSource {
                    partition: options.partition.or(set.defaults.partition.clone()),
                    incremental: None,
                    batch_size: options.batch_size.or(set.defaults.batch_size),
                    timeout: options.timeout.or(set.defaults.timeout),
                };
                let mut stage = source(set, input.clone(), format!("table {table} of table set {}", set.name), &member);
                stage.note = Some(format!(
                    "table set `{}` not expanded: its catalog is not read offline, so this table's schema is unknown",
                    set.name
                ));
                sources.push(stage);
            }
        }
        for sink in &set.sinks {
            let on_error = match sink.max_rejects {
                Some(n) => format!("{}, max rejects {n}", sink.on_error),
                None => sink.on_error.to_string(),
            };
            sinks.push(ExplainedStage {
                name: sink.name.clone(),
                kind: Some(StageKind::Sink),
                input: Some(set.name.clone()),
                connection: Some(connection(&sink.endpoint)),
                writes: Some(match &sink.schema {
                    Some(schema) => format!("schema {schema}, a table per table of the set"),
                    None => "the connection's schema, a table per table of the set".to_string(),
                }),
                batch_size: sink.batch_size,
                timeout: sink.timeout.map(format_duration),
                mode: Some(sink.mode.to_string()),
                create_if_missing: Some(sink.create_if_missing),
                on_error: Some(on_error),
                note: Some(NOT_EXPANDED.to_string()),
                ..Default::default()
            });
            edges.push(Edge { from: set.name.clone(), to: sink.name.clone() });
        }
    }
    (sources, sinks, edges)
}

/// A source stage of set `set`: the set itself or one of its tables, read with `options`.
fn source(set: &TableSetPlan, name: String, reads: String, options: &MemberSource) -> ExplainedStage {
    ExplainedStage {
        name,
        kind: Some(StageKind::Source),
        connection: Some(connection(&set.endpoint)),
        reads: Some(reads),
        batch_size: options.batch_size,
        batch_automatic: options.batch_size.is_none(),
        timeout: options.timeout.map(format_duration),
        partition_by: options.partition.as_ref().map(|p| PartitionBy {
            column: p.column.clone(),
            requested: p.count,
            automatic: p.automatic,
        }),
        note: Some(NOT_EXPANDED.to_string()),
        ..Default::default()
    }
}

/// `tables public.*, exclude audit_*`, or `every table`.
fn tables_read(set: &TableSetPlan) -> String {
    let mut text =
        if set.include.is_empty() { "every table".to_string() } else { format!("tables {}", set.include.join(", ")) };
    if !set.exclude.is_empty() {
        text.push_str(&format!(", exclude {}", set.exclude.join(", ")));
    }
    text
}
