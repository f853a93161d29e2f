//! [`SinkExec`]: a sink as a DataFusion execution plan. Partition `p` writes input partition `p`
//! through the sink's driver and yields one row, the number of rows written. Its configuration
//! is the serialisable [`SinkPlan`] and run id, so a codec can ship it to an executor; the
//! driver is rebuilt from them where it runs. Reading the ledger, `prepare` and `publish` stay
//! with the runner, which alone knows whether every partition succeeded.

use std::fmt;
use std::sync::Arc;

use arrow::array::UInt64Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};

use super::metrics::{PartitionRows, StageMetrics};
use crate::connect::sink::SinkDriver;
use crate::plan::SinkPlan;

pub struct SinkExec {
    pub sink: SinkPlan,
    pub run_id: String,
    /// What each partition reads (its source predicate), recorded in the ledger.
    pub details: Vec<String>,
    pub input: Arc<dyn ExecutionPlan>,
    driver: Arc<dyn SinkDriver>,
    metrics: Arc<StageMetrics>,
    cache: Arc<PlanProperties>,
}

impl fmt::Debug for SinkExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkExec").field("sink", &self.sink.name).field("run_id", &self.run_id).finish()
    }
}

/// The one column a sink partition returns.
pub fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]))
}

impl SinkExec {
    pub fn new(
        sink: SinkPlan,
        run_id: &str,
        details: Vec<String>,
        input: Arc<dyn ExecutionPlan>,
        driver: Arc<dyn SinkDriver>,
        metrics: Arc<StageMetrics>,
    ) -> Self {
        let partitions = input.properties().partitioning.partition_count();
        let cache = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(count_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self { sink, run_id: run_id.to_string(), details, input, driver, metrics, cache }
    }

    pub fn driver(&self) -> &Arc<dyn SinkDriver> {
        &self.driver
    }

    pub fn partitions(&self) -> usize {
        self.cache.partitioning.partition_count()
    }
}

impl DisplayAs for SinkExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SinkExec: {} ({}, {})", self.sink.name, self.sink.endpoint.backend.name(), self.sink.mode)
    }
}

impl ExecutionPlan for SinkExec {
    fn name(&self) -> &'static str {
        "SinkExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let input =
            children.into_iter().next().ok_or_else(|| DataFusionError::Internal("SinkExec needs one child".into()))?;
        Ok(Arc::new(SinkExec::new(
            self.sink.clone(),
            &self.run_id,
            self.details.clone(),
            input,
            self.driver.clone(),
            self.metrics.clone(),
        )))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let driver = self.driver.clone();
        let metrics = Arc::new(PartitionRows { metrics: self.metrics.clone(), partition });
        let detail = self.details.get(partition).cloned().unwrap_or_default();
        let written = async move {
            let n = driver.write_partition(partition, detail, input, metrics).await?;
            Ok(RecordBatch::try_new(count_schema(), vec![Arc::new(UInt64Array::from(vec![n]))])?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(count_schema(), futures::stream::once(written))))
    }
}
