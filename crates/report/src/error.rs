//! The one error type of the crate: every variant names the file, folder or query at fault.

use std::path::PathBuf;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;

/// Why opening the dataset, running a query or writing its result failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The `--data` folder does not exist.
    #[error("data folder {} does not exist", path.display())]
    MissingData {
        /// The folder as given.
        path: PathBuf,
    },

    /// The `--data` path exists but is not a folder.
    #[error("data folder {} is not a directory", path.display())]
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },

    /// The `--data` folder could not be inspected (permissions, I/O).
    #[error("cannot read data folder {}: {source}", path.display())]
    DataIo {
        /// The folder as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A table could not be registered over its folder.
    #[error("cannot register table `{table}` over {}: {source}", path.display())]
    Register {
        /// `sessions` or `findings`.
        table: &'static str,
        /// The table's folder.
        path: PathBuf,
        /// The underlying error.
        source: Box<DataFusionError>,
    },

    /// `--name` named no query in `queries/`.
    #[error("unknown query `{name}`; available queries: {}", available.join(", "))]
    UnknownQuery {
        /// The name asked for.
        name: String,
        /// Every name that exists, sorted.
        available: Vec<&'static str>,
    },

    /// Planning or running a query failed (SQL syntax, unknown column, unreadable file...).
    #[error("{query} failed: {source}")]
    Query {
        /// Which query: `query `unattributed` (queries/unattributed.sql)` or the ad-hoc SQL.
        query: String,
        /// The underlying error.
        source: Box<DataFusionError>,
    },

    /// An output format name that is not `table`, `csv` or `json`.
    #[error("unknown output format `{0}`; expected one of: table, csv, json")]
    UnknownFormat(String),

    /// Rendering the result in the chosen format failed.
    #[error("cannot render the result as {format}: {source}")]
    Render {
        /// The format being written.
        format: crate::OutputFormat,
        /// The underlying error.
        source: ArrowError,
    },

    /// Writing the rendered result failed (closed pipe, full disk...).
    #[error("cannot write the {format} output: {source}")]
    Write {
        /// The format being written.
        format: crate::OutputFormat,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A report month that is not `YYYY-MM`.
    #[error("invalid month `{month}`: expected YYYY-MM, e.g. 2026-02")]
    InvalidMonth {
        /// The text as given.
        month: String,
    },

    /// A minimum attribution rate that is not a fraction between 0 and 1.
    #[error("invalid minimum attribution rate {value}: expected a fraction from 0 to 1, e.g. 0.95")]
    InvalidThreshold {
        /// The value as given.
        value: f64,
    },

    /// A report file (or its folder) could not be written.
    #[error("cannot write {}: {source}", path.display())]
    WriteReport {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A findings export format name that is not `jsonl`, `csv`, `ocsf` or `asff`.
    #[error("unknown findings format `{0}`; expected one of: jsonl, csv, ocsf, asff")]
    UnknownFindingsFormat(String),

    /// Writing the findings export failed (closed pipe, full disk...).
    #[error("cannot write the {format} findings export: {source}")]
    WriteFindings {
        /// The export format.
        format: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
}
