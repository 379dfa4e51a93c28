//! The session broker's log: its records (docs/contracts.md "Broker log record, version 1"),
//! the Lambda invocations they are logged in, and the three ways the log is delivered:
//! daily JSON-lines files, a CloudWatch Logs export, and a subscription payload.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::clock::{self, Millis, SECOND};
use crate::json::{J, Obj};
use crate::layout;
use crate::options::GenerateError;
use crate::prng::Prng;
use crate::world::BROKER_FUNCTION;

/// What the broker's StartSession call came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Denied,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }
}

/// One broker log record (version 1).
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerRecord {
    pub ts: Millis,
    /// UTC offset `ts` is written in (0 writes `Z`).
    pub ts_offset_minutes: i32,
    pub request_id: String,
    pub caller_arn: String,
    pub caller_user_id: Option<String>,
    pub permission_set: Option<String>,
    pub account_id: String,
    pub region: String,
    pub target: String,
    pub document_name: Option<String>,
    pub run_as: Option<String>,
    pub outcome: Outcome,
    pub session_id: Option<String>,
    pub ssm_request_id: Option<String>,
    pub reason: Option<String>,
    pub source_ip: Option<String>,
    /// Keys the broker should not have logged (planted secret leaks).
    pub extra: Vec<(String, J)>,
}

impl BrokerRecord {
    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        let mut obj = Obj::new()
            .with("v", 1i64)
            .with("ts", clock::rfc3339_offset(self.ts, self.ts_offset_minutes))
            .with("request_id", &self.request_id)
            .with("caller_arn", &self.caller_arn)
            .maybe("caller_user_id", self.caller_user_id.as_deref())
            .maybe("permission_set", self.permission_set.as_deref())
            .with("account_id", &self.account_id)
            .with("region", &self.region)
            .with("target", &self.target)
            .maybe("document_name", self.document_name.as_deref())
            .maybe("run_as", self.run_as.as_deref())
            .with("outcome", self.outcome.as_str())
            .maybe("session_id", self.session_id.as_deref())
            .maybe("ssm_request_id", self.ssm_request_id.as_deref())
            .maybe("reason", self.reason.as_deref())
            .maybe("source_ip", self.source_ip.as_deref());
        for (key, value) in &self.extra {
            obj.push(key.clone(), value.clone());
        }
        J::from(obj).to_json()
    }
}

/// One line the Lambda wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    pub at: Millis,
    pub text: String,
    /// A broker record (an object with `v`), as opposed to the Lambda's own lines.
    pub record: Option<String>,
}

/// Where an invocation's lines end up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Channels {
    /// The daily JSON-lines files.
    pub jsonl: bool,
    /// The CloudWatch Logs export file (all lines).
    pub export: bool,
    /// The subscription payload (record lines only: the filter matches `v`).
    pub subscription: bool,
}

impl Channels {
    pub const JSONL: Channels = Channels {
        jsonl: true,
        export: false,
        subscription: false,
    };
}

/// How an invocation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Normal,
    /// The Lambda timed out before logging its record.
    TimedOut,
}

/// One broker Lambda invocation and its log lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub request_id: String,
    pub start: Millis,
    pub lines: Vec<LogLine>,
    pub channels: Channels,
}

fn app_log(
    at: Millis,
    request_id: &str,
    message: &str,
    (key, value): (&'static str, &str),
) -> String {
    J::from(
        Obj::new()
            .with("timestamp", clock::rfc3339_millis(at))
            .with("level", "INFO")
            .with("message", message)
            .with("function_request_id", request_id)
            .with(key, value),
    )
    .to_json()
}

/// Builds the lines of one invocation that started at `start` on behalf of `caller_arn`.
pub fn invocation(
    prng: &mut Prng,
    request_id: &str,
    start: Millis,
    caller_arn: &str,
    record: Option<&BrokerRecord>,
    ending: Ending,
) -> Invocation {
    let mut lines = Vec::new();
    let cold = prng.chance(0.08);
    if cold {
        lines.push(LogLine {
            at: start - prng.between(150, 400),
            text: "INIT_START Runtime Version: provided:al2023.v45\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:5e8de6bd50d624376ae13237e86c698fc23138eacd8186371c6930c98779d08f".to_owned(),
            record: None,
        });
    }
    lines.push(LogLine {
        at: start,
        text: format!("START RequestId: {request_id} Version: $LATEST"),
        record: None,
    });
    let resolved = start + prng.between(20, 90);
    lines.push(LogLine {
        at: resolved,
        text: app_log(
            resolved,
            request_id,
            "resolved caller",
            ("caller", caller_arn),
        ),
        record: None,
    });
    let end = match (ending, record) {
        (Ending::TimedOut, _) | (_, None) => {
            let end = start + 10 * SECOND + prng.between(5, 20);
            if ending == Ending::TimedOut {
                lines.push(LogLine {
                    at: end,
                    text: format!(
                        "{} {request_id} Task timed out after 10.01 seconds",
                        clock::rfc3339_millis(end)
                    ),
                    record: None,
                });
            }
            end
        }
        (Ending::Normal, Some(record)) => {
            let text = record.to_json();
            lines.push(LogLine {
                at: record.ts,
                text: text.clone(),
                record: Some(text),
            });
            let done = record.ts + prng.between(2, 30);
            if prng.chance(0.5) {
                lines.push(LogLine {
                    at: done,
                    text: app_log(
                        done,
                        request_id,
                        "session handed to client",
                        ("outcome", record.outcome.as_str()),
                    ),
                    record: None,
                });
            }
            done + prng.between(1, 5)
        }
    };
    let duration = (end - start).max(1);
    let report = format!(
        "REPORT RequestId: {request_id}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: {} MB{}",
        duration,
        prng.below(100),
        duration + 1,
        60 + prng.below(40),
        if cold {
            format!(
                "\tInit Duration: {}.{:02} ms",
                120 + prng.below(80),
                prng.below(100)
            )
        } else {
            String::new()
        }
    );
    lines.push(LogLine {
        at: end,
        text: format!("END RequestId: {request_id}"),
        record: None,
    });
    lines.push(LogLine {
        at: end,
        text: report,
        record: None,
    });
    Invocation {
        request_id: request_id.to_owned(),
        start,
        lines,
        channels: Channels::JSONL,
    }
}

/// Counts of what [`write()`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerStats {
    pub files: u64,
    pub records: u64,
    pub lines: u64,
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn write_file(out: &Path, key: &str, bytes: &[u8]) -> Result<(), GenerateError> {
    let path = out.join(key);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| GenerateError::io(parent, e))?;
    }
    fs::write(&path, bytes).map_err(|e| GenerateError::io(&path, e))
}

/// Writes every invocation to its channels under `out/broker/`.
pub fn write(
    out: &Path,
    mut invocations: Vec<Invocation>,
    seed: u64,
    owner_account: &str,
) -> Result<BrokerStats, GenerateError> {
    let mut prng = Prng::derive(seed, "broker-files", 0);
    invocations.sort_by(|a, b| (a.start, &a.request_id).cmp(&(b.start, &b.request_id)));
    let mut stats = BrokerStats::default();
    let mut record_ids = BTreeSet::new();
    let mut note_record = |inv: &Invocation, line: &LogLine| {
        if line.record.is_some() {
            record_ids.insert(inv.request_id.clone());
        }
    };

    // Daily JSON lines, one file per half day (`broker-1` before noon, `broker-2` after).
    let mut daily: BTreeMap<(String, u8), String> = BTreeMap::new();
    for inv in invocations.iter().filter(|inv| inv.channels.jsonl) {
        let half = if inv.start.rem_euclid(clock::DAY) < 12 * clock::HOUR {
            1
        } else {
            2
        };
        let text = daily
            .entry((clock::date_path(inv.start), half))
            .or_default();
        for line in &inv.lines {
            text.push_str(&line.text);
            text.push('\n');
            stats.lines += 1;
            note_record(inv, line);
        }
    }
    for ((date, half), text) in &daily {
        write_file(
            out,
            &layout::broker_jsonl(date, *half),
            &gzip(text.as_bytes()),
        )?;
        stats.files += 1;
    }

    // CloudWatch Logs export: `<ISO ts with ms> <line>` for every line of the stream.
    let exported: Vec<&Invocation> = invocations.iter().filter(|i| i.channels.export).collect();
    if let Some(first) = exported.first() {
        let task_id = prng.uuid();
        let stream = format!(
            "{}/[$LATEST]{}",
            clock::date_path(first.start),
            prng.hex(32)
        );
        let mut text = String::new();
        for inv in &exported {
            for line in &inv.lines {
                text.push_str(&clock::rfc3339_millis(line.at));
                text.push(' ');
                text.push_str(&line.text);
                text.push('\n');
                stats.lines += 1;
                note_record(inv, line);
            }
        }
        write_file(
            out,
            &layout::broker_export(&task_id, &stream),
            &gzip(text.as_bytes()),
        )?;
        stats.files += 1;
    }

    // Subscription payload: record lines only, base64(gzip(json)).
    let subscribed: Vec<&Invocation> = invocations
        .iter()
        .filter(|i| i.channels.subscription)
        .collect();
    if let Some(first) = subscribed.first() {
        let mut events = Vec::new();
        for inv in &subscribed {
            for line in &inv.lines {
                if let Some(message) = &line.record {
                    events.push(J::from(
                        Obj::new()
                            .with("id", prng.digits(56))
                            .with("timestamp", line.at)
                            .with("message", message),
                    ));
                    stats.lines += 1;
                    note_record(inv, line);
                }
            }
        }
        let stream = format!(
            "{}/[$LATEST]{}",
            clock::date_path(first.start),
            prng.hex(32)
        );
        let payload = J::from(
            Obj::new()
                .with("messageType", "DATA_MESSAGE")
                .with("owner", owner_account)
                .with("logGroup", format!("/aws/lambda/{BROKER_FUNCTION}"))
                .with("logStream", stream)
                .with(
                    "subscriptionFilters",
                    crate::json::strings(["sessiontrail-broker-records"]),
                )
                .with("logEvents", events),
        )
        .to_json();
        let data = base64::engine::general_purpose::STANDARD.encode(gzip(payload.as_bytes()));
        let wrapper = J::from(Obj::new().with("awslogs", Obj::new().with("data", data)));
        write_file(
            out,
            &layout::broker_subscription(1),
            wrapper.to_json().as_bytes(),
        )?;
        stats.files += 1;
    }
    stats.records = record_ids.len() as u64;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> BrokerRecord {
        BrokerRecord {
            ts: 1_769_940_000_123,
            ts_offset_minutes: 0,
            request_id: "r-1".into(),
            caller_arn: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com".into(),
            caller_user_id: Some("AROAEXAMPLE:alice@example.com".into()),
            permission_set: Some("Admin".into()),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            target: "i-0123".into(),
            document_name: Some("SSMRunAs-Admin-Session".into()),
            run_as: Some("admin".into()),
            outcome: Outcome::Started,
            session_id: Some("session-broker-0123".into()),
            ssm_request_id: Some("q-1".into()),
            reason: None,
            source_ip: Some("198.51.100.7".into()),
            extra: Vec::new(),
        }
    }

    #[test]
    fn record_line_has_design_fields() {
        let value: serde_json::Value = serde_json::from_str(&record().to_json()).unwrap();
        assert_eq!(value["v"], 1);
        assert_eq!(value["ts"], "2026-02-01T10:00:00.123Z");
        assert_eq!(value["outcome"], "started");
        assert!(value.get("reason").is_none());
    }

    #[test]
    fn invocation_wraps_record_in_lambda_lines() {
        let mut prng = Prng::new(1);
        let rec = record();
        let inv = invocation(
            &mut prng,
            "r-1",
            rec.ts - 400,
            &rec.caller_arn,
            Some(&rec),
            Ending::Normal,
        );
        let texts: Vec<&str> = inv.lines.iter().map(|l| l.text.as_str()).collect();
        assert!(texts.iter().any(|t| t.starts_with("START RequestId: r-1")));
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with("REPORT RequestId: r-1\tDuration: "))
        );
        assert_eq!(inv.lines.iter().filter(|l| l.record.is_some()).count(), 1);
    }
}
