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
//! A sink's comparison (`flow verify --engine`) is one job the same way ([`digest_plan`]); its
//! result, one row of checksums per partition, is fetched from the executors that hold it over
//! Arrow Flight, as Ballista's own client fetches a query's result.
//!
//! Ballista's own client (`execute_physical_plan`) is not used: it keeps the job id to itself,
//! so a Ctrl-C or a timeout could not cancel the job, and it fetches every output partition,
//! which Flow does not need (the ledger says what was written).

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use ballista_core::client::BallistaClient;
use ballista_core::config::{BALLISTA_JOB_NAME, BALLISTA_SCHEDULER_MAX_PARTITIONS_PER_TASK};
use ballista_core::serde::protobuf::SuccessfulJob;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{
    CancelJobParams, ExecuteQueryParams, GetJobMetricsParams, GetJobStatusParams, KeyValuePair,
    execute_query_params::Query, execute_query_result, job_status, operator_metric,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;
use tonic::codegen::{Body as _, Service as _};
use tonic::transport::{Channel, Endpoint};

use super::codec::FlowPhysicalCodec;
use super::digest::digests_of;
use super::plan::{digest_plan, job_plan};
use super::wire;
use crate::connect::cancel::Pending;
use crate::connect::connect_error::failure_of;
use crate::diagnostics::{Failure, codes};
use crate::exec::{DigestJob, PartitionDigest, PartitionEngine, Placement, SinkJob, Written};
use crate::plan::SinkPlan;
use crate::plan::endpoint::scrub_secret;

/// How often a running job's status is asked for.
const POLL: Duration = Duration::from_millis(100);
/// How long connecting to the scheduler may take (TCP and HTTP/2 handshake).
const CONNECT: Duration = Duration::from_secs(10);
/// How long one request to the scheduler may take: a scheduler that holds a request longer
/// (stopped, overloaded, not a scheduler at all) is taken as gone. Submitting a job includes
/// planning it, so it gets longer.
const REQUEST: Duration = Duration::from_secs(30);
const SUBMIT: Duration = Duration::from_secs(120);
/// How long a run waits for a first executor to register before giving up.
const EXECUTORS_WAIT: Duration = Duration::from_secs(10);

/// Runs sink partitions on the Ballista scheduler at `scheduler` (`host:port`).
#[derive(Debug, Clone)]
pub struct BallistaEngine {
    pub scheduler: String,
}

impl BallistaEngine {
    pub fn new(scheduler: &str) -> Self {
        Self { scheduler: scheduler.to_string() }
    }

    fn unreachable(&self, why: impl std::fmt::Display) -> Failure {
        Failure::new(codes::cluster::UNREACHABLE, format!("the Ballista scheduler at {} {why}", self.scheduler))
    }

    /// A channel to the scheduler, its HTTP/2 connection established. Errors
    /// (`flow::cluster::unreachable`) when nothing answers within [`CONNECT`].
    async fn channel(&self) -> Result<Channel, Failure> {
        let endpoint = Endpoint::new(format!("http://{}", self.scheduler))
            .map_err(|e| self.unreachable(format_args!("is not an address: {e}")))?
            .connect_timeout(CONNECT)
            .timeout(REQUEST)
            .tcp_nodelay(true)
            // A scheduler that stops answering mid-run is noticed within 30 s, not never.
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        match tokio::time::timeout(CONNECT, endpoint.connect()).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(e)) => Err(self.unreachable(format_args!("does not answer: {}", error_chain(&e)))),
            Err(_) => Err(self.unreachable(format_args!("does not answer within {} s", CONNECT.as_secs()))),
        }
    }

    fn client(channel: Channel) -> SchedulerGrpcClient<Channel> {
        SchedulerGrpcClient::new(channel).max_decoding_message_size(usize::MAX).max_encoding_message_size(usize::MAX)
    }

    /// The scheduler's readiness probe, `GET /readyz` on its gRPC port (Ballista's health
    /// routes): `200 ready: N executors registered` or `503 not ready: 0/1 executors
    /// registered`. Returns N. Any other answer (an executor's `ready`) means the address is
    /// not a scheduler.
    async fn executors(&self, mut channel: Channel) -> Result<Option<usize>, Failure> {
        let request = tonic::codegen::http::Request::get(format!("http://{}/readyz", self.scheduler))
            .body(tonic::body::Body::empty())
            .map_err(|e| self.unreachable(e))?;
        let asked = async {
            futures::future::poll_fn(|cx| channel.poll_ready(cx)).await?;
            let response = channel.call(request).await?;
            let status = response.status().as_u16();
            let mut body = std::pin::pin!(response.into_body());
            let mut text = Vec::new();
            while let Some(frame) = futures::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
                if let Ok(data) = frame?.into_data() {
                    text.extend_from_slice(&data);
                }
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((status, String::from_utf8_lossy(&text).into_owned()))
        };
        // As long as connecting may take: a server that takes the connection and then says
        // nothing is no scheduler (the README promises an answer within 10 s).
        let (status, text) = match tokio::time::timeout(CONNECT, asked).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => return Err(self.unreachable(format_args!("does not answer as a Ballista scheduler: {e}"))),
            Err(_) => {
                return Err(self.unreachable(format_args!(
                    "does not answer within {} s (is it stopped, or another server on that port?)",
                    CONNECT.as_secs()
                )));
            }
        };
        // The scheduler's answers (`ballista_scheduler::api::health::readyz`); an executor's
        // port answers `ready` / `not ready: no successful heartbeat yet` on the same route.
        let executors = text.strip_prefix("ready: ").and_then(|rest| rest.strip_suffix(" executors registered\n"));
        let none = text.starts_with("not ready: ") && text.trim_end().ends_with(" executors registered");
        match status {
            200 if executors.is_some() => Ok(executors.and_then(|n| n.parse().ok())),
            503 if none => Err(Failure::new(
                codes::cluster::NO_EXECUTORS,
                format!(
                    "the Ballista scheduler at {} has no executor registered ({}); start one with \
                     `flow executor --scheduler {}`",
                    self.scheduler,
                    text.trim(),
                    self.scheduler
                ),
            )),
            // Flow's scheduler always has the route; an executor's port or another gRPC server
            // answers HTTP/2 too, but not this.
            _ => {
                let said = if text.trim().is_empty() { String::new() } else { format!(" `{}`", text.trim()) };
                let message = format!(
                    "{} is not a Ballista scheduler (`GET /readyz` answered HTTP {status}{said}): is it an executor's \
                     port? `flow scheduler` prints the address to give --engine",
                    self.scheduler
                );
                Err(Failure::new(codes::cluster::UNREACHABLE, message))
            }
        }
    }
}

/// An error and its causes on one line (tonic's transport errors say little at the top).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        next = cause.source();
    }
    text
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
    /// Keeps the process from exiting before the cancellation reached the scheduler
    /// (`connect::cancel::settle`, which every command waits on after a run).
    pending: Option<Pending>,
}

impl Drop for Submitted {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (mut client, job_id, pending) = (self.client.clone(), self.job_id.clone(), self.pending.take());
        // Best effort: the run is failing or being stopped anyway. The scheduler aborts the
        // job's running tasks on their executors, whose writers roll back.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let cancelled =
                    tokio::time::timeout(REQUEST, client.cancel_job(CancelJobParams { job_id: job_id.clone() }));
                if !matches!(cancelled.await, Ok(Ok(_))) {
                    tracing::warn!("could not cancel cluster job {job_id}; its tasks may run on until they end");
                }
                drop(pending);
            });
        }
    }
}

/// Every URL a job's plan names (its sink's and its sources'), to scrub error texts with.
fn urls_of(sink: &SinkPlan, input: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    let mut urls = vec![sink.endpoint.url.clone()];
    let mut stack = vec![input.clone()];
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

/// A job to submit: its plan, its name (in the scheduler's logs and UI), the sink it serves,
/// the ledger partition each of its task partitions stands for, and the URLs its errors must
/// not show.
struct Submission {
    plan: Arc<dyn ExecutionPlan>,
    name: String,
    sink: String,
    parts: Vec<usize>,
    urls: Vec<String>,
}

impl Submission {
    /// A sink's write job.
    fn write(job: &SinkJob) -> Result<Self, Failure> {
        let plan = job_plan(job).map_err(|e| {
            let found = failure_of(&e, codes::run::INTERNAL);
            Failure { stage: Some(job.sink.name.clone()), ..found }
        })?;
        Ok(Self {
            plan,
            name: format!("flow:{}:{}:{}", job.key.pipeline, job.key.sink, job.key.run_id),
            sink: job.sink.name.clone(),
            parts: job.parts.iter().map(|(part, _)| *part).collect(),
            urls: urls_of(&job.sink, &job.input),
        })
    }

    /// A sink's comparison (`flow verify --engine`).
    fn digest(job: &DigestJob) -> Result<Self, Failure> {
        let plan = digest_plan(job).map_err(|e| {
            let found = failure_of(&e, codes::run::INTERNAL);
            let message = format!("sink `{}`: {}", job.sink.name, found.message);
            Failure { stage: Some(job.sink.name.clone()), ..found.reworded(message) }
        })?;
        Ok(Self {
            plan,
            name: format!("flow:verify:{}", job.sink.name),
            sink: job.sink.name.clone(),
            parts: (0..job.targets.len()).collect(),
            urls: urls_of(&job.sink, &job.input),
        })
    }
}

async fn submit(
    engine: &BallistaEngine,
    mut client: SchedulerGrpcClient<Channel>,
    job: Submission,
) -> Result<Submitted, Failure> {
    let Submission { plan, name: job_name, sink, parts, urls } = job;
    let sink = &sink;
    let failed = |code: &'static str, what: &str, e: &dyn std::fmt::Display| Failure {
        stage: Some(sink.clone()),
        ..Failure::new(code, format!("sink `{sink}`: {what}: {}", scrub(&e.to_string(), &urls)))
    };
    let codec = FlowPhysicalCodec::default();
    let mut bytes = Vec::new();
    PhysicalPlanNode::try_from_physical_plan(plan, &codec)
        .and_then(|node| node.try_encode(&mut bytes))
        .map_err(|e| failed(codes::run::INTERNAL, "cannot encode its plan", &e))?;
    let setting = |key: &str, value: String| KeyValuePair { key: key.to_string(), value: Some(value) };
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
    request.set_timeout(SUBMIT);
    // Schedulers from 55.0.0 on refuse submissions without the client's version.
    ballista_core::version::insert_version_header(request.metadata_mut());
    let response = client.execute_query(request).await.map_err(|e| {
        let why = match scrub(e.message(), &urls) {
            message if message.is_empty() => format!("{:?}", e.code()),
            message => message,
        };
        engine.unreachable(format_args!("did not take sink `{sink}`'s job: {why}"))
    })?;
    match response.into_inner().result {
        Some(execute_query_result::Result::Success(ok)) => Ok(Submitted {
            client,
            job_id: ok.job_id,
            sink: sink.clone(),
            parts,
            urls,
            finished: false,
            pending: Some(Pending::new()),
        }),
        Some(execute_query_result::Result::Failure(f)) => {
            Err(failed(codes::cluster::JOB_FAILED, "the scheduler refused the job", &format!("{:?}", f.failure)))
        }
        None => Err(failed(codes::cluster::JOB_FAILED, "the scheduler refused the job", &"no result")),
    }
}

/// The failure a failed job reports: the one its writer tagged (`cluster::wire`), with its
/// code and location, or else Ballista's own reason (a task lost with its executor).
fn job_failure(job: &Submitted, error: &str) -> Failure {
    let error = scrub(error, &job.urls);
    match wire::decode(&error) {
        Some(failure) => failure,
        None => Failure {
            stage: Some(job.sink.clone()),
            ..Failure::new(
                codes::cluster::JOB_FAILED,
                format!("sink `{}`: the cluster job failed: {}", job.sink, wire::ballista_reason(&error)),
            )
        },
    }
}

/// The rows each of Flow's source and transform stages passed in a finished job: the
/// `output_rows` its executors reported for each `StageExec` (`StageExec: KIND NAME`), summed over
/// the job's tasks by the scheduler. Empty when the scheduler cannot say (the report then shows
/// no rows for them, as before): these are counts for the report, not what was written.
async fn stage_rows_of(job: &Submitted) -> Vec<(String, u64)> {
    let mut client = job.client.clone();
    let asked = client.get_job_metrics(GetJobMetricsParams { job_id: job.job_id.clone() });
    let stages = match tokio::time::timeout(REQUEST, asked).await {
        Ok(Ok(answer)) => answer.into_inner().stages,
        _ => {
            tracing::debug!("no metrics for cluster job {}", job.job_id);
            return Vec::new();
        }
    };
    let mut rows: Vec<(String, u64)> = Vec::new();
    for operator in stages.iter().flat_map(|stage| &stage.operators).filter(|op| op.operator_type == "StageExec") {
        let Some(name) =
            operator.operator_desc.strip_prefix("StageExec: ").and_then(|d| d.split_once(' ')).map(|(_, n)| n)
        else {
            continue;
        };
        let n: u64 = operator
            .metrics
            .iter()
            .filter_map(|m| match m.metric {
                Some(operator_metric::Metric::OutputRows(n)) => Some(n),
                _ => None,
            })
            .sum();
        match rows.iter_mut().find(|(stage, _)| stage == name) {
            Some((_, total)) => *total += n,
            None => rows.push((name.to_string(), n)),
        }
    }
    rows
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
    async fn ready(&self) -> Result<String, Failure> {
        let channel = self.channel().await?;
        // Executors started with the scheduler register within a heartbeat or two.
        let give_up = tokio::time::Instant::now() + EXECUTORS_WAIT;
        let executors = loop {
            match self.executors(channel.clone()).await {
                Err(f) if f.code == codes::cluster::NO_EXECUTORS && tokio::time::Instant::now() < give_up => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                answer => break answer?,
            }
        };
        Ok(match executors {
            Some(n) => format!(
                "Ballista scheduler {} ({n} executor{} registered)",
                self.scheduler,
                if n == 1 { "" } else { "s" }
            ),
            None => format!("Ballista scheduler {}", self.scheduler),
        })
    }

    async fn write_all(&self, jobs: Vec<SinkJob>) -> Result<Written, Failure> {
        let channel = self.channel().await?;
        let mut watch = ExecutorWatch::new(channel.clone());
        let client = Self::client(channel);
        let mut submitted = Vec::new();
        for job in &jobs {
            // Dropping `submitted` on an error cancels the jobs submitted before.
            submitted.push(submit(self, client.clone(), Submission::write(job)?).await?);
        }
        let (mut placements, mut stage_rows) = (Vec::new(), Vec::new());
        loop {
            for job in submitted.iter_mut().filter(|j| !j.finished) {
                if let Some(done) = self.poll(job).await? {
                    placements.extend(placements_of(job, &done));
                    stage_rows.extend(stage_rows_of(job).await);
                }
            }
            if submitted.iter().all(|j| j.finished) {
                return Ok(Written { placements, stage_rows });
            }
            watch.check(self).await?;
            tokio::time::sleep(POLL).await;
        }
    }

    async fn digest(&self, job: DigestJob) -> Result<Vec<PartitionDigest>, Failure> {
        let channel = self.channel().await?;
        let mut watch = ExecutorWatch::new(channel.clone());
        let mut submitted = submit(self, Self::client(channel), Submission::digest(&job)?).await?;
        let done = loop {
            match self.poll(&mut submitted).await? {
                Some(done) => break done,
                None => {
                    watch.check(self).await?;
                    tokio::time::sleep(POLL).await;
                }
            }
        };
        let batches = fetch_results(&done).await.map_err(|why| Failure {
            stage: Some(job.sink.name.clone()),
            ..why.reworded(format!("sink `{}`: {}", job.sink.name, scrub(&why.message, &submitted.urls)))
        })?;
        let digests = digests_of(&batches).map_err(|e| failure_of(&e, codes::run::INTERNAL))?;
        if digests.iter().map(|d| d.partition).ne(0..job.targets.len()) {
            let got: Vec<usize> = digests.iter().map(|d| d.partition).collect();
            return Err(Failure::new(
                codes::run::INTERNAL,
                format!("the cluster returned digests of partitions {got:?}, not of 0..{}", job.targets.len()),
            ));
        }
        Ok(digests)
    }
}

impl BallistaEngine {
    /// Asks the scheduler once how `job` is doing: the finished job's result, or `None` while it
    /// runs. Errors with the job's failure (its code and location, `cluster::wire`), or
    /// `flow::cluster::unreachable` when the scheduler stops answering.
    async fn poll(&self, job: &mut Submitted) -> Result<Option<SuccessfulJob>, Failure> {
        let status = job
            .client
            .get_job_status(GetJobStatusParams { job_id: job.job_id.clone() })
            .await
            .map_err(|e| {
                self.unreachable(format_args!(
                    "stopped answering about sink `{}`'s job {}: {}",
                    job.sink,
                    job.job_id,
                    e.message()
                ))
            })?
            .into_inner()
            .status
            .and_then(|s| s.status);
        match status {
            Some(job_status::Status::Successful(done)) => {
                job.finished = true;
                job.pending = None;
                Ok(Some(done))
            }
            Some(job_status::Status::Failed(f)) => {
                job.finished = true;
                job.pending = None;
                Err(job_failure(job, &f.error))
            }
            _ => Ok(None),
        }
    }
}

/// How often the scheduler of running jobs is asked whether it still has executors.
const EXECUTORS_CHECK: Duration = Duration::from_secs(5);

/// Notices a scheduler left without executors while jobs run: Ballista keeps their tasks queued
/// until an executor comes, so without this the run would wait forever. The scheduler forgets a
/// lost executor after its `--executor-timeout`; the run fails [`EXECUTORS_WAIT`] after the last
/// one is gone.
struct ExecutorWatch {
    channel: Channel,
    next: tokio::time::Instant,
    none_since: Option<tokio::time::Instant>,
}

impl ExecutorWatch {
    fn new(channel: Channel) -> Self {
        Self { channel, next: tokio::time::Instant::now() + EXECUTORS_CHECK, none_since: None }
    }

    /// Asks at most every [`EXECUTORS_CHECK`]. Errors (`flow::cluster::no_executors`) once the
    /// scheduler has had no executor for [`EXECUTORS_WAIT`]; any other answer (or none: the job
    /// polls notice a scheduler that is gone) counts as having executors.
    async fn check(&mut self, engine: &BallistaEngine) -> Result<(), Failure> {
        let now = tokio::time::Instant::now();
        if now < self.next {
            return Ok(());
        }
        self.next = now + EXECUTORS_CHECK;
        match engine.executors(self.channel.clone()).await {
            Err(f) if f.code == codes::cluster::NO_EXECUTORS => {
                let since = *self.none_since.get_or_insert(now);
                if now.duration_since(since) >= EXECUTORS_WAIT {
                    let message = format!(
                        "the Ballista scheduler at {} has had no executor for {} s: the executors it had are gone, so \
                         the run's remaining tasks cannot run; start one with `flow executor --scheduler {}`",
                        engine.scheduler,
                        EXECUTORS_WAIT.as_secs(),
                        engine.scheduler
                    );
                    return Err(Failure::new(codes::cluster::NO_EXECUTORS, message));
                }
            }
            _ => self.none_since = None,
        }
        Ok(())
    }
}

/// The largest message a result fetch accepts (Ballista's default for its gRPC clients).
const MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Every output partition of a finished job, fetched over Arrow Flight from the executor that
/// holds it (`partition_location`). Errors (`flow::cluster::job_failed`) name the executor that
/// could not serve.
async fn fetch_results(done: &SuccessfulJob) -> Result<Vec<RecordBatch>, Failure> {
    let mut batches = Vec::new();
    for location in &done.partition_location {
        let (Some(meta), Some(id)) = (&location.executor_meta, &location.partition_id) else {
            let message = "the scheduler named a result partition without its executor";
            return Err(Failure::new(codes::cluster::JOB_FAILED, message));
        };
        let cannot = |e: &dyn std::fmt::Display| {
            let message =
                format!("cannot fetch a result from executor {} at {}:{}: {e}", meta.id, meta.host, meta.port);
            Failure::new(codes::cluster::JOB_FAILED, message)
        };
        let port = u16::try_from(meta.port).map_err(|e| cannot(&e))?;
        let mut client = BallistaClient::try_new(&meta.host, port, MAX_MESSAGE, false, None, 3, 100, 0, 0)
            .await
            .map_err(|e| cannot(&e))?;
        let stream = client
            .fetch_partition(&meta.id, &id.clone().into(), location.file_id, location.layout(), true)
            .await
            .map_err(|e| cannot(&e))?;
        let fetched: Vec<RecordBatch> = stream.try_collect().await.map_err(|e| cannot(&e))?;
        batches.extend(fetched);
    }
    Ok(batches)
}
