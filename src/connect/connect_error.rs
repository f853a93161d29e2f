//! Why a connection could not be opened, as a type: `flow check` warns when a server did not
//! answer (it may be up when the pipeline runs) and fails when it answered and refused (wrong
//! password, unknown database), which no waiting will fix. Each backend classifies its own
//! driver's error here once; nobody downstream reads the message to decide.

use datafusion::error::DataFusionError;

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
#[derive(Debug, thiserror::Error)]
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
}

/// PostgreSQL: the server refused (SQLSTATE class 28, invalid authorization, or 3D000, invalid
/// catalog name: PostgreSQL docs, Appendix A) or did not answer at all.
pub fn postgres_reach(e: &tokio_postgres::Error) -> Reach {
    match e.code().map(|c| c.code()) {
        Some(code) if code.starts_with("28") || code == "3D000" => Reach::Refused,
        _ => Reach::NoAnswer,
    }
}

/// MySQL/MariaDB: 1044 (access denied to the database), 1045 (access denied for the user) and
/// 1049 (unknown database) are refusals (MySQL server error reference); the rest, including
/// "too many connections", may pass.
pub fn mysql_reach(e: &mysql::Error) -> Reach {
    match e {
        mysql::Error::MySqlError(e) if matches!(e.code, 1044 | 1045 | 1049) => Reach::Refused,
        _ => Reach::NoAnswer,
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
}
