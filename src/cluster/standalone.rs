//! A whole Ballista cluster inside this process, on loopback ports: a scheduler and one
//! executor, both with Flow's codec. For tests, and for trying cluster mode on one machine. The
//! executor pulls its tasks (Ballista's own standalone executor), so the scheduler runs in pull
//! mode; everything else is as with separate processes, plan encoding included.

use std::sync::Arc;
use std::time::Duration;

use ballista_core::ConfigProducer;
use ballista_core::RuntimeProducer;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::{BallistaCodec, BallistaLogicalExtensionCodec};
use ballista_core::utils::default_config_producer;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use tokio::net::TcpListener;

use super::codec::FlowPhysicalCodec;
use super::scheduler::{SchedulerSettings, serve_scheduler};

/// A running in-process cluster; it lives as long as the process (its tasks are detached).
#[derive(Debug, Clone)]
pub struct Standalone {
    /// The scheduler, `127.0.0.1:PORT`: what `--engine ballista://` names.
    pub scheduler: String,
}

/// Why the in-process cluster did not start.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    #[error("standalone scheduler: {0}")]
    Listener(#[from] std::io::Error),
    #[error("standalone executor: cannot reach the scheduler at {addr}: {source}")]
    Unreachable { addr: std::net::SocketAddr, source: tonic::transport::Error },
    #[error("standalone executor: {0}")]
    Executor(#[from] ballista_core::error::BallistaError),
}

/// Starts a scheduler and one executor with `slots` task slots. Errors when a listener cannot
/// be bound or the executor cannot reach the scheduler within 10 s.
pub async fn start(slots: usize) -> Result<Standalone, StandaloneError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let settings = SchedulerSettings { pull: true, ..SchedulerSettings::default() };
    tokio::spawn(async move {
        if let Err(e) = serve_scheduler(listener, &settings).await {
            crate::eprintln_lossy!("error: {e}");
        }
    });
    let url = format!("http://{addr}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let client = loop {
        match SchedulerGrpcClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(source) if tokio::time::Instant::now() >= deadline => {
                return Err(StandaloneError::Unreachable { addr, source });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let config: ConfigProducer = Arc::new(default_config_producer);
    let runtime: RuntimeProducer = Arc::new(|_: &SessionConfig| Ok(Arc::new(RuntimeEnv::default())));
    let codec =
        BallistaCodec::new(Arc::new(BallistaLogicalExtensionCodec::default()), Arc::new(FlowPhysicalCodec::default()));
    ballista_executor::new_standalone_executor_from_builder(
        client,
        slots.max(1),
        config,
        runtime,
        codec,
        BallistaFunctionRegistry::default(),
    )
    .await?;
    Ok(Standalone { scheduler: addr.to_string() })
}
