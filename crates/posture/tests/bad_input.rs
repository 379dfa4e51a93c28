//! Bad snapshot files: every file of the passing snapshot replaced, in turn, by what no
//! AWS CLI command prints. Never a panic, never a pass: the check reading it is not made
//! (or fails), and a present-but-malformed file is a reject naming it.

use std::path::{Path, PathBuf};

use sessiontrail_correlate::Policy;
use sessiontrail_posture::{PostureSettings, SnapshotSource, check_posture};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

const GARBAGE: [&str; 7] = [
    "",
    "not json",
    "[]",
    "null",
    "{}",
    "{\"Content\": 5, \"InlinePolicy\": 5, \"Tags\": 5, \"AuthType\": 5, \"Role\": 5, \"AttachedManagedPolicies\": 5, \"PolicyVersion\": 5, \"CustomerManagedPolicyReferences\": 5, \"InstanceAccessControlAttributeConfiguration\": 5}",
    "{\"Content\": \"{\\\"inputs\\\": []}\", \"InlinePolicy\": \"{\\\"Statement\\\": 3}\", \"Tags\": [1], \"AuthType\": null, \"Role\": [], \"AttachedManagedPolicies\": [{}], \"PolicyVersion\": {\"Document\": \"%zz\"}, \"CustomerManagedPolicyReferences\": {}, \"InstanceAccessControlAttributeConfiguration\": {\"AccessControlAttributes\": {}}}",
];

#[test]
fn every_file_garbled_is_never_a_pass_and_never_a_panic() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = Policy::load(&out.path().join("sessiontrail.toml")).unwrap();
    let snapshot = out.path().join("pass/snapshot");
    let mut all = Vec::new();
    files(&snapshot, &mut all);
    assert!(all.len() > 20);
    for file in &all {
        let original = std::fs::read(file).unwrap();
        let relative = file.strip_prefix(&snapshot).unwrap().display().to_string();
        for garbage in GARBAGE {
            std::fs::write(file, garbage).unwrap();
            let source = SnapshotSource::open(&snapshot).unwrap();
            let report = check_posture(&policy, &source, &PostureSettings::default()).unwrap();
            assert!(!report.all_passed(), "{relative} as {garbage:?} passed");
            let named = report
                .rejects
                .iter()
                .any(|r| r.reason.starts_with(&relative))
                || report.findings.iter().any(|f| f.detail.contains(&relative));
            assert!(
                named || report.failed() > 0,
                "{relative} as {garbage:?}: nothing names it: {:#?} {:#?}",
                report.findings,
                report.rejects
            );
        }
        // Deleted: the command's output is missing, and the finding says which.
        std::fs::remove_file(file).unwrap();
        let source = SnapshotSource::open(&snapshot).unwrap();
        let report = check_posture(&policy, &source, &PostureSettings::default()).unwrap();
        assert!(report.not_made() > 0, "{relative} deleted");
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule.as_str() == "posture_check_not_made"
                    && f.detail.contains(&format!("{relative} is missing"))
                    && f.detail.contains("aws ")),
            "{relative} deleted: {:#?}",
            report.findings
        );
        std::fs::write(file, original).unwrap();
    }
    let source = SnapshotSource::open(&snapshot).unwrap();
    assert!(
        check_posture(&policy, &source, &PostureSettings::default())
            .unwrap()
            .all_passed()
    );
}

#[test]
fn an_error_file_without_an_aws_error_code_is_not_made() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = Policy::load(&out.path().join("sessiontrail.toml")).unwrap();
    let snapshot = out.path().join("pass/snapshot");
    let file = snapshot.join("broker/lambda-get-function-url-config.json");
    std::fs::remove_file(&file).unwrap();
    std::fs::write(
        file.with_extension("error"),
        "Could not connect to the endpoint URL\n",
    )
    .unwrap();
    let report = check_posture(
        &policy,
        &SnapshotSource::open(&snapshot).unwrap(),
        &PostureSettings::default(),
    )
    .unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .detail
            .contains("lambda-get-function-url-config.error")
    );
    // An AccessDenied answer is no answer either.
    std::fs::write(
        file.with_extension("error"),
        "\nAn error occurred (AccessDeniedException) when calling the GetFunctionUrlConfig operation: no\n",
    )
    .unwrap();
    let report = check_posture(
        &policy,
        &SnapshotSource::open(&snapshot).unwrap(),
        &PostureSettings::default(),
    )
    .unwrap();
    assert_eq!(report.not_made(), 1);
    assert!(report.findings[0].detail.contains("AccessDeniedException"));
}
