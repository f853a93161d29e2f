//! Whole schemas: a table set (`src.tables(...)` → `dst.schema(...)`) copies the 15-table shop
//! of `tests/it/fixtures/` (14 after an exclude pattern) PostgreSQL → MariaDB, PostgreSQL → SQLite
//! and MariaDB → PostgreSQL, twice each (the second run replaces). Every table's rows, keys,
//! indexes, foreign keys, enums and identity columns are read back from the target's catalog,
//! and a new row gets the next id.

use std::sync::OnceLock;

use crate::common::{flow_cli, flow_cli_env, mariadb_available, postgres_available, runtime, temp_dir};
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY_SERVER: &str = "mysql://root@127.0.0.1:3306";

/// Tables copied and their row counts (`tmp_scratch` is excluded by the pattern).
const TABLES: &[(&str, i64)] = &[
    ("audit_log", 50),
    ("categories", 10),
    ("countries", 3),
    ("coupons", 0),
    ("customers", 200),
    ("events", 20_000),
    ("order_items", 3_000),
    ("orders", 1_000),
    ("payments", 800),
    ("product_tags", 300),
    ("products", 300),
    ("reviews", 400),
    ("shipments", 500),
    ("tags", 3),
];

/// Foreign keys of the shop: (table, columns, referenced table).
const FOREIGN_KEYS: usize = 12;

/// The migration pipeline; `events` is read in 4 partitions set in the file, or (`auto`) in as
/// many as Flow chooses for a large table.
fn pipeline(source: &str, pattern: &str, target: &str, schema: &str, auto: bool) -> String {
    let events = if auto { "" } else { "\n    table events { partition by id into 4 }\n  " };
    format!(
        "let src = {source}\nlet dst = {target}\n\
         pipeline migrate {{\n  parallelism 2\n  \
           source app = src.tables(\"{pattern}\", exclude: [\"tmp_*\"]) {{{events}}}\n  \
           sink app -> dst.schema({schema}) {{ mode replace }}\n}}\n"
    )
}

/// Creates the PostgreSQL shop once for the tests that read it.
fn postgres_shop() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let sql = std::fs::read_to_string("tests/it/fixtures/shop_postgres.sql").unwrap();
        runtime().block_on(async {
            let client = flow::connect::postgres::connect(PG).await.unwrap();
            client.batch_execute(&sql).await.unwrap();
            client.batch_execute("ANALYZE").await.unwrap();
        });
    });
}

/// Runs the migration twice (the second replaces every table), then `flow verify`: every
/// table's rows equal the source's, partition by partition (count and checksum).
fn run_twice(file: &std::path::Path, env: &[(&str, &str)]) {
    for attempt in 0..2 {
        let (code, out, err) = flow_cli_env(&["run", "-q", file.to_str().unwrap()], env);
        assert_eq!(code, 0, "run {attempt} failed:\n{out}\n{err}");
    }
    let (code, out, err) = flow_cli_env(&["verify", file.to_str().unwrap()], env);
    assert_eq!(code, 0, "verify:\n{out}\n{err}");
    assert_eq!(out.matches("\n  equal: ").count(), TABLES.len(), "{out}");
}

fn my_conn(database: &str) -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(&format!("{MY_SERVER}/{database}")).unwrap()).unwrap()
}

#[test]
fn postgres_schema_to_mariadb() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    postgres_shop();
    let mut admin = my_conn("");
    admin.query_drop("DROP DATABASE IF EXISTS flow_ts_pg_to_my").unwrap();
    admin.query_drop("CREATE DATABASE flow_ts_pg_to_my").unwrap();
    let dir = temp_dir();
    let file = dir.path().join("migrate.flow");
    let target = format!("mysql(\"{MY_SERVER}/flow_ts_pg_to_my\")");
    let text = pipeline(&format!("postgres(\"{PG}\")"), "ts_src.*", &target, "", true);
    std::fs::write(&file, text).unwrap();
    // `events` (20,000 rows) counts as large here: it is split by its key without being told.
    let env = [("FLOW_AUTO_PARTITION_ROWS", "10000")];
    let (code, explain, err) = flow_cli_env(&["explain", file.to_str().unwrap()], &env);
    assert_eq!(code, 0, "{err}");
    assert!(
        explain.contains(
            "  partition   by id into 2 (bounds 1 ..= 20000, automatic: a large table's integer primary key)\n"
        ),
        "{explain}"
    );
    run_twice(&file, &env);

    let mut my = my_conn("flow_ts_pg_to_my");
    for (table, rows) in TABLES {
        let n: i64 = my.query_first(format!("SELECT COUNT(*) FROM `{table}`")).unwrap().unwrap();
        assert_eq!(n, *rows, "rows of {table}");
    }
    let tables: i64 = my
        .query_first("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_flow%'")
        .unwrap()
        .unwrap();
    assert_eq!(tables, TABLES.len() as i64, "tmp_scratch is excluded");
    let constraints: Vec<(String, i64)> = my
        .query(
            "SELECT CONSTRAINT_TYPE, COUNT(*) FROM information_schema.TABLE_CONSTRAINTS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT LIKE '\\_flow%' GROUP BY CONSTRAINT_TYPE ORDER BY 1",
        )
        .unwrap();
    assert_eq!(
        constraints,
        [("FOREIGN KEY".to_string(), FOREIGN_KEYS as i64), ("PRIMARY KEY".to_string(), 13), ("UNIQUE".to_string(), 3)]
    );
    let key: Vec<String> = my
        .query(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'order_items' AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        )
        .unwrap();
    assert_eq!(key, ["order_id", "line"]);
    let index: Option<(String, i64)> = my
        .query_first(
            "SELECT COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'payments' AND INDEX_NAME = 'payments_order'",
        )
        .unwrap();
    assert_eq!(index, Some(("order_id".to_string(), 1)));
    let status: String = my
        .query_first(
            "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'status'",
        )
        .unwrap()
        .unwrap();
    assert_eq!(status, "enum('new','paid','shipped')");
    let order: (String, String) =
        my.query_first("SELECT status, CAST(ordered_at AS CHAR) FROM orders WHERE id = 7").unwrap().unwrap();
    assert_eq!(order, ("paid".to_string(), "2024-02-01 00:07:00.000000".to_string()));
    let product: (String, String) =
        my.query_first("SELECT sku, CAST(price AS CHAR) FROM products WHERE id = 10").unwrap().unwrap();
    assert_eq!(product, ("SKU-10".to_string(), "12.50".to_string()));
    // The identity continues after the copied ids; the foreign keys hold.
    my.query_drop("INSERT INTO customers (email, country, created_at) VALUES ('new@x.org', 'DE', NOW())").unwrap();
    let id: i64 = my.query_first("SELECT id FROM customers WHERE email = 'new@x.org'").unwrap().unwrap();
    assert_eq!(id, 201);
    assert!(my.query_drop("INSERT INTO orders (customer_id) VALUES (99999)").is_err(), "the foreign key refuses");
}

#[test]
fn postgres_schema_to_sqlite() {
    if !postgres_available() {
        return;
    }
    postgres_shop();
    let dir = temp_dir();
    let db = dir.path().join("shop.db");
    let file = dir.path().join("migrate.flow");
    let text =
        pipeline(&format!("postgres(\"{PG}\")"), "ts_src.*", &format!("sqlite(\"{}\")", db.display()), "", false);
    std::fs::write(&file, text).unwrap();
    // What cannot be carried over is named before anything runs.
    let (code, explain, err) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        explain.contains(
            "  warning     check constraint reviews.reviews_rating_check is not carried over: \
             CHECK (((rating >= 1) AND (rating <= 5)))\n"
        ),
        "{explain}"
    );
    assert!(explain.contains("sink app->dst.reviews  <- app.reviews\n"), "{explain}");
    run_twice(&file, &[]);
    // The report has a row per table, largest first (the order the run starts them in).
    let report = dir.path().join("report.json");
    let (code, _, err) = flow_cli(&["run", "-q", "--report", report.to_str().unwrap(), file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(tables.len(), TABLES.len());
    assert_eq!((tables[0]["table"].as_str(), tables[0]["rows"].as_u64()), (Some("app.events"), Some(20_000)));
    assert!(tables.iter().all(|t| t["done"] == true), "{tables:?}");

    let conn = rusqlite::Connection::open(&db).unwrap();
    for (table, rows) in TABLES {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| r.get(0)).unwrap();
        assert_eq!(n, *rows, "rows of {table}");
    }
    let fks: i64 = TABLES
        .iter()
        .map(|(t, _)| {
            conn.query_row(&format!("SELECT COUNT(*) FROM pragma_foreign_key_list('{t}')"), [], |r| r.get::<_, i64>(0))
                .unwrap()
        })
        .sum();
    assert_eq!(fks, FOREIGN_KEYS as i64);
    let mut indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    indexes.retain(|n| !n.starts_with("_flow"));
    assert_eq!(indexes, ["countries_name_key", "customers_email_key", "payments_order", "products_sku"]);
    let key: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('order_items') WHERE pk > 0 ORDER BY pk")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(key, ["order_id", "line"]);
    let orders_sql: String =
        conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'orders'", [], |r| r.get(0)).unwrap();
    assert!(orders_sql.contains("CHECK (\"status\" IN ('new', 'paid', 'shipped'))"), "{orders_sql}");
    let violations: i64 = conn.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(violations, 0);
    conn.execute("INSERT INTO customers (email, country, created_at) VALUES ('new@x.org', 'DE', '2025-01-01')", [])
        .unwrap();
    let id: i64 = conn.query_row("SELECT id FROM customers WHERE email = 'new@x.org'", [], |r| r.get(0)).unwrap();
    assert_eq!(id, 201);
}

#[test]
fn mariadb_schema_to_postgres() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let sql = std::fs::read_to_string("tests/it/fixtures/shop_mariadb.sql").unwrap();
    let mut admin = my_conn("");
    let sql: String = sql.lines().filter(|l| !l.starts_with("--")).map(|l| format!("{l}\n")).collect();
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        admin.query_drop(statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    admin.query_drop("ANALYZE TABLE flow_ts_src.events").unwrap();
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute("DROP SCHEMA IF EXISTS ts_my_dst CASCADE; CREATE SCHEMA ts_my_dst").await.unwrap();
    });
    let dir = temp_dir();
    let file = dir.path().join("migrate.flow");
    let text = pipeline(
        &format!("mysql(\"{MY_SERVER}/flow_ts_src\")"),
        "*",
        &format!("postgres(\"{PG}\")"),
        "\"ts_my_dst\"",
        false,
    );
    std::fs::write(&file, text).unwrap();
    run_twice(&file, &[]);

    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        let one = |sql: String| {
            let client = &client;
            async move { client.query_one(sql.as_str(), &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")) }
        };
        for (table, rows) in TABLES {
            let n: i64 = one(format!("SELECT count(*) FROM ts_my_dst.\"{table}\"")).await.get(0);
            assert_eq!(n, *rows, "rows of {table}");
        }
        let constraints = client
            .query(
                "SELECT contype::text, count(*) FROM pg_constraint WHERE connamespace = 'ts_my_dst'::regnamespace \
                 AND conrelid::regclass::text NOT LIKE '%\\_flow%' GROUP BY 1 ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        let constraints: Vec<(String, i64)> = constraints.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(constraints, [("f".to_string(), FOREIGN_KEYS as i64), ("p".to_string(), 13), ("u".to_string(), 3)]);
        let key: String =
            one("SELECT string_agg(a.attname, ',' ORDER BY array_position(c.conkey, a.attnum)) FROM pg_constraint c \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
             WHERE c.conrelid = 'ts_my_dst.order_items'::regclass AND c.contype = 'p'"
                .to_string())
            .await
            .get(0);
        assert_eq!(key, "order_id,line");
        let index: String =
            one("SELECT indexdef FROM pg_indexes WHERE schemaname = 'ts_my_dst' AND indexname = 'payments_order'"
                .into())
            .await
            .get(0);
        assert!(index.contains("(order_id)") && !index.contains("UNIQUE"), "{index}");
        let labels: String = one("SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_attribute a \
             JOIN pg_enum e ON e.enumtypid = a.atttypid \
             WHERE a.attrelid = 'ts_my_dst.orders'::regclass AND a.attname = 'status'"
            .into())
        .await
        .get(0);
        assert_eq!(labels, "new,paid,shipped");
        let order: String =
            one("SELECT status::text || ' ' || ordered_at::text FROM ts_my_dst.orders WHERE id = 7".into())
                .await
                .get(0);
        assert_eq!(order, "paid 2024-02-01 00:07:00");
        let product: String =
            one("SELECT sku || ' ' || price::text FROM ts_my_dst.products WHERE id = 10".into()).await.get(0);
        assert_eq!(product, "SKU-10 12.50");
        let id: i64 =
            one("INSERT INTO ts_my_dst.customers (email, country) VALUES ('new@x.org', 'DE') RETURNING id::bigint"
                .into())
            .await
            .get(0);
        assert_eq!(id, 201, "the identity continues after the copied ids");
        let refused = client.batch_execute("INSERT INTO ts_my_dst.orders (customer_id) VALUES (99999)").await;
        assert!(refused.is_err(), "the foreign key refuses");
    });
}

#[test]
fn copy_all_tables_emits_a_table_set_and_runs_it() {
    let (code, out, err) = flow_cli(&[
        "copy",
        "postgres://u:p@db/shop",
        "mysql://root@127.0.0.1/shop",
        "--all-tables",
        "--include",
        "public.*",
        "--exclude",
        "audit_*",
        "--exclude",
        "tmp_*",
        "--schema",
        "shop",
        "--emit",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "# Generated by `flow copy --all-tables`.\nlet src = postgres(\"postgres://u:${FLOW_SOURCE_PASSWORD}@db/shop\")\n\
         let dst = mysql(\"mysql://root@127.0.0.1/shop\")\n\npipeline copy {\n  \
         source tables = src.tables(\"public.*\", exclude: [\"audit_*\", \"tmp_*\"])\n  \
         sink tables -> dst.schema(\"shop\") { mode replace }\n}\n"
    );
    let (code, _, err) = flow_cli(&["copy", "a.csv", "sqlite://x.db", "--all-tables", "--emit"]);
    assert_eq!(code, 2);
    assert!(err.contains("--all-tables copies between databases"), "{err}");
    if !postgres_available() {
        return;
    }
    postgres_shop();
    let dir = temp_dir();
    let db = dir.path().join("copy.db");
    let target = format!("sqlite://{}", db.display());
    let (code, out, err) =
        flow_cli(&["copy", "-q", PG, &target, "--all-tables", "--include", "ts_src.*", "--exclude", "tmp_*"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_flow%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, TABLES.len() as i64);
    let items: i64 = conn.query_row("SELECT COUNT(*) FROM order_items", [], |r| r.get(0)).unwrap();
    assert_eq!(items, 3_000);
}

#[test]
fn per_table_blocks_rename_reshape_and_change_the_mode() {
    if !postgres_available() {
        return;
    }
    postgres_shop();
    let dir = temp_dir();
    let db = dir.path().join("over.db");
    let file = dir.path().join("over.flow");
    std::fs::write(
        &file,
        format!(
            "let src = postgres(\"{PG}\")\nlet dst = sqlite(\"{}\")\npipeline migrate {{\n  \
               source app = src.tables(\"ts_src.*\", exclude: [\"tmp_*\"])\n  \
               transform paid = app.orders | filter status = 'paid'\n  \
               sink paid -> dst.table(\"paid_orders\")\n  \
               sink app -> dst.schema() {{\n    mode replace\n    table customers as \"clients\" {{ mode append }}\n  }}\n}}\n",
            db.display()
        ),
    )
    .unwrap();
    let (code, out, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}\n{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM paid_orders"), 334, "orders went through the transform");
    assert_eq!(count("SELECT COUNT(*) FROM paid_orders WHERE status <> 'paid'"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM clients"), 200, "customers, renamed");
    assert_eq!(count("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('orders', 'customers')"), 0);
    assert_eq!(count("SELECT COUNT(*) FROM pragma_table_info('clients') WHERE pk > 0"), 1, "its key came along");
    // `append` into the table the first run created: the same ids again are refused by its key.
    let (code, _, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("publishing into clients: UNIQUE constraint failed: clients.id"), "{err}");
}

#[test]
fn a_table_set_syncs_incrementally() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "DROP SCHEMA IF EXISTS ts_inc CASCADE; CREATE SCHEMA ts_inc;
                 CREATE TABLE ts_inc.a (id bigserial PRIMARY KEY, v text NOT NULL);
                 CREATE TABLE ts_inc.b (id bigserial PRIMARY KEY, w int);
                 INSERT INTO ts_inc.a (v) SELECT 'a' || g FROM generate_series(1, 100) g;
                 INSERT INTO ts_inc.b (w) SELECT g FROM generate_series(1, 50) g;",
            )
            .await
            .unwrap();
    });
    let dir = temp_dir();
    let db = dir.path().join("inc.db");
    let file = dir.path().join("inc.flow");
    std::fs::write(
        &file,
        format!(
            "let src = postgres(\"{PG}\")\nlet dst = sqlite(\"{}\")\npipeline sync {{\n  \
               source app = src.tables(\"ts_inc.*\") {{ incremental on id }}\n  \
               sink app -> dst.schema() {{ mode append }}\n}}\n",
            db.display()
        ),
    )
    .unwrap();
    let report = dir.path().join("report.json");
    let run = || {
        let (code, out, err) = flow_cli(&["run", "-q", "--report", report.to_str().unwrap(), file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}\n{err}");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let mut rows: Vec<(String, u64)> = report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["table"].as_str().unwrap().to_string(), t["rows"].as_u64().unwrap()))
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(run(), [("app.a".to_string(), 100), ("app.b".to_string(), 50)]);
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "INSERT INTO ts_inc.a (v) VALUES ('x'), ('y'), ('z'); INSERT INTO ts_inc.b (w) VALUES (7), (8);",
            )
            .await
            .unwrap();
    });
    assert_eq!(run(), [("app.a".to_string(), 3), ("app.b".to_string(), 2)], "only the new rows move");
    assert_eq!(run(), [("app.a".to_string(), 0), ("app.b".to_string(), 0)]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!((count("SELECT COUNT(*) FROM a"), count("SELECT COUNT(DISTINCT id) FROM a")), (103, 103));
    assert_eq!((count("SELECT COUNT(*) FROM b"), count("SELECT COUNT(DISTINCT id) FROM b")), (52, 52));
}

/// `flow status` of a table-set pipeline lists each table the ledger recorded under the set's
/// sink, with its runs, though the file names no table.
#[test]
fn status_lists_the_tables_of_a_table_set_from_the_ledger() {
    if !crate::common::postgres_available() {
        return;
    }
    crate::common::pg_exec(
        "DROP SCHEMA IF EXISTS st_src CASCADE; DROP SCHEMA IF EXISTS st_dst CASCADE; CREATE SCHEMA st_src; \
         CREATE SCHEMA st_dst; CREATE TABLE st_src.a (id int PRIMARY KEY); INSERT INTO st_src.a SELECT generate_series(1, 5); \
         CREATE TABLE st_src.b (id int); INSERT INTO st_src.b VALUES (1);",
    );
    let dir = crate::common::temp_dir();
    let file = crate::common::write(
        dir.path(),
        "st.flow",
        "let pg = postgres(\"postgres://postgres:secretpw1@127.0.0.1:5432/flow_test\")\n\
         pipeline copyall {\n  source all = pg.tables(\"st_src.*\")\n  sink out = all -> pg.schema(\"st_dst\") { mode replace }\n}\n",
    );
    let (code, stdout, stderr) = crate::common::flow_cli(&["status", &file]);
    assert_eq!(code, 0, "{stderr}");
    let header = "pipeline copyall\n  sink out -> postgres://postgres:***@127.0.0.1:5432/flow_test schema st_dst (a table set)\n";
    assert_eq!(stdout, format!("{header}    no runs recorded\n"));
    let (code, _, stderr) = crate::common::flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = crate::common::flow_cli(&["status", &file]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2].join("\n") + "\n", header);
    assert_eq!((lines[2], lines[4]), ("    table sink out.a", "    table sink out.b"), "{stdout}");
    assert!(lines[3].starts_with("      run ") && lines[3].ends_with(": published, 5 rows"), "{stdout}");
    assert!(lines[5].ends_with(": published, 1 rows"), "{stdout}");
    assert!(!stdout.contains("secretpw1"));
    crate::common::pg_exec("DROP SCHEMA st_src CASCADE; DROP SCHEMA st_dst CASCADE;");
}

/// PostgreSQL `json` keeps its text as written (whitespace, key order, duplicate keys) and
/// `jsonb` its parsed document: a whole-schema copy creates each as its own type, so neither
/// changes, and `explain` says where a target (MySQL's `JSON`) would normalize the text.
#[test]
fn json_text_is_kept_as_written_and_a_normalizing_target_is_named() {
    if !postgres_available() {
        return;
    }
    let text = r#"{"b": 1,  "a": [1, 2], "a": 3}"#;
    crate::common::pg_exec(&format!(
        "DROP SCHEMA IF EXISTS ts_json_src CASCADE; DROP SCHEMA IF EXISTS ts_json_dst CASCADE; \
         CREATE SCHEMA ts_json_src; CREATE SCHEMA ts_json_dst; \
         CREATE TABLE ts_json_src.docs (id int PRIMARY KEY, j json, b jsonb); \
         INSERT INTO ts_json_src.docs VALUES (1, '{text}', '{{\"b\":1,\"a\":2}}')"
    ));
    let (code, out, err) =
        flow_cli(&["copy", "-q", PG, PG, "--all-tables", "--include", "ts_json_src.*", "--schema", "ts_json_dst"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        crate::common::pg_rows("SELECT j::text, b::text, pg_typeof(j)::text, pg_typeof(b)::text FROM ts_json_dst.docs"),
        vec![vec![text.to_string(), r#"{"a": 2, "b": 1}"#.into(), "json".into(), "jsonb".into()]]
    );

    // MariaDB's JSON is text with a `json_valid` check: it keeps the text, and so does its copy.
    if mariadb_available() {
        crate::common::my_exec(&format!(
            "DROP DATABASE IF EXISTS ts_json_my; CREATE DATABASE ts_json_my; \
             CREATE TABLE ts_json_my.docs (id int PRIMARY KEY, j JSON); \
             INSERT INTO ts_json_my.docs VALUES (1, '{text}')"
        ));
        crate::common::pg_exec("DROP SCHEMA IF EXISTS ts_json_my CASCADE; CREATE SCHEMA ts_json_my");
        let source = format!("{MY_SERVER}/ts_json_my");
        let (code, out, err) = flow_cli(&["copy", "-q", &source, PG, "--all-tables", "--schema", "ts_json_my"]);
        assert_eq!(code, 0, "{out}\n{err}");
        assert_eq!(
            crate::common::pg_rows("SELECT j::text, pg_typeof(j)::text FROM ts_json_my.docs"),
            vec![vec![text.to_string(), "json".into()]]
        );
    }

    let dir = temp_dir();
    let (code, file, err) = flow_cli(&[
        "copy",
        PG,
        &format!("{MY_SERVER}/ts_json_dst"),
        "--all-tables",
        "--include",
        "ts_json_src.*",
        "--emit",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = crate::common::write(dir.path(), "json.flow", &file);
    // The target database must exist: `explain` probes it (an unknown database is an error).
    if mariadb_available() {
        crate::common::my_exec("CREATE DATABASE IF NOT EXISTS ts_json_dst");
    }
    let (code, out, err) = flow_cli(&["explain", &file]);
    assert_eq!(code, 0, "{err}");
    let warnings: Vec<&str> = out.lines().map(str::trim).filter(|l| l.starts_with("warning")).collect();
    assert_eq!(
        warnings,
        vec![
            "warning     column docs.j: json text becomes JSON: MySQL stores each document normalized (its \
             whitespace, key order and duplicate keys are not kept); MariaDB keeps the text"
        ],
        "{out}"
    );
}
