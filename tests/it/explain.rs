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

/// Offline no catalog is read, so a table set is not expanded: `explain` lists the set, the
/// table of it a transform reads, and its schema sink, each marked as not expanded, in text and
/// JSON, with the edges the graph formats draw.
#[test]
fn table_sets_are_listed_offline_as_not_expanded() {
    let dir = crate::common::temp_dir();
    let text = "let src = sqlite(\"in.db\")\nlet dst = sqlite(\"out.db\")\npipeline m {\n  \
                source app = src.tables(\"shop.*\", \"*_log\", exclude: [\"tmp_*\"]) { batch 500; table orders { partition by id into 4 } }\n  \
                transform paid = app.orders | filter status = 'paid'\n  \
                sink paid -> dst.table(\"paid\")\n  \
                sink copy = app -> dst.schema() { mode replace; timeout 5m }\n}\n";
    let file = crate::common::write(dir.path(), "set.flow", text);
    let out = crate::common::run_ok(&["explain", "--offline", &file]);
    let block = |name: &str| -> String {
        let start = out.find(&format!("\n{name}\n")).or_else(|| out.find(&format!("\n{name}  <-")));
        let block = &out[start.unwrap_or_else(|| panic!("no {name} in\n{out}")) + 1..];
        block[..block.find("\n\n").unwrap_or(block.len())].to_string()
    };
    assert_eq!(
        block("source app"),
        "source app\n  connection  src (sqlite) in.db\n  reads       tables shop.*, *_log, exclude tmp_*\n  \
         batch       500 rows\n  timeout     none\n  note        table set not expanded: its catalog is not read \
         offline, so its tables are not listed"
    );
    assert_eq!(
        block("source app.orders"),
        "source app.orders\n  connection  src (sqlite) in.db\n  reads       table orders of table set app\n  \
         batch       500 rows\n  timeout     none\n  partition   by id into 4 (bounds unknown)\n  \
         note        table set `app` not expanded: its catalog is not read offline, so this table's schema is unknown"
    );
    assert_eq!(
        block("sink copy"),
        "sink copy  <- app\n  connection  dst (sqlite) out.db\n  writes      the connection's schema, a table per \
         table of the set\n  mode        replace, create if missing\n  on error    fail\n  timeout     5m\n  \
         note        table set not expanded: its catalog is not read offline, so its tables are not listed"
    );
    assert!(out.ends_with("edges\n  app.orders -> paid\n  paid -> paid->paid\n  app -> copy\n"), "{out}");

    let json: serde_json::Value =
        serde_json::from_str(&crate::common::run_ok(&["explain", "--offline", "--format", "json", &file])).unwrap();
    let stages = json["pipelines"][0]["stages"].as_array().unwrap();
    let names: Vec<(&str, &str)> =
        stages.iter().map(|s| (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap())).collect();
    assert_eq!(
        names,
        [("app", "source"), ("app.orders", "source"), ("paid", "transform"), ("paid->paid", "sink"), ("copy", "sink")]
    );
    let expected: std::collections::BTreeSet<&str> = flow::explain::STAGE_KEYS.into_iter().collect();
    for stage in stages {
        assert_eq!(
            stage.as_object().unwrap().keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(),
            expected
        );
    }
    assert_eq!(stages[0]["batch_size"], 500);
    assert_eq!(stages[1]["partition_by"], serde_json::json!({"column": "id", "requested": 4, "automatic": false}));
    assert_eq!(stages[4]["input"], "app");
    assert_eq!(stages[4]["mode"], "replace");
    let edges: Vec<(&str, &str)> = json["pipelines"][0]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(edges, [("app.orders", "paid"), ("paid", "paid->paid"), ("app", "copy")]);
}

/// `mode replace` into PostgreSQL or MySQL makes the table again from the pipeline's columns:
/// `explain` says what an existing table loses, and says nothing of it for `truncate` or for
/// SQLite (which keeps a table defined otherwise). No connection is made.
#[test]
fn replace_says_what_an_existing_table_loses() {
    let dir = crate::common::temp_dir();
    crate::common::write(dir.path(), "in.csv", "id,name\n1,a\n");
    let file = crate::common::write(
        dir.path(),
        "replace.flow",
        &r#"let src = csv("DIR")
let pg = postgres("postgres://u@127.0.0.1:1/db")
let my = mysql("mysql://u@127.0.0.1:1/db")
let lite = sqlite("out.db")
pipeline p {
  source s = src.table("in")
  sink a = s -> pg.table("t") { mode replace }
  sink b = s -> my.table("t") { mode replace }
  sink c = s -> pg.table("u") { mode truncate }
  sink d = s -> lite.table("t") { mode replace }
}
"#
        .replace("DIR", dir.path().to_str().unwrap()),
    );
    let (code, out, err) = crate::common::flow_cli(&["explain", &file]);
    assert_eq!(code, 0, "{err}");
    let mut sink = "";
    let warnings: Vec<(&str, &str)> = out
        .lines()
        .filter_map(|l| {
            if let Some(name) = l.strip_prefix("sink ") {
                sink = name.split_whitespace().next().unwrap_or("");
            }
            Some((sink, l.trim().strip_prefix("warning")?.trim()))
        })
        .filter(|(sink, _)| !sink.is_empty())
        .collect();
    assert_eq!(
        warnings,
        vec![
            (
                "a",
                "mode replace makes the table again from the pipeline's columns: an existing table's primary key, \
                 indexes, constraints, NOT NULL, defaults, triggers and grants are not kept, and a view or foreign \
                 key that depends on it makes the publish fail (`mode truncate` keeps the table's definition)"
            ),
            (
                "b",
                "mode replace makes the table again from the pipeline's columns: an existing table's primary key, \
                 indexes, constraints, NOT NULL, defaults, triggers and grants are not kept, and its column types \
                 are the mapping's above (`mode truncate` keeps the table's definition)"
            ),
        ],
        "{out}"
    );
}
