//! What an upsert asks of its rows: one row per key. `mode upsert on (k)` writes each key once
//! (`INSERT ... ON CONFLICT DO UPDATE` cannot take a key twice in one statement on PostgreSQL,
//! and MySQL and SQLite would keep whichever row they met last); a source that holds a key
//! twice (an event log) is refused, unless the sink says which row to keep:
//! `mode upsert on (k) keep last by updated_at` ([`KeepLast`]).
//!
//! Keeping the last row of each key needs all rows of a key in one place. Flow keeps them per
//! partition of the sink's input, so it asks that the rows of one key cannot reach the sink
//! through two partitions ([`key_split`]): the input is one partition, or its source is split
//! by a key column that reaches the sink unchanged.

use serde::{Deserialize, Serialize};

use super::{PipelinePlan, SinkPlan, StepPlan, WriteMode};

/// `keep last by COLUMN`: of the rows sharing a key, the sink writes the one with the largest
/// value of `by` (a NULL counts as smaller than any value). Rows of one key that tie on that
/// largest value are refused unless they are equal in every column, so the row written never
/// depends on the order rows arrive in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepLast {
    pub by: String,
}

impl std::fmt::Display for KeepLast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "keep last by {}", self.by)
    }
}

/// Why the rows of one key of `sink` may reach it through more than one of its input's
/// `partitions`, said as a reason (`source `events` is read in 4 partitions split by
/// `event_id`, which is not a key`); `None` when they cannot, or when `sink` is no upsert.
pub fn key_split(plan: &PipelinePlan, sink: &SinkPlan, partitions: usize) -> Option<String> {
    let WriteMode::Upsert { keys, .. } = &sink.mode else { return None };
    if partitions <= 1 {
        return None;
    }
    let (source, transforms) = plan.lineage(&sink.input)?;
    let Some(spec) = &source.partition else {
        let how = if source.endpoint.backend.is_file() { "one per file" } else { "not split by a key" };
        return Some(format!("source `{}` is read in {partitions} partitions, {how}", source.name));
    };
    let column = &spec.column;
    if !keys.contains(column) {
        return Some(format!(
            "source `{}` is read in {partitions} partitions split by `{column}`, which is not a key",
            source.name
        ));
    }
    for t in transforms {
        let changes = t.steps.iter().any(|step| match step {
            StepPlan::Sql { .. } => true,
            StepPlan::Derive { columns } => columns.iter().any(|c| &c.name == column),
            StepPlan::Rename { columns } => columns.iter().any(|c| &c.from == column || &c.to == column),
            StepPlan::Cast { columns } => columns.iter().any(|c| &c.column == column),
            StepPlan::Filter { .. } | StepPlan::Select { .. } | StepPlan::Drop { .. } => false,
        });
        if changes {
            return Some(format!(
                "source `{}` is split by `{column}`, but transform `{}` may change `{column}` on the way",
                source.name, t.name
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        Backend, DerivedColumn, Endpoint, PartitionSpec, Relation, SourcePlan, TableName, TransformPlan,
    };

    fn plan(partition: Option<&str>, steps: Vec<StepPlan>) -> PipelinePlan {
        let endpoint =
            Endpoint { name: "c".into(), backend: Backend::Sqlite, url: "x.db".into(), options: Default::default() };
        let table = |name: &str| Relation::Table { name: TableName::parse(name) };
        PipelinePlan {
            name: "p".into(),
            parallelism: 4,
            timeout: None,
            sources: vec![SourcePlan {
                name: "s".into(),
                endpoint: endpoint.clone(),
                relation: table("t"),
                partition: partition.map(|c| PartitionSpec { column: c.to_string(), count: 4, automatic: false }),
                batch_size: 10,
                batch_automatic: false,
                timeout: None,
                incremental: None,
                only: false,
            }],
            transforms: vec![TransformPlan { name: "t".into(), input: "s".into(), steps, timeout: None }],
            sinks: vec![SinkPlan {
                name: "out".into(),
                input: "t".into(),
                endpoint,
                relation: table("u"),
                mode: WriteMode::Upsert { keys: vec!["id".into()], keep: Some(KeepLast { by: "ts".into() }) },
                create_if_missing: true,
                batch_size: 10,
                timeout: None,
                on_error: Default::default(),
                max_rejects: None,
                carried: None,
            }],
            table_sets: vec![],
            foreign_keys: vec![],
        }
    }

    #[test]
    fn the_rows_of_a_key_stay_together_only_when_split_by_an_unchanged_key() {
        let derive = |name: &str| StepPlan::Derive {
            columns: vec![DerivedColumn { name: name.to_string(), expr: "1".to_string() }],
        };
        let key_split = |p: &PipelinePlan, n| key_split(p, &p.sinks[0], n);
        assert_eq!(key_split(&plan(None, vec![]), 1), None);
        assert_eq!(key_split(&plan(Some("id"), vec![derive("other")]), 4), None);
        assert_eq!(
            key_split(&plan(None, vec![]), 3).as_deref(),
            Some("source `s` is read in 3 partitions, not split by a key")
        );
        assert_eq!(
            key_split(&plan(Some("ts"), vec![]), 4).as_deref(),
            Some("source `s` is read in 4 partitions split by `ts`, which is not a key")
        );
        assert_eq!(
            key_split(&plan(Some("id"), vec![derive("id")]), 4).as_deref(),
            Some("source `s` is split by `id`, but transform `t` may change `id` on the way")
        );
    }
}
