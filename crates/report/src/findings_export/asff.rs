//! AWS Security Finding Format (ASFF) for Security Hub's BatchImportFindings: findings
//! grouped in batches of at most [`MAX_BATCH`] (aws-formats.md section 9).
//!
//! Each finding is imported under the custom-source product of its own account and
//! region (`arn:<partition>:securityhub:<region>:<account>:product/<account>/default`);
//! BatchImportFindings then only accepts it from that account, so a multi-account
//! dataset is imported per account.

use serde_json::{Map, Value, json};

use super::row::{FindingRow, TargetKind};
use super::title::finding_title;
use crate::ReportError;

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
/// The values of `Resource.Partition` (enum `Partition` of the Security Hub API
/// model); another partition (`aws-iso`, `aws-iso-b`...) leaves the optional member out.
const PARTITIONS: [&str; 3] = ["aws", "aws-cn", "aws-us-gov"];

/// The `Severity.Label` of a sessiontrail severity.
pub fn severity_label(severity: &str) -> Option<&'static str> {
    match severity {
        "low" => Some("LOW"),
        "medium" => Some("MEDIUM"),
        "high" => Some("HIGH"),
        "critical" => Some("CRITICAL"),
        _ => None,
    }
}

/// The ASFF `Types` of a rule (`namespace/category[/classifier]`): behaviour of a
/// principal is "Unusual Behaviors/User"; a broken or bypassed control is a
/// "Software and Configuration Checks" finding.
pub fn types(rule: &str) -> Vec<&'static str> {
    const BEST_PRACTICES: &str = "Software and Configuration Checks/AWS Security Best Practices";
    match rule {
        "unattributed_session"
        | "direct_session"
        | "foreign_session_control"
        | "duplicate_broker_claim" => vec!["Unusual Behaviors/User"],
        "secret_in_broker_log" => vec![BEST_PRACTICES, "Sensitive Data Identifications/Security"],
        _ => vec![BEST_PRACTICES],
    }
}

/// The ASFF finding of one row.
pub fn finding(row: &FindingRow) -> Result<Value, ReportError> {
    let invalid = |reason: &str| ReportError::InvalidFinding {
        finding_id: row.finding_id.clone(),
        format: "asff",
        reason: reason.to_string(),
    };
    let account = row
        .account()
        .ok_or_else(|| invalid("no account_id (AwsAccountId and ProductArn need one)"))?;
    let region = row
        .region
        .as_deref()
        .filter(|region| !region.trim().is_empty())
        .ok_or_else(|| invalid("no region (ProductArn needs one)"))?;
    let label = severity_label(&row.severity)
        .ok_or_else(|| invalid(&format!("unknown severity `{}`", row.severity)))?;
    let partition = row.partition();
    let time = row.event_time_rfc3339();
    let mut fields = Map::new();
    let mut field = |key: &str, value: Option<&str>| {
        if let Some(value) =
            value.filter(|v| !v.is_empty() && v.chars().count() <= MAX_PRODUCT_FIELD)
        {
            fields.insert(format!("sessiontrail/{key}"), json!(value));
        }
    };
    field("finding_id", Some(&row.finding_id));
    field("rule", Some(&row.rule));
    field("session_id", row.session_id.as_deref());
    field("principal_arn", row.principal_arn.as_deref());
    field("permission_set", row.permission_set.as_deref());
    field("evidence", Some(&row.evidence));
    Ok(json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Id": format!("sessiontrail/{}", row.finding_id),
        "ProductArn": format!(
            "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
        ),
        "ProductName": "sessiontrail",
        "CompanyName": "sessiontrail",
        "GeneratorId": format!("sessiontrail/{}", row.rule),
        "AwsAccountId": account,
        "Types": types(&row.rule),
        "CreatedAt": time,
        "UpdatedAt": time,
        "FirstObservedAt": time,
        "Severity": {"Label": label, "Original": row.severity},
        "Title": truncate(&finding_title(&row.rule), MAX_TITLE),
        "Description": truncate(&description(row), MAX_DESCRIPTION),
        "Resources": [resource(row, partition, region, account)],
        "ProductFields": Value::Object(fields),
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
        text = finding_title(&row.rule);
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
    if PARTITIONS.contains(&partition) {
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
    fn truncates_by_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "ab…");
        assert_eq!(truncate(&"é".repeat(2000), 1024).chars().count(), 1024);
    }
}
