//! Schemas of many tables: planning a table set asks each server a fixed number of statements,
//! whatever the number of tables, because the catalog read also answers what describing each
//! table would ask (`connect::catalog::TableRead`); and those answers are the ones each table's
//! own probe and catalog queries give (`connect::table_read`), across many column types, on
//! PostgreSQL and MariaDB. A table whose types the catalog is not sure of is probed on its own
//! and refused as before, and `flow check` says so.

use std::collections::BTreeMap;

use crate::common::{
    PG_TEST_URL, flow_cli_env, mariadb_available, pg_exec, postgres_available, runtime, temp_dir, write,
};
use mysql::prelude::Queryable;

const MY_SERVER: &str = "mysql://root@127.0.0.1:3306";

/// A file copying the tables of `pattern` from `source` into a SQLite file in `dir`.
fn copy_file(dir: &std::path::Path, source: &str, pattern: &str) -> String {
    let db = dir.join("target.db");
    write(
        dir,
        "copy.flow",
        &format!(
            "let src = {source}\nlet dst = sqlite(\"{}\")\npipeline copy {{\n  parallelism 2\n  \
             source app = src.tables(\"{pattern}\")\n  sink app -> dst.schema() {{ mode replace }}\n}}\n",
            db.display()
        ),
    )
}

/// The statements `flow COMMAND FILE` sent to `backend` sources, as `FLOW_LOG_SQL` logs them.
fn logged(command: &str, file: &str, backend: &str) -> Vec<String> {
    let dir = temp_dir();
    let log = dir.path().join("sql.log");
    let (code, out, err) = flow_cli_env(&[command, file], &[("FLOW_LOG_SQL", log.to_str().unwrap())]);
    assert_eq!(code, 0, "flow {command}:\n{out}\n{err}");
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with(&format!("{backend}\t")))
        .map(|line| line.splitn(3, '\t').skip(1).collect::<Vec<_>>().join("\t"))
        .collect()
}

/// `n` PostgreSQL tables in schema `schema`: a primary key, an index, a foreign key to the
/// previous table on every third, 10 rows each; analysed.
fn postgres_tables(schema: &str, n: usize) {
    let mut sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};");
    for i in 1..=n {
        let fk = if i % 3 == 0 { format!(" REFERENCES {schema}.t{:03} (id)", i - 1) } else { String::new() };
        sql.push_str(&format!(
            "CREATE TABLE {schema}.t{i:03} (id bigint PRIMARY KEY, parent bigint{fk}, name text NOT NULL, \
             amount numeric(12,2), at timestamptz); CREATE INDEX ON {schema}.t{i:03} (at);
             INSERT INTO {schema}.t{i:03} SELECT g, NULL, 'n' || g, g / 3.0, now() FROM generate_series(1, 10) g;
             ANALYZE {schema}.t{i:03};"
        ));
    }
    pg_exec(&sql);
}

/// `n` MariaDB tables in a fresh database `database`, as [`postgres_tables`].
fn mariadb_tables(database: &str, n: usize) {
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(MY_SERVER).unwrap()).unwrap();
    conn.query_drop(format!("DROP DATABASE IF EXISTS {database}")).unwrap();
    conn.query_drop(format!("CREATE DATABASE {database}")).unwrap();
    conn.query_drop(format!("USE {database}")).unwrap();
    for i in 1..=n {
        let fk =
            if i % 3 == 0 { format!(", FOREIGN KEY (parent) REFERENCES t{:03} (id)", i - 1) } else { String::new() };
        conn.query_drop(format!(
            "CREATE TABLE t{i:03} (id bigint PRIMARY KEY, parent bigint, name varchar(40) NOT NULL, \
             amount decimal(12,2), at datetime(6), INDEX (at){fk})"
        ))
        .unwrap();
        conn.query_drop(format!("INSERT INTO t{i:03} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')")).unwrap();
    }
    conn.query_drop("ANALYZE TABLE t001").unwrap();
}

/// Planning (`check`, `explain`) a set of 3 tables and one of 30 sends the same statements to
/// PostgreSQL: the catalog's, none per table.
#[test]
fn planning_a_postgres_set_sends_the_same_statements_for_3_and_30_tables() {
    if !postgres_available() {
        return;
    }
    postgres_tables("tables_n3", 3);
    postgres_tables("tables_n30", 30);
    let source = format!("postgres(\"{PG_TEST_URL}\")");
    for command in ["check", "explain"] {
        let (small, large) = (temp_dir(), temp_dir());
        let three = logged(command, &copy_file(small.path(), &source, "tables_n3.*"), "postgres");
        let thirty = logged(command, &copy_file(large.path(), &source, "tables_n30.*"), "postgres");
        assert_eq!(three, thirty, "{command}");
        assert!((5..=12).contains(&three.len()), "{command}: {three:#?}");
        assert!(three.iter().all(|sql| !sql.contains("t001")), "{command}: no statement about one table: {three:#?}");
    }
}

/// The same on MariaDB.
#[test]
fn planning_a_mariadb_set_sends_the_same_statements_for_3_and_30_tables() {
    if !mariadb_available() {
        return;
    }
    mariadb_tables("tables_n3", 3);
    mariadb_tables("tables_n30", 30);
    for command in ["check", "explain"] {
        let (small, large) = (temp_dir(), temp_dir());
        let three =
            logged(command, &copy_file(small.path(), &format!("mysql(\"{MY_SERVER}/tables_n3\")"), "*"), "mysql");
        let thirty =
            logged(command, &copy_file(large.path(), &format!("mysql(\"{MY_SERVER}/tables_n30\")"), "*"), "mysql");
        assert_eq!(three, thirty, "{command}");
        assert!((5..=10).contains(&three.len()), "{command}: {three:#?}");
        assert!(three.iter().all(|sql| !sql.contains("t001")), "{command}: no statement about one table: {three:#?}");
    }
}

/// The resolved plan of a copy of `pattern` from `source`, and what its catalog read knew of
/// each table, by source name.
fn resolve_set(
    source: &str,
    pattern: &str,
) -> (flow::resolve::Resolution, BTreeMap<String, flow::connect::catalog::TableRead>) {
    let dir = temp_dir();
    let file = copy_file(dir.path(), source, pattern);
    let text = std::fs::read_to_string(&file).unwrap();
    runtime().block_on(async {
        let analysis =
            flow::analyze::analyze("copy.flow", &text, &crate::common::context(&[]), flow::analyze::Discover::Offline)
                .await;
        assert!(analysis.ok(), "{}", analysis.problems.render_plain());
        let resolution = flow::resolve::resolve(&analysis.checked[0]).await;
        assert!(resolution.expansion.errors.is_empty(), "{:?}", resolution.expansion.errors);
        let known = resolution.expansion.known.clone().into_iter().collect();
        (resolution, known)
    })
}

/// Each table's catalog read equals what its own probe and queries answer; the tables in
/// `probed` are the ones the catalog leaves to the probe (schema `None`), and those in
/// `refused` are the ones the probe refuses.
fn assert_reads_equal(source: &str, pattern: &str, probed: &[&str], refused: &[&str]) {
    let (resolution, known) = resolve_set(source, pattern);
    let plan = &resolution.pipeline.plan;
    assert!(plan.sources.len() > 3, "{:?}", plan.sources.iter().map(|s| &s.name).collect::<Vec<_>>());
    for s in &plan.sources {
        let table = s.name.rsplit('.').next().unwrap();
        let read = known.get(&s.name).unwrap_or_else(|| panic!("no catalog read of {}", s.name));
        assert_eq!(read.schema.is_none(), probed.contains(&table), "{table}: {:?}", read.schema);
        let own = runtime().block_on(flow::connect::table_read(s));
        match own {
            Ok(own) => {
                assert!(!refused.contains(&table), "{table} is read by its probe");
                let catalog = flow::connect::catalog::TableRead {
                    schema: read.schema.clone().or(own.schema.clone()),
                    ..read.clone()
                };
                assert_eq!(catalog, own, "{table}");
            }
            Err(e) => {
                assert!(refused.contains(&table), "{table}: {e}");
                let described = resolution.pipeline.sources.get(&s.name).expect("described");
                assert!(described.is_err(), "{table} is refused when planned too");
            }
        }
    }
}

#[test]
fn the_postgres_catalog_answers_what_each_table_probe_answers() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP SCHEMA IF EXISTS tables_types CASCADE; CREATE SCHEMA tables_types;
         CREATE DOMAIN tables_types.posint AS integer CHECK (VALUE > 0);
         CREATE DOMAIN tables_types.money2 AS numeric(10,3);
         CREATE DOMAIN tables_types.code AS varchar(5);
         CREATE DOMAIN tables_types.small_posint AS tables_types.posint CHECK (VALUE < 100);
         CREATE TYPE tables_types.mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TABLE tables_types.numbers (id bigint PRIMARY KEY, a numeric(12,2) NOT NULL, b numeric,
           c numeric(40,5), d numeric(3,5), e numeric(5,-2), f smallint, g integer, h real, i double precision,
           j boolean, k oid);
         CREATE TABLE tables_types.texts (id integer PRIMARY KEY, a text, b varchar(20), c varchar, d char(3),
           e name, f bytea, g json, h jsonb, i uuid, j tables_types.mood NOT NULL);
         CREATE TABLE tables_types.times (a date, b time, c time(3), d timestamp, e timestamp(3),
           f timestamptz, g timestamptz(0), h interval, PRIMARY KEY (a, b));
         CREATE TABLE tables_types.domains (id smallint PRIMARY KEY, a tables_types.posint,
           b tables_types.money2, c tables_types.code NOT NULL);
         CREATE TABLE tables_types.nested (id integer, a tables_types.small_posint);
         CREATE TABLE tables_types.arrays (id integer PRIMARY KEY, tags text[]);
         CREATE TABLE tables_types.points (id integer PRIMARY KEY, p point);
         CREATE TABLE tables_types.parent (id integer PRIMARY KEY, v text);
         CREATE TABLE tables_types.child (extra text) INHERITS (tables_types.parent);
         CREATE TABLE tables_types.grandchild () INHERITS (tables_types.child);
         CREATE TABLE tables_types.parted (id integer, at date) PARTITION BY RANGE (at);
         CREATE TABLE tables_types.parted_2024 PARTITION OF tables_types.parted
           FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         INSERT INTO tables_types.numbers SELECT g, g, g, g, 0.001, 100, 1, g, g, g, true, g
           FROM generate_series(1, 500) g;
         INSERT INTO tables_types.texts SELECT g, repeat('x', g), 'b', 'c', 'd', 'e', '\\x00', '{}', '{}',
           gen_random_uuid(), 'ok' FROM generate_series(1, 300) g;
         INSERT INTO tables_types.parent SELECT g, 'p' FROM generate_series(1, 40) g;
         INSERT INTO tables_types.child SELECT g, repeat('c', 60), 'x' FROM generate_series(41, 70) g;
         INSERT INTO tables_types.grandchild SELECT g, 'g', 'y' FROM generate_series(71, 75) g;
         INSERT INTO tables_types.parted SELECT g, date '2024-01-01' + g FROM generate_series(1, 200) g;
         ANALYZE tables_types.numbers, tables_types.texts, tables_types.parent, tables_types.child,
           tables_types.grandchild, tables_types.parted;",
    );
    let source = format!("postgres(\"{PG_TEST_URL}\")");
    assert_reads_equal(&source, "tables_types.*", &["nested", "arrays", "points"], &["arrays", "points"]);
}

#[test]
fn the_mariadb_catalog_answers_what_each_table_probe_answers() {
    if !mariadb_available() {
        return;
    }
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(MY_SERVER).unwrap()).unwrap();
    for sql in [
        "DROP DATABASE IF EXISTS tables_types",
        "CREATE DATABASE tables_types",
        "USE tables_types",
        "CREATE TABLE ints (id int unsigned PRIMARY KEY, a tinyint(1), b tinyint, c tinyint unsigned, \
           d smallint unsigned NOT NULL, e mediumint, f int, g bigint unsigned, h year, i bool, \
           j int(5) unsigned zerofill)",
        "CREATE TABLE decimals (id bigint PRIMARY KEY AUTO_INCREMENT, a decimal(10,2), b decimal(65,30), \
           c decimal(10,0) unsigned, d decimal(5,5), e float, f double NOT NULL, g bit(1), h bit(12), i bit(64))",
        "CREATE TABLE texts (id varchar(10) PRIMARY KEY, a char(3), b varchar(20) NOT NULL, c text, d longtext, \
           e binary(4), f varbinary(10), g blob, h enum('a','b'), i set('x','y'), j json, \
           k varchar(5) CHARACTER SET latin1 COLLATE latin1_bin, l tinytext, m mediumblob)",
        "CREATE TABLE times (a date, b time, c time(6), d datetime, e datetime(6), f timestamp(6) NULL, \
           g timestamp NULL, PRIMARY KEY (a))",
        "CREATE TABLE shapes (id int PRIMARY KEY, p point)",
        "CREATE TABLE hidden (id int PRIMARY KEY, secret int INVISIBLE)",
        "INSERT INTO ints (id, a, b, d) VALUES (1, 1, 2, 3), (2, 0, 5, 6)",
        "INSERT INTO decimals (a, f) VALUES (1.5, 2), (2.5, 3), (3.5, 4)",
        "INSERT INTO texts (id, b, c) VALUES ('a', 'b', REPEAT('x', 3000)), ('b', 'c', 'd')",
        "ANALYZE TABLE ints, decimals, texts",
    ] {
        conn.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let source = format!("mysql(\"{MY_SERVER}/tables_types\")");
    assert_reads_equal(&source, "*", &["shapes", "hidden"], &["shapes"]);
    let integer = format!("mysql(\"{MY_SERVER}/tables_types\", tinyint1: \"integer\")");
    assert_reads_equal(&integer, "*", &["shapes", "hidden"], &["shapes"]);
}

/// A table whose column type Flow cannot read is refused as before, and `flow check` of the set
/// says which table and why (it used to look for problems under the set's name only).
#[test]
fn check_reports_a_set_member_it_cannot_read() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP SCHEMA IF EXISTS tables_bad CASCADE; CREATE SCHEMA tables_bad;
         CREATE TABLE tables_bad.good (id integer PRIMARY KEY, v text);
         CREATE TABLE tables_bad.spots (id integer PRIMARY KEY, p point);",
    );
    let dir = temp_dir();
    let file = copy_file(dir.path(), &format!("postgres(\"{PG_TEST_URL}\")"), "tables_bad.*");
    let (code, out, err) = flow_cli_env(&["check", &file], &[]);
    assert_eq!(code, 2, "{out}\n{err}");
    let text = crate::common::flat(&err);
    assert!(text.contains("source `app.spots`"), "{text}");
    assert!(text.contains("unsupported PostgreSQL type point"), "{text}");
    assert!(
        text.contains(
            "help: leave `spots` out of the set (`exclude: [\"spots\"]`, or `--exclude spots` with `flow copy \
             --all-tables`), or copy it with a source of its own whose query casts the column"
        ),
        "{text}"
    );
    assert!(!text.contains("app.good"), "{text}");
}
