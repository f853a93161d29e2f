//! `FLOW_LOG_SQL=FILE`: every statement Flow sends to a source database (PostgreSQL, MySQL),
//! appended to `FILE` one per line, so a user (or a test) can see exactly what a command asked
//! of the server: a table set's catalog queries, the schema probe, the bounds query, the
//! snapshot export, each partition's read (`COPY` on PostgreSQL, the tagged `SELECT` on MySQL),
//! and the MySQL sink's `LOAD DATA LOCAL INFILE` statements and the rollbacks of those it sends
//! again as `INSERT`s (which path a table's rows took). A SQLite sink logs each connection it
//! opens to its file (`sqlite\topen\tPATH`), so a test can see that the sinks writing one file
//! share one.
//!
//! A line is `<backend>\t<kind>\t<statement>`, the statement on one line (newlines and tabs
//! become spaces). Statements carry no connection URL, so no password reaches the file.
//! Nothing is written when the variable is unset or empty; a file that cannot be opened is
//! reported once on stderr and logging stays off. Each statement is also a debug log line
//! (target `flow::sql`: `FLOW_LOG=flow::sql=debug`), with `--log-format json` a JSON object.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// What a logged statement does on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// Parsed to learn its result's columns (PostgreSQL `Parse`/`Describe`), not executed.
    Prepare,
    /// Executed, its (small) result read whole.
    Query,
    /// Executed as a stream: a partition's read (PostgreSQL `COPY ... TO STDOUT`, MySQL's
    /// `SELECT` with its `/* flow-read */` tag).
    Copy,
    /// Executed for its effect: `BEGIN`, `SET TRANSACTION SNAPSHOT`, `COMMIT`.
    Execute,
    /// A connection opened; the line holds what it opened (a SQLite sink's file), no statement.
    Open,
}

impl StatementKind {
    fn name(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Query => "query",
            Self::Copy => "copy",
            Self::Execute => "execute",
            Self::Open => "open",
        }
    }
}

fn log_file() -> Option<&'static Mutex<std::fs::File>> {
    static FILE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::var_os("FLOW_LOG_SQL").filter(|p| !p.is_empty())?;
        match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            Ok(file) => Some(Mutex::new(file)),
            Err(e) => {
                tracing::warn!("FLOW_LOG_SQL: cannot open {}: {e}; statements are not logged", path.display());
                None
            }
        }
    })
    .as_ref()
}

/// Appends one statement to the log, when `FLOW_LOG_SQL` is set. `backend` is the backend's
/// name as the CLI spells it (`postgres`, `mysql`, `sqlite`). Never fails: a write error only
/// loses the line.
pub fn record(backend: &str, kind: StatementKind, sql: &str) {
    // Also a debug log line (`FLOW_LOG=flow::sql=debug`); its arguments are built only when
    // that level is on.
    tracing::debug!(target: "flow::sql", backend, kind = kind.name(), "{}", one_line(sql));
    let Some(file) = log_file() else { return };
    let line = one_line(sql);
    if let Ok(mut file) = file.lock() {
        let _ = writeln!(file, "{backend}\t{}\t{line}", kind.name());
    }
}

/// The statement on one line: newlines and tabs become spaces.
fn one_line(sql: &str) -> String {
    sql.chars().map(|c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c }).collect()
}
