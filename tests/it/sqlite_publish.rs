//! PostgreSQL → SQLite, read back from the real file: every write mode keeps every value and
//! Flow's declared column types, whether publishing renames the staging table into place (a
//! table the run creates; `mode replace` of a table defined as Flow defines it, its indexes made
//! again) or inserts the staged rows (a kept table); a run that fails before publishing leaves
//! the previous target as it was, and `--resume` after its failed partition writes what is left,
//! once.

use std::path::Path;

use crate::common::{PG_TEST_URL, flow_cli, pg_exec, pg_rows, postgres_available, temp_dir};

/// The source `public.{name}`: 2,000 rows of the benchmark's orders columns and a zoned
/// timestamp, NULLs in every nullable column, negative and fractional values; and the view
/// `public.{name}_flaky` of it, which fails at id 1900 while `public.{name}_fail` says so.
fn create_source(name: &str) {
    pg_exec(&format!(
        "DROP VIEW IF EXISTS public.{name}_flaky;
         DROP TABLE IF EXISTS public.{name}, public.{name}_fail;
         CREATE TABLE public.{name} AS
         SELECT g::bigint AS id,
                (g * 7919 % 100000)::int AS customer_id,
                (ARRAY['new','paid','shipped','delivered','cancelled'])[(g % 5 + 1)::int] AS status,
                CASE WHEN g % 11 = 0 THEN NULL ELSE ((g * 37 % 100000) / 100.0 - 300)::numeric(12,2) END AS total,
                timestamp '2020-01-01' + g * interval '17 seconds' + (g % 3) * interval '0.123457 seconds' AS created_at,
                CASE WHEN g % 7 = 0 THEN NULL ELSE timestamptz '2021-06-01 12:00:00+00' + g * interval '1 hour' END AS created_tz,
                CASE WHEN g % 13 = 0 THEN NULL ELSE g % 3 = 0 END AS paid,
                CASE WHEN g % 10 < 3 THEN NULL ELSE substr(repeat(md5(g::text), 2), 1, (20 + g % 41)::int) END AS note,
                ((g % 1000) / 7.0)::float8 AS weight,
                CASE WHEN g % 4 = 0 THEN NULL ELSE date '2020-01-01' + (g % 2000)::int END AS ship_date
         FROM generate_series(1, 2000) g;
         ALTER TABLE public.{name} ADD PRIMARY KEY (id);
         CREATE TABLE public.{name}_fail (fail boolean);
         INSERT INTO public.{name}_fail VALUES (false);
         CREATE VIEW public.{name}_flaky AS SELECT * FROM public.{name}
         WHERE CASE WHEN (SELECT fail FROM public.{name}_fail) THEN 1 / (id - 1900) IS NOT NULL ELSE true END;",
    ));
}

const COLUMNS: &str = "id, customer_id, status, total, created_at, created_tz, paid, note, weight, ship_date";

/// The source's rows as Flow writes them into SQLite: text in SQLite's time-value forms,
/// booleans 0/1, numbers as numbers.
fn expected(name: &str) -> Vec<Vec<String>> {
    pg_rows(&format!(
        "SELECT id::text, customer_id::text, status, total::text, created_at::text,
                to_char(created_tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00:00', paid::int::text, note,
                weight::text, ship_date::text
         FROM public.{name} AS s ORDER BY s.id"
    ))
    .into_iter()
    .map(|row| row.into_iter().map(|v| if v == "NULL+00:00" { "NULL".into() } else { v }).collect())
    .collect()
}

/// `table`'s rows, each value as text with its storage class: `7:integer`, `a:text`, `NULL`.
fn sqlite_rows(db: &Path, table: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM \"{table}\" ORDER BY id")).unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |r| {
        (0..width)
            .map(|i| {
                Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Null => "NULL".to_string(),
                    rusqlite::types::Value::Integer(v) => format!("{v}:integer"),
                    rusqlite::types::Value::Real(v) => format!("{v}:real"),
                    rusqlite::types::Value::Text(v) => format!("{v}:text"),
                    rusqlite::types::Value::Blob(v) => format!("{v:?}:blob"),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// The expected rows with the storage class each column's value has in SQLite.
/// `got` equals `want`; else the first row that differs, not 2,000 rows of output.
fn assert_rows(got: &[Vec<String>], want: &[Vec<String>], what: &str) {
    let first = got.iter().zip(want).position(|(g, w)| g != w);
    if let Some(i) = first {
        panic!("{what}: row {i} differs:\n got  {:?}\n want {:?}", got[i], want[i]);
    }
    assert_eq!(got.len(), want.len(), "{what}: rows");
}

fn typed(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    let classes = ["integer", "integer", "text", "text", "text", "text", "integer", "text", "real", "text"];
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .zip(classes)
                .map(|(v, class)| if v == "NULL" { v } else { format!("{v}:{class}") })
                .collect()
        })
        .collect()
}

/// `(name, declared type)` of `table`'s columns, in order.
fn declared(db: &Path, table: &str) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(&format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid")).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn flows_types() -> Vec<(String, String)> {
    [
        ("id", "INTEGER"),
        ("customer_id", "INTEGER"),
        ("status", "TEXT"),
        ("total", "TEXT"),
        ("created_at", "TIMESTAMP"),
        ("created_tz", "TIMESTAMPTZ"),
        ("paid", "BOOLEAN"),
        ("note", "TEXT"),
        ("weight", "REAL"),
        ("ship_date", "DATE"),
    ]
    .iter()
    .map(|(n, t)| (n.to_string(), t.to_string()))
    .collect()
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

fn root_page(db: &Path, table: &str) -> i64 {
    count(db, &format!("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = '{table}'"))
}

/// `flow copy` of `public.sqlite_pub_src` into `db` as table `orders` (SQLite reserves names
/// that begin `sqlite_`), in two partitions.
fn copy(db: &Path, extra: &[&str]) {
    let target = format!("sqlite://{}", db.display());
    let mut args = vec![
        "copy",
        PG_TEST_URL,
        &target,
        "--query",
        "SELECT * FROM public.sqlite_pub_src",
        "--table",
        "orders",
        "--partition-by",
        "id",
        "--partitions",
        "2",
        "-q",
    ];
    args.extend(extra);
    let (code, out, err) = flow_cli(&args);
    assert_eq!(code, 0, "flow {args:?}:\n{out}\n{err}");
}

#[test]
fn every_mode_keeps_values_and_declared_types_renamed_or_inserted() {
    if !postgres_available() {
        return;
    }
    create_source("sqlite_pub_src");
    let dir = temp_dir();
    let want = typed(expected("sqlite_pub_src"));
    assert_eq!(want.len(), 2000);
    let check = |db: &Path, what: &str| {
        assert_eq!(declared(db, "orders"), flows_types(), "{what}");
        assert_rows(&sqlite_rows(db, "orders"), &want, what);
        assert_eq!(count(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'"), 0, "{what}");
    };

    // replace: created (renamed into place), then replaced alike (renamed again, its index made
    // again), then a kept table of another definition (inserted into).
    let db = dir.path().join("replace.db");
    copy(&db, &["--mode", "replace"]);
    check(&db, "replace into a new file");
    rusqlite::Connection::open(&db).unwrap().execute_batch("CREATE INDEX by_customer ON orders (customer_id)").unwrap();
    let before = root_page(&db, "orders");
    copy(&db, &["--mode", "replace"]);
    check(&db, "replace of Flow's table");
    assert_ne!(root_page(&db, "orders"), before, "renamed into place");
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'by_customer'"), 1);
    let plan = "SELECT count(*) FROM sqlite_master WHERE sql LIKE 'CREATE INDEX by_customer ON orders (customer_id)'";
    assert_eq!(count(&db, plan), 1, "the index as it was written");

    // truncate and append keep the table: inserted.
    let before = root_page(&db, "orders");
    copy(&db, &["--mode", "truncate"]);
    check(&db, "truncate");
    assert_eq!(root_page(&db, "orders"), before, "kept");
    let db = dir.path().join("append.db");
    copy(&db, &["--mode", "append"]);
    check(&db, "append into a new file");
    copy(&db, &["--mode", "append"]);
    assert_eq!(count(&db, "SELECT count(*) FROM orders"), 4000, "appended to the kept table");

    // upsert: created with its key (renamed into place), then upserted into.
    let db = dir.path().join("upsert.db");
    copy(&db, &["--mode", "upsert", "--keys", "id"]);
    check(&db, "upsert into a new file");
    assert_eq!(count(&db, "SELECT count(*) FROM pragma_index_list('orders') WHERE \"unique\" = 1"), 1);
    rusqlite::Connection::open(&db).unwrap().execute_batch("UPDATE orders SET status = 'stale'").unwrap();
    copy(&db, &["--mode", "upsert", "--keys", "id"]);
    check(&db, "upsert into the kept table");
}

fn flaky_pipeline(dir: &Path, db: &Path) -> std::path::PathBuf {
    let file = dir.join("flaky.flow");
    std::fs::write(
        &file,
        format!(
            "let pg = postgres(\"{PG_TEST_URL}\")\nlet db = sqlite(\"{}\")\npipeline flaky {{\n  parallelism 1\n  \
             source s = pg.table(\"public.sqlite_pub_resume_flaky\") {{ partition by id into 2 }}\n  \
             sink s -> db.table(\"orders\") {{ mode replace }}\n}}\n",
            db.display()
        ),
    )
    .unwrap();
    file
}

#[test]
fn a_failed_run_leaves_the_target_and_resume_finishes_it_exactly() {
    if !postgres_available() {
        return;
    }
    create_source("sqlite_pub_resume");
    let dir = temp_dir();
    let db = dir.path().join("flaky.db");
    let file = flaky_pipeline(dir.path(), &db);
    let path = file.to_str().unwrap();
    let (code, out, err) = flow_cli(&["run", "-q", path]);
    assert_eq!(code, 0, "{out}\n{err}");
    let want = typed(expected("sqlite_pub_resume"));
    assert_rows(&sqlite_rows(&db, "orders"), &want, "the first run");
    let before = root_page(&db, "orders");

    // The source changes; the next run fails in its second partition, after the first committed.
    pg_exec(
        "UPDATE public.sqlite_pub_resume SET status = 'changed'; UPDATE public.sqlite_pub_resume_fail SET fail = true",
    );
    let (code, _, err) = flow_cli(&["run", "-q", path]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("division by zero"), "{err}");
    assert_rows(&sqlite_rows(&db, "orders"), &want, "the previous target, untouched");
    assert_eq!(declared(&db, "orders"), flows_types());
    assert_eq!(root_page(&db, "orders"), before, "the same table");
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'"), 1, "staged beside it");
    let (_, status, _) = flow_cli(&["status", path]);
    assert!(status.contains("1 of 2 partition(s) committed"), "{status}");

    // Resumed once the source answers again: the second partition is written, and published.
    pg_exec("UPDATE public.sqlite_pub_resume_fail SET fail = false");
    let (code, out, err) = flow_cli(&["run", "-q", "--resume", path]);
    assert_eq!(code, 0, "{out}\n{err}");
    let now = typed(expected("sqlite_pub_resume"));
    assert_rows(&sqlite_rows(&db, "orders"), &now, "every row once, as the source has it now");
    assert_eq!(count(&db, "SELECT count(DISTINCT status) FROM orders"), 1);
    assert_eq!(declared(&db, "orders"), flows_types());
    assert_eq!(count(&db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '_flow_stage%'"), 0);
    let ledger = "SELECT count(*) FROM _flow_ledger WHERE event = 'partition' AND run_id = \
                  (SELECT run_id FROM _flow_ledger WHERE event = 'publish' ORDER BY rowid DESC LIMIT 1)";
    assert_eq!(count(&db, ledger), 2, "each partition recorded once in the resumed run");
}

/// `mode replace` into a SQLite table that another table's foreign key references: the table is
/// kept, emptied and filled in one transaction, and the key is checked when it commits. Before,
/// SQLite checked it at the `DELETE`, and the publish failed whenever a row referenced the
/// table, even when the new rows still held every referenced key. New rows without a referenced
/// key still fail the publish, and leave the target as it was.
#[test]
fn replace_of_a_referenced_sqlite_table_checks_the_key_when_it_commits() {
    let dir = temp_dir();
    let (source, target) = (dir.path().join("src.db"), dir.path().join("dst.db"));
    let src = rusqlite::Connection::open(&source).unwrap();
    src.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO items VALUES (1, 'a'), (5, 'e'), (9, 'i');",
    )
    .unwrap();
    let dst = rusqlite::Connection::open(&target).unwrap();
    dst.execute_batch(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO items VALUES (5, 'old'), (6, 'gone');
         CREATE TABLE child (item_id INTEGER REFERENCES items(id));
         INSERT INTO child VALUES (5);",
    )
    .unwrap();
    drop(dst);
    let file = dir.path().join("p.flow");
    std::fs::write(
        &file,
        format!(
            "let src = sqlite(\"{}\")\nlet dst = sqlite(\"{}\")\npipeline p {{\n  source s = src.table(\"items\")\n  \
             sink s -> dst.table(\"items\") {{ mode replace }}\n}}\n",
            source.display(),
            target.display()
        ),
    )
    .unwrap();
    let items = |db: &Path| -> Vec<(i64, String)> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut statement = conn.prepare("SELECT id, v FROM items ORDER BY id").unwrap();
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let (code, out, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(items(&target), [(1, "a".to_string()), (5, "e".to_string()), (9, "i".to_string())]);
    assert_eq!(count(&target, "SELECT count(*) FROM child WHERE item_id = 5"), 1);

    // Without the referenced key 5, the commit refuses the publish: the target stays as it was.
    src.execute("DELETE FROM items WHERE id = 5", []).unwrap();
    let (code, _, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("FOREIGN KEY constraint failed"), "{err}");
    assert_eq!(items(&target), [(1, "a".to_string()), (5, "e".to_string()), (9, "i".to_string())]);
}

/// A float NaN cannot be kept by SQLite (it binds NaN as NULL), so it is refused by row, column
/// and value instead of arriving as NULL; `on error skip` loads the other rows, ±Infinity exact.
#[test]
fn a_nan_into_sqlite_is_refused_by_row_and_column_not_stored_as_null() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.sqlite_pub_nan;
         CREATE TABLE public.sqlite_pub_nan (id int, w float8);
         INSERT INTO public.sqlite_pub_nan VALUES (1, 1.5), (2, 'NaN'), (3, '-Infinity'), (4, NULL);",
    );
    let dir = temp_dir();
    let db = dir.path().join("nan.db");
    let file = dir.path().join("nan.flow");
    let write = |on_error: &str| {
        std::fs::write(
            &file,
            format!(
                "let pg = postgres(\"{PG_TEST_URL}\")\nlet db = sqlite(\"{}\")\npipeline p {{\n  \
                 source s = pg.query(\"SELECT id, w FROM public.sqlite_pub_nan ORDER BY id\")\n  \
                 sink s -> db.table(\"nan\") {{ {on_error} }}\n}}\n",
                db.display()
            ),
        )
        .unwrap();
    };
    write("");
    let (code, _, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "cannot write row 2, column w = NaN: SQLite stores a NaN as NULL; filter it out or cast the column to text"
        ),
        "{err}"
    );
    write("on error skip");
    let (code, out, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut statement = conn.prepare("SELECT id, w FROM nan ORDER BY id").unwrap();
    let rows: Vec<(i64, Option<f64>)> =
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(rows, [(1, Some(1.5)), (3, Some(f64::NEG_INFINITY)), (4, None)]);
    pg_exec("DROP TABLE public.sqlite_pub_nan;");
}
