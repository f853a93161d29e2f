//! Arrow arrays read row by row as a handful of normalised value shapes ([`Value`]), so the
//! encoder's writers deal with "an integer" or "a timestamp in µs" instead of every Arrow type
//! and unit. Units are converted here, once per value.

use arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float16Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type, i256,
};

use super::temporal::MILLIS_PER_DAY;

/// One Arrow value, normalised so that the writers only deal with a handful
/// of shapes instead of every Arrow type.
#[derive(Clone, Copy)]
pub(super) enum Value<'a> {
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
    pub(super) fn kind(&self) -> &'static str {
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

/// Reads row `i` of one column ([`Reader::read`]). Built once per batch and column. The types
/// Flow's own sources produce most are read directly, so the value is built inline; the others
/// through a boxed closure, which keeps the per-Arrow-type code in one place ([`value_reader`])
/// at the cost of an indirect call per value.
pub(super) enum Reader<'a> {
    Boolean(&'a BooleanArray),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    Float64(&'a Float64Array),
    Decimal128(&'a Decimal128Array, i8),
    Utf8(&'a StringArray),
    Binary(&'a BinaryArray),
    Date32(&'a Date32Array),
    Time64Micros(&'a Time64MicrosecondArray),
    TimestampMicros(&'a TimestampMicrosecondArray),
    Other(Box<dyn Fn(usize) -> Value<'a> + 'a>),
}

impl<'a> Reader<'a> {
    /// The value of row `i` (not NULL: the caller checks the null buffer first).
    #[inline]
    pub(super) fn read(&self, i: usize) -> Value<'a> {
        match self {
            Reader::Boolean(a) => Value::Bool(a.value(i)),
            Reader::Int32(a) => Value::Int(a.value(i).into()),
            Reader::Int64(a) => Value::Int(a.value(i).into()),
            Reader::Float64(a) => Value::Float(a.value(i)),
            &Reader::Decimal128(a, scale) => Value::Decimal128 { unscaled: a.value(i), scale },
            Reader::Utf8(a) => Value::Str(a.value(i)),
            Reader::Binary(a) => Value::Bytes(a.value(i)),
            Reader::Date32(a) => Value::Date(a.value(i).into()),
            Reader::Time64Micros(a) => Value::Time(a.value(i)),
            Reader::TimestampMicros(a) => Value::Timestamp(a.value(i).into()),
            Reader::Other(read) => read(i),
        }
    }
}

fn primitive_reader<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    convert: impl Fn(T::Native) -> Value<'a> + 'a,
) -> Option<Reader<'a>> {
    let array = array.as_primitive_opt::<T>()?;
    Some(Reader::Other(Box::new(move |i| convert(array.value(i)))))
}

/// The reader for an array of any supported (non-dictionary) type.
pub(super) fn value_reader(array: &dyn Array) -> Option<Reader<'_>> {
    use DataType as D;
    let reader: Reader<'_> = match array.data_type() {
        D::Boolean => Reader::Boolean(array.as_boolean_opt()?),
        D::Int8 => primitive_reader::<Int8Type>(array, |v| Value::Int(v.into()))?,
        D::Int16 => primitive_reader::<Int16Type>(array, |v| Value::Int(v.into()))?,
        D::Int32 => Reader::Int32(array.as_primitive_opt::<Int32Type>()?),
        D::Int64 => Reader::Int64(array.as_primitive_opt::<Int64Type>()?),
        D::UInt8 => primitive_reader::<UInt8Type>(array, |v| Value::Int(v.into()))?,
        D::UInt16 => primitive_reader::<UInt16Type>(array, |v| Value::Int(v.into()))?,
        D::UInt32 => primitive_reader::<UInt32Type>(array, |v| Value::Int(v.into()))?,
        D::UInt64 => primitive_reader::<UInt64Type>(array, |v| Value::Int(v.into()))?,
        D::Float16 => primitive_reader::<Float16Type>(array, |v| Value::Float(v.to_f64()))?,
        D::Float32 => primitive_reader::<Float32Type>(array, |v| Value::Float(v.into()))?,
        D::Float64 => Reader::Float64(array.as_primitive_opt::<Float64Type>()?),
        &D::Decimal32(_, scale) => {
            primitive_reader::<Decimal32Type>(array, move |v| Value::Decimal128 { unscaled: v.into(), scale })?
        }
        &D::Decimal64(_, scale) => {
            primitive_reader::<Decimal64Type>(array, move |v| Value::Decimal128 { unscaled: v.into(), scale })?
        }
        &D::Decimal128(_, scale) => Reader::Decimal128(array.as_primitive_opt::<Decimal128Type>()?, scale),
        &D::Decimal256(_, scale) => {
            primitive_reader::<Decimal256Type>(array, move |v| Value::Decimal256 { unscaled: v, scale })?
        }
        D::Utf8 => Reader::Utf8(array.as_string_opt::<i32>()?),
        D::LargeUtf8 => {
            let a = array.as_string_opt::<i64>()?;
            Reader::Other(Box::new(move |i| Value::Str(a.value(i))))
        }
        D::Utf8View => {
            let a = array.as_string_view_opt()?;
            Reader::Other(Box::new(move |i| Value::Str(a.value(i))))
        }
        D::Binary => Reader::Binary(array.as_binary_opt::<i32>()?),
        D::LargeBinary => {
            let a = array.as_binary_opt::<i64>()?;
            Reader::Other(Box::new(move |i| Value::Bytes(a.value(i))))
        }
        D::BinaryView => {
            let a = array.as_binary_view_opt()?;
            Reader::Other(Box::new(move |i| Value::Bytes(a.value(i))))
        }
        D::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary_opt()?;
            Reader::Other(Box::new(move |i| Value::Bytes(a.value(i))))
        }
        D::Date32 => Reader::Date32(array.as_primitive_opt::<Date32Type>()?),
        D::Date64 => primitive_reader::<Date64Type>(array, |v| Value::Date(v.div_euclid(MILLIS_PER_DAY)))?,
        D::Time32(TimeUnit::Second) => {
            primitive_reader::<Time32SecondType>(array, |v| Value::Time(i64::from(v) * 1_000_000))?
        }
        D::Time32(TimeUnit::Millisecond) => {
            primitive_reader::<Time32MillisecondType>(array, |v| Value::Time(i64::from(v) * 1_000))?
        }
        D::Time64(TimeUnit::Microsecond) => Reader::Time64Micros(array.as_primitive_opt::<Time64MicrosecondType>()?),
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
            Reader::TimestampMicros(array.as_primitive_opt::<TimestampMicrosecondType>()?)
        }
        D::Timestamp(TimeUnit::Nanosecond, _) => {
            primitive_reader::<TimestampNanosecondType>(array, |v| Value::Timestamp(i128::from(v.div_euclid(1_000))))?
        }
        _ => return None,
    };
    Some(reader)
}
