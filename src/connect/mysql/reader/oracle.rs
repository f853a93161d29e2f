//! The independent reader the tests hold the native one to: the `mariadb` command-line client
//! (the C client library, over the text protocol, with the server formatting every value).
//! [`assert_same_as_client`] compares each value the native reader produced with the text the
//! client prints for the same query.
//!
//! The comparison parses the client's text with code of its own (chrono and a few lines here),
//! never with `super::super::convert`, so a conversion mistake cannot hide behind itself. Arrow
//! types are not the client's to say: the tests pin them.

use std::process::Command;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Decimal256Type, DurationMicrosecondType, Field, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::connect::metadata::SOURCE_TYPE as SOURCE_TYPE_METADATA_KEY;

/// The rows of `sql` on the test MariaDB (`root@127.0.0.1:3306`, database `test`) as the
/// `mariadb` client prints them in batch mode: each value's bytes, `None` for NULL. The session
/// runs in UTC, as Flow's do. Panics when the client is missing or the query fails.
///
/// Batch mode escapes tab, newline, backslash and NUL, which are unescaped here; NULL and the
/// text `NULL` print alike, so test data must not hold that text. (`--binary-as-hex` would be
/// easier to read, but this client prints a NULL as `0x` with it, as it does an empty string.)
pub(super) fn client_rows(sql: &str) -> Vec<Vec<Option<Vec<u8>>>> {
    let out = Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-P", "3306", "-u", "root", "--default-character-set=utf8mb4"])
        .args(["--batch", "--skip-column-names", "test", "-e", &format!("SET time_zone = '+00:00'; {sql}")])
        .output()
        .expect("the mariadb client runs (package mariadb-client)");
    assert!(out.status.success(), "mariadb -e {sql}: {}", String::from_utf8_lossy(&out.stderr));
    let mut stdout = out.stdout;
    if stdout.last() == Some(&b'\n') {
        stdout.pop();
    }
    if stdout.is_empty() {
        return Vec::new();
    }
    stdout
        .split(|&b| b == b'\n')
        .map(|line| line.split(|&b| b == b'\t').map(|v| (v != b"NULL").then(|| unescape(v))).collect())
        .collect()
}

fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'0') => out.push(0),
            Some(&other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

/// Every value of `batch` (the native reader's result for `sql`) equals what the client prints
/// for `sql`: same number of rows and columns, NULL where the client prints NULL, and each
/// value the same as the client's text read back by its Arrow type.
pub(super) fn assert_same_as_client(batch: &RecordBatch, sql: &str) {
    let rows = client_rows(sql);
    assert_eq!(batch.num_rows(), rows.len(), "rows of {sql}");
    let schema = batch.schema();
    for (row, values) in rows.iter().enumerate() {
        assert_eq!(values.len(), batch.num_columns(), "columns of row {row} of {sql}");
        for (column, client) in values.iter().enumerate() {
            let field = schema.field(column);
            let array = batch.column(column);
            let native = (!array.is_null(row)).then(|| native_text(field, array.as_ref(), row));
            let client = client.as_deref().map(|bytes| client_text(field, bytes));
            assert_eq!(native, client, "`{}`, row {row}, of {sql}", field.name());
        }
    }
}

/// A native value in the canonical text both sides are brought to.
fn native_text(field: &Field, array: &dyn Array, row: usize) -> String {
    let bits = bit_width(field);
    match field.data_type() {
        DataType::Boolean if bits.is_some() => hex(&[u8::from(array.as_boolean().value(row))]),
        DataType::Boolean => u8::from(array.as_boolean().value(row)).to_string(),
        DataType::UInt64 if bits.is_some() => {
            let value = array.as_primitive::<UInt64Type>().value(row).to_be_bytes();
            hex(&value[8 - bits.unwrap_or(64).div_ceil(8)..])
        }
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => float_digits(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => format!("{:?}", array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(..) => array.as_primitive::<Decimal128Type>().value_as_string(row),
        DataType::Decimal256(..) => array.as_primitive::<Decimal256Type>().value_as_string(row),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::LargeBinary => hex(array.as_binary::<i64>().value(row)),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            epoch_date(i64::from(days)).to_string()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            let instant = DateTime::from_timestamp_micros(micros).expect("timestamp in range");
            instant.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            array.as_primitive::<DurationMicrosecondType>().value(row).to_string()
        }
        other => panic!("the oracle does not compare {other} (`{}`)", field.name()),
    }
}

/// The client's bytes brought to [`native_text`]'s form for `field`'s type: bytes (binary
/// strings, `BIT`) as `0x` and upper-case hex, the rest as text read back by type.
fn client_text(field: &Field, bytes: &[u8]) -> String {
    if matches!(field.data_type(), DataType::LargeBinary) || bit_width(field).is_some() {
        return hex(bytes);
    }
    let text =
        std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("`{}`: the client printed {bytes:?}", field.name()));
    let parsed = match field.data_type() {
        DataType::Float32 => text.parse::<f64>().ok().map(float_digits),
        DataType::Float64 => text.parse::<f64>().ok().map(|v| format!("{v:?}")),
        DataType::Timestamp(..) => NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        DataType::Duration(_) => time_micros(text).map(|micros| micros.to_string()),
        _ => Some(text.to_string()),
    };
    parsed.unwrap_or_else(|| panic!("`{}`: the client printed {text:?}", field.name()))
}

/// A `FLOAT` to the 6 significant digits the server prints (`3.14159` for 3.1415927).
fn float_digits(value: f64) -> String {
    format!("{value:.5e}")
}

/// `n` of a `bit(n)` source type.
fn bit_width(field: &Field) -> Option<usize> {
    let source = field.metadata().get(SOURCE_TYPE_METADATA_KEY)?;
    source.strip_prefix("bit(")?.strip_suffix(')')?.parse().ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold("0x".to_string(), |out, b| out + &format!("{b:02X}"))
}

fn epoch_date(days: i64) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    epoch.checked_add_signed(chrono::TimeDelta::days(days)).expect("date in range")
}

/// A `TIME` as the client prints it (`-838:59:59`, `12:34:56.500000`) in microseconds.
fn time_micros(text: &str) -> Option<i64> {
    let (sign, text) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (clock, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (hours, minutes, seconds) = (parts.next()??, parts.next()??, parts.next()??);
    let micros = if fraction.is_empty() { 0 } else { format!("{fraction:0<6}").parse::<i64>().ok()? };
    Some(sign * (((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros))
}
