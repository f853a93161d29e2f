//! An upsert writes one row per key (issue 18, item 8). A source that holds a key twice is
//! refused before anything is published, naming the sink, the keys and a sample of the repeated
//! keys, on PostgreSQL, MySQL/MariaDB and SQLite alike (before, PostgreSQL failed its publish,
//! MariaDB refused the second row as a duplicate entry and SQLite kept the row it met last);
//! `keep last by COLUMN` keeps the row with the largest value instead, the same on every
//! backend; rows of a key that tie on it are refused.

use crate::common::{
    MY_TEST_URL, PG_TEST_URL, flat, flow_cli, mariadb_available, my_exec, my_rows, pg_exec, pg_rows,
    postgres_available, rows, temp_dir, write,
};

/// The event log every test reads: keys 1 and 2 come twice.
const EVENTS: &str = "id,v,ts\n1,a,1\n2,b,1\n1,c,2\n3,d,1\n2,e,0\n";

/// What the target holds before each run: a row the source updates and one it does not touch.
const BEFORE: &[&[&str]] = &[&["1", "old", "0"], &["9", "nine", "0"]];

/// A target table on one backend: how to create it with the rows of [`BEFORE`], and read it.
struct Target {
    connection: String,
    create: fn(&str),
    read: fn(&str) -> Vec<Vec<String>>,
}

fn sqlite_target(dir: &std::path::Path) -> Target {
    let db = dir.join("t.db");
    // The path travels through a fn pointer as the connection text; strip `sqlite://` to open it.
    fn path(connection: &str) -> String {
        connection.trim_start_matches("sqlite(\"").trim_end_matches("\")").to_string()
    }
    Target {
        connection: format!("sqlite(\"{}\")", db.display()),
        create: |c| {
            let conn = rusqlite::Connection::open(path(c)).unwrap();
            conn.execute_batch(
                "DROP TABLE IF EXISTS u18; CREATE TABLE u18 (id INTEGER PRIMARY KEY, v TEXT, ts INTEGER); \
                 INSERT INTO u18 VALUES (1, 'old', 0), (9, 'nine', 0)",
            )
            .unwrap();
        },
        read: |c| {
            let conn = rusqlite::Connection::open(path(c)).unwrap();
            let mut stmt = conn.prepare("SELECT id, v, ts FROM u18 ORDER BY id").unwrap();
            let rows = stmt.query_map([], |r| {
                Ok(vec![r.get::<_, i64>(0)?.to_string(), r.get::<_, String>(1)?, r.get::<_, i64>(2)?.to_string()])
            });
            rows.unwrap().map(Result::unwrap).collect()
        },
    }
}

fn postgres_target() -> Target {
    Target {
        connection: format!("postgres(\"{PG_TEST_URL}\")"),
        create: |_| {
            pg_exec(
                "DROP TABLE IF EXISTS public.u18; CREATE TABLE public.u18 (id bigint PRIMARY KEY, v text, ts bigint); \
                 INSERT INTO public.u18 VALUES (1, 'old', 0), (9, 'nine', 0)",
            )
        },
        read: |_| pg_rows("SELECT id::text, v, ts::text FROM public.u18 ORDER BY id"),
    }
}

fn mysql_target() -> Target {
    Target {
        connection: format!("mysql(\"{MY_TEST_URL}\")"),
        create: |_| {
            my_exec("DROP TABLE IF EXISTS u18");
            my_exec("CREATE TABLE u18 (id bigint PRIMARY KEY, v text, ts bigint)");
            my_exec("INSERT INTO u18 VALUES (1, 'old', 0), (9, 'nine', 0)");
        },
        read: |_| my_rows("SELECT id, v, ts FROM u18 ORDER BY id"),
    }
}

/// The targets whose servers answer (SQLite always).
fn targets(dir: &std::path::Path) -> Vec<(&'static str, Target)> {
    let mut out = vec![("sqlite", sqlite_target(dir))];
    if postgres_available() {
        out.push(("postgres", postgres_target()));
    }
    if mariadb_available() {
        out.push(("mysql", mysql_target()));
    }
    out
}

/// A pipeline reading `events.csv` of `dir` into table `u18` of `target` in `mode`.
fn pipeline(dir: &std::path::Path, target: &Target, mode: &str) -> String {
    write(
        dir,
        "u.flow",
        &format!(
            "let db = {}\npipeline p {{\n  source s = csv(\"{}/events.csv\", types: \"id bigint, v text, ts bigint\")\n  \
             sink s -> db.table(\"u18\") {{ mode {mode} }}\n}}\n",
            target.connection,
            dir.display()
        ),
    )
}

#[test]
fn a_repeated_key_is_refused_on_every_backend_and_nothing_is_published() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("events.csv"), EVENTS).unwrap();
    for (backend, target) in targets(dir.path()) {
        (target.create)(&target.connection);
        let file = pipeline(dir.path(), &target, "upsert on (id)");
        let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 1, "{backend}: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "error[flow::sink::duplicate_keys]: sink `s->u18` partition 0: `upsert on (id)` writes one row per \
                 key, and the input holds rows with the same key: id = 1; id = 2 (a sample of up to 5); add `keep \
                 last by COLUMN` after the keys to write the last row of each key; the partitions committed so far \
                 are kept: `flow run {file} --resume` continues this run\n"
            ),
            "{backend}"
        );
        assert_eq!((target.read)(&target.connection), rows(BEFORE), "{backend}: the target is as it was");
    }
}

#[test]
fn keep_last_by_writes_the_same_rows_on_every_backend() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("events.csv"), EVENTS).unwrap();
    for (backend, target) in targets(dir.path()) {
        (target.create)(&target.connection);
        let file = pipeline(dir.path(), &target, "upsert on (id) keep last by ts");
        let (code, stdout, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 0, "{backend}: {stderr}");
        // The sink wrote 3 of its 5 rows: one per key.
        let sink = stdout.lines().find(|l| l.starts_with("s->u18 ")).expect("the sink's line");
        assert_eq!(sink.split_whitespace().take(4).collect::<Vec<_>>(), ["s->u18", "sink", "5", "3"], "{stdout}");
        assert_eq!(
            (target.read)(&target.connection),
            rows(&[&["1", "c", "2"], &["2", "b", "1"], &["3", "d", "1"], &["9", "nine", "0"]]),
            "{backend}"
        );
        // verify compares the target with the rows kept.
        let (code, stdout, stderr) = flow_cli(&["verify", &file]);
        assert_eq!(code, 1, "{backend}: the target also holds key 9, which the source lacks: {stdout}{stderr}");
        assert!(stdout.contains("extra in target: id=9\n"), "{backend}: {stdout}");
        assert!(!stdout.contains("changed"), "{backend}: {stdout}");
    }
}

#[test]
fn rows_that_tie_on_the_last_value_are_refused_unless_equal() {
    let dir = temp_dir();
    // Key 1 ties on ts = 2 with different values; key 2's tie is two equal rows.
    std::fs::write(dir.path().join("events.csv"), "id,v,ts\n1,a,2\n2,b,1\n1,c,2\n2,b,1\n").unwrap();
    for (backend, target) in targets(dir.path()) {
        (target.create)(&target.connection);
        let file = pipeline(dir.path(), &target, "upsert on (id) keep last by ts");
        let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 1, "{backend}: {stderr}");
        assert_eq!(
            stderr,
            format!(
                "error[flow::sink::keep_last_tie]: sink `s->u18` partition 0: 1 key(s) have rows that tie on the \
                 largest ts and differ in another column, so `keep last by ts` cannot choose one: id = 1 (ts = 2); \
                 the partitions committed so far are kept: `flow run {file} --resume` continues this run\n"
            ),
            "{backend}"
        );
        assert_eq!((target.read)(&target.connection), rows(BEFORE), "{backend}");
    }
}

/// A partitioned PostgreSQL source: split by the key, `keep last` keeps one row per key across
/// 3 partitions; split by another column, a key repeated across partitions is refused at run
/// time (plain upsert) or at check (`keep last`, which could not see both rows).
#[test]
fn partitions_split_by_the_key_keep_the_last_row_and_others_are_refused() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.u18_events; CREATE TABLE public.u18_events (id bigint, v text, ts bigint); \
         INSERT INTO public.u18_events SELECT g % 30, 'v' || g, g FROM generate_series(1, 300) g; \
         DROP TABLE IF EXISTS public.u18_latest",
    );
    let dir = temp_dir();
    let flow = |partition: &str, mode: &str| {
        write(
            dir.path(),
            "p.flow",
            &format!(
                "let pg = postgres(\"{PG_TEST_URL}\")\npipeline p {{\n  source s = pg.table(\"public.u18_events\") {{ \
                 partition by {partition} into 3 }}\n  sink s -> pg.table(\"public.u18_latest\") {{ mode {mode} }}\n}}\n"
            ),
        )
    };
    let file = flow("id", "upsert on (id) keep last by ts");
    let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 0, "{stderr}");
    // Key k's last event is the largest g with g % 30 = k.
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(ts)::text FROM public.u18_latest"),
        rows(&[&["30", &(271..=300).sum::<i64>().to_string()]])
    );
    let (code, stdout, stderr) = flow_cli(&["verify", &file]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // Unique ids, but for id 1, whose second row lands in the last of 3 partitions by ts.
    pg_exec(
        "TRUNCATE public.u18_events; INSERT INTO public.u18_events SELECT g, 'v' || g, g FROM generate_series(1, 300) g; \
         INSERT INTO public.u18_events VALUES (1, 'late', 301); DROP TABLE public.u18_latest",
    );
    let file = flow("ts", "upsert on (id)");
    let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
    assert_eq!(code, 1, "{stderr}");
    let errors = crate::common::error_lines(&stderr);
    assert_eq!(errors.len(), 1, "{stderr}");
    assert_eq!(errors[0].0, "flow::sink::duplicate_keys");
    assert!(
        errors[0].1.contains(
            "`upsert on (id)` writes one row per key, and the input holds rows with the same key: id = 1 (a sample \
             of up to 5); add `keep last by COLUMN`"
        ),
        "{stderr}"
    );
    assert_eq!(pg_rows("SELECT to_regclass('public.u18_latest')::text"), rows(&[&["NULL"]]), "nothing was published");

    let file = flow("ts", "upsert on (id) keep last by ts");
    let (code, _, stderr) = flow_cli(&["check", &file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        flat(&stderr).contains(
            "sink `s->u18_latest`: `keep last by ts` keeps the last row of each key per partition, and source \
             `s` is read in 3 partitions split by `ts`, which is not a key"
        ),
        "{stderr}"
    );
}

#[test]
fn check_and_explain_say_what_keep_last_does_and_refuse_what_it_cannot() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("events.csv"), EVENTS).unwrap();
    let target = sqlite_target(dir.path());
    let file = pipeline(dir.path(), &target, "upsert on (id) keep last by ts");
    let (code, stdout, stderr) = flow_cli(&["explain", &file]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\n  mode        upsert on (id) keep last by ts, create if missing\n"), "{stdout}");
    let (_, json, _) = flow_cli(&["explain", &file, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["pipelines"][0]["stages"][1]["mode"], "upsert on (id) keep last by ts");

    for (mode, expected) in [
        (
            "upsert on (id) keep last by id",
            "× `keep last by id`: `id` is a key, so every row of a key has the same value there and none of them is \
             the last",
        ),
        ("upsert on (id) keep last by tss", "× no column `tss` in `s`, the input of this sink"),
        ("upsert on (idd)", "× no column `idd` in `s`, the input of this sink"),
        ("upsert on (id) keep first by ts", "× `keep` belongs to an upsert mode"),
    ] {
        let file = pipeline(dir.path(), &target, mode);
        let (code, _, stderr) = flow_cli(&["check", &file]);
        assert_eq!(code, 2, "{mode}: {stderr}");
        assert!(flat(&stderr).contains(&flat(expected)), "{mode}: {stderr}");
        assert_eq!(stderr.matches("  × ").count(), 1, "one problem: {stderr}");
    }
    // A directory of files is read one partition per file.
    let events = dir.path().join("events");
    std::fs::create_dir(&events).unwrap();
    std::fs::write(events.join("a.csv"), "id,v,ts\n1,a,1\n").unwrap();
    std::fs::write(events.join("b.csv"), "id,v,ts\n1,b,2\n").unwrap();
    let file = write(
        dir.path(),
        "dir.flow",
        &format!(
            "let db = {}\npipeline p {{\n  source s = csv(\"{}/\")\n  sink s -> db.table(\"u18\") {{ mode upsert on (id) \
             keep last by ts }}\n}}\n",
            target.connection,
            events.display()
        ),
    );
    let (code, _, stderr) = flow_cli(&["check", &file]);
    assert_eq!(code, 2, "{stderr}");
    assert!(flat(&stderr).contains("source `s` is read in 2 partitions, one per file"), "{stderr}");
}

/// `flow copy` keeps the last row of each key with `--keep-last-by`, and its error names that
/// option, not the .flow syntax.
#[test]
fn copy_keeps_the_last_row_with_keep_last_by() {
    let dir = temp_dir();
    let csv = dir.path().join("events.csv");
    std::fs::write(&csv, EVENTS).unwrap();
    let db = dir.path().join("c.db");
    let (csv, target) = (csv.to_str().unwrap(), format!("sqlite://{}", db.display()));
    let copy = ["copy", "-q", csv, &target, "--table", "latest", "--mode", "upsert", "--keys", "id"];
    let (code, _, stderr) = flow_cli(&copy);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "id = 1; id = 2 (a sample of up to 5); add `--keep-last-by COLUMN` to write the last row of each key; \
             the partitions committed so far are kept: the same `flow copy` command with `--resume` continues this \
             run\n"
        ),
        "{stderr}"
    );
    let (code, _, stderr) = flow_cli(&[&copy[..], &["--keep-last-by", "ts"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let kept: Vec<(i64, String)> = conn
        .prepare("SELECT id, v FROM latest ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(kept, [(1, "c".to_string()), (2, "b".to_string()), (3, "d".to_string())]);
    let (code, _, stderr) = flow_cli(&["copy", "-q", csv, &target, "--table", "x", "--keep-last-by", "ts"]);
    assert_eq!(
        (code, stderr.as_str()),
        (2, "error: --keep-last-by keeps the last row of each key of an upsert: give --mode upsert --keys COL\n")
    );
    // The table set's options are refused without --all-tables, not ignored.
    for option in [["--schema", "main"], ["--include", "t*"], ["--exclude", "x"]] {
        let (code, _, stderr) = flow_cli(&[&["copy", "-q", csv, &target, "--table", "x"][..], &option[..]].concat());
        let expected = format!(
            "error: {} works only with --all-tables; with --table, name the target table itself (--table \
             SCHEMA.TABLE)\n",
            option[0]
        );
        assert_eq!((code, stderr.as_str()), (2, expected.as_str()));
    }
}

/// Flow splits a large table by its integer primary key by itself, but not for a `keep last by`
/// sink keyed on another column: that split would send one key to two partitions.
#[test]
fn no_automatic_split_sends_a_key_to_two_partitions() {
    if !postgres_available() {
        return;
    }
    pg_exec(
        "DROP TABLE IF EXISTS public.u18_log; CREATE TABLE public.u18_log (event_id bigint PRIMARY KEY, order_id \
         bigint, ts bigint); INSERT INTO public.u18_log SELECT g, g % 10, g FROM generate_series(1, 400) g; \
         ANALYZE public.u18_log; DROP TABLE IF EXISTS public.u18_orders",
    );
    let dir = temp_dir();
    let env = [("FLOW_AUTO_PARTITION_ROWS", "100")];
    let split_by = |keys: &str| {
        let file = write(
            dir.path(),
            "auto.flow",
            &format!(
                "let pg = postgres(\"{PG_TEST_URL}\")\npipeline p {{\n  parallelism 4\n  source s = \
                 pg.table(\"public.u18_log\")\n  sink s -> pg.table(\"public.u18_orders\") {{ mode upsert on ({keys}) \
                 keep last by ts }}\n}}\n"
            ),
        );
        let (code, json, stderr) = crate::common::flow_cli_env(&["explain", &file, "--format", "json"], &env);
        assert_eq!(code, 0, "{stderr}");
        let json: serde_json::Value = serde_json::from_str(&json).unwrap();
        (file, json["pipelines"][0]["stages"][0]["partition_by"].clone())
    };
    let (_, split) = split_by("event_id");
    assert_eq!((split["column"].as_str(), split["automatic"].as_bool()), (Some("event_id"), Some(true)), "{split}");
    let (file, split) = split_by("order_id");
    assert!(split.is_null(), "{split}");
    let (code, _, stderr) = crate::common::flow_cli_env(&["run", "-q", &file], &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        pg_rows("SELECT count(*)::text, sum(ts)::text FROM public.u18_orders"),
        rows(&[&["10", &(391..=400).sum::<i64>().to_string()]])
    );
}

/// A target with another unique key (`email`): a new key whose row collides with an existing
/// row on that other key fails the publish on every backend, and the existing row keeps its
/// values. MySQL's `ON DUPLICATE KEY UPDATE` would have updated row 1 through `email` and said
/// ok; the rows whose keys match are still updated.
#[test]
fn an_upsert_never_updates_a_row_another_unique_key_matches() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("people.csv"), "id,email,score\n7,one@x,70\n2,two@x,20\n").unwrap();
    type Read = fn() -> Vec<Vec<String>>;
    let read_pg: Read = || pg_rows("SELECT id::text, email, score::text FROM public.u18_people ORDER BY id");
    let read_my: Read = || my_rows("SELECT id, email, score FROM u18_people ORDER BY id");
    let mut servers: Vec<(&str, String, Read)> = Vec::new();
    if postgres_available() {
        pg_exec(
            "DROP TABLE IF EXISTS public.u18_people; CREATE TABLE public.u18_people (id bigint PRIMARY KEY, \
             email text NOT NULL UNIQUE, score bigint)",
        );
        servers.push(("postgres", format!("postgres(\"{PG_TEST_URL}\")"), read_pg));
    }
    if mariadb_available() {
        my_exec("DROP TABLE IF EXISTS u18_people");
        my_exec("CREATE TABLE u18_people (id bigint PRIMARY KEY, email varchar(50) NOT NULL UNIQUE, score bigint)");
        servers.push(("mysql", format!("mysql(\"{MY_TEST_URL}\")"), read_my));
    }
    for (backend, connection, read) in servers {
        let reset = |sql: &str| if backend == "postgres" { pg_exec(sql) } else { my_exec(sql) };
        reset("DELETE FROM u18_people");
        reset("INSERT INTO u18_people VALUES (1, 'one@x', 10), (2, 'two@x', 0)");
        let file = write(
            dir.path(),
            "people.flow",
            &format!(
                "let db = {connection}\npipeline p {{\n  source s = csv(\"{}/people.csv\", types: \"id bigint, email \
                 text, score bigint\")\n  sink s -> db.table(\"u18_people\") {{ mode upsert on (id) }}\n}}\n",
                dir.path().display()
            ),
        );
        let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 1, "{backend}: {stderr}");
        assert!(flat(&stderr).contains("one@x"), "{backend}: the error names the colliding value: {stderr}");
        let before = rows(&[&["1", "one@x", "10"], &["2", "two@x", "0"]]);
        assert_eq!(read(), before, "{backend}: nothing is published");

        // Without the collision, the matching key is updated and the new one inserted.
        std::fs::write(dir.path().join("people.csv"), "id,email,score\n7,seven@x,70\n2,two@x,20\n").unwrap();
        let (code, _, stderr) = flow_cli(&["run", "-q", &file]);
        assert_eq!(code, 0, "{backend}: {stderr}");
        assert_eq!(read(), rows(&[&["1", "one@x", "10"], &["2", "two@x", "20"], &["7", "seven@x", "70"]]), "{backend}");
        std::fs::write(dir.path().join("people.csv"), "id,email,score\n7,one@x,70\n2,two@x,20\n").unwrap();
    }
}
