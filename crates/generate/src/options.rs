//! What the caller asks for ([`GenerateOptions`]), what it gets back
//! ([`GenerateSummary`]) and how it can fail ([`GenerateError`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

use chrono::NaiveDate;

/// The most days a `target_bytes` run adds on its own; past that it adds noise instead.
pub const MAX_TARGET_DAYS: u32 = 31;

/// How much and what to generate. Same options (seed included) give byte-identical output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// First day (UTC) of generated activity.
    pub start_date: NaiveDate,
    /// Number of days of activity; `as_of` is the end of the last day plus one hour.
    pub days: u32,
    /// Broker sessions started per day by the regular (clean) population.
    pub sessions_per_day: u32,
    /// Non-ssm CloudTrail records written per ssm session event.
    pub noise_per_session: u32,
    /// Number of AWS accounts (the last one of several is under an organization trail).
    pub accounts: u32,
    /// AWS regions of the trails.
    pub regions: Vec<String>,
    /// When set, about this many uncompressed CloudTrail bytes are written: days are
    /// added while the estimate at `noise_per_session` falls short (up to
    /// [`MAX_TARGET_DAYS`]), then the noise is scaled, up or down, to hit the target.
    /// Files are streamed to disk one at a time, so gigabytes need little memory.
    pub target_bytes: Option<u64>,
    /// Plant one or more cases of every session status and every rule.
    pub plant_cases: bool,
    /// Write signed CloudTrail digest files for every trail and hour, their S3 metadata
    /// sidecars, the public key (`public-keys.json`) and the evidence ground truth
    /// (`truth.json`'s `evidence`); see the `digest` module.
    pub digests: bool,
    /// With `digests`: tamper with the signed set, one case of each kind listed.
    pub tamper: Vec<TamperCase>,
}

/// A way the signed set is tampered with (`--tamper`), each planted once, with what a
/// verifier must conclude about it in `truth.json`'s `evidence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TamperCase {
    /// A byte of a listed log file changed after its digest was signed: the file is
    /// `tampered`, rule `log_file_tampered`.
    LogFileTampered,
    /// A listed log file deleted: `missing`, rule `log_file_missing`.
    LogFileMissing,
    /// A digest (not the first or last of its chain) deleted with its sidecar: the next
    /// digest's previous link is broken (`digest_chain_broken` on the next digest); the
    /// files only the deleted digest listed are `not_covered` (`log_file_not_covered`).
    DigestRemoved,
    /// A digest whose published signature is not the one its content gives: its files are
    /// `unsigned`, rule `digest_signature_invalid`. The chain stays consistent (the next
    /// digest's `previousDigestSignature` is the published one), so no other rule fires.
    SignatureForged,
    /// A digest signed with another key than the published one its
    /// `digestPublicKeyFingerprint` names: as `SignatureForged`.
    WrongKey,
    /// A log file left out of its hour's digest and listed by a backfill digest
    /// (`..._backfill.json.gz`, standalone, signed): the file is `verified`, nothing fires.
    Backfill,
    /// A log file no digest lists: `not_covered`, rule `log_file_not_covered`.
    LogFileNotCovered,
}

impl TamperCase {
    pub const ALL: [TamperCase; 7] = [
        TamperCase::LogFileTampered,
        TamperCase::LogFileMissing,
        TamperCase::DigestRemoved,
        TamperCase::SignatureForged,
        TamperCase::WrongKey,
        TamperCase::Backfill,
        TamperCase::LogFileNotCovered,
    ];

    /// The name `--tamper` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            TamperCase::LogFileTampered => "log_file_tampered",
            TamperCase::LogFileMissing => "log_file_missing",
            TamperCase::DigestRemoved => "digest_removed",
            TamperCase::SignatureForged => "signature_forged",
            TamperCase::WrongKey => "wrong_key",
            TamperCase::Backfill => "backfill",
            TamperCase::LogFileNotCovered => "log_file_not_covered",
        }
    }

    /// Parses `--tamper` values: case names, or `all`; duplicates are kept once, in
    /// [`TamperCase::ALL`] order.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<TamperCase>, GenerateError> {
        let mut cases = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if name == "all" {
                cases.extend(TamperCase::ALL);
                continue;
            }
            match TamperCase::ALL.iter().find(|case| case.as_str() == name) {
                Some(case) => cases.push(*case),
                None => {
                    let known: Vec<&str> = TamperCase::ALL.iter().map(|c| c.as_str()).collect();
                    return Err(GenerateError::InvalidOptions(format!(
                        "unknown tamper case {name:?} (known: {}, all)",
                        known.join(", ")
                    )));
                }
            }
        }
        cases.sort_unstable();
        cases.dedup();
        Ok(cases)
    }
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            start_date: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default(),
            days: 3,
            sessions_per_day: 40,
            noise_per_session: 200,
            accounts: 2,
            regions: vec!["eu-west-1".to_owned(), "us-east-1".to_owned()],
            target_bytes: None,
            plant_cases: true,
            digests: false,
            tamper: Vec::new(),
        }
    }
}

impl GenerateOptions {
    /// Checks the options; the error names the offending one.
    pub fn validate(&self) -> Result<(), GenerateError> {
        let invalid = |msg: String| Err(GenerateError::InvalidOptions(msg));
        if self.days == 0 || self.days > 3660 {
            return invalid(format!("days must be 1..=3660, got {}", self.days));
        }
        if self.accounts == 0 || self.accounts > 100 {
            return invalid(format!("accounts must be 1..=100, got {}", self.accounts));
        }
        if self.sessions_per_day > 1_000_000 {
            return invalid(format!(
                "sessions_per_day must be at most 1000000, got {}",
                self.sessions_per_day
            ));
        }
        let year = chrono::Datelike::year(&self.start_date);
        if !(1990..=2200).contains(&year) {
            return invalid(format!("start_date must be in 1990..=2200, got {year}"));
        }
        if self.regions.is_empty() {
            return invalid("at least one region is needed".to_owned());
        }
        if !self.tamper.is_empty() && !self.digests {
            return invalid("tamper cases need digests".to_owned());
        }
        for (i, region) in self.regions.iter().enumerate() {
            let well_formed = !region.is_empty()
                && region.len() <= 32
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !well_formed {
                return invalid(format!("region {region:?} is not a region name"));
            }
            if self.regions[..i].contains(region) {
                return invalid(format!("region {region} is listed twice"));
            }
        }
        Ok(())
    }
}

/// A case the generator planted, with what the engine must conclude about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlantedCase {
    /// What was planted, in a few words.
    pub name: String,
    /// The session key (or finding key) in `truth.json`.
    pub key: String,
    /// Expected session status, when the case is a session.
    pub status: Option<String>,
    /// Expected finding rules raised on `key` (or on the event ids named in `name`).
    pub findings: Vec<String>,
}

/// What [`crate::generate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Days of activity actually generated (more than asked when `target_bytes` needed them).
    pub days: u32,
    /// `as_of` of the ground truth (RFC 3339).
    pub as_of: String,
    /// CloudTrail log files (`.json.gz`, digest not included).
    pub cloudtrail_files: u64,
    /// CloudTrail records written, redelivered copies included.
    pub cloudtrail_records: u64,
    /// Records written a second time into another file (same eventID).
    pub cloudtrail_duplicates: u64,
    /// Distinct ssm StartSession / ResumeSession / TerminateSession records.
    pub ssm_session_events: u64,
    /// Uncompressed bytes of the CloudTrail log files.
    pub cloudtrail_bytes: u64,
    /// Compressed bytes of the CloudTrail log files.
    pub cloudtrail_compressed_bytes: u64,
    /// CloudTrail-Digest files (readers must skip them).
    pub digest_files: u64,
    /// Broker log files: JSON lines, CloudWatch export and subscription payloads.
    pub broker_files: u64,
    /// Distinct broker records (objects with `v`, by `request_id`).
    pub broker_records: u64,
    /// Broker log lines written, wrappers and the Lambda's own lines included.
    pub broker_lines: u64,
    /// Sessions in the ground truth.
    pub sessions: u64,
    /// Findings in the ground truth.
    pub findings: u64,
    /// The planted cases (empty without `plant_cases`).
    pub planted: Vec<PlantedCase>,
    /// With `digests`: what was signed and tampered with.
    pub signed: Option<SignedSummary>,
}

/// What `digests` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignedSummary {
    /// Signed digest files written (backfill digests included, removed ones not).
    pub digests: u64,
    /// Log files whose expected evidence status is `verified`.
    pub verified_log_files: u64,
    /// The tamper cases planted, by name.
    pub tampered: Vec<String>,
}

impl fmt::Display for GenerateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "days generated:        {}", self.days)?;
        writeln!(f, "as_of:                 {}", self.as_of)?;
        writeln!(
            f,
            "cloudtrail files:      {} ({} digest file skipped by readers)",
            self.cloudtrail_files, self.digest_files
        )?;
        writeln!(
            f,
            "cloudtrail records:    {} ({} redelivered)",
            self.cloudtrail_records, self.cloudtrail_duplicates
        )?;
        writeln!(f, "ssm session events:    {}", self.ssm_session_events)?;
        writeln!(
            f,
            "cloudtrail bytes:      {} uncompressed, {} compressed",
            self.cloudtrail_bytes, self.cloudtrail_compressed_bytes
        )?;
        writeln!(
            f,
            "broker log:            {} files, {} records, {} lines",
            self.broker_files, self.broker_records, self.broker_lines
        )?;
        write!(
            f,
            "ground truth:          {} sessions, {} findings, {} planted cases",
            self.sessions,
            self.findings,
            self.planted.len()
        )?;
        if let Some(signed) = &self.signed {
            write!(
                f,
                "\nsigned digests:        {} (key in public-keys.json), {} log files verifiable, tampered: {}",
                signed.digests,
                signed.verified_log_files,
                if signed.tampered.is_empty() {
                    "nothing".to_owned()
                } else {
                    signed.tampered.join(", ")
                }
            )?;
        }
        Ok(())
    }
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// An option is out of range; the message names it.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// The output folder exists and is not empty (nothing is overwritten or deleted).
    #[error("output folder {0} is not empty")]
    OutputNotEmpty(PathBuf),
    /// Generating the key or signing a digest failed.
    #[error("signing digests: {0}")]
    Signing(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl GenerateError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        GenerateError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let options = GenerateOptions::default();
        assert!(options.validate().is_ok());
        assert_eq!(options.start_date.to_string(), "2026-02-01");
    }

    #[test]
    fn rejects_bad_regions_and_zero_days() {
        let mut options = GenerateOptions {
            days: 0,
            ..GenerateOptions::default()
        };
        assert!(options.validate().is_err());
        options.days = 1;
        options.regions = vec!["eu-west-1".into(), "eu-west-1".into()];
        assert!(options.validate().is_err());
        options.regions = vec!["../etc".into()];
        assert!(options.validate().is_err());
    }
}
