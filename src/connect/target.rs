//! What a sink will do to its target, for `explain`: the type each column gets, the DDL Flow
//! would run when the table is missing, how the rows are published, and what the target cannot
//! keep exactly. The sink is asked (its `connect::registry` entry: a database's
//! `connect::staged::StagedBackend`, or the file format); no connection is made.

use arrow::datatypes::{Field, SchemaRef};
use serde::Serialize;

use super::registry;
use super::staged::StagedBackend;
use crate::diagnostics::{Failure, codes};
use crate::plan::table_set::SequenceReset;
use crate::plan::{Backend, Relation, SinkPlan, TableName, WriteMode};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnMapping {
    pub column: String,
    pub arrow_type: String,
    pub target_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetPlan {
    pub mapping: Vec<ColumnMapping>,
    /// Statements run when the target is created (only if missing, unless mode replace).
    pub ddl: Vec<String>,
    /// How the write becomes visible, in one line.
    pub publish: String,
    /// Mappings that may lose information, said before the run.
    pub warnings: Vec<String>,
}

/// Why a sink cannot say what it will do to its target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The backend writes no target of this kind.
    #[error("{backend} targets are not supported yet")]
    Unsupported { backend: &'static str },
    /// A column has no type on the target, or the table no `CREATE TABLE` (the failure names
    /// the column; `flow::sink::unsupported_type`).
    #[error("{0}")]
    Column(Failure),
}

impl TargetError {
    /// The diagnostic code: `flow::target::not_writable` for a target the backend does not
    /// write, the column's failure's code otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => codes::target::NOT_WRITABLE,
            Self::Column(failure) => failure.code,
        }
    }

    /// A backend's refusal (a `Failure` inside `e`, else `flow::sink::unsupported_type` with
    /// DataFusion's text).
    fn column(e: &datafusion::error::DataFusionError) -> Self {
        Self::Column(
            Failure::find(e)
                .cloned()
                .unwrap_or_else(|| Failure::new(codes::sink::UNSUPPORTED_TYPE, crate::diagnostics::strip_df_prefix(e))),
        )
    }
}

/// What `sink` will do with rows of `schema`. `Err` when its backend cannot write that target,
/// or a column has no type there.
pub fn plan_target(sink: &SinkPlan, schema: &SchemaRef) -> Result<TargetPlan, TargetError> {
    let entry = registry::backend(sink.endpoint.backend);
    match (&sink.relation, entry.table_sink, entry.file_sink) {
        (Relation::Table { name }, Some(table), _) => (table.describe)(sink, name, schema),
        (relation, _, Some(file)) => {
            let publish = match relation {
                Relation::File { path } => format!("write {path}.flow-tmp, then rename it to {path}"),
                _ => "write".to_string(),
            };
            let mapping = schema.fields().iter().map(|f| mapping(f, (file.column_type)(f))).collect();
            let warnings = schema.fields().iter().filter_map(|f| (file.inexact)(f)).collect();
            Ok(TargetPlan { mapping, ddl: Vec::new(), publish, warnings })
        }
        _ => Err(TargetError::Unsupported { backend: sink.endpoint.backend.name() }),
    }
}

/// What a database sink says of its table: each column's type, the `CREATE TABLE` it runs when
/// the table is missing (none with `create never`), how it publishes, and what it cannot keep
/// ([`StagedBackend::inexact`]).
pub fn describe_table<B: StagedBackend>(
    backend: &B,
    sink: &SinkPlan,
    table: &TableName,
    schema: &SchemaRef,
) -> Result<TargetPlan, TargetError> {
    let keys = match &sink.mode {
        WriteMode::Upsert { keys, .. } => Some(keys.as_slice()),
        _ => None,
    };
    let mut columns = Vec::new();
    for f in schema.fields() {
        let is_key = keys.is_some_and(|k| k.contains(f.name()));
        columns.push(mapping(f, backend.column_type(f, is_key).map_err(|e| TargetError::column(&e))?));
    }
    let create = backend.create_table_sql(table, schema, keys).map_err(|e| TargetError::column(&e))?;
    // What Flow's own type for a column cannot keep; a table of a set whose column is made with
    // another type (its source's own, `TargetDialect::native_type`) has the schema planner's
    // warnings instead.
    let own_type = |f: &Field, own: &ColumnMapping| {
        let carried = sink.carried.as_ref().and_then(|c| c.column_types.iter().find(|(name, _)| name == f.name()));
        carried.is_none_or(|(_, ty)| ty.eq_ignore_ascii_case(&own.target_type))
    };
    let mut warnings: Vec<String> = schema
        .fields()
        .iter()
        .zip(&columns)
        .filter(|(f, own)| own_type(f, own))
        .filter_map(|(f, _)| backend.inexact(f))
        .collect();
    // A table of a table set is made with its source's definition (`apply_carried` in explain).
    if sink.mode == WriteMode::Replace && sink.carried.is_none() {
        warnings.extend(backend.replace_drops().map(|also| {
            format!(
                "mode replace makes the table again from the pipeline's columns: an existing table's primary key, \
                 indexes, constraints, NOT NULL, defaults, triggers and grants are not kept, and {also} (`mode \
                 truncate` keeps the table's definition)"
            )
        }));
    }
    Ok(TargetPlan {
        mapping: columns,
        ddl: if sink.create_if_missing { vec![create] } else { Vec::new() },
        publish: backend.publish_summary(&sink.mode, &B::DIALECT.table(table)),
        warnings,
    })
}

/// How `explain` shows the statement that makes a table of a set continue its identity on a
/// `backend` target: the statement itself, or, where the value is read first
/// ([`SequenceReset::NextValue`]), the target's statement with `...` for the table and the
/// reading query in place of the value. `None` when the backend's dialect has no such statement.
pub fn sequence_reset_text(backend: Backend, reset: &SequenceReset) -> Option<String> {
    match reset {
        SequenceReset::Sql { sql } => Some(sql.clone()),
        SequenceReset::NextValue { next_value_sql } => {
            let dialect = registry::backend(backend).schema.as_ref()?.dialect;
            dialect.set_next_value_sql("...", &format!("({next_value_sql})"))
        }
    }
}

fn mapping(field: &Field, target_type: String) -> ColumnMapping {
    ColumnMapping { column: field.name().clone(), arrow_type: field.data_type().to_string(), target_type }
}

/// For a target without bit strings: what a MySQL `BIT(n)` column (see
/// `connect::metadata::bit_length`) becomes there, said as `explain` says it; `None` for
/// any other column. `becomes` words the stored value from the number of bits.
pub fn bit_note(field: &Field, target: &str, becomes: impl Fn(u32) -> String) -> Option<String> {
    let bits = super::metadata::bit_length(field)?;
    Some(format!("column `{}`: {target} has no bit(n) type; BIT({bits}) becomes {}", field.name(), becomes(bits)))
}
