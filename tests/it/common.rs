//! Helpers shared by the integration tests: run .flow text through the real front end and
//! engine, and skip database tests (loudly) when no server answers.

#![allow(dead_code)]

use std::collections::BTreeMap;

use flow::analyze::{Discover, analyze};
use flow::exec::{RunOptions, RunReport, run_pipeline};
use flow::semantic::{CheckContext, Variables};

pub fn context(vars: &[(&str, &str)]) -> CheckContext {
    let cli: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    CheckContext { vars: Variables { cli, environment: None }, default_parallelism: 2, ..Default::default() }
}

/// Checks (online) and runs every pipeline in `text`; panics with the diagnostics if the text
/// does not check.
pub async fn run_flow(text: &str, vars: &[(&str, &str)]) -> Vec<RunReport> {
    let analysis = analyze("test.flow", text, &context(vars), Discover::Online).await;
    assert!(analysis.ok(), "pipeline does not check:\n{}", analysis.problems.render_plain());
    let mut reports = Vec::new();
    for pipeline in &analysis.resolved {
        reports.push(run_pipeline(pipeline, &RunOptions::default()).await);
    }
    reports
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// True when the named server answers; otherwise prints why the test is skipped, or panics when
/// FLOW_REQUIRE_DBS=1.
pub fn server_available(name: &str, addr: &str) -> bool {
    let ok = std::net::TcpStream::connect_timeout(&addr.parse().expect("address"), std::time::Duration::from_secs(2))
        .is_ok();
    if !ok {
        if std::env::var("FLOW_REQUIRE_DBS").is_ok_and(|v| v == "1") {
            panic!("{name} at {addr} does not answer and FLOW_REQUIRE_DBS=1");
        }
        eprintln!("skipping: {name} at {addr} does not answer (set FLOW_REQUIRE_DBS=1 to make this fail)");
    }
    ok
}

/// True when PostgreSQL answers on 127.0.0.1:5432 (see [`server_available`]); the first call
/// in a process also creates what the tests need there: database `flow_test`, and
/// `public.flow_example_orders` in database `test` (`scripts/example-data.sql`), so the test
/// command needs no setup script. Panics when the server answers but refuses that setup.
pub fn postgres_available() -> bool {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let ok = server_available("PostgreSQL", "127.0.0.1:5432");
    if ok {
        READY.get_or_init(prepare_postgres);
    }
    ok
}

/// True when MariaDB answers on 127.0.0.1:3306; the first call in a process also creates
/// database `flow_test`.
pub fn mariadb_available() -> bool {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let ok = server_available("MariaDB", "127.0.0.1:3306");
    if ok {
        READY.get_or_init(|| {
            use mysql::prelude::Queryable;
            let mut conn = mysql::Conn::new(mysql::Opts::from_url("mysql://root@127.0.0.1:3306").unwrap())
                .expect("MariaDB answers but root cannot log in");
            conn.query_drop("CREATE DATABASE IF NOT EXISTS flow_test").expect("CREATE DATABASE flow_test");
        });
    }
    ok
}

/// Creates `flow_test` (if missing) and the example table, on a thread of its own so that it
/// works from synchronous and asynchronous tests alike.
fn prepare_postgres() {
    std::thread::spawn(|| {
        runtime().block_on(async {
            let admin = flow::connect::postgres::connect("postgres://postgres@127.0.0.1:5432/postgres")
                .await
                .expect("PostgreSQL answers but user postgres cannot log in");
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = 'flow_test'", &[])
                .await
                .expect("list databases")
                .is_some();
            if !exists {
                // Another test process may create it at the same moment: 42P04 is fine.
                if let Err(e) = admin.batch_execute("CREATE DATABASE flow_test").await {
                    let code = e.code().map(|c| c.code().to_string());
                    assert_eq!(code.as_deref(), Some("42P04"), "CREATE DATABASE flow_test: {e}");
                }
            }
            let test = flow::connect::postgres::connect("postgres://postgres@127.0.0.1:5432/test")
                .await
                .expect("PostgreSQL database `test`");
            test.batch_execute(include_str!("../../scripts/example-data.sql")).await.expect("example data");
        })
    })
    .join()
    .expect("preparing PostgreSQL for the tests");
}

/// The `flow` binary as a command, colours off.
pub fn flow_command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flow"));
    cmd.args(args).env("NO_COLOR", "1");
    cmd
}

/// Runs the `flow` binary; returns its exit code, stdout and stderr.
pub fn flow_cli(args: &[&str]) -> (i32, String, String) {
    flow_cli_env(args, &[])
}

/// Runs the `flow` binary with extra environment variables.
pub fn flow_cli_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = flow_command(args).envs(env.iter().copied()).output().expect("flow runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `flow run -q [--resume] FILE` and kills it with SIGKILL after `delay`, unless it ended
/// first; an early end must be a success. Returns whether the run was killed.
pub fn run_and_kill(file: &std::path::Path, resume: bool, delay: std::time::Duration) -> bool {
    let mut args = vec!["run", "-q"];
    if resume {
        args.push("--resume");
    }
    args.push(file.to_str().unwrap());
    let mut child = flow_command(&args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flow runs");
    let deadline = std::time::Instant::now() + delay;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            assert!(status.success(), "a run ended on its own with {status}: {err}");
            return false;
        }
        if std::time::Instant::now() >= deadline {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// A rendered diagnostic with miette's line wrapping undone (`\n  │ ` continuations joined with
/// a space), so a test can look for a whole sentence.
pub fn unwrapped(stderr: &str) -> String {
    stderr.replace("\n  │ ", " ").replace("\n        ", " ")
}

// ---------------------------------------------------------------- values as text, per server
//
// The type tests compare what a target holds as text (NULL as "NULL"), so one assertion reads
// the same on every server.

/// The test database on each server.
pub const PG_TEST_URL: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
pub const MY_TEST_URL: &str = "mysql://root@127.0.0.1:3306/flow_test";

/// Runs SQL (several statements) on PostgreSQL's `flow_test`; panics naming the SQL.
pub fn pg_exec(sql: &str) {
    runtime().block_on(async {
        let client = flow::connect::postgres::connect(PG_TEST_URL).await.unwrap();
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    });
}

/// Rows of a PostgreSQL query, each column as text (NULL as "NULL"); cast in the query.
pub fn pg_rows(sql: &str) -> Vec<Vec<String>> {
    runtime().block_on(async {
        let client = flow::connect::postgres::connect(PG_TEST_URL).await.unwrap();
        let rows = client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())).collect())
            .collect()
    })
}

/// A connection to MariaDB's `flow_test`, in utf8mb4.
pub fn my_conn() -> mysql::Conn {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(MY_TEST_URL).unwrap()).unwrap();
    conn.query_drop("SET NAMES utf8mb4").unwrap();
    conn
}

/// Runs one statement on MariaDB's `flow_test`; panics naming the SQL.
pub fn my_exec(sql: &str) {
    use mysql::prelude::Queryable;
    my_conn().query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows of a MySQL query, each column as text (NULL as "NULL").
pub fn my_rows(sql: &str) -> Vec<Vec<String>> {
    use mysql::prelude::Queryable;
    let rows: Vec<mysql::Row> = my_conn().query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).unwrap() {
                    mysql::Value::NULL => "NULL".to_string(),
                    mysql::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.as_sql(true),
                })
                .collect()
        })
        .collect()
}

/// Expected rows written as string slices.
pub fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected.iter().map(|r| r.iter().map(|v| v.to_string()).collect()).collect()
}

/// Runs `flow ARGS`, which must succeed; returns stdout.
pub fn run_ok(args: &[&str]) -> String {
    let (code, out, err) = flow_cli(args);
    assert_eq!(code, 0, "flow {args:?} failed:\n{out}\n{err}");
    out
}

/// Runs `flow ARGS`, which must fail; returns stderr.
pub fn run_err(args: &[&str]) -> String {
    let (code, out, err) = flow_cli(args);
    assert_ne!(code, 0, "flow {args:?} should fail:\n{out}\n{err}");
    err
}

/// Writes `text` to `dir/name`; returns the path as text, for a command line.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The error lines of a command's stderr as `(code, message)`: `error[CODE]: MESSAGE` gives
/// `(CODE, MESSAGE)`, a line without a code (`error: MESSAGE`) an empty code.
pub fn error_lines(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            if let Some(message) = l.strip_prefix("error: ") {
                return Some((String::new(), message.to_string()));
            }
            let (code, message) = l.strip_prefix("error[")?.split_once("]: ")?;
            Some((code.to_string(), message.to_string()))
        })
        .collect()
}

/// Output as one line: the renderer wraps long messages and draws boxes around them.
pub fn flat(text: &str) -> String {
    text.split_whitespace().filter(|w| !w.chars().all(|c| "│├╰╭─┬┴×⚠!,".contains(c))).collect::<Vec<_>>().join(" ")
}
