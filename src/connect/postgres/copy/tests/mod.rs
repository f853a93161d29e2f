//! Unit tests of binary COPY without a server: round trips through [`CopyEncoder`] and
//! [`CopyDecoder`], exact wire bytes, and every error path. The shared fixtures (`Case`,
//! `all_types_cases`, encode/decode helpers) live here; the tests are grouped by direction in
//! `encode`, `decode` and `numeric`.

mod decode;
mod encode;
mod numeric;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, StringArray, Time64MicrosecondArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow::datatypes::{Field, Schema, SchemaRef, i256};
use arrow::record_batch::RecordBatch;
use bytes::BytesMut;
use chrono::{Datelike, NaiveDate};
use datafusion::error::Result;
use tokio_postgres::types::Type;

use super::temporal::{MICROS_PER_DAY, UNIX_EPOCH_DAYS_FROM_CE};
use super::{CopyDecoder, CopyEncoder};
use crate::connect::postgres::types::pg_field;

fn numeric_typmod(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + 4
}

fn days(y: i32, m: u32, d: u32) -> i32 {
    let date = NaiveDate::from_ymd_opt(y, m, d).expect("valid test date");
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE as i32
}

fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> i64 {
    NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_micro_opt(h, mi, s, us))
        .expect("valid test timestamp")
        .and_utc()
        .timestamp_micros()
}

fn dec128(values: &[Option<i128>], p: u8, s: i8) -> ArrayRef {
    Arc::new(Decimal128Array::from(values.to_vec()).with_precision_and_scale(p, s).expect("valid decimal type"))
}

fn dec256(values: &[Option<&str>], p: u8, s: i8) -> ArrayRef {
    let values: Vec<Option<i256>> =
        values.iter().map(|v| v.map(|v| i256::from_string(v).expect("valid i256"))).collect();
    Arc::new(Decimal256Array::from(values).with_precision_and_scale(p, s).expect("valid decimal type"))
}

/// One column of a round-trip test: what goes in, the PostgreSQL column
/// it is written to, and what must come back out.
struct Case {
    name: &'static str,
    ty: Type,
    typmod: i32,
    input: ArrayRef,
    expected: ArrayRef,
}

impl Case {
    fn same(name: &'static str, ty: Type, typmod: i32, array: ArrayRef) -> Case {
        Case { name, ty, typmod, input: Arc::clone(&array), expected: array }
    }
}

fn input_batch(cases: &[Case]) -> RecordBatch {
    let fields: Vec<Field> = cases.iter().map(|c| Field::new(c.name, c.input.data_type().clone(), true)).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cases.iter().map(|c| Arc::clone(&c.input)).collect())
        .expect("valid input batch")
}

fn output_schema(cases: &[Case]) -> SchemaRef {
    let fields: Vec<Field> = cases.iter().map(|c| pg_field(c.name, &c.ty, c.typmod).expect("mapped type")).collect();
    Arc::new(Schema::new(fields))
}

fn types(cases: &[Case]) -> Vec<Type> {
    cases.iter().map(|c| c.ty.clone()).collect()
}

fn encode(batches: &[RecordBatch], target_types: &[Type]) -> Result<Vec<u8>> {
    let schema = batches[0].schema();
    let mut encoder = CopyEncoder::new(&schema, target_types)?;
    let mut out = BytesMut::new();
    encoder.write_header(&mut out);
    for batch in batches {
        encoder.encode_batch(batch, &mut out)?;
    }
    CopyEncoder::write_trailer(&mut out);
    Ok(out.to_vec())
}

fn decode_chunks<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    schema: SchemaRef,
    pg_types: Vec<Type>,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let mut decoder = CopyDecoder::new(schema, pg_types, batch_size)?;
    let mut batches = Vec::new();
    for chunk in chunks {
        batches.extend(decoder.push(chunk)?);
    }
    batches.extend(decoder.finish()?);
    Ok(batches)
}

fn decode(stream: &[u8], schema: SchemaRef, pg_types: Vec<Type>) -> Result<Vec<RecordBatch>> {
    decode_chunks([stream], schema, pg_types, 1024)
}

/// Encodes the inputs, decodes the stream and checks every column.
fn round_trip(cases: &[Case]) {
    let batch = input_batch(cases);
    let stream = encode(std::slice::from_ref(&batch), &types(cases)).expect("encodes");
    let batches = decode(&stream, output_schema(cases), types(cases)).expect("decodes");
    assert_eq!(batches.len(), 1);
    let decoded = &batches[0];
    assert_eq!(decoded.num_rows(), batch.num_rows());
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(decoded.column(i).as_ref(), case.expected.as_ref(), "column {}", case.name);
    }
}

fn all_types_cases() -> Vec<Case> {
    let big_text = "ab€😀".repeat(10 * 1024 / 9 + 1);
    let ts_values = vec![
        Some(micros(1900, 1, 1, 0, 0, 0, 0)),
        Some(0),
        None,
        Some(micros(3000, 12, 31, 23, 59, 59, 999_999)),
        Some(-1),
        Some(micros(2024, 2, 29, 12, 34, 56, 789_012)),
    ];
    vec![
        Case::same(
            "i16",
            Type::INT2,
            -1,
            Arc::new(Int16Array::from(vec![Some(i16::MIN), Some(i16::MAX), Some(0), None, Some(-1), Some(1)])),
        ),
        Case::same(
            "i32",
            Type::INT4,
            -1,
            Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), Some(0), None, Some(-1), Some(1)])),
        ),
        Case::same(
            "i64",
            Type::INT8,
            -1,
            Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), Some(0), None, Some(-1), Some(1)])),
        ),
        Case {
            name: "i32_into_int8",
            ty: Type::INT8,
            typmod: -1,
            input: Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None, Some(0), Some(7), None])),
            expected: Arc::new(Int64Array::from(vec![
                Some(i32::MIN.into()),
                Some(i32::MAX.into()),
                None,
                Some(0),
                Some(7),
                None,
            ])),
        },
        Case {
            name: "oid",
            ty: Type::OID,
            typmod: -1,
            input: Arc::new(UInt32Array::from(vec![Some(0), Some(u32::MAX), None, Some(1), Some(2), Some(3)])),
            expected: Arc::new(Int64Array::from(vec![Some(0), Some(u32::MAX.into()), None, Some(1), Some(2), Some(3)])),
        },
        Case::same(
            "flag",
            Type::BOOL,
            -1,
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false), None])),
        ),
        Case::same(
            "f32",
            Type::FLOAT4,
            -1,
            Arc::new(Float32Array::from(vec![
                Some(f32::NAN),
                Some(f32::INFINITY),
                Some(f32::NEG_INFINITY),
                None,
                Some(f32::MIN_POSITIVE),
                Some(-0.0),
            ])),
        ),
        Case::same(
            "f64",
            Type::FLOAT8,
            -1,
            Arc::new(Float64Array::from(vec![
                Some(f64::NAN),
                Some(f64::INFINITY),
                Some(f64::NEG_INFINITY),
                None,
                Some(f64::MAX),
                Some(0.1),
            ])),
        ),
        // numeric(38,10): -123456789012.34, 0, 0.01, None, the
        // 26+10-digit value, 0.0001.
        Case::same(
            "n38_10",
            Type::NUMERIC,
            numeric_typmod(38, 10),
            dec128(
                &[
                    Some(-1_234_567_890_123_400_000_000),
                    Some(0),
                    Some(100_000_000),
                    None,
                    Some(999_999_999_999_999_999_999_999_999_999_999_999),
                    Some(1_000_000),
                ],
                38,
                10,
            ),
        ),
        // Unconstrained numeric decodes to its exact text: any number
        // of digits, the value's own scale, NaN and the infinities.
        Case {
            name: "n_any",
            ty: Type::NUMERIC,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![
                Some("123456789012345678901234567890.123456789"),
                Some("1e-30"),
                Some("-0.5"),
                None,
                Some("NaN"),
                Some("0"),
            ])),
            expected: Arc::new(StringArray::from(vec![
                Some("123456789012345678901234567890.123456789"),
                Some("0.000000000000000000000000000001"),
                Some("-0.5"),
                None,
                Some("NaN"),
                Some("0"),
            ])),
        },
        Case::same(
            "n14_2",
            Type::NUMERIC,
            numeric_typmod(14, 2),
            dec128(&[Some(-12_345_678_901_234), Some(0), Some(1), None, Some(99_999_999_999_999), Some(-1)], 14, 2),
        ),
        Case::same(
            "n5_neg2",
            Type::NUMERIC,
            numeric_typmod(5, -2),
            dec128(&[Some(12_345), Some(-99_999), Some(0), None, Some(1), Some(10)], 5, -2),
        ),
        Case::same(
            "n60_20",
            Type::NUMERIC,
            numeric_typmod(60, 20),
            dec256(
                &[
                    Some("-123456789012345678901234567890123456789012345678901234567890"),
                    Some("0"),
                    Some("1"),
                    None,
                    Some("999999999999999999999999999999999999999999999999999999999999"),
                    Some("100000000000000000000"),
                ],
                60,
                20,
            ),
        ),
        Case::same(
            "txt",
            Type::TEXT,
            -1,
            Arc::new(StringArray::from(vec![
                Some("héllo 😀🎉"),
                Some(big_text.as_str()),
                Some(""),
                None,
                Some("tab\t newline\n backslash\\ quote'\""),
                Some(" "),
            ])),
        ),
        Case::same(
            "vc",
            Type::VARCHAR,
            24,
            Arc::new(StringArray::from(vec![
                Some("abc"),
                Some(""),
                None,
                Some("ünïcödé"),
                Some("x"),
                Some("20 chars exactly...."),
            ])),
        ),
        Case::same(
            "bp",
            Type::BPCHAR,
            7,
            Arc::new(StringArray::from(vec![Some("abc"), Some("a  "), None, Some("   "), Some("xyz"), None])),
        ),
        Case::same(
            "js",
            Type::JSON,
            -1,
            Arc::new(StringArray::from(vec![
                Some(r#"{"a": [1, 2.5, null]}"#),
                Some("[]"),
                None,
                Some(r#""😀""#),
                Some("0"),
                Some("null"),
            ])),
        ),
        Case::same(
            "jsb",
            Type::JSONB,
            -1,
            Arc::new(StringArray::from(vec![
                Some(r#"{"a": [1, 2.5, null]}"#),
                Some("[]"),
                None,
                Some(r#""😀""#),
                Some("0"),
                Some("null"),
            ])),
        ),
        Case {
            name: "id",
            ty: Type::UUID,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![
                Some("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                Some("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
                None,
                Some("00000000-0000-0000-0000-000000000000"),
                Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                Some("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"),
            ])),
            expected: Arc::new(StringArray::from(vec![
                Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                None,
                Some("00000000-0000-0000-0000-000000000000"),
                Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            ])),
        },
        Case::same(
            "bin",
            Type::BYTEA,
            -1,
            Arc::new(BinaryArray::from(vec![
                Some(&b"\0\x01\x02\0"[..]),
                Some(&b""[..]),
                None,
                Some(&b"\xff\xfe\0"[..]),
                Some(&[0u8; 1000][..]),
                Some(&b"\0"[..]),
            ])),
        ),
        Case::same(
            "d",
            Type::DATE,
            -1,
            Arc::new(Date32Array::from(vec![
                Some(days(1, 1, 1)),
                Some(days(1969, 12, 31)),
                None,
                Some(days(2100, 3, 1)),
                Some(days(9999, 12, 31)),
                Some(days(2000, 1, 1)),
            ])),
        ),
        Case::same(
            "t",
            Type::TIME,
            -1,
            Arc::new(Time64MicrosecondArray::from(vec![
                Some(0),
                Some(MICROS_PER_DAY - 1),
                None,
                Some(45_296_789_012),
                Some(MICROS_PER_DAY),
                Some(1),
            ])),
        ),
        Case::same("ts", Type::TIMESTAMP, -1, Arc::new(TimestampMicrosecondArray::from(ts_values.clone()))),
        Case {
            name: "tstz",
            ty: Type::TIMESTAMPTZ,
            typmod: -1,
            // Another zone: still the same UTC instants.
            input: Arc::new(TimestampMicrosecondArray::from(ts_values.clone()).with_timezone("+02:00")),
            expected: Arc::new(TimestampMicrosecondArray::from(ts_values).with_timezone("UTC")),
        },
    ]
}

#[test]
fn round_trip_every_type() {
    round_trip(&all_types_cases());
}

/// Builds a numeric binary value from its parts.
fn numeric_bytes(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend((digits.len() as u16).to_be_bytes());
    v.extend(weight.to_be_bytes());
    v.extend(sign.to_be_bytes());
    v.extend(dscale.to_be_bytes());
    for d in digits {
        v.extend(d.to_be_bytes());
    }
    v
}
