//! The command line against S3 (moto's server on loopback, reached through
//! `AWS_ENDPOINT_URL` as a user would point it at MinIO): correlate from and to
//! s3://, query, report and findings over an s3:// dataset, and listing narrowed by
//! account, region and date. Each is compared with the same command over local folders.
//! An s3:// input prefix that holds no object is an error naming it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sessiontrail_test_support::moto::Moto;

const AS_OF: &str = "2026-02-03T01:00:00Z";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sessiontrail(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .current_dir(repo())
        .args(args)
        .envs(moto.env())
        .output()
        .expect("sessiontrail runs")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn upload_fixtures(moto: &Moto) {
    moto.python(&format!(
        r#"
import boto3, os
s3 = boto3.client("s3")
for bucket in ["trail-bucket", "broker-logs", "audit-out"]:
    s3.create_bucket(Bucket=bucket)
root = "{root}"
for base, prefix, bucket in [("cloudtrail", "logs/", "trail-bucket"), ("broker", "broker/", "broker-logs")]:
    top = os.path.join(root, base)
    for folder, _, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            s3.upload_file(path, bucket, prefix + os.path.relpath(path, top))
"#,
        root = repo().join("fixtures/generated").display()
    ));
}

fn local_correlate(moto: &Moto, cloudtrail: &[&Path], out: &Path) {
    let mut args = vec![
        "correlate".to_string(),
        "--policy".into(),
        "fixtures/generated/sessiontrail.toml".into(),
        "--broker-log".into(),
        "fixtures/generated/broker".into(),
        "--out".into(),
        out.display().to_string(),
        "--as-of".into(),
        AS_OF.into(),
        "--cloudtrail".into(),
    ];
    args.extend(cloudtrail.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(sessiontrail(moto, &args));
}

/// Every session row, its record locations reduced to what S3 and the local copy share
/// (the key from `AWSLogs/` on, the broker log's path from `broker/` on): the rest of
/// the location names where the record was read, which differs by design.
const ALL_SESSIONS: &str = "SELECT * EXCEPT (cloudtrail_file, broker_file), \
    regexp_replace(cloudtrail_file, '^.*/AWSLogs/', 'AWSLogs/') AS cloudtrail_key, \
    regexp_replace(broker_file, '^(s3://broker-logs/|fixtures/generated/)', '') AS broker_key \
    FROM sessions ORDER BY start_time, session_id, cloudtrail_event_id, broker_request_id";

/// Rows whose record locations are not the S3 objects they were read from.
const NOT_FROM_S3: &str = "SELECT count(*) AS n FROM sessions \
    WHERE cloudtrail_file NOT LIKE 's3://trail-bucket/logs/AWSLogs/%' \
    OR broker_file NOT LIKE 's3://broker-logs/broker/%'";

#[test]
fn the_cli_reads_and_writes_s3_as_it_does_folders() {
    let Some(moto) = Moto::start("the_cli_reads_and_writes_s3_as_it_does_folders") else {
        return;
    };
    upload_fixtures(&moto);
    let summary = ok(sessiontrail(
        &moto,
        &[
            "correlate",
            "--policy",
            "fixtures/generated/sessiontrail.toml",
            "--cloudtrail",
            "s3://trail-bucket/logs/",
            "--broker-log",
            "s3://broker-logs/broker",
            "--out",
            "s3://audit-out/dataset",
            "--as-of",
            AS_OF,
        ],
    ));
    assert!(summary.contains("s3://audit-out/dataset/"), "{summary}");
    assert!(summary.contains("0 rejected"), "{summary}");

    let local = tempfile::tempdir().unwrap();
    local_correlate(
        &moto,
        &[&repo().join("fixtures/generated/cloudtrail")],
        local.path(),
    );
    let local_data = local.path().display().to_string();
    for args in [
        vec!["query", "--name", "unattributed", "--format", "csv"],
        vec!["query", "--format", "csv", ALL_SESSIONS],
        vec!["findings", "--format", "jsonl"],
    ] {
        let from_s3 = ok(sessiontrail(
            &moto,
            &[args.clone(), vec!["--data", "s3://audit-out/dataset"]].concat(),
        ));
        let from_folder = ok(sessiontrail(
            &moto,
            &[args.clone(), vec!["--data", &local_data]].concat(),
        ));
        assert!(from_folder.lines().count() > 1, "{args:?}: {from_folder}");
        assert_eq!(from_s3, from_folder, "{args:?}");
    }
    let not_from_s3 = ok(sessiontrail(
        &moto,
        &[
            "query",
            "--format",
            "csv",
            "--data",
            "s3://audit-out/dataset",
            NOT_FROM_S3,
        ],
    ));
    assert_eq!(not_from_s3, "n\n0\n", "every location names its S3 object");
    let report_dir = tempfile::tempdir().unwrap();
    let said = ok(sessiontrail(
        &moto,
        &[
            "report",
            "--data",
            "s3://audit-out/dataset",
            "--month",
            "2026-02",
            "--out",
            &report_dir.path().display().to_string(),
        ],
    ));
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/generated/truth.json")).unwrap(),
    )
    .unwrap();
    let sessions = truth["sessions"].as_array().unwrap().len();
    assert!(said.contains(&format!("{sessions} sessions")), "{said}");
}

#[test]
fn an_s3_trail_is_narrowed_by_account_region_and_date() {
    let Some(moto) = Moto::start("an_s3_trail_is_narrowed_by_account_region_and_date") else {
        return;
    };
    upload_fixtures(&moto);
    // February 1st of one account and region: its folder and the next day's (late
    // deliveries) are read, nothing else.
    let summary = ok(sessiontrail(
        &moto,
        &[
            "correlate",
            "--policy",
            "fixtures/generated/sessiontrail.toml",
            "--cloudtrail",
            "s3://trail-bucket/logs/",
            "--since",
            "2026-02-01",
            "--until",
            "2026-02-01",
            "--account",
            "300226798666",
            "--region",
            "eu-west-1",
            "--broker-log",
            "s3://broker-logs/broker",
            "--out",
            "s3://audit-out/narrow",
            "--as-of",
            AS_OF,
        ],
    ));
    let region = repo()
        .join("fixtures/generated/cloudtrail/AWSLogs/300226798666/CloudTrail/eu-west-1/2026/02");
    let days = [region.join("01"), region.join("02")];
    let files: usize = days
        .iter()
        .map(|d| std::fs::read_dir(d).unwrap().count())
        .sum();
    assert!(
        summary.contains(&format!("cloudtrail   {files} files")),
        "expected {files} files read: {summary}"
    );
    let local = tempfile::tempdir().unwrap();
    local_correlate(&moto, &[&days[0], &days[1]], local.path());
    let from_s3 = ok(sessiontrail(
        &moto,
        &[
            "query",
            "--format",
            "csv",
            "--data",
            "s3://audit-out/narrow",
            ALL_SESSIONS,
        ],
    ));
    let from_folder = ok(sessiontrail(
        &moto,
        &[
            "query",
            "--format",
            "csv",
            "--data",
            &local.path().display().to_string(),
            ALL_SESSIONS,
        ],
    ));
    assert_eq!(from_s3, from_folder);
}

#[test]
fn s3_mistakes_are_clear_errors() {
    let Some(moto) = Moto::start("s3_mistakes_are_clear_errors") else {
        return;
    };
    let run = |args: &[&str]| {
        let output = sessiontrail(&moto, args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    let (code, err) = run(&[
        "correlate",
        "--policy",
        "fixtures/generated/sessiontrail.toml",
        "--cloudtrail",
        "fixtures/generated/cloudtrail",
        "--broker-log",
        "fixtures/generated/broker",
        "--out",
        "s3://UPPER/x",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("s3://UPPER/x") && err.contains("bucket"),
        "{err}"
    );
    let (code, err) = run(&[
        "correlate",
        "--policy",
        "fixtures/generated/sessiontrail.toml",
        "--cloudtrail",
        "fixtures/generated/cloudtrail",
        "--broker-log",
        "fixtures/generated/broker",
        "--out",
        "s3://no-such-bucket/x",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("s3://no-such-bucket/x/"), "{err}");
    let (code, err) = run(&[
        "correlate",
        "--policy",
        "fixtures/generated/sessiontrail.toml",
        "--cloudtrail",
        "fixtures/generated/cloudtrail",
        "--broker-log",
        "fixtures/generated/broker",
        "--out",
        "out-never-written",
        "--since",
        "2026-02-01",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--since"), "{err}");
}

/// Uploads every file of the local folder `dir` to `bucket` under `prefix` (created).
fn upload_folder(moto: &Moto, dir: &Path, bucket: &str, prefix: &str) {
    moto.python(&format!(
        r#"
import boto3, os
s3 = boto3.client("s3")
if "{bucket}" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket="{bucket}")
top = "{top}"
for folder, _, files in os.walk(top):
    for name in files:
        path = os.path.join(folder, name)
        s3.upload_file(path, "{bucket}", "{prefix}" + os.path.relpath(path, top))
"#,
        top = dir.display()
    ));
}

#[test]
fn an_s3_report_is_byte_for_byte_the_local_report_with_the_whole_previous_month() {
    let Some(moto) = Moto::start("an_s3_report_is_byte_for_byte_the_local_report") else {
        return;
    };
    // January 27th to February 2nd: five days of the previous month, of which only
    // the 31st is next to February.
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in");
    let local = work.path().join("dataset");
    let input_text = input.display().to_string();
    ok(sessiontrail(
        &moto,
        &[
            "generate",
            "--out",
            &input_text,
            "--seed",
            "5",
            "--days",
            "7",
            "--sessions-per-day",
            "4",
            "--noise-per-session",
            "1",
            "--start-date",
            "2026-01-27",
        ],
    ));
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input.join("truth.json")).unwrap()).unwrap();
    let local_text = local.display().to_string();
    ok(sessiontrail(
        &moto,
        &[
            "correlate",
            "--policy",
            &format!("{input_text}/sessiontrail.toml"),
            "--cloudtrail",
            &format!("{input_text}/cloudtrail"),
            "--broker-log",
            &format!("{input_text}/broker"),
            "--out",
            &local_text,
            "--as-of",
            truth["as_of"].as_str().unwrap(),
            "--quiet",
        ],
    ));
    // The same dataset in S3, object for file.
    upload_folder(&moto, &local, "audit-out", "copy/");

    // What the previous month holds, read from the Parquet files themselves.
    let sessions = common::read_table(&local, "sessions");
    let january: Vec<_> = sessions
        .iter()
        .filter(|row| row["dt"].starts_with("2026-01"))
        .collect();
    let away_from_february = january
        .iter()
        .filter(|row| row["dt"].as_str() < "2026-01-31")
        .count();
    assert!(
        january.len() >= 8 && away_from_february >= 4,
        "the previous month must hold several sessions, some of them before January 31st: {} ({away_from_february})",
        january.len()
    );
    let findings_in_january = common::read_table(&local, "findings")
        .iter()
        .filter(|row| row["dt"].starts_with("2026-01"))
        .count();

    let report = |data: &str, name: &str| {
        let out = work.path().join(name);
        ok(sessiontrail(
            &moto,
            &[
                "report",
                "--data",
                data,
                "--month",
                "2026-02",
                "--out",
                &out.display().to_string(),
                "--policy",
                &format!("{input_text}/sessiontrail.toml"),
                "--as-of",
                "2026-03-02T00:00:00Z",
            ],
        ));
        out
    };
    let from_s3 = report("s3://audit-out/copy", "report-s3");
    let from_folder = report(&local_text, "report-local");
    for file in ["report.json", "report.md", "report.html"] {
        let (s3_bytes, local_bytes) = (
            std::fs::read(from_s3.join(file)).unwrap(),
            std::fs::read(from_folder.join(file)).unwrap(),
        );
        assert!(
            s3_bytes == local_bytes,
            "{file} over s3:// differs from the local one:\n{}\n---\n{}",
            String::from_utf8_lossy(&s3_bytes),
            String::from_utf8_lossy(&local_bytes)
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(from_s3.join("report.json")).unwrap()).unwrap();
    let previous = &json["figures"]["month_over_month"]["rows"][0];
    assert_eq!(previous["period"], "previous");
    assert_eq!(previous["month"], "2026-01");
    assert_eq!(previous["sessions"], january.len(), "{previous}");
    assert_eq!(previous["findings"], findings_in_january, "{previous}");
    let attributed = january
        .iter()
        .filter(|row| row["via_broker"] == "true" && row["status"] == "attributed")
        .count();
    assert_eq!(previous["attributed"], attributed, "{previous}");
}

#[test]
fn an_s3_input_prefix_without_objects_is_an_error_naming_it() {
    let Some(moto) = Moto::start("an_s3_input_prefix_without_objects_is_an_error_naming_it") else {
        return;
    };
    upload_fixtures(&moto);
    let out = tempfile::tempdir().unwrap();
    let dataset = out.path().join("never-written");
    let dataset_text = dataset.display().to_string();
    let run = |cloudtrail: &str, broker: &str, extra: &[&str]| {
        let mut args = vec![
            "correlate",
            "--policy",
            "fixtures/generated/sessiontrail.toml",
            "--cloudtrail",
            cloudtrail,
            "--broker-log",
            broker,
            "--out",
            &dataset_text,
            "--as-of",
            AS_OF,
        ];
        args.extend_from_slice(extra);
        let output = sessiontrail(&moto, &args);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };
    for (cloudtrail, broker, named) in [
        // A prefix that holds nothing at all.
        (
            "s3://trail-bucket/logs-typo/",
            "s3://broker-logs/broker",
            "--cloudtrail s3://trail-bucket/logs-typo/",
        ),
        (
            "s3://trail-bucket/logs/",
            "s3://broker-logs/brokr",
            "--broker-log s3://broker-logs/brokr",
        ),
        // A prefix that holds objects, none of them an input: only a digest file.
        (
            "s3://trail-bucket/logs/AWSLogs/300226798666/CloudTrail-Digest/",
            "s3://broker-logs/broker",
            "--cloudtrail s3://trail-bucket/logs/AWSLogs/300226798666/CloudTrail-Digest/",
        ),
        // An empty bucket.
        (
            "s3://audit-out/",
            "s3://broker-logs/broker",
            "--cloudtrail s3://audit-out/",
        ),
    ] {
        let (code, err) = run(cloudtrail, broker, &[]);
        assert_eq!(code, Some(1), "{cloudtrail} {broker}: {err}");
        assert!(
            err.contains(named) && err.contains("no input object"),
            "{named}: {err}"
        );
        assert!(!dataset.exists(), "nothing written: {err}");
    }
    // Narrowed to days with no delivery: the same, saying it was narrowed.
    let (code, err) = run(
        "s3://trail-bucket/logs/",
        "s3://broker-logs/broker",
        &["--since", "2025-06-01", "--until", "2025-06-02"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("--cloudtrail s3://trail-bucket/logs/") && err.contains("--since"),
        "{err}"
    );
    assert!(!dataset.exists());
}

#[test]
fn rejects_are_queried_over_s3_as_over_a_folder() {
    let Some(moto) = Moto::start("rejects_are_queried_over_s3_as_over_a_folder") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    // One good record and one cut short: one reject.
    let ct = work.path().join("ct");
    std::fs::create_dir_all(&ct).unwrap();
    let lines = "{\"eventSource\": \"ssm.amazonaws.com\", \"eventName\": \n";
    std::fs::write(ct.join("broken.jsonl"), lines).unwrap();
    let local = work.path().join("dataset");
    local_correlate(&moto, &[&ct], &local);
    upload_folder(&moto, &local, "audit-out", "with-rejects/");
    // A dataset whose run rejected nothing has no rejects/ at all.
    let clean = work.path().join("clean");
    local_correlate(
        &moto,
        &[&repo().join("fixtures/generated/cloudtrail")],
        &clean,
    );
    assert!(!clean.join("rejects").exists());
    upload_folder(&moto, &clean, "audit-out", "clean/");
    let sql = "SELECT input_kind, line, byte_offset, reason, dt FROM rejects ORDER BY 1, 2";
    let query = |data: &str| {
        ok(sessiontrail(
            &moto,
            &["query", "--format", "csv", "--data", data, sql],
        ))
    };
    let from_s3 = query("s3://audit-out/with-rejects");
    assert_eq!(from_s3, query(&local.display().to_string()));
    assert_eq!(from_s3.lines().count(), 2, "{from_s3}");
    assert!(from_s3.contains("\ncloudtrail,1,0,"), "{from_s3}");
    assert!(
        from_s3.trim_end().ends_with(",2026-02-03"),
        "the run's day: {from_s3}"
    );
    let empty = query("s3://audit-out/clean");
    assert_eq!(empty, "input_kind,line,byte_offset,reason,dt\n");
}
