//! Table sets: `source app = src.tables("public.*", exclude: ["audit_*"])` names many tables at
//! once, and `sink app -> dst.schema("public")` writes each of them to a table of the same name.
//! A set is lowered as written (patterns and per-table options); once the source's catalog is
//! read (`crate::expand`) it becomes one ordinary source per table, named `app.orders`, and one
//! sink per table and schema sink, so everything else (partitions, ledgers, resume, explain)
//! works table by table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Endpoint, IncrementalSpec, OnError, PartitionSpec, WriteMode, duration_text};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSetPlan {
    /// The source stage's name; its tables become stages `NAME.TABLE`.
    pub name: String,
    pub endpoint: Endpoint,
    /// Glob patterns (`*`, `?`) on `table` or `schema.table`; empty: every table.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Options for every table of the set.
    pub defaults: MemberSource,
    /// Options of single tables (`table NAME { ... }` in the source block), by table name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, MemberSource>,
    /// Where the set is written: `sink NAME -> conn.schema("...")`.
    pub sinks: Vec<SchemaSinkPlan>,
}

impl TableSetPlan {
    /// The table named by stage `stage` when it is one of this set's (`SET.TABLE`).
    pub fn member_table<'a>(&self, stage: &'a str) -> Option<&'a str> {
        stage.split_once('.').filter(|(set, _)| *set == self.name).map(|(_, table)| table)
    }
}

/// What a table of a set is read with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberSource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// `sink [NAME =] SET -> conn.schema("name") { ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaSinkPlan {
    pub name: String,
    pub endpoint: Endpoint,
    /// The target schema (PostgreSQL) or database (MySQL); `None`: the connection's default.
    pub schema: Option<String>,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub batch_size: Option<usize>,
    #[serde(with = "duration_text::option")]
    pub timeout: Option<Duration>,
    pub on_error: OnError,
    pub max_rejects: Option<u64>,
    /// `table NAME [as "NEW"] { ... }` in the sink block, by source table name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tables: BTreeMap<String, MemberSink>,
}

/// How one table of a set is written, when it differs from the set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberSink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WriteMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, with = "duration_text::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

/// The stage name of table `table` of set `set`.
pub fn member_stage(set: &str, table: &str) -> String {
    format!("{set}.{table}")
}

/// A source table's definition, carried to the table a schema sink creates for it (see
/// `crate::schema::ddl`). Applied only when Flow creates the table: missing, or `mode replace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarriedTable {
    /// The source table, `schema.table`.
    pub source: String,
    /// `CREATE TYPE` of the named enum types the table uses (PostgreSQL), created before
    /// `create`. A type may exist on the target from an earlier run (it outlives the table it
    /// was made with): the sink creates each one unless it exists, and keeps it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_types: Vec<String>,
    /// `CREATE TABLE` with the columns' types, `NOT NULL`, the defaults that translate and the
    /// primary key.
    pub create: Vec<String>,
    /// Unique constraints and indexes, built once the rows are in.
    pub after_load: Vec<String>,
    /// Makes an identity / serial / `AUTO_INCREMENT` column continue after the loaded values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_reset: Option<SequenceReset>,
    /// Each column and its type on the target.
    pub column_types: Vec<(String, String)>,
    /// What could not be carried over, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Making an identity continue after `MAX(column)` once explicit values were loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SequenceReset {
    /// One statement to run as is (PostgreSQL: `SELECT setval(...)` for each identity column).
    Sql { sql: String },
    /// For a target that cannot set its counter from a subquery (MySQL's `AUTO_INCREMENT`): run
    /// `next_value_sql` (one row, one integer), then the target's statement that sets the counter
    /// to that value (`TargetDialect::set_next_value_sql` of its dialect).
    NextValue { next_value_sql: String },
}

/// Foreign keys of a table set's schema sink, added once every table is published (so tables
/// load in any order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeyStep {
    /// The schema sink they belong to.
    pub sink: String,
    pub endpoint: Endpoint,
    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ...`, one each; one that exists already
    /// (same name) is left as it is.
    pub statements: Vec<String>,
}
