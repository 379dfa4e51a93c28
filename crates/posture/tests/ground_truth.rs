//! The checker against the generator's posture cases (crates/generate/src/posture.rs):
//! for every case, the findings are exactly the ones its truth.json states.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use sessiontrail_correlate::Policy;
use sessiontrail_posture::{
    CheckStatus, PostureReport, PostureSettings, SnapshotSource, check_posture,
};

type Key = (String, Option<String>, Option<String>, String);

fn truth(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap()
}

fn expected(truth: &Value) -> BTreeSet<Key> {
    truth["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().map(str::to_string);
            (
                s("rule").unwrap(),
                s("account"),
                s("region"),
                s("resource").unwrap(),
            )
        })
        .collect()
}

fn found(report: &PostureReport) -> BTreeSet<Key> {
    report
        .findings
        .iter()
        .map(|f| {
            (
                f.rule.as_str().to_string(),
                f.account.clone(),
                f.region.clone(),
                f.resource.clone(),
            )
        })
        .collect()
}

fn run(out: &Path, case: &str) -> PostureReport {
    let policy = Policy::load(&out.join("sessiontrail.toml")).unwrap();
    let source = SnapshotSource::open(&out.join(case).join("snapshot")).unwrap();
    check_posture(&policy, &source, &PostureSettings::default()).unwrap()
}

#[test]
fn every_case_gives_exactly_its_truth() {
    let out = tempfile::tempdir().unwrap();
    let cases = sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    assert_eq!(cases.len(), 18);
    for case in &cases {
        let truth = truth(&out.path().join(case.name));
        let report = run(out.path(), case.name);
        assert_eq!(
            found(&report),
            expected(&truth),
            "case {}: {:#?}",
            case.name,
            report.findings
        );
        // One finding per planted failure: no duplicates either.
        assert_eq!(
            report.findings.len(),
            expected(&truth).len(),
            "case {}",
            case.name
        );
        for missing in truth["missing"].as_array().unwrap() {
            let missing = missing.as_str().unwrap();
            assert!(
                report.findings.iter().any(|f| f.detail.contains(missing)),
                "case {}: no finding names the missing {missing}: {:#?}",
                case.name,
                report.findings
            );
        }
        let rejects: Vec<&str> = truth["rejects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(
            report.rejects.len(),
            rejects.len(),
            "case {}: {:?}",
            case.name,
            report.rejects
        );
        for file in rejects {
            assert!(
                report.rejects.iter().any(|r| r.reason.starts_with(file)),
                "{:?}",
                report.rejects
            );
        }
        // A check not made is never a pass.
        let not_made = report
            .findings
            .iter()
            .filter(|f| f.rule.as_str() == "posture_check_not_made")
            .count();
        assert_eq!(report.not_made(), not_made, "case {}", case.name);
        if expected(&truth).is_empty() {
            assert!(report.all_passed(), "case {}", case.name);
        } else {
            assert!(!report.all_passed());
        }
    }
}

#[test]
fn the_passing_case_makes_every_check() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let report = run(out.path(), "pass");
    // 2 accounts x 2 regions x (3 documents + the default preferences), the attributes,
    // 2 starter roles, the URL, the broker's role, 3 permission sets.
    assert_eq!(
        report.checks.len(),
        16 + 1 + 2 + 1 + 1 + 3,
        "{:#?}",
        report.checks
    );
    assert!(
        report
            .checks
            .iter()
            .all(|c| c.status == CheckStatus::Passed)
    );
    let default = report
        .checks
        .iter()
        .find(|c| c.check == "default_preferences")
        .unwrap();
    assert!(
        default
            .note
            .contains(sessiontrail_generate::posture::DEFAULT_RUN_AS),
        "{default:?}"
    );
}

#[test]
fn a_named_account_without_a_snapshot_is_not_made_not_passed() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = Policy::load(&out.path().join("sessiontrail.toml")).unwrap();
    let source = SnapshotSource::open(&out.path().join("pass/snapshot")).unwrap();
    let settings = PostureSettings {
        accounts: Some(vec!["999999999999".into()]),
        ..PostureSettings::default()
    };
    let report = check_posture(&policy, &source, &settings).unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule.as_str() == "posture_check_not_made"
                && f.account.as_deref() == Some("999999999999")
                && f.detail.contains("no region in scope"))
    );
    let settings = PostureSettings {
        accounts: Some(vec!["999999999999".into()]),
        regions: Some(vec!["eu-west-1".into()]),
        ..PostureSettings::default()
    };
    let report = check_posture(&policy, &source, &settings).unwrap();
    let documents: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.check == "session_document")
        .collect();
    assert_eq!(documents.len(), 3);
    assert!(documents.iter().all(|c| c.status == CheckStatus::NotMade));
    assert!(report.findings.iter().any(|f| f.detail.contains(
        "accounts/999999999999/eu-west-1/ssm-get-document-SSMRunAs-Admin-Session.json is missing"
    )));
}

#[test]
fn stricter_bounds_fail_the_passing_documents() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = Policy::load(&out.path().join("sessiontrail.toml")).unwrap();
    let source = SnapshotSource::open(&out.path().join("pass/snapshot")).unwrap();
    let settings = PostureSettings {
        max_session_minutes: 30,
        ..PostureSettings::default()
    };
    let report = check_posture(&policy, &source, &settings).unwrap();
    // The generated documents say maxSessionDuration 60.
    let bounds: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule.as_str() == "posture_session_bounds")
        .collect();
    assert_eq!(bounds.len(), 12, "{bounds:#?}");
    assert!(bounds[0].detail.contains("maxSessionDuration 60 over 30"));
}

#[test]
fn every_rule_is_planted_by_some_case() {
    let out = tempfile::tempdir().unwrap();
    let cases = sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let planted: BTreeSet<String> = cases
        .iter()
        .flat_map(|c| expected(&truth(&out.path().join(c.name))))
        .map(|(rule, ..)| rule)
        .collect();
    let all: BTreeSet<String> = sessiontrail_posture::PostureRule::ALL
        .iter()
        .map(|r| r.as_str().to_string())
        .collect();
    assert_eq!(planted, all);
}
