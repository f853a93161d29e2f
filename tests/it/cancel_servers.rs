//! A stage timeout or Ctrl-C stops the run's statements on the servers too: once `flow run` has
//! exited, neither `pg_stat_activity` nor MariaDB's process list holds a statement of the run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

fn write_flow(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let file = dir.join("cancel.flow");
    std::fs::write(
        &file,
        format!("let pg = postgres(\"{PG}\")\nlet my = mysql(\"{MY}\")\npipeline p {{\n{body}\n}}\n"),
    )
    .unwrap();
    file
}

fn spawn_flow(file: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["run", "-q", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flow starts")
}

/// Statements (other than the checker's own) whose text contains `marker`, on PostgreSQL.
fn pg_statements(marker: &str) -> Vec<String> {
    let rt = crate::common::runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        let rows = client
            .query(
                "SELECT pid::text || ' ' || coalesce(state, '') || ': ' || query FROM pg_stat_activity \
                 WHERE pid <> pg_backend_pid() AND strpos(query, $1) > 0",
                &[&marker],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    })
}

/// Statements (other than the checker's own) whose text contains `marker`, on MariaDB.
fn mariadb_statements(marker: &str) -> Vec<String> {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    conn.exec(
        "SELECT CONCAT(ID, ' ', COMMAND, ': ', INFO) FROM information_schema.PROCESSLIST \
         WHERE ID <> CONNECTION_ID() AND INSTR(INFO, ?) > 0",
        (marker,),
    )
    .unwrap()
}

/// Waits (at most `limit`) until `probe` returns something; panics with `what` otherwise.
fn wait_for(limit: Duration, what: &str, probe: impl Fn() -> Vec<String>) -> Vec<String> {
    let start = Instant::now();
    loop {
        let found = probe();
        if !found.is_empty() {
            return found;
        }
        assert!(start.elapsed() < limit, "{what} did not show up within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// After the process exited: within 5 s, nothing of the run may remain on the server.
fn assert_nothing_left(server: &str, probe: impl Fn() -> Vec<String>) {
    let start = Instant::now();
    loop {
        let left = probe();
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{server} still runs statements of the run: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` (`INT`, as Ctrl-C does, or `TERM`, as `kill` does) and waits for the exit.
fn interrupt(child: Child, signal: &str) -> (Option<i32>, String) {
    let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_source_timeout_cancels_the_postgres_query() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let marker = "flow_cancel_marker_timeout";
    let dir = crate::common::temp_dir();
    let file = write_flow(
        dir.path(),
        &format!(
            "  source s = pg.query(\"SELECT 1 AS id, '{marker}' AS m FROM (SELECT count(*) FROM pg_sleep(120)) AS z\") {{ timeout 1s }}\n  sink s -> parquet(\"{}/out.parquet\")",
            dir.path().display()
        ),
    );
    let started = Instant::now();
    let out = spawn_flow(&file).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "the run waited for the query: {:?}", started.elapsed());
    assert_nothing_left("PostgreSQL", || pg_statements(marker));
}

#[test]
fn a_sink_timeout_stops_the_copy_on_both_sides() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let marker = "flow_cancel_marker_sink_timeout";
    let target = "flow_cancel_sinkto_target";
    let dir = crate::common::temp_dir();
    let file = write_flow(
        dir.path(),
        &format!(
            "  source s = pg.query(\"SELECT generate_series(1, 500000000) AS id, '{marker}' AS m\")\n  sink s -> pg.table(\"public.{target}\") {{ mode replace; timeout 2s }}"
        ),
    );
    let out = spawn_flow(&file).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert_nothing_left("PostgreSQL", || pg_statements(marker));
    assert_nothing_left("PostgreSQL", || pg_statements(target));
}

#[test]
fn ctrl_c_stops_a_postgres_to_postgres_copy_on_both_sides() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let marker = "flow_cancel_marker_pgpg";
    // Short enough to appear whole in the staging table's name, which the wait below looks for.
    let target = "flow_cancel_pgpg";
    let dir = crate::common::temp_dir();
    let file = write_flow(
        dir.path(),
        &format!(
            "  source s = pg.query(\"SELECT generate_series(1, 500000000) AS id, '{marker}' AS m\")\n  sink s -> pg.table(\"public.{target}\") {{ mode replace }}"
        ),
    );
    let child = spawn_flow(&file);
    // Interrupt once the sink is copying rows in, i.e. both sides have a statement running.
    wait_for(Duration::from_secs(60), "the sink's COPY", || {
        pg_statements(target).into_iter().filter(|s| s.contains("COPY") && s.contains("FROM STDIN")).collect()
    });
    wait_for(Duration::from_secs(10), "the source's COPY", || pg_statements(marker));
    let (code, stderr) = interrupt(child, "INT");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C"), "{stderr}");
    assert_nothing_left("PostgreSQL", || pg_statements(marker));
    assert_nothing_left("PostgreSQL", || pg_statements(target));
}

/// SIGTERM stops a run as Ctrl-C does (it is what `kill`, `timeout` and service managers send).
#[test]
fn sigterm_stops_a_mariadb_to_postgres_copy_on_both_sides() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let marker = "flow_cancel_marker_mypg";
    let target = "flow_cancel_mypg_target";
    let dir = crate::common::temp_dir();
    let file = write_flow(
        dir.path(),
        &format!(
            "  source s = my.query(\"SELECT 1 AS id, SLEEP(120) AS {marker}\")\n  sink s -> pg.table(\"public.{target}\") {{ mode replace }}"
        ),
    );
    let started = Instant::now();
    let child = spawn_flow(&file);
    wait_for(Duration::from_secs(60), "the source's query", || mariadb_statements(marker));
    let (code, stderr) = interrupt(child, "TERM");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("error[flow::run::interrupted]: interrupted by SIGTERM; nothing was published"),
        "{stderr}"
    );
    // Without `KILL QUERY` the process could only end with the query, two minutes later.
    assert!(started.elapsed() < Duration::from_secs(100), "flow waited for the query: {:?}", started.elapsed());
    assert_nothing_left("MariaDB", || mariadb_statements(marker));
    assert_nothing_left("PostgreSQL", || pg_statements(target));
}

/// `flow verify` stops on SIGTERM (and Ctrl-C) as a run does: it says so, exits 1, and leaves no
/// statement of its own running on the server.
#[test]
fn sigterm_stops_a_verify_and_its_queries() {
    if !crate::common::postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let marker = "flow_cancel_marker_verify";
    let dir = crate::common::temp_dir();
    let file = write_flow(
        dir.path(),
        &format!(
            "  source s = pg.query(\"SELECT 1 AS id, '{marker}' AS m FROM (SELECT count(*) FROM pg_sleep(120)) AS z\")\n  sink s -> pg.table(\"public.flow_cancel_verify\") {{ mode replace }}"
        ),
    );
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_flow"))
        .args(["verify", file.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flow verify starts");
    wait_for(Duration::from_secs(60), "verify's source query", || pg_statements(marker));
    let (code, stderr) = interrupt(child, "TERM");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("error[flow::run::interrupted]: verify interrupted by SIGTERM"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "verify waited for the query: {:?}", started.elapsed());
    assert_nothing_left("PostgreSQL", || pg_statements(marker));
}
