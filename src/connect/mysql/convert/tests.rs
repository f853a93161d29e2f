//! Value conversion without a server: decimal text, and the text protocol's forms of dates,
//! times, bits and booleans against the binary protocol's.

use super::*;

#[test]
fn decimal_text_is_parsed_exactly_or_refused() {
    let d128 = |text: &str, p: u8, s: i8| {
        decimal(&Value::Bytes(text.as_bytes().to_vec()), p, s, 0_i128, |v, d| v * 10 + i128::from(d))
    };
    assert_eq!(d128("-12.50", 5, 2), Ok(-1250));
    assert_eq!(d128("0.5", 3, 2), Ok(50));
    assert_eq!(d128("007", 1, 0), Ok(7));
    assert_eq!(d128("1.230", 3, 2), Ok(123), "trailing zeros beyond the scale lose nothing");
    assert_eq!(d128(&"9".repeat(38), 38, 0), Ok(10_i128.pow(38) - 1));
    for (bad, p, s) in [("1.234", 4, 2), ("1000", 5, 2), ("1e5", 10, 0), ("", 5, 2), ("-", 5, 2), ("1.2.3", 5, 2)] {
        assert!(d128(bad, p, s).is_err(), "{bad} as ({p},{s})");
    }
    assert_eq!(decimal(&Value::Int(-42), 5, 2, 0_i128, |v, d| v * 10 + i128::from(d)), Ok(-4200));
    assert!(decimal(&Value::Double(0.1), 5, 2, 0_i128, |v, d| v * 10 + i128::from(d)).is_err());
}

#[test]
fn text_protocol_values_parse_like_binary_ones() {
    let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
    assert_eq!(timestamp(&bytes("1970-01-01 00:00:01.5")), timestamp(&Value::Date(1970, 1, 1, 0, 0, 1, 500_000)));
    assert_eq!(timestamp(&bytes("2024-02-29 12:34:56")), Ok(1_709_210_096 * MICROS_PER_SECOND));
    assert_eq!(date32(&bytes("1970-01-02")), Ok(1));
    assert_eq!(date32(&Value::Date(1969, 12, 31, 0, 0, 0, 0)), Ok(-1));
    assert!(date32(&bytes("2023-02-29")).is_err());
    assert_eq!(time64(&bytes("23:59:59.000001")), Ok(MICROS_PER_DAY - MICROS_PER_SECOND + 1));
    assert_eq!(time64(&Value::Time(false, 0, 1, 0, 0, 0)), Ok(3600 * MICROS_PER_SECOND));
    assert!(time64(&bytes("24:00:00")).is_err());
    assert!(time64(&Value::Time(false, 1, 0, 0, 0, 0)).is_err());
    assert!(time64(&Value::Time(true, 0, 0, 0, 1, 0)).is_err());
    assert_eq!(duration(&bytes("-838:59:59.000001")), Ok(-(3_020_399 * MICROS_PER_SECOND + 1)));
    assert_eq!(duration(&Value::Time(true, 34, 22, 59, 59, 0)), Ok(-3_020_399 * MICROS_PER_SECOND));
    assert_eq!(duration(&bytes("25:00:00")), Ok(90_000 * MICROS_PER_SECOND));
    assert!(duration(&bytes("01:60:00")).is_err());
    assert_eq!(bits(&Value::Bytes(vec![0x0f, 0xff])), Ok(4095));
    assert_eq!(bits(&Value::Bytes(vec![0xff; 8])), Ok(u64::MAX));
    assert_eq!(
        (boolean(&Value::Int(1)), boolean(&bytes("0")), boolean(&Value::Bytes(vec![1]))),
        (Ok(true), Ok(false), Ok(true))
    );
    assert!(boolean(&Value::Int(-1)).is_err() && boolean(&bytes("2")).is_err());
    assert_eq!(integer::<u64>(&bytes("18446744073709551615")), Ok(u64::MAX));
    assert!(integer::<i8>(&Value::Int(-129)).is_err());
    assert!(integer::<u32>(&Value::Int(-1)).is_err());
    assert_eq!(float32(&bytes("0.1")), Ok(0.1_f32));
    assert!(float32(&Value::Double(0.1)).is_err(), "0.1 as a double has no exact f32");
    assert!(text(&Value::Bytes(vec![0xff])).is_err());
}
