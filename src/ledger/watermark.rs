//! High-water marks of incremental sources (`incremental on COLUMN`).
//!
//! A run of an incremental source reads the rows whose column lies past the mark the previous
//! run reached, up to the column's maximum when this run starts (its own mark):
//!
//! ```text
//!   first run        column <= mark OR column IS NULL      (everything there is)
//!   later runs       column >  previous AND column <= mark
//! ```
//!
//! The upper bound makes a run repeatable: a resumed or restarted run reads exactly the rows the
//! interrupted one would have, even while the source keeps growing; rows past the mark are the
//! next run's. The mark is stored in each sink's ledger on its `publish` row, so it advances in
//! the same transaction as the data it covers: a run that fails never moves it, and the next run
//! reads the same changes again, once.
//!
//! NULLs: a row whose column is NULL is read by the first run only (a later run cannot tell an
//! old NULL from a new one). Give the column a default, or backfill it, to have such rows copied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ledger::SinkHistory;
use crate::plan::PipelinePlan;
use crate::plan::partition::BoundValue;
use crate::plan::sql::Dialect;

/// A mark: the column's greatest value when a run started; `None` when it held no value then
/// (no rows, or only NULLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark(pub Option<BoundValue>);

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(v) => write!(f, "{v}"),
            None => f.write_str("no value yet"),
        }
    }
}

/// Where the previous run of an incremental source stopped, as its sinks' ledgers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// No sink ever published this source: read everything.
    FirstRun,
    Mark(Mark),
}

/// The range one run of an incremental source reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub column: String,
    /// The previous run's mark; `None` on the first run.
    pub previous: Option<Mark>,
    /// This run's mark, stored in the ledger when the run publishes.
    pub current: Mark,
}

impl Watermark {
    /// This run's range from where the previous run stopped and the column's maximum now. The
    /// mark never moves back (rows deleted at the top of the range leave it where it was).
    pub fn new(column: &str, since: &Since, found: Option<BoundValue>) -> Self {
        let previous = match since {
            Since::FirstRun => None,
            Since::Mark(mark) => Some(mark.clone()),
        };
        let current = match previous.as_ref().and_then(|m| m.0) {
            Some(before) => Mark(Some(found.map_or(before, |now| now.max(before)))),
            None => Mark(found),
        };
        Self { column: column.to_string(), previous, current }
    }

    /// The condition that selects this run's rows; `None`: every row (a first run over a column
    /// that holds no value).
    pub fn predicate(&self, dialect: Dialect) -> Option<String> {
        let col = dialect.ident(&self.column);
        let upper = self.current.0.map(|v| format!("{col} <= {}", v.sql_literal(dialect)));
        match (&self.previous, upper) {
            (None, None) => None,
            (None, Some(upper)) => Some(format!("({upper} OR {col} IS NULL)")),
            (Some(_), None) => Some("1 = 0".to_string()),
            (Some(Mark(None)), Some(upper)) => Some(upper),
            (Some(Mark(Some(lower))), Some(upper)) => {
                Some(format!("{col} > {} AND {upper}", lower.sql_literal(dialect)))
            }
        }
    }

    /// One line for `explain` and the run report.
    pub fn describe(&self) -> String {
        match &self.previous {
            None => format!("first run: every row, up to {} = {}", self.column, self.current),
            Some(previous) => {
                format!("rows with {} after {previous}, up to {}", self.column, self.current)
            }
        }
    }
}

/// What a sink's `publish` row records: the marks of the incremental sources it was fed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishDetail {
    #[serde(default)]
    pub watermarks: BTreeMap<String, Watermark>,
}

impl PublishDetail {
    pub fn to_json(&self) -> String {
        if self.watermarks.is_empty() { String::new() } else { serde_json::to_string(self).unwrap_or_default() }
    }

    /// The detail of a `publish` row; an empty or foreign detail holds no marks.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_default()
    }
}

/// The sinks of one incremental source stopped at different marks (an interrupted run published
/// some of them): the source cannot be read once for all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarksDiverge {
    pub source: String,
    /// A sink and where it stopped (`nothing yet`, or its mark), and another that stopped elsewhere.
    pub first: (String, String),
    pub other: (String, String),
}

impl MarksDiverge {
    /// What to say, naming `resume_command` (e.g. ``flow run orders.flow --resume``: it depends
    /// on the command that was run) as the way to finish the interrupted run.
    pub fn message(&self, resume_command: &str) -> String {
        format!(
            "the sinks of incremental source `{}` have copied different ranges (`{}` up to {}, `{}` up to {}): \
             finish the interrupted run with {resume_command}, or give each sink its own pipeline",
            self.source, self.first.0, self.first.1, self.other.0, self.other.1
        )
    }
}

impl std::fmt::Display for MarksDiverge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message("`--resume`"))
    }
}

/// Where each incremental source of `plan` starts, from the sinks' ledger histories (in plan
/// order): the mark of the last run each sink published. Every sink fed by a source must agree,
/// since the source is read once for all of them.
pub fn since_marks(plan: &PipelinePlan, histories: &[SinkHistory]) -> Result<BTreeMap<String, Since>, MarksDiverge> {
    let mut out = BTreeMap::new();
    for source in plan.sources.iter().filter(|s| s.incremental.is_some()) {
        let mut seen: Vec<(&str, Since)> = Vec::new();
        for (sink, history) in plan.sinks.iter().zip(histories) {
            if plan.lineage(&sink.input).is_none_or(|(s, _)| s.name != source.name) {
                continue;
            }
            let last = history.iter().rev().find(|(_, state)| state.published);
            let since = match last.and_then(|(_, state)| state.watermarks.get(&source.name)) {
                Some(w) => Since::Mark(w.current.clone()),
                None => Since::FirstRun,
            };
            seen.push((&sink.name, since));
        }
        if let Some((first_sink, first)) = seen.first()
            && let Some((other_sink, other)) = seen.iter().find(|(_, s)| s != first)
        {
            let show = |s: &Since| match s {
                Since::FirstRun => "nothing yet".to_string(),
                Since::Mark(m) => m.to_string(),
            };
            return Err(MarksDiverge {
                source: source.name.clone(),
                first: (first_sink.to_string(), show(first)),
                other: (other_sink.to_string(), show(other)),
            });
        }
        out.insert(source.name.clone(), seen.into_iter().next().map_or(Since::FirstRun, |(_, s)| s));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_cover_first_and_later_runs() {
        let w = Watermark::new("id", &Since::FirstRun, Some(BoundValue::Int(10)));
        assert_eq!(w.predicate(Dialect::Postgres).as_deref(), Some("(\"id\" <= 10 OR \"id\" IS NULL)"));
        let w = Watermark::new("id", &Since::Mark(Mark(Some(BoundValue::Int(10)))), Some(BoundValue::Int(25)));
        assert_eq!(w.predicate(Dialect::Mysql).as_deref(), Some("`id` > 10 AND `id` <= 25"));
        assert_eq!(w.current, Mark(Some(BoundValue::Int(25))));
        let w = Watermark::new("id", &Since::FirstRun, None);
        assert_eq!(w.predicate(Dialect::Postgres), None);
        let w = Watermark::new("id", &Since::Mark(Mark(None)), None);
        assert_eq!(w.predicate(Dialect::Postgres).as_deref(), Some("1 = 0"));
        let w = Watermark::new("id", &Since::Mark(Mark(None)), Some(BoundValue::Int(3)));
        assert_eq!(w.predicate(Dialect::Sqlite).as_deref(), Some("\"id\" <= 3"));
    }

    #[test]
    fn the_mark_never_moves_back() {
        let w = Watermark::new("id", &Since::Mark(Mark(Some(BoundValue::Int(10)))), Some(BoundValue::Int(7)));
        assert_eq!(w.current, Mark(Some(BoundValue::Int(10))));
        assert_eq!(w.predicate(Dialect::Postgres).as_deref(), Some("\"id\" > 10 AND \"id\" <= 10"));
        let w = Watermark::new("id", &Since::Mark(Mark(Some(BoundValue::Int(10)))), None);
        assert_eq!(w.current, Mark(Some(BoundValue::Int(10))));
    }

    #[test]
    fn publish_detail_round_trips() {
        let mut detail = PublishDetail::default();
        assert_eq!(detail.to_json(), "");
        let w = Watermark::new("id", &Since::FirstRun, Some(BoundValue::Int(4)));
        detail.watermarks.insert("orders".into(), w);
        assert_eq!(PublishDetail::parse(&detail.to_json()), detail);
        assert_eq!(PublishDetail::parse(""), PublishDetail::default());
    }
}
