//! Posture snapshot folders with their ground truth, for `sessiontrail posture`
//! (docs/contracts.md "Posture"): the JSON the AWS CLI commands of
//! `scripts/posture-snapshot.sh` print, for an organisation deployed as
//! `deploy/broker/sessiontrail.example.toml` and the guard rails in
//! `deploy/broker/example/` say (two member accounts, two regions, three permission
//! sets), once as it should be and once per planted failure.
//!
//! [`write_posture_cases`] writes `OUT/sessiontrail.toml` and, per case,
//! `OUT/<case>/snapshot/` and `OUT/<case>/truth.json`:
//! `{"case", "description", "findings": [{"rule", "account", "region", "resource"}],
//! "missing": [snapshot paths deleted], "rejects": [snapshot paths made malformed]}`.
//! The expected findings are stated here from what was planted, without the checker.

use std::fs;
use std::path::{Path, PathBuf};

use crate::json::{J, Obj, strings};

pub const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
pub const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
/// (permission set, document, Linux user), as in the example policy.
pub const PERMISSION_SETS: [(&str, &str, &str); 3] = [
    ("Admin", "SSMRunAs-Admin-Session", "admin"),
    ("Developer", "SSMRunAs-Developer-Session", "dev"),
    ("ReadOnly", "SSMRunAs-ReadOnly-Session", "readonly"),
];
pub const BROKER_ACCOUNT: &str = "111122223333";
pub const BROKER_REGION: &str = "eu-west-1";
pub const BROKER_FUNCTION: &str = "sessiontrail-broker";
pub const BROKER_ROLE: &str = "sessiontrail-broker-BrokerRole-1A2B3C4D5E6F";
pub const STARTER_ROLE: &str = "sessiontrail-session-starter";
/// Who a session bypassing the broker runs as in the passing case.
pub const DEFAULT_RUN_AS: &str = "nobody";
pub const POLICY_FILE: &str = "sessiontrail.toml";

/// The policy the cases are judged against: the example policy's content.
pub const POLICY: &str = r#"default_document = "SSM-SessionManagerRunShell"

[broker]
role_arns = []
role_names = ["sessiontrail-session-starter"]
grace = "30m"
max_clock_skew = "5m"
retention = "14d"

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"

[[permission_set]]
name = "Developer"
document = "SSMRunAs-Developer-Session"
run_as = "dev"

[[permission_set]]
name = "ReadOnly"
document = "SSMRunAs-ReadOnly-Session"
run_as = "readonly"

[direct]
allowed_permission_sets = ["BreakGlass"]
"#;

/// One expected finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedFinding {
    pub rule: &'static str,
    pub account: Option<&'static str>,
    pub region: Option<&'static str>,
    pub resource: String,
}

/// One written case.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureCase {
    pub name: &'static str,
    pub description: &'static str,
    /// `OUT/<case>/snapshot`.
    pub snapshot: PathBuf,
    pub findings: Vec<ExpectedFinding>,
    pub missing: Vec<String>,
    pub rejects: Vec<String>,
}

/// What a case changes in the passing organisation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Plant {
    Nothing,
    WrongRunAsUser,
    RunAsDisabled,
    AbacRunAs,
    InlineWithoutCheck,
    InlineSsmStar,
    BrokerRoleTagged,
    StarterRoleTagged,
    UrlAuthNone,
    MissingFiles,
    DocumentDeleted,
    PowerUserManaged,
    MalformedInline,
    NotStandardStream,
    NoLoggingNoKms,
    LongSessions,
    DefaultRunAsRoot,
    ParameterWithoutDefault,
}

const CASES: [(&str, Plant, &str); 18] = [
    ("pass", Plant::Nothing, "every control holds"),
    (
        "wrong-run-as-default-user",
        Plant::WrongRunAsUser,
        "Developer's document in 444455556666 us-east-1 runs as admin",
    ),
    (
        "run-as-disabled",
        Plant::RunAsDisabled,
        "Admin's document in 111122223333 eu-west-1 has runAsEnabled false",
    ),
    (
        "abac-run-as",
        Plant::AbacRunAs,
        "Identity Center passes the attribute SSMSessionRunAs",
    ),
    (
        "inline-without-document-check",
        Plant::InlineWithoutCheck,
        "Developer's inline policy allows StartSession without ssm:SessionDocumentAccessCheck",
    ),
    (
        "inline-ssm-star",
        Plant::InlineSsmStar,
        "ReadOnly's inline policy allows ssm:* on *",
    ),
    (
        "broker-role-tagged",
        Plant::BrokerRoleTagged,
        "the broker's role carries SSMSessionRunAs",
    ),
    (
        "starter-role-tagged",
        Plant::StarterRoleTagged,
        "the starter role in 444455556666 carries SSMSessionRunAs",
    ),
    (
        "url-auth-none",
        Plant::UrlAuthNone,
        "the broker's function URL has AuthType NONE",
    ),
    (
        "missing-files",
        Plant::MissingFiles,
        "two command outputs were not saved",
    ),
    (
        "document-deleted",
        Plant::DocumentDeleted,
        "Admin's document does not exist in 111122223333 us-east-1",
    ),
    (
        "poweruser-managed",
        Plant::PowerUserManaged,
        "Admin also has PowerUserAccess (NotAction iam:*, no document check)",
    ),
    (
        "malformed-inline-policy",
        Plant::MalformedInline,
        "Developer's saved inline policy is truncated JSON",
    ),
    (
        "not-standard-stream",
        Plant::NotStandardStream,
        "Developer's document in 111122223333 us-east-1 is a Port session",
    ),
    (
        "no-logging-no-kms",
        Plant::NoLoggingNoKms,
        "ReadOnly's document in 111122223333 eu-west-1 logs nowhere and sets no kmsKeyId",
    ),
    (
        "long-sessions",
        Plant::LongSessions,
        "Admin's document in 444455556666 eu-west-1: idle 60, maximum 720 minutes",
    ),
    (
        "default-run-as-root",
        Plant::DefaultRunAsRoot,
        "the preferences in 444455556666 us-east-1 run bypassing sessions as root",
    ),
    (
        "parameter-without-default",
        Plant::ParameterWithoutDefault,
        "ReadOnly's document in 444455556666 eu-west-1 takes runAsDefaultUser from a parameter without a default",
    ),
];

fn document_content(
    permission_set: &str,
    run_as: &str,
    account: &str,
    region: &str,
    plant: Plant,
) -> J {
    let here = |p: Plant, ps: &str, a: &str, r: &str| {
        plant == p && permission_set == ps && account == a && region == r
    };
    let run_as_enabled = !here(Plant::RunAsDisabled, "Admin", "111122223333", "eu-west-1");
    let unlogged = here(
        Plant::NoLoggingNoKms,
        "ReadOnly",
        "111122223333",
        "eu-west-1",
    );
    let long = here(Plant::LongSessions, "Admin", "444455556666", "eu-west-1");
    let no_default = here(
        Plant::ParameterWithoutDefault,
        "ReadOnly",
        "444455556666",
        "eu-west-1",
    );
    let user = if plant == Plant::WrongRunAsUser
        && permission_set == "Developer"
        && account == "444455556666"
        && region == "us-east-1"
    {
        "admin"
    } else {
        run_as
    };
    // ReadOnly's document in the second account takes its user from a parameter and
    // its booleans as strings (both allowed in Session documents).
    let parameterised = permission_set == "ReadOnly" && account == "444455556666";
    let mut inputs = Obj::new();
    inputs.push("cloudWatchEncryptionEnabled", true);
    inputs.push("cloudWatchLogGroupName", "");
    inputs.push("cloudWatchStreamingEnabled", false);
    inputs.push("idleSessionTimeout", if long { "60" } else { "20" });
    inputs.push(
        "kmsKeyId",
        if unlogged {
            String::new()
        } else {
            format!("arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        },
    );
    inputs.push("maxSessionDuration", if long { "720" } else { "60" });
    if parameterised {
        inputs.push("runAsDefaultUser", "{{ linuxUser }}");
        inputs.push(
            "runAsEnabled",
            if run_as_enabled { "true" } else { "false" },
        );
    } else {
        inputs.push("runAsDefaultUser", user);
        inputs.push("runAsEnabled", run_as_enabled);
    }
    inputs.push(
        "s3BucketName",
        if unlogged {
            String::new()
        } else {
            format!("sessiontrail-session-logs-{account}")
        },
    );
    inputs.push("s3EncryptionEnabled", true);
    inputs.push("s3KeyPrefix", format!("sessions/{region}/"));
    inputs.push(
        "shellProfile",
        Obj::new().with("linux", "").with("windows", ""),
    );
    let mut content = Obj::new()
        .with(
            "description",
            format!("sessiontrail: sessions of permission set {permission_set} run as {run_as} (generated from the policy file)"),
        )
        .with("inputs", inputs);
    if parameterised {
        content.push(
            "parameters",
            Obj::new().with(
                "linuxUser",
                Obj::new()
                    .with("type", "String")
                    .maybe("default", (!no_default).then_some(user))
                    .with("description", "The Linux user"),
            ),
        );
    }
    content.push("schemaVersion", "1.0");
    let port = here(
        Plant::NotStandardStream,
        "Developer",
        "111122223333",
        "us-east-1",
    );
    content.push("sessionType", if port { "Port" } else { "Standard_Stream" });
    content.into()
}

fn default_preferences(run_as: &str) -> J {
    Obj::new()
        .with("schemaVersion", "1.0")
        .with(
            "description",
            "Document to hold regional settings for Session Manager",
        )
        .with("sessionType", "Standard_Stream")
        .with(
            "inputs",
            Obj::new()
                .with("s3BucketName", "")
                .with("s3KeyPrefix", "")
                .with("s3EncryptionEnabled", true)
                .with("cloudWatchLogGroupName", "")
                .with("cloudWatchEncryptionEnabled", true)
                .with("cloudWatchStreamingEnabled", true)
                .with("kmsKeyId", "")
                .with("runAsEnabled", true)
                .with("runAsDefaultUser", run_as)
                .with("idleSessionTimeout", "20")
                .with("maxSessionDuration", "")
                .with(
                    "shellProfile",
                    Obj::new().with("windows", "").with("linux", ""),
                ),
        )
        .into()
}

/// What `aws ssm get-document --document-format JSON` prints: `Content` a JSON string.
fn get_document(name: &str, content: &J) -> J {
    Obj::new()
        .with("Name", name)
        .with("CreatedDate", "2026-11-02T10:00:00.000000+00:00")
        .with("DocumentVersion", "1")
        .with("Status", "Active")
        .with("Content", content.to_pretty().trim_end().to_string())
        .with("DocumentType", "Session")
        .with("DocumentFormat", "JSON")
        .into()
}

/// The permission set's inline policy, as `deploy/broker/example/permission-set-<name>.json`.
pub fn inline_policy(document: &str, with_check: bool) -> J {
    let own = strings([
        "arn:aws:ec2:*:*:instance/*".to_string(),
        "arn:aws:ssm:*:*:managed-instance/*".to_string(),
        format!("arn:aws:ssm:*:*:document/{document}"),
    ]);
    let mut start = Obj::new().with("Action", "ssm:StartSession");
    if with_check {
        start.push(
            "Condition",
            Obj::new().with(
                "BoolIfExists",
                Obj::new().with("ssm:SessionDocumentAccessCheck", "true"),
            ),
        );
    }
    start.push("Effect", "Allow");
    start.push("Resource", own.clone());
    start.push("Sid", "StartSessionsOnlyWithOwnDocument");
    Obj::new()
        .with(
            "Statement",
            vec![
                invoke_broker(),
                start.into(),
                Obj::new()
                    .with("Action", "ssm:StartSession")
                    .with("Effect", "Deny")
                    .with("NotResource", own)
                    .with("Sid", "NoOtherSessionDocument")
                    .into(),
                Obj::new()
                    .with(
                        "Action",
                        strings(["ssm:ResumeSession", "ssm:TerminateSession"]),
                    )
                    .with("Effect", "Allow")
                    .with("Resource", "arn:aws:ssm:*:*:session/*")
                    .with("Sid", "ResumeAndTerminateSessions")
                    .into(),
            ],
        )
        .with("Version", "2012-10-17")
        .into()
}

fn invoke_broker() -> J {
    Obj::new()
        .with(
            "Action",
            strings(["lambda:InvokeFunctionUrl", "lambda:InvokeFunction"]),
        )
        .with("Effect", "Allow")
        .with(
            "Resource",
            format!("arn:aws:lambda:{BROKER_REGION}:{BROKER_ACCOUNT}:function:{BROKER_FUNCTION}"),
        )
        .with("Sid", "InvokeTheSessionBroker")
        .into()
}

fn ssm_star_policy() -> J {
    Obj::new()
        .with("Version", "2012-10-17")
        .with(
            "Statement",
            vec![
                invoke_broker(),
                Obj::new()
                    .with("Effect", "Allow")
                    .with("Action", "ssm:*")
                    .with("Resource", "*")
                    .into(),
            ],
        )
        .into()
}

/// (name, ARN, document) of a managed policy (trimmed to the statements that matter).
fn managed_policy(name: &str) -> (String, J) {
    let document = match name {
        "ReadOnlyAccess" => Obj::new().with("Version", "2012-10-17").with(
            "Statement",
            vec![
                Obj::new()
                    .with("Effect", "Allow")
                    .with(
                        "Action",
                        strings(["ec2:Describe*", "ssm:Describe*", "ssm:Get*", "ssm:List*"]),
                    )
                    .with("Resource", "*")
                    .into(),
            ],
        ),
        _ => Obj::new().with("Version", "2012-10-17").with(
            "Statement",
            vec![
                Obj::new()
                    .with("Effect", "Allow")
                    .with(
                        "NotAction",
                        strings(["iam:*", "organizations:*", "account:*"]),
                    )
                    .with("Resource", "*")
                    .into(),
            ],
        ),
    };
    (format!("arn:aws:iam::aws:policy/{name}"), document.into())
}

fn tags(extra: bool) -> J {
    let mut tags = vec![J::from(
        Obj::new()
            .with("Key", "Project")
            .with("Value", "sessiontrail"),
    )];
    if extra {
        tags.push(
            Obj::new()
                .with("Key", "SSMSessionRunAs")
                .with("Value", "root")
                .into(),
        );
    }
    Obj::new()
        .with("Tags", tags)
        .with("IsTruncated", false)
        .into()
}

struct Writer {
    root: PathBuf,
}

impl Writer {
    fn write(&self, relative: &str, text: &str) -> std::io::Result<()> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, text)
    }
    fn json(&self, relative: &str, value: &J) -> std::io::Result<()> {
        self.write(relative, &value.to_pretty())
    }
}

fn write_snapshot(root: &Path, plant: Plant) -> std::io::Result<()> {
    let w = Writer {
        root: root.to_path_buf(),
    };
    for account in ACCOUNTS {
        for region in REGIONS {
            for (ps, document, run_as) in PERMISSION_SETS {
                let path = format!("accounts/{account}/{region}/ssm-get-document-{document}.json");
                if plant == Plant::DocumentDeleted
                    && ps == "Admin"
                    && account == "111122223333"
                    && region == "us-east-1"
                {
                    w.write(
                        &path.replace(".json", ".error"),
                        &format!("\nAn error occurred (InvalidDocument) when calling the GetDocument operation: Document with name {document} does not exist.\n"),
                    )?;
                    continue;
                }
                let content = document_content(ps, run_as, account, region, plant);
                w.json(&path, &get_document(document, &content))?;
            }
            w.json(
                &format!(
                    "accounts/{account}/{region}/ssm-get-document-SSM-SessionManagerRunShell.json"
                ),
                &get_document(
                    "SSM-SessionManagerRunShell",
                    &default_preferences(
                        if plant == Plant::DefaultRunAsRoot
                            && account == "444455556666"
                            && region == "us-east-1"
                        {
                            "root"
                        } else {
                            DEFAULT_RUN_AS
                        },
                    ),
                ),
            )?;
        }
        w.json(
            &format!("accounts/{account}/iam-list-role-tags-{STARTER_ROLE}.json"),
            &tags(plant == Plant::StarterRoleTagged && account == "444455556666"),
        )?;
    }
    let mut attributes = vec![J::from(Obj::new().with("Key", "CostCenter").with(
        "Value",
        Obj::new().with("Source", strings(["${path:enterprise.costCenter}"])),
    ))];
    if plant == Plant::AbacRunAs {
        attributes.push(
            Obj::new()
                .with("Key", "SSMSessionRunAs")
                .with(
                    "Value",
                    Obj::new().with("Source", strings(["${path:userName}"])),
                )
                .into(),
        );
    }
    w.json(
        "sso-admin-describe-instance-access-control-attribute-configuration.json",
        &Obj::new()
            .with("Status", "ENABLED")
            .with("StatusReason", "")
            .with(
                "InstanceAccessControlAttributeConfiguration",
                Obj::new().with("AccessControlAttributes", attributes),
            )
            .into(),
    )?;
    for (ps, document, _) in PERMISSION_SETS {
        let dir = format!("permission-sets/{ps}");
        let inline = match (plant, ps) {
            (Plant::InlineWithoutCheck, "Developer") => inline_policy(document, false),
            (Plant::InlineSsmStar, "ReadOnly") => ssm_star_policy(),
            _ => inline_policy(document, true),
        };
        let mut inline_text = inline.to_json();
        if plant == Plant::MalformedInline && ps == "Developer" {
            inline_text.truncate(inline_text.len() / 2);
        }
        w.json(
            &format!("{dir}/sso-admin-get-inline-policy-for-permission-set.json"),
            &Obj::new().with("InlinePolicy", inline_text).into(),
        )?;
        let managed: Vec<&str> = match (plant, ps) {
            (_, "ReadOnly") => vec!["ReadOnlyAccess"],
            (Plant::PowerUserManaged, "Admin") => vec!["PowerUserAccess"],
            _ => vec![],
        };
        let mut attached = Vec::new();
        for name in managed {
            let (arn, document) = managed_policy(name);
            attached.push(J::from(
                Obj::new().with("Name", name).with("Arn", arn.as_str()),
            ));
            w.json(
                &format!("{dir}/iam-get-policy-version-{name}.json"),
                &Obj::new()
                    .with(
                        "PolicyVersion",
                        Obj::new()
                            .with("Document", document)
                            .with("VersionId", "v1")
                            .with("IsDefaultVersion", true)
                            .with("CreateDate", "2026-01-05T18:00:00+00:00"),
                    )
                    .into(),
            )?;
        }
        w.json(
            &format!("{dir}/sso-admin-list-managed-policies-in-permission-set.json"),
            &Obj::new().with("AttachedManagedPolicies", attached).into(),
        )?;
        w.json(
            &format!(
                "{dir}/sso-admin-list-customer-managed-policy-references-in-permission-set.json"
            ),
            &Obj::new()
                .with("CustomerManagedPolicyReferences", Vec::<J>::new())
                .into(),
        )?;
    }
    let function_arn =
        format!("arn:aws:lambda:{BROKER_REGION}:{BROKER_ACCOUNT}:function:{BROKER_FUNCTION}");
    w.json(
        "broker/lambda-get-function-configuration.json",
        &Obj::new()
            .with("FunctionName", BROKER_FUNCTION)
            .with("FunctionArn", function_arn.as_str())
            .with("Runtime", "provided.al2023")
            .with(
                "Role",
                format!("arn:aws:iam::{BROKER_ACCOUNT}:role/{BROKER_ROLE}"),
            )
            .with("Handler", "bootstrap")
            .with("Timeout", 10i64)
            .with("MemorySize", 256i64)
            .with("Architectures", strings(["arm64"]))
            .into(),
    )?;
    w.json(
        "broker/lambda-get-function-url-config.json",
        &Obj::new()
            .with(
                "FunctionUrl",
                format!(
                    "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.{BROKER_REGION}.on.aws/"
                ),
            )
            .with("FunctionArn", function_arn.as_str())
            .with(
                "AuthType",
                if plant == Plant::UrlAuthNone {
                    "NONE"
                } else {
                    "AWS_IAM"
                },
            )
            .with("CreationTime", "2026-11-02T10:00:00.000000Z")
            .with("LastModifiedTime", "2026-11-02T10:00:00.000000Z")
            .with("InvokeMode", "BUFFERED")
            .into(),
    )?;
    w.json(
        "broker/iam-list-role-tags.json",
        &tags(plant == Plant::BrokerRoleTagged),
    )?;
    Ok(())
}

fn expected(plant: Plant) -> (Vec<ExpectedFinding>, Vec<String>, Vec<String>) {
    let f = |rule, account, region, resource: &str| ExpectedFinding {
        rule,
        account,
        region,
        resource: resource.to_string(),
    };
    let not_made = "posture_check_not_made";
    match plant {
        Plant::Nothing => (vec![], vec![], vec![]),
        Plant::WrongRunAsUser => (
            vec![f(
                "posture_run_as_mismatch",
                Some("444455556666"),
                Some("us-east-1"),
                "SSMRunAs-Developer-Session",
            )],
            vec![],
            vec![],
        ),
        Plant::RunAsDisabled => (
            vec![f(
                "posture_document_not_run_as",
                Some("111122223333"),
                Some("eu-west-1"),
                "SSMRunAs-Admin-Session",
            )],
            vec![],
            vec![],
        ),
        Plant::AbacRunAs => (
            vec![f(
                "posture_abac_run_as",
                None,
                None,
                "IAM Identity Center instance",
            )],
            vec![],
            vec![],
        ),
        Plant::InlineWithoutCheck => (
            vec![f(
                "posture_document_access_check_missing",
                None,
                None,
                "Developer",
            )],
            vec![],
            vec![],
        ),
        Plant::InlineSsmStar => (
            vec![
                f(
                    "posture_permission_set_unrestricted",
                    None,
                    None,
                    "ReadOnly",
                ),
                f(
                    "posture_document_access_check_missing",
                    None,
                    None,
                    "ReadOnly",
                ),
            ],
            vec![],
            vec![],
        ),
        Plant::BrokerRoleTagged => (
            vec![f(
                "posture_role_run_as_tag",
                Some(BROKER_ACCOUNT),
                None,
                BROKER_ROLE,
            )],
            vec![],
            vec![],
        ),
        Plant::StarterRoleTagged => (
            vec![f(
                "posture_role_run_as_tag",
                Some("444455556666"),
                None,
                STARTER_ROLE,
            )],
            vec![],
            vec![],
        ),
        Plant::UrlAuthNone => (
            vec![f(
                "posture_url_auth",
                Some(BROKER_ACCOUNT),
                Some(BROKER_REGION),
                BROKER_FUNCTION,
            )],
            vec![],
            vec![],
        ),
        Plant::MissingFiles => (
            vec![
                f(
                    not_made,
                    Some("444455556666"),
                    Some("eu-west-1"),
                    "SSMRunAs-ReadOnly-Session",
                ),
                f(not_made, None, None, "Admin"),
            ],
            vec![
                "accounts/444455556666/eu-west-1/ssm-get-document-SSMRunAs-ReadOnly-Session.json"
                    .into(),
                "permission-sets/Admin/sso-admin-get-inline-policy-for-permission-set.json".into(),
            ],
            vec![],
        ),
        Plant::DocumentDeleted => (
            vec![f(
                "posture_document_missing",
                Some("111122223333"),
                Some("us-east-1"),
                "SSMRunAs-Admin-Session",
            )],
            vec![],
            vec![],
        ),
        Plant::PowerUserManaged => (
            vec![f(
                "posture_document_access_check_missing",
                None,
                None,
                "Admin",
            )],
            vec![],
            vec![],
        ),
        Plant::MalformedInline => (
            vec![f(not_made, None, None, "Developer")],
            vec![],
            vec![
                "permission-sets/Developer/sso-admin-get-inline-policy-for-permission-set.json"
                    .into(),
            ],
        ),
        Plant::NotStandardStream => (
            vec![f(
                "posture_document_not_standard_stream",
                Some("111122223333"),
                Some("us-east-1"),
                "SSMRunAs-Developer-Session",
            )],
            vec![],
            vec![],
        ),
        Plant::NoLoggingNoKms => (
            vec![
                f(
                    "posture_session_logging",
                    Some("111122223333"),
                    Some("eu-west-1"),
                    "SSMRunAs-ReadOnly-Session",
                ),
                f(
                    "posture_session_encryption",
                    Some("111122223333"),
                    Some("eu-west-1"),
                    "SSMRunAs-ReadOnly-Session",
                ),
            ],
            vec![],
            vec![],
        ),
        Plant::LongSessions => (
            vec![f(
                "posture_session_bounds",
                Some("444455556666"),
                Some("eu-west-1"),
                "SSMRunAs-Admin-Session",
            )],
            vec![],
            vec![],
        ),
        Plant::DefaultRunAsRoot => (
            vec![f(
                "posture_default_run_as",
                Some("444455556666"),
                Some("us-east-1"),
                "SSM-SessionManagerRunShell",
            )],
            vec![],
            vec![],
        ),
        Plant::ParameterWithoutDefault => (
            vec![f(
                "posture_run_as_mismatch",
                Some("444455556666"),
                Some("eu-west-1"),
                "SSMRunAs-ReadOnly-Session",
            )],
            vec![],
            vec![],
        ),
    }
}

fn io(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Writes the policy and every case under `out` (created when missing).
pub fn write_posture_cases(out: &Path) -> std::io::Result<Vec<PostureCase>> {
    fs::create_dir_all(out).map_err(|e| io(out, e))?;
    fs::write(out.join(POLICY_FILE), POLICY).map_err(|e| io(out, e))?;
    let mut cases = Vec::new();
    for (name, plant, description) in CASES {
        let dir = out.join(name);
        let snapshot = dir.join("snapshot");
        write_snapshot(&snapshot, plant).map_err(|e| io(&snapshot, e))?;
        let (findings, missing, rejects) = expected(plant);
        for file in &missing {
            fs::remove_file(snapshot.join(file)).map_err(|e| io(&snapshot.join(file), e))?;
        }
        let truth = Obj::new()
            .with("case", name)
            .with("description", description)
            .with(
                "findings",
                findings
                    .iter()
                    .map(|f| {
                        Obj::new()
                            .with("rule", f.rule)
                            .with("account", f.account.map_or(J::Null, J::from))
                            .with("region", f.region.map_or(J::Null, J::from))
                            .with("resource", f.resource.as_str())
                            .into()
                    })
                    .collect::<Vec<J>>(),
            )
            .with("missing", strings(missing.iter().map(String::as_str)))
            .with("rejects", strings(rejects.iter().map(String::as_str)));
        fs::write(dir.join("truth.json"), J::from(truth).to_pretty()).map_err(|e| io(&dir, e))?;
        cases.push(PostureCase {
            name,
            description,
            snapshot,
            findings,
            missing,
            rejects,
        });
    }
    Ok(cases)
}
