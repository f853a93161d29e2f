//! PostgreSQL table inheritance (`CREATE TABLE child () INHERITS (parent)`): which tables a
//! plain `SELECT ... FROM parent` also reads. PostgreSQL includes the rows of every descendant
//! unless the query says `FROM ONLY parent` (docs, "5.10 Inheritance"), so a copy that reads the
//! parent and each child as tables of their own would write the children's rows twice.
//!
//! Declarative partitions are also recorded in `pg_inherits`, but a partitioned table
//! (`relkind = 'p'`) keeps no rows of its own: it is always read whole, never `ONLY` (which
//! would read nothing), and its partitions are not listed here. PostgreSQL forbids mixing the
//! two (a partitioned table can neither inherit nor be inherited from), so following
//! `pg_inherits` down from an ordinary table (`relkind = 'r'`) finds inheritance children only.

use datafusion::error::Result;
use tokio_postgres::Client;

use crate::diagnostics::{Failure, codes};
use crate::plan::TableName;
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;

/// Every descendant of each ordinary table that has inheritance children, at any depth, nearest
/// level first: `(root schema, root name, child schema, child name)`. `$1` (a regclass text, or
/// NULL for every root) restricts it to one table. `DISTINCT ON` keeps a child reached twice
/// (multiple inheritance) once, at its nearest depth.
const DESCENDANTS_SQL: &str = "\
WITH RECURSIVE tree(root, child, depth) AS (
    SELECT i.inhparent, i.inhrelid, 1
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relkind = 'r' AND ($1::text IS NULL OR i.inhparent = to_regclass($1::text))
  UNION ALL
    SELECT t.root, i.inhrelid, t.depth + 1 FROM tree t JOIN pg_inherits i ON i.inhparent = t.child
)
SELECT rn.nspname::text, r.relname::text, cn.nspname::text, c.relname::text
FROM (SELECT DISTINCT ON (root, child) root, child, depth FROM tree ORDER BY root, child, depth) t
JOIN pg_class r ON r.oid = t.root JOIN pg_namespace rn ON rn.oid = r.relnamespace
JOIN pg_class c ON c.oid = t.child JOIN pg_namespace cn ON cn.oid = c.relnamespace
ORDER BY 1, 2, t.depth, 3, 4";

pub use crate::connect::source::Descendants;

/// The inheritance descendants of `table` on an open connection (empty when it has none, or is
/// a partitioned table, or does not exist: the schema probe reports that).
pub async fn descendants_of(client: &Client, url: &str, table: &TableName) -> Result<Vec<String>> {
    let regclass = Dialect::Postgres.table(table);
    Ok(descendants_on(client, url, Some(&regclass)).await?.into_values().next().unwrap_or_default())
}

/// The descendants of every ordinary table (`regclass` `None`) or of one, on an open
/// connection.
pub(super) async fn descendants_on(client: &Client, url: &str, regclass: Option<&str>) -> Result<Descendants> {
    crate::connect::sql_log::record("postgres", crate::connect::sql_log::StatementKind::Query, DESCENDANTS_SQL);
    let rows = client.query(DESCENDANTS_SQL, &[&regclass]).await.map_err(|e| {
        let message = format!(
            "PostgreSQL at {} refused to list inheritance children: {}",
            redact_url(url),
            scrub_secret(&super::error_text(&e), url)
        );
        Failure::new(codes::source::READ_FAILED, message).into_datafusion()
    })?;
    let mut out = Descendants::new();
    for row in rows {
        let text = |i: usize| -> Result<String> {
            row.try_get::<_, String>(i).map_err(|e| {
                let message = format!("unexpected pg_inherits value in column {i}: {e}");
                Failure::new(codes::source::READ_FAILED, message).into_datafusion()
            })
        };
        out.entry(format!("{}.{}", text(0)?, text(1)?)).or_default().push(format!("{}.{}", text(2)?, text(3)?));
    }
    Ok(out)
}

/// What `explain` says about a table source with inheritance children: whether it reads them.
pub fn read_note(table: &TableName, only: bool, descendants: &[String]) -> Option<String> {
    if descendants.is_empty() {
        return None;
    }
    let n = descendants.len();
    let plural = if n == 1 { "child" } else { "children" };
    let list = descendants.join(", ");
    Some(if only {
        format!(
            "table {table} is read ONLY: without the rows of its {n} inheritance {plural} ({list}), which the \
             table set reads as tables of their own"
        )
    } else {
        format!(
            "table {table} includes rows of {n} inheritance {plural} ({list}), as PostgreSQL's SELECT does; \
             a table set (src.tables(...)) copies each child as a table of its own instead"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_say_whether_children_are_read() {
        let sales = TableName::parse("public.sales");
        let kids = vec!["public.sales_q1".to_string(), "public.sales_q1_jan".to_string()];
        assert_eq!(read_note(&sales, false, &[]), None);
        assert_eq!(
            read_note(&sales, false, &kids).as_deref(),
            Some(
                "table public.sales includes rows of 2 inheritance children (public.sales_q1, public.sales_q1_jan), \
                 as PostgreSQL's SELECT does; a table set (src.tables(...)) copies each child as a table of its own \
                 instead"
            )
        );
        assert_eq!(
            read_note(&sales, true, &kids[..1]).as_deref(),
            Some(
                "table public.sales is read ONLY: without the rows of its 1 inheritance child (public.sales_q1), \
                 which the table set reads as tables of their own"
            )
        );
    }
}
