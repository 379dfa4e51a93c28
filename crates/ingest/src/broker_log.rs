//! The session broker's log (DESIGN.md "Broker log record, version 1") in every
//! wrapper it reaches us: plain JSON lines (optionally gzipped), CloudWatch Logs export
//! files (`<ISO timestamp> <message>` per line), and CloudWatch Logs subscription
//! payloads, encoded (`{"awslogs":{"data":"<base64 gzip>"}}`) or decoded
//! (`{"messageType":"DATA_MESSAGE","logEvents":[...]}`), one per file or per line.
//!
//! A message that is not a JSON object, or an object without `v` (the Lambda's START /
//! END / REPORT lines, other application logs, CONTROL_MESSAGE payloads), is not a
//! broker record: it is counted as ignored. An object with `v` that breaks the schema
//! is a reject. A record that carries a token is kept without the token: only the
//! names of the keys that held one are remembered, for the secret finding.

use std::io::Read;
use std::path::Path;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::input_files::{InputContent, ReadBuffers, content_from_bytes, open_input};
use crate::reject::{InputKind, Location, Reject};
use crate::session_event::type_name;
use crate::time::{EpochMillis, parse_rfc3339_millis};

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

/// One broker log record (version 1). Token values are never held.
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
    /// Paths of the keys (or `wss://` URLs) that held a token; empty for a clean record.
    pub token_paths: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct BrokerRead {
    pub records: Vec<BrokerRecord>,
    pub rejects: Vec<Reject>,
    pub stats: BrokerStats,
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
    }

    fn reject(&mut self, location: Location, reason: impl Into<String>) {
        self.stats.rejected += 1;
        self.rejects
            .push(Reject::new(InputKind::BrokerLog, location, reason));
    }
}

/// Reads one broker log file in any wrapper.
pub fn read_broker_log_file(path: &Path, out: &mut BrokerRead) {
    let name = path.display().to_string();
    out.stats.files += 1;
    let mut content = Vec::new();
    let read = open_input(path).and_then(|mut reader| reader.read_to_end(&mut content));
    read_broker_log_read(content, read.map(drop), &name, out);
}

/// Reads one broker log object already in memory (an S3 object, gzipped or not);
/// `name` (its URL) labels rejects.
pub fn read_broker_log_object(name: &str, bytes: Vec<u8>, out: &mut BrokerRead) {
    out.stats.files += 1;
    let mut buffers = ReadBuffers::default();
    match content_from_bytes(bytes, &mut buffers) {
        InputContent::Whole(whole) => read_broker_log(whole, name, out),
        InputContent::Stream(mut stream) => {
            let mut content = Vec::new();
            let read = stream.read_to_end(&mut content).map(drop);
            read_broker_log_read(content, read, name, out);
        }
    }
}

/// Reads what was read of a file; a read error past some point keeps the complete
/// lines before it and rejects the rest with its location.
fn read_broker_log_read(
    mut content: Vec<u8>,
    read: std::io::Result<()>,
    name: &str,
    out: &mut BrokerRead,
) {
    let name = name.to_string();
    if let Err(err) = read {
        // Keep whatever complete lines were read before a truncated gzip stream.
        let complete = content
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = memchr::memchr_iter(b'\n', &content[..complete]).count() as u64 + 1;
        content.truncate(complete);
        read_broker_log(&content, &name, out);
        out.reject(
            Location::at(&name, line, complete as u64),
            format!("file could not be read past this point: {err}"),
        );
        return;
    }
    read_broker_log(&content, &name, out);
}

/// Reads broker log content; `name` labels rejects.
pub fn read_broker_log(content: &[u8], name: &str, out: &mut BrokerRead) {
    out.stats.bytes += content.len() as u64;
    // A whole file holding one (pretty-printed) subscription payload.
    let trimmed = content.trim_ascii();
    if trimmed.starts_with(b"{")
        && memchr::memchr(b'\n', trimmed).is_some()
        && let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(trimmed)
        && is_subscription(&object)
    {
        read_subscription(&object, &Location::at(name, 1, 0), out);
        return;
    }
    let mut offset = 0usize;
    for (index, raw_line) in content.split(|&b| b == b'\n').enumerate() {
        let location = Location::at(name, index as u64 + 1, offset as u64);
        offset += raw_line.len() + 1;
        let line = raw_line.strip_suffix(b"\r").unwrap_or(raw_line);
        if line.trim_ascii().is_empty() {
            continue;
        }
        match std::str::from_utf8(line) {
            Ok(text) => read_message(strip_export_timestamp(text), &location, out),
            Err(_) => {
                out.stats.messages += 1;
                out.reject(location, "line is not valid UTF-8");
            }
        }
    }
}

/// CloudWatch Logs export lines are `<ISO-8601 UTC timestamp> <message>`.
fn strip_export_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let looks_like_date = bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T';
    if looks_like_date
        && let Some((stamp, rest)) = line.split_once(' ')
        && parse_rfc3339_millis(stamp).is_some()
    {
        return rest;
    }
    line
}

fn is_subscription(object: &Map<String, Value>) -> bool {
    object.contains_key("awslogs") || object.contains_key("logEvents")
}

/// One log message: a broker record, a subscription payload, or something ignored.
fn read_message(text: &str, location: &Location, out: &mut BrokerRead) {
    let text = text.trim();
    if !text.starts_with('{') {
        out.stats.messages += 1;
        out.stats.ignored += 1;
        return;
    }
    let object = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => unreachable_json(out),
        Err(err) => {
            out.stats.messages += 1;
            // A broken line that looks like a broker record is a reject; other
            // half-JSON application logs are just not broker records.
            if text.contains("\"v\"") {
                out.reject(
                    location.clone(),
                    format!("broker record is not valid JSON: {err}"),
                );
            } else {
                out.stats.ignored += 1;
            }
            return;
        }
    };
    if is_subscription(&object) {
        read_subscription(&object, location, out);
        return;
    }
    out.stats.messages += 1;
    if !object.contains_key("v") {
        out.stats.ignored += 1;
        return;
    }
    match broker_record_from_object(&object) {
        Ok(record) => {
            out.stats.records += 1;
            out.records.push(record);
        }
        Err(reason) => out.reject(location.clone(), reason),
    }
}

fn unreachable_json(out: &mut BrokerRead) -> Map<String, Value> {
    // `{...}` always parses to an object; kept total rather than panicking.
    out.stats.ignored += 1;
    Map::new()
}

/// `{"awslogs":{"data":"<base64(gzip(json))>"}}` or its decoded form.
fn read_subscription(object: &Map<String, Value>, location: &Location, out: &mut BrokerRead) {
    let decoded;
    let payload = if let Some(awslogs) = object.get("awslogs") {
        let data = awslogs.get("data").and_then(Value::as_str);
        let Some(data) = data else {
            out.reject(location.clone(), "awslogs.data is missing or not a string");
            return;
        };
        match decode_awslogs_data(data) {
            Ok(Value::Object(inner)) => {
                decoded = inner;
                &decoded
            }
            Ok(other) => {
                out.reject(
                    location.clone(),
                    format!(
                        "awslogs.data holds {} where an object was expected",
                        type_name(&other)
                    ),
                );
                return;
            }
            Err(reason) => {
                out.reject(location.clone(), reason);
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
        out.reject(
            location.clone(),
            "subscription payload has no logEvents array",
        );
        return;
    };
    for (index, event) in events.iter().enumerate() {
        let message = event.get("message").and_then(Value::as_str);
        match message {
            Some(message) => {
                let mut at = location.clone();
                at.file = format!("{}#logEvents[{index}]", location.file);
                read_message(message, &at, out);
            }
            None => {
                out.stats.messages += 1;
                out.reject(
                    location.clone(),
                    format!("subscription logEvents[{index}] has no message string"),
                );
            }
        }
    }
}

fn decode_awslogs_data(data: &str) -> Result<Value, String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("awslogs.data is not base64: {e}"))?;
    let mut json = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| format!("awslogs.data is not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("awslogs.data is not JSON: {e}"))
}

/// Validates a version 1 record. The error names the field and never its value.
pub fn broker_record_from_object(object: &Map<String, Value>) -> Result<BrokerRecord, String> {
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
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "{key} is {} where a string was expected",
                type_name(other)
            )),
        }
    };
    let required = |key: &str| -> Result<String, String> {
        match text(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(format!("{key} is empty")),
            None => Err(format!("{key} is missing")),
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
        session_id: text("session_id")?,
        ssm_request_id: text("ssm_request_id")?,
        reason: text("reason")?,
        source_ip: text("source_ip")?,
        token_paths: token_paths(object),
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

/// Keys named like a token at any depth (`token`, `token_value`, `TokenValue`,
/// `session_token`, ...) holding a value, and `wss://` URLs with a token parameter.
/// Returns their paths, never their values.
pub fn token_paths(object: &Map<String, Value>) -> Vec<String> {
    let mut paths = Vec::new();
    visit(&Value::Object(object.clone()), String::new(), &mut paths);
    paths.sort();
    paths.dedup();
    paths
}

fn visit(value: &Value, path: String, paths: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let holds_value = !matches!(inner, Value::Null)
                    && !matches!(inner, Value::String(s) if s.is_empty());
                if is_token_key(key) && holds_value {
                    paths.push(child.clone());
                }
                visit(inner, child, paths);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                visit(inner, format!("{path}[{index}]"), paths);
            }
        }
        Value::String(text) if is_wss_url_with_token(text) => paths.push(path),
        _ => {}
    }
}

fn is_token_key(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    normalized.ends_with("token") || normalized.ends_with("tokenvalue")
}

fn is_wss_url_with_token(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    lower.starts_with("wss://")
        && lower
            .split_once('?')
            .is_some_and(|(_, query)| query.split('&').any(|p| p.contains("token")))
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
}
