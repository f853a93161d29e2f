//! `numeric` on the wire: exact bytes as PostgreSQL sends them, text and float input, and
//! decoding into Arrow decimals that is exact or an error.

use arrow::datatypes::i256;
use bytes::BytesMut;

use super::numeric_bytes;
use crate::connect::postgres::copy::ValueError;
use crate::connect::postgres::copy::numeric::{
    NUMERIC_NAN, NUMERIC_NEG, NUMERIC_NINF, NUMERIC_PINF, NUMERIC_POS, decode_numeric, numeric_to_string,
    parse_numeric, write_numeric_value,
};
use crate::connect::postgres::copy::value::Value;

#[test]
fn numeric_wire_format_matches_postgres() {
    let cases: [(Value<'static>, &[u8]); 6] = [
        // 12345.678 = 1 | 2345 . 6780, weight 1, dscale 3
        (Value::Decimal128 { unscaled: 12_345_678, scale: 3 }, &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C]),
        // -0.0001: one digit (1) of weight -1, negative, dscale 4
        (Value::Decimal128 { unscaled: -1, scale: 4 }, &[0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]),
        // 0.01 = .0100: digit 100 of weight -1, dscale 2
        (Value::Decimal128 { unscaled: 1, scale: 2 }, &[0, 1, 0xff, 0xff, 0, 0, 0, 2, 0, 100]),
        // 100000 = 10 | 0000: trailing zero digits are not sent
        (Value::Int(100_000), &[0, 1, 0, 1, 0, 0, 0, 0, 0, 10]),
        // zero keeps its display scale
        (Value::Decimal128 { unscaled: 0, scale: 2 }, &[0, 0, 0, 0, 0, 0, 0, 2]),
        (Value::Str("NaN"), &[0, 0, 0, 0, 0xC0, 0, 0, 0]),
    ];
    for (value, expected) in cases {
        let mut out = BytesMut::new();
        write_numeric_value(value, &mut out, &mut String::new()).expect("writes");
        assert_eq!(&out[..4], &(expected.len() as i32).to_be_bytes());
        assert_eq!(&out[4..], expected);
    }
}

/// Writes `value` as numeric and reads it back as text.
fn numeric_text_of(value: Value<'_>) -> String {
    let mut out = BytesMut::new();
    write_numeric_value(value, &mut out, &mut String::new()).expect("writes");
    numeric_to_string(&out[4..])
}

#[test]
fn numeric_from_text_ints_and_floats() {
    let cases: [(Value<'_>, &str); 14] = [
        (Value::Str("123.4500"), "123.4500"),
        (Value::Str("  -0.000123 "), "-0.000123"),
        (Value::Str("1.5e3"), "1500"),
        (Value::Str("1.23E-5"), "0.0000123"),
        (Value::Str("+.5"), "0.5"),
        (Value::Str("7."), "7"),
        (Value::Str("-0"), "0"),
        (Value::Int(i128::from(u64::MAX)), "18446744073709551615"),
        (Value::Int(i128::from(i64::MIN)), "-9223372036854775808"),
        (Value::Float(0.1), "0.1"),
        (Value::Float(-2.5e-7), "-0.00000025"),
        (Value::Float(1e21), "1000000000000000000000"),
        (Value::Decimal128 { unscaled: 12_345, scale: -3 }, "12345000"),
        (
            Value::Decimal256 { unscaled: i256::MAX, scale: 76 },
            "5.7896044618658097711785492504343953926634992332820282019728792003956564819967",
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(numeric_text_of(value), expected);
    }
    for bad in ["", ".", "1e", "abc", "1.2.3", "--1", "+NaN", "1e9999999", "0x10"] {
        assert!(parse_numeric(bad).is_err(), "{bad:?} should not parse as numeric");
    }
    for (special, sign) in [("nan", NUMERIC_NAN), ("Infinity", NUMERIC_PINF), ("-inf", NUMERIC_NINF)] {
        let mut out = BytesMut::new();
        write_numeric_value(Value::Str(special), &mut out, &mut String::new()).expect("writes");
        assert_eq!(&out[8..10], &sign.to_be_bytes());
    }
    let mut out = BytesMut::new();
    write_numeric_value(Value::Float(f64::NEG_INFINITY), &mut out, &mut String::new()).expect("writes");
    assert_eq!(&out[8..10], &NUMERIC_NINF.to_be_bytes());
}

#[test]
fn numeric_decoding_is_exact_or_an_error() {
    // 1.00000000001 (11 fractional digits) into scale 10.
    let too_fine = numeric_bytes(0, NUMERIC_POS, 11, &[1, 0, 0, 10]);
    let err = decode_numeric::<i128>(&too_fine, 38, 10).unwrap_err();
    assert!(matches!(&err, ValueError::Rounded { value, scale: 10, .. } if value == "1.00000000001"), "{err:?}");
    assert_eq!(
        err.to_string(),
        "numeric 1.00000000001 has more than 10 fractional digits and would be rounded in Decimal128(38,10); cast \
         it in the query, e.g. col::numeric(38,12) or col::text"
    );
    // ... but trailing zeros beyond the scale are fine.
    let zeros = numeric_bytes(0, NUMERIC_POS, 12, &[1, 2000]);
    assert_eq!(decode_numeric::<i128>(&zeros, 38, 10), Ok(12_000_000_000));
    // 10^28 has 29 integer digits: too large for Decimal128(38,10).
    let too_big = numeric_bytes(7, NUMERIC_POS, 0, &[1]);
    let err = decode_numeric::<i128>(&too_big, 38, 10).unwrap_err();
    assert!(matches!(err, ValueError::DecimalOverflow { precision: 38, scale: 10, .. }), "{err:?}");
    assert!(err.to_string().contains("does not fit"), "{err}");
    // Far too large: overflow is detected, not wrapped.
    let huge = numeric_bytes(100, NUMERIC_NEG, 0, &[9999]);
    assert!(decode_numeric::<i128>(&huge, 38, 10).is_err());
    assert!(decode_numeric::<i256>(&huge, 76, 0).is_err());
    for sign in [NUMERIC_NAN, NUMERIC_PINF, NUMERIC_NINF] {
        let special = numeric_bytes(0, sign, 0, &[]);
        let err = decode_numeric::<i128>(&special, 38, 10).unwrap_err();
        assert!(matches!(err, ValueError::NumericSpecial { .. }), "{err:?}");
        assert!(err.to_string().contains("cannot be stored"), "{err}");
    }
    // Malformed: bad digit, bad sign, wrong length.
    assert!(decode_numeric::<i128>(&numeric_bytes(0, 0, 0, &[10_000]), 38, 0).is_err());
    assert!(decode_numeric::<i128>(&numeric_bytes(0, 0x1234, 0, &[1]), 38, 0).is_err());
    assert!(decode_numeric::<i128>(&[0, 2, 0, 0, 0, 0, 0, 0, 0, 1], 38, 0).is_err());
    assert!(decode_numeric::<i128>(&[0, 0], 38, 0).is_err());
    // Negative scale: 1234500 into Decimal128(5,-2) is 12345, but 1234501
    // is not representable.
    let hundreds = numeric_bytes(1, NUMERIC_POS, 0, &[123, 4500]);
    assert_eq!(decode_numeric::<i128>(&hundreds, 5, -2), Ok(12_345));
    let ones = numeric_bytes(1, NUMERIC_POS, 0, &[123, 4501]);
    assert!(decode_numeric::<i128>(&ones, 5, -2).is_err());
}
