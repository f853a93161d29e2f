//! A file target written in parts, one per partition, with a sidecar ledger, so that a killed
//! run can resume. Partition `p` is written to `PATH.flow-<run>.parts/part-<p>` (through a
//! temporary name, renamed when complete), then recorded in the sidecar `PATH.flow-ledger.json`
//! (rewritten through a temporary file and renamed). Publishing joins the recorded parts in
//! partition order into `PATH.flow-tmp`, renames it over `PATH`, records `publish`, and removes
//! the parts. A part not in the sidecar is never published: a crash between the two renames only
//! makes the partition run again.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::FileWriter;
use crate::connect::sink::BlockingSink;
use crate::ledger::{Event, LedgerKey, LedgerRow, Preparation, RowChecksum, runs_of};
use crate::plan::{Backend, Endpoint};

pub struct PartedFileSink {
    endpoint: Endpoint,
    target: PathBuf,
    schema: SchemaRef,
    key: LedgerKey,
    /// Serialises sidecar rewrites between concurrent partitions.
    sidecar_lock: Mutex<()>,
}

/// `cannot WHAT PATH: REASON`: a file sink's write that failed (`flow::sink::write_failed`).
fn io_err(what: &str, path: &Path, e: impl std::fmt::Display) -> DataFusionError {
    let message = format!("cannot {what} {}: {e}", path.display());
    crate::diagnostics::Failure::new(crate::diagnostics::codes::sink::WRITE_FAILED, message).into_datafusion()
}

impl PartedFileSink {
    pub fn new(endpoint: Endpoint, target: &str, schema: SchemaRef, key: LedgerKey) -> Self {
        Self { endpoint, target: PathBuf::from(target), schema, key, sidecar_lock: Mutex::new(()) }
    }

    pub fn sidecar(&self) -> PathBuf {
        PathBuf::from(format!("{}.flow-ledger.json", self.target.display()))
    }

    fn parts_dir(&self, run_id: &str) -> PathBuf {
        PathBuf::from(format!("{}.flow-{run_id}.parts", self.target.display()))
    }

    fn part_path(&self, partition: usize) -> PathBuf {
        self.parts_dir(&self.key.run_id).join(format!("part-{partition:05}.{}", self.endpoint.backend.name()))
    }

    /// Appends rows to the sidecar atomically (write a temporary file, rename it into place).
    ///
    /// The read-modify-write holds an exclusive lock on `PATH.flow-ledger.lock` (`flock`), so
    /// that executors in other processes (`flow run --engine`) writing partitions of the same
    /// file never lose each other's rows; threads of this process also take `sidecar_lock`.
    fn append_ledger(&self, rows: &[LedgerRow], drop_partitions_of: Option<&str>) -> Result<()> {
        let _guard = self.sidecar_lock.lock().map_err(|_| {
            crate::diagnostics::Failure::new(crate::diagnostics::codes::run::INTERNAL, "ledger lock poisoned")
                .into_datafusion()
        })?;
        let path = self.sidecar();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err("create the directory", dir, e))?;
        }
        let lock_path = PathBuf::from(format!("{}.lock", path.display()));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("open the ledger lock", &lock_path, e))?;
        // Released when `lock` is closed at the end of this function.
        lock.lock().map_err(|e| io_err("lock the ledger", &lock_path, e))?;
        let mut all = self.read_ledger()?;
        if let Some(run) = drop_partitions_of {
            all.retain(|r| !(r.run_id == run && r.sink == self.key.sink && r.event == Event::Partition));
        }
        all.extend_from_slice(rows);
        let temp = PathBuf::from(format!("{}.{}.tmp", path.display(), std::process::id()));
        let json = serde_json::to_string_pretty(&all).map_err(|e| io_err("write the ledger", &path, e))?;
        let mut file = File::create(&temp).map_err(|e| io_err("write the ledger", &temp, e))?;
        file.write_all(json.as_bytes()).and_then(|_| file.sync_all()).map_err(|e| io_err("write", &temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| io_err("move the ledger into place at", &path, e))
    }
}

impl BlockingSink for PartedFileSink {
    fn read_ledger(&self) -> Result<Vec<LedgerRow>> {
        let path = self.sidecar();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                io_err("read the ledger", &path, format!("{e}; move the file away to start over without resume"))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err("read the ledger", &path, e)),
        }
    }

    /// Starts or resumes the run; returns `false` when a resume found its parts gone and starts
    /// this sink over.
    fn prepare(&self, prep: &Preparation) -> Result<bool> {
        for run in prep.abandon.iter().chain(prep.last_published.iter()) {
            let _ = std::fs::remove_dir_all(self.parts_dir(run));
        }
        let abandoned: Vec<LedgerRow> = prep
            .abandon
            .iter()
            .map(|run| {
                let mut row = self.key.row(Event::Abandon, -1, "a new run started", 0, "");
                row.run_id = run.clone();
                row
            })
            .collect();
        let dir = self.parts_dir(&self.key.run_id);
        if prep.resume_rows.is_some() {
            let ledger = self.read_ledger()?;
            let state = runs_of(&ledger, &self.key.sink).into_iter().find(|(id, _)| *id == self.key.run_id);
            let intact =
                state.is_some_and(|(_, s)| s.committed.keys().all(|p| self.part_path(*p).is_file()) && dir.is_dir());
            if intact {
                self.append_ledger(&abandoned, None)?;
                return Ok(true);
            }
            std::fs::create_dir_all(&dir).map_err(|e| io_err("create the directory", &dir, e))?;
            self.append_ledger(&abandoned, Some(&self.key.run_id))?;
            return Ok(false);
        }
        let mut rows = abandoned;
        rows.push(prep.start.clone());
        self.append_ledger(&rows, None)?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create the directory", &dir, e))?;
        Ok(true)
    }

    /// Writes one partition's part and records it.
    fn write_partition(
        &self,
        partition: usize,
        detail: &str,
        next: &mut dyn FnMut() -> Result<Option<RecordBatch>>,
        on_rows: &dyn Fn(u64),
    ) -> Result<u64> {
        let path = self.part_path(partition);
        let mut writer = FileWriter::create_part(&self.endpoint, &path.display().to_string(), &self.schema)?;
        let mut checksum = RowChecksum::default();
        while let Some(batch) = next()? {
            writer.write(&batch)?;
            checksum.add_batch(&batch)?;
            on_rows(batch.num_rows() as u64);
        }
        writer.close()?.publish()?;
        let row = self.key.row(Event::Partition, partition as i64, detail, checksum.rows(), &checksum.hex());
        self.append_ledger(&[row], None)?;
        Ok(checksum.rows())
    }

    /// Joins the recorded parts into the target and records `publish`.
    fn publish(&self, row: &LedgerRow) -> Result<()> {
        let ledger = self.read_ledger()?;
        let state = runs_of(&ledger, &self.key.sink)
            .into_iter()
            .find(|(id, _)| *id == self.key.run_id)
            .map(|(_, s)| s)
            .unwrap_or_default();
        let parts: Vec<PathBuf> = state.committed.keys().map(|p| self.part_path(*p)).collect();
        let target = self.target.display().to_string();
        if self.endpoint.backend == Backend::Parquet && !parts.is_empty() {
            let temp = PathBuf::from(format!("{target}.flow-tmp"));
            join_parquet(&parts, &temp)?;
            std::fs::rename(&temp, &self.target)
                .map_err(|e| io_err("move the finished file into place at", &self.target, e))?;
            self.append_ledger(std::slice::from_ref(row), None)?;
            self.remove_work_files();
            return Ok(());
        }
        let mut writer = FileWriter::create(&self.endpoint, &target, &self.schema)?;
        // A target with no rows still gets its CSV header or Parquet schema.
        writer.write(&RecordBatch::new_empty(self.schema.clone()))?;
        for part in &parts {
            match self.endpoint.backend {
                Backend::Csv => {
                    // CSV parts have no header: their bytes follow the header the writer wrote.
                    let bytes = std::fs::read(part).map_err(|e| io_err("read", part, e))?;
                    writer.write_raw_csv(&bytes)?;
                }
                Backend::Parquet => {
                    let file = File::open(part).map_err(|e| io_err("open", part, e))?;
                    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                        .and_then(|b| b.build())
                        .map_err(|e| io_err("read", part, e))?;
                    for batch in reader {
                        writer.write(&batch.map_err(|e| io_err("read", part, e))?)?;
                    }
                }
                other => {
                    return Err(DataFusionError::Internal(format!("{} parts cannot be joined", other.name())));
                }
            }
        }
        writer.close()?.publish()?;
        self.append_ledger(std::slice::from_ref(row), None)?;
        self.remove_work_files();
        Ok(())
    }
}

impl PartedFileSink {
    /// After publishing: the run's parts, the ledger's lock file and the temporary ledgers of
    /// writers killed between writing and renaming one. Best effort: leftovers only cost space.
    fn remove_work_files(&self) {
        let _ = std::fs::remove_dir_all(self.parts_dir(&self.key.run_id));
        let sidecar = self.sidecar();
        let _ = std::fs::remove_file(format!("{}.lock", sidecar.display()));
        let (Some(dir), Some(name)) = (sidecar.parent(), sidecar.file_name()) else { return };
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        let prefix = format!("{}.", name.to_string_lossy());
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&prefix) && file.ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Joins Parquet parts into one file by copying their encoded column chunks, row group by row
/// group: no decoding or re-compression, so the join costs little more than the bytes it copies.
/// The parts share one schema and key-value metadata (the Arrow schema), taken from the first.
fn join_parquet(parts: &[PathBuf], temp: &Path) -> Result<()> {
    use datafusion::parquet::column::writer::ColumnCloseResult;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use datafusion::parquet::file::writer::SerializedFileWriter;

    let open = |part: &PathBuf| -> Result<(File, SerializedFileReader<File>)> {
        let file = File::open(part).map_err(|e| io_err("open", part, e))?;
        let reader = SerializedFileReader::new(file.try_clone().map_err(|e| io_err("open", part, e))?)
            .map_err(|e| io_err("read", part, e))?;
        Ok((file, reader))
    };
    let (_, first) = open(&parts[0])?;
    let file_metadata = first.metadata().file_metadata();
    let schema = file_metadata.schema_descr().root_schema_ptr();
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(file_metadata.key_value_metadata().cloned())
        .build();
    let out = File::create(temp).map_err(|e| io_err("create", temp, e))?;
    let mut writer =
        SerializedFileWriter::new(out, schema, Arc::new(properties)).map_err(|e| io_err("write", temp, e))?;
    for part in parts {
        let (file, reader) = open(part)?;
        for group in reader.metadata().row_groups() {
            let mut group_writer = writer.next_row_group().map_err(|e| io_err("write", temp, e))?;
            for column in group.columns() {
                let close = ColumnCloseResult {
                    bytes_written: column.compressed_size() as u64,
                    rows_written: group.num_rows() as u64,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: None,
                    offset_index: None,
                };
                group_writer.append_column(&file, close).map_err(|e| io_err("join", part, e))?;
            }
            group_writer.close().map_err(|e| io_err("write", temp, e))?;
        }
    }
    let out = writer.into_inner().map_err(|e| io_err("finish", temp, e))?;
    out.sync_all().map_err(|e| io_err("finish", temp, e))
}
