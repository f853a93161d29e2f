//! One row per key for the sinks in `mode upsert on (...)` (see `plan::upsert`), the same on
//! every backend: [`wrap`] puts an [`UpsertDriver`] around the driver of such a sink, and every
//! partition's rows pass through it before the backend sees them.
//!
//! - With `keep last by COLUMN`, a partition is read whole and only the last row of each key
//!   goes on ([`keep_last`]).
//! - Then every key is remembered (a 128-bit hash, some 35 MB per million rows the sink writes
//!   in the run) across the sink's partitions, and a key seen twice fails the partition
//!   with [`codes::sink::DUPLICATE_KEYS`], naming up to five such keys (the rest of the
//!   partition is read to find them, not written). The partition's transaction rolls back and
//!   the run publishes nothing. On a cluster (`--engine`) each partition remembers its own keys
//!   only; a resumed run, the keys of the partitions it writes.
//!
//! Without this, PostgreSQL refuses the publish (`ON CONFLICT DO UPDATE command cannot affect row
//! a second time`), a MySQL staging table keyed like the target refuses the second row as a
//! duplicate entry, and SQLite keeps whichever row it met last.

mod keep_last;
pub mod key;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::error::Result;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

pub use keep_last::keep_last;
use key::{KeyColumns, KeySet, key_hash};

use crate::connect::sink::{RowsWritten, SinkDriver};
use crate::diagnostics::{Failure, Remedy, codes};
use crate::ledger::{LedgerRow, Preparation};
use crate::plan::{KeepLast, SinkPlan, WriteMode};

/// How many repeated keys a failure names.
const SAMPLE: usize = 5;

/// `driver` as it must be for `sink`: wrapped in an [`UpsertDriver`] when the sink upserts,
/// unchanged otherwise.
pub fn wrap(sink: &SinkPlan, driver: Arc<dyn SinkDriver>) -> Arc<dyn SinkDriver> {
    match &sink.mode {
        WriteMode::Upsert { keys, keep } => {
            Arc::new(UpsertDriver { inner: driver, keys: keys.clone(), keep: keep.clone(), seen: Arc::default() })
        }
        _ => driver,
    }
}

/// A sink driver that hands its inner driver one row per key (see the module docs).
pub struct UpsertDriver {
    inner: Arc<dyn SinkDriver>,
    keys: Vec<String>,
    keep: Option<KeepLast>,
    /// The hashes of the keys written so far in this run, by every partition.
    seen: Arc<Mutex<KeySet>>,
}

#[async_trait]
impl SinkDriver for UpsertDriver {
    async fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        self.inner.read_ledger().await
    }

    async fn prepare(&self, prep: &Preparation) -> Result<bool> {
        self.inner.prepare(prep).await
    }

    async fn write_partition(
        &self,
        partition: usize,
        detail: String,
        input: SendableRecordBatchStream,
        metrics: Arc<dyn RowsWritten>,
    ) -> Result<u64> {
        let input = match &self.keep {
            Some(keep) => keep_last(input, &self.keys, &keep.by)?,
            None => input,
        };
        let input = refuse_repeated(input, &self.keys, self.keep.is_some(), self.seen.clone())?;
        self.inner.write_partition(partition, detail, input, metrics).await
    }

    async fn publish(&self, record: LedgerRow) -> Result<()> {
        self.inner.publish(record).await
    }

    fn refused(&self) -> u64 {
        self.inner.refused()
    }
}

/// What a partition remembers while it checks its keys.
struct Check {
    input: SendableRecordBatchStream,
    keys: KeyColumns,
    kept_last: bool,
    seen: Arc<Mutex<KeySet>>,
}

/// `input` as it is, failing at the first batch that holds a key seen before in `seen` (which
/// every key of the stream is added to). `kept_last`: the rows went through `keep_last` (so a
/// key can only repeat across partitions), for the message.
fn refuse_repeated(
    input: SendableRecordBatchStream,
    keys: &[String],
    kept_last: bool,
    seen: Arc<Mutex<KeySet>>,
) -> Result<SendableRecordBatchStream> {
    let schema = input.schema();
    let check = Check { keys: KeyColumns::new(&schema, keys)?, input, kept_last, seen };
    let stream = futures::stream::unfold(Some(check), |state| async move {
        let mut check = state?;
        match check.input.next().await {
            None => None,
            Some(Err(e)) => Some((Err(e), None)),
            Some(Ok(batch)) => match repeats(&check, &batch) {
                Err(e) => Some((Err(e), None)),
                Ok(repeated) if repeated.is_empty() => Some((Ok(batch), Some(check))),
                Ok(repeated) => Some((Err(repeated_keys(check, repeated).await), None)),
            },
        }
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// Adds the keys of `batch` to the keys seen; returns the first [`SAMPLE`] distinct keys that
/// had been seen before, as messages quote them (none: the batch may go on).
fn repeats(check: &Check, batch: &RecordBatch) -> Result<Vec<String>> {
    let rows = check.keys.rows(batch)?;
    let mut seen = check.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut repeated = Vec::new();
    let mut named = HashSet::new();
    for row in 0..rows.num_rows() {
        let hash = key_hash(rows.row(row).as_ref());
        if !seen.insert(hash) && named.insert(hash) && repeated.len() < SAMPLE {
            repeated.push(check.keys.describe(batch, row));
        }
    }
    Ok(repeated)
}

/// The failure for keys that repeat: the partition is read on (not written) until [`SAMPLE`]
/// repeated keys are known or it ends.
async fn repeated_keys(mut check: Check, mut repeated: Vec<String>) -> datafusion::error::DataFusionError {
    while repeated.len() < SAMPLE {
        let Some(Ok(batch)) = check.input.next().await else { break };
        let Ok(more) = repeats(&check, &batch) else { break };
        for key in more {
            if !repeated.contains(&key) && repeated.len() < SAMPLE {
                repeated.push(key);
            }
        }
    }
    let keys = check.keys.names.join(", ");
    let within = if check.kept_last { " (each came in more than one partition)" } else { "" };
    let message = format!(
        "`upsert on ({keys})` writes one row per key, and the input holds rows with the same key{within}: {} (a \
         sample of up to {SAMPLE})",
        repeated.join("; ")
    );
    Failure::new(codes::sink::DUPLICATE_KEYS, message).remedy(Remedy::KeepLast).into_datafusion()
}

#[cfg(test)]
mod tests;
