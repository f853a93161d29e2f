//! A failed run says what failed as data: the `--report` JSON's `failure` object holds the
//! stable code and the stage, partition, row and column it happened at, beside the unchanged
//! `error` text (the line `flow run` prints). Each test runs a real pipeline that fails: a value
//! a CSV source cannot read, a value an existing SQLite column would round, a NULL into a
//! PostgreSQL `NOT NULL` column, a target missing under `create never`, an upsert on keys no
//! PostgreSQL constraint matches. The sources are directories of two CSV files, one partition
//! each, with the bad value in row 2 of the second file: partition 1, row 2.

use serde_json::{Value, json};

use crate::common::{PG_TEST_URL, error_lines, flow_cli, pg_exec, pg_rows, postgres_available, rows, temp_dir, write};

/// Runs `flow run -q FILE --report REPORT`, which must fail; returns the report and the error
/// line `flow run` printed (without `error[CODE]: `; the code printed is the report's).
fn failed_run(dir: &std::path::Path, flow: &str) -> (Value, String) {
    let file = write(dir, "p.flow", flow);
    let report = dir.join("report.json");
    let (code, _, stderr) = flow_cli(&["run", "-q", &file, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    let (printed_code, printed) = errors.into_iter().next().unwrap();
    assert_eq!(report["failure"]["code"], printed_code.as_str(), "{stderr}");
    (report, printed)
}

/// Two CSV files in `dir/in`: `a.csv` is fine, `b.csv` has `bad` in row 2's `amount`.
fn csv_parts(dir: &std::path::Path, bad: &str) -> String {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.csv"), "id,name,amount\n1,a,1.50\n2,b,2.50\n").unwrap();
    std::fs::write(input.join("b.csv"), format!("id,name,amount\n3,c,3.50\n4,d,{bad}\n")).unwrap();
    input.to_str().unwrap().to_string()
}

#[test]
fn a_value_the_source_cannot_read_is_a_decode_failure_of_the_source_at_its_row_and_column() {
    let dir = temp_dir();
    let input = csv_parts(dir.path(), "abc");
    let out = dir.path().join("out.parquet");
    let (report, printed) = failed_run(
        dir.path(),
        &format!(
            "pipeline p {{\n  source orders = csv(\"{input}\")\n  sink out = orders -> parquet(\"{}\")\n}}\n",
            out.display()
        ),
    );
    assert_eq!(
        report["failure"],
        json!({"code": "flow::source::decode", "stage": "orders", "partition": 1, "row": 2, "column": "amount"}),
        "{report:#}"
    );
    assert_eq!(report["status"], "failed");
    assert_eq!(report["error"], printed.as_str());
    let expected = format!("sink `out` partition 1: cannot read {input}/b.csv: line 3, column `amount`: value 'abc' ");
    assert!(printed.starts_with(&expected), "{printed}\nexpected it to start with\n{expected}");
}

#[test]
fn a_row_an_existing_sqlite_column_would_change_is_refused_by_the_sink_at_its_row_and_column() {
    let dir = temp_dir();
    let input = csv_parts(dir.path(), "123456789012345678.90");
    let db = dir.path().join("out.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE orders (id INTEGER, name TEXT, amount REAL)")
        .unwrap();
    let flow = format!(
        "let lite = sqlite(\"{}\")\npipeline p {{\n  source orders = csv(\"{input}\", types: \"amount decimal(20,2)\")\n  \
         sink out = orders -> lite.table(\"orders\") {{ mode append }}\n}}\n",
        db.display()
    );
    let (report, printed) = failed_run(dir.path(), &flow);
    assert_eq!(
        report["failure"],
        json!({"code": "flow::sink::value_refused", "stage": "out", "partition": 1, "row": 2, "column": "amount"}),
        "{report:#}"
    );
    assert_eq!(report["error"], printed.as_str());
    assert!(
        printed.starts_with(
            "sink `out` partition 1: cannot write row 2, column amount = 123456789012345678.90: 123456789012345678.90 \
             has 19 significant digits; the existing column is declared `REAL`"
        ),
        "{printed}"
    );
    let count: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 0, "nothing is published");

    // Once the data is right, the run succeeds and its report has no `failure`.
    let input = csv_parts(dir.path(), "4.50");
    let file = write(dir.path(), "p.flow", &flow);
    let report = dir.path().join("report.json");
    let (code, _, stderr) = flow_cli(&["run", "-q", &file, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr} ({input})");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((report.get("failure"), &report["error"]), (None, &Value::Null), "{report:#}");
}

#[test]
fn a_null_into_a_postgres_not_null_column_is_refused_at_its_row_and_column() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.flow_failure_nn;
         CREATE TABLE public.flow_failure_nn (id bigint, name text NOT NULL, amount numeric(12,2));",
    );
    let dir = temp_dir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.csv"), "id,name,amount\n1,a,1.50\n2,b,2.50\n").unwrap();
    std::fs::write(input.join("b.csv"), "id,name,amount\n3,c,3.50\n4,,4.50\n").unwrap();
    let (report, printed) = failed_run(
        dir.path(),
        &format!(
            "let pg = postgres(\"{PG_TEST_URL}\")\npipeline p {{\n  source orders = csv(\"{}\")\n  \
             sink out = orders -> pg.table(\"public.flow_failure_nn\") {{ mode append }}\n}}\n",
            input.display()
        ),
    );
    assert_eq!(
        report["failure"],
        json!({"code": "flow::sink::value_refused", "stage": "out", "partition": 1, "row": 2, "column": "name"}),
        "{report:#}"
    );
    assert_eq!(report["error"], printed.as_str());
    assert!(
        printed.starts_with(&format!(
            "sink `out` partition 1: PostgreSQL at {PG_TEST_URL}: COPY failed for public.flow_failure_nn: null value \
             in column \"name\" of public.flow_failure_nn (checked while staging) violates not-null constraint"
        )),
        "{printed}"
    );
    assert_eq!(pg_rows("SELECT count(*)::text FROM public.flow_failure_nn"), rows(&[&["0"]]));
}

#[test]
fn a_missing_sqlite_target_under_create_never_is_refused_by_the_sink() {
    let dir = temp_dir();
    let input = csv_parts(dir.path(), "4.50");
    let db = dir.path().join("out.db");
    rusqlite::Connection::open(&db).unwrap().execute_batch("CREATE TABLE other (id INTEGER)").unwrap();
    let (report, printed) = failed_run(
        dir.path(),
        &format!(
            "let lite = sqlite(\"{}\")\npipeline p {{\n  source orders = csv(\"{input}\")\n  \
             sink out = orders -> lite.table(\"orders\") {{ create never }}\n}}\n",
            db.display()
        ),
    );
    assert_eq!(report["failure"], json!({"code": "flow::sink::refused", "stage": "out"}), "{report:#}");
    assert_eq!(report["error"], printed.as_str());
    assert_eq!(
        printed,
        format!("sink `out`: table orders does not exist in {} and the sink says `create never`", db.display())
    );
}

/// Upsert keys no constraint of the existing PostgreSQL target matches: `flow run` refuses them
/// while checking (exit 2), and, when the constraint goes between the check and the run, the
/// sink refuses them before it stages anything; nothing is written either way.
#[test]
fn an_upsert_on_keys_no_postgres_constraint_matches_is_a_no_upsert_key_failure_of_the_sink() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.flow_failure_upsert;
         CREATE TABLE public.flow_failure_upsert (id bigint, name text, amount numeric(12,2));",
    );
    let dir = temp_dir();
    let input = csv_parts(dir.path(), "4.50");
    // Its own pipeline name: the other tests of this file resume pipeline `p` from the same ledger.
    let text = format!(
        "let pg = postgres(\"{PG_TEST_URL}\")\npipeline upsert_keys {{\n  source orders = csv(\"{input}\")\n  \
         sink out = orders -> pg.table(\"public.flow_failure_upsert\") {{ mode upsert on (id) }}\n}}\n"
    );
    let message = "sink `out`: the upsert keys (id) match no primary key or unique constraint of \
                   public.flow_failure_upsert, which `ON CONFLICT` needs; add one (`ALTER TABLE \
                   public.flow_failure_upsert ADD UNIQUE (id)`) or upsert on the columns of an existing one";
    let file = write(dir.path(), "p.flow", &text);
    let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 2, "{stderr}");
    let stderr = crate::common::unwrapped(&stderr);
    assert!(stderr.contains("flow::sink::no_upsert_key") && stderr.contains(message), "{stderr}");

    // The key goes after the check: the sink's `prepare` refuses, before any staging table.
    pg_exec("ALTER TABLE public.flow_failure_upsert ADD CONSTRAINT flow_failure_upsert_id UNIQUE (id)");
    let rt = crate::common::runtime();
    let ctx = crate::common::context(&[]);
    let analysis = rt.block_on(flow::analyze::analyze("p.flow", &text, &ctx, flow::analyze::Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    pg_exec("ALTER TABLE public.flow_failure_upsert DROP CONSTRAINT flow_failure_upsert_id");
    let report = rt.block_on(flow::exec::run_pipeline(&analysis.resolved[0], &flow::exec::RunOptions::default()));
    assert_eq!(report.failure.as_ref().map(|f| f.code), Some("flow::sink::no_upsert_key"), "{report:?}");
    let error = report.error.unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "sink `out`: PostgreSQL at {PG_TEST_URL}: the upsert keys (id) match no primary key or unique constraint"
        )),
        "{error}"
    );
    assert_eq!(pg_rows("SELECT count(*)::text FROM public.flow_failure_upsert"), rows(&[&["0"]]));
    let staging = pg_rows(
        "SELECT count(*)::text FROM pg_tables WHERE tablename LIKE '\\_flow\\_stage\\_flow\\_failure\\_upsert%'",
    );
    assert_eq!(staging, rows(&[&["0"]]));
}

/// A publish the target refuses (a view depends on the table `mode replace` drops) fails with
/// every partition staged: the hint says to fix the cause and resume, and the resume publishes
/// the staged rows once the view is gone.
#[test]
fn a_refused_publish_keeps_the_staged_rows_for_a_resume_after_the_fix() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.flow_failure_view CASCADE;
         CREATE TABLE public.flow_failure_view (id bigint, name text, amount numeric(12,2));
         CREATE VIEW public.flow_failure_view_v AS SELECT id FROM public.flow_failure_view;",
    );
    let dir = temp_dir();
    let input = csv_parts(dir.path(), "4.50");
    // Its own pipeline name: `--resume` takes the newest unfinished run of the pipeline in the
    // ledger, which the other PostgreSQL tests of this file (pipeline `p`) share.
    let (report, printed) = failed_run(
        dir.path(),
        &format!(
            "let pg = postgres(\"{PG_TEST_URL}\")\npipeline refused_publish {{\n  source orders = csv(\"{input}\")\n  \
             sink out = orders -> pg.table(\"public.flow_failure_view\") {{ mode replace }}\n}}\n"
        ),
    );
    assert_eq!(report["failure"]["stage"], "out", "{report:#}");
    let file = dir.path().join("p.flow");
    assert!(
        printed.ends_with(&format!(
            "; every partition is staged and kept: once the cause is fixed, `flow run {} --resume` publishes them \
             without reading the sources again",
            file.display()
        )),
        "{printed}"
    );
    pg_exec("DROP VIEW public.flow_failure_view_v");
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap(), "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        pg_rows("SELECT id::text, amount::text FROM public.flow_failure_view ORDER BY id"),
        rows(&[&["1", "1.50"], &["2", "2.50"], &["3", "3.50"], &["4", "4.50"]])
    );
}
