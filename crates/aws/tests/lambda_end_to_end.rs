//! The Lambda's handler driven through every trigger against moto's S3 and EventBridge
//! on loopback, with the shipped fixtures: the dataset it leaves in S3 must equal, byte
//! for byte, what the local CLI writes for the same inputs, and every finding must
//! reach the bus exactly once.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use serde_json::{Value, json};
use sessiontrail_aws::{Accounts, Handler, LambdaConfig, S3, S3Url, s3_client};
use sessiontrail_correlate::dataset::{Table, list_partitions, string_column};
use sessiontrail_correlate::schema::findings_schema;
use sessiontrail_correlate::storage::LocalStorage;
use sessiontrail_correlate::{Policy, RunOptions};
use sessiontrail_ingest::time::parse_rfc3339_millis;
use support::fixtures::{self, AS_OF};
use support::moto::Moto;

const BUS: &str = "sessiontrail-findings";

/// An EventBridge event in the order AWS would deliver it: (day, phase, tiebreak).
struct Delivery {
    order: (String, u8, String),
    event: Value,
}

fn date_in_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('/').collect();
    parts
        .windows(3)
        .find(|w| w[0].len() == 4 && w[1].len() == 2 && w[2].len() == 2 && w[0].starts_with("20"))
        .map(|w| format!("{}-{}-{}", w[0], w[1], w[2]))
        .unwrap_or_default()
}

fn object_created(id: &str, bucket: &str, key: &str) -> Value {
    json!({"version":"0","id":id,"detail-type":"Object Created","source":"aws.s3",
        "account":"123456789012","time":"2026-02-03T00:00:00Z","region":"us-east-1",
        "resources":[format!("arn:aws:s3:::{bucket}")],
        "detail":{"version":"0","bucket":{"name":bucket},"object":{"key":key,"size":1},
            "reason":"PutObject"}})
}

/// The ssm session records of the fixture's log files, as EventBridge would carry them.
fn api_call_events() -> Vec<Delivery> {
    let dir = fixtures::generated().join("cloudtrail");
    let mut out = Vec::new();
    for relative in fixtures::files_under(&dir) {
        let key = relative.display().to_string();
        if key.contains("CloudTrail-Digest") {
            continue;
        }
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(dir.join(&relative)).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let file: Value = serde_json::from_str(&text).unwrap();
        for record in file["Records"].as_array().unwrap() {
            let name = record["eventName"].as_str().unwrap_or_default();
            if record["eventSource"] != "ssm.amazonaws.com"
                || !["StartSession", "ResumeSession", "TerminateSession"].contains(&name)
            {
                continue;
            }
            let time = record["eventTime"].as_str().unwrap().to_string();
            out.push(Delivery {
                order: (time[..10].to_string(), 1, time.clone()),
                event: json!({"version":"0","id":format!("ct-{}", record["eventID"].as_str().unwrap()),
                    "detail-type":"AWS API Call via CloudTrail","source":"aws.ssm",
                    "account":record["recipientAccountId"],"time":time,"region":record["awsRegion"],
                    "resources":[],"detail":record}),
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_driven_through_every_trigger_writes_what_the_cli_writes() {
    let Some(moto) = Moto::start("lambda_end_to_end") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    for bucket in ["trail-bucket", "broker-logs", "audit-out"] {
        fixtures::create_bucket(&client, bucket).await;
    }
    let generated = fixtures::generated();
    let trail_keys =
        fixtures::upload_folder(&client, &generated.join("cloudtrail"), "trail-bucket", "").await;
    let broker_keys =
        fixtures::upload_folder(&client, &generated.join("broker"), "broker-logs", "broker/").await;
    client
        .put_object()
        .bucket("audit-out")
        .key("config/sessiontrail.toml")
        .body(
            std::fs::read(generated.join("sessiontrail.toml"))
                .unwrap()
                .into(),
        )
        .send()
        .await
        .unwrap();
    // The bus, and a queue subscribed to it, to count what reached the bus.
    moto.python(&format!(
        r#"
import boto3, json
eb = boto3.client("events"); sqs = boto3.client("sqs")
eb.create_event_bus(Name="{BUS}")
url = sqs.create_queue(QueueName="findings")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
eb.put_rule(Name="all-findings", EventBusName="{BUS}", EventPattern=json.dumps({{"source": ["sessiontrail"]}}))
eb.put_targets(Rule="all-findings", EventBusName="{BUS}", Targets=[{{"Id": "queue", "Arn": arn}}])
"#
    ));

    let config = LambdaConfig {
        out: S3Url::parse("s3://audit-out/sessiontrail").unwrap(),
        policy: "s3://audit-out/config/sessiontrail.toml".into(),
        cloudtrail: vec![S3Url::parse("s3://trail-bucket/AWSLogs/").unwrap()],
        broker_logs: vec![S3Url::parse("s3://broker-logs/broker/").unwrap()],
        event_bus: Some(BUS.into()),
        metrics_namespace: "SessionTrail".into(),
        monthly_report: true,
        as_of: None,
        public_keys: None,
    };
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    // SESSIONTRAIL_ACCOUNTS: the fixture's two accounts, so every genuine event passes
    // the envelope checks.
    let handler = Handler::new(config, s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap()
        .with_accounts(Accounts::parse("300226798666,792568539562").unwrap());

    // Day by day: the broker's log (streamed to S3), the real-time API-call events,
    // then CloudTrail's log files as delivered; a schedule at the end.
    let mut deliveries = api_call_events();
    let api_calls = deliveries.len();
    for key in &broker_keys {
        deliveries.push(Delivery {
            order: (date_in_key(key), 0, key.clone()),
            event: object_created(&format!("s3-{key}"), "broker-logs", key),
        });
    }
    for key in &trail_keys {
        deliveries.push(Delivery {
            order: (date_in_key(key), 2, key.clone()),
            event: object_created(&format!("s3-{key}"), "trail-bucket", key),
        });
    }
    deliveries.sort_by(|a, b| a.order.cmp(&b.order));
    assert!(
        api_calls >= 80,
        "the fixture has {api_calls} ssm session events"
    );
    let now = parse_rfc3339_millis(AS_OF).unwrap();
    let mut ignored = 0;
    for delivery in &deliveries {
        let outcome = handler.handle(delivery.event.clone(), now).await.unwrap();
        assert!(outcome.get("refused").is_none(), "{outcome}");
        if outcome.get("ignored").is_some() {
            ignored += 1;
        }
    }
    // Digest files are the only objects the function ignores.
    let digests = trail_keys
        .iter()
        .filter(|k| k.contains("CloudTrail-Digest"))
        .count();
    assert_eq!(ignored, digests);
    let scheduled = json!({"version":"0","id":"sched-1","detail-type":"Scheduled Event",
        "source":"aws.events","account":"123456789012","time":AS_OF,"region":"us-east-1",
        "resources":["arn:aws:events:us-east-1:123456789012:rule/sweep"],"detail":{}});
    handler.handle(scheduled, now).await.unwrap();

    // The local CLI's run over the same files.
    let local = tempfile::tempdir().unwrap();
    let policy = Policy::load(&generated.join("sessiontrail.toml")).unwrap();
    let mut options = RunOptions::new(
        vec![generated.join("cloudtrail")],
        vec![generated.join("broker")],
        local.path().to_path_buf(),
    );
    options.as_of = Some(now);
    sessiontrail_correlate::run(&policy, &options).unwrap();
    let expected = fixtures::local_tables(local.path());
    let actual = fixtures::s3_tables(&client, "audit-out", "sessiontrail/").await;
    assert!(expected.len() >= 4, "{:?}", expected.keys());
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    // Findings byte for byte; sessions row for row, their record locations naming the
    // objects the function read where the CLI names its local files.
    for (key, bytes) in expected.iter().filter(|(k, _)| !k.starts_with("sessions/")) {
        assert!(actual[key] == *bytes, "{key} differs from the CLI's");
    }
    let (lambda_rows, cli_rows) = (
        fixtures::sessions_by_key(&actual).await,
        fixtures::sessions_by_key(&expected).await,
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(generated.join("truth.json")).unwrap()).unwrap();
    let sessions = truth["sessions"].as_array().unwrap().len();
    assert_eq!(cli_rows.lines().count(), 1 + sessions, "{cli_rows}");
    assert_eq!(lambda_rows, cli_rows);

    // Every finding of the dataset reached the bus, and no finding reached it twice.
    let storage = LocalStorage::new(local.path());
    let table = Table::new(&storage, "findings", findings_schema());
    let mut final_ids = BTreeSet::new();
    for dt in list_partitions(&storage, "findings").unwrap() {
        final_ids.extend(string_column(
            &table.read_partition(&dt).unwrap(),
            "finding_id",
        ));
    }
    assert_eq!(
        final_ids.len(),
        24,
        "the fixture's truth.json has 24 findings"
    );
    let received = moto.python(
        r#"
import boto3, json
sqs = boto3.client("sqs")
url = sqs.get_queue_url(QueueName="findings")["QueueUrl"]
for _ in range(1000):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    if not messages:
        break
    for m in messages:
        print(m["Body"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
"#,
    );
    let mut times_sent: BTreeMap<String, usize> = BTreeMap::new();
    for line in received.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        assert_eq!(event["source"], "sessiontrail");
        assert_eq!(event["detail-type"], "SessionTrail Finding");
        let id = event["detail"]["finding_id"].as_str().unwrap().to_string();
        *times_sent.entry(id).or_default() += 1;
    }
    let repeated: Vec<_> = times_sent.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    let missing: Vec<_> = final_ids
        .iter()
        .filter(|id| !times_sent.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never sent: {missing:?}");
    eprintln!(
        "{} deliveries ({api_calls} API calls, {} broker files, {} log files), {} findings sent, {} of them later withdrawn",
        deliveries.len(),
        broker_keys.len(),
        trail_keys.len(),
        times_sent.len(),
        times_sent.len() - final_ids.len()
    );

    // February's report is written by the first schedule after it is final: the
    // policy's grace (30m) after the month's end, nothing of February pending.
    let sched = |id: &str| json!({"version":"0","id":id,"detail-type":"Scheduled Event","source":"aws.events","detail":{}});
    let report_key = "sessiontrail/reports/2026-02/";
    let reports_listed = || async {
        client
            .list_objects_v2()
            .bucket("audit-out")
            .prefix(report_key)
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0)
    };
    let early = parse_rfc3339_millis("2026-03-01T00:05:00Z").unwrap();
    let too_early = handler.handle(sched("sched-2"), early).await.unwrap();
    let outcome = &too_early["monthly_report"];
    assert_eq!(outcome["month"], "2026-02");
    assert_eq!(outcome["written"], false, "{outcome}");
    assert_eq!(outcome["final"], false, "{outcome}");
    let reason = outcome["provisional_reason"].as_str().unwrap();
    assert!(reason.contains("2026-03-01T00:30:00Z"), "{reason}");
    assert_eq!(
        reports_listed().await,
        0,
        "nothing written before it is final"
    );
    let on_time = parse_rfc3339_millis("2026-03-01T00:30:00Z").unwrap();
    let first = handler.handle(sched("sched-3"), on_time).await.unwrap();
    assert_eq!(
        first["monthly_report"],
        json!({"month":"2026-02","written":true})
    );
    let second = handler.handle(sched("sched-4"), on_time).await.unwrap();
    assert_eq!(
        second["monthly_report"],
        json!({"month":"2026-02","written":false,"already_written":true})
    );
    assert_eq!(reports_listed().await, 3);
    let report = client
        .get_object()
        .bucket("audit-out")
        .key("sessiontrail/reports/2026-02/report.json")
        .send()
        .await
        .unwrap();
    let report: Value =
        serde_json::from_slice(&report.body.collect().await.unwrap().into_bytes()).unwrap();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(generated.join("truth.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["summary"]["sessions"].as_u64().unwrap(),
        truth["sessions"].as_array().unwrap().len() as u64,
        "{}",
        report["summary"]
    );
    assert_eq!(report["final"], true);
    assert_eq!(report["provisional_reason"], Value::Null);
    assert_eq!(report["generated_at"], "2026-03-01T00:30:00Z");
    // The two pending sessions of truth.json were decided by the sweeps.
    assert_eq!(report["summary"]["pending"], 0, "{}", report["summary"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_waits_for_the_pending_sessions_of_its_month() {
    let Some(moto) = Moto::start("the_monthly_report_waits_for_pending_sessions") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    fixtures::create_bucket(&client, "audit-out").await;
    let generated = fixtures::generated();
    // A grace of 40 days: a session of February 2nd is still pending on March 5th.
    let policy = std::fs::read_to_string(generated.join("sessiontrail.toml"))
        .unwrap()
        .replace("grace = \"30m\"", "grace = \"40d\"");
    assert!(policy.contains("grace = \"40d\""), "{policy}");
    client
        .put_object()
        .bucket("audit-out")
        .key("p.toml")
        .body(policy.into_bytes().into())
        .send()
        .await
        .unwrap();
    // The fixture's dataset, as the CLI writes it at the fixture's as_of.
    let local = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(
        vec![generated.join("cloudtrail")],
        vec![generated.join("broker")],
        local.path().to_path_buf(),
    );
    options.as_of = Some(parse_rfc3339_millis(AS_OF).unwrap());
    sessiontrail_correlate::run(
        &Policy::load(&generated.join("sessiontrail.toml")).unwrap(),
        &options,
    )
    .unwrap();
    fixtures::upload_folder(&client, local.path(), "audit-out", "x/").await;
    let config = LambdaConfig {
        out: S3Url::parse("s3://audit-out/x").unwrap(),
        policy: "s3://audit-out/p.toml".into(),
        cloudtrail: vec![],
        broker_logs: vec![],
        event_bus: None,
        metrics_namespace: "SessionTrail".into(),
        monthly_report: true,
        as_of: None,
        public_keys: None,
    };
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config, s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap();
    let march_5 = parse_rfc3339_millis("2026-03-05T00:00:00Z").unwrap();
    let sched = json!({"version":"0","id":"s-1","detail-type":"Scheduled Event","source":"aws.events","detail":{}});
    let outcome = handler.handle(sched, march_5).await.unwrap();
    let report = &outcome["monthly_report"];
    assert_eq!(report["written"], false, "{outcome}");
    let reason = report["provisional_reason"].as_str().unwrap();
    // truth.json's pending sessions stay pending under a 40 day grace.
    assert!(
        reason.contains("of the month are still pending"),
        "{reason}"
    );
    assert!(reason.contains("(40d)"), "{reason}");
    let listed = client
        .list_objects_v2()
        .bucket("audit-out")
        .prefix("x/reports/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_event_fails_the_invocation() {
    let Some(moto) = Moto::start("a_malformed_event_fails_the_invocation") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    fixtures::create_bucket(&client, "audit-out").await;
    let policy = std::fs::read(fixtures::generated().join("sessiontrail.toml")).unwrap();
    client
        .put_object()
        .bucket("audit-out")
        .key("p.toml")
        .body(policy.into())
        .send()
        .await
        .unwrap();
    let config = LambdaConfig {
        out: S3Url::parse("s3://audit-out/x").unwrap(),
        policy: "s3://audit-out/p.toml".into(),
        cloudtrail: vec![],
        broker_logs: vec![],
        event_bus: None,
        metrics_namespace: "SessionTrail".into(),
        monthly_report: false,
        as_of: None,
        public_keys: None,
    };
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config, s3, aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap();
    // An ssm API-call event whose record has a session id of the wrong type.
    let event = json!({"version":"0","id":"bad-1","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm",
        "detail":{"eventVersion":"1.08","eventSource":"ssm.amazonaws.com","eventName":"StartSession",
            "eventTime":"2026-02-01T09:00:00Z","eventID":"e-1","awsRegion":"eu-west-1",
            "recipientAccountId":"300226798666","userIdentity":{"type":"AssumedRole"},
            "responseElements":{"sessionId":42}}});
    let err = handler.handle(event, 0).await.unwrap_err().to_string();
    assert!(err.contains("bad-1"), "{err}");
    // Nothing was written.
    let listed = client
        .list_objects_v2()
        .bucket("audit-out")
        .prefix("x/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.key_count(), Some(0));
}
