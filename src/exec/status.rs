//! What the targets' ledgers say about a pipeline's runs: read before every run (to resume or
//! clean up) and shown by `flow status`.

pub use crate::connect::sink::read_ledgers;
use crate::connect::sink::{read_ledger, read_ledger_rows};
use crate::ledger;
use crate::plan::table_set::SchemaSinkPlan;
use crate::plan::{PipelinePlan, Relation, SinkPlan, TableName};

/// `flow status` for one pipeline: per sink, where its ledger is and one line per run; an
/// unfinished run names `resume_command` as the way to continue it.
pub async fn render_status(plan: &PipelinePlan, resume_command: &str) -> (String, bool) {
    let mut out = format!("pipeline {}\n", plan.name);
    let mut ok = true;
    for sink in &plan.sinks {
        let target = match &sink.relation {
            Relation::Table { name } => format!("{} {}", sink.endpoint.redacted(), name),
            Relation::File { path } => path.clone(),
            _ => sink.endpoint.redacted(),
        };
        out.push_str(&format!("  sink {} -> {target}\n", sink.name));
        match read_ledger(plan, sink).await {
            Ok(history) if history.is_empty() => out.push_str("    no runs recorded\n"),
            Ok(history) => {
                for line in ledger::describe_runs(&history, resume_command) {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            Err(e) => {
                ok = false;
                out.push_str(&format!("    {e}\n"));
            }
        }
    }
    for set_sink in plan.table_sets.iter().flat_map(|set| &set.sinks) {
        let schema = set_sink.schema.as_deref().map_or("the default schema".to_string(), |s| format!("schema {s}"));
        out.push_str(&format!("  sink {} -> {} {schema} (a table set)\n", set_sink.name, set_sink.endpoint.redacted()));
        match read_ledger_rows(plan, &ledger_probe(set_sink)).await {
            Ok(rows) => {
                let prefix = format!("{}.", set_sink.name);
                let mut members: Vec<&str> =
                    rows.iter().filter_map(|r| r.sink.strip_prefix(&prefix).map(|_| r.sink.as_str())).collect();
                members.sort_unstable();
                members.dedup();
                if members.is_empty() {
                    out.push_str("    no runs recorded\n");
                }
                for member in members {
                    out.push_str(&format!("    table sink {member}\n"));
                    for line in ledger::describe_runs(&ledger::runs_of(&rows, member), resume_command) {
                        out.push_str(&format!("      {line}\n"));
                    }
                }
            }
            Err(e) => {
                ok = false;
                out.push_str(&format!("    {e}\n"));
            }
        }
    }
    (out, ok)
}

/// A sink that writes into a table set's target schema, only to find the ledger there: the
/// ledger of a schema is one table (`ledger::ledger_table`) whatever table the sink names.
fn ledger_probe(set_sink: &SchemaSinkPlan) -> SinkPlan {
    let parts = set_sink.schema.iter().cloned().chain(std::iter::once(ledger::LEDGER_TABLE.to_string())).collect();
    SinkPlan {
        name: set_sink.name.clone(),
        input: String::new(),
        endpoint: set_sink.endpoint.clone(),
        relation: Relation::Table { name: TableName { parts } },
        mode: set_sink.mode.clone(),
        create_if_missing: false,
        batch_size: set_sink.batch_size.unwrap_or(crate::semantic::lower::DEFAULT_BATCH_SIZE),
        timeout: None,
        on_error: set_sink.on_error.clone(),
        max_rejects: None,
        carried: None,
    }
}
