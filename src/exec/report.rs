//! The run report: what each stage read, wrote and filtered, how long it took, and how the run
//! ended. Printed as a table at the end of `flow run` and written as JSON with `--report`.
//!
//! JSON fields (stable): `pipeline`, `run_id`, `status` (`ok` | `failed`), `seconds`, `error`
//! (null when ok), `failure` (only when the run failed: `code`, a code of
//! `diagnostics::codes` such as `flow::sink::value_refused`, and where it happened as far as it
//! is known: `stage`, `partition` (0-based), `row` (1-based within the partition), `column`;
//! each left out when unknown), `resumed`, `partitions_skipped`, `already_complete`, `notes[]` (lines on how
//! the sources were read, e.g. partitions read at different moments), `watermarks` (per
//! incremental source: `column`, `previous`, `current`), `tables[]` (with table sets: `table`,
//! `rows`, `seconds`, `done`, `published`), and `stages[]` with
//! `name`, `kind`, `rows_in`, `rows_out`, `rows_filtered` (a transform's rows in minus out; 0 in
//! a failed run, where rows in flight would count), `rows_rejected`, `seconds`,
//! `rows_per_second`, `target` (sinks: where they wrote), `publish_seconds`, `published`,
//! `partitions[]` (`partition`, `started_s`, `finished_s`, `ok`, `rows`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::metrics::{PartitionTiming, StageKind, StageMetrics};
use crate::diagnostics::Failure;
use crate::ledger::watermark::Watermark;
use crate::plan::PipelinePlan;

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub pipeline: String,
    pub run_id: String,
    pub status: RunStatus,
    pub seconds: f64,
    /// Why the run failed, as printed; null when it succeeded.
    pub error: Option<String>,
    /// The failure's code and location (see [`Failure`]); left out of the JSON when the run
    /// succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// True when this run continued an interrupted one (`--resume`).
    pub resumed: bool,
    /// Sink partitions an earlier attempt of this run had committed, not written again.
    pub partitions_skipped: usize,
    /// `--resume` found the pipeline's last run finished and did nothing.
    pub already_complete: bool,
    /// What the run says about how it read its sources, e.g. that the partitions of a MySQL
    /// source were read at different moments (no `RELOAD` privilege for a shared snapshot).
    pub notes: Vec<String>,
    /// Per incremental source, the range this run read: `column`, `previous` (null on the first
    /// run) and `current`, the mark the sinks' ledgers now hold.
    pub watermarks: BTreeMap<String, Watermark>,
    /// One row per table of the pipeline's table sets (empty without table sets).
    pub tables: Vec<TableReport>,
    pub stages: Vec<StageReport>,
}

/// One table of a table set: rows read, how long its writes took, and whether every sink that
/// writes it finished.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub table: String,
    pub rows: u64,
    pub seconds: f64,
    pub done: bool,
    /// Every sink writing the table published it in this run.
    pub published: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    pub name: String,
    pub kind: StageKind,
    pub rows_in: u64,
    pub rows_out: u64,
    pub rows_filtered: u64,
    /// Rows a sink skipped or rejected (`on error skip | reject to T`).
    pub rows_rejected: u64,
    pub seconds: f64,
    pub rows_per_second: f64,
    /// Sinks: where the rows went (`table orders in sqlite out/warehouse.db`, `file
    /// out/orders.parquet`; passwords redacted). Null for sources and transforms.
    pub target: Option<String>,
    /// Sinks: seconds the publish took (swap, rename, part files joined); null when the sink
    /// did not publish (other stages, a failed run, or a sink published by an earlier attempt).
    pub publish_seconds: Option<f64>,
    /// Sinks: whether this run published the target. False for other stages.
    pub published: bool,
    pub partitions: Vec<PartitionTiming>,
}

impl RunReport {
    pub fn build(
        plan: &PipelinePlan,
        run_id: &str,
        metrics: &[Arc<StageMetrics>],
        seconds: f64,
        failure: Option<Failure>,
    ) -> Self {
        let rows_of = |name: &str| metrics.iter().find(|m| m.name == name).map_or(0, |m| m.rows());
        let stages = metrics
            .iter()
            .map(|m| {
                let rows_out = m.rows();
                let rows_in = match m.kind {
                    StageKind::Source => rows_out,
                    StageKind::Transform => plan.transform(&m.name).map_or(0, |t| rows_of(&t.input)),
                    StageKind::Sink => plan.sinks.iter().find(|s| s.name == m.name).map_or(0, |s| rows_of(&s.input)),
                };
                let secs = m.seconds();
                let sink = (m.kind == StageKind::Sink).then(|| plan.sinks.iter().find(|s| s.name == m.name)).flatten();
                let publish_seconds = m.publish_seconds().map(round3);
                StageReport {
                    target: sink.map(|s| s.target_text()),
                    published: publish_seconds.is_some() && !m.publishing(),
                    publish_seconds,
                    name: m.name.clone(),
                    kind: m.kind,
                    rows_in,
                    rows_out,
                    // In a failed run, rows in flight when it stopped would count as filtered.
                    rows_filtered: if m.kind == StageKind::Transform && failure.is_none() {
                        rows_in.saturating_sub(rows_out)
                    } else {
                        0
                    },
                    rows_rejected: m.refused(),
                    seconds: round3(secs),
                    rows_per_second: if secs > 0.0 { (rows_out as f64 / secs).round() } else { 0.0 },
                    partitions: m.timings(),
                }
            })
            .collect();
        // Each table's sinks, found once for all tables (asking per table is quadratic).
        let source_of = plan.source_of_sinks();
        let by_name: HashMap<&str, &Arc<StageMetrics>> = metrics.iter().map(|m| (m.name.as_str(), m)).collect();
        let mut fed: HashMap<&str, Vec<Arc<StageMetrics>>> = HashMap::new();
        for sink in &plan.sinks {
            if let (Some(source), Some(m)) = (source_of.get(sink.name.as_str()), by_name.get(sink.name.as_str())) {
                fed.entry(source.name.as_str()).or_default().push(Arc::clone(m));
            }
        }
        let tables = plan
            .table_set_members()
            .map(|source| {
                let sinks: Vec<Arc<StageMetrics>> = fed.get(source.name.as_str()).cloned().unwrap_or_default();
                TableReport {
                    table: source.name.clone(),
                    rows: rows_of(&source.name),
                    seconds: round3(sinks.iter().map(|m| m.seconds()).fold(0.0, f64::max)),
                    // A failed partition is finished too; staged means every one committed.
                    done: !sinks.is_empty() && sinks.iter().all(|m| m.all_partitions_committed()),
                    published: !sinks.is_empty()
                        && sinks.iter().all(|m| m.publish_seconds().is_some() && !m.publishing()),
                }
            })
            .collect();
        Self {
            tables,
            pipeline: plan.name.clone(),
            run_id: run_id.to_string(),
            status: if failure.is_none() { RunStatus::Ok } else { RunStatus::Failed },
            seconds: round3(seconds),
            error: failure.as_ref().map(|f| f.message.clone()),
            failure,
            resumed: false,
            partitions_skipped: 0,
            already_complete: false,
            notes: Vec::new(),
            watermarks: BTreeMap::new(),
            stages,
        }
    }

    /// The summary printed at the end of a run: a table of the stages, where each sink wrote
    /// and whether it was published, then how the run ended. A failed run that moved no row
    /// (it failed before any stage ran, or before a first row went through) has no table: a
    /// header over rows of zeros says nothing the error does not.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let moved = self.stages.iter().any(|s| s.rows_in > 0 || s.rows_out > 0);
        if !self.stages.is_empty() && (self.status == RunStatus::Ok || moved) {
            out.push_str(&self.stage_table());
        }
        let sinks: Vec<&StageReport> = self.stages.iter().filter(|s| s.target.is_some()).collect();
        let sink_width = sinks.iter().map(|s| s.name.chars().count()).max().unwrap_or(0);
        for s in &sinks {
            let state = match (s.published, self.status) {
                (true, _) => "",
                (false, RunStatus::Ok) => " (published by an earlier attempt)",
                (false, RunStatus::Failed) => " (not published)",
            };
            let target = s.target.as_deref().unwrap_or_default();
            out.push_str(&format!("sink {:<sink_width$} -> {target}{state}\n", s.name));
        }
        for s in self.stages.iter().filter(|s| s.rows_rejected > 0) {
            out.push_str(&format!(
                "sink {}: {} row(s) refused by the target (see `on error`)\n",
                s.name,
                group(s.rows_rejected)
            ));
        }
        if !self.tables.is_empty() {
            let done = self.tables.iter().filter(|t| t.done).count();
            let n = self.tables.len();
            out.push_str(&match self.status {
                // A run that ends ok has every table published, in this attempt or an earlier one.
                RunStatus::Ok => format!("tables: {n} of {n} written\n"),
                RunStatus::Failed => {
                    let published = self.tables.iter().filter(|t| t.published).count();
                    format!("tables: {published} of {n} published ({done} of {n} fully staged)\n")
                }
            });
        }
        for (source, watermark) in &self.watermarks {
            out.push_str(&format!("source {source}: incremental, {}\n", watermark.describe()));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        let status = match self.status {
            RunStatus::Ok => "ok".to_string(),
            RunStatus::Failed => "FAILED".to_string(),
        };
        let resumed = if self.already_complete {
            format!(" (nothing to resume: run {} had finished)", self.run_id)
        } else if self.resumed {
            format!(
                " (resumed run {}; {} partition(s) committed earlier were kept)",
                self.run_id, self.partitions_skipped
            )
        } else {
            String::new()
        };
        out.push_str(&format!("pipeline {}: {status} in {:.2}s{resumed}\n", self.pipeline, self.seconds));
        out
    }
}

impl RunReport {
    /// The stages as a table, each column as wide as its widest cell: numbers right-aligned, a
    /// stage name cut at 24 characters (the sink lines below name it in full), so that a run of
    /// billions of rows still fits a 100-column terminal.
    fn stage_table(&self) -> String {
        const HEADER: [&str; 8] =
            ["stage", "kind", "rows in", "rows out", "filtered", "seconds", "rows/s", "publish s"];
        let rows: Vec<[String; 8]> = self
            .stages
            .iter()
            .map(|s| {
                [
                    truncate(&s.name, 24),
                    s.kind.to_string(),
                    group(s.rows_in),
                    group(s.rows_out),
                    group(s.rows_filtered),
                    format!("{:.2}", s.seconds),
                    group(s.rows_per_second as u64),
                    s.publish_seconds.map_or("-".to_string(), |p| format!("{p:.2}")),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..HEADER.len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([HEADER[c].len()]).max().unwrap_or(0))
            .collect();
        let line = |cells: [&str; 8]| {
            let mut text = String::new();
            for (c, cell) in cells.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                match c {
                    0 => text.push_str(&format!("{cell}{pad}")),
                    1 => text.push_str(&format!(" {cell}{pad}")),
                    _ => text.push_str(&format!(" {pad}{cell}")),
                }
            }
            text.trim_end().to_string() + "\n"
        };
        let mut out = line(HEADER);
        for r in &rows {
            out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6], &r[7]]));
        }
        out
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: RunStatus, stages: Vec<StageReport>, tables: Vec<TableReport>) -> RunReport {
        RunReport {
            pipeline: "p".into(),
            run_id: "r".into(),
            status,
            seconds: 1.5,
            error: None,
            failure: None,
            resumed: false,
            partitions_skipped: 0,
            already_complete: false,
            notes: vec![],
            watermarks: BTreeMap::new(),
            tables,
            stages,
        }
    }

    fn table(name: &str, done: bool, published: bool) -> TableReport {
        TableReport { table: name.into(), rows: 10, seconds: 0.1, done, published }
    }

    fn sink(name: &str, published: bool) -> StageReport {
        StageReport {
            name: name.into(),
            kind: StageKind::Sink,
            rows_in: 10,
            rows_out: 10,
            rows_filtered: 0,
            rows_rejected: 0,
            seconds: 0.2,
            rows_per_second: 50.0,
            target: Some(format!("table {name} in sqlite out/x.db")),
            publish_seconds: published.then_some(0.01),
            published,
            partitions: vec![],
        }
    }

    #[test]
    fn a_failed_run_never_says_its_tables_were_written() {
        let tables = vec![table("a", true, true), table("b", true, false)];
        let text = report(RunStatus::Failed, vec![sink("a", true), sink("b", false)], tables.clone()).table();
        assert!(text.contains("tables: 1 of 2 published (2 of 2 fully staged)\n"), "{text}");
        assert!(text.contains("sink a -> table a in sqlite out/x.db\n"), "{text}");
        assert!(text.contains("sink b -> table b in sqlite out/x.db (not published)\n"), "{text}");
        let text = report(RunStatus::Ok, vec![sink("a", true), sink("b", true)], tables).table();
        assert!(text.contains("tables: 2 of 2 written\n"), "{text}");
    }

    #[test]
    fn columns_line_up_and_fit_a_100_column_terminal() {
        let mut long = sink("a_sink_with_a_rather_long_name->target_table", true);
        long.rows_in = 12_345_678_901;
        long.rows_out = 12_345_678_901;
        long.rows_per_second = 99_999_999.0;
        let text = report(RunStatus::Ok, vec![long, sink("b", true)], vec![]).table();
        let table: Vec<&str> = text.lines().take(3).collect();
        assert!(table.iter().all(|l| l.chars().count() <= 100), "{text}");
        // In characters: a cut name ends in a multi-byte `…`.
        let end_of = |line: &str, cell: &str| line.find(cell).map(|i| line[..i].chars().count() + cell.len());
        assert_eq!(end_of(table[0], "rows in"), end_of(table[1], "12,345,678,901"), "{text}");
        assert_eq!(end_of(table[0], "rows/s"), end_of(table[2], " 50"), "{text}");
    }

    #[test]
    fn the_json_carries_the_failure_only_when_the_run_failed() {
        let ok = serde_json::to_value(report(RunStatus::Ok, vec![], vec![])).expect("serialises");
        assert_eq!((ok.get("failure"), &ok["error"]), (None, &serde_json::Value::Null));
        let failure =
            Failure::new(crate::diagnostics::codes::run::TIMEOUT, "sink `out` partition 0 exceeded ...").at("out", 0);
        let failed = RunReport {
            error: Some(failure.message.clone()),
            failure: Some(failure),
            ..report(RunStatus::Failed, vec![], vec![])
        };
        let json = serde_json::to_value(failed).expect("serialises");
        assert_eq!(json["error"], "sink `out` partition 0 exceeded ...");
        assert_eq!(json["failure"], serde_json::json!({"code": "flow::run::timeout", "stage": "out", "partition": 0}));
    }

    #[test]
    fn a_run_that_ran_no_stage_prints_no_table_header() {
        let text = report(RunStatus::Failed, vec![], vec![]).table();
        assert_eq!(text, "pipeline p: FAILED in 1.50s\n");
    }

    #[test]
    fn a_failed_run_that_moved_no_row_prints_no_table_of_zeros() {
        let idle = || StageReport { rows_in: 0, rows_out: 0, rows_per_second: 0.0, ..sink("a", false) };
        let text = report(RunStatus::Failed, vec![idle()], vec![]).table();
        assert_eq!(text, "sink a -> table a in sqlite out/x.db (not published)\npipeline p: FAILED in 1.50s\n");
        // An empty source that ran to the end is a table of zeros worth showing.
        let text = report(RunStatus::Ok, vec![StageReport { published: true, ..idle() }], vec![]).table();
        assert!(text.starts_with("stage kind rows in rows out"), "{text}");
    }
}
