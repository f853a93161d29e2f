//! Execution: logical plan → DataFusion physical graph → run report.

pub mod engine;
pub mod fanout;
pub mod graph;
pub mod metrics;
pub mod nodes;
pub mod progress;
pub mod pushdown;
mod remote;
pub mod report;
pub mod run;
pub mod sink_exec;
pub mod status;
pub mod tables;
pub mod transform;

pub use engine::{DigestJob, PartitionDigest, PartitionEngine, Placement, SinkJob, TargetRead, Written};
pub use progress::ProgressMode;
pub use report::{RunReport, RunStatus};
pub use run::{RunHints, RunOptions, run_pipeline};
