//! Order-independent checksums of rows, for `flow verify`: equal multisets of rows give equal
//! checksums whatever their order or batching, so a source and its target can be compared
//! partition by partition without sorting either.

use arrow::array::ArrayRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::hash_utils::{RandomState, create_hashes};
use datafusion::error::Result;

/// An order-independent checksum of rows: the wrapping sum of a hash of every row over all
/// columns. Equal multisets of rows give equal sums whatever the order or batching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowChecksum {
    sum: u64,
    rows: u64,
}

impl RowChecksum {
    pub fn add_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        for hash in row_hashes(batch.columns())? {
            self.sum = self.sum.wrapping_add(hash);
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The wrapping sum of the row hashes (what [`RowChecksum::hex`] prints).
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The checksum whose sum and row count are these: one computed elsewhere (on a cluster
    /// executor) and sent back as two numbers.
    pub fn from_parts(sum: u64, rows: u64) -> Self {
        Self { sum, rows }
    }

    /// The checksum of the rows of `self` and `other` together: the checksum of a multiset of
    /// rows is the sum of its parts' (the partitions of a source read in several tasks).
    pub fn merge(self, other: Self) -> Self {
        Self { sum: self.sum.wrapping_add(other.sum), rows: self.rows + other.rows }
    }

    pub fn hex(&self) -> String {
        format!("{:016x}", self.sum)
    }
}

/// A hash per row over the given columns, stable within one build of Flow.
pub fn row_hashes(columns: &[ArrayRef]) -> Result<Vec<u64>> {
    let rows = columns.first().map_or(0, |c| c.len());
    let mut hashes = vec![0u64; rows];
    if rows > 0 {
        create_hashes(columns, &RandomState::with_seed(0x666c6f77), &mut hashes)?;
    }
    Ok(hashes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};

    use super::*;

    fn batch(ids: &[i64], names: &[&str]) -> RecordBatch {
        RecordBatch::try_from_iter(vec![
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            ("name", Arc::new(StringArray::from(names.to_vec())) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn checksum_ignores_order_and_batching_but_not_values() {
        let mut a = RowChecksum::default();
        a.add_batch(&batch(&[1, 2, 3], &["x", "y", "z"])).unwrap();
        let mut b = RowChecksum::default();
        b.add_batch(&batch(&[3], &["z"])).unwrap();
        b.add_batch(&batch(&[2, 1], &["y", "x"])).unwrap();
        assert_eq!(a.hex(), b.hex());
        assert_eq!(b.rows(), 3);
        let mut c = RowChecksum::default();
        c.add_batch(&batch(&[1, 2, 3], &["x", "y", "Z"])).unwrap();
        assert_ne!(a.hex(), c.hex());
    }

    #[test]
    fn merged_parts_equal_the_whole() {
        let mut whole = RowChecksum::default();
        whole.add_batch(&batch(&[1, 2, 3], &["x", "y", "z"])).unwrap();
        let (mut first, mut second) = (RowChecksum::default(), RowChecksum::default());
        first.add_batch(&batch(&[2], &["y"])).unwrap();
        second.add_batch(&batch(&[3, 1], &["z", "x"])).unwrap();
        let sent = RowChecksum::from_parts(second.sum(), second.rows());
        assert_eq!(first.merge(sent), whole);
        assert_eq!(first.merge(RowChecksum::default()), first);
    }
}
