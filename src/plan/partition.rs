//! Splitting a source into partitions: `partition by COLUMN into N` over the column's observed
//! min/max becomes N contiguous ranges. The first range is open below and the last open above (and
//! also takes the NULLs), so a row outside the observed bounds or with a NULL key is never lost.

use chrono::{Duration as ChronoDuration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::sql::Dialect;

/// What one partition of a source reads. Plain data: it can travel to a remote executor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScanPartition {
    /// Rows `[start, end)` of the synthetic table.
    Rows { start: u64, end: u64 },
    /// One whole file.
    File { path: String },
    /// A query on the source database; `predicate` is the partition's range, if any. `chunks`,
    /// when not empty, split that range into consecutive bounded queries run one after another
    /// (for readers that collect each query's result).
    Query {
        predicate: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        chunks: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionSpec {
    pub column: String,
    pub count: usize,
    /// Chosen by Flow (a large table's integer primary key), not written in the file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automatic: bool,
}

/// A value of a partition column: integers, dates or timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum BoundValue {
    Int(i64),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
}

impl BoundValue {
    pub fn sql_literal(&self, dialect: Dialect) -> String {
        match (self, dialect) {
            (Self::Int(v), _) => v.to_string(),
            (Self::Date(d), Dialect::Sqlite) => format!("'{}'", d.format("%Y-%m-%d")),
            (Self::Date(d), _) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            (Self::Timestamp(t), Dialect::Sqlite) => {
                format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.f"))
            }
            (Self::Timestamp(t), _) => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.f")),
        }
    }

    /// A position on a line, so every kind splits with the same integer arithmetic.
    fn ordinal(&self) -> i128 {
        match self {
            Self::Int(v) => i128::from(*v),
            Self::Date(d) => i128::from(d.signed_duration_since(epoch_date()).num_days()),
            Self::Timestamp(t) => i128::from(t.and_utc().timestamp_micros()),
        }
    }

    fn with_ordinal(&self, ordinal: i128) -> Self {
        match self {
            Self::Int(_) => Self::Int(ordinal as i64),
            Self::Date(_) => Self::Date(epoch_date() + ChronoDuration::days(ordinal as i64)),
            Self::Timestamp(_) => {
                Self::Timestamp(chrono::DateTime::from_timestamp_micros(ordinal as i64).unwrap_or_default().naive_utc())
            }
        }
    }
}

impl std::fmt::Display for BoundValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(v) => write!(f, "{v}"),
            Self::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::Timestamp(t) => write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S%.f")),
        }
    }
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// Observed bounds of the partition column; `None` when the source holds no non-NULL key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionBounds {
    pub min: BoundValue,
    pub max: BoundValue,
}

/// One partition: `lower <= col < upper`, either side open when `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRange {
    pub index: usize,
    pub lower: Option<BoundValue>,
    pub upper: Option<BoundValue>,
    pub includes_nulls: bool,
}

impl PartitionRange {
    /// The single partition that reads everything.
    pub fn whole() -> Self {
        Self { index: 0, lower: None, upper: None, includes_nulls: true }
    }
}

/// Splits `[min, max]` into at most `count` ranges of near-equal width. Fewer ranges come back
/// when there are fewer distinct values than partitions; with no bounds, one range reads all.
pub fn split(bounds: Option<&PartitionBounds>, count: usize) -> Vec<PartitionRange> {
    let Some(bounds) = bounds else {
        return vec![PartitionRange::whole()];
    };
    let lo = bounds.min.ordinal();
    let hi = bounds.max.ordinal();
    if hi < lo || count <= 1 {
        return vec![PartitionRange::whole()];
    }
    let width = hi - lo + 1;
    let count = i128::try_from(count).unwrap_or(i128::MAX).min(width);
    let step = (width + count - 1) / count;
    let n = usize::try_from((width + step - 1) / step).unwrap_or(1);
    (0..n)
        .map(|i| {
            let i128_i = i as i128;
            let lower = (i > 0).then(|| bounds.min.with_ordinal(lo + i128_i * step));
            let upper = (i + 1 < n).then(|| bounds.min.with_ordinal(lo + (i128_i + 1) * step));
            PartitionRange { index: i, lower, upper, includes_nulls: i + 1 == n }
        })
        .collect()
}

/// Splits one integer partition into consecutive chunks of at most `max_keys` keys, read as
/// bounded queries one after another (SQLite sources; see `connect::CHUNK_KEYS`). The open
/// ends and the NULLs of the partition stay with its first and last chunk. Other kinds of
/// ranges come back whole.
pub fn chunk(range: &PartitionRange, bounds: Option<&PartitionBounds>, max_keys: u64) -> Vec<PartitionRange> {
    let Some(PartitionBounds { min: BoundValue::Int(min), max: BoundValue::Int(max) }) = bounds else {
        return vec![range.clone()];
    };
    let lo = match range.lower {
        Some(BoundValue::Int(v)) => i128::from(v),
        None => i128::from(*min),
        Some(_) => return vec![range.clone()],
    };
    let hi = match range.upper {
        Some(BoundValue::Int(v)) => i128::from(v),
        None => i128::from(*max) + 1,
        Some(_) => return vec![range.clone()],
    };
    let step = i128::from(max_keys.max(1));
    if hi - lo <= step {
        return vec![range.clone()];
    }
    let count = (hi - lo + step - 1) / step;
    (0..count)
        .map(|i| {
            let start = lo + i * step;
            let end = (start + step).min(hi);
            let first = i == 0;
            let last = i + 1 == count;
            PartitionRange {
                index: range.index,
                lower: if first { range.lower } else { Some(BoundValue::Int(start as i64)) },
                upper: if last { range.upper } else { Some(BoundValue::Int(end as i64)) },
                includes_nulls: last && range.includes_nulls,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(min: i64, max: i64) -> PartitionBounds {
        PartitionBounds { min: BoundValue::Int(min), max: BoundValue::Int(max) }
    }

    #[test]
    fn splits_integers_into_contiguous_open_ended_ranges() {
        let ranges = split(Some(&ints(1, 100)), 4);
        let preds: Vec<_> = ranges.iter().map(|r| Dialect::Postgres.partition_predicate("id", r).unwrap()).collect();
        assert_eq!(
            preds,
            [
                "\"id\" < 26",
                "\"id\" >= 26 AND \"id\" < 51",
                "\"id\" >= 51 AND \"id\" < 76",
                "(\"id\" >= 76 OR \"id\" IS NULL)",
            ]
        );
    }

    #[test]
    fn fewer_values_than_partitions_gives_fewer_partitions() {
        assert_eq!(split(Some(&ints(5, 7)), 8).len(), 3);
        assert_eq!(split(Some(&ints(5, 5)), 8), vec![PartitionRange::whole()]);
        assert_eq!(split(None, 8), vec![PartitionRange::whole()]);
    }

    #[test]
    fn extreme_bounds_do_not_overflow() {
        let ranges = split(Some(&ints(i64::MIN, i64::MAX)), 3);
        assert_eq!(ranges.len(), 3);
        assert!(ranges[1].lower.unwrap() < ranges[1].upper.unwrap());
    }

    #[test]
    fn chunks_cover_a_partition_exactly_once() {
        let bounds = ints(1, 100);
        let ranges = split(Some(&bounds), 2);
        let chunks: Vec<String> = ranges
            .iter()
            .flat_map(|r| chunk(r, Some(&bounds), 20))
            .map(|c| Dialect::Sqlite.partition_predicate("k", &c).unwrap())
            .collect();
        assert_eq!(
            chunks,
            [
                "\"k\" < 21",
                "\"k\" >= 21 AND \"k\" < 41",
                "\"k\" >= 41 AND \"k\" < 51",
                "\"k\" >= 51 AND \"k\" < 71",
                "\"k\" >= 71 AND \"k\" < 91",
                "(\"k\" >= 91 OR \"k\" IS NULL)",
            ]
        );
    }

    #[test]
    fn splits_dates_by_day() {
        let d = |s: &str| BoundValue::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
        let ranges = split(Some(&PartitionBounds { min: d("2024-01-01"), max: d("2024-01-04") }), 2);
        assert_eq!(Dialect::Mysql.partition_predicate("day", &ranges[0]).unwrap(), "`day` < DATE '2024-01-03'");
    }
}
