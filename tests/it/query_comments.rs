//! A `.query("...")` source is read inside Flow's own SQL (`SELECT ... FROM (<query>) AS
//! "_flow_src" WHERE ...`: the schema probe, the partition bounds, the watermark, each
//! partition): whatever ends the query (a line comment, a `;` before one, MySQL's `#` comment)
//! must not swallow the closing parenthesis. Each query is read partitioned and incrementally
//! from the real PostgreSQL, MariaDB and SQLite, and its rows read back.

use crate::common::{MY_TEST_URL, PG_TEST_URL, mariadb_available, my_exec, pg_exec, postgres_available, temp_dir};

/// Queries every dialect reads alike; each returns all three rows of `flow_qc`.
const COMMON: [&str; 4] = [
    "SELECT id, v FROM flow_qc -- every row",
    "SELECT id, v FROM flow_qc; -- the end",
    "SELECT id, -- the key\nv FROM flow_qc WHERE v IS NULL OR v <> '--;'\n;\n-- a last line\n",
    "SELECT id, v FROM flow_qc /* all */ -- rows",
];

/// `flow_qc` as each query returns it: `id:v`.
const ROWS: &str = "1:a,2:--,3:NULL";

/// `text` as a .flow string literal.
fn flow_string(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$").replace('\n', "\\n");
    format!("\"{escaped}\"")
}

/// Copies each query into SQLite twice (partitioned by `id` into 2, and incrementally on `id`)
/// with `flow run`, and returns what each copy holds, as `id:v` joined by commas.
fn copy_each(connection: &str, queries: &[&str]) -> Vec<String> {
    let dir = temp_dir();
    let out = dir.path().join("out.db");
    let mut text = format!("let db = {connection}\nlet out = sqlite(\"{}\")\npipeline p {{\n", out.display());
    for (i, query) in queries.iter().enumerate() {
        let q = flow_string(query);
        text.push_str(&format!(
            "  source p{i} = db.query({q}) {{ partition by id into 2 }}\n  sink p{i} -> out.table(\"p{i}\") {{ mode replace }}\n  \
             source n{i} = db.query({q}) {{ incremental on id }}\n  sink n{i} -> out.table(\"n{i}\") {{ mode append }}\n"
        ));
    }
    text.push_str("}\n");
    let file = crate::common::write(dir.path(), "q.flow", &text);
    crate::common::run_ok(&["run", "-q", &file]);
    let lite = rusqlite::Connection::open(&out).unwrap();
    let read = |table: String| -> String {
        let sql = format!(
            "SELECT group_concat(id || ':' || coalesce(v, 'NULL'), ',') FROM (SELECT * FROM \"{table}\" ORDER BY id)"
        );
        lite.query_row(&sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    (0..queries.len()).flat_map(|i| [read(format!("p{i}")), read(format!("n{i}"))]).collect()
}

fn assert_every_copy_holds_every_row(queries: &[&str], copies: &[String]) {
    for (i, query) in queries.iter().enumerate() {
        assert_eq!(copies[2 * i], ROWS, "partitioned: {query:?}");
        assert_eq!(copies[2 * i + 1], ROWS, "incremental: {query:?}");
    }
}

#[test]
fn postgres_queries_ending_in_comments_are_read_whole() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS flow_qc; CREATE TABLE flow_qc (id int, v text);
         INSERT INTO flow_qc VALUES (1, 'a'), (2, '--'), (3, NULL);",
    );
    let mut queries = COMMON.to_vec();
    queries.push("SELECT id, v FROM flow_qc WHERE v IS NULL OR v <> $$ -- ; $$ -- dollar-quoted");
    queries.push("SELECT id, v FROM flow_qc WHERE v IS NULL OR v <> E'it\\'s -- no' -- an escape string");
    let copies = copy_each(&format!("postgres(\"{PG_TEST_URL}\")"), &queries);
    assert_every_copy_holds_every_row(&queries, &copies);
}

#[test]
fn mariadb_queries_ending_in_comments_are_read_whole() {
    if !mariadb_available() {
        return;
    }
    my_exec("DROP TABLE IF EXISTS flow_qc");
    my_exec("CREATE TABLE flow_qc (id int, v text)");
    my_exec("INSERT INTO flow_qc VALUES (1, 'a'), (2, '--'), (3, NULL)");
    let mut queries = COMMON.to_vec();
    queries.push("SELECT id, v FROM flow_qc # every row");
    queries.push("SELECT id, v FROM flow_qc WHERE v IS NULL OR v <> 'it\\'s -- no'; # a backslash escape");
    let copies = copy_each(&format!("mysql(\"{MY_TEST_URL}\")"), &queries);
    assert_every_copy_holds_every_row(&queries, &copies);
}

#[test]
fn sqlite_queries_ending_in_comments_are_read_whole() {
    let dir = temp_dir();
    let db = dir.path().join("in.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE flow_qc (id int, v text); INSERT INTO flow_qc VALUES (1, 'a'), (2, '--'), (3, NULL);",
        )
        .unwrap();
    let mut queries = COMMON.to_vec();
    queries.push("SELECT [id], [v] FROM flow_qc -- bracketed names");
    let copies = copy_each(&format!("sqlite(\"{}\")", db.display()), &queries);
    assert_every_copy_holds_every_row(&queries, &copies);
}

/// What `explain` shows is what runs: the query without its trailing comment, and a line break
/// before the parenthesis when a comment stays inside it.
#[test]
fn explain_shows_the_embedded_query() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS flow_qc_explain; CREATE TABLE flow_qc_explain (id int, v text);
         INSERT INTO flow_qc_explain VALUES (1, 'a'), (2, 'b');",
    );
    let dir = temp_dir();
    let text = format!(
        "let db = postgres(\"{PG_TEST_URL}\")\nlet out = sqlite(\"{}/o.db\")\npipeline p {{\n  \
         source a = db.query(\"SELECT id, v FROM flow_qc_explain; -- done\") {{ partition by id into 2 }}\n  \
         source b = db.query(\"SELECT id, -- key\\nv FROM flow_qc_explain -- all\")\n  \
         sink a -> out.table(\"a\")\n  sink b -> out.table(\"b\")\n}}\n",
        dir.path().display()
    );
    let file = crate::common::write(dir.path(), "e.flow", &text);
    let json: serde_json::Value =
        serde_json::from_str(&crate::common::run_ok(&["explain", "--format", "json", &file])).expect("explain JSON");
    let reads = |stage: &str| -> Vec<String> {
        let stages = json["pipelines"][0]["stages"].as_array().unwrap();
        let stage = stages.iter().find(|s| s["name"] == stage).unwrap();
        stage["partitions"].as_array().unwrap().iter().map(|p| p["reads"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        reads("a"),
        [
            r#"SELECT "id", "v" FROM (SELECT id, v FROM flow_qc_explain) AS "_flow_src" WHERE "id" < 2"#,
            r#"SELECT "id", "v" FROM (SELECT id, v FROM flow_qc_explain) AS "_flow_src" WHERE ("id" >= 2 OR "id" IS NULL)"#,
        ]
    );
    assert_eq!(
        reads("b"),
        [r#"SELECT "id", "v" FROM (SELECT id, -- key
v FROM flow_qc_explain
) AS "_flow_src""#]
    );
}
