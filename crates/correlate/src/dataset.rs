//! The Parquet dataset on disk: Hive partitions `TABLE/dt=YYYY-MM-DD/part-0.parquet`.
//!
//! A partition is rewritten whole when a run changes any of its rows, by one atomic
//! replace in its [`Storage`] (a rename locally, a single PUT in S3), so a reader sees
//! the old file or the new one, never half of one. A rewrite that would produce the
//! same bytes leaves the file untouched.

use std::collections::BTreeSet;

use bytes::Bytes;
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
use crate::storage::{Storage, StorageError};

pub const PART_FILE: &str = "part-0.parquet";

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{location}: {source}")]
    Parquet {
        location: String,
        #[source]
        source: ParquetError,
    },
    #[error("{location}: {source}")]
    Arrow {
        location: String,
        #[source]
        source: ArrowError,
    },
    #[error("{location}: the file's columns do not match the {table} schema of this version")]
    Schema { location: String, table: String },
}

/// One table of the dataset (`sessions`, `findings`, `rejects`) in a storage.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    pub storage: &'a dyn Storage,
    pub name: &'static str,
    pub schema: SchemaRef,
}

impl<'a> Table<'a> {
    pub fn new(storage: &'a dyn Storage, name: &'static str, schema: SchemaRef) -> Self {
        Table {
            storage,
            name,
            schema,
        }
    }

    /// The key prefix of a partition (`sessions/dt=2026-02-01/`).
    pub fn partition_prefix(&self, dt: &str) -> String {
        format!("{}/dt={dt}/", self.name)
    }

    /// All rows of a partition (empty when it does not exist).
    pub fn read_partition(&self, dt: &str) -> Result<RecordBatch, DatasetError> {
        Ok(self.read_partition_for_rewrite(dt)?.0)
    }

    /// All rows of a partition and the bytes of its part file (when there is one), to
    /// hand to [`Table::write_partition`] so identical content is not rewritten and
    /// not read twice.
    pub fn read_partition_for_rewrite(
        &self,
        dt: &str,
    ) -> Result<(RecordBatch, Option<Bytes>), DatasetError> {
        let prefix = self.partition_prefix(dt);
        let part_key = format!("{prefix}{PART_FILE}");
        let mut part_bytes = None;
        let mut batches = Vec::new();
        let keys = self.storage.list(&prefix)?;
        for key in keys.iter().filter(|k| k.ends_with(".parquet")) {
            let location = self.storage.locate(key);
            let Some(stored) = self.storage.get(key)? else {
                continue;
            };
            let bytes = Bytes::from(stored.bytes);
            if *key == part_key {
                part_bytes = Some(bytes.clone());
            }
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .and_then(|b| b.build())
                .map_err(|source| DatasetError::Parquet {
                    location: location.clone(),
                    source,
                })?;
            for batch in reader {
                let batch = batch.map_err(|source| DatasetError::Arrow {
                    location: location.clone(),
                    source,
                })?;
                let Some(batch) = upgrade(&batch, &self.schema) else {
                    return Err(DatasetError::Schema {
                        location,
                        table: self.name.to_string(),
                    });
                };
                batches.push(batch);
            }
        }
        let rows =
            concat_batches(&self.schema, &batches).map_err(|source| DatasetError::Arrow {
                location: self.storage.locate(&prefix),
                source,
            })?;
        Ok((rows, part_bytes))
    }

    /// Replaces a partition's content; an empty batch removes the partition. `current`
    /// is the part file's bytes as read ([`Table::read_partition_for_rewrite`]): the
    /// same content is not written again. Returns whether anything in storage changed.
    pub fn write_partition(
        &self,
        dt: &str,
        batch: &RecordBatch,
        current: Option<&[u8]>,
    ) -> Result<bool, DatasetError> {
        let key = format!("{}{PART_FILE}", self.partition_prefix(dt));
        if batch.num_rows() == 0 {
            if current.is_none() {
                return Ok(false);
            }
            self.storage.delete(&key)?;
            return Ok(true);
        }
        let bytes = encode_parquet(batch).map_err(|source| DatasetError::Parquet {
            location: self.storage.locate(&key),
            source,
        })?;
        if current.is_some_and(|old| old == bytes.as_slice()) {
            return Ok(false);
        }
        self.storage.put(&key, &bytes)?;
        Ok(true)
    }
}

/// A batch written by an earlier version: its columns are the first ones of `schema`
/// and the missing ones are nullable (columns are only ever added at the end); they
/// read as nulls. None when the columns differ otherwise.
fn upgrade(batch: &RecordBatch, schema: &SchemaRef) -> Option<RecordBatch> {
    let have = batch.schema();
    if have.fields() == schema.fields() {
        return Some(batch.clone());
    }
    let n = have.fields().len();
    if n > schema.fields().len()
        || have
            .fields()
            .iter()
            .zip(schema.fields())
            .any(|(a, b)| a != b)
        || schema.fields()[n..].iter().any(|f| !f.is_nullable())
    {
        return None;
    }
    let mut columns = batch.columns().to_vec();
    for field in &schema.fields()[n..] {
        columns.push(datafusion::arrow::array::new_null_array(
            field.data_type(),
            batch.num_rows(),
        ));
    }
    RecordBatch::try_new(schema.clone(), columns).ok()
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

/// A timestamp column's values in epoch milliseconds (None for nulls, or when the
/// column is missing or not a millisecond timestamp).
pub fn timestamp_column(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    use datafusion::arrow::datatypes::TimestampMillisecondType;
    match batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<TimestampMillisecondType>())
    {
        Some(array) => (0..batch.num_rows())
            .map(|i| (!array.is_null(i)).then(|| array.value(i)))
            .collect(),
        None => vec![None; batch.num_rows()],
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
pub fn list_partitions(
    storage: &dyn Storage,
    table: &str,
) -> Result<BTreeSet<String>, StorageError> {
    Ok(storage
        .list_folders(&format!("{table}/"))?
        .into_iter()
        .filter_map(|name| name.strip_prefix("dt=").map(str::to_string))
        .collect())
}

pub fn is_empty(batch: &RecordBatch) -> bool {
    batch.num_rows() == 0 || batch.columns().iter().all(|c| c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{sessions_schema, sessions_to_batch};
    use crate::session::{InBandSource, Session};
    use crate::status::SessionStatus;

    #[test]
    fn a_sessions_file_written_before_the_in_band_columns_reads_them_as_null() {
        let row = Session {
            session_id: Some("alice@example.com-z5ben3ohh9prb46i23lrren3xi".into()),
            status: SessionStatus::Attributed,
            start_time: 1_741_078_830_000,
            end_time: None,
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            target: Some("i-0a1b2c3d4e5f60718".into()),
            document_name: Some("SSMRunAs-Admin-Session".into()),
            via_broker: true,
            cloudtrail_event_id: Some("e1".into()),
            cloudtrail_principal_arn: None,
            original_principal_arn: None,
            original_user: Some("alice@example.com".into()),
            permission_set: Some("Admin".into()),
            expected_document: None,
            run_as: Some("admin".into()),
            broker_request_id: Some("r1".into()),
            source_ip: None,
            user_agent: Some("aws-sdk-rust".into()),
            in_band_identity: Some("alice@example.com".into()),
            in_band_source: Some(InBandSource::SourceIdentity),
            in_band_identity_store: None,
            cloudtrail_file: Some("AWSLogs/111122223333/CloudTrail/x.json.gz".into()),
            cloudtrail_byte_offset: Some(12),
            cloudtrail_evidence: Some(crate::evidence::LogFileStatus::Verified),
            broker_file: Some("broker/2026-02-01.jsonl".into()),
            broker_line: Some(7),
            reason: Some("OPS-42".into()),
        };
        let now = sessions_to_batch(&[row]).unwrap();
        // The columns up to user_agent, as files written before hold them.
        let old_columns: Vec<usize> = (0..=now.schema().index_of("user_agent").unwrap()).collect();
        let old = now.project(&old_columns).unwrap();
        let read = upgrade(&old, &sessions_schema()).unwrap();
        assert_eq!(read.schema(), sessions_schema());
        for name in [
            "in_band_identity",
            "in_band_source",
            "in_band_identity_store",
            "reason",
            "cloudtrail_file",
            "cloudtrail_byte_offset",
            "cloudtrail_evidence",
            "broker_file",
            "broker_line",
        ] {
            assert!(read.column_by_name(name).unwrap().is_null(0), "{name}");
        }
        assert_eq!(
            read.column_by_name("user_agent")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "aws-sdk-rust"
        );
        // Today's rows keep their values.
        let same = upgrade(&now, &sessions_schema()).unwrap();
        assert_eq!(
            same.column_by_name("in_band_source")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "source_identity"
        );
    }
}
