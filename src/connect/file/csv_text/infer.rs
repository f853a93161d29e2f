//! The schema of a CSV file: header names (or `column_N`), declared types, and types inferred
//! from the first rows (or all of them) as the module docs' table says.

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};

use super::UTC;
use super::fields::{Record, RecordReader};
use super::options::CsvOptions;
use super::values::{
    canonical_decimal, date_days, exact_float, is_canonical_integer, naive_timestamp, normal_number, zoned_timestamp,
};
use crate::connect::sqlite::reader::READ_NOTE_KEY;
use crate::diagnostics::{Failure, codes};

/// What the values of one column allow so far.
struct Guess {
    values: bool,
    boolean: bool,
    integer: bool,
    decimal: bool,
    float: bool,
    exponent: bool,
    date: bool,
    naive: bool,
    zoned: bool,
    int_digits: usize,
    scale: usize,
}

impl Default for Guess {
    fn default() -> Self {
        Self {
            values: false,
            boolean: true,
            integer: true,
            decimal: true,
            float: true,
            exponent: false,
            date: true,
            naive: true,
            zoned: true,
            int_digits: 0,
            scale: 0,
        }
    }
}

impl Guess {
    fn add(&mut self, s: &str) {
        self.values = true;
        if self.boolean {
            self.boolean = s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false");
        }
        let canonical_int = is_canonical_integer(s);
        if self.integer {
            self.integer = canonical_int && s.parse::<i64>().is_ok();
        }
        if self.decimal || self.float {
            let dec = if canonical_int { Some((s.trim_start_matches('-').len(), 0)) } else { canonical_decimal(s) };
            match dec {
                Some((int_digits, scale)) => {
                    self.int_digits = self.int_digits.max(int_digits);
                    self.scale = self.scale.max(scale);
                    if self.float {
                        // A plain number in a float column: exact when the double respells it.
                        self.float =
                            s.parse::<f64>().ok().is_some_and(|f| normal_number(&format!("{f:e}")) == normal_number(s));
                    }
                }
                None => {
                    self.decimal = false;
                    let exp = exact_float(s);
                    self.exponent |= exp;
                    self.float &= exp;
                }
            }
        }
        if self.date {
            self.date = date_days(s).is_some();
        }
        if self.naive {
            self.naive = naive_timestamp(s).is_some();
        }
        if self.zoned {
            self.zoned = zoned_timestamp(s).is_some();
        }
    }

    fn data_type(&self) -> DataType {
        if !self.values {
            DataType::Utf8
        } else if self.boolean {
            DataType::Boolean
        } else if self.integer {
            DataType::Int64
        } else if self.decimal && self.int_digits + self.scale <= 38 {
            DataType::Decimal128(38, self.scale as i8)
        } else if self.float && self.exponent {
            DataType::Float64
        } else if self.date {
            DataType::Date32
        } else if self.naive {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else if self.zoned {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        } else {
            DataType::Utf8
        }
    }
}

/// Field metadata: this column's type was inferred (the reader then parses strictly).
pub(super) const INFERRED_KEY: &str = "flow.csv_inferred";

/// The header names (or `column_1`, ...) and types of one CSV file.
/// Refuses a header no target could take as column names: an empty name (a spreadsheet's
/// trailing comma) or two names that differ only in case (SQLite and MySQL compare column names
/// without case, so `Name` and `name` would collide there). Columns are numbered from 1.
fn check_header(names: &[String], shown: &str) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            let message = format!(
                "the header of {shown} has no name for column {}; name it in the file, or read the file with \
                 header: false (columns are then column_1, column_2, ...)",
                i + 1
            );
            return Err(Failure::new(codes::source::INVALID, message).into_datafusion());
        }
        if let Some(j) = names[..i].iter().position(|earlier| earlier.to_lowercase() == name.to_lowercase()) {
            let message = format!(
                "the header of {shown} names column {} `{name}` and column {} `{}`: the same name to SQLite and \
                 MySQL, which ignore case; rename one in the file",
                i + 1,
                j + 1,
                names[j]
            );
            return Err(Failure::new(codes::source::INVALID, message).column(name).into_datafusion());
        }
    }
    Ok(())
}

pub fn infer_schema(input: impl BufRead, options: &CsvOptions, shown: &str) -> Result<SchemaRef> {
    let mut reader = RecordReader::new(input, options.delimiter);
    let mut record = Record::default();
    let io = |e: std::io::Error| {
        Failure::new(codes::source::READ_FAILED, format!("cannot read {shown}: {e}")).into_datafusion()
    };
    let mut names: Vec<String> = Vec::new();
    let mut guesses: Vec<Guess> = Vec::new();
    let mut rows = 0usize;
    if options.header {
        if !reader.next_record(&mut record).map_err(io)? {
            return Err(
                Failure::new(codes::source::INVALID, format!("{shown} is empty: no header line")).into_datafusion()
            );
        }
        names = (0..record.count()).map(|i| String::from_utf8_lossy(record.field(i)).into_owned()).collect();
        check_header(&names, shown)?;
    }
    while options.infer_rows.is_none_or(|n| rows < n) && reader.next_record(&mut record).map_err(io)? {
        rows += 1;
        while guesses.len() < record.count() {
            guesses.push(Guess::default());
        }
        for (i, guess) in guesses.iter_mut().enumerate().take(record.count()) {
            let Ok(text) = std::str::from_utf8(record.field(i)) else {
                guess.add("\u{fffd}");
                continue;
            };
            if !record.quoted[i] && text == options.null {
                continue;
            }
            if record.quoted[i] {
                // A quoted value is always a value, and only text keeps a quoted empty string.
                if text.is_empty() {
                    guess.add("\"\"");
                    continue;
                }
            }
            guess.add(text);
        }
    }
    let columns = names.len().max(guesses.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            let message = format!("{shown}: column name `{name}` appears twice in the header");
            return Err(Failure::new(codes::source::INVALID, message).column(name).into_datafusion());
        }
    }
    let declared: HashMap<&str, &DataType> = options.types.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let mut fields = Vec::with_capacity(columns);
    let mut used = Vec::new();
    let mut typed = Vec::new();
    for i in 0..columns {
        let name = names.get(i).cloned().unwrap_or_else(|| format!("column_{}", i + 1));
        let field = match declared.get(name.as_str()) {
            Some(ty) => {
                used.push(name.clone());
                Field::new(&name, (*ty).clone(), true)
            }
            None => {
                let ty = guesses.get(i).map_or(DataType::Utf8, Guess::data_type);
                if ty != DataType::Utf8 {
                    typed.push(format!("{name} {ty}"));
                }
                let metadata = HashMap::from([(INFERRED_KEY.to_string(), options.inferred_from())]);
                Field::new(&name, ty, true).with_metadata(metadata)
            }
        };
        fields.push(field);
    }
    if let Some((missing, _)) = options.types.iter().find(|(n, _)| !used.contains(n)) {
        return Err(DataFusionError::Plan(format!(
            "types: names column `{missing}`, which {shown} does not have (columns: {})",
            fields.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
        )));
    }
    // One line for `flow explain`: which types rest on the first rows only.
    let mut metadata = HashMap::new();
    if options.infer_rows.is_some() && !typed.is_empty() {
        metadata.insert(
            READ_NOTE_KEY.to_string(),
            format!(
                "types inferred from {} ({}); a later value that does not fit stops the run: declare them with \
                 types: \"COLUMN TYPE, ...\" or infer from every row with infer: \"all\"",
                options.inferred_from(),
                typed.join(", ")
            ),
        );
    }
    Ok(Arc::new(Schema::new_with_metadata(fields, metadata)))
}
