//! The Parquet dataset on disk: Hive partitions `TABLE/dt=YYYY-MM-DD/part-0.parquet`.
//!
//! A partition is rewritten whole when a run changes any of its rows: the new file is
//! written beside the dataset (`OUT/.tmp/`) and renamed over the old one, so a reader
//! sees the old file or the new one, never half of one. A rewrite that would produce
//! the same bytes leaves the file untouched.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

use crate::session::session_key;

pub const PART_FILE: &str = "part-0.parquet";

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: ParquetError,
    },
    #[error("{path}: {source}")]
    Arrow {
        path: PathBuf,
        #[source]
        source: ArrowError,
    },
    #[error("{path}: the file's columns do not match the {table} schema of this version")]
    Schema { path: PathBuf, table: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One table of the dataset (`sessions`, `findings`, `rejects`) under `OUT`.
#[derive(Debug, Clone)]
pub struct Table {
    pub root: PathBuf,
    pub name: &'static str,
    pub schema: SchemaRef,
}

impl Table {
    pub fn new(out: &Path, name: &'static str, schema: SchemaRef) -> Self {
        Table {
            root: out.to_path_buf(),
            name,
            schema,
        }
    }

    pub fn partition_dir(&self, dt: &str) -> PathBuf {
        self.root.join(self.name).join(format!("dt={dt}"))
    }

    /// All rows of a partition (empty when it does not exist).
    pub fn read_partition(&self, dt: &str) -> Result<RecordBatch, DatasetError> {
        let dir = self.partition_dir(dt);
        let mut batches = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
                .collect(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => return Err(io(&dir)(err)),
        };
        files.sort();
        for path in files {
            let file = File::open(&path).map_err(io(&path))?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .map_err(|source| DatasetError::Parquet {
                    path: path.clone(),
                    source,
                })?;
            for batch in reader {
                let batch = batch.map_err(|source| DatasetError::Arrow {
                    path: path.clone(),
                    source,
                })?;
                if batch.schema().fields() != self.schema.fields() {
                    return Err(DatasetError::Schema {
                        path,
                        table: self.name.to_string(),
                    });
                }
                batches.push(batch);
            }
        }
        concat_batches(&self.schema, &batches)
            .map_err(|source| DatasetError::Arrow { path: dir, source })
    }

    /// Replaces a partition's content; an empty batch removes the partition. Returns
    /// whether anything on disk changed.
    pub fn write_partition(&self, dt: &str, batch: &RecordBatch) -> Result<bool, DatasetError> {
        let dir = self.partition_dir(dt);
        let target = dir.join(PART_FILE);
        if batch.num_rows() == 0 {
            return match std::fs::remove_file(&target) {
                Ok(()) => {
                    let _ = std::fs::remove_dir(&dir);
                    Ok(true)
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
                Err(err) => Err(io(&target)(err)),
            };
        }
        let bytes = encode_parquet(batch).map_err(|source| DatasetError::Parquet {
            path: target.clone(),
            source,
        })?;
        if std::fs::read(&target).is_ok_and(|old| old == bytes) {
            return Ok(false);
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        write_atomically(&self.root, &target, &bytes)?;
        Ok(true)
    }
}

/// Writes `bytes` to a temporary file under `OUT/.tmp/`, syncs it, and renames it to
/// `target`.
pub fn write_atomically(out: &Path, target: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    use std::io::Write;
    let tmp_dir = out.join(".tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(io(&tmp_dir))?;
    let tmp = tmp_dir.join(format!(
        "{}.{}",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file"),
        std::process::id()
    ));
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, target).map_err(io(target))?;
    Ok(())
}

pub fn encode_parquet(batch: &RecordBatch) -> Result<Vec<u8>, ParquetError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("sessiontrail".to_string())
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(bytes)
}

/// Keeps the rows for which `keep(row)` is true.
pub fn retain_rows(
    batch: &RecordBatch,
    keep: impl Fn(usize) -> bool,
) -> Result<RecordBatch, ArrowError> {
    let mask: BooleanArray = (0..batch.num_rows()).map(|i| Some(keep(i))).collect();
    filter_record_batch(batch, &mask)
}

/// The session key of every row of a `sessions` batch.
pub fn session_keys(batch: &RecordBatch) -> Vec<String> {
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .map(|c| c.as_string::<i32>().clone())
    };
    let (Some(ids), Some(statuses), Some(events), Some(requests)) = (
        text("session_id"),
        text("status"),
        text("cloudtrail_event_id"),
        text("broker_request_id"),
    ) else {
        return vec![String::new(); batch.num_rows()];
    };
    (0..batch.num_rows())
        .map(|i| {
            session_key(
                get(&ids, i),
                statuses.value(i),
                get(&events, i),
                get(&requests, i),
            )
        })
        .collect()
}

fn get(array: &StringArray, row: usize) -> Option<&str> {
    (!array.is_null(row)).then(|| array.value(row))
}

/// The given string column of every row.
pub fn string_column(batch: &RecordBatch, name: &str) -> Vec<String> {
    match batch.column_by_name(name) {
        Some(column) => {
            let array = column.as_string::<i32>();
            (0..batch.num_rows())
                .map(|i| array.value(i).to_string())
                .collect()
        }
        None => vec![String::new(); batch.num_rows()],
    }
}

/// Sorts a batch by the named columns, ascending, nulls first.
pub fn sort_batch(batch: &RecordBatch, columns: &[&str]) -> Result<RecordBatch, ArrowError> {
    if batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    let sort_columns: Vec<SortColumn> = columns
        .iter()
        .filter_map(|name| batch.column_by_name(name))
        .map(|values| SortColumn {
            values: values.clone(),
            options: None,
        })
        .collect();
    let indices = lexsort_to_indices(&sort_columns, None)?;
    take_record_batch(batch, &indices)
}

/// The `dt=` partitions present under a table.
pub fn list_partitions(out: &Path, table: &str) -> BTreeSet<String> {
    let dir = out.join(table);
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_prefix("dt=")
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_empty(batch: &RecordBatch) -> bool {
    batch.num_rows() == 0 || batch.columns().iter().all(|c| c.is_empty())
}
