//! The SQLite source side: the schema probe, small queries, and one partition read query by
//! query (`super::reader` holds each query's whole result, so reads are chunked by keys).

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::connect::source::{DatabaseSource, PartitionRead, run_blocking};
use crate::plan::{Endpoint, Relation, SourcePlan, TableName};

/// SQLite as a source (see [`DatabaseSource`]).
pub struct SqliteSource;

#[async_trait]
impl DatabaseSource for SqliteSource {
    async fn probe(&self, source: &SourcePlan, probe: &str) -> Result<(SchemaRef, Vec<String>)> {
        let (url, sql) = (source.endpoint.url.clone(), probe.to_string());
        Ok((run_blocking(move || super::reader::query_schema(&url, &sql)).await?, Vec::new()))
    }

    async fn fetch_small(&self, source: &SourcePlan, sql: &str) -> Result<Vec<RecordBatch>> {
        let (url, sql) = (source.endpoint.url.clone(), sql.to_string());
        run_blocking(move || super::reader::fetch_all(&url, &sql)).await
    }

    /// SQLite keeps no row count: it counts (a walk of the table's smallest b-tree).
    fn row_estimate_sql(&self, table: &TableName, _only: bool) -> Option<String> {
        Some(format!("SELECT count(*) AS r FROM {}", crate::plan::sql::Dialect::Sqlite.table(table)))
    }

    /// `MIN` and `MAX` each in a query of its own: SQLite answers a lone `MIN` or `MAX` of an
    /// indexed column (an `INTEGER PRIMARY KEY` is the rowid) from one end of its b-tree, where
    /// both in one query scan the table. (A column without an index is scanned once for each.)
    fn bounds_sql(&self, col: &str, scanned: &str, alias: &str) -> String {
        format!(
            "SELECT (SELECT MIN({col}) FROM ({scanned}) AS {alias}) AS lo, (SELECT MAX({col}) FROM ({scanned}) AS {alias}) AS hi"
        )
    }

    fn database_file<'a>(&self, endpoint: &'a Endpoint) -> Option<&'a str> {
        Some(endpoint.file_path())
    }

    fn chunked(&self) -> bool {
        true
    }

    fn open_partition(&self, read: PartitionRead<'_>) -> Result<SendableRecordBatchStream> {
        // A table's rowid names a refused value's row (unless a column shadows it).
        let with_rowid = matches!(read.source.relation, Relation::Table { .. })
            && !read.schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case("rowid"));
        Ok(super::reader::stream_queries(
            read.source.endpoint.url.clone(),
            read.queries,
            read.schema,
            read.batch_size,
            with_rowid,
        ))
    }
}
