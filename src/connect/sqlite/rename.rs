//! Publishing by renaming the staging table into the target's place, where the table that
//! results is the one inserting its rows would give: the rows are then written once instead of
//! twice (into staging, then copied into the target). SQLite's DDL is transactional, so the
//! `DROP` of an old target, the rename and the ledger's `publish` row still commit together.
//!
//! Renamed ([`rename_instead`]):
//! - a target the run creates (it is missing at publish), from a staging table that was created
//!   as the target would be (with an upsert's `UNIQUE` keys);
//! - the target of `mode replace` whose columns differ (it would be dropped and created from the
//!   schema, as the staging table was);
//! - the target of `mode replace` that is defined exactly as the staging table (its `CREATE
//!   TABLE` after the name is the same text) and on which nothing depends by its rows: no trigger
//!   and no foreign key of another table referencing it. Its indexes are made again after the
//!   rename, from their own `CREATE INDEX`.
//!
//! Anything else (a table defined otherwise, with triggers, referenced, in an attached database)
//! is emptied and filled by `INSERT ... SELECT`, as before.

use datafusion::error::Result;

use super::sink::{SqliteSession, create_table_sql};
use crate::connect::staged::{Move, SqlSession, StagedTarget, Step};
use crate::plan::sql::Dialect;
use crate::plan::{TableName, WriteMode};

const D: Dialect = Dialect::Sqlite;

/// `Some` of the statements to run after the staging table is renamed into place, when it may
/// be instead of `how` (see the module's list); `None` to move the rows as `how` says.
pub fn rename_instead(s: &mut SqliteSession, t: &StagedTarget, how: Move<'_>) -> Result<Option<Vec<String>>> {
    // An index's own SQL names no schema: recreating it is only sure in the main database.
    if t.table.schema().is_some_and(|schema| !schema.eq_ignore_ascii_case("main")) {
        return Ok(None);
    }
    // Before reading the catalog: a table set's table (`Move::Carried`) is never renamed.
    let replaced = matches!(how, Move::Insert { empty: true }) && t.mode == WriteMode::Replace;
    if !matches!(how, Move::Create) && !replaced {
        return Ok(None);
    }
    let Some(staging) = stored_sql(s, &t.staging)? else { return Ok(None) };
    let Some(staging) = after_name(&staging) else { return Ok(None) };
    match how {
        Move::Create => {
            let created = create_table_sql(&t.table, &t.schema, t.keys())?;
            Ok((after_name(&created) == Some(staging)).then(Vec::new))
        }
        Move::Insert { empty: true } if t.mode == WriteMode::Replace => {
            let target = stored_sql(s, &t.table)?;
            if target.as_deref().and_then(after_name) != Some(staging) || depends_on_rows(s, &t.table)? {
                return Ok(None);
            }
            let indexes = format!(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = {} COLLATE NOCASE AND sql IS NOT \
                 NULL ORDER BY name",
                D.string(t.table.table())
            );
            let rows = s.query_text(&indexes, Step::Inspect)?;
            Ok(Some(rows.into_iter().filter_map(|mut row| row.pop().flatten()).collect()))
        }
        _ => Ok(None),
    }
}

/// Whether something would see the target's rows go and come back: a trigger on it, or a
/// foreign key of another table (or its own) that references it.
fn depends_on_rows(s: &mut SqliteSession, table: &TableName) -> Result<bool> {
    let name = D.string(table.table());
    let sql = format!(
        "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = {name} COLLATE NOCASE) + \
         (SELECT count(*) FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f WHERE m.type = 'table' AND \
         f.\"table\" = {name} COLLATE NOCASE)"
    );
    Ok(s.query_u64(&sql, Step::Inspect)?.unwrap_or(0) > 0)
}

/// The `CREATE TABLE` statement SQLite keeps for `table` in the main database.
fn stored_sql(s: &mut SqliteSession, table: &TableName) -> Result<Option<String>> {
    let sql = format!(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = {} COLLATE NOCASE",
        D.string(table.table())
    );
    Ok(s.query_text(&sql, Step::Inspect)?.into_iter().next().and_then(|mut row| row.pop().flatten()))
}

/// Drops the old target (when it `exists`) and renames the staging table to its name. With
/// `legacy_alter_table` the rename rewrites no view or trigger of the database: those that name
/// the target keep naming it, now the new table, and a view left without its table by the `DROP`
/// does not fail the rename (<https://sqlite.org/pragma.html#pragma_legacy_alter_table>).
pub fn rename_sql(t: &StagedTarget, exists: bool) -> Vec<String> {
    let mut statements = Vec::new();
    if exists {
        statements.push(format!("DROP TABLE {}", D.table(&t.table)));
    }
    statements.push("PRAGMA legacy_alter_table = ON".to_string());
    statements.push(format!("ALTER TABLE {} RENAME TO {}", D.table(&t.staging), D.ident(t.table.table())));
    statements.push("PRAGMA legacy_alter_table = OFF".to_string());
    statements
}

/// What follows the table's name in a `CREATE TABLE` statement (its columns, constraints and
/// options), spaces at the start trimmed: two tables defined alike have the same. `None` when
/// `sql` does not read as `CREATE TABLE name ...` (then no two definitions are taken as alike).
pub fn after_name(sql: &str) -> Option<&str> {
    let head = sql.trim_start().get(..12)?;
    if !head.eq_ignore_ascii_case("CREATE TABLE") {
        return None;
    }
    let rest = skip_name(sql.trim_start()[12..].trim_start())?;
    let rest = match rest.trim_start().strip_prefix('.') {
        Some(table) => skip_name(table.trim_start())?,
        None => rest,
    };
    Some(rest.trim_start())
}

/// `s` after the identifier it starts with: quoted (`"a ""b"""`, `` `a` ``, `[a]`, `'a'`) or bare.
fn skip_name(s: &str) -> Option<&str> {
    let quote = s.chars().next()?;
    let close = match quote {
        '"' | '`' | '\'' => quote,
        '[' => ']',
        _ => {
            let end = s.find(|c: char| c.is_whitespace() || c == '(' || c == '.').unwrap_or(s.len());
            return (end > 0).then(|| &s[end..]);
        }
    };
    let mut from = 1;
    loop {
        let at = from + s[from..].find(close)?;
        let after = &s[at + 1..];
        // A doubled quote is one quote inside the name (not so for `]`).
        if close != ']' && after.starts_with(close) {
            from = at + 2;
            continue;
        }
        return Some(after);
    }
}

#[cfg(test)]
mod tests {
    use super::after_name;

    #[test]
    fn a_definition_is_what_follows_the_name() {
        let body = Some("(\"id\" INTEGER, \"n\" TEXT)");
        assert_eq!(after_name("CREATE TABLE \"t\" (\"id\" INTEGER, \"n\" TEXT)"), body);
        assert_eq!(after_name("CREATE TABLE \"t__x\"\"y\"(\"id\" INTEGER, \"n\" TEXT)"), body);
        assert_eq!(after_name("create table main.[t x] (\"id\" INTEGER, \"n\" TEXT)"), body);
        assert_eq!(after_name("CREATE TABLE `t` (\"id\" INTEGER, \"n\" TEXT)"), body);
        assert_eq!(after_name("CREATE TABLE t(\"id\" INTEGER, \"n\" TEXT)"), body);
        assert_eq!(after_name("CREATE VIEW v AS SELECT 1"), None);
        assert_eq!(after_name("CREATE TABLE \"unclosed (a)"), None);
        assert_eq!(after_name("CREATE TABLE"), None);
    }
}
