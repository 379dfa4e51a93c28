//! `correlate --verify`: the generator's signed trail, with every tampering case
//! planted (crates/generate, sharing no code with the verifier), correlated and
//! verified in one run. The `evidence` table must hold exactly the truth's log files
//! and statuses, the findings of the evidence rules exactly the truth's problems, each
//! session row the status of the file its StartSession was read from, and the
//! correlation the same sessions and findings as a run without --verify. A rerun over
//! the same inputs changes no file.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{evidence_rules, parquet_files_under, path_str, read_table, run, run_ok};

fn generate(out: &Path) -> serde_json::Value {
    run_ok(&[
        "generate",
        "--days",
        "1",
        "--digests",
        "--tamper",
        "all",
        "--out",
        path_str(out),
    ]);
    serde_json::from_slice(&std::fs::read(out.join("truth.json")).unwrap()).unwrap()
}

fn correlate(input: &Path, out: &Path, truth: &serde_json::Value, verify: bool) -> String {
    let keys = input.join(truth["evidence"]["public_keys"].as_str().unwrap());
    let (policy, cloudtrail, broker) = (
        input.join("sessiontrail.toml"),
        input.join("cloudtrail"),
        input.join("broker"),
    );
    let mut args = vec![
        "correlate",
        "--policy",
        path_str(&policy),
        "--cloudtrail",
        path_str(&cloudtrail),
        "--broker-log",
        path_str(&broker),
        "--out",
        path_str(out),
        "--as-of",
        truth["as_of"].as_str().unwrap(),
        "--quiet",
    ];
    let keys = path_str(&keys).to_string();
    if verify {
        args.extend(["--verify", "--public-keys", &keys]);
    }
    run_ok(&args)
}

#[test]
fn a_verified_run_records_the_truths_evidence_and_changes_nothing_else() {
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let evidence = &truth["evidence"];

    let plain = tempfile::tempdir().unwrap();
    correlate(input.path(), plain.path(), &truth, false);
    let verified = tempfile::tempdir().unwrap();
    correlate(input.path(), verified.path(), &truth, true);

    // evidence/: one row per log file, with the truth's status and covering digest.
    let rows = read_table(verified.path(), "evidence");
    let got: BTreeMap<String, (String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["log_file"].clone(),
                (r["status"].clone(), r["digest_file"].clone()),
            )
        })
        .collect();
    assert_eq!(got.len(), rows.len(), "one row per log file");
    let want: BTreeMap<String, (String, String)> = evidence["log_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                (
                    f["status"].as_str().unwrap().to_string(),
                    f["digest"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect();
    let statuses = |m: &BTreeMap<String, (String, String)>| -> BTreeMap<String, String> {
        m.iter().map(|(k, (s, _))| (k.clone(), s.clone())).collect()
    };
    assert_eq!(statuses(&got), statuses(&want));
    for (key, (status, digest)) in &want {
        // A verified or tampered file names the digest that decided it.
        if status == "verified" || status == "tampered" {
            assert_eq!(&got[key].1, digest, "{key}");
        }
    }
    for row in &rows {
        assert_eq!(
            row["dt"],
            row["log_file_time"][..10],
            "partitioned by the date in the file's name"
        );
        if row["status"] == "verified" {
            assert_eq!(row["expected_sha256"], row["actual_sha256"]);
            assert_eq!(row["expected_sha256"].len(), 64);
        }
    }

    let by_key = statuses(&want);

    // The evidence rules' findings: exactly the truth's problems, keyed by file.
    let got = common::evidence_findings(verified.path());
    let want = common::truth_problems(&truth["evidence"]);
    assert_eq!(got, want);
    let planted: BTreeSet<&str> = want.iter().map(|(rule, _)| rule.as_str()).collect();
    assert_eq!(
        planted,
        evidence_rules(),
        "the set plants every evidence rule"
    );

    // The rest of the correlation is what a run without --verify gives.
    let other = |out: &Path| -> BTreeSet<(String, String)> {
        read_table(out, "findings")
            .into_iter()
            .filter(|f| !evidence_rules().contains(f["rule"].as_str()))
            .map(|f| (f["finding_id"].clone(), f["detail"].clone()))
            .collect()
    };
    assert_eq!(other(verified.path()), other(plain.path()));
    let sessions = |out: &Path| -> BTreeSet<(String, String)> {
        read_table(out, "sessions")
            .into_iter()
            .map(|s| (common::session_key(&s), s["status"].clone()))
            .collect()
    };
    assert_eq!(sessions(verified.path()), sessions(plain.path()));

    // Each session row names its record's file and that file's status; a run without
    // --verify names the file and leaves the status null.
    let copy = input.path().join("cloudtrail");
    let mut checked = 0;
    for row in read_table(verified.path(), "sessions") {
        if row["cloudtrail_event_id"].is_empty() {
            assert_eq!(row["cloudtrail_evidence"], "", "{row:?}");
            continue;
        }
        let file = Path::new(&row["cloudtrail_file"]);
        let key = file
            .strip_prefix(&copy)
            .unwrap_or_else(|_| panic!("{file:?} is under {copy:?}"))
            .to_str()
            .unwrap();
        assert_eq!(row["cloudtrail_evidence"], by_key[key], "{key}");
        assert!(!row["cloudtrail_byte_offset"].is_empty());
        checked += 1;
    }
    assert!(checked > 10, "{checked} sessions checked");
    for row in read_table(plain.path(), "sessions") {
        assert_eq!(row["cloudtrail_evidence"], "");
    }

    // Rerunning changes no file.
    let before = parquet_files_under(verified.path());
    correlate(input.path(), verified.path(), &truth, true);
    assert!(
        before == parquet_files_under(verified.path()),
        "a rerun rewrote a file"
    );
}

/// Verifying later: a run without --verify, then one with it, gives the same evidence
/// as verifying at once; `evidence` rows are queryable by SQL.
#[test]
fn evidence_added_by_a_later_run_is_queryable() {
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let out = tempfile::tempdir().unwrap();
    correlate(input.path(), out.path(), &truth, false);
    assert!(read_table(out.path(), "evidence").is_empty());
    correlate(input.path(), out.path(), &truth, true);
    let text = run_ok(&[
        "query",
        "--data",
        path_str(out.path()),
        "--format",
        "csv",
        "SELECT status, COUNT(*) AS files FROM evidence GROUP BY status ORDER BY status",
    ]);
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for f in truth["evidence"]["log_files"].as_array().unwrap() {
        *want
            .entry(f["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let got: BTreeMap<String, u64> = text
        .lines()
        .skip(1)
        .map(|line| {
            let (status, files) = line.split_once(',').unwrap();
            (status.to_string(), files.parse().unwrap())
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn verify_needs_keys() {
    let output = run(&[
        "correlate",
        "--policy",
        "fixtures/generated/sessiontrail.toml",
        "--cloudtrail",
        "fixtures/generated/cloudtrail",
        "--out",
        "/nonexistent",
        "--verify",
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "usage: --verify needs its keys"
    );
}

/// `correlate --verify --cloudtrail s3://...` (moto's S3, the digests' signatures in
/// their objects' metadata): the evidence is the truth's, the findings the truth's
/// problems, and every file is named by its s3:// URL.
#[test]
fn a_trail_in_s3_is_read_and_verified_in_one_run() {
    use sessiontrail_test_support::moto::Moto;
    let Some(moto) = Moto::start("a_trail_in_s3_is_read_and_verified_in_one_run") else {
        return;
    };
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let evidence = &truth["evidence"];
    let bucket = evidence["bucket"].as_str().unwrap();
    common::upload_trail(&moto, &input.path().join("cloudtrail"), bucket, "trail/");
    let out = tempfile::tempdir().unwrap();
    let keys = input.path().join(evidence["public_keys"].as_str().unwrap());
    let url = format!("s3://{bucket}/trail/");
    let output = common::bin()
        .args([
            "correlate",
            "--policy",
            path_str(&input.path().join("sessiontrail.toml")),
            "--cloudtrail",
            &url,
            "--broker-log",
            path_str(&input.path().join("broker")),
            "--out",
            path_str(out.path()),
            "--as-of",
            truth["as_of"].as_str().unwrap(),
            "--quiet",
            "--verify",
            "--public-keys",
            path_str(&keys),
        ])
        .envs(moto.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || output.status.code() == Some(3),
        "{stderr}"
    );
    assert!(!stderr.contains("/tmp"), "no local path is shown: {stderr}");

    let rows = read_table(out.path(), "evidence");
    let got: BTreeMap<String, String> = rows
        .iter()
        .map(|r| (r["log_file"].clone(), r["status"].clone()))
        .collect();
    let want = common::truth_log_file_statuses(evidence);
    assert_eq!(got, want);
    // Found in the bucket (or, missing, where the digest says it was).
    for row in &rows {
        assert!(
            row["found_at"].starts_with(&format!("s3://{bucket}/")),
            "named by its object: {row:?}"
        );
        assert!(!row["detail"].contains("/tmp"), "{row:?}");
    }
    assert_eq!(
        common::evidence_findings(out.path()),
        common::truth_problems(evidence)
    );

    let mut checked = 0;
    for row in read_table(out.path(), "sessions") {
        if row["cloudtrail_event_id"].is_empty() {
            continue;
        }
        let key = row["cloudtrail_file"]
            .strip_prefix(&format!("s3://{bucket}/trail/"))
            .unwrap_or_else(|| panic!("named by its object: {row:?}"));
        assert_eq!(row["cloudtrail_evidence"], want[key], "{key}");
        checked += 1;
    }
    assert!(checked > 10, "{checked} sessions checked");
}

fn gunzipped(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let bytes = std::fs::read(path).unwrap();
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return bytes;
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A broker log line as text: a CloudWatch Logs subscription payload line
/// (`{"awslogs":{"data":"<base64 gzip>"}}`) decoded to the payload it carries.
fn broker_line_text(line: &str) -> String {
    use base64::Engine;
    use std::io::Read;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let Some(data) = value["awslogs"]["data"].as_str() else {
        return line.to_owned();
    };
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    let mut payload = String::new();
    flate2::read::MultiGzDecoder::new(&zipped[..])
        .read_to_string(&mut payload)
        .unwrap();
    payload
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `evidence --session`: for each attributed session, what it prints is checked against
/// the files themselves: the byte offset starts the StartSession record with the row's
/// eventID, the SHA-256 is that of the file's content and what the digest file lists
/// for it, and the broker file's line holds the broker record's request id.
#[test]
fn evidence_session_shows_a_chain_of_custody_that_checks_out() {
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let out = tempfile::tempdir().unwrap();
    correlate(input.path(), out.path(), &truth, true);
    let sessions: Vec<_> = read_table(out.path(), "sessions")
        .into_iter()
        .filter(|r| r["status"] == "attributed" && r["cloudtrail_evidence"] == "verified")
        .collect();
    assert!(sessions.len() > 10, "{} sessions to check", sessions.len());
    let digest_root = input.path().join("cloudtrail");
    for session in sessions.iter().take(12) {
        let id = &session["session_id"];
        let text = run_ok(&[
            "evidence",
            "--data",
            path_str(out.path()),
            "--session",
            id,
            "--format",
            "jsonl",
        ]);
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{id}: {text}");
        let row = &rows[0];
        assert_eq!(row["session_id"], id.as_str());

        // The CloudTrail record at its byte offset.
        let file = Path::new(row["cloudtrail_file"].as_str().unwrap());
        let content = gunzipped(file);
        let offset = row["cloudtrail_byte_offset"].as_u64().unwrap() as usize;
        let mut records = serde_json::Deserializer::from_slice(&content[offset..])
            .into_iter::<serde_json::Value>();
        let record = records.next().unwrap().unwrap();
        assert_eq!(record["eventName"], "StartSession", "{id}");
        assert_eq!(record["eventID"], row["cloudtrail_event_id"], "{id}");
        assert_eq!(record["responseElements"]["sessionId"], id.as_str());

        // The file's SHA-256, and the digest's listing of it.
        let actual = sha256_hex(&content);
        assert_eq!(row["actual_sha256"], actual.as_str(), "{id}");
        assert_eq!(row["expected_sha256"], actual.as_str(), "{id}");
        assert_eq!(row["digest_signature_verified"], true);
        assert_eq!(row["digest_chain_verified"], true);
        let log_key = row["log_file"].as_str().unwrap();
        assert!(file.to_str().unwrap().ends_with(log_key), "{log_key}");
        let digest: serde_json::Value = serde_json::from_slice(&gunzipped(
            &digest_root.join(row["digest_file"].as_str().unwrap()),
        ))
        .unwrap();
        let listed = digest["logFiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["s3Object"].as_str().unwrap().ends_with(log_key))
            .unwrap_or_else(|| panic!("{log_key} not in its digest"));
        assert_eq!(listed["hashValue"], actual.as_str());

        // The broker record's line.
        let broker = gunzipped(Path::new(row["broker_file"].as_str().unwrap()));
        let line = String::from_utf8_lossy(&broker)
            .lines()
            .nth(row["broker_line"].as_u64().unwrap() as usize - 1)
            .unwrap()
            .to_owned();
        let request_id = row["broker_request_id"].as_str().unwrap();
        assert!(
            broker_line_text(&line).contains(request_id),
            "{request_id} not on {line}"
        );
    }

    // The text form names the sections and the query to rerun.
    let id = &sessions[0]["session_id"];
    let text = run_ok(&["evidence", "--data", path_str(out.path()), "--session", id]);
    for heading in [
        "session",
        "CloudTrail record",
        "log file evidence",
        "broker record",
    ] {
        assert!(text.lines().any(|l| l == heading), "{heading}: {text}");
    }
    assert!(
        text.contains("queries/evidence/session_custody.sql"),
        "{text}"
    );

    // A session no row has: exit 1, saying so.
    let missing = run(&[
        "evidence",
        "--data",
        path_str(out.path()),
        "--session",
        "nobody-0123456789abcdef0",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no session"));
}

/// Without --verify, `evidence --session` still shows the record and says the file was
/// not checked.
#[test]
fn evidence_session_without_verification_says_not_checked() {
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let out = tempfile::tempdir().unwrap();
    correlate(input.path(), out.path(), &truth, false);
    let session = read_table(out.path(), "sessions")
        .into_iter()
        .find(|r| r["status"] == "attributed")
        .unwrap();
    let text = run_ok(&[
        "evidence",
        "--data",
        path_str(out.path()),
        "--session",
        &session["session_id"],
    ]);
    assert!(text.contains("not checked"), "{text}");
    assert!(text.contains(&session["cloudtrail_file"]), "{text}");
}

/// `sessiontrail report --month MONTH` over `data` at the truth's as-of: report.json and
/// report.html.
fn report(
    input: &Path,
    data: &Path,
    month: &str,
    truth: &serde_json::Value,
) -> (serde_json::Value, String) {
    let out = tempfile::tempdir().unwrap();
    run_ok(&[
        "report",
        "--data",
        path_str(data),
        "--month",
        month,
        "--out",
        path_str(out.path()),
        "--as-of",
        truth["as_of"].as_str().unwrap(),
        "--policy",
        path_str(&input.join("sessiontrail.toml")),
    ]);
    let read = |name: &str| std::fs::read(out.path().join(name)).unwrap();
    (
        serde_json::from_slice(&read("report.json")).unwrap(),
        String::from_utf8(read("report.html")).unwrap(),
    )
}

/// The time in a CloudTrail log or digest file's name (`..._20260201T1205Z_<id>.json.gz`,
/// `..._20260201T120000Z.json.gz`), as `YYYY-MM`.
fn month_in_name(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap();
    let stamp = name
        .split('_')
        .find(|part| {
            part.len() >= 14
                && part.as_bytes()[8] == b'T'
                && part[..8].bytes().all(|b| b.is_ascii_digit())
        })
        .unwrap_or_else(|| panic!("no time in {name}"));
    format!("{}-{}", &stamp[..4], &stamp[4..6])
}

/// The report's Evidence section over a verified dataset: the month's sessions by the
/// status of the log file holding their StartSession record, and the month's files
/// that did not verify. Expected values come from the files themselves (every
/// StartSession record, read here) and the generator's truth (each file's status); the
/// copy of a record delivered twice that counts is the one in the file with the least
/// S3 key (docs/contracts.md).
#[test]
fn the_report_counts_sessions_by_the_evidence_of_their_record() {
    let input = tempfile::tempdir().unwrap();
    let truth = generate(input.path());
    let status_of = common::truth_log_file_statuses(&truth["evidence"]);

    // Every StartSession record in the log files: eventID -> (eventTime, least key).
    let root = input.path().join("cloudtrail");
    let mut records: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if !key.contains("/CloudTrail/") || !key.ends_with(".json.gz") {
                continue;
            }
            let Ok(file) = serde_json::from_slice::<serde_json::Value>(&gunzipped(&path)) else {
                continue;
            };
            for record in file["Records"].as_array().into_iter().flatten() {
                if record["eventSource"] != "ssm.amazonaws.com"
                    || record["eventName"] != "StartSession"
                {
                    continue;
                }
                let id = record["eventID"].as_str().unwrap().to_string();
                let time = record["eventTime"].as_str().unwrap().to_string();
                let entry = records.entry(id).or_insert((time, key.clone()));
                if key < entry.1 {
                    entry.1 = key.clone();
                }
            }
        }
    }
    assert!(records.len() > 10, "{} StartSession records", records.len());
    let month = records.values().next().unwrap().0[..7].to_string();

    let out = tempfile::tempdir().unwrap();
    correlate(input.path(), out.path(), &truth, true);
    let (json, html) = report(input.path(), out.path(), &month, &truth);
    let rows = |name: &str| json["figures"][name]["rows"].as_array().unwrap().clone();

    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for (time, key) in records.values() {
        if time.starts_with(&month) {
            *want.entry(status_of[key].clone()).or_default() += 1;
        }
    }
    let got: BTreeMap<String, u64> = rows("session_evidence")
        .iter()
        .map(|r| {
            (
                r["evidence"].as_str().unwrap().to_string(),
                r["sessions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let total: u64 = want.values().sum();
    for row in rows("session_evidence") {
        let share = row["share"].as_f64().unwrap();
        let expected = row["sessions"].as_u64().unwrap() as f64 / total as f64;
        assert!((share - expected).abs() < 1e-9, "{row}");
        // Shown as a percentage to people (report.json keeps the fraction).
        let shown = format!("{:.2} %", expected * 100.0);
        assert!(html.contains(&shown), "{shown} not in report.html");
    }
    assert!(
        want.keys().any(|status| status != "verified"),
        "some session's record is in a file that did not verify: {want:?}"
    );
    let order: Vec<String> = rows("session_evidence")
        .iter()
        .map(|r| r["evidence"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        order.last().map(String::as_str),
        Some("verified"),
        "worst first"
    );

    let want: BTreeSet<(String, String)> = status_of
        .iter()
        .filter(|(key, status)| *status != "verified" && month_in_name(key) == month)
        .map(|(key, status)| (key.clone(), status.clone()))
        .collect();
    let got: BTreeSet<(String, String)> = rows("log_files_not_verified")
        .iter()
        .map(|r| {
            (
                r["log_file"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(!want.is_empty());

    // The digests' own problems: the truth's, by digest file.
    let digest_rules = ["digest_signature_invalid", "digest_chain_broken"];
    let want: BTreeSet<(String, String)> = common::truth_problems(&truth["evidence"])
        .into_iter()
        .filter(|(rule, key)| digest_rules.contains(&rule.as_str()) && month_in_name(key) == month)
        .collect();
    let got: BTreeSet<(String, String)> = rows("digest_problems")
        .iter()
        .map(|r| {
            let proof: serde_json::Value =
                serde_json::from_str(r["evidence"].as_str().unwrap()).unwrap();
            (
                r["rule"].as_str().unwrap().to_string(),
                proof["file"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        want.iter()
            .map(|(rule, _)| rule.as_str())
            .collect::<BTreeSet<_>>(),
        digest_rules.into(),
        "the set plants both digest rules"
    );
    assert!(html.contains("<section id=\"evidence\">"));
    assert!(html.contains("href=\"#evidence\""));

    // Without --verify every session is `not checked` and no file is listed.
    let plain = tempfile::tempdir().unwrap();
    correlate(input.path(), plain.path(), &truth, false);
    let (json, _) = report(input.path(), plain.path(), &month, &truth);
    let figure = &json["figures"]["session_evidence"]["rows"];
    let in_month = records
        .values()
        .filter(|(t, _)| t.starts_with(&month))
        .count();
    assert_eq!(
        figure,
        &serde_json::json!([{
            "evidence": "not checked",
            "sessions": in_month,
            "share": 1.0,
            "first_start": figure[0]["first_start"],
            "last_start": figure[0]["last_start"],
        }])
    );
    for name in ["log_files_not_verified", "digest_problems"] {
        assert_eq!(
            json["figures"][name]["rows"],
            serde_json::json!([]),
            "{name}"
        );
    }
}
