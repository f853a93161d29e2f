//! Limits on how deep or long a `.flow` file's constructs may be, checked before anything walks
//! them recursively (pest's parser, the AST builder, the checker, DataFusion's planner), so that
//! no input can exhaust the stack: each refusal is a `flow::parse::too_deep` diagnostic.

use pest::iterators::Pair;

use super::ast::Span;
use super::parser::{Rule, is_infix, is_postfix, span_of};
use crate::diagnostics::{Problem, codes};

/// Deeper nesting than any real pipeline needs; the tree walk below recurses once per level.
pub(super) const MAX_NESTING: usize = 200;

/// Rejects absurdly nested parentheses before parsing, so no input can exhaust the stack.
pub(super) fn check_nesting(text: &str) -> Result<(), Problem> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut comment = false;
    for (i, c) in text.char_indices() {
        if comment {
            comment = c != '\n';
            continue;
        }
        match (quote, c) {
            (None, '#') => comment = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Problem::error(codes::parse::TOO_DEEP, "parentheses are nested too deeply")
                        .at(Span::new(i, i + 1), format!("more than {MAX_NESTING} levels"))
                        .help("split the expression into several derive steps"));
                }
            }
            (None, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Operators one expression may chain (`a or b or ...`): each is a level of the expression tree
/// the checker and DataFusion walk recursively, so an unbounded chain could exhaust the stack.
const MAX_OPERATORS: usize = 256;

/// Refuses an expression that chains more than [`MAX_OPERATORS`] operators or nests (through
/// `case`, calls and parentheses) deeper than [`MAX_NESTING`], before anything walks it
/// recursively. Walks pest's tree iteratively (`flatten`).
pub(super) fn check_expression_sizes(file: &Pair<Rule>) -> Result<(), Problem> {
    let mut open_ends: Vec<usize> = Vec::new();
    for pair in file.clone().into_inner().flatten() {
        let span = pair.as_span();
        while open_ends.last().is_some_and(|&end| end <= span.start()) {
            open_ends.pop();
        }
        if pair.as_rule() != Rule::expr {
            continue;
        }
        let operators = pair.clone().into_inner().filter(|p| is_infix(p.as_rule()) || is_postfix(p.as_rule())).count();
        if operators > MAX_OPERATORS {
            return Err(Problem::error(codes::parse::TOO_DEEP, "an expression chains too many operators")
                .at(span_of(&pair), format!("more than {MAX_OPERATORS} operators"))
                .help(
                    "split it over several steps (several `filter`s are combined with `and`), or use `| sql \"...\"`",
                ));
        }
        open_ends.push(span.end());
        if open_ends.len() > MAX_NESTING {
            return Err(Problem::error(codes::parse::TOO_DEEP, "expressions are nested too deeply")
                .at(span_of(&pair), format!("more than {MAX_NESTING} levels"))
                .help("split the expression into several derive steps"));
        }
    }
    Ok(())
}
