//! SQLite as the target of a schema copy: its declared types for the portable ones (by
//! affinity), and what SQLite cannot do. It cannot add a constraint to an existing table:
//! unique constraints become unique indexes, and foreign keys are part of `CREATE TABLE`.
//! SQLite checks them only on connections with `PRAGMA foreign_keys = ON`, which Flow's loading
//! connections do not set, so tables load in any order. Only a single-column integer primary
//! key can be an identity: it becomes the rowid (`INTEGER PRIMARY KEY`), which needs no reset
//! after the load. Enums are text with a `CHECK`. The table of every target's types is in
//! `connect::catalog`.

use crate::plan::TableName;
use crate::plan::sql::Dialect;
use crate::schema::dialect::{ColumnUse, EnumStyle, NotCarried, TargetDialect, no_equivalent};
use crate::schema::{ColumnDef, ColumnType, SequenceReset};

/// SQLite's side of the DDL contract.
pub struct SqliteDdl;

const D: Dialect = Dialect::Sqlite;

impl TargetDialect for SqliteDdl {
    fn sql(&self) -> Dialect {
        D
    }

    fn max_identifier_len(&self) -> usize {
        128
    }

    fn alter_table_adds_constraints(&self) -> bool {
        false
    }

    fn enum_style(&self) -> EnumStyle {
        EnumStyle::Check
    }

    fn column_type(&self, column: &ColumnDef, _usage: ColumnUse, warn: &mut dyn FnMut(String)) -> String {
        column_type(&column.column_type, warn)
    }

    fn rowid_type(&self) -> Option<&'static str> {
        Some("INTEGER")
    }

    fn identity_clause(&self, _integer: bool, _first: bool, _type_sql: &str) -> Result<&'static str, NotCarried> {
        Err(NotCarried::NoIdentity("SQLite assigns values only to a single-column INTEGER PRIMARY KEY"))
    }

    /// SQLite puts the schema on the index's name, never on its table.
    fn create_index(&self, unique: bool, name: &str, table: &TableName, columns: &str) -> String {
        let unique = if unique { "UNIQUE " } else { "" };
        let name = match table.schema() {
            Some(schema) => format!("{}.{}", D.ident(schema), D.ident(name)),
            None => D.ident(name),
        };
        format!("CREATE {unique}INDEX {name} ON {} ({columns})", D.ident(table.table()))
    }

    /// The rowid continues by itself after the largest loaded value.
    fn sequence_reset(&self, _table: &TableName, _identity_columns: &[String]) -> Option<SequenceReset> {
        None
    }
}

/// SQLite's declared type for a portable one.
fn column_type(column_type: &ColumnType, warn: &mut dyn FnMut(String)) -> String {
    match column_type {
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt => "INTEGER",
        ColumnType::BigIntUnsigned => "NUMERIC",
        ColumnType::Real | ColumnType::Double => "REAL",
        // NUMERIC affinity would turn exact decimals into 8-byte floats.
        ColumnType::Decimal { .. } | ColumnType::Numeric => "TEXT",
        ColumnType::Char { .. } | ColumnType::Varchar { .. } | ColumnType::Text => "TEXT",
        ColumnType::Binary => "BLOB",
        ColumnType::Date => "DATE",
        ColumnType::Time => "TIME",
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::TimestampTz => "TIMESTAMPTZ",
        ColumnType::Json | ColumnType::JsonText | ColumnType::Uuid | ColumnType::Enum { .. } => "TEXT",
        ColumnType::Bit { length } => {
            warn(format!("bit({length}) has no SQLite equivalent; created as INTEGER holding the bits as a number"));
            "INTEGER"
        }
        ColumnType::Duration => {
            warn(
                "a MySQL TIME (a span, which may exceed a day or be negative) has no SQLite equivalent; created as \
                 TEXT holding MySQL's notation [-]H:MM:SS.ffffff"
                    .into(),
            );
            "TEXT"
        }
        ColumnType::Other(source) => {
            warn(no_equivalent(source));
            "TEXT"
        }
    }
    .to_string()
}
