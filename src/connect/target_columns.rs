//! Columns of an existing target table that do not take values from outside, decided once here
//! for the PostgreSQL and MySQL sinks and for `check` / `explain`:
//!
//! | target column                                   | what Flow does when the source has it              |
//! |-------------------------------------------------|----------------------------------------------------|
//! | PostgreSQL `GENERATED ALWAYS AS (expr) STORED`  | leaves the source's column out; the target computes it |
//! | MySQL/MariaDB `AS (expr) STORED` / `VIRTUAL`    | the same                                           |
//! | PostgreSQL `GENERATED ALWAYS AS IDENTITY`       | writes the source's values with `OVERRIDING SYSTEM VALUE`, then moves the column's sequence past the largest value |
//!
//! Why: PostgreSQL refuses any value but `DEFAULT` for a generated column ("cannot insert a
//! non-DEFAULT value into column", SQLSTATE 428C9) and for an identity `ALWAYS` column unless the
//! `INSERT` says `OVERRIDING SYSTEM VALUE` (PostgreSQL docs, "Identity Columns" and `INSERT`).
//! MySQL refuses a value for a generated column (error 3105), MariaDB too in strict mode (error
//! 1906, "The value specified for generated column ... has been ignored"). Before, every row was
//! staged and the publish failed. A generated column's value is the target's by definition, so
//! its source values are left out, as pgloader and pgcopydb do; an identity column's values are
//! the rows' ids, which a copy keeps exactly.
//!
//! Some writes have no answer and are refused before anything is read (a `check` error, and
//! again by the sink's `prepare`, before its staging table exists): an upsert key that is a
//! generated column (rows could not be matched by the source's values), an identity `ALWAYS`
//! column an upsert would update (PostgreSQL only updates it to `DEFAULT`), a column the target
//! table does not have (the staging table, made `LIKE` the target, would refuse the first
//! partition; the publish's `INSERT` names no such column), and, on PostgreSQL, upsert keys that
//! match no unique constraint (`ON CONFLICT (k)` needs a non-partial unique index on exactly those
//! columns: PostgreSQL docs, `INSERT`, "conflict_target"; before, every row was staged and the
//! publish failed).

use std::collections::HashMap;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use futures::future::BoxFuture;

use crate::plan::sql::Dialect;
use crate::plan::{Backend, PipelinePlan, Relation, SinkPlan, TableName, WriteMode};

/// What a target column does with values written into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Special {
    /// Computed by the target from its other columns: `expression` as the server prints it,
    /// `storage` `STORED` or `VIRTUAL`.
    Generated { expression: String, storage: String },
    /// PostgreSQL `GENERATED ALWAYS AS IDENTITY`.
    IdentityAlways,
}

/// One column of the target that does not take values as an ordinary column does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialColumn {
    pub name: String,
    pub special: Special,
}

impl SpecialColumn {
    /// The column's definition as SQL says it: `GENERATED ALWAYS AS (qty * price) STORED`.
    pub fn definition(&self) -> String {
        match &self.special {
            Special::Generated { expression, storage } => {
                format!("GENERATED ALWAYS AS ({}) {storage}", strip_outer_parens(expression))
            }
            Special::IdentityAlways => "GENERATED ALWAYS AS IDENTITY".to_string(),
        }
    }
}

/// `(a * b)` → `a * b` when the outer parentheses enclose the whole expression (PostgreSQL's
/// `pg_get_expr` adds them), so the definition reads as it was written.
fn strip_outer_parens(expression: &str) -> &str {
    let Some(inner) = expression.strip_prefix('(').and_then(|e| e.strip_suffix(')')) else {
        return expression;
    };
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return expression;
        }
    }
    if depth == 0 { inner } else { expression }
}

/// What planning and `prepare` read of an existing target table: its columns and what they take.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExistingTable {
    /// Every column of the table, in its order, as the server names it.
    pub columns: Vec<String>,
    /// The columns that take no values as ordinary columns do.
    pub special: Vec<SpecialColumn>,
    /// The column sets an upsert's keys must equal one of (as sets), where the backend's upsert
    /// needs a unique constraint (PostgreSQL's `ON CONFLICT`); `None` where it needs none
    /// (MySQL's `UPDATE ... JOIN` then `INSERT`).
    pub unique_keys: Option<Vec<Vec<String>>>,
    /// The unique indexes an upsert cannot name as its arbiter, as (key columns, the index's
    /// name, why: `partial (WHERE ...)`, `deferrable`, `on expressions`, `not valid`), so that
    /// a refusal can name the one the user meant.
    pub unusable_unique: Vec<(Vec<String>, String, String)>,
    /// The foreign keys of other tables that reference this one, as `` `name` of table `t` ``,
    /// where the backend's `mode truncate` cannot empty a referenced table (PostgreSQL's
    /// `TRUNCATE`: PostgreSQL docs, `TRUNCATE`, "cannot truncate a table referenced in a
    /// foreign key constraint"); empty elsewhere.
    pub referenced_by: Vec<String>,
    /// Whether column names compare without case (MySQL/MariaDB column names do, MySQL manual,
    /// "Identifier Case Sensitivity"; PostgreSQL's quoted names do not).
    pub fold_case: bool,
}

impl ExistingTable {
    fn same(&self, a: &str, b: &str) -> bool {
        if self.fold_case { a.eq_ignore_ascii_case(b) } else { a == b }
    }

    /// The table's column called `name`, if it has one.
    fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| self.same(c, name))
    }
}

/// How a sink writes its schema into an existing target with these special columns.
#[derive(Debug, Clone, PartialEq)]
pub struct WritePlan {
    /// Indices (into the sink's schema) of the columns written, in schema order.
    pub columns: Vec<usize>,
    /// The generated columns the source provides, whose values are left out.
    pub skipped: Vec<SpecialColumn>,
    /// The identity `ALWAYS` columns written: the `INSERT` needs `OVERRIDING SYSTEM VALUE` and
    /// their sequences are moved past the largest value afterwards.
    pub identities: Vec<String>,
}

impl WritePlan {
    /// Every column written as it is: a target Flow creates, or one without special columns.
    pub fn all(schema: &Schema) -> Self {
        Self { columns: (0..schema.fields().len()).collect(), skipped: Vec::new(), identities: Vec::new() }
    }

    /// Decides, for the sink's columns (`names`, in schema order) and `mode`, what is written
    /// into the `existing` target. `Err`: the target cannot take this write (see the module's
    /// docs); columns it lacks are refused first, all of them named.
    pub fn decide<S: AsRef<str>>(
        table: &TableName,
        names: &[S],
        mode: &WriteMode,
        existing: &ExistingTable,
    ) -> std::result::Result<Self, WriteRefused> {
        let keys: &[String] = match mode {
            WriteMode::Upsert { keys, .. } => keys,
            _ => &[],
        };
        let missing: Vec<String> =
            names.iter().map(AsRef::as_ref).filter(|n| !existing.has(n)).map(str::to_string).collect();
        if !missing.is_empty() {
            return Err(WriteRefused::MissingColumns {
                table: table.clone(),
                missing,
                columns: existing.columns.clone(),
            });
        }
        if *mode == WriteMode::Truncate && !existing.referenced_by.is_empty() {
            return Err(WriteRefused::TruncateReferenced {
                table: table.clone(),
                references: existing.referenced_by.clone(),
            });
        }
        if let Some(unique) = &existing.unique_keys {
            let matches = |set: &Vec<String>| {
                set.len() == keys.len() && set.iter().all(|c| keys.iter().any(|k| existing.same(c, k)))
            };
            if !keys.is_empty() && !unique.iter().any(matches) {
                let unusable = existing
                    .unusable_unique
                    .iter()
                    .filter(|(columns, _, _)| matches(columns))
                    .map(|(_, index, why)| format!("unique index {index} has these keys but is {why}"))
                    .collect();
                return Err(WriteRefused::NoUniqueKey { table: table.clone(), keys: keys.to_vec(), unusable });
            }
            // PostgreSQL infers every unique index on exactly these keys as an arbiter, and
            // refuses the statement when one is deferrable, usable ones beside it or not.
            let deferrable = existing.unusable_unique.iter().find(|(c, _, why)| matches(c) && why == "deferrable");
            if let Some((_, index, _)) = deferrable.filter(|_| !keys.is_empty()) {
                return Err(WriteRefused::DeferrableArbiter {
                    table: table.clone(),
                    keys: keys.to_vec(),
                    index: index.clone(),
                });
            }
        }
        let special = &existing.special;
        let mut plan = Self { columns: Vec::new(), skipped: Vec::new(), identities: Vec::new() };
        for (i, name) in names.iter().map(AsRef::as_ref).enumerate() {
            let Some(column) = special.iter().find(|c| existing.same(&c.name, name)) else {
                plan.columns.push(i);
                continue;
            };
            let is_key = keys.iter().any(|k| k == name);
            match &column.special {
                Special::Generated { .. } if is_key => {
                    return Err(WriteRefused::GeneratedKey {
                        table: table.clone(),
                        column: column.name.clone(),
                        definition: column.definition(),
                    });
                }
                Special::Generated { .. } => plan.skipped.push(column.clone()),
                Special::IdentityAlways if !keys.is_empty() && !is_key => {
                    return Err(WriteRefused::IdentityUpdated { table: table.clone(), column: column.name.clone() });
                }
                Special::IdentityAlways => {
                    plan.columns.push(i);
                    plan.identities.push(column.name.clone());
                }
            }
        }
        Ok(plan)
    }

    /// What `explain` (and `check`, for skipped columns) says about this write, one line each.
    pub fn notes(&self) -> Vec<String> {
        let skipped = self.skipped.iter().map(|c| {
            format!(
                "column `{}` is generated by the target ({}); the source's values are not written",
                c.name,
                c.definition()
            )
        });
        let identities = self.identities.iter().map(|name| {
            format!(
                "column `{name}` is an identity column of the target (GENERATED ALWAYS AS IDENTITY); the source's \
                 values are written as they are (INSERT ... OVERRIDING SYSTEM VALUE), then its sequence is moved \
                 past the largest value so later inserts do not collide"
            )
        });
        skipped.chain(identities).collect()
    }

    /// The schema of the columns written.
    pub fn schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        if self.columns.len() == schema.fields().len() {
            return Ok(schema.clone());
        }
        Ok(std::sync::Arc::new(schema.project(&self.columns)?))
    }

    /// The columns written of a batch of the sink's schema.
    pub fn project(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        if self.columns.len() == batch.num_columns() {
            return Ok(batch.clone());
        }
        Ok(batch.project(&self.columns)?)
    }

    /// `"a", "b"`: the columns written, quoted for `dialect`.
    pub fn column_list(&self, schema: &Schema, dialect: Dialect) -> String {
        self.columns.iter().map(|&i| dialect.ident(schema.field(i).name())).collect::<Vec<_>>().join(", ")
    }

    /// Whether a column of the sink's schema is written.
    pub fn writes(&self, schema: &Schema, name: &str) -> bool {
        self.columns.iter().any(|&i| schema.field(i).name() == name)
    }
}

/// Whether a sink writes into a table it may find existing, with its own columns: database
/// sinks except `mode replace` (which writes a new table) and a table of a table set created
/// from the source's definition.
pub fn writes_existing_columns(sink: &SinkPlan) -> bool {
    super::registry::backend(sink.endpoint.backend).table_sink.is_some_and(|t| t.special_columns.is_some())
        && matches!(sink.relation, Relation::Table { .. })
        && sink.mode != WriteMode::Replace
}

/// Why an existing target cannot take a write ([`WritePlan::decide`]), naming its table and
/// column (`flow::sink::refused`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteRefused {
    /// An upsert key the target computes itself: the source's values cannot match rows by it.
    #[error(
        "column `{column}` of {table} is an upsert key but is generated by the target ({definition}): the source's \
         values cannot be written to it, so rows cannot be matched by them; choose other keys"
    )]
    GeneratedKey { table: TableName, column: String, definition: String },
    /// An identity `ALWAYS` column an upsert on other keys would update, which PostgreSQL refuses.
    #[error(
        "column `{column}` of {table} is GENERATED ALWAYS AS IDENTITY and mode upsert would update it, which \
         PostgreSQL refuses (such a column is only updated to DEFAULT); make it an upsert key, leave it out of the \
         pipeline (`drop {column}`), or use mode append or truncate"
    )]
    IdentityUpdated { table: TableName, column: String },
    /// Columns of the pipeline the target table does not have.
    #[error(
        "{table} has no column {} (its columns: {}); add {} to the table, rename or drop {} in a transform, or \
         use mode replace to make the table from the pipeline's columns",
        quoted(missing),
        quoted(columns),
        them(missing),
        them(missing)
    )]
    MissingColumns { table: TableName, missing: Vec<String>, columns: Vec<String> },
    /// Upsert keys that match no unique constraint of the target, which `ON CONFLICT` needs.
    /// `unusable` names the unique indexes on exactly these keys that `ON CONFLICT` cannot use
    /// ("conflict_target", PostgreSQL docs, `INSERT`), with why.
    #[error(
        "the upsert keys ({}) match no primary key or unique constraint of {table}, which `ON CONFLICT` needs{}; \
         add one (`ALTER TABLE {table} ADD UNIQUE ({})`) or upsert on the columns of an existing one",
        keys.join(", "), if unusable.is_empty() { String::new() } else { format!(": {}", unusable.join("; ")) },
        keys.join(", ")
    )]
    NoUniqueKey { table: TableName, keys: Vec<String>, unusable: Vec<String> },
    /// Upsert keys that a deferrable unique constraint also has: `ON CONFLICT` infers it as an
    /// arbiter and refuses it ("ON CONFLICT does not support deferrable unique constraints/
    /// exclusion constraints as arbiters"), even beside a usable index.
    #[error(
        "the upsert keys ({}) are also the keys of {index} of {table}, which is deferrable: PostgreSQL's \
         `ON CONFLICT` takes every unique index on its keys as an arbiter and refuses a deferrable one; make it \
         NOT DEFERRABLE (`ALTER TABLE {table} ALTER CONSTRAINT ... NOT DEFERRABLE`) or upsert on other keys",
        keys.join(", ")
    )]
    DeferrableArbiter { table: TableName, keys: Vec<String>, index: String },
    /// `mode truncate` of a table other tables' foreign keys reference, which `TRUNCATE` refuses.
    #[error(
        "mode truncate empties {table} with TRUNCATE, which PostgreSQL refuses for a table other tables reference \
         (foreign key {}); use mode append or upsert, or drop the foreign key first",
        references.join(", foreign key ")
    )]
    TruncateReferenced { table: TableName, references: Vec<String> },
}

impl WriteRefused {
    /// The diagnostic code: `flow::sink::no_upsert_key` for keys without a unique constraint,
    /// `flow::sink::refused` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoUniqueKey { .. } | Self::DeferrableArbiter { .. } => crate::diagnostics::codes::sink::NO_UPSERT_KEY,
            _ => crate::diagnostics::codes::sink::REFUSED,
        }
    }
}

/// `` `a`, `b` `` for an error message.
fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// "it" or "them", for one or several columns.
fn them(names: &[String]) -> &'static str {
    if names.len() == 1 { "it" } else { "them" }
}

/// The column names of a schema, for [`WritePlan::decide`].
pub fn names(schema: &Schema) -> Vec<&str> {
    schema.fields().iter().map(|f| f.name().as_str()).collect()
}

/// What a planning probe of one target server is asked ([`ReadSpecials`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetProbe {
    /// The tables to read ([`ExistingTable`]): those written other than by `mode replace`.
    pub tables: Vec<TableName>,
    /// Every table the sinks write there, to find those missing under the name written while a
    /// table whose name differs only in letter case exists ([`TargetRead::case_twins`]).
    pub named: Vec<TableName>,
    /// The schemas (MySQL/MariaDB: databases) whose existence to check.
    pub schemas: Vec<String>,
}

/// What a planning probe of one target server read ([`ReadSpecials`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetRead {
    /// Per table of [`TargetProbe::tables`], in order: what it is, or `None` when it does not exist.
    pub tables: Vec<Option<ExistingTable>>,
    /// The schemas (MySQL/MariaDB: databases) asked about that do not exist on the server, in
    /// the order asked.
    pub missing_schemas: Vec<String>,
    /// Per table of [`TargetProbe::named`] that does not exist as written (by index), the
    /// existing table of its schema whose name differs only in letter case: the run would
    /// create a second table beside it (PostgreSQL and MySQL on Linux compare quoted names
    /// exactly; Flow quotes every name).
    pub case_twins: Vec<(usize, String)>,
}

/// [`TargetRead::case_twins`] from the tables found whose names match some of `named` but for
/// letter case: `found` holds each as (schema, name, whether the schema is the session's
/// default, which holds the unqualified names).
pub fn case_twins(named: &[TableName], found: &[(String, String, bool)]) -> Vec<(usize, String)> {
    let in_schema = |table: &TableName, (schema, _, default): &(String, String, bool)| match table.schema() {
        Some(wanted) => wanted == schema,
        None => *default,
    };
    let mut out = Vec::new();
    for (i, table) in named.iter().enumerate() {
        let here: Vec<&(String, String, bool)> = found.iter().filter(|f| in_schema(table, f)).collect();
        if here.iter().any(|(_, name, _)| name == table.table()) {
            continue;
        }
        let lower = table.table().to_lowercase();
        if let Some((_, twin, _)) = here.iter().find(|(_, name, _)| name.to_lowercase() == lower) {
            out.push((i, twin.clone()));
        }
    }
    out
}

/// What a planning probe found: `Err` when the server could not be connected to (its
/// [`Reach`](super::connect_error::Reach) says whether it answered; the message has no
/// password), `Ok(None)` when it was connected to but could not be read in the time given.
pub type SpecialsByTable = std::result::Result<Option<TargetRead>, super::connect_error::ConnectError>;

/// A backend's planning probe (`connect::registry::TableSink`): the target's URL, the tables
/// to read ([`ExistingTable`]), the schemas whose existence to check (one set-based query),
/// and how long to wait for the server.
pub type ReadSpecials = fn(String, TargetProbe, std::time::Duration) -> BoxFuture<'static, SpecialsByTable>;

/// What planning found about one sink's existing target.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetFinding {
    /// The write, with what `explain` says about it (nothing special: no notes).
    Writes(WritePlan),
    /// The target cannot take this write: the message names table and column.
    Refused { code: &'static str, message: String },
}

/// What planning found about a target server as a whole, reported once, at the first sink
/// (in plan order) that writes there.
#[derive(Debug, Clone)]
pub enum ServerFinding {
    /// The server could not be connected to: it did not answer, or refused (credentials, an
    /// unknown database), as [`ConnectError::reach`](super::connect_error::ConnectError) says.
    Connect { sink: String, error: super::connect_error::ConnectError },
    /// Sink `sink` writes into schema `schema` (MySQL/MariaDB: a database), which does not exist.
    MissingSchema { sink: String, schema: String, backend: Backend },
    /// Sink `sink`'s table `table` does not exist, but `twin`, whose name differs only in letter
    /// case, does in the same schema: the run would create a second table.
    CaseTwin { sink: String, table: TableName, twin: String },
}

/// What [`discover`] found: per sink, by name, and per server.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub sinks: HashMap<String, TargetFinding>,
    pub servers: Vec<ServerFinding>,
}

/// Time allowed to reach a target while planning; an unreachable target is described by the
/// run itself, so `check` does not wait for the connection retries a run makes.
const PLANNING_CONNECT: std::time::Duration = std::time::Duration::from_secs(20);

/// Probes every database sink's target server (PostgreSQL, MySQL/MariaDB tables), once per
/// URL, for `check` and `explain`: whether it can be connected to, whether the schemas of the
/// sinks' qualified tables exist (one query), and each existing target written other than by
/// `mode replace` ([`ExistingTable`]: its columns, special columns and unique keys). `columns` holds each sink's column names, by sink name;
/// so does the result. A sink whose target is missing or not readable has no entry in
/// [`Findings::sinks`] (the run says more).
pub async fn discover(plan: &PipelinePlan, columns: &HashMap<String, Vec<String>>) -> Findings {
    // Per target server, in plan order: each sink and its table.
    type Sinks<'a> = Vec<(&'a SinkPlan, &'a TableName)>;
    let mut by_url: Vec<((String, Backend), Sinks)> = Vec::new();
    for sink in &plan.sinks {
        let Relation::Table { name } = &sink.relation else { continue };
        let probed =
            super::registry::backend(sink.endpoint.backend).table_sink.is_some_and(|t| t.special_columns.is_some());
        if !probed {
            continue;
        }
        let key = (sink.endpoint.url.clone(), sink.endpoint.backend);
        match by_url.iter_mut().find(|(k, _)| *k == key) {
            Some((_, sinks)) => sinks.push((sink, name)),
            None => by_url.push((key, vec![(sink, name)])),
        }
    }
    let mut found = Findings::default();
    for ((url, backend), sinks) in by_url {
        let Some(read) = super::registry::backend(backend).table_sink.and_then(|t| t.special_columns) else {
            continue;
        };
        // The sinks whose special columns matter, with their column names.
        let specials: Vec<(&SinkPlan, &TableName, &Vec<String>)> = sinks
            .iter()
            .filter(|(s, _)| writes_existing_columns(s))
            .filter_map(|(s, t)| Some((*s, *t, columns.get(&s.name)?)))
            .collect();
        let mut schemas: Vec<String> = Vec::new();
        for (_, table) in &sinks {
            if let Some(schema) = table.schema().filter(|s| !schemas.iter().any(|k| k == s)) {
                schemas.push(schema.to_string());
            }
        }
        let probe = TargetProbe {
            tables: specials.iter().map(|(_, t, _)| (*t).clone()).collect(),
            named: sinks.iter().map(|(_, t)| (*t).clone()).collect(),
            schemas,
        };
        let read = match read(url, probe, PLANNING_CONNECT).await {
            Err(error) => {
                found.servers.push(ServerFinding::Connect { sink: sinks[0].0.name.clone(), error });
                continue;
            }
            Ok(None) => continue,
            Ok(Some(read)) => read,
        };
        for schema in read.missing_schemas {
            let Some((sink, _)) = sinks.iter().find(|(_, t)| t.schema() == Some(schema.as_str())) else { continue };
            found.servers.push(ServerFinding::MissingSchema { sink: sink.name.clone(), schema, backend });
        }
        for (i, twin) in read.case_twins {
            let Some((sink, table)) = sinks.get(i) else { continue };
            found.servers.push(ServerFinding::CaseTwin { sink: sink.name.clone(), table: (*table).clone(), twin });
        }
        for ((sink, table, names), existing) in specials.into_iter().zip(read.tables) {
            let Some(existing) = existing else { continue };
            let finding = match WritePlan::decide(table, names, &sink.mode, &existing) {
                Ok(plan) => TargetFinding::Writes(plan),
                Err(refused) => TargetFinding::Refused { code: refused.code(), message: refused.to_string() },
            };
            found.sinks.insert(sink.name.clone(), finding);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("qty", DataType::Int32, true),
            Field::new("total", DataType::Int64, true),
        ])
    }

    fn existing() -> ExistingTable {
        ExistingTable {
            columns: vec!["id".into(), "qty".into(), "total".into()],
            special: special(),
            unique_keys: None,
            unusable_unique: Vec::new(),
            referenced_by: Vec::new(),
            fold_case: false,
        }
    }

    fn special() -> Vec<SpecialColumn> {
        vec![
            SpecialColumn { name: "id".into(), special: Special::IdentityAlways },
            SpecialColumn {
                name: "total".into(),
                special: Special::Generated { expression: "(qty * 2)".into(), storage: "STORED".into() },
            },
        ]
    }

    #[test]
    fn generated_columns_are_left_out_and_identities_kept() {
        let table = TableName::parse("t");
        let schema = schema();
        let plan = WritePlan::decide(&table, &names(&schema), &WriteMode::Append, &existing()).unwrap();
        assert_eq!(plan.columns, vec![0, 1]);
        assert_eq!(plan.identities, vec!["id".to_string()]);
        assert_eq!(
            plan.notes()[0],
            "column `total` is generated by the target (GENERATED ALWAYS AS (qty * 2) STORED); the source's values \
             are not written"
        );
        assert_eq!(plan.column_list(&schema, Dialect::Postgres), "\"id\", \"qty\"");
    }

    #[test]
    fn upserts_the_target_cannot_take_are_refused() {
        let table = TableName::parse("t");
        let keyed = |k: &str| WriteMode::upsert(vec![k.to_string()]);
        let schema = schema();
        let names = names(&schema);
        // Without `id`, whose identity an upsert on other keys would update (refused first).
        let by_total = WritePlan::decide(&table, &names[1..], &keyed("total"), &existing()).unwrap_err();
        assert!(matches!(&by_total, WriteRefused::GeneratedKey { column, .. } if column == "total"), "{by_total:?}");
        let by_total = by_total.to_string();
        assert!(
            by_total.starts_with("column `total` of t is an upsert key but is generated by the target"),
            "{by_total}"
        );
        let by_qty = WritePlan::decide(&table, &names, &keyed("qty"), &existing()).unwrap_err();
        assert_eq!(by_qty, WriteRefused::IdentityUpdated { table: table.clone(), column: "id".into() });
        let by_qty = by_qty.to_string();
        assert!(by_qty.starts_with("column `id` of t is GENERATED ALWAYS AS IDENTITY and mode upsert"), "{by_qty}");
        assert!(WritePlan::decide(&table, &names, &keyed("id"), &existing()).is_ok());
    }

    #[test]
    fn columns_the_target_lacks_are_refused_all_named() {
        let table = TableName::parse("app.t");
        let refused =
            WritePlan::decide(&table, &["id", "Qty", "price", "note"], &WriteMode::Append, &existing()).unwrap_err();
        assert_eq!(refused.code(), "flow::sink::refused");
        assert_eq!(
            refused.to_string(),
            "app.t has no column `Qty`, `price`, `note` (its columns: `id`, `qty`, `total`); add them to the table, \
             rename or drop them in a transform, or use mode replace to make the table from the pipeline's columns"
        );
        // MySQL compares column names without case.
        let folded = ExistingTable { fold_case: true, ..existing() };
        let refused = WritePlan::decide(&table, &["ID", "Qty", "price"], &WriteMode::Append, &folded).unwrap_err();
        assert!(matches!(&refused, WriteRefused::MissingColumns { missing, .. } if missing == &["price"]));
    }

    #[test]
    fn upsert_keys_must_equal_a_unique_key_where_the_backend_needs_one() {
        let table = TableName::parse("t");
        let keyed = |k: &[&str]| WriteMode::upsert(k.iter().map(|k| k.to_string()).collect());
        let plain = ExistingTable { special: Vec::new(), ..existing() };
        let keyed_on = |sets: &[&[&str]]| ExistingTable {
            unique_keys: Some(sets.iter().map(|s| s.iter().map(|c| c.to_string()).collect()).collect()),
            ..plain.clone()
        };
        let names = ["id", "qty", "total"];
        // No unique key: refused with the code the publish would have failed with.
        let refused = WritePlan::decide(&table, &names, &keyed(&["qty"]), &keyed_on(&[])).unwrap_err();
        assert_eq!(refused.code(), "flow::sink::no_upsert_key");
        assert_eq!(
            refused.to_string(),
            "the upsert keys (qty) match no primary key or unique constraint of t, which `ON CONFLICT` needs; add \
             one (`ALTER TABLE t ADD UNIQUE (qty)`) or upsert on the columns of an existing one"
        );
        // A key that only contains the upsert's columns, or is contained in them, does not do.
        assert!(WritePlan::decide(&table, &names, &keyed(&["qty"]), &keyed_on(&[&["qty", "id"]])).is_err());
        assert!(WritePlan::decide(&table, &names, &keyed(&["qty", "id"]), &keyed_on(&[&["id"]])).is_err());
        // The same set in another order does; so does any key where none is needed.
        assert!(WritePlan::decide(&table, &names, &keyed(&["qty", "id"]), &keyed_on(&[&["id", "qty"]])).is_ok());
        assert!(WritePlan::decide(&table, &names, &keyed(&["qty"]), &plain).is_ok());
        // Other modes need no key.
        assert!(WritePlan::decide(&table, &names, &WriteMode::Append, &keyed_on(&[])).is_ok());
    }

    #[test]
    fn truncating_a_referenced_table_is_refused() {
        let table = TableName::parse("t");
        let referenced = ExistingTable {
            special: Vec::new(),
            referenced_by: vec!["`lines_t_fk` of table `lines`".into()],
            ..existing()
        };
        let refused = WritePlan::decide(&table, &["id"], &WriteMode::Truncate, &referenced).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "mode truncate empties t with TRUNCATE, which PostgreSQL refuses for a table other tables reference \
             (foreign key `lines_t_fk` of table `lines`); use mode append or upsert, or drop the foreign key first"
        );
        assert!(WritePlan::decide(&table, &["id"], &WriteMode::Append, &referenced).is_ok());
    }

    #[test]
    fn only_whole_outer_parentheses_are_stripped() {
        assert_eq!(strip_outer_parens("(a * b)"), "a * b");
        assert_eq!(strip_outer_parens("(a) * (b)"), "(a) * (b)");
        assert_eq!(strip_outer_parens("a * b"), "a * b");
    }
}
