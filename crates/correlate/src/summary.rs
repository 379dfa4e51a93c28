//! What a run did ([`RunSummary`]): the figures the CLI prints, the Lambda logs and
//! exit codes depend on, and the text a user reads.

use std::collections::BTreeMap;
use std::time::Duration;

use sessiontrail_ingest::SkippedFile;
use sessiontrail_ingest::broker_log::BrokerStats;
use sessiontrail_ingest::cloudtrail::CloudTrailStats;
use sessiontrail_ingest::reject::Reject;
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis, utc_date};

use crate::correlation::Correlation;
use crate::finding::Finding;
use crate::rule::{Rule, Severity};
use crate::status::SessionStatus;

/// What a run did, for the summary a user reads and for exit codes.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Where the dataset is (a folder or an `s3://` URL).
    pub out: String,
    pub as_of: EpochMillis,
    pub cloudtrail: CloudTrailStats,
    pub broker: BrokerStats,
    pub duplicate_events: u64,
    pub duplicate_records: u64,
    /// Sessions that had left the retention window and were brought back from the
    /// archive because this run read one of their records again or a late counterpart.
    pub rehydrated: u64,
    /// StartSession records repeating an earlier one's session id (another eventID).
    pub repeated_starts: u64,
    /// Resume/TerminateSession calls that failed.
    pub failed_controls: u64,
    pub rejects: Vec<Reject>,
    /// Of `rejects`, those recorded by an earlier run (not recorded again).
    pub rejects_seen_before: u64,
    /// Files in walked folders that no reader reads (named, with the reason).
    pub skipped_files: Vec<SkippedFile>,
    /// Sessions in this run's window (everything still in state plus the new inputs).
    pub sessions_by_status: BTreeMap<SessionStatus, u64>,
    pub findings_by_rule: BTreeMap<Rule, u64>,
    pub findings_by_severity: BTreeMap<Severity, u64>,
    /// Findings this run raised that no earlier run had (what alerts are about).
    pub new_findings: Vec<Finding>,
    pub partitions_rewritten: u64,
    /// Times the run started over because another run saved the state first.
    pub lost_races: u32,
    pub elapsed: Duration,
}

impl RunSummary {
    /// The most severe finding in this run's window.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings_by_severity.keys().max().copied()
    }

    /// Counts the sessions and findings of the run's window (`correlation`) by status,
    /// rule and severity.
    pub fn count_window(&mut self, correlation: &Correlation) {
        for session in &correlation.sessions {
            *self.sessions_by_status.entry(session.status).or_default() += 1;
        }
        for finding in &correlation.findings {
            *self.findings_by_rule.entry(finding.rule).or_default() += 1;
            *self
                .findings_by_severity
                .entry(finding.severity())
                .or_default() += 1;
        }
    }
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ct = &self.cloudtrail;
        let br = &self.broker;
        writeln!(
            f,
            "sessiontrail correlate  as of {}",
            format_rfc3339_millis(self.as_of)
        )?;
        writeln!(
            f,
            "  cloudtrail   {} files, {:.1} MB, {} ssm session events, {} rejected",
            ct.files,
            ct.bytes as f64 / 1e6,
            ct.session_events,
            ct.rejected
        )?;
        writeln!(
            f,
            "               {} files split into {} records; {} whole log files without any ssm record not split",
            ct.files - ct.files_without_session_events,
            ct.records,
            ct.files_without_session_events
        )?;
        writeln!(
            f,
            "  broker log   {} files, {} broker records, {} other lines ignored, {} rejected",
            br.files, br.records, br.ignored, br.rejected
        )?;
        writeln!(
            f,
            "  duplicates   {} CloudTrail records and {} broker records seen before (dropped as redeliveries)",
            self.duplicate_events, self.duplicate_records
        )?;
        if ct.digest_or_insight_files > 0 {
            writeln!(
                f,
                "               {} CloudTrail-Digest / CloudTrail-Insight files not read as session events (--verify checks the digests)",
                ct.digest_or_insight_files
            )?;
        }
        if !self.skipped_files.is_empty() {
            writeln!(
                f,
                "  skipped      {} files no reader reads; first ones:",
                self.skipped_files.len()
            )?;
            for skipped in self.skipped_files.iter().take(5) {
                writeln!(f, "               {}: {}", skipped.path, skipped.reason)?;
            }
        }
        if self.rehydrated > 0 {
            writeln!(
                f,
                "  archive      {} sessions past retention brought back from state/archive/ (their records were read again, or a late counterpart arrived)",
                self.rehydrated
            )?;
        }
        if self.repeated_starts > 0 || self.failed_controls > 0 {
            writeln!(
                f,
                "  kept         {} StartSession records repeating an earlier session id (the earliest is the session), {} failed Resume/TerminateSession calls (change no session)",
                self.repeated_starts, self.failed_controls
            )?;
        }
        let statuses: Vec<String> = SessionStatus::ALL
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s,
                    self.sessions_by_status.get(s).copied().unwrap_or(0)
                )
            })
            .collect();
        let total: u64 = self.sessions_by_status.values().sum();
        writeln!(f, "  sessions     {total}: {}", statuses.join(", "))?;
        let severities: Vec<String> = Severity::ALL
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s,
                    self.findings_by_severity.get(s).copied().unwrap_or(0)
                )
            })
            .collect();
        let total: u64 = self.findings_by_rule.values().sum();
        writeln!(f, "  findings     {total}: {}", severities.join(", "))?;
        for (rule, count) in &self.findings_by_rule {
            writeln!(f, "               {count:>6}  {rule} ({})", rule.severity())?;
        }
        writeln!(
            f,
            "  dataset      {} ({} partition files rewritten)",
            self.out, self.partitions_rewritten
        )?;
        if !self.rejects.is_empty() {
            let seen = match self.rejects_seen_before {
                0 => String::new(),
                n => format!(", {n} of them recorded by an earlier run"),
            };
            writeln!(
                f,
                "  rejects      {} records could not be read{seen} (new ones in {}/rejects/dt={}/; `sessiontrail query` table rejects); first ones:",
                self.rejects.len(),
                self.out.trim_end_matches('/'),
                utc_date(self.as_of)
            )?;
            for reject in self.rejects.iter().take(5) {
                writeln!(f, "               {reject}")?;
            }
        }
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "  time         {:.2} s ({:.0} MB/s of CloudTrail)",
            secs,
            ct.bytes as f64 / 1e6 / secs.max(1e-9)
        )
    }
}
