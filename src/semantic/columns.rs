//! Column checks that need the source schemas: a partition or incremental column missing from its
//! source, columns a transform reads that its input does not have, and an upsert's key or `keep
//! last by` column missing from the sink's input. Runs on the AST (for
//! spans) with the column names discovered from reachable sources; a stage whose input is unknown
//! is skipped.

use std::collections::HashMap;

use super::expr::columns_read;
use super::lower::suggest;
use crate::diagnostics::{Problem, codes};
use crate::syntax::ast::{self, Ident, StageOptionKind, StepKind};

/// A stage's columns: their names, and which of them hold exact decimal text (a PostgreSQL
/// `numeric` without precision, see `connect::decimal_text`).
#[derive(Clone)]
struct Shape {
    columns: Vec<String>,
    exact_text: Vec<String>,
}

/// Checks one pipeline against `schemas` (source name → column names, for known sources);
/// `exact_text` names, per source, the columns carried as exact decimal text, which a transform
/// may pass on or `cast`, but not compare or compute with (that would compare text, silently).
pub fn check_columns(
    pipeline: &ast::Pipeline,
    schemas: &HashMap<String, Vec<String>>,
    exact_text: &HashMap<String, Vec<String>>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut known: HashMap<&str, Shape> = HashMap::new();
    for source in &pipeline.sources {
        let Some(columns) = schemas.get(&source.name.name) else {
            continue;
        };
        for opt in &source.options {
            if let StageOptionKind::Partition { column, .. } | StageOptionKind::Incremental { column } = &opt.kind
                && !columns.contains(&column.name)
            {
                problems.push(unknown_column(column, columns, &format!("source `{}`", source.name.name)));
            }
        }
        let exact_text = exact_text.get(&source.name.name).cloned().unwrap_or_default();
        known.insert(&source.name.name, Shape { columns: columns.clone(), exact_text });
    }
    // Transforms may be declared in any order: resolve each once its input is known.
    let mut pending: Vec<&ast::Transform> = pipeline.transforms.iter().collect();
    loop {
        let before = pending.len();
        pending.retain(|t| {
            let Some(input) = known.get(t.input.name.as_str()).cloned() else {
                return true;
            };
            if let Some(out) = transform_columns(t, input, &mut problems) {
                known.insert(&t.name.name, out);
            }
            false
        });
        if pending.len() == before {
            break;
        }
    }
    for sink in &pipeline.sinks {
        let Some(input) = known.get(sink.input.name.as_str()) else { continue };
        for opt in &sink.options {
            let StageOptionKind::Mode(ast::ModeAst::Upsert { keys, keep_last_by }) = &opt.kind else { continue };
            let context = format!("`{}`, the input of this sink", sink.input.name);
            for column in keys.iter().chain(keep_last_by).filter(|c| !input.columns.contains(&c.name)) {
                problems.push(unknown_column(column, &input.columns, &context));
            }
        }
    }
    problems
}

/// The columns a transform outputs, reporting references to columns its input lacks and
/// computations on exact decimal text. `None` once a `sql` step makes the shape unknowable
/// without running the planner.
fn transform_columns(t: &ast::Transform, input: Shape, problems: &mut Vec<Problem>) -> Option<Shape> {
    let Shape { mut columns, mut exact_text } = input;
    let context = format!("the input of this step in `{}`", t.name.name);
    let computed_on_text = |e: &ast::Expr, exact_text: &[String], problems: &mut Vec<Problem>| {
        let mut refs = Vec::new();
        super::expr::columns_computed(e, &mut refs);
        for c in refs.iter().filter(|c| exact_text.contains(&c.name)) {
            problems.push(exact_text_in_expression(c));
        }
    };
    let require = |ident: &Ident, columns: &[String], problems: &mut Vec<Problem>| {
        let ok = columns.contains(&ident.name);
        if !ok {
            problems.push(unknown_column(ident, columns, &context));
        }
        ok
    };
    for step in &t.steps {
        match &step.kind {
            StepKind::Filter(e) => {
                let mut refs = Vec::new();
                columns_read(e, &mut refs);
                refs.iter().for_each(|c| {
                    require(c, &columns, problems);
                });
                computed_on_text(e, &exact_text, problems);
            }
            StepKind::Derive(items) => {
                for (name, e) in items {
                    let mut refs = Vec::new();
                    columns_read(e, &mut refs);
                    refs.iter().for_each(|c| {
                        require(c, &columns, problems);
                    });
                    computed_on_text(e, &exact_text, problems);
                    // `derive x = n` passes the exact text on; anything else makes a new value.
                    let passes_text = matches!(&e.kind, ast::ExprKind::Column(c) if exact_text.contains(&c.name));
                    exact_text.retain(|x| x != &name.name);
                    if passes_text {
                        exact_text.push(name.name.clone());
                    }
                    if !columns.contains(&name.name) {
                        columns.push(name.name.clone());
                    }
                }
            }
            StepKind::Select(cols) => {
                let kept: Vec<String> =
                    cols.iter().filter(|c| require(c, &columns, problems)).map(|c| c.name.clone()).collect();
                columns = kept;
                exact_text.retain(|x| columns.contains(x));
            }
            StepKind::Drop(cols) => {
                for c in cols {
                    if require(c, &columns, problems) {
                        columns.retain(|x| x != &c.name);
                        exact_text.retain(|x| x != &c.name);
                    }
                }
            }
            StepKind::Rename(pairs) => {
                for (from, to) in pairs {
                    if require(from, &columns, problems) {
                        for c in columns.iter_mut().chain(exact_text.iter_mut()).filter(|c| **c == from.name) {
                            c.clone_from(&to.name);
                        }
                    }
                }
            }
            StepKind::Cast(items) => {
                for (c, _) in items {
                    require(c, &columns, problems);
                    exact_text.retain(|x| x != &c.name);
                }
            }
            StepKind::Sql(_) => return None,
            StepKind::Unknown(_) => {}
        }
    }
    Some(Shape { columns, exact_text })
}

/// A comparison or computation on a column carried as exact decimal text would compare or
/// combine text (`'99' > '100'`), silently: refused, with the cast that makes it numeric.
fn exact_text_in_expression(column: &Ident) -> Problem {
    Problem::error(
        codes::column::EXACT_TEXT,
        format!(
            "column `{}` is a PostgreSQL numeric without precision, carried as exact text; comparing or computing \
             with it would treat it as text",
            column.name
        ),
    )
    .at(column.span, "exact decimal text")
    .help(format!(
        "cast it to a decimal first, e.g. cast({} as decimal(38, 10)), or give the column a precision in the source",
        column.name
    ))
}

fn unknown_column(column: &Ident, columns: &[String], context: &str) -> Problem {
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    let help = suggest(&column.name, &refs).unwrap_or_else(|| {
        let mut shown: Vec<&str> = refs.iter().take(12).copied().collect();
        if refs.len() > 12 {
            shown.push("...");
        }
        format!("available columns: {}", shown.join(", "))
    });
    Problem::error(codes::column::UNKNOWN, format!("no column `{}` in {context}", column.name))
        .at(column.span, "unknown column")
        .help(help)
}
