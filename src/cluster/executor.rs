//! `flow executor`: a Ballista executor with Flow's codec, in its own process. It registers with
//! the scheduler, takes the tasks pushed to it, decodes each task's plan ([`FlowPhysicalCodec`])
//! and runs it: Flow's scan reads its partition from the source database or file, Flow's writer
//! commits the partition's rows and ledger row on the target. Between stages it serves shuffle
//! data over Arrow Flight on its data port.
//!
//! One executor per process: Ballista's executor keeps its shutdown state in a process-wide
//! static and installs its own Ctrl-C / SIGTERM handling.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

use super::cancel::CancellableEngine;
use super::codec::FlowPhysicalCodec;

/// Where an executor listens and whom it serves.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler, `host:port`.
    pub scheduler: String,
    /// The Arrow Flight (data) address.
    pub bind: SocketAddr,
    /// The executor's gRPC port (task launch, cancellation): by default the one after `bind`'s.
    pub grpc_port: u16,
    /// Tasks run at once; each task is one partition.
    pub slots: usize,
    /// The id it registers under (unique per cluster; a restarted executor takes a new one).
    pub id: String,
    /// Heartbeat period, seconds: well under the scheduler's executor timeout.
    pub heartbeat_seconds: u64,
}

/// Why an executor could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// `--scheduler` is not `HOST:PORT`.
    #[error("--scheduler {0}")]
    Scheduler(#[from] AddressError),
    #[error("cannot create the executor's work directory {}: {source}", path.display())]
    WorkDir { path: std::path::PathBuf, source: std::io::Error },
    /// Ballista's executor failed to start or stopped with an error.
    #[error("Ballista executor {id} (scheduler {scheduler}): {source}")]
    Ballista { id: String, scheduler: String, source: ballista_core::error::BallistaError },
}

/// Runs an executor until SIGTERM or Ctrl-C. Errors when the scheduler address is not
/// `host:port` or the executor cannot start.
pub async fn serve_executor(settings: &ExecutorSettings) -> Result<(), ExecutorError> {
    let (host, port) = split_host_port(&settings.scheduler)?;
    // The executor's shuffle files. Ballista's default is a temporary directory it deletes at
    // once and then recreates piecemeal, so nothing removes it; this one is removed when the
    // executor stops (not after SIGKILL).
    let work_dir = WorkDir::create(settings.bind.port())?;
    let config = ExecutorProcessConfig {
        work_dir: Some(work_dir.0.to_string_lossy().into_owned()),
        executor_id: settings.id.clone(),
        bind_host: settings.bind.ip().to_string(),
        external_host: Some(settings.bind.ip().to_string()),
        port: settings.bind.port(),
        grpc_port: settings.grpc_port,
        scheduler_host: host,
        scheduler_port: port,
        // Keep trying while the scheduler starts (a 0 here would try once).
        scheduler_connect_timeout_seconds: 60,
        vcores: settings.slots.max(1),
        task_scheduling_policy: TaskSchedulingPolicy::PushStaged,
        executor_heartbeat_interval_seconds: settings.heartbeat_seconds.max(1),
        override_physical_codec: Some(Arc::new(FlowPhysicalCodec::default())),
        // So that a cancelled task stops Flow's writer (`cluster::cancel`).
        override_execution_engine: Some(Arc::new(CancellableEngine::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|source| ExecutorError::Ballista {
        id: settings.id.clone(),
        scheduler: settings.scheduler.clone(),
        source,
    })
}

/// An executor's work directory, `$TMPDIR/flow-executor-PORT-PID`, removed with everything in
/// it on drop.
struct WorkDir(std::path::PathBuf);

impl WorkDir {
    /// Errors when the directory cannot be created.
    fn create(port: u16) -> Result<Self, ExecutorError> {
        let path = std::env::temp_dir().join(format!("flow-executor-{port}-{}", std::process::id()));
        match std::fs::create_dir_all(&path) {
            Ok(()) => Ok(Self(path)),
            Err(source) => Err(ExecutorError::WorkDir { path, source }),
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            log::warn!("cannot remove the executor's work directory {}: {e}", self.0.display());
        }
    }
}

/// Why an address is not `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` is not HOST:PORT")]
    NoPort(String),
    #[error("`{address}`: `{port}` is not a port number")]
    BadPort { address: String, port: String },
    #[error("`{0}` has no host")]
    NoHost(String),
}

/// `host:port` → its parts (an IPv6 host without its brackets). Errors on a missing or
/// non-numeric port, or an empty host.
pub fn split_host_port(address: &str) -> Result<(String, u16), AddressError> {
    let (host, port) = address.rsplit_once(':').ok_or_else(|| AddressError::NoPort(address.to_string()))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| AddressError::BadPort { address: address.to_string(), port: port.to_string() })?;
    if host.is_empty() {
        return Err(AddressError::NoHost(address.to_string()));
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}
