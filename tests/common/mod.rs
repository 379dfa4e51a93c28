//! Helpers for end-to-end tests: run the `sessiontrail` binary in temporary folders and
//! read the dataset it wrote.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
}

/// Runs the binary and returns its output; panics with stderr when it could not start.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("sessiontrail runs")
}

pub fn run_ok(args: &[&str]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "sessiontrail {args:?} failed ({:?}):\n{}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// Every parquet file under `dir`, sorted, relative path -> bytes.
pub fn parquet_files_under(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    sessiontrail_ingest::input_files::files_under(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path.strip_prefix(dir).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

/// All rows of a table as maps column -> display string ("" for null), with `dt`.
pub fn read_table(out: &Path, table: &str) -> Vec<BTreeMap<String, String>> {
    let mut rows = Vec::new();
    let root = out.join(table);
    for relative in parquet_files_under(&root).into_keys() {
        let dt = relative
            .components()
            .next()
            .and_then(|c| {
                c.as_os_str()
                    .to_str()?
                    .strip_prefix("dt=")
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(root.join(&relative)).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            for row in 0..batch.num_rows() {
                let mut map = BTreeMap::new();
                map.insert("dt".to_string(), dt.clone());
                for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
                    let value = if column.is_null(row) {
                        String::new()
                    } else if let Some(strings) = column.as_string_opt::<i32>() {
                        strings.value(row).to_string()
                    } else {
                        datafusion::arrow::util::display::array_value_to_string(column, row)
                            .unwrap()
                    };
                    map.insert(field.name().clone(), value);
                }
                rows.push(map);
            }
        }
    }
    rows
}

/// The key a session is known by (DESIGN: session id; eventID for failed sessions;
/// `broker:<request_id>` for a broker record without a session id).
pub fn session_key(row: &BTreeMap<String, String>) -> String {
    let attempt = row["status"] == "failed" || row["status"] == "denied";
    if !attempt && !row["session_id"].is_empty() {
        row["session_id"].clone()
    } else if !row["cloudtrail_event_id"].is_empty() {
        row["cloudtrail_event_id"].clone()
    } else {
        format!("broker:{}", row["broker_request_id"])
    }
}

/// The problems a generated set's truth.json plants (its `evidence` object): (rule, the
/// S3 key of the file).
pub fn truth_problems(evidence: &serde_json::Value) -> BTreeSet<(String, String)> {
    evidence["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["rule"].as_str().unwrap().to_string(),
                p["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Each log file's status in a generated set's truth.json (its `evidence` object), by S3
/// key.
pub fn truth_log_file_statuses(evidence: &serde_json::Value) -> BTreeMap<String, String> {
    evidence["log_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Uploads a trail's copy (`root`: the folder holding `AWSLogs/`) to moto's S3 as
/// CloudTrail wrote it: each object at `prefix` + its path, each digest with its
/// sidecar's metadata (the signature) as its object metadata. Creates the bucket.
pub fn upload_trail(
    moto: &sessiontrail_test_support::moto::Moto,
    root: &Path,
    bucket: &str,
    prefix: &str,
) {
    moto.python(&format!(
        r#"
import boto3, json, os
s3 = boto3.client("s3")
s3.create_bucket(Bucket="{bucket}")
top = "{root}"
for folder, _, files in os.walk(top):
    for name in files:
        if name.endswith(".metadata.json"):
            continue
        path = os.path.join(folder, name)
        extra = {{}}
        sidecar = path + ".metadata.json"
        if os.path.exists(sidecar):
            extra["Metadata"] = json.load(open(sidecar))["Metadata"]
        s3.upload_file(path, "{bucket}", "{prefix}" + os.path.relpath(path, top), ExtraArgs=extra)
"#,
        root = root.display()
    ));
}

/// The ids of the evidence rules, as the issue names them.
pub fn evidence_rules() -> BTreeSet<&'static str> {
    [
        "log_file_tampered",
        "digest_signature_invalid",
        "log_file_missing",
        "digest_chain_broken",
        "log_file_not_covered",
    ]
    .into()
}

/// The findings of the evidence rules in a dataset: (rule, the S3 key of the file).
pub fn evidence_findings(out: &Path) -> BTreeSet<(String, String)> {
    read_table(out, "findings")
        .iter()
        .filter(|f| evidence_rules().contains(f["rule"].as_str()))
        .map(|f| {
            let proof: serde_json::Value = serde_json::from_str(&f["evidence"]).unwrap();
            (
                f["rule"].clone(),
                proof["file"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
