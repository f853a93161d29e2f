//! What the targets' ledgers say about a pipeline's runs: read before every run (to resume or
//! clean up) and shown by `flow status`.

use std::sync::Arc;

use super::graph::strip_df_prefix;
use super::sink::driver_for;
use crate::ledger::{self, LedgerKey, SinkHistory};
use crate::plan::{PipelinePlan, Relation, SinkPlan};

/// One sink's ledger history for a pipeline.
pub async fn read_ledger(plan: &PipelinePlan, sink: &SinkPlan) -> Result<SinkHistory, String> {
    let key = LedgerKey { run_id: String::new(), pipeline: plan.name.clone(), sink: sink.name.clone() };
    let driver = driver_for(sink, Arc::new(arrow::datatypes::Schema::empty()), key)
        .map_err(|e| format!("sink `{}`: {}", sink.name, strip_df_prefix(&e)))?;
    let rows = driver.read_ledger().await.map_err(|e| {
        // A target that cannot be reached is said as such, not as a ledger problem.
        match crate::connect::connect_error::ConnectError::find(&e) {
            Some(connect) => format!("sink `{}`: {connect}", sink.name),
            None => format!("sink `{}`: cannot read its ledger: {}", sink.name, strip_df_prefix(&e)),
        }
    })?;
    Ok(ledger::runs_of(&rows, &sink.name))
}

/// Every sink's ledger history for a pipeline, in plan order.
pub async fn read_ledgers(plan: &PipelinePlan) -> Result<Vec<SinkHistory>, String> {
    futures::future::try_join_all(plan.sinks.iter().map(|sink| read_ledger(plan, sink))).await
}

/// `flow status` for one pipeline: per sink, where its ledger is and one line per run.
pub async fn render_status(plan: &PipelinePlan) -> (String, bool) {
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
                for line in ledger::describe_runs(&history) {
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
