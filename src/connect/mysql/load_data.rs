//! The MySQL sink's bulk path: a batch's rows as `LOAD DATA LOCAL INFILE` text, streamed from
//! memory through the `mysql` crate's `LocalInfileHandler` (no file is written or read).
//!
//! The values are those the `INSERT` path would send ([`super::params::value_at`]), written as
//! text the server parses to the same value:
//!
//! | value                | text                                                           |
//! |----------------------|----------------------------------------------------------------|
//! | NULL                 | `\N`                                                           |
//! | integer, boolean     | decimal digits (`1`/`0` for booleans)                          |
//! | float                | Rust's shortest round-trip form (`0.1`, `1e300`), exact        |
//! | decimal              | its exact text, as the `INSERT` path sends it                  |
//! | text                 | UTF-8 with `\` `TAB` `LF` `CR` `NUL` escaped (`\\ \t \n \r \0`) |
//! | binary               | hexadecimal, loaded through `SET c = UNHEX(@v)`                |
//! | date, datetime, time | `YYYY-MM-DD[ HH:MM:SS[.ffffff]]`, `[-]H:MM:SS[.ffffff]`        |
//!
//! Fields end with TAB, lines with LF, nothing encloses a field, and the statement names
//! `CHARACTER SET utf8mb4` (Flow's text is UTF-8). `LOCAL` makes the server treat data errors as
//! warnings (it cannot stop a client mid-stream), so a value that would not fit is truncated
//! with a warning rather than refused: the sink loads each batch after a savepoint and, when
//! the server reports any warning or fewer rows than sent, rolls back to it and sends the batch
//! through the `INSERT` path, which refuses bad rows by row, column and value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use arrow::array::Array;
use arrow::datatypes::{DataType, Field};
use mysql::consts::ColumnType;
use mysql::{LocalInfileHandler, Value};

use super::params::ParamError;
use crate::plan::TableName;
use crate::plan::sql::Dialect;

const D: Dialect = Dialect::Mysql;

/// The savepoint each batch is loaded after, to roll back to when the server warns.
pub const SAVEPOINT: &str = "SAVEPOINT flow_load";
/// Undoes the batch loaded since [`SAVEPOINT`].
pub const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT flow_load";

/// Server errors that mean it does not take `LOAD DATA LOCAL` at all: 1148 (MariaDB, and MySQL
/// before 8.0.19: "The used command is not allowed with this ... version", `local_infile=0`),
/// 3948 (MySQL 8: "Loading local data is disabled"), 4166 (MariaDB: the local infile capability
/// is disabled), 1227 (a privilege missing). The sink then writes with `INSERT`s.
pub fn refuses_local_infile(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::MySqlError(m) if matches!(m.code, 1148 | 1227 | 3948 | 4166))
}

/// How one written column travels in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// Escaped text, loaded into the column itself.
    Text,
    /// Hexadecimal, loaded into a user variable and stored through `UNHEX`.
    Hex,
}

/// A staging table's `LOAD DATA` statement and the encoding of each written column.
pub struct LoadData {
    /// The statement, with its explicit field and line format.
    pub sql: String,
    encodings: Vec<Encoding>,
    /// The text of the batch being loaded, shared with the connection's infile handler.
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl LoadData {
    /// The statement loading `fields` (the written columns, in order) into `staging`, whose
    /// columns have the server types `targets` (from a prepared `SELECT`, in the same order);
    /// `None` when a column's values would not be the `INSERT` path's values as text (a `BIT`
    /// or spatial column, a float into text, a date into a number...): the table is then
    /// written with `INSERT`s. `backslash_is_plain`: the session's `sql_mode` has
    /// `NO_BACKSLASH_ESCAPES`, so the escape character is written `'\'` in the statement.
    pub fn plan(
        staging: &TableName,
        fields: &[&Field],
        targets: &[ColumnType],
        backslash_is_plain: bool,
    ) -> Option<LoadData> {
        if fields.len() != targets.len() || fields.is_empty() {
            return None;
        }
        let mut encodings = Vec::with_capacity(fields.len());
        let (mut columns, mut sets) = (Vec::new(), Vec::new());
        for (i, (field, target)) in fields.iter().zip(targets).enumerate() {
            let encoding = encoding(field.data_type(), *target)?;
            match encoding {
                Encoding::Text => columns.push(D.ident(field.name())),
                Encoding::Hex => {
                    columns.push(format!("@flow_{i}"));
                    sets.push(format!("{} = UNHEX(@flow_{i})", D.ident(field.name())));
                }
            }
            encodings.push(encoding);
        }
        let escape = if backslash_is_plain { "'\\'" } else { "'\\\\'" };
        // TAB and LF are written as themselves inside the quotes: a literal in any sql_mode.
        let mut sql = format!(
            "LOAD DATA LOCAL INFILE 'flow_rows' INTO TABLE {} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' \
             ENCLOSED BY '' ESCAPED BY {escape} LINES STARTING BY '' TERMINATED BY '\n' ({})",
            D.table(staging),
            columns.join(", ")
        );
        if !sets.is_empty() {
            sql.push_str(&format!(" SET {}", sets.join(", ")));
        }
        Some(LoadData { sql, encodings, buffer: Arc::new(Mutex::new(Vec::new())) })
    }

    /// The connection's infile handler: it sends the batch text [`Self::with_text`] built,
    /// whatever file name the server asks for (no file is ever read).
    pub fn handler(&self) -> LocalInfileHandler {
        let buffer = self.buffer.clone();
        LocalInfileHandler::new(move |_name, stream| {
            let text = buffer.lock().map_err(|_| std::io::Error::other("the batch text's lock is poisoned"))?;
            stream.write_all(&text)
        })
    }

    /// Runs `f` on the cleared batch text, which the handler then sends.
    pub fn with_text<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
        let mut text = self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        text.clear();
        f(&mut text)
    }

    /// Appends one row (`values`, in the written columns' order) as a line.
    pub fn push_row(&self, text: &mut Vec<u8>, values: &[Value]) {
        for (i, (value, encoding)) in values.iter().zip(&self.encodings).enumerate() {
            if i > 0 {
                text.push(b'\t');
            }
            push_value(text, value, *encoding);
        }
        text.push(b'\n');
    }

    /// Appends row `row` of `columns` (the written columns' arrays, in order) as a line,
    /// straight from the arrays ([`super::load_text::push_field`]; `decimal`: each column's
    /// decimal-text bounds, if any); returns the bytes its values take in an `INSERT` packet,
    /// as the sink's packet check counts them. On an error the text holds part of the line:
    /// the caller cuts it back.
    pub fn push_arrays(
        &self,
        text: &mut Vec<u8>,
        columns: &[&dyn Array],
        decimal: &[Option<(u32, u32)>],
        row: usize,
    ) -> Result<usize, ParamError> {
        let mut size = 0;
        for (i, ((column, encoding), decimal)) in columns.iter().zip(&self.encodings).zip(decimal).enumerate() {
            if i > 0 {
                text.push(b'\t');
            }
            size += super::load_text::push_field(text, *column, row, *encoding == Encoding::Hex, *decimal)?;
        }
        text.push(b'\n');
        Ok(size)
    }
}

/// How an Arrow type's parameter value travels into a column of server type `target` so that
/// the column receives what the `INSERT` path stores; `None` when no text form is known to be.
fn encoding(data_type: &DataType, target: ColumnType) -> Option<Encoding> {
    use ColumnType::*;
    let text_column = matches!(
        target,
        MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_STRING
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_ENUM
            | MYSQL_TYPE_SET
            | MYSQL_TYPE_JSON
    );
    let integer_column = matches!(
        target,
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR
    );
    let number_column = integer_column
        || matches!(target, MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE);
    let time_column = matches!(
        target,
        MYSQL_TYPE_DATE
            | MYSQL_TYPE_NEWDATE
            | MYSQL_TYPE_DATETIME
            | MYSQL_TYPE_DATETIME2
            | MYSQL_TYPE_TIMESTAMP
            | MYSQL_TYPE_TIMESTAMP2
            | MYSQL_TYPE_TIME
            | MYSQL_TYPE_TIME2
    );
    match data_type {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_)
            if text_column =>
        {
            Some(Encoding::Hex)
        }
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Decimal128(..)
        | DataType::Decimal256(..)
            if text_column || number_column || time_column =>
        {
            Some(Encoding::Text)
        }
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
            if number_column || text_column =>
        {
            Some(Encoding::Text)
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64
            if matches!(target, MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE) =>
        {
            Some(Encoding::Text)
        }
        DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(..)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Duration(_)
            if time_column =>
        {
            Some(Encoding::Text)
        }
        _ => None,
    }
}

/// One value as a field of the text. Numbers and dates are written digit by digit (this runs
/// for every value of every row; `write!` spent more than a third of the sink's instructions).
pub(super) fn push_value(text: &mut Vec<u8>, value: &Value, encoding: Encoding) {
    match value {
        Value::NULL => text.extend_from_slice(b"\\N"),
        Value::Bytes(bytes) if encoding == Encoding::Hex => push_hex(text, bytes),
        Value::Bytes(bytes) => push_escaped(text, bytes),
        Value::Int(v) => {
            if *v < 0 {
                text.push(b'-');
            }
            push_digits(text, v.unsigned_abs(), 1);
        }
        Value::UInt(v) => push_digits(text, *v, 1),
        // `{:?}` is the shortest text that parses back to the same double; writing into a Vec
        // cannot fail.
        Value::Float(v) => {
            let _ = write!(text, "{:?}", f64::from(*v));
        }
        Value::Double(v) => {
            let _ = write!(text, "{v:?}");
        }
        Value::Date(y, mo, d, h, mi, s, us) => {
            push_digits(text, u64::from(*y), 4);
            text.push(b'-');
            push_digits(text, u64::from(*mo), 2);
            text.push(b'-');
            push_digits(text, u64::from(*d), 2);
            if (*h, *mi, *s, *us) != (0, 0, 0, 0) {
                text.push(b' ');
                push_clock(text, u64::from(*h), *mi, *s, *us);
            }
        }
        Value::Time(negative, days, h, mi, s, us) => {
            if *negative {
                text.push(b'-');
            }
            push_clock(text, u64::from(*days) * 24 + u64::from(*h), *mi, *s, *us);
        }
    }
}

/// `HH:MM:SS`, then `.ffffff` when there are microseconds.
fn push_clock(text: &mut Vec<u8>, hours: u64, minutes: u8, seconds: u8, micros: u32) {
    push_digits(text, hours, 2);
    text.push(b':');
    push_digits(text, u64::from(minutes), 2);
    text.push(b':');
    push_digits(text, u64::from(seconds), 2);
    if micros != 0 {
        text.push(b'.');
        push_digits(text, u64::from(micros), 6);
    }
}

/// `00` to `99`, two bytes each: [`push_digits`] writes two digits per division.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        pairs[2 * i] = b'0' + (i / 10) as u8;
        pairs[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    pairs
};

/// `v` in decimal digits, with leading zeros up to `width` digits (at most 20).
pub(super) fn push_digits(text: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + v as u8;
    }
    let start = at.min(digits.len().saturating_sub(width));
    text.extend_from_slice(&digits[start..]);
}

/// Text bytes with the escape character, the separators and NUL escaped.
pub(super) fn push_escaped(text: &mut Vec<u8>, bytes: &[u8]) {
    let special = |b: u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0);
    if !bytes.iter().any(|&b| special(b)) {
        text.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'\\' => text.extend_from_slice(b"\\\\"),
            b'\t' => text.extend_from_slice(b"\\t"),
            b'\n' => text.extend_from_slice(b"\\n"),
            b'\r' => text.extend_from_slice(b"\\r"),
            0 => text.extend_from_slice(b"\\0"),
            other => text.push(other),
        }
    }
}

/// Bytes as uppercase hexadecimal digits, two per byte.
pub(super) fn push_hex(text: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    text.reserve(bytes.len() * 2);
    for &b in bytes {
        text.push(DIGITS[usize::from(b >> 4)]);
        text.push(DIGITS[usize::from(b & 15)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[Value], encodings: &[Encoding]) -> String {
        let mut text = Vec::new();
        for (i, (v, e)) in values.iter().zip(encodings).enumerate() {
            if i > 0 {
                text.push(b'\t');
            }
            push_value(&mut text, v, *e);
        }
        String::from_utf8(text).expect("utf-8")
    }

    #[test]
    fn values_are_written_as_load_data_text() {
        let t = Encoding::Text;
        let values = [
            Value::NULL,
            Value::Int(-42),
            Value::UInt(u64::MAX),
            Value::Int(i64::MIN),
            Value::Int(0),
            Value::Double(0.1),
            Value::Double(1e300),
            Value::Double(-2.5e-10),
            Value::Float(0.1),
            Value::Bytes(b"a\\b\tc\nd\re\0f NULL \\N".to_vec()),
            Value::Date(2024, 2, 29, 0, 0, 0, 0),
            Value::Date(1, 1, 1, 23, 59, 58, 0),
            Value::Date(2024, 2, 29, 1, 2, 3, 4),
            Value::Time(true, 34, 22, 59, 59, 0),
            Value::Time(false, 0, 1, 2, 3, 500),
        ];
        assert_eq!(
            line(&values, &[t; 15]),
            "\\N\t-42\t18446744073709551615\t-9223372036854775808\t0\t0.1\t1e300\t-2.5e-10\t0.10000000149011612\t\
             a\\\\b\\tc\\nd\\re\\0f NULL \\\\N\t2024-02-29\t0001-01-01 23:59:58\t2024-02-29 01:02:03.000004\t\
             -838:59:59\t01:02:03.000500"
        );
        assert_eq!(line(&[Value::Bytes(vec![0, 0xAB, b'\n']), Value::NULL], &[Encoding::Hex; 2]), "00AB0A\t\\N");
    }

    #[test]
    fn digits_are_the_standard_decimal_text_zero_padded_to_the_width() {
        let mut values = vec![0, 1, 9, 10, 99, 100, 101, 999, 1000, u64::MAX, u64::MAX - 1, 1 << 63];
        values.extend((0..64).map(|shift| (1u64 << shift) - 1));
        values.extend((1..20).map(|e| 10u64.pow(e) - 1).chain((1..20).map(|e| 10u64.pow(e))));
        for v in values {
            for width in [1, 2, 4, 6, 20] {
                let mut text = Vec::new();
                push_digits(&mut text, v, width);
                assert_eq!(String::from_utf8(text).expect("digits"), format!("{v:0width$}"));
            }
        }
    }

    #[test]
    fn floats_round_trip_exactly_through_their_text() {
        for v in [0.1, 1.0 / 3.0, f64::MAX, f64::MIN_POSITIVE, 5e-324, 123456789.12345679, -0.0] {
            let text = line(&[Value::Double(v)], &[Encoding::Text]);
            assert_eq!(text.parse::<f64>().expect("parses").to_bits(), v.to_bits(), "{text}");
        }
    }

    #[test]
    fn columns_without_an_exact_text_form_keep_the_insert_path() {
        use ColumnType::*;
        assert_eq!(encoding(&DataType::Int64, MYSQL_TYPE_BIT), None);
        assert_eq!(encoding(&DataType::Float64, MYSQL_TYPE_VAR_STRING), None);
        assert_eq!(encoding(&DataType::Binary, MYSQL_TYPE_GEOMETRY), None);
        assert_eq!(encoding(&DataType::Date32, MYSQL_TYPE_LONG), None);
        assert_eq!(encoding(&DataType::Binary, MYSQL_TYPE_BLOB), Some(Encoding::Hex));
        assert_eq!(encoding(&DataType::Float64, MYSQL_TYPE_DOUBLE), Some(Encoding::Text));
        assert_eq!(encoding(&DataType::Utf8, MYSQL_TYPE_BLOB), Some(Encoding::Text));
    }
}
