//! A broker on the in-memory starter and log, and function URL events shaped like
//! AWS's (payload format 2.0, "Invoking Lambda function URLs").

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sessiontrail_broker::log::MemorySink;
use sessiontrail_broker::{Broker, FakeStarter, Mapping};
use sessiontrail_correlate::Policy;

pub const POLICY: &str = r#"
default_document = "SSM-SessionManagerRunShell"

[broker]
role_names = ["sessiontrail-session-starter"]

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"

[[permission_set]]
name = "Developer"
document = "SSMRunAs-Developer-Session"
run_as = "dev"

[[permission_set]]
name = "Data_Engineer"
document = "SSMRunAs-Data-Session"
"#;

pub const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com";
pub const BOB: &str =
    "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Developer_a1b2c3d4e5f60718/bob";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:999988887777:function:sessiontrail-broker";
/// The fixed clock: 2026-03-04T10:15:02.250Z.
pub const NOW: &str = "2026-03-04T10:15:02.250Z";

pub struct TestBroker {
    pub broker: Broker<FakeStarter>,
    pub log: Arc<MemorySink>,
}

pub fn broker() -> TestBroker {
    let log = Arc::new(MemorySink::default());
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(NOW).unwrap().into();
    let broker = Broker {
        mapping: Mapping::new(Policy::parse(POLICY).unwrap()),
        starter: FakeStarter::new(),
        starter_role: "sessiontrail-session-starter".into(),
        organisation: None,
        partition: None,
        log: log.clone(),
        clock: Box::new(move || now),
    };
    TestBroker { broker, log }
}

pub fn context(request_id: &str) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_string();
    context.invoked_function_arn = FUNCTION_ARN.to_string();
    context
}

/// A POST by `user_arn` with this body (plain text, not base64).
pub fn event(user_arn: &str, body: &str) -> Value {
    let account = user_arn.split(':').nth(4).unwrap_or("");
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc.lambda-url.eu-west-1.on.aws"},
        "requestContext": {
            "accountId": "999988887777",
            "apiId": "abc",
            "authorizer": {"iam": {
                "accessKey": "ASIAEXAMPLEKEY",
                "accountId": account,
                "callerId": "AROAEXAMPLEROLEID:alice@example.com",
                "cognitoIdentity": null,
                "principalOrgId": "o-abc123defg",
                "userArn": user_arn,
                "userId": "AROAEXAMPLEROLEID:alice@example.com"
            }},
            "domainName": "abc.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abc",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                     "sourceIp": "198.51.100.7", "userAgent": "sessiontrail-connect/0.1"},
            "requestId": "url-request-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "04/Mar/2026:10:15:02 +0000",
            "timeEpoch": 1772619302250u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

pub const BODY: &str =
    r#"{"target":"i-0123456789abcdef0","region":"eu-west-1","reason":"INC-42: disk full"}"#;

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}
