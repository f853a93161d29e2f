#![doc = include_str!("../ARCHITECTURE.md")]
// `unsafe` is allowed in one module only: `connect::sqlite::raw`.
#![deny(unsafe_code)]

/// `eprintln!` that never panics. std's `eprintln!` panics when stderr cannot be written (a
/// closed pipe: `flow ... 2>&1 | head -2`; a full device: `2>/dev/full`), which would turn a run's
/// exit code 1 or 2 into a panic's 101; a message that cannot be written is dropped instead.
#[macro_export]
macro_rules! eprintln_lossy {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see [`eprintln_lossy!`]).
#[macro_export]
macro_rules! eprint_lossy {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod analyze;
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
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
