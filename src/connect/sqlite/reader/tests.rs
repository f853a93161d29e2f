//! Unit tests of the SQLite reader's value conversions: declared types by affinity, every time
//! value form SQLite stores, and decimals that are exact or refused.

use super::values::*;
use super::*;

fn ts(s: &str) -> i64 {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").expect("test literal");
    t.and_utc().timestamp_micros()
}

#[test]
fn declared_types_follow_sqlite_affinity() {
    assert_eq!(declared_kind("NUMERIC(12,2)"), Some(Kind::Decimal { precision: 12, scale: 2 }));
    assert_eq!(declared_kind("decimal(10)"), Some(Kind::Decimal { precision: 10, scale: 0 }));
    assert_eq!(declared_kind("NUMERIC"), Some(Kind::Decimal { precision: 38, scale: 10 }));
    assert_eq!(declared_kind("NUMERIC(50,10)"), Some(Kind::Text));
    assert_eq!(declared_kind("unsigned big int"), Some(Kind::Integer));
    assert_eq!(declared_kind("VARCHAR(20)"), Some(Kind::Text));
    assert_eq!(declared_kind("DOUBLE PRECISION"), Some(Kind::Real));
    assert_eq!(declared_kind("datetime"), Some(Kind::Timestamp { utc: false }));
    assert_eq!(declared_kind(""), None);
    assert_eq!(declared_kind("geometry"), None);
}

#[test]
fn every_sqlite_time_value_form_denotes_its_instant() {
    let text = |s: &str| to_time_value(ValueRef::Text(s.as_bytes()));
    assert_eq!(text("2024-01-05"), Ok(ts("2024-01-05 00:00:00")));
    assert_eq!(text("2024-01-05 10:00"), Ok(ts("2024-01-05 10:00:00")));
    assert_eq!(text("2024-01-05T10:00:00Z"), Ok(ts("2024-01-05 10:00:00")));
    assert_eq!(text("2024-01-05 10:00:00+02:00"), Ok(ts("2024-01-05 08:00:00")));
    assert_eq!(text("2024-01-05 10:00:00 -05:30"), Ok(ts("2024-01-05 15:30:00")));
    assert_eq!(text("2024-01-05T10:00:00.123"), Ok(ts("2024-01-05 10:00:00.123")));
    assert_eq!(text("2024-01-05 10:00:00.123456000"), Ok(ts("2024-01-05 10:00:00.123456")));
    assert_eq!(text("10:30"), Ok(ts("2000-01-01 10:30:00")));
    assert!(text("2024-01-05 10:00:00.1234567").is_err(), "finer than a microsecond");
    assert!(text("2024-02-30").is_err());
    assert!(text("now").is_err());
    assert!(text("yesterday").is_err());
    // Julian day 2460314.5 is 2024-01-05 00:00 UTC; Unix 1704448800 is 2024-01-05 10:00 UTC.
    assert_eq!(to_time_value(ValueRef::Real(2_460_314.5)), Ok(ts("2024-01-05 00:00:00")));
    assert_eq!(to_time_value(ValueRef::Integer(1_704_448_800)), Ok(ts("2024-01-05 10:00:00")));
    assert_eq!(to_time_value(ValueRef::Real(1_704_448_800.25)), Ok(ts("2024-01-05 10:00:00.250")));
    assert_eq!(text("2460314.5"), Ok(ts("2024-01-05 00:00:00")));
}

#[test]
fn decimals_are_exact_or_refused() {
    let d = |v: ValueRef<'_>| to_decimal(v, 12, 2);
    assert_eq!(d(ValueRef::Real(1234.5)), Ok(123_450));
    assert_eq!(d(ValueRef::Integer(7)), Ok(700));
    assert_eq!(d(ValueRef::Text(b"-0.10")), Ok(-10));
    assert_eq!(d(ValueRef::Text(b"1.500")), Ok(150));
    assert!(d(ValueRef::Real(1.005)).is_err());
    assert!(d(ValueRef::Real(0.1 + 0.2)).is_err());
    assert!(d(ValueRef::Integer(10_000_000_000)).is_err());
    assert!(d(ValueRef::Text(b"abc")).is_err());
}

/// The text's way of converting a number to a decimal (shortest decimal form, then
/// `parse_decimal`), which `real_decimal` and `integer_decimal` must agree with.
fn decimal_by_text(v: ValueRef<'_>, precision: u8, scale: i8) -> std::result::Result<i128, ValueError> {
    match v {
        ValueRef::Integer(i) => parse_decimal(&i.to_string(), precision, scale),
        ValueRef::Real(f) => parse_decimal(&real_text(f), precision, scale),
        _ => unreachable!("numbers only"),
    }
}

#[test]
fn the_decimal_shortcuts_agree_with_the_shortest_decimal_text() {
    // A small deterministic generator (xorshift), so that the test covers many values and stays
    // the same from run to run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut reals: Vec<f64> = vec![0.0, -0.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.005, 2.675, 1e-300, 5e-324, 9_999_999_999.99];
    reals.extend([999_999_999_999.995, 1e15, 123_456_789_012.345, -0.005, 0.015, 4_503_599_627_370_496.5]);
    for _ in 0..200_000 {
        let r = next();
        reals.push(match r % 6 {
            // Cents and other short decimals, as programs store money.
            0 => (r >> 8) as i64 as f64 % 1e13 / 100.0,
            1 => (r >> 8) as i64 as f64 % 1e9 / 1000.0,
            2 => (r >> 8) as f64 / 1e6,
            // Any bit pattern: huge, tiny, subnormal and fractional doubles.
            3 => f64::from_bits(r),
            4 => ((r >> 11) as f64) * 2f64.powi(-((r % 70) as i32)),
            _ => (r % 100_000) as f64 / 7.0,
        });
    }
    let shapes = [(12u8, 2i8), (38, 10), (10, 0), (38, 0), (5, 5), (18, 4), (38, 22), (38, 30), (3, 1)];
    let mut fast = 0;
    for f in reals.into_iter().filter(|f| f.is_finite()) {
        for &(p, s) in &shapes {
            let by_text = decimal_by_text(ValueRef::Real(f), p, s);
            if let Some(unscaled) = real_decimal(f, p, s) {
                fast += 1;
                assert_eq!(Ok(unscaled), by_text, "{f} as decimal({p},{s})");
            }
            assert_eq!(to_decimal(ValueRef::Real(f), p, s), by_text, "{f} as decimal({p},{s})");
        }
    }
    assert!(fast > 100_000, "the shortcut took only {fast} values");
    let mut integers: Vec<i64> = vec![0, 1, -1, i64::MAX, i64::MIN, 9_999_999_999, 10_000_000_000, -99_999];
    integers.extend((0..50_000).map(|_| next() as i64 >> (next() % 64)));
    for i in integers {
        for &(p, s) in &shapes {
            let by_text = decimal_by_text(ValueRef::Integer(i), p, s);
            assert_eq!(to_decimal(ValueRef::Integer(i), p, s), by_text, "{i} as decimal({p},{s})");
        }
    }
}

#[test]
fn civil_days_agree_with_chrono_for_every_four_digit_year() {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    for year in 0..=9999 {
        for month in 0..=13 {
            for day in 0..=32 {
                let by_chrono = chrono::NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
                    .map(|d| (d - epoch).num_days());
                assert_eq!(days_from_civil(year, month, day), by_chrono, "{year}-{month}-{day}");
            }
        }
    }
}

#[test]
fn small_queries_are_typed_from_the_rows_they_return_and_bounds_come_from_both_ends() {
    use crate::connect::source::DatabaseSource;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bounds.db");
    let conn = Connection::open(&path).expect("a database");
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, plain, n INTEGER);
         INSERT INTO t VALUES (3, 'x', 30), (-7, 'y', 70), (12, 'z', 5), (5, 'w', NULL);
         CREATE TABLE empty (id INTEGER PRIMARY KEY);",
    )
    .expect("rows");
    let url = format!("sqlite://{}", path.display());
    let bounds = |col: &str, scanned: &str| {
        let sql = super::super::source::SqliteSource.bounds_sql(col, scanned, "\"_flow_b\"");
        let batches = fetch_all(&url, &sql).expect("bounds");
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        let column = |i: usize| {
            // A column of NULLs only (no rows) is typed as text: no value says otherwise.
            let column = arrow::compute::cast(batch.column(i), &DataType::Int64).expect("integers");
            let a = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&column);
            (!arrow::array::Array::is_null(a, 0)).then(|| a.value(0))
        };
        if batch.column(0).null_count() == 0 {
            assert_eq!(batch.schema().field(0).data_type(), &DataType::Int64, "{sql}");
        }
        (column(0), column(1))
    };
    // The rowid alias, a filtered read, a column without an index, rowid itself, no rows.
    assert_eq!(bounds("\"id\"", "SELECT \"id\", \"plain\" FROM \"t\""), (Some(-7), Some(12)));
    assert_eq!(bounds("\"id\"", "SELECT \"id\" FROM \"t\" WHERE \"n\" > 10"), (Some(-7), Some(3)));
    assert_eq!(bounds("\"n\"", "SELECT \"n\" FROM \"t\""), (Some(5), Some(70)));
    assert_eq!(bounds("\"rowid\"", "SELECT \"rowid\" FROM \"t\""), (Some(-7), Some(12)));
    assert_eq!(bounds("\"id\"", "SELECT \"id\" FROM \"empty\""), (None, None));
    // Undeclared columns take their type from the rows themselves: text stays text.
    let batches = fetch_all(&url, "SELECT plain, count(*) AS c FROM t GROUP BY plain ORDER BY plain").expect("rows");
    let batch = &batches[0];
    assert_eq!((batch.num_rows(), batch.schema().field(0).data_type()), (4, &DataType::Utf8));
    assert_eq!(batch.schema().field(1).data_type(), &DataType::Int64);
    let text = arrow::array::AsArray::as_string::<i32>(batch.column(0));
    assert_eq!(text.iter().collect::<Vec<_>>(), vec![Some("w"), Some("x"), Some("y"), Some("z")]);
}

/// The fast path for the plain forms gives what the general parser gives, and declines (never
/// refuses) everything else.
#[test]
fn plain_time_text_is_the_general_parsers_value() {
    let mut texts: Vec<String> = vec![
        "2024-01-05".into(),
        "0000-01-01".into(),
        "9999-12-31 23:59:59.999999".into(),
        "2024-02-29 12:00:00".into(),
        "2023-02-29 12:00:00".into(),
        "2024-13-01".into(),
        "2024-01-05T10:00:00.5".into(),
        "2024-01-05 24:00:00".into(),
        "2024-01-05 10:60:00".into(),
        "2024-01-05 10:00:60".into(),
        "2024-01-05 10:00:00.".into(),
        "2024-01-05 10:00:00.1234567".into(),
        "2024-01-05 10:00:00.1200000".into(),
        "2024-01-05 10:00:00Z".into(),
        "2024-01-05 10:00".into(),
        "2024-01-05 1a:00:00".into(),
        "2024-01-0a".into(),
        "+024-01-05".into(),
        " 2024-01-05".into(),
        "2024-01-05 10:00:00.12a".into(),
    ];
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..2_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let fraction = match x % 4 {
            0 => String::new(),
            1 => format!(".{}", x % 1_000),
            2 => format!(".{:06}", x % 1_000_000),
            _ => format!(".{}", x % 10),
        };
        texts.push(format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{fraction}",
            x % 10_000,
            x / 7 % 13,
            x / 11 % 32,
            x / 13 % 25,
            x / 17 % 61,
            x / 19 % 61
        ));
    }
    for t in &texts {
        let general = parse_time_text(t);
        if let Some(fast) = plain_time_text(t.as_bytes()) {
            assert_eq!(Some(fast), general, "{t}");
        }
        assert_eq!(to_time_value(ValueRef::Text(t.as_bytes())).ok(), parse_time_text(t.trim()), "{t}");
    }
    for plain in ["2024-01-05", "2024-01-05 10:00:00", "2024-01-05T10:00:00.5", "2024-01-05 10:00:00.123456"] {
        assert!(plain_time_text(plain.as_bytes()).is_some(), "{plain}");
    }
}

/// A column without a declared type makes the planner sample the first rows; a text value that
/// is not UTF-8 in them (in any column) decides nothing and panics nowhere (rusqlite's
/// `Value::from` panicked on it): planning succeeds and the read refuses the value itself.
#[test]
fn sampling_rows_with_text_that_is_not_utf8_plans_the_columns() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE odd (id INTEGER PRIMARY KEY, t TEXT, anyc); \
         INSERT INTO odd VALUES (1, CAST(X'FFFE41' AS TEXT), CAST(X'FF' AS TEXT)), (2, 'ok', 'x');",
    )
    .unwrap();
    let plans = plan_columns(&conn, "odd", "SELECT * FROM odd").expect("planned");
    assert_eq!(plans.len(), 3);
    assert_eq!(plans[2].kind, Kind::Text);
}
