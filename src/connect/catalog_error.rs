//! Why a database's catalog could not be read ([`CatalogError`]): what was being read, on which
//! server or file, and the stable code of the failure ([`CatalogError::code`]). Each backend's
//! `catalog.rs` builds these from its driver's errors; the text users read is the error's
//! `Display`, with every password already removed where the error is built.

use datafusion::error::DataFusionError;

use super::connect_error::{ConnectError, failure_of};
use crate::diagnostics::codes;
use crate::plan::endpoint::{redact_url, scrub_secret};

/// A failed read of a database's catalog (`connect::catalog::read_catalog`, `read_table_set`).
///
/// `backend` fields hold the backend's name as messages print it (`PostgreSQL`, `MySQL`,
/// `SQLite`); `server` fields the URL with its password redacted (`redact_url`).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The endpoint is a file or `generate`, which has no catalog.
    #[error("{backend} connection `{connection}` is not a database: it has no schema to copy")]
    NotADatabase { backend: &'static str, connection: String },
    /// A call shared with describing sources failed: connecting, or a statement of its own
    /// (PostgreSQL's inheritance children). `code` is that failure's code; `source` keeps the
    /// typed connection error (whether the server answered) when connecting failed.
    #[error("{message}")]
    Backend {
        message: String,
        code: &'static str,
        #[source]
        source: Option<ConnectError>,
    },
    /// The server refused a catalog statement; `statement` is its first line, `reason` the
    /// driver's text.
    #[error("{backend} at {server} refused to list the schema ({statement}): {reason}")]
    Refused { backend: &'static str, server: String, statement: String, reason: String },
    /// A catalog row lacks a value its statement selects, or holds one of another type: column
    /// `column` (0-based) and what was wrong with it.
    #[error("unexpected {backend} catalog value in column {column}: {problem}")]
    BadValue { backend: &'static str, column: usize, problem: String },
    /// A statement that always returns a row returned none.
    #[error("{backend} returned no row for {statement}")]
    NoRow { backend: &'static str, statement: &'static str },
    /// A MySQL URL that names no database: its catalog is the URL's database.
    #[error("the MySQL URL {server} names no database; add /DATABASE to it")]
    NoDatabase { server: String },
    /// A file database that cannot be opened (`what: None`) or whose `what` cannot be read.
    #[error("{}", file_message(backend, path, what.as_deref(), reason))]
    File { backend: &'static str, path: String, what: Option<String>, reason: String },
    /// The task reading the catalog stopped before it finished (it panicked or was cancelled).
    #[error("reading the {backend} schema stopped: {reason}")]
    Stopped { backend: &'static str, reason: String },
}

fn file_message(backend: &str, path: &str, what: Option<&str>, reason: &str) -> String {
    match what {
        None => format!("cannot open {backend} file {path}: {reason}"),
        Some(what) => format!("{backend} file {path}: cannot read {what}: {reason}"),
    }
}

impl CatalogError {
    /// The stable code of the failure, from the registry (`diagnostics::codes`): a connection
    /// that failed keeps its own (`flow::connection::unreachable` or `refused`), a statement the
    /// server refused or a file that cannot be read is `flow::source::read_failed`, a row that
    /// does not fit its statement `flow::source::decode`, a URL without a database
    /// `flow::connection::bad_url`, an endpoint that is not a database
    /// `flow::table_set::tables_unsupported`, a reading task that stopped `flow::run::internal`.
    /// (A table set that cannot be expanded is reported as `flow::table_set::expansion`
    /// whatever the cause, as the README's table of codes says; this is the cause's code.)
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotADatabase { .. } => codes::table_set::TABLES_UNSUPPORTED,
            Self::Backend { code, .. } => code,
            Self::Refused { .. } | Self::File { .. } => codes::source::READ_FAILED,
            Self::BadValue { .. } | Self::NoRow { .. } => codes::source::DECODE,
            Self::NoDatabase { .. } => codes::connection::BAD_URL,
            Self::Stopped { .. } => codes::run::INTERNAL,
        }
    }

    /// [`Self::Backend`] from the error a call on `url` returned (connecting, a shared
    /// statement): its text as users read it (without DataFusion's `External error: `) with the
    /// password removed, its code (a failure's own, a connection error's, else
    /// `flow::source::read_failed`), and the typed connection error it holds, if any.
    pub fn backend(e: DataFusionError, url: &str) -> Self {
        let failure = failure_of(&e, codes::source::READ_FAILED);
        let source = ConnectError::find(&e).cloned();
        Self::Backend { message: scrub_secret(&failure.message, url), code: failure.code, source }
    }

    /// The server at `url` refused `sql` (its first line is kept) for `reason`, the driver's
    /// text (its password removed here).
    pub fn refused(backend: &'static str, url: &str, sql: &str, reason: &str) -> Self {
        Self::Refused {
            backend,
            server: redact_url(url),
            statement: sql.lines().next().unwrap_or("").to_string(),
            reason: scrub_secret(reason, url),
        }
    }

    /// The reading task ended without an answer (`tokio::task::JoinError`).
    pub fn stopped(backend: &'static str, e: &tokio::task::JoinError) -> Self {
        Self::Stopped { backend, reason: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::connect_error::Reach;

    #[test]
    fn the_text_is_the_message_users_read_and_the_code_is_the_cause() {
        let url = "postgres://u:s3cret@h/db";
        let refused = CatalogError::refused("PostgreSQL", url, "SELECT 1\nFROM x", "permission denied (s3cret)");
        assert_eq!(
            refused.to_string(),
            "PostgreSQL at postgres://u:***@h/db refused to list the schema (SELECT 1): permission denied (***)"
        );
        assert_eq!(refused.code(), codes::source::READ_FAILED);
        let e = ConnectError::new(Reach::NoAnswer, format!("cannot connect to {url}")).into_datafusion();
        let connect = CatalogError::backend(e, url);
        assert_eq!(connect.to_string(), "cannot connect to postgres://u:***@h/db");
        assert_eq!(connect.code(), codes::connection::UNREACHABLE);
        let CatalogError::Backend { source: Some(cause), .. } = &connect else { panic!("{connect:?}") };
        assert_eq!(cause.reach, Reach::NoAnswer);
        let file = CatalogError::File { backend: "SQLite", path: "x.db".into(), what: None, reason: "no".into() };
        assert_eq!(file.to_string(), "cannot open SQLite file x.db: no");
        let table = CatalogError::File {
            backend: "SQLite",
            path: "x.db".into(),
            what: Some("table t".into()),
            reason: "no".into(),
        };
        assert_eq!(table.to_string(), "SQLite file x.db: cannot read table t: no");
    }
}
