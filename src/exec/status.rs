//! What the targets' ledgers say about a pipeline's runs: read before every run (to resume or
//! clean up) and shown by `flow status`.

use crate::connect::sink::read_ledger;
pub use crate::connect::sink::read_ledgers;
use crate::ledger;
use crate::plan::{PipelinePlan, Relation};

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
    (out, ok)
}
