//! The alert outbox under hostile findings and a PutEvents that refuses: S3 is moto's
//! server, EventBridge a loopback stand-in speaking PutEvents' wire protocol
//! (`event_bus/`), whose requests are checked against botocore's model.
//!
//! The attacker's input is a broker log: orphan records (each an
//! `orphan_broker_record` finding), one with a 300 KB `target` (a finding larger than a
//! whole PutEvents request). What must happen: every request within PutEvents' limits,
//! the oversized finding sent cut down with where to read it whole, what PutEvents
//! accepted removed from the outbox even when other entries or requests failed, entries
//! refused for good set aside (never sent again), the others sent by the next
//! invocation, and nothing sent twice.

mod event_bus;
mod support;

use std::sync::Arc;

use event_bus::StandIn;
use serde_json::{Value, json};
use sessiontrail_aws::alerts::{MAX_ENTRY_BYTES, pending_alerts, undeliverable_alerts};
use sessiontrail_aws::{Handler, LambdaConfig, S3, S3Storage, S3Url, s3_client};
use sessiontrail_correlate::dataset::{Table, string_column};
use sessiontrail_correlate::schema::findings_schema;
use sessiontrail_correlate::state::State;
use sessiontrail_ingest::time::parse_rfc3339_millis;
use support::fixtures;
use support::moto::Moto;

const BUS: &str = "sessiontrail-findings";
const NOW: &str = "2026-02-01T12:00:00Z";
const HUGE_TARGET_BYTES: usize = 300_000;

/// A started broker record that CloudTrail never saw: an orphan past grace.
fn orphan(session_id: &str, target: &str, minute: usize) -> String {
    json!({"v":1,"ts":format!("2026-02-01T09:{minute:02}:00.000Z"),"request_id":format!("req-{session_id}"),
        "caller_arn":"arn:aws:sts::300226798666:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
        "permission_set":"Admin","account_id":"300226798666","region":"eu-west-1","target":target,
        "document_name":"SSMRunAs-Admin-Session","run_as":"admin","outcome":"started",
        "session_id":session_id})
    .to_string()
}

async fn eventbridge_for(endpoint: &str) -> aws_sdk_eventbridge::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .load()
        .await;
    aws_sdk_eventbridge::Client::new(&sdk)
}

struct World {
    _moto: Moto,
    client: aws_sdk_s3::Client,
    handler: Handler,
}

/// moto with the policy and a broker log of `records`, and a handler publishing to
/// `stand_in`.
async fn world(test: &str, stand_in: &StandIn, records: &[String]) -> Option<World> {
    let moto = Moto::start(test)?;
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    for bucket in ["broker-logs", "audit-out"] {
        fixtures::create_bucket(&client, bucket).await;
    }
    let policy = std::fs::read(fixtures::generated().join("sessiontrail.toml")).unwrap();
    for (bucket, key, body) in [
        ("audit-out", "p.toml", policy),
        (
            "broker-logs",
            "broker/2026/02/01/broker.jsonl",
            records.join("\n").into_bytes(),
        ),
    ] {
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    let config = LambdaConfig {
        out: S3Url::parse("s3://audit-out/x").unwrap(),
        policy: "s3://audit-out/p.toml".into(),
        cloudtrail: vec![],
        broker_logs: vec![S3Url::parse("s3://broker-logs/broker/").unwrap()],
        event_bus: Some(BUS.into()),
        metrics_namespace: "SessionTrail".into(),
        monthly_report: false,
        as_of: None,
        public_keys: None,
    };
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config, s3, eventbridge_for(&stand_in.endpoint).await)
        .await
        .unwrap();
    Some(World {
        _moto: moto,
        client,
        handler,
    })
}

fn broker_log_created() -> Value {
    json!({"version":"0","id":"s3-broker","detail-type":"Object Created","source":"aws.s3",
        "account":"123456789012","region":"us-east-1",
        "detail":{"bucket":{"name":"broker-logs"},"object":{"key":"broker/2026/02/01/broker.jsonl"}}})
}

fn scheduled(id: &str) -> Value {
    json!({"version":"0","id":id,"detail-type":"Scheduled Event","source":"aws.events","detail":{}})
}

async fn state(world: &World) -> State {
    let storage = S3Storage::new(
        world.handler.s3.clone(),
        S3Url::parse("s3://audit-out/x").unwrap(),
    );
    tokio::task::spawn_blocking(move || State::load(&storage).unwrap().0)
        .await
        .unwrap()
}

/// The session id an entry is about (kept whole in a cut-down alert too).
fn session_of(detail: &Value) -> &str {
    detail["session_id"].as_str().unwrap_or_default()
}

/// Every finding delivered at most once, by finding_id.
fn assert_none_twice(delivered: &[Value]) {
    let mut seen = std::collections::BTreeSet::new();
    for detail in delivered {
        let id = detail["finding_id"].as_str().unwrap();
        assert!(seen.insert(id), "{id} delivered twice");
    }
}

fn check_requests(stand_in: &StandIn) {
    for request in stand_in.requests() {
        assert!(
            request.entries <= 10 && request.entries_size < 262_144,
            "a request of {} entries, {} bytes",
            request.entries,
            request.entries_size
        );
    }
    if stand_in.check_against_botocore().is_none() {
        sessiontrail_test_support::skip(
            "the PutEvents requests' shape against botocore's model",
            sessiontrail_test_support::Prerequisite::ExportValidators,
            "botocore is not installed",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_finding_and_refused_entries_do_not_jam_the_outbox() {
    // Answers by session: permanent refusals, a transient one that clears within the
    // invocation's retries, and one throttled for the whole first invocation.
    let throttle_all = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let throttle = throttle_all.clone();
    let stand_in = StandIn::start(Box::new(move |detail, seen| {
        let refuse = |code: &str, message: &str| Some((code.to_string(), message.to_string()));
        match session_of(detail) {
            s if s.starts_with("sess-malformed") => {
                refuse("MalformedDetail", "Detail is malformed.")
            }
            s if s.starts_with("sess-invalid") => {
                refuse("InvalidArgument", "Parameter is not valid.")
            }
            s if s.starts_with("sess-flaky") && seen < 2 => refuse("InternalFailure", "try again"),
            s if s.starts_with("sess-throttled")
                && throttle.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                refuse("ThrottlingException", "Rate exceeded")
            }
            _ => None,
        }
    }));
    let huge_target = format!("i-{}", "é".repeat(HUGE_TARGET_BYTES / 2));
    let mut records = vec![orphan("sess-huge-1", &huge_target, 0)];
    let mut sessions = vec!["sess-huge-1".to_string()];
    for (i, session) in (0..14)
        .map(|i| format!("sess-ok-{i:02}"))
        .chain(
            [
                "sess-malformed-1",
                "sess-invalid-1",
                "sess-flaky-1",
                "sess-flaky-2",
            ]
            .map(String::from),
        )
        .chain(["sess-throttled-1".to_string()])
        .enumerate()
    {
        records.push(orphan(&session, "i-0a1b2c3d4e5f60718", i + 1));
        sessions.push(session);
    }
    let Some(world) = world("an_oversized_finding_does_not_jam", &stand_in, &records).await else {
        return;
    };
    let now = parse_rfc3339_millis(NOW).unwrap();

    // First invocation: the broker log arrives; 20 orphans past grace.
    let outcome = world
        .handler
        .handle(broker_log_created(), now)
        .await
        .unwrap();
    assert_eq!(outcome["new_findings"], 20, "{outcome}");
    let alerts = &outcome["alerts"];
    assert_eq!(alerts["sent"], 17, "{alerts}"); // 14 ok, 2 flaky, the huge one
    assert_eq!(alerts["truncated"], 1, "{alerts}");
    assert_eq!(alerts["undeliverable"], 2, "{alerts}");
    assert_eq!(alerts["waiting"], 1, "{alerts}");
    assert_eq!(alerts["error"], Value::Null, "{alerts}");
    assert!(
        stand_in.requests().iter().all(|r| r.status == 200),
        "every request within the limits"
    );

    // The oversized finding went out cut down, saying where it is whole.
    let delivered = stand_in.delivered();
    let huge: Vec<&Value> = delivered
        .iter()
        .filter(|d| session_of(d) == "sess-huge-1")
        .collect();
    assert_eq!(huge.len(), 1);
    let huge = huge[0];
    assert!(huge.to_string().len() <= MAX_ENTRY_BYTES);
    assert_eq!(
        huge["truncated"]["full_finding_at"],
        "s3://audit-out/x/findings/dt=2026-02-01/"
    );
    assert_eq!(huge["truncated"]["finding_id"], huge["finding_id"]);
    assert!(huge["truncated"]["original_bytes"].as_u64().unwrap() > HUGE_TARGET_BYTES as u64);
    // ... and it is whole there.
    let storage = S3Storage::new(
        world.handler.s3.clone(),
        S3Url::parse("s3://audit-out/x").unwrap(),
    );
    let targets = tokio::task::spawn_blocking(move || {
        let table = Table::new(&storage, "findings", findings_schema());
        let batch = table.read_partition("2026-02-01").unwrap();
        let ids = string_column(&batch, "finding_id");
        let targets = string_column(&batch, "target");
        ids.into_iter().zip(targets).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let whole = targets
        .iter()
        .find(|(id, _)| id.as_str() == huge["finding_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(whole.1, huge_target);

    // The state: the throttled one waits, the refused ones are set aside.
    let state1 = state(&world).await;
    let waiting: Vec<&str> = pending_alerts(&state1)
        .iter()
        .map(|f| session_of(f))
        .collect();
    assert_eq!(waiting, ["sess-throttled-1"]);
    let mut set_aside: Vec<(String, String)> = undeliverable_alerts(&state1)
        .iter()
        .map(|r| {
            (
                session_of(&r["finding"]).to_string(),
                r["error_code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    set_aside.sort();
    assert_eq!(
        set_aside,
        [
            ("sess-invalid-1".to_string(), "InvalidArgument".to_string()),
            (
                "sess-malformed-1".to_string(),
                "MalformedDetail".to_string()
            ),
        ]
    );
    let requests_after_first = stand_in.requests().len();

    // Second invocation (the schedule), PutEvents no longer throttling: only the
    // throttled alert is sent; nothing accepted or set aside is sent again.
    throttle_all.store(false, std::sync::atomic::Ordering::Relaxed);
    let outcome = world
        .handler
        .handle(scheduled("sched-1"), now + 60_000)
        .await
        .unwrap();
    let alerts = &outcome["alerts"];
    assert_eq!(alerts["sent"], 1, "{alerts}");
    assert_eq!(alerts["waiting"], 0, "{alerts}");
    assert_eq!(alerts["undeliverable"], 0, "{alerts}");
    assert_eq!(alerts["undeliverable_total"], 2, "{alerts}");
    let new_requests = &stand_in.requests()[requests_after_first..];
    assert_eq!(new_requests.len(), 1);
    assert_eq!(new_requests[0].entries, 1);
    let delivered = stand_in.delivered();
    assert_eq!(session_of(delivered.last().unwrap()), "sess-throttled-1");
    assert_none_twice(&delivered);
    // Every session's finding delivered, but the two refused for good, which were
    // received once each and never again.
    let mut delivered_sessions: Vec<&str> = delivered.iter().map(session_of).collect();
    delivered_sessions.sort();
    let mut expected: Vec<&str> = sessions
        .iter()
        .map(String::as_str)
        .filter(|s| !s.starts_with("sess-malformed") && !s.starts_with("sess-invalid"))
        .collect();
    expected.sort();
    assert_eq!(delivered_sessions, expected);
    for record in undeliverable_alerts(&state1) {
        assert_eq!(
            stand_in.received(record["finding"]["finding_id"].as_str().unwrap()),
            1
        );
    }

    // A third invocation has nothing to send.
    let outcome = world
        .handler
        .handle(scheduled("sched-2"), now + 120_000)
        .await
        .unwrap();
    assert_eq!(outcome["alerts"]["sent"], 0, "{outcome}");
    assert_eq!(stand_in.requests().len(), requests_after_first + 1);
    let state3 = state(&world).await;
    assert!(pending_alerts(&state3).is_empty());
    assert_eq!(undeliverable_alerts(&state3).len(), 2);
    check_requests(&stand_in);
    drop(world.client);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_request_loses_nothing_accepted_before_it() {
    let stand_in = StandIn::start(Box::new(|_, _| None));
    let records: Vec<String> = (0..25)
        .map(|i| orphan(&format!("sess-{i:02}"), "i-0a1b2c3d4e5f60718", i))
        .collect();
    let Some(world) = world("a_failed_request_loses_nothing", &stand_in, &records).await else {
        return;
    };
    let now = parse_rfc3339_millis(NOW).unwrap();
    // The first request (10 entries) is accepted, then the service fails whole (500
    // InternalException, retried by the SDK, still failing).
    stand_in.fail_after(1);
    let outcome = world
        .handler
        .handle(broker_log_created(), now)
        .await
        .unwrap();
    assert_eq!(outcome["new_findings"], 25, "{outcome}");
    let alerts = &outcome["alerts"];
    assert_eq!(alerts["sent"], 10, "{alerts}");
    assert_eq!(alerts["waiting"], 15, "{alerts}");
    assert!(
        alerts["error"]
            .as_str()
            .unwrap()
            .contains("InternalException"),
        "{alerts}"
    );
    assert_eq!(stand_in.delivered().len(), 10);
    assert_eq!(pending_alerts(&state(&world).await).len(), 15);

    // The service is back, but counts request sizes more strictly than this client (a
    // request of more than 3 findings, about 650 bytes each, is "over the limit"):
    // each refused request is split and its entries sent one by one. The 15 waiting
    // alerts go; none of the 10 again.
    stand_in.heal();
    stand_in.set_request_limit(2_000);
    let before = stand_in.requests().len();
    let outcome = world
        .handler
        .handle(scheduled("sched-1"), now + 60_000)
        .await
        .unwrap();
    let alerts = &outcome["alerts"];
    assert_eq!(alerts["sent"], 15, "{alerts}");
    assert_eq!(alerts["waiting"], 0, "{alerts}");
    assert_eq!(alerts["undeliverable"], 0, "{alerts}");
    let requests = &stand_in.requests()[before..];
    assert_eq!(requests.iter().filter(|r| r.status == 400).count(), 2);
    assert_eq!(requests.iter().filter(|r| r.status == 200).count(), 15);
    let delivered = stand_in.delivered();
    assert_eq!(delivered.len(), 25);
    assert_none_twice(&delivered);
    assert!(pending_alerts(&state(&world).await).is_empty());
    check_requests(&stand_in);
}
