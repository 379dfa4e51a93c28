//! Opening the attributed dataset (`DATA/sessions/`, `DATA/findings/`, `DATA/rejects/`)
//! as SQL tables.
//!
//! Every table is Hive-partitioned listing tables over Parquet files with the partition
//! column `dt` (`Utf8`, `YYYY-MM-DD`), registered with the explicit schemas of
//! [`sessiontrail_correlate::schema`]: a table whose folder is empty or missing is an
//! empty table with the right columns, so every query runs on a fresh dataset.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use sessiontrail_correlate::schema::{
    evidence_schema, findings_schema, rejects_schema, sessions_schema,
};

use crate::ReportError;

/// Name of the Hive partition column of every table (the folder `dt=YYYY-MM-DD`).
pub const PARTITION_COLUMN: &str = "dt";

/// The tables of the dataset: SQL name (also the folder name) and file schema. The one
/// list of them: what [`open_dataset`] registers and what a copy of an `s3://` dataset
/// downloads.
///
/// - `sessions`: one row per session, `dt` the UTC date of `start_time`;
/// - `findings`: one row per finding, `dt` the UTC date of `event_time`;
/// - `rejects`: one row per input record that could not be read, `dt` the UTC date of
///   the `--as-of` of the run that read it;
/// - `evidence`: one row per CloudTrail log file checked against its digests
///   (`correlate --verify`), `dt` the UTC date of the time in the file's name.
pub fn tables() -> [(&'static str, SchemaRef); 4] {
    [
        ("sessions", sessions_schema()),
        ("findings", findings_schema()),
        ("rejects", rejects_schema()),
        ("evidence", evidence_schema()),
    ]
}

/// Which partitions of one table something reads: every one (`days: None`), or those
/// whose `dt` lies within `days` (first and last day included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TablePartitions {
    /// The table (one of [`tables`]).
    pub table: &'static str,
    /// The first and last `dt` read; None: every partition.
    pub days: Option<(NaiveDate, NaiveDate)>,
}

impl TablePartitions {
    /// Whether the partition `dt` of this table is read.
    pub fn contains(&self, dt: NaiveDate) -> bool {
        self.days
            .is_none_or(|(first, last)| (first..=last).contains(&dt))
    }
}

/// Every partition of every table of [`tables`]: what `sessiontrail query` and
/// `sessiontrail findings` read.
pub fn every_partition() -> Vec<TablePartitions> {
    tables()
        .into_iter()
        .map(|(table, _)| TablePartitions { table, days: None })
        .collect()
}

/// Opens the dataset written by `sessiontrail correlate --out DATA`, registering the
/// tables of [`tables`] (`sessions` from `DATA/sessions/dt=*/*.parquet`, `findings`,
/// `rejects` likewise), each with the extra column `dt`.
///
/// Files are listed when a query runs, not here. `DATA` itself must be an existing
/// folder ([`ReportError::MissingData`] otherwise); its `sessions/`, `findings/` and
/// `rejects/` may be missing or empty (empty tables: a dataset that never rejected a
/// record has no `rejects/` at all).
pub async fn open_dataset(data: &Path) -> Result<SessionContext, ReportError> {
    let root = match std::fs::metadata(data) {
        Ok(meta) if meta.is_dir() => {
            std::fs::canonicalize(data).map_err(|source| ReportError::DataIo {
                path: data.to_path_buf(),
                source,
            })?
        }
        Ok(_) => {
            return Err(ReportError::NotADirectory {
                path: data.to_path_buf(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ReportError::MissingData {
                path: data.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ReportError::DataIo {
                path: data.to_path_buf(),
                source,
            });
        }
    };

    let ctx = SessionContext::new();
    for (table, schema) in tables() {
        let folder = root.join(table);
        let register = |source: DataFusionError| ReportError::Register {
            table,
            path: folder.clone(),
            source: Box::new(source),
        };
        let url = folder_url(&folder).map_err(register)?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Utf8)]);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let provider = ListingTable::try_new(config).map_err(register)?;
        ctx.register_table(table, Arc::new(provider))
            .map_err(register)?;
    }
    Ok(ctx)
}

/// The `file://` URL of a local folder, with a trailing `/` so that it is listed as a
/// folder even when it does not exist yet.
///
/// Built by hand (percent-encoding every byte outside the unreserved set) rather than
/// with [`ListingTableUrl::parse`] on the bare path, which would read `*`, `?` and `[`
/// in a folder name as a glob.
#[cfg(unix)]
fn folder_url(folder: &Path) -> Result<ListingTableUrl, DataFusionError> {
    use std::os::unix::ffi::OsStrExt;

    let mut url = String::from("file://");
    for &byte in folder.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    if !url.ends_with('/') {
        url.push('/');
    }
    ListingTableUrl::parse(url)
}

#[cfg(not(unix))]
fn folder_url(folder: &Path) -> Result<ListingTableUrl, DataFusionError> {
    let mut path = folder.as_os_str().to_os_string();
    path.push(std::path::MAIN_SEPARATOR_STR);
    let path = std::path::PathBuf::from(path);
    let text = path.to_str().ok_or_else(|| {
        DataFusionError::Configuration(format!("{} is not valid UTF-8", path.display()))
    })?;
    ListingTableUrl::parse(text)
}
