//! Replays the policy fuzz target's regressions (`fuzz/regressions/policy/`) and, when
//! seeded, its corpus (`fuzz/corpus/policy/`), plus every policy file of the fixtures,
//! through the checks the fuzz target runs.

use std::path::PathBuf;

use sessiontrail_correlate::policy::check_parse_invariants;
use sessiontrail_ingest::input_files::files_under;

#[test]
fn policy_corpus_regressions_and_fixtures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut inputs: Vec<PathBuf> = ["regressions", "corpus"]
        .iter()
        .flat_map(|kind| files_under(&root.join("fuzz").join(kind).join("policy")))
        .collect();
    let fixtures: Vec<PathBuf> = files_under(&root.join("fixtures"))
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "toml"))
        .collect();
    assert!(fixtures.len() >= 2, "the fixtures' policy files");
    inputs.extend(fixtures);
    for file in &inputs {
        let bytes = std::fs::read(file).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let outcome = std::panic::catch_unwind(|| check_parse_invariants(text));
            assert!(outcome.is_ok(), "{} breaks a promise", file.display());
        }
    }
}
