//! AWS Security Finding Format (ASFF) for Security Hub's BatchImportFindings: findings
//! grouped in batches of at most [`MAX_BATCH`] (the Security Hub API reference,
//! "BatchImportFindings" and "AwsSecurityFinding").
//!
//! Each finding is imported under the custom-source product of its own account and
//! region (`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`);
//! BatchImportFindings then only accepts it from that account, so a multi-account
//! dataset is imported per account.
//!
//! The partition, account and region come from the data and are spliced into ARNs, so
//! each is checked first ([`Unexportable`]): the partition is one of [`PARTITIONS`],
//! the account 12 digits, the region an AWS region name (lowercase words joined by
//! `-`, ending in `-` and a number: `eu-west-1`, `us-gov-west-1`, `eusc-de-east-1`). A
//! finding that fails is left out of the export, and the export says which and why.
//!
//! A finding withdrawn by a later run (`resolved_time` set) is exported with
//! `Workflow.Status` `RESOLVED` (`NEW` otherwise), `UpdatedAt` its resolution time, and
//! `RecordState` `ACTIVE` all the same: it stays as evidence. BatchImportFindings sets
//! `Workflow` only when it creates a finding, so a finding imported while open keeps
//! the workflow status Security Hub holds for it.

use std::fmt;

use serde_json::{Map, Value, json};

use sessiontrail_correlate::rule::asff_types::BEST_PRACTICES;
use sessiontrail_correlate::{Rule, Severity};

use super::row::{FindingRow, Named, TargetKind};
use super::title::title_of;

/// The ASFF schema version.
pub const SCHEMA_VERSION: &str = "2018-10-08";
/// BatchImportFindings takes at most 100 findings per call.
pub const MAX_BATCH: usize = 100;
/// Description is at most 1024 characters.
pub const MAX_DESCRIPTION: usize = 1024;
/// Title is at most 256 characters.
pub const MAX_TITLE: usize = 256;
/// A ProductFields value is at most 2048 characters.
const MAX_PRODUCT_FIELD: usize = 2048;
/// The AWS partitions: a finding's partition must be one of them to be spliced into
/// its ARNs.
pub use sessiontrail_ingest::arn::PARTITIONS;
/// The values of `Resource.Partition` (enum `Partition` of the Security Hub API
/// model); another partition (`aws-iso`, `aws-iso-b`...) leaves the optional member out.
const RESOURCE_PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// Why a finding cannot be expressed in ASFF: what is missing or malformed. Values
/// from the data are shown quoted and escaped (`{:?}`), so that none can write control
/// characters to a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unexportable {
    /// Neither `account_id` nor the principal ARN names an account.
    NoAccount,
    /// The account is not 12 digits.
    InvalidAccount(String),
    /// No `region`.
    NoRegion,
    /// The region is not an AWS region name.
    InvalidRegion(String),
    /// The partition (from the principal ARN, else the region) is not an AWS
    /// partition.
    InvalidPartition(String),
    /// A severity other than low, medium, high, critical.
    UnknownSeverity(String),
}

impl Unexportable {
    /// What kind of problem it is, without the value (to count findings by it).
    pub fn kind(&self) -> &'static str {
        match self {
            Unexportable::NoAccount => "no account",
            Unexportable::InvalidAccount(_) => "an account that is not 12 digits",
            Unexportable::NoRegion => "no region",
            Unexportable::InvalidRegion(_) => "a region that is not an AWS region name",
            Unexportable::InvalidPartition(_) => "a partition that is not an AWS partition",
            Unexportable::UnknownSeverity(_) => "an unknown severity",
        }
    }
}

impl fmt::Display for Unexportable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unexportable::NoAccount => {
                f.write_str("no account_id (AwsAccountId and ProductArn need one)")
            }
            Unexportable::InvalidAccount(account) => {
                write!(f, "account {account:?} is not 12 digits")
            }
            Unexportable::NoRegion => f.write_str("no region (ProductArn needs one)"),
            Unexportable::InvalidRegion(region) => {
                write!(f, "region {region:?} is not an AWS region name")
            }
            Unexportable::InvalidPartition(partition) => write!(
                f,
                "partition {partition:?} is not one of {}",
                PARTITIONS.join(", ")
            ),
            Unexportable::UnknownSeverity(severity) => {
                write!(f, "unknown severity {severity:?}")
            }
        }
    }
}

/// Whether `account` is an AWS account id: 12 ASCII digits.
pub use sessiontrail_ingest::arn::is_account_id;

/// Whether `region` is an AWS region name: like `[a-z]{2}(-[a-z]+)+-\d`, the first
/// word of 2 to 4 letters (`eusc-de-east-1`) and the number of 1 or 2 digits.
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let letters = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase());
    match parts.as_slice() {
        [first, words @ .., number] if !words.is_empty() => {
            (2..=4).contains(&first.len())
                && letters(first)
                && words.iter().all(|word| letters(word))
                && (1..=2).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// The `Severity.Label` of a sessiontrail severity.
pub fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// The ASFF `Types` of a finding of an unknown rule.
const UNKNOWN_RULE_TYPES: &[&str] = &[BEST_PRACTICES];

/// The ASFF `Types` of a rule ([`RuleInfo::asff_types`]; an unknown rule's are
/// [`UNKNOWN_RULE_TYPES`]).
///
/// [`RuleInfo::asff_types`]: sessiontrail_correlate::rule::RuleInfo::asff_types
pub fn types(rule: &Named<Rule>) -> &'static [&'static str] {
    rule.known()
        .map_or(UNKNOWN_RULE_TYPES, |rule| rule.info().asff_types)
}

/// The ASFF finding of one row, or why the row cannot be one.
pub fn finding(row: &FindingRow) -> Result<Value, Unexportable> {
    let account = row.account().ok_or(Unexportable::NoAccount)?;
    if !is_account_id(account) {
        return Err(Unexportable::InvalidAccount(account.to_string()));
    }
    let region = row
        .region
        .as_deref()
        .filter(|region| !region.trim().is_empty())
        .ok_or(Unexportable::NoRegion)?;
    if !is_region(region) {
        return Err(Unexportable::InvalidRegion(region.to_string()));
    }
    let partition = row.partition();
    if !PARTITIONS.contains(&partition) {
        return Err(Unexportable::InvalidPartition(partition.to_string()));
    }
    let label = match &row.severity {
        Named::Known(severity) => severity_label(*severity),
        Named::Other(severity) => return Err(Unexportable::UnknownSeverity(severity.clone())),
    };
    let time = row.event_time_rfc3339();
    let resolved_time = row.resolved_time_rfc3339();
    let mut fields = Map::new();
    let mut field = |key: &str, value: Option<&str>| {
        if let Some(value) =
            value.filter(|v| !v.is_empty() && v.chars().count() <= MAX_PRODUCT_FIELD)
        {
            fields.insert(format!("sessiontrail/{key}"), json!(value));
        }
    };
    field("finding_id", Some(&row.finding_id));
    field("rule", Some(row.rule.as_str()));
    field("session_id", row.session_id.as_deref());
    field("principal_arn", row.principal_arn.as_deref());
    field("permission_set", row.permission_set.as_deref());
    field("evidence", Some(&row.evidence));
    field("resolved_time", resolved_time.as_deref());
    field("resolution", row.resolution.as_deref());
    let workflow = if row.is_resolved() { "RESOLVED" } else { "NEW" };
    Ok(json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("sessiontrail/{}", row.finding_id),
        "ProductArn": format!(
            "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
        ),
        "ProductName": "sessiontrail",
        "CompanyName": "sessiontrail",
        "GeneratorId": format!("sessiontrail/{}", row.rule.as_str()),
        "AwsAccountId": account,
        "Types": types(&row.rule),
        "CreatedAt": time,
        "UpdatedAt": resolved_time.as_deref().unwrap_or(&time),
        "FirstObservedAt": time,
        "Severity": {"Label": label, "Original": row.severity.as_str()},
        "Title": truncate(&title_of(&row.rule), MAX_TITLE),
        "Description": truncate(&description(row), MAX_DESCRIPTION),
        "Resources": [resource(row, partition, region, account)],
        "ProductFields": Value::Object(fields),
        "Workflow": {"Status": workflow},
        "RecordState": "ACTIVE",
    }))
}

/// `value` unless it is blank: the model's strings (`NonEmptyString`) need a
/// character that is not white space.
fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.trim().is_empty())
}

/// The detail, then the session and principal it is about; the title when all of them
/// are blank (Description is a `NonEmptyString`).
fn description(row: &FindingRow) -> String {
    let mut text = row.detail.trim().to_string();
    if !text.is_empty() && !text.ends_with('.') {
        text.push('.');
    }
    let mut add = |label: &str, value: Option<&str>| {
        if let Some(value) = non_blank(value) {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&format!("{label}: {value}."));
        }
    };
    add("Session", row.session_id.as_deref());
    add("Principal", row.principal_arn.as_deref());
    add("Permission set", row.permission_set.as_deref());
    if text.is_empty() {
        text = title_of(&row.rule);
    }
    text
}

/// The resource the finding is about: the EC2 instance (by ARN), another target, the
/// SSM session, or else the principal (blank values count as absent).
fn resource(row: &FindingRow, partition: &str, region: &str, account: &str) -> Value {
    let (kind, id) = match (row.target_kind(), non_blank(row.target.as_deref())) {
        (TargetKind::Ec2Instance, Some(target)) => (
            "AwsEc2Instance",
            format!("arn:{partition}:ec2:{region}:{account}:instance/{target}"),
        ),
        (TargetKind::ManagedInstance, Some(target)) => (
            "Other",
            format!("arn:{partition}:ssm:{region}:{account}:managed-instance/{target}"),
        ),
        (_, Some(target)) => ("Other", target.to_string()),
        (_, None) => match (
            non_blank(row.session_id.as_deref()),
            non_blank(row.principal_arn.as_deref()),
        ) {
            (Some(session), _) => (
                "Other",
                format!("arn:{partition}:ssm:{region}:{account}:session/{session}"),
            ),
            (None, Some(principal)) => ("Other", principal.to_string()),
            (None, None) => ("Other", format!("sessiontrail/{}", row.finding_id)),
        },
    };
    let mut resource = json!({"Type": kind, "Id": id, "Region": region});
    if RESOURCE_PARTITIONS.contains(&partition) {
        resource["Partition"] = json!(partition);
    }
    resource
}

/// At most `max` characters of `text`, the last one `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_12_digits() {
        assert!(is_account_id("111122223333"));
        for bad in [
            "11112222333",
            "1111222233334",
            "11112222333x",
            "",
            "１１１１２２２２３３３３",
        ] {
            assert!(!is_account_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn region_names_are_lowercase_words_and_a_number() {
        for good in [
            "us-east-1",
            "eu-west-1",
            "ap-southeast-7",
            "cn-northwest-1",
            "us-gov-west-1",
            "us-iso-east-1",
            "us-isob-east-1",
            "eu-isoe-west-1",
            "us-isof-south-1",
            "eusc-de-east-1",
            "xx-future-12",
        ] {
            assert!(is_region(good), "{good:?}");
        }
        for bad in [
            "",
            "us-east",
            "east-1",
            "us-1",
            "US-EAST-1",
            "us-east-1:111122223333",
            "us-east-1/x",
            "us east-1",
            "us--east-1",
            "us-east-123",
            "u-east-1",
            "usabc-east-1",
            "us-east-1 ",
            "us-east-\u{0661}",
        ] {
            assert!(!is_region(bad), "{bad:?}");
        }
    }

    #[test]
    fn reasons_quote_data_values_with_their_control_characters_escaped() {
        let reason = Unexportable::InvalidRegion("\u{1b}[31mred".into()).to_string();
        assert_eq!(
            reason,
            r#"region "\u{1b}[31mred" is not an AWS region name"#
        );
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate(&"é".repeat(2000), 1024).chars().count(), 1024);
    }
}
