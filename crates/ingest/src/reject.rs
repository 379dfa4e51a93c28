//! A reject: an input record that could not be read, with where it was and why.
//!
//! A reject is data, not an error: it is written to `OUT/rejects/`, counted in the
//! run's summary, and the run goes on. Its reason never quotes the record's content,
//! so a secret inside a bad record cannot leak through the rejects table.

use serde::{Deserialize, Serialize};

/// Which reader rejected the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Cloudtrail,
    BrokerLog,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Cloudtrail => "cloudtrail",
            InputKind::BrokerLog => "broker_log",
        }
    }
}

/// Where a record was read: the file, and the 1-based line and 0-based byte offset of
/// the record's first byte in the file's decompressed content, when known. For a
/// UTF-16 file the line is the file's own but the offset counts bytes of its UTF-8
/// transcoding (the reject's reason says so); for UTF-8 with a byte-order mark the
/// offset counts the mark's three bytes, as the file does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Location {
    pub file: String,
    pub line: Option<u64>,
    pub byte_offset: Option<u64>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            line: None,
            byte_offset: None,
        }
    }

    pub fn at(file: impl Into<String>, line: u64, byte_offset: u64) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            byte_offset: Some(byte_offset),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(offset) = self.byte_offset {
            write!(f, " (byte {offset})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reject {
    pub kind: InputKind,
    pub location: Location,
    pub reason: String,
}

impl Reject {
    pub fn new(kind: InputKind, location: Location, reason: impl Into<String>) -> Self {
        Reject {
            kind,
            location,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.location,
            self.reason,
            self.kind.as_str()
        )
    }
}
