//! MySQL/MariaDB as the target of a schema copy: its column types for the portable ones, and
//! its name rules (64-byte identifiers; index and constraint names unique per table, foreign
//! key names per database). Tables are created in `utf8mb4` ([`TABLE_OPTIONS`]). Enums are
//! `ENUM(...)` columns; identities are `AUTO_INCREMENT`, one per table and leading an index,
//! and after the load the counter is set past the largest loaded value
//! ([`auto_increment_sql`]). The table of every target's types is in `connect::catalog`.

use super::sink::TABLE_OPTIONS;
use crate::plan::TableName;
use crate::plan::sql::Dialect;
use crate::schema::dialect::{ColumnUse, EnumStyle, NameScope, NotCarried, TargetDialect, no_equivalent};
use crate::schema::{ColumnDef, ColumnType, SequenceReset};

/// MySQL's side of the DDL contract.
pub struct MysqlDdl;

const D: Dialect = Dialect::Mysql;

impl TargetDialect for MysqlDdl {
    fn sql(&self) -> Dialect {
        D
    }

    fn max_identifier_len(&self) -> usize {
        64
    }

    fn index_name_scope(&self) -> NameScope {
        NameScope::Table
    }

    fn foreign_key_name_scope(&self) -> NameScope {
        NameScope::Schema
    }

    fn enum_style(&self) -> EnumStyle {
        EnumStyle::Inline
    }

    fn column_type(&self, column: &ColumnDef, usage: ColumnUse, warn: &mut dyn FnMut(String)) -> String {
        column_type(&column.column_type, usage.keyed, warn)
    }

    /// A MySQL source's own type where the portable one would widen it: [`native_type`].
    fn native_type(&self, column: &ColumnDef, usage: ColumnUse) -> Option<String> {
        native_type(column, usage.keyed)
    }

    fn identity_clause(&self, integer: bool, first: bool, type_sql: &str) -> Result<&'static str, NotCarried> {
        if first {
            Ok(" AUTO_INCREMENT")
        } else if integer {
            Err(NotCarried::SecondIdentity { target: "MySQL", keyword: "AUTO_INCREMENT" })
        } else {
            Err(NotCarried::NonIntegerIdentity { target: "mysql", type_sql: type_sql.to_string() })
        }
    }

    /// MySQL refuses an `AUTO_INCREMENT` column that does not lead an index.
    fn identity_needs_index(&self) -> bool {
        true
    }

    fn current_timestamp_default(&self, column_type: &ColumnType) -> Result<String, NotCarried> {
        match column_type {
            ColumnType::Timestamp | ColumnType::TimestampTz => Ok("CURRENT_TIMESTAMP(6)".into()),
            _ => Err(NotCarried::CurrentTimestamp("MySQL takes it only on DATETIME and TIMESTAMP columns")),
        }
    }

    fn foreign_key_action(&self, action: &str) -> Result<(), NotCarried> {
        if action == "SET DEFAULT" { Err(NotCarried::Action("MySQL/InnoDB")) } else { Ok(()) }
    }

    /// `utf8mb4` whatever the database's default (often `utf8mb3` on older servers), so every
    /// text Flow carries fits.
    fn table_options(&self) -> Option<&'static str> {
        Some(TABLE_OPTIONS)
    }

    /// MySQL cannot set `AUTO_INCREMENT` from a subquery: the next value is read first. (InnoDB
    /// already moves the counter past explicitly inserted values; this makes it certain for every
    /// engine.)
    fn sequence_reset(&self, table: &TableName, identity_columns: &[String]) -> Option<SequenceReset> {
        identity_columns.first().map(|c| SequenceReset::NextValue {
            next_value_sql: format!("SELECT GREATEST(COALESCE(MAX({}), 0) + 1, 1) FROM {}", D.ident(c), D.table(table)),
        })
    }

    fn set_next_value_sql(&self, table: &str, next: &str) -> Option<String> {
        Some(format!("ALTER TABLE {table} AUTO_INCREMENT = {next}"))
    }
}

/// `ALTER TABLE t AUTO_INCREMENT = n`: the second half of a [`SequenceReset::NextValue`], with
/// `next_value` read by its `next_value_sql`.
pub fn auto_increment_sql(table: &TableName, next_value: u64) -> String {
    format!("ALTER TABLE {} AUTO_INCREMENT = {next_value}", D.table(table))
}

/// The type of a column read from MySQL/MariaDB (its `COLUMN_TYPE`, e.g. `int(10) unsigned`),
/// for a MySQL target, where every value arrives exactly (rows are written as text in a session
/// at `time_zone = '+00:00'`) and the portable type would be wider:
///
/// - integers keep their size and sign (`TINYINT`, `MEDIUMINT`, `INT UNSIGNED`, ...; the display
///   width, deprecated since MySQL 8.0.17, is dropped; `ZEROFILL` is not carried: portable type);
/// - `SET(...)` stays a set (its values are read and written as the `a,b` text MySQL uses);
/// - `TIME(n)`, `DATETIME(n)` and `TIMESTAMP(n)` keep their fractional digits and `TIMESTAMP`
///   stays an instant; with a `CURRENT_TIMESTAMP` default only at precision 6 (the default is
///   written `CURRENT_TIMESTAMP(6)`, which MySQL refuses on another precision), else the
///   portable type;
/// - `TINYBLOB`, `BLOB` and `MEDIUMBLOB` keep their size (bytes are bytes) unless a key or index
///   uses the column (its prefix length is not read).
///
/// Not carried, on purpose: `YEAR` (written as text, a year 0 would read back as 2000: MySQL
/// manual, "The YEAR Type"), text types (a text of another character set can need more bytes
/// in `utf8mb4`, so `LONGTEXT` is kept), and `TINYINT(1)` read as a boolean.
fn native_type(column: &ColumnDef, keyed: bool) -> Option<String> {
    let lower = column.source_type.trim().to_ascii_lowercase();
    let base: String = lower.chars().take_while(char::is_ascii_alphabetic).collect();
    let rest = &lower[base.len()..];
    let fractional = |rest: &str| -> Option<String> {
        match rest.trim() {
            "" => Some(String::new()),
            digits if digits.starts_with('(') && digits.ends_with(')') => {
                let n: u8 = digits[1..digits.len() - 1].trim().parse().ok()?;
                (n <= 6).then(|| format!("({n})"))
            }
            _ => None,
        }
    };
    match base.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
            if column.column_type == ColumnType::Boolean || lower.contains("zerofill") {
                return None;
            }
            let unsigned = if lower.contains("unsigned") { " UNSIGNED" } else { "" };
            let name = if base == "integer" { "INT".to_string() } else { base.to_ascii_uppercase() };
            Some(format!("{name}{unsigned}"))
        }
        "set" => Some(column.source_type.trim().to_string()),
        "time" | "datetime" | "timestamp" => {
            let fsp = fractional(rest)?;
            let now_default = column.default == Some(crate::schema::DefaultValue::CurrentTimestamp);
            (!now_default || fsp == "(6)").then(|| format!("{}{fsp}", base.to_ascii_uppercase()))
        }
        "tinyblob" | "blob" | "mediumblob" if !keyed && rest.trim().is_empty() => Some(base.to_ascii_uppercase()),
        _ => None,
    }
}

/// MySQL's row-size limit (65,535 bytes) allows at most this many utf8mb4 characters in one
/// `VARCHAR`.
const MYSQL_MAX_VARCHAR: u32 = 16383;

/// MySQL's type for a portable one. `keyed`: a key or index uses the column, so texts and
/// bytes need a type with a length.
fn column_type(column_type: &ColumnType, keyed: bool, warn: &mut dyn FnMut(String)) -> String {
    let long_text = |warn: &mut dyn FnMut(String), what: &str| -> String {
        if keyed {
            warn(format!(
                "{what} becomes VARCHAR(255) because a key or index uses it; longer values would fail to load"
            ));
            "VARCHAR(255)".into()
        } else {
            "LONGTEXT".into()
        }
    };
    match column_type {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::SmallInt => "SMALLINT".into(),
        ColumnType::Int => "INT".into(),
        ColumnType::BigInt => "BIGINT".into(),
        ColumnType::BigIntUnsigned => "BIGINT UNSIGNED".into(),
        ColumnType::Real => "FLOAT".into(),
        ColumnType::Double => "DOUBLE".into(),
        ColumnType::Decimal { precision, scale } => {
            // A negative scale rounds to tens, hundreds...: as many more integer digits.
            let (p, s) = if *scale < 0 {
                (u32::from(*precision) + u32::from(scale.unsigned_abs()), 0)
            } else {
                (u32::from(*precision), scale.unsigned_abs().into())
            };
            let (mp, ms) = (p.min(65), s.min(30));
            if (mp, ms) != (p, s) {
                warn(format!(
                    "numeric({precision},{scale}) becomes DECIMAL({mp},{ms}), MySQL's largest; values that do not fit would fail to load"
                ));
            }
            format!("DECIMAL({mp},{ms})")
        }
        ColumnType::Numeric => {
            warn("numeric without precision becomes DECIMAL(65,30); values that do not fit would fail to load".into());
            "DECIMAL(65,30)".into()
        }
        ColumnType::Char { length } if *length <= 255 => format!("CHAR({length})"),
        ColumnType::Char { length } | ColumnType::Varchar { length: Some(length) } if *length <= MYSQL_MAX_VARCHAR => {
            format!("VARCHAR({length})")
        }
        ColumnType::Char { length } | ColumnType::Varchar { length: Some(length) } => {
            if !keyed {
                warn(format!(
                    "the length limit {length} is above MySQL's VARCHAR; created as LONGTEXT, which does not enforce it"
                ));
            }
            long_text(warn, &format!("a string of up to {length} characters"))
        }
        ColumnType::Varchar { length: None } | ColumnType::Text => long_text(warn, "text"),
        ColumnType::Binary if keyed => {
            warn(
                "bytes become VARBINARY(255) because a key or index uses them; longer values would fail to load".into(),
            );
            "VARBINARY(255)".into()
        }
        ColumnType::Binary => "LONGBLOB".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time => "TIME(6)".into(),
        ColumnType::Timestamp => "DATETIME(6)".into(),
        ColumnType::TimestampTz => {
            warn(
                "a timestamp with time zone becomes DATETIME(6), which keeps no time zone: values are stored in UTC"
                    .into(),
            );
            "DATETIME(6)".into()
        }
        ColumnType::Json => "JSON".into(),
        // MySQL has no JSON type that keeps text as written (MySQL manual, "The JSON Data Type":
        // documents are normalized on insert).
        ColumnType::JsonText => {
            warn(
                "json text becomes JSON: MySQL stores each document normalized (its whitespace, key order and \
                 duplicate keys are not kept); MariaDB keeps the text"
                    .into(),
            );
            "JSON".into()
        }
        ColumnType::Uuid => "CHAR(36)".into(),
        ColumnType::Bit { length } => format!("BIT({length})"),
        ColumnType::Duration => "TIME(6)".into(),
        ColumnType::Enum { values, .. } => {
            format!("ENUM({})", values.iter().map(|v| D.string(v)).collect::<Vec<_>>().join(", "))
        }
        ColumnType::Other(source) => {
            warn(no_equivalent(source));
            long_text(warn, "text")
        }
    }
}
