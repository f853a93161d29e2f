//! Flow's CSV writer: the reader's dialect in reverse, so that NULL and the empty string
//! survive a round trip.

use std::io::Write;

use arrow::array::Array;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// Why a batch could not be written as CSV: the file refused the bytes, or Arrow could not
/// display a value.
#[derive(Debug, thiserror::Error)]
pub enum CsvWriteError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Format(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Display(#[from] std::fmt::Error),
}

/// Writes CSV as the reader reads it: NULL as the marker, the empty string as `""`, values that
/// hold the delimiter, a quote, a line break or equal the marker quoted. Values are formatted as
/// arrow's CSV writer formats them (ISO dates and times, shortest floats).
pub struct CsvWriter<W: Write> {
    out: W,
    delimiter: u8,
    null: String,
    header: bool,
    started: bool,
    line: Vec<u8>,
    text: String,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(out: W, delimiter: u8, null: String, header: bool) -> Self {
        Self { out, delimiter, null, header, started: false, line: Vec::new(), text: String::new() }
    }

    fn field(&mut self, value: Option<&str>) {
        match value {
            None => self.line.extend_from_slice(self.null.as_bytes()),
            Some(v) => {
                let quote = v.is_empty()
                    || v == self.null
                    || v.bytes().any(|b| b == self.delimiter || b == b'"' || b == b'\n' || b == b'\r');
                if quote {
                    self.line.push(b'"');
                    for b in v.bytes() {
                        if b == b'"' {
                            self.line.push(b'"');
                        }
                        self.line.push(b);
                    }
                    self.line.push(b'"');
                } else {
                    self.line.extend_from_slice(v.as_bytes());
                }
            }
        }
    }

    /// The header, once, before the first row (also for an empty batch).
    pub fn start(&mut self, schema: &Schema) -> std::io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        if self.header {
            self.line.clear();
            for (i, f) in schema.fields().iter().enumerate() {
                if i > 0 {
                    self.line.push(self.delimiter);
                }
                self.field(Some(f.name()));
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }

    /// Appends `batch`'s rows (the header first, once).
    pub fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), CsvWriteError> {
        self.start(&batch.schema())?;
        let options = FormatOptions::default();
        let formatters = batch
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            self.line.clear();
            for (i, (column, formatter)) in batch.columns().iter().zip(&formatters).enumerate() {
                if i > 0 {
                    self.line.push(self.delimiter);
                }
                if column.is_null(row) {
                    self.field(None);
                } else {
                    let mut text = std::mem::take(&mut self.text);
                    text.clear();
                    std::fmt::Write::write_fmt(&mut text, format_args!("{}", formatter.value(row)))?;
                    self.field(Some(&text));
                    self.text = text;
                }
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }

    /// Bytes already in this format (a part), after the header.
    pub fn write_raw(&mut self, schema: &Schema, bytes: &[u8]) -> std::io::Result<()> {
        self.start(schema)?;
        self.out.write_all(bytes)
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
