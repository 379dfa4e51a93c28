//! One `correlate` run: read the inputs, merge them with the state, correlate,
//! rewrite the touched partitions, record rejects, save the state.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use sessiontrail_ingest::broker_log::BrokerStats;
use sessiontrail_ingest::cloudtrail::CloudTrailStats;
use sessiontrail_ingest::reject::Reject;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};
use sessiontrail_ingest::{
    BrokerRead, BrokerRecord, CloudTrailRead, SessionEvent, SessionEventName, SkippedFile,
};
use sessiontrail_ingest::{
    IngestError, read_broker_log_paths, read_cloudtrail_paths_with_progress,
};

use crate::archive::{self, Archived};
use crate::correlation::{Correlation, correlate, leak_findings, leak_key};
use crate::dataset::{
    DatasetError, Table, retain_rows, session_keys, sort_batch, string_column, timestamp_column,
};
use crate::finding::{Finding, findings_to_batch};
use crate::policy::Policy;
use crate::rule::{Rule, Severity};
use crate::schema::{findings_schema, rejects_schema, rejects_to_batch, sessions_schema};
use crate::session::{Session, sessions_to_batch};
use crate::state::{Cold, STATE_FILE, State, StateError, Written};
use crate::status::SessionStatus;
use crate::storage::{LocalStorage, Storage, StorageError};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub cloudtrail: Vec<PathBuf>,
    pub broker_logs: Vec<PathBuf>,
    pub out: PathBuf,
    /// The instant grace is measured at (default: now).
    pub as_of: Option<EpochMillis>,
    /// Threads reading input files.
    pub threads: usize,
}

impl RunOptions {
    pub fn new(cloudtrail: Vec<PathBuf>, broker_logs: Vec<PathBuf>, out: PathBuf) -> Self {
        RunOptions {
            cloudtrail,
            broker_logs,
            out,
            as_of: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What a run correlates, read from wherever it lives (files, S3 objects, an event).
#[derive(Debug, Default, Clone)]
pub struct Inputs {
    pub cloudtrail: CloudTrailRead,
    pub broker: BrokerRead,
}

impl Inputs {
    /// Every `n`-th CloudTrail event and broker record, from the `i`-th: the inputs
    /// split `n` ways, as concurrent invocations would see them.
    pub fn every_nth(&self, i: usize, n: usize) -> Inputs {
        let mut part = Inputs::default();
        part.cloudtrail.events = self
            .cloudtrail
            .events
            .iter()
            .skip(i)
            .step_by(n.max(1))
            .cloned()
            .collect();
        part.broker.records = self
            .broker
            .records
            .iter()
            .skip(i)
            .step_by(n.max(1))
            .cloned()
            .collect();
        part
    }
}

/// How a run over a storage behaves.
#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    /// The instant grace is measured at (default: now).
    pub as_of: Option<EpochMillis>,
    /// Keep new findings in the state's outbox for a publisher (an event bus).
    pub outbox: bool,
}

/// How often a run starts over after losing a race on the state to another run.
const MAX_ATTEMPTS: u32 = 12;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("building {table} rows: {source}")]
    Arrow {
        table: &'static str,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
    #[error(
        "the state at {location} changed under this run {attempts} times (other runs writing the same dataset); giving up so the run can be retried"
    )]
    Contended { location: String, attempts: u32 },
    #[error(
        "--as-of {as_of} is earlier than the dataset's last run, judged as of {last_as_of}: a dataset only moves forward in time (rerun with --as-of {last_as_of} or later, or leave --as-of out); nothing was written"
    )]
    AsOfBeforeLastRun { as_of: String, last_as_of: String },
}

impl RunError {
    /// A refusal caused by how the run was asked for (exit 2), not by a failure.
    pub fn is_usage(&self) -> bool {
        matches!(self, RunError::AsOfBeforeLastRun { .. })
    }
}

/// What a run did, for the summary a user reads and for exit codes.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Where the dataset is (a folder or an `s3://` URL).
    pub out: String,
    pub as_of: EpochMillis,
    pub cloudtrail: CloudTrailStats,
    pub broker: BrokerStats,
    pub duplicate_events: u64,
    pub duplicate_records: u64,
    /// Sessions that had left the retention window and were brought back from the
    /// archive because this run read one of their records again or a late counterpart.
    pub rehydrated: u64,
    /// StartSession records repeating an earlier one's session id (another eventID).
    pub repeated_starts: u64,
    /// Resume/TerminateSession calls that failed.
    pub failed_controls: u64,
    pub rejects: Vec<Reject>,
    /// Of `rejects`, those recorded by an earlier run (not recorded again).
    pub rejects_seen_before: u64,
    /// Files in walked folders that no reader reads (named, with the reason).
    pub skipped_files: Vec<SkippedFile>,
    /// Sessions in this run's window (everything still in state plus the new inputs).
    pub sessions_by_status: BTreeMap<SessionStatus, u64>,
    pub findings_by_rule: BTreeMap<Rule, u64>,
    pub findings_by_severity: BTreeMap<Severity, u64>,
    /// Findings this run raised that no earlier run had (what alerts are about).
    pub new_findings: Vec<Finding>,
    pub partitions_rewritten: u64,
    /// Times the run started over because another run saved the state first.
    pub lost_races: u32,
    pub elapsed: Duration,
}

impl RunSummary {
    /// The most severe finding in this run's window.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings_by_severity.keys().max().copied()
    }
}

/// Reads the local inputs of `options` and correlates them into the folder `options.out`.
pub fn run(policy: &Policy, options: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let inputs = read_local_inputs(options)?;
    let storage = LocalStorage::new(&options.out);
    // Temporary files of a run that was killed: never visible to readers, removed here.
    storage.remove_temporary_files();
    let settings = RunSettings {
        as_of: options.as_of,
        outbox: false,
    };
    let mut summary = run_on(policy, &storage, inputs, &settings)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reads the CloudTrail and broker log files under the paths of `options`.
pub fn read_local_inputs(options: &RunOptions) -> Result<Inputs, RunError> {
    read_local_inputs_reporting(options, &|_, _| {})
}

/// [`read_local_inputs`], calling `progress(files done, files in all)` as CloudTrail
/// files are read (the caller decides how to show it: the CLI draws a progress bar on
/// terminals).
pub fn read_local_inputs_reporting(
    options: &RunOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Inputs, RunError> {
    let threads = options.threads.max(1);
    let cloudtrail = read_cloudtrail_paths_with_progress(&options.cloudtrail, threads, progress)?;
    let broker = read_broker_log_paths(&options.broker_logs, threads)?;
    Ok(Inputs { cloudtrail, broker })
}

/// Correlates `inputs` with the state of the dataset in `storage`, rewrites the touched
/// partitions and saves the state. When another run saves the state first, this one
/// starts over from the newer state (its partition writes are then rewritten too).
pub fn run_on(
    policy: &Policy,
    storage: &dyn Storage,
    inputs: Inputs,
    settings: &RunSettings,
) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let mut rejects = inputs.cloudtrail.rejects.clone();
    rejects.extend(inputs.broker.rejects.iter().cloned());
    // What attempts that lost the race wrote: the next attempt rewrites those
    // partitions too, so no row of a stale view survives.
    let mut lost = LostAttempts::default();
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            // Back off a little, differently per process, so racing runs spread out.
            let jitter = u64::from(std::process::id() % 17) + u64::from(attempt) * 13;
            std::thread::sleep(Duration::from_millis((20 << attempt.min(6)) + jitter));
        }
        let (state, version) = State::load(storage)?;
        // A dataset only moves forward in time: an explicit as_of before the last run's
        // is refused before anything is written; the clock is never taken as earlier.
        let as_of = match (settings.as_of, state.last_as_of) {
            (Some(as_of), Some(last)) if as_of < last => {
                return Err(RunError::AsOfBeforeLastRun {
                    as_of: format_rfc3339_millis(as_of),
                    last_as_of: format_rfc3339_millis(last),
                });
            }
            (Some(as_of), _) => as_of,
            (None, last) => last.map_or(now, |last| last.max(now)),
        };
        let context = AttemptContext {
            policy,
            storage,
            inputs: &inputs,
            rejects: &rejects,
            as_of,
            outbox: settings.outbox,
        };
        let attempted = correlate_into(&context, state, &lost)?;
        let Attempt {
            state,
            wrote,
            touched,
            correlation,
            new_findings,
            duplicate_events,
            duplicate_records,
            rehydrated,
            rejects_seen_before,
            partitions_rewritten,
        } = attempted;
        if !state.save_if(storage, version.as_deref())? {
            lost.written.push(wrote);
            lost.session_dts.extend(touched.0);
            lost.finding_dts.extend(touched.1);
            continue;
        }
        let mut summary = RunSummary {
            out: storage.locate(""),
            as_of,
            cloudtrail: inputs.cloudtrail.stats,
            broker: inputs.broker.stats,
            duplicate_events,
            duplicate_records,
            rehydrated,
            repeated_starts: correlation.repeated_starts.len() as u64,
            failed_controls: correlation.failed_controls.len() as u64,
            rejects,
            rejects_seen_before,
            skipped_files: inputs
                .cloudtrail
                .skipped_files
                .iter()
                .chain(&inputs.broker.skipped_files)
                .cloned()
                .collect(),
            sessions_by_status: BTreeMap::new(),
            findings_by_rule: BTreeMap::new(),
            findings_by_severity: BTreeMap::new(),
            new_findings,
            partitions_rewritten,
            lost_races: attempt,
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
        return Ok(summary);
    }
    Err(RunError::Contended {
        location: storage.locate(STATE_FILE),
        attempts: MAX_ATTEMPTS,
    })
}

/// The keys a record may be known by in the cold index: its session id, its own id
/// (`eventID`, `broker:<request_id>`) and its SSM request id alias (`req:<id>`).
fn event_lookup_keys(event: &SessionEvent) -> impl Iterator<Item = String> + '_ {
    let request = (event.event_name == SessionEventName::StartSession)
        .then_some(event.request_id.as_deref())
        .flatten();
    event
        .session_id
        .clone()
        .into_iter()
        .chain([event.event_id.clone()])
        .chain(request.map(|r| format!("req:{r}")))
}

fn record_lookup_keys(record: &BrokerRecord) -> impl Iterator<Item = String> + '_ {
    record
        .session_id
        .clone()
        .into_iter()
        .chain([format!("broker:{}", record.request_id)])
        .chain(record.ssm_request_id.as_deref().map(|r| format!("req:{r}")))
}

/// Brings back from the archive every cold key that a record of `inputs` belongs to,
/// and, in turn, the keys their records belong to: its records rejoin the state and its
/// rows' places rejoin `written`, so the run recomputes those sessions from everything
/// ever seen. Returns each rehydrated key with the archive partition it came from.
fn rehydrate(
    storage: &dyn Storage,
    state: &mut State,
    inputs: &Inputs,
) -> Result<BTreeMap<String, String>, RunError> {
    let mut brought: BTreeMap<String, String> = BTreeMap::new();
    if state.cold.is_empty() {
        return Ok(brought);
    }
    let mut hot_events: HashSet<String> = state.events.iter().map(|e| e.event_id.clone()).collect();
    let mut hot_records: HashSet<String> =
        state.records.iter().map(|r| r.request_id.clone()).collect();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for event in &inputs.cloudtrail.events {
        if !hot_events.contains(&event.event_id) {
            wanted.extend(event_lookup_keys(event));
        }
    }
    for record in &inputs.broker.records {
        if !hot_records.contains(&record.request_id) {
            wanted.extend(record_lookup_keys(record));
        }
    }
    loop {
        let keys: BTreeSet<String> = wanted
            .iter()
            .filter_map(|k| {
                if state.cold.contains_key(k) {
                    Some(k.clone())
                } else {
                    state
                        .aliases
                        .get(k)
                        .filter(|key| state.cold.contains_key(*key))
                        .cloned()
                }
            })
            .collect();
        wanted.clear();
        if keys.is_empty() {
            return Ok(brought);
        }
        let mut by_dt: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for key in keys {
            let Some(cold) = state.cold.remove(&key) else {
                continue;
            };
            let hot = state.written.entry(key.clone()).or_default();
            if hot.session_dt.is_none() {
                hot.session_dt = cold.written.session_dt;
            }
            for finding in cold.written.findings {
                if !hot.findings.contains(&finding) {
                    hot.findings.push(finding);
                }
            }
            by_dt
                .entry(cold.archive_dt.clone())
                .or_default()
                .push(key.clone());
            brought.insert(key, cold.archive_dt);
        }
        for (dt, keys) in by_dt {
            let mut archive = archive::load(storage, &dt)?;
            for key in keys {
                let Some(archived) = archive.remove(&key) else {
                    continue;
                };
                for event in archived.events {
                    if hot_events.insert(event.event_id.clone()) {
                        wanted.extend(event_lookup_keys(&event));
                        state.events.push(event);
                    }
                }
                for record in archived.records {
                    if hot_records.insert(record.request_id.clone()) {
                        wanted.extend(record_lookup_keys(&record));
                        state.records.push(record);
                    }
                }
            }
        }
    }
}

/// A reject's identity across runs: the same bad input read again is the same reject.
fn reject_fingerprint(reject: &Reject) -> String {
    let text = format!(
        "{}\u{1f}{}\u{1f}{:?}\u{1f}{:?}\u{1f}{}",
        reject.kind.as_str(),
        reject.location.file,
        reject.location.line,
        reject.location.byte_offset,
        reject.reason
    );
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// What the attempts of a run that lost the race for the state wrote.
#[derive(Debug, Default)]
struct LostAttempts {
    /// Where they put rows, by session key.
    written: Vec<BTreeMap<String, Written>>,
    /// Every partition they rewrote: keeping rows of keys unknown to them, they may
    /// have put back rows another run had just replaced.
    session_dts: BTreeSet<String>,
    finding_dts: BTreeSet<String>,
}

/// What one attempt works with.
struct AttemptContext<'a> {
    policy: &'a Policy,
    storage: &'a dyn Storage,
    inputs: &'a Inputs,
    rejects: &'a [Reject],
    as_of: EpochMillis,
    outbox: bool,
}

/// One attempt's result, saved only if no other run saved the state meanwhile.
struct Attempt {
    state: State,
    /// Where this attempt wrote rows (before pruning the state).
    wrote: BTreeMap<String, Written>,
    /// The session and finding partitions it rewrote.
    touched: (BTreeSet<String>, BTreeSet<String>),
    correlation: Correlation,
    new_findings: Vec<Finding>,
    duplicate_events: u64,
    duplicate_records: u64,
    rehydrated: u64,
    rejects_seen_before: u64,
    partitions_rewritten: u64,
}

fn correlate_into(
    context: &AttemptContext<'_>,
    mut state: State,
    lost: &LostAttempts,
) -> Result<Attempt, RunError> {
    let AttemptContext {
        policy,
        storage,
        inputs,
        rejects,
        as_of,
        outbox: keep_outbox,
    } = *context;
    // Sessions beyond retention that this run's records belong to come back first, so
    // a record read again is a duplicate and a late counterpart joins its session.
    let rehydrated = rehydrate(storage, &mut state, inputs)?;
    // Records with the same eventID / request_id are one record, across runs too.
    let mut events = std::mem::take(&mut state.events);
    let mut seen: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let mut duplicate_events = 0;
    for event in &inputs.cloudtrail.events {
        if seen.insert(event.event_id.clone()) {
            events.push(event.clone());
        } else {
            duplicate_events += 1;
        }
    }
    let mut records = std::mem::take(&mut state.records);
    let mut seen: HashSet<String> = records.iter().map(|r| r.request_id.clone()).collect();
    let mut duplicate_records = 0;
    for record in &inputs.broker.records {
        if seen.insert(record.request_id.clone()) {
            records.push(record.clone());
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

    let mut correlation = correlate(&events, &records, policy, as_of);
    let mut announced = std::mem::take(&mut state.announced);
    // Tokens outside broker records: kept while recent, each a finding.
    let mut leaks = std::mem::take(&mut state.leaks);
    for leak in &inputs.broker.leaks {
        if !leaks.contains(leak) {
            leaks.push(leak.clone());
        }
    }
    leaks.sort();
    let leak_findings = leak_findings(
        &leaks,
        &correlation.sessions,
        |id| announced.get(id).copied(),
        as_of,
    );
    if !leak_findings.is_empty() {
        correlation.findings.extend(leak_findings);
        correlation
            .findings
            .sort_by(|a, b| (a.event_time, &a.finding_id).cmp(&(b.event_time, &b.finding_id)));
    }
    let new_findings: Vec<Finding> = correlation
        .findings
        .iter()
        .filter(|f| !announced.contains_key(&f.finding_id))
        .cloned()
        .collect();
    for finding in &new_findings {
        announced.insert(finding.finding_id.clone(), finding.event_time);
    }
    let mut previous = vec![&state.written];
    previous.extend(lost.written.iter());
    let scope = RewriteScope {
        previous,
        lost_session_dts: &lost.session_dts,
        lost_finding_dts: &lost.finding_dts,
        live_from: watermark.map(|w| w.saturating_sub(policy.retention.as_millis() as i64)),
        resolving: rehydrated
            .keys()
            .filter_map(|key| state.written.get(key))
            .flat_map(|w| w.findings.iter().map(|(id, _)| id.clone()))
            .collect(),
        as_of,
    };
    let (written, touched, partitions_rewritten) = write_dataset(storage, &correlation, &scope)?;
    let mut rejected = std::mem::take(&mut state.rejected);
    let fresh_rejects: Vec<Reject> = rejects
        .iter()
        .filter(|r| !rejected.contains(&reject_fingerprint(r)))
        .cloned()
        .collect();
    let rejects_seen_before = (rejects.len() - fresh_rejects.len()) as u64;
    let rejects_rewritten = write_rejects(storage, as_of, &fresh_rejects)?;
    rejected.extend(rejects.iter().map(reject_fingerprint));

    let mut outbox = std::mem::take(&mut state.outbox);
    if keep_outbox {
        outbox.extend(new_findings.iter().map(Finding::to_json));
    }
    let wrote = written.clone();
    let (state, archive_writes) = prune(
        State {
            watermark,
            events,
            records,
            written,
            outbox,
            announced,
            last_as_of: Some(state.last_as_of.map_or(as_of, |last| last.max(as_of))),
            cold: state.cold,
            aliases: state.aliases,
            rejected,
            leaks,
        },
        &correlation,
        policy.retention,
        &rehydrated,
    );
    let mut archives_rewritten = 0;
    for (dt, (put, remove)) in &archive_writes {
        archives_rewritten += u64::from(archive::update(storage, dt, put, remove)?);
    }
    Ok(Attempt {
        state,
        wrote,
        touched,
        correlation,
        new_findings,
        duplicate_events,
        duplicate_records,
        rehydrated: rehydrated.len() as u64,
        rejects_seen_before,
        partitions_rewritten: partitions_rewritten
            + u64::from(rejects_rewritten)
            + archives_rewritten,
    })
}

/// Replaces the rows of every session key this run computed (and of keys the previous
/// run wrote that no longer exist), partition by partition. `previous` holds where the
/// state says rows are, and where this run's own attempts that lost a race wrote them.
/// What a rewrite of the dataset must cover besides this run's own rows.
struct RewriteScope<'a> {
    /// Where the state says rows are, and where this run's lost attempts put them.
    previous: Vec<&'a BTreeMap<String, Written>>,
    /// Partitions this run's lost attempts rewrote.
    lost_session_dts: &'a BTreeSet<String>,
    lost_finding_dts: &'a BTreeSet<String>,
    /// Rows at or after this instant are all in the correlation (the state keeps every
    /// record of that window): a rewritten partition keeps none of its old ones, so a
    /// row another run's stale view wrote cannot survive. Older rows are kept unless
    /// their key is replaced.
    live_from: Option<EpochMillis>,
    /// Findings of sessions brought back from beyond retention: one the correlation no
    /// longer raises is kept, marked resolved at `as_of`, never deleted.
    resolving: HashSet<String>,
    as_of: EpochMillis,
}

/// The new `written` map, the partitions rewritten (sessions, findings), and how many
/// files changed.
type Rewritten = (
    BTreeMap<String, Written>,
    (BTreeSet<String>, BTreeSet<String>),
    u64,
);

fn write_dataset(
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
        let order = [
            "start_time",
            "session_id",
            "cloudtrail_event_id",
            "broker_request_id",
        ];
        rewritten += u64::from(rewrite_partition(&sessions, dt, keep, fresh, &order, Ok)?);
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
        let order = ["event_time", "finding_id"];
        rewritten += u64::from(rewrite_partition(
            &findings, dt, keep, fresh, &order, resolve,
        )?);
    }
    Ok((written, (session_dts, finding_dts), rewritten))
}

/// Rewrites one partition: its rows that `keep` accepts (one flag per row) and `fresh`,
/// sorted by `order`. Returns whether the stored file changed.
fn rewrite_partition(
    table: &Table<'_>,
    dt: &str,
    keep: impl Fn(&RecordBatch) -> Vec<bool>,
    fresh: Result<RecordBatch, datafusion::arrow::error::ArrowError>,
    order: &[&str],
    amend: impl Fn(RecordBatch) -> Result<RecordBatch, datafusion::arrow::error::ArrowError>,
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
    let merged = merge(
        &table.schema,
        &[kept, fresh.map_err(arrow)?],
        order,
        table.name,
    )?;
    Ok(table.write_partition(dt, &merged, current.as_deref())?)
}

/// Marks the kept findings of `resolving` that are still open as resolved at `as_of`.
fn resolve_withdrawn(
    kept: RecordBatch,
    resolving: &HashSet<String>,
    as_of: EpochMillis,
) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
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
fn write_rejects(
    storage: &dyn Storage,
    as_of: EpochMillis,
    rejects: &[Reject],
) -> Result<bool, RunError> {
    if rejects.is_empty() {
        return Ok(false);
    }
    let table = Table::new(storage, "rejects", rejects_schema());
    let dt = utc_date(as_of);
    let (existing, current) = table.read_partition_for_rewrite(&dt)?;
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
    Ok(table.write_partition(&dt, &unique, current.as_deref())?)
}

/// What [`prune`] moves to the archive: per partition, the records to put by key and
/// the keys to remove (rehydrated keys now archived elsewhere).
type ArchiveWrites = BTreeMap<String, (BTreeMap<String, Archived>, BTreeSet<String>)>;

/// Keeps what later runs need in the state: every record of a session active within
/// `retention` of the watermark (or still pending), and recent records not tied to any
/// session. Everything else moves to the archive and the cold index, never away:
/// sessions by their key, records of no session (a Terminate whose start has not been
/// seen) by the session id they name.
fn prune(
    mut state: State,
    correlation: &Correlation,
    retention: Duration,
    rehydrated: &BTreeMap<String, String>,
) -> (State, ArchiveWrites) {
    let mut writes = ArchiveWrites::new();
    let Some(watermark) = state.watermark else {
        return (state, writes);
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
    // Which key each record goes cold under.
    let mut event_owner: HashMap<&str, &str> = HashMap::new();
    let mut record_owner: HashMap<&str, &str> = HashMap::new();
    for (key, owner) in &correlation.owners {
        for id in &owner.event_ids {
            event_owner.entry(id.as_str()).or_insert(key.as_str());
        }
        for id in &owner.request_ids {
            record_owner.entry(id.as_str()).or_insert(key.as_str());
        }
    }
    let mut going: BTreeMap<String, Archived> = BTreeMap::new();
    let mut hot_events = Vec::new();
    for event in std::mem::take(&mut state.events) {
        let home = match event_owner.get(event.event_id.as_str()) {
            Some(key) if live.contains(&key.to_string()) => None,
            Some(key) => Some(key.to_string()),
            None if event.event_time >= cutoff => None,
            None => Some(
                event
                    .session_id
                    .clone()
                    .unwrap_or_else(|| event.event_id.clone()),
            ),
        };
        match home {
            None => hot_events.push(event),
            Some(key) => going.entry(key).or_default().events.push(event),
        }
    }
    let mut hot_records = Vec::new();
    for record in std::mem::take(&mut state.records) {
        let home = match record_owner.get(record.request_id.as_str()) {
            Some(key) if live.contains(&key.to_string()) => None,
            Some(key) => Some(key.to_string()),
            None if record.ts >= cutoff => None,
            None => Some(format!("broker:{}", record.request_id)),
        };
        match home {
            None => hot_records.push(record),
            Some(key) => going.entry(key).or_default().records.push(record),
        }
    }
    state.events = hot_events;
    state.records = hot_records;
    // A leak's finding row stays in the dataset; the leak itself is needed only while
    // its finding is in the live window.
    let leak_times: HashMap<String, EpochMillis> = correlation
        .findings
        .iter()
        .filter(|f| f.owner.starts_with("leak:"))
        .map(|f| (f.owner.clone(), f.event_time))
        .collect();
    state
        .leaks
        .retain(|l| leak_times.get(&leak_key(l)).is_none_or(|t| *t >= cutoff));
    for (key, archived) in going {
        let written = state.written.remove(&key).unwrap_or_default();
        let earliest = archived
            .events
            .iter()
            .map(|e| e.event_time)
            .chain(archived.records.iter().map(|r| r.ts))
            .min()
            .unwrap_or(watermark);
        let archive_dt = written
            .session_dt
            .clone()
            .unwrap_or_else(|| utc_date(earliest));
        for event in &archived.events {
            if event.event_name == SessionEventName::StartSession
                && let Some(request_id) = &event.request_id
            {
                state
                    .aliases
                    .insert(format!("req:{request_id}"), key.clone());
            }
        }
        for record in &archived.records {
            if let Some(request_id) = &record.ssm_request_id {
                state
                    .aliases
                    .insert(format!("req:{request_id}"), key.clone());
            }
        }
        if let Some(from) = rehydrated.get(&key)
            && *from != archive_dt
        {
            writes
                .entry(from.clone())
                .or_default()
                .1
                .insert(key.clone());
        }
        // A key already cold (not brought back) keeps its partition; records only add.
        let previous = state.cold.remove(&key);
        let archive_dt = previous
            .as_ref()
            .map_or(archive_dt, |p| p.archive_dt.clone());
        let mut written = written;
        if let Some(previous) = previous {
            written.session_dt = written.session_dt.or(previous.written.session_dt);
            for finding in previous.written.findings {
                if !written.findings.contains(&finding) {
                    written.findings.push(finding);
                }
            }
        }
        writes
            .entry(archive_dt.clone())
            .or_default()
            .0
            .insert(key.clone(), archived);
        state.cold.insert(
            key,
            Cold {
                archive_dt,
                written,
            },
        );
    }
    // Keys that no longer exist (absorbed into another session): their rows are gone.
    state
        .written
        .retain(|key, _| live.contains(key) || correlation.owners.contains_key(key));
    state
        .events
        .sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    state
        .records
        .sort_by(|a, b| (a.ts, &a.request_id).cmp(&(b.ts, &b.request_id)));
    (state, writes)
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
        if ct.digest_or_insight_files > 0 {
            writeln!(
                f,
                "               {} CloudTrail-Digest / CloudTrail-Insight files not read (not session events)",
                ct.digest_or_insight_files
            )?;
        }
        if !self.skipped_files.is_empty() {
            writeln!(
                f,
                "  skipped      {} files no reader reads; first ones:",
                self.skipped_files.len()
            )?;
            for skipped in self.skipped_files.iter().take(5) {
                writeln!(f, "               {}: {}", skipped.path, skipped.reason)?;
            }
        }
        if self.rehydrated > 0 {
            writeln!(
                f,
                "  archive      {} sessions past retention brought back from state/archive/ (their records were read again, or a late counterpart arrived)",
                self.rehydrated
            )?;
        }
        if self.repeated_starts > 0 || self.failed_controls > 0 {
            writeln!(
                f,
                "  kept         {} StartSession records repeating an earlier session id (the earliest is the session), {} failed Resume/TerminateSession calls (change no session)",
                self.repeated_starts, self.failed_controls
            )?;
        }
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
            self.out, self.partitions_rewritten
        )?;
        if !self.rejects.is_empty() {
            let seen = match self.rejects_seen_before {
                0 => String::new(),
                n => format!(", {n} of them recorded by an earlier run"),
            };
            writeln!(
                f,
                "  rejects      {} records could not be read{seen} (new ones in {}/rejects/dt={}/; `sessiontrail query` table rejects); first ones:",
                self.rejects.len(),
                self.out.trim_end_matches('/'),
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
