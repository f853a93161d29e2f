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
use arrow::record_batch::RecordBatch;
use bytes::BytesMut;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::{SinkExt, StreamExt};
use tokio_postgres::{GenericClient, SimpleQueryMessage};

use super::copy::CopyEncoder;
use super::types::pg_type_for_field;
use super::{connect, error_text};
use crate::connect::rejects::{self, BadRow, RejectPolicy};
use crate::connect::staging::{cleanup_sql, count_sql, ensure_ledger_sql, require_columns, restart_sql, staging_of};
use crate::connect::target_columns::{self, Special, WritePlan};
use crate::ledger::{
    Event, LedgerKey, LedgerRow, Preparation, RowChecksum, insert_sql, ledger_schema, ledger_table, parse_row,
    select_sql,
};
use crate::plan::endpoint::{redact_url, scrub_secret};
use crate::plan::sql::Dialect;
use crate::plan::table_set::CarriedTable;
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
    key: LedgerKey,
    rejects: RejectPolicy,
    /// The source table's definition, for a table of a table set (see `with_carried`).
    carried: Option<CarriedTable>,
}

/// `CREATE TABLE` for an Arrow schema; upsert keys become the primary key.
pub fn create_table_sql(table: &TableName, schema: &SchemaRef, keys: Option<&[String]>) -> Result<String> {
    D.create_table(table, schema, pg_type_for_field, keys.map(|k| ("PRIMARY KEY", k)))
}

impl PostgresSink {
    pub fn new(
        url: &str,
        table: TableName,
        mode: WriteMode,
        create_if_missing: bool,
        schema: SchemaRef,
        key: LedgerKey,
        rejects: RejectPolicy,
    ) -> Self {
        let staging = staging_of(&table, &key.run_id);
        Self { url: url.to_string(), table, mode, create_if_missing, schema, staging, key, rejects, carried: None }
    }

    /// A table of a table set: when Flow creates the target (missing, or `mode replace`), it is
    /// created with the source's definition instead of from the Arrow schema.
    pub fn with_carried(mut self, carried: Option<CarriedTable>) -> Self {
        self.carried = carried;
        self
    }

    pub fn refused(&self) -> u64 {
        self.rejects.refused()
    }

    fn err(&self, what: &str, e: &tokio_postgres::Error) -> DataFusionError {
        DataFusionError::Execution(format!(
            "PostgreSQL at {}: {what} {}: {}",
            redact_url(&self.url),
            self.table,
            scrub_secret(&error_text(e), &self.url)
        ))
    }

    async fn table_exists(&self, client: &impl GenericClient, table: &TableName) -> Result<bool> {
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&D.table(table)])
            .await
            .map_err(|e| self.err("cannot look up", &e))?;
        Ok(row.get(0))
    }

    /// What is written into the target (see `connect::target_columns`): every column, unless
    /// the target exists (and is not replaced) with generated or identity `ALWAYS` columns.
    /// `Err` when the target cannot take this write at all.
    async fn write_plan(&self, client: &impl GenericClient) -> Result<WritePlan> {
        Ok(self.target_specials(client).await?.0)
    }

    /// [`Self::write_plan`], and whether the existing target has generated columns (its
    /// staging table computes them too).
    async fn target_specials(&self, client: &impl GenericClient) -> Result<(WritePlan, bool)> {
        if self.mode == WriteMode::Replace || !self.table_exists(client, &self.table).await? {
            return Ok((WritePlan::all(&self.schema), false));
        }
        let special =
            target_columns::read_postgres(client, &self.table).await.map_err(|e| self.err("cannot inspect", &e))?;
        let generated = special.iter().any(|c| matches!(c.special, Special::Generated { .. }));
        let plan = WritePlan::decide(&self.table, &target_columns::names(&self.schema), &self.mode, &special).map_err(
            |message| DataFusionError::Execution(format!("PostgreSQL at {}: {message}", redact_url(&self.url))),
        )?;
        Ok((plan, generated))
    }

    /// The ledger rows of a pipeline; none when the ledger does not exist yet.
    pub async fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        let client = connect(&self.url).await?;
        let ledger = ledger_table(&self.table);
        if !self.table_exists(&client, &ledger).await? {
            return Ok(Vec::new());
        }
        let messages = client
            .simple_query(&select_sql(D, &ledger, &self.key.pipeline))
            .await
            .map_err(|e| self.err("cannot read the ledger of", &e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => {
                    let cols: Vec<Option<String>> = (0..9).map(|i| row.get(i).map(str::to_string)).collect();
                    parse_row(&cols)
                }
                _ => None,
            })
            .collect())
    }

    /// Checks the target, cleans up earlier runs and starts (or checks, on a resume) the
    /// staging table, shaped like the incoming data. `false`: a resume found its staging table
    /// changed (an `UNLOGGED` table is emptied by a server crash) and starts over.
    pub async fn prepare(&self, prep: &Preparation) -> Result<bool> {
        let mut client = connect(&self.url).await?;
        let exists = self.table_exists(&client, &self.table).await?;
        if !exists && !self.create_if_missing {
            return Err(DataFusionError::Execution(format!(
                "table {} does not exist at {} and the sink says `create never`",
                self.table,
                redact_url(&self.url)
            )));
        }
        let ledger = ledger_table(&self.table);
        // Two sinks creating the ledger at once could race on IF NOT EXISTS: serialise them.
        let ensure = format!(
            "SELECT pg_advisory_xact_lock(hashtext({})); {}",
            D.string(&D.table(&ledger)),
            ensure_ledger_sql(&create_table_sql(&ledger, &ledger_schema(), None)?)
        );
        let tx = client.transaction().await.map_err(|e| self.err("cannot begin preparing", &e))?;
        tx.batch_execute(&ensure).await.map_err(|e| self.err("cannot create the ledger of", &e))?;
        if let Some(table) = self.rejects.table() {
            let create = ensure_ledger_sql(&create_table_sql(table, &rejects::reject_schema(), None)?);
            tx.batch_execute(&create).await.map_err(|e| self.err("cannot create the reject table of", &e))?;
        }
        for sql in cleanup_sql(D, &self.table, &self.key, prep) {
            tx.batch_execute(&sql).await.map_err(|e| self.err("cannot clean up earlier runs of", &e))?;
        }
        if let Some(expected) = prep.resume_rows
            && self.table_exists(&tx, &self.staging).await?
        {
            let held: i64 = tx
                .query_one(&count_sql(D, &self.staging), &[])
                .await
                .map_err(|e| self.err("cannot count the staging rows of", &e))?
                .get(0);
            if u64::try_from(held).ok() == Some(expected) {
                tx.commit().await.map_err(|e| self.err("cannot commit preparing", &e))?;
                return Ok(true);
            }
        }
        // Into an existing table, stage with the target's own column types, defaults and CHECK /
        // NOT NULL constraints, so a row the target would refuse is refused while staging, where
        // it can be told apart from the others.
        // A write the target cannot take is refused here, before any staging table exists. Its
        // generated columns are generated in the staging table too (PostgreSQL 12+, which has
        // them), so a NOT NULL or CHECK on one is checked on the value the target will hold.
        let create = if exists && self.mode != WriteMode::Replace {
            self.check_columns(&tx).await?;
            let (_, generated) = self.target_specials(&tx).await?;
            format!(
                "CREATE UNLOGGED TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS{})",
                D.table(&self.staging),
                D.table(&self.table),
                if generated { " INCLUDING GENERATED" } else { "" }
            )
        } else if self.mode == WriteMode::Replace && self.carried.is_none() {
            // `replace` renames the staging table into place: it is written logged once, rather
            // than unlogged and then rewritten whole by `SET LOGGED`.
            create_table_sql(&self.staging, &self.schema, None)?
        } else {
            create_table_sql(&self.staging, &self.schema, None)?.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1)
        };
        for sql in restart_sql(D, &self.table, &self.key, prep, &create) {
            tx.batch_execute(&sql).await.map_err(|e| self.err("cannot create the staging table for", &e))?;
        }
        tx.commit().await.map_err(|e| self.err("cannot commit preparing", &e))?;
        Ok(prep.resume_rows.is_none())
    }

    /// Every column the pipeline writes must exist in the target.
    async fn check_columns(&self, client: &impl GenericClient) -> Result<()> {
        let probe = format!("SELECT * FROM {} LIMIT 0", D.table(&self.table));
        let statement = client.prepare(&probe).await.map_err(|e| self.err("cannot inspect", &e))?;
        let columns: Vec<&str> = statement.columns().iter().map(|c| c.name()).collect();
        require_columns(&self.table, &self.schema, &columns)
    }

    /// Streams one partition into the staging table and records it in the ledger, in one
    /// transaction. A value the encoder cannot convert, or a row PostgreSQL refuses, is handled
    /// as the sink's `on error` says: with `fail` the partition is one `COPY`; otherwise each
    /// batch is a `COPY` under a savepoint, and a refused batch is split in halves until the
    /// refused rows are found.
    pub async fn write_partition(
        &self,
        partition: usize,
        detail: &str,
        mut input: SendableRecordBatchStream,
        on_rows: impl Fn(u64),
    ) -> Result<u64> {
        let mut client = connect(&self.url).await?;
        let staging = D.table(&self.staging);
        let tx = client.transaction().await.map_err(|e| self.err("cannot begin writing", &e))?;
        // Read where the rows are written (the driver may run apart from `prepare`).
        let write = self.write_plan(&tx).await?;
        let columns = write.column_list(&self.schema, D);
        let probe = format!("SELECT {columns} FROM {staging} LIMIT 0");
        let statement = tx.prepare(&probe).await.map_err(|e| self.err("cannot inspect the staging table of", &e))?;
        let types: Vec<_> = statement.columns().iter().map(|c| c.type_().clone()).collect();
        let mut encoder = CopyEncoder::new(&write.schema(&self.schema)?, &types)?;
        let copy_sql = self.copy_sql(&columns);
        let mut checksum = RowChecksum::default();
        let mut seen = 0u64;
        if self.rejects.fails() {
            let sink = tx
                .copy_in::<_, bytes::Bytes>(copy_sql.as_str())
                .await
                .map_err(|e| self.err("cannot start COPY into", &e))?;
            futures::pin_mut!(sink);
            let mut buf = BytesMut::with_capacity(COPY_CHUNK + COPY_CHUNK / 4);
            encoder.write_header(&mut buf);
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let mut refused = Vec::new();
                encoder.encode_batch_lenient(&write.project(&batch)?, &mut buf, &mut refused)?;
                let bad = bad_rows(&batch, partition, seen, refused);
                self.rejects.admit(&bad)?;
                seen += batch.num_rows() as u64;
                checksum.add_batch(&batch)?;
                on_rows(batch.num_rows() as u64);
                if buf.len() >= COPY_CHUNK {
                    sink.send(buf.split().freeze()).await.map_err(|e| self.err("COPY failed for", &e))?;
                }
            }
            CopyEncoder::write_trailer(&mut buf);
            sink.send(buf.split().freeze()).await.map_err(|e| self.err("COPY failed for", &e))?;
            sink.as_mut().finish().await.map_err(|e| self.err("COPY failed for", &e))?;
        } else {
            while let Some(batch) = input.next().await {
                let batch = batch?;
                let mut refused = Vec::new();
                encoder.encode_batch_lenient(&write.project(&batch)?, &mut BytesMut::new(), &mut refused)?;
                let mut bad = bad_rows(&batch, partition, seen, refused);
                let good = write.project(&rejects::without_rows(&batch, &bad)?)?;
                let mut refused_by_server = self.copy_finding_refusals(&tx, &mut encoder, &good, &copy_sql).await?;
                // Indices of the server's refusals are in `good`; the report numbers rows of `batch`.
                let kept: Vec<usize> =
                    (0..batch.num_rows()).filter(|i| !bad.iter().any(|b| b.batch_row == *i)).collect();
                for (i, message, column) in refused_by_server.drain(..) {
                    bad.push(BadRow::new(&batch, kept[i], partition, seen, column.as_deref(), &message));
                }
                let (written, rejected) = self.rejects.settle(&batch, &bad, D, &self.key)?;
                if let Some(sql) = rejected {
                    tx.batch_execute(&sql).await.map_err(|e| self.err("cannot write rejected rows of", &e))?;
                }
                seen += batch.num_rows() as u64;
                checksum.add_batch(&written)?;
                on_rows(written.num_rows() as u64);
            }
        }
        let row = self.key.row(Event::Partition, partition as i64, detail, checksum.rows(), &checksum.hex());
        tx.batch_execute(&insert_sql(D, &ledger_table(&self.table), &row))
            .await
            .map_err(|e| self.err("cannot record a partition of", &e))?;
        tx.commit().await.map_err(|e| self.err("cannot commit rows for", &e))?;
        Ok(checksum.rows())
    }

    /// `COPY` of `columns` (quoted, comma-separated) into the staging table.
    fn copy_sql(&self, columns: &str) -> String {
        format!("COPY {} ({columns}) FROM STDIN (FORMAT binary)", D.table(&self.staging))
    }

    /// COPYs `batch` under savepoints, splitting refused slices in halves; returns each refused
    /// row as (index in `batch`, the server's message, the column it names).
    async fn copy_finding_refusals(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        encoder: &mut CopyEncoder,
        batch: &RecordBatch,
        copy_sql: &str,
    ) -> Result<Vec<(usize, String, Option<String>)>> {
        let mut refused = Vec::new();
        // Slices still to write, first half on top.
        let mut todo = vec![(0usize, batch.num_rows())];
        while let Some((offset, len)) = todo.pop() {
            if len == 0 {
                continue;
            }
            let mut buf = BytesMut::new();
            encoder.write_header(&mut buf);
            encoder.encode_batch(&batch.slice(offset, len), &mut buf)?;
            CopyEncoder::write_trailer(&mut buf);
            tx.batch_execute("SAVEPOINT flow_rows").await.map_err(|e| self.err("cannot write into", &e))?;
            let copied = async {
                let sink = tx.copy_in::<_, bytes::Bytes>(copy_sql).await?;
                futures::pin_mut!(sink);
                sink.send(buf.freeze()).await?;
                sink.as_mut().finish().await
            }
            .await;
            match copied {
                Ok(_) => tx
                    .batch_execute("RELEASE SAVEPOINT flow_rows")
                    .await
                    .map_err(|e| self.err("cannot write into", &e))?,
                Err(e) if refuses_the_row(&e) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT flow_rows")
                        .await
                        .map_err(|e| self.err("cannot write into", &e))?;
                    if len == 1 {
                        let db = e.as_db_error();
                        let column =
                            db.and_then(|d| d.column().map(str::to_string).or_else(|| copy_column(d.where_())));
                        refused.push((offset, scrub_secret(&error_text(&e), &self.url), column));
                    } else {
                        todo.push((offset + len / 2, len - len / 2));
                        todo.push((offset, len / 2));
                    }
                }
                Err(e) => return Err(self.err("COPY failed for", &e)),
            }
        }
        Ok(refused)
    }

    /// Moves the staging rows into the target in one transaction, per mode.
    pub async fn publish(&self, record: &LedgerRow) -> Result<()> {
        let mut client = connect(&self.url).await?;
        let exists = self.table_exists(&client, &self.table).await?;
        let target = D.table(&self.table);
        let staging = D.table(&self.staging);
        let write = if exists { self.write_plan(&client).await? } else { WritePlan::all(&self.schema) };
        let cols = write.column_list(&self.schema, D);
        // PostgreSQL takes a value for an identity `ALWAYS` column only when told to.
        let overriding = if write.identities.is_empty() { "" } else { " OVERRIDING SYSTEM VALUE" };
        let keys = match &self.mode {
            WriteMode::Upsert { keys } => Some(keys.as_slice()),
            _ => None,
        };
        let mut statements = Vec::new();
        let carried = self.carried.as_ref().filter(|_| !exists || self.mode == WriteMode::Replace);
        if let Some(carried) = carried {
            // The target gets the source's definition; other tables' foreign keys to the old one
            // go with it and are added again once every table is published.
            if exists {
                statements.push(format!("DROP TABLE {target} CASCADE"));
            }
            statements.extend(carried.create.iter().map(|sql| create_type_once(sql)));
            let casts = carried_select(&self.schema, carried);
            statements.push(format!("INSERT INTO {target} ({cols}) SELECT {casts} FROM {staging}"));
            statements.extend(carried.after_load.iter().cloned());
            statements.push(format!("DROP TABLE {staging}"));
        } else if self.mode == WriteMode::Replace {
            if exists {
                statements.push(format!("DROP TABLE {target}"));
            }
            let table_name = D.ident(self.table.table());
            statements.push(format!("ALTER TABLE {staging} RENAME TO {table_name}"));
        } else {
            if !exists {
                statements.push(create_table_sql(&self.table, &self.schema, keys)?);
            }
            if self.mode == WriteMode::Truncate && exists {
                statements.push(format!("TRUNCATE {target}"));
            }
            let insert = format!("INSERT INTO {target} ({cols}){overriding} SELECT {cols} FROM {staging}");
            statements.push(match keys {
                Some(keys) => {
                    let key_list = keys.iter().map(|k| D.ident(k)).collect::<Vec<_>>().join(", ");
                    let updates: Vec<String> = self
                        .schema
                        .fields()
                        .iter()
                        .filter(|f| !keys.contains(f.name()) && write.writes(&self.schema, f.name()))
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
            statements.extend(write.identities.iter().map(|column| identity_past_sql(&self.table, column)));
        }
        if let Some(crate::schema::SequenceReset::Sql { sql }) =
            self.carried.as_ref().and_then(|c| c.sequence_reset.as_ref())
        {
            statements.push(sql.clone());
        }
        statements.push(insert_sql(D, &ledger_table(&self.table), record));
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
}

/// Moves the sequence of identity column `column` of `table` past the largest value the table
/// holds, after rows were written with `OVERRIDING SYSTEM VALUE` (which leaves the sequence
/// where it was, so the next `INSERT` without an id would collide). Never moves it back, nor
/// touches a descending sequence.
fn identity_past_sql(table: &TableName, column: &str) -> String {
    format!(
        "SELECT setval(s.seqrelid::regclass, m.v) FROM pg_sequence s, (SELECT max({col}) AS v FROM {target}) m \
         WHERE s.seqrelid = pg_get_serial_sequence({table_text}, {column_text})::regclass AND s.seqincrement > 0 \
         AND m.v IS NOT NULL AND m.v >= COALESCE(pg_sequence_last_value(s.seqrelid::regclass), s.seqstart)",
        col = D.ident(column),
        target = D.table(table),
        table_text = D.string(&D.table(table)),
        column_text = D.string(column),
    )
}

/// `CREATE TYPE` of an enum the target may have from an earlier run: created once, kept after.
fn create_type_once(sql: &str) -> String {
    if sql.trim_start().starts_with("CREATE TYPE") {
        format!("DO $flow$ BEGIN {sql}; EXCEPTION WHEN duplicate_object THEN NULL; END $flow$")
    } else {
        sql.to_string()
    }
}

/// The staging columns cast to the carried column types (text into an enum, say, needs one).
fn carried_select(schema: &SchemaRef, carried: &CarriedTable) -> String {
    schema
        .fields()
        .iter()
        .map(|f| {
            let column = D.ident(f.name());
            match carried.column_types.iter().find(|(name, _)| name == f.name()) {
                Some((_, ty)) => format!("CAST({column} AS {ty})"),
                None => column,
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows the encoder refused, as bad rows of `batch`.
fn bad_rows(batch: &RecordBatch, partition: usize, seen: u64, refused: Vec<(usize, String, String)>) -> Vec<BadRow> {
    refused
        .into_iter()
        .map(|(row, column, message)| BadRow::new(batch, row, partition, seen, Some(&column), &message))
        .collect()
}

/// Whether PostgreSQL refused the data itself (a data exception, SQLSTATE class 22, or an
/// integrity violation, class 23), not the connection or the transaction.
fn refuses_the_row(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|d| matches!(&d.code().code()[..2], "22" | "23"))
}

/// The column a COPY error's context names: `COPY t, line 1, column amount: "..."`.
fn copy_column(context: Option<&str>) -> Option<String> {
    let rest = &context?[context?.find(", column ")? + ", column ".len()..];
    Some(rest.split(':').next()?.trim().to_string())
}
