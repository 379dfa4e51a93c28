//! The monthly report: every figure a compliance review needs for one UTC calendar
//! month, computed by the SQL of `queries/report/` and written as `report.html` (a
//! self-contained page with charts), `report.md` and `report.json`.
//!
//! [`write_monthly_report`] is the whole job; [`compute_monthly_report`] computes the figures
//! without writing, and [`render_html`], [`render_markdown`] and [`render_json`] turn
//! them into the three files ([`rendered_files`]: all three).
//!
//! A report says whether it is final ([`Finality`]): computed at least the policy's
//! `grace` after the month's end, with no session of the month still pending. One
//! computed before that is provisional, and each of the three files says so and why.
//! The report reads the month's partitions and the whole previous month's
//! ([`partitions_needed`]), which is what a copy of an `s3://` dataset must hold.

mod display;
mod escape;
mod figures;
mod finality;
mod html;
mod json;
mod markdown;
mod month;
mod queries;
mod summary;
mod svg;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sessiontrail_correlate::storage::replace_file;

pub use figures::{Column, ColumnKind, Figure};
pub use finality::{Finality, duration_text};
pub use json::REPORT_JSON_VERSION;
pub use month::Month;
pub(crate) use queries::run_bound_query;
pub use queries::{ReportQuery, partitions_needed, report_queries, report_query};
pub use summary::{Summary, Verdict};

use crate::{ReportError, open_dataset};

/// The file name of the HTML report in the output folder.
pub const HTML_FILE: &str = "report.html";
/// The file name of the Markdown report in the output folder.
pub const MARKDOWN_FILE: &str = "report.md";
/// The file name of the JSON report in the output folder.
pub const JSON_FILE: &str = "report.json";

/// The policy's `[broker] grace` when no policy is given (the default of
/// `sessiontrail_correlate::Policy`; a test holds the two equal).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30 * 60);

/// How a report is computed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportSettings {
    /// The minimum attribution rate of the verdict, a fraction between 0 and 1
    /// (`0.95`); None: no verdict.
    pub min_attribution_rate: Option<f64>,
    /// The instant the report is computed at: its `generated_at`, and the instant its
    /// finality is judged at. None: the clock. (The same dataset and `as_of` give the
    /// same bytes.)
    pub as_of: Option<DateTime<Utc>>,
    /// The policy's `[broker] grace`: how long after the month's end its sessions may
    /// still be pending.
    pub grace: Duration,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            min_attribution_rate: None,
            as_of: None,
            grace: DEFAULT_GRACE,
        }
    }
}

impl ReportSettings {
    /// The default settings with the verdict's threshold `min_attribution_rate`.
    pub fn with_threshold(min_attribution_rate: Option<f64>) -> Self {
        ReportSettings {
            min_attribution_rate,
            ..Default::default()
        }
    }
}

/// The report of one month: its figures (one per report query, in report order) and
/// the summary read from them.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyReport {
    /// The month covered.
    pub month: Month,
    /// When the report was computed, RFC 3339 UTC (seconds).
    pub generated_at: String,
    /// The minimum attribution rate the verdict is against, a fraction (0.95).
    pub min_attribution_rate: Option<f64>,
    /// Whether the figures are final, and why not.
    pub finality: Finality,
    /// The headline figures and the verdict.
    pub summary: Summary,
    /// Every figure, in the order of [`report_queries`].
    pub figures: Vec<Figure>,
}

impl MonthlyReport {
    /// The figure of the report query `name` (`sessions_by_status`).
    pub fn figure(&self, name: &str) -> Option<&Figure> {
        self.figures.iter().find(|figure| figure.name() == name)
    }

    /// Whether no figure of the report can change any more (see [`Finality`]).
    pub fn is_final(&self) -> bool {
        self.finality.is_final()
    }

    /// Whether the month had no session at all.
    pub fn has_no_sessions(&self) -> bool {
        self.summary.sessions == 0
    }

    /// The month for a human: `February 2026 (2026-02)`.
    pub fn month_label(&self) -> String {
        format!(
            "{} ({})",
            self.month.first_day().format("%B %Y"),
            self.month
        )
    }
}

/// Computes the report of `month` (`YYYY-MM`) over the dataset in `data`, and writes
/// `report.html`, `report.md` and `report.json` into `out_dir` (created if missing;
/// each file written beside its final name and renamed over it).
///
/// `settings.min_attribution_rate` is a fraction between 0 and 1 (`0.95`); with it the
/// report gives a PASS/FAIL verdict, without it it says that no threshold was set. A
/// report that is not final yet ([`Finality`]) is written all the same, and says on its
/// face that it is provisional and why.
///
/// A month with no sessions gives a report saying so, not an error. Errors: a month
/// that is not `YYYY-MM` ([`ReportError::InvalidMonth`]), a threshold outside 0..=1
/// ([`ReportError::InvalidThreshold`]), a missing data folder, a failing query, or a
/// file that cannot be written ([`ReportError::WriteReport`]).
pub async fn write_monthly_report(
    data: &Path,
    month: &str,
    out_dir: &Path,
    settings: &ReportSettings,
) -> Result<MonthlyReport, ReportError> {
    let month: Month = month.parse()?;
    let report = compute_monthly_report(data, month, settings).await?;
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::WriteReport {
        path: out_dir.to_path_buf(),
        source,
    })?;
    // report.json last: a reader that sees it sees the other two.
    for (name, text) in rendered_files(&report) {
        write_atomically(&out_dir.join(name), text.as_bytes())?;
    }
    Ok(report)
}

/// Computes the report of `month` over the dataset in `data` without writing it.
pub async fn compute_monthly_report(
    data: &Path,
    month: Month,
    settings: &ReportSettings,
) -> Result<MonthlyReport, ReportError> {
    let min_attribution_rate = settings.min_attribution_rate;
    if let Some(value) = min_attribution_rate
        && !(0.0..=1.0).contains(&value)
    {
        return Err(ReportError::InvalidThreshold { value });
    }
    let as_of = settings.as_of.unwrap_or_else(Utc::now);
    let ctx = open_dataset(data).await?;
    let figures = figures::compute_figures(&ctx, month).await?;
    let summary = Summary::from_figures(&figures, min_attribution_rate);
    let finality = Finality::of(month, as_of, settings.grace, summary.pending);
    Ok(MonthlyReport {
        month,
        generated_at: finality::rfc3339(as_of),
        min_attribution_rate,
        finality,
        summary,
        figures,
    })
}

/// The three files of a report, file name and content, `report.json` last (the one
/// whose presence says the report is complete).
pub fn rendered_files(report: &MonthlyReport) -> [(&'static str, String); 3] {
    let json =
        sessiontrail_ingest::canonical_json::to_canonical_string_pretty(&render_json(report));
    [
        (HTML_FILE, render_html(report)),
        (MARKDOWN_FILE, render_markdown(report)),
        (JSON_FILE, format!("{json}\n")),
    ]
}

/// `report.html`: one self-contained page.
pub fn render_html(report: &MonthlyReport) -> String {
    html::render(report)
}

/// `report.md`.
pub fn render_markdown(report: &MonthlyReport) -> String {
    markdown::render(report)
}

/// `report.json`, as a JSON value (written with its keys sorted: see
/// [`rendered_files`]).
pub fn render_json(report: &MonthlyReport) -> serde_json::Value {
    json::render(report)
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed over
/// `path`: a reader sees the old file or the new one, never half of one
/// ([`replace_file`], the same way a dataset's files are replaced).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let mut temporary = PathBuf::from(path);
    let name = format!(
        ".{}.tmp",
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    temporary.set_file_name(name);
    replace_file(&temporary, path, bytes).map_err(|source| ReportError::WriteReport {
        path: path.to_path_buf(),
        source,
    })
}
