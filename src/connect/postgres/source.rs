//! The PostgreSQL source side: the schema probe (with the table's inheritance note), small
//! queries, the snapshot a partitioned source's partitions import, the catalog queries for
//! automatic partitioning and row widths, and one partition streamed through binary COPY.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::connect::source::{BadUrl, DatabaseSource, PartitionRead, SourceSnapshot};
use crate::plan::sql::Dialect;
use crate::plan::{Relation, SourcePlan, TableName};

/// PostgreSQL as a source (see [`DatabaseSource`]).
pub struct PostgresSource;

#[async_trait]
impl DatabaseSource for PostgresSource {
    /// tokio-postgres's own parse of the URL (`sslmode`, `target_session_attrs`, ports, ...),
    /// the one `connect` runs.
    fn check_url(&self, url: &str) -> std::result::Result<(), BadUrl> {
        url.parse::<tokio_postgres::Config>()
            .map(drop)
            .map_err(|e| BadUrl { reason: crate::plan::endpoint::scrub_secret(&super::error_text(&e), url) })
    }

    async fn probe(&self, source: &SourcePlan, probe: &str) -> Result<(SchemaRef, Vec<String>)> {
        let url = &source.endpoint.url;
        match &source.relation {
            Relation::Table { name } => {
                let (schema, note) = super::query_table_schema(url, probe, name, source.only).await?;
                Ok((schema, note.into_iter().collect()))
            }
            _ => Ok((super::query_schema(url, probe).await?, Vec::new())),
        }
    }

    async fn fetch_small(&self, source: &SourcePlan, sql: &str) -> Result<Vec<RecordBatch>> {
        super::fetch_all(&source.endpoint.url, sql).await
    }

    /// The partitions import one snapshot, exported here; the bounds (and the watermark) are
    /// read in it.
    async fn export_snapshot(&self, source: &SourcePlan) -> Result<Option<Arc<dyn SourceSnapshot>>> {
        Ok(Some(Arc::new(super::ExportedSnapshot::export(&source.endpoint.url).await?)))
    }

    fn auto_partition_sql(&self, table: &TableName) -> Option<String> {
        let dialect = Dialect::Postgres;
        Some(format!(
            "SELECT max(a.attname::text) AS k, count(*) AS n, max(c.reltuples)::bigint AS r, \
             max(format_type(a.atttypid, a.atttypmod)) AS t \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
             WHERE i.indrelid = to_regclass({}) AND i.indisprimary",
            dialect.string(&dialect.table(table))
        ))
    }

    fn row_estimate_sql(&self, table: &TableName, only: bool) -> Option<String> {
        let dialect = Dialect::Postgres;
        // `reltuples` of the table and, unless `only`, of every descendant (inheritance children,
        // a partitioned table's partitions); -1 means never analysed and counts as unknown.
        let descendants = if only {
            ""
        } else {
            " UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid"
        };
        Some(format!(
            "WITH RECURSIVE tree(oid) AS (SELECT to_regclass({})::oid{descendants}) \
             SELECT (sum(c.reltuples) FILTER (WHERE c.reltuples >= 0))::bigint AS r \
             FROM tree JOIN pg_class c ON c.oid = tree.oid",
            dialect.string(&dialect.table(table))
        ))
    }

    fn row_width_sql(&self, table: &TableName, only: bool) -> Option<String> {
        let dialect = Dialect::Postgres;
        Some(format!(
            // An inheritance parent may have two sets of statistics (`inherited`: with its
            // children's rows, or without); take the set of the rows this source reads, when
            // analysed. A partitioned table has only the inherited set.
            "SELECT sum(s.avg_width)::bigint AS w, count(*) AS n FROM pg_stats s \
             JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace n ON n.oid = c.relnamespace \
               AND n.nspname = s.schemaname \
             WHERE c.oid = to_regclass({}) AND s.inherited = (c.relkind = 'p' OR ({} AND EXISTS \
               (SELECT 1 FROM pg_stats x WHERE x.schemaname = s.schemaname AND x.tablename = s.tablename \
                AND x.inherited)))",
            dialect.string(&dialect.table(table)),
            !only
        ))
    }

    fn open_partition(&self, mut read: PartitionRead<'_>) -> Result<SendableRecordBatchStream> {
        let sql = read.single_query()?;
        Ok(super::stream_query(
            read.source.endpoint.url.clone(),
            sql,
            read.schema,
            read.batch_size,
            read.snapshot.map(str::to_string),
        ))
    }
}

#[async_trait]
impl SourceSnapshot for super::ExportedSnapshot {
    fn id(&self) -> &str {
        &self.id
    }

    async fn fetch_all(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        super::ExportedSnapshot::fetch_all(self, sql).await
    }
}
