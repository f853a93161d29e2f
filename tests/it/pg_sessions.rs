//! How a run talks to a PostgreSQL target: which commits are flushed one by one (staging at
//! `synchronous_commit = off`, each publish at the server's `on`), and that the sinks' steps
//! share the run's connections instead of connecting for each. Both are watched from inside the
//! server: a trigger on the ledger, whose rows are written in exactly the transactions in
//! question, records each row's event, the transaction's `synchronous_commit` and the backend.

use crate::common::{pg_exec, pg_rows, postgres_available, run_flow, runtime};
use flow::exec::RunStatus;

const SCHEMA: &str = "flow_commit_levels";

/// Three generated sources, each into its own table of [`SCHEMA`] (one ledger for the three).
fn pipeline() -> String {
    let url = crate::common::PG_TEST_URL;
    let mut text = format!(
        "let g = generate(rows: 400, seed: 5)\nlet pg = postgres(\"{url}\")\npipeline p_commit_levels {{\n  parallelism 2\n"
    );
    for t in ["a", "b", "c"] {
        text.push_str(&format!(
            "  source {t} = g.table(\"orders\") {{ batch 100 }}\n  sink {t} -> pg.table(\"{SCHEMA}.{t}\") {{ mode replace }}\n"
        ));
    }
    text.push_str("}\n");
    text
}

#[test]
fn pg_staging_commits_are_not_flushed_one_by_one_and_each_publish_is() {
    if !postgres_available() {
        return;
    }
    pg_exec(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"));
    let rt = runtime();
    let run = || {
        let report = rt.block_on(run_flow(&pipeline(), &[])).remove(0);
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    };
    // The first run creates the ledger; the trigger then watches the second.
    run();
    pg_exec(&format!(
        "CREATE TABLE {SCHEMA}.seen (event text, setting text, pid int);
         CREATE FUNCTION {SCHEMA}.watch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           INSERT INTO {SCHEMA}.seen VALUES (NEW.event, current_setting('synchronous_commit'), pg_backend_pid());
           RETURN NEW; END $$;
         CREATE TRIGGER watch BEFORE INSERT ON {SCHEMA}._flow_ledger FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.watch();"
    ));
    run();
    let settings = pg_rows(&format!(
        "SELECT event, string_agg(DISTINCT setting, ',') FROM {SCHEMA}.seen GROUP BY event ORDER BY event"
    ));
    let expected: Vec<Vec<String>> = [["partition", "off"], ["publish", "on"], ["start", "off"]]
        .iter()
        .map(|r| r.iter().map(|v| v.to_string()).collect())
        .collect();
    assert_eq!(settings, expected, "(event, synchronous_commit) of the second run's ledger rows");
    // Each step wrote a ledger row (nine or more); without the run's shared connections each
    // step had a connection of its own.
    let backends = pg_rows(&format!("SELECT count(DISTINCT pid)::text FROM {SCHEMA}.seen"));
    let backends: usize = backends[0][0].parse().unwrap();
    assert!(backends <= 3, "the steps of three sinks used {backends} connections");
    pg_exec(&format!("DROP SCHEMA {SCHEMA} CASCADE"));
}

/// The second copy of a chain of tables, each with a foreign key to the one before, replaces
/// every table: the publishes (several at once) each drop a table `CASCADE`, which locks its
/// neighbours; they take turns (without, about one in ten deadlocked and waited a second). Both
/// copies succeed with every row and every key.
#[test]
fn pg_publishing_a_chain_of_keyed_tables_twice_at_once_succeeds() {
    if !postgres_available() {
        return;
    }
    let mut sql = "DROP SCHEMA IF EXISTS flow_chain_src CASCADE; DROP SCHEMA IF EXISTS flow_chain_dst CASCADE;
                   CREATE SCHEMA flow_chain_src; CREATE SCHEMA flow_chain_dst;"
        .to_string();
    for i in 1..=12 {
        let key = if i > 1 { format!(" REFERENCES flow_chain_src.t{:02} (id)", i - 1) } else { String::new() };
        sql.push_str(&format!(
            "CREATE TABLE flow_chain_src.t{i:02} (id int PRIMARY KEY, parent int{key});
             INSERT INTO flow_chain_src.t{i:02} SELECT g, g FROM generate_series(1, 50) g;"
        ));
    }
    pg_exec(&sql);
    let url = crate::common::PG_TEST_URL;
    for attempt in 0..2 {
        let (code, out, err) = crate::common::flow_cli(&[
            "copy",
            "-q",
            url,
            url,
            "--all-tables",
            "--include",
            "flow_chain_src.*",
            "--schema",
            "flow_chain_dst",
        ]);
        assert_eq!(code, 0, "copy {attempt}:\n{out}\n{err}");
    }
    let counts = pg_rows(
        "SELECT (SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                 WHERE n.nspname = 'flow_chain_dst' AND contype = 'f')::text,
                (SELECT count(*) FROM information_schema.tables WHERE table_schema = 'flow_chain_dst'
                 AND table_name LIKE 't%')::text,
                (SELECT count(*) FROM flow_chain_dst.t12)::text",
    );
    assert_eq!(counts, vec![vec!["11".to_string(), "12".to_string(), "50".to_string()]]);
    pg_exec("DROP SCHEMA flow_chain_src CASCADE; DROP SCHEMA flow_chain_dst CASCADE");
}
