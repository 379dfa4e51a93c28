//! `scripts/posture-snapshot.sh` against moto's server: the real AWS CLI's outputs of
//! SSM, IAM, Lambda and IAM Identity Center saved in the layout posture reads, and
//! judged as planted. moto does not implement
//! DescribeInstanceAccessControlAttributeConfiguration (it answers 500): that check is
//! reported not made, which is what a missing answer must give.

use std::collections::BTreeSet;
use std::process::Command;

use sessiontrail_correlate::Policy;
use sessiontrail_posture::{CheckStatus, PostureSettings, SnapshotSource, check_posture};
use sessiontrail_test_support::{Prerequisite, moto::Moto, skip, workspace_root};

const SETUP: &str = r#"
import boto3, json, io, zipfile
ssm = boto3.client("ssm"); iam = boto3.client("iam"); lam = boto3.client("lambda"); sso = boto3.client("sso-admin")
def doc(inputs):
    return json.dumps({"schemaVersion": "1.0", "description": "d", "sessionType": "Standard_Stream", "inputs": inputs})
ssm.create_document(Name="SSMRunAs-Admin-Session", DocumentType="Session", DocumentFormat="JSON", Content=doc(
    {"runAsEnabled": True, "runAsDefaultUser": "admin", "idleSessionTimeout": "20", "maxSessionDuration": "60",
     "s3BucketName": "session-logs", "kmsKeyId": "alias/sessions"}))
# Developer's document runs as root: a mismatch.
ssm.create_document(Name="SSMRunAs-Developer-Session", DocumentType="Session", DocumentFormat="JSON", Content=doc(
    {"runAsEnabled": "true", "runAsDefaultUser": "root", "idleSessionTimeout": "20", "maxSessionDuration": "60",
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
# AWS's own ReadOnlyAccess (ssm:Describe*, ssm:Get*, ssm:List*, ... no StartSession).
read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess"
inst = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
def own(document, check):
    statement = {"Effect": "Allow", "Action": "ssm:StartSession",
        "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ssm:*:*:document/" + document]}
    if check:
        statement["Condition"] = {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
for name, document, check in [("Admin", "SSMRunAs-Admin-Session", True), ("Developer", "SSMRunAs-Developer-Session", False)]:
    ps = sso.create_permission_set(Name=name, InstanceArn=inst)["PermissionSet"]["PermissionSetArn"]
    sso.put_inline_policy_to_permission_set(InstanceArn=inst, PermissionSetArn=ps, InlinePolicy=own(document, check))
    sso.attach_managed_policy_to_permission_set(InstanceArn=inst, PermissionSetArn=ps, ManagedPolicyArn=read_only)
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

#[test]
fn the_snapshot_script_saves_what_aws_answers() {
    let test = "the_snapshot_script_saves_what_aws_answers";
    if !sessiontrail_test_support::runs("aws", "--version") {
        skip(test, Prerequisite::AwsCli, "the AWS CLI is not on PATH");
        return;
    }
    // moto's IAM holds AWS's managed policies only when asked; the server inherits this
    // (the only test of this binary, so no other thread reads the environment).
    unsafe { std::env::set_var("MOTO_IAM_LOAD_MANAGED_POLICIES", "true") };
    let Some(moto) = Moto::start(test) else {
        return;
    };
    moto.python(SETUP);
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snapshot");
    let output = Command::new("bash")
        .arg(workspace_root().join("scripts/posture-snapshot.sh"))
        .args(["--out", snapshot.to_str().unwrap()])
        .args([
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-0123456789abcdef",
        ])
        .args(["--permission-set", "Admin=SSMRunAs-Admin-Session"])
        .args(["--permission-set", "Developer=SSMRunAs-Developer-Session"])
        .args(["--account", "123456789012", "--region", "us-east-1"])
        .args(["--broker-function", "sessiontrail-broker"])
        .envs(moto.env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for file in [
        "accounts/123456789012/us-east-1/ssm-get-document-SSMRunAs-Admin-Session.json",
        "accounts/123456789012/us-east-1/ssm-get-document-SSM-SessionManagerRunShell.json",
        "accounts/123456789012/iam-list-role-tags-sessiontrail-session-starter.json",
        "permission-sets/Admin/sso-admin-get-inline-policy-for-permission-set.json",
        "permission-sets/Admin/iam-get-policy-version-ReadOnlyAccess.json",
        "permission-sets/Developer/sso-admin-list-customer-managed-policy-references-in-permission-set.json",
        "broker/lambda-get-function-url-config.json",
        "broker/iam-list-role-tags.json",
        "sso-admin-describe-instance-access-control-attribute-configuration.error",
    ] {
        assert!(snapshot.join(file).is_file(), "{file} not saved: {stderr}");
    }
    let policy = Policy::parse(POLICY).unwrap();
    let source = SnapshotSource::open(&snapshot).unwrap();
    let report = check_posture(&policy, &source, &PostureSettings::default()).unwrap();
    let found: BTreeSet<(&str, String)> = report
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.resource.clone()))
        .collect();
    let expected: BTreeSet<(&str, String)> = [
        ("posture_run_as_mismatch", "SSMRunAs-Developer-Session"),
        ("posture_default_run_as", "SSM-SessionManagerRunShell"),
        ("posture_role_run_as_tag", "sessiontrail-session-starter"),
        ("posture_url_auth", "sessiontrail-broker"),
        ("posture_document_access_check_missing", "Developer"),
        ("posture_check_not_made", "IAM Identity Center instance"),
    ]
    .into_iter()
    .map(|(r, s)| (r, s.to_string()))
    .collect();
    assert_eq!(found, expected, "{:#?}", report.findings);
    assert!(report.rejects.is_empty(), "{:?}", report.rejects);
    let passed: BTreeSet<(&str, &str)> = report
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Passed)
        .map(|c| (c.check, c.resource.as_str()))
        .collect();
    assert!(passed.contains(&("session_document", "SSMRunAs-Admin-Session")));
    assert!(passed.contains(&("permission_set_policies", "Admin")));
    assert!(passed.contains(&("broker_role_tags", "sessiontrail-broker-role")));
}
