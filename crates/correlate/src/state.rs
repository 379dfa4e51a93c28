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
//! One gzipped JSON-lines file, replaced atomically after the dataset is written: a run
//! that dies before that leaves the previous state, and rerunning gives the same
//! dataset.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sessiontrail_ingest::time::EpochMillis;
use sessiontrail_ingest::{BrokerRecord, SessionEvent};

use crate::dataset::{DatasetError, write_atomically};

pub const STATE_FILE: &str = "state/state.jsonl.gz";
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct State {
    pub watermark: Option<EpochMillis>,
    pub events: Vec<SessionEvent>,
    pub records: Vec<BrokerRecord>,
    /// Session key -> where its rows are.
    pub written: BTreeMap<String, Written>,
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
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "state {path} line {line}: {message} (the state is written by sessiontrail only; restore it from a backup or remove OUT to rebuild from all inputs)"
    )]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Write(#[from] DatasetError),
}

impl State {
    /// Loads the state under `out`; a dataset without one starts empty.
    pub fn load(out: &Path) -> Result<State, StateError> {
        let path = out.join(STATE_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        let reader = BufReader::new(flate2::read::GzDecoder::new(file));
        let mut state = State::default();
        let mut saw_manifest = false;
        for (index, line) in reader.lines().enumerate() {
            let corrupt = |message: String| StateError::Corrupt {
                path: path.clone(),
                line: index + 1,
                message,
            };
            let line = line.map_err(|e| corrupt(e.to_string()))?;
            match serde_json::from_str::<Line>(&line).map_err(|e| corrupt(e.to_string()))? {
                Line::Manifest {
                    format_version,
                    watermark,
                } => {
                    if format_version != FORMAT_VERSION {
                        return Err(corrupt(format!(
                            "state format {format_version} is not the {FORMAT_VERSION} this version reads"
                        )));
                    }
                    saw_manifest = true;
                    state.watermark = watermark;
                }
                Line::Event { event } => state.events.push(event),
                Line::Record { record } => state.records.push(record),
                Line::Written { key, written } => {
                    state.written.insert(key, written);
                }
            }
        }
        if !saw_manifest {
            return Err(StateError::Corrupt {
                path,
                line: 0,
                message: "no manifest line".to_string(),
            });
        }
        Ok(state)
    }

    pub fn save(&self, out: &Path) -> Result<(), StateError> {
        let path = out.join(STATE_FILE);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut write_line = |line: &Line| -> std::io::Result<()> {
            serde_json::to_writer(&mut gz, line)?;
            gz.write_all(b"\n")
        };
        write_line(&Line::Manifest {
            format_version: FORMAT_VERSION,
            watermark: self.watermark,
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
        let bytes = gz.finish().map_err(io)?;
        let dir = out.join("state");
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Io {
            path: dir.clone(),
            source,
        })?;
        write_atomically(out, &path, &bytes)?;
        Ok(())
    }
}
