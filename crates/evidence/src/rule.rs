//! The checks `verify` makes (rules of the one rule list, `sessiontrail_correlate::Rule`,
//! whose subject is a log file), and the status each log file ends with: the one list
//! of the statuses (docs/contracts.md "Evidence verification" and the `evidence` table).

use sessiontrail_correlate::{Rule, Subject};

/// The rules a failed evidence check raises: the rules of
/// `crates/correlate/src/rule.rs` (the one list of every rule, with severities, titles
/// and export mappings) whose findings are about a log or digest file.
pub fn evidence_rules() -> impl Iterator<Item = Rule> {
    Rule::ALL
        .into_iter()
        .filter(|rule| rule.subject() == Subject::LogFile)
}

/// What is known of one log file after verification: defined with the `evidence`
/// table it is a column of.
pub use sessiontrail_correlate::evidence::LogFileStatus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_and_severities_are_the_issue_s() {
        let table: Vec<(&str, &str)> = evidence_rules()
            .map(|r| (r.as_str(), r.severity().as_str()))
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
