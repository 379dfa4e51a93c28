//! The chain of custody of one session (`sessiontrail evidence --session ID`): the
//! CloudTrail record its row rests on (log file, byte offset, the file's SHA-256, the
//! digest that lists it and whether that digest's signature and chain verified) and the
//! broker record that names its human (file, line), from one SQL file,
//! `queries/evidence/session_custody.sql`, that an auditor can rerun.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::util::display::array_value_to_string;

use crate::monthly_report::run_bound_query;
use crate::output::timestamps_as_rfc3339;
use crate::{OutputFormat, ReportError, open_dataset, write_batches};

/// The query's path in the repository.
pub const CUSTODY_QUERY_PATH: &str = "queries/evidence/session_custody.sql";

/// Its text, embedded at build time.
pub const CUSTODY_QUERY: &str = include_str!("../../../queries/evidence/session_custody.sql");

/// The rows of [`CUSTODY_QUERY`] for one session id (or StartSession eventID): usually
/// one; none when the dataset has no such session.
#[derive(Debug, Clone)]
pub struct SessionCustody {
    /// What was asked for.
    pub session: String,
    /// The query's result (at least one batch, maybe empty).
    pub batches: Vec<RecordBatch>,
}

impl SessionCustody {
    /// How many session rows matched.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Runs [`CUSTODY_QUERY`] over the dataset in `data` with `$session` bound to `session`.
pub async fn session_custody(data: &Path, session: &str) -> Result<SessionCustody, ReportError> {
    let ctx = open_dataset(data).await?;
    let label = format!("query `session_custody` ({CUSTODY_QUERY_PATH})");
    let batches = run_bound_query(
        &ctx,
        &label,
        CUSTODY_QUERY,
        &[("session", session.to_string())],
    )
    .await?;
    Ok(SessionCustody {
        session: session.to_string(),
        batches,
    })
}

/// The sections of the text form: a heading, the columns under it, and what to say
/// when all of them are null.
const SECTIONS: &[(&str, &[&str], &str)] = &[
    (
        "session",
        &[
            "session_id",
            "status",
            "start_time",
            "end_time",
            "account_id",
            "region",
            "target",
            "original_user",
            "original_principal_arn",
            "permission_set",
            "document_name",
            "run_as",
            "dt",
        ],
        "",
    ),
    (
        "CloudTrail record",
        &[
            "cloudtrail_event_id",
            "cloudtrail_file",
            "cloudtrail_byte_offset",
        ],
        "none: the broker says it started this session and CloudTrail has no record of it",
    ),
    (
        "log file evidence",
        &[
            "cloudtrail_evidence",
            "log_file",
            "actual_sha256",
            "expected_sha256",
            "digest_file",
            "digest_signature_verified",
            "digest_chain_verified",
            "evidence_detail",
            "evidence_checked_at",
        ],
        "not checked: no `correlate --verify` run has checked this record's log file",
    ),
    (
        "broker record",
        &["broker_request_id", "broker_file", "broker_line"],
        "none matched (a session not started through the broker, or rows written before broker_file existed)",
    ),
];

/// Writes `custody` as text (one block per session row, in sections) or as JSON lines
/// (one object per row, every column of the query).
pub fn write_custody(
    custody: &SessionCustody,
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    if format != OutputFormat::Table {
        return write_batches(&custody.batches, format, out);
    }
    let write = |source| ReportError::Write { format, source };
    let render = |source| ReportError::Render { format, source };
    let mut first = true;
    for batch in &custody.batches {
        let batch = timestamps_as_rfc3339(batch).map_err(render)?;
        for row in 0..batch.num_rows() {
            if !first {
                writeln!(out).map_err(write)?;
            }
            first = false;
            let value = |name: &str| -> Result<Option<String>, ReportError> {
                let Some(column) = batch.column_by_name(name) else {
                    return Ok(None);
                };
                if column.is_null(row) {
                    return Ok(None);
                }
                array_value_to_string(column, row).map(Some).map_err(render)
            };
            for (heading, columns, when_empty) in SECTIONS {
                writeln!(out, "{heading}").map_err(write)?;
                let values = columns
                    .iter()
                    .map(|name| Ok((*name, value(name)?)))
                    .collect::<Result<Vec<_>, ReportError>>()?;
                if values.iter().all(|(_, v)| v.is_none()) && !when_empty.is_empty() {
                    writeln!(out, "  {when_empty}").map_err(write)?;
                    continue;
                }
                for (name, value) in values {
                    if let Some(value) = value {
                        writeln!(out, "  {name:<26} {value}").map_err(write)?;
                    }
                }
            }
        }
    }
    writeln!(
        out,
        "\n(from {CUSTODY_QUERY_PATH}, $session = '{}')",
        custody.session.replace('\'', "''")
    )
    .map_err(write)?;
    out.flush().map_err(write)
}
