//! CSV text: Flow's own reader, type inference and writer, so that a value arrives exactly as the
//! file says it.
//!
//! **Fields.** RFC 4180 with what spreadsheets add: a UTF-8 byte-order mark at the start is
//! skipped, lines end in `\n` or `\r\n`, a quoted field may hold the delimiter, `""` for a quote
//! and line breaks; blank lines are skipped. Errors name the file line (1-based, counting every
//! line break, also those inside quoted fields) and the column by its header name.
//!
//! **NULL and the empty string** follow PostgreSQL's CSV format: an unquoted field equal to the
//! NULL marker (the `null:` option, empty by default) is NULL; a quoted field is always a value,
//! so `""` is the empty string and `"NULL"` the text `NULL`. The writer does the same in
//! reverse: NULL is written as the marker, the empty string as `""`, and a value equal to the
//! marker is quoted.
//!
//! **Inferred types** (from the first 1000 rows, or all of them with `infer: "all"`, or
//! `infer: N` rows): a column is given a type only when every value read back from that type
//! is the value the file says; otherwise it is text.
//!
//! | values seen (all non-NULL values)                        | type                        |
//! |----------------------------------------------------------|-----------------------------|
//! | `true` / `false` (any case)                              | Boolean                     |
//! | integers written canonically: `0`, `-12`, `345` (no leading zeros, no `+`, not `-0`), within i64 | Int64 |
//! | canonical integers and decimals `-?(0|[1-9]d*).d+` (not negative zero) | Decimal128(38, s), s = most fractional digits seen; text beyond 38 digits |
//! | the above plus exponent forms (`1e3`, `2.5E-4`), each of which a double holds exactly | Float64 |
//! | `YYYY-MM-DD`                                              | Date32                      |
//! | `YYYY-MM-DD[T ]HH:MM:SS[.ffffff]`                         | Timestamp(µs)               |
//! | the same ending in `Z` or `±HH:MM`, all of them           | Timestamp(µs, UTC) (the instant; the offset's spelling is not kept) |
//! | anything else (`007`, `+44`, `0x1F`, `1,234`, `-0`, `NaN`, a quoted `""` …) | Utf8  |
//!
//! So codes with leading zeros, phone numbers with `+`, and numbers a type would respell stay
//! text. A value after the inferred rows that does not fit the inferred type is an error naming
//! the line, the column and the value, with the fix: declare the column's type
//! (`types: "code text, amount decimal(12,2)"`) or infer over every row (`infer: "all"`).
//! Declared types parse leniently (`007` into `int` is 7: the file's author asked for it).
//!
//! One concern per file: `options` (the connection's CSV options, declared types), `fields`
//! (records and fields of the text), `values` (the text forms each inferred type accepts),
//! `infer` (the schema of a file), `read` (rows into Arrow batches) and `write` (the writer).

mod fields;
mod infer;
mod options;
mod read;
mod values;
mod write;

#[cfg(test)]
mod tests;

pub use fields::{Record, RecordReader};
pub use infer::infer_schema;
pub use options::{CONNECTION_OPTIONS, CsvOptions, INFER_ROWS, TypesError, parse_types};
pub use read::read_batches;
pub use write::{CsvWriteError, CsvWriter};

/// UTC, as DataFusion labels it.
const UTC: &str = "+00:00";
