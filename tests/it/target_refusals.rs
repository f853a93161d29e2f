//! Issue 14, fault 10: what an existing target refuses is found before the rows are read.
//!
//! - Generated columns (PostgreSQL `GENERATED ALWAYS AS (expr) STORED`, MySQL/MariaDB `AS (expr)
//!   STORED | VIRTUAL`) the source also has: the target computes them, the source's values are
//!   left out, and `check`/`explain` say so. PostgreSQL identity `GENERATED ALWAYS` columns keep
//!   the source's ids (`OVERRIDING SYSTEM VALUE`) and their sequence moves past them.
//! - A write the target cannot take at all (an upsert keyed on a generated column, an upsert
//!   that would update an identity `ALWAYS` column) is a `check` error, and a refusal by the
//!   sink before its staging table exists when the target changed after the check.
//! - A MySQL row larger than the server's `max_allowed_packet` is refused by row, column and
//!   size (before: `CodecError ... Broken pipe`); statements are cut to fit the packet.
//!
//! Against the real servers; every table is `i14tr_...`, and no work table of them may remain.

use mysql::prelude::Queryable;

use crate::common::{context, flow_cli, mariadb_available, postgres_available, runtime, temp_dir, unwrapped};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

fn pg_exec(sql: &str) {
    runtime().block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    });
}

/// Rows of a PostgreSQL query, each column as text (NULL as "NULL"); cast in the query.
fn pg_rows(sql: &str) -> Vec<Vec<String>> {
    runtime().block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        let rows = client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())).collect())
            .collect()
    })
}

fn my_conn() -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap()
}

fn my_exec(sql: &str) {
    my_conn().query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Rows of a MySQL query, each column as text (NULL as "NULL").
fn my_rows(sql: &str) -> Vec<Vec<String>> {
    let rows: Vec<mysql::Row> = my_conn().query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i).unwrap() {
                    mysql::Value::NULL => "NULL".to_string(),
                    mysql::Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    other => other.as_sql(true),
                })
                .collect()
        })
        .collect()
}

fn rows(expected: &[&[&str]]) -> Vec<Vec<String>> {
    expected.iter().map(|r| r.iter().map(|v| v.to_string()).collect()).collect()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Work tables (staging, old) left beside targets named `prefix...`, on PostgreSQL.
fn pg_work_tables(prefix: &str) -> Vec<Vec<String>> {
    pg_rows(&format!(
        "SELECT tablename::text FROM pg_tables WHERE tablename LIKE '\\_flow\\_stage\\_{prefix}%' \
         OR tablename LIKE '\\_flow\\_old\\_{prefix}%'"
    ))
}

/// Work tables left beside targets named `prefix...`, on MySQL.
fn my_work_tables(prefix: &str) -> Vec<Vec<String>> {
    my_rows(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'flow_test' AND \
         (TABLE_NAME LIKE '\\_flow\\_stage\\_{prefix}%' OR TABLE_NAME LIKE '\\_flow\\_old\\_{prefix}%')"
    ))
}

/// A pipeline from a PostgreSQL query into `target` on `target_url` (`postgres` or `mysql`).
fn pipeline(query: &str, kind: &str, target_url: &str, target: &str, options: &str) -> String {
    format!(
        "let src = postgres(\"{PG}\")\nlet dst = {kind}(\"{target_url}\")\n\npipeline copy {{\n  source data = \
         src.query(\"{query}\")\n  sink out = data -> dst.table(\"{target}\") {{ {options} }}\n}}\n"
    )
}

/// A PostgreSQL target with an identity `ALWAYS` key and two stored generated columns (a
/// number and a text), loaded from a source that has every column, with values for the
/// generated ones that disagree with their expressions. `explain` and `check` say what happens
/// first; the target holds the source's ids and its own computed values; the identity's
/// sequence continues after the largest id; a second run (`mode truncate`) does the same.
#[test]
fn postgres_generated_columns_are_computed_by_the_target_and_identities_keep_the_source_ids() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS i14tr_pg_orders, i14tr_pg_src;
         CREATE TABLE i14tr_pg_src (id int, name text, qty int, price numeric(10,2), total numeric(12,2), label text);
         INSERT INTO i14tr_pg_src VALUES (10, 'apple', 2, 3.50, 999.99, 'wrong'), (20, 'pear', 3, 1.00, NULL, NULL),
           (35, 'fig', NULL, 2.00, 1, 'x');
         CREATE TABLE i14tr_pg_orders (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL,
           qty int, price numeric(10,2),
           total numeric(12,2) GENERATED ALWAYS AS (coalesce(qty, 0) * price) STORED NOT NULL,
           label text GENERATED ALWAYS AS (upper(name)) STORED);",
    );
    let dir = temp_dir();
    let query = "SELECT id, name, qty, price, total, label FROM i14tr_pg_src ORDER BY id";
    let file = write(dir.path(), "orders.flow", &pipeline(query, "postgres", PG, "i14tr_pg_orders", "mode append"));

    let (code, out, err) = flow_cli(&["explain", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    for warning in [
        "  warning     column `total` is generated by the target (GENERATED ALWAYS AS ((COALESCE(qty, 0))::numeric \
         * price) STORED); the source's values are not written\n",
        "  warning     column `label` is generated by the target (GENERATED ALWAYS AS (upper(name)) STORED); the \
         source's values are not written\n",
        "  warning     column `id` is an identity column of the target (GENERATED ALWAYS AS IDENTITY); the source's \
         values are written as they are (INSERT ... OVERRIDING SYSTEM VALUE), then its sequence is moved past the \
         largest value so later inserts do not collide\n",
    ] {
        assert!(out.contains(warning), "missing {warning:?} in:\n{out}");
    }
    let (code, out, err) = flow_cli(&["check", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        unwrapped(&err).contains(
            "sink `out`: column `total` is generated by the target (GENERATED ALWAYS AS ((COALESCE(qty, 0))::numeric \
             * price) STORED); the source's values are not written"
        ),
        "{err}"
    );

    let (code, out, err) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    let select = "SELECT id::text, name, coalesce(qty::text, 'NULL'), price::text, total::text, label \
                  FROM i14tr_pg_orders ORDER BY id";
    let expected = rows(&[
        &["10", "apple", "2", "3.50", "7.00", "APPLE"],
        &["20", "pear", "3", "1.00", "3.00", "PEAR"],
        &["35", "fig", "NULL", "2.00", "0.00", "FIG"],
    ]);
    assert_eq!(pg_rows(select), expected);
    // The sequence moved past 35: the application's next insert does not collide.
    assert_eq!(
        pg_rows("INSERT INTO i14tr_pg_orders (name, qty, price) VALUES ('kiwi', 1, 1) RETURNING id::text"),
        rows(&[&["36"]])
    );

    // Another write mode into the same table: truncate, then the same rows.
    let truncate = write(dir.path(), "t.flow", &pipeline(query, "postgres", PG, "i14tr_pg_orders", "mode truncate"));
    let (code, out, err) = flow_cli(&["run", "-q", &truncate]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(pg_rows(select), expected);
    // Never moved back: the sequence already stood at 36.
    assert_eq!(
        pg_rows("INSERT INTO i14tr_pg_orders (name, price) VALUES ('lime', 1) RETURNING id::text"),
        rows(&[&["37"]])
    );
    assert!(pg_work_tables("i14tr_pg").is_empty(), "{:?}", pg_work_tables("i14tr_pg"));
}

/// Writes a PostgreSQL target cannot take: an upsert that would update an identity `ALWAYS`
/// column, and an upsert keyed on a generated column. `check` says so by column, `run` stops
/// before reading, the target is unchanged and no staging table is created. When the target
/// changes after the check, the sink refuses in `prepare`, before its staging table exists.
#[test]
fn postgres_writes_the_target_cannot_take_are_refused_before_anything_is_staged() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS i14tr_pgr_items, i14tr_pgr_src;
         CREATE TABLE i14tr_pgr_src (id int, sku text, qty int, doubled int);
         INSERT INTO i14tr_pgr_src VALUES (1, 'a', 5, 0), (2, 'b', 6, 0);
         CREATE TABLE i14tr_pgr_items (id int GENERATED ALWAYS AS IDENTITY, sku text PRIMARY KEY, qty int,
           doubled int GENERATED ALWAYS AS (qty * 2) STORED UNIQUE);
         INSERT INTO i14tr_pgr_items (sku, qty) VALUES ('old', 1);",
    );
    let dir = temp_dir();
    let query = "SELECT id, sku, qty, doubled FROM i14tr_pgr_src ORDER BY id";
    let cases = [
        (
            query,
            "mode upsert on (sku)",
            "sink `out`: column `id` of i14tr_pgr_items is GENERATED ALWAYS AS IDENTITY and mode upsert would update \
             it, which PostgreSQL refuses (such a column is only updated to DEFAULT); make it an upsert key, leave it \
             out of the pipeline (`drop id`), or use mode append or truncate",
        ),
        (
            "SELECT sku, qty, doubled FROM i14tr_pgr_src ORDER BY sku",
            "mode upsert on (doubled)",
            "sink `out`: column `doubled` of i14tr_pgr_items is an upsert key but is generated by the target \
             (GENERATED ALWAYS AS (qty * 2) STORED): the source's values cannot be written to it, so rows cannot be \
             matched by them; choose other keys",
        ),
    ];
    for (query, options, message) in cases {
        let file = write(dir.path(), "items.flow", &pipeline(query, "postgres", PG, "i14tr_pgr_items", options));
        for command in ["check", "run"] {
            let (code, out, err) = flow_cli(&[command, &file]);
            assert_eq!(code, 2, "{command} {options}: {out}\n{err}");
            assert!(unwrapped(&err).contains(message), "{command} {options}:\n{err}");
            assert!(err.contains("flow::target_refuses"), "{err}");
        }
    }
    assert_eq!(
        pg_rows("SELECT id::text, sku, qty::text, doubled::text FROM i14tr_pgr_items"),
        rows(&[&["1", "old", "1", "2"]])
    );

    // The target changes between the check and the run: the sink refuses in `prepare`.
    pg_exec(
        "DROP TABLE IF EXISTS i14tr_pgr_late; CREATE TABLE i14tr_pgr_late (id int, sku text PRIMARY KEY, qty int, doubled int);",
    );
    let text = pipeline(query, "postgres", PG, "i14tr_pgr_late", "mode upsert on (sku)");
    let rt = runtime();
    let analysis =
        rt.block_on(flow::analyze::analyze("late.flow", &text, &context(&[]), flow::analyze::Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    pg_exec(
        "ALTER TABLE i14tr_pgr_late ALTER COLUMN id SET NOT NULL, ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
    );
    let report = rt.block_on(flow::exec::run_pipeline(&analysis.plans[0], &flow::exec::RunOptions::default()));
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains(
            "sink `out`: PostgreSQL at postgres://postgres@127.0.0.1:5432/flow_test: column `id` of i14tr_pgr_late is \
             GENERATED ALWAYS AS IDENTITY and mode upsert would update it"
        ),
        "{error}"
    );
    assert_eq!(pg_rows("SELECT count(*)::text FROM i14tr_pgr_late"), rows(&[&["0"]]));
    assert!(pg_work_tables("i14tr_pgr").is_empty(), "{:?}", pg_work_tables("i14tr_pgr"));
}

/// A MariaDB/MySQL target with a STORED and a VIRTUAL generated column (MariaDB refuses any
/// value but DEFAULT for them in strict mode, error 1906): the source's values are left out,
/// `explain` says so, the target computes them; an upsert updates the other columns; an upsert
/// keyed on a generated column is a `check` error.
#[test]
fn mysql_generated_columns_are_computed_by_the_target() {
    if !(postgres_available() && mariadb_available()) {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS i14tr_my_src;
         CREATE TABLE i14tr_my_src (id int, qty int, price numeric(10,2), total numeric(12,2), next_qty int);
         INSERT INTO i14tr_my_src VALUES (1, 2, 3.50, 999, 0), (2, 3, 1.00, NULL, NULL);",
    );
    my_exec("DROP TABLE IF EXISTS i14tr_my_orders");
    my_exec(
        "CREATE TABLE i14tr_my_orders (id INT PRIMARY KEY, qty INT, price DECIMAL(10,2), \
         total DECIMAL(12,2) AS (qty * price) STORED, next_qty INT AS (qty + 1) VIRTUAL)",
    );
    let dir = temp_dir();
    let query = "SELECT id, qty, price, total, next_qty FROM i14tr_my_src ORDER BY id";
    let file = write(dir.path(), "my.flow", &pipeline(query, "mysql", MY, "i14tr_my_orders", "mode append"));
    let (code, out, err) = flow_cli(&["explain", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    for warning in [
        "  warning     column `total` is generated by the target (GENERATED ALWAYS AS (`qty` * `price`) STORED); the \
         source's values are not written\n",
        "  warning     column `next_qty` is generated by the target (GENERATED ALWAYS AS (`qty` + 1) VIRTUAL); the \
         source's values are not written\n",
    ] {
        assert!(out.contains(warning), "missing {warning:?} in:\n{out}");
    }
    let (code, out, err) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    let select = "SELECT id, qty, price, total, next_qty FROM i14tr_my_orders ORDER BY id";
    assert_eq!(my_rows(select), rows(&[&["1", "2", "3.50", "7.00", "3"], &["2", "3", "1.00", "3.00", "4"]]));

    // An upsert updates the written columns; the target recomputes the generated ones.
    pg_exec("UPDATE i14tr_my_src SET qty = 10 WHERE id = 2");
    let upsert = write(dir.path(), "up.flow", &pipeline(query, "mysql", MY, "i14tr_my_orders", "mode upsert on (id)"));
    let (code, out, err) = flow_cli(&["run", "-q", &upsert]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(my_rows(select), rows(&[&["1", "2", "3.50", "7.00", "3"], &["2", "10", "1.00", "10.00", "11"]]));

    let keyed = write(dir.path(), "k.flow", &pipeline(query, "mysql", MY, "i14tr_my_orders", "mode upsert on (total)"));
    let (code, out, err) = flow_cli(&["check", &keyed]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        unwrapped(&err).contains(
            "sink `out`: column `total` of i14tr_my_orders is an upsert key but is generated by the target (GENERATED \
             ALWAYS AS (`qty` * `price`) STORED): the source's values cannot be written to it"
        ),
        "{err}"
    );
    assert!(my_work_tables("i14tr_my").is_empty(), "{:?}", my_work_tables("i14tr_my"));
}

/// Rows larger than the server's `max_allowed_packet` (read from the server, never changed):
/// a text and a binary value of that size + 1 are refused by row, column and size, into the
/// reject table; a row just under the limit, rows that only fit a statement of their own and
/// small rows are written exactly. Under `on error fail` the run stops with the same words.
#[test]
fn mysql_rows_larger_than_max_allowed_packet_are_refused_by_row_column_and_size() {
    if !(postgres_available() && mariadb_available()) {
        return;
    }
    let packet: i64 = my_conn().query_first("SELECT @@max_allowed_packet").unwrap().unwrap();
    let (over, near, third) = (packet + 1, packet - 4096, packet / 3);
    pg_exec(&format!(
        "DROP TABLE IF EXISTS i14tr_big_src;
         CREATE TABLE i14tr_big_src (id int, body text, data bytea);
         INSERT INTO i14tr_big_src VALUES
           (1, 'small', '\\x00ff'),
           (2, repeat('a', {over}), NULL),
           (3, repeat('b', {third}), NULL), (4, repeat('c', {third}), NULL), (5, repeat('d', {third}), NULL),
           (6, NULL, convert_to(repeat('e', {over}), 'UTF8')),
           (7, repeat('f', {near}), NULL),
           (8, '', '\\x');"
    ));
    my_exec("DROP TABLE IF EXISTS i14tr_big, i14tr_big_rejects");
    let dir = temp_dir();
    let query = "SELECT id, body, data FROM i14tr_big_src ORDER BY id";
    let options = "mode replace on error reject to dst.table(\"i14tr_big_rejects\")";
    let file = write(dir.path(), "big.flow", &pipeline(query, "mysql", MY, "i14tr_big", options));
    let (code, out, err) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        my_rows("SELECT id, LENGTH(body), MD5(body), LENGTH(data), HEX(LEFT(data, 2)) FROM i14tr_big ORDER BY id"),
        pg_rows(
            "SELECT id::text, coalesce(length(body)::text, 'NULL'), coalesce(md5(body), 'NULL'), \
             coalesce(length(data)::text, 'NULL'), coalesce(upper(encode(substr(data, 1, 2), 'hex')), 'NULL') \
             FROM i14tr_big_src WHERE id NOT IN (2, 6) ORDER BY id"
        )
    );
    let refusal = |column: &str, row_bytes: i64| {
        format!(
            "the row takes {row_bytes} bytes in an INSERT packet, over the server's max_allowed_packet of {packet} \
             bytes (Flow keeps 1024 of them for the statement); its column {column} alone is {over} bytes. Raise \
             max_allowed_packet on the server (SET GLOBAL max_allowed_packet = ..., and in its configuration) to \
             write this row"
        )
    };
    // The packet: 11 header bytes, 1 NULL-bitmap byte, 2 type bytes per value, an INT (8), the
    // big value with its 4- or 9-byte length (9 from 16 MiB on), and a NULL.
    let prefix = if over >= 1 << 24 { 9 } else { 4 };
    let row_bytes = 11 + 1 + 6 + 8 + prefix + over;
    assert_eq!(
        my_rows("SELECT part, row_no, column_name, LEFT(value, 5), message FROM i14tr_big_rejects ORDER BY row_no"),
        vec![
            vec!["0".into(), "2".into(), "body".into(), "'aaaa".into(), refusal("body", row_bytes)],
            vec!["0".into(), "6".into(), "data".into(), "65656".into(), refusal("data", row_bytes)],
        ]
    );
    assert!(my_work_tables("i14tr_big").is_empty(), "{:?}", my_work_tables("i14tr_big"));

    // Without `on error`, the run stops at the first such row, naming it.
    my_exec("DROP TABLE IF EXISTS i14tr_fail_big");
    let fail = write(dir.path(), "fail.flow", &pipeline(query, "mysql", MY, "i14tr_fail_big", "mode replace"));
    let (code, _, err) = flow_cli(&["run", "-q", &fail]);
    assert_eq!(code, 1, "{err}");
    let err = unwrapped(&err);
    assert!(err.contains("sink `out` partition 0: cannot write row 2, column body = 'aaaa"), "{err}");
    assert!(err.contains(&refusal("body", row_bytes)), "{err}");
    assert!(!err.contains("Broken pipe"), "{err}");
    // `on error skip` writes the others; its run abandons the failed one and its staging table.
    let skip = pipeline(query, "mysql", MY, "i14tr_fail_big", "mode replace on error skip");
    let (code, out, err) = flow_cli(&["run", "-q", &write(dir.path(), "skip.flow", &skip)]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(my_rows("SELECT GROUP_CONCAT(id ORDER BY id) FROM i14tr_fail_big"), rows(&[&["1,3,4,5,7,8"]]));
    assert!(my_work_tables("i14tr_fail").is_empty(), "{:?}", my_work_tables("i14tr_fail"));
}
