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

fn error_line(stderr: &str) -> String {
    stderr.lines().filter(|l| l.starts_with("error: ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn postgres_connection_errors_say_what_to_check() {
    if !crate::common::postgres_available() {
        return;
    }
    let cases = [
        (
            "postgres://u:hunter2@127.0.0.1:1/db",
            "postgres://u:***@127.0.0.1:1/db",
            "is the server running and listening on that host and port?",
        ),
        (
            "postgres://nobody:hunter2@127.0.0.1:5432/test",
            "postgres://nobody:***@127.0.0.1:5432/test",
            "check the user name",
        ),
        (
            "postgres://postgres:hunter2@127.0.0.1:5432/no_such_db",
            "postgres://postgres:***@127.0.0.1:5432/no_such_db",
            "check the database name at the end of the URL",
        ),
        (
            "postgres://postgres:hunter2@no-such-host.invalid:5432/test",
            "postgres://postgres:***@no-such-host.invalid:5432/test",
            "check the host name",
        ),
    ];
    for (url, shown, hint) in cases {
        let (code, stderr) = run_copy(url);
        assert_eq!(code, 1, "{url}: {stderr}");
        let error = error_line(&stderr);
        assert!(error.starts_with("error: source `data` (postgres "), "{error}");
        assert!(error.contains(&format!("cannot connect to PostgreSQL at {shown}")), "{error}");
        assert!(error.ends_with(hint), "{error}");
        assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
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
        ),
        (
            "mysql://root:hunter2@127.0.0.1:1/test",
            "mysql://root:***@127.0.0.1:1/test",
            "is the server running and listening on that host and port?",
        ),
    ];
    for (url, shown, hint) in cases {
        let (code, stderr) = run_copy(url);
        assert_eq!(code, 1, "{url}: {stderr}");
        let error = error_line(&stderr);
        assert!(error.contains(&format!("cannot connect to {shown}")), "{error}");
        assert!(error.ends_with(hint), "{error}");
        assert!(!stderr.contains("hunter2"), "password leaked: {stderr}");
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
    assert!(stderr.contains("flow_no_such_table") && stderr.contains("doesn't exist"), "{stderr}");
}
