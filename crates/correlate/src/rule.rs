//! The rules and their severities (DESIGN.md "Rules"): the eleven rule ids are a
//! contract, defined here once.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    UnattributedSession,
    DocumentMismatch,
    UnknownPermissionSet,
    RunAsMismatch,
    FieldMismatch,
    DuplicateBrokerClaim,
    OrphanBrokerRecord,
    SecretInBrokerLog,
    DirectSession,
    ForeignSessionControl,
    ClockSkew,
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::UnattributedSession,
        Rule::DocumentMismatch,
        Rule::UnknownPermissionSet,
        Rule::RunAsMismatch,
        Rule::FieldMismatch,
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
            Rule::DuplicateBrokerClaim => "duplicate_broker_claim",
            Rule::OrphanBrokerRecord => "orphan_broker_record",
            Rule::SecretInBrokerLog => "secret_in_broker_log",
            Rule::DirectSession => "direct_session",
            Rule::ForeignSessionControl => "foreign_session_control",
            Rule::ClockSkew => "clock_skew",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Rule::UnattributedSession => Severity::Critical,
            Rule::DocumentMismatch
            | Rule::UnknownPermissionSet
            | Rule::RunAsMismatch
            | Rule::FieldMismatch
            | Rule::DuplicateBrokerClaim
            | Rule::OrphanBrokerRecord
            | Rule::SecretInBrokerLog => Severity::High,
            Rule::DirectSession | Rule::ForeignSessionControl => Severity::Medium,
            Rule::ClockSkew => Severity::Low,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Rule::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
