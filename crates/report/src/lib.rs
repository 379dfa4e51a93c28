//! SQL over the attributed dataset that `sessiontrail correlate` writes.
//!
//! [`open_dataset`] registers the tables `sessions`, `findings`, `rejects` and
//! `evidence` (Hive-partitioned Parquet under `DATA/<table>/dt=YYYY-MM-DD/`, with the
//! partition column `dt`) in a DataFusion [`SessionContext`]; [`run_query`]
//! runs one read-only SQL query over them; the named queries of the repository's
//! `queries/` folder are embedded ([`named_query`], [`named_queries`], [`description`]);
//! [`write_batches`] renders a result as a table, CSV or JSON lines (CSV with every
//! text cell that would start a spreadsheet formula neutralised: [`neutralise_formula`]).
//!
//! Three products are built on the same tables:
//!
//! - [`write_monthly_report`] (module [`mod@monthly_report`]): the compliance report of one
//!   UTC calendar month, every figure computed by an SQL file of `queries/report/`
//!   (listed by [`report_queries`]) with the month's bounds as bound parameters, and
//!   written as a self-contained `report.html` (inline SVG charts, sortable tables,
//!   print CSS), `report.md` and `report.json`, with a PASS/FAIL verdict against a
//!   minimum attribution rate.
//! - [`export_findings`] (module [`findings_export`]): the findings as JSON lines, CSV,
//!   OCSF 1.1.0 Detection Findings, or ASFF BatchImportFindings batches
//!   ([`FindingsFormat`]); [`export_findings_with_summary`] also says which findings
//!   ASFF could not express ([`FindingsExport`]).
//! - [`session_custody`] (module `custody`): one session's chain of custody (its row,
//!   the CloudTrail log file and byte offset of its record with that file's digest
//!   check, and the broker record's file and line) from [`CUSTODY_QUERY`]
//!   (`queries/evidence/session_custody.sql`), written by [`write_custody`].
//!
//! ```no_run
//! use std::path::Path;
//!
//! use sessiontrail_report::{OutputFormat, ReportError, named_query, run_query, write_batches};
//!
//! # async fn example() -> Result<(), ReportError> {
//! // `sessiontrail query --data out --name unattributed --format csv`
//! let batches = run_query(Path::new("out"), named_query("unattributed")?).await?;
//! write_batches(&batches, OutputFormat::Csv, &mut std::io::stdout().lock())?;
//!
//! // Ad-hoc SQL over the same tables.
//! let sql = "SELECT status, COUNT(*) AS sessions FROM sessions GROUP BY status ORDER BY status";
//! let batches = run_query(Path::new("out"), sql).await?;
//! write_batches(&batches, "table".parse()?, &mut std::io::stdout().lock())?;
//! # Ok(())
//! # }
//! ```
//!
//! ```no_run
//! use std::path::Path;
//!
//! use sessiontrail_report::{
//!     FindingsFormat, ReportError, ReportSettings, Verdict, export_findings_with_summary,
//! };
//! use sessiontrail_report::write_monthly_report;
//!
//! # async fn example() -> Result<(), ReportError> {
//! // `sessiontrail report --data out --month 2026-02 --out report/`
//! let settings = ReportSettings::with_threshold(Some(0.95));
//! let report = write_monthly_report(Path::new("out"), "2026-02", Path::new("report"), &settings)
//!     .await?;
//! if report.summary.verdict == Verdict::Fail {
//!     eprintln!("attribution rate below 95 %: {:?}", report.summary.attribution_rate);
//! }
//! if let Some(reason) = report.finality.provisional_reason() {
//!     eprintln!("provisional: {reason}");
//! }
//!
//! // `sessiontrail findings --data out --format asff`
//! let export =
//!     export_findings_with_summary(Path::new("out"), FindingsFormat::Asff, &mut std::io::stdout())
//!         .await?;
//! // "211 findings as asff", or which findings ASFF could not express, and why.
//! eprintln!("sessiontrail findings: {}", export.summary());
//! # Ok(())
//! # }
//! ```

mod csv_writer;
mod custody;
mod dataset;
mod error;
pub mod findings_export;
pub mod monthly_report;
mod named_query;
mod output;

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
pub use datafusion::prelude::SessionContext;

pub use csv_writer::{FORMULA_TRIGGERS, neutralise_formula};
pub use custody::{
    CUSTODY_QUERY, CUSTODY_QUERY_PATH, SessionCustody, session_custody, write_custody,
};
pub use dataset::{PARTITION_COLUMN, TablePartitions, every_partition, open_dataset, tables};
pub use error::ReportError;
pub use findings_export::{
    FindingsExport, FindingsFormat, SkippedFinding, export_findings, export_findings_with_summary,
};
pub use monthly_report::{
    Month, MonthlyReport, ReportSettings, Summary, Verdict, compute_monthly_report,
    partitions_needed, report_queries, write_monthly_report,
};
pub use named_query::{description, header_lines, name_of, named_queries, named_query};
pub use output::{OutputFormat, write_batches};

/// Runs one SQL query over the dataset in the folder `data` (see [`open_dataset`]).
///
/// Only queries are allowed: DDL, DML and statements such as `SET` or `COPY` are
/// refused. The result holds at least one batch (empty when there are no rows), so its
/// schema, and so a CSV header, is always known. An error names the query: the named
/// query whose text `sql` is, or the start of the ad-hoc SQL.
pub async fn run_query(data: &Path, sql: &str) -> Result<Vec<RecordBatch>, ReportError> {
    let ctx = open_dataset(data).await?;
    query(&ctx, sql).await
}

/// Runs the named query `name` over the dataset in `data` (`--name unattributed`).
pub async fn run_named_query(data: &Path, name: &str) -> Result<Vec<RecordBatch>, ReportError> {
    run_query(data, named_query(name)?).await
}

/// Runs one read-only SQL query in a context from [`open_dataset`] (to run several
/// queries over one listing of the dataset). Same contract as [`run_query`].
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, ReportError> {
    let failed = |source: DataFusionError| ReportError::Query {
        query: query_label(sql),
        source: Box::new(source),
    };
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let frame = ctx.sql_with_options(sql, read_only).await.map_err(failed)?;
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut batches = frame.collect().await.map_err(failed)?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

/// How an error names a query: `query `unattributed` (queries/unattributed.sql)`, or
/// `SQL "SELECT ..."` (its first 80 characters, on one line) for ad-hoc SQL.
fn query_label(sql: &str) -> String {
    if let Some(name) = name_of(sql) {
        return format!("query `{name}` (queries/{name}.sql)");
    }
    const MAX: usize = 80;
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("SQL \"{}...\"", &one_line[..cut]),
        None => format!("SQL \"{one_line}\""),
    }
}
