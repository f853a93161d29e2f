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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profiles {
    #[serde(default)]
    pub connections: BTreeMap<String, Profile>,
    /// Where the profiles were read from, for messages.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// A database URL or a file path; `${VAR}` is expanded (environment, `--var`).
    pub url: String,
    /// Backend, when the URL does not say it (e.g. a file path without an extension).
    pub kind: Option<String>,
    pub batch: Option<u64>,
    pub timeout: Option<String>,
    /// Backend options such as `header` or `delimiter` for CSV.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
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

    #[test]
    fn rejects_unknown_keys() {
        let err = Profiles::parse("connections:\n  wh:\n    uri: x\n", Path::new("flow.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("profiles file flow.yaml is not valid:"), "{err}");
    }
}
