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

use std::borrow::Cow;
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

/// One line of the state file. Saving borrows what it writes (no copy of each record);
/// loading owns what it reads.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line<'a> {
    Manifest {
        format_version: u32,
        watermark: Option<EpochMillis>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_as_of: Option<EpochMillis>,
    },
    Event {
        event: Cow<'a, SessionEvent>,
    },
    Record {
        record: Cow<'a, BrokerRecord>,
    },
    Written {
        key: Cow<'a, str>,
        written: Cow<'a, Written>,
    },
    Outbox {
        #[serde(serialize_with = "canonical")]
        finding: Cow<'a, serde_json::Value>,
    },
    Announced {
        finding_id: Cow<'a, str>,
        event_time: EpochMillis,
    },
    Cold {
        key: Cow<'a, str>,
        cold: Cow<'a, Cold>,
    },
    Alias {
        alias: Cow<'a, str>,
        key: Cow<'a, str>,
    },
    Rejected {
        fingerprint: Cow<'a, str>,
    },
    Leak {
        leak: Cow<'a, TokenLeak>,
    },
    LogFile {
        record: Cow<'a, LogFileRecord>,
    },
    DigestProblem {
        problem: Cow<'a, DigestProblem>,
    },
}

/// JSON values in the state are written with sorted keys whatever the build's features.
// serde's `serialize_with` passes the field as it is declared: a `&Cow`.
#[allow(clippy::ptr_arg)]
fn canonical<S: serde::Serializer>(
    value: &Cow<'_, serde_json::Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&Canonical(value.as_ref()), serializer)
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
                Line::Event { event } => state.events.push(event.into_owned()),
                Line::Record { record } => state.records.push(record.into_owned()),
                Line::Written { key, written } => {
                    state.written.insert(key.into_owned(), written.into_owned());
                }
                Line::Outbox { finding } => state.outbox.push(finding.into_owned()),
                Line::Announced {
                    finding_id,
                    event_time,
                } => {
                    state.announced.insert(finding_id.into_owned(), event_time);
                }
                Line::Cold { key, cold } => {
                    state.cold.insert(key.into_owned(), cold.into_owned());
                }
                Line::Alias { alias, key } => {
                    state.aliases.insert(alias.into_owned(), key.into_owned());
                }
                Line::Rejected { fingerprint } => {
                    state.rejected.insert(fingerprint.into_owned());
                }
                Line::Leak { leak } => state.leaks.push(leak.into_owned()),
                Line::LogFile { record } => {
                    let record = record.into_owned();
                    state.evidence.log_files.insert(record.key.clone(), record);
                }
                Line::DigestProblem { problem } => {
                    let problem = problem.into_owned();
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
        // Serialised into a buffer, compressed in large pieces (not a write per token).
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut out = std::io::BufWriter::with_capacity(1 << 16, gz);
        let mut write_line = |line: &Line| -> std::io::Result<()> {
            serde_json::to_writer(&mut out, line)?;
            out.write_all(b"\n")
        };
        write_line(&Line::Manifest {
            format_version: FORMAT_VERSION,
            watermark: self.watermark,
            last_as_of: self.last_as_of,
        })
        .map_err(io)?;
        for event in &self.events {
            write_line(&Line::Event {
                event: Cow::Borrowed(event),
            })
            .map_err(io)?;
        }
        for record in &self.records {
            write_line(&Line::Record {
                record: Cow::Borrowed(record),
            })
            .map_err(io)?;
        }
        for (key, written) in &self.written {
            write_line(&Line::Written {
                key: Cow::Borrowed(key),
                written: Cow::Borrowed(written),
            })
            .map_err(io)?;
        }
        for finding in &self.outbox {
            write_line(&Line::Outbox {
                finding: Cow::Borrowed(finding),
            })
            .map_err(io)?;
        }
        for (finding_id, event_time) in &self.announced {
            write_line(&Line::Announced {
                finding_id: Cow::Borrowed(finding_id),
                event_time: *event_time,
            })
            .map_err(io)?;
        }
        for (key, cold) in &self.cold {
            write_line(&Line::Cold {
                key: Cow::Borrowed(key),
                cold: Cow::Borrowed(cold),
            })?;
        }
        for (alias, key) in &self.aliases {
            write_line(&Line::Alias {
                alias: Cow::Borrowed(alias),
                key: Cow::Borrowed(key),
            })?;
        }
        for fingerprint in &self.rejected {
            write_line(&Line::Rejected {
                fingerprint: Cow::Borrowed(fingerprint),
            })?;
        }
        for leak in &self.leaks {
            write_line(&Line::Leak {
                leak: Cow::Borrowed(leak),
            })?;
        }
        for record in self.evidence.log_files.values() {
            write_line(&Line::LogFile {
                record: Cow::Borrowed(record),
            })?;
        }
        for problem in self.evidence.digest_problems.values() {
            write_line(&Line::DigestProblem {
                problem: Cow::Borrowed(problem),
            })?;
        }
        out.into_inner().map_err(|e| e.into_error())?.finish()
    }
}
