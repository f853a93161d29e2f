//! pest parse tree → AST. This is the only module that sees pest types; a syntax error leaves it
//! as a [`Problem`] with a span.

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest_derive::Parser;

use super::ast::*;
use super::limits::{check_expression_sizes, check_nesting};
use crate::diagnostics::{Problem, codes};

mod errors;
use errors::syntax_problem;

#[derive(Parser)]
#[grammar = "../grammar/flow.pest"]
struct FlowGrammar;

/// Parses a whole `.flow` file. pest stops at the first syntax error, so this returns one problem;
/// every semantic problem is collected later by the checker.
pub fn parse(text: &str) -> Result<File, Problem> {
    let file = parse_tree(text)?;
    check_expression_sizes(&file)?;
    let mut connections = Vec::new();
    let mut pipelines = Vec::new();
    for item in file.into_inner() {
        match item.as_rule() {
            Rule::let_binding => connections.push(connection_binding(item)),
            Rule::pipeline => pipelines.push(pipeline(item)),
            _ => {}
        }
    }
    Ok(File { connections, pipelines })
}

/// The pest tree of a whole file (the `file` rule), for the AST builder above and the formatter
/// (`super::format`), which needs the concrete syntax the AST drops.
///
/// # Errors
/// One [`Problem`]: parentheses nested too deeply, or the first syntax error.
pub(super) fn parse_tree(text: &str) -> Result<Pair<'_, Rule>, Problem> {
    check_nesting(text)?;
    pest::set_error_detail(true);
    let mut pairs = FlowGrammar::parse(Rule::file, text).map_err(|e| syntax_problem(e, text))?;
    pairs.next().ok_or_else(|| Problem::error(codes::parse::SYNTAX, "empty parse"))
}

pub(super) fn span_of(pair: &Pair<Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

fn ident(pair: Pair<Rule>) -> Ident {
    let span = span_of(&pair);
    // `column_name` wraps an `ident` or a back-quoted name; unwrap to the name itself.
    let name = match pair.as_rule() {
        Rule::column_name | Rule::column_ref | Rule::mode_name => {
            return ident(pair.into_inner().next().expect("grammar: name has one child"));
        }
        Rule::quoted_ident => {
            let raw = pair.as_str();
            raw[1..raw.len() - 1].to_string()
        }
        _ => pair.as_str().to_string(),
    };
    Ident { name, span }
}

/// Children that carry meaning: keyword tokens are matched but add nothing to the AST.
fn meaningful(pairs: Pairs<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    pairs.filter(|p| !is_keyword(p.as_rule()))
}

fn is_keyword(rule: Rule) -> bool {
    format!("{rule:?}").starts_with("kw_")
}

fn connection_binding(pair: Pair<Rule>) -> ConnectionBinding {
    let mut inner = meaningful(pair.into_inner());
    let name = ident(inner.next().expect("grammar: let has a name"));
    let call = connection_call(inner.next().expect("grammar: let has a call"));
    ConnectionBinding { name, call }
}

fn connection_call(pair: Pair<Rule>) -> ConnectionCall {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let kind_pair = inner.next().expect("grammar: call has a kind");
    let kind = ConnectionKind::from_keyword(kind_pair.as_str());
    let args = inner.map(arg).collect();
    ConnectionCall { kind, kind_span: span_of(&kind_pair), args, span }
}

fn arg(pair: Pair<Rule>) -> Arg {
    let mut inner: Vec<Pair<Rule>> = pair.into_inner().collect();
    let value = literal(inner.pop().expect("grammar: arg has a value"));
    let name = inner.pop().map(ident);
    Arg { name, value }
}

fn literal(pair: Pair<Rule>) -> Literal {
    debug_assert_eq!(pair.as_rule(), Rule::literal_value);
    let span = span_of(&pair);
    let inner = pair.into_inner().next().expect("grammar: literal has a kind");
    let kind = match inner.as_rule() {
        Rule::string => LiteralKind::String(template(inner)),
        Rule::number => LiteralKind::Number(inner.as_str().to_string()),
        Rule::duration_like => LiteralKind::Duration(inner.as_str().to_string()),
        Rule::boolean => LiteralKind::Bool(inner.as_str().eq_ignore_ascii_case("true")),
        _ => LiteralKind::Variable(variable(inner)),
    };
    Literal { kind, span }
}

fn template(pair: Pair<Rule>) -> Template {
    let parts = pair
        .into_inner()
        .map(|part| match part.as_rule() {
            Rule::variable => TemplatePart::Variable(variable(part)),
            Rule::dq_text => TemplatePart::Text(unescape_double_quoted(part.as_str())),
            _ => TemplatePart::Text(part.as_str().replace("''", "'")),
        })
        .collect();
    Template { parts }
}

fn unescape_double_quoted(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn variable(pair: Pair<Rule>) -> VariableRef {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = inner.next().map(|p| p.as_str().to_string()).unwrap_or_default();
    let default = inner.next().map(|p| p.as_str().to_string());
    VariableRef { name, default, span }
}

fn pipeline(pair: Pair<Rule>) -> Pipeline {
    let span = span_of(&pair);
    let mut inner = meaningful(pair.into_inner());
    let name = ident(inner.next().expect("grammar: pipeline has a name"));
    let mut p = Pipeline {
        name,
        settings: Vec::new(),
        sources: Vec::new(),
        transforms: Vec::new(),
        sinks: Vec::new(),
        unknown_items: Vec::new(),
        span,
    };
    for item in inner {
        match item.as_rule() {
            Rule::setting => p.settings.push(setting(item)),
            Rule::source => p.sources.push(source(item)),
            Rule::transform => p.transforms.push(transform(item)),
            Rule::sink => p.sinks.push(sink(item)),
            Rule::unknown_item => {
                let name = item.into_inner().find(|c| c.as_rule() == Rule::ident);
                p.unknown_items.extend(name.map(ident));
            }
            _ => {}
        }
    }
    p
}

fn setting(pair: Pair<Rule>) -> Setting {
    let inner = pair.into_inner().next().expect("grammar: setting has a kind");
    let rule = inner.as_rule();
    let value = literal(meaningful(inner.into_inner()).next().expect("grammar: setting has a value"));
    match rule {
        Rule::setting_parallelism => Setting::Parallelism(value),
        _ => Setting::Timeout(value),
    }
}

fn source(pair: Pair<Rule>) -> Source {
    let span = span_of(&pair);
    let mut inner = meaningful(pair.into_inner());
    let name = ident(inner.next().expect("grammar: source has a name"));
    let target = target(inner.next().expect("grammar: source has a target"));
    let options = inner.next().map(options).unwrap_or_default();
    Source { name, target, options, span }
}

fn sink(pair: Pair<Rule>) -> Sink {
    let span = span_of(&pair);
    let children: Vec<Pair<Rule>> = meaningful(pair.into_inner()).collect();
    let name = children.iter().find(|c| c.as_rule() == Rule::ident).cloned().map(ident);
    let input = stage_ref(
        children.iter().find(|c| c.as_rule() == Rule::stage_ref).cloned().expect("grammar: sink has an input"),
    );
    let mut target_ast = None;
    let mut opts = Vec::new();
    for child in children {
        match child.as_rule() {
            Rule::target => target_ast = Some(target(child)),
            Rule::options => opts = options(child),
            _ => {}
        }
    }
    Sink { name, input, target: target_ast.expect("grammar: sink has a target"), options: opts, span }
}

fn target(pair: Pair<Rule>) -> Target {
    let inner = pair.into_inner().next().expect("grammar: target has a kind");
    let span = span_of(&inner);
    match inner.as_rule() {
        Rule::connection_call => Target::Inline(connection_call(inner)),
        Rule::target_tables => {
            let mut parts = meaningful(inner.into_inner());
            let connection = ident(parts.next().expect("grammar: tables names a connection"));
            let args = parts.map(tables_arg).collect();
            Target::Tables { connection, args, span }
        }
        Rule::target_schema => {
            let mut parts = meaningful(inner.into_inner());
            let connection = ident(parts.next().expect("grammar: schema names a connection"));
            Target::Schema { connection, schema: parts.next().map(literal), span }
        }
        rule => {
            let mut parts = meaningful(inner.into_inner());
            let connection = ident(parts.next().expect("grammar: target names a connection"));
            let value = literal(parts.next().expect("grammar: target has an argument"));
            if rule == Rule::target_table {
                Target::Table { connection, table: value, span }
            } else {
                Target::Query { connection, sql: value, span }
            }
        }
    }
}

fn tables_arg(pair: Pair<Rule>) -> TablesArg {
    let span = span_of(&pair);
    let mut name = None;
    let mut values = Vec::new();
    for part in meaningful(pair.into_inner()) {
        match part.as_rule() {
            Rule::ident => name = Some(ident(part)),
            Rule::value_list => values.extend(part.into_inner().map(literal)),
            _ => values.push(literal(part)),
        }
    }
    TablesArg { name, values, span }
}

fn options(pair: Pair<Rule>) -> Vec<StageOption> {
    pair.into_inner().map(stage_option).collect()
}

fn stage_option(pair: Pair<Rule>) -> StageOption {
    let span = span_of(&pair);
    let inner = pair.into_inner().next().expect("grammar: option has a kind");
    let rule = inner.as_rule();
    let mut parts = meaningful(inner.into_inner());
    let kind = match rule {
        Rule::opt_partition => {
            let column = ident(parts.next().expect("grammar: partition column"));
            let count = literal(parts.next().expect("grammar: partition count"));
            StageOptionKind::Partition { column, count }
        }
        Rule::opt_member => {
            let table = member_name(parts.next().expect("grammar: member has a name"));
            let mut rename = None;
            let mut member_options = Vec::new();
            for part in parts {
                match part.as_rule() {
                    Rule::options => member_options = options(part),
                    _ => rename = Some(literal(part)),
                }
            }
            StageOptionKind::Member { table, rename, options: member_options }
        }
        Rule::opt_incremental => {
            StageOptionKind::Incremental { column: ident(parts.next().expect("grammar: incremental column")) }
        }
        Rule::opt_batch => StageOptionKind::Batch(literal(parts.next().expect("grammar: batch size"))),
        Rule::opt_timeout => StageOptionKind::Timeout(literal(parts.next().expect("grammar: timeout"))),
        Rule::opt_mode => {
            let mode = parts.next().expect("grammar: mode");
            match mode.as_rule() {
                Rule::mode_upsert => {
                    let mut parts = meaningful(mode.into_inner());
                    let keys = parts.next().map(column_list).unwrap_or_default();
                    let keep_last_by = parts.next().and_then(|keep| meaningful(keep.into_inner()).next()).map(ident);
                    StageOptionKind::Mode(ModeAst::Upsert { keys, keep_last_by })
                }
                Rule::mode_variable => {
                    let span = span_of(&mode);
                    let var = variable(mode.into_inner().next().expect("grammar: mode variable"));
                    StageOptionKind::Mode(ModeAst::Variable(Literal { kind: LiteralKind::Variable(var), span }))
                }
                _ => StageOptionKind::Mode(ModeAst::Named(ident(mode))),
            }
        }
        Rule::opt_create => {
            let choice = parts.next().expect("grammar: create choice");
            StageOptionKind::Create { if_missing: choice.as_rule() == Rule::create_if_missing }
        }
        Rule::opt_on_error => {
            let choice = parts.next().expect("grammar: on error choice");
            StageOptionKind::OnError(match choice.as_rule() {
                Rule::on_error_fail => OnErrorAst::Fail,
                Rule::on_error_skip => OnErrorAst::Skip,
                _ => {
                    let table = meaningful(choice.into_inner()).next().expect("grammar: reject table");
                    let span = span_of(&table);
                    let mut parts = meaningful(table.into_inner());
                    let connection = ident(parts.next().expect("grammar: reject connection"));
                    let table = literal(parts.next().expect("grammar: reject table name"));
                    OnErrorAst::Reject { connection, table, span }
                }
            })
        }
        Rule::opt_max_rejects => StageOptionKind::MaxRejects(literal(parts.next().expect("grammar: max rejects"))),
        _ => StageOptionKind::Unknown(ident(parts.next().expect("grammar: option name"))),
    };
    StageOption { kind, span }
}

/// A table set member's name, written as a name or a string; a string's escapes are read as
/// in any string (`\"`, `''`), its variables are not expanded (a table name is not
/// configuration): `${X}` stays as written.
fn member_name(pair: Pair<Rule>) -> Ident {
    let inner = pair.into_inner().next().expect("grammar: member name has one child");
    match inner.as_rule() {
        Rule::string => {
            let span = span_of(&inner);
            let name = inner
                .into_inner()
                .map(|part| match part.as_rule() {
                    Rule::variable => part.as_str().to_string(),
                    Rule::dq_text => unescape_double_quoted(part.as_str()),
                    _ => part.as_str().replace("''", "'"),
                })
                .collect();
            Ident { name, span }
        }
        _ => ident(inner),
    }
}

fn column_list(pair: Pair<Rule>) -> Vec<Ident> {
    pair.into_inner().map(ident).collect()
}

/// `name` or `set.table`: one name, the table part unquoted.
fn stage_ref(pair: Pair<Rule>) -> Ident {
    let span = span_of(&pair);
    let parts: Vec<Ident> = pair.into_inner().map(ident).collect();
    let name = parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(".");
    Ident { name, span }
}

fn transform(pair: Pair<Rule>) -> Transform {
    let span = span_of(&pair);
    let mut inner = meaningful(pair.into_inner());
    let name = ident(inner.next().expect("grammar: transform has a name"));
    let input = stage_ref(inner.next().expect("grammar: transform has an input"));
    let mut steps = Vec::new();
    let mut opts = Vec::new();
    for child in inner {
        match child.as_rule() {
            Rule::options => opts = options(child),
            _ => steps.push(step(child)),
        }
    }
    Transform { name, input, steps, options: opts, span }
}

fn step(pair: Pair<Rule>) -> Step {
    let inner = pair.into_inner().next().expect("grammar: step has a kind");
    let span = span_of(&inner);
    let rule = inner.as_rule();
    let mut parts = meaningful(inner.into_inner());
    let kind = match rule {
        Rule::step_filter => StepKind::Filter(expr(parts.next().expect("grammar: filter expr"))),
        Rule::step_derive => StepKind::Derive(
            parts
                .map(|d| {
                    let mut d = d.into_inner();
                    let name = ident(d.next().expect("grammar: derive name"));
                    (name, expr(d.next().expect("grammar: derive expr")))
                })
                .collect(),
        ),
        Rule::step_select => StepKind::Select(column_list(parts.next().expect("grammar: columns"))),
        Rule::step_drop => StepKind::Drop(column_list(parts.next().expect("grammar: columns"))),
        Rule::step_rename => StepKind::Rename(
            parts
                .map(|r| {
                    let mut r = meaningful(r.into_inner());
                    let from = ident(r.next().expect("grammar: rename from"));
                    (from, ident(r.next().expect("grammar: rename to")))
                })
                .collect(),
        ),
        Rule::step_cast => StepKind::Cast(
            parts
                .map(|c| {
                    let mut c = meaningful(c.into_inner());
                    let column = ident(c.next().expect("grammar: cast column"));
                    (column, type_name(c.next().expect("grammar: cast type")))
                })
                .collect(),
        ),
        Rule::step_sql => StepKind::Sql(literal(parts.next().expect("grammar: sql text"))),
        _ => StepKind::Unknown(ident(parts.next().expect("grammar: step name"))),
    };
    Step { kind, span }
}

fn type_name(pair: Pair<Rule>) -> TypeName {
    TypeName { text: pair.as_str().split_whitespace().collect::<Vec<_>>().join(""), span: span_of(&pair) }
}

// ---------------------------------------------------------------- expressions

fn pratt() -> PrattParser<Rule> {
    // Lowest precedence first, as in SQL.
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::prefix(Rule::op_not))
        .op(Op::postfix(Rule::op_is_null)
            | Op::postfix(Rule::op_is_not_null)
            | Op::postfix(Rule::op_in)
            | Op::postfix(Rule::op_not_in)
            | Op::postfix(Rule::op_between)
            | Op::postfix(Rule::op_not_between))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_neq, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left)
            | Op::infix(Rule::op_like, Assoc::Left)
            | Op::infix(Rule::op_not_like, Assoc::Left))
        .op(Op::infix(Rule::op_concat, Assoc::Left))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_mod, Assoc::Left))
        .op(Op::prefix(Rule::op_neg))
}

fn expr(pair: Pair<Rule>) -> Expr {
    thread_local! {
        static PRATT: PrattParser<Rule> = pratt();
    }
    PRATT.with(|p| expr_with(p, pair.into_inner()))
}

fn expr_with(pratt: &PrattParser<Rule>, pairs: Pairs<Rule>) -> Expr {
    pratt
        .map_primary(primary)
        .map_prefix(|op, operand| {
            let span = Span::new(span_of(&op).start, operand.span.end);
            let op = if op.as_rule() == Rule::op_neg { UnaryOp::Neg } else { UnaryOp::Not };
            Expr { kind: ExprKind::Unary { op, operand: Box::new(operand) }, span }
        })
        .map_postfix(|operand, op| {
            let span = Span::new(operand.span.start, span_of(&op).end);
            let rule = op.as_rule();
            let operand = Box::new(operand);
            let kind = match rule {
                Rule::op_is_null | Rule::op_is_not_null => {
                    ExprKind::IsNull { operand, negated: rule == Rule::op_is_not_null }
                }
                Rule::op_in | Rule::op_not_in => ExprKind::InList {
                    operand,
                    list: meaningful(op.into_inner()).map(expr).collect(),
                    negated: rule == Rule::op_not_in,
                },
                _ => {
                    let mut bounds = meaningful(op.into_inner()).map(between_bound);
                    let low = bounds.next().expect("grammar: between low");
                    let high = bounds.next().expect("grammar: between high");
                    ExprKind::Between {
                        operand,
                        low: Box::new(low),
                        high: Box::new(high),
                        negated: rule == Rule::op_not_between,
                    }
                }
            };
            Expr { kind, span }
        })
        .map_infix(|left, op, right| {
            let span = Span::new(left.span.start, right.span.end);
            let op = match op.as_rule() {
                Rule::op_or => BinaryOp::Or,
                Rule::op_and => BinaryOp::And,
                Rule::op_eq => BinaryOp::Eq,
                Rule::op_neq => BinaryOp::NotEq,
                Rule::op_lt => BinaryOp::Lt,
                Rule::op_le => BinaryOp::LtEq,
                Rule::op_gt => BinaryOp::Gt,
                Rule::op_ge => BinaryOp::GtEq,
                Rule::op_like => BinaryOp::Like,
                Rule::op_not_like => BinaryOp::NotLike,
                Rule::op_concat => BinaryOp::Concat,
                Rule::op_add => BinaryOp::Add,
                Rule::op_sub => BinaryOp::Sub,
                Rule::op_mul => BinaryOp::Mul,
                Rule::op_div => BinaryOp::Div,
                _ => BinaryOp::Mod,
            };
            Expr { kind: ExprKind::Binary { op, left: Box::new(left), right: Box::new(right) }, span }
        })
        .parse(pairs)
}

fn between_bound(pair: Pair<Rule>) -> Expr {
    thread_local! {
        static PRATT: PrattParser<Rule> = pratt();
    }
    PRATT.with(|p| expr_with(p, pair.into_inner()))
}

fn primary(pair: Pair<Rule>) -> Expr {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::expr => return expr(pair),
        Rule::literal_value => ExprKind::Literal(literal(pair)),
        Rule::kw_null_lit => ExprKind::Null,
        Rule::column_ref => ExprKind::Column(ident(pair)),
        Rule::cast_expr => {
            let mut parts = meaningful(pair.into_inner());
            let operand = expr(parts.next().expect("grammar: cast operand"));
            let to = type_name(parts.next().expect("grammar: cast type"));
            ExprKind::Cast { operand: Box::new(operand), to }
        }
        Rule::function_call => {
            let mut parts = pair.into_inner();
            let name = ident(parts.next().expect("grammar: function name"));
            let rest: Vec<Pair<Rule>> = parts.collect();
            let star = rest.first().is_some_and(|p| p.as_rule() == Rule::function_star);
            let args = if star { Vec::new() } else { rest.into_iter().map(expr).collect() };
            ExprKind::Function { name, args, star }
        }
        _ => {
            // case_expr
            let mut operand = None;
            let mut branches = Vec::new();
            let mut otherwise = None;
            for part in meaningful(pair.into_inner()) {
                match part.as_rule() {
                    Rule::case_operand => {
                        let e = part.into_inner().next().expect("grammar: case operand");
                        operand = Some(Box::new(expr(e)));
                    }
                    Rule::case_when => {
                        let mut w = meaningful(part.into_inner());
                        let cond = expr(w.next().expect("grammar: when"));
                        let then = expr(w.next().expect("grammar: then"));
                        branches.push((cond, then));
                    }
                    _ => {
                        let e = meaningful(part.into_inner()).next().expect("grammar: else");
                        otherwise = Some(Box::new(expr(e)));
                    }
                }
            }
            ExprKind::Case { operand, branches, otherwise }
        }
    };
    Expr { kind, span }
}

/// The binary operators of `expr` (the grammar's silent `infix_op`).
pub(super) fn is_infix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_or
            | Rule::op_and
            | Rule::op_eq
            | Rule::op_neq
            | Rule::op_le
            | Rule::op_ge
            | Rule::op_lt
            | Rule::op_gt
            | Rule::op_concat
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_mod
            | Rule::op_like
            | Rule::op_not_like
    )
}

/// The postfix operators of `expr` (the grammar's silent `postfix_op`).
pub(super) fn is_postfix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_is_null
            | Rule::op_is_not_null
            | Rule::op_in
            | Rule::op_not_in
            | Rule::op_between
            | Rule::op_not_between
    )
}

#[cfg(test)]
mod grammar_tests {
    use super::errors::connection_kinds;
    use super::*;
    use crate::plan::Backend;

    /// Adding a backend means adding its keyword to `grammar/flow.pest`: this says so when it is
    /// missing, rather than a parse error in the first file that uses it.
    #[test]
    fn the_grammar_has_a_connection_keyword_for_every_backend() {
        let grammar = include_str!("../../grammar/flow.pest");
        let rule = grammar.lines().find(|l| l.starts_with("connection_kind")).expect("the connection_kind rule");
        for name in connection_kinds() {
            assert!(rule.contains(&format!("\"{name}\"")), "grammar/flow.pest's connection_kind lacks \"{name}\"");
        }
        assert_eq!(ConnectionKind::from_keyword("postgresql"), ConnectionKind::Backend(Backend::Postgres));
        assert_eq!(ConnectionKind::from_keyword("profile"), ConnectionKind::Profile);
    }
}
