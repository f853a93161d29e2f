//! Reads a SQLite file's schema with `PRAGMA table_list/table_info/index_list/index_xinfo/
//! foreign_key_list` and `sqlite_master`. The file is opened read-only: a missing file is an
//! error, not a new empty database.
//!
//! SQLite types are declared names with an affinity; they map by name where it is a known one
//! (`VARCHAR(20)`, `BOOLEAN`, `TIMESTAMP`, ...) and by SQLite's affinity rules otherwise. A
//! column declared exactly `INTEGER` that is the whole primary key of a rowid table is the
//! rowid: the database assigns it, so it is an identity. Constraint names are not listed by
//! the pragmas: keys and foreign keys have none, unique constraints are named by SQLite's
//! `sqlite_autoindex_*`, which the target does not keep. `CHECK` clauses are found in the
//! table's `CREATE TABLE` text and reported as untranslated, as are triggers, partial and
//! expression indexes, and generated columns.

use rusqlite::{Connection, OpenFlags};

use async_trait::async_trait;

use crate::connect::catalog::CatalogReader;
use crate::connect::catalog_error::CatalogError;
use crate::plan::Endpoint;
use crate::plan::sql::Dialect;
use crate::schema::defaults::{ParsedDefault, common_or_literal};
use crate::schema::model::{
    Catalog, ColumnDef, ColumnType, ForeignKeyDef, IndexDef, KeyDef, TableDef, Untranslated, fk_action,
};
use crate::schema::select::TableFilter;

/// SQLite's side of the catalog contract: the file the endpoint names, read on tokio's
/// blocking pool.
pub struct SqliteCatalog;

#[async_trait]
impl CatalogReader for SqliteCatalog {
    async fn read_catalog(&self, endpoint: &Endpoint, filter: &TableFilter) -> Result<Catalog, CatalogError> {
        let (path, filter) = (endpoint.file_path().to_string(), filter.clone());
        tokio::task::spawn_blocking(move || read_catalog(&path, &filter))
            .await
            .unwrap_or_else(|e| Err(CatalogError::stopped("SQLite", &e)))
    }
}

/// The selected tables of the SQLite file at `path`. Blocking.
pub fn read_catalog(path: &str, filter: &TableFilter) -> Result<Catalog, CatalogError> {
    let file = |what: Option<&str>, e: rusqlite::Error| CatalogError::File {
        backend: "SQLite",
        path: path.to_string(),
        what: what.map(str::to_string),
        reason: e.to_string(),
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| file(None, e))?;
    let err = |what: &str| {
        let what = what.to_string();
        move |e: rusqlite::Error| file(Some(&what), e)
    };
    let mut names: Vec<(String, bool)> = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
            .map_err(err("the table list"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? != 0)))
            .map_err(err("the table list"))?;
        for row in rows {
            let (name, without_rowid) = row.map_err(err("the table list"))?;
            if filter.allows(None, &name) {
                names.push((name, without_rowid));
            }
        }
    }
    names.sort();
    let mut tables = Vec::with_capacity(names.len());
    for (name, without_rowid) in names {
        tables.push(read_table(&conn, &name, without_rowid).map_err(err(&format!("table {name}")))?);
    }
    Ok(Catalog { tables, source: Some(Dialect::Sqlite) })
}

fn read_table(conn: &Connection, name: &str, without_rowid: bool) -> rusqlite::Result<TableDef> {
    let mut table = TableDef::named(None, name.to_string(), 0);
    // (column, position in the primary key), hidden = 2/3 for generated columns.
    let mut pk: Vec<(i64, String)> = Vec::new();
    let mut stmt =
        conn.prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)")?;
    let rows = stmt.query_map([name], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            r.get::<_, i64>(2)? != 0,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    for row in rows {
        let (column, declared, not_null, dflt, pk_position, hidden) = row?;
        if hidden == 1 {
            // A virtual table's hidden column: not stored data.
            continue;
        }
        if pk_position > 0 {
            pk.push((pk_position, column.clone()));
        }
        let mut default = None;
        if hidden == 2 || hidden == 3 {
            table.untranslated.push(Untranslated::new(
                "generated column",
                format!("{name}.{column}"),
                "GENERATED ALWAYS AS (...) (copied as a plain column)".into(),
            ));
        } else if let ParsedDefault::Value(v) = parse_default(dflt.as_deref()) {
            default = Some(v);
        }
        table.columns.push(ColumnDef {
            name: column,
            column_type: column_type(&declared),
            source_type: declared,
            nullable: !not_null,
            default,
            identity: false,
        });
    }
    pk.sort();
    if !pk.is_empty() {
        let columns: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        if let [only] = columns.as_slice()
            && !without_rowid
            && let Some(col) = table.columns.iter_mut().find(|c| &c.name == only)
            && col.source_type.eq_ignore_ascii_case("INTEGER")
        {
            col.identity = true;
            // The rowid is never NULL, whatever the declaration says.
            col.nullable = false;
        }
        table.primary_key = Some(KeyDef { name: None, columns });
    }
    read_indexes(conn, &mut table)?;
    read_foreign_keys(conn, &mut table)?;
    read_sql_objects(conn, &mut table)?;
    let count_sql = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
    let count: i64 = conn.query_row(&count_sql, [], |r| r.get(0))?;
    table.estimated_rows = u64::try_from(count).unwrap_or(0);
    Ok(table)
}

fn read_indexes(conn: &Connection, table: &mut TableDef) -> rusqlite::Result<()> {
    let mut list = conn.prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1) ORDER BY name")?;
    let indexes: Vec<(String, bool, String, bool)> = list
        .query_map([&table.name], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?, r.get::<_, i64>(3)? != 0)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut info = conn.prepare("SELECT cid, name FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno")?;
    for (index, unique, origin, partial) in indexes {
        if origin == "pk" {
            continue;
        }
        // cid -2 is an expression; its name is NULL.
        let parts: Vec<(i64, Option<String>)> =
            info.query_map([&index], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        let columns: Option<Vec<String>> =
            parts.iter().map(|(cid, n)| if *cid >= 0 { n.clone() } else { None }).collect();
        match columns {
            Some(columns) if !partial => {
                if origin == "u" {
                    table.uniques.push(KeyDef { name: None, columns });
                } else {
                    table.indexes.push(IndexDef { name: index, columns, unique });
                }
            }
            _ => {
                let sql: Option<String> = conn
                    .query_row("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1", [&index], |r| {
                        r.get(0)
                    })
                    .unwrap_or(None);
                table.untranslated.push(Untranslated::new(
                    "index",
                    format!("{}.{index}", table.name),
                    sql.unwrap_or_else(|| "(expression or partial index)".into()),
                ));
            }
        }
    }
    Ok(())
}

fn read_foreign_keys(conn: &Connection, table: &mut TableDef) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
    )?;
    let rows: Vec<(i64, String, String, Option<String>, String, String)> = stmt
        .query_map([&table.name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut current: Option<(i64, ForeignKeyDef, bool)> = None;
    let mut done: Vec<(ForeignKeyDef, bool)> = Vec::new();
    for (id, parent, from, to, on_update, on_delete) in rows {
        if current.as_ref().is_none_or(|(cur, _, _)| *cur != id) {
            if let Some((_, fk, implicit)) = current.take() {
                done.push((fk, implicit));
            }
            let fk = ForeignKeyDef {
                name: None,
                columns: Vec::new(),
                ref_schema: None,
                ref_table: parent,
                ref_columns: Vec::new(),
                on_delete: fk_action(&on_delete),
                on_update: fk_action(&on_update),
            };
            current = Some((id, fk, to.is_none()));
        }
        if let Some((_, fk, _)) = current.as_mut() {
            fk.columns.push(from);
            fk.ref_columns.push(to.unwrap_or_default());
        }
    }
    if let Some((_, fk, implicit)) = current {
        done.push((fk, implicit));
    }
    for (mut fk, implicit) in done {
        if implicit {
            // `REFERENCES parent` without columns means the parent's primary key.
            fk.ref_columns = primary_key_of(conn, &fk.ref_table)?;
        }
        table.foreign_keys.push(fk);
    }
    // The pragma lists them last-declared first.
    table.foreign_keys.reverse();
    Ok(())
}

fn primary_key_of(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    stmt.query_map([table], |r| r.get(0))?.collect()
}

/// `CHECK` clauses from the `CREATE TABLE` text, and the table's triggers.
fn read_sql_objects(conn: &Connection, table: &mut TableDef) -> rusqlite::Result<()> {
    let create: Option<String> = conn
        .query_row("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1", [&table.name], |r| r.get(0))
        .unwrap_or(None);
    if let Some(create) = create {
        for (i, check) in check_clauses(&create).into_iter().enumerate() {
            table.untranslated.push(Untranslated::new(
                "check constraint",
                format!("{}.check{}", table.name, i + 1),
                check,
            ));
        }
    }
    let mut stmt =
        conn.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 ORDER BY name")?;
    let triggers: Vec<(String, Option<String>)> =
        stmt.query_map([&table.name], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    for (name, sql) in triggers {
        table.untranslated.push(Untranslated::new(
            "trigger",
            format!("{}.{name}", table.name),
            sql.unwrap_or_default(),
        ));
    }
    Ok(())
}

/// Every `CHECK (...)` in a `CREATE TABLE` statement (with a preceding `CONSTRAINT name`, if
/// any), skipping strings, quoted identifiers and comments.
pub fn check_clauses(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    // Where the last `CONSTRAINT` keyword started, and how many tokens followed it: one (its
    // name) when a `CHECK` belongs to it.
    let mut constraint: Option<(usize, usize)> = None;
    let bump = |constraint: &mut Option<(usize, usize)>| {
        *constraint = match *constraint {
            Some((start, 0)) => Some((start, 1)),
            _ => None,
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if matches!(c, '\'' | '"' | '`' | '[') {
            i = skip_quoted(&chars, i);
            bump(&mut constraint);
        } else if is_word(c) {
            let start = i;
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            let word = chars[start..i].iter().collect::<String>().to_ascii_uppercase();
            let mut open = i;
            while open < chars.len() && chars[open].is_whitespace() {
                open += 1;
            }
            if word == "CONSTRAINT" {
                constraint = Some((start, 0));
            } else if word == "CHECK" && chars.get(open) == Some(&'(') {
                let end = skip_parens(&chars, open);
                let from = match constraint {
                    Some((named, 1)) => named,
                    _ => start,
                };
                out.push(chars[from..end].iter().collect::<String>());
                constraint = None;
                i = end;
            } else {
                bump(&mut constraint);
            }
        } else {
            constraint = None;
            i += 1;
        }
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Index just after the quoted token starting at `i`; a doubled quote stays inside.
fn skip_quoted(chars: &[char], i: usize) -> usize {
    let close = if chars[i] == '[' { ']' } else { chars[i] };
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == close {
            if close != ']' && chars.get(j + 1) == Some(&close) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

/// Index just after the parenthesis closing the one at `i`.
fn skip_parens(chars: &[char], i: usize) -> usize {
    let mut depth = 0;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '\'' | '"' | '`' | '[' => {
                j = skip_quoted(chars, j);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    chars.len()
}

/// The portable type of a declared SQLite type: known names first, then SQLite's affinity rules
/// (a name containing `INT` is an integer, `CHAR`/`CLOB`/`TEXT` text, `BLOB` bytes,
/// `REAL`/`FLOA`/`DOUB` floating point).
pub fn column_type(declared: &str) -> ColumnType {
    let upper = declared.trim().to_ascii_uppercase();
    let (base, args) = match upper.find('(') {
        Some(open) => (upper[..open].trim(), upper[open + 1..].trim_end_matches(')').to_string()),
        None => (upper.as_str(), String::new()),
    };
    let args: Vec<u32> = args.split(',').filter_map(|a| a.trim().parse().ok()).collect();
    match base {
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "SMALLINT" | "TINYINT" | "INT2" => ColumnType::SmallInt,
        // SQLite integers are 64-bit whatever the declared name says.
        "INTEGER" | "INT" | "BIGINT" | "INT8" | "MEDIUMINT" => ColumnType::BigInt,
        "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "FLOAT" => ColumnType::Double,
        "DECIMAL" | "NUMERIC" => {
            match (args.first().map(|p| u8::try_from(*p)), args.get(1).map(|s| i8::try_from(*s))) {
                (Some(Ok(precision)), Some(Ok(scale))) => ColumnType::Decimal { precision, scale },
                (Some(Ok(precision)), None) => ColumnType::Decimal { precision, scale: 0 },
                _ => ColumnType::Numeric,
            }
        }
        "VARCHAR" | "CHARACTER VARYING" | "NVARCHAR" | "VARYING CHARACTER" => {
            ColumnType::Varchar { length: args.first().copied() }
        }
        "CHAR" | "CHARACTER" | "NCHAR" => match args.first() {
            Some(&length) => ColumnType::Char { length },
            None => ColumnType::Text,
        },
        "TEXT" | "CLOB" => ColumnType::Text,
        "BLOB" => ColumnType::Binary,
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "DATETIME" | "TIMESTAMP" => ColumnType::Timestamp,
        "TIMESTAMPTZ" => ColumnType::TimestampTz,
        // SQLite keeps the text as written (its JSON functions parse it on each call).
        "JSON" => ColumnType::JsonText,
        "UUID" => ColumnType::Uuid,
        "" => ColumnType::Other(String::new()),
        _ if base.contains("INT") => ColumnType::BigInt,
        _ if base.contains("CHAR") || base.contains("CLOB") || base.contains("TEXT") => ColumnType::Text,
        _ if base.contains("BLOB") => ColumnType::Binary,
        _ if base.contains("REAL") || base.contains("FLOA") || base.contains("DOUB") => ColumnType::Double,
        _ => ColumnType::Other(declared.trim().to_string()),
    }
}

/// A default as `PRAGMA table_info` shows it: the text of the `DEFAULT` clause.
fn parse_default(dflt_value: Option<&str>) -> ParsedDefault {
    let Some(raw) = dflt_value else { return ParsedDefault::None };
    let text = raw.trim();
    common_or_literal(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::DefaultValue;

    #[test]
    fn sqlite_defaults() {
        let lit = |s: &str| ParsedDefault::Value(DefaultValue::Literal(s.into()));
        assert_eq!(parse_default(Some("'abc'")), lit("'abc'"));
        assert_eq!(parse_default(Some("+3")), lit("3"));
        assert_eq!(parse_default(Some("CURRENT_TIMESTAMP")), ParsedDefault::Value(DefaultValue::CurrentTimestamp));
        assert_eq!(parse_default(Some("NULL")), ParsedDefault::None);
        assert_eq!(
            parse_default(Some("(datetime('now'))")),
            ParsedDefault::Value(DefaultValue::Untranslatable("(datetime('now'))".into()))
        );
    }

    #[test]
    fn finds_check_clauses() {
        let sql = "CREATE TABLE t (a INT CHECK (a > 0), b TEXT DEFAULT 'CHECK (x)', \"check\" INT, \
                   CONSTRAINT pos_b CHECK (length(b) < (10)), UNIQUE (a), CHECK(a<>b))";
        assert_eq!(
            check_clauses(sql),
            vec!["CHECK (a > 0)", "CONSTRAINT pos_b CHECK (length(b) < (10))", "CHECK(a<>b)"]
        );
    }

    #[test]
    fn maps_declared_types() {
        assert_eq!(column_type("INTEGER"), ColumnType::BigInt);
        assert_eq!(column_type("varchar(20)"), ColumnType::Varchar { length: Some(20) });
        assert_eq!(column_type("DECIMAL(12, 2)"), ColumnType::Decimal { precision: 12, scale: 2 });
        assert_eq!(column_type("NUMERIC"), ColumnType::Numeric);
        assert_eq!(column_type("unsigned big int"), ColumnType::BigInt);
        assert_eq!(column_type("TIMESTAMP"), ColumnType::Timestamp);
        assert_eq!(column_type(""), ColumnType::Other(String::new()));
        assert_eq!(column_type("geometry"), ColumnType::Other("geometry".into()));
    }
}
