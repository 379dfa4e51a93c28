//! Where posture reads AWS state from: each [`Call`] is one documented AWS CLI command,
//! and a [`PostureSource`] answers it with exactly the JSON that command prints. A
//! snapshot folder ([`SnapshotSource`], written by `scripts/posture-snapshot.sh`) holds
//! those outputs; a live source (`sessiontrail_aws::posture_live`) makes the same calls
//! with the SDK, answers with what the command would print ([`Recorded`]) and can save
//! what it answered in the same layout ([`write_snapshot`]), to be replayed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One AWS CLI call whose output a check reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Call {
    /// `aws ssm get-document --name NAME --document-format JSON` in an account/region.
    GetDocument {
        account: String,
        region: String,
        name: String,
    },
    /// `aws sso-admin describe-instance-access-control-attribute-configuration`.
    AccessControlAttributes,
    /// `aws sso-admin get-inline-policy-for-permission-set`.
    InlinePolicy { permission_set: String },
    /// `aws sso-admin list-managed-policies-in-permission-set`.
    ManagedPolicies { permission_set: String },
    /// `aws sso-admin list-customer-managed-policy-references-in-permission-set`.
    CustomerManagedPolicies { permission_set: String },
    /// `aws iam get-policy-version` of a managed policy's default version.
    ManagedPolicyVersion {
        permission_set: String,
        policy_name: String,
    },
    /// `aws iam list-role-tags --role-name ROLE` in a member account.
    RoleTags { account: String, role: String },
    /// `aws lambda get-function-configuration` of the broker.
    BrokerFunctionConfiguration,
    /// `aws lambda get-function-url-config` of the broker.
    BrokerUrlConfig,
    /// `aws iam list-role-tags` of the broker's execution role.
    BrokerRoleTags,
}

impl Call {
    /// The command, as a user would type it (placeholders in capitals).
    pub fn command(&self) -> String {
        match self {
            Call::GetDocument {
                account,
                region,
                name,
            } => format!(
                "aws ssm get-document --name {name} --document-format JSON (account {account}, --region {region})"
            ),
            Call::AccessControlAttributes => {
                "aws sso-admin describe-instance-access-control-attribute-configuration --instance-arn INSTANCE".into()
            }
            Call::InlinePolicy { permission_set } => format!(
                "aws sso-admin get-inline-policy-for-permission-set --instance-arn INSTANCE --permission-set-arn <{permission_set}'s ARN>"
            ),
            Call::ManagedPolicies { permission_set } => format!(
                "aws sso-admin list-managed-policies-in-permission-set --instance-arn INSTANCE --permission-set-arn <{permission_set}'s ARN>"
            ),
            Call::CustomerManagedPolicies { permission_set } => format!(
                "aws sso-admin list-customer-managed-policy-references-in-permission-set --instance-arn INSTANCE --permission-set-arn <{permission_set}'s ARN>"
            ),
            Call::ManagedPolicyVersion {
                permission_set,
                policy_name,
            } => format!(
                "aws iam get-policy-version --policy-arn <{policy_name}'s ARN> --version-id <its DefaultVersionId> (managed policy of {permission_set})"
            ),
            Call::RoleTags { account, role } => {
                format!("aws iam list-role-tags --role-name {role} (account {account})")
            }
            Call::BrokerFunctionConfiguration => {
                "aws lambda get-function-configuration --function-name BROKER".into()
            }
            Call::BrokerUrlConfig => "aws lambda get-function-url-config --function-name BROKER".into(),
            Call::BrokerRoleTags => {
                "aws iam list-role-tags --role-name <the broker function's Role>".into()
            }
        }
    }

    /// The file holding the call's output, relative to the snapshot folder.
    pub fn snapshot_path(&self) -> PathBuf {
        let ps = |p: &str, file: &str| PathBuf::from("permission-sets").join(p).join(file);
        match self {
            Call::GetDocument {
                account,
                region,
                name,
            } => PathBuf::from("accounts")
                .join(account)
                .join(region)
                .join(format!("ssm-get-document-{name}.json")),
            Call::AccessControlAttributes => PathBuf::from(
                "sso-admin-describe-instance-access-control-attribute-configuration.json",
            ),
            Call::InlinePolicy { permission_set } => ps(
                permission_set,
                "sso-admin-get-inline-policy-for-permission-set.json",
            ),
            Call::ManagedPolicies { permission_set } => ps(
                permission_set,
                "sso-admin-list-managed-policies-in-permission-set.json",
            ),
            Call::CustomerManagedPolicies { permission_set } => ps(
                permission_set,
                "sso-admin-list-customer-managed-policy-references-in-permission-set.json",
            ),
            Call::ManagedPolicyVersion {
                permission_set,
                policy_name,
            } => ps(
                permission_set,
                &format!("iam-get-policy-version-{policy_name}.json"),
            ),
            Call::RoleTags { account, role } => PathBuf::from("accounts")
                .join(account)
                .join(format!("iam-list-role-tags-{role}.json")),
            Call::BrokerFunctionConfiguration => {
                PathBuf::from("broker/lambda-get-function-configuration.json")
            }
            Call::BrokerUrlConfig => PathBuf::from("broker/lambda-get-function-url-config.json"),
            Call::BrokerRoleTags => PathBuf::from("broker/iam-list-role-tags.json"),
        }
    }
}

/// What a source answered for a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The command's output.
    Output(Value),
    /// The command failed with this AWS error code (`InvalidDocument`,
    /// `ResourceNotFoundException`, `NoSuchEntity`, `AccessDeniedException` ...).
    AwsError(String),
    /// No answer: the output is missing, unreadable or malformed (`reject` says the
    /// file and reason when the output was there but bad).
    Unavailable { why: String, reject: bool },
}

/// Something that answers posture's calls.
pub trait PostureSource {
    fn answer(&self, call: &Call) -> Answer;
    /// Account ids in scope when none are named.
    fn accounts(&self) -> Vec<String>;
    /// Regions in scope of an account when none are named.
    fn regions(&self, account: &str) -> Vec<String>;
}

/// A snapshot folder: `<call's snapshot_path>` holds the output; when the command
/// failed, the same path with `.error` instead of `.json` holds its standard error
/// (`An error occurred (CODE) when calling ...`).
pub struct SnapshotSource {
    root: PathBuf,
}

impl SnapshotSource {
    /// A snapshot folder; an error when it is not a folder.
    pub fn open(root: &Path) -> Result<SnapshotSource, String> {
        if !root.is_dir() {
            return Err(format!(
                "snapshot {}: not a folder (scripts/posture-snapshot.sh writes one)",
                root.display()
            ));
        }
        Ok(SnapshotSource {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// The AWS error code in the AWS CLI's error text, if any.
pub fn aws_error_code(text: &str) -> Option<String> {
    let start = text.find("An error occurred (")? + "An error occurred (".len();
    let end = text[start..].find(')')? + start;
    let code = &text[start..end];
    (!code.is_empty()).then(|| code.to_string())
}

fn dirs(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

impl PostureSource for SnapshotSource {
    fn answer(&self, call: &Call) -> Answer {
        let relative = call.snapshot_path();
        let path = self.root.join(&relative);
        let shown = relative.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(value) if value.is_object() => Answer::Output(value),
                Ok(_) => Answer::Unavailable {
                    why: format!("{shown}: not a JSON object, as `{}` prints", call.command()),
                    reject: true,
                },
                Err(e) => Answer::Unavailable {
                    why: format!("{shown}: malformed JSON: {e}"),
                    reject: true,
                },
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let error_path = path.with_extension("error");
                match std::fs::read_to_string(&error_path) {
                    Ok(text) => match aws_error_code(&text) {
                        Some(code) => Answer::AwsError(code),
                        None => Answer::Unavailable {
                            why: format!(
                                "{}: the command failed without an AWS error code: {}",
                                relative.with_extension("error").display(),
                                text.trim()
                            ),
                            reject: false,
                        },
                    },
                    Err(_) => Answer::Unavailable {
                        why: format!("{shown} is missing (the output of `{}`)", call.command()),
                        reject: false,
                    },
                }
            }
            Err(e) => Answer::Unavailable {
                why: format!("{shown}: {e}"),
                reject: true,
            },
        }
    }

    fn accounts(&self) -> Vec<String> {
        dirs(&self.root.join("accounts"))
    }

    fn regions(&self, account: &str) -> Vec<String> {
        dirs(&self.root.join("accounts").join(account))
    }
}

/// What a live source got for a call: the command's output, or the text the AWS CLI
/// prints on standard error when the call fails (what the snapshot script saves as
/// `.error`).
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Output(Value),
    Error(String),
}

/// The AWS CLI's error line: `An error occurred (CODE) when calling the OPERATION
/// operation: MESSAGE`.
pub fn aws_cli_error_text(code: &str, operation: &str, message: &str) -> String {
    format!("\nAn error occurred ({code}) when calling the {operation} operation: {message}\n")
}

impl Recorded {
    /// The answer, exactly as [`SnapshotSource`] reads the same output or `.error` file.
    pub fn answer(&self, call: &Call) -> Answer {
        match self {
            Recorded::Output(value) if value.is_object() => Answer::Output(value.clone()),
            Recorded::Output(_) => Answer::Unavailable {
                why: format!(
                    "{}: not a JSON object, as `{}` prints",
                    call.snapshot_path().display(),
                    call.command()
                ),
                reject: true,
            },
            Recorded::Error(text) => match aws_error_code(text) {
                Some(code) => Answer::AwsError(code),
                None => Answer::Unavailable {
                    why: format!(
                        "`{}` failed without an AWS error code: {}",
                        call.command(),
                        text.trim()
                    ),
                    reject: false,
                },
            },
        }
    }
}

/// Writes what a live source recorded in the snapshot layout under `dir`: each output
/// as `<snapshot_path>` (pretty JSON), each failure as the same path ending in `.error`
/// (the other of the two removed, as `scripts/posture-snapshot.sh` does), and a folder
/// `accounts/<id>/<region>` for every account and region in `scope`, so that a replay
/// without `--accounts`/`--regions` has the same scope. Returns the files written.
pub fn write_snapshot(
    dir: &Path,
    recorded: &BTreeMap<Call, Recorded>,
    scope: &[(String, Vec<String>)],
) -> std::io::Result<Vec<PathBuf>> {
    let with_path = |path: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    for (account, regions) in scope {
        for region in regions {
            let path = dir.join("accounts").join(account).join(region);
            std::fs::create_dir_all(&path).map_err(|e| with_path(&path, e))?;
        }
    }
    let mut written = Vec::new();
    for (call, recorded) in recorded {
        let json = dir.join(call.snapshot_path());
        let error = json.with_extension("error");
        if let Some(parent) = json.parent() {
            std::fs::create_dir_all(parent).map_err(|e| with_path(parent, e))?;
        }
        let (path, text, other) = match recorded {
            Recorded::Output(value) => (
                &json,
                serde_json::to_string_pretty(value).expect("a JSON value serialises") + "\n",
                &error,
            ),
            Recorded::Error(text) => (&error, text.clone(), &json),
        };
        std::fs::write(path, text).map_err(|e| with_path(path, e))?;
        match std::fs::remove_file(other) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(with_path(other, e)),
        }
        written.push(path.clone());
    }
    Ok(written)
}
