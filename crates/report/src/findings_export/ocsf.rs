//! OCSF 1.1.0 events, one per finding, under the `cloud` profile (schema.ocsf.io,
//! version 1.1.0), of the class of the finding's rule ([`RuleInfo::ocsf`]: every rule's is
//! Detection Finding, class 2004 in category 2 Findings, as is an unknown rule's).
//!
//! [`RuleInfo::ocsf`]: sessiontrail_correlate::rule::RuleInfo::ocsf
//!
//! An open finding has `status_id` 1 `New`; one withdrawn by a later run
//! (`resolved_time` set, kept as evidence) has `status_id` 4 `Resolved`, the
//! resolution's text in `status_detail` and its time in `finding_info.modified_time`.

use serde_json::{Map, Value, json};

use sessiontrail_correlate::Severity;
use sessiontrail_correlate::rule::OcsfMapping;

use super::row::{FindingRow, Named, TargetKind};
use super::title::title_of;

/// The OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.1.0";
/// Create: every exported finding is reported as created.
pub const ACTIVITY_ID: u32 = 1;
/// The class of a finding of an unknown rule.
const UNKNOWN_RULE_CLASS: OcsfMapping = OcsfMapping::DETECTION_FINDING;

/// The OCSF `severity_id` and `severity` caption of a sessiontrail severity: low 2,
/// medium 3, high 4, critical 5; anything else 99 Other.
pub fn severity(severity: &Named<Severity>) -> (u32, &'static str) {
    match severity {
        Named::Known(Severity::Low) => (2, "Low"),
        Named::Known(Severity::Medium) => (3, "Medium"),
        Named::Known(Severity::High) => (4, "High"),
        Named::Known(Severity::Critical) => (5, "Critical"),
        Named::Other(_) => (99, "Other"),
    }
}

/// The OCSF `status_id` and `status` of a finding: 4 `Resolved` when it was withdrawn
/// (`resolved_time` set), else 1 `New`.
pub fn status(row: &FindingRow) -> (u32, &'static str) {
    if row.is_resolved() {
        (4, "Resolved")
    } else {
        (1, "New")
    }
}

/// The OCSF event of one finding.
pub fn event(row: &FindingRow) -> Value {
    let (status_id, status_name) = status(row);
    let (severity_id, severity_name) = severity(&row.severity);
    let title = title_of(&row.rule);
    let class = row
        .rule
        .known()
        .map_or(UNKNOWN_RULE_CLASS, |rule| rule.info().ocsf);
    let rule = row.rule.as_str();
    let mut cloud = Map::new();
    cloud.insert("provider".into(), json!("AWS"));
    if let Some(account) = row.account_id.as_deref() {
        cloud.insert(
            "account".into(),
            json!({"uid": account, "type_id": 10, "type": "AWS Account"}),
        );
    }
    if let Some(region) = row.region.as_deref() {
        cloud.insert("region".into(), json!(region));
    }
    let mut event = json!({
        "activity_id": ACTIVITY_ID,
        "activity_name": "Create",
        "category_uid": class.category_uid,
        "category_name": class.category_name,
        "class_uid": class.class_uid,
        "class_name": class.class_name,
        // `class_uid * 100 + activity_id`.
        "type_uid": class.class_uid * 100 + ACTIVITY_ID,
        "type_name": format!("{}: Create", class.class_name),
        "time": row.event_time,
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "message": row.detail,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "product": {
                "vendor_name": "sessiontrail",
                "name": "sessiontrail",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": row.finding_id,
            "title": title,
            "desc": row.detail,
            "types": [rule],
            "first_seen_time": row.event_time,
            "analytic": {"uid": rule, "name": rule, "type_id": 1, "type": "Rule"},
        },
        "cloud": Value::Object(cloud),
        "evidences": [evidence(row)],
        "unmapped": unmapped(row),
    });
    if let Some(resource) = resource(row) {
        event["resources"] = json!([resource]);
    }
    if let Some(resolved_time) = row.resolved_time {
        event["finding_info"]["modified_time"] = json!(resolved_time);
        if let Some(resolution) = row.resolution.as_deref() {
            event["status_detail"] = json!(resolution);
        }
    }
    event
}

/// The target as a resource: `uid` the target id, `type` its CloudFormation-style type.
fn resource(row: &FindingRow) -> Option<Value> {
    let target = row.target.as_deref()?;
    let kind = match row.target_kind() {
        TargetKind::Ec2Instance => "AWS::EC2::Instance",
        TargetKind::ManagedInstance => "AWS::SSM::ManagedInstance",
        TargetKind::Other | TargetKind::None => "Other",
    };
    let mut resource = json!({
        "uid": target,
        "type": kind,
        "cloud_partition": row.partition(),
    });
    if let Some(region) = row.region.as_deref() {
        resource["region"] = json!(region);
    }
    Some(resource)
}

/// The finding's evidence object as `data`, and the principal as the actor.
fn evidence(row: &FindingRow) -> Value {
    let mut evidence = json!({"data": row.evidence_json()});
    if let Some(principal) = row.principal_arn.as_deref() {
        evidence["actor"] = json!({"user": {"uid": principal}});
    }
    evidence
}

/// The dataset fields OCSF has no place for.
fn unmapped(row: &FindingRow) -> Value {
    json!({
        "rule": row.rule.as_str(),
        "severity": row.severity.as_str(),
        "session_id": row.session_id,
        "principal_arn": row.principal_arn,
        "permission_set": row.permission_set,
    })
}
