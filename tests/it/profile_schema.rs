//! `schemas/flow.schema.json`, the JSON Schema of connection profiles: `flow schema` prints the
//! committed file, and an independent validator (python3's `jsonschema`) accepts every example
//! under `schemas/examples/valid/`, refuses every one under `invalid/`, and agrees with the
//! loader on the values the loader checks beyond their types. Without python3 and `jsonschema`
//! the validation tests skip with a printed reason, unless `FLOW_REQUIRE_TOOLS=1` (as in
//! `.ci/run`), where their absence is a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flow::profiles::Profiles;
use serde_json::{Value, json};

use crate::common::flow_cli;

const SCHEMA: &str = "schemas/flow.schema.json";

/// Validates each instance against the schema with python3's `jsonschema`, with the validator
/// its `$schema` names (the schema itself checked first): each instance's error messages, in
/// order, `None` when the validator cannot run here.
const VALIDATE: &str = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit(3)
data = json.load(sys.stdin)
cls = jsonschema.validators.validator_for(data["schema"])
cls.check_schema(data["schema"])
validator = cls(data["schema"])
print(json.dumps([[e.message for e in validator.iter_errors(i)] for i in data["instances"]]))
"#;

fn validate(instances: &[Value]) -> Option<Vec<Vec<String>>> {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(SCHEMA).expect("schema")).expect("JSON");
    let missing = |why: &str| {
        assert!(std::env::var("FLOW_REQUIRE_TOOLS").as_deref() != Ok("1"), "{why} (FLOW_REQUIRE_TOOLS=1)");
        println!("skipped: {why}");
        None
    };
    let Ok(mut child) = Command::new("python3")
        .args(["-c", VALIDATE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return missing("python3 is not installed");
    };
    let input = json!({ "schema": schema, "instances": instances });
    child.stdin.take().expect("stdin").write_all(input.to_string().as_bytes()).expect("python reads");
    let out = child.wait_with_output().expect("python ends");
    if out.status.code() == Some(3) {
        return missing("python3's jsonschema is not installed (python3 -m pip install jsonschema)");
    }
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("JSON verdicts"))
}

/// The examples of `schemas/examples/KIND/`, sorted, as JSON (read by the same YAML parser as
/// the loader's).
fn examples(kind: &str) -> Vec<(PathBuf, String, Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new("schemas/examples").join(kind))
        .expect("examples")
        .map(|entry| entry.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("example");
            let value: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, text, value)
        })
        .collect()
}

#[test]
fn flow_schema_prints_the_committed_schema() {
    let committed = std::fs::read_to_string(SCHEMA).expect("schema");
    for args in [&["schema"][..], &["schema", "profiles"]] {
        let (code, out, stderr) = flow_cli(args);
        assert_eq!(code, 0, "{stderr}");
        assert!(out == committed, "`flow {}` differs from {SCHEMA}", args.join(" "));
    }
    let (code, _, stderr) = flow_cli(&["schema", "pipelines"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'pipelines'"), "{stderr}");
}

#[test]
fn the_schema_accepts_the_valid_examples_and_refuses_the_invalid_ones() {
    let valid = examples("valid");
    let invalid = examples("invalid");
    assert!(valid.len() >= 2 && invalid.len() >= 4, "the examples are there");
    let instances: Vec<Value> = valid.iter().chain(&invalid).map(|(_, _, value)| value.clone()).collect();
    let Some(verdicts) = validate(&instances) else { return };
    let (valid_verdicts, invalid_verdicts) = verdicts.split_at(valid.len());
    for ((path, text, _), errors) in valid.iter().zip(valid_verdicts) {
        assert!(errors.is_empty(), "{} is refused: {errors:?}", path.display());
        assert!(Profiles::parse(text, path).is_ok(), "{}: the loader refuses it", path.display());
    }
    for ((path, text, _), errors) in invalid.iter().zip(invalid_verdicts) {
        assert!(!errors.is_empty(), "{} is accepted", path.display());
        assert!(Profiles::parse(text, path).is_err(), "{}: the loader accepts it", path.display());
    }
    // Each refused for its own reason.
    let reasons: Vec<(String, String)> = invalid
        .iter()
        .zip(invalid_verdicts)
        .map(|((path, _, _), errors)| (path.file_name().unwrap().to_string_lossy().into_owned(), errors.join("; ")))
        .collect();
    let reason = |file: &str| &reasons.iter().find(|(f, _)| f == file).unwrap_or_else(|| panic!("no {file}")).1;
    assert!(reason("misspelled-field.yaml").contains("'uri' was unexpected"), "{reasons:?}");
    assert!(reason("misspelled-field.yaml").contains("'url' is a required property"), "{reasons:?}");
    assert!(
        reason("unknown-kind.yaml").contains("'oracle' is not valid under any of the given schemas"),
        "{reasons:?}"
    );
    assert!(reason("bad-timeout.yaml").contains("'10 minutes' does not match"), "{reasons:?}");
    assert!(reason("zero-batch.yaml").contains("0 is less than the minimum of 1"), "{reasons:?}");
}

/// What the loader checks beyond the types (`kind` names in any case, `batch` a whole number
/// at least 1, `timeout` a duration) and what its YAML reader takes as text (`url`, `options`
/// values), the schema checks alike: for each value, both accept or both refuse. A `batch` may
/// be quoted digits, or a number without a fraction (JSON Schema's `integer` is that), and has
/// no upper limit (a larger one is the largest batch).
#[test]
fn the_schema_and_the_loader_agree_on_kinds_batches_timeouts_and_options() {
    let mut cases: Vec<(&str, String)> = Vec::new();
    for kind in ["postgres", "PostgreSQL", "MARIADB", "Parquet", "generate", "oracle", "", "csv ", "sqlite3"] {
        cases.push(("kind", json!(kind).to_string()));
    }
    cases.push(("kind", "null".into()));
    for batch in [
        "1",
        "50000",
        "0",
        "-1",
        "1.5",
        "null",
        "\"x\"",
        "\"100\"",
        "\"007\"",
        "\"0\"",
        "\"00\"",
        "\"\"",
        "\" 100\"",
        "\"+100\"",
        "\"-1\"",
        "\"0x10\"",
        "\"1_000\"",
        "\"1e3\"",
        "\"1.0\"",
        "1.0",
        "1e3",
        "-1.0",
        "0.0",
        "1e-3",
        "16777217",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "\"99999999999999999999999\"",
        "1e30",
        "true",
        "[1]",
        "{}",
    ] {
        cases.push(("batch", batch.to_string()));
    }
    for timeout in
        ["30s", "10m", "1h30m", "500ms", "2d", " 5m ", "0s", "00m0s", "10", "10 minutes", "m", "1h 30m", "1x", "01s"]
    {
        cases.push(("timeout", json!(timeout).to_string()));
    }
    cases.push(("timeout", "30".into()));
    for options in
        [r#"{"header": "true"}"#, r#"{"header": true}"#, r#"{"n": 1.5}"#, r#"{"n": null}"#, r#"{"n": [1]}"#, "null"]
    {
        cases.push(("options", options.to_string()));
    }
    for url in ["\"x.db\"", "\"\"", "123", "1.5", "true", "null", "[\"x\"]", "{}"] {
        cases.push(("url", url.to_string()));
    }
    // YAML flow style is JSON: the loader and the validator read the same document.
    let document = |key: &str, value: &str| {
        let url = if key == "url" { String::new() } else { "\"url\": \"x\", ".to_string() };
        format!("{{\"connections\": {{\"c\": {{{url}\"{key}\": {value}}}}}}}")
    };
    let documents: Vec<String> = cases.iter().map(|(key, value)| document(key, value)).collect();
    let instances: Vec<Value> = documents.iter().map(|d| serde_json::from_str(d).expect("JSON")).collect();
    let Some(verdicts) = validate(&instances) else { return };
    for ((document, errors), (key, value)) in documents.iter().zip(&verdicts).zip(&cases) {
        let loader = Profiles::parse(document, Path::new("flow.yaml"));
        assert_eq!(
            errors.is_empty(),
            loader.is_ok(),
            "{key}: {value}: schema {errors:?}, loader {:?}",
            loader.err().map(|e| e.to_string())
        );
    }
    let unquoted = Profiles::parse(&document("options", r#"{"header": true}"#), Path::new("flow.yaml")).expect("loads");
    assert_eq!(unquoted.connections["c"].options["header"], "true");
    // The batch sizes the loader reads.
    let batch = |value: &str| {
        Profiles::parse(&document("batch", value), Path::new("flow.yaml")).unwrap().connections["c"].batch
    };
    let read: Vec<Option<u64>> = ["\"100\"", "\"007\"", "1.0", "1e3", "16777217", "1e30", "null"].map(batch).to_vec();
    assert_eq!(read, [Some(100), Some(7), Some(1), Some(1000), Some(16_777_216), Some(16_777_216), None]);
}
