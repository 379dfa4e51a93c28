//! What anyone allowed to invoke the function (or to put events on the bus its rules
//! listen to) could send, through the handler against moto's S3: each forged or
//! foreign event is refused, the invocation succeeds (so it does not cycle through
//! retries into the DLQ) and nothing is read or written. Also: the policy is read
//! again when its S3 object changes, and a dataset overlapping an input is refused at
//! start-up.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use sessiontrail_aws::lambda_config::ConfigError;
use sessiontrail_aws::{Accounts, Handler, InvocationError, LambdaConfig, S3, S3Url, s3_client};
use support::fixtures;
use support::moto::Moto;

fn config() -> LambdaConfig {
    LambdaConfig {
        out: S3Url::parse("s3://audit-out/x").unwrap(),
        policy: "s3://audit-out/p.toml".into(),
        cloudtrail: vec![S3Url::parse("s3://trail-bucket/AWSLogs/").unwrap()],
        broker_logs: vec![S3Url::parse("s3://broker-logs/broker/").unwrap()],
        event_bus: None,
        metrics_namespace: "SessionTrail".into(),
        monthly_report: false,
        as_of: None,
        public_keys: None,
    }
}

fn fixture_event(name: &str) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(fixtures::repo().join("fixtures/events").join(name)).unwrap(),
    )
    .unwrap()
}

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

async fn keys_under(client: &aws_sdk_s3::Client, prefix: &str) -> Vec<String> {
    client
        .list_objects_v2()
        .bucket("audit-out")
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_foreign_events_are_refused_and_write_nothing() {
    let Some(moto) = Moto::start("forged_and_foreign_events_are_refused") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    for bucket in [
        "trail-bucket",
        "broker-logs",
        "audit-out",
        "attacker-bucket",
    ] {
        fixtures::create_bucket(&client, bucket).await;
    }
    let policy = std::fs::read(fixtures::generated().join("sessiontrail.toml")).unwrap();
    put(&client, "audit-out", "p.toml", policy).await;
    // What an attacker would have the function read: a broker log claiming sessions.
    let claim = br#"{"v":1,"ts":"2026-02-01T01:00:30Z","request_id":"forged-1","caller_arn":"arn:aws:sts::300226798666:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/mallory@example.com","permission_set":"Admin","account_id":"300226798666","region":"eu-west-1","target":"mi-030340cd368000ddd","document_name":"SSMRunAs-Admin-Session","outcome":"started","session_id":"session-broker-06c07c9db895cc400"}"#;
    put(&client, "attacker-bucket", "broker/x.jsonl", claim.to_vec()).await;
    put(&client, "broker-logs", "elsewhere/x.jsonl", claim.to_vec()).await;

    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config(), s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap()
        .with_accounts(Accounts::parse("300226798666").unwrap());

    let genuine = fixture_event("cloudtrail_start_session.json");
    let api = |change: &dyn Fn(&mut Value)| {
        let mut event = genuine.clone();
        change(&mut event);
        event
    };
    let created = |source: &str, bucket: &str, key: &str| {
        json!({"version":"0","id":format!("c-{bucket}-{key}"),"detail-type":"Object Created",
            "source":source,"account":"300226798666","region":"eu-west-1",
            "detail":{"bucket":{"name":bucket},"object":{"key":key}}})
    };
    let forged = [
        // A custom application's PutEvents on the bus: it cannot use an aws.* source.
        api(&|e| e["source"] = json!("custom.attacker")),
        // A real-looking event of an account not audited here.
        api(&|e| {
            e["account"] = json!("999999999999");
            e["detail"]["recipientAccountId"] = json!("999999999999");
        }),
        // A record claiming another account than its envelope.
        api(&|e| e["detail"]["recipientAccountId"] = json!("999999999999")),
        api(&|e| e["detail"]["awsRegion"] = json!("ap-south-1")),
        api(&|e| e["detail"]["eventSource"] = json!("sts.amazonaws.com")),
        created(
            "custom.attacker",
            "broker-logs",
            "broker/2026/02/01/x.jsonl",
        ),
        created("aws.s3", "attacker-bucket", "broker/x.jsonl"),
        created("aws.s3", "broker-logs", "elsewhere/x.jsonl"),
        json!({"version":"0","id":"sched-forged","detail-type":"Scheduled Event","source":"custom.attacker","detail":{}}),
    ];
    for event in forged {
        let outcome = handler
            .handle(event.clone(), 1_769_907_600_000)
            .await
            .unwrap_or_else(|e| panic!("{event}: a refusal must not fail the invocation: {e}"));
        assert!(
            outcome["refused"].as_str().is_some_and(|r| !r.is_empty()),
            "{event}: {outcome}"
        );
        assert_eq!(
            keys_under(&client, "x/").await,
            Vec::<String>::new(),
            "{event}: something was written"
        );
    }

    // The genuine event is taken.
    let outcome = handler.handle(genuine, 1_769_907_600_000).await.unwrap();
    assert!(outcome.get("refused").is_none(), "{outcome}");
    assert_eq!(outcome["session_events"], 1, "{outcome}");
    assert!(
        keys_under(&client, "x/")
            .await
            .contains(&"x/state/state.jsonl.gz".to_string())
    );
    // A malformed event still fails (EventBridge retries it, the DLQ keeps it).
    let err = handler
        .handle(fixture_event("malformed_object_created.json"), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::Malformed { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_read_again_when_its_object_changes() {
    let Some(moto) = Moto::start("the_policy_is_read_again") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    fixtures::create_bucket(&client, "audit-out").await;
    let text = std::fs::read_to_string(fixtures::generated().join("sessiontrail.toml")).unwrap();
    put(&client, "audit-out", "p.toml", text.clone().into_bytes()).await;
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config(), s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap();
    let first = handler.policy().await.unwrap();
    assert_eq!(first.grace.as_secs(), 30 * 60);
    // Unchanged (304 Not Modified): the same policy in memory.
    assert!(Arc::ptr_eq(&first, &handler.policy().await.unwrap()));
    // Changed: read again.
    let longer = text.replace("grace = \"30m\"", "grace = \"40d\"");
    put(&client, "audit-out", "p.toml", longer.into_bytes()).await;
    let second = handler.policy().await.unwrap();
    assert_eq!(second.grace.as_secs(), 40 * 86_400);
    assert!(Arc::ptr_eq(&second, &handler.policy().await.unwrap()));
    // A broken policy fails the invocations that need it, naming it, until fixed.
    put(
        &client,
        "audit-out",
        "p.toml",
        b"default_document = 1\n".to_vec(),
    )
    .await;
    let sched = json!({"version":"0","id":"s-1","detail-type":"Scheduled Event","source":"aws.events","detail":{}});
    let err = handler
        .handle(sched.clone(), 1_769_907_600_000)
        .await
        .unwrap_err();
    assert!(matches!(err, InvocationError::Policy { .. }), "{err}");
    assert!(err.to_string().contains("s3://audit-out/p.toml"), "{err}");
    put(&client, "audit-out", "p.toml", text.into_bytes()).await;
    handler.handle(sched, 1_769_907_600_000).await.unwrap();
    assert_eq!(handler.policy().await.unwrap().grace.as_secs(), 30 * 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_overlapping_an_input_is_refused_at_start_up() {
    // No S3 call is made: the check comes first.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let mut overlapping = config();
    overlapping.broker_logs = vec![S3Url::parse("s3://audit-out/").unwrap()];
    let s3 = S3::new(s3_client(&sdk), tokio::runtime::Handle::current());
    let err = Handler::new(overlapping, s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvocationError::Config(ConfigError::Overlap { .. })),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(
            "SESSIONTRAIL_OUT s3://audit-out/x overlaps SESSIONTRAIL_BROKER_LOG s3://audit-out/"
        ),
        "{text}"
    );
}
