//! `explain` against the real PostgreSQL and MariaDB: real schemas and real partition ranges.

use flow::analyze::{Discover, analyze};
use flow::explain::text;

const PG: &str = "postgres://postgres@127.0.0.1:5432/test";
const MY: &str = "mysql://root@127.0.0.1:3306/test";

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.expect("postgres connects");
    client.batch_execute(sql).await.expect("setup SQL runs");
}

fn my_exec(sql: &str) {
    use mysql::prelude::Queryable;
    let pool = mysql::Pool::new(MY).expect("mariadb pool");
    let mut conn = pool.get_conn().expect("mariadb connects");
    conn.query_drop(sql).expect("setup SQL runs");
}

fn explain_text(flow_text: &str) -> String {
    explain_text_in(flow_text, false)
}

/// `explain`'s text, for a run on a cluster (`--engine`) when `cluster`.
fn explain_text_in(flow_text: &str, cluster: bool) -> String {
    let rt = crate::common::runtime();
    let mut ctx = crate::common::context(&[]);
    ctx.cluster = cluster;
    let analysis = rt.block_on(analyze("db.flow", flow_text, &ctx, Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    analysis.explained.iter().map(text::render).collect()
}

#[test]
fn postgres_explain_shows_real_schema_and_partition_ranges() {
    if !crate::common::postgres_available() {
        return;
    }
    crate::common::runtime().block_on(pg_exec(
        "DROP TABLE IF EXISTS flow_explain_pg;
         CREATE TABLE flow_explain_pg (id bigint, name text NOT NULL, amount numeric(12,2), created timestamptz);
         INSERT INTO flow_explain_pg SELECT g, 'n' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 1000) g;
         INSERT INTO flow_explain_pg VALUES (NULL, 'no id', NULL, NULL);",
    ));
    let text = explain_text(&format!(
        r#"let pg = postgres("{PG}")
        let db = sqlite("out/never.db")
        pipeline p {{
          source s = pg.table("public.flow_explain_pg") {{ partition by id into 4 }}
          sink s -> db.table("t")
        }}"#
    ));
    let source_block: String = text
        .lines()
        .skip_while(|l| !l.starts_with("source s"))
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("explain_postgres_source", source_block);
}

#[test]
fn mariadb_explain_shows_real_schema_and_partition_ranges() {
    if !crate::common::mariadb_available() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS flow_explain_my");
    my_exec("CREATE TABLE flow_explain_my (id INT, name VARCHAR(20) NOT NULL, amount DECIMAL(12,2), day DATE)");
    my_exec(
        "INSERT INTO flow_explain_my WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < 800)
         SELECT n, CONCAT('n', n), n * 1.5, DATE_ADD('2024-01-01', INTERVAL n DAY) FROM seq",
    );
    my_exec("INSERT INTO flow_explain_my VALUES (NULL, 'no id', NULL, NULL)");
    let file = format!(
        r#"let my = mysql("{MY}")
        let db = sqlite("out/never.db")
        pipeline p {{
          source s = my.table("flow_explain_my") {{ partition by id into 3 }}
          sink s -> db.table("t")
        }}"#
    );
    let source_block = |text: String| -> String {
        text.lines()
            .skip_while(|l| !l.starts_with("source s"))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let local = source_block(explain_text(&file));
    insta::assert_snapshot!("explain_mariadb_source", local);
    // On a cluster the executors cannot share the snapshot the client would hold: explain says
    // what the run will do there instead, and nothing else changes.
    let cluster = source_block(explain_text_in(&file, true));
    let warning = |block: &str| block.lines().find(|l| l.trim_start().starts_with("warning")).map(str::to_string);
    assert_eq!(
        warning(&cluster).as_deref(),
        Some(
            "  warning     partitions are read at different moments: on a cluster each executor reads its partition \
             on a connection of its own, and mysql snapshots cannot be shared between processes"
        )
    );
    let without =
        |block: &str| block.lines().filter(|l| !l.trim_start().starts_with("warning")).collect::<Vec<_>>().join("\n");
    assert_eq!(without(&cluster), without(&local));
}

#[test]
fn unreachable_source_is_explained_without_bounds() {
    let rt = crate::common::runtime();
    let text = r#"let pg = postgres("postgres://flow:secret@127.0.0.1:1/nowhere")
        let db = sqlite("out/never.db")
        pipeline p {
          source s = pg.table("t") { partition by id into 4 }
          sink s -> db.table("t")
        }"#;
    let analysis = rt.block_on(analyze("db.flow", text, &crate::common::context(&[]), Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let warnings: Vec<&str> = analysis.problems.warnings().map(|p| p.code).collect();
    assert_eq!(warnings, ["flow::source::unreachable"]);
    let rendered = analysis.problems.render_plain() + &analysis.explained.iter().map(text::render).collect::<String>();
    assert!(!rendered.contains("secret"), "password leaked:\n{rendered}");
    assert!(rendered.contains("postgres://flow:***@127.0.0.1:1/nowhere"), "{rendered}");
    assert!(rendered.contains("note        not reachable, so no schema or partition bounds"), "{rendered}");
}

#[test]
fn a_missing_partition_column_is_pointed_at() {
    if !crate::common::postgres_available() {
        return;
    }
    crate::common::runtime().block_on(pg_exec(
        "DROP TABLE IF EXISTS flow_explain_cols; CREATE TABLE flow_explain_cols (id int, name text);",
    ));
    let text = format!(
        "let pg = postgres(\"{PG}\")\nlet db = sqlite(\"out/never.db\")\npipeline p {{\n  source s = pg.table(\"flow_explain_cols\") {{ partition by ident into 2 }}\n  sink s -> db.table(\"t\")\n}}\n"
    );
    let rt = crate::common::runtime();
    let analysis = rt.block_on(analyze("cols.flow", &text, &crate::common::context(&[]), Discover::Online));
    insta::assert_snapshot!("missing_partition_column", analysis.problems.render_graphical());
}

#[test]
fn the_postgres_example_explains_against_the_real_table() {
    if !crate::common::postgres_available() {
        return;
    }
    // scripts/start-databases.sh creates public.flow_example_orders (20000 rows).
    let text = std::fs::read_to_string("pipelines/postgres_to_sqlite.flow").unwrap();
    let rt = crate::common::runtime();
    let analysis = rt.block_on(analyze(
        "pipelines/postgres_to_sqlite.flow",
        &text,
        &crate::common::context(&[("OUT", "out")]),
        Discover::Online,
    ));
    if analysis.problems.render_plain().contains("does not exist") {
        panic!("run scripts/start-databases.sh first: {}", analysis.problems.render_plain());
    }
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    insta::assert_snapshot!("explain_postgres_example_text", text::render(&analysis.explained[0]));
    insta::assert_snapshot!(
        "explain_postgres_example_json",
        serde_json::to_string_pretty(&flow::explain::Explained { pipelines: analysis.explained.clone() }).unwrap()
    );
}

#[test]
fn safe_filters_are_pushed_into_the_source_query_and_results_are_unchanged() {
    if !crate::common::postgres_available() {
        return;
    }
    crate::common::runtime().block_on(pg_exec(
        "DROP TABLE IF EXISTS flow_push;
         CREATE TABLE flow_push (id int, name text, score double precision);
         INSERT INTO flow_push SELECT g, CASE WHEN g % 2 = 0 THEN 'Even' ELSE 'odd' END, g / 3.0 FROM generate_series(1, 1000) g;
         INSERT INTO flow_push VALUES (NULL, 'Even', NULL);",
    ));
    let dir = crate::common::temp_dir();
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline p {{
          source s = pg.table("flow_push") {{ partition by id into 2 }}
          transform t = s | filter id > 900 and name = 'Even' and score > 10 | select id, name
          sink t -> csv("${{OUT}}/pushed.csv")
        }}"#
    );
    let rt = crate::common::runtime();
    let ctx = crate::common::context(&[("OUT", dir.path().to_str().unwrap())]);
    let analysis = rt.block_on(analyze("push.flow", &text, &ctx, Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let explained = text::render(&analysis.explained[0]);
    let partitions: Vec<&str> = explained.lines().filter(|l| l.trim_start().starts_with('#')).collect();
    assert_eq!(
        partitions,
        [
            r#"    #0   SELECT "id", "name", "score" FROM "flow_push" WHERE "id" < 501 AND "id" > 900 AND "name" = 'Even'"#,
            r#"    #1   SELECT "id", "name", "score" FROM "flow_push" WHERE ("id" >= 501 OR "id" IS NULL) AND "id" > 900 AND "name" = 'Even'"#,
        ],
        "the float comparison stays in DataFusion; integer and string-equality filters go to PostgreSQL"
    );
    let report = rt.block_on(crate::common::run_flow(&text, &[("OUT", dir.path().to_str().unwrap())])).remove(0);
    assert_eq!(report.status, flow::exec::RunStatus::Ok, "{:?}", report.error);
    let csv = std::fs::read_to_string(dir.path().join("pushed.csv")).unwrap();
    assert_eq!(csv.lines().count() - 1, 50, "ids 902, 904, ..., 1000");
}

#[test]
fn wide_rows_get_small_automatic_batches_from_the_statistics() {
    if !crate::common::postgres_available() {
        return;
    }
    // About 1,500 bytes of incompressible text a row: the types alone would suggest 44 bytes.
    crate::common::runtime().block_on(pg_exec(
        "DROP TABLE IF EXISTS flow_wide_rows;
         CREATE TABLE flow_wide_rows AS SELECT g::bigint AS id,
           (SELECT string_agg(md5(g::text || '-' || k), '') FROM generate_series(1, 47) k) AS body
           FROM generate_series(1, 2000) g;
         ANALYZE flow_wide_rows;",
    ));
    let text = explain_text(&format!(
        r#"let pg = postgres("{PG}")
        let db = sqlite("out/never.db")
        pipeline p {{
          source wide = pg.table("flow_wide_rows")
          source narrow = pg.table("flow_wide_rows") {{ batch 500 }}
          transform ids = narrow | select id
          sink wide -> db.table("t")
          sink ids -> db.table("u")
        }}"#
    ));
    let batches: Vec<&str> = text.lines().filter(|l| l.starts_with("  batch ")).take(2).collect();
    assert_eq!(
        batches,
        ["  batch       2048 rows (automatic, from the row width)", "  batch       500 rows"],
        "{text}"
    );
}
