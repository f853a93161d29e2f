//! AST → logical plan: name resolution, variables, profiles and validation. Every problem is
//! collected (errors and warnings apart) so a user sees all of them in one run.

pub mod columns;
pub mod expr;
pub mod lower;
pub mod self_writes;
pub mod values;

pub use lower::CheckContext;
pub use values::Variables;

use crate::diagnostics::Problem;
use crate::plan::PipelinePlan;
use crate::syntax::ast;

/// Lowers a parsed file to plans. Plans come back even when there are problems (the parts that
/// lowered cleanly), so `explain` can show as much as possible; callers decide by the problems.
pub fn lower(file: &ast::File, ctx: &CheckContext) -> (Vec<PipelinePlan>, Vec<Problem>) {
    let mut lowering = lower::Lowering::new(ctx);
    let plans = lowering.lower_file(file);
    (plans, lowering.problems)
}
