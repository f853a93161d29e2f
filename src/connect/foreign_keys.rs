//! The foreign keys of a table set, added once every table of the set is published, so that
//! tables load in any order and each key is checked once against all the rows. Each database
//! backend adds them its own way (`connect::registry::TableSink::foreign_keys`); this module
//! runs the step and words its failure.

use datafusion::error::{DataFusionError, Result};
use futures::future::BoxFuture;

use super::registry;
use crate::diagnostics::{Failure, codes};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::table_set::ForeignKeyStep;

/// Why a backend could not finish a table set's foreign keys.
#[derive(Debug)]
pub enum KeyFailure {
    /// A statement failed: the statement and the driver's message (which may hold the URL's
    /// password; it is scrubbed before anyone reads it).
    Statement { sql: String, detail: String },
    /// Rows whose key finds no row in the referenced table, as `table row N -> parent` (up to
    /// five): SQLite checks its keys after the load (`PRAGMA foreign_key_check`).
    Violations(Vec<String>),
    /// The blocking task that ran the statements failed.
    Task(String),
    /// The target could not be reached: the backend's connection error, passed on as it is.
    Connect(DataFusionError),
}

/// A backend's way to finish a table set's foreign keys: runs `step`'s statements (or checks
/// the keys declared in `CREATE TABLE`) and returns how many keys it added. A key that exists
/// already (same name, from an earlier run into the same tables) is left as it is.
pub type AddForeignKeys = fn(&ForeignKeyStep) -> BoxFuture<'_, std::result::Result<usize, KeyFailure>>;

/// Finishes `step` on its target. Returns how many keys were added; `Err` names the sink, the
/// target (password redacted) and the statement or rows that failed.
pub async fn add(step: &ForeignKeyStep) -> Result<usize> {
    let Some(add) = registry::backend(step.endpoint.backend).table_sink.map(|t| t.foreign_keys) else {
        return Ok(0);
    };
    let url = &step.endpoint.url;
    add(step).await.map_err(|failure| {
        let (code, message) = match failure {
            KeyFailure::Connect(e) => return e,
            KeyFailure::Statement { sql, detail } => (
                codes::sink::WRITE_FAILED,
                format!(
                    "sink `{}` at {}: cannot add a foreign key ({sql}): {}; the tables are published, the key is not",
                    step.sink,
                    redact_url(url),
                    scrub_secret(&detail, url)
                ),
            ),
            KeyFailure::Violations(rows) => (
                codes::sink::VALUE_REFUSED,
                format!(
                    "sink `{}`: rows whose foreign key finds no row in the referenced table: {}",
                    step.sink,
                    rows.join("; ")
                ),
            ),
            KeyFailure::Task(e) => {
                (codes::run::INTERNAL, format!("sink `{}`: adding foreign keys failed: {e}", step.sink))
            }
        };
        Failure { stage: Some(step.sink.clone()), ..Failure::new(code, message) }.into_datafusion()
    })
}
