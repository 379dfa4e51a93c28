//! Reading CloudTrail in every form it reaches us, detected per file and per record:
//! log files as S3 delivers them (`{"Records":[...]}`, gzipped or not), EventBridge
//! "AWS API Call via CloudTrail" envelopes (one per line or one per file),
//! `aws cloudtrail lookup-events` output (`Events[].CloudTrailEvent` JSON strings),
//! bare arrays and JSON lines of records. Each in UTF-8 (with or without a byte-order
//! mark) or UTF-16 (as Windows PowerShell writes `aws ... > file.json`), gzipped or not:
//! see [`crate::text_encoding`] for what locations mean then.
//!
//! Only SSM session events become [`SessionEvent`]s. A record without the bytes
//! `ssm.amazonaws.com` cannot be one and is skipped without being parsed; the rest are
//! parsed and checked on `eventSource` and `eventName` (decoys that mention both in
//! other fields are skipped then).

use std::path::Path;

use serde_json::{Map, Value};

use crate::input_files::{
    EVENT_HISTORY_CSV_REASON, InputContent, ReadBuffers, SkippedFile, content_from_bytes,
    content_stream, is_event_history_csv, open_content,
};
use crate::json_split::{Container, Piece, split_records};
use crate::limits::{InputLimits, MAX_PARSED_JSON_BYTES, RejectOverflow, json_too_costly};
use crate::reject::{InputKind, Location, Reject};
use crate::session_event::{
    RecordSource, SessionEvent, is_session_record, session_event_from_record, type_name,
};
use crate::text_encoding::{TextReader, UTF8_BOM};

/// What reading CloudTrail inputs produced.
#[derive(Debug, Default, Clone)]
pub struct CloudTrailRead {
    pub events: Vec<SessionEvent>,
    pub rejects: Vec<Reject>,
    pub stats: CloudTrailStats,
    /// Files in the walked folders that were not read, with why.
    pub skipped_files: Vec<SkippedFile>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CloudTrailStats {
    pub files: u64,
    /// Decompressed bytes read.
    pub bytes: u64,
    /// Records (array elements or top-level values) seen in the files that were split.
    pub records: u64,
    /// Complete CloudTrail log files without the bytes `ssm.amazonaws.com` anywhere:
    /// no record in them can be a session event, so they are not split into records.
    pub files_without_session_events: u64,
    /// Records that are not SSM session events.
    pub skipped: u64,
    pub session_events: u64,
    pub rejected: u64,
    /// CloudTrail-Digest and CloudTrail-Insight files skipped while walking.
    pub digest_or_insight_files: u64,
}

impl CloudTrailStats {
    pub fn add(&mut self, other: &CloudTrailStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.records += other.records;
        self.files_without_session_events += other.files_without_session_events;
        self.skipped += other.skipped;
        self.session_events += other.session_events;
        self.rejected += other.rejected;
        self.digest_or_insight_files += other.digest_or_insight_files;
    }
}

impl CloudTrailRead {
    pub fn merge(&mut self, other: CloudTrailRead) {
        self.events.extend(other.events);
        self.rejects.extend(other.rejects);
        self.stats.add(&other.stats);
        self.skipped_files.extend(other.skipped_files);
    }

    fn reject(&mut self, location: Location, reason: impl Into<String>) {
        self.stats.rejected += 1;
        self.rejects
            .push(Reject::new(InputKind::Cloudtrail, location, reason));
    }
}

/// The cheap test a record must pass before it is parsed: its bytes hold the SSM event
/// source and one of the three event names, quoted. A session event always does
/// (CloudTrail writes both fields plainly); most records, including SSM's own frequent
/// agent calls, do not.
struct Markers {
    source: memchr::memmem::Finder<'static>,
    name_end: memchr::memmem::Finder<'static>,
}

impl Markers {
    fn new() -> Self {
        Markers {
            source: memchr::memmem::Finder::new(b"ssm.amazonaws.com"),
            name_end: memchr::memmem::Finder::new(b"Session"),
        }
    }

    fn may_hold_session_event(&self, bytes: &[u8]) -> bool {
        self.has_session_name(bytes) && self.source.find(bytes).is_some()
    }

    /// A quoted event name, as written plainly or inside a JSON string (lookup-events
    /// output holds each record as an escaped string).
    fn has_session_name(&self, bytes: &[u8]) -> bool {
        self.name_end.find_iter(bytes).any(|at| {
            let after = &bytes[at + b"Session".len()..];
            if !(after.starts_with(b"\"") || after.starts_with(b"\\\"")) {
                return false;
            }
            let before = &bytes[..at];
            [&b"Start"[..], b"Resume", b"Terminate"].iter().any(|name| {
                before
                    .strip_suffix(*name)
                    .is_some_and(|rest| rest.ends_with(b"\""))
            })
        })
    }
}

/// Reads one CloudTrail input file of any supported form. Problems with the file or
/// its records become rejects; nothing here stops a run.
pub fn read_cloudtrail_file(path: &Path, out: &mut CloudTrailRead) {
    read_cloudtrail_file_with(path, out, &mut ReadBuffers::default());
}

/// [`read_cloudtrail_file`] with buffers reused across files.
pub fn read_cloudtrail_file_with(path: &Path, out: &mut CloudTrailRead, buffers: &mut ReadBuffers) {
    // Without a tap nothing needs the content past where the parse stopped.
    let _ = read_file(path, out, buffers, None);
}

/// Something fed every uncompressed byte of one file, in order, as the ingest reads it
/// for correlation: how `correlate --verify` hashes each log file in the pass that
/// parses it (the tap is the evidence crate's SHA-256), without reading it twice.
pub trait ContentTap {
    fn update(&mut self, bytes: &[u8]);
}

/// [`read_cloudtrail_file_with`], feeding `tap` the file's whole uncompressed content
/// (the fast path that skips a file without session events included). `Err` (why)
/// when the content could not be read to its end: then what the tap was fed is not
/// the file's content.
pub fn read_cloudtrail_file_tapped(
    path: &Path,
    out: &mut CloudTrailRead,
    buffers: &mut ReadBuffers,
    tap: &mut dyn ContentTap,
) -> Result<(), String> {
    read_file(path, out, buffers, Some(tap))
}

/// One file read, its content fed to `tap` when there is one (and then read to its
/// end, past where a damaged stream stops the parse).
fn read_file(
    path: &Path,
    out: &mut CloudTrailRead,
    buffers: &mut ReadBuffers,
    tap: Option<&mut dyn ContentTap>,
) -> Result<(), String> {
    let name = path.display().to_string();
    out.stats.files += 1;
    match (open_content(path, buffers), tap) {
        (Ok(content), None) => {
            read_cloudtrail_content(content, &name, out);
            Ok(())
        }
        (Ok(InputContent::Whole(content)), Some(tap)) => {
            tap.update(content);
            read_cloudtrail_content(InputContent::Whole(content), &name, out);
            Ok(())
        }
        (Ok(InputContent::Stream(reader)), Some(tap)) => {
            let mut tapped = TapReader {
                inner: reader,
                tap,
                failed: None,
            };
            read_cloudtrail(&mut tapped, &name, out);
            // What the parse left unread (it stops at a damaged stream) is still content.
            let drained = std::io::copy(&mut tapped, &mut std::io::sink());
            match (tapped.failed, drained) {
                (Some(err), _) => Err(err),
                (None, Err(err)) => Err(err.to_string()),
                (None, Ok(_)) => Ok(()),
            }
        }
        (Err(err), _) => {
            out.reject(
                Location::file(name),
                format!("file could not be opened: {err}"),
            );
            Err(err.to_string())
        }
    }
}

/// Feeds a tap what is read through it, and remembers the first read error.
struct TapReader<'t, R> {
    inner: R,
    tap: &'t mut dyn ContentTap,
    failed: Option<String>,
}

impl<R: std::io::Read> std::io::Read for TapReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.failed.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.tap.update(&buf[..n]);
                Ok(n)
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => Err(err),
            Err(err) => {
                self.failed = Some(err.to_string());
                Err(err)
            }
        }
    }
}

/// Reads one CloudTrail object already in memory (an S3 object, gzipped or not);
/// `name` (its URL) labels rejects.
pub fn read_cloudtrail_object(
    name: &str,
    bytes: Vec<u8>,
    out: &mut CloudTrailRead,
    buffers: &mut ReadBuffers,
) {
    out.stats.files += 1;
    read_cloudtrail_content(content_from_bytes(bytes, buffers), name, out);
}

/// Reads one CloudTrail object as it downloads (an S3 object too large to hold whole):
/// `compressed` is its size as stored, when known, for the inflation limit.
pub fn read_cloudtrail_object_stream(
    name: &str,
    reader: impl std::io::Read + Send + 'static,
    compressed: Option<u64>,
    limits: &InputLimits,
    out: &mut CloudTrailRead,
) {
    out.stats.files += 1;
    match content_stream(reader, compressed, limits) {
        Ok(content) => read_cloudtrail(content, name, out),
        Err(err) => out.reject(
            Location::file(name),
            format!("object could not be read: {err}"),
        ),
    }
}

fn read_cloudtrail_content(content: InputContent<'_>, name: &str, out: &mut CloudTrailRead) {
    match content {
        InputContent::Whole(content) => {
            let body = content.strip_prefix(UTF8_BOM).unwrap_or(content);
            if is_complete_log_file(body) && !Markers::new().may_hold_session_event(body) {
                out.stats.files_without_session_events += 1;
                out.stats.bytes += content.len() as u64;
                return;
            }
            if is_event_history_csv(content) {
                out.stats.bytes += content.len() as u64;
                out.reject(Location::file(name), EVENT_HISTORY_CSV_REASON);
                return;
            }
            read_cloudtrail(content, name, out);
        }
        InputContent::Stream(reader) => read_cloudtrail(reader, name, out),
    }
}

/// `{"Records":[` ... `]}` as CloudTrail writes it: a whole log file, not a truncated one
/// (anything else is split record by record, so its problems are located).
fn is_complete_log_file(content: &[u8]) -> bool {
    let content = content.trim_ascii();
    content.starts_with(br#"{"Records":["#) && content.ends_with(b"]}")
}

/// Reads CloudTrail content (decompressed, in any encoding of
/// [`crate::text_encoding`]) from any reader; `name` labels rejects.
pub fn read_cloudtrail(reader: impl std::io::Read, name: &str, out: &mut CloudTrailRead) {
    let markers = Markers::new();
    let mut counting = CountingReader {
        inner: reader,
        bytes: 0,
    };
    let text = TextReader::new(&mut counting);
    let encoding = text.encoding();
    let bias = encoding.offset_bias();
    let note = encoding.offset_note();
    let mut overflow = RejectOverflow::default();
    let mut reject = |out: &mut CloudTrailRead, line: u64, offset: u64, reason: String| {
        let location = Location::at(name, line, offset + bias);
        if !overflow.admit(&location) {
            out.stats.rejected += 1;
            return;
        }
        let reason = match note {
            Some(note) => reason + note,
            None => reason,
        };
        out.reject(location, reason);
    };
    split_records(text, |piece| match piece {
        Piece::Error {
            offset,
            line,
            message,
        } => reject(out, line, offset, message),
        Piece::Record {
            bytes,
            offset,
            line,
            container,
        } => {
            out.stats.records += 1;
            if !markers.may_hold_session_event(bytes) {
                out.stats.skipped += 1;
                return;
            }
            match read_record(bytes, container, &markers) {
                Ok(Some(mut event)) => {
                    out.stats.session_events += 1;
                    event.source = Some(RecordSource {
                        file: name.to_string(),
                        byte_offset: offset + bias,
                        line,
                    });
                    out.events.push(event);
                }
                Ok(None) => out.stats.skipped += 1,
                Err(reason) => reject(out, line, offset, reason),
            }
        }
    });
    out.stats.bytes += counting.bytes;
    out.rejects.extend(overflow.finish(
        InputKind::Cloudtrail,
        "records of this file from here on could not be read",
    ));
}

/// Parses one candidate record: a CloudTrail record, an EventBridge envelope or a
/// LookupEvents element. `Ok(None)`: valid, but not an SSM session event.
fn read_record(
    bytes: &[u8],
    container: Container,
    markers: &Markers,
) -> Result<Option<SessionEvent>, String> {
    if let Some(reason) = json_too_costly(bytes, MAX_PARSED_JSON_BYTES) {
        return Err(reason);
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err(format!(
            "{} where a CloudTrail record was expected",
            type_name(&value)
        ));
    };
    if container == Container::Events || object.contains_key("CloudTrailEvent") {
        return read_lookup_event(&object, markers);
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
    markers: &Markers,
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
    if !markers.may_hold_session_event(text.as_bytes()) {
        return Ok(None);
    }
    if let Some(reason) = json_too_costly(text.as_bytes(), MAX_PARSED_JSON_BYTES) {
        return Err(format!("CloudTrailEvent: {reason}"));
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

/// Counts the bytes read through it.
pub(crate) struct CountingReader<R> {
    pub(crate) inner: R,
    pub(crate) bytes: u64,
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
