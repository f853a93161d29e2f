//! `flow scheduler` and `flow executor`: the two halves of a Ballista cluster that knows Flow's
//! sources and sinks (see `crate::cluster`).

use std::io::Write as _;
use std::time::Duration;

use super::{ExecutorArgs, Exit, SchedulerArgs};
use crate::cluster::executor::{ExecutorSettings, serve_executor};
use crate::cluster::scheduler::{SchedulerSettings, serve_scheduler};

/// Installs the server log (`cli::logging`); `Err` when `FLOW_LOG` names no level.
fn start_logging() -> Result<(), Exit> {
    match super::logging::level_from_env() {
        Ok(level) => {
            super::logging::install(level);
            Ok(())
        }
        Err(e) => {
            super::command_error(crate::diagnostics::codes::usage::BAD_VALUE, &e);
            Err(Exit::Usage)
        }
    }
}

/// Binds, prints `listening on ADDR` (first line of stdout: tests and scripts read the port from
/// it when `--bind` names port 0), then serves until the process ends.
pub async fn scheduler(args: SchedulerArgs) -> Exit {
    if let Err(exit) = start_logging() {
        return exit;
    }
    let listener = match tokio::net::TcpListener::bind(&args.bind).await {
        Ok(l) => l,
        Err(e) => {
            let message = format!("cannot listen on {}: {e}", args.bind);
            super::command_error(crate::diagnostics::codes::cluster::PORT_IN_USE, &message);
            return Exit::Runtime;
        }
    };
    match listener.local_addr() {
        Ok(addr) => super::say!("listening on {addr}\n"),
        Err(e) => {
            super::command_error(crate::diagnostics::codes::run::FAILED, &e);
            return Exit::Runtime;
        }
    }
    let _ = std::io::stdout().flush();
    let settings =
        SchedulerSettings { executor_timeout: Duration::from_secs(args.executor_timeout), ..Default::default() };
    tokio::select! {
        served = serve_scheduler(listener, &settings) => match served {
            Ok(()) => Exit::Ok,
            Err(e) => {
                super::command_error(crate::diagnostics::codes::run::FAILED, &e);
                Exit::Runtime
            }
        },
        signal = super::stop_signal() => {
            log::info!("scheduler stopped by {signal}");
            Exit::Ok
        }
    }
}

/// How long an executor waits for its scheduler to listen, as Ballista's own retries do.
const SCHEDULER_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// No scheduler accepted a connection within [`SCHEDULER_WAIT`]; `last` is the last attempt's
/// error (`None`: it timed out).
#[derive(Debug, thiserror::Error)]
#[error(
    "no scheduler answers at {address}{} after {} s; start `flow scheduler` first",
    last.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(),
    SCHEDULER_WAIT.as_secs()
)]
struct NoScheduler {
    address: String,
    last: Option<std::io::Error>,
}

/// Returns once something accepts TCP connections at `address` (`host:port`), trying every
/// half second. Errors after [`SCHEDULER_WAIT`] without an answer.
async fn scheduler_listens(address: &str) -> Result<(), NoScheduler> {
    let deadline = tokio::time::Instant::now() + SCHEDULER_WAIT;
    let mut said = false;
    loop {
        let attempt = tokio::time::timeout(std::time::Duration::from_secs(2), tokio::net::TcpStream::connect(address));
        match attempt.await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) if tokio::time::Instant::now() >= deadline => {
                return Err(NoScheduler { address: address.to_string(), last: Some(e) });
            }
            Err(_) if tokio::time::Instant::now() >= deadline => {
                return Err(NoScheduler { address: address.to_string(), last: None });
            }
            _ => {
                if !said {
                    crate::eprintln_lossy!(
                        "waiting for the scheduler at {address} (up to {} s)",
                        SCHEDULER_WAIT.as_secs()
                    );
                    said = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}

/// A port the executor cannot listen on (`flow::cluster::port_in_use`); `what` says which.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} ({what}): {source}")]
struct PortInUse {
    address: std::net::SocketAddr,
    what: &'static str,
    source: std::io::Error,
}

/// Refuses a port another process holds, before Ballista starts: its executor would log the
/// failure and return as if stopped normally.
fn port_free(address: std::net::SocketAddr, what: &'static str) -> Result<(), PortInUse> {
    std::net::TcpListener::bind(address).map(drop).map_err(|source| PortInUse { address, what, source })
}

/// Runs an executor until SIGTERM or Ctrl-C.
pub async fn executor(args: ExecutorArgs) -> Exit {
    if let Err(exit) = start_logging() {
        return exit;
    }
    crate::connect::retry::set_connect_retries(args.connect_retries);
    // Refused at once: the wait for the scheduler below would otherwise retry it for a minute.
    if let Err(e) = crate::cluster::executor::split_host_port(&args.scheduler) {
        super::command_error(crate::diagnostics::codes::usage::BAD_VALUE, &format!("--scheduler {e}"));
        return Exit::Usage;
    }
    let bind: std::net::SocketAddr = match args.bind.parse() {
        Ok(b) => b,
        Err(_) => {
            let message = format!("--bind `{}`: expected IP:PORT, e.g. 127.0.0.1:50051", args.bind);
            super::command_error(crate::diagnostics::codes::usage::BAD_VALUE, &message);
            return Exit::Usage;
        }
    };
    let Some(grpc_port) = args.grpc_port.or_else(|| bind.port().checked_add(1)) else {
        let message = format!("--bind {bind}: no port follows it for the executor's gRPC service; give --grpc-port");
        super::command_error(crate::diagnostics::codes::usage::MISSING, &message);
        return Exit::Usage;
    };
    let grpc = std::net::SocketAddr::new(bind.ip(), grpc_port);
    if let Err(e) = port_free(bind, "the executor's Flight data port").and_then(|()| port_free(grpc, "its gRPC port")) {
        let message = format!("{e}; give another --bind (or --grpc-port)");
        super::command_error(crate::diagnostics::codes::cluster::PORT_IN_USE, &message);
        return Exit::Runtime;
    }
    let settings = ExecutorSettings {
        scheduler: args.scheduler.clone(),
        bind,
        grpc_port,
        slots: args.slots,
        // The process id keeps a restarted executor from taking the id of the one it replaces,
        // which the scheduler still holds until that one's heartbeat times out.
        id: args.id.unwrap_or_else(|| format!("executor-{}-{}", bind.port(), std::process::id())),
        heartbeat_seconds: args.heartbeat,
    };
    super::say!("executor {} on {bind} (gRPC port {grpc_port}), scheduler {}\n", settings.id, settings.scheduler);
    let _ = std::io::stdout().flush();
    // Ballista's executor returns `Ok` however it stopped; only a signal is a normal stop.
    let mut signalled = tokio::spawn(super::stop_signal());
    // Ballista retries its scheduler for a minute without listening for signals: wait for it
    // here, where a signal stops the wait.
    tokio::select! {
        reached = scheduler_listens(&settings.scheduler) => {
            if let Err(e) = reached {
                let message = format!("executor {}: {e}", settings.id);
                super::command_error(crate::diagnostics::codes::cluster::UNREACHABLE, &message);
                return Exit::Runtime;
            }
        }
        signal = &mut signalled => {
            let signal = signal.unwrap_or("a signal");
            crate::eprintln_lossy!("executor {} stopped by {signal} before it reached its scheduler", settings.id);
            return Exit::Ok;
        }
    }
    match serve_executor(&settings).await {
        Ok(()) if signalled.is_finished() => Exit::Ok,
        Ok(()) => {
            signalled.abort();
            crate::eprintln_lossy!(
                "error: executor {} stopped: it lost its scheduler at {} or one of its services failed (see the log \
                 above)",
                settings.id,
                settings.scheduler
            );
            Exit::Runtime
        }
        Err(e) => {
            super::command_error(crate::diagnostics::codes::run::FAILED, &e);
            Exit::Runtime
        }
    }
}
