//! PostgreSQL `numeric` <-> decimal and text. The binary form (`numeric_send`/`numeric_recv`
//! in src/backend/utils/adt/numeric.c) is a digit count, the weight of the first base-10000
//! digit, a sign word (which also marks NaN and ±Infinity) and the display scale, then the
//! base-10000 digits. Writing accepts integers, floats, Arrow decimals and decimal text; reading
//! gives an Arrow decimal exactly (or an error, never a rounding) or the exact text.

use std::fmt::Write as _;

use arrow::datatypes::{Decimal128Type, Decimal256Type, DecimalType, i256};
use bytes::{BufMut, BytesMut};

use super::value::Value;
use super::{Malformed, ValueError, put_len};

/// `numeric` sign words and limits (src/backend/utils/adt/numeric.c).
pub(super) const NUMERIC_POS: u16 = 0x0000;
pub(super) const NUMERIC_NEG: u16 = 0x4000;
pub(super) const NUMERIC_NAN: u16 = 0xC000;
pub(super) const NUMERIC_PINF: u16 = 0xD000;
pub(super) const NUMERIC_NINF: u16 = 0xF000;
const NUMERIC_DSCALE_MAX: i64 = 0x3FFF;
/// numeric digits are base 10000, i.e. 4 decimal digits each.
const NBASE: i32 = 10_000;
const DEC_DIGITS: i64 = 4;

/// A finite decimal number as ASCII digits: `±(digits[0] ++ digits[1]) ×
/// 10^exponent`. Two slices so that `"123.45"` can be used in place without
/// copying (`"123"`, `"45"`, exponent -2).
pub(super) struct DecimalDigits<'a> {
    negative: bool,
    digits: [&'a [u8]; 2],
    exponent: i64,
}

pub(super) enum NumericText<'a> {
    Finite(DecimalDigits<'a>),
    NaN,
    PosInf,
    NegInf,
}

pub(super) fn write_numeric_value(
    value: Value<'_>,
    out: &mut BytesMut,
    scratch: &mut String,
) -> std::result::Result<(), ValueError> {
    // Stack buffers for the digits of integers and decimals; 96 bytes hold
    // the 77 digits of the largest i256.
    let mut buf = [0u8; 96];
    let number = match value {
        Value::Int(v) => NumericText::Finite(DecimalDigits {
            negative: v < 0,
            digits: [u128_digits(v.unsigned_abs(), &mut buf), b""],
            exponent: 0,
        }),
        Value::Decimal128 { unscaled, scale } => NumericText::Finite(DecimalDigits {
            negative: unscaled < 0,
            digits: [u128_digits(unscaled.unsigned_abs(), &mut buf), b""],
            exponent: -i64::from(scale),
        }),
        Value::Decimal256 { unscaled, scale } => {
            let magnitude = unscaled.checked_abs().ok_or(ValueError::DecimalRange)?;
            NumericText::Finite(DecimalDigits {
                negative: unscaled.is_negative(),
                digits: [i256_digits(magnitude, &mut buf), b""],
                exponent: -i64::from(scale),
            })
        }
        Value::Float(f) if f.is_nan() => NumericText::NaN,
        Value::Float(f) if f.is_infinite() => {
            if f > 0.0 {
                NumericText::PosInf
            } else {
                NumericText::NegInf
            }
        }
        Value::Float(f) => {
            // Display of a float is the shortest string that reads back as
            // the same float, and never uses exponent notation: exactly the
            // decimal a user sees for the value.
            scratch.clear();
            write!(scratch, "{f}").map_err(|e| ValueError::Unformattable { reason: e.to_string() })?;
            parse_numeric(scratch)?
        }
        Value::Str(s) => parse_numeric(s)?,
        other => {
            return Err(ValueError::Mismatch { kind: other.kind(), target: "numeric".into() });
        }
    };
    match number {
        NumericText::Finite(d) => write_numeric(out, &d),
        NumericText::NaN => write_numeric_special(out, NUMERIC_NAN),
        NumericText::PosInf => write_numeric_special(out, NUMERIC_PINF),
        NumericText::NegInf => write_numeric_special(out, NUMERIC_NINF),
    }
}

/// Writes the decimal digits of `v` at the end of `buf`, returning them.
fn u128_digits(mut v: u128, buf: &mut [u8; 96]) -> &[u8] {
    let mut at = buf.len();
    // Most values fit 64 bits, whose divisions are a multiplication each (a 128-bit one is a
    // call into the runtime).
    if let Ok(mut small) = u64::try_from(v) {
        loop {
            at -= 1;
            buf[at] = b'0' + (small % 10) as u8;
            small /= 10;
            if small == 0 {
                return &buf[at..];
            }
        }
    }
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[at..];
        }
    }
}

/// Like [`u128_digits`] for a non-negative i256, 18 digits per (slow) 256-bit
/// division.
fn i256_digits(mut v: i256, buf: &mut [u8; 96]) -> &[u8] {
    const CHUNK: i256 = i256::from_i128(1_000_000_000_000_000_000);
    let mut at = buf.len();
    loop {
        let quotient = v.wrapping_div(CHUNK);
        // 0 <= remainder < 10^18 for non-negative v.
        let mut chunk = v.wrapping_sub(quotient.wrapping_mul(CHUNK)).as_i128() as u64;
        v = quotient;
        if v == i256::ZERO {
            loop {
                at -= 1;
                buf[at] = b'0' + (chunk % 10) as u8;
                chunk /= 10;
                if chunk == 0 {
                    return &buf[at..];
                }
            }
        }
        for _ in 0..18 {
            at -= 1;
            buf[at] = b'0' + (chunk % 10) as u8;
            chunk /= 10;
        }
    }
}

/// Parses numeric text the way `numeric_in` accepts it: optional sign,
/// digits with an optional decimal point, optional exponent, or
/// NaN / [+-]Infinity (case-insensitive).
pub(super) fn parse_numeric(s: &str) -> std::result::Result<NumericText<'_>, ValueError> {
    let invalid = || ValueError::invalid("numeric", s);
    let t = s.trim();
    let (negative, unsigned) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if unsigned.eq_ignore_ascii_case("nan") {
        return if unsigned.len() == t.len() { Ok(NumericText::NaN) } else { Err(invalid()) };
    }
    if unsigned.eq_ignore_ascii_case("infinity") || unsigned.eq_ignore_ascii_case("inf") {
        return Ok(if negative { NumericText::NegInf } else { NumericText::PosInf });
    }
    let bytes = unsigned.as_bytes();
    let int_len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let int_digits = &bytes[..int_len];
    let mut rest = &bytes[int_len..];
    let mut frac_digits: &[u8] = b"";
    if let Some((b'.', after)) = rest.split_first() {
        let frac_len = after.iter().take_while(|b| b.is_ascii_digit()).count();
        frac_digits = &after[..frac_len];
        rest = &after[frac_len..];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(invalid());
    }
    let mut exponent: i64 = 0;
    if let Some((b'e' | b'E', after)) = rest.split_first() {
        let exp_text = std::str::from_utf8(after).map_err(|_| invalid())?;
        // Bounded well beyond numeric's range, so the arithmetic below cannot
        // overflow; the range itself is checked when writing.
        exponent = exp_text.parse::<i64>().ok().filter(|e| e.abs() <= 1_000_000).ok_or_else(invalid)?;
        rest = b"";
    }
    if !rest.is_empty() {
        return Err(invalid());
    }
    let frac_len = i64::try_from(frac_digits.len()).map_err(|_| invalid())?;
    Ok(NumericText::Finite(DecimalDigits {
        negative,
        digits: [int_digits, frac_digits],
        exponent: exponent - frac_len,
    }))
}

fn write_numeric_special(out: &mut BytesMut, sign: u16) -> std::result::Result<(), ValueError> {
    out.put_i32(8);
    out.put_u16(0); // ndigits
    out.put_i16(0); // weight
    out.put_u16(sign);
    out.put_u16(0); // dscale
    Ok(())
}

/// Writes a finite number in `numeric`'s binary format: ndigits, weight (of
/// the first base-10000 digit), sign, display scale, then base-10000 digits
/// aligned so that the decimal point falls between two of them.
fn write_numeric(out: &mut BytesMut, n: &DecimalDigits<'_>) -> std::result::Result<(), ValueError> {
    let [head, tail] = n.digits;
    let len = head.len() + tail.len();
    let digit = |k: usize| -> u16 {
        let c = if k < head.len() { head[k] } else { tail[k - head.len()] };
        u16::from(c.wrapping_sub(b'0'))
    };
    // The display scale is the number of fractional digits as written
    // ("1.50" keeps scale 2), exactly as numeric_in computes it.
    let dscale = (-n.exponent).max(0);
    if dscale > NUMERIC_DSCALE_MAX {
        return Err(ValueError::NumericScale { digits: dscale, max: NUMERIC_DSCALE_MAX });
    }
    let dscale = dscale as u16;
    let (Some(first), Some(last)) = ((0..len).find(|&k| digit(k) != 0), (0..len).rev().find(|&k| digit(k) != 0)) else {
        // Zero: no digits at all, whatever the sign.
        out.put_i32(8);
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(NUMERIC_POS);
        out.put_u16(dscale);
        return Ok(());
    };
    // Decimal exponent of the digit at index k.
    let last_index = (len - 1) as i64;
    let exponent_of = |k: usize| n.exponent + (last_index - k as i64);
    let top = exponent_of(first);
    let bottom = exponent_of(last);
    let weight = top.div_euclid(DEC_DIGITS);
    let lowest_group = bottom.div_euclid(DEC_DIGITS);
    let weight = i16::try_from(weight).map_err(|_| ValueError::NumericRange)?;
    let ndigits = u16::try_from(i64::from(weight) - lowest_group + 1).map_err(|_| ValueError::NumericDigits)?;

    put_len(out, 8 + 2 * usize::from(ndigits))?;
    out.put_u16(ndigits);
    out.put_i16(weight);
    out.put_u16(if n.negative { NUMERIC_NEG } else { NUMERIC_POS });
    out.put_u16(dscale);
    for group in (lowest_group..=i64::from(weight)).rev() {
        let mut value = 0u16;
        for e in (group * DEC_DIGITS..(group + 1) * DEC_DIGITS).rev() {
            let d = if (bottom..=top).contains(&e) {
                // e within [bottom, top] maps to an index within [first, last].
                digit((last_index - (e - n.exponent)) as usize)
            } else {
                0
            };
            value = value * 10 + d;
        }
        out.put_u16(value);
    }
    Ok(())
}

/// The integer types an Arrow decimal's unscaled value lives in.
pub(super) trait Unscaled: Copy {
    const ZERO: Self;
    /// `self * factor + addend`, or `None` on overflow.
    fn mul_add(self, factor: i32, addend: i32) -> Option<Self>;
    fn checked_neg(self) -> Option<Self>;
    fn fits_precision(self, precision: u8) -> bool;
    const ARROW_TYPE: &'static str;
}

impl Unscaled for i128 {
    const ZERO: Self = 0;
    const ARROW_TYPE: &'static str = "Decimal128";
    fn mul_add(self, factor: i32, addend: i32) -> Option<Self> {
        // The accumulator is a magnitude (never negative) and factor and addend are at most
        // NBASE: below this bound nothing can overflow, and the plain product is several times
        // cheaper than the checked one (a library call for i128).
        const UNCHECKED_BELOW: i128 = i128::MAX / (NBASE as i128 + 1) - 1;
        if (0..UNCHECKED_BELOW).contains(&self) && (0..=NBASE).contains(&factor) && (0..=NBASE).contains(&addend) {
            return Some(self * i128::from(factor) + i128::from(addend));
        }
        self.checked_mul(factor.into())?.checked_add(addend.into())
    }
    fn checked_neg(self) -> Option<Self> {
        i128::checked_neg(self)
    }
    fn fits_precision(self, precision: u8) -> bool {
        Decimal128Type::is_valid_decimal_precision(self, precision)
    }
}

impl Unscaled for i256 {
    const ZERO: Self = i256::ZERO;
    const ARROW_TYPE: &'static str = "Decimal256";
    fn mul_add(self, factor: i32, addend: i32) -> Option<Self> {
        self.checked_mul(i256::from(factor))?.checked_add(i256::from(addend))
    }
    fn checked_neg(self) -> Option<Self> {
        i256::checked_neg(self)
    }
    fn fits_precision(self, precision: u8) -> bool {
        Decimal256Type::is_valid_decimal_precision(self, precision)
    }
}

const POW10: [i32; 5] = [1, 10, 100, 1_000, 10_000];

/// Decodes a `numeric` into an Arrow decimal's unscaled integer at `scale`,
/// exactly: digits beyond the scale, or a value beyond the precision, are
/// errors rather than rounded away.
pub(super) fn decode_numeric<T: Unscaled>(data: &[u8], precision: u8, scale: i8) -> std::result::Result<T, ValueError> {
    let header: [u8; 8] = data.get(..8).and_then(|h| h.try_into().ok()).ok_or(Malformed::NumericHeader)?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let weight = i64::from(i16::from_be_bytes([header[2], header[3]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let digits = &data[8..];
    if digits.len() != 2 * ndigits {
        return Err(Malformed::NumericLength { digits: ndigits, bytes: digits.len() }.into());
    }
    let negative = match sign {
        NUMERIC_POS => false,
        NUMERIC_NEG => true,
        NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF => {
            let what = match sign {
                NUMERIC_NAN => "NaN",
                NUMERIC_PINF => "Infinity",
                _ => "-Infinity",
            };
            return Err(ValueError::NumericSpecial { what });
        }
        other => return Err(Malformed::NumericSign(other).into()),
    };
    let digit = |i: usize| -> std::result::Result<i32, ValueError> {
        let d = i32::from(u16::from_be_bytes([digits[2 * i], digits[2 * i + 1]]));
        if d >= NBASE {
            return Err(Malformed::NumericDigit(d).into());
        }
        Ok(d)
    };
    // Errors are rare; only then is the value rendered for the message.
    let arrow_type = T::ARROW_TYPE;
    let lossy = || ValueError::Rounded { value: numeric_to_string(data), arrow_type, precision, scale };
    let overflow = || ValueError::DecimalOverflow { value: numeric_to_string(data), arrow_type, precision, scale };

    // Digit i has base-10000 weight (weight - i): it covers decimal exponents
    // 4*(weight-i) .. 4*(weight-i)+3. The unscaled value needs every decimal
    // digit down to exponent -scale, which lies in group `lowest_kept`.
    let lowest_kept = (-i64::from(scale)).div_euclid(DEC_DIGITS);
    // Decimal digits of group `lowest_kept` at or above exponent -scale.
    let kept_in_lowest = (DEC_DIGITS * lowest_kept + DEC_DIGITS + i64::from(scale)) as usize;
    let mut acc = T::ZERO;
    let mut group = weight;
    while group >= lowest_kept {
        let index = weight - group;
        let d = if (index as usize) < ndigits { digit(index as usize)? } else { 0 };
        acc = if group > lowest_kept {
            acc.mul_add(NBASE, d)
        } else {
            let dropped = POW10[4 - kept_in_lowest];
            if d % dropped != 0 {
                return Err(lossy());
            }
            acc.mul_add(POW10[kept_in_lowest], d / dropped)
        }
        .ok_or_else(overflow)?;
        group -= 1;
    }
    // Digits in groups below the kept range must all be zero.
    let first_dropped = usize::try_from(weight - lowest_kept + 1).unwrap_or(0);
    for i in first_dropped..ndigits {
        if digit(i)? != 0 {
            return Err(lossy());
        }
    }
    let value = if negative { acc.checked_neg().ok_or_else(overflow)? } else { acc };
    if !value.fits_precision(precision) {
        return Err(overflow());
    }
    Ok(value)
}

/// A `numeric` binary value as the exact text PostgreSQL's `numeric_out` prints: every digit
/// down to the value's display scale (`1.50` stays `1.50`), or `NaN`, `Infinity`, `-Infinity`.
/// Malformed input (a short header, a digit count the bytes do not hold, a digit not below
/// 10000, an unknown sign word) is an error, never a guess.
pub(super) fn numeric_text(data: &[u8]) -> std::result::Result<String, ValueError> {
    let header = data.get(..8).ok_or(Malformed::NumericHeader)?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    match sign {
        NUMERIC_NAN => return Ok("NaN".to_string()),
        NUMERIC_PINF => return Ok("Infinity".to_string()),
        NUMERIC_NINF => return Ok("-Infinity".to_string()),
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return Err(Malformed::NumericSign(other).into()),
    }
    let digits = &data[8..];
    if digits.len() != 2 * ndigits {
        return Err(Malformed::NumericLength { digits: ndigits, bytes: digits.len() }.into());
    }
    if let Some(d) = digits.chunks_exact(2).map(|c| i32::from(u16::from_be_bytes([c[0], c[1]]))).find(|d| *d >= NBASE) {
        return Err(Malformed::NumericDigit(d).into());
    }
    Ok(numeric_to_string(data))
}

/// Renders a finite `numeric` binary value as decimal text (see [`numeric_text`]).
pub(super) fn numeric_to_string(data: &[u8]) -> String {
    let Some(header) = data.get(..8) else {
        return "(malformed)".to_string();
    };
    let weight = i64::from(i16::from_be_bytes([header[2], header[3]]));
    let negative = u16::from_be_bytes([header[4], header[5]]) == NUMERIC_NEG;
    let dscale = i64::from(u16::from_be_bytes([header[6], header[7]]));
    let digits: Vec<i64> = data[8..].chunks_exact(2).map(|c| i64::from(u16::from_be_bytes([c[0], c[1]]))).collect();
    let digit_at =
        |group: i64| -> i64 { usize::try_from(weight - group).ok().and_then(|i| digits.get(i).copied()).unwrap_or(0) };
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    s.push_str(&digit_at(weight.max(0)).to_string());
    for group in (0..weight).rev() {
        let _ = write!(s, "{:04}", digit_at(group));
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::new();
        let mut group = -1;
        while (frac.len() as i64) < dscale {
            let _ = write!(frac, "{:04}", digit_at(group));
            group -= 1;
        }
        frac.truncate(dscale as usize);
        s.push_str(&frac);
    }
    s
}
