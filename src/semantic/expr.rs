//! Transform expressions: AST → DataFusion SQL text, checking what can be checked without a
//! schema (literal kinds, variables, type names). Every identifier is quoted, so column names keep
//! their case and no name is ever read as SQL.

use super::values::LiteralResolver;
use crate::diagnostics::{Problem, codes};
use crate::plan::sql::Dialect;
use crate::syntax::ast::{Expr, ExprKind, Literal, LiteralKind, TypeName, UnaryOp};

/// The SQL types a `cast` may name, and how DataFusion spells them.
const TYPES: &[(&str, &str)] = &[
    ("bool", "BOOLEAN"),
    ("boolean", "BOOLEAN"),
    ("tinyint", "TINYINT"),
    ("smallint", "SMALLINT"),
    ("int2", "SMALLINT"),
    ("int", "INT"),
    ("integer", "INT"),
    ("int4", "INT"),
    ("bigint", "BIGINT"),
    ("int8", "BIGINT"),
    ("real", "REAL"),
    ("float", "FLOAT"),
    ("float4", "REAL"),
    ("double", "DOUBLE"),
    ("float8", "DOUBLE"),
    ("text", "VARCHAR"),
    ("string", "VARCHAR"),
    ("varchar", "VARCHAR"),
    ("char", "VARCHAR"),
    ("date", "DATE"),
    ("time", "TIME"),
    ("timestamp", "TIMESTAMP"),
    ("bytea", "BYTEA"),
    ("binary", "BYTEA"),
    ("blob", "BYTEA"),
];

/// A `cast` target type in DataFusion's spelling; `decimal(p,s)` / `numeric(p,s)` keep their
/// precision and scale, `varchar(n)` drops its length (Arrow strings have none).
pub fn sql_type(ty: &TypeName) -> Result<String, Problem> {
    let text = ty.text.to_ascii_lowercase();
    let (base, args) = match text.split_once('(') {
        Some((b, rest)) => (b.to_string(), Some(rest.trim_end_matches(')').to_string())),
        None => (text.clone(), None),
    };
    let unknown = || {
        Problem::error(codes::transform::UNKNOWN_TYPE, format!("unknown type `{}`", ty.text))
            .at(ty.span, "not a type Flow knows")
            .help("use one of: boolean, smallint, int, bigint, real, double, decimal(p,s), text, date, time, timestamp, bytea")
    };
    if base == "decimal" || base == "numeric" {
        let args = args.unwrap_or_else(|| "38,10".to_string());
        let mut nums = args.split(',').map(|n| n.trim().parse::<u8>());
        let precision = nums.next().and_then(Result::ok).filter(|p| (1..=76).contains(p));
        let scale = nums.next().map_or(Ok(0), |s| s).ok();
        return match (precision, scale) {
            (Some(p), Some(s)) if s <= p => Ok(format!("DECIMAL({p},{s})")),
            _ => {
                Err(Problem::error(codes::transform::UNKNOWN_TYPE, format!("bad precision or scale in `{}`", ty.text))
                    .at(ty.span, "precision must be 1..=76 and scale at most the precision")
                    .help("write decimal(precision, scale), e.g. decimal(12,2)"))
            }
        };
    }
    TYPES.iter().find(|(name, _)| *name == base).map(|(_, sql)| (*sql).to_string()).ok_or_else(unknown)
}

pub struct ExprRenderer<'a> {
    pub literals: &'a LiteralResolver<'a>,
}

impl ExprRenderer<'_> {
    pub fn render(&self, expr: &Expr) -> Result<String, Problem> {
        let d = Dialect::DataFusion;
        Ok(match &expr.kind {
            ExprKind::Column(c) => d.ident(&c.name),
            ExprKind::Literal(lit) => self.literal(lit)?,
            ExprKind::Null => "NULL".into(),
            ExprKind::Unary { op: UnaryOp::Neg, operand } => format!("(- {})", self.render(operand)?),
            ExprKind::Unary { op: UnaryOp::Not, operand } => format!("(NOT {})", self.render(operand)?),
            ExprKind::Binary { op, left, right } => {
                format!("({} {} {})", self.render(left)?, op.sql(), self.render(right)?)
            }
            ExprKind::IsNull { operand, negated } => {
                let not = if *negated { "NOT " } else { "" };
                format!("({} IS {not}NULL)", self.render(operand)?)
            }
            ExprKind::InList { operand, list, negated } => {
                let items = list.iter().map(|e| self.render(e)).collect::<Result<Vec<_>, _>>()?;
                let not = if *negated { "NOT " } else { "" };
                format!("({} {not}IN ({}))", self.render(operand)?, items.join(", "))
            }
            ExprKind::Between { operand, low, high, negated } => {
                let not = if *negated { "NOT " } else { "" };
                format!("({} {not}BETWEEN {} AND {})", self.render(operand)?, self.render(low)?, self.render(high)?)
            }
            ExprKind::Case { operand, branches, otherwise } => {
                let mut out = String::from("CASE");
                if let Some(op) = operand {
                    out.push(' ');
                    out.push_str(&self.render(op)?);
                }
                for (when, then) in branches {
                    out.push_str(&format!(" WHEN {} THEN {}", self.render(when)?, self.render(then)?));
                }
                if let Some(e) = otherwise {
                    out.push_str(&format!(" ELSE {}", self.render(e)?));
                }
                out.push_str(" END");
                out
            }
            ExprKind::Cast { operand, to } => {
                format!("CAST({} AS {})", self.render(operand)?, sql_type(to)?)
            }
            ExprKind::Function { name, args, star } => {
                let args = if *star {
                    "*".to_string()
                } else {
                    args.iter().map(|e| self.render(e)).collect::<Result<Vec<_>, _>>()?.join(", ")
                };
                format!("{}({args})", name.name.to_ascii_lowercase())
            }
        })
    }

    fn literal(&self, lit: &Literal) -> Result<String, Problem> {
        let d = Dialect::DataFusion;
        match &lit.kind {
            LiteralKind::String(t) => Ok(d.string(&self.literals.template(t)?)),
            LiteralKind::Number(n) => Ok(n.clone()),
            LiteralKind::Bool(b) => Ok(if *b { "TRUE".into() } else { "FALSE".into() }),
            LiteralKind::Duration(text) => Err(Problem::error(
                codes::transform::BAD_LITERAL,
                format!("`{text}` is not a value an expression can use"),
            )
            .at(lit.span, "durations only go in `timeout`")
            .help("write a number, a 'string', true/false or NULL")),
            // A variable stands for the literal it expands to: a number stays a number.
            LiteralKind::Variable(v) => {
                let text = self.literals.vars.lookup(v)?;
                Ok(if text.parse::<f64>().is_ok() && !text.trim().is_empty() { text } else { d.string(&text) })
            }
        }
    }
}

/// Columns an expression reads, with where each is mentioned.
/// The columns an expression computes or compares with: every column it reads except one that
/// is the whole expression, the operand of `cast(...)`, or the operand of `is [not] null` (those
/// pass a value on or test it for NULL, whatever its type).
pub fn columns_computed(expr: &Expr, out: &mut Vec<crate::syntax::ast::Ident>) {
    fn inner(expr: &Expr, out: &mut Vec<crate::syntax::ast::Ident>) {
        match &expr.kind {
            ExprKind::Cast { .. } => {}
            ExprKind::IsNull { operand, .. } if matches!(operand.kind, ExprKind::Column(_)) => {}
            _ => columns_read_with(expr, out, &inner),
        }
    }
    match &expr.kind {
        ExprKind::Column(_) => {}
        _ => inner(expr, out),
    }
}

/// Reads the columns of `expr`'s direct operands through `recurse`; a column itself is read.
fn columns_read_with(
    expr: &Expr,
    out: &mut Vec<crate::syntax::ast::Ident>,
    recurse: &dyn Fn(&Expr, &mut Vec<crate::syntax::ast::Ident>),
) {
    match &expr.kind {
        ExprKind::Column(c) => out.push(c.clone()),
        ExprKind::Literal(_) | ExprKind::Null => {}
        ExprKind::Unary { operand, .. } | ExprKind::IsNull { operand, .. } | ExprKind::Cast { operand, .. } => {
            recurse(operand, out)
        }
        ExprKind::Binary { left, right, .. } => {
            recurse(left, out);
            recurse(right, out);
        }
        ExprKind::InList { operand, list, .. } => {
            recurse(operand, out);
            list.iter().for_each(|e| recurse(e, out));
        }
        ExprKind::Between { operand, low, high, .. } => {
            recurse(operand, out);
            recurse(low, out);
            recurse(high, out);
        }
        ExprKind::Case { operand, branches, otherwise } => {
            if let Some(o) = operand {
                recurse(o, out);
            }
            for (w, t) in branches {
                recurse(w, out);
                recurse(t, out);
            }
            if let Some(e) = otherwise {
                recurse(e, out);
            }
        }
        ExprKind::Function { args, .. } => args.iter().for_each(|e| recurse(e, out)),
    }
}

/// Every column an expression reads.
pub fn columns_read(expr: &Expr, out: &mut Vec<crate::syntax::ast::Ident>) {
    columns_read_with(expr, out, &columns_read);
}
