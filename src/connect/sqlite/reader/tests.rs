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
