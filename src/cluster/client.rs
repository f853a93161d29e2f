//! [`BallistaEngine`]: the client side of a cluster run. Runs in `flow run --engine`'s process.
//!
//! Each sink's job ([`crate::exec::SinkJob`]) becomes one Ballista job: its plan
//! (`cluster::plan::job_plan`) encoded with [`FlowPhysicalCodec`] and submitted as a physical
//! plan (`ExecuteQueryParams.query = PhysicalPlan`), with
//! `ballista.scheduler.max_partitions_per_task = 1`, so each task is one partition (a retry
//! repeats one partition, and the work lists are cut one item per task). The jobs of a run are
//! submitted together and polled until every one succeeded, or one failed: then the others are
//! cancelled and the failure returned. Dropping the future cancels every job still running.
//!
//! Ballista's own client (`execute_physical_plan`) is not used: it keeps the job id to itself,
//! so a Ctrl-C or a timeout could not cancel the job, and it fetches every output partition,
//! which Flow does not need (the ledger says what was written).

use std::time::Duration;

use ballista_core::config::{BALLISTA_JOB_NAME, BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK};
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    CancelJobParams, ExecuteQueryParams, GetJobStatusParams, KeyValuePair, execute_query_params::Query,
    execute_query_result, job_status,
};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use tonic::transport::Channel;

use super::codec::FlowPhysicalCodec;
use super::plan::job_plan;
use crate::exec::{PartitionEngine, Placement, SinkJob};
use crate::plan::endpoint::scrub_secret;

/// How often a running job's status is asked for.
const POLL: Duration = Duration::from_millis(100);

/// Runs sink partitions on the Ballista scheduler at `scheduler` (`host:port`).
#[derive(Debug, Clone)]
pub struct BallistaEngine {
    pub scheduler: String,
}

impl BallistaEngine {
    pub fn new(scheduler: &str) -> Self {
        Self { scheduler: scheduler.to_string() }
    }

    async fn connect(&self) -> Result<SchedulerGrpcClient<Channel>, String> {
        let url = format!("http://{}", self.scheduler);
        let endpoint = ballista_core::utils::create_grpc_client_endpoint(url, None)
            .map_err(|e| format!("Ballista scheduler at {}: {e}", self.scheduler))?;
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| format!("cannot reach the Ballista scheduler at {}: {e}", self.scheduler))?;
        Ok(SchedulerGrpcClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX))
    }
}

/// One submitted job, cancelled on drop unless it finished.
struct Submitted {
    client: SchedulerGrpcClient<Channel>,
    job_id: String,
    sink: String,
    /// The ledger partition each task partition writes (the job's work list, in order).
    parts: Vec<usize>,
    urls: Vec<String>,
    finished: bool,
}

impl Drop for Submitted {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (mut client, job_id) = (self.client.clone(), self.job_id.clone());
        // Best effort: the run is failing or being stopped anyway.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = client.cancel_job(CancelJobParams { job_id }).await;
            });
        }
    }
}

/// Every URL a job's plan names (its sink's and its sources'), to scrub error texts with.
fn urls_of(job: &SinkJob) -> Vec<String> {
    let mut urls = vec![job.sink.endpoint.url.clone()];
    let mut stack = vec![job.input.clone()];
    while let Some(node) = stack.pop() {
        if let Some(source) = node.downcast_ref::<crate::exec::nodes::SourceExec>() {
            urls.push(source.source.endpoint.url.clone());
        }
        stack.extend(node.children().into_iter().cloned());
    }
    urls
}

fn scrub(text: &str, urls: &[String]) -> String {
    urls.iter().fold(text.to_string(), |t, url| scrub_secret(&t, url))
}

async fn submit(mut client: SchedulerGrpcClient<Channel>, job: &SinkJob) -> Result<Submitted, String> {
    let urls = urls_of(job);
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        format!("sink `{}`: {what}: {}", job.sink.name, scrub(&e.to_string(), &urls))
    };
    let plan = job_plan(job).map_err(|e| failed("cannot plan it for the cluster", &e))?;
    let codec = FlowPhysicalCodec::default();
    let mut bytes = Vec::new();
    PhysicalPlanNode::try_from_physical_plan(plan, &codec)
        .and_then(|node| node.try_encode(&mut bytes))
        .map_err(|e| failed("cannot encode its plan", &e))?;
    let setting = |key: &str, value: String| KeyValuePair { key: key.to_string(), value: Some(value) };
    let job_name = format!("flow:{}:{}:{}", job.key.pipeline, job.key.sink, job.key.run_id);
    let params = ExecuteQueryParams {
        session_id: job_name.clone(),
        settings: vec![
            setting(BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK, "1".into()),
            setting(BALLISTA_JOB_NAME, job_name),
        ],
        operation_id: String::new(),
        query: Some(Query::PhysicalPlan(bytes)),
    };
    let mut request = tonic::Request::new(params);
    // Schedulers from 55.0.0 on refuse submissions without the client's version.
    ballista_core::version::insert_version_header(request.metadata_mut());
    let response =
        client.execute_query(request).await.map_err(|e| failed("the scheduler refused the job", &e.message()))?;
    match response.into_inner().result {
        Some(execute_query_result::Result::Success(ok)) => {
            let parts = job.parts.iter().map(|(part, _)| *part).collect();
            Ok(Submitted { client, job_id: ok.job_id, sink: job.sink.name.clone(), parts, urls, finished: false })
        }
        Some(execute_query_result::Result::Failure(f)) => {
            Err(failed("the scheduler refused the job", &format!("{:?}", f.failure)))
        }
        None => Err(failed("the scheduler refused the job", &"no result")),
    }
}

/// Where each partition of a finished job ran: the final stage's output partition `k` is the
/// writer's task partition `k`, which wrote the job's `k`-th work item.
fn placements_of(job: &Submitted, done: &ballista_core::serde::protobuf::SuccessfulJob) -> Vec<Placement> {
    done.partition_location
        .iter()
        .filter_map(|location| {
            let k = location.partition_id.as_ref()?.partition_id as usize;
            let executor = location.executor_meta.as_ref()?.id.clone();
            Some(Placement { sink: job.sink.clone(), partition: *job.parts.get(k)?, executor })
        })
        .collect()
}

#[async_trait::async_trait]
impl PartitionEngine for BallistaEngine {
    async fn write_all(&self, jobs: Vec<SinkJob>) -> Result<Vec<Placement>, String> {
        let client = self.connect().await?;
        let mut submitted = Vec::new();
        for job in &jobs {
            // Dropping `submitted` on an error cancels the jobs submitted before.
            submitted.push(submit(client.clone(), job).await?);
        }
        let mut placements = Vec::new();
        loop {
            for job in submitted.iter_mut().filter(|j| !j.finished) {
                let status = job
                    .client
                    .get_job_status(GetJobStatusParams { job_id: job.job_id.clone() })
                    .await
                    .map_err(|e| {
                        format!("sink `{}`: cannot ask the scheduler for job {}: {}", job.sink, job.job_id, e.message())
                    })?
                    .into_inner()
                    .status
                    .and_then(|s| s.status);
                match status {
                    Some(job_status::Status::Successful(done)) => {
                        job.finished = true;
                        placements.extend(placements_of(job, &done));
                    }
                    Some(job_status::Status::Failed(f)) => {
                        job.finished = true;
                        return Err(format!(
                            "sink `{}`: the cluster job failed: {}",
                            job.sink,
                            scrub(&f.error, &job.urls)
                        ));
                    }
                    _ => {}
                }
            }
            if submitted.iter().all(|j| j.finished) {
                return Ok(placements);
            }
            tokio::time::sleep(POLL).await;
        }
    }
}
