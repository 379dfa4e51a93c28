//! The posture cases (src/posture.rs) describe the organisation the example policy and
//! its generated guard rails deploy: the same policy, the same inline policies.

use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn the_policy_is_the_example_policy() {
    let example: toml::Value = toml::from_str(
        &std::fs::read_to_string(root().join("deploy/broker/sessiontrail.example.toml")).unwrap(),
    )
    .unwrap();
    let ours: toml::Value = toml::from_str(sessiontrail_generate::posture::POLICY).unwrap();
    assert_eq!(ours, example);
}

#[test]
fn the_passing_inline_policies_are_the_generated_guard_rails() {
    let out = tempfile::tempdir().unwrap();
    let cases = sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let pass = cases.iter().find(|c| c.name == "pass").unwrap();
    assert!(pass.findings.is_empty());
    for (ps, _, _) in sessiontrail_generate::posture::PERMISSION_SETS {
        let saved: Value = serde_json::from_str(
            &std::fs::read_to_string(pass.snapshot.join(format!(
                "permission-sets/{ps}/sso-admin-get-inline-policy-for-permission-set.json"
            )))
            .unwrap(),
        )
        .unwrap();
        let inline: Value = serde_json::from_str(saved["InlinePolicy"].as_str().unwrap()).unwrap();
        let guard_rail: Value = serde_json::from_str(
            &std::fs::read_to_string(
                root().join(format!("deploy/broker/example/permission-set-{ps}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(inline, guard_rail, "{ps}");
    }
}

#[test]
fn every_case_has_a_truth_file_and_the_same_seedless_bytes_twice() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let cases = sessiontrail_generate::posture::write_posture_cases(a.path()).unwrap();
    sessiontrail_generate::posture::write_posture_cases(b.path()).unwrap();
    for case in &cases {
        let truth = |root: &Path| std::fs::read(root.join(case.name).join("truth.json")).unwrap();
        assert_eq!(truth(a.path()), truth(b.path()));
        let parsed: Value = serde_json::from_slice(&truth(a.path())).unwrap();
        assert_eq!(parsed["case"], case.name);
        assert_eq!(
            parsed["findings"].as_array().unwrap().len(),
            case.findings.len()
        );
        for missing in &case.missing {
            assert!(!case.snapshot.join(missing).exists());
        }
    }
}
