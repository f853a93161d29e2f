//! Why a connection could not be opened, as a type: `flow check` warns when a server did not
//! answer (it may be up when the pipeline runs) and fails when it answered and refused (wrong
//! password, unknown database), which no waiting will fix; and what the user should check
//! ([`Check`]). Each backend classifies its own driver's error, in its folder, into these types;
//! nobody downstream reads the message to decide.

use datafusion::error::DataFusionError;

use crate::diagnostics::{Failure, codes, strip_df_prefix};

/// Whether the server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// No answer: connection refused or reset, a timeout, a host name that does not resolve.
    NoAnswer,
    /// The server answered and refused: authentication failed, or the database does not exist.
    Refused,
}

/// A failed connection: what the user reads (password already redacted) and whether the server
/// answered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    pub reach: Reach,
    pub message: String,
}

impl ConnectError {
    pub fn new(reach: Reach, message: impl Into<String>) -> Self {
        Self { reach, message: message.into() }
    }

    /// Wrapped for DataFusion; [`ConnectError::find`] gets it back.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }

    /// The connection error inside `e`, through DataFusion's `Context`, `Shared` and
    /// `External` wrappers; `None` when `e` is about something else.
    pub fn find(e: &DataFusionError) -> Option<&ConnectError> {
        match e {
            DataFusionError::External(inner) => inner.downcast_ref::<ConnectError>(),
            DataFusionError::Context(_, inner) => Self::find(inner),
            DataFusionError::Shared(inner) => Self::find(inner),
            _ => None,
        }
    }

    /// The code of a run that failed on this connection: [`codes::connection::UNREACHABLE`] or
    /// [`codes::connection::REFUSED`].
    pub fn code(&self) -> &'static str {
        match self.reach {
            Reach::NoAnswer => codes::connection::UNREACHABLE,
            Reach::Refused => codes::connection::REFUSED,
        }
    }
}

/// What `e` says as a [`Failure`]: the failure it carries (its code and location), a connection
/// error as [`ConnectError::code`] says, else `fallback` (a code of [`codes`]: what the caller
/// was doing). The message is `e`'s text as users read it today (`strip_df_prefix`), whatever
/// wrappers it went through.
pub fn failure_of(e: &DataFusionError, fallback: &'static str) -> Failure {
    let message = strip_df_prefix(e);
    if let Some(failure) = Failure::find(e) {
        return failure.reworded(message);
    }
    let code = ConnectError::find(e).map_or(fallback, ConnectError::code);
    Failure::new(code, message)
}

/// What a failed connection should make the user check, decided from the driver's error by
/// its type (SQLSTATE, server error number, I/O error kind), never from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing listens on that host and port (connection refused).
    Listening,
    /// The server refused the user or the password.
    Credentials,
    /// The server does not know the user.
    UserName,
    /// The server does not have the database.
    Database,
    /// The host name does not resolve.
    HostName,
    /// No answer in time, or no route to the host.
    Network,
    /// Anything else.
    Everything,
}

impl Check {
    /// The hint printed after the error, `; HINT`.
    pub fn hint(self) -> &'static str {
        match self {
            Self::Listening => "is the server running and listening on that host and port?",
            Self::Credentials => "check the user name and password",
            Self::UserName => "check the user name",
            Self::Database => "check the database name at the end of the URL",
            Self::HostName => "check the host name",
            Self::Network => "is the host reachable from here (network, firewall)?",
            Self::Everything => "check the URL, the server and the network",
        }
    }

    /// From the I/O error kind a connection to `url` failed with (`None`: no I/O error). Name
    /// resolution failures have no stable `ErrorKind`, so a host name that does not resolve is
    /// found by resolving it again, here.
    pub fn of_io(kind: Option<std::io::ErrorKind>, url: &str) -> Self {
        use std::io::ErrorKind;
        match kind {
            Some(ErrorKind::ConnectionRefused) => Self::Listening,
            Some(ErrorKind::TimedOut | ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable) => Self::Network,
            _ if host_does_not_resolve(url) => Self::HostName,
            _ => Self::Everything,
        }
    }
}

/// True when `url` names a host whose name does not resolve to any address.
fn host_does_not_resolve(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    match parsed.host() {
        Some(url::Host::Domain(name)) => std::net::ToSocketAddrs::to_socket_addrs(&(name, 0)).is_err(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_through_context_and_shared_wrappers() {
        let e = ConnectError::new(Reach::Refused, "database \"x\" does not exist").into_datafusion();
        let wrapped = DataFusionError::Context("source `t`".into(), Box::new(e));
        let shared = DataFusionError::Shared(std::sync::Arc::new(wrapped));
        assert_eq!(ConnectError::find(&shared).map(|c| c.reach), Some(Reach::Refused));
        assert!(ConnectError::find(&DataFusionError::Execution("x".into())).is_none());
    }

    #[test]
    fn io_errors_say_what_to_check() {
        use std::io::ErrorKind;
        let url = "postgres://u@127.0.0.1:1/db";
        assert_eq!(Check::of_io(Some(ErrorKind::ConnectionRefused), url), Check::Listening);
        assert_eq!(Check::of_io(Some(ErrorKind::TimedOut), url), Check::Network);
        assert_eq!(Check::of_io(None, url), Check::Everything);
        assert_eq!(Check::of_io(None, "mariadb://u@no-such-host.invalid/db"), Check::HostName);
    }

    #[test]
    fn a_failure_keeps_its_code_a_connection_error_gets_one_and_the_rest_the_fallback() {
        let refused = ConnectError::new(Reach::Refused, "password authentication failed").into_datafusion();
        let failure = failure_of(&refused, codes::run::FAILED);
        assert_eq!(
            (failure.code, failure.message.as_str()),
            (codes::connection::REFUSED, "password authentication failed")
        );
        let decode = Failure::new(codes::source::DECODE, "column `a`, row 3: 7 is not a date").row(3).column("a");
        let failure = failure_of(&decode.clone().into_datafusion(), codes::run::FAILED);
        assert_eq!(failure, decode);
        let other = failure_of(&DataFusionError::Execution("cut off".into()), codes::run::FAILED);
        assert_eq!((other.code, other.message.as_str()), (codes::run::FAILED, "cut off"));
    }
}
