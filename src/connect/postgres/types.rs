// TEMPORARY SHIM until the real module lands.
use arrow::datatypes::{DataType, Field};
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;
pub fn pg_field(_name: &str, _ty: &Type, _typmod: i32) -> Result<Field> {
    Err(DataFusionError::NotImplemented("shim".into()))
}
pub fn pg_type_for_arrow(_dt: &DataType) -> Result<String> {
    Err(DataFusionError::NotImplemented("shim".into()))
}
