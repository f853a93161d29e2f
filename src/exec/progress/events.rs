//! `flow run --progress json`: the run as one JSON object per line on stderr, for
//! orchestrators. Every line has `event`, `ts` (RFC 3339, UTC, milliseconds) and `pipeline`;
//! the events and their other fields:
//!
//! | `event` | fields |
//! |---|---|
//! | `run_started` | |
//! | `stage_started` | `stage`, `kind` (`source`, `transform`, `sink`), `partitions` |
//! | `partition_started` | `stage`, `kind`, `partition` (0-based) |
//! | `partition_finished` | `stage`, `kind`, `partition`, `rows`, `ok` |
//! | `rows` | `stage`, `kind`, `rows` so far, `total_rows` (null when unknown), `estimated`; at most once a second per running stage |
//! | `stage_finished` | `stage`, `kind`, `rows`, `seconds`, `ok` (false when the run failed before the stage finished) |
//! | `run_finished` | `run_id`, `status` (`ok`), `seconds`, `rows_written` (all sinks) |
//! | `failed` | `run_id`, `error` (the message), `failure` (`code`, and as far as known `stage`, `partition`, `row`, `column`) |
//!
//! A stage starts before any of its partitions and finishes after all of them; its `rows` is
//! the sum of its partitions' `rows`, and the same number as the run report's (`rows_out`). A
//! run ends with exactly one `run_finished` or `failed`; nothing follows it. Before `failed`,
//! every partition and stage that started and was not said to finish is closed, with `ok`
//! false and the rows it had passed, so every `*_started` has its `*_finished`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::bar::{StageView, Total};
use crate::diagnostics::Failure;
use crate::exec::metrics::{StageKind, StageMetrics, StageObserver};
use crate::exec::report::{RunReport, RunStatus};

/// One event; see the module docs for the fields.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    RunStarted,
    StageStarted { stage: &'a str, kind: StageKind, partitions: usize },
    PartitionStarted { stage: &'a str, kind: StageKind, partition: usize },
    PartitionFinished { stage: &'a str, kind: StageKind, partition: usize, rows: u64, ok: bool },
    Rows { stage: &'a str, kind: StageKind, rows: u64, total_rows: Option<u64>, estimated: bool },
    StageFinished { stage: &'a str, kind: StageKind, rows: u64, seconds: f64, ok: bool },
    RunFinished { run_id: &'a str, status: RunStatus, seconds: f64, rows_written: u64 },
    Failed { run_id: &'a str, error: &'a str, failure: &'a Failure },
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(flatten)]
    event: &'a Event<'a>,
    ts: String,
    pipeline: &'a str,
}

/// What has been said of one stage.
#[derive(Debug, Default)]
struct Said {
    started: bool,
    finished: bool,
    partitions_ok: usize,
    rows: u64,
}

struct State {
    out: Box<dyn Write + Send>,
    stages: HashMap<String, Said>,
    /// The run's last event was written: nothing more is.
    closed: bool,
}

/// The events of one pipeline's run. Writes are serialised, so events come in the order they
/// happened and lines never mix.
pub struct EventLog {
    pipeline: String,
    state: Mutex<State>,
}

impl EventLog {
    /// Starts the events of `pipeline` on stderr with `run_started`.
    pub fn stderr(pipeline: &str) -> Arc<Self> {
        Self::to(pipeline, Box::new(std::io::stderr()))
    }

    /// Starts the events of `pipeline` on `out` with `run_started`.
    pub fn to(pipeline: &str, out: Box<dyn Write + Send>) -> Arc<Self> {
        let log = Self {
            pipeline: pipeline.to_string(),
            state: Mutex::new(State { out, stages: HashMap::new(), closed: false }),
        };
        if let Ok(mut state) = log.state.lock() {
            log.write(&mut state, &Event::RunStarted);
        }
        Arc::new(log)
    }

    fn write(&self, state: &mut State, event: &Event) {
        if state.closed {
            return;
        }
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let Ok(mut text) = serde_json::to_string(&Line { event, ts, pipeline: &self.pipeline }) else { return };
        text.push('\n');
        // One write per line: a line is never split by another writer of stderr.
        let _ = state.out.write_all(text.as_bytes());
        let _ = state.out.flush();
    }

    /// A `rows` event for every stage that started and has not finished.
    pub fn rows(&self, stages: &[Arc<StageMetrics>], views: &[StageView]) {
        let Ok(mut state) = self.state.lock() else { return };
        for (m, view) in stages.iter().zip(views) {
            let running = state.stages.get(&m.name).is_some_and(|s| s.started && !s.finished);
            if !running {
                continue;
            }
            let (total_rows, estimated) = match view.total {
                Total::Rows { rows, exact } => (Some(rows), !exact),
                Total::Partitions(_) | Total::Unknown => (None, false),
            };
            let event = Event::Rows { stage: &m.name, kind: m.kind, rows: view.rows, total_rows, estimated };
            self.write(&mut state, &event);
        }
    }

    /// The run's last events: `stage_finished` for each stage that started and was not said to
    /// finish (a resumed run skips partitions an earlier attempt wrote), then `run_finished`, or
    /// `failed` when `report` says the run failed.
    pub fn finish(&self, report: &RunReport, stages: &[Arc<StageMetrics>]) {
        let Ok(mut state) = self.state.lock() else { return };
        if let Some(failure) = &report.failure {
            for m in stages {
                let open = state.stages.get(&m.name).is_some_and(|s| s.started && !s.finished);
                if !open {
                    continue;
                }
                let timings = m.timings();
                for t in timings.iter().filter(|t| t.finished_s.is_none()) {
                    let event = Event::PartitionFinished {
                        stage: &m.name,
                        kind: m.kind,
                        partition: t.partition,
                        rows: t.rows,
                        ok: false,
                    };
                    self.write(&mut state, &event);
                }
                let rows = m.rows();
                let event = Event::StageFinished {
                    stage: &m.name,
                    kind: m.kind,
                    rows,
                    seconds: round3(m.seconds()),
                    ok: false,
                };
                self.write(&mut state, &event);
            }
            let error = report.error.as_deref().unwrap_or(&failure.message);
            self.write(&mut state, &Event::Failed { run_id: &report.run_id, error, failure });
        } else {
            for m in stages {
                let unsaid = state.stages.get(&m.name).is_some_and(|s| s.started && !s.finished);
                if unsaid {
                    let event = Event::StageFinished {
                        stage: &m.name,
                        kind: m.kind,
                        rows: m.rows(),
                        seconds: round3(m.seconds()),
                        ok: true,
                    };
                    self.write(&mut state, &event);
                }
            }
            let rows_written = report.stages.iter().filter(|s| s.kind == StageKind::Sink).map(|s| s.rows_out).sum();
            let event = Event::RunFinished {
                run_id: &report.run_id,
                status: report.status,
                seconds: report.seconds,
                rows_written,
            };
            self.write(&mut state, &event);
        }
        state.closed = true;
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog").field("pipeline", &self.pipeline).finish_non_exhaustive()
    }
}

impl StageObserver for EventLog {
    fn partition_started(&self, stage: &StageMetrics, partition: usize) {
        let Ok(mut state) = self.state.lock() else { return };
        let said = state.stages.entry(stage.name.clone()).or_default();
        let first = !said.started;
        said.started = true;
        if first {
            let event = Event::StageStarted { stage: &stage.name, kind: stage.kind, partitions: stage.partitions() };
            self.write(&mut state, &event);
        }
        self.write(&mut state, &Event::PartitionStarted { stage: &stage.name, kind: stage.kind, partition });
    }

    fn partition_finished(&self, stage: &StageMetrics, partition: usize, ok: bool, rows: u64) {
        let Ok(mut state) = self.state.lock() else { return };
        let event = Event::PartitionFinished { stage: &stage.name, kind: stage.kind, partition, rows, ok };
        self.write(&mut state, &event);
        let said = state.stages.entry(stage.name.clone()).or_default();
        if ok {
            said.partitions_ok += 1;
            said.rows += rows;
        }
        // Counted from what was said, not from the counters: another partition may have ended
        // a moment ago without its event written yet.
        if ok && !said.finished && said.partitions_ok >= stage.partitions() {
            said.finished = true;
            let rows = said.rows;
            let seconds = round3(stage.seconds());
            let event = Event::StageFinished { stage: &stage.name, kind: stage.kind, rows, seconds, ok: true };
            self.write(&mut state, &event);
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::diagnostics::codes;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn events(&self) -> Vec<serde_json::Value> {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).lines().map(|l| serde_json::from_str(l).expect(l)).collect()
        }
    }

    fn empty_plan() -> crate::plan::PipelinePlan {
        crate::plan::PipelinePlan {
            name: "p".into(),
            parallelism: 1,
            timeout: None,
            sources: vec![],
            transforms: vec![],
            sinks: vec![],
            table_sets: vec![],
            foreign_keys: vec![],
        }
    }

    fn summary(events: &[serde_json::Value]) -> Vec<String> {
        events
            .iter()
            .map(|e| {
                let name = e["event"].as_str().unwrap_or_default();
                match (e["stage"].as_str(), e["partition"].as_u64()) {
                    (Some(stage), Some(p)) => format!("{name} {stage}/{p} {}", e["rows"]),
                    (Some(stage), None) => format!("{name} {stage} {}", e["rows"]),
                    _ => name.to_string(),
                }
            })
            .collect()
    }

    #[test]
    fn a_stage_finishes_once_all_its_partitions_did_with_their_rows() {
        let buffer = Buffer::default();
        let log = EventLog::to("p", Box::new(buffer.clone()));
        let m = Arc::new(StageMetrics::new("src", StageKind::Source, Instant::now()));
        m.set_partitions(2);
        m.observe(log.clone());
        m.partition_started(0);
        m.partition_started(1);
        m.add_partition_rows(1, 5);
        m.partition_finished(1, true);
        m.add_partition_rows(0, 7);
        m.partition_finished(0, true);
        let stages = vec![m.clone()];
        let report = RunReport::build(&empty_plan(), "r1", &stages, 0.5, None);
        log.finish(&report, &stages);
        let events = buffer.events();
        assert_eq!(
            summary(&events),
            [
                "run_started",
                "stage_started src null",
                "partition_started src/0 null",
                "partition_started src/1 null",
                "partition_finished src/1 5",
                "partition_finished src/0 7",
                "stage_finished src 12",
                "run_finished",
            ]
        );
        assert!(events.iter().all(|e| e["pipeline"] == "p" && e["ts"].as_str().is_some_and(|t| t.ends_with('Z'))));
        assert_eq!(events[1]["partitions"], 2);
        assert_eq!(events[1]["kind"], "source");
    }

    #[test]
    fn a_failed_run_ends_with_its_failure_and_nothing_follows() {
        let buffer = Buffer::default();
        let log = EventLog::to("p", Box::new(buffer.clone()));
        let m = Arc::new(StageMetrics::new("out", StageKind::Sink, Instant::now()));
        m.set_partitions(4);
        m.observe(log.clone());
        m.partition_started(3);
        m.add_partition_rows(3, 9);
        let failure = Failure::new(codes::run::TIMEOUT, "too slow").at("out", 3);
        let stages = vec![m.clone()];
        let report = RunReport::build(&empty_plan(), "r2", &stages, 1.0, Some(failure));
        log.finish(&report, &stages);
        let view = StageView {
            rows: 9,
            total: Total::Unknown,
            partitions_done: 0,
            state: crate::exec::metrics::StageState::Running,
            elapsed: std::time::Duration::from_secs(1),
            publishing: None,
        };
        log.rows(&stages, &[view]);
        m.partition_finished(3, false);
        let events = buffer.events();
        assert_eq!(
            summary(&events),
            [
                "run_started",
                "stage_started out null",
                "partition_started out/3 null",
                "partition_finished out/3 9",
                "stage_finished out 9",
                "failed"
            ]
        );
        assert_eq!((events[3]["ok"].as_bool(), events[4]["ok"].as_bool()), (Some(false), Some(false)));
        let failed = &events[5];
        assert_eq!(failed["run_id"], "r2");
        assert_eq!(failed["error"], "too slow");
        assert_eq!(failed["failure"]["code"], codes::run::TIMEOUT);
        assert_eq!(failed["failure"]["stage"], "out");
        assert_eq!(failed["failure"]["partition"], 3);
    }
}
