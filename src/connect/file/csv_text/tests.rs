//! Unit tests of CSV text: inferred types, RFC 4180 fields, declared types.

use arrow::datatypes::DataType;

use super::{CsvOptions, Record, RecordReader, infer_schema, parse_types};

fn opts() -> CsvOptions {
    CsvOptions { header: true, delimiter: b',', null: String::new(), types: Vec::new(), infer_rows: Some(1000) }
}

fn types_of(csv: &str) -> Vec<String> {
    let schema = infer_schema(csv.as_bytes(), &opts(), "t.csv").expect("infers");
    schema.fields().iter().map(|f| f.data_type().to_string()).collect()
}

#[test]
fn a_column_is_typed_only_when_its_values_read_back_as_written() {
    assert_eq!(types_of("a\n01234\n0010\n"), ["Utf8"]);
    assert_eq!(types_of("a\n+0044\n+12\n"), ["Utf8"]);
    assert_eq!(types_of("a\n12\n-3\n0\n"), ["Int64"]);
    assert_eq!(types_of("a\n-0\n"), ["Utf8"]);
    assert_eq!(types_of("a\n1.50\n2\n"), ["Decimal128(38, 2)"]);
    assert_eq!(types_of("a\n1e3\n2.5E-4\n"), ["Float64"]);
    assert_eq!(types_of("a\n1e3\n0.1e-400\n"), ["Utf8"]);
    assert_eq!(types_of("a\n0x1F\n"), ["Utf8"]);
    assert_eq!(types_of("a\n\"1,234\"\n"), ["Utf8"]);
    assert_eq!(types_of("a\n123456789012345678901234567890\n"), ["Decimal128(38, 0)"]);
    assert_eq!(types_of("a\nTRUE\nfalse\n"), ["Boolean"]);
    assert_eq!(types_of("a\n2024-01-05\n"), ["Date32"]);
    assert_eq!(types_of("a\n2024-01-05 10:00:00\n2024-01-05T10:00:00.5\n"), ["Timestamp(µs)"]);
    assert_eq!(types_of("a\n2024-01-05T10:00:00Z\n2024-01-05 10:00:00+02:00\n"), ["Timestamp(µs, \"+00:00\")"]);
    assert_eq!(types_of("a\n1\n\"\"\n"), ["Utf8"]);
    assert_eq!(types_of("a\n1\n\n2\n"), ["Int64"]);
}

#[test]
fn fields_follow_rfc_4180_with_bom_and_crlf() {
    let text = "\u{feff}id,note\r\n1,\"a, \"\"b\"\"\r\nc\"\r\n2,\r\n3,\"\"\r\n";
    let mut reader = RecordReader::new(text.as_bytes(), b',');
    let mut r = Record::default();
    let mut seen = Vec::new();
    while reader.next_record(&mut r).unwrap() {
        let fields: Vec<(String, bool)> =
            (0..r.count()).map(|i| (String::from_utf8(r.field(i).to_vec()).unwrap(), r.quoted[i])).collect();
        seen.push((r.line, fields));
    }
    let f = |s: &str, q: bool| (s.to_string(), q);
    assert_eq!(
        seen,
        vec![
            (1, vec![f("id", false), f("note", false)]),
            (2, vec![f("1", false), f("a, \"b\"\r\nc", true)]),
            (4, vec![f("2", false), f("", false)]),
            (5, vec![f("3", false), f("", true)]),
        ]
    );
}

#[test]
fn declared_types_parse() {
    assert_eq!(
        parse_types("code text, amount decimal(12, 2), `order id` bigint").unwrap(),
        vec![
            ("code".to_string(), DataType::Utf8),
            ("amount".to_string(), DataType::Decimal128(12, 2)),
            ("order id".to_string(), DataType::Int64)
        ]
    );
    assert!(parse_types("code").is_err());
    assert!(parse_types("code money").is_err());
}
