//! The Lambda checks each CloudTrail digest file as it arrives (S3 Object Created,
//! `SESSIONTRAIL_PUBLIC_KEYS` set): over the generator's signed trail with every
//! tampering case (crates/generate, sharing no code with the verifier) in moto's S3,
//! each digest delivered in turn, the `evidence` table holds the truth's status for
//! every log file a digest lists, and the evidence rules' findings are the truth's
//! problems (but `log_file_not_covered`: a file no digest lists is seen only by a
//! whole-folder check).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_sdk_s3::primitives::ByteStream;
use serde_json::{Value, json};
use sessiontrail_aws::location::DatasetStorage;
use sessiontrail_aws::{Handler, LambdaConfig, S3, S3Url, s3_client};
use sessiontrail_correlate::dataset::{Table, list_partitions, string_column};
use sessiontrail_correlate::schema::{evidence_schema, findings_schema};
use sessiontrail_generate::{GenerateOptions, TamperCase};
use support::fixtures;
use support::moto::Moto;

fn object_created(id: &str, bucket: &str, key: &str) -> Value {
    json!({"version":"0","id":id,"detail-type":"Object Created","source":"aws.s3",
        "account":"123456789012","time":"2026-02-03T00:00:00Z","region":"us-east-1",
        "resources":[format!("arn:aws:s3:::{bucket}")],
        "detail":{"version":"0","bucket":{"name":bucket},"object":{"key":key,"size":1},
            "reason":"PutObject"}})
}

/// Every row of a table of the dataset: column -> value, for the columns asked.
fn rows(storage: &DatasetStorage, name: &'static str, columns: &[&str]) -> Vec<Vec<String>> {
    let schema = match name {
        "evidence" => evidence_schema(),
        _ => findings_schema(),
    };
    let table = Table::new(storage, name, schema);
    let mut out = Vec::new();
    for dt in list_partitions(storage, name).unwrap() {
        let batch = table.read_partition(&dt).unwrap();
        let values: Vec<Vec<String>> = columns.iter().map(|c| string_column(&batch, c)).collect();
        for row in 0..batch.num_rows() {
            out.push(values.iter().map(|v| v[row].clone()).collect());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_digest_checked_as_it_arrives_gives_the_truths_evidence() {
    let Some(moto) = Moto::start("each_digest_checked_as_it_arrives") else {
        return;
    };
    let generated = tempfile::tempdir().unwrap();
    let options = GenerateOptions {
        days: 1,
        digests: true,
        tamper: TamperCase::ALL.to_vec(),
        ..Default::default()
    };
    sessiontrail_generate::generate(generated.path(), &options).unwrap();
    let truth: Value =
        serde_json::from_slice(&std::fs::read(generated.path().join("truth.json")).unwrap())
            .unwrap();
    let evidence = &truth["evidence"];
    let bucket = evidence["bucket"].as_str().unwrap().to_string();

    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    for name in [bucket.as_str(), "audit-out"] {
        fixtures::create_bucket(&client, name).await;
    }
    // The trail as CloudTrail wrote it: each digest with its signature in its metadata.
    let cloudtrail = generated.path().join("cloudtrail");
    let mut digests = Vec::new();
    for relative in fixtures::files_under(&cloudtrail) {
        let key = relative.display().to_string();
        if key.ends_with(".metadata.json") {
            continue;
        }
        let path = cloudtrail.join(&relative);
        let sidecar = Path::new(&format!("{}.metadata.json", path.display())).to_path_buf();
        let mut put = client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from(std::fs::read(&path).unwrap()));
        if sidecar.exists() {
            let head: Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
            for (name, value) in head["Metadata"].as_object().unwrap() {
                put = put.metadata(name, value.as_str().unwrap());
            }
        }
        put.send().await.unwrap();
        if key.contains("/CloudTrail-Digest/") {
            digests.push(key);
        }
    }
    for (key, file) in [
        (
            "config/sessiontrail.toml",
            generated.path().join("sessiontrail.toml"),
        ),
        (
            "config/public-keys.json",
            generated
                .path()
                .join(evidence["public_keys"].as_str().unwrap()),
        ),
    ] {
        client
            .put_object()
            .bucket("audit-out")
            .key(key)
            .body(ByteStream::from(std::fs::read(file).unwrap()))
            .send()
            .await
            .unwrap();
    }

    let config = LambdaConfig {
        out: S3Url::parse("s3://audit-out/sessiontrail").unwrap(),
        policy: "s3://audit-out/config/sessiontrail.toml".into(),
        cloudtrail: vec![S3Url::parse(&format!("s3://{bucket}/AWSLogs/")).unwrap()],
        broker_logs: Vec::new(),
        event_bus: None,
        metrics_namespace: "SessionTrail".into(),
        monthly_report: false,
        as_of: sessiontrail_ingest::time::parse_rfc3339_millis(truth["as_of"].as_str().unwrap()),
        public_keys: Some("s3://audit-out/config/public-keys.json".into()),
    };
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let handler = Handler::new(config, s3.clone(), aws_sdk_eventbridge::Client::new(&sdk))
        .await
        .unwrap();
    // Delivered in the order CloudTrail writes them: by the time in their names.
    digests.sort_by_key(|key| {
        key.rsplit('_')
            .find(|p| p.ends_with('Z') || p.contains("Z."))
            .map(str::to_string)
    });
    assert!(digests.len() > 10, "{} digests", digests.len());
    for (n, key) in digests.iter().enumerate() {
        let outcome = handler
            .handle(
                object_created(&format!("digest-{n}"), &bucket, key),
                handler.now(),
            )
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(outcome.get("digest_checked").is_some(), "{key}: {outcome}");
    }

    let storage = DatasetStorage::s3(&s3, &S3Url::parse("s3://audit-out/sessiontrail").unwrap());
    let (got, findings) = tokio::task::spawn_blocking(move || {
        let got: BTreeMap<String, String> = rows(&storage, "evidence", &["log_file", "status"])
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        let findings: BTreeSet<(String, String)> =
            rows(&storage, "findings", &["rule", "evidence"])
                .into_iter()
                .map(|r| {
                    let proof: Value = serde_json::from_str(&r[1]).unwrap();
                    (
                        r[0].clone(),
                        proof["file"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
        (got, findings)
    })
    .await
    .unwrap();

    let want: BTreeMap<String, String> = evidence["log_files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "not_covered")
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let statuses: BTreeSet<&str> = want.values().map(String::as_str).collect();
    assert_eq!(
        statuses,
        BTreeSet::from(["missing", "tampered", "unsigned", "verified"]),
        "the set plants every status a digest's arrival can decide"
    );
    let want: BTreeSet<(String, String)> = evidence["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rule"] != "log_file_not_covered")
        .map(|p| {
            (
                p["rule"].as_str().unwrap().to_string(),
                p["key"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(findings, want);
}
