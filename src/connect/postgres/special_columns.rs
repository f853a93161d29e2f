//! The columns of an existing PostgreSQL table that take no values from outside: identity
//! `ALWAYS` and generated columns (see `connect::target_columns` for what Flow does with them).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::connect::target_columns::{Special, SpecialColumn, SpecialsByTable};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// The special columns of a PostgreSQL table (none when it does not exist). `attgenerated` is
/// read through `to_jsonb` so servers before PostgreSQL 12, which lack it, answer too; `'s'` is
/// stored, `'v'` virtual (PostgreSQL 18).
pub const SQL: &str = "SELECT a.attname::text, \
       COALESCE(to_jsonb(a) ->> 'attidentity', '') AS identity, \
       COALESCE(to_jsonb(a) ->> 'attgenerated', '') AS generated, \
       COALESCE(pg_get_expr(d.adbin, d.adrelid), '') AS expression \
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// Reads the special columns of a PostgreSQL table with [`SQL`].
pub async fn read(
    client: &impl tokio_postgres::GenericClient,
    table: &TableName,
) -> std::result::Result<Vec<SpecialColumn>, tokio_postgres::Error> {
    let rows = client.query(SQL, &[&Dialect::Postgres.table(table)]).await?;
    let mut out = Vec::new();
    for row in rows {
        let (name, identity, generated, expression): (String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let special = match (identity.as_str(), generated.as_str()) {
            ("a", _) => Special::IdentityAlways,
            (_, "s") => Special::Generated { expression, storage: "STORED".into() },
            (_, "v") => Special::Generated { expression, storage: "VIRTUAL".into() },
            _ => continue,
        };
        out.push(SpecialColumn { name, special });
    }
    Ok(out)
}

/// Per table: its special columns, `None` when it does not exist. `None` overall when the
/// server cannot be reached or read within `wait`; for `check` and `explain`
/// (`connect::target_columns::discover`).
pub fn read_for_planning(url: String, tables: Vec<TableName>, wait: Duration) -> BoxFuture<'static, SpecialsByTable> {
    Box::pin(async move { read_tables(&url, &tables, wait).await })
}

async fn read_tables(url: &str, tables: &[TableName], wait: Duration) -> SpecialsByTable {
    let mut config: tokio_postgres::Config = url.parse().ok()?;
    config.connect_timeout(wait);
    let (client, connection) = tokio::time::timeout(wait, config.connect(tokio_postgres::NoTls)).await.ok()?.ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut out = Vec::new();
    for table in tables {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&Dialect::Postgres.table(table)])
            .await
            .ok()?
            .get(0);
        out.push(if exists { Some(read(&client, table).await.ok()?) } else { None });
    }
    Some(out)
}
