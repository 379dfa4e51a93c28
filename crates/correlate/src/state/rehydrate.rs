//! Rehydrating the state before a run: sessions that left the retention window come
//! back from the archive when a run meets one of their records again (or a late
//! counterpart), so the run recomputes them from everything ever seen. The inverse of
//! `prune`, which puts them there under the same keys.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use sessiontrail_ingest::{BrokerRecord, SessionEvent, SessionEventName};

use super::{State, StateError};
use crate::archive;
use crate::storage::Storage;

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

/// Brings back from the archive every cold key that one of `events` or `records` (a
/// run's inputs) belongs to, and, in turn, the keys their records belong to: its records
/// rejoin the state and its rows' places rejoin `written`, so the run recomputes those
/// sessions from everything ever seen. Returns each rehydrated key with the archive
/// partition it came from.
pub(crate) fn rehydrate(
    storage: &dyn Storage,
    state: &mut State,
    events: &[SessionEvent],
    records: &[BrokerRecord],
) -> Result<BTreeMap<String, String>, StateError> {
    let mut brought: BTreeMap<String, String> = BTreeMap::new();
    if state.cold.is_empty() {
        return Ok(brought);
    }
    let mut hot_events: HashSet<String> = state.events.iter().map(|e| e.event_id.clone()).collect();
    let mut hot_records: HashSet<String> =
        state.records.iter().map(|r| r.request_id.clone()).collect();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    for event in events {
        if !hot_events.contains(&event.event_id) {
            wanted.extend(event_lookup_keys(event));
        }
    }
    for record in records {
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
