//! PostgreSQL as a sink and as a source against the real server: every write mode, values read
//! back, and a partitioned PostgreSQL → PostgreSQL copy.

use crate::common::{postgres_available, run_flow, runtime};
use flow::exec::RunStatus;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

async fn query(sql: &str) -> Vec<tokio_postgres::Row> {
    let client = flow::connect::postgres::connect(PG).await.expect("connects");
    client.query(sql, &[]).await.expect("query runs")
}

fn pipeline(rows: u32, seed: u32, mode: &str) -> String {
    format!(
        r#"let g = generate(rows: {rows}, seed: {seed})
        let pg = postgres("{PG}")
        pipeline p {{
          parallelism 2
          source o = g.table("orders") {{ batch 500 }}
          sink o -> pg.table("public.flow_sink_modes") {{ mode {mode} }}
        }}"#
    )
}

/// (count, sum of total as text, status of id 1) in the target.
async fn summary() -> (i64, String, String) {
    let rows = query("SELECT count(*), sum(total)::text, (SELECT status FROM public.flow_sink_modes WHERE id = 1 LIMIT 1) FROM public.flow_sink_modes").await;
    (rows[0].get(0), rows[0].get(1), rows[0].get(2))
}

fn expected(rows: u64, seed: u64) -> (i64, String, String) {
    use arrow::array::AsArray;
    let b = flow::connect::generate::generate_batch(seed, 0, rows).unwrap();
    let totals = b.column(3).as_primitive::<arrow::datatypes::Decimal128Type>();
    let sum: i128 = totals.iter().map(|v| v.unwrap()).sum();
    let sum_text = format!("{}.{:02}", sum / 100, sum % 100);
    (rows as i64, sum_text, b.column(2).as_string::<i32>().value(0).to_string())
}

#[test]
fn every_write_mode_on_postgres() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async { query("DROP TABLE IF EXISTS public.flow_sink_modes").await });
    let run = |text: String| {
        let report = rt.block_on(run_flow(&text, &[])).remove(0);
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    };
    run(pipeline(1000, 1, "replace"));
    assert_eq!(rt.block_on(summary()), expected(1000, 1));
    run(pipeline(1000, 1, "append"));
    assert_eq!(rt.block_on(summary()).0, 2000);
    run(pipeline(300, 2, "truncate"));
    assert_eq!(rt.block_on(summary()), expected(300, 2));
    // Upsert needs a key: replace creates no primary key, so add one, then upsert 500 rows of seed 3.
    rt.block_on(query("ALTER TABLE public.flow_sink_modes ADD PRIMARY KEY (id)"));
    run(pipeline(500, 3, "upsert on (id)"));
    let (count, _, status) = rt.block_on(summary());
    assert_eq!(count, 500);
    assert_eq!(status, expected(500, 3).2, "row 1 was not updated");
    let staging = rt.block_on(query(
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_flow\\_stage\\_flow\\_sink\\_modes%'",
    ));
    assert_eq!(staging[0].get::<_, i64>(0), 0, "no staging table may remain");
}

#[test]
fn partitioned_postgres_to_postgres_copy_is_exact() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute("DROP TABLE IF EXISTS public.flow_pg_dst").await.unwrap();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS public.flow_pg_src;
                 CREATE TABLE public.flow_pg_src (id bigint, v text, amount numeric(14,4), at timestamptz, d date, ok boolean, raw bytea);
                 INSERT INTO public.flow_pg_src SELECT g, 'v' || g || ' 😀', g / 7.0, now() - g * interval '1 minute', date '2000-01-01' + g, g % 2 = 0, decode(md5(g::text), 'hex') FROM generate_series(1, 5000) g;
                 INSERT INTO public.flow_pg_src VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL), (NULL, '', 0, NULL, NULL, NULL, '');",
            )
            .await
            .unwrap();
    });
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline p {{
          parallelism 2
          source s = pg.table("public.flow_pg_src") {{ partition by id into 8 }}
          sink s -> pg.table("public.flow_pg_dst") {{ mode replace }}
        }}"#
    );
    let report = rt.block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let checksum = |t: &str| {
        format!("SELECT count(*), md5(string_agg(x, ',' ORDER BY x)) FROM (SELECT {t}::text AS x FROM public.{t}) s")
    };
    let a = rt.block_on(query(&checksum("flow_pg_src")));
    let b = rt.block_on(query(&checksum("flow_pg_dst")));
    assert_eq!(a[0].get::<_, i64>(0), 5002);
    assert_eq!((a[0].get::<_, i64>(0), a[0].get::<_, String>(1)), (b[0].get::<_, i64>(0), b[0].get::<_, String>(1)));
}
