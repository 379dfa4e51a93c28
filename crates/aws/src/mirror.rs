//! A local copy of an S3 dataset's Parquet tables, for DataFusion queries and the
//! monthly report (Athena reads it in place; see deploy/).
//!
//! What is copied is decided by the reader, not here: every partition of every table
//! for `query` and `findings` ([`sessiontrail_report::every_partition`]), the
//! partitions a month's report reads for `report` and the Lambda
//! ([`sessiontrail_report::partitions_needed`]).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sessiontrail_correlate::storage::StorageError;
use sessiontrail_report::TablePartitions;

use crate::s3::S3;
use crate::s3_url::S3Url;

/// Downloads the Parquet files of the tables and partitions of `wanted` under `root`
/// into `into` (the same layout). Returns the number of files. Keys that are not
/// `TABLE/dt=YYYY-MM-DD/NAME.parquet` are skipped, so nothing from the bucket can be
/// written outside `into`. A table without objects is no error (an empty table).
pub async fn mirror_dataset(
    s3: &S3,
    root: &S3Url,
    into: &Path,
    wanted: &[TablePartitions],
) -> Result<usize, StorageError> {
    let base = root.folder();
    let mut files = 0;
    for partitions in wanted {
        let table = partitions.table;
        let keys = s3.list(&root.with_key(&format!("{base}{table}/"))).await?;
        for key in keys {
            let Some(relative) = key.strip_prefix(&base) else {
                continue;
            };
            let Some((dt, local)) = local_path(relative, table) else {
                continue;
            };
            if !partitions.contains(dt) {
                continue;
            }
            let url = root.with_key(&key);
            let Some(stored) = s3.get(&url).await? else {
                continue;
            };
            let path = into.join(local);
            let io = |source| StorageError::Io {
                location: path.display().to_string(),
                source,
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            std::fs::write(&path, &stored.bytes).map_err(io)?;
            files += 1;
        }
    }
    Ok(files)
}

/// `sessions/dt=2026-02-01/part-0.parquet` -> (its date, the same relative path).
fn local_path(relative: &str, table: &str) -> Option<(NaiveDate, PathBuf)> {
    let mut parts = relative.split('/');
    let (t, partition, name) = (parts.next()?, parts.next()?, parts.next()?);
    if t != table || parts.next().is_some() || !name.ends_with(".parquet") || name.starts_with('.')
    {
        return None;
    }
    let dt = NaiveDate::parse_from_str(partition.strip_prefix("dt=")?, "%Y-%m-%d").ok()?;
    Some((dt, Path::new(t).join(partition).join(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_partition_files_are_copied() {
        let (dt, path) = local_path("sessions/dt=2026-02-01/part-0.parquet", "sessions").unwrap();
        assert_eq!(dt, NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!(path, Path::new("sessions/dt=2026-02-01/part-0.parquet"));
        for bad in [
            "sessions/dt=../part-0.parquet",
            "sessions/dt=2026-02-01/../../x.parquet",
            "sessions/dt=2026-02-01/sub/part-0.parquet",
            "sessions/dt=2026-02-01/.part-0.parquet",
            "sessions/dt=2026-02-01/part-0.txt",
            "findings/dt=2026-02-01/part-0.parquet",
        ] {
            assert!(local_path(bad, "sessions").is_none(), "{bad}");
        }
    }
}
