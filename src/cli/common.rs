//! What every command does first: read the file, its variables and profiles, analyse it, and
//! print the problems found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Exit;
use crate::analyze::{Analysis, Discover, analyze};
use crate::diagnostics::{FileProblems, Problem, codes};
use crate::profiles::Profiles;
use crate::semantic::{CheckContext, Variables};

/// `NAME=VALUE` pairs from `--var`.
pub fn parse_vars(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("--var expects NAME=VALUE, got `{p}`")),
        })
        .collect()
}

pub fn context(vars: &[String], profiles: Option<&Path>, file: Option<&Path>) -> Result<CheckContext, String> {
    let cli_vars = parse_vars(vars)?;
    let profiles = Profiles::discover(profiles, file).map_err(|e| e.to_string())?;
    Ok(CheckContext {
        vars: Variables::from_cli_and_env(cli_vars),
        profiles,
        default_parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
    })
}

pub struct Loaded {
    pub analysis: Analysis,
}

/// What a command does about the sources that did not answer while it was checked (a server
/// that does not answer, a file not there yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// Warn about them: the command will not contact them again (`check`, `explain`, `status`).
    Warn,
    /// Say nothing yet: the command describes them again when it gets to them and reports
    /// what it finds then, as its error (`run`, `copy`, `verify`). Warning now as well would
    /// say the same thing twice.
    LeaveToCommand,
}

/// Reads and analyses a .flow file, printing its problems to stderr. `Err` carries the exit
/// code when the file cannot be used.
pub async fn load(
    file: &PathBuf,
    vars: &[String],
    profiles: Option<&Path>,
    discover: Discover,
    unanswered: Unanswered,
) -> Result<Loaded, Exit> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        tracing::error!("cannot read {}: {e}", file.display());
        Exit::Usage
    })?;
    let ctx = context(vars, profiles, Some(file)).map_err(|e| {
        tracing::error!("{e}");
        Exit::Usage
    })?;
    let analysis = analyze(&file.display().to_string(), &text, &ctx, discover).await;
    print_problems(&analysis, unanswered);
    if analysis.ok() { Ok(Loaded { analysis }) } else { Err(Exit::Usage) }
}

/// Prints the problems of the file: rendered with their source lines, or with `--log-format
/// json` one log line each (code, location, help). With [`Unanswered::LeaveToCommand`] and a
/// file that checked cleanly, the warnings about sources that did not answer are left out: the
/// command itself reports what it finds when it contacts them again.
pub fn print_problems(analysis: &Analysis, unanswered: Unanswered) {
    let leave_out = |p: &Problem| {
        unanswered == Unanswered::LeaveToCommand
            && analysis.ok()
            && [codes::source::UNREACHABLE, codes::source::MISSING].contains(&p.code)
    };
    let problems = FileProblems {
        source: analysis.problems.source.clone(),
        problems: analysis.problems.problems.iter().filter(|p| !leave_out(p)).cloned().collect(),
    };
    if problems.problems.is_empty() {
        return;
    }
    if super::log_format::json() {
        super::log_format::problems(&problems);
        return;
    }
    eprint!("{}", problems.render_graphical());
    let errors = problems.errors().count();
    let warnings = problems.warnings().count();
    if errors > 0 {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
}
