//! Fan-out: one execution of a stage feeding several consumers (two sinks of one transform, a
//! source read by two transforms). Without it each consumer would execute the stage again:
//! the database read twice, possibly seeing different data.
//!
//! The first consumer to execute partition `p` starts the input's partition `p` once; every
//! batch is sent to each consumer through its own small bounded channel, so memory stays bounded
//! and the slowest consumer sets the pace. A consumer that goes away does not stop the others.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;
use tokio::sync::mpsc;

type Receiver = mpsc::Receiver<Result<RecordBatch>>;

/// The shared side: the input plan and, per started partition, the consumers' receivers.
pub struct FanOut {
    input: Arc<dyn ExecutionPlan>,
    consumers: usize,
    started: Mutex<HashMap<usize, Vec<Option<Receiver>>>>,
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut").field("consumers", &self.consumers).finish()
    }
}

impl FanOut {
    /// Wraps `input` for `consumers` readers; returns one plan per reader.
    pub fn split(input: Arc<dyn ExecutionPlan>, consumers: usize) -> Vec<Arc<dyn ExecutionPlan>> {
        let shared = Arc::new(FanOut { input, consumers, started: Mutex::new(HashMap::new()) });
        (0..consumers).map(|index| Arc::new(FanOutExec::new(shared.clone(), index)) as Arc<dyn ExecutionPlan>).collect()
    }

    fn receiver(&self, partition: usize, index: usize, context: Arc<TaskContext>) -> Result<Receiver> {
        let mut started =
            self.started.lock().map_err(|_| DataFusionError::Internal("fan-out state poisoned".into()))?;
        if let std::collections::hash_map::Entry::Vacant(slot) = started.entry(partition) {
            let mut senders = Vec::with_capacity(self.consumers);
            let mut receivers = Vec::with_capacity(self.consumers);
            for _ in 0..self.consumers {
                let (tx, rx) = mpsc::channel(crate::connect::blocking::CHANNEL_DEPTH);
                senders.push(tx);
                receivers.push(Some(rx));
            }
            let input = self.input.execute(partition, context)?;
            tokio::spawn(broadcast(input, senders));
            slot.insert(receivers);
        }
        started.get_mut(&partition).and_then(|receivers| receivers.get_mut(index)).and_then(Option::take).ok_or_else(
            || DataFusionError::Internal(format!("fan-out partition {partition} read twice by consumer {index}")),
        )
    }
}

async fn broadcast(mut input: SendableRecordBatchStream, mut senders: Vec<mpsc::Sender<Result<RecordBatch>>>) {
    while let Some(item) = input.next().await {
        // An error goes to every consumer; `Shared` keeps its type (e.g. a stage timeout).
        let item = item.map_err(Arc::new);
        let failed = item.is_err();
        let mut live = Vec::with_capacity(senders.len());
        for tx in senders.drain(..) {
            let message = match &item {
                Ok(batch) => Ok(batch.clone()),
                Err(e) => Err(DataFusionError::Shared(e.clone())),
            };
            if tx.send(message).await.is_ok() {
                live.push(tx);
            }
        }
        senders = live;
        if failed || senders.is_empty() {
            return;
        }
    }
}

/// One consumer's view of a [`FanOut`].
#[derive(Debug)]
pub struct FanOutExec {
    shared: Arc<FanOut>,
    index: usize,
    cache: Arc<PlanProperties>,
}

impl FanOutExec {
    fn new(shared: Arc<FanOut>, index: usize) -> Self {
        let partitions = shared.input.properties().partitioning.partition_count();
        let cache = super::nodes::properties(shared.input.schema(), partitions);
        Self { shared, index, cache }
    }
}

impl DisplayAs for FanOutExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "FanOutExec: consumer {} of {}", self.index, self.shared.consumers)
    }
}

impl ExecutionPlan for FanOutExec {
    fn name(&self) -> &'static str {
        "FanOutExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.cache
    }

    /// The shared input is a child of every consumer, so plan walks (explain) still see it.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.shared.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        // The input is shared with the other consumers; it cannot be swapped for one of them.
        Ok(self)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let rx = self.shared.receiver(partition, self.index, context)?;
        let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.shared.input.schema(), stream)))
    }
}
