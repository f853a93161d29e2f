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
pub mod load_data;
pub mod load_text;
pub mod params;
pub mod reader;
pub mod session;
pub mod sink;
pub mod source;
pub mod special_columns;
pub mod types;

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts};

use super::connect_error::{Check, Reach};
use super::retry::{self, Failed};

/// Bound for the whole of opening a connection: TCP, the server's greeting, authentication and
/// the driver's own first statements. The driver bounds the TCP connect only
/// (`tcp_connect_timeout`); a server that accepts the socket and then says nothing (one past
/// its connection limit, a stalled thread pool) would otherwise hold the caller for ever.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a connection, retrying transient failures (see `connect::retry`); each attempt gives
/// up after [`HANDSHAKE_TIMEOUT`] (`DriverError::ConnectTimeout`, not retried).
pub fn connect(opts: &Opts) -> std::result::Result<Conn, Failed<mysql::Error>> {
    retry::retry_blocking(|| connect_within(opts, HANDSHAKE_TIMEOUT), retryable)
}

/// One connection attempt, abandoned after `timeout`: the driver blocks without a bound once
/// the socket is open, so the attempt runs on a thread of its own, which closes the connection
/// should it still open after the caller gave up.
fn connect_within(opts: &Opts, timeout: Duration) -> mysql::Result<Conn> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let opts = opts.clone();
    std::thread::Builder::new()
        .name("flow-mysql-connect".to_string())
        .spawn(move || {
            // The caller may have given up: the connection is then dropped here, closed.
            let _ = sender.send(Conn::new(opts));
        })
        .map_err(mysql::Error::IoError)?;
    match receiver.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(mysql::Error::DriverError(mysql::DriverError::ConnectTimeout)),
    }
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
    use super::*;

    /// A server that accepts the socket and never sends its greeting: the attempt ends at the
    /// bound, as a connect timeout, which is not retried.
    #[test]
    fn a_silent_server_is_given_up_on() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
        let port = listener.local_addr().expect("address").port();
        let opts = Opts::from_url(&format!("mysql://root@127.0.0.1:{port}/db")).expect("options");
        let start = std::time::Instant::now();
        let error = connect_within(&opts, Duration::from_millis(500)).expect_err("no greeting");
        assert!(matches!(error, mysql::Error::DriverError(mysql::DriverError::ConnectTimeout)), "{error}");
        assert!(!retryable(&error));
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
        drop(listener);
    }

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
