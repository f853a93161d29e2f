//! Backends: one folder per database or file kind, source and sink side by side, each found
//! through `registry`. This module holds the backend-neutral side of reading a source: describe
//! it (schema, partition bounds, the watermark, the partitions it will read, with their
//! predicates), hold the snapshot its partitions share, and open one partition as a stream of
//! Arrow batches; what differs per database is asked of its `source::DatabaseSource`.

pub mod batch_size;
pub mod blocking;
pub mod bounds;
pub mod cancel;
pub mod catalog;
pub mod catalog_error;
pub mod connect_error;
pub mod connection_options;
#[cfg(test)]
mod ddl_tests;
pub mod decimal_text;
pub mod file;
pub mod foreign_keys;
pub mod generate;
pub mod metadata;
pub mod mysql;
pub mod planning;
pub mod postgres;
pub mod registry;
pub mod rejects;
pub mod retry;
pub mod sink;
pub mod source;
pub mod span;
pub mod sql_log;
pub mod sqlite;
pub mod staged;
pub mod target;
pub mod target_columns;
pub mod unique_keys;

use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use serde::{Deserialize, Serialize};

use crate::ledger::watermark::{Since, Watermark};
use crate::plan::{PartitionBounds, PartitionSpec, Relation, SourcePlan, partition};
pub use source::SourceSnapshot;
use source::{DatabaseSource, PartitionRead};

/// Keys per chunk query for a chunked source (SQLite: its reader holds each chunk whole).
pub const CHUNK_KEYS: u64 = 65_536;

pub use crate::plan::partition::ScanPartition;

/// A source as discovered: its schema, the partition column's bounds and the partitions.
#[derive(Debug, Clone)]
pub struct SourceShape {
    pub schema: SchemaRef,
    pub bounds: Option<PartitionBounds>,
    pub partitions: Vec<ScanPartition>,
    /// The snapshot every partition of a partitioned PostgreSQL or MySQL source reads, so that
    /// all of them see the source as of one instant. It is held open for as long as any clone of
    /// the shape lives: keep the shape until the run ends.
    pub snapshot: Option<Arc<dyn SourceSnapshot>>,
    /// The range an incremental source reads in this run; its predicate is in every partition.
    pub watermark: Option<Watermark>,
    /// What the source reads that its name alone does not say (a PostgreSQL table's inheritance
    /// children, read or left out), for `explain`.
    pub notes: Vec<String>,
    /// How many rows the source holds, as far as describing it learnt without reading them;
    /// progress shows how far a run is from it. `None`: unknown (a query, an incremental run
    /// that reads only new rows, a database without statistics).
    pub rows: Option<RowCount>,
}

/// A number of rows known before reading them: exact (a generated source, Parquet footers) or
/// the database's or the file size's estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCount {
    pub rows: u64,
    pub exact: bool,
}

/// Connects (or opens files) to learn the schema and plan the partitions. Reads no data rows
/// beyond a `min`/`max` of the partition column (and of the incremental column, whose range
/// this run reads from `since` on: see `crate::ledger::watermark`).
pub async fn describe(source: &SourcePlan, parallelism: usize, since: &Since) -> Result<SourceShape> {
    describe_known(source, parallelism, since, None).await
}

/// [`describe`], with what a table set's catalog read already learnt of the table (`known`,
/// see `catalog::TableRead`): its schema probe and row estimate are then not sent again. The
/// bounds, the snapshot and the watermark are still read here, for the sources that have them.
pub async fn describe_known(
    source: &SourcePlan,
    parallelism: usize,
    since: &Since,
    known: Option<&catalog::TableRead>,
) -> Result<SourceShape> {
    let endpoint = &source.endpoint;
    match (&source.relation, endpoint.backend) {
        (Relation::Generated { rows, .. }, _) => Ok(SourceShape {
            schema: generate::orders_schema(),
            bounds: None,
            partitions: generate::row_ranges(*rows, parallelism)
                .into_iter()
                .map(|(start, end)| ScanPartition::Rows { start, end })
                .collect(),
            snapshot: None,
            watermark: None,
            notes: Vec::new(),
            rows: Some(RowCount { rows: *rows, exact: true }),
        }),
        (Relation::File { path }, _) => {
            let files = file::list_files(path, endpoint.backend)?;
            let schema = file::read_schema(endpoint, path)?;
            let rows = file::count_rows(endpoint.backend, &files);
            Ok(SourceShape {
                schema,
                bounds: None,
                partitions: files.into_iter().map(|f| ScanPartition::File { path: f.display().to_string() }).collect(),
                snapshot: None,
                watermark: None,
                notes: Vec::new(),
                rows,
            })
        }
        (relation, backend) => match registry::backend(backend).source {
            Some(db) => describe_database(source, relation, db, since, known).await,
            None => Err(DataFusionError::Plan(format!("a {} source needs a file path", backend.name()))),
        },
    }
}

async fn describe_database(
    source: &SourcePlan,
    relation: &Relation,
    db: &'static dyn DatabaseSource,
    since: &Since,
    known: Option<&catalog::TableRead>,
) -> Result<SourceShape> {
    let dialect = source.endpoint.backend.info().dialect;
    let probe = dialect.select_rows(relation, source.only, None, None);
    let (schema, notes) = match known.and_then(|k| Some((k.schema.clone()?, k.read_as(source.only)))) {
        Some((schema, read)) => (schema, read.notes.clone()),
        None => db.probe(source, &probe).await?,
    };
    // A missing partition column is reported by the column check, with its span.
    let partition_field = source.partition.as_ref().and_then(|spec| schema.field_with_name(&spec.column).ok());
    if let (Some(spec), Some(field)) = (&source.partition, partition_field)
        && !bounds::is_partitionable(field.data_type())
    {
        return Err(DataFusionError::Plan(format!(
            "source `{}` cannot be partitioned by `{}` of type {}: use an integer, date or timestamp column",
            source.name,
            spec.column,
            field.data_type()
        )));
    }
    // A backend with an exported snapshot (PostgreSQL) takes it here and reads the bounds (and
    // the watermark) in it; one with a per-run snapshot (MySQL) takes it in `hold_snapshot`, so
    // that `explain` takes no lock; others (SQLite, one file) are read at their own moments.
    let snapshot = if partition_field.is_some() { db.export_snapshot(source).await? } else { None };
    let fetch = |sql: String| {
        let snapshot = snapshot.clone();
        async move {
            match snapshot {
                Some(snapshot) => snapshot.fetch_all(&sql).await,
                None => db.fetch_small(source, &sql).await,
            }
        }
    };
    let watermark = match &source.incremental {
        Some(spec) => Some(read_watermark(source, &schema, &probe, spec, since, fetch).await?),
        None => None,
    };
    let base = watermark.as_ref().and_then(|w| w.predicate(dialect));
    // An incremental run after the first reads only the new rows, which no statistic counts.
    let rows = match relation {
        Relation::Table { name } if watermark.as_ref().is_none_or(|w| w.previous.is_none()) => match known {
            Some(known) => row_count(known.read_as(source.only).rows),
            None => estimate_rows(source, db, name).await,
        },
        _ => None,
    };
    let (Some(spec), Some(field)) = (&source.partition, partition_field) else {
        // A reader that collects each query reads an unpartitioned table in chunks.
        let chunks = match relation {
            Relation::Table { name } if db.chunked() => unpartitioned_chunks(source, db, name, &schema).await?,
            _ => Vec::new(),
        };
        return Ok(SourceShape {
            schema,
            bounds: None,
            partitions: vec![ScanPartition::Query {
                predicate: base.clone(),
                chunks: chunks.iter().map(|c| and(Some(c), base.as_deref()).unwrap_or_default()).collect(),
            }],
            snapshot: None,
            watermark,
            notes,
            rows,
        });
    };
    let col = dialect.ident(&spec.column);
    let scanned = match &base {
        Some(b) => dialect.select_rows(relation, source.only, None, Some(b)),
        None => probe.clone(),
    };
    let bounds_sql = db.bounds_sql(&col, &scanned, &dialect.ident("_flow_b"));
    let bounds = bounds::from_batches(&fetch(bounds_sql).await?, field.data_type())?;
    // PostgreSQL and MySQL stream a query; SQLite's reader collects one, so its partitions
    // are chunked.
    let chunked = db.chunked();
    let partitions: Vec<ScanPartition> = partition::split(bounds.as_ref(), spec.count)
        .iter()
        .map(|range| {
            let chunks = if chunked {
                partition::chunk(range, bounds.as_ref(), CHUNK_KEYS)
                    .iter()
                    .filter_map(|c| and(dialect.partition_predicate(&spec.column, c).as_deref(), base.as_deref()))
                    .collect::<Vec<_>>()
            } else {
                Vec::new()
            };
            ScanPartition::Query {
                predicate: and(dialect.partition_predicate(&spec.column, range).as_deref(), base.as_deref()),
                chunks: if chunks.len() > 1 { chunks } else { Vec::new() },
            }
        })
        .collect();
    let snapshot = snapshot.filter(|_| partitions.len() > 1);
    Ok(SourceShape { schema, bounds, partitions, snapshot, watermark, notes, rows })
}

/// The database's own count of `table`'s rows (`DatabaseSource::row_estimate_sql`); `None` when
/// it has none or the query fails (progress then counts without a total).
async fn estimate_rows(
    source: &SourcePlan,
    db: &'static dyn DatabaseSource,
    table: &crate::plan::TableName,
) -> Option<RowCount> {
    row_count(first_number(source, db, &db.row_estimate_sql(table, source.only)?).await)
}

/// The first column of the first row of a small query's result, as a number; `None` when it is
/// NULL, not a number, or the query fails.
pub(crate) async fn first_number(source: &SourcePlan, db: &'static dyn DatabaseSource, sql: &str) -> Option<i64> {
    let batches = db.fetch_small(source, sql).await.ok()?;
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let column = arrow::compute::cast(batch.column(0), &DataType::Int64).ok()?;
    let column = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&column);
    (!arrow::array::Array::is_null(column, 0)).then(|| column.value(0))
}

/// What describing table source `source` on its own asks its server, gathered in the shape of
/// a table set's catalog read ([`catalog::TableRead`]), for both ways of reading it (`ONLY` or
/// with its inheritance children): the schema probe and its notes, the row estimate, the
/// primary key and the row width, each by its own statements. A table set's catalog read must
/// answer the same (`tests/it/many_tables.rs` holds it to that). `Err` when the probe fails or
/// the source is not a database table.
pub async fn table_read(source: &SourcePlan) -> Result<catalog::TableRead> {
    let Relation::Table { name } = &source.relation else {
        return Err(DataFusionError::Plan(format!("source `{}` is not a table", source.name)));
    };
    let Some(db) = registry::backend(source.endpoint.backend).source else {
        return Err(DataFusionError::Plan(format!("source `{}` is not a database", source.name)));
    };
    let dialect = source.endpoint.backend.info().dialect;
    let mut schema = None;
    let mut ways = Vec::new();
    for only in [false, true] {
        let read = SourcePlan { only, ..source.clone() };
        let probe = dialect.select_rows(&read.relation, only, None, None);
        let (probed, notes) = db.probe(&read, &probe).await?;
        schema.get_or_insert(probed);
        let rows = match db.row_estimate_sql(name, only) {
            Some(sql) => first_number(&read, db, &sql).await,
            None => None,
        };
        let width = match db.row_width_sql(name, only) {
            Some(sql) => first_number(&read, db, &sql).await,
            None => None,
        };
        ways.push(catalog::ReadAs { notes, rows, width });
    }
    let only = ways.pop().unwrap_or_default();
    let whole = ways.pop().unwrap_or_default();
    Ok(catalog::TableRead { schema, whole, only, primary_key: primary_key_facts(source, name).await })
}

/// The estimate as a [`RowCount`]: `None` when unknown or negative.
fn row_count(estimate: Option<i64>) -> Option<RowCount> {
    Some(RowCount { rows: u64::try_from(estimate?).ok()?, exact: false })
}

/// `a AND b`, either side optional.
fn and(a: Option<&str>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a} AND {b}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_string()),
        (None, None) => None,
    }
}

/// This run's range of an incremental source: from `since` up to the column's maximum now.
async fn read_watermark<F, Fut>(
    source: &SourcePlan,
    schema: &SchemaRef,
    probe: &str,
    spec: &crate::plan::IncrementalSpec,
    since: &Since,
    fetch: F,
) -> Result<Watermark>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<arrow::record_batch::RecordBatch>>>,
{
    // A missing column is reported by the column check, with its span; read everything meanwhile.
    let Ok(field) = schema.field_with_name(&spec.column) else {
        return Ok(Watermark::new(&spec.column, &Since::FirstRun, None));
    };
    if !bounds::is_partitionable(field.data_type()) {
        return Err(DataFusionError::Plan(format!(
            "source `{}` cannot be read incrementally by `{}` of type {}: use a growing integer, date or \
             timestamp column",
            source.name,
            spec.column,
            field.data_type()
        )));
    }
    let dialect = source.endpoint.backend.info().dialect;
    let col = dialect.ident(&spec.column);
    let sql = format!("SELECT MAX({col}) AS lo, MAX({col}) AS hi FROM ({probe}) AS {}", dialect.ident("_flow_w"));
    let found = bounds::from_batches(&fetch(sql).await?, field.data_type())?.map(|b| b.max);
    Ok(Watermark::new(&spec.column, since, found))
}

/// Tables at least this large (the database's own row estimate) are partitioned automatically;
/// `FLOW_AUTO_PARTITION_ROWS` sets another threshold.
pub const AUTO_PARTITION_ROWS: i64 = 1_000_000;

fn auto_partition_rows() -> f64 {
    std::env::var("FLOW_AUTO_PARTITION_ROWS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(AUTO_PARTITION_ROWS as f64)
}

/// For a database table read without `partition by`: when it is large (at least
/// [`AUTO_PARTITION_ROWS`] by the database's estimate) and has a single-column integer primary
/// key, partition it by that key into `parallelism` ranges. `None` otherwise, or when the
/// catalog cannot be read (describing the source reports that). `known`: the key as a table
/// set's catalog read found it (`catalog::TableRead::primary_key`), asked of no server again.
pub async fn auto_partition(
    source: &SourcePlan,
    parallelism: usize,
    known: Option<&catalog::TableRead>,
) -> Option<PartitionSpec> {
    let Relation::Table { name } = &source.relation else { return None };
    if source.partition.is_some() || parallelism < 2 {
        return None;
    }
    let facts = match known {
        Some(known) => known.primary_key.clone()?,
        None => primary_key_facts(source, name).await?,
    };
    let integer = ["int", "bigint", "integer", "smallint", "mediumint", "tinyint"]
        .iter()
        .any(|t| facts.type_name.to_ascii_lowercase().starts_with(t));
    (facts.columns == 1 && integer && facts.rows? >= auto_partition_rows()).then_some(PartitionSpec {
        column: facts.column,
        count: parallelism,
        automatic: true,
    })
}

/// The table's primary key, by the backend's `auto_partition_sql` (one query).
async fn primary_key_facts(source: &SourcePlan, name: &crate::plan::TableName) -> Option<catalog::PrimaryKeyFacts> {
    let db = registry::backend(source.endpoint.backend).source?;
    let sql = db.auto_partition_sql(name)?;
    let batches = db.fetch_small(source, &sql).await.ok()?;
    let batch = batches.iter().find(|b| b.num_rows() > 0)?;
    let text = |i: usize| -> Option<String> {
        let column = arrow::compute::cast(batch.column(i), &DataType::Utf8).ok()?;
        let column = arrow::array::AsArray::as_string::<i32>(&column);
        (!arrow::array::Array::is_null(column, 0)).then(|| column.value(0).to_string())
    };
    Some(catalog::PrimaryKeyFacts {
        column: text(0)?,
        columns: text(1)?.parse().ok()?,
        rows: text(2).and_then(|r| r.parse().ok()),
        type_name: text(3)?,
    })
}

/// What the engine pushed into a source's queries: the columns it needs and a filter the
/// database can evaluate (see `exec::pushdown`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pushdown {
    pub columns: Option<Vec<String>>,
    pub filter: Option<String>,
}

/// Chunks for reading a whole table of a chunked backend (SQLite) in bounded pieces, by its
/// `rowid`. No rowid (a view, a `WITHOUT ROWID` table, a column named `rowid`): one query, and
/// the README says to partition such sources.
async fn unpartitioned_chunks(
    source: &SourcePlan,
    db: &dyn DatabaseSource,
    table: &crate::plan::TableName,
    schema: &SchemaRef,
) -> Result<Vec<String>> {
    let dialect = source.endpoint.backend.info().dialect;
    if schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case("rowid")) {
        return Ok(Vec::new());
    }
    let key = "rowid";
    let col = dialect.ident(key);
    let rowids = format!("SELECT {col} FROM {}", dialect.table(table));
    let bounds_sql = db.bounds_sql(&col, &rowids, &dialect.ident("_flow_b"));
    let Ok(batches) = db.fetch_small(source, &bounds_sql).await else { return Ok(Vec::new()) };
    let bounds = bounds::from_batches(&batches, &DataType::Int64)?;
    let chunks: Vec<String> = partition::chunk(&crate::plan::PartitionRange::whole(), bounds.as_ref(), CHUNK_KEYS)
        .iter()
        .filter_map(|c| dialect.partition_predicate(key, c))
        .collect();
    Ok(if chunks.len() > 1 { chunks } else { Vec::new() })
}

/// For a source read in more than one partition whose backend shares a snapshot per run (MySQL:
/// one connection per partition, all reading one snapshot, see
/// `mysql::session::consistent_connections`; `FLUSH TABLES WITH READ LOCK` is held for a moment):
/// takes it and keeps it in `shape` for `open_partition` to find. Returns the line for the run
/// report when the partitions read their own snapshots instead (the user may not take the
/// lock). Other sources: nothing to do (PostgreSQL's snapshot is taken by [`describe`]). Called
/// by a run only, never by `explain` or `check`.
///
/// `cluster`: the partitions are read by a cluster's executors, which cannot use connections
/// held by this process; nothing is taken, and the line says the partitions are read at
/// different moments.
pub async fn hold_snapshot(source: &SourcePlan, shape: &mut SourceShape, cluster: bool) -> Result<Option<String>> {
    let partitions = shape.partitions.len();
    let Some(db) = registry::backend(source.endpoint.backend).source else { return Ok(None) };
    if partitions < 2 {
        return Ok(None);
    }
    if cluster && db.run_snapshot_note().is_some() {
        return Ok(Some(format!("source `{}`: {}", source.name, cluster_snapshot_note(source))));
    }
    let Some((snapshot, note)) = db.hold_snapshot(source, partitions).await? else { return Ok(None) };
    shape.snapshot = Some(snapshot);
    Ok(note)
}

/// What a partitioned source of a backend whose run holds a snapshot in this process
/// ([`source::DatabaseSource::run_snapshot_note`], MySQL) gets on a cluster instead: the run
/// report's and `explain --engine`'s words.
pub fn cluster_snapshot_note(source: &SourcePlan) -> String {
    format!(
        "partitions are read at different moments: on a cluster each executor reads its partition on a connection \
         of its own, and {} snapshots cannot be shared between processes",
        source.endpoint.backend.name()
    )
}

/// The SQL a database partition sends: the relation, the projection, the partition range and
/// the pushed filter.
pub fn partition_sql(source: &SourcePlan, pushdown: &Pushdown, predicate: Option<&str>) -> String {
    let condition = match (predicate, pushdown.filter.as_deref()) {
        (Some(p), Some(f)) => Some(format!("{p} AND {f}")),
        (Some(p), None) => Some(p.to_string()),
        (None, Some(f)) => Some(f.to_string()),
        (None, None) => None,
    };
    source.endpoint.backend.info().dialect.select_rows(
        &source.relation,
        source.only,
        pushdown.columns.as_deref(),
        condition.as_deref(),
    )
}

/// A small query's whole result (bounds, counts), on a database source's own session.
pub async fn fetch_small(source: &SourcePlan, sql: &str) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    match registry::backend(source.endpoint.backend).source {
        Some(db) => db.fetch_small(source, sql).await,
        None => Err(DataFusionError::Internal(format!("{} is not a database", source.endpoint.backend.name()))),
    }
}

/// Opens partition number `index` of a source; `snapshot` is the id of
/// [`SourceShape::snapshot`], if any.
pub fn open_partition(
    source: &SourcePlan,
    schema: SchemaRef,
    index: usize,
    partition: &ScanPartition,
    pushdown: &Pushdown,
    snapshot: Option<&str>,
) -> Result<SendableRecordBatchStream> {
    let batch = source.batch_size;
    match partition {
        ScanPartition::Rows { start, end } => {
            let Relation::Generated { seed, .. } = source.relation else {
                return Err(DataFusionError::Internal("row range on a non-generated source".into()));
            };
            let rate = source.endpoint.option("rate").and_then(|r| r.parse().ok());
            Ok(generate::stream_rows(seed, *start, *end, batch, rate))
        }
        ScanPartition::File { path } => Ok(file::stream_file(&source.endpoint, path.into(), schema, batch)),
        ScanPartition::Query { predicate, chunks } => {
            let Some(db) = registry::backend(source.endpoint.backend).source else {
                return Err(DataFusionError::Internal(format!(
                    "a query partition on {}, which is not a database",
                    source.endpoint.backend.name()
                )));
            };
            let queries = if chunks.is_empty() || !db.chunked() {
                vec![partition_sql(source, pushdown, predicate.as_deref())]
            } else {
                chunks.iter().map(|c| partition_sql(source, pushdown, Some(c))).collect()
            };
            db.open_partition(PartitionRead { source, schema, index, queries, batch_size: batch, snapshot })
        }
    }
}

/// True for the types a source may be partitioned by.
pub fn is_partitionable(dt: &DataType) -> bool {
    bounds::is_partitionable(dt)
}
