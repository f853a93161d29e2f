//! What the DDL planner ([`plan_schema`](super::plan_schema)) needs to know about a target
//! database: its column types, how long its names may be and where they must be unique, which
//! constraints it can add to a table that exists, how it makes identities continue after
//! loaded values. The planner is written once against this trait; each database backend
//! implements it in its own folder (`connect::<backend>::ddl`) and `connect` maps a backend to
//! its implementation. The trait lives here, beside the planner, so that `schema` needs nothing
//! from `connect`.

use super::ddl::SequenceReset;
use super::model::{ColumnDef, ColumnType};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// Why a target cannot carry a part of a source table's definition (an identity, a default, a
/// foreign-key action). The table is created without it and the planner says so in a warning of
/// the table's DDL (`identity t.c is not carried over: REASON`, REASON being this text); the
/// dialect gives the words that name its database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCarried {
    /// The target allows one identity column per table (`keyword`: what it calls one), and this
    /// one is not the table's first.
    #[error("{target} allows one {keyword} column per table")]
    SecondIdentity { target: &'static str, keyword: &'static str },
    /// An identity on a column that is not an integer; `type_sql`: its type on the target.
    #[error("{target} identities must be integers, the column is {type_sql}")]
    NonIntegerIdentity { target: &'static str, type_sql: String },
    /// The target assigns values to no column it was told to (SQLite: only its row id); the
    /// text says which it does assign.
    #[error("{0}")]
    NoIdentity(&'static str),
    /// A default expression with no equivalent on the target, as the source wrote it.
    #[error("{0}")]
    Expression(String),
    /// `CURRENT_TIMESTAMP` on a column type the target takes it on only elsewhere; the text
    /// says where.
    #[error("CURRENT_TIMESTAMP ({0})")]
    CurrentTimestamp(&'static str),
    /// A foreign-key action (`SET DEFAULT`) the target (named) does not have.
    #[error("not supported by {0}")]
    Action(&'static str),
}

/// A target database's DDL dialect. Every method is a pure function of its arguments: the
/// planner keeps the state (names handed out, enum types created).
pub trait TargetDialect: Send + Sync {
    /// Quoting of identifiers, table names and string literals.
    fn sql(&self) -> Dialect;

    /// The longest identifier, in bytes; longer names are cut on a character boundary.
    fn max_identifier_len(&self) -> usize;

    /// Whether a table keeps its source schema when the sink names none (a PostgreSQL target
    /// of a PostgreSQL source); otherwise tables go to the connection's database.
    fn keeps_source_schemas(&self) -> bool {
        false
    }

    /// Where index, unique-constraint and enum-type names must be unique. Tables share that
    /// namespace: their names are reserved in it.
    fn index_name_scope(&self) -> NameScope {
        NameScope::Schema
    }

    /// Where foreign-key names must be unique.
    fn foreign_key_name_scope(&self) -> NameScope {
        NameScope::Table
    }

    /// Whether a named primary key keeps its name (`CONSTRAINT "t_pkey" PRIMARY KEY`).
    fn names_primary_keys(&self) -> bool {
        false
    }

    /// Whether `ALTER TABLE ... ADD` can add a constraint to an existing table. Where it
    /// cannot (SQLite), unique constraints become unique indexes, and foreign keys go inside
    /// `CREATE TABLE`, naming their parent without a schema (it must be in the same database).
    fn alter_table_adds_constraints(&self) -> bool {
        true
    }

    /// How an enum column is created.
    fn enum_style(&self) -> EnumStyle;

    /// The column's type on the target, calling `warn` (with text that follows
    /// `column <table>.<column>: `) for each way the conversion is not exact. Not called for
    /// the rowid column ([`Self::rowid_type`]), nor for enums of [`EnumStyle::NamedType`].
    fn column_type(&self, column: &ColumnDef, usage: ColumnUse, warn: &mut dyn FnMut(String)) -> String;

    /// The column's type on the target when its source is a database of the same kind, in its
    /// source's own spelling (`column.source_type`), where Flow carries every value of it
    /// exactly and the portable type would widen it (MySQL `INT UNSIGNED` rather than
    /// `BIGINT`); `None`: [`Self::column_type`]'s. Called only for a catalog whose
    /// [`source`](super::model::Catalog::source) is [`Self::sql`].
    fn native_type(&self, _column: &ColumnDef, _usage: ColumnUse) -> Option<String> {
        None
    }

    /// The type that makes a single-column integer primary key of an identity the table's row
    /// id, which the database assigns (SQLite: `INTEGER`, declared `"id" INTEGER PRIMARY KEY`).
    /// `None`: identities are declared with [`Self::identity_clause`].
    fn rowid_type(&self) -> Option<&'static str> {
        None
    }

    /// What follows an identity column's definition so the database assigns its values
    /// (` GENERATED BY DEFAULT AS IDENTITY`), or why it cannot carry one here. `integer`: the
    /// source column is an integer; `first`: it is the table's first integer identity;
    /// `type_sql`: its type here.
    fn identity_clause(&self, integer: bool, first: bool, type_sql: &str) -> Result<&'static str, NotCarried>;

    /// Whether the identity column must lead an index (MySQL's `AUTO_INCREMENT`): when the
    /// primary key does not start with it, `CREATE TABLE` gets a plain `KEY` on it.
    fn identity_needs_index(&self) -> bool {
        false
    }

    /// `CURRENT_TIMESTAMP` as a default of a column of this type, or why the target refuses it.
    fn current_timestamp_default(&self, _column_type: &ColumnType) -> Result<String, NotCarried> {
        Ok("CURRENT_TIMESTAMP".into())
    }

    /// `Err` when a foreign-key action (`CASCADE`, `SET DEFAULT`, ...) is not supported; the
    /// key is then created with `NO ACTION`, warning `ON <event> <action> is <reason>`.
    fn foreign_key_action(&self, _action: &str) -> Result<(), NotCarried> {
        Ok(())
    }

    /// `CREATE [UNIQUE ]INDEX name ON table (columns)`; `columns` is already quoted.
    fn create_index(&self, unique: bool, name: &str, table: &TableName, columns: &str) -> String {
        let d = self.sql();
        let unique = if unique { "UNIQUE " } else { "" };
        format!("CREATE {unique}INDEX {} ON {} ({columns})", d.ident(name), d.table(table))
    }

    /// Table options that follow `CREATE TABLE t (...)`, if any.
    fn table_options(&self) -> Option<&'static str> {
        None
    }

    /// How to make the identity columns (in column order) continue after the loaded values.
    fn sequence_reset(&self, table: &TableName, identity_columns: &[String]) -> Option<SequenceReset>;

    /// The statement that makes the identity of `table` (quoted; `...` where `explain` shows it)
    /// continue at `next` (a number; in `explain`, the query that reads it, in parentheses): the
    /// second half of a [`SequenceReset::NextValue`]. `None` for a dialect that plans none.
    fn set_next_value_sql(&self, _table: &str, _next: &str) -> Option<String> {
        None
    }
}

/// Where a kind of name must be unique on a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameScope {
    /// Unique within one table.
    Table,
    /// Unique within a schema (a MySQL database, a SQLite file).
    Schema,
}

/// How a target creates an enum column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnumStyle {
    /// A named type, `CREATE TYPE ... AS ENUM (...)`, made once per schema before the first
    /// table that uses it (PostgreSQL).
    NamedType,
    /// The values are part of the column type ([`TargetDialect::column_type`], MySQL's
    /// `ENUM(...)`).
    Inline,
    /// A text column with `CHECK (column IN (...))` (SQLite).
    Check,
}

/// How the catalog uses a column, for types that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColumnUse {
    /// A primary key, unique constraint, index or foreign key (either end) uses the column.
    pub keyed: bool,
    /// The column is at either end of a foreign key.
    pub in_foreign_key: bool,
}

/// The warning for a type no target has an equivalent for (`ColumnType::Other`), which every
/// dialect creates as text.
pub fn no_equivalent(source_type: &str) -> String {
    let shown = if source_type.is_empty() { "(none declared)" } else { source_type };
    format!("type {shown} has no equivalent here; created as text")
}
