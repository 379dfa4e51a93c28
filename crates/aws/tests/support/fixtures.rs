//! The shipped fixtures, uploaded to a local S3, and datasets compared object by object.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

/// An SDK configuration for a moto server (no environment variables involved, so
/// tests in one process don't disturb each other).
pub async fn sdk_config(moto: &super::moto::Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn generated() -> PathBuf {
    repo().join("fixtures/generated")
}

/// The fixture's `as_of` (truth.json).
pub const AS_OF: &str = "2026-02-03T01:00:00Z";

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    sessiontrail_ingest::input_files::files_under(dir)
        .into_iter()
        .map(|path| path.strip_prefix(dir).unwrap().to_path_buf())
        .collect()
}

pub async fn create_bucket(client: &Client, bucket: &str) {
    client.create_bucket().bucket(bucket).send().await.unwrap();
}

/// Uploads every file under `dir` to `bucket` under `prefix` (keys keep the relative
/// path); returns the keys.
pub async fn upload_folder(client: &Client, dir: &Path, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for relative in files_under(dir) {
        let key = format!("{prefix}{}", relative.display());
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(ByteStream::from(
                std::fs::read(dir.join(&relative)).unwrap(),
            ))
            .send()
            .await
            .unwrap();
        keys.push(key);
    }
    keys
}

/// The sessions/ and findings/ objects of an S3 dataset: key (relative) -> bytes.
pub async fn s3_tables(client: &Client, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for table in ["sessions/", "findings/"] {
        let listed = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(format!("{prefix}{table}"))
            .send()
            .await
            .unwrap();
        for object in listed.contents() {
            let key = object.key().unwrap();
            let body = client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let bytes = body.body.collect().await.unwrap().into_bytes().to_vec();
            out.insert(key.strip_prefix(prefix).unwrap().to_string(), bytes);
        }
    }
    out
}

/// The sessions/ and findings/ files of a local dataset: relative path -> bytes.
pub fn local_tables(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for table in ["sessions", "findings"] {
        let root = dir.join(table);
        if !root.exists() {
            continue;
        }
        for relative in files_under(&root) {
            out.insert(
                format!("{table}/{}", relative.display()),
                std::fs::read(root.join(&relative)).unwrap(),
            );
        }
    }
    out
}

/// The rows of the sessions partitions in `tables` (as [`local_tables`] or
/// [`s3_tables`] give them), as CSV, each record location cut to what an S3 copy and a
/// local one of the same files share: the CloudTrail key from `AWSLogs/` on, the
/// broker log's path below its bucket or `fixtures/generated/`. The rest of a location
/// names where the record was read, which differs by design.
pub async fn sessions_by_key(tables: &BTreeMap<String, Vec<u8>>) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (key, bytes) in tables.iter().filter(|(k, _)| k.starts_with("sessions/")) {
        let path = dir.path().join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let batches = sessiontrail_report::run_query(
        dir.path(),
        "SELECT * EXCEPT (cloudtrail_file, broker_file), \
         regexp_replace(cloudtrail_file, '^.*/AWSLogs/', 'AWSLogs/') AS cloudtrail_key, \
         regexp_replace(broker_file, '^(s3://[^/]+/|.*/fixtures/generated/)', '') AS broker_key \
         FROM sessions ORDER BY session_id, cloudtrail_event_id, broker_request_id, start_time",
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    sessiontrail_report::write_batches(&batches, sessiontrail_report::OutputFormat::Csv, &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}
