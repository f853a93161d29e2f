//! MySQL/MariaDB, read and written with the `mysql` crate: `session` opens reading sessions
//! (and connections that share one snapshot), `types` maps result columns to Arrow fields,
//! `convert` turns values into Arrow arrays, `reader` streams a query's rows as batches,
//! `source` streams a partition (and holds the snapshot a partitioned source's connections
//! share), `sink` writes; `catalog` reads a whole database's schema and `ddl` is MySQL's dialect
//! as the target of a schema copy. This module holds what they share: connecting with retries,
//! and stopping a run's statements on the server.

pub mod catalog;
pub mod convert;
pub mod ddl;
pub mod params;
pub mod reader;
pub mod session;
pub mod sink;
pub mod source;
pub mod special_columns;
pub mod types;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts};

use super::connect_error::{Check, Reach};
use super::retry::{self, Failed};

/// Opens a connection, retrying transient failures (see `connect::retry`).
pub fn connect(opts: &Opts) -> std::result::Result<Conn, Failed<mysql::Error>> {
    retry::retry_blocking(|| Conn::new(opts.clone()), retryable)
}

/// Whether a failed connection attempt is worth repeating: too many connections, a server
/// shutting down, or a refused / reset socket.
/// The server's own words for an error, with its code (`Table 'db.t' doesn't exist (MySQL
/// error 1146, SQLSTATE 42S02)`), or the client's text for a connection or driver error; never
/// the crate's `MySqlError { ... }` form.
pub fn error_text(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(e) => format!("{} (MySQL error {}, SQLSTATE {})", e.message, e.code, e.state),
        mysql::Error::DriverError(e) => e.to_string(),
        mysql::Error::IoError(e) => e.to_string(),
        mysql::Error::UrlError(e) => e.to_string(),
        mysql::Error::CodecError(e) => e.to_string(),
        other => other.to_string(),
    }
}

pub fn retryable(e: &mysql::Error) -> bool {
    match e {
        mysql::Error::MySqlError(e) => retryable_code(e.code),
        mysql::Error::IoError(e) => retry::retryable_io(e.kind()),
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((_, _, kind)))) => {
            retry::retryable_io(*kind)
        }
        _ => false,
    }
}

/// Server error codes worth retrying: too many connections (1040, 1203), server shutdown in
/// progress (1053), and the client's cannot-connect / server-gone / lost-connection errors
/// (2002, 2003, 2006, 2013).
fn retryable_code(code: u16) -> bool {
    matches!(code, 1040 | 1053 | 1203 | 2002 | 2003 | 2006 | 2013)
}

/// Whether the server answered a failed connection: 1044 (access denied to the database), 1045
/// (access denied for the user) and 1049 (unknown database) are refusals (MySQL server error
/// reference); the rest, including "too many connections", may pass.
pub fn reach(e: &mysql::Error) -> Reach {
    match e {
        mysql::Error::MySqlError(e) if matches!(e.code, 1044 | 1045 | 1049) => Reach::Refused,
        _ => Reach::NoAnswer,
    }
}

/// What a failed connection to `url` should make the user check: 1044 (access denied to the
/// database), 1045 (access denied for the user), 1698 (access denied, socket authentication)
/// and 1049 (unknown database), MySQL server error reference; else the I/O error kind of the
/// client's error.
pub fn check(e: &mysql::Error, url: &str) -> Check {
    use mysql::{DriverError, Error};
    let kind = match e {
        Error::MySqlError(e) if matches!(e.code, 1044 | 1045 | 1698) => return Check::Credentials,
        Error::MySqlError(e) if e.code == 1049 => return Check::Database,
        Error::MySqlError(_) => return Check::Everything,
        Error::IoError(io) => Some(io.kind()),
        Error::DriverError(DriverError::CouldNotConnect(Some((_, _, kind)))) => Some(*kind),
        Error::DriverError(DriverError::ConnectTimeout) => Some(std::io::ErrorKind::TimedOut),
        _ => None,
    };
    Check::of_io(kind, url)
}

/// Stops every running statement whose text contains `tag` (except this connection's own), with
/// `KILL QUERY` from a new connection. Returns how many were stopped. Statements of the same
/// user can always be stopped; others need the `PROCESS` and `CONNECTION ADMIN` (or `SUPER`)
/// privileges.
pub fn kill_queries_tagged(conn: &mut Conn, tag: &str) -> mysql::Result<usize> {
    let ids: Vec<u64> = conn.exec(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INSTR(INFO, ?) > 0",
        (tag,),
    )?;
    for id in &ids {
        // A statement that ended meanwhile is no error worth reporting.
        let _ = conn.query_drop(format!("KILL QUERY {id}"));
    }
    Ok(ids.len())
}

#[cfg(test)]
mod tests {
    use super::retryable_code;

    #[test]
    fn transient_server_errors_are_retried_and_others_are_not() {
        for code in [1040, 1053, 2002, 2003, 2013] {
            assert!(retryable_code(code), "{code}");
        }
        // Access denied, unknown database, missing table, syntax error.
        for code in [1045, 1049, 1146, 1064] {
            assert!(!retryable_code(code), "{code}");
        }
    }
}
