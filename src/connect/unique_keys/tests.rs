use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::error::DataFusionError;

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("v", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, true),
    ]))
}

/// A batch of `(id, v, ts)` rows.
fn batch(rows: &[(i64, &str, Option<i64>)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            Arc::new(Int64Array::from(rows.iter().map(|r| r.2).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

fn stream(batches: Vec<RecordBatch>) -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(schema(), futures::stream::iter(batches.into_iter().map(Ok))))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// Everything a stream yields: its rows as `(id, v, ts)`, or its failure.
fn drain(s: SendableRecordBatchStream) -> Result<Vec<(i64, String, Option<i64>)>, Failure> {
    let batches: Vec<Result<RecordBatch>> = runtime().block_on(s.collect());
    let mut rows = Vec::new();
    for b in batches {
        let b = b.map_err(|e| Failure::find(&e).cloned().expect("a typed failure"))?;
        let (id, v, ts) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_string::<i32>(), b.column(2));
        for i in 0..b.num_rows() {
            let t = (!ts.is_null(i)).then(|| ts.as_primitive::<Int64Type>().value(i));
            rows.push((id.value(i), v.value(i).to_string(), t));
        }
    }
    Ok(rows)
}

fn keys() -> Vec<String> {
    vec!["id".to_string()]
}

#[test]
fn a_repeated_key_fails_naming_a_sample_of_the_keys() {
    let seen = Arc::default();
    let input = stream(vec![
        batch(&[(1, "a", Some(1)), (2, "b", Some(1)), (1, "c", Some(2))]),
        batch(&[(3, "d", Some(1)), (2, "e", Some(0)), (2, "f", Some(3))]),
    ]);
    let failure = drain(refuse_repeated(input, &keys(), false, seen).unwrap()).unwrap_err();
    assert_eq!(failure.code, codes::sink::DUPLICATE_KEYS);
    assert_eq!(
        failure.message,
        "`upsert on (id)` writes one row per key, and the input holds rows with the same key: id = 1; id = 2 (a \
         sample of up to 5)"
    );
    // Unique keys pass as they are.
    let rows = drain(
        refuse_repeated(stream(vec![batch(&[(1, "a", None), (2, "b", None)])]), &keys(), false, Arc::default())
            .unwrap(),
    );
    assert_eq!(rows.unwrap().len(), 2);
}

#[test]
fn keys_are_remembered_across_the_partitions_of_a_sink() {
    let seen: Arc<Mutex<KeySet>> = Arc::default();
    let first = refuse_repeated(stream(vec![batch(&[(1, "a", Some(1))])]), &keys(), true, seen.clone()).unwrap();
    assert_eq!(drain(first).unwrap().len(), 1);
    let second = refuse_repeated(stream(vec![batch(&[(1, "b", Some(2))])]), &keys(), true, seen).unwrap();
    assert_eq!(
        drain(second).unwrap_err().message,
        "`upsert on (id)` writes one row per key, and the input holds rows with the same key (each came in more \
         than one partition): id = 1 (a sample of up to 5)"
    );
}

#[test]
fn keep_last_keeps_the_largest_value_in_the_order_keys_first_came() {
    let input = stream(vec![
        batch(&[(1, "a", Some(1)), (2, "b", Some(5)), (1, "c", Some(2))]),
        batch(&[(3, "d", None), (2, "e", Some(0)), (1, "f", None), (3, "g", Some(-1))]),
    ]);
    let rows = drain(keep_last(input, &keys(), "ts").unwrap()).unwrap();
    assert_eq!(rows, [(1, "c".to_string(), Some(2)), (2, "b".to_string(), Some(5)), (3, "g".to_string(), Some(-1))]);
}

#[test]
fn keep_last_refuses_a_tie_unless_the_rows_are_equal() {
    // Equal rows tie harmlessly; a later, larger value ends a tie.
    let input = stream(vec![batch(&[
        (1, "a", Some(1)),
        (1, "a", Some(1)),
        (2, "x", Some(1)),
        (2, "y", Some(1)),
        (2, "z", Some(2)),
    ])]);
    let rows = drain(keep_last(input, &keys(), "ts").unwrap()).unwrap();
    assert_eq!(rows, [(1, "a".to_string(), Some(1)), (2, "z".to_string(), Some(2))]);

    let input =
        stream(vec![batch(&[(1, "a", Some(4)), (1, "b", Some(4)), (2, "c", None), (2, "d", None), (3, "e", Some(1))])]);
    let failure = drain(keep_last(input, &keys(), "ts").unwrap()).unwrap_err();
    assert_eq!(failure.code, codes::sink::KEEP_LAST_TIE);
    assert_eq!(failure.column.as_deref(), Some("ts"));
    assert_eq!(
        failure.message,
        "2 key(s) have rows that tie on the largest ts and differ in another column, so `keep last by ts` cannot \
         choose one: id = 1 (ts = 4); id = 2 (ts = NULL)"
    );
}

#[test]
fn keep_last_compacts_what_it_holds_and_keeps_the_same_rows() {
    // 300,000 rows of 7 keys: the held batches are compacted many times over.
    let batches: Vec<RecordBatch> = (0..30)
        .map(|b| {
            let rows: Vec<(i64, String, Option<i64>)> = (0..10_000)
                .map(|i| {
                    let n = b * 10_000 + i;
                    (n % 7, format!("r{n}"), Some(n))
                })
                .collect();
            let refs: Vec<(i64, &str, Option<i64>)> = rows.iter().map(|(a, b, c)| (*a, b.as_str(), *c)).collect();
            batch(&refs)
        })
        .collect();
    let rows = drain(keep_last(stream(batches), &keys(), "ts").unwrap()).unwrap();
    let expected: Vec<(i64, String, Option<i64>)> =
        (0..7).map(|k| (k, 299_999 - (299_999 - k) % 7)).map(|(k, n)| (k, format!("r{n}"), Some(n))).collect();
    assert_eq!(rows, expected);
}

#[test]
fn a_key_or_order_column_the_input_lacks_is_an_error_not_a_panic() {
    let e: DataFusionError = keep_last(stream(vec![]), &keys(), "nope").err().unwrap();
    assert!(e.to_string().contains("`keep last by nope`: `nope` is not a column of the sink's input"), "{e}");
    let e = refuse_repeated(stream(vec![]), &["nope".into()], false, Arc::default()).err().unwrap();
    assert!(e.to_string().contains("the upsert key `nope` is not a column of the sink's input"), "{e}");
}
