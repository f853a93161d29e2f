//! PostgreSQL binary `COPY` format <-> Arrow record batches.
//!
//! Flow bulk-loads PostgreSQL with `COPY t (cols) FROM STDIN (FORMAT binary)`
//! and bulk-reads it with `COPY (query) TO STDOUT (FORMAT binary)`. Binary COPY
//! is the fastest path in both directions: no text parsing on the server, no
//! per-row protocol messages, and values arrive in exactly the representation
//! PostgreSQL stores, so nothing is rounded on the way.
//!
//! * [`CopyEncoder`] turns Arrow batches into a binary COPY stream. Each column
//!   is written in the wire format of the *target* column's type (an `Int32`
//!   can feed a `bigint` column, a `Utf8` a `uuid`, `jsonb` or `numeric`
//!   column), because the server interprets the bytes by the target type and
//!   would misread anything else. Conversions that could lose information
//!   (integer overflow, an invalid UUID, a NUL byte in text) are errors naming
//!   the column and row.
//! * [`CopyDecoder`] turns a binary COPY stream, delivered in chunks with
//!   arbitrary boundaries, into Arrow batches of the schema built by
//!   [`super::types::pg_field`]. Values that the Arrow type cannot hold exactly
//!   (a `numeric` with more fractional digits than the decimal's scale,
//!   `NaN`, `infinity` dates) are errors naming the column and row rather than
//!   silently rounded or clamped.
//!
//! Format reference: <https://www.postgresql.org/docs/current/sql-copy.html>
//! (File Formats / Binary Format) and each type's `*_send`/`*_recv` function
//! in the PostgreSQL sources. Row numbers in error messages are 1-based: the
//! row within the batch for the encoder, within the whole stream for the
//! decoder.

use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    DurationMicrosecondBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DecimalType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, SchemaRef, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type, i256,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;

use super::types::{PgScalar, unsupported_pg_type_message};

/// The 11-byte signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, 32-bit flags field and 32-bit header-extension length.
const HEADER_FIXED_LEN: usize = 19;
/// Flags bit 16: each tuple carries an OID (tables WITH OIDS, gone since
/// PostgreSQL 12). Bits 17-31 are reserved for format-breaking changes, so a
/// reader must reject them; bits 0-15 may be ignored.
const FLAG_HAS_OIDS: u32 = 1 << 16;
const FLAGS_CRITICAL: u32 = 0xffff_0000;

/// PostgreSQL dates and timestamps count from 2000-01-01, Arrow's from
/// 1970-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * MICROS_PER_DAY;
const MICROS_PER_DAY: i64 = 86_400_000_000;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// Valid ranges of PostgreSQL `date` (days since 2000-01-01, end exclusive)
/// and `timestamp` (µs since 2000-01-01, end exclusive): 4714-11-24 BC up to
/// 5874898-01-01 and 294277-01-01 respectively. The server rejects anything
/// outside; checking here gives an error that names the column and row.
const PG_DATE_MIN: i64 = -2_451_545;
const PG_DATE_END: i64 = 2_145_031_949;
const PG_TIMESTAMP_MIN: i128 = -211_813_488_000_000_000;
const PG_TIMESTAMP_END: i128 = 9_223_371_331_200_000_000;
/// `time` allows 24:00:00 itself.
const PG_TIME_MAX: i64 = MICROS_PER_DAY;

/// `numeric` sign words and limits (src/backend/utils/adt/numeric.c).
const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
const NUMERIC_DSCALE_MAX: i64 = 0x3FFF;
/// numeric digits are base 10000, i.e. 4 decimal digits each.
const NBASE: i32 = 10_000;
const DEC_DIGITS: i64 = 4;

/// jsonb's binary format is this version byte followed by the JSON text.
const JSONB_VERSION: u8 = 1;

fn exec_err(msg: String) -> DataFusionError {
    DataFusionError::Execution(msg)
}

/// At most 40 characters of a value for an error message, so a 10 MB string
/// does not end up in a log line.
fn preview(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    match s.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

// ---------------------------------------------------------------------------
// Encoder: Arrow -> binary COPY
// ---------------------------------------------------------------------------

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
    fn error(&self, row: usize, msg: &str) -> DataFusionError {
        exec_err(format!("COPY to PostgreSQL: column \"{}\" ({}), row {}: {msg}", self.name, self.target_name, row + 1))
    }
}

/// One Arrow value, normalised so that the writers only deal with a handful
/// of shapes instead of every Arrow type.
#[derive(Clone, Copy)]
enum Value<'a> {
    Bool(bool),
    /// Every integer type, signed or unsigned, fits an i128.
    Int(i128),
    /// f16 and f32 widen to f64 exactly.
    Float(f64),
    Decimal128 {
        unscaled: i128,
        scale: i8,
    },
    Decimal256 {
        unscaled: i256,
        scale: i8,
    },
    Str(&'a str),
    Bytes(&'a [u8]),
    /// Days since 1970-01-01.
    Date(i64),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 00:00 UTC; i128 so unit conversion
    /// cannot overflow.
    Timestamp(i128),
    /// A signed span in microseconds (i128: nanoseconds are divided, seconds
    /// multiplied).
    Duration(i128),
}

impl Value<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Decimal128 { .. } | Value::Decimal256 { .. } => "decimal",
            Value::Str(_) => "string",
            Value::Bytes(_) => "binary",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::Timestamp(_) => "timestamp",
            Value::Duration(_) => "duration",
        }
    }
}

/// Reads row `i` of one column. Built once per batch and column; boxing keeps
/// the per-Arrow-type code in one place ([`value_reader`]) at the cost of an
/// indirect call per value.
type Reader<'a> = Box<dyn Fn(usize) -> Value<'a> + 'a>;

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
            return Err(exec_err(format!(
                "COPY to PostgreSQL: the data has {} columns but {} target column types were given",
                fields.len(),
                target_types.len()
            )));
        }
        // Each tuple starts with its field count as an int16.
        if i16::try_from(fields.len()).is_err() {
            return Err(exec_err(format!(
                "COPY to PostgreSQL: {} columns is more than the binary COPY format allows",
                fields.len()
            )));
        }
        let columns = fields
            .iter()
            .zip(target_types)
            .map(|(field, ty)| {
                let name = field.name();
                let target = PgScalar::of(ty).ok_or_else(|| {
                    exec_err(format!("COPY to PostgreSQL: column \"{name}\": {}", unsupported_pg_type_message(ty)))
                })?;
                let mode = SourceClass::of(field.data_type()).and_then(|class| write_mode(class, target)).ok_or_else(
                    || {
                        exec_err(format!(
                            "COPY to PostgreSQL: column \"{name}\": cannot write Arrow type {} \
                             into a PostgreSQL {} column",
                            field.data_type(),
                            ty.name()
                        ))
                    },
                )?;
                let bits = crate::connect::mysql::reader::bit_length(field);
                if target == PgScalar::Bit && bits.is_none() {
                    return Err(exec_err(format!(
                        "COPY to PostgreSQL: column \"{name}\": a {} column takes only the bits of a MySQL BIT(n) \
                         column; cast it in the query (e.g. CAST(col AS bit(8)) on the target)",
                        ty.name()
                    )));
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
    /// left out and reported as `(row index, column, reason)` instead of failing the batch.
    pub fn encode_batch_lenient(
        &mut self,
        batch: &RecordBatch,
        out: &mut BytesMut,
        refused: &mut Vec<(usize, String, String)>,
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
        mut refused: Option<&mut Vec<(usize, String, String)>>,
    ) -> Result<()> {
        if batch.num_columns() != self.columns.len() {
            return Err(exec_err(format!(
                "COPY to PostgreSQL: batch has {} columns, the encoder was planned for {}",
                batch.num_columns(),
                self.columns.len()
            )));
        }
        // Dictionary-encoded columns are expanded once per batch, so the row
        // loop only ever sees plain arrays.
        let arrays = self
            .columns
            .iter()
            .zip(batch.columns())
            .map(|(plan, array)| {
                if array.data_type() != &plan.source {
                    return Err(exec_err(format!(
                        "COPY to PostgreSQL: column \"{}\" is {} in this batch but {} in the schema",
                        plan.name,
                        array.data_type(),
                        plan.source
                    )));
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
                if let Err(msg) = write_field(plan.target, plan.bits, column, row, out, &mut self.scratch) {
                    match refused.as_deref_mut() {
                        Some(refused) => {
                            out.truncate(row_start);
                            refused.push((row, plan.name.clone(), msg));
                            continue 'rows;
                        }
                        None => return Err(plan.error(row, &msg)),
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
                exec_err(format!(
                    "COPY to PostgreSQL: column \"{}\": cannot read Arrow type {}",
                    plan.name,
                    array.data_type()
                ))
            })?;
            Ok(BoundColumn::Values { nulls, read })
        }
    }
}

fn primitive_reader<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    convert: impl Fn(T::Native) -> Value<'a> + 'a,
) -> Option<Reader<'a>> {
    let array = array.as_primitive_opt::<T>()?;
    Some(Box::new(move |i| convert(array.value(i))))
}

/// The reader for an array of any supported (non-dictionary) type.
fn value_reader(array: &dyn Array) -> Option<Reader<'_>> {
    use DataType as D;
    let reader: Reader<'_> = match array.data_type() {
        D::Boolean => {
            let a = array.as_boolean_opt()?;
            Box::new(move |i| Value::Bool(a.value(i)))
        }
        D::Int8 => primitive_reader::<Int8Type>(array, |v| Value::Int(v.into()))?,
        D::Int16 => primitive_reader::<Int16Type>(array, |v| Value::Int(v.into()))?,
        D::Int32 => primitive_reader::<Int32Type>(array, |v| Value::Int(v.into()))?,
        D::Int64 => primitive_reader::<Int64Type>(array, |v| Value::Int(v.into()))?,
        D::UInt8 => primitive_reader::<UInt8Type>(array, |v| Value::Int(v.into()))?,
        D::UInt16 => primitive_reader::<UInt16Type>(array, |v| Value::Int(v.into()))?,
        D::UInt32 => primitive_reader::<UInt32Type>(array, |v| Value::Int(v.into()))?,
        D::UInt64 => primitive_reader::<UInt64Type>(array, |v| Value::Int(v.into()))?,
        D::Float16 => primitive_reader::<Float16Type>(array, |v| Value::Float(v.to_f64()))?,
        D::Float32 => primitive_reader::<Float32Type>(array, |v| Value::Float(v.into()))?,
        D::Float64 => primitive_reader::<Float64Type>(array, Value::Float)?,
        &D::Decimal32(_, scale) => {
            primitive_reader::<Decimal32Type>(array, move |v| Value::Decimal128 { unscaled: v.into(), scale })?
        }
        &D::Decimal64(_, scale) => {
            primitive_reader::<Decimal64Type>(array, move |v| Value::Decimal128 { unscaled: v.into(), scale })?
        }
        &D::Decimal128(_, scale) => {
            primitive_reader::<Decimal128Type>(array, move |v| Value::Decimal128 { unscaled: v, scale })?
        }
        &D::Decimal256(_, scale) => {
            primitive_reader::<Decimal256Type>(array, move |v| Value::Decimal256 { unscaled: v, scale })?
        }
        D::Utf8 => {
            let a = array.as_string_opt::<i32>()?;
            Box::new(move |i| Value::Str(a.value(i)))
        }
        D::LargeUtf8 => {
            let a = array.as_string_opt::<i64>()?;
            Box::new(move |i| Value::Str(a.value(i)))
        }
        D::Utf8View => {
            let a = array.as_string_view_opt()?;
            Box::new(move |i| Value::Str(a.value(i)))
        }
        D::Binary => {
            let a = array.as_binary_opt::<i32>()?;
            Box::new(move |i| Value::Bytes(a.value(i)))
        }
        D::LargeBinary => {
            let a = array.as_binary_opt::<i64>()?;
            Box::new(move |i| Value::Bytes(a.value(i)))
        }
        D::BinaryView => {
            let a = array.as_binary_view_opt()?;
            Box::new(move |i| Value::Bytes(a.value(i)))
        }
        D::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary_opt()?;
            Box::new(move |i| Value::Bytes(a.value(i)))
        }
        D::Date32 => primitive_reader::<Date32Type>(array, |v| Value::Date(v.into()))?,
        D::Date64 => primitive_reader::<Date64Type>(array, |v| Value::Date(v.div_euclid(MILLIS_PER_DAY)))?,
        D::Time32(TimeUnit::Second) => {
            primitive_reader::<Time32SecondType>(array, |v| Value::Time(i64::from(v) * 1_000_000))?
        }
        D::Time32(TimeUnit::Millisecond) => {
            primitive_reader::<Time32MillisecondType>(array, |v| Value::Time(i64::from(v) * 1_000))?
        }
        D::Time64(TimeUnit::Microsecond) => primitive_reader::<Time64MicrosecondType>(array, Value::Time)?,
        // PostgreSQL has microsecond resolution; sub-microsecond digits are
        // dropped (floor), as for timestamps below.
        D::Time64(TimeUnit::Nanosecond) => {
            primitive_reader::<Time64NanosecondType>(array, |v| Value::Time(v.div_euclid(1_000)))?
        }
        D::Duration(TimeUnit::Second) => {
            primitive_reader::<DurationSecondType>(array, |v| Value::Duration(i128::from(v) * 1_000_000))?
        }
        D::Duration(TimeUnit::Millisecond) => {
            primitive_reader::<DurationMillisecondType>(array, |v| Value::Duration(i128::from(v) * 1_000))?
        }
        D::Duration(TimeUnit::Microsecond) => {
            primitive_reader::<DurationMicrosecondType>(array, |v| Value::Duration(v.into()))?
        }
        // PostgreSQL intervals hold microseconds: a value with a fraction of
        // one becomes `i128::MAX`, which no real span reaches and which the
        // writer refuses rather than truncate.
        D::Duration(TimeUnit::Nanosecond) => primitive_reader::<DurationNanosecondType>(array, |v| {
            Value::Duration(if v % 1_000 == 0 { i128::from(v / 1_000) } else { i128::MAX })
        })?,
        D::Timestamp(TimeUnit::Second, _) => {
            primitive_reader::<TimestampSecondType>(array, |v| Value::Timestamp(i128::from(v) * 1_000_000))?
        }
        D::Timestamp(TimeUnit::Millisecond, _) => {
            primitive_reader::<TimestampMillisecondType>(array, |v| Value::Timestamp(i128::from(v) * 1_000))?
        }
        D::Timestamp(TimeUnit::Microsecond, _) => {
            primitive_reader::<TimestampMicrosecondType>(array, |v| Value::Timestamp(v.into()))?
        }
        D::Timestamp(TimeUnit::Nanosecond, _) => {
            primitive_reader::<TimestampNanosecondType>(array, |v| Value::Timestamp(i128::from(v.div_euclid(1_000))))?
        }
        _ => return None,
    };
    Some(reader)
}

/// Writes one field (length word and value) of row `row`.
fn write_field(
    target: PgScalar,
    bits: Option<u32>,
    column: &BoundColumn<'_>,
    row: usize,
    out: &mut BytesMut,
    scratch: &mut String,
) -> std::result::Result<(), String> {
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
            formatter.value(row).write(out).map_err(|e| format!("cannot format value: {e}"))?;
            let len = out.len() - len_at - 4;
            let len = i32::try_from(len).map_err(|_| "value is too long".to_string())?;
            out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
    }
}

fn put_len(out: &mut BytesMut, len: usize) -> std::result::Result<(), String> {
    let len = i32::try_from(len).map_err(|_| format!("value of {len} bytes is too large for a COPY field"))?;
    out.put_i32(len);
    Ok(())
}

/// PostgreSQL rejects NUL in text (its strings are C strings internally);
/// catching it here names the column and row instead of failing the COPY with
/// a server error.
fn check_no_nul(s: &str) -> std::result::Result<(), String> {
    match s.bytes().position(|b| b == 0) {
        Some(at) => Err(format!("text contains a NUL byte at byte offset {at}, which PostgreSQL does not accept")),
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
) -> std::result::Result<(), String> {
    let mismatch =
        |value: Value<'_>| Err(format!("internal error: cannot write a {} value as {target:?}", value.kind()));
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
                Value::Str(s) => s.trim().parse::<i128>().map_err(|_| format!("invalid integer {}", preview(s)))?,
                other => return mismatch(other),
            };
            let range_err = |ty: &str| format!("{v} is out of range for type {ty}");
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
                        return Err(format!("{i} cannot be represented exactly as real"));
                    }
                    f
                }
                Value::Str(s) => s.trim().parse::<f32>().map_err(|_| format!("invalid real number {}", preview(s)))?,
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
                        return Err(format!("{i} cannot be represented exactly as double precision"));
                    }
                    f
                }
                Value::Str(s) => {
                    s.trim().parse::<f64>().map_err(|_| format!("invalid double precision number {}", preview(s)))?
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
                Value::Bytes(b) => b.try_into().map_err(|_| format!("a uuid needs 16 bytes, got {}", b.len()))?,
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
                return Err(format!("date {days} days from 1970-01-01 is outside PostgreSQL's date range"));
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
                return Err(format!("time of {micros} µs is outside 00:00:00..24:00:00"));
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
                return Err(format!("timestamp {micros} µs from 1970-01-01 is outside PostgreSQL's timestamp range"));
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
                return Err("the duration has a fraction of a microsecond, which an interval cannot keep".into());
            }
            let micros =
                i64::try_from(micros).map_err(|_| format!("a span of {micros} µs does not fit an interval"))?;
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
fn write_bits(bits: u32, value: Value<'_>, out: &mut BytesMut) -> std::result::Result<(), String> {
    let v = match value {
        Value::Bool(b) => u64::from(b),
        Value::Int(v) => u64::try_from(v).map_err(|_| format!("{v} is not a bit string (negative)"))?,
        other => return Err(format!("internal error: cannot write a {} value as bit", other.kind())),
    };
    if bits < 64 && v >> bits != 0 {
        return Err(format!("{v} needs more than the {bits} bits of bit({bits})"));
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
fn narrow_to_f32(f: f64) -> std::result::Result<f32, String> {
    let narrowed = f as f32;
    if f.is_finite() && narrowed.is_infinite() {
        return Err(format!("{f} is out of range for type real (overflow)"));
    }
    if f != 0.0 && narrowed == 0.0 {
        return Err(format!("{f} is out of range for type real (underflow)"));
    }
    Ok(narrowed)
}

fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    let t = s.trim();
    const TRUE: [&str; 6] = ["t", "true", "y", "yes", "on", "1"];
    const FALSE: [&str; 6] = ["f", "false", "n", "no", "off", "0"];
    if TRUE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if FALSE.iter().any(|w| t.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(format!("invalid boolean {}", preview(s)))
    }
}

/// Parses a UUID the way PostgreSQL's `uuid_in` does: 32 hex digits, upper or
/// lower case, optionally in braces, with an optional hyphen after any group
/// of four digits.
fn parse_uuid(s: &str) -> std::result::Result<[u8; 16], String> {
    let invalid = || format!("invalid uuid {}", preview(s));
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

/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// ISO 8601 date `YYYY-MM-DD` -> days since 1970-01-01.
fn parse_date(s: &str) -> std::result::Result<i64, String> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("invalid date {} (expected YYYY-MM-DD)", preview(s)))?;
    Ok(i64::from(date.num_days_from_ce()) - UNIX_EPOCH_DAYS_FROM_CE)
}

/// `HH:MM[:SS[.ffffff]]` -> µs since midnight.
fn parse_time(s: &str) -> std::result::Result<i64, String> {
    let t = s.trim();
    let time = NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
        .map_err(|_| format!("invalid time {} (expected HH:MM:SS[.ffffff])", preview(s)))?;
    // Sub-microsecond digits are dropped, as for Arrow nanosecond times.
    Ok(i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(time.nanosecond() / 1_000))
}

/// ISO 8601 timestamp -> µs since 1970-01-01 00:00 UTC. A UTC offset is
/// honoured only for timestamptz targets; a timestamp without an offset is
/// taken as UTC there (the binary protocol has no session time zone to apply).
fn parse_timestamp(s: &str, with_tz: bool) -> std::result::Result<i128, String> {
    let t = s.trim();
    let invalid = || {
        format!(
            "invalid timestamp {} (expected YYYY-MM-DD[ HH:MM:SS[.ffffff]]{})",
            preview(s),
            if with_tz { "[+HH:MM]" } else { "" }
        )
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

/// A finite decimal number as ASCII digits: `±(digits[0] ++ digits[1]) ×
/// 10^exponent`. Two slices so that `"123.45"` can be used in place without
/// copying (`"123"`, `"45"`, exponent -2).
struct DecimalDigits<'a> {
    negative: bool,
    digits: [&'a [u8]; 2],
    exponent: i64,
}

enum NumericText<'a> {
    Finite(DecimalDigits<'a>),
    NaN,
    PosInf,
    NegInf,
}

fn write_numeric_value(value: Value<'_>, out: &mut BytesMut, scratch: &mut String) -> std::result::Result<(), String> {
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
            let magnitude = unscaled.checked_abs().ok_or_else(|| "decimal value out of range".to_string())?;
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
            write!(scratch, "{f}").map_err(|e| e.to_string())?;
            parse_numeric(scratch)?
        }
        Value::Str(s) => parse_numeric(s)?,
        other => {
            return Err(format!("internal error: cannot write a {} value as numeric", other.kind()));
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
fn parse_numeric(s: &str) -> std::result::Result<NumericText<'_>, String> {
    let invalid = || format!("invalid numeric {}", preview(s));
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

fn write_numeric_special(out: &mut BytesMut, sign: u16) -> std::result::Result<(), String> {
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
fn write_numeric(out: &mut BytesMut, n: &DecimalDigits<'_>) -> std::result::Result<(), String> {
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
        return Err(format!(
            "numeric value has {dscale} fractional digits; PostgreSQL allows at most {NUMERIC_DSCALE_MAX}"
        ));
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
    let weight = i16::try_from(weight).map_err(|_| "numeric value is out of PostgreSQL's numeric range".to_string())?;
    let ndigits = u16::try_from(i64::from(weight) - lowest_group + 1)
        .map_err(|_| "numeric value has too many digits".to_string())?;

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

// ---------------------------------------------------------------------------
// Decoder: binary COPY -> Arrow
// ---------------------------------------------------------------------------

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
    value_bytes_limit: usize,
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
        }
    }

    /// Decodes one non-NULL field's bytes and appends the value.
    fn append(&mut self, data: &[u8]) -> std::result::Result<(), String> {
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
                Some((version, _)) => {
                    return Err(format!("unsupported jsonb format version {version}"));
                }
                None => return Err("empty jsonb value".to_string()),
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
                    return Err("date is ±infinity, which Arrow cannot represent; filter it out or \
                         cast it in the query, e.g. col::text"
                        .to_string());
                }
                let days = i64::from(days) + PG_EPOCH_DAYS;
                let days = i32::try_from(days).map_err(|_| format!("date {days} days from 1970 is out of range"))?;
                b.append_value(days);
            }
            ColumnBuilder::Time(b) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if !(0..=PG_TIME_MAX).contains(&micros) {
                    return Err(format!("malformed time value ({micros} µs)"));
                }
                b.append_value(micros);
            }
            ColumnBuilder::Timestamp(b) => {
                let micros = i64::from_be_bytes(fixed(data)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err("timestamp is ±infinity, which Arrow cannot represent; filter it out \
                         or cast it in the query, e.g. col::text"
                        .to_string());
                }
                let micros = micros.checked_add(PG_EPOCH_MICROS).ok_or_else(|| "timestamp out of range".to_string())?;
                b.append_value(micros);
            }
            ColumnBuilder::Interval(b) => {
                let data: [u8; 16] = fixed(data)?;
                let micros = i64::from_be_bytes(data[..8].try_into().map_err(|_| "malformed interval")?);
                let days = i32::from_be_bytes(data[8..12].try_into().map_err(|_| "malformed interval")?);
                let months = i32::from_be_bytes(data[12..].try_into().map_err(|_| "malformed interval")?);
                if months != 0 {
                    return Err(format!(
                        "interval of {months} months has no fixed length in microseconds; cast it in the query, \
                         e.g. col::text or extract(epoch from col)"
                    ));
                }
                let total = i64::from(days)
                    .checked_mul(MICROS_PER_DAY)
                    .and_then(|d| d.checked_add(micros))
                    .ok_or_else(|| "interval out of range".to_string())?;
                b.append_value(total);
            }
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
        }
    }
}

fn fixed<const N: usize>(data: &[u8]) -> std::result::Result<[u8; N], String> {
    data.try_into().map_err(|_| format!("malformed value: expected {N} bytes, got {}", data.len()))
}

fn utf8(data: &[u8]) -> std::result::Result<&str, String> {
    std::str::from_utf8(data).map_err(|e| format!("text is not valid UTF-8: {e}"))
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

/// The integer types an Arrow decimal's unscaled value lives in.
trait Unscaled: Copy {
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
fn decode_numeric<T: Unscaled>(data: &[u8], precision: u8, scale: i8) -> std::result::Result<T, String> {
    let header: [u8; 8] = data
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| "malformed numeric: shorter than its header".to_string())?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let weight = i64::from(i16::from_be_bytes([header[2], header[3]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let digits = &data[8..];
    if digits.len() != 2 * ndigits {
        return Err(format!("malformed numeric: {ndigits} digits announced, {} bytes present", digits.len()));
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
            return Err(format!(
                "numeric {what} cannot be stored in an Arrow decimal; filter it out or cast \
                 it in the query, e.g. col::float8 or col::text"
            ));
        }
        other => return Err(format!("malformed numeric: sign word {other:#06x}")),
    };
    let digit = |i: usize| -> std::result::Result<i32, String> {
        let d = i32::from(u16::from_be_bytes([digits[2 * i], digits[2 * i + 1]]));
        if d >= NBASE {
            return Err(format!("malformed numeric: digit {d} is not base 10000"));
        }
        Ok(d)
    };
    // Errors are rare; only then is the value rendered for the message.
    let describe = || numeric_to_string(data);
    let lossy = || {
        format!(
            "numeric {} has more than {scale} fractional digits and would be rounded in \
             {}({precision},{scale}); cast it in the query, e.g. col::numeric(38,{}) or col::text",
            describe(),
            T::ARROW_TYPE,
            scale.max(0) + 2
        )
    };
    let overflow = || {
        format!(
            "numeric {} does not fit in {}({precision},{scale}); cast it in the query, e.g. \
             col::text",
            describe(),
            T::ARROW_TYPE
        )
    };

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
fn numeric_text(data: &[u8]) -> std::result::Result<String, String> {
    let header = data.get(..8).ok_or_else(|| "malformed numeric: shorter than its header".to_string())?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    match sign {
        NUMERIC_NAN => return Ok("NaN".to_string()),
        NUMERIC_PINF => return Ok("Infinity".to_string()),
        NUMERIC_NINF => return Ok("-Infinity".to_string()),
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return Err(format!("malformed numeric: sign word {other:#06x}")),
    }
    let digits = &data[8..];
    if digits.len() != 2 * ndigits {
        return Err(format!("malformed numeric: {ndigits} digits announced, {} bytes present", digits.len()));
    }
    if let Some(d) = digits.chunks_exact(2).map(|c| i32::from(u16::from_be_bytes([c[0], c[1]]))).find(|d| *d >= NBASE) {
        return Err(format!("malformed numeric: digit {d} is not base 10000"));
    }
    Ok(numeric_to_string(data))
}

/// Renders a finite `numeric` binary value as decimal text (see [`numeric_text`]).
fn numeric_to_string(data: &[u8]) -> String {
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

impl CopyDecoder {
    /// Prepares to decode rows whose columns have the PostgreSQL types
    /// `pg_types` into batches of `schema` (normally built with
    /// [`super::types::pg_field`]) of at most `batch_size` rows.
    pub fn new(schema: SchemaRef, pg_types: Vec<Type>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(exec_err("COPY from PostgreSQL: batch size must be at least 1".to_string()));
        }
        if schema.fields().len() != pg_types.len() {
            return Err(exec_err(format!(
                "COPY from PostgreSQL: schema has {} columns but {} PostgreSQL types were given",
                schema.fields().len(),
                pg_types.len()
            )));
        }
        let columns = schema
            .fields()
            .iter()
            .zip(&pg_types)
            .map(|(field, ty)| {
                let name = field.name();
                let scalar = PgScalar::of(ty).ok_or_else(|| {
                    exec_err(format!("COPY from PostgreSQL: column \"{name}\": {}", unsupported_pg_type_message(ty)))
                })?;
                let builder = ColumnBuilder::new(scalar, field.data_type(), batch_size).ok_or_else(|| {
                    exec_err(format!(
                        "COPY from PostgreSQL: column \"{name}\": cannot decode PostgreSQL \
                             type {} into Arrow type {}",
                        ty.name(),
                        field.data_type()
                    ))
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
            return Err(exec_err(format!(
                "COPY from PostgreSQL: truncated data after row {}: {problem}",
                self.rows_total
            )));
        }
        if self.rows_in_batch == 0 {
            return Ok(None);
        }
        self.flush().map(Some)
    }

    fn poisoned() -> DataFusionError {
        exec_err("COPY from PostgreSQL: decoder used after an error".to_string())
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
            StreamState::Done => Err(exec_err(format!(
                "COPY from PostgreSQL: {} bytes of unexpected data after the end marker",
                buf.len()
            ))),
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
            StreamState::Done => Err(exec_err("COPY from PostgreSQL: data after the end marker".to_string())),
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
            column.builder.append(data).map_err(|msg| {
                exec_err(format!("COPY from PostgreSQL: column \"{}\", row {row}: {msg}", column.name))
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
    exec_err(format!("COPY from PostgreSQL: row {row} is truncated"))
}

fn scan_header(buf: &[u8]) -> Result<Scan> {
    let signature_part = &buf[..buf.len().min(SIGNATURE.len())];
    if !SIGNATURE.starts_with(signature_part) {
        return Err(exec_err("COPY from PostgreSQL: not a binary COPY stream (bad signature)".to_string()));
    }
    if buf.len() < HEADER_FIXED_LEN {
        return Ok(Scan::Need(HEADER_FIXED_LEN));
    }
    let flags = read_i32(buf, 11).unwrap_or_default() as u32;
    if flags & FLAG_HAS_OIDS != 0 {
        return Err(exec_err("COPY from PostgreSQL: rows with OIDs are not supported".to_string()));
    }
    if flags & FLAGS_CRITICAL != 0 {
        return Err(exec_err(format!("COPY from PostgreSQL: unknown critical header flags {flags:#010x}")));
    }
    let extension_len = read_i32(buf, 15).unwrap_or_default();
    let extension_len = usize::try_from(extension_len)
        .map_err(|_| exec_err("COPY from PostgreSQL: negative header extension length".to_string()))?;
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
        return Err(exec_err(format!("COPY from PostgreSQL: row {row} has {count} fields, expected {columns}")));
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
                return Err(exec_err(format!("COPY from PostgreSQL: row {row} has a field of negative length {len}")));
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

#[cfg(test)]
mod tests {
    use super::super::types::pg_field;
    use super::*;
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, DictionaryArray,
        FixedSizeBinaryArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array, StringArray,
        Time64MicrosecondArray, TimestampMicrosecondArray, TimestampNanosecondArray, UInt32Array,
    };
    use arrow::datatypes::{Field, Schema};

    fn numeric_typmod(precision: i32, scale: i32) -> i32 {
        ((precision << 16) | (scale & 0x7ff)) + 4
    }

    fn days(y: i32, m: u32, d: u32) -> i32 {
        let date = NaiveDate::from_ymd_opt(y, m, d).expect("valid test date");
        date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE as i32
    }

    fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_micro_opt(h, mi, s, us))
            .expect("valid test timestamp")
            .and_utc()
            .timestamp_micros()
    }

    fn dec128(values: &[Option<i128>], p: u8, s: i8) -> ArrayRef {
        Arc::new(Decimal128Array::from(values.to_vec()).with_precision_and_scale(p, s).expect("valid decimal type"))
    }

    fn dec256(values: &[Option<&str>], p: u8, s: i8) -> ArrayRef {
        let values: Vec<Option<i256>> =
            values.iter().map(|v| v.map(|v| i256::from_string(v).expect("valid i256"))).collect();
        Arc::new(Decimal256Array::from(values).with_precision_and_scale(p, s).expect("valid decimal type"))
    }

    /// One column of a round-trip test: what goes in, the PostgreSQL column
    /// it is written to, and what must come back out.
    struct Case {
        name: &'static str,
        ty: Type,
        typmod: i32,
        input: ArrayRef,
        expected: ArrayRef,
    }

    impl Case {
        fn same(name: &'static str, ty: Type, typmod: i32, array: ArrayRef) -> Case {
            Case { name, ty, typmod, input: Arc::clone(&array), expected: array }
        }
    }

    fn input_batch(cases: &[Case]) -> RecordBatch {
        let fields: Vec<Field> = cases.iter().map(|c| Field::new(c.name, c.input.data_type().clone(), true)).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cases.iter().map(|c| Arc::clone(&c.input)).collect())
            .expect("valid input batch")
    }

    fn output_schema(cases: &[Case]) -> SchemaRef {
        let fields: Vec<Field> =
            cases.iter().map(|c| pg_field(c.name, &c.ty, c.typmod).expect("mapped type")).collect();
        Arc::new(Schema::new(fields))
    }

    fn types(cases: &[Case]) -> Vec<Type> {
        cases.iter().map(|c| c.ty.clone()).collect()
    }

    fn encode(batches: &[RecordBatch], target_types: &[Type]) -> Result<Vec<u8>> {
        let schema = batches[0].schema();
        let mut encoder = CopyEncoder::new(&schema, target_types)?;
        let mut out = BytesMut::new();
        encoder.write_header(&mut out);
        for batch in batches {
            encoder.encode_batch(batch, &mut out)?;
        }
        CopyEncoder::write_trailer(&mut out);
        Ok(out.to_vec())
    }

    fn decode_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
        schema: SchemaRef,
        pg_types: Vec<Type>,
        batch_size: usize,
    ) -> Result<Vec<RecordBatch>> {
        let mut decoder = CopyDecoder::new(schema, pg_types, batch_size)?;
        let mut batches = Vec::new();
        for chunk in chunks {
            batches.extend(decoder.push(chunk)?);
        }
        batches.extend(decoder.finish()?);
        Ok(batches)
    }

    fn decode(stream: &[u8], schema: SchemaRef, pg_types: Vec<Type>) -> Result<Vec<RecordBatch>> {
        decode_chunks([stream], schema, pg_types, 1024)
    }

    /// Encodes the inputs, decodes the stream and checks every column.
    fn round_trip(cases: &[Case]) {
        let batch = input_batch(cases);
        let stream = encode(std::slice::from_ref(&batch), &types(cases)).expect("encodes");
        let batches = decode(&stream, output_schema(cases), types(cases)).expect("decodes");
        assert_eq!(batches.len(), 1);
        let decoded = &batches[0];
        assert_eq!(decoded.num_rows(), batch.num_rows());
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(decoded.column(i).as_ref(), case.expected.as_ref(), "column {}", case.name);
        }
    }

    fn all_types_cases() -> Vec<Case> {
        let big_text = "ab€😀".repeat(10 * 1024 / 9 + 1);
        let ts_values = vec![
            Some(micros(1900, 1, 1, 0, 0, 0, 0)),
            Some(0),
            None,
            Some(micros(3000, 12, 31, 23, 59, 59, 999_999)),
            Some(-1),
            Some(micros(2024, 2, 29, 12, 34, 56, 789_012)),
        ];
        vec![
            Case::same(
                "i16",
                Type::INT2,
                -1,
                Arc::new(Int16Array::from(vec![Some(i16::MIN), Some(i16::MAX), Some(0), None, Some(-1), Some(1)])),
            ),
            Case::same(
                "i32",
                Type::INT4,
                -1,
                Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), Some(0), None, Some(-1), Some(1)])),
            ),
            Case::same(
                "i64",
                Type::INT8,
                -1,
                Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), Some(0), None, Some(-1), Some(1)])),
            ),
            Case {
                name: "i32_into_int8",
                ty: Type::INT8,
                typmod: -1,
                input: Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None, Some(0), Some(7), None])),
                expected: Arc::new(Int64Array::from(vec![
                    Some(i32::MIN.into()),
                    Some(i32::MAX.into()),
                    None,
                    Some(0),
                    Some(7),
                    None,
                ])),
            },
            Case {
                name: "oid",
                ty: Type::OID,
                typmod: -1,
                input: Arc::new(UInt32Array::from(vec![Some(0), Some(u32::MAX), None, Some(1), Some(2), Some(3)])),
                expected: Arc::new(Int64Array::from(vec![
                    Some(0),
                    Some(u32::MAX.into()),
                    None,
                    Some(1),
                    Some(2),
                    Some(3),
                ])),
            },
            Case::same(
                "flag",
                Type::BOOL,
                -1,
                Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false), None])),
            ),
            Case::same(
                "f32",
                Type::FLOAT4,
                -1,
                Arc::new(Float32Array::from(vec![
                    Some(f32::NAN),
                    Some(f32::INFINITY),
                    Some(f32::NEG_INFINITY),
                    None,
                    Some(f32::MIN_POSITIVE),
                    Some(-0.0),
                ])),
            ),
            Case::same(
                "f64",
                Type::FLOAT8,
                -1,
                Arc::new(Float64Array::from(vec![
                    Some(f64::NAN),
                    Some(f64::INFINITY),
                    Some(f64::NEG_INFINITY),
                    None,
                    Some(f64::MAX),
                    Some(0.1),
                ])),
            ),
            // numeric(38,10): -123456789012.34, 0, 0.01, None, the
            // 26+10-digit value, 0.0001.
            Case::same(
                "n38_10",
                Type::NUMERIC,
                numeric_typmod(38, 10),
                dec128(
                    &[
                        Some(-1_234_567_890_123_400_000_000),
                        Some(0),
                        Some(100_000_000),
                        None,
                        Some(999_999_999_999_999_999_999_999_999_999_999_999),
                        Some(1_000_000),
                    ],
                    38,
                    10,
                ),
            ),
            // Unconstrained numeric decodes to its exact text: any number
            // of digits, the value's own scale, NaN and the infinities.
            Case {
                name: "n_any",
                ty: Type::NUMERIC,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("123456789012345678901234567890.123456789"),
                    Some("1e-30"),
                    Some("-0.5"),
                    None,
                    Some("NaN"),
                    Some("0"),
                ])),
                expected: Arc::new(StringArray::from(vec![
                    Some("123456789012345678901234567890.123456789"),
                    Some("0.000000000000000000000000000001"),
                    Some("-0.5"),
                    None,
                    Some("NaN"),
                    Some("0"),
                ])),
            },
            Case::same(
                "n14_2",
                Type::NUMERIC,
                numeric_typmod(14, 2),
                dec128(&[Some(-12_345_678_901_234), Some(0), Some(1), None, Some(99_999_999_999_999), Some(-1)], 14, 2),
            ),
            Case::same(
                "n5_neg2",
                Type::NUMERIC,
                numeric_typmod(5, -2),
                dec128(&[Some(12_345), Some(-99_999), Some(0), None, Some(1), Some(10)], 5, -2),
            ),
            Case::same(
                "n60_20",
                Type::NUMERIC,
                numeric_typmod(60, 20),
                dec256(
                    &[
                        Some("-123456789012345678901234567890123456789012345678901234567890"),
                        Some("0"),
                        Some("1"),
                        None,
                        Some("999999999999999999999999999999999999999999999999999999999999"),
                        Some("100000000000000000000"),
                    ],
                    60,
                    20,
                ),
            ),
            Case::same(
                "txt",
                Type::TEXT,
                -1,
                Arc::new(StringArray::from(vec![
                    Some("héllo 😀🎉"),
                    Some(big_text.as_str()),
                    Some(""),
                    None,
                    Some("tab\t newline\n backslash\\ quote'\""),
                    Some(" "),
                ])),
            ),
            Case::same(
                "vc",
                Type::VARCHAR,
                24,
                Arc::new(StringArray::from(vec![
                    Some("abc"),
                    Some(""),
                    None,
                    Some("ünïcödé"),
                    Some("x"),
                    Some("20 chars exactly...."),
                ])),
            ),
            Case::same(
                "bp",
                Type::BPCHAR,
                7,
                Arc::new(StringArray::from(vec![Some("abc"), Some("a  "), None, Some("   "), Some("xyz"), None])),
            ),
            Case::same(
                "js",
                Type::JSON,
                -1,
                Arc::new(StringArray::from(vec![
                    Some(r#"{"a": [1, 2.5, null]}"#),
                    Some("[]"),
                    None,
                    Some(r#""😀""#),
                    Some("0"),
                    Some("null"),
                ])),
            ),
            Case::same(
                "jsb",
                Type::JSONB,
                -1,
                Arc::new(StringArray::from(vec![
                    Some(r#"{"a": [1, 2.5, null]}"#),
                    Some("[]"),
                    None,
                    Some(r#""😀""#),
                    Some("0"),
                    Some("null"),
                ])),
            ),
            Case {
                name: "id",
                ty: Type::UUID,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
                    Some("{a0eebc999c0b4ef8bb6d6bb9bd380a11}"),
                    None,
                    Some("00000000-0000-0000-0000-000000000000"),
                    Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                    Some("a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11"),
                ])),
                expected: Arc::new(StringArray::from(vec![
                    Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                    None,
                    Some("00000000-0000-0000-0000-000000000000"),
                    Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                    Some("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
                ])),
            },
            Case::same(
                "bin",
                Type::BYTEA,
                -1,
                Arc::new(BinaryArray::from(vec![
                    Some(&b"\0\x01\x02\0"[..]),
                    Some(&b""[..]),
                    None,
                    Some(&b"\xff\xfe\0"[..]),
                    Some(&[0u8; 1000][..]),
                    Some(&b"\0"[..]),
                ])),
            ),
            Case::same(
                "d",
                Type::DATE,
                -1,
                Arc::new(Date32Array::from(vec![
                    Some(days(1, 1, 1)),
                    Some(days(1969, 12, 31)),
                    None,
                    Some(days(2100, 3, 1)),
                    Some(days(9999, 12, 31)),
                    Some(days(2000, 1, 1)),
                ])),
            ),
            Case::same(
                "t",
                Type::TIME,
                -1,
                Arc::new(Time64MicrosecondArray::from(vec![
                    Some(0),
                    Some(MICROS_PER_DAY - 1),
                    None,
                    Some(45_296_789_012),
                    Some(MICROS_PER_DAY),
                    Some(1),
                ])),
            ),
            Case::same("ts", Type::TIMESTAMP, -1, Arc::new(TimestampMicrosecondArray::from(ts_values.clone()))),
            Case {
                name: "tstz",
                ty: Type::TIMESTAMPTZ,
                typmod: -1,
                // Another zone: still the same UTC instants.
                input: Arc::new(TimestampMicrosecondArray::from(ts_values.clone()).with_timezone("+02:00")),
                expected: Arc::new(TimestampMicrosecondArray::from(ts_values).with_timezone("UTC")),
            },
        ]
    }

    #[test]
    fn round_trip_every_type() {
        round_trip(&all_types_cases());
    }

    #[test]
    fn numeric_wire_format_matches_postgres() {
        let cases: [(Value<'static>, &[u8]); 6] = [
            // 12345.678 = 1 | 2345 . 6780, weight 1, dscale 3
            (
                Value::Decimal128 { unscaled: 12_345_678, scale: 3 },
                &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C],
            ),
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

    /// Builds a numeric binary value from its parts.
    fn numeric_bytes(weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((digits.len() as u16).to_be_bytes());
        v.extend(weight.to_be_bytes());
        v.extend(sign.to_be_bytes());
        v.extend(dscale.to_be_bytes());
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numeric_decoding_is_exact_or_an_error() {
        // 1.00000000001 (11 fractional digits) into scale 10.
        let too_fine = numeric_bytes(0, NUMERIC_POS, 11, &[1, 0, 0, 10]);
        let err = decode_numeric::<i128>(&too_fine, 38, 10).unwrap_err();
        assert!(err.contains("1.00000000001"), "{err}");
        assert!(err.contains("fractional digits"), "{err}");
        // ... but trailing zeros beyond the scale are fine.
        let zeros = numeric_bytes(0, NUMERIC_POS, 12, &[1, 2000]);
        assert_eq!(decode_numeric::<i128>(&zeros, 38, 10), Ok(12_000_000_000));
        // 10^28 has 29 integer digits: too large for Decimal128(38,10).
        let too_big = numeric_bytes(7, NUMERIC_POS, 0, &[1]);
        let err = decode_numeric::<i128>(&too_big, 38, 10).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        // Far too large: overflow is detected, not wrapped.
        let huge = numeric_bytes(100, NUMERIC_NEG, 0, &[9999]);
        assert!(decode_numeric::<i128>(&huge, 38, 10).is_err());
        assert!(decode_numeric::<i256>(&huge, 76, 0).is_err());
        for sign in [NUMERIC_NAN, NUMERIC_PINF, NUMERIC_NINF] {
            let special = numeric_bytes(0, sign, 0, &[]);
            let err = decode_numeric::<i128>(&special, 38, 10).unwrap_err();
            assert!(err.contains("cannot be stored"), "{err}");
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

    fn row_stream(columns: &[Option<&[u8]>]) -> Vec<u8> {
        let mut v = SIGNATURE.to_vec();
        v.extend([0u8; 8]);
        v.extend((columns.len() as i16).to_be_bytes());
        for c in columns {
            match c {
                Some(data) => {
                    v.extend((data.len() as i32).to_be_bytes());
                    v.extend(*data);
                }
                None => v.extend((-1i32).to_be_bytes()),
            }
        }
        v.extend((-1i16).to_be_bytes());
        v
    }

    fn decode_error(stream: &[u8], name: &str, ty: Type, typmod: i32) -> String {
        let schema = Arc::new(Schema::new(vec![pg_field(name, &ty, typmod).expect("maps")]));
        decode(stream, schema, vec![ty]).expect_err("must fail").to_string()
    }

    #[test]
    fn decoder_errors_name_column_and_row() {
        let lossy = numeric_bytes(-3, NUMERIC_POS, 13, &[1]);
        let mut stream = row_stream(&[Some(&numeric_bytes(0, 0, 0, &[1]))]);
        // Second row holds 0.000000000001.
        let trailer_at = stream.len() - 2;
        let mut second = 1i16.to_be_bytes().to_vec();
        second.extend((lossy.len() as i32).to_be_bytes());
        second.extend(&lossy);
        stream.splice(trailer_at..trailer_at, second);
        let err = decode_error(&stream, "amount", Type::NUMERIC, numeric_typmod(38, 10));
        assert!(err.contains("\"amount\"") && err.contains("row 2"), "{err}");
        assert!(err.contains("0.0000000000010"), "{err}");

        let nan = row_stream(&[Some(&numeric_bytes(0, NUMERIC_NAN, 0, &[]))]);
        let err = decode_error(&nan, "price", Type::NUMERIC, numeric_typmod(10, 2));
        assert!(err.contains("\"price\"") && err.contains("NaN"), "{err}");

        let infinite_date = row_stream(&[Some(&i32::MAX.to_be_bytes())]);
        let err = decode_error(&infinite_date, "born", Type::DATE, -1);
        assert!(err.contains("\"born\"") && err.contains("infinity"), "{err}");

        let infinite_ts = row_stream(&[Some(&i64::MIN.to_be_bytes())]);
        let err = decode_error(&infinite_ts, "at", Type::TIMESTAMPTZ, -1);
        assert!(err.contains("\"at\"") && err.contains("infinity"), "{err}");

        let bad_utf8 = row_stream(&[Some(b"\xff\xfe")]);
        let err = decode_error(&bad_utf8, "name", Type::TEXT, -1);
        assert!(err.contains("\"name\"") && err.contains("UTF-8"), "{err}");

        let short_int = row_stream(&[Some(&[0, 0, 1])]);
        let err = decode_error(&short_int, "n", Type::INT4, -1);
        assert!(err.contains("\"n\"") && err.contains("expected 4 bytes"), "{err}");

        let bad_jsonb = row_stream(&[Some(b"\x02{}")]);
        let err = decode_error(&bad_jsonb, "doc", Type::JSONB, -1);
        assert!(err.contains("\"doc\"") && err.contains("version 2"), "{err}");
    }

    #[test]
    fn decoder_rejects_malformed_streams() {
        let good = row_stream(&[Some(&7i32.to_be_bytes())]);
        let schema = || Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, true)]));
        let run = |stream: &[u8]| decode(stream, schema(), vec![Type::INT4]);
        assert_eq!(run(&good).expect("decodes")[0].num_rows(), 1);

        let err = run(b"PGCOPY\nXXXXXXXXXXXXXXXXX").unwrap_err().to_string();
        assert!(err.contains("signature"), "{err}");
        let err = run(&good[..good.len() - 2]).unwrap_err().to_string();
        assert!(err.contains("end marker"), "{err}");
        let err = run(&good[..good.len() - 4]).unwrap_err().to_string();
        assert!(err.contains("inside a row"), "{err}");
        let err = run(&good[..10]).unwrap_err().to_string();
        assert!(err.contains("inside a header"), "{err}");
        let err = run(b"").unwrap_err().to_string();
        assert!(err.contains("before its header"), "{err}");
        let mut extra = good.clone();
        extra.push(0);
        let err = run(&extra).unwrap_err().to_string();
        assert!(err.contains("after the end marker"), "{err}");
        let mut two_fields = good.clone();
        two_fields[19..21].copy_from_slice(&2i16.to_be_bytes());
        let err = run(&two_fields).unwrap_err().to_string();
        assert!(err.contains("row 1 has 2 fields"), "{err}");
        let mut negative_len = good.clone();
        negative_len[21..25].copy_from_slice(&(-5i32).to_be_bytes());
        assert!(run(&negative_len).is_err());
        let mut oids = good.clone();
        oids[11..15].copy_from_slice(&FLAG_HAS_OIDS.to_be_bytes());
        assert!(run(&oids).unwrap_err().to_string().contains("OIDs"));
        // A header extension is skipped, and non-critical flags are ignored.
        let mut extended = SIGNATURE.to_vec();
        extended.extend(1u32.to_be_bytes());
        extended.extend(3u32.to_be_bytes());
        extended.extend(b"xyz");
        extended.extend(&good[19..]);
        assert_eq!(run(&extended).expect("decodes")[0].num_rows(), 1);

        // After an error the decoder refuses to continue.
        let mut decoder = CopyDecoder::new(schema(), vec![Type::INT4], 10).expect("new");
        assert!(decoder.push(b"garbage garbage garbage").is_err());
        assert!(decoder.push(&good).is_err());
        assert!(decoder.finish().is_err());
    }

    #[test]
    fn decoder_setup_errors() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Utf8, true)]));
        let err = CopyDecoder::new(Arc::clone(&schema), vec![Type::INT4], 10).err().expect("type mismatch").to_string();
        assert!(err.contains("\"n\"") && err.contains("int4"), "{err}");
        assert!(CopyDecoder::new(Arc::clone(&schema), vec![Type::TEXT], 0).is_err());
        assert!(CopyDecoder::new(Arc::clone(&schema), vec![], 10).is_err());
        let err = CopyDecoder::new(schema, vec![Type::POINT], 10).err().expect("unsupported").to_string();
        assert!(err.contains("point") && err.contains("::text"), "{err}");
    }

    /// Every way of cutting a small stream in two, and byte-by-byte delivery,
    /// gives the same batches as one chunk.
    #[test]
    fn chunk_boundaries_anywhere() {
        let cases: Vec<Case> = all_types_cases().into_iter().filter(|c| !matches!(c.name, "txt" | "bin")).collect();
        let batch = input_batch(&cases);
        let stream = encode(&[batch.slice(0, 3)], &types(&cases)).expect("encodes");
        let schema = output_schema(&cases);
        let expected = decode_chunks([&stream[..]], Arc::clone(&schema), types(&cases), 2).expect("decodes");
        assert_eq!(expected.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [2, 1]);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            let got = decode_chunks([a, b], Arc::clone(&schema), types(&cases), 2)
                .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert_eq!(got, expected, "cut at {cut}");
        }
        for (first, second) in [(5, 40), (19, 21), (30, 200)] {
            let (a, rest) = stream.split_at(first);
            let (b, c) = rest.split_at(second);
            let got = decode_chunks([a, b, c], Arc::clone(&schema), types(&cases), 2).expect("decodes");
            assert_eq!(got, expected);
        }
        let bytes = stream.chunks(1);
        let got = decode_chunks(bytes, Arc::clone(&schema), types(&cases), 2).expect("decodes");
        assert_eq!(got, expected);
        // Empty chunks are harmless.
        let got = decode_chunks([&b""[..], &stream[..7], &b""[..], &stream[7..], &b""[..]], schema, types(&cases), 2)
            .expect("decodes");
        assert_eq!(got, expected);
    }

    #[test]
    fn batches_are_cut_at_batch_size() {
        let ints: Vec<Option<i64>> = (0..10).map(Some).collect();
        let cases = [Case::same("n", Type::INT8, -1, Arc::new(Int64Array::from(ints)))];
        let batch = input_batch(&cases);
        // Two input batches make one stream.
        let stream = encode(&[batch.clone(), batch], &types(&cases)).expect("encodes");
        let got = decode_chunks([&stream[..]], output_schema(&cases), types(&cases), 7).expect("decodes");
        assert_eq!(got.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), [7, 7, 6]);
        // Zero rows: header and trailer only, no batch.
        let empty = input_batch(&cases).slice(0, 0);
        let stream = encode(&[empty], &types(&cases)).expect("encodes");
        let got = decode(&stream, output_schema(&cases), types(&cases)).expect("decodes");
        assert!(got.is_empty());
    }

    /// A batch is cut before a row that would overflow a string column's
    /// i32 offsets (here with a tiny limit standing in for 2 GiB).
    #[test]
    fn batches_are_cut_before_offsets_overflow() {
        let text: Vec<Option<String>> = (0..6).map(|i| Some("x".repeat(40 * i))).collect();
        let cases = [
            Case::same("n", Type::INT4, -1, Arc::new(Int32Array::from(vec![1; 6]))),
            Case::same("s", Type::TEXT, -1, Arc::new(StringArray::from(text))),
        ];
        let stream = encode(&[input_batch(&cases)], &types(&cases)).expect("encodes");
        let mut decoder = CopyDecoder::new(output_schema(&cases), types(&cases), 100).expect("new");
        decoder.value_bytes_limit = 150;
        let mut batches = decoder.push(&stream).expect("decodes");
        batches.extend(decoder.finish().expect("finishes"));
        // Rows of 0, 40, 80, 120, 160 and 200 bytes (plus the 36-byte margin
        // per row) against a 150-byte limit: 0+40 | 80 | 120 | 160 | 200. A
        // row too large on its own still gets a batch of its own.
        let rows: Vec<usize> = batches.iter().map(|b| b.num_rows()).collect();
        assert_eq!(rows, [2, 1, 1, 1, 1]);
        let all = arrow::compute::concat_batches(&output_schema(&cases), &batches).expect("same schema");
        assert_eq!(all.column(1).as_ref(), cases[1].expected.as_ref());
    }

    fn encode_error(array: ArrayRef, name: &str, ty: Type) -> String {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(name, array.data_type().clone(), true)])),
            vec![array],
        )
        .expect("valid batch");
        encode(&[batch], &[ty]).expect_err("must fail").to_string()
    }

    #[test]
    fn encoder_errors_name_column_and_row() {
        let err = encode_error(Arc::new(Int64Array::from(vec![1, 40_000])), "qty", Type::INT2);
        assert!(err.contains("\"qty\"") && err.contains("row 2"), "{err}");
        assert!(err.contains("40000 is out of range for type smallint"), "{err}");

        let err = encode_error(Arc::new(StringArray::from(vec![Some("ok"), None, Some("a\0b")])), "note", Type::TEXT);
        assert!(err.contains("\"note\"") && err.contains("row 3"), "{err}");
        assert!(err.contains("NUL"), "{err}");

        let err =
            encode_error(Arc::new(StringArray::from(vec!["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"])), "id", Type::UUID);
        assert!(err.contains("\"id\"") && err.contains("invalid uuid"), "{err}");
        for bad in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "-a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11a",
            "",
        ] {
            assert!(parse_uuid(bad).is_err(), "{bad:?}");
        }

        let err = encode_error(Arc::new(UInt32Array::from(vec![u32::MAX])), "big", Type::INT4);
        assert!(err.contains("4294967295 is out of range"), "{err}");
        let err = encode_error(Arc::new(Int32Array::from(vec![-1])), "o", Type::OID);
        assert!(err.contains("out of range for type oid"), "{err}");
        let err = encode_error(Arc::new(Float64Array::from(vec![1e300])), "r", Type::FLOAT4);
        assert!(err.contains("overflow"), "{err}");
        let err = encode_error(Arc::new(Int64Array::from(vec![i64::MAX])), "r", Type::FLOAT8);
        assert!(err.contains("exactly"), "{err}");
        let err = encode_error(Arc::new(StringArray::from(vec!["12x"])), "amount", Type::NUMERIC);
        assert!(err.contains("invalid numeric \"12x\""), "{err}");
        let err = encode_error(
            Arc::new(arrow::array::TimestampSecondArray::from(vec![i64::MAX / 1_000])),
            "at",
            Type::TIMESTAMP,
        );
        assert!(err.contains("outside PostgreSQL's timestamp range"), "{err}");
        let err = encode_error(Arc::new(BinaryArray::from(vec![&b"short"[..]])), "id", Type::UUID);
        assert!(err.contains("16 bytes"), "{err}");
        let long = "x".repeat(1000);
        let err = encode_error(Arc::new(StringArray::from(vec![long.as_str()])), "n", Type::INT4);
        assert!(err.len() < 300, "error messages stay short: {err}");
    }

    #[test]
    fn encoder_setup_errors() {
        let schema = Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, true)]));
        let err = CopyEncoder::new(&schema, &[Type::INT4]).err().expect("mismatch").to_string();
        assert!(err.contains("\"b\"") && err.contains("int4"), "{err}");
        assert!(CopyEncoder::new(&schema, &[]).is_err());
        let err = CopyEncoder::new(&schema, &[Type::INTERVAL]).err().expect("unsupported").to_string();
        assert!(err.contains("interval"), "{err}");
        let list = Arc::new(Schema::new(vec![Field::new(
            "l",
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            true,
        )]));
        assert!(CopyEncoder::new(&list, &[Type::TEXT]).is_err());
        // A batch that does not match the planned schema.
        let mut encoder = CopyEncoder::new(&schema, &[Type::BYTEA]).expect("plans");
        let other = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("b", DataType::Utf8, true)])),
            vec![Arc::new(StringArray::from(vec!["x"]))],
        )
        .expect("valid batch");
        let mut out = BytesMut::new();
        assert!(encoder.encode_batch(&other, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn failed_batch_leaves_output_untouched() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true)]));
        let mut encoder = CopyEncoder::new(&schema, &[Type::INT2]).expect("plans");
        let mut out = BytesMut::new();
        encoder.write_header(&mut out);
        let before = out.clone();
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(vec![1, 2, 1 << 40]))])
            .expect("valid batch");
        assert!(encoder.encode_batch(&batch, &mut out).is_err());
        assert_eq!(out, before);
    }

    /// Strings, ints, floats and dictionaries converted into other PostgreSQL
    /// types on the way in.
    #[test]
    fn conversions_on_encode() {
        let dict: DictionaryArray<Int32Type> = vec![Some("b"), Some("a"), None, Some("b")].into_iter().collect();
        let cases = vec![
            Case {
                name: "s_num",
                ty: Type::NUMERIC,
                typmod: numeric_typmod(12, 3),
                input: Arc::new(StringArray::from(vec![Some("1.5"), Some("-0.001"), None, Some("1e3")])),
                expected: dec128(&[Some(1_500), Some(-1), None, Some(1_000_000)], 12, 3),
            },
            Case {
                name: "i_num",
                ty: Type::NUMERIC,
                typmod: numeric_typmod(20, 0),
                input: Arc::new(arrow::array::UInt64Array::from(vec![Some(u64::MAX), Some(0), None, Some(1)])),
                expected: dec128(&[Some(u64::MAX.into()), Some(0), None, Some(1)], 20, 0),
            },
            Case {
                name: "f_num",
                ty: Type::NUMERIC,
                typmod: -1,
                input: Arc::new(Float64Array::from(vec![Some(0.1), Some(-123.456), None, Some(1e-10)])),
                // Shortest round-trip decimal of each float, read back as exact text.
                expected: Arc::new(StringArray::from(vec![Some("0.1"), Some("-123.456"), None, Some("0.0000000001")])),
            },
            Case {
                name: "s_int",
                ty: Type::INT4,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![Some(" 42 "), Some("-2147483648"), None, Some("0")])),
                expected: Arc::new(Int32Array::from(vec![Some(42), Some(i32::MIN), None, Some(0)])),
            },
            Case {
                name: "s_float",
                ty: Type::FLOAT8,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![Some("0.1"), Some("-inf"), None, Some("1e308")])),
                expected: Arc::new(Float64Array::from(vec![Some(0.1), Some(f64::NEG_INFINITY), None, Some(1e308)])),
            },
            Case {
                name: "i_float4",
                ty: Type::FLOAT4,
                typmod: -1,
                input: Arc::new(Int32Array::from(vec![Some(1 << 24), Some(-3), None, Some(0)])),
                expected: Arc::new(Float32Array::from(vec![Some(16_777_216.0), Some(-3.0), None, Some(0.0)])),
            },
            Case {
                name: "s_bool",
                ty: Type::BOOL,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![Some("true"), Some("F"), None, Some("yes")])),
                expected: Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)])),
            },
            Case {
                name: "s_date",
                ty: Type::DATE,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("1969-07-20"),
                    Some("2100-12-31"),
                    None,
                    Some(" 0001-01-01 "),
                ])),
                expected: Arc::new(Date32Array::from(vec![
                    Some(days(1969, 7, 20)),
                    Some(days(2100, 12, 31)),
                    None,
                    Some(days(1, 1, 1)),
                ])),
            },
            Case {
                name: "s_time",
                ty: Type::TIME,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("12:34:56.789012"),
                    Some("00:00"),
                    None,
                    Some("23:59:59"),
                ])),
                expected: Arc::new(Time64MicrosecondArray::from(vec![
                    Some(45_296_789_012),
                    Some(0),
                    None,
                    Some(86_399_000_000),
                ])),
            },
            Case {
                name: "s_ts",
                ty: Type::TIMESTAMP,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("2024-02-29 12:34:56.789012"),
                    Some("1900-01-01T00:00:00"),
                    None,
                    Some("2000-01-01"),
                ])),
                expected: Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(micros(2024, 2, 29, 12, 34, 56, 789_012)),
                    Some(micros(1900, 1, 1, 0, 0, 0, 0)),
                    None,
                    Some(micros(2000, 1, 1, 0, 0, 0, 0)),
                ])),
            },
            Case {
                name: "s_tstz",
                ty: Type::TIMESTAMPTZ,
                typmod: -1,
                input: Arc::new(StringArray::from(vec![
                    Some("2024-02-29T12:34:56.5+02:00"),
                    Some("2024-02-29 12:34:56-05:30"),
                    None,
                    Some("2024-02-29 12:34:56"),
                ])),
                expected: Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(micros(2024, 2, 29, 10, 34, 56, 500_000)),
                        Some(micros(2024, 2, 29, 18, 4, 56, 0)),
                        None,
                        Some(micros(2024, 2, 29, 12, 34, 56, 0)),
                    ])
                    .with_timezone("UTC"),
                ),
            },
            Case {
                name: "ns_tstz",
                ty: Type::TIMESTAMPTZ,
                typmod: -1,
                // Sub-microsecond digits are dropped (floor), also before 1970.
                input: Arc::new(
                    TimestampNanosecondArray::from(vec![
                        Some(1_999),
                        Some(-1),
                        None,
                        Some(micros(2262, 1, 1, 0, 0, 0, 0) * 1_000 + 999),
                    ])
                    .with_timezone("Europe/Paris"),
                ),
                expected: Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some(1),
                        Some(-1),
                        None,
                        Some(micros(2262, 1, 1, 0, 0, 0, 0)),
                    ])
                    .with_timezone("UTC"),
                ),
            },
            Case {
                name: "date_ts",
                ty: Type::TIMESTAMP,
                typmod: -1,
                input: Arc::new(Date32Array::from(vec![
                    Some(days(1969, 7, 20)),
                    Some(0),
                    None,
                    Some(days(2100, 1, 1)),
                ])),
                expected: Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(micros(1969, 7, 20, 0, 0, 0, 0)),
                    Some(0),
                    None,
                    Some(micros(2100, 1, 1, 0, 0, 0, 0)),
                ])),
            },
            Case {
                name: "int_text",
                ty: Type::TEXT,
                typmod: -1,
                input: Arc::new(Int64Array::from(vec![Some(-5), Some(0), None, Some(i64::MAX)])),
                expected: Arc::new(StringArray::from(vec![Some("-5"), Some("0"), None, Some("9223372036854775807")])),
            },
            Case {
                name: "dict",
                ty: Type::TEXT,
                typmod: -1,
                input: Arc::new(dict),
                expected: Arc::new(StringArray::from(vec![Some("b"), Some("a"), None, Some("b")])),
            },
            Case {
                name: "fsb_uuid",
                ty: Type::UUID,
                typmod: -1,
                input: Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some([0xa0u8; 16]), Some([0u8; 16]), None, Some([0xffu8; 16])].into_iter(),
                        16,
                    )
                    .expect("valid fixed size binary"),
                ),
                expected: Arc::new(StringArray::from(vec![
                    Some("a0a0a0a0-a0a0-a0a0-a0a0-a0a0a0a0a0a0"),
                    Some("00000000-0000-0000-0000-000000000000"),
                    None,
                    Some("ffffffff-ffff-ffff-ffff-ffffffffffff"),
                ])),
            },
            Case {
                name: "nulls",
                ty: Type::INT4,
                typmod: -1,
                input: Arc::new(arrow::array::NullArray::new(4)),
                expected: Arc::new(Int32Array::from(vec![None, None, None, None])),
            },
        ];
        round_trip(&cases);
    }

    /// Tiny deterministic PRNG so the fuzz test needs no extra dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Corrupted and truncated streams, cut into random chunks, must produce
    /// errors or batches, never a panic.
    #[test]
    fn corrupt_streams_never_panic() {
        let cases = all_types_cases();
        let batch = input_batch(&cases).slice(0, 4);
        let stream = encode(&[batch], &types(&cases)).expect("encodes");
        let schema = output_schema(&cases);
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..3_000 {
            let mut corrupt = stream.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(corrupt.len());
                corrupt[at] = match rng.below(3) {
                    0 => 0xff,
                    1 => 0,
                    _ => rng.next() as u8,
                };
            }
            corrupt.truncate(corrupt.len() - rng.below(corrupt.len() / 4));
            let mut chunks = Vec::new();
            let mut rest = &corrupt[..];
            while !rest.is_empty() {
                let (chunk, tail) = rest.split_at(rng.below(rest.len() + 1).max(1));
                chunks.push(chunk);
                rest = tail;
            }
            let _ = decode_chunks(chunks, Arc::clone(&schema), types(&cases), 3);
        }
    }
}
