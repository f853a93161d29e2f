//! What Flow reads of an existing MySQL/MariaDB target table: its columns and the generated ones,
//! which take no values from outside (see `connect::target_columns` for what Flow does with
//! them). No unique keys: MySQL's upsert (`UPDATE ... JOIN`, then `INSERT`) needs none.

use std::time::Duration;

use futures::future::BoxFuture;

use crate::connect::target_columns::{
    ExistingTable, Special, SpecialColumn, SpecialsByTable, TargetProbe, TargetRead, case_twins,
};
use crate::plan::TableName;
use crate::plan::sql::Dialect;

/// The columns of a MySQL/MariaDB table, from `information_schema.COLUMNS` (none when it does
/// not exist), and which are generated: `EXTRA`
/// says `STORED GENERATED` or `VIRTUAL GENERATED` (MariaDB before 10.2: `PERSISTENT`, and
/// `VIRTUAL`); MySQL 8's `DEFAULT_GENERATED` marks an expression default, an ordinary column.
pub fn read(conn: &mut impl mysql::prelude::Queryable, table: &TableName) -> mysql::Result<ExistingTable> {
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
    let columns = rows.iter().map(|(name, _, _)| name.clone()).collect();
    let special = rows
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
        .collect();
    Ok(ExistingTable {
        columns,
        special,
        unique_keys: None,
        unusable_unique: Vec::new(),
        referenced_by: Vec::new(),
        fold_case: Dialect::Mysql.folds_column_case(),
    })
}

/// Per table: what it is ([`ExistingTable`]), `None` when it does not exist; and which of
/// `schemas` (databases) do not exist (one query over `information_schema.SCHEMATA`). `Err` when the server
/// cannot be connected to within `wait` (refused: errors 1044, 1045, 1049; else no answer),
/// `Ok(None)` when it cannot be read; for `check` and `explain`
/// (`connect::target_columns::discover`). The driver blocks, so it runs on tokio's blocking pool.
pub fn read_for_planning(url: String, probe: TargetProbe, wait: Duration) -> BoxFuture<'static, SpecialsByTable> {
    Box::pin(
        async move { tokio::task::spawn_blocking(move || read_tables(&url, &probe, wait)).await.unwrap_or(Ok(None)) },
    )
}

fn read_tables(url: &str, probe: &TargetProbe, wait: Duration) -> SpecialsByTable {
    use crate::connect::connect_error::ConnectError;
    use crate::plan::endpoint::{redact_url, scrub_secret};
    let parsed = url.replacen("mariadb://", "mysql://", 1);
    let opts = mysql::Opts::from_url(&parsed).map_err(|e| {
        let detail = scrub_secret(&e.to_string(), url);
        ConnectError::new(
            crate::connect::connect_error::Reach::NoAnswer,
            format!("cannot read {}: {detail}", redact_url(url)),
        )
    })?;
    let opts = mysql::OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(wait)).read_timeout(Some(wait));
    let mut conn = mysql::Conn::new(opts).map_err(|e| {
        let detail = scrub_secret(&super::error_text(&e), url);
        let hint = super::check(&e, url).hint();
        ConnectError::new(super::reach(&e), format!("cannot connect to {}: {detail}; {hint}", redact_url(url)))
    })?;
    Ok(read_connected(&mut conn, probe))
}

/// The tables and views of the databases of `named` (unqualified: the URL's, `DATABASE()`)
/// whose lower-cased name is one of theirs, as (database, name, whether it is the URL's
/// database), for [`case_twins`]; none when the server folds table names to lower case itself
/// (`lower_case_table_names` other than 0, MySQL's "Identifier Case Sensitivity"), as then
/// names differing in case are one table. One statement (`BINARY`: `information_schema`
/// compares names without regard to case).
fn case_twin_candidates(conn: &mut mysql::Conn, named: &[TableName]) -> Option<Vec<(String, String, bool)>> {
    use mysql::prelude::Queryable;
    let folds: Option<i64> = conn.query_first("SELECT @@lower_case_table_names").ok()?;
    if folds != Some(0) {
        return Some(Vec::new());
    }
    let list = |names: Vec<String>| names.iter().map(|n| Dialect::Mysql.string(n)).collect::<Vec<_>>().join(", ");
    let schemas = list(named.iter().filter_map(|t| t.schema().map(str::to_string)).collect());
    let lowered = list(named.iter().map(|t| t.table().to_lowercase()).collect());
    let in_schemas = if schemas.is_empty() { String::new() } else { format!("TABLE_SCHEMA IN ({schemas}) OR ") };
    let sql = format!(
        "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(BINARY TABLE_SCHEMA = BINARY DATABASE(), 0) \
         FROM information_schema.TABLES \
         WHERE ({in_schemas}TABLE_SCHEMA = DATABASE()) AND LOWER(TABLE_NAME) IN ({lowered})"
    );
    let rows: Vec<(String, String, i64)> = conn.query(sql).ok()?;
    Some(rows.into_iter().map(|(schema, name, default)| (schema, name, default != 0)).collect())
}

fn read_connected(conn: &mut mysql::Conn, probe: &TargetProbe) -> Option<TargetRead> {
    use mysql::prelude::Queryable;
    let TargetProbe { tables, named, schemas } = probe;
    let mut out = TargetRead::default();
    if !named.is_empty() {
        out.case_twins = case_twins(named, &case_twin_candidates(conn, named)?);
    }
    if !schemas.is_empty() {
        let list = schemas.iter().map(|s| Dialect::Mysql.string(s)).collect::<Vec<_>>().join(", ");
        let sql = format!("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({list})");
        let present: Vec<String> = conn.query(sql).ok()?;
        out.missing_schemas = schemas.iter().filter(|s| !present.contains(s)).cloned().collect();
    }
    for table in tables {
        let probe = format!("SELECT 1 FROM {} LIMIT 0", Dialect::Mysql.table(table));
        let exists = conn.query_drop(probe).is_ok();
        out.tables.push(if exists { Some(read(conn, table).ok()?) } else { None });
    }
    Some(out)
}
