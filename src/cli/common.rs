//! What every command does first: read the file, its variables and profiles, analyse it, and
//! print the problems found.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Exit;
use crate::analyze::{Analysis, Discover, analyze};
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

/// Reads and analyses a .flow file, printing its problems to stderr. `Err` carries the exit
/// code when the file cannot be used.
pub async fn load(
    file: &PathBuf,
    vars: &[String],
    profiles: Option<&Path>,
    discover: Discover,
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
    print_problems(&analysis);
    if analysis.ok() { Ok(Loaded { analysis }) } else { Err(Exit::Usage) }
}

/// Prints the problems of the file: rendered with their source lines, or with `--log-format
/// json` one log line each (code, location, help).
pub fn print_problems(analysis: &Analysis) {
    if analysis.problems.problems.is_empty() {
        return;
    }
    if super::log_format::json() {
        super::log_format::problems(&analysis.problems);
        return;
    }
    eprint!("{}", analysis.problems.render_graphical());
    let errors = analysis.problems.errors().count();
    let warnings = analysis.problems.warnings().count();
    if errors > 0 {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
}
