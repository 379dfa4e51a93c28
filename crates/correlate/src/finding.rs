//! A finding row of the dataset (`findings/`), its stable id, and its conversion to
//! Arrow at the edge.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
use datafusion::arrow::error::ArrowError;
use sessiontrail_ingest::canonical_json::to_canonical_string;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};

use crate::rule::{Rule, Severity};
use crate::schema::findings_schema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub finding_id: String,
    pub rule: Rule,
    pub session_id: Option<String>,
    pub event_time: EpochMillis,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub target: Option<String>,
    pub principal_arn: Option<String>,
    pub permission_set: Option<String>,
    pub detail: String,
    /// A JSON object.
    pub evidence: serde_json::Value,
    /// The session key ([`crate::session::session_key`]) the finding belongs to; not a
    /// column, used to replace a session's findings when the session changes.
    pub owner: String,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        self.rule.severity()
    }

    /// The `dt` partition: the UTC date of `event_time`.
    pub fn partition(&self) -> String {
        utc_date(self.event_time)
    }

    /// The finding as one JSON object with the `findings` columns, its evidence as an
    /// object and its time in RFC 3339: the detail of an alert on the event bus.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "finding_id": self.finding_id,
            "rule": self.rule.as_str(),
            "severity": self.severity().as_str(),
            "session_id": self.session_id,
            "event_time": format_rfc3339_millis(self.event_time),
            "account_id": self.account_id,
            "region": self.region,
            "target": self.target,
            "principal_arn": self.principal_arn,
            "permission_set": self.permission_set,
            "detail": self.detail,
            "evidence": self.evidence,
        })
    }
}

/// A finding's id: the same rule raised on the same key gets the same id in every run
/// (FNV-1a 64 of `rule \0 key`, 16 hex digits, prefixed with the rule for readability).
pub fn finding_id(rule: Rule, key: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in rule.as_str().bytes().chain([0]).chain(key.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{hash:016x}", rule.as_str())
}

/// Rows to columns, at the edge where findings are written.
pub fn findings_to_batch(rows: &[Finding]) -> Result<RecordBatch, ArrowError> {
    fn text<'a>(rows: &'a [Finding], get: impl Fn(&'a Finding) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<StringArray>())
    }
    // Keys sorted whatever serde_json's features in this build (see canonical_json).
    let evidence: StringArray = rows
        .iter()
        .map(|r| Some(to_canonical_string(&r.evidence)))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        text(rows, |r| Some(r.finding_id.as_str())),
        text(rows, |r| Some(r.rule.as_str())),
        text(rows, |r| Some(r.severity().as_str())),
        text(rows, |r| r.session_id.as_deref()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.event_time))
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        text(rows, |r| r.account_id.as_deref()),
        text(rows, |r| r.region.as_deref()),
        text(rows, |r| r.target.as_deref()),
        text(rows, |r| r.principal_arn.as_deref()),
        text(rows, |r| r.permission_set.as_deref()),
        text(rows, |r| Some(r.detail.as_str())),
        Arc::new(evidence),
        // A finding the correlation raises is open; resolutions are made where a
        // partition is rewritten (crate::run).
        Arc::new(
            std::iter::repeat_n(None::<i64>, rows.len())
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        text(rows, |_| None),
    ];
    RecordBatch::try_new(findings_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_written_with_sorted_keys_whatever_the_build() {
        // Inserted out of order: with serde_json's preserve_order (switched on in test
        // builds by a dev-dependency) a plain to_string would keep this order.
        let mut evidence = serde_json::Map::new();
        evidence.insert("zeta".into(), serde_json::json!(1));
        evidence.insert("alpha".into(), serde_json::json!({"y": 2, "b": 3}));
        let finding = Finding {
            finding_id: "x".into(),
            rule: Rule::ClockSkew,
            session_id: None,
            event_time: 0,
            account_id: None,
            region: None,
            target: None,
            principal_arn: None,
            permission_set: None,
            detail: String::new(),
            evidence: serde_json::Value::Object(evidence),
            owner: String::new(),
        };
        let batch = findings_to_batch(&[finding]).unwrap();
        let column = batch
            .column_by_name("evidence")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(column.value(0), r#"{"alpha":{"b":3,"y":2},"zeta":1}"#);
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        // FNV-1a 64 of "clock_skew\0s-1", computed independently.
        let expected = {
            let mut h: u64 = 14695981039346656037;
            for b in b"clock_skew\0s-1" {
                h = (h ^ *b as u64).wrapping_mul(1099511628211);
            }
            format!("clock_skew-{h:016x}")
        };
        assert_eq!(finding_id(Rule::ClockSkew, "s-1"), expected);
        assert_ne!(
            finding_id(Rule::ClockSkew, "s-1"),
            finding_id(Rule::ClockSkew, "s-2")
        );
        assert_ne!(
            finding_id(Rule::ClockSkew, "s-1"),
            finding_id(Rule::FieldMismatch, "s-1")
        );
    }
}
