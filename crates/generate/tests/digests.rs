//! Signed digests (`digests`): an independent implementation of CloudTrail's digest
//! validation (`verify_digests.py`, Python's `cryptography`) walks each generated set
//! and must find exactly what `truth.json`'s `evidence` says, for an untouched set and
//! for each tamper case alone and all together; the same seed gives the same bytes;
//! signing leaves the sessions, findings and broker log of the ground truth as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use flate2::read::GzDecoder;
use serde_json::Value;
use sessiontrail_generate::{GenerateOptions, TamperCase, generate};
use sessiontrail_test_support::{Prerequisite, python_has, skip};

fn options(seed: u64, tamper: &[TamperCase]) -> GenerateOptions {
    GenerateOptions {
        seed,
        days: 1,
        sessions_per_day: 10,
        noise_per_session: 20,
        accounts: 2,
        regions: vec!["eu-west-1".into(), "us-east-1".into()],
        digests: true,
        tamper: tamper.to_vec(),
        ..GenerateOptions::default()
    }
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(rel.replace('\\', "/"), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn truth(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

/// The script's findings, or None (said on stderr) when python3 or cryptography is
/// missing outside CI.
fn cross_check(test: &str, dir: &Path) -> Option<Value> {
    if !python_has(&["cryptography"]) {
        skip(
            test,
            Prerequisite::Cryptography,
            "python3 cannot import cryptography",
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verify_digests.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "verify_digests.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).expect("the script prints JSON"))
}

/// The script and the truth agree on every digest, log file and problem.
fn assert_agree(script: &Value, evidence: &Value, what: &str) {
    for part in ["digests", "log_files", "problems"] {
        let found: BTreeSet<String> = script[part]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        let expected: BTreeSet<String> = evidence[part]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        assert_eq!(
            found.difference(&expected).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{what}: {part} the script found beyond the truth"
        );
        assert_eq!(
            expected.difference(&found).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "{what}: {part} of the truth the script did not find"
        );
    }
}

fn statuses(evidence: &Value) -> BTreeMap<String, String> {
    evidence["log_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_owned(),
                f["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn problems(evidence: &Value) -> BTreeSet<(String, String)> {
    evidence["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["rule"].as_str().unwrap().to_owned(),
                p["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[test]
fn an_untouched_signed_set_verifies_completely() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), &options(21, &[])).unwrap();
    let evidence = truth(dir.path())["evidence"].clone();
    let all = files(dir.path());

    // The truth's own claims, read from the files: every log file verified by a
    // digest, every digest hour by hour, each with its sidecar.
    let logs: Vec<&String> = all
        .keys()
        .filter(|k| k.starts_with("cloudtrail/") && k.contains("/CloudTrail/"))
        .collect();
    let digests: Vec<&String> = all
        .keys()
        .filter(|k| k.contains("/CloudTrail-Digest/") && k.ends_with(".json.gz"))
        .collect();
    assert_eq!(logs.len() as u64, summary.cloudtrail_files);
    assert_eq!(digests.len() as u64, summary.digest_files);
    assert!(problems(&evidence).is_empty());
    let status = statuses(&evidence);
    assert_eq!(status.len(), logs.len());
    assert!(status.values().all(|s| s == "verified"), "{status:?}");
    for digest in &digests {
        let sidecar: Value =
            serde_json::from_slice(&all[&format!("{digest}.metadata.json")]).unwrap();
        assert_eq!(
            sidecar["Metadata"]["signature-algorithm"], "SHA256withRSA",
            "{digest}"
        );
        assert_eq!(
            sidecar["Metadata"]["signature"].as_str().unwrap().len(),
            512
        );
        assert_eq!(sidecar["ContentLength"], all[*digest].len());
        let body: Value = serde_json::from_slice(&gunzip(&all[*digest])).unwrap();
        assert_eq!(
            format!("cloudtrail/{}", body["digestS3Object"].as_str().unwrap()),
            **digest
        );
    }
    // Two accounts, two regions: four chains, one starting digest each, about an hour
    // apart (the period is 25 hours).
    let starts = digests
        .iter()
        .filter(|d| {
            let body: Value = serde_json::from_slice(&gunzip(&all[**d])).unwrap();
            body["previousDigestSignature"].is_null()
        })
        .count();
    assert_eq!(starts, 4);
    assert!(
        (4 * 25..=4 * 27).contains(&digests.len()),
        "{}",
        digests.len()
    );
    // Two keys, rotated halfway: each digest names the key valid at its end.
    let keys: Value = serde_json::from_slice(&all["public-keys.json"]).unwrap();
    let keys = keys["PublicKeyList"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let mut used = BTreeSet::new();
    for digest in &digests {
        let body: Value = serde_json::from_slice(&gunzip(&all[*digest])).unwrap();
        let end = body["digestEndTime"]
            .as_str()
            .unwrap()
            .replace('Z', "+00:00");
        let valid: Vec<&Value> = keys
            .iter()
            .filter(|k| {
                k["ValidityStartTime"].as_str().unwrap() <= end.as_str()
                    && end.as_str() < k["ValidityEndTime"].as_str().unwrap()
            })
            .collect();
        assert_eq!(valid.len(), 1, "{digest}");
        assert_eq!(valid[0]["Fingerprint"], body["digestPublicKeyFingerprint"]);
        used.insert(valid[0]["Fingerprint"].as_str().unwrap().to_owned());
    }
    assert_eq!(used.len(), 2);

    if let Some(script) = cross_check("an_untouched_signed_set_verifies_completely", dir.path()) {
        assert_agree(&script, &evidence, "untouched");
    }
}

#[test]
fn each_tamper_case_gives_what_the_truth_says_and_only_that() {
    let test = "each_tamper_case_gives_what_the_truth_says_and_only_that";
    // (case, the problems it must raise on what it hit, the status of what it hit)
    let expected: [(TamperCase, &[&str], Option<&str>); 7] = [
        (
            TamperCase::LogFileTampered,
            &["log_file_tampered"],
            Some("tampered"),
        ),
        (
            TamperCase::LogFileMissing,
            &["log_file_missing"],
            Some("missing"),
        ),
        (TamperCase::DigestRemoved, &["digest_chain_broken"], None),
        (
            TamperCase::SignatureForged,
            &["digest_signature_invalid"],
            None,
        ),
        (TamperCase::WrongKey, &["digest_signature_invalid"], None),
        (TamperCase::Backfill, &[], Some("verified")),
        (
            TamperCase::LogFileNotCovered,
            &["log_file_not_covered"],
            Some("not_covered"),
        ),
    ];
    for (case, rules, status) in expected {
        let dir = tempfile::tempdir().unwrap();
        let opts = GenerateOptions {
            accounts: 1,
            ..options(31, &[case])
        };
        generate(dir.path(), &opts).unwrap();
        let evidence = truth(dir.path())["evidence"].clone();
        let cases = evidence["cases"].as_array().unwrap();
        assert_eq!(cases.len(), 1, "{case:?}");
        assert_eq!(cases[0]["case"], case.as_str());
        let hit = cases[0]["key"].as_str().unwrap();
        let raised: BTreeSet<&str> = problems(&evidence)
            .iter()
            .map(|(rule, _)| match rule.as_str() {
                "log_file_tampered" => "log_file_tampered",
                "log_file_missing" => "log_file_missing",
                "digest_chain_broken" => "digest_chain_broken",
                "digest_signature_invalid" => "digest_signature_invalid",
                _ => "log_file_not_covered",
            })
            .collect();
        let mut want: BTreeSet<&str> = rules.iter().copied().collect();
        if case == TamperCase::DigestRemoved {
            // The files only the removed digest listed are covered by no digest.
            want.insert("log_file_not_covered");
        }
        assert_eq!(raised, want, "{case:?}");
        let status_of = statuses(&evidence);
        if let Some(status) = status {
            assert_eq!(status_of[hit], status, "{case:?}");
        }
        match case {
            TamperCase::LogFileMissing => {
                assert!(!dir.path().join("cloudtrail").join(hit).exists());
            }
            TamperCase::DigestRemoved => {
                assert!(!dir.path().join("cloudtrail").join(hit).exists());
                assert!(
                    !dir.path()
                        .join("cloudtrail")
                        .join(format!("{hit}.metadata.json"))
                        .exists()
                );
            }
            TamperCase::SignatureForged | TamperCase::WrongKey => {
                assert!(
                    problems(&evidence).contains(&("digest_signature_invalid".into(), hit.into()))
                );
                for file in evidence["log_files"].as_array().unwrap() {
                    let listed_by_hit = file["digest"] == hit;
                    assert_eq!(listed_by_hit, file["status"] == "unsigned", "{file}");
                }
            }
            TamperCase::Backfill => {
                let digest = evidence["log_files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|f| f["key"] == hit)
                    .unwrap()["digest"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(digest.ends_with("_backfill.json.gz"), "{digest}");
                let sidecar: Value = serde_json::from_slice(
                    &fs::read(
                        dir.path()
                            .join("cloudtrail")
                            .join(format!("{digest}.metadata.json")),
                    )
                    .unwrap(),
                )
                .unwrap();
                assert!(sidecar["Metadata"]["backfill-generation-timestamp"].is_string());
            }
            _ => {}
        }
        if let Some(script) = cross_check(test, dir.path()) {
            assert_agree(&script, &evidence, case.as_str());
        } else {
            return;
        }
    }
}

#[test]
fn every_case_at_once_in_one_set() {
    let dir = tempfile::tempdir().unwrap();
    let summary = generate(dir.path(), &options(41, &TamperCase::ALL)).unwrap();
    let evidence = truth(dir.path())["evidence"].clone();
    assert_eq!(evidence["cases"].as_array().unwrap().len(), 7);
    assert_eq!(summary.signed.as_ref().unwrap().tampered.len(), 7);
    let rules: BTreeSet<String> = problems(&evidence).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        rules,
        [
            "digest_chain_broken",
            "digest_signature_invalid",
            "log_file_missing",
            "log_file_not_covered",
            "log_file_tampered",
        ]
        .map(String::from)
        .into()
    );
    if let Some(script) = cross_check("every_case_at_once_in_one_set", dir.path()) {
        assert_agree(&script, &evidence, "all cases");
    }
}

#[test]
fn the_same_seed_gives_the_same_signed_set() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        accounts: 1,
        regions: vec!["eu-west-1".into()],
        ..options(51, &TamperCase::ALL)
    };
    generate(a.path(), &opts).unwrap();
    generate(b.path(), &opts).unwrap();
    assert!(files(a.path()) == files(b.path()), "outputs differ");
}

#[test]
fn signing_leaves_the_session_truth_and_the_inputs_as_they_are() {
    let plain = tempfile::tempdir().unwrap();
    let signed = tempfile::tempdir().unwrap();
    let mut opts = options(61, &TamperCase::ALL);
    generate(signed.path(), &opts).unwrap();
    opts.digests = false;
    opts.tamper.clear();
    generate(plain.path(), &opts).unwrap();

    let (plain_truth, signed_truth) = (truth(plain.path()), truth(signed.path()));
    for part in ["as_of", "sessions", "findings"] {
        assert_eq!(plain_truth[part], signed_truth[part], "{part}");
    }
    assert!(plain_truth.get("evidence").is_none());
    let evidence = &signed_truth["evidence"];
    let touched: BTreeSet<String> = evidence["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["case"] == "log_file_tampered" || c["case"] == "log_file_missing")
        .map(|c| format!("cloudtrail/{}", c["key"].as_str().unwrap()))
        .collect();
    assert_eq!(touched.len(), 2);
    let (plain_files, signed_files) = (files(plain.path()), files(signed.path()));
    for (key, bytes) in &plain_files {
        if key.contains("/CloudTrail-Digest/") || key == "truth.json" || touched.contains(key) {
            continue;
        }
        assert!(signed_files.get(key) == Some(bytes), "{key} differs");
    }
    // What was changed or deleted held no record of the scenario: background only.
    for key in &touched {
        let text = String::from_utf8(gunzip(&plain_files[key])).unwrap();
        assert!(!text.contains("\"eventName\":\"StartSession\""), "{key}");
        match signed_files.get(key) {
            None => {}
            Some(bytes) => {
                let changed = gunzip(bytes);
                let original = gunzip(&plain_files[key]);
                assert_eq!(changed.len(), original.len());
                let differing = changed
                    .iter()
                    .zip(&original)
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(differing, 1, "{key}: one byte changed");
                serde_json::from_slice::<Value>(&changed).expect("still JSON");
            }
        }
    }
}

#[test]
fn tamper_cases_need_digests() {
    let dir = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        digests: false,
        ..options(1, &[TamperCase::WrongKey])
    };
    let err = generate(dir.path(), &opts).unwrap_err().to_string();
    assert!(err.contains("tamper cases need digests"), "{err}");
}

/// `scripts/fetch-digest-signatures.sh` against moto's S3: the digests and their
/// metadata put there as CloudTrail would come back as the generator's sidecars say.
#[test]
fn the_fetch_script_saves_what_s3_holds() {
    let test = "the_fetch_script_saves_what_s3_holds";
    if !sessiontrail_test_support::runs("aws", "--version") {
        skip(test, Prerequisite::AwsCli, "the AWS CLI is not on PATH");
        return;
    }
    let Some(moto) = sessiontrail_test_support::moto::Moto::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    let opts = GenerateOptions {
        accounts: 1,
        regions: vec!["eu-west-1".into()],
        ..options(71, &[TamperCase::Backfill])
    };
    generate(&set, &opts).unwrap();
    let evidence = truth(&set)["evidence"].clone();
    let bucket = evidence["bucket"].as_str().unwrap().to_owned();
    moto.python(&format!(
        r#"
import boto3, json, os
s3 = boto3.client("s3")
s3.create_bucket(Bucket={bucket:?})
root = {root:?}
for d in json.load(open(os.path.join(root, "..", "truth.json")))["evidence"]["digests"]:
    key = d["key"]
    side = json.load(open(os.path.join(root, key + ".metadata.json")))
    s3.put_object(Bucket={bucket:?}, Key=key, Body=open(os.path.join(root, key), "rb").read(),
                  ContentType=side["ContentType"], ContentEncoding=side["ContentEncoding"],
                  Metadata=side["Metadata"])
"#,
        root = set.join("cloudtrail").to_str().unwrap(),
    ));
    // Two hours of digests, the backfill one among them when it falls there.
    let digests: Vec<String> = evidence["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap().to_owned())
        .collect();
    let account = digests[0].split('/').nth(1).unwrap().to_owned();
    let backfill = digests
        .iter()
        .find(|k| k.ends_with("_backfill.json.gz"))
        .unwrap();
    let body: Value = serde_json::from_slice(&gunzip(
        &fs::read(set.join("cloudtrail").join(backfill)).unwrap(),
    ))
    .unwrap();
    let end = body["digestEndTime"].as_str().unwrap();
    let fetched = dir.path().join("fetched");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-digest-signatures.sh");
    let output = Command::new("bash")
        .arg(&script)
        .args([
            "--bucket",
            &bucket,
            "--account",
            &account,
            "--region",
            "eu-west-1",
        ])
        .args([
            "--start-time",
            end,
            "--end-time",
            end,
            "--no-public-keys",
            "--out",
        ])
        .arg(&fetched)
        .envs(moto.env())
        .output()
        .expect("bash runs");
    assert!(
        output.status.success(),
        "the script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got = files(&fetched.join("cloudtrail"));
    // The digest of that hour and its backfill digest, each with its sidecar.
    assert_eq!(got.len(), 4, "{:?}", got.keys().collect::<Vec<_>>());
    for (key, bytes) in &got {
        let generated = fs::read(set.join("cloudtrail").join(key)).unwrap();
        if key.ends_with(".json.gz") {
            assert!(*bytes == generated, "{key}");
            continue;
        }
        let fetched: Value = serde_json::from_slice(bytes).unwrap();
        let generated: Value = serde_json::from_slice(&generated).unwrap();
        for field in [
            "Metadata",
            "ContentLength",
            "ETag",
            "ContentType",
            "ContentEncoding",
        ] {
            assert_eq!(fetched[field], generated[field], "{key}: {field}");
        }
    }
}

/// AWS's own check: aws-cli's `validate-logs` signature validator (python-rsa) accepts
/// every digest the truth calls valid and refuses the others.
#[test]
fn aws_cli_s_validator_agrees_on_every_signature() {
    let test = "aws_cli_s_validator_agrees_on_every_signature";
    if !python_has(&["awscli.customizations.cloudtrail.validation"]) {
        skip(
            test,
            Prerequisite::AwsCli,
            "python3 cannot import awscli (version 1)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), &options(81, &TamperCase::ALL)).unwrap();
    let code = r#"
import base64, gzip, json, os, sys
from awscli.customizations.cloudtrail.validation import DigestError, Sha256RSADigestValidator
out = sys.argv[1]
root = os.path.join(out, "cloudtrail")
keys = {k["Fingerprint"]: base64.b64decode(k["Value"])
        for k in json.load(open(os.path.join(out, "public-keys.json")))["PublicKeyList"]}
evidence = json.load(open(os.path.join(out, "truth.json")))["evidence"]
found = {}
for d in evidence["digests"]:
    key = d["key"]
    raw = gzip.decompress(open(os.path.join(root, key), "rb").read())
    data = json.loads(raw)
    metadata = json.load(open(os.path.join(root, key + ".metadata.json")))["Metadata"]
    data["_signature"] = metadata["signature"]
    data["_signature_algorithm"] = metadata["signature-algorithm"]
    der = keys[data["digestPublicKeyFingerprint"]]
    # aws-cli reads PKCS#1 only: a SubjectPublicKeyInfo's RSAPublicKey is its last
    # 270 bytes (2048-bit modulus, exponent 65537).
    if der[4:6] == b"\x30\x0d":
        der = der[-270:]
    try:
        Sha256RSADigestValidator().validate(
            evidence["bucket"], key, base64.b64encode(der).decode(), data, raw)
        found[key] = "valid"
    except DigestError:
        found[key] = "invalid"
json.dump(found, sys.stdout)
"#;
    let output = Command::new("python3")
        .args(["-c", code])
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: BTreeMap<String, String> = serde_json::from_slice(&output.stdout).unwrap();
    let evidence = truth(dir.path())["evidence"].clone();
    let expected: BTreeMap<String, String> = evidence["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["key"].as_str().unwrap().to_owned(),
                d["signature"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, expected);
    assert_eq!(found.values().filter(|s| *s == "invalid").count(), 2);
}
