//! The checks `verify` makes, each with its stable rule id and severity, and the status
//! each log file ends with. The one list of them: docs/contracts.md ("Evidence
//! verification") is written from it.

use std::fmt;

/// How bad a failed check is (the same words as the correlation rules' severities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed evidence check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EvidenceRule {
    /// A log file's SHA-256 differs from the hash a verified digest lists for it.
    LogFileTampered,
    /// A digest whose signature does not verify: a wrong or forged signature, no key
    /// with its fingerprint, no signature at all, a digest that is not a valid digest
    /// or that names another location than where it was found.
    DigestSignatureInvalid,
    /// A log file a digest lists is not there.
    LogFileMissing,
    /// A digest's link to the previous one does not hold: the previous digest it names
    /// is missing or is not the one before it, its hash or signature differs, or time
    /// between two digests is not covered.
    DigestChainBroken,
    /// A log file that no digest lists.
    LogFileNotCovered,
}

impl EvidenceRule {
    pub const ALL: [EvidenceRule; 5] = [
        EvidenceRule::LogFileTampered,
        EvidenceRule::DigestSignatureInvalid,
        EvidenceRule::LogFileMissing,
        EvidenceRule::DigestChainBroken,
        EvidenceRule::LogFileNotCovered,
    ];

    /// The stable rule id.
    pub fn id(self) -> &'static str {
        match self {
            EvidenceRule::LogFileTampered => "log_file_tampered",
            EvidenceRule::DigestSignatureInvalid => "digest_signature_invalid",
            EvidenceRule::LogFileMissing => "log_file_missing",
            EvidenceRule::DigestChainBroken => "digest_chain_broken",
            EvidenceRule::LogFileNotCovered => "log_file_not_covered",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            EvidenceRule::LogFileTampered | EvidenceRule::DigestSignatureInvalid => {
                Severity::Critical
            }
            EvidenceRule::LogFileMissing | EvidenceRule::DigestChainBroken => Severity::High,
            EvidenceRule::LogFileNotCovered => Severity::Low,
        }
    }
}

impl fmt::Display for EvidenceRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What is known of one log file after verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogFileStatus {
    /// Listed by a digest whose signature verified, and its SHA-256 is the one listed.
    Verified,
    /// Listed by a digest whose signature verified, and its SHA-256 differs.
    Tampered,
    /// Listed by a digest, and not found.
    Missing,
    /// Found, and no digest lists it.
    NotCovered,
    /// Listed only by digests whose signature could not be verified: its hash proves
    /// nothing (it may or may not match).
    Unsigned,
}

impl LogFileStatus {
    pub const ALL: [LogFileStatus; 5] = [
        LogFileStatus::Verified,
        LogFileStatus::Tampered,
        LogFileStatus::Missing,
        LogFileStatus::NotCovered,
        LogFileStatus::Unsigned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LogFileStatus::Verified => "verified",
            LogFileStatus::Tampered => "tampered",
            LogFileStatus::Missing => "missing",
            LogFileStatus::NotCovered => "not_covered",
            LogFileStatus::Unsigned => "unsigned",
        }
    }
}

impl fmt::Display for LogFileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_and_severities_are_the_issue_s() {
        let table: Vec<(&str, &str)> = EvidenceRule::ALL
            .iter()
            .map(|r| (r.id(), r.severity().as_str()))
            .collect();
        assert_eq!(
            table,
            [
                ("log_file_tampered", "critical"),
                ("digest_signature_invalid", "critical"),
                ("log_file_missing", "high"),
                ("digest_chain_broken", "high"),
                ("log_file_not_covered", "low"),
            ]
        );
    }

    #[test]
    fn statuses_are_the_evidence_table_s() {
        let names: Vec<&str> = LogFileStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            ["verified", "tampered", "missing", "not_covered", "unsigned"]
        );
    }
}
