//! Running pipelines on an Apache DataFusion Ballista cluster (feature `cluster`).
//!
//! What runs where:
//!
//! ```text
//!  flow run FILE --engine ballista://HOST:PORT                    (the client)
//!    parse → check → resolve → read ledgers → snapshot → prepare sinks
//!    per sink: plan (cluster::plan) ─ encode (cluster::codec) ─▶ submit (cluster::client)
//!                                                                  │ gRPC
//!  flow scheduler                                                  ▼
//!    decode the plan, one stage per sink, one task per partition (work lists restricted)
//!                                                                  │ push
//!  flow executor × N                                               ▼
//!    decode the task's plan; ScanExec reads its partition from the source,
//!    WriteExec commits rows + ledger row on the target (skipped if the ledger has it)
//!                                                                  │
//!  the client, once every job succeeded:                            ▼
//!    check the ledger has every partition, publish each sink once, foreign keys, report
//! ```
//!
//! The client keeps everything before and after writing (`exec::run`, through
//! [`crate::exec::PartitionEngine`]), so the ledger, `--resume` and publishing behave as in a
//! local run. The source's exported snapshot (PostgreSQL) is held by the client for the whole
//! run and imported by each executor's reader.
//!
//! | file | what it holds |
//! |---|---|
//! | `nodes.rs` | [`ScanExec`], [`WriteExec`]: Flow's source and sink nodes over work lists |
//! | `codec.rs` | [`FlowPhysicalCodec`]: Flow's nodes on the wire, Ballista's for the rest |
//! | `digest.rs` | [`digest::DigestExec`]: a sink's partitions checksummed on the executors (`flow verify --engine`) |
//! | `plan.rs` | a sink's job (or comparison) → its cluster plan |
//! | `client.rs` | [`BallistaEngine`]: readiness, submit, poll, cancel |
//! | `cancel.rs` | a cancelled task's token, which stops Flow's writer on an executor |
//! | `wire.rs` | a partition's failure (code, location) from an executor to the client |
//! | `scheduler.rs`, `executor.rs` | `flow scheduler`, `flow executor` |
//! | `standalone.rs` | scheduler + executor in this process, for tests |

pub mod cancel;
pub mod client;
pub mod codec;
pub mod digest;
pub mod executor;
pub mod nodes;
pub mod plan;
pub mod scheduler;
pub mod standalone;
pub mod wire;

#[cfg(test)]
mod tests;

pub use client::BallistaEngine;
pub use codec::FlowPhysicalCodec;
pub use nodes::{ScanExec, WriteExec};

/// Why an `--engine` value names no scheduler. `shown` is the value with any user and password
/// masked (`ballista://***@h:1`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineAddressError {
    #[error("--engine `{shown}`: expected ballista://HOST:PORT (the address of `flow scheduler`)")]
    Scheme { shown: String },
    #[error("--engine `{shown}` names no host")]
    NoHost { shown: String },
    /// A path, query, user or fragment, which would be dropped.
    #[error(
        "--engine `{shown}`: `{extra}` has no meaning here; give only ballista://HOST:PORT (the address of `flow \
         scheduler`)"
    )]
    Extra { shown: String, extra: char },
    #[error("--engine: {0}")]
    Address(#[from] executor::AddressError),
}

/// The scheduler an `--engine` value names: `ballista://HOST:PORT` → `HOST:PORT`. The port
/// defaults to Ballista's, 50050. Errors on another scheme, anything beyond the address, or a
/// bad port.
pub fn parse_engine(engine: &str) -> Result<String, EngineAddressError> {
    // A user and password have no place here, but errors must not print them either.
    let shown = match (engine.split_once("://"), engine.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
        (None, Some((_, host))) => format!("***@{host}"),
        _ => engine.to_string(),
    };
    let rest = engine.strip_prefix("ballista://").ok_or_else(|| EngineAddressError::Scheme { shown: shown.clone() })?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Err(EngineAddressError::NoHost { shown });
    }
    // A scheduler is an address, nothing more: a path, query, user or fragment would be dropped.
    if let Some(extra) = rest.chars().find(|c| matches!(c, '/' | '?' | '#' | '@')) {
        return Err(EngineAddressError::Extra { shown, extra });
    }
    let with_port = if rest.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) {
        rest.to_string()
    } else {
        format!("{rest}:50050")
    };
    executor::split_host_port(&with_port)?;
    Ok(with_port)
}
