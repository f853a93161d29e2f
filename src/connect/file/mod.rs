//! CSV and Parquet files: schema discovery, streaming reads (one partition per file) and whole-file
//! writes. A write goes to `PATH.flow-tmp` and is renamed over `PATH` only when complete, so a
//! failed run leaves the previous file intact.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::connect::blocking::blocking_stream;
use crate::diagnostics::{Failure, codes};
use crate::plan::{Backend, Endpoint};

pub mod csv_text;
pub mod parts;
pub mod target;

/// The files a file source reads: the path itself, or the matching files of a directory, sorted.
pub fn list_files(path: &str, backend: Backend) -> Result<Vec<PathBuf>> {
    let p = Path::new(path);
    if p.is_dir() {
        let exts: Vec<&str> = backend.info().extensions.iter().map(|e| e.trim_start_matches('.')).collect();
        let mut files: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| io_error(codes::source::READ_FAILED, path, "read the directory", e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.extension().is_some_and(|x| exts.iter().any(|e| x.eq_ignore_ascii_case(e))))
            .collect();
        files.sort();
        if files.is_empty() {
            let message = format!("directory {path} holds no {} files", backend.info().extensions.join(" or "));
            return Err(Failure::new(codes::source::MISSING, message).into_datafusion());
        }
        Ok(files)
    } else if p.exists() {
        Ok(vec![p.to_path_buf()])
    } else {
        let message = format!("file {path} does not exist (paths are relative to the directory flow runs in)");
        Err(Failure::new(codes::source::MISSING, message).into_datafusion())
    }
}

/// `cannot ACTION PATH: REASON`; `code` says whether a source's read or a sink's write failed.
fn io_error(code: &'static str, path: &str, action: &str, e: std::io::Error) -> DataFusionError {
    Failure::new(code, format!("cannot {action} {path}: {e}")).into_datafusion()
}

/// The schema of the first file (CSV: header names and types inferred as `csv_text` says, or
/// declared with `types:`).
pub fn read_schema(endpoint: &Endpoint, path: &str) -> Result<SchemaRef> {
    let files = list_files(path, endpoint.backend)?;
    let first = &files[0];
    let shown = first.display().to_string();
    let file = File::open(first).map_err(|e| io_error(codes::source::READ_FAILED, &shown, "open", e))?;
    match endpoint.backend {
        Backend::Csv => {
            let options = csv_text::CsvOptions::of(endpoint)?;
            csv_text::infer_schema(std::io::BufReader::with_capacity(1 << 16, file), &options, &shown)
        }
        Backend::Parquet => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
                Failure::new(codes::source::READ_FAILED, format!("{shown} is not a readable Parquet file: {e}"))
                    .into_datafusion()
            })?;
            Ok(builder.schema().clone())
        }
        other => Err(not_a_format(other)),
    }
}

/// How many rows `files` hold, for progress: exact for Parquet (the footers' counts), an
/// estimate for CSV (the files' sizes over the mean size of the first records). `None` when a
/// file cannot be read; reading it then reports why.
pub fn count_rows(backend: Backend, files: &[PathBuf]) -> Option<crate::connect::RowCount> {
    match backend {
        Backend::Parquet => {
            let mut rows = 0u64;
            for path in files {
                let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).ok()?).ok()?;
                rows += u64::try_from(builder.metadata().file_metadata().num_rows()).ok()?;
            }
            Some(crate::connect::RowCount { rows, exact: true })
        }
        Backend::Csv => {
            let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).sum();
            let first = files.first()?;
            let mut sample = Vec::with_capacity(CSV_SAMPLE_BYTES);
            std::io::Read::read_to_end(
                &mut std::io::Read::take(File::open(first).ok()?, CSV_SAMPLE_BYTES as u64),
                &mut sample,
            )
            .ok()?;
            let lines = sample.iter().filter(|b| **b == b'\n').count() as u64;
            if lines == 0 || sample.is_empty() {
                return None;
            }
            // Each file has a header line; the mean line size comes from the sample.
            let per_line = sample.len() as f64 / lines as f64;
            let estimate = (bytes as f64 / per_line).round() as u64;
            Some(crate::connect::RowCount { rows: estimate.saturating_sub(files.len() as u64), exact: false })
        }
        _ => None,
    }
}

/// Bytes of a CSV file read to estimate its rows.
const CSV_SAMPLE_BYTES: usize = 1 << 16;

/// A backend that is not one of this folder's formats was sent here: a bug of the caller.
fn not_a_format(backend: Backend) -> DataFusionError {
    DataFusionError::Internal(format!("{} is not a file format (CSV or Parquet)", backend.name()))
}

/// Streams one file in batches.
pub fn stream_file(
    endpoint: &Endpoint,
    file: PathBuf,
    schema: SchemaRef,
    batch_size: usize,
) -> SendableRecordBatchStream {
    let backend = endpoint.backend;
    let options = csv_text::CsvOptions::of(endpoint);
    let out_schema = schema.clone();
    blocking_stream(out_schema, move |tx| {
        let shown = file.display().to_string();
        let handle = File::open(&file).map_err(|e| io_error(codes::source::READ_FAILED, &shown, "open", e))?;
        match backend {
            Backend::Csv => {
                let input = std::io::BufReader::with_capacity(1 << 16, handle);
                return csv_text::read_batches(input, &options?, &schema, batch_size, &shown, &mut |b| tx.send(b));
            }
            Backend::Parquet => {}
            other => return Err(not_a_format(other)),
        }
        let unreadable =
            |e: &dyn std::fmt::Display| Failure::new(codes::source::READ_FAILED, format!("cannot read {shown}: {e}"));
        let batches = ParquetRecordBatchReaderBuilder::try_new(handle)
            .and_then(|b| b.with_batch_size(batch_size).build())
            .map_err(|e| unreadable(&e).into_datafusion())?;
        for batch in batches {
            let batch = batch.map_err(|e| unreadable(&e).into_datafusion())?;
            if !tx.send(batch) {
                break;
            }
        }
        Ok(())
    })
}

/// Writes batches to a temporary file beside the target. [`FileWriter::close`] finishes it,
/// [`StagedFile::publish`] renames it into place; dropping either first removes it.
pub struct FileWriter {
    target: PathBuf,
    temp: PathBuf,
    schema: SchemaRef,
    inner: Option<Inner>,
}

enum Inner {
    /// Flow's CSV writer (see `csv_text`: NULL and the empty string written apart).
    Csv(Box<csv_text::CsvWriter<std::io::BufWriter<File>>>),
    /// The file, until the first batch shows which columns are worth a dictionary.
    ParquetPending(File),
    Parquet(Box<ArrowWriter<File>>),
}

/// Columns whose values repeat less than this (distinct / non-null values in the first batch)
/// are written without a dictionary: interning unique values costs a hash lookup each and the
/// dictionary is abandoned anyway once its page fills.
const DICTIONARY_MAX_DISTINCT_RATIO: f64 = 0.5;

/// Rows of the first batch looked at to decide.
const DICTIONARY_SAMPLE_ROWS: usize = 8192;

/// Zstd, and a dictionary only for the top-level columns whose first rows repeat values.
fn parquet_properties(first: Option<&RecordBatch>) -> WriterProperties {
    let mut builder = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::default()));
    let Some(batch) = first else { return builder.build() };
    let sample = batch.slice(0, batch.num_rows().min(DICTIONARY_SAMPLE_ROWS));
    for (field, column) in sample.schema().fields().iter().zip(sample.columns()) {
        if field.data_type().is_nested() || field.data_type() == &arrow::datatypes::DataType::Boolean {
            continue;
        }
        let values = column.len() - column.null_count();
        if values == 0 {
            continue;
        }
        let Ok(hashes) = crate::ledger::row_hashes(std::slice::from_ref(column)) else { continue };
        // Sorting the hashes counts the distinct values at a fraction of a hash set's cost
        // (callgrind: the set was 4% of a PostgreSQL -> Parquet move's instructions).
        let mut valid: Vec<u64> =
            hashes.iter().enumerate().filter(|(i, _)| column.is_valid(*i)).map(|(_, h)| *h).collect();
        valid.sort_unstable();
        valid.dedup();
        if valid.len() as f64 / values as f64 > DICTIONARY_MAX_DISTINCT_RATIO {
            let path = datafusion::parquet::schema::types::ColumnPath::from(field.name().as_str());
            builder = builder.set_column_dictionary_enabled(path.clone(), false);
            if delta_encodes(field.data_type()) {
                builder = builder.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED);
            }
        }
    }
    builder.build()
}

/// Whether a column of this type, written without a dictionary, is written as
/// `DELTA_BINARY_PACKED` (Parquet format, "Encodings"): integers, dates, times and timestamps
/// (stored as INT32/INT64) whose values mostly step by small amounts, such as ids and event
/// times, shrink to a few bits a value before zstd sees them.
fn delta_encodes(data_type: &arrow::datatypes::DataType) -> bool {
    use arrow::datatypes::DataType as T;
    matches!(
        data_type,
        T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::Date32
            | T::Date64
            | T::Timestamp(..)
            | T::Time32(..)
            | T::Time64(..)
    )
}

impl FileWriter {
    pub fn create(endpoint: &Endpoint, path: &str, schema: &SchemaRef) -> Result<Self> {
        let header = endpoint.option("header").is_none_or(|h| h == "true");
        Self::create_with_header(endpoint, path, schema, header)
    }

    /// A part of a partitioned write: CSV parts carry no header (the whole file gets one).
    pub fn create_part(endpoint: &Endpoint, path: &str, schema: &SchemaRef) -> Result<Self> {
        Self::create_with_header(endpoint, path, schema, false)
    }

    fn create_with_header(endpoint: &Endpoint, path: &str, schema: &SchemaRef, header: bool) -> Result<Self> {
        let target = PathBuf::from(path);
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io_error(codes::sink::WRITE_FAILED, &dir.display().to_string(), "create the directory", e)
            })?;
        }
        let temp = PathBuf::from(format!("{path}.flow-tmp"));
        let file = File::create(&temp)
            .map_err(|e| io_error(codes::sink::WRITE_FAILED, &temp.display().to_string(), "create", e))?;
        let inner = match endpoint.backend {
            Backend::Csv => {
                let options = csv_text::CsvOptions::of(endpoint)?;
                let out = std::io::BufWriter::with_capacity(1 << 16, file);
                Inner::Csv(Box::new(csv_text::CsvWriter::new(out, options.delimiter, options.null, header)))
            }
            Backend::Parquet => Inner::ParquetPending(file),
            other => return Err(not_a_format(other)),
        };
        Ok(Self { target, temp, schema: schema.clone(), inner: Some(inner) })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let shown = self.target.display().to_string();
        let err = |e: &dyn std::fmt::Display| {
            Failure::new(codes::sink::WRITE_FAILED, format!("cannot write {shown}: {e}")).into_datafusion()
        };
        match self.inner.as_mut() {
            Some(Inner::Csv(w)) => w.write(batch).map_err(|e| err(&e)),
            Some(Inner::Parquet(w)) => w.write(batch).map_err(|e| err(&e)),
            Some(Inner::ParquetPending(_)) => {
                // The first batch decides the writer's properties.
                let Some(Inner::ParquetPending(file)) = self.inner.take() else {
                    return Err(DataFusionError::Internal(format!("{shown}: writer state changed")));
                };
                let mut writer = ArrowWriter::try_new(file, self.schema.clone(), Some(parquet_properties(Some(batch))))
                    .map_err(|e| err(&e))?;
                let written = writer.write(batch).map_err(|e| err(&e));
                self.inner = Some(Inner::Parquet(Box::new(writer)));
                written
            }
            None => Err(Failure::new(codes::run::INTERNAL, format!("{shown}: write after commit")).into_datafusion()),
        }
    }

    /// Appends CSV rows already formatted (a part written by [`FileWriter::create_part`]) after
    /// the header.
    pub fn write_raw_csv(&mut self, bytes: &[u8]) -> Result<()> {
        let shown = self.target.display().to_string();
        match self.inner.as_mut() {
            Some(Inner::Csv(w)) => {
                w.write_raw(&self.schema, bytes).map_err(|e| io_error(codes::sink::WRITE_FAILED, &shown, "write", e))
            }
            _ => Err(DataFusionError::Internal(format!("{shown}: raw CSV bytes for a non-CSV file"))),
        }
    }

    /// Finishes the temporary file; it replaces the target only on [`StagedFile::publish`].
    pub fn close(mut self) -> Result<StagedFile> {
        let shown = self.target.display().to_string();
        let unfinished = |e: &dyn std::fmt::Display| {
            Failure::new(codes::sink::WRITE_FAILED, format!("cannot finish {shown}: {e}")).into_datafusion()
        };
        match self.inner.take() {
            Some(Inner::Csv(w)) => {
                let mut out = w.into_inner();
                std::io::Write::flush(&mut out).map_err(|e| io_error(codes::sink::WRITE_FAILED, &shown, "write", e))?;
            }
            Some(Inner::Parquet(w)) => {
                w.close().map_err(|e| unfinished(&e))?;
            }
            Some(Inner::ParquetPending(file)) => {
                // No rows: a file with the schema alone.
                ArrowWriter::try_new(file, self.schema.clone(), Some(parquet_properties(None)))
                    .and_then(|w| w.close())
                    .map_err(|e| unfinished(&e))?;
            }
            None => {}
        }
        Ok(StagedFile { target: self.target.clone(), temp: Some(self.temp.clone()) })
    }
}

/// A complete file waiting beside its target; dropped unpublished, it is removed.
#[derive(Debug)]
pub struct StagedFile {
    target: PathBuf,
    temp: Option<PathBuf>,
}

impl StagedFile {
    pub fn publish(mut self) -> Result<()> {
        let shown = self.target.display().to_string();
        match self.temp.take() {
            Some(temp) => std::fs::rename(&temp, &self.target)
                .map_err(|e| io_error(codes::sink::WRITE_FAILED, &shown, "move the finished file into place at", e)),
            None => Ok(()),
        }
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.inner = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod dictionary_tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use datafusion::parquet::schema::types::ColumnPath;

    use super::*;

    #[test]
    fn only_columns_that_repeat_values_get_a_dictionary() {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
        let status: ArrayRef = Arc::new(StringArray::from_iter_values((0..1000).map(|i| ["new", "paid"][i % 2])));
        let batch = RecordBatch::try_from_iter([("id", ids), ("status", status)]).unwrap();
        let props = parquet_properties(Some(&batch));
        assert!(!props.dictionary_enabled(&ColumnPath::from("id")));
        assert!(props.dictionary_enabled(&ColumnPath::from("status")));
        assert!(parquet_properties(None).dictionary_enabled(&ColumnPath::from("id")));
        // The integers without a dictionary are delta-encoded; text keeps the default.
        assert_eq!(props.encoding(&ColumnPath::from("id")), Some(Encoding::DELTA_BINARY_PACKED));
        assert_eq!(props.encoding(&ColumnPath::from("status")), None);
    }

    /// Delta-encoded integers and timestamps (with nulls, negative steps, the extremes) read
    /// back equal through parquet's own reader.
    #[test]
    fn delta_encoded_columns_read_back_equal() {
        use arrow::array::TimestampMicrosecondArray;
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let values: Vec<Option<i64>> = (0..5000)
            .map(|i| if i % 7 == 0 { None } else { Some(i * 3 - 9000) })
            .chain([Some(i64::MIN), Some(i64::MAX)])
            .collect();
        let ids: ArrayRef = Arc::new(Int64Array::from(values.clone()));
        let at: ArrayRef = Arc::new(TimestampMicrosecondArray::from(values).with_timezone("+00:00"));
        let batch = RecordBatch::try_from_iter([("id", ids), ("at", at)]).unwrap();
        let props = parquet_properties(Some(&batch));
        assert_eq!(props.encoding(&ColumnPath::from("at")), Some(Encoding::DELTA_BINARY_PACKED));
        let mut bytes = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap();
        let encodings = reader.metadata().row_group(0).column(0).encodings().collect::<Vec<_>>();
        assert!(encodings.contains(&Encoding::DELTA_BINARY_PACKED), "{encodings:?}");
        let back: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
        assert_eq!(arrow::compute::concat_batches(&batch.schema(), &back).unwrap(), batch);
    }
}
