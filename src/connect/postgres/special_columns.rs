//! What Flow reads of an existing PostgreSQL target table: its columns, those that take no
//! values from outside (identity `ALWAYS` and generated columns) and the unique keys an upsert's
//! `ON CONFLICT` may name (see `connect::target_columns` for what Flow does with them).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::connect::target_columns::{
    ExistingTable, Special, SpecialColumn, SpecialsByTable, TargetProbe, TargetRead, case_twins,
};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// The columns of a PostgreSQL table (none when it does not exist), each with what it takes. `attgenerated` is
/// read through `to_jsonb` so servers before PostgreSQL 12, which lack it, answer too; `'s'` is
/// stored, `'v'` virtual (PostgreSQL 18).
pub const SQL: &str = "SELECT a.attname::text, \
       COALESCE(to_jsonb(a) ->> 'attidentity', '') AS identity, \
       COALESCE(to_jsonb(a) ->> 'attgenerated', '') AS generated, \
       COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS expression \
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// Each unique index of a table: its key columns (an index's `INCLUDE` columns are not keys;
/// an expression is no column), its name, and why `ON CONFLICT (k, ...)` cannot name it as its
/// arbiter — `NULL` when it can: it must be valid, not partial, not on expressions and not
/// deferrable (PostgreSQL docs, `INSERT`, "conflict_target" and "ON CONFLICT does not support
/// deferrable unique constraints").
pub const UNIQUE_KEYS_SQL: &str = "SELECT (SELECT array_agg(a.attname::text ORDER BY k.ord) \
         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE k.ord <= i.indnkeyatts), \
       i.indexrelid::regclass::text, \
       CASE WHEN i.indpred IS NOT NULL THEN 'partial (WHERE ' || pg_get_expr(i.indpred, i.indrelid) || ')' \
            WHEN i.indexprs IS NOT NULL THEN 'on expressions' \
            WHEN NOT i.indimmediate THEN 'deferrable' \
            WHEN NOT i.indisvalid THEN 'not valid' END \
     FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique ORDER BY i.indexrelid";

/// The foreign keys of other tables that reference a table, which make `TRUNCATE` of it fail.
pub const REFERENCED_BY_SQL: &str = "SELECT format('`%s` of table `%s`', c.conname, c.conrelid::regclass) \
     FROM pg_constraint c WHERE c.contype = 'f' AND c.confrelid = to_regclass($1) AND c.conrelid <> c.confrelid \
     ORDER BY c.conrelid::regclass::text, c.conname";

/// Reads an existing PostgreSQL table with [`SQL`], [`UNIQUE_KEYS_SQL`] and
/// [`REFERENCED_BY_SQL`] (three statements).
pub async fn read(
    client: &impl tokio_postgres::GenericClient,
    table: &TableName,
) -> std::result::Result<ExistingTable, tokio_postgres::Error> {
    let name = Dialect::Postgres.table(table);
    let mut out = read_columns(client, table).await?;
    let mut usable = Vec::new();
    for row in client.query(UNIQUE_KEYS_SQL, &[&name]).await? {
        let columns: Option<Vec<String>> = row.try_get(0)?;
        let columns = columns.unwrap_or_default();
        match row.try_get::<_, Option<String>>(2)? {
            None => usable.push(columns),
            Some(why) => out.unusable_unique.push((columns, row.try_get(1)?, why)),
        }
    }
    out.unique_keys = Some(usable);
    let references = client.query(REFERENCED_BY_SQL, &[&name]).await?;
    out.referenced_by = references.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    Ok(out)
}

/// An existing PostgreSQL table's columns and special columns only ([`SQL`], one statement;
/// no unique keys or references): what its staging table needs.
pub async fn read_columns(
    client: &impl tokio_postgres::GenericClient,
    table: &TableName,
) -> std::result::Result<ExistingTable, tokio_postgres::Error> {
    let rows = client.query(SQL, &[&Dialect::Postgres.table(table)]).await?;
    let mut out = ExistingTable::default();
    for row in rows {
        let (name, identity, generated, expression): (String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        out.columns.push(name.clone());
        let special = match (identity.as_str(), generated.as_str()) {
            ("a", _) => Special::IdentityAlways,
            (_, "s") => Special::Generated { expression, storage: "STORED".into() },
            (_, "v") => Special::Generated { expression, storage: "VIRTUAL".into() },
            _ => continue,
        };
        out.special.push(SpecialColumn { name, special });
    }
    Ok(out)
}

/// Per table: what it is ([`ExistingTable`]), `None` when it does not exist; and which of
/// `schemas` do not exist (one query over `pg_namespace`). `Err` when the server cannot be connected to within
/// `wait` (refused: SQLSTATE class 28 or 3D000; else no answer), `Ok(None)` when it cannot be
/// read; for `check` and `explain` (`connect::target_columns::discover`).
pub fn read_for_planning(url: String, probe: TargetProbe, wait: Duration) -> BoxFuture<'static, SpecialsByTable> {
    Box::pin(async move { read_tables(&url, &probe, wait).await })
}

async fn read_tables(url: &str, probe: &TargetProbe, wait: Duration) -> SpecialsByTable {
    use crate::connect::connect_error::{ConnectError, Reach};
    let no_answer = |detail: &str| {
        let url = crate::plan::endpoint::redact_url(url);
        ConnectError::new(Reach::NoAnswer, format!("cannot connect to PostgreSQL at {url}: {detail}"))
    };
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| no_answer("the URL cannot be read"))?;
    config.connect_timeout(wait);
    let connected = tokio::time::timeout(wait, config.connect(tokio_postgres::NoTls))
        .await
        .map_err(|_| no_answer(&format!("no answer within {}s", wait.as_secs())))?;
    let (client, connection) = match connected {
        Ok(connected) => connected,
        Err(e) => {
            let e = super::connect_error(url, &e, "");
            return Err(ConnectError::find(&e).cloned().unwrap_or_else(|| no_answer(&e.to_string())));
        }
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(read_connected(&client, probe).await)
}

/// The tables (any relation a name can clash with: table, view, materialized view, foreign or
/// partitioned table) of the schemas of `named` (unqualified: the session's `current_schema()`)
/// whose lower-cased name is one of theirs, as (schema, name, whether the schema is the current
/// one), for [`case_twins`]. One statement.
const CASE_TWINS_SQL: &str = "SELECT n.nspname::text, c.relname::text, n.nspname = current_schema() \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND lower(c.relname) = ANY($2) \
       AND (n.nspname = ANY($1) OR n.nspname = current_schema())";

async fn read_connected(client: &tokio_postgres::Client, probe: &TargetProbe) -> Option<TargetRead> {
    let TargetProbe { tables, named, schemas } = probe;
    let mut out = TargetRead::default();
    if !named.is_empty() {
        let in_schemas: Vec<&str> = named.iter().filter_map(|t| t.schema()).collect();
        let lowered: Vec<String> = named.iter().map(|t| t.table().to_lowercase()).collect();
        let rows = client.query(CASE_TWINS_SQL, &[&in_schemas, &lowered]).await.ok()?;
        let found = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .ok()?;
        out.case_twins = case_twins(named, &found);
    }
    if !schemas.is_empty() {
        let sql = "SELECT s FROM unnest($1::text[]) WITH ORDINALITY AS u(s, i) \
                   WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = u.s) ORDER BY i";
        let rows = client.query(sql, &[&schemas]).await.ok()?;
        out.missing_schemas = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>().ok()?;
    }
    for table in tables {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&Dialect::Postgres.table(table)])
            .await
            .ok()?
            .get(0);
        out.tables.push(if exists { Some(read(client, table).await.ok()?) } else { None });
    }
    Some(out)
}
