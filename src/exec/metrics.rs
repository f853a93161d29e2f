//! Live counters of a run, one [`StageMetrics`] per stage: rows, and when each partition started
//! and finished with how many rows. Progress output reads them while the run goes (and a
//! [`StageObserver`] hears of each partition as it starts and ends); the run report is built
//! from them at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    Source,
    Transform,
    Sink,
}

impl std::fmt::Display for StageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Source => "source",
            Self::Transform => "transform",
            Self::Sink => "sink",
        })
    }
}

/// When one partition of a stage ran, relative to the start of the run, the rows it passed
/// (read, or written for a sink) so far, and where it ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionTiming {
    pub partition: usize,
    pub started_s: f64,
    pub finished_s: Option<f64>,
    pub ok: bool,
    pub rows: u64,
    /// The Ballista executor that wrote the partition (`flow run --engine`); absent in a local run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
}

/// Hears of each partition of a stage as it starts and ends (the JSON progress events). Called
/// on the thread that runs the partition, after the counters are updated; keep it short.
pub trait StageObserver: Send + Sync + std::fmt::Debug {
    fn partition_started(&self, stage: &StageMetrics, partition: usize);
    /// `rows`: what the partition passed, the sum of its rows in [`StageMetrics::rows`].
    fn partition_finished(&self, stage: &StageMetrics, partition: usize, ok: bool, rows: u64);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    Waiting,
    Running,
    Done,
}

impl StageState {
    /// The state of work spread over several stages (a table written by several sinks): done
    /// when all are, running once any started.
    pub fn of_all(stages: &[Arc<StageMetrics>]) -> Self {
        let states: Vec<Self> = stages.iter().map(|m| m.state()).collect();
        if !states.is_empty() && states.iter().all(|s| *s == Self::Done) {
            Self::Done
        } else if states.iter().any(|s| *s != Self::Waiting) {
            Self::Running
        } else {
            Self::Waiting
        }
    }
}

#[derive(Debug)]
pub struct StageMetrics {
    pub name: String,
    pub kind: StageKind,
    run_start: Instant,
    rows: AtomicU64,
    /// Rows a sink skipped or rejected (`on error skip | reject`).
    refused: AtomicU64,
    partitions: AtomicU64,
    timings: Mutex<Vec<PartitionTiming>>,
    /// A sink's publish: seconds from the run's start when it began and, once done, ended.
    publish: Mutex<Option<(f64, Option<f64>)>>,
    observer: OnceLock<Arc<dyn StageObserver>>,
}

impl StageMetrics {
    pub fn new(name: &str, kind: StageKind, run_start: Instant) -> Self {
        Self {
            name: name.to_string(),
            kind,
            run_start,
            rows: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            partitions: AtomicU64::new(0),
            timings: Mutex::new(Vec::new()),
            publish: Mutex::new(None),
            observer: OnceLock::new(),
        }
    }

    /// Tells `observer` of every partition that starts or ends from now on (one observer per
    /// stage; a second call is ignored).
    pub fn observe(&self, observer: Arc<dyn StageObserver>) {
        let _ = self.observer.set(observer);
    }

    /// A sink starts publishing its staged rows (rename, swap, or part files joined).
    pub fn publish_started(&self) {
        let t = self.run_start.elapsed().as_secs_f64();
        if let Ok(mut publish) = self.publish.lock() {
            *publish = Some((t, None));
        }
    }

    pub fn publish_finished(&self) {
        let t = self.run_start.elapsed().as_secs_f64();
        if let Ok(mut publish) = self.publish.lock()
            && let Some((_, end)) = publish.as_mut()
        {
            *end = Some(t);
        }
    }

    /// Whether the sink is publishing right now.
    pub fn publishing(&self) -> bool {
        self.publish.lock().is_ok_and(|p| matches!(*p, Some((_, None))))
    }

    /// Seconds the publish took (so far, while it runs); `None` when it never started.
    pub fn publish_seconds(&self) -> Option<f64> {
        let now = self.run_start.elapsed().as_secs_f64();
        let publish = *self.publish.lock().ok()?;
        publish.map(|(start, end)| (end.unwrap_or(now) - start).max(0.0))
    }

    /// Rows the stage passed, partition unknown (they count in no partition's `rows`).
    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Rows partition `partition` passed: they count in the stage's rows and in the partition's
    /// running attempt.
    pub fn add_partition_rows(&self, partition: usize, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
        if let Ok(mut timings) = self.timings.lock()
            && let Some(entry) = timings.iter_mut().rev().find(|e| e.partition == partition && e.finished_s.is_none())
        {
            entry.rows += n;
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }

    pub fn set_refused(&self, n: u64) {
        self.refused.store(n, Ordering::Relaxed);
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn set_partitions(&self, n: usize) {
        self.partitions.store(n as u64, Ordering::Relaxed);
    }

    pub fn partitions(&self) -> usize {
        self.partitions.load(Ordering::Relaxed) as usize
    }

    pub fn partition_started(&self, partition: usize) {
        let t = self.run_start.elapsed().as_secs_f64();
        if let Ok(mut timings) = self.timings.lock() {
            timings.push(PartitionTiming {
                partition,
                started_s: t,
                finished_s: None,
                ok: false,
                rows: 0,
                executor: None,
            });
        }
        if let Some(observer) = self.observer.get() {
            observer.partition_started(self, partition);
        }
    }

    pub fn partition_finished(&self, partition: usize, ok: bool) {
        let t = self.run_start.elapsed().as_secs_f64();
        let mut rows = None;
        if let Ok(mut timings) = self.timings.lock()
            && let Some(entry) = timings.iter_mut().rev().find(|e| e.partition == partition && e.finished_s.is_none())
        {
            entry.finished_s = Some(t);
            entry.ok = ok;
            rows = Some(entry.rows);
        }
        if let (Some(observer), Some(rows)) = (self.observer.get(), rows) {
            observer.partition_finished(self, partition, ok, rows);
        }
    }

    /// Partitions that ran to their end (successfully or not).
    pub fn partitions_finished(&self) -> usize {
        self.timings.lock().map_or(0, |t| t.iter().filter(|e| e.finished_s.is_some()).count())
    }

    /// Seconds from the run's start to the stage's first partition start; `None` before it.
    pub fn started_s(&self) -> Option<f64> {
        let timings = self.timings.lock().ok()?;
        timings.iter().map(|t| t.started_s).reduce(f64::min)
    }

    /// Seconds from the run's start until now.
    pub fn run_seconds(&self) -> f64 {
        self.run_start.elapsed().as_secs_f64()
    }

    /// Records which executor ran `partition` (its last attempt), for the run report.
    pub fn partition_ran_on(&self, partition: usize, executor: &str) {
        if let Ok(mut timings) = self.timings.lock()
            && let Some(entry) = timings.iter_mut().rev().find(|e| e.partition == partition)
        {
            entry.executor = Some(executor.to_string());
        }
    }

    /// Whether the stage has not started, is running, or ran every partition it started.
    pub fn state(&self) -> StageState {
        let timings = self.timings();
        if timings.is_empty() {
            StageState::Waiting
        } else if timings.iter().any(|t| t.finished_s.is_none()) || timings.len() < self.partitions() {
            StageState::Running
        } else {
            StageState::Done
        }
    }

    /// Every partition of this run finished and was committed (none failed or was cut short);
    /// partitions kept from an earlier attempt have no timing here and do not count.
    pub fn all_partitions_committed(&self) -> bool {
        let timings = self.timings();
        timings.len() >= self.partitions() && timings.iter().all(|t| t.ok && t.finished_s.is_some())
    }

    pub fn timings(&self) -> Vec<PartitionTiming> {
        self.timings.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Seconds from the first partition's start to the last one's finish (or now).
    pub fn seconds(&self) -> f64 {
        let timings = self.timings();
        let start = timings.iter().map(|t| t.started_s).fold(f64::INFINITY, f64::min);
        if !start.is_finite() {
            return 0.0;
        }
        let now = self.run_start.elapsed().as_secs_f64();
        let end = timings.iter().map(|t| t.finished_s.unwrap_or(now)).fold(0.0, f64::max);
        (end - start).max(0.0)
    }
}

/// A stage ran past its `timeout`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} `{stage}` partition {partition} exceeded its timeout of {}", crate::plan::duration::format_duration(*.limit))]
pub struct StageTimeout {
    pub stage: String,
    pub kind: StageKind,
    pub partition: usize,
    pub limit: Duration,
}

impl crate::connect::sink::RowsWritten for StageMetrics {
    fn add_rows(&self, rows: u64) {
        StageMetrics::add_rows(self, rows);
    }
}

/// The rows a sink's writer reports for one partition (see [`StageMetrics::add_partition_rows`]).
pub struct PartitionRows {
    pub metrics: Arc<StageMetrics>,
    pub partition: usize,
}

impl crate::connect::sink::RowsWritten for PartitionRows {
    fn add_rows(&self, rows: u64) {
        self.metrics.add_partition_rows(self.partition, rows);
    }
}
