// TEMPORARY SHIM until the real module lands.
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;
pub struct CopyDecoder;
impl CopyDecoder {
    pub fn new(_schema: SchemaRef, _pg_types: Vec<Type>, _batch_size: usize) -> Result<Self> {
        Err(DataFusionError::NotImplemented("shim".into()))
    }
    pub fn push(&mut self, _chunk: &[u8]) -> Result<Vec<RecordBatch>> {
        Ok(vec![])
    }
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        Ok(None)
    }
}
