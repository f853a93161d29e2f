//! A [`Catalog`] rendered as DDL for a target dialect: what to run before the rows are loaded
//! (`CREATE TYPE`, `CREATE TABLE` with columns, `NOT NULL`, defaults and the primary key), what
//! after (unique constraints and indexes, which are cheaper to build once than to maintain row
//! by row), the foreign keys last (so tables load in any order), and how to make identity
//! columns continue after the loaded values.
//!
//! Whatever cannot be expressed on the target becomes a warning naming the object, never a
//! silent omission.
//!
//! The planner is written once, against the target's [`TargetDialect`]: each database
//! backend gives its column types, name rules and identity handling in its own folder
//! (`connect::<backend>::ddl`, where the type table of each target is).
//!
//! Identity columns get the target's identity ([`TargetDialect::identity_clause`]) or become its
//! row id ([`TargetDialect::rowid_type`]). A target that cannot add constraints to an existing
//! table gets its foreign keys inside `CREATE TABLE`, and [`SchemaPlan::foreign_keys`] stays
//! empty; [`load_order`] gives a parents-first order for targets that check them while loading.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::defaults;
use super::dialect::{ColumnUse, EnumStyle, NameScope, NotCarried, TargetDialect};
use super::model::{Catalog, ColumnDef, ColumnType, DefaultValue, ForeignKeyDef, TableDef};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// The DDL for a whole catalog. `tables[i]` is `catalog.tables[i]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaPlan {
    pub tables: Vec<TableDdl>,
    /// `ALTER TABLE ... ADD ... FOREIGN KEY`, to run once every table is loaded and its
    /// `after_load` has run (a foreign key may reference a unique constraint made there).
    pub foreign_keys: Vec<String>,
    /// Warnings about the plan as a whole (table names that collide on the target).
    pub warnings: Vec<String>,
}

impl SchemaPlan {
    /// Every warning: the plan's, then each table's.
    pub fn all_warnings(&self) -> Vec<String> {
        let mut all = self.warnings.clone();
        for t in &self.tables {
            all.extend(t.warnings.iter().cloned());
        }
        all
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDdl {
    /// `(schema, table)` on the source.
    pub source: (Option<String>, String),
    pub target: TableName,
    /// `CREATE TYPE` of the named enum types (PostgreSQL) the table is the first of the plan
    /// to use. Such a type lives in the target schema, beside the table, and may be there from
    /// an earlier run: a sink creates it unless it exists, and keeps it
    /// ([`crate::plan::table_set::CarriedTable::create_types`]).
    pub create_types: Vec<String>,
    /// `CREATE TABLE`, after `create_types`.
    pub before_load: Vec<String>,
    /// Unique constraints, then indexes.
    pub after_load: Vec<String>,
    /// How to make the identity column continue after the loaded values; run after the load.
    pub sequence_reset: Option<SequenceReset>,
    /// Each column and its type on the target, in column order.
    pub column_types: Vec<(String, String)>,
    pub warnings: Vec<String>,
}

/// How an identity column continues after the loaded values; plain data carried in the plan.
pub use crate::plan::table_set::SequenceReset;

/// Parents before the tables whose foreign keys reference them (indexes into
/// `catalog.tables`). Self-references are ignored. A cycle is broken at the lowest-index table
/// that is part of it (not one that merely depends on it), so the order is the same on every
/// run.
pub fn load_order(catalog: &Catalog) -> Vec<usize> {
    let n = catalog.tables.len();
    let mut parents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, table) in catalog.tables.iter().enumerate() {
        for fk in &table.foreign_keys {
            if let Some(p) = catalog.referenced(fk).filter(|&p| p != i) {
                parents[i].insert(p);
            }
        }
    }
    // ancestors[i]: every table reachable from i through foreign keys.
    let ancestors: Vec<HashSet<usize>> = (0..n)
        .map(|start| {
            let mut seen = HashSet::new();
            let mut stack: Vec<usize> = parents[start].iter().copied().collect();
            while let Some(p) = stack.pop() {
                if seen.insert(p) {
                    stack.extend(parents[p].iter().copied());
                }
            }
            seen
        })
        .collect();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let waiting_on = |i: usize| parents[i].iter().filter(|&&p| !done[p]);
        let ready = (0..n).find(|&i| !done[i] && waiting_on(i).next().is_none());
        // Stuck: every remaining table waits. Some table waits only on tables of its own cycle
        // (the cycle nothing else outside it feeds); take the lowest such.
        let in_cycle = || (0..n).find(|&i| !done[i] && waiting_on(i).all(|&p| ancestors[p].contains(&i)));
        let Some(next) = ready.or_else(in_cycle).or_else(|| (0..n).find(|&i| !done[i])) else { break };
        done[next] = true;
        order.push(next);
    }
    order
}

/// The DDL that recreates `catalog` on a database of dialect `target`. Tables go to
/// `target_schema` when given (a PostgreSQL schema, a MySQL database, an attached SQLite
/// database); otherwise a target that [keeps source schemas](TargetDialect::keeps_source_schemas)
/// keeps each table's (MySQL and SQLite sources have none: the connection's default), and the
/// others use the connection's database.
pub fn plan_schema(catalog: &Catalog, target: &dyn TargetDialect, target_schema: Option<&str>) -> SchemaPlan {
    let mut plan_warnings = Vec::new();
    let targets = target_names(catalog, target, target_schema, &mut plan_warnings);
    let mut ctx = Planner {
        catalog,
        target,
        dialect: target.sql(),
        targets,
        names: Names::default(),
        enums: HashMap::new(),
        keyed: keyed_columns(catalog),
        fk_related: fk_columns(catalog),
    };
    // Tables share the namespace of indexes, constraints' indexes and types (PostgreSQL).
    for t in &ctx.targets {
        ctx.names.reserve(&relation_namespace(target, t), t.table());
    }
    let mut tables = Vec::with_capacity(catalog.tables.len());
    let mut foreign_keys = Vec::new();
    for i in 0..catalog.tables.len() {
        let (ddl, fks) = ctx.table(i);
        tables.push(ddl);
        foreign_keys.extend(fks);
    }
    SchemaPlan { tables, foreign_keys, warnings: plan_warnings }
}

/// Target name of each table. Tables of different source schemas that would land on one name
/// are prefixed with their schema (`sales_orders`), with a warning.
fn target_names(
    catalog: &Catalog,
    target: &dyn TargetDialect,
    target_schema: Option<&str>,
    warnings: &mut Vec<String>,
) -> Vec<TableName> {
    let natural = |t: &TableDef| -> Vec<String> {
        let schema = match target_schema {
            Some(s) => Some(s.to_string()),
            None if target.keeps_source_schemas() => t.schema.clone(),
            None => None,
        };
        schema.into_iter().chain(std::iter::once(t.name.clone())).collect()
    };
    let mut count: HashMap<Vec<String>, Vec<usize>> = HashMap::new();
    for (i, t) in catalog.tables.iter().enumerate() {
        count.entry(natural(t)).or_default().push(i);
    }
    let mut names: Vec<TableName> = catalog.tables.iter().map(|t| TableName { parts: natural(t) }).collect();
    let mut collisions: Vec<(Vec<String>, Vec<usize>)> = count.into_iter().filter(|(_, v)| v.len() > 1).collect();
    collisions.sort();
    for (parts, members) in collisions {
        let mut renamed = Vec::new();
        for i in members {
            let t = &catalog.tables[i];
            let prefixed = match &t.schema {
                Some(s) => format!("{s}_{}", t.name),
                None => t.name.clone(),
            };
            if let Some(last) = names[i].parts.last_mut() {
                *last = prefixed.clone();
            }
            renamed.push(format!("{} as {prefixed}", t.display_name()));
        }
        warnings.push(format!(
            "tables of different schemas would all be created as {}: created {}",
            parts.join("."),
            renamed.join(", ")
        ));
    }
    names
}

/// `(table index, column)` pairs that a key, an index or a foreign key (either end) uses.
fn keyed_columns(catalog: &Catalog) -> HashSet<(usize, String)> {
    let mut keyed = fk_columns(catalog);
    for (i, t) in catalog.tables.iter().enumerate() {
        let keys = t.primary_key.iter().chain(&t.uniques).flat_map(|k| &k.columns);
        for c in keys.chain(t.indexes.iter().flat_map(|x| &x.columns)) {
            keyed.insert((i, c.clone()));
        }
    }
    keyed
}

/// `(table index, column)` pairs at either end of a foreign key.
fn fk_columns(catalog: &Catalog) -> HashSet<(usize, String)> {
    let mut related = HashSet::new();
    for (i, t) in catalog.tables.iter().enumerate() {
        for fk in &t.foreign_keys {
            related.extend(fk.columns.iter().map(|c| (i, c.clone())));
            if let Some(p) = catalog.referenced(fk) {
                related.extend(fk.ref_columns.iter().map(|c| (p, c.clone())));
            }
        }
    }
    related
}

/// Where index, constraint and type names must be unique (they share it with tables).
fn relation_namespace(target: &dyn TargetDialect, table: &TableName) -> String {
    match target.index_name_scope() {
        NameScope::Table => format!("table:{table}"),
        NameScope::Schema => format!("schema:{}", table.schema().unwrap_or("")),
    }
}

/// Hands out names that are unique in their namespace and fit the dialect's identifier length.
/// Candidates are made one at a time, and a numbered name continues from the last number given
/// out for the same wanted name, so a schema of many tables costs a few candidates per name
/// rather than a thousand.
#[derive(Default)]
struct Names {
    used: HashSet<(String, String)>,
    /// `(namespace, wanted, max)` → the next number to try for it (numbers below it are used).
    next_number: HashMap<(String, String, usize), usize>,
}

/// Numbered candidates stop here; past it the wanted name is used as it is.
const LAST_NUMBER: usize = 1000;

impl Names {
    fn reserve(&mut self, namespace: &str, name: &str) {
        self.used.insert((namespace.to_string(), name.to_string()));
    }

    /// `wanted`, else `<table>_<wanted>`, else with a number; cut to `max` bytes.
    fn allocate(&mut self, namespace: &str, wanted: &str, table: &str, max: usize) -> String {
        for candidate in [cut(wanted, max), cut(&format!("{table}_{wanted}"), max)] {
            if self.used.insert((namespace.to_string(), candidate.clone())) {
                return candidate;
            }
        }
        let key = (namespace.to_string(), wanted.to_string(), max);
        let start = self.next_number.get(&key).copied().unwrap_or(2);
        for n in start..LAST_NUMBER {
            let suffix = format!("_{n}");
            let candidate = format!("{}{suffix}", cut(wanted, max.saturating_sub(suffix.len())));
            if self.used.insert((namespace.to_string(), candidate.clone())) {
                self.next_number.insert(key, n + 1);
                return candidate;
            }
        }
        wanted.to_string()
    }
}

/// At most `max` bytes, cut on a character boundary.
fn cut(name: &str, max: usize) -> String {
    let mut end = name.len().min(max);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_string()
}

struct Planner<'a> {
    catalog: &'a Catalog,
    target: &'a dyn TargetDialect,
    dialect: Dialect,
    targets: Vec<TableName>,
    names: Names,
    /// Named enum types ([`EnumStyle::NamedType`]) created so far: qualified name → values.
    enums: HashMap<String, Vec<String>>,
    keyed: HashSet<(usize, String)>,
    fk_related: HashSet<(usize, String)>,
}

/// Whether a column may carry the table's identity on the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdentityRole {
    /// The table's row id ([`TargetDialect::rowid_type`]).
    Rowid,
    /// The table's first integer identity (the one MySQL allows).
    First,
    Other,
}

/// One column's rendering.
struct ColumnSql {
    type_sql: String,
    /// The whole column definition, for `CREATE TABLE`.
    definition: String,
    /// The column carries an identity on the target.
    identity: bool,
}

impl Planner<'_> {
    fn max_name(&self) -> usize {
        self.target.max_identifier_len()
    }

    fn table(&mut self, i: usize) -> (TableDdl, Vec<String>) {
        let catalog = self.catalog;
        let table = &catalog.tables[i];
        let target = self.targets[i].clone();
        let d = self.dialect;
        let mut warnings: Vec<String> = table.untranslated.iter().map(|u| u.warning()).collect();
        let mut create_types = Vec::new();
        let mut elements = Vec::new();
        let mut column_types = Vec::new();
        let mut identity_columns = Vec::new();
        // The row id: the single integer primary key column of an identity.
        let rowid = match &table.primary_key {
            Some(pk) if pk.columns.len() == 1 && self.target.rowid_type().is_some() => table
                .column(&pk.columns[0])
                .filter(|c| c.identity && c.column_type.is_integer())
                .map(|c| c.name.clone()),
            _ => None,
        };
        // MySQL allows one AUTO_INCREMENT column per table: the first integer identity.
        let auto_increment =
            table.columns.iter().find(|c| c.identity && c.column_type.is_integer()).map(|c| c.name.clone());
        for column in &table.columns {
            let role = if rowid.as_deref() == Some(&column.name) {
                IdentityRole::Rowid
            } else if auto_increment.as_deref() == Some(&column.name) {
                IdentityRole::First
            } else {
                IdentityRole::Other
            };
            let rendered = self.column(i, column, role, &mut create_types, &mut warnings);
            if rendered.identity {
                identity_columns.push(column.name.clone());
            }
            column_types.push((column.name.clone(), rendered.type_sql));
            elements.push(rendered.definition);
        }
        if let Some(pk) = &table.primary_key
            && rowid.is_none()
        {
            let name = match &pk.name {
                Some(name) if self.target.names_primary_keys() => {
                    let namespace = relation_namespace(self.target, &target);
                    let max = self.max_name();
                    Some(self.names.allocate(&namespace, name, target.table(), max))
                }
                _ => None,
            };
            elements.push(format!("{}PRIMARY KEY ({})", constraint(d, name.as_deref()), self.idents(&pk.columns)));
        }
        if self.target.identity_needs_index()
            && let Some(auto) = identity_columns.first()
            && table.primary_key.as_ref().and_then(|pk| pk.columns.first()) != Some(auto)
        {
            elements.push(format!("KEY ({})", d.ident(auto)));
        }
        let mut foreign_keys = Vec::new();
        for fk in &table.foreign_keys {
            let Some(clause) = self.foreign_key(i, fk, &mut warnings) else { continue };
            if self.target.alter_table_adds_constraints() {
                foreign_keys.push(format!("ALTER TABLE {} ADD {clause}", d.table(&target)));
            } else {
                elements.push(clause);
            }
        }
        let options = self.target.table_options().map(|o| format!(" {o}")).unwrap_or_default();
        let before_load = vec![format!("CREATE TABLE {} ({}){options}", d.table(&target), elements.join(", "))];
        let after_load = self.after_load(i, &target);
        let sequence_reset = self.target.sequence_reset(&target, &identity_columns);
        let ddl = TableDdl {
            source: (table.schema.clone(), table.name.clone()),
            target,
            create_types,
            before_load,
            after_load,
            sequence_reset,
            column_types,
            warnings,
        };
        (ddl, foreign_keys)
    }

    fn idents(&self, columns: &[String]) -> String {
        columns.iter().map(|c| self.dialect.ident(c)).collect::<Vec<_>>().join(", ")
    }

    fn column(
        &mut self,
        i: usize,
        column: &ColumnDef,
        role: IdentityRole,
        create_types: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> ColumnSql {
        let d = self.dialect;
        let catalog = self.catalog;
        let table = &catalog.tables[i];
        let rowid = role == IdentityRole::Rowid;
        let object = format!("{}.{}", table.name, column.name);
        let type_sql = match self.target.rowid_type() {
            Some(rowid_type) if rowid => rowid_type.to_string(),
            _ => self.column_type(i, column, &object, create_types, warnings),
        };
        let mut definition = format!("{} {type_sql}", d.ident(&column.name));
        if rowid {
            definition.push_str(" PRIMARY KEY");
            return ColumnSql { type_sql, definition, identity: true };
        }
        if !column.nullable {
            definition.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            match self.default_sql(column, default) {
                Ok(sql) => definition.push_str(&format!(" DEFAULT {sql}")),
                Err(why) => warnings.push(format!("default {object} is not carried over: {why}")),
            }
        }
        let mut identity = false;
        if column.identity {
            let first = role == IdentityRole::First;
            match self.target.identity_clause(column.column_type.is_integer(), first, &type_sql) {
                Ok(clause) => {
                    definition.push_str(clause);
                    identity = true;
                }
                Err(why) => warnings.push(format!("identity {object} is not carried over: {why}")),
            }
        }
        if let ColumnType::Enum { values, .. } = &column.column_type
            && self.target.enum_style() == EnumStyle::Check
        {
            let list: Vec<String> = values.iter().map(|v| d.string(v)).collect();
            definition.push_str(&format!(" CHECK ({} IN ({}))", d.ident(&column.name), list.join(", ")));
        }
        ColumnSql { type_sql, definition, identity }
    }

    fn column_type(
        &mut self,
        i: usize,
        column: &ColumnDef,
        object: &str,
        create_types: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> String {
        if let ColumnType::Enum { name, values } = &column.column_type
            && self.target.enum_style() == EnumStyle::NamedType
        {
            return self.named_enum(i, column, name, values, create_types);
        }
        let usage = ColumnUse {
            keyed: self.keyed.contains(&(i, column.name.clone())),
            in_foreign_key: self.fk_related.contains(&(i, column.name.clone())),
        };
        if self.catalog.source == Some(self.target.sql())
            && let Some(native) = self.target.native_type(column, usage)
        {
            return native;
        }
        let mut warn = |text: String| warnings.push(format!("column {object}: {text}"));
        self.target.column_type(column, usage, &mut warn)
    }

    /// The enum's type name on the target, creating it with the first table that uses it. An
    /// enum of the same name with other values gets its own `<table>_<column>` type.
    fn named_enum(
        &mut self,
        i: usize,
        column: &ColumnDef,
        name: &str,
        values: &[String],
        create_types: &mut Vec<String>,
    ) -> String {
        let d = self.dialect;
        let max = self.max_name();
        let target = &self.targets[i];
        let namespace = relation_namespace(self.target, target);
        let qualify = |type_name: &str| -> String {
            let parts: Vec<String> =
                target.schema().map(str::to_string).into_iter().chain(std::iter::once(type_name.to_string())).collect();
            d.table(&TableName { parts })
        };
        if let Some(existing) = self.enums.get(&qualify(name))
            && existing == values
        {
            return qualify(name);
        }
        let wanted = if self.enums.contains_key(&qualify(name)) {
            format!("{}_{}", target.table(), column.name)
        } else {
            name.to_string()
        };
        let type_name = self.names.allocate(&namespace, &wanted, target.table(), max);
        let qualified = qualify(&type_name);
        let list: Vec<String> = values.iter().map(|v| d.string(v)).collect();
        create_types.push(format!("CREATE TYPE {qualified} AS ENUM ({})", list.join(", ")));
        self.enums.insert(qualified.clone(), values.to_vec());
        qualified
    }

    fn default_sql(&self, column: &ColumnDef, default: &DefaultValue) -> Result<String, NotCarried> {
        match default {
            DefaultValue::Literal(literal) => Ok(self.literal(column, literal)),
            DefaultValue::CurrentTimestamp => self.target.current_timestamp_default(&column.column_type),
            DefaultValue::Untranslatable(expression) => Err(NotCarried::Expression(expression.clone())),
        }
    }

    /// A portable literal in the target's spelling: strings re-quoted for the dialect (MySQL
    /// escapes backslashes), `0`/`1` on a boolean column as `FALSE`/`TRUE`.
    fn literal(&self, column: &ColumnDef, literal: &str) -> String {
        let text = match defaults::quoted(literal, false) {
            Some((content, "")) => content,
            _ => return boolean_literal(column, literal).unwrap_or_else(|| literal.to_string()),
        };
        boolean_literal(column, &text).unwrap_or_else(|| self.dialect.string(&text))
    }

    fn foreign_key(&mut self, i: usize, fk: &ForeignKeyDef, warnings: &mut Vec<String>) -> Option<String> {
        let d = self.dialect;
        let max = self.max_name();
        let catalog = self.catalog;
        let table = &catalog.tables[i];
        let label = format!("{}.{}", table.name, fk.name.as_deref().unwrap_or(&fk.columns.join("_")));
        let Some(parent) = self.catalog.referenced(fk) else {
            let parent = match &fk.ref_schema {
                Some(s) => format!("{s}.{}", fk.ref_table),
                None => fk.ref_table.clone(),
            };
            warnings.push(format!(
                "foreign key {label} is not carried over: it references {parent}, which is not among the copied tables"
            ));
            return None;
        };
        let parent_name = &self.targets[parent];
        // Inside CREATE TABLE, REFERENCES takes a bare table name (the parent must be in the
        // same database).
        let parent_sql = if self.target.alter_table_adds_constraints() {
            d.table(parent_name)
        } else {
            d.ident(parent_name.table())
        };
        let target = self.target;
        let mut supported = |event: &str, action: &str| -> String {
            if let Err(why) = target.foreign_key_action(action) {
                warnings.push(format!("foreign key {label}: ON {event} {action} is {why}; created as NO ACTION"));
                return "NO ACTION".into();
            }
            action.to_string()
        };
        let on_delete = supported("DELETE", &fk.on_delete);
        let on_update = supported("UPDATE", &fk.on_update);
        let name = fk.name.as_ref().map(|n| {
            let namespace = match self.target.foreign_key_name_scope() {
                NameScope::Schema => format!("fk:{}", self.targets[i].schema().unwrap_or("")),
                NameScope::Table => format!("fk:{}", self.targets[i]),
            };
            self.names.allocate(&namespace, n, self.targets[i].table(), max)
        });
        Some(format!(
            "{}FOREIGN KEY ({}) REFERENCES {parent_sql} ({}) ON DELETE {on_delete} ON UPDATE {on_update}",
            constraint(d, name.as_deref()),
            self.idents(&fk.columns),
            self.idents(&fk.ref_columns)
        ))
    }

    fn after_load(&mut self, i: usize, target: &TableName) -> Vec<String> {
        let d = self.dialect;
        let catalog = self.catalog;
        let table = &catalog.tables[i];
        let namespace = relation_namespace(self.target, target);
        let max = self.max_name();
        let mut out = Vec::new();
        for key in &table.uniques {
            let columns = self.idents(&key.columns);
            if self.target.alter_table_adds_constraints() {
                let name = key.name.as_ref().map(|n| self.names.allocate(&namespace, n, target.table(), max));
                out.push(format!(
                    "ALTER TABLE {} ADD {}UNIQUE ({columns})",
                    d.table(target),
                    constraint(d, name.as_deref())
                ));
            } else {
                let wanted =
                    key.name.clone().unwrap_or_else(|| format!("{}_{}_key", target.table(), key.columns.join("_")));
                let name = self.names.allocate(&namespace, &wanted, target.table(), max);
                out.push(self.target.create_index(true, &name, target, &columns));
            }
        }
        for index in &table.indexes {
            let name = self.names.allocate(&namespace, &index.name, target.table(), max);
            let columns = self.idents(&index.columns);
            out.push(self.target.create_index(index.unique, &name, target, &columns));
        }
        out
    }
}

/// `CONSTRAINT "name" ` or nothing.
fn constraint(d: Dialect, name: Option<&str>) -> String {
    name.map(|n| format!("CONSTRAINT {} ", d.ident(n))).unwrap_or_default()
}

/// `TRUE`/`FALSE` for a boolean column's `0`/`1`/`true`/`false`.
fn boolean_literal(column: &ColumnDef, text: &str) -> Option<String> {
    if column.column_type != ColumnType::Boolean {
        return None;
    }
    match text.to_ascii_lowercase().as_str() {
        "0" | "false" | "f" => Some("FALSE".into()),
        "1" | "true" | "t" => Some("TRUE".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Names;

    /// The same wanted name in one namespace over and over: the name, the table's, then numbers
    /// in order, each given out once; another namespace starts afresh; numbering continues past
    /// a number taken meanwhile.
    #[test]
    fn names_are_numbered_in_order_and_never_twice() {
        let mut names = Names::default();
        let given: Vec<String> = (0..6).map(|_| names.allocate("schema:s", "created_idx", "t", 63)).collect();
        assert_eq!(
            given,
            ["created_idx", "t_created_idx", "created_idx_2", "created_idx_3", "created_idx_4", "created_idx_5"]
        );
        assert_eq!(names.allocate("schema:other", "created_idx", "t", 63), "created_idx");
        names.reserve("schema:s", "created_idx_6");
        assert_eq!(names.allocate("schema:s", "created_idx", "u", 63), "u_created_idx");
        assert_eq!(names.allocate("schema:s", "created_idx", "u", 63), "created_idx_7");
        // Cut to the identifier length, the number kept whole.
        assert_eq!(names.allocate("schema:s", "abcdefgh", "t", 8), "abcdefgh");
        assert_eq!(names.allocate("schema:s", "abcdefgh", "t", 8), "t_abcdef");
        assert_eq!(names.allocate("schema:s", "abcdefgh", "t", 8), "abcdef_2");
    }
}
