//! One `correlate` run: read the inputs, merge them with the state, correlate,
//! rewrite the touched partitions, record rejects, save the state; started over when
//! another run saved the state first.
//!
//! The steps live by concern: bringing sessions back from the archive and pruning the
//! state in [`crate::state`], rewriting partitions in `crate::rewrite`, what the run did
//! in [`crate::summary`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sessiontrail_ingest::reject::Reject;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis};
use sessiontrail_ingest::{BrokerRead, CloudTrailRead, RecordSource};
use sessiontrail_ingest::{
    IngestError, read_broker_log_paths, read_cloudtrail_paths_with_progress,
};

use crate::archive;
use crate::correlation::{Correlation, correlate, leak_findings};
use crate::dataset::DatasetError;
use crate::evidence::{EvidenceInput, s3_key_of};
use crate::finding::Finding;
use crate::policy::Policy;
use crate::rewrite::{RewriteScope, write_dataset, write_evidence, write_rejects};
use crate::state::{STATE_FILE, State, StateError, Written, prune, rehydrate};
use crate::storage::{LocalStorage, Storage, StorageError};
pub use crate::summary::RunSummary;

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
    /// What checking the CloudTrail log files against their digests found
    /// (`correlate --verify`), to record in `evidence/`.
    pub evidence: Option<EvidenceInput>,
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

/// Reads the local inputs of `options` and correlates them into the folder `options.out`.
pub fn run(policy: &Policy, options: &RunOptions) -> Result<RunSummary, RunError> {
    let started = Instant::now();
    let inputs = read_local_inputs(options)?;
    let settings = RunSettings {
        as_of: options.as_of,
        outbox: false,
    };
    let storage = LocalStorage::for_run(&options.out);
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
    Ok(Inputs {
        cloudtrail,
        broker,
        evidence: None,
    })
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
            lost.evidence_dts.extend(touched.2);
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
        summary.count_window(&correlation);
        return Ok(summary);
    }
    Err(RunError::Contended {
        location: storage.locate(STATE_FILE),
        attempts: MAX_ATTEMPTS,
    })
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
    evidence_dts: BTreeSet<String>,
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
    /// The session, finding and evidence partitions it rewrote.
    touched: (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>),
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
    let rehydrated = rehydrate(
        storage,
        &mut state,
        &inputs.cloudtrail.events,
        &inputs.broker.records,
    )?;
    // Records with the same eventID / request_id are one record, across runs too. Of
    // its copies (CloudTrail redelivers; a log is read twice), the row names the one
    // whose place sorts first, whichever run read it: the same as one run over all.
    // A copy in a CloudTrail log file comes before one from EventBridge or LookupEvents
    // (the log file is what a digest can prove), and log files sort by their S3 key,
    // wherever the copy lives (a bucket, a local sync of it).
    let mut events = std::mem::take(&mut state.events);
    let duplicate_events = merge_copies(&mut events, &inputs.cloudtrail.events, |e| {
        (&e.event_id, cloudtrail_place(e.source.as_ref()))
    });
    let mut records = std::mem::take(&mut state.records);
    let duplicate_records = merge_copies(&mut records, &inputs.broker.records, |r| {
        let place = r
            .source
            .as_ref()
            .map(|s| (false, s.file.as_str(), s.byte_offset));
        (&r.request_id, place)
    });
    let watermark = events
        .iter()
        .map(|e| e.event_time)
        .chain(records.iter().map(|r| r.ts))
        .chain(state.watermark)
        .max()
        .map(|w| w.min(as_of));

    let mut correlation = correlate(&events, &records, policy, as_of);
    // What digest checks found, this run's merged into the earlier ones: each session
    // row says whether its record's file verified, and failed checks are findings.
    let mut evidence = std::mem::take(&mut state.evidence);
    let mut evidence_dts = lost.evidence_dts.clone();
    if let Some(input) = &inputs.evidence {
        evidence_dts.extend(evidence.record(input, as_of));
    }
    for session in &mut correlation.sessions {
        session.cloudtrail_evidence = session
            .cloudtrail_file
            .as_deref()
            .and_then(|file| evidence.status_of(file))
            .map(|record| record.status);
    }
    correlation.findings.extend(evidence.findings());
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
    correlation.findings.extend(leak_findings);
    correlation
        .findings
        .sort_by(|a, b| (a.event_time, &a.finding_id).cmp(&(b.event_time, &b.finding_id)));
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
    // The evidence table is written beside the sessions and findings (other files; the
    // state, saved after both, is what commits them).
    let (dataset, evidence_rewritten) = std::thread::scope(|threads| {
        let evidence_written = threads.spawn(|| write_evidence(storage, &evidence, &evidence_dts));
        let dataset = write_dataset(storage, &correlation, &scope);
        let evidence_rewritten = evidence_written
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (dataset, evidence_rewritten)
    });
    let (written, (session_dts, finding_dts), partitions_rewritten) = dataset?;
    let evidence_rewritten = evidence_rewritten?;
    let touched = (session_dts, finding_dts, evidence_dts);
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
            evidence,
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
            + archives_rewritten
            + evidence_rewritten,
    })
}

/// Where a CloudTrail record copy sorts among its copies: (not from a log file, the log
/// file's S3 key from `AWSLogs/` on or else the name it was read under, byte offset).
fn cloudtrail_place(source: Option<&RecordSource>) -> Option<(bool, &str, u64)> {
    source.map(|s| match s3_key_of(&s.file) {
        Some(key) => (false, key, s.byte_offset),
        None => (true, s.file.as_str(), s.byte_offset),
    })
}

/// Adds `new` to `kept`, one item per identity: a copy of an item already kept replaces
/// it when its place sorts first (a copy with a place before one without). `key` gives
/// (identity, place). Returns how many of `new` were copies.
fn merge_copies<T: Clone>(
    kept: &mut Vec<T>,
    new: &[T],
    key: impl Fn(&T) -> (&String, Option<(bool, &str, u64)>),
) -> u64 {
    let mut at: HashMap<String, usize> = kept
        .iter()
        .enumerate()
        .map(|(i, item)| (key(item).0.clone(), i))
        .collect();
    let mut copies = 0;
    for item in new {
        let (id, place) = key(item);
        match at.get(id) {
            None => {
                at.insert(id.clone(), kept.len());
                kept.push(item.clone());
            }
            Some(&i) => {
                copies += 1;
                let earlier = match (place, key(&kept[i]).1) {
                    (Some(new), Some(old)) => new < old,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if earlier {
                    kept[i] = item.clone();
                }
            }
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(id: &str, file: &str, offset: u64) -> (String, Option<RecordSource>) {
        let source = RecordSource {
            file: file.to_owned(),
            byte_offset: offset,
            line: 1,
        };
        (id.to_owned(), Some(source))
    }

    fn merged(batches: &[&[(String, Option<RecordSource>)]]) -> Vec<(String, String, u64)> {
        let mut kept = Vec::new();
        for batch in batches {
            merge_copies(&mut kept, batch, |(id, source)| {
                (id, cloudtrail_place(source.as_ref()))
            });
        }
        let mut out: Vec<_> = kept
            .into_iter()
            .map(|(id, s)| {
                let s = s.unwrap();
                (id, s.file, s.byte_offset)
            })
            .collect();
        out.sort();
        out
    }

    const EARLY: &str = "s3://b/AWSLogs/1/CloudTrail/eu-west-1/2026/02/01/1_CloudTrail_eu-west-1_20260201T0100Z_a.json.gz";
    const LATE: &str = "/sync/AWSLogs/1/CloudTrail/eu-west-1/2026/02/01/1_CloudTrail_eu-west-1_20260201T0105Z_b.json.gz";

    /// Whichever order the copies come in, in one run or several, the one kept is the
    /// same: in a log file before from EventBridge, by S3 key (a bucket and a local
    /// copy alike), then offset.
    #[test]
    fn the_copy_kept_does_not_depend_on_arrival_order() {
        let copies = [
            copy("e1", "eventbridge:ct-e1", 0),
            copy("e1", LATE, 40),
            copy("e1", EARLY, 900),
            copy("e1", EARLY, 12),
            copy("e2", "eventbridge:ct-e2", 0),
        ];
        let expected = vec![
            ("e1".to_owned(), EARLY.to_owned(), 12),
            ("e2".to_owned(), "eventbridge:ct-e2".to_owned(), 0),
        ];
        let mut order: Vec<usize> = (0..copies.len()).collect();
        for rotation in 0..copies.len() {
            order.rotate_left(1);
            let shuffled: Vec<_> = order.iter().map(|&i| copies[i].clone()).collect();
            assert_eq!(merged(&[&shuffled]), expected, "rotation {rotation}");
            let reversed: Vec<_> = shuffled.iter().rev().cloned().collect();
            assert_eq!(merged(&[&reversed]), expected, "reversed {rotation}");
            // Split over runs: one copy per run.
            let runs: Vec<Vec<_>> = shuffled.iter().map(|c| vec![c.clone()]).collect();
            let runs: Vec<&[_]> = runs.iter().map(Vec::as_slice).collect();
            assert_eq!(merged(&runs), expected, "runs {rotation}");
        }
        // A local copy of a key sorts with its S3 copy: the earlier key wins either way.
        let local_early = EARLY.replace("s3://b/", "/sync/");
        assert_eq!(
            merged(&[&[copy("e1", LATE, 0), copy("e1", &local_early, 50)]]),
            vec![("e1".to_owned(), local_early, 50)]
        );
        // A copy that says where it was read replaces one that does not (older state).
        let mut kept = vec![("e1".to_owned(), None)];
        let copies = merge_copies(&mut kept, &[copy("e1", LATE, 3)], |(id, source)| {
            (id, cloudtrail_place(source.as_ref()))
        });
        assert_eq!(copies, 1);
        assert_eq!(kept[0].1.as_ref().unwrap().file, LATE);
    }
}
