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

pub use asff::{
    MAX_BATCH as ASFF_MAX_BATCH, PARTITIONS as AWS_PARTITIONS,
    SCHEMA_VERSION as ASFF_SCHEMA_VERSION, Unexportable, is_account_id, is_region,
};
pub use ocsf::OCSF_VERSION;
pub use row::{FindingRow, Identified, Named, TargetKind};
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

/// What [`export_findings_with_summary`] did: how many findings the dataset holds, how
/// many were written, and each one left out and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingsExport {
    /// The format written.
    pub format: FindingsFormat,
    /// The findings of the dataset.
    pub findings: usize,
    /// The findings written (`findings` less `skipped`).
    pub written: usize,
    /// The findings the format cannot express, in the order of the export (only ASFF
    /// leaves any out).
    pub skipped: Vec<SkippedFinding>,
}

/// A finding left out of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFinding {
    /// Its `finding_id`.
    pub finding_id: String,
    /// Why.
    pub reason: Unexportable,
}

/// How many finding ids [`FindingsExport::summary`] names for each reason.
const NAMED_PER_REASON: usize = 3;

impl FindingsExport {
    /// One line for a human (the CLI's stderr): `211 findings as asff`, or with
    /// findings left out `209 of 211 findings as asff; 2 skipped, not expressible in
    /// ASFF: 1 with an account that is not 12 digits ("x-bad-account": account "12" is
    /// not 12 digits), 1 with no region ("x-no-region")`. Each reason names at most
    /// three findings (then `and N more`); ids and values are quoted and escaped.
    pub fn summary(&self) -> String {
        if self.skipped.is_empty() {
            return format!("{} findings as {}", self.written, self.format);
        }
        let mut kinds: Vec<(&'static str, Vec<&SkippedFinding>)> = Vec::new();
        for skipped in &self.skipped {
            let kind = skipped.reason.kind();
            match kinds.iter_mut().find(|(known, _)| *known == kind) {
                Some((_, list)) => list.push(skipped),
                None => kinds.push((kind, vec![skipped])),
            }
        }
        let reasons: Vec<String> = kinds
            .iter()
            .map(|(kind, list)| {
                let mut named: Vec<String> = list
                    .iter()
                    .take(NAMED_PER_REASON)
                    .map(|skipped| format!("{:?}: {}", skipped.finding_id, skipped.reason))
                    .collect();
                if list.len() > NAMED_PER_REASON {
                    named.push(format!("and {} more", list.len() - NAMED_PER_REASON));
                }
                format!("{} with {kind} ({})", list.len(), named.join("; "))
            })
            .collect();
        format!(
            "{} of {} findings as {}; {} skipped, not expressible in {}: {}",
            self.written,
            self.findings,
            self.format,
            self.skipped.len(),
            self.format.name().to_uppercase(),
            reasons.join(", ")
        )
    }
}

impl fmt::Display for FindingsExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// Writes every finding of the dataset in `data` to `out` as `format`, oldest first,
/// and returns how many findings were written ([`export_findings_with_summary`] also
/// says which were left out and why).
pub async fn export_findings(
    data: &Path,
    format: FindingsFormat,
    out: &mut impl Write,
) -> Result<usize, ReportError> {
    Ok(export_findings_with_summary(data, format, out)
        .await?
        .written)
}

/// Writes every finding of the dataset in `data` to `out` as `format`, oldest first,
/// and says how many were written and which were left out ([`FindingsExport`]; its
/// [`FindingsExport::summary`] is the line for a human).
///
/// `jsonl` and `csv` are the findings table as `sessiontrail query --format json|csv`
/// prints it (a CSV of no findings is its header alone; its text cells go through
/// [`crate::neutralise_formula`] like every CSV the crate writes). `ocsf` writes one
/// event per line. `asff` writes one BatchImportFindings request body per line, each
/// with at most [`ASFF_MAX_BATCH`] findings (no line when there are no findings); a
/// finding that ASFF cannot express ([`Unexportable`]: no account or region, an
/// account that is not 12 digits, a region or partition that is not AWS's, an unknown
/// severity) is left out and listed in [`FindingsExport::skipped`], and the others are
/// written.
pub async fn export_findings_with_summary(
    data: &Path,
    format: FindingsFormat,
    out: &mut impl Write,
) -> Result<FindingsExport, ReportError> {
    let ctx = open_dataset(data).await?;
    let batches = query(&ctx, FINDINGS_SQL).await?;
    let findings = batches.iter().map(|batch| batch.num_rows()).sum();
    let mut skipped = Vec::new();
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
                _ => asff_batches(&rows, &mut skipped),
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
    Ok(FindingsExport {
        format,
        findings,
        written: findings - skipped.len(),
        skipped,
    })
}

/// The ASFF findings of `rows` in request bodies of at most [`ASFF_MAX_BATCH`]; the rows
/// ASFF cannot express are left out and added to `skipped`.
fn asff_batches(rows: &[FindingRow], skipped: &mut Vec<SkippedFinding>) -> Vec<serde_json::Value> {
    let mut findings = Vec::with_capacity(rows.len());
    for row in rows {
        match asff::finding(row) {
            Ok(finding) => findings.push(finding),
            Err(reason) => skipped.push(SkippedFinding {
                finding_id: row.finding_id.clone(),
                reason,
            }),
        }
    }
    findings
        .chunks(ASFF_MAX_BATCH)
        .map(|chunk| serde_json::json!({ "Findings": chunk }))
        .collect()
}
