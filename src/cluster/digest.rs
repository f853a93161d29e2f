//! [`DigestExec`]: `flow verify --engine` on an executor. Partition `k` checksums the rows the
//! sink receives from input partition `k` (read by [`super::ScanExec`] from the source, through
//! the pipeline's transforms) and, when its work item says so, the target's rows of the same
//! range; it yields one row with both checksums, which the client fetches
//! (`cluster::client`) and compares (`crate::verify`).
//!
//! ```text
//! DigestExec(sink) ─┬─ [0] StageExec ── … ── ScanExec ── work list (part, scan JSON)
//!                   └─ [1] work list (part, TargetRead JSON)
//! ```
//!
//! Read-only on both sides: a task Ballista runs twice (its executor lost) computes the same
//! digest again.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

use super::cancel::TaskCancel;
use super::nodes::{only_item, partitions_of, properties};
use super::wire;
use crate::diagnostics::{Failure, codes};
use crate::exec::{PartitionDigest, TargetRead};
use crate::ledger::RowChecksum;
use crate::plan::SinkPlan;
use crate::plan::endpoint::scrub_secret;

/// The schema of a digest row: the global partition, the source side's rows and checksum sum,
/// and the target side's (null when the task read no target rows).
pub fn digest_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("part", DataType::UInt32, false),
        Field::new("source_rows", DataType::UInt64, false),
        Field::new("source_sum", DataType::UInt64, false),
        Field::new("target_rows", DataType::UInt64, true),
        Field::new("target_sum", DataType::UInt64, true),
    ]))
}

/// The digests in batches of [`digest_schema`], as fetched from the executors. Errors when a
/// batch has other columns.
pub fn digests_of(batches: &[RecordBatch]) -> Result<Vec<PartitionDigest>> {
    let mut digests = Vec::new();
    for batch in batches {
        let bad = || DataFusionError::Internal("a digest batch has the wrong columns".into());
        let column = |i: usize| batch.columns().get(i).ok_or_else(bad);
        let part = column(0)?.as_any().downcast_ref::<UInt32Array>().ok_or_else(bad)?;
        let numbers = (1..5)
            .map(|i| column(i)?.as_any().downcast_ref::<UInt64Array>().ok_or_else(bad))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            let target = (!numbers[2].is_null(row) && !numbers[3].is_null(row))
                .then(|| RowChecksum::from_parts(numbers[3].value(row), numbers[2].value(row)));
            digests.push(PartitionDigest {
                partition: part.value(row) as usize,
                source: RowChecksum::from_parts(numbers[1].value(row), numbers[0].value(row)),
                target,
            });
        }
    }
    digests.sort_by_key(|d| d.partition);
    Ok(digests)
}

/// Checksums a sink's source side and target, one task per partition (see the module docs).
pub struct DigestExec {
    pub sink: SinkPlan,
    input: Arc<dyn ExecutionPlan>,
    worklist: Arc<dyn ExecutionPlan>,
    cache: Arc<PlanProperties>,
}

impl fmt::Debug for DigestExec {
    // Names only: the sink's endpoint URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestExec")
            .field("sink", &self.sink.name)
            .field("partitions", &partitions_of(&self.worklist))
            .finish()
    }
}

impl DigestExec {
    /// Errors when the input and the work list disagree on the number of partitions.
    pub fn try_new(sink: SinkPlan, input: Arc<dyn ExecutionPlan>, worklist: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let (n, m) = (partitions_of(&input), partitions_of(&worklist));
        if n != m {
            return Err(DataFusionError::Internal(format!(
                "sink {}: its input has {n} partition(s) but its digest work list {m}",
                sink.name
            )));
        }
        let cache = properties(digest_schema(), m, EmissionType::Final);
        Ok(Self { sink, input, worklist, cache })
    }
}

impl DisplayAs for DigestExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "DigestExec: {}, partitions={}", self.sink.name, partitions_of(&self.worklist))
    }
}

impl ExecutionPlan for DigestExec {
    fn name(&self) -> &'static str {
        "DigestExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input, &self.worklist]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false, false]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let [input, worklist]: [Arc<dyn ExecutionPlan>; 2] =
            children.try_into().map_err(|_| DataFusionError::Internal("DigestExec needs two children".into()))?;
        Ok(Arc::new(DigestExec::try_new(self.sink.clone(), input, worklist)?))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (input, list, sink) = (self.input.clone(), self.worklist.clone(), self.sink.clone());
        let digest = async move {
            let what = format!("sink {} (digest)", sink.name);
            let (part, text) = only_item(&list, partition, context.clone(), &what).await?;
            let read: TargetRead = serde_json::from_str(&text).map_err(|e| DataFusionError::External(e.into()))?;
            let cancel = TaskCancel::of(&context);
            let schema = input.schema();
            let source = async {
                let stream = crate::verify::written_rows(&input, partition, context, &sink)
                    .map_err(|e| crate::connect::connect_error::failure_of(&e, codes::run::FAILED))?;
                crate::verify::checksum(stream, &schema).await
            };
            let target = async {
                match &read {
                    TargetRead::Nothing => Ok(None),
                    TargetRead::Rows { predicate } => {
                        crate::verify::target_checksum(&sink, &schema, predicate.as_deref()).await.map(Some)
                    }
                }
            };
            let both = async { futures::try_join!(source, target) };
            let both = match cancel {
                Some(cancel) => tokio::select! {
                    done = both => done,
                    () = cancel.cancelled() => Err(Failure::new(codes::run::INTERRUPTED, "the task was cancelled")),
                },
                None => both.await,
            };
            let (source, target) = both.map_err(|found| {
                // Located at the sink's partition, tagged so the client gets code and place back.
                let message = format!(
                    "sink `{}` partition {part}: {}",
                    sink.name,
                    scrub_secret(&found.message, &sink.endpoint.url)
                );
                let failure =
                    Failure { stage: Some(sink.name.clone()), partition: Some(part), ..found.reworded(message) };
                DataFusionError::Execution(wire::encode(&failure))
            })?;
            let part = u32::try_from(part).map_err(|_| DataFusionError::Internal(format!("partition {part}")))?;
            Ok(RecordBatch::try_new(
                digest_schema(),
                vec![
                    Arc::new(UInt32Array::from(vec![part])),
                    Arc::new(UInt64Array::from(vec![source.rows()])),
                    Arc::new(UInt64Array::from(vec![source.sum()])),
                    Arc::new(UInt64Array::from(vec![target.map(|t| t.rows())])),
                    Arc::new(UInt64Array::from(vec![target.map(|t| t.sum())])),
                ],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(digest_schema(), futures::stream::once(digest))))
    }
}
