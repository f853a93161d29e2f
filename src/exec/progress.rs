//! Progress while a run goes: one indicatif line per stage on a terminal (rows and rows/s), or a
//! plain line every few seconds when stderr is not a terminal; nothing with `--quiet`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::metrics::StageMetrics;
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

/// Runs until dropped (the task is aborted with the handle).
pub struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
    bars: Option<(MultiProgress, StageBars)>,
}

impl Progress {
    pub fn start(pipeline: &str, metrics: &[Arc<StageMetrics>], mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        match mode {
            ProgressMode::Quiet => Self { task: None, bars: None },
            ProgressMode::Auto if terminal => Self::bars(metrics),
            _ => Self::lines(pipeline.to_string(), metrics.to_vec()),
        }
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
                bar.finish_with_message(format!("{} rows", group(m.rows())));
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

fn rate_text(m: &StageMetrics, started: Instant) -> String {
    let rows = m.rows();
    let secs = started.elapsed().as_secs_f64().max(0.001);
    format!("{} rows  {} rows/s", group(rows), group((rows as f64 / secs) as u64))
}
