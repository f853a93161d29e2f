//! What every command does first: read the file, its variables and profiles, analyse it, and
//! print the problems found.

use std::collections::BTreeMap;
use std::path::Path;

use super::Exit;
use crate::analyze::{Analysis, Discover, analyze};
use crate::diagnostics::{FileProblems, Problem, codes};
use crate::profiles::{ProfileError, Profiles};
use crate::semantic::{CheckContext, Variables};

/// A command line as a shell reads it: each argument as it is when it needs no quoting
/// (letters, digits and `_ - . / = : @ % + ,`), else in single quotes.
pub fn shell_words<S: AsRef<str>>(args: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./=:@%+,".contains(c);
    args.iter()
        .map(|a| {
            let a = a.as_ref();
            if !a.is_empty() && a.chars().all(plain) {
                a.to_string()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `flow run ... --resume` that continues a run of `file` started with these variables,
/// profiles and engine (what the run's plan depends on), in backquotes: what a failed run and
/// `flow status` tell people to type. A password among the values is masked where the message
/// is printed (`exec::run` scrubs every URL's password from it).
pub fn resume_command(file: &Path, vars: &[String], profiles: Option<&Path>, engine: Option<&str>) -> String {
    let mut args = vec!["flow".to_string(), "run".to_string(), file.display().to_string()];
    if let Some(profiles) = profiles {
        args.extend(["--profiles".to_string(), profiles.display().to_string()]);
    }
    for var in vars {
        args.extend(["--var".to_string(), var.clone()]);
    }
    if let Some(engine) = engine {
        args.extend(["--engine".to_string(), engine.to_string()]);
    }
    args.push("--resume".to_string());
    format!("`{}`", shell_words(&args))
}

/// Why the variables and profiles a command is given cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A `--var` without `NAME=` (`flow::usage::bad_value`).
    #[error("--var expects NAME=VALUE, got `{pair}`")]
    Var { pair: String },
    /// The profiles file cannot be read or is not valid (`flow::usage::profiles`).
    #[error(transparent)]
    Profiles(#[from] ProfileError),
}

impl ContextError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Var { .. } => codes::usage::BAD_VALUE,
            Self::Profiles(_) => codes::usage::PROFILES,
        }
    }
}

/// `--var` values by name.
pub type CliVars = BTreeMap<String, String>;

/// `NAME=VALUE` pairs from `--var`.
pub fn parse_vars(pairs: &[String]) -> Result<CliVars, ContextError> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(ContextError::Var { pair: p.clone() }),
        })
        .collect()
}

/// What the checker needs besides the file: `--var` values over the environment, and the
/// profiles file (`--profiles`, else `flow.yaml` beside `file`).
pub fn context(vars: &[String], profiles: Option<&Path>, file: Option<&Path>) -> Result<CheckContext, ContextError> {
    let cli_vars = parse_vars(vars)?;
    let profiles = Profiles::discover(profiles, file)?;
    Ok(CheckContext {
        vars: Variables::from_cli_and_env(cli_vars),
        profiles,
        default_parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
        cluster: false,
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
/// `engine` is the `--engine` the command was given: a pipeline is then checked for a cluster
/// run (`CheckContext::cluster`), and the value must name a scheduler.
pub async fn load(
    file: &Path,
    vars: &[String],
    profiles: Option<&Path>,
    discover: Discover,
    unanswered: Unanswered,
    engine: Option<&str>,
) -> Result<Loaded, Exit> {
    if let Some(engine) = engine
        && let Err(e) = super::run::engine_for(Some(engine))
    {
        super::command_error(e.code(), &e);
        return Err(Exit::Usage);
    }
    let text = read_flow_file(file).map_err(|why| {
        tracing::error!("{why}");
        Exit::Usage
    })?;
    let mut ctx = context(vars, profiles, Some(file)).map_err(|e| {
        super::command_error(e.code(), &e);
        Exit::Usage
    })?;
    ctx.cluster = engine.is_some();
    let analysis = analyze(&file.display().to_string(), &text, &ctx, discover).await;
    print_problems(&analysis, unanswered);
    if analysis.ok() { Ok(Loaded { analysis }) } else { Err(Exit::Usage) }
}

/// The text of a `.flow` file. `Err` says why it cannot be used: it cannot be read (the I/O
/// error), or it is not UTF-8 text, as a database or other binary file given by mistake is not
/// (`flow status warehouse.db`): said so, rather than "stream did not contain valid UTF-8".
pub fn read_flow_file(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => format!(
            "{} is not a .flow file: it is not UTF-8 text (a database or another binary file?); name the pipeline file",
            file.display()
        ),
        _ => format!("cannot read {}: {e}", file.display()),
    })
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
    crate::eprint_lossy!("{}", problems.render_graphical());
    let errors = problems.errors().count();
    let warnings = problems.warnings().count();
    if errors > 0 {
        crate::eprintln_lossy!("{errors} error(s), {warnings} warning(s)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_keeps_what_the_plan_depends_on_and_quotes_for_the_shell() {
        let vars = ["OUT=out dir".to_string(), "N=3".to_string()];
        assert_eq!(
            resume_command(Path::new("a.flow"), &vars, Some(Path::new("p.yaml")), Some("ballista://h:50050")),
            "`flow run a.flow --profiles p.yaml --var 'OUT=out dir' --var N=3 --engine ballista://h:50050 --resume`"
        );
        assert_eq!(resume_command(Path::new("it's.flow"), &[], None, None), r"`flow run 'it'\''s.flow' --resume`");
        assert_eq!(shell_words(&["a", "", "$HOME"]), "a '' '$HOME'");
    }
}
