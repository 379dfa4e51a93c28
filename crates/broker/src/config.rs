//! The broker's configuration, from the Lambda's environment (docs/contracts.md
//! "Broker API", environment variables).

use std::path::PathBuf;

use crate::start::is_starter_role;

pub const POLICY_VAR: &str = "SESSIONTRAIL_POLICY";
pub const STARTER_ROLE_VAR: &str = "SESSIONTRAIL_BROKER_STARTER_ROLE";
pub const ORGANIZATION_VAR: &str = "SESSIONTRAIL_BROKER_ORGANIZATION_ID";
pub const PARTITION_VAR: &str = "SESSIONTRAIL_BROKER_PARTITION";
pub const DEFAULT_STARTER_ROLE: &str = "sessiontrail-session-starter";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The policy file, a path in the function's package.
    pub policy: PathBuf,
    /// The session-starter role's `[path/]name`, the same in every member account.
    pub starter_role: String,
    /// When set, the only `principalOrgId` accepted.
    pub organisation: Option<String>,
    /// The partition when the function's ARN does not give it (local runs).
    pub partition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{POLICY_VAR} is not set: give the policy file's path in the package")]
    NoPolicy,
    #[error(
        "{POLICY_VAR}: the broker reads its policy from its package, not from S3 (a policy change is a deployment, and the cold start makes no S3 call): copy the file beside the binary and give its path"
    )]
    S3Policy,
    #[error(
        "{STARTER_ROLE_VAR}: not an IAM role name ([path/]name, 1 to 64 of A-Z a-z 0-9 _ + = , . @ -)"
    )]
    StarterRole,
    #[error(
        "{ORGANIZATION_VAR}: not an organisation id (o- and 10 to 32 lowercase letters or digits)"
    )]
    Organisation,
    #[error("{PARTITION_VAR}: not a partition this broker knows")]
    Partition,
}

impl Config {
    /// Reads the configuration through `var` (the process environment in the Lambda).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let policy = set(POLICY_VAR).ok_or(ConfigError::NoPolicy)?;
        if policy.starts_with("s3://") {
            return Err(ConfigError::S3Policy);
        }
        let starter_role = set(STARTER_ROLE_VAR).unwrap_or_else(|| DEFAULT_STARTER_ROLE.into());
        if !is_starter_role(&starter_role) {
            return Err(ConfigError::StarterRole);
        }
        let organisation = set(ORGANIZATION_VAR);
        if let Some(org) = &organisation {
            let rest = org.strip_prefix("o-").unwrap_or("");
            if !(10..=32).contains(&rest.len())
                || !rest
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(ConfigError::Organisation);
            }
        }
        let partition = set(PARTITION_VAR);
        if let Some(partition) = &partition
            && !crate::caller::PARTITIONS.contains(&partition.as_str())
        {
            return Err(ConfigError::Partition);
        }
        Ok(Config {
            policy: PathBuf::from(policy),
            starter_role,
            organisation,
            partition,
        })
    }

    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            config(&[("SESSIONTRAIL_POLICY", "sessiontrail.toml")]).unwrap(),
            Config {
                policy: "sessiontrail.toml".into(),
                starter_role: "sessiontrail-session-starter".into(),
                organisation: None,
                partition: None,
            }
        );
        let full = config(&[
            ("SESSIONTRAIL_POLICY", "/var/task/sessiontrail.toml"),
            ("SESSIONTRAIL_BROKER_STARTER_ROLE", "ssm/starter"),
            ("SESSIONTRAIL_BROKER_ORGANIZATION_ID", "o-abc123defg"),
            ("SESSIONTRAIL_BROKER_PARTITION", "aws-cn"),
        ])
        .unwrap();
        assert_eq!(full.starter_role, "ssm/starter");
        assert_eq!(full.organisation.as_deref(), Some("o-abc123defg"));
        assert_eq!(full.partition.as_deref(), Some("aws-cn"));
    }

    #[test]
    fn bad_values() {
        assert_eq!(config(&[]).unwrap_err(), ConfigError::NoPolicy);
        let policy = ("SESSIONTRAIL_POLICY", "p.toml");
        assert_eq!(
            config(&[("SESSIONTRAIL_POLICY", "s3://b/p.toml")]).unwrap_err(),
            ConfigError::S3Policy
        );
        assert_eq!(
            config(&[policy, ("SESSIONTRAIL_BROKER_STARTER_ROLE", "bad role")]).unwrap_err(),
            ConfigError::StarterRole
        );
        assert_eq!(
            config(&[policy, ("SESSIONTRAIL_BROKER_ORGANIZATION_ID", "o-x")]).unwrap_err(),
            ConfigError::Organisation
        );
        assert_eq!(
            config(&[policy, ("SESSIONTRAIL_BROKER_PARTITION", "aws-moon")]).unwrap_err(),
            ConfigError::Partition
        );
    }
}
