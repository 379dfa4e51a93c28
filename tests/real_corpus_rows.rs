//! Every SSM session event in the real CloudTrail samples (`../shared/corpus/real`)
//! becomes a row: each StartSession is the `cloudtrail_event_id` of exactly one session
//! row, whatever its form (log file, JSON array, lookup-events output, EventBridge
//! envelope, JSON lines, a record whose `responseElements` was nulled).
//!
//! The expected event ids are found by walking the samples' JSON here, independently of
//! the readers: any object with `eventSource`, `eventName` and `eventID`, at any depth,
//! and inside `CloudTrailEvent` strings. Skips, saying so, where the folder is absent.
//! Each row's in-band identity is what its record says (docs/contracts.md "In-band
//! identity"): `sessionContext.sourceIdentity`, else `onBehalfOf.userId` with its
//! `identityStoreArn`; the IAM Identity Center sessions of the lookup-events sample
//! carry `onBehalfOf`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::{path_str, read_table, run};

fn corpus() -> Option<PathBuf> {
    sessiontrail_test_support::real_corpus("every_ssm_session_event_becomes_a_row")
}

fn collect(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Object(map) => {
            if map.contains_key("eventSource")
                && map.contains_key("eventName")
                && map.contains_key("eventID")
            {
                out.push(value.clone());
                return;
            }
            if let Some(serde_json::Value::String(text)) = map.get("CloudTrailEvent")
                && let Ok(inner) = serde_json::from_str::<serde_json::Value>(text)
            {
                collect(&inner, out);
            }
            map.values().for_each(|v| collect(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

fn records_in(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => collect(&value, &mut out),
        Err(_) => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
                    collect(&value, &mut out);
                }
            }
        }
    }
    out
}

fn sample_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "log" | "jsonl")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_real_ssm_session_event_becomes_a_row() {
    let Some(dir) = corpus() else { return };
    let mut starts: BTreeSet<String> = BTreeSet::new();
    // eventID -> (in_band_identity, in_band_source, in_band_identity_store), "" for none.
    let mut in_band: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut terminated: BTreeMap<String, String> = BTreeMap::new();
    for file in sample_files(&dir) {
        for record in records_in(&file) {
            if record["eventSource"] != "ssm.amazonaws.com" {
                continue;
            }
            let id = record["eventID"].as_str().unwrap().to_string();
            match record["eventName"].as_str() {
                Some("StartSession") => {
                    let identity = &record["userIdentity"];
                    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
                    let source_identity = text(&identity["sessionContext"]["sourceIdentity"]);
                    let user_id = text(&identity["onBehalfOf"]["userId"]);
                    let expected = if !source_identity.is_empty() {
                        (source_identity, "source_identity".into(), String::new())
                    } else if !user_id.is_empty() {
                        (
                            user_id,
                            "on_behalf_of".into(),
                            text(&identity["onBehalfOf"]["identityStoreArn"]),
                        )
                    } else {
                        Default::default()
                    };
                    in_band.insert(id.clone(), expected);
                    starts.insert(id);
                }
                Some("TerminateSession") if record.get("errorCode").is_none() => {
                    if let Some(session) = record["requestParameters"]["sessionId"].as_str() {
                        terminated.insert(session.to_string(), id);
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        starts.len() >= 20,
        "the samples hold StartSessions: {starts:?}"
    );

    let work = tempfile::tempdir().unwrap();
    let policy = work.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[broker]\nrole_arns = [\"arn:aws:iam::111122223333:role/ssm-session-broker\"]\n",
    )
    .unwrap();
    let out = work.path().join("out");
    let broker = work.path().join("broker");
    std::fs::create_dir(&broker).unwrap();
    let output = run(&[
        "correlate",
        "--policy",
        path_str(&policy),
        "--cloudtrail",
        path_str(&dir),
        "--broker-log",
        path_str(&broker),
        "--out",
        path_str(&out),
        "--as-of",
        "2027-01-01T00:00:00Z",
        "--quiet",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sessions = read_table(&out, "sessions");
    let mut rows_of: BTreeMap<String, usize> = BTreeMap::new();
    for row in &sessions {
        *rows_of
            .entry(row["cloudtrail_event_id"].clone())
            .or_default() += 1;
    }
    for id in &starts {
        assert_eq!(
            rows_of.get(id),
            Some(&1),
            "StartSession {id} is the event of exactly one row"
        );
    }
    let mut on_behalf_of = 0;
    for row in &sessions {
        let Some(expected) = in_band.get(&row["cloudtrail_event_id"]) else {
            continue;
        };
        let have = (
            row["in_band_identity"].clone(),
            row["in_band_source"].clone(),
            row["in_band_identity_store"].clone(),
        );
        assert_eq!(&have, expected, "{}", row["cloudtrail_event_id"]);
        on_behalf_of += usize::from(have.1 == "on_behalf_of");
    }
    // The lookup-events sample: 20 StartSessions, each with onBehalfOf (SOURCES.md).
    assert!(
        on_behalf_of >= 20,
        "rows with an onBehalfOf identity: {on_behalf_of}"
    );
    for (session, _) in terminated {
        if let Some(row) = sessions.iter().find(|r| r["session_id"] == session) {
            assert!(!row["end_time"].is_empty(), "{session} has its end");
        }
    }
    assert!(
        read_table(&out, "rejects").is_empty(),
        "no real sample is rejected"
    );
}
