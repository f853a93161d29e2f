//! Micro-benchmarks of the hot paths a profile of the end-to-end runs shows: Arrow → PostgreSQL
//! binary COPY encoding and back, SQLite reads (Flow's own reader), the SQLite insert loop, and
//! DataFusion evaluating the demo's filter and derived columns. `cargo bench --bench micro`.

use flow::connect::sink::BlockingSink;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flow::connect::generate::{generate_batch, orders_schema};
use flow::connect::postgres::copy::{CopyDecoder, CopyEncoder};
use tokio_postgres::types::Type;

const ROWS: u64 = 65_536;

fn orders() -> RecordBatch {
    generate_batch(42, 0, ROWS).expect("generated batch")
}

/// The PostgreSQL types Flow creates for the generated `orders` columns.
fn orders_pg_types() -> Vec<Type> {
    vec![
        Type::INT8,
        Type::INT4,
        Type::TEXT,
        Type::NUMERIC,
        Type::TIMESTAMP,
        Type::BOOL,
        Type::TEXT,
        Type::FLOAT8,
        Type::DATE,
    ]
}

fn copy_binary(c: &mut Criterion) {
    let batch = orders();
    let schema = orders_schema();
    let mut group = c.benchmark_group("postgres_copy_binary");
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("encode 65536 orders", |b| {
        let mut encoder = CopyEncoder::new(&schema, &orders_pg_types()).expect("encoder");
        let mut buf = BytesMut::with_capacity(16 << 20);
        b.iter(|| {
            buf.clear();
            encoder.encode_batch(&batch, &mut buf).expect("encode");
        })
    });
    let mut encoded = BytesMut::new();
    let mut encoder = CopyEncoder::new(&schema, &orders_pg_types()).expect("encoder");
    encoder.write_header(&mut encoded);
    encoder.encode_batch(&batch, &mut encoded).expect("encode");
    CopyEncoder::write_trailer(&mut encoded);
    let encoded = encoded.freeze();
    group.bench_function("decode 65536 orders", |b| {
        b.iter_batched(
            || CopyDecoder::new(schema.clone(), orders_pg_types(), 8192).expect("decoder"),
            |mut decoder| {
                let mut rows = 0;
                for piece in encoded.chunks(64 << 10) {
                    rows += decoder.push(piece).expect("decode").iter().map(RecordBatch::num_rows).sum::<usize>();
                }
                rows + decoder.finish().expect("finish").map_or(0, |b| b.num_rows())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Flow's SQLite sink for the generated orders into `path`, prepared for run `run_id`.
fn sqlite_sink(path: &std::path::Path, run_id: &str) -> flow::connect::sqlite::sink::SqliteSink {
    let key = flow::ledger::LedgerKey { run_id: run_id.into(), pipeline: "p".into(), sink: "s".into() };
    let target = flow::connect::staged::StagedTarget::new(
        flow::plan::TableName::parse("orders"),
        flow::plan::WriteMode::Replace,
        true,
        orders_schema(),
        key.clone(),
        flow::connect::rejects::RejectPolicy::new("s", flow::plan::OnError::Fail, None),
        None,
    );
    let backend = flow::connect::sqlite::sink::SqliteBackend::new(&path.display().to_string());
    let sink = flow::connect::staged::StagedSink::new(backend, target);
    let start = key.row(flow::ledger::Event::Start, -1, "{}", 1, "");
    sink.prepare(&flow::ledger::Preparation { start, resume_rows: None, abandon: Vec::new(), last_published: None })
        .expect("prepare");
    sink
}

/// A SQLite file holding the generated orders, written by Flow's own SQLite sink.
fn sqlite_orders(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("orders.db");
    let sink = sqlite_sink(&path, "fixture");
    let mut once = Some(orders());
    sink.write_partition(0, "all", &mut || Ok(once.take()), &|_| {}).expect("write");
    let key = flow::ledger::LedgerKey { run_id: "fixture".into(), pipeline: "p".into(), sink: "s".into() };
    sink.publish(&key.row(flow::ledger::Event::Publish, -1, "", ROWS, "")).expect("publish");
    path
}

fn sqlite_paths(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = sqlite_orders(dir.path());
    let mut group = c.benchmark_group("sqlite");
    group.throughput(Throughput::Elements(ROWS));
    group.sample_size(10);
    let url = path.display().to_string();
    group.bench_function("reader read 65536 orders", |b| {
        b.iter(|| flow::connect::sqlite::reader::fetch_all(&url, "SELECT * FROM orders").expect("read"))
    });
    let batch = orders();
    group.bench_function("sink insert loop 65536 orders", |b| {
        let mut n = 0;
        b.iter_batched(
            || {
                n += 1;
                sqlite_sink(&dir.path().join(format!("sink{n}.db")), &format!("r{n}"))
            },
            |sink| {
                let mut once = Some(batch.clone());
                sink.write_partition(0, "all", &mut || Ok(once.take()), &|_| {}).expect("write")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn expressions(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let batch = orders();
    let mut group = c.benchmark_group("datafusion");
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("demo filter + derive over 65536 orders", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let ctx = datafusion::prelude::SessionContext::new();
                let table = datafusion::datasource::MemTable::try_new(orders_schema(), vec![vec![batch.clone()]])
                    .expect("table");
                ctx.register_table("orders", Arc::new(table)).expect("register");
                let frame = ctx
                    .sql(
                        "SELECT *, CAST(total * 100 AS BIGINT) AS total_cents, CAST(created_at AS DATE) AS order_day \
                         FROM orders WHERE status != 'cancelled'",
                    )
                    .await
                    .expect("plan");
                frame.collect().await.expect("run")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, copy_binary, sqlite_paths, expressions);
criterion_main!(benches);
