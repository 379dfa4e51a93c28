//! `posture --live` (sessiontrail_aws::posture_live) against moto's server: the SDK's
//! answers judged by the one checker give the same findings as the AWS CLI's outputs
//! saved by scripts/posture-snapshot.sh over the same moto state (an independent path),
//! the saved live snapshot has the script's layout and replays to the same findings.
//! moto does not implement DescribeInstanceAccessControlAttributeConfiguration: both
//! paths report that check not made. A second account is read through an assumed role.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use sessiontrail_aws::posture_live::{LiveOptions, LivePostureSource};
use sessiontrail_correlate::Policy;
use sessiontrail_posture::{
    PostureReport, PostureSettings, SnapshotSource, check_posture, write_snapshot,
};
use sessiontrail_test_support::{Prerequisite, moto::Moto, skip};

const SETUP: &str = r#"
import boto3, json, io, zipfile
ssm = boto3.client("ssm"); iam = boto3.client("iam"); lam = boto3.client("lambda"); sso = boto3.client("sso-admin")
def doc(inputs):
    return json.dumps({"schemaVersion": "1.0", "description": "d", "sessionType": "Standard_Stream", "inputs": inputs})
ssm.create_document(Name="SSMRunAs-Admin-Session", DocumentType="Session", DocumentFormat="JSON", Content=doc(
    {"runAsEnabled": True, "runAsDefaultUser": "admin", "idleSessionTimeout": "20", "maxSessionDuration": "60",
     "s3BucketName": "session-logs", "kmsKeyId": "alias/sessions"}))
# Developer's document runs as root: a mismatch; and its idle timeout is too long.
ssm.create_document(Name="SSMRunAs-Developer-Session", DocumentType="Session", DocumentFormat="JSON", Content=doc(
    {"runAsEnabled": "true", "runAsDefaultUser": "root", "idleSessionTimeout": "45", "maxSessionDuration": "60",
     "cloudWatchLogGroupName": "sessions", "kmsKeyId": "alias/sessions"}))
# The preferences do not enable Run As.
ssm.create_document(Name="SSM-SessionManagerRunShell", DocumentType="Session", DocumentFormat="JSON",
    Content=doc({"runAsEnabled": False, "runAsDefaultUser": ""}))
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
iam.create_role(RoleName="sessiontrail-session-starter", AssumeRolePolicyDocument=trust,
    Tags=[{"Key": "SSMSessionRunAs", "Value": "root"}])
role = iam.create_role(RoleName="sessiontrail-broker-role", AssumeRolePolicyDocument=trust,
    Tags=[{"Key": "Project", "Value": "sessiontrail"}])["Role"]["Arn"]
buf = io.BytesIO(); z = zipfile.ZipFile(buf, "w"); z.writestr("bootstrap", "x"); z.close()
lam.create_function(FunctionName="sessiontrail-broker", Runtime="provided.al2023", Role=role, Handler="bootstrap",
    Code={"ZipFile": buf.getvalue()})
lam.create_function_url_config(FunctionName="sessiontrail-broker", AuthType="NONE")
read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
inst = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
def own(document, check):
    statement = {"Effect": "Allow", "Action": "ssm:StartSession",
        "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:document/" + document]}
    if check:
        statement["Condition"] = {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
for name, document, check in [("Admin", "SSMRunAs-Admin-Session", True), ("Developer", "SSMRunAs-Developer-Session", False)]:
    # SessionDuration as AWS answers it (ISO 8601): moto's default is the number 3600,
    # which the SDK refuses to parse (the AWS CLI does not check).
    ps = sso.create_permission_set(Name=name, InstanceArn=inst, SessionDuration="PT1H")["PermissionSet"]["PermissionSetArn"]
    sso.put_inline_policy_to_permission_set(InstanceArn=inst, PermissionSetArn=ps, InlinePolicy=own(document, check))
    sso.attach_managed_policy_to_permission_set(InstanceArn=inst, PermissionSetArn=ps, ManagedPolicyArn=read_only)
# A second member account, read through the role sessiontrail assumes there: its Admin
# document is missing, its starter role untagged.
creds = boto3.client("sts").assume_role(RoleArn="arn:aws:iam::444455556666:role/sessiontrail-audit",
    RoleSessionName="seed")["Credentials"]
other = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"])
ssm2 = boto3.client("ssm", **other); iam2 = boto3.client("iam", **other)
ssm2.create_document(Name="SSMRunAs-Developer-Session", DocumentType="Session", DocumentFormat="JSON", Content=doc(
    {"runAsEnabled": True, "runAsDefaultUser": "dev", "idleSessionTimeout": "20", "maxSessionDuration": "60",
     "s3BucketName": "session-logs", "kmsKeyId": "alias/sessions"}))
ssm2.create_document(Name="SSM-SessionManagerRunShell", DocumentType="Session", DocumentFormat="JSON",
    Content=doc({"runAsEnabled": True, "runAsDefaultUser": "nobody"}))
iam2.create_role(RoleName="sessiontrail-session-starter", AssumeRolePolicyDocument=trust)
print(boto3.client("sts", **other).get_caller_identity()["Account"])
"#;

const POLICY: &str = r#"
[broker]
role_names = ["sessiontrail-session-starter"]

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"

[[permission_set]]
name = "Developer"
document = "SSMRunAs-Developer-Session"
run_as = "dev"
"#;

type Key = (String, Option<String>, Option<String>, String);

fn keys(report: &PostureReport) -> BTreeSet<Key> {
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

fn files(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(root, &path, out);
        } else {
            out.insert(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
}

fn key(rule: &str, account: Option<&str>, region: Option<&str>, resource: &str) -> Key {
    (
        rule.to_string(),
        account.map(str::to_string),
        region.map(str::to_string),
        resource.to_string(),
    )
}

#[test]
fn live_answers_as_the_snapshot_script_does() {
    let test = "live_answers_as_the_snapshot_script_does";
    if !sessiontrail_test_support::runs("aws", "--version") {
        skip(test, Prerequisite::AwsCli, "the AWS CLI is not on PATH");
        return;
    }
    // The only test of this binary: no other thread reads the environment.
    unsafe { std::env::set_var("MOTO_IAM_LOAD_MANAGED_POLICIES", "true") };
    let Some(moto) = Moto::start(test) else {
        return;
    };
    assert_eq!(moto.python(SETUP).trim(), "444455556666");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aws-config");
    // The script reads the second account through a profile assuming the same role.
    std::fs::write(
        &config,
        "[profile base]\naws_access_key_id = testing\naws_secret_access_key = testing\n\
         [profile audit-123456789012]\naws_access_key_id = testing\naws_secret_access_key = testing\n\
         [profile audit-444455556666]\nrole_arn = arn:aws:iam::444455556666:role/sessiontrail-audit\nsource_profile = base\n",
    )
    .unwrap();
    let scripted = dir.path().join("scripted");
    let output = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/posture-snapshot.sh"))
        .args(["--out", scripted.to_str().unwrap()])
        .args([
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-0123456789abcdef",
        ])
        .args(["--permission-set", "Admin=SSMRunAs-Admin-Session"])
        .args(["--permission-set", "Developer=SSMRunAs-Developer-Session"])
        .args(["--account", "123456789012", "--account", "444455556666"])
        .args(["--region", "us-east-1", "--account-profile", "audit-%s"])
        .args(["--broker-function", "sessiontrail-broker"])
        .envs(moto.env())
        .env("AWS_CONFIG_FILE", &config)
        // The AWS CLI caches assumed roles' credentials under ~/.aws/cli/cache: a
        // previous server's would name no account here.
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let policy = Policy::parse(POLICY).unwrap();
    let settings = PostureSettings::default();
    let from_script = check_posture(
        &policy,
        &SnapshotSource::open(&scripted).unwrap(),
        &settings,
    )
    .unwrap();

    for (name, value) in moto.env() {
        unsafe { std::env::set_var(name, value) };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = runtime.block_on(sessiontrail_aws::load_aws_config());
    let options = LiveOptions {
        accounts: Some(vec!["123456789012".into(), "444455556666".into()]),
        regions: Some(vec!["us-east-1".into()]),
        role_name: Some("sessiontrail-audit".into()),
        instance_arn: Some("arn:aws:sso:::instance/ssoins-0123456789abcdef".into()),
        broker_function: "sessiontrail-broker".into(),
        partition: "aws".into(),
        ..LiveOptions::default()
    };
    let live = runtime
        .block_on(LivePostureSource::connect(
            base,
            options,
            runtime.handle().clone(),
        ))
        .unwrap();
    assert_eq!(live.caller_account(), "123456789012");
    let from_live = check_posture(&policy, &live, &settings).unwrap();

    // What was planted, stated here (not from either run).
    let (a, b, r) = (
        Some("123456789012"),
        Some("444455556666"),
        Some("us-east-1"),
    );
    let planted: BTreeSet<Key> = [
        key(
            "posture_run_as_mismatch",
            a,
            r,
            "SSMRunAs-Developer-Session",
        ),
        key("posture_session_bounds", a, r, "SSMRunAs-Developer-Session"),
        key("posture_default_run_as", a, r, "SSM-SessionManagerRunShell"),
        key("posture_document_missing", b, r, "SSMRunAs-Admin-Session"),
        key(
            "posture_role_run_as_tag",
            a,
            None,
            "sessiontrail-session-starter",
        ),
        key("posture_url_auth", a, r, "sessiontrail-broker"),
        key(
            "posture_document_access_check_missing",
            None,
            None,
            "Developer",
        ),
        key(
            "posture_check_not_made",
            None,
            None,
            "IAM Identity Center instance",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(keys(&from_script), planted, "{:#?}", from_script.findings);
    assert_eq!(
        keys(&from_live),
        keys(&from_script),
        "{:#?}",
        from_live.findings
    );
    assert!(from_live.rejects.is_empty(), "{:?}", from_live.rejects);
    let statuses = |r: &PostureReport| -> BTreeSet<(String, String, &'static str)> {
        r.checks
            .iter()
            .map(|c| (c.check.to_string(), c.resource.clone(), c.status.as_str()))
            .collect()
    };
    assert_eq!(statuses(&from_live), statuses(&from_script));

    // Saved, the live answers are the script's files, and replay to the same findings.
    let saved = dir.path().join("saved");
    write_snapshot(&saved, &live.recorded(), &live.scope()).unwrap();
    let (mut want, mut got) = (BTreeSet::new(), BTreeSet::new());
    files(&scripted, &scripted, &mut want);
    files(&saved, &saved, &mut got);
    assert_eq!(got, want);
    let replayed =
        check_posture(&policy, &SnapshotSource::open(&saved).unwrap(), &settings).unwrap();
    assert_eq!(keys(&replayed), keys(&from_live));
}

#[test]
fn no_caller_identity_is_an_error_not_a_pass() {
    let test = "no_caller_identity_is_an_error_not_a_pass";
    // No server: the caller's identity is asked first and fails: an error, not a pass.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("a", "b", None, None, "test"),
            ),
        )
        .build();
    let result = runtime.block_on(LivePostureSource::connect(
        base,
        LiveOptions::default(),
        runtime.handle().clone(),
    ));
    assert!(result.is_err(), "{test}");
}
