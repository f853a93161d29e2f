//! What a newcomer meets first (issue 13): every example in `pipelines/` runs as the README says
//! and its summary names where each output went; `flow copy` of a schema-qualified table lands
//! where the target can hold it; the first errors name what, where and what to do.

use crate::common::{flow_cli, mariadb_available, postgres_available, temp_dir, unwrapped};
use mysql::prelude::Queryable;

const PG_TEST: &str = "postgres://postgres@127.0.0.1:5432/test";
const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

fn sqlite_count(db: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap()
}

/// The rows of the stage named `stage` in a printed summary table (its `rows out` column).
fn summary_rows(stdout: &str, stage: &str) -> i64 {
    let line = stdout.lines().find(|l| l.split_whitespace().next() == Some(stage)).expect("stage in summary");
    line.split_whitespace().nth(3).unwrap().replace(',', "").parse().unwrap()
}

#[test]
fn every_example_runs_and_its_summary_names_the_outputs() {
    let dir = temp_dir();
    let out = dir.path().display().to_string();
    let var = format!("OUT={out}");

    let (code, stdout, stderr) = flow_cli(&["run", "pipelines/demo.flow", "--var", &var, "--var", "ROWS=5000"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("sink clean->orders         -> table orders in sqlite {out}/warehouse.db\n")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("sink clean->orders.parquet -> file {out}/orders.parquet\n")), "{stdout}");
    let header = stdout.lines().next().unwrap();
    assert!(header.ends_with("rows/s publish s"), "{header}");
    assert_eq!(sqlite_count(&dir.path().join("warehouse.db"), "orders"), summary_rows(&stdout, "clean->orders"));
    // The ledger says when the publish happened: after every partition was committed.
    let ledger = rusqlite::Connection::open(dir.path().join("warehouse.db")).unwrap();
    let (last_partition, published): (String, String) = ledger
        .query_row(
            "SELECT (SELECT max(recorded_at) FROM _flow_ledger WHERE event = 'partition'), \
                    (SELECT max(recorded_at) FROM _flow_ledger WHERE event = 'publish')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(published >= last_partition, "publish recorded at {published}, before partition {last_partition}");

    let (code, stdout, stderr) = flow_cli(&["run", "pipelines/csv_to_sqlite.flow", "--var", &var]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("-> table customers in sqlite {out}/crm.db\n")), "{stdout}");
    assert_eq!(sqlite_count(&dir.path().join("crm.db"), "customers"), summary_rows(&stdout, "active->customers"));

    if !postgres_available() {
        return;
    }
    // The example's table is created by the test helper (scripts/example-data.sql).
    let (code, stdout, stderr) = flow_cli(&["run", "pipelines/postgres_to_sqlite.flow", "--var", &var]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(sqlite_count(&dir.path().join("copy.db"), "orders"), 20_000);
}

/// `flow copy ... --table public.flow_example_orders` into SQLite (no schemas) and MariaDB (the
/// URL's database) writes table `flow_example_orders`; PostgreSQL to PostgreSQL keeps the schema.
#[test]
fn copy_of_a_schema_qualified_table_lands_where_the_target_can_hold_it() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let dir = temp_dir();
    let lite = dir.path().join("pg.db");
    let lite_url = format!("sqlite://{}", lite.display());
    let table = "public.flow_example_orders";

    let (code, stdout, _) = flow_cli(&["copy", PG_TEST, &lite_url, "--table", table, "--emit"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("  sink data -> dst.table(\"flow_example_orders\") { mode replace }\n"), "{stdout}");
    let (code, stdout, stderr) = flow_cli(&["copy", "-q", PG_TEST, &lite_url, "--table", table]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(sqlite_count(&lite, "flow_example_orders"), 20_000);

    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS flow_example_orders").unwrap();
    let (code, stdout, stderr) = flow_cli(&["copy", "-q", PG_TEST, MY, "--table", table]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let n: i64 = my.query_first("SELECT count(*) FROM flow_test.flow_example_orders").unwrap().unwrap();
    assert_eq!(n, 20_000);

    // From MariaDB, `db.table` is the source's database: the SQLite target is the table alone.
    let (code, stdout, stderr) =
        flow_cli(&["copy", "-q", MY, &lite_url, "--table", "flow_test.flow_example_orders", "--mode", "replace"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(sqlite_count(&lite, "flow_example_orders"), 20_000);

    let (code, stdout, _) = flow_cli(&["copy", PG_TEST, PG, "--table", table, "--emit"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("  sink data -> dst.table(\"public.flow_example_orders\") { mode replace }\n"), "{stdout}");
}

#[test]
fn a_sqlite_table_named_with_a_schema_is_refused_at_check() {
    let dir = temp_dir();
    let file = dir.path().join("s.flow");
    std::fs::write(
        &file,
        "let g = generate(rows: 5)\nlet db = sqlite(\"x.db\")\npipeline p {\n  source s = g.table(\"orders\")\n  sink s -> db.table(\"public.orders\")\n}\n",
    )
    .unwrap();
    let (code, _, stderr) = flow_cli(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    let text = unwrapped(&stderr);
    assert!(text.contains("× a SQLite file has no schema `public`"), "{text}");
    assert!(
        text.contains("help: a SQLite file is one database: name the table without the schema, e.g. \"orders\""),
        "{text}"
    );
    assert!(!dir.path().join("x.db").exists(), "check creates no file");
}

#[test]
fn a_misspelled_connection_kind_gets_one_message_and_a_suggestion() {
    let dir = temp_dir();
    let file = dir.path().join("k.flow");
    std::fs::write(&file, "let db = sqlit(\"x.db\")\n").unwrap();
    let (code, _, stderr) = flow_cli(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    let text = unwrapped(&stderr);
    assert!(text.contains("× unknown connection kind `sqlit`"), "{text}");
    assert!(
        text.contains(
            "help: did you mean `sqlite`? connections are postgres, mysql, sqlite, csv, parquet, generate, profile"
        ),
        "{text}"
    );
    assert_eq!(text.matches("parquet").count(), 1, "the kinds are listed once: {text}");
}

/// A run that fails before any stage ran prints no empty table; one that fails while writing
/// says which sinks were not published.
#[test]
fn a_failed_run_says_what_was_not_published() {
    let dir = temp_dir();
    let out = format!("OUT={}", dir.path().display());
    let file = dir.path().join("f.flow");
    std::fs::write(
        &file,
        "let g = generate(rows: 1000)\nlet db = sqlite(\"${OUT}/f.db\")\npipeline p {\n  source s = g.table(\"orders\")\n  transform t = s | derive x = 1 / (id - 500)\n  sink t -> db.table(\"t\")\n}\n",
    )
    .unwrap();
    let (code, stdout, _) = flow_cli(&["run", "-q", file.to_str().unwrap(), "--var", &out]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains(&format!("sink t->t -> table t in sqlite {}/f.db (not published)\n", dir.path().display())),
        "{stdout}"
    );
    assert!(stdout.ends_with("s\n") && stdout.contains("pipeline p: FAILED in "), "{stdout}");

    // Unreachable at run time: no stage ran, so no table header.
    let file = dir.path().join("u.flow");
    std::fs::write(
        &file,
        "let pg = postgres(\"postgres://u@127.0.0.1:1/db\")\nlet db = sqlite(\"${OUT}/u.db\")\npipeline p {\n  source s = pg.table(\"t\")\n  sink s -> db.table(\"t\")\n}\n",
    )
    .unwrap();
    let (code, stdout, stderr) =
        flow_cli(&["run", "-q", "--connect-retries", "0", file.to_str().unwrap(), "--var", &out]);
    assert_eq!(code, 1, "{stderr}");
    assert!(!stdout.contains("rows in"), "{stdout}");
    assert!(stdout.starts_with("pipeline p: FAILED in "), "{stdout}");
}

/// A failed `flow copy` names the command that continues it (`flow copy` has no file), and that
/// command works: the same copy with `--resume` keeps the committed partitions and finishes.
#[test]
fn a_failed_copy_names_a_resume_command_that_works() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = crate::common::runtime();
    let pg = rt.block_on(flow::connect::postgres::connect(PG)).unwrap();
    rt.block_on(pg.batch_execute(
        "DROP TABLE IF EXISTS public.i13_resume; CREATE TABLE public.i13_resume (id int PRIMARY KEY, n numeric); \
         INSERT INTO public.i13_resume SELECT g, g / 10.0 FROM generate_series(1, 1000) g; \
         UPDATE public.i13_resume SET n = 'NaN' WHERE id = 990",
    ))
    .unwrap();
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS i13_resume").unwrap();
    let args = ["copy", "-q", PG, MY, "--table", "public.i13_resume", "--partition-by", "id", "--partitions", "4"];
    let (code, stdout, stderr) = flow_cli(&args);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "the partitions committed so far are kept: the same `flow copy` command with `--resume` continues this run"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("flow run FILE"), "{stderr}");
    // `flow copy` has no `on error`: the hint says how to get one (issue 18).
    assert!(
        stderr.contains(
            "; to load the other rows, write this copy as a .flow file (the same `flow copy` command with `--emit`) \
             and give its sink `on error skip` or `on error reject to dst.table(\"rejects\")`; the partitions"
        ),
        "{stderr}"
    );
    rt.block_on(pg.batch_execute("UPDATE public.i13_resume SET n = 99 WHERE id = 990")).unwrap();
    let mut resumed = args.to_vec();
    resumed.push("--resume");
    let (code, stdout, stderr) = flow_cli(&resumed);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("(resumed run "), "{stdout}");
    let (n, sum): (i64, String) =
        my.query_first("SELECT count(*), CAST(sum(n) AS CHAR) FROM i13_resume").unwrap().unwrap();
    assert_eq!(n, 1000);
    // 0.1 + 0.2 + ... + 100.0 = 50050.0, with row 990 now 99 instead of 99.0: the same sum.
    assert!(sum.starts_with("50050.0"), "{sum}");
}

/// A transform that keeps some columns of a CSV source, in any order, with and without a
/// header line (found by a newcomer: `select id, name` failed with "line 2 has 6 fields, the
/// header has 2").
#[test]
fn a_csv_source_can_be_narrowed_and_reordered() {
    let dir = temp_dir();
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("abc.csv"), "a,b,c\r\n1,x,3\r\n4,,6\r\n").unwrap();
    std::fs::write(dir.path().join("nh.csv"), "1,x,3\n4,y,6\n").unwrap();
    let file = dir.path().join("narrow.flow");
    std::fs::write(
        &file,
        format!(
            "let db = sqlite(\"{d}/n.db\")\npipeline p {{\n  source s = csv(\"{d}/abc.csv\", header: true)\n  \
             source h = csv(\"{d}/nh.csv\", header: false)\n  \
             transform t = s | drop b | filter c > 3\n  transform u = s | select c, a\n  \
             transform v = h | select column_3, column_2\n  \
             sink t -> db.table(\"t\") {{ mode replace }}\n  sink u -> csv(\"{d}/ca.csv\")\n  \
             sink v -> db.table(\"v\") {{ mode replace }}\n}}\n"
        ),
    )
    .unwrap();
    let (code, stdout, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let db = rusqlite::Connection::open(dir.path().join("n.db")).unwrap();
    let t: Vec<(i64, i64)> = db
        .prepare("SELECT a, c FROM t")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(t, [(4, 6)]);
    let v: Vec<(i64, String)> = db
        .prepare("SELECT column_3, column_2 FROM v ORDER BY column_3")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(v, [(3, "x".to_string()), (6, "y".to_string())]);
    assert_eq!(std::fs::read_to_string(dir.path().join("ca.csv")).unwrap(), "c,a\n3,1\n6,4\n");
}

/// A whole-database copy never takes Flow's own tables: the source's `_flow_ledger` (written
/// there by an earlier copy into that database) must not overwrite the target's ledger.
#[test]
fn a_whole_database_copy_leaves_flow_ledgers_alone() {
    if !postgres_available() {
        return;
    }
    let rt = crate::common::runtime();
    let pg = rt.block_on(flow::connect::postgres::connect(PG)).unwrap();
    rt.block_on(pg.batch_execute(
        "DROP SCHEMA IF EXISTS i13_ledger CASCADE; CREATE SCHEMA i13_ledger; \
         CREATE TABLE i13_ledger.src (id int PRIMARY KEY, name text); \
         INSERT INTO i13_ledger.src SELECT g, 'n' || g FROM generate_series(1, 50) g",
    ))
    .unwrap();
    // An earlier copy into the schema leaves a ledger there.
    let (code, out, err) =
        flow_cli(&["copy", "-q", PG, PG, "--query", "SELECT * FROM i13_ledger.src", "--table", "i13_ledger.dst"]);
    assert_eq!(code, 0, "{out}{err}");
    let ledgers: i64 = rt.block_on(pg.query_one("SELECT count(*) FROM i13_ledger._flow_ledger", &[])).unwrap().get(0);
    assert!(ledgers > 0);
    let dir = temp_dir();
    let lite = format!("sqlite://{}", dir.path().join("all.db").display());
    let (code, out, _) = flow_cli(&["copy", PG, &lite, "--all-tables", "--include", "i13_ledger.*", "--emit"]);
    assert_eq!(code, 0, "{out}");
    let file = dir.path().join("all.flow");
    std::fs::write(&file, &out).unwrap();
    let (code, explain, err) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(!explain.contains("_flow_ledger"), "{explain}");
    let (code, out, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let db = rusqlite::Connection::open(dir.path().join("all.db")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["_flow_ledger", "dst", "src"]);
    let foreign: i64 = db
        .query_row("SELECT count(*) FROM _flow_ledger WHERE sink = 'data->i13_ledger.dst'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(foreign, 0, "the source's ledger rows were copied");
}

/// `flow copy --emit` keeps secrets out of the file it prints: the password becomes
/// `${FLOW_SOURCE_PASSWORD}`, stderr says so, and the file runs once the variable is set.
#[test]
fn emitted_copies_hold_no_password_and_run_with_the_variable() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    let lite = format!("sqlite://{}", dir.path().join("e.db").display());
    let src = "postgres://postgres:s3cr3t@127.0.0.1:5432/test";
    let (code, text, stderr) = flow_cli(&["copy", src, &lite, "--table", "public.flow_example_orders", "--emit"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!text.contains("s3cr3t") && !stderr.contains("s3cr3t"), "{text}{stderr}");
    assert!(
        text.contains("let src = postgres(\"postgres://postgres:${FLOW_SOURCE_PASSWORD}@127.0.0.1:5432/test\")\n"),
        "{text}"
    );
    assert_eq!(
        stderr,
        "note: the password is not written into the file: set FLOW_SOURCE_PASSWORD (--var NAME=VALUE or the \
         environment) when you run it, written as in the URL (percent-encoded: `/` as %2F, `@` as %40, `%` as %25)\n"
    );
    let file = dir.path().join("e.flow");
    std::fs::write(&file, &text).unwrap();
    let (code, _, stderr) = flow_cli(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 2, "an unset variable is an error: {stderr}");
    assert!(stderr.contains("FLOW_SOURCE_PASSWORD"), "{stderr}");
    let (code, out, stderr) =
        crate::common::flow_cli_env(&["run", "-q", file.to_str().unwrap()], &[("FLOW_SOURCE_PASSWORD", "s3cr3t")]);
    assert_eq!(code, 0, "{out}{stderr}");
    assert!(!out.contains("s3cr3t") && !stderr.contains("s3cr3t"));
    assert_eq!(sqlite_count(&dir.path().join("e.db"), "flow_example_orders"), 20_000);
}

/// Appending to a SQLite table someone else created: text into a column SQLite gives INTEGER,
/// REAL or NUMERIC affinity would be changed on the way in (`00123` becomes 123), so it is
/// refused before anything is read, naming the column; a cast in the transform is the way.
#[test]
fn text_into_a_number_column_of_an_existing_sqlite_table_is_refused() {
    let dir = temp_dir();
    let db = dir.path().join("exist.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE sheet (code INTEGER, name TEXT, amount REAL)")
        .unwrap();
    std::fs::write(dir.path().join("sheet.csv"), "code,name,amount\n00123,a,12.5\n0042,b,0.25\n").unwrap();
    let file = |steps: &str| {
        let path = dir.path().join("append.flow");
        std::fs::write(
            &path,
            format!(
                "let db = sqlite(\"{}\")\npipeline p {{\n  source s = csv(\"{}\", header: true)\n  \
                 transform t = s | {steps}\n  sink t -> db.table(\"sheet\") {{ mode append }}\n}}\n",
                db.display(),
                dir.path().join("sheet.csv").display()
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let (code, stdout, stderr) = flow_cli(&["run", "-q", &file("select code, name, amount")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        unwrapped(&stderr).contains(&format!(
            "column `code` of the existing table sheet in {} is declared `INTEGER` (INTEGER affinity) and Flow \
             writes Utf8 into it: SQLite would store numeric-looking text as a number (`'00123'` becomes 123)",
            db.display()
        )),
        "{stderr}"
    );
    assert_eq!(sqlite_count(&db, "sheet"), 0);
    let (code, stdout, stderr) = flow_cli(&["run", "-q", &file("cast code as bigint")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: Vec<(i64, String, f64)> = conn
        .prepare("SELECT code, name, amount FROM sheet ORDER BY code")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, [(42, "b".to_string(), 0.25), (123, "a".to_string(), 12.5)]);
    // A decimal the REAL column would round is refused by row, value and reason.
    std::fs::write(
        dir.path().join("sheet.csv"),
        "code,name,amount
7,c,1234567890123456.78
",
    )
    .unwrap();
    let (code, stdout, stderr) = flow_cli(&["run", "-q", &file("cast code as bigint")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        unwrapped(&stderr).contains(
            "cannot write row 1, column amount = 1234567890123456.78: 1234567890123456.78 has 18 significant digits; \
             the existing column is declared `REAL`, which SQLite stores as an 8-byte float (15 digits)"
        ),
        "{stderr}"
    );
    assert_eq!(sqlite_count(&db, "sheet"), 2);
}

/// A spreadsheet header with an empty name (a trailing comma) or two names that differ only in
/// case is refused by `check`, naming the columns, instead of failing at run time with each
/// target's own error.
#[test]
fn spreadsheet_headers_no_target_can_take_are_refused_at_check() {
    let dir = temp_dir();
    for (csv, expected) in [
        (
            "id,Name,total,\n1,a,2,\n",
            "has no name for column 4; name it in the file, or read the file with header: false",
        ),
        (
            "id,Name,name,total\n1,a,b,2\n",
            "names column 3 `name` and column 2 `Name`: the same name to SQLite and MySQL",
        ),
    ] {
        std::fs::write(dir.path().join("h.csv"), csv).unwrap();
        let file = dir.path().join("h.flow");
        std::fs::write(
            &file,
            format!(
                "let db = sqlite(\"{0}/h.db\")\npipeline p {{\n  source s = csv(\"{0}/h.csv\", header: true)\n  \
                 sink s -> db.table(\"h\")\n}}\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let (code, _, stderr) = flow_cli(&["check", file.to_str().unwrap()]);
        assert_eq!(code, 2, "{stderr}");
        assert!(unwrapped(&stderr).contains(expected), "{stderr}");
    }
}

/// `--query` on a file source was silently ignored (the whole file was copied): refused.
#[test]
fn a_query_on_a_file_source_is_refused() {
    let (code, out, err) =
        flow_cli(&["copy", "a.csv", "sqlite://x.db", "--table", "t", "--query", "SELECT 1", "--emit"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.starts_with("error: --query reads from a database source; a file is read whole"), "{err}");
}
