//! [`FlowPhysicalCodec`]: how Flow's plan nodes cross from the client to the scheduler and on to
//! the executors.
//!
//! Ballista serialises a physical plan with datafusion-proto; a node datafusion-proto does not
//! know goes to the extension codec as `PhysicalExtensionNode { node: bytes, inputs }`, the
//! children travelling in `inputs`. Setting a codec *replaces* Ballista's own
//! (`BallistaPhysicalExtensionCodec`, which encodes the shuffle readers and writers), so this
//! codec wraps it and hands it every node that is not Flow's.
//!
//! Flow's nodes ([`ScanExec`], [`StageExec`], [`WriteExec`], [`DigestExec`]) are written as the magic prefix
//! `FLOW1` and a JSON [`FlowNode`]. Ballista's payloads are protobuf messages, whose first byte
//! is a field tag; `F` (0x46) would be wire type 6, which protobuf does not have, so the prefix
//! can never be mistaken for one of them.
//!
//! The payload holds the source's and sink's plans as they are, URL included: an executor must
//! connect. They cross the network as the plan does (plaintext gRPC unless Ballista is set up
//! with TLS); `Debug` and `Display` of every node show no password (see the tests).
//!
//! Runs on the client (encode), the scheduler (decode, restrict, encode per task) and the
//! executors (decode).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::{Schema, SchemaRef};
use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::digest::DigestExec;
use super::nodes::{ScanExec, WriteExec};
use crate::connect::Pushdown;
use crate::exec::metrics::{StageKind, StageMetrics};
use crate::exec::nodes::StageExec;
use crate::ledger::LedgerKey;
use crate::plan::{SinkPlan, SourcePlan};

/// The first bytes of every Flow node payload.
pub const MAGIC: &[u8] = b"FLOW1";

/// A Flow node on the wire; the children travel beside it (`PhysicalExtensionNode.inputs`).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum FlowNode {
    /// [`ScanExec`]; child: its work list.
    Scan {
        source: SourcePlan,
        /// The projected schema, as Arrow IPC stream bytes.
        schema: Vec<u8>,
        pushdown: Pushdown,
        snapshot: Option<String>,
    },
    /// [`StageExec`]; child: the stage's plan. Its counters start afresh where it is decoded.
    Stage { name: String, kind: StageKind, timeout_ms: Option<u64> },
    /// [`WriteExec`]; children: the input and the work list.
    Write { sink: SinkPlan, key: LedgerKey },
    /// [`DigestExec`]; children: the input and the work list.
    Digest { sink: SinkPlan },
}

/// Flow's physical extension codec (see the module docs). Stateless.
#[derive(Default)]
pub struct FlowPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl fmt::Debug for FlowPhysicalCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FlowPhysicalCodec")
    }
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// A schema as Arrow IPC stream bytes (the schema message of an empty stream).
pub fn schema_bytes(schema: &Schema) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut buf, schema)?;
    writer.finish()?;
    drop(writer);
    Ok(buf)
}

/// The schema [`schema_bytes`] wrote.
pub fn schema_from_bytes(bytes: &[u8]) -> Result<SchemaRef> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    Ok(reader.schema())
}

impl FlowPhysicalCodec {
    /// The wire form of `node` when it is one of Flow's; `Ok(None)` for any other node.
    fn flow_node(node: &Arc<dyn ExecutionPlan>) -> Result<Option<FlowNode>> {
        if let Some(scan) = node.downcast_ref::<ScanExec>() {
            return Ok(Some(FlowNode::Scan {
                source: scan.source.clone(),
                schema: schema_bytes(&scan.schema)?,
                pushdown: scan.pushdown.clone(),
                snapshot: scan.snapshot.clone(),
            }));
        }
        if let Some(stage) = node.downcast_ref::<StageExec>() {
            return Ok(Some(FlowNode::Stage {
                name: stage.metrics.name.clone(),
                kind: stage.metrics.kind,
                timeout_ms: stage.timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            }));
        }
        if let Some(write) = node.downcast_ref::<WriteExec>() {
            return Ok(Some(FlowNode::Write { sink: write.sink.clone(), key: write.key.clone() }));
        }
        if let Some(digest) = node.downcast_ref::<DigestExec>() {
            return Ok(Some(FlowNode::Digest { sink: digest.sink.clone() }));
        }
        Ok(None)
    }

    fn decode_flow(bytes: &[u8], inputs: &[Arc<dyn ExecutionPlan>]) -> Result<Arc<dyn ExecutionPlan>> {
        let node: FlowNode = serde_json::from_slice(bytes).map_err(external)?;
        let child = |i: usize, name: &str| {
            inputs.get(i).cloned().ok_or_else(|| {
                DataFusionError::Internal(format!("a Flow {name} node arrived with {} input(s)", inputs.len()))
            })
        };
        Ok(match node {
            FlowNode::Scan { source, schema, pushdown, snapshot } => {
                Arc::new(ScanExec::new(source, schema_from_bytes(&schema)?, pushdown, snapshot, child(0, "scan")?))
            }
            FlowNode::Stage { name, kind, timeout_ms } => {
                let metrics = Arc::new(StageMetrics::new(&name, kind, Instant::now()));
                Arc::new(StageExec::new(child(0, "stage")?, metrics, timeout_ms.map(Duration::from_millis)))
            }
            FlowNode::Write { sink, key } => {
                Arc::new(WriteExec::try_new(sink, key, child(0, "write")?, child(1, "write")?)?)
            }
            FlowNode::Digest { sink } => Arc::new(DigestExec::try_new(sink, child(0, "digest")?, child(1, "digest")?)?),
        })
    }
}

impl PhysicalExtensionCodec for FlowPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(MAGIC) {
            Some(payload) => Self::decode_flow(payload, inputs),
            None => self.inner.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(flow) = Self::flow_node(&node)? {
            buf.extend_from_slice(MAGIC);
            serde_json::to_writer(&mut *buf, &flow).map_err(external)?;
            return Ok(());
        }
        // Flow's in-process nodes cannot cross: name them by `name()` only (their `Debug` would
        // be put in datafusion-proto's error, and must not be relied on).
        if matches!(node.name(), "SourceExec" | "SinkExec" | "FanOutExec") {
            return Err(DataFusionError::NotImplemented(format!(
                "{} runs only in the process that planned it, not on a cluster",
                node.name()
            )));
        }
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
