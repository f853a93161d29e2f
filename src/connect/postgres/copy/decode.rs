//! PostgreSQL binary COPY stream -> Arrow record batches ([`CopyDecoder`]). Chunks arrive with
//! arbitrary boundaries (PostgreSQL sends one row per CopyData message, the header with the
//! first). Each tuple is decoded in one pass straight from the chunk it arrives in: its field
//! lengths are checked as they are read and its values appended to the columns
//! ([`super::column`]). A chunk that ends inside a tuple takes back what that tuple appended
//! and keeps its bytes; the next chunks complete it (delimited without decoding, copying only as
//! many bytes as it needs) before it is decoded.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::{DataFusionError, Result};
use tokio_postgres::types::Type;

use super::column::{DecodedColumn, Unfinished};
use super::{SIGNATURE, ValueError, column_err, failure};
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
/// [`finish`](Self::finish). After any error the decoder is unusable; every
/// later call returns an error.
///
/// Batches hold `batch_size` rows, except the last one and, rarely, a batch
/// cut early because one more row would put over 2 GiB of values into a
/// text or bytea column (Arrow's i32 offsets cannot address more).
pub struct CopyDecoder {
    schema: SchemaRef,
    columns: Vec<DecodedColumn>,
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

/// What one pass over the tuple at the start of a buffer found.
enum Tuple {
    /// A row of this many bytes, appended to the columns.
    Row(usize),
    /// The 2-byte end marker.
    End,
    /// The buffer ends inside the tuple; part of it may have been appended.
    Incomplete,
    /// The row would put a text or bytea column of the batch past its size limit; part of it
    /// may have been appended.
    Cut,
    /// A value of the row is refused: at this column, for this reason.
    Refused(usize, ValueError),
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
                DecodedColumn::new(name, scalar, field.data_type(), batch_size).ok_or_else(|| {
                    failure(
                        codes::source::CHANGED,
                        format!(
                            "COPY from PostgreSQL: column \"{name}\": cannot decode PostgreSQL \
                             type {} into Arrow type {}",
                            ty.name(),
                            field.data_type()
                        ),
                    )
                })
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
                    let used = self.consume(&carry[..len], &mut batches)?;
                    if used != Some(len) {
                        return Err(failure(
                            codes::run::INTERNAL,
                            format!("COPY from PostgreSQL: a frame of {len} bytes was read as {used:?}"),
                        ));
                    }
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
            match self.consume(chunk, &mut batches)? {
                Some(len) => chunk = &chunk[len..],
                None => {
                    self.carry.extend_from_slice(chunk);
                    break;
                }
            }
        }
        Ok(batches)
    }

    /// Delimits the frame at the start of `buf` without decoding it (for a frame that spans
    /// chunks).
    fn scan(&self, buf: &[u8]) -> Result<Scan> {
        match self.state {
            StreamState::Header => scan_header(buf),
            StreamState::Tuples => scan_tuple(buf, self.columns.len(), self.rows_total + 1),
            StreamState::Done => Err(after_end(buf.len())),
        }
    }

    /// Reads the frame at the start of `buf`: its length, or `None` if `buf` ends inside it (then
    /// nothing of it is kept).
    fn consume(&mut self, buf: &[u8], batches: &mut Vec<RecordBatch>) -> Result<Option<usize>> {
        match self.state {
            StreamState::Header => match scan_header(buf)? {
                Scan::Complete(len) => {
                    self.state = StreamState::Tuples;
                    Ok(Some(len))
                }
                Scan::Need(_) => Ok(None),
            },
            StreamState::Tuples => loop {
                match self.decode_tuple(buf)? {
                    Tuple::Row(len) => {
                        self.rows_in_batch += 1;
                        self.rows_total += 1;
                        if self.rows_in_batch >= self.batch_size {
                            batches.push(self.flush()?);
                        }
                        return Ok(Some(len));
                    }
                    Tuple::End => {
                        self.state = StreamState::Done;
                        return Ok(Some(2));
                    }
                    Tuple::Incomplete => {
                        self.take_back_row();
                        return Ok(None);
                    }
                    // Cut the batch early rather than overflow a string or binary column's
                    // offsets, then read the row again into the next batch.
                    Tuple::Cut => {
                        self.take_back_row();
                        batches.push(self.flush()?);
                    }
                    Tuple::Refused(column, e) => return Err(self.refusal(column, e)),
                }
            },
            StreamState::Done => Err(after_end(buf.len())),
        }
    }

    /// Reads the tuple at the start of `buf` in one pass, appending its values to the columns.
    /// The framing errors of [`scan_tuple`] are found here too, in the same order along the row.
    fn decode_tuple(&mut self, buf: &[u8]) -> Result<Tuple> {
        let Some(count) = buf.first_chunk::<2>() else {
            return Ok(Tuple::Incomplete);
        };
        let count = i16::from_be_bytes(*count);
        if count == -1 {
            return Ok(Tuple::End);
        }
        let row = self.rows_total + 1;
        if usize::try_from(count).ok() != Some(self.columns.len()) {
            return Err(field_count(row, count, self.columns.len()));
        }
        // Only a batch that already has rows is cut; a row too large on its own gets one of
        // its own.
        let limit = if self.rows_in_batch > 0 { self.value_bytes_limit } else { usize::MAX };
        let mut pos: usize = 2;
        for (k, column) in self.columns.iter_mut().enumerate() {
            let Some(word) = buf.get(pos..).and_then(|b| b.first_chunk::<4>()) else {
                return Ok(Tuple::Incomplete);
            };
            let len = i32::from_be_bytes(*word);
            pos += 4;
            let Ok(len) = usize::try_from(len) else {
                if len != -1 {
                    return Err(negative_length(row, len));
                }
                column.push_null();
                continue;
            };
            let end = pos + len;
            let Some(data) = buf.get(pos..end) else {
                return Ok(Tuple::Incomplete);
            };
            // + 36: a 16-byte uuid becomes 36 bytes of text.
            if column.value_bytes().is_some_and(|used| used.saturating_add(len + 36) > limit) {
                return Ok(Tuple::Cut);
            }
            if let Err(e) = column.push(data) {
                return Ok(Tuple::Refused(k, e));
            }
            pos = end;
        }
        Ok(Tuple::Row(pos))
    }

    /// Drops what a row decoded in part appended, so every column holds the batch's rows.
    fn take_back_row(&mut self) {
        for column in &mut self.columns {
            column.truncate(self.rows_in_batch);
        }
    }

    /// The error for a value of the current row refused at `column`; or, if an earlier value
    /// (of an earlier row of the batch, or of this row) is text that is not UTF-8, for that one:
    /// text is checked when the batch is built, but the first bad value is the one reported.
    fn refusal(&self, column: usize, e: ValueError) -> DataFusionError {
        let mut first = (self.rows_in_batch, column, e);
        for (k, c) in self.columns.iter().enumerate() {
            let rows = self.rows_in_batch + usize::from(k < column);
            if let Some((index, bad)) = c.first_bad_text(rows)
                && (index, k) < (first.0, first.1)
            {
                first = (index, k, bad);
            }
        }
        self.value_error(first.0, first.1, first.2)
    }

    /// The error for the value of column `column` in row `index` of the current batch.
    fn value_error(&self, index: usize, column: usize, e: ValueError) -> DataFusionError {
        let row = self.rows_total - self.rows_in_batch as u64 + index as u64 + 1;
        let name = &self.columns[column].name;
        let message = format!("COPY from PostgreSQL: column \"{name}\", row {row}: {e}");
        column_err(codes::source::DECODE, message, name, Some(row))
    }

    fn flush(&mut self) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let mut bad_text: Option<(usize, usize, ValueError)> = None;
        for (k, column) in self.columns.iter_mut().enumerate() {
            match column.finish() {
                Ok(array) => arrays.push(array),
                Err(Unfinished::NotUtf8 { index, error }) => {
                    if bad_text.as_ref().is_none_or(|(first, _, _)| index < *first) {
                        bad_text = Some((index, k, error));
                    }
                }
                Err(Unfinished::Arrow(e)) => return Err(e.into()),
            }
        }
        if let Some((index, column, e)) = bad_text {
            return Err(self.value_error(index, column, e));
        }
        // The row count is explicit so that a zero-column COPY still works.
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows_in_batch));
        self.rows_in_batch = 0;
        Ok(RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)?)
    }
}

fn after_end(bytes: usize) -> DataFusionError {
    failure(
        codes::source::READ_FAILED,
        format!("COPY from PostgreSQL: {bytes} bytes of unexpected data after the end marker"),
    )
}

fn field_count(row: u64, count: i16, columns: usize) -> DataFusionError {
    failure(
        codes::source::READ_FAILED,
        format!("COPY from PostgreSQL: row {row} has {count} fields, expected {columns}"),
    )
}

fn negative_length(row: u64, len: i32) -> DataFusionError {
    failure(codes::source::READ_FAILED, format!("COPY from PostgreSQL: row {row} has a field of negative length {len}"))
}

fn read_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(i32::from_be_bytes(bytes.try_into().ok()?))
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
        return Err(field_count(row, count, columns));
    }
    let mut pos: usize = 2;
    for _ in 0..columns {
        let Some(len) = read_i32(buf, pos) else {
            return Ok(Scan::Need(pos + 4));
        };
        pos += 4;
        match len {
            -1 => {}
            len if len < 0 => return Err(negative_length(row, len)),
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
