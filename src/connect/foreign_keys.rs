//! The foreign keys of a table set, added once every table of the set is published, so that
//! tables load in any order and each key is checked once against all the rows.

use datafusion::error::{DataFusionError, Result};

use crate::plan::Backend;
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::table_set::ForeignKeyStep;

/// Runs each statement of `step`; a key that exists already (same name, from an earlier run into
/// the same tables) is left as it is. Returns how many keys were added.
pub async fn add(step: &ForeignKeyStep) -> Result<usize> {
    let url = step.endpoint.url.clone();
    let failed = |sql: &str, e: &dyn std::fmt::Display| {
        DataFusionError::Execution(format!(
            "sink `{}` at {}: cannot add a foreign key ({sql}): {}; the tables are published, the key is not",
            step.sink,
            redact_url(&url),
            scrub_secret(&e.to_string(), &url)
        ))
    };
    let mut added = 0;
    match step.endpoint.backend {
        Backend::Postgres => {
            let client = super::postgres::connect(&url).await?;
            for sql in &step.statements {
                match client.batch_execute(sql).await {
                    Ok(()) => added += 1,
                    // 42710 duplicate_object: a constraint of that name exists.
                    Err(e) if e.code().is_some_and(|c| c.code() == "42710") => {}
                    Err(e) => return Err(failed(sql, &super::postgres::error_text(&e))),
                }
            }
        }
        Backend::Mysql => {
            let statements = step.statements.clone();
            let url = url.replacen("mariadb://", "mysql://", 1);
            let outcome = tokio::task::spawn_blocking(move || {
                use mysql::prelude::Queryable;
                let opts = mysql::Opts::from_url(&url).map_err(|e| (String::new(), e.to_string()))?;
                let mut conn = super::mysql::connect(&opts).map_err(|f| (String::new(), f.error.to_string()))?;
                let mut added = 0;
                for sql in &statements {
                    match conn.query_drop(sql) {
                        Ok(()) => added += 1,
                        // 1826: duplicate foreign key name; 121/1022: duplicate key on write.
                        Err(mysql::Error::MySqlError(e)) if matches!(e.code, 121 | 1022 | 1826) => {}
                        Err(e) => return Err((sql.clone(), e.to_string())),
                    }
                }
                Ok(added)
            })
            .await
            .map_err(|e| DataFusionError::Execution(format!("adding foreign keys failed: {e}")))?;
            added = outcome.map_err(|(sql, e)| failed(&sql, &e))?;
        }
        // SQLite declares its foreign keys in CREATE TABLE; check them now that every table is in.
        Backend::Sqlite => {
            let path = step.endpoint.file_path().to_string();
            let violations = tokio::task::spawn_blocking(move || -> rusqlite::Result<Vec<String>> {
                let conn = rusqlite::Connection::open(&path)?;
                let mut check = conn.prepare("PRAGMA foreign_key_check")?;
                let rows = check.query_map([], |r| {
                    Ok(format!(
                        "{} row {} -> {}",
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1).unwrap_or(-1),
                        r.get::<_, String>(2)?
                    ))
                })?;
                rows.take(5).collect()
            })
            .await
            .map_err(|e| DataFusionError::Execution(format!("checking foreign keys failed: {e}")))?
            .map_err(|e| failed("PRAGMA foreign_key_check", &e))?;
            if !violations.is_empty() {
                return Err(DataFusionError::Execution(format!(
                    "sink `{}`: rows whose foreign key finds no row in the referenced table: {}",
                    step.sink,
                    violations.join("; ")
                )));
            }
        }
        _ => {}
    }
    Ok(added)
}
