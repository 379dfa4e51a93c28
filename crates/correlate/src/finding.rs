//! A finding row of the dataset (`findings/`) and its stable id. Its conversion to
//! Arrow is at the edge, in `crate::schema` (feature `dataset`).

use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};

use crate::rule::{Rule, Severity};

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

#[cfg(test)]
mod tests {
    use super::*;

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
