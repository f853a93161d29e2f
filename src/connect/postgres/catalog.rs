//! Reads a PostgreSQL database's schema from `pg_catalog`.
//!
//! Tables are the ordinary and partitioned tables (`relkind` `r`, `p`) of every schema except
//! `pg_catalog`, `information_schema` and `pg_toast`/`pg_temp`; partitions are left out, as
//! their rows are read through their parent. A filter pattern without a dot matches a table
//! name in any of those schemas.
//!
//! Carried over: columns (domains as their base type), `NOT NULL`, literal and current-time
//! defaults, serial and identity columns, enum types, primary keys, unique constraints, plain
//! b-tree indexes on columns (their column list and uniqueness; not sort order, `INCLUDE`
//! columns or operator classes), foreign keys with their actions. Listed as untranslated:
//! check and exclusion constraints, triggers, expression, partial and non-b-tree indexes,
//! generated-column expressions, domain constraints.

use std::collections::HashMap;

use tokio_postgres::{Client, Row};

use async_trait::async_trait;

use super::{connect, error_text, types::numeric_precision_scale};
use crate::connect::catalog::{CatalogReader, TableSetRead};
use crate::connect::catalog_error::CatalogError;
use crate::plan::Endpoint;
use crate::plan::sql::Dialect;
use crate::schema::defaults::{ParsedDefault, common_default, is_number, normalise_number, quote, quoted};
use crate::schema::model::{
    Catalog, ColumnDef, ColumnType, DefaultValue, ForeignKeyDef, IndexDef, KeyDef, TableDef, Untranslated,
};
use crate::schema::select::TableFilter;

const TABLES_SQL: &str = "\
SELECT c.oid, n.nspname::text, c.relname::text,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT COALESCE(sum(GREATEST(p.reltuples, 0)), 0)::float8
               FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid WHERE t.isleaf)
            ELSE GREATEST(c.reltuples, 0)::float8 END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY n.nspname, c.relname";

/// Domains are read as their base type (`eff`), with the domain's own name kept in
/// `source_type`.
const COLUMNS_SQL: &str = "\
SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
       t.typtype::text, eff.oid, eff.typname::text, eff.typtype::text, eff.typcategory::text,
       CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END,
       CASE WHEN t.typtype = 'd' THEN t.typname::text END
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type eff ON eff.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum";

const ENUMS_SQL: &str = "\
SELECT e.enumtypid, e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = ANY($1)
ORDER BY e.enumtypid, e.enumsortorder";

/// Constraints with their column names resolved in order. `conparentid = 0` leaves out the
/// copies PostgreSQL adds for each partition of a referenced partitioned table.
const CONSTRAINTS_SQL: &str = "\
SELECT con.conrelid, con.conname::text, con.contype::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
       fn.nspname::text, fc.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i),
       con.confupdtype::text, con.confdeltype::text, pg_get_constraintdef(con.oid)
FROM pg_constraint con
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE con.conrelid = ANY($1) AND con.conparentid = 0
ORDER BY con.conrelid, con.conname";

/// Indexes, with whether one backs a primary key, unique or exclusion constraint of its table.
const INDEXES_SQL: &str = "\
SELECT i.indrelid, ic.relname::text, i.indisunique,
       (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL), am.amname::text,
       ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o),
       i.indnkeyatts::int4, pg_get_indexdef(i.indexrelid),
       EXISTS (SELECT 1 FROM pg_constraint c
               WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_am am ON am.oid = ic.relam
WHERE i.indrelid = ANY($1)
ORDER BY i.indrelid, ic.relname";

const TRIGGERS_SQL: &str = "\
SELECT t.tgrelid, t.tgname::text, pg_get_triggerdef(t.oid)
FROM pg_trigger t WHERE t.tgrelid = ANY($1) AND NOT t.tgisinternal
ORDER BY t.tgrelid, t.tgname";

/// PostgreSQL's side of the catalog contract.
pub struct PostgresCatalog;

#[async_trait]
impl CatalogReader for PostgresCatalog {
    async fn read_catalog(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, CatalogError> {
        read_catalog(&endpoint.url, filter).await
    }

    /// The catalog, the descendants and every table's reads on one connection
    /// (`super::table_reads`).
    async fn read_table_set(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<TableSetRead, CatalogError> {
        let url = &endpoint.url;
        let client = connect(url).await.map_err(|e| CatalogError::backend(e, url))?;
        let reader = Reader { client: &client, url };
        let read = reader.read_tables(filter).await?;
        super::table_reads::read_table_set(&reader, read).await
    }
}

/// The selected tables of the database at `url`. Errors name the server with the password
/// redacted.
pub async fn read_catalog(url: &str, filter: &TableFilter) -> Result<Catalog, CatalogError> {
    let client = connect(url).await.map_err(|e| CatalogError::backend(e, url))?;
    let reader = Reader { client: &client, url };
    Ok(reader.read_tables(filter).await?.catalog())
}

/// One connection reading the catalog.
pub(super) struct Reader<'a> {
    pub(super) client: &'a Client,
    pub(super) url: &'a str,
}

/// The tables read, in `oids` order (not yet sorted), with each table's columns as the
/// catalog typed them, for `super::table_reads`.
pub(super) struct TablesRead {
    pub(super) tables: Vec<TableDef>,
    pub(super) oids: Vec<u32>,
    pub(super) columns: Vec<Vec<ColumnFacts>>,
}

impl TablesRead {
    /// The catalog, its tables sorted by `(schema, name)`.
    pub(super) fn catalog(self) -> Catalog {
        let mut tables = self.tables;
        tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        Catalog { tables, source: Some(Dialect::Postgres) }
    }
}

/// A column's type as the schema probe's result description will give it: a domain as its
/// base type, with the domain's type modifier.
#[derive(Debug, Clone)]
pub(super) struct ColumnFacts {
    pub(super) name: String,
    /// The base type (a domain's `typbasetype`): oid, name, `typtype`.
    pub(super) type_oid: u32,
    pub(super) type_name: String,
    pub(super) type_kind: String,
    pub(super) typmod: i32,
}

impl Reader<'_> {
    /// Runs catalog statement `sql`, which takes no parameter.
    pub(super) async fn query(&self, sql: &str) -> Result<Vec<Row>, CatalogError> {
        crate::connect::sql_log::record("postgres", crate::connect::sql_log::StatementKind::Query, sql);
        self.client.query(sql, &[]).await.map_err(|e| self.refused(sql, &e))
    }

    /// Runs catalog statement `sql` with the tables' `oids` as `$1`.
    pub(super) async fn query_oids(&self, sql: &str, oids: &[u32]) -> Result<Vec<Row>, CatalogError> {
        crate::connect::sql_log::record("postgres", crate::connect::sql_log::StatementKind::Query, sql);
        self.client.query(sql, &[&oids]).await.map_err(|e| self.refused(sql, &e))
    }

    fn refused(&self, sql: &str, e: &tokio_postgres::Error) -> CatalogError {
        CatalogError::refused("PostgreSQL", self.url, sql, &error_text(e))
    }

    async fn read_tables(&self, filter: &TableFilter) -> Result<TablesRead, CatalogError> {
        let mut tables: Vec<TableDef> = Vec::new();
        let mut oids: Vec<u32> = Vec::new();
        for row in self.query(TABLES_SQL).await? {
            let (schema, name): (String, String) = (get(&row, 1)?, get(&row, 2)?);
            if !filter.allows(Some(&schema), &name) {
                continue;
            }
            let estimate: f64 = get(&row, 3)?;
            oids.push(get(&row, 0)?);
            // A float estimate; saturating conversion, never negative.
            tables.push(TableDef::named(Some(schema), name, estimate.max(0.0) as u64));
        }
        let by_oid: HashMap<u32, usize> = oids.iter().enumerate().map(|(i, oid)| (*oid, i)).collect();
        let columns = self.columns(&oids, &by_oid, &mut tables).await?;
        self.constraints(&oids, &by_oid, &mut tables).await?;
        self.indexes(&oids, &by_oid, &mut tables).await?;
        self.triggers(&oids, &by_oid, &mut tables).await?;
        Ok(TablesRead { tables, oids, columns })
    }

    /// The columns of every table into `tables`; returns each table's [`ColumnFacts`].
    async fn columns(
        &self,
        oids: &[u32],
        by_oid: &HashMap<u32, usize>,
        tables: &mut [TableDef],
    ) -> Result<Vec<Vec<ColumnFacts>>, CatalogError> {
        let mut facts: Vec<Vec<ColumnFacts>> = vec![Vec::new(); tables.len()];
        let rows = self.query_oids(COLUMNS_SQL, oids).await?;
        // Enum labels for every enum type a column uses, in one query.
        let mut enum_oids: Vec<u32> = Vec::new();
        for row in &rows {
            if get::<String>(row, 10)? == "e" {
                enum_oids.push(get(row, 8)?);
            }
        }
        let mut enum_values: HashMap<u32, Vec<String>> = HashMap::new();
        if !enum_oids.is_empty() {
            for row in self.query_oids(ENUMS_SQL, &enum_oids).await? {
                enum_values.entry(get(&row, 0)?).or_default().push(get(&row, 1)?);
            }
        }
        for row in &rows {
            let Some(&t) = by_oid.get(&get::<u32>(row, 0)?) else { continue };
            let table = &mut tables[t];
            let name: String = get(row, 1)?;
            let source_type: String = get(row, 2)?;
            let not_null: bool = get(row, 3)?;
            let default_expr: Option<String> = get(row, 4)?;
            let identity_kind: String = get(row, 5)?;
            let generated: String = get(row, 6)?;
            let type_name: String = get(row, 9)?;
            let type_kind: String = get(row, 10)?;
            let category: String = get(row, 11)?;
            let typmod: i32 = get(row, 12)?;
            let domain: Option<String> = get(row, 13)?;
            facts[t].push(ColumnFacts {
                name: name.clone(),
                type_oid: get(row, 8)?,
                type_name: type_name.clone(),
                type_kind: type_kind.clone(),
                typmod,
            });
            let column_type = if type_kind == "e" {
                let values = enum_values.get(&get::<u32>(row, 8)?).cloned().unwrap_or_default();
                ColumnType::Enum { name: type_name, values }
            } else {
                column_type(&type_name, &category, typmod, &source_type)
            };
            let object = format!("{}.{name}", table.name);
            if let Some(domain) = domain {
                table.untranslated.push(Untranslated::new(
                    "domain",
                    object.clone(),
                    format!("{domain} (created as its base type; its constraints are not)"),
                ));
            }
            let mut identity = !identity_kind.is_empty();
            let mut default = None;
            if !generated.is_empty() {
                table.untranslated.push(Untranslated::new(
                    "generated column",
                    object.clone(),
                    format!(
                        "GENERATED ALWAYS AS {} STORED (copied as a plain column)",
                        default_expr.unwrap_or_default()
                    ),
                ));
            } else if let Some(expr) = default_expr {
                match parse_default(&expr) {
                    ParsedDefault::None => {}
                    ParsedDefault::Sequence => identity = true,
                    ParsedDefault::Value(v) => default = Some(v),
                }
            }
            table.columns.push(ColumnDef { name, source_type, column_type, nullable: !not_null, default, identity });
        }
        Ok(facts)
    }

    async fn constraints(
        &self,
        oids: &[u32],
        by_oid: &HashMap<u32, usize>,
        tables: &mut [TableDef],
    ) -> Result<(), CatalogError> {
        for row in self.query_oids(CONSTRAINTS_SQL, oids).await? {
            let Some(&t) = by_oid.get(&get::<u32>(&row, 0)?) else { continue };
            let table = &mut tables[t];
            let name: String = get(&row, 1)?;
            let kind: String = get(&row, 2)?;
            let columns: Vec<String> = get(&row, 3)?;
            let definition: String = get(&row, 9)?;
            let object = format!("{}.{name}", table.name);
            match kind.as_str() {
                "p" => table.primary_key = Some(KeyDef { name: Some(name), columns }),
                "u" => table.uniques.push(KeyDef { name: Some(name), columns }),
                "f" => table.foreign_keys.push(ForeignKeyDef {
                    name: Some(name),
                    columns,
                    ref_schema: get(&row, 4)?,
                    ref_table: get::<Option<String>>(&row, 5)?.unwrap_or_default(),
                    ref_columns: get(&row, 6)?,
                    on_update: action_name(&get::<String>(&row, 7)?).to_string(),
                    on_delete: action_name(&get::<String>(&row, 8)?).to_string(),
                }),
                "c" => table.untranslated.push(Untranslated::new("check constraint", object, definition)),
                "x" => table.untranslated.push(Untranslated::new("exclusion constraint", object, definition)),
                // Constraint triggers are listed with the triggers.
                _ => {}
            }
        }
        Ok(())
    }

    async fn indexes(
        &self,
        oids: &[u32],
        by_oid: &HashMap<u32, usize>,
        tables: &mut [TableDef],
    ) -> Result<(), CatalogError> {
        for row in self.query_oids(INDEXES_SQL, oids).await? {
            let Some(&t) = by_oid.get(&get::<u32>(&row, 0)?) else { continue };
            let backs_constraint: bool = get(&row, 8)?;
            if backs_constraint {
                continue;
            }
            let table = &mut tables[t];
            let name: String = get(&row, 1)?;
            let unique: bool = get(&row, 2)?;
            let special: bool = get(&row, 3)?;
            let method: String = get(&row, 4)?;
            let mut columns: Vec<String> = get(&row, 5)?;
            let key_count: i32 = get(&row, 6)?;
            let definition: String = get(&row, 7)?;
            if special || method != "btree" {
                table.untranslated.push(Untranslated::new("index", format!("{}.{name}", table.name), definition));
                continue;
            }
            columns.truncate(usize::try_from(key_count).unwrap_or(columns.len()));
            table.indexes.push(IndexDef { name, columns, unique });
        }
        Ok(())
    }

    async fn triggers(
        &self,
        oids: &[u32],
        by_oid: &HashMap<u32, usize>,
        tables: &mut [TableDef],
    ) -> Result<(), CatalogError> {
        for row in self.query_oids(TRIGGERS_SQL, oids).await? {
            let Some(&t) = by_oid.get(&get::<u32>(&row, 0)?) else { continue };
            let table = &mut tables[t];
            let name: String = get(&row, 1)?;
            table.untranslated.push(Untranslated::new("trigger", format!("{}.{name}", table.name), get(&row, 2)?));
        }
        Ok(())
    }
}

/// One column of a catalog row; a type mismatch is an error, not a panic.
pub(super) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, CatalogError> {
    row.try_get(i).map_err(|e| CatalogError::BadValue { backend: "PostgreSQL", column: i, problem: e.to_string() })
}

/// `pg_constraint.confupdtype`/`confdeltype` letters.
fn action_name(code: &str) -> &'static str {
    match code {
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        "r" => "RESTRICT",
        _ => "NO ACTION",
    }
}

/// The portable type of a (base) PostgreSQL type. `typmod` is -1 when the column declares none.
fn column_type(type_name: &str, category: &str, typmod: i32, source_type: &str) -> ColumnType {
    // A length modifier carries the 4-byte varlena header (VARHDRSZ).
    let length = (typmod >= 4).then(|| u32::try_from(typmod - 4).ok()).flatten();
    if category == "A" {
        return ColumnType::Other(source_type.to_string());
    }
    match type_name {
        "bool" => ColumnType::Boolean,
        "int2" => ColumnType::SmallInt,
        "int4" => ColumnType::Int,
        "int8" => ColumnType::BigInt,
        "float4" => ColumnType::Real,
        "float8" => ColumnType::Double,
        "numeric" => match numeric_precision_scale(typmod) {
            Some((p, s)) => match (u8::try_from(p), i8::try_from(s)) {
                (Ok(precision), Ok(scale)) => ColumnType::Decimal { precision, scale },
                _ => ColumnType::Numeric,
            },
            None => ColumnType::Numeric,
        },
        "bpchar" => match length {
            Some(length) => ColumnType::Char { length },
            None => ColumnType::Text,
        },
        "varchar" => ColumnType::Varchar { length },
        "text" | "name" => ColumnType::Text,
        "bytea" => ColumnType::Binary,
        "date" => ColumnType::Date,
        "time" => ColumnType::Time,
        "timestamp" => ColumnType::Timestamp,
        "timestamptz" => ColumnType::TimestampTz,
        "json" => ColumnType::JsonText,
        "jsonb" => ColumnType::Json,
        "uuid" => ColumnType::Uuid,
        _ => ColumnType::Other(source_type.to_string()),
    }
}

/// A default as `pg_get_expr` prints it: `'abc'::text`, `'-1'::integer`, `0.5`, `true`,
/// `now()`, `CURRENT_TIMESTAMP`, `nextval('t_id_seq'::regclass)`, ...
fn parse_default(expr: &str) -> ParsedDefault {
    let text = strip_parens(expr.trim());
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("nextval(") {
        return ParsedDefault::Sequence;
    }
    if let Some(common) = common_default(text) {
        return common;
    }
    if let Some((content, rest)) = quoted(text, false)
        && let Some(cast) = casts_only(rest)
    {
        return ParsedDefault::Value(DefaultValue::Literal(typed_literal(&content, cast)));
    }
    ParsedDefault::Value(DefaultValue::Untranslatable(expr.trim().to_string()))
}

/// `((x))` → `x`, only when the outer parentheses enclose everything.
fn strip_parens(mut text: &str) -> &str {
    while text.starts_with('(') && text.ends_with(')') && encloses_all(text) {
        text = text[1..text.len() - 1].trim();
    }
    text
}

fn encloses_all(text: &str) -> bool {
    let mut depth = 0i32;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 && i + 1 < text.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// After a literal, only `::type` casts (`::character varying`, `::"My Type"`, `::numeric(5,2)`):
/// the last cast's type, lower-cased. `Some("")` when there is nothing at all.
fn casts_only(rest: &str) -> Option<String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(String::new());
    }
    let mut last = None;
    for segment in rest.strip_prefix("::")?.split("::") {
        let ok = !segment.trim().is_empty() && segment.chars().all(|c| c.is_alphanumeric() || " _.\"(),[]".contains(c));
        if !ok {
            return None;
        }
        last = Some(segment.trim().to_ascii_lowercase());
    }
    last
}

/// A string literal cast to a type: numbers and booleans lose their quotes (`'-1'::integer`
/// → `-1`), everything else stays a quoted string.
fn typed_literal(content: &str, cast: String) -> String {
    let numeric = ["smallint", "integer", "bigint", "numeric", "real", "double precision"]
        .iter()
        .any(|t| cast == *t || cast.starts_with(&format!("{t}(")));
    if numeric && is_number(content) {
        return normalise_number(content);
    }
    if cast == "boolean" {
        match content.to_ascii_lowercase().as_str() {
            "t" | "true" => return "TRUE".into(),
            "f" | "false" => return "FALSE".into(),
            _ => {}
        }
    }
    quote(content)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> ParsedDefault {
        ParsedDefault::Value(DefaultValue::Literal(s.into()))
    }

    #[test]
    fn postgres_defaults() {
        let untranslatable = |s: &str| ParsedDefault::Value(DefaultValue::Untranslatable(s.into()));
        const NOW: ParsedDefault = ParsedDefault::Value(DefaultValue::CurrentTimestamp);
        assert_eq!(parse_default("nextval('t_id_seq'::regclass)"), ParsedDefault::Sequence);
        assert_eq!(parse_default("'new'::text"), lit("'new'"));
        assert_eq!(parse_default("'it''s'::character varying"), lit("'it''s'"));
        assert_eq!(parse_default("'-1'::integer"), lit("-1"));
        assert_eq!(parse_default("0.5"), lit("0.5"));
        assert_eq!(parse_default("(-1)"), lit("-1"));
        assert_eq!(parse_default("'15000000000'::numeric"), lit("15000000000"));
        assert_eq!(parse_default("'2020-01-01'::date"), lit("'2020-01-01'"));
        assert_eq!(parse_default("'new'::\"Status\""), lit("'new'"));
        assert_eq!(parse_default("'{}'::jsonb"), lit("'{}'"));
        assert_eq!(parse_default("'a\\b'::text"), lit("'a\\b'"));
        assert_eq!(parse_default("true"), lit("TRUE"));
        assert_eq!(parse_default("now()"), NOW);
        assert_eq!(parse_default("CURRENT_TIMESTAMP"), NOW);
        assert_eq!(parse_default("NULL::text"), ParsedDefault::None);
        assert_eq!(parse_default("lower('X'::text)"), untranslatable("lower('X'::text)"));
        assert_eq!(parse_default("'a'::text || 'b'::text"), untranslatable("'a'::text || 'b'::text"));
        assert_eq!(parse_default("(b * 2)"), untranslatable("(b * 2)"));
        assert_eq!(parse_default("('now'::text)::date"), untranslatable("('now'::text)::date"));
    }

    #[test]
    fn maps_base_types() {
        assert_eq!(
            column_type("numeric", "N", (12 << 16 | 2) + 4, "numeric(12,2)"),
            ColumnType::Decimal { precision: 12, scale: 2 }
        );
        assert_eq!(column_type("numeric", "N", -1, "numeric"), ColumnType::Numeric);
        assert_eq!(column_type("numeric", "N", (1000 << 16) + 4, "numeric(1000,0)"), ColumnType::Numeric);
        assert_eq!(column_type("varchar", "S", 44, "character varying(40)"), ColumnType::Varchar { length: Some(40) });
        assert_eq!(column_type("varchar", "S", -1, "character varying"), ColumnType::Varchar { length: None });
        assert_eq!(column_type("bpchar", "S", 7, "character(3)"), ColumnType::Char { length: 3 });
        assert_eq!(column_type("int4", "A", -1, "integer[]"), ColumnType::Other("integer[]".into()));
        assert_eq!(column_type("inet", "I", -1, "inet"), ColumnType::Other("inet".into()));
    }
}
