//! The MySQL sink's `LOAD DATA LOCAL INFILE` path (`connect::mysql::load_data`): values land
//! exactly as through the `INSERT` path, a batch the server warns about is sent again through
//! `INSERT`s so that bad values are refused by row, column and value (never truncated), and a
//! server with `local_infile=0` gets `INSERT`s for the whole run.
//!
//! The tests here change the server's global `local_infile` and restore it; they hold one lock
//! so they do not race each other. Other tests running meanwhile only see their rows written
//! through `INSERT`s, which writes the same rows.

use std::sync::Mutex;

use mysql::prelude::Queryable;

use crate::common::{
    flow_cli_env, mariadb_available, my_conn, my_exec, my_rows, pg_exec, postgres_available, temp_dir, unwrapped, write,
};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

/// Held by every test that sets `local_infile`.
static LOCAL_INFILE: Mutex<()> = Mutex::new(());

/// Sets the server's global `local_infile` for the life of the guard, then restores it.
struct LocalInfile {
    before: i64,
}

impl LocalInfile {
    fn set(on: bool) -> Self {
        let before: i64 = my_conn().query_first("SELECT @@GLOBAL.local_infile").unwrap().unwrap();
        my_exec(&format!("SET GLOBAL local_infile = {}", i32::from(on)));
        Self { before }
    }
}

impl Drop for LocalInfile {
    fn drop(&mut self) {
        my_exec(&format!("SET GLOBAL local_infile = {}", self.before));
    }
}

/// The source: good rows with every kind of value the text must carry exactly (separators,
/// the escape character, `\N` and `NULL` as text, bytes that are separators, floats whose
/// shortest form matters), and three bad rows: a code too long for `varchar(5)`, a number out
/// of `tinyint`'s range, a NULL into a NOT NULL column.
fn source() {
    pg_exec(
        "DROP TABLE IF EXISTS loaddata_src;
         CREATE TABLE loaddata_src (id int, code text, small int, name text, body text, data bytea,
           f float8, r float4, amount numeric(12,2), day date, at timestamp, t time);
         INSERT INTO loaddata_src VALUES
           (1, 'ab', 1, 'one', E'tab\\there\\nnewline\\\\back \\\\N NULL\\r', '\\x00090a5c4e', 0.1, 0.1, 12.34,
            '2024-02-29', '2024-02-29 01:02:03.000004', '23:59:59.5'),
           (2, 'abcdefg', 2, 'two', 'x', NULL, 1e300, 3.4e38, -0.01, '0001-01-01', '1970-01-01 00:00:00', '00:00:00'),
           (3, 'c', 300, 'three', 'y', '\\x', -2.5e-10, -1.5, 0, '9999-12-31', '9999-12-31 23:59:59.999999', NULL),
           (4, 'd', 4, NULL, 'z', '\\xff', NULL, NULL, NULL, NULL, NULL, NULL),
           (5, '', -128, '', '', '\\x', 5e-324, 1e-45, 9999999999.99, '2000-01-01', '2000-01-01 12:00:00', '12:00:00'),
           (6, 'é😀', 127, 'six', 'ü😀', '\\x00', 1.7976931348623157e308, 0, -9999999999.99, '1999-12-31',
            '1999-12-31 23:59:59', '01:02:03');",
    );
}

/// A target defined with narrow columns, so rows 2, 3 and 4 do not fit.
fn target(table: &str) {
    my_exec(&format!(
        "DROP TABLE IF EXISTS {table}, {table}_rejects;
         CREATE TABLE {table} (id int PRIMARY KEY, code varchar(5), small tinyint, name varchar(50) NOT NULL,
           body longtext, data blob, f double, r float, amount decimal(12,2), day date, at datetime(6), t time(6))
           ENGINE=InnoDB DEFAULT CHARACTER SET utf8mb4"
    ));
}

fn pipeline(table: &str, options: &str) -> String {
    format!(
        "let src = postgres(\"{PG}\")\nlet dst = mysql(\"{MY}\")\n\npipeline copy {{\n  source data = \
         src.query(\"SELECT * FROM loaddata_src ORDER BY id\")\n  sink out = data -> dst.table(\"{table}\") {{ \
         {options} }}\n}}\n"
    )
}

/// Runs `flow run -q` on the pipeline into `table`; returns the exit code, stderr and the
/// statements logged (`FLOW_LOG_SQL`).
fn run(table: &str, options: &str) -> (i32, String, String) {
    let dir = temp_dir();
    let file = write(dir.path(), "load.flow", &pipeline(table, options));
    let log = dir.path().join("sql.log");
    let (code, out, err) = flow_cli_env(&["run", "-q", &file], &[("FLOW_LOG_SQL", log.to_str().unwrap())]);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (code, format!("{out}\n{err}"), log)
}

fn target_rows(table: &str) -> Vec<Vec<String>> {
    my_rows(&format!(
        "SELECT id, code, small, name, HEX(body), HEX(data), CAST(f AS CHAR), CAST(r AS CHAR), amount, day, at, t \
         FROM {table} ORDER BY id"
    ))
}

fn rejects(table: &str) -> Vec<Vec<String>> {
    my_rows(&format!("SELECT row_no, column_name, value, message FROM {table}_rejects ORDER BY row_no"))
}

/// With `local_infile=1` the rows go through `LOAD DATA`; its batch holds bad rows, so the
/// server warns, the batch is rolled back and sent through `INSERT`s, which refuse the bad
/// rows exactly as a run with `local_infile=0` (only `INSERT`s) does: the same target rows,
/// the same rejects. No truncated or clamped value lands. Without bad rows, `LOAD DATA` alone
/// writes the same values, exactly.
#[test]
fn load_data_writes_what_inserts_write_and_bad_values_are_refused_the_same() {
    if !(postgres_available() && mariadb_available()) {
        return;
    }
    let _lock = LOCAL_INFILE.lock().unwrap_or_else(|p| p.into_inner());
    source();
    let reject = |t: &str| format!("mode append on error reject to dst.table(\"{t}_rejects\")");

    target("loaddata_ins");
    let (code, out, log) = {
        let _off = LocalInfile::set(false);
        run("loaddata_ins", &reject("loaddata_ins"))
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the server refuses LOAD DATA LOCAL INFILE"), "{out}");
    assert!(out.contains("SET GLOBAL local_infile = 1"), "{out}");

    let _on = LocalInfile::set(true);
    target("loaddata_ld");
    let (code, out, log_on) = run("loaddata_ld", &reject("loaddata_ld"));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("refuses LOAD DATA"), "{out}");
    assert!(log_on.contains("LOAD DATA LOCAL INFILE"), "{log_on}");
    assert!(log_on.contains("ROLLBACK TO SAVEPOINT flow_load"), "the warned batch is sent again: {log_on}");
    assert!(log.contains("LOAD DATA LOCAL INFILE"), "the refused attempt is logged: {log}");

    let written = target_rows("loaddata_ld");
    assert_eq!(written, target_rows("loaddata_ins"));
    assert_eq!(rejects("loaddata_ld"), rejects("loaddata_ins"));
    assert_eq!(written.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["1", "5", "6"]);
    assert_eq!(
        rejects("loaddata_ld"),
        [
            ["2", "code", "'abcdefg'", "MySQL error 1406: Data too long for column 'code' at row 1"],
            ["3", "small", "300", "MySQL error 1264: Out of range value for column 'small' at row 1"],
            ["4", "name", "NULL", "MySQL error 1048: Column 'name' cannot be null"],
        ]
        .map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        written[0],
        [
            "1",
            "ab",
            "1",
            "one",
            &hex("tab\there\nnewline\\back \\N NULL\r"),
            "00090A5C4E",
            "0.1",
            "0.1",
            "12.34",
            "2024-02-29",
            "2024-02-29 01:02:03.000004",
            "23:59:59.500000",
        ]
    );
    assert_eq!(written[2][1..6], ["é😀", "127", "six", &hex("ü😀"), "00"]);
    assert_eq!(written[2][6], "1.7976931348623157e308");

    // Without the bad rows, LOAD DATA alone writes the batch: the same values.
    pg_exec("DELETE FROM loaddata_src WHERE id IN (2, 3, 4)");
    target("loaddata_clean");
    let (code, out, log) = run("loaddata_clean", "mode append");
    assert_eq!(code, 0, "{out}");
    assert!(log.contains("LOAD DATA LOCAL INFILE") && !log.contains("ROLLBACK TO SAVEPOINT"), "{log}");
    assert_eq!(target_rows("loaddata_clean"), written);
    my_exec(
        "DROP TABLE IF EXISTS loaddata_ins, loaddata_ins_rejects, loaddata_ld, loaddata_ld_rejects, loaddata_clean",
    );
}

/// Under `on error fail` (the default), the first bad row stops the run with the `INSERT`
/// path's words, whichever way the rows were sent, and the target keeps nothing of the run.
#[test]
fn load_data_bad_value_fails_the_run_with_the_insert_paths_words() {
    if !(postgres_available() && mariadb_available()) {
        return;
    }
    let _lock = LOCAL_INFILE.lock().unwrap_or_else(|p| p.into_inner());
    pg_exec(
        "DROP TABLE IF EXISTS loaddata_fail_src;
         CREATE TABLE loaddata_fail_src AS SELECT g AS id, 'v' || g AS code FROM generate_series(1, 3000) g;
         UPDATE loaddata_fail_src SET code = 'toolong' WHERE id = 2500;",
    );
    for on in [true, false] {
        let _setting = LocalInfile::set(on);
        my_exec(
            "DROP TABLE IF EXISTS loaddata_fail;
             CREATE TABLE loaddata_fail (id int PRIMARY KEY, code varchar(5)) ENGINE=InnoDB",
        );
        let dir = temp_dir();
        let text = format!(
            "let src = postgres(\"{PG}\")\nlet dst = mysql(\"{MY}\")\n\npipeline copy {{\n  source data = \
             src.query(\"SELECT * FROM loaddata_fail_src ORDER BY id\")\n  sink out = data -> \
             dst.table(\"loaddata_fail\") {{ mode append }}\n}}\n"
        );
        let file = write(dir.path(), "fail.flow", &text);
        let (code, _, err) = flow_cli_env(&["run", "-q", &file], &[]);
        assert_eq!(code, 1, "local_infile={on}: {err}");
        let err = unwrapped(&err);
        assert!(
            err.contains("cannot write row 2500, column code = 'toolong'")
                && err.contains("MySQL error 1406: Data too long for column 'code' at row 1"),
            "local_infile={on}: {err}"
        );
        assert_eq!(my_rows("SELECT COUNT(*) FROM loaddata_fail"), [["0"]], "local_infile={on}");
    }
    my_exec("DROP TABLE IF EXISTS loaddata_fail");
}

/// Text as the uppercase hexadecimal of its UTF-8 bytes.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}
