//! `keep last by COLUMN` for one partition: read the whole partition, keep for each key the row
//! with the largest value of the column, then hand on those rows, one per key, in the order the
//! keys first came.
//!
//! The values are compared in Arrow's row format, whose bytes order as the values do (a NULL
//! first, so a row with a value beats a row without one). Two rows of a key that tie on the
//! largest value are refused unless they are equal in every column: which one a database would
//! keep depends on the order rows arrive in, and this way no backend and no run chooses
//! differently. The partition's batches are held until it ends; whenever they hold more than
//! twice the rows kept (plus [`SLACK`]), the kept rows are copied into one batch and the rest
//! dropped, so memory follows the number of keys, not of rows.

use std::cmp::Ordering;
use std::collections::HashMap;

use arrow::array::{RecordBatch, make_comparator};
use arrow::compute::{SortOptions, interleave_record_batch};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;

use super::key::{KeyColumns, value_text};
use crate::diagnostics::{Failure, codes};

/// Rows held beyond twice the rows kept before the held batches are compacted.
const SLACK: usize = 65_536;

/// Rows per batch handed on.
const OUTPUT_ROWS: usize = 8192;

/// How many tied keys a failure names.
const SAMPLE: usize = 5;

/// The row kept for one key so far.
struct Kept {
    batch: usize,
    row: usize,
    /// Its `by` value in the row format.
    by: Box<[u8]>,
    /// Another row of the key has the same `by` value and differs in some column.
    tie: bool,
}

/// The last row of each key of one partition, as rows arrive.
struct Latest {
    keys: KeyColumns,
    by: usize,
    by_name: String,
    by_converter: RowConverter,
    batches: Vec<RecordBatch>,
    held_rows: usize,
    index: HashMap<Box<[u8]>, usize>,
    kept: Vec<Kept>,
}

impl Latest {
    fn new(schema: &SchemaRef, keys: &[String], by: &str) -> Result<Self> {
        let by_index = schema.index_of(by).map_err(|_| {
            DataFusionError::Plan(format!("`keep last by {by}`: `{by}` is not a column of the sink's input"))
        })?;
        let field = SortField::new_with_options(schema.field(by_index).data_type().clone(), SortOptions::default());
        Ok(Self {
            keys: KeyColumns::new(schema, keys)?,
            by: by_index,
            by_name: by.to_string(),
            by_converter: RowConverter::new(vec![field])?,
            batches: Vec::new(),
            held_rows: 0,
            index: HashMap::new(),
            kept: Vec::new(),
        })
    }

    fn add(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let keys = self.keys.rows(&batch)?;
        let by = self.by_converter.convert_columns(&[batch.column(self.by).clone()])?;
        let b = self.batches.len();
        self.held_rows += batch.num_rows();
        self.batches.push(batch);
        for row in 0..keys.num_rows() {
            let value = by.row(row);
            let Some(&k) = self.index.get(keys.row(row).as_ref()) else {
                self.index.insert(keys.row(row).as_ref().into(), self.kept.len());
                self.kept.push(Kept { batch: b, row, by: value.as_ref().into(), tie: false });
                continue;
            };
            let current = &self.kept[k];
            match value.as_ref().cmp(&current.by) {
                Ordering::Greater => self.kept[k] = Kept { batch: b, row, by: value.as_ref().into(), tie: false },
                Ordering::Equal if !current.tie => {
                    let tie = !same_row(&self.batches[current.batch], current.row, &self.batches[b], row)?;
                    self.kept[k].tie = tie;
                }
                Ordering::Equal | Ordering::Less => {}
            }
        }
        if self.held_rows > 2 * self.kept.len() + SLACK {
            self.compact()?;
        }
        Ok(())
    }

    /// Copies the kept rows into one batch and drops the others.
    fn compact(&mut self) -> Result<()> {
        let batch = self.take(0..self.kept.len())?;
        for (i, kept) in self.kept.iter_mut().enumerate() {
            (kept.batch, kept.row) = (0, i);
        }
        self.held_rows = batch.num_rows();
        self.batches = vec![batch];
        Ok(())
    }

    /// The kept rows `range`, in one batch.
    fn take(&self, range: std::ops::Range<usize>) -> Result<RecordBatch> {
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        let indices: Vec<(usize, usize)> = self.kept[range].iter().map(|k| (k.batch, k.row)).collect();
        Ok(interleave_record_batch(&batches, &indices)?)
    }

    /// The kept rows, in batches of [`OUTPUT_ROWS`]; a [`codes::sink::KEEP_LAST_TIE`] failure
    /// when a key's last rows tie.
    fn finish(self) -> Result<Vec<RecordBatch>> {
        let tied: Vec<&Kept> = self.kept.iter().filter(|k| k.tie).collect();
        if !tied.is_empty() {
            let sample: Vec<String> = tied
                .iter()
                .take(SAMPLE)
                .map(|k| {
                    let batch = &self.batches[k.batch];
                    let value = value_text(batch.column(self.by), k.row);
                    format!("{} ({} = {value})", self.keys.describe(batch, k.row), self.by_name)
                })
                .collect();
            let message = format!(
                "{} key(s) have rows that tie on the largest {} and differ in another column, so `keep last by {}` \
                 cannot choose one: {}",
                tied.len(),
                self.by_name,
                self.by_name,
                sample.join("; ")
            );
            return Err(Failure::new(codes::sink::KEEP_LAST_TIE, message).column(&self.by_name).into_datafusion());
        }
        (0..self.kept.len())
            .step_by(OUTPUT_ROWS)
            .map(|start| self.take(start..(start + OUTPUT_ROWS).min(self.kept.len())))
            .collect()
    }
}

/// Whether row `a` of `left` equals row `b` of `right` in every column (NULL equal to NULL).
fn same_row(left: &RecordBatch, a: usize, right: &RecordBatch, b: usize) -> Result<bool> {
    for (l, r) in left.columns().iter().zip(right.columns()) {
        let compare = make_comparator(l.as_ref(), r.as_ref(), SortOptions::default())?;
        if compare(a, b) != Ordering::Equal {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `input` with one row per key: the last by column `by` (see the module docs). Reads the whole
/// partition before handing on its first row.
pub fn keep_last(input: SendableRecordBatchStream, keys: &[String], by: &str) -> Result<SendableRecordBatchStream> {
    let schema = input.schema();
    let mut latest = Latest::new(&schema, keys, by)?;
    let kept = async move {
        let mut input = input;
        while let Some(batch) = input.next().await {
            latest.add(batch?)?;
        }
        latest.finish()
    };
    let batches = futures::stream::once(kept).flat_map(|result| {
        let items: Vec<Result<RecordBatch>> = match result {
            Ok(batches) => batches.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(items)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
}
