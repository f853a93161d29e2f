//! Transform steps as DataFusion DataFrame operations. The same code types a pipeline for
//! `explain` (over the source schema alone) and builds the plan `run` executes.

use datafusion::error::Result;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, SessionContext, ident};

use crate::plan::StepPlan;
use crate::plan::sql::Dialect;

/// The table name a `sql` step reads its input from.
pub const SQL_INPUT_TABLE: &str = "input";

pub async fn apply_steps(ctx: &SessionContext, mut df: DataFrame, steps: &[StepPlan]) -> Result<DataFrame> {
    for step in steps {
        df = apply_step(ctx, df, step).await?;
    }
    Ok(df)
}

async fn apply_step(ctx: &SessionContext, df: DataFrame, step: &StepPlan) -> Result<DataFrame> {
    let names: Vec<String> = df.schema().fields().iter().map(|f| f.name().clone()).collect();
    match step {
        StepPlan::Filter { predicate } => {
            let e = df.parse_sql_expr(predicate)?;
            df.filter(e)
        }
        StepPlan::Derive { columns } => {
            let mut df = df;
            for c in columns {
                let e = df.parse_sql_expr(&c.expr)?;
                df = df.with_column(&c.name, e)?;
            }
            Ok(df)
        }
        StepPlan::Select { columns } => df.select(columns.iter().map(ident).collect::<Vec<_>>()),
        StepPlan::Drop { columns } => {
            df.select(names.iter().filter(|n| !columns.contains(n)).map(ident).collect::<Vec<_>>())
        }
        StepPlan::Rename { columns } => {
            let exprs = names
                .iter()
                .map(|n| match columns.iter().rev().find(|r| &r.from == n) {
                    Some(r) => ident(n).alias(&r.to),
                    None => ident(n),
                })
                .collect::<Vec<_>>();
            df.select(exprs)
        }
        StepPlan::Cast { columns } => {
            let mut exprs: Vec<Expr> = Vec::with_capacity(names.len());
            for n in &names {
                exprs.push(match columns.iter().rev().find(|c| &c.column == n) {
                    Some(c) => {
                        let sql = format!("CAST({} AS {})", Dialect::DataFusion.ident(n), c.to);
                        df.parse_sql_expr(&sql)?.alias(n)
                    }
                    None => ident(n),
                });
            }
            df.select(exprs)
        }
        StepPlan::Sql { query } => {
            // A private context per step: the step sees its input as `input` and nothing else,
            // and may only query (no DDL, no DML, no SET).
            let scoped = SessionContext::new_with_config(ctx.copied_config());
            scoped.register_table(SQL_INPUT_TABLE, df.into_view())?;
            let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
            scoped.sql_with_options(query, options).await
        }
    }
}
