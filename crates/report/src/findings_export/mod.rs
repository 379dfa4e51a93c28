//! Exporting the `findings` table for other tools: JSON lines or CSV as the table is,
//! OCSF 1.1.0 Detection Findings (Security Lake, SIEMs), or ASFF batches for Security
//! Hub's BatchImportFindings.

mod asff;
mod ocsf;
mod row;
mod title;

use std::fmt;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::str::FromStr;

pub use asff::{MAX_BATCH as ASFF_MAX_BATCH, SCHEMA_VERSION as ASFF_SCHEMA_VERSION};
pub use ocsf::OCSF_VERSION;
pub use row::{FindingRow, TargetKind};
pub use title::finding_title;

use crate::{OutputFormat, ReportError, open_dataset, query, write_batches};
use sessiontrail_ingest::canonical_json::Canonical;

/// The findings, every column of the schema (not the partition column `dt`), oldest
/// first.
const FINDINGS_SQL: &str = "SELECT finding_id, rule, severity, session_id, event_time, \
    account_id, region, target, principal_arn, permission_set, detail, evidence, \
    resolved_time, resolution FROM findings ORDER BY event_time, finding_id";

/// How [`export_findings`] writes findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingsFormat {
    /// The findings table as is, one JSON object per line (times RFC 3339 UTC).
    Jsonl,
    /// The findings table as is, CSV with a header row (text cells that would start a
    /// spreadsheet formula `'`-prefixed and quoted: [`crate::neutralise_formula`]).
    Csv,
    /// One OCSF 1.1.0 Detection Finding (class 2004) per line.
    Ocsf,
    /// One BatchImportFindings batch `{"Findings":[...]}` of at most 100 ASFF findings
    /// per line.
    Asff,
}

impl FindingsFormat {
    /// Every format, in the order of `--help`.
    pub const ALL: [FindingsFormat; 4] = [
        FindingsFormat::Jsonl,
        FindingsFormat::Csv,
        FindingsFormat::Ocsf,
        FindingsFormat::Asff,
    ];

    /// The name accepted by [`FromStr`] and printed by [`fmt::Display`].
    pub fn name(self) -> &'static str {
        match self {
            FindingsFormat::Jsonl => "jsonl",
            FindingsFormat::Csv => "csv",
            FindingsFormat::Ocsf => "ocsf",
            FindingsFormat::Asff => "asff",
        }
    }
}

impl fmt::Display for FindingsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FindingsFormat {
    type Err = ReportError;

    /// `jsonl`, `csv`, `ocsf` or `asff`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FindingsFormat::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ReportError::UnknownFindingsFormat(s.to_string()))
    }
}

/// Writes every finding of the dataset in `data` to `out` as `format`, oldest first,
/// and returns how many findings were written.
///
/// `jsonl` and `csv` are the findings table as `sessiontrail query --format json|csv`
/// prints it (a CSV of no findings is its header alone; its text cells go through
/// [`crate::neutralise_formula`] like every CSV the crate writes). `ocsf` writes one event per
/// line. `asff` writes one BatchImportFindings request body per line, each with at
/// most [`ASFF_MAX_BATCH`] findings (no line when there are no findings); a finding
/// without an account or region, or with an unknown severity, cannot be expressed in
/// ASFF and is an error ([`ReportError::InvalidFinding`]) before anything is written.
pub async fn export_findings(
    data: &Path,
    format: FindingsFormat,
    out: &mut impl Write,
) -> Result<usize, ReportError> {
    let ctx = open_dataset(data).await?;
    let batches = query(&ctx, FINDINGS_SQL).await?;
    let count = batches.iter().map(|batch| batch.num_rows()).sum();
    let write_failed = |source| ReportError::WriteFindings {
        format: format.name(),
        source,
    };
    match format {
        FindingsFormat::Jsonl => write_batches(&batches, OutputFormat::Json, out)?,
        FindingsFormat::Csv => write_batches(&batches, OutputFormat::Csv, out)?,
        FindingsFormat::Ocsf | FindingsFormat::Asff => {
            let rows = row::rows_of(&batches).map_err(|source| ReportError::Query {
                query: format!("the {format} findings export"),
                source: Box::new(source.into()),
            })?;
            let lines = match format {
                FindingsFormat::Ocsf => rows.iter().map(ocsf::event).collect(),
                _ => asff_batches(&rows)?,
            };
            let mut writer = BufWriter::new(&mut *out);
            for line in lines {
                // Keys sorted at every depth, whatever serde_json's features.
                serde_json::to_writer(&mut writer, &Canonical(&line))
                    .map_err(|e| write_failed(std::io::Error::other(e)))?;
                writer.write_all(b"\n").map_err(write_failed)?;
            }
            writer.flush().map_err(write_failed)?;
        }
    }
    Ok(count)
}

/// The ASFF findings of `rows` in request bodies of at most [`ASFF_MAX_BATCH`].
fn asff_batches(rows: &[FindingRow]) -> Result<Vec<serde_json::Value>, ReportError> {
    let findings = rows
        .iter()
        .map(asff::finding)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(findings
        .chunks(ASFF_MAX_BATCH)
        .map(|chunk| serde_json::json!({ "Findings": chunk }))
        .collect())
}
