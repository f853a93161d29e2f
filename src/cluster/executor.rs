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

/// Runs an executor until SIGTERM or Ctrl-C. Errors when the scheduler address is not
/// `host:port` or the executor cannot start.
pub async fn serve_executor(settings: &ExecutorSettings) -> Result<(), String> {
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
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| format!("Ballista executor {} (scheduler {}): {e}", settings.id, settings.scheduler))
}

/// An executor's work directory, `$TMPDIR/flow-executor-PORT-PID`, removed with everything in
/// it on drop.
struct WorkDir(std::path::PathBuf);

impl WorkDir {
    /// Errors when the directory cannot be created.
    fn create(port: u16) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!("flow-executor-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create the executor's work directory {}: {e}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            log::warn!("cannot remove the executor's work directory {}: {e}", self.0.display());
        }
    }
}

/// `host:port` → its parts. Errors on a missing or non-numeric port.
pub fn split_host_port(address: &str) -> Result<(String, u16), String> {
    let (host, port) = address.rsplit_once(':').ok_or_else(|| format!("`{address}` is not HOST:PORT"))?;
    let port = port.parse::<u16>().map_err(|_| format!("`{address}`: `{port}` is not a port number"))?;
    if host.is_empty() {
        return Err(format!("`{address}` has no host"));
    }
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_string(), port))
}
