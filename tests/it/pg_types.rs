//! Issue 14, PostgreSQL side: inheritance children are copied once, and an unconstrained
//! `numeric` arrives exactly (or is refused by column, row and value) on every target.
//!
//! Against the real servers: every value is read back from the target, and `flow verify`
//! says each copy equals its source.

use mysql::prelude::Queryable;

use crate::common::{flat, flow_cli, mariadb_available, pg_exec, pg_rows, postgres_available, run_ok, temp_dir, write};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

/// Creates a fixture once per test process: the tests that read it run concurrently.
fn fixture(sql: &'static str) {
    static DONE: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap();
    if !done.contains(&sql) {
        pg_exec(sql);
        done.push(sql);
    }
}

fn sqlite_rows(path: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |row| {
        (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => format!("real {v}"),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(_) => "blob".to_string(),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn ids(rows: &[Vec<String>]) -> Vec<String> {
    rows.iter().map(|r| r[0].clone()).collect()
}

/// sales (2 rows of its own) -> sales_q1 (2) -> sales_q1_jan (1): three levels; events (1) ->
/// events_2024 (2, with an extra column); metrics, declaratively partitioned into two
/// partitions (4 rows).
const INHERITANCE: &str = "\
DROP SCHEMA IF EXISTS i14_inh CASCADE; CREATE SCHEMA i14_inh;
CREATE TABLE i14_inh.sales (id int PRIMARY KEY, amount numeric(10,2), note text);
CREATE TABLE i14_inh.sales_q1 () INHERITS (i14_inh.sales);
CREATE TABLE i14_inh.sales_q1_jan () INHERITS (i14_inh.sales_q1);
INSERT INTO i14_inh.sales VALUES (1, 10.50, 'parent'), (2, 20.00, 'parent');
INSERT INTO i14_inh.sales_q1 VALUES (3, 30.25, 'q1'), (4, 40.00, 'q1');
INSERT INTO i14_inh.sales_q1_jan VALUES (5, 50.75, 'jan');
CREATE TABLE i14_inh.events (id int, at date);
CREATE TABLE i14_inh.events_2024 (source text) INHERITS (i14_inh.events);
INSERT INTO i14_inh.events VALUES (1, '2023-12-31');
INSERT INTO i14_inh.events_2024 VALUES (2, '2024-01-01', 'web'), (3, '2024-06-30', 'app');
CREATE TABLE i14_inh.metrics (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE i14_inh.metrics_lo PARTITION OF i14_inh.metrics FOR VALUES FROM (0) TO (10);
CREATE TABLE i14_inh.metrics_hi PARTITION OF i14_inh.metrics FOR VALUES FROM (10) TO (100);
INSERT INTO i14_inh.metrics VALUES (1, 1), (2, 2), (11, 11), (12, 12);
ANALYZE i14_inh.sales;";

/// The whole schema copied to SQLite (`flow copy --all-tables`): each table holds its own rows
/// only, the partitioned table all of its partitions' rows (and the partitions are no tables of
/// their own), and `flow verify` on the emitted file says every table is equal.
#[test]
fn inheritance_children_are_copied_once_to_sqlite() {
    if !postgres_available() {
        return;
    }
    fixture(INHERITANCE);
    let dir = temp_dir();
    let db = dir.path().join("inh.db");
    let target = format!("sqlite://{}", db.display());
    let args = ["copy", "-q", PG, target.as_str(), "--all-tables", "--include", "i14_inh.*"];
    run_ok(&args);
    let rows = |t: &str| sqlite_rows(&db, &format!("SELECT id FROM \"{t}\" ORDER BY id"));
    assert_eq!(ids(&rows("sales")), ["1", "2"]);
    assert_eq!(ids(&rows("sales_q1")), ["3", "4"]);
    assert_eq!(ids(&rows("sales_q1_jan")), ["5"]);
    assert_eq!(ids(&rows("events")), ["1"]);
    assert_eq!(
        sqlite_rows(&db, "SELECT id, at, source FROM events_2024 ORDER BY id"),
        [["2", "2024-01-01", "web"], ["3", "2024-06-30", "app"]]
    );
    assert_eq!(ids(&rows("metrics")), ["1", "2", "11", "12"]);
    let tables = sqlite_rows(&db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'metrics%'");
    assert_eq!(ids(&tables), ["metrics"]);

    // verify reads the source as the copy did (ONLY for parents): equal, table by table.
    let mut emit = args.to_vec();
    emit.push("--emit");
    let file = write(dir.path(), "copy.flow", &run_ok(&emit));
    let out = run_ok(&["verify", &file]);
    assert_eq!(out.matches("\n  equal: ").count(), 6, "{out}");
    // And it would have caught the double copy: the children's rows in the parent again.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("INSERT INTO sales SELECT * FROM sales_q1; INSERT INTO sales SELECT * FROM sales_q1_jan;")
        .unwrap();
    let (code, out, err) = flow_cli(&["verify", &file]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("extra in target: id=3; id=4; id=5"), "{out}");
    assert_eq!(out.matches("\n  equal: ").count(), 5, "{out}");

    // explain says what each parent reads.
    let out = run_ok(&["explain", &file]);
    assert!(out.contains("FROM ONLY \"i14_inh\".\"sales\""), "{out}");
    assert!(
        out.contains(
            "table i14_inh.sales is read ONLY: without the rows of its 2 inheritance children \
             (i14_inh.sales_q1, i14_inh.sales_q1_jan), which the table set reads as tables of their own"
        ),
        "{out}"
    );
    assert!(out.contains("FROM ONLY \"i14_inh\".\"sales_q1\""), "{out}");
    assert!(out.contains("FROM \"i14_inh\".\"metrics\""), "{out}");
    assert!(!out.contains("FROM ONLY \"i14_inh\".\"metrics\""), "{out}");
}

/// PostgreSQL -> PostgreSQL by a table set, partitioned reads included (bounds and ranges read
/// ONLY too), then verify; and a set that leaves a child out says so.
#[test]
fn inheritance_children_are_copied_once_to_postgres() {
    if !postgres_available() {
        return;
    }
    fixture(INHERITANCE);
    pg_exec("DROP SCHEMA IF EXISTS i14_inh_copy CASCADE; CREATE SCHEMA i14_inh_copy");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "inh.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet dst = postgres(\"{PG}\")\npipeline inh {{\n  parallelism 2\n  \
             source app = src.tables(\"i14_inh.*\") {{ table sales {{ partition by id into 3 }} }}\n  \
             sink app -> dst.schema(\"i14_inh_copy\") {{ mode replace }}\n}}\n"
        ),
    );
    run_ok(&["run", "-q", &file]);
    let copied = |t: &str| ids(&pg_rows(&format!("SELECT id::text AS i FROM ONLY i14_inh_copy.{t} ORDER BY id")));
    assert_eq!(copied("sales"), ["1", "2"]);
    assert_eq!(copied("sales_q1"), ["3", "4"]);
    assert_eq!(copied("sales_q1_jan"), ["5"]);
    assert_eq!(copied("events"), ["1"]);
    assert_eq!(copied("events_2024"), ["2", "3"]);
    assert_eq!(copied("metrics"), ["1", "2", "11", "12"]);
    let out = run_ok(&["verify", &file]);
    assert_eq!(out.matches("\n  equal: ").count(), 6, "{out}");

    // A set without the grandchild reads sales_q1 ONLY all the same, and says the rows of
    // the child left out are copied nowhere.
    let partial = write(
        dir.path(),
        "partial.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet dst = sqlite(\"{}/p.db\")\npipeline inh {{\n  \
             source app = src.tables(\"i14_inh.sales*\", exclude: [\"sales_q1_jan\"])\n  \
             sink app -> dst.schema()\n}}\n",
            dir.path().display()
        ),
    );
    let (code, out, err) = flow_cli(&["explain", &partial]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        flat(&err).contains(
            "table set `app`: table i14_inh.sales is read ONLY (without its inheritance children), and \
             i14_inh.sales_q1_jan is not in the set: its rows are not copied"
        ),
        "{err}"
    );
    // The children in the set are tables of their own on the target: said, not done silently.
    assert!(
        flat(&err).contains(
            "table set `app`: inheritance is not carried over: i14_inh.sales_q1 is copied as table(s) of their \
             own, so i14_inh.sales on the target holds only its own rows"
        ),
        "{err}"
    );
}

/// A single table read (`src.table("sales")`) includes its children's rows, as PostgreSQL's
/// own SELECT does, and explain says so.
#[test]
fn a_single_table_read_includes_its_children_and_says_so() {
    if !postgres_available() {
        return;
    }
    fixture(INHERITANCE);
    let dir = temp_dir();
    let db = dir.path().join("one.db");
    let file = write(
        dir.path(),
        "one.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet dst = sqlite(\"{}\")\npipeline one {{\n  \
             source s = src.table(\"i14_inh.sales\")\n  sink s -> dst.table(\"sales\") {{ mode replace }}\n}}\n",
            db.display()
        ),
    );
    let out = run_ok(&["explain", &file]);
    assert!(
        out.contains(
            "table i14_inh.sales includes rows of 2 inheritance children (i14_inh.sales_q1, \
             i14_inh.sales_q1_jan), as PostgreSQL's SELECT does"
        ),
        "{out}"
    );
    run_ok(&["run", "-q", &file]);
    assert_eq!(ids(&sqlite_rows(&db, "SELECT id FROM sales ORDER BY id")), ["1", "2", "3", "4", "5"]);
    let out = run_ok(&["verify", &file]);
    assert!(out.contains("  equal: 1 partition(s)"), "{out}");
}

/// Unconstrained numeric values, by id. `1e-30` is stored (and printed) at scale 30.
const NUMERIC: &str = "\
DROP SCHEMA IF EXISTS i14_num CASCADE; CREATE SCHEMA i14_num;
CREATE TABLE i14_num.amounts (id int PRIMARY KEY, n numeric, c numeric(12,2));
INSERT INTO i14_num.amounts VALUES
  (1, 123456789012345678901234567890.123456789, 1.50),
  (2, 1e-30, 0),
  (3, -0.5, -0.50),
  (4, 0, NULL),
  (5, 1.50, 2),
  (6, NULL, 3),
  (7, -98765432109876543210987654321098765.4321, 4),
  (8, 'NaN', 5);
CREATE TABLE i14_num.too_fine (id int, n numeric);
INSERT INTO i14_num.too_fine VALUES (9, 0.0000000000000000000000000000001);";

const NUMERIC_TEXT: &[(&str, &str)] = &[
    ("1", "123456789012345678901234567890.123456789"),
    ("2", "0.000000000000000000000000000001"),
    ("3", "-0.5"),
    ("4", "0"),
    ("5", "1.50"),
    ("6", "NULL"),
    ("7", "-98765432109876543210987654321098765.4321"),
    ("8", "NaN"),
];

fn expected(rows: &[(&str, &str)]) -> Vec<Vec<String>> {
    rows.iter().map(|(id, n)| vec![id.to_string(), n.to_string()]).collect()
}

/// PostgreSQL -> PostgreSQL keeps `numeric` a `numeric`, every value exact (NaN too): a whole
/// schema (the case that could not be copied at all) and a single table, both verified.
#[test]
fn unconstrained_numeric_postgres_to_postgres_is_exact() {
    if !postgres_available() {
        return;
    }
    fixture(NUMERIC);
    pg_exec("DROP SCHEMA IF EXISTS i14_num_copy CASCADE; CREATE SCHEMA i14_num_copy");
    let dir = temp_dir();
    let set_file = write(
        dir.path(),
        "set.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet dst = postgres(\"{PG}\")\npipeline num {{\n  \
             source app = src.tables(\"i14_num.*\")\n  sink app -> dst.schema(\"i14_num_copy\") {{ mode replace }}\n}}\n"
        ),
    );
    run_ok(&["run", "-q", &set_file]);
    let one_file = write(
        dir.path(),
        "one.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet dst = postgres(\"{PG}\")\npipeline num {{\n  \
             source s = src.table(\"i14_num.amounts\")\n  \
             sink s -> dst.table(\"i14_num_copy.amounts_one\") {{ mode replace }}\n}}\n"
        ),
    );
    run_ok(&["run", "-q", &one_file]);
    for table in ["amounts", "amounts_one"] {
        let rows = pg_rows(&format!("SELECT id::text AS i, n::text FROM i14_num_copy.{table} ORDER BY id"));
        assert_eq!(rows, expected(NUMERIC_TEXT), "{table}");
        let types = pg_rows(&format!(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'i14_num_copy.{table}'::regclass AND attname IN ('n', 'c') ORDER BY attname"
        ));
        assert_eq!(types, [["numeric(12,2)"], ["numeric"]], "{table}");
    }
    // The target equals the source to the digit: compared in SQL, and by flow verify.
    let differ = pg_rows(
        "SELECT count(*)::text FROM (SELECT id, n::text, c::text FROM i14_num.amounts \
         EXCEPT SELECT id, n::text, c::text FROM i14_num_copy.amounts) d",
    );
    assert_eq!(differ, [["0"]]);
    for f in [&set_file, &one_file] {
        let out = run_ok(&["verify", f]);
        assert!(out.contains("  equal: 1 partition(s)"), "{out}");
    }
    let out = run_ok(&["explain", &one_file]);
    assert!(out.contains("\"n\" numeric"), "{out}");
}

/// To SQLite, Parquet and CSV an unconstrained numeric is its exact text (NaN as the word);
/// explain says so for SQLite and Parquet, naming the column.
#[test]
fn unconstrained_numeric_to_files_and_sqlite_is_exact_text() {
    if !postgres_available() {
        return;
    }
    fixture(NUMERIC);
    let dir = temp_dir();
    let db = dir.path().join("num.db");
    let parquet = dir.path().join("num.parquet");
    let csv = dir.path().join("num.csv");
    let file = write(
        dir.path(),
        "num.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet lite = sqlite(\"{}\")\npipeline num {{\n  \
             source s = src.query(\"SELECT id, n FROM i14_num.amounts\")\n  \
             sink s -> lite.table(\"amounts\") {{ mode replace }}\n  sink s -> parquet(\"{}\")\n  \
             sink s -> csv(\"{}\")\n}}\n",
            db.display(),
            parquet.display(),
            csv.display()
        ),
    );
    let out = run_ok(&["explain", &file]);
    assert!(
        out.contains(
            "column `n`: a numeric without precision is stored as its exact decimal text (TEXT), NaN and \
             Infinity as the words"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "column `n`: a numeric without precision is written as its exact decimal text (a Parquet string): \
             no decimal(p,s) holds every such value; cast it (cast n as decimal(p,s)) for a decimal column"
        ),
        "{out}"
    );
    run_ok(&["run", "-q", &file]);
    assert_eq!(sqlite_rows(&db, "SELECT id, n FROM amounts ORDER BY id"), expected(NUMERIC_TEXT));
    assert_eq!(sqlite_rows(&db, "SELECT type FROM pragma_table_info('amounts') WHERE name = 'n'"), [["TEXT"]]);

    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&parquet).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut from_parquet = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let id = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
        let n = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Utf8).unwrap();
        let (id, n) = (arrow::array::AsArray::as_string::<i32>(&id), arrow::array::AsArray::as_string::<i32>(&n));
        for row in 0..batch.num_rows() {
            let text = if arrow::array::Array::is_null(n, row) { "NULL".to_string() } else { n.value(row).to_string() };
            from_parquet.push(vec![id.value(row).to_string(), text]);
        }
    }
    from_parquet.sort_by_key(|r| r[0].parse::<i32>().unwrap());
    assert_eq!(from_parquet, expected(NUMERIC_TEXT));

    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    lines.sort_by_key(|l| l.split(',').next().unwrap().parse::<i32>().unwrap());
    let want: Vec<String> =
        NUMERIC_TEXT.iter().map(|(id, n)| format!("{id},{}", if *n == "NULL" { "" } else { n })).collect();
    assert_eq!(lines, want);
}

/// To MariaDB an unconstrained numeric becomes DECIMAL(65,30): values it holds arrive exactly;
/// NaN and a value with 31 fractional digits are refused by column, row and value (MariaDB
/// would round the latter with only a note).
#[test]
fn unconstrained_numeric_to_mariadb_is_exact_or_refused() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    fixture(NUMERIC);
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS i14_num_amounts").unwrap();
    let dir = temp_dir();
    let pipeline = |name: &str, table: &str, filter: &str| {
        write(
            dir.path(),
            name,
            &format!(
                "let src = postgres(\"{PG}\")\nlet my = mysql(\"{MY}\")\npipeline num {{\n  \
                 source s = src.query(\"SELECT id, n FROM i14_num.{table} {filter}\")\n  \
                 sink s -> my.table(\"i14_num_amounts\") {{ mode replace }}\n}}\n"
            ),
        )
    };
    let fits = pipeline("fits.flow", "amounts", "WHERE id <> 8");
    let out = run_ok(&["explain", &fits]);
    assert!(
        out.contains(
            "column `n`: a numeric without precision becomes DECIMAL(65,30), MySQL's widest decimal; a value with \
             more than 35 integer or 30 fractional digits, NaN or Infinity is refused by column, row and value"
        ),
        "{out}"
    );
    assert!(out.contains("`n` DECIMAL(65,30)"), "{out}");
    run_ok(&["run", "-q", &fits]);
    let rows: Vec<(i32, Option<String>)> =
        my.query("SELECT id, CAST(n AS CHAR) FROM i14_num_amounts ORDER BY id").unwrap();
    // DECIMAL(65,30) prints 30 fractional digits: the same numbers, zero-padded.
    let pad = |v: &str| {
        let (int, frac) = v.split_once('.').unwrap_or((v, ""));
        format!("{int}.{frac:0<30}")
    };
    let want: Vec<(i32, Option<String>)> = NUMERIC_TEXT
        .iter()
        .filter(|(id, _)| *id != "8")
        .map(|(id, n)| (id.parse().unwrap(), (*n != "NULL").then(|| pad(n))))
        .collect();
    assert_eq!(rows, want);

    let nan = pipeline("nan.flow", "amounts", "WHERE id IN (1, 8)");
    let (code, out, err) = flow_cli(&["run", "-q", &nan]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("column n = 'NaN': NaN has no DECIMAL(65,30) equivalent (no NaN or infinity)"), "{err}");

    let fine = pipeline("fine.flow", "too_fine", "");
    let (code, out, err) = flow_cli(&["run", "-q", &fine]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        err.contains(
            "column n = '0.0000000000000000000000000000001': 0.0000000000000000000000000000001 has 0 integer and 31 \
             fractional digits; DECIMAL(65,30) holds at most 35 and 30, and would not keep it exactly"
        ),
        "{err}"
    );
    // Nothing was published by the failed runs: the target holds the first run's rows.
    let count: Option<i64> = my.query_first("SELECT COUNT(*) FROM i14_num_amounts").unwrap();
    assert_eq!(count, Some(7));
}

/// A transform that compares or computes with an unconstrained numeric (carried as exact text)
/// is refused at check, naming the column and the cast to use; passing it on, testing it for
/// NULL or casting it is fine, and the cast compares numerically (`99` < `100`).
#[test]
fn transforms_must_cast_unconstrained_numeric_before_comparing() {
    if !postgres_available() {
        return;
    }
    fixture(NUMERIC);
    let dir = temp_dir();
    let bad = write(
        dir.path(),
        "bad.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet lite = sqlite(\"{}\")\npipeline p {{\n  \
             source s = src.table(\"i14_num.amounts\")\n  \
             transform t = s | rename n as amount | filter amount > 1 | derive doubled = amount * 2\n  \
             sink t -> lite.table(\"t\")\n}}\n",
            dir.path().join("bad.db").display()
        ),
    );
    let (code, _, stderr) = flow_cli(&["check", &bad]);
    assert_eq!(code, 2, "{stderr}");
    let text = crate::common::unwrapped(&stderr);
    assert_eq!(text.matches("× column `amount` is a PostgreSQL numeric without precision").count(), 2, "{text}");
    assert!(
        text.contains(
            "help: cast it to a decimal first, e.g. cast(amount as decimal(38, 10)), or give the column a precision \
             in the source"
        ),
        "{text}"
    );
    let db = dir.path().join("good.db");
    let good = write(
        dir.path(),
        "good.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet lite = sqlite(\"{}\")\npipeline p {{\n  \
             source s = src.query(\"SELECT id, n FROM i14_num.amounts WHERE id <> 7 AND n <> 'NaN'\")\n  \
             transform t = s | derive copy = n | filter n is not null and cast(n as decimal(76, 10)) > 0.1\n  \
             sink t -> lite.table(\"t\")\n}}\n",
            db.display()
        ),
    );
    run_ok(&["run", "-q", &good]);
    assert_eq!(
        sqlite_rows(&db, "SELECT id, n, copy FROM t ORDER BY id"),
        vec![
            vec![
                "1".to_string(),
                "123456789012345678901234567890.123456789".into(),
                "123456789012345678901234567890.123456789".into()
            ],
            vec!["5".to_string(), "1.50".into(), "1.50".into()],
        ]
    );
}

/// PostgreSQL `bit(n)` (2 <= n <= 64) is read as the number its bits spell: copied into
/// PostgreSQL it is `bit(n)` again with the same bits, and `verify` reads it on both sides, also
/// where a MySQL `BIT(n)` was copied into the `bit(n)` Flow created. `bit(1)` and longer bit
/// strings are refused by name.
#[test]
fn bit_columns_are_copied_and_verified_both_ways() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.bits_src, public.bits_dst, public.bits_from_my, public.bits_wide;
         CREATE TABLE public.bits_src (id int PRIMARY KEY, b bit(5), c bit(64));
         INSERT INTO public.bits_src VALUES (1, B'10110', B'1000000000000000000000000000000000000000000000000000000000000001'),
           (2, NULL, B'0000000000000000000000000000000000000000000000000000000000000000');
         CREATE TABLE public.bits_wide (id int, w bit(65));",
    );
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "bits.flow",
        &format!(
            "let src = postgres(\"{PG}\")\npipeline bits {{\n  source s = src.table(\"public.bits_src\")\n  sink s -> \
             src.table(\"public.bits_dst\") {{ mode replace }}\n}}\n"
        ),
    );
    let (code, out, err) = flow_cli(&["run", "-q", &file, "--verify"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("equal: 1 partition(s)"), "{out}");
    assert_eq!(
        pg_rows(
            "SELECT id::text, b::text, c::text, format_type(atttypid, atttypmod) FROM public.bits_dst \
                 JOIN pg_attribute ON attrelid = 'public.bits_dst'::regclass AND attname = 'b' ORDER BY id"
        ),
        vec![
            vec!["1".to_string(), "10110".into(), format!("1{}1", "0".repeat(62)), "bit(5)".into()],
            vec!["2".to_string(), "NULL".into(), "0".repeat(64), "bit(5)".into()],
        ]
    );
    let wide = write(
        dir.path(),
        "wide.flow",
        &format!(
            "let src = postgres(\"{PG}\")\nlet out = csv(\"{}\")\npipeline wide {{\n  source s = \
             src.table(\"public.bits_wide\")\n  sink s -> out.table(\"w\")\n}}\n",
            dir.path().display()
        ),
    );
    let (code, _, err) = flow_cli(&["check", &wide]);
    assert_eq!(code, 2, "{err}");
    assert!(flat(&err).contains("unsupported PostgreSQL type bit;"), "{err}");

    if mariadb_available() {
        let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
        my.query_drop("DROP TABLE IF EXISTS bits_my").unwrap();
        my.query_drop("CREATE TABLE bits_my (id int PRIMARY KEY, f BIT(3))").unwrap();
        my.query_drop("INSERT INTO bits_my VALUES (1, b'101'), (2, b'000'), (3, NULL)").unwrap();
        let file = write(
            dir.path(),
            "my.flow",
            &format!(
                "let my = mysql(\"{MY}\")\nlet pg = postgres(\"{PG}\")\npipeline my {{\n  source s = \
                 my.table(\"bits_my\")\n  sink s -> pg.table(\"public.bits_from_my\") {{ mode replace }}\n}}\n"
            ),
        );
        let (code, out, err) = flow_cli(&["run", "-q", &file, "--verify"]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert!(out.contains("equal: 1 partition(s)"), "{out}");
        assert_eq!(
            pg_rows("SELECT id::text, f::text FROM public.bits_from_my ORDER BY id"),
            vec![vec!["1".to_string(), "101".into()], vec!["2".into(), "000".into()], vec!["3".into(), "NULL".into()]]
        );
    }
}
