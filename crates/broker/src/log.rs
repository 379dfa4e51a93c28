//! The broker log: one version 1 record per request (docs/contracts.md "Broker log
//! record, version 1"), one JSON line on stdout, which Lambda sends to the function's
//! log group (as it is, or under `message` with `LogFormat: JSON`).
//!
//! The record never holds StartSession's `TokenValue` or `StreamUrl`; every text in it
//! has passed [`redact_tokens`]. A required field the broker could not learn (a request
//! without a valid target, a caller without an identity) is written [`UNKNOWN`].

use std::io::Write;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sessiontrail_ingest::token_leak::redact_tokens;

/// What a required field holds when the request did not give a valid value.
pub const UNKNOWN: &str = "-";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Started,
    Denied,
    Error,
}

/// One broker log record, version 1, with the broker's `error_code` and
/// `error_message` for denials and errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogRecord {
    pub v: u8,
    pub ts: String,
    pub request_id: String,
    pub caller_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_set: Option<String>,
    pub account_id: String,
    pub region: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssm_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Denied: `invalid_request`, `denied`, `method_not_allowed`, `too_large`; error:
    /// the AWS error code (`TargetNotConnected`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What the caller was answered (for an error: which call failed, and AWS's message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl LogRecord {
    /// A record with only the required fields, each [`UNKNOWN`] but the id and time.
    pub fn new(request_id: &str, ts: DateTime<Utc>, outcome: Outcome) -> Self {
        LogRecord {
            v: 1,
            ts: format_ts(ts),
            request_id: request_id.to_string(),
            caller_arn: UNKNOWN.into(),
            caller_user_id: None,
            permission_set: None,
            account_id: UNKNOWN.into(),
            region: UNKNOWN.into(),
            target: UNKNOWN.into(),
            document_name: None,
            run_as: None,
            outcome,
            session_id: None,
            ssm_request_id: None,
            reason: None,
            source_ip: None,
            error_code: None,
            error_message: None,
        }
    }

    /// The record as one JSON line (no newline), every text with tokens redacted.
    pub fn to_line(&self) -> String {
        let mut clean = self.clone();
        for field in [
            &mut clean.request_id,
            &mut clean.caller_arn,
            &mut clean.account_id,
            &mut clean.region,
            &mut clean.target,
        ] {
            redact(field);
        }
        for field in [
            &mut clean.caller_user_id,
            &mut clean.permission_set,
            &mut clean.document_name,
            &mut clean.run_as,
            &mut clean.session_id,
            &mut clean.ssm_request_id,
            &mut clean.reason,
            &mut clean.source_ip,
            &mut clean.error_code,
            &mut clean.error_message,
        ]
        .into_iter()
        .flatten()
        {
            redact(field);
        }
        serde_json::to_string(&clean).expect("a record serialises")
    }
}

/// A record's `ts`: RFC 3339 in UTC with milliseconds.
pub fn format_ts(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn redact(text: &mut String) {
    if let std::borrow::Cow::Owned(clean) = redact_tokens(text) {
        *text = clean;
    }
}

/// Where records go.
pub trait LogSink: Send + Sync {
    fn write_line(&self, line: &str);
}

/// Standard output, one write per line (the Lambda's log).
pub struct Stdout;

impl LogSink for Stdout {
    fn write_line(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        let mut out = std::io::stdout().lock();
        // Nothing to do when stdout is gone: the answer still goes back.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }
}

/// Lines kept in memory, for tests.
#[derive(Default)]
pub struct MemorySink {
    lines: Mutex<Vec<String>>,
}

impl MemorySink {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl LogSink for MemorySink {
    fn write_line(&self, line: &str) {
        self.lines.lock().unwrap().push(line.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_denied_record_with_only_what_is_known() {
        let ts = DateTime::parse_from_rfc3339("2026-03-04T10:15:02.25Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut record = LogRecord::new("req-1", ts, Outcome::Denied);
        record.error_code = Some("method_not_allowed".into());
        let line: Value = serde_json::from_str(&record.to_line()).unwrap();
        assert_eq!(
            line,
            json!({"v": 1, "ts": "2026-03-04T10:15:02.250Z", "request_id": "req-1",
                   "caller_arn": "-", "account_id": "-", "region": "-", "target": "-",
                   "outcome": "denied", "error_code": "method_not_allowed"})
        );
    }

    #[test]
    fn tokens_in_any_text_are_redacted() {
        let mut record = LogRecord::new("req-1", Utc::now(), Outcome::Error);
        record.error_message = Some("wss://x/v1/data-channel/s?token=AAEAAsecret1234".into());
        let line = record.to_line();
        assert!(!line.contains("AAEAAsecret1234"), "{line}");
        assert!(line.contains("REDACTED"), "{line}");
    }
}
