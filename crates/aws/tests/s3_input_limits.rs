//! Input objects in S3 (moto's server on loopback) are read within bounded memory
//! (issue 12, item 2): an object over `S3::input_limits.max_object_bytes` is a reject
//! naming it and its size, not an error; a gzip bomb under the broker prefix (what
//! the Lambda reads on Object Created) is a reject; and an object too large to hold is
//! read as it downloads and gives what reading it whole gives.

mod support;

use std::io::Write;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use sessiontrail_aws::s3_inputs::{read_broker_log_objects, read_cloudtrail_objects};
use sessiontrail_aws::{S3, S3Url, s3_client};
use sessiontrail_ingest::broker_log::read_broker_log_object;
use sessiontrail_ingest::{BrokerRead, InputKind, InputLimits};
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

/// 1 GiB of zeros, gzipped in pieces: about 1 MB.
fn gzip_bomb() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let piece = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        gz.write_all(&piece).unwrap();
    }
    gz.finish().unwrap()
}

fn url(text: &str) -> S3Url {
    S3Url::parse(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_over_the_size_limit_is_a_reject_naming_it_and_its_size() {
    let Some(moto) = Moto::start("an_object_over_the_size_limit_is_a_reject") else {
        return;
    };
    let client = s3_client(&fixtures::sdk_config(&moto).await);
    fixtures::create_bucket(&client, "inputs").await;
    let big = format!("{RECORD}\n").repeat(10);
    let small = format!("{}\n", RECORD.replace("\"R\"", "\"small\""));
    put(
        &client,
        "inputs",
        "broker/big.jsonl",
        big.clone().into_bytes(),
    )
    .await;
    put(&client, "inputs", "broker/small.jsonl", small.into_bytes()).await;
    put(&client, "inputs", "ct/big.json", START.as_bytes().to_vec()).await;
    let limit = 1000;
    let s3 = S3::new(client, tokio::runtime::Handle::current()).with_input_limits(InputLimits {
        max_object_bytes: limit,
        ..Default::default()
    });
    let read = read_broker_log_objects(
        &s3,
        vec![
            url("s3://inputs/broker/big.jsonl"),
            url("s3://inputs/broker/small.jsonl"),
        ],
    )
    .await
    .expect("an object over the limit is no error");
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].request_id, "small");
    assert_eq!(read.stats.files, 2);
    assert_eq!(read.stats.rejected, 1);
    let reject = &read.rejects[0];
    assert_eq!(reject.kind, InputKind::BrokerLog);
    assert_eq!(reject.location.file, "s3://inputs/broker/big.jsonl");
    assert_eq!(
        reject.reason,
        format!(
            "object of {} bytes is larger than the {limit} byte limit for an input object (1000 bytes): not read",
            big.len()
        )
    );

    let s3 = s3.with_input_limits(InputLimits {
        max_object_bytes: 100,
        ..Default::default()
    });
    let read = read_cloudtrail_objects(&s3, vec![url("s3://inputs/ct/big.json")], &|_, _| {})
        .await
        .unwrap();
    assert_eq!(read.events.len(), 0);
    assert_eq!(read.rejects.len(), 1);
    assert_eq!(read.rejects[0].kind, InputKind::Cloudtrail);
    assert!(read.rejects[0].reason.starts_with(&format!(
        "object of {} bytes is larger than the 100 byte limit",
        START.len()
    )));
    assert_eq!(
        InputLimits::default().max_object_bytes,
        2 << 30,
        "the default: 2 GiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_under_the_broker_prefix_is_a_reject() {
    let Some(moto) = Moto::start("a_gzip_bomb_under_the_broker_prefix_is_a_reject") else {
        return;
    };
    let client = s3_client(&fixtures::sdk_config(&moto).await);
    fixtures::create_bucket(&client, "inputs").await;
    let bomb = gzip_bomb();
    put(&client, "inputs", "broker/bomb.jsonl.gz", bomb.clone()).await;
    put(&client, "inputs", "ct/bomb.json.gz", bomb).await;
    let s3 = S3::new(client, tokio::runtime::Handle::current());
    let read = read_broker_log_objects(&s3, vec![url("s3://inputs/broker/bomb.jsonl.gz")])
        .await
        .expect("a bomb is no error: retrying would fail again");
    assert_eq!(read.rejects.len(), 1, "{:?}", read.rejects);
    assert!(
        read.rejects[0].reason.contains("gzip bomb"),
        "{}",
        read.rejects[0].reason
    );
    assert_eq!(
        read.rejects[0].location.file,
        "s3://inputs/broker/bomb.jsonl.gz"
    );
    let read = read_cloudtrail_objects(&s3, vec![url("s3://inputs/ct/bomb.json.gz")], &|_, _| {})
        .await
        .unwrap();
    // Zeros are not JSON (one reject), and the stream stops at the inflation limit.
    assert!(read.rejects.len() <= 2, "{:?}", read.rejects);
    assert!(read.rejects.last().unwrap().reason.contains("gzip bomb"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_too_large_to_hold_is_read_as_it_downloads() {
    let Some(moto) = Moto::start("an_object_too_large_to_hold_is_read_as_it_downloads") else {
        return;
    };
    let client = s3_client(&fixtures::sdk_config(&moto).await);
    fixtures::create_bucket(&client, "inputs").await;
    // 40 MiB as stored (past the 32 MiB read whole), with a broken line.
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 40 << 20 {
        text.push_str(&RECORD.replace("\"R\"", &format!("\"r-{i}\"")));
        text.push('\n');
        if i == 1000 {
            text.push_str("{\"v\":1,\"broken\n");
        }
        i += 1;
    }
    put(
        &client,
        "inputs",
        "broker/big.jsonl",
        text.clone().into_bytes(),
    )
    .await;
    let s3 = S3::new(client, tokio::runtime::Handle::current());
    let read = read_broker_log_objects(&s3, vec![url("s3://inputs/broker/big.jsonl")])
        .await
        .unwrap();
    let mut whole = BrokerRead::default();
    read_broker_log_object(
        "s3://inputs/broker/big.jsonl",
        text.into_bytes(),
        &mut whole,
    );
    assert_eq!(read.records.len(), i);
    assert_eq!(read.records, whole.records);
    assert_eq!(read.rejects, whole.rejects);
    assert_eq!(read.rejects.len(), 1);
    assert_eq!(read.stats, whole.stats);
}
