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

use async_trait::async_trait;
use datafusion::error::DataFusionError;

use crate::diagnostics::Failure;
use crate::plan::endpoint::scrub_secret;
use crate::plan::{Backend, Endpoint};
use crate::schema::{Catalog, TableFilter, TargetDialect};

/// Reads the schema of a whole database into a backend-neutral [`Catalog`].
#[async_trait]
pub trait CatalogReader: Send + Sync {
    /// The tables of the database `endpoint` names that `filter` selects, sorted by
    /// `(schema, name)`, with their columns, keys, indexes and foreign keys; what has no
    /// portable form is listed in each table's `untranslated`. Errors are text naming the
    /// server; [`read_catalog`] removes the endpoint's password from them.
    async fn read_catalog(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, String>;
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
/// endpoint's password; an endpoint that is not a database is an error.
pub async fn read_catalog(endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, String> {
    let result = match schema_backend(endpoint.backend) {
        Some(backend) => backend.catalog.read_catalog(endpoint, filter).await,
        None => Err(format!(
            "{} connection `{}` is not a database: it has no schema to copy",
            endpoint.backend.name(),
            endpoint.name
        )),
    };
    result.map_err(|e| scrub_secret(&e, &endpoint.url))
}

/// A connection error's own text, without DataFusion's `Execution error: ` prefix or the
/// `External error: ` of a [`Failure`].
pub(crate) fn error_message(e: DataFusionError) -> String {
    if let DataFusionError::External(inner) = &e
        && let Some(failure) = inner.downcast_ref::<Failure>()
    {
        return failure.message.clone();
    }
    match e {
        DataFusionError::Execution(message) => message,
        other => other.to_string(),
    }
}
