//! Why one value cannot cross the COPY boundary, as data: what is wrong and the numbers that
//! say so. The encoder and decoder turn a [`ValueError`] into a located
//! `diagnostics::Failure` (column, row), choosing the code from the variant
//! ([`ValueError::is_internal`]), never from the text.

use super::preview;

/// One value the encoder cannot write or the decoder cannot read. Its text (`Display`) is the
/// reason as the messages print it, after `column "c" (type), row N: `.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// Text that does not read as the target type: `invalid uuid "x"`, `invalid date "x"
    /// (expected YYYY-MM-DD)`.
    #[error("invalid {what} {shown}{}", .expected.map(|e| format!(" (expected {e})")).unwrap_or_default())]
    Invalid { what: &'static str, shown: String, expected: Option<&'static str> },
    /// An integer outside the target type's range.
    #[error("{value} is out of range for type {ty}")]
    OutOfRange { value: i128, ty: &'static str },
    /// A double that becomes infinity (overflow) or zero (underflow) as a `real`.
    #[error("{value} is out of range for type real ({})", if *.underflow { "underflow" } else { "overflow" })]
    RealRange { value: f64, underflow: bool },
    /// An integer a float type would round.
    #[error("{value} cannot be represented exactly as {ty}")]
    Inexact { value: i128, ty: &'static str },
    /// Text with a NUL byte, which PostgreSQL's text types cannot hold.
    #[error("text contains a NUL byte at byte offset {offset}, which PostgreSQL does not accept")]
    Nul { offset: usize },
    /// A value longer than a COPY field's i32 length word.
    #[error("value of {bytes} bytes is too large for a COPY field")]
    TooLarge { bytes: usize },
    /// A value displayed for a text column longer than a COPY field's i32 length word.
    #[error("value is too long")]
    DisplayTooLong,
    /// Arrow could not display a value for a text column.
    #[error("cannot format value: {reason}")]
    Unformattable { reason: String },
    /// A binary value for a `uuid` that is not 16 bytes.
    #[error("a uuid needs 16 bytes, got {bytes}")]
    UuidLength { bytes: usize },
    /// A date (days from 1970-01-01) outside PostgreSQL's `date` range.
    #[error("date {days} days from 1970-01-01 is outside PostgreSQL's date range")]
    DateRange { days: i64 },
    /// A time of day outside `00:00:00..24:00:00`.
    #[error("time of {micros} µs is outside 00:00:00..24:00:00")]
    TimeRange { micros: i64 },
    /// A timestamp (µs from 1970-01-01) outside PostgreSQL's `timestamp` range.
    #[error("timestamp {micros} µs from 1970-01-01 is outside PostgreSQL's timestamp range")]
    TimestampRange { micros: i128 },
    /// A duration with nanoseconds an `interval` (microseconds) would drop.
    #[error("the duration has a fraction of a microsecond, which an interval cannot keep")]
    SubMicrosecond,
    /// A duration beyond an `interval`'s i64 microseconds.
    #[error("a span of {micros} µs does not fit an interval")]
    IntervalRange { micros: i128 },
    /// A negative number for a `bit(n)`.
    #[error("{value} is not a bit string (negative)")]
    NegativeBits { value: i128 },
    /// A number that needs more bits than its `bit(n)` has.
    #[error("{value} needs more than the {bits} bits of bit({bits})")]
    TooManyBits { value: u64, bits: u32 },
    /// A `Decimal256` whose magnitude has no positive i256 (its minimum).
    #[error("decimal value out of range")]
    DecimalRange,
    /// A number with more fractional digits than `numeric` keeps.
    #[error("numeric value has {digits} fractional digits; PostgreSQL allows at most {max}")]
    NumericScale { digits: i64, max: i64 },
    /// A number beyond `numeric`'s range of weights.
    #[error("numeric value is out of PostgreSQL's numeric range")]
    NumericRange,
    /// A number with more base-10000 digits than `numeric` holds.
    #[error("numeric value has too many digits")]
    NumericDigits,
    /// `NaN` or `±Infinity` read into an Arrow decimal.
    #[error(
        "numeric {what} cannot be stored in an Arrow decimal; filter it out or cast it in the query, e.g. \
         col::float8 or col::text"
    )]
    NumericSpecial { what: &'static str },
    /// A `numeric` with more fractional digits than its Arrow decimal's scale.
    #[error(
        "numeric {value} has more than {scale} fractional digits and would be rounded in \
         {arrow_type}({precision},{scale}); cast it in the query, e.g. col::numeric(38,{}) or col::text",
        (*.scale).max(0) + 2
    )]
    Rounded { value: String, arrow_type: &'static str, precision: u8, scale: i8 },
    /// A `numeric` beyond its Arrow decimal's precision.
    #[error("numeric {value} does not fit in {arrow_type}({precision},{scale}); cast it in the query, e.g. col::text")]
    DecimalOverflow { value: String, arrow_type: &'static str, precision: u8, scale: i8 },
    /// `±infinity` of a `date` or `timestamp`, which Arrow has no value for.
    #[error("{what} is ±infinity, which Arrow cannot represent; filter it out or cast it in the query, e.g. col::text")]
    Infinite { what: &'static str },
    /// A PostgreSQL date whose day number leaves Arrow's `Date32`.
    #[error("date {days} days from 1970 is out of range")]
    ArrowDateRange { days: i64 },
    /// A PostgreSQL timestamp whose microseconds leave Arrow's i64.
    #[error("timestamp out of range")]
    ArrowTimestampRange,
    /// An `interval` with months, which have no fixed length.
    #[error(
        "interval of {months} months has no fixed length in microseconds; cast it in the query, e.g. col::text or \
         extract(epoch from col)"
    )]
    IntervalMonths { months: i32 },
    /// An `interval` of days and microseconds beyond i64 microseconds.
    #[error("interval out of range")]
    IntervalOverflow,
    /// A `jsonb` value with another format version than 1.
    #[error("unsupported jsonb format version {version}")]
    JsonbVersion { version: u8 },
    /// A `jsonb` value without even its version byte.
    #[error("empty jsonb value")]
    EmptyJsonb,
    /// Text that is not UTF-8.
    #[error("text is not valid UTF-8: {0}")]
    NotUtf8(std::str::Utf8Error),
    /// Bytes that are not a value of their type as PostgreSQL sends it.
    #[error("{0}")]
    Malformed(Malformed),
    /// A value of a kind the column was not planned for (`kind` into `target`): a bug in Flow.
    #[error("internal error: cannot write a {kind} value as {target}")]
    Mismatch { kind: &'static str, target: String },
}

/// How the bytes of a value break its type's binary format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("malformed value: expected {expected} bytes, got {got}")]
    Length { expected: usize, got: usize },
    #[error("malformed numeric: shorter than its header")]
    NumericHeader,
    #[error("malformed numeric: {digits} digits announced, {bytes} bytes present")]
    NumericLength { digits: usize, bytes: usize },
    #[error("malformed numeric: sign word {0:#06x}")]
    NumericSign(u16),
    #[error("malformed numeric: digit {0} is not base 10000")]
    NumericDigit(i32),
    #[error("malformed time value ({0} µs)")]
    Time(i64),
}

impl ValueError {
    /// `Invalid` text of `what`, shown truncated ([`preview`]).
    pub fn invalid(what: &'static str, text: &str) -> Self {
        Self::Invalid { what, shown: preview(text), expected: None }
    }

    /// Whether the error is Flow's own (a value of a kind its plan did not expect), not the
    /// value's: it fails the run as `flow::run::internal` whatever `on error` says.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Mismatch { .. })
    }
}

impl From<Malformed> for ValueError {
    fn from(m: Malformed) -> Self {
        Self::Malformed(m)
    }
}
