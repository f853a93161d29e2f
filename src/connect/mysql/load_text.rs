//! One Arrow value written straight into a `LOAD DATA` batch text ([`push_field`]), without a
//! [`mysql::Value`] or a per-value allocation for the common column types.
//!
//! The text is byte for byte what [`super::load_data::LoadData::push_row`] writes for the
//! value [`super::params::value_at`] gives (the table in `load_data`), and the same values
//! are refused with the same [`ParamError`]: `load_data/tests.rs` compares both over every
//! supported type. Dates, times, timestamps and durations still go through `value_at`, whose
//! `Value::Date` and `Value::Time` do not allocate.

use arrow::array::{Array, AsArray};
use arrow::datatypes::*;
use mysql::Value;

use super::load_data::{Encoding, push_digits, push_escaped, push_hex, push_value};
use super::params::{ParamError, bytes_packet_bytes, value_at, value_packet_bytes};
use crate::connect::decimal_text;

/// Appends the value at `row` of `array` as one field of the text (`hex`: the column travels
/// as hexadecimal); returns the bytes the value takes in an `INSERT` packet
/// ([`value_packet_bytes`] of the `value_at` value). `decimal`: (precision, scale) the text of
/// a decimal-text column must fit ([`decimal_text::fits_decimal`]). On an error the text may
/// hold part of the field: the caller cuts it back to the row's start.
pub fn push_field(
    text: &mut Vec<u8>,
    array: &dyn Array,
    row: usize,
    hex: bool,
    decimal: Option<(u32, u32)>,
) -> Result<usize, ParamError> {
    if array.is_null(row) {
        text.extend_from_slice(b"\\N");
        return Ok(value_packet_bytes(&Value::NULL));
    }
    let int = |text: &mut Vec<u8>, v: i64| {
        if v < 0 {
            text.push(b'-');
        }
        push_digits(text, v.unsigned_abs(), 1);
        value_packet_bytes(&Value::Int(0))
    };
    let uint = |text: &mut Vec<u8>, v: u64| {
        push_digits(text, v, 1);
        value_packet_bytes(&Value::UInt(0))
    };
    let bytes = |text: &mut Vec<u8>, b: &[u8]| {
        if hex {
            push_hex(text, b);
        } else {
            push_escaped(text, b);
        }
        bytes_packet_bytes(b.len())
    };
    let string = |text: &mut Vec<u8>, s: &str| {
        if let Some((precision, scale)) = decimal {
            decimal_text::fits_decimal(s, precision, scale)?;
        }
        Ok::<_, ParamError>(bytes(text, s.as_bytes()))
    };
    Ok(match array.data_type() {
        DataType::Boolean => int(text, i64::from(array.as_boolean().value(row))),
        DataType::Int8 => int(text, array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => int(text, array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => int(text, array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => int(text, array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => uint(text, array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => uint(text, array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => uint(text, array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => uint(text, array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 | DataType::Float64 => {
            let v = match array.data_type() {
                DataType::Float32 => f64::from(array.as_primitive::<Float32Type>().value(row)),
                _ => array.as_primitive::<Float64Type>().value(row),
            };
            if !v.is_finite() {
                return Err(ParamError::NotFinite { value: v });
            }
            // As `push_value` writes a double: `{:?}`, the shortest round-trip text.
            use std::io::Write;
            let _ = write!(text, "{v:?}");
            value_packet_bytes(&Value::Double(0.0))
        }
        DataType::Decimal128(precision, scale) => {
            let v = array.as_primitive::<Decimal128Type>().value(row);
            let start = text.len();
            if !push_decimal(text, v, *precision, *scale) {
                text.truncate(start);
                let s = array.as_primitive::<Decimal128Type>().value_as_string(row);
                return string(text, &s);
            }
            bytes_packet_bytes(text.len() - start)
        }
        DataType::Utf8 => string(text, array.as_string::<i32>().value(row))?,
        DataType::LargeUtf8 => string(text, array.as_string::<i64>().value(row))?,
        DataType::Utf8View => string(text, array.as_string_view().value(row))?,
        DataType::Binary => bytes(text, array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => bytes(text, array.as_binary::<i64>().value(row)),
        DataType::BinaryView => bytes(text, array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => bytes(text, array.as_fixed_size_binary().value(row)),
        _ => {
            // Dates, times, timestamps, durations (no allocation in their `Value`), Float16
            // and Decimal256 (rare): the `INSERT` path's value, written as `push_row` does.
            // `decimal` is only ever set for text columns, handled above.
            let value = value_at(array, row)?;
            push_value(text, &value, if hex { Encoding::Hex } else { Encoding::Text });
            value_packet_bytes(&value)
        }
    })
}

/// Appends `v` at `precision` and `scale` as Arrow's `value_as_string` writes it (digits, a
/// `-`, a `.` with `scale` digits after it, zeros appended for a negative scale); `false`
/// (nothing written) when `v` has more digits than `precision`, where Arrow cuts digits off:
/// the caller then uses Arrow's own text.
fn push_decimal(text: &mut Vec<u8>, v: i128, precision: u8, scale: i8) -> bool {
    let mut buffer = [0u8; 40];
    let digits = u128_digits(v.unsigned_abs(), &mut buffer);
    if digits.len() > usize::from(precision) {
        return false;
    }
    if v < 0 {
        text.push(b'-');
    }
    if scale <= 0 {
        text.extend_from_slice(digits);
        text.resize(text.len() + usize::from(scale.unsigned_abs()), b'0');
        return true;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        text.extend_from_slice(whole);
        text.push(b'.');
        text.extend_from_slice(fraction);
    } else {
        text.extend_from_slice(b"0.");
        text.resize(text.len() + scale - digits.len(), b'0');
        text.extend_from_slice(digits);
    }
    true
}

/// `v`'s decimal digits (no leading zeros; `0` for zero), written at the end of `buffer`.
fn u128_digits(mut v: u128, buffer: &mut [u8; 40]) -> &[u8] {
    let mut at = buffer.len();
    // 64-bit divisions while the value allows: i128 division is a slow library call.
    while v > u128::from(u64::MAX) {
        let mut low = (v % 10_000_000_000_000_000_000) as u64;
        v /= 10_000_000_000_000_000_000;
        for _ in 0..19 {
            at -= 1;
            buffer[at] = b'0' + (low % 10) as u8;
            low /= 10;
        }
    }
    let mut low = v as u64;
    loop {
        at -= 1;
        buffer[at] = b'0' + (low % 10) as u8;
        low /= 10;
        if low == 0 {
            break;
        }
    }
    &buffer[at..]
}

#[cfg(test)]
mod tests;
