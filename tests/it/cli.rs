//! The `flow` binary as a user runs it: exit codes, the JSON report, `copy --emit`, and no
//! password in any output.

use std::process::Command;

fn flow(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flow")).args(args).output().expect("flow runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_passes_on_the_examples() {
    for file in ["pipelines/demo.flow", "pipelines/csv_to_sqlite.flow", "pipelines/postgres_to_sqlite.flow"] {
        let (code, stdout, stderr) = flow(&["check", "--offline", file]);
        assert_eq!(code, 0, "{file}: {stderr}");
        assert!(stdout.starts_with(&format!("{file}: ok (1 pipeline(s), ")), "{stdout}");
    }
}

#[test]
fn validation_errors_exit_2_and_point_into_the_file() {
    let dir = crate::common::temp_dir();
    let file = dir.path().join("bad.flow");
    std::fs::write(&file, "let db = sqlite(\"x.db\")\npipeline p {\n  source s = db.table(\"t\") { batch 0 }\n  sink s -> db.table(\"u\")\n}\n").unwrap();
    let (code, _, stderr) = flow(&["check", "--offline", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad.flow:3:36"), "{stderr}");
    assert!(stderr.contains("the batch size must be a whole number greater than 0, got `0`"), "{stderr}");
    let (code, _, stderr) = flow(&["check", "/definitely/missing.flow"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.trim(), "error: cannot read /definitely/missing.flow: No such file or directory (os error 2)");
    let (code, _, _) = flow(&["run"]);
    assert_eq!(code, 2, "a usage error exits 2");
}

#[test]
fn runtime_failure_exits_1_and_the_report_says_why() {
    let dir = crate::common::temp_dir();
    let file = dir.path().join("fail.flow");
    let report = dir.path().join("report.json");
    std::fs::write(
        &file,
        "let g = generate(rows: 1000)\nlet db = sqlite(\"${OUT}/f.db\")\npipeline p {\n  source s = g.table(\"orders\")\n  transform t = s | derive x = 1 / (id - 500)\n  sink t -> db.table(\"t\")\n}\n",
    )
    .unwrap();
    let out = format!("OUT={}", dir.path().display());
    let (code, stdout, stderr) =
        flow(&["run", "-q", file.to_str().unwrap(), "--var", &out, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("Divide by zero"), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["pipeline"], "p");
    assert_eq!(json["status"], "failed");
    assert!(json["error"].as_str().unwrap().contains("Divide by zero"));
    // DataFusion's own error, named after the transform it happened in.
    assert_eq!((&json["failure"]["code"], &json["failure"]["stage"]), (&"flow::run::failed".into(), &"t".into()));
    assert!(json["failure"]["partition"].is_u64(), "{json:#}");
    let kinds: Vec<&str> = json["stages"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["source", "transform", "sink"]);
    // Every documented key is there, whether it applies or not (`failure`: the run failed).
    let keys: std::collections::BTreeSet<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let documented = [
        "pipeline",
        "run_id",
        "status",
        "seconds",
        "error",
        "failure",
        "resumed",
        "partitions_skipped",
        "already_complete",
        "notes",
        "watermarks",
        "tables",
        "stages",
    ];
    assert_eq!(keys, documented.into_iter().collect());
    let stage_keys: std::collections::BTreeSet<&str> =
        json["stages"][2].as_object().unwrap().keys().map(String::as_str).collect();
    let documented = [
        "name",
        "kind",
        "rows_in",
        "rows_out",
        "rows_filtered",
        "rows_rejected",
        "seconds",
        "rows_per_second",
        "target",
        "publish_seconds",
        "published",
        "partitions",
    ];
    assert_eq!(stage_keys, documented.into_iter().collect());
    let readme = std::fs::read_to_string("README.md").unwrap();
    for key in keys.iter().chain(&stage_keys) {
        assert!(readme.contains(&format!("\"{key}\"")), "README does not document the report key `{key}`");
    }
}

#[test]
fn run_writes_a_report_with_rows_per_stage() {
    let dir = crate::common::temp_dir();
    let report = dir.path().join("report.json");
    let out = format!("OUT={}", dir.path().display());
    let (code, stdout, stderr) = flow(&[
        "run",
        "-q",
        "pipelines/demo.flow",
        "--var",
        &out,
        "--var",
        "ROWS=1000",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("pipeline demo: ok in "), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["status"], "ok");
    let stages = json["stages"].as_array().unwrap();
    let by_name = |n: &str| stages.iter().find(|s| s["name"] == n).unwrap().clone();
    assert_eq!(by_name("orders")["rows_out"], 1000);
    let clean = by_name("clean");
    assert_eq!(clean["rows_in"], 1000);
    let kept = clean["rows_out"].as_u64().unwrap();
    assert_eq!(clean["rows_filtered"].as_u64().unwrap(), 1000 - kept);
    assert_eq!(by_name("clean->orders")["rows_out"].as_u64().unwrap(), kept);
    assert_eq!(by_name("clean->orders.parquet")["rows_out"].as_u64().unwrap(), kept);
    for s in stages {
        assert!(s["seconds"].is_number() && s["rows_in"].is_number());
    }
}

#[test]
fn copy_emits_the_equivalent_flow_file() {
    let (code, stdout, _) = flow(&[
        "copy",
        "postgres://u:p@db/shop",
        "sqlite://out/x.db",
        "--table",
        "public.orders",
        "--mode",
        "upsert",
        "--keys",
        "id",
        "--partition-by",
        "id",
        "--partitions",
        "4",
        "--emit",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "# Generated by `flow copy`.\nlet src = postgres(\"postgres://u:${FLOW_SOURCE_PASSWORD}@db/shop\")\nlet dst = sqlite(\"sqlite://out/x.db\")\n\npipeline copy {\n  source data = src.table(\"public.orders\") { partition by id into 4 }\n  sink data -> dst.table(\"orders\") { mode upsert on (id) }\n}\n"
    );
}

#[test]
fn copy_between_files_and_sqlite_round_trips() {
    let dir = crate::common::temp_dir();
    let parquet = dir.path().join("c.parquet");
    let db = dir.path().join("c.db");
    let csv = dir.path().join("back.csv");
    let (code, _, stderr) = flow(&["copy", "-q", "pipelines/data/customers.csv", parquet.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) =
        flow(&["copy", "-q", parquet.to_str().unwrap(), &format!("sqlite://{}", db.display()), "--table", "customers"]);
    assert_eq!(code, 0, "{stderr}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (n, lv): (i64, f64) = conn
        .query_row("SELECT count(*), sum(lifetime_value) FROM customers", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(n, 200);
    let original = std::fs::read_to_string("pipelines/data/customers.csv").unwrap();
    let expected: f64 = original.lines().skip(1).map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap()).sum();
    assert!((lv - expected).abs() < 1e-6, "{lv} vs {expected}");
    let (code, _, stderr) = flow(&["copy", "-q", parquet.to_str().unwrap(), csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 201);
}

/// A sink that writes the table its pipeline reads (the same SQLite file, however the path is
/// spelled) is a warning in a .flow file, where a transform may rewrite a table on purpose, and
/// an error in `flow copy`, which has none: the table is left as it was.
#[test]
fn writing_the_table_a_pipeline_reads_is_a_warning_and_a_copy_onto_itself_is_refused() {
    let dir = crate::common::temp_dir();
    let db = dir.path().join("same.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b');")
        .unwrap();
    let path = db.to_str().unwrap();
    let dotted = format!("sqlite://{}/./same.db", dir.path().display());
    let (code, out, err) = flow(&["copy", "-q", path, &dotted, "--table", "t", "--mode", "append"]);
    assert_eq!(code, 2, "{out}\n{err}");
    let err = crate::common::unwrapped(&err);
    assert!(
        err.contains(
            "sink `data->t` writes table t, which source `data` reads on the same server: mode append adds the rows \
             it read again"
        ),
        "{err}"
    );
    assert!(
        err.contains("the source and the target are the same: name another target table, schema or server"),
        "{err}"
    );
    let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);

    let file = dir.path().join("rewrite.flow");
    std::fs::write(
        &file,
        format!(
            "let db = sqlite(\"{path}\")\npipeline p {{\n  source s = db.table(\"t\")\n  transform u = s | filter id > 1\n  \
             sink out = u -> db.table(\"t\") {{ mode replace }}\n}}\n"
        ),
    )
    .unwrap();
    let (code, out, err) = flow(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        crate::common::unwrapped(&err).contains(
            "sink `out` writes table t, which source `s` reads on the same server: mode replace makes the table again from the pipeline's columns, without its keys, indexes and \
             constraints"
        ) && err.contains("⚠") && err.contains("flow::sink::writes_its_source"),
        "{err}"
    );
    // Another table of the same file is no such write.
    std::fs::write(&file, std::fs::read_to_string(&file).unwrap().replace("db.table(\"t\") {", "db.table(\"t2\") {"))
        .unwrap();
    let (code, out, err) = flow(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("writes_its_source"), "{err}");
}

/// A server URL without a database is a warning: PostgreSQL would use the user's database and
/// MySQL none; a `dbname` option names one.
#[test]
fn a_server_url_without_a_database_is_a_warning() {
    let dir = crate::common::temp_dir();
    let file = dir.path().join("nodb.flow");
    let text = "let pg = postgres(\"postgres://loader:pw@127.0.0.1:1\")\nlet my = mysql(\"mysql://root@127.0.0.1:1/\")\n\
                let ok = postgres(\"postgres://loader@127.0.0.1:1?dbname=shop\")\npipeline p {\n  source s = \
                pg.table(\"t\")\n  source o = ok.table(\"t\")\n  sink s -> my.table(\"shop.t\")\n  sink o -> \
                my.table(\"shop.u\")\n}\n";
    std::fs::write(&file, text).unwrap();
    let (code, out, err) = flow(&["check", "--offline", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let err = crate::common::unwrapped(&err);
    assert!(
        err.contains(
            "`postgres://loader:***@127.0.0.1:1` names no database: PostgreSQL connects to the database named like \
             the user (`loader`)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "`mysql://root@127.0.0.1:1/` names no database: an unqualified table has no database and fails when the \
             run reaches it"
        ),
        "{err}"
    );
    assert_eq!(err.matches("flow::connection::no_database").count(), 2, "{err}");
    assert!(!err.contains("hunter2") && !err.contains(":pw@"), "{err}");
}

/// A database file given where the pipeline file belongs is named as such, not as a UTF-8 error.
#[test]
fn a_binary_file_given_as_the_pipeline_is_said_to_be_no_flow_file() {
    let dir = crate::common::temp_dir();
    let db = dir.path().join("warehouse.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (x'ff00fe');")
        .unwrap();
    for command in ["status", "check", "fmt"] {
        let (code, out, err) = flow(&[command, db.to_str().unwrap()]);
        assert_eq!(code, 2, "{command}: {out}\n{err}");
        assert!(
            err.contains(&format!(
                "{} is not a .flow file: it is not UTF-8 text (a database or another binary file?); name the pipeline \
                 file",
                db.display()
            )),
            "{command}: {err}"
        );
    }
}

#[test]
fn explain_never_prints_a_password() {
    let dir = crate::common::temp_dir();
    let file = dir.path().join("secret.flow");
    std::fs::write(
        &file,
        "let pg = postgres(\"postgres://loader:hunter2@127.0.0.1:1/db\")\nlet db = sqlite(\"x.db\")\npipeline p {\n  source s = pg.table(\"t\")\n  sink s -> db.table(\"t\")\n}\n",
    )
    .unwrap();
    for format in ["text", "json"] {
        let (code, stdout, stderr) = flow(&["explain", file.to_str().unwrap(), "--format", format]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"), "{stdout}{stderr}");
        assert!(stdout.contains("postgres://loader:***@127.0.0.1:1/db"), "{stdout}");
    }
}

/// A slow pipeline into SQLite (mode replace over an existing table), for cancellation tests.
fn slow_pipeline(dir: &std::path::Path, pipeline_timeout: &str) -> std::path::PathBuf {
    let file = dir.join("slow.flow");
    std::fs::write(
        &file,
        format!(
            "let g = generate(rows: 100000, seed: 1, rate: 2000)\nlet db = sqlite(\"${{OUT}}/s.db\")\npipeline p {{\n  {pipeline_timeout}\n  source s = g.table(\"orders\") {{ batch 100 }}\n  sink s -> db.table(\"orders\") {{ mode replace; batch 100 }}\n}}\n"
        ),
    )
    .unwrap();
    let conn = rusqlite::Connection::open(dir.join("s.db")).unwrap();
    conn.execute_batch("CREATE TABLE orders (id INTEGER); INSERT INTO orders VALUES (42);").unwrap();
    file
}

fn assert_target_untouched(dir: &std::path::Path) {
    let conn = rusqlite::Connection::open(dir.join("s.db")).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM orders")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(ids, [42], "the previous table must be intact");
    // What was committed stays, recorded as an unfinished run, for `--resume`.
    let (started, published): (i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE event = 'start'), count(*) FILTER (WHERE event = 'publish') FROM _flow_ledger",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((started, published), (1, 0));
}

#[test]
fn ctrl_c_cancels_cleanly() {
    let dir = crate::common::temp_dir();
    let file = slow_pipeline(dir.path(), "");
    let child = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["run", "-q", file.to_str().unwrap(), "--var", &format!("OUT={}", dir.path().display())])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "cancellation took {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error[flow::run::interrupted]: interrupted by Ctrl-C; nothing was published; the partitions committed so far are kept: \
             `flow run {} --var OUT={} --resume` continues this run",
            file.display(),
            dir.path().display()
        )),
        "{stderr}"
    );
    assert_target_untouched(dir.path());
}

#[test]
fn pipeline_timeout_cancels_cleanly() {
    let dir = crate::common::temp_dir();
    let file = slow_pipeline(dir.path(), "timeout 1s");
    let started = std::time::Instant::now();
    let (code, _, stderr) =
        flow(&["run", "-q", file.to_str().unwrap(), "--var", &format!("OUT={}", dir.path().display())]);
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "took {:?}", started.elapsed());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error[flow::run::timeout]: pipeline `p` exceeded its timeout of 1s; nothing was published"),
        "{stderr}"
    );
    assert_target_untouched(dir.path());
}

/// Issue 18 review: an unwritable `--report` was found only after the targets were published.
#[test]
fn an_unwritable_report_stops_the_run_before_anything_is_written() {
    let dir = crate::common::temp_dir();
    let out = dir.path().join("out");
    let file = crate::common::write(
        dir.path(),
        "r.flow",
        &format!(
            "let g = generate(rows: 10)\nlet lake = csv(\"{}\")\n\npipeline p {{\n  source s = g.table(\"orders\")\n  sink s -> lake.table(\"o\")\n}}\n",
            out.display()
        ),
    );
    let report = dir.path().join("missing-dir").join("r.json");
    let (code, stdout, stderr) = crate::common::flow_cli(&["run", "-q", &file, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains(&format!("cannot write the report to {}", report.display())), "{stderr}");
    assert!(stderr.contains("nothing was run"), "{stderr}");
    assert!(!out.join("o.csv").exists(), "the target was written");
}

/// Issue 18 review: `flow explain ... | head` panicked on the closed pipe (exit 101). The reader
/// going away is not a failure; and SIGPIPE stays ignored (servers and database sockets).
#[test]
fn a_closed_output_pipe_ends_flow_quietly() {
    use std::io::Read;
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/pipelines/demo.flow");
    let mut child = crate::common::flow_command(&["explain", demo, "--offline", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flow explain");
    drop(child.stdout.take()); // the reader goes away at once
    let mut stderr = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read");
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Issue 18 review: when a pipeline fails, the later ones of the file are named as not run, and
/// the report of a file of several pipelines is an array whatever the outcome.
#[test]
fn pipelines_after_a_failed_one_are_named_as_not_run() {
    let dir = crate::common::temp_dir();
    let out = dir.path().join("out");
    let file = crate::common::write(
        dir.path(),
        "two.flow",
        &format!(
            "let g = generate(rows: 10)\nlet out = csv(\"{}\")\n\npipeline a {{\n  source s = g.table(\"orders\")\n  transform t = s\n    | filter 1 / (id - id) > 0\n  sink t -> out.table(\"a\")\n}}\n\npipeline b {{\n  source s = g.table(\"orders\")\n  sink s -> out.table(\"b\")\n}}\n",
            out.display()
        ),
    );
    let report = dir.path().join("r.json");
    let (code, _, stderr) = crate::common::flow_cli(&["run", "-q", &file, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.ends_with("warning: pipeline `b` was not run: pipeline `a` failed before it\n"), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let runs = json.as_array().expect("an array for a file of two pipelines");
    assert_eq!((runs.len(), runs[0]["pipeline"].as_str(), runs[0]["status"].as_str()), (1, Some("a"), Some("failed")));
}

/// A stderr that cannot be written (a full device here; a closed pipe as in `2>&1 | head -2`
/// alike) loses the messages but keeps the exit code: 2 for a file that does not check, 1 for a
/// run that fails, never a panic's 101.
#[test]
fn an_unwritable_stderr_keeps_the_exit_code() {
    let dir = crate::common::temp_dir();
    let bad = crate::common::write(dir.path(), "bad.flow", "pipeline p {\n  source s = nowhere.table(\"t\")\n}\n");
    let failing = crate::common::write(
        dir.path(),
        "fails.flow",
        &format!(
            "let g = generate(rows: 10)\nlet out = csv(\"{}\")\npipeline a {{\n  source s = g.table(\"orders\")\n  \
             transform t = s\n    | filter 1 / (id - id) > 0\n  sink t -> out.table(\"a\")\n}}\n",
            dir.path().join("out").display()
        ),
    );
    for (args, expected) in [(vec!["check", bad.as_str()], 2), (vec!["run", failing.as_str()], 1)] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
        let status = crate::common::flow_command(&args).stderr(full).status().expect("flow runs");
        assert_eq!(status.code(), Some(expected), "flow {args:?}");
    }
}

/// `--resume` with no earlier run of the file's sinks (a first run, or a sink renamed by an
/// edit: its ledger name is `INPUT->TABLE`) says so, and reads everything.
#[test]
fn resume_with_nothing_recorded_says_it_reads_everything() {
    let dir = crate::common::temp_dir();
    let file = crate::common::write(
        dir.path(),
        "r.flow",
        &format!(
            "let g = generate(rows: 10)\nlet out = csv(\"{}\")\npipeline a {{\n  source s = g.table(\"orders\")\n  sink \
             s -> out.table(\"a\")\n}}\n",
            dir.path().join("out").display()
        ),
    );
    let (code, out, stderr) = crate::common::flow_cli(&["run", &file, "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        out.contains(
            "note: --resume found no earlier run of these sinks (a sink renamed by an edit of the file starts \
             afresh): this run reads everything"
        ),
        "{out}"
    );
    let (code, out, stderr) = crate::common::flow_cli(&["run", &file, "--resume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!out.contains("found no earlier run"), "the finished run is recorded: {out}");
}
