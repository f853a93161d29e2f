//! Reading sessions on MySQL/MariaDB: connection options from a URL, the settings every
//! reading session gets, and connections that share one consistent snapshot.
//!
//! Flow owns the connections a source reads through, so the N partition queries of one source
//! can read one instant of the database ([`consistent_connections`]): a coordinator holds
//! `FLUSH TABLES WITH READ LOCK` for a moment while each connection starts its transaction.

use std::path::PathBuf;
use std::time::Duration;

use datafusion::error::{DataFusionError, Result};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, SslOpts};

use crate::connect::source::BadUrl;
use crate::diagnostics::{Failure, codes};
use crate::plan::endpoint::{redact_url, scrub_secret};

/// Settings every reading session gets. `TIMESTAMP`s are sent in the session time zone, which
/// is thereby UTC and the values exact instants (see `super::types::UTC`). A consumer that
/// pauses (a slow sink downstream) stops reading the socket; the server must wait rather than
/// abort the statement after the default 60 seconds.
const SESSION_SETTINGS: &[&str] = &["SET time_zone = '+00:00'", "SET SESSION net_write_timeout = 3600"];
/// Bound for establishing a connection, so an unreachable host fails in bounded time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `FLUSH TABLES WITH READ LOCK` may wait for running statements. While it waits, it
/// already blocks the server's writers, so it must give up soon rather than stall them.
const LOCK_WAIT_SECONDS: u32 = 10;
/// `ER_SPECIFIC_ACCESS_DENIED_ERROR`: the user lacks `RELOAD` for the global read lock.
const ACCESS_DENIED: u16 = 1227;
/// `ER_LOCK_WAIT_TIMEOUT`.
const LOCK_WAIT_TIMEOUT: u16 = 1205;
/// URL parameters read here and removed before the `mysql` crate sees the URL: it refuses
/// parameters it does not know, and takes TLS settings only through [`SslOpts`]. `cxprotocol`
/// is connectorx's, which earlier versions of Flow passed on; it is accepted and ignored.
const OWN_PARAMETERS: &[&str] = &["ssl-mode", "sslmode", "ssl-ca", "cxprotocol"];

/// Whether the connections of [`consistent_connections`] see one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    /// Every connection's transaction started while a global read lock held back all commits:
    /// all partitions read the database as it was at one instant.
    Shared,
    /// The user may not take the global read lock (no `RELOAD` privilege): each connection has
    /// its own snapshot, so partitions are read at different moments.
    PerPartition,
}

impl SnapshotKind {
    /// One line for `explain` and the run report.
    pub fn note(self) -> &'static str {
        match self {
            Self::Shared => "all partitions read one consistent snapshot",
            Self::PerPartition => {
                "partitions are read at different moments: the MySQL user lacks the RELOAD privilege \
                 that FLUSH TABLES WITH READ LOCK needs to give them one snapshot"
            }
        }
    }
}

/// Opens one reading session on `url` (`mysql://` or `mariadb://`), with Flow's session
/// settings. Connecting retries transient failures (see `connect::retry`). Errors name the
/// server with its password redacted.
pub fn open_session(url: &str) -> Result<Conn> {
    open_with(&opts_from_url(url)?, url)
}

/// Opens `n` connections that all read one instant of the database (InnoDB tables; tables of
/// non-transactional engines such as MyISAM or Aria are read as they are when each query runs).
///
/// A coordinator connection takes `FLUSH TABLES WITH READ LOCK`, each connection starts a
/// `REPEATABLE READ` transaction `WITH CONSISTENT SNAPSHOT, READ ONLY`, and the coordinator
/// unlocks at once (also when starting a transaction failed). Everything that can be done
/// before the lock (connecting, session settings) is. The lock waits at most 10 seconds
/// (`lock_wait_timeout`) for running statements, then the call fails.
///
/// Without the `RELOAD` privilege the lock is refused: the connections then start their
/// transactions one after another and the kind is [`SnapshotKind::PerPartition`], for the caller
/// to say so. The snapshots last while the connections stay open (or until they run `COMMIT`).
pub fn consistent_connections(url: &str, n: usize) -> Result<(Vec<Conn>, SnapshotKind)> {
    let opts = opts_from_url(url)?;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut conn = open_with(&opts, url)?;
        run(&mut conn, url, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")?;
        conns.push(conn);
    }
    let mut coordinator = open_with(&opts, url)?;
    run(&mut coordinator, url, &format!("SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}"))?;
    crate::connect::sql_log::record(
        "mysql",
        crate::connect::sql_log::StatementKind::Execute,
        "FLUSH TABLES WITH READ LOCK",
    );
    let kind = match coordinator.query_drop("FLUSH TABLES WITH READ LOCK") {
        Ok(()) => {
            let started = start_snapshots(&mut conns, url);
            let unlocked = run(&mut coordinator, url, "UNLOCK TABLES");
            // Closing the coordinator releases the lock too, should UNLOCK itself have failed.
            drop(coordinator);
            started?;
            unlocked?;
            SnapshotKind::Shared
        }
        Err(mysql::Error::MySqlError(e)) if e.code == ACCESS_DENIED => {
            start_snapshots(&mut conns, url)?;
            SnapshotKind::PerPartition
        }
        Err(mysql::Error::MySqlError(e)) if e.code == LOCK_WAIT_TIMEOUT => {
            let message = format!(
                "MySQL at {}: FLUSH TABLES WITH READ LOCK waited {LOCK_WAIT_SECONDS}s for running statements to \
                 finish (it holds back writers meanwhile), so no consistent snapshot was taken; retry when long \
                 statements are done: {}",
                redact_url(url),
                scrub_secret(&e.to_string(), url)
            );
            return Err(Failure::new(codes::source::READ_FAILED, message).into_datafusion());
        }
        Err(e) => return Err(sql_error(url, "FLUSH TABLES WITH READ LOCK", &e)),
    };
    Ok((conns, kind))
}

fn start_snapshots(conns: &mut [Conn], url: &str) -> Result<()> {
    let start = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";
    for conn in conns {
        crate::connect::sql_log::record("mysql", crate::connect::sql_log::StatementKind::Execute, start);
        run(conn, url, start)?;
    }
    Ok(())
}

/// Connection options from a `mysql://` or `mariadb://` URL, with a 30-second connect timeout.
///
/// TLS follows MySQL's `ssl-mode` parameter (alias `sslmode`, any case, `-` or `_`): absent or
/// `DISABLED`, no TLS; `PREFERRED` and `REQUIRED`, encrypted without verifying the certificate
/// (the `mysql` crate cannot fall back to plain text, so `PREFERRED` requires TLS);
/// `VERIFY_CA`, the chain is verified against `ssl-ca` (a file path) or the system roots;
/// `VERIFY_IDENTITY`, the host name too. These are the rules connectorx 0.4.6 applied when it
/// read MySQL for Flow, kept so URLs mean what they meant. Every other parameter goes to the
/// `mysql` crate, which refuses the ones it does not know. Errors show the URL redacted
/// (`flow::connection::bad_url`).
pub(crate) fn opts_from_url(url: &str) -> Result<Opts> {
    parse_opts(url).map_err(|e| {
        let message = format!("invalid MySQL URL {}: {e}", redact_url(url));
        Failure::new(codes::connection::BAD_URL, message).into_datafusion()
    })
}

/// [`opts_from_url`]'s reading of `url`; the error is why the URL cannot be used, without the
/// password.
pub(crate) fn parse_opts(url: &str) -> std::result::Result<Opts, BadUrl> {
    let bad = |e: &dyn std::fmt::Display| BadUrl { reason: scrub_secret(&e.to_string(), url) };
    let mut parsed = url::Url::parse(&url.replacen("mariadb://", "mysql://", 1)).map_err(|e| bad(&e))?;
    let parameter = |name: &str| {
        // The last occurrence wins, as it did under connectorx.
        parsed.query_pairs().filter(|(k, _)| k.eq_ignore_ascii_case(name)).last().map(|(_, v)| v.into_owned())
    };
    let mode = parameter("ssl-mode").or_else(|| parameter("sslmode"));
    let ssl = ssl_opts(mode.as_deref(), parameter("ssl-ca").map(PathBuf::from))?;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !OWN_PARAMETERS.iter().any(|own| k.eq_ignore_ascii_case(own)))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.set_query(None);
    if !kept.is_empty() {
        parsed.query_pairs_mut().extend_pairs(kept);
    }
    let opts = Opts::from_url(parsed.as_str()).map_err(|e| bad(&e))?;
    Ok(OptsBuilder::from_opts(opts).ssl_opts(ssl).tcp_connect_timeout(Some(CONNECT_TIMEOUT)).into())
}

/// The TLS settings of an `ssl-mode` value (see [`opts_from_url`]); `None` is no TLS.
fn ssl_opts(mode: Option<&str>, root_cert: Option<PathBuf>) -> std::result::Result<Option<SslOpts>, BadUrl> {
    let Some(mode) = mode else { return Ok(None) };
    let (accept_invalid_certs, skip_domain_validation) =
        match mode.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "DISABLED" => return Ok(None),
            "PREFERRED" | "REQUIRED" => (true, true),
            "VERIFY_CA" => (false, true),
            "VERIFY_IDENTITY" => (false, false),
            _ => return Err(BadUrl { reason: format!("unsupported ssl-mode value: {mode}") }),
        };
    Ok(Some(
        SslOpts::default()
            .with_danger_accept_invalid_certs(accept_invalid_certs)
            .with_danger_skip_domain_validation(skip_domain_validation)
            .with_root_cert_path(root_cert),
    ))
}

fn open_with(opts: &Opts, url: &str) -> Result<Conn> {
    let mut conn = super::connect(opts).map_err(|f| {
        use crate::connect::connect_error::ConnectError;
        let detail = scrub_secret(&super::error_text(&f.error), url);
        let hint = super::check(&f.error, url).hint();
        let message = format!("cannot connect to {}{}: {detail}; {hint}", redact_url(url), f.attempts_note());
        ConnectError::new(super::reach(&f.error), message).into_datafusion()
    })?;
    for setting in SESSION_SETTINGS {
        run(&mut conn, url, setting)?;
    }
    Ok(conn)
}

fn run(conn: &mut Conn, url: &str, sql: &str) -> Result<()> {
    conn.query_drop(sql).map_err(|e| sql_error(url, sql, &e))
}

/// A statement of a source's session (its settings, its snapshot) that failed.
fn sql_error(url: &str, sql: &str, e: &mysql::Error) -> DataFusionError {
    let message = format!("MySQL at {}: {sql}: {}", redact_url(url), scrub_secret(&super::error_text(e), url));
    Failure::new(codes::source::READ_FAILED, message).into_datafusion()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssl(url: &str) -> Option<SslOpts> {
        opts_from_url(url).expect("options").get_ssl_opts().cloned()
    }

    #[test]
    fn ssl_mode_follows_mysql_names() {
        assert!(ssl("mysql://u:p@h:3306/db").is_none());
        assert!(ssl("mysql://u:p@h:3306/db?ssl-mode=DISABLED").is_none());
        let required = ssl("mysql://u:p@h:3306/db?ssl-mode=REQUIRED").expect("tls");
        assert!(required.accept_invalid_certs() && required.skip_domain_validation());
        assert!(required.root_cert_path().is_none());
        assert_eq!(ssl("mysql://u:p@h/db?ssl-mode=PREFERRED"), ssl("mysql://u:p@h/db?ssl-mode=REQUIRED"));
        let ca = ssl("mysql://u:p@h/db?ssl-mode=VERIFY_CA&ssl-ca=/tmp/ca.pem").expect("tls");
        assert!(!ca.accept_invalid_certs() && ca.skip_domain_validation());
        assert_eq!(ca.root_cert_path(), Some(std::path::Path::new("/tmp/ca.pem")));
        let identity = ssl("mariadb://u:p@h/db?sslmode=verify-identity").expect("tls");
        assert!(!identity.accept_invalid_certs() && !identity.skip_domain_validation());
        assert!(ssl("mysql://u:p@h/db?SSL-MODE=required").is_some(), "names and values in any case");
    }

    #[test]
    fn own_parameters_are_removed_and_others_reach_the_driver() {
        let opts = opts_from_url(
            "mysql://u:p@h/db?ssl-mode=REQUIRED&ssl-ca=/tmp/ca.pem&prefer_socket=false&cxprotocol=binary",
        )
        .expect("options");
        assert!(opts.get_ssl_opts().is_some() && !opts.get_prefer_socket());
        assert_eq!(opts.get_tcp_connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!((opts.get_user(), opts.get_db_name()), (Some("u"), Some("db")));
    }

    #[test]
    fn bad_urls_are_errors_without_the_password() {
        let err = opts_from_url("mysql://u:s3cret@h/db?ssl-mode=bogus").expect_err("bad mode").to_string();
        assert!(err.contains("unsupported ssl-mode value: bogus") && !err.contains("s3cret"), "{err}");
        let err = opts_from_url("mysql://u:s3cret@h/db?no_such_option=1").expect_err("unknown").to_string();
        assert!(err.contains("invalid MySQL URL mysql://u:***@h/db") && !err.contains("s3cret"), "{err}");
    }
}
