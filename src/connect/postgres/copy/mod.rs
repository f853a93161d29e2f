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
//!
//! Layout, one concern per file: `encode` (Arrow -> COPY), `decode` (COPY -> Arrow: the stream's
//! frames, one pass per tuple), `column` (the decoded columns' buffers, which can take back a
//! tuple cut by a chunk's end),
//! `value` (Arrow arrays read as a few normalised value shapes for the encoder), `numeric`
//! (PostgreSQL `numeric` <-> decimal and text, both ways) and `temporal` (epochs, valid ranges
//! and ISO 8601 text for dates, times and timestamps). This file holds what both directions
//! share: the stream signature, the jsonb version byte and the error helpers; `error` says why a
//! value cannot cross ([`ValueError`]).

use bytes::{BufMut, BytesMut};
use datafusion::error::DataFusionError;

mod column;
mod decode;
mod encode;
mod error;
mod numeric;
mod temporal;
mod value;

#[cfg(test)]
mod pg_tests;
#[cfg(test)]
mod tests;

pub use decode::CopyDecoder;
pub use encode::CopyEncoder;
pub use error::{Malformed, ValueError};

/// The 11-byte signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// jsonb's binary format is this version byte followed by the JSON text.
const JSONB_VERSION: u8 = 1;

/// A failure of the stream or of the plan of its columns, as a [`crate::diagnostics::Failure`]
/// of `code` (Flow's own mismatches are `flow::run::internal`).
fn failure(code: &'static str, message: String) -> DataFusionError {
    crate::diagnostics::Failure::new(code, message).into_datafusion()
}

/// A failure of one column (and row, when known: 1-based in the partition) as a
/// [`crate::diagnostics::Failure`] of `code`.
fn column_err(code: &'static str, message: String, column: &str, row: Option<u64>) -> DataFusionError {
    let failure = crate::diagnostics::Failure::new(code, message).column(column);
    match row {
        Some(row) => failure.row(row),
        None => failure,
    }
    .into_datafusion()
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

/// Appends a field's length word; a value longer than a COPY field can hold (i32) is an error.
fn put_len(out: &mut BytesMut, len: usize) -> std::result::Result<(), ValueError> {
    let len = i32::try_from(len).map_err(|_| ValueError::TooLarge { bytes: len })?;
    out.put_i32(len);
    Ok(())
}
