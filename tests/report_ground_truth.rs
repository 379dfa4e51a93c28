//! The monthly report of a generated month, cross-checked against the generator's
//! ground truth: every status count, the attribution rate and the findings by severity
//! are recomputed here from truth.json (not from the dataset) and compared with
//! report.json.

mod common;

use std::collections::BTreeMap;

use common::{path_str, run_ok};

const SEVERITY: [(&str, &str); 11] = [
    ("unattributed_session", "critical"),
    ("document_mismatch", "high"),
    ("unknown_permission_set", "high"),
    ("run_as_mismatch", "high"),
    ("field_mismatch", "high"),
    ("duplicate_broker_claim", "high"),
    ("orphan_broker_record", "high"),
    ("secret_in_broker_log", "high"),
    ("direct_session", "medium"),
    ("foreign_session_control", "medium"),
    ("clock_skew", "low"),
];

#[test]
fn report_figures_equal_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let out = dir.path().join("out");
    let report = dir.path().join("report");
    run_ok(&[
        "generate",
        "--out",
        path_str(&input),
        "--seed",
        "17",
        "--days",
        "3",
        "--sessions-per-day",
        "15",
        "--noise-per-session",
        "4",
        "--start-date",
        "2026-02-10",
    ]);
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
        path_str(&out),
        "--as-of",
        truth["as_of"].as_str().unwrap(),
        "--quiet",
    ]);
    run_ok(&[
        "report",
        "--data",
        path_str(&out),
        "--month",
        "2026-02",
        "--out",
        path_str(&report),
        "--min-attribution-rate",
        "0.9",
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let summary = &json["summary"];

    let mut statuses: BTreeMap<&str, i64> = BTreeMap::new();
    for session in truth["sessions"].as_array().unwrap() {
        *statuses
            .entry(session["status"].as_str().unwrap())
            .or_default() += 1;
    }
    let count = |s: &str| statuses.get(s).copied().unwrap_or(0);
    for status in [
        "attributed",
        "unattributed",
        "orphan",
        "pending",
        "direct",
        "failed",
    ] {
        assert_eq!(summary[status].as_i64(), Some(count(status)), "{status}");
    }
    let total: i64 = statuses.values().sum();
    assert_eq!(summary["sessions"].as_i64(), Some(total));
    let broker = count("attributed") + count("unattributed") + count("orphan");
    assert_eq!(summary["broker_sessions"].as_i64(), Some(broker));
    let rate = count("attributed") as f64 / broker as f64;
    assert!((summary["attribution_rate"].as_f64().unwrap() - rate).abs() < 1e-9);
    assert_eq!(
        summary["verdict"],
        if rate >= 0.9 { "pass" } else { "fail" }
    );

    let severity: BTreeMap<&str, &str> = SEVERITY.into_iter().collect();
    let findings = truth["findings"].as_array().unwrap();
    let of = |level: &str| {
        findings
            .iter()
            .filter(|f| severity[f["rule"].as_str().unwrap()] == level)
            .count() as i64
    };
    assert_eq!(summary["findings"].as_i64(), Some(findings.len() as i64));
    assert_eq!(summary["critical_findings"].as_i64(), Some(of("critical")));
    assert_eq!(summary["high_findings"].as_i64(), Some(of("high")));
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(report.join("report.md").metadata().unwrap().len() > 0);
}
