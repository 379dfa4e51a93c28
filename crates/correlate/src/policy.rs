//! The policy file (`sessiontrail.toml`): who the broker is, which document and Linux
//! user each permission set must use, which direct sessions are allowed, and the
//! timing knobs. Keys are a contract (DESIGN.md "Policy"); an unknown key, a wrong type
//! or a bad value is an error naming the key and its line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::parse_duration;

pub const DEFAULT_DOCUMENT: &str = "SSM-SessionManagerRunShell";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("policy {path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PermissionSetPolicy {
    pub document: String,
    pub run_as: Option<String>,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub default_document: String,
    pub broker_role_arns: BTreeSet<String>,
    pub broker_role_names: BTreeSet<String>,
    pub grace: Duration,
    pub max_clock_skew: Duration,
    pub retention: Duration,
    pub permission_sets: BTreeMap<String, PermissionSetPolicy>,
    pub direct_allowed_permission_sets: BTreeSet<String>,
    pub direct_allowed_principals: BTreeSet<String>,
    /// `[report] min_attribution_rate`: the monthly report's pass mark.
    pub min_attribution_rate: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    default_document: Option<String>,
    broker: Spanned<BrokerSection>,
    #[serde(default)]
    permission_set: Vec<Spanned<PermissionSetEntry>>,
    #[serde(default)]
    direct: DirectSection,
    #[serde(default)]
    report: ReportSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokerSection {
    #[serde(default)]
    role_arns: Vec<String>,
    #[serde(default)]
    role_names: Vec<String>,
    grace: Option<Spanned<String>>,
    max_clock_skew: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionSetEntry {
    name: String,
    document: String,
    run_as: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DirectSection {
    #[serde(default)]
    allowed_permission_sets: Vec<String>,
    #[serde(default)]
    allowed_principals: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReportSection {
    min_attribution_rate: Option<Spanned<f64>>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Policy::parse(&text).map_err(|message| PolicyError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses policy text; the error names the key and line at fault.
    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| line_of(text, span.start));
            let message = e.message().trim().to_string();
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        let at = |span: std::ops::Range<usize>| format!("line {}", line_of(text, span.start));
        let duration = |value: &Option<Spanned<String>>, key: &str, default: Duration| match value {
            None => Ok(default),
            Some(value) => parse_duration(value.get_ref())
                .map_err(|e| format!("{}: broker.{key}: {e}", at(value.span()))),
        };
        let broker_span = file.broker.span();
        let broker = file.broker.into_inner();
        if broker.role_arns.is_empty() && broker.role_names.is_empty() {
            return Err(format!(
                "{}: broker: role_arns and role_names are both empty, so no session could be recognised as the broker's",
                at(broker_span)
            ));
        }
        let mut permission_sets = BTreeMap::new();
        for entry in file.permission_set {
            let span = entry.span();
            let entry = entry.into_inner();
            if entry.name.is_empty() || entry.document.is_empty() {
                return Err(format!(
                    "{}: permission_set: name and document must not be empty",
                    at(span)
                ));
            }
            let previous = permission_sets.insert(
                entry.name.clone(),
                PermissionSetPolicy {
                    document: entry.document,
                    run_as: entry.run_as,
                },
            );
            if previous.is_some() {
                return Err(format!(
                    "{}: permission_set: {:?} is defined twice",
                    at(span),
                    entry.name
                ));
            }
        }
        let min_attribution_rate = match file.report.min_attribution_rate {
            Some(rate) if !(0.0..=1.0).contains(rate.get_ref()) => {
                return Err(format!(
                    "{}: report.min_attribution_rate must be between 0 and 1",
                    at(rate.span())
                ));
            }
            other => other.map(Spanned::into_inner),
        };
        Ok(Policy {
            default_document: file
                .default_document
                .unwrap_or_else(|| DEFAULT_DOCUMENT.to_string()),
            broker_role_arns: broker.role_arns.into_iter().collect(),
            broker_role_names: broker.role_names.into_iter().collect(),
            grace: duration(&broker.grace, "grace", Duration::from_secs(30 * 60))?,
            max_clock_skew: duration(
                &broker.max_clock_skew,
                "max_clock_skew",
                Duration::from_secs(5 * 60),
            )?,
            retention: duration(
                &broker.retention,
                "retention",
                Duration::from_secs(14 * 86_400),
            )?,
            permission_sets,
            direct_allowed_permission_sets: file
                .direct
                .allowed_permission_sets
                .into_iter()
                .collect(),
            direct_allowed_principals: file.direct.allowed_principals.into_iter().collect(),
            min_attribution_rate,
        })
    }

    /// Is a principal with this session issuer the broker? (`sessionIssuer.arn` in
    /// `role_arns`, or its role name in `role_names`, in any account.)
    pub fn is_broker(&self, issuer_arn: Option<&str>, issuer_name: Option<&str>) -> bool {
        issuer_arn.is_some_and(|arn| self.broker_role_arns.contains(arn))
            || issuer_name.is_some_and(|name| self.broker_role_names.contains(name))
    }

    pub fn permission_set(&self, name: &str) -> Option<&PermissionSetPolicy> {
        self.permission_sets.get(name)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// What the policy fuzz target (`fuzz/fuzz_targets/policy.rs`) and its replay test
/// check on any text: parsing never panics, an error says something, and a valid policy
/// names the broker, has a rate within 0..=1 and parses the same way twice.
pub fn check_parse_invariants(text: &str) {
    match Policy::parse(text) {
        Err(message) => assert!(!message.trim().is_empty()),
        Ok(policy) => {
            assert!(!policy.broker_role_arns.is_empty() || !policy.broker_role_names.is_empty());
            assert!(
                policy
                    .min_attribution_rate
                    .is_none_or(|rate| (0.0..=1.0).contains(&rate))
            );
            assert_eq!(Policy::parse(text).ok(), Some(policy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
default_document = "SSM-SessionManagerRunShell"

[broker]
role_arns = ["arn:aws:iam::111122223333:role/ssm-session-broker"]
role_names = ["ssm-session-broker"]
grace = "30m"
max_clock_skew = "5m"
retention = "14d"

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"

[[permission_set]]
name = "Data_Engineer"
document = "SSMRunAs-DataEng-Session"

[direct]
allowed_permission_sets = ["BreakGlass"]
allowed_principals = []

[report]
min_attribution_rate = 0.999
"#;

    #[test]
    fn the_design_example_parses() {
        let policy = Policy::parse(POLICY).unwrap();
        assert_eq!(policy.grace, Duration::from_secs(1800));
        assert_eq!(
            policy.permission_set("Admin").unwrap().run_as.as_deref(),
            Some("admin")
        );
        assert_eq!(policy.permission_set("Data_Engineer").unwrap().run_as, None);
        assert!(policy.is_broker(None, Some("ssm-session-broker")));
        assert!(policy.is_broker(
            Some("arn:aws:iam::111122223333:role/ssm-session-broker"),
            None
        ));
        assert!(!policy.is_broker(Some("arn:aws:iam::1:role/other"), Some("other")));
        assert_eq!(policy.min_attribution_rate, Some(0.999));
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let bad = POLICY.replace(r#"grace = "30m""#, r#"grace = "30 minutes""#);
        let err = Policy::parse(&bad).unwrap_err();
        assert!(err.starts_with("line 7: broker.grace:"), "{err}");
        let bad = POLICY.replace("run_as = \"admin\"", "runas = \"admin\"");
        let err = Policy::parse(&bad).unwrap_err();
        assert!(
            err.starts_with("line 14:") && err.contains("runas"),
            "{err}"
        );
        let bad = POLICY.replace("max_clock_skew = \"5m\"", "max_clock_skew = 5");
        let err = Policy::parse(&bad).unwrap_err();
        assert!(err.starts_with("line 8:"), "{err}");
        let bad = POLICY.replace("name = \"Data_Engineer\"", "name = \"Admin\"");
        let err = Policy::parse(&bad).unwrap_err();
        assert!(err.contains("\"Admin\" is defined twice"), "{err}");
        let err = Policy::parse("[broker]\n").unwrap_err();
        assert!(err.contains("both empty"), "{err}");
        let err = Policy::parse("default_document = \"x\"\n").unwrap_err();
        assert!(err.contains("broker"), "{err}");
    }
}
