//! The direct writer against the `value_at` path it replaces: same text, same packet bytes,
//! same refusals, over many values of every supported type.

use arrow::array::*;

use super::push_field;
use crate::connect::decimal_text;
use crate::connect::mysql::load_data::{Encoding, push_value};
use crate::connect::mysql::params::{value_at, value_packet_bytes};
use crate::connect::mysql::types::MYSQL_DECIMAL;

/// What the sink wrote before: `value_at`, the decimal-text check, `push_value`.
fn by_value(array: &dyn Array, row: usize, hex: bool, decimal: bool) -> Result<(Vec<u8>, usize), String> {
    let value = value_at(array, row).map_err(|e| e.to_string())?;
    if let (mysql::Value::Bytes(b), true) = (&value, decimal) {
        let (p, s) = MYSQL_DECIMAL;
        decimal_text::fits_decimal(&String::from_utf8_lossy(b), p, s).map_err(|e| e.to_string())?;
    }
    let mut text = Vec::new();
    push_value(&mut text, &value, if hex { Encoding::Hex } else { Encoding::Text });
    Ok((text, value_packet_bytes(&value)))
}

fn direct(array: &dyn Array, row: usize, hex: bool, decimal: bool) -> Result<(Vec<u8>, usize), String> {
    let mut text = b"prefix".to_vec();
    let size = push_field(&mut text, array, row, hex, decimal.then_some(MYSQL_DECIMAL)).map_err(|e| e.to_string())?;
    assert_eq!(&text[..6], b"prefix");
    Ok((text[6..].to_vec(), size))
}

/// Asserts both writers agree on every row of `array`; returns how many rows were refused.
fn same(array: &dyn Array, hex: bool, decimal: bool) -> usize {
    let mut refused = 0;
    for row in 0..array.len() {
        let (old, new) = (by_value(array, row, hex, decimal), direct(array, row, hex, decimal));
        assert_eq!(
            old.as_ref().map(|(t, s)| (String::from_utf8_lossy(t).into_owned(), *s)),
            new.as_ref().map(|(t, s)| (String::from_utf8_lossy(t).into_owned(), *s)),
            "{} row {row}",
            array.data_type()
        );
        assert_eq!(old, new);
        refused += usize::from(old.is_err());
    }
    refused
}

/// A deterministic spread of i64 values: edges, small, and pseudo-random of every width.
fn i64s() -> Vec<i64> {
    let mut v = vec![0, 1, -1, 9, 10, -10, 99, 100, i64::MIN, i64::MAX, i64::MIN + 1, 1 << 53];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.push((x >> (i % 64)) as i64 * if i % 3 == 0 { -1 } else { 1 });
    }
    v
}

fn with_nulls<T: Clone>(values: &[T]) -> Vec<Option<T>> {
    values.iter().enumerate().map(|(i, v)| (i % 7 != 3).then(|| v.clone())).collect()
}

#[test]
fn integers_and_booleans_match_the_value_path() {
    let v = i64s();
    same(&Int64Array::from(with_nulls(&v)), false, false);
    same(&Int32Array::from(with_nulls(&v.iter().map(|&x| x as i32).collect::<Vec<_>>())), false, false);
    same(&Int16Array::from(with_nulls(&v.iter().map(|&x| x as i16).collect::<Vec<_>>())), false, false);
    same(&Int8Array::from(with_nulls(&v.iter().map(|&x| x as i8).collect::<Vec<_>>())), false, false);
    same(&UInt64Array::from(with_nulls(&v.iter().map(|&x| x as u64).collect::<Vec<_>>())), false, false);
    same(&UInt32Array::from(with_nulls(&v.iter().map(|&x| x as u32).collect::<Vec<_>>())), false, false);
    same(&UInt16Array::from(with_nulls(&v.iter().map(|&x| x as u16).collect::<Vec<_>>())), false, false);
    same(&UInt8Array::from(with_nulls(&v.iter().map(|&x| x as u8).collect::<Vec<_>>())), false, false);
    same(&UInt64Array::from(vec![u64::MAX, 0]), false, false);
    same(&BooleanArray::from(vec![Some(true), None, Some(false)]), false, false);
}

#[test]
fn floats_match_the_value_path_and_refuse_the_same_values() {
    let mut v: Vec<f64> = i64s().iter().map(|&x| x as f64 / 7.0).collect();
    v.extend([0.1, -0.0, 1e300, -2.5e-10, f64::MAX, f64::MIN_POSITIVE, 5e-324, f64::NAN, f64::INFINITY]);
    v.extend(i64s().iter().map(|&x| f64::from_bits(x as u64)));
    let refused = same(&Float64Array::from(with_nulls(&v)), false, false);
    assert!(refused >= 2, "NaN and infinity are refused");
    same(&Float32Array::from(with_nulls(&v.iter().map(|&x| x as f32).collect::<Vec<_>>())), false, false);
}

#[test]
fn decimals_match_arrow_text_at_every_scale() {
    let mut v: Vec<i128> = i64s().iter().map(|&x| i128::from(x)).collect();
    v.extend(i64s().iter().map(|&x| i128::from(x) * 1_000_000_000_000_000_000 + i128::from(x % 1000)));
    v.extend([0, 1, -1, 5, -5, 10, -10, 99_999, -99_999, i128::from(u64::MAX) + 1, -i128::from(u64::MAX) - 1]);
    v.extend([10i128.pow(38) - 1, -(10i128.pow(38) - 1), i128::MAX, i128::MIN, i128::MIN + 1]);
    for (precision, scale) in
        [(38, 0), (38, 2), (38, 10), (38, 37), (38, 38), (38, -3), (12, 2), (5, 5), (3, 0), (20, 19)]
    {
        // Values beyond the precision too: Arrow cuts their digits, and so must the writer.
        let array = Decimal128Array::from(with_nulls(&v)).with_precision_and_scale(precision, scale).expect("decimal");
        same(&array, false, false);
    }
    let wide = Decimal256Array::from(vec![Some(arrow::datatypes::i256::from_i128(-12345)), None])
        .with_precision_and_scale(50, 3)
        .expect("decimal");
    same(&wide, false, false);
}

#[test]
fn text_matches_the_value_path_escaped_and_decimal_text_checked() {
    let strings = [
        "",
        "plain",
        "a\\b\tc\nd\re\0f",
        "\\N",
        "NULL",
        "é😀 unicode",
        "\t\t\n\n\\\\",
        "trailing\\",
        "x".repeat(300).leak(),
    ];
    let strings: Vec<&str> = strings.iter().copied().cycle().take(100).collect();
    same(&StringArray::from(with_nulls(&strings)), false, false);
    same(&LargeStringArray::from(with_nulls(&strings)), false, false);
    same(&StringViewArray::from(with_nulls(&strings)), false, false);
    let decimals = ["1.50", "-0.5", "NaN", "-Infinity", "1e5", &"9".repeat(36), "0", &format!("0.{}1", "0".repeat(30))];
    let refused = same(&StringArray::from(decimals.to_vec()), false, true);
    assert_eq!(refused, 5, "NaN, -Infinity, 1e5, 36 integer digits, 31 fractional digits");
}

#[test]
fn binary_matches_the_value_path_as_hex_and_as_text() {
    let mut blobs: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xFF, 0xFE, b'\\', b'\t', b'\n', 0x80, 0]];
    blobs.extend((0..=255u8).map(|b| vec![b, b.wrapping_mul(31), 0xC3]));
    let refs: Vec<&[u8]> = blobs.iter().map(|b| b.as_slice()).collect();
    for hex in [true, false] {
        same(&BinaryArray::from(with_nulls(&refs)), hex, false);
        same(&LargeBinaryArray::from(with_nulls(&refs)), hex, false);
        same(&BinaryViewArray::from(with_nulls(&refs)), hex, false);
        let fixed: Vec<Option<[u8; 3]>> = (0..=255u8).map(|b| (b % 5 != 0).then_some([b, 0, b'\n'])).collect();
        same(&FixedSizeBinaryArray::try_from_sparse_iter_with_size(fixed.into_iter(), 3).expect("fixed"), hex, false);
    }
}

#[test]
fn dates_times_and_spans_match_the_value_path() {
    let v = i64s();
    let days: Vec<i32> = v.iter().map(|&x| (x % 4_000_000) as i32).chain([0, -719_528, 2_932_896, i32::MAX]).collect();
    same(&Date32Array::from(with_nulls(&days)), false, false);
    same(
        &Date64Array::from(with_nulls(&days.iter().map(|&d| i64::from(d) * 86_400_000).collect::<Vec<_>>())),
        false,
        false,
    );
    let micros: Vec<i64> = v.iter().map(|&x| x % 400_000_000_000_000_000).chain([0, i64::MIN, i64::MAX]).collect();
    same(&TimestampMicrosecondArray::from(with_nulls(&micros)), false, false);
    same(&TimestampSecondArray::from(with_nulls(&micros)), false, false);
    same(&TimestampNanosecondArray::from(with_nulls(&micros)), false, false);
    same(&TimestampMillisecondArray::from(with_nulls(&micros)).with_timezone("+02:00"), false, false);
    let day = 86_400_000_000i64;
    same(
        &Time64MicrosecondArray::from(with_nulls(&v.iter().map(|&x| x.rem_euclid(day)).collect::<Vec<_>>())),
        false,
        false,
    );
    same(&Time32SecondArray::from(vec![Some(0), None, Some(86_399)]), false, false);
    same(&DurationMicrosecondArray::from(with_nulls(&micros)), false, false);
    same(&DurationNanosecondArray::from(vec![Some(1_500), Some(2_000), None]), false, false);
}
