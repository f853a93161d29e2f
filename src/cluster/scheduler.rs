//! `flow scheduler`: a Ballista scheduler with Flow's codec, serving on a bound listener. Runs in
//! its own process (or in-process for the standalone cluster, `cluster::standalone`).
//!
//! The scheduler decodes each submitted plan (Flow's nodes through [`FlowPhysicalCodec`]; it
//! opens no connection and needs no secret), cuts it into stages, restricts each task's plan to
//! its partition and hands the tasks to executors: pushed to them (the default; cancellation
//! then reaches running tasks) or, for the standalone cluster, pulled by them.

use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{SchedulerConfig, TaskDistributionPolicy};
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;

use super::codec::FlowPhysicalCodec;

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// An executor whose last heartbeat is older than this is lost; its tasks run again
    /// elsewhere. Checked every 2 s.
    pub executor_timeout: Duration,
    /// Executors pull tasks (the standalone cluster's in-process executor) instead of being
    /// pushed them (separate `flow executor` processes).
    pub pull: bool,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self { executor_timeout: Duration::from_secs(30), pull: false }
    }
}

/// Why a scheduler could not serve.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("scheduler listener: {0}")]
    Listener(#[from] std::io::Error),
    /// Ballista's scheduler failed to start (its state, its gRPC service) or stopped with an
    /// error.
    #[error("Ballista scheduler on {addr}: {source}")]
    Ballista { addr: std::net::SocketAddr, source: ballista_core::error::BallistaError },
}

/// Serves a scheduler on `listener` until the process ends. Errors when the scheduler cannot
/// start (its state, the listener); the error names the address.
pub async fn serve_scheduler(listener: TcpListener, settings: &SchedulerSettings) -> Result<(), SchedulerError> {
    let addr = listener.local_addr()?;
    let failed = |source| SchedulerError::Ballista { addr, source };
    let mut config = SchedulerConfig {
        bind_host: addr.ip().to_string(),
        bind_port: addr.port(),
        external_host: addr.ip().to_string(),
        scheduling_policy: if settings.pull {
            TaskSchedulingPolicy::PullStaged
        } else {
            TaskSchedulingPolicy::PushStaged
        },
        // Spreads a sink's partitions over the executors instead of filling the first one.
        task_distribution: TaskDistributionPolicy::RoundRobin,
        executor_timeout_seconds: settings.executor_timeout.as_secs().max(1),
        expire_dead_executor_interval_seconds: 2,
        override_physical_codec: Some(Arc::new(FlowPhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    // Ballista warns unless running jobs outlive a lost executor by this much.
    config.no_executors_grace_period_seconds =
        config.no_executors_grace_period_seconds.max(config.executor_timeout_seconds + 1);
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(failed)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await.map_err(failed)?;
    start_grpc_service_with_listener(listener, scheduler).await.map_err(failed)
}
