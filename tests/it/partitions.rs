//! A partitioned read returns exactly the rows of an unpartitioned one, whatever the partition
//! count, including rows whose partition column is NULL (PostgreSQL and MariaDB sources).

use crate::common::{mariadb_available, postgres_available, run_flow, runtime};
use flow::exec::RunStatus;
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

async fn pg_one(sql: &str) -> (i64, String) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    let row = client.query_one(sql, &[]).await.unwrap();
    (row.get(0), row.get(1))
}

/// Count and an order-independent checksum of a PostgreSQL table over all columns.
fn checksum(table: &str) -> String {
    format!("SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t")
}

fn copy_with(source_conn: &str, source_table: &str, n: u32, target: &str) -> String {
    format!(
        r#"let src = {source_conn}
        let pg = postgres("{PG}")
        pipeline p {{
          parallelism 4
          source s = src.table("{source_table}") {{ partition by k into {n} }}
          sink s -> pg.table("{target}") {{ mode replace }}
        }}"#
    )
}

#[test]
fn postgres_partition_counts_1_2_8_read_the_same_rows() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS public.flow_parts_src;
                 CREATE TABLE public.flow_parts_src (k int, v text, d date);
                 INSERT INTO public.flow_parts_src SELECT (g * 7919) % 1000 - 300, 'v' || g, date '2020-01-01' + g FROM generate_series(1, 3000) g;
                 INSERT INTO public.flow_parts_src SELECT NULL, 'null ' || g, NULL FROM generate_series(1, 17) g;
                 INSERT INTO public.flow_parts_src SELECT 5000, 'skewed', NULL FROM generate_series(1, 5);",
            )
            .await
            .unwrap();
    });
    let expected = rt.block_on(pg_one(&checksum("public.flow_parts_src")));
    assert_eq!(expected.0, 3022);
    for n in [1, 2, 8] {
        let target = format!("public.flow_parts_pg_{n}");
        let report = rt
            .block_on(run_flow(&copy_with(&format!("postgres(\"{PG}\")"), "public.flow_parts_src", n, &target), &[]))
            .remove(0);
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
        let source = report.stages.iter().find(|s| s.name == "s").unwrap();
        assert_eq!(source.partitions.len(), n as usize, "partitions run for n = {n}");
        assert_eq!(rt.block_on(pg_one(&checksum(&target))), expected, "n = {n}");
    }
}

#[test]
fn mariadb_partition_counts_1_2_8_read_the_same_rows() {
    if !mariadb_available() || !postgres_available() {
        return;
    }
    let mut conn = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    conn.query_drop("DROP TABLE IF EXISTS flow_parts_src").unwrap();
    conn.query_drop("CREATE TABLE flow_parts_src (k INT, v VARCHAR(20), d DATE)").unwrap();
    conn.query_drop("SET SESSION max_recursive_iterations = 100000").unwrap();
    conn.query_drop(
        "INSERT INTO flow_parts_src WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
         SELECT (n * 7919) % 1000 - 300, CONCAT('v', n), DATE_ADD('2020-01-01', INTERVAL n DAY) FROM g",
    )
    .unwrap();
    conn.query_drop(
        "INSERT INTO flow_parts_src VALUES (NULL, 'null 1', NULL), (NULL, 'null 2', NULL), (5000, 'skewed', NULL)",
    )
    .unwrap();
    let rt = runtime();
    let mut checksums = Vec::new();
    for n in [1, 2, 8] {
        let target = format!("public.flow_parts_my_{n}");
        let report =
            rt.block_on(run_flow(&copy_with(&format!("mysql(\"{MY}\")"), "flow_parts_src", n, &target), &[])).remove(0);
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
        checksums.push(rt.block_on(pg_one(&checksum(&target))));
    }
    assert_eq!(checksums[0].0, 3003);
    assert_eq!(checksums[1], checksums[0], "n = 2 differs from n = 1");
    assert_eq!(checksums[2], checksums[0], "n = 8 differs from n = 1");
}

#[test]
fn wide_mariadb_partitions_are_read_as_one_streaming_query_each_without_loss() {
    if !mariadb_available() || !postgres_available() {
        return;
    }
    let mut conn = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    conn.query_drop("DROP TABLE IF EXISTS flow_wide_src").unwrap();
    conn.query_drop("CREATE TABLE flow_wide_src (k BIGINT, v VARCHAR(20))").unwrap();
    conn.query_drop("SET SESSION max_recursive_iterations = 100000").unwrap();
    // Keys 100, 200, ..., 300000: a range of 300000 keys, far wider than a SQLite chunk; MySQL
    // reads stream, so each partition is one query.
    conn.query_drop(
        "INSERT INTO flow_wide_src WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000)
         SELECT n * 100, CONCAT('v', n) FROM g",
    )
    .unwrap();
    conn.query_drop("INSERT INTO flow_wide_src VALUES (NULL, 'no key'), (-5, 'below')").unwrap();
    let text = copy_with(&format!("mysql(\"{MY}\")"), "flow_wide_src", 2, "public.flow_wide_dst");
    let rt = runtime();
    let analysis = rt.block_on(flow::analyze::analyze(
        "wide.flow",
        &text,
        &crate::common::context(&[]),
        flow::analyze::Discover::Online,
    ));
    let explained = flow::explain::text::render(&analysis.explained[0]);
    assert!(!explained.contains("chunks"), "{explained}");
    let report = rt.block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let (count, _) = rt.block_on(pg_one(&checksum("public.flow_wide_dst")));
    assert_eq!(count, 3002);
    let nulls = rt.block_on(pg_one("SELECT count(*), '' FROM public.flow_wide_dst WHERE k IS NULL"));
    assert_eq!(nulls.0, 1);
}

#[test]
fn an_unpartitioned_mariadb_table_is_read_as_one_streaming_query() {
    if !mariadb_available() || !postgres_available() {
        return;
    }
    let mut conn = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    conn.query_drop("DROP TABLE IF EXISTS flow_wide_pk").unwrap();
    conn.query_drop("CREATE TABLE flow_wide_pk (k BIGINT PRIMARY KEY, v VARCHAR(20))").unwrap();
    conn.query_drop("SET SESSION max_recursive_iterations = 100000").unwrap();
    conn.query_drop(
        "INSERT INTO flow_wide_pk WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000)
         SELECT n * 100, CONCAT('v', n) FROM g",
    )
    .unwrap();
    let text = format!(
        r#"let src = mysql("{MY}")
        let pg = postgres("{PG}")
        pipeline p {{ source s = src.table("flow_wide_pk") sink s -> pg.table("public.flow_wide_pk_dst") {{ mode replace }} }}"#
    );
    let rt = runtime();
    let analysis = rt.block_on(flow::analyze::analyze(
        "pk.flow",
        &text,
        &crate::common::context(&[]),
        flow::analyze::Discover::Online,
    ));
    let explained = flow::explain::text::render(&analysis.explained[0]);
    assert!(!explained.contains("chunks"), "{explained}");
    let report = rt.block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    assert_eq!(rt.block_on(pg_one(&checksum("public.flow_wide_pk_dst"))).0, 2000);
}

#[test]
fn a_large_table_with_an_integer_primary_key_is_partitioned_automatically() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS public.flow_auto_parts, public.flow_auto_parts_copy;
                 CREATE TABLE public.flow_auto_parts AS SELECT g::bigint AS id, g % 7 AS v FROM generate_series(1, 1000000) g;
                 ALTER TABLE public.flow_auto_parts ADD PRIMARY KEY (id);
                 ANALYZE public.flow_auto_parts;",
            )
            .await
            .unwrap();
    });
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline p {{
          parallelism 2
          source s = pg.table("public.flow_auto_parts")
          sink s -> pg.table("public.flow_auto_parts_copy") {{ mode replace }}
        }}"#
    );
    let analysis = rt.block_on(flow::analyze::analyze(
        "auto.flow",
        &text,
        &crate::common::context(&[]),
        flow::analyze::Discover::Online,
    ));
    let spec = analysis.resolved[0].plan.sources[0].partition.clone().expect("partitioned automatically");
    assert_eq!((spec.column.as_str(), spec.count, spec.automatic), ("id", 2, true));
    let json = serde_json::to_value(&analysis.explained[0]).unwrap();
    assert_eq!(
        json["stages"][0]["partition_by"],
        serde_json::json!({ "column": "id", "requested": 2, "automatic": true })
    );
    assert_eq!(json["stages"][0]["partitions"].as_array().unwrap().len(), 2);
    let report = rt.block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    assert_eq!(
        rt.block_on(pg_one(&checksum("public.flow_auto_parts_copy"))),
        rt.block_on(pg_one(&checksum("public.flow_auto_parts")))
    );
}

/// A pipeline that reads a table in partitions and replaces that same table with what it read
/// (here, cleaned by a filter): the source's snapshot must not hold a lock that the publish
/// waits for. Before, the bounds were read inside the transaction that exports the PostgreSQL
/// snapshot, whose `AccessShareLock` lasted until the run ended: the publish's `ALTER TABLE`
/// waited on it forever. The pipeline's timeout turns such a wait into a failure.
fn rewrite_in_place(conn: &str, table: &str) -> String {
    format!(
        r#"let db = {conn}
        pipeline p {{
          parallelism 2
          timeout 60s
          source s = db.table("{table}") {{ partition by k into 4 }}
          transform even = s | filter k % 2 = 0
          sink even -> db.table("{table}") {{ mode replace }}
        }}"#
    )
}

#[test]
fn a_partitioned_postgres_table_is_rewritten_in_place() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    crate::common::pg_exec(
        "DROP TABLE IF EXISTS public.flow_in_place;
         CREATE TABLE public.flow_in_place AS SELECT g AS k, 'v' || g AS v FROM generate_series(1, 5000) g;",
    );
    let expected = rt.block_on(pg_one(&checksum("(SELECT * FROM public.flow_in_place WHERE k % 2 = 0)")));
    let report = rt.block_on(run_flow(&rewrite_in_place(&format!("postgres(\"{PG}\")"), "public.flow_in_place"), &[]));
    assert_eq!(report[0].status, RunStatus::Ok, "{:?}", report[0].error);
    assert_eq!(rt.block_on(pg_one(&checksum("public.flow_in_place"))), expected);
    assert_eq!(expected.0, 2500);
}

#[test]
fn a_partitioned_mariadb_table_is_rewritten_in_place() {
    if !mariadb_available() {
        return;
    }
    let mut conn = crate::common::my_conn();
    conn.query_drop("DROP TABLE IF EXISTS flow_in_place").unwrap();
    conn.query_drop("CREATE TABLE flow_in_place (k INT PRIMARY KEY, v VARCHAR(20)) AS SELECT seq AS k, CONCAT('v', seq) AS v FROM seq_1_to_5000")
        .unwrap();
    let summary = "SELECT COUNT(*), CAST(SUM(k) AS SIGNED), MIN(k), MAX(v) FROM flow_in_place";
    let expected: (i64, i64, i64, String) = conn.query_first(format!("{summary} WHERE k % 2 = 0")).unwrap().unwrap();
    let rt = runtime();
    let report = rt.block_on(run_flow(&rewrite_in_place(&format!("mysql(\"{MY}\")"), "flow_in_place"), &[]));
    assert_eq!(report[0].status, RunStatus::Ok, "{:?}", report[0].error);
    let after: (i64, i64, i64, String) = conn.query_first(summary).unwrap().unwrap();
    assert_eq!(after, expected);
    assert_eq!(after.0, 2500);
}
