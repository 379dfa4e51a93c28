//! One `correlate` run: read the inputs, merge them with the state, correlate,
//! rewrite the touched partitions, record rejects, save the state.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use sessiontrail_ingest::broker_log::BrokerStats;
use sessiontrail_ingest::cloudtrail::CloudTrailStats;
use sessiontrail_ingest::reject::Reject;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};
use sessiontrail_ingest::{
    IngestError, read_broker_log_paths, read_cloudtrail_paths_with_progress,
};

use crate::correlation::{Correlation, correlate};
use crate::dataset::{DatasetError, Table, retain_rows, session_keys, sort_batch, string_column};
use crate::finding::{Finding, findings_to_batch};
use crate::policy::Policy;
use crate::rule::{Rule, Severity};
use crate::schema::{findings_schema, rejects_schema, rejects_to_batch, sessions_schema};
use crate::session::{Session, sessions_to_batch};
use crate::state::{State, StateError, Written};
use crate::status::SessionStatus;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub cloudtrail: Vec<PathBuf>,
    pub broker_logs: Vec<PathBuf>,
    pub out: PathBuf,
    /// The instant grace is measured at (default: now).
    pub as_of: Option<EpochMillis>,
    /// Threads reading input files.
    pub threads: usize,
    /// Print progress while reading CloudTrail to stderr (for terminals).
    pub progress: bool,
}

impl RunOptions {
    pub fn new(cloudtrail: Vec<PathBuf>, broker_logs: Vec<PathBuf>, out: PathBuf) -> Self {
        RunOptions {
            cloudtrail,
            broker_logs,
            out,
            as_of: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("building {table} rows: {source}")]
    Arrow {
        table: &'static str,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
}

/// What a run did, for the summary a user reads and for exit codes.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub out: PathBuf,
    pub as_of: EpochMillis,
    pub cloudtrail: CloudTrailStats,
    pub broker: BrokerStats,
    pub duplicate_events: u64,
    pub duplicate_records: u64,
    pub rejects: Vec<Reject>,
    /// Sessions in this run's window (everything still in state plus the new inputs).
    pub sessions_by_status: BTreeMap<SessionStatus, u64>,
    pub findings_by_rule: BTreeMap<Rule, u64>,
    pub findings_by_severity: BTreeMap<Severity, u64>,
    pub partitions_rewritten: u64,
    pub elapsed: Duration,
}

impl RunSummary {
    /// The most severe finding in this run's window.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings_by_severity.keys().max().copied()
    }
}

pub fn run(policy: &Policy, options: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let threads = options.threads.max(1);
    let last_report = std::sync::Mutex::new(Instant::now());
    let report = |done: usize, total: usize| {
        if !options.progress {
            return;
        }
        let mut last = last_report.lock().unwrap_or_else(|p| p.into_inner());
        if done == total || last.elapsed() >= Duration::from_millis(500) {
            *last = Instant::now();
            eprint!(
                "\rreading CloudTrail: {done}/{total} files, {:.0} s",
                started.elapsed().as_secs_f64()
            );
            if done == total {
                eprintln!();
            }
        }
    };
    let cloudtrail = read_cloudtrail_paths_with_progress(&options.cloudtrail, threads, &report)?;
    let broker = read_broker_log_paths(&options.broker_logs, threads)?;
    let mut state = State::load(&options.out)?;
    // Temporary files of a run that was killed: never visible to readers, removed here.
    let _ = std::fs::remove_dir_all(options.out.join(".tmp"));
    let as_of = options
        .as_of
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());

    // Records with the same eventID / request_id are one record, across runs too.
    let mut events = std::mem::take(&mut state.events);
    let mut seen: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let mut duplicate_events = 0;
    for event in cloudtrail.events {
        if seen.insert(event.event_id.clone()) {
            events.push(event);
        } else {
            duplicate_events += 1;
        }
    }
    let mut records = std::mem::take(&mut state.records);
    let mut seen: HashSet<String> = records.iter().map(|r| r.request_id.clone()).collect();
    let mut duplicate_records = 0;
    for record in broker.records {
        if seen.insert(record.request_id.clone()) {
            records.push(record);
        } else {
            duplicate_records += 1;
        }
    }
    let watermark = events
        .iter()
        .map(|e| e.event_time)
        .chain(records.iter().map(|r| r.ts))
        .chain(state.watermark)
        .max()
        .map(|w| w.min(as_of));

    let correlation = correlate(&events, &records, policy, as_of);
    let (written, partitions_rewritten) =
        write_dataset(&options.out, &correlation, &state.written)?;

    let mut rejects = cloudtrail.rejects;
    rejects.extend(broker.rejects);
    let rejects_rewritten = write_rejects(&options.out, as_of, &rejects)?;

    let state = prune(
        State {
            watermark,
            events,
            records,
            written,
        },
        &correlation,
        policy.retention,
    );
    state.save(&options.out)?;

    let mut summary = RunSummary {
        out: options.out.clone(),
        as_of,
        cloudtrail: cloudtrail.stats,
        broker: broker.stats,
        duplicate_events,
        duplicate_records,
        rejects,
        sessions_by_status: BTreeMap::new(),
        findings_by_rule: BTreeMap::new(),
        findings_by_severity: BTreeMap::new(),
        partitions_rewritten: partitions_rewritten + u64::from(rejects_rewritten),
        elapsed: started.elapsed(),
    };
    for session in &correlation.sessions {
        *summary
            .sessions_by_status
            .entry(session.status)
            .or_default() += 1;
    }
    for finding in &correlation.findings {
        *summary.findings_by_rule.entry(finding.rule).or_default() += 1;
        *summary
            .findings_by_severity
            .entry(finding.severity())
            .or_default() += 1;
    }
    Ok(summary)
}

/// Replaces the rows of every session key this run computed (and of keys the previous
/// run wrote that no longer exist), partition by partition.
fn write_dataset(
    out: &Path,
    correlation: &Correlation,
    previous: &BTreeMap<String, Written>,
) -> Result<(BTreeMap<String, Written>, u64), RunError> {
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

    let replaced_keys: HashSet<&str> = previous
        .keys()
        .chain(written.keys())
        .map(String::as_str)
        .collect();
    let replaced_findings: HashSet<&str> = previous
        .values()
        .chain(written.values())
        .flat_map(|w| w.findings.iter().map(|(id, _)| id.as_str()))
        .collect();
    let session_dts: BTreeSet<String> = previous
        .values()
        .filter_map(|w| w.session_dt.clone())
        .chain(sessions_by_dt.keys().cloned())
        .collect();
    let finding_dts: BTreeSet<String> = previous
        .values()
        .flat_map(|w| w.findings.iter().map(|(_, dt)| dt.clone()))
        .chain(findings_by_dt.keys().cloned())
        .collect();

    let mut rewritten = 0;
    let sessions = Table::new(out, "sessions", sessions_schema());
    for dt in &session_dts {
        let existing = sessions.read_partition(dt)?;
        let keys = session_keys(&existing);
        let kept = retain_rows(&existing, |i| !replaced_keys.contains(keys[i].as_str())).map_err(
            |source| RunError::Arrow {
                table: "sessions",
                source,
            },
        )?;
        let fresh = sessions_to_batch(sessions_by_dt.get(dt).map(Vec::as_slice).unwrap_or(&[]))
            .map_err(|source| RunError::Arrow {
                table: "sessions",
                source,
            })?;
        let merged = merge(
            &sessions.schema,
            &[kept, fresh],
            &[
                "start_time",
                "session_id",
                "cloudtrail_event_id",
                "broker_request_id",
            ],
            "sessions",
        )?;
        rewritten += u64::from(sessions.write_partition(dt, &merged)?);
    }
    let findings = Table::new(out, "findings", findings_schema());
    for dt in &finding_dts {
        let existing = findings.read_partition(dt)?;
        let ids = string_column(&existing, "finding_id");
        let kept = retain_rows(&existing, |i| !replaced_findings.contains(ids[i].as_str()))
            .map_err(|source| RunError::Arrow {
                table: "findings",
                source,
            })?;
        let fresh = findings_to_batch(findings_by_dt.get(dt).map(Vec::as_slice).unwrap_or(&[]))
            .map_err(|source| RunError::Arrow {
                table: "findings",
                source,
            })?;
        let merged = merge(
            &findings.schema,
            &[kept, fresh],
            &["event_time", "finding_id"],
            "findings",
        )?;
        rewritten += u64::from(findings.write_partition(dt, &merged)?);
    }
    Ok((written, rewritten))
}

fn merge(
    schema: &datafusion::arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    order: &[&str],
    table: &'static str,
) -> Result<RecordBatch, RunError> {
    concat_batches(schema, batches)
        .and_then(|all| sort_batch(&all, order))
        .map_err(|source| RunError::Arrow { table, source })
}

/// Rejects go to `rejects/dt=<as_of date>/`, merged with what that partition holds so
/// a rerun over the same inputs adds nothing.
fn write_rejects(out: &Path, as_of: EpochMillis, rejects: &[Reject]) -> Result<bool, RunError> {
    if rejects.is_empty() {
        return Ok(false);
    }
    let table = Table::new(out, "rejects", rejects_schema());
    let dt = utc_date(as_of);
    let existing = table.read_partition(&dt)?;
    let fresh = rejects_to_batch(rejects).map_err(|source| RunError::Arrow {
        table: "rejects",
        source,
    })?;
    let all =
        concat_batches(&table.schema, &[existing, fresh]).map_err(|source| RunError::Arrow {
            table: "rejects",
            source,
        })?;
    // Drop exact duplicates: identical rows sort next to each other.
    let order = ["source_file", "byte_offset", "line", "input_kind", "reason"];
    let sorted = sort_batch(&all, &order).map_err(|source| RunError::Arrow {
        table: "rejects",
        source,
    })?;
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
    let unique =
        retain_rows(&sorted, |i| i == 0 || row_text[i] != row_text[i - 1]).map_err(|source| {
            RunError::Arrow {
                table: "rejects",
                source,
            }
        })?;
    Ok(table.write_partition(&dt, &unique)?)
}

/// Keeps what later runs need: every record of a session active within `retention` of
/// the watermark (or still pending), and recent records not tied to any session.
fn prune(mut state: State, correlation: &Correlation, retention: Duration) -> State {
    let Some(watermark) = state.watermark else {
        return state;
    };
    let cutoff = watermark.saturating_sub(retention.as_millis() as i64);
    let pending: HashSet<String> = correlation
        .sessions
        .iter()
        .filter(|s| s.status == SessionStatus::Pending)
        .map(|s| s.key())
        .collect();
    let live: BTreeSet<&String> = correlation
        .owners
        .iter()
        .filter(|(key, owner)| owner.last_activity >= cutoff || pending.contains(*key))
        .map(|(key, _)| key)
        .collect();
    let mut keep_events = HashSet::new();
    let mut keep_records = HashSet::new();
    let mut owned_events = HashSet::new();
    let mut owned_records = HashSet::new();
    for (key, owner) in &correlation.owners {
        owned_events.extend(owner.event_ids.iter().cloned());
        owned_records.extend(owner.request_ids.iter().cloned());
        if live.contains(key) {
            keep_events.extend(owner.event_ids.iter().cloned());
            keep_records.extend(owner.request_ids.iter().cloned());
        }
    }
    state.events.retain(|e| {
        keep_events.contains(&e.event_id)
            || (!owned_events.contains(&e.event_id) && e.event_time >= cutoff)
    });
    state.records.retain(|r| {
        keep_records.contains(&r.request_id)
            || (!owned_records.contains(&r.request_id) && r.ts >= cutoff)
    });
    state.written.retain(|key, _| live.contains(key));
    state
        .events
        .sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    state
        .records
        .sort_by(|a, b| (a.ts, &a.request_id).cmp(&(b.ts, &b.request_id)));
    state
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ct = &self.cloudtrail;
        let br = &self.broker;
        writeln!(
            f,
            "sessiontrail correlate  as of {}",
            format_rfc3339_millis(self.as_of)
        )?;
        writeln!(
            f,
            "  cloudtrail   {} files, {:.1} MB, {} ssm session events, {} rejected",
            ct.files,
            ct.bytes as f64 / 1e6,
            ct.session_events,
            ct.rejected
        )?;
        writeln!(
            f,
            "               {} files split into {} records; {} whole log files without any ssm record not split",
            ct.files - ct.files_without_session_events,
            ct.records,
            ct.files_without_session_events
        )?;
        writeln!(
            f,
            "  broker log   {} files, {} broker records, {} other lines ignored, {} rejected",
            br.files, br.records, br.ignored, br.rejected
        )?;
        writeln!(
            f,
            "  duplicates   {} CloudTrail records and {} broker records seen before (dropped as redeliveries)",
            self.duplicate_events, self.duplicate_records
        )?;
        let statuses: Vec<String> = SessionStatus::ALL
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s,
                    self.sessions_by_status.get(s).copied().unwrap_or(0)
                )
            })
            .collect();
        let total: u64 = self.sessions_by_status.values().sum();
        writeln!(f, "  sessions     {total}: {}", statuses.join(", "))?;
        let severities: Vec<String> = Severity::ALL
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s,
                    self.findings_by_severity.get(s).copied().unwrap_or(0)
                )
            })
            .collect();
        let total: u64 = self.findings_by_rule.values().sum();
        writeln!(f, "  findings     {total}: {}", severities.join(", "))?;
        for (rule, count) in &self.findings_by_rule {
            writeln!(f, "               {count:>6}  {rule} ({})", rule.severity())?;
        }
        writeln!(
            f,
            "  dataset      {} ({} partition files rewritten)",
            self.out.display(),
            self.partitions_rewritten
        )?;
        if !self.rejects.is_empty() {
            writeln!(
                f,
                "  rejects      {} records could not be read (all in {}/rejects/dt={}/); first ones:",
                self.rejects.len(),
                self.out.display(),
                utc_date(self.as_of)
            )?;
            for reject in self.rejects.iter().take(5) {
                writeln!(f, "               {reject}")?;
            }
        }
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "  time         {:.2} s ({:.0} MB/s of CloudTrail)",
            secs,
            ct.bytes as f64 / 1e6 / secs.max(1e-9)
        )
    }
}
