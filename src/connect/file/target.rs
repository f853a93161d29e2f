//! What a CSV or Parquet target makes of each column, for `explain` (`connect::target`): the
//! column's type in the file and what the format cannot keep exactly.

use arrow::datatypes::{DataType, Field};

use crate::connect::decimal_text;
use crate::connect::target::bit_note;

/// How one file format takes columns (`connect::registry::BackendEntry::file_sink`).
#[derive(Clone, Copy)]
pub struct FileFormat {
    /// The column's type as the file holds it (`parquet Int64`, `text`).
    pub column_type: fn(&Field) -> String,
    /// What the format cannot keep exactly of a column, in one line; `None` when it keeps it.
    pub inexact: fn(&Field) -> Option<String>,
}

pub const CSV: FileFormat = FileFormat { column_type: |_| "text".to_string(), inexact: csv_inexact };

pub const PARQUET: FileFormat =
    FileFormat { column_type: |f| format!("parquet {}", f.data_type()), inexact: parquet_inexact };

fn csv_inexact(field: &Field) -> Option<String> {
    let bits = bit_note(field, "csv", |bits| {
        if bits == 1 { "true/false".to_string() } else { "the bits as a decimal number (b'101' is 5)".to_string() }
    });
    if bits.is_some() {
        return bits;
    }
    matches!(field.data_type(), DataType::Duration(_)).then(|| {
        format!(
            "column `{}`: CSV has no type for a span of time (a MySQL TIME); it is written as an ISO 8601 duration \
             (e.g. PT3020399S for 838:59:59, -PT5400S for -01:30:00)",
            field.name()
        )
    })
}

fn parquet_inexact(field: &Field) -> Option<String> {
    let column = field.name();
    let bits = bit_note(field, "parquet", |bits| {
        if bits == 1 {
            "a boolean".to_string()
        } else {
            "an unsigned 64-bit integer holding the bits as a number (b'101' is 5)".to_string()
        }
    });
    if bits.is_some() {
        return bits;
    }
    if decimal_text::is_decimal_text(field) {
        return Some(format!(
            "column `{column}`: a numeric without precision is written as its exact decimal text (a Parquet string): \
             no decimal(p,s) holds every such value; cast it (cast {column} as decimal(p,s)) for a decimal column"
        ));
    }
    matches!(field.data_type(), DataType::Duration(_)).then(|| {
        format!(
            "column `{column}`: Parquet has no span-of-time type (a MySQL TIME); it is stored as an INT64 of \
             microseconds, which Arrow readers see as Duration(µs) from the schema Flow embeds"
        )
    })
}
