#![doc = include_str!("../ARCHITECTURE.md")]

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
