//! Pruning the state after a run: what later runs no longer need at hand moves to the
//! archive (`state/archive/`) and the cold index, never away.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use sessiontrail_ingest::SessionEventName;
use sessiontrail_ingest::time::{EpochMillis, utc_date};

use super::{Cold, State};
use crate::archive::Archived;
use crate::correlation::{Correlation, leak_key};
use crate::status::SessionStatus;

/// What [`prune`] moves to the archive: per partition, the records to put by key and
/// the keys to remove (rehydrated keys now archived elsewhere).
pub(crate) type ArchiveWrites = BTreeMap<String, (BTreeMap<String, Archived>, BTreeSet<String>)>;

/// Keeps what later runs need in the state: every record of a session active within
/// `retention` of the watermark (or still pending), and recent records not tied to any
/// session. Everything else moves to the archive and the cold index, never away:
/// sessions by their key, records of no session (a Terminate whose start has not been
/// seen) by the session id they name.
pub(crate) fn prune(
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
    // Evidence within retention stays at hand; older rows stay in `evidence/`.
    state.evidence.prune(cutoff);
    // Keys that no longer exist (absorbed into another session): their rows are gone.
    // A file's findings are kept track of while its evidence is in the state.
    let evidence = &state.evidence;
    state.written.retain(|key, _| {
        live.contains(key) || correlation.owners.contains_key(key) || evidence.owns(key)
    });
    state
        .events
        .sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    state
        .records
        .sort_by(|a, b| (a.ts, &a.request_id).cmp(&(b.ts, &b.request_id)));
    (state, writes)
}
