//! Nothing lost, nothing doubled: `flow run --resume` after SIGKILL at random moments ends with
//! exactly the source rows in the target (SQLite, PostgreSQL and Parquet targets; PostgreSQL and
//! MariaDB sources), and `flow status` says what an interrupted run left undone.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{flow_command, mariadb_available, postgres_available, run_and_kill, runtime, temp_dir};
use mysql::prelude::Queryable;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

/// A small deterministic generator, so a failing sequence of kill moments can be replayed
/// (the seed is printed).
struct Moments(u64);

impl Moments {
    fn from_clock() -> Self {
        let seed = std::env::var("FLOW_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
        });
        eprintln!("chaos seed {seed} (replay with FLOW_CHAOS_SEED={seed})");
        Self(seed | 1)
    }

    /// A moment in `[lo, hi)` milliseconds.
    fn next_ms(&mut self, lo: u64, hi: u64) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(lo + self.0 % (hi - lo))
    }
}

fn run_to_end(file: &Path, resume: bool) {
    let mut args = vec!["run", "-q"];
    if resume {
        args.push("--resume");
    }
    args.push(file.to_str().unwrap());
    let out = flow_command(&args).output().expect("flow runs");
    assert!(out.status.success(), "the run failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Copies the data again and again, each copy killed with SIGKILL at random moments of its run
/// and resumed until it finishes, until `kills` kills happened; `reset` empties the target
/// before each copy, `check` asserts the target equals the source after each, and `starts`
/// counts the runs the target's ledger recorded (a run killed before it recorded its start
/// left nothing to resume, and is started afresh, as a user would).
fn chaos(file: &Path, kills: usize, reset: impl Fn(), check: impl Fn(), starts: impl Fn() -> usize) {
    // One undisturbed copy tells how long a run takes; kills land anywhere in it.
    reset();
    let started = Instant::now();
    run_to_end(file, false);
    let window = (started.elapsed().as_millis() as u64).max(100) * 11 / 10;
    check();
    let mut moments = Moments::from_clock();
    let mut killed = 0;
    while killed < kills {
        reset();
        let before = starts();
        let mut recorded = false;
        while killed < kills && !recorded {
            if !run_and_kill(file, false, moments.next_ms(10, window)) {
                break;
            }
            killed += 1;
            recorded = starts() > before;
        }
        if !recorded && starts() == before {
            run_to_end(file, false);
        }
        while killed < kills && run_and_kill(file, true, moments.next_ms(10, window)) {
            killed += 1;
        }
        run_to_end(file, true);
        check();
    }
    // Once finished, another resume does nothing (an append must not run twice).
    let again = flow_command(&["run", "--resume", file.to_str().unwrap()]).output().expect("flow runs");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to resume"), "{again:?}");
    check();
}

/// Runs of a sink recorded in a PostgreSQL ledger.
fn pg_starts(rt: &tokio::runtime::Runtime, sink: &str) -> usize {
    let sql = format!(
        "SELECT count(*) FROM public._flow_ledger WHERE pipeline = 'chaos' AND sink = '{sink}' AND event = 'start'"
    );
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        match client.query_one(sql.as_str(), &[]).await {
            Ok(row) => row.get::<_, i64>(0) as usize,
            Err(_) => 0,
        }
    })
}

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

async fn pg_counts(sql: &str) -> Vec<i64> {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    let row = client.query_one(sql, &[]).await.unwrap();
    (0..row.len()).map(|i| row.get::<_, i64>(i)).collect()
}

/// Target rows, source rows missing from the target, target rows not in the source (multisets).
fn pg_compare(source: &str, target: &str) -> String {
    format!(
        "SELECT (SELECT count(*) FROM {target}), \
         (SELECT count(*) FROM (SELECT * FROM {source} EXCEPT ALL SELECT * FROM {target}) a), \
         (SELECT count(*) FROM (SELECT * FROM {target} EXCEPT ALL SELECT * FROM {source}) b)"
    )
}

const ROWS: i64 = 300_000;

/// `base` made unique to this test process, so that two checkouts running the suite at once
/// against the same servers never share a source, target or ledger entry.
fn own(base: &str) -> String {
    format!("{base}_{}", std::process::id())
}

fn pg_source_sql(table: &str) -> String {
    format!(
        "DROP TABLE IF EXISTS {table};
         CREATE TABLE {table} AS SELECT g AS id, (g % 1000) AS customer_id, md5(g::text) AS note,
           (g * 1.5)::numeric(12,2) AS total, timestamp '2024-01-01' + g * interval '1 second' AS created_at
           FROM generate_series(1, {ROWS}) g;
         ALTER TABLE {table} ADD PRIMARY KEY (id);"
    )
}

fn pipeline_file(dir: &Path, source: &str, source_table: &str, sink: &str) -> std::path::PathBuf {
    let file = dir.join("chaos.flow");
    std::fs::write(
        &file,
        format!(
            "let src = {source}\n{sink_conn}\npipeline chaos {{\n  parallelism 2\n  \
             source s = src.table(\"{source_table}\") {{ partition by id into 12 }}\n  {sink_line}\n}}\n",
            sink_conn = sink.lines().next().unwrap(),
            sink_line = sink.lines().nth(1).unwrap(),
        ),
    )
    .unwrap();
    file
}

fn pg_sink(table: &str) -> String {
    format!("let dst = postgres(\"{PG}\")\nsink s -> dst.table(\"{table}\") {{ mode append }}")
}

#[test]
fn postgres_to_postgres_survives_20_sigkills() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    let (src, dst) = (format!("public.{}", own("chaos_pg_src")), format!("public.{}", own("chaos_pg_dst")));
    rt.block_on(pg_exec(&pg_source_sql(&src)));
    let dir = temp_dir();
    let file = pipeline_file(dir.path(), &format!("postgres(\"{PG}\")"), &src, &pg_sink(&dst));
    let drop_target = || rt.block_on(pg_exec(&format!("DROP TABLE IF EXISTS {dst}")));
    chaos(
        &file,
        20,
        drop_target,
        || {
            let counts = rt.block_on(pg_counts(&pg_compare(&src, &dst)));
            assert_eq!(counts, [ROWS, 0, 0], "target rows, missing, extra");
        },
        || pg_starts(&rt, &format!("s->{}", own("chaos_pg_dst"))),
    );
    let staging = rt.block_on(pg_counts(&format!(
        "SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_flow\\_stage\\_{}%'",
        own("chaos_pg_dst").replace('_', "\\_")
    )));
    assert_eq!(staging, [0], "the finished runs' staging tables are gone");
    drop_target();
    rt.block_on(pg_exec(&format!("DROP TABLE {src}")));
}

#[test]
fn mysql_to_postgres_survives_20_sigkills() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    let (reference, src, dst) = (format!("public.{}", own("chaos_my_ref")), own("chaos_my_src"), own("chaos_my_dst"));
    rt.block_on(pg_exec(&pg_source_sql(&reference)));
    let mut my = mysql::Conn::new(mysql::Opts::from_url(MY).unwrap()).unwrap();
    my.query_drop(format!("DROP TABLE IF EXISTS {src}")).unwrap();
    my.query_drop(format!(
        "CREATE TABLE {src} (id BIGINT PRIMARY KEY, customer_id BIGINT, note TEXT, total DECIMAL(12,2), created_at DATETIME) \
         AS SELECT seq AS id, seq % 1000 AS customer_id, md5(seq) AS note, CAST(seq * 1.5 AS DECIMAL(12,2)) AS total, \
         TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND AS created_at FROM seq_1_to_{ROWS}"
    ))
    .unwrap();
    let dir = temp_dir();
    let file = pipeline_file(dir.path(), &format!("mysql(\"{MY}\")"), &src, &pg_sink(&format!("public.{dst}")));
    // The reference holds the same rows, built by PostgreSQL from the same formulas.
    let compare = pg_compare(
        &format!("(SELECT id::bigint, customer_id::bigint, note, total, created_at FROM {reference}) r"),
        &format!("(SELECT id, customer_id, note, total, created_at FROM public.{dst}) t"),
    );
    let drop_target = || rt.block_on(pg_exec(&format!("DROP TABLE IF EXISTS public.{dst}")));
    chaos(
        &file,
        20,
        drop_target,
        || assert_eq!(rt.block_on(pg_counts(&compare)), [ROWS, 0, 0], "target rows, missing, extra"),
        || pg_starts(&rt, &format!("s->{dst}")),
    );
    drop_target();
    rt.block_on(pg_exec(&format!("DROP TABLE {reference}")));
    my.query_drop(format!("DROP TABLE {src}")).unwrap();
}

#[test]
fn postgres_to_parquet_survives_20_sigkills() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    let src = format!("public.{}", own("chaos_pq_src"));
    rt.block_on(pg_exec(&pg_source_sql(&src)));
    let dir = temp_dir();
    let out = dir.path().join("out.parquet");
    let file = pipeline_file(
        dir.path(),
        &format!("postgres(\"{PG}\")"),
        &src,
        &format!("let dst = parquet(\"{}\")\nsink s -> dst.table(\"out\")", dir.path().display()),
    );
    let sample: Vec<(i64, String)> = rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .query(&format!("SELECT id::bigint, note FROM {src} WHERE id % 9973 = 0 ORDER BY id"), &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    });
    let check = || {
        let rows = parquet_rows(&out);
        assert_eq!(rows.len() as i64, ROWS, "row count");
        assert!(rows.iter().enumerate().all(|(i, (id, _))| *id == i as i64 + 1), "ids 1..=N exactly once");
        for (id, note) in &sample {
            assert_eq!(&rows[(id - 1) as usize].1, note, "row {id}");
        }
    };
    let sidecar = dir.path().join("out.parquet.flow-ledger.json");
    let starts = || {
        let text = std::fs::read_to_string(&sidecar).unwrap_or_else(|_| "[]".into());
        let rows: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        rows.iter().filter(|r| r["event"] == "start").count()
    };
    chaos(&file, 20, || drop(std::fs::remove_file(&out)), check, starts);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".flow-") && !n.ends_with(".flow-ledger.json"))
        .collect();
    assert!(leftovers.is_empty(), "work files left: {leftovers:?}");
    rt.block_on(pg_exec(&format!("DROP TABLE {src}")));
}

/// `(id, note)` of every row of a Parquet file, sorted.
fn parquet_rows(path: &Path) -> Vec<(i64, String)> {
    let file = std::fs::File::open(path).unwrap();
    let reader = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let ids =
            arrow::compute::cast(batch.column_by_name("id").unwrap(), &arrow::datatypes::DataType::Int64).unwrap();
        let ids = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&ids);
        let notes = arrow::array::AsArray::as_string::<i32>(batch.column_by_name("note").unwrap());
        for i in 0..batch.num_rows() {
            rows.push((ids.value(i), notes.value(i).to_string()));
        }
    }
    rows.sort();
    rows
}

#[test]
fn sqlite_target_resumes_after_sigkill_and_status_shows_the_undone_partitions() {
    let dir = temp_dir();
    let file = dir.path().join("gen.flow");
    let db = dir.path().join("t.db");
    std::fs::write(
        &file,
        format!(
            "let g = generate(rows: 40000, seed: 5, rate: 20000)\nlet db = sqlite(\"{}\")\n\
             pipeline gen {{\n  parallelism 4\n  source o = g.table(\"orders\") {{ batch 500 }}\n  \
             sink o -> db.table(\"orders\") {{ mode append; batch 500 }}\n}}\n",
            db.display()
        ),
    )
    .unwrap();
    // Killed mid-run (the four partitions are written one after another, about half a second each).
    assert!(run_and_kill(&file, false, Duration::from_millis(900)), "the run should still be going");
    let status = flow_command(&["status", file.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    assert!(text.contains("pipeline gen\n  sink o->orders -> "), "{text}");
    assert!(text.contains("UNFINISHED: "), "{text}");
    assert!(text.contains(" of 4 partition(s) committed"), "{text}");
    assert!(text.contains(&format!("continue with `flow run {} --resume`", file.display())), "{text}");
    run_to_end(&file, true);
    // The same data as an uninterrupted run writes.
    let reference = dir.path().join("ref.flow");
    let ref_db = dir.path().join("ref.db");
    std::fs::write(
        &reference,
        std::fs::read_to_string(&file).unwrap().replace("t.db", "ref.db").replace("rate: 20000", "rate: 10000000"),
    )
    .unwrap();
    run_to_end(&reference, false);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(&format!("ATTACH DATABASE '{}' AS r", ref_db.display()), []).unwrap();
    let check = || {
        let (count, distinct): (i64, i64) = conn
            .query_row("SELECT count(*), count(DISTINCT id) FROM orders", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!((count, distinct), (40000, 40000));
        let differing: i64 = conn
            .query_row(
                "SELECT (SELECT count(*) FROM (SELECT * FROM orders EXCEPT SELECT * FROM r.orders)) + \
                 (SELECT count(*) FROM (SELECT * FROM r.orders EXCEPT SELECT * FROM orders))",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(differing, 0);
    };
    check();
    let status = flow_command(&["status", file.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains(": published, 40000 rows"), "{text}");
    // A fresh connection each time: another process recreates the table, and `DROP TABLE IF
    // EXISTS` on a connection with a stale schema would silently do nothing.
    let reset = || rusqlite::Connection::open(&db).unwrap().execute_batch("DROP TABLE IF EXISTS orders").unwrap();
    let starts = || -> usize {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT count(*) FROM _flow_ledger WHERE event = 'start'", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0) as usize
    };
    chaos(&file, 5, reset, check, starts);
}
