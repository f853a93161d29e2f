//! Text → AST. `parse` is the only entry point; pest stays inside `parser`.

pub mod ast;
mod parser;

pub use parser::parse;
