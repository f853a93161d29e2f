//! Flow: a declarative dataflow/ETL engine.
//!
//! Data flows one way through the crate:
//!
//! ```text
//! .flow text ─syntax::parse─▶ AST ─semantic::lower─▶ PipelinePlan ─exec::graph─▶ DataFusion plan ─exec::run─▶ RunReport
//!                                                        └─explain─▶ text / JSON
//! ```
//!
//! `analyze` strings the front half together for the commands; `connect` holds one folder per
//! backend, source and sink side by side.

pub mod analyze;
pub mod cli;
pub mod connect;
pub mod diagnostics;
pub mod exec;
pub mod expand;
pub mod explain;
pub mod ledger;
pub mod plan;
pub mod profiles;
pub mod resolve;
pub mod schema;
pub mod semantic;
pub mod syntax;
pub mod verify;
