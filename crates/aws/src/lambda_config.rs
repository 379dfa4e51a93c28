//! The Lambda's configuration, from environment variables (README: "Run in AWS").

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
        Ok(LambdaConfig {
            out,
            policy,
            cloudtrail: urls("SESSIONTRAIL_CLOUDTRAIL")?,
            broker_logs: urls("SESSIONTRAIL_BROKER_LOG")?,
            event_bus: get("SESSIONTRAIL_EVENT_BUS"),
            metrics_namespace: get("SESSIONTRAIL_METRICS_NAMESPACE")
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
            monthly_report,
            as_of,
        })
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
}
