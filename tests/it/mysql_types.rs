//! Issue 14, MySQL side: `TINYINT(1)` is one decision per column (boolean, or integer on
//! request) in single-table and whole-database copies; tables Flow creates on MySQL hold any
//! text (utf8mb4); `BIT(n)` stays a bit string; `TIME` is a span, carried beyond 24 hours and
//! below zero.
//!
//! Against the real servers: every value is read back from the target, refusals are checked by
//! their text. Each test uses its own tables (`i14my_<test>_...`) and target databases/schemas.

use crate::common::{
    flat, flow_cli, mariadb_available, my_exec, my_rows, pg_exec, pg_rows, postgres_available, rows, run_err, run_ok,
    temp_dir, write,
};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

fn my_url(database: &str) -> String {
    format!("mysql://root@127.0.0.1:3306/{database}")
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
                    rusqlite::types::ValueRef::Text(t) => format!("'{}'", String::from_utf8_lossy(t)),
                    rusqlite::types::ValueRef::Blob(_) => "blob".to_string(),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn servers() -> bool {
    mariadb_available() && postgres_available()
}

/// A MySQL database of its own (dropped first), with the given character set.
fn fresh_database(name: &str, charset: &str) -> String {
    my_exec(&format!("DROP DATABASE IF EXISTS {name}"));
    my_exec(&format!("CREATE DATABASE {name} CHARACTER SET {charset}"));
    my_url(name)
}

fn fresh_pg_schema(name: &str) {
    pg_exec(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"));
}

/// A `BOOLEAN` and a `TINYINT(1)` column: PostgreSQL gets `boolean` from a single-table copy and
/// from a whole-database copy alike (before, `smallint` and a failed publish), MySQL gets
/// `tinyint(1)` back; the values are the same everywhere.
#[test]
fn tinyint1_is_a_boolean_in_single_table_and_whole_database_copies() {
    if !servers() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS i14my_flags");
    my_exec(
        "CREATE TABLE i14my_flags (id INT PRIMARY KEY, active BOOLEAN NOT NULL, verified TINYINT(1), \
         level TINYINT, plus1 TINYINT(1) UNSIGNED)",
    );
    my_exec("INSERT INTO i14my_flags VALUES (1, TRUE, 1, 7, 5), (2, FALSE, 0, -3, 1), (3, TRUE, NULL, NULL, NULL)");
    let expected = rows(&[
        &["1", "true", "true", "7", "5"],
        &["2", "false", "false", "-3", "1"],
        &["3", "true", "NULL", "NULL", "NULL"],
    ]);
    let types = "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = '{s}' AND table_name = 'i14my_flags' ORDER BY ordinal_position";
    let expected_types = rows(&[
        &["id", "integer"],
        &["active", "boolean"],
        &["verified", "boolean"],
        &["level", "smallint"],
        &["plus1", "smallint"],
    ]);
    let select =
        "SELECT id::text, active::text, verified::text, level::text, plus1::text FROM {s}.i14my_flags ORDER BY id";

    // One table.
    fresh_pg_schema("i14my_one");
    run_ok(&["copy", "-q", MY, PG, "--table", "i14my_flags", "--query", "SELECT * FROM i14my_flags"]);
    pg_exec("ALTER TABLE public.i14my_flags SET SCHEMA i14my_one");
    assert_eq!(pg_rows(&types.replace("{s}", "i14my_one")), expected_types);
    assert_eq!(pg_rows(&select.replace("{s}", "i14my_one")), expected);

    // The whole database (the table set path, with the catalog's DDL).
    fresh_pg_schema("i14my_set");
    run_ok(&["copy", "-q", MY, PG, "--all-tables", "--include", "i14my_flags", "--schema", "i14my_set"]);
    assert_eq!(pg_rows(&types.replace("{s}", "i14my_set")), expected_types);
    assert_eq!(pg_rows(&select.replace("{s}", "i14my_set")), expected);

    // MySQL -> MySQL, one table and the whole database: TINYINT(1) again.
    for (database, args) in [
        ("i14my_flags_one", vec!["--table", "i14my_flags"]),
        ("i14my_flags_set", vec!["--all-tables", "--include", "i14my_flags"]),
    ] {
        let url = fresh_database(database, "utf8mb4");
        let mut all = vec!["copy", "-q", MY, url.as_str()];
        all.extend(args);
        run_ok(&all);
        let columns = my_rows(&format!(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{database}' \
             AND TABLE_NAME = 'i14my_flags' AND COLUMN_NAME IN ('active', 'verified') ORDER BY ORDINAL_POSITION"
        ));
        assert_eq!(columns, rows(&[&["active", "tinyint(1)"], &["verified", "tinyint(1)"]]), "{database}");
        assert_eq!(
            my_rows(&format!("SELECT id, active, verified, level FROM {database}.i14my_flags ORDER BY id")),
            rows(&[&["1", "1", "1", "7"], &["2", "0", "0", "-3"], &["3", "1", "NULL", "NULL"]]),
            "{database}"
        );
    }
}

/// A `TINYINT(1)` holding 2 or -1 is refused by column, row and value, never turned into true;
/// `tinyint1: "integer"` keeps such a column an integer, in the DDL and the data alike.
#[test]
fn tinyint1_other_values_are_refused_unless_read_as_integers() {
    if !servers() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS i14my_levels");
    my_exec("CREATE TABLE i14my_levels (id INT PRIMARY KEY, lvl TINYINT(1))");
    my_exec("INSERT INTO i14my_levels VALUES (1, 1), (2, 0), (3, 2), (4, -1)");
    fresh_pg_schema("i14my_lv");
    let err = flat(&run_err(&[
        "copy",
        "-q",
        MY,
        PG,
        "--table",
        "i14my_levels",
        "--query",
        "SELECT * FROM i14my_levels ORDER BY id",
    ]));
    assert!(
        err.contains(
            "MySQL: column `lvl`, row 3: 2 is not a boolean (0 or 1), and a TINYINT(1) column is read as a boolean; \
             read the column as an integer with mysql(\"...\", tinyint1: \"integer\"), or convert it in the query"
        ),
        "{err}"
    );
    pg_exec("DROP TABLE IF EXISTS public.i14my_lv_neg");
    let err = flat(&run_err(&[
        "copy",
        "-q",
        MY,
        PG,
        "--query",
        "SELECT * FROM i14my_levels WHERE id = 4",
        "--table",
        "i14my_lv_neg",
    ]));
    assert!(err.contains("MySQL: column `lvl`, row 1: -1 is not a boolean (0 or 1)"), "{err}");
    assert_eq!(pg_rows("SELECT count(*)::text FROM pg_tables WHERE tablename = 'i14my_lv_neg'"), rows(&[&["0"]]));

    // Read as integers: one table and the whole database.
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "levels.flow",
        &format!(
            "let src = mysql(\"{MY}\", tinyint1: \"integer\")\nlet dst = postgres(\"{PG}\")\n\
             pipeline levels {{\n  source s = src.table(\"i14my_levels\")\n  sink s -> dst.table(\"i14my_lv.one\") {{ mode replace }}\n}}\n\
             pipeline all {{\n  source t = src.tables(\"i14my_levels\")\n  sink t -> dst.schema(\"i14my_lv\")\n}}\n"
        ),
    );
    run_ok(&["run", "-q", &file]);
    for table in ["one", "i14my_levels"] {
        assert_eq!(
            pg_rows(&format!(
                "SELECT data_type::text FROM information_schema.columns WHERE table_schema = 'i14my_lv' \
                 AND table_name = '{table}' AND column_name = 'lvl'"
            )),
            rows(&[&["smallint"]]),
            "{table}"
        );
        assert_eq!(
            pg_rows(&format!("SELECT lvl::text FROM i14my_lv.{table} ORDER BY id")),
            rows(&[&["1"], &["0"], &["2"], &["-1"]]),
            "{table}"
        );
    }
    // A value the option does not know is refused when the file is checked.
    let bad = write(dir.path(), "bad.flow", &format!("let src = mysql(\"{MY}\", tinyint1: \"bit\")\n"));
    let (code, out, err) = flow_cli(&["check", &bad]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        flat(&format!("{out}{err}")).contains("tinyint1: \"bit\" is neither \"boolean\" nor \"integer\""),
        "{out}{err}"
    );
}

/// `BIT(1)`, `BIT(12)` and `BIT(64)`: MySQL gets `BIT(n)` back (so `WHERE active = 1` still
/// matches), PostgreSQL `boolean` / `bit(n)`, in single-table and whole-database copies;
/// SQLite, CSV and Parquet say in `explain` what the bits become.
#[test]
fn bit_columns_stay_bit_strings() {
    if !servers() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS i14my_bits");
    my_exec("CREATE TABLE i14my_bits (id INT PRIMARY KEY, active BIT(1), flags BIT(12), wide BIT(64))");
    my_exec(
        "INSERT INTO i14my_bits VALUES (1, b'1', b'101', b'1111111111111111111111111111111111111111111111111111111111111111'), \
         (2, b'0', b'111111111111', 0), (3, NULL, NULL, NULL), (4, 1, 0, 1)",
    );
    for (database, args) in [
        ("i14my_bits_one", vec!["--table", "i14my_bits"]),
        ("i14my_bits_set", vec!["--all-tables", "--include", "i14my_bits"]),
    ] {
        let url = fresh_database(database, "utf8mb4");
        let mut all = vec!["copy", "-q", MY, url.as_str()];
        all.extend(args);
        run_ok(&all);
        assert_eq!(
            my_rows(&format!(
                "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{database}' \
                 AND TABLE_NAME = 'i14my_bits' ORDER BY ORDINAL_POSITION"
            )),
            rows(&[&["int(11)"], &["bit(1)"], &["bit(12)"], &["bit(64)"]]),
            "{database}"
        );
        assert_eq!(
            my_rows(&format!("SELECT id, active + 0, flags + 0, wide + 0 FROM {database}.i14my_bits ORDER BY id")),
            rows(&[
                &["1", "1", "5", "18446744073709551615"],
                &["2", "0", "4095", "0"],
                &["3", "NULL", "NULL", "NULL"],
                &["4", "1", "0", "1"]
            ]),
            "{database}"
        );
        assert_eq!(
            my_rows(&format!("SELECT id FROM {database}.i14my_bits WHERE active = 1 ORDER BY id")),
            rows(&[&["1"], &["4"]])
        );
    }

    let expected = rows(&[
        &["1", "true", "000000000101", &"1".repeat(64)],
        &["2", "false", "111111111111", &"0".repeat(64)],
        &["3", "NULL", "NULL", "NULL"],
        &["4", "true", "000000000000", &format!("{}1", "0".repeat(63))],
    ]);
    fresh_pg_schema("i14my_bits");
    pg_exec("DROP TABLE IF EXISTS public.i14my_bits_one");
    run_ok(&["copy", "-q", MY, PG, "--query", "SELECT * FROM i14my_bits", "--table", "i14my_bits_one"]);
    run_ok(&["copy", "-q", MY, PG, "--all-tables", "--include", "i14my_bits", "--schema", "i14my_bits"]);
    for table in ["public.i14my_bits_one", "i14my_bits.i14my_bits"] {
        assert_eq!(
            pg_rows(&format!(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{table}'::regclass \
                 AND attnum > 0 ORDER BY attnum"
            )),
            rows(&[&["integer"], &["boolean"], &["bit(12)"], &["bit(64)"]]),
            "{table}"
        );
        assert_eq!(
            pg_rows(&format!("SELECT id::text, active::text, flags::text, wide::text FROM {table} ORDER BY id")),
            expected,
            "{table}"
        );
    }

    // Targets without bit strings: what the bits become, said before the run, and exact after.
    let dir = temp_dir();
    let db = dir.path().join("bits.db");
    let file = write(
        dir.path(),
        "bits.flow",
        &format!(
            "let src = mysql(\"{MY}\")\nlet lite = sqlite(\"{}\")\n\
             pipeline bits {{\n  source s = src.query(\"SELECT * FROM i14my_bits ORDER BY id\")\n  \
             transform narrow = s | drop wide\n  sink narrow -> lite.table(\"bits\")\n  \
             sink s -> csv(\"{}\")\n  sink s -> parquet(\"{}\")\n}}\n",
            db.display(),
            dir.path().join("bits.csv").display(),
            dir.path().join("bits.parquet").display()
        ),
    );
    let explain = flat(&run_ok(&["explain", &file]));
    for warning in [
        "column `active`: sqlite has no bit(n) type; BIT(1) becomes a BOOLEAN (0 or 1)",
        "column `flags`: sqlite has no bit(n) type; BIT(12) becomes an INTEGER holding the bits as a number (b'101' is 5)",
        "column `flags`: csv has no bit(n) type; BIT(12) becomes the bits as a decimal number (b'101' is 5)",
        "column `active`: csv has no bit(n) type; BIT(1) becomes true/false",
        "column `wide`: parquet has no bit(n) type; BIT(64) becomes an unsigned 64-bit integer holding the bits as a number (b'101' is 5)",
    ] {
        assert!(explain.contains(warning), "missing `{warning}` in:\n{explain}");
    }
    run_ok(&["run", "-q", &file]);
    assert_eq!(
        sqlite_rows(&db, "SELECT id, active, flags FROM bits ORDER BY id"),
        rows(&[&["1", "1", "5"], &["2", "0", "4095"], &["3", "NULL", "NULL"], &["4", "1", "0"]])
    );
    // SQLite's integers are signed: BIT(64) all ones (2^64-1) is refused by column, row and
    // value, never turned into a float; nothing is published.
    let wide = write(
        dir.path(),
        "wide.flow",
        &format!(
            "let src = mysql(\"{MY}\")\nlet lite = sqlite(\"{}\")\n\
             pipeline wide {{\n  source s = src.query(\"SELECT id, wide FROM i14my_bits ORDER BY id\")\n  \
             sink s -> lite.table(\"wide\")\n}}\n",
            db.display()
        ),
    );
    let explain = flat(&run_ok(&["explain", &wide]));
    assert!(
        explain.contains(
            "column `wide`: sqlite has no bit(n) type; BIT(64) becomes an INTEGER holding the bits as a number \
             (b'101' is 5); SQLite integers are signed 64-bit, so a value above 9223372036854775807 is refused (by \
             row, under `on error`)"
        ),
        "{explain}"
    );
    let err = run_err(&["run", "-q", &wide]);
    assert!(
        err.contains(
            "row 1, column wide = 18446744073709551615: 18446744073709551615 is above 9223372036854775807, the \
             largest integer SQLite stores (integers are signed 64-bit)"
        ),
        "{err}"
    );
    assert_eq!(sqlite_rows(&db, "SELECT count(*) FROM sqlite_master WHERE name = 'wide'"), rows(&[&["0"]]));
    let csv = std::fs::read_to_string(dir.path().join("bits.csv")).unwrap();
    assert_eq!(csv, "id,active,flags,wide\n1,true,5,18446744073709551615\n2,false,4095,0\n3,,,\n4,true,0,1\n");
}

/// MySQL `TIME` values beyond a day and below zero, with and without fractions: carried as
/// MySQL `TIME(6)` and PostgreSQL `interval` (one table and the whole database), as text in
/// SQLite, said in `explain`; an interval MySQL's TIME cannot hold is refused by name.
#[test]
fn time_durations_are_carried_or_refused_by_name() {
    if !servers() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS i14my_spans");
    my_exec("CREATE TABLE i14my_spans (id INT PRIMARY KEY, span TIME(6), whole TIME)");
    my_exec(
        "INSERT INTO i14my_spans VALUES (1, '838:59:59', '838:59:59'), (2, '-01:30:00', '-01:30:00'), \
         (3, '-838:59:59.000000', '-838:59:59'), (4, '12:34:56.5', '24:00:00'), (5, NULL, NULL), \
         (6, '-00:00:00.000001', '00:00:00')",
    );
    let my_expected = rows(&[
        &["1", "838:59:59.000000", "838:59:59"],
        &["2", "-01:30:00.000000", "-01:30:00"],
        &["3", "-838:59:59.000000", "-838:59:59"],
        &["4", "12:34:56.500000", "24:00:00"],
        &["5", "NULL", "NULL"],
        &["6", "-00:00:00.000001", "00:00:00"],
    ]);
    for (database, args) in [
        ("i14my_spans_one", vec!["--table", "i14my_spans"]),
        ("i14my_spans_set", vec!["--all-tables", "--include", "i14my_spans"]),
    ] {
        let url = fresh_database(database, "utf8mb4");
        let mut all = vec!["copy", "-q", MY, url.as_str()];
        all.extend(args);
        run_ok(&all);
        assert_eq!(
            my_rows(&format!(
                "SELECT id, CAST(span AS CHAR), CAST(CAST(whole AS TIME(0)) AS CHAR) FROM {database}.i14my_spans ORDER BY id"
            )),
            my_expected,
            "{database}"
        );
    }

    let pg_expected = rows(&[
        &["1", "838:59:59", "838:59:59"],
        &["2", "-01:30:00", "-01:30:00"],
        &["3", "-838:59:59", "-838:59:59"],
        &["4", "12:34:56.5", "24:00:00"],
        &["5", "NULL", "NULL"],
        &["6", "-00:00:00.000001", "00:00:00"],
    ]);
    fresh_pg_schema("i14my_spans");
    pg_exec("DROP TABLE IF EXISTS public.i14my_spans_one");
    run_ok(&["copy", "-q", MY, PG, "--query", "SELECT * FROM i14my_spans", "--table", "i14my_spans_one"]);
    run_ok(&["copy", "-q", MY, PG, "--all-tables", "--include", "i14my_spans", "--schema", "i14my_spans"]);
    for (schema, table) in [("public", "i14my_spans_one"), ("i14my_spans", "i14my_spans")] {
        assert_eq!(
            pg_rows(&format!(
                "SELECT data_type::text FROM information_schema.columns WHERE table_schema = '{schema}' \
                 AND table_name = '{table}' ORDER BY ordinal_position"
            )),
            rows(&[&["integer"], &["interval"], &["interval"]]),
            "{table}"
        );
        assert_eq!(
            pg_rows(&format!("SELECT id::text, span::text, whole::text FROM {schema}.{table} ORDER BY id")),
            pg_expected,
            "{table}"
        );
    }

    // PostgreSQL interval -> MySQL TIME: what fits is exact, what does not is refused by name.
    let url = fresh_database("i14my_spans_back", "utf8mb4");
    run_ok(&[
        "copy",
        "-q",
        PG,
        url.as_str(),
        "--query",
        "SELECT id, span FROM public.i14my_spans_one",
        "--table",
        "back",
    ]);
    assert_eq!(
        my_rows("SELECT id, CAST(span AS CHAR) FROM i14my_spans_back.back ORDER BY id"),
        my_expected.iter().map(|r| r[..2].to_vec()).collect::<Vec<_>>()
    );
    let err = flat(&run_err(&[
        "copy",
        "-q",
        PG,
        url.as_str(),
        "--query",
        "SELECT 1 AS id, interval '839 hours' AS span UNION ALL SELECT 2, interval '-900:00:00.5'",
        "--table",
        "too_long",
    ]));
    assert!(
        err.contains("partition 0: cannot write row 1, column span = PT3020400S: 839:00:00.000000 is outside MySQL TIME's range -838:59:59 to 838:59:59"),
        "{err}"
    );

    // SQLite, CSV and Parquet: said before the run, exact after.
    let dir = temp_dir();
    let db = dir.path().join("spans.db");
    let file = write(
        dir.path(),
        "spans.flow",
        &format!(
            "let src = mysql(\"{MY}\")\nlet lite = sqlite(\"{}\")\n\
             pipeline spans {{\n  source s = src.query(\"SELECT id, span FROM i14my_spans ORDER BY id\")\n  sink s -> lite.table(\"spans\")\n  \
             sink s -> csv(\"{}\")\n  sink s -> parquet(\"{}\")\n}}\n",
            db.display(),
            dir.path().join("spans.csv").display(),
            dir.path().join("spans.parquet").display()
        ),
    );
    let explain = flat(&run_ok(&["explain", &file]));
    for warning in [
        "column `span`: SQLite has no type for a span of time (a MySQL TIME); it is stored as TEXT in MySQL's notation [-]H:MM:SS.ffffff (e.g. 838:59:59.000000, -01:30:00.000000)",
        "column `span`: CSV has no type for a span of time (a MySQL TIME); it is written as an ISO 8601 duration",
        "column `span`: Parquet has no span-of-time type (a MySQL TIME); it is stored as an INT64 of microseconds",
    ] {
        assert!(explain.contains(warning), "missing `{warning}` in:\n{explain}");
    }
    run_ok(&["run", "-q", &file]);
    assert_eq!(
        sqlite_rows(&db, "SELECT id, span FROM spans ORDER BY id"),
        rows(&[
            &["1", "'838:59:59.000000'"],
            &["2", "'-01:30:00.000000'"],
            &["3", "'-838:59:59.000000'"],
            &["4", "'12:34:56.500000'"],
            &["5", "NULL"],
            &["6", "'-00:00:00.000001'"],
        ])
    );
    let csv = std::fs::read_to_string(dir.path().join("spans.csv")).unwrap();
    assert_eq!(csv, "id,span\n1,PT3020399S\n2,-PT5400S\n3,-PT3020399S\n4,PT45296.5S\n5,\n6,-PT0.000001S\n");
}

/// In a `utf8mb3` database: a table Flow creates says utf8mb4 and holds emoji (one table and
/// the whole database); an existing utf8mb3 table refuses them row by row, naming the target
/// (never the staging table), the column, the row and the value.
#[test]
fn mysql_tables_flow_creates_hold_any_text() {
    if !mariadb_available() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS i14my_notes");
    my_exec("CREATE TABLE i14my_notes (id INT PRIMARY KEY, body LONGTEXT, title VARCHAR(40)) CHARACTER SET utf8mb4");
    my_exec(
        "INSERT INTO i14my_notes VALUES (1, 'plain', 'a'), (2, 'crab 🦀 and 👩‍👩‍👧', 'emoji 😀'), \
         (3, '𝄞 clef', '𠜎'), (4, NULL, NULL)",
    );
    let expected = rows(&[
        &["1", "plain", "a"],
        &["2", "crab 🦀 and 👩‍👩‍👧", "emoji 😀"],
        &["3", "𝄞 clef", "𠜎"],
        &["4", "NULL", "NULL"],
    ]);
    let url = fresh_database("i14_mb3", "utf8mb3");
    run_ok(&["copy", "-q", MY, url.as_str(), "--table", "i14my_notes"]);
    let set_url = fresh_database("i14_mb3_set", "utf8mb3");
    run_ok(&["copy", "-q", MY, set_url.as_str(), "--all-tables", "--include", "i14my_notes"]);
    for database in ["i14_mb3", "i14_mb3_set"] {
        assert_eq!(
            my_rows(&format!(
                "SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{database}' AND TABLE_NAME = 'i14my_notes'"
            ))[0][0]
                .split('_')
                .next(),
            Some("utf8mb4"),
            "{database}"
        );
        assert_eq!(my_rows(&format!("SELECT * FROM {database}.i14my_notes ORDER BY id")), expected, "{database}");
    }

    // Appending into an existing utf8mb3 table: the first row fits, the second is refused by name.
    my_exec("CREATE TABLE i14_mb3.old_notes (id INT PRIMARY KEY, body LONGTEXT, title VARCHAR(40))");
    let args = [
        "copy",
        "-q",
        MY,
        url.as_str(),
        "--query",
        "SELECT * FROM i14my_notes ORDER BY id",
        "--table",
        "old_notes",
        "--mode",
        "append",
    ];
    let err = flat(&run_err(&args));
    assert!(
        err.contains(
            "sink `data->old_notes` partition 0: cannot write row 2, column body = 'crab 🦀 and 👩‍👩‍👧': MySQL error 1366: \
             Incorrect string value: '\\xF0\\x9F\\xA6\\x80 a...' for column `i14_mb3`.`old_notes`.`body` at row 1; the \
             column's character set cannot store this text (4-byte UTF-8 characters such as emoji need utf8mb4): convert \
             the table with ALTER TABLE `old_notes` CONVERT TO CHARACTER SET utf8mb4"
        ),
        "{err}"
    );
    assert!(!err.contains("stag"), "the error names a work table: {err}");
    assert_eq!(my_rows("SELECT COUNT(*) FROM i14_mb3.old_notes"), rows(&[&["0"]]), "nothing is published");
    // The rows that fit go in with `on error skip`, exactly.
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "skip.flow",
        &format!(
            "let src = mysql(\"{MY}\")\nlet dst = mysql(\"{url}\")\npipeline p {{\n  source s = src.table(\"i14my_notes\")\n  \
             sink s -> dst.table(\"old_notes\") {{ mode append; on error skip }}\n}}\n"
        ),
    );
    run_ok(&["run", "-q", &file]);
    assert_eq!(
        my_rows("SELECT * FROM i14_mb3.old_notes ORDER BY id"),
        rows(&[&["1", "plain", "a"], &["4", "NULL", "NULL"]])
    );
}

/// Error 1366 is MySQL's for any value a column cannot take; the utf8mb4 hint is decided from
/// the refused column's character set, not from the message: a latin1 column that cannot store
/// the text gets it, an integer column that refuses text does not.
#[test]
fn the_utf8mb4_hint_follows_the_refused_columns_character_set() {
    if !mariadb_available() {
        return;
    }
    let url = fresh_database("typed_charset", "utf8mb4");
    my_exec("CREATE TABLE typed_charset.latin (id INT PRIMARY KEY, body VARCHAR(40) CHARACTER SET latin1)");
    my_exec("CREATE TABLE typed_charset.numbers (id INT PRIMARY KEY, n INT)");
    let copy = |query: &str, table: &str| {
        flat(&run_err(&["copy", "-q", MY, url.as_str(), "--query", query, "--table", table, "--mode", "append"]))
    };
    let err = copy("SELECT 1 AS id, '中文' AS body", "latin");
    assert!(
        err.contains(
            "sink `data->latin` partition 0: cannot write row 1, column body = '中文': MySQL error 1366: Incorrect \
             string value: '\\xE4\\xB8\\xAD\\xE6\\x96\\x87' for column `typed_charset`.`latin`.`body` at row 1; the \
             column's character set cannot store this text (4-byte UTF-8 characters such as emoji need utf8mb4): \
             convert the table with ALTER TABLE `latin` CONVERT TO CHARACTER SET utf8mb4"
        ),
        "{err}"
    );
    let err = copy("SELECT 1 AS id, 'abc' AS n", "numbers");
    assert!(
        err.contains(
            "sink `data->numbers` partition 0: cannot write row 1, column n = 'abc': MySQL error 1366: Incorrect \
             integer value: 'abc' for column `typed_charset`.`numbers`.`n` at row 1"
        ),
        "{err}"
    );
    assert!(!err.contains("utf8mb4"), "an integer column gets no character-set hint: {err}");
    assert_eq!(my_rows("SELECT COUNT(*) FROM typed_charset.latin"), rows(&[&["0"]]), "nothing is published");
}

/// A MySQL → MySQL whole-database copy makes each column with its source's own type where the
/// portable one would widen it (integer sizes and signs, `SET`, the precision of `TIME`,
/// `DATETIME` and `TIMESTAMP`, `TIMESTAMP` as an instant, blob sizes), and every value reads
/// back equal, the extremes included. `YEAR` and text types keep the portable type, as the
/// README says. Before, `INT UNSIGNED` became `BIGINT`, `SET` `LONGTEXT`, `TIMESTAMP(3)`
/// `DATETIME(6)`.
#[test]
fn a_mysql_to_mysql_copy_keeps_the_source_column_types() {
    if !mariadb_available() {
        return;
    }
    let src = fresh_database("i14my_native_src", "utf8mb4");
    my_exec(
        "CREATE TABLE i14my_native_src.t (id INT UNSIGNED PRIMARY KEY, a TINYINT UNSIGNED, b SMALLINT UNSIGNED, \
         c MEDIUMINT, c2 MEDIUMINT UNSIGNED, d BIGINT UNSIGNED, ti TINYINT, s SET('x','y','z'), \
         ts TIMESTAMP(3) NULL, ts6 TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), dt DATETIME, \
         dt2 DATETIME(2), tm TIME(2), bl BLOB, mb MEDIUMBLOB, y YEAR, tx TINYTEXT, z INT(5) ZEROFILL, \
         KEY (c))",
    );
    my_exec(
        "INSERT INTO i14my_native_src.t VALUES \
         (4294967295, 255, 65535, -8388608, 16777215, 18446744073709551615, -128, 'x,z', \
          '2038-01-19 03:14:07.999', '2024-01-02 03:04:05.123456', '9999-12-31 23:59:59', '0001-01-01 00:00:00.01', \
          '-838:59:59', x'00ff', x'', 2024, 'tiny', 42), \
         (0, 0, 0, 8388607, 0, 0, 127, '', '1970-01-01 00:00:01.000', '2024-01-02 03:04:05', NULL, NULL, \
          '838:59:59', NULL, NULL, NULL, NULL, NULL)",
    );
    let dst = fresh_database("i14my_native_dst", "utf8mb4");
    run_ok(&["copy", "-q", src.as_str(), dst.as_str(), "--all-tables"]);
    let types = |database: &str| {
        my_rows(&format!(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{database}' \
             AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION"
        ))
    };
    let mut expected = types("i14my_native_src");
    for row in &mut expected {
        // Kept portable on purpose (README, "Whole databases"): YEAR, texts, ZEROFILL.
        match row[0].as_str() {
            "y" => row[1] = "smallint(6)".into(),
            "tx" => row[1] = "longtext".into(),
            "z" => row[1] = "bigint(20)".into(),
            _ => {}
        }
    }
    assert_eq!(types("i14my_native_dst"), expected);
    // ZEROFILL is display only: `z + 0` is the value.
    let all = |database: &str| {
        my_rows(&format!(
            "SELECT id, a, b, c, c2, d, ti, s, ts, ts6, dt, dt2, tm, HEX(bl), HEX(mb), y, tx, z + 0 FROM {database}.t \
             ORDER BY id"
        ))
    };
    assert_eq!(all("i14my_native_dst"), all("i14my_native_src"));
    assert_eq!(
        my_rows("SELECT ts, ts6, tm, s FROM i14my_native_dst.t ORDER BY id"),
        rows(&[
            &["1970-01-01 00:00:01.000", "2024-01-02 03:04:05.000000", "838:59:59.00", ""],
            &["2038-01-19 03:14:07.999", "2024-01-02 03:04:05.123456", "-838:59:59.00", "x,z"],
        ])
    );
    my_exec("DROP DATABASE i14my_native_src");
    my_exec("DROP DATABASE i14my_native_dst");
}
