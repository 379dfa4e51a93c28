//! Rewriting the dataset after a correlation: every partition of `sessions/`,
//! `findings/`, `rejects/` and `evidence/` that a run changes goes through [`rewrite_partition`]:
//! read what the partition holds, keep the rows that stay, add this run's, sort, and
//! replace the file by one atomic write, or write nothing when the bytes are the same
//! ([`Table::write_partition`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::error::ArrowError;
use sessiontrail_ingest::reject::Reject;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};

use crate::correlation::Correlation;
use crate::dataset::{
    Table, retain_rows, session_keys, sort_batch, string_column, timestamp_column,
};
use crate::evidence::{EvidenceState, LogFileRecord};
use crate::finding::Finding;
use crate::run::RunError;
use crate::schema::{
    evidence_schema, evidence_to_batch, findings_schema, findings_to_batch, rejects_schema,
    rejects_to_batch, sessions_schema, sessions_to_batch,
};
use crate::session::Session;
use crate::state::Written;
use crate::storage::Storage;

/// How a table's partition files are laid out: the order of their rows, and whether
/// rows equal to the one before them are dropped.
struct Layout {
    order: &'static [&'static str],
    distinct: bool,
}

const SESSIONS: Layout = Layout {
    order: &[
        "start_time",
        "session_id",
        "cloudtrail_event_id",
        "broker_request_id",
    ],
    distinct: false,
};

const FINDINGS: Layout = Layout {
    order: &["event_time", "finding_id"],
    distinct: false,
};

/// Every column is in the order, so identical rows sort next to each other and a rerun
/// over the same inputs adds nothing.
const REJECTS: Layout = Layout {
    order: &["source_file", "byte_offset", "line", "input_kind", "reason"],
    distinct: true,
};

/// What a rewrite of the dataset must cover besides this run's own rows.
pub(crate) struct RewriteScope<'a> {
    /// Where the state says rows are, and where this run's lost attempts put them.
    pub previous: Vec<&'a BTreeMap<String, Written>>,
    /// Partitions this run's lost attempts rewrote.
    pub lost_session_dts: &'a BTreeSet<String>,
    pub lost_finding_dts: &'a BTreeSet<String>,
    /// Rows at or after this instant are all in the correlation (the state keeps every
    /// record of that window): a rewritten partition keeps none of its old ones, so a
    /// row another run's stale view wrote cannot survive. Older rows are kept unless
    /// their key is replaced.
    pub live_from: Option<EpochMillis>,
    /// Findings of sessions brought back from beyond retention: one the correlation no
    /// longer raises is kept, marked resolved at `as_of`, never deleted.
    pub resolving: HashSet<String>,
    pub as_of: EpochMillis,
}

/// The new `written` map, the partitions rewritten (sessions, findings), and how many
/// files changed.
pub(crate) type Rewritten = (
    BTreeMap<String, Written>,
    (BTreeSet<String>, BTreeSet<String>),
    u64,
);

/// Replaces the rows of every session key this run computed (and of keys the previous
/// run wrote that no longer exist), partition by partition. `scope.previous` holds where
/// the state says rows are, and where this run's own attempts that lost a race wrote
/// them.
pub(crate) fn write_dataset(
    storage: &dyn Storage,
    correlation: &Correlation,
    scope: &RewriteScope<'_>,
) -> Result<Rewritten, RunError> {
    let previous = &scope.previous;
    let live = |time: Option<i64>| match (scope.live_from, time) {
        (Some(from), Some(time)) => time >= from,
        _ => false,
    };
    let mut written: BTreeMap<String, Written> = BTreeMap::new();
    let mut sessions_by_dt: BTreeMap<String, Vec<Session>> = BTreeMap::new();
    for session in &correlation.sessions {
        let dt = session.partition();
        written.entry(session.key()).or_default().session_dt = Some(dt.clone());
        sessions_by_dt.entry(dt).or_default().push(session.clone());
    }
    let mut findings_by_dt: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    for finding in &correlation.findings {
        let dt = finding.partition();
        written
            .entry(finding.owner.clone())
            .or_default()
            .findings
            .push((finding.finding_id.clone(), dt.clone()));
        findings_by_dt.entry(dt).or_default().push(finding.clone());
    }

    let previous = || previous.iter().flat_map(|map| map.iter());
    let replaced_keys: HashSet<&str> = previous()
        .map(|(key, _)| key)
        .chain(written.keys())
        .map(String::as_str)
        .collect();
    let replaced_findings: HashSet<&str> = previous()
        .map(|(_, w)| w)
        .chain(written.values())
        .flat_map(|w| w.findings.iter().map(|(id, _)| id.as_str()))
        .collect();
    let session_dts: BTreeSet<String> = previous()
        .filter_map(|(_, w)| w.session_dt.clone())
        .chain(sessions_by_dt.keys().cloned())
        .chain(scope.lost_session_dts.iter().cloned())
        .collect();
    let finding_dts: BTreeSet<String> = previous()
        .flat_map(|(_, w)| w.findings.iter().map(|(_, dt)| dt.clone()))
        .chain(findings_by_dt.keys().cloned())
        .chain(scope.lost_finding_dts.iter().cloned())
        .collect();

    let mut rewritten = 0;
    let sessions = Table::new(storage, "sessions", sessions_schema());
    for dt in &session_dts {
        let fresh = sessions_to_batch(sessions_by_dt.get(dt).map(Vec::as_slice).unwrap_or(&[]));
        let keep = |existing: &RecordBatch| {
            let keys = session_keys(existing);
            let start_times = timestamp_column(existing, "start_time");
            (0..existing.num_rows())
                .map(|i| !replaced_keys.contains(keys[i].as_str()) && !live(start_times[i]))
                .collect()
        };
        rewritten += u64::from(rewrite_partition(
            &sessions, dt, &SESSIONS, keep, Ok, fresh,
        )?);
    }
    let raised: HashSet<&str> = correlation
        .findings
        .iter()
        .map(|f| f.finding_id.as_str())
        .collect();
    let findings = Table::new(storage, "findings", findings_schema());
    for dt in &finding_dts {
        let fresh = findings_to_batch(findings_by_dt.get(dt).map(Vec::as_slice).unwrap_or(&[]));
        let keep = |existing: &RecordBatch| {
            let ids = string_column(existing, "finding_id");
            let event_times = timestamp_column(existing, "event_time");
            let resolved = timestamp_column(existing, "resolved_time");
            (0..existing.num_rows())
                .map(|i| {
                    let id = ids[i].as_str();
                    let ordinary = !replaced_findings.contains(id) && !live(event_times[i]);
                    // Resolved findings are evidence: kept for good unless raised again.
                    let resolution = resolved[i].is_some() || scope.resolving.contains(id);
                    (ordinary || resolution) && !raised.contains(id)
                })
                .collect()
        };
        let resolve = |kept: RecordBatch| resolve_withdrawn(kept, &scope.resolving, scope.as_of);
        rewritten += u64::from(rewrite_partition(
            &findings, dt, &FINDINGS, keep, resolve, fresh,
        )?);
    }
    Ok((written, (session_dts, finding_dts), rewritten))
}

/// One row per log file, by its key; rows are replaced by key.
const EVIDENCE: Layout = Layout {
    order: &["log_file_time", "log_file"],
    distinct: false,
};

/// Rewrites the `evidence/` partitions `dts`: each gets the state's rows of its date,
/// and keeps the rows of files the state no longer holds (older than retention).
/// Returns how many files changed.
pub(crate) fn write_evidence(
    storage: &dyn Storage,
    evidence: &EvidenceState,
    dts: &BTreeSet<String>,
) -> Result<u64, RunError> {
    let table = Table::new(storage, "evidence", evidence_schema());
    // Each record's partition computed once (not once per partition rewritten).
    let mut by_dt: BTreeMap<String, Vec<&LogFileRecord>> = BTreeMap::new();
    for record in evidence.log_files.values() {
        let dt = record.partition();
        if dts.contains(&dt) {
            by_dt.entry(dt).or_default().push(record);
        }
    }
    let mut rewritten = 0;
    for dt in dts {
        let rows = by_dt.remove(dt).unwrap_or_default();
        let keep = |existing: &RecordBatch| {
            string_column(existing, "log_file")
                .iter()
                .map(|key| !evidence.log_files.contains_key(key))
                .collect()
        };
        rewritten += u64::from(rewrite_partition(
            &table,
            dt,
            &EVIDENCE,
            keep,
            Ok,
            evidence_to_batch(&rows),
        )?);
    }
    Ok(rewritten)
}

/// Rejects go to `rejects/dt=<as_of date>/`, added to what that partition holds (every
/// row of it stays). Returns whether the stored file changed.
pub(crate) fn write_rejects(
    storage: &dyn Storage,
    as_of: EpochMillis,
    rejects: &[Reject],
) -> Result<bool, RunError> {
    if rejects.is_empty() {
        return Ok(false);
    }
    let table = Table::new(storage, "rejects", rejects_schema());
    let keep_all = |existing: &RecordBatch| vec![true; existing.num_rows()];
    rewrite_partition(
        &table,
        &utc_date(as_of),
        &REJECTS,
        keep_all,
        Ok,
        rejects_to_batch(rejects),
    )
}

/// Rewrites one partition: its rows that `keep` accepts (one flag per row), changed by
/// `amend`, and `fresh`, laid out as `layout` says. Returns whether the stored file
/// changed.
fn rewrite_partition(
    table: &Table<'_>,
    dt: &str,
    layout: &Layout,
    keep: impl Fn(&RecordBatch) -> Vec<bool>,
    amend: impl Fn(RecordBatch) -> Result<RecordBatch, ArrowError>,
    fresh: Result<RecordBatch, ArrowError>,
) -> Result<bool, RunError> {
    let arrow = |source| RunError::Arrow {
        table: table.name,
        source,
    };
    let (existing, current) = table.read_partition_for_rewrite(dt)?;
    let keep = keep(&existing);
    let kept = retain_rows(&existing, |i| keep[i])
        .and_then(amend)
        .map_err(arrow)?;
    let merged = concat_batches(&table.schema, &[kept, fresh.map_err(arrow)?])
        .and_then(|all| sort_batch(&all, layout.order))
        .and_then(|sorted| match layout.distinct {
            true => drop_repeated_rows(&sorted),
            false => Ok(sorted),
        })
        .map_err(arrow)?;
    Ok(table.write_partition(dt, &merged, current.as_deref())?)
}

/// The rows of a sorted batch that differ from the row before them.
fn drop_repeated_rows(sorted: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let row_text: Vec<String> = {
        let converter = datafusion::arrow::util::display::ArrayFormatter::try_new;
        let formatters: Vec<_> = sorted
            .columns()
            .iter()
            .filter_map(|c| converter(c.as_ref(), &Default::default()).ok())
            .collect();
        (0..sorted.num_rows())
            .map(|i| {
                formatters
                    .iter()
                    .map(|f| f.value(i).to_string())
                    .collect::<Vec<_>>()
                    .join("\u{1f}")
            })
            .collect()
    };
    retain_rows(sorted, |i| i == 0 || row_text[i] != row_text[i - 1])
}

/// Marks the kept findings of `resolving` that are still open as resolved at `as_of`.
fn resolve_withdrawn(
    kept: RecordBatch,
    resolving: &HashSet<String>,
    as_of: EpochMillis,
) -> Result<RecordBatch, ArrowError> {
    use datafusion::arrow::array::{Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;
    let ids = string_column(&kept, "finding_id");
    let resolved = timestamp_column(&kept, "resolved_time");
    let (Some(time_at), Some(text_at)) = (
        kept.schema().index_of("resolved_time").ok(),
        kept.schema().index_of("resolution").ok(),
    ) else {
        return Ok(kept);
    };
    let texts = kept
        .column(text_at)
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned();
    let when = format_rfc3339_millis(as_of);
    let mut times = Vec::with_capacity(kept.num_rows());
    let mut reasons = Vec::with_capacity(kept.num_rows());
    for i in 0..kept.num_rows() {
        let previous = texts
            .as_ref()
            .and_then(|t| (!t.is_null(i)).then(|| t.value(i).to_string()));
        if resolved[i].is_none() && resolving.contains(&ids[i]) {
            times.push(Some(as_of));
            reasons.push(Some(format!(
                "withdrawn by the run as of {when}: records that arrived after the session had left the retention window show it no longer holds (see the session's row); kept as evidence of what was known and alerted"
            )));
        } else {
            times.push(resolved[i]);
            reasons.push(previous);
        }
    }
    let mut columns = kept.columns().to_vec();
    columns[time_at] = Arc::new(TimestampMillisecondArray::from(times).with_timezone("UTC"));
    columns[text_at] = Arc::new(StringArray::from(reasons));
    RecordBatch::try_new(kept.schema(), columns)
}
