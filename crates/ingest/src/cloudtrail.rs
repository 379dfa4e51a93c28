//! Reading CloudTrail in every form it reaches us, detected per file and per record:
//! log files as S3 delivers them (`{"Records":[...]}`, gzipped or not), EventBridge
//! "AWS API Call via CloudTrail" envelopes (one per line or one per file),
//! `aws cloudtrail lookup-events` output (`Events[].CloudTrailEvent` JSON strings),
//! bare arrays and JSON lines of records.
//!
//! Only SSM session events become [`SessionEvent`]s. A record without the bytes
//! `ssm.amazonaws.com` cannot be one and is skipped without being parsed; the rest are
//! parsed and checked on `eventSource` and `eventName` (decoys that mention both in
//! other fields are skipped then).

use std::path::Path;

use serde_json::{Map, Value};

use crate::input_files::open_input;
use crate::json_split::{Container, Piece, split_records};
use crate::reject::{InputKind, Location, Reject};
use crate::session_event::{SessionEvent, is_session_record, session_event_from_record, type_name};

/// What reading CloudTrail inputs produced.
#[derive(Debug, Default, Clone)]
pub struct CloudTrailRead {
    pub events: Vec<SessionEvent>,
    pub rejects: Vec<Reject>,
    pub stats: CloudTrailStats,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CloudTrailStats {
    pub files: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Records (array elements or top-level values) seen.
    pub records: u64,
    /// Records that are not SSM session events.
    pub skipped: u64,
    pub session_events: u64,
    pub rejected: u64,
}

impl CloudTrailStats {
    pub fn add(&mut self, other: &CloudTrailStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.records += other.records;
        self.skipped += other.skipped;
        self.session_events += other.session_events;
        self.rejected += other.rejected;
    }
}

impl CloudTrailRead {
    pub fn merge(&mut self, other: CloudTrailRead) {
        self.events.extend(other.events);
        self.rejects.extend(other.rejects);
        self.stats.add(&other.stats);
    }

    fn reject(&mut self, location: Location, reason: impl Into<String>) {
        self.stats.rejected += 1;
        self.rejects
            .push(Reject::new(InputKind::Cloudtrail, location, reason));
    }
}

const MARKER: &[u8] = b"ssm.amazonaws.com";

/// Reads one CloudTrail input file of any supported form. Problems with the file or
/// its records become rejects; nothing here stops a run.
pub fn read_cloudtrail_file(path: &Path, out: &mut CloudTrailRead) {
    let name = path.display().to_string();
    out.stats.files += 1;
    let reader = match open_input(path) {
        Ok(reader) => reader,
        Err(err) => {
            out.reject(
                Location::file(name),
                format!("file could not be opened: {err}"),
            );
            return;
        }
    };
    read_cloudtrail(reader, &name, out);
}

/// Reads CloudTrail content from any reader; `name` labels rejects.
pub fn read_cloudtrail(reader: impl std::io::Read, name: &str, out: &mut CloudTrailRead) {
    let finder = memchr::memmem::Finder::new(MARKER);
    let mut counting = CountingReader {
        inner: reader,
        bytes: 0,
    };
    split_records(&mut counting, |piece| match piece {
        Piece::Error {
            offset,
            line,
            message,
        } => out.reject(Location::at(name, line, offset), message),
        Piece::Record {
            bytes,
            offset,
            line,
            container,
        } => {
            out.stats.records += 1;
            if finder.find(bytes).is_none() {
                out.stats.skipped += 1;
                return;
            }
            let location = || Location::at(name, line, offset);
            match read_record(bytes, container, &finder) {
                Ok(Some(event)) => {
                    out.stats.session_events += 1;
                    out.events.push(event);
                }
                Ok(None) => out.stats.skipped += 1,
                Err(reason) => out.reject(location(), reason),
            }
        }
    });
    out.stats.bytes += counting.bytes;
}

/// Parses one candidate record: a CloudTrail record, an EventBridge envelope or a
/// LookupEvents element. `Ok(None)`: valid, but not an SSM session event.
fn read_record(
    bytes: &[u8],
    container: Container,
    finder: &memchr::memmem::Finder<'_>,
) -> Result<Option<SessionEvent>, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err(format!(
            "{} where a CloudTrail record was expected",
            type_name(&value)
        ));
    };
    if container == Container::Events || object.contains_key("CloudTrailEvent") {
        return read_lookup_event(&object, finder);
    }
    if object.contains_key("detail-type") || object.contains_key("detail") {
        return read_envelope(&object);
    }
    if container == Container::None && object.contains_key("Records") {
        // `{"Records": <not an array>}` (arrays are split before parsing).
        return Err("Records is not an array".to_string());
    }
    plain_record(&object, None)
}

fn plain_record(
    record: &Map<String, Value>,
    envelope_account: Option<&str>,
) -> Result<Option<SessionEvent>, String> {
    if !is_session_record(record) {
        return Ok(None);
    }
    session_event_from_record(record, envelope_account).map(Some)
}

/// EventBridge "AWS API Call via CloudTrail": the record is `detail`.
fn read_envelope(envelope: &Map<String, Value>) -> Result<Option<SessionEvent>, String> {
    let detail_type = envelope.get("detail-type").and_then(Value::as_str);
    if detail_type != Some("AWS API Call via CloudTrail") {
        // Other EventBridge events (S3 Object Created, schedules) carry no record.
        return Ok(None);
    }
    let detail = match envelope.get("detail") {
        Some(Value::Object(detail)) => detail,
        Some(other) => {
            return Err(format!(
                "EventBridge detail is {} where an object was expected",
                type_name(other)
            ));
        }
        None => return Err("EventBridge envelope has no detail".to_string()),
    };
    let account = envelope.get("account").and_then(Value::as_str);
    plain_record(detail, account).map_err(|e| format!("EventBridge detail: {e}"))
}

/// `lookup-events` output: `CloudTrailEvent` is the record as a JSON string.
fn read_lookup_event(
    element: &Map<String, Value>,
    finder: &memchr::memmem::Finder<'_>,
) -> Result<Option<SessionEvent>, String> {
    let text = match element.get("CloudTrailEvent") {
        Some(Value::String(text)) => text,
        Some(other) => {
            return Err(format!(
                "CloudTrailEvent is {} where a JSON string was expected",
                type_name(other)
            ));
        }
        None => return Err("LookupEvents element has no CloudTrailEvent".to_string()),
    };
    if finder.find(text.as_bytes()).is_none() {
        return Ok(None);
    }
    let record: Value = serde_json::from_str(text)
        .map_err(|e| format!("CloudTrailEvent is not valid JSON: {e}"))?;
    match record {
        Value::Object(record) => {
            plain_record(&record, None).map_err(|e| format!("CloudTrailEvent: {e}"))
        }
        other => Err(format!(
            "CloudTrailEvent holds {} where a record was expected",
            type_name(&other)
        )),
    }
}

struct CountingReader<R> {
    inner: R,
    bytes: u64,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> CloudTrailRead {
        let mut out = CloudTrailRead::default();
        read_cloudtrail(text.as_bytes(), "t.json", &mut out);
        out
    }

    const START: &str = r#"{"eventVersion":"1.08","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2021-01-31T02:31:47Z","eventID":"E1","requestParameters":{"target":"i-1"},"responseElements":{"sessionId":"u-0123"}}"#;

    #[test]
    fn decoys_are_skipped_and_athena_does_not_count() {
        let decoy = r#"{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2021-01-31T02:31:47Z","eventID":"D1","userAgent":"ssm.amazonaws.com StartSession"}"#;
        let athena = r#"{"eventSource":"athena.amazonaws.com","eventName":"StartSession","eventTime":"2021-01-31T02:31:47Z","eventID":"D2"}"#;
        let file = format!(r#"{{"Records":[{decoy},{START},{athena}]}}"#);
        let out = read(&file);
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.stats.records, 3);
        assert_eq!(out.stats.skipped, 2);
        assert!(out.rejects.is_empty());
    }

    #[test]
    fn envelopes_and_lookup_events() {
        let envelope = format!(
            r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm","account":"123","detail":{START}}}"#
        );
        let out = read(&format!("{envelope}\n{envelope}\n"));
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events[0].account_id.as_deref(), Some("123"));
        let lookup = serde_json::json!({"Events": [{"EventId": "E1", "CloudTrailEvent": START}]});
        let out = read(&lookup.to_string());
        assert_eq!(out.events.len(), 1, "{:?}", out.rejects);
    }

    #[test]
    fn bad_records_are_rejects_with_their_line() {
        let bad = START.replace(r#""eventID":"E1","#, "");
        let out = read(&format!(
            "{START}\n{bad}\n{{\"eventSource\":\"ssm.amazonaws.com\",\n"
        ));
        assert_eq!(out.events.len(), 1);
        assert_eq!(out.rejects.len(), 2, "{:?}", out.rejects);
        assert_eq!(out.rejects[0].location.line, Some(2));
        assert_eq!(out.rejects[0].reason, "eventID is missing");
        assert_eq!(out.rejects[1].location.line, Some(3));
    }
}
