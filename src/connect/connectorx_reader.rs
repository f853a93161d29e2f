// TEMPORARY SHIM until the real module lands.
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
pub struct CxQuery {
    pub url: String,
    pub sql: String,
}
pub fn stream_queries(_queries: Vec<CxQuery>, schema: SchemaRef, _max_in_flight: usize) -> SendableRecordBatchStream {
    crate::connect::blocking::blocking_stream(schema, |_| Err(DataFusionError::NotImplemented("shim".into())))
}
pub fn fetch_all(_q: &CxQuery) -> Result<Vec<RecordBatch>> {
    Err(DataFusionError::NotImplemented("shim".into()))
}
pub fn query_schema(_url: &str, _sql: &str) -> Result<SchemaRef> {
    Err(DataFusionError::NotImplemented("shim".into()))
}
