//! Cancelling a task on an executor so that Flow's writer stops.
//!
//! When the client cancels a job (Ctrl-C, the pipeline's `timeout`), Ballista's scheduler asks
//! each executor to cancel its tasks, and the executor aborts the task's future
//! (`Executor::execute_query_stage`). But Ballista's shuffle writer runs the plan in a tokio
//! task of its own (`ShuffleWriterExec::execute` spawns its coordinator), which that abort does
//! not reach: Flow's [`super::WriteExec`] would read and write on and commit its partition after
//! the run was stopped. So Flow's executor runs Ballista's engine inside [`CancellableEngine`]:
//! each task's `TaskContext` carries a [`TaskCancel`] (a session-config extension) that fires
//! when the task's future is dropped, and `WriteExec` stops on it, dropping its input (the
//! source's query is cancelled on the server) and rolling its transaction back.

use std::fmt;
use std::sync::Arc;

use ballista_core::serde::protobuf::{RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport};
use ballista_executor::execution_engine::{DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor};
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;
use tokio::sync::watch;

/// Fires when the task it was made for is dropped (see the module docs). Read from a task's
/// context with [`TaskCancel::of`].
#[derive(Debug, Clone)]
pub struct TaskCancel {
    alive: watch::Receiver<()>,
}

impl TaskCancel {
    /// A token and the guard whose drop fires it.
    fn new() -> (Self, watch::Sender<()>) {
        let (guard, alive) = watch::channel(());
        (Self { alive }, guard)
    }

    /// The token of the task `context` belongs to; `None` outside a cancellable executor (a
    /// local run, the standalone cluster's executor).
    pub fn of(context: &TaskContext) -> Option<Arc<TaskCancel>> {
        context.session_config().get_extension::<TaskCancel>()
    }

    /// Resolves once the task was cancelled (its future dropped).
    pub async fn cancelled(&self) {
        let mut alive = self.alive.clone();
        // `changed` fails only when the guard is gone: nothing is ever sent.
        while alive.changed().await.is_ok() {}
    }
}

/// Ballista's default engine, with a [`TaskCancel`] in every task's context.
#[derive(Default)]
pub struct CancellableEngine {
    inner: DefaultExecutionEngine,
}

impl ExecutionEngine for CancellableEngine {
    fn create_query_stage_exec(
        &self,
        job_id: ballista_core::JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.inner.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(CancellableStage { inner }))
    }
}

struct CancellableStage {
    inner: Arc<dyn QueryStageExecutor>,
}

impl fmt::Debug for CancellableStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for CancellableStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for CancellableStage {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> Result<Vec<ShuffleWritePartition>> {
        let (cancel, _guard) = TaskCancel::new();
        let config = context.session_config().clone().with_extension(Arc::new(cancel));
        let context = Arc::new(TaskContext::new(
            context.task_id(),
            context.session_id(),
            config,
            context.scalar_functions().clone(),
            context.higher_order_functions().clone(),
            context.aggregate_functions().clone(),
            context.window_functions().clone(),
            context.runtime_env(),
        ));
        self.inner.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        self.inner.collect_plan_metrics()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.inner.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> Result<Vec<WindowStateReport>> {
        self.inner.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.inner.collect_column_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::TaskCancel;

    #[tokio::test]
    async fn the_token_fires_when_its_guard_is_dropped_and_not_before() {
        let (cancel, guard) = TaskCancel::new();
        let waiting = tokio::spawn(async move { cancel.cancelled().await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "fired while the task lives");
        drop(guard);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiting).await.expect("fired").expect("joined");
    }
}
