//! Resolving describes each source once: `flow run` and `flow run --verify` of a partitioned
//! PostgreSQL source send one schema probe, one bounds query and one `pg_export_snapshot()`,
//! counted from the statements Flow logs with `FLOW_LOG_SQL` (one per statement sent).

use crate::common::{PG_TEST_URL, flow_cli_env, pg_exec, pg_rows, postgres_available, rows, temp_dir, write};

/// The statements of the log, as (kind, statement) pairs.
fn logged(path: &std::path::Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, '\t');
            let backend = parts.next().unwrap_or_default();
            assert_eq!(backend, "postgres", "only PostgreSQL is contacted: {line}");
            (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string())
        })
        .collect()
}

fn count(log: &[(String, String)], kind: &str, matches: impl Fn(&str) -> bool) -> usize {
    log.iter().filter(|(k, sql)| k == kind && matches(sql)).count()
}

#[test]
fn a_partitioned_postgres_source_is_described_once_per_run_and_verify() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.flow_once_src, public.flow_once_dst;
         CREATE TABLE public.flow_once_src (id bigint PRIMARY KEY, v text);
         INSERT INTO public.flow_once_src SELECT g, 'v' || g FROM generate_series(1, 20000) g;",
    );
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "once.flow",
        &format!(
            r#"let pg = postgres("{PG_TEST_URL}")
            pipeline once {{
              source src = pg.table("public.flow_once_src") {{ partition by id into 8 }}
              sink src -> pg.table("public.flow_once_dst") {{ mode replace }}
            }}"#
        ),
    );
    for verify in [false, true] {
        let log_path = dir.path().join(format!("sql-{verify}.log"));
        let mut args = vec!["run", "-q", file.as_str()];
        if verify {
            args.push("--verify");
        }
        let (code, out, err) = flow_cli_env(&args, &[("FLOW_LOG_SQL", log_path.to_str().unwrap())]);
        assert_eq!(code, 0, "flow {args:?}:\n{out}\n{err}");
        let log = logged(&log_path);
        let probe = "SELECT * FROM \"public\".\"flow_once_src\"";
        assert_eq!(count(&log, "prepare", |sql| sql == probe), 1, "schema probes (verify: {verify}):\n{log:#?}");
        assert_eq!(count(&log, "query", |sql| sql == "SELECT pg_export_snapshot()"), 1, "snapshot exports");
        let bounds = |sql: &str| sql.contains("MIN(\"id\")") && sql.contains("flow_once_src");
        assert_eq!(count(&log, "copy", bounds), 1, "bounds queries (verify: {verify})");
        // Each partition read imports the one snapshot: 8 for the run, 8 more for verify.
        let imports = count(&log, "execute", |sql| sql.contains("SET TRANSACTION SNAPSHOT"));
        assert_eq!(imports, if verify { 16 } else { 8 }, "snapshot imports (verify: {verify})");
        assert_eq!(count(&log, "copy", |sql| sql.contains("FROM \"public\".\"flow_once_src\" WHERE")), imports);
    }
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(id)::text, min(v), max(v) FROM public.flow_once_dst"),
        rows(&[&["20000", "200010000", "v1", "v9999"]])
    );
}
