//! A run's sink partitions on a remote engine (a Ballista cluster): handing them over, showing
//! their progress from the ledgers while the engine works, and checking afterwards that the
//! ledger holds every partition (the ledger, not the engine, says what was written).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::engine::{PartitionEngine, SinkJob, Written};
use super::metrics::{StageKind, StageMetrics};
use super::run::SinkEntry;
use crate::diagnostics::{Failure, codes};
use crate::ledger::{self, LedgerKey};

/// How often the ledgers are read for progress while a cluster writes.
const LEDGER_POLL: Duration = Duration::from_secs(2);
/// Above this many sinks (a table set), progress is not read from the ledgers while the cluster
/// writes: one query per sink every [`LEDGER_POLL`] would load the target. Their partitions are
/// shown done when the jobs end.
const MAX_POLLED_SINKS: usize = 16;

/// Runs every sink partition still to do on `engine`, then reads each sink's ledger: every
/// partition handed over must have its row for this run (the ledger, not the engine, says what
/// was written), and the rows they record count as the sink's rows written and refused. The
/// executors enforce `max rejects` partition by partition; the sum over the run's partitions is
/// checked here, before anything is published.
pub(super) async fn execute_remote(
    engine: &dyn PartitionEngine,
    sinks: &[SinkEntry],
    stages: &[Arc<StageMetrics>],
) -> Result<(), Failure> {
    let jobs: Vec<SinkJob> = sinks
        .iter()
        .map(|s| SinkJob {
            sink: s.exec.sink.clone(),
            key: LedgerKey {
                run_id: s.exec.run_id.clone(),
                pipeline: s.prep.start.pipeline.clone(),
                sink: s.exec.sink.name.clone(),
            },
            input: s.exec.input.clone(),
            parts: (0..s.exec.partitions())
                .filter(|p| s.needs(*p))
                .map(|p| (p, s.exec.details.get(p).cloned().unwrap_or_default()))
                .collect(),
        })
        .filter(|job| !job.parts.is_empty())
        .collect();
    for sink in sinks {
        for p in (0..sink.exec.partitions()).filter(|p| sink.needs(*p)) {
            sink.metrics.partition_started(p);
        }
    }
    // Partitions show as done, with their rows, when the ledger records them (polled while the
    // cluster works), not only when the whole job ends.
    let mut shown = HashSet::new();
    let written = if jobs.is_empty() {
        Ok(Written::default())
    } else {
        let poll = sinks.iter().filter(|s| !s.published).count() <= MAX_POLLED_SINKS;
        let write = engine.write_all(jobs);
        tokio::pin!(write);
        loop {
            tokio::select! {
                written = &mut write => break written,
                () = tokio::time::sleep(LEDGER_POLL), if poll => show_committed(sinks, &mut shown).await,
            }
        }
    };
    let Written { placements, stage_rows } = match written {
        Ok(written) => written,
        Err(failure) => {
            for (index, sink) in sinks.iter().enumerate() {
                for p in (0..sink.exec.partitions()).filter(|p| sink.needs(*p) && !shown.contains(&(index, *p))) {
                    sink.metrics.partition_finished(p, false);
                }
            }
            return Err(failure);
        }
    };
    for (name, rows) in stage_rows {
        if let Some(stage) = stages.iter().find(|m| m.name == name && m.kind != StageKind::Sink) {
            stage.add_rows(rows);
        }
    }
    for (index, sink) in sinks.iter().enumerate().filter(|(_, s)| !s.published) {
        let rows = sink.driver.read_ledger().await.map_err(|e| {
            let reason = crate::diagnostics::strip_df_prefix(&e);
            Failure::new(
                codes::run::LEDGER,
                format!("sink `{}`: cannot read its ledger after the cluster run: {reason}", sink.name),
            )
        })?;
        let state = ledger::runs_of(&rows, &sink.name)
            .into_iter()
            .find_map(|(id, state)| (id == sink.exec.run_id).then_some(state))
            .unwrap_or_default();
        for p in (0..sink.exec.partitions()).filter(|p| sink.needs(*p)) {
            let Some((rows, _)) = state.committed.get(&p) else {
                let message = format!(
                    "sink `{}` partition {p}: the cluster reported success but the ledger has no row for it",
                    sink.name
                );
                return Err(Failure::new(codes::run::LEDGER, message).at(&sink.name, p));
            };
            if shown.insert((index, p)) {
                sink.metrics.add_partition_rows(p, *rows);
                sink.metrics.partition_finished(p, true);
            }
            if let Some(placed) = placements.iter().find(|pl| pl.sink == sink.name && pl.partition == p) {
                sink.metrics.partition_ran_on(p, &placed.executor);
            }
        }
        let refused: u64 = state.refused.values().sum();
        sink.metrics.set_refused(refused);
        if let Some(max) = sink.exec.sink.max_rejects.filter(|max| refused > *max) {
            let by_partition: Vec<String> =
                state.refused.iter().map(|(p, n)| format!("{n} in partition {p}")).collect();
            let message = format!(
                "sink `{}`: {refused} rows refused, more than `max rejects {max}` ({}); nothing was published",
                sink.name,
                by_partition.join(", ")
            );
            return Err(Failure {
                stage: Some(sink.name.clone()),
                ..Failure::new(codes::sink::TOO_MANY_REJECTS, message)
            });
        }
    }
    Ok(())
}

/// Marks each partition the ledgers record as committed by this run, and not shown yet, as
/// done with its rows (`shown` holds `(sink index, partition)`). A ledger that cannot be read
/// now is read again at the next poll: this is progress only.
async fn show_committed(sinks: &[SinkEntry], shown: &mut HashSet<(usize, usize)>) {
    for (index, sink) in sinks.iter().enumerate().filter(|(_, s)| !s.published) {
        let Ok(rows) = sink.driver.read_ledger().await else { continue };
        let state = ledger::runs_of(&rows, &sink.name)
            .into_iter()
            .find_map(|(id, state)| (id == sink.exec.run_id).then_some(state))
            .unwrap_or_default();
        for (p, (rows, _)) in &state.committed {
            if sink.needs(*p) && shown.insert((index, *p)) {
                sink.metrics.add_partition_rows(*p, *rows);
                sink.metrics.partition_finished(*p, true);
            }
        }
    }
}
