//! Hostile identifiers: mixed case, spaces, quotes, semicolons, comment markers and reserved
//! words in table and column names are quoted for each dialect, so they round-trip as names and
//! are never read as SQL.


use crate::common::{mariadb_available, postgres_available, run_flow, runtime};
use flow::exec::RunStatus;
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

/// `Select`, `my col`, `quo"te`, `from`, `order` of the MariaDB target.
type Row = (i32, Option<String>, String, Option<String>, i64);

#[test]
fn hostile_names_round_trip_through_postgres_mariadb_and_sqlite() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                r#"DROP TABLE IF EXISTS public."Odd Table; DROP TABLE x; --";
                   CREATE TABLE public."Odd Table; DROP TABLE x; --" ("Select" int, "my col" text, "quo""te" text, "from" date);
                   INSERT INTO public."Odd Table; DROP TABLE x; --" VALUES (1, 'a', 'b''c', '2024-01-01'), (2, NULL, '--', NULL);"#,
            )
            .await
            .unwrap();
    });
    let mut conn = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    conn.query_drop("DROP TABLE IF EXISTS `Mixed ``Case`` -- t`").unwrap();
    let dir = crate::common::temp_dir();
    let text = format!(
        r#"let pg = postgres("{PG}")
        let my = mysql("{MY}")
        let lite = sqlite("${{OUT}}/odd.db")
        pipeline p {{
          source s = pg.table("public.\"Odd Table; DROP TABLE x; --\"") {{ partition by `Select` into 2 }}
          transform t = s | filter `my col` is null or `quo"te` like 'b%' | derive `order` = `Select` * 10
          sink t -> my.table("Mixed `Case` -- t") {{ mode replace }}
          sink t -> lite.table("\"Weird \"\"name\"\"; --\"") {{ mode replace }}
        }}"#
    );
    let report = rt.block_on(run_flow(&text, &[("OUT", dir.path().to_str().unwrap())])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let rows: Vec<Row> = conn
        .query("SELECT `Select`, `my col`, `quo\"te`, CAST(`from` AS CHAR), `order` FROM `Mixed ``Case`` -- t` ORDER BY `Select`")
        .unwrap();
    assert_eq!(
        rows,
        [(1, Some("a".into()), "b'c".into(), Some("2024-01-01".into()), 10), (2, None, "--".into(), None, 20)]
    );
    let lite = rusqlite::Connection::open(dir.path().join("odd.db")).unwrap();
    let n: i64 = lite
        .query_row(r#"SELECT count(*) FROM "Weird ""name""; --" WHERE "quo""te" = 'b''c'"#, [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    // The source table is still there: nothing was executed as SQL.
    let still = rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .query_one(r#"SELECT count(*) FROM public."Odd Table; DROP TABLE x; --""#, &[])
            .await
            .unwrap()
            .get::<_, i64>(0)
    });
    assert_eq!(still, 2);
}
