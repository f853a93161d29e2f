//! Flow's nodes through the codec and through Ballista's per-task restriction, without a
//! cluster or a database (nothing here connects: sink drivers are built at `execute`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;

use super::codec::{FlowNode, FlowPhysicalCodec, MAGIC};
use super::nodes::{ScanExec, WriteExec};
use super::plan::job_plan;
use crate::connect::ScanPartition;
use crate::exec::SinkJob;
use crate::exec::metrics::{StageKind, StageMetrics};
use crate::exec::nodes::{SourceExec, StageExec};
use crate::ledger::LedgerKey;
use crate::plan::PipelinePlan;
use crate::semantic::CheckContext;

const PASSWORD: &str = "s3cr3t-XYZ";

fn pipeline() -> PipelinePlan {
    let text = format!(
        "let src = postgres(\"postgres://flow:{PASSWORD}@127.0.0.1:5432/test\")\n\
         let dst = postgres(\"postgres://flow:{PASSWORD}@127.0.0.1:5432/test?password={PASSWORD}\")\n\
         pipeline p {{\n\
           source rows = src.table(\"public.cluster_src\") {{ timeout 5m }}\n\
           transform clean = rows | filter id > 0\n\
           sink clean -> dst.table(\"public.cluster_dst\") {{ mode replace; timeout 1m }}\n\
         }}\n"
    );
    let ast = crate::syntax::parse(&text).expect("parses");
    let (plans, problems) = crate::semantic::lower(&ast, &CheckContext::default());
    assert!(problems.iter().all(|p| p.warning), "{problems:?}");
    plans.into_iter().next().expect("one pipeline")
}

/// The local graph of `rows → clean → sink` over 4 range partitions, and the sink's job for `parts`.
async fn job(parts: &[usize]) -> SinkJob {
    let plan = pipeline();
    let schema =
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false), Field::new("name", DataType::Utf8, true)]));
    let partitions: Vec<ScanPartition> = (0..4)
        .map(|p| ScanPartition::Query {
            predicate: Some(format!("id >= {} AND id < {}", p * 10, p * 10 + 10)),
            chunks: vec![],
        })
        .collect();
    let source = SourceExec::new(plan.sources[0].clone(), partitions, schema, None, Some("id > 0".into()))
        .expect("source")
        .with_snapshot(Some("00000003-0000001B-1".into()));
    let m = |name: &str, kind| Arc::new(StageMetrics::new(name, kind, Instant::now()));
    let raw = Arc::new(StageExec::new(Arc::new(source), m("rows", StageKind::Source), Some(Duration::from_secs(300))));
    let clean = Arc::new(StageExec::new(raw, m("clean", StageKind::Transform), None));
    let sink = plan.sinks[0].clone();
    let key = LedgerKey { run_id: "r1".into(), pipeline: plan.name.clone(), sink: sink.name.clone() };
    SinkJob { sink, key, input: clean, parts: parts.iter().map(|p| (*p, format!("part {p}"))).collect() }
}

fn encode(plan: Arc<dyn ExecutionPlan>) -> Vec<u8> {
    let mut bytes = Vec::new();
    PhysicalPlanNode::try_from_physical_plan(plan, &FlowPhysicalCodec::default())
        .and_then(|n| n.try_encode(&mut bytes))
        .expect("encodes");
    bytes
}

fn decode(bytes: &[u8]) -> Arc<dyn ExecutionPlan> {
    PhysicalPlanNode::try_decode(bytes)
        .and_then(|n| n.try_into_physical_plan(&TaskContext::default(), &FlowPhysicalCodec::default()))
        .expect("decodes")
}

/// Every (part, text) of partition `k` of a node's work list (its last child).
async fn worklist_items(node: &Arc<dyn ExecutionPlan>, k: usize) -> Vec<(u32, String)> {
    let list = node.children().last().map(|c| (*c).clone()).expect("a work list");
    let batches: Vec<_> = list.execute(k, Arc::new(TaskContext::default())).unwrap().try_collect().await.unwrap();
    let mut out = Vec::new();
    for b in batches {
        let parts = b.column(0).as_any().downcast_ref::<UInt32Array>().unwrap();
        let texts = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((parts.value(i), texts.value(i).to_string()));
        }
    }
    out
}

fn find<'a>(plan: &'a Arc<dyn ExecutionPlan>, name: &str) -> Option<&'a Arc<dyn ExecutionPlan>> {
    if plan.name() == name {
        return Some(plan);
    }
    plan.children().into_iter().find_map(|c| find(c, name))
}

#[tokio::test]
async fn flow_nodes_round_trip_through_the_codec() {
    let plan = job_plan(&job(&[0, 1, 2, 3]).await).expect("plans");
    let bytes = encode(plan.clone());
    let decoded = decode(&bytes);
    assert_eq!(encode(decoded.clone()), bytes, "encode → decode → encode gives the same bytes");
    assert_eq!(
        displayable(decoded.as_ref()).indent(false).to_string(),
        displayable(plan.as_ref()).indent(false).to_string()
    );
    assert_eq!(decoded.properties().partitioning.partition_count(), 4);
    let write = decoded.downcast_ref::<WriteExec>().expect("the root is the writer");
    assert_eq!(write.sink.input, "clean");
    assert_eq!(write.key.run_id, "r1");
    let scan = find(&decoded, "ScanExec").and_then(|s| s.downcast_ref::<ScanExec>()).expect("a scan");
    assert_eq!(scan.snapshot.as_deref(), Some("00000003-0000001B-1"));
    assert_eq!(scan.pushdown.filter.as_deref(), Some("id > 0"));
    assert_eq!(scan.schema.fields().len(), 2);
    // The URL travels whole: executors connect with it.
    assert!(scan.source.endpoint.url.contains(PASSWORD));
    let stage = find(&decoded, "StageExec").and_then(|s| s.downcast_ref::<StageExec>()).expect("a stage");
    assert_eq!((stage.metrics.name.as_str(), stage.metrics.kind), ("clean", StageKind::Transform));
    let scan_stage = find(&stage.input, "StageExec").and_then(|s| s.downcast_ref::<StageExec>()).expect("source stage");
    assert_eq!(scan_stage.timeout, Some(Duration::from_secs(300)));
}

#[tokio::test]
async fn flow_payloads_carry_the_magic_prefix_and_other_nodes_go_to_ballista() {
    let plan = job_plan(&job(&[0]).await).expect("plans");
    let bytes = encode(plan);
    let tagged = |node: &str| [MAGIC, format!("{{\"node\":\"{node}\"").as_bytes()].concat();
    for node in ["write", "stage", "scan"] {
        assert!(bytes.windows(tagged(node).len()).any(|w| w == tagged(node)), "a `{node}` payload");
    }
    // An in-process node is refused by name, never by its Debug text.
    let source = find(&job(&[0]).await.input, "SourceExec").cloned().expect("source");
    let err = PhysicalPlanNode::try_from_physical_plan(source, &FlowPhysicalCodec::default()).unwrap_err().to_string();
    assert!(err.contains("SourceExec runs only in the process that planned it"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}

/// Ballista's scheduler cuts each task's plan down to its partitions with
/// `restrict_plan_to_partitions`; after it, partition 0 of every work list is the task's own.
#[tokio::test]
async fn ballista_restricts_both_work_lists_to_the_tasks_partition() {
    let plan = decode(&encode(job_plan(&job(&[0, 1, 2, 3]).await).expect("plans")));
    let task = ballista_scheduler::state::task_builder::restrict_plan_to_partitions(plan, &[2]).expect("restricts");
    // The task's plan crosses the codec again, scheduler → executor.
    let task = decode(&encode(task));
    assert_eq!(task.properties().partitioning.partition_count(), 1);
    assert_eq!(worklist_items(&task, 0).await, vec![(2, "part 2".to_string())]);
    let scan = find(&task, "ScanExec").cloned().expect("a scan");
    assert_eq!(scan.properties().partitioning.partition_count(), 1);
    let items = worklist_items(&scan, 0).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].0, 2);
    let read: ScanPartition = serde_json::from_str(&items[0].1).unwrap();
    assert_eq!(read, ScanPartition::Query { predicate: Some("id >= 20 AND id < 30".into()), chunks: vec![] });
}

#[tokio::test]
async fn a_resumed_job_reads_only_its_partitions() {
    let plan = job_plan(&job(&[1, 3]).await).expect("plans");
    assert_eq!(plan.properties().partitioning.partition_count(), 2);
    let scan = find(&plan, "ScanExec").cloned().expect("a scan");
    let parts: Vec<u32> = [worklist_items(&scan, 0).await, worklist_items(&scan, 1).await]
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(parts, vec![1, 3]);
    assert_eq!(worklist_items(&plan, 1).await, vec![(3, "part 3".to_string())]);
}

#[tokio::test]
async fn no_flow_node_prints_a_password() {
    let job = job(&[0, 1, 2, 3]).await;
    let plan = job_plan(&job).expect("plans");
    let mut texts = vec![format!("{job:?}"), format!("{:?}", pipeline())];
    let mut stack = vec![job.input.clone(), plan.clone(), decode(&encode(plan))];
    while let Some(node) = stack.pop() {
        texts.push(format!("{node:?}"));
        texts.push(displayable(node.as_ref()).indent(true).to_string());
        texts.push(displayable(node.as_ref()).indent(false).to_string());
        stack.extend(node.children().into_iter().cloned());
    }
    let sink = &job.sink;
    let exec = crate::exec::sink_exec::SinkExec::new(
        sink.clone(),
        "r1",
        vec![],
        job.input.clone(),
        crate::connect::sink::driver_for(sink, job.input.schema(), job.key.clone()).expect("a driver"),
        Arc::new(StageMetrics::new("s", StageKind::Sink, Instant::now())),
    );
    texts.push(format!("{exec:?}"));
    texts.push(displayable(&exec).indent(true).to_string());
    for fanned in crate::exec::fanout::FanOut::split(job.input.clone(), 2) {
        texts.push(format!("{fanned:?}"));
        texts.push(displayable(fanned.as_ref()).indent(true).to_string());
    }
    let node = FlowNode::Write { sink: sink.clone(), key: job.key.clone() };
    texts.push(format!("{node:?}"));
    for text in &texts {
        assert!(!text.contains(PASSWORD), "a password in: {text}");
    }
    assert!(texts.iter().any(|t| t.contains("flow:***@127.0.0.1")), "the redacted URL is shown");
}

/// `flow verify --engine`'s plan: the same input under a `DigestExec`, whose work list says what
/// each task reads of the target; it crosses the codec and Ballista's restriction like a write.
#[tokio::test]
async fn a_digest_plan_crosses_the_codec_and_each_task_reads_its_own_target_range() {
    use crate::exec::{DigestJob, TargetRead};
    let write = job(&[0, 1, 2, 3]).await;
    let targets: Vec<TargetRead> =
        (0..4).map(|p| TargetRead::Rows { predicate: Some(format!("id >= {}", p * 10)) }).collect();
    let digest = DigestJob { sink: write.sink.clone(), input: write.input.clone(), targets };
    let plan = super::plan::digest_plan(&digest).expect("plans");
    let bytes = encode(plan.clone());
    assert_eq!(encode(decode(&bytes)), bytes, "encode → decode → encode gives the same bytes");
    let tagged = [MAGIC, b"{\"node\":\"digest\"".as_slice()].concat();
    assert!(bytes.windows(tagged.len()).any(|w| w == tagged), "a `digest` payload");
    let task =
        ballista_scheduler::state::task_builder::restrict_plan_to_partitions(decode(&bytes), &[2]).expect("restricts");
    let task = decode(&encode(task));
    assert_eq!(task.name(), "DigestExec");
    assert_eq!(task.properties().partitioning.partition_count(), 1);
    assert_eq!(worklist_items(&task, 0).await, vec![(2, r#"{"rows":{"predicate":"id >= 20"}}"#.to_string())]);
    let scan = find(&task, "ScanExec").cloned().expect("a scan");
    assert_eq!(worklist_items(&scan, 0).await.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![2]);
    let shown = [format!("{plan:?}"), displayable(plan.as_ref()).indent(true).to_string()].concat();
    assert!(shown.contains("DigestExec: clean->cluster_dst, partitions=4"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    // A job whose target reads do not match its input's partitions is refused.
    let short = DigestJob { targets: vec![TargetRead::Nothing], ..digest };
    let err = super::plan::digest_plan(&short).expect_err("refused").to_string();
    assert!(err.contains("its input has 4 partition(s) but its digest work list 1"), "{err}");
}

#[test]
fn an_engine_is_a_scheduler_address_and_nothing_more() {
    assert_eq!(super::parse_engine("ballista://h:50051"), Ok("h:50051".to_string()));
    assert_eq!(super::parse_engine("ballista://h/"), Ok("h:50050".to_string()));
    assert_eq!(
        super::parse_engine("ballista://h:99999").map_err(|e| e.to_string()),
        Err("--engine: `h:99999`: `99999` is not a port number".to_string())
    );
    for (engine, shown, extra) in [
        ("ballista://h:1?x=1", "ballista://h:1?x=1", '?'),
        ("ballista://h:1/db", "ballista://h:1/db", '/'),
        ("ballista://u:pw@h:1", "ballista://***@h:1", '@'),
    ] {
        assert_eq!(
            super::parse_engine(engine).map_err(|e| e.to_string()),
            Err(format!(
                "--engine `{shown}`: `{extra}` has no meaning here; give only ballista://HOST:PORT (the address of \
                 `flow scheduler`)"
            ))
        );
    }
    assert_eq!(
        super::parse_engine("http://u:pw@h:1").map_err(|e| e.to_string()),
        Err("--engine `http://***@h:1`: expected ballista://HOST:PORT (the address of `flow scheduler`)".to_string())
    );
}
