//! The exact text of every diagnostic: each invalid input is checked offline (no source is
//! contacted) and its rendered report compared with a snapshot in `tests/snapshots/`.

use flow::analyze::{Discover, analyze};
use flow::semantic::{CheckContext, Variables};

const HEADER: &str = "let db = sqlite(\"out/t.db\")\nlet gen = generate(rows: 10)\n";

fn context() -> CheckContext {
    CheckContext {
        vars: Variables { cli: [("GIVEN".to_string(), "5".to_string())].into(), environment: None },
        profiles: flow::profiles::Profiles::parse(
            "connections:\n  wh:\n    url: postgres://u:secret@127.0.0.1:1/db\n",
            std::path::Path::new("flow.yaml"),
        )
        .expect("profiles parse"),
        default_parallelism: 2,
        cluster: false,
    }
}

fn render(source: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let analysis = rt.block_on(analyze("case.flow", source, &context(), Discover::Offline));
    assert!(analysis.problems.has_errors(), "expected an error for:\n{source}");
    analysis.problems.render_graphical()
}

/// A pipeline around one body line, so each case shows only what it is about.
fn pipeline(body: &str) -> String {
    format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n{body}\n  sink s -> db.table(\"t\")\n}}\n")
}

macro_rules! cases {
    ($($name:ident => $source:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let source: String = $source.into();
                insta::assert_snapshot!(stringify!($name), render(&source), &source);
            }
        )*
    };
}

cases! {
    syntax_missing_equals => format!("{HEADER}pipeline p {{ source s gen.table(\"orders\") }}");
    syntax_unclosed_pipeline => format!("{HEADER}pipeline p {{ source s = gen.table(\"orders\")");
    syntax_bad_expression => pipeline("  transform t = s | filter id > > 3");
    syntax_unterminated_string => "let db = sqlite(\"out/t.db)\n";
    syntax_bad_connection_kind => "let db = oracle(\"x\")\n";
    syntax_missing_arrow => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s db.table(\"t\")\n}}");
    unknown_step => pipeline("  transform t = s | frobnicate id");
    unknown_step_suggestion => pipeline("  transform t = s | filtr id > 3");
    unknown_option => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ bach 100 }}\n  sink s -> db.table(\"t\")\n}}");
    unknown_item => pipeline("  paralelism 4");
    unknown_mode => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\") {{ mode overwrite }}\n}}");
    undefined_connection => format!("{HEADER}pipeline p {{\n  source s = warehouse.table(\"orders\")\n  sink s -> db.table(\"t\")\n}}");
    undefined_input => pipeline("  transform t = raw | filter id > 3");
    undefined_sink_input => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink clean -> db.table(\"t\")\n}}");
    duplicate_stage => pipeline("  source s = gen.table(\"orders\")");
    duplicate_connection => format!("{HEADER}let db = sqlite(\"other.db\")\npipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\")\n}}");
    cycle => pipeline("  transform a = b | filter id > 1\n  transform b = a | filter id > 2\n  sink a -> db.table(\"u\")");
    no_sink => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n}}");
    sink_as_input => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink out = s -> db.table(\"t\")\n  sink out -> db.table(\"u\")\n}}");
    bad_duration_unit => format!("{HEADER}pipeline p {{\n  timeout 10x\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\")\n}}");
    bad_duration_missing_unit => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ timeout 30 }}\n  sink s -> db.table(\"t\")\n}}");
    unresolved_variable => format!("let db = sqlite(\"${{NOT_SET}}/t.db\")\nlet gen = generate(rows: 10)\npipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\")\n}}");
    zero_partitions => format!("let pg = postgres(\"postgres://u@127.0.0.1:1/db\")\n{HEADER}pipeline p {{\n  source s = pg.table(\"t\") {{ partition by id into 0 }}\n  sink s -> db.table(\"t\")\n}}");
    partition_on_file => format!("{HEADER}pipeline p {{\n  source s = csv(\"x.csv\") {{ partition by id into 4 }}\n  sink s -> db.table(\"t\")\n}}");
    mode_on_source => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ mode append }}\n  sink s -> db.table(\"t\")\n}}");
    append_to_parquet => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> parquet(\"out/x.parquet\") {{ mode append }}\n}}");
    bad_postgres_url => format!("let pg = postgres(\"mysql://root@h/db\")\n{HEADER}pipeline p {{\n  source s = pg.table(\"t\")\n  sink s -> db.table(\"t\")\n}}");
    unknown_profile => format!("let pg = profile(\"warehose\")\n{HEADER}pipeline p {{\n  source s = pg.table(\"t\")\n  sink s -> db.table(\"t\")\n}}");
    unknown_type => pipeline("  transform t = s | cast id as bigbigint\n  sink t -> db.table(\"u\")");
    query_on_file => format!("let f = csv(\"data\")\n{HEADER}pipeline p {{\n  source s = f.query(\"select 1\")\n  sink s -> db.table(\"t\")\n}}");
    sink_to_query => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.query(\"select 1\")\n}}");
    generate_unknown_table => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"customers\")\n  sink s -> db.table(\"t\")\n}}");
    duration_in_expression => pipeline("  transform t = s | filter id > 5m\n  sink t -> db.table(\"u\")");
    no_pipeline => HEADER;
    duplicate_option => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ batch 10; batch 20 }}\n  sink s -> db.table(\"t\")\n}}");
    bad_batch => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ batch many }}\n  sink s -> db.table(\"t\")\n}}");
    reject_to_another_connection => format!("{HEADER}let other = sqlite(\"out/other.db\")\npipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\") {{ on error reject to other.table(\"bad\") }}\n}}");
    on_error_for_a_file => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> parquet(\"out/x.parquet\") {{ on error skip }}\n}}");
    on_error_unknown_action => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\") {{ on error ignore }}\n}}");
    on_error_on_a_source => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ max rejects 5 }}\n  sink s -> db.table(\"t\")\n}}");
    incremental_generated_source => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\") {{ incremental on id }}\n  sink s -> db.table(\"t\")\n}}");
    incremental_on_a_sink => format!("{HEADER}pipeline p {{\n  source s = gen.table(\"orders\")\n  sink s -> db.table(\"t\") {{ incremental on id }}\n}}");
    incremental_into_replace => format!("{HEADER}pipeline p {{\n  source s = db.table(\"orders\") {{ incremental on id }}\n  sink s -> db.table(\"t\") {{ mode truncate }}\n}}");
}

#[test]
fn several_problems_are_reported_at_once() {
    let source = format!(
        "{HEADER}pipeline p {{\n  source s = nowhere.table(\"x\")\n  transform t = missing | frob\n  sink t -> db.table(\"t\") {{ mode sideways }}\n}}"
    );
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let analysis = rt.block_on(analyze("case.flow", &source, &context(), Discover::Offline));
    let codes: Vec<&str> = analysis.problems.errors().map(|p| p.code).collect();
    assert_eq!(
        codes,
        ["flow::name::undefined", "flow::name::undefined", "flow::transform::unknown_step", "flow::sink::unknown_mode"]
    );
}

#[test]
fn unused_stage_is_a_warning_not_an_error() {
    let source = pipeline("  source extra = gen.table(\"orders\")");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let analysis = rt.block_on(analyze("case.flow", &source, &context(), Discover::Offline));
    assert!(!analysis.problems.has_errors());
    let warnings: Vec<String> = analysis.problems.warnings().map(|p| p.message.clone()).collect();
    assert_eq!(warnings, ["source `extra` has no consumers"]);
}
