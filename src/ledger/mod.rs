//! The partition ledger: what each run committed, stored in the target itself so that it commits
//! with the data. A database target holds a `_flow_ledger` table beside the target table; a file
//! target holds a sidecar `<file>.flow-ledger.json`.
//!
//! One row per event:
//!
//! | event       | part | detail                                  | rows              |
//! |-------------|------|-----------------------------------------|-------------------|
//! | `start`     | -1   | the run's [`Layout`] of the sink's source, as JSON | partitions |
//! | `partition` | p    | what partition p read (its predicate)   | rows written      |
//! | `publish`   | -1   | marks of incremental sources, as JSON   | rows published    |
//! | `abandon`   | -1   | why (a new run started)                 | 0                 |
//!
//! A `partition` row is written in the same transaction as the partition's rows (into the run's
//! staging table); the `publish` row in the same transaction that moves staging into the target.
//! So after any crash the ledger says exactly which partitions are in the staging table and
//! whether the target has them: `--resume` redoes only the rest.

pub mod checksum;
pub mod watermark;

pub use checksum::{RowChecksum, row_hashes};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::plan::TableName;
use crate::plan::partition::ScanPartition;
use crate::plan::sql::Dialect;
use watermark::{PublishDetail, Watermark};

pub const LEDGER_TABLE: &str = "_flow_ledger";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Start,
    Partition,
    /// Rows of a partition the target refused and `on error` skipped or rejected, committed
    /// with the partition (`rows` is their count; only written when there were any). The run
    /// sums them for `max rejects` when the partitions were written elsewhere (a cluster).
    Refused,
    Publish,
    Abandon,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Partition => "partition",
            Self::Refused => "refused",
            Self::Publish => "publish",
            Self::Abandon => "abandon",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "start" => Self::Start,
            "partition" => Self::Partition,
            "refused" => Self::Refused,
            "publish" => Self::Publish,
            "abandon" => Self::Abandon,
            _ => return None,
        })
    }
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub run_id: String,
    pub pipeline: String,
    pub sink: String,
    pub event: Event,
    pub part: i64,
    pub detail: String,
    pub rows: i64,
    pub checksum: String,
    pub recorded_at: String,
}

/// Who writes: the run, its pipeline and the sink stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerKey {
    pub run_id: String,
    pub pipeline: String,
    pub sink: String,
}

impl LedgerKey {
    pub fn row(&self, event: Event, part: i64, detail: &str, rows: u64, checksum: &str) -> LedgerRow {
        LedgerRow {
            run_id: self.run_id.clone(),
            pipeline: self.pipeline.clone(),
            sink: self.sink.clone(),
            event,
            part,
            detail: detail.to_string(),
            rows: i64::try_from(rows).unwrap_or(i64::MAX),
            checksum: checksum.to_string(),
            recorded_at: now_text(),
        }
    }
}

/// The ledger's time stamp for an event happening now: UTC, microseconds.
pub fn now_text() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// What a run reads, recorded at its start so that a resumed run reads the same partitions even
/// if the source has grown since. `fingerprint` identifies the pipeline as planned: a resume
/// with a changed file or variables is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub fingerprint: String,
    pub sources: BTreeMap<String, Vec<ScanPartition>>,
    /// The range each incremental source reads in this run (see `crate::ledger::watermark`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub watermarks: BTreeMap<String, Watermark>,
}

impl Layout {
    /// What a sink fed by `source` records in its `start` row: the fingerprint and that source's
    /// partitions and range. Each sink records only its own source (a sink has one), so a set
    /// of N tables records N small layouts rather than N copies of the whole run's; a resume
    /// puts them back together ([`resume_point`]). Ledgers written before recorded the whole
    /// layout in every row, which puts together the same.
    pub fn of_source(&self, source: &str) -> Layout {
        Layout {
            fingerprint: self.fingerprint.clone(),
            sources: self.sources.get_key_value(source).map(|(k, v)| (k.clone(), v.clone())).into_iter().collect(),
            watermarks: self
                .watermarks
                .get_key_value(source)
                .map(|(k, v)| (k.clone(), v.clone()))
                .into_iter()
                .collect(),
        }
    }
}

/// What a sink's `prepare` is told by the runner.
#[derive(Debug, Clone)]
pub struct Preparation {
    /// The `start` row of this run (written on a fresh run, already there on a resume).
    pub start: LedgerRow,
    /// On a resume: the rows the ledger says the staging area holds. `prepare` checks the
    /// staging area against it and starts the sink over (returning `false`) when they differ.
    pub resume_rows: Option<u64>,
    /// Earlier runs of this sink that never finished: their staging is dropped and each gets an
    /// `abandon` row.
    pub abandon: Vec<String>,
    /// The last published run, whose staging may survive a crash between commit and cleanup.
    pub last_published: Option<String>,
}

/// The columns of the ledger table, as an Arrow schema (each backend maps it to its types).
pub fn ledger_schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("run_id"),
        text("pipeline"),
        text("sink"),
        text("event"),
        int("part"),
        text("detail"),
        int("row_count"),
        text("checksum"),
        text("recorded_at"),
    ]))
}

/// The ledger table beside `target` (same schema or database).
pub fn ledger_table(target: &TableName) -> TableName {
    let mut parts = target.parts.clone();
    match parts.last_mut() {
        Some(last) => *last = LEDGER_TABLE.to_string(),
        None => parts.push(LEDGER_TABLE.to_string()),
    }
    TableName { parts }
}

/// `INSERT` of one ledger row; every value is a quoted literal.
pub fn insert_sql(dialect: Dialect, table: &TableName, row: &LedgerRow) -> String {
    let s = |v: &str| dialect.string(v);
    format!(
        "INSERT INTO {} (run_id, pipeline, sink, event, part, detail, row_count, checksum, recorded_at) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})",
        dialect.table(table),
        s(&row.run_id),
        s(&row.pipeline),
        s(&row.sink),
        s(row.event.as_str()),
        row.part,
        s(&row.detail),
        row.rows,
        s(&row.checksum),
        s(&row.recorded_at)
    )
}

/// The query that reads a pipeline's rows, every column as text, oldest first.
pub fn select_sql(dialect: Dialect, table: &TableName, pipeline: &str) -> String {
    let (part, rows) = (dialect.cast_to_text("part"), dialect.cast_to_text("row_count"));
    format!(
        "SELECT run_id, pipeline, sink, event, {part}, detail, {rows}, checksum, recorded_at FROM {} \
         WHERE pipeline = {} ORDER BY recorded_at, run_id, part",
        dialect.table(table),
        dialect.string(pipeline)
    )
}

/// A ledger row from the text columns of [`select_sql`]; rows that do not parse are skipped
/// (a hand-edited ledger must not stop a run).
pub fn parse_row(cols: &[Option<String>]) -> Option<LedgerRow> {
    let text = |i: usize| cols.get(i).cloned().flatten().unwrap_or_default();
    Some(LedgerRow {
        run_id: text(0),
        pipeline: text(1),
        sink: text(2),
        event: Event::parse(&text(3))?,
        part: text(4).parse().ok()?,
        detail: text(5),
        rows: text(6).parse().ok()?,
        checksum: text(7),
        recorded_at: text(8),
    })
}

/// The state of one run of one sink, read back from its ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SinkRunState {
    pub started_at: String,
    pub layout: Option<Layout>,
    pub partitions: usize,
    /// Committed partitions: rows and checksum of each.
    pub committed: BTreeMap<usize, (u64, String)>,
    /// Rows refused by committed partitions (`on error skip` or `reject to`), by partition;
    /// partitions that refused none are absent.
    pub refused: BTreeMap<usize, u64>,
    pub published: bool,
    pub abandoned: bool,
    /// The marks of incremental sources this run published up to.
    pub watermarks: BTreeMap<String, Watermark>,
}

impl SinkRunState {
    pub fn finished(&self) -> bool {
        self.published || self.abandoned
    }

    pub fn committed_rows(&self) -> u64 {
        self.committed.values().map(|(r, _)| r).sum()
    }

    pub fn committed_set(&self) -> BTreeSet<usize> {
        self.committed.keys().copied().collect()
    }
}

/// Folds a sink's ledger rows into one state per run, in the order the runs started.
pub fn runs_of(rows: &[LedgerRow], sink: &str) -> Vec<(String, SinkRunState)> {
    let mut order: Vec<String> = Vec::new();
    let mut states: BTreeMap<String, SinkRunState> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.sink == sink) {
        if !states.contains_key(&row.run_id) {
            order.push(row.run_id.clone());
        }
        let state = states.entry(row.run_id.clone()).or_default();
        match row.event {
            Event::Start => {
                state.started_at = row.recorded_at.clone();
                state.layout = serde_json::from_str(&row.detail).ok();
                state.partitions = usize::try_from(row.rows).unwrap_or(0);
            }
            Event::Partition => {
                if let Ok(p) = usize::try_from(row.part) {
                    state.committed.insert(p, (u64::try_from(row.rows).unwrap_or(0), row.checksum.clone()));
                }
            }
            Event::Refused => {
                if let Ok(p) = usize::try_from(row.part) {
                    state.refused.insert(p, u64::try_from(row.rows).unwrap_or(0));
                }
            }
            Event::Publish => {
                state.published = true;
                state.watermarks = PublishDetail::parse(&row.detail).watermarks;
            }
            Event::Abandon => state.abandoned = true,
        }
    }
    order.into_iter().filter_map(|id| states.remove(&id).map(|s| (id, s))).collect()
}

/// The runs one sink's ledger records, oldest first.
pub type SinkHistory = Vec<(String, SinkRunState)>;

/// Where a `--resume` continues: the run, what it reads (the sources of the sinks that started
/// in it; a source none of whose sinks started is read afresh), and how far each sink got
/// (`None`: the sink never started in that run).
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePoint {
    pub run_id: String,
    pub layout: Layout,
    pub sinks: Vec<Option<SinkRunState>>,
}

/// What `--resume` finds in the ledgers.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// No run is recorded: nothing was ever published by Flow here, so a fresh run is safe.
    NothingRecorded,
    /// The last run finished: running again could write its rows twice, so nothing is done.
    Finished {
        run_id: String,
    },
    Continue(ResumePoint),
}

/// Why the latest run cannot be resumed (`flow::run::ledger`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// No sink's ledger holds the run's `start` row, which records its partitions.
    #[error("cannot resume run {run_id}: its start is not recorded; run without --resume")]
    NoStart { run_id: String },
    /// The run was started from another pipeline (file, variables or connections).
    #[error(
        "cannot resume run {run_id}: pipeline `{pipeline}` changed since (its file, variables or connections); a \
         resume must run the same pipeline, or run without --resume to start over"
    )]
    Changed { run_id: String, pipeline: String },
}

/// The message, for a `diagnostics::Failure` of code `flow::run::ledger` (the runner makes one
/// from any text).
impl From<ResumeError> for String {
    fn from(e: ResumeError) -> Self {
        e.to_string()
    }
}

/// The latest run recorded by any sink of the pipeline, if it is unfinished in one of them.
/// `histories` has one entry per sink, in plan order.
pub fn resume_point(
    pipeline: &str,
    histories: &[SinkHistory],
    fingerprint: &str,
) -> std::result::Result<Resume, ResumeError> {
    let Some(latest) = histories
        .iter()
        .flatten()
        .filter(|(_, s)| !s.started_at.is_empty())
        .max_by(|(a_id, a), (b_id, b)| (&a.started_at, a_id).cmp(&(&b.started_at, b_id)))
        .map(|(id, _)| id.clone())
    else {
        return Ok(Resume::NothingRecorded);
    };
    let sinks: Vec<Option<SinkRunState>> =
        histories.iter().map(|h| h.iter().find(|(id, _)| *id == latest).map(|(_, s)| s.clone())).collect();
    if sinks.iter().all(|s| s.as_ref().is_some_and(SinkRunState::finished)) {
        return Ok(Resume::Finished { run_id: latest });
    }
    // Each sink's start row holds its own source's part of the layout (`Layout::of_source`).
    let mut layouts = sinks.iter().flatten().filter_map(|s| s.layout.as_ref());
    let mut layout = layouts.next().cloned().ok_or_else(|| ResumeError::NoStart { run_id: latest.clone() })?;
    for part in layouts {
        if part.fingerprint != layout.fingerprint {
            return Err(ResumeError::Changed { run_id: latest, pipeline: pipeline.to_string() });
        }
        layout.sources.extend(part.sources.iter().map(|(k, v)| (k.clone(), v.clone())));
        layout.watermarks.extend(part.watermarks.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if layout.fingerprint != fingerprint {
        return Err(ResumeError::Changed { run_id: latest, pipeline: pipeline.to_string() });
    }
    Ok(Resume::Continue(ResumePoint { run_id: latest, layout, sinks }))
}

/// What a fresh run cleans up in one sink: its unfinished runs (abandoned) and its last
/// published run (whose staging may have survived a crash right after publishing).
pub fn cleanup_for_fresh_run(history: &SinkHistory) -> (Vec<String>, Option<String>) {
    let abandon = history.iter().filter(|(_, s)| !s.finished()).map(|(id, _)| id.clone()).collect();
    let last_published = history.iter().rev().find(|(_, s)| s.published).map(|(id, _)| id.clone());
    (abandon, last_published)
}

/// One line per run of one sink, for `flow status`; an unfinished run names `resume_command`
/// (e.g. ``flow run orders.flow --resume``) as the way to continue it.
pub fn describe_runs(history: &SinkHistory, resume_command: &str) -> Vec<String> {
    history
        .iter()
        .map(|(id, s)| {
            let state = if s.published {
                format!("published, {} rows", s.committed_rows())
            } else if s.abandoned {
                format!("abandoned (a later run started over), {} partition(s) had been committed", s.committed.len())
            } else {
                let missing: Vec<String> =
                    (0..s.partitions).filter(|p| !s.committed.contains_key(p)).map(|p| p.to_string()).collect();
                format!(
                    "UNFINISHED: {} of {} partition(s) committed ({} rows); left undone: partition(s) {}; \
                     continue with {resume_command}",
                    s.committed.len(),
                    s.partitions,
                    s.committed_rows(),
                    if missing.is_empty() { "none (publish pending)".to_string() } else { missing.join(", ") }
                )
            };
            format!("run {id} started {}: {state}", if s.started_at.is_empty() { "?" } else { &s.started_at })
        })
        .collect()
}

/// A short fingerprint of a value's JSON (the plan, minus nothing secret: URLs are redacted by
/// the caller).
pub fn fingerprint(json: &str) -> String {
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in json.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_sql_quotes_every_value() {
        let key = LedgerKey { run_id: "r1".into(), pipeline: "p'; DROP TABLE x; --".into(), sink: "s".into() };
        let row = key.row(Event::Partition, 3, "\"id\" >= 10", 5, "ab");
        let sql = insert_sql(Dialect::Postgres, &ledger_table(&TableName::parse("public.t")), &row);
        assert!(sql.starts_with("INSERT INTO \"public\".\"_flow_ledger\""), "{sql}");
        assert!(sql.contains("'p''; DROP TABLE x; --'"), "{sql}");
        assert!(sql.contains("'\"id\" >= 10'"), "{sql}");
    }

    #[test]
    fn runs_fold_into_states() {
        let key = LedgerKey { run_id: "r1".into(), pipeline: "p".into(), sink: "s".into() };
        let layout = Layout { fingerprint: "f".into(), sources: BTreeMap::new(), watermarks: BTreeMap::new() };
        let rows = vec![
            key.row(Event::Start, -1, &serde_json::to_string(&layout).unwrap(), 3, ""),
            key.row(Event::Partition, 0, "a", 10, "c0"),
            key.row(Event::Partition, 2, "c", 7, "c2"),
        ];
        let runs = runs_of(&rows, "s");
        assert_eq!(runs.len(), 1);
        let (id, state) = &runs[0];
        assert_eq!(id, "r1");
        assert_eq!(state.partitions, 3);
        assert_eq!(state.committed_set(), BTreeSet::from([0, 2]));
        assert_eq!(state.committed_rows(), 17);
        assert!(!state.finished());
        assert_eq!(state.layout.as_ref(), Some(&layout));
    }

    #[test]
    fn resume_picks_the_latest_unfinished_run_and_checks_the_fingerprint() {
        let layout = Layout { fingerprint: "f".into(), sources: BTreeMap::new(), watermarks: BTreeMap::new() };
        let start = serde_json::to_string(&layout).unwrap();
        let key = |run: &str| LedgerKey { run_id: run.into(), pipeline: "p".into(), sink: "s".into() };
        let mut rows =
            vec![key("r1").row(Event::Start, -1, &start, 2, ""), key("r1").row(Event::Publish, -1, "", 5, "")];
        let history = |rows: &[LedgerRow]| vec![runs_of(rows, "s")];
        assert_eq!(resume_point("p", &history(&rows), "f").unwrap(), Resume::Finished { run_id: "r1".into() });
        rows.push(key("r2").row(Event::Start, -1, &start, 2, ""));
        rows.push(key("r2").row(Event::Partition, 1, "x", 3, "c"));
        let Resume::Continue(point) = resume_point("p", &history(&rows), "f").unwrap() else { panic!("no resume") };
        assert_eq!(point.run_id, "r2");
        assert_eq!(point.sinks[0].as_ref().unwrap().committed_set(), BTreeSet::from([1]));
        let changed = resume_point("p", &history(&rows), "g").unwrap_err();
        assert_eq!(changed, ResumeError::Changed { run_id: "r2".into(), pipeline: "p".into() });
        assert!(changed.to_string().contains("changed since"));
        assert_eq!(cleanup_for_fresh_run(&runs_of(&rows, "s")), (vec!["r2".to_string()], Some("r1".to_string())));
        assert_eq!(resume_point("p", &[vec![]], "f").unwrap(), Resume::NothingRecorded);
    }

    /// Each sink records its own source's part of the layout; a resume puts the parts of the
    /// latest run's sinks back together, and refuses parts of another fingerprint.
    #[test]
    fn resume_puts_the_sinks_layouts_together() {
        let rows = |start: u64| vec![ScanPartition::Rows { start, end: start + 10 }];
        let whole = Layout {
            fingerprint: "f".into(),
            sources: BTreeMap::from([("a".to_string(), rows(0)), ("b".to_string(), rows(10))]),
            watermarks: BTreeMap::new(),
        };
        let a = whole.of_source("a");
        assert_eq!(a.sources, BTreeMap::from([("a".to_string(), rows(0))]));
        assert_eq!(a.fingerprint, "f");
        let key = |sink: &str| LedgerKey { run_id: "r1".into(), pipeline: "p".into(), sink: sink.into() };
        let start = |sink: &str, layout: &Layout| {
            key(sink).row(Event::Start, -1, &serde_json::to_string(layout).unwrap(), 1, "")
        };
        let ledger =
            vec![start("sa", &a), start("sb", &whole.of_source("b")), key("sa").row(Event::Partition, 0, "", 10, "c")];
        let histories = vec![runs_of(&ledger, "sa"), runs_of(&ledger, "sb")];
        let Resume::Continue(point) = resume_point("p", &histories, "f").unwrap() else { panic!("no resume") };
        assert_eq!(point.layout, whole);
        let other = Layout { fingerprint: "g".into(), ..whole.of_source("b") };
        let ledger = vec![start("sa", &a), start("sb", &other)];
        let histories = vec![runs_of(&ledger, "sa"), runs_of(&ledger, "sb")];
        assert!(matches!(resume_point("p", &histories, "f"), Err(ResumeError::Changed { .. })));
    }
}
