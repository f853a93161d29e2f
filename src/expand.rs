//! Table sets → one source per table, and one sink per table for each schema sink, from the
//! source's catalog (`crate::schema`). Runs where sources may be contacted (`check`, `explain`,
//! `run`), before anything else looks at the plan's sources.
//!
//! - Tables are listed largest first (the catalog's row estimate), so the run starts them first;
//!   a large table with an integer primary key is then split automatically
//!   (`connect::auto_partition`), while small tables take one partition each.
//! - A table that a transform or a table sink of the file reads (`app.orders`) is written by
//!   those stages, not by the set's schema sinks.
//! - Each schema sink gets the source's definitions translated for its database: the sinks create
//!   their tables with them, and the foreign keys between them are added after every table is
//!   published.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::connect::catalog::{TableRead, TableSetRead};
use crate::connect::source::Descendants;
use crate::plan::table_set::{CarriedTable, ForeignKeyStep, SchemaSinkPlan, TableSetPlan, member_stage};
use crate::plan::{PipelinePlan, Relation, SinkPlan, SourcePlan, TableName};
use crate::schema::{self, Catalog, TableFilter};
use crate::semantic::lower::DEFAULT_BATCH_SIZE;

/// What expanding found wrong: errors stop the run; warnings are shown by `check` and `explain`.
/// And what the catalog read said of each table, for describing it without asking again.
#[derive(Debug, Default)]
pub struct Expanded {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// By source name (`SET.TABLE`): what the source catalog said of the table that its own
    /// schema probe and catalog queries would (`connect::catalog::TableRead`). A source missing
    /// here is described on its own.
    pub known: HashMap<String, TableRead>,
}

/// Expands every table set of `plan` in place.
pub async fn expand(plan: &mut PipelinePlan) -> Expanded {
    let mut out = Expanded::default();
    let sets = plan.table_sets.clone();
    for set in &sets {
        let filter = TableFilter { include: set.include.clone(), exclude: set.exclude.clone() };
        let read = match crate::connect::catalog::read_table_set(&set.endpoint, &filter).await {
            Ok(read) => read,
            Err(e) => {
                out.errors.push(format!("table set `{}`: cannot read the tables of the source: {e}", set.name));
                continue;
            }
        };
        expand_set(plan, set, read, &mut out);
    }
    out
}

/// A table of the set that has PostgreSQL inheritance children is read `ONLY` (its own rows):
/// its children are tables of the set, read on their own, and reading the parent whole would
/// copy their rows twice. A descendant the set leaves out (by its patterns) is then copied
/// nowhere, which is said as a warning rather than done silently.
fn inheritance_only(
    set: &TableSetPlan,
    catalog: &Catalog,
    descendants: &Descendants,
    out: &mut Expanded,
) -> HashSet<String> {
    let members: HashSet<String> = catalog.tables.iter().map(|t| t.display_name()).collect();
    let mut only = HashSet::new();
    for table in &catalog.tables {
        let name = table.display_name();
        let Some(children) = descendants.get(&name) else { continue };
        only.insert(name.clone());
        let left_out: Vec<&str> = children.iter().filter(|c| !members.contains(*c)).map(String::as_str).collect();
        let copied: Vec<&str> = children.iter().filter(|c| members.contains(*c)).map(String::as_str).collect();
        if !copied.is_empty() {
            out.warnings.push(format!(
                "table set `{}`: inheritance is not carried over: {} {} copied as table(s) of their own, so {name} on \
                 the target holds only its own rows",
                set.name,
                copied.join(", "),
                if copied.len() == 1 { "is" } else { "are" }
            ));
        }
        if !left_out.is_empty() {
            let (verb, whose) = if left_out.len() == 1 { ("is", "its") } else { ("are", "their") };
            out.warnings.push(format!(
                "table set `{}`: table {name} is read ONLY (without its inheritance children), and {} {verb} not \
                 in the set: {whose} rows are not copied",
                set.name,
                left_out.join(", ")
            ));
        }
    }
    only
}

fn expand_set(plan: &mut PipelinePlan, set: &TableSetPlan, read: TableSetRead, out: &mut Expanded) {
    let TableSetRead { mut catalog, descendants, mut reads } = read;
    let descendants = &descendants;
    if catalog.tables.is_empty() {
        out.warnings.push(format!(
            "table set `{}` matches no table (include: {}; exclude: {})",
            set.name,
            list_or(&set.include, "all"),
            list_or(&set.exclude, "none")
        ));
    }
    let mut seen = HashSet::new();
    for table in &catalog.tables {
        if !seen.insert(table.name.clone()) {
            out.errors.push(format!(
                "table set `{}` matches two tables named `{}` in different schemas: narrow its patterns \
                 (e.g. \"schema.*\") so each table name is read once",
                set.name, table.name
            ));
            return;
        }
    }
    let named: Vec<&String> = set.tables.keys().chain(set.sinks.iter().flat_map(|s| s.tables.keys())).collect();
    for name in named {
        if !seen.contains(name) {
            out.errors.push(format!(
                "table set `{}` has no table `{name}` (a `table {name}` block names it); it has: {}",
                set.name,
                catalog.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let only = inheritance_only(set, &catalog, descendants, out);
    // Largest first: the run starts sources in plan order.
    catalog.tables.sort_by(|a, b| b.estimated_rows.cmp(&a.estimated_rows).then_with(|| a.name.cmp(&b.name)));
    // Tables that stages of the file read themselves.
    let taken: HashSet<String> =
        plan.transforms.iter().map(|t| t.input.clone()).chain(plan.sinks.iter().map(|s| s.input.clone())).collect();
    for table in &catalog.tables {
        let member = set.tables.get(&table.name).cloned().unwrap_or_default();
        let batch = member.batch_size.or(set.defaults.batch_size);
        if let Some(read) = reads.remove(&table.display_name()) {
            out.known.insert(member_stage(&set.name, &table.name), read);
        }
        plan.sources.push(SourcePlan {
            name: member_stage(&set.name, &table.name),
            endpoint: set.endpoint.clone(),
            relation: Relation::Table {
                name: TableName { parts: table.schema.iter().chain([&table.name]).cloned().collect() },
            },
            partition: member.partition,
            batch_size: batch.unwrap_or(DEFAULT_BATCH_SIZE),
            batch_automatic: batch.is_none(),
            timeout: member.timeout.or(set.defaults.timeout),
            incremental: member.incremental.or(set.defaults.incremental.clone()),
            only: only.contains(&table.display_name()),
        });
    }
    let written: Catalog = Catalog {
        source: catalog.source,
        tables: catalog.tables.iter().filter(|t| !taken.contains(&member_stage(&set.name, &t.name))).cloned().collect(),
    };
    for (name, _) in catalog.tables.iter().map(|t| (&t.name, ())) {
        if taken.contains(&member_stage(&set.name, name)) && !set.sinks.is_empty() {
            out.warnings.push(format!(
                "table `{name}` of set `{}` is written by the file's own stages, not by the set's schema sinks; \
                 its keys and indexes are not carried over",
                set.name
            ));
        }
    }
    for sink in &set.sinks {
        expand_sink(plan, set, sink, &written, out);
    }
}

fn expand_sink(
    plan: &mut PipelinePlan,
    set: &TableSetPlan,
    sink: &SchemaSinkPlan,
    catalog: &Catalog,
    out: &mut Expanded,
) {
    let renamed = rename_tables(catalog, sink);
    let Some(target) = crate::connect::catalog::schema_backend(sink.endpoint.backend) else {
        // `check` refuses a schema sink on a connection that is not a database.
        out.errors.push(format!("sink `{}`: a {} connection has no schemas", sink.name, sink.endpoint.backend.name()));
        return;
    };
    let schema_plan = schema::plan_schema(&renamed, target.dialect, sink.schema.as_deref());
    out.warnings.extend(schema_plan.warnings.iter().map(|w| format!("sink `{}`: {w}", sink.name)));
    for (table, ddl) in catalog.tables.iter().zip(&schema_plan.tables) {
        let member = sink.tables.get(&table.name).cloned().unwrap_or_default();
        plan.sinks.push(SinkPlan {
            name: format!("{}.{}", sink.name, table.name),
            input: member_stage(&set.name, &table.name),
            endpoint: sink.endpoint.clone(),
            relation: Relation::Table { name: ddl.target.clone() },
            mode: member.mode.unwrap_or(sink.mode.clone()),
            create_if_missing: sink.create_if_missing,
            batch_size: member.batch_size.or(sink.batch_size).unwrap_or(DEFAULT_BATCH_SIZE),
            timeout: member.timeout.or(sink.timeout),
            on_error: sink.on_error.clone(),
            max_rejects: sink.max_rejects,
            carried: Some(CarriedTable {
                source: table.display_name(),
                create_types: ddl.create_types.clone(),
                create: ddl.before_load.clone(),
                after_load: ddl.after_load.clone(),
                sequence_reset: ddl.sequence_reset.clone(),
                column_types: ddl.column_types.clone(),
                warnings: ddl.warnings.clone(),
            }),
        });
    }
    let has_foreign_keys = renamed.tables.iter().any(|t| !t.foreign_keys.is_empty());
    // Where foreign keys go inside `CREATE TABLE` (SQLite), the step checks them once every table
    // is in, instead of adding them.
    let checked_inline = !target.dialect.alter_table_adds_constraints() && has_foreign_keys;
    if !schema_plan.foreign_keys.is_empty() || checked_inline {
        plan.foreign_keys.push(ForeignKeyStep {
            sink: sink.name.clone(),
            endpoint: sink.endpoint.clone(),
            statements: schema_plan.foreign_keys.clone(),
        });
    }
}

/// The catalog as the sink names its tables: `table NAME as "NEW"` renames a table, and every
/// foreign key that references it.
fn rename_tables(catalog: &Catalog, sink: &SchemaSinkPlan) -> Catalog {
    let renames: BTreeMap<&str, &str> =
        sink.tables.iter().filter_map(|(table, member)| Some((table.as_str(), member.rename.as_deref()?))).collect();
    let mut renamed = catalog.clone();
    for table in &mut renamed.tables {
        for fk in &mut table.foreign_keys {
            if let Some(new) = renames.get(fk.ref_table.as_str()) {
                fk.ref_table = new.to_string();
            }
        }
        if let Some(new) = renames.get(table.name.as_str()) {
            table.name = new.to_string();
        }
    }
    renamed
}

/// The patterns, or what no pattern means (`all` tables included, `none` excluded).
fn list_or(patterns: &[String], none: &str) -> String {
    if patterns.is_empty() { none.to_string() } else { patterns.join(", ") }
}
