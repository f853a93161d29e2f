//! `check` and `explain` probe each database sink's target server once per URL, before anything
//! runs: a schema (MySQL/MariaDB: a database) of a sink's table that does not exist, and a
//! connection the server refuses (unknown database, bad password), are errors, as the run would
//! fail on them; a target that does not answer is a warning, as a source that does not answer.
//! A normal check still says ok, over one connection per target URL.
//!
//! Against the real servers; every table, schema and database is `tcheck_...`.

use crate::common::{
    MY_TEST_URL, PG_TEST_URL, context, flow_cli, mariadb_available, my_exec, pg_exec, postgres_available, runtime,
    temp_dir, unwrapped, write,
};
use crate::wire_proxy::{Event, Protocol, WireProxy};

/// A pipeline reading PostgreSQL table `tcheck_src` into `target` (a target expression of `dst`,
/// `table("x")` or `schema("x")`) of `dst = DST` (a connection call).
fn pipeline(dst: &str, target: &str, options: &str) -> String {
    format!(
        "let src = postgres(\"{PG_TEST_URL}\")\nlet dst = {dst}\n\npipeline copy {{\n  source data = \
         src.tables(\"public.tcheck_src\")\n  sink out = data -> dst.{target} {{ {options} }}\n}}\n"
    )
}

/// Like [`pipeline`], with one table source (not a table set).
fn one_table(dst: &str, table: &str, options: &str) -> String {
    format!(
        "let src = postgres(\"{PG_TEST_URL}\")\nlet dst = {dst}\n\npipeline copy {{\n  source data = \
         src.table(\"tcheck_src\")\n  sink out = data -> dst.table(\"{table}\") {{ {options} }}\n}}\n"
    )
}

/// `(code, message, quoted target, help, warning)` of every problem `check` finds in `text`.
fn problems(text: &str) -> Vec<(String, String, String, String, bool)> {
    runtime().block_on(async {
        let analysis = flow::analyze::analyze("p.flow", text, &context(&[]), flow::analyze::Discover::Online).await;
        analysis
            .problems
            .problems
            .iter()
            .map(|p| {
                let quoted = p.span.map_or(String::new(), |s| text[s.start..s.end].to_string());
                (p.code.to_string(), p.message.clone(), quoted, p.help.clone().unwrap_or_default(), p.warning)
            })
            .collect()
    })
}

/// The source table, created once for the tests of this file (they run concurrently).
fn source_table() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        pg_exec(
            "DROP TABLE IF EXISTS public.tcheck_src; CREATE TABLE public.tcheck_src (id int PRIMARY KEY, name text);
             INSERT INTO public.tcheck_src VALUES (1, 'a');",
        )
    });
}

fn p(code: &str, message: &str, quoted: &str, help: &str, warning: bool) -> (String, String, String, String, bool) {
    (code.into(), message.into(), quoted.into(), help.into(), warning)
}

const REFUSED_HELP: &str = "fix the connection URL (user, password, database) or the server's grants";

#[test]
fn a_missing_postgres_schema_is_a_check_error_with_its_create_statement() {
    if !postgres_available() {
        return;
    }
    source_table();
    pg_exec("DROP SCHEMA IF EXISTS tcheck_nosuch CASCADE");
    let dst = format!("postgres(\"{PG_TEST_URL}\")");
    let help = "Flow creates tables, not schemas: create it first (`CREATE SCHEMA tcheck_nosuch`) or write to another";
    for mode in ["mode replace", "mode append"] {
        assert_eq!(
            problems(&one_table(&dst, "tcheck_nosuch.tab", mode)),
            vec![p(
                "flow::sink::missing_schema",
                "sink `out`: schema `tcheck_nosuch` does not exist on the target server",
                "dst.table(\"tcheck_nosuch.tab\")",
                help,
                false
            )],
            "{mode}"
        );
    }
    // A table set's schema sink: one error, at the set's sink.
    assert_eq!(
        problems(&pipeline(&dst, "schema(\"tcheck_nosuch\")", "mode replace")),
        vec![p(
            "flow::sink::missing_schema",
            "sink `out.tcheck_src`: schema `tcheck_nosuch` does not exist on the target server",
            "dst.schema(\"tcheck_nosuch\")",
            help,
            false
        )]
    );
    // `check` and `explain` exit with the error; once the schema exists, check says ok.
    let dir = temp_dir();
    let file = write(dir.path(), "p.flow", &pipeline(&dst, "schema(\"tcheck_nosuch\")", "mode replace"));
    for command in ["check", "explain"] {
        let (code, out, err) = flow_cli(&[command, &file]);
        assert_eq!(code, 2, "{command}: {out}\n{err}");
        assert!(unwrapped(&err).contains("flow::sink::missing_schema"), "{command}: {err}");
    }
    pg_exec("CREATE SCHEMA tcheck_nosuch");
    let (code, out, err) = flow_cli(&["check", &file]);
    pg_exec("DROP SCHEMA tcheck_nosuch CASCADE");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("ok (1 pipeline(s)"), "{out}");
}

#[test]
fn a_refused_or_unreachable_postgres_target_is_found_by_check() {
    if !postgres_available() {
        return;
    }
    source_table();
    assert_eq!(
        problems(&one_table("postgres(\"postgres://postgres@127.0.0.1:5432/tcheck_nodb\")", "tab", "mode replace")),
        vec![p(
            "flow::connection::refused",
            "sink `out`: cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:5432/tcheck_nodb: database \
             \"tcheck_nodb\" does not exist; check the database name at the end of the URL",
            "dst.table(\"tab\")",
            REFUSED_HELP,
            false
        )]
    );
    let unreachable = problems(&one_table("postgres(\"postgres://postgres:s3cret@127.0.0.1:1/flow_test\")", "tab", ""));
    assert_eq!(
        unreachable,
        vec![p(
            "flow::sink::unreachable",
            "the target of sink `out` could not be reached: cannot connect to PostgreSQL at \
             postgres://postgres:***@127.0.0.1:1/flow_test: error connecting to server: Connection refused (os error \
             111); is the server running and listening on that host and port?",
            "dst.table(\"tab\")",
            "the target's schemas and tables are checked when it answers",
            true
        )]
    );
}

#[test]
fn a_missing_or_refused_mariadb_target_is_found_by_check() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    source_table();
    assert_eq!(
        problems(&one_table(&format!("mysql(\"{MY_TEST_URL}\")"), "tcheck_nodb.tab", "mode replace")),
        vec![p(
            "flow::sink::missing_schema",
            "sink `out`: database `tcheck_nodb` does not exist on the target server",
            "dst.table(\"tcheck_nodb.tab\")",
            "Flow creates tables, not databases: create it first (`CREATE DATABASE tcheck_nodb`) or write to another",
            false
        )]
    );
    assert_eq!(
        problems(&one_table("mysql(\"mysql://root@127.0.0.1:3306/tcheck_nodb\")", "tab", "")),
        vec![p(
            "flow::connection::refused",
            "sink `out`: cannot connect to mysql://root@127.0.0.1:3306/tcheck_nodb: Unknown database 'tcheck_nodb' \
             (MySQL error 1049, SQLSTATE 42000); check the database name at the end of the URL",
            "dst.table(\"tab\")",
            REFUSED_HELP,
            false
        )]
    );
    // A wrong password: refused, and the password is not printed.
    let refused = problems(&one_table("mysql(\"mysql://root:s3cret@127.0.0.1:3306/flow_test\")", "tab", ""));
    assert_eq!(
        refused,
        vec![p(
            "flow::connection::refused",
            "sink `out`: cannot connect to mysql://root:***@127.0.0.1:3306/flow_test: Access denied for user \
             'root'@'127.0.0.1' (using password: YES) (MySQL error 1045, SQLSTATE 28000); check the user name and \
             password",
            "dst.table(\"tab\")",
            REFUSED_HELP,
            false
        )]
    );
    assert_eq!(
        problems(&one_table("mysql(\"mysql://root@127.0.0.1:1/flow_test\")", "tab", ""))
            .into_iter()
            .map(|(code, _, quoted, _, warning)| (code, quoted, warning))
            .collect::<Vec<_>>(),
        vec![("flow::sink::unreachable".to_string(), "dst.table(\"tab\")".to_string(), true)]
    );
}

/// Two sinks into one target URL (one `mode replace` into a qualified table, one `mode append`
/// into an existing table): check says ok, over one connection to the target, with one query for
/// the schemas.
#[test]
fn a_normal_check_connects_once_per_target_url() {
    if !postgres_available() {
        return;
    }
    source_table();
    pg_exec("DROP TABLE IF EXISTS public.tcheck_b; CREATE TABLE public.tcheck_b (id int, name text)");
    let proxy = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let text = format!(
        "let src = postgres(\"{PG_TEST_URL}\")\nlet dst = postgres(\"postgres://postgres@127.0.0.1:{}/flow_test\")\n\n\
         pipeline copy {{\n  source data = src.table(\"tcheck_src\")\n  sink a = data -> dst.table(\"public.tcheck_a\") \
         {{ mode replace }}\n  sink b = data -> dst.table(\"tcheck_b\") {{ mode append }}\n}}\n",
        proxy.port()
    );
    let dir = temp_dir();
    let file = write(dir.path(), "p.flow", &text);
    let (code, out, err) = flow_cli(&["check", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.trim_end(), format!("{file}: ok (1 pipeline(s), 3 stage(s))"));
    let events = proxy.events();
    let closed = events.iter().filter(|e| matches!(e, Event::Closed { .. })).count();
    assert_eq!(closed, 1, "one connection to the target: {events:#?}");
    let statements = proxy.statements();
    let schemas_query = |sql: &str| sql.contains("NOT EXISTS (SELECT 1 FROM pg_namespace");
    assert_eq!(statements.iter().filter(|(_, _, sql)| schemas_query(sql)).count(), 1, "{statements:#?}");
    assert!(statements.iter().all(|(_, _, sql)| !sql.contains("tcheck_a")), "no statement per replaced table");
}

/// A target table missing under the name written while one whose name differs only in letter
/// case exists (`"Tcheck_Case"` against `tcheck_case`): a warning naming both, on PostgreSQL
/// (unqualified and schema-qualified) and MariaDB, whatever the mode; none once the table
/// written exists too.
#[test]
fn a_target_differing_from_an_existing_table_only_in_case_is_a_warning() {
    if !postgres_available() {
        return;
    }
    source_table();
    pg_exec(
        "DROP TABLE IF EXISTS public.tcheck_case; DROP TABLE IF EXISTS public.\"Tcheck_Case\";
         CREATE TABLE public.\"Tcheck_Case\" (id int, name text)",
    );
    let dst = format!("postgres(\"{PG_TEST_URL}\")");
    let warning = |table: &str, twin: &str, written: &str| {
        p(
            "flow::sink::case_twin",
            "sink `out`: the target has no table `tcheck_case` but has `Tcheck_Case`; the run would create \
             `tcheck_case` beside it",
            &format!("dst.table(\"{written}\")"),
            &format!(
                "Flow quotes table names as written, and the server tells `{table}` and `Tcheck_Case` apart: write \
                 \"{twin}\" to write into the existing table"
            ),
            true,
        )
    };
    for mode in ["mode append", "mode replace"] {
        assert_eq!(
            problems(&one_table(&dst, "tcheck_case", mode)),
            vec![warning("tcheck_case", "Tcheck_Case", "tcheck_case")],
            "{mode}"
        );
    }
    assert_eq!(
        problems(&one_table(&dst, "public.tcheck_case", "")),
        vec![warning("tcheck_case", "public.Tcheck_Case", "public.tcheck_case")]
    );
    pg_exec("CREATE TABLE public.tcheck_case (id int, name text)");
    assert_eq!(problems(&one_table(&dst, "tcheck_case", "")), vec![]);
    pg_exec("DROP TABLE public.tcheck_case; DROP TABLE public.\"Tcheck_Case\"");

    if !mariadb_available() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS flow_test.tcheck_case");
    my_exec("DROP TABLE IF EXISTS flow_test.Tcheck_Case");
    my_exec("CREATE TABLE flow_test.Tcheck_Case (id int, name text)");
    let dst = format!("mysql(\"{MY_TEST_URL}\")");
    assert_eq!(
        problems(&one_table(&dst, "tcheck_case", "mode replace")),
        vec![warning("tcheck_case", "Tcheck_Case", "tcheck_case")]
    );
    assert_eq!(
        problems(&one_table(&dst, "flow_test.tcheck_case", "")),
        vec![warning("tcheck_case", "flow_test.Tcheck_Case", "flow_test.tcheck_case")]
    );
    my_exec("DROP TABLE flow_test.Tcheck_Case");
}
