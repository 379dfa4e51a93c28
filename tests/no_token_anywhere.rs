//! A session token is never stored (issue 12, item 1): a token planted in every string
//! field a broker record keeps, in every form it reaches a log (a `wss://` stream URL
//! with a `token=` parameter, the same URL URL-encoded, a printed boto3 response, a
//! `TokenValue` key whose value is copied into the field), under nested keys and in key
//! names, in a line without `v`, in rejected records, in a Lambda JSON log line, in a
//! subscription payload, a CloudWatch export line and a gzipped file, must appear in
//! no output: not in any file under the output folder (Parquet decoded to text and as
//! raw bytes, every `.gz` decompressed, the state and its archive, the rejects), not in
//! `sessiontrail findings` in any format, not in `sessiontrail query` output, not in
//! what `correlate` prints, and not in the EventBridge detail of any new finding
//! (`Finding::to_json`, through the library with the outbox on).
//!
//! The expectation does not come from the program: every planted token contains
//! [`MARKER`], which appears in no input except inside the tokens, so any output
//! holding it holds (a piece of) a token.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use common::{path_str, run};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value, json};

/// In every planted token, and nowhere else in the inputs.
const MARKER: &str = "Zq8sEcReT";

const POLICY: &str = r#"default_document = "SSM-SessionManagerRunShell"

[broker]
role_arns = ["arn:aws:iam::111122223333:role/ssm-session-broker"]
grace = "30m"

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"
"#;

const AS_OF: &str = "2026-02-02T00:00:00Z";

/// Every string field a broker record keeps (README "The broker log").
const KEPT_FIELDS: [&str; 13] = [
    "request_id",
    "caller_arn",
    "caller_user_id",
    "permission_set",
    "account_id",
    "region",
    "target",
    "document_name",
    "run_as",
    "session_id",
    "ssm_request_id",
    "reason",
    "source_ip",
];

/// A token value: AWS's look (`AAEAA...`), unique per place, holding the marker.
fn secret(place: &str) -> String {
    format!("AAEAA{MARKER}-{place}-{MARKER}x9")
}

fn stream_url(session: &str, token: &str) -> String {
    format!(
        "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{session}?role=publish_subscribe&cell-number=AAEAAWTagu9ID0FSQS0X&token={token}"
    )
}

/// The ways a token reaches a string field, each giving (field value, extra keys of
/// the record).
fn planted(field: &str, form: &str) -> (String, Map<String, Value>) {
    let token = secret(&format!("{field}-{form}"));
    let session = format!("s-{field}-{form}");
    let mut extra = Map::new();
    let value = match form {
        "url" => stream_url(&session, &token),
        "url-encoded" => {
            let encoded = stream_url(&session, &token)
                .replace(':', "%3A")
                .replace('/', "%2F")
                .replace('?', "%3F")
                .replace('=', "%3D")
                .replace('&', "%26");
            format!("https://console.example/redirect?next={encoded}")
        }
        "boto3-print" => format!(
            "{{'SessionId': '{session}', 'TokenValue': '{token}', 'StreamUrl': 'wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{session}?role=publish_subscribe', 'ResponseMetadata': {{'HTTPStatusCode': 200}}}}"
        ),
        "copied" => {
            // The token under its own key, and the bare value copied into the field.
            extra.insert("TokenValue".into(), Value::String(token.clone()));
            format!("handed {token} to the client")
        }
        _ => unreachable!(),
    };
    (value, extra)
}

const FORMS: [&str; 4] = ["url", "url-encoded", "boto3-print", "copied"];

fn start_session(n: usize, session_id: &str) -> String {
    let time = format!("2026-02-01T10:{:02}:00Z", n % 60);
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session-broker","arn":"arn:aws:sts::111122223333:assumed-role/ssm-session-broker/session-broker","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/ssm-session-broker","accountId":"111122223333","userName":"ssm-session-broker"}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}}}},"eventTime":"{time}","eventSource":"ssm.amazonaws.com","eventName":"StartSession","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userAgent":"aws-sdk-rust","requestParameters":{{"target":"i-0abc","documentName":"SSMRunAs-Admin-Session"}},"responseElements":{{"sessionId":"{session_id}","tokenValue":"Value hidden due to security reasons.","streamUrl":"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe"}},"requestID":"req-e-{n}","eventID":"e-{n}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#
    )
}

/// A clean, started broker record for session `n`.
fn record(n: usize) -> Map<String, Value> {
    let value = json!({"v": 1, "ts": format!("2026-02-01T10:{:02}:00.300Z", n % 60),
        "request_id": format!("b-{n}"),
        "caller_arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
        "caller_user_id": "AROAEXAMPLE:alice@example.com", "permission_set": "Admin",
        "account_id": "111122223333", "region": "eu-west-1", "target": "i-0abc",
        "document_name": "SSMRunAs-Admin-Session", "run_as": "admin", "outcome": "started",
        "session_id": format!("session-broker-{n}"), "ssm_request_id": format!("req-e-{n}"),
        "reason": "ok", "source_ip": "198.51.100.7"});
    match value {
        Value::Object(object) => object,
        _ => unreachable!(),
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Writes the inputs under `root` (policy.toml, ct/, broker/, broker-unparsed/);
/// returns how many broker lines carry a token.
fn write_inputs(root: &Path) -> usize {
    std::fs::write(root.join("policy.toml"), POLICY).unwrap();
    std::fs::create_dir_all(root.join("ct")).unwrap();
    std::fs::create_dir_all(root.join("broker")).unwrap();
    let mut ct_lines = Vec::new();
    let mut lines: Vec<String> = vec!["START RequestId: 1 Version: $LATEST".into()];
    let mut n = 0;
    // A token in each kept field in turn, in each form.
    for field in KEPT_FIELDS {
        for form in FORMS {
            n += 1;
            ct_lines.push(start_session(n, &format!("session-broker-{n}")));
            let mut rec = record(n);
            let (value, extra) = planted(field, form);
            rec.insert(field.into(), Value::String(value));
            rec.extend(extra);
            lines.push(Value::Object(rec).to_string());
        }
    }
    // Nested keys, arrays, and a key that itself holds a token; the value copied into
    // the reason.
    n += 1;
    ct_lines.push(start_session(n, &format!("session-broker-{n}")));
    let mut rec = record(n);
    let nested = secret("nested");
    rec.insert(
        "ssm_response".into(),
        json!({"Session": {"SessionId": "x", "TokenValue": nested,
            "Urls": [{"StreamUrl": stream_url("x", &secret("nested-array"))}]},
            "Credentials": {"SessionToken": secret("nested-session-token")}}),
    );
    rec.insert(
        format!("note?token={}", secret("key-name")),
        Value::String(format!("token={}", secret("key-name"))),
    );
    rec.insert("reason".into(), Value::String(format!("gave {nested}")));
    lines.push(Value::Object(rec).to_string());
    // A line without v (an application log line), with its fields and the token.
    lines.push(
        json!({"level": "INFO", "msg": format!("StartSession answered {}", secret("no-v-copied")),
            "request_id": "b-no-v", "session_id": "session-broker-1",
            "account_id": "111122223333", "region": "eu-west-1",
            "target": stream_url("no-v", &secret("no-v-target")),
            "resp": {"TokenValue": secret("no-v-copied"), "StreamUrl": stream_url("no-v", &secret("no-v-url"))}})
        .to_string(),
    );
    // Lines that name no account: text that is not JSON (a printed boto3 response) and
    // broken JSON. Their findings have no account, which ASFF cannot express, so they
    // are a folder of their own (`broker-unparsed`).
    let mut unparsed: Vec<String> = Vec::new();
    unparsed.push(format!(
        "[INFO] 2026-02-01T10:00:00Z response: {{'SessionId': 'session-broker-2', 'TokenValue': '{}', 'StreamUrl': '{}'}}",
        secret("python-print"),
        stream_url("session-broker-2", &secret("python-print-url"))
    ));
    // Rejected records: no target, a token in a field and under a key; a token in ts;
    // in outcome; broken JSON with v.
    let mut rejected = record(900);
    rejected.remove("target");
    rejected.insert(
        "reason".into(),
        Value::String(stream_url("r", &secret("rejected-reason"))),
    );
    rejected.insert(
        "session_id".into(),
        Value::String(format!("s-{}", secret("rejected-copied"))),
    );
    rejected.insert(
        "token_value".into(),
        Value::String(secret("rejected-copied")),
    );
    lines.push(Value::Object(rejected).to_string());
    for (field, n) in [("ts", 901), ("outcome", 902), ("v", 903)] {
        let mut rec = record(n);
        rec.insert(
            field.into(),
            Value::String(stream_url("r", &secret(&format!("rejected-{field}")))),
        );
        lines.push(Value::Object(rec).to_string());
    }
    unparsed.push(format!(
        r#"{{"v":1,"request_id":"b-broken","reason":"{}","token":"{}","#,
        stream_url("broken", &secret("broken-url")),
        secret("broken-key")
    ));
    // A Lambda JSON log line: the record as its message (object and text), the token
    // beside it and copied into the record.
    n += 1;
    ct_lines.push(start_session(n, &format!("session-broker-{n}")));
    let mut inner = record(n);
    inner.insert(
        "reason".into(),
        Value::String(format!("sent {}", secret("lambda-outer"))),
    );
    lines.push(
        json!({"time": "2026-02-01T10:00:00.500Z", "type": "app", "level": "INFO",
            "requestId": "lambda-1", "resp": {"TokenValue": secret("lambda-outer")},
            "message": inner})
        .to_string(),
    );
    n += 1;
    ct_lines.push(start_session(n, &format!("session-broker-{n}")));
    let mut inner = record(n);
    inner.insert(
        "target".into(),
        Value::String(stream_url("l", &secret("lambda-text"))),
    );
    lines.push(
        json!({"time": "2026-02-01T10:00:00.500Z", "type": "app", "level": "INFO",
            "requestId": "lambda-2", "message": Value::Object(inner).to_string()})
        .to_string(),
    );
    // A CloudWatch Logs export line.
    n += 1;
    ct_lines.push(start_session(n, &format!("session-broker-{n}")));
    let mut inner = record(n);
    inner.insert(
        "run_as".into(),
        Value::String(stream_url("e", &secret("export"))),
    );
    lines.push(format!("2026-02-01T10:00:01.000Z {}", Value::Object(inner)));
    let planted_lines = lines.len() - 1 + unparsed.len();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(root.join("broker/broker.jsonl"), text).unwrap();
    std::fs::create_dir_all(root.join("broker-unparsed")).unwrap();
    std::fs::write(
        root.join("broker-unparsed/unparsed.log"),
        unparsed.join("\n") + "\n",
    )
    .unwrap();

    // A subscription payload (awslogs.data), gzipped as a file too.
    n += 1;
    ct_lines.push(start_session(n, &format!("session-broker-{n}")));
    let mut inner = record(n);
    inner.insert(
        "document_name".into(),
        Value::String(stream_url("sub", &secret("subscription"))),
    );
    let no_v = json!({"msg": "x", "session_token": secret("subscription-no-v")}).to_string();
    let payload = json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/lambda/broker", "logStream": "s", "subscriptionFilters": ["f"],
        "logEvents": [{"id": "1", "timestamp": 1769940000000i64, "message": Value::Object(inner).to_string()},
                      {"id": "2", "timestamp": 1769940000001i64, "message": no_v}]});
    let encoded = json!({"awslogs": {"data": base64(&gzip(payload.to_string().as_bytes()))}});
    std::fs::write(
        root.join("broker/subscription.json.gz"),
        gzip(format!("{encoded}\n").as_bytes()),
    )
    .unwrap();

    // A CloudTrail record with a token that is rejected (no eventID).
    ct_lines.push(format!(
        r#"{{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T10:00:00Z","responseElements":{{"sessionId":"x","tokenValue":"{}","streamUrl":"{}"}}}}"#,
        secret("cloudtrail-rejected"),
        stream_url("x", &secret("cloudtrail-rejected-url"))
    ));
    std::fs::write(root.join("ct/events.jsonl"), ct_lines.join("\n") + "\n").unwrap();
    planted_lines + 2
}

/// Every file under `dir` as the texts to search: its raw bytes, its decompressed
/// content when gzipped, every value of every column when Parquet.
fn searchable_files(dir: &Path) -> Vec<(PathBuf, Vec<String>)> {
    let mut found = Vec::new();
    for path in sessiontrail_ingest::input_files::files_under(dir) {
        let bytes = std::fs::read(&path).unwrap();
        let mut texts = vec![String::from_utf8_lossy(&bytes).into_owned()];
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(bytes.as_slice())
                .read_to_end(&mut plain)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            texts.push(String::from_utf8_lossy(&plain).into_owned());
        }
        if bytes.starts_with(b"PAR1") {
            texts.push(parquet_text(&path));
        }
        found.push((path, texts));
    }
    found
}

fn parquet_text(path: &Path) -> String {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let mut text = String::new();
    for batch in reader {
        let batch: RecordBatch = batch.unwrap();
        for column in batch.columns() {
            for row in 0..batch.num_rows() {
                text.push_str(&array_value_to_string(column, row).unwrap());
                text.push('\n');
            }
        }
    }
    text
}

fn assert_no_token(what: &str, text: &str) {
    if let Some(at) = text.find(MARKER) {
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(80)
            .map_or(0, |(i, _)| i);
        let to = (at + 40).min(text.len());
        let to = (to..=text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap();
        panic!("a token reached {what}: ...{}...", &text[from..to]);
    }
}

/// `sessiontrail correlate` over root/ct and the broker folders into root/`out`.
fn correlate(root: &Path, brokers: &[&str], out: &str) -> std::process::Output {
    let p = |name: &str| path_str(&root.join(name)).to_string();
    let (policy, ct, out) = (p("policy.toml"), p("ct"), p(out));
    let brokers: Vec<String> = brokers.iter().map(|b| p(b)).collect();
    let mut args = vec!["correlate", "--policy", &policy, "--cloudtrail", &ct];
    args.push("--broker-log");
    args.extend(brokers.iter().map(String::as_str));
    args.extend(["--out", &out, "--as-of", AS_OF]);
    run(&args)
}

fn findings_export(data: &str, format: &str) -> std::process::Output {
    let output = run(&["findings", "--data", data, "--format", format]);
    assert_no_token(
        &format!("findings --format {format}"),
        &String::from_utf8_lossy(&output.stdout),
    );
    assert_no_token(
        &format!("findings --format {format} (stderr)"),
        &String::from_utf8_lossy(&output.stderr),
    );
    output
}

#[test]
fn no_token_reaches_any_output_of_correlate_findings_query_or_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let planted_lines = write_inputs(root);
    let out = path_str(&root.join("out")).to_string();
    let output = correlate(root, &["broker", "broker-unparsed"], "out");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_no_token("correlate's stdout", &stdout);
    assert_no_token("correlate's stderr", &stderr);

    // The run saw what was planted (or the test would prove nothing).
    let findings = common::read_table(root.join("out").as_path(), "findings");
    let secrets = findings
        .iter()
        .filter(|f| f["rule"] == "secret_in_broker_log")
        .count();
    assert!(
        secrets >= planted_lines - 4,
        "{secrets} secret_in_broker_log findings for {planted_lines} lines with a token:\n{stdout}"
    );
    assert!(!common::read_table(root.join("out").as_path(), "rejects").is_empty());

    let files = searchable_files(&root.join("out"));
    let names: Vec<String> = files
        .iter()
        .map(|(path, _)| path.strip_prefix(root).unwrap().display().to_string())
        .collect();
    for wanted in [
        "out/sessions/",
        "out/findings/",
        "out/rejects/",
        "out/state/state.jsonl.gz",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(wanted)),
            "{wanted} in {names:?}"
        );
    }
    for (path, texts) in &files {
        for text in texts {
            assert_no_token(&path.display().to_string(), text);
        }
    }

    for format in ["jsonl", "csv", "ocsf"] {
        let output = findings_export(&out, format);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty(), "{format}");
    }
    // ASFF cannot express the findings of lines that name no account (it refuses the
    // export, checked above for tokens too); the dataset without them is exported.
    findings_export(&out, "asff");
    let output = correlate(root, &["broker"], "out-asff");
    assert_eq!(output.status.code(), Some(0));
    let output = findings_export(path_str(&root.join("out-asff")), "asff");
    assert_eq!(
        output.status.code(),
        Some(0),
        "asff: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.stdout.is_empty());
    for table in ["sessions", "findings", "rejects"] {
        let output = run(&[
            "query",
            "--data",
            &out,
            "--format",
            "json",
            &format!("SELECT * FROM {table}"),
        ]);
        assert_eq!(output.status.code(), Some(0), "{table}");
        assert_no_token(
            &format!("query {table}"),
            &String::from_utf8_lossy(&output.stdout),
        );
    }
}

/// Retention moves sessions to state/archive/: their records there hold no token either.
#[test]
fn no_token_in_the_archive_after_retention() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root);
    std::fs::write(
        root.join("policy.toml"),
        POLICY.replace("grace = \"30m\"", "grace = \"30m\"\nretention = \"1d\""),
    )
    .unwrap();
    let p = |name: &str| path_str(&root.join(name)).to_string();
    let (policy, out) = (p("policy.toml"), p("out"));
    let output = correlate(root, &["broker", "broker-unparsed"], "out");
    assert_eq!(output.status.code(), Some(0));
    // A later record moves the watermark past retention: the first day is archived.
    let empty = root.join("later");
    std::fs::create_dir_all(empty.join("ct")).unwrap();
    std::fs::create_dir_all(empty.join("broker")).unwrap();
    std::fs::write(
        empty.join("ct/late.jsonl"),
        start_session(1, "session-broker-late").replace("2026-02-01", "2026-02-20") + "\n",
    )
    .unwrap();
    let mut late = record(1);
    late.insert("session_id".into(), "session-broker-late".into());
    late.insert("request_id".into(), "b-late".into());
    late.insert("ts".into(), "2026-02-20T10:01:00.300Z".into());
    std::fs::write(
        empty.join("broker/late.jsonl"),
        Value::Object(late).to_string() + "\n",
    )
    .unwrap();
    common::run_ok(&[
        "correlate",
        "--policy",
        &policy,
        "--cloudtrail",
        path_str(&empty.join("ct")),
        "--broker-log",
        path_str(&empty.join("broker")),
        "--out",
        &out,
        "--as-of",
        "2026-02-21T00:00:00Z",
    ]);
    let files = searchable_files(&root.join("out"));
    assert!(
        files
            .iter()
            .any(|(path, _)| path.to_string_lossy().contains("state/archive/")),
        "the first day was archived: {:?}",
        files.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for (path, texts) in &files {
        for text in texts {
            assert_no_token(&path.display().to_string(), text);
        }
    }
}

/// The EventBridge detail of every new finding (what the Lambda publishes) and the
/// state's outbox, through the library.
#[test]
fn no_token_in_the_detail_of_any_new_finding() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_inputs(root);
    let policy = sessiontrail_correlate::Policy::load(&root.join("policy.toml")).unwrap();
    let options = sessiontrail_correlate::RunOptions::new(
        vec![root.join("ct")],
        vec![root.join("broker"), root.join("broker-unparsed")],
        root.join("out"),
    );
    let inputs = sessiontrail_correlate::read_local_inputs(&options).unwrap();
    assert_no_token("the inputs as read", &format!("{inputs:?}"));
    let storage = sessiontrail_correlate::storage::LocalStorage::new(root.join("out"));
    let settings = sessiontrail_correlate::RunSettings {
        as_of: sessiontrail_ingest::time::parse_rfc3339_millis(AS_OF),
        outbox: true,
    };
    let summary = sessiontrail_correlate::run_on(&policy, &storage, inputs, &settings).unwrap();
    assert!(
        summary
            .new_findings
            .iter()
            .any(|f| f.rule == sessiontrail_correlate::Rule::SecretInBrokerLog)
    );
    for finding in &summary.new_findings {
        assert_no_token(
            &format!("the EventBridge detail of {}", finding.finding_id),
            &finding.to_json().to_string(),
        );
    }
    assert_no_token("the run summary", &format!("{summary:?}\n{summary}"));
    let state = searchable_files(&root.join("out/state"));
    let outbox_lines: usize = state
        .iter()
        .flat_map(|(_, texts)| texts)
        .map(|t| t.matches("\"outbox\"").count())
        .sum();
    assert!(outbox_lines > 0, "the outbox is in the state");
    for (path, texts) in &state {
        for text in texts {
            assert_no_token(&path.display().to_string(), text);
        }
    }
}
