//! Issue 16: pipelines on a Ballista cluster. A scheduler and an executor run in this process
//! (`flow::cluster::standalone`), on loopback ports, with the plan encoded and decoded as it is
//! between separate processes; the databases are the real servers.

use std::sync::Arc;

use crate::common::{context, postgres_available, runtime};
use flow::analyze::{Discover, analyze};
use flow::exec::{RunOptions, RunStatus, run_pipeline};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

async fn query(sql: &str) -> Vec<tokio_postgres::Row> {
    let client = flow::connect::postgres::connect(PG).await.expect("connects");
    client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Each row of `table` as text, in id order, and a digest over all of them.
async fn contents(table: &str) -> (i64, String) {
    let rows = query(&format!(
        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id NULLS FIRST, t::text), '')) FROM {table} t"
    ))
    .await;
    (rows[0].get(0), rows[0].get(1))
}

#[test]
fn postgres_to_postgres_in_8_partitions_on_an_in_process_cluster() {
    if !postgres_available() {
        return;
    }
    let (src, dst) = (format!("cluster_src_{}", std::process::id()), format!("cluster_dst_{}", std::process::id()));
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS public.{dst}; DROP TABLE IF EXISTS public.{src};
                 CREATE TABLE public.{src} (id bigint, v text, amount numeric(14,4), at timestamptz, d date, ok boolean, raw bytea);
                 INSERT INTO public.{src} SELECT g, 'v' || g || ' 😀', g / 7.0, timestamptz '2024-01-01 00:00:00+00' - g * interval '1 minute', date '2000-01-01' + g, g % 2 = 0, decode(md5(g::text), 'hex') FROM generate_series(1, 8000) g;
                 INSERT INTO public.{src} VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL), (4, '', 0, NULL, NULL, NULL, '');"
            ))
            .await
            .unwrap();
    });
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline cluster_copy {{
          source s = pg.table("public.{src}") {{ partition by id into 8 }}
          sink s -> pg.table("public.{dst}") {{ mode replace }}
        }}"#
    );
    let report = rt.block_on(async {
        let cluster = flow::cluster::standalone::start(4).await.expect("the in-process cluster starts");
        let analysis = analyze("cluster.flow", &text, &context(&[]), Discover::Online).await;
        assert!(analysis.ok(), "{}", analysis.problems.render_plain());
        let options = RunOptions {
            engine: Some(Arc::new(flow::cluster::BallistaEngine::new(&cluster.scheduler))),
            ..RunOptions::default()
        };
        // The same run against a scheduler that is not there fails on the engine's path.
        let nowhere = RunOptions {
            engine: Some(Arc::new(flow::cluster::BallistaEngine::new("127.0.0.1:1"))),
            ..RunOptions::default()
        };
        let failed = run_pipeline(&analysis.resolved[0], &nowhere).await;
        assert_eq!(failed.status, RunStatus::Failed);
        let error = failed.error.unwrap_or_default();
        assert!(error.contains("cannot reach the Ballista scheduler at 127.0.0.1:1"), "{error}");
        run_pipeline(&analysis.resolved[0], &options).await
    });
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let (source, target) =
        rt.block_on(async { (contents(&format!("public.{src}")).await, contents(&format!("public.{dst}")).await) });
    assert_eq!(source.0, 8002);
    assert_eq!(target, source, "the target holds exactly the source's rows");
    let ledger = rt.block_on(query(&format!(
        "SELECT part, row_count FROM public._flow_ledger WHERE pipeline = 'cluster_copy' AND run_id = '{}' \
         AND event = 'partition' ORDER BY part",
        report.run_id
    )));
    let parts: Vec<i64> = ledger.iter().map(|r| r.get(0)).collect();
    assert_eq!(parts, (0..8).collect::<Vec<i64>>(), "one ledger row per partition");
    assert_eq!(ledger.iter().map(|r| r.get::<_, i64>(1)).sum::<i64>(), 8002);
    let published = rt.block_on(query(&format!(
        "SELECT row_count FROM public._flow_ledger WHERE run_id = '{}' AND event = 'publish'",
        report.run_id
    )));
    assert_eq!(published.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(), vec![8002]);
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute(&format!("DROP TABLE public.{dst}; DROP TABLE public.{src};")).await.unwrap();
    });
}
