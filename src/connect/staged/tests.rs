//! The protocol on SQLite (a temporary database file): fresh runs, `create never`, resumes whose
//! staging table matches the ledger or not, cleanup of abandoned runs, refused rows, and
//! publishing per mode, each checked by reading the tables back.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use rusqlite::Connection;

use super::*;
use crate::connect::sqlite::sink::SqliteBackend;
use crate::ledger::runs_of;
use crate::plan::OnError;

struct Db {
    _dir: tempfile::TempDir,
    path: String,
}

impl Db {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db").display().to_string();
        Self { _dir: dir, path }
    }

    fn run(&self, sql: &str) {
        Connection::open(&self.path).unwrap().execute_batch(sql).unwrap();
    }

    /// `(id, name)` rows of `table`, by id.
    fn rows(&self, table: &str) -> Vec<(i64, Option<String>)> {
        let conn = Connection::open(&self.path).unwrap();
        let mut stmt = conn.prepare(&format!("SELECT id, name FROM \"{table}\" ORDER BY id")).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    fn count(&self, sql: &str) -> i64 {
        Connection::open(&self.path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn has_table(&self, table: &TableName) -> bool {
        self.count(&format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'", table.table()))
            > 0
    }

    fn sink(&self, run: &str, mode: WriteMode) -> StagedSink<SqliteBackend> {
        self.sink_with(run, mode, true, OnError::Fail, schema())
    }

    fn sink_with(
        &self,
        run: &str,
        mode: WriteMode,
        create: bool,
        on_error: OnError,
        schema: SchemaRef,
    ) -> StagedSink<SqliteBackend> {
        let target = StagedTarget::new(
            TableName::parse("t"),
            mode,
            create,
            schema,
            key(run),
            RejectPolicy::new("s", on_error, None),
            None,
        );
        StagedSink::new(SqliteBackend::new(&self.path), target)
    }
}

fn key(run: &str) -> LedgerKey {
    LedgerKey { run_id: run.into(), pipeline: "p".into(), sink: "s".into() }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]))
}

fn batch(ids: &[i64], names: &[&str]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(names.to_vec())) as ArrayRef,
        ],
    )
    .unwrap()
}

fn fresh(run: &str) -> Preparation {
    Preparation {
        start: key(run).row(Event::Start, -1, "{}", 2, ""),
        resume_rows: None,
        abandon: Vec::new(),
        last_published: None,
    }
}

fn resume(run: &str, rows: u64) -> Preparation {
    Preparation { resume_rows: Some(rows), ..fresh(run) }
}

fn write(sink: &StagedSink<SqliteBackend>, partition: usize, batches: Vec<RecordBatch>) -> Result<u64> {
    let mut batches = batches.into_iter();
    sink.write_partition(partition, "all", &mut || Ok(batches.next()), &|_| {})
}

fn publish(sink: &StagedSink<SqliteBackend>) -> Result<()> {
    sink.publish(&sink.target.key.row(Event::Publish, -1, "", 0, ""))
}

fn events(sink: &StagedSink<SqliteBackend>) -> Vec<(String, &'static str, i64)> {
    sink.read_ledger().unwrap().into_iter().map(|r| (r.run_id, r.event.as_str(), r.part)).collect()
}

fn named(rows: &[(i64, &str)]) -> Vec<(i64, Option<String>)> {
    rows.iter().map(|(id, name)| (*id, Some(name.to_string()))).collect()
}

#[test]
fn a_fresh_run_stages_its_partitions_then_publishes_them_with_the_ledger() {
    let db = Db::new();
    let sink = db.sink("r1", WriteMode::Append);
    assert_eq!(sink.read_ledger().unwrap(), Vec::new(), "no database yet, no ledger");
    assert!(!std::path::Path::new(&db.path).exists(), "reading the ledger creates nothing");
    assert!(sink.prepare(&fresh("r1")).unwrap());
    assert_eq!(write(&sink, 0, vec![batch(&[1, 2], &["a", "b"])]).unwrap(), 2);
    assert_eq!(write(&sink, 1, vec![batch(&[3], &["c"]), batch(&[4], &["d"])]).unwrap(), 2);
    assert!(!db.has_table(&sink.target.table), "nothing reaches the target before publishing");
    assert_eq!(db.rows(sink.target.staging.table()).len(), 4);
    publish(&sink).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "b"), (3, "c"), (4, "d")]));
    assert!(!db.has_table(&sink.target.staging), "the staging table goes with the publish");
    let ledger = sink.read_ledger().unwrap();
    assert_eq!(
        events(&sink),
        [
            ("r1".into(), "start", -1),
            ("r1".into(), "partition", 0),
            ("r1".into(), "partition", 1),
            ("r1".into(), "publish", -1)
        ]
    );
    let runs = runs_of(&ledger, "s");
    assert_eq!(runs[0].1.committed_rows(), 4);
    assert!(runs[0].1.published);
}

#[test]
fn create_never_refuses_a_missing_table_before_creating_anything() {
    let db = Db::new();
    let sink = db.sink_with("r1", WriteMode::Append, false, OnError::Fail, schema());
    let e = sink.prepare(&fresh("r1")).unwrap_err().to_string();
    assert!(e.contains(&format!("table t does not exist in {} and the sink says `create never`", db.path)), "{e}");
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master"), 0, "no ledger, no staging table");
    // With the table there, the same sink writes into it.
    db.run("CREATE TABLE t (id INTEGER, name TEXT)");
    assert!(sink.prepare(&fresh("r1")).unwrap());
    write(&sink, 0, vec![batch(&[1], &["a"])]).unwrap();
    publish(&sink).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a")]));
}

/// Run `r1` of an append into `t` that committed partition 0 (2 rows) and stopped.
fn stopped_run(db: &Db) -> StagedSink<SqliteBackend> {
    let sink = db.sink("r1", WriteMode::Append);
    sink.prepare(&fresh("r1")).unwrap();
    write(&sink, 0, vec![batch(&[1, 2], &["a", "b"])]).unwrap();
    sink
}

#[test]
fn a_resume_keeps_a_staging_table_that_holds_what_the_ledger_says() {
    let db = Db::new();
    stopped_run(&db);
    // `--resume` continues the run with a new sink of the same run.
    let again = db.sink("r1", WriteMode::Append);
    assert!(again.prepare(&resume("r1", 2)).unwrap(), "the staging table matches the ledger");
    assert_eq!(db.rows(again.target.staging.table()).len(), 2, "partition 0 is kept");
    write(&again, 1, vec![batch(&[3], &["c"])]).unwrap();
    publish(&again).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "b"), (3, "c")]));
    let starts = events(&again).iter().filter(|e| e.1 == "start").count();
    assert_eq!(starts, 1, "a resume records no second start");
}

#[test]
fn a_resume_starts_the_sink_over_when_its_staging_table_changed() {
    let db = Db::new();
    let staging = stopped_run(&db).target.staging.table().to_string();
    db.run(&format!("DELETE FROM \"{staging}\" WHERE id = 2"));
    let again = db.sink("r1", WriteMode::Append);
    assert!(!again.prepare(&resume("r1", 2)).unwrap(), "1 row staged, the ledger says 2");
    assert_eq!(db.rows(&staging), Vec::new(), "the staging table starts empty");
    assert_eq!(events(&again), [("r1".into(), "start", -1)], "the run's partitions are forgotten");
    // A staging table that is gone altogether: the same.
    db.run(&format!("DROP TABLE \"{staging}\""));
    assert!(!again.prepare(&resume("r1", 0)).unwrap());
    assert!(db.has_table(&again.target.staging));
    write(&again, 0, vec![batch(&[1, 2], &["a", "b"])]).unwrap();
    publish(&again).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "b")]));
}

#[test]
fn a_fresh_run_abandons_unfinished_runs_and_drops_their_work_tables() {
    let db = Db::new();
    let old = db.sink("r1", WriteMode::Append);
    old.prepare(&fresh("r1")).unwrap();
    write(&old, 0, vec![batch(&[9], &["old"])]).unwrap();
    let published = db.sink("r0", WriteMode::Append);
    // A published run whose staging table survived a crash after its commit.
    db.run(&format!("CREATE TABLE \"{}\" (id INTEGER)", published.target.staging.table()));
    let new = db.sink("r2", WriteMode::Append);
    let prep = Preparation { abandon: vec!["r1".into()], last_published: Some("r0".into()), ..fresh("r2") };
    assert!(new.prepare(&prep).unwrap());
    assert!(!db.has_table(&old.target.staging), "the abandoned run's rows are dropped");
    assert!(!db.has_table(&published.target.staging));
    write(&new, 0, vec![batch(&[1], &["a"])]).unwrap();
    publish(&new).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a")]), "nothing of the abandoned run is published");
    let runs = runs_of(&new.read_ledger().unwrap(), "s");
    let r1 = runs.iter().find(|(id, _)| id == "r1").map(|(_, s)| s).unwrap();
    assert!(r1.abandoned && !r1.published);
}

#[test]
fn a_failed_partition_leaves_no_rows_and_no_ledger_row() {
    let db = Db::new();
    let sink = db.sink("r1", WriteMode::Append);
    sink.prepare(&fresh("r1")).unwrap();
    let mut batches =
        vec![Ok(Some(batch(&[1], &["a"]))), Err(DataFusionError::Execution("cut off".into()))].into_iter();
    let e = sink.write_partition(0, "all", &mut || batches.next().unwrap_or(Ok(None)), &|_| {}).unwrap_err();
    assert!(e.to_string().contains("cut off"), "{e}");
    assert_eq!(db.rows(sink.target.staging.table()), Vec::new());
    assert_eq!(events(&sink), [("r1".into(), "start", -1)]);
}

#[test]
fn refused_rows_go_to_the_reject_table_with_the_partition() {
    let db = Db::new();
    let wide = Arc::new(Schema::new(vec![Field::new("id", DataType::UInt64, false)]));
    let on_error = OnError::Reject { table: TableName::parse("rejects") };
    let sink = db.sink_with("r1", WriteMode::Append, true, on_error, wide.clone());
    sink.prepare(&fresh("r1")).unwrap();
    let ids = RecordBatch::try_new(wide, vec![Arc::new(UInt64Array::from(vec![1, u64::MAX, 3])) as ArrayRef]).unwrap();
    assert_eq!(write(&sink, 0, vec![ids]).unwrap(), 2);
    assert_eq!(sink.refused(), 1);
    publish(&sink).unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM t"), 2);
    assert_eq!(db.count("SELECT row_no FROM rejects WHERE column_name = 'id' AND part = 0"), 2);
    // `on error fail` (the default) fails the partition instead.
    let strict = db.sink_with("r2", WriteMode::Append, true, OnError::Fail, sink.target.schema.clone());
    strict.prepare(&fresh("r2")).unwrap();
    let max = Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef;
    let ids = RecordBatch::try_new(strict.target.schema.clone(), vec![max]).unwrap();
    let e = write(&strict, 0, vec![ids]).unwrap_err().to_string();
    assert!(e.contains("cannot write row 1, column id = 18446744073709551615"), "{e}");
}

/// Rows go in many to an `INSERT`: a run holding a value that does not convert, or a row SQLite
/// refuses (a key twice, into the keyed staging table of an upsert that creates its target), is
/// written again row by row, so that only that row is refused and every other row lands once.
#[test]
fn a_refused_row_among_many_is_the_only_row_refused() {
    let db = Db::new();
    let wide = Arc::new(Schema::new(vec![Field::new("id", DataType::UInt64, false)]));
    let on_error = || OnError::Reject { table: TableName::parse("rejects") };
    let sink = db.sink_with("r1", WriteMode::Append, true, on_error(), wide.clone());
    sink.prepare(&fresh("r1")).unwrap();
    let mut ids: Vec<u64> = (1..=300).collect();
    ids[69] = u64::MAX;
    ids[250] = u64::MAX;
    let ids = RecordBatch::try_new(wide, vec![Arc::new(UInt64Array::from(ids)) as ArrayRef]).unwrap();
    assert_eq!(write(&sink, 0, vec![ids]).unwrap(), 298);
    publish(&sink).unwrap();
    assert_eq!(db.count("SELECT COUNT(*) FROM t"), 298);
    assert_eq!(db.count("SELECT COUNT(DISTINCT id) FROM t WHERE id NOT IN (70, 251)"), 298);
    let conn = Connection::open(&db.path).unwrap();
    let refused: String = conn
        .query_row("SELECT group_concat(row_no, ',') FROM (SELECT row_no FROM rejects ORDER BY row_no)", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(refused, "70,251");
    // A key twice, refused by the staging table's `UNIQUE`.
    let upsert = WriteMode::upsert(vec!["id".into()]);
    db.run("DROP TABLE t");
    let keyed = db.sink_with("r2", upsert, true, on_error(), schema());
    keyed.prepare(&fresh("r2")).unwrap();
    let ids: Vec<i64> = (1..=200).map(|i| if i == 150 { 20 } else { i }).collect();
    let names: Vec<&str> = ids.iter().map(|_| "n").collect();
    assert_eq!(write(&keyed, 0, vec![batch(&ids, &names)]).unwrap(), 199);
    let refused: String = conn
        .query_row("SELECT max(row_no) || ':' || max(message) FROM rejects WHERE part = 0 AND run_id = 'r2'", [], |r| {
            r.get(0)
        })
        .unwrap_or_default();
    assert!(refused.starts_with("150:"), "{refused}");
}

#[test]
fn a_kept_target_must_have_every_column_and_take_the_values_unchanged() {
    let db = Db::new();
    db.run("CREATE TABLE t (id INTEGER)");
    let e = db.sink("r1", WriteMode::Append).prepare(&fresh("r1")).unwrap_err().to_string();
    assert!(
        e.contains(
            "t has no column `name` (its columns: `id`); add it to the table, rename or drop it in a transform, or use \
             mode replace"
        ),
        "{e}"
    );
    db.run("DROP TABLE t; CREATE TABLE t (id INTEGER, name INTEGER)");
    let e = db.sink("r1", WriteMode::Append).prepare(&fresh("r1")).unwrap_err().to_string();
    assert!(e.contains("column `name` of the existing table t in"), "{e}");
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE name <> 't'"), 0, "refused before anything");
}

/// Runs one whole fresh run of `rows` into `t` in `mode`.
fn run(db: &Db, run: &str, mode: WriteMode, rows: &[(i64, &str)]) -> Result<()> {
    let sink = db.sink(run, mode);
    sink.prepare(&fresh(run))?;
    let (ids, names): (Vec<i64>, Vec<&str>) = rows.iter().copied().unzip();
    write(&sink, 0, vec![batch(&ids, &names)])?;
    publish(&sink)
}

#[test]
fn publishing_appends_truncates_and_replaces() {
    let db = Db::new();
    run(&db, "r1", WriteMode::Append, &[(1, "a")]).unwrap();
    run(&db, "r2", WriteMode::Append, &[(2, "b")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "b")]));
    run(&db, "r3", WriteMode::Truncate, &[(3, "c")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(3, "c")]));
    // Same columns: the table is kept (its index too), its rows replaced.
    db.run("CREATE INDEX t_name ON t (name)");
    run(&db, "r4", WriteMode::Replace, &[(4, "d")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(4, "d")]));
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 't_name'"), 1);
    // Other columns: the table is created again with the pipeline's.
    db.run("DROP TABLE t; CREATE TABLE t (id INTEGER, extra TEXT)");
    run(&db, "r5", WriteMode::Replace, &[(5, "e")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(5, "e")]));
    assert_eq!(db.count("SELECT COUNT(*) FROM pragma_table_info('t') WHERE name = 'extra'"), 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'"), 0);
}

/// The root page of `t`: a new table has a new one, a kept table keeps its own.
fn root_page(db: &Db) -> i64 {
    db.count("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 't'")
}

/// `(name, declared type, not null)` of `t`'s columns.
fn declared(db: &Db) -> Vec<(String, String, i64)> {
    let conn = Connection::open(&db.path).unwrap();
    let mut stmt = conn.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info('t') ORDER BY cid").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
}

/// A table the run creates, and the target of `mode replace` defined as the staging table is,
/// are the staging table renamed into place (a new root page): the rows are written once. The
/// target's indexes are made again, and a view on it reads the new rows. A target defined
/// otherwise, or with a trigger, is kept and filled (its root page stays).
#[test]
fn replace_renames_the_staging_table_into_place_when_the_target_is_alike() {
    let db = Db::new();
    run(&db, "r1", WriteMode::Replace, &[(1, "a")]).unwrap();
    let flows = vec![("id".to_string(), "INTEGER".to_string(), 1), ("name".to_string(), "TEXT".to_string(), 0)];
    assert_eq!(declared(&db), flows);
    db.run("CREATE INDEX t_name ON t (name); CREATE VIEW v AS SELECT name FROM t");
    let before = root_page(&db);
    run(&db, "r2", WriteMode::Replace, &[(2, "b"), (3, "c")]).unwrap();
    assert_ne!(root_page(&db), before, "renamed into place");
    assert_eq!(db.rows("t"), named(&[(2, "b"), (3, "c")]));
    assert_eq!(declared(&db), flows);
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 't_name'"), 1);
    assert_eq!(db.count("SELECT COUNT(*) FROM v WHERE name IN ('b', 'c')"), 2, "the view reads the new table");
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'"), 0);
    let published = db.count("SELECT COUNT(*) FROM _flow_ledger WHERE run_id = 'r2' AND event = 'publish'");
    assert_eq!(published, 1);
    // A trigger on the target: it is kept and sees the rows come in.
    db.run("CREATE TABLE seen (name TEXT); CREATE TRIGGER t_seen AFTER INSERT ON t BEGIN INSERT INTO seen VALUES (new.name); END");
    let before = root_page(&db);
    run(&db, "r3", WriteMode::Replace, &[(4, "d")]).unwrap();
    assert_eq!(root_page(&db), before, "kept");
    assert_eq!(db.rows("t"), named(&[(4, "d")]));
    assert_eq!(db.count("SELECT COUNT(*) FROM seen WHERE name = 'd'"), 1);
    // Referenced by another table's foreign key: kept.
    db.run(
        "DROP TRIGGER t_seen; CREATE UNIQUE INDEX t_id ON t (id); CREATE TABLE child (t_id INTEGER REFERENCES t (id))",
    );
    run(&db, "r4", WriteMode::Replace, &[(5, "e")]).unwrap();
    assert_eq!(root_page(&db), before, "kept");
    // Defined otherwise (a primary key) with the same columns: kept, with its key.
    db.run("DROP TABLE child; DROP VIEW v; DROP TABLE t; CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)");
    let before = root_page(&db);
    run(&db, "r5", WriteMode::Replace, &[(6, "f")]).unwrap();
    assert_eq!(root_page(&db), before, "kept");
    assert_eq!(db.rows("t"), named(&[(6, "f")]));
    assert_eq!(db.count("SELECT COUNT(*) FROM pragma_table_info('t') WHERE pk > 0"), 1);
    // Truncate always keeps the table.
    run(&db, "r6", WriteMode::Truncate, &[(7, "g")]).unwrap();
    assert_eq!(root_page(&db), before, "kept");
    assert_eq!(db.rows("t"), named(&[(7, "g")]));
}

/// A run that stops before publishing leaves a renamed-into-place target as it was, and its
/// staging table beside it, never in its place.
#[test]
fn a_run_stopped_before_publishing_leaves_the_target_as_it_was() {
    let db = Db::new();
    run(&db, "r1", WriteMode::Replace, &[(1, "a")]).unwrap();
    let before = root_page(&db);
    let sink = db.sink("r2", WriteMode::Replace);
    sink.prepare(&fresh("r2")).unwrap();
    write(&sink, 0, vec![batch(&[2], &["b"])]).unwrap();
    assert!(write(&sink, 1, vec![batch(&[3], &["c"]), batch(&[-1], &["x"])]).is_ok());
    drop(sink);
    assert_eq!(db.rows("t"), named(&[(1, "a")]));
    assert_eq!(root_page(&db), before);
    let staged = db.count("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'");
    assert_eq!(staged, 1, "the staging table waits beside the target");
    // Resumed, the run publishes exactly what it staged, once.
    let again = db.sink("r2", WriteMode::Replace);
    assert!(again.prepare(&resume("r2", 3)).unwrap());
    write(&again, 2, vec![batch(&[4], &["d"])]).unwrap();
    publish(&again).unwrap();
    assert_eq!(db.rows("t"), named(&[(-1, "x"), (2, "b"), (3, "c"), (4, "d")]));
    assert_ne!(root_page(&db), before);
}

#[test]
fn publishing_upserts_on_the_keys() {
    let db = Db::new();
    let upsert = || WriteMode::upsert(vec!["id".into()]);
    // A missing target is created with the key: the staging table, keyed so, renamed into place.
    run(&db, "r1", upsert(), &[(1, "a"), (2, "b")]).unwrap();
    let unique = "SELECT COUNT(*) FROM pragma_index_list('t') WHERE \"unique\" = 1";
    assert_eq!(db.count(unique), 1);
    let before = root_page(&db);
    run(&db, "r2", upsert(), &[(2, "B"), (3, "c")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "B"), (3, "c")]));
    assert_eq!(root_page(&db), before, "an existing target is upserted into");
    // Keys without a unique constraint: the database's refusal, and what to do.
    db.run("DROP TABLE t; CREATE TABLE t (id INTEGER, name TEXT)");
    let e = run(&db, "r3", upsert(), &[(1, "x")]).unwrap_err();
    let code = crate::diagnostics::Failure::find(&e).map(|f| f.code);
    assert_eq!(code, Some(crate::diagnostics::codes::sink::NO_UPSERT_KEY));
    let e = e.to_string();
    assert!(e.contains("SQLite: publishing into t: ON CONFLICT clause does not match"), "{e}");
    assert!(e.contains("the upsert keys need a PRIMARY KEY or UNIQUE constraint on the target table"), "{e}");
    assert_eq!(db.rows("t"), Vec::new(), "the failed publish changed nothing");
}

#[test]
fn a_table_of_a_set_is_created_from_its_source_and_published_before_the_table_it_references() {
    let db = Db::new();
    let carried = CarriedTable {
        source: "app.t".into(),
        create_types: Vec::new(),
        create: vec![
            "CREATE TABLE \"t\" (\"id\" INTEGER PRIMARY KEY, \"name\" TEXT REFERENCES \"parent\" (\"name\"))".into(),
        ],
        after_load: vec!["CREATE INDEX \"t_name\" ON \"t\" (\"name\")".into()],
        sequence_reset: None,
        column_types: Vec::new(),
        warnings: Vec::new(),
    };
    let set_run = |run: &str, mode: WriteMode, rows: &[(i64, &str)]| -> Result<()> {
        let rejects = RejectPolicy::new("s", OnError::Fail, None);
        let target =
            StagedTarget::new(TableName::parse("t"), mode, true, schema(), key(run), rejects, Some(carried.clone()));
        let sink = StagedSink::new(SqliteBackend::new(&db.path), target);
        sink.prepare(&fresh(run))?;
        let (ids, names): (Vec<i64>, Vec<&str>) = rows.iter().copied().unzip();
        write(&sink, 0, vec![batch(&ids, &names)])?;
        publish(&sink)
    };
    // `parent` does not exist yet: its table is published later, and the keys checked then.
    set_run("r1", WriteMode::Replace, &[(1, "a")]).unwrap();
    set_run("r2", WriteMode::Append, &[(2, "b")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(1, "a"), (2, "b")]));
    let definition = "SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%REFERENCES \"parent\"%'";
    assert_eq!(db.count(definition), 1, "the source's definition, not one from the schema");
    assert_eq!(db.count("SELECT COUNT(*) FROM sqlite_master WHERE name = 't_name'"), 1);
    // `replace` creates it again from the definition.
    set_run("r3", WriteMode::Replace, &[(3, "c")]).unwrap();
    assert_eq!(db.rows("t"), named(&[(3, "c")]));
    assert_eq!(db.count("SELECT COUNT(*) FROM pragma_table_info('t') WHERE pk > 0"), 1);
}

#[test]
fn each_backend_moves_its_staged_rows_as_its_renames_allow() {
    let target = |mode: WriteMode| {
        let rejects = RejectPolicy::new("s", OnError::Fail, None);
        StagedTarget::new(TableName::parse("t"), mode, true, schema(), key("r"), rejects, None)
    };
    let same = &["id".to_string(), "name".to_string()][..];
    let other = &["id".to_string()][..];
    let append = target(WriteMode::Append);
    let replace = target(WriteMode::Replace);
    let truncate = target(WriteMode::Truncate);
    use Renames::{Never, ToReplace, ToReplaceAndCreate, WhenAlike};
    let cases: &[(&StagedTarget, Option<&[String]>, Renames, Move)] = &[
        (&append, None, Never, Move::Create),
        (&append, None, ToReplace, Move::Create),
        (&append, None, ToReplaceAndCreate, Move::Rename),
        (&append, Some(same), ToReplaceAndCreate, Move::Insert { empty: false }),
        (&replace, None, ToReplace, Move::Rename),
        (&replace, Some(same), ToReplace, Move::Rename),
        (&replace, Some(same), Never, Move::Insert { empty: true }),
        (&replace, Some(other), Never, Move::Create),
        (&truncate, Some(same), ToReplace, Move::Insert { empty: true }),
        // The backend decides on renaming these (`rename_instead`).
        (&append, None, WhenAlike, Move::Create),
        (&replace, Some(same), WhenAlike, Move::Insert { empty: true }),
        (&replace, Some(other), WhenAlike, Move::Create),
    ];
    for (target, existing, renames, expected) in cases {
        assert_eq!(Move::decide(target, *existing, *renames), *expected, "{:?} {existing:?} {renames:?}", target.mode);
    }
}
