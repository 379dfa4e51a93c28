//! The Lambda's configuration, from environment variables (README: "Run in AWS").
//!
//! A configuration whose dataset (`SESSIONTRAIL_OUT`) overlaps an input location is
//! refused at start-up ([`LambdaConfig::check`]): the function would read what it
//! writes. The accounts the function trusts (`SESSIONTRAIL_ACCOUNTS`) are [`Accounts`].

use std::collections::BTreeSet;

use crate::alerts::DEFAULT_NAMESPACE;
use crate::s3_url::{S3Url, S3UrlError};

/// Where the Lambda reads and writes, and what it alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaConfig {
    /// `SESSIONTRAIL_OUT`: the dataset (`s3://bucket/prefix`).
    pub out: S3Url,
    /// `SESSIONTRAIL_POLICY`: the policy file, an `s3://` URL or a path in the package.
    pub policy: String,
    /// `SESSIONTRAIL_CLOUDTRAIL`: where CloudTrail log files arrive (comma-separated).
    pub cloudtrail: Vec<S3Url>,
    /// `SESSIONTRAIL_BROKER_LOG`: where broker log files arrive (comma-separated).
    pub broker_logs: Vec<S3Url>,
    /// `SESSIONTRAIL_EVENT_BUS`: bus name or ARN for findings; unset: no publishing.
    pub event_bus: Option<String>,
    /// `SESSIONTRAIL_METRICS_NAMESPACE` (default `SessionTrail`).
    pub metrics_namespace: String,
    /// `SESSIONTRAIL_MONTHLY_REPORT` (default true): the first scheduled run of a month
    /// writes the previous month's report to `OUT/reports/YYYY-MM/`.
    pub monthly_report: bool,
    /// `SESSIONTRAIL_AS_OF`: a fixed "now" (RFC 3339), for replaying and tests only.
    pub as_of: Option<i64>,
    /// `SESSIONTRAIL_PUBLIC_KEYS`: CloudTrail's public keys for checking each digest
    /// file as it arrives: `live` (CloudTrail `ListPublicKeys`), or where a saved
    /// `aws cloudtrail list-public-keys` output is (an `s3://` URL or a path in the
    /// package). Unset: digest files are not checked.
    pub public_keys: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name}: {source}")]
    Url {
        name: &'static str,
        #[source]
        source: S3UrlError,
    },
    #[error("environment variable {name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "SESSIONTRAIL_OUT {out} overlaps {name} {input}: the same bucket, and one prefix contains the other, so the function would read what it writes; give the dataset a prefix that neither begins an input prefix nor begins with one"
    )]
    Overlap {
        out: String,
        name: &'static str,
        input: String,
    },
}

impl LambdaConfig {
    /// Reads the configuration through `var` (`std::env::var` in the function).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<LambdaConfig, ConfigError> {
        let get = |name: &'static str| var(name).filter(|v| !v.trim().is_empty());
        let urls = |name: &'static str| -> Result<Vec<S3Url>, ConfigError> {
            get(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| S3Url::parse(s).map_err(|source| ConfigError::Url { name, source }))
                .collect()
        };
        let out =
            S3Url::parse(&get("SESSIONTRAIL_OUT").ok_or(ConfigError::Missing("SESSIONTRAIL_OUT"))?)
                .map_err(|source| ConfigError::Url {
                    name: "SESSIONTRAIL_OUT",
                    source,
                })?;
        let policy =
            get("SESSIONTRAIL_POLICY").ok_or(ConfigError::Missing("SESSIONTRAIL_POLICY"))?;
        let monthly_report = match get("SESSIONTRAIL_MONTHLY_REPORT").as_deref().map(str::trim) {
            None | Some("true" | "1" | "yes") => true,
            Some("false" | "0" | "no") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "SESSIONTRAIL_MONTHLY_REPORT",
                    value: other.to_string(),
                    reason: "expected true or false".into(),
                });
            }
        };
        let as_of = get("SESSIONTRAIL_AS_OF")
            .map(|value| {
                sessiontrail_ingest::time::parse_rfc3339_millis(&value).ok_or_else(|| {
                    ConfigError::Invalid {
                        name: "SESSIONTRAIL_AS_OF",
                        value: value.clone(),
                        reason: "not an RFC 3339 timestamp".into(),
                    }
                })
            })
            .transpose()?;
        let config = LambdaConfig {
            out,
            policy,
            cloudtrail: urls("SESSIONTRAIL_CLOUDTRAIL")?,
            broker_logs: urls("SESSIONTRAIL_BROKER_LOG")?,
            event_bus: get("SESSIONTRAIL_EVENT_BUS"),
            metrics_namespace: get("SESSIONTRAIL_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
            monthly_report,
            as_of,
            public_keys: get("SESSIONTRAIL_PUBLIC_KEYS").map(|v| v.trim().to_string()),
        };
        config.check()?;
        Ok(config)
    }

    /// Refuses a dataset that overlaps an input location: the same bucket, and the
    /// dataset's folder (`OUT/`, under which everything is written) begins with an input
    /// prefix or an input prefix begins with it. Prefixes are compared as S3 compares
    /// them (a listing of, and an EventBridge rule or IAM grant on, `broker` also
    /// covers `broker-out/`), not folder by folder.
    pub fn check(&self) -> Result<(), ConfigError> {
        let out = self.out.folder();
        let inputs = [
            ("SESSIONTRAIL_CLOUDTRAIL", &self.cloudtrail),
            ("SESSIONTRAIL_BROKER_LOG", &self.broker_logs),
        ];
        for (name, locations) in inputs {
            for input in locations.iter() {
                if input.bucket == self.out.bucket
                    && (out.starts_with(&input.key) || input.key.starts_with(&out))
                {
                    return Err(ConfigError::Overlap {
                        out: self.out.to_string(),
                        name,
                        input: input.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// `SESSIONTRAIL_ACCOUNTS`: the AWS accounts whose events the function takes, as a
/// comma-separated list of 12-digit account ids; unset or empty: any account.
///
/// With a list, a CloudTrail API-call event from another account is refused, and the
/// EMF `Account` dimension takes only listed accounts (others are counted under
/// `Account=other`, findings without an account under `unknown`): account ids come from
/// input the function does not control, and every new dimension value is a new custom
/// metric. Without a list, every finding is counted under `other`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts(Option<BTreeSet<String>>);

/// The `Account` dimension of findings from accounts not in [`Accounts`].
pub const OTHER_ACCOUNT: &str = "other";
/// The `Account` dimension of findings without an account.
pub const UNKNOWN_ACCOUNT: &str = "unknown";

impl Accounts {
    pub const VARIABLE: &'static str = "SESSIONTRAIL_ACCOUNTS";

    /// Any account (no list).
    pub fn any() -> Accounts {
        Accounts(None)
    }

    /// A comma-separated list of 12-digit account ids; empty: any account.
    pub fn parse(text: &str) -> Result<Accounts, ConfigError> {
        let mut listed = BTreeSet::new();
        for id in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !sessiontrail_ingest::arn::is_account_id(id) {
                return Err(ConfigError::Invalid {
                    name: Self::VARIABLE,
                    value: text.to_string(),
                    reason: format!("{id:?} is not a 12-digit AWS account id"),
                });
            }
            listed.insert(id.to_string());
        }
        Ok(Accounts((!listed.is_empty()).then_some(listed)))
    }

    /// Reads `SESSIONTRAIL_ACCOUNTS` through `var`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Accounts, ConfigError> {
        var(Self::VARIABLE).map_or(Ok(Accounts::any()), |text| Accounts::parse(&text))
    }

    /// Whether a list restricts the accounts.
    pub fn is_listed(&self) -> bool {
        self.0.is_some()
    }

    /// Whether events of `account` are taken: listed, or no list.
    pub fn allows(&self, account: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|listed| listed.contains(account))
    }

    /// The EMF `Account` dimension value for a finding's account: the account if
    /// listed, else `other` (`unknown` without an account).
    pub fn dimension(&self, account: Option<&str>) -> String {
        match account {
            None => UNKNOWN_ACCOUNT.to_string(),
            Some(account) if self.0.as_ref().is_some_and(|l| l.contains(account)) => {
                account.to_string()
            }
            Some(_) => OTHER_ACCOUNT.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn reads_every_variable() {
        let config = LambdaConfig::from_env(env(&[
            ("SESSIONTRAIL_OUT", "s3://audit-out/sessiontrail"),
            ("SESSIONTRAIL_POLICY", "s3://audit-out/sessiontrail.toml"),
            (
                "SESSIONTRAIL_CLOUDTRAIL",
                "s3://trail/AWSLogs/, s3://trail2/AWSLogs/",
            ),
            ("SESSIONTRAIL_BROKER_LOG", "s3://broker-logs/broker"),
            ("SESSIONTRAIL_EVENT_BUS", "sessiontrail-findings"),
            ("SESSIONTRAIL_MONTHLY_REPORT", "false"),
            ("SESSIONTRAIL_PUBLIC_KEYS", " live "),
        ]))
        .unwrap();
        assert_eq!(config.out.bucket, "audit-out");
        assert_eq!(config.cloudtrail.len(), 2);
        assert_eq!(config.cloudtrail[1].bucket, "trail2");
        assert_eq!(config.broker_logs[0].key, "broker");
        assert_eq!(config.event_bus.as_deref(), Some("sessiontrail-findings"));
        assert_eq!(config.metrics_namespace, "SessionTrail");
        assert!(!config.monthly_report);
        assert_eq!(config.as_of, None);
        assert_eq!(config.public_keys.as_deref(), Some("live"));
    }

    #[test]
    fn names_the_variable_that_is_wrong() {
        assert_eq!(
            LambdaConfig::from_env(env(&[])).unwrap_err(),
            ConfigError::Missing("SESSIONTRAIL_OUT")
        );
        let err = LambdaConfig::from_env(env(&[
            ("SESSIONTRAIL_OUT", "s3://audit-out/x"),
            ("SESSIONTRAIL_POLICY", "p.toml"),
            ("SESSIONTRAIL_BROKER_LOG", "/local/path"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("SESSIONTRAIL_BROKER_LOG"), "{err}");
        let err = LambdaConfig::from_env(env(&[
            ("SESSIONTRAIL_OUT", "s3://audit-out/x"),
            ("SESSIONTRAIL_POLICY", "p.toml"),
            ("SESSIONTRAIL_MONTHLY_REPORT", "maybe"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("SESSIONTRAIL_MONTHLY_REPORT"),
            "{err}"
        );
    }

    #[test]
    fn an_output_that_overlaps_an_input_is_refused_at_start_up() {
        let with = |out: &str, cloudtrail: &str, broker: &str| {
            let (out, cloudtrail, broker) =
                (out.to_string(), cloudtrail.to_string(), broker.to_string());
            LambdaConfig::from_env(move |name| match name {
                "SESSIONTRAIL_OUT" => Some(out.clone()),
                "SESSIONTRAIL_POLICY" => Some("p.toml".into()),
                "SESSIONTRAIL_CLOUDTRAIL" => Some(cloudtrail.clone()),
                "SESSIONTRAIL_BROKER_LOG" => Some(broker.clone()),
                _ => None,
            })
        };
        for (out, cloudtrail, broker, name) in [
            // The dataset inside an input prefix: its own objects would be inputs.
            (
                "s3://bkt/logs/sessiontrail",
                "s3://trl/AWSLogs/",
                "s3://bkt/logs/",
                "SESSIONTRAIL_BROKER_LOG",
            ),
            // An input inside the dataset.
            (
                "s3://bkt/out",
                "s3://bkt/out/AWSLogs/",
                "s3://xyz/broker/",
                "SESSIONTRAIL_CLOUDTRAIL",
            ),
            // The same prefix.
            (
                "s3://bkt/same/",
                "s3://bkt/same",
                "",
                "SESSIONTRAIL_CLOUDTRAIL",
            ),
            // A whole bucket on either side.
            (
                "s3://bkt",
                "s3://trl/AWSLogs/",
                "s3://bkt/broker/",
                "SESSIONTRAIL_BROKER_LOG",
            ),
            ("s3://bkt/out", "s3://bkt", "", "SESSIONTRAIL_CLOUDTRAIL"),
            // S3 prefixes are not folders: a listing of `broker` covers `broker-out/`.
            (
                "s3://bkt/broker-out",
                "",
                "s3://bkt/broker",
                "SESSIONTRAIL_BROKER_LOG",
            ),
        ] {
            let err = with(out, cloudtrail, broker).unwrap_err();
            assert!(matches!(err, ConfigError::Overlap { .. }), "{out}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("SESSIONTRAIL_OUT") && text.contains(name),
                "{text}"
            );
        }
        for (out, cloudtrail, broker) in [
            (
                "s3://audit-out/sessiontrail",
                "s3://trail/AWSLogs/",
                "s3://broker-logs/broker/",
            ),
            (
                "s3://bkt/sessiontrail",
                "s3://bkt/AWSLogs/",
                "s3://bkt/broker/",
            ),
            ("s3://bkt/out/", "s3://bkt/outside/", ""),
        ] {
            with(out, cloudtrail, broker).unwrap_or_else(|e| panic!("{out}: {e}"));
        }
    }

    #[test]
    fn accounts_are_a_list_of_12_digit_ids() {
        let accounts = Accounts::parse(" 111122223333,444455556666 ,").unwrap();
        assert!(accounts.is_listed());
        assert!(accounts.allows("444455556666"));
        assert!(!accounts.allows("999999999999"));
        assert_eq!(accounts.dimension(Some("111122223333")), "111122223333");
        assert_eq!(accounts.dimension(Some("999999999999")), OTHER_ACCOUNT);
        assert_eq!(accounts.dimension(None), UNKNOWN_ACCOUNT);
        let any = Accounts::from_env(|_| None).unwrap();
        assert!(!any.is_listed() && any.allows("999999999999"));
        assert_eq!(any.dimension(Some("999999999999")), OTHER_ACCOUNT);
        assert_eq!(Accounts::parse("").unwrap(), Accounts::any());
        for bad in ["1111", "11112222333a", "111122223333,arn:aws:iam::1:root"] {
            let err = Accounts::parse(bad).unwrap_err().to_string();
            assert!(err.contains("SESSIONTRAIL_ACCOUNTS"), "{err}");
        }
    }
}
