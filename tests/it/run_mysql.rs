//! MySQL/MariaDB as a sink and a source against the real server: every write mode with values
//! read back, and copies between MariaDB and PostgreSQL checked row by row.

use crate::common::{mariadb_available, postgres_available, run_flow, runtime};
use flow::exec::RunStatus;
use mysql::prelude::Queryable;

const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";
const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

fn my() -> mysql::PooledConn {
    mysql::Pool::new(MY).expect("pool").get_conn().expect("mariadb connects")
}

fn pipeline(rows: u32, seed: u32, mode: &str) -> String {
    format!(
        r#"let g = generate(rows: {rows}, seed: {seed})
        let my = mysql("{MY}")
        pipeline p {{
          parallelism 2
          source o = g.table("orders") {{ batch 500 }}
          sink o -> my.table("flow_sink_modes") {{ mode {mode} }}
        }}"#
    )
}

/// (count, sum of total, status of id 1) in the target.
fn summary() -> (i64, String, String) {
    let row: (i64, String, String) = my()
        .query_first("SELECT count(*), CAST(sum(total) AS CHAR), (SELECT status FROM flow_sink_modes WHERE id = 1 LIMIT 1) FROM flow_sink_modes")
        .expect("query")
        .expect("one row");
    row
}

fn expected(rows: u64, seed: u64) -> (i64, String, String) {
    use arrow::array::AsArray;
    let b = flow::connect::generate::generate_batch(seed, 0, rows).unwrap();
    let sum: i128 = b.column(3).as_primitive::<arrow::datatypes::Decimal128Type>().iter().map(|v| v.unwrap()).sum();
    (rows as i64, format!("{}.{:02}", sum / 100, sum % 100), b.column(2).as_string::<i32>().value(0).to_string())
}

#[test]
fn every_write_mode_on_mariadb() {
    if !mariadb_available() {
        return;
    }
    my().query_drop("DROP TABLE IF EXISTS flow_sink_modes").unwrap();
    let rt = runtime();
    let run = |text: String| {
        let report = rt.block_on(run_flow(&text, &[])).remove(0);
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    };
    run(pipeline(1000, 1, "replace"));
    assert_eq!(summary(), expected(1000, 1));
    run(pipeline(1000, 1, "append"));
    assert_eq!(summary().0, 2000);
    run(pipeline(300, 2, "truncate"));
    assert_eq!(summary(), expected(300, 2));
    my().query_drop("ALTER TABLE flow_sink_modes ADD PRIMARY KEY (id)").unwrap();
    run(pipeline(500, 3, "upsert on (id)"));
    let (count, _, status) = summary();
    assert_eq!(count, 500);
    assert_eq!(status, expected(500, 3).2, "row 1 was not updated");
    let staging: i64 = my()
        .query_first("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'flow_test' AND table_name LIKE '\\_flow\\_stage\\_flow\\_sink\\_modes%'")
        .unwrap()
        .unwrap();
    assert_eq!(staging, 0, "no staging table may remain");
}

#[test]
fn nan_into_mariadb_fails_naming_column_and_row_and_leaves_nothing() {
    if !mariadb_available() {
        return;
    }
    my().query_drop("DROP TABLE IF EXISTS flow_nan").unwrap();
    let text = format!(
        r#"let g = generate(rows: 100)
        let my = mysql("{MY}")
        pipeline p {{
          source o = g.table("orders")
          transform t = o | derive ratio = case when id = 42 then cast('NaN' as double) else weight end | select id, ratio
          sink t -> my.table("flow_nan") {{ mode replace }}
        }}"#
    );
    let report = runtime().block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Failed);
    let error = report.error.unwrap();
    assert!(error.contains("column ratio") && error.contains("NaN cannot be stored in MySQL"), "{error}");
    let exists: Option<i64> = my()
        .query_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'flow_test' AND table_name = 'flow_nan'",
        )
        .unwrap();
    assert_eq!(exists, None, "a failed run must not create the target");
}

#[test]
fn mariadb_to_postgres_and_back_keeps_every_value() {
    if !mariadb_available() || !postgres_available() {
        return;
    }
    let mut conn = my();
    conn.query_drop("DROP TABLE IF EXISTS flow_my_src").unwrap();
    conn.query_drop("DROP TABLE IF EXISTS flow_my_back").unwrap();
    conn.query_drop(
        "CREATE TABLE flow_my_src (id INT, small SMALLINT, big BIGINT, amount DECIMAL(14,4), ratio DOUBLE, name VARCHAR(50), body TEXT, raw BLOB, day DATE, at DATETIME(6), flag BOOLEAN)",
    )
    .unwrap();
    conn.query_drop(
        "INSERT INTO flow_my_src VALUES
           (1, -32768, -9223372036854775808, -1234567890.1234, 1.5e300, 'héllo 😀', REPEAT('x', 10000), X'00FF', '1000-01-01', '2024-02-29 12:34:56.789012', 1),
           (2, 32767, 9223372036854775807, 0.0001, -0.5, '', '', X'', '9999-12-31', '1970-01-01 00:00:00', 0),
           (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
           (NULL, 0, 0, 0, 0, 'null id', 'b', X'01', '2000-01-01', '2000-01-01 00:00:00', 1)",
    )
    .unwrap();
    runtime().block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute("DROP TABLE IF EXISTS public.flow_from_my").await.unwrap();
    });
    let text = format!(
        r#"let my = mysql("{MY}")
        let pg = postgres("{PG}")
        pipeline there {{
          source s = my.table("flow_my_src") {{ partition by id into 2 }}
          sink s -> pg.table("public.flow_from_my") {{ mode replace }}
        }}"#
    );
    let report = runtime().block_on(run_flow(&text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let back = format!(
        r#"let my = mysql("{MY}")
        let pg = postgres("{PG}")
        pipeline back {{
          source s = pg.table("public.flow_from_my") {{ partition by id into 2 }}
          sink s -> my.table("flow_my_back") {{ mode replace }}
        }}"#
    );
    let report = runtime().block_on(run_flow(&back, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let dump = |table: &str| -> Vec<String> {
        my().query_map(
            format!(
                "SELECT CONCAT_WS('|', IFNULL(id,'N'), IFNULL(small,'N'), IFNULL(big,'N'), IFNULL(amount,'N'), IFNULL(ratio,'N'), IFNULL(name,'N'), IFNULL(MD5(body),'N'), IFNULL(HEX(raw),'N'), IFNULL(day,'N'), IFNULL(at,'N'), IFNULL(flag,'N')) FROM {table} ORDER BY 1"
            ),
            |row: String| row,
        )
        .unwrap()
    };
    let original = dump("flow_my_src");
    assert_eq!(original.len(), 4);
    assert_eq!(dump("flow_my_back"), original, "MariaDB -> PostgreSQL -> MariaDB changed values");
}
