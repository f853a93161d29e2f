//! The registry of backends: the one place that maps a [`Backend`] to what it provides. Adding
//! a backend is one folder under `src/connect/` and one entry here.
//!
//! | backend    | source (`DatabaseSource`)           | catalog and DDL dialect           | sink                      |
//! |------------|-------------------------------------|-----------------------------------|---------------------------|
//! | PostgreSQL | `postgres::source::PostgresSource`  | `postgres::{catalog, ddl}`        | staged table (COPY)       |
//! | MySQL      | `mysql::source::MysqlSource`        | `mysql::{catalog, ddl}`           | staged table              |
//! | SQLite     | `sqlite::source::SqliteSource`      | `sqlite::{catalog, ddl}`          | staged table              |
//! | CSV, Parquet | files (`connect::file`)           | none                              | parted files              |
//! | `generate` | generated rows (`connect::generate`)| none                              | none                      |

use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use super::catalog::SchemaBackend;
use super::connection_options::ConnectionOption;
use super::file::target::{CSV, FileFormat, PARQUET};
use super::foreign_keys::AddForeignKeys;
use super::sink::BlockingSink;
use super::source::DatabaseSource;
use super::staged::{StagedSink, StagedTarget};
use super::target::{TargetError, TargetPlan, describe_table};
use super::target_columns::ReadSpecials;
use super::{file, generate, mysql, postgres, sqlite};
use crate::plan::{Backend, Endpoint, SinkPlan, TableName};

/// What one backend provides; `None` where it provides nothing of that kind.
pub struct BackendEntry {
    /// The named arguments its connection call takes besides `profile:`, checked when the file
    /// is checked (`connect::connection_options`).
    pub options: &'static [ConnectionOption],
    /// How to read a source of this database backend (files and `generate` are read by
    /// `connect::file` and `connect::generate`).
    pub source: Option<&'static dyn DatabaseSource>,
    /// Its catalog (for table sets) and its DDL dialect as the target of a schema copy.
    pub schema: Option<SchemaBackend>,
    /// The sink that writes a table of this backend.
    pub table_sink: Option<TableSink>,
    /// How the backend's files take columns, when it writes files (`connect::file::parts`).
    pub file_sink: Option<FileFormat>,
}

/// How a backend writes a table: through the staged-table protocol of `connect::staged`.
#[derive(Clone, Copy)]
pub struct TableSink {
    /// The sink for one target table on `endpoint`.
    pub open: fn(&Endpoint, StagedTarget) -> Arc<dyn BlockingSink>,
    /// Whether incoming batches are regrouped to the sink's batch size first; PostgreSQL's COPY
    /// streams batches as they come, so regrouping them would only copy them.
    pub regroup: bool,
    /// What the sink will do to a table, for `explain` (`connect::target::describe_table`).
    pub describe: fn(&SinkPlan, &TableName, &SchemaRef) -> Result<TargetPlan, TargetError>,
    /// Reads the columns of existing tables that take no values from outside (generated and
    /// identity columns: `connect::target_columns`); `None` where the backend has none that
    /// matter (SQLite).
    pub special_columns: Option<ReadSpecials>,
    /// Adds (or checks) a table set's foreign keys once every table is published.
    pub foreign_keys: AddForeignKeys,
}

/// The titles of the backends whose whole databases Flow reads and writes (those with a catalog
/// and a DDL dialect), in the order Flow lists backends: `PostgreSQL`, `MySQL/MariaDB`, `SQLite`.
pub fn catalog_titles() -> Vec<&'static str> {
    Backend::ALL.into_iter().filter(|b| backend(*b).schema.is_some()).map(|b| b.info().title).collect()
}

/// The entry of `backend`.
pub fn backend(backend: Backend) -> &'static BackendEntry {
    match backend {
        Backend::Postgres => &POSTGRES,
        Backend::Mysql => &MYSQL,
        Backend::Sqlite => &SQLITE,
        Backend::Csv => &CSV_FILES,
        Backend::Parquet => &PARQUET_FILES,
        Backend::Generate => &GENERATE,
    }
}

static POSTGRES: BackendEntry = BackendEntry {
    options: &[],
    source: Some(&postgres::source::PostgresSource),
    schema: Some(SchemaBackend { catalog: &postgres::catalog::PostgresCatalog, dialect: &postgres::ddl::PostgresDdl }),
    table_sink: Some(TableSink {
        open: postgres_sink,
        regroup: false,
        describe: |sink, table, schema| {
            describe_table(&postgres::sink::PostgresBackend::new(&sink.endpoint.url), sink, table, schema)
        },
        special_columns: Some(postgres::special_columns::read_for_planning),
        foreign_keys: postgres::sink::add_foreign_keys,
    }),
    file_sink: None,
};

static MYSQL: BackendEntry = BackendEntry {
    options: mysql::types::CONNECTION_OPTIONS,
    source: Some(&mysql::source::MysqlSource),
    schema: Some(SchemaBackend { catalog: &mysql::catalog::MysqlCatalog, dialect: &mysql::ddl::MysqlDdl }),
    table_sink: Some(TableSink {
        open: mysql_sink,
        regroup: true,
        describe: |sink, table, schema| {
            describe_table(&mysql::sink::MysqlBackend::new(&sink.endpoint.url), sink, table, schema)
        },
        special_columns: Some(mysql::special_columns::read_for_planning),
        foreign_keys: mysql::sink::add_foreign_keys,
    }),
    file_sink: None,
};

static SQLITE: BackendEntry = BackendEntry {
    options: &[],
    source: Some(&sqlite::source::SqliteSource),
    schema: Some(SchemaBackend { catalog: &sqlite::catalog::SqliteCatalog, dialect: &sqlite::ddl::SqliteDdl }),
    table_sink: Some(TableSink {
        open: sqlite_sink,
        regroup: true,
        describe: |sink, table, schema| {
            describe_table(&sqlite::sink::SqliteBackend::new(sink.endpoint.file_path()), sink, table, schema)
        },
        special_columns: None,
        foreign_keys: sqlite::sink::add_foreign_keys,
    }),
    file_sink: None,
};

static CSV_FILES: BackendEntry = BackendEntry {
    options: file::csv_text::CONNECTION_OPTIONS,
    source: None,
    schema: None,
    table_sink: None,
    file_sink: Some(CSV),
};

static PARQUET_FILES: BackendEntry =
    BackendEntry { options: &[], source: None, schema: None, table_sink: None, file_sink: Some(PARQUET) };

static GENERATE: BackendEntry = BackendEntry {
    options: generate::CONNECTION_OPTIONS,
    source: None,
    schema: None,
    table_sink: None,
    file_sink: None,
};

fn postgres_sink(endpoint: &Endpoint, target: StagedTarget) -> Arc<dyn BlockingSink> {
    Arc::new(StagedSink::new(postgres::sink::PostgresBackend::new(&endpoint.url), target))
}

fn mysql_sink(endpoint: &Endpoint, target: StagedTarget) -> Arc<dyn BlockingSink> {
    Arc::new(StagedSink::new(mysql::sink::MysqlBackend::new(&endpoint.url), target))
}

fn sqlite_sink(endpoint: &Endpoint, target: StagedTarget) -> Arc<dyn BlockingSink> {
    Arc::new(StagedSink::new(sqlite::sink::SqliteBackend::new(endpoint.file_path()), target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_have_a_source_a_catalog_and_a_table_sink_and_files_do_not() {
        for b in [Backend::Postgres, Backend::Mysql, Backend::Sqlite] {
            let entry = backend(b);
            assert!(entry.source.is_some() && entry.schema.is_some() && entry.table_sink.is_some(), "{b:?}");
            assert!(entry.file_sink.is_none());
        }
        for b in [Backend::Csv, Backend::Parquet] {
            assert!(backend(b).source.is_none() && backend(b).file_sink.is_some());
        }
        assert!(backend(Backend::Generate).table_sink.is_none());
    }
}
