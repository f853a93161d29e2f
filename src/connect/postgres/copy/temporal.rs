//! Dates, times and timestamps on the wire: PostgreSQL counts from 2000-01-01 where Arrow
//! counts from 1970-01-01, accepts narrower ranges than Arrow can hold, and text columns written
//! into typed ones are parsed here as ISO 8601.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{ValueError, preview};

/// PostgreSQL dates and timestamps count from 2000-01-01, Arrow's from
/// 1970-01-01.
pub(super) const PG_EPOCH_DAYS: i64 = 10_957;
pub(super) const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * MICROS_PER_DAY;
pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;
pub(super) const MILLIS_PER_DAY: i64 = 86_400_000;

/// Valid ranges of PostgreSQL `date` (days since 2000-01-01, end exclusive)
/// and `timestamp` (µs since 2000-01-01, end exclusive): 4714-11-24 BC up to
/// 5874898-01-01 and 294277-01-01 respectively. The server rejects anything
/// outside; checking here gives an error that names the column and row.
pub(super) const PG_DATE_MIN: i64 = -2_451_545;
pub(super) const PG_DATE_END: i64 = 2_145_031_949;
pub(super) const PG_TIMESTAMP_MIN: i128 = -211_813_488_000_000_000;
pub(super) const PG_TIMESTAMP_END: i128 = 9_223_371_331_200_000_000;
/// `time` allows 24:00:00 itself.
pub(super) const PG_TIME_MAX: i64 = MICROS_PER_DAY;

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
pub(super) const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// ISO 8601 date `YYYY-MM-DD` -> days since 1970-01-01.
pub(super) fn parse_date(s: &str) -> std::result::Result<i64, ValueError> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| ValueError::Invalid {
        what: "date",
        shown: preview(s),
        expected: Some("YYYY-MM-DD"),
    })?;
    Ok(i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE)
}

/// `HH:MM[:SS[.ffffff]]` -> µs since midnight.
pub(super) fn parse_time(s: &str) -> std::result::Result<i64, ValueError> {
    let t = s.trim();
    let time = NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .map_err(|_| ValueError::Invalid { what: "time", shown: preview(s), expected: Some("HH:MM:SS[.ffffff]") })?;
    // Sub-microsecond digits are dropped, as for Arrow nanosecond times.
    Ok(i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(time.nanosecond() / 1_000))
}

/// ISO 8601 timestamp -> µs since 1970-01-01 00:00 UTC. A UTC offset is
/// honoured only for timestamptz targets; a timestamp without an offset is
/// taken as UTC there (the binary protocol has no session time zone to apply).
pub(super) fn parse_timestamp(s: &str, with_tz: bool) -> std::result::Result<i128, ValueError> {
    let t = s.trim();
    let invalid = || ValueError::Invalid {
        what: "timestamp",
        shown: preview(s),
        expected: Some(if with_tz {
            "YYYY-MM-DD[ HH:MM:SS[.ffffff]][+HH:MM]"
        } else {
            "YYYY-MM-DD[ HH:MM:SS[.ffffff]]"
        }),
    };
    let naive = if with_tz {
        DateTime::parse_from_rfc3339(t)
            .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z"))
            .map(|dt| dt.naive_utc())
            .ok()
    } else {
        None
    };
    let naive = match naive {
        Some(n) => n,
        None => NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f"))
            .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d").map(|d| d.and_time(NaiveTime::MIN)))
            .map_err(|_| invalid())?,
    };
    let utc = naive.and_utc();
    Ok(i128::from(utc.timestamp()) * 1_000_000 + i128::from(utc.timestamp_subsec_micros()))
}
