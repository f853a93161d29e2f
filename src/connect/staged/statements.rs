//! The statements of the staged-table protocol that are the same SQL on every backend, given
//! its quoting ([`Dialect`]). See `crate::ledger` for what the ledger records.
//!
//! - before a fresh run: earlier unfinished runs of the sink are abandoned (their staging and
//!   old tables dropped, an `abandon` row each), then the `start` row, then a new staging table;
//! - before a resume: the staging table must hold exactly the rows the ledger's partitions say;
//!   if it does not (an `UNLOGGED` table after a server crash, a dropped table), the sink starts
//!   over: the staging table is recreated and the run's partition rows deleted.

use crate::ledger::{Event, LedgerKey, Preparation, insert_sql, ledger_table};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// Names of a run's work tables beside the target.
pub fn staging_of(target: &TableName, run_id: &str) -> TableName {
    target.sibling("stage", run_id)
}

pub fn old_of(target: &TableName, run_id: &str) -> TableName {
    target.sibling("old", run_id)
}

/// Drops the work tables of earlier runs and records the abandoned ones.
pub fn cleanup_sql(dialect: Dialect, target: &TableName, key: &LedgerKey, prep: &Preparation) -> Vec<String> {
    let mut statements = Vec::new();
    for run in prep.abandon.iter().chain(prep.last_published.iter()) {
        statements.push(format!("DROP TABLE IF EXISTS {}", dialect.table(&staging_of(target, run))));
        statements.push(format!("DROP TABLE IF EXISTS {}", dialect.table(&old_of(target, run))));
    }
    for run in &prep.abandon {
        let mut row = key.row(Event::Abandon, -1, "a new run started", 0, "");
        row.run_id = run.clone();
        statements.push(insert_sql(dialect, &ledger_table(target), &row));
    }
    statements
}

/// Starts the sink's staging: a fresh run records its start; a resume whose staging was lost
/// forgets the partitions it recorded.
pub fn restart_sql(
    dialect: Dialect,
    target: &TableName,
    key: &LedgerKey,
    prep: &Preparation,
    create_staging: &str,
) -> Vec<String> {
    let ledger = dialect.table(&ledger_table(target));
    let mut statements = Vec::new();
    if prep.resume_rows.is_some() {
        statements.push(format!(
            "DELETE FROM {ledger} WHERE run_id = {} AND sink = {} AND event = 'partition'",
            dialect.string(&key.run_id),
            dialect.string(&key.sink)
        ));
    } else {
        statements.push(insert_sql(dialect, &ledger_table(target), &prep.start));
    }
    statements.push(format!("DROP TABLE IF EXISTS {}", dialect.table(&staging_of(target, &key.run_id))));
    statements.push(create_staging.to_string());
    statements
}

/// The rows the ledger `ledger` records for partition `partition` of `key`'s run and sink; no
/// row when it records none.
pub fn committed_partition_sql(dialect: Dialect, ledger: &TableName, key: &LedgerKey, partition: usize) -> String {
    format!(
        "SELECT row_count FROM {} WHERE run_id = {} AND sink = {} AND event = {} AND part = {partition}",
        dialect.table(ledger),
        dialect.string(&key.run_id),
        dialect.string(&key.sink),
        dialect.string(Event::Partition.as_str()),
    )
}

pub fn count_sql(dialect: Dialect, table: &TableName) -> String {
    format!("SELECT COUNT(*) FROM {}", dialect.table(table))
}

/// `CREATE TABLE IF NOT EXISTS` for the ledger or the reject table, from the backend's
/// `CREATE TABLE`.
pub fn ensure_table_sql(create_table: &str) -> String {
    create_table.replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1)
}

/// The `ON CONFLICT (keys) DO ...` clause of an upsert (PostgreSQL and SQLite share it): the
/// non-key columns `updates` (quoted) take the incoming row's values, read through `excluded`
/// (the pseudo-table's name as the backend spells it); with none to update, the row is kept.
pub fn on_conflict_sql(dialect: Dialect, keys: &[String], updates: &[String], excluded: &str) -> String {
    let key_list = keys.iter().map(|k| dialect.ident(k)).collect::<Vec<_>>().join(", ");
    if updates.is_empty() {
        return format!("ON CONFLICT ({key_list}) DO NOTHING");
    }
    let set: Vec<String> = updates.iter().map(|c| format!("{c} = {excluded}.{c}")).collect();
    format!("ON CONFLICT ({key_list}) DO UPDATE SET {}", set.join(", "))
}
