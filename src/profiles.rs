//! Connection profiles: named connections in a YAML file, so URLs and secrets stay out of
//! `.flow` files. Looked up as `--profiles FILE`, else `flow.yaml` next to the pipeline file.
//!
//! ```yaml
//! connections:
//!   warehouse:
//!     url: postgres://loader:${WAREHOUSE_PASSWORD}@db.internal/warehouse
//!     batch: 50000        # default batch size for stages on this connection
//!     timeout: 10m        # default stage timeout
//!   exports:
//!     url: out/exports.parquet
//!     kind: parquet
//! ```
//!
//! The file's JSON Schema ([`json_schema`], `flow schema`, committed as
//! `schemas/flow.schema.json`) is derived from these types: their doc comments are its
//! descriptions, and what the loader checks beyond the types (the `kind` names, `batch` a whole
//! number at least 1, `timeout` as a duration) and what its YAML reader takes as text (any
//! scalar for `url` and `options` values) is written into it, so editors accept what `flow`
//! accepts and refuse what it refuses (`tests/it/profile_schema.rs` holds the two together).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

/// A profiles file (`flow.yaml`): named connections a `.flow` file uses as
/// `profile("NAME")` or `KIND(profile: "NAME")`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Flow connection profiles (flow.yaml)")]
pub struct Profiles {
    /// The connections, by name.
    #[serde(default)]
    pub connections: BTreeMap<String, Profile>,
    /// Where the profiles were read from, for messages.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// One named connection.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A database URL or a file path; `${VAR}` is expanded (environment, `--var`). Any
    /// scalar is read as text.
    #[schemars(schema_with = "scalar_text_schema")]
    pub url: String,
    /// Backend, when the URL does not say it (e.g. a file path without an extension); any case.
    #[serde(default)]
    #[schemars(schema_with = "kind_schema")]
    pub kind: Option<String>,
    /// Default batch size (rows) for stages on this connection: a whole number, at least 1,
    /// written as a number or as decimal digits in quotes; above 16777216 it is 16777216, as in
    /// a `.flow` file.
    #[serde(default, deserialize_with = "batch_rows")]
    #[schemars(schema_with = "batch_schema")]
    pub batch: Option<u64>,
    /// Default stage timeout: a duration such as `30s`, `10m`, `1h30m` (units ms, s, m, h, d).
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Backend options such as `header` or `delimiter` for CSV; values are read as text
    /// (`header: true` and `header: "true"` are the same).
    #[serde(default)]
    #[schemars(schema_with = "options_schema")]
    pub options: BTreeMap<String, String>,
}

/// The values `kind:` takes: every backend's names and aliases (`plan::BackendInfo::aliases`),
/// in the order Flow lists backends.
pub fn kinds() -> Vec<&'static str> {
    crate::plan::Backend::ALL.iter().flat_map(|b| b.info().aliases.iter().copied()).collect()
}

/// A duration as `plan::duration::parse_duration` reads it: numbers with units, surrounding
/// spaces allowed, and a non-zero digit somewhere (units hold no digits, so it is not zero).
const DURATION_PATTERN: &str = r"^(?=.*[1-9])\s*(?:[0-9]+(?:ms|s|m|h|d))+\s*$";

/// `kind`: one of [`kinds`] in any case. The `enum` is what editors offer; the pattern accepts
/// the other cases, as the loader does.
fn kind_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let kinds = kinds();
    let any_case: Vec<String> = kinds
        .iter()
        .map(|kind| kind.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect())
        .collect();
    schemars::json_schema!({
        "anyOf": [
            { "enum": kinds },
            { "type": "string", "pattern": format!("^(?:{})$", any_case.join("|")) },
            { "type": "null" },
        ]
    })
}

/// A text field: the YAML reader takes any scalar as text, so numbers and booleans are values too.
fn scalar_text_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": ["string", "number", "boolean"] })
}

/// `options`: names to text values, each any scalar (see [`scalar_text_schema`]).
fn options_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "additionalProperties": scalar_text_schema(generator),
    })
}

/// `batch` as [`batch_rows`] reads it. JSON Schema's `integer` is any number without a
/// fraction (`1.0` too), which the loader therefore takes as well; the loader's check that it is
/// not 0 is `minimum` for numbers and the pattern for quoted digits (each keyword applies to
/// its own type only).
fn batch_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["integer", "string", "null"],
        "minimum": 1,
        "pattern": BATCH_DIGITS,
    })
}

/// A batch size in quotes: decimal digits, not all zeros.
const BATCH_DIGITS: &str = "^[0-9]*[1-9][0-9]*$";

/// `batch`: a whole number (an integer, a number without a fraction, or decimal digits in
/// quotes), at most [`MAX_BATCH_SIZE`](crate::plan::MAX_BATCH_SIZE) (larger ones are that);
/// `None` for null. Zero passes here and is refused by [`Profiles::parse`] with its own message.
fn batch_rows<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    use serde::de::{Error, Unexpected, Visitor};
    struct Rows;
    const EXPECTED: &str = "a whole number of rows (e.g. 50000)";
    impl<'de> Visitor<'de> for Rows {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_u64<E: Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(Some(n.min(crate::plan::MAX_BATCH_SIZE as u64)))
        }
        fn visit_i64<E: Error>(self, n: i64) -> Result<Self::Value, E> {
            let n = u64::try_from(n).map_err(|_| E::invalid_value(Unexpected::Signed(n), &EXPECTED))?;
            self.visit_u64(n)
        }
        fn visit_f64<E: Error>(self, n: f64) -> Result<Self::Value, E> {
            if !n.is_finite() || n.fract() != 0.0 || n < 0.0 {
                return Err(E::invalid_value(Unexpected::Float(n), &EXPECTED));
            }
            // In range: the cap is far below 2^53, where every whole f64 is exact.
            self.visit_u64(if n >= crate::plan::MAX_BATCH_SIZE as f64 { u64::MAX } else { n as u64 })
        }
        fn visit_str<E: Error>(self, text: &str) -> Result<Self::Value, E> {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::invalid_value(Unexpected::Str(text), &EXPECTED));
            }
            // Digits only: a parse fails only by overflow.
            self.visit_u64(text.parse::<u64>().unwrap_or(u64::MAX))
        }
    }
    deserializer.deserialize_any(Rows)
}

/// The JSON Schema (draft 7, which editors' YAML support reads) of a profiles file, as pretty
/// JSON ending in a newline: what `flow schema` prints and `schemas/flow.schema.json` holds.
pub fn json_schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<Profiles>();
    // Serialising a `serde_json::Value` cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profiles file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("profiles file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Profiles {
    /// Reads `explicit` if given (it must exist), else `flow.yaml` beside `pipeline_file` if present.
    pub fn discover(explicit: Option<&Path>, pipeline_file: Option<&Path>) -> Result<Self, ProfileError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let beside = pipeline_file
                    .and_then(Path::parent)
                    .map(|dir| dir.join("flow.yaml"))
                    .unwrap_or_else(|| PathBuf::from("flow.yaml"));
                if !beside.exists() {
                    return Ok(Self::default());
                }
                beside
            }
        };
        let text =
            std::fs::read_to_string(&path).map_err(|source| ProfileError::Read { path: path.clone(), source })?;
        Self::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ProfileError> {
        let mut profiles: Profiles = serde_saphyr::from_str(text)
            .map_err(|e| ProfileError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
        profiles.path = Some(path.to_path_buf());
        let invalid = |message: String| ProfileError::Invalid { path: path.to_path_buf(), message };
        for (name, profile) in &profiles.connections {
            if let Some(kind) = profile.kind.as_deref().filter(|k| !kinds().contains(&k.to_ascii_lowercase().as_str()))
            {
                return Err(invalid(format!("connection `{name}`: kind `{kind}` is none of {}", kinds().join(", "))));
            }
            if profile.batch == Some(0) {
                return Err(invalid(format!("connection `{name}`: batch must be at least 1 row")));
            }
            if let Some(Err(why)) = profile.timeout.as_deref().map(crate::plan::duration::parse_duration) {
                let timeout = profile.timeout.as_deref().unwrap_or_default();
                return Err(invalid(format!(
                    "connection `{name}`: timeout `{timeout}` is not a duration ({why}); write e.g. 30s, 10m, 1h30m"
                )));
            }
        }
        Ok(profiles)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.connections.keys().map(String::as_str)
    }

    pub fn source_name(&self) -> String {
        self.path.as_ref().map_or_else(|| "no profiles file".to_string(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connections_with_defaults() {
        let text = "connections:\n  wh:\n    url: postgres://u:p@h/db\n    batch: 500\n    timeout: 5m\n";
        let p = Profiles::parse(text, Path::new("flow.yaml")).unwrap();
        let wh = &p.connections["wh"];
        assert_eq!(wh.url, "postgres://u:p@h/db");
        assert_eq!(wh.batch, Some(500));
        assert_eq!(wh.timeout.as_deref(), Some("5m"));
    }

    /// The examples under `schemas/examples/`: each valid one parses, each invalid one is
    /// refused with a message naming what is wrong.
    #[test]
    fn the_schema_examples_parse_or_are_refused_as_the_schema_says() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/examples");
        for entry in std::fs::read_dir(dir.join("valid")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            Profiles::parse(&text, &path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        let refused = |file: &str| {
            let path = dir.join("invalid").join(file);
            let text = std::fs::read_to_string(&path).unwrap();
            let message = Profiles::parse(&text, Path::new(file)).unwrap_err().to_string();
            message.strip_prefix(&format!("profiles file {file} is not valid: ")).unwrap_or(&message).to_string()
        };
        assert!(
            refused("misspelled-field.yaml").contains("unknown field `uri`"),
            "{}",
            refused("misspelled-field.yaml")
        );
        assert_eq!(
            refused("unknown-kind.yaml"),
            "connection `warehouse`: kind `oracle` is none of postgres, postgresql, mysql, mariadb, sqlite, csv, \
             parquet, generate"
        );
        assert_eq!(
            refused("bad-timeout.yaml"),
            "connection `warehouse`: timeout `10 minutes` is not a duration (unknown unit ` minutes` (use ms, s, m, \
             h or d)); write e.g. 30s, 10m, 1h30m"
        );
        assert_eq!(refused("zero-batch.yaml"), "connection `warehouse`: batch must be at least 1 row");
        assert_eq!(std::fs::read_dir(dir.join("invalid")).unwrap().count(), 4, "each invalid example is asserted");
    }

    /// `schemas/flow.schema.json` is what the types generate; regenerate it after changing them.
    #[test]
    fn the_committed_schema_is_the_generated_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/flow.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == json_schema(),
            "schemas/flow.schema.json differs from the profile types: regenerate it with \
             `cargo run -- schema > schemas/flow.schema.json`"
        );
    }

    #[test]
    fn kinds_are_the_backend_names_and_aliases() {
        assert_eq!(kinds(), ["postgres", "postgresql", "mysql", "mariadb", "sqlite", "csv", "parquet", "generate"]);
    }

    /// `batch` as a number, quoted digits or a number without a fraction; capped as in a
    /// `.flow` file; anything else refused, naming what it is.
    #[test]
    fn batch_is_a_whole_number_of_rows() {
        let parse = |value: &str| {
            let text = format!("connections:\n  c:\n    url: x.db\n    batch: {value}\n");
            Profiles::parse(&text, Path::new("flow.yaml")).map(|p| p.connections["c"].batch).map_err(|e| e.to_string())
        };
        assert_eq!(parse("50000"), Ok(Some(50_000)));
        assert_eq!(parse("\"50000\""), Ok(Some(50_000)));
        assert_eq!(parse("'007'"), Ok(Some(7)));
        assert_eq!(parse("2.0"), Ok(Some(2)));
        assert_eq!(parse("99999999999999999999"), Ok(Some(1 << 24)));
        assert_eq!(parse("\"99999999999999999999\""), Ok(Some(1 << 24)));
        assert_eq!(parse("~"), Ok(None));
        let refused = "profiles file flow.yaml is not valid: ";
        assert_eq!(parse("\"0\""), Err(format!("{refused}connection `c`: batch must be at least 1 row")));
        for (value, what) in [
            ("\"0x10\"", "string \"0x10\""),
            ("\" 100\"", "string \" 100\""),
            ("-1", "integer `-1`"),
            ("1.5", "floating point `1.5`"),
        ] {
            let message = parse(value).unwrap_err();
            assert!(
                message.starts_with(refused)
                    && message
                        .ends_with(&format!("invalid value: {what}, expected a whole number of rows (e.g. 50000)")),
                "{value}: {message}"
            );
        }
        let message = parse("true").unwrap_err();
        assert!(
            message.ends_with("invalid type: boolean `true`, expected a whole number of rows (e.g. 50000)"),
            "{message}"
        );
    }

    #[test]
    fn rejects_unknown_keys() {
        let err = Profiles::parse("connections:\n  wh:\n    uri: x\n", Path::new("flow.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("profiles file flow.yaml is not valid:"), "{err}");
    }
}
