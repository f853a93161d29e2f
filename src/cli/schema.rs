//! `flow schema [profiles]`: the JSON Schema of connection profiles (`flow.yaml`), generated
//! from the types the loader reads them into (`profiles::json_schema`), so editors can check a
//! profiles file as `flow` will. `schemas/flow.schema.json` is this output, committed.

use super::Exit;
use super::docs::write_stdout;

/// Which schema `flow schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// Connection profiles: flow.yaml.
    Profiles,
}

pub fn run(kind: SchemaKind) -> Exit {
    match kind {
        SchemaKind::Profiles => write_stdout(crate::profiles::json_schema().as_bytes()),
    }
}
