//! The handler in-process, on the in-memory starter: what each request is answered,
//! what it asks of AWS, and the one log record it writes.

mod common;

use base64::Engine;
use common::*;
use serde_json::{Value, json};
use sessiontrail_broker::handle;
use sessiontrail_broker::start::{Call, StartError, StartRequest};

/// Runs one request; returns the answer (status, body as JSON) and the one record.
async fn run(test: &common::TestBroker, event: &Value) -> (u16, Value, Value) {
    let before = test.log.lines().len();
    let response = handle(event, &context("req-1"), &test.broker).await;
    let lines = test.log.lines();
    assert_eq!(lines.len(), before + 1, "exactly one record per request");
    let record = json(lines.last().unwrap());
    (response.status, json(&response.body), record)
}

#[tokio::test]
async fn a_session_is_started_with_the_permission_sets_document_as_the_user() {
    let test = broker();
    let (status, body, record) = run(&test, &event(ALICE, BODY)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "SessionId": "alice@example.com-00000000000000001",
            "StreamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice@example.com-00000000000000001?role=publish_subscribe&cell-number=AAEAAQ",
            "TokenValue": "AAEAAFAKETOKEN0001xyzxyzxyzxyzxyzxyzxyzxyz",
            "DocumentName": "SSMRunAs-Admin-Session",
            "RunAs": "admin"
        })
    );
    assert_eq!(
        test.broker.starter.requests(),
        vec![StartRequest {
            starter_role_arn: "arn:aws:iam::111122223333:role/sessiontrail-session-starter".into(),
            source_identity: "alice@example.com".into(),
            role_session_name: "alice@example.com".into(),
            region: "eu-west-1".into(),
            target: "i-0123456789abcdef0".into(),
            document_name: "SSMRunAs-Admin-Session".into(),
            reason: Some("INC-42: disk full".into()),
        }]
    );
    assert_eq!(
        record,
        json!({
            "v": 1,
            "ts": "2026-03-04T10:15:02.250Z",
            "request_id": "req-1",
            "caller_arn": ALICE,
            "caller_user_id": "AROAEXAMPLEROLEID:alice@example.com",
            "permission_set": "Admin",
            "account_id": "111122223333",
            "region": "eu-west-1",
            "target": "i-0123456789abcdef0",
            "document_name": "SSMRunAs-Admin-Session",
            "run_as": "admin",
            "outcome": "started",
            "session_id": "alice@example.com-00000000000000001",
            "ssm_request_id": "00000001-aaaa-bbbb-cccc-dddddddddddd",
            "reason": "INC-42: disk full",
            "source_ip": "198.51.100.7"
        })
    );
}

#[tokio::test]
async fn each_account_gets_its_own_starter_role_and_permission_sets_their_user() {
    let test = broker();
    let body = r#"{"target":"i-0123abcd","region":"us-east-1"}"#;
    let (status, answer, record) = run(&test, &event(BOB, body)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["DocumentName"], "SSMRunAs-Developer-Session");
    assert_eq!(answer["RunAs"], "dev");
    assert_eq!(record["account_id"], "444455556666");
    assert_eq!(record["permission_set"], "Developer");
    assert_eq!(record.get("reason"), None);
    let request = &test.broker.starter.requests()[0];
    assert_eq!(
        request.starter_role_arn,
        "arn:aws:iam::444455556666:role/sessiontrail-session-starter"
    );
    assert_eq!(request.source_identity, "bob");
    assert_eq!(request.reason, None);

    // A permission set without run_as: RunAs is null, and the record has none.
    let data = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Data_Engineer_a1b2c3d4e5f60718/carol";
    let (status, answer, record) = run(&test, &event(data, body)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["DocumentName"], "SSMRunAs-Data-Session");
    assert_eq!(answer["RunAs"], Value::Null);
    assert_eq!(record["permission_set"], "Data_Engineer");
    assert_eq!(record.get("run_as"), None);
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let test = broker();
    let mut event = event(ALICE, "");
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(r#"{"target":"i-0123abcd","region":"eu-west-1"}"#)
        .into();
    event["isBase64Encoded"] = true.into();
    let (status, _, record) = run(&test, &event).await;
    assert_eq!(status, 200);
    assert_eq!(record["target"], "i-0123abcd");
}

/// A request that must be refused: its status and `error`, a `denied` record with the
/// same `error_code`, and no call to AWS.
async fn refused(event: Value, status: u16, error: &str) -> Value {
    let test = broker();
    let (got, body, record) = run(&test, &event).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
    assert_eq!(record["outcome"], "denied", "{record}");
    assert_eq!(record["error_code"], error, "{record}");
    assert_eq!(record["error_message"], body["reason"]);
    assert_eq!(record.get("session_id"), None);
    assert!(
        test.broker.starter.requests().is_empty(),
        "no session for a refusal"
    );
    record
}

#[tokio::test]
async fn wrong_methods_are_405() {
    for method in ["GET", "PUT", "DELETE", "OPTIONS", ""] {
        let mut event = event(ALICE, BODY);
        event["requestContext"]["http"]["method"] = method.into();
        let record = refused(event, 405, "method_not_allowed").await;
        // What was valid is still logged: who asked for what.
        assert_eq!(record["caller_arn"], ALICE);
        assert_eq!(record["target"], "i-0123456789abcdef0");
    }
}

#[tokio::test]
async fn a_huge_body_is_413() {
    let huge = format!(
        r#"{{"target":"i-0123abcd","region":"eu-west-1","reason":"{}"}}"#,
        "x".repeat(5000)
    );
    refused(event(ALICE, &huge), 413, "too_large").await;
    let mut encoded = event(ALICE, "");
    encoded["body"] = base64::engine::general_purpose::STANDARD
        .encode("y".repeat(1 << 20))
        .into();
    encoded["isBase64Encoded"] = true.into();
    refused(encoded, 413, "too_large").await;
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let bodies = [
        "",
        "not json",
        "[\"i-0123abcd\"]",
        "{\"target\":\"i-0123abcd\"",
        r#"{"target":"i-0123abcd"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","document":"AWS-StartInteractiveCommand"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","run_as":"root"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","caller_arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/mallory"}"#,
        r#"{"target":["i-0123abcd"],"region":"eu-west-1"}"#,
    ];
    for body in bodies {
        let record = refused(event(ALICE, body), 400, "invalid_request").await;
        assert_eq!(
            record["caller_arn"], ALICE,
            "the caller is never from the body"
        );
        assert_eq!(record["target"], "-");
    }
    let mut not_base64 = event(ALICE, "%%%");
    not_base64["isBase64Encoded"] = true.into();
    refused(not_base64, 400, "invalid_request").await;
}

#[tokio::test]
async fn injection_in_target_region_or_reason_is_400_and_never_logged() {
    let cases = [
        r#"{"target":"i-0123abcd\",\"outcome\":\"started","region":"eu-west-1"}"#,
        r#"{"target":"i-0123abcd; curl evil","region":"eu-west-1"}"#,
        r#"{"target":"i-0123abcd\n{\"v\":1}","region":"eu-west-1"}"#,
        r#"{"target":"../../etc/passwd","region":"eu-west-1"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1\"}"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1.evil.example"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"ok\n{\"v\":1,\"outcome\":\"started\"}"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"\u202Etxet desrever"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"TokenValue=AAEAAsecretsecret"}"#,
        r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"\u0000"}"#,
    ];
    for body in cases {
        let record = refused(event(ALICE, body), 400, "invalid_request").await;
        let line = record.to_string();
        assert!(!line.contains("evil"), "{line}");
        assert!(!line.contains("secretsecret"), "{line}");
        assert!(!line.contains("desrever"), "{line}");
        assert!(!line.contains("passwd"), "{line}");
        assert_eq!(record.get("reason"), None, "{line}");
    }
    // A region of another partition is refused before anything is started.
    refused(
        event(ALICE, r#"{"target":"i-0123abcd","region":"cn-north-1"}"#),
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn callers_outside_identity_center_are_403() {
    let callers = [
        // A look-alike role name, another service, no user, a plain role, an IAM user.
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSOX_Admin_0123456789abcdef/alice",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_notahexsuffix000/alice",
        "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/",
        "arn:aws:sts::111122223333:assumed-role/sessiontrail-session-starter/alice",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:root",
        // Another partition than the function's (aws).
        "arn:aws-us-gov:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
        "arn:aws-cn:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
    ];
    for caller in callers {
        let record = refused(event(caller, BODY), 403, "denied").await;
        assert_eq!(record["caller_arn"], caller);
        assert_eq!(record["account_id"], "111122223333");
        assert_eq!(record.get("permission_set"), None);
    }
    // No IAM authorizer at all (a URL with AuthType NONE).
    let mut anonymous = event(ALICE, BODY);
    anonymous["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let record = refused(anonymous, 403, "denied").await;
    assert_eq!(record["caller_arn"], "-");
    assert_eq!(record["account_id"], "-");
    // The authorizer's account disagrees with the ARN's.
    let mut mismatch = event(ALICE, BODY);
    mismatch["requestContext"]["authorizer"]["iam"]["accountId"] = "444455556666".into();
    refused(mismatch, 403, "denied").await;
}

#[tokio::test]
async fn a_permission_set_missing_from_the_policy_is_403_with_what_to_do() {
    let caller =
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_0123456789abcdef/alice";
    let record = refused(event(caller, BODY), 403, "denied").await;
    assert_eq!(record["permission_set"], "ReadOnly");
    let reason = record["error_message"].as_str().unwrap();
    assert!(reason.contains("ReadOnly"), "{reason}");
    assert!(reason.contains("[[permission_set]]"), "{reason}");
}

#[tokio::test]
async fn an_organisation_is_enforced_when_configured() {
    let mut test = broker();
    test.broker.organisation = Some("o-other00000".into());
    let (status, _, record) = run(&test, &event(ALICE, BODY)).await;
    assert_eq!(status, 403);
    assert_eq!(record["outcome"], "denied");
    test.broker.organisation = Some("o-abc123defg".into());
    let (status, _, _) = run(&test, &event(ALICE, BODY)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn events_that_are_not_function_url_requests_are_400() {
    for event in [
        json!({}),
        json!({"source": "aws.events", "detail": {}}),
        json!("a string"),
        json!(null),
        json!({"requestContext": {"http": "POST"}}),
    ] {
        refused(event, 400, "invalid_request").await;
    }
}

#[tokio::test]
async fn the_partition_comes_from_the_function_arn_else_the_configuration() {
    let test = broker();
    let gov_caller =
        "arn:aws-us-gov:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice";
    let mut context = context("req-gov");
    context.invoked_function_arn =
        "arn:aws-us-gov:lambda:us-gov-west-1:999988887777:function:broker".into();
    let body = r#"{"target":"i-0123abcd","region":"us-gov-west-1"}"#;
    let response = handle(&event(gov_caller, body), &context, &test.broker).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        test.broker.starter.requests()[0].starter_role_arn,
        "arn:aws-us-gov:iam::111122223333:role/sessiontrail-session-starter"
    );

    let mut unknown = common::context("req-x");
    unknown.invoked_function_arn = String::new();
    let response = handle(&event(ALICE, BODY), &unknown, &test.broker).await;
    assert_eq!(response.status, 500);
    assert_eq!(json(&test.log.lines()[1])["outcome"], "error");
    let mut configured = broker();
    configured.broker.partition = Some("aws".into());
    let response = handle(&event(ALICE, BODY), &unknown, &configured.broker).await;
    assert_eq!(response.status, 200);
}

fn failure(call: Call, code: &str, transient: bool) -> StartError {
    StartError {
        call,
        code: code.into(),
        message: format!("{code} (message from AWS)"),
        request_id: Some("5f1a2b3c-0000-4000-8000-000000000001".into()),
        transient,
    }
}

#[tokio::test]
async fn aws_errors_answer_their_code_and_log_an_error_record() {
    let cases = [
        (Call::StartSession, "TargetNotConnected", false, 502),
        (Call::StartSession, "InvalidDocument", false, 502),
        (Call::StartSession, "AccessDeniedException", false, 502),
        (Call::StartSession, "ThrottlingException", true, 503),
        (Call::AssumeRole, "AccessDenied", false, 502),
        (Call::AssumeRole, "RegionDisabledException", false, 502),
    ];
    for (call, code, transient, status) in cases {
        let test = broker();
        test.broker
            .starter
            .answer(Err(failure(call, code, transient)));
        let (got, body, record) = run(&test, &event(ALICE, BODY)).await;
        assert_eq!(got, status, "{code}");
        assert_eq!(
            body,
            json!({"error": code, "message": format!("{code} (message from AWS)"), "call": call.as_str()})
        );
        assert_eq!(record["outcome"], "error");
        assert_eq!(record["error_code"], code);
        assert_eq!(record["document_name"], "SSMRunAs-Admin-Session");
        assert_eq!(record["permission_set"], "Admin");
        assert_eq!(record.get("session_id"), None);
        // SSM's request id is CloudTrail's requestID of the failed StartSession; an STS
        // request id is not.
        match call {
            Call::StartSession => assert_eq!(
                record["ssm_request_id"],
                "5f1a2b3c-0000-4000-8000-000000000001"
            ),
            Call::AssumeRole => assert_eq!(record.get("ssm_request_id"), None),
        }
    }
}
