//! Reads a MySQL/MariaDB database's schema from `information_schema`: the base tables of the
//! URL's database. Tables get `schema: None` (the database is where the URL points, and a
//! target names its own); a dotted filter pattern matches `database.table`.
//!
//! Carried over: columns, `NOT NULL`, literal and current-time defaults, `AUTO_INCREMENT`,
//! `ENUM`s (as enum types named `<table>_<column>`), primary keys, unique keys, plain indexes
//! (column prefix lengths are a MySQL storage detail and are dropped), foreign keys with their
//! actions. MariaDB's `JSON` is `LONGTEXT` with a `json_valid` check: such columns are read as
//! JSON and the check is not reported. Listed as untranslated: other checks, triggers,
//! `ON UPDATE` clauses, generated-column expressions, full-text, spatial and functional indexes.
//!
//! The driver blocks, so the reading runs on tokio's blocking pool.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};

use async_trait::async_trait;

use super::types::{CatalogColumn, Tinyint1};
use crate::connect::catalog::{CatalogReader, PrimaryKeyFacts, ReadAs, TableRead, TableSetRead};
use crate::connect::catalog_error::CatalogError;
use crate::plan::Endpoint;
use crate::plan::endpoint::redact_url;
use crate::plan::sql::Dialect;
use crate::schema::defaults::{ParsedDefault, common_or_literal, is_number, normalise_number, quote, quoted};
use crate::schema::model::{
    Catalog, ColumnDef, ColumnType, DefaultValue, ForeignKeyDef, IndexDef, KeyDef, TableDef, Untranslated, fk_action,
};
use crate::schema::select::TableFilter;

const TABLES_SQL: &str = "\
SELECT TABLE_NAME, TABLE_ROWS, CAST(AVG_ROW_LENGTH AS SIGNED) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')";

const COLUMNS_SQL: &str = "\
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, GENERATION_EXPRESSION,
       CHARACTER_SET_NAME, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, ORDINAL_POSITION";

const KEYS_SQL: &str = "\
SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = tc.TABLE_NAME
 AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION";

const ACTIONS_SQL: &str = "\
SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE
FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()";

const INDEXES_SQL: &str = "\
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, INDEX_TYPE
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

/// MariaDB's `CHECK_CONSTRAINTS` has the table and the level (a column's own check, such as
/// the `json_valid` of a JSON column, is named after the column).
const MARIADB_CHECKS_SQL: &str = "\
SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE, LEVEL
FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()";

/// MySQL 8 names checks uniquely per database and keeps the table in `TABLE_CONSTRAINTS`.
const MYSQL_CHECKS_SQL: &str = "\
SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE, 'Table'
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc
  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK'";

const TRIGGERS_SQL: &str = "\
SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT
FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()
ORDER BY EVENT_OBJECT_TABLE, TRIGGER_NAME";

/// MySQL's side of the catalog contract. `TINYINT(1)` columns are read as the endpoint's
/// `tinyint1` option says, as the reader reads them.
pub struct MysqlCatalog;

#[async_trait]
impl CatalogReader for MysqlCatalog {
    async fn read_catalog(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, CatalogError> {
        read_catalog(&endpoint.url, filter, Tinyint1::of(endpoint)).await
    }

    /// The catalog and every table's reads, from the same statements on one connection: the
    /// row estimate and width are `TABLES`' own columns, the schema is the columns' types
    /// mapped as the probe maps its result's (`super::types::catalog_column`).
    async fn read_table_set(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<TableSetRead, CatalogError> {
        let (url, filter, tinyint1) = (endpoint.url.clone(), filter.clone(), Tinyint1::of(endpoint));
        tokio::task::spawn_blocking(move || {
            let mut conn = super::session::open_session(&url).map_err(|e| CatalogError::backend(e, &url))?;
            let mut reader = Reader { conn: &mut conn, url: &url, tinyint1, facts: BTreeMap::new() };
            let catalog = reader.read(&filter)?;
            let reads = reader.table_reads(&catalog);
            Ok(TableSetRead { catalog, descendants: Default::default(), reads })
        })
        .await
        .map_err(|e| CatalogError::stopped("MySQL", &e))?
    }
}

/// The selected tables of the database the URL names. Errors name the server with the password
/// redacted.
///
/// `tinyint1` says whether `TINYINT(1)` columns are booleans (the default) or integers, as the
/// reader reads them (`connect::mysql::types::Tinyint1`): the DDL and the data agree.
pub async fn read_catalog(url: &str, filter: &TableFilter, tinyint1: Tinyint1) -> Result<Catalog, CatalogError> {
    let (url, filter) = (url.to_string(), filter.clone());
    tokio::task::spawn_blocking(move || read_blocking(&url, &filter, tinyint1))
        .await
        .map_err(|e| CatalogError::stopped("MySQL", &e))?
}

/// [`read_catalog`] on the calling thread.
pub fn read_blocking(url: &str, filter: &TableFilter, tinyint1: Tinyint1) -> Result<Catalog, CatalogError> {
    let mut conn = super::session::open_session(url).map_err(|e| CatalogError::backend(e, url))?;
    let mut reader = Reader { conn: &mut conn, url, tinyint1, facts: BTreeMap::new() };
    reader.read(filter)
}

struct Reader<'a> {
    conn: &'a mut Conn,
    url: &'a str,
    tinyint1: Tinyint1,
    /// What the catalog's rows say of each table beyond its definition, for `table_reads`.
    facts: BTreeMap<String, TableFacts>,
}

/// A table's row estimate and width (`TABLES`) and its columns as the catalog types them.
#[derive(Debug, Default)]
struct TableFacts {
    rows: Option<String>,
    width: Option<i64>,
    columns: Vec<CatalogColumn>,
    /// A column `SELECT *` leaves out (`INVISIBLE`): the probe is asked.
    invisible: bool,
}

impl Reader<'_> {
    fn query(&mut self, sql: &str) -> Result<Vec<Row>, CatalogError> {
        crate::connect::sql_log::record("mysql", crate::connect::sql_log::StatementKind::Query, sql);
        let url = self.url;
        self.conn.query::<Row, _>(sql).map_err(|e| CatalogError::refused("MySQL", url, sql, &super::error_text(&e)))
    }

    fn read(&mut self, filter: &TableFilter) -> Result<Catalog, CatalogError> {
        let info = self.query("SELECT DATABASE(), VERSION()")?;
        let first = info.first().ok_or(CatalogError::NoRow { backend: "MySQL", statement: "SELECT DATABASE()" })?;
        let database = text(first, 0)?.ok_or_else(|| CatalogError::NoDatabase { server: redact_url(self.url) })?;
        let mariadb = text(first, 1)?.unwrap_or_default().contains("MariaDB");

        let mut tables: BTreeMap<String, TableDef> = BTreeMap::new();
        for row in self.query(TABLES_SQL)? {
            let name = required(&row, 0)?;
            if !filter.allows(Some(&database), &name) {
                continue;
            }
            let rows = text(&row, 1)?;
            let estimated_rows = rows.as_deref().and_then(|n| n.parse().ok()).unwrap_or(0);
            let width = text(&row, 2)?.and_then(|w| w.parse().ok());
            self.facts.insert(name.clone(), TableFacts { rows, width, ..TableFacts::default() });
            tables.insert(name.clone(), TableDef::named(None, name, estimated_rows));
        }
        let json_columns = self.checks(mariadb, &mut tables)?;
        self.columns(mariadb, &json_columns, &mut tables)?;
        let uniques = self.keys(&database, &mut tables)?;
        self.indexes(&uniques, &mut tables)?;
        self.triggers(&mut tables)?;
        Ok(Catalog { tables: tables.into_values().collect(), source: Some(Dialect::Mysql) })
    }

    /// Check constraints as untranslated, except MariaDB's `json_valid` column checks, whose
    /// columns are returned as `(table, column)`.
    fn checks(
        &mut self,
        mariadb: bool,
        tables: &mut BTreeMap<String, TableDef>,
    ) -> Result<HashSet<(String, String)>, CatalogError> {
        let mut json_columns = HashSet::new();
        let sql = if mariadb { MARIADB_CHECKS_SQL } else { MYSQL_CHECKS_SQL };
        let mut rows = self.query(sql)?;
        rows.sort_by_key(|r| (text(r, 0).ok().flatten(), text(r, 1).ok().flatten()));
        for row in rows {
            let table_name = required(&row, 0)?;
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let name = required(&row, 1)?;
            let clause = required(&row, 2)?;
            let column_level = text(&row, 3)?.is_some_and(|l| l.eq_ignore_ascii_case("column"));
            if column_level && clause == format!("json_valid(`{}`)", name.replace('`', "``")) {
                json_columns.insert((table_name, name));
                continue;
            }
            table.untranslated.push(Untranslated::new(
                "check constraint",
                format!("{table_name}.{name}"),
                format!("CHECK ({clause})"),
            ));
        }
        Ok(json_columns)
    }

    fn columns(
        &mut self,
        mariadb: bool,
        json_columns: &HashSet<(String, String)>,
        tables: &mut BTreeMap<String, TableDef>,
    ) -> Result<(), CatalogError> {
        for row in self.query(COLUMNS_SQL)? {
            let table_name = required(&row, 0)?;
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let name = required(&row, 1)?;
            let source_type = required(&row, 2)?;
            let data_type = required(&row, 3)?.to_ascii_lowercase();
            let nullable = required(&row, 4)? == "YES";
            let column_default = text(&row, 5)?;
            let extra = text(&row, 6)?.unwrap_or_default();
            let extra_lower = extra.to_ascii_lowercase();
            let object = format!("{table_name}.{name}");
            if let Some(facts) = self.facts.get_mut(&table_name) {
                let number =
                    |i: usize| -> Result<Option<u32>, CatalogError> { Ok(text(&row, i)?.and_then(|n| n.parse().ok())) };
                facts.invisible |= extra_lower.contains("invisible");
                facts.columns.push(CatalogColumn {
                    name: name.clone(),
                    data_type: data_type.clone(),
                    column_type: source_type.clone(),
                    nullable,
                    charset: text(&row, 8)?,
                    numeric_precision: number(9)?,
                    numeric_scale: number(10)?,
                    datetime_precision: number(11)?,
                });
            }
            // MariaDB's JSON is LONGTEXT with a `json_valid` check: it keeps the text as written.
            let column_type = if json_columns.contains(&(table_name.clone(), name.clone())) {
                ColumnType::JsonText
            } else {
                column_type(&data_type, &source_type, &format!("{table_name}_{name}"), self.tinyint1)
            };
            let mut default = None;
            if extra_lower.contains("generated") && !extra_lower.contains("default_generated") {
                let expression = text(&row, 7)?.unwrap_or_default();
                table.untranslated.push(Untranslated::new(
                    "generated column",
                    object.clone(),
                    format!("{extra} AS ({expression}) (copied as a plain column)"),
                ));
            } else {
                let expression = mariadb || extra_lower.contains("default_generated");
                match parse_default(column_default.as_deref(), mariadb, expression) {
                    ParsedDefault::Value(v) => default = Some(v),
                    ParsedDefault::None | ParsedDefault::Sequence => {}
                }
            }
            if let Some(at) = extra_lower.find("on update ") {
                table.untranslated.push(Untranslated::new("default", object.clone(), extra[at..].to_uppercase()));
            }
            table.columns.push(ColumnDef {
                name,
                source_type,
                column_type,
                nullable,
                default,
                identity: extra_lower.contains("auto_increment"),
            });
        }
        Ok(())
    }

    /// Primary, unique and foreign keys; returns the names of the unique keys per table (their
    /// indexes are not listed again as indexes).
    fn keys(
        &mut self,
        database: &str,
        tables: &mut BTreeMap<String, TableDef>,
    ) -> Result<HashSet<(String, String)>, CatalogError> {
        let mut actions: HashMap<(String, String), (String, String)> = HashMap::new();
        for row in self.query(ACTIONS_SQL)? {
            let key = (required(&row, 0)?, required(&row, 1)?);
            actions.insert(key, (fk_action(&required(&row, 2)?), fk_action(&required(&row, 3)?)));
        }
        let mut uniques = HashSet::new();
        for row in self.query(KEYS_SQL)? {
            let table_name = required(&row, 0)?;
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let name = required(&row, 1)?;
            let kind = required(&row, 2)?;
            let column = required(&row, 3)?;
            match kind.as_str() {
                "PRIMARY KEY" => table
                    .primary_key
                    .get_or_insert_with(|| KeyDef { name: None, columns: Vec::new() })
                    .columns
                    .push(column),
                "UNIQUE" => {
                    uniques.insert((table_name.clone(), name.clone()));
                    match table.uniques.iter_mut().find(|k| k.name.as_deref() == Some(name.as_str())) {
                        Some(key) => key.columns.push(column),
                        None => table.uniques.push(KeyDef { name: Some(name), columns: vec![column] }),
                    }
                }
                _ => {
                    let ref_column = required(&row, 6)?;
                    match table.foreign_keys.iter_mut().find(|k| k.name.as_deref() == Some(name.as_str())) {
                        Some(fk) => {
                            fk.columns.push(column);
                            fk.ref_columns.push(ref_column);
                        }
                        None => {
                            let (on_update, on_delete) = actions
                                .get(&(table_name.clone(), name.clone()))
                                .cloned()
                                .unwrap_or_else(|| ("NO ACTION".into(), "NO ACTION".into()));
                            let ref_schema = text(&row, 4)?.filter(|s| s != database);
                            table.foreign_keys.push(ForeignKeyDef {
                                name: Some(name),
                                columns: vec![column],
                                ref_schema,
                                ref_table: required(&row, 5)?,
                                ref_columns: vec![ref_column],
                                on_delete,
                                on_update,
                            });
                        }
                    }
                }
            }
        }
        Ok(uniques)
    }

    fn indexes(
        &mut self,
        uniques: &HashSet<(String, String)>,
        tables: &mut BTreeMap<String, TableDef>,
    ) -> Result<(), CatalogError> {
        let mut found: BTreeMap<(String, String), StatisticsIndex> = BTreeMap::new();
        for row in self.query(INDEXES_SQL)? {
            let table_name = required(&row, 0)?;
            let name = required(&row, 1)?;
            if !tables.contains_key(&table_name)
                || name == "PRIMARY"
                || uniques.contains(&(table_name.clone(), name.clone()))
            {
                continue;
            }
            let unique = text(&row, 2)?.as_deref() == Some("0");
            let index_type = text(&row, 4)?.unwrap_or_default();
            let column = text(&row, 3)?;
            found
                .entry((table_name, name))
                .or_insert_with(|| StatisticsIndex { unique, index_type, columns: Vec::new() })
                .columns
                .push(column);
        }
        for ((table_name, name), StatisticsIndex { unique, index_type, columns }) in found {
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let plain: Option<Vec<String>> = columns.iter().cloned().collect();
            match plain {
                Some(columns)
                    if index_type.eq_ignore_ascii_case("BTREE") || index_type.eq_ignore_ascii_case("HASH") =>
                {
                    table.indexes.push(IndexDef { name, columns, unique })
                }
                _ => {
                    let parts: Vec<String> =
                        columns.into_iter().map(|c| c.unwrap_or_else(|| "(expression)".into())).collect();
                    table.untranslated.push(Untranslated::new(
                        "index",
                        format!("{table_name}.{name}"),
                        format!("{index_type} INDEX ({})", parts.join(", ")),
                    ));
                }
            }
        }
        Ok(())
    }

    fn triggers(&mut self, tables: &mut BTreeMap<String, TableDef>) -> Result<(), CatalogError> {
        for row in self.query(TRIGGERS_SQL)? {
            let table_name = required(&row, 0)?;
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let name = required(&row, 1)?;
            let definition =
                format!("{} {} FOR EACH ROW {}", required(&row, 2)?, required(&row, 3)?, required(&row, 4)?);
            table.untranslated.push(Untranslated::new("trigger", format!("{table_name}.{name}"), definition));
        }
        Ok(())
    }
}

impl Reader<'_> {
    /// Each table's [`TableRead`] from what [`Self::read`] found: MySQL has no inheritance, so
    /// reading a table `ONLY` or not is the same; `TABLE_ROWS` is both the row estimate
    /// (`row_estimate_sql`) and the primary key's row count (`auto_partition_sql`),
    /// `AVG_ROW_LENGTH` the width (`row_width_sql`).
    fn table_reads(&self, catalog: &Catalog) -> BTreeMap<String, TableRead> {
        let mut reads = BTreeMap::new();
        for table in &catalog.tables {
            let Some(facts) = self.facts.get(&table.name) else { continue };
            let schema = if facts.invisible { None } else { self.schema(&facts.columns) };
            let read_as = ReadAs {
                notes: Vec::new(),
                rows: facts.rows.as_deref().and_then(|r| r.parse().ok()),
                width: facts.width,
            };
            let primary_key = table.primary_key.as_ref().and_then(|key| {
                let column = key.columns.iter().max()?.clone();
                let type_name = facts.columns.iter().find(|c| c.name == column)?.data_type.clone();
                Some(PrimaryKeyFacts {
                    column,
                    columns: key.columns.len(),
                    rows: facts.rows.as_deref().and_then(|r| r.parse().ok()),
                    type_name,
                })
            });
            reads
                .insert(table.display_name(), TableRead { schema, whole: read_as.clone(), only: read_as, primary_key });
        }
        reads
    }

    /// The schema the probe of `SELECT *` returns, by the probe's own mapping
    /// (`super::types::arrow_field`) of the result columns the catalog describes; `None` when a
    /// column's type is not one the catalog is sure of.
    fn schema(&self, columns: &[CatalogColumn]) -> Option<SchemaRef> {
        let fields = columns
            .iter()
            .map(|c| super::types::arrow_field(&super::types::catalog_column(c)?, self.tinyint1).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Arc::new(Schema::new(fields)))
    }
}

/// One index as `STATISTICS` lists it, a row per column.
struct StatisticsIndex {
    unique: bool,
    /// `BTREE`, `HASH`, `FULLTEXT`, `SPATIAL`, ...
    index_type: String,
    /// `None` for a functional part (MySQL 8).
    columns: Vec<Option<String>>,
}

/// A catalog value as text (`information_schema` sends text, numbers included), `None` for NULL.
fn text(row: &Row, i: usize) -> Result<Option<String>, CatalogError> {
    match row.as_ref(i) {
        None => {
            Err(CatalogError::BadValue { backend: "MySQL", column: i, problem: "the row has no such column".into() })
        }
        Some(Value::NULL) => Ok(None),
        Some(Value::Bytes(bytes)) => Ok(Some(String::from_utf8_lossy(bytes).into_owned())),
        Some(Value::Int(n)) => Ok(Some(n.to_string())),
        Some(Value::UInt(n)) => Ok(Some(n.to_string())),
        Some(other) => Ok(Some(other.as_sql(true))),
    }
}

fn required(row: &Row, i: usize) -> Result<String, CatalogError> {
    text(row, i)?.ok_or_else(|| CatalogError::BadValue { backend: "MySQL", column: i, problem: "NULL".into() })
}

/// The portable type of a column from `DATA_TYPE` and `COLUMN_TYPE` (`int(10) unsigned`,
/// `enum('a','b')`, `decimal(10,2)`). `enum_name` names an `ENUM`'s type; `tinyint1` says
/// whether `tinyint(1)` is a boolean. `BIT(n)` is a bit string and `TIME` a span (it holds
/// `-838:59:59` to `838:59:59`), matching what the reader delivers (see
/// `connect::mysql::types`).
pub fn column_type(data_type: &str, column_type: &str, enum_name: &str, tinyint1: Tinyint1) -> ColumnType {
    let lower = column_type.to_ascii_lowercase();
    let unsigned = lower.contains(" unsigned");
    let args: Vec<u32> = match (lower.find('('), lower.find(')')) {
        (Some(open), Some(close)) if open < close && data_type != "enum" && data_type != "set" => {
            lower[open + 1..close].split(',').filter_map(|a| a.trim().parse().ok()).collect()
        }
        _ => Vec::new(),
    };
    let arg = |i: usize| args.get(i).copied();
    match data_type {
        "tinyint" if lower.starts_with("tinyint(1)") && !unsigned && tinyint1 == Tinyint1::Boolean => {
            ColumnType::Boolean
        }
        "bool" | "boolean" => ColumnType::Boolean,
        "tinyint" => ColumnType::SmallInt,
        "smallint" if unsigned => ColumnType::Int,
        "smallint" => ColumnType::SmallInt,
        "mediumint" => ColumnType::Int,
        "int" | "integer" if unsigned => ColumnType::BigInt,
        "int" | "integer" => ColumnType::Int,
        "bigint" if unsigned => ColumnType::BigIntUnsigned,
        "bigint" => ColumnType::BigInt,
        "decimal" | "numeric" | "dec" | "fixed" => {
            let precision = arg(0).unwrap_or(10);
            let scale = arg(1).unwrap_or(0);
            match (u8::try_from(precision), i8::try_from(scale)) {
                (Ok(precision), Ok(scale)) => ColumnType::Decimal { precision, scale },
                _ => ColumnType::Numeric,
            }
        }
        "float" => ColumnType::Real,
        "double" | "real" | "double precision" => ColumnType::Double,
        "bit" => ColumnType::Bit { length: arg(0).unwrap_or(1).clamp(1, 64) },
        "char" => ColumnType::Char { length: arg(0).unwrap_or(1) },
        "varchar" => ColumnType::Varchar { length: arg(0) },
        "tinytext" | "text" | "mediumtext" | "longtext" => ColumnType::Text,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => ColumnType::Binary,
        "date" => ColumnType::Date,
        "time" => ColumnType::Duration,
        "datetime" => ColumnType::Timestamp,
        "timestamp" => ColumnType::TimestampTz,
        "year" => ColumnType::SmallInt,
        "json" => ColumnType::Json,
        "uuid" => ColumnType::Uuid,
        "enum" => ColumnType::Enum { name: enum_name.to_string(), values: enum_values(column_type) },
        _ => ColumnType::Other(column_type.to_string()),
    }
}

/// The values of `enum('a','it''s','a\\b')`, as the server quotes them in `COLUMN_TYPE`.
fn enum_values(column_type: &str) -> Vec<String> {
    let Some(open) = column_type.find('(') else { return Vec::new() };
    let mut rest = &column_type[open + 1..];
    let mut values = Vec::new();
    while let Some((value, after)) = quoted(rest.trim_start(), true) {
        values.push(value);
        rest = after.trim_start().strip_prefix(',').unwrap_or(after);
    }
    values
}

/// A default as `information_schema.COLUMNS.COLUMN_DEFAULT` holds it. MariaDB (10.2.7+):
/// literals quoted with MySQL escapes, `NULL` as text, `current_timestamp()`, expressions as
/// written. MySQL 8 stores string literals unquoted instead; `quoted_literals` says which, and
/// `expression` whether the server marks the default as an expression.
fn parse_default(column_default: Option<&str>, quoted_literals: bool, expression: bool) -> ParsedDefault {
    let Some(raw) = column_default else { return ParsedDefault::None };
    let text = raw.trim();
    if !quoted_literals && !expression {
        // MySQL 8: a literal, unquoted; numbers stay numbers.
        return ParsedDefault::Value(DefaultValue::Literal(if is_number(text) {
            normalise_number(text)
        } else {
            quote(text)
        }));
    }
    common_or_literal(text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> ParsedDefault {
        ParsedDefault::Value(DefaultValue::Literal(s.into()))
    }
    fn untranslatable(s: &str) -> ParsedDefault {
        ParsedDefault::Value(DefaultValue::Untranslatable(s.into()))
    }
    const NOW: ParsedDefault = ParsedDefault::Value(DefaultValue::CurrentTimestamp);

    #[test]
    fn mariadb_defaults() {
        assert_eq!(parse_default(None, true, true), ParsedDefault::None);
        assert_eq!(parse_default(Some("NULL"), true, true), ParsedDefault::None);
        assert_eq!(parse_default(Some("'NULL'"), true, true), lit("'NULL'"));
        assert_eq!(parse_default(Some("'it''s'"), true, true), lit("'it''s'"));
        assert_eq!(parse_default(Some("'a\\\\b'"), true, true), lit("'a\\b'"));
        assert_eq!(parse_default(Some("-1"), true, true), lit("-1"));
        assert_eq!(parse_default(Some("current_timestamp()"), true, true), NOW);
        assert_eq!(parse_default(Some("current_timestamp(3)"), true, true), NOW);
        assert_eq!(parse_default(Some("uuid()"), true, true), untranslatable("uuid()"));
        assert_eq!(parse_default(Some("b'1'"), true, true), untranslatable("b'1'"));
        assert_eq!(parse_default(Some("(1 + 1)"), true, true), untranslatable("(1 + 1)"));
    }

    #[test]
    fn mysql8_defaults() {
        assert_eq!(parse_default(Some("abc"), false, false), lit("'abc'"));
        assert_eq!(parse_default(Some("1.50"), false, false), lit("1.50"));
        assert_eq!(parse_default(Some("CURRENT_TIMESTAMP"), false, true), NOW);
        assert_eq!(parse_default(Some("(now() + 1)"), false, true), untranslatable("(now() + 1)"));
    }

    #[test]
    fn maps_mysql_types() {
        let t = |d: &str, c: &str| column_type(d, c, "t_c", Tinyint1::Boolean);
        assert_eq!(t("tinyint", "tinyint(1)"), ColumnType::Boolean);
        assert_eq!(column_type("tinyint", "tinyint(1)", "t_c", Tinyint1::Integer), ColumnType::SmallInt);
        assert_eq!(t("bit", "bit(1)"), ColumnType::Bit { length: 1 });
        assert_eq!(t("bit", "bit(12)"), ColumnType::Bit { length: 12 });
        assert_eq!(t("time", "time(6)"), ColumnType::Duration);
        assert_eq!(t("tinyint", "tinyint(4)"), ColumnType::SmallInt);
        assert_eq!(t("tinyint", "tinyint(1) unsigned"), ColumnType::SmallInt);
        assert_eq!(t("int", "int(10) unsigned zerofill"), ColumnType::BigInt);
        assert_eq!(t("int", "int(11)"), ColumnType::Int);
        assert_eq!(t("bigint", "bigint(20) unsigned"), ColumnType::BigIntUnsigned);
        assert_eq!(t("mediumint", "mediumint(8) unsigned"), ColumnType::Int);
        assert_eq!(t("decimal", "decimal(10,2) unsigned"), ColumnType::Decimal { precision: 10, scale: 2 });
        assert_eq!(t("varchar", "varchar(20)"), ColumnType::Varchar { length: Some(20) });
        assert_eq!(t("char", "char(3)"), ColumnType::Char { length: 3 });
        assert_eq!(t("timestamp", "timestamp"), ColumnType::TimestampTz);
        assert_eq!(t("datetime", "datetime(3)"), ColumnType::Timestamp);
        assert_eq!(t("year", "year(4)"), ColumnType::SmallInt);
        assert_eq!(t("set", "set('x','y')"), ColumnType::Other("set('x','y')".into()));
        assert_eq!(
            t("enum", "enum('a\\\\b','c''d','e,f')"),
            ColumnType::Enum { name: "t_c".into(), values: vec!["a\\b".into(), "c'd".into(), "e,f".into()] }
        );
    }
}
