//! The text of progress: one stage's line, the whole run's line and a table set's line, made
//! from counters read at one moment. Everything here is a pure function of the rows, totals and
//! elapsed times it is given, so tests hold the clock.
//!
//! A line shows a percentage and an ETA whenever a total is known: exactly (a generated source,
//! Parquet footers) or as an estimate (a database's statistics, a CSV file's size, the share of
//! partitions done), which is written with `≈`. An estimate never makes a line claim 100% before
//! the stage is done: the percentage stops at 99%, and a stage that passes its estimate shows an
//! open count (rows and rows/s) instead.

use std::time::Duration;

use crate::exec::metrics::StageState;
use crate::exec::report::group;

/// The highest share of the work a line claims before its stage is done.
pub const MAX_UNFINISHED: f64 = 0.99;

/// What a stage's rows are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// Rows known before reading them: exactly, or an estimate.
    Rows { rows: u64, exact: bool },
    /// Only how many partitions the stage has (more than one): the share of them done.
    Partitions(usize),
    /// Nothing: an open count.
    Unknown,
}

/// How far along something is: a share in `0.0..=1.0`, and whether it is exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fraction {
    pub value: f64,
    pub exact: bool,
}

/// One stage at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StageView {
    pub rows: u64,
    pub total: Total,
    pub partitions_done: usize,
    pub state: StageState,
    /// Since the stage's first partition started (its whole time once done).
    pub elapsed: Duration,
    /// A sink publishing its staged rows: seconds so far.
    pub publishing: Option<f64>,
}

impl StageView {
    /// How far along the stage is; `None` for an open count (no total). Below
    /// [`MAX_UNFINISHED`] until the stage is done, also when its rows passed the estimate.
    pub fn fraction(&self) -> Option<Fraction> {
        if self.state == StageState::Done {
            return Some(Fraction { value: 1.0, exact: true });
        }
        let (value, exact) = match self.total {
            Total::Rows { rows: 0, .. } | Total::Unknown => return None,
            Total::Rows { rows, exact } => (self.rows as f64 / rows as f64, exact),
            Total::Partitions(0) => return None,
            Total::Partitions(n) => (self.partitions_done as f64 / n as f64, false),
        };
        Some(Fraction { value: value.min(MAX_UNFINISHED), exact })
    }

    /// Rows per second since the stage started; 0 before.
    fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.rows as f64 / secs } else { 0.0 }
    }
}

/// A stage's line, e.g. `≈ 45% · 1,234,567 / ≈2,700,000 rows · 35,000 rows/s · ETA 42s`,
/// `≈ 50% · 2/4 partitions · 12,345 rows · 6,172 rows/s · ETA 2s`, `12,345 rows · 6,172
/// rows/s` (no total, or past the estimate), `done · 200,000 rows · 412,345 rows/s · 0.5s`.
pub fn stage_text(v: &StageView) -> String {
    let rate = format!("{} rows/s", group(v.rate().round() as u64));
    if let Some(secs) = v.publishing {
        return format!("{} rows · publishing… {secs:.1}s", group(v.rows));
    }
    match v.state {
        StageState::Waiting => return "waiting".to_string(),
        StageState::Done => return format!("done · {} rows · {rate} · {}", group(v.rows), seconds_text(v.elapsed)),
        StageState::Running => {}
    }
    let open = format!("{} rows · {rate}", group(v.rows));
    let Some(fraction) = v.fraction() else { return open };
    match v.total {
        Total::Rows { rows: total, exact } if v.rows <= total => {
            let eta = eta_of_rows(total - v.rows, v.rate());
            let approx = if exact { "" } else { "≈" };
            format!("{} · {} / {approx}{} rows · {rate}{eta}", percent_text(fraction), group(v.rows), group(total))
        }
        Total::Partitions(n) => {
            let eta = eta_of_fraction(v.partitions_done as f64 / n as f64, v.elapsed);
            format!("{} · {}/{n} partitions · {open}{eta}", percent_text(fraction), v.partitions_done)
        }
        _ => open,
    }
}

/// The whole run's line, from its sinks (a run is done when every sink is):
/// `≈ 45% · 0/2 sinks done · 12s · ETA 15s`, or without a share when a running sink has no
/// total: `1/2 sinks done · 12s`.
pub fn run_text(sinks: &[StageView], elapsed: Duration) -> String {
    let done = sinks.iter().filter(|s| s.state == StageState::Done).count();
    let head = format!("{done}/{} sinks done · {}", sinks.len(), seconds_text(elapsed));
    match run_fraction(sinks) {
        Some(f) if done < sinks.len() => {
            format!("{} · {head}{}", percent_text(f), eta_of_fraction(f.value, elapsed))
        }
        _ => head,
    }
}

/// The run's share done: the sinks' shares, weighted by their totals when every sink has a
/// row total, else alike. `None` when a sink not yet done has no total.
pub fn run_fraction(sinks: &[StageView]) -> Option<Fraction> {
    let fractions: Vec<Fraction> = sinks.iter().map(StageView::fraction).collect::<Option<_>>()?;
    if fractions.is_empty() {
        return None;
    }
    let weights: Vec<f64> = match sinks.iter().map(|s| s.total).collect::<Vec<_>>() {
        totals if totals.iter().all(|t| matches!(t, Total::Rows { .. })) => totals
            .iter()
            .map(|t| match t {
                Total::Rows { rows, .. } => (*rows).max(1) as f64,
                _ => 1.0,
            })
            .collect(),
        _ => vec![1.0; sinks.len()],
    };
    let sum: f64 = weights.iter().sum();
    let value = fractions.iter().zip(&weights).map(|(f, w)| f.value * w).sum::<f64>() / sum;
    let all_done = sinks.iter().all(|s| s.state == StageState::Done);
    let value = if all_done { 1.0 } else { value.min(MAX_UNFINISHED) };
    Some(Fraction { value, exact: fractions.iter().all(|f| f.exact) })
}

/// One table of a table set at one moment: its state, the rows its source read, how far its
/// sinks are, and whether one of them publishes it now.
#[derive(Debug, Clone, PartialEq)]
pub struct TableView {
    pub name: String,
    pub state: StageState,
    pub rows: u64,
    pub fraction: Option<Fraction>,
    /// The rows the table is expected to hold, when known: tables weigh by it when all have one.
    pub weight: Option<u64>,
    pub publishing: bool,
}

/// The line of a pipeline's table sets: `tables ≈ 40% · 1/3 done · 4s · ETA 6s; now:
/// app.events 12,345 rows; publishing: app.orders`. A running table counts with its sinks'
/// share (none without a total), a waiting one as nothing, a done one whole; tables weigh by
/// their expected rows when every one has them, else alike.
pub fn tables_text(tables: &[TableView], elapsed: Duration) -> String {
    let done = tables.iter().filter(|t| t.state == StageState::Done).count();
    let n = tables.len();
    let mut exact = true;
    let weighted = tables.iter().all(|t| t.weight.is_some());
    let weight = |t: &TableView| if weighted { t.weight.unwrap_or(1).max(1) as f64 } else { 1.0 };
    let shares: f64 = tables
        .iter()
        .map(|t| {
            let share = match t.state {
                StageState::Done => 1.0,
                StageState::Waiting => 0.0,
                StageState::Running => {
                    let f = t.fraction.unwrap_or(Fraction { value: 0.0, exact: false });
                    exact &= f.exact;
                    f.value
                }
            };
            share * weight(t)
        })
        .sum();
    let whole: f64 = tables.iter().map(weight).sum();
    let mut out = format!("tables {done}/{n} done · {}", seconds_text(elapsed));
    if n > 0 && done < n {
        let value = (shares / whole).min(MAX_UNFINISHED);
        let f = Fraction { value, exact };
        out = format!(
            "tables {} · {done}/{n} done · {}{}",
            percent_text(f),
            seconds_text(elapsed),
            eta_of_fraction(value, elapsed)
        );
    }
    let now: Vec<String> = tables
        .iter()
        .filter(|t| t.state == StageState::Running)
        .map(|t| format!("{} {} rows", t.name, group(t.rows)))
        .collect();
    if !now.is_empty() {
        out.push_str(&format!("; now: {}", now.join(", ")));
    }
    let publishing: Vec<&str> = tables.iter().filter(|t| t.publishing).map(|t| t.name.as_str()).collect();
    if !publishing.is_empty() {
        out.push_str(&format!("; publishing: {}", publishing.join(", ")));
    }
    out
}

/// A bar of `width` cells for a terminal, `█` done and `░` to do.
pub fn bar_cells(f: Fraction, width: usize) -> String {
    let filled = ((f.value.clamp(0.0, 1.0) * width as f64).floor() as usize).min(width);
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

/// `45%`, or `≈ 45%` for an estimate; whole percents, rounded down.
fn percent_text(f: Fraction) -> String {
    // The small epsilon keeps 0.4 (stored as 0.39999…) at 40%.
    let percent = (f.value.clamp(0.0, 1.0) * 100.0 + 1e-9).floor() as u64;
    if f.exact { format!("{percent}%") } else { format!("≈ {percent}%") }
}

/// ` · ETA 42s` for `remaining` rows at `rate` rows/s; nothing before any rate is known.
fn eta_of_rows(remaining: u64, rate: f64) -> String {
    if rate <= 0.0 {
        return String::new();
    }
    format!(" · ETA {}", duration_text(remaining as f64 / rate))
}

/// ` · ETA 42s` for work `fraction` done in `elapsed`; nothing before any of it is done.
fn eta_of_fraction(fraction: f64, elapsed: Duration) -> String {
    if fraction <= 0.0 {
        return String::new();
    }
    let secs = elapsed.as_secs_f64() * (1.0 - fraction.min(1.0)) / fraction;
    format!(" · ETA {}", duration_text(secs))
}

/// `42s`, `3m 05s`, `2h 07m`: whole seconds, rounded.
pub fn duration_text(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// An elapsed time: `4.2s` under a minute, else as [`duration_text`].
pub fn seconds_text(elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    if secs < 60.0 { format!("{secs:.1}s") } else { duration_text(secs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(rows: u64, total: Total, secs: f64) -> StageView {
        StageView {
            rows,
            total,
            partitions_done: 0,
            state: StageState::Running,
            elapsed: Duration::from_secs_f64(secs),
            publishing: None,
        }
    }

    #[test]
    fn an_estimate_shows_percent_rows_rate_and_eta_with_approximately() {
        let v = running(1_234_567, Total::Rows { rows: 2_700_000, exact: false }, 1_234_567.0 / 35_000.0);
        assert_eq!(stage_text(&v), "≈ 45% · 1,234,567 / ≈2,700,000 rows · 35,000 rows/s · ETA 42s");
    }

    #[test]
    fn an_exact_total_has_no_approximately() {
        let v = running(50_000, Total::Rows { rows: 200_000, exact: true }, 2.0);
        assert_eq!(stage_text(&v), "25% · 50,000 / 200,000 rows · 25,000 rows/s · ETA 6s");
    }

    #[test]
    fn a_running_stage_never_claims_100_percent() {
        let v = running(200_000, Total::Rows { rows: 200_000, exact: true }, 4.0);
        assert_eq!(stage_text(&v), "99% · 200,000 / 200,000 rows · 50,000 rows/s · ETA 0s");
        assert_eq!(v.fraction(), Some(Fraction { value: MAX_UNFINISHED, exact: true }));
    }

    #[test]
    fn rows_past_the_estimate_switch_to_an_open_count() {
        let v = running(3_000_001, Total::Rows { rows: 2_700_000, exact: false }, 100.0);
        assert_eq!(stage_text(&v), "3,000,001 rows · 30,000 rows/s");
        // The run still sees the stage as not done.
        assert_eq!(v.fraction(), Some(Fraction { value: MAX_UNFINISHED, exact: false }));
    }

    #[test]
    fn partitions_give_a_share_when_rows_are_unknown() {
        let v = StageView { partitions_done: 1, ..running(12_345, Total::Partitions(4), 2.0) };
        assert_eq!(stage_text(&v), "≈ 25% · 1/4 partitions · 12,345 rows · 6,173 rows/s · ETA 6s");
        let none_done = running(10, Total::Partitions(4), 2.0);
        assert_eq!(stage_text(&none_done), "≈ 0% · 0/4 partitions · 10 rows · 5 rows/s");
    }

    #[test]
    fn no_total_is_an_open_count_and_states_have_their_words() {
        assert_eq!(stage_text(&running(7, Total::Unknown, 0.5)), "7 rows · 14 rows/s");
        let waiting = StageView { state: StageState::Waiting, ..running(0, Total::Unknown, 0.0) };
        assert_eq!(stage_text(&waiting), "waiting");
        let done = StageView { state: StageState::Done, ..running(200_000, Total::Unknown, 0.5) };
        assert_eq!(stage_text(&done), "done · 200,000 rows · 400,000 rows/s · 0.5s");
        let publishing = StageView { publishing: Some(1.25), ..done };
        assert_eq!(stage_text(&publishing), "200,000 rows · publishing… 1.2s");
    }

    #[test]
    fn the_run_line_weights_its_sinks_by_their_totals() {
        let a = running(100, Total::Rows { rows: 1_000, exact: true }, 1.0);
        let b = running(2_700, Total::Rows { rows: 3_000, exact: false }, 1.0);
        // (100 + 2,700) / 4,000 = 70%.
        assert_eq!(run_text(&[a, b], Duration::from_secs(7)), "≈ 70% · 0/2 sinks done · 7.0s · ETA 3s");
        let done = StageView { state: StageState::Done, ..a };
        assert_eq!(run_text(&[done, done], Duration::from_secs(75)), "2/2 sinks done · 1m 15s");
        let open = running(5, Total::Unknown, 1.0);
        assert_eq!(run_text(&[done, open], Duration::from_secs(3)), "1/2 sinks done · 3.0s");
    }

    #[test]
    fn the_tables_line_counts_done_tables_and_names_the_running_ones() {
        let table = |name: &str, state, rows, fraction: Option<f64>| TableView {
            name: name.into(),
            state,
            rows,
            fraction: fraction.map(|value| Fraction { value, exact: false }),
            weight: None,
            publishing: false,
        };
        let mut tables = vec![
            table("app.events", StageState::Running, 12_345, Some(0.2)),
            table("app.orders", StageState::Done, 1_000, Some(1.0)),
            table("app.tags", StageState::Waiting, 0, None),
        ];
        // (0.2 + 1 + 0) / 3 = 40% in 4 s: 6 s to go.
        assert_eq!(
            tables_text(&tables, Duration::from_secs(4)),
            "tables ≈ 40% · 1/3 done · 4.0s · ETA 6s; now: app.events 12,345 rows"
        );
        tables[1].publishing = true;
        assert!(tables_text(&tables, Duration::from_secs(4)).ends_with("; publishing: app.orders"));
        // With every table's expected rows, a large table weighs more: (0.2 * 9,000 + 1,000) / 10,001.
        let weights = [9_000, 1_000, 1];
        tables.iter_mut().zip(weights).for_each(|(t, w)| t.weight = Some(w));
        assert!(
            tables_text(&tables, Duration::from_secs(4))
                .starts_with("tables ≈ 27% · 1/3 done · 4.0s · ETA 10s; now: app.events 12,345 rows")
        );
        tables.iter_mut().for_each(|t| t.state = StageState::Done);
        tables[1].publishing = false;
        assert_eq!(tables_text(&tables, Duration::from_secs(9)), "tables 3/3 done · 9.0s");
    }

    #[test]
    fn bars_and_durations() {
        assert_eq!(bar_cells(Fraction { value: 0.45, exact: false }, 10), "████░░░░░░");
        assert_eq!(bar_cells(Fraction { value: 1.0, exact: true }, 4), "████");
        assert_eq!(duration_text(41.6), "42s");
        assert_eq!(duration_text(185.0), "3m 05s");
        assert_eq!(duration_text(7_650.0), "2h 07m");
    }
}
