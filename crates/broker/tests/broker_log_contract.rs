//! What the broker logs is what sessiontrail reads: the lines of started, denied and
//! error requests, as the broker writes them and as Lambda's JSON log format wraps
//! them, read back with `sessiontrail_ingest::broker_log` give the same records, with
//! no reject and no token.

mod common;

use common::*;
use serde_json::{Value, json};
use sessiontrail_broker::handle;
use sessiontrail_broker::start::{Call, StartError};
use sessiontrail_ingest::broker_log::{BrokerRead, read_broker_log};
use sessiontrail_ingest::time::parse_rfc3339_millis;
use sessiontrail_ingest::{BrokerOutcome, BrokerRecord};

/// Three started sessions, an error, and three refusals; returns the lines and every
/// secret StartSession answered.
async fn traffic() -> (Vec<String>, Vec<String>) {
    let test = broker();
    let mut secrets = Vec::new();
    let mut send = async |id: &str, event: Value| {
        let response = handle(&event, &context(id), &test.broker).await;
        let body: Value = json(&response.body);
        for key in ["TokenValue", "StreamUrl"] {
            if let Some(secret) = body[key].as_str() {
                secrets.push(secret.to_string());
            }
        }
    };
    send("req-started-1", event(ALICE, BODY)).await;
    send(
        "req-started-2",
        event(
            BOB,
            r#"{"target":"mi-0123456789abcdef0","region":"us-east-1"}"#,
        ),
    )
    .await;
    test.broker.starter.answer(Err(StartError {
        call: Call::StartSession,
        code: "TargetNotConnected".into(),
        message: "i-0123abcd is not connected.".into(),
        request_id: Some("ssm-req-err".into()),
        transient: false,
    }));
    send(
        "req-error",
        event(ALICE, r#"{"target":"i-0123abcd","region":"eu-west-1"}"#),
    )
    .await;
    send(
        "req-lookalike",
        event(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSOX_Admin_0123456789abcdef/eve",
            BODY,
        ),
    )
    .await;
    send(
        "req-token-reason",
        event(
            ALICE,
            r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"token=AAEAAsecretsecret"}"#,
        ),
    )
    .await;
    let mut get = event(ALICE, BODY);
    get["requestContext"]["http"]["method"] = "GET".into();
    send("req-get", get).await;
    send("req-started-3", event(ALICE, BODY)).await;
    (test.log.lines(), secrets)
}

fn ts() -> i64 {
    parse_rfc3339_millis(NOW).unwrap()
}

/// The records the contract says these requests are, written out field by field.
fn expected() -> Vec<BrokerRecord> {
    let record = |request_id: &str, outcome| BrokerRecord {
        request_id: request_id.into(),
        ts: ts(),
        caller_arn: ALICE.into(),
        caller_user_id: Some("AROAEXAMPLEROLEID:alice@example.com".into()),
        permission_set: Some("Admin".into()),
        account_id: "111122223333".into(),
        region: "eu-west-1".into(),
        target: "i-0123456789abcdef0".into(),
        document_name: Some("SSMRunAs-Admin-Session".into()),
        run_as: Some("admin".into()),
        outcome,
        session_id: None,
        ssm_request_id: None,
        reason: Some("INC-42: disk full".into()),
        source_ip: Some("198.51.100.7".into()),
        token_paths: vec![],
        source: None,
    };
    let started_1 = BrokerRecord {
        session_id: Some("alice@example.com-00000000000000001".into()),
        ssm_request_id: Some("00000001-aaaa-bbbb-cccc-dddddddddddd".into()),
        ..record("req-started-1", BrokerOutcome::Started)
    };
    let started_2 = BrokerRecord {
        caller_arn: BOB.into(),
        permission_set: Some("Developer".into()),
        account_id: "444455556666".into(),
        region: "us-east-1".into(),
        target: "mi-0123456789abcdef0".into(),
        document_name: Some("SSMRunAs-Developer-Session".into()),
        run_as: Some("dev".into()),
        session_id: Some("alice@example.com-00000000000000002".into()),
        ssm_request_id: Some("00000002-aaaa-bbbb-cccc-dddddddddddd".into()),
        reason: None,
        ..record("req-started-2", BrokerOutcome::Started)
    };
    let error = BrokerRecord {
        target: "i-0123abcd".into(),
        ssm_request_id: Some("ssm-req-err".into()),
        reason: None,
        ..record("req-error", BrokerOutcome::Error)
    };
    let lookalike = BrokerRecord {
        caller_arn:
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSOX_Admin_0123456789abcdef/eve"
                .into(),
        permission_set: None,
        document_name: None,
        run_as: None,
        ..record("req-lookalike", BrokerOutcome::Denied)
    };
    let token_reason = BrokerRecord {
        target: "i-0123abcd".into(),
        document_name: None,
        run_as: None,
        reason: None,
        ..record("req-token-reason", BrokerOutcome::Denied)
    };
    let get = BrokerRecord {
        permission_set: None,
        document_name: None,
        run_as: None,
        ..record("req-get", BrokerOutcome::Denied)
    };
    let started_3 = BrokerRecord {
        session_id: Some("alice@example.com-00000000000000004".into()),
        ssm_request_id: Some("00000004-aaaa-bbbb-cccc-dddddddddddd".into()),
        ..record("req-started-3", BrokerOutcome::Started)
    };
    vec![
        started_1,
        started_2,
        error,
        lookalike,
        token_reason,
        get,
        started_3,
    ]
}

fn read(content: &str) -> BrokerRead {
    let mut out = BrokerRead::default();
    read_broker_log(content.as_bytes(), "broker.log", &mut out);
    out
}

fn assert_read_back(content: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(!content.contains(secret.as_str()), "a secret was logged");
    }
    let out = read(content);
    assert_eq!(out.rejects, vec![], "no reject");
    assert_eq!(out.leaks, vec![], "no token leak");
    // Each record names the line it was read from: the line holding its request id.
    let lines: Vec<&str> = content.split('\n').collect();
    let mut records = out.records.clone();
    for record in &mut records {
        let source = record
            .source
            .take()
            .expect("a record read names its source");
        assert_eq!(source.file, "broker.log");
        let line = lines[source.line as usize - 1];
        assert!(
            line.contains(&record.request_id),
            "{} is not on line {}: {line}",
            record.request_id,
            source.line
        );
        let before: usize = lines[..source.line as usize - 1]
            .iter()
            .map(|l| l.len() + 1)
            .sum();
        assert_eq!(source.byte_offset, before as u64, "{}", record.request_id);
    }
    assert_eq!(records, expected());
    assert_eq!(out.stats.records, 7);
}

#[tokio::test]
async fn plain_lines_read_back_as_the_same_records() {
    let (lines, secrets) = traffic().await;
    assert_eq!(lines.len(), 7, "one line per request");
    assert_eq!(secrets.len(), 6, "three sessions, a token and a URL each");
    // The Lambda runtime's own lines around them are ignored, not rejected.
    let content = format!(
        "START RequestId: req-started-1 Version: $LATEST\n{}\nEND RequestId: req-started-3\n",
        lines.join("\n")
    );
    assert_read_back(&content, &secrets);
    assert_eq!(read(&content).stats.ignored, 2);
}

#[tokio::test]
async fn lambda_json_log_format_reads_back_as_the_same_records() {
    let (lines, secrets) = traffic().await;
    // LogFormat JSON: the line under `message`, as an object or as its text.
    let as_object: Vec<String> = lines
        .iter()
        .map(|line| {
            json!({"timestamp": "2026-03-04T10:15:02.251Z", "level": "INFO",
                   "requestId": "req", "message": json(line)})
            .to_string()
        })
        .collect();
    assert_read_back(&as_object.join("\n"), &secrets);
    let as_text: Vec<String> = lines
        .iter()
        .map(|line| {
            json!({"timestamp": "2026-03-04T10:15:02.251Z", "level": "INFO", "message": line})
                .to_string()
        })
        .collect();
    assert_read_back(&as_text.join("\n"), &secrets);
}

#[tokio::test]
async fn denials_and_errors_say_why_in_error_code() {
    let (lines, _) = traffic().await;
    let codes: Vec<(String, Option<String>)> = lines
        .iter()
        .map(|line| {
            let record = json(line);
            (
                record["outcome"].as_str().unwrap().to_string(),
                record["error_code"].as_str().map(str::to_string),
            )
        })
        .collect();
    let owned = |outcome: &str, code: Option<&str>| (outcome.to_string(), code.map(str::to_string));
    assert_eq!(
        codes,
        vec![
            owned("started", None),
            owned("started", None),
            owned("error", Some("TargetNotConnected")),
            owned("denied", Some("denied")),
            owned("denied", Some("invalid_request")),
            owned("denied", Some("method_not_allowed")),
            owned("started", None),
        ]
    );
}
