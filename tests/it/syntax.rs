//! Parsing: every example pipeline parses to the AST in its snapshot, and no mutation of an
//! example makes the parser or checker panic.

use std::path::Path;

use flow::analyze::{Discover, analyze};
use flow::semantic::{CheckContext, Variables};
use proptest::prelude::*;

fn examples() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir("pipelines")
        .expect("pipelines/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flow"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).expect("example readable"))
        })
        .collect()
}

#[test]
fn examples_parse_to_their_snapshot_ast() {
    let all = examples();
    assert!(all.len() >= 3, "expected the example pipelines");
    for (name, text) in all {
        let ast = flow::syntax::parse(&text).unwrap_or_else(|p| panic!("{name}: {p:?}"));
        insta::assert_json_snapshot!(format!("ast_{name}"), ast);
    }
}

#[test]
fn examples_pass_check_offline() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let ctx = CheckContext { vars: Variables::default(), default_parallelism: 2, ..Default::default() };
    for (name, text) in examples() {
        let analysis = rt.block_on(analyze(&name, &text, &ctx, Discover::Offline));
        assert!(analysis.ok(), "{name}:\n{}", analysis.problems.render_plain());
    }
}

#[test]
fn expression_precedence_follows_sql() {
    let text = "let d = sqlite(\"x.db\")\npipeline p { source s = d.table(\"t\") transform t = s | filter a = 1 or b = 2 and not c is null | derive x = -a * 2 + 3 sink t -> d.table(\"u\") }";
    let ctx = CheckContext { vars: Variables::default(), default_parallelism: 2, ..Default::default() };
    let ast = flow::syntax::parse(text).expect("parses");
    let (plans, problems) = flow::semantic::lower(&ast, &ctx);
    assert!(problems.is_empty(), "{problems:?}");
    let steps = serde_json::to_value(&plans[0].transforms[0].steps).expect("json");
    assert_eq!(steps[0]["predicate"], "((\"a\" = 1) OR ((\"b\" = 2) AND (NOT (\"c\" IS NULL))))");
    assert_eq!(steps[1]["columns"][0]["expr"], "(((- \"a\") * 2) + 3)");
}

/// Mutations of the examples: deleting, duplicating or replacing a slice of the text with
/// tokens the grammar knows. Nothing may panic; every result is Ok or a problem with a span
/// inside the text.
fn mutated() -> impl Strategy<Value = String> {
    let texts: Vec<String> = examples().into_iter().map(|(_, t)| t).collect();
    let tokens = prop::sample::select(vec![
        "",
        "{",
        "}",
        "(",
        ")",
        "|",
        "->",
        "=",
        ",",
        ";",
        "\"",
        "'",
        "${",
        "${X:-",
        "}",
        "#",
        "\n",
        "filter",
        "derive",
        "partition by",
        "into",
        "mode",
        "upsert on (",
        "case when",
        "then",
        "end",
        "cast(",
        "as",
        "and",
        "or",
        "not",
        "is null",
        "between",
        "in (",
        "10x",
        "0",
        "99999999999999999999",
        "\u{1F600}",
        "\\",
        "`",
        "pipeline",
        "let",
        "source",
        "sink",
        "transform",
        "sqlite(",
        "generate(",
        "((((((((((",
    ]);
    (prop::sample::select(texts), any::<prop::sample::Index>(), 0usize..40, tokens).prop_map(
        |(text, at, len, token)| {
            let mut start = at.index(text.len() + 1);
            while !text.is_char_boundary(start) {
                start -= 1;
            }
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}{}{}", &text[..start], token, &text[end..])
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, .. ProptestConfig::default() })]

    #[test]
    fn no_input_makes_the_checker_panic(text in mutated()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let ctx = CheckContext { vars: Variables::default(), default_parallelism: 2, ..Default::default() };
        let analysis = rt.block_on(analyze("fuzz.flow", &text, &ctx, Discover::Offline));
        for p in &analysis.problems.problems {
            if let Some(span) = p.span {
                prop_assert!(span.start <= span.end && span.end <= text.len(), "span {:?} outside text", span);
            }
        }
        let _ = analysis.problems.render_graphical();
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "let d = sqlite(\"x.db\")\npipeline p {{ source s = d.table(\"t\") transform t = s | filter {}1{} sink t -> d.table(\"u\") }}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    let result = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || flow::syntax::parse(&deep).map(|_| ()))
        .expect("thread")
        .join();
    assert!(result.is_ok(), "parser panicked");
    let _ = Path::new("pipelines");
}

#[test]
fn profiles_supply_urls_and_defaults_with_variables() {
    let profiles = flow::profiles::Profiles::parse(
        "connections:\n  wh:\n    url: postgres://loader:${PW}@db.internal/warehouse\n    batch: 50000\n    timeout: 10m\n",
        Path::new("flow.yaml"),
    )
    .expect("profiles parse");
    let ctx = CheckContext {
        vars: Variables { cli: [("PW".to_string(), "s3cret".to_string())].into(), environment: None },
        profiles,
        default_parallelism: 2,
        cluster: false,
    };
    let text = "let wh = profile(\"wh\")\nlet pg = postgres(profile: \"wh\")\nlet db = sqlite(\"x.db\")\npipeline p {\n  source a = wh.table(\"t\")\n  source b = pg.table(\"u\") { batch 10 }\n  sink a -> db.table(\"t\")\n  sink b -> db.table(\"u\")\n}\n";
    let ast = flow::syntax::parse(text).expect("parses");
    let (plans, problems) = flow::semantic::lower(&ast, &ctx);
    assert!(problems.is_empty(), "{problems:?}");
    let a = &plans[0].sources[0];
    assert_eq!(a.endpoint.backend, flow::plan::Backend::Postgres);
    assert_eq!(a.endpoint.url, "postgres://loader:s3cret@db.internal/warehouse");
    assert_eq!(a.endpoint.redacted(), "postgres://loader:***@db.internal/warehouse");
    assert_eq!((a.batch_size, a.timeout), (50000, Some(std::time::Duration::from_secs(600))));
    assert_eq!(plans[0].sources[1].batch_size, 10, "a stage option wins over the profile default");
}

/// Issue 18 review: 800 chained `or`s overflowed the stack (exit 134, no message).
#[test]
fn expressions_too_long_or_too_deep_are_refused_with_a_diagnostic() {
    let chain: Vec<String> = (0..800).map(|i| format!("status = 's{i}'")).collect();
    let text = format!(
        "let g = generate(rows: 1)\npipeline p {{\n  source s = g.table(\"orders\")\n  transform t = s\n    | filter {}\n  sink t -> g.table(\"x\")\n}}\n",
        chain.join(" or ")
    );
    let problem = flow::syntax::parse(&text).expect_err("refused");
    assert_eq!(
        (problem.code, problem.message.as_str()),
        ("flow::parse::too_deep", "an expression chains too many operators")
    );
    let mut expr = "1".to_string();
    for _ in 0..300 {
        expr = format!("case when a > 1 then {expr} else 0 end");
    }
    let text = format!(
        "let g = generate(rows: 1)\npipeline p {{\n  source s = g.table(\"orders\")\n  transform t = s\n    | derive x = {expr}\n  sink t -> g.table(\"x\")\n}}\n"
    );
    let problem = flow::syntax::parse(&text).expect_err("refused");
    assert_eq!(problem.message, "expressions are nested too deeply");
    // At the limit (128 comparisons and 127 `or`s: 255 operators) the checker walks it whole.
    let chain: Vec<String> = (0..128).map(|i| format!("status = 's{i}'")).collect();
    let dir = crate::common::temp_dir();
    let file = crate::common::write(
        dir.path(),
        "long.flow",
        &format!(
            "let g = generate(rows: 10)\nlet out = csv(\"{}\")\npipeline p {{\n  source s = g.table(\"orders\")\n  transform t = s\n    | filter {}\n  sink t -> out.table(\"x\")\n}}\n",
            dir.path().display(),
            chain.join(" or ")
        ),
    );
    let (code, _, stderr) = crate::common::flow_cli(&["check", "--offline", &file]);
    assert_eq!(code, 0, "{stderr}");
}

/// A table set's `table "..."` block names its table as any string does (`\"` is a quote, `''`
/// in single quotes one `'`), only without expanding variables.
#[test]
fn table_set_member_names_read_escapes_as_strings_do() {
    let text = "let src = sqlite(\"in.db\")\npipeline p {\n  source app = src.tables(\"*\") { \
                table \"we\\\"ird\" { batch 10 }; table 'it''s' { batch 20 }; table \"${X}\" { batch 30 }; \
                table plain { batch 40 } }\n  sink app -> src.schema()\n}\n";
    let ast = flow::syntax::parse(text).expect("parses");
    let (plans, problems) = flow::semantic::lower(&ast, &crate::common::context(&[("X", "expanded")]));
    assert!(problems.is_empty(), "{problems:?}");
    let tables: Vec<(&str, Option<usize>)> =
        plans[0].table_sets[0].tables.iter().map(|(name, member)| (name.as_str(), member.batch_size)).collect();
    assert_eq!(tables, [("${X}", Some(30)), ("it's", Some(20)), ("plain", Some(40)), ("we\"ird", Some(10))]);
}
