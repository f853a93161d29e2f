//! The encoder: errors naming column and row, setup errors, an untouched buffer after a failed
//! batch, and conversions from strings, integers, floats and dictionaries.

use arrow::array::{DictionaryArray, FixedSizeBinaryArray, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Int32Type};

use super::*;
use crate::connect::postgres::copy::encode::parse_uuid;

fn encode_error(array: ArrayRef, name: &str, ty: Type) -> String {
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new(name, array.data_type().clone(), true)])),
        vec![array],
    )
    .expect("valid batch");
    encode(&[batch], &[ty]).expect_err("must fail").to_string()
}

#[test]
fn encoder_errors_name_column_and_row() {
    let err = encode_error(Arc::new(Int64Array::from(vec![1, 40_000])), "qty", Type::INT2);
    assert!(err.contains("\"qty\"") && err.contains("row 2"), "{err}");
    assert!(err.contains("40000 is out of range for type smallint"), "{err}");

    let err = encode_error(Arc::new(StringArray::from(vec![Some("ok"), None, Some("a\0b")])), "note", Type::TEXT);
    assert!(err.contains("\"note\"") && err.contains("row 3"), "{err}");
    assert!(err.contains("NUL"), "{err}");

    let err = encode_error(Arc::new(StringArray::from(vec!["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"])), "id", Type::UUID);
    assert!(err.contains("\"id\"") && err.contains("invalid uuid"), "{err}");
    for bad in [
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
        "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
        "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
        "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
        "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11a",
        "",
    ] {
        assert!(parse_uuid(bad).is_err(), "{bad:?}");
    }

    let err = encode_error(Arc::new(UInt32Array::from(vec![u32::MAX])), "big", Type::INT4);
    assert!(err.contains("4294967295 is out of range"), "{err}");
    let err = encode_error(Arc::new(Int32Array::from(vec![-1])), "o", Type::OID);
    assert!(err.contains("out of range for type oid"), "{err}");
    let err = encode_error(Arc::new(Float64Array::from(vec![1e300])), "r", Type::FLOAT4);
    assert!(err.contains("overflow"), "{err}");
    let err = encode_error(Arc::new(Int64Array::from(vec![i64::MAX])), "r", Type::FLOAT8);
    assert!(err.contains("exactly"), "{err}");
    let err = encode_error(Arc::new(StringArray::from(vec!["12x"])), "amount", Type::NUMERIC);
    assert!(err.contains("invalid numeric \"12x\""), "{err}");
    let err =
        encode_error(Arc::new(arrow::array::TimestampSecondArray::from(vec![i64::MAX / 1_000])), "at", Type::TIMESTAMP);
    assert!(err.contains("outside PostgreSQL's timestamp range"), "{err}");
    let err = encode_error(Arc::new(BinaryArray::from(vec![&b"short"[..]])), "id", Type::UUID);
    assert!(err.contains("16 bytes"), "{err}");
    let long = "x".repeat(1000);
    let err = encode_error(Arc::new(StringArray::from(vec![long.as_str()])), "n", Type::INT4);
    assert!(err.len() < 300, "error messages stay short: {err}");
}

#[test]
fn encoder_setup_errors() {
    let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, true)]));
    let err = CopyEncoder::new(&schema, &[Type::INT4]).err().expect("mismatch").to_string();
    assert!(err.contains("\"b\"") && err.contains("int4"), "{err}");
    assert!(CopyEncoder::new(&schema, &[]).is_err());
    let err = CopyEncoder::new(&schema, &[Type::INTERVAL]).err().expect("unsupported").to_string();
    assert!(err.contains("interval"), "{err}");
    let list = Arc::new(Schema::new(vec![Field::new(
        "l",
        DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
        true,
    )]));
    assert!(CopyEncoder::new(&list, &[Type::TEXT]).is_err());
    // A batch that does not match the planned schema.
    let mut encoder = CopyEncoder::new(&schema, &[Type::BYTEA]).expect("plans");
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("b", DataType::Utf8, true)])),
        vec![Arc::new(StringArray::from(vec!["x"]))],
    )
    .expect("valid batch");
    let mut out = BytesMut::new();
    assert!(encoder.encode_batch(&other, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn failed_batch_leaves_output_untouched() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
    let mut encoder = CopyEncoder::new(&schema, &[Type::INT2]).expect("plans");
    let mut out = BytesMut::new();
    encoder.write_header(&mut out);
    let before = out.clone();
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(vec![1, 2, 1 << 40]))])
        .expect("valid batch");
    assert!(encoder.encode_batch(&batch, &mut out).is_err());
    assert_eq!(out, before);
}

/// Strings, ints, floats and dictionaries converted into other PostgreSQL
/// types on the way in.
#[test]
fn conversions_on_encode() {
    let dict: DictionaryArray<Int32Type> = vec![Some("b"), Some("a"), None, Some("b")].into_iter().collect();
    let cases = vec![
        Case {
            name: "s_num",
            ty: Type::NUMERIC,
            typmod: numeric_typmod(12, 3),
            input: Arc::new(StringArray::from(vec![Some("1.5"), Some("-0.001"), None, Some("1e3")])),
            expected: dec128(&[Some(1_500), Some(-1), None, Some(1_000_000)], 12, 3),
        },
        Case {
            name: "i_num",
            ty: Type::NUMERIC,
            typmod: numeric_typmod(20, 0),
            input: Arc::new(arrow::array::UInt64Array::from(vec![Some(u64::MAX), Some(0), None, Some(1)])),
            expected: dec128(&[Some(u64::MAX.into()), Some(0), None, Some(1)], 20, 0),
        },
        Case {
            name: "f_num",
            ty: Type::NUMERIC,
            typmod: -1,
            input: Arc::new(Float64Array::from(vec![Some(0.1), Some(-123.456), None, Some(1e-10)])),
            // Shortest round-trip decimal of each float, read back as exact text.
            expected: Arc::new(StringArray::from(vec![Some("0.1"), Some("-123.456"), None, Some("0.0000000001")])),
        },
        Case {
            name: "s_int",
            ty: Type::INT4,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![Some(" 42 "), Some("-2147483648"), None, Some("0")])),
            expected: Arc::new(Int32Array::from(vec![Some(42), Some(i32::MIN), None, Some(0)])),
        },
        Case {
            name: "s_float",
            ty: Type::FLOAT8,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![Some("0.1"), Some("-inf"), None, Some("1e308")])),
            expected: Arc::new(Float64Array::from(vec![Some(0.1), Some(f64::NEG_INFINITY), None, Some(1e308)])),
        },
        Case {
            name: "i_float4",
            ty: Type::FLOAT4,
            typmod: -1,
            input: Arc::new(Int32Array::from(vec![Some(1 << 24), Some(-3), None, Some(0)])),
            expected: Arc::new(Float32Array::from(vec![Some(16_777_216.0), Some(-3.0), None, Some(0.0)])),
        },
        Case {
            name: "s_bool",
            ty: Type::BOOL,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![Some("true"), Some("F"), None, Some("yes")])),
            expected: Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
        },
        Case {
            name: "s_date",
            ty: Type::DATE,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![
                Some("1969-07-20"),
                Some("2100-12-31"),
                None,
                Some(" 0001-01-01 "),
            ])),
            expected: Arc::new(Date32Array::from(vec![
                Some(days(1969, 7, 20)),
                Some(days(2100, 12, 31)),
                None,
                Some(days(1, 1, 1)),
            ])),
        },
        Case {
            name: "s_time",
            ty: Type::TIME,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![Some("12:34:56.789012"), Some("00:00"), None, Some("23:59:59")])),
            expected: Arc::new(Time64MicrosecondArray::from(vec![
                Some(45_296_789_012),
                Some(0),
                None,
                Some(86_399_000_000),
            ])),
        },
        Case {
            name: "s_ts",
            ty: Type::TIMESTAMP,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![
                Some("2024-02-29 12:34:56.789012"),
                Some("1900-01-01T00:00:00"),
                None,
                Some("2000-01-01"),
            ])),
            expected: Arc::new(TimestampMicrosecondArray::from(vec![
                Some(micros(2024, 2, 29, 12, 34, 56, 789_012)),
                Some(micros(1900, 1, 1, 0, 0, 0, 0)),
                None,
                Some(micros(2000, 1, 1, 0, 0, 0, 0)),
            ])),
        },
        Case {
            name: "s_tstz",
            ty: Type::TIMESTAMPTZ,
            typmod: -1,
            input: Arc::new(StringArray::from(vec![
                Some("2024-02-29T12:34:56.5+02:00"),
                Some("2024-02-29 12:34:56-05:30"),
                None,
                Some("2024-02-29 12:34:56"),
            ])),
            expected: Arc::new(
                TimestampMicrosecondArray::from(vec![
                    Some(micros(2024, 2, 29, 10, 34, 56, 500_000)),
                    Some(micros(2024, 2, 29, 18, 4, 56, 0)),
                    None,
                    Some(micros(2024, 2, 29, 12, 34, 56, 0)),
                ])
                .with_timezone("UTC"),
            ),
        },
        Case {
            name: "ns_tstz",
            ty: Type::TIMESTAMPTZ,
            typmod: -1,
            // Sub-microsecond digits are dropped (floor), also before 1970.
            input: Arc::new(
                TimestampNanosecondArray::from(vec![
                    Some(1_999),
                    Some(-1),
                    None,
                    Some(micros(2262, 1, 1, 0, 0, 0, 0) * 1_000 + 999),
                ])
                .with_timezone("Europe/Paris"),
            ),
            expected: Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1), Some(-1), None, Some(micros(2262, 1, 1, 0, 0, 0, 0))])
                    .with_timezone("UTC"),
            ),
        },
        Case {
            name: "date_ts",
            ty: Type::TIMESTAMP,
            typmod: -1,
            input: Arc::new(Date32Array::from(vec![Some(days(1969, 7, 20)), Some(0), None, Some(days(2100, 1, 1))])),
            expected: Arc::new(TimestampMicrosecondArray::from(vec![
                Some(micros(1969, 7, 20, 0, 0, 0, 0)),
                Some(0),
                None,
                Some(micros(2100, 1, 1, 0, 0, 0, 0)),
            ])),
        },
        Case {
            name: "int_text",
            ty: Type::TEXT,
            typmod: -1,
            input: Arc::new(Int64Array::from(vec![Some(-5), Some(0), None, Some(i64::MAX)])),
            expected: Arc::new(StringArray::from(vec![Some("-5"), Some("0"), None, Some("9223372036854775807")])),
        },
        Case {
            name: "dict",
            ty: Type::TEXT,
            typmod: -1,
            input: Arc::new(dict),
            expected: Arc::new(StringArray::from(vec![Some("b"), Some("a"), None, Some("b")])),
        },
        Case {
            name: "fsb_uuid",
            ty: Type::UUID,
            typmod: -1,
            input: Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vec![Some([0xa0u8; 16]), Some([0u8; 16]), None, Some([0xffu8; 16])].into_iter(),
                    16,
                )
                .expect("valid fixed size binary"),
            ),
            expected: Arc::new(StringArray::from(vec![
                Some("a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0"),
                Some("00000000-0000-0000-0000-000000000000"),
                None,
                Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            ])),
        },
        Case {
            name: "nulls",
            ty: Type::INT4,
            typmod: -1,
            input: Arc::new(arrow::array::NullArray::new(4)),
            expected: Arc::new(Int32Array::from(vec![None, None, None, None])),
        },
    ];
    round_trip(&cases);
}
