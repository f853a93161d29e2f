//! Table providers that let DataFusion plan transforms over Flow's stages:
//!
//! - [`SourceTable`]: a source; its scan becomes `StageExec(SourceExec)` with the projection
//!   pushed into the source query.
//! - [`PlanTable`]: the already-planned output of an upstream stage, so the next transform is
//!   planned on top of it without repartitioning.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

use super::metrics::StageMetrics;
use super::nodes::{SourceExec, StageExec};
use super::pushdown;
use crate::connect::SourceShape;
use crate::plan::SourcePlan;
use crate::plan::sql::Dialect;

#[derive(Debug)]
pub struct SourceTable {
    pub source: SourcePlan,
    pub shape: SourceShape,
    pub metrics: Arc<StageMetrics>,
}

impl SourceTable {
    /// The dialect filters are pushed in; `None` for sources that take no SQL.
    fn dialect(&self) -> Option<Dialect> {
        self.source.endpoint.backend.is_database().then(|| self.source.endpoint.backend.info().dialect)
    }
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        self.shape.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.dialect().and_then(|d| pushdown::render(f, d)) {
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let pushed: Vec<String> =
            self.dialect().map(|d| filters.iter().filter_map(|f| pushdown::render(f, d)).collect()).unwrap_or_default();
        let filter = (!pushed.is_empty()).then(|| pushed.join(" AND "));
        let exec = SourceExec::new(
            self.source.clone(),
            self.shape.partitions.clone(),
            self.shape.schema.clone(),
            projection,
            filter,
        )?
        .with_snapshot(self.shape.snapshot.as_ref().map(|s| s.id().to_string()));
        Ok(Arc::new(StageExec::new(Arc::new(exec), self.metrics.clone(), self.source.timeout)))
    }
}

#[derive(Debug)]
pub struct PlanTable {
    pub plan: Arc<dyn ExecutionPlan>,
}

#[async_trait]
impl TableProvider for PlanTable {
    fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(indices) = projection else {
            return Ok(self.plan.clone());
        };
        let schema = self.plan.schema();
        let exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = indices
            .iter()
            .map(|&i| {
                let name = schema.field(i).name().clone();
                (Arc::new(Column::new(&name, i)) as _, name)
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, self.plan.clone())?))
    }
}
