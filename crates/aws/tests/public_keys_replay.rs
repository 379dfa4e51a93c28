//! `ListPublicKeys` against the AWS SDK's recorded-HTTP test client: the response as
//! the service sends it (JSON 1.1, `Value` base64, epoch-second times), two pages by
//! NextToken, the user guide's sample keys with the fingerprints it states.

use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use sessiontrail_aws::public_keys::list_public_keys;
use sessiontrail_evidence::PublicKeys;

/// The first two keys of the user guide's `list-public-keys` sample (PKCS#1, then SPKI).
const PKCS1: &str = "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97mqyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5HuWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB";
const SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIUz78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPKmHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB";

fn page(
    value: &str,
    start: f64,
    fingerprint: &str,
    next_token: Option<&str>,
) -> http::Response<SdkBody> {
    let mut body = json!({"PublicKeyList": [{
        "Value": value,
        "ValidityStartTime": start,
        "ValidityEndTime": start + 2_592_000.0,
        "Fingerprint": fingerprint,
    }]});
    if let Some(token) = next_token {
        body["NextToken"] = json!(token);
    }
    http::Response::builder()
        .status(200)
        .header("content-type", "application/x-amz-json-1.1")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn request() -> http::Request<SdkBody> {
    http::Request::builder()
        .uri("https://cloudtrail.eu-west-1.amazonaws.com/")
        .body(SdkBody::empty())
        .unwrap()
}

#[tokio::test]
async fn every_page_s_keys_are_read_and_check_out() {
    let replay = StaticReplayClient::new(vec![
        ReplayEvent::new(
            request(),
            page(
                PKCS1,
                1436317441.0,
                "8eba5db5bea9b640d1c96a77256fe7f2",
                Some("page-2"),
            ),
        ),
        ReplayEvent::new(
            request(),
            page(SPKI, 1434589370.0, "31e8b5433410dfb61a9dc45cc65b22ff", None),
        ),
    ]);
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::for_tests())
        .http_client(replay.clone())
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(config);
    let start = chrono::DateTime::from_timestamp(1434000000, 0).unwrap();
    let end = chrono::DateTime::from_timestamp(1437000000, 0).unwrap();
    let entries = list_public_keys(&client, start, end).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].valid_from.timestamp(), 1436317441);
    let keys = PublicKeys::from_entries(entries, "ListPublicKeys in eu-west-1").unwrap();
    let fingerprints: Vec<&str> = keys.keys().iter().map(|k| k.fingerprint.as_str()).collect();
    assert_eq!(
        fingerprints,
        [
            "8eba5db5bea9b640d1c96a77256fe7f2",
            "31e8b5433410dfb61a9dc45cc65b22ff"
        ]
    );

    let requests = replay.actual_requests().collect::<Vec<_>>();
    assert_eq!(requests.len(), 2);
    let second: serde_json::Value =
        serde_json::from_slice(requests[1].body().bytes().unwrap()).unwrap();
    assert_eq!(second["NextToken"], "page-2");
    assert_eq!(second["StartTime"], 1434000000);
    assert_eq!(
        requests[0].headers().get("x-amz-target"),
        Some("CloudTrail_20131101.ListPublicKeys")
    );
}
