//! Connection failures: each is one clear error naming the connection (password redacted) and
//! what to check; a missing table names the table.

use std::process::Command;

fn run_copy(source: &str) -> (i32, String) {
    let dir = crate::common::temp_dir();
    let target = dir.path().join("x.parquet");
    let out = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["copy", "-q", source, target.to_str().unwrap(), "--table", "flow_no_such_table"])
        .output()
        .expect("flow runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The error lines, as printed.
fn error_line(stderr: &str) -> String {
    stderr.lines().filter(|l| l.starts_with("error")).collect::<Vec<_>>().join("\n")
}

/// A server that does not answer fails the run (exit 1); a server that answers and refuses
/// (unknown user or database, wrong password) fails `check` first (exit 2), labelled as a
/// refusal, never as "not reachable now".
fn assert_connection_error(url: &str, shown: &str, hint: &str, refused: bool) {
    let (code, stderr) = run_copy(url);
    assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
    if refused {
        assert_eq!(code, 2, "{url}: {stderr}");
        let text = crate::common::unwrapped(&stderr);
        assert!(text.contains(&format!("× source `data`: cannot connect to {shown}")), "{text}");
        assert!(text.contains(&format!("; {hint}\n")), "{text}");
        assert!(text.contains("the server refused the connection"), "{text}");
        assert!(!text.contains("not reachable"), "{text}");
    } else {
        assert_eq!(code, 1, "{url}: {stderr}");
        let error = error_line(&stderr);
        assert!(error.starts_with("error[flow::connection::unreachable]: source `data` ("), "{error}");
        assert!(error.contains(&format!("cannot connect to {shown}")), "{error}");
        assert!(error.ends_with(hint), "{error}");
    }
}

#[test]
fn postgres_connection_errors_say_what_to_check() {
    if !crate::common::postgres_available() {
        return;
    }
    let cases = [
        (
            "postgres://u:hunter2@127.0.0.1:1/db",
            "PostgreSQL at postgres://u:***@127.0.0.1:1/db",
            "is the server running and listening on that host and port?",
            false,
        ),
        (
            "postgres://nobody:hunter2@127.0.0.1:5432/test",
            "PostgreSQL at postgres://nobody:***@127.0.0.1:5432/test",
            "check the user name",
            true,
        ),
        (
            "postgres://postgres:hunter2@127.0.0.1:5432/no_such_db",
            "PostgreSQL at postgres://postgres:***@127.0.0.1:5432/no_such_db",
            "check the database name at the end of the URL",
            true,
        ),
        (
            "postgres://postgres:hunter2@no-such-host.invalid:5432/test",
            "PostgreSQL at postgres://postgres:***@no-such-host.invalid:5432/test",
            "check the host name",
            false,
        ),
    ];
    for (url, shown, hint, refused) in cases {
        assert_connection_error(url, shown, hint, refused);
    }
}

#[test]
fn mariadb_connection_errors_say_what_to_check() {
    if !crate::common::mariadb_available() {
        return;
    }
    let cases = [
        (
            "mysql://root:hunter2@127.0.0.1:3306/test",
            "mysql://root:***@127.0.0.1:3306/test",
            "check the user name and password",
            true,
        ),
        (
            "mysql://root@127.0.0.1:3306/flow_no_such_db",
            "mysql://root@127.0.0.1:3306/flow_no_such_db",
            "check the database name at the end of the URL",
            true,
        ),
        (
            "mysql://root:hunter2@127.0.0.1:1/test",
            "mysql://root:***@127.0.0.1:1/test",
            "is the server running and listening on that host and port?",
            false,
        ),
    ];
    for (url, shown, hint, refused) in cases {
        assert_connection_error(url, shown, hint, refused);
    }
}

#[test]
fn a_missing_table_is_a_validation_error_naming_it() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let (code, stderr) = run_copy("postgres://postgres@127.0.0.1:5432/test");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("relation \"flow_no_such_table\" does not exist"), "{stderr}");
    let (code, stderr) = run_copy("mysql://root@127.0.0.1:3306/test");
    assert_eq!(code, 2, "{stderr}");
    // The server's words and code, not the driver's `MySqlError { ... }` form.
    assert!(
        crate::common::unwrapped(&stderr).contains(
            "× source `data`: MySQL rejected the query: Table 'test.flow_no_such_table' doesn't exist (MySQL error \
             1146, SQLSTATE 42S02)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("MySqlError"), "{stderr}");
}
