//! Binary COPY round trip against the real PostgreSQL at 127.0.0.1:5432 (user postgres, trust
//! auth, database `test`): the encoder's output checked through the server's own text output, then
//! decoded back. Creates and drops its own schema `pgcopy_test_<pid>`. Skips with a reason when no
//! server answers, unless FLOW_REQUIRE_DBS=1.

/// Whether PostgreSQL answers at 127.0.0.1:5432; false (the test skips) only without
/// FLOW_REQUIRE_DBS=1.
fn server_answers() -> bool {
    let answers = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], 5432)),
        std::time::Duration::from_secs(2),
    )
    .is_ok();
    if !answers {
        assert!(
            std::env::var("FLOW_REQUIRE_DBS").as_deref() != Ok("1"),
            "PostgreSQL does not answer and FLOW_REQUIRE_DBS=1"
        );
        eprintln!("skipping: PostgreSQL at 127.0.0.1:5432 does not answer");
    }
    answers
}

/// Values refused as each row is read in one pass, through the real server: the first refused
/// value is the one reported, with its column and row, whatever the batch size (the rows before
/// it, with multibyte text, are held in a batch not yet built). Text that is not UTF-8 cannot
/// come this way: the server converts to the client's UTF-8 and refuses it itself.
#[tokio::test]
async fn the_first_refused_value_from_a_real_server_is_reported() {
    use std::sync::Arc;

    use arrow::datatypes::{Field, Schema};
    use futures::StreamExt;
    use tokio_postgres::NoTls;

    use crate::connect::postgres::copy::CopyDecoder;
    use crate::connect::postgres::types::pg_field;

    if !server_answers() {
        return;
    }
    let (client, connection) = tokio_postgres::connect("host=127.0.0.1 user=postgres dbname=test", NoTls)
        .await
        .expect("PostgreSQL at 127.0.0.1:5432 (user postgres, db test)");
    tokio::spawn(connection);
    let query = "SELECT id, label, amount::numeric(10,2) AS amount, day FROM (VALUES \
                 (1, 'café'::text, 1.5, date '2020-01-01'), (2, 'Grüße 😀', 'NaN', date '2020-01-02'), \
                 (3, 'ok', 2, 'infinity'::date)) AS v (id, label, amount, day) ORDER BY id";
    let statement = client.prepare(query).await.expect("prepares");
    let fields: Vec<Field> =
        statement.columns().iter().map(|c| pg_field(c.name(), c.type_(), c.type_modifier()).expect("maps")).collect();
    let types: Vec<_> = statement.columns().iter().map(|c| c.type_().clone()).collect();
    for batch_size in [1, 2, 10] {
        let mut decoder =
            CopyDecoder::new(Arc::new(Schema::new(fields.clone())), types.clone(), batch_size).expect("decoder");
        let stream = client.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)")).await.expect("copies");
        futures::pin_mut!(stream);
        let mut refused = None;
        while let Some(chunk) = stream.next().await {
            if let Err(e) = decoder.push(&chunk.expect("a chunk")) {
                refused = Some(e.to_string());
                break;
            }
        }
        let err = refused.or_else(|| decoder.finish().err().map(|e| e.to_string())).expect("NaN is refused");
        assert!(err.contains("\"amount\"") && err.contains("row 2") && err.contains("NaN"), "{batch_size}: {err}");
    }
}

#[tokio::test]
async fn copy_binary_round_trip_against_real_postgres() {
    if !server_answers() {
        return;
    }
    use std::sync::Arc;

    use arrow::array::{
        Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, Float32Array,
        Float64Array, Int16Array, Int32Array, Int64Array, StringArray, Time64MicrosecondArray,
        TimestampMicrosecondArray, UInt32Array,
    };
    use arrow::compute::concat_batches;
    use arrow::datatypes::{DataType, Field, Schema, SchemaRef, i256};
    use arrow::record_batch::RecordBatch;
    use bytes::BytesMut;
    use futures::{FutureExt, SinkExt, StreamExt};
    use tokio_postgres::{Client, NoTls};

    use crate::connect::postgres::copy::{CopyDecoder, CopyEncoder};
    use crate::connect::postgres::types::pg_field;

    type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

    const DAY_US: i64 = 86_400_000_000;

    /// Runs `COPY (query) TO STDOUT (FORMAT binary)` and decodes it with the
    /// schema derived from the query's result columns.
    async fn copy_out(client: &Client, query: &str, batch_size: usize) -> TestResult<Vec<RecordBatch>> {
        let statement = client.prepare(query).await?;
        let fields = statement
            .columns()
            .iter()
            .map(|c| pg_field(c.name(), c.type_(), c.type_modifier()))
            .collect::<Result<Vec<Field>, _>>()?;
        let types = statement.columns().iter().map(|c| c.type_().clone()).collect();
        let mut decoder = CopyDecoder::new(Arc::new(Schema::new(fields)), types, batch_size)?;
        let stream = client.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)")).await?;
        futures::pin_mut!(stream);
        let mut batches = Vec::new();
        while let Some(chunk) = stream.next().await {
            batches.extend(decoder.push(&chunk?)?);
        }
        batches.extend(decoder.finish()?);
        Ok(batches)
    }

    fn days(y: i32, m: u32, d: u32) -> i32 {
        use chrono::Datelike;
        let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
        date.num_days_from_ce() - 719_163
    }

    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> i64 {
        chrono::NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_micro_opt(h, mi, s, us))
            .expect("valid timestamp")
            .and_utc()
            .timestamp_micros()
    }

    async fn body(client: &Client, schema_name: &str) -> TestResult {
        let s = schema_name;
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {s};
                 CREATE TYPE {s}.mood AS ENUM ('sad', 'ok', 'happy');
                 CREATE DOMAIN {s}.posint AS integer CHECK (VALUE > 0);
                 CREATE TABLE {s}.all_types (
                     id integer, c_int2 smallint, c_int4 integer, c_int8 bigint, c_oid oid,
                     c_bool boolean, c_f4 real, c_f8 double precision,
                     c_num numeric(38,10), c_num_any numeric, c_num_small numeric(14,2),
                     c_num_big numeric(60,20), c_text text, c_varchar varchar(20),
                     c_bpchar char(5), c_name name, c_json json, c_jsonb jsonb, c_uuid uuid,
                     c_bytea bytea, c_date date, c_time time, c_ts timestamp,
                     c_tstz timestamptz, c_enum {s}.mood, c_domain {s}.posint,
                     c_int_into_int8 bigint, c_str_num numeric(12,3)
                 );"
            ))
            .await?;

        let big_text = "ab€😀".repeat(1200);
        let ts_values = vec![
            Some(micros(1900, 1, 1, 0, 0, 0, 0)),
            Some(0),
            None,
            Some(micros(3000, 12, 31, 23, 59, 59, 999_999)),
            Some(micros(2024, 2, 29, 12, 34, 56, 789_012)),
        ];
        let dec128 = |values: Vec<Option<i128>>, p: u8, sc: i8| -> ArrayRef {
            Arc::new(Decimal128Array::from(values).with_precision_and_scale(p, sc).expect("valid decimal"))
        };
        let num_big = |values: &[Option<&str>]| -> ArrayRef {
            let values: Vec<Option<i256>> =
                values.iter().map(|v| v.map(|v| i256::from_string(v).expect("valid i256"))).collect();
            Arc::new(Decimal256Array::from(values).with_precision_and_scale(60, 20).expect("valid decimal"))
        };
        let strings = |values: &[Option<&str>]| -> ArrayRef { Arc::new(StringArray::from(values.to_vec())) };
        // (column, Arrow input, expected Arrow output after the round trip)
        let num_38_10 = dec128(
            vec![
                Some(-1_234_567_890_123_400_000_000),
                Some(0),
                None,
                Some(999_999_999_999_999_999_999_999_999_999_999_999),
                Some(1_000_000),
            ],
            38,
            10,
        );
        let num_small = dec128(vec![Some(-12_345_678_901_234), Some(0), None, Some(1), Some(-1)], 14, 2);
        let num_big_values = num_big(&[
            Some("-123456789012345678901234567890123456789012345678901234567890"),
            Some("0"),
            None,
            Some("999999999999999999999999999999999999999999999999999999999999"),
            Some("1"),
        ]);
        let columns: Vec<(&str, ArrayRef, ArrayRef)> = vec![
            {
                let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2, 3, 4, 5]));
                ("id", a.clone(), a)
            },
            {
                let a: ArrayRef =
                    Arc::new(Int16Array::from(vec![Some(i16::MIN), Some(i16::MAX), None, Some(0), Some(-1)]));
                ("c_int2", a.clone(), a)
            },
            {
                let a: ArrayRef =
                    Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None, Some(0), Some(-1)]));
                ("c_int4", a.clone(), a)
            },
            {
                let a: ArrayRef =
                    Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), None, Some(0), Some(-1)]));
                ("c_int8", a.clone(), a)
            },
            (
                "c_oid",
                Arc::new(UInt32Array::from(vec![Some(0), Some(u32::MAX), None, Some(1), Some(42)])),
                Arc::new(Int64Array::from(vec![Some(0), Some(u32::MAX.into()), None, Some(1), Some(42)])),
            ),
            {
                let a: ArrayRef =
                    Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false)]));
                ("c_bool", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(Float32Array::from(vec![
                    Some(f32::NAN),
                    Some(f32::INFINITY),
                    None,
                    Some(f32::NEG_INFINITY),
                    Some(f32::MIN_POSITIVE),
                ]));
                ("c_f4", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(f64::INFINITY),
                    None,
                    Some(f64::NEG_INFINITY),
                    Some(f64::MAX),
                ]));
                ("c_f8", a.clone(), a)
            },
            ("c_num", num_38_10.clone(), num_38_10.clone()),
            // An unconstrained numeric reads back as its exact text, at the scale written.
            (
                "c_num_any",
                num_38_10.clone(),
                strings(&[
                    Some("-123456789012.3400000000"),
                    Some("0.0000000000"),
                    None,
                    Some("99999999999999999999999999.9999999999"),
                    Some("0.0001000000"),
                ]),
            ),
            ("c_num_small", num_small.clone(), num_small),
            ("c_num_big", num_big_values.clone(), num_big_values),
            {
                let a = strings(&[
                    Some("héllo 😀🎉"),
                    Some(big_text.as_str()),
                    None,
                    Some(""),
                    Some("tab\t newline\n backslash\\ quote'\""),
                ]);
                ("c_text", a.clone(), a)
            },
            {
                let a = strings(&[Some("abc"), Some(""), None, Some("ünïcödé"), Some("20 chars exactly....")]);
                ("c_varchar", a.clone(), a)
            },
            (
                "c_bpchar",
                strings(&[Some("ab"), Some("abcde"), None, Some(""), Some("😀")]),
                // char(n) comes back blank-padded.
                strings(&[Some("ab   "), Some("abcde"), None, Some("     "), Some("😀    ")]),
            ),
            {
                let a = strings(&[Some("pg_class"), Some(""), None, Some("x"), Some("ü")]);
                ("c_name", a.clone(), a)
            },
            {
                let a =
                    strings(&[Some(r#"{"z": 1,  "a": [1, 2.5, null]}"#), Some("[]"), None, Some(r#""😀""#), Some("0")]);
                ("c_json", a.clone(), a)
            },
            (
                "c_jsonb",
                strings(&[Some(r#"{"z": 1,  "a": [1, 2.5, null]}"#), Some("[]"), None, Some(r#""😀""#), Some("0")]),
                // jsonb normalises key order and spacing.
                strings(&[Some(r#"{"a": [1, 2.5, null], "z": 1}"#), Some("[]"), None, Some(r#""😀""#), Some("0")]),
            ),
            (
                "c_uuid",
                strings(&[
                    Some("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                    Some("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
                    None,
                    Some("00000000-0000-0000-0000-000000000000"),
                    Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                ]),
                strings(&[
                    Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    None,
                    Some("00000000-0000-0000-0000-000000000000"),
                    Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                ]),
            ),
            {
                let a: ArrayRef = Arc::new(BinaryArray::from(vec![
                    Some(&b"\0\x01\x02\0"[..]),
                    Some(&b""[..]),
                    None,
                    Some(&b"\xff\xfe\0"[..]),
                    Some(&[0u8; 1000][..]),
                ]));
                ("c_bytea", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(Date32Array::from(vec![
                    Some(days(1, 1, 1)),
                    Some(days(1969, 12, 31)),
                    None,
                    Some(days(2100, 3, 1)),
                    Some(days(9999, 12, 31)),
                ]));
                ("c_date", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![
                    Some(0),
                    Some(DAY_US - 1),
                    None,
                    Some(45_296_789_012),
                    Some(DAY_US),
                ]));
                ("c_time", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(TimestampMicrosecondArray::from(ts_values.clone()));
                ("c_ts", a.clone(), a)
            },
            (
                "c_tstz",
                Arc::new(TimestampMicrosecondArray::from(ts_values.clone()).with_timezone("+02:00")),
                Arc::new(TimestampMicrosecondArray::from(ts_values).with_timezone("UTC")),
            ),
            {
                let a = strings(&[Some("sad"), Some("happy"), None, Some("ok"), Some("sad")]);
                ("c_enum", a.clone(), a)
            },
            {
                let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), Some(i32::MAX), None, Some(7), Some(8)]));
                ("c_domain", a.clone(), a)
            },
            (
                "c_int_into_int8",
                Arc::new(Int16Array::from(vec![Some(i16::MIN), Some(0), None, Some(1), Some(2)])),
                Arc::new(Int64Array::from(vec![Some(i16::MIN.into()), Some(0), None, Some(1), Some(2)])),
            ),
            (
                "c_str_num",
                strings(&[Some("-123456789.123"), Some("0"), None, Some("1e3"), Some(" 0.001 ")]),
                dec128(vec![Some(-123_456_789_123), Some(0), None, Some(1_000_000), Some(1)], 12, 3),
            ),
        ];

        let names: Vec<&str> = columns.iter().map(|(n, _, _)| *n).collect();
        let column_list = names.join(", ");
        let input_schema: SchemaRef = Arc::new(Schema::new(
            columns.iter().map(|(n, a, _)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
        ));
        let input =
            RecordBatch::try_new(Arc::clone(&input_schema), columns.iter().map(|(_, a, _)| Arc::clone(a)).collect())?;

        // The target column types, as Flow learns them: from a prepared
        // SELECT of the target columns.
        let target = client.prepare(&format!("SELECT {column_list} FROM {s}.all_types")).await?;
        let target_types: Vec<_> = target.columns().iter().map(|c| c.type_().clone()).collect();
        let mut encoder = CopyEncoder::new(&input_schema, &target_types)?;

        // Two COPY messages: header plus the first rows, then the rest and
        // the trailer, so rows from separate batches land in one COPY.
        let sink = client.copy_in(&format!("COPY {s}.all_types ({column_list}) FROM STDIN (FORMAT binary)")).await?;
        futures::pin_mut!(sink);
        let mut buf = BytesMut::new();
        encoder.write_header(&mut buf);
        encoder.encode_batch(&input.slice(0, 2), &mut buf)?;
        sink.send(buf.split().freeze()).await?;
        encoder.encode_batch(&input.slice(2, 3), &mut buf)?;
        CopyEncoder::write_trailer(&mut buf);
        sink.send(buf.split().freeze()).await?;
        let copied = sink.finish().await?;
        assert_eq!(copied, 5);

        // What the server stored, checked through its own text output, so an
        // encoder bug cannot hide behind a matching decoder bug.
        let rows = client
            .query(
                &format!(
                    "SELECT c_num::text, c_num_small::text, c_num_big::text, c_uuid::text,
                            c_date::text, c_ts::text, (c_tstz AT TIME ZONE 'UTC')::text,
                            c_time::text, c_f8::text, c_jsonb::text, encode(c_bytea, 'hex'),
                            c_str_num::text, c_oid::text
                     FROM {s}.all_types ORDER BY id"
                ),
                &[],
            )
            .await?;
        let text = |row: usize, col: usize| -> Option<String> { rows[row].get(col) };
        assert_eq!(text(0, 0).as_deref(), Some("-123456789012.3400000000"));
        assert_eq!(text(3, 0).as_deref(), Some("99999999999999999999999999.9999999999"));
        assert_eq!(text(4, 0).as_deref(), Some("0.0001000000"));
        assert_eq!(text(0, 1).as_deref(), Some("-123456789012.34"));
        assert_eq!(text(2, 1), None);
        assert_eq!(text(4, 1).as_deref(), Some("-0.01"));
        assert_eq!(text(0, 2).as_deref(), Some("-1234567890123456789012345678901234567890.12345678901234567890"));
        assert_eq!(text(4, 2).as_deref(), Some("0.00000000000000000001"));
        assert_eq!(text(0, 3).as_deref(), Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        assert_eq!(text(0, 4).as_deref(), Some("0001-01-01"));
        assert_eq!(text(1, 4).as_deref(), Some("1969-12-31"));
        assert_eq!(text(4, 4).as_deref(), Some("9999-12-31"));
        assert_eq!(text(0, 5).as_deref(), Some("1900-01-01 00:00:00"));
        assert_eq!(text(3, 5).as_deref(), Some("3000-12-31 23:59:59.999999"));
        assert_eq!(text(4, 6).as_deref(), Some("2024-02-29 12:34:56.789012"));
        assert_eq!(text(4, 7).as_deref(), Some("24:00:00"));
        assert_eq!(text(0, 8).as_deref(), Some("NaN"));
        assert_eq!(text(3, 8).as_deref(), Some("-Infinity"));
        assert_eq!(text(0, 9).as_deref(), Some(r#"{"a": [1, 2.5, null], "z": 1}"#));
        assert_eq!(text(0, 10).as_deref(), Some("00010200"));
        assert_eq!(text(0, 11).as_deref(), Some("-123456789.123"));
        assert_eq!(text(1, 12).as_deref(), Some("4294967295"));

        // Read everything back through binary COPY, in batches of 2.
        let batches = copy_out(client, &format!("SELECT {column_list} FROM {s}.all_types ORDER BY id"), 2).await?;
        assert_eq!(batches.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [2, 2, 1]);
        let output = concat_batches(&batches[0].schema(), &batches)?;
        for (i, (name, _, expected)) in columns.iter().enumerate() {
            assert_eq!(output.schema().field(i).name(), name);
            assert_eq!(output.column(i).as_ref(), expected.as_ref(), "column {name}");
        }
        let meta = |name: &str| {
            output.schema().field_with_name(name).ok().and_then(|f| f.metadata().get("flow.source_type").cloned())
        };
        assert_eq!(meta("c_num").as_deref(), Some("numeric(38,10)"));
        assert_eq!(meta("c_varchar").as_deref(), Some("varchar(20)"));
        assert_eq!(meta("c_enum").as_deref(), Some("mood"));

        // Values PostgreSQL produced itself, over many rows and batches.
        let batches = copy_out(
            client,
            "SELECT g AS n, (g * 1.5)::numeric(10,1) AS half, 'row ' || g AS label,
                    DATE '2000-01-01' + g AS day, g % 7 = 0 AS sevens,
                    md5(g::text)::uuid AS id
             FROM generate_series(-2500, 2499) AS g",
            1000,
        )
        .await?;
        assert_eq!(batches.len(), 5);
        let all = concat_batches(&batches[0].schema(), &batches)?;
        assert_eq!(all.num_rows(), 5000);
        assert_eq!(all.schema().field(1).data_type(), &DataType::Decimal128(10, 1));
        let n = all.column(0).as_any().downcast_ref::<Int32Array>().expect("int4");
        let half = all.column(1).as_any().downcast_ref::<Decimal128Array>().expect("numeric");
        let label = all.column(2).as_any().downcast_ref::<StringArray>().expect("text");
        let day = all.column(3).as_any().downcast_ref::<Date32Array>().expect("date");
        for i in 0..all.num_rows() {
            let g = n.value(i);
            assert_eq!(g, i as i32 - 2500);
            assert_eq!(half.value(i), i128::from(g) * 15);
            assert_eq!(label.value(i), format!("row {g}"));
            assert_eq!(day.value(i), 10_957 + g);
        }
        let ids = copy_out(client, "SELECT md5('flow')::uuid::text = md5('flow')::uuid::text AS same, md5('flow')::uuid AS id, md5('flow') AS hex", 10).await?;
        let id = ids[0].column(1).as_any().downcast_ref::<StringArray>().expect("uuid").value(0).to_string();
        let hex = ids[0].column(2).as_any().downcast_ref::<StringArray>().expect("text").value(0).to_string();
        assert_eq!(id.replace('-', ""), hex);

        // An unconstrained numeric (here, results of arithmetic and casts) arrives as
        // exactly the text PostgreSQL prints for it.
        let exact = copy_out(
            client,
            "SELECT 1.00000000001::numeric AS a, 10::numeric ^ 30 AS b, 'NaN'::numeric AS c, \
             '-Infinity'::numeric AS d",
            10,
        )
        .await?;
        let texts: Vec<String> = (0..4)
            .map(|i| exact[0].column(i).as_any().downcast_ref::<StringArray>().expect("text").value(0).to_string())
            .collect();
        assert_eq!(texts, ["1.00000000001", "1000000000000000000000000000000.0000000000000000", "NaN", "-Infinity"]);

        // Values an Arrow type cannot hold exactly are errors naming the
        // column, never rounded or clamped.
        for (query, column, needle) in [
            ("SELECT 'NaN'::numeric(10,2) AS not_a_number", "not_a_number", "NaN"),
            ("SELECT 'infinity'::date AS forever", "forever", "infinity"),
            ("SELECT '-infinity'::timestamptz AS big_bang", "big_bang", "infinity"),
        ] {
            let err = copy_out(client, query, 10).await.expect_err(query).to_string();
            assert!(err.contains(&format!("\"{column}\"")) && err.contains(needle), "{err}");
        }
        // An interval is a span in microseconds, unless it counts months, which have no fixed
        // length.
        let spans = copy_out(client, "SELECT interval '1 day -00:00:01.5' AS span", 10).await.expect("a span");
        let span = arrow::array::AsArray::as_primitive::<arrow::datatypes::DurationMicrosecondType>(spans[0].column(0))
            .value(0);
        assert_eq!(span, 86_400_000_000 - 1_500_000);
        let err = copy_out(client, "SELECT interval '1 month' AS span", 10)
            .await
            .expect_err("months are refused")
            .to_string();
        assert!(err.contains("interval of 1 months") && err.contains("span"), "{err}");

        // The server rejects what the encoder must not send: caught first,
        // with the column and row named.
        let nul = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("c_text", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["fine", "nul\0byte"]))],
        )?;
        let mut encoder = CopyEncoder::new(&nul.schema(), &[tokio_postgres::types::Type::TEXT])?;
        let err = encoder.encode_batch(&nul, &mut BytesMut::new()).expect_err("NUL is rejected").to_string();
        assert!(err.contains("c_text") && err.contains("row 2"), "{err}");
        Ok(())
    }

    let (client, connection) = tokio_postgres::connect("host=127.0.0.1 user=postgres dbname=test", NoTls)
        .await
        .expect("PostgreSQL must be running at 127.0.0.1:5432 (user postgres, db test)");
    let connection = tokio::spawn(connection);
    // A schema of our own per process, so parallel runs cannot collide.
    let schema_name = format!("pgcopy_test_{}", std::process::id());
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema_name} CASCADE")).await.expect("drop stale schema");
    // Catch assertion panics too, so the schema is dropped on any failure.
    let result = std::panic::AssertUnwindSafe(body(&client, &schema_name)).catch_unwind().await;
    // Clean up whether or not the test passed.
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema_name} CASCADE")).await.expect("drop test schema");
    drop(client);
    let _ = connection.await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
