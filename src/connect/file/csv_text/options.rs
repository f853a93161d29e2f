//! The CSV options of a connection (`header`, `delimiter`, `null`, `types`, `infer`) and the
//! declared column types of `types: "name type, ..."`.

use arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::Result;

use super::UTC;
use crate::connect::connection_options::{BadOption, ConnectionOption, OptionValue, any_text};
use crate::diagnostics::{Failure, codes};
use crate::plan::Endpoint;

/// The named arguments of `csv(...)`, checked when the file is checked.
pub static CONNECTION_OPTIONS: &[ConnectionOption] = &[
    ConnectionOption { name: "header", meaning: None, value: OptionValue::Boolean, default: None },
    ConnectionOption { name: "delimiter", meaning: None, value: OptionValue::Text(one_character), default: None },
    // The unquoted text that means NULL.
    ConnectionOption { name: "null", meaning: None, value: OptionValue::Text(any_text), default: None },
    ConnectionOption { name: "types", meaning: None, value: OptionValue::Text(column_types), default: None },
    ConnectionOption {
        name: "infer",
        meaning: None,
        value: OptionValue::CountOr { word: "all", refused: infer_refused },
        default: None,
    },
];

fn one_character(delimiter: &str) -> std::result::Result<(), BadOption> {
    if delimiter.len() == 1 {
        return Ok(());
    }
    Err(BadOption {
        message: "the delimiter must be a single character".into(),
        label: "not one character",
        help: "e.g. delimiter: \";\"",
    })
}

fn column_types(text: &str) -> std::result::Result<(), BadOption> {
    parse_types(text).map(drop).map_err(|why| BadOption {
        message: why.to_string(),
        label: "not a list of column types",
        help: "e.g. types: \"code text, amount decimal(12,2)\"",
    })
}

fn infer_refused() -> BadOption {
    BadOption {
        message: "infer: takes \"all\" or a number of rows".into(),
        label: "not \"all\" or a row count",
        help: "infer: \"all\" infers column types from every row",
    }
}

/// Rows inferred from unless `infer:` says otherwise.
pub const INFER_ROWS: usize = 1000;

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
            Some(text) => parse_types(text)
                .map_err(|e| Failure::new(codes::connection::BAD_ARGUMENT, e.to_string()).into_datafusion())?,
            None => Vec::new(),
        };
        let infer_rows = match endpoint.option("infer") {
            None => Some(INFER_ROWS),
            Some("all") => None,
            Some(n) => Some(n.parse().map_err(|_| {
                let message = format!("infer: expects \"all\" or a number of rows, got {n:?}");
                Failure::new(codes::connection::BAD_ARGUMENT, message).into_datafusion()
            })?),
        };
        Ok(Self { header, delimiter, null, types, infer_rows })
    }

    pub(super) fn inferred_from(&self) -> String {
        match self.infer_rows {
            Some(n) => format!("the first {n} rows"),
            None => "all rows".to_string(),
        }
    }
}

/// What is wrong with a `types:` option ([`parse_types`]), naming the item or type written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypesError {
    #[error("unclosed back-quote in `{item}`")]
    UnclosedQuote { item: String },
    #[error("`{item}` names no type; write the column, then its type, e.g. \"code text\"")]
    NoType { item: String },
    #[error("bad precision or scale in `{ty}`: write decimal(p,s) with 1 <= p <= 38, s <= p")]
    BadDecimal { ty: String },
    #[error(
        "unknown type `{ty}`; use one of: boolean, smallint, int, bigint, real, double, decimal(p,s), text, date, \
         time, timestamp, timestamptz, bytea"
    )]
    UnknownType { ty: String },
}

/// `name type, name type, ...` (names may be back-quoted) into Arrow types. Types are those of
/// `cast`: boolean, smallint, int, bigint, real, double, decimal(p,s), text, date, time,
/// timestamp, timestamptz, bytea.
pub fn parse_types(text: &str) -> std::result::Result<Vec<(String, DataType)>, TypesError> {
    let mut out = Vec::new();
    for item in split_top_level(text) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, ty) = if let Some(rest) = item.strip_prefix('`') {
            let end = rest.find('`').ok_or_else(|| TypesError::UnclosedQuote { item: item.to_string() })?;
            (rest[..end].to_string(), rest[end + 1..].trim())
        } else {
            let (n, t) =
                item.split_once(char::is_whitespace).ok_or_else(|| TypesError::NoType { item: item.to_string() })?;
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

fn type_of(ty: &str) -> std::result::Result<DataType, TypesError> {
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
                _ => return Err(TypesError::BadDecimal { ty: ty.to_string() }),
            }
        }
        _ => return Err(TypesError::UnknownType { ty: ty.to_string() }),
    })
}
