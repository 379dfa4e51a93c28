//! OCSF 1.1.0 Detection Finding (class 2004, category 2 Findings), one event per
//! finding, under the `cloud` profile (aws-formats.md section 9).
//!
//! An open finding has `status_id` 1 `New`; one withdrawn by a later run
//! (`resolved_time` set, kept as evidence) has `status_id` 4 `Resolved`, the
//! resolution's text in `status_detail` and its time in `finding_info.modified_time`.

use serde_json::{Map, Value, json};

use super::row::{FindingRow, TargetKind};
use super::title::finding_title;

/// The OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.1.0";
/// Detection Finding.
pub const CLASS_UID: u32 = 2004;
/// Findings.
pub const CATEGORY_UID: u32 = 2;
/// Create: every exported finding is reported as created.
pub const ACTIVITY_ID: u32 = 1;
/// `class_uid * 100 + activity_id`.
pub const TYPE_UID: u32 = CLASS_UID * 100 + ACTIVITY_ID;

/// The OCSF `severity_id` and `severity` caption of a sessiontrail severity: low 2,
/// medium 3, high 4, critical 5; anything else 99 Other.
pub fn severity(severity: &str) -> (u32, &'static str) {
    match severity {
        "low" => (2, "Low"),
        "medium" => (3, "Medium"),
        "high" => (4, "High"),
        "critical" => (5, "Critical"),
        _ => (99, "Other"),
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
    let title = finding_title(&row.rule);
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
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": TYPE_UID,
        "type_name": "Detection Finding: Create",
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
            "types": [row.rule],
            "first_seen_time": row.event_time,
            "analytic": {"uid": row.rule, "name": row.rule, "type_id": 1, "type": "Rule"},
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
        "rule": row.rule,
        "severity": row.severity,
        "session_id": row.session_id,
        "principal_arn": row.principal_arn,
        "permission_set": row.permission_set,
    })
}
