//! `sessiontrail posture --live`: the calls `scripts/posture-snapshot.sh` makes with the
//! AWS CLI, made with the AWS SDK, answered to the one checker
//! ([`sessiontrail_posture::check_posture`]) as a [`PostureSource`] with exactly the
//! JSON each command prints. What was answered is kept ([`LivePostureSource::recorded`])
//! and can be saved in the snapshot layout
//! ([`sessiontrail_posture::write_snapshot`]) to be replayed with `--snapshot`.
//!
//! Credentials: the IAM Identity Center calls (and the managed policies' IAM calls) use
//! the current credentials (the management or delegated administrator account); each
//! member account's calls (`ssm get-document`, `iam list-role-tags`) use the current
//! credentials when the account is the caller's, else a role assumed in it
//! (`arn:PARTITION:iam::ACCOUNT:role/ROLE_NAME`, [`LiveOptions::role_name`]). An account
//! that cannot be read (no role name, the role cannot be assumed) makes its checks not
//! made, never passed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value, json};
use sessiontrail_posture::{Answer, Call, PostureSource, Recorded, aws_cli_error_text};
use tokio::runtime::Handle;

/// What the live source is told beyond the policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveOptions {
    /// Member accounts in scope (None: the caller's account).
    pub accounts: Option<Vec<String>>,
    /// Regions in scope (None: the configured region).
    pub regions: Option<Vec<String>>,
    /// The role assumed in each member account that is not the caller's.
    pub role_name: Option<String>,
    /// The IAM Identity Center instance (None: the one `sso-admin list-instances` names).
    pub instance_arn: Option<String>,
    /// Identity Center's region (None: the configured region).
    pub sso_region: Option<String>,
    /// The broker function's name or ARN (an ARN names its account and region).
    pub broker_function: String,
    /// The broker's region when `broker_function` is a name (None: the configured one).
    pub broker_region: Option<String>,
    /// The partition of the role ARNs assumed.
    pub partition: String,
}

/// Why a live run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("no AWS region configured: set AWS_REGION or pass --regions")]
    NoRegion,
    #[error("who the credentials are (sts get-caller-identity) failed: {0}")]
    CallerIdentity(String),
}

#[derive(Default)]
struct State {
    recorded: BTreeMap<Call, Recorded>,
    /// Each account's configuration, or why it cannot be read.
    accounts: BTreeMap<String, Result<SdkConfig, String>>,
    instance: Option<Result<String, String>>,
    permission_sets: Option<Result<BTreeMap<String, String>, String>>,
}

/// Answers posture's calls with the SDK, recording each answer.
pub struct LivePostureSource {
    runtime: Handle,
    base: SdkConfig,
    caller_account: String,
    region: String,
    options: LiveOptions,
    state: Mutex<State>,
}

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(Format::DateTime).ok())
        .map_or(Value::Null, Value::String)
}

/// An object without its null members (the AWS CLI leaves absent members out).
fn object(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

/// A failed call as the AWS CLI reports it on standard error: the error code, or, as
/// the CLI does for a response without one, the HTTP status.
fn failed<E>(operation: &str, error: SdkError<E, HttpResponse>) -> Recorded
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error
        .raw_response()
        .map(|r| r.status().as_u16().to_string());
    match (error.code().map(str::to_string), status) {
        (Some(code), _) | (None, Some(code)) => Recorded::Error(aws_cli_error_text(
            &code,
            operation,
            error
                .message()
                .unwrap_or("(no message: the response was not an AWS error)"),
        )),
        (None, None) => Recorded::Error(format!(
            "\n{operation} failed: {}\n",
            DisplayErrorContext(&error)
        )),
    }
}

/// Why a call was not made (nothing recorded, nothing saved: as a command the script
/// did not run).
fn not_called(call: &Call, why: &str) -> Answer {
    Answer::Unavailable {
        why: format!("`{}` not made: {why}", call.command()),
        reject: false,
    }
}

/// What an answer computed here is: recorded (saved by --save) or not made at all.
enum Outcome {
    Recorded(Recorded),
    NotCalled(String),
}

/// The SDK configuration as the AWS CLI finds it (environment, `~/.aws`), with
/// `profile` when named.
pub async fn load_config(profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

impl LivePostureSource {
    /// The configuration (profile, region, credentials as `aws_config` finds them) and
    /// who the credentials are.
    pub async fn connect(
        base: SdkConfig,
        options: LiveOptions,
        runtime: Handle,
    ) -> Result<LivePostureSource, LiveError> {
        let region = match (&options.regions, base.region()) {
            (_, Some(region)) => region.to_string(),
            (Some(regions), None) if !regions.is_empty() => regions[0].clone(),
            _ => return Err(LiveError::NoRegion),
        };
        let identity = aws_sdk_sts::Client::new(&base)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| LiveError::CallerIdentity(DisplayErrorContext(e).to_string()))?;
        let caller_account = identity.account().unwrap_or_default().to_string();
        Ok(LivePostureSource {
            runtime,
            base,
            caller_account,
            region,
            options,
            state: Mutex::new(State::default()),
        })
    }

    /// The caller's account (sts get-caller-identity).
    pub fn caller_account(&self) -> &str {
        &self.caller_account
    }

    /// Every answer recorded so far, to save with `write_snapshot`.
    pub fn recorded(&self) -> BTreeMap<Call, Recorded> {
        self.state.lock().expect("not poisoned").recorded.clone()
    }

    /// The accounts and regions in scope, as `write_snapshot` takes them.
    pub fn scope(&self) -> Vec<(String, Vec<String>)> {
        self.accounts()
            .into_iter()
            .map(|a| {
                let regions = self.regions(&a);
                (a, regions)
            })
            .collect()
    }

    fn config_in(&self, config: &SdkConfig, region: &str) -> SdkConfig {
        config
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build()
    }

    /// The configuration that reads `account`, or why none does.
    async fn account_config(&self, account: &str) -> Result<SdkConfig, String> {
        if let Some(known) = self
            .state
            .lock()
            .expect("not poisoned")
            .accounts
            .get(account)
        {
            return known.clone();
        }
        let config = if account == self.caller_account {
            Ok(self.base.clone())
        } else if let Some(role) = &self.options.role_name {
            let arn = format!("arn:{}:iam::{account}:role/{role}", self.options.partition);
            let provider = aws_config::sts::AssumeRoleProvider::builder(arn.clone())
                .session_name("sessiontrail-posture")
                .configure(&self.base)
                .build()
                .await;
            let provider = SharedCredentialsProvider::new(provider);
            match provider.provide_credentials().await {
                Ok(_) => {
                    let cfg = self
                        .base
                        .to_builder()
                        .credentials_provider(provider)
                        .build();
                    Ok(cfg)
                }
                Err(e) => Err(format!(
                    "could not assume {arn}: {}",
                    DisplayErrorContext(e)
                )),
            }
        } else {
            Err(format!(
                "account {account} is not the caller's ({}) and no --role-name names a role to assume in it",
                self.caller_account
            ))
        };
        self.state
            .lock()
            .expect("not poisoned")
            .accounts
            .insert(account.to_string(), config.clone());
        config
    }

    fn sso(&self) -> aws_sdk_ssoadmin::Client {
        let region = self.options.sso_region.as_deref().unwrap_or(&self.region);
        aws_sdk_ssoadmin::Client::new(&self.config_in(&self.base, region))
    }

    fn iam(&self, config: &SdkConfig) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(config)
    }

    async fn instance(&self) -> Result<String, String> {
        if let Some(arn) = &self.options.instance_arn {
            return Ok(arn.clone());
        }
        if let Some(known) = &self.state.lock().expect("not poisoned").instance {
            return known.clone();
        }
        let found = match self.sso().list_instances().send().await {
            Ok(out) => match out.instances() {
                [one] => one
                    .instance_arn()
                    .map(str::to_string)
                    .ok_or_else(|| "sso-admin list-instances names an instance without an ARN".to_string()),
                [] => Err("sso-admin list-instances names no IAM Identity Center instance: pass --instance-arn".into()),
                _ => Err("sso-admin list-instances names several instances: pass --instance-arn".into()),
            },
            Err(e) => Err(format!(
                "sso-admin list-instances failed ({}): pass --instance-arn",
                DisplayErrorContext(e)
            )),
        };
        self.state.lock().expect("not poisoned").instance = Some(found.clone());
        found
    }

    /// Permission set name to ARN (list-permission-sets, describe-permission-set).
    async fn permission_set_arn(&self, name: &str) -> Result<(String, String), String> {
        let instance = self.instance().await?;
        let known = self
            .state
            .lock()
            .expect("not poisoned")
            .permission_sets
            .clone();
        let sets = match known {
            Some(sets) => sets,
            None => {
                let sets = self.list_permission_sets(&instance).await;
                self.state.lock().expect("not poisoned").permission_sets = Some(sets.clone());
                sets
            }
        };
        match sets?.get(name) {
            Some(arn) => Ok((instance, arn.clone())),
            None => Err(format!("permission set {name} is not in {instance}")),
        }
    }

    async fn list_permission_sets(
        &self,
        instance: &str,
    ) -> Result<BTreeMap<String, String>, String> {
        let sso = self.sso();
        let mut arns = Vec::new();
        let mut next = None;
        loop {
            let page = sso
                .list_permission_sets()
                .instance_arn(instance)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "sso-admin list-permission-sets failed: {}",
                        DisplayErrorContext(e)
                    )
                })?;
            arns.extend(page.permission_sets().iter().cloned());
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        let mut sets = BTreeMap::new();
        for arn in arns {
            let out = sso
                .describe_permission_set()
                .instance_arn(instance)
                .permission_set_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "sso-admin describe-permission-set {arn} failed: {}",
                        DisplayErrorContext(e)
                    )
                })?;
            if let Some(name) = out.permission_set().and_then(|p| p.name()) {
                sets.insert(name.to_string(), arn);
            }
        }
        Ok(sets)
    }

    /// The broker function's (name, account, region).
    fn broker(&self) -> (String, String, String) {
        let function = &self.options.broker_function;
        let parts: Vec<&str> = function.split(':').collect();
        if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" {
            return (function.clone(), parts[4].to_string(), parts[3].to_string());
        }
        let region = self
            .options
            .broker_region
            .clone()
            .unwrap_or_else(|| self.region.clone());
        (function.clone(), self.caller_account.clone(), region)
    }

    async fn broker_config(&self) -> Result<SdkConfig, String> {
        let (_, account, region) = self.broker();
        let config = self.account_config(&account).await?;
        Ok(self.config_in(&config, &region))
    }

    fn recorded_output(&self, call: &Call) -> Option<Value> {
        match self.state.lock().expect("not poisoned").recorded.get(call) {
            Some(Recorded::Output(value)) => Some(value.clone()),
            _ => None,
        }
    }

    async fn role_tags(&self, config: &SdkConfig, role: &str) -> Recorded {
        let iam = self.iam(config);
        let mut tags = Vec::new();
        let mut marker = None;
        loop {
            match iam
                .list_role_tags()
                .role_name(role)
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(page) => {
                    tags.extend(
                        page.tags()
                            .iter()
                            .map(|t| json!({"Key": t.key(), "Value": t.value()})),
                    );
                    marker = page.marker().map(str::to_string);
                    if !page.is_truncated() || marker.is_none() {
                        return Recorded::Output(json!({"Tags": tags}));
                    }
                }
                Err(e) => return failed("ListRoleTags", e),
            }
        }
    }

    async fn function_configuration(&self) -> Outcome {
        let config = match self.broker_config().await {
            Ok(config) => config,
            Err(why) => return Outcome::NotCalled(why),
        };
        let (function, ..) = self.broker();
        match aws_sdk_lambda::Client::new(&config)
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
        {
            Ok(out) => Outcome::Recorded(Recorded::Output(object(json!({
                "FunctionName": out.function_name(),
                "FunctionArn": out.function_arn(),
                "Runtime": out.runtime().map(|r| r.as_str()),
                "Role": out.role(),
                "Handler": out.handler(),
                "CodeSize": out.code_size(),
                "Timeout": out.timeout(),
                "MemorySize": out.memory_size(),
                "LastModified": out.last_modified(),
                "Version": out.version(),
                "PackageType": out.package_type().map(|p| p.as_str()),
                "Architectures": out.architectures().iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            })))),
            Err(e) => Outcome::Recorded(failed("GetFunctionConfiguration", e)),
        }
    }

    async fn make(&self, call: &Call) -> Outcome {
        match call {
            Call::GetDocument {
                account,
                region,
                name,
            } => {
                let config = match self.account_config(account).await {
                    Ok(config) => self.config_in(&config, region),
                    Err(why) => return Outcome::NotCalled(why),
                };
                let result = aws_sdk_ssm::Client::new(&config)
                    .get_document()
                    .name(name)
                    .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
                    .send()
                    .await;
                Outcome::Recorded(match result {
                    Ok(out) => Recorded::Output(object(json!({
                        "Name": out.name(),
                        "CreatedDate": time(out.created_date()),
                        "DisplayName": out.display_name(),
                        "VersionName": out.version_name(),
                        "DocumentVersion": out.document_version(),
                        "Status": out.status().map(|s| s.as_str()),
                        "StatusInformation": out.status_information(),
                        "Content": out.content(),
                        "DocumentType": out.document_type().map(|t| t.as_str()),
                        "DocumentFormat": out.document_format().map(|f| f.as_str()),
                    }))),
                    Err(e) => failed("GetDocument", e),
                })
            }
            Call::AccessControlAttributes => {
                let instance = match self.instance().await {
                    Ok(i) => i,
                    Err(why) => return Outcome::NotCalled(why),
                };
                let result = self
                    .sso()
                    .describe_instance_access_control_attribute_configuration()
                    .instance_arn(instance)
                    .send()
                    .await;
                Outcome::Recorded(match result {
                    Ok(out) => {
                        let attributes: Vec<Value> = out
                            .instance_access_control_attribute_configuration()
                            .map(|c| c.access_control_attributes())
                            .unwrap_or_default()
                            .iter()
                            .map(|a| {
                                json!({
                                    "Key": a.key(),
                                    "Value": {"Source": a.value().map(|v| v.source()).unwrap_or_default()},
                                })
                            })
                            .collect();
                        Recorded::Output(object(json!({
                            "Status": out.status().map(|s| s.as_str()),
                            "StatusReason": out.status_reason(),
                            "InstanceAccessControlAttributeConfiguration": {
                                "AccessControlAttributes": attributes,
                            },
                        })))
                    }
                    Err(e) => failed("DescribeInstanceAccessControlAttributeConfiguration", e),
                })
            }
            Call::InlinePolicy { permission_set } => {
                let (instance, arn) = match self.permission_set_arn(permission_set).await {
                    Ok(found) => found,
                    Err(why) => return Outcome::NotCalled(why),
                };
                let result = self
                    .sso()
                    .get_inline_policy_for_permission_set()
                    .instance_arn(instance)
                    .permission_set_arn(arn)
                    .send()
                    .await;
                Outcome::Recorded(match result {
                    Ok(out) => Recorded::Output(
                        json!({"InlinePolicy": out.inline_policy().unwrap_or_default()}),
                    ),
                    Err(e) => failed("GetInlinePolicyForPermissionSet", e),
                })
            }
            Call::ManagedPolicies { permission_set } => {
                let (instance, arn) = match self.permission_set_arn(permission_set).await {
                    Ok(found) => found,
                    Err(why) => return Outcome::NotCalled(why),
                };
                let sso = self.sso();
                let mut attached = Vec::new();
                let mut next = None;
                loop {
                    match sso
                        .list_managed_policies_in_permission_set()
                        .instance_arn(&instance)
                        .permission_set_arn(&arn)
                        .set_next_token(next.take())
                        .send()
                        .await
                    {
                        Ok(page) => {
                            attached.extend(
                                page.attached_managed_policies()
                                    .iter()
                                    .map(|p| object(json!({"Name": p.name(), "Arn": p.arn()}))),
                            );
                            next = page.next_token().map(str::to_string);
                            if next.is_none() {
                                break;
                            }
                        }
                        Err(e) => {
                            return Outcome::Recorded(failed(
                                "ListManagedPoliciesInPermissionSet",
                                e,
                            ));
                        }
                    }
                }
                Outcome::Recorded(Recorded::Output(
                    json!({"AttachedManagedPolicies": attached}),
                ))
            }
            Call::CustomerManagedPolicies { permission_set } => {
                let (instance, arn) = match self.permission_set_arn(permission_set).await {
                    Ok(found) => found,
                    Err(why) => return Outcome::NotCalled(why),
                };
                let sso = self.sso();
                let mut references = Vec::new();
                let mut next = None;
                loop {
                    match sso
                        .list_customer_managed_policy_references_in_permission_set()
                        .instance_arn(&instance)
                        .permission_set_arn(&arn)
                        .set_next_token(next.take())
                        .send()
                        .await
                    {
                        Ok(page) => {
                            references.extend(
                                page.customer_managed_policy_references()
                                    .iter()
                                    .map(|p| object(json!({"Name": p.name(), "Path": p.path()}))),
                            );
                            next = page.next_token().map(str::to_string);
                            if next.is_none() {
                                break;
                            }
                        }
                        Err(e) => {
                            return Outcome::Recorded(failed(
                                "ListCustomerManagedPolicyReferencesInPermissionSet",
                                e,
                            ));
                        }
                    }
                }
                Outcome::Recorded(Recorded::Output(
                    json!({"CustomerManagedPolicyReferences": references}),
                ))
            }
            Call::ManagedPolicyVersion {
                permission_set,
                policy_name,
            } => {
                let listing = Call::ManagedPolicies {
                    permission_set: permission_set.clone(),
                };
                let arn = self.recorded_output(&listing).and_then(|out| {
                    out["AttachedManagedPolicies"]
                        .as_array()?
                        .iter()
                        .find(|p| p["Name"].as_str() == Some(policy_name))
                        .and_then(|p| p["Arn"].as_str().map(str::to_string))
                });
                let Some(arn) = arn else {
                    return Outcome::NotCalled(format!(
                        "{policy_name} is not among {permission_set}'s managed policies listed"
                    ));
                };
                let iam = self.iam(&self.config_in(
                    &self.base,
                    self.options.sso_region.as_deref().unwrap_or(&self.region),
                ));
                // get-policy's error, if any, stands for the version's (as the script).
                let version = match iam.get_policy().policy_arn(&arn).send().await {
                    Ok(out) => out
                        .policy()
                        .and_then(|p| p.default_version_id())
                        .map(str::to_string),
                    Err(e) => return Outcome::Recorded(failed("GetPolicy", e)),
                };
                let Some(version) = version else {
                    return Outcome::NotCalled(format!("{arn} has no DefaultVersionId"));
                };
                let result = iam
                    .get_policy_version()
                    .policy_arn(&arn)
                    .version_id(version)
                    .send()
                    .await;
                Outcome::Recorded(match result {
                    Ok(out) => {
                        let version = out.policy_version();
                        // The AWS CLI prints the URL-encoded document decoded, as JSON.
                        let document = version.and_then(|v| v.document()).map(|d| {
                            sessiontrail_posture::iam::percent_decode(d)
                                .ok()
                                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                                .unwrap_or_else(|| Value::String(d.to_string()))
                        });
                        Recorded::Output(json!({"PolicyVersion": object(json!({
                            "Document": document,
                            "VersionId": version.and_then(|v| v.version_id()),
                            "IsDefaultVersion": version.map(|v| v.is_default_version()),
                            "CreateDate": time(version.and_then(|v| v.create_date())),
                        }))}))
                    }
                    Err(e) => failed("GetPolicyVersion", e),
                })
            }
            Call::RoleTags { account, role } => match self.account_config(account).await {
                Ok(config) => Outcome::Recorded(self.role_tags(&config, role).await),
                Err(why) => Outcome::NotCalled(why),
            },
            Call::BrokerFunctionConfiguration => self.function_configuration().await,
            Call::BrokerUrlConfig => {
                let config = match self.broker_config().await {
                    Ok(config) => config,
                    Err(why) => return Outcome::NotCalled(why),
                };
                let (function, ..) = self.broker();
                let result = aws_sdk_lambda::Client::new(&config)
                    .get_function_url_config()
                    .function_name(&function)
                    .send()
                    .await;
                Outcome::Recorded(match result {
                    Ok(out) => Recorded::Output(object(json!({
                        "FunctionUrl": out.function_url(),
                        "FunctionArn": out.function_arn(),
                        "AuthType": out.auth_type().as_str(),
                        "CreationTime": out.creation_time(),
                        "LastModifiedTime": out.last_modified_time(),
                        "InvokeMode": out.invoke_mode().map(|m| m.as_str()),
                    }))),
                    Err(e) => failed("GetFunctionUrlConfig", e),
                })
            }
            Call::BrokerRoleTags => {
                let configuration = match self.recorded_output(&Call::BrokerFunctionConfiguration) {
                    Some(out) => out,
                    None => match self.function_configuration().await {
                        Outcome::Recorded(Recorded::Output(out)) => {
                            self.record(
                                &Call::BrokerFunctionConfiguration,
                                Recorded::Output(out.clone()),
                            );
                            out
                        }
                        _ => {
                            return Outcome::NotCalled(
                                "lambda get-function-configuration of the broker gave no Role"
                                    .into(),
                            );
                        }
                    },
                };
                let Some(role) = configuration["Role"]
                    .as_str()
                    .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
                else {
                    return Outcome::NotCalled("the broker's configuration names no Role".into());
                };
                match self.broker_config().await {
                    Ok(config) => Outcome::Recorded(self.role_tags(&config, &role).await),
                    Err(why) => Outcome::NotCalled(why),
                }
            }
        }
    }

    fn record(&self, call: &Call, recorded: Recorded) {
        self.state
            .lock()
            .expect("not poisoned")
            .recorded
            .insert(call.clone(), recorded);
    }
}

impl PostureSource for LivePostureSource {
    fn answer(&self, call: &Call) -> Answer {
        if let Some(recorded) = self.state.lock().expect("not poisoned").recorded.get(call) {
            return recorded.answer(call);
        }
        match self.runtime.block_on(self.make(call)) {
            Outcome::Recorded(recorded) => {
                let answer = recorded.answer(call);
                self.record(call, recorded);
                answer
            }
            Outcome::NotCalled(why) => not_called(call, &why),
        }
    }

    fn accounts(&self) -> Vec<String> {
        self.options
            .accounts
            .clone()
            .unwrap_or_else(|| vec![self.caller_account.clone()])
    }

    fn regions(&self, _account: &str) -> Vec<String> {
        self.options
            .regions
            .clone()
            .unwrap_or_else(|| vec![self.region.clone()])
    }
}
