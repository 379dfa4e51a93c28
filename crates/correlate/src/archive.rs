//! The records of sessions that left the retention window:
//! `OUT/state/archive/dt=YYYY-MM-DD.jsonl.gz`.
//!
//! The state keeps every record of a session while it is active within `retention`;
//! when the session leaves that window its records move here, grouped by the session's
//! key in the partition of its row (the state's [`crate::state::Cold`] index says
//! which). A later run that reads one of those records again (a rerun of an old day, a
//! re-uploaded log file) or a late counterpart (a broker record weeks late) loads the
//! key's records back before correlating, so its rows are recomputed from everything
//! ever seen, never from the new record alone.
//!
//! Each file is one gzipped JSON-lines object, lines sorted by key and record id, one
//! line per record: `{"key":"...","event":{...}}` or `{"key":"...","record":{...}}`.
//! Like the partitions, it is written before the state (the commit point): a run that
//! dies or loses the race on the state leaves lines the state does not point at, which
//! only add records that were read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};

use serde::{Deserialize, Serialize};
use sessiontrail_ingest::{BrokerRecord, SessionEvent};

use crate::state::StateError;
use crate::storage::Storage;

/// The records of one key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Archived {
    pub events: Vec<SessionEvent>,
    pub records: Vec<BrokerRecord>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<SessionEvent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<BrokerRecord>,
}

/// The storage key of an archive partition.
pub fn archive_key(dt: &str) -> String {
    format!("state/archive/dt={dt}.jsonl.gz")
}

/// Everything in one archive partition, by key (empty when it does not exist).
pub fn load(storage: &dyn Storage, dt: &str) -> Result<BTreeMap<String, Archived>, StateError> {
    let key = archive_key(dt);
    let Some(stored) = storage.get(&key)? else {
        return Ok(BTreeMap::new());
    };
    decode(&stored.bytes, &storage.locate(&key))
}

fn decode(bytes: &[u8], location: &str) -> Result<BTreeMap<String, Archived>, StateError> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(bytes));
    let mut out: BTreeMap<String, Archived> = BTreeMap::new();
    for (index, line) in reader.lines().enumerate() {
        let corrupt = |message: String| StateError::Corrupt {
            location: location.to_string(),
            line: index + 1,
            message,
        };
        let line = line.map_err(|e| corrupt(e.to_string()))?;
        let line: Line = serde_json::from_str(&line).map_err(|e| corrupt(e.to_string()))?;
        let entry = out.entry(line.key).or_default();
        match (line.event, line.record) {
            (Some(event), None) => entry.events.push(event),
            (None, Some(record)) => entry.records.push(record),
            _ => {
                return Err(corrupt(
                    "a line holds neither or both of event and record".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Adds, in partition `dt`, the records of every key of `put` to those it holds (records
/// are facts: one line per record id and key, never replaced) and drops the keys of
/// `remove` (keys now archived in another partition). Writes nothing when the content
/// would not change.
pub fn update(
    storage: &dyn Storage,
    dt: &str,
    put: &BTreeMap<String, Archived>,
    remove: &BTreeSet<String>,
) -> Result<bool, StateError> {
    let key = archive_key(dt);
    let location = storage.locate(&key);
    let stored = storage.get(&key)?;
    let mut all = match &stored {
        Some(stored) => decode(&stored.bytes, &location)?,
        None => BTreeMap::new(),
    };
    all.values_mut().for_each(Archived::normalize);
    let before = all.clone();
    all.retain(|k, _| !remove.contains(k));
    for (k, archived) in put {
        let entry = all.entry(k.clone()).or_default();
        entry.events.extend(archived.events.iter().cloned());
        entry.records.extend(archived.records.iter().cloned());
        entry.normalize();
    }
    if all == before {
        return Ok(false);
    }
    if all.is_empty() {
        storage.delete(&key)?;
        return Ok(true);
    }
    let bytes = encode(&all).map_err(|source| StateError::Encode { location, source })?;
    storage.put(&key, &bytes)?;
    Ok(true)
}

impl Archived {
    /// Sorted by id, one of each id (the first seen of identical ids is kept).
    fn normalize(&mut self) {
        self.events.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        self.events.dedup_by(|a, b| a.event_id == b.event_id);
        self.records.sort_by(|a, b| a.request_id.cmp(&b.request_id));
        self.records.dedup_by(|a, b| a.request_id == b.request_id);
    }
}

fn encode(all: &BTreeMap<String, Archived>) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (key, archived) in all {
        let mut archived = archived.clone();
        archived.normalize();
        let Archived { events, records } = archived;
        for event in events {
            let line = Line {
                key: key.clone(),
                event: Some(event),
                record: None,
            };
            serde_json::to_writer(&mut gz, &line)?;
            gz.write_all(b"\n")?;
        }
        for record in records {
            let line = Line {
                key: key.clone(),
                event: None,
                record: Some(record),
            };
            serde_json::to_writer(&mut gz, &line)?;
            gz.write_all(b"\n")?;
        }
    }
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_sorted_and_deduplicated() {
        let event = |id: &str| SessionEvent {
            event_id: id.to_string(),
            event_name: sessiontrail_ingest::SessionEventName::TerminateSession,
            event_time: 1,
            event_version: None,
            account_id: None,
            region: None,
            request_id: None,
            principal_type: None,
            principal_arn: None,
            issuer_arn: None,
            issuer_name: None,
            session_id: Some("s-1".into()),
            target: None,
            document_name: None,
            error_code: None,
            source_ip: None,
            user_agent: None,
            source_identity: None,
            on_behalf_of_user_id: None,
            on_behalf_of_identity_store_arn: None,
            reason: None,
            source: None,
        };
        let mut all = BTreeMap::new();
        all.insert(
            "s-1".to_string(),
            Archived {
                events: vec![event("e-2"), event("e-1"), event("e-2")],
                records: vec![],
            },
        );
        let decoded = decode(&encode(&all).unwrap(), "test").unwrap();
        let ids: Vec<&str> = decoded["s-1"]
            .events
            .iter()
            .map(|e| e.event_id.as_str())
            .collect();
        assert_eq!(ids, ["e-1", "e-2"]);
    }
}
