//! S3 faults on loopback (a proxy in front of moto answering some requests with 503
//! SlowDown / 500 InternalError): they are retried and the result is that of a run
//! without faults; a fault that never clears fails the invocation whole, and its retry
//! gives that same result.

mod support;

use serde_json::json;
use sessiontrail_aws::{Handler, LambdaConfig, S3, S3Url, s3_client};
use sessiontrail_ingest::time::parse_rfc3339_millis;
use support::fault_proxy::{FaultProxy, Faults};
use support::fixtures::{self, AS_OF};
use support::moto::Moto;

async fn sdk_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(sessiontrail_aws::s3::S3_ATTEMPTS)
                .with_initial_backoff(std::time::Duration::from_millis(5)),
        )
        .load()
        .await
}

async fn handler(endpoint: &str, out: &str) -> Handler {
    let sdk = sdk_for(endpoint).await;
    let config = LambdaConfig {
        out: S3Url::parse(out).unwrap(),
        policy: fixtures::generated()
            .join("sessiontrail.toml")
            .display()
            .to_string(),
        cloudtrail: vec![S3Url::parse("s3://trail-bucket/AWSLogs/").unwrap()],
        broker_logs: vec![S3Url::parse("s3://broker-logs/broker/").unwrap()],
        event_bus: None,
        metrics_namespace: "SessionTrail".into(),
        monthly_report: false,
        as_of: None,
        public_keys: None,
    };
    let s3 = S3::new(s3_client(&sdk), tokio::runtime::Handle::current());
    Handler::new(config, s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap()
}

fn created(bucket: &str, key: &str) -> serde_json::Value {
    json!({"version":"0","id":format!("s3-{key}"),"detail-type":"Object Created","source":"aws.s3",
        "detail":{"bucket":{"name":bucket},"object":{"key":key}}})
}

/// The broker logs, then the CloudTrail files holding ssm session events.
fn events(broker: &[String], trail: &[String]) -> Vec<serde_json::Value> {
    broker
        .iter()
        .map(|k| created("broker-logs", k))
        .chain(
            trail
                .iter()
                .filter(|k| !k.contains("Digest"))
                .map(|k| created("trail-bucket", k)),
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried_and_change_nothing() {
    let Some(moto) = Moto::start("throttling_and_server_errors_are_retried") else {
        return;
    };
    let client = s3_client(&fixtures::sdk_config(&moto).await);
    for bucket in ["trail-bucket", "broker-logs", "audit-out"] {
        fixtures::create_bucket(&client, bucket).await;
    }
    let generated = fixtures::generated();
    // A day of the trail keeps the test short.
    let day = "AWSLogs/300226798666/CloudTrail/eu-west-1/2026/02/01";
    let trail = fixtures::upload_folder(
        &client,
        &generated.join("cloudtrail").join(day),
        "trail-bucket",
        &format!("{day}/"),
    )
    .await;
    let broker =
        fixtures::upload_folder(&client, &generated.join("broker"), "broker-logs", "broker/").await;
    let now = parse_rfc3339_millis(AS_OF).unwrap();

    let clean = handler(&moto.endpoint, "s3://audit-out/clean").await;
    for event in events(&broker, &trail) {
        clean.handle(event, now).await.unwrap();
    }

    // One request in three fails with 503 or 500: every invocation still succeeds.
    let proxy = FaultProxy::start(&moto.endpoint, Faults::EveryNth(3));
    let faulty = handler(&proxy.endpoint, "s3://audit-out/faulty").await;
    for event in events(&broker, &trail) {
        faulty.handle(event, now).await.unwrap();
    }
    let injected = proxy.injected.load(std::sync::atomic::Ordering::Relaxed);
    assert!(injected >= 20, "only {injected} faults injected");
    let expected = fixtures::s3_tables(&client, "audit-out", "clean/").await;
    let actual = fixtures::s3_tables(&client, "audit-out", "faulty/").await;
    assert!(!expected.is_empty());
    assert_eq!(
        actual, expected,
        "the dataset written through faults differs"
    );
    eprintln!("{injected} injected faults retried");

    // The state can never be written: the invocation fails, leaving the previous state;
    // a retry once S3 recovers gives the clean result.
    let broken = FaultProxy::start(&moto.endpoint, Faults::PutsTo("state.jsonl.gz"));
    let failing = handler(&broken.endpoint, "s3://audit-out/retried").await;
    let all = events(&broker, &trail);
    let err = failing
        .handle(all[0].clone(), now)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("SlowDown") || err.contains("InternalError"),
        "{err}"
    );
    let state = client
        .head_object()
        .bucket("audit-out")
        .key("retried/state/state.jsonl.gz")
        .send()
        .await;
    assert!(state.is_err(), "a failed invocation saved no state");
    let recovered = handler(&moto.endpoint, "s3://audit-out/retried").await;
    for event in all {
        recovered.handle(event, now).await.unwrap();
    }
    let retried = fixtures::s3_tables(&client, "audit-out", "retried/").await;
    assert_eq!(retried, expected);
}
