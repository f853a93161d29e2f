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

/// Every documented key of `explain --format json` is present on every stage of every example
/// (null, false or [] where it does not apply), and no other key: the README's promise of one
/// stable object.
#[test]
fn explain_json_has_every_documented_key_on_every_stage() {
    use std::collections::BTreeSet;
    let expected: BTreeSet<&str> = flow::explain::STAGE_KEYS.into_iter().collect();
    for file in ["pipelines/demo.flow", "pipelines/csv_to_sqlite.flow"] {
        let (_, json) = explain(file);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let pipelines = value["pipelines"].as_array().unwrap();
        assert!(!pipelines.is_empty());
        for pipeline in pipelines {
            let keys: BTreeSet<&str> = pipeline.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                BTreeSet::from(["pipeline", "parallelism", "timeout", "stages", "edges", "foreign_keys"]),
                "{file}"
            );
            for stage in pipeline["stages"].as_array().unwrap() {
                let keys: BTreeSet<&str> = stage.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(keys, expected, "{file}: stage {}", stage["name"]);
                if let Some(p) = stage["partition_by"].as_object() {
                    let keys: BTreeSet<&str> = p.keys().map(String::as_str).collect();
                    assert_eq!(keys, BTreeSet::from(["column", "requested", "automatic"]));
                }
            }
        }
    }
    // The README documents the same keys.
    let readme = std::fs::read_to_string("README.md").unwrap();
    for key in flow::explain::STAGE_KEYS {
        assert!(readme.contains(&format!("`{key}`")), "README does not document the explain key `{key}`");
    }
}
