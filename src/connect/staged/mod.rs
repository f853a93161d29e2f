//! The staged-table protocol of the database sinks, written once: every backend (PostgreSQL,
//! MySQL, SQLite) loads a run's rows into a staging table beside the target, a transaction per
//! partition with its ledger row, and moves them into the target at the end in one step with the
//! ledger's `publish` row. A failed or killed run leaves the target as it was, and its committed
//! partitions in the staging table for `--resume` (see `crate::ledger` for what the ledger
//! records).
//!
//! ```text
//! prepare ─────────────► write_partition × N ─────────► publish
//!  target exists?          rows → staging table          per mode and what exists (Move):
//!  `create never`?         + its `partition` row,         rows → target, `publish` row,
//!  ledger, reject table    one transaction;               drop staging, atomically
//!  clean up earlier runs   refused rows per `on error`
//!  resume: staged = ledger?
//!  staging table
//! ```
//!
//! The steps and their decisions are here ([`StagedSink`]). A backend supplies, in its own
//! folder, a [`SqlSession`] (one connection: run a statement, count, does a table exist,
//! begin / commit / rollback) and a [`StagedBackend`]: its `CREATE TABLE`, its staging table, how
//! rows get into staging ([`RowLoader`]: PostgreSQL's binary `COPY`, MySQL's batched `INSERT`,
//! SQLite's prepared `INSERT`), and the few publishing statements that genuinely differ (the
//! upsert, renaming into place, emptying a table).
//!
//! Blocking, not async: two of the three drivers (rusqlite, `mysql`) block, and a partition's row
//! loop must stay on one thread with its one connection; the rest of the protocol is a short
//! sequence of statements, where async buys nothing. So a staged sink runs on Tokio's blocking
//! pool (`connect::sink::BlockingDriver`, which also feeds it its batches), and PostgreSQL's session
//! drives its async client with `Handle::block_on` from there. The protocol is plain functions,
//! unit-tested on SQLite without a runtime (`tests.rs`).

mod statements;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;

use arrow::datatypes::{Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};

pub use statements::{
    cleanup_sql, committed_partition_sql, count_sql, ensure_table_sql, old_of, on_conflict_sql, restart_sql, staging_of,
};

use crate::connect::rejects::{BadRow, RejectPolicy, reject_schema};
use crate::connect::sink::BlockingSink;
use crate::connect::target_columns::{self, ExistingTable, WritePlan, WriteRefused};
use crate::diagnostics::{Failure, codes};
use crate::ledger::{
    Event, LedgerKey, LedgerRow, Preparation, RowChecksum, insert_sql, ledger_schema, ledger_table, parse_row,
    select_sql,
};
use crate::plan::sql::Dialect;
use crate::plan::table_set::CarriedTable;
use crate::plan::table_set::SequenceReset;
use crate::plan::{TableName, WriteMode};

/// What a staged sink writes: the target table, how, and for which run. Plain data, the same for
/// every backend.
#[derive(Debug)]
pub struct StagedTarget {
    pub table: TableName,
    /// This run's staging table beside the target: unique per run, so that concurrent runs never
    /// share one.
    pub staging: TableName,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub schema: SchemaRef,
    pub key: LedgerKey,
    pub rejects: RejectPolicy,
    /// For a table of a table set: the source table's definition. When Flow creates the target
    /// (missing, or `mode replace`) it is created from this (keys, indexes, defaults) instead of
    /// from the schema.
    pub carried: Option<CarriedTable>,
}

impl StagedTarget {
    pub fn new(
        table: TableName,
        mode: WriteMode,
        create_if_missing: bool,
        schema: SchemaRef,
        key: LedgerKey,
        rejects: RejectPolicy,
        carried: Option<CarriedTable>,
    ) -> Self {
        let staging = staging_of(&table, &key.run_id);
        Self { table, staging, mode, create_if_missing, schema, key, rejects, carried }
    }

    /// The upsert keys, in `mode upsert`.
    pub fn keys(&self) -> Option<&[String]> {
        match &self.mode {
            WriteMode::Upsert { keys, .. } => Some(keys),
            _ => None,
        }
    }
}

/// The step of the protocol a statement belongs to: each backend words its errors from it
/// (`PostgreSQL at URL: cannot clean up earlier runs of public.t: ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    LookUp,
    Inspect,
    ReadLedger,
    BeginPreparing,
    CreateLedger,
    CreateRejects,
    Cleanup,
    CountStaging,
    CreateStaging,
    CommitPreparing,
    BeginWriting,
    WriteRows,
    WriteRejects,
    LockPartition,
    RecordPartition,
    CommitRows,
    BeginPublishing,
    Publish,
    ReadNextId,
    RecordPublish,
    CommitPublishing,
}

impl Step {
    /// What failed, to be followed by the target's name: `cannot publish into`.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::LookUp => "cannot look up",
            Self::Inspect => "cannot inspect",
            Self::ReadLedger => "cannot read the ledger of",
            Self::BeginPreparing => "cannot begin preparing",
            Self::CreateLedger => "cannot create the ledger of",
            Self::CreateRejects => "cannot create the reject table of",
            Self::Cleanup => "cannot clean up earlier runs of",
            Self::CountStaging => "cannot count the staging rows of",
            Self::CreateStaging => "cannot create the staging table for",
            Self::CommitPreparing => "cannot commit preparing",
            Self::BeginWriting => "cannot begin writing",
            Self::WriteRows => "cannot write rows for",
            Self::WriteRejects => "cannot write rejected rows of",
            Self::LockPartition => "cannot lock the ledger of",
            Self::RecordPartition => "cannot record a partition of",
            Self::CommitRows => "cannot commit rows for",
            Self::BeginPublishing => "cannot begin publishing",
            Self::Publish => "cannot publish into",
            Self::ReadNextId => "cannot read the next id of",
            Self::RecordPublish => "cannot record publishing",
            Self::CommitPublishing => "cannot commit publishing",
        }
    }
}

/// Stops, from another thread, the statement a session is running (a PostgreSQL cancel request,
/// a MySQL `KILL QUERY`); the session's caller then sees it fail.
pub type Canceller = Box<dyn FnOnce() + Send>;

/// One connection to the target database, used from one thread. Errors name the target and the
/// [`Step`]; the session knows both. Each is a [`Failure`] whose code the backend takes from its
/// driver's error (SQLSTATE, error number, result code): `flow::sink::value_refused` for a
/// constraint or a bad value, `flow::sink::no_upsert_key` for an upsert whose keys match no
/// unique constraint, else `flow::sink::write_failed`.
pub trait SqlSession {
    /// Runs `sql`: one or more statements that return no rows.
    fn execute(&mut self, sql: &str, step: Step) -> Result<()>;
    /// Runs `statements` in order, stopping at the first that fails. A backend that can send
    /// them together (PostgreSQL: one simple query of several statements, one round trip) does;
    /// inside a transaction the result is the same.
    fn execute_all(&mut self, statements: &[String], step: Step) -> Result<()> {
        statements.iter().try_for_each(|sql| self.execute(sql, step))
    }
    /// The first column of the first row of `sql`, as an integer; `None` for no row or NULL.
    fn query_u64(&mut self, sql: &str, step: Step) -> Result<Option<u64>>;
    /// Every row of `sql`, each column as text (`None` for NULL).
    fn query_text(&mut self, sql: &str, step: Step) -> Result<Vec<Vec<Option<String>>>>;
    /// The column names of `table`, in order; `None` when it does not exist. Never fails an open
    /// transaction when the table is missing.
    fn table_columns(&mut self, table: &TableName) -> Result<Option<Vec<String>>>;
    fn table_exists(&mut self, table: &TableName) -> Result<bool> {
        Ok(self.table_columns(table)?.is_some())
    }
    fn begin(&mut self, step: Step) -> Result<()> {
        self.execute("BEGIN", step)
    }
    fn commit(&mut self, step: Step) -> Result<()> {
        self.execute("COMMIT", step)
    }
    /// Best effort: a failed rollback leaves the transaction to end with the connection.
    fn rollback(&mut self) {
        let _ = self.execute("ROLLBACK", Step::CommitRows);
    }
    /// How to stop this session's statements from elsewhere, when the backend can.
    fn canceller(&self) -> Option<Canceller> {
        None
    }
}

/// How a partition's rows get into the staging table: the backend's bulk path.
pub trait RowLoader<S> {
    /// Writes `batch` (rows `first_row + 1 ..` of `partition`) into the staging table and returns
    /// the rows that could not be converted or that the database refused, in a way that keeps
    /// the partition's transaction usable. With `on error fail` it may stop at the first.
    fn load(
        &mut self,
        session: &mut S,
        target: &StagedTarget,
        batch: &RecordBatch,
        partition: usize,
        first_row: u64,
    ) -> Result<Vec<BadRow>>;
    /// Ends the partition's rows (PostgreSQL: the end of its `COPY`).
    fn finish(&mut self, _session: &mut S) -> Result<()> {
        Ok(())
    }
}

/// Whether publishing moves the staging table into place by renaming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renames {
    /// Never: the rows are inserted into the target.
    Never,
    /// In `mode replace` (PostgreSQL: the staging table is written logged for that).
    ToReplace,
    /// In `mode replace`, and whenever the target is missing (MySQL: its staging table is then
    /// created with the target's key).
    ToReplaceAndCreate,
    /// Instead of creating the target, or of emptying it to replace its rows, when the backend
    /// finds the staging table defined as the target is or would be
    /// ([`StagedBackend::rename_instead`]; SQLite).
    WhenAlike,
}

/// What a backend brings to the protocol: its sessions, its DDL, its bulk load and the publishing
/// statements that genuinely differ. Defaults are the standard SQL the backends share.
pub trait StagedBackend: Send + Sync + 'static {
    type Session: SqlSession;
    type Loader: RowLoader<Self::Session>;
    const DIALECT: Dialect;
    /// Partitions are written one at a time (SQLite has one writer per database: the others
    /// wait on the sink rather than on the database's busy timeout).
    const ONE_WRITER: bool = false;
    const RENAMES: Renames = Renames::Never;

    /// The server for messages, password redacted: `PostgreSQL at postgres://u:***@h/db`.
    fn name(&self) -> String;
    /// Where a table lives, after "does not exist": `in FILE`, `at URL`.
    fn location(&self) -> String;
    fn open(&self, target: &StagedTarget) -> Result<Self::Session>;
    /// A session only if the database exists (reading a ledger must not create a database).
    fn open_existing(&self, target: &StagedTarget) -> Result<Option<Self::Session>> {
        self.open(target).map(Some)
    }
    /// `CREATE TABLE` for a schema, with the key an upsert needs.
    fn create_table_sql(&self, table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String>;
    /// The type a column Flow creates gets for `field` (`is_key`: an upsert key), for `explain`.
    fn column_type(&self, field: &Field, is_key: bool) -> Result<String>;
    /// What this target cannot keep exactly of a column, in one line for `explain` (`column
    /// `x`: ...`); `None` when every value is kept.
    fn inexact(&self, _field: &Field) -> Option<String> {
        None
    }
    /// How `mode` makes the rows visible in `table` (quoted), in one line, for `explain`.
    fn publish_summary(&self, mode: &WriteMode, table: &str) -> String;
    /// Whether `mode replace` makes an existing table again from the pipeline's columns (its
    /// keys, indexes and grants are not kept), with what else follows on this backend, for
    /// `explain`'s warning ([`crate::connect::target::describe_table`]); `None` where replace
    /// keeps the table's definition.
    fn replace_drops(&self) -> Option<&'static str> {
        None
    }
    /// Run before `CREATE TABLE IF NOT EXISTS` of the ledger, in the same transaction, where two
    /// sinks creating it at once could race.
    fn lock_ledger_sql(&self, _ledger: &TableName) -> Option<String> {
        None
    }
    /// How two writers of the same partition of the same run exclude each other, so that the
    /// second finds the first's ledger row and writes nothing. On a cluster Ballista re-runs a
    /// task whose executor it lost, and the first attempt may still be writing. `name` is at
    /// most 64 bytes. Default: nothing, for a backend whose write transactions already exclude
    /// each other (SQLite: one writer per file).
    fn partition_lock_sql(&self, _name: &str) -> PartitionLock {
        PartitionLock::None
    }
    /// What the existing target table is (see `connect::target_columns`): its columns, those
    /// that take no values from outside and, where an upsert needs one, its unique keys. `None`
    /// when the table does not exist. Default: its columns only, named as the dialect compares
    /// them.
    fn existing_table(&self, session: &mut Self::Session, table: &TableName) -> Result<Option<ExistingTable>> {
        let fold_case = Self::DIALECT.folds_column_case();
        Ok(session.table_columns(table)?.map(|columns| ExistingTable { columns, fold_case, ..Default::default() }))
    }
    /// Refuses, before anything is created, a write the existing target (kept: not `mode
    /// replace`) would change on the way in.
    fn check_target(&self, _session: &mut Self::Session, _target: &StagedTarget) -> Result<()> {
        Ok(())
    }
    /// `CREATE TABLE` of the staging table.
    fn staging_sql(&self, session: &mut Self::Session, target: &StagedTarget, target_exists: bool) -> Result<String>;
    /// The loader of one partition, which writes `write`'s columns.
    fn loader(&self, session: &mut Self::Session, target: &StagedTarget, write: WritePlan) -> Result<Self::Loader>;
    /// Run before publishing a table of a table set (`created`: from its source's definition,
    /// replacing any old one), so that the tables can be published in any order: the set's
    /// foreign keys are checked once every table is in (`connect::foreign_keys`).
    fn foreign_keys_off_sql(&self, _created: bool) -> Option<&'static str> {
        None
    }
    /// Run first inside the publish transaction, so that other tables' foreign keys to the
    /// target are checked when it commits, not at each statement: emptying a kept target that
    /// other rows reference must not fail when the new rows still hold the referenced keys
    /// (SQLite checks immediately unless told `defer_foreign_keys`). `None`: nothing to run.
    fn defer_foreign_keys_sql(&self) -> Option<&'static str> {
        None
    }
    /// Drops the target if it `exists` and creates it from its source's definition.
    fn carried_sql(&self, target: &StagedTarget, carried: &CarriedTable, exists: bool) -> Vec<String> {
        let mut statements = Vec::new();
        if exists {
            statements.push(format!("DROP TABLE {}", Self::DIALECT.table(&target.table)));
        }
        statements.extend(carried.create_types.iter().chain(&carried.create).cloned());
        statements
    }
    /// `INSERT INTO target (...) SELECT ... FROM staging` of `write`'s columns; `carried` when
    /// the target was just created from its source's definition.
    fn insert_sql(&self, target: &StagedTarget, write: &WritePlan, _carried: Option<&CarriedTable>) -> String {
        let d = Self::DIALECT;
        let columns = write.column_list(&target.schema, d);
        format!("INSERT INTO {} ({columns}) SELECT {columns} FROM {}", d.table(&target.table), d.table(&target.staging))
    }
    /// The statements that upsert `target`'s staged rows on `keys`, setting the quoted columns
    /// `updates`, from `insert` (the plain `INSERT ... SELECT` from staging). A row whose keys
    /// match no target row but which collides with one on another unique key must fail, as it
    /// does on PostgreSQL, never update that other row.
    fn upsert_sql(&self, target: &StagedTarget, insert: String, keys: &[String], updates: &[String]) -> Vec<String>;
    /// Empties an existing target before its rows are replaced.
    fn empty_sql(&self, table: &TableName) -> String {
        format!("DELETE FROM {}", Self::DIALECT.table(table))
    }
    /// Statements after the rows are in (PostgreSQL: identity sequences past the new rows).
    fn after_rows_sql(&self, _target: &StagedTarget, _write: &WritePlan) -> Vec<String> {
        Vec::new()
    }
    /// With [`Self::RENAMES`]: the statements that put the staging table in the target's place
    /// (the old target, if it `exists`, goes), and those to run after the ledger row.
    fn rename_sql(&self, _target: &StagedTarget, _exists: bool) -> (Vec<String>, Vec<String>) {
        (Vec::new(), Vec::new())
    }
    /// With [`Renames::WhenAlike`]: whether publishing may rename the staging table into place
    /// instead of moving its rows as `how` says ([`Move::Create`], or [`Move::Insert`] emptying
    /// the target of `mode replace`), because the table that results is the same. `Some` of the
    /// statements to run once it is in place (the old target's indexes, made again).
    fn rename_instead(
        &self,
        _session: &mut Self::Session,
        _target: &StagedTarget,
        _how: Move<'_>,
    ) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
    /// The statement that makes `table`'s identity continue at `next`, for a
    /// [`SequenceReset::NextValue`] (its dialect's `TargetDialect::set_next_value_sql`); `None`
    /// where the backend's dialect plans no such reset.
    fn set_next_value_sql(&self, _table: &TableName, _next: u64) -> Option<String> {
        None
    }
    /// Makes the identity of a table of a set continue after the loaded values.
    fn reset_sequence(&self, session: &mut Self::Session, target: &StagedTarget, reset: &SequenceReset) -> Result<()> {
        match reset {
            SequenceReset::Sql { sql } => session.execute(sql, Step::Publish),
            SequenceReset::NextValue { next_value_sql } => {
                let next = session.query_u64(next_value_sql, Step::ReadNextId)?.unwrap_or(1).max(1);
                match self.set_next_value_sql(&target.table, next) {
                    Some(sql) => session.execute(&sql, Step::Publish),
                    None => Ok(()),
                }
            }
        }
    }
}

/// How publishing moves the staged rows into the target, decided from the mode, what exists and
/// the backend's [`Renames`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Move<'a> {
    /// A table of a table set, created (again) from its source's definition, then filled.
    Carried(&'a CarriedTable),
    /// The staging table renamed into the target's place.
    Rename,
    /// The target (dropped first if it exists) created from the schema, then filled.
    Create,
    /// Rows inserted (or upserted) into the existing target, emptied first if `empty`.
    Insert { empty: bool },
}

impl<'a> Move<'a> {
    /// `existing`: the target's columns, `None` when it is missing.
    pub fn decide(target: &'a StagedTarget, existing: Option<&[String]>, renames: Renames) -> Self {
        let replace = target.mode == WriteMode::Replace;
        if let Some(carried) = target.carried.as_ref().filter(|_| existing.is_none() || replace) {
            return Self::Carried(carried);
        }
        let Some(columns) = existing else {
            return match renames {
                Renames::ToReplaceAndCreate => Self::Rename,
                Renames::ToReplace if replace => Self::Rename,
                _ => Self::Create,
            };
        };
        match &target.mode {
            WriteMode::Replace if matches!(renames, Renames::ToReplace | Renames::ToReplaceAndCreate) => Self::Rename,
            // The table is kept (its indexes, triggers, grants) when its columns are the same.
            WriteMode::Replace if same_columns(columns, &target.schema) => Self::Insert { empty: true },
            WriteMode::Replace => Self::Create,
            WriteMode::Truncate => Self::Insert { empty: true },
            WriteMode::Append | WriteMode::Upsert { .. } => Self::Insert { empty: false },
        }
    }
}

fn same_columns(columns: &[String], schema: &SchemaRef) -> bool {
    columns.len() == schema.fields().len() && schema.fields().iter().all(|f| columns.contains(f.name()))
}

/// A database sink: the protocol over backend `B`. The runner calls `read_ledger`, `prepare`
/// once, `write_partition` per partition still to do (concurrently), then `publish`.
pub struct StagedSink<B: StagedBackend> {
    pub backend: B,
    pub target: StagedTarget,
    /// Held by a partition's writer for its whole transaction when `B::ONE_WRITER`.
    one_writer: Mutex<()>,
    /// How to stop each running partition's statement, for `cancel`.
    running: Mutex<HashMap<usize, Canceller>>,
}

impl<B: StagedBackend> StagedSink<B> {
    pub fn new(backend: B, target: StagedTarget) -> Self {
        Self { backend, target, one_writer: Mutex::new(()), running: Mutex::new(HashMap::new()) }
    }
}

/// The staged-table protocol, run on the blocking pool by `connect::sink`'s driver.
impl<B: StagedBackend> BlockingSink for StagedSink<B> {
    /// Rows skipped or rejected so far in this run.
    fn refused(&self) -> u64 {
        self.target.rejects.refused()
    }

    /// The ledger rows of the sink's pipeline, oldest first; none when the database or its ledger
    /// does not exist yet.
    fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        let t = &self.target;
        let Some(mut s) = self.backend.open_existing(t)? else { return Ok(Vec::new()) };
        let ledger = ledger_table(&t.table);
        if !s.table_exists(&ledger)? {
            return Ok(Vec::new());
        }
        let rows = s.query_text(&select_sql(B::DIALECT, &ledger, &t.key.pipeline), Step::ReadLedger)?;
        Ok(rows.iter().filter_map(|row| parse_row(row)).collect())
    }

    /// Checks the target, cleans up earlier runs and starts (or checks, on a resume) the staging
    /// table. `false`: a resume found its staging table changed (a PostgreSQL `UNLOGGED` table is
    /// emptied by a server crash; a table may have been dropped) and the sink starts over.
    fn prepare(&self, prep: &Preparation) -> Result<bool> {
        let (b, t, d) = (&self.backend, &self.target, B::DIALECT);
        let mut s = b.open(t)?;
        let existing = s.table_columns(&t.table)?;
        if existing.is_none() && !t.create_if_missing {
            let message = format!("table {} does not exist {} and the sink says `create never`", t.table, b.location());
            return Err(Failure::new(codes::sink::REFUSED, message).into_datafusion());
        }
        // A write the kept target cannot take is refused before anything is created.
        if existing.is_some() && t.mode != WriteMode::Replace {
            self.write_plan(&mut s)?;
            b.check_target(&mut s, t)?;
        }
        let ledger = ledger_table(&t.table);
        in_transaction(&mut s, Step::BeginPreparing, Step::CommitPreparing, |s| {
            // Once the ledger exists (every sink of a table set but the first few), neither its
            // lock nor its `CREATE` is needed: the lock would make the sinks prepare one at a time.
            if !s.table_exists(&ledger)? {
                let lock = b.lock_ledger_sql(&ledger);
                let create = ensure_table_sql(&b.create_table_sql(&ledger, &ledger_schema(), None)?);
                s.execute_all(&lock.into_iter().chain([create]).collect::<Vec<_>>(), Step::CreateLedger)?;
            }
            if let Some(table) = t.rejects.table() {
                s.execute(&ensure_table_sql(&b.create_table_sql(table, &reject_schema(), None)?), Step::CreateRejects)?;
            }
            s.execute_all(&cleanup_sql(d, &t.table, &t.key, prep), Step::Cleanup)?;
            if let Some(expected) = prep.resume_rows
                && s.table_exists(&t.staging)?
                && s.query_u64(&count_sql(d, &t.staging), Step::CountStaging)? == Some(expected)
            {
                return Ok(true);
            }
            let create = b.staging_sql(s, t, existing.is_some())?;
            s.execute_all(&restart_sql(d, &t.table, &t.key, prep, &create), Step::CreateStaging)?;
            Ok(prep.resume_rows.is_none())
        })
    }

    /// Writes the batches `next` yields as partition `partition` into the staging table, with its
    /// ledger row (`detail`: what it read), in one transaction; returns the rows written.
    /// `on_rows` hears of rows as they are written.
    fn write_partition(
        &self,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        let poisoned = |_| Failure::new(codes::run::INTERNAL, "the sink's writer lock is poisoned").into_datafusion();
        let _one_writer = if B::ONE_WRITER { Some(self.one_writer.lock().map_err(poisoned)?) } else { None };
        let mut s = self.backend.open(&self.target)?;
        if let (Some(canceller), Ok(mut running)) = (s.canceller(), self.running.lock()) {
            running.insert(partition, canceller);
        }
        let written = self.write_partition_on(&mut s, partition, detail, next, on_rows);
        if let Ok(mut running) = self.running.lock() {
            running.remove(&partition);
        }
        written
    }

    /// Stops the statement a partition's writer is running; the writer then sees its input end
    /// and rolls back.
    fn cancel(&self, partition: usize) {
        // Called under the lock, which the writer takes to remove its canceller when it ends: a
        // canceller runs before its session ends or not at all (a pooled connection must not be
        // given back once a cancel request is on its way).
        let Ok(mut running) = self.running.lock() else { return };
        if let Some(cancel) = running.remove(&partition) {
            cancel();
        }
    }

    /// Moves the staged rows into the target per mode and records `record`, in one transaction
    /// (MySQL commits each DDL statement on its own; its statements are ordered so that the rows
    /// and the ledger row still commit together).
    fn publish(&self, record: &LedgerRow) -> Result<()> {
        let (b, t) = (&self.backend, &self.target);
        let mut s = b.open(t)?;
        let existing = s.table_columns(&t.table)?;
        let write = self.write_plan(&mut s)?;
        let mut how = Move::decide(t, existing.as_deref(), B::RENAMES);
        let mut rebuilt = Vec::new();
        if B::RENAMES == Renames::WhenAlike
            && let Some(statements) = b.rename_instead(&mut s, t, how)?
        {
            how = Move::Rename;
            rebuilt = statements;
        }
        let (rows, after_record) = self.publish_sql(how, existing.is_some(), &write, rebuilt)?;
        let created = matches!(how, Move::Carried(_));
        if let Some(sql) = t.carried.as_ref().and_then(|_| b.foreign_keys_off_sql(created)) {
            // Outside the transaction: SQLite ignores the pragma inside one.
            s.execute(sql, Step::Publish)?;
        }
        in_transaction(&mut s, Step::BeginPublishing, Step::CommitPublishing, |s| {
            if let Some(sql) = b.defer_foreign_keys_sql() {
                s.execute(sql, Step::Publish)?;
            }
            s.execute_all(&rows, Step::Publish).map_err(|e| self.upsert_hint(e))?;
            s.execute(&insert_sql(B::DIALECT, &ledger_table(&t.table), record), Step::RecordPublish)?;
            // After the ledger row: MySQL's `ALTER TABLE` commits the rows and the row together.
            if let Some(reset) = t.carried.as_ref().and_then(|c| c.sequence_reset.as_ref()) {
                b.reset_sequence(s, t, reset)?;
            }
            s.execute_all(&after_record, Step::Publish)
        })
    }
}

/// A backend's lock around one partition's write ([`StagedBackend::partition_lock_sql`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionLock {
    None,
    /// Taken first in the write transaction and released by its end (PostgreSQL's
    /// `pg_advisory_xact_lock`).
    Transaction(String),
    /// Taken before the transaction begins and released after it ends (MySQL's `GET_LOCK`, which
    /// the server also releases when the connection ends); `acquire` returns 1 once held.
    Session {
        acquire: String,
        release: String,
    },
}

/// The name of the lock on partition `partition` of `key`'s run and sink, writing `table`:
/// `flow:` and a 64-bit FNV-1a hash in hex, short enough for MySQL's 64-byte lock names.
fn partition_lock_name(table: &TableName, key: &LedgerKey, partition: usize) -> String {
    let text = format!("{table}\u{1f}{}\u{1f}{}\u{1f}{partition}", key.run_id, key.sink);
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("flow:{hash:016x}")
}

impl<B: StagedBackend> StagedSink<B> {
    /// Writes one partition under its lock (see [`PartitionLock`]): when the ledger already
    /// records it for this run, the rows it records are returned and nothing is written.
    fn write_partition_on(
        &self,
        s: &mut B::Session,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        let t = &self.target;
        let lock = self.backend.partition_lock_sql(&partition_lock_name(&t.table, &t.key, partition));
        if let PartitionLock::Session { acquire, .. } = &lock
            && s.query_u64(acquire, Step::LockPartition)? != Some(1)
        {
            let message = format!("partition {partition}: its ledger lock on {} was not granted", t.table);
            return Err(Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion());
        }
        let written = self.write_locked_partition(s, &lock, partition, detail, next, on_rows);
        if let PartitionLock::Session { release, .. } = &lock {
            // Best effort: the server releases it with the connection anyway.
            let _ = s.execute(release, Step::CommitRows);
        }
        written
    }

    fn write_locked_partition(
        &self,
        s: &mut B::Session,
        lock: &PartitionLock,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        let t = &self.target;
        // Read on the writer's own connection: the driver may run apart from `prepare`.
        let write = self.write_plan(s)?;
        in_transaction(s, Step::BeginWriting, Step::CommitRows, |s| {
            if let PartitionLock::Transaction(sql) = lock {
                s.execute(sql, Step::LockPartition)?;
            }
            // The first read of the transaction, after the lock: it sees the other attempt's
            // commit (MySQL's snapshot is taken here, PostgreSQL reads committed).
            let recorded = committed_partition_sql(B::DIALECT, &ledger_table(&t.table), &t.key, partition);
            if let Some(rows) = s.query_u64(&recorded, Step::ReadLedger)? {
                return Ok(rows);
            }
            let mut loader = self.backend.loader(s, t, write)?;
            let mut checksum = RowChecksum::default();
            let (mut seen, mut refused) = (0u64, 0u64);
            while let Some(batch) = next()? {
                let bad = loader.load(s, t, &batch, partition, seen)?;
                seen += batch.num_rows() as u64;
                let (good, rejected) = t.rejects.settle(&batch, &bad, B::DIALECT, &t.key)?;
                if let Some(sql) = rejected {
                    s.execute(&sql, Step::WriteRejects)?;
                }
                refused += (batch.num_rows() - good.num_rows()) as u64;
                checksum.add_batch(&good)?;
                on_rows(good.num_rows() as u64);
            }
            loader.finish(s)?;
            let ledger = ledger_table(&t.table);
            let row = t.key.row(Event::Partition, partition as i64, detail, checksum.rows(), &checksum.hex());
            s.execute(&insert_sql(B::DIALECT, &ledger, &row), Step::RecordPartition)?;
            if refused > 0 {
                let row = t.key.row(Event::Refused, partition as i64, detail, refused, "");
                s.execute(&insert_sql(B::DIALECT, &ledger, &row), Step::RecordPartition)?;
            }
            Ok(checksum.rows())
        })
    }

    /// The statements that move the rows in, and those that follow the ledger row; `rebuilt`:
    /// what follows a rename (see [`StagedBackend::rename_instead`]).
    fn publish_sql(
        &self,
        how: Move,
        exists: bool,
        write: &WritePlan,
        rebuilt: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let (b, t, d) = (&self.backend, &self.target, B::DIALECT);
        let mut rows = Vec::new();
        match how {
            Move::Rename => {
                let (mut rows, after_record) = b.rename_sql(t, exists);
                rows.extend(rebuilt);
                return Ok((rows, after_record));
            }
            Move::Carried(carried) => {
                rows.extend(b.carried_sql(t, carried, exists));
                rows.push(b.insert_sql(t, write, Some(carried)));
                rows.extend(carried.after_load.iter().cloned());
            }
            Move::Create => {
                if exists {
                    rows.push(format!("DROP TABLE {}", d.table(&t.table)));
                }
                rows.push(b.create_table_sql(&t.table, &t.schema, t.keys())?);
                rows.extend(self.insert_rows_sql(write));
            }
            Move::Insert { empty } => {
                if empty {
                    rows.push(b.empty_sql(&t.table));
                }
                rows.extend(self.insert_rows_sql(write));
            }
        }
        rows.extend(b.after_rows_sql(t, write));
        Ok((rows, vec![format!("DROP TABLE {}", d.table(&t.staging))]))
    }

    /// The `INSERT ... SELECT` from staging, an upsert in `mode upsert` that updates every
    /// written column but the keys.
    fn insert_rows_sql(&self, write: &WritePlan) -> Vec<String> {
        let t = &self.target;
        let insert = self.backend.insert_sql(t, write, None);
        let Some(keys) = t.keys() else { return vec![insert] };
        let updates: Vec<String> = (t.schema.fields().iter())
            .filter(|f| !keys.contains(f.name()) && write.writes(&t.schema, f.name()))
            .map(|f| B::DIALECT.ident(f.name()))
            .collect();
        self.backend.upsert_sql(t, insert, keys, &updates)
    }

    /// `e` with what to do about it, when the backend found the upsert's keys match no unique
    /// constraint of the target.
    fn upsert_hint(&self, e: DataFusionError) -> DataFusionError {
        match Failure::find(&e) {
            Some(failure) if failure.code == codes::sink::NO_UPSERT_KEY && self.target.keys().is_some() => failure
                .reworded(format!(
                    "{}; the upsert keys need a PRIMARY KEY or UNIQUE constraint on the target table",
                    failure.message
                ))
                .into_datafusion(),
            _ => e,
        }
    }

    /// What is written into the target as it is now (see `connect::target_columns`): every
    /// column, unless the target exists (and is not replaced) with columns that take no values
    /// from outside. `Err` when the target cannot take this write at all.
    fn write_plan(&self, s: &mut B::Session) -> Result<WritePlan> {
        let t = &self.target;
        if t.mode == WriteMode::Replace || !s.table_exists(&t.table)? {
            return Ok(WritePlan::all(&t.schema));
        }
        let Some(existing) = self.backend.existing_table(s, &t.table)? else {
            return Ok(WritePlan::all(&t.schema));
        };
        WritePlan::decide(&t.table, &target_columns::names(&t.schema), &t.mode, &existing).map_err(|refused| {
            let failure = Failure::new(refused.code(), format!("{}: {refused}", self.backend.name()));
            // One missing column is the failure's column; several are named in the message.
            match &refused {
                WriteRefused::MissingColumns { missing, .. } if missing.len() == 1 => failure.column(&missing[0]),
                _ => failure,
            }
            .into_datafusion()
        })
    }
}

/// Runs `work` in a transaction: committed if it succeeds, rolled back if it fails.
fn in_transaction<S: SqlSession, T>(
    s: &mut S,
    begin: Step,
    commit: Step,
    work: impl FnOnce(&mut S) -> Result<T>,
) -> Result<T> {
    s.begin(begin)?;
    match work(s) {
        Ok(value) => s.commit(commit).map(|()| value),
        Err(e) => {
            s.rollback();
            Err(e)
        }
    }
}
