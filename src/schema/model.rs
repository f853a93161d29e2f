//! The schema of a database as plain, serialisable data: what `read_catalog` returns for any
//! backend and what `ddl` renders for any other. Types are kept in a portable vocabulary
//! ([`ColumnType`]) next to the source's own spelling, so a reader can always see both.

use serde::{Deserialize, Serialize};

/// The tables of one database (or of the selected part of it), sorted by `(schema, name)`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub tables: Vec<TableDef>,
    /// The database whose spelling [`ColumnDef::source_type`] is in (`None`: not known, as in
    /// a catalog put together by hand). A target of the same kind may create a column with its
    /// source's own type ([`TargetDialect::native_type`](super::dialect::TargetDialect::native_type)).
    #[serde(default)]
    pub source: Option<crate::plan::sql::Dialect>,
}

impl Catalog {
    /// The table named `name` in `schema` (`None` matches a table without a schema).
    pub fn table(&self, schema: Option<&str>, name: &str) -> Option<&TableDef> {
        self.tables.iter().find(|t| t.schema.as_deref() == schema && t.name == name)
    }

    /// Index of the table a foreign key points at, if that table is in the catalog.
    pub fn referenced(&self, fk: &ForeignKeyDef) -> Option<usize> {
        self.tables.iter().position(|t| t.schema == fk.ref_schema && t.name == fk.ref_table)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    /// PostgreSQL: the table's schema. MySQL and SQLite: `None` (the URL's database / the file).
    pub schema: Option<String>,
    pub name: String,
    /// In the table's column order.
    pub columns: Vec<ColumnDef>,
    pub primary_key: Option<KeyDef>,
    /// Unique constraints (MySQL: unique keys; SQLite: `UNIQUE` in the table definition).
    pub uniques: Vec<KeyDef>,
    /// Plain column indexes that back neither the primary key nor a unique constraint.
    pub indexes: Vec<IndexDef>,
    pub foreign_keys: Vec<ForeignKeyDef>,
    /// What exists on the source but has no portable form (checks, triggers, expression
    /// indexes, ...): reported, never silently dropped.
    pub untranslated: Vec<Untranslated>,
    /// The database's own estimate (PostgreSQL `reltuples`, MySQL `TABLE_ROWS`); SQLite counts.
    pub estimated_rows: u64,
}

impl TableDef {
    /// A table with a name and the database's row estimate, before its columns, keys and
    /// indexes are read.
    pub fn named(schema: Option<String>, name: String, estimated_rows: u64) -> Self {
        Self {
            schema,
            name,
            columns: Vec::new(),
            primary_key: None,
            uniques: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            untranslated: Vec::new(),
            estimated_rows,
        }
    }

    /// `schema.name`, or `name` without a schema: how messages name the table.
    pub fn display_name(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    /// The type as the source spells it, e.g. `character varying(40)`, `enum('a','b')`.
    pub source_type: String,
    pub column_type: ColumnType,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    /// The database assigns values: `serial`/`nextval` or identity (PostgreSQL),
    /// `AUTO_INCREMENT` (MySQL), an `INTEGER PRIMARY KEY` rowid alias (SQLite).
    pub identity: bool,
}

/// A column type in a vocabulary every target can express.
///
/// MySQL's unsigned integers widen to the next signed type (`TINYINT UNSIGNED` → `SmallInt`,
/// `SMALLINT`/`MEDIUMINT UNSIGNED` → `Int`, `INT UNSIGNED` → `BigInt`); `BIGINT UNSIGNED` has
/// no wider integer and keeps its own variant. MySQL `TINYINT(1)` is `Boolean`, `TINYINT` is
/// `SmallInt`, `MEDIUMINT` is `Int`, `YEAR` is `SmallInt`, `DATETIME` is `Timestamp` and
/// `TIMESTAMP` (an instant, stored in UTC) is `TimestampTz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ColumnType {
    Boolean,
    SmallInt,
    Int,
    BigInt,
    /// MySQL `BIGINT UNSIGNED`: 0 to 2^64-1.
    BigIntUnsigned,
    Real,
    Double,
    /// `scale` may be negative (PostgreSQL 15+ `numeric(5,-2)`).
    Decimal {
        precision: u8,
        scale: i8,
    },
    /// A decimal without declared precision (PostgreSQL `numeric`, SQLite `NUMERIC`).
    Numeric,
    Char {
        length: u32,
    },
    /// `None`: no length limit (PostgreSQL `varchar`).
    Varchar {
        length: Option<u32>,
    },
    Text,
    Binary,
    Date,
    Time,
    /// Date and time without a time zone.
    Timestamp,
    /// An instant (PostgreSQL `timestamptz`, MySQL `TIMESTAMP`).
    TimestampTz,
    /// A JSON document stored parsed (PostgreSQL `jsonb`, MySQL `JSON`): whitespace, key order and
    /// duplicate keys of the text it was given are not kept.
    Json,
    /// JSON kept as the text it was written in (PostgreSQL `json`, a SQLite column declared
    /// `JSON`): created where the target can keep that text exactly (PostgreSQL `json`).
    JsonText,
    Uuid,
    /// `name`: the PostgreSQL type's name; for MySQL, `<table>_<column>`. Values in sort order.
    Enum {
        name: String,
        values: Vec<String>,
    },
    /// A type with no portable equivalent (the source's spelling): created as text on the
    /// target, with a warning.
    Other(String),
    /// A fixed-length bit string of 1 to 64 bits (MySQL `BIT(n)`).
    Bit {
        length: u32,
    },
    /// A signed span of time, which may exceed a day (MySQL `TIME`: `-838:59:59` to
    /// `838:59:59`; PostgreSQL `interval` without months).
    Duration,
}

impl ColumnType {
    pub fn is_integer(&self) -> bool {
        matches!(self, Self::SmallInt | Self::Int | Self::BigInt | Self::BigIntUnsigned)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum DefaultValue {
    /// A portable SQL literal: a number, a `'quoted string'` (quotes doubled, no backslash
    /// escapes), `TRUE` or `FALSE`.
    Literal(String),
    CurrentTimestamp,
    /// An expression no other dialect is known to accept, as the source wrote it.
    Untranslatable(String),
}

/// A primary key or unique constraint. `name`: `None` where the source does not name it
/// (MySQL's `PRIMARY`, SQLite).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDef {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKeyDef {
    pub name: Option<String>,
    pub columns: Vec<String>,
    /// Same convention as [`TableDef::schema`].
    pub ref_schema: Option<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    /// `NO ACTION`, `CASCADE`, `SET NULL`, `RESTRICT` or `SET DEFAULT`.
    pub on_delete: String,
    pub on_update: String,
}

/// Something on the source with no portable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Untranslated {
    /// `check constraint`, `trigger`, `default`, `index`, `generated column`, `exclusion
    /// constraint`, `domain`, ...
    pub kind: String,
    /// `table.name` (or `table.column`).
    pub object: String,
    /// The source's own definition text.
    pub definition: String,
}

impl Untranslated {
    pub fn new(kind: &str, object: String, definition: String) -> Self {
        Self { kind: kind.to_string(), object, definition }
    }

    /// The warning every target reports for it.
    pub fn warning(&self) -> String {
        format!("{} {} is not carried over: {}", self.kind, self.object, self.definition)
    }
}

/// The standard FK action names, from the words any catalog uses (`CASCADE`, `no action`,
/// `SET_NULL`...). Unknown text is kept as the source wrote it.
pub fn fk_action(text: &str) -> String {
    match text.trim().to_ascii_uppercase().replace('_', " ").as_str() {
        "CASCADE" => "CASCADE".into(),
        "SET NULL" => "SET NULL".into(),
        "SET DEFAULT" => "SET DEFAULT".into(),
        "RESTRICT" => "RESTRICT".into(),
        "NO ACTION" | "" => "NO ACTION".into(),
        _ => text.trim().to_string(),
    }
}
