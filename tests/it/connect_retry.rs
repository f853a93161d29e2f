//! Connecting retries transient failures with backoff (`flow run --connect-retries N`), says how
//! many attempts it made, and fails at once on errors that retrying cannot fix.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a one-source pipeline from `url` into a Parquet file; returns (exit code, stderr, time).
fn run(url: &str, table: &str, retries: &str) -> (i32, String, Duration) {
    let dir = crate::common::temp_dir();
    let file = dir.path().join("retry.flow");
    let target = dir.path().join("out.parquet");
    let backend = if url.starts_with("postgres") { "postgres" } else { "mysql" };
    std::fs::write(
        &file,
        format!(
            "let src = {backend}(\"{url}\")\npipeline p {{\n  source s = src.table(\"{table}\")\n  sink s -> parquet(\"{}\")\n}}\n",
            target.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["run", "-q", "--connect-retries", retries, file.to_str().unwrap()])
        .output()
        .expect("flow runs");
    let elapsed = started.elapsed();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned(), elapsed)
}

/// The error lines' messages; each names the connection code.
fn error_line(stderr: &str) -> String {
    let errors = crate::common::error_lines(stderr);
    assert!(errors.iter().all(|(code, _)| code == "flow::connection::unreachable"), "{stderr}");
    errors.into_iter().map(|(_, message)| message).collect::<Vec<_>>().join("\n")
}

#[test]
fn a_refused_postgres_connection_is_retried_with_backoff_then_fails_clearly() {
    let (code, stderr, elapsed) = run("postgres://u:hunter2@127.0.0.1:1/db", "t", "2");
    assert_eq!(code, 1, "{stderr}");
    let error = error_line(&stderr);
    assert!(
        error.contains("cannot connect to PostgreSQL at postgres://u:***@127.0.0.1:1/db after 3 attempts"),
        "{error}"
    );
    assert!(error.contains("; is the server running and listening on that host and port?"), "{error}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // Two pauses (200 ms, 400 ms) when checking the file and again when running it.
    assert!(elapsed >= Duration::from_millis(1200), "no backoff: {elapsed:?}");
}

#[test]
fn a_refused_mysql_connection_is_retried_with_backoff_then_fails_clearly() {
    let (code, stderr, elapsed) = run("mysql://root:hunter2@127.0.0.1:1/test", "t", "2");
    assert_eq!(code, 1, "{stderr}");
    let error = error_line(&stderr);
    assert!(error.contains("cannot connect to mysql://root:***@127.0.0.1:1/test after 3 attempts"), "{error}");
    assert!(error.contains("; is the server running and listening on that host and port?"), "{error}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(elapsed >= Duration::from_millis(1200), "no backoff: {elapsed:?}");
}

#[test]
fn zero_retries_try_once() {
    let (code, stderr, _) = run("postgres://u@127.0.0.1:1/db", "t", "0");
    assert_eq!(code, 1, "{stderr}");
    let error = error_line(&stderr);
    assert!(error.contains("cannot connect to PostgreSQL at postgres://u@127.0.0.1:1/db: "), "{error}");
    assert!(!error.contains("attempts"), "{error}");
}

#[test]
fn errors_that_retrying_cannot_fix_fail_at_once() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let cases = [
        ("postgres://nobody@127.0.0.1:5432/flow_test", "check the user name"),
        ("postgres://postgres@127.0.0.1:5432/no_such_db", "check the database name at the end of the URL"),
        ("mysql://root:wrong@127.0.0.1:3306/test", "check the user name and password"),
    ];
    for (url, hint) in cases {
        // With 20 retries, retrying would take over a minute. The server answered and refused,
        // so `check` already fails (exit 2) and the run never starts.
        let (code, stderr, elapsed) = run(url, "t", "20");
        assert_eq!(code, 2, "{url}: {stderr}");
        let error = crate::common::unwrapped(&stderr);
        assert!(error.contains(hint), "{url}: {error}");
        assert!(!error.contains("attempts"), "{url}: {error}");
        assert!(elapsed < Duration::from_secs(30), "{url}: retried an error that cannot pass: {elapsed:?}");
    }
}
