//! Two writers of the same partition of the same run — on a cluster, a task Ballista re-ran
//! elsewhere while its first attempt was still writing — write it once: the second waits for the
//! first's lock, finds its ledger row in its own transaction and writes nothing (issue 16).

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Int64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use flow::connect::mysql::sink::MysqlBackend;
use flow::connect::postgres::sink::PostgresBackend;
use flow::connect::rejects::RejectPolicy;
use flow::connect::sink::BlockingSink;
use flow::connect::staged::{StagedBackend, StagedSink, StagedTarget};
use flow::ledger::{Event, LedgerKey, Preparation};
use flow::plan::{OnError, TableName, WriteMode};

use crate::common::{mariadb_available, my_exec, my_rows, pg_exec, pg_rows, postgres_available, runtime};

fn batch(ids: std::ops::Range<i64>) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids.collect::<Vec<_>>())) as ArrayRef]).unwrap()
}

/// Prepares the sink, then writes partition 0 from two sinks at once (as two executors would):
/// the first slowly, holding its transaction open; the second starting 300 ms later. Returns what
/// each returned.
fn race<B: StagedBackend + Send + Sync + 'static>(make: impl Fn() -> StagedSink<B>) -> (u64, u64) {
    let (first, second) = (Arc::new(make()), Arc::new(make()));
    let key = first.target.key.clone();
    let prep = Preparation {
        start: key.row(Event::Start, -1, "{}", 1, ""),
        resume_rows: None,
        abandon: Vec::new(),
        last_published: None,
    };
    let rt = runtime();
    rt.block_on(async move {
        let setup = first.clone();
        tokio::task::spawn_blocking(move || setup.prepare(&prep).expect("prepare")).await.unwrap();
        let slow = tokio::task::spawn_blocking(move || {
            let mut batches = vec![batch(0..3), batch(3..5)].into_iter();
            let mut n = 0;
            first
                .write_partition(
                    0,
                    "all",
                    &mut || {
                        n += 1;
                        if n == 2 {
                            std::thread::sleep(Duration::from_millis(1500));
                        }
                        Ok(batches.next())
                    },
                    &|_| {},
                )
                .expect("the first writer")
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let late = tokio::task::spawn_blocking(move || {
            let mut batches = vec![batch(0..3), batch(3..5)].into_iter();
            second.write_partition(0, "all", &mut || Ok(batches.next()), &|_| {}).expect("the second writer")
        });
        (slow.await.unwrap(), late.await.unwrap())
    })
}

fn target(table: &str, run: &str) -> StagedTarget {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let key = LedgerKey { run_id: run.into(), pipeline: "lock".into(), sink: "s".into() };
    StagedTarget::new(
        TableName::parse(table),
        WriteMode::Append,
        true,
        schema,
        key,
        RejectPolicy::new("s", OnError::Fail, None),
        None,
    )
}

#[test]
fn postgres_writes_a_partition_once_when_two_writers_race() {
    if !postgres_available() {
        return;
    }
    let (table, run) = (format!("public.lock_pg_{}", std::process::id()), format!("run{}", std::process::id()));
    let url = "postgres://postgres@127.0.0.1:5432/flow_test";
    let written = race(|| StagedSink::new(PostgresBackend::new(url), target(&table, &run)));
    assert_eq!(written, (5, 5), "the second writer returns what the first recorded");
    let staging = target(&table, &run).staging;
    let staged = pg_rows(&format!("SELECT count(*)::text FROM {}", flow::plan::sql::Dialect::Postgres.table(&staging)));
    assert_eq!(staged, vec![vec!["5".to_string()]], "rows staged once");
    let ledger = pg_rows(&format!(
        "SELECT part::text, row_count::text FROM public._flow_ledger WHERE run_id = '{run}' AND event = 'partition'"
    ));
    assert_eq!(ledger, vec![vec!["0".to_string(), "5".to_string()]], "one ledger row");
    pg_exec(&format!(
        "DROP TABLE {}; DELETE FROM public._flow_ledger WHERE run_id = '{run}'",
        flow::plan::sql::Dialect::Postgres.table(&staging)
    ));
}

#[test]
fn mysql_writes_a_partition_once_when_two_writers_race() {
    if !mariadb_available() {
        return;
    }
    let (table, run) = (format!("lock_my_{}", std::process::id()), format!("run{}", std::process::id()));
    let url = "mysql://root@127.0.0.1:3306/flow_test";
    let written = race(|| StagedSink::new(MysqlBackend::new(url), target(&table, &run)));
    assert_eq!(written, (5, 5), "the second writer returns what the first recorded");
    let staging = target(&table, &run).staging;
    let staged = my_rows(&format!("SELECT count(*) FROM {}", flow::plan::sql::Dialect::Mysql.table(&staging)));
    assert_eq!(staged, vec![vec!["5".to_string()]], "rows staged once");
    let ledger =
        my_rows(&format!("SELECT part, row_count FROM _flow_ledger WHERE run_id = '{run}' AND event = 'partition'"));
    assert_eq!(ledger, vec![vec!["0".to_string(), "5".to_string()]], "one ledger row");
    my_exec(&format!(
        "DROP TABLE {}; DELETE FROM _flow_ledger WHERE run_id = '{run}'",
        flow::plan::sql::Dialect::Mysql.table(&staging)
    ));
}
