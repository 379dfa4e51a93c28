//! The `evidence` table: one row per CloudTrail log file checked against CloudTrail's
//! signed digests (`correlate --verify`), the findings of the checks that failed, and
//! how a later check of the same file updates what an earlier one recorded.
//!
//! The checking itself is `sessiontrail-evidence` (it depends on this crate for the
//! rules); what it found reaches a run as an [`EvidenceInput`]. The run keeps every
//! log file's row in the state while it is within retention of the watermark (as it
//! keeps session events), raises its findings from there every run, and rewrites the
//! `evidence/dt=<date of the file's name>/` partitions it changed.
//!
//! A later check never erases a stronger one ([`LogFileStatus::rank`]): a file once
//! found tampered stays tampered; a file verified stays verified when a later run does
//! not see it (a folder holding part of the trail) or sees it without its digest; a
//! file not covered or unsigned becomes verified when its digest arrives, and its
//! `log_file_not_covered` finding is withdrawn then.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sessiontrail_ingest::time::{EpochMillis, utc_date};

use crate::finding::{Finding, finding_id};
use crate::rule::Rule;

/// What is known of one log file after verification: the `status` column of `evidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

    pub fn parse(text: &str) -> Option<Self> {
        LogFileStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// How strong a status is as evidence: a later check replaces an earlier one only
    /// with one at least as strong. Tampering, once seen, is never unseen; a signed
    /// match outranks a later absence (which a partial copy of the trail also shows).
    pub fn rank(self) -> u8 {
        match self {
            LogFileStatus::Tampered => 4,
            LogFileStatus::Verified => 3,
            LogFileStatus::Missing => 2,
            LogFileStatus::Unsigned => 1,
            LogFileStatus::NotCovered => 0,
        }
    }

    /// The rule a file with this status raises (an unsigned file's digest raises
    /// `digest_signature_invalid` itself).
    pub fn rule(self) -> Option<Rule> {
        match self {
            LogFileStatus::Tampered => Some(Rule::LogFileTampered),
            LogFileStatus::Missing => Some(Rule::LogFileMissing),
            LogFileStatus::NotCovered => Some(Rule::LogFileNotCovered),
            LogFileStatus::Verified | LogFileStatus::Unsigned => None,
        }
    }
}

impl fmt::Display for LogFileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `evidence`: a log file and what its check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogFileRecord {
    /// Its S3 key from `AWSLogs/` on (the file name when its place gives none).
    pub key: String,
    /// Where the check found it: a local path or `s3://bucket/key` (of a missing file,
    /// where its digest says it should be).
    pub file: String,
    pub status: LogFileStatus,
    /// The time in the file's name (its partition's date).
    pub file_time: EpochMillis,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// The digest whose listing decided the status (its S3 key).
    pub digest: Option<String>,
    /// Hex SHA-256 the digest lists, and of the file's uncompressed content.
    pub expected_sha256: Option<String>,
    pub actual_sha256: Option<String>,
    /// Whether that digest's signature, and its link to the previous digest, verified.
    pub digest_signature_verified: Option<bool>,
    pub digest_chain_verified: Option<bool>,
    /// What is wrong, for a status that raises a finding.
    pub detail: Option<String>,
    /// The `as_of` of the run whose check recorded this row (unchanged by a later
    /// check that finds the same).
    pub checked_at: EpochMillis,
}

impl LogFileRecord {
    /// Equal but for when it was checked.
    fn same_finding(&self, other: &LogFileRecord) -> bool {
        LogFileRecord {
            checked_at: 0,
            file: String::new(),
            ..self.clone()
        } == LogFileRecord {
            checked_at: 0,
            file: String::new(),
            ..other.clone()
        }
    }

    pub fn partition(&self) -> String {
        utc_date(self.file_time)
    }
}

/// A failed check of a digest file (`digest_signature_invalid`, `digest_chain_broken`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestProblem {
    pub rule: Rule,
    /// The digest's S3 key (its file name when its place gives none).
    pub key: String,
    pub file: String,
    pub detail: String,
    /// The time in the digest's name.
    pub time: EpochMillis,
    pub account_id: Option<String>,
    pub region: Option<String>,
}

/// What one verification found, for a run to record.
#[derive(Debug, Clone, Default)]
pub struct EvidenceInput {
    pub log_files: Vec<LogFileRecord>,
    /// Keys of every digest checked: their earlier problems are replaced by
    /// `digest_problems`.
    pub digests_checked: Vec<String>,
    /// Of those, the digests whose link to the previous digest could not be judged (the
    /// previous one was not at hand, and nothing showed it was due): an earlier
    /// `digest_chain_broken` on them stays.
    pub chains_not_judged: Vec<String>,
    pub digest_problems: Vec<DigestProblem>,
}

/// The evidence a run carries in its state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceState {
    pub log_files: BTreeMap<String, LogFileRecord>,
    /// By (digest key, rule id).
    pub digest_problems: BTreeMap<(String, String), DigestProblem>,
}

impl EvidenceState {
    /// Records what `input` found, at `as_of`; returns the `evidence` partitions whose
    /// rows changed.
    pub fn record(&mut self, input: &EvidenceInput, as_of: EpochMillis) -> Vec<String> {
        let mut changed = std::collections::BTreeSet::new();
        for found in &input.log_files {
            let replace = match self.log_files.get(&found.key) {
                None => true,
                Some(known) => {
                    found.status.rank() >= known.status.rank() && !found.same_finding(known)
                }
            };
            if replace {
                let mut found = found.clone();
                found.checked_at = as_of;
                changed.insert(found.partition());
                self.log_files.insert(found.key.clone(), found);
            }
        }
        let not_judged: std::collections::BTreeSet<&String> =
            input.chains_not_judged.iter().collect();
        let chain = Rule::DigestChainBroken.as_str();
        for key in &input.digests_checked {
            let keep_chain = not_judged.contains(key);
            self.digest_problems
                .retain(|(digest, rule), _| digest != key || (keep_chain && rule == chain));
        }
        // One finding per rule and digest: a digest with two broken links says both.
        let mut this_run = std::collections::BTreeSet::new();
        for problem in &input.digest_problems {
            let at = (problem.key.clone(), problem.rule.as_str().to_string());
            match self.digest_problems.get_mut(&at) {
                Some(known) if this_run.contains(&at) => {
                    if !known.detail.split("; ").any(|d| d == problem.detail) {
                        known.detail = format!("{}; {}", known.detail, problem.detail);
                    }
                }
                _ => {
                    self.digest_problems.insert(at.clone(), problem.clone());
                    this_run.insert(at);
                }
            }
        }
        changed.into_iter().collect()
    }

    /// The findings of what is recorded.
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = Vec::new();
        for record in self.log_files.values() {
            let Some(rule) = record.status.rule() else {
                continue;
            };
            let owner = owner(&record.key);
            findings.push(Finding {
                finding_id: finding_id(rule, &owner),
                rule,
                session_id: None,
                event_time: record.file_time,
                account_id: record.account_id.clone(),
                region: record.region.clone(),
                target: None,
                principal_arn: None,
                permission_set: None,
                detail: format!(
                    "{}: {}",
                    record.key,
                    record.detail.as_deref().unwrap_or(record.status.as_str())
                ),
                evidence: serde_json::json!({
                    "file": record.key,
                    "found_at": record.file,
                    "status": record.status.as_str(),
                    "digest": record.digest,
                    "expected_sha256": record.expected_sha256,
                    "actual_sha256": record.actual_sha256,
                }),
                owner,
            });
        }
        for problem in self.digest_problems.values() {
            let owner = owner(&problem.key);
            findings.push(Finding {
                finding_id: finding_id(problem.rule, &owner),
                rule: problem.rule,
                session_id: None,
                event_time: problem.time,
                account_id: problem.account_id.clone(),
                region: problem.region.clone(),
                target: None,
                principal_arn: None,
                permission_set: None,
                detail: format!("{}: {}", problem.key, problem.detail),
                evidence: serde_json::json!({
                    "file": problem.key,
                    "found_at": problem.file,
                }),
                owner,
            });
        }
        findings
    }

    /// The log file a CloudTrail record was read from, by where it was read: by its S3
    /// key when its name has an `AWSLogs/` segment, else by the path a check found it
    /// at.
    pub fn status_of(&self, read_from: &str) -> Option<&LogFileRecord> {
        let key = s3_key_of(read_from);
        key.and_then(|key| self.log_files.get(key)).or_else(|| {
            self.log_files
                .values()
                .find(|record| record.file == read_from)
        })
    }

    /// Whether a finding owner (`file:<key>`) is a file the state holds evidence of.
    pub fn owns(&self, owner: &str) -> bool {
        owner.strip_prefix("file:").is_some_and(|key| {
            self.log_files.contains_key(key)
                || self
                    .digest_problems
                    .range((key.to_string(), String::new())..)
                    .next()
                    .is_some_and(|((digest, _), _)| digest == key)
        })
    }

    /// Drops what is older than `cutoff` (its rows stay in the dataset).
    pub fn prune(&mut self, cutoff: EpochMillis) {
        self.log_files.retain(|_, r| r.file_time >= cutoff);
        self.digest_problems.retain(|_, p| p.time >= cutoff);
    }
}

/// A finding about a log or digest file is owned by `file:<its key>`.
pub fn owner(key: &str) -> String {
    format!("file:{key}")
}

/// The S3 key from `AWSLogs/` on in a path or an `s3://` URL, when it has one.
pub fn s3_key_of(read_from: &str) -> Option<&str> {
    let text = read_from.strip_prefix("s3://").unwrap_or(read_from);
    let normalised = text.strip_prefix("./").unwrap_or(text);
    if normalised.starts_with("AWSLogs/") {
        return Some(normalised);
    }
    text.find("/AWSLogs/").map(|at| &text[at + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, status: LogFileStatus) -> LogFileRecord {
        LogFileRecord {
            key: key.into(),
            file: format!("copy/{key}"),
            status,
            file_time: 1_700_000_000_000,
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            digest: None,
            expected_sha256: None,
            actual_sha256: None,
            digest_signature_verified: None,
            digest_chain_verified: None,
            detail: None,
            checked_at: 0,
        }
    }

    fn input(records: Vec<LogFileRecord>) -> EvidenceInput {
        EvidenceInput {
            log_files: records,
            ..Default::default()
        }
    }

    #[test]
    fn a_later_check_never_erases_a_stronger_one() {
        use LogFileStatus::*;
        // (first, then, what stays)
        let cases = [
            (NotCovered, Verified, Verified),
            (Unsigned, Verified, Verified),
            (Verified, NotCovered, Verified),
            (Verified, Missing, Verified),
            (Verified, Tampered, Tampered),
            (Tampered, Verified, Tampered),
            (Missing, Verified, Verified),
            (NotCovered, Missing, Missing),
        ];
        for (first, then, stays) in cases {
            let mut state = EvidenceState::default();
            state.record(&input(vec![record("AWSLogs/k", first)]), 1);
            let changed = state.record(&input(vec![record("AWSLogs/k", then)]), 2);
            let kept = &state.log_files["AWSLogs/k"];
            assert_eq!(kept.status, stays, "{first} then {then}");
            assert_eq!(
                (kept.checked_at, changed.len()),
                if stays == first { (1, 0) } else { (2, 1) },
                "{first} then {then}"
            );
        }
    }

    #[test]
    fn the_same_check_again_changes_nothing() {
        let mut state = EvidenceState::default();
        let first = input(vec![record("AWSLogs/a", LogFileStatus::NotCovered)]);
        assert_eq!(state.record(&first, 1).len(), 1);
        let before = state.clone();
        assert!(state.record(&first, 2).is_empty());
        assert_eq!(state, before);
    }

    #[test]
    fn findings_follow_the_status_and_digest_problems_are_replaced_when_rechecked() {
        let mut state = EvidenceState::default();
        let problem = DigestProblem {
            rule: Rule::DigestChainBroken,
            key: "AWSLogs/d".into(),
            file: "copy/AWSLogs/d".into(),
            detail: "previous digest missing".into(),
            time: 5,
            account_id: None,
            region: None,
        };
        state.record(
            &EvidenceInput {
                log_files: vec![record("AWSLogs/a", LogFileStatus::NotCovered)],
                digests_checked: vec!["AWSLogs/d".into()],
                chains_not_judged: vec![],
                digest_problems: vec![problem],
            },
            1,
        );
        let rules: Vec<&str> = state.findings().iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["log_file_not_covered", "digest_chain_broken"]);
        assert!(
            state
                .findings()
                .iter()
                .all(|f| f.owner.starts_with("file:"))
        );
        // A second problem of the same rule on the same digest joins the first.
        let twice = DigestProblem {
            detail: "a gap before it".into(),
            ..state.digest_problems.values().next().unwrap().clone()
        };
        let mut again = state.clone();
        again.record(
            &EvidenceInput {
                digests_checked: vec!["AWSLogs/d".into()],
                digest_problems: vec![
                    DigestProblem {
                        detail: "previous digest missing".into(),
                        ..twice.clone()
                    },
                    twice,
                ],
                ..Default::default()
            },
            2,
        );
        let details: Vec<&str> = again
            .digest_problems
            .values()
            .map(|p| p.detail.as_str())
            .collect();
        assert_eq!(details, ["previous digest missing; a gap before it"]);
        state.record(
            &EvidenceInput {
                log_files: vec![record("AWSLogs/a", LogFileStatus::Verified)],
                digests_checked: vec!["AWSLogs/d".into()],
                chains_not_judged: vec![],
                digest_problems: vec![],
            },
            2,
        );
        assert!(state.findings().is_empty());
    }

    #[test]
    fn a_chain_break_stays_when_a_later_check_could_not_judge_the_link() {
        let mut state = EvidenceState::default();
        let problem = |rule: Rule| DigestProblem {
            rule,
            key: "AWSLogs/d".into(),
            file: "copy/AWSLogs/d".into(),
            detail: "what is wrong".into(),
            time: 5,
            account_id: None,
            region: None,
        };
        let checked = |problems: Vec<DigestProblem>, not_judged: bool| EvidenceInput {
            digests_checked: vec!["AWSLogs/d".into()],
            chains_not_judged: if not_judged {
                vec!["AWSLogs/d".into()]
            } else {
                vec![]
            },
            digest_problems: problems,
            ..Default::default()
        };
        let rules = |state: &EvidenceState| -> Vec<&'static str> {
            state.findings().iter().map(|f| f.rule.as_str()).collect()
        };
        state.record(
            &checked(
                vec![
                    problem(Rule::DigestChainBroken),
                    problem(Rule::DigestSignatureInvalid),
                ],
                false,
            ),
            1,
        );
        assert_eq!(
            rules(&state),
            ["digest_chain_broken", "digest_signature_invalid"]
        );
        // Checked again without its predecessor at hand: the break stays, the rest is
        // what this check found (nothing).
        state.record(&checked(vec![], true), 2);
        assert_eq!(rules(&state), ["digest_chain_broken"]);
        // Checked with its link judged, and whole: withdrawn.
        state.record(&checked(vec![], false), 3);
        assert!(rules(&state).is_empty());
    }

    #[test]
    fn a_record_is_found_by_its_key_or_its_path() {
        let mut state = EvidenceState::default();
        state.record(
            &input(vec![
                record("AWSLogs/1/CloudTrail/x.json.gz", LogFileStatus::Verified),
                LogFileRecord {
                    file: "flat/y.json.gz".into(),
                    ..record("y.json.gz", LogFileStatus::NotCovered)
                },
            ]),
            1,
        );
        let status = |from: &str| state.status_of(from).map(|r| r.status);
        assert_eq!(
            status("/tmp/elsewhere/AWSLogs/1/CloudTrail/x.json.gz"),
            Some(LogFileStatus::Verified)
        );
        assert_eq!(
            status("s3://bucket/prefix/AWSLogs/1/CloudTrail/x.json.gz"),
            Some(LogFileStatus::Verified)
        );
        assert_eq!(status("flat/y.json.gz"), Some(LogFileStatus::NotCovered));
        assert_eq!(status("other/z.json.gz"), None);
    }
}
