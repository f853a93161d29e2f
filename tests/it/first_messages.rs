//! The messages people meet first (issue 18, item 8): a source that does not answer is reported
//! once, with its code, by every command; a failed run prints no table that says nothing; every
//! hint names a command that works for the command that was run.

use serde_json::Value;

use crate::common::{flow_cli, temp_dir, unwrapped, write};

/// Nothing listens on port 1.
const DOWN: &str = "postgres://postgres@127.0.0.1:1/x";

/// What every command says about the source of [`unreachable_file`], after `flow run
/// --connect-retries 0` tried it once.
const REFUSED_ONCE: &str = "cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:1/x: error connecting to \
                            server: Connection refused (os error 111); is the server running and listening on that \
                            host and port?";

/// A pipeline reading table `t` from [`DOWN`] into a SQLite file in `dir`.
fn unreachable_file(dir: &std::path::Path) -> String {
    write(
        dir,
        "u.flow",
        &format!(
            "let src = postgres(\"{DOWN}\")\nlet dst = sqlite(\"{}/out.db\")\n\npipeline p {{\n  source s = \
             src.table(\"t\")\n  sink s -> dst.table(\"t\")\n}}\n",
            dir.display()
        ),
    )
}

#[test]
fn an_unreachable_source_is_one_error_with_its_code_from_run() {
    let dir = temp_dir();
    let file = unreachable_file(dir.path());
    let (code, stdout, stderr) = flow_cli(&["run", "-q", "--connect-retries", "0", &file]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr, format!("error[flow::connection::unreachable]: source `s` (postgres {DOWN}): {REFUSED_ONCE}\n"));
    assert_eq!(stderr.matches("Connection refused").count(), 1, "{stderr}");
    // No stage ran: no table, only how the run ended.
    assert!(stdout.starts_with("pipeline p: FAILED in ") && stdout.lines().count() == 1, "{stdout}");
}

#[test]
fn an_unreachable_source_is_one_json_line_with_its_code() {
    let dir = temp_dir();
    let file = unreachable_file(dir.path());
    let (code, _, stderr) = flow_cli(&["run", "-q", "--connect-retries", "0", "--log-format", "json", &file]);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<Value> = stderr.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert_eq!(lines[0]["code"], "flow::connection::unreachable");
    assert_eq!(lines[0]["message"], format!("source `s` (postgres {DOWN}): {REFUSED_ONCE}"));
}

/// `check` contacts the source once and warns (the file may be fine); `verify` and `copy`
/// describe it again and say it once, as their error.
#[test]
fn check_warns_once_and_verify_and_copy_fail_once() {
    let dir = temp_dir();
    let file = unreachable_file(dir.path());
    let (code, stdout, stderr) = flow_cli(&["check", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, format!("{file}: ok (1 pipeline(s), 2 stage(s))\n"));
    assert!(stderr.starts_with("flow::source::unreachable\n"), "{stderr}");
    assert_eq!(unwrapped(&stderr).matches("Connection refused").count(), 1, "{stderr}");

    let (code, stdout, stderr) = flow_cli(&["verify", &file]);
    assert_eq!((code, stdout.as_str()), (1, "verify pipeline p\n"), "{stderr}");
    let attempts = REFUSED_ONCE.replacen("x: error", "x after 4 attempts: error", 1);
    assert_eq!(stderr, format!("error[flow::connection::unreachable]: sink `s->t`: source: {attempts}\n"));

    let target = dir.path().join("t.parquet");
    let (code, stdout, stderr) = flow_cli(&["copy", "-q", DOWN, target.to_str().unwrap(), "--table", "t"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.starts_with("pipeline copy: FAILED in ") && stdout.lines().count() == 1, "{stdout}");
    assert_eq!(stderr, format!("error[flow::connection::unreachable]: source `data` (postgres {DOWN}): {attempts}\n"));
}

/// A run that fails before a first row went through prints no table of zeros: where each sink
/// would have written, and how the run ended.
#[test]
fn a_run_that_moved_no_row_prints_no_table() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("bad.csv"), "id,amount\nx,2\n").unwrap();
    let db = dir.path().join("out.db");
    for (options, error) in [
        (
            " { create never }",
            format!(
                "error[flow::sink::refused]: sink `s->zz`: table zz does not exist in {} and the sink says `create \
                 never`\n",
                db.display()
            ),
        ),
        (
            "",
            format!(
                "error[flow::source::decode]: sink `s->zz` partition 0: cannot read {0}/bad.csv: line 2, column `id`: \
                 value 'x' is not an integer of the column's size (declared Int64); the partitions committed so far \
                 are kept: `flow run {0}/z.flow --resume` continues this run\n",
                dir.path().display()
            ),
        ),
    ] {
        let file = write(
            dir.path(),
            "z.flow",
            &format!(
                "let db = sqlite(\"{}\")\npipeline p {{\n  source s = csv(\"{}/bad.csv\", types: \"id bigint, amount \
                 bigint\")\n  sink s -> db.table(\"zz\"){options}\n}}\n",
                db.display(),
                dir.path().display()
            ),
        );
        let (code, stdout, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(stderr, error);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert_eq!(lines[0], format!("sink s->zz -> table zz in sqlite {} (not published)", db.display()));
        assert!(lines[1].starts_with("pipeline p: FAILED in "), "{stdout}");
    }
}
