//! PostgreSQL sink: every writer partition has its own connection and streams its batches into a
//! staging table with binary `COPY ... FROM STDIN`; the staging table is published in one
//! transaction at the end, so a failed run leaves the target as it was.
//!
//! | mode     | publish (one transaction)                                               |
//! |----------|-------------------------------------------------------------------------|
//! | append   | `INSERT INTO target SELECT ... FROM staging`                            |
//! | replace  | `DROP TABLE target`, `ALTER TABLE staging RENAME TO target`             |
//! | truncate | `TRUNCATE target`, `INSERT INTO target SELECT ... FROM staging`         |
//! | upsert   | `INSERT ... SELECT ... ON CONFLICT (keys) DO UPDATE SET ...`            |

use arrow::datatypes::SchemaRef;
use bytes::BytesMut;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

use super::copy_binary::CopyEncoder;
use super::types::pg_type_for_arrow;
use super::{connect, error_text};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;
use crate::plan::{TableName, WriteMode};

const D: Dialect = Dialect::Postgres;

/// Bytes buffered before a COPY chunk is sent.
const COPY_CHUNK: usize = 1 << 20;

pub struct PostgresSink {
    pub url: String,
    pub table: TableName,
    pub mode: WriteMode,
    pub create_if_missing: bool,
    pub schema: SchemaRef,
    pub staging: TableName,
}

/// `CREATE TABLE` for an Arrow schema; upsert keys become the primary key.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
    D.create_table(table, schema, pg_type_for_arrow, keys.map(|k| ("PRIMARY KEY", k)))
}

impl PostgresSink {
    pub fn new(
        url: &str,
        table: TableName,
        mode: WriteMode,
        create_if_missing: bool,
        schema: SchemaRef,
        run_id: &str,
    ) -> Self {
        let staging = table.sibling("stage", run_id);
        Self { url: url.to_string(), table, mode, create_if_missing, schema, staging }
    }

    fn err(&self, what: &str, e: &tokio_postgres::Error) -> DataFusionError {
        DataFusionError::Execution(format!(
            "PostgreSQL at {}: {what} {}: {}",
            redact_url(&self.url),
            self.table,
            scrub_secret(&error_text(e), &self.url)
        ))
    }

    async fn target_exists(&self, client: &Client) -> Result<bool> {
        let name = self.table.parts.iter().map(|p| D.ident(p)).collect::<Vec<_>>().join(".");
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .await
            .map_err(|e| self.err("cannot look up", &e))?;
        Ok(row.get(0))
    }

    fn column_list(&self) -> String {
        self.schema.fields().iter().map(|f| D.ident(f.name())).collect::<Vec<_>>().join(", ")
    }

    /// Creates the target if needed (so later modes can rely on it) and an empty staging table
    /// shaped like the incoming data.
    pub async fn prepare(&self) -> Result<()> {
        let client = connect(&self.url).await?;
        let exists = self.target_exists(&client).await?;
        if !exists && !self.create_if_missing {
            return Err(DataFusionError::Execution(format!(
                "table {} does not exist at {} and the sink says `create never`",
                self.table,
                redact_url(&self.url)
            )));
        }
        let staging = D.table(&self.staging);
        let ddl = format!(
            "DROP TABLE IF EXISTS {staging}; {}",
            create_table_sql(&self.staging, &self.schema, None)?.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        );
        client.batch_execute(&ddl).await.map_err(|e| self.err("cannot create the staging table for", &e))
    }

    /// Streams one partition into the staging table.
    pub async fn write_partition(&self, mut input: SendableRecordBatchStream, on_rows: impl Fn(u64)) -> Result<u64> {
        let client = connect(&self.url).await?;
        let staging = D.table(&self.staging);
        let probe = format!("SELECT {} FROM {staging} LIMIT 0", self.column_list());
        let statement =
            client.prepare(&probe).await.map_err(|e| self.err("cannot inspect the staging table of", &e))?;
        let types: Vec<_> = statement.columns().iter().map(|c| c.type_().clone()).collect();
        let mut encoder = CopyEncoder::new(&self.schema, &types)?;
        let copy = format!("COPY {staging} ({}) FROM STDIN (FORMAT binary)", self.column_list());
        let sink = client
            .copy_in::<_, bytes::Bytes>(copy.as_str())
            .await
            .map_err(|e| self.err("cannot start COPY into", &e))?;
        futures::pin_mut!(sink);
        let mut buf = BytesMut::with_capacity(COPY_CHUNK + COPY_CHUNK / 4);
        encoder.write_header(&mut buf);
        let mut written = 0u64;
        while let Some(batch) = input.next().await {
            let batch = batch?;
            encoder.encode_batch(&batch, &mut buf)?;
            written += batch.num_rows() as u64;
            on_rows(batch.num_rows() as u64);
            if buf.len() >= COPY_CHUNK {
                sink.send(buf.split().freeze()).await.map_err(|e| self.err("COPY failed for", &e))?;
            }
        }
        CopyEncoder::write_trailer(&mut buf);
        sink.send(buf.split().freeze()).await.map_err(|e| self.err("COPY failed for", &e))?;
        sink.as_mut().finish().await.map_err(|e| self.err("COPY failed for", &e))?;
        Ok(written)
    }

    /// Moves the staging rows into the target in one transaction, per mode.
    pub async fn publish(&self) -> Result<()> {
        let mut client = connect(&self.url).await?;
        let exists = self.target_exists(&client).await?;
        let target = D.table(&self.table);
        let staging = D.table(&self.staging);
        let cols = self.column_list();
        let keys = match &self.mode {
            WriteMode::Upsert { keys } => Some(keys.as_slice()),
            _ => None,
        };
        let mut statements = Vec::new();
        if self.mode == WriteMode::Replace {
            if exists {
                statements.push(format!("DROP TABLE {target}"));
            }
            let table_name = D.ident(self.table.table());
            statements.push(format!("ALTER TABLE {staging} RENAME TO {table_name}"));
            statements.push(format!("ALTER TABLE {target} SET LOGGED"));
        } else {
            if !exists {
                statements.push(create_table_sql(&self.table, &self.schema, keys)?);
            }
            if self.mode == WriteMode::Truncate && exists {
                statements.push(format!("TRUNCATE {target}"));
            }
            let insert = format!("INSERT INTO {target} ({cols}) SELECT {cols} FROM {staging}");
            statements.push(match keys {
                Some(keys) => {
                    let key_list = keys.iter().map(|k| D.ident(k)).collect::<Vec<_>>().join(", ");
                    let updates: Vec<String> = self
                        .schema
                        .fields()
                        .iter()
                        .filter(|f| !keys.contains(f.name()))
                        .map(|f| format!("{0} = EXCLUDED.{0}", D.ident(f.name())))
                        .collect();
                    let action = if updates.is_empty() {
                        "NOTHING".to_string()
                    } else {
                        format!("UPDATE SET {}", updates.join(", "))
                    };
                    format!("{insert} ON CONFLICT ({key_list}) DO {action}")
                }
                None => insert,
            });
            statements.push(format!("DROP TABLE {staging}"));
        }
        let tx = client.transaction().await.map_err(|e| self.err("cannot begin publishing", &e))?;
        for sql in &statements {
            tx.batch_execute(sql).await.map_err(|e| {
                let hint = if keys.is_some() && error_text(&e).contains("no unique or exclusion constraint") {
                    "; the upsert keys need a PRIMARY KEY or UNIQUE constraint on the target"
                } else {
                    ""
                };
                DataFusionError::Execution(format!("{}{hint}", self.err("cannot publish into", &e)))
            })?;
        }
        tx.commit().await.map_err(|e| self.err("cannot commit publishing", &e))
    }

    pub async fn abort(&self) {
        if let Ok(client) = connect(&self.url).await {
            let _ = client.batch_execute(&format!("DROP TABLE IF EXISTS {}", D.table(&self.staging))).await;
        }
    }
}
