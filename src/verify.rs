//! `flow verify`: compares each sink's target with what its pipeline reads from the source,
//! partition by partition: row counts and an order-independent checksum over all columns
//! (`crate::ledger::checksum::RowChecksum`). The target side is a DataFusion table over the target with
//! the partition's range as a filter, which is pushed into the target database's query, so each
//! database returns only that partition's rows. A partition that differs is compared row by row
//! on its key to name a sample of missing, extra, duplicated and changed rows.
//!
//! With an engine (`flow verify --engine`), the checksums of every partition are computed where
//! the engine runs (each executor reads its partitions of the source and of the target); only a
//! partition that differs is read again here, to sample its differences.
//!
//! Values are compared as the pipeline produces them: target columns are cast to the pipeline's
//! types first (a SQLite `TEXT` timestamp, a wider integer), so a faithful copy compares equal.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::ArrayRef;
use arrow::compute::CastOptions;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::DataFusionError;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::StreamExt;

use crate::connect::connect_error::failure_of;
use crate::connect::{self, SourceShape};
use crate::diagnostics::{Failure, codes};
use crate::exec::graph;
use crate::exec::metrics::{StageKind, StageMetrics};
use crate::exec::tables::SourceTable;
use crate::exec::{DigestJob, PartitionDigest, PartitionEngine, TargetRead};
use crate::ledger::watermark::Since;
use crate::ledger::{RowChecksum, row_hashes};
use crate::plan::partition::{self, PartitionRange};
use crate::plan::sql::Dialect;
use crate::plan::{PipelinePlan, Relation, SinkPlan, SourcePlan, WriteMode};
use crate::resolve::ResolvedPipeline;

/// How many differing keys of each kind a mismatching partition shows.
const SAMPLE: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct PartitionCheck {
    pub partition: usize,
    /// The partition's range, as a DataFusion predicate; `None`: the whole table.
    pub predicate: Option<String>,
    pub source_rows: u64,
    pub target_rows: u64,
    pub equal: bool,
    /// For a differing partition: `missing in target: id=7`, `changed: id=3`, ...
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SinkCheck {
    pub sink: String,
    pub target: String,
    pub key: Vec<String>,
    pub partitions: Vec<PartitionCheck>,
}

impl SinkCheck {
    pub fn equal(&self) -> bool {
        self.partitions.iter().all(|p| p.equal)
    }

    pub fn render(&self) -> String {
        let mut out = format!("sink {} -> {} (key: {})\n", self.sink, self.target, self.key.join(", "));
        for p in &self.partitions {
            out.push_str(&format!(
                "  partition {:>3}  {:<44} source {:>10}  target {:>10}  {}\n",
                p.partition,
                p.predicate.as_deref().unwrap_or("all rows"),
                p.source_rows,
                p.target_rows,
                if p.equal { "ok" } else { "DIFFERENT" }
            ));
            for d in &p.differences {
                out.push_str(&format!("      {d}\n"));
            }
        }
        let differing = self.partitions.iter().filter(|p| !p.equal).count();
        out.push_str(&match differing {
            0 => format!("  equal: {} partition(s)\n", self.partitions.len()),
            n => format!("  DIFFERENT: {n} of {} partition(s)\n", self.partitions.len()),
        });
        out
    }
}

/// Verifies every sink of a resolved pipeline, here or, with `engine`, where the engine runs.
/// Each source is read in the shape resolving
/// described (for a partitioned PostgreSQL source, in the snapshot the run read), so verify
/// describes no source again. An incremental source is the exception: the target holds every
/// run's rows, so it is compared whole, and described whole once (for all its sinks).
///
/// A sink that cannot be compared fails the whole verification with a [`Failure`] naming it
/// (`sink `out`: ...`): the code of a connection that failed, else `flow::run::failed`.
pub async fn verify_pipeline(
    resolved: &ResolvedPipeline,
    engine: Option<&dyn PartitionEngine>,
) -> Result<Vec<SinkCheck>, Failure> {
    let mut checks = Vec::new();
    let mut whole = HashMap::new();
    for sink in &resolved.plan.sinks {
        let check = verify_sink(resolved, sink, &mut whole, engine).await;
        checks.push(check.map_err(|f| {
            // A failure the engine located at this sink names it already (`PartitionEngine::
            // digest`); verify's own work never locates one there (its stages are the sink's
            // input and the target's reader).
            if f.stage.as_deref() == Some(sink.name.as_str()) {
                return f;
            }
            let message = format!("sink `{}`: {}", sink.name, f.message);
            Failure { stage: Some(sink.name.clone()), ..f.reworded(message) }
        })?);
    }
    Ok(checks)
}

/// A failure of verify's own work (reading, hashing), with no code of its own.
fn failed(message: impl Into<String>) -> Failure {
    Failure::new(codes::run::FAILED, message)
}

/// A DataFusion error of verify's reading: the failure it carries (a connection's code, a
/// source's), else `flow::run::failed`.
fn read_failed(e: &DataFusionError) -> Failure {
    failure_of(e, codes::run::FAILED)
}

/// The pipeline reduced to one sink's lineage, so no fan-out waits for a consumer verify does
/// not run.
fn lineage_plan(plan: &PipelinePlan, sink: &SinkPlan) -> Option<PipelinePlan> {
    let (source, transforms) = plan.lineage(&sink.input)?;
    Some(PipelinePlan {
        sources: vec![source.clone()],
        transforms: transforms.into_iter().cloned().collect(),
        sinks: vec![sink.clone()],
        ..plan.clone()
    })
}

/// `whole`: the whole-source shapes of incremental sources described so far, by source name.
async fn verify_sink(
    resolved: &ResolvedPipeline,
    sink: &SinkPlan,
    whole: &mut HashMap<String, SourceShape>,
    engine: Option<&dyn PartitionEngine>,
) -> Result<SinkCheck, Failure> {
    let single = lineage_plan(&resolved.plan, sink).ok_or_else(|| failed("its input does not lead to a source"))?;
    let source = &single.sources[0];
    // An incremental source is compared whole: the target holds every run's rows.
    let shape = match resolved.shape(&source.name).filter(|_| source.incremental.is_none()) {
        Some(shape) => shape.clone(),
        None => match whole.get(&source.name) {
            Some(shape) => shape.clone(),
            None => {
                let shape = connect::describe(source, single.parallelism, &Since::FirstRun).await.map_err(|e| {
                    let found = failure_of(&e, codes::source::INVALID);
                    found.reworded(format!("source: {}", found.message))
                })?;
                whole.insert(source.name.clone(), shape.clone());
                shape
            }
        },
    };
    let ranges = source_ranges(source, &shape);
    let key = key_columns(sink, source, &shape.schema);
    // Opened here only when this process reads the target.
    let mut target: Option<TargetReader> = None;
    let mut partitions = Vec::new();
    // Each pass runs the source side afresh: a physical plan's partition is read once.
    let build = |shape: SourceShape| {
        let single = single.clone();
        async move {
            let shapes = HashMap::from([(single.sources[0].name.clone(), shape)]);
            let graph = graph::build(&single, &shapes, Instant::now(), false).await.map_err(|e| read_failed(&e))?;
            let (_, input, _) = graph.sinks.into_iter().next().ok_or_else(|| failed("no sink in the graph"))?;
            Ok::<_, Failure>((graph.ctx, input))
        }
    };
    let (ctx, input) = build(shape.clone()).await?;
    let columns: Vec<String> = input.schema().fields().iter().map(|f| f.name().clone()).collect();
    // The ranges hold only when the partition column reaches the sink unchanged.
    let ranged = ranges.len() == input.properties().partitioning.partition_count()
        && source.partition.as_ref().is_some_and(|s| columns.contains(&s.column));
    let groups: Vec<(Vec<usize>, Option<String>)> = if ranged {
        let column = source.partition.as_ref().map(|s| s.column.clone()).unwrap_or_default();
        ranges.iter().enumerate().map(|(i, r)| (vec![i], Dialect::DataFusion.partition_predicate(&column, r))).collect()
    } else {
        vec![((0..input.properties().partitioning.partition_count()).collect(), None)]
    };
    let partition_count = input.properties().partitioning.partition_count();
    let digests = match engine.filter(|_| partition_count > 0) {
        Some(engine) => {
            let job = DigestJob { sink: sink.clone(), input: input.clone(), targets: target_reads(&groups) };
            Some(engine.digest(job).await?)
        }
        None => None,
    };
    for (index, (parts, predicate)) in groups.iter().enumerate() {
        let (source_side, target_side) = match &digests {
            Some(digests) => group_digest(digests, parts)?,
            None => {
                let source_stream = source_stream(&ctx, &input, parts, sink)?;
                let source_side = summarize(source_stream, &input.schema(), None).await?.0;
                let target = opened(&mut target, sink).await?;
                let target_rows = target.read(&columns, predicate.as_deref()).await?;
                (source_side, summarize(target_rows, &input.schema(), None).await?.0)
            }
        };
        let equal = source_side == target_side;
        let differences = if equal {
            Vec::new()
        } else {
            let target = opened(&mut target, sink).await?;
            let (ctx2, input2) = build(shape.clone()).await?;
            let key_ix: Vec<usize> = key.iter().filter_map(|k| columns.iter().position(|c| c == k)).collect();
            let source_stream = source_stream(&ctx2, &input2, parts, sink)?;
            let source_rows = summarize(source_stream, &input2.schema(), Some(&key_ix)).await?;
            let target_stream = target.read(&columns, predicate.as_deref()).await?;
            let target_rows = summarize(target_stream, &input.schema(), Some(&key_ix)).await?;
            differences(&key, &source_rows.1, &target_rows.1)
        };
        partitions.push(PartitionCheck {
            partition: index,
            predicate: predicate.clone(),
            source_rows: source_side.rows(),
            target_rows: target_side.rows(),
            equal,
            differences,
        });
    }
    Ok(SinkCheck { sink: sink.name.clone(), target: target_description(sink), key, partitions })
}

/// The target reader in `slot`, opened on first use.
async fn opened<'a>(slot: &'a mut Option<TargetReader>, sink: &SinkPlan) -> Result<&'a TargetReader, Failure> {
    if slot.is_none() {
        *slot = Some(TargetReader::open(sink).await?);
    }
    Ok(slot.as_ref().expect("opened above"))
}

/// What each input partition's task reads of the target, for groups of partitions that cover
/// every partition once: the first partition of a group reads the group's target rows.
fn target_reads(groups: &[(Vec<usize>, Option<String>)]) -> Vec<TargetRead> {
    let count = groups.iter().map(|(parts, _)| parts.len()).sum();
    let mut reads = vec![TargetRead::Nothing; count];
    for (parts, predicate) in groups {
        if let Some(first) = parts.first().and_then(|p| reads.get_mut(*p)) {
            *first = TargetRead::Rows { predicate: predicate.clone() };
        }
    }
    reads
}

/// The source and target checksums of a group of partitions, from an engine's digests (see
/// [`target_reads`]). Errors when a digest the group needs did not come back.
fn group_digest(digests: &[PartitionDigest], parts: &[usize]) -> Result<(RowChecksum, RowChecksum), Failure> {
    let digest = |p: usize| {
        digests
            .iter()
            .find(|d| d.partition == p)
            .ok_or_else(|| failed(format!("the engine returned no digest of partition {p}")))
    };
    let mut source = RowChecksum::default();
    for p in parts {
        source = source.merge(digest(*p)?.source);
    }
    let first = parts.first().ok_or_else(|| failed("a group of no partitions"))?;
    let target =
        digest(*first)?.target.ok_or_else(|| failed(format!("partition {first}'s task read no target rows")))?;
    Ok((source, target))
}

/// The ranges the source's partitions read, or one open range.
fn source_ranges(source: &SourcePlan, shape: &SourceShape) -> Vec<PartitionRange> {
    match &source.partition {
        Some(spec) => partition::split(shape.bounds.as_ref(), spec.count),
        None => vec![PartitionRange::whole()],
    }
}

/// The columns that identify a row in the sample of differences: the upsert keys, else the
/// partition column, else the first column.
fn key_columns(sink: &SinkPlan, source: &SourcePlan, schema: &SchemaRef) -> Vec<String> {
    if let WriteMode::Upsert { keys, .. } = &sink.mode {
        return keys.clone();
    }
    if let Some(spec) = &source.partition {
        return vec![spec.column.clone()];
    }
    schema.fields().first().map(|f| vec![f.name().clone()]).unwrap_or_default()
}

/// The rows `sink` receives from partition `partition` of `input`, as the run wrote them (see
/// [`source_stream`]): what an engine's task checksums (`flow verify --engine`).
pub fn written_rows(
    input: &Arc<dyn ExecutionPlan>,
    partition: usize,
    context: Arc<datafusion::execution::TaskContext>,
    sink: &SinkPlan,
) -> datafusion::error::Result<SendableRecordBatchStream> {
    let stream = input.execute(partition, context)?;
    match &sink.mode {
        WriteMode::Upsert { keys, keep: Some(keep) } => connect::unique_keys::keep_last(stream, keys, &keep.by),
        _ => Ok(stream),
    }
}

/// The checksum of `stream`'s rows, cast to `schema` (the pipeline's columns and types).
/// Errors when the stream fails (with the failure it carries, e.g. a connection's code) or a
/// column is missing or cannot be cast (`flow::run::failed`).
pub async fn checksum(stream: SendableRecordBatchStream, schema: &SchemaRef) -> Result<RowChecksum, Failure> {
    Ok(summarize(stream, schema, None).await?.0)
}

/// The checksum of the rows of `sink`'s target matching `predicate` (all without one), read with
/// `schema`'s columns and cast to its types. Errors when the target cannot be read: the
/// failure of its connection (its code kept), else `flow::run::failed`.
pub async fn target_checksum(
    sink: &SinkPlan,
    schema: &SchemaRef,
    predicate: Option<&str>,
) -> Result<RowChecksum, Failure> {
    let target = TargetReader::open(sink).await?;
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    checksum(target.read(&columns, predicate).await?, schema).await
}

/// The rows `sink` receives from `partitions` of its input: with `keep last by`, the last row of
/// each key of each partition, as the run wrote them (`connect::unique_keys`).
fn source_stream(
    ctx: &datafusion::prelude::SessionContext,
    input: &Arc<dyn ExecutionPlan>,
    partitions: &[usize],
    sink: &SinkPlan,
) -> Result<SendableRecordBatchStream, Failure> {
    let streams = partitions
        .iter()
        .map(|p| written_rows(input, *p, ctx.task_ctx(), sink))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read_failed(&e))?;
    let schema = input.schema();
    let merged = futures::stream::iter(streams).flatten();
    Ok(Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, merged)))
}

/// Rows by key (formatted), each with the hashes of the rows that carry it.
type KeyedRows = BTreeMap<String, Vec<u64>>;

/// Count and checksum of a stream, and with `key`, every row's hash by key.
async fn summarize(
    mut stream: SendableRecordBatchStream,
    schema: &SchemaRef,
    key: Option<&[usize]>,
) -> Result<(RowChecksum, KeyedRows), Failure> {
    let mut checksum = RowChecksum::default();
    let mut keyed = KeyedRows::new();
    while let Some(batch) = stream.next().await {
        let batch = conform(&batch.map_err(|e| read_failed(&e))?, schema)?;
        checksum.add_batch(&batch).map_err(|e| failed(e.to_string()))?;
        if let Some(key) = key {
            let hashes = row_hashes(batch.columns()).map_err(|e| failed(e.to_string()))?;
            let options = FormatOptions::default().with_null("NULL");
            let formatters = key
                .iter()
                .map(|&i| ArrayFormatter::try_new(batch.column(i).as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| failed(e.to_string()))?;
            for (row, hash) in hashes.into_iter().enumerate() {
                let text = formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join(", ");
                keyed.entry(text).or_default().push(hash);
            }
        }
    }
    Ok((checksum, keyed))
}

/// A batch with `schema`'s columns (by name) and types: the target's types are cast to the
/// pipeline's, so equal values hash equally. A cast that changes a number (a target column
/// wider than the source's: `numeric(14,4)` holding 13.7049 where the pipeline has
/// `numeric(12,2)`) must not make it look equal, so the batch gets one more column,
/// `_flow_inexact`: true for a row with a number the cast changed (read back to the target's
/// type, it differs), false everywhere else; the source's rows, never cast, are all false.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, Failure> {
    let options = CastOptions { safe: true, ..CastOptions::default() };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len() + 1);
    let mut inexact = vec![false; batch.num_rows()];
    for field in schema.fields() {
        let column = batch
            .column_by_name(field.name())
            .or_else(|| {
                let names = batch.schema();
                let i = names.fields().iter().position(|f| f.name().eq_ignore_ascii_case(field.name()))?;
                Some(batch.column(i))
            })
            .ok_or_else(|| failed(format!("the target has no column `{}`", field.name())))?;
        let column = if column.data_type() == field.data_type() {
            column.clone()
        } else {
            let cast = arrow::compute::cast_with_options(column, field.data_type(), &options)
                .map_err(|e| failed(e.to_string()))?;
            mark_changed_numbers(column, &cast, &mut inexact)?;
            cast
        };
        columns.push(column);
    }
    let mut fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()).with_nullable(true))
        .collect();
    fields.push(arrow::datatypes::Field::new("_flow_inexact", arrow::datatypes::DataType::Boolean, false));
    columns.push(Arc::new(arrow::array::BooleanArray::from(inexact)));
    RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns).map_err(|e| failed(e.to_string()))
}

/// Sets `inexact[row]` where `cast`, an integer or decimal column cast from numbers
/// (`original`), does not give `original`'s value back: rounded, or out of range (null). Casts to
/// floating point are left alone (a decimal read back from a float is rarely its digits), and so
/// are other types (text read as a timestamp: text forms differ without the values differing).
fn mark_changed_numbers(original: &ArrayRef, cast: &ArrayRef, inexact: &mut [bool]) -> Result<(), Failure> {
    use arrow::datatypes::DataType;
    let exact = |t: &DataType| {
        t.is_integer()
            || matches!(
                t,
                DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..)
            )
    };
    if !original.data_type().is_numeric() || !exact(cast.data_type()) {
        return Ok(());
    }
    let options = CastOptions { safe: true, ..CastOptions::default() };
    let back =
        arrow::compute::cast_with_options(cast, original.data_type(), &options).map_err(|e| failed(e.to_string()))?;
    let differ = arrow::compute::kernels::cmp::distinct(original, &back).map_err(|e| failed(e.to_string()))?;
    for (row, flag) in inexact.iter_mut().enumerate() {
        *flag |= differ.value(row);
    }
    Ok(())
}

/// A sample of what differs between the source's and the target's rows of one partition.
fn differences(key: &[String], source: &KeyedRows, target: &KeyedRows) -> Vec<String> {
    let name = key.join(", ");
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    let mut duplicated = Vec::new();
    let mut changed = Vec::new();
    for (k, hashes) in source {
        match target.get(k) {
            None => missing.push(k.clone()),
            Some(t) if t.len() > hashes.len() => duplicated.push(format!("{k} ({} times)", t.len())),
            Some(t) => {
                let mut a = hashes.clone();
                let mut b = t.clone();
                a.sort_unstable();
                b.sort_unstable();
                if t.len() < hashes.len() {
                    missing.push(format!("{k} ({} of {} copies)", hashes.len() - t.len(), hashes.len()));
                } else if a != b {
                    changed.push(k.clone());
                }
            }
        }
    }
    for k in target.keys().filter(|k| !source.contains_key(*k)) {
        extra.push(k.clone());
    }
    let mut out = Vec::new();
    for (what, keys) in [
        ("missing in target", missing),
        ("extra in target", extra),
        ("duplicated in target", duplicated),
        ("changed", changed),
    ] {
        if keys.is_empty() {
            continue;
        }
        let shown: Vec<String> = keys.iter().take(SAMPLE).map(|k| format!("{name}={k}")).collect();
        let more = if keys.len() > SAMPLE { format!(" and {} more", keys.len() - SAMPLE) } else { String::new() };
        out.push(format!("{what}: {}{more}", shown.join("; ")));
    }
    out
}

/// How a sink's target is named in verify's output and errors (no password).
fn target_description(sink: &SinkPlan) -> String {
    match &sink.relation {
        Relation::Table { name } => format!("{} {name}", sink.endpoint.redacted()),
        Relation::File { path } => path.clone(),
        _ => sink.endpoint.redacted(),
    }
}

/// The target as a DataFusion table, filters pushed into its database.
struct TargetReader {
    ctx: datafusion::prelude::SessionContext,
    describe: String,
}

impl TargetReader {
    /// Errors: the target's description failed (its connection's code kept, the message saying
    /// `cannot read the target ...`).
    async fn open(sink: &SinkPlan) -> Result<Self, Failure> {
        let describe = target_description(sink);
        let as_source = SourcePlan {
            name: format!("{}_target", sink.name),
            endpoint: sink.endpoint.clone(),
            relation: sink.relation.clone(),
            partition: None,
            batch_size: 8192,
            batch_automatic: false,
            timeout: None,
            incremental: None,
            only: false,
        };
        let shape = connect::describe(&as_source, 1, &Since::FirstRun).await.map_err(|e| {
            let found = read_failed(&e);
            found.reworded(format!("cannot read the target {describe}: {}", found.message))
        })?;
        let ctx = graph::session(1);
        let metrics = Arc::new(StageMetrics::new(&as_source.name, StageKind::Source, Instant::now()));
        ctx.register_table("target", Arc::new(SourceTable { source: as_source, shape, metrics }))
            .map_err(|e| read_failed(&e))?;
        Ok(Self { ctx, describe })
    }

    async fn read(&self, columns: &[String], predicate: Option<&str>) -> Result<SendableRecordBatchStream, Failure> {
        let projection = columns.iter().map(|c| Dialect::DataFusion.ident(c)).collect::<Vec<_>>().join(", ");
        let sql = match predicate {
            Some(p) => format!("SELECT {projection} FROM target WHERE {p}"),
            None => format!("SELECT {projection} FROM target"),
        };
        let frame = self.ctx.sql(&sql).await.map_err(|e: DataFusionError| {
            let found = read_failed(&e);
            found.reworded(format!("cannot read the target {}: {}", self.describe, found.message))
        })?;
        frame.execute_stream().await.map_err(|e| read_failed(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_reads_each_group_of_partitions_target_once_and_sums_its_sources() {
        let ranged = vec![(vec![0], Some("id < 5".to_string())), (vec![1], Some("id >= 5".to_string()))];
        let rows = |predicate: &str| TargetRead::Rows { predicate: Some(predicate.to_string()) };
        assert_eq!(target_reads(&ranged), [rows("id < 5"), rows("id >= 5")]);
        let whole = vec![(vec![0, 1, 2], None)];
        let reads = target_reads(&whole);
        assert_eq!(reads, [TargetRead::Rows { predicate: None }, TargetRead::Nothing, TargetRead::Nothing]);

        let digest = |partition, sum, rows, target: Option<(u64, u64)>| PartitionDigest {
            partition,
            source: RowChecksum::from_parts(sum, rows),
            target: target.map(|(sum, rows)| RowChecksum::from_parts(sum, rows)),
        };
        let digests = [digest(0, 10, 1, Some((31, 3))), digest(1, 20, 1, None), digest(2, 1, 1, None)];
        assert_eq!(
            group_digest(&digests, &[0, 1, 2]).map_err(|f| f.message),
            Ok((RowChecksum::from_parts(31, 3), RowChecksum::from_parts(31, 3)))
        );
        assert_eq!(
            group_digest(&digests, &[1]).map_err(|f| (f.code, f.message)),
            Err((codes::run::FAILED, "partition 1's task read no target rows".to_string())),
            "a group's first partition reads its target"
        );
        assert_eq!(
            group_digest(&digests, &[3]).map_err(|f| f.message),
            Err("the engine returned no digest of partition 3".to_string())
        );
    }

    #[test]
    fn differences_name_each_kind_with_its_key() {
        let rows = |pairs: &[(&str, &[u64])]| -> KeyedRows {
            pairs.iter().map(|(k, h)| (k.to_string(), h.to_vec())).collect()
        };
        let source = rows(&[("1", &[10]), ("2", &[20]), ("3", &[30]), ("4", &[40])]);
        let target = rows(&[("1", &[10]), ("2", &[21]), ("4", &[40, 40]), ("9", &[90])]);
        assert_eq!(
            differences(&["id".to_string()], &source, &target),
            [
                "missing in target: id=3",
                "extra in target: id=9",
                "duplicated in target: id=4 (2 times)",
                "changed: id=2"
            ]
        );
    }
}
