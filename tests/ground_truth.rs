//! End to end over a generated set: every session's status and every finding equal the
//! generator's ground truth (computed by the generator from what it planted, not by
//! correlating), nothing missed and nothing extra.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{path_str, read_table, run_ok, session_key};

fn generate(dir: &Path, seed: u64) {
    run_ok(&[
        "generate",
        "--out",
        path_str(dir),
        "--seed",
        &seed.to_string(),
        "--days",
        "2",
        "--sessions-per-day",
        "12",
        "--noise-per-session",
        "8",
    ]);
}

fn truth_sessions(truth: &serde_json::Value) -> BTreeSet<(String, String)> {
    truth["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (rule, key) of each finding; the key a finding is raised on is recovered from the
/// row: the controlling event for foreign_session_control, else the session's key.
fn finding_keys(out: &Path) -> BTreeSet<(String, String)> {
    read_table(out, "findings")
        .iter()
        .map(|row| {
            let evidence: serde_json::Value = serde_json::from_str(&row["evidence"]).unwrap();
            let key = match row["rule"].as_str() {
                "foreign_session_control" => evidence["event_id"].as_str().unwrap().to_string(),
                _ if !row["session_id"].is_empty() => row["session_id"].clone(),
                _ if evidence["session_id"].is_string() => {
                    evidence["session_id"].as_str().unwrap().to_string()
                }
                _ => match evidence["request_ids"].as_array() {
                    Some(ids) => format!("broker:{}", ids[0].as_str().unwrap()),
                    None => format!("broker:{}", evidence["request_id"].as_str().unwrap_or("")),
                },
            };
            (row["rule"].clone(), key)
        })
        .collect()
}

fn truth_findings(truth: &serde_json::Value) -> BTreeSet<(String, String)> {
    truth["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn assert_same(what: &str, got: &BTreeSet<(String, String)>, want: &BTreeSet<(String, String)>) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:#?}\nextra {extra:#?}"
    );
}

/// Correlates a generated folder at its truth's as_of and compares with the truth.
fn check_against_truth(input: &Path, out: &Path) {
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input.join("truth.json")).unwrap()).unwrap();
    run_ok(&[
        "correlate",
        "--policy",
        path_str(&input.join("sessiontrail.toml")),
        "--cloudtrail",
        path_str(&input.join("cloudtrail")),
        "--broker-log",
        path_str(&input.join("broker")),
        "--out",
        path_str(out),
        "--as-of",
        truth["as_of"].as_str().unwrap(),
    ]);
    let sessions = read_table(out, "sessions");
    let got: BTreeSet<(String, String)> = sessions
        .iter()
        .map(|row| (session_key(row), row["status"].clone()))
        .collect();
    assert_eq!(got.len(), sessions.len(), "one row per session");
    let want = truth_sessions(&truth);
    assert_same("sessions", &got, &want);
    let statuses: BTreeSet<&str> = want.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(
        statuses.len(),
        7,
        "the set plants every status: {statuses:?}"
    );

    let got = finding_keys(out);
    assert_eq!(
        got.len(),
        read_table(out, "findings").len(),
        "one row per finding"
    );
    let want = truth_findings(&truth);
    assert_same("findings", &got, &want);
    let rules: BTreeSet<&str> = want.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(rules.len(), 11, "the set plants every rule: {rules:?}");
    assert!(
        !out.join("rejects").exists(),
        "generated input has no rejects"
    );
}

#[test]
fn generated_sets_match_their_ground_truth() {
    for seed in [3, 11] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        generate(&input, seed);
        check_against_truth(&input, &dir.path().join("out"));
    }
}

#[test]
fn the_shipped_fixture_set_matches_its_ground_truth() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/generated");
    let dir = tempfile::tempdir().unwrap();
    check_against_truth(&input, &dir.path().join("out"));
}
