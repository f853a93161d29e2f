//! Progress for people and for orchestrators: `flow run --progress json` writes one JSON event
//! per line on stderr whose per-partition and per-stage rows add up to the run report's; a
//! failed run ends with a `failed` event carrying its code; without a terminal the progress is
//! plain lines without control characters; `--log-format json` makes the log lines JSON too,
//! without passwords. Resolving counts each source's rows for the bars: exactly for generated
//! rows, Parquet and SQLite counts, as an estimate for database statistics and CSV sizes.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{
    MY_TEST_URL, PG_TEST_URL, context, flow_cli, flow_cli_env, mariadb_available, my_exec, pg_exec, postgres_available,
    runtime, temp_dir, write,
};

/// Every stderr line as JSON; panics on a line that is not.
fn json_lines(stderr: &str) -> Vec<Value> {
    stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}\n{stderr}")))
        .collect()
}

/// The progress events (lines with an `event`) of pipeline `pipeline`.
fn events_of<'a>(lines: &'a [Value], pipeline: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l.get("event").is_some() && l["pipeline"] == pipeline).collect()
}

fn kind(e: &Value) -> &str {
    e["event"].as_str().unwrap_or_default()
}

/// Checks one pipeline's events against its run report: the order (the run first and last, each
/// stage around its partitions, each partition's start before its end, time never going back),
/// and that the rows of the partitions, of the stages and of the run add up to the report's.
fn check_events_against_report(events: &[&Value], report: &Value) {
    assert_eq!(kind(events[0]), "run_started", "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(kind(last), "run_finished", "{events:#?}");
    assert_eq!(last["status"], "ok");
    assert_eq!(last["run_id"], report["run_id"]);
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = events
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["ts"].as_str().unwrap()).expect("RFC 3339 ts"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "timestamps go back: {events:#?}");

    let position = |event: &str, stage: &str, partition: Option<u64>| {
        events.iter().position(|e| {
            kind(e) == event && e["stage"] == stage && partition.is_none_or(|p| e["partition"].as_u64() == Some(p))
        })
    };
    let stages = report["stages"].as_array().unwrap();
    let mut written = 0;
    for stage in stages {
        let name = stage["name"].as_str().unwrap();
        let rows = stage["rows_out"].as_u64().unwrap();
        let started = position("stage_started", name, None).unwrap_or_else(|| panic!("{name} started"));
        let finished = position("stage_finished", name, None).unwrap_or_else(|| panic!("{name} finished"));
        assert!(started < finished, "{name}: {events:#?}");
        assert_eq!(events[finished]["rows"], rows, "stage_finished rows of {name}");
        assert_eq!(events[started]["kind"], stage["kind"]);
        let partitions: Vec<u64> = events
            .iter()
            .filter(|e| kind(e) == "partition_finished" && e["stage"] == name)
            .map(|e| e["partition"].as_u64().unwrap())
            .collect();
        assert_eq!(partitions.len(), stage["partitions"].as_array().unwrap().len(), "partitions of {name}");
        assert_eq!(events[started]["partitions"], partitions.len(), "stage_started partitions of {name}");
        let mut sum = 0;
        for p in partitions {
            let start = position("partition_started", name, Some(p)).unwrap();
            let end = position("partition_finished", name, Some(p)).unwrap();
            assert!(started < start && start < end && end < finished, "{name}/{p}: {events:#?}");
            assert_eq!(events[end]["ok"], true);
            sum += events[end]["rows"].as_u64().unwrap();
        }
        assert_eq!(sum, rows, "partition rows of {name} add up to the report's rows_out");
        if stage["kind"] == "sink" {
            written += rows;
        }
    }
    assert_eq!(last["rows_written"], written);
    for e in events.iter().filter(|e| kind(e) == "rows") {
        assert!(e["rows"].as_u64().is_some() && e["estimated"].is_boolean(), "{e}");
    }
}

#[test]
fn json_progress_of_the_demo_adds_up_to_the_run_report() {
    let dir = temp_dir();
    let out = dir.path().to_str().unwrap();
    let report_path = dir.path().join("report.json");
    let (code, stdout, stderr) = flow_cli(&[
        "run",
        "pipelines/demo.flow",
        "--progress",
        "json",
        "--var",
        &format!("OUT={out}"),
        "--var",
        "ROWS=30000",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let lines = json_lines(&stderr);
    let events = events_of(&lines, "demo");
    assert_eq!(events.len(), lines.len(), "only events on stderr: {stderr}");
    check_events_against_report(&events, &report);
    // The generated source read every one of its rows; the sinks fewer (cancelled orders).
    let source = report["stages"].as_array().unwrap().iter().find(|s| s["name"] == "orders").unwrap();
    assert_eq!(source["rows_out"], 30000);
    // The summary table stays on stdout.
    assert!(stdout.contains("orders"), "{stdout}");
}

#[test]
fn json_progress_of_two_pipelines_and_a_partitioned_sqlite_source_adds_up() {
    let dir = temp_dir();
    let flow = write(
        dir.path(),
        "two.flow",
        r#"let g = generate(rows: 20000, seed: 7)
let db = sqlite("${OUT}/two.db")
let lake = parquet("${OUT}")

pipeline load {
  source s = g.table("orders")
  sink s -> db.table("orders") { mode replace }
}

pipeline spread {
  parallelism 2
  source o = db.table("orders") { partition by id into 4 }
  transform paid = o | filter paid
  sink paid -> lake.table("paid")
}
"#,
    );
    let report_path = dir.path().join("report.json");
    let out = format!("OUT={}", dir.path().display());
    let (code, stdout, stderr) =
        flow_cli(&["run", &flow, "--var", &out, "--progress", "json", "--report", report_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let reports: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let lines = json_lines(&stderr);
    for report in &reports {
        let pipeline = report["pipeline"].as_str().unwrap();
        check_events_against_report(&events_of(&lines, pipeline), report);
    }
    // The first pipeline ends before the second starts.
    let load_end = lines.iter().position(|e| e["pipeline"] == "load" && kind(e) == "run_finished").unwrap();
    let spread_start = lines.iter().position(|e| e["pipeline"] == "spread" && kind(e) == "run_started").unwrap();
    assert!(load_end < spread_start);
    let spread = events_of(&lines, "spread");
    let started = spread.iter().find(|e| kind(e) == "stage_started" && e["stage"] == "o").unwrap();
    assert_eq!(started["partitions"], 4);
}

#[test]
fn a_failed_run_ends_its_json_progress_with_the_failure_code() {
    let dir = temp_dir();
    let input = dir.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("a.csv"), "id,amount\n1,1.50\n2,2.50\n").unwrap();
    std::fs::write(input.join("b.csv"), "id,amount\n3,3.50\n4,abc\n").unwrap();
    let file = write(
        dir.path(),
        "p.flow",
        &format!(
            "pipeline p {{\n  source orders = csv(\"{}\")\n  sink out = orders -> parquet(\"{}\")\n}}\n",
            input.display(),
            dir.path().join("out.parquet").display()
        ),
    );
    let (code, _, stderr) = flow_cli(&["run", &file, "--progress", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let lines = json_lines(&stderr);
    let events = events_of(&lines, "p");
    assert_eq!(kind(events[0]), "run_started");
    let failed = events.last().unwrap();
    assert_eq!(kind(failed), "failed", "{stderr}");
    assert_eq!(failed["failure"]["code"], "flow::source::decode");
    assert_eq!(failed["failure"]["stage"], "orders");
    assert_eq!(failed["failure"]["partition"], 1);
    assert_eq!(failed["failure"]["row"], 2);
    assert_eq!(failed["failure"]["column"], "amount");
    assert!(failed["error"].as_str().unwrap().contains("'abc'"), "{failed}");
    assert!(!events.iter().any(|e| kind(e) == "run_finished"));
    // Every stage and partition that started is closed before `failed`, the failed ones with
    // `ok: false`.
    let key = |e: &Value| format!("{}/{}", e["stage"].as_str().unwrap_or_default(), e["partition"]);
    for (start, end) in [("stage_started", "stage_finished"), ("partition_started", "partition_finished")] {
        let mut started: Vec<String> = events.iter().filter(|e| kind(e) == start).map(|e| key(e)).collect();
        let mut ended: Vec<String> = events.iter().filter(|e| kind(e) == end).map(|e| key(e)).collect();
        started.sort();
        ended.sort();
        assert_eq!(started, ended, "{start} without {end}:\n{stderr}");
    }
    let orders = events.iter().find(|e| kind(e) == "stage_finished" && e["stage"] == "orders").unwrap();
    assert_eq!(orders["ok"], false, "{orders}");
    // The error is also a JSON log line, with its code.
    let logged = lines.iter().find(|l| l["level"] == "ERROR").expect("an error log line");
    assert_eq!(logged["code"], "flow::source::decode");
    assert_eq!(logged["pipeline"], "p");
    assert_eq!(logged["message"], failed["error"]);
}

/// A run long enough for several progress lines at `FLOW_PROGRESS_INTERVAL=0.1`.
fn plain_progress(extra: &[&str]) -> String {
    let dir = temp_dir();
    let out = format!("OUT={}", dir.path().display());
    let mut args = vec!["run", "pipelines/demo.flow", "--var", &out, "--var", "ROWS=600000"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = flow_cli_env(&args, &[("FLOW_PROGRESS_INTERVAL", "0.1")]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    stderr
}

#[test]
fn without_a_terminal_progress_is_plain_lines_without_control_characters() {
    for extra in [&[][..], &["--progress", "lines"][..]] {
        let stderr = plain_progress(extra);
        let lines: Vec<&str> = stderr.lines().collect();
        assert!(!lines.is_empty(), "no progress line ({extra:?})");
        for line in &lines {
            assert!(line.starts_with("[demo "), "{line:?}");
            assert!(line.contains("] run ") && line.contains(" | orders ") && line.contains(" | clean "), "{line:?}");
        }
        assert!(!stderr.contains('\x1b') && !stderr.contains('\r'), "control characters in {stderr:?}");
        // The generated source has an exact total: a share without `≈` while it runs, or done.
        assert!(
            lines.iter().any(|l| l.contains(" / 600,000 rows") || l.contains("orders done · 600,000 rows")),
            "{stderr}"
        );
        assert!(!stderr.contains("100%"), "{stderr}");
    }
}

#[test]
fn quiet_shows_nothing_and_cannot_be_combined_with_a_progress_format() {
    let dir = temp_dir();
    let out = format!("OUT={}", dir.path().display());
    let (code, _, stderr) = flow_cli(&["run", "-q", "pipelines/demo.flow", "--var", &out, "--var", "ROWS=1000"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, _, stderr) = flow_cli(&["run", "pipelines/demo.flow", "--progress", "none", "--var", &out]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let (code, _, stderr) = flow_cli(&["run", "-q", "--progress", "json", "pipelines/demo.flow"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn json_logs_give_each_problem_its_code_and_never_a_password() {
    let dir = temp_dir();
    // Nothing listens on port 9: the source cannot be described.
    let file = write(
        dir.path(),
        "p.flow",
        "let pg = postgres(\"postgres://flow:s3cr3t-pw@127.0.0.1:9/shop\")\npipeline p {\n  source s = pg.table(\"t\")\n  transform unused = s | filter true\n  sink s -> csv(\"out.csv\")\n}\n",
    );
    for args in [vec!["run", &file, "--log-format", "json"], vec!["run", &file, "--progress", "json"]] {
        let (code, _, stderr) = flow_cli(&args);
        assert_ne!(code, 0, "{stderr}");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
        let lines = json_lines(&stderr);
        assert!(!lines.is_empty());
        for line in &lines {
            // A progress event (with --progress json) or a log line.
            let time = if line.get("event").is_some() { &line["ts"] } else { &line["timestamp"] };
            assert!(time.as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()), "{line}");
            assert!(
                line.get("event").is_some() || (line["message"].is_string() && line["level"].is_string()),
                "{line}"
            );
        }
        let warnings: Vec<&Value> = lines.iter().filter(|l| l["level"] == "WARN").collect();
        assert_eq!(warnings.len(), 1, "only the unused transform's warning: {stderr}");
        assert_eq!(warnings[0]["code"], "flow::graph::unused_stage");
        assert_eq!(warnings[0]["location"], format!("{file}:4:13"));
        // The source that does not answer is said once, by the run's error.
        let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert_eq!(errors[0]["code"], "flow::connection::unreachable");
    }
    // As text, the same problems are rendered for people, still without the password.
    let (_, _, stderr) = flow_cli(&["run", &file]);
    assert!(!stderr.contains("s3cr3t") && stderr.contains("error"), "{stderr}");
    assert!(!stderr.trim_start().starts_with('{'), "{stderr}");
}

#[test]
fn resolving_counts_generated_parquet_sqlite_and_csv_rows() {
    let dir = temp_dir();
    let out = format!("OUT={}", dir.path().display());
    let report = dir.path().join("report.json");
    let args =
        ["run", "-q", "pipelines/demo.flow", "--var", &out, "--var", "ROWS=5000", "--report", report.to_str().unwrap()];
    let (code, _, stderr) = flow_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    // Both sinks of the demo hold the orders that were not cancelled.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let kept = report["stages"].as_array().unwrap().iter().find(|s| s["kind"] == "sink").unwrap()["rows_out"]
        .as_u64()
        .unwrap();
    let csv = dir.path().join("rows.csv");
    let body: String = (1..=1000).map(|i| format!("{i},name-{i}\n")).collect();
    std::fs::write(&csv, format!("id,name\n{body}")).unwrap();
    let text = format!(
        r#"let g = generate(rows: 5000)
let db = sqlite("{dir}/warehouse.db")
pipeline p {{
  source gen = g.table("orders")
  source pq = parquet("{dir}/orders.parquet")
  source lite = db.table("orders")
  source text = csv("{csv}")
  sink gen -> csv("{dir}/a.csv")
  sink pq -> csv("{dir}/b.csv")
  sink lite -> csv("{dir}/c.csv")
  sink text -> csv("{dir}/d.csv")
}}"#,
        dir = dir.path().display(),
        csv = csv.display()
    );
    let analysis =
        runtime().block_on(flow::analyze::analyze("p.flow", &text, &context(&[]), flow::analyze::Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let rows: BTreeMap<&str, Option<flow::connect::RowCount>> = ["gen", "pq", "lite", "text"]
        .into_iter()
        .map(|s| (s, analysis.resolved[0].shape(s).and_then(|shape| shape.rows)))
        .collect();
    use flow::connect::RowCount;
    assert_eq!(rows["gen"], Some(RowCount { rows: 5000, exact: true }));
    assert_eq!(rows["pq"], Some(RowCount { rows: kept, exact: true }));
    assert_eq!(rows["lite"], Some(RowCount { rows: kept, exact: false }));
    let estimate = rows["text"].expect("a CSV estimate");
    assert!(!estimate.exact && (900..=1100).contains(&estimate.rows), "{estimate:?}");
}

#[test]
fn a_postgres_table_is_estimated_from_its_statistics() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    pg_exec(
        "DROP TABLE IF EXISTS public.flow_progress_est;
         CREATE TABLE public.flow_progress_est (id bigint PRIMARY KEY, v text);
         INSERT INTO public.flow_progress_est SELECT g, 'v' || g FROM generate_series(1, 12345) g;
         ANALYZE public.flow_progress_est;",
    );
    let text = format!(
        r#"let pg = postgres("{PG_TEST_URL}")
pipeline p {{
  source s = pg.table("public.flow_progress_est") {{ partition by id into 3 }}
  source q = pg.query("SELECT 1 AS x")
  sink s -> csv("{dir}/s.csv")
  sink q -> csv("{dir}/q.csv")
}}"#,
        dir = dir.path().display()
    );
    let analysis =
        runtime().block_on(flow::analyze::analyze("p.flow", &text, &context(&[]), flow::analyze::Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let shape = |s: &str| analysis.resolved[0].shape(s).and_then(|shape| shape.rows);
    assert_eq!(shape("s"), Some(flow::connect::RowCount { rows: 12345, exact: false }));
    assert_eq!(shape("q"), None, "a query has no statistics");
}

#[test]
fn a_mysql_table_is_estimated_from_its_table_rows() {
    if !mariadb_available() {
        return;
    }
    let dir = temp_dir();
    my_exec(
        "DROP TABLE IF EXISTS flow_progress_est;
         CREATE TABLE flow_progress_est (id BIGINT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO flow_progress_est SELECT seq, CONCAT('v', seq) FROM seq_1_to_5000;
         ANALYZE TABLE flow_progress_est;",
    );
    let text = format!(
        r#"let my = mysql("{MY_TEST_URL}")
pipeline p {{
  source s = my.table("flow_progress_est")
  sink s -> csv("{dir}/s.csv")
}}"#,
        dir = dir.path().display()
    );
    let analysis =
        runtime().block_on(flow::analyze::analyze("p.flow", &text, &context(&[]), flow::analyze::Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let rows = analysis.resolved[0].shape("s").and_then(|shape| shape.rows).expect("TABLE_ROWS");
    // InnoDB's TABLE_ROWS is sampled: near the truth, not equal to it.
    assert!(!rows.exact && (2_500..=10_000).contains(&rows.rows), "{rows:?}");
}
