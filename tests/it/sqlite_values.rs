//! SQLite files shaped as ordinary programs write them (Python's `sqlite3`: REAL in `NUMERIC(12,2)`,
//! whole numbers as INTEGER there, timestamps as text in any of SQLite's time-value forms or as
//! Julian-day and Unix-time numbers, booleans as 0/1) are read value by value: every value
//! arrives exactly in PostgreSQL, and one that does not convert is refused by column, rowid and
//! value.

use crate::common::{flow_cli, postgres_available, runtime, temp_dir};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

/// Runs a Python `sqlite3` script against a new database file; `db` is bound to the connection.
fn python_sqlite(path: &std::path::Path, script: &str) {
    let program =
        format!("import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\n{script}\ndb.commit()\ndb.close()\n");
    let out = std::process::Command::new("python3").arg("-c").arg(&program).arg(path).output().expect("python3 runs");
    assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
}

async fn pg_rows(sql: &str) -> Vec<Vec<Option<String>>> {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

const VALUES_TABLE: &str = "
db.execute('''CREATE TABLE i14_sv_values (id INTEGER PRIMARY KEY, total NUMERIC(12,2), at TIMESTAMP,
    seen DATETIME, ok BOOLEAN, w DOUBLE, d DATE, qty INTEGER, name TEXT)''')
db.executemany('INSERT INTO i14_sv_values VALUES (?,?,?,?,?,?,?,?,?)', [
    (1, 1234.5, '2024-01-05 10:00', '2024-01-05', 1, 1.5, '2024-01-05', 3, 'a'),
    (2, 7, '2024-01-05T10:00:00Z', None, 0, None, None, None, ''),
    (3, None, '2024-01-05 10:00:00+02:00', '2024-01-05 10:00:00-05:30', None, 0.1, '2024-02-29', -9, None),
    (4, 0.1, '2024-01-05T10:00:00.123', 2460314.5, 1, -2.5, None, 0, 'd'),
    (5, -99.99, 1704448800, 1704448800.25, 0, 1e300, None, 42, 'e'),
    (6, 9999999999.99, 2460314.75, '2024-01-05 10:00:00.123456', 1, None, None, None, 'f'),
])
";

#[test]
fn python_written_values_copy_exactly_to_postgres() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    let db = dir.path().join("python.db");
    python_sqlite(&db, VALUES_TABLE);
    // The stored classes are the ones the issue describes: REAL and INTEGER in one NUMERIC column.
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute("DROP TABLE IF EXISTS public.i14_sv_values").await.unwrap();
    });
    let url = format!("sqlite://{}", db.display());
    let (code, out, err) = flow_cli(&["copy", &url, PG, "--table", "i14_sv_values"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let rows = rt.block_on(pg_rows(
        "SELECT id::text, total::text, at::text, seen::text, ok::text, w::text, d::text, qty::text, name \
         FROM public.i14_sv_values ORDER BY id",
    ));
    assert_eq!(
        rows,
        vec![
            row(&[
                Some("1"),
                Some("1234.50"),
                Some("2024-01-05 10:00:00"),
                Some("2024-01-05 00:00:00"),
                Some("true"),
                Some("1.5"),
                Some("2024-01-05"),
                Some("3"),
                Some("a")
            ]),
            row(&[
                Some("2"),
                Some("7.00"),
                Some("2024-01-05 10:00:00"),
                None,
                Some("false"),
                None,
                None,
                None,
                Some("")
            ]),
            // An offset is converted to UTC.
            row(&[
                Some("3"),
                None,
                Some("2024-01-05 08:00:00"),
                Some("2024-01-05 15:30:00"),
                None,
                Some("0.1"),
                Some("2024-02-29"),
                Some("-9"),
                None
            ]),
            // Julian day 2460314.5 is 2024-01-05 00:00 UTC.
            row(&[
                Some("4"),
                Some("0.10"),
                Some("2024-01-05 10:00:00.123"),
                Some("2024-01-05 00:00:00"),
                Some("true"),
                Some("-2.5"),
                None,
                Some("0"),
                Some("d")
            ]),
            // Unix time, as an INTEGER and as a REAL (SQLite's 'auto' rule, to the millisecond).
            row(&[
                Some("5"),
                Some("-99.99"),
                Some("2024-01-05 10:00:00"),
                Some("2024-01-05 10:00:00.25"),
                Some("false"),
                Some("1e+300"),
                None,
                Some("42"),
                Some("e")
            ]),
            row(&[
                Some("6"),
                Some("9999999999.99"),
                Some("2024-01-05 06:00:00"),
                Some("2024-01-05 10:00:00.123456"),
                Some("true"),
                None,
                None,
                None,
                Some("f")
            ]),
        ]
    );
    let types = rt.block_on(pg_rows(
        "SELECT column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'i14_sv_values' ORDER BY ordinal_position",
    ));
    let types: Vec<String> =
        types.iter().map(|r| format!("{} {}", r[0].as_deref().unwrap(), r[1].as_deref().unwrap())).collect();
    assert_eq!(
        types,
        [
            "id bigint",
            "total numeric",
            "at timestamp without time zone",
            "seen timestamp without time zone",
            "ok boolean",
            "w double precision",
            "d date",
            "qty bigint",
            "name text"
        ]
    );
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute("DROP TABLE IF EXISTS public.i14_sv_values").await.unwrap();
    });
}

#[test]
fn explain_says_how_time_values_and_reals_are_read() {
    let dir = temp_dir();
    let db = dir.path().join("python.db");
    python_sqlite(&db, VALUES_TABLE);
    let file = dir.path().join("x.flow");
    std::fs::write(
        &file,
        format!(
            "let src = sqlite(\"{}\")\npipeline p {{\n  source s = src.table(\"i14_sv_values\")\n  sink s -> parquet(\"{}\")\n}}\n",
            db.display(),
            dir.path().join("out.parquet").display()
        ),
    )
    .unwrap();
    let (code, out, err) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("total  Decimal128(12, 2)"), "{out}");
    assert!(out.contains("at     Timestamp(µs)"), "{out}");
    assert!(
        out.contains(
            "column `at`: SQLite time values: text in SQLite's date/time forms (offsets converted to UTC); numbers as \
             SQLite's 'auto' modifier reads them (0 to 5373484.5: Julian day, otherwise Unix seconds), to the \
             millisecond"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "column `total`: REAL values are taken by their shortest decimal form; one with more fractional digits \
             than the scale is refused"
        ),
        "{out}"
    );
}

/// Copies the one table of `script` to Parquet and returns the failed run's stderr.
fn refused(table: &str, script: &str) -> (String, String) {
    let dir = temp_dir();
    let db = dir.path().join("bad.db");
    python_sqlite(&db, script);
    let target = dir.path().join("out.parquet");
    let (code, out, err) =
        flow_cli(&["copy", &format!("sqlite://{}", db.display()), target.to_str().unwrap(), "--table", table]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(!target.exists(), "nothing is published");
    (std::path::absolute(&db).unwrap().display().to_string(), format!("{out}{err}"))
}

#[test]
fn text_in_an_integer_column_is_refused_by_column_rowid_and_value() {
    let (db, output) = refused(
        "i14_sv_bad",
        "db.execute('CREATE TABLE i14_sv_bad (id INTEGER PRIMARY KEY, qty INTEGER)')\n\
         db.executemany('INSERT INTO i14_sv_bad VALUES (?, ?)', [(1, 5), (7, 'abc'), (8, 6)])",
    );
    let expected = format!("SQLite {db}: column `qty` (declared INTEGER), rowid 7: text value 'abc' is not an integer");
    assert!(output.contains(&expected), "{output}");
}

#[test]
fn values_that_do_not_convert_exactly_are_refused() {
    // A REAL whose shortest form has more digits than the scale.
    let (db, output) = refused(
        "i14_sv_scale",
        "db.execute('CREATE TABLE i14_sv_scale (id INTEGER PRIMARY KEY, total NUMERIC(12,2))')\n\
         db.executemany('INSERT INTO i14_sv_scale VALUES (?, ?)', [(1, 1.5), (2, 1.005)])",
    );
    let expected = format!(
        "SQLite {db}: column `total` (declared NUMERIC(12,2)), rowid 2: real value 1.005 has more than 2 fractional \
         digits (decimal(12,2))"
    );
    assert!(output.contains(&expected), "{output}");

    // A boolean that is neither 0 nor 1.
    let (db, output) = refused(
        "i14_sv_bool",
        "db.execute('CREATE TABLE i14_sv_bool (id INTEGER PRIMARY KEY, ok BOOLEAN)')\n\
         db.executemany('INSERT INTO i14_sv_bool VALUES (?, ?)', [(1, 1), (2, 2)])",
    );
    let expected = format!(
        "SQLite {db}: column `ok` (declared BOOLEAN), rowid 2: integer value 2 is not a boolean (0 or 1, true or false)"
    );
    assert!(output.contains(&expected), "{output}");

    // A timestamp SQLite's date functions would not read either.
    let (db, output) = refused(
        "i14_sv_time",
        "db.execute('CREATE TABLE i14_sv_time (id INTEGER PRIMARY KEY, at TIMESTAMP)')\n\
         db.executemany('INSERT INTO i14_sv_time VALUES (?, ?)', [(1, '2024-01-05'), (3, '2024-13-01 10:00')])",
    );
    let expected = format!(
        "SQLite {db}: column `at` (declared TIMESTAMP), rowid 3: text value '2024-13-01 10:00' is not a SQLite time value"
    );
    assert!(output.contains(&expected), "{output}");
}
