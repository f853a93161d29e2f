//! PostgreSQL <-> Arrow type mapping.
//!
//! Flow moves data in and out of PostgreSQL with binary `COPY` (see
//! [`super::copy`]). Binary COPY carries no type information, so both
//! sides of the conversion are planned from the column types up front:
//!
//! * [`arrow_type_for_pg`] / [`pg_field`] decide which Arrow type a PostgreSQL
//!   result column becomes when Flow reads from PostgreSQL. The mapping is
//!   deliberately lossless: a value that cannot be represented exactly is an
//!   error at decode time, never a silent rounding.
//! * [`pg_type_for_arrow`] decides which column type Flow uses in the DDL when
//!   it creates a PostgreSQL table from an Arrow schema.
//!
//! Types outside the mapping are rejected with a hint to cast them in the
//! source query (for example `col::text`), which is always possible and keeps
//! this module small and exact.

use std::collections::HashMap;

use arrow::datatypes::{DataType, Field, TimeUnit};
use datafusion::error::Result;
use tokio_postgres::types::{Kind, Type};

use crate::diagnostics::{Failure, codes};

/// Field metadata key holding the type a column came from (`connect::metadata::SOURCE_TYPE`).
pub use crate::connect::metadata::SOURCE_TYPE as SOURCE_TYPE_METADATA_KEY;

/// PostgreSQL stores a type modifier with the 4-byte varlena header size added
/// (`VARHDRSZ`); every typmod decoding below subtracts it.
const VARHDRSZ: i32 = 4;

/// The scalar types the binary COPY codec understands, after resolving domains
/// to their base type and recognising extension types by name.
///
/// Both the type mapping and the COPY codec dispatch on this enum so that the
/// set of supported types is defined in exactly one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgScalar {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `oid` is an unsigned 32-bit integer on the wire.
    Oid,
    Float4,
    Float8,
    Numeric,
    /// text, varchar, bpchar, name, citext, unknown and enum labels: all of
    /// them are sent as raw UTF-8 bytes in binary format.
    Text,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Json,
    /// jsonb's binary format is a version byte (1) followed by the JSON text.
    Jsonb,
    Uuid,
    /// Microseconds, days and months; read as an Arrow `Duration(µs)` when it
    /// has no months (a month has no fixed length), written from durations.
    Interval,
    /// `bit(n)` and `varbit`: written from a MySQL `BIT(n)` column (the encoder takes the bit
    /// count from the field's metadata); `bit(n)` with 2 <= n <= 64 is read as `UInt64`.
    Bit,
}

impl PgScalar {
    /// Classifies a PostgreSQL type, looking through domains (whose binary
    /// format is that of their base type). Returns `None` for unsupported
    /// types.
    pub(crate) fn of(ty: &Type) -> Option<PgScalar> {
        if let Kind::Domain(base) = ty.kind() {
            return PgScalar::of(base);
        }
        if let Kind::Enum(_) = ty.kind() {
            return Some(PgScalar::Text);
        }
        let scalar = match *ty {
            Type::BOOL => PgScalar::Bool,
            Type::INT2 => PgScalar::Int2,
            Type::INT4 => PgScalar::Int4,
            Type::INT8 => PgScalar::Int8,
            Type::OID => PgScalar::Oid,
            Type::FLOAT4 => PgScalar::Float4,
            Type::FLOAT8 => PgScalar::Float8,
            Type::NUMERIC => PgScalar::Numeric,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => PgScalar::Text,
            Type::BYTEA => PgScalar::Bytea,
            Type::DATE => PgScalar::Date,
            Type::TIME => PgScalar::Time,
            Type::TIMESTAMP => PgScalar::Timestamp,
            Type::TIMESTAMPTZ => PgScalar::Timestamptz,
            Type::JSON => PgScalar::Json,
            Type::JSONB => PgScalar::Jsonb,
            Type::UUID => PgScalar::Uuid,
            Type::INTERVAL => PgScalar::Interval,
            Type::BIT | Type::VARBIT => PgScalar::Bit,
            // citext is an extension type with a per-database OID, so it can
            // only be recognised by name. Its binary format is text's.
            _ if ty.kind() == &Kind::Simple && ty.name() == "citext" => PgScalar::Text,
            _ => return None,
        };
        Some(scalar)
    }
}

/// The message for a PostgreSQL type Flow cannot read or write, naming the type as SQL writes
/// it (`text[]`, not the catalog's `_text`).
pub(crate) fn unsupported_pg_type_message(ty: &Type) -> String {
    let name = match ty.kind() {
        Kind::Array(element) => format!("{}[]", element.name()),
        _ => ty.name().to_string(),
    };
    format!("unsupported PostgreSQL type {name}; read the column cast to a type Flow reads (in a query: col::text)")
}

/// Decodes a `numeric` type modifier into `(precision, scale)`, or `None` for
/// an unconstrained `numeric`.
///
/// Since PostgreSQL 15 the scale is an 11-bit two's-complement field (scales
/// may be negative, e.g. `numeric(5,-2)`); reading it that way is identical to
/// the older `& 0xffff` for the non-negative scales earlier versions allow.
pub fn numeric_precision_scale(type_modifier: i32) -> Option<(i32, i32)> {
    if type_modifier < VARHDRSZ {
        return None;
    }
    let tm = type_modifier - VARHDRSZ;
    let precision = (tm >> 16) & 0xffff;
    let scale = ((tm & 0x7ff) ^ 1024) - 1024;
    Some((precision, scale))
}

/// The Arrow type a PostgreSQL column of type `ty` (with the given type
/// modifier, -1 if none) is decoded into.
pub fn arrow_type_for_pg(ty: &Type, type_modifier: i32) -> Result<DataType> {
    let unsupported =
        || Failure::new(codes::source::UNSUPPORTED_TYPE, unsupported_pg_type_message(ty)).into_datafusion();
    let scalar = PgScalar::of(ty).ok_or_else(unsupported)?;
    let data_type = match scalar {
        PgScalar::Bool => DataType::Boolean,
        PgScalar::Int2 => DataType::Int16,
        PgScalar::Int4 => DataType::Int32,
        // oid is unsigned 32-bit; Int64 holds every value and keeps the
        // column in the signed types SQL engines handle best.
        PgScalar::Int8 | PgScalar::Oid => DataType::Int64,
        PgScalar::Float4 => DataType::Float32,
        PgScalar::Float8 => DataType::Float64,
        PgScalar::Numeric => numeric_arrow_type(ty, type_modifier)?,
        PgScalar::Text | PgScalar::Json | PgScalar::Jsonb | PgScalar::Uuid => DataType::Utf8,
        PgScalar::Bytea => DataType::Binary,
        PgScalar::Date => DataType::Date32,
        PgScalar::Time => DataType::Time64(TimeUnit::Microsecond),
        PgScalar::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        PgScalar::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        PgScalar::Interval => DataType::Duration(TimeUnit::Microsecond),
        // `bit(n)` up to 64 bits is read as the number its bits spell, as a MySQL `BIT(n)` is;
        // its `bit(n)` metadata makes a PostgreSQL target `bit(n)` again. `bit(1)`, longer bit
        // strings and `varbit` have no such number.
        PgScalar::Bit if *ty == Type::BIT && (2..=64).contains(&type_modifier) => DataType::UInt64,
        PgScalar::Bit => return Err(unsupported()),
    };
    Ok(data_type)
}

/// A `numeric` without precision (typmod -1: a column declared `numeric`, or the result of
/// arithmetic) has no fixed scale and may hold `NaN` and `±Infinity`: it is read as its exact
/// decimal text (Utf8, marked by `pg_field`; see `crate::connect::decimal_text`).
fn numeric_arrow_type(ty: &Type, type_modifier: i32) -> Result<DataType> {
    let Some((precision, scale)) = numeric_precision_scale(type_modifier) else {
        return Ok(DataType::Utf8);
    };
    // PostgreSQL 15+ allows a scale larger than the precision (numeric(3,5)
    // holds values below 0.001); Arrow requires scale <= precision, and
    // precision = scale holds all such values exactly.
    let arrow_precision = precision.max(scale);
    let scale_i8 = i8::try_from(scale).ok();
    match (arrow_precision, scale_i8) {
        (1..=38, Some(s)) => Ok(DataType::Decimal128(arrow_precision as u8, s)),
        (39..=76, Some(s)) => Ok(DataType::Decimal256(arrow_precision as u8, s)),
        _ => {
            let message = format!(
                "unsupported PostgreSQL type {}({precision},{scale}): Arrow decimals hold at most 76 digits; cast it \
                 in the source query, e.g. col::text",
                ty.name()
            );
            Err(Failure::new(codes::source::UNSUPPORTED_TYPE, message).into_datafusion())
        }
    }
}

/// Human-readable PostgreSQL type including its modifier, e.g.
/// `numeric(12,2)`, `varchar(20)`, `timestamptz(3)`.
pub fn pg_type_display(ty: &Type, type_modifier: i32) -> String {
    let name = ty.name();
    match *ty {
        Type::NUMERIC => match numeric_precision_scale(type_modifier) {
            Some((p, s)) => format!("{name}({p},{s})"),
            None => name.to_string(),
        },
        Type::VARCHAR | Type::BPCHAR if type_modifier >= VARHDRSZ => {
            format!("{name}({})", type_modifier - VARHDRSZ)
        }
        // For bit(n) the typmod is n.
        Type::BIT if type_modifier > 0 => format!("{name}({type_modifier})"),
        // For the time types the typmod is the fractional-second precision
        // itself, without the VARHDRSZ offset.
        Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ if type_modifier >= 0 => {
            format!("{name}({type_modifier})")
        }
        _ => name.to_string(),
    }
}

/// The nullable Arrow field for a PostgreSQL result column, with the original
/// type recorded in the `flow.source_type` metadata; an unconstrained `numeric`
/// is also marked as exact decimal text (`crate::connect::decimal_text`).
pub fn pg_field(name: &str, ty: &Type, typmod: i32) -> Result<Field> {
    let data_type = arrow_type_for_pg(ty, typmod).map_err(|e| match Failure::find(&e) {
        Some(failure) => {
            failure.reworded(format!("column \"{name}\": {}", failure.message)).column(name).into_datafusion()
        }
        None => e,
    })?;
    let metadata = HashMap::from([(SOURCE_TYPE_METADATA_KEY.to_string(), pg_type_display(ty, typmod))]);
    let field = Field::new(name, data_type, true).with_metadata(metadata);
    let unconstrained_numeric = PgScalar::of(ty) == Some(PgScalar::Numeric) && field.data_type() == &DataType::Utf8;
    Ok(if unconstrained_numeric { crate::connect::decimal_text::mark(field) } else { field })
}

/// The PostgreSQL column type Flow uses when it creates a table for an Arrow
/// field: [`pg_type_for_arrow`] of its type, except that a column read from a
/// MySQL `BIT(n)` (n > 1; its `flow.source_type` metadata says `bit(n)`) is
/// `bit(n)`. `BIT(1)` is a Boolean and becomes `boolean`.
pub fn pg_type_for_field(field: &Field) -> Result<String> {
    // Exact decimal text (an unconstrained numeric read from PostgreSQL) is numeric again.
    if crate::connect::decimal_text::is_decimal_text(field) {
        return Ok("numeric".to_string());
    }
    match crate::connect::metadata::bit_length(field) {
        Some(bits) if bits > 1 => Ok(format!("bit({bits})")),
        _ => pg_type_for_arrow(field.data_type()),
    }
}

/// The PostgreSQL column type Flow uses when it creates a table for an Arrow
/// column of type `dt`. A `Duration` (a MySQL `TIME`, a signed span that may
/// exceed a day) is `interval`, which holds every such value exactly.
///
/// Unsigned types go to the next wider signed type (PostgreSQL has no
/// unsigned integers) so that every value fits.
pub fn pg_type_for_arrow(dt: &DataType) -> Result<String> {
    let name = match dt {
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint",
        DataType::Int32 | DataType::UInt16 => "integer",
        DataType::Int64 | DataType::UInt32 => "bigint",
        DataType::UInt64 => "numeric(20,0)",
        DataType::Boolean => "boolean",
        DataType::Float16 | DataType::Float32 => "real",
        DataType::Float64 => "double precision",
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => return Ok(format!("numeric({p},{s})")),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => "bytea",
        DataType::Date32 | DataType::Date64 => "date",
        DataType::Time32(_) | DataType::Time64(_) => "time",
        DataType::Duration(_) => "interval",
        DataType::Timestamp(_, None) => "timestamp",
        DataType::Timestamp(_, Some(_)) => "timestamptz",
        // A dictionary is only an encoding; the column holds its values.
        DataType::Dictionary(_, value_type) => return pg_type_for_arrow(value_type),
        other => {
            let message =
                format!("cannot create a PostgreSQL column for Arrow type {other}; cast it first, e.g. to a string");
            return Err(Failure::new(codes::sink::UNSUPPORTED_TYPE, message).into_datafusion());
        }
    };
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a numeric typmod the way PostgreSQL does.
    fn numeric_typmod(precision: i32, scale: i32) -> i32 {
        ((precision << 16) | (scale & 0x7ff)) + VARHDRSZ
    }

    #[test]
    fn scalar_types_map() {
        let cases = [
            (Type::INT2, DataType::Int16),
            (Type::INT4, DataType::Int32),
            (Type::INT8, DataType::Int64),
            (Type::OID, DataType::Int64),
            (Type::BOOL, DataType::Boolean),
            (Type::FLOAT4, DataType::Float32),
            (Type::FLOAT8, DataType::Float64),
            (Type::TEXT, DataType::Utf8),
            (Type::VARCHAR, DataType::Utf8),
            (Type::BPCHAR, DataType::Utf8),
            (Type::NAME, DataType::Utf8),
            (Type::UNKNOWN, DataType::Utf8),
            (Type::JSON, DataType::Utf8),
            (Type::JSONB, DataType::Utf8),
            (Type::UUID, DataType::Utf8),
            (Type::BYTEA, DataType::Binary),
            (Type::DATE, DataType::Date32),
            (Type::TIME, DataType::Time64(TimeUnit::Microsecond)),
            (Type::TIMESTAMP, DataType::Timestamp(TimeUnit::Microsecond, None)),
            (Type::TIMESTAMPTZ, DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
        ];
        for (ty, expected) in cases {
            assert_eq!(arrow_type_for_pg(&ty, -1).unwrap(), expected, "{ty}");
        }
    }

    #[test]
    fn numeric_typmods() {
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, -1).unwrap(), DataType::Utf8);
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(12, 2)).unwrap(), DataType::Decimal128(12, 2));
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(38, 0)).unwrap(), DataType::Decimal128(38, 0));
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(39, 5)).unwrap(), DataType::Decimal256(39, 5));
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(76, 76)).unwrap(), DataType::Decimal256(76, 76));
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(5, -2)).unwrap(), DataType::Decimal128(5, -2));
        assert_eq!(arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(3, 5)).unwrap(), DataType::Decimal128(5, 5));
        let err = arrow_type_for_pg(&Type::NUMERIC, numeric_typmod(77, 0)).unwrap_err();
        assert!(err.to_string().contains("numeric(77,0)"), "{err}");
    }

    #[test]
    fn custom_types() {
        let mood = Type::new("mood".into(), 90001, Kind::Enum(vec!["sad".into(), "happy".into()]), "public".into());
        assert_eq!(arrow_type_for_pg(&mood, -1).unwrap(), DataType::Utf8);
        let citext = Type::new("citext".into(), 90002, Kind::Simple, "public".into());
        assert_eq!(arrow_type_for_pg(&citext, -1).unwrap(), DataType::Utf8);
        let domain = Type::new("positive".into(), 90003, Kind::Domain(Type::INT4), "public".into());
        assert_eq!(arrow_type_for_pg(&domain, -1).unwrap(), DataType::Int32);
    }

    #[test]
    fn unsupported_types_name_the_type() {
        assert_eq!(arrow_type_for_pg(&Type::INTERVAL, -1).unwrap(), DataType::Duration(TimeUnit::Microsecond));
        for (ty, shown) in
            [(Type::BIT, "bit"), (Type::INT4_ARRAY, "int4[]"), (Type::POINT, "point"), (Type::MONEY, "money")]
        {
            let err = arrow_type_for_pg(&ty, -1).unwrap_err().to_string();
            assert!(err.contains(&format!("unsupported PostgreSQL type {shown};")), "{err}");
            assert!(err.contains("::text"), "{err}");
        }
        let err = pg_field("flags", &Type::VARBIT, -1).unwrap_err().to_string();
        assert!(err.contains("flags") && err.contains("varbit"), "{err}");
    }

    #[test]
    fn field_metadata() {
        let f = pg_field("amount", &Type::NUMERIC, numeric_typmod(12, 2)).unwrap();
        assert!(f.is_nullable());
        assert_eq!(f.data_type(), &DataType::Decimal128(12, 2));
        assert_eq!(f.metadata().get(SOURCE_TYPE_METADATA_KEY).map(String::as_str), Some("numeric(12,2)"));
        let f = pg_field("code", &Type::VARCHAR, 24).unwrap();
        assert_eq!(f.metadata().get(SOURCE_TYPE_METADATA_KEY).map(String::as_str), Some("varchar(20)"));
        let f = pg_field("n", &Type::NUMERIC, -1).unwrap();
        assert_eq!(f.metadata().get(SOURCE_TYPE_METADATA_KEY).map(String::as_str), Some("numeric"));
        assert!(crate::connect::decimal_text::is_decimal_text(&f));
        assert_eq!(pg_type_for_field(&f).unwrap(), "numeric");
        assert!(!crate::connect::decimal_text::is_decimal_text(&pg_field("t", &Type::TEXT, -1).unwrap()));
        let f = pg_field("t", &Type::TEXT, -1).unwrap();
        assert_eq!(f.metadata().get(SOURCE_TYPE_METADATA_KEY).map(String::as_str), Some("text"));
    }

    #[test]
    fn ddl_types() {
        let cases = [
            (DataType::Int8, "smallint"),
            (DataType::Int16, "smallint"),
            (DataType::Int32, "integer"),
            (DataType::Int64, "bigint"),
            (DataType::UInt8, "smallint"),
            (DataType::UInt16, "integer"),
            (DataType::UInt32, "bigint"),
            (DataType::UInt64, "numeric(20,0)"),
            (DataType::Boolean, "boolean"),
            (DataType::Float16, "real"),
            (DataType::Float32, "real"),
            (DataType::Float64, "double precision"),
            (DataType::Decimal128(12, 2), "numeric(12,2)"),
            (DataType::Decimal256(50, 10), "numeric(50,10)"),
            (DataType::Utf8, "text"),
            (DataType::LargeUtf8, "text"),
            (DataType::Utf8View, "text"),
            (DataType::Binary, "bytea"),
            (DataType::LargeBinary, "bytea"),
            (DataType::BinaryView, "bytea"),
            (DataType::FixedSizeBinary(16), "bytea"),
            (DataType::Date32, "date"),
            (DataType::Date64, "date"),
            (DataType::Time32(TimeUnit::Second), "time"),
            (DataType::Time64(TimeUnit::Nanosecond), "time"),
            (DataType::Timestamp(TimeUnit::Second, None), "timestamp"),
            (DataType::Timestamp(TimeUnit::Nanosecond, Some("Europe/Paris".into())), "timestamptz"),
            (DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), "text"),
        ];
        for (dt, expected) in cases {
            assert_eq!(pg_type_for_arrow(&dt).unwrap(), expected, "{dt}");
        }
        assert_eq!(pg_type_for_arrow(&DataType::Duration(TimeUnit::Microsecond)).unwrap(), "interval");
        let err = pg_type_for_arrow(&DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano)).unwrap_err();
        assert!(err.to_string().contains("Interval"), "{err}");
    }

    #[test]
    fn typmod_round_trip_through_pg_formula() {
        assert_eq!(numeric_precision_scale(-1), None);
        assert_eq!(numeric_precision_scale(numeric_typmod(12, 2)), Some((12, 2)));
        assert_eq!(numeric_precision_scale(numeric_typmod(1000, 1000)), Some((1000, 1000)));
        assert_eq!(numeric_precision_scale(numeric_typmod(5, -2)), Some((5, -2)));
    }
}
