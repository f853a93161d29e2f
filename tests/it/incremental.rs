//! Incremental syncs (`incremental on COLUMN`): each run moves exactly the rows inserted or
//! updated since the last published run, counted in the run report; the target equals the
//! source after every run; a run killed with SIGKILL and run again moves each change once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{flow_cli, mariadb_available, postgres_available, run_and_kill, runtime, temp_dir};
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

/// Runs `sql`, ignoring errors (cleanup of what may not exist yet).
async fn pg_try(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    let _ = client.batch_execute(sql).await;
}

async fn pg_ints(sql: &str) -> Vec<i64> {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    let row = client.query_one(sql, &[]).await.unwrap();
    (0..row.len()).map(|i| row.get::<_, i64>(i)).collect()
}

/// Target rows, source rows missing from the target, target rows not in the source.
fn pg_compare(source: &str, target: &str) -> String {
    format!(
        "SELECT (SELECT count(*) FROM {target}), \
         (SELECT count(*) FROM (SELECT * FROM {source} EXCEPT ALL SELECT * FROM {target}) a), \
         (SELECT count(*) FROM (SELECT * FROM {target} EXCEPT ALL SELECT * FROM {source}) b)"
    )
}

/// Runs `flow run --report` on `file`; returns the report as JSON.
fn run_report(file: &Path, dir: &Path) -> serde_json::Value {
    let report = dir.join("report.json");
    let (code, out, err) = flow_cli(&["run", "-q", "--report", report.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(code, 0, "run failed:\n{out}\n{err}");
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}

fn rows_written(report: &serde_json::Value, sink: &str) -> u64 {
    report["stages"].as_array().unwrap().iter().find(|s| s["name"] == sink).expect("sink stage")["rows_in"]
        .as_u64()
        .unwrap()
}

#[test]
fn postgres_upserts_exactly_the_changed_rows_each_run() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_try("DELETE FROM public._flow_ledger WHERE pipeline = 'inc_pg'"));
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.inc_pg_src, public.inc_pg_dst;
         CREATE TABLE public.inc_pg_src (id bigint PRIMARY KEY, name text, updated_at timestamp);
         INSERT INTO public.inc_pg_src
           SELECT g, 'v' || g, timestamp '2024-01-01' + g * interval '1 second' FROM generate_series(1, 1000) g;
         INSERT INTO public.inc_pg_src VALUES (1001, 'no stamp', NULL), (1002, 'no stamp either', NULL);",
    ));
    let dir = temp_dir();
    let file = dir.path().join("inc.flow");
    std::fs::write(
        &file,
        format!(
            "let db = postgres(\"{PG}\")\n\
             pipeline inc_pg {{\n  \
               source s = db.table(\"public.inc_pg_src\") {{ incremental on updated_at; partition by id into 3 }}\n  \
               sink out = s -> db.table(\"public.inc_pg_dst\") {{ mode upsert on (id) }}\n}}\n"
        ),
    )
    .unwrap();

    // First run: every row, the two without a stamp included.
    let (code, explain, err) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        explain.contains("  incremental on updated_at: first run: every row, up to updated_at = 2024-01-01 00:16:40\n"),
        "{explain}"
    );
    let report = run_report(&file, dir.path());
    assert_eq!(rows_written(&report, "out"), 1002);
    assert_eq!(
        report["watermarks"]["s"]["current"],
        serde_json::json!({"type": "timestamp", "value": "2024-01-01T00:16:40"})
    );
    assert_eq!(rt.block_on(pg_ints(&pg_compare("public.inc_pg_src", "public.inc_pg_dst"))), [1002, 0, 0]);

    // Nothing changed: nothing moves.
    let report = run_report(&file, dir.path());
    assert_eq!(rows_written(&report, "out"), 0);

    // 10 inserts, 5 updates (one row updated twice): 15 rows move.
    rt.block_on(pg_exec(
        "INSERT INTO public.inc_pg_src
           SELECT g, 'new ' || g, timestamp '2024-02-01' + g * interval '1 second' FROM generate_series(2001, 2010) g;
         UPDATE public.inc_pg_src SET name = 'changed', updated_at = timestamp '2024-03-01' WHERE id IN (1, 2, 3, 4, 5);
         UPDATE public.inc_pg_src SET name = 'changed twice', updated_at = timestamp '2024-03-02' WHERE id = 5;",
    ));
    let (_, explain, _) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert!(
        explain.contains(
            "  incremental on updated_at: rows with updated_at after 2024-01-01 00:16:40, up to 2024-03-02 00:00:00\n"
        ),
        "{explain}"
    );
    let report = run_report(&file, dir.path());
    assert_eq!(rows_written(&report, "out"), 15);
    assert_eq!(rt.block_on(pg_ints(&pg_compare("public.inc_pg_src", "public.inc_pg_dst"))), [1012, 0, 0]);
    let changed = rt.block_on(pg_ints(
        "SELECT count(*) FROM public.inc_pg_dst WHERE name = 'changed twice' AND updated_at = timestamp '2024-03-02'",
    ));
    assert_eq!(changed, [1]);

    // A row inserted without a stamp after the first run is never read (documented).
    rt.block_on(pg_exec("INSERT INTO public.inc_pg_src VALUES (3000, 'late without a stamp', NULL)"));
    let report = run_report(&file, dir.path());
    assert_eq!(rows_written(&report, "out"), 0);
    let counts = rt.block_on(pg_ints(&pg_compare("public.inc_pg_src", "public.inc_pg_dst")));
    assert_eq!(counts, [1012, 1, 0], "target rows, missing (the late unstamped row), extra");
}

#[test]
fn replacing_a_target_with_only_new_rows_is_refused() {
    let dir = temp_dir();
    let file = dir.path().join("bad.flow");
    std::fs::write(
        &file,
        "let db = sqlite(\"x.db\")\npipeline p {\n  source s = db.table(\"t\") { incremental on id }\n  \
         sink s -> db.table(\"u\") { mode replace }\n}\n",
    )
    .unwrap();
    let (code, _, err) = flow_cli(&["check", "--offline", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("flow::sink::incremental_mode"), "{err}");
    // The report wraps long lines; compare the words.
    let words = err.replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "sink `s->u` receives only the new rows of `s` (incremental on id), so mode replace would drop the rows \
             copied by earlier runs"
        ),
        "{err}"
    );
}

/// id count, distinct ids, sum of ids, sum of name lengths: equal on both sides only when every
/// row arrived exactly once.
fn my_summary(conn: &mut mysql::Conn) -> Vec<i64> {
    let row: (i64, i64, i64, i64) = conn
        .query_first(
            "SELECT COUNT(*), COUNT(DISTINCT id), CAST(COALESCE(SUM(id), 0) AS SIGNED), \
             CAST(COALESCE(SUM(CHAR_LENGTH(name)), 0) AS SIGNED) FROM inc_my_src",
        )
        .unwrap()
        .unwrap();
    vec![row.0, row.1, row.2, row.3]
}

const PG_SUMMARY: &str = "SELECT count(*), count(DISTINCT id), COALESCE(sum(id), 0)::bigint, \
                          COALESCE(sum(char_length(name)), 0)::bigint FROM public.inc_my_dst";

#[test]
fn mysql_appends_each_new_row_once_across_sigkills() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec("DROP TABLE IF EXISTS public.inc_my_dst"));
    rt.block_on(pg_try("DELETE FROM public._flow_ledger WHERE pipeline = 'inc_my'"));
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS inc_my_src").unwrap();
    my.query_drop("CREATE TABLE inc_my_src (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL)").unwrap();
    let insert_batch = |my: &mut mysql::Conn, rows: u64| {
        // Doubling INSERT ... SELECT grows the table quickly without a client-side loop.
        my.query_drop("INSERT INTO inc_my_src (name) VALUES ('seed')").unwrap();
        let mut added = 1;
        while added < rows {
            let n = (rows - added).min(added);
            my.query_drop(format!(
                "INSERT INTO inc_my_src (name) SELECT CONCAT('row ', id) FROM inc_my_src ORDER BY id DESC LIMIT {n}"
            ))
            .unwrap();
            added += n;
        }
    };
    let dir = temp_dir();
    let file = dir.path().join("inc.flow");
    std::fs::write(
        &file,
        format!(
            "let src = mysql(\"{MY}\")\nlet dst = postgres(\"{PG}\")\n\
             pipeline inc_my {{\n  parallelism 2\n  \
               source s = src.table(\"inc_my_src\") {{ incremental on id; partition by id into 4 }}\n  \
               sink out = s -> dst.table(\"public.inc_my_dst\") {{ mode append }}\n}}\n"
        ),
    )
    .unwrap();
    insert_batch(&mut my, 100_000);
    let started = Instant::now();
    let report = run_report(&file, dir.path());
    let window = (started.elapsed().as_millis() as u64).max(100);
    assert_eq!(rows_written(&report, "out"), 100_000);
    assert_eq!(rt.block_on(pg_ints(PG_SUMMARY)), my_summary(&mut my));

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("kill moments from seed {seed}");
    let mut state = seed | 1;
    let mut next_ms = |hi: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        Duration::from_millis(20 + state % hi)
    };
    let mut kills = 0;
    for round in 0..4 {
        insert_batch(&mut my, 50_000);
        // Kill the run once or twice, resuming on odd rounds and starting afresh on even ones.
        for _ in 0..2 {
            if run_and_kill(&file, round % 2 == 1, next_ms(window)) {
                kills += 1;
            }
        }
        let report = run_report(&file, dir.path());
        let moved = rows_written(&report, "out");
        assert!(moved <= 50_000, "round {round}: a run moved {moved} rows, more than the 50,000 inserted");
        assert_eq!(rt.block_on(pg_ints(PG_SUMMARY)), my_summary(&mut my), "round {round}");
    }
    eprintln!("{kills} kills");
    // Another run with nothing new moves nothing.
    assert_eq!(rows_written(&run_report(&file, dir.path()), "out"), 0);
}
