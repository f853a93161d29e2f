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
        mysql::Error::MySqlError(e) => retry::retryable_mysql_code(e.code),
        mysql::Error::IoError(e) => retry::retryable_io(e.kind()),
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((_, _, kind)))) => {
            retry::retryable_io(*kind)
        }
        _ => false,
    }
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
