//! Backfill through LookupEvents against the AWS SDK's recorded-HTTP test client:
//! real response shapes (JSON 1.1, epoch-second times, each record a JSON string),
//! pagination by NextToken, and a throttling error that is retried.

use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use sessiontrail_aws::backfill::{RequestPacer, lookup_session_events};

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path),
    )
    .unwrap()
}

/// A StartSession record of the fixtures, and variants of it.
fn record(event_id: &str, event_name: &str, session_id: &str) -> Value {
    let envelope: Value =
        serde_json::from_str(&repo_file("fixtures/events/cloudtrail_start_session.json")).unwrap();
    let mut record = envelope["detail"].clone();
    record["eventID"] = json!(event_id);
    record["eventName"] = json!(event_name);
    if event_name == "TerminateSession" {
        record["requestParameters"] = json!({"sessionId": session_id});
        record["responseElements"] = json!({"sessionId": session_id});
    } else {
        record["responseElements"]["sessionId"] = json!(session_id);
    }
    record
}

/// A LookupEvents response as the service sends it.
fn page(records: &[Value], next_token: Option<&str>) -> http::Response<SdkBody> {
    let events: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false",
                "EventTime": 1.7699e9, "EventSource": "ssm.amazonaws.com",
                "Username": "session-broker", "Resources": [],
                "CloudTrailEvent": r.to_string(),
            })
        })
        .collect();
    let mut body = json!({ "Events": events });
    if let Some(token) = next_token {
        body["NextToken"] = json!(token);
    }
    http::Response::builder()
        .status(200)
        .header("content-type", "application/x-amz-json-1.1")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn throttled() -> http::Response<SdkBody> {
    http::Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-ErrorType", "ThrottlingException")
        .body(SdkBody::from(
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ))
        .unwrap()
}

fn any_request() -> http::Request<SdkBody> {
    http::Request::builder()
        .uri("https://cloudtrail.eu-west-1.amazonaws.com/")
        .body(SdkBody::empty())
        .unwrap()
}

#[tokio::test]
async fn pages_are_followed_throttling_is_retried_and_requests_are_paced() {
    let replay = StaticReplayClient::new(vec![
        // StartSession: throttled once, then two pages.
        ReplayEvent::new(any_request(), throttled()),
        ReplayEvent::new(
            any_request(),
            page(
                &[record("e-1", "StartSession", "broker-aaaa")],
                Some("token-1"),
            ),
        ),
        ReplayEvent::new(
            any_request(),
            page(&[record("e-2", "StartSession", "broker-bbbb")], None),
        ),
        // ResumeSession: nothing in the window.
        ReplayEvent::new(any_request(), page(&[], None)),
        // TerminateSession: one record.
        ReplayEvent::new(
            any_request(),
            page(&[record("e-3", "TerminateSession", "broker-aaaa")], None),
        ),
    ]);
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(replay.clone())
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .region(Region::new("eu-west-1"))
        .retry_config(
            aws_sdk_cloudtrail::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(config);
    let interval = Duration::from_millis(60);
    let mut pacer = RequestPacer::new(interval);
    let started = Instant::now();
    let read = lookup_session_events(
        &client,
        "eu-west-1",
        1_769_900_000_000,
        1_770_100_000_000,
        &mut pacer,
        &|_, _| {},
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();

    // Four calls (the throttled attempt is the SDK's retry inside the first).
    assert_eq!(read.requests, 4);
    assert!(
        elapsed >= interval * 3,
        "4 calls at least {interval:?} apart took {elapsed:?}"
    );
    let ids: Vec<&str> = read
        .cloudtrail
        .events
        .iter()
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(ids, ["e-1", "e-2", "e-3"]);
    assert!(
        read.cloudtrail.rejects.is_empty(),
        "{:?}",
        read.cloudtrail.rejects
    );

    // What was sent: one lookup attribute per call, the page size, the token re-sent.
    let bodies: Vec<Value> = replay
        .actual_requests()
        .map(|request| serde_json::from_slice(request.body().bytes().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 5, "the throttled call is sent again");
    for body in &bodies {
        assert_eq!(body["LookupAttributes"].as_array().unwrap().len(), 1);
        assert_eq!(body["LookupAttributes"][0]["AttributeKey"], "EventName");
        assert_eq!(body["MaxResults"], 50);
        assert!(body["StartTime"].is_number() && body["EndTime"].is_number());
    }
    let names: Vec<&str> = bodies
        .iter()
        .map(|b| b["LookupAttributes"][0]["AttributeValue"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "StartSession",
            "StartSession",
            "StartSession",
            "ResumeSession",
            "TerminateSession"
        ]
    );
    assert_eq!(bodies[2]["NextToken"], "token-1");
    assert!(bodies[1].get("NextToken").is_none());
}

#[tokio::test]
async fn an_error_that_is_not_retried_names_the_region_and_page() {
    let denied = http::Response::builder()
        .status(400)
        .header("content-type", "application/x-amz-json-1.1")
        .body(SdkBody::from(
            r#"{"__type":"InvalidTimeRangeException","message":"Start time must be before end time"}"#,
        ))
        .unwrap();
    let replay = StaticReplayClient::new(vec![ReplayEvent::new(any_request(), denied)]);
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(replay)
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .region(Region::new("us-east-1"))
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(config);
    let err = lookup_session_events(
        &client,
        "us-east-1",
        2,
        1,
        &mut RequestPacer::new(Duration::ZERO),
        &|_, _| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("us-east-1") && err.contains("page 1"), "{err}");
    assert!(err.contains("InvalidTimeRange"), "{err}");
}
