//! The commands' log lines (errors, warnings, the problems of a file, with `FLOW_LOG=debug` the
//! statements sent to sources) go through `tracing`, so that one switch makes them machine
//! readable: `flow run --log-format json` writes one JSON object per line on stderr
//! (`timestamp` RFC 3339, `level`, `message`, `target` and the event's fields, e.g. `code`,
//! `pipeline`, `run_id`). As text (the default) a line reads `error: …`, `warning: …`, or, when
//! it carries a diagnostic code, `error[flow::source::decode]: …`.
//!
//! `FLOW_LOG` filters them: a level (`debug`) applies to Flow's lines, anything else is read as
//! `RUST_LOG` directives (`flow::sql=debug`); default `flow=info`, nothing of the libraries.
//! No line carries a password: messages are redacted where they are made, the text a problem
//! quotes is masked, and statements carry no URL.

use std::fmt;
use std::sync::OnceLock;

use clap::ValueEnum;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::{Cli, Command, ProgressFormat};
use crate::diagnostics::FileProblems;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `error: …` lines, as people read them.
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The log format a command line asks for: `flow run`'s `--log-format`, by default JSON when its
/// progress is JSON (so that stderr holds only JSON lines); text for every other command.
pub fn format_of(cli: &Cli) -> LogFormat {
    match &cli.command {
        Command::Run(args) => args.log_format.unwrap_or(if args.progress == ProgressFormat::Json {
            LogFormat::Json
        } else {
            LogFormat::Text
        }),
        _ => LogFormat::Text,
    }
}

/// Installs the process's log subscriber, writing to stderr in `format`. Called once, by `main`;
/// a second call changes nothing.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = EnvFilter::try_new(filter_directives(std::env::var("FLOW_LOG").ok().as_deref()))
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // A line that cannot be written (stderr a closed pipe or a full device) is dropped: by
    // default the subscriber reports that with `eprintln!`, which panics on the same stderr.
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_ansi(false)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.event_format(PlainLine).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init(),
    };
}

/// Flow's own lines at `info` and up; nothing of the libraries.
const DEFAULT_FILTER: &str = "flow=info";

/// The filter `FLOW_LOG` asks for: a level name (`debug`) is Flow's lines at that level (as the
/// servers' log reads it), anything else is taken as `RUST_LOG`-style directives
/// (`flow::sql=debug`); unset, [`DEFAULT_FILTER`].
fn filter_directives(flow_log: Option<&str>) -> String {
    match flow_log.map(str::trim) {
        None | Some("") => DEFAULT_FILTER.to_string(),
        Some(level @ ("off" | "error" | "warn" | "info" | "debug" | "trace")) => format!("flow={level}"),
        Some(directives) => directives.to_string(),
    }
}

/// Whether log lines are JSON (`--log-format json`).
pub fn json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// The problems of a file as log lines, one each: its message, `code`, `location`
/// (`file:line:col`) and `help`, at level `warn` or `error`.
pub fn problems(problems: &FileProblems) {
    for p in &problems.problems {
        let location = p.span.map(|span| problems.location(span));
        let (location, help) = (location.as_deref(), p.help.as_deref());
        if p.warning {
            tracing::warn!(code = p.code, location, help, "{}", p.message);
        } else {
            tracing::error!(code = p.code, location, help, "{}", p.message);
        }
    }
}

/// A text line: `error: MESSAGE`, `warning: MESSAGE`, `MESSAGE` (info), `debug: MESSAGE`; an
/// event with a `code` field names it as the compilers do, `error[flow::sink::value_refused]:
/// MESSAGE`. The event's other fields are for JSON only.
struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let prefix = match *event.metadata().level() {
            Level::ERROR => "error: ",
            Level::WARN => "warning: ",
            Level::INFO => "",
            Level::DEBUG => "debug: ",
            Level::TRACE => "trace: ",
        };
        let mut message = Message::default();
        event.record(&mut message);
        match (&message.code, prefix.strip_suffix(": ")) {
            (Some(code), Some(level)) => writeln!(writer, "{level}[{code}]: {}", message.text),
            _ => writeln!(writer, "{prefix}{}", message.text),
        }
    }
}

/// The `message` and `code` fields of an event.
#[derive(Default)]
struct Message {
    text: String,
    code: Option<String>,
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.text = value.to_string(),
            "code" => self.code = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.text = format!("{value:?}"),
            "code" => self.code = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_directives;

    #[test]
    fn flow_log_is_a_level_for_flow_or_directives() {
        assert_eq!(filter_directives(None), "flow=info");
        assert_eq!(filter_directives(Some("debug")), "flow=debug");
        assert_eq!(filter_directives(Some("flow::sql=debug,flow=warn")), "flow::sql=debug,flow=warn");
    }
}
