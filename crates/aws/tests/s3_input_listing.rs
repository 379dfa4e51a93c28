//! An S3 prefix is read as a local folder is walked (`sessiontrail_ingest::input_files`):
//! keys with the walk's extensions in any case are read, every other key is named in
//! `skipped_files` with the walk's reason, Digest and Insight keys are counted.

mod support;

use std::io::Write;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use sessiontrail_aws::s3_inputs::{CloudTrailScope, read_s3_inputs};
use sessiontrail_aws::{S3, S3Url, s3_client};
use support::fixtures;
use support::moto::Moto;

const RECORD: &str = r#"{"v":1,"ts":"2026-02-01T10:00:00Z","request_id":"R","caller_arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/a@example.com","permission_set":"Admin","account_id":"111122223333","region":"eu-west-1","target":"i-1","document_name":"SSMRunAs-Admin-Session","outcome":"started","session_id":"S"}"#;

const START: &str = r#"{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T10:00:00Z","eventID":"E1","awsRegion":"eu-west-1","requestParameters":{"target":"i-1"},"responseElements":{"sessionId":"S"}}"#;

async fn put(client: &Client, bucket: &str, key: &str, bytes: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .unwrap();
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn url(text: &str) -> S3Url {
    S3Url::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_is_listed_as_a_folder_is_walked() {
    let Some(moto) = Moto::start("a_prefix_is_listed_as_a_folder_is_walked") else {
        return;
    };
    let client = s3_client(&fixtures::sdk_config(&moto).await);
    fixtures::create_bucket(&client, "inputs").await;
    let trail = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/";
    put(
        &client,
        "inputs",
        &format!("{trail}111122223333_CloudTrail_eu-west-1_20260201T1000Z_a.JSON.GZ"),
        gzip(format!("{{\"Records\":[{START}]}}").as_bytes()),
    )
    .await;
    put(
        &client,
        "inputs",
        &format!("{trail}notes.txt"),
        b"hi".to_vec(),
    )
    .await;
    put(
        &client,
        "inputs",
        "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/d.json.gz",
        b"{}".to_vec(),
    )
    .await;
    put(
        &client,
        "inputs",
        "broker/2026-02-01.Log",
        format!("{RECORD}\n").into_bytes(),
    )
    .await;
    put(&client, "inputs", "broker/README", b"x".to_vec()).await;
    put(&client, "inputs", "broker/folder/", Vec::new()).await;
    let s3 = S3::new(client, tokio::runtime::Handle::current());
    let inputs = read_s3_inputs(
        &s3,
        &[url("s3://inputs/AWSLogs/")],
        &[url("s3://inputs/broker/")],
        &CloudTrailScope::default(),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        inputs.cloudtrail.events.len(),
        1,
        "an upper-case .JSON.GZ is read"
    );
    assert_eq!(inputs.broker.records.len(), 1, "a .Log is read");
    assert_eq!(inputs.cloudtrail.stats.digest_or_insight_files, 1);
    let skipped = |files: &[sessiontrail_ingest::SkippedFile]| -> Vec<(String, String)> {
        files
            .iter()
            .map(|f| (f.path.clone(), f.reason.clone()))
            .collect()
    };
    assert_eq!(
        skipped(&inputs.cloudtrail.skipped_files),
        [(
            format!("s3://inputs/{trail}notes.txt"),
            "not read: its extension .txt is not one read (folders are walked for .json, .jsonl, .log and .gz files; name a file itself to read it whatever its name)".to_string()
        )]
    );
    assert_eq!(
        skipped(&inputs.broker.skipped_files),
        [(
            "s3://inputs/broker/README".to_string(),
            "not read: it has no extension (folders are walked for .json, .jsonl, .log and .gz files; name a file itself to read it whatever its name)".to_string()
        )]
    );
    // A prefix of skipped keys only: the error says what was there.
    let err = read_s3_inputs(
        &s3,
        &[url("s3://inputs/AWSLogs/")],
        &[url("s3://inputs/broker/README")],
        &CloudTrailScope::default(),
        &|_, _| {},
    )
    .await;
    assert!(err.is_ok(), "a key named exactly is read whatever its name");
    put(&s3.client, "inputs", "only-notes/a.txt", b"x".to_vec()).await;
    let err = read_s3_inputs(
        &s3,
        &[url("s3://inputs/AWSLogs/")],
        &[url("s3://inputs/only-notes/")],
        &CloudTrailScope::default(),
        &|_, _| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("1 other keys not read, the first s3://inputs/only-notes/a.txt"),
        "{err}"
    );
}
