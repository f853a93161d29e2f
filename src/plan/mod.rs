//! The logical pipeline plan: what a pipeline does, as plain serialisable data with no I/O and no
//! opinion on how it runs. Built by `semantic::lower` from a checked AST; compiled by `exec` into
//! DataFusion execution plans; rendered by `explain`. Being plain data, a plan (and each source
//! and sink configuration in it) can be shipped to remote executors as is.
//!
//! ```text
//!   source ──▶ transform ──▶ transform ──▶ sink
//!      └──────────────────────────────────▶ sink
//! ```

pub mod backend;
pub mod duration;
pub mod endpoint;
pub mod partition;
pub mod sql;
pub mod table_set;
pub mod upsert;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use backend::{Backend, BackendKind};
pub use endpoint::Endpoint;
pub use partition::{PartitionBounds, PartitionRange, PartitionSpec};
pub use table_set::TableSetPlan;
pub use upsert::KeepLast;

/// One pipeline, ready to explain or run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelinePlan {
    pub name: String,
    /// How many partitions run at once (sources split into at most this many concurrent scans
    /// unless a source says otherwise; sinks write with this many writers).
    pub parallelism: usize,
    #[serde(with = "duration_text::option")]
    pub timeout: Option<Duration>,
    pub sources: Vec<SourcePlan>,
    pub transforms: Vec<TransformPlan>,
    pub sinks: Vec<SinkPlan>,
    /// Sets of tables as written in the file; `crate::expand` turns each into sources and
    /// sinks once the catalog is read, and leaves it here for `explain`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub table_sets: Vec<TableSetPlan>,
    /// Foreign keys between the tables of table sets, added after every sink published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<table_set::ForeignKeyStep>,
}

impl PipelinePlan {
    /// Every edge of the DAG, `(from, to)`, in declaration order.
    pub fn edges(&self) -> Vec<(String, String)> {
        let mut edges = Vec::new();
        for t in &self.transforms {
            edges.push((t.input.clone(), t.name.clone()));
        }
        for s in &self.sinks {
            edges.push((s.input.clone(), s.name.clone()));
        }
        edges
    }

    pub fn source(&self, name: &str) -> Option<&SourcePlan> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn transform(&self, name: &str) -> Option<&TransformPlan> {
        self.transforms.iter().find(|t| t.name == name)
    }

    /// The sources that are tables of the pipeline's table sets (stages `SET.TABLE`).
    pub fn table_set_members(&self) -> impl Iterator<Item = &SourcePlan> {
        self.sources.iter().filter(|s| self.table_sets.iter().any(|set| set.member_table(&s.name).is_some()))
    }

    /// The table sets resolving did not expand into one source per table (`--offline`: their
    /// catalogs were not read); `explain` lists them as written.
    pub fn unexpanded_table_sets(&self) -> impl Iterator<Item = &TableSetPlan> {
        self.table_sets.iter().filter(|set| !self.sources.iter().any(|s| set.member_table(&s.name).is_some()))
    }

    /// `text` with the password of every source's and sink's URL masked (`***`): for messages
    /// that may quote a URL or a variable's value.
    pub fn scrub_secrets(&self, text: &str) -> String {
        // Each URL once, in plan order (scrubbing one again changes nothing): the tables of a set
        // share theirs, and the text (the plan's JSON, for its fingerprint) grows with them too.
        let mut seen = std::collections::HashSet::new();
        let mut out = text.to_string();
        for e in self.sources.iter().map(|s| &s.endpoint).chain(self.sinks.iter().map(|s| &s.endpoint)) {
            if seen.insert(e.url.as_str()) {
                out = endpoint::scrub_secret(&out, &e.url);
            }
        }
        out
    }

    /// The sinks whose input leads back to the source named `source`.
    pub fn sinks_fed_by<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a SinkPlan> {
        self.sinks.iter().filter(move |sink| self.lineage(&sink.input).is_some_and(|(s, _)| s.name == source))
    }

    /// The source each sink's input leads back to, by sink name: [`Self::lineage`] of every
    /// sink at once, in time linear in the plan (a plan of 1,000 tables has 2,000 stages, and
    /// asking `lineage` per sink per source was cubic).
    pub fn source_of_sinks(&self) -> std::collections::HashMap<&str, &SourcePlan> {
        let sources: std::collections::HashMap<&str, &SourcePlan> =
            self.sources.iter().map(|s| (s.name.as_str(), s)).collect();
        let inputs: std::collections::HashMap<&str, &str> =
            self.transforms.iter().map(|t| (t.name.as_str(), t.input.as_str())).collect();
        let mut out = std::collections::HashMap::new();
        for sink in &self.sinks {
            let mut current = sink.input.as_str();
            // The checker rejects cycles; the bound keeps a hand-built plan from looping forever.
            for _ in 0..=self.transforms.len() {
                if let Some(source) = sources.get(current) {
                    out.insert(sink.name.as_str(), *source);
                    break;
                }
                match inputs.get(current) {
                    Some(input) => current = input,
                    None => break,
                }
            }
        }
        out
    }

    /// The chain of transforms from a source to `stage` (source first), and that source.
    pub fn lineage(&self, stage: &str) -> Option<(&SourcePlan, Vec<&TransformPlan>)> {
        let mut chain = Vec::new();
        let mut current = stage;
        // The checker rejects cycles; the bound keeps a hand-built plan from looping forever.
        for _ in 0..=self.transforms.len() {
            if let Some(source) = self.source(current) {
                chain.reverse();
                return Some((source, chain));
            }
            let t = self.transform(current)?;
            chain.push(t);
            current = &t.input;
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcePlan {
    pub name: String,
    pub endpoint: Endpoint,
    pub relation: Relation,
    pub partition: Option<PartitionSpec>,
    pub batch_size: usize,
    /// Neither the file nor the connection profile sets the batch size: it is chosen from the
    /// row width once the schema is known (`connect::batch_size`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batch_automatic: bool,
    #[serde(with = "duration_text::option")]
    pub timeout: Option<Duration>,
    /// `incremental on COLUMN`: each run reads only the rows past the high-water mark that the
    /// sinks' ledgers recorded when the previous run published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalSpec>,
    /// PostgreSQL: read the table's own rows only (`FROM ONLY t`), not those of its inheritance
    /// children (tables created `INHERITS (t)`), which a plain `SELECT ... FROM t` includes. Set
    /// by `crate::expand` for a table of a table set that has such children, because the set
    /// reads each child as a table of its own; every query of the source (schema probe, bounds,
    /// watermark, partitions, and so `flow verify`) then reads the same rows. Never set for a
    /// declaratively partitioned table, whose rows are all in its partitions (`ONLY` would
    /// read none).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only: bool,
}

/// How an incremental source finds its new rows: a column whose values only grow (an id, an
/// `updated_at` timestamp). A run reads `column > previous mark AND column <= this run's mark`,
/// where this run's mark is the column's maximum when the run starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncrementalSpec {
    pub column: String,
}

/// What a source reads or a sink writes on its endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Relation {
    Table {
        name: TableName,
    },
    Query {
        sql: String,
    },
    /// A CSV or Parquet file (or, for sources, a directory of them).
    File {
        path: String,
    },
    /// The built-in synthetic `orders` data set.
    Generated {
        rows: u64,
        seed: u64,
    },
}

/// A possibly schema-qualified table name, one entry per part, unquoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableName {
    pub parts: Vec<String>,
}

impl TableName {
    /// Splits `schema.table` into parts at dots, as SQL reads a qualified name: a part that
    /// begins with `"` is quoted (it may hold dots, and `""` in it is one `"`) up to its closing
    /// quote; any other part is taken as written up to the next dot, a `"` in it included
    /// (`we"ird` is one part `we"ird`). [`Self::flow_text`] writes a name back.
    pub fn parse(text: &str) -> Self {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().peekable();
        loop {
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' if chars.peek() == Some(&'"') => {
                            current.push('"');
                            chars.next();
                        }
                        '"' => break,
                        _ => current.push(c),
                    }
                }
            }
            // The rest of the part, up to the next dot.
            while let Some(c) = chars.next_if(|c| *c != '.') {
                current.push(c);
            }
            parts.push(std::mem::take(&mut current));
            if chars.next().is_none() {
                return Self { parts };
            }
        }
    }

    /// The name as a `.flow` file writes it (inside the string of `conn.table("...")`), so that
    /// [`Self::parse`] reads it back: a part holding a dot or beginning with `"` is quoted.
    pub fn flow_text(&self) -> String {
        self.parts
            .iter()
            .map(|p| {
                if p.contains('.') || p.starts_with('"') {
                    format!("\"{}\"", p.replace('"', "\"\""))
                } else {
                    p.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The last part: the table's own name.
    pub fn table(&self) -> &str {
        self.parts.last().map_or("", String::as_str)
    }

    /// A work table of this run beside the target, in the same schema:
    /// `_flow_<role>_<table prefix>_<hash>_<run id>`.
    ///
    /// The prefix keeps the name recognisable; the hash (8 hex digits of FNV-1a over every part
    /// of the full target name) keeps two targets apart when their names share a long prefix or
    /// differ only in their last character, so one run's work tables never collide. The prefix
    /// is cut (at a character boundary) so the whole name fits [`IDENTIFIER_LIMIT`] bytes, the
    /// smallest limit of the dialects Flow writes (PostgreSQL's 63-byte `NAMEDATALEN - 1`; MySQL
    /// allows 64 characters, SQLite has none).
    pub fn sibling(&self, role: &str, run_id: &str) -> Self {
        let hash = format!("{:08x}", name_hash(&self.parts) as u32);
        let mut parts = self.parts.clone();
        if let Some(last) = parts.last_mut() {
            let fixed = "_flow_".len() + role.len() + 1 + 1 + hash.len() + 1 + run_id.len();
            let budget = IDENTIFIER_LIMIT.saturating_sub(fixed);
            let mut cut = budget.min(last.len());
            while !last.is_char_boundary(cut) {
                cut -= 1;
            }
            *last = format!("_flow_{role}_{}_{hash}_{run_id}", &last[..cut]);
        }
        Self { parts }
    }

    pub fn schema(&self) -> Option<&str> {
        (self.parts.len() > 1).then(|| self.parts[self.parts.len() - 2].as_str())
    }
}

/// The largest batch (rows) a stage reads or writes at once; a larger `batch`, in a `.flow` file
/// or a profile, is this.
pub const MAX_BATCH_SIZE: usize = 1 << 24;

/// The longest identifier, in bytes, that every target dialect accepts: PostgreSQL truncates
/// names beyond 63 bytes (`NAMEDATALEN` 64, PostgreSQL docs §4.1.1), MySQL refuses beyond 64
/// characters (MySQL docs, "Identifier Length Limits").
pub const IDENTIFIER_LIMIT: usize = 63;

/// FNV-1a (64-bit) over the name's parts, a separator byte between them: stable across runs,
/// platforms and Flow versions, so a resumed run finds its work tables by name again.
fn name_hash(parts: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let sep: &[u8] = if i == 0 { &[] } else { &[0] };
        for byte in sep.iter().chain(part.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.parts.join("."))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformPlan {
    pub name: String,
    pub input: String,
    pub steps: Vec<StepPlan>,
    #[serde(with = "duration_text::option")]
    pub timeout: Option<Duration>,
}

/// One transform step. Expressions are SQL text in DataFusion's dialect with every identifier
/// quoted, rendered from the checked AST (see `plan::sql`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum StepPlan {
    Filter {
        predicate: String,
    },
    Derive {
        columns: Vec<DerivedColumn>,
    },
    Select {
        columns: Vec<String>,
    },
    Drop {
        columns: Vec<String>,
    },
    Rename {
        columns: Vec<RenamedColumn>,
    },
    Cast {
        columns: Vec<CastColumn>,
    },
    /// SQL over the step's input, visible as the table `input`.
    Sql {
        query: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DerivedColumn {
    pub name: String,
    pub expr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenamedColumn {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CastColumn {
    pub column: String,
    /// The SQL type as DataFusion spells it, e.g. `BIGINT`, `DECIMAL(12,2)`.
    pub to: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinkPlan {
    pub name: String,
    pub input: String,
    pub endpoint: Endpoint,
    pub relation: Relation,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub batch_size: usize,
    #[serde(with = "duration_text::option")]
    pub timeout: Option<Duration>,
    /// What happens to a row the target cannot take.
    pub on_error: OnError,
    /// The run fails once more rows than this are skipped or rejected; `None`: no limit.
    pub max_rejects: Option<u64>,
    /// For a table of a table set: its source definition, to create the target with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<table_set::CarriedTable>,
}

impl SinkPlan {
    /// Where the sink writes, as the run summary names it: `table orders in sqlite
    /// out/warehouse.db`, `table public.orders in postgres postgres://u:***@h/db` (password
    /// redacted), or `file out/orders.parquet`.
    pub fn target_text(&self) -> String {
        match &self.relation {
            Relation::File { .. } => self.relation.to_string(),
            relation => format!("{relation} in {} {}", self.endpoint.backend.name(), self.endpoint.redacted()),
        }
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Table { name } => write!(f, "table {name}"),
            Self::Query { sql } => write!(f, "query {sql}"),
            Self::File { path } => write!(f, "file {path}"),
            Self::Generated { rows, seed } => write!(f, "synthetic orders, {rows} rows, seed {seed}"),
        }
    }
}

/// `on error fail | skip | reject to TABLE`: what a sink does with a row that a conversion,
/// a constraint or the target refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OnError {
    /// Fail the run, naming the row and column (the default).
    #[default]
    Fail,
    /// Leave the row out; the run report counts it.
    Skip,
    /// Write the row, the column, the value and the reason to a table on the sink's own
    /// connection, in the same transaction as the partition.
    Reject { table: TableName },
}

impl std::fmt::Display for OnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fail => f.write_str("fail"),
            Self::Skip => f.write_str("skip"),
            Self::Reject { table } => write!(f, "reject to {table}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum WriteMode {
    Append,
    /// Atomic: write a staging table, swap it in at the end.
    Replace,
    Truncate,
    /// One row per key (see [`upsert`]): inserted, or updating the target's row of that key.
    Upsert {
        keys: Vec<String>,
        /// Which row of a key to keep when the input holds several; `None`: they are refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<KeepLast>,
    },
}

impl WriteMode {
    /// An upsert on `keys` that refuses a key seen twice.
    pub fn upsert(keys: Vec<String>) -> Self {
        Self::Upsert { keys, keep: None }
    }
}

impl std::fmt::Display for WriteMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Append => f.write_str("append"),
            Self::Replace => f.write_str("replace"),
            Self::Truncate => f.write_str("truncate"),
            Self::Upsert { keys, keep: None } => write!(f, "upsert on ({})", keys.join(", ")),
            Self::Upsert { keys, keep: Some(keep) } => write!(f, "upsert on ({}) {keep}", keys.join(", ")),
        }
    }
}

/// Durations serialise as `5m`-style text, as users write them.
pub mod duration_text {
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        use crate::plan::duration::{format_duration, parse_duration};

        pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match value {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let text: Option<String> = Option::deserialize(d)?;
            text.map(|t| parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
        }
    }
}

#[cfg(test)]
mod sibling_tests {
    use super::{IDENTIFIER_LIMIT, TableName};

    const RUN: &str = "20261129143000abcd";

    #[test]
    fn targets_sharing_a_long_prefix_get_distinct_work_tables() {
        let a = TableName::parse("public.customer_subscription_billing_adjustments_2023");
        let b = TableName::parse("public.customer_subscription_billing_adjustments_2024");
        assert_ne!(a.sibling("stage", RUN), b.sibling("stage", RUN));
        assert_ne!(a.sibling("old", RUN), b.sibling("old", RUN));
        assert_eq!(a.sibling("stage", RUN).schema(), Some("public"));
        assert!(a.sibling("stage", RUN).table().starts_with("_flow_stage_customer_subscri"));
    }

    #[test]
    fn names_of_63_bytes_differing_in_the_last_character_stay_apart_and_fit() {
        let stem = "t".repeat(62);
        let a = TableName::parse(&format!("{stem}a"));
        let b = TableName::parse(&format!("{stem}b"));
        for role in ["stage", "old"] {
            let (sa, sb) = (a.sibling(role, RUN), b.sibling(role, RUN));
            assert_ne!(sa, sb);
            assert!(sa.table().len() <= IDENTIFIER_LIMIT, "{} is {} bytes", sa.table(), sa.table().len());
        }
    }

    #[test]
    fn the_schema_is_part_of_the_name_and_multibyte_names_are_cut_at_a_character() {
        let a = TableName::parse("a.orders");
        let b = TableName::parse("b.orders");
        assert_ne!(a.sibling("stage", RUN).table(), b.sibling("stage", RUN).table());
        let wide = TableName::parse(&"ä".repeat(40));
        let s = wide.sibling("stage", RUN);
        assert!(s.table().len() <= IDENTIFIER_LIMIT);
        assert_eq!(s, wide.sibling("stage", RUN), "stable, so a resume finds its work tables");
    }

    /// A quote opens a quoted part only at the part's start; elsewhere it is part of the name.
    /// `flow_text` writes back what `parse` reads.
    #[test]
    fn table_names_keep_their_double_quotes() {
        let parts = |text: &str| TableName::parse(text).parts;
        assert_eq!(parts(r#"public."we""ird""#), ["public", "we\"ird"]);
        assert_eq!(parts(r#"we"ird"#), ["we\"ird"]);
        assert_eq!(parts(r#"s.we"ird.x"#), ["s", "we\"ird", "x"]);
        assert_eq!(parts(r#""my.table""#), ["my.table"]);
        assert_eq!(parts(r#""""lead""#), ["\"lead"]);
        assert_eq!(parts(r#""a"b.c"#), ["ab", "c"]);
        assert_eq!(parts(r#""open.end"#), ["open.end"]);
        assert_eq!(parts("a..b"), ["a", "", "b"]);
        for names in [&["public", "we\"ird"][..], &["\"lead"], &["s", "my.table"], &["a\"\"b", "\".\""]] {
            let name = TableName { parts: names.iter().map(|p| p.to_string()).collect() };
            assert_eq!(TableName::parse(&name.flow_text()), name, "{}", name.flow_text());
        }
        assert_eq!(TableName::parse(r#""""lead""#).flow_text(), r#""""lead""#);
        assert_eq!(TableName::parse(r#"public.we"ird"#).flow_text(), r#"public.we"ird"#);
    }
}
