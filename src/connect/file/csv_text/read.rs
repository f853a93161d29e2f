//! The rows of one CSV file as Arrow batches: each value parsed as its column's type, strictly
//! (as written) for inferred types and leniently for declared ones, with errors naming the
//! line, the column and the value.

use std::io::BufRead;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::{DataFusionError, Result};

use super::fields::{Record, RecordReader};
use super::infer::INFERRED_KEY;
use super::options::CsvOptions;
use super::values::{
    canonical_decimal, date_days, exact_float, is_canonical_integer, naive_timestamp, normal_number, zoned_timestamp,
};
use crate::connect::sqlite::reader::parse_decimal;
use crate::diagnostics::{Failure, codes};

enum Builder {
    Boolean(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, bool),
}

impl Builder {
    fn new(dt: &DataType) -> Result<Self> {
        Ok(match dt {
            DataType::Boolean => Self::Boolean(BooleanBuilder::new()),
            DataType::Int8 => Self::Int8(Int8Builder::new()),
            DataType::Int16 => Self::Int16(Int16Builder::new()),
            DataType::Int32 => Self::Int32(Int32Builder::new()),
            DataType::Int64 => Self::Int64(Int64Builder::new()),
            DataType::Float32 => Self::Float32(Float32Builder::new()),
            DataType::Float64 => Self::Float64(Float64Builder::new()),
            DataType::Decimal128(p, s) => Self::Decimal(Decimal128Builder::new().with_data_type(dt.clone()), *p, *s),
            DataType::Utf8 => Self::Text(StringBuilder::new()),
            DataType::Binary => Self::Binary(BinaryBuilder::new()),
            DataType::Date32 => Self::Date(Date32Builder::new()),
            DataType::Time64(TimeUnit::Microsecond) => Self::Time(Time64MicrosecondBuilder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Self::Timestamp(TimestampMicrosecondBuilder::new().with_data_type(dt.clone()), tz.is_some())
            }
            other => return Err(DataFusionError::Plan(format!("CSV columns cannot be read as {other}"))),
        })
    }

    fn null(&mut self) {
        match self {
            Self::Boolean(b) => b.append_null(),
            Self::Int8(b) => b.append_null(),
            Self::Int16(b) => b.append_null(),
            Self::Int32(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float32(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Decimal(b, ..) => b.append_null(),
            Self::Text(b) => b.append_null(),
            Self::Binary(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Time(b) => b.append_null(),
            Self::Timestamp(b, _) => b.append_null(),
        }
    }

    /// Appends `s`; `strict` for inferred types (the value must read back as written).
    fn value(&mut self, s: &str, strict: bool) -> std::result::Result<(), &'static str> {
        fn int<T: std::str::FromStr>(s: &str, strict: bool) -> std::result::Result<T, &'static str> {
            if strict && !is_canonical_integer(s) {
                return Err("is not an integer written without leading zeros or sign");
            }
            s.trim().parse::<T>().map_err(|_| "is not an integer of the column's size")
        }
        match self {
            Self::Boolean(b) => b.append_value(match s.trim() {
                t if t.eq_ignore_ascii_case("true") => true,
                t if t.eq_ignore_ascii_case("false") => false,
                t if !strict && (t == "1" || t.eq_ignore_ascii_case("t") || t.eq_ignore_ascii_case("yes")) => true,
                t if !strict && (t == "0" || t.eq_ignore_ascii_case("f") || t.eq_ignore_ascii_case("no")) => false,
                _ => return Err("is not a boolean"),
            }),
            Self::Int8(b) => b.append_value(int(s, strict)?),
            Self::Int16(b) => b.append_value(int(s, strict)?),
            Self::Int32(b) => b.append_value(int(s, strict)?),
            Self::Int64(b) => b.append_value(int(s, strict)?),
            Self::Float32(b) => b.append_value(s.trim().parse().map_err(|_| "is not a number")?),
            Self::Float64(b) => {
                if strict && !(exact_float(s) || is_canonical_integer(s) || canonical_decimal(s).is_some()) {
                    return Err("is not a number a double holds exactly as written");
                }
                let f: f64 = s.trim().parse().map_err(|_| "is not a number")?;
                if strict && normal_number(&format!("{f:e}")) != normal_number(s) {
                    return Err("is not a number a double holds exactly as written");
                }
                b.append_value(f);
            }
            Self::Decimal(b, p, sc) => {
                if strict && !(is_canonical_integer(s) || canonical_decimal(s).is_some()) {
                    return Err("is not a decimal number written without leading zeros or sign");
                }
                let v = parse_decimal(s.trim(), *p, *sc).map_err(|_| "does not fit the column's decimal type")?;
                b.append_value(v);
            }
            Self::Text(b) => b.append_value(s),
            Self::Binary(b) => b.append_value(s.as_bytes()),
            Self::Date(b) => b.append_value(date_days(s.trim()).ok_or("is not a date (YYYY-MM-DD)")?),
            Self::Time(b) => {
                let t = chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
                    .map_err(|_| "is not a time of day (HH:MM:SS[.ffffff])")?;
                let micros = i64::from(chrono::Timelike::num_seconds_from_midnight(&t)) * 1_000_000
                    + i64::from(chrono::Timelike::nanosecond(&t) / 1000);
                b.append_value(micros);
            }
            Self::Timestamp(b, zoned) => {
                let s = s.trim();
                let v = if *zoned {
                    zoned_timestamp(s).or_else(|| (!strict).then(|| naive_timestamp(s)).flatten())
                } else {
                    naive_timestamp(s).or_else(|| (!strict).then(|| zoned_timestamp(s)).flatten())
                };
                b.append_value(v.ok_or("is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM])")?);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Int8(b) => Arc::new(b.finish()),
            Self::Int16(b) => Arc::new(b.finish()),
            Self::Int32(b) => Arc::new(b.finish()),
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Float32(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Decimal(b, ..) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Binary(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Time(b) => Arc::new(b.finish()),
            Self::Timestamp(b, _) => Arc::new(b.finish()),
        }
    }
}

/// Reads the rows of one CSV file as batches of `schema` (from [`super::infer_schema`] on the same
/// options, or the columns of it a pipeline reads, in any order), handing each to `emit`; stops
/// early when `emit` returns false. Each field of `schema` is found by name: in the header, or
/// as `column_N` (the N-th field) in a file without one.
///
/// Errors: a line with another number of fields than the file's first line, a value that does
/// not parse as its column's type (naming line, column and value; a [`Failure`] of code
/// `flow::source::decode` whose `row` is the record's number after the header), a field `schema`
/// names that the file does not have (`flow::source::changed`).
pub fn read_batches(
    input: impl BufRead,
    options: &CsvOptions,
    schema: &SchemaRef,
    batch_size: usize,
    shown: &str,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let mut reader = RecordReader::new(input, options.delimiter);
    let mut record = Record::default();
    let io = |e: std::io::Error| {
        Failure::new(codes::source::READ_FAILED, format!("cannot read {shown}: {e}")).into_datafusion()
    };
    // The file's own columns: the header's names, or `column_N` once the first line is read.
    let mut names: Option<Vec<String>> = None;
    if options.header {
        if !reader.next_record(&mut record).map_err(io)? {
            return Ok(());
        }
        names = Some((0..record.count()).map(|i| String::from_utf8_lossy(record.field(i)).into_owned()).collect());
    }
    let mut builders: Vec<Builder> =
        schema.fields().iter().map(|f| Builder::new(f.data_type())).collect::<Result<_>>()?;
    let strict: Vec<bool> = schema.fields().iter().map(|f| f.metadata().contains_key(INFERRED_KEY)).collect();
    let mut positions: Option<Vec<usize>> = None;
    let mut columns = 0;
    let mut rows = 0;
    // Records read so far, the header not counted: the current one is `read + 1`.
    let mut read: u64 = 0;
    let finish = |builders: &mut Vec<Builder>, rows: usize| -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?)
    };
    while reader.next_record(&mut record).map_err(io)? {
        if positions.is_none() {
            let names = names.get_or_insert_with(|| (0..record.count()).map(|i| format!("column_{}", i + 1)).collect());
            columns = names.len();
            positions = Some(
                schema
                    .fields()
                    .iter()
                    .map(|f| {
                        names.iter().position(|n| n == f.name()).ok_or_else(|| {
                            let message = format!(
                                "cannot read {shown}: it has no column `{}` (its columns: {})",
                                f.name(),
                                names.join(", ")
                            );
                            Failure::new(codes::source::CHANGED, message).column(f.name()).into_datafusion()
                        })
                    })
                    .collect::<Result<_>>()?,
            );
        }
        let positions = positions.as_deref().unwrap_or_default();
        read += 1;
        if record.count() != columns {
            let first = if options.header { "the header" } else { "the first line" };
            let message = format!(
                "cannot read {shown}: line {} has {} fields, {first} has {columns}",
                record.line,
                record.count()
            );
            return Err(Failure::new(codes::source::DECODE, message).row(read).into_datafusion());
        }
        for (i, builder) in builders.iter_mut().enumerate() {
            let field = schema.field(i);
            let at = positions[i];
            let Ok(text) = std::str::from_utf8(record.field(at)) else {
                let message = format!(
                    "cannot read {shown}: line {}, column `{}`: the value is not valid UTF-8",
                    record.line,
                    field.name()
                );
                return Err(Failure::new(codes::source::DECODE, message)
                    .row(read)
                    .column(field.name())
                    .into_datafusion());
            };
            if !record.quoted[at] && text == options.null {
                builder.null();
                continue;
            }
            if let Err(why) = builder.value(text, strict[i]) {
                let fix = if strict[i] {
                    format!(
                        " (type {} was inferred from {}; declare the column's type, e.g. types: \"{} text\", or infer from every row with infer: \"all\")",
                        field.data_type(),
                        options.inferred_from(),
                        field.name()
                    )
                } else {
                    format!(" (declared {})", field.data_type())
                };
                let mut value: String = text.chars().take(100).collect();
                if value.len() < text.len() {
                    value.push('…');
                }
                let message = format!(
                    "cannot read {shown}: line {}, column `{}`: value '{value}' {why}{fix}",
                    record.line,
                    field.name()
                );
                return Err(Failure::new(codes::source::DECODE, message)
                    .row(read)
                    .column(field.name())
                    .into_datafusion());
            }
        }
        rows += 1;
        if rows == batch_size {
            if !emit(finish(&mut builders, rows)?) {
                return Ok(());
            }
            rows = 0;
        }
    }
    if rows > 0 {
        emit(finish(&mut builders, rows)?);
    }
    Ok(())
}
