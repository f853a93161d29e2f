//! A table set of many PostgreSQL tables into one SQLite file, read back from the file: every
//! value arrives exactly, a run that fails in one table publishes nothing and `--resume` writes
//! each remaining partition once; and all the set's sinks (staging, ledger, publish, the foreign
//! key check) share one connection to the file, as `FLOW_LOG_SQL` shows (`sqlite\topen`). The new
//! file is written in WAL mode and is back in DELETE mode after each run.

use std::path::Path;

use crate::common::{PG_TEST_URL, flow_cli_env, pg_exec, pg_rows, postgres_available, temp_dir, write};

const TABLES: usize = 24;
/// The table whose `NaN` fails the first run (SQLite would store it as NULL).
const FAILING: usize = 17;

/// `TABLES` tables in schema `sqlmany_it`: a primary key, a foreign key to the previous table on
/// every third, text, an exact decimal and a float, `3 * i` rows in table `i`; one `NaN`.
fn source() {
    let mut sql = "DROP SCHEMA IF EXISTS sqlmany_it CASCADE; CREATE SCHEMA sqlmany_it;".to_string();
    for i in 1..=TABLES {
        let fk = if i % 3 == 0 { format!(" REFERENCES sqlmany_it.t{:03} (id)", i - 1) } else { String::new() };
        sql.push_str(&format!(
            "CREATE TABLE sqlmany_it.t{i:03} (id bigint PRIMARY KEY, parent bigint{fk}, name text NOT NULL, \
             amount numeric(12,2), weight float8);
             CREATE INDEX ON sqlmany_it.t{i:03} (name);
             INSERT INTO sqlmany_it.t{i:03} SELECT g, CASE WHEN g % 2 = 0 THEN 1 END, 'n ' || g || ' é', \
             CASE WHEN g % 5 = 0 THEN NULL ELSE g * 1.25 - 40 END, g / 4.0 FROM generate_series(1, {}) g;",
            3 * i
        ));
    }
    sql.push_str(&format!("UPDATE sqlmany_it.t{FAILING:03} SET weight = 'NaN' WHERE id = 2;"));
    pg_exec(&sql);
}

/// Table `i`'s rows in PostgreSQL as text.
fn expected(i: usize) -> Vec<Vec<String>> {
    pg_rows(&format!(
        "SELECT id::text, parent::text, name, amount::text, weight::text FROM sqlmany_it.t{i:03} ORDER BY id"
    ))
}

/// Table `i`'s rows in the SQLite file as text (`NULL` for NULL), each value of the
/// storage class Flow writes: integers, text, exact decimal text, a real.
fn sqlite_rows(db: &Path, i: usize) -> Vec<Vec<String>> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open(db).unwrap();
    let sql = format!("SELECT id, parent, name, amount, weight FROM t{i:03} ORDER BY id");
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| {
        let classes = ["integer", "integer", "text", "text", "real"];
        (0..5)
            .map(|c| {
                Ok(match (r.get_ref(c)?, classes[c]) {
                    (ValueRef::Null, _) => "NULL".to_string(),
                    (ValueRef::Integer(v), "integer") => v.to_string(),
                    (ValueRef::Text(t), "text") => String::from_utf8(t.to_vec()).unwrap(),
                    (ValueRef::Real(v), "real") => v.to_string(),
                    (other, want) => panic!("table t{i:03} column {c}: {other:?}, not {want}"),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The file's journal mode as another connection finds it, and whether a `-wal` file or Flow's
/// WAL marker (`.flow-wal`) is left beside it.
fn journal(db: &Path) -> (String, bool, bool) {
    let mode = rusqlite::Connection::open(db).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    let beside = |suffix: &str| Path::new(&format!("{}{suffix}", db.display())).exists();
    (mode, beside("-wal"), beside(".flow-wal"))
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Runs `flow ARGS` with `FLOW_LOG_SQL`; returns its exit code, stderr, and how many connections
/// the SQLite sinks opened.
fn run(args: &[&str]) -> (i32, String, usize) {
    let dir = temp_dir();
    let log = dir.path().join("sql.log");
    let (code, out, err) = flow_cli_env(args, &[("FLOW_LOG_SQL", log.to_str().unwrap())]);
    let opened =
        std::fs::read_to_string(&log).unwrap_or_default().lines().filter(|l| l.starts_with("sqlite\topen\t")).count();
    (code, format!("{out}\n{err}"), opened)
}

#[test]
fn a_set_of_many_tables_into_sqlite_is_exact_resumable_and_shares_one_connection() {
    if !postgres_available() {
        return;
    }
    source();
    let dir = temp_dir();
    let db = dir.path().join("many.db");
    let file = write(
        dir.path(),
        "many.flow",
        &format!(
            "let src = postgres(\"{PG_TEST_URL}\")\nlet dst = sqlite(\"{}\")\npipeline many {{\n  parallelism 2\n  \
             source app = src.tables(\"sqlmany_it.*\")\n  sink app -> dst.schema() {{ mode replace }}\n}}\n",
            db.display()
        ),
    );
    let targets = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name GLOB 't[0-9][0-9][0-9]'";
    let staged = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE '%stage%'";
    let partitions = "SELECT count(*) FROM _flow_ledger WHERE event = 'partition'";

    // The NaN fails its table's partition: nothing is published, what committed stays staged.
    let (code, err, opened) = run(&["run", "-q", &file]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("NaN"), "{err}");
    assert_eq!(opened, 1, "one connection to the file for every sink of the set");
    assert_eq!(count(&db, targets), 0, "nothing published");
    let committed = count(&db, partitions);
    assert!((1..TABLES as i64).contains(&committed), "{committed} partitions committed before the failure");
    // One partition a table: a table counts as fully staged only when its partition committed
    // (the failed one never; one whose commit raced the failure may be left uncounted).
    let staged_line = format!("tables: 0 of {TABLES} published (");
    let said: i64 = err
        .lines()
        .find_map(|l| l.strip_prefix(&staged_line)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tables line: {err}"));
    assert!(said <= committed, "{said} tables said fully staged, {committed} partitions committed: {err}");
    assert_eq!(count(&db, staged), TABLES as i64, "every table staged");
    // The new file was written in WAL mode and set back when the run ended, failed as it did.
    assert_eq!(journal(&db), ("delete".to_string(), false, false));

    // As a run killed outright leaves it: in WAL mode, with Flow's marker (the resume sets it back).
    rusqlite::Connection::open(&db).unwrap().execute_batch("PRAGMA journal_mode = WAL").unwrap();
    std::fs::write(format!("{}.flow-wal", db.display()), "").unwrap();
    assert_eq!(journal(&db), ("wal".to_string(), false, true));

    // Resumed once the value is a number: each table's partition is written once, all published.
    pg_exec(&format!("UPDATE sqlmany_it.t{FAILING:03} SET weight = 0.5 WHERE id = 2"));
    let (code, err, opened) = run(&["run", "-q", "--resume", &file]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(opened, 1, "one connection to the file for every sink of the set");
    assert_eq!(count(&db, targets), TABLES as i64);
    assert_eq!(count(&db, staged), 0, "no staging table left");
    for i in 1..=TABLES {
        // Compared as sorted lists: `pg_rows` orders rows by their text.
        let (mut want, mut got) = (expected(i), sqlite_rows(&db, i));
        want.sort();
        got.sort();
        assert_eq!(want.len(), 3 * i);
        assert_eq!(got, want, "table t{i:03}");
    }
    assert_eq!(count(&db, partitions), TABLES as i64, "each table's one partition recorded once");
    assert_eq!(count(&db, "SELECT count(DISTINCT sink) FROM _flow_ledger WHERE event = 'publish'"), TABLES as i64);
    assert_eq!(count(&db, "SELECT count(*) FROM pragma_foreign_key_list('t003')"), 1, "keys carried");
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"), 24);
    assert_eq!(journal(&db), ("delete".to_string(), false, false));
}

/// A table set's tables publish in groups of commits (`connect::sqlite::shared::Group`): when
/// one table's publish fails in the middle of a group (its target name is taken by a view, which
/// `DROP TABLE` refuses), the tables that did publish are committed whole, as separate commits
/// would have left them, it is not, and `--resume` publishes the rest, each table's partition
/// written once.
#[test]
fn a_publish_failing_in_the_middle_of_a_group_keeps_the_tables_before_it_and_resumes_exactly() {
    if !postgres_available() {
        return;
    }
    let mut sql = "DROP SCHEMA IF EXISTS sqlset_it CASCADE; CREATE SCHEMA sqlset_it;".to_string();
    for i in 1..=8 {
        sql.push_str(&format!(
            "CREATE TABLE sqlset_it.t{i:03} (id bigint PRIMARY KEY, name text NOT NULL);
             INSERT INTO sqlset_it.t{i:03} SELECT g, 'n ' || g FROM generate_series(1, {}) g;",
            10 * i
        ));
    }
    pg_exec(&format!("{sql} ANALYZE;"));
    let dir = temp_dir();
    let db = dir.path().join("group.db");
    rusqlite::Connection::open(&db).unwrap().execute_batch("CREATE VIEW t005 AS SELECT 1 AS x").unwrap();
    let file = write(
        dir.path(),
        "group.flow",
        &format!(
            "let src = postgres(\"{PG_TEST_URL}\")\nlet dst = sqlite(\"{}\")\npipeline grouped {{\n  \
             source app = src.tables(\"sqlset_it.*\")\n  sink app -> dst.schema() {{ mode replace }}\n}}\n",
            db.display()
        ),
    );
    let published = |db: &Path| {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut stmt =
            conn.prepare("SELECT substr(sink, -4) FROM _flow_ledger WHERE event = 'publish' ORDER BY sink").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect::<Vec<_>>()
    };
    let (code, err, _) = run(&["run", "-q", &file]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("DROP VIEW"), "{err}");
    // The tables that did publish are committed whole; t005 is not, and no other table is
    // there without its `publish` row.
    let before = published(&db);
    assert!(!before.contains(&"t005".to_string()), "{before:?}");
    for i in (1..=8).filter(|i| *i != 5) {
        let there =
            count(&db, &format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 't{i:03}'"));
        assert_eq!(there == 1, before.contains(&format!("t{i:03}")), "t{i:03}: {before:?}");
        if there == 1 {
            assert_eq!(count(&db, &format!("SELECT count(*) FROM t{i:03}")), 10 * i as i64);
        }
    }

    rusqlite::Connection::open(&db).unwrap().execute_batch("DROP VIEW t005").unwrap();
    let (code, err, _) = run(&["run", "-q", "--resume", &file]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(published(&db).len(), 8);
    for i in 1..=8 {
        assert_eq!(count(&db, &format!("SELECT count(*) FROM t{i:03}")), 10 * i as i64, "t{i:03}");
    }
    assert_eq!(count(&db, "SELECT count(*) FROM _flow_ledger WHERE event = 'partition'"), 8, "each partition once");
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%stage%'"), 0);
}
