//! The ground truth: every session's status and every finding that correlating the
//! generated data must give, as the generator planted them (`truth.json`).
//!
//! ```json
//! {"as_of": "2026-02-04T01:00:00Z",
//!  "sessions": [{"key": "...", "session_id": "..." , "status": "attributed"}],
//!  "findings": [{"rule": "unattributed_session", "key": "..."}]}
//! ```
//! Sessions are sorted by key, findings by rule name then key. A session's key is its
//! session_id, else the failed StartSession's eventID; a finding's key is the session
//! key, except for `foreign_session_control` (the Resume/TerminateSession eventID) and
//! `secret_in_broker_log` on a record without session_id (`broker:<request_id>`).

use std::collections::{BTreeMap, BTreeSet};

use crate::json::{J, Obj};

/// A session's status (docs/contracts.md "Session status").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Failed,
    Attributed,
    Unattributed,
    Pending,
    Direct,
    Orphan,
    /// A broker record of a refused request that no StartSession matches.
    Denied,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Failed,
        Status::Attributed,
        Status::Unattributed,
        Status::Pending,
        Status::Direct,
        Status::Orphan,
        Status::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Failed => "failed",
            Status::Attributed => "attributed",
            Status::Unattributed => "unattributed",
            Status::Pending => "pending",
            Status::Direct => "direct",
            Status::Orphan => "orphan",
            Status::Denied => "denied",
        }
    }
}

/// A rule id (docs/contracts.md "Rules").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    UnattributedSession,
    DocumentMismatch,
    UnknownPermissionSet,
    RunAsMismatch,
    FieldMismatch,
    InBandIdentityMismatch,
    DuplicateBrokerClaim,
    OrphanBrokerRecord,
    SecretInBrokerLog,
    DirectSession,
    ForeignSessionControl,
    ClockSkew,
}

impl Rule {
    pub const ALL: [Rule; 12] = [
        Rule::UnattributedSession,
        Rule::DocumentMismatch,
        Rule::UnknownPermissionSet,
        Rule::RunAsMismatch,
        Rule::FieldMismatch,
        Rule::InBandIdentityMismatch,
        Rule::DuplicateBrokerClaim,
        Rule::OrphanBrokerRecord,
        Rule::SecretInBrokerLog,
        Rule::DirectSession,
        Rule::ForeignSessionControl,
        Rule::ClockSkew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::UnattributedSession => "unattributed_session",
            Rule::DocumentMismatch => "document_mismatch",
            Rule::UnknownPermissionSet => "unknown_permission_set",
            Rule::RunAsMismatch => "run_as_mismatch",
            Rule::FieldMismatch => "field_mismatch",
            Rule::InBandIdentityMismatch => "in_band_identity_mismatch",
            Rule::DuplicateBrokerClaim => "duplicate_broker_claim",
            Rule::OrphanBrokerRecord => "orphan_broker_record",
            Rule::SecretInBrokerLog => "secret_in_broker_log",
            Rule::DirectSession => "direct_session",
            Rule::ForeignSessionControl => "foreign_session_control",
            Rule::ClockSkew => "clock_skew",
        }
    }
}

/// One expected session row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionTruth {
    pub session_id: Option<String>,
    pub status: Status,
}

/// The ground truth being collected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    sessions: BTreeMap<String, SessionTruth>,
    findings: BTreeSet<(Rule, String)>,
}

impl Truth {
    /// Records a session. A key can be recorded once: a second call is a generator bug.
    pub fn session(&mut self, key: &str, session_id: Option<&str>, status: Status) {
        let previous = self.sessions.insert(
            key.to_owned(),
            SessionTruth {
                session_id: session_id.map(str::to_owned),
                status,
            },
        );
        debug_assert!(previous.is_none(), "session key {key} planted twice");
    }

    /// Records a finding.
    pub fn finding(&mut self, rule: Rule, key: &str) {
        self.findings.insert((rule, key.to_owned()));
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    pub fn finding_count(&self) -> usize {
        self.findings.len()
    }

    /// The text of `truth.json`: one session or finding per line; with `evidence` (the
    /// member's text, rendered by [`crate::digest::Evidence::render`]) at the end.
    pub fn render_with(&self, as_of: &str, evidence: Option<&str>) -> String {
        let mut out = String::from("{\n  \"as_of\": ");
        crate::json::write_str(as_of, &mut out);
        out.push_str(",\n  \"sessions\": [");
        for (i, (key, session)) in self.sessions.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            let row = Obj::new()
                .with("key", key)
                .with(
                    "session_id",
                    session.session_id.as_ref().map_or(J::Null, J::from),
                )
                .with("status", session.status.as_str());
            J::from(row).write_to(&mut out);
        }
        out.push_str("\n  ],\n  \"findings\": [");
        let mut findings: Vec<(&str, &str)> = self
            .findings
            .iter()
            .map(|(rule, key)| (rule.as_str(), key.as_str()))
            .collect();
        findings.sort_unstable();
        for (i, (rule, key)) in findings.into_iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            J::from(Obj::new().with("rule", rule).with("key", key)).write_to(&mut out);
        }
        out.push_str("\n  ]");
        if let Some(evidence) = evidence {
            out.push_str(",\n  \"evidence\": ");
            out.push_str(evidence);
        }
        out.push_str("\n}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sorted_json() {
        let mut truth = Truth::default();
        truth.session("b", Some("b"), Status::Attributed);
        truth.session("a", None, Status::Failed);
        truth.finding(Rule::ClockSkew, "b");
        truth.finding(Rule::ClockSkew, "b");
        let value: serde_json::Value =
            serde_json::from_str(&truth.render_with("2026-02-04T01:00:00Z", None)).unwrap();
        assert_eq!(value["sessions"][0]["key"], "a");
        assert!(value["sessions"][0]["session_id"].is_null());
        assert_eq!(value["findings"].as_array().unwrap().len(), 1);
        assert_eq!(value["findings"][0]["rule"], "clock_skew");
    }
}
