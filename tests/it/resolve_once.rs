//! Resolving describes each source once per command, counted from what the server saw: each
//! source's connection goes through a [`WireProxy`], which records the SQL of every message
//! Flow sends (the targets are written directly, so only the sources' statements are counted).
//! `flow run` and `flow run --verify` of a partitioned PostgreSQL source, of one partitioned
//! automatically, and of a partitioned MariaDB source send each description statement (schema
//! probe, bounds, row estimate, row width, primary key, snapshot export) once; a file of two
//! pipelines, the second reading the table the first writes, describes each pipeline once,
//! when its turn comes, after the first pipeline's snapshot has ended.

use std::collections::BTreeMap;

use crate::common::{
    PG_TEST_URL, flow_cli, flow_cli_env, mariadb_available, my_exec, pg_exec, pg_rows, postgres_available, rows,
    temp_dir, write,
};
use crate::wire_proxy::{Event, Protocol, WireProxy};

/// A URL of database `flow_test` through `proxy`.
fn pg_through(proxy: &WireProxy) -> String {
    format!("postgres://postgres@127.0.0.1:{}/flow_test", proxy.port())
}

/// What a PostgreSQL statement about source table `table` (written as in SQL,
/// `"public"."t"`) is for, and its step, or `None` when it is not about that table. Flow reads
/// a result (small or a partition) with `COPY (query) TO STDOUT`, after parsing the query alone
/// to learn its columns: each such read is a `parse` and a `copy`. The schema probe is a
/// `parse` only.
fn pg_purpose(sql: &str, table: &str) -> Option<(&'static str, &'static str)> {
    let (query, step) = match sql.strip_prefix("COPY (").and_then(|s| s.strip_suffix(") TO STDOUT (FORMAT binary)")) {
        Some(query) => (query, "copy"),
        None => (sql, "parse"),
    };
    let purpose = if query == format!("SELECT * FROM {table}") {
        "schema probe"
    } else if query.contains("MIN(") && query.contains(table) {
        "bounds"
    } else if query.starts_with("WITH RECURSIVE tree(oid)") && query.contains(table) {
        "row estimate"
    } else if query.contains("pg_stats") && query.contains(table) {
        "row width"
    } else if query.contains("pg_index") && query.contains(table) {
        "primary key"
    } else if query.contains(&format!("FROM {table} WHERE")) {
        "partition read"
    } else {
        return None;
    };
    Some((purpose, step))
}

/// How many statements about `table` the proxy saw, by purpose and step.
fn pg_counts(proxy: &WireProxy, table: &str) -> BTreeMap<(&'static str, &'static str), usize> {
    let mut counts = BTreeMap::new();
    for (_, _, sql) in proxy.statements() {
        if let Some(purpose) = pg_purpose(&sql, table) {
            *counts.entry(purpose).or_default() += 1;
        }
    }
    counts
}

/// A source table's description, as the server sees it: the schema probe; the bounds, row
/// estimate and row width, each parsed and copied; the primary key (`automatic`) likewise; and
/// `reads` partition reads.
fn described(automatic: bool, reads: usize) -> BTreeMap<(&'static str, &'static str), usize> {
    let mut counts = BTreeMap::from([
        (("schema probe", "parse"), 1),
        (("bounds", "parse"), 1),
        (("bounds", "copy"), 1),
        (("row estimate", "parse"), 1),
        (("row estimate", "copy"), 1),
        (("row width", "parse"), 1),
        (("row width", "copy"), 1),
        (("partition read", "parse"), reads),
        (("partition read", "copy"), reads),
    ]);
    if automatic {
        counts.insert(("primary key", "parse"), 1);
        counts.insert(("primary key", "copy"), 1);
    }
    counts
}

/// The statements that name no table, counted: snapshot exports, snapshot imports (a
/// partition's transaction started in an exported snapshot) and the inheritance lookups that
/// go with each schema probe.
fn pg_unnamed(proxy: &WireProxy) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for (_, _, sql) in proxy.statements() {
        let what = if sql == "SELECT pg_export_snapshot()" {
            "snapshot export"
        } else if sql.contains("SET TRANSACTION SNAPSHOT") {
            "snapshot import"
        } else if sql.contains("FROM pg_inherits i JOIN pg_class p") {
            "inheritance children"
        } else {
            continue;
        };
        *counts.entry(what).or_default() += 1;
    }
    counts
}

fn expected(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

/// Every statement the proxy saw, one per line, for a failed assertion.
fn dump(proxy: &WireProxy) -> String {
    proxy.statements().iter().map(|(c, p, sql)| format!("{c:>3} {} {sql}\n", if *p { "P" } else { "Q" })).collect()
}

/// Runs `flow ARGS`, which must succeed.
fn flow_ok(args: &[&str], proxy: &WireProxy) {
    let (code, out, err) = flow_cli(args);
    assert_eq!(code, 0, "flow {args:?}:\n{out}\n{err}\nthe source server saw:\n{}", dump(proxy));
}

#[test]
fn a_partitioned_postgres_source_is_described_once_per_run_and_verify() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.once_src, public.once_dst;
         CREATE TABLE public.once_src (id bigint PRIMARY KEY, v text);
         INSERT INTO public.once_src SELECT g, 'v' || g FROM generate_series(1, 20000) g;
         ANALYZE public.once_src;",
    );
    let proxy = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "once.flow",
        &format!(
            r#"let src = postgres("{}")
            let dst = postgres("{PG_TEST_URL}")
            pipeline once {{
              source s = src.table("public.once_src") {{ partition by id into 8 }}
              sink s -> dst.table("public.once_dst") {{ mode replace }}
            }}"#,
            pg_through(&proxy)
        ),
    );
    for verify in [false, true] {
        proxy.clear();
        let mut args = vec!["run", "-q", file.as_str()];
        if verify {
            args.push("--verify");
        }
        let log = dir.path().join(format!("sql-{verify}.log"));
        let (code, out, err) = flow_cli_env(&args, &[("FLOW_LOG_SQL", log.to_str().unwrap())]);
        assert_eq!(code, 0, "flow {args:?}:\n{out}\n{err}\nthe source server saw:\n{}", dump(&proxy));
        // Flow's own log of what it sends PostgreSQL names each statement of the source's
        // description and reads as many times as the server saw it. (It logs some statements
        // to the target too, which goes around the proxy.)
        let logged: Vec<String> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|line| line.splitn(3, '\t').nth(2).unwrap_or_default().to_string())
            .collect();
        let one_line = |s: &str| s.replace(['\n', '\r', '\t'], " ");
        let about_source = |sql: &str| {
            pg_purpose(sql, "\"public\".\"once_src\"").is_some()
                || sql == "SELECT pg_export_snapshot()"
                || sql.contains("SET TRANSACTION SNAPSHOT")
        };
        let on_wire: Vec<String> = proxy.statements().into_iter().map(|(_, _, sql)| one_line(&sql)).collect();
        let mut in_log: Vec<&String> = logged.iter().filter(|sql| about_source(sql)).collect();
        let mut seen: Vec<&String> = on_wire.iter().filter(|sql| about_source(sql)).collect();
        in_log.sort();
        seen.sort();
        assert_eq!(in_log, seen, "FLOW_LOG_SQL against the wire (verify: {verify})");
        // Each partition is read once by the run, and once more by verify, in the one snapshot.
        let reads = if verify { 16 } else { 8 };
        assert_eq!(
            pg_counts(&proxy, "\"public\".\"once_src\""),
            described(false, reads),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );
        let unnamed = pg_unnamed(&proxy);
        assert_eq!(
            unnamed,
            // Each read imports the snapshot, and so does the bounds query (on a session of its own,
            // so that the exporting transaction holds no lock on the table).
            BTreeMap::from([("inheritance children", 1), ("snapshot export", 1), ("snapshot import", reads + 1)]),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );
    }
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(id)::text, min(v), max(v) FROM public.once_dst"),
        rows(&[&["20000", "200010000", "v1", "v9999"]])
    );
}

/// Without `partition by`, a table whose statistics say it is large is partitioned by its
/// integer primary key: the primary key and the statistics are read once, like the rest.
#[test]
fn an_automatically_partitioned_postgres_source_reads_its_catalog_once() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.once_auto_src, public.once_auto_dst;
         CREATE TABLE public.once_auto_src (id int PRIMARY KEY, v text);
         INSERT INTO public.once_auto_src SELECT g, repeat('x', g % 7) FROM generate_series(1, 5000) g;
         ANALYZE public.once_auto_src;",
    );
    let proxy = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "auto.flow",
        &format!(
            r#"let src = postgres("{}")
            let dst = postgres("{PG_TEST_URL}")
            pipeline auto {{
              parallelism 4
              source s = src.table("public.once_auto_src")
              sink s -> dst.table("public.once_auto_dst") {{ mode replace }}
            }}"#,
            pg_through(&proxy)
        ),
    );
    for verify in [false, true] {
        proxy.clear();
        let mut args = vec!["run", "-q", file.as_str()];
        if verify {
            args.push("--verify");
        }
        let (code, out, err) = flow_cli_env(&args, &[("FLOW_AUTO_PARTITION_ROWS", "1000")]);
        assert_eq!(code, 0, "flow {args:?}:\n{out}\n{err}\nthe source server saw:\n{}", dump(&proxy));
        let reads = if verify { 8 } else { 4 };
        assert_eq!(
            pg_counts(&proxy, "\"public\".\"once_auto_src\""),
            described(true, reads),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );
        assert_eq!(
            pg_unnamed(&proxy),
            // Each read imports the snapshot, and so does the bounds query (on a session of its own,
            // so that the exporting transaction holds no lock on the table).
            BTreeMap::from([("inheritance children", 1), ("snapshot export", 1), ("snapshot import", reads + 1)]),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );
        // The four ranges split the keys 1..=5000.
        let ranges: Vec<String> = proxy
            .statements()
            .into_iter()
            .filter(|(_, _, sql)| pg_purpose(sql, "\"public\".\"once_auto_src\"") == Some(("partition read", "copy")))
            .filter_map(|(_, _, sql)| Some(sql.split_once(" WHERE ")?.1.split_once(") TO STDOUT")?.0.to_string()))
            .take(4)
            .collect();
        let mut sorted = ranges.clone();
        sorted.sort();
        let mut split = [
            "\"id\" < 1251",
            "\"id\" >= 1251 AND \"id\" < 2501",
            "\"id\" >= 2501 AND \"id\" < 3751",
            "(\"id\" >= 3751 OR \"id\" IS NULL)",
        ];
        split.sort();
        assert_eq!(sorted, split, "{ranges:?}");
    }
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(id)::text, sum(length(v))::text FROM public.once_auto_dst"),
        rows(&[&["5000", "12502500", "14997"]])
    );
}

/// What a MariaDB statement of source table `table` is for, or `None`.
fn my_purpose(sql: &str, table: &str) -> Option<&'static str> {
    let quoted = format!("`{table}`");
    let named = format!("'{table}'");
    if sql == format!("SELECT * FROM {quoted}") {
        Some("schema probe")
    } else if sql.contains("MIN(") && sql.contains(&quoted) {
        Some("bounds")
    } else if sql.contains("TABLE_ROWS AS r") && sql.contains(&named) {
        Some("row estimate")
    } else if sql.contains("AVG_ROW_LENGTH") && sql.contains(&named) {
        Some("row width")
    } else if sql.contains("KEY_COLUMN_USAGE") && sql.contains(&named) {
        Some("primary key")
    } else if sql.contains(&format!("FROM {quoted} WHERE")) {
        Some("partition read")
    } else if sql == "FLUSH TABLES WITH READ LOCK" {
        Some("read lock")
    } else if sql.starts_with("START TRANSACTION WITH CONSISTENT SNAPSHOT") {
        Some("snapshot transaction")
    } else {
        None
    }
}

/// A partitioned MariaDB source: described once; its run snapshot (one read lock, one
/// transaction per partition) taken once, by the run.
#[test]
fn a_partitioned_mariadb_source_is_described_once_per_run_and_verify() {
    if !(postgres_available() && mariadb_available()) {
        return;
    }
    my_exec("DROP TABLE IF EXISTS once_my_src");
    my_exec("CREATE TABLE once_my_src (id BIGINT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB");
    my_exec("INSERT INTO once_my_src SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000");
    pg_exec("DROP TABLE IF EXISTS public.once_my_dst");
    let proxy = WireProxy::start(Protocol::MySql, "127.0.0.1:3306");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "my.flow",
        &format!(
            r#"let src = mysql("mysql://root@127.0.0.1:{}/flow_test?prefer_socket=false")
            let dst = postgres("{PG_TEST_URL}")
            pipeline my {{
              source s = src.table("once_my_src") {{ partition by id into 4 }}
              sink s -> dst.table("public.once_my_dst") {{ mode replace }}
            }}"#,
            proxy.port()
        ),
    );
    for verify in [false, true] {
        proxy.clear();
        let mut args = vec!["run", "-q", file.as_str()];
        if verify {
            args.push("--verify");
        }
        flow_ok(&args, &proxy);
        let mut counts = BTreeMap::new();
        for (_, _, sql) in proxy.statements() {
            if let Some(purpose) = my_purpose(&sql, "once_my_src") {
                *counts.entry(purpose).or_insert(0) += 1;
            }
        }
        assert_eq!(
            counts,
            expected(&[
                ("bounds", 1),
                ("partition read", if verify { 8 } else { 4 }),
                ("read lock", 1),
                ("row estimate", 1),
                ("row width", 1),
                ("schema probe", 1),
                ("snapshot transaction", 4)
            ]),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );
        // Describing the source opens one connection: its schema probe, bounds, row estimate
        // and row width share it (before, each opened its own: four).
        let describing: std::collections::BTreeSet<usize> = proxy
            .statements()
            .into_iter()
            .filter(|(_, _, sql)| {
                matches!(my_purpose(sql, "once_my_src"), Some("schema probe" | "bounds" | "row estimate" | "row width"))
            })
            .map(|(connection, _, _)| connection)
            .collect();
        assert_eq!(describing.len(), 1, "verify: {verify}; the server saw:\n{}", dump(&proxy));
    }
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(id)::text, min(v), max(v) FROM public.once_my_dst"),
        rows(&[&["3000", "4501500", "v1", "v999"]])
    );
}

/// Two pipelines in one file, the second reading the table the first replaces: each source is
/// described once, the second only after the first pipeline ran (the table it describes is the
/// one the first wrote, and the snapshot the first read in has ended by then: the connection
/// that exported it closed before the second pipeline's first statement).
#[test]
fn a_file_of_two_pipelines_describes_each_source_once_when_its_turn_comes() {
    if !postgres_available() {
        return;
    }
    // The table the second pipeline reads exists before the run, with other rows: a description
    // taken before the first pipeline ran would hold a lock the first one's replace waits for.
    pg_exec(
        "DROP TABLE IF EXISTS public.once_two_a, public.once_two_b, public.once_two_c;
         CREATE TABLE public.once_two_a (id bigint PRIMARY KEY, v text);
         INSERT INTO public.once_two_a SELECT g, 'a' || g FROM generate_series(1, 10000) g;
         CREATE TABLE public.once_two_b (id bigint, v text);
         INSERT INTO public.once_two_b VALUES (-1, 'stale'), (-2, 'stale');",
    );
    let proxy = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "two.flow",
        &format!(
            r#"let src = postgres("{}")
            let dst = postgres("{PG_TEST_URL}")
            pipeline first {{
              source a = src.table("public.once_two_a") {{ partition by id into 4 }}
              sink a -> dst.table("public.once_two_b") {{ mode replace }}
            }}
            pipeline second {{
              source b = src.table("public.once_two_b") {{ partition by id into 3 }}
              transform doubled = b | derive twice = id * 2
              sink doubled -> dst.table("public.once_two_c") {{ mode replace }}
            }}"#,
            pg_through(&proxy)
        ),
    );
    for verify in [false, true] {
        proxy.clear();
        let mut args = vec!["run", "-q", file.as_str()];
        if verify {
            args.push("--verify");
        }
        flow_ok(&args, &proxy);
        let runs = if verify { 2 } else { 1 };
        let first = pg_counts(&proxy, "\"public\".\"once_two_a\"");
        let second = pg_counts(&proxy, "\"public\".\"once_two_b\"");
        assert_eq!(first, described(false, 4 * runs), "verify: {verify}; the server saw:\n{}", dump(&proxy));
        assert_eq!(second, described(false, 3 * runs), "verify: {verify}; the server saw:\n{}", dump(&proxy));
        assert_eq!(
            pg_unnamed(&proxy),
            // Each read imports its pipeline's snapshot, and so does each bounds query.
            BTreeMap::from([("inheritance children", 2), ("snapshot export", 2), ("snapshot import", 7 * runs + 2)]),
            "verify: {verify}; the server saw:\n{}",
            dump(&proxy)
        );

        // In order: the first pipeline's description, its reads (and verify's), the end of its
        // snapshot's session, then the second pipeline's description.
        let events = proxy.events();
        let position = |what: &dyn Fn(&Event) -> bool| events.iter().position(what);
        let sql_of = |e: &Event| match e {
            Event::Sql { sql, .. } => sql.clone(),
            Event::Closed { .. } => String::new(),
        };
        let exporter = events
            .iter()
            .find_map(|e| match e {
                Event::Sql { connection, sql, .. } if sql == "SELECT pg_export_snapshot()" => Some(*connection),
                _ => None,
            })
            .expect("a snapshot export");
        let first_ended =
            position(&|e| *e == Event::Closed { connection: exporter }).expect("the export's session ends");
        let last_read_of_a = events
            .iter()
            .rposition(|e| pg_purpose(&sql_of(e), "\"public\".\"once_two_a\"") == Some(("partition read", "copy")))
            .expect("reads of once_two_a");
        let second_starts = position(&|e| pg_purpose(&sql_of(e), "\"public\".\"once_two_b\"").is_some())
            .expect("statements about once_two_b");
        assert!(
            last_read_of_a < first_ended && first_ended < second_starts,
            "verify: {verify}: last read of a at {last_read_of_a}, the first snapshot's session ended at \
             {first_ended}, the second pipeline started at {second_starts}:\n{events:#?}"
        );
        assert_eq!(
            pg_rows("SELECT count(*)::text, sum(id)::text, min(v), max(v) FROM public.once_two_b"),
            rows(&[&["10000", "50005000", "a1", "a9999"]])
        );
        assert_eq!(
            pg_rows(
                "SELECT count(*)::text, sum(id)::text, sum(twice)::text, min(v), max(v), count(*) FILTER (WHERE v = \
                 'a' || id)::text FROM public.once_two_c"
            ),
            rows(&[&["10000", "50005000", "100010000", "a1", "a9999", "10000"]])
        );
    }
}

/// The most connections of `proxy` open at once: each from its first statement to its close.
fn most_open_at_once(proxy: &WireProxy) -> usize {
    let mut open = std::collections::HashSet::new();
    let mut most = 0;
    for event in proxy.events() {
        match event {
            Event::Sql { connection, .. } => {
                open.insert(connection);
            }
            Event::Closed { connection } => {
                open.remove(&connection);
            }
        }
        most = most.max(open.len());
    }
    most
}

/// Schemas `SCHEMA` (made again) with `tables` tables `t00`, `t01`, ... of 1, 2, ... rows, and an
/// empty `SCHEMA_out` for a table set to write.
fn small_tables(schema: &str, tables: usize) {
    let mut setup = format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; DROP SCHEMA IF EXISTS {schema}_out CASCADE; \
         CREATE SCHEMA {schema}; CREATE SCHEMA {schema}_out;"
    );
    for t in 0..tables {
        setup.push_str(&format!(
            "CREATE TABLE {schema}.t{t:02} (id int PRIMARY KEY, v text); \
             INSERT INTO {schema}.t{t:02} SELECT g, 'v' || g FROM generate_series(1, {}) g;",
            t + 1
        ));
    }
    pg_exec(&setup);
}

/// A table set of many tables opens a bounded number of connections to its target at once,
/// whatever the number of tables: before, reading the sinks' ledgers at the start of a run
/// opened one connection per table at once, and a set of 300 tables exhausted PostgreSQL's
/// `max_connections` (100) and failed with `too many clients already`.
#[test]
fn a_table_set_of_many_tables_opens_few_target_connections_at_once() {
    if !postgres_available() {
        return;
    }
    let tables = 24;
    small_tables("once_many", tables);
    let target = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "many.flow",
        &format!(
            r#"let src = postgres("{PG_TEST_URL}")
            let dst = postgres("{}")
            pipeline many {{
              parallelism 2
              source app = src.tables("once_many.*")
              sink app -> dst.schema("once_many_out")
            }}"#,
            pg_through(&target)
        ),
    );
    flow_ok(&["run", "-q", file.as_str()], &target);
    // At most `LEDGER_READS` ledgers are read at once; a session Flow is done with closes a
    // moment later (its connection task sends `Terminate`), so the next reads may overlap it.
    // Reading all at once, as before, opened one connection per table (24 here).
    let most = most_open_at_once(&target);
    let bound = 2 * flow::connect::sink::LEDGER_READS;
    assert!(most <= bound, "{most} target connections open at once, more than {bound}");
    assert_eq!(
        pg_rows("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'once_many_out' AND tablename LIKE 't%'"),
        rows(&[&[&tables.to_string()]])
    );
    assert_eq!(pg_rows("SELECT count(*)::text FROM once_many_out.t23"), rows(&[&["24"]]));
    pg_exec("DROP SCHEMA once_many CASCADE; DROP SCHEMA once_many_out CASCADE;");
}

/// The reads of a table set's tables share the run's source connections: 24 tables read two at
/// a time use at most a few connections, each of which runs several tables' `COPY`; before,
/// each table's read connected anew (a server process and a cold catalog each, most of a
/// 1,000-table copy of small tables). Every table still arrives whole.
#[test]
fn a_table_set_reads_its_tables_on_a_few_shared_source_connections() {
    if !postgres_available() {
        return;
    }
    let tables = 24;
    small_tables("once_reads", tables);
    let source = WireProxy::start(Protocol::Postgres, "127.0.0.1:5432");
    let dir = temp_dir();
    let file = write(
        dir.path(),
        "reads.flow",
        &format!(
            r#"let src = postgres("{}")
            let dst = postgres("{PG_TEST_URL}")
            pipeline reads {{
              parallelism 2
              source app = src.tables("once_reads.*")
              sink app -> dst.schema("once_reads_out")
            }}"#,
            pg_through(&source)
        ),
    );
    flow_ok(&["run", "-q", file.as_str()], &source);
    let mut copies: BTreeMap<usize, usize> = BTreeMap::new();
    for (connection, _, sql) in source.statements() {
        if sql.starts_with("COPY (") {
            *copies.entry(connection).or_default() += 1;
        }
    }
    assert_eq!(copies.values().sum::<usize>(), tables, "one COPY per table: {copies:?}");
    assert!(copies.len() <= 4, "{} source connections ran the {tables} reads: {copies:?}", copies.len());
    assert_eq!(
        pg_rows("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'once_reads_out' AND tablename LIKE 't%'"),
        rows(&[&[&tables.to_string()]])
    );
    assert_eq!(pg_rows("SELECT count(*)::text FROM once_reads_out.t23"), rows(&[&["24"]]));
    pg_exec("DROP SCHEMA once_reads CASCADE; DROP SCHEMA once_reads_out CASCADE;");
}
