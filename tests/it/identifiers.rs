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

/// Two targets of one run whose names share their first 50 characters, and two of 63 bytes
/// (PostgreSQL's limit) that differ only in their last character: each is published with its
/// own rows on PostgreSQL, MariaDB and SQLite (issue 14: their staging tables once collided and
/// one target was published holding both tables' rows).
#[test]
fn targets_with_a_long_common_prefix_keep_their_own_rows() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let long_a = "customer_subscription_billing_adjustments_for_the_year_2023";
    let long_b = "customer_subscription_billing_adjustments_for_the_year_2024";
    let max_a = format!("{}a", "m".repeat(62));
    let max_b = format!("{}b", "m".repeat(62));
    let rt = runtime();
    let pg = rt.block_on(flow::connect::postgres::connect(PG)).unwrap();
    let mut my = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    for name in [long_a, long_b, &max_a, &max_b] {
        rt.block_on(pg.batch_execute(&format!("DROP TABLE IF EXISTS public.\"{name}\""))).unwrap();
        my.query_drop(format!("DROP TABLE IF EXISTS `{name}`")).unwrap();
    }
    let dir = crate::common::temp_dir();
    let text = format!(
        r#"let small = generate(rows: 30, seed: 1)
        let large = generate(rows: 70, seed: 2)
        let pg = postgres("{PG}")
        let my = mysql("{MY}")
        let lite = sqlite("${{OUT}}/names.db")
        pipeline p {{
          source a = small.table("orders")
          source b = large.table("orders")
          sink a -> pg.table("public.{long_a}") {{ mode replace }}
          sink b -> pg.table("public.{long_b}") {{ mode replace }}
          sink a -> pg.table("public.{max_a}") {{ mode replace }}
          sink b -> pg.table("public.{max_b}") {{ mode replace }}
          sink a -> my.table("{long_a}") {{ mode replace }}
          sink b -> my.table("{long_b}") {{ mode replace }}
          sink a -> my.table("{max_a}") {{ mode replace }}
          sink b -> my.table("{max_b}") {{ mode replace }}
          sink a -> lite.table("{long_a}") {{ mode replace }}
          sink b -> lite.table("{long_b}") {{ mode replace }}
        }}"#
    );
    let report = rt.block_on(run_flow(&text, &[("OUT", dir.path().to_str().unwrap())])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    let lite = rusqlite::Connection::open(dir.path().join("names.db")).unwrap();
    for (name, rows) in [(long_a, 30i64), (long_b, 70), (&max_a, 30), (&max_b, 70)] {
        let n: i64 = rt.block_on(pg.query_one(&format!("SELECT count(*) FROM public.\"{name}\""), &[])).unwrap().get(0);
        assert_eq!(n, rows, "PostgreSQL {name}");
        let n: i64 = my.query_first(format!("SELECT count(*) FROM `{name}`")).unwrap().unwrap();
        assert_eq!(n, rows, "MariaDB {name}");
        if name.starts_with("customer") {
            let n: i64 = lite.query_row(&format!("SELECT count(*) FROM \"{name}\""), [], |r| r.get(0)).unwrap();
            assert_eq!(n, rows, "SQLite {name}");
        }
    }
    // No work table is left behind on either server.
    let left: i64 = rt
        .block_on(pg.query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '\\_flow\\_%' \
             AND (tablename LIKE '%customer_subscri%' OR tablename LIKE '%mmmmmmmm%')",
            &[],
        ))
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    let left: i64 = my
        .query_first(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'flow_test' \
             AND table_name LIKE '\\_flow\\_%' AND (table_name LIKE '%customer_subscri%' OR table_name LIKE '%mmmmmmmm%')",
        )
        .unwrap()
        .unwrap();
    assert_eq!(left, 0);
}

/// A `"` in a table name reaches every dialect's SQL as written: quoted (`"we""ird"`, `""`
/// doubled), bare in a part that does not begin with a quote (`we"ird`, once read as quoting and
/// dropped), at the start of a name `flow copy` writes back (`"lead`), and in a table set's
/// `table "..."` block (whose `\"` was once kept as a backslash and a quote).
#[test]
fn double_quotes_in_table_names_round_trip() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let (pg_rows, pg_exec) = (crate::common::pg_rows, crate::common::pg_exec);
    let read_pg = |table: &str| pg_rows(&format!("SELECT id::text, \"na\"\"me\" FROM {table} ORDER BY id"));
    let expected = crate::common::rows(&[&["1", "a\"b"], &["2", "NULL"]]);
    pg_exec(
        r#"DROP SCHEMA IF EXISTS i18q_src CASCADE; DROP SCHEMA IF EXISTS i18q_dst CASCADE;
           CREATE SCHEMA i18q_src; CREATE SCHEMA i18q_dst;
           CREATE TABLE i18q_src."we""ird" (id int PRIMARY KEY, "na""me" text);
           INSERT INTO i18q_src."we""ird" VALUES (1, 'a"b'), (2, NULL);
           CREATE TABLE i18q_src."""lead" (id int PRIMARY KEY, "na""me" text);
           INSERT INTO i18q_src."""lead" VALUES (1, 'a"b'), (2, NULL);"#,
    );
    let mut my = mysql::Pool::new(MY).unwrap().get_conn().unwrap();
    for table in ["`we``ird\"x`", "`\"lead`", "`we\"ird`"] {
        my.query_drop(format!("DROP TABLE IF EXISTS {table}")).unwrap();
    }
    let read_my = |my: &mut mysql::PooledConn, table: &str| -> Vec<(i32, Option<String>)> {
        my.query(format!("SELECT id, `na\"me` FROM {table} ORDER BY id")).unwrap()
    };
    let my_expected: Vec<(i32, Option<String>)> = vec![(1, Some("a\"b".into())), (2, None)];
    let dir = crate::common::temp_dir();
    let lite = dir.path().join("q.db");
    let read_lite = |table: &str| -> Vec<(i64, Option<String>)> {
        let conn = rusqlite::Connection::open(&lite).unwrap();
        let mut statement = conn.prepare(&format!("SELECT id, \"na\"\"me\" FROM {table} ORDER BY id")).unwrap();
        statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let lite_expected: Vec<(i64, Option<String>)> = vec![(1, Some("a\"b".into())), (2, None)];

    // Names in `conn.table("...")`, quoted and bare.
    let text = format!(
        r#"let pg = postgres("{PG}")
        let my = mysql("{MY}")
        let lite = sqlite("{}")
        pipeline p {{
          source s = pg.table("i18q_src.\"we\"\"ird\"") {{ partition by id into 2 }}
          sink s -> pg.table("i18q_dst.we\"ird") {{ mode replace }}
          sink s -> my.table("we`ird\"x") {{ mode replace }}
          sink s -> lite.table("we\"ird") {{ mode replace }}
        }}"#,
        lite.display()
    );
    let file = crate::common::write(dir.path(), "q.flow", &text);
    crate::common::run_ok(&["run", "-q", &file]);
    assert_eq!(read_pg(r#"i18q_dst."we""ird""#), expected);
    assert_eq!(read_my(&mut my, "`we``ird\"x`"), my_expected);
    assert_eq!(read_lite(r#""we""ird""#), lite_expected);

    // `flow copy --table` writes the table's own name back into the .flow it runs.
    let source = r#"i18q_src."""lead""#;
    let target = format!("sqlite://{}", lite.display());
    crate::common::run_ok(&["copy", PG, &target, "--table", source, "-q"]);
    crate::common::run_ok(&["copy", PG, MY, "--table", source, "-q"]);
    assert_eq!(read_lite(r#""""lead""#), lite_expected);
    assert_eq!(read_my(&mut my, "`\"lead`"), my_expected);

    // A table set's per-table block and rename name the table with its quote.
    let text = format!(
        r#"let pg = postgres("{PG}")
        let my = mysql("{MY}")
        pipeline p {{
          source app = pg.tables("i18q_src.we*") {{ table "we\"ird" {{ partition by id into 2 }} }}
          sink app -> pg.schema("i18q_dst") {{ mode replace; table "we\"ird" as "we\"ird2" }}
          sink app -> my.schema() {{ mode replace }}
        }}"#
    );
    let file = crate::common::write(dir.path(), "set.flow", &text);
    let explained = crate::common::run_ok(&["explain", &file]);
    assert!(explained.contains("  partition   by id into 2 (bounds 1 ..= 2)"), "{explained}");
    crate::common::run_ok(&["run", "-q", &file]);
    assert_eq!(read_pg(r#"i18q_dst."we""ird2""#), expected);
    assert_eq!(read_my(&mut my, "`we\"ird`"), my_expected);
}
