//! Issue 16: pipelines on a Ballista cluster. A scheduler and an executor run in this process
//! (`flow::cluster::standalone`), on loopback ports, with the plan encoded and decoded as it is
//! between separate processes; the databases are the real servers.

use std::sync::Arc;

use crate::common::{context, flow_cli, postgres_available, runtime};
use flow::analyze::{Discover, analyze};
use flow::exec::{RunOptions, RunStatus, run_pipeline};
use flow::verify::verify_pipeline;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

async fn query(sql: &str) -> Vec<tokio_postgres::Row> {
    let client = flow::connect::postgres::connect(PG).await.expect("connects");
    client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Each row of `table` as text, in id order, and a digest over all of them.
async fn contents(table: &str) -> (i64, String) {
    let rows = query(&format!(
        "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t.id NULLS FIRST, t::text), '')) FROM {table} t"
    ))
    .await;
    (rows[0].get(0), rows[0].get(1))
}

#[test]
fn postgres_to_postgres_in_8_partitions_on_an_in_process_cluster() {
    if !postgres_available() {
        return;
    }
    let (src, dst) = (format!("cluster_src_{}", std::process::id()), format!("cluster_dst_{}", std::process::id()));
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS public.{dst}; DROP TABLE IF EXISTS public.{src};
                 CREATE TABLE public.{src} (id bigint, v text, amount numeric(14,4), at timestamptz, d date, ok boolean, raw bytea);
                 INSERT INTO public.{src} SELECT g, 'v' || g || ' 😀', g / 7.0, timestamptz '2024-01-01 00:00:00+00' - g * interval '1 minute', date '2000-01-01' + g, g % 2 = 0, decode(md5(g::text), 'hex') FROM generate_series(1, 8000) g;
                 INSERT INTO public.{src} VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL), (4, '', 0, NULL, NULL, NULL, '');"
            ))
            .await
            .unwrap();
    });
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline cluster_copy {{
          source s = pg.table("public.{src}") {{ partition by id into 8 }}
          sink s -> pg.table("public.{dst}") {{ mode replace }}
        }}"#
    );
    let report = rt.block_on(async {
        let cluster = flow::cluster::standalone::start(4).await.expect("the in-process cluster starts");
        let analysis = analyze("cluster.flow", &text, &context(&[]), Discover::Online).await;
        assert!(analysis.ok(), "{}", analysis.problems.render_plain());
        let options = RunOptions {
            engine: Some(Arc::new(flow::cluster::BallistaEngine::new(&cluster.scheduler))),
            ..RunOptions::default()
        };
        // The same run against a scheduler that is not there fails before it touches the target:
        // no ledger row and no staging table for its run.
        let nowhere = RunOptions {
            engine: Some(Arc::new(flow::cluster::BallistaEngine::new("127.0.0.1:1"))),
            ..RunOptions::default()
        };
        let failed = run_pipeline(&analysis.resolved[0], &nowhere).await;
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.failure.as_ref().map(|f| f.code), Some("flow::cluster::unreachable"));
        let error = failed.error.unwrap_or_default();
        assert!(error.starts_with("the Ballista scheduler at 127.0.0.1:1 does not answer: "), "{error}");
        assert!(!error.contains("continues this run"), "nothing was started: {error}");
        let staged =
            query(&format!("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%{}%'", failed.run_id.to_lowercase()))
                .await;
        assert_eq!(staged[0].get::<_, i64>(0), 0, "no staging table for the failed run");
        let report = run_pipeline(&analysis.resolved[0], &options).await;
        // `flow verify --engine`: the executors checksum each partition of the source and the
        // target; the result is the local verify's, equal and then with a row changed, one
        // deleted and one added.
        let engine = options.engine.as_deref();
        let render = |checks: Vec<flow::verify::SinkCheck>| checks.iter().map(|c| c.render()).collect::<String>();
        let on_cluster = verify_pipeline(&analysis.resolved[0], engine).await.expect("verifies on the cluster");
        assert!(on_cluster.iter().all(|c| c.equal()), "{}", render(on_cluster.clone()));
        assert_eq!(render(on_cluster), render(verify_pipeline(&analysis.resolved[0], None).await.expect("verifies")));
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(&format!(
                "UPDATE public.{dst} SET v = 'changed' WHERE id = 1500; DELETE FROM public.{dst} WHERE id = 7001;
                 INSERT INTO public.{dst} (id, v) VALUES (7002, 'extra');"
            ))
            .await
            .unwrap();
        let on_cluster = render(verify_pipeline(&analysis.resolved[0], engine).await.expect("verifies on the cluster"));
        let here = render(verify_pipeline(&analysis.resolved[0], None).await.expect("verifies"));
        assert_eq!(on_cluster, here);
        for line in [
            "      changed: id=1500\n",
            "      missing in target: id=7001\n",
            "      duplicated in target: id=7002 (2 times)\n",
            "  DIFFERENT: 2 of 8 partition(s)\n",
        ] {
            assert!(on_cluster.contains(line), "{line:?} in:\n{on_cluster}");
        }
        client
            .batch_execute(&format!(
                "UPDATE public.{dst} t SET v = s.v FROM public.{src} s WHERE t.id = 1500 AND s.id = 1500;
                 INSERT INTO public.{dst} SELECT * FROM public.{src} WHERE id = 7001;
                 DELETE FROM public.{dst} WHERE id = 7002 AND v = 'extra';"
            ))
            .await
            .unwrap();
        report
    });
    assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
    // The executors' counts reach the report: the source's rows as read, the sink's as written.
    let rows: Vec<(String, u64, u64)> = report.stages.iter().map(|s| (s.name.clone(), s.rows_in, s.rows_out)).collect();
    let sink = format!("s->{dst}");
    assert_eq!(rows, [("s".to_string(), 8002, 8002), (sink, 8002, 8002)]);
    let (source, target) =
        rt.block_on(async { (contents(&format!("public.{src}")).await, contents(&format!("public.{dst}")).await) });
    assert_eq!(source.0, 8002);
    assert_eq!(target, source, "the target holds exactly the source's rows");
    let ledger = rt.block_on(query(&format!(
        "SELECT part, row_count FROM public._flow_ledger WHERE pipeline = 'cluster_copy' AND run_id = '{}' \
         AND event = 'partition' ORDER BY part",
        report.run_id
    )));
    let parts: Vec<i64> = ledger.iter().map(|r| r.get(0)).collect();
    assert_eq!(parts, (0..8).collect::<Vec<i64>>(), "one ledger row per partition");
    assert_eq!(ledger.iter().map(|r| r.get::<_, i64>(1)).sum::<i64>(), 8002);
    let published = rt.block_on(query(&format!(
        "SELECT row_count FROM public._flow_ledger WHERE run_id = '{}' AND event = 'publish'",
        report.run_id
    )));
    assert_eq!(published.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(), vec![8002]);
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute(&format!("DROP TABLE public.{dst}; DROP TABLE public.{src};")).await.unwrap();
    });
}

/// Ten rows in two partitions (ids 1-5 and 6-10); rows 3 and 5, 7 and 9 do not fit the target
/// (`small` out of smallint's range, `code` too long): two refusals in each partition.
const REFUSING_SOURCE: &str =
    "DROP TABLE IF EXISTS public.cluster_rej_src, public.cluster_rej_dst, public.cluster_rej_rejects;
    CREATE TABLE public.cluster_rej_src (id bigint, small bigint, code text);
    INSERT INTO public.cluster_rej_src
    SELECT g, CASE WHEN g IN (3, 7) THEN 40000 ELSE g END, CASE WHEN g IN (5, 9) THEN 'toolong' ELSE 'c' || g END
    FROM generate_series(1, 10) g;
    CREATE TABLE public.cluster_rej_dst (id bigint, small smallint, code varchar(5));";

async fn run_refusing(cluster: &flow::cluster::standalone::Standalone, options: &str) -> flow::exec::RunReport {
    let text = format!(
        r#"let pg = postgres("{PG}")
        pipeline cluster_rej {{
          source s = pg.table("public.cluster_rej_src") {{ partition by id into 2 }}
          sink out = s -> pg.table("public.cluster_rej_dst") {{ mode append; {options} }}
        }}"#
    );
    let analysis = analyze("cluster_rej.flow", &text, &context(&[]), Discover::Online).await;
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let engine = Arc::new(flow::cluster::BallistaEngine::new(&cluster.scheduler));
    run_pipeline(&analysis.resolved[0], &RunOptions { engine: Some(engine), ..RunOptions::default() }).await
}

#[test]
fn refused_rows_on_a_cluster_keep_their_code_location_and_count_toward_max_rejects() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client.batch_execute(REFUSING_SOURCE).await.unwrap();
        let cluster = flow::cluster::standalone::start(2).await.expect("the in-process cluster starts");
        let ids = || async {
            let rows = query("SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM public.cluster_rej_dst").await;
            rows[0].get::<_, String>(0)
        };

        // The default: the executor's failure reaches the client with its code and location.
        let failed = run_refusing(&cluster, "").await;
        assert_eq!(failed.status, RunStatus::Failed);
        let failure = failed.failure.clone().expect("a failure");
        assert_eq!(failure.code, "flow::sink::value_refused");
        assert_eq!(failure.stage.as_deref(), Some("out"));
        // Whichever partition failed first: id 3 is row 3 of partition 0, id 7 row 2 of partition 1.
        let partition = failure.partition.expect("a partition");
        let row = if partition == 0 { 3 } else { 2 };
        assert_eq!(failure.row, Some(row), "{failure:?}");
        assert_eq!(failure.column.as_deref(), Some("small"), "{failure:?}");
        let error = failed.error.unwrap_or_default();
        let expected = format!(
            "sink `out` partition {partition}: cannot write row {row}, column small = 40000: 40000 is out of range \
             for type smallint; add `on error skip` or `on error reject to"
        );
        assert!(error.starts_with(&expected), "{error}");
        assert!(error.contains("add `on error skip` or `on error reject to"), "{error}");
        assert!(!error.contains("flow-failure"), "the tag is taken off: {error}");
        assert_eq!(ids().await, "", "nothing is published");

        // Two refusals per partition pass each executor's count, not the run's.
        let failed = run_refusing(&cluster, "on error reject to pg.table(\"public.cluster_rej_rejects\"); max rejects 2").await;
        assert_eq!(failed.failure.as_ref().map(|f| f.code), Some("flow::sink::too_many_rejects"), "{:?}", failed.error);
        let error = failed.error.unwrap_or_default();
        assert!(
            error.starts_with(
                "sink `out`: 4 rows refused, more than `max rejects 2` (2 in partition 0, 2 in partition 1); nothing \
                 was published"
            ),
            "{error}"
        );
        assert_eq!(ids().await, "", "nothing is published");

        // Within the limit, the good rows load and the report counts the refused ones.
        let report = run_refusing(&cluster, "on error skip").await;
        assert_eq!(report.status, RunStatus::Ok, "{:?}", report.error);
        let sink = report.stages.iter().find(|s| s.name == "out").expect("the sink's stage");
        assert_eq!((sink.rows_in, sink.rows_out, sink.rows_rejected), (10, 6, 4));
        assert_eq!(ids().await, "1,2,4,6,8,10");
        let refused = query(&format!(
            "SELECT part, row_count FROM public._flow_ledger WHERE run_id = '{}' AND event = 'refused' \
             ORDER BY part",
            report.run_id
        ))
        .await;
        let refused: Vec<(i64, i64)> = refused.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(refused, [(0, 2), (1, 2)]);
        client
            .batch_execute("DROP TABLE public.cluster_rej_src, public.cluster_rej_dst; DROP TABLE IF EXISTS public.cluster_rej_rejects")
            .await
            .unwrap();
    });
}

/// A stage with two consumers runs once, fanned out inside one process: with `--engine`,
/// `check`, `explain` and `run` refuse it before anything runs (no scheduler is contacted).
#[test]
fn a_fan_out_is_refused_for_a_cluster_before_anything_runs() {
    let expected = "flow::cluster::fan_out

  × `clean` is read by more than one stage, which a cluster run cannot share (each sink runs as
  │ its own job)
    ╭─[pipelines/demo.flow:29:8]
 28 │   sink clean -> warehouse.table(\"orders\") { mode replace; batch 50000 }
 29 │   sink clean -> lake.table(\"orders\")
    ·        ──┬──
    ·          ╰── a second consumer
 30 │ }
    ╰────
  help: split the pipeline so that each stage has one consumer, or run it without --engine
1 error(s), 0 warning(s)
";
    let engine = "ballista://127.0.0.1:1";
    let out = tempfile::tempdir().expect("temp dir");
    let var = format!("OUT={}", out.path().display());
    for args in [
        vec!["check", "pipelines/demo.flow", "--offline", "--engine", engine],
        vec!["explain", "pipelines/demo.flow", "--engine", engine, "--var", &var],
        vec!["run", "pipelines/demo.flow", "--engine", engine, "--var", &var],
    ] {
        let (code, stdout, stderr) = flow_cli(&args);
        assert_eq!((code, stdout.as_str(), stderr.as_str()), (2, "", expected), "{args:?}");
    }
    assert_eq!(std::fs::read_dir(out.path()).expect("dir").count(), 0, "the run wrote nothing");
    // Without --engine the same file checks cleanly.
    let (code, _, stderr) = flow_cli(&["check", "pipelines/demo.flow", "--offline"]);
    assert_eq!(code, 0, "{stderr}");
}

/// Executors open files in their own working directory: for a cluster run, relative file and
/// SQLite paths are made absolute against the client's directory when the file is checked.
#[test]
fn relative_file_paths_are_made_absolute_for_a_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cwd = dir.path().canonicalize().expect("canonical");
    std::fs::write(cwd.join("in.csv"), "id,v\n1,a\n").expect("csv");
    std::fs::write(
        cwd.join("rel.flow"),
        "let db = sqlite(\"sqlite://out.db\")\npipeline rel {\n  source c = csv(\"in.csv\", header: true)\n  \
         sink c -> db.table(\"t\")\n}\n",
    )
    .expect("flow file");
    let explain = |engine: Option<&str>| {
        let mut args = vec!["explain", "rel.flow", "--offline"];
        args.extend(engine.map(|e| ["--engine", e]).into_iter().flatten());
        let out = crate::common::flow_command(&args).current_dir(&cwd).output().expect("flow runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let local = explain(None);
    assert!(local.contains("reads       file in.csv\n"), "{local}");
    let cluster = explain(Some("ballista://127.0.0.1:1"));
    let csv = format!("reads       file {}\n", cwd.join("in.csv").display());
    let sqlite = format!("connection  db (sqlite) sqlite://{}\n", cwd.join("out.db").display());
    assert!(cluster.contains(&csv) && cluster.contains(&sqlite), "{cluster}");
}

/// A stage's `timeout` on an executor fails the run as locally: `flow::run::timeout`, located at
/// the stage and partition.
#[test]
fn a_stage_timeout_on_a_cluster_keeps_its_code() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    let report = rt.block_on(async {
        let cluster = flow::cluster::standalone::start(2).await.expect("the in-process cluster starts");
        let text = format!(
            r#"let pg = postgres("{PG}")
            pipeline cluster_timeout {{
              source s = pg.query("SELECT g AS id, pg_sleep(0.2) IS NULL AS slow FROM generate_series(1, 50) g") {{ timeout 500ms }}
              sink s -> pg.table("public.cluster_timeout_dst") {{ mode replace }}
            }}"#
        );
        let analysis = analyze("cluster_timeout.flow", &text, &context(&[]), Discover::Online).await;
        assert!(analysis.ok(), "{}", analysis.problems.render_plain());
        let engine = Arc::new(flow::cluster::BallistaEngine::new(&cluster.scheduler));
        run_pipeline(&analysis.resolved[0], &RunOptions { engine: Some(engine), ..RunOptions::default() }).await
    });
    let failure = report.failure.expect("the run fails");
    assert_eq!((failure.code, failure.stage.as_deref(), failure.partition), ("flow::run::timeout", Some("s"), Some(0)));
    let error = report.error.unwrap_or_default();
    assert!(
        error.starts_with("source `s` partition 0 exceeded its timeout of 500ms; the target was left unchanged"),
        "{error}"
    );
}

/// An upsert whose keys span partitions cannot be checked for repeated keys by tasks that each
/// see one partition: refused before anything is written.
#[test]
fn an_upsert_whose_keys_span_partitions_is_refused_on_a_cluster() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    let report = rt.block_on(async {
        let client = flow::connect::postgres::connect(PG).await.unwrap();
        client
            .batch_execute(
                "DROP TABLE IF EXISTS public.cluster_ups_src, public.cluster_ups_dst;
                 CREATE TABLE public.cluster_ups_src AS SELECT g AS id, g % 25 AS k FROM generate_series(1, 100) g;",
            )
            .await
            .unwrap();
        let cluster = flow::cluster::standalone::start(2).await.expect("the in-process cluster starts");
        let text = format!(
            r#"let pg = postgres("{PG}")
            pipeline cluster_ups {{
              source s = pg.table("public.cluster_ups_src") {{ partition by id into 4 }}
              sink out = s -> pg.table("public.cluster_ups_dst") {{ mode upsert on (k) }}
            }}"#
        );
        let analysis = analyze("cluster_ups.flow", &text, &context(&[]), Discover::Online).await;
        assert!(analysis.ok(), "{}", analysis.problems.render_plain());
        let engine = Arc::new(flow::cluster::BallistaEngine::new(&cluster.scheduler));
        let report =
            run_pipeline(&analysis.resolved[0], &RunOptions { engine: Some(engine), ..RunOptions::default() }).await;
        // The resolved source holds its snapshot's transaction (and a lock on the table) until dropped.
        drop(analysis);
        let staged = query("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%cluster_ups_dst%'").await;
        assert_eq!(staged[0].get::<_, i64>(0), 0, "nothing was written");
        client.batch_execute("DROP TABLE public.cluster_ups_src").await.unwrap();
        report
    });
    assert_eq!(report.failure.as_ref().map(|f| f.code), Some("flow::cluster::upsert_split"));
    assert_eq!(
        report.error.as_deref(),
        Some(
            "sink `out`: an upsert on a cluster needs each key's rows in one partition, and source `s` is read in 4 \
             partitions split by `id`, which is not a key; partition the source by a key column, or run without --engine"
        )
    );
}
