//! `tests/data/signed-trail/` (a trail bucket's copy: two hours of log files, their
//! signed digests and sidecars) and `tests/data/signed-trail-keys.json` (its key), which
//! the `sessiontrail verify` CLI tests use. Written by the ignored test below
//! (`cargo test -p sessiontrail-evidence --test signed_fixture -- --ignored`), with a key
//! generated then and not kept.

mod signed_set;

use std::path::{Path, PathBuf};

use sessiontrail_evidence::{LogFileStatus, PublicKeys, VerifyOptions, verify_folder};
use signed_set::*;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

#[test]
fn the_committed_signed_trail_verifies_completely() {
    let keys_file = data().join("signed-trail-keys.json");
    let mut keys =
        PublicKeys::from_list_public_keys_json(&std::fs::read(&keys_file).unwrap(), "keys")
            .unwrap();
    let v = verify_folder(
        &data().join("signed-trail"),
        &VerifyOptions::default(),
        &mut keys,
    )
    .unwrap();
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.digests.len(), 2);
    assert_eq!(v.count(LogFileStatus::Verified), 4);
}

#[test]
#[ignore = "writes the committed fixture"]
fn write_the_signed_trail_fixture() {
    let root = data().join("signed-trail");
    let _ = std::fs::remove_dir_all(&root);
    let mut trail = Trail::new(&root, Signer::new(false));
    trail.hourly(2);
    std::fs::write(
        data().join("signed-trail-keys.json"),
        trail.signer.key_file(),
    )
    .unwrap();
}
