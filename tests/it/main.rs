//! The integration tests: one binary (each binary links DataFusion, so one link instead of 23),
//! a module per concern. Database tests skip with a printed reason when no server answers
//! (`common::postgres_available`), and fail instead when `FLOW_REQUIRE_DBS=1`.

mod common;
mod wire_proxy;

mod architecture;
mod cancel_servers;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
mod cluster_processes;
mod connect_retry;
mod connection_errors;
mod diagnostics;
mod explain;
mod explain_databases;
mod first_messages;
mod fmt;
mod graphs;
mod identifiers;
mod incremental;
mod many_tables;
mod mysql_load_data;
mod newcomer;
mod partition_lock;
mod partitions;
mod pg_sessions;
mod profile_schema;
mod progress;
mod query_comments;
mod rejects;
mod resolve_once;
mod resume;
mod run_embedded;
mod run_failures;
mod run_mysql;
mod run_postgres;
mod safety;
mod schema_catalog;
mod snapshot_mysql;
mod snapshot_postgres;
mod syntax;
mod table_sets;
mod target_probe;
mod target_refusals;
mod tooling;
mod type_matrix;
mod upsert_keys;
mod verify;

// Issue 14: real-world values arrive exactly.
mod csv_values;
mod mysql_types;
mod pg_types;
mod sqlite_many;
mod sqlite_publish;
mod sqlite_values;
