//! The guard rails per-role mapping depends on, generated from the policy file the
//! broker and the audit share (docs/contracts.md "Broker guard rails"):
//!
//! - [`session_document`]: each permission set's Session document (`Standard_Stream`,
//!   `runAsEnabled: true`, `runAsDefaultUser` the policy's `run_as`, idle and maximum
//!   durations, session logging);
//! - [`member_template`]: the CloudFormation template a StackSet deploys to every member
//!   account and region: those documents, and (in one region) the session-starter role
//!   the broker assumes, trusting only the broker's role, requiring a `SourceIdentity`,
//!   allowed `ssm:StartSession` only with the mapped documents;
//! - [`permission_set_policy`]: each permission set's inline policy: invoke the broker,
//!   start sessions only with its own document (with `ssm:SessionDocumentAccessCheck`, and
//!   an explicit deny of every other document, so a broader managed policy such as
//!   AdministratorAccess cannot open the default `SSM-SessionManagerRunShell` when the
//!   broker is bypassed), resume and terminate sessions (the plugin does both with the
//!   user's own credentials).
//!
//! Values are JSON (`serde_json::Value`), written by [`file_text`] with sorted keys:
//! CloudFormation and IAM take JSON as they take YAML.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sessiontrail_correlate::Policy;
use sessiontrail_correlate::policy::PermissionSetPolicy;

/// What the generated guard rails need beyond the policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardRailSettings {
    /// The AWS partition of the permission-set policies' ARNs (`aws`, `aws-us-gov`, ...).
    pub partition: String,
    /// The broker function's ARN (the broker stack's `BrokerFunctionArn` output).
    pub broker_function_arn: String,
    /// The session-starter role's name (the broker stack's `StarterRoleName`).
    pub starter_role_name: String,
    /// `idleSessionTimeout`, minutes (1 to 60).
    pub idle_session_timeout_minutes: u32,
    /// `maxSessionDuration`, minutes (1 to 1440).
    pub max_session_duration_minutes: u32,
}

impl Default for GuardRailSettings {
    fn default() -> Self {
        GuardRailSettings {
            partition: "aws".into(),
            broker_function_arn: String::new(),
            starter_role_name: "sessiontrail-session-starter".into(),
            idle_session_timeout_minutes: 20,
            max_session_duration_minutes: 60,
        }
    }
}

/// Why guard rails cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardRailError {
    #[error(
        "permission set {0} has no run_as in the policy: its document could not set runAsDefaultUser (add run_as = \"<linux user>\" to its [[permission_set]])"
    )]
    NoRunAs(String),
    #[error("permission set {0} is not in the policy (its [[permission_set]] names: {1})")]
    UnknownPermissionSet(String, String),
    #[error(
        "the policy maps no permission set: add a [[permission_set]] with name, document and run_as"
    )]
    NoPermissionSets,
    #[error(
        "permission set {0} is mapped to {1}, which is {2}: give it a Session document of its own (e.g. SSMRunAs-{0}-Session)"
    )]
    SharedDocument(String, String, &'static str),
    #[error("{0}")]
    Setting(String),
}

/// Why a document name cannot be a permission set's own, or None.
fn not_own_document(name: &str) -> Option<&'static str> {
    if name == "SSM-SessionManagerRunShell" {
        return Some(
            "the account's Session Manager preferences, what every session without a document runs",
        );
    }
    let lower = name.to_ascii_lowercase();
    ["aws", "amazon", "amzn"]
        .iter()
        .any(|p| lower.starts_with(p))
        .then_some("a name AWS reserves for its own documents")
}

use sessiontrail_ingest::arn::PARTITIONS;

impl GuardRailSettings {
    fn check(&self) -> Result<(), GuardRailError> {
        if !PARTITIONS.contains(&self.partition.as_str()) {
            return Err(GuardRailError::Setting(format!(
                "partition {:?} is not an AWS partition ({})",
                self.partition,
                PARTITIONS.join(", ")
            )));
        }
        let arn_prefix = format!("arn:{}:lambda:", self.partition);
        let parts: Vec<&str> = self.broker_function_arn.split(':').collect();
        if !self.broker_function_arn.starts_with(&arn_prefix)
            || parts.len() != 7
            || parts[5] != "function"
            || !sessiontrail_ingest::arn::is_account_id(parts[4])
            || parts[6].is_empty()
            || self.broker_function_arn.contains(['*', '?', '$'])
        {
            return Err(GuardRailError::Setting(format!(
                "broker function ARN {:?} is not {arn_prefix}REGION:ACCOUNT:function:NAME",
                self.broker_function_arn
            )));
        }
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        };
        if !name_ok(&self.starter_role_name) {
            return Err(GuardRailError::Setting(format!(
                "starter role name {:?} is not an IAM role name (1 to 64 of letters, digits, + = , . @ _ -)",
                self.starter_role_name
            )));
        }
        if !(1..=60).contains(&self.idle_session_timeout_minutes) {
            return Err(GuardRailError::Setting(format!(
                "idle session timeout {} is not 1 to 60 minutes",
                self.idle_session_timeout_minutes
            )));
        }
        if !(1..=1440).contains(&self.max_session_duration_minutes) {
            return Err(GuardRailError::Setting(format!(
                "maximum session duration {} is not 1 to 1440 minutes",
                self.max_session_duration_minutes
            )));
        }
        Ok(())
    }
}

fn mapped(policy: &Policy) -> Result<Vec<(&str, &PermissionSetPolicy, &str)>, GuardRailError> {
    if policy.permission_sets.is_empty() {
        return Err(GuardRailError::NoPermissionSets);
    }
    policy
        .permission_sets
        .iter()
        .map(|(name, set)| {
            if let Some(why) = not_own_document(&set.document) {
                return Err(GuardRailError::SharedDocument(
                    name.clone(),
                    set.document.clone(),
                    why,
                ));
            }
            match &set.run_as {
                Some(run_as) => Ok((name.as_str(), set, run_as.as_str())),
                None => Err(GuardRailError::NoRunAs(name.clone())),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|sets| {
            // Two permission sets on one document would share its Linux user.
            let mut seen = BTreeMap::new();
            for (name, set, _) in &sets {
                if let Some(other) = seen.insert(set.document.as_str(), *name) {
                    return Err(GuardRailError::Setting(format!(
                        "permission sets {other} and {name} are both mapped to {}: each needs its own Session document",
                        set.document
                    )));
                }
            }
            Ok(sets)
        })
}

/// The Session document of a permission set: what SSM runs and as whom. Session logging
/// goes to the S3 bucket / CloudWatch log group of the template's parameters (empty for
/// none), encrypted.
pub fn session_document(
    permission_set: &str,
    run_as: &str,
    settings: &GuardRailSettings,
    logging: &Value,
) -> Value {
    json!({
        "schemaVersion": "1.0",
        "description": format!(
            "sessiontrail: sessions of permission set {permission_set} run as {run_as} (generated from the policy file)"
        ),
        "sessionType": "Standard_Stream",
        "inputs": {
            "runAsEnabled": true,
            "runAsDefaultUser": run_as,
            "idleSessionTimeout": settings.idle_session_timeout_minutes.to_string(),
            "maxSessionDuration": settings.max_session_duration_minutes.to_string(),
            "s3BucketName": logging["s3BucketName"],
            "s3KeyPrefix": logging["s3KeyPrefix"],
            "s3EncryptionEnabled": true,
            "cloudWatchLogGroupName": logging["cloudWatchLogGroupName"],
            "cloudWatchEncryptionEnabled": true,
            "cloudWatchStreamingEnabled": false,
            "kmsKeyId": logging["kmsKeyId"],
            "shellProfile": {"linux": "", "windows": ""}
        }
    })
}

/// A CloudFormation logical id from a permission-set name (letters and digits only,
/// with a hash of the name so two names never collide).
fn logical_id(prefix: &str, name: &str) -> String {
    let clean: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    // FNV-1a, 32 bits: stable across builds and platforms.
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{prefix}{clean}{hash:08X}")
}

/// The member-account template (for a StackSet over the organisation's accounts and the
/// regions sessions run in).
pub fn member_template(
    policy: &Policy,
    settings: &GuardRailSettings,
) -> Result<Value, GuardRailError> {
    settings.check()?;
    let sets = mapped(policy)?;
    let logging = json!({
        "s3BucketName": {"Ref": "SessionLogBucketName"},
        "s3KeyPrefix": {"Ref": "SessionLogKeyPrefix"},
        "cloudWatchLogGroupName": {"Ref": "SessionLogGroupName"},
        "kmsKeyId": {"Ref": "SessionKmsKeyId"},
    });
    let mut resources = BTreeMap::new();
    let mut documents = Vec::new();
    for (name, set, run_as) in &sets {
        resources.insert(
            logical_id("Document", name),
            json!({
                "Type": "AWS::SSM::Document",
                "Properties": {
                    "Name": set.document,
                    "DocumentType": "Session",
                    "DocumentFormat": "JSON",
                    "UpdateMethod": "NewVersion",
                    "Content": session_document(name, run_as, settings, &logging),
                }
            }),
        );
        documents.push(json!({
            "Fn::Sub": format!("arn:${{AWS::Partition}}:ssm:*:${{AWS::AccountId}}:document/{}", set.document)
        }));
    }
    let starter_resources: Vec<Value> = [
        json!({"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"}),
        json!({"Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:managed-instance/*"}),
    ]
    .into_iter()
    .chain(documents)
    .collect();
    resources.insert(
        "SessionStarterRole".into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Condition": "IsRoleRegion",
            "Properties": {
                "RoleName": settings.starter_role_name,
                "Description": "sessiontrail: the session broker starts SSM sessions with this role, naming the human as SourceIdentity",
                "MaxSessionDuration": 3600,
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "OnlyTheBrokerWithTheUsersName",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Ref": "BrokerRoleArn"}},
                        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                        "Condition": {"StringLike": {"sts:SourceIdentity": "?*"}}
                    }]
                },
                "Policies": [{
                    "PolicyName": "start-sessions-with-the-mapped-documents-only",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{
                            "Sid": "StartSessionsWithTheMappedDocuments",
                            "Effect": "Allow",
                            "Action": "ssm:StartSession",
                            "Resource": starter_resources,
                            "Condition": {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
                        }]
                    }
                }]
            }
        }),
    );
    Ok(json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "sessiontrail broker guard rails for a member account (generated by `sessiontrail guard-rails` from the policy file): one Session document per permission set, and the session-starter role the broker assumes",
        "Parameters": {
            "BrokerRoleArn": {
                "Type": "String",
                "Description": "The broker's execution role (the broker stack's BrokerRoleArn output): the only principal the starter role trusts",
                "AllowedPattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
            },
            "RoleRegion": {
                "Type": "String",
                "Description": "The one region of the StackSet that creates the (global) starter role",
                "AllowedPattern": "^[a-z]{2}(-[a-z]+)+-[0-9]$"
            },
            "SessionLogBucketName": {
                "Type": "String", "Default": "",
                "Description": "Bucket session transcripts are written to (empty: none)",
                "AllowedPattern": "^$|^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
            },
            "SessionLogKeyPrefix": {
                "Type": "String", "Default": "",
                "Description": "Key prefix of the session transcripts",
                "AllowedPattern": "^[A-Za-z0-9!_.'()/=-]*$"
            },
            "SessionLogGroupName": {
                "Type": "String", "Default": "",
                "Description": "CloudWatch log group session transcripts are written to (empty: none)",
                "AllowedPattern": "^[A-Za-z0-9_/.#-]*$"
            },
            "SessionKmsKeyId": {
                "Type": "String", "Default": "",
                "Description": "KMS key encrypting the session data stream (empty: TLS only)",
                "AllowedPattern": "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+$|^[A-Za-z0-9-]+$"
            }
        },
        "Conditions": {
            "IsRoleRegion": {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "RoleRegion"}]}
        },
        "Resources": resources,
    }))
}

/// The inline policy of one permission set (IAM Identity Center
/// `put-inline-policy-to-permission-set`).
pub fn permission_set_policy(
    policy: &Policy,
    permission_set: &str,
    settings: &GuardRailSettings,
) -> Result<Value, GuardRailError> {
    settings.check()?;
    let Some(set) = policy.permission_sets.get(permission_set) else {
        return Err(GuardRailError::UnknownPermissionSet(
            permission_set.into(),
            policy
                .permission_sets
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        ));
    };
    let p = &settings.partition;
    let document = format!("arn:{p}:ssm:*:*:document/{}", set.document);
    let targets = [
        format!("arn:{p}:ec2:*:*:instance/*"),
        format!("arn:{p}:ssm:*:*:managed-instance/*"),
    ];
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InvokeTheSessionBroker",
                "Effect": "Allow",
                "Action": ["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"],
                "Resource": settings.broker_function_arn,
            },
            {
                "Sid": "StartSessionsOnlyWithOwnDocument",
                "Effect": "Allow",
                "Action": "ssm:StartSession",
                "Resource": [targets[0].clone(), targets[1].clone(), document.clone()],
                "Condition": {"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}}
            },
            {
                "Sid": "NoOtherSessionDocument",
                "Effect": "Deny",
                "Action": "ssm:StartSession",
                "NotResource": [targets[0].clone(), targets[1].clone(), document],
            },
            {
                "Sid": "ResumeAndTerminateSessions",
                "Effect": "Allow",
                "Action": ["ssm:ResumeSession", "ssm:TerminateSession"],
                "Resource": format!("arn:{p}:ssm:*:*:session/*"),
            }
        ]
    }))
}

/// The text of a generated file: pretty JSON with keys sorted at every depth (the same
/// bytes whatever serde_json's features in the build), ending in a newline.
pub fn file_text(value: &Value) -> String {
    sessiontrail_ingest::canonical_json::to_canonical_string_pretty(value) + "\n"
}

/// Writes `files` into `dir` (created if missing) with [`file_text`]; returns their paths.
pub fn write_files(
    dir: &std::path::Path,
    files: &[(String, Value)],
) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
    })?;
    files
        .iter()
        .map(|(name, value)| {
            let path = dir.join(name);
            std::fs::write(&path, file_text(value)).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
            })?;
            Ok(path)
        })
        .collect()
}

/// Every file `sessiontrail guard-rails` writes: (file name, JSON), in order.
pub fn guard_rail_files(
    policy: &Policy,
    settings: &GuardRailSettings,
) -> Result<Vec<(String, Value)>, GuardRailError> {
    let mut files = vec![(
        "member-stackset.json".to_string(),
        member_template(policy, settings)?,
    )];
    for name in policy.permission_sets.keys() {
        files.push((
            format!("permission-set-{name}.json"),
            permission_set_policy(policy, name, settings)?,
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
default_document = "SSM-SessionManagerRunShell"
[broker]
role_arns = ["arn:aws:iam::111122223333:role/ssm-session-broker"]
[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"
[[permission_set]]
name = "Developer"
document = "SSMRunAs-Developer-Session"
run_as = "dev"
"#;

    fn settings() -> GuardRailSettings {
        GuardRailSettings {
            broker_function_arn:
                "arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker".into(),
            ..GuardRailSettings::default()
        }
    }

    #[test]
    fn each_permission_set_gets_its_document_and_linux_user() {
        let policy = Policy::parse(POLICY).unwrap();
        let template = member_template(&policy, &settings()).unwrap();
        let documents: Vec<(&str, &str, &str)> = template["Resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["Type"] == "AWS::SSM::Document")
            .map(|r| {
                let p = &r["Properties"];
                (
                    p["Name"].as_str().unwrap(),
                    p["Content"]["inputs"]["runAsDefaultUser"].as_str().unwrap(),
                    p["Content"]["sessionType"].as_str().unwrap(),
                )
            })
            .collect();
        let mut documents = documents;
        documents.sort();
        assert_eq!(
            documents,
            [
                ("SSMRunAs-Admin-Session", "admin", "Standard_Stream"),
                ("SSMRunAs-Developer-Session", "dev", "Standard_Stream"),
            ]
        );
        for r in template["Resources"].as_object().unwrap().values() {
            if r["Type"] == "AWS::SSM::Document" {
                assert_eq!(r["Properties"]["Content"]["inputs"]["runAsEnabled"], true);
                assert_eq!(r["Properties"]["DocumentType"], "Session");
            }
        }
    }

    #[test]
    fn the_starter_role_trusts_only_the_broker_and_needs_a_source_identity() {
        let policy = Policy::parse(POLICY).unwrap();
        let template = member_template(&policy, &settings()).unwrap();
        let role = &template["Resources"]["SessionStarterRole"];
        let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().unwrap().len(), 1);
        assert_eq!(
            trust[0]["Principal"],
            json!({"AWS": {"Ref": "BrokerRoleArn"}})
        );
        assert_eq!(
            trust[0]["Action"],
            json!(["sts:AssumeRole", "sts:SetSourceIdentity"])
        );
        assert_eq!(
            trust[0]["Condition"],
            json!({"StringLike": {"sts:SourceIdentity": "?*"}})
        );
        let allowed = &role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0];
        assert_eq!(allowed["Action"], "ssm:StartSession");
        let resources: Vec<String> = allowed["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Fn::Sub"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            resources,
            [
                "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*",
                "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:managed-instance/*",
                "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:document/SSMRunAs-Admin-Session",
                "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:document/SSMRunAs-Developer-Session",
            ]
        );
        assert_eq!(role["Condition"], "IsRoleRegion");
    }

    #[test]
    fn a_permission_set_may_start_only_with_its_own_document() {
        let policy = Policy::parse(POLICY).unwrap();
        let doc = permission_set_policy(&policy, "Developer", &settings()).unwrap();
        let statements = doc["Statement"].as_array().unwrap();
        let deny = statements.iter().find(|s| s["Effect"] == "Deny").unwrap();
        assert_eq!(deny["Action"], "ssm:StartSession");
        assert_eq!(
            deny["NotResource"],
            json!([
                "arn:aws:ec2:*:*:instance/*",
                "arn:aws:ssm:*:*:managed-instance/*",
                "arn:aws:ssm:*:*:document/SSMRunAs-Developer-Session",
            ])
        );
        let start = statements
            .iter()
            .find(|s| s["Sid"] == "StartSessionsOnlyWithOwnDocument")
            .unwrap();
        assert_eq!(
            start["Condition"],
            json!({"BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"}})
        );
        let invoke = statements
            .iter()
            .find(|s| s["Sid"] == "InvokeTheSessionBroker")
            .unwrap();
        assert_eq!(
            invoke["Resource"],
            "arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker"
        );
    }

    #[test]
    fn what_cannot_be_generated_says_what_to_fix() {
        let no_run_as = POLICY.replace("run_as = \"dev\"\n", "");
        let policy = Policy::parse(&no_run_as).unwrap();
        assert_eq!(
            member_template(&policy, &settings()).unwrap_err(),
            GuardRailError::NoRunAs("Developer".into())
        );
        let shared = POLICY.replace("SSMRunAs-Developer-Session", "SSM-SessionManagerRunShell");
        assert_eq!(
            member_template(&Policy::parse(&shared).unwrap(), &settings())
                .unwrap_err()
                .to_string(),
            "permission set Developer is mapped to SSM-SessionManagerRunShell, which is the account's Session Manager preferences, what every session without a document runs: give it a Session document of its own (e.g. SSMRunAs-Developer-Session)"
        );
        let reserved = POLICY.replace("SSMRunAs-Developer-Session", "AWS-StartInteractiveCommand");
        assert!(matches!(
            member_template(&Policy::parse(&reserved).unwrap(), &settings()),
            Err(GuardRailError::SharedDocument(..))
        ));
        let twice = POLICY.replace("SSMRunAs-Developer-Session", "SSMRunAs-Admin-Session");
        assert!(matches!(
            member_template(&Policy::parse(&twice).unwrap(), &settings()),
            Err(GuardRailError::Setting(m)) if m.contains("Admin and Developer")
        ));
        let policy = Policy::parse(POLICY).unwrap();
        assert_eq!(
            permission_set_policy(&policy, "Ops", &settings())
                .unwrap_err()
                .to_string(),
            "permission set Ops is not in the policy (its [[permission_set]] names: Admin, Developer)"
        );
        for (arn, partition) in [
            ("arn:aws:lambda:eu-west-1:111122223333:function:*", "aws"),
            ("arn:aws:lambda:eu-west-1:1111:function:b", "aws"),
            (
                "arn:aws:lambda:eu-west-1:111122223333:function:b",
                "aws-us-gov",
            ),
            (
                "arn:aws:lambda:eu-west-1:111122223333:function:b",
                "aws-moon",
            ),
        ] {
            let s = GuardRailSettings {
                broker_function_arn: arn.into(),
                partition: partition.into(),
                ..settings()
            };
            assert!(
                matches!(
                    member_template(&policy, &s),
                    Err(GuardRailError::Setting(_))
                ),
                "{arn} {partition}"
            );
        }
    }

    #[test]
    fn logical_ids_are_letters_and_digits_and_never_collide() {
        let a = logical_id("Document", "Dev-Ops");
        let b = logical_id("Document", "DevOps");
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }
}
