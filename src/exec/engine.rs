//! Where sink partitions run when they do not run in this process: the seam between the runner
//! (`exec::run`, which keeps reading ledgers, preparing and publishing) and an engine that
//! executes the partition writes elsewhere (`crate::cluster`, on a Ballista cluster).
//!
//! The runner hands over one [`SinkJob`] per sink with partitions still to do and waits; the
//! engine returns once every partition's rows and ledger row are committed on the target, or
//! with the first failure. The runner then checks the ledger itself (it is the authority for
//! what was written) and publishes, exactly as after a local run.
//!
//! `flow verify --engine` hands over one [`DigestJob`] per sink the same way: the engine reads
//! each partition of the source side and of the target where it runs and returns their
//! checksums ([`PartitionDigest`]); verify compares them, and samples a differing partition's
//! rows itself.
//!
//! The trait lives here, not in `cluster`, so that `exec` does not depend on `cluster` (which
//! builds on `exec`'s plan nodes).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::physical_plan::ExecutionPlan;

use crate::diagnostics::Failure;
use crate::ledger::{LedgerKey, RowChecksum};
use crate::plan::SinkPlan;

/// One sink's share of a run, for a remote engine: the sink, the ledger key its partitions are
/// recorded under (run id, pipeline, sink), the physical plan of its input (as built by
/// `exec::graph`, one partition per source partition), and the partitions to write with what
/// each reads (its source predicate, for the ledger's `detail`), in ascending partition order.
#[derive(Clone)]
pub struct SinkJob {
    pub sink: SinkPlan,
    pub key: LedgerKey,
    pub input: Arc<dyn ExecutionPlan>,
    pub parts: Vec<(usize, String)>,
}

impl fmt::Debug for SinkJob {
    // By names only: the sink's endpoint URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkJob")
            .field("sink", &self.sink.name)
            .field("run_id", &self.key.run_id)
            .field("parts", &self.parts.iter().map(|(p, _)| p).collect::<Vec<_>>())
            .finish()
    }
}

/// Where one partition of a sink was written: the executor's id as it registered with the
/// scheduler (`flow executor --id`, or the id Ballista generated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub sink: String,
    pub partition: usize,
    pub executor: String,
}

/// What an engine reports of a finished write: where each partition ran (a partition the engine
/// cannot place is left out), and the rows each source and transform stage passed, by stage name
/// (summed over its partitions; a stage the engine cannot count is left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub placements: Vec<Placement>,
    pub stage_rows: Vec<(String, u64)>,
}

/// What the task of one input partition of a [`DigestJob`] reads of the target besides its
/// source rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRead {
    /// Nothing: another partition's task reads the target rows this partition's are compared
    /// with (a source whose ranges do not reach the sink is compared whole).
    Nothing,
    /// The target's rows matching `predicate` (a DataFusion predicate over the target's columns,
    /// pushed into its database), or all of them.
    Rows { predicate: Option<String> },
}

/// One sink's comparison, for a remote engine (`flow verify --engine`): the sink (whose target
/// is read), the physical plan of the rows the sink receives (as `exec::graph` builds it, one
/// partition per source partition), and for each of its partitions, in order, what that
/// partition's task reads of the target.
#[derive(Clone)]
pub struct DigestJob {
    pub sink: SinkPlan,
    pub input: Arc<dyn ExecutionPlan>,
    pub targets: Vec<TargetRead>,
}

impl fmt::Debug for DigestJob {
    // By names only: the sink's endpoint URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestJob").field("sink", &self.sink.name).field("targets", &self.targets).finish()
    }
}

/// The checksums of one input partition of a [`DigestJob`]: of the rows the sink receives from
/// it (after `keep last by`, as the run wrote them), and of the target rows its task read
/// (`None` for [`TargetRead::Nothing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionDigest {
    pub partition: usize,
    pub source: RowChecksum,
    pub target: Option<RowChecksum>,
}

/// Runs sink partitions somewhere else (see the module docs).
#[async_trait]
pub trait PartitionEngine: Send + Sync + fmt::Debug {
    /// Checks that the engine can take work before the run reads a ledger or writes anything:
    /// it answers, and has somewhere to run tasks. Returns one line for the run report naming
    /// it (`Ballista scheduler h:50050 (2 executors registered)`); errors carry the
    /// `flow::cluster` codes.
    async fn ready(&self) -> Result<String, Failure>;

    /// Writes every partition of every job, each in one transaction with its ledger row, and
    /// returns when all are committed, with where each partition ran and the rows of the stages
    /// before the sinks (for the report). A failure carries the code and location
    /// the failing partition gave it and is already free of passwords; what was committed
    /// before it stays for `--resume`. Dropping the future must stop the work (the engine
    /// cancels what it started).
    async fn write_all(&self, jobs: Vec<SinkJob>) -> Result<Written, Failure>;

    /// Reads every partition of `job` where the engine runs and returns one digest per input
    /// partition, in partition order. Errors are already free of passwords; one located at the
    /// sink (`stage` is the sink's name) names it in its message (`sink `out`: ...`, `sink `out`
    /// partition 3: ...`), others do not and are named by the caller. Dropping the future stops
    /// the work.
    async fn digest(&self, job: DigestJob) -> Result<Vec<PartitionDigest>, Failure>;
}
