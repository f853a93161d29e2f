//! Bad rows: values that do not fit the target (out of range, too long, an invalid date, NaN
//! into MySQL, a CHECK constraint) go to the reject table with their column, value and reason
//! while the good rows load; `max rejects` stops the run; the default names the row and column.

use crate::common::{flow_cli, mariadb_available, postgres_available, runtime, temp_dir};
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

async fn pg_rows(sql: &str) -> Vec<Vec<Option<String>>> {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// Ten source rows; rows 3, 5, 7 and 9 cannot go into the PostgreSQL target, row 8 not into
/// MySQL (NaN).
fn source_sql(table: &str) -> String {
    SOURCE.replace("public.rej_src", table)
}

const SOURCE: &str = "DROP TABLE IF EXISTS public.rej_src;
    CREATE TABLE public.rej_src (id bigint, small bigint, code text, day text, amount numeric, weight float8);
    INSERT INTO public.rej_src
    SELECT g,
           CASE WHEN g = 3 THEN 40000 ELSE g END,
           CASE WHEN g = 5 THEN 'toolong' ELSE 'c' || g END,
           CASE WHEN g = 7 THEN '2024-02-30' ELSE '2024-01-0' || g END,
           CASE WHEN g = 9 THEN -1 ELSE g * 1.5 END,
           CASE WHEN g = 8 THEN 'NaN'::float8 ELSE g * 0.5 END
    FROM generate_series(1, 9) g;
    INSERT INTO public.rej_src VALUES (10, 10, 'c10', '2024-01-10', 15, 5);";

fn pipeline(dir: &std::path::Path, source: &str, sink: &str, options: &str) -> std::path::PathBuf {
    let file = dir.join("rej.flow");
    std::fs::write(
        &file,
        format!(
            "let src = postgres(\"{PG}\")\nlet pg = postgres(\"{PG}\")\nlet my = mysql(\"{MY}\")\n\
             pipeline rej {{\n  source s = src.table(\"{source}\") {{ partition by id into 2 }}\n  \
             sink out = s -> {sink} {{ mode append; {options} }}\n}}\n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn postgres_target_loads_good_rows_and_rejects_each_bad_one_with_its_reason() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(&source_sql("public.rej_src_pg")));
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.rej_pg_dst, public.rej_pg_rejects;
         CREATE TABLE public.rej_pg_dst (id bigint, small smallint, code varchar(5), day date,
           amount numeric(6,2) CHECK (amount >= 0), weight float8);",
    ));
    let dir = temp_dir();

    // The default fails, naming the row and the column; nothing is published.
    let file = pipeline(dir.path(), "public.rej_src_pg", "pg.table(\"public.rej_pg_dst\")", "");
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("sink `out` partition ") && stderr.contains(": cannot write row "), "{stderr}");
    assert!(stderr.contains("add `on error skip` or `on error reject to"), "{stderr}");
    assert_eq!(rt.block_on(pg_rows("SELECT count(*) FROM public.rej_pg_dst")), [[Some("0".to_string())]]);

    // With a reject table the good rows load and every bad one is kept with its reason.
    let file = pipeline(
        dir.path(),
        "public.rej_src_pg",
        "pg.table(\"public.rej_pg_dst\")",
        "on error reject to pg.table(\"public.rej_pg_rejects\")",
    );
    let (code, stdout, stderr) = flow_cli(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sink out: 4 row(s) refused by the target"), "{stdout}");
    let loaded = rt.block_on(pg_rows("SELECT string_agg(id::text, ',' ORDER BY id) FROM public.rej_pg_dst"));
    assert_eq!(loaded, [[Some("1,2,4,6,8,10".to_string())]]);
    let rejects = rt.block_on(pg_rows(
        "SELECT part, row_no, column_name, value, message FROM public.rej_pg_rejects ORDER BY row_data",
    ));
    let text: Vec<String> = rejects
        .iter()
        .map(|r| r.iter().map(|c| c.clone().unwrap_or("NULL".into())).collect::<Vec<_>>().join(" | "))
        .collect();
    assert_eq!(text.len(), 4, "{text:#?}");
    assert!(text[0].starts_with("0 | 3 | small | 40000 | "), "{text:#?}");
    assert!(text[0].contains("out of range"), "{text:#?}");
    assert!(
        text[1].starts_with("0 | 5 | code | 'toolong' | value too long for type character varying(5)"),
        "{text:#?}"
    );
    assert!(text[2].starts_with("1 | 2 | day | '2024-02-30' | "), "{text:#?}");
    assert!(text[3].starts_with("1 | 4 | NULL |  | new row for relation"), "{text:#?}");
    assert!(text[3].contains("violates check constraint"), "{text:#?}");

    // More refused rows than `max rejects` fail the run and publish nothing.
    rt.block_on(pg_exec("TRUNCATE public.rej_pg_dst; TRUNCATE public.rej_pg_rejects;"));
    let file = pipeline(
        dir.path(),
        "public.rej_src_pg",
        "pg.table(\"public.rej_pg_dst\")",
        "on error reject to pg.table(\"public.rej_pg_rejects\"); max rejects 2",
    );
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("rows refused, more than `max rejects 2`"), "{stderr}");
    assert_eq!(rt.block_on(pg_rows("SELECT count(*) FROM public.rej_pg_dst")), [[Some("0".to_string())]]);

    // `skip` loads the same good rows and counts the others.
    let file = pipeline(dir.path(), "public.rej_src_pg", "pg.table(\"public.rej_pg_dst\")", "on error skip");
    let report = dir.path().join("report.json");
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap(), "--report", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let sink = json["stages"].as_array().unwrap().iter().find(|s| s["name"] == "out").unwrap();
    assert_eq!((sink["rows_out"].as_u64(), sink["rows_rejected"].as_u64()), (Some(6), Some(4)));
}

#[test]
fn mysql_target_rejects_nan_out_of_range_too_long_and_invalid_dates() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(&source_sql("public.rej_src_my")));
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS rej_my_dst, rej_my_rejects").unwrap();
    my.query_drop(
        "CREATE TABLE rej_my_dst (id BIGINT, small SMALLINT, code VARCHAR(5), day DATE, amount DECIMAL(6,2), weight DOUBLE)",
    )
    .unwrap();
    let dir = temp_dir();
    let file = pipeline(
        dir.path(),
        "public.rej_src_my",
        "my.table(\"rej_my_dst\")",
        "on error reject to my.table(\"rej_my_rejects\")",
    );
    let (code, stdout, stderr) = flow_cli(&["run", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("sink out: 4 row(s) refused by the target"), "{stdout}");
    let loaded: Vec<i64> = my.query("SELECT id FROM rej_my_dst ORDER BY id").unwrap();
    assert_eq!(loaded, [1, 2, 4, 6, 9, 10]);
    let rejects: Vec<(i64, i64, Option<String>, String, String)> =
        my.query("SELECT part, row_no, column_name, value, message FROM rej_my_rejects ORDER BY part, row_no").unwrap();
    assert_eq!(rejects.len(), 4, "{rejects:#?}");
    let find = |column: &str| {
        rejects.iter().find(|r| r.2.as_deref() == Some(column)).unwrap_or_else(|| panic!("{column}: {rejects:#?}"))
    };
    assert!(find("small").4.contains("Out of range value for column 'small'"), "{rejects:#?}");
    assert!(find("code").4.contains("Data too long for column 'code'"), "{rejects:#?}");
    assert_eq!(find("code").3, "'toolong'");
    assert!(find("day").4.contains("Incorrect date value: '2024-02-30'"), "{rejects:#?}");
    assert!(find("weight").4.contains("NaN cannot be stored in MySQL"), "{rejects:#?}");
}

#[test]
fn a_null_into_a_mysql_not_null_column_is_refused_by_its_column() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.rej_null_src;
         CREATE TABLE public.rej_null_src (id bigint, code text);
         INSERT INTO public.rej_null_src VALUES (1, 'a'), (2, NULL), (3, 'c');",
    ));
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop("DROP TABLE IF EXISTS rej_null_dst, rej_null_rejects").unwrap();
    my.query_drop("CREATE TABLE rej_null_dst (id BIGINT, code VARCHAR(5) NOT NULL)").unwrap();
    let dir = temp_dir();
    // Refused by default, naming the row and the column.
    let file = pipeline(dir.path(), "public.rej_null_src", "my.table(\"rej_null_dst\")", "");
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot write row 2, column code = NULL: MySQL error 1048: Column 'code' cannot be null"),
        "{stderr}"
    );
    // Rejected with its column.
    let file = pipeline(
        dir.path(),
        "public.rej_null_src",
        "my.table(\"rej_null_dst\")",
        "on error reject to my.table(\"rej_null_rejects\")",
    );
    let (code, _, stderr) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let loaded: Vec<i64> = my.query("SELECT id FROM rej_null_dst ORDER BY id").unwrap();
    assert_eq!(loaded, [1, 3]);
    let rejects: Vec<(Option<String>, String)> = my.query("SELECT column_name, message FROM rej_null_rejects").unwrap();
    assert_eq!(rejects, [(Some("code".to_string()), "MySQL error 1048: Column 'code' cannot be null".to_string())]);
    my.query_drop("DROP TABLE rej_null_dst, rej_null_rejects").unwrap();
}
