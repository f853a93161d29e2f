//! Flow's own DataFusion execution plans:
//!
//! - [`SourceExec`]: a leaf with one partition per source partition (a range query, a file, a
//!   row range of the generator). Its configuration is the serialisable [`SourcePlan`] plus the
//!   [`ScanPartition`]s, so a codec can ship it to a remote executor.
//! - [`StageExec`]: a pass-through at the output of every stage that counts rows, records when
//!   each partition ran, enforces the stage's timeout, and names the stage and partition in the
//!   [`Failure`] a partition of the stage raised.
//!
//! ```text
//! SinkExec ── StageExec(clean) ── Filter/Projection ── StageExec(raw) ── SourceExec
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, Metric, MetricValue, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, RecordBatchStream,
    SendableRecordBatchStream,
};
use futures::Stream;
use std::future::Future as _;

use super::metrics::{StageMetrics, StageTimeout};
use crate::connect::{self, ScanPartition};
use crate::diagnostics::{Failure, codes, strip_df_prefix};
use crate::plan::SourcePlan;

/// Properties of a Flow node: `partitions` unordered partitions, streaming, bounded.
pub(crate) fn properties(schema: SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions.max(1)),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}

#[derive(Debug)]
pub struct SourceExec {
    pub source: SourcePlan,
    pub partitions: Vec<ScanPartition>,
    /// Full schema of the source.
    pub table_schema: SchemaRef,
    /// Columns and filter pushed into the source query.
    pub pushdown: connect::Pushdown,
    /// The database snapshot every partition reads (see `connect::SourceShape::snapshot`).
    pub snapshot: Option<String>,
    schema: SchemaRef,
    cache: Arc<PlanProperties>,
}

impl SourceExec {
    pub fn new(
        source: SourcePlan,
        partitions: Vec<ScanPartition>,
        table_schema: SchemaRef,
        projection: Option<&Vec<usize>>,
        filter: Option<String>,
    ) -> Result<Self> {
        let schema = match projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => table_schema.clone(),
        };
        let columns = projection.map(|_| schema.fields().iter().map(|f| f.name().clone()).collect());
        let pushdown = connect::Pushdown { columns, filter };
        let cache = properties(schema.clone(), partitions.len());
        Ok(Self { source, partitions, table_schema, pushdown, snapshot: None, schema, cache })
    }

    pub fn with_snapshot(mut self, snapshot: Option<String>) -> Self {
        self.snapshot = snapshot;
        self
    }

    /// The SQL each partition sends, for databases.
    pub fn partition_sql(&self) -> Vec<Option<String>> {
        self.partitions
            .iter()
            .map(|p| match p {
                ScanPartition::Query { predicate, .. } => {
                    Some(connect::partition_sql(&self.source, &self.pushdown, predicate.as_deref()))
                }
                _ => None,
            })
            .collect()
    }
}

impl DisplayAs for SourceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SourceExec: {} ({}), partitions={}",
            self.source.name,
            self.source.endpoint.backend.name(),
            self.partitions.len()
        )
    }
}

impl ExecutionPlan for SourceExec {
    fn name(&self) -> &'static str {
        "SourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let part = self.partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!("source {} has no partition {partition}", self.source.name))
        })?;
        let stream = connect::open_partition(
            &self.source,
            self.schema.clone(),
            partition,
            part,
            &self.pushdown,
            self.snapshot.as_deref(),
        )?;
        Ok(project_by_name(stream, self.schema.clone()))
    }
}

/// `stream` with its batches projected by column name onto `want`: drivers may deliver their
/// own schema (e.g. the full one for files).
pub fn project_by_name(stream: SendableRecordBatchStream, want: SchemaRef) -> SendableRecordBatchStream {
    let schema = want.clone();
    let projected = futures::StreamExt::map(stream, move |batch| {
        let batch = batch?;
        if batch.schema().fields() == want.fields() {
            return Ok(batch);
        }
        let indices = want
            .fields()
            .iter()
            .map(|f| batch.schema().index_of(f.name()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let projected = batch.project(&indices)?;
        Ok(RecordBatch::try_new(want.clone(), projected.columns().to_vec())?)
    });
    Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, projected))
}

/// Counts, times and bounds the output of one stage.
#[derive(Debug)]
pub struct StageExec {
    pub input: Arc<dyn ExecutionPlan>,
    pub metrics: Arc<StageMetrics>,
    pub timeout: Option<Duration>,
    cache: Arc<PlanProperties>,
}

impl StageExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, metrics: Arc<StageMetrics>, timeout: Option<Duration>) -> Self {
        let partitions = input.properties().partitioning.partition_count();
        metrics.set_partitions(partitions);
        let cache = properties(input.schema(), partitions);
        Self { input, metrics, timeout, cache }
    }
}

impl DisplayAs for StageExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "StageExec: {} {}", self.metrics.kind, self.metrics.name)
    }
}

impl ExecutionPlan for StageExec {
    fn name(&self) -> &'static str {
        "StageExec"
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
            children.into_iter().next().ok_or_else(|| DataFusionError::Internal("StageExec needs one child".into()))?;
        Ok(Arc::new(StageExec::new(input, self.metrics.clone(), self.timeout)))
    }

    /// The rows the stage passed, as DataFusion's `output_rows`: how a cluster's executors
    /// report them back (Ballista ships each operator's metrics to the scheduler, which sums
    /// them over a stage's tasks; `cluster::client` reads them after the job).
    fn metrics(&self) -> Option<MetricsSet> {
        let rows = Count::new();
        rows.add(usize::try_from(self.metrics.rows()).unwrap_or(usize::MAX));
        let mut set = MetricsSet::new();
        set.push(Arc::new(Metric::new(MetricValue::OutputRows(rows), None)));
        Some(set)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        Ok(Box::pin(StageStream {
            schema: self.schema(),
            input,
            metrics: self.metrics.clone(),
            partition,
            timeout: self.timeout,
            deadline: None,
            started: false,
            done: false,
        }))
    }
}

struct StageStream {
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    metrics: Arc<StageMetrics>,
    partition: usize,
    timeout: Option<Duration>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    started: bool,
    done: bool,
}

impl Stream for StageStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.started {
            self.started = true;
            self.metrics.partition_started(self.partition);
            if let Some(t) = self.timeout {
                self.deadline = Some(Box::pin(tokio::time::sleep(t)));
            }
        }
        if let Some(deadline) = self.deadline.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            self.done = true;
            let err = StageTimeout {
                stage: self.metrics.name.clone(),
                kind: self.metrics.kind,
                partition: self.partition,
                limit: self.timeout.unwrap_or_default(),
            };
            self.metrics.partition_finished(self.partition, false);
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(err)))));
        }
        match self.input.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(batch))) => {
                self.metrics.add_partition_rows(self.partition, batch.num_rows() as u64);
                Poll::Ready(Some(Ok(batch)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                self.metrics.partition_finished(self.partition, false);
                Poll::Ready(Some(Err(claim(e, &self.metrics.name, self.partition))))
            }
            Poll::Ready(None) => {
                self.done = true;
                self.metrics.partition_finished(self.partition, true);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `e` as a failure of partition `partition` of stage `stage`: the first stage a failure passes
/// is the one it happened in. An error of DataFusion's or Arrow's own (a division by zero, a
/// cast that fails) becomes a [`Failure`] of code `flow::run::failed` with the same text; errors
/// that wrap another type (a timeout, a connection error) are left as they are.
fn claim(e: DataFusionError, stage: &str, partition: usize) -> DataFusionError {
    match e {
        _ if Failure::find(&e).is_some() => Failure::locate(e, stage, partition),
        DataFusionError::External(_) | DataFusionError::Context(..) | DataFusionError::Shared(_) => e,
        other => Failure::new(codes::run::FAILED, strip_df_prefix(&other)).at(stage, partition).into_datafusion(),
    }
}

impl RecordBatchStream for StageStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
