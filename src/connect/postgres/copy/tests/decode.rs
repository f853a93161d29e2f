//! The decoder: errors naming column and row, malformed and truncated streams, chunk
//! boundaries anywhere, batch cutting, and a fuzz test that corrupt input never panics.

use arrow::datatypes::DataType;

use super::*;
use crate::connect::postgres::copy::SIGNATURE;
use crate::connect::postgres::copy::decode::FLAG_HAS_OIDS;
use crate::connect::postgres::copy::numeric::{NUMERIC_NAN, NUMERIC_POS};

fn row_stream(columns: &[Option<&[u8]>]) -> Vec<u8> {
    let mut v = SIGNATURE.to_vec();
    v.extend([0u8; 8]);
    v.extend((columns.len() as i16).to_be_bytes());
    for c in columns {
        match c {
            Some(data) => {
                v.extend((data.len() as i32).to_be_bytes());
                v.extend(*data);
            }
            None => v.extend((-1i32).to_be_bytes()),
        }
    }
    v.extend((-1i16).to_be_bytes());
    v
}

fn decode_error(stream: &[u8], name: &str, ty: Type, typmod: i32) -> String {
    let schema = Arc::new(Schema::new(vec![pg_field(name, &ty, typmod).expect("maps")]));
    decode(stream, schema, vec![ty]).expect_err("must fail").to_string()
}

#[test]
fn decoder_errors_name_column_and_row() {
    let lossy = numeric_bytes(-3, NUMERIC_POS, 13, &[1]);
    let mut stream = row_stream(&[Some(&numeric_bytes(0, 0, 0, &[1]))]);
    // Second row holds 0.000000000001.
    let trailer_at = stream.len() - 2;
    let mut second = 1i16.to_be_bytes().to_vec();
    second.extend((lossy.len() as i32).to_be_bytes());
    second.extend(&lossy);
    stream.splice(trailer_at..trailer_at, second);
    let err = decode_error(&stream, "amount", Type::NUMERIC, numeric_typmod(38, 10));
    assert!(err.contains("\"amount\"") && err.contains("row 2"), "{err}");
    assert!(err.contains("0.0000000000010"), "{err}");

    let nan = row_stream(&[Some(&numeric_bytes(0, NUMERIC_NAN, 0, &[]))]);
    let err = decode_error(&nan, "price", Type::NUMERIC, numeric_typmod(10, 2));
    assert!(err.contains("\"price\"") && err.contains("NaN"), "{err}");

    let infinite_date = row_stream(&[Some(&i32::MAX.to_be_bytes())]);
    let err = decode_error(&infinite_date, "born", Type::DATE, -1);
    assert!(err.contains("\"born\"") && err.contains("infinity"), "{err}");

    let infinite_ts = row_stream(&[Some(&i64::MIN.to_be_bytes())]);
    let err = decode_error(&infinite_ts, "at", Type::TIMESTAMPTZ, -1);
    assert!(err.contains("\"at\"") && err.contains("infinity"), "{err}");

    let bad_utf8 = row_stream(&[Some(b"\xff\xfe")]);
    let err = decode_error(&bad_utf8, "name", Type::TEXT, -1);
    assert!(err.contains("\"name\"") && err.contains("UTF-8"), "{err}");

    let short_int = row_stream(&[Some(&[0, 0, 1])]);
    let err = decode_error(&short_int, "n", Type::INT4, -1);
    assert!(err.contains("\"n\"") && err.contains("expected 4 bytes"), "{err}");

    let bad_jsonb = row_stream(&[Some(b"\x02{}")]);
    let err = decode_error(&bad_jsonb, "doc", Type::JSONB, -1);
    assert!(err.contains("\"doc\"") && err.contains("version 2"), "{err}");
}

#[test]
fn decoder_rejects_malformed_streams() {
    let good = row_stream(&[Some(&7i32.to_be_bytes())]);
    let schema = || Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, true)]));
    let run = |stream: &[u8]| decode(stream, schema(), vec![Type::INT4]);
    assert_eq!(run(&good).expect("decodes")[0].num_rows(), 1);

    let err = run(b"PGCOPY\nXXXXXXXXXXXXXXXXX").unwrap_err().to_string();
    assert!(err.contains("signature"), "{err}");
    let err = run(&good[..good.len() - 2]).unwrap_err().to_string();
    assert!(err.contains("end marker"), "{err}");
    let err = run(&good[..good.len() - 4]).unwrap_err().to_string();
    assert!(err.contains("inside a row"), "{err}");
    let err = run(&good[..10]).unwrap_err().to_string();
    assert!(err.contains("inside a header"), "{err}");
    let err = run(b"").unwrap_err().to_string();
    assert!(err.contains("before its header"), "{err}");
    let mut extra = good.clone();
    extra.push(0);
    let err = run(&extra).unwrap_err().to_string();
    assert!(err.contains("after the end marker"), "{err}");
    let mut two_fields = good.clone();
    two_fields[19..21].copy_from_slice(&2i16.to_be_bytes());
    let err = run(&two_fields).unwrap_err().to_string();
    assert!(err.contains("row 1 has 2 fields"), "{err}");
    let mut negative_len = good.clone();
    negative_len[21..25].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(run(&negative_len).is_err());
    let mut oids = good.clone();
    oids[11..15].copy_from_slice(&FLAG_HAS_OIDS.to_be_bytes());
    assert!(run(&oids).unwrap_err().to_string().contains("OIDs"));
    // A header extension is skipped, and non-critical flags are ignored.
    let mut extended = SIGNATURE.to_vec();
    extended.extend(1u32.to_be_bytes());
    extended.extend(3u32.to_be_bytes());
    extended.extend(b"xyz");
    extended.extend(&good[19..]);
    assert_eq!(run(&extended).expect("decodes")[0].num_rows(), 1);

    // After an error the decoder refuses to continue.
    let mut decoder = CopyDecoder::new(schema(), vec![Type::INT4], 10).expect("new");
    assert!(decoder.push(b"garbage garbage garbage").is_err());
    assert!(decoder.push(&good).is_err());
    assert!(decoder.finish().is_err());
}

#[test]
fn decoder_setup_errors() {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
    let err = CopyDecoder::new(Arc::clone(&schema), vec![Type::INT4], 10).err().expect("type mismatch").to_string();
    assert!(err.contains("\"n\"") && err.contains("int4"), "{err}");
    assert!(CopyDecoder::new(Arc::clone(&schema), vec![Type::TEXT], 0).is_err());
    assert!(CopyDecoder::new(Arc::clone(&schema), vec![], 10).is_err());
    let err = CopyDecoder::new(schema, vec![Type::POINT], 10).err().expect("unsupported").to_string();
    assert!(err.contains("point") && err.contains("::text"), "{err}");
}

/// Every way of cutting a small stream in two, and byte-by-byte delivery,
/// gives the same batches as one chunk.
#[test]
fn chunk_boundaries_anywhere() {
    let cases: Vec<Case> = all_types_cases().into_iter().filter(|c| !matches!(c.name, "txt" | "bin")).collect();
    let batch = input_batch(&cases);
    let stream = encode(&[batch.slice(0, 3)], &types(&cases)).expect("encodes");
    let schema = output_schema(&cases);
    let expected = decode_chunks([&stream[..]], Arc::clone(&schema), types(&cases), 2).expect("decodes");
    assert_eq!(expected.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [2, 1]);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        let got = decode_chunks([a, b], Arc::clone(&schema), types(&cases), 2)
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(got, expected, "cut at {cut}");
    }
    for (first, second) in [(5, 40), (19, 21), (30, 200)] {
        let (a, rest) = stream.split_at(first);
        let (b, c) = rest.split_at(second);
        let got = decode_chunks([a, b, c], Arc::clone(&schema), types(&cases), 2).expect("decodes");
        assert_eq!(got, expected);
    }
    let bytes = stream.chunks(1);
    let got = decode_chunks(bytes, Arc::clone(&schema), types(&cases), 2).expect("decodes");
    assert_eq!(got, expected);
    // Empty chunks are harmless.
    let got = decode_chunks([&b""[..], &stream[..7], &b""[..], &stream[7..], &b""[..]], schema, types(&cases), 2)
        .expect("decodes");
    assert_eq!(got, expected);
}

#[test]
fn batches_are_cut_at_batch_size() {
    let ints: Vec<Option<i64>> = (0..10).map(Some).collect();
    let cases = [Case::same("n", Type::INT8, -1, Arc::new(Int64Array::from(ints)))];
    let batch = input_batch(&cases);
    // Two input batches make one stream.
    let stream = encode(&[batch.clone(), batch], &types(&cases)).expect("encodes");
    let got = decode_chunks([&stream[..]], output_schema(&cases), types(&cases), 7).expect("decodes");
    assert_eq!(got.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [7, 7, 6]);
    // Zero rows: header and trailer only, no batch.
    let empty = input_batch(&cases).slice(0, 0);
    let stream = encode(&[empty], &types(&cases)).expect("encodes");
    let got = decode(&stream, output_schema(&cases), types(&cases)).expect("decodes");
    assert!(got.is_empty());
}

/// A batch is cut before a row that would overflow a string column's
/// i32 offsets (here with a tiny limit standing in for 2 GiB).
#[test]
fn batches_are_cut_before_offsets_overflow() {
    let text: Vec<Option<String>> = (0..6).map(|i| Some("x".repeat(40 * i))).collect();
    let cases = [
        Case::same("n", Type::INT4, -1, Arc::new(Int32Array::from(vec![1; 6]))),
        Case::same("s", Type::TEXT, -1, Arc::new(StringArray::from(text))),
    ];
    let stream = encode(&[input_batch(&cases)], &types(&cases)).expect("encodes");
    let mut decoder = CopyDecoder::new(output_schema(&cases), types(&cases), 100).expect("new");
    decoder.value_bytes_limit = 150;
    let mut batches = decoder.push(&stream).expect("decodes");
    batches.extend(decoder.finish().expect("finishes"));
    // Rows of 0, 40, 80, 120, 160 and 200 bytes (plus the 36-byte margin
    // per row) against a 150-byte limit: 0+40 | 80 | 120 | 160 | 200. A
    // row too large on its own still gets a batch of its own.
    let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
    assert_eq!(rows, [2, 1, 1, 1, 1]);
    let all = arrow::compute::concat_batches(&output_schema(&cases), &batches).expect("same schema");
    assert_eq!(all.column(1).as_ref(), cases[1].expected.as_ref());
}

/// Tiny deterministic PRNG so the fuzz test needs no extra dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Corrupted and truncated streams, cut into random chunks, must produce
/// errors or batches, never a panic.
#[test]
fn corrupt_streams_never_panic() {
    let cases = all_types_cases();
    let batch = input_batch(&cases).slice(0, 4);
    let stream = encode(&[batch], &types(&cases)).expect("encodes");
    let schema = output_schema(&cases);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3_000 {
        let mut corrupt = stream.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(corrupt.len());
            corrupt[at] = match rng.below(3) {
                0 => 0xff,
                1 => 0,
                _ => rng.next() as u8,
            };
        }
        corrupt.truncate(corrupt.len() - rng.below(corrupt.len() / 4));
        let mut chunks = Vec::new();
        let mut rest = &corrupt[..];
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(rng.below(rest.len() + 1).max(1));
            chunks.push(chunk);
            rest = tail;
        }
        let _ = decode_chunks(chunks, Arc::clone(&schema), types(&cases), 3);
    }
}

/// A stream of several rows, each a list of fields (`None`: NULL).
fn rows_stream(rows: &[&[Option<&[u8]>]]) -> Vec<u8> {
    let mut v = SIGNATURE.to_vec();
    v.extend([0u8; 8]);
    for row in rows {
        v.extend((row.len() as i16).to_be_bytes());
        for field in *row {
            match field {
                Some(data) => {
                    v.extend((data.len() as i32).to_be_bytes());
                    v.extend(*data);
                }
                None => v.extend((-1i32).to_be_bytes()),
            }
        }
    }
    v.extend((-1i16).to_be_bytes());
    v
}

fn text_date_schema(text_first: bool) -> (SchemaRef, Vec<Type>) {
    let text = pg_field("t", &Type::TEXT, -1).expect("maps");
    let date = pg_field("d", &Type::DATE, -1).expect("maps");
    if text_first {
        (Arc::new(Schema::new(vec![text, date])), vec![Type::TEXT, Type::DATE])
    } else {
        (Arc::new(Schema::new(vec![date, text])), vec![Type::DATE, Type::TEXT])
    }
}

/// Text is checked for UTF-8 when its batch is built, yet the error still names the bad
/// value's column and row, whatever the batch size and chunking.
#[test]
fn text_that_is_not_utf8_is_refused_with_its_row() {
    let day = 0i32.to_be_bytes();
    let stream = rows_stream(&[
        &[Some(b"ok"), Some(&day)],
        &[Some(b"ok too"), None],
        &[Some(b"bad \xff"), Some(&day)],
        &[Some(b"fine"), Some(&day)],
    ]);
    let (schema, types) = text_date_schema(true);
    for batch_size in [1, 2, 3, 10] {
        for chunk in [1, 7, stream.len()] {
            let err = decode_chunks(stream.chunks(chunk), Arc::clone(&schema), types.clone(), batch_size)
                .expect_err("bad UTF-8 is refused")
                .to_string();
            assert!(err.contains("\"t\"") && err.contains("row 3") && err.contains("UTF-8"), "{batch_size}: {err}");
        }
    }
    // jsonb text too, after its version byte.
    let stream = rows_stream(&[&[Some(b"\x01{}")], &[Some(b"\x01\"\xc3\x28\"")]]);
    let err = decode_error(&stream, "doc", Type::JSONB, -1);
    assert!(err.contains("\"doc\"") && err.contains("row 2") && err.contains("UTF-8"), "{err}");
}

/// Two values whose bytes are UTF-8 only together (a character split between them) are each
/// refused: the buffer of the whole batch is valid, the values are not.
#[test]
fn a_character_split_between_two_values_is_refused() {
    let stream = rows_stream(&[&[Some(b"caf\xc3")], &[Some(b"\xa9!")]]);
    let err = decode_error(&stream, "t", Type::TEXT, -1);
    assert!(err.contains("\"t\"") && err.contains("row 1") && err.contains("UTF-8"), "{err}");
}

/// The first refused value along the stream is the one reported, whether it is text checked
/// late or a value refused as it is read.
#[test]
fn the_first_refused_value_is_reported() {
    let day = 0i32.to_be_bytes();
    let infinity = i32::MAX.to_be_bytes();
    // Bad text in row 2, an infinite date in row 3 of the same batch.
    let stream =
        rows_stream(&[&[Some(b"a"), Some(&day)], &[Some(b"\xff"), Some(&day)], &[Some(b"c"), Some(&infinity)]]);
    let (schema, types) = text_date_schema(true);
    let err = decode_chunks([&stream[..]], schema, types, 10).expect_err("refused").to_string();
    assert!(err.contains("\"t\"") && err.contains("row 2") && err.contains("UTF-8"), "{err}");
    // Both in one row: the column read first is reported.
    let stream = rows_stream(&[&[Some(b"\xff"), Some(&infinity)]]);
    let (schema, types) = text_date_schema(true);
    let err = decode_chunks([&stream[..]], schema, types, 10).expect_err("refused").to_string();
    assert!(err.contains("\"t\"") && err.contains("UTF-8"), "{err}");
    let stream = rows_stream(&[&[Some(&infinity), Some(b"\xff")]]);
    let (schema, types) = text_date_schema(false);
    let err = decode_chunks([&stream[..]], schema, types, 10).expect_err("refused").to_string();
    assert!(err.contains("\"d\"") && err.contains("infinity"), "{err}");
}

/// Framing errors found while a row is read in one pass: a negative length other than -1 and
/// a wrong field count, in a whole chunk and in a row split across chunks.
#[test]
fn framing_errors_are_refused_in_one_pass_and_across_chunks() {
    let day = 0i32.to_be_bytes();
    let mut negative = rows_stream(&[&[Some(b"a"), Some(&day)], &[Some(b"b"), Some(&day)]]);
    // Row 2's date length: header 19, row 1 (2 + 4 + 1 + 4 + 4 = 15), count 2, text 4 + 1.
    let at = 19 + 15 + 2 + 5;
    negative[at..at + 4].copy_from_slice(&(-2i32).to_be_bytes());
    let mut fields = rows_stream(&[&[Some(b"a"), Some(&day)], &[Some(b"b"), Some(&day)]]);
    fields[19 + 15..19 + 15 + 2].copy_from_slice(&3i16.to_be_bytes());
    for chunk in [1, 5, negative.len()] {
        let (schema, types) = text_date_schema(true);
        let err = decode_chunks(negative.chunks(chunk), schema, types, 10).expect_err("refused").to_string();
        assert!(err.contains("row 2 has a field of negative length -2"), "{chunk}: {err}");
        let (schema, types) = text_date_schema(true);
        let err = decode_chunks(fields.chunks(chunk), schema, types, 10).expect_err("refused").to_string();
        assert!(err.contains("row 2 has 3 fields, expected 2"), "{chunk}: {err}");
    }
}

/// A row split across chunks is taken back and read again once complete: NULLs, text and
/// fixed-width values come out once each, in order.
#[test]
fn rows_split_across_chunks_are_read_once() {
    let rows: Vec<(Option<String>, Option<i32>)> =
        (0..40).map(|i| ((i % 3 != 0).then(|| "é".repeat(i)), (i % 4 != 1).then_some(i as i32))).collect();
    let days: Vec<Option<[u8; 4]>> = rows.iter().map(|(_, d)| d.map(i32::to_be_bytes)).collect();
    let fields: Vec<[Option<&[u8]>; 2]> = rows
        .iter()
        .zip(&days)
        .map(|((t, _), d)| [t.as_deref().map(str::as_bytes), d.as_ref().map(|d| &d[..])])
        .collect();
    let row_refs: Vec<&[Option<&[u8]>]> = fields.iter().map(|f| &f[..]).collect();
    let stream = rows_stream(&row_refs);
    let (schema, types) = text_date_schema(true);
    for chunk in [1, 3, 10, 64] {
        let batches = decode_chunks(stream.chunks(chunk), Arc::clone(&schema), types.clone(), 7).expect("decodes");
        let all = arrow::compute::concat_batches(&schema, &batches).expect("same schema");
        let text: Vec<Option<String>> = all
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8")
            .iter()
            .map(|t| t.map(str::to_string))
            .collect();
        let dates: Vec<Option<i32>> = all
            .column(1)
            .as_any()
            .downcast_ref::<Date32Array>()
            .expect("date32")
            .iter()
            .map(|d| d.map(|d| d - 10_957))
            .collect();
        assert_eq!(text, rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(), "chunks of {chunk}");
        assert_eq!(dates, rows.iter().map(|r| r.1).collect::<Vec<_>>(), "chunks of {chunk}");
    }
}
