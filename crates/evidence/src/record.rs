//! A verification as the rows a correlation run records (`correlate --verify`): each
//! log file's [`LogFileRecord`] for the `evidence` table, and each failed digest check
//! as a [`DigestProblem`]; the run keeps them and raises their findings.

use std::collections::HashMap;

use sessiontrail_correlate::evidence::{DigestProblem, EvidenceInput, LogFileRecord};
use sessiontrail_correlate::{Rule, Subject};

use crate::digest_key::{parse_digest_file_name, parse_log_file_name};
use crate::verify::Verification;

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The rows of `verification`. `shown_as` rewrites local paths of a temporary copy
/// (an `s3://` trail) to the locations they were copied from.
pub fn evidence_input(
    verification: &Verification,
    shown_as: &dyn Fn(&str) -> String,
) -> EvidenceInput {
    // By file, the first of each (a lookup per log file: no scan of every digest).
    let mut digests = HashMap::new();
    for d in &verification.digests {
        digests.entry(d.file.as_str()).or_insert(d);
    }
    let digest_of = |file: &str| digests.get(file).copied();
    let mut log_file_problems = HashMap::new();
    for p in &verification.problems {
        if p.rule.subject() == Subject::LogFile {
            log_file_problems.entry(p.key.as_str()).or_insert(p);
        }
    }
    let log_files = verification
        .log_files
        .iter()
        .map(|f| {
            let name = parse_log_file_name(file_name(&f.key)).ok();
            let digest = f.digest.as_deref().and_then(digest_of);
            let detail = log_file_problems
                .get(f.key.as_str())
                .filter(|p| {
                    matches!(
                        p.rule,
                        Rule::LogFileTampered | Rule::LogFileMissing | Rule::LogFileNotCovered
                    )
                })
                .map(|p| shown_as(&p.detail));
            LogFileRecord {
                key: f.key.clone(),
                file: shown_as(&f.file),
                status: f.status,
                file_time: name.as_ref().map_or(0, |n| n.time.timestamp_millis()),
                account_id: name.as_ref().map(|n| n.account_id.clone()),
                region: name.as_ref().map(|n| n.region.clone()),
                digest: digest.map(|d| d.key.clone()),
                expected_sha256: f.expected_sha256.map(|h| h.to_hex()),
                actual_sha256: f.actual_sha256.map(|h| h.to_hex()),
                digest_signature_verified: digest.map(|d| d.signature_verified),
                digest_chain_verified: digest.map(|d| d.chain_verified),
                detail,
                checked_at: 0,
            }
        })
        .collect();
    let digest_problems = verification
        .problems
        .iter()
        .filter(|p| {
            matches!(
                p.rule,
                Rule::DigestSignatureInvalid | Rule::DigestChainBroken
            )
        })
        .map(|p| {
            let name = parse_digest_file_name(file_name(&p.key)).ok();
            DigestProblem {
                rule: p.rule,
                key: p.key.clone(),
                file: shown_as(&p.file),
                detail: shown_as(&p.detail),
                time: name.as_ref().map_or(0, |n| n.end_time.timestamp_millis()),
                account_id: name.as_ref().map(|n| n.trail.account_id.clone()),
                region: name.as_ref().map(|n| n.trail.region.clone()),
            }
        })
        .collect();
    EvidenceInput {
        log_files,
        digests_checked: verification.digests.iter().map(|d| d.key.clone()).collect(),
        chains_not_judged: verification
            .digests
            .iter()
            .filter(|d| !d.chain_judged)
            .map(|d| d.key.clone())
            .collect(),
        digest_problems,
    }
}
