//! Blocking producers (file readers, rusqlite, database drivers) turned into async record-batch
//! streams through a small bounded channel: memory stays bounded by the channel depth, the
//! producer stops as soon as the consumer is dropped (cancellation), and a panic in the producer
//! becomes an error instead of tearing down the run.

use std::panic::AssertUnwindSafe;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use tokio::sync::mpsc;

/// Batches in flight between a blocking producer and its consumer.
pub const CHANNEL_DEPTH: usize = 2;

/// The producer's end: `send` returns false once the consumer is gone, and the producer should
/// stop then.
pub struct BatchSender {
    tx: mpsc::Sender<Result<RecordBatch>>,
}

impl BatchSender {
    pub fn send(&self, batch: RecordBatch) -> bool {
        self.tx.blocking_send(Ok(batch)).is_ok()
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Runs `produce` on the blocking pool and streams what it sends.
pub fn blocking_stream<F>(schema: SchemaRef, produce: F) -> SendableRecordBatchStream
where
    F: FnOnce(&BatchSender) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    let sender = BatchSender { tx: tx.clone() };
    tokio::task::spawn_blocking(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| produce(&sender)));
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => {
                let message = format!("reader failed unexpectedly: {}", panic_message(panic.as_ref()));
                Some(
                    crate::diagnostics::Failure::new(crate::diagnostics::codes::run::INTERNAL, message)
                        .into_datafusion(),
                )
            }
        };
        if let Some(e) = error {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
