//! Runtime failures as values: what went wrong while a pipeline ran, with a stable code from
//! [`super::codes`] and where it happened (stage, partition, row, column) as fields.
//!
//! A [`Failure`] travels through DataFusion as `DataFusionError::External` (DataFusion's errors
//! are the currency of every stream and sink), is found again with [`Failure::find`] through the
//! wrappers DataFusion adds on the way, and ends in the run report's `failure` object. Code that
//! must decide something about an error (is this the missing upsert key? a row the target
//! refused?) looks at the code, never at the message: the message is for people and may be
//! reworded, the code and the fields are the interface.
//!
//! ```text
//! backend: Failure::new(codes::sink::VALUE_REFUSED, "cannot write row 2, column name = NULL: ...")
//!              .row(2).column("name").into_datafusion()
//!   └▶ StageExec (a source's or transform's errors): stage and partition filled in;
//!      DataFusion's own errors (a division by zero) become `flow::run::failed` there
//!        └▶ runner: stage and partition of the sink when still unset,
//!                   message prefixed "sink `out` partition 0: ..."
//!             └▶ RunReport { error: message, failure: { code, stage, partition, row, column } }
//! ```

use datafusion::error::DataFusionError;
use serde::Serialize;

/// One runtime failure: a stable code, the message as users read it, and where it happened.
///
/// The location fields are `None` when the place that raised the failure does not know them:
/// a connection that drops knows no row; a value that does not convert knows its row and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// A code of the registry [`super::codes`], e.g. `flow::sink::value_refused`.
    pub code: &'static str,
    /// The whole message as users read it (passwords already redacted where it is raised). Not
    /// serialised: the run report carries it as its `error`.
    #[serde(skip)]
    pub message: String,
    /// The stage that failed: the source or transform whose partition raised it, else the sink
    /// whose partition was being written (or prepared, or published).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The stage's partition, 0-based, as in the run report's `partitions[]` and the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<usize>,
    /// The row, 1-based within the partition, in the order the stage read or wrote it: the
    /// number the messages print (`row 2`), and the `row_no` of a reject table. For a CSV file,
    /// the record's number after the header (the message prints the file's line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// The column's name, as the stage's schema spells it. (A `Box<str>` keeps a `Failure`
    /// within the 128 bytes clippy allows an error.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<Box<str>>,
    /// What the person who ran the command can change so the run gets past this, when there is
    /// such a thing; the runner says it in the words of the command that was run (a `.flow`
    /// option for `flow run`, an option of `flow copy`). Not serialised.
    #[serde(skip)]
    pub remedy: Option<Remedy>,
}

/// A change to the pipeline that gets a run past a failure (see [`Failure::remedy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Leave refused rows out or send them to a reject table (`on error skip | reject to`).
    OnError,
    /// Keep the last row of each key of an upsert (`keep last by COLUMN`).
    KeepLast,
}

impl Failure {
    /// A failure with no location yet; `code` is a constant of [`super::codes`].
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), stage: None, partition: None, row: None, column: None, remedy: None }
    }

    /// What gets a run past this failure (see [`Failure::remedy`]).
    pub fn remedy(mut self, remedy: Remedy) -> Self {
        self.remedy = Some(remedy);
        self
    }

    /// The row, 1-based within the partition.
    pub fn row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    pub fn column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into().into_boxed_str());
        self
    }

    /// The stage and its 0-based partition.
    pub fn at(mut self, stage: impl Into<String>, partition: usize) -> Self {
        self.stage = Some(stage.into());
        self.partition = Some(partition);
        self
    }

    /// The same failure with another message (a prefix or a hint added), location kept.
    pub fn reworded(&self, message: impl Into<String>) -> Self {
        Self { message: message.into(), ..self.clone() }
    }

    /// Wrapped for DataFusion as `External`; [`Failure::find`] gets it back. Its text through
    /// `diagnostics::strip_df_prefix` is the message, exactly.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }

    /// The failure inside `e`, through every wrapper DataFusion and Arrow put around an error on
    /// its way out of a stream (`Context`, `Shared`, `External`, `ArrowError::ExternalError`):
    /// the first one along `e`'s chain of sources. `None` when `e` holds none.
    pub fn find(e: &DataFusionError) -> Option<&Failure> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(error) = next {
            if let Some(failure) = error.downcast_ref::<Failure>() {
                return Some(failure);
            }
            next = error.source();
        }
        None
    }

    /// `e` with the stage and partition set on the failure it holds (directly, or inside
    /// `Context`), unless that failure already names a stage: the first stage an error passes
    /// on its way out is the one it came from. Other errors are returned unchanged.
    pub fn locate(e: DataFusionError, stage: &str, partition: usize) -> DataFusionError {
        match e {
            DataFusionError::External(mut inner) => {
                if let Some(failure) = inner.downcast_mut::<Failure>()
                    && failure.stage.is_none()
                {
                    failure.stage = Some(stage.to_string());
                    failure.partition = Some(partition);
                }
                DataFusionError::External(inner)
            }
            DataFusionError::Context(context, inner) => {
                DataFusionError::Context(context, Box::new(Self::locate(*inner, stage, partition)))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::error::ArrowError;

    use super::*;
    use crate::diagnostics::{codes, strip_df_prefix};

    fn refused() -> Failure {
        Failure::new(codes::sink::VALUE_REFUSED, "cannot write row 2, column name = NULL: NULL not allowed")
            .row(2)
            .column("name")
    }

    #[test]
    fn the_text_users_read_is_the_message_exactly() {
        let failure = refused();
        assert_eq!(failure.to_string(), "cannot write row 2, column name = NULL: NULL not allowed");
        assert_eq!(
            strip_df_prefix(&failure.into_datafusion()),
            "cannot write row 2, column name = NULL: NULL not allowed"
        );
    }

    #[test]
    fn found_through_context_shared_and_arrow_wrappers() {
        let e = DataFusionError::Context("sink `out`".into(), Box::new(refused().into_datafusion()));
        let e = DataFusionError::Shared(Arc::new(e));
        let e = DataFusionError::from(ArrowError::ExternalError(Box::new(e)));
        let found = Failure::find(&e).expect("the failure is found");
        assert_eq!(
            (found.code, found.row, found.column.as_deref()),
            (codes::sink::VALUE_REFUSED, Some(2), Some("name"))
        );
        // Arrow keeps a failure it is handed directly as its own external error.
        let e = DataFusionError::from(ArrowError::from(refused().into_datafusion()));
        assert_eq!(Failure::find(&e).map(|f| f.code), Some(codes::sink::VALUE_REFUSED));
        assert!(Failure::find(&DataFusionError::Execution("x".into())).is_none());
    }

    #[test]
    fn the_first_stage_it_passes_is_where_it_happened() {
        let e = Failure::locate(refused().into_datafusion(), "src", 3);
        let e = DataFusionError::Context("reading".into(), Box::new(e));
        let e = Failure::locate(e, "out", 0);
        let found = Failure::find(&e).expect("the failure is found");
        assert_eq!((found.stage.as_deref(), found.partition), (Some("src"), Some(3)));
        let untouched = Failure::locate(DataFusionError::Execution("x".into()), "src", 3);
        assert_eq!(untouched.to_string(), "Execution error: x");
    }

    #[test]
    fn serialised_without_the_message_and_without_what_is_unknown() {
        let json = serde_json::to_value(refused().at("out", 1)).expect("a failure serialises");
        assert_eq!(
            json,
            serde_json::json!({"code": "flow::sink::value_refused", "stage": "out", "partition": 1, "row": 2, "column": "name"})
        );
        let json = serde_json::to_value(Failure::new(codes::run::INTERRUPTED, "interrupted")).expect("serialises");
        assert_eq!(json, serde_json::json!({"code": "flow::run::interrupted"}));
    }
}
