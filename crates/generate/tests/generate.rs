//! End-to-end tests of `generate`: determinism, file formats, layouts, size targets,
//! and a cross-check of truth.json against the data actually written (by reading the
//! files back, not by running any correlation code).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use serde_json::Value;
use sessiontrail_generate::{GenerateError, GenerateOptions, Rule, Status, generate};

fn small(seed: u64) -> GenerateOptions {
    GenerateOptions {
        seed,
        days: 2,
        sessions_per_day: 20,
        noise_per_session: 8,
        ..GenerateOptions::default()
    }
}

/// Every file under `dir`, by '/'-separated relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(key, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
    text
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
}

/// What a generated folder holds, read back.
struct Data {
    files: BTreeMap<String, Vec<u8>>,
    /// (file key, records) of every CloudTrail log file.
    logs: Vec<(String, Vec<Value>)>,
    /// (source kind, record) of every broker record line (objects with `v`).
    broker: Vec<(&'static str, Value)>,
    truth: Value,
    policy: toml::Table,
}

impl Data {
    fn load(dir: &Path) -> Data {
        let files = read_tree(dir);
        let mut logs = Vec::new();
        let mut broker = Vec::new();
        for (key, bytes) in &files {
            if key.starts_with("cloudtrail/") && key.contains("/CloudTrail/") {
                let value: Value =
                    serde_json::from_str(&gunzip(bytes)).unwrap_or_else(|e| panic!("{key}: {e}"));
                let records = value["Records"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{key}: no Records array"))
                    .clone();
                logs.push((key.clone(), records));
            } else if key.starts_with("broker/exportedlogs/") {
                for line in gunzip(bytes).lines() {
                    let (ts, message) = line.split_once(' ').unwrap();
                    assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
                    if let Ok(value @ Value::Object(_)) = serde_json::from_str(message)
                        && value.get("v").is_some()
                    {
                        broker.push(("export", value));
                    }
                }
            } else if key.starts_with("broker/subscription-") {
                let wrapper: Value = serde_json::from_slice(bytes).unwrap();
                let data = wrapper["awslogs"]["data"].as_str().unwrap();
                let zipped = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap();
                let payload: Value = serde_json::from_str(&gunzip(&zipped)).unwrap();
                assert_eq!(payload["messageType"], "DATA_MESSAGE");
                for event in payload["logEvents"].as_array().unwrap() {
                    let id = event["id"].as_str().unwrap();
                    assert!(id.len() == 56 && id.bytes().all(|b| b.is_ascii_digit()));
                    assert!(event["timestamp"].is_i64());
                    let message = event["message"].as_str().unwrap();
                    broker.push(("subscription", serde_json::from_str(message).unwrap()));
                }
            } else if key.starts_with("broker/") && key.ends_with(".jsonl.gz") {
                for line in gunzip(bytes).lines() {
                    if let Ok(value @ Value::Object(_)) = serde_json::from_str(line)
                        && value.get("v").is_some()
                    {
                        broker.push(("jsonl", value));
                    }
                }
            }
        }
        let truth = serde_json::from_slice(&files["truth.json"]).unwrap();
        let policy =
            toml::from_str(std::str::from_utf8(&files["sessiontrail.toml"]).unwrap()).unwrap();
        Data {
            files,
            logs,
            broker,
            truth,
            policy,
        }
    }

    fn records(&self) -> impl Iterator<Item = &Value> {
        self.logs.iter().flat_map(|(_, records)| records.iter())
    }

    /// Distinct ssm session events, by eventID.
    fn ssm_events(&self) -> BTreeMap<String, &Value> {
        self.records()
            .filter(|r| {
                r["eventSource"] == "ssm.amazonaws.com"
                    && ["StartSession", "ResumeSession", "TerminateSession"]
                        .contains(&r["eventName"].as_str().unwrap())
            })
            .map(|r| (r["eventID"].as_str().unwrap().to_owned(), r))
            .collect()
    }

    /// Distinct broker records, by request_id (checking that copies are identical).
    fn broker_records(&self) -> BTreeMap<String, &Value> {
        let mut out: BTreeMap<String, &Value> = BTreeMap::new();
        for (_, record) in &self.broker {
            let id = record["request_id"].as_str().unwrap().to_owned();
            if let Some(previous) = out.insert(id.clone(), record) {
                assert_eq!(previous, record, "copies of {id} differ");
            }
        }
        out
    }

    fn broker_roles(&self) -> BTreeSet<String> {
        self.policy["broker"]["role_arns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn sessions(&self) -> BTreeMap<String, (Value, String)> {
        self.truth["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["key"].as_str().unwrap().to_owned(),
                    (
                        s["session_id"].clone(),
                        s["status"].as_str().unwrap().to_owned(),
                    ),
                )
            })
            .collect()
    }

    fn findings(&self) -> BTreeSet<(String, String)> {
        self.truth["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap().to_owned(),
                    f["key"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn findings_of(&self, rule: Rule) -> BTreeSet<String> {
        self.findings()
            .into_iter()
            .filter(|(r, _)| r == rule.as_str())
            .map(|(_, key)| key)
            .collect()
    }
}

fn generated(options: &GenerateOptions) -> (tempfile::TempDir, Data) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    generate(&out, options).unwrap();
    let data = Data::load(&out);
    (dir, data)
}

#[test]
fn same_seed_gives_identical_files() {
    let (_a, first) = generated(&small(7));
    let (_b, second) = generated(&small(7));
    assert_eq!(
        first.files.keys().collect::<Vec<_>>(),
        second.files.keys().collect::<Vec<_>>()
    );
    for (key, bytes) in &first.files {
        assert!(bytes == &second.files[key], "{key} differs between runs");
    }
}

#[test]
fn different_seed_gives_different_data() {
    let (_a, first) = generated(&small(7));
    let (_b, second) = generated(&small(8));
    assert_ne!(first.files["truth.json"], second.files["truth.json"]);
    assert_ne!(
        first.files.keys().collect::<Vec<_>>(),
        second.files.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_log_file_is_a_records_object_of_complete_records() {
    let (_dir, data) = generated(&small(3));
    assert!(data.logs.len() > 100);
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (key, records) in &data.logs {
        assert!(!records.is_empty(), "{key} is empty");
        for record in records {
            for field in [
                "eventVersion",
                "userIdentity",
                "eventTime",
                "eventSource",
                "eventName",
                "awsRegion",
                "sourceIPAddress",
                "userAgent",
                "requestID",
                "eventID",
                "readOnly",
                "eventType",
                "managementEvent",
                "recipientAccountId",
                "eventCategory",
            ] {
                assert!(record.get(field).is_some(), "{key}: record without {field}");
            }
            let version = record["eventVersion"].as_str().unwrap();
            assert!(["1.08", "1.09", "1.10", "1.11"].contains(&version));
            assert!(record["readOnly"].is_boolean() && record["managementEvent"].is_boolean());
            if let Some(ctx) = record["userIdentity"].get("sessionContext") {
                assert_eq!(ctx["attributes"]["mfaAuthenticated"], "false");
            }
            if record.get("errorCode").is_some() && record["eventSource"] == "ssm.amazonaws.com" {
                assert!(record["responseElements"].is_null());
            }
            let id = record["eventID"].as_str().unwrap().to_owned();
            if let Some(other) = seen.insert(id.clone(), key.clone()) {
                assert_ne!(&other, key, "{id} twice in one file");
            }
        }
    }
    // The digest is a different shape and must not be taken for a log file.
    let digest = data
        .files
        .iter()
        .find(|(key, _)| key.contains("/CloudTrail-Digest/"))
        .expect("a digest file");
    let value: Value = serde_json::from_str(&gunzip(digest.1)).unwrap();
    assert!(value.get("Records").is_none() && value["logFiles"].is_array());
}

#[test]
fn truth_covers_every_status_and_rule() {
    let (_dir, data) = generated(&small(1));
    assert_eq!(data.truth["as_of"], "2026-02-03T01:00:00Z");
    let sessions = data.sessions();
    let statuses: BTreeSet<&str> = sessions.values().map(|(_, s)| s.as_str()).collect();
    let expected: BTreeSet<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(statuses, expected);
    let rules: BTreeSet<String> = data.findings().into_iter().map(|(rule, _)| rule).collect();
    // The generator writes no in-band identity (`sourceIdentity`), so it plants no
    // in_band_identity_mismatch: that rule is pinned by its golden case
    // (fixtures/cases/in_band_identity_mismatch) and correlate's unit tests.
    let expected: BTreeSet<String> = Rule::ALL
        .iter()
        .filter(|r| **r != Rule::InBandIdentityMismatch)
        .map(|r| r.as_str().to_owned())
        .collect();
    assert_eq!(rules, expected);
    assert_eq!(rules.len(), 11);

    // Sorted, as promised.
    let keys: Vec<&str> = data.truth["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    let findings: Vec<(&str, &str)> = data.truth["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["key"].as_str().unwrap()))
        .collect();
    assert!(findings.windows(2).all(|w| w[0] < w[1]));

    // Most sessions are clean.
    let flagged: BTreeSet<String> = data.findings().into_iter().map(|(_, key)| key).collect();
    let clean = sessions
        .iter()
        .filter(|(key, (_, status))| status == "attributed" && !flagged.contains(*key))
        .count();
    assert!(clean * 2 > sessions.len(), "{clean} of {}", sessions.len());
}

#[test]
fn truth_agrees_with_the_written_data() {
    let (_dir, data) = generated(&small(5));
    assert_truth_agrees(&data);
}

#[test]
fn truth_agrees_with_one_account_and_one_region() {
    let options = GenerateOptions {
        accounts: 1,
        regions: vec!["ap-southeast-2".to_owned()],
        ..small(11)
    };
    let (_dir, data) = generated(&options);
    assert_truth_agrees(&data);
    assert!(data.files.keys().all(|k| !k.contains("o-exampleorgid")));
}

#[test]
fn truth_agrees_with_three_accounts_and_regions() {
    let options = GenerateOptions {
        accounts: 3,
        regions: vec![
            "eu-central-1".into(),
            "us-east-1".into(),
            "us-west-2".into(),
        ],
        days: 1,
        ..small(12)
    };
    let (_dir, data) = generated(&options);
    assert_truth_agrees(&data);
    assert_eq!(data.broker_roles().len(), 3);
}

fn assert_truth_agrees(data: &Data) {
    let as_of = time(data.truth["as_of"].as_str().unwrap());
    let grace = chrono::Duration::minutes(30);
    let skew = chrono::Duration::minutes(5);
    let roles = data.broker_roles();
    let events = data.ssm_events();
    let records = data.broker_records();
    let sessions = data.sessions();

    let issuer = |r: &Value| {
        r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
            .as_str()
            .map(str::to_owned)
    };
    let starts: Vec<&Value> = events
        .values()
        .copied()
        .filter(|r| r["eventName"] == "StartSession")
        .collect();
    let by_session: BTreeMap<&str, &Value> = starts
        .iter()
        .filter(|r| r.get("errorCode").is_none())
        .map(|r| (r["responseElements"]["sessionId"].as_str().unwrap(), *r))
        .collect();
    let started: Vec<&Value> = records
        .values()
        .copied()
        .filter(|r| r["outcome"] == "started")
        .collect();
    let matches = |start: &Value| -> Vec<&Value> {
        let session = start["responseElements"]["sessionId"].as_str();
        started
            .iter()
            .copied()
            .filter(|r| match r.get("session_id") {
                Some(id) => id.as_str() == session,
                None => r.get("ssm_request_id") == Some(&start["requestID"]),
            })
            .collect()
    };

    // A broker record of no StartSession: neither its session id nor its
    // ssm_request_id is that of a StartSession in the data.
    let matches_no_start = |record: &Value| {
        let by_id = record["session_id"]
            .as_str()
            .is_some_and(|id| by_session.contains_key(id));
        let by_request = starts.iter().any(|s| {
            record
                .get("ssm_request_id")
                .is_some_and(|r| *r == s["requestID"])
        });
        !by_id && !by_request
    };
    for (key, (session_id, status)) in &sessions {
        if let Some(request_id) = key.strip_prefix("broker:")
            && matches!(status.as_str(), "failed" | "denied")
        {
            // A broker-only attempt: its record's outcome, and no StartSession.
            let record = records[request_id];
            let outcome = if status == "failed" {
                "error"
            } else {
                "denied"
            };
            assert_eq!(record["outcome"], outcome, "{key}");
            assert!(matches_no_start(record), "{key}");
            assert!(session_id.is_null());
            continue;
        }
        match status.as_str() {
            "failed" => {
                let start = events[key];
                assert_eq!(start["eventName"], "StartSession");
                assert!(start.get("errorCode").is_some() && start["responseElements"].is_null());
                assert!(session_id.is_null());
            }
            "attributed" | "unattributed" | "direct" => {
                let start = by_session[key.as_str()];
                assert_eq!(session_id, key);
                let via_broker = issuer(start).is_some_and(|arn| roles.contains(&arn));
                let matched = matches(start);
                match status.as_str() {
                    "attributed" => assert!(via_broker && !matched.is_empty(), "{key}"),
                    "unattributed" => {
                        assert!(via_broker && matched.is_empty(), "{key}");
                        assert!(time(start["eventTime"].as_str().unwrap()) <= as_of - grace);
                    }
                    _ => assert!(!via_broker, "{key}"),
                }
            }
            "pending" => match by_session.get(key.as_str()) {
                Some(start) => {
                    assert!(matches(start).is_empty());
                    assert!(time(start["eventTime"].as_str().unwrap()) > as_of - grace);
                }
                None => {
                    let record = started.iter().find(|r| r["session_id"] == **key).unwrap();
                    assert!(time(record["ts"].as_str().unwrap()) > as_of - grace);
                }
            },
            "orphan" => {
                assert!(!by_session.contains_key(key.as_str()));
                let record = started.iter().find(|r| r["session_id"] == **key).unwrap();
                assert!(time(record["ts"].as_str().unwrap()) <= as_of - grace);
            }
            other => panic!("unknown status {other}"),
        }
    }
    // Every session in the data is in the truth.
    for start in &starts {
        let key = match start.get("errorCode") {
            Some(_) => start["eventID"].as_str().unwrap(),
            None => start["responseElements"]["sessionId"].as_str().unwrap(),
        };
        assert!(
            sessions.contains_key(key),
            "StartSession {key} missing from truth"
        );
    }
    for record in &started {
        if let Some(id) = record["session_id"].as_str() {
            assert!(
                sessions.contains_key(id),
                "broker session {id} missing from truth"
            );
        }
    }
    // Every denied or error record that matches no StartSession is an attempt of its own.
    for record in records.values() {
        let outcome = record["outcome"].as_str().unwrap();
        if outcome != "started" && matches_no_start(record) {
            let key = format!("broker:{}", record["request_id"].as_str().unwrap());
            let want = if outcome == "error" {
                "failed"
            } else {
                "denied"
            };
            assert_eq!(
                sessions.get(&key).map(|(_, s)| s.as_str()),
                Some(want),
                "{outcome} record {key} missing from truth"
            );
        }
    }

    // Rules that can be recomputed from the files alone.
    let mut skewed = BTreeSet::new();
    for start in by_session.values() {
        let at = time(start["eventTime"].as_str().unwrap());
        for record in matches(start) {
            let ts = time(record["ts"].as_str().unwrap());
            if (ts - at).abs() > skew {
                skewed.insert(
                    start["responseElements"]["sessionId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    assert_eq!(data.findings_of(Rule::ClockSkew), skewed);

    let mut claims: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for record in &started {
        if let Some(id) = record["session_id"].as_str() {
            claims
                .entry(id)
                .or_default()
                .insert(record["request_id"].as_str().unwrap());
        }
    }
    let duplicated: BTreeSet<String> = claims
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(id, _)| id.to_owned())
        .collect();
    assert_eq!(data.findings_of(Rule::DuplicateBrokerClaim), duplicated);

    fn has_secret(value: &Value) -> bool {
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| {
                ["token", "token_value", "TokenValue", "session_token"].contains(&k.as_str())
                    || has_secret(v)
            }),
            Value::Array(items) => items.iter().any(has_secret),
            Value::String(s) => s.starts_with("wss://") && s.contains("token="),
            _ => false,
        }
    }
    let leaking: BTreeSet<String> = records
        .values()
        .filter(|r| has_secret(r))
        .map(|r| match r["session_id"].as_str() {
            Some(id) => id.to_owned(),
            None => format!("broker:{}", r["request_id"].as_str().unwrap()),
        })
        .collect();
    assert_eq!(data.findings_of(Rule::SecretInBrokerLog), leaking);

    let of_status = |wanted: &str| -> BTreeSet<String> {
        sessions
            .iter()
            .filter(|(_, (_, status))| status == wanted)
            .map(|(key, _)| key.clone())
            .collect()
    };
    assert_eq!(
        data.findings_of(Rule::UnattributedSession),
        of_status("unattributed")
    );
    assert_eq!(
        data.findings_of(Rule::OrphanBrokerRecord),
        of_status("orphan")
    );
    assert!(
        data.findings_of(Rule::DirectSession)
            .is_subset(&of_status("direct"))
    );
    for id in data.findings_of(Rule::ForeignSessionControl) {
        let event = events[&id];
        assert!(
            ["ResumeSession", "TerminateSession"].contains(&event["eventName"].as_str().unwrap())
        );
        assert!(event.get("errorCode").is_none());
    }
    // Failed sessions carry no findings but a leaked token in their broker record.
    let failed = of_status("failed");
    assert!(
        data.findings()
            .iter()
            .all(|(rule, key)| !failed.contains(key) || rule == "secret_in_broker_log")
    );
}

#[test]
fn records_are_redelivered_and_repeated_across_wrappers() {
    let (_dir, data) = generated(&small(2));
    // The same CloudTrail record in two files.
    let mut files_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (key, records) in &data.logs {
        for record in records {
            files_of
                .entry(record["eventID"].as_str().unwrap())
                .or_default()
                .insert(key);
        }
    }
    assert!(files_of.values().any(|files| files.len() == 2));
    // A broker record in the JSON lines, the export and the subscription payload.
    let mut sources: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (source, record) in &data.broker {
        sources
            .entry(record["request_id"].as_str().unwrap())
            .or_default()
            .insert(source);
    }
    assert!(sources.values().any(|s| s.len() == 3));
    // A subscription-only record (the pending broker side).
    assert!(
        sources
            .values()
            .any(|s| s.len() == 1 && s.contains("subscription"))
    );
    // Delivery never precedes the event; some events land in the next day's folder.
    let mut next_day = 0;
    for (key, records) in &data.logs {
        let name = key.rsplit('/').next().unwrap();
        let stamp = name.split('_').nth(3).unwrap();
        let delivered = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
            .unwrap()
            .and_utc();
        for record in records {
            let at = time(record["eventTime"].as_str().unwrap());
            assert!(
                at < delivered + chrono::Duration::minutes(1),
                "{key}: {at} delivered at {delivered}"
            );
            if at.date_naive() < delivered.date_naive()
                && record["eventSource"] == "ssm.amazonaws.com"
            {
                next_day += 1;
            }
        }
    }
    assert!(next_day > 0);
    // The Lambda's own lines and app logs without `v` are in the JSON lines.
    let jsonl = data
        .files
        .iter()
        .find(|(key, _)| key.ends_with(".jsonl.gz"))
        .unwrap();
    let text = gunzip(jsonl.1);
    assert!(text.lines().any(|l| l.starts_with("START RequestId: ")));
    assert!(text.lines().any(|l| l.starts_with("REPORT RequestId: ")));
    assert!(
        text.lines()
            .any(|l| l.starts_with('{') && !l.contains("\"v\":"))
    );
}

#[test]
fn keys_follow_the_s3_layouts() {
    let options = small(4);
    let (_dir, data) = generated(&options);
    let is_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let mut org = 0;
    let mut digests = 0;
    for key in data.files.keys() {
        let parts: Vec<&str> = key.split('/').collect();
        match parts[0] {
            "cloudtrail" => {
                assert_eq!(parts[1], "AWSLogs", "{key}");
                let mut rest = &parts[2..];
                if rest[0] == "o-exampleorgid" {
                    org += 1;
                    rest = &rest[1..];
                }
                let [account, kind, region, year, month, day, name] = rest else {
                    panic!("{key}: wrong depth");
                };
                assert!(is_digits(account, 12), "{key}");
                assert!(options.regions.iter().any(|r| r == region), "{key}");
                assert!(is_digits(year, 4) && is_digits(month, 2) && is_digits(day, 2));
                let date = format!("{year}{month}{day}");
                let fields: Vec<&str> = name.strip_suffix(".json.gz").unwrap().split('_').collect();
                match *kind {
                    "CloudTrail" => {
                        let [acct, ct, reg, stamp, unique] = fields[..] else {
                            panic!("{key}: bad file name");
                        };
                        assert_eq!((acct, ct, reg), (*account, "CloudTrail", *region));
                        assert_eq!(stamp.len(), 14, "{key}");
                        assert!(stamp.starts_with(&format!("{date}T")) && stamp.ends_with('Z'));
                        assert!(
                            unique.len() == 16 && unique.bytes().all(|b| b.is_ascii_alphanumeric())
                        );
                    }
                    "CloudTrail-Digest" => {
                        digests += 1;
                        let [acct, ct, reg, trail, reg2, stamp] = fields[..] else {
                            panic!("{key}: bad digest name");
                        };
                        assert_eq!(
                            (acct, ct, reg, reg2),
                            (*account, "CloudTrail-Digest", *region, *region)
                        );
                        assert!(!trail.is_empty());
                        assert_eq!(stamp.len(), 16);
                        assert!(stamp.starts_with(&format!("{date}T")));
                    }
                    other => panic!("{key}: unexpected {other}"),
                }
            }
            "broker" => {
                let ok = (parts.len() == 5
                    && is_digits(parts[1], 4)
                    && parts[4].starts_with("broker-")
                    && parts[4].ends_with(".jsonl.gz"))
                    || (parts[1] == "exportedlogs" && key.ends_with("/000000.gz"))
                    || (parts.len() == 2
                        && parts[1].starts_with("subscription-")
                        && parts[1].ends_with(".json"));
                assert!(ok, "unexpected broker file {key}");
            }
            "truth.json" | "sessiontrail.toml" => {}
            other => panic!("unexpected file {other}"),
        }
    }
    assert!(org > 0, "no organization trail files");
    assert_eq!(digests, 1);
}

#[test]
fn policy_names_every_broker_role_and_the_permission_sets() {
    let (_dir, data) = generated(&small(6));
    let roles = data.broker_roles();
    let broker_issuers: BTreeSet<String> = data
        .records()
        .filter(|r| {
            r["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] == "ssm-session-broker"
        })
        .map(|r| {
            r["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(roles, broker_issuers);
    let policy = &data.policy;
    assert_eq!(
        policy["default_document"].as_str(),
        Some("SSM-SessionManagerRunShell")
    );
    assert_eq!(policy["broker"]["grace"].as_str(), Some("30m"));
    assert_eq!(policy["broker"]["max_clock_skew"].as_str(), Some("5m"));
    assert_eq!(policy["broker"]["retention"].as_str(), Some("14d"));
    let sets: Vec<(String, String, String)> = policy["permission_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["document"].as_str().unwrap().to_owned(),
                s["run_as"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(sets.contains(&(
        "Data_Engineer".into(),
        "SSMRunAs-DataEng-Session".into(),
        "dataeng".into()
    )));
    assert!(sets.contains(&(
        "Dev".into(),
        "SSM-SessionManagerRunShell".into(),
        "dev".into()
    )));
    assert_eq!(
        policy["direct"]["allowed_permission_sets"]
            .as_array()
            .unwrap()[0]
            .as_str(),
        Some("BreakGlass")
    );
}

#[test]
fn target_bytes_is_roughly_met() {
    let target = 5_000_000;
    let options = GenerateOptions {
        target_bytes: Some(target),
        ..GenerateOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), &options).unwrap();
    let written: u64 = read_tree(dir.path())
        .iter()
        .filter(|(key, _)| key.contains("/CloudTrail/"))
        .map(|(_, bytes)| gunzip(bytes).len() as u64)
        .sum();
    assert_eq!(written, summary.cloudtrail_bytes);
    let ratio = written as f64 / target as f64;
    assert!(
        (0.9..1.1).contains(&ratio),
        "wrote {written} bytes for {target}"
    );
}

#[test]
fn without_planted_cases_everything_is_clean() {
    let options = GenerateOptions {
        plant_cases: false,
        ..small(9)
    };
    let (_dir, data) = generated(&options);
    assert!(data.findings().is_empty());
    let statuses: BTreeSet<String> = data.sessions().into_values().map(|(_, s)| s).collect();
    assert!(
        statuses.iter().all(|s| s == "attributed" || s == "failed"),
        "{statuses:?}"
    );
}

#[test]
fn refuses_a_non_empty_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let err = generate(dir.path(), &small(1)).unwrap_err();
    assert!(matches!(err, GenerateError::OutputNotEmpty(_)));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}
