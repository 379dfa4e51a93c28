//! A loopback stand-in for EventBridge's PutEvents, speaking its wire protocol (AWS
//! JSON 1.1: `POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `Content-Type:
//! application/x-amz-json-1.1`), for what moto's PutEvents does not do: the request
//! limits (10 entries, less than 256 KB by AWS's entry-size formula, answered with
//! `400 ValidationException` like the service), and per-entry answers
//! (`FailedEntryCount`, `Entries[i].ErrorCode` / `ErrorMessage`) scripted by the test.
//!
//! Every request is recorded; [`StandIn::check_against_botocore`] validates them all
//! against botocore's service model of EventBridge (operation, protocol headers, and
//! the body against the `PutEventsRequest` shape).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The answer to one entry: None accepts it, Some((code, message)) refuses it.
pub type Answer = Option<(String, String)>;

/// Decides each entry's answer from the entry (its `Detail` parsed) and how many times
/// an entry with the same `finding_id` was received before this one.
pub type Script = Box<dyn Fn(&Value, usize) -> Answer + Send + Sync>;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub target: String,
    pub content_type: String,
    pub body: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The request's size by AWS's formula (the sum of its entries').
    pub entries_size: usize,
    pub entries: usize,
}

#[derive(Default)]
struct Shared {
    requests: Vec<Request>,
    /// The details of accepted entries, in order.
    delivered: Vec<Value>,
    /// finding_id -> entries received with it.
    received: std::collections::BTreeMap<String, usize>,
}

pub struct StandIn {
    pub endpoint: String,
    shared: Arc<Mutex<Shared>>,
    script: Arc<Mutex<Script>>,
    /// Requests from this index on are answered `500 InternalException` (the service
    /// failing whole); usize::MAX: never.
    fail_from_request: Arc<AtomicUsize>,
    /// The request limit enforced (AWS's: 262,144, less than which a request must be).
    request_limit: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// AWS's entry size ("Calculating PutEvents event entry size"): Time 14 bytes if
/// present, then the UTF-8 bytes of Source, DetailType, Detail and each Resource.
pub fn aws_entry_size(entry: &Value) -> usize {
    let text = |name: &str| entry.get(name).and_then(Value::as_str).map_or(0, str::len);
    (if entry.get("Time").is_some() { 14 } else { 0 })
        + text("Source")
        + text("DetailType")
        + text("Detail")
        + entry
            .get("Resources")
            .and_then(Value::as_array)
            .map_or(0, |r| {
                r.iter().filter_map(Value::as_str).map(str::len).sum()
            })
}

impl StandIn {
    pub fn start(script: Script) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stand_in = StandIn {
            endpoint,
            shared: Arc::default(),
            script: Arc::new(Mutex::new(script)),
            fail_from_request: Arc::new(AtomicUsize::new(usize::MAX)),
            request_limit: Arc::new(AtomicUsize::new(262_144)),
            stop: Arc::default(),
        };
        let (shared, script, fail_from, limit, stop) = (
            stand_in.shared.clone(),
            stand_in.script.clone(),
            stand_in.fail_from_request.clone(),
            stand_in.request_limit.clone(),
            stand_in.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                // One request per connection, answered in order: the SDK sends the
                // requests of one publisher one after the other.
                let _ = serve(stream, &shared, &script, &fail_from, &limit);
            }
        });
        stand_in
    }

    /// Replaces the script (for the next invocation).
    pub fn set_script(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }

    /// Answers every request from now on with `500 InternalException`, after `n` more
    /// requests answered normally.
    pub fn fail_after(&self, n: usize) {
        let now = self.shared.lock().unwrap().requests.len();
        self.fail_from_request.store(now + n, Ordering::Relaxed);
    }

    pub fn heal(&self) {
        self.fail_from_request.store(usize::MAX, Ordering::Relaxed);
    }

    /// Enforces a smaller request limit than AWS's, as a service whose count differs
    /// from the client's would.
    pub fn set_request_limit(&self, bytes: usize) {
        self.request_limit.store(bytes, Ordering::Relaxed);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().unwrap().requests.clone()
    }

    pub fn delivered(&self) -> Vec<Value> {
        self.shared.lock().unwrap().delivered.clone()
    }

    /// How many entries with this finding_id were received (accepted or not).
    pub fn received(&self, finding_id: &str) -> usize {
        self.shared
            .lock()
            .unwrap()
            .received
            .get(finding_id)
            .copied()
            .unwrap_or(0)
    }

    /// Validates every recorded request against botocore's model of EventBridge.
    /// Returns None when botocore is not installed (the caller says it skipped).
    pub fn check_against_botocore(&self) -> Option<()> {
        let requests: Vec<Value> = self
            .requests()
            .iter()
            .map(|r| json!({"target": r.target, "content_type": r.content_type, "body": r.body}))
            .collect();
        let script = r#"
import json, re, sys
try:
    import botocore.session, botocore.validate
except ImportError:
    print("NO-BOTOCORE"); sys.exit(0)
model = botocore.session.get_session().get_service_model("events")
operation = model.operation_model("PutEvents")
meta = model.metadata
assert meta["protocol"] == "json", meta
target = meta["targetPrefix"] + "." + operation.name
content_type = "application/x-amz-json-" + meta["jsonVersion"]
validator = botocore.validate.ParamValidator()
problems = []
for i, request in enumerate(json.load(sys.stdin)):
    if request["target"] != target:
        problems.append(f"request {i}: X-Amz-Target {request['target']!r}, not {target!r}")
    if request["content_type"] != content_type:
        problems.append(f"request {i}: Content-Type {request['content_type']!r}, not {content_type!r}")
    report = validator.validate(json.loads(request["body"]), operation.input_shape)
    if report.has_errors():
        problems.append(f"request {i}: {report.generate_report()}")
    # ParamValidator checks types, required members and minimums, not maximums or
    # patterns: those from the model here.
    entries_shape = operation.input_shape.members["Entries"]
    entries = json.loads(request["body"]).get("Entries", [])
    if len(entries) > entries_shape.metadata.get("max", len(entries)):
        problems.append(f"request {i}: {len(entries)} entries, more than {entries_shape.metadata['max']}")
    for entry in entries:
        for name, shape in entries_shape.member.members.items():
            value = entry.get(name)
            if isinstance(value, str):
                if len(value) > shape.metadata.get("max", len(value)):
                    problems.append(f"request {i}: {name} longer than {shape.metadata['max']}")
                if "pattern" in shape.metadata and not re.fullmatch(shape.metadata["pattern"], value):
                    problems.append(f"request {i}: {name} {value!r} does not match {shape.metadata['pattern']}")
        if not isinstance(json.loads(entry["Detail"]), dict):
            problems.append(f"request {i}: a Detail that is not a JSON object")
print(json.dumps(problems))
"#;
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(&requests).unwrap().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "the botocore check failed to run");
        let stdout = String::from_utf8(output.stdout).unwrap();
        if stdout.trim() == "NO-BOTOCORE" {
            return None;
        }
        let problems: Vec<String> = serde_json::from_str(stdout.trim()).unwrap();
        assert!(
            problems.is_empty(),
            "requests botocore's model refuses: {problems:#?}"
        );
        Some(())
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.endpoint.trim_start_matches("http://"));
    }
}

fn respond(client: &mut TcpStream, status: &str, body: &str) -> std::io::Result<()> {
    write!(
        client,
        "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-requestid: 00000000-0000-4000-8000-000000000000\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    client.flush()
}

fn serve(
    client: TcpStream,
    shared: &Mutex<Shared>,
    script: &Mutex<Script>,
    fail_from: &AtomicUsize,
    limit: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let (mut target, mut content_type, mut content_length) = (String::new(), String::new(), 0);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value,
                "content-type" => content_type = value,
                "content-length" => content_length = value.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut client = client;
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let entries = request["Entries"].as_array().cloned().unwrap_or_default();
    let entries_size: usize = entries.iter().map(aws_entry_size).sum();
    let mut shared = shared.lock().unwrap();
    let index = shared.requests.len();
    let record = |status: u16, shared: &mut Shared| {
        shared.requests.push(Request {
            target: target.clone(),
            content_type: content_type.clone(),
            body: body.clone(),
            status,
            entries_size,
            entries: entries.len(),
        })
    };
    let error = |code: &str, message: &str| json!({"__type": code, "message": message}).to_string();
    if index >= fail_from.load(Ordering::Relaxed) {
        record(500, &mut shared);
        return respond(
            &mut client,
            "500 Internal Server Error",
            &error("InternalException", "injected by the test"),
        );
    }
    if target != "AWSEvents.PutEvents" {
        record(400, &mut shared);
        return respond(
            &mut client,
            "400 Bad Request",
            &error("UnknownOperationException", "not PutEvents"),
        );
    }
    if entries.is_empty() || entries.len() > 10 {
        record(400, &mut shared);
        return respond(
            &mut client,
            "400 Bad Request",
            &error(
                "ValidationException",
                "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10",
            ),
        );
    }
    if entries_size >= limit.load(Ordering::Relaxed) {
        record(400, &mut shared);
        return respond(
            &mut client,
            "400 Bad Request",
            &error(
                "ValidationException",
                "Total size of the entries in the request is over the limit.",
            ),
        );
    }
    let script = script.lock().unwrap();
    let mut results = Vec::new();
    let mut failed = 0;
    for (i, entry) in entries.iter().enumerate() {
        let detail: Value = entry["Detail"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        let id = detail["finding_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let seen = shared.received.get(&id).copied().unwrap_or(0);
        *shared.received.entry(id).or_default() += 1;
        match script(&detail, seen) {
            None => {
                shared.delivered.push(detail);
                results.push(json!({"EventId": format!("{index}-{i}")}));
            }
            Some((code, message)) => {
                failed += 1;
                results.push(json!({"ErrorCode": code, "ErrorMessage": message}));
            }
        }
    }
    record(200, &mut shared);
    drop(shared);
    respond(
        &mut client,
        "200 OK",
        &json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
    )
}
