//! The cluster forms of Flow's source and sink nodes, whose per-partition state Ballista can
//! split between tasks.
//!
//! Ballista's scheduler restricts each task's plan to the partitions the task owns, but only at
//! leaves it knows (`DataSourceExec` over files or memory, shuffle readers, `EmptyExec`,
//! `PlaceholderRowExec`: `ballista_scheduler::state::task_builder::select_output_partitions`);
//! any other leaf is left whole, and the executor then runs every partition of the plan it gets
//! (`execution_engine.rs`, `for n in 0..partition_count`). The local [`SourceExec`] holds its
//! `Vec<ScanPartition>` itself, so every task would read every partition. Here everything
//! indexed by partition moves into a **work list**: an in-memory `DataSourceExec`
//! (`MemorySourceConfig`) with one partition per Flow partition and one row in it, which
//! Ballista restricts natively and datafusion-proto serialises (`MemoryScan`).
//!
//! ```text
//! WriteExec(sink) ─┬─ [0] StageExec ── Filter/Projection ── StageExec ── ScanExec ── work list (part, scan JSON)
//!                  └─ [1] work list (part, detail)
//! ```
//!
//! Partition `k` of both work lists names the same global partition, so after Ballista restricts
//! the plan to `[k]` the executor's partition 0 writes ledger partition `part` (the executor
//! never learns the global index otherwise). Both nodes report exactly their work list's
//! partition count (zero allowed), so the counts follow the restriction.
//!
//! What runs where: these nodes are built on the client (`cluster::plan`), decoded on the
//! scheduler (which only restricts them: no connection is opened, the sink driver is built at
//! the first `execute`) and executed on an executor.

use std::fmt;
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};

use super::cancel::TaskCancel;
use super::wire;
use crate::connect::connect_error::failure_of;
use crate::connect::sink::{SinkDriver, driver_for};
use crate::connect::{self, Pushdown, ScanPartition};
use crate::diagnostics::{Failure, codes};
use crate::exec::metrics::{StageKind, StageMetrics, StageTimeout};
use crate::exec::nodes::project_by_name;
use crate::exec::run::{find_timeout, partition_failure};
use crate::exec::sink_exec::count_schema;
use crate::ledger::{Event, LedgerKey};
use crate::plan::endpoint::scrub_secret;
use crate::plan::{SinkPlan, SourcePlan};

/// The schema of a work list: the global partition number and one text per partition (a
/// `ScanPartition` as JSON for a scan, the ledger's `detail` for a write).
pub fn worklist_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("part", DataType::UInt32, false), Field::new("text", DataType::Utf8, false)]))
}

/// A work list with one partition per item, each holding that item as its one row.
pub fn worklist(items: &[(usize, String)]) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = worklist_schema();
    let partitions = items
        .iter()
        .map(|(part, text)| {
            let part = u32::try_from(*part)
                .map_err(|_| DataFusionError::Plan(format!("partition {part} does not fit a work list")))?;
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(UInt32Array::from(vec![part])), Arc::new(StringArray::from(vec![text.as_str()]))],
            )?;
            Ok(vec![batch])
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?)
}

/// The items of partition `k` of a work list, read on the executor.
pub(super) async fn read_worklist(
    list: &Arc<dyn ExecutionPlan>,
    k: usize,
    ctx: Arc<TaskContext>,
) -> Result<Vec<(usize, String)>> {
    let batches: Vec<RecordBatch> = list.execute(k, ctx)?.try_collect().await?;
    let mut items = Vec::new();
    for batch in &batches {
        let bad = || DataFusionError::Internal("a work list has the wrong columns".into());
        let parts = batch.column(0).as_any().downcast_ref::<UInt32Array>().ok_or_else(bad)?;
        let texts = batch.column(1).as_any().downcast_ref::<StringArray>().ok_or_else(bad)?;
        for row in 0..batch.num_rows() {
            if parts.is_null(row) || texts.is_null(row) {
                return Err(bad());
            }
            items.push((parts.value(row) as usize, texts.value(row).to_string()));
        }
    }
    Ok(items)
}

/// The one item of partition `k` of a work list that Ballista restricted to one partition per
/// task (a writer's or a digest's). Errors when the task got another number of items; `what`
/// names the node (`sink out`).
pub(super) async fn only_item(
    list: &Arc<dyn ExecutionPlan>,
    k: usize,
    ctx: Arc<TaskContext>,
    what: &str,
) -> Result<(usize, String)> {
    let items = read_worklist(list, k, ctx).await?;
    let [item]: [(usize, String); 1] = items.try_into().map_err(|items: Vec<_>| {
        DataFusionError::Internal(format!("{what}: task partition {k} has {} work items", items.len()))
    })?;
    Ok(item)
}

pub(super) fn properties(schema: SchemaRef, partitions: usize, emission: EmissionType) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        // Not `max(1)`: a task's slice of a work list may be empty, and the count must follow it.
        Partitioning::UnknownPartitioning(partitions),
        emission,
        Boundedness::Bounded,
    ))
}

pub(super) fn partitions_of(plan: &Arc<dyn ExecutionPlan>) -> usize {
    plan.properties().partitioning.partition_count()
}

/// A source read on an executor: partition `k` reads every item of its work list's partition
/// `k` (one, once Ballista has restricted the plan) with `connect::open_partition`.
pub struct ScanExec {
    pub source: SourcePlan,
    /// The columns read (the source's schema, projected).
    pub schema: SchemaRef,
    pub pushdown: Pushdown,
    /// The exported snapshot every partition imports (PostgreSQL), held open by the client.
    pub snapshot: Option<String>,
    worklist: Arc<dyn ExecutionPlan>,
    cache: Arc<PlanProperties>,
}

impl fmt::Debug for ScanExec {
    // Names only: the source's endpoint URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanExec")
            .field("source", &self.source.name)
            .field("partitions", &partitions_of(&self.worklist))
            .finish()
    }
}

impl ScanExec {
    pub fn new(
        source: SourcePlan,
        schema: SchemaRef,
        pushdown: Pushdown,
        snapshot: Option<String>,
        worklist: Arc<dyn ExecutionPlan>,
    ) -> Self {
        let cache = properties(schema.clone(), partitions_of(&worklist), EmissionType::Incremental);
        Self { source, schema, pushdown, snapshot, worklist, cache }
    }

    /// The scan of `items` (global partition, what it reads), for the client.
    pub fn over(
        source: SourcePlan,
        schema: SchemaRef,
        pushdown: Pushdown,
        snapshot: Option<String>,
        items: &[(usize, &ScanPartition)],
    ) -> Result<Self> {
        let texts = items
            .iter()
            .map(|(part, scan)| {
                Ok((*part, serde_json::to_string(scan).map_err(|e| DataFusionError::External(e.into()))?))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::new(source, schema, pushdown, snapshot, worklist(&texts)?))
    }
}

impl DisplayAs for ScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ScanExec: {} ({}), partitions={}",
            self.source.name,
            self.source.endpoint.backend.name(),
            partitions_of(&self.worklist)
        )
    }
}

impl ExecutionPlan for ScanExec {
    fn name(&self) -> &'static str {
        "ScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.worklist]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let [worklist]: [Arc<dyn ExecutionPlan>; 1] =
            children.try_into().map_err(|_| DataFusionError::Internal("ScanExec needs one child".into()))?;
        let s = &*self;
        Ok(Arc::new(ScanExec::new(
            s.source.clone(),
            s.schema.clone(),
            s.pushdown.clone(),
            s.snapshot.clone(),
            worklist,
        )))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (list, source, schema) = (self.worklist.clone(), self.source.clone(), self.schema.clone());
        let (pushdown, snapshot) = (self.pushdown.clone(), self.snapshot.clone());
        let url = source.endpoint.url.clone();
        let opened = async move {
            let items = read_worklist(&list, partition, context).await?;
            // One after the other, each opened only when the previous one ended.
            let streams = futures::stream::iter(items).map(move |(part, text)| {
                let scan: ScanPartition =
                    serde_json::from_str(&text).map_err(|e| DataFusionError::External(e.into()))?;
                connect::open_partition(&source, schema.clone(), part, &scan, &pushdown, snapshot.as_deref())
            });
            Ok::<_, DataFusionError>(streams.try_flatten())
        };
        // The error becomes Ballista's task failure text, which is logged and sent to the client.
        let stream = futures::stream::once(opened).try_flatten().map_err(move |e| scrubbed(&e, &url));
        Ok(project_by_name(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream)), self.schema.clone()))
    }
}

/// `e` as a [`Failure`] (its code and location kept, or `flow::run::failed`) whose message
/// holds no password of `url`: Ballista keeps only the text of a task's error, which the
/// scheduler logs.
fn scrubbed(e: &DataFusionError, url: &str) -> DataFusionError {
    let failure = failure_of(e, codes::run::FAILED);
    failure.reworded(scrub_secret(&failure.message, url)).into_datafusion()
}

/// A sink's writer on an executor: partition `k` writes input partition `k` as the ledger
/// partition its work list names, with the rows and the ledger row in one transaction (the
/// sink's `write_partition`), under the sink's timeout. Yields one row, the rows written.
///
/// Idempotent per `(run, sink, partition)`: Ballista re-runs a task whose executor was lost,
/// even one that had succeeded, so a partition the ledger already records for this run is not
/// written again; its recorded count is returned without reading the input.
pub struct WriteExec {
    pub sink: SinkPlan,
    pub key: LedgerKey,
    input: Arc<dyn ExecutionPlan>,
    worklist: Arc<dyn ExecutionPlan>,
    /// Built at the first `execute`, so decoding (on the scheduler too) opens no connection.
    driver: OnceLock<Arc<dyn SinkDriver>>,
    metrics: Arc<StageMetrics>,
    cache: Arc<PlanProperties>,
}

impl fmt::Debug for WriteExec {
    // Names only: the sink's endpoint URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteExec")
            .field("sink", &self.sink.name)
            .field("run_id", &self.key.run_id)
            .field("partitions", &partitions_of(&self.worklist))
            .finish()
    }
}

impl WriteExec {
    /// Errors when the input and the work list disagree on the number of partitions.
    pub fn try_new(
        sink: SinkPlan,
        key: LedgerKey,
        input: Arc<dyn ExecutionPlan>,
        worklist: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let (n, m) = (partitions_of(&input), partitions_of(&worklist));
        if n != m {
            return Err(DataFusionError::Internal(format!(
                "sink {}: its input has {n} partition(s) but its work list {m}",
                sink.name
            )));
        }
        let metrics = Arc::new(StageMetrics::new(&sink.name, StageKind::Sink, std::time::Instant::now()));
        let cache = properties(count_schema(), m, EmissionType::Final);
        Ok(Self { sink, key, input, worklist, driver: OnceLock::new(), metrics, cache })
    }

    fn driver(&self) -> Result<Arc<dyn SinkDriver>> {
        if let Some(d) = self.driver.get() {
            return Ok(d.clone());
        }
        let d = driver_for(&self.sink, self.input.schema(), self.key.clone())?;
        Ok(self.driver.get_or_init(|| d).clone())
    }
}

impl DisplayAs for WriteExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "WriteExec: {} ({}, {}), partitions={}",
            self.sink.name,
            self.sink.endpoint.backend.name(),
            self.sink.mode,
            partitions_of(&self.worklist)
        )
    }
}

impl ExecutionPlan for WriteExec {
    fn name(&self) -> &'static str {
        "WriteExec"
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
            children.try_into().map_err(|_| DataFusionError::Internal("WriteExec needs two children".into()))?;
        Ok(Arc::new(WriteExec::try_new(self.sink.clone(), self.key.clone(), input, worklist)?))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let (input, list, metrics) = (self.input.clone(), self.worklist.clone(), self.metrics.clone());
        let (sink, key) = (self.sink.clone(), self.key.clone());
        let driver = self.driver();
        let written = async move {
            let driver = driver?;
            let (part, detail) = only_item(&list, partition, context.clone(), &format!("sink {}", sink.name)).await?;
            let cancel = TaskCancel::of(&context);
            let write = async {
                if let Some(rows) = committed_rows(driver.as_ref(), &key, part).await? {
                    return Ok(rows);
                }
                let stream = input.execute(partition, context)?;
                driver.write_partition(part, detail, stream, metrics).await
            };
            // A task the scheduler cancelled stops here: dropping `write` rolls its transaction
            // back and cancels the source's query (`cluster::cancel`).
            let write = async {
                match cancel {
                    Some(cancel) => tokio::select! {
                        written = write => written,
                        () = cancel.cancelled() => Err(Failure::new(
                            codes::run::INTERRUPTED,
                            format!("partition {part}: the task was cancelled; nothing of it was committed"),
                        )
                        .into_datafusion()),
                    },
                    None => write.await,
                }
            };
            let n = match sink.timeout {
                Some(limit) => tokio::time::timeout(limit, write).await.unwrap_or_else(|_| {
                    Err(DataFusionError::External(Box::new(StageTimeout {
                        stage: sink.name.clone(),
                        kind: StageKind::Sink,
                        partition: part,
                        limit,
                    })))
                }),
                None => write.await,
            }
            .map_err(|e| {
                // As a local run words it (`sink `out` partition 3: ...`), tagged so the client
                // gets the code and location back (`cluster::wire`).
                // The task's plan holds this one partition, which its stages number 0: located
                // here, it is the sink's partition `part` (a stage timeout names it too).
                let e = match find_timeout(&e) {
                    Some(t) => DataFusionError::External(Box::new(StageTimeout { partition: part, ..t.clone() })),
                    None => e,
                };
                let found = partition_failure(&sink.name, part, &e);
                let failure = Failure {
                    partition: found.partition.map(|_| part),
                    ..found.reworded(scrub_secret(&found.message, &sink.endpoint.url))
                };
                DataFusionError::Execution(wire::encode(&failure))
            })?;
            Ok(RecordBatch::try_new(count_schema(), vec![Arc::new(UInt64Array::from(vec![n]))])?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(count_schema(), futures::stream::once(written))))
    }
}

/// The rows the ledger records for partition `part` of this run and sink, if it has a row.
async fn committed_rows(driver: &dyn SinkDriver, key: &LedgerKey, part: usize) -> Result<Option<u64>> {
    let rows = driver.read_ledger().await?;
    Ok(rows
        .iter()
        .find(|r| r.run_id == key.run_id && r.sink == key.sink && r.event == Event::Partition && r.part == part as i64)
        .map(|r| u64::try_from(r.rows).unwrap_or(0)))
}
