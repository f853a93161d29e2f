//! The generated columns of an existing MySQL/MariaDB table, which take no values from outside
//! (see `connect::target_columns` for what Flow does with them).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::connect::target_columns::{Special, SpecialColumn, SpecialsByTable};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// The generated columns of a MySQL/MariaDB table, from `information_schema.COLUMNS`: `EXTRA`
/// says `STORED GENERATED` or `VIRTUAL GENERATED` (MariaDB before 10.2: `PERSISTENT`, and
/// `VIRTUAL`); MySQL 8's `DEFAULT_GENERATED` marks an expression default, an ordinary column.
pub fn read(conn: &mut impl mysql::prelude::Queryable, table: &TableName) -> mysql::Result<Vec<SpecialColumn>> {
    let schema = match table.schema() {
        Some(s) => Dialect::Mysql.string(s),
        None => "DATABASE()".to_string(),
    };
    let sql = format!(
        "SELECT COLUMN_NAME, EXTRA, COALESCE(GENERATION_EXPRESSION, '') FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
        Dialect::Mysql.string(table.table())
    );
    let rows: Vec<(String, String, String)> = conn.query(sql)?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, extra, expression)| {
            let extra = extra.to_ascii_uppercase();
            if extra.contains("DEFAULT_GENERATED") {
                return None;
            }
            let storage = if extra.contains("STORED") || extra.contains("PERSISTENT") {
                "STORED"
            } else if extra.contains("VIRTUAL") {
                "VIRTUAL"
            } else {
                return None;
            };
            Some(SpecialColumn { name, special: Special::Generated { expression, storage: storage.into() } })
        })
        .collect())
}

/// Per table: its special columns, `None` when it does not exist. `None` overall when the
/// server cannot be reached or read within `wait`; for `check` and `explain`
/// (`connect::target_columns::discover`). The driver blocks, so it runs on tokio's blocking pool.
pub fn read_for_planning(url: String, tables: Vec<TableName>, wait: Duration) -> BoxFuture<'static, SpecialsByTable> {
    Box::pin(async move { tokio::task::spawn_blocking(move || read_tables(&url, &tables, wait)).await.ok().flatten() })
}

fn read_tables(url: &str, tables: &[TableName], wait: Duration) -> SpecialsByTable {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url).ok()?)
        .tcp_connect_timeout(Some(wait))
        .read_timeout(Some(wait));
    let mut conn = mysql::Conn::new(opts).ok()?;
    let mut out = Vec::new();
    for table in tables {
        let probe = format!("SELECT 1 FROM {} LIMIT 0", Dialect::Mysql.table(table));
        let exists = mysql::prelude::Queryable::query_drop(&mut conn, probe).is_ok();
        out.push(if exists { Some(read(&mut conn, table).ok()?) } else { None });
    }
    Some(out)
}
