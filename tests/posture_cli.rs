//! `sessiontrail posture`: exit codes (0 every check passed, 3 a finding, 1 error,
//! 2 usage) and its output (one finding per line on stdout, a summary on stderr), over
//! the generator's posture cases and their truth.json.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn posture(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .arg("posture")
        .args(args)
        .output()
        .expect("sessiontrail runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

type Key = (String, String, String, String);

fn truth_keys(dir: &Path) -> BTreeSet<Key> {
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    truth["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("-").to_string();
            (s("rule"), s("account"), s("region"), s("resource"))
        })
        .collect()
}

#[test]
fn every_case_prints_its_truth_and_exits_accordingly() {
    let out = tempfile::tempdir().unwrap();
    let cases = sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = out.path().join("sessiontrail.toml").display().to_string();
    for case in cases {
        let snapshot = case.snapshot.display().to_string();
        let output = posture(&["--policy", &policy, "--snapshot", &snapshot]);
        let stdout = text(&output.stdout);
        let expected = truth_keys(&out.path().join(case.name));
        let mut found = BTreeSet::new();
        let mut rejects = 0;
        for line in stdout.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            if fields[0] == "reject" {
                rejects += 1;
                continue;
            }
            assert_eq!(fields.len(), 6, "{line}");
            found.insert((
                fields[0].to_string(),
                fields[2].to_string(),
                fields[3].to_string(),
                fields[4].to_string(),
            ));
        }
        assert_eq!(found, expected, "case {}: {stdout}", case.name);
        assert_eq!(rejects, case.rejects.len(), "case {}: {stdout}", case.name);
        let want = if expected.is_empty() { 0 } else { 3 };
        assert_eq!(
            output.status.code(),
            Some(want),
            "case {}: {}",
            case.name,
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains("checks:"),
            "{}",
            text(&output.stderr)
        );
        if case.name == "pass" {
            assert_eq!(stdout, "");
            assert!(
                text(&output.stderr).contains("24 passed, 0 failed, 0 not made"),
                "{}",
                text(&output.stderr)
            );
        }
    }
}

#[test]
fn jsonl_has_each_finding_with_its_severity_and_every_check() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = out.path().join("sessiontrail.toml").display().to_string();
    let snapshot = out
        .path()
        .join("url-auth-none/snapshot")
        .display()
        .to_string();
    let output = posture(&[
        "--policy",
        &policy,
        "--snapshot",
        &snapshot,
        "--format",
        "jsonl",
    ]);
    assert_eq!(output.status.code(), Some(3));
    let lines: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let findings: Vec<&Value> = lines.iter().filter(|l| l.get("rule").is_some()).collect();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["rule"], "posture_url_auth");
    assert_eq!(findings[0]["severity"], "critical");
    assert!(findings[0]["detail"].as_str().unwrap().contains("NONE"));
    let failed: Vec<&Value> = lines.iter().filter(|l| l["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["check"], "broker_url_auth");
    assert_eq!(lines.iter().filter(|l| l["status"] == "passed").count(), 23);
}

#[test]
fn scope_flags_errors_and_usage() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = out.path().join("sessiontrail.toml").display().to_string();
    let snapshot = out
        .path()
        .join("wrong-run-as-default-user/snapshot")
        .display()
        .to_string();
    // The planted mismatch is in 444455556666 us-east-1: out of this scope.
    let output = posture(&[
        "--policy",
        &policy,
        "--snapshot",
        &snapshot,
        "--accounts",
        "111122223333",
        "--regions",
        "eu-west-1",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let missing = out.path().join("nowhere").display().to_string();
    let output = posture(&["--policy", &policy, "--snapshot", &missing]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("nowhere"),
        "{}",
        text(&output.stderr)
    );
    let output = posture(&["--policy", &policy]);
    assert_eq!(output.status.code(), Some(2));
    let output = posture(&["--policy", &policy, "--snapshot", &snapshot, "--live"]);
    assert_eq!(output.status.code(), Some(2));
    let output = posture(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains("scripts/posture-snapshot.sh"));
    let bad_policy = out.path().join("bad.toml");
    std::fs::write(&bad_policy, "[broker]\n").unwrap();
    let output = posture(&[
        "--policy",
        &bad_policy.display().to_string(),
        "--snapshot",
        &snapshot,
    ]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn live_needs_a_broker_function_and_save_needs_live() {
    let out = tempfile::tempdir().unwrap();
    sessiontrail_generate::posture::write_posture_cases(out.path()).unwrap();
    let policy = out.path().join("sessiontrail.toml").display().to_string();
    let output = posture(&["--policy", &policy, "--live"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("--broker-function"));
    let snapshot = out.path().join("pass/snapshot").display().to_string();
    let output = posture(&[
        "--policy",
        &policy,
        "--snapshot",
        &snapshot,
        "--save",
        "elsewhere",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

/// `--live --save DIR` against moto's server, then `--snapshot DIR`: the same lines.
#[test]
fn live_run_saved_replays_to_the_same_findings() {
    let test = "live_run_saved_replays_to_the_same_findings";
    let Some(moto) = sessiontrail_test_support::moto::Moto::start(test) else {
        return;
    };
    moto.python(
        r#"
import boto3, json, io, zipfile
ssm = boto3.client("ssm"); iam = boto3.client("iam"); lam = boto3.client("lambda"); sso = boto3.client("sso-admin")
ssm.create_document(Name="SSMRunAs-Admin-Session", DocumentType="Session", DocumentFormat="JSON", Content=json.dumps(
    {"schemaVersion": "1.0", "sessionType": "Standard_Stream", "inputs": {"runAsEnabled": True, "runAsDefaultUser": "root",
     "maxSessionDuration": "60", "s3BucketName": "logs", "kmsKeyId": "alias/s"}}))
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
role = iam.create_role(RoleName="broker", AssumeRolePolicyDocument=trust, Tags=[{"Key": "SSMSessionRunAs", "Value": "root"}])["Role"]["Arn"]
buf = io.BytesIO(); z = zipfile.ZipFile(buf, "w"); z.writestr("bootstrap", "x"); z.close()
lam.create_function(FunctionName="sessiontrail-broker", Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": buf.getvalue()})
lam.create_function_url_config(FunctionName="sessiontrail-broker", AuthType="AWS_IAM")
inst = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
ps = sso.create_permission_set(Name="Admin", InstanceArn=inst, SessionDuration="PT1H")["PermissionSet"]["PermissionSetArn"]
sso.put_inline_policy_to_permission_set(InstanceArn=inst, PermissionSetArn=ps, InlinePolicy=json.dumps({"Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "ssm:*", "Resource": "*"}]}))
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[broker]\nrole_names = [\"starter\"]\n[[permission_set]]\nname = \"Admin\"\n\
         document = \"SSMRunAs-Admin-Session\"\nrun_as = \"admin\"\n",
    )
    .unwrap();
    let policy = policy.display().to_string();
    let saved = dir.path().join("saved").display().to_string();
    let live = Command::new(env!("CARGO_BIN_EXE_sessiontrail"))
        .args([
            "posture",
            "--policy",
            &policy,
            "--live",
            "--regions",
            "us-east-1",
        ])
        .args([
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-0123456789abcdef",
        ])
        .args(["--broker-function", "sessiontrail-broker", "--save", &saved])
        .envs(moto.env())
        .output()
        .unwrap();
    assert_eq!(live.status.code(), Some(3), "{}", text(&live.stderr));
    let rules: BTreeSet<String> = text(&live.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            format!("{} {} {}", f[0], f[2], f[4])
        })
        .collect();
    // Planted above: runs as root, no idleSessionTimeout is Session Manager's 20 (a pass),
    // no preferences document, the broker's role tagged, Admin's ssm:* on *, moto lacking
    // the attribute configuration call; the starter role does not exist (a pass).
    let planted: BTreeSet<String> = [
        "posture_run_as_mismatch 123456789012 SSMRunAs-Admin-Session",
        "posture_default_run_as 123456789012 SSM-SessionManagerRunShell",
        "posture_role_run_as_tag 123456789012 broker",
        "posture_permission_set_unrestricted - Admin",
        "posture_document_access_check_missing - Admin",
        "posture_check_not_made - IAM Identity Center instance",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(rules, planted, "{}", text(&live.stdout));
    let replay = posture(&["--policy", &policy, "--snapshot", &saved]);
    // The same findings; a detail names the saved file where the live run names the call.
    let fields = |out: &Output| -> Vec<String> {
        text(&out.stdout)
            .lines()
            .map(|l| l.splitn(6, '\t').take(5).collect::<Vec<_>>().join("\t"))
            .collect()
    };
    assert_eq!(fields(&replay), fields(&live));
    assert_eq!(replay.status.code(), Some(3));
}
