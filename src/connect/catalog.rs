//! The schema side of the backend contract: reading a whole database's catalog
//! ([`CatalogReader`]) and writing DDL for one ([`TargetDialect`], defined beside the planner in
//! `schema::dialect` so that `schema` needs nothing from here). Each database backend implements
//! both in its own folder (`postgres/`, `mysql/`, `sqlite/`: `catalog.rs` and `ddl.rs`), and
//! [`schema_backend`] finds them in the registry of backends (`connect::registry`).
//!
//! How each target spells the portable types ([`ColumnType`](crate::schema::ColumnType)):
//!
//! | portable type    | PostgreSQL          | MySQL / MariaDB             | SQLite       |
//! |------------------|---------------------|-----------------------------|--------------|
//! | `Boolean`        | `boolean`           | `BOOLEAN` (`TINYINT(1)`)    | `BOOLEAN`    |
//! | `SmallInt`/`Int`/`BigInt` | `smallint`/`integer`/`bigint` | `SMALLINT`/`INT`/`BIGINT` | `INTEGER` |
//! | `BigIntUnsigned` | `numeric(20,0)`; `bigint` when an identity or in a foreign key | `BIGINT UNSIGNED` | `NUMERIC` |
//! | `Real`/`Double`  | `real`/`double precision` | `FLOAT`/`DOUBLE`      | `REAL`       |
//! | `Decimal(p,s)`   | `numeric(p,s)`      | `DECIMAL(p,s)` (at most 65,30) | `TEXT` (exact, as Flow's SQLite sink writes decimals) |
//! | `Numeric`        | `numeric`           | `DECIMAL(65,30)`            | `TEXT`       |
//! | `Char(n)`/`Varchar(n)` | `char(n)`/`varchar(n)` | `CHAR(n)`/`VARCHAR(n)` | `TEXT`   |
//! | `Text`, `Varchar` without length | `text`/`varchar` | `LONGTEXT` (`VARCHAR(255)` in a key or index) | `TEXT` |
//! | `Binary`         | `bytea`             | `LONGBLOB` (`VARBINARY(255)` in a key or index) | `BLOB` |
//! | `Date`/`Time`    | `date`/`time`       | `DATE`/`TIME(6)`            | `DATE`/`TIME` |
//! | `Duration` (MySQL `TIME`, a span) | `interval` | `TIME(6)`                 | `TEXT` `[-]H:MM:SS.ffffff` (warning) |
//! | `Bit(n)`         | `boolean` (n = 1), `bit(n)` | `BIT(n)`            | `INTEGER` (warning) |
//! | `Timestamp`      | `timestamp`         | `DATETIME(6)`               | `TIMESTAMP`  |
//! | `TimestampTz`    | `timestamptz`       | `DATETIME(6)`, UTC (warning: no zone) | `TIMESTAMPTZ` |
//! | `Json`           | `jsonb`             | `JSON`                      | `TEXT`       |
//! | `Uuid`           | `uuid`              | `CHAR(36)`                  | `TEXT`       |
//! | `Enum`           | `CREATE TYPE ... AS ENUM` | `ENUM(...)`           | `TEXT CHECK (c IN (...))` |
//! | `Other`          | `text` (warning)    | `LONGTEXT` (warning)        | `TEXT` (warning) |

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;

use super::catalog_error::CatalogError;
use super::source::Descendants;
use crate::plan::{Backend, Endpoint};
use crate::schema::{Catalog, TableFilter, TargetDialect};

/// Reads the schema of a whole database into a backend-neutral [`Catalog`].
#[async_trait]
pub trait CatalogReader: Send + Sync {
    /// The tables of the database `endpoint` names that `filter` selects, sorted by
    /// `(schema, name)`, with their columns, keys, indexes and foreign keys; what has no
    /// portable form is listed in each table's `untranslated`. Errors name the server or file,
    /// with the endpoint's password removed.
    async fn read_catalog(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, CatalogError>;

    /// The catalog of a table set ([`Self::read_catalog`]), the inheritance descendants of the
    /// database's tables, and for each table what describing it as a source would ask the
    /// server ([`TableRead`]), read for all tables at once: a number of statements that does
    /// not grow with the number of tables. The default reads the catalog alone (no
    /// descendants, no table reads): each table is then described on its own.
    async fn read_table_set(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<TableSetRead, CatalogError> {
        Ok(TableSetRead {
            catalog: self.read_catalog(endpoint, filter).await?,
            descendants: Descendants::new(),
            reads: BTreeMap::new(),
        })
    }
}

/// What [`CatalogReader::read_table_set`] found.
#[derive(Debug, Clone, Default)]
pub struct TableSetRead {
    pub catalog: Catalog,
    /// Every table of the database with inheritance children → its descendants (PostgreSQL).
    pub descendants: Descendants,
    /// By table (`TableDef::display_name`): what its own schema probe and catalog queries
    /// would answer. A table missing here is described on its own.
    pub reads: BTreeMap<String, TableRead>,
}

/// What the catalog says of one table that describing it as a source would otherwise ask the
/// server table by table: the schema probe (its Arrow schema and `explain` notes), the row
/// estimate, the primary key for automatic partitioning and the row width for the batch size.
/// Each field equals what the backend's own query for that table answers
/// (`DatabaseSource::{probe, row_estimate_sql, auto_partition_sql, row_width_sql}`), and is
/// built by the same code where there is code (the probe's type mapping).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRead {
    /// The schema the probe of `SELECT * FROM table` returns; `None` when the catalog cannot
    /// say it exactly (a type the mapping refuses or is unsure of, a table the user may not
    /// read): the probe is then sent, and refuses what it always refused.
    pub schema: Option<SchemaRef>,
    /// Read with its inheritance children (a plain `SELECT`).
    pub whole: ReadAs,
    /// Read `ONLY` (without them); equal to `whole` where there is no inheritance.
    pub only: ReadAs,
    /// The primary key, as `DatabaseSource::auto_partition_sql` answers; `None`: no primary key.
    pub primary_key: Option<PrimaryKeyFacts>,
}

impl TableRead {
    /// What reading the table `ONLY` (`only`) or with its children answers.
    pub fn read_as(&self, only: bool) -> &ReadAs {
        if only { &self.only } else { &self.whole }
    }
}

/// What the table's probe notes, row estimate and row width queries answer for one way of
/// reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadAs {
    /// What `explain` says that the table's name alone does not (its inheritance children).
    pub notes: Vec<String>,
    /// `DatabaseSource::row_estimate_sql`'s answer; `None`: NULL (unknown).
    pub rows: Option<i64>,
    /// `DatabaseSource::row_width_sql`'s answer in bytes; `None`: NULL (no statistics).
    pub width: Option<i64>,
}

/// A table's primary key as automatic partitioning looks at it (`connect::auto_partition`).
#[derive(Debug, Clone, PartialEq)]
pub struct PrimaryKeyFacts {
    /// A column of the key (the only one when `columns` is 1).
    pub column: String,
    /// How many columns the key has.
    pub columns: usize,
    /// The table's row estimate as the query reads it; `None`: unknown.
    pub rows: Option<f64>,
    /// The column's type name as the query reads it (`bigint`, `int`).
    pub type_name: String,
}

/// A database backend's schema side: how to read its catalog, and its DDL dialect as a target.
#[derive(Clone, Copy)]
pub struct SchemaBackend {
    pub catalog: &'static dyn CatalogReader,
    pub dialect: &'static dyn TargetDialect,
}

/// The schema side of `backend`; `None` for backends that are not databases (files,
/// `generate`), which have no catalog and take no DDL.
pub fn schema_backend(backend: Backend) -> Option<SchemaBackend> {
    super::registry::backend(backend).schema
}

/// The selected tables of a database endpoint, with their schema. Errors never contain the
/// endpoint's password; an endpoint that is not a database is [`CatalogError::NotADatabase`].
pub async fn read_catalog(endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, CatalogError> {
    database(endpoint)?.catalog.read_catalog(endpoint, filter).await
}

/// [`read_catalog`] for a table set: also the descendants and the per-table reads (see
/// [`CatalogReader::read_table_set`]). Errors never contain the endpoint's password.
pub async fn read_table_set(endpoint: &Endpoint, filter: &TableFilter) -> Result<TableSetRead, CatalogError> {
    database(endpoint)?.catalog.read_table_set(endpoint, filter).await
}

/// The schema side of `endpoint`'s backend, which must be a database.
fn database(endpoint: &Endpoint) -> Result<SchemaBackend, CatalogError> {
    schema_backend(endpoint.backend).ok_or_else(|| CatalogError::NotADatabase {
        backend: endpoint.backend.name(),
        connection: endpoint.name.clone(),
    })
}
