//! `explain` output for the embedded examples: text and JSON, compared with snapshots. These
//! sources need no server, so the schemas and partitions are the real ones.


use flow::analyze::{Discover, analyze};
use flow::explain::{Explained, text};

fn explain(file: &str) -> (String, String) {
    let source = std::fs::read_to_string(file).expect("example exists");
    let rt = crate::common::runtime();
    let analysis = rt.block_on(analyze(file, &source, &crate::common::context(&[("OUT", "out")]), Discover::Online));
    assert!(analysis.ok(), "{}", analysis.problems.render_plain());
    let text: Vec<String> = analysis.explained.iter().map(text::render).collect();
    let json = serde_json::to_string_pretty(&Explained { pipelines: analysis.explained.clone() }).expect("json");
    (text.join("\n"), json)
}

#[test]
fn demo_explain_text_and_json() {
    let (text, json) = explain("pipelines/demo.flow");
    insta::assert_snapshot!("explain_demo_text", text);
    insta::assert_snapshot!("explain_demo_json", json);
}

#[test]
fn csv_explain_text_and_json() {
    let (text, json) = explain("pipelines/csv_to_sqlite.flow");
    insta::assert_snapshot!("explain_csv_text", text);
    insta::assert_snapshot!("explain_csv_json", json);
}

#[test]
fn explain_writes_nothing() {
    let dir = crate::common::temp_dir();
    let out = dir.path().join("out");
    let source = std::fs::read_to_string("pipelines/demo.flow").unwrap();
    let rt = crate::common::runtime();
    let ctx = crate::common::context(&[("OUT", out.to_str().unwrap())]);
    let analysis = rt.block_on(analyze("demo.flow", &source, &ctx, Discover::Online));
    assert!(analysis.ok());
    assert_eq!(analysis.explained.len(), 1);
    assert!(!out.exists(), "explain must not create the output directory");
}

#[test]
fn unknown_columns_are_found_with_the_real_schema() {
    let text = r#"let g = generate(rows: 10)
        let db = sqlite("out/x.db")
        pipeline p {
          source o = g.table("orders")
          transform t = o | filter statuss = 'paid' | derive x = totl * 2 | rename id as order_id | select order_id, id
          sink t -> db.table("t")
        }"#;
    let rt = crate::common::runtime();
    let analysis = rt.block_on(analyze("cols.flow", text, &crate::common::context(&[]), Discover::Online));
    let messages: Vec<String> =
        analysis.problems.errors().map(|p| format!("{}: {}", p.message, p.help.clone().unwrap_or_default())).collect();
    assert_eq!(
        messages,
        [
            "no column `statuss` in the input of this step in `t`: did you mean `status`?",
            "no column `totl` in the input of this step in `t`: did you mean `total`?",
            "no column `id` in the input of this step in `t`: did you mean `paid`?",
        ]
    );
}
