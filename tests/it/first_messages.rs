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

/// A failed run names the `flow run` that continues it with the same variables and profiles (the
/// plan depends on them; a resume of another plan is refused), `flow status` names the same
/// command, and that command works: once the bad row is fixed it finishes the run.
#[test]
fn the_resume_hint_keeps_the_variables_and_profiles_and_works() {
    let dir = temp_dir();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.csv"), "id,amount\n1,10\n2,20\n").unwrap();
    std::fs::write(input.join("b.csv"), "id,amount\n3,30\n4,x\n").unwrap();
    let profiles = write(dir.path(), "profiles.yaml", "connections:\n  out:\n    url: sqlite://${OUT}/out.db\n");
    let file = write(
        dir.path(),
        "r.flow",
        "let out = profile(\"out\")\npipeline p {\n  source s = csv(\"${IN}\", types: \"id bigint, amount \
         bigint\")\n  sink s -> out.table(\"t\")\n}\n",
    );
    let (in_var, out_var) = (format!("IN={}", input.display()), format!("OUT={}", dir.path().display()));
    let args = ["--profiles", &profiles, "--var", &in_var, "--var", &out_var];
    let resume = format!("`flow run {file} --profiles {profiles} --var {in_var} --var {out_var} --resume`");

    let (code, _, stderr) = flow_cli(&[&["run", "-q", &file][..], &args].concat());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.ends_with(&format!("; the partitions committed so far are kept: {resume} continues this run\n")),
        "{stderr}"
    );

    let (code, stdout, stderr) = flow_cli(&[&["status", &file][..], &args].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("; continue with {resume}\n")), "{stdout}");

    std::fs::write(input.join("b.csv"), "id,amount\n3,30\n4,40\n").unwrap();
    let command: Vec<&str> = resume.trim_matches('`').split(' ').skip(1).collect();
    let (code, stdout, stderr) = flow_cli(&command);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("partition(s) committed earlier were kept)"), "{stdout}");
    let db = rusqlite::Connection::open(dir.path().join("out.db")).unwrap();
    let sum: i64 = db.query_row("SELECT sum(amount) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(sum, 100);
}

/// A value with a space or a quote is quoted for the shell, so the hint still runs as printed.
#[test]
fn the_resume_hint_quotes_what_the_shell_would_split() {
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "q.flow",
        "let g = generate(rows: 100)\nlet db = sqlite(\"${OUT}/q.db\")\npipeline p {\n  source s = \
         g.table(\"orders\")\n  transform t = s | derive x = 1 / (id - 50)\n  sink t -> db.table(\"${TABLE}\")\n}\n",
    );
    let out = format!("OUT={}", dir.path().display());
    let (code, _, stderr) = flow_cli(&["run", "-q", &file, "--var", &out, "--var", "TABLE=it's x"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("`flow run {file} --var {out} --var 'TABLE=it'\\''s x' --resume` continues this run")),
        "{stderr}"
    );
}

/// The help of a table set's warning names `flow explain` for a file, and for `flow copy` (which
/// has no file) the `--emit` that writes one.
#[test]
fn a_table_set_warning_names_a_command_that_works_for_copy_and_for_a_file() {
    let dir = temp_dir();
    let src = dir.path().join("src.db");
    rusqlite::Connection::open(&src).unwrap().execute_batch("CREATE TABLE a (id INTEGER PRIMARY KEY)").unwrap();
    let dst = dir.path().join("dst.db");
    let (src_url, dst_url) = (format!("sqlite://{}", src.display()), format!("sqlite://{}", dst.display()));
    let copy = ["copy", "-q", &src_url, &dst_url, "--all-tables", "--include", "nomatch*"];
    let (code, _, stderr) = flow_cli(&copy);
    assert_eq!(code, 0, "{stderr}");
    let text = unwrapped(&stderr).replace("\n        ", " ");
    assert!(text.contains("⚠ table set `tables` matches no table (include: nomatch*; exclude: none)"), "{text}");
    assert!(
        text.contains(
            "help: the same `flow copy` command with `--emit` writes this copy as a .flow file; `flow explain` of that \
             file shows what is carried over to each target table"
        ),
        "{text}"
    );
    let (code, emitted, _) = flow_cli(&[&copy[..], &["--emit"]].concat());
    assert_eq!(code, 0);
    let file = write(dir.path(), "copy.flow", &emitted);
    let (code, _, stderr) = flow_cli(&["check", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        unwrapped(&stderr)
            .contains("help: `flow explain` of this file shows what is carried over to each target table"),
        "{stderr}"
    );
}
