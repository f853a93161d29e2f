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

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::error::{DataFusionError, Result};

use crate::connect::sqlite::reader::{READ_NOTE_KEY, parse_decimal};
use crate::plan::Endpoint;

/// Rows inferred from unless `infer:` says otherwise.
pub const INFER_ROWS: usize = 1000;
/// UTC, as DataFusion labels it.
const UTC: &str = "+00:00";

/// The CSV options of a connection: `header`, `delimiter`, `null`, `types`, `infer`.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub header: bool,
    pub delimiter: u8,
    /// An unquoted field equal to this is NULL (default: the empty field).
    pub null: String,
    /// Declared column types (`types: "code text, amount decimal(12,2)"`), by column name.
    pub types: Vec<(String, DataType)>,
    /// Rows to infer from; `None` for all.
    pub infer_rows: Option<usize>,
}

impl CsvOptions {
    pub fn of(endpoint: &Endpoint) -> Result<Self> {
        let header = endpoint.option("header").is_none_or(|h| h == "true");
        let delimiter = endpoint.option("delimiter").and_then(|d| d.bytes().next()).unwrap_or(b',');
        let null = endpoint.option("null").unwrap_or_default().to_string();
        let types = match endpoint.option("types") {
            Some(text) => parse_types(text).map_err(DataFusionError::Plan)?,
            None => Vec::new(),
        };
        let infer_rows = match endpoint.option("infer") {
            None => Some(INFER_ROWS),
            Some("all") => None,
            Some(n) => Some(n.parse().map_err(|_| {
                DataFusionError::Plan(format!("infer: expects \"all\" or a number of rows, got {n:?}"))
            })?),
        };
        Ok(Self { header, delimiter, null, types, infer_rows })
    }

    fn inferred_from(&self) -> String {
        match self.infer_rows {
            Some(n) => format!("the first {n} rows"),
            None => "all rows".to_string(),
        }
    }
}

/// `name type, name type, ...` (names may be back-quoted) into Arrow types. Types are those of
/// `cast`: boolean, smallint, int, bigint, real, double, decimal(p,s), text, date, time,
/// timestamp, timestamptz, bytea.
pub fn parse_types(text: &str) -> std::result::Result<Vec<(String, DataType)>, String> {
    let mut out = Vec::new();
    for item in split_top_level(text) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, ty) = if let Some(rest) = item.strip_prefix('`') {
            let end = rest.find('`').ok_or_else(|| format!("unclosed back-quote in `{item}`"))?;
            (rest[..end].to_string(), rest[end + 1..].trim())
        } else {
            let (n, t) = item.split_once(char::is_whitespace).ok_or_else(|| {
                format!("`{item}` names no type; write the column, then its type, e.g. \"code text\"")
            })?;
            (n.to_string(), t.trim())
        };
        out.push((name, type_of(ty)?));
    }
    Ok(out)
}

/// Splits on commas outside parentheses (`decimal(12,2)` keeps its comma).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn type_of(ty: &str) -> std::result::Result<DataType, String> {
    let lower = ty.to_ascii_lowercase().replace(' ', "");
    let (base, args) = match lower.split_once('(') {
        Some((b, rest)) => (b.to_string(), Some(rest.trim_end_matches(')').to_string())),
        None => (lower.clone(), None),
    };
    Ok(match base.as_str() {
        "bool" | "boolean" => DataType::Boolean,
        "tinyint" => DataType::Int8,
        "smallint" | "int2" => DataType::Int16,
        "int" | "integer" | "int4" => DataType::Int32,
        "bigint" | "int8" => DataType::Int64,
        "real" | "float4" => DataType::Float32,
        "float" | "double" | "float8" => DataType::Float64,
        "text" | "string" | "varchar" | "char" => DataType::Utf8,
        "date" => DataType::Date32,
        "time" => DataType::Time64(TimeUnit::Microsecond),
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "timestamptz" => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
        "bytea" | "binary" | "blob" => DataType::Binary,
        "decimal" | "numeric" => {
            let args = args.unwrap_or_else(|| "38,10".into());
            let mut nums = args.split(',').map(|n| n.trim().parse::<u8>().ok());
            match (nums.next().flatten(), nums.next().unwrap_or(Some(0))) {
                (Some(p), Some(s)) if (1..=38).contains(&p) && s <= p => DataType::Decimal128(p, s as i8),
                _ => {
                    return Err(format!(
                        "bad precision or scale in `{ty}`: write decimal(p,s) with 1 <= p <= 38, s <= p"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "unknown type `{ty}`; use one of: boolean, smallint, int, bigint, real, double, decimal(p,s), \
                 text, date, time, timestamp, timestamptz, bytea"
            ));
        }
    })
}

// ---------------------------------------------------------------- fields

/// One record: its fields' bytes, where each ends, whether each was quoted, and the file line
/// it starts on.
#[derive(Default)]
pub struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    quoted: Vec<bool>,
    pub line: u64,
}

impl Record {
    fn count(&self) -> usize {
        self.ends.len()
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.quoted.clear();
    }
}

/// Reads records from CSV text (see the module docs for the dialect).
pub struct RecordReader<R: BufRead> {
    input: R,
    delimiter: u8,
    /// The file line the next byte is on.
    line: u64,
    started: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R, delimiter: u8) -> Self {
        Self { input, delimiter, line: 1, started: false }
    }

    /// Fills `record` with the next record; false at the end of the input.
    pub fn next_record(&mut self, record: &mut Record) -> std::io::Result<bool> {
        if !self.started {
            self.started = true;
            let buf = self.input.fill_buf()?;
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.input.consume(3);
            }
        }
        loop {
            record.clear();
            record.line = self.line;
            // States: at the start of a field, in an unquoted field, in a quoted field, just
            // after a quote inside a quoted field.
            #[derive(PartialEq)]
            enum State {
                Start,
                Plain,
                Quoted,
                QuoteInQuoted,
            }
            let mut state = State::Start;
            let mut quoted = false;
            let mut any = false;
            let mut ended = false;
            'read: loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    break 'read;
                }
                let mut used = 0;
                for &b in buf {
                    used += 1;
                    any = true;
                    match state {
                        State::Quoted => {
                            if b == b'"' {
                                state = State::QuoteInQuoted;
                            } else {
                                if b == b'\n' {
                                    self.line += 1;
                                }
                                record.bytes.push(b);
                            }
                        }
                        State::QuoteInQuoted if b == b'"' => {
                            record.bytes.push(b'"');
                            state = State::Quoted;
                        }
                        _ if b == self.delimiter => {
                            record.ends.push(record.bytes.len());
                            record.quoted.push(quoted);
                            quoted = false;
                            state = State::Start;
                        }
                        _ if b == b'\n' => {
                            self.line += 1;
                            ended = true;
                            break;
                        }
                        // `\r\n`: the `\r` is dropped here, the `\n` ends the record.
                        _ if b == b'\r' => {}
                        State::Start if b == b'"' => {
                            quoted = true;
                            state = State::Quoted;
                        }
                        // Text after a closing quote (`"ab"c`) is kept, as most readers do.
                        _ => {
                            record.bytes.push(b);
                            state = State::Plain;
                        }
                    }
                }
                self.input.consume(used);
                if ended {
                    break 'read;
                }
            }
            if !any {
                return Ok(false);
            }
            record.ends.push(record.bytes.len());
            record.quoted.push(quoted);
            // A blank line is no record.
            if record.count() == 1 && record.ends[0] == 0 && !quoted {
                if ended {
                    continue;
                }
                return Ok(false);
            }
            return Ok(true);
        }
    }
}

// ---------------------------------------------------------------- inference

fn is_canonical_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0"
}

/// `-?(0|[1-9]d*).d+`, not a negative zero: (integer digits, fractional digits).
fn canonical_decimal(s: &str) -> Option<(usize, usize)> {
    let (int, frac) = s.split_once('.')?;
    if !is_canonical_integer(int) && int != "-0" {
        return None;
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let negative = int.starts_with('-');
    let digits = int.trim_start_matches('-');
    if negative && digits == "0" && frac.bytes().all(|b| b == b'0') {
        return None;
    }
    Some((if digits == "0" { 0 } else { digits.len() }, frac.len()))
}

/// The number a decimal text denotes, normalised: (negative, significant digits, exponent of
/// the last digit). `None` if it is not `-?digits[.digits][e[+-]digits]`.
fn normal_number(s: &str) -> Option<(bool, String, i64)> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let all = format!("{int}{frac}");
    let mut exp = exponent - frac.len() as i64;
    let trimmed_end = all.trim_end_matches('0');
    exp += (all.len() - trimmed_end.len()) as i64;
    let digits = trimmed_end.trim_start_matches('0').to_string();
    if digits.is_empty() {
        return Some((false, String::new(), 0));
    }
    Some((negative, digits, exp))
}

/// An exponent form (`1e3`, `-2.5E-4`) whose double is exactly the number written.
fn exact_float(s: &str) -> bool {
    let Some(i) = s.find(['e', 'E']) else { return false };
    let mantissa = &s[..i];
    if !(is_canonical_integer(mantissa) || canonical_decimal(mantissa).is_some()) {
        return false;
    }
    let Ok(f) = s.parse::<f64>() else { return false };
    f.is_finite() && f != 0.0 && normal_number(s).is_some() && normal_number(&format!("{f:e}")) == normal_number(s)
}

fn naive_timestamp(s: &str) -> Option<i64> {
    // At most microseconds: a finer fraction would be cut.
    if let Some(dot) = s.rfind('.')
        && s.len() - dot - 1 > 6
    {
        return None;
    }
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    // Four-digit years only, as written by ISO 8601.
    (s.len() >= 19 && s.as_bytes()[4] == b'-').then(|| t.and_utc().timestamp_micros())
}

fn zoned_timestamp(s: &str) -> Option<i64> {
    let split = s.len().checked_sub(if s.ends_with(['Z', 'z']) { 1 } else { 6 })?;
    if !s.is_char_boundary(split) {
        return None;
    }
    let (local, zone) = s.split_at(split);
    let micros = naive_timestamp(local)?;
    let offset = match zone.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) => {
            let m = i64::from((h1 - b'0') * 10 + (h2 - b'0')) * 60 + i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if *sign == b'+' { m } else { -m }
        }
        _ => return None,
    };
    Some(micros - offset * 60_000_000)
}

fn date_days(s: &str) -> Option<i32> {
    if s.len() != 10 || s.as_bytes()[4] != b'-' || s.as_bytes()[7] != b'-' {
        return None;
    }
    let d = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some((d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days() as i32)
}

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
const INFERRED_KEY: &str = "flow.csv_inferred";

/// The header names (or `column_1`, ...) and types of one CSV file.
/// Refuses a header no target could take as column names: an empty name (a spreadsheet's
/// trailing comma) or two names that differ only in case (SQLite and MySQL compare column names
/// without case, so `Name` and `name` would collide there). Columns are numbered from 1.
fn check_header(names: &[String], shown: &str) -> Result<()> {
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(DataFusionError::Execution(format!(
                "the header of {shown} has no name for column {}; name it in the file, or read the file with \
                 header: false (columns are then column_1, column_2, ...)",
                i + 1
            )));
        }
        if let Some(j) = names[..i].iter().position(|earlier| earlier.to_lowercase() == name.to_lowercase()) {
            return Err(DataFusionError::Execution(format!(
                "the header of {shown} names column {} `{name}` and column {} `{}`: the same name to SQLite and \
                 MySQL, which ignore case; rename one in the file",
                i + 1,
                j + 1,
                names[j]
            )));
        }
    }
    Ok(())
}

pub fn infer_schema(input: impl BufRead, options: &CsvOptions, shown: &str) -> Result<SchemaRef> {
    let mut reader = RecordReader::new(input, options.delimiter);
    let mut record = Record::default();
    let io = |e: std::io::Error| DataFusionError::Execution(format!("cannot read {shown}: {e}"));
    let mut names: Vec<String> = Vec::new();
    let mut guesses: Vec<Guess> = Vec::new();
    let mut rows = 0usize;
    if options.header {
        if !reader.next_record(&mut record).map_err(io)? {
            return Err(DataFusionError::Execution(format!("{shown} is empty: no header line")));
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
            return Err(DataFusionError::Execution(format!(
                "{shown}: column name `{name}` appears twice in the header"
            )));
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

// ---------------------------------------------------------------- reading

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

/// Reads the rows of one CSV file as batches of `schema` (from [`infer_schema`] on the same
/// options, or the columns of it a pipeline reads, in any order), handing each to `emit`; stops
/// early when `emit` returns false. Each field of `schema` is found by name: in the header, or
/// as `column_N` (the N-th field) in a file without one.
///
/// Errors: a line with another number of fields than the file's first line, a value that does
/// not parse as its column's type (naming line, column and value), a field `schema` names that
/// the file does not have.
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
    let io = |e: std::io::Error| DataFusionError::Execution(format!("cannot read {shown}: {e}"));
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
                            DataFusionError::Execution(format!(
                                "cannot read {shown}: it has no column `{}` (its columns: {})",
                                f.name(),
                                names.join(", ")
                            ))
                        })
                    })
                    .collect::<Result<_>>()?,
            );
        }
        let positions = positions.as_deref().unwrap_or_default();
        if record.count() != columns {
            let first = if options.header { "the header" } else { "the first line" };
            return Err(DataFusionError::Execution(format!(
                "cannot read {shown}: line {} has {} fields, {first} has {columns}",
                record.line,
                record.count()
            )));
        }
        for (i, builder) in builders.iter_mut().enumerate() {
            let field = schema.field(i);
            let at = positions[i];
            let Ok(text) = std::str::from_utf8(record.field(at)) else {
                return Err(DataFusionError::Execution(format!(
                    "cannot read {shown}: line {}, column `{}`: the value is not valid UTF-8",
                    record.line,
                    field.name()
                )));
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
                return Err(DataFusionError::Execution(format!(
                    "cannot read {shown}: line {}, column `{}`: value '{value}' {why}{fix}",
                    record.line,
                    field.name()
                )));
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

// ---------------------------------------------------------------- writing

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

    pub fn write(&mut self, batch: &RecordBatch) -> std::result::Result<(), String> {
        self.start(&batch.schema()).map_err(|e| e.to_string())?;
        let options = FormatOptions::default();
        let formatters = batch
            .columns()
            .iter()
            .map(|a| ArrayFormatter::try_new(a.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
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
                    std::fmt::Write::write_fmt(&mut text, format_args!("{}", formatter.value(row)))
                        .map_err(|e| e.to_string())?;
                    self.field(Some(&text));
                    self.text = text;
                }
            }
            self.line.push(b'\n');
            self.out.write_all(&self.line).map_err(|e| e.to_string())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CsvOptions {
        CsvOptions { header: true, delimiter: b',', null: String::new(), types: Vec::new(), infer_rows: Some(1000) }
    }

    fn types_of(csv: &str) -> Vec<String> {
        let schema = infer_schema(csv.as_bytes(), &opts(), "t.csv").expect("infers");
        schema.fields().iter().map(|f| f.data_type().to_string()).collect()
    }

    #[test]
    fn a_column_is_typed_only_when_its_values_read_back_as_written() {
        assert_eq!(types_of("a\n01234\n0010\n"), ["Utf8"]);
        assert_eq!(types_of("a\n+0044\n+12\n"), ["Utf8"]);
        assert_eq!(types_of("a\n12\n-3\n0\n"), ["Int64"]);
        assert_eq!(types_of("a\n-0\n"), ["Utf8"]);
        assert_eq!(types_of("a\n1.50\n2\n"), ["Decimal128(38, 2)"]);
        assert_eq!(types_of("a\n1e3\n2.5E-4\n"), ["Float64"]);
        assert_eq!(types_of("a\n1e3\n0.1e-400\n"), ["Utf8"]);
        assert_eq!(types_of("a\n0x1F\n"), ["Utf8"]);
        assert_eq!(types_of("a\n\"1,234\"\n"), ["Utf8"]);
        assert_eq!(types_of("a\n123456789012345678901234567890\n"), ["Decimal128(38, 0)"]);
        assert_eq!(types_of("a\nTRUE\nfalse\n"), ["Boolean"]);
        assert_eq!(types_of("a\n2024-01-05\n"), ["Date32"]);
        assert_eq!(types_of("a\n2024-01-05 10:00:00\n2024-01-05T10:00:00.5\n"), ["Timestamp(µs)"]);
        assert_eq!(types_of("a\n2024-01-05T10:00:00Z\n2024-01-05 10:00:00+02:00\n"), ["Timestamp(µs, \"+00:00\")"]);
        assert_eq!(types_of("a\n1\n\"\"\n"), ["Utf8"]);
        assert_eq!(types_of("a\n1\n\n2\n"), ["Int64"]);
    }

    #[test]
    fn fields_follow_rfc_4180_with_bom_and_crlf() {
        let text = "\u{feff}id,note\r\n1,\"a, \"\"b\"\"\r\nc\"\r\n2,\r\n3,\"\"\r\n";
        let mut reader = RecordReader::new(text.as_bytes(), b',');
        let mut r = Record::default();
        let mut seen = Vec::new();
        while reader.next_record(&mut r).unwrap() {
            let fields: Vec<(String, bool)> =
                (0..r.count()).map(|i| (String::from_utf8(r.field(i).to_vec()).unwrap(), r.quoted[i])).collect();
            seen.push((r.line, fields));
        }
        let f = |s: &str, q: bool| (s.to_string(), q);
        assert_eq!(
            seen,
            vec![
                (1, vec![f("id", false), f("note", false)]),
                (2, vec![f("1", false), f("a, \"b\"\r\nc", true)]),
                (4, vec![f("2", false), f("", false)]),
                (5, vec![f("3", false), f("", true)]),
            ]
        );
    }

    #[test]
    fn declared_types_parse() {
        assert_eq!(
            parse_types("code text, amount decimal(12, 2), `order id` bigint").unwrap(),
            vec![
                ("code".to_string(), DataType::Utf8),
                ("amount".to_string(), DataType::Decimal128(12, 2)),
                ("order id".to_string(), DataType::Int64)
            ]
        );
        assert!(parse_types("code").is_err());
        assert!(parse_types("code money").is_err());
    }
}
