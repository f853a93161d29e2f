//! What a sink will do to its target, for `explain`: the type each column gets and the DDL Flow
//! would run when the table is missing. No connection is made.

use arrow::datatypes::SchemaRef;
use serde::Serialize;

use super::sqlite::sink as sqlite_sink;
use crate::plan::sql::Dialect;
use crate::plan::{Backend, Relation, SinkPlan, WriteMode};

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
    // A MySQL BIT(n) (see `connect::mysql::reader::bit_length`): only MySQL and PostgreSQL have
    // bit strings.
    if let Some(bits) = super::mysql::reader::bit_length(field)
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
    let mut mapping = Vec::new();
    let mut warnings = Vec::new();
    for f in schema.fields() {
        warnings.extend(lossy_mapping_warning(sink.endpoint.backend, f));
        if super::decimal_text::is_decimal_text(f) {
            warnings.extend(super::decimal_text::target_warning(sink.endpoint.backend, f.name()));
        }
        let target_type = match sink.endpoint.backend {
            Backend::Sqlite => {
                sqlite_sink::sqlite_type(f.data_type()).map(str::to_string).map_err(|e| e.to_string())?
            }
            Backend::Postgres => {
                super::postgres::types::pg_type_for_field(f).map(|t| t.to_string()).map_err(|e| e.to_string())?
            }
            Backend::Mysql => {
                let is_key = matches!(&sink.mode, WriteMode::Upsert { keys } if keys.contains(f.name()));
                super::mysql::sink::mysql_field_type(f, is_key).map_err(|e| e.to_string())?
            }
            Backend::Parquet => format!("parquet {}", f.data_type()),
            Backend::Csv => "text".to_string(),
            other => return Err(format!("{} targets are not supported yet", other.name())),
        };
        mapping.push(ColumnMapping { column: f.name().clone(), arrow_type: f.data_type().to_string(), target_type });
    }
    let (ddl, publish) = match (&sink.relation, sink.endpoint.backend) {
        (Relation::Table { name }, Backend::Sqlite) => {
            let keys = match &sink.mode {
                WriteMode::Upsert { keys } => Some(keys.as_slice()),
                _ => None,
            };
            let create = sqlite_sink::create_table_sql(name, schema, keys).map_err(|e| e.to_string())?;
            let target = Dialect::Sqlite.table(name);
            let publish = match &sink.mode {
                WriteMode::Append => {
                    format!("load a staging table, then INSERT INTO {target} in one transaction")
                }
                WriteMode::Replace => {
                    format!("load a staging table, then empty {target} and insert, in one transaction")
                }
                WriteMode::Truncate => {
                    format!("load a staging table, then DELETE FROM {target} and insert, in one transaction")
                }
                WriteMode::Upsert { .. } => format!(
                    "load a staging table, then INSERT ... ON CONFLICT DO UPDATE into {target}, in one transaction"
                ),
            };
            (if sink.create_if_missing { vec![create] } else { Vec::new() }, publish)
        }
        (Relation::Table { name }, Backend::Postgres) => {
            let keys = match &sink.mode {
                WriteMode::Upsert { keys } => Some(keys.as_slice()),
                _ => None,
            };
            let create = super::postgres::sink::create_table_sql(name, schema, keys).map_err(|e| e.to_string())?;
            let target = Dialect::Postgres.table(name);
            let publish = match &sink.mode {
                WriteMode::Append => {
                    format!("binary COPY into an unlogged staging table, then INSERT INTO {target} in one transaction")
                }
                WriteMode::Replace => format!(
                    "binary COPY into a staging table, then drop {target} and rename the staging table, in one transaction"
                ),
                WriteMode::Truncate => {
                    format!("binary COPY into a staging table, then TRUNCATE {target} and insert, in one transaction")
                }
                WriteMode::Upsert { .. } => format!(
                    "binary COPY into a staging table, then INSERT ... ON CONFLICT DO UPDATE into {target}, in one transaction"
                ),
            };
            (if sink.create_if_missing { vec![create] } else { Vec::new() }, publish)
        }
        (Relation::Table { name }, Backend::Mysql) => {
            let keys = match &sink.mode {
                WriteMode::Upsert { keys } => Some(keys.as_slice()),
                _ => None,
            };
            let create = super::mysql::sink::create_table_sql(name, schema, keys).map_err(|e| e.to_string())?;
            let target = Dialect::Mysql.table(name);
            let publish = match &sink.mode {
                WriteMode::Append => {
                    format!("multi-row INSERTs into a staging table, then INSERT INTO {target} SELECT ...")
                }
                WriteMode::Replace => {
                    format!("multi-row INSERTs into a staging table, then RENAME TABLE it over {target} (atomic)")
                }
                WriteMode::Truncate => format!(
                    "multi-row INSERTs into a staging table, then DELETE FROM {target} and insert, in one transaction"
                ),
                WriteMode::Upsert { .. } => format!(
                    "multi-row INSERTs into a staging table, then INSERT ... ON DUPLICATE KEY UPDATE into {target}"
                ),
            };
            (if sink.create_if_missing { vec![create] } else { Vec::new() }, publish)
        }
        (Relation::File { path }, _) => (Vec::new(), format!("write {path}.flow-tmp, then rename it to {path}")),
        _ => (Vec::new(), "write".to_string()),
    };
    Ok(TargetPlan { mapping, ddl, publish, warnings })
}
