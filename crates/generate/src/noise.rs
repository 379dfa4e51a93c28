//! Background CloudTrail records (ec2, s3, sts, kms, iam, lambda, logs, ...) and decoys:
//! records that look like SSM sessions to a careless reader but are not (Athena's
//! StartSession, ssm calls that are not sessions, other services' records whose strings
//! mention `StartSession` and `ssm.amazonaws.com`).

use crate::clock::{self, HOUR, Millis};
use crate::cloudtrail::{self, Call};
use crate::json::{J, Obj, strings};
use crate::prng::Prng;
use crate::world::{Actor, Identity, RoleSession, World};

/// A kind of non-session record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ec2DescribeInstances,
    Ec2DescribeSecurityGroups,
    Ec2DescribeVolumes,
    Ec2CreateTags,
    S3GetBucketAcl,
    S3GetBucketPolicy,
    StsAssumeRole,
    StsGetCallerIdentity,
    KmsDecrypt,
    KmsGenerateDataKey,
    IamGetRole,
    IamListAttachedRolePolicies,
    LambdaGetFunction,
    LogsCreateLogStream,
    LogsDescribeLogGroups,
    CloudWatchDescribeAlarms,
    SecretsGetSecretValue,
    DynamoDescribeTable,
    EcrGetAuthorizationToken,
    SsmUpdateInstanceInformation,
    SsmGetParameter,
    SsmDescribeInstanceInformation,
    SsmSendCommand,
    SsmDescribeSessions,
    // Decoys: session-like names or strings, not ssm sessions.
    AthenaStartSession,
    AthenaTerminateSession,
    CloudTrailLookupStartSession,
    KmsDecryptSsmSessionContext,
    EventsPutRuleForSessions,
    IamCreateSsmServiceLinkedRole,
    StsAssumeRoleFromSessionTool,
}

/// The mix of background records, by relative weight.
const MIX: [(Kind, u32); 27] = [
    (Kind::Ec2DescribeInstances, 100),
    (Kind::Ec2DescribeSecurityGroups, 40),
    (Kind::Ec2DescribeVolumes, 30),
    (Kind::Ec2CreateTags, 8),
    (Kind::S3GetBucketAcl, 70),
    (Kind::S3GetBucketPolicy, 25),
    (Kind::StsAssumeRole, 110),
    (Kind::StsGetCallerIdentity, 50),
    (Kind::KmsDecrypt, 90),
    (Kind::KmsGenerateDataKey, 40),
    (Kind::IamGetRole, 25),
    (Kind::IamListAttachedRolePolicies, 15),
    (Kind::LambdaGetFunction, 20),
    (Kind::LogsCreateLogStream, 60),
    (Kind::LogsDescribeLogGroups, 15),
    (Kind::CloudWatchDescribeAlarms, 25),
    (Kind::SecretsGetSecretValue, 30),
    (Kind::DynamoDescribeTable, 20),
    (Kind::EcrGetAuthorizationToken, 25),
    (Kind::SsmUpdateInstanceInformation, 60),
    (Kind::SsmGetParameter, 40),
    (Kind::SsmDescribeInstanceInformation, 8),
    (Kind::SsmSendCommand, 2),
    (Kind::SsmDescribeSessions, 3),
    (Kind::AthenaStartSession, 1),
    (Kind::AthenaTerminateSession, 1),
    (Kind::KmsDecryptSsmSessionContext, 2),
];

/// The weights of [`MIX`], for [`Prng::weighted`].
const WEIGHTS: [u32; MIX.len()] = {
    let mut weights = [0; MIX.len()];
    let mut i = 0;
    while i < MIX.len() {
        weights[i] = MIX[i].1;
        i += 1;
    }
    weights
};

/// Every decoy kind (planted once each).
pub const DECOYS: [Kind; 12] = [
    Kind::AthenaStartSession,
    Kind::AthenaTerminateSession,
    Kind::CloudTrailLookupStartSession,
    Kind::KmsDecryptSsmSessionContext,
    Kind::EventsPutRuleForSessions,
    Kind::IamCreateSsmServiceLinkedRole,
    Kind::StsAssumeRoleFromSessionTool,
    Kind::SsmGetParameter,
    Kind::SsmSendCommand,
    Kind::SsmDescribeSessions,
    Kind::SsmDescribeInstanceInformation,
    Kind::SsmUpdateInstanceInformation,
];

/// A tool whose user agent names StartSession and ssm.amazonaws.com (a decoy).
const SESSION_TOOL_AGENT: &str = "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.214 md/arch#x86_64 lang/python#3.12.3 exec-env/AWS_Lambda_python3.12 app/session-audit-exporter (StartSession events of ssm.amazonaws.com)";

const BROWSER_AGENT: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36";

impl Kind {
    /// Global-service kinds are logged in `us-east-1` only.
    fn global(self) -> bool {
        matches!(
            self,
            Kind::IamGetRole
                | Kind::IamListAttachedRolePolicies
                | Kind::IamCreateSsmServiceLinkedRole
        )
    }
}

/// A random background record for the trail of (`account`, `region`) at `at`.
pub fn random(world: &World, account: usize, region: usize, at: Millis, prng: &mut Prng) -> J {
    let mut kind = MIX[prng.weighted(&WEIGHTS)].0;
    if kind.global() && world.regions[region] != "us-east-1" {
        kind = Kind::Ec2DescribeInstances;
    }
    build(kind, world, account, region, at, prng)
}

fn human(world: &World, account: usize, prng: &mut Prng) -> Actor {
    let regular: Vec<usize> = (0..world.users.len())
        .filter(|i| world.users[*i].regular)
        .collect();
    let user = *prng.pick(&regular);
    let set = *prng.pick(&world.users[user].permission_sets);
    let mut actor = world.sso_actor(account, set, user);
    if prng.chance(0.4) {
        actor.console = true;
        actor.user_agent = BROWSER_AGENT.to_owned();
    } else {
        actor.user_agent =
            "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off".to_owned();
    }
    actor
}

fn workload(world: &World, account: usize, index: usize, prng: &mut Prng, instance: &str) -> Actor {
    let acct = &world.accounts[account];
    let role = &acct.service_roles[index % acct.service_roles.len()];
    Actor {
        identity: Identity::Role(RoleSession {
            account: acct.id.clone(),
            role_name: role.name.to_owned(),
            path: "/".to_owned(),
            role_id: role.role_id.clone(),
            session_name: role
                .session
                .map_or_else(|| instance.to_owned(), str::to_owned),
        }),
        source_ip: prng.ip_in("203.0.113"),
        user_agent: role.user_agent.to_owned(),
        console: false,
    }
}

fn service(name: &str) -> Actor {
    Actor {
        identity: Identity::Service {
            invoked_by: name.to_owned(),
        },
        source_ip: name.to_owned(),
        user_agent: name.to_owned(),
        console: false,
    }
}

fn resource(account: &str, kind: &str, arn: String) -> J {
    J::Arr(vec![
        Obj::new()
            .with("accountId", account)
            .with("type", kind)
            .with("ARN", arn)
            .into(),
    ])
}

fn items(entries: Vec<J>) -> J {
    Obj::new().with("items", entries).into()
}

/// Workload role indexes in `World` (see `world::SERVICE_ROLES`).
const LAMBDA: usize = 0;
const EKS: usize = 1;
const DEPLOY: usize = 2;
const SSM_AGENT: usize = 3;
const MONITORING: usize = 4;

/// One record of `kind` for the trail of (`account`, `region`) at `at`.
pub fn build(
    kind: Kind,
    world: &World,
    account: usize,
    region: usize,
    at: Millis,
    prng: &mut Prng,
) -> J {
    let acct = &world.accounts[account];
    let region_name = if kind.global() {
        "us-east-1"
    } else {
        world.regions[region].as_str()
    };
    let instances = &acct.instances[region];
    let instance = prng.pick(instances).clone();
    let bucket = prng.pick(&acct.buckets).clone();
    let key_arn = format!(
        "arn:aws:kms:{region_name}:{}:key/{}",
        acct.id,
        prng.pick(&acct.kms_keys)
    );
    let actor = match kind {
        Kind::S3GetBucketAcl => service("cloudtrail.amazonaws.com"),
        Kind::StsAssumeRole => {
            if prng.chance(0.5) {
                service("lambda.amazonaws.com")
            } else {
                service("ecs-tasks.amazonaws.com")
            }
        }
        Kind::Ec2CreateTags | Kind::SsmSendCommand | Kind::EventsPutRuleForSessions => {
            workload(world, account, DEPLOY, prng, &instance)
        }
        Kind::SsmUpdateInstanceInformation | Kind::KmsDecryptSsmSessionContext => {
            workload(world, account, SSM_AGENT, prng, &instance)
        }
        Kind::EcrGetAuthorizationToken => workload(world, account, EKS, prng, &instance),
        Kind::KmsDecrypt
        | Kind::KmsGenerateDataKey
        | Kind::LogsCreateLogStream
        | Kind::SecretsGetSecretValue
        | Kind::DynamoDescribeTable
        | Kind::SsmGetParameter => workload(world, account, LAMBDA, prng, &instance),
        Kind::StsAssumeRoleFromSessionTool => {
            let mut actor = workload(world, account, LAMBDA, prng, &instance);
            actor.user_agent = SESSION_TOOL_AGENT.to_owned();
            actor
        }
        Kind::LogsDescribeLogGroups | Kind::CloudWatchDescribeAlarms => {
            workload(world, account, MONITORING, prng, &instance)
        }
        Kind::Ec2DescribeInstances | Kind::Ec2DescribeSecurityGroups | Kind::Ec2DescribeVolumes => {
            match prng.below(4) {
                0 => workload(world, account, MONITORING, prng, &instance),
                1 => workload(world, account, EKS, prng, &instance),
                _ => human(world, account, prng),
            }
        }
        _ => human(world, account, prng),
    };
    let (source, name, read_only) = match kind {
        Kind::Ec2DescribeInstances => ("ec2.amazonaws.com", "DescribeInstances", true),
        Kind::Ec2DescribeSecurityGroups => ("ec2.amazonaws.com", "DescribeSecurityGroups", true),
        Kind::Ec2DescribeVolumes => ("ec2.amazonaws.com", "DescribeVolumes", true),
        Kind::Ec2CreateTags => ("ec2.amazonaws.com", "CreateTags", false),
        Kind::S3GetBucketAcl => ("s3.amazonaws.com", "GetBucketAcl", true),
        Kind::S3GetBucketPolicy => ("s3.amazonaws.com", "GetBucketPolicy", true),
        Kind::StsAssumeRole | Kind::StsAssumeRoleFromSessionTool => {
            ("sts.amazonaws.com", "AssumeRole", true)
        }
        Kind::StsGetCallerIdentity => ("sts.amazonaws.com", "GetCallerIdentity", true),
        Kind::KmsDecrypt | Kind::KmsDecryptSsmSessionContext => {
            ("kms.amazonaws.com", "Decrypt", true)
        }
        Kind::KmsGenerateDataKey => ("kms.amazonaws.com", "GenerateDataKey", true),
        Kind::IamGetRole => ("iam.amazonaws.com", "GetRole", true),
        Kind::IamListAttachedRolePolicies => {
            ("iam.amazonaws.com", "ListAttachedRolePolicies", true)
        }
        Kind::IamCreateSsmServiceLinkedRole => {
            ("iam.amazonaws.com", "CreateServiceLinkedRole", false)
        }
        Kind::LambdaGetFunction => ("lambda.amazonaws.com", "GetFunction20150331v2", true),
        Kind::LogsCreateLogStream => ("logs.amazonaws.com", "CreateLogStream", false),
        Kind::LogsDescribeLogGroups => ("logs.amazonaws.com", "DescribeLogGroups", true),
        Kind::CloudWatchDescribeAlarms => ("monitoring.amazonaws.com", "DescribeAlarms", true),
        Kind::SecretsGetSecretValue => ("secretsmanager.amazonaws.com", "GetSecretValue", true),
        Kind::DynamoDescribeTable => ("dynamodb.amazonaws.com", "DescribeTable", true),
        Kind::EcrGetAuthorizationToken => ("ecr.amazonaws.com", "GetAuthorizationToken", true),
        Kind::SsmUpdateInstanceInformation => {
            ("ssm.amazonaws.com", "UpdateInstanceInformation", false)
        }
        Kind::SsmGetParameter => ("ssm.amazonaws.com", "GetParameter", true),
        Kind::SsmDescribeInstanceInformation => {
            ("ssm.amazonaws.com", "DescribeInstanceInformation", true)
        }
        Kind::SsmSendCommand => ("ssm.amazonaws.com", "SendCommand", false),
        Kind::SsmDescribeSessions => ("ssm.amazonaws.com", "DescribeSessions", true),
        Kind::AthenaStartSession => ("athena.amazonaws.com", "StartSession", false),
        Kind::AthenaTerminateSession => ("athena.amazonaws.com", "TerminateSession", false),
        Kind::CloudTrailLookupStartSession => ("cloudtrail.amazonaws.com", "LookupEvents", true),
        Kind::EventsPutRuleForSessions => ("events.amazonaws.com", "PutRule", false),
    };
    let mut call = Call::new(
        prng,
        at,
        (region_name, &acct.id),
        &actor,
        (source, name),
        read_only,
    );
    let id = acct.id.as_str();
    match kind {
        Kind::Ec2DescribeInstances => {
            call.request = if prng.chance(0.5) {
                Obj::new()
                    .with(
                        "instancesSet",
                        items(vec![Obj::new().with("instanceId", &instance).into()]),
                    )
                    .with("filterSet", Obj::new())
                    .into()
            } else {
                Obj::new()
                    .with("maxResults", 1000i64)
                    .with("instancesSet", Obj::new())
                    .with(
                        "filterSet",
                        items(vec![
                            Obj::new()
                                .with("name", "instance-state-name")
                                .with(
                                    "valueSet",
                                    items(vec![Obj::new().with("value", "running").into()]),
                                )
                                .into(),
                        ]),
                    )
                    .into()
            };
            if call.actor.console && prng.chance(0.05) {
                call.error = Some((
                    "Client.UnauthorizedOperation".to_owned(),
                    "You are not authorized to perform this operation.".to_owned(),
                ));
            }
        }
        Kind::Ec2DescribeSecurityGroups => {
            call.request = Obj::new()
                .with("securityGroupSet", Obj::new())
                .with(
                    "securityGroupIdSet",
                    items(vec![
                        Obj::new()
                            .with("groupId", format!("sg-0{}", prng.hex(16)))
                            .into(),
                    ]),
                )
                .with("filterSet", Obj::new())
                .into();
        }
        Kind::Ec2DescribeVolumes => {
            call.request = Obj::new()
                .with("volumeSet", Obj::new())
                .with(
                    "filterSet",
                    items(vec![
                        Obj::new()
                            .with("name", "attachment.instance-id")
                            .with(
                                "valueSet",
                                items(vec![Obj::new().with("value", &instance).into()]),
                            )
                            .into(),
                    ]),
                )
                .into();
        }
        Kind::Ec2CreateTags => {
            call.request = Obj::new()
                .with(
                    "resourcesSet",
                    items(vec![Obj::new().with("resourceId", &instance).into()]),
                )
                .with(
                    "tagSet",
                    items(vec![
                        Obj::new()
                            .with("key", "Owner")
                            .with(
                                "value",
                                *prng.pick(&["team-payments", "team-data", "platform"]),
                            )
                            .into(),
                    ]),
                )
                .into();
            call.response = Obj::new()
                .with("requestId", call.request_id.clone())
                .with("_return", true)
                .into();
        }
        Kind::S3GetBucketAcl | Kind::S3GetBucketPolicy => {
            let host = format!("{bucket}.s3.{region_name}.amazonaws.com");
            let sub = if kind == Kind::S3GetBucketAcl {
                "acl"
            } else {
                "policy"
            };
            call.request = Obj::new()
                .with("bucketName", &bucket)
                .with("Host", host.clone())
                .with(sub, "")
                .into();
            call.additional = Some(
                Obj::new()
                    .with("SignatureVersion", "SigV4")
                    .with("CipherSuite", "TLS_AES_128_GCM_SHA256")
                    .with("bytesTransferredIn", 0i64)
                    .with("AuthenticationMethod", "AuthHeader")
                    .with("x-amz-id-2", prng.alnum(76))
                    .with("bytesTransferredOut", 300 + prng.below(900) as i64)
                    .into(),
            );
            call.resources = Some(resource(
                id,
                "AWS::S3::Bucket",
                format!("arn:aws:s3:::{bucket}"),
            ));
            call.host = Some(host);
            if kind == Kind::S3GetBucketPolicy && prng.chance(0.3) {
                call.error = Some((
                    "NoSuchBucketPolicy".to_owned(),
                    "The bucket policy does not exist".to_owned(),
                ));
            }
        }
        Kind::StsAssumeRole | Kind::StsAssumeRoleFromSessionTool => {
            let (role, session) = if kind == Kind::StsAssumeRoleFromSessionTool {
                (
                    "session-audit-reader".to_owned(),
                    "StartSession-audit".to_owned(),
                )
            } else {
                let role = prng.pick(&acct.service_roles).name.to_owned();
                (role, prng.hex(32))
            };
            let role_arn = format!("arn:aws:iam::{id}:role/{role}");
            call.request = Obj::new()
                .with("roleArn", role_arn.clone())
                .with("roleSessionName", session.clone())
                .with("durationSeconds", 3600i64)
                .into();
            call.response = Obj::new()
                .with(
                    "credentials",
                    Obj::new()
                        .with("accessKeyId", format!("ASIA{}", prng.upper_alnum(16)))
                        .with(
                            "sessionToken",
                            format!("IQoJb3JpZ2luX2Vj{}", prng.alnum(360)),
                        )
                        .with("expiration", clock::sts_expiration(at + HOUR)),
                )
                .with(
                    "assumedRoleUser",
                    Obj::new()
                        .with(
                            "assumedRoleId",
                            format!("AROA{}:{session}", prng.upper_alnum(17)),
                        )
                        .with(
                            "arn",
                            format!("arn:aws:sts::{id}:assumed-role/{role}/{session}"),
                        ),
                )
                .into();
            call.resources = Some(resource(id, "AWS::IAM::Role", role_arn));
        }
        Kind::StsGetCallerIdentity => {}
        Kind::KmsDecrypt | Kind::KmsDecryptSsmSessionContext => {
            let context = if kind == Kind::KmsDecryptSsmSessionContext {
                Obj::new()
                    .with(
                        "aws:ssm:SessionId",
                        format!("session-broker-0{}", prng.hex(16)),
                    )
                    .with("aws:ssm:TargetId", &instance)
            } else {
                Obj::new().with(
                    "aws:lambda:FunctionArn",
                    format!("arn:aws:lambda:{region_name}:{id}:function:orders-api"),
                )
            };
            call.request = Obj::new()
                .with("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
                .with("encryptionContext", context)
                .into();
            call.resources = Some(resource(id, "AWS::KMS::Key", key_arn));
        }
        Kind::KmsGenerateDataKey => {
            call.request = Obj::new()
                .with("keyId", key_arn.clone())
                .with(
                    "encryptionContext",
                    Obj::new().with(
                        "aws:s3:arn",
                        format!("arn:aws:s3:::{bucket}/exports/{}.parquet", prng.hex(12)),
                    ),
                )
                .with("keySpec", "AES_256")
                .into();
            call.resources = Some(resource(id, "AWS::KMS::Key", key_arn));
        }
        Kind::IamGetRole | Kind::IamListAttachedRolePolicies => {
            let role = prng.pick(&acct.service_roles).name;
            call.request = Obj::new().with("roleName", role).into();
        }
        Kind::IamCreateSsmServiceLinkedRole => {
            call.request = Obj::new()
                .with("aWSServiceName", "ssm.amazonaws.com")
                .into();
            call.response = Obj::new()
                .with(
                    "role",
                    Obj::new()
                        .with("path", "/aws-service-role/ssm.amazonaws.com/")
                        .with("roleName", "AWSServiceRoleForAmazonSSM")
                        .with("roleId", format!("AROA{}", prng.upper_alnum(17)))
                        .with(
                            "arn",
                            format!("arn:aws:iam::{id}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM"),
                        )
                        .with("createDate", clock::sts_expiration(at)),
                )
                .into();
        }
        Kind::LambdaGetFunction => {
            call.request = Obj::new()
                .with(
                    "functionName",
                    *prng.pick(&["orders-api", "session-broker", "thumbnailer"]),
                )
                .into();
        }
        Kind::LogsCreateLogStream => {
            call.request = Obj::new()
                .with("logGroupName", "/aws/lambda/orders-api")
                .with(
                    "logStreamName",
                    format!("{}/[$LATEST]{}", clock::date_path(at), prng.hex(32)),
                )
                .into();
        }
        Kind::LogsDescribeLogGroups => {
            call.request = Obj::new().with("limit", 50i64).into();
        }
        Kind::CloudWatchDescribeAlarms => {
            call.request = Obj::new().with("maxRecords", 100i64).into();
        }
        Kind::SecretsGetSecretValue => {
            call.request = Obj::new()
                .with(
                    "secretId",
                    format!(
                        "arn:aws:secretsmanager:{region_name}:{id}:secret:prod/orders/db-{}",
                        prng.alnum(6)
                    ),
                )
                .into();
        }
        Kind::DynamoDescribeTable => {
            call.request = Obj::new()
                .with("tableName", *prng.pick(&["orders", "carts", "sessions"]))
                .into();
        }
        Kind::EcrGetAuthorizationToken => {
            call.request = Obj::new().with("registryIds", strings([id])).into();
        }
        Kind::SsmUpdateInstanceInformation => {
            let ip = format!("10.0.{}.{}", prng.below(256), 1 + prng.below(254));
            call.request = Obj::new()
                .with("instanceId", &instance)
                .with("agentVersion", "3.3.380.0")
                .with("agentStatus", "Active")
                .with("platformType", "Linux")
                .with("platformName", "Amazon Linux")
                .with("platformVersion", "2023")
                .with("iPAddress", ip.clone())
                .with(
                    "computerName",
                    format!("ip-{}.{region_name}.compute.internal", ip.replace('.', "-")),
                )
                .with("agentName", "amazon-ssm-agent")
                .with("availabilityZone", format!("{region_name}a"))
                .with("sSMConnectionChannel", "ssmmessages")
                .into();
        }
        Kind::SsmGetParameter => {
            call.request = Obj::new()
                .with(
                    "name",
                    *prng.pick(&[
                        "/orders/prod/feature-flags",
                        "/orders/prod/db-host",
                        "/platform/ami-id",
                    ]),
                )
                .with("withDecryption", true)
                .into();
        }
        Kind::SsmDescribeInstanceInformation => {
            call.request = Obj::new()
                .with("maxResults", 50i64)
                .with("instanceInformationFilterList", J::Arr(Vec::new()))
                .into();
        }
        Kind::SsmSendCommand => {
            let command_id = prng.uuid();
            call.request = Obj::new()
                .with("instanceIds", strings([instance.clone()]))
                .with("documentName", "AWS-RunShellScript")
                .with("parameters", "HIDDEN_DUE_TO_SECURITY_REASONS")
                .with("timeoutSeconds", 600i64)
                .with("interactive", false)
                .into();
            call.response = Obj::new()
                .with(
                    "command",
                    Obj::new()
                        .with("commandId", command_id)
                        .with("documentName", "AWS-RunShellScript")
                        .with("documentVersion", "$DEFAULT")
                        .with("comment", "")
                        .with("parameters", "HIDDEN_DUE_TO_SECURITY_REASONS")
                        .with("instanceIds", strings([instance.clone()]))
                        .with("targets", J::Arr(Vec::new()))
                        .with("requestedDateTime", clock::sts_expiration(at))
                        .with("status", "Pending")
                        .with("statusDetails", "Pending")
                        .with("outputS3Region", region_name)
                        .with("maxConcurrency", "50")
                        .with("maxErrors", "0")
                        .with("targetCount", 1i64)
                        .with("completedCount", 0i64)
                        .with("errorCount", 0i64)
                        .with("timeoutSeconds", 600i64),
                )
                .into();
        }
        Kind::SsmDescribeSessions => {
            call.request = Obj::new()
                .with("state", *prng.pick(&["Active", "History"]))
                .with("maxResults", 20i64)
                .into();
        }
        Kind::AthenaStartSession => {
            call.request = Obj::new()
                .with("workGroup", "spark-analytics")
                .with(
                    "engineConfiguration",
                    Obj::new()
                        .with("coordinatorDpuSize", 1i64)
                        .with("maxConcurrentDpus", 20i64)
                        .with("defaultExecutorDpuSize", 1i64),
                )
                .with("clientRequestToken", prng.uuid())
                .into();
            call.response = Obj::new()
                .with("sessionId", prng.uuid())
                .with("state", "CREATED")
                .into();
        }
        Kind::AthenaTerminateSession => {
            call.request = Obj::new().with("sessionId", prng.uuid()).into();
            call.response = Obj::new().with("state", "TERMINATING").into();
        }
        Kind::CloudTrailLookupStartSession => {
            call.request = Obj::new()
                .with(
                    "lookupAttributes",
                    J::Arr(vec![
                        Obj::new()
                            .with("attributeKey", "EventName")
                            .with("attributeValue", "StartSession")
                            .into(),
                    ]),
                )
                .with("maxResults", 50i64)
                .into();
        }
        Kind::EventsPutRuleForSessions => {
            call.request = Obj::new()
                .with("name", "sessiontrail-ssm-sessions")
                .with(
                    "eventPattern",
                    "{\"source\":[\"aws.ssm\"],\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"ssm.amazonaws.com\"],\"eventName\":[\"StartSession\",\"ResumeSession\",\"TerminateSession\"]}}",
                )
                .with("state", "ENABLED")
                .with("description", "ssm StartSession / TerminateSession to the sessiontrail Lambda")
                .into();
            call.response = Obj::new()
                .with(
                    "ruleArn",
                    format!("arn:aws:events:{region_name}:{id}:rule/sessiontrail-ssm-sessions"),
                )
                .into();
        }
    }
    cloudtrail::record(call, prng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::GenerateOptions;

    #[test]
    fn every_kind_builds_valid_json() {
        let world = World::new(&GenerateOptions::default());
        let mut prng = Prng::new(4);
        let kinds = MIX.iter().map(|(k, _)| *k).chain(DECOYS);
        for kind in kinds {
            let text = build(kind, &world, 0, 1, 1_769_940_000_000, &mut prng).to_json();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(value["eventSource"].is_string(), "{kind:?}");
            if value["eventSource"] == "ssm.amazonaws.com" {
                assert!(
                    !["StartSession", "ResumeSession", "TerminateSession"]
                        .contains(&value["eventName"].as_str().unwrap())
                );
            }
        }
    }
}
