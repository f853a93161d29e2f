//! Progress while a run goes: one indicatif line per stage on a terminal (rows and rows/s), or a
//! plain line every few seconds when stderr is not a terminal; nothing with `--quiet`. A
//! pipeline with table sets shows, instead of a line per stage, how many tables are done and
//! which are being written.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::metrics::{StageMetrics, StageState};
use super::report::group;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Bars on a terminal, periodic lines otherwise.
    Auto,
    /// Periodic plain lines.
    Lines,
    Quiet,
}

/// One spinner per stage, with the counters it shows.
type StageBars = Vec<(ProgressBar, Arc<StageMetrics>)>;

/// The tables of a pipeline's table sets: each table's name and the sinks that write it.
pub type TableStages = Vec<(String, Vec<Arc<StageMetrics>>)>;

/// `tables 3/14 done; now: orders 12,345 rows, events 50,000 rows`.
pub fn tables_text(tables: &TableStages) -> String {
    let done = tables.iter().filter(|(_, sinks)| StageState::of_all(sinks) == StageState::Done).count();
    let now: Vec<String> = tables
        .iter()
        .filter(|(_, sinks)| StageState::of_all(sinks) == StageState::Running)
        .map(|(table, sinks)| format!("{table} {} rows", group(sinks.iter().map(|m| m.rows()).max().unwrap_or(0))))
        .collect();
    let now = if now.is_empty() { String::new() } else { format!("; now: {}", now.join(", ")) };
    let publishing: Vec<&str> = tables
        .iter()
        .filter(|(_, sinks)| sinks.iter().any(|m| m.publishing()))
        .map(|(table, _)| table.as_str())
        .collect();
    let publishing =
        if publishing.is_empty() { String::new() } else { format!("; publishing: {}", publishing.join(", ")) };
    format!("tables {done}/{} done{now}{publishing}", tables.len())
}

/// Runs until dropped (the task is aborted with the handle).
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bars: Option<(MultiProgress, StageBars)>,
}

impl Progress {
    pub fn start(pipeline: &str, metrics: &[Arc<StageMetrics>], tables: TableStages, mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Quiet => Self { task: None, bars: None },
            _ if !tables.is_empty() => {
                Self::tables(pipeline.to_string(), tables, mode == ProgressMode::Auto && terminal)
            }
            ProgressMode::Auto if terminal => Self::bars(metrics),
            _ => Self::lines(pipeline.to_string(), metrics.to_vec()),
        }
    }

    /// One line for all the tables of the pipeline's table sets.
    fn tables(pipeline: String, tables: TableStages, terminal: bool) -> Self {
        if terminal {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(pipeline);
            let ticking = bar.clone();
            let task = tokio::spawn(async move {
                loop {
                    ticking.set_message(tables_text(&tables));
                    ticking.tick();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
            return Self { task: Some(task), bars: Some((multi, vec![])) };
        }
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                eprintln!("[{pipeline} {:.0}s] {}", started.elapsed().as_secs_f64(), tables_text(&tables));
            }
        });
        Self { task: Some(task), bars: None }
    }

    fn bars(metrics: &[Arc<StageMetrics>]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} {prefix:<28} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars: Vec<_> = metrics
            .iter()
            .map(|m| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(format!("{} {}", m.kind, m.name));
                (bar, m.clone())
            })
            .collect();
        let ticking: Vec<_> = bars.clone();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                for (bar, m) in &ticking {
                    bar.set_message(rate_text(m, started));
                    bar.tick();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { task: Some(task), bars: Some((multi, bars)) }
    }

    fn lines(pipeline: String, metrics: Vec<Arc<StageMetrics>>) -> Self {
        let started = Instant::now();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let parts: Vec<String> =
                    metrics.iter().map(|m| format!("{} {}", m.name, rate_text(m, started))).collect();
                eprintln!("[{pipeline} {:.0}s] {}", started.elapsed().as_secs_f64(), parts.join(" | "));
            }
        });
        Self { task: Some(task), bars: None }
    }

    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        if let Some((multi, bars)) = self.bars.take() {
            for (bar, m) in &bars {
                bar.finish_with_message(format!("{:>13} rows", group(m.rows())));
            }
            let _ = multi.clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `   1,234,567 rows     412,345 rows/s`, numbers right-aligned so the lines of all stages
/// line up; a sink publishing its staged rows says so, with the seconds it has taken.
fn rate_text(m: &StageMetrics, started: Instant) -> String {
    let rows = m.rows();
    if m.publishing() {
        let secs = m.publish_seconds().unwrap_or(0.0);
        return format!("{:>13} rows  publishing… {secs:.1}s", group(rows));
    }
    let secs = started.elapsed().as_secs_f64().max(0.001);
    format!("{:>13} rows {:>11} rows/s", group(rows), group((rows as f64 / secs) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::metrics::StageKind;

    fn sink(name: &str, partitions: usize, started: usize, finished: usize, rows: u64) -> Arc<StageMetrics> {
        let m = Arc::new(StageMetrics::new(name, StageKind::Sink, Instant::now()));
        m.set_partitions(partitions);
        (0..started).for_each(|p| m.partition_started(p));
        (0..finished).for_each(|p| m.partition_finished(p, true));
        m.add_rows(rows);
        m
    }

    #[test]
    fn tables_line_counts_done_tables_and_names_the_running_ones() {
        let tables: TableStages = vec![
            ("app.events".into(), vec![sink("a", 2, 2, 1, 12_345)]),
            ("app.orders".into(), vec![sink("b", 1, 1, 1, 1_000)]),
            ("app.tags".into(), vec![sink("c", 1, 0, 0, 0)]),
        ];
        assert_eq!(tables_text(&tables), "tables 1/3 done; now: app.events 12,345 rows");
        tables[1].1[0].publish_started();
        assert_eq!(tables_text(&tables), "tables 1/3 done; now: app.events 12,345 rows; publishing: app.orders");
    }

    #[test]
    fn stage_lines_align_and_say_when_a_sink_publishes() {
        let started = Instant::now().checked_sub(Duration::from_secs(10)).unwrap_or_else(Instant::now);
        let small = sink("a", 1, 1, 0, 7);
        let large = sink("b", 1, 1, 0, 12_345_678);
        let (a, b) = (rate_text(&small, started), rate_text(&large, started));
        assert_eq!(a.find(" rows "), b.find(" rows "), "{a:?} / {b:?}");
        assert_eq!(a.len(), b.len(), "{a:?} / {b:?}");
        large.publish_started();
        assert!(
            rate_text(&large, started).starts_with("   12,345,678 rows  publishing… 0."),
            "{}",
            rate_text(&large, started)
        );
        large.publish_finished();
        assert!(!large.publishing());
    }
}
