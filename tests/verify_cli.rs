//! `sessiontrail verify`: exit codes (0 every check passed, 3 a check failed, 1 error,
//! 2 usage) and its output lines (RULE<TAB>FILE<TAB>WHAT on stdout, the summary on
//! stderr), over the signed trail copy in crates/evidence/tests/data.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/evidence/tests/data")
}

fn verify(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .arg("verify")
        .args(args)
        .output()
        .expect("sessiontrail runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the signed trail to tamper with, and its key file.
fn signed_copy() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&data().join("signed-trail"), &dir.path().join("bucket"));
    let root = dir.path().join("bucket").display().to_string();
    let keys = data().join("signed-trail-keys.json").display().to_string();
    (dir, root, keys)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn log_file(root: &str, name: &str) -> PathBuf {
    Path::new(root)
        .join("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01")
        .join(format!("111122223333_CloudTrail_eu-west-1_{name}.json.gz"))
}

#[test]
fn an_untouched_trail_exits_0_with_nothing_on_stdout() {
    let (_dir, root, keys) = signed_copy();
    let output = verify(&["--cloudtrail", &root, "--public-keys", &keys]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "");
    let summary = text(&output.stderr);
    assert!(
        summary.contains("2 digests (2 signature verified, 2 chain verified)"),
        "{summary}"
    );
    assert!(
        summary.contains("4 log files (4 verified, 0 tampered"),
        "{summary}"
    );
    assert!(summary.contains("every check passed"), "{summary}");
    // The AWSLogs folder itself, and a window, give the same.
    let awslogs = format!("{root}/AWSLogs");
    let output = verify(&[
        "--cloudtrail",
        &awslogs,
        "--public-keys",
        &keys,
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-01T23:00:00Z",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
}

#[test]
fn a_tampered_log_file_exits_3_with_one_line_naming_rule_and_file() {
    let (_dir, root, keys) = signed_copy();
    let log = log_file(&root, "20260201T0105Z_h2a");
    std::fs::write(&log, b"not what CloudTrail wrote").unwrap();
    let output = verify(&["--cloudtrail", &root, "--public-keys", &keys]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0].len(), 3, "{stdout}");
    assert_eq!(lines[0][0], "log_file_tampered");
    assert_eq!(lines[0][1], log.display().to_string());
    assert!(lines[0][2].contains("SHA-256"), "{stdout}");
    assert!(text(&output.stderr).contains("1 problems (1 log_file_tampered)"));
}

#[test]
fn a_deleted_log_file_and_a_forged_signature_exit_3() {
    let (_dir, root, keys) = signed_copy();
    std::fs::remove_file(log_file(&root, "20260201T0035Z_h1b")).unwrap();
    let sidecar = Path::new(&root).join("AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/111122223333_CloudTrail-Digest_eu-west-1_org_audit-trail_eu-west-1_20260201T020000Z.json.gz.metadata.json");
    let content = std::fs::read_to_string(&sidecar).unwrap();
    let at = content.find("\"signature\": \"").unwrap() + 14;
    let mut forged = content.into_bytes();
    forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&sidecar, forged).unwrap();
    let output = verify(&["--cloudtrail", &root, "--public-keys", &keys]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let rules: Vec<String> = text(&output.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    assert_eq!(
        rules,
        ["digest_signature_invalid", "log_file_missing"],
        "{}",
        text(&output.stdout)
    );
    assert!(text(&output.stdout).contains("\ts3://trail-bucket/AWSLogs/111122223333/CloudTrail/"));
}

#[test]
fn errors_exit_1_naming_what_is_wrong() {
    let (dir, root, keys) = signed_copy();
    let not_keys = dir.path().join("keys.json");
    std::fs::write(
        &not_keys,
        r#"{"PublicKeyList":[{"Value":"aGVsbG8=","ValidityStartTime":0,"ValidityEndTime":1}]}"#,
    )
    .unwrap();
    let not_keys = not_keys.display().to_string();
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["--cloudtrail", &root, "--public-keys", &not_keys],
            "is not an RSA public key",
        ),
        (
            vec!["--cloudtrail", "/nonexistent/trail", "--public-keys", &keys],
            "/nonexistent/trail",
        ),
        (
            vec![
                "--cloudtrail",
                dir.path().to_str().unwrap(),
                "--public-keys",
                &root,
            ],
            "reading",
        ),
    ];
    for (args, says) in cases {
        let output = verify(&args);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(says),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert_eq!(text(&output.stdout), "");
    }
    // A folder with no digest files at all.
    let empty = tempfile::tempdir().unwrap();
    let output = verify(&[
        "--cloudtrail",
        empty.path().to_str().unwrap(),
        "--public-keys",
        &keys,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("no CloudTrail digest files"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn usage_errors_exit_2_and_help_teaches() {
    let (_dir, root, keys) = signed_copy();
    for args in [
        vec!["--cloudtrail", root.as_str()],
        vec!["--cloudtrail", &root, "--public-keys", &keys, "--live"],
        vec![
            "--cloudtrail",
            &root,
            "--public-keys",
            &keys,
            "--from",
            "yesterday",
        ],
    ] {
        assert_eq!(verify(&args).status.code(), Some(2), "{args:?}");
    }
    let help = verify(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("aws cloudtrail list-public-keys"), "{help}");
    assert!(help.contains("log_file_not_covered (low)"), "{help}");
}

/// The key a `verify` file names: its path under the bucket copy, or the s3:// key of a
/// file not found.
fn key_of(file: &str, copy: &str, bucket: &str) -> String {
    file.strip_prefix(&format!("{copy}/"))
        .or_else(|| file.strip_prefix(&format!("s3://{bucket}/")))
        .unwrap_or(file)
        .to_string()
}

/// The generator (crates/generate, sharing no code with the verifier) signs digests
/// and plants each tampering case once; truth.json says what verification must find.
#[test]
fn generated_tampered_sets_verify_as_their_truth_says() {
    let out = tempfile::tempdir().unwrap();
    let generated = Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .args([
            "generate",
            "--days",
            "1",
            "--digests",
            "--tamper",
            "all",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("truth.json")).unwrap()).unwrap();
    let evidence = &truth["evidence"];
    let bucket = evidence["bucket"].as_str().unwrap();
    let copy = out.path().join("cloudtrail").display().to_string();
    let keys = out.path().join(evidence["public_keys"].as_str().unwrap());

    let output = verify(&[
        "--cloudtrail",
        &copy,
        "--public-keys",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let found: std::collections::BTreeSet<(String, String)> = text(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[0].to_string(), key_of(fields[1], &copy, bucket))
        })
        .collect();
    let expected = common::truth_problems(evidence);
    assert_eq!(found, expected);

    // Every log file's status, through the library.
    let mut keys = sessiontrail_evidence::PublicKeys::from_list_public_keys_json(
        &std::fs::read(&keys).unwrap(),
        "public-keys.json",
    )
    .unwrap();
    let v = sessiontrail_evidence::verify_folder(
        Path::new(&copy),
        &sessiontrail_evidence::VerifyOptions::default(),
        &mut keys,
    )
    .unwrap();
    let statuses: std::collections::BTreeMap<String, String> = v
        .log_files
        .iter()
        .map(|f| {
            (
                key_of(&f.file, &copy, bucket),
                f.status.as_str().to_string(),
            )
        })
        .collect();
    let expected = common::truth_log_file_statuses(evidence);
    assert_eq!(statuses.len(), expected.len());
    let differing: Vec<_> = expected
        .iter()
        .filter(|(key, status)| statuses.get(*key) != Some(status))
        .map(|(key, status)| (key, status, statuses.get(key)))
        .collect();
    assert!(differing.is_empty(), "{differing:#?}");
    let signatures: std::collections::BTreeMap<String, bool> = v
        .digests
        .iter()
        .map(|d| (key_of(&d.file, &copy, bucket), d.signature_verified))
        .collect();
    for digest in evidence["digests"].as_array().unwrap() {
        let key = digest["key"].as_str().unwrap();
        assert_eq!(
            signatures.get(key),
            Some(&(digest["signature"] == "valid")),
            "{key}"
        );
    }
}

#[test]
fn an_untampered_generated_set_exits_0() {
    let out = tempfile::tempdir().unwrap();
    let generated = Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .args([
            "generate",
            "--days",
            "1",
            "--sessions-per-day",
            "5",
            "--digests",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let copy = out.path().join("cloudtrail").display().to_string();
    let keys = out.path().join("public-keys.json").display().to_string();
    let output = verify(&["--cloudtrail", &copy, "--public-keys", &keys]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stderr).contains("0 tampered, 0 missing, 0 not_covered, 0 unsigned"));
}

/// An s3:// trail (moto's S3): the digests' signatures come from their objects'
/// metadata, files are named by s3:// URL, and a digest naming another bucket is
/// refused.
#[test]
fn an_s3_trail_verifies_with_its_objects_metadata() {
    use sessiontrail_test_support::moto::Moto;
    let Some(moto) = Moto::start("an_s3_trail_verifies_with_its_objects_metadata") else {
        return;
    };
    let upload = |bucket: &str| {
        common::upload_trail(&moto, &data().join("signed-trail"), bucket, "trail/");
    };
    upload("trail-bucket");
    let keys = data().join("signed-trail-keys.json").display().to_string();
    let run = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
            .args(["verify", "--cloudtrail", url, "--public-keys", &keys])
            .envs(moto.env())
            .output()
            .unwrap()
    };
    let output = run("s3://trail-bucket/trail/");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("4 verified"),
        "{}",
        text(&output.stderr)
    );

    // A log file replaced in the bucket: named by its URL.
    moto.python(
        r#"
import boto3
boto3.client("s3").put_object(Bucket="trail-bucket", Key="trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/111122223333_CloudTrail_eu-west-1_20260201T0035Z_h1b.json.gz", Body=b"{}")
"#,
    );
    let output = run("s3://trail-bucket/trail/");
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout)
            .lines()
            .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join("\t"))
            .collect::<Vec<_>>(),
        [
            "log_file_tampered\ts3://trail-bucket/trail/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/111122223333_CloudTrail_eu-west-1_20260201T0035Z_h1b.json.gz"
        ]
    );

    // The same objects in another bucket: the digests name trail-bucket.
    upload("elsewhere");
    let output = run("s3://elsewhere/trail/");
    assert_eq!(output.status.code(), Some(3));
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("digest_signature_invalid\ts3://elsewhere/"))
            .count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("names bucket trail-bucket"), "{stdout}");

    // A prefix with no digest under it is an error.
    let output = run("s3://trail-bucket/nothing-here/");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("no CloudTrail digest files"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("s3://trail-bucket"),
        "{}",
        text(&output.stderr)
    );
}
