//! What a sink will do to its target, for `explain`: the type each column gets, the DDL Flow
//! would run when the table is missing, and how the rows are published. A database sink is asked
//! (`connect::staged::StagedBackend`); no connection is made.

use arrow::datatypes::SchemaRef;
use serde::Serialize;

use super::mysql::sink::MysqlBackend;
use super::postgres::sink::PostgresBackend;
use super::sqlite::sink::SqliteBackend;
use super::staged::StagedBackend;
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

/// What a target cannot keep of a column, said before the run rather than discovered in it.
fn lossy_mapping_warning(backend: Backend, field: &arrow::datatypes::Field) -> Option<String> {
    use arrow::datatypes::DataType;
    let (column, dt) = (field.name(), field.data_type());
    // A MySQL BIT(n) (see `connect::mysql::types::bit_length`): only MySQL and PostgreSQL have
    // bit strings.
    if let Some(bits) = super::mysql::types::bit_length(field)
        && !matches!(backend, Backend::Mysql | Backend::Postgres)
    {
        let becomes = match (bits, backend) {
            (1, Backend::Sqlite) => "a BOOLEAN (0 or 1)".to_string(),
            (1, Backend::Csv) => "true/false".to_string(),
            (1, _) => "a boolean".to_string(),
            (64, Backend::Sqlite) => "an INTEGER holding the bits as a number (b'101' is 5); SQLite integers are \
                                     signed 64-bit, so a value above 9223372036854775807 is refused (by row, under \
                                     `on error`)"
                .to_string(),
            (_, Backend::Sqlite) => "an INTEGER holding the bits as a number (b'101' is 5)".to_string(),
            (_, Backend::Csv) => "the bits as a decimal number (b'101' is 5)".to_string(),
            _ => "an unsigned 64-bit integer holding the bits as a number (b'101' is 5)".to_string(),
        };
        return Some(format!(
            "column `{column}`: {} has no bit(n) type; BIT({bits}) becomes {becomes}",
            backend.name()
        ));
    }
    match (backend, dt) {
        (Backend::Sqlite, DataType::Duration(_)) => Some(format!(
            "column `{column}`: SQLite has no type for a span of time (a MySQL TIME); it is stored as TEXT in \
             MySQL's notation [-]H:MM:SS.ffffff (e.g. 838:59:59.000000, -01:30:00.000000)"
        )),
        (Backend::Csv, DataType::Duration(_)) => Some(format!(
            "column `{column}`: CSV has no type for a span of time (a MySQL TIME); it is written as an ISO 8601 \
             duration (e.g. PT3020399S for 838:59:59, -PT5400S for -01:30:00)"
        )),
        (Backend::Parquet, DataType::Duration(_)) => Some(format!(
            "column `{column}`: Parquet has no span-of-time type (a MySQL TIME); it is stored as an INT64 of \
             microseconds, which Arrow readers see as Duration(µs) from the schema Flow embeds"
        )),
        (Backend::Mysql, DataType::Float16 | DataType::Float32 | DataType::Float64) => {
            Some(format!("column `{column}`: MySQL cannot store NaN or infinities; a row holding one fails the run"))
        }
        (Backend::Mysql, DataType::Timestamp(_, Some(_))) => {
            Some(format!("column `{column}`: MySQL DATETIME has no time zone; the UTC instant is stored"))
        }
        (Backend::Sqlite, DataType::Float16 | DataType::Float32 | DataType::Float64) => {
            Some(format!("column `{column}`: SQLite stores NaN as NULL"))
        }
        (Backend::Sqlite, DataType::UInt64) => Some(format!(
            "column `{column}`: SQLite integers are signed 64-bit; a value above 9223372036854775807 is refused \
                 (by row, under `on error`)"
        )),
        _ => None,
    }
}

pub fn plan_target(sink: &SinkPlan, schema: &SchemaRef) -> Result<TargetPlan, String> {
    let mut warnings = Vec::new();
    for f in schema.fields() {
        warnings.extend(lossy_mapping_warning(sink.endpoint.backend, f));
        if super::decimal_text::is_decimal_text(f) {
            warnings.extend(super::decimal_text::target_warning(sink.endpoint.backend, f.name()));
        }
    }
    let endpoint = &sink.endpoint;
    let (mapping, ddl, publish) = match (&sink.relation, endpoint.backend) {
        (Relation::Table { name }, Backend::Sqlite) => {
            ask(&SqliteBackend::new(endpoint.file_path()), sink, name, schema)?
        }
        (Relation::Table { name }, Backend::Postgres) => ask(&PostgresBackend::new(&endpoint.url), sink, name, schema)?,
        (Relation::Table { name }, Backend::Mysql) => ask(&MysqlBackend::new(&endpoint.url), sink, name, schema)?,
        (Relation::File { path }, backend) => {
            (file_mapping(backend, schema)?, Vec::new(), format!("write {path}.flow-tmp, then rename it to {path}"))
        }
        (_, backend) => (file_mapping(backend, schema)?, Vec::new(), "write".to_string()),
    };
    Ok(TargetPlan { mapping, ddl, publish, warnings })
}

/// What a database sink says of its table: each column's type, the `CREATE TABLE` it runs when
/// the table is missing (none with `create never`), and how it publishes.
fn ask<B: StagedBackend>(
    backend: &B,
    sink: &SinkPlan,
    table: &TableName,
    schema: &SchemaRef,
) -> Result<(Vec<ColumnMapping>, Vec<String>, String), String> {
    let keys = match &sink.mode {
        WriteMode::Upsert { keys } => Some(keys.as_slice()),
        _ => None,
    };
    let mut mapping = Vec::new();
    for f in schema.fields() {
        let is_key = keys.is_some_and(|k| k.contains(f.name()));
        let target_type = backend.column_type(f, is_key).map_err(|e| e.to_string())?;
        mapping.push(ColumnMapping { column: f.name().clone(), arrow_type: f.data_type().to_string(), target_type });
    }
    let create = backend.create_table_sql(table, schema, keys).map_err(|e| e.to_string())?;
    let ddl = if sink.create_if_missing { vec![create] } else { Vec::new() };
    Ok((mapping, ddl, backend.publish_summary(&sink.mode, &B::DIALECT.table(table))))
}

/// The columns of a file target.
fn file_mapping(backend: Backend, schema: &SchemaRef) -> Result<Vec<ColumnMapping>, String> {
    let mut mapping = Vec::new();
    for f in schema.fields() {
        let target_type = match backend {
            Backend::Parquet => format!("parquet {}", f.data_type()),
            Backend::Csv => "text".to_string(),
            other => return Err(format!("{} targets are not supported yet", other.name())),
        };
        mapping.push(ColumnMapping { column: f.name().clone(), arrow_type: f.data_type().to_string(), target_type });
    }
    Ok(mapping)
}
