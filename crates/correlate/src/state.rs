//! What a run leaves for the next: `OUT/state/state.jsonl.gz`.
//!
//! The records later runs still need (every session event and broker record of a
//! session active within `retention` of the watermark, and recent records not yet tied
//! to a session, such as a TerminateSession that arrived before its StartSession),
//! and where each retained session's rows were written, so a run that changes a
//! session can replace them. The watermark is the latest record time seen (never past
//! the run's `as_of`); retention counts back from it, not from the wall clock, so a
//! backfill split over several runs behaves like one run.
//!
//! One gzipped JSON-lines object, replaced atomically after the dataset is written: a
//! run that dies before that leaves the previous state, and rerunning gives the same
//! dataset. It is written with a precondition on the version that was read, so of two
//! runs racing on one dataset (two Lambda invocations) one wins and the other starts
//! over from the winner's state.
//!
//! Between runs the state also moves: `rehydrate` brings back, before a run, the
//! sessions past retention that its records belong to; `prune` moves, after it, what
//! no later run needs at hand to the archive ([`crate::archive`]) and the cold index.

// Steps of a run (feature `dataset`), not of the state's format.
#[cfg(feature = "dataset")]
mod prune;
#[cfg(feature = "dataset")]
mod rehydrate;

#[cfg(feature = "dataset")]
pub(crate) use prune::prune;
#[cfg(feature = "dataset")]
pub(crate) use rehydrate::rehydrate;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};

use serde::{Deserialize, Serialize};
use sessiontrail_ingest::canonical_json::Canonical;
use sessiontrail_ingest::time::EpochMillis;
use sessiontrail_ingest::{BrokerRecord, SessionEvent, TokenLeak};

use crate::evidence::{DigestProblem, EvidenceState, LogFileRecord};
use crate::storage::{Storage, StorageError};

pub const STATE_FILE: &str = "state/state.jsonl.gz";
/// 2 added the cold index, `last_as_of` and the reject fingerprints; a state of format
/// 1 is read as one with nothing cold. 3 added the evidence (`log_file` and
/// `digest_problem` lines); a state of format 2 is read as one with none.
const FORMAT_VERSION: u32 = 3;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct State {
    pub watermark: Option<EpochMillis>,
    pub events: Vec<SessionEvent>,
    pub records: Vec<BrokerRecord>,
    /// Session key -> where its rows are.
    pub written: BTreeMap<String, Written>,
    /// New findings not yet published to an event bus (each a finding's JSON), kept
    /// here so a publisher that dies is followed by one that sends them.
    pub outbox: Vec<serde_json::Value>,
    /// Every finding ever announced (counted in metrics, put in the outbox), with its
    /// event time: a finding is new once, even if it goes away and comes back, however
    /// much later. Never pruned.
    pub announced: BTreeMap<String, EpochMillis>,
    /// The latest `as_of` a run was judged at: an earlier explicit `--as-of` is refused.
    pub last_as_of: Option<EpochMillis>,
    /// Session keys that left the retention window: where their records are archived
    /// ([`crate::archive`]) and where their rows are. A run that meets one of their
    /// records again brings the key back (rehydrates it) before correlating, so the
    /// dataset stays the memory beyond retention.
    pub cold: BTreeMap<String, Cold>,
    /// `req:<SSM request id>` -> the cold key whose records carry that request id (a
    /// StartSession's `requestID`, a broker record's `ssm_request_id`): how a broker
    /// record without a session id finds its session after retention, and back.
    pub aliases: BTreeMap<String, String>,
    /// Fingerprints of every reject already recorded: a bad input read again later is
    /// not recorded again.
    pub rejected: BTreeSet<String>,
    /// Tokens found outside broker records (lines without `v`, rejected records), while
    /// recent: each raises `secret_in_broker_log`; the value itself is never stored.
    pub leaks: Vec<TokenLeak>,
    /// Log files checked against their digests, and failed digest checks, while within
    /// retention of the watermark ([`crate::evidence`]).
    pub evidence: EvidenceState,
}

/// A session key out of the retention window.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cold {
    /// The archive partition holding its records (`state/archive/dt=<archive_dt>.jsonl.gz`).
    pub archive_dt: String,
    /// Where its rows are.
    pub written: Written,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// `dt` of the session row, if the key has one.
    pub session_dt: Option<String>,
    /// (finding_id, dt) of its findings.
    pub findings: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Manifest {
        format_version: u32,
        watermark: Option<EpochMillis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_as_of: Option<EpochMillis>,
    },
    Event {
        event: SessionEvent,
    },
    Record {
        record: BrokerRecord,
    },
    Written {
        key: String,
        written: Written,
    },
    Outbox {
        #[serde(serialize_with = "canonical")]
        finding: serde_json::Value,
    },
    Announced {
        finding_id: String,
        event_time: EpochMillis,
    },
    Cold {
        key: String,
        cold: Cold,
    },
    Alias {
        alias: String,
        key: String,
    },
    Rejected {
        fingerprint: String,
    },
    Leak {
        leak: TokenLeak,
    },
    LogFile {
        record: LogFileRecord,
    },
    DigestProblem {
        problem: DigestProblem,
    },
}

/// JSON values in the state are written with sorted keys whatever the build's features.
fn canonical<S: serde::Serializer>(
    value: &serde_json::Value,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Canonical(value), serializer)
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state {location}: {source}")]
    Encode {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "state {location} line {line}: {message} (the state is written by sessiontrail only; restore it from a backup or remove OUT to rebuild from all inputs)"
    )]
    Corrupt {
        location: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl State {
    /// Loads the state of a dataset, with the version a conditional save names; a
    /// dataset without one starts empty (version None).
    pub fn load(storage: &dyn Storage) -> Result<(State, Option<String>), StateError> {
        let location = storage.locate(STATE_FILE);
        let Some(stored) = storage.get(STATE_FILE)? else {
            return Ok((State::default(), None));
        };
        let state = State::decode(&stored.bytes, &location)?;
        Ok((state, Some(stored.version)))
    }

    fn decode(bytes: &[u8], location: &str) -> Result<State, StateError> {
        let path = location;
        let reader = BufReader::new(flate2::read::GzDecoder::new(bytes));
        let mut state = State::default();
        let mut saw_manifest = false;
        for (index, line) in reader.lines().enumerate() {
            let corrupt = |message: String| StateError::Corrupt {
                location: path.to_string(),
                line: index + 1,
                message,
            };
            let line = line.map_err(|e| corrupt(e.to_string()))?;
            match serde_json::from_str::<Line>(&line).map_err(|e| corrupt(e.to_string()))? {
                Line::Manifest {
                    format_version,
                    watermark,
                    last_as_of,
                } => {
                    if !(1..=FORMAT_VERSION).contains(&format_version) {
                        return Err(corrupt(format!(
                            "state format {format_version} is not the {FORMAT_VERSION} this version reads"
                        )));
                    }
                    saw_manifest = true;
                    state.watermark = watermark;
                    state.last_as_of = last_as_of;
                }
                Line::Event { event } => state.events.push(event),
                Line::Record { record } => state.records.push(record),
                Line::Written { key, written } => {
                    state.written.insert(key, written);
                }
                Line::Outbox { finding } => state.outbox.push(finding),
                Line::Announced {
                    finding_id,
                    event_time,
                } => {
                    state.announced.insert(finding_id, event_time);
                }
                Line::Cold { key, cold } => {
                    state.cold.insert(key, cold);
                }
                Line::Alias { alias, key } => {
                    state.aliases.insert(alias, key);
                }
                Line::Rejected { fingerprint } => {
                    state.rejected.insert(fingerprint);
                }
                Line::Leak { leak } => state.leaks.push(leak),
                Line::LogFile { record } => {
                    state.evidence.log_files.insert(record.key.clone(), record);
                }
                Line::DigestProblem { problem } => {
                    let at = (problem.key.clone(), problem.rule.as_str().to_string());
                    state.evidence.digest_problems.insert(at, problem);
                }
            }
        }
        if !saw_manifest {
            return Err(StateError::Corrupt {
                location: path.to_string(),
                line: 0,
                message: "no manifest line".to_string(),
            });
        }
        Ok(state)
    }

    /// Saves the state if the stored one is still at `expected` (the version
    /// [`State::load`] returned). False when another run saved first: start over.
    pub fn save_if(
        &self,
        storage: &dyn Storage,
        expected: Option<&str>,
    ) -> Result<bool, StateError> {
        let bytes = self.encode().map_err(|source| StateError::Encode {
            location: storage.locate(STATE_FILE),
            source,
        })?;
        Ok(storage.put_if(STATE_FILE, &bytes, expected)?)
    }

    fn encode(&self) -> std::io::Result<Vec<u8>> {
        let io = |e| e;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut write_line = |line: &Line| -> std::io::Result<()> {
            serde_json::to_writer(&mut gz, line)?;
            gz.write_all(b"\n")
        };
        write_line(&Line::Manifest {
            format_version: FORMAT_VERSION,
            watermark: self.watermark,
            last_as_of: self.last_as_of,
        })
        .map_err(io)?;
        for event in &self.events {
            write_line(&Line::Event {
                event: event.clone(),
            })
            .map_err(io)?;
        }
        for record in &self.records {
            write_line(&Line::Record {
                record: record.clone(),
            })
            .map_err(io)?;
        }
        for (key, written) in &self.written {
            write_line(&Line::Written {
                key: key.clone(),
                written: written.clone(),
            })
            .map_err(io)?;
        }
        for finding in &self.outbox {
            write_line(&Line::Outbox {
                finding: finding.clone(),
            })
            .map_err(io)?;
        }
        for (finding_id, event_time) in &self.announced {
            write_line(&Line::Announced {
                finding_id: finding_id.clone(),
                event_time: *event_time,
            })
            .map_err(io)?;
        }
        for (key, cold) in &self.cold {
            write_line(&Line::Cold {
                key: key.clone(),
                cold: cold.clone(),
            })?;
        }
        for (alias, key) in &self.aliases {
            write_line(&Line::Alias {
                alias: alias.clone(),
                key: key.clone(),
            })?;
        }
        for fingerprint in &self.rejected {
            write_line(&Line::Rejected {
                fingerprint: fingerprint.clone(),
            })?;
        }
        for leak in &self.leaks {
            write_line(&Line::Leak { leak: leak.clone() })?;
        }
        for record in self.evidence.log_files.values() {
            write_line(&Line::LogFile {
                record: record.clone(),
            })?;
        }
        for problem in self.evidence.digest_problems.values() {
            write_line(&Line::DigestProblem {
                problem: problem.clone(),
            })?;
        }
        gz.finish()
    }
}
