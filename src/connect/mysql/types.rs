//! How MySQL/MariaDB result columns become Arrow fields: the type map, decided from each
//! column's metadata (type, flags, length, decimals, character set), never from the values, so
//! every partition and the DDL of a target agree.
//!
//! | MySQL / MariaDB type                       | Arrow type                                        |
//! |--------------------------------------------|---------------------------------------------------|
//! | `TINYINT(1)` (= `BOOLEAN`)                 | `Boolean`; a value other than 0 and 1 is an error naming column, row and value. With `mysql(..., tinyint1: "integer")`: `Int8` |
//! | `TINYINT`, `SMALLINT`, `MEDIUMINT`/`INT`, `BIGINT` | `Int8`, `Int16`, `Int32`, `Int64`         |
//! | `… UNSIGNED` of those                      | `UInt8`, `UInt16`, `UInt32`, `UInt64`             |
//! | `YEAR`                                     | `Int16`                                           |
//! | `BIT(1)`                                   | `Boolean`                                         |
//! | `BIT(n)`, n > 1                            | `UInt64` (the bits as an unsigned number, as `b'101' = 5` in MySQL) |
//! | `DECIMAL(p,s)`                             | `Decimal128(p,s)`; `Decimal256(p,s)` when `p > 38`; parsed from the server's exact text |
//! | `FLOAT`, `DOUBLE`                          | `Float32`, `Float64`                              |
//! | `CHAR`, `VARCHAR`, `*TEXT`, `ENUM`, `SET`, `JSON` | `Utf8` (the server's text, as sent)        |
//! | `BINARY`, `VARBINARY`, `*BLOB`             | `LargeBinary`                                     |
//! | `DATE`                                     | `Date32`                                          |
//! | `TIME`                                     | `Duration(µs)`: a MySQL `TIME` is a signed span (`-838:59:59` to `838:59:59`), not a time of day |
//! | `DATETIME`                                 | `Timestamp(µs)`, wall-clock, no zone              |
//! | `TIMESTAMP`                                | `Timestamp(µs, "+00:00")`: every session runs with `time_zone = '+00:00'` |
//! | `GEOMETRY`, a bare `NULL`, …               | an error saying to cast the column in the query   |
//!
//! Before this reader, Flow read MySQL through connectorx: the map is what connectorx delivered,
//! except for `TINYINT(1)`, `BIT(n)` and `TIME`, which it read as a small integer, bytes and a
//! time of day. The types of those three are kept in the field's `flow.source_type` metadata
//! (`tinyint(1)`, `bit(12)`, `time(6)`), so that a MySQL target gets `BIT(n)` back and
//! PostgreSQL gets `bit(n)` (see `connect::mysql::sink::mysql_field_type` and
//! `connect::postgres::types::pg_type_for_field`).
//!
//! Text and binary columns are told apart by the character set (63 is `binary`): `*_bin`
//! collations are text. A column is nullable unless the server flags it `NOT NULL`.

use arrow::datatypes::{DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, Field, TimeUnit};
use datafusion::error::Result;
use mysql::consts::{ColumnFlags, ColumnType};

use crate::connect::connection_options::{BadOption, ConnectionOption, OptionValue};
use crate::diagnostics::{Failure, codes};

/// Time zone label of `TIMESTAMP` columns (the one DataFusion's `now()` uses): every reading
/// session runs in UTC (see `super::session`).
pub const UTC: &str = "+00:00";
/// The `binary` pseudo character set: the column holds bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// How `TINYINT(1)` columns are read: the connection option `tinyint1` (`"boolean"`, the
/// default, or `"integer"`), e.g. `mysql("mysql://...", tinyint1: "integer")`.
///
/// MySQL has no boolean type: `BOOLEAN` is `TINYINT(1)`, and by convention (pgloader, DuckDB,
/// the MySQL Connector/J `tinyInt1isBit` default) a `TINYINT(1)` column holds a boolean. A
/// schema that uses `TINYINT(1)` for small numbers says `tinyint1: "integer"`, and the column is
/// read, and created on targets, as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tinyint1 {
    #[default]
    Boolean,
    Integer,
}

/// The name of the connection option, and its values.
pub const TINYINT1_OPTION: &str = "tinyint1";

/// The named arguments of `mysql(...)`, checked when the file is checked.
pub static CONNECTION_OPTIONS: &[ConnectionOption] = &[ConnectionOption {
    name: TINYINT1_OPTION,
    meaning: None,
    value: OptionValue::Text(tinyint1_value),
    default: None,
}];

fn tinyint1_value(value: &str) -> std::result::Result<(), BadOption> {
    Tinyint1::parse(value).map(drop).map_err(|why| BadOption {
        message: why.to_string(),
        label: "not boolean or integer",
        help: "tinyint1: \"integer\" reads TINYINT(1) columns as integers",
    })
}

/// A `tinyint1:` value that is neither `boolean` nor `integer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{TINYINT1_OPTION}: \"{value}\" is neither \"boolean\" nor \"integer\"")]
pub struct Tinyint1Error {
    pub value: String,
}

/// MySQL's widest `DECIMAL`: 65 digits, 30 of them after the point (MySQL docs, "Fixed-Point
/// Types"); what an exact decimal text column (`connect::decimal_text`) becomes on MySQL.
pub const MYSQL_DECIMAL: (u32, u32) = (65, 30);

impl Tinyint1 {
    /// The option's value as written (`"boolean"` or `"integer"`); anything else is an error
    /// that lists both.
    pub fn parse(value: &str) -> std::result::Result<Self, Tinyint1Error> {
        match value.to_ascii_lowercase().as_str() {
            "boolean" | "bool" => Ok(Self::Boolean),
            "integer" | "int" => Ok(Self::Integer),
            _ => Err(Tinyint1Error { value: value.to_string() }),
        }
    }

    /// The option of a MySQL endpoint; the default when it is not given (checked when the
    /// file is checked, so a bad value never gets here).
    pub fn of(endpoint: &crate::plan::endpoint::Endpoint) -> Self {
        endpoint.option(TINYINT1_OPTION).and_then(|v| Self::parse(v).ok()).unwrap_or_default()
    }
}

/// The Arrow field of one result column (see the module docs).
pub(super) fn arrow_field(column: &mysql::Column, tinyint1: Tinyint1) -> Result<Field> {
    let name = column.name_str();
    let flags = column.flags();
    let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = column.character_set() == BINARY_CHARSET;
    let pick = |signed: DataType, unsigned_type: DataType| if unsigned { unsigned_type } else { signed };
    // The column's own type, for the types whose Arrow type alone does not say it.
    let mut source_type = None;
    let data_type = match column.column_type() {
        // The display width is the `(1)` of `TINYINT(1)`; expressions over such a column
        // (`flag + 0`, `IF(...)`) come back wider and stay integers.
        ColumnType::MYSQL_TYPE_TINY if !unsigned && column.column_length() == 1 && tinyint1 == Tinyint1::Boolean => {
            source_type = Some("tinyint(1)".to_string());
            DataType::Boolean
        }
        ColumnType::MYSQL_TYPE_TINY => pick(DataType::Int8, DataType::UInt8),
        ColumnType::MYSQL_TYPE_SHORT => pick(DataType::Int16, DataType::UInt16),
        ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => pick(DataType::Int32, DataType::UInt32),
        ColumnType::MYSQL_TYPE_LONGLONG => pick(DataType::Int64, DataType::UInt64),
        ColumnType::MYSQL_TYPE_YEAR => DataType::Int16,
        ColumnType::MYSQL_TYPE_FLOAT => DataType::Float32,
        ColumnType::MYSQL_TYPE_DOUBLE => DataType::Float64,
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = decimal_precision_scale(column);
            decimal_type(precision, scale)
        }
        ColumnType::MYSQL_TYPE_BIT => {
            // The column length of a BIT column is its number of bits, 1 to 64.
            let bits = column.column_length().clamp(1, 64);
            source_type = Some(format!("bit({bits})"));
            if bits == 1 { DataType::Boolean } else { DataType::UInt64 }
        }
        ColumnType::MYSQL_TYPE_VARCHAR | ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET => DataType::Utf8,
        ColumnType::MYSQL_TYPE_JSON => DataType::Utf8,
        ColumnType::MYSQL_TYPE_STRING
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB => {
            if binary {
                DataType::LargeBinary
            } else {
                DataType::Utf8
            }
        }
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => DataType::Date32,
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => {
            source_type = Some(match column.decimals() {
                0 => "time".to_string(),
                digits => format!("time({})", digits.min(6)),
            });
            DataType::Duration(TimeUnit::Microsecond)
        }
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        }
        other => {
            let message = format!(
                "MySQL: column `{name}` has type {other:?}, which Flow cannot read; cast it in the query \
                 (e.g. ST_AsText(col) for geometries, CAST(NULL AS CHAR) for a bare NULL)"
            );
            return Err(Failure::new(codes::source::UNSUPPORTED_TYPE, message).column(name).into_datafusion());
        }
    };
    let field = Field::new(name, data_type, !flags.contains(ColumnFlags::NOT_NULL_FLAG));
    Ok(match source_type {
        Some(source_type) => field.with_metadata(std::collections::HashMap::from([(
            crate::connect::metadata::SOURCE_TYPE.to_string(),
            source_type,
        )])),
        None => field,
    })
}

/// A column as `information_schema.COLUMNS` describes it, for [`catalog_column`].
#[derive(Debug, Clone, Default)]
pub struct CatalogColumn {
    pub name: String,
    /// `DATA_TYPE`, lower case (`int`, `decimal`, `varchar`).
    pub data_type: String,
    /// `COLUMN_TYPE` (`tinyint(1)`, `int(10) unsigned`, `bit(12)`).
    pub column_type: String,
    pub nullable: bool,
    /// `CHARACTER_SET_NAME`; `None` for binary strings and non-string types.
    pub charset: Option<String>,
    pub numeric_precision: Option<u32>,
    pub numeric_scale: Option<u32>,
    pub datetime_precision: Option<u32>,
}

/// The result column the server's metadata gives for a table column of `SELECT *`, rebuilt
/// from the catalog, so that [`arrow_field`] maps both alike: the wire type, the `UNSIGNED`
/// and `NOT NULL` flags, the length ([`decimal_precision_scale`] reads a decimal's digits from
/// it, `TINYINT(1)` is told by it, a `BIT`'s is its bits), the decimals and whether the
/// character set is `binary`. `None` for a type this is not sure of (spatial types, MariaDB's
/// `UUID` and `INET6`, anything new): the table is then probed.
pub fn catalog_column(c: &CatalogColumn) -> Option<mysql::Column> {
    let lower = c.column_type.to_ascii_lowercase();
    let unsigned = lower.contains(" unsigned");
    let width = || -> Option<u32> {
        let open = lower.find('(')?;
        let close = lower[open..].find(')')? + open;
        lower[open + 1..close].trim().parse().ok()
    };
    // Any character set but `binary` (63): text.
    const TEXT_CHARSET: u16 = 45;
    let text = || match c.charset.as_deref() {
        Some(charset) if !charset.eq_ignore_ascii_case("binary") => Some(TEXT_CHARSET),
        _ => None,
    };
    let (wire, length, charset) = match c.data_type.as_str() {
        "tinyint" => (ColumnType::MYSQL_TYPE_TINY, width().unwrap_or(4), BINARY_CHARSET),
        "smallint" => (ColumnType::MYSQL_TYPE_SHORT, 0, BINARY_CHARSET),
        "mediumint" => (ColumnType::MYSQL_TYPE_INT24, 0, BINARY_CHARSET),
        "int" | "integer" => (ColumnType::MYSQL_TYPE_LONG, 0, BINARY_CHARSET),
        "bigint" => (ColumnType::MYSQL_TYPE_LONGLONG, 0, BINARY_CHARSET),
        "year" => (ColumnType::MYSQL_TYPE_YEAR, 0, BINARY_CHARSET),
        "float" => (ColumnType::MYSQL_TYPE_FLOAT, 0, BINARY_CHARSET),
        "double" => (ColumnType::MYSQL_TYPE_DOUBLE, 0, BINARY_CHARSET),
        "decimal" => {
            // The display length the server reports: the digits, a decimal point when there
            // is a fraction, a sign unless unsigned.
            let (precision, scale) = (c.numeric_precision?, c.numeric_scale?);
            let length = precision + u32::from(scale > 0) + u32::from(!unsigned);
            (ColumnType::MYSQL_TYPE_NEWDECIMAL, length, BINARY_CHARSET)
        }
        "bit" => (ColumnType::MYSQL_TYPE_BIT, width().unwrap_or(1), BINARY_CHARSET),
        "char" | "varchar" | "enum" | "set" => (ColumnType::MYSQL_TYPE_VAR_STRING, 0, text()?),
        "tinytext" | "text" | "mediumtext" | "longtext" => (ColumnType::MYSQL_TYPE_BLOB, 0, text()?),
        "binary" | "varbinary" => (ColumnType::MYSQL_TYPE_VAR_STRING, 0, BINARY_CHARSET),
        "tinyblob" | "blob" | "mediumblob" | "longblob" => (ColumnType::MYSQL_TYPE_BLOB, 0, BINARY_CHARSET),
        "json" => (ColumnType::MYSQL_TYPE_JSON, 0, BINARY_CHARSET),
        "date" => (ColumnType::MYSQL_TYPE_DATE, 0, BINARY_CHARSET),
        "time" => (ColumnType::MYSQL_TYPE_TIME, 0, BINARY_CHARSET),
        "datetime" => (ColumnType::MYSQL_TYPE_DATETIME, 0, BINARY_CHARSET),
        "timestamp" => (ColumnType::MYSQL_TYPE_TIMESTAMP, 0, BINARY_CHARSET),
        _ => return None,
    };
    let decimals = match c.data_type.as_str() {
        "decimal" => c.numeric_scale?,
        "time" | "datetime" | "timestamp" => c.datetime_precision.unwrap_or(0),
        _ => 0,
    };
    let mut flags = ColumnFlags::empty();
    if unsigned {
        flags |= ColumnFlags::UNSIGNED_FLAG;
    }
    if !c.nullable {
        flags |= ColumnFlags::NOT_NULL_FLAG;
    }
    Some(
        mysql::Column::new(wire)
            .with_name(c.name.as_bytes())
            .with_flags(flags)
            .with_column_length(length)
            .with_character_set(charset)
            .with_decimals(u8::try_from(decimals).ok()?),
    )
}

pub use crate::connect::metadata::bit_length;

/// Precision and scale of a decimal column. The server reports the display length: digits, plus
/// one for the decimal point when there is a fraction, plus one for the sign unless unsigned.
fn decimal_precision_scale(column: &mysql::Column) -> (u8, i8) {
    let scale = column.decimals();
    let unsigned = column.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let overhead = u32::from(scale > 0) + u32::from(!unsigned);
    let digits = column.column_length().saturating_sub(overhead);
    let at_least = scale.clamp(1, DECIMAL256_MAX_PRECISION);
    let precision = u8::try_from(digits).unwrap_or(DECIMAL256_MAX_PRECISION).clamp(at_least, DECIMAL256_MAX_PRECISION);
    // MySQL scales are at most 30 (MariaDB 38), always within `i8`.
    (precision, i8::try_from(scale).unwrap_or(i8::MAX))
}

fn decimal_type(precision: u8, scale: i8) -> DataType {
    if precision <= DECIMAL128_MAX_PRECISION {
        DataType::Decimal128(precision, scale)
    } else {
        DataType::Decimal256(precision, scale)
    }
}
