//! Arrow record batches -> PostgreSQL binary COPY stream ([`CopyEncoder`]): each column is
//! planned once against its target type, then every row is written in that type's `*_recv`
//! wire format, with lossy conversions refused and reported by column and row.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::{BufMut, BytesMut};
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;

use super::numeric::write_numeric_value;
use super::temporal::{
    MICROS_PER_DAY, PG_DATE_END, PG_DATE_MIN, PG_EPOCH_DAYS, PG_EPOCH_MICROS, PG_TIME_MAX, PG_TIMESTAMP_END,
    PG_TIMESTAMP_MIN, parse_date, parse_time, parse_timestamp,
};
use super::value::{Reader, Value, value_reader};
use super::{JSONB_VERSION, SIGNATURE, ValueError, column_err, failure, put_len};
use crate::connect::postgres::types::{PgScalar, unsupported_pg_type_message};
use crate::diagnostics::codes;

/// Writes Arrow record batches as a PostgreSQL binary COPY stream for
/// `COPY t (cols) FROM STDIN (FORMAT binary)`.
///
/// Use: [`write_header`](Self::write_header) once, then
/// [`encode_batch`](Self::encode_batch) per batch (send `out` whenever it is
/// large enough), then [`write_trailer`](Self::write_trailer).
///
/// Accepted Arrow sources per target type (dictionary-encoded columns count
/// as their value type; an Arrow `Null` column fits any target):
///
/// | target | Arrow sources |
/// | --- | --- |
/// | bool | Boolean, strings (`t`/`true`/`yes`/`on`/`1`, ...) |
/// | int2, int4, int8, oid | every integer type, integer strings; range-checked |
/// | float4, float8 | floats (f64 -> real rounds, but overflow/underflow is an error), integers if exactly representable, strings |
/// | numeric | integers, floats (shortest round-trip decimal), decimals, decimal strings; NaN/±Infinity kept |
/// | text, varchar, bpchar, name, citext, enums | strings; other scalars as Arrow displays them |
/// | json, jsonb | strings |
/// | uuid | strings (as `uuid_in` accepts them), 16-byte binaries |
/// | bytea | all binary types |
/// | date | Date32/Date64, `YYYY-MM-DD` strings |
/// | time | Time32/Time64, `HH:MM[:SS[.f]]` strings |
/// | timestamp, timestamptz | timestamps of any unit and zone, dates (midnight), ISO 8601 strings |
///
/// Timestamps are written as the stored number (UTC instant for zoned Arrow
/// timestamps, wall clock for zoneless ones); sub-microsecond digits are
/// dropped. Values are not checked against the target's type modifier:
/// PostgreSQL itself rejects a too-long `varchar(n)` value and rounds a
/// `numeric(p,s)` value with more than `s` fractional digits.
pub struct CopyEncoder {
    columns: Vec<ColumnPlan>,
    /// Reused text buffer for float -> numeric conversion, so no row allocates.
    scratch: String,
}

/// Broad category of an Arrow column's values (after looking through
/// dictionary encoding); decides which targets it can be written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceClass {
    Null,
    Bool,
    Int,
    Float,
    Decimal,
    Str,
    Bytes,
    Date,
    Time,
    Timestamp,
    Duration,
}

impl SourceClass {
    fn of(dt: &DataType) -> Option<SourceClass> {
        use DataType as D;
        let class = match dt {
            D::Null => SourceClass::Null,
            D::Boolean => SourceClass::Bool,
            D::Int8 | D::Int16 | D::Int32 | D::Int64 => SourceClass::Int,
            D::UInt8 | D::UInt16 | D::UInt32 | D::UInt64 => SourceClass::Int,
            D::Float16 | D::Float32 | D::Float64 => SourceClass::Float,
            D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => SourceClass::Decimal,
            D::Utf8 | D::LargeUtf8 | D::Utf8View => SourceClass::Str,
            D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => SourceClass::Bytes,
            D::Date32 | D::Date64 => SourceClass::Date,
            D::Time32(TimeUnit::Second | TimeUnit::Millisecond)
            | D::Time64(TimeUnit::Microsecond | TimeUnit::Nanosecond) => SourceClass::Time,
            D::Timestamp(..) => SourceClass::Timestamp,
            D::Duration(_) => SourceClass::Duration,
            D::Dictionary(_, value_type) => return SourceClass::of(value_type),
            _ => return None,
        };
        Some(class)
    }
}

/// How a column's values reach the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    /// Every value is NULL (Arrow `Null` columns fit any target).
    AllNull,
    /// Each value is converted to the target type's binary format.
    Convert,
    /// Non-string values into a text column: written as Arrow displays them,
    /// which is what a user loading e.g. numbers into a text column expects.
    Display,
}

fn write_mode(class: SourceClass, target: PgScalar) -> Option<WriteMode> {
    use PgScalar as P;
    use SourceClass as S;
    let convert = match (class, target) {
        (S::Null, _) => return Some(WriteMode::AllNull),
        (S::Bool | S::Str, P::Bool) => true,
        (S::Int | S::Str, P::Int2 | P::Int4 | P::Int8 | P::Oid) => true,
        (S::Int | S::Float | S::Str, P::Float4 | P::Float8) => true,
        (S::Int | S::Float | S::Decimal | S::Str, P::Numeric) => true,
        (S::Str, P::Text | P::Json | P::Jsonb | P::Uuid) => true,
        (S::Bytes, P::Bytea | P::Uuid) => true,
        (S::Date | S::Str, P::Date) => true,
        (S::Time | S::Str, P::Time) => true,
        (S::Date | S::Timestamp | S::Str, P::Timestamp | P::Timestamptz) => true,
        (S::Duration, P::Interval) => true,
        (S::Bool | S::Int, P::Bit) => true,
        (S::Bool | S::Int | S::Float | S::Decimal | S::Date | S::Time | S::Timestamp, P::Text) => {
            return Some(WriteMode::Display);
        }
        _ => false,
    };
    convert.then_some(WriteMode::Convert)
}

/// Everything about one column that does not change between batches.
struct ColumnPlan {
    name: String,
    /// The schema's data type, checked against every batch.
    source: DataType,
    target: PgScalar,
    /// For a `bit(n)` target: n, from the source field's `bit(n)` metadata.
    bits: Option<u32>,
    target_name: String,
    mode: WriteMode,
}

impl ColumnPlan {
    /// A value of row `row` (0-based in its batch) the target cannot take; the failure has no
    /// row, as the batch's place in the partition is not known here. A value the plan did not
    /// expect is Flow's error (`flow::run::internal`), not the value's.
    fn error(&self, row: usize, error: &ValueError) -> DataFusionError {
        let message =
            format!("COPY to PostgreSQL: column \"{}\" ({}), row {}: {error}", self.name, self.target_name, row + 1);
        let code = if error.is_internal() { codes::run::INTERNAL } else { codes::sink::VALUE_REFUSED };
        column_err(code, message, &self.name, None)
    }
}

/// A column of the current batch, ready to be read row by row.
enum BoundColumn<'a> {
    AllNull,
    Values { nulls: Option<&'a NullBuffer>, read: Reader<'a> },
    Display { nulls: Option<&'a NullBuffer>, formatter: ArrayFormatter<'a> },
}

impl CopyEncoder {
    /// Plans the encoding of `schema` into a table whose columns (in schema
    /// order) have the PostgreSQL types `target_types`.
    ///
    /// Fails if a column's Arrow type cannot be written to its target type.
    pub fn new(schema: &SchemaRef, target_types: &[Type]) -> Result<Self> {
        let fields = schema.fields();
        if fields.len() != target_types.len() {
            return Err(failure(
                codes::run::INTERNAL,
                format!(
                    "COPY to PostgreSQL: the data has {} columns but {} target column types were given",
                    fields.len(),
                    target_types.len()
                ),
            ));
        }
        // Each tuple starts with its field count as an int16.
        if i16::try_from(fields.len()).is_err() {
            return Err(failure(
                codes::run::INTERNAL,
                format!("COPY to PostgreSQL: {} columns is more than the binary COPY format allows", fields.len()),
            ));
        }
        let columns = fields
            .iter()
            .zip(target_types)
            .map(|(field, ty)| {
                let name = field.name();
                let target = PgScalar::of(ty).ok_or_else(|| {
                    let message = format!("COPY to PostgreSQL: column \"{name}\": {}", unsupported_pg_type_message(ty));
                    column_err(codes::sink::UNSUPPORTED_TYPE, message, name, None)
                })?;
                let mode = SourceClass::of(field.data_type()).and_then(|class| write_mode(class, target)).ok_or_else(
                    || {
                        let message = format!(
                            "COPY to PostgreSQL: column \"{name}\": cannot write Arrow type {} into a PostgreSQL {} \
                             column",
                            field.data_type(),
                            ty.name()
                        );
                        column_err(codes::sink::UNSUPPORTED_TYPE, message, name, None)
                    },
                )?;
                let bits = crate::connect::metadata::bit_length(field);
                if target == PgScalar::Bit && bits.is_none() {
                    let message = format!(
                        "COPY to PostgreSQL: column \"{name}\": a {} column takes only the bits of a MySQL BIT(n) \
                         column; cast it in the query (e.g. CAST(col AS bit(8)) on the target)",
                        ty.name()
                    );
                    return Err(column_err(codes::sink::UNSUPPORTED_TYPE, message, name, None));
                }
                Ok(ColumnPlan {
                    name: name.clone(),
                    source: field.data_type().clone(),
                    target,
                    bits,
                    target_name: ty.name().to_string(),
                    mode,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CopyEncoder { columns, scratch: String::new() })
    }

    /// Appends the binary COPY header (signature, no flags, no extension).
    pub fn write_header(&self, out: &mut BytesMut) {
        out.put_slice(SIGNATURE);
        out.put_u32(0);
        out.put_u32(0);
    }

    /// Appends the end-of-data marker (a field count of -1).
    pub fn write_trailer(out: &mut BytesMut) {
        out.put_i16(-1);
    }

    /// Appends one tuple per row of `batch`.
    ///
    /// On error `out` is left as it was before the call, so the caller can
    /// abort the COPY cleanly.
    pub fn encode_batch(&mut self, batch: &RecordBatch, out: &mut BytesMut) -> Result<()> {
        let start = out.len();
        let result = self.encode_rows(batch, out, None);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Like [`CopyEncoder::encode_batch`], but a row with a value that cannot be converted is
    /// left out and reported as `(row index, column, reason)` instead of failing the batch. A
    /// value the plan did not expect ([`ValueError::is_internal`]) still fails it.
    pub fn encode_batch_lenient(
        &mut self,
        batch: &RecordBatch,
        out: &mut BytesMut,
        refused: &mut Vec<(usize, String, ValueError)>,
    ) -> Result<()> {
        let start = out.len();
        let result = self.encode_rows(batch, out, Some(refused));
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn encode_rows(
        &mut self,
        batch: &RecordBatch,
        out: &mut BytesMut,
        mut refused: Option<&mut Vec<(usize, String, ValueError)>>,
    ) -> Result<()> {
        if batch.num_columns() != self.columns.len() {
            return Err(failure(
                codes::run::INTERNAL,
                format!(
                    "COPY to PostgreSQL: batch has {} columns, the encoder was planned for {}",
                    batch.num_columns(),
                    self.columns.len()
                ),
            ));
        }
        // Dictionary-encoded columns are expanded once per batch, so the row
        // loop only ever sees plain arrays.
        let arrays = self
            .columns
            .iter()
            .zip(batch.columns())
            .map(|(plan, array)| {
                if array.data_type() != &plan.source {
                    return Err(failure(
                        codes::run::INTERNAL,
                        format!(
                            "COPY to PostgreSQL: column \"{}\" is {} in this batch but {} in the schema",
                            plan.name,
                            array.data_type(),
                            plan.source
                        ),
                    ));
                }
                match array.data_type() {
                    DataType::Dictionary(_, value_type) => Ok(arrow::compute::cast(array, value_type)?),
                    _ => Ok(Arc::clone(array)),
                }
            })
            .collect::<Result<Vec<ArrayRef>>>()?;

        let options = FormatOptions::new();
        let bound = self
            .columns
            .iter()
            .zip(&arrays)
            .map(|(plan, array)| bind_column(plan, array.as_ref(), &options))
            .collect::<Result<Vec<_>>>()?;

        // Checked in `new`.
        let field_count = self.columns.len() as i16;
        'rows: for row in 0..batch.num_rows() {
            let row_start = out.len();
            out.put_i16(field_count);
            for (plan, column) in self.columns.iter().zip(&bound) {
                if let Err(e) = write_field(plan.target, plan.bits, column, row, out, &mut self.scratch) {
                    match refused.as_deref_mut() {
                        Some(refused) if !e.is_internal() => {
                            out.truncate(row_start);
                            refused.push((row, plan.name.clone(), e));
                            continue 'rows;
                        }
                        _ => return Err(plan.error(row, &e)),
                    }
                }
            }
        }
        Ok(())
    }
}

fn bind_column<'a>(plan: &ColumnPlan, array: &'a dyn Array, options: &FormatOptions<'a>) -> Result<BoundColumn<'a>> {
    let nulls = array.nulls();
    match plan.mode {
        WriteMode::AllNull => Ok(BoundColumn::AllNull),
        WriteMode::Display => Ok(BoundColumn::Display { nulls, formatter: ArrayFormatter::try_new(array, options)? }),
        WriteMode::Convert => {
            let read = value_reader(array).ok_or_else(|| {
                failure(
                    codes::run::INTERNAL,
                    format!(
                        "COPY to PostgreSQL: column \"{}\": cannot read Arrow type {}",
                        plan.name,
                        array.data_type()
                    ),
                )
            })?;
            Ok(BoundColumn::Values { nulls, read })
        }
    }
}

/// Writes one field (length word and value) of row `row`.
fn write_field(
    target: PgScalar,
    bits: Option<u32>,
    column: &BoundColumn<'_>,
    row: usize,
    out: &mut BytesMut,
    scratch: &mut String,
) -> std::result::Result<(), ValueError> {
    let is_null = |nulls: &Option<&NullBuffer>| nulls.is_some_and(|n| n.is_null(row));
    match column {
        BoundColumn::AllNull => {
            out.put_i32(-1);
            Ok(())
        }
        BoundColumn::Values { nulls, .. } | BoundColumn::Display { nulls, .. } if is_null(nulls) => {
            out.put_i32(-1);
            Ok(())
        }
        BoundColumn::Values { read, .. } if target == PgScalar::Bit => write_bits(bits.unwrap_or(64), read(row), out),
        BoundColumn::Values { read, .. } => write_value(target, read(row), out, scratch),
        BoundColumn::Display { formatter, .. } => {
            // The length is only known after formatting: reserve the length
            // word and patch it afterwards, so nothing is allocated per row.
            let len_at = out.len();
            out.put_i32(0);
            formatter.value(row).write(out).map_err(|e| ValueError::Unformattable { reason: e.to_string() })?;
            let len = out.len() - len_at - 4;
            let len = i32::try_from(len).map_err(|_| ValueError::DisplayTooLong)?;
            out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
    }
}

/// PostgreSQL rejects NUL in text (its strings are C strings internally);
/// catching it here names the column and row instead of failing the COPY with
/// a server error.
fn check_no_nul(s: &str) -> std::result::Result<(), ValueError> {
    match s.bytes().position(|b| b == 0) {
        Some(offset) => Err(ValueError::Nul { offset }),
        None => Ok(()),
    }
}

/// Writes a non-NULL value in the binary format of `target`. The
/// `(target, value)` combinations reachable here are those allowed by
/// [`write_mode`].
fn write_value(
    target: PgScalar,
    value: Value<'_>,
    out: &mut BytesMut,
    scratch: &mut String,
) -> std::result::Result<(), ValueError> {
    let mismatch = |value: Value<'_>| Err(ValueError::Mismatch { kind: value.kind(), target: format!("{target:?}") });
    match target {
        PgScalar::Bool => {
            let b = match value {
                Value::Bool(b) => b,
                Value::Str(s) => parse_bool(s)?,
                other => return mismatch(other),
            };
            out.put_i32(1);
            out.put_u8(u8::from(b));
        }
        PgScalar::Int2 | PgScalar::Int4 | PgScalar::Int8 | PgScalar::Oid => {
            let v = match value {
                Value::Int(v) => v,
                Value::Str(s) => s.trim().parse::<i128>().map_err(|_| ValueError::invalid("integer", s))?,
                other => return mismatch(other),
            };
            let range_err = |ty: &'static str| ValueError::OutOfRange { value: v, ty };
            match target {
                PgScalar::Int2 => {
                    let v = i16::try_from(v).map_err(|_| range_err("smallint"))?;
                    out.put_i32(2);
                    out.put_i16(v);
                }
                PgScalar::Int4 => {
                    let v = i32::try_from(v).map_err(|_| range_err("integer"))?;
                    out.put_i32(4);
                    out.put_i32(v);
                }
                PgScalar::Int8 => {
                    let v = i64::try_from(v).map_err(|_| range_err("bigint"))?;
                    out.put_i32(8);
                    out.put_i64(v);
                }
                _ => {
                    let v = u32::try_from(v).map_err(|_| range_err("oid"))?;
                    out.put_i32(4);
                    out.put_u32(v);
                }
            }
        }
        PgScalar::Float4 => {
            let v = match value {
                Value::Float(f) => narrow_to_f32(f)?,
                Value::Int(i) => {
                    let f = i as f32;
                    // Exact only if it converts back: PostgreSQL would round
                    // silently, but a loader must not change the data.
                    if f as i128 != i || !f.is_finite() {
                        return Err(ValueError::Inexact { value: i, ty: "real" });
                    }
                    f
                }
                Value::Str(s) => s.trim().parse::<f32>().map_err(|_| ValueError::invalid("real number", s))?,
                other => return mismatch(other),
            };
            out.put_i32(4);
            out.put_f32(v);
        }
        PgScalar::Float8 => {
            let v = match value {
                Value::Float(f) => f,
                Value::Int(i) => {
                    let f = i as f64;
                    if f as i128 != i {
                        return Err(ValueError::Inexact { value: i, ty: "double precision" });
                    }
                    f
                }
                Value::Str(s) => {
                    s.trim().parse::<f64>().map_err(|_| ValueError::invalid("double precision number", s))?
                }
                other => return mismatch(other),
            };
            out.put_i32(8);
            out.put_f64(v);
        }
        PgScalar::Numeric => write_numeric_value(value, out, scratch)?,
        PgScalar::Text | PgScalar::Json => match value {
            Value::Str(s) => {
                check_no_nul(s)?;
                put_len(out, s.len())?;
                out.put_slice(s.as_bytes());
            }
            other => return mismatch(other),
        },
        PgScalar::Jsonb => match value {
            Value::Str(s) => {
                check_no_nul(s)?;
                put_len(out, s.len() + 1)?;
                out.put_u8(JSONB_VERSION);
                out.put_slice(s.as_bytes());
            }
            other => return mismatch(other),
        },
        PgScalar::Uuid => {
            let bytes: [u8; 16] = match value {
                Value::Str(s) => parse_uuid(s)?,
                Value::Bytes(b) => b.try_into().map_err(|_| ValueError::UuidLength { bytes: b.len() })?,
                other => return mismatch(other),
            };
            out.put_i32(16);
            out.put_slice(&bytes);
        }
        PgScalar::Bytea => match value {
            Value::Bytes(b) => {
                put_len(out, b.len())?;
                out.put_slice(b);
            }
            other => return mismatch(other),
        },
        PgScalar::Date => {
            let days = match value {
                Value::Date(d) => d,
                Value::Str(s) => parse_date(s)?,
                other => return mismatch(other),
            };
            let pg_days = days - PG_EPOCH_DAYS;
            if !(PG_DATE_MIN..PG_DATE_END).contains(&pg_days) {
                return Err(ValueError::DateRange { days });
            }
            out.put_i32(4);
            // In range by the check above.
            out.put_i32(pg_days as i32);
        }
        PgScalar::Time => {
            let micros = match value {
                Value::Time(t) => t,
                Value::Str(s) => parse_time(s)?,
                other => return mismatch(other),
            };
            if !(0..=PG_TIME_MAX).contains(&micros) {
                return Err(ValueError::TimeRange { micros });
            }
            out.put_i32(8);
            out.put_i64(micros);
        }
        PgScalar::Timestamp | PgScalar::Timestamptz => {
            // For both targets the wire value is µs since 2000-01-01: for
            // timestamptz that instant is UTC, for timestamp it is the wall
            // clock. Arrow timestamps with a time zone store UTC instants and
            // those without store wall clocks, so the same number is right in
            // the matching cases; mixed cases take the stored number as is
            // (i.e. wall clock == UTC), which is the documented choice.
            let micros = match value {
                Value::Timestamp(t) => t,
                Value::Date(d) => i128::from(d) * i128::from(MICROS_PER_DAY),
                Value::Str(s) => parse_timestamp(s, target == PgScalar::Timestamptz)?,
                other => return mismatch(other),
            };
            let pg_micros = micros - i128::from(PG_EPOCH_MICROS);
            if !(PG_TIMESTAMP_MIN..PG_TIMESTAMP_END).contains(&pg_micros) {
                return Err(ValueError::TimestampRange { micros });
            }
            out.put_i32(8);
            // In range by the check above.
            out.put_i64(pg_micros as i64);
        }
        PgScalar::Interval => {
            let micros = match value {
                Value::Duration(d) => d,
                other => return mismatch(other),
            };
            if micros == i128::MAX {
                return Err(ValueError::SubMicrosecond);
            }
            let micros = i64::try_from(micros).map_err(|_| ValueError::IntervalRange { micros })?;
            // All in the microseconds field: days and months would make the value depend on
            // calendars and daylight-saving changes when added to a timestamp.
            out.put_i32(16);
            out.put_i64(micros);
            out.put_i32(0);
            out.put_i32(0);
        }
        // Written by `write_bits`, which knows the length.
        PgScalar::Bit => return mismatch(value),
    }
    Ok(())
}

/// Writes a `bit(n)` value: the bit count, then the bits, most significant
/// first, padded to whole bytes (PostgreSQL's `bit_send` format). A number
/// that needs more than `n` bits is refused, as MySQL refuses it for `BIT(n)`.
fn write_bits(bits: u32, value: Value<'_>, out: &mut BytesMut) -> std::result::Result<(), ValueError> {
    let v = match value {
        Value::Bool(b) => u64::from(b),
        Value::Int(v) => u64::try_from(v).map_err(|_| ValueError::NegativeBits { value: v })?,
        other => return Err(ValueError::Mismatch { kind: other.kind(), target: "bit".into() }),
    };
    if bits < 64 && v >> bits != 0 {
        return Err(ValueError::TooManyBits { value: v, bits });
    }
    let bytes = bits.div_ceil(8) as usize;
    // Left-aligned: the first bit of the string is the most significant bit of the first byte.
    let aligned = if bits == 0 { 0 } else { v << (bytes as u32 * 8 - bits) };
    let be = aligned.to_be_bytes();
    put_len(out, 4 + bytes)?;
    out.put_i32(bits as i32);
    out.put_slice(&be[8 - bytes..]);
    Ok(())
}

/// f64 -> f32 as PostgreSQL's float8 -> float4 cast does it: rounding is
/// inherent to `real`, but overflow to infinity and underflow to zero are
/// errors.
fn narrow_to_f32(f: f64) -> std::result::Result<f32, ValueError> {
    let narrowed = f as f32;
    if f.is_finite() && narrowed.is_infinite() {
        return Err(ValueError::RealRange { value: f, underflow: false });
    }
    if f != 0.0 && narrowed == 0.0 {
        return Err(ValueError::RealRange { value: f, underflow: true });
    }
    Ok(narrowed)
}

fn parse_bool(s: &str) -> std::result::Result<bool, ValueError> {
    let t = s.trim();
    const TRUE: [&str; 6] = ["t", "true", "y", "yes", "on", "1"];
    const FALSE: [&str; 6] = ["f", "false", "n", "no", "off", "0"];
    if TRUE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if FALSE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(ValueError::invalid("boolean", s))
    }
}

/// Parses a UUID the way PostgreSQL's `uuid_in` does: 32 hex digits, upper or
/// lower case, optionally in braces, with an optional hyphen after any group
/// of four digits.
pub(super) fn parse_uuid(s: &str) -> std::result::Result<[u8; 16], ValueError> {
    let invalid = || ValueError::invalid("uuid", s);
    let t = s.trim();
    let inner = match t.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(invalid)?,
        None => t,
    };
    let bytes = inner.as_bytes();
    let mut out = [0u8; 16];
    let mut pos = 0;
    for (i, byte) in out.iter_mut().enumerate() {
        // A hyphen may follow every 4 hex digits (= 2 bytes), but not end it.
        if i > 0 && i % 2 == 0 && bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let hi = bytes.get(pos).and_then(|&c| hex_value(c)).ok_or_else(invalid)?;
        let lo = bytes.get(pos + 1).and_then(|&c| hex_value(c)).ok_or_else(invalid)?;
        *byte = (hi << 4) | lo;
        pos += 2;
    }
    if pos != bytes.len() {
        return Err(invalid());
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
