//! Unit tests of lowering: small `.flow` texts through [`crate::syntax::parse`] and
//! [`crate::semantic::lower`], asserting the exact plan fields and the exact problem codes and
//! messages, one group per concern (connections, options, graph, stages, table sets).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckContext, DEFAULT_BATCH_SIZE};
use crate::diagnostics::{Problem, codes};
use crate::plan::{
    Backend, Endpoint, IncrementalSpec, OnError, PartitionSpec, PipelinePlan, Relation, StepPlan, TableName, WriteMode,
};
use crate::profiles::{Profile, Profiles};
use crate::semantic::Variables;

fn context() -> CheckContext {
    CheckContext { vars: Variables::default(), default_parallelism: 2, ..Default::default() }
}

fn lower_with(text: &str, ctx: &CheckContext) -> (Vec<PipelinePlan>, Vec<Problem>) {
    let ast = crate::syntax::parse(text).unwrap_or_else(|p| panic!("does not parse: {p:?}\n{text}"));
    crate::semantic::lower(&ast, ctx)
}

/// Lowers `text`, which must lower without any problem, to its one pipeline.
fn lower_ok(text: &str) -> PipelinePlan {
    let (mut plans, problems) = lower_with(text, &context());
    assert!(problems.is_empty(), "unexpected problems: {problems:#?}");
    assert_eq!(plans.len(), 1);
    plans.remove(0)
}

/// The problems of `text`, as (code, message) pairs in the order they were found.
fn problems_of(text: &str) -> Vec<(&'static str, String)> {
    problems_with(text, &context())
}

fn problems_with(text: &str, ctx: &CheckContext) -> Vec<(&'static str, String)> {
    lower_with(text, ctx).1.into_iter().map(|p| (p.code, p.message)).collect()
}

fn problem(code: &'static str, message: &str) -> (&'static str, String) {
    (code, message.to_string())
}

fn table(name: &str) -> Relation {
    Relation::Table { name: TableName::parse(name) }
}

// ------------------------------------------------------------------ connections

#[test]
fn a_bound_connection_becomes_the_endpoint_of_its_stages() {
    let plan = lower_ok(
        r#"
        let db = sqlite("out/x.db")
        let files = csv("data", header: false, delimiter: ";", null: "NA")
        pipeline p {
          source s = files.table("orders")
          sink s -> db.table("orders")
        }"#,
    );
    let source = &plan.sources[0];
    assert_eq!(
        source.endpoint,
        Endpoint {
            name: "files".into(),
            backend: Backend::Csv,
            url: "data".into(),
            options: BTreeMap::from([
                ("delimiter".to_string(), ";".to_string()),
                ("header".to_string(), "false".to_string()),
                ("null".to_string(), "NA".to_string()),
            ]),
        }
    );
    // A table of a CSV connection is a file in its directory.
    assert_eq!(source.relation, Relation::File { path: "data/orders.csv".into() });
    let sink = &plan.sinks[0];
    assert_eq!(
        sink.endpoint,
        Endpoint { name: "db".into(), backend: Backend::Sqlite, url: "out/x.db".into(), options: BTreeMap::new() }
    );
    assert_eq!(sink.relation, table("orders"));
}

#[test]
fn generate_fills_in_rows_and_seed() {
    let plan = lower_ok(
        r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = generate(rows: 10)
          sink s -> db.table("t")
        }"#,
    );
    let source = &plan.sources[0];
    assert_eq!(source.endpoint.name, "generate");
    assert_eq!(source.endpoint.backend, Backend::Generate);
    assert_eq!(
        source.endpoint.options,
        BTreeMap::from([("rows".to_string(), "10".to_string()), ("seed".to_string(), "42".to_string())])
    );
    assert_eq!(source.relation, Relation::Generated { rows: 10, seed: 42 });
}

#[test]
fn a_profile_gives_the_url_and_the_connection_defaults() {
    let mut ctx = context();
    ctx.profiles = Profiles {
        connections: BTreeMap::from([(
            "warehouse".to_string(),
            Profile {
                url: "postgres://etl@db.example:5432/dw".into(),
                kind: None,
                batch: Some(500),
                timeout: Some("30s".into()),
                options: BTreeMap::new(),
            },
        )]),
        path: None,
    };
    let text = r#"
        let dw = profile("warehouse")
        let db = sqlite("out/x.db")
        pipeline p {
          source s = dw.table("public.orders")
          sink s -> db.table("orders")
        }"#;
    let (plans, problems) = lower_with(text, &ctx);
    assert!(problems.is_empty(), "{problems:#?}");
    let source = &plans[0].sources[0];
    assert_eq!(source.endpoint.backend, Backend::Postgres);
    assert_eq!(source.endpoint.url, "postgres://etl@db.example:5432/dw");
    assert_eq!(source.relation, table("public.orders"));
    assert_eq!(source.batch_size, 500);
    assert!(!source.batch_automatic);
    assert_eq!(source.timeout, Some(Duration::from_secs(30)));

    // The same file without the profile: the one problem names it.
    assert_eq!(
        problems_of(text),
        [problem(codes::connection::UNKNOWN_PROFILE, "no connection profile named `warehouse`")]
    );
}

#[test]
fn an_unknown_connection_is_named() {
    let text = r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = dbb.table("t")
          sink s -> db.table("u")
        }"#;
    let (_, problems) = lower_with(text, &context());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].code, codes::name::UNDEFINED);
    assert_eq!(problems[0].message, "no connection named `dbb`");
    assert_eq!(problems[0].help.as_deref(), Some("did you mean `db`?"));
}

#[test]
fn connection_arguments_and_urls_are_checked() {
    assert_eq!(
        problems_of(
            r#"
            let pg = postgres("mysql://root@127.0.0.1/db")
            let my = mysql("not a url")
            let files = csv("data", header: "maybe", colour: "red")
            let empty = sqlite("")
            pipeline p { source s = generate() sink s -> generate(rows: 1) }"#
        ),
        [
            problem(codes::connection::BAD_URL, "`mysql://root@127.0.0.1/db` is not a postgres URL"),
            problem(codes::connection::BAD_URL, "`not a url` is not a valid mysql URL"),
            problem(codes::connection::UNKNOWN_ARGUMENT, "unknown argument `colour`"),
            problem(codes::value::TYPE_MISMATCH, "header must be true or false, got `maybe`"),
            problem(codes::connection::BAD_URL, "the path is empty"),
            problem(codes::target::NOT_WRITABLE, "the synthetic source cannot be written to"),
        ]
    );
}

#[test]
fn a_url_the_driver_refuses_is_a_bad_url_not_an_unreachable_server() {
    assert_eq!(
        problems_of(
            r#"
            let pg = postgres("postgres://u:pw1234567@127.0.0.1/db?sslmode=bogus")
            let my = mysql("mysql://root@127.0.0.1/db?bogus=1")
            let tls = mysql("mysql://root@127.0.0.1/db?ssl-mode=sometimes")
            let ok = postgres("postgres://u@127.0.0.1:5432/db?sslmode=disable&connect_timeout=3")
            let ok2 = mysql("mysql://root@127.0.0.1/db?ssl-mode=REQUIRED")
            pipeline p { source s = generate() sink s -> ok.table("t") sink s -> ok2.table("t") }"#
        ),
        [
            problem(
                codes::connection::BAD_URL,
                "`postgres://u:***@127.0.0.1/db?sslmode=bogus` is not a usable postgres URL: invalid connection string: \
                 invalid value for option `sslmode`"
            ),
            problem(
                codes::connection::BAD_URL,
                "`mysql://root@127.0.0.1/db?bogus=1` is not a usable mysql URL: Unknown URL parameter `bogus'"
            ),
            problem(
                codes::connection::BAD_URL,
                "`mysql://root@127.0.0.1/db?ssl-mode=sometimes` is not a usable mysql URL: unsupported ssl-mode value: \
                 sometimes"
            ),
        ]
    );
}

#[test]
fn a_connection_name_is_bound_once() {
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("a.db")
            let db = sqlite("b.db")
            pipeline p { source s = db.table("t") sink s -> db.table("u") }"#
        ),
        [problem(codes::name::DUPLICATE, "connection `db` is defined twice")]
    );
}

// ------------------------------------------------------------------ options

#[test]
fn stage_options_land_in_the_plan() {
    let plan = lower_ok(
        r#"
        let pg = postgres("postgres://postgres@127.0.0.1:5432/test")
        pipeline p {
          source s = pg.table("public.orders") { partition by id into 4; batch 1000; timeout 5m; incremental on updated_at }
          sink s -> pg.table("copy") { mode upsert on (id, region); create never; on error reject to pg.table("rejects"); max rejects 10; batch 200 }
        }"#,
    );
    let source = &plan.sources[0];
    assert_eq!(source.partition, Some(PartitionSpec { column: "id".into(), count: 4, automatic: false }));
    assert_eq!(source.batch_size, 1000);
    assert!(!source.batch_automatic);
    assert_eq!(source.timeout, Some(Duration::from_secs(300)));
    assert_eq!(source.incremental, Some(IncrementalSpec { column: "updated_at".into() }));
    let sink = &plan.sinks[0];
    assert_eq!(sink.mode, WriteMode::upsert(vec!["id".into(), "region".into()]));
    assert!(!sink.create_if_missing);
    assert_eq!(sink.on_error, OnError::Reject { table: TableName::parse("rejects") });
    assert_eq!(sink.max_rejects, Some(10));
    assert_eq!(sink.batch_size, 200);
}

#[test]
fn bad_option_values_are_refused() {
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("out/x.db")
            pipeline p {
              source s = db.table("t") { batch 0; mode append }
              sink s -> db.table("u") { mode sideways; timeout 5m; timeout 6m; colour red }
            }"#
        ),
        [
            problem(codes::value::BAD_NUMBER, "the batch size must be a whole number greater than 0, got `0`"),
            problem(codes::option::MISPLACED, "`mode` is an option of sinks"),
            problem(codes::sink::UNKNOWN_MODE, "unknown write mode `sideways`"),
            problem(codes::option::DUPLICATE, "option `timeout` is given twice"),
            problem(codes::option::UNKNOWN, "unknown option `colour`"),
        ]
    );
}

#[test]
fn a_mode_may_come_from_a_variable() {
    let text = r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = db.table("t")
          sink s -> db.table("u") { mode ${MODE:-append} }
        }"#;
    let with = |value: Option<&str>| CheckContext {
        vars: Variables {
            cli: value.map(|v| ("MODE".to_string(), v.to_string())).into_iter().collect(),
            environment: None,
        },
        ..context()
    };
    let mode = |value| lower_with(text, &with(value)).0.first().map(|p| p.sinks[0].mode.clone());
    assert_eq!(mode(None), Some(WriteMode::Append));
    assert_eq!(mode(Some("Truncate")), Some(WriteMode::Truncate));
    assert_eq!(mode(Some(" replace ")), Some(WriteMode::Replace));
    assert_eq!(
        problems_with(text, &with(Some("upsert on (id)"))),
        [problem(codes::sink::UNKNOWN_MODE, "unknown write mode `upsert on (id)` (from a variable)")]
    );
}

#[test]
fn options_a_backend_cannot_honour_are_refused() {
    assert_eq!(
        problems_of(
            r#"
            let files = csv("data")
            let lake = parquet("out")
            pipeline p {
              source s = files.table("t") { partition by id into 4; incremental on id }
              sink s -> lake.table("u") { mode append; on error skip }
            }"#
        ),
        [
            problem(codes::source::PARTITION_UNSUPPORTED, "a csv source cannot be partitioned by a column"),
            problem(codes::source::INCREMENTAL_UNSUPPORTED, "a csv source cannot be read incrementally"),
            problem(codes::sink::MODE_UNSUPPORTED, "a parquet file can only be written whole (mode replace)"),
            problem(
                codes::sink::ON_ERROR_UNSUPPORTED,
                "a parquet file takes every value, so `on error` does not apply"
            ),
        ]
    );
}

// ------------------------------------------------------------------ graph

#[test]
fn a_stage_name_is_declared_once_per_pipeline() {
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("out/x.db")
            pipeline p {
              source s = db.table("t")
              source s = db.table("u")
              sink s -> db.table("v")
            }"#
        ),
        [problem(codes::name::DUPLICATE, "stage `s` is defined twice")]
    );
}

#[test]
fn transforms_that_read_each_other_form_a_cycle() {
    let text = r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = db.table("t")
          transform a = b | select x
          transform b = a | select x
          sink a -> db.table("u")
          sink s -> db.table("v")
        }"#;
    let (_, problems) = lower_with(text, &context());
    let cycles: Vec<&Problem> = problems.iter().filter(|p| p.code == codes::graph::CYCLE).collect();
    // Reported once, from the first transform of the cycle.
    assert_eq!(cycles.len(), 1, "{problems:#?}");
    assert_eq!(cycles[0].message, "transforms form a cycle: a <- b <- a");
    assert!(problems.iter().all(|p| p.code == codes::graph::CYCLE), "{problems:#?}");
}

#[test]
fn inputs_name_a_source_or_transform_of_the_pipeline() {
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("out/x.db")
            pipeline p {
              source s = db.table("t")
              transform t = nowhere | select a
              sink out = s -> db.table("u")
              sink out -> db.table("v")
            }"#
        ),
        [
            problem(codes::name::UNDEFINED, "no stage named `nowhere`"),
            problem(codes::graph::SINK_AS_INPUT, "`out` is a sink; sinks have no output"),
            problem(codes::graph::UNUSED_STAGE, "transform `t` has no consumers"),
        ]
    );
}

#[test]
fn a_pipeline_without_a_sink_writes_nothing() {
    let (_, problems) = lower_with(
        r#"
        let db = sqlite("out/x.db")
        pipeline p { source s = db.table("t") }"#,
        &context(),
    );
    let found: Vec<(&str, &str, bool)> = problems.iter().map(|p| (p.code, p.message.as_str(), p.warning)).collect();
    assert_eq!(
        found,
        [
            (codes::graph::NO_SINK, "pipeline `p` has no sink", false),
            (codes::graph::UNUSED_STAGE, "source `s` has no consumers", true)
        ]
    );
}

#[test]
fn a_stage_with_two_consumers_is_refused_only_for_a_cluster() {
    let cluster = CheckContext { cluster: true, ..context() };
    let fanned = r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = db.table("t")
          transform t = s | select a
          sink s -> db.table("u")
          sink t -> db.table("v")
        }"#;
    assert_eq!(problems_of(fanned), []);
    let refused =
        "`s` is read by more than one stage, which a cluster run cannot share (each sink runs as its own job)";
    assert_eq!(problems_with(fanned, &cluster), [problem(codes::cluster::FAN_OUT, refused)]);
    // One table of a set read on its own while the whole set is written: two readers, in either order.
    for sinks in [
        "sink all -> db.schema(\"main\")\n sink all.t -> db.table(\"copy\")",
        "sink all.t -> db.table(\"copy\")\n sink all -> db.schema(\"main\")",
    ] {
        let text = format!(
            "let src = postgres(\"postgres://u@h/d\")\nlet db = sqlite(\"out/x.db\")\npipeline p {{\n source all = src.tables(\"public.*\")\n {sinks}\n}}"
        );
        let found = problems_with(&text, &cluster);
        assert_eq!(
            found.iter().map(|(code, _)| *code).collect::<Vec<_>>(),
            [codes::cluster::FAN_OUT],
            "{text}\n{found:#?}"
        );
    }
    // Each stage read once is fine.
    let chain = r#"
        let db = sqlite("out/x.db")
        pipeline p {
          source s = db.table("t")
          transform t = s | select a
          sink t -> db.table("v")
        }"#;
    assert_eq!(problems_with(chain, &cluster), []);
}

// ------------------------------------------------------------------ stages

#[test]
fn stages_lower_to_their_plans_with_defaults() {
    let plan = lower_ok(
        r#"
        let db = sqlite("out/x.db")
        let lake = parquet("out")
        pipeline p {
          parallelism 3
          timeout 10m
          source s = db.table("main.t")
          transform c = s | filter a > 1 | select a, b | rename a as x | drop b | cast x as bigint
          sink c -> db.table("u")
          sink c -> lake.table("u")
        }"#,
    );
    assert_eq!(plan.name, "p");
    assert_eq!(plan.parallelism, 3);
    assert_eq!(plan.timeout, Some(Duration::from_secs(600)));
    let source = &plan.sources[0];
    assert_eq!(source.name, "s");
    assert_eq!(source.relation, table("main.t"));
    assert_eq!(source.batch_size, DEFAULT_BATCH_SIZE);
    assert!(source.batch_automatic);
    assert_eq!(source.partition, None);
    let transform = &plan.transforms[0];
    assert_eq!((transform.name.as_str(), transform.input.as_str()), ("c", "s"));
    let steps = serde_json::to_value(&transform.steps).expect("steps serialise");
    assert_eq!(steps[0]["predicate"], "(\"a\" > 1)");
    assert!(matches!(&transform.steps[1], StepPlan::Select { columns } if columns == &["a", "b"]));
    assert_eq!(steps[2]["columns"][0], serde_json::json!({"from": "a", "to": "x"}));
    assert!(matches!(&transform.steps[3], StepPlan::Drop { columns } if columns == &["b"]));
    assert_eq!(steps[4]["columns"][0]["column"], "x");
    // Unnamed sinks are named after their input and target; databases append, files replace.
    let names: Vec<(&str, &str, &WriteMode)> =
        plan.sinks.iter().map(|s| (s.name.as_str(), s.input.as_str(), &s.mode)).collect();
    assert_eq!(names, [("c->u", "c", &WriteMode::Append), ("c->u.parquet", "c", &WriteMode::Replace)]);
    assert_eq!(plan.sinks[1].relation, Relation::File { path: "out/u.parquet".into() });
    assert!(plan.sinks.iter().all(|s| s.create_if_missing && s.on_error == OnError::Fail));
}

#[test]
fn targets_a_stage_cannot_use_are_refused() {
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("out/x.db")
            let files = csv("data")
            pipeline p {
              source q = files.query("select 1")
              source s = db.table("public.t")
              transform t = s | explode a
              sink s -> db.query("select 1")
            }"#
        ),
        [
            problem(codes::target::QUERY_ON_FILE, "`files` is not a database; it cannot run a query"),
            problem(codes::target::SQLITE_SCHEMA, "a SQLite file has no schema `public`"),
            problem(codes::transform::UNKNOWN_STEP, "unknown transform step `explode`"),
            problem(codes::target::QUERY_SINK, "a sink cannot write to a query"),
            // Declared, though its target was refused; nothing reads it either.
            problem(codes::graph::UNUSED_STAGE, "source `q` has no consumers"),
            problem(codes::graph::UNUSED_STAGE, "transform `t` has no consumers"),
        ]
    );
}

#[test]
fn a_mysql_table_needs_a_database_from_its_name_or_its_url() {
    assert_eq!(
        problems_of(
            r#"
            let my = mysql("mysql://root@127.0.0.1:3306")
            let shop = mysql("mysql://root@127.0.0.1:3306/shop")
            pipeline p {
              source a = my.table("orders")
              source b = my.table("shop.orders")
              source c = shop.table("orders")
              sink a -> my.table("copy")
              sink b -> my.table("shop.copy_b")
              sink c -> shop.table("copy_c")
            }"#
        ),
        [
            problem(
                codes::connection::NO_DATABASE,
                "`mysql://root@127.0.0.1:3306` names no database: an unqualified table has no database and fails \
                 when the run reaches it (\"No database selected\")"
            ),
            problem(
                codes::target::NO_DATABASE,
                "table `orders` names no database, and the URL of `my` names none either"
            ),
            problem(
                codes::target::NO_DATABASE,
                "table `copy` names no database, and the URL of `my` names none either"
            ),
        ]
    );
}

#[test]
fn a_mysql_table_set_needs_a_database_from_its_schema_sink_or_its_url() {
    let text = |schema: &str| {
        format!(
            r#"
            let src = mysql("mysql://root@127.0.0.1:3306/shop")
            let my = mysql("mysql://root@127.0.0.1:3306")
            pipeline p {{
              source tables = src.tables("*")
              sink tables -> my.schema({schema})
            }}"#
        )
    };
    let refused = problems_of(&text(""));
    assert!(
        refused.contains(&problem(
            codes::target::NO_DATABASE,
            "the table set is written into no database: `my.schema()` names none, and its URL names none either"
        )),
        "{refused:?}"
    );
    assert!(!problems_of(&text("\"copy\"")).iter().any(|(code, _)| *code == codes::target::NO_DATABASE));
}

#[test]
fn an_incremental_source_cannot_feed_a_replacing_sink() {
    assert_eq!(
        problems_of(
            r#"
            let pg = postgres("postgres://postgres@127.0.0.1:5432/test")
            let db = sqlite("out/x.db")
            pipeline p {
              source s = pg.table("orders") { incremental on updated_at }
              sink s -> db.table("orders") { mode replace }
            }"#
        ),
        [problem(
            codes::sink::INCREMENTAL_MODE,
            "sink `s->orders` receives only the new rows of `s` (incremental on updated_at), so mode replace would \
             drop the rows copied by earlier runs"
        )]
    );
}

#[test]
fn a_file_needs_a_pipeline_with_a_unique_name() {
    assert_eq!(
        problems_of(r#"let db = sqlite("out/x.db")"#),
        [problem(codes::pipeline::MISSING, "the file defines no pipeline")]
    );
    assert_eq!(
        problems_of(
            r#"
            let db = sqlite("out/x.db")
            pipeline p { source s = db.table("t") sink s -> db.table("u") }
            pipeline p { source s = db.table("t") sink s -> db.table("v") }"#
        ),
        [problem(codes::name::DUPLICATE, "pipeline `p` is defined twice")]
    );
}

// ------------------------------------------------------------------ table sets

#[test]
fn a_table_set_reads_a_database_and_a_schema_sink_writes_one() {
    assert_eq!(
        problems_of(
            r#"
            let files = csv("data")
            let db = sqlite("out/x.db")
            pipeline p {
              source app = files.tables("*")
              source s = db.table("t")
              sink app.orders -> db.table("orders")
              sink s -> db.schema("main")
            }"#
        ),
        [
            problem(codes::table_set::TABLES_UNSUPPORTED, "a csv connection has no tables to list"),
            problem(
                codes::table_set::SCHEMA_SINK_INPUT,
                "a schema sink writes a table set: `s` is a source, not a table set"
            ),
        ]
    );
}

#[test]
fn a_sqlite_target_may_not_take_a_name_sqlite_reserves() {
    let file = |table: &str| {
        format!(
            r#"
            let db = sqlite("out/x.db")
            pipeline p {{
              source s = db.table("sqlite_sequence")
              sink s -> db.table("{table}")
            }}"#
        )
    };
    // Reading SQLite's own tables is fine; writing one is refused before anything runs.
    assert_eq!(
        problems_of(&file("SQLite_orders")),
        [problem(codes::target::BAD_TABLE, "SQLite reserves table names beginning with `sqlite_`: `SQLite_orders`")]
    );
    assert_eq!(problems_of(&file("orders_sqlite_")), []);
}
