//! Arrow arrays read row by row as a handful of normalised value shapes ([`Value`]), so the
//! encoder's writers deal with "an integer" or "a timestamp in µs" instead of every Arrow type
//! and unit. Units are converted here, once per value.

use arrow::array::{Array, AsArray};
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

/// Reads row `i` of one column. Built once per batch and column; boxing keeps
/// the per-Arrow-type code in one place ([`value_reader`]) at the cost of an
/// indirect call per value.
pub(super) type Reader<'a> = Box<dyn Fn(usize) -> Value<'a> + 'a>;

fn primitive_reader<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    convert: impl Fn(T::Native) -> Value<'a> + 'a,
) -> Option<Reader<'a>> {
    let array = array.as_primitive_opt::<T>()?;
    Some(Box::new(move |i| convert(array.value(i))))
}

/// The reader for an array of any supported (non-dictionary) type.
pub(super) fn value_reader(array: &dyn Array) -> Option<Reader<'_>> {
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
