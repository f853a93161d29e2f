//! Issue 16: a scheduler and two executors as separate `flow` processes on loopback ports, and
//! `flow run --engine` against them. Each cluster target must equal the local run's target
//! exactly (a digest over every column), `flow verify` must agree, the report must show
//! partitions on both executors, and no password may reach any process's output. An executor
//! killed with SIGKILL mid-run loses and doubles no row.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{flow_command, mariadb_available, my_exec, pg_exec, pg_rows, postgres_available, temp_dir, write};

/// PostgreSQL with a password: trust authentication accepts any, so the URL carries a secret
/// the test can look for in every output.
const PG: &str = "postgres://postgres:s3cret-pw@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";
const SECRET: &str = "s3cret-pw";

/// A scheduler and its executors, killed on drop. Their stdout and stderr go to files in `logs`.
struct Cluster {
    address: String,
    children: Vec<(String, Child)>,
    /// Each executor's `--bind` (its Flight data address), by id.
    binds: Vec<(String, String)>,
    logs: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (name, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
            // A killed executor cannot remove its work directory (`flow-executor-PORT-PID`).
            if let Some((_, bind)) = self.binds.iter().find(|(id, _)| id == name)
                && let Some((_, port)) = bind.rsplit_once(':')
            {
                let _ =
                    std::fs::remove_dir_all(std::env::temp_dir().join(format!("flow-executor-{port}-{}", child.id())));
            }
        }
    }
}

/// A port `p` with `p + 1` free too (an executor's Flight and gRPC ports).
fn free_port_pair() -> u16 {
    loop {
        let first = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = first.local_addr().expect("addr").port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

fn log_file(dir: &Path, name: &str) -> std::fs::File {
    std::fs::File::create(dir.join(name)).expect("log file")
}

impl Cluster {
    /// Starts `flow scheduler` on a free port and one `flow executor` per id, and waits until
    /// every executor has registered (its log says so).
    fn start(logs: &Path, executor_ids: &[&str], slots: usize) -> Cluster {
        let mut scheduler = flow_command(&["scheduler", "--bind", "127.0.0.1:0", "--executor-timeout", "10"])
            .env("FLOW_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(log_file(logs, "scheduler.err"))
            .spawn()
            .expect("flow scheduler starts");
        let mut first_line = String::new();
        BufReader::new(scheduler.stdout.take().expect("stdout")).read_line(&mut first_line).expect("reads");
        let address =
            first_line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{first_line}")).to_string();
        let mut cluster = Cluster {
            address,
            children: vec![("scheduler".into(), scheduler)],
            binds: Vec::new(),
            logs: logs.to_path_buf(),
        };
        for id in executor_ids {
            cluster.spawn_executor(id, slots);
        }
        for id in executor_ids {
            cluster.registered(id);
        }
        cluster
    }

    /// Starts `flow executor --id ID` for this cluster's scheduler, without waiting.
    fn spawn_executor(&mut self, id: &str, slots: usize) {
        let bind = format!("127.0.0.1:{}", free_port_pair());
        let slots = slots.to_string();
        let args = ["executor", "--scheduler", &self.address, "--bind", &bind, "--slots", &slots, "--id", id];
        let logs = &self.logs;
        let child = flow_command(&args)
            .args(["--heartbeat", "1"])
            .env("FLOW_LOG", "info")
            // The statements the executor sends to PostgreSQL sources (what verify reads).
            .env("FLOW_LOG_SQL", logs.join(format!("{id}.sql")))
            .stdout(log_file(logs, &format!("{id}.out")))
            .stderr(log_file(logs, &format!("{id}.err")))
            .spawn()
            .expect("flow executor starts");
        self.children.push((id.to_string(), child));
        self.binds.push((id.to_string(), bind));
    }

    /// Waits (at most a minute) until executor `id` has registered: its log says so.
    fn registered(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let log = self.logs.join(format!("{id}.err"));
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("Executor registration succeed") {
            assert!(Instant::now() < deadline, "executor {id} did not register:\n{}", self.all_output());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn engine(&self) -> String {
        format!("ballista://{}", self.address)
    }

    fn kill(&mut self, id: &str) {
        let (_, child) = self.children.iter_mut().find(|(name, _)| name == id).expect("known executor");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Everything the cluster's processes wrote.
    fn all_output(&self) -> String {
        let mut out = String::new();
        let mut names: Vec<_> =
            std::fs::read_dir(&self.logs).expect("logs").map(|e| e.expect("entry").path()).collect();
        names.sort();
        for path in names {
            out.push_str(&format!("== {}\n{}\n", path.display(), std::fs::read_to_string(&path).unwrap_or_default()));
        }
        out
    }

    /// The statements each executor sent to PostgreSQL sources so far (`FLOW_LOG_SQL`).
    fn executor_statements(&self) -> Vec<String> {
        let log = |id: &str| std::fs::read_to_string(self.logs.join(format!("{id}.sql"))).unwrap_or_default();
        self.binds.iter().map(|(id, _)| log(id)).collect()
    }
}

/// Runs `flow` to its end (at most 5 minutes); returns exit code, stdout, stderr.
fn flow(args: &[&str]) -> (i32, String, String) {
    flow_env(args, &[])
}

/// [`flow`] with environment variables set.
fn flow_env(args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut command = flow_command(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("flow starts");
    let deadline = Instant::now() + Duration::from_secs(300);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("flow {args:?} did not finish in 5 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Count and md5 over every column of every row of a PostgreSQL table, in a stable order.
fn pg_digest(table: &str) -> (String, String) {
    let rows = pg_rows(&format!(
        "SELECT count(*)::text, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
    ));
    (rows[0][0].clone(), rows[0][1].clone())
}

/// The executors the report's sink `sink` ran its partitions on, sorted and deduplicated, and
/// the number of partitions it reports.
fn executors_of(report: &Path, sink: &str) -> (Vec<String>, usize) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).expect("report")).expect("report is JSON");
    let stage = report["stages"].as_array().expect("stages").iter().find(|s| s["name"] == sink).expect("sink stage");
    let partitions = stage["partitions"].as_array().expect("partitions");
    let mut executors: Vec<String> =
        partitions.iter().filter_map(|p| p["executor"].as_str().map(str::to_string)).collect();
    executors.sort();
    executors.dedup();
    (executors, partitions.len())
}

/// `flow verify FILE` here and with `--engine` on the cluster: both exit `code` and print the
/// same. The cluster's verify reads the rows of each table in `read` (PostgreSQL tables of the
/// source or the target, each partition by its range) on the executors; the client reads only
/// the `sampled` partitions that differ, again, to name their differences.
fn verify_both(dir: &Path, cluster: &Cluster, file: &str, code: i32, read: &[String], sampled: usize) -> String {
    let (local_code, here, stderr) = flow(&["verify", file]);
    assert_eq!(local_code, code, "verify: {here}{stderr}");
    let client_log = dir.join("verify-client.sql");
    let _ = std::fs::remove_file(&client_log);
    let before = cluster.executor_statements();
    let engine = cluster.engine();
    let (remote_code, there, stderr) =
        flow_env(&["verify", file, "--engine", &engine], &[("FLOW_LOG_SQL", client_log.as_path())]);
    assert_eq!(
        (remote_code, &there),
        (code, &here),
        "verify --engine: {stderr}
{}",
        cluster.all_output()
    );
    let client = std::fs::read_to_string(&client_log).unwrap_or_default();
    // What the executors sent since `before` (each log only grows).
    let executors: String = cluster
        .executor_statements()
        .iter()
        .zip(&before)
        .map(|(now, then)| now.get(then.len()..).unwrap_or_default().to_string())
        .collect();
    for table in read {
        let reading = format!("FROM \"public\".\"{table}\" WHERE");
        let here = client.lines().filter(|l| l.starts_with("postgres\tcopy\t") && l.contains(&reading)).count();
        assert_eq!(here, sampled, "the client's reads of {table}'s partitions:\n{client}");
        assert!(executors.contains(&reading), "no executor read {table}'s partitions:\n{executors}");
    }
    there
}

/// Runs `file` locally and on the cluster (`--report --verify`), asserting both succeed; returns the
/// report path of the cluster run.
fn run_both(dir: &Path, cluster: &Cluster, local: &str, on_cluster: &str) -> PathBuf {
    let (code, _, stderr) = flow(&["run", "-q", local]);
    assert_eq!(code, 0, "local run: {stderr}");
    let report = dir.join(format!("{}.report.json", Path::new(on_cluster).file_stem().unwrap().to_string_lossy()));
    let report_arg = report.to_str().expect("utf-8").to_string();
    // `--verify` compares on the cluster too, right after the run.
    let (code, stdout, stderr) =
        flow(&["run", "-q", on_cluster, "--engine", &cluster.engine(), "--report", &report_arg, "--verify"]);
    assert_eq!(code, 0, "cluster run: {stdout}{stderr}\n{}", cluster.all_output());
    assert!(stdout.contains("\n  equal: "), "{stdout}");
    assert!(!format!("{stdout}{stderr}").contains(SECRET), "the client printed the password:\n{stdout}{stderr}");
    report
}

#[test]
fn separate_process_cluster_moves_equal_local_runs() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let id = std::process::id();
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let cluster = Cluster::start(&logs, &["exec-a", "exec-b"], 2);

    // PostgreSQL → PostgreSQL, 8 partitions, every common type, NULLs and empty values.
    let src = format!("cp_src_{id}");
    pg_exec(&format!(
        "DROP TABLE IF EXISTS public.{src}; \
         CREATE TABLE public.{src} (id bigint, v text, amount numeric(14,4), big numeric, at timestamptz, d date, ok boolean, raw bytea, j jsonb); \
         INSERT INTO public.{src} SELECT g, 'v' || g || ' 😀', g / 7.0, (g::numeric ^ 3) / 3, \
           timestamptz '2024-01-01 00:00:00+00' - g * interval '1 minute', date '2000-01-01' + g, g % 2 = 0, \
           decode(md5(g::text), 'hex'), jsonb_build_object('g', g) FROM generate_series(1, 20000) g; \
         INSERT INTO public.{src} VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), (4, '', 0, 0, NULL, NULL, NULL, '', '{{}}');"
    ));
    let pipeline = |name: &str, target: &str| {
        format!(
            "let pg = postgres(\"{PG}\")\npipeline {name} {{\n  source s = pg.table(\"public.{src}\") {{ partition by id into 8 }}\n  \
             sink out = s -> pg.table(\"public.{target}\") {{ mode replace }}\n}}\n"
        )
    };
    let local = write(dir.path(), "pg_local.flow", &pipeline("pg_local", &format!("cp_local_{id}")));
    let remote = write(dir.path(), "pg_cluster.flow", &pipeline("pg_cluster", &format!("cp_cluster_{id}")));
    let report = run_both(dir.path(), &cluster, &local, &remote);
    assert_eq!(pg_digest(&format!("public.cp_cluster_{id}")), pg_digest(&format!("public.cp_local_{id}")));
    assert_eq!(pg_digest(&format!("public.cp_cluster_{id}")).0, "20002");
    let (executors, partitions) = executors_of(&report, "out");
    assert_eq!((executors, partitions), (vec!["exec-a".to_string(), "exec-b".to_string()], 8));
    let target = format!("cp_cluster_{id}");
    let equal = verify_both(dir.path(), &cluster, &remote, 0, &[src.clone(), target.clone()], 0);
    assert!(equal.ends_with("  equal: 8 partition(s)\n"), "{equal}");
    // A changed row is found the same way, and sampled by the client.
    pg_exec(&format!("UPDATE public.{target} SET v = 'changed' WHERE id = 12345"));
    let differing = verify_both(dir.path(), &cluster, &remote, 1, &[src.clone(), target.clone()], 1);
    assert!(differing.contains("  DIFFERENT\n      changed: id=12345\n  partition   5"), "{differing}");
    assert!(differing.ends_with("  DIFFERENT: 1 of 8 partition(s)\n"), "{differing}");

    // MySQL (MariaDB) → PostgreSQL, 4 partitions.
    my_exec(&format!(
        "DROP TABLE IF EXISTS flow_test.cm_src_{id}; \
         CREATE TABLE flow_test.cm_src_{id} (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(12,3), at DATETIME(6), flag TINYINT(1), note TEXT); \
         INSERT INTO flow_test.cm_src_{id} SELECT seq, CONCAT('n', seq), seq / 3, TIMESTAMP '2024-02-29 12:00:00' + INTERVAL seq SECOND, seq % 2, \
           IF(seq % 5 = 0, NULL, REPEAT('x', seq % 17)) FROM seq_1_to_5000;"
    ));
    let pipeline = |name: &str, target: &str| {
        format!(
            "let my = mysql(\"{MY}\")\nlet pg = postgres(\"{PG}\")\npipeline {name} {{\n  \
             source s = my.table(\"cm_src_{id}\") {{ partition by id into 4 }}\n  \
             sink out = s -> pg.table(\"public.{target}\") {{ mode replace }}\n}}\n"
        )
    };
    let local = write(dir.path(), "my_local.flow", &pipeline("my_local", &format!("cm_local_{id}")));
    let remote = write(dir.path(), "my_cluster.flow", &pipeline("my_cluster", &format!("cm_cluster_{id}")));
    let report = run_both(dir.path(), &cluster, &local, &remote);
    assert_eq!(pg_digest(&format!("public.cm_cluster_{id}")), pg_digest(&format!("public.cm_local_{id}")));
    assert_eq!(pg_digest(&format!("public.cm_cluster_{id}")).0, "5000");
    let (executors, partitions) = executors_of(&report, "out");
    assert_eq!((executors, partitions), (vec!["exec-a".to_string(), "exec-b".to_string()], 4));
    // A MySQL snapshot is connections of one process: on a cluster the report says it is not
    // shared.
    let notes: serde_json::Value = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(&report).expect("report"),
    )
    .expect("JSON")["notes"]
        .clone();
    let different = "source `s`: partitions are read at different moments: on a cluster each executor reads its \
                     partition on a connection of its own, and mysql snapshots cannot be shared between processes";
    assert_eq!(notes.as_array().map(|n| n.iter().filter(|n| n == &different).count()), Some(1), "{notes}");
    let equal = verify_both(dir.path(), &cluster, &remote, 0, &[format!("cm_cluster_{id}")], 0);
    assert!(equal.ends_with("  equal: 4 partition(s)\n"), "{equal}");

    // PostgreSQL → Parquet, 8 partitions: the executors write part files the client publishes.
    let lake = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let pipeline = |name: &str, out: &str| {
        format!(
            "let pg = postgres(\"{PG}\")\nlet lake = parquet(\"{out}\")\npipeline {name} {{\n  \
             source s = pg.table(\"public.{src}\") {{ partition by id into 8 }}\n  sink out = s -> lake.table(\"t\")\n}}\n"
        )
    };
    let local = write(dir.path(), "pq_local.flow", &pipeline("pq_local", &lake("lake_local")));
    let remote = write(dir.path(), "pq_cluster.flow", &pipeline("pq_cluster", &lake("lake_cluster")));
    let report = run_both(dir.path(), &cluster, &local, &remote);
    let (executors, partitions) = executors_of(&report, "out");
    assert_eq!((executors, partitions), (vec!["exec-a".to_string(), "exec-b".to_string()], 8));
    // Both Parquet files loaded back into PostgreSQL by Flow itself, then compared there.
    for (name, table) in
        [("lake_local", format!("pq_back_local_{id}")), ("lake_cluster", format!("pq_back_cluster_{id}"))]
    {
        let file = dir.path().join(name).join("t.parquet");
        let url = PG.to_string();
        let (code, _, stderr) =
            flow(&["copy", "-q", file.to_str().expect("utf-8"), &url, "--table", &format!("public.{table}")]);
        assert_eq!(code, 0, "loading {name} back: {stderr}");
    }
    assert_eq!(pg_digest(&format!("public.pq_back_cluster_{id}")), pg_digest(&format!("public.pq_back_local_{id}")));
    assert_eq!(pg_digest(&format!("public.pq_back_cluster_{id}")).0, "20002");
    let equal = verify_both(dir.path(), &cluster, &remote, 0, std::slice::from_ref(&src), 0);
    assert!(equal.ends_with("  equal: 8 partition(s)\n"), "{equal}");

    let output = cluster.all_output();
    assert!(output.contains("Execute task"), "the executors logged their tasks:\n{output}");
    assert!(!output.contains(SECRET), "a cluster process printed the password:\n{output}");

    pg_exec(&format!(
        "DROP TABLE public.{src}; DROP TABLE public.cp_local_{id}; DROP TABLE public.cp_cluster_{id}; \
         DROP TABLE public.cm_local_{id}; DROP TABLE public.cm_cluster_{id}; \
         DROP TABLE public.pq_back_local_{id}; DROP TABLE public.pq_back_cluster_{id};"
    ));
    my_exec(&format!("DROP TABLE flow_test.cm_src_{id}"));
}

/// A move big enough to interrupt: 1,000,000 rows of a PostgreSQL table copied in 16 partitions.
struct BigMove {
    src: String,
    dst: String,
    pipeline: String,
    file: String,
    run: Child,
    /// The run's stderr so far: its `--progress json` events and log lines.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl BigMove {
    /// Waits for the run to end; returns its exit code and everything it wrote on stderr.
    fn wait(self) -> (Option<i32>, String) {
        let status = { self.run }.wait().expect("run ends");
        // The reader ends with the pipe, just after the process.
        std::thread::sleep(Duration::from_millis(200));
        let stderr = self.stderr.lock().expect("stderr").clone();
        (status.code(), stderr)
    }
}

/// Creates the source of a [`BigMove`] named after `name` and the process, starts `flow run
/// --progress json` on `cluster` in the background and returns once the client's progress shows
/// a first sink partition done, with its rows: progress on a cluster follows the ledger while
/// the executors write, before the run ends.
fn start_big_move(dir: &Path, cluster: &Cluster, name: &str) -> BigMove {
    let id = std::process::id();
    let (src, dst, pipeline) = (format!("{name}_src_{id}"), format!("{name}_dst_{id}"), format!("{name}_{id}"));
    pg_exec(&format!(
        "DROP TABLE IF EXISTS public.{src}; DROP TABLE IF EXISTS public.{dst}; \
         CREATE TABLE public.{src} (id bigint, payload text, n numeric); \
         INSERT INTO public.{src} SELECT g, repeat(md5(g::text), 8), g * 1.5 FROM generate_series(1, 1000000) g;"
    ));
    let text = format!(
        "let pg = postgres(\"{PG}\")\npipeline {pipeline} {{\n  source s = pg.table(\"public.{src}\") {{ partition by id into 16 }}\n  \
         sink out = s -> pg.table(\"public.{dst}\") {{ mode replace }}\n}}\n"
    );
    let file = write(dir, &format!("{name}.flow"), &text);
    let mut run = flow_command(&["run", "--progress", "json", &file, "--engine", &cluster.engine()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flow run starts");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (pipe, lines) = (run.stderr.take().expect("stderr"), stderr.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().expect("stderr").push_str(&(line + "\n"));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let shown = |text: &str| {
        text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).any(|e| {
            e["event"] == "partition_finished" && e["stage"] == "out" && e["ok"] == true && e["rows"].as_u64() > Some(0)
        })
    };
    while !shown(&stderr.lock().expect("stderr")) {
        let text = stderr.lock().expect("stderr").clone();
        assert!(run.try_wait().expect("wait").is_none(), "the run ended before its first partition was shown:\n{text}");
        assert!(Instant::now() < deadline, "no partition shown in 2 minutes:\n{text}\n{}", cluster.all_output());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(committed(&pipeline) >= 1, "a partition is shown done only once the ledger has it");
    BigMove { src, dst, pipeline, file, run, stderr }
}

#[test]
fn an_executor_killed_mid_run_loses_and_doubles_no_row() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let mut cluster = Cluster::start(&logs, &["exec-a", "exec-b"], 1);
    let big = start_big_move(dir.path(), &cluster, "killed");
    let (src, dst, pipeline, file) = (big.src.clone(), big.dst.clone(), big.pipeline.clone(), big.file.clone());
    let engine = cluster.engine();
    cluster.kill("exec-b");
    let at_kill = committed(&pipeline);
    assert!(at_kill < 16, "every partition was committed before the kill");
    let (code, first) = big.wait();
    println!(
        "exec-b killed with {at_kill} of 16 partitions committed; the run {}",
        if code == Some(0) { "finished on exec-a" } else { "failed cleanly and --resume finished it" }
    );
    if code != Some(0) {
        // Failed cleanly: `--resume` on the surviving executor finishes it.
        let (code, stdout, stderr) = flow(&["run", "-q", "--resume", &file, "--engine", &engine]);
        assert_eq!(code, 0, "resume after the kill: {stdout}{stderr}\nfirst run: {first}\n{}", cluster.all_output());
    }
    let rows = pg_rows(&format!(
        "SELECT count(*)::text, count(DISTINCT id)::text, (SELECT count(*) FROM public.{src})::text FROM public.{dst}"
    ));
    assert_eq!(
        rows[0],
        vec!["1000000".to_string(), "1000000".to_string(), "1000000".to_string()],
        "first run: {first}"
    );
    assert_eq!(pg_digest(&format!("public.{dst}")), pg_digest(&format!("public.{src}")));
    assert!(!cluster.all_output().contains(SECRET));
    pg_exec(&format!("DROP TABLE public.{src}; DROP TABLE public.{dst};"));
}

/// With every executor gone mid-run, Ballista would keep the job's tasks queued forever: the run
/// fails once the scheduler has had none for 10 s, and `--resume` on a new executor finishes it.
#[test]
fn losing_every_executor_fails_the_run_and_resume_finishes_it() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let mut cluster = Cluster::start(&logs, &["exec-a"], 1);
    let big = start_big_move(dir.path(), &cluster, "orphaned");
    let (src, dst, file) = (big.src.clone(), big.dst.clone(), big.file.clone());
    cluster.kill("exec-a");
    let killed = Instant::now();
    let (code, stderr) = big.wait();
    assert_eq!(code, Some(1), "{stderr}");
    // The scheduler forgets the executor after its --executor-timeout (10 s here), the run
    // fails 10 s later.
    assert!(killed.elapsed() < Duration::from_secs(60), "the run waited {:?} without executors", killed.elapsed());
    let lost = format!(
        "the Ballista scheduler at {} has had no executor for 10 s: the executors it had are gone, so the run's \
         remaining tasks cannot run; start one with `flow executor --scheduler {}`; the partitions committed so far \
         are kept: ",
        cluster.address, cluster.address
    );
    let failed = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "failed")
        .unwrap_or_else(|| panic!("no `failed` event:\n{stderr}"));
    assert_eq!(failed["failure"]["code"], "flow::cluster::no_executors", "{failed}");
    assert!(failed["error"].as_str().is_some_and(|e| e.starts_with(&lost)), "{failed}");
    cluster.spawn_executor("exec-b", 2);
    cluster.registered("exec-b");
    let (code, stdout, stderr) = flow(&["run", "-q", "--resume", &file, "--engine", &cluster.engine()]);
    assert_eq!(code, 0, "{stdout}{stderr}\n{}", cluster.all_output());
    assert_eq!(pg_digest(&format!("public.{dst}")), pg_digest(&format!("public.{src}")));
    pg_exec(&format!("DROP TABLE public.{src}; DROP TABLE public.{dst};"));
}

/// Sends SIGINT (what Ctrl-C sends) or SIGTERM to a child.
fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status();
    assert!(status.expect("kill runs").success(), "kill -{name}");
}

/// How many partitions of `pipeline`'s latest run the ledger records.
fn committed(pipeline: &str) -> usize {
    let ledger = pg_rows("SELECT 'x' FROM pg_tables WHERE schemaname = 'public' AND tablename = '_flow_ledger'");
    if ledger.is_empty() {
        return 0;
    }
    pg_rows(&format!(
        "SELECT count(*)::text FROM public._flow_ledger WHERE pipeline = '{pipeline}' AND event = 'partition' \
         AND run_id = (SELECT max(run_id) FROM public._flow_ledger WHERE pipeline = '{pipeline}')"
    ))
    .first()
    .map_or(0, |r| r[0].parse().unwrap_or(0))
}

#[test]
fn ctrl_c_on_the_client_cancels_the_tasks_on_the_executors_and_resume_finishes_exactly() {
    if !postgres_available() {
        return;
    }
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let cluster = Cluster::start(&logs, &["exec-a", "exec-b"], 1);
    let big = start_big_move(dir.path(), &cluster, "cancelled");
    let (src, dst, pipeline, file) = (big.src.clone(), big.dst.clone(), big.pipeline.clone(), big.file.clone());
    let engine = cluster.engine();
    signal(&big.run, "INT");
    let (code, stderr) = big.wait();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("interrupted by Ctrl-C; nothing was published"), "{stderr}");
    // The client waited for the cancellation to reach the scheduler, which aborted the tasks
    // (`cluster::cancel`): no partition is committed after the client exits, and no executor
    // still reads the source.
    let after = committed(&pipeline);
    assert!(after < 16, "the run was not stopped: {after} of 16 partitions committed");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(committed(&pipeline), after, "partitions were committed after the run was cancelled");
    let reading = pg_rows(&format!(
        "SELECT count(*)::text FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%{src}%' \
         AND pid <> pg_backend_pid()"
    ));
    assert_eq!(reading[0][0], "0", "an executor still reads the source:\n{}", cluster.all_output());
    assert!(cluster.all_output().contains("Cancelling tasks"), "{}", cluster.all_output());
    // What was committed stays; --resume writes the rest exactly once.
    let (code, stdout, stderr) = flow(&["run", "-q", "--resume", &file, "--engine", &engine]);
    assert_eq!(code, 0, "{stdout}{stderr}\n{}", cluster.all_output());
    assert_eq!(pg_digest(&format!("public.{dst}")), pg_digest(&format!("public.{src}")));
    pg_exec(&format!("DROP TABLE public.{src}; DROP TABLE public.{dst};"));
}

#[test]
fn a_cluster_that_cannot_take_the_run_fails_it_before_anything_is_written() {
    if !postgres_available() {
        return;
    }
    let id = std::process::id();
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let (src, dst) = (format!("ready_src_{id}"), format!("ready_dst_{id}"));
    pg_exec(&format!(
        "DROP TABLE IF EXISTS public.{src}; CREATE TABLE public.{src} AS SELECT g AS id FROM generate_series(1, 10) g;"
    ));
    let text = format!(
        "let pg = postgres(\"{PG}\")\npipeline ready_{id} {{\n  source s = pg.table(\"public.{src}\")\n  \
         sink out = s -> pg.table(\"public.{dst}\") {{ mode replace }}\n}}\n"
    );
    let file = write(dir.path(), "ready.flow", &text);
    let nothing_written = || {
        let tables = pg_rows(&format!("SELECT count(*)::text FROM pg_tables WHERE tablename LIKE '%{dst}%'"));
        assert_eq!(tables[0][0], "0", "a staging or target table was written");
        assert_eq!(committed(&format!("ready_{id}")), 0);
    };

    // A scheduler with no executor: refused after a short wait for one to register.
    let cluster = Cluster::start(&logs, &[], 1);
    let (code, stdout, stderr) = flow(&["run", "-q", &file, "--engine", &cluster.engine()]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let expected = format!(
        "the Ballista scheduler at {0} has no executor registered (not ready: 0/1 executors registered); start one \
         with `flow executor --scheduler {0}`",
        cluster.address
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("flow::cluster::no_executors") || !stderr.contains("continues this run"), "{stderr}");
    nothing_written();

    // SIGTERM stops the scheduler, with exit 0.
    let mut cluster = cluster;
    let (_, scheduler) = cluster.children.iter_mut().find(|(name, _)| name == "scheduler").expect("scheduler");
    signal(scheduler, "TERM");
    let stopped = Instant::now();
    while scheduler.try_wait().expect("wait").is_none() {
        assert!(stopped.elapsed() < Duration::from_secs(10), "the scheduler ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(scheduler.wait().expect("status").code(), Some(0));

    // Nothing listening, and a server that is not a scheduler (PostgreSQL's port).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    for (address, why) in [(format!("127.0.0.1:{closed}"), "does not answer: "), ("127.0.0.1:5432".to_string(), "")] {
        let started = Instant::now();
        let (code, stdout, stderr) = flow(&["run", "-q", &file, "--engine", &format!("ballista://{address}")]);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stderr.contains(&format!("the Ballista scheduler at {address} {why}")), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(45), "took {:?}", started.elapsed());
        nothing_written();
        // `flow check --engine` asks the cluster too: a warning, as for a source that does not
        // answer.
        let (code, stdout, stderr) = flow(&["check", &file, "--engine", &format!("ballista://{address}")]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stderr.contains(&format!("[flow::cluster::unreachable]: the Ballista scheduler at {address} {why}")),
            "{stderr}"
        );
    }
    pg_exec(&format!("DROP TABLE public.{src};"));
}

#[test]
fn an_executor_refuses_a_taken_port_and_fails_when_its_scheduler_goes() {
    let dir = temp_dir();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let mut cluster = Cluster::start(&logs, &["exec-a"], 1);
    // An executor's address given as --engine: refused before anything runs.
    let executor = cluster.binds[0].1.clone();
    let file =
        write(dir.path(), "g.flow", "pipeline g {\n  source s = generate(rows: 3)\n  sink s -> csv(\"out.csv\")\n}\n");
    let (code, _, stderr) = flow(&["run", "-q", &file, "--engine", &format!("ballista://{executor}")]);
    assert_eq!(code, 1, "{stderr}");
    let refused = format!(
        "error[flow::cluster::unreachable]: {executor} is not a Ballista scheduler (`GET /readyz` answered HTTP 200): \
         is it an executor's port? `flow scheduler` prints the address to give --engine"
    );
    assert!(stderr.contains(&refused), "{stderr}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let bind = format!("127.0.0.1:{port}");
    let (code, _, stderr) = flow(&["executor", "--scheduler", &cluster.address, "--bind", &bind]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot listen on {bind} (the executor's Flight data port): ")),
        "{stderr}"
    );
    drop(taken);

    // A scheduler address that is no address is refused at once, not waited for.
    let started = Instant::now();
    let (code, _, stderr) = flow(&["executor", "--scheduler", "sched-host", "--bind", "127.0.0.1:0"]);
    assert_eq!((code, stderr.trim()), (2, "error: --scheduler `sched-host` is not HOST:PORT"));
    assert!(started.elapsed() < Duration::from_secs(10), "refused after {:?}", started.elapsed());

    // An executor whose scheduler never answers still stops at once on SIGTERM.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let bind = format!("127.0.0.1:{}", free_port_pair());
    let mut waiting = flow_command(&["executor", "--scheduler", &format!("127.0.0.1:{closed}"), "--bind", &bind])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flow executor starts");
    std::thread::sleep(Duration::from_secs(2));
    signal(&waiting, "TERM");
    let stopped = Instant::now();
    while waiting.try_wait().expect("wait").is_none() {
        assert!(stopped.elapsed() < Duration::from_secs(10), "the waiting executor ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = waiting.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM before it reached its scheduler"), "{stderr}");

    // The scheduler goes away: the executor stops with an error, not as if asked to.
    cluster.kill("scheduler");
    let (_, executor) = cluster.children.iter_mut().find(|(name, _)| name == "exec-a").expect("exec-a");
    let port = cluster.binds[0].1.rsplit_once(':').expect("port").1.to_string();
    let work_dir = std::env::temp_dir().join(format!("flow-executor-{port}-{}", executor.id()));
    assert!(work_dir.is_dir(), "the executor works in {}", work_dir.display());
    let gone = Instant::now();
    while executor.try_wait().expect("wait").is_none() {
        assert!(gone.elapsed() < Duration::from_secs(90), "the executor outlived its scheduler by 90 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(executor.wait().expect("status").code(), Some(1));
    let err = std::fs::read_to_string(logs.join("exec-a.err")).expect("log");
    assert!(err.contains("error: executor exec-a stopped: it lost its scheduler at"), "{err}");
    assert!(!work_dir.exists(), "the executor left its work directory {}", work_dir.display());
}
