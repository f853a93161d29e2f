//! Filter pushdown: the parts of a transform's `filter` that a database can evaluate with the
//! same result, rendered in its dialect and added to every partition's query. Pushed filters are
//! `Inexact`: DataFusion still applies them, so the database only has to return a superset.
//!
//! What is safe: comparisons of a column with an integer literal, `=` with a string or boolean
//! literal (collations may only widen string equality, e.g. MySQL's case-insensitive one),
//! `IS [NOT] NULL`, and `AND`/`OR`/`NOT` over those. Not pushed: string ordering and `<>`
//! (collations order and compare differently from DataFusion), floats (NaN), casts, functions.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::plan::sql::Dialect;

/// The filter in `dialect`, or `None` when it cannot be pushed safely.
pub fn render(expr: &Expr, dialect: Dialect) -> Option<String> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: op @ (Operator::And | Operator::Or), right }) => {
            let word = if *op == Operator::And { "AND" } else { "OR" };
            Some(format!("({} {word} {})", render(left, dialect)?, render(right, dialect)?))
        }
        Expr::Not(inner) => {
            // NOT over a string equality would push a `<>`; keep NOT to what is exact.
            let inner_sql = render(inner, dialect)?;
            exact(inner).then(|| format!("(NOT {inner_sql})"))
        }
        Expr::IsNull(inner) => Some(format!("({} IS NULL)", column(inner, dialect)?)),
        Expr::IsNotNull(inner) => Some(format!("({} IS NOT NULL)", column(inner, dialect)?)),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (col, lit, op) = match (column(left, dialect), column(right, dialect)) {
                (Some(c), None) => (c, right.as_ref(), *op),
                (None, Some(c)) => (c, left.as_ref(), op.swap()?),
                _ => return None,
            };
            let Expr::Literal(value, _) = lit else { return None };
            let sym = match op {
                Operator::Eq => "=",
                Operator::NotEq => "<>",
                Operator::Lt => "<",
                Operator::LtEq => "<=",
                Operator::Gt => ">",
                Operator::GtEq => ">=",
                _ => return None,
            };
            let literal = match value {
                ScalarValue::Int8(Some(v)) => v.to_string(),
                ScalarValue::Int16(Some(v)) => v.to_string(),
                ScalarValue::Int32(Some(v)) => v.to_string(),
                ScalarValue::Int64(Some(v)) => v.to_string(),
                ScalarValue::UInt8(Some(v)) => v.to_string(),
                ScalarValue::UInt16(Some(v)) => v.to_string(),
                ScalarValue::UInt32(Some(v)) => v.to_string(),
                ScalarValue::UInt64(Some(v)) => v.to_string(),
                ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))
                    if op == Operator::Eq =>
                {
                    dialect.string(s)
                }
                ScalarValue::Boolean(Some(b)) if op == Operator::Eq => dialect.boolean(*b),
                _ => return None,
            };
            Some(format!("{col} {sym} {literal}"))
        }
        _ => None,
    }
}

/// True when the filter selects exactly the rows DataFusion would (no widened string equality),
/// so its negation is safe too.
fn exact(expr: &Expr) -> bool {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And | Operator::Or, right }) => exact(left) && exact(right),
        Expr::Not(inner) => exact(inner),
        Expr::IsNull(_) | Expr::IsNotNull(_) => true,
        Expr::BinaryExpr(BinaryExpr { left, right, .. }) => [left, right]
            .iter()
            .all(|side| !matches!(side.as_ref(), Expr::Literal(v, _) if !v.data_type().is_integer())),
        _ => false,
    }
}

fn column(expr: &Expr, dialect: Dialect) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(dialect.ident(&c.name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::{col, lit};

    use super::*;

    #[test]
    fn pushes_integer_comparisons_and_string_equality_only() {
        let d = Dialect::Mysql;
        assert_eq!(render(&col("id").gt(lit(5i64)), d).as_deref(), Some("`id` > 5"));
        assert_eq!(render(&lit(5i64).lt(col("id")), d).as_deref(), Some("`id` > 5"));
        assert_eq!(
            render(&col("s").eq(lit("a'b")).and(col("n").is_null()), d).as_deref(),
            Some("(`s` = 'a''b' AND (`n` IS NULL))")
        );
        assert_eq!(render(&col("s").not_eq(lit("x")), d), None);
        assert_eq!(render(&col("s").lt(lit("x")), d), None);
        assert_eq!(render(&col("f").gt(lit(1.5f64)), d), None);
        assert_eq!(render(&Expr::Not(Box::new(col("s").eq(lit("x")))), d), None);
        assert_eq!(render(&Expr::Not(Box::new(col("id").eq(lit(3i32)))), d).as_deref(), Some("(NOT `id` = 3)"));
    }
}
