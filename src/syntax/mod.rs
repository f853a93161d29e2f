//! Text → AST. `parse` is the only entry point; pest stays inside `parser` (and `format`, which
//! prints pest's concrete tree back as canonical text for `flow fmt`).

pub mod ast;
pub mod format;
mod limits;
mod parser;

pub use parser::parse;
