//! The partitions of a MariaDB source read one snapshot: while a writer keeps changing the
//! source, a partitioned copy ends with the source exactly as it was at one instant. A user
//! without the `RELOAD` privilege gets a correct copy and a run report that says its partitions
//! were read at different moments.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::common::{mariadb_available, run_flow, runtime};
use flow::exec::RunStatus;
use mysql::prelude::Queryable;

const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";
/// Rows in every committed state of the source.
const ROWS: i64 = 20_000;

fn my() -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(MY).expect("url")).expect("mariadb connects")
}

/// Moves the source from state `k-1` to `k` in one transaction: delete the lowest id, add one
/// above the highest, update every row. State `k`: ids `k+1 ..= ROWS+k`, every `version = k`.
fn transition(conn: &mut mysql::Conn, k: i64) {
    let mut tx = conn.start_transaction(mysql::TxOpts::default()).expect("begin");
    tx.query_drop(format!("DELETE FROM flow_snap_my WHERE id = {k}")).expect("delete");
    tx.query_drop(format!("INSERT INTO flow_snap_my VALUES ({}, {k})", ROWS + k)).expect("insert");
    tx.query_drop(format!("UPDATE flow_snap_my SET version = {k}")).expect("update");
    tx.commit().expect("commit");
}

fn sqlite_state(path: &std::path::Path, table: &str) -> (i64, i64, i64, i64, i64) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(&format!("SELECT count(*), min(id), max(id), min(version), max(version) FROM {table}"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
}

#[test]
fn partitions_of_a_mariadb_source_read_one_snapshot() {
    if !mariadb_available() {
        return;
    }
    let mut conn = my();
    conn.query_drop("DROP TABLE IF EXISTS flow_snap_my").unwrap();
    conn.query_drop("CREATE TABLE flow_snap_my (id BIGINT PRIMARY KEY, version BIGINT NOT NULL) ENGINE = InnoDB")
        .unwrap();
    conn.query_drop("SET SESSION max_recursive_iterations = 100000").unwrap();
    conn.query_drop(format!(
        "INSERT INTO flow_snap_my WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS})
         SELECT n, 0 FROM g"
    ))
    .unwrap();
    let dir = crate::common::temp_dir();
    // Each partition's query first sleeps (a one-row derived table, evaluated once or twice per
    // query, not per row), and the partitions run one after another: without a shared snapshot,
    // each would see a later state.
    let text = format!(
        r#"let my = mysql("{MY}")
        let db = sqlite("{}/snap.db")
        pipeline p {{
          parallelism 1
          source s = my.query("SELECT t.id, t.version FROM flow_snap_my t JOIN (SELECT SLEEP(1) AS z) AS s ON s.z = 0") {{
            partition by id into 4
          }}
          sink s -> db.table("snap") {{ mode replace }}
        }}"#,
        dir.path().display()
    );
    let committed = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (committed, stop) = (committed.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut conn = my();
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                transition(&mut conn, k);
                committed.store(k, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Let the writer get going, so the run starts on a moving source.
    while committed.load(Ordering::SeqCst) < 3 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = committed.load(Ordering::SeqCst);
    let report = runtime().block_on(run_flow(&text, &[])).remove(0);
    let after = committed.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();

    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    assert!(report.notes.is_empty(), "root may lock, so no note: {:?}", report.notes);
    let source = report.stages.iter().find(|s| s.name == "s").unwrap();
    assert_eq!(source.partitions.len(), 4);
    // The run read for several seconds while the writer committed new states.
    assert!(after >= before + 10, "the source barely changed during the run: states {before}..{after}");

    let (count, lo, hi, v_lo, v_hi) = sqlite_state(&dir.path().join("snap.db"), "snap");
    assert_eq!(v_lo, v_hi, "the partitions read different states of the source: versions {v_lo}..={v_hi}");
    let k = v_lo;
    assert_eq!((count, lo, hi), (ROWS, k + 1, ROWS + k), "not the rows of committed state {k}");
    assert!(k >= before && k <= after, "state {k} is not one the source had during the run ({before}..{after})");
}

/// A user with `SELECT` only may not take `FLUSH TABLES WITH READ LOCK`: the copy is still
/// complete and correct, and the run report says the partitions were read at different moments.
#[test]
fn without_reload_the_report_says_partitions_were_read_at_different_moments() {
    if !mariadb_available() {
        return;
    }
    let mut conn = my();
    for sql in [
        "DROP TABLE IF EXISTS flow_snap_noreload",
        "CREATE TABLE flow_snap_noreload (id BIGINT PRIMARY KEY, version BIGINT NOT NULL) ENGINE = InnoDB",
        "INSERT INTO flow_snap_noreload SELECT seq, 7 FROM seq_1_to_3000",
        "CREATE USER IF NOT EXISTS 'flow_noreload'@'%' IDENTIFIED BY 'noreload-pw'",
        "CREATE USER IF NOT EXISTS 'flow_noreload'@'127.0.0.1' IDENTIFIED BY 'noreload-pw'",
        "GRANT SELECT ON flow_test.* TO 'flow_noreload'@'%'",
        "GRANT SELECT ON flow_test.* TO 'flow_noreload'@'127.0.0.1'",
    ] {
        conn.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let dir = crate::common::temp_dir();
    let text = format!(
        r#"let my = mysql("mysql://flow_noreload:noreload-pw@127.0.0.1:3306/flow_test")
        let db = sqlite("{}/noreload.db")
        pipeline p {{
          source s = my.table("flow_snap_noreload") {{ partition by id into 3 }}
          sink s -> db.table("copy") {{ mode replace }}
        }}"#,
        dir.path().display()
    );
    let report = runtime().block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    assert_eq!(report.notes.len(), 1, "{:?}", report.notes);
    assert!(
        report.notes[0].starts_with("source `s`: partitions are read at different moments")
            && report.notes[0].contains("RELOAD"),
        "{:?}",
        report.notes
    );
    assert!(report.table().contains(&format!("note: {}\n", report.notes[0])), "{}", report.table());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["notes"][0], report.notes[0].as_str());
    assert_eq!(sqlite_state(&dir.path().join("noreload.db"), "copy"), (3000, 1, 3000, 7, 7));
}
