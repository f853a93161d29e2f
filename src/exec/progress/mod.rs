//! Progress while a run goes, in one of four forms:
//!
//! - on a terminal (`auto`): a line for the whole run and one per stage, each with a bar, a
//!   percentage and an ETA when a total is known (see [`bar`]) — or, with table sets, one line
//!   for the tables (done / total, the ones being written);
//! - `lines` (and `auto` when stderr is not a terminal): the same text as a plain line every
//!   few seconds, without control characters, for logs;
//! - `json`: one JSON event per line ([`events`]), for orchestrators;
//! - nothing with `--quiet`.
//!
//! What each stage is measured against comes from resolving ([`totals`]).

pub mod bar;
pub mod events;
pub mod totals;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use self::bar::{Fraction, StageView, TableView, Total};
use self::events::EventLog;
use self::totals::Measure;
use super::metrics::{StageKind, StageMetrics, StageState};
use crate::connect::SourceShape;
use crate::plan::PipelinePlan;

/// Which progress a run shows (`flow run --progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Bars on a terminal, periodic lines otherwise.
    Auto,
    /// Periodic plain lines.
    Lines,
    /// JSON events on stderr.
    Json,
    Quiet,
}

/// The tables of a pipeline's table sets: each table's name and the sinks that write it.
pub type TableStages = Vec<(String, Vec<Arc<StageMetrics>>)>;

/// Seconds between two plain progress lines; `FLOW_PROGRESS_INTERVAL` sets another.
const LINE_INTERVAL_S: f64 = 5.0;

/// Seconds between two `rows` events of `--progress json`.
const ROWS_EVENT_INTERVAL: Duration = Duration::from_secs(1);

/// A run's stages with what each is measured against: what every form of progress reads.
pub struct Board {
    pipeline: String,
    stages: Vec<Arc<StageMetrics>>,
    measures: Vec<Measure>,
    tables: TableStages,
}

impl Board {
    /// The stages of a run of `plan` (`stages`, the graph's counters), their sources described
    /// as `shapes`, and the tables of its table sets.
    pub fn new(
        plan: &PipelinePlan,
        shapes: &HashMap<String, SourceShape>,
        stages: &[Arc<StageMetrics>],
        tables: TableStages,
    ) -> Self {
        let measures = totals::measures(plan, shapes, stages);
        Self { pipeline: plan.name.clone(), stages: stages.to_vec(), measures, tables }
    }

    /// Every stage now, in the order of the stages.
    pub fn views(&self) -> Vec<StageView> {
        self.stages
            .iter()
            .zip(&self.measures)
            .map(|(m, measure)| {
                let rows = m.rows();
                let state = m.state();
                let run_s = m.run_seconds();
                let elapsed = match (state, m.started_s()) {
                    (StageState::Done, _) => m.seconds(),
                    (_, Some(started)) => (run_s - started).max(0.0),
                    (_, None) => 0.0,
                };
                StageView {
                    rows,
                    total: measure.total(&self.stages),
                    partitions_done: m.partitions_finished(),
                    state,
                    elapsed: Duration::from_secs_f64(elapsed),
                    publishing: m.publishing().then(|| m.publish_seconds().unwrap_or(0.0)),
                }
            })
            .collect()
    }

    /// Seconds since the run started.
    fn elapsed(&self) -> Duration {
        Duration::from_secs_f64(self.stages.first().map_or(0.0, |m| m.run_seconds()))
    }

    fn sink_views(&self, views: &[StageView]) -> Vec<StageView> {
        self.stages.iter().zip(views).filter(|(m, _)| m.kind == StageKind::Sink).map(|(_, v)| *v).collect()
    }

    /// The whole run's line, and its share done (for a bar).
    fn run_line(&self, views: &[StageView]) -> (String, Option<Fraction>) {
        let sinks = self.sink_views(views);
        (bar::run_text(&sinks, self.elapsed()), bar::run_fraction(&sinks))
    }

    /// The table sets' line, and its share done.
    fn tables_line(&self, views: &[StageView]) -> (String, Option<Fraction>) {
        let view_of = |m: &Arc<StageMetrics>| self.stages.iter().position(|s| Arc::ptr_eq(s, m)).map(|i| views[i]);
        let tables: Vec<TableView> = self
            .tables
            .iter()
            .map(|(name, sinks)| {
                let sink_views: Vec<StageView> = sinks.iter().filter_map(view_of).collect();
                let fractions: Option<Vec<Fraction>> = sink_views.iter().map(StageView::fraction).collect();
                let fraction = fractions.filter(|f| !f.is_empty()).map(|f| Fraction {
                    value: f.iter().map(|f| f.value).sum::<f64>() / f.len() as f64,
                    exact: f.iter().all(|f| f.exact),
                });
                let weight = sink_views.iter().try_fold(0, |most: u64, v| match v.total {
                    Total::Rows { rows, .. } => Some(most.max(rows)),
                    _ => None,
                });
                TableView {
                    weight: weight.filter(|_| !sink_views.is_empty()),
                    name: name.clone(),
                    state: StageState::of_all(sinks),
                    rows: sinks.iter().map(|m| m.rows()).max().unwrap_or(0),
                    fraction,
                    publishing: sinks.iter().any(|m| m.publishing()),
                }
            })
            .collect();
        let text = bar::tables_text(&tables, self.elapsed());
        let done = tables.iter().filter(|t| t.state == StageState::Done).count();
        let fraction = (!tables.is_empty()).then(|| Fraction { value: done as f64 / tables.len() as f64, exact: true });
        (text, fraction)
    }

    /// The plain line: `[demo 5s] run ≈ 45% · … | orders … | clean … | out …`, or with table
    /// sets `[app 5s] tables …`.
    pub fn plain_line(&self) -> String {
        let views = self.views();
        let head = format!("[{} {:.0}s]", self.pipeline, self.elapsed().as_secs_f64());
        if !self.tables.is_empty() {
            return format!("{head} {}", self.tables_line(&views).0);
        }
        let mut parts = vec![format!("run {}", self.run_line(&views).0)];
        parts.extend(self.stages.iter().zip(&views).map(|(m, v)| format!("{} {}", m.name, bar::stage_text(v))));
        format!("{head} {}", parts.join(" | "))
    }
}

/// Runs until finished or dropped (the task is aborted with the handle).
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Starts showing `board` as `mode` says; `events` is the run's event log for `json`
    /// (without one, `json` shows nothing).
    pub fn start(board: Board, mode: ProgressMode, events: Option<Arc<EventLog>>) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match (mode, events) {
            (ProgressMode::Quiet, _) | (ProgressMode::Json, None) => Self { task: None, multi: None },
            (ProgressMode::Json, Some(events)) => Self::json(board, events),
            (ProgressMode::Auto, _) if terminal => Self::terminal(board),
            _ => Self::lines(board),
        }
    }

    fn json(board: Board, events: Arc<EventLog>) -> Self {
        for m in &board.stages {
            m.observe(events.clone());
        }
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ROWS_EVENT_INTERVAL).await;
                events.rows(&board.stages, &board.views());
            }
        });
        Self { task: Some(task), multi: None }
    }

    /// A line for the run (or the tables) and one per stage, updated five times a second.
    fn terminal(board: Board) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let line = |prefix: String| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(prefix);
            bar
        };
        let head = if board.tables.is_empty() { format!("run {}", board.pipeline) } else { board.pipeline.clone() };
        let head = line(head);
        let stage_lines: Vec<ProgressBar> = if board.tables.is_empty() {
            board.stages.iter().map(|m| line(format!("{} {}", m.kind, m.name))).collect()
        } else {
            Vec::new()
        };
        let task = tokio::spawn(async move {
            loop {
                let views = board.views();
                let (text, fraction) =
                    if board.tables.is_empty() { board.run_line(&views) } else { board.tables_line(&views) };
                // Stages first: the run line sums them, and a redraw may come between two lines.
                for (bar, view) in stage_lines.iter().zip(&views) {
                    bar.set_message(with_bar(view.fraction(), &bar::stage_text(view)));
                    bar.tick();
                }
                head.set_message(with_bar(fraction, &text));
                head.tick();
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { task: Some(task), multi: Some(multi) }
    }

    fn lines(board: Board) -> Self {
        let every = std::env::var("FLOW_PROGRESS_INTERVAL")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(LINE_INTERVAL_S);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
                crate::eprintln_lossy!("{}", board.plain_line());
            }
        });
        Self { task: Some(task), multi: None }
    }

    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(multi) = self.multi.take() {
            let _ = multi.clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `████░░░░ text` with a share, `         text` (aligned) without.
fn with_bar(fraction: Option<Fraction>, text: &str) -> String {
    const WIDTH: usize = 20;
    match fraction {
        Some(f) => format!("{} {text}", bar::bar_cells(f, WIDTH)),
        None => format!("{:WIDTH$} {text}", ""),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn the_plain_line_shows_the_run_and_every_stage_without_control_characters() {
        let stage = |name: &str, kind, partitions| {
            let m = Arc::new(StageMetrics::new(name, kind, Instant::now()));
            m.set_partitions(partitions);
            m
        };
        let (source, sink) = (stage("orders", StageKind::Source, 2), stage("out", StageKind::Sink, 2));
        let board = Board {
            pipeline: "demo".into(),
            stages: vec![source.clone(), sink.clone()],
            measures: vec![
                Measure::Fixed(bar::Total::Rows { rows: 1_000, exact: true }),
                Measure::Fixed(bar::Total::Partitions(2)),
            ],
            tables: Vec::new(),
        };
        source.partition_started(0);
        source.add_partition_rows(0, 250);
        sink.partition_started(0);
        let line = board.plain_line();
        assert!(line.starts_with("[demo 0s] run ≈ 0% · 0/1 sinks done · "), "{line}");
        assert!(line.contains(" | orders 25% · 250 / 1,000 rows · "), "{line}");
        assert!(line.contains(" | out ≈ 0% · 0/2 partitions · 0 rows · 0 rows/s"), "{line}");
        assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    }
}
