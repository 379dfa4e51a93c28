//! The guard rails generated from deploy/broker/sessiontrail.example.toml are the files
//! in deploy/broker/example/ (which deploy/check.sh lints with cfn-lint and checkov).
//! After a deliberate change: `SESSIONTRAIL_BLESS=1 cargo test -p sessiontrail-broker
//! --test guard_rail_files`, then review the diff.

use std::path::{Path, PathBuf};

use sessiontrail_broker::guard_rails::{GuardRailSettings, file_text, guard_rail_files};
use sessiontrail_correlate::Policy;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/broker")
}

#[test]
fn the_example_guard_rails_are_what_the_example_policy_gives() {
    let policy = Policy::load(&deploy().join("sessiontrail.example.toml")).unwrap();
    let settings = GuardRailSettings {
        broker_function_arn: "arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker"
            .into(),
        ..GuardRailSettings::default()
    };
    let files = guard_rail_files(&policy, &settings).unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "member-stackset.json",
            "permission-set-Admin.json",
            "permission-set-Developer.json",
            "permission-set-ReadOnly.json",
        ]
    );
    let dir = deploy().join("example");
    let bless = std::env::var("SESSIONTRAIL_BLESS").is_ok_and(|v| v == "1");
    for (name, value) in files {
        let text = file_text(&value);
        let path = dir.join(&name);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (SESSIONTRAIL_BLESS=1 writes it)", path.display()));
        assert_eq!(committed, text, "{name} differs from what the policy gives");
    }
}
