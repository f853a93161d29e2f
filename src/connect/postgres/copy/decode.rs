//! PostgreSQL binary COPY stream -> Arrow record batches ([`CopyDecoder`]). Chunks arrive with
//! arbitrary boundaries: each frame (the header, then one tuple at a time) is first delimited
//! without decoding, then decoded straight from the chunk, so only a frame split across chunks
//! is ever copied.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    DurationMicrosecondBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit, i256};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;

use super::numeric::{decode_numeric, numeric_text};
use super::temporal::{MICROS_PER_DAY, PG_EPOCH_DAYS, PG_EPOCH_MICROS, PG_TIME_MAX};
use super::{JSONB_VERSION, Malformed, SIGNATURE, ValueError, column_err, failure};
use crate::connect::postgres::types::{PgScalar, unsupported_pg_type_message};
use crate::diagnostics::codes;

/// Signature, 32-bit flags field and 32-bit header-extension length.
const HEADER_FIXED_LEN: usize = 19;
/// Flags bit 16: each tuple carries an OID (tables WITH OIDS, gone since
/// PostgreSQL 12). Bits 17-31 are reserved for format-breaking changes, so a
/// reader must reject them; bits 0-15 may be ignored.
pub(super) const FLAG_HAS_OIDS: u32 = 1 << 16;
const FLAGS_CRITICAL: u32 = 0xffff_0000;

/// Reads a PostgreSQL binary COPY stream (from `COPY (query) TO STDOUT
/// (FORMAT binary)`) into Arrow record batches.
///
/// Feed the raw CopyData chunks to [`push`](Self::push) in order, then call
/// [`finish`](Self::finish). After any error the decoder is unusable (a
/// half-decoded row cannot be rolled back); every later call returns an error.
///
/// Batches hold `batch_size` rows, except the last one and, rarely, a batch
/// cut early because one more row would put over 2 GiB of values into a
/// text or bytea column (Arrow's i32 offsets cannot address more).
pub struct CopyDecoder {
    schema: SchemaRef,
    columns: Vec<ColumnDecoder>,
    batch_size: usize,
    rows_in_batch: usize,
    /// Rows decoded so far in the whole stream, for error messages.
    rows_total: u64,
    state: StreamState,
    /// Bytes of a header or tuple that started in an earlier chunk. Only ever
    /// holds (part of) one frame: complete frames are decoded straight from
    /// the chunk they arrive in.
    carry: Vec<u8>,
    failed: bool,
    /// Most value bytes one Utf8/Binary column of a batch may hold: Arrow
    /// addresses them with i32 offsets. A field in tests, so the early cut it
    /// causes can be tested without gigabytes of data.
    pub(super) value_bytes_limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    Header,
    Tuples,
    Done,
}

/// How much of a frame (the header or one tuple) a buffer holds.
enum Scan {
    /// The frame is this many bytes long.
    Complete(usize),
    /// At least this many bytes (from the frame start) are needed to go on.
    Need(usize),
}

struct ColumnDecoder {
    name: String,
    builder: ColumnBuilder,
}

/// One Arrow builder per column, typed by the PostgreSQL type it decodes.
enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int2(Int16Builder),
    Int4(Int32Builder),
    Int8(Int64Builder),
    Oid(Int64Builder),
    Float4(Float32Builder),
    Float8(Float64Builder),
    Numeric128 {
        builder: Decimal128Builder,
        precision: u8,
        scale: i8,
    },
    Numeric256 {
        builder: Decimal256Builder,
        precision: u8,
        scale: i8,
    },
    /// An unconstrained `numeric`, as its exact decimal text (`numeric_out`'s form).
    NumericText(StringBuilder),
    /// text-like types and json: the bytes are the UTF-8 text.
    Text(StringBuilder),
    Jsonb(StringBuilder),
    Uuid(StringBuilder),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Interval(DurationMicrosecondBuilder),
    /// `bit(n)`, n <= 64: the number its bits spell.
    Bits(UInt64Builder),
}

impl ColumnBuilder {
    /// The builder for PostgreSQL `scalar` values into Arrow type `dt`, or
    /// `None` if that pairing is not supported.
    fn new(scalar: PgScalar, dt: &DataType, capacity: usize) -> Option<ColumnBuilder> {
        use DataType as D;
        use PgScalar as P;
        let builder = match (scalar, dt) {
            (P::Bool, D::Boolean) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            (P::Int2, D::Int16) => ColumnBuilder::Int2(Int16Builder::with_capacity(capacity)),
            (P::Int4, D::Int32) => ColumnBuilder::Int4(Int32Builder::with_capacity(capacity)),
            (P::Int8, D::Int64) => ColumnBuilder::Int8(Int64Builder::with_capacity(capacity)),
            (P::Oid, D::Int64) => ColumnBuilder::Oid(Int64Builder::with_capacity(capacity)),
            (P::Float4, D::Float32) => ColumnBuilder::Float4(Float32Builder::with_capacity(capacity)),
            (P::Float8, D::Float64) => ColumnBuilder::Float8(Float64Builder::with_capacity(capacity)),
            (P::Numeric, &D::Decimal128(precision, scale)) => ColumnBuilder::Numeric128 {
                builder: Decimal128Builder::with_capacity(capacity).with_precision_and_scale(precision, scale).ok()?,
                precision,
                scale,
            },
            (P::Numeric, &D::Decimal256(precision, scale)) => ColumnBuilder::Numeric256 {
                builder: Decimal256Builder::with_capacity(capacity).with_precision_and_scale(precision, scale).ok()?,
                precision,
                scale,
            },
            (P::Numeric, D::Utf8) => ColumnBuilder::NumericText(StringBuilder::with_capacity(capacity, capacity * 16)),
            (P::Text | P::Json, D::Utf8) => ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
            (P::Jsonb, D::Utf8) => ColumnBuilder::Jsonb(StringBuilder::with_capacity(capacity, capacity * 16)),
            (P::Uuid, D::Utf8) => ColumnBuilder::Uuid(StringBuilder::with_capacity(capacity, capacity * 36)),
            (P::Bytea, D::Binary) => ColumnBuilder::Bytea(BinaryBuilder::with_capacity(capacity, capacity * 16)),
            (P::Date, D::Date32) => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            (P::Time, D::Time64(TimeUnit::Microsecond)) => {
                ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            // Arrow stores UTC instants whatever the zone, so any zone the
            // schema names is fine for timestamptz.
            (P::Timestamp, D::Timestamp(TimeUnit::Microsecond, None))
            | (P::Timestamptz, D::Timestamp(TimeUnit::Microsecond, Some(_))) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_data_type(dt.clone()),
            ),
            (P::Interval, D::Duration(TimeUnit::Microsecond)) => {
                ColumnBuilder::Interval(DurationMicrosecondBuilder::with_capacity(capacity))
            }
            (P::Bit, D::UInt64) => ColumnBuilder::Bits(UInt64Builder::with_capacity(capacity)),
            _ => return None,
        };
        Some(builder)
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Int2(b) => b.append_null(),
            ColumnBuilder::Int4(b) => b.append_null(),
            ColumnBuilder::Int8(b) | ColumnBuilder::Oid(b) => b.append_null(),
            ColumnBuilder::Float4(b) => b.append_null(),
            ColumnBuilder::Float8(b) => b.append_null(),
            ColumnBuilder::Numeric128 { builder, .. } => builder.append_null(),
            ColumnBuilder::Numeric256 { builder, .. } => builder.append_null(),
            ColumnBuilder::Text(b)
            | ColumnBuilder::Jsonb(b)
            | ColumnBuilder::Uuid(b)
            | ColumnBuilder::NumericText(b) => b.append_null(),
            ColumnBuilder::Bytea(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Time(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Interval(b) => b.append_null(),
            ColumnBuilder::Bits(b) => b.append_null(),
        }
    }

    /// Decodes one non-NULL field's bytes and appends the value.
    fn append(&mut self, data: &[u8]) -> std::result::Result<(), ValueError> {
        match self {
            ColumnBuilder::Bool(b) => b.append_value(fixed::<1>(data)?[0] != 0),
            ColumnBuilder::Int2(b) => b.append_value(i16::from_be_bytes(fixed(data)?)),
            ColumnBuilder::Int4(b) => b.append_value(i32::from_be_bytes(fixed(data)?)),
            ColumnBuilder::Int8(b) => b.append_value(i64::from_be_bytes(fixed(data)?)),
            ColumnBuilder::Oid(b) => b.append_value(u32::from_be_bytes(fixed(data)?).into()),
            ColumnBuilder::Float4(b) => b.append_value(f32::from_be_bytes(fixed(data)?)),
            ColumnBuilder::Float8(b) => b.append_value(f64::from_be_bytes(fixed(data)?)),
            ColumnBuilder::Numeric128 { builder, precision, scale } => {
                builder.append_value(decode_numeric::<i128>(data, *precision, *scale)?)
            }
            ColumnBuilder::Numeric256 { builder, precision, scale } => {
                builder.append_value(decode_numeric::<i256>(data, *precision, *scale)?)
            }
            ColumnBuilder::NumericText(b) => b.append_value(numeric_text(data)?),
            ColumnBuilder::Text(b) => b.append_value(utf8(data)?),
            ColumnBuilder::Jsonb(b) => match data.split_first() {
                Some((&JSONB_VERSION, text)) => b.append_value(utf8(text)?),
                Some((&version, _)) => return Err(ValueError::JsonbVersion { version }),
                None => return Err(ValueError::EmptyJsonb),
            },
            ColumnBuilder::Uuid(b) => {
                let bytes: [u8; 16] = fixed(data)?;
                let mut text = [0u8; 36];
                format_uuid(&bytes, &mut text);
                // Only ASCII hex digits and hyphens were written.
                b.append_value(utf8(&text)?);
            }
            ColumnBuilder::Bytea(b) => b.append_value(data),
            ColumnBuilder::Date(b) => {
                let days = i32::from_be_bytes(fixed(data)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err(ValueError::Infinite { what: "date" });
                }
                let days = i64::from(days) + PG_EPOCH_DAYS;
                let days = i32::try_from(days).map_err(|_| ValueError::ArrowDateRange { days })?;
                b.append_value(days);
            }
            ColumnBuilder::Time(b) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if !(0..=PG_TIME_MAX).contains(&micros) {
                    return Err(Malformed::Time(micros).into());
                }
                b.append_value(micros);
            }
            ColumnBuilder::Timestamp(b) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err(ValueError::Infinite { what: "timestamp" });
                }
                let micros = micros.checked_add(PG_EPOCH_MICROS).ok_or(ValueError::ArrowTimestampRange)?;
                b.append_value(micros);
            }
            ColumnBuilder::Interval(b) => {
                let data: [u8; 16] = fixed(data)?;
                let malformed = |_| Malformed::Interval;
                let micros = i64::from_be_bytes(data[..8].try_into().map_err(malformed)?);
                let days = i32::from_be_bytes(data[8..12].try_into().map_err(malformed)?);
                let months = i32::from_be_bytes(data[12..].try_into().map_err(malformed)?);
                if months != 0 {
                    return Err(ValueError::IntervalMonths { months });
                }
                let total = i64::from(days)
                    .checked_mul(MICROS_PER_DAY)
                    .and_then(|d| d.checked_add(micros))
                    .ok_or(ValueError::IntervalOverflow)?;
                b.append_value(total);
            }
            ColumnBuilder::Bits(b) => b.append_value(bits(data)?),
        }
        Ok(())
    }

    /// Bytes of values held so far, for the variable-width builders.
    fn value_bytes(&self) -> Option<usize> {
        match self {
            ColumnBuilder::Text(b)
            | ColumnBuilder::Jsonb(b)
            | ColumnBuilder::Uuid(b)
            | ColumnBuilder::NumericText(b) => Some(b.values_slice().len()),
            ColumnBuilder::Bytea(b) => Some(b.values_slice().len()),
            _ => None,
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int2(b) => Arc::new(b.finish()),
            ColumnBuilder::Int4(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) | ColumnBuilder::Oid(b) => Arc::new(b.finish()),
            ColumnBuilder::Float4(b) => Arc::new(b.finish()),
            ColumnBuilder::Float8(b) => Arc::new(b.finish()),
            ColumnBuilder::Numeric128 { builder, .. } => Arc::new(builder.finish()),
            ColumnBuilder::Numeric256 { builder, .. } => Arc::new(builder.finish()),
            ColumnBuilder::Text(b)
            | ColumnBuilder::Jsonb(b)
            | ColumnBuilder::Uuid(b)
            | ColumnBuilder::NumericText(b) => Arc::new(b.finish()),
            ColumnBuilder::Bytea(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish()),
            ColumnBuilder::Interval(b) => Arc::new(b.finish()),
            ColumnBuilder::Bits(b) => Arc::new(b.finish()),
        }
    }
}

fn fixed<const N: usize>(data: &[u8]) -> std::result::Result<[u8; N], ValueError> {
    data.try_into().map_err(|_| Malformed::Length { expected: N, got: data.len() }.into())
}

/// A `bit(n)` value, n <= 64, as the number its bits spell. PostgreSQL's `bit_send` format: the
/// bit count (int4), then the bits, most significant first, padded with zeros to whole bytes.
fn bits(data: &[u8]) -> std::result::Result<u64, ValueError> {
    let (count, bytes) = data.split_first_chunk::<4>().ok_or(Malformed::Length { expected: 4, got: data.len() })?;
    let count = usize::try_from(i32::from_be_bytes(*count)).unwrap_or(usize::MAX);
    if count > 64 || bytes.len() != count.div_ceil(8) {
        return Err(Malformed::Length { expected: 4 + count.min(64).div_ceil(8), got: data.len() }.into());
    }
    let value = bytes.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
    Ok(if count == 0 { 0 } else { value >> (bytes.len() * 8 - count) })
}

fn utf8(data: &[u8]) -> std::result::Result<&str, ValueError> {
    std::str::from_utf8(data).map_err(ValueError::NotUtf8)
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

impl CopyDecoder {
    /// Prepares to decode rows whose columns have the PostgreSQL types
    /// `pg_types` into batches of `schema` (normally built with
    /// [`crate::connect::postgres::types::pg_field`]) of at most `batch_size` rows.
    pub fn new(schema: SchemaRef, pg_types: Vec<Type>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(failure(
                codes::run::INTERNAL,
                "COPY from PostgreSQL: batch size must be at least 1".to_string(),
            ));
        }
        if schema.fields().len() != pg_types.len() {
            return Err(failure(
                codes::source::CHANGED,
                format!(
                    "COPY from PostgreSQL: schema has {} columns but {} PostgreSQL types were given",
                    schema.fields().len(),
                    pg_types.len()
                ),
            ));
        }
        let columns = schema
            .fields()
            .iter()
            .zip(&pg_types)
            .map(|(field, ty)| {
                let name = field.name();
                let scalar = PgScalar::of(ty).ok_or_else(|| {
                    let message =
                        format!("COPY from PostgreSQL: column \"{name}\": {}", unsupported_pg_type_message(ty));
                    column_err(codes::source::UNSUPPORTED_TYPE, message, name, None)
                })?;
                let builder = ColumnBuilder::new(scalar, field.data_type(), batch_size).ok_or_else(|| {
                    failure(
                        codes::source::CHANGED,
                        format!(
                            "COPY from PostgreSQL: column \"{name}\": cannot decode PostgreSQL \
                             type {} into Arrow type {}",
                            ty.name(),
                            field.data_type()
                        ),
                    )
                })?;
                Ok(ColumnDecoder { name: name.clone(), builder })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CopyDecoder {
            schema,
            columns,
            batch_size,
            rows_in_batch: 0,
            rows_total: 0,
            state: StreamState::Header,
            carry: Vec::new(),
            failed: false,
            value_bytes_limit: i32::MAX as usize,
        })
    }

    /// Decodes the next chunk of the stream, returning every batch that
    /// became full. A header or tuple may be split across chunks anywhere.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<RecordBatch>> {
        if self.failed {
            return Err(Self::poisoned());
        }
        let result = self.push_inner(chunk);
        self.failed = result.is_err();
        result
    }

    /// Ends the stream: returns the last, partial batch (if any rows remain)
    /// and checks that the stream was complete.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.failed {
            return Err(Self::poisoned());
        }
        let problem = match self.state {
            _ if !self.carry.is_empty() => Some(format!(
                "the stream ended inside a {} ({} bytes of it received)",
                if self.state == StreamState::Header { "header" } else { "row" },
                self.carry.len()
            )),
            StreamState::Header => Some("the stream ended before its header".to_string()),
            StreamState::Tuples => Some("the stream ended without its end marker".to_string()),
            StreamState::Done => None,
        };
        if let Some(problem) = problem {
            self.failed = true;
            return Err(failure(
                codes::source::READ_FAILED,
                format!("COPY from PostgreSQL: truncated data after row {}: {problem}", self.rows_total),
            ));
        }
        if self.rows_in_batch == 0 {
            return Ok(None);
        }
        self.flush().map(Some)
    }

    fn poisoned() -> DataFusionError {
        failure(codes::run::INTERNAL, "COPY from PostgreSQL: decoder used after an error".to_string())
    }

    fn push_inner(&mut self, mut chunk: &[u8]) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        // First complete the frame begun in an earlier chunk, copying in only
        // as many bytes as it needs.
        while !self.carry.is_empty() {
            match self.scan(&self.carry)? {
                Scan::Complete(len) => {
                    let carry = std::mem::take(&mut self.carry);
                    self.consume(&carry[..len], &mut batches)?;
                    self.carry = carry;
                    self.carry.drain(..len);
                }
                Scan::Need(len) => {
                    if chunk.is_empty() {
                        return Ok(batches);
                    }
                    let take = len.saturating_sub(self.carry.len()).clamp(1, chunk.len());
                    self.carry.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                }
            }
        }
        // Then decode whole frames straight from the chunk; keep the tail.
        while !chunk.is_empty() {
            match self.scan(chunk)? {
                Scan::Complete(len) => {
                    self.consume(&chunk[..len], &mut batches)?;
                    chunk = &chunk[len..];
                }
                Scan::Need(_) => {
                    self.carry.extend_from_slice(chunk);
                    break;
                }
            }
        }
        Ok(batches)
    }

    /// Finds the end of the frame at the start of `buf` without decoding it.
    fn scan(&self, buf: &[u8]) -> Result<Scan> {
        match self.state {
            StreamState::Header => scan_header(buf),
            StreamState::Tuples => scan_tuple(buf, self.columns.len(), self.rows_total + 1),
            StreamState::Done => Err(failure(
                codes::source::READ_FAILED,
                format!("COPY from PostgreSQL: {} bytes of unexpected data after the end marker", buf.len()),
            )),
        }
    }

    /// Decodes one complete frame, as delimited by [`scan`](Self::scan).
    fn consume(&mut self, frame: &[u8], batches: &mut Vec<RecordBatch>) -> Result<()> {
        match self.state {
            StreamState::Header => {
                self.state = StreamState::Tuples;
                Ok(())
            }
            StreamState::Tuples if frame == (-1i16).to_be_bytes() => {
                self.state = StreamState::Done;
                Ok(())
            }
            StreamState::Tuples => {
                // Cut the batch early rather than overflow a string or binary
                // column's offsets (and panic in the builder).
                if self.rows_in_batch > 0 && self.row_would_overflow(frame) {
                    batches.push(self.flush()?);
                }
                self.decode_tuple(frame)?;
                self.rows_in_batch += 1;
                self.rows_total += 1;
                if self.rows_in_batch >= self.batch_size {
                    batches.push(self.flush()?);
                }
                Ok(())
            }
            StreamState::Done => {
                Err(failure(codes::source::READ_FAILED, "COPY from PostgreSQL: data after the end marker".to_string()))
            }
        }
    }

    /// Decodes a tuple whose framing `scan_tuple` already validated.
    fn decode_tuple(&mut self, frame: &[u8]) -> Result<()> {
        let row = self.rows_total + 1;
        let mut pos = 2; // past the field count
        for column in &mut self.columns {
            let len = read_i32(frame, pos).ok_or_else(|| truncated_row(row))?;
            pos += 4;
            if len < 0 {
                column.builder.append_null();
                continue;
            }
            let end = pos + len as usize;
            let data = frame.get(pos..end).ok_or_else(|| truncated_row(row))?;
            column.builder.append(data).map_err(|e| {
                let message = format!("COPY from PostgreSQL: column \"{}\", row {row}: {e}", column.name);
                column_err(codes::source::DECODE, message, &column.name, Some(row))
            })?;
            pos = end;
        }
        Ok(())
    }

    /// Whether appending the tuple `frame` would push a variable-width column
    /// of the current batch past `value_bytes_limit`.
    fn row_would_overflow(&self, frame: &[u8]) -> bool {
        let mut pos = 2;
        for column in &self.columns {
            let Some(len) = read_i32(frame, pos).and_then(|l| usize::try_from(l).ok()) else {
                pos += 4;
                continue;
            };
            pos += 4 + len;
            if let Some(used) = column.builder.value_bytes() {
                // + 36: a 16-byte uuid becomes 36 bytes of text.
                if used + len + 36 > self.value_bytes_limit {
                    return true;
                }
            }
        }
        false
    }

    fn flush(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(|c| c.builder.finish()).collect();
        // The row count is explicit so that a zero-column COPY still works.
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows_in_batch));
        self.rows_in_batch = 0;
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)?)
    }
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(bytes.try_into().ok()?))
}

fn truncated_row(row: u64) -> DataFusionError {
    failure(codes::source::READ_FAILED, format!("COPY from PostgreSQL: row {row} is truncated"))
}

fn scan_header(buf: &[u8]) -> Result<Scan> {
    let signature_part = &buf[..buf.len().min(SIGNATURE.len())];
    if !SIGNATURE.starts_with(signature_part) {
        return Err(failure(
            codes::source::READ_FAILED,
            "COPY from PostgreSQL: not a binary COPY stream (bad signature)".to_string(),
        ));
    }
    if buf.len() < HEADER_FIXED_LEN {
        return Ok(Scan::Need(HEADER_FIXED_LEN));
    }
    let flags = read_i32(buf, 11).unwrap_or_default() as u32;
    if flags & FLAG_HAS_OIDS != 0 {
        return Err(failure(
            codes::source::READ_FAILED,
            "COPY from PostgreSQL: rows with OIDs are not supported".to_string(),
        ));
    }
    if flags & FLAGS_CRITICAL != 0 {
        return Err(failure(
            codes::source::READ_FAILED,
            format!("COPY from PostgreSQL: unknown critical header flags {flags:#010x}"),
        ));
    }
    let extension_len = read_i32(buf, 15).unwrap_or_default();
    let extension_len = usize::try_from(extension_len).map_err(|_| {
        failure(codes::source::READ_FAILED, "COPY from PostgreSQL: negative header extension length".to_string())
    })?;
    let total = HEADER_FIXED_LEN + extension_len;
    Ok(if buf.len() < total { Scan::Need(total) } else { Scan::Complete(total) })
}

/// Delimits one tuple (or the 2-byte end marker) at the start of `buf`.
fn scan_tuple(buf: &[u8], columns: usize, row: u64) -> Result<Scan> {
    let Some(count) = buf.get(..2) else {
        return Ok(Scan::Need(2));
    };
    let count = i16::from_be_bytes([count[0], count[1]]);
    if count == -1 {
        return Ok(Scan::Complete(2));
    }
    if usize::try_from(count).ok() != Some(columns) {
        return Err(failure(
            codes::source::READ_FAILED,
            format!("COPY from PostgreSQL: row {row} has {count} fields, expected {columns}"),
        ));
    }
    let mut pos: usize = 2;
    for _ in 0..columns {
        let Some(len) = read_i32(buf, pos) else {
            return Ok(Scan::Need(pos + 4));
        };
        pos += 4;
        match len {
            -1 => {}
            len if len < 0 => {
                return Err(failure(
                    codes::source::READ_FAILED,
                    format!("COPY from PostgreSQL: row {row} has a field of negative length {len}"),
                ));
            }
            len => {
                pos += len as usize;
                if buf.len() < pos {
                    return Ok(Scan::Need(pos));
                }
            }
        }
    }
    Ok(Scan::Complete(pos))
}
