//! The partitions of a PostgreSQL source read one snapshot: while a writer keeps changing the
//! source, a partitioned copy ends with the source exactly as it was at one instant.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use crate::common::{postgres_available, run_flow, runtime};
use flow::exec::RunStatus;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
/// Rows in every committed state of the source.
const ROWS: i64 = 20_000;

/// State `k` of the source: ids `k+1 ..= ROWS+k`, every row with `version = k`. The writer moves
/// from state `k-1` to `k` in one transaction: delete the lowest id, add one above the highest,
/// update every row.
fn transition(k: i64) -> String {
    format!(
        "BEGIN;
         DELETE FROM public.flow_snap_src WHERE id = {k};
         INSERT INTO public.flow_snap_src VALUES ({}, {k});
         UPDATE public.flow_snap_src SET version = {k};
         COMMIT;",
        ROWS + k
    )
}

#[test]
fn partitions_of_a_postgres_source_read_one_snapshot() {
    if !postgres_available() {
        return;
    }
    let dir = crate::common::temp_dir();
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS public.flow_snap_src;
                 CREATE TABLE public.flow_snap_src (id bigint PRIMARY KEY, version bigint NOT NULL);
                 INSERT INTO public.flow_snap_src SELECT g, 0 FROM generate_series(1, {ROWS}) g;"
            ))
            .await
            .unwrap();
    });
    // Each partition's query first sleeps a second (an InitPlan, run once per query), and the
    // partitions run one after another: without a shared snapshot, each would see a later state.
    let text = format!(
        r#"let pg = postgres("{PG}")
        let db = sqlite("{}/snap.db")
        pipeline p {{
          parallelism 1
          source s = pg.query("SELECT id, version FROM public.flow_snap_src WHERE (SELECT count(*) FROM pg_sleep(1)) = 1") {{
            partition by id into 4
          }}
          sink s -> db.table("snap") {{ mode replace }}
        }}"#,
        dir.path().display()
    );
    let committed = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (report, before, after) = rt.block_on(async {
        let writer = {
            let (committed, stop) = (committed.clone(), stop.clone());
            tokio::spawn(async move {
                let client = flow::connect::postgres::connect(PG).await.unwrap();
                let mut k = 0;
                while !stop.load(Ordering::SeqCst) {
                    k += 1;
                    client.batch_execute(&transition(k)).await.unwrap();
                    committed.store(k, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        // Let the writer get going, so the run starts on a moving source.
        while committed.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = committed.load(Ordering::SeqCst);
        let report = run_flow(&text, &[]).await.remove(0);
        let after = committed.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        writer.await.unwrap();
        (report, before, after)
    });
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    // The run read for several seconds (four partitions of a second each) while the writer
    // committed new states; each state updates every row, so a few states are a moving source.
    assert!(after >= before + 5, "the source barely changed during the run: states {before}..{after}");

    let conn = rusqlite::Connection::open(dir.path().join("snap.db")).unwrap();
    let (count, lo, hi, v_lo, v_hi): (i64, i64, i64, i64, i64) = conn
        .query_row("SELECT count(*), min(id), max(id), min(version), max(version) FROM snap", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    assert_eq!(v_lo, v_hi, "the partitions read different states of the source: versions {v_lo}..={v_hi}");
    let k = v_lo;
    assert_eq!((count, lo, hi), (ROWS, k + 1, ROWS + k), "not the rows of committed state {k}");
    assert!(k >= before && k < after, "state {k} is not one the source had during the run ({before}..{after})");
}

/// The transaction holding the snapshot stays open for the whole run even where the server ends
/// idle transactions quickly: the partitions read one after another, each starting after longer
/// than the server's `idle_in_transaction_session_timeout`.
#[test]
fn the_snapshot_outlives_a_short_idle_transaction_timeout() {
    if !postgres_available() {
        return;
    }
    let dir = crate::common::temp_dir();
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS public.flow_snap_idle;
                 CREATE TABLE public.flow_snap_idle AS SELECT g AS id FROM generate_series(1, 1000) g;",
            )
            .await
            .unwrap();
    });
    let url = format!("{PG}?options=-c%20idle_in_transaction_session_timeout%3D1500");
    let text = format!(
        r#"let pg = postgres("{url}")
        let db = sqlite("{}/idle.db")
        pipeline p {{
          parallelism 1
          source s = pg.query("SELECT id FROM public.flow_snap_idle WHERE (SELECT count(*) FROM pg_sleep(2)) = 1") {{
            partition by id into 3
          }}
          sink s -> db.table("idle") {{ mode replace }}
        }}"#,
        dir.path().display()
    );
    let report = rt.block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let conn = rusqlite::Connection::open(dir.path().join("idle.db")).unwrap();
    let count: i64 = conn.query_row("SELECT count(*) FROM idle", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 1000);
}
