//! The simulated organisation: accounts, regions, instances, Identity Center users and
//! roles, the broker's execution role, and the CloudTrail `userIdentity` of each.

use crate::clock::{MINUTE, Millis};
use crate::json::{J, Obj};
use crate::options::GenerateOptions;
use crate::policy;
use crate::prng::Prng;

/// Organization id of the organization trail layout.
pub const ORG_ID: &str = "o-exampleorgid";
/// Name of the broker Lambda's execution role (`sessionIssuer.userName`).
pub const BROKER_ROLE: &str = "ssm-session-broker";
/// Name of the broker Lambda (the role session name, so SessionIds start with it).
pub const BROKER_FUNCTION: &str = "session-broker";
/// A non-SSO role allowed to start sessions directly (`[direct] allowed_principals`).
pub const AUTOMATION_ROLE: &str = "ops-automation";
/// A plain IAM role named like a permission set: it has no permission set.
pub const CONSOLE_ROLE: &str = "Admin";
/// The Identity Center home region (the region path of SSO role ARNs).
pub const SSO_REGION: &str = "eu-west-1";
/// Trail name of the plain layout (digest file names carry it).
pub const TRAIL_NAME: &str = "management-events";

/// An assumed-role session: role, path and session name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleSession {
    pub account: String,
    pub role_name: String,
    /// Role path, starting and ending with `/` (`/` for none).
    pub path: String,
    /// The role's unique id (`AROA...`).
    pub role_id: String,
    pub session_name: String,
}

/// Who made a call, as CloudTrail's `userIdentity` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Role(RoleSession),
    IamUser {
        account: String,
        name: String,
        id: String,
    },
    Service {
        invoked_by: String,
    },
}

impl Identity {
    /// `userIdentity.arn` (STS form for roles); empty for AWS services.
    pub fn arn(&self) -> String {
        match self {
            Identity::Role(role) => format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                role.account, role.role_name, role.session_name
            ),
            Identity::IamUser { account, name, .. } => {
                format!("arn:aws:iam::{account}:user/{name}")
            }
            Identity::Service { .. } => String::new(),
        }
    }

    /// `sessionContext.sessionIssuer.arn` (IAM form, path kept) for roles.
    pub fn issuer_arn(&self) -> Option<String> {
        match self {
            Identity::Role(role) => Some(format!(
                "arn:aws:iam::{}:role{}{}",
                role.account, role.path, role.role_name
            )),
            _ => None,
        }
    }

    /// `userIdentity.principalId` (`AROA...:<session>` for roles).
    pub fn principal_id(&self) -> String {
        match self {
            Identity::Role(role) => format!("{}:{}", role.role_id, role.session_name),
            Identity::IamUser { id, .. } => id.clone(),
            Identity::Service { .. } => String::new(),
        }
    }

    /// The name SSM puts in front of a SessionId: role session name or IAM user name.
    pub fn caller_name(&self) -> String {
        match self {
            Identity::Role(role) => role.session_name.clone(),
            Identity::IamUser { name, .. } => name.clone(),
            Identity::Service { .. } => "session".to_owned(),
        }
    }

    /// The `userIdentity` object of a record made at `at`.
    pub fn to_json(&self, at: Millis, prng: &mut Prng) -> J {
        match self {
            Identity::Role(role) => {
                let created = at - prng.between(2 * MINUTE, 11 * 60 * MINUTE);
                let creation_date = if prng.chance(0.25) {
                    crate::clock::basic(created)
                } else {
                    crate::clock::event_time(created)
                };
                let issuer = Obj::new()
                    .with("type", "Role")
                    .with("principalId", &role.role_id)
                    .with("arn", self.issuer_arn().unwrap_or_default())
                    .with("accountId", &role.account)
                    .with("userName", &role.role_name);
                let context = Obj::new()
                    .with("sessionIssuer", issuer)
                    .with("webIdFederationData", Obj::new())
                    .with(
                        "attributes",
                        Obj::new()
                            .with("creationDate", creation_date)
                            .with("mfaAuthenticated", "false"),
                    );
                Obj::new()
                    .with("type", "AssumedRole")
                    .with("principalId", self.principal_id())
                    .with("arn", self.arn())
                    .with("accountId", &role.account)
                    .with("accessKeyId", format!("ASIA{}", prng.upper_alnum(16)))
                    .with("sessionContext", context)
                    .into()
            }
            Identity::IamUser { account, name, id } => Obj::new()
                .with("type", "IAMUser")
                .with("principalId", id)
                .with("arn", self.arn())
                .with("accountId", account)
                .with("accessKeyId", format!("AKIA{}", prng.upper_alnum(16)))
                .with("userName", name)
                .into(),
            Identity::Service { invoked_by } => Obj::new()
                .with("type", "AWSService")
                .with("invokedBy", invoked_by)
                .into(),
        }
    }
}

/// An identity with where it calls from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub identity: Identity,
    pub source_ip: String,
    pub user_agent: String,
    /// Credentials from the console (`sessionCredentialFromConsole: "true"`).
    pub console: bool,
}

/// The Identity Center role of one permission set in one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoRole {
    pub permission_set: &'static str,
    /// 16 hex digits after the last `_` of the role name.
    pub suffix: String,
    pub role_id: String,
}

impl SsoRole {
    /// `AWSReservedSSO_<PermissionSet>_<suffix>`.
    pub fn role_name(&self) -> String {
        format!("AWSReservedSSO_{}_{}", self.permission_set, self.suffix)
    }
}

/// A workload role that makes background (noise) calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRole {
    pub name: &'static str,
    pub role_id: String,
    /// Session name; `None` means "the calling instance id".
    pub session: Option<&'static str>,
    pub user_agent: &'static str,
}

/// One AWS account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    /// Its trail is an organization trail (`AWSLogs/o-exampleorgid/<acct>/...`).
    pub org_trail: bool,
    /// SSO role path: with the Identity Center region segment or without.
    pub sso_path: String,
    pub sso_roles: Vec<SsoRole>,
    pub broker_role_id: String,
    pub broker_ip: String,
    pub automation_role_id: String,
    pub console_role_id: String,
    pub iam_user: (String, String),
    /// Instance ids per region (same order as `World::regions`).
    pub instances: Vec<Vec<String>>,
    pub buckets: Vec<String>,
    pub kms_keys: Vec<String>,
    pub service_roles: Vec<ServiceRole>,
}

/// An Identity Center user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Role session name: the Identity Center user name (an email).
    pub name: String,
    pub permission_sets: Vec<&'static str>,
    /// Takes part in the regular (clean) traffic.
    pub regular: bool,
    pub source_ip: String,
    pub user_agent: &'static str,
}

/// User agent of the broker client that users run.
pub const CLIENT_AGENT: &str = "session-broker-cli/1.4.2 aws-sdk-go-v2/1.30.3 os/macos lang/go#1.22.5 md/GOOS#darwin md/GOARCH#arm64 api/ssm#1.52.4";
/// User agent of the AWS CLI starting a session directly.
pub const CLI_AGENT: &str =
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off command/ssm.start-session";
/// User agent of the broker Lambda's SDK calls.
pub const BROKER_AGENT: &str = "aws-sdk-rust/1.3.9 ua/2.1 api/ssm/1.61.0 os/linux lang/rust/1.88.0 exec-env/AWS_Lambda_provided.al2023 m/E";

const USERS: [(&str, &[&str], bool); 22] = [
    ("alice@example.com", &["Admin"], true),
    ("bob@example.com", &["ReadOnly"], true),
    ("carol@example.com", &["Data_Engineer"], true),
    ("dave@example.com", &["Dev"], true),
    ("erin@example.com", &["Dev", "ReadOnly"], true),
    ("frank@example.com", &["ReadOnly"], true),
    ("grace@example.com", &["Admin", "ReadOnly"], true),
    ("heidi@example.com", &["Data_Engineer"], true),
    ("ivan@example.com", &["Dev"], true),
    ("judy@example.com", &["ReadOnly", "Data_Engineer"], true),
    ("li.wei@example.com", &["Dev"], true),
    ("maria.garcia@example.com", &["Data_Engineer", "Dev"], true),
    ("jean-luc@example.com", &["Admin"], true),
    ("olivia@example.com", &["Admin"], true),
    ("peggy@example.com", &["Dev"], true),
    ("trent@example.com", &["ReadOnly"], true),
    ("victor@example.com", &["Dev"], true),
    ("walter@example.com", &["Data_Engineer"], true),
    // Only in planted cases:
    ("henry@example.com", &["Billing"], false),
    ("rupert@example.com", &["BreakGlass"], false),
    ("sybil@example.com", &["ReadOnly"], false),
    ("mallory@example.com", &["Admin", "ReadOnly"], false),
];

const USER_AGENTS: [&str; 3] = [
    CLIENT_AGENT,
    "session-broker-cli/1.4.2 aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ssm#1.52.4",
    "session-broker-cli/1.3.0 aws-sdk-go-v2/1.27.0 os/windows lang/go#1.22.1 md/GOOS#windows md/GOARCH#amd64 api/ssm#1.50.0",
];

const SERVICE_ROLES: [(&str, Option<&str>, &str); 5] = [
    (
        "orders-api-lambda-role",
        Some("orders-api"),
        "aws-sdk-java/2.25.16 Linux/5.10.214-223.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.3+9-LTS Java/21.0.3 vendor/Amazon.com_Inc. exec-env/AWS_Lambda_java21 io/sync http/Apache cfg/retry-mode/legacy",
    ),
    (
        "eks-node-group-role",
        None,
        "aws-sdk-go/1.50.25 (go1.21.8; linux; amd64)",
    ),
    (
        "github-actions-deploy",
        Some("GitHubActions"),
        "aws-cli/2.15.38 Python/3.11.8 Linux/6.5.0-1017-azure exe/x86_64.ubuntu.22 prompt/off command/cloudformation.deploy",
    ),
    (
        "ssm-instance-profile-role",
        None,
        "aws-sdk-go/1.44.260 (go1.20.11; linux; amd64) amazon-ssm-agent/3.3.380.0",
    ),
    (
        "datadog-integration-role",
        Some("DatadogAWSIntegration"),
        "Datadog/1.0 Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.11.9 Botocore/1.34.69",
    ),
];

/// Everything the generated data is about.
#[derive(Clone, Debug)]
pub struct World {
    pub accounts: Vec<Account>,
    pub regions: Vec<String>,
    pub users: Vec<User>,
}

impl World {
    /// The organisation of `options` (drawn from the seed).
    pub fn new(options: &GenerateOptions) -> Self {
        let mut prng = Prng::derive(options.seed, "world", 0);
        let regions = options.regions.clone();
        let mut ids: Vec<String> = Vec::new();
        let mut accounts = Vec::new();
        let count = options.accounts as usize;
        for index in 0..count {
            let id = loop {
                let candidate = prng.digits(12);
                if !ids.contains(&candidate) {
                    break candidate;
                }
            };
            ids.push(id.clone());
            let sso_path = if index % 2 == 0 {
                format!("/aws-reserved/sso.amazonaws.com/{SSO_REGION}/")
            } else {
                "/aws-reserved/sso.amazonaws.com/".to_owned()
            };
            let sso_roles = policy::all_sets()
                .into_iter()
                .map(|permission_set| SsoRole {
                    permission_set,
                    suffix: prng.hex(16),
                    role_id: format!("AROA{}", prng.upper_alnum(17)),
                })
                .collect();
            let instances = regions
                .iter()
                .map(|_| {
                    let n = 6 + prng.index(14);
                    (0..n)
                        .map(|_| {
                            if prng.chance(0.05) {
                                format!("mi-0{}", prng.hex(16))
                            } else {
                                format!("i-0{}", prng.hex(16))
                            }
                        })
                        .collect()
                })
                .collect();
            let buckets = ["app-assets", "data-lake-raw", "build-artifacts", "backups"]
                .iter()
                .map(|name| format!("{name}-{id}"))
                .collect();
            let kms_keys = (0..3).map(|_| prng.uuid()).collect();
            let service_roles = SERVICE_ROLES
                .iter()
                .map(|(name, session, user_agent)| ServiceRole {
                    name,
                    role_id: format!("AROA{}", prng.upper_alnum(17)),
                    session: *session,
                    user_agent,
                })
                .collect();
            accounts.push(Account {
                org_trail: count >= 2 && index == count - 1,
                sso_path,
                sso_roles,
                broker_role_id: format!("AROA{}", prng.upper_alnum(17)),
                broker_ip: prng.ip_in("203.0.113"),
                automation_role_id: format!("AROA{}", prng.upper_alnum(17)),
                console_role_id: format!("AROA{}", prng.upper_alnum(17)),
                iam_user: (
                    "garland.kan.temp".to_owned(),
                    format!("AIDA{}", prng.upper_alnum(17)),
                ),
                instances,
                buckets,
                kms_keys,
                service_roles,
                id,
            });
        }
        let nets = ["198.51.100", "192.0.2", "203.0.113"];
        let users = USERS
            .iter()
            .map(|(name, sets, regular)| User {
                name: (*name).to_owned(),
                permission_sets: sets.to_vec(),
                regular: *regular,
                source_ip: {
                    let net = *prng.pick(&nets);
                    prng.ip_in(net)
                },
                user_agent: USER_AGENTS[prng.index(USER_AGENTS.len())],
            })
            .collect();
        World {
            accounts,
            regions,
            users,
        }
    }

    /// Index of the user named `name`.
    pub fn user(&self, name: &str) -> usize {
        self.users
            .iter()
            .position(|user| user.name == name)
            .unwrap_or(0)
    }

    /// `sessionIssuer.arn` of the broker in `account` (the policy's `broker.role_arns`).
    pub fn broker_role_arn(&self, account: usize) -> String {
        format!(
            "arn:aws:iam::{}:role/{BROKER_ROLE}",
            self.accounts[account].id
        )
    }

    /// The allowed direct principal (`[direct] allowed_principals`).
    pub fn automation_role_arn(&self, account: usize) -> String {
        format!(
            "arn:aws:iam::{}:role/{AUTOMATION_ROLE}",
            self.accounts[account].id
        )
    }

    /// The broker Lambda calling SSM in `account`.
    pub fn broker_actor(&self, account: usize) -> Actor {
        let acct = &self.accounts[account];
        Actor {
            identity: Identity::Role(RoleSession {
                account: acct.id.clone(),
                role_name: BROKER_ROLE.to_owned(),
                path: "/".to_owned(),
                role_id: acct.broker_role_id.clone(),
                session_name: BROKER_FUNCTION.to_owned(),
            }),
            source_ip: acct.broker_ip.clone(),
            user_agent: BROKER_AGENT.to_owned(),
            console: false,
        }
    }

    /// The SSO role of `permission_set` in `account`.
    pub fn sso_role(&self, account: usize, permission_set: &str) -> &SsoRole {
        let roles = &self.accounts[account].sso_roles;
        roles
            .iter()
            .find(|role| role.permission_set == permission_set)
            .unwrap_or(&roles[0])
    }

    /// User `user` working through permission set `permission_set` in `account`.
    pub fn sso_actor(&self, account: usize, permission_set: &str, user: usize) -> Actor {
        let path = self.accounts[account].sso_path.clone();
        self.sso_actor_with_path(account, permission_set, user, &path)
    }

    /// Like [`World::sso_actor`] with an explicit role path.
    pub fn sso_actor_with_path(
        &self,
        account: usize,
        permission_set: &str,
        user: usize,
        path: &str,
    ) -> Actor {
        let role = self.sso_role(account, permission_set);
        let user = &self.users[user];
        Actor {
            identity: Identity::Role(RoleSession {
                account: self.accounts[account].id.clone(),
                role_name: role.role_name(),
                path: path.to_owned(),
                role_id: role.role_id.clone(),
                session_name: user.name.clone(),
            }),
            source_ip: user.source_ip.clone(),
            user_agent: user.user_agent.to_owned(),
            console: false,
        }
    }

    /// A plain IAM role (not SSO) in `account`, e.g. the console role `Admin`.
    pub fn plain_role_actor(&self, account: usize, role: &str, session: &str, ip: &str) -> Actor {
        let acct = &self.accounts[account];
        let role_id = if role == AUTOMATION_ROLE {
            acct.automation_role_id.clone()
        } else {
            acct.console_role_id.clone()
        };
        Actor {
            identity: Identity::Role(RoleSession {
                account: acct.id.clone(),
                role_name: role.to_owned(),
                path: "/".to_owned(),
                role_id,
                session_name: session.to_owned(),
            }),
            source_ip: ip.to_owned(),
            user_agent: CLI_AGENT.to_owned(),
            console: false,
        }
    }

    /// The IAM user of `account`.
    pub fn iam_user_actor(&self, account: usize, ip: &str) -> Actor {
        let acct = &self.accounts[account];
        Actor {
            identity: Identity::IamUser {
                account: acct.id.clone(),
                name: acct.iam_user.0.clone(),
                id: acct.iam_user.1.clone(),
            },
            source_ip: ip.to_owned(),
            user_agent: "aws-cli/2.0.0 Python/3.7.3 Linux/5.4.0-29-generic botocore/2.0.0dev4"
                .to_owned(),
            console: false,
        }
    }

    /// The region of the global services' events (IAM): `us-east-1` when generated.
    pub fn global_region(&self) -> Option<usize> {
        self.regions.iter().position(|r| r == "us-east-1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_have_the_aws_shapes() {
        let world = World::new(&GenerateOptions::default());
        let acct = &world.accounts[0].id;
        let actor = world.sso_actor(0, "Data_Engineer", world.user("carol@example.com"));
        let role = world.sso_role(0, "Data_Engineer");
        assert_eq!(
            actor.identity.arn(),
            format!(
                "arn:aws:sts::{acct}:assumed-role/AWSReservedSSO_Data_Engineer_{}/carol@example.com",
                role.suffix
            )
        );
        assert_eq!(
            actor.identity.issuer_arn().unwrap(),
            format!(
                "arn:aws:iam::{acct}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Data_Engineer_{}",
                role.suffix
            )
        );
        let broker = world.broker_actor(1);
        assert_eq!(
            broker.identity.issuer_arn().unwrap(),
            world.broker_role_arn(1)
        );
        assert!(
            broker
                .identity
                .arn()
                .ends_with(":assumed-role/ssm-session-broker/session-broker")
        );
        assert!(world.accounts[1].org_trail && !world.accounts[0].org_trail);
        assert_eq!(
            world.accounts[1].sso_path,
            "/aws-reserved/sso.amazonaws.com/"
        );
    }
}
