//! `verify_folder` over a signed set built in the test: an untouched set verifies
//! completely, and each kind of tampering produces its rule.

mod signed_set;

use std::path::Path;

use sessiontrail_evidence::{
    LogFileStatus, PublicKeys, Rule, Verification, VerifyOptions, verify_folder,
};
use signed_set::*;

fn keys_of(signer: &Signer) -> PublicKeys {
    PublicKeys::from_list_public_keys_json(signer.key_file().as_bytes(), "keys.json").unwrap()
}

fn verify(dir: &Path, keys: &PublicKeys) -> Verification {
    verify_folder(dir, &VerifyOptions::default(), &mut keys.clone()).unwrap()
}

/// (rule id, file name) of each problem.
fn problems(v: &Verification) -> Vec<(&'static str, String)> {
    v.problems
        .iter()
        .map(|p| {
            (
                p.rule.as_str(),
                p.file.rsplit('/').next().unwrap().to_string(),
            )
        })
        .collect()
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn three_hours(spki: bool) -> (tempfile::TempDir, Trail, PublicKeys) {
    let dir = tempfile::tempdir().unwrap();
    let mut trail = Trail::new(dir.path(), Signer::new(spki));
    trail.hourly(3);
    let keys = keys_of(&trail.signer);
    (dir, trail, keys)
}

#[test]
fn an_untouched_signed_set_verifies_completely() {
    for spki in [false, true] {
        let (dir, trail, keys) = three_hours(spki);
        let v = verify(dir.path(), &keys);
        assert!(v.passed(), "{:#?}", v.problems);
        assert_eq!(v.digests.len(), 3);
        assert!(
            v.digests
                .iter()
                .all(|d| d.signature_verified && d.chain_verified)
        );
        assert_eq!(v.log_files.len(), 6);
        assert_eq!(v.count(LogFileStatus::Verified), 6);
        // The expected hashes are the independent sha2 crate's.
        let first = &trail.digests[0];
        let row = v
            .log_files
            .iter()
            .find(|r| r.file.ends_with("h1a.json.gz"))
            .unwrap();
        let (_, _, expected) = trail.write_log(5, "h1a");
        assert_eq!(row.expected_sha256.unwrap().to_hex(), expected);
        assert_eq!(row.actual_sha256.unwrap().to_hex(), expected);
        assert_eq!(
            row.digest.as_deref(),
            Some(first.path.display().to_string().as_str())
        );
    }
}

#[test]
fn the_folder_can_be_the_bucket_copy_awslogs_or_deeper() {
    let (dir, _trail, keys) = three_hours(false);
    for sub in [
        "",
        "AWSLogs",
        "AWSLogs/111122223333",
        "AWSLogs/111122223333/CloudTrail-Digest",
    ] {
        let v = verify(&dir.path().join(sub), &keys);
        let expected_logs = if sub.ends_with("CloudTrail-Digest") {
            0
        } else {
            6
        };
        assert_eq!(v.count(LogFileStatus::Verified), expected_logs, "{sub}");
        if expected_logs == 6 {
            assert!(v.passed(), "{sub}: {:#?}", v.problems);
        } else {
            // The log files are outside the folder given: missing.
            assert_eq!(v.problem_count(Rule::LogFileMissing), 6, "{sub}");
        }
    }
}

#[test]
fn a_changed_byte_in_a_log_file_is_tampered() {
    let (dir, trail, keys) = three_hours(false);
    let log = &trail.digests[1].logs[0];
    let content = flate2_decode(&std::fs::read(log).unwrap());
    let mut changed = content.clone();
    let at = changed.iter().position(|&b| b == b'S').unwrap();
    changed[at] = b's';
    std::fs::write(log, gzip(&changed)).unwrap();
    let v = verify(dir.path(), &keys);
    assert_eq!(problems(&v), [("log_file_tampered", name(log))]);
    let row = v
        .log_files
        .iter()
        .find(|r| r.file == log.display().to_string())
        .unwrap();
    assert_eq!(row.status, LogFileStatus::Tampered);
    assert_eq!(row.actual_sha256.unwrap().to_hex(), sha256_hex(&changed));
    assert_eq!(v.count(LogFileStatus::Verified), 5);
}

#[test]
fn a_deleted_log_file_is_missing() {
    let (dir, trail, keys) = three_hours(false);
    let log = &trail.digests[2].logs[1];
    std::fs::remove_file(log).unwrap();
    let v = verify(dir.path(), &keys);
    assert_eq!(problems(&v), [("log_file_missing", name(log))]);
    assert!(v.problems[0].file.starts_with("s3://trail-bucket/AWSLogs/"));
    assert_eq!(v.count(LogFileStatus::Missing), 1);
}

#[test]
fn a_digest_removed_from_the_chain_breaks_it_and_leaves_its_logs_uncovered() {
    let (dir, trail, keys) = three_hours(false);
    let removed = &trail.digests[1];
    std::fs::remove_file(&removed.path).unwrap();
    let v = verify(dir.path(), &keys);
    let found = problems(&v);
    let next = name(&trail.digests[2].path);
    // The missing previous and the gap it leaves, both on the digest after it.
    assert_eq!(
        found
            .iter()
            .filter(|p| p == &&("digest_chain_broken", next.clone()))
            .count(),
        2,
        "{found:?}"
    );
    assert_eq!(v.problem_count(Rule::LogFileNotCovered), 2, "{found:?}");
    assert_eq!(v.problems.len(), 4, "{found:?}");
    // The removed digest's sidecar alone does not stand in for it.
    assert_eq!(v.count(LogFileStatus::Verified), 4);
}

#[test]
fn a_forged_signature_is_invalid_and_its_log_files_unsigned() {
    let (dir, trail, keys) = three_hours(false);
    let newest = &trail.digests[2];
    let mut forged = newest.signature.clone().into_bytes();
    forged[10] = if forged[10] == b'0' { b'1' } else { b'0' };
    write_sidecar(&newest.path, std::str::from_utf8(&forged).unwrap(), None);
    let v = verify(dir.path(), &keys);
    assert_eq!(
        problems(&v),
        [("digest_signature_invalid", name(&newest.path))]
    );
    assert!(
        v.problems[0].detail.contains("does not verify"),
        "{}",
        v.problems[0].detail
    );
    assert_eq!(v.count(LogFileStatus::Unsigned), 2);
    assert_eq!(v.count(LogFileStatus::Verified), 4);

    // A forged sidecar on an older digest: its signature fails, and the next digest's
    // previousDigestSignature no longer matches it.
    let (dir, trail, keys) = three_hours(false);
    let middle = &trail.digests[1];
    write_sidecar(&middle.path, &trail.digests[0].signature, None);
    let v = verify(dir.path(), &keys);
    assert_eq!(
        problems(&v),
        [
            ("digest_signature_invalid", name(&middle.path)),
            ("digest_chain_broken", name(&trail.digests[2].path))
        ]
    );
}

#[test]
fn a_wrong_key_verifies_nothing() {
    let (dir, _trail, _keys) = three_hours(false);
    let other = keys_of(&Signer::new(false));
    let v = verify(dir.path(), &other);
    assert_eq!(v.problem_count(Rule::DigestSignatureInvalid), 3);
    assert!(
        v.problems[0]
            .detail
            .contains("no public key with fingerprint"),
        "{}",
        v.problems[0].detail
    );
    assert_eq!(v.count(LogFileStatus::Unsigned), 6);
    assert_eq!(v.count(LogFileStatus::Verified), 0);

    // Signed by another key than the one its fingerprint names.
    let dir = tempfile::tempdir().unwrap();
    let impostor = Signer::new(false);
    let real = Signer::new(false);
    let mut trail = Trail::new(dir.path(), impostor);
    trail.hourly(1);
    let digest = std::fs::read(&trail.digests[0].path).unwrap();
    let text = String::from_utf8(flate2_decode(&digest)).unwrap();
    let renamed = text.replace(&trail.signer.fingerprint(), &real.fingerprint());
    std::fs::write(&trail.digests[0].path, gzip(renamed.as_bytes())).unwrap();
    let v = verify(dir.path(), &keys_of(&real));
    assert_eq!(
        problems(&v),
        [("digest_signature_invalid", name(&trail.digests[0].path))]
    );
    assert!(v.problems[0].detail.contains("does not verify"));
}

#[test]
fn a_backfill_digest_covers_the_files_it_lists() {
    let (dir, mut trail, keys) = three_hours(false);
    let late = trail.write_log(100, "late");
    trail.write_digest(2, std::slice::from_ref(&late), true, true);
    let v = verify(dir.path(), &keys);
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.count(LogFileStatus::Verified), 7);
    assert!(v.digests.iter().any(|d| d.backfill && d.signature_verified));
    // Without it, the late file is not covered.
    std::fs::remove_file(&trail.digests[3].path).unwrap();
    let v = verify(dir.path(), &keys);
    assert_eq!(problems(&v), [("log_file_not_covered", name(&late.1))]);
}

#[test]
fn a_gap_between_linked_digests_is_a_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut trail = Trail::new(dir.path(), Signer::new(false));
    let a = trail.write_log(5, "a");
    trail.write_digest(1, &[a], true, false);
    // The next digest covers 02:00-03:00: nothing covers 01:00-02:00.
    let b = trail.write_log(125, "b");
    trail.write_digest(3, &[b], false, false);
    let v = verify(dir.path(), &trail.signer.key_file_keys());
    assert_eq!(
        problems(&v),
        [("digest_chain_broken", name(&trail.digests[1].path))]
    );
    assert!(
        v.problems[0].detail.contains("a gap"),
        "{}",
        v.problems[0].detail
    );
}

#[test]
fn only_the_newest_digest_needs_its_sidecar() {
    let (dir, trail, keys) = three_hours(false);
    for digest in &trail.digests[..2] {
        let mut sidecar = digest.path.clone().into_os_string();
        sidecar.push(".metadata.json");
        std::fs::remove_file(sidecar).unwrap();
    }
    let v = verify(dir.path(), &keys);
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.count(LogFileStatus::Verified), 6);

    // Without the newest's, it has no signature at all.
    let mut sidecar = trail.digests[2].path.clone().into_os_string();
    sidecar.push(".metadata.json");
    std::fs::remove_file(sidecar).unwrap();
    let v = verify(dir.path(), &keys);
    assert_eq!(
        problems(&v),
        [("digest_signature_invalid", name(&trail.digests[2].path))]
    );
    assert!(v.problems[0].detail.contains("no signature"));
    assert!(
        v.problems[0]
            .detail
            .contains("aws s3api head-object --bucket trail-bucket --key AWSLogs/")
    );
}

#[test]
fn a_digest_found_elsewhere_than_it_names_is_invalid() {
    let (dir, trail, keys) = three_hours(false);
    let newest = &trail.digests[2];
    let moved = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/02/02");
    std::fs::create_dir_all(&moved).unwrap();
    std::fs::rename(&newest.path, moved.join(name(&newest.path))).unwrap();
    let v = verify(dir.path(), &keys);
    let found = problems(&v);
    assert!(
        found.contains(&("digest_signature_invalid", name(&newest.path))),
        "{found:?}"
    );
    let detail = &v
        .problems
        .iter()
        .find(|p| p.rule == Rule::DigestSignatureInvalid)
        .unwrap()
        .detail;
    assert!(detail.contains("names itself s3://trail-bucket/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/"), "{detail}");
    // Its log files are no longer covered by a valid digest.
    assert_eq!(v.problem_count(Rule::LogFileNotCovered), 2, "{found:?}");
}

#[test]
fn a_malformed_digest_is_a_clear_problem_not_a_panic() {
    let (dir, trail, keys) = three_hours(false);
    let newest = &trail.digests[2];
    // A previousDigestHashValue of 63 hex digits, as in a public test corpus
    // (elastic/integrations, aws cloudtrail test-cloudtrail-digest-json.log).
    let text = String::from_utf8(flate2_decode(&std::fs::read(&newest.path).unwrap())).unwrap();
    let hash = &trail.digests[1].content_hash;
    let short = text.replace(hash.as_str(), &hash[..63]);
    std::fs::write(&newest.path, gzip(short.as_bytes())).unwrap();
    let v = verify(dir.path(), &keys);
    assert_eq!(
        problems(&v)[0],
        ("digest_signature_invalid", name(&newest.path))
    );
    let detail = &v.problems[0].detail;
    assert!(detail.contains("field previousDigestHashValue"), "{detail}");
    assert!(detail.contains("63 hex digits"), "{detail}");

    for garbage in [
        &b"not json"[..],
        b"",
        b"{}",
        b"[1,2]",
        &[0x1f, 0x8b, 0, 1, 2],
    ] {
        std::fs::write(&newest.path, garbage).unwrap();
        let v = verify(dir.path(), &keys);
        assert_eq!(
            v.problems[0].rule,
            Rule::DigestSignatureInvalid,
            "{garbage:?}"
        );
        assert!(
            v.problems[0].detail.starts_with("not a valid digest"),
            "{}",
            v.problems[0].detail
        );
    }
}

#[test]
fn an_organisation_trail_laid_out_without_awslogs_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut trail = Trail::new(dir.path(), Signer::new(true));
    trail.prefix = format!("AWSLogs/o-aa111bb222/{ACCOUNT}");
    trail.hourly(2);
    let keys = trail.signer.key_file_keys();
    assert!(verify(dir.path(), &keys).passed());
    // A copy of the o-id folder alone (no AWSLogs above it).
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&dir.path().join("AWSLogs"), copy.path());
    let v = verify(copy.path(), &keys);
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.count(LogFileStatus::Verified), 4);
}

#[test]
fn the_window_limits_what_is_checked() {
    let (dir, trail, keys) = three_hours(false);
    std::fs::remove_file(&trail.digests[0].logs[0]).unwrap();
    let options = VerifyOptions {
        from: Some(chrono::DateTime::from_timestamp(DAY_START + 2 * 3600, 0).unwrap()),
        ..Default::default()
    };
    // From 02:00: the first hour's digest (ending 01:00) is outside, its missing log too.
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.digests.len(), 2);
    assert_eq!(v.count(LogFileStatus::Verified), 4);
}

#[test]
fn a_folder_without_digests_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify_folder(
        dir.path(),
        &VerifyOptions::default(),
        &mut PublicKeys::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no CloudTrail digest files"),
        "{err}"
    );
    let err = verify_folder(
        &dir.path().join("nope"),
        &VerifyOptions::default(),
        &mut PublicKeys::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

fn flate2_decode(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

trait KeyFileKeys {
    fn key_file_keys(&self) -> PublicKeys;
}

impl KeyFileKeys for Signer {
    fn key_file_keys(&self) -> PublicKeys {
        keys_of(self)
    }
}

#[test]
fn hashes_known_from_the_reading_pass_are_used_without_reading_again() {
    let (dir, trail, keys) = three_hours(false);
    let log = trail.digests[0].logs[0].clone();
    // What the correlation pass hashed while inflating the file.
    let mut hasher = sessiontrail_evidence::LogHasher::new();
    hasher.update(&flate2_decode(&std::fs::read(&log).unwrap()));
    let (hash, _) = hasher.finish();
    // The file is gone now; the hash known for its path stands in for reading it.
    std::fs::write(&log, b"unreadable").unwrap();
    let mut options = VerifyOptions::default();
    options.known_hashes.insert(log.clone(), hash);
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert!(v.passed(), "{:#?}", v.problems);
    // A wrong known hash is tampering.
    options
        .known_hashes
        .insert(log.clone(), sessiontrail_evidence::Sha256Hash([0; 32]));
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert_eq!(problems(&v), [("log_file_tampered", name(&log))]);
}

/// A small deterministic generator (xorshift), for mutations.
struct Mutations(u64);

impl Mutations {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below.max(1) as u64) as usize
    }

    fn mutate(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for _ in 0..1 + self.next(3) {
            match self.next(4) {
                0 if !out.is_empty() => {
                    let at = self.next(out.len());
                    out[at] = self.next(256) as u8;
                }
                1 => out.truncate(self.next(out.len() + 1)),
                2 => {
                    let at = self.next(out.len() + 1);
                    let piece = [
                        b"\"",
                        &b"null"[..],
                        b"{",
                        b"]",
                        b"0",
                        b"\\u0000",
                        "é".as_bytes(),
                    ][self.next(7)];
                    out.splice(at..at, piece.iter().copied());
                }
                _ if !out.is_empty() => {
                    let at = self.next(out.len());
                    out.remove(at);
                }
                _ => {}
            }
        }
        out
    }
}

#[test]
fn hostile_digests_sidecars_and_key_files_never_panic_nor_verify() {
    let (dir, trail, keys) = three_hours(false);
    let middle = &trail.digests[1];
    let original = flate2_decode(&std::fs::read(&middle.path).unwrap());
    let mut sidecar = middle.path.clone().into_os_string();
    sidecar.push(".metadata.json");
    let sidecar = std::path::PathBuf::from(sidecar);
    let original_sidecar = std::fs::read(&sidecar).unwrap();
    let key_file = trail.signer.key_file().into_bytes();
    let mut mutations = Mutations(0x5eed_1e55);
    for round in 0..200 {
        let content = mutations.mutate(&original);
        std::fs::write(&middle.path, gzip(&content)).unwrap();
        if round % 4 == 0 {
            std::fs::write(&sidecar, mutations.mutate(&original_sidecar)).unwrap();
        } else {
            std::fs::write(&sidecar, &original_sidecar).unwrap();
        }
        let v = verify(dir.path(), &keys);
        let verified = v
            .digests
            .iter()
            .any(|d| d.file == middle.path.display().to_string() && d.signature_verified);
        if content != original {
            assert!(!verified, "round {round}: a changed digest verified");
            assert!(!v.passed(), "round {round}");
        }
        let _ = PublicKeys::from_list_public_keys_json(&mutations.mutate(&key_file), "keys.json");
    }
}

#[test]
fn a_second_copy_of_the_bucket_under_the_folder_is_not_a_broken_chain() {
    let (dir, trail, keys) = three_hours(false);
    let outer = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), &outer.path().join("first"));
    copy_tree(dir.path(), &outer.path().join("second"));
    let v = verify(outer.path(), &keys);
    // Identical digests: one is checked. The second copies of the log files are named.
    assert_eq!(
        v.problem_count(Rule::DigestChainBroken),
        0,
        "{:#?}",
        v.problems
    );
    assert_eq!(v.problem_count(Rule::DigestSignatureInvalid), 0);
    assert_eq!(v.count(LogFileStatus::Verified), 6);
    assert_eq!(v.problem_count(Rule::LogFileNotCovered), 6);
    assert!(
        v.problems
            .iter()
            .all(|p| p.detail.contains("a second copy of"))
    );
    // A second copy that differs is a problem.
    let changed = outer
        .path()
        .join("second")
        .join(trail.digests[0].path.strip_prefix(dir.path()).unwrap());
    std::fs::write(&changed, gzip(b"{}")).unwrap();
    let v = verify(outer.path(), &keys);
    assert_eq!(
        v.problem_count(Rule::DigestSignatureInvalid),
        1,
        "{:#?}",
        v.problems
    );
}

#[test]
fn a_file_delivered_late_is_checked_with_the_next_hour_s_digest() {
    let dir = tempfile::tempdir().unwrap();
    let mut trail = Trail::new(dir.path(), Signer::new(false));
    let early = trail.write_log(10, "early");
    trail.write_digest(1, &[early], true, false);
    // Named 00:58, delivered after 01:00: the 02:00 digest lists it.
    let late = trail.write_log(58, "late");
    trail.write_digest(2, std::slice::from_ref(&late), false, false);
    let options = VerifyOptions {
        to: Some(chrono::DateTime::from_timestamp(DAY_START + 3599, 0).unwrap()),
        ..Default::default()
    };
    let keys = keys_of(&trail.signer);
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.count(LogFileStatus::Verified), 2);
    // Changed, it is found tampered though its digest ends after --to.
    std::fs::write(&late.1, gzip(b"{\"Records\":[]}")).unwrap();
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert_eq!(problems(&v), [("log_file_tampered", name(&late.1))]);
}

#[cfg(unix)]
#[test]
fn a_folder_that_cannot_be_read_is_an_error_not_missing_files() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _trail, keys) = three_hours(false);
    let logs = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01");
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::read_dir(&logs).is_ok(); // root reads anything
    let result = verify_folder(dir.path(), &VerifyOptions::default(), &mut keys.clone());
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).unwrap();
    if readable {
        assert!(result.unwrap().passed());
    } else {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }
}

#[test]
fn a_listed_file_named_long_before_the_window_is_still_hashed_and_compared() {
    // `verify` hashes the files named in the window while it checks the digests; a file
    // a window's digest lists but named hours earlier is hashed after, not skipped.
    let dir = tempfile::tempdir().unwrap();
    let mut trail = Trail::new(dir.path(), Signer::new(false));
    let old = trail.write_log(10, "old");
    trail.write_digest(5, std::slice::from_ref(&old), true, false);
    let options = VerifyOptions {
        from: Some(chrono::DateTime::from_timestamp(DAY_START + 4 * 3600 + 1800, 0).unwrap()),
        ..Default::default()
    };
    let keys = keys_of(&trail.signer);
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert!(v.passed(), "{:#?}", v.problems);
    assert_eq!(v.count(LogFileStatus::Verified), 1);
    assert_eq!(
        v.log_files[0].actual_sha256.unwrap().to_hex(),
        old.2,
        "the independent sha2 crate's hash"
    );
    std::fs::write(&old.1, gzip(b"{\"Records\":[]}")).unwrap();
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert_eq!(problems(&v), [("log_file_tampered", name(&old.1))]);
}

#[test]
fn a_copy_starting_later_leaves_its_first_digest_s_link_unjudged() {
    let (dir, trail, keys) = three_hours(false);
    // The first hour's digest and files are not in this copy.
    let first = &trail.digests[0];
    std::fs::remove_file(&first.path).unwrap();
    std::fs::remove_file(format!("{}.metadata.json", first.path.display())).ok();
    for log in &first.logs {
        std::fs::remove_file(log).unwrap();
    }
    let v = verify(dir.path(), &keys);
    assert!(
        v.passed(),
        "nothing shows the first digest was due: {:#?}",
        v.problems
    );
    let judged: Vec<(String, bool)> = v
        .digests
        .iter()
        .map(|d| (name(Path::new(&d.file)), d.chain_judged))
        .collect();
    assert_eq!(
        judged,
        [
            (name(&trail.digests[1].path), false),
            (name(&trail.digests[2].path), true)
        ]
    );
    // With a window reaching back past it, the missing predecessor is a break: judged.
    let options = VerifyOptions {
        from: Some(chrono::DateTime::from_timestamp(DAY_START + 1800, 0).unwrap()),
        ..Default::default()
    };
    let v = verify_folder(dir.path(), &options, &mut keys.clone()).unwrap();
    assert_eq!(
        problems(&v),
        [("digest_chain_broken", name(&trail.digests[1].path))]
    );
    assert!(v.digests.iter().all(|d| d.chain_judged));
}
