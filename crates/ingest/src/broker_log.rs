//! The session broker's log (docs/contracts.md "Broker log record, version 1") in every
//! wrapper it reaches us: plain JSON lines (optionally gzipped), CloudWatch Logs export
//! files (`<ISO timestamp> <message>` per line), and CloudWatch Logs subscription
//! payloads, encoded (`{"awslogs":{"data":"<base64 gzip>"}}`) or decoded
//! (`{"messageType":"DATA_MESSAGE","logEvents":[...]}`), one per file or per line. In
//! each, a message may also be a Lambda JSON log line (the function's `LogFormat:
//! JSON`): `{"time":...,"type":"app","level":...,"requestId":...,"message":<record>}`,
//! the record being the `message` object itself or its JSON text. Files may be UTF-8
//! (with or without a byte-order mark) or UTF-16 ([`crate::text_encoding`]).
//!
//! A message that is not a JSON object, or an object without `v` (the Lambda's START /
//! END / REPORT lines and platform events, other application logs, CONTROL_MESSAGE
//! payloads), is not a broker record: it is counted as ignored. An object with `v` that
//! breaks the schema is a reject. Tokens ([`crate::token_leak`]): an accepted record
//! keeps the paths that held one in [`BrokerRecord::token_paths`] and its kept values
//! have them redacted; a token in any other line (ignored or rejected) becomes a
//! [`TokenLeak`]. No token value is kept anywhere.
//!
//! Memory ([`crate::limits`]): content up to [`WHOLE_CONTENT_LIMIT`] (64 MiB) is read
//! whole; larger content (a large file, a gzip stream that inflates past it, a gzip
//! bomb) is read line by line, a line longer than [`MAX_RECORD_BYTES`] being a reject
//! skipped without being held, until the inflation limit ends it. `awslogs.data` is
//! decoded within [`MAX_SUBSCRIPTION_PAYLOAD_BYTES`], and no JSON text is parsed whose
//! values could take more than [`MAX_PARSED_JSON_BYTES`].

use std::io::{BufRead, Read};
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cloudtrail::CountingReader;
use crate::input_files::{
    InputContent, ReadBuffers, SkippedFile, content_from_bytes, content_stream, open_input,
};
use crate::limits::{
    InputLimits, MAX_LEAK_PATHS, MAX_LEAKS_PER_FILE, MAX_PARSED_JSON_BYTES, MAX_RECORD_BYTES,
    MAX_SUBSCRIPTION_PAYLOAD_BYTES, RejectOverflow, human_bytes, json_too_costly,
};
use crate::reject::{InputKind, Location, Reject};
use crate::session_event::{RecordSource, type_name};
use crate::text_encoding::{TextEncoding, TextReader, decode_text};
use crate::time::{EpochMillis, parse_rfc3339_millis};
use crate::token_leak::{LineSecrets, text_token_names, token_paths_except, token_paths_redacted};
pub use crate::token_leak::{TokenLeak, token_paths};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BrokerOutcome {
    Started,
    Denied,
    Error,
}

impl BrokerOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            BrokerOutcome::Started => "started",
            BrokerOutcome::Denied => "denied",
            BrokerOutcome::Error => "error",
        }
    }
}

/// One broker log record (version 1). Token values are never held: a kept string that
/// had one has it replaced by `REDACTED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRecord {
    /// The broker Lambda's request id: records with the same id are one record.
    pub request_id: String,
    pub ts: EpochMillis,
    pub caller_arn: String,
    pub caller_user_id: Option<String>,
    pub permission_set: Option<String>,
    pub account_id: String,
    pub region: String,
    pub target: String,
    pub document_name: Option<String>,
    pub run_as: Option<String>,
    pub outcome: BrokerOutcome,
    pub session_id: Option<String>,
    pub ssm_request_id: Option<String>,
    pub reason: Option<String>,
    pub source_ip: Option<String>,
    /// Paths of the keys, or of the strings (a `wss://` URL with a `token=` parameter),
    /// that held a token; empty for a clean record. Kept values never hold the token:
    /// it is replaced by `REDACTED`.
    pub token_paths: Vec<String>,
    /// Where the record was read (file and line): the chain of custody of `sessiontrail
    /// evidence`. Not part of the record: a redelivery elsewhere is the same record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordSource>,
}

#[derive(Debug, Default, Clone)]
pub struct BrokerRead {
    pub records: Vec<BrokerRecord>,
    pub rejects: Vec<Reject>,
    pub stats: BrokerStats,
    /// Tokens in lines that gave no accepted record (ignored or rejected lines).
    pub leaks: Vec<TokenLeak>,
    /// Files in the walked folders that were not read, with why.
    pub skipped_files: Vec<SkippedFile>,
    /// The caps on what one file keeps, for the file being read.
    file: FileBudget,
}

/// What the file being read has kept, against [`crate::limits::MAX_REJECTS_PER_FILE`] and
/// [`MAX_LEAKS_PER_FILE`], and what stands for the rest.
#[derive(Debug, Default, Clone)]
struct FileBudget {
    leaks_at_start: usize,
    rejects: RejectOverflow,
    /// The leak standing for the leaks not kept.
    more_leaks: Option<TokenLeak>,
    /// What the file's `awslogs.data` payloads may inflate to together (as much as the
    /// file itself may: [`InputLimits::inflated_limit`] of its stored size), and what
    /// they have, so payloads that compress twice (a gzipped file of repeated
    /// payloads) cost no more than one gzip bomb.
    nested_limit: u64,
    nested_inflated: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BrokerStats {
    pub files: u64,
    pub bytes: u64,
    /// Messages looked at (lines, or log events of subscription payloads).
    pub messages: u64,
    pub records: u64,
    /// Messages that are not broker records (Lambda runtime lines, other logs).
    pub ignored: u64,
    pub rejected: u64,
}

impl BrokerStats {
    pub fn add(&mut self, other: &BrokerStats) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.messages += other.messages;
        self.records += other.records;
        self.ignored += other.ignored;
        self.rejected += other.rejected;
    }
}

impl BrokerRead {
    pub fn merge(&mut self, other: BrokerRead) {
        self.records.extend(other.records);
        self.rejects.extend(other.rejects);
        self.stats.add(&other.stats);
        self.leaks.extend(other.leaks);
        self.skipped_files.extend(other.skipped_files);
    }

    /// Starts the per-file caps, for a file of `stored` bytes as stored.
    fn begin_file(&mut self, stored: Option<u64>) {
        self.file = FileBudget {
            leaks_at_start: self.leaks.len(),
            nested_limit: InputLimits::default().inflated_limit(stored),
            ..FileBudget::default()
        };
    }

    /// Ends the per-file caps: one reject (one leak) for what was not kept.
    fn end_file(&mut self) {
        let budget = std::mem::take(&mut self.file);
        self.rejects.extend(budget.rejects.finish(
            InputKind::BrokerLog,
            "lines of this file from here on were rejected",
        ));
        self.leaks.extend(budget.more_leaks);
    }

    fn reject(&mut self, at: &Context, reason: impl Into<String>) {
        if !self.file.rejects.admit(&at.location) {
            self.stats.rejected += 1;
            return;
        }
        let mut reason = reason.into();
        if let Some(note) = at.encoding.offset_note() {
            reason.push_str(note);
        }
        self.stats.rejected += 1;
        self.rejects.push(Reject::new(
            InputKind::BrokerLog,
            at.location.clone(),
            reason,
        ));
    }

    /// A token in a line that gave no accepted record; `fields` are the objects the
    /// line's fields are taken from, first match wins.
    fn leak(&mut self, at: &Context, fields: &[&Map<String, Value>], token_paths: Vec<String>) {
        if token_paths.is_empty() {
            return;
        }
        let secrets = LineSecrets::of_objects(fields);
        let text = |key: &str| {
            fields
                .iter()
                .find_map(|f| f.get(key).and_then(Value::as_str))
                .filter(|s| !s.trim().is_empty())
                .map(|s| secrets.redact(s).into_owned())
        };
        let mut token_paths: Vec<String> = token_paths
            .into_iter()
            .map(|p| secrets.redact(&p).into_owned())
            .collect();
        token_paths.sort();
        token_paths.dedup();
        let ts = fields
            .iter()
            .find_map(|f| f.get("ts").and_then(Value::as_str))
            .and_then(parse_rfc3339_millis);
        let leak = TokenLeak {
            source_file: at.location.file.clone(),
            line: at.location.line.unwrap_or(0),
            byte_offset: at.location.byte_offset.unwrap_or(0),
            request_id: text("request_id").or_else(|| at.request_id.clone()),
            session_id: text("session_id"),
            ts: ts.or(at.ts),
            caller_arn: text("caller_arn"),
            account_id: text("account_id"),
            region: text("region"),
            target: text("target"),
            token_paths,
        };
        if self.leaks.len() - self.file.leaks_at_start.min(self.leaks.len()) < MAX_LEAKS_PER_FILE {
            self.leaks.push(leak);
            return;
        }
        // Past the cap one leak, at the first line not kept, stands for the rest.
        match &mut self.file.more_leaks {
            None => self.file.more_leaks = Some(leak),
            Some(standing) => {
                for path in leak.token_paths {
                    if standing.token_paths.len() >= MAX_LEAK_PATHS {
                        break;
                    }
                    if let Err(at) = standing.token_paths.binary_search(&path) {
                        standing.token_paths.insert(at, path);
                    }
                }
            }
        }
    }
}

/// Where a message is, and what the wrappers around it said about it.
#[derive(Debug, Clone)]
struct Context {
    location: Location,
    encoding: TextEncoding,
    /// The time a wrapper gave the message (export line, log event, Lambda JSON line).
    ts: Option<EpochMillis>,
    /// A Lambda JSON log line's `requestId`.
    request_id: Option<String>,
}

/// Broker log content up to this size is read whole (a pretty-printed subscription
/// payload spanning lines is recognised then); larger content is read line by line.
pub const WHOLE_CONTENT_LIMIT: u64 = 16 << 20;

/// Reads one broker log file in any wrapper.
pub fn read_broker_log_file(path: &Path, out: &mut BrokerRead) {
    let name = path.display().to_string();
    out.stats.files += 1;
    out.begin_file(std::fs::metadata(path).ok().map(|m| m.len()));
    match open_input(path) {
        Ok(reader) => read_stream(reader, &name, out),
        Err(err) => read_broker_log_read(Vec::new(), Err(err), &name, out),
    }
    out.end_file();
}

/// Reads one broker log object already in memory (an S3 object, gzipped or not);
/// `name` (its URL) labels rejects.
pub fn read_broker_log_object(name: &str, bytes: Vec<u8>, out: &mut BrokerRead) {
    out.stats.files += 1;
    out.begin_file(Some(bytes.len() as u64));
    let mut buffers = ReadBuffers::default();
    match content_from_bytes(bytes, &mut buffers) {
        InputContent::Whole(whole) => read_content(whole, name, out),
        InputContent::Stream(stream) => read_stream(stream, name, out),
    }
    out.end_file();
}

/// Reads one broker log object as it downloads (an S3 object too large to hold whole):
/// `compressed` is its size as stored, when known, for the inflation limit.
pub fn read_broker_log_object_stream(
    name: &str,
    reader: impl Read + Send + 'static,
    compressed: Option<u64>,
    limits: &InputLimits,
    out: &mut BrokerRead,
) {
    out.stats.files += 1;
    out.begin_file(compressed);
    match content_stream(reader, compressed, limits) {
        Ok(stream) => read_stream(stream, name, out),
        Err(err) => read_broker_log_read(Vec::new(), Err(err), name, out),
    }
    out.end_file();
}

/// Reads content of any size: whole when it is at most [`WHOLE_CONTENT_LIMIT`], else
/// line by line.
fn read_stream(mut reader: impl Read, name: &str, out: &mut BrokerRead) {
    let mut head = Vec::new();
    let read = (&mut reader)
        .take(WHOLE_CONTENT_LIMIT + 1)
        .read_to_end(&mut head);
    if read.is_err() || head.len() as u64 <= WHOLE_CONTENT_LIMIT {
        read_broker_log_read(head, read.map(drop), name, out);
        return;
    }
    read_lines(std::io::Cursor::new(head).chain(reader), name, out);
}

/// Reads content line by line, holding one line (at most [`MAX_RECORD_BYTES`]) at a
/// time; a read error (a truncated stream, the inflation limit) ends it with a reject
/// at the start of the line it cut.
fn read_lines(reader: impl Read, name: &str, out: &mut BrokerRead) {
    let mut counting = CountingReader {
        inner: reader,
        bytes: 0,
    };
    {
        let text = TextReader::new(&mut counting);
        let encoding = text.encoding();
        let bias = encoding.offset_bias();
        let mut text = std::io::BufReader::with_capacity(1 << 20, text);
        let mut line = Vec::new();
        let (mut number, mut offset) = (0u64, 0u64);
        loop {
            let at = Context {
                location: Location::at(name, number + 1, offset + bias),
                encoding,
                ts: None,
                request_id: None,
            };
            match read_line_within(&mut text, &mut line, MAX_RECORD_BYTES) {
                Err(err) => {
                    out.reject(
                        &at,
                        format!("file could not be read past this point: {err}"),
                    );
                    break;
                }
                Ok((0, _, _)) => break,
                Ok((consumed, oversized, ends_line)) => {
                    number += 1;
                    offset += consumed;
                    if oversized {
                        out.stats.messages += 1;
                        out.reject(
                            &at,
                            format!(
                                "line of {} bytes is larger than the {} limit",
                                consumed - u64::from(ends_line),
                                human_bytes(MAX_RECORD_BYTES as u64)
                            ),
                        );
                        continue;
                    }
                    let raw = line.strip_suffix(b"\n").unwrap_or(&line);
                    read_line(raw, at, out);
                }
            }
        }
    }
    out.stats.bytes += counting.bytes;
}

/// Reads one line (up to and including `\n`, or to the end) into `line`, keeping at
/// most `limit` bytes of it: (bytes consumed, whether the line was longer than `limit`
/// and so not kept, whether it ended with `\n`). (0, false, false) at the end.
fn read_line_within(
    reader: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<(u64, bool, bool)> {
    line.clear();
    let (mut consumed, mut oversized) = (0u64, false);
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if available.is_empty() {
            return Ok((consumed, oversized, false));
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !oversized && line.len() + take > limit + usize::from(done) {
            oversized = true;
            line.clear();
        }
        if !oversized {
            line.extend_from_slice(&available[..take]);
        }
        reader.consume(take);
        consumed += take as u64;
        if done {
            return Ok((consumed, oversized, true));
        }
    }
}

/// Reads what was read of a file; a read error past some point keeps the complete
/// lines before it and rejects the rest with its location.
fn read_broker_log_read(
    content: Vec<u8>,
    read: std::io::Result<()>,
    name: &str,
    out: &mut BrokerRead,
) {
    let Err(err) = read else {
        read_content(&content, name, out);
        return;
    };
    out.stats.bytes += content.len() as u64;
    // Keep whatever complete lines were read before a truncated gzip stream (a
    // character cut off by the truncation is part of what was not read).
    let decoded = decode_text(&content);
    let text = decoded.text.as_ref();
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = memchr::memchr_iter(b'\n', &text[..complete]).count() as u64 + 1;
    read_broker_text(&text[..complete], decoded.encoding, name, out);
    let at = Context {
        location: Location::at(name, line, complete as u64 + decoded.encoding.offset_bias()),
        encoding: decoded.encoding,
        ts: None,
        request_id: None,
    };
    out.reject(
        &at,
        format!("file could not be read past this point: {err}"),
    );
}

/// Reads broker log content (decompressed, in any [`TextEncoding`]); `name` labels
/// rejects.
pub fn read_broker_log(content: &[u8], name: &str, out: &mut BrokerRead) {
    out.begin_file(Some(content.len() as u64));
    read_content(content, name, out);
    out.end_file();
}

fn read_content(content: &[u8], name: &str, out: &mut BrokerRead) {
    out.stats.bytes += content.len() as u64;
    let decoded = decode_text(content);
    let text = decoded.text.as_ref();
    read_broker_text(text, decoded.encoding, name, out);
    if let Some(error) = decoded.error {
        let lines = memchr::memchr_iter(b'\n', text).count() as u64;
        let at = Context {
            location: Location::at(
                name,
                lines + 1,
                text.len() as u64 + decoded.encoding.offset_bias(),
            ),
            encoding: decoded.encoding,
            ts: None,
            request_id: None,
        };
        out.reject(
            &at,
            format!("file could not be read past this point: {error}"),
        );
    }
}

/// Reads UTF-8 text, line by line (or as one pretty-printed subscription payload).
fn read_broker_text(text: &[u8], encoding: TextEncoding, name: &str, out: &mut BrokerRead) {
    let bias = encoding.offset_bias();
    let context = |line: u64, offset: u64| Context {
        location: Location::at(name, line, offset + bias),
        encoding,
        ts: None,
        request_id: None,
    };
    // A whole file holding one (pretty-printed) subscription payload.
    let trimmed = text.trim_ascii();
    if trimmed.starts_with(b"{")
        && memchr::memchr(b'\n', trimmed).is_some()
        && json_too_costly(trimmed, MAX_PARSED_JSON_BYTES).is_none()
        && let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(trimmed)
        && is_subscription(&object)
    {
        read_subscription(&object, &context(1, 0), out);
        return;
    }
    let mut offset = 0usize;
    for (index, raw_line) in text.split(|&b| b == b'\n').enumerate() {
        let at = context(index as u64 + 1, offset as u64);
        offset += raw_line.len() + 1;
        read_line(raw_line, at, out);
    }
}

/// One line (without its `\n`): an export line's timestamp, then its message.
fn read_line(raw_line: &[u8], mut at: Context, out: &mut BrokerRead) {
    let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
    if line.trim_ascii().is_empty() {
        return;
    }
    match std::str::from_utf8(line) {
        Ok(text) => {
            let (stamp, message) = split_export_timestamp(text);
            at.ts = stamp;
            read_message(message, &at, out);
        }
        Err(_) => {
            out.stats.messages += 1;
            out.reject(&at, "line is not valid UTF-8");
            let lossy = String::from_utf8_lossy(line);
            out.leak(&at, &[], text_token_names(&lossy));
        }
    }
}

/// CloudWatch Logs export lines are `<ISO-8601 UTC timestamp> <message>`: the time (when
/// the line has one) and the message.
fn split_export_timestamp(line: &str) -> (Option<EpochMillis>, &str) {
    let bytes = line.as_bytes();
    let looks_like_date = bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T';
    if looks_like_date
        && let Some((stamp, rest)) = line.split_once(' ')
        && let Some(ts) = parse_rfc3339_millis(stamp)
    {
        return (Some(ts), rest);
    }
    (None, line)
}

fn is_subscription(object: &Map<String, Value>) -> bool {
    object.contains_key("awslogs") || object.contains_key("logEvents")
}

/// One log message: a broker record, a Lambda JSON log line, a subscription payload, or
/// something ignored.
fn read_message(text: &str, at: &Context, out: &mut BrokerRead) {
    let text = text.trim();
    if !text.starts_with('{') {
        out.stats.messages += 1;
        out.stats.ignored += 1;
        out.leak(at, &[], text_token_names(text));
        return;
    }
    if let Some(reason) = json_too_costly(text.as_bytes(), MAX_PARSED_JSON_BYTES) {
        out.stats.messages += 1;
        if text.contains("\"v\"") {
            out.reject(at, format!("broker record not read: {reason}"));
        } else {
            out.stats.ignored += 1;
        }
        out.leak(at, &[], text_token_names(text));
        return;
    }
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        parsed => {
            out.stats.messages += 1;
            // A broken line that looks like a broker record is a reject; other
            // half-JSON application logs (a Python dict printed) are just not broker
            // records.
            match parsed {
                Err(err) if text.contains("\"v\"") => {
                    out.reject(at, format!("broker record is not valid JSON: {err}"))
                }
                _ => out.stats.ignored += 1,
            }
            out.leak(at, &[], text_token_names(text));
            return;
        }
    };
    if is_subscription(&object) {
        read_subscription(&object, at, out);
        return;
    }
    out.stats.messages += 1;
    if object.contains_key("v") {
        read_record(&object, None, &[], at, out);
        return;
    }
    if let Some(message) = lambda_message(&object) {
        read_lambda_line(&object, message, at, out);
        return;
    }
    out.stats.ignored += 1;
    out.leak(at, &[&object], token_paths(&object));
}

/// An object with `v`: a record, or a reject. `wrapper`: the Lambda JSON log line whose
/// `message` it is; `outer_paths`: tokens in that line outside its message, kept with
/// the record's own.
fn read_record(
    object: &Map<String, Value>,
    wrapper: Option<&Map<String, Value>>,
    outer_paths: &[String],
    at: &Context,
    out: &mut BrokerRead,
) {
    let fields: Vec<&Map<String, Value>> = std::iter::once(object).chain(wrapper).collect();
    let secrets = LineSecrets::of_objects(&fields);
    match record_from_object(object, &secrets) {
        Ok(mut record) => {
            if !outer_paths.is_empty() {
                record.token_paths.extend(outer_paths.iter().cloned());
                record.token_paths.sort();
                record.token_paths.dedup();
            }
            record.source = Some(RecordSource {
                file: at.location.file.clone(),
                byte_offset: at.location.byte_offset.unwrap_or(0),
                line: at.location.line.unwrap_or(0),
            });
            out.stats.records += 1;
            out.records.push(record);
        }
        Err(reason) => {
            out.reject(at, reason);
            out.leak(at, &fields, line_paths(object, wrapper, outer_paths));
        }
    }
}

/// Token paths as seen from the line: a wrapped message's own as `message.<path>`.
fn line_paths(
    object: &Map<String, Value>,
    wrapper: Option<&Map<String, Value>>,
    outer_paths: &[String],
) -> Vec<String> {
    let prefix = if wrapper.is_some() { "message." } else { "" };
    let mut paths: Vec<String> = token_paths(object)
        .into_iter()
        .map(|p| format!("{prefix}{p}"))
        .collect();
    paths.extend(outer_paths.iter().cloned());
    paths.sort();
    paths.dedup();
    paths
}

/// The `message` of a Lambda JSON log line (`LogFormat: JSON`: `time`, `type`, `level`,
/// `requestId`, `message`), when it may hold a broker record: an object, or a string.
/// The Lambda's platform events (`"type":"platform.start"`, ...) carry none.
fn lambda_message(object: &Map<String, Value>) -> Option<&Value> {
    let platform = object
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("platform."));
    match object.get("message") {
        Some(message @ (Value::Object(_) | Value::String(_))) if !platform => Some(message),
        _ => None,
    }
}

/// A Lambda JSON log line: its `message` is the broker record (as an object or as JSON
/// text), or an application log message that is not one.
fn read_lambda_line(
    line: &Map<String, Value>,
    message: &Value,
    at: &Context,
    out: &mut BrokerRead,
) {
    let mut at = at.clone();
    let line_time = ["time", "timestamp"]
        .iter()
        .find_map(|key| line.get(*key).and_then(Value::as_str))
        .and_then(parse_rfc3339_millis);
    at.ts = line_time.or(at.ts);
    let secrets = LineSecrets::of_objects(&[line]);
    at.request_id = line
        .get("requestId")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| secrets.redact(s).into_owned());
    // Tokens in the line outside its message.
    let outer_paths = token_paths_except(line, "message");
    let parsed;
    let inner = match message {
        Value::Object(inner) => Some(inner),
        Value::String(text) if text.trim_start().starts_with('{') => {
            if let Some(reason) = json_too_costly(text.as_bytes(), MAX_PARSED_JSON_BYTES) {
                out.reject(
                    &at,
                    format!("the Lambda log line's message is not read: {reason}"),
                );
                out.leak(&at, &[line], token_paths(line));
                return;
            }
            match serde_json::from_str::<Value>(text.trim()) {
                Ok(Value::Object(inner)) => {
                    parsed = inner;
                    Some(&parsed)
                }
                Err(err) if text.contains("\"v\"") => {
                    out.reject(
                        &at,
                        format!(
                            "broker record in the Lambda log line's message is not valid JSON: {err}"
                        ),
                    );
                    out.leak(&at, &[line], token_paths(line));
                    return;
                }
                _ => None,
            }
        }
        _ => None,
    };
    match inner {
        Some(record) if record.contains_key("v") => {
            read_record(record, Some(line), &outer_paths, &at, out)
        }
        Some(other) => {
            out.stats.ignored += 1;
            out.leak(
                &at,
                &[other, line],
                line_paths(other, Some(line), &outer_paths),
            );
        }
        None => {
            out.stats.ignored += 1;
            out.leak(&at, &[line], token_paths(line));
        }
    }
}

/// `{"awslogs":{"data":"<base64(gzip(json))>"}}` or its decoded form.
fn read_subscription(object: &Map<String, Value>, at: &Context, out: &mut BrokerRead) {
    let decoded;
    let payload = if let Some(awslogs) = object.get("awslogs") {
        let data = awslogs.get("data").and_then(Value::as_str);
        let Some(data) = data else {
            out.reject(at, "awslogs.data is missing or not a string");
            return;
        };
        let (nested_limit, room) = (
            out.file.nested_limit,
            out.file
                .nested_limit
                .saturating_sub(out.file.nested_inflated),
        );
        let (decoded_payload, inflated) = decode_awslogs_data(data, room, nested_limit);
        out.file.nested_inflated += inflated;
        match decoded_payload {
            Ok(Value::Object(inner)) => {
                decoded = inner;
                &decoded
            }
            Ok(other) => {
                out.reject(
                    at,
                    format!(
                        "awslogs.data holds {} where an object was expected",
                        type_name(&other)
                    ),
                );
                return;
            }
            Err(reason) => {
                out.reject(at, reason);
                return;
            }
        }
    } else {
        object
    };
    if payload.get("messageType").and_then(Value::as_str) == Some("CONTROL_MESSAGE") {
        out.stats.messages += 1;
        out.stats.ignored += 1;
        return;
    }
    let Some(Value::Array(events)) = payload.get("logEvents") else {
        out.reject(at, "subscription payload has no logEvents array");
        return;
    };
    for (index, event) in events.iter().enumerate() {
        let message = event.get("message").and_then(Value::as_str);
        match message {
            Some(message) => {
                let mut event_at = at.clone();
                event_at.location.file = format!("{}#logEvents[{index}]", at.location.file);
                event_at.ts = event.get("timestamp").and_then(Value::as_i64).or(at.ts);
                read_message(message, &event_at, out);
            }
            None => {
                out.stats.messages += 1;
                out.reject(
                    at,
                    format!("subscription logEvents[{index}] has no message string"),
                );
            }
        }
    }
}

/// Decodes `awslogs.data` (base64 of gzip of JSON) within
/// [`MAX_SUBSCRIPTION_PAYLOAD_BYTES`]: the base64 text can be no longer than a gzip of
/// that much, the inflated JSON no larger, and its values can take no more than twice
/// that once parsed; and within `room`, what the file's payloads may still inflate to
/// of the `nested_limit` they may together. Also gives the bytes inflated.
fn decode_awslogs_data(data: &str, room: u64, nested_limit: u64) -> (Result<Value, String>, u64) {
    let mut inflated = 0;
    let value = decode_awslogs_data_within(data, room, nested_limit, &mut inflated);
    (value, inflated)
}

fn decode_awslogs_data_within(
    data: &str,
    room: u64,
    nested_limit: u64,
    inflated: &mut u64,
) -> Result<Value, String> {
    let limit = MAX_SUBSCRIPTION_PAYLOAD_BYTES;
    let data = data.trim();
    // Deflate never grows data by more than 5 bytes per 16 KiB block, gzip adds 18.
    let max_compressed = limit + limit / 1024 + 64;
    if data.len() as u64 > max_compressed.div_ceil(3) * 4 {
        return Err(format!(
            "awslogs.data of {} bytes is larger than a subscription payload can be (the {} limit)",
            data.len(),
            human_bytes(limit)
        ));
    }
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| format!("awslogs.data is not base64: {e}"))?;
    let mut json = Vec::new();
    let read = flate2::read::MultiGzDecoder::new(compressed.as_slice())
        .take(limit.min(room) + 1)
        .read_to_end(&mut json);
    *inflated = json.len() as u64;
    read.map_err(|e| format!("awslogs.data is not gzip: {e}"))?;
    drop(compressed);
    if json.len() as u64 > room && room < limit {
        return Err(format!(
            "awslogs.data not read: the subscription payloads of this file together inflate past the {} they may (as much as the file itself: 256 times its stored size, at least 64 MiB; a gzip bomb?)",
            human_bytes(nested_limit)
        ));
    }
    if json.len() as u64 > limit {
        return Err(format!(
            "awslogs.data inflates past the {} limit for a subscription payload: not read (a gzip bomb?)",
            human_bytes(limit)
        ));
    }
    if let Some(reason) = json_too_costly(&json, 2 * limit) {
        return Err(format!("awslogs.data not read: {reason}"));
    }
    serde_json::from_slice(&json).map_err(|e| format!("awslogs.data is not JSON: {e}"))
}

/// Validates a version 1 record. The error names the field and never its value. Kept
/// strings have any token in them, and any copy of a token value the record holds
/// elsewhere, replaced by `REDACTED`.
pub fn broker_record_from_object(object: &Map<String, Value>) -> Result<BrokerRecord, String> {
    record_from_object(object, &LineSecrets::of_objects(&[object]))
}

/// [`broker_record_from_object`], redacting the token values of the whole line
/// (`secrets`: the record and the Lambda log line around it).
fn record_from_object(
    object: &Map<String, Value>,
    secrets: &LineSecrets,
) -> Result<BrokerRecord, String> {
    match object.get("v") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(Value::Number(_)) => return Err("unsupported broker log version (v is not 1)".into()),
        Some(other) => {
            return Err(format!(
                "v is {} where the integer 1 was expected",
                type_name(other)
            ));
        }
        None => return Err("v is missing".into()),
    }
    let text = |key: &str| -> Result<Option<String>, String> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(secrets.redact(s).into_owned())),
            Some(other) => Err(format!(
                "{key} is {} where a string was expected",
                type_name(other)
            )),
        }
    };
    let required = |key: &str| -> Result<String, String> {
        match text(key)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(format!("{key} is empty")),
            None => Err(format!("{key} is missing")),
        }
    };
    // An identifier used for matching: absent or null when there is none, never "".
    let identifier = |key: &str| -> Result<Option<String>, String> {
        match text(key)? {
            Some(s) if s.trim().is_empty() => Err(format!(
                "{key} is empty (leave it out, or null, when there is none)"
            )),
            other => Ok(other),
        }
    };
    let ts_text = required("ts")?;
    let ts = parse_rfc3339_millis(&ts_text).ok_or("ts is not an RFC 3339 timestamp")?;
    let outcome = match required("outcome")?.as_str() {
        "started" => BrokerOutcome::Started,
        "denied" => BrokerOutcome::Denied,
        "error" => BrokerOutcome::Error,
        _ => return Err("outcome is not one of started, denied, error".into()),
    };
    let record = BrokerRecord {
        request_id: required("request_id")?,
        ts,
        caller_arn: required("caller_arn")?,
        caller_user_id: text("caller_user_id")?,
        permission_set: text("permission_set")?,
        account_id: required("account_id")?,
        region: required("region")?,
        target: required("target")?,
        document_name: text("document_name")?,
        run_as: text("run_as")?,
        outcome,
        session_id: identifier("session_id")?,
        ssm_request_id: identifier("ssm_request_id")?,
        reason: text("reason")?,
        source_ip: text("source_ip")?,
        token_paths: token_paths_redacted(object, secrets),
        source: None,
    };
    if outcome == BrokerOutcome::Started {
        if record.session_id.is_none() && record.ssm_request_id.is_none() {
            return Err("a started record has neither session_id nor ssm_request_id".into());
        }
        if record.document_name.is_none() {
            return Err("a started record has no document_name".into());
        }
        if record.permission_set.is_none() {
            return Err("a started record has no permission_set".into());
        }
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const RECORD: &str = r#"{"v":1,"ts":"2025-03-04T10:15:02.250+01:00","request_id":"req-1","caller_arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com","permission_set":"Admin","account_id":"1","region":"eu-west-1","target":"i-1","document_name":"SSMRunAs-Admin-Session","outcome":"started","session_id":"broker-0a"}"#;

    fn read(text: &str) -> BrokerRead {
        let mut out = BrokerRead::default();
        read_broker_log(text.as_bytes(), "b.jsonl", &mut out);
        out
    }

    #[test]
    fn lambda_lines_and_other_logs_are_ignored_not_rejected() {
        let text = format!(
            "START RequestId: 1 Version: $LATEST\n{{\"level\":\"INFO\",\"msg\":\"hi\"}}\n{RECORD}\nEND RequestId: 1\n"
        );
        let out = read(&text);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.stats.ignored, 3);
        assert!(out.rejects.is_empty());
        assert_eq!(
            out.records[0].ts,
            parse_rfc3339_millis("2025-03-04T09:15:02.250Z").unwrap()
        );
    }

    #[test]
    fn export_lines_and_subscription_payloads() {
        let out = read(&format!("2025-03-04T09:15:02.000Z {RECORD}\n"));
        assert_eq!(out.records.len(), 1);
        let decoded = serde_json::json!({"messageType": "DATA_MESSAGE", "logEvents": [
            {"id": "1", "timestamp": 1, "message": RECORD},
            {"id": "2", "timestamp": 2, "message": "REPORT RequestId: 1"}]});
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(decoded.to_string().as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let encoded = serde_json::json!({"awslogs": {"data": data}}).to_string();
        let out = read(&format!(
            "{encoded}\n{}\n",
            serde_json::to_string_pretty(&decoded)
                .unwrap()
                .replace('\n', " ")
        ));
        assert_eq!(out.records.len(), 2, "{:?}", out.rejects);
        assert_eq!(out.stats.ignored, 2);
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logEvents":[{"id":"","message":"CWL CONTROL MESSAGE"}]}"#;
        assert_eq!(read(control).stats.ignored, 1);
    }

    #[test]
    fn schema_violations_are_rejects_naming_the_field() {
        let cases = [
            (
                RECORD.replace(r#""v":1"#, r#""v":2"#),
                "unsupported broker log version (v is not 1)",
            ),
            (
                RECORD.replace(r#""target":"i-1","#, ""),
                "target is missing",
            ),
            (
                RECORD.replace(
                    r#""ts":"2025-03-04T10:15:02.250+01:00""#,
                    r#""ts":"yesterday""#,
                ),
                "ts is not an RFC 3339 timestamp",
            ),
            (
                RECORD.replace(r#""outcome":"started""#, r#""outcome":"maybe""#),
                "outcome is not one of started, denied, error",
            ),
            (
                RECORD.replace(r#""session_id":"broker-0a""#, r#""session_id":7"#),
                "session_id is a number where a string was expected",
            ),
            (
                RECORD.replace(r#","session_id":"broker-0a""#, ""),
                "a started record has neither session_id nor ssm_request_id",
            ),
            (
                RECORD[..40].to_string(),
                "broker record is not valid JSON: EOF while parsing a string at line 1 column 40",
            ),
        ];
        for (line, reason) in cases {
            let out = read(&line);
            assert_eq!(out.rejects.len(), 1, "{line}");
            assert_eq!(out.rejects[0].reason, reason);
            assert_eq!(out.rejects[0].location.line, Some(1));
        }
    }

    #[test]
    fn tokens_are_found_by_key_and_url_and_never_kept() {
        let with_token = RECORD.replace(
            r#""outcome""#,
            r#""resp":{"TokenValue":"AAEAA-secret","StreamUrl":"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&token=abc"},"session_token":"x","outcome""#,
        );
        let out = read(&with_token);
        let record = &out.records[0];
        assert_eq!(
            record.token_paths,
            vec!["resp.StreamUrl", "resp.TokenValue", "session_token"]
        );
        let stored = serde_json::to_string(record).unwrap();
        assert!(!stored.contains("AAEAA-secret") && !stored.contains("token=abc"));
        assert!(read(RECORD).records[0].token_paths.is_empty());
    }

    fn lambda_line(message: serde_json::Value) -> String {
        serde_json::json!({"time": "2026-02-01T09:15:02.500Z", "type": "app", "level": "INFO",
            "requestId": "lambda-req-1", "message": message})
        .to_string()
    }

    #[test]
    fn lambda_json_log_lines_hold_broker_records_as_object_or_text() {
        let record: Value = serde_json::from_str(RECORD).unwrap();
        let as_object = lambda_line(record.clone());
        let as_text = lambda_line(Value::String(RECORD.to_string()));
        let platform_start = r#"{"time":"2026-02-01T09:15:01.000Z","type":"platform.start","record":{"requestId":"lambda-req-1","version":"$LATEST"}}"#;
        let platform_with_message =
            r#"{"time":"2026-02-01T09:15:01.000Z","type":"platform.report","message":{"v":1}}"#;
        let app_text = lambda_line(Value::String("GetCallerIdentity ok".into()));
        let text = format!(
            "{platform_start}\n{as_object}\n{app_text}\n{as_text}\n{platform_with_message}\n"
        );
        let out = read(&text);
        assert!(out.rejects.is_empty(), "{:?}", out.rejects);
        assert_eq!(out.records.len(), 2);
        assert!(out.records.iter().all(|r| r.request_id == "req-1"
            && r.session_id.as_deref() == Some("broker-0a")
            && r.ts == parse_rfc3339_millis("2025-03-04T09:15:02.250Z").unwrap()));
        assert_eq!((out.stats.messages, out.stats.ignored), (5, 3));

        // In a CloudWatch export and in a subscription payload.
        let out = read(&format!("2026-02-01T09:15:02.600Z {as_text}\n"));
        assert_eq!(out.records.len(), 1, "{:?}", out.rejects);
        let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "logEvents": [
            {"id": "1", "timestamp": 1, "message": as_object},
            {"id": "2", "timestamp": 2, "message": as_text},
            {"id": "3", "timestamp": 3, "message": platform_start}]});
        let out = read(&payload.to_string());
        assert_eq!(out.records.len(), 2, "{:?}", out.rejects);
        assert_eq!(out.stats.ignored, 1);
    }

    #[test]
    fn broken_records_in_lambda_json_lines_are_rejects() {
        let missing_target = RECORD.replace(r#""target":"i-1","#, "");
        let as_object = lambda_line(serde_json::from_str(&missing_target).unwrap());
        let as_text = lambda_line(Value::String(missing_target));
        let truncated = lambda_line(Value::String(RECORD[..60].to_string()));
        let out = read(&format!("{as_object}\n{as_text}\n{truncated}\n"));
        assert!(out.records.is_empty());
        let reasons: Vec<(&str, Option<u64>)> = out
            .rejects
            .iter()
            .map(|r| (r.reason.as_str(), r.location.line))
            .collect();
        assert_eq!(
            reasons[..2],
            [
                ("target is missing", Some(1)),
                ("target is missing", Some(2))
            ]
        );
        assert!(
            reasons[2]
                .0
                .starts_with("broker record in the Lambda log line's message is not valid JSON"),
            "{reasons:?}"
        );
        assert_eq!(reasons[2].1, Some(3));
    }

    #[test]
    fn empty_identifiers_are_rejects() {
        let cases = [
            (
                RECORD.replace(r#""session_id":"broker-0a""#, r#""session_id":"""#),
                "session_id is empty (leave it out, or null, when there is none)",
            ),
            (
                RECORD.replace(r#""session_id":"broker-0a""#, r#""session_id":"  ""#),
                "session_id is empty (leave it out, or null, when there is none)",
            ),
            (
                RECORD.replace(r#""request_id":"req-1""#, r#""request_id":"""#),
                "request_id is empty",
            ),
            (
                RECORD.replace(
                    r#""caller_arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com""#,
                    r#""caller_arn":"""#,
                ),
                "caller_arn is empty",
            ),
            (
                RECORD.replace(
                    r#""session_id":"broker-0a""#,
                    r#""session_id":"broker-0a","ssm_request_id":"""#,
                ),
                "ssm_request_id is empty (leave it out, or null, when there is none)",
            ),
        ];
        for (line, reason) in cases {
            let out = read(&line);
            assert_eq!(out.records.len(), 0, "{line}");
            assert_eq!(out.rejects.len(), 1, "{line}");
            assert_eq!(out.rejects[0].reason, reason);
        }
        let null_session = RECORD.replace(
            r#""session_id":"broker-0a""#,
            r#""session_id":null,"ssm_request_id":"q-1""#,
        );
        assert_eq!(read(&null_session).records[0].session_id, None);
    }

    /// Everything a read keeps, as text: records, rejects, leaks, in Debug and JSON form.
    fn everything_kept(out: &BrokerRead) -> String {
        format!(
            "{out:?}\n{}\n{}",
            serde_json::to_string(&out.records).unwrap(),
            serde_json::to_string(&out.leaks).unwrap()
        )
    }

    #[test]
    fn tokens_in_kept_fields_of_a_record_are_redacted() {
        let url = |secret: &str| {
            format!(
                "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&token={secret}&x=1"
            )
        };
        let redacted = "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&token=REDACTED&x=1";
        for field in ["reason", "target", "run_as", "document_name", "session_id"] {
            let mut record: Map<String, Value> = serde_json::from_str(RECORD).unwrap();
            record.insert(field.to_string(), Value::String(url("S3CR3T-abc")));
            let out = read(&Value::Object(record).to_string());
            assert_eq!(out.records.len(), 1, "{field}: {:?}", out.rejects);
            let kept = &out.records[0];
            assert_eq!(kept.token_paths, vec![field.to_string()]);
            let value = match field {
                "reason" => kept.reason.clone(),
                "target" => Some(kept.target.clone()),
                "run_as" => kept.run_as.clone(),
                "document_name" => kept.document_name.clone(),
                _ => kept.session_id.clone(),
            };
            assert_eq!(value.as_deref(), Some(redacted), "{field}");
            assert!(!everything_kept(&out).contains("S3CR3T"), "{field}");
            assert!(out.leaks.is_empty());
        }
        // A Python dict printed into the reason.
        let mut record: Map<String, Value> = serde_json::from_str(RECORD).unwrap();
        record.insert(
            "reason".into(),
            Value::String("resp={'SessionId': 'broker-0a', 'TokenValue': 'AAEAAS3CR3T'}".into()),
        );
        let out = read(&Value::Object(record).to_string());
        assert_eq!(
            out.records[0].reason.as_deref(),
            Some("resp={'SessionId': 'broker-0a', 'TokenValue': 'REDACTED'}")
        );
        assert!(!everything_kept(&out).contains("S3CR3T"));
    }

    #[test]
    fn a_token_value_repeated_elsewhere_in_a_line_is_redacted_there_too() {
        let mut record: Map<String, Value> = serde_json::from_str(RECORD).unwrap();
        record.insert("TokenValue".into(), "AAEAAS3CR3T-repeated".into());
        record.insert(
            "reason".into(),
            "handed AAEAAS3CR3T-repeated to the plugin".into(),
        );
        record.insert(
            "note?token=AAEAAS3CR3T-key".into(),
            "token=AAEAAS3CR3T-key".into(),
        );
        let out = read(&Value::Object(record.clone()).to_string());
        assert_eq!(out.records.len(), 1, "{:?}", out.rejects);
        assert_eq!(
            out.records[0].reason.as_deref(),
            Some("handed REDACTED to the plugin")
        );
        assert_eq!(
            out.records[0].token_paths,
            ["TokenValue", "note?token=REDACTED"]
        );
        assert!(!everything_kept(&out).contains("S3CR3T"));
        // The same record rejected (no target): its leak keeps no copy either.
        let mut rejected = record.clone();
        rejected.remove("target");
        rejected.insert("session_id".into(), "s-AAEAAS3CR3T-repeated".into());
        let out = read(&Value::Object(rejected).to_string());
        assert_eq!((out.records.len(), out.rejects.len()), (0, 1));
        assert_eq!(out.leaks[0].session_id.as_deref(), Some("s-REDACTED"));
        assert!(!everything_kept(&out).contains("S3CR3T"));
        // A Lambda JSON line holding the token beside its message.
        let mut inner: Map<String, Value> = serde_json::from_str(RECORD).unwrap();
        inner.insert("reason".into(), "sent AAEAAS3CR3T-outer".into());
        let line = serde_json::json!({"time": "2026-02-01T09:15:02.500Z", "type": "app",
            "requestId": "r-AAEAAS3CR3T-outer", "resp": {"TokenValue": "AAEAAS3CR3T-outer"},
            "message": inner});
        let out = read(&line.to_string());
        assert_eq!(out.records.len(), 1, "{:?}", out.rejects);
        assert_eq!(out.records[0].reason.as_deref(), Some("sent REDACTED"));
        assert!(!everything_kept(&out).contains("S3CR3T"));
    }

    #[test]
    fn tokens_in_lines_that_give_no_record_are_leaks() {
        let no_v = r#"{"level":"INFO","msg":"StartSession answered","request_id":"req-9","session_id":"broker-0c","account_id":"1","resp":{"TokenValue":"AAEAAS3CR3T-1"}}"#;
        let rejected = RECORD
            .replace(r#""target":"i-1","#, "")
            .replace(r#""outcome""#, r#""token_value":"AAEAAS3CR3T-2","outcome""#);
        let python = "INFO response: {'SessionId': 'broker-0d', 'TokenValue': 'AAEAAS3CR3T-3', 'StreamUrl': 'wss://h/v1/data-channel/broker-0d?role=publish_subscribe'}";
        let lambda_text = lambda_line(Value::String(
            "handing over wss://h/v1/data-channel/s?role=publish_subscribe&token=AAEAAS3CR3T-4"
                .into(),
        ));
        let broken = r#"{"v":1,"request_id":"req-5","token":"AAEAAS3CR3T-5","#;
        let clean_ignored = r#"{"level":"INFO","msg":"asked for a token refresh"}"#;
        let text = format!(
            "{no_v}\n{rejected}\n2026-02-01T09:16:00.000Z {python}\n{lambda_text}\n{broken}\n{clean_ignored}\n"
        );
        let out = read(&text);
        assert!(out.records.is_empty());
        assert_eq!(out.rejects.len(), 2, "{:?}", out.rejects);
        assert!(
            !everything_kept(&out).contains("S3CR3T"),
            "{}",
            everything_kept(&out)
        );
        let leaks = &out.leaks;
        assert_eq!(
            leaks.iter().map(|l| l.line).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(leaks[0].token_paths, ["resp.TokenValue"]);
        assert_eq!(leaks[0].request_id.as_deref(), Some("req-9"));
        assert_eq!(leaks[0].session_id.as_deref(), Some("broker-0c"));
        assert_eq!(leaks[0].account_id.as_deref(), Some("1"));
        assert_eq!((leaks[0].ts, leaks[0].byte_offset), (None, 0));
        // The rejected record: its fields, without the target it lacks.
        let expected = TokenLeak {
            source_file: "b.jsonl".into(),
            line: 2,
            byte_offset: no_v.len() as u64 + 1,
            request_id: Some("req-1".into()),
            session_id: Some("broker-0a".into()),
            ts: parse_rfc3339_millis("2025-03-04T09:15:02.250Z"),
            caller_arn: Some(
                "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com".into(),
            ),
            account_id: Some("1".into()),
            region: Some("eu-west-1".into()),
            target: None,
            token_paths: vec!["token_value".into()],
        };
        assert_eq!(leaks[1], expected);
        // Text that is not JSON: the name as written, the export line's time.
        assert_eq!(leaks[2].token_paths, ["TokenValue"]);
        assert_eq!(leaks[2].ts, parse_rfc3339_millis("2026-02-01T09:16:00Z"));
        assert_eq!(leaks[2].session_id, None);
        // A Lambda JSON line: its requestId and time.
        assert_eq!(leaks[3].token_paths, ["message"]);
        assert_eq!(leaks[3].request_id.as_deref(), Some("lambda-req-1"));
        assert_eq!(
            leaks[3].ts,
            parse_rfc3339_millis("2026-02-01T09:15:02.500Z")
        );
        // Invalid JSON that looked like a record: a reject and a leak.
        assert_eq!(leaks[4].token_paths, ["token"]);
        assert!(
            out.rejects[1]
                .reason
                .starts_with("broker record is not valid JSON")
        );
        // A subscription log event: its timestamp.
        let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "logEvents": [
            {"id": "1", "timestamp": 1769937302412i64, "message": no_v}]});
        let out = read(&payload.to_string());
        assert_eq!(out.leaks.len(), 1);
        assert_eq!(out.leaks[0].ts, Some(1769937302412));
        assert_eq!(out.leaks[0].source_file, "b.jsonl#logEvents[0]");
        assert!(!everything_kept(&out).contains("S3CR3T"));
    }

    #[test]
    fn token_leaks_serialise_with_the_agreed_field_names() {
        let leak = TokenLeak {
            source_file: "f".into(),
            line: 1,
            byte_offset: 0,
            request_id: None,
            session_id: None,
            ts: None,
            caller_arn: None,
            account_id: None,
            region: None,
            target: None,
            token_paths: vec!["token".into()],
        };
        let value = serde_json::to_value(&leak).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "source_file",
            "line",
            "byte_offset",
            "request_id",
            "session_id",
            "ts",
            "caller_arn",
            "account_id",
            "region",
            "target",
            "token_paths",
        ];
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert_eq!(serde_json::from_value::<TokenLeak>(value).unwrap(), leak);
    }
}
