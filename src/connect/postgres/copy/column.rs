//! One column of the rows being decoded ([`DecodedColumn`]): the PostgreSQL type's wire format
//! read into plain buffers (a `Vec` of values, a validity bitmap, offsets and bytes for text),
//! which, unlike Arrow's builders, can drop the values of a row that turned out to be incomplete
//! ([`DecodedColumn::truncate`]). That lets the decoder read each tuple once, straight from the
//! chunk it arrives in, and take back what it appended when the chunk ends mid-row.
//!
//! Text is checked for UTF-8 once per batch, over the column's whole buffer (Arrow's own check
//! when the array is built); only when that fails are the values checked one by one, to name the
//! first bad row ([`DecodedColumn::first_bad_text`]).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, BooleanBufferBuilder, NullBufferBuilder, PrimitiveArray, StringArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Decimal256Type, DurationMicrosecondType,
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType, UInt64Type, i256,
};

use super::numeric::{decode_numeric, numeric_text};
use super::temporal::{MICROS_PER_DAY, PG_EPOCH_DAYS, PG_EPOCH_MICROS, PG_TIME_MAX};
use super::{JSONB_VERSION, Malformed, ValueError};
use crate::connect::postgres::types::PgScalar;

/// One column's decoded values, typed by the PostgreSQL type it reads.
pub(super) struct DecodedColumn {
    pub(super) name: String,
    data_type: DataType,
    nulls: NullBufferBuilder,
    values: Values,
    /// Rows a new batch's buffers are sized for.
    capacity: usize,
}

/// Text-like values: Arrow's i32 offsets (one more than the values) and the bytes.
struct Bytes {
    offsets: Vec<i32>,
    data: Vec<u8>,
}

impl Bytes {
    fn with_capacity(rows: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Bytes { offsets, data: Vec::with_capacity(bytes) }
    }

    /// Closes the value whose bytes were just appended. The decoder cuts a batch before its
    /// bytes reach 2 GiB; a value past that anyway is refused rather than wrapped.
    #[inline]
    fn close_value(&mut self) -> Result<(), ValueError> {
        let end = i32::try_from(self.data.len()).map_err(|_| ValueError::TooLarge { bytes: self.data.len() })?;
        self.offsets.push(end);
        Ok(())
    }

    #[inline]
    fn push(&mut self, value: &[u8]) -> Result<(), ValueError> {
        self.data.extend_from_slice(value);
        self.close_value()
    }

    fn truncate(&mut self, rows: usize) {
        if let Some(&end) = self.offsets.get(rows) {
            self.offsets.truncate(rows + 1);
            self.data.truncate(usize::try_from(end).unwrap_or(0));
        }
    }

    /// The buffers, leaving empty ones sized like these for the next batch.
    fn take(&mut self, rows: usize) -> (OffsetBuffer<i32>, Buffer) {
        let next = Bytes::with_capacity(rows, self.data.len());
        let Bytes { offsets, data } = std::mem::replace(self, next);
        // Offsets start at 0 and never decrease: `close_value` pushes the growing length.
        (OffsetBuffer::new(ScalarBuffer::from(offsets)), Buffer::from_vec(data))
    }
}

/// The index of the first of `rows` values (delimited by `offsets` in `data`) that is not UTF-8
/// on its own, with the reason.
fn first_bad_utf8(offsets: &[i32], data: &[u8], rows: usize) -> Option<(usize, std::str::Utf8Error)> {
    let bounds = |i: usize| -> Option<(usize, usize)> {
        let start = usize::try_from(*offsets.get(i)?).ok()?;
        let end = usize::try_from(*offsets.get(i + 1)?).ok()?;
        Some((start, end))
    };
    (0..rows)
        .map_while(|i| bounds(i).map(|b| (i, b)))
        .find_map(|(i, (start, end))| std::str::from_utf8(data.get(start..end)?).err().map(|e| (i, e)))
}

/// Why a column's values could not become an Arrow array.
pub(super) enum Unfinished {
    /// The value at `index` (0-based in the batch) is text but not UTF-8.
    NotUtf8 { index: usize, error: ValueError },
    /// Arrow refused the buffers: a bug in Flow.
    Arrow(arrow::error::ArrowError),
}

/// The buffers of each kind of column, and how its wire values are read.
enum Values {
    Bool(BooleanBufferBuilder),
    Int2(Vec<i16>),
    Int4(Vec<i32>),
    Int8(Vec<i64>),
    /// `oid`: an unsigned 32-bit number, kept in an i64.
    Oid(Vec<i64>),
    Float4(Vec<f32>),
    Float8(Vec<f64>),
    Numeric128 {
        values: Vec<i128>,
        precision: u8,
        scale: i8,
    },
    Numeric256 {
        values: Vec<i256>,
        precision: u8,
        scale: i8,
    },
    /// An unconstrained `numeric`, as its exact decimal text (`numeric_out`'s form).
    NumericText(Bytes),
    /// text-like types and json: the bytes are the UTF-8 text.
    Text(Bytes),
    /// jsonb: a version byte, then the text.
    Jsonb(Bytes),
    /// uuid: 16 bytes, kept as the canonical 36-character text.
    Uuid(Bytes),
    Bytea(Bytes),
    /// Days since 1970-01-01.
    Date(Vec<i32>),
    /// µs since midnight.
    Time(Vec<i64>),
    /// µs since 1970-01-01 (UTC for timestamptz).
    Timestamp(Vec<i64>),
    /// µs, of an interval without months.
    Interval(Vec<i64>),
    /// `bit(n)`, n <= 64: the number its bits spell.
    Bits(Vec<u64>),
}

fn fixed<const N: usize>(data: &[u8]) -> Result<[u8; N], ValueError> {
    data.try_into().map_err(|_| Malformed::Length { expected: N, got: data.len() }.into())
}

impl DecodedColumn {
    /// The column reading PostgreSQL `scalar` values into Arrow type `data_type`, with room for
    /// `capacity` rows a batch; `None` if that pairing is not supported (the source's type
    /// changed since the schema was planned).
    pub(super) fn new(name: &str, scalar: PgScalar, data_type: &DataType, capacity: usize) -> Option<Self> {
        use DataType as D;
        use PgScalar as P;
        let values = match (scalar, data_type) {
            (P::Bool, D::Boolean) => Values::Bool(BooleanBufferBuilder::new(capacity)),
            (P::Int2, D::Int16) => Values::Int2(Vec::with_capacity(capacity)),
            (P::Int4, D::Int32) => Values::Int4(Vec::with_capacity(capacity)),
            (P::Int8, D::Int64) => Values::Int8(Vec::with_capacity(capacity)),
            (P::Oid, D::Int64) => Values::Oid(Vec::with_capacity(capacity)),
            (P::Float4, D::Float32) => Values::Float4(Vec::with_capacity(capacity)),
            (P::Float8, D::Float64) => Values::Float8(Vec::with_capacity(capacity)),
            (P::Numeric, &D::Decimal128(precision, scale)) => {
                arrow::datatypes::validate_decimal_precision_and_scale::<Decimal128Type>(precision, scale).ok()?;
                Values::Numeric128 { values: Vec::with_capacity(capacity), precision, scale }
            }
            (P::Numeric, &D::Decimal256(precision, scale)) => {
                arrow::datatypes::validate_decimal_precision_and_scale::<Decimal256Type>(precision, scale).ok()?;
                Values::Numeric256 { values: Vec::with_capacity(capacity), precision, scale }
            }
            (P::Numeric, D::Utf8) => Values::NumericText(Bytes::with_capacity(capacity, capacity * 16)),
            (P::Text | P::Json, D::Utf8) => Values::Text(Bytes::with_capacity(capacity, capacity * 16)),
            (P::Jsonb, D::Utf8) => Values::Jsonb(Bytes::with_capacity(capacity, capacity * 16)),
            (P::Uuid, D::Utf8) => Values::Uuid(Bytes::with_capacity(capacity, capacity * 36)),
            (P::Bytea, D::Binary) => Values::Bytea(Bytes::with_capacity(capacity, capacity * 16)),
            (P::Date, D::Date32) => Values::Date(Vec::with_capacity(capacity)),
            (P::Time, D::Time64(TimeUnit::Microsecond)) => Values::Time(Vec::with_capacity(capacity)),
            // Arrow stores UTC instants whatever the zone, so any zone the schema names is fine
            // for timestamptz.
            (P::Timestamp, D::Timestamp(TimeUnit::Microsecond, None))
            | (P::Timestamptz, D::Timestamp(TimeUnit::Microsecond, Some(_))) => {
                Values::Timestamp(Vec::with_capacity(capacity))
            }
            (P::Interval, D::Duration(TimeUnit::Microsecond)) => Values::Interval(Vec::with_capacity(capacity)),
            (P::Bit, D::UInt64) => Values::Bits(Vec::with_capacity(capacity)),
            _ => return None,
        };
        Some(DecodedColumn {
            name: name.to_string(),
            data_type: data_type.clone(),
            nulls: NullBufferBuilder::new(capacity),
            values,
            capacity,
        })
    }

    /// Appends a NULL (a zero or an empty value under a cleared validity bit).
    #[inline]
    pub(super) fn push_null(&mut self) {
        self.nulls.append_null();
        match &mut self.values {
            Values::Bool(b) => b.append(false),
            Values::Int2(v) => v.push(0),
            Values::Int4(v) | Values::Date(v) => v.push(0),
            Values::Int8(v) | Values::Oid(v) | Values::Time(v) | Values::Timestamp(v) | Values::Interval(v) => {
                v.push(0)
            }
            Values::Float4(v) => v.push(0.0),
            Values::Float8(v) => v.push(0.0),
            Values::Numeric128 { values, .. } => values.push(0),
            Values::Numeric256 { values, .. } => values.push(i256::ZERO),
            Values::NumericText(b) | Values::Text(b) | Values::Jsonb(b) | Values::Uuid(b) | Values::Bytea(b) => {
                // The length did not change: a value of the current length cannot fail.
                let end = b.offsets.last().copied().unwrap_or(0);
                b.offsets.push(end);
            }
            Values::Bits(v) => v.push(0),
        }
    }

    /// Decodes one non-NULL field's bytes and appends the value. Text is not checked for UTF-8
    /// here but when the batch is built ([`finish`](Self::finish)).
    #[inline]
    pub(super) fn push(&mut self, data: &[u8]) -> Result<(), ValueError> {
        match &mut self.values {
            Values::Bool(b) => b.append(fixed::<1>(data)?[0] != 0),
            Values::Int2(v) => v.push(i16::from_be_bytes(fixed(data)?)),
            Values::Int4(v) => v.push(i32::from_be_bytes(fixed(data)?)),
            Values::Int8(v) => v.push(i64::from_be_bytes(fixed(data)?)),
            Values::Oid(v) => v.push(u32::from_be_bytes(fixed(data)?).into()),
            Values::Float4(v) => v.push(f32::from_be_bytes(fixed(data)?)),
            Values::Float8(v) => v.push(f64::from_be_bytes(fixed(data)?)),
            Values::Numeric128 { values, precision, scale } => {
                values.push(decode_numeric::<i128>(data, *precision, *scale)?)
            }
            Values::Numeric256 { values, precision, scale } => {
                values.push(decode_numeric::<i256>(data, *precision, *scale)?)
            }
            Values::NumericText(b) => b.push(numeric_text(data)?.as_bytes())?,
            Values::Text(b) | Values::Bytea(b) => b.push(data)?,
            Values::Jsonb(b) => match data.split_first() {
                Some((&JSONB_VERSION, text)) => b.push(text)?,
                Some((&version, _)) => return Err(ValueError::JsonbVersion { version }),
                None => return Err(ValueError::EmptyJsonb),
            },
            Values::Uuid(b) => {
                let bytes: [u8; 16] = fixed(data)?;
                let mut text = [0u8; 36];
                format_uuid(&bytes, &mut text);
                b.push(&text)?;
            }
            Values::Date(v) => {
                let days = i32::from_be_bytes(fixed(data)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err(ValueError::Infinite { what: "date" });
                }
                let days = i64::from(days) + PG_EPOCH_DAYS;
                v.push(i32::try_from(days).map_err(|_| ValueError::ArrowDateRange { days })?);
            }
            Values::Time(v) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if !(0..=PG_TIME_MAX).contains(&micros) {
                    return Err(Malformed::Time(micros).into());
                }
                v.push(micros);
            }
            Values::Timestamp(v) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err(ValueError::Infinite { what: "timestamp" });
                }
                v.push(micros.checked_add(PG_EPOCH_MICROS).ok_or(ValueError::ArrowTimestampRange)?);
            }
            Values::Interval(v) => v.push(interval(fixed(data)?)?),
            Values::Bits(v) => v.push(bits(data)?),
        }
        self.nulls.append_non_null();
        Ok(())
    }

    /// Bytes of values held so far, for the variable-width columns.
    #[inline]
    pub(super) fn value_bytes(&self) -> Option<usize> {
        match &self.values {
            Values::NumericText(b) | Values::Text(b) | Values::Jsonb(b) | Values::Uuid(b) | Values::Bytea(b) => {
                Some(b.data.len())
            }
            _ => None,
        }
    }

    /// Keeps the first `rows` values, dropping those of a row decoded only in part.
    pub(super) fn truncate(&mut self, rows: usize) {
        self.nulls.truncate(rows);
        match &mut self.values {
            Values::Bool(b) => b.truncate(rows),
            Values::Int2(v) => v.truncate(rows),
            Values::Int4(v) | Values::Date(v) => v.truncate(rows),
            Values::Int8(v) | Values::Oid(v) | Values::Time(v) | Values::Timestamp(v) | Values::Interval(v) => {
                v.truncate(rows)
            }
            Values::Float4(v) => v.truncate(rows),
            Values::Float8(v) => v.truncate(rows),
            Values::Numeric128 { values, .. } => values.truncate(rows),
            Values::Numeric256 { values, .. } => values.truncate(rows),
            Values::NumericText(b) | Values::Text(b) | Values::Jsonb(b) | Values::Uuid(b) | Values::Bytea(b) => {
                b.truncate(rows)
            }
            Values::Bits(v) => v.truncate(rows),
        }
    }

    /// The first of the `rows` values held that is text but not UTF-8: its index and why.
    pub(super) fn first_bad_text(&self, rows: usize) -> Option<(usize, ValueError)> {
        match &self.values {
            Values::Text(b) | Values::Jsonb(b) => {
                first_bad_utf8(&b.offsets, &b.data, rows).map(|(i, e)| (i, ValueError::NotUtf8(e)))
            }
            _ => None,
        }
    }

    /// The values as an Arrow array, leaving the column empty for the next batch.
    pub(super) fn finish(&mut self) -> Result<ArrayRef, Unfinished> {
        let nulls = self.nulls.finish();
        let capacity = self.capacity;
        fn take<T: ArrowNativeType>(v: &mut Vec<T>, capacity: usize) -> ScalarBuffer<T> {
            ScalarBuffer::from(std::mem::replace(v, Vec::with_capacity(capacity)))
        }
        fn primitive<T: ArrowPrimitiveType>(
            values: ScalarBuffer<T::Native>,
            nulls: Option<NullBuffer>,
        ) -> PrimitiveArray<T> {
            PrimitiveArray::<T>::new(values, nulls)
        }
        let array: ArrayRef = match &mut self.values {
            Values::Bool(b) => {
                let values = std::mem::replace(b, BooleanBufferBuilder::new(capacity)).finish();
                Arc::new(BooleanArray::new(values, nulls))
            }
            Values::Int2(v) => Arc::new(primitive::<Int16Type>(take(v, capacity), nulls)),
            Values::Int4(v) => Arc::new(primitive::<Int32Type>(take(v, capacity), nulls)),
            Values::Int8(v) | Values::Oid(v) => Arc::new(primitive::<Int64Type>(take(v, capacity), nulls)),
            Values::Float4(v) => Arc::new(primitive::<Float32Type>(take(v, capacity), nulls)),
            Values::Float8(v) => Arc::new(primitive::<Float64Type>(take(v, capacity), nulls)),
            Values::Numeric128 { values, precision, scale } => Arc::new(
                primitive::<Decimal128Type>(take(values, capacity), nulls)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(Unfinished::Arrow)?,
            ),
            Values::Numeric256 { values, precision, scale } => Arc::new(
                primitive::<Decimal256Type>(take(values, capacity), nulls)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(Unfinished::Arrow)?,
            ),
            Values::NumericText(b) | Values::Text(b) | Values::Jsonb(b) | Values::Uuid(b) => {
                let (offsets, data) = b.take(capacity);
                // Arrow checks the whole buffer at once; only if that fails are the values
                // checked one by one, to name the first bad one.
                match StringArray::try_new(offsets.clone(), data.clone(), nulls) {
                    Ok(array) => Arc::new(array),
                    Err(e) => {
                        return Err(match first_bad_utf8(&offsets, &data, offsets.len() - 1) {
                            Some((index, e)) => Unfinished::NotUtf8 { index, error: ValueError::NotUtf8(e) },
                            None => Unfinished::Arrow(e),
                        });
                    }
                }
            }
            Values::Bytea(b) => {
                let (offsets, data) = b.take(capacity);
                Arc::new(BinaryArray::try_new(offsets, data, nulls).map_err(Unfinished::Arrow)?)
            }
            Values::Date(v) => Arc::new(primitive::<Date32Type>(take(v, capacity), nulls)),
            Values::Time(v) => Arc::new(primitive::<Time64MicrosecondType>(take(v, capacity), nulls)),
            Values::Timestamp(v) => Arc::new(
                primitive::<TimestampMicrosecondType>(take(v, capacity), nulls).with_data_type(self.data_type.clone()),
            ),
            Values::Interval(v) => Arc::new(primitive::<DurationMicrosecondType>(take(v, capacity), nulls)),
            Values::Bits(v) => Arc::new(primitive::<UInt64Type>(take(v, capacity), nulls)),
        };
        Ok(array)
    }
}

/// An `interval` of days and µs (months have no fixed length) as µs.
fn interval(data: [u8; 16]) -> Result<i64, ValueError> {
    let [m0, m1, m2, m3, m4, m5, m6, m7, d0, d1, d2, d3, o0, o1, o2, o3] = data;
    let micros = i64::from_be_bytes([m0, m1, m2, m3, m4, m5, m6, m7]);
    let days = i32::from_be_bytes([d0, d1, d2, d3]);
    let months = i32::from_be_bytes([o0, o1, o2, o3]);
    if months != 0 {
        return Err(ValueError::IntervalMonths { months });
    }
    i64::from(days).checked_mul(MICROS_PER_DAY).and_then(|d| d.checked_add(micros)).ok_or(ValueError::IntervalOverflow)
}

/// A `bit(n)` value, n <= 64, as the number its bits spell. PostgreSQL's `bit_send` format: the
/// bit count (int4), then the bits, most significant first, padded with zeros to whole bytes.
fn bits(data: &[u8]) -> Result<u64, ValueError> {
    let (count, bytes) = data.split_first_chunk::<4>().ok_or(Malformed::Length { expected: 4, got: data.len() })?;
    let count = usize::try_from(i32::from_be_bytes(*count)).unwrap_or(usize::MAX);
    if count > 64 || bytes.len() != count.div_ceil(8) {
        return Err(Malformed::Length { expected: 4 + count.min(64).div_ceil(8), got: data.len() }.into());
    }
    let value = bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
    Ok(if count == 0 { 0 } else { value >> (bytes.len() * 8 - count) })
}

/// Canonical lowercase hyphenated form, as PostgreSQL's `uuid_out` prints it.
fn format_uuid(bytes: &[u8; 16], out: &mut [u8; 36]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pos = 0;
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[pos] = b'-';
            pos += 1;
        }
        out[pos] = HEX[usize::from(byte >> 4)];
        out[pos + 1] = HEX[usize::from(byte & 0x0f)];
        pos += 2;
    }
}
