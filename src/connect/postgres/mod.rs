//! PostgreSQL through tokio-postgres. Reads use `COPY (query) TO STDOUT (FORMAT binary)` decoded
//! straight into Arrow builders (`copy_binary`): async, cancellable, bounded memory, and no
//! connectorx `src_postgres` (which would pull the AWS SDK and OpenSSL into the build).

pub mod copy_binary;
#[cfg(test)]
mod copy_binary_pg_test;
pub mod sink;
pub mod types;

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use tokio_postgres::{Client, NoTls};

use crate::plan::endpoint::{redact_url, scrub_secret};

/// Connects and drives the connection on the runtime. Errors name the server (password
/// redacted) and say what to check.
pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.map_err(|e| connect_error(url, &e))?;
    tokio::spawn(async move {
        // The client reports the broken connection on its next call; nothing to do here.
        let _ = connection.await;
    });
    Ok(client)
}

fn connect_error(url: &str, e: &tokio_postgres::Error) -> DataFusionError {
    let detail = scrub_secret(&error_text(e), url);
    let hint = super::connection_hint(&detail);
    DataFusionError::Execution(format!("cannot connect to PostgreSQL at {}: {detail}; {hint}", redact_url(url)))
}

/// The server's message when there is one (`ERROR: relation "x" does not exist`), else the
/// client's.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_string();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            text
        }
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

fn query_error(url: &str, sql: &str, e: &tokio_postgres::Error) -> DataFusionError {
    DataFusionError::Execution(format!(
        "PostgreSQL at {} rejected `{sql}`: {}",
        redact_url(url),
        scrub_secret(&error_text(e), url)
    ))
}

/// The Arrow schema of a query's result, and the PostgreSQL types the decoder needs.
async fn describe(client: &Client, url: &str, sql: &str) -> Result<(SchemaRef, Vec<tokio_postgres::types::Type>)> {
    let statement = client.prepare(sql).await.map_err(|e| query_error(url, sql, &e))?;
    let mut fields = Vec::new();
    let mut pg_types = Vec::new();
    for column in statement.columns() {
        fields.push(
            types::pg_field(column.name(), column.type_(), column.type_modifier())
                .map_err(|e| DataFusionError::Execution(format!("column `{}` of `{sql}`: {e}", column.name())))?,
        );
        pg_types.push(column.type_().clone());
    }
    Ok((Arc::new(Schema::new(fields)), pg_types))
}

pub async fn query_schema(url: &str, sql: &str) -> Result<SchemaRef> {
    let client = connect(url).await?;
    Ok(describe(&client, url, sql).await?.0)
}

/// A small result, whole (bounds, counts).
pub async fn fetch_all(url: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let mut stream = stream_query(url.to_string(), sql.to_string(), None, 8192);
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        out.push(batch?);
    }
    Ok(out)
}

/// Streams a query through binary COPY. `schema`, when given, is the schema planned earlier;
/// the stream's batches are checked against it.
pub fn stream_query(
    url: String,
    sql: String,
    schema: impl Into<Option<SchemaRef>>,
    batch_size: usize,
) -> SendableRecordBatchStream {
    let planned: Option<SchemaRef> = schema.into();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(crate::connect::blocking::CHANNEL_DEPTH);
    let stream_schema = planned.clone().unwrap_or_else(|| Arc::new(Schema::empty()));
    tokio::spawn(async move {
        if let Err(e) = copy_out(&url, &sql, planned, batch_size, &tx).await {
            let _ = tx.send(Err(e)).await;
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Box::pin(RecordBatchStreamAdapter::new(stream_schema, stream))
}

async fn copy_out(
    url: &str,
    sql: &str,
    planned: Option<SchemaRef>,
    batch_size: usize,
    tx: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
) -> Result<()> {
    let client = connect(url).await?;
    let (schema, pg_types) = describe(&client, url, sql).await?;
    if let Some(p) = &planned
        && p.fields().len() != schema.fields().len()
    {
        return Err(DataFusionError::Execution(format!(
            "the source changed since planning: `{sql}` now returns {} columns, not {}",
            schema.fields().len(),
            p.fields().len()
        )));
    }
    let mut decoder = copy_binary::CopyDecoder::new(planned.unwrap_or(schema), pg_types, batch_size)?;
    let copy = format!("COPY ({sql}) TO STDOUT (FORMAT binary)");
    let stream = client.copy_out(copy.as_str()).await.map_err(|e| query_error(url, sql, &e))?;
    futures::pin_mut!(stream);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| query_error(url, sql, &e))?;
        for batch in decoder.push(&chunk)? {
            if tx.send(Ok(batch)).await.is_err() {
                // The consumer is gone (cancelled or failed): stop the query on the server too.
                let _ = client.cancel_token().cancel_query(NoTls).await;
                return Ok(());
            }
        }
    }
    if let Some(batch) = decoder.finish()? {
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(())
}
