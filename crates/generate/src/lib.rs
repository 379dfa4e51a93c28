//! Deterministic generator of realistic sessiontrail inputs, with their ground truth.
//!
//! [`generate`] writes, under an output folder:
//!
//! - `cloudtrail/AWSLogs/...`: gzipped CloudTrail log files laid out like a trail's S3
//!   bucket (one account under an organization trail), one file per account, region and
//!   5-15 minute delivery window. Background noise from a dozen services and decoys
//!   (Athena's StartSession, ssm calls that are not sessions, strings that mention
//!   `StartSession` and `ssm.amazonaws.com`) surround the ssm session events. Some
//!   records arrive late or twice; one CloudTrail-Digest file must be skipped.
//! - `broker/...`: the session broker's log as daily JSON-lines files (with the Lambda's
//!   own `START`/`END`/`REPORT` lines and application logs mixed in), one CloudWatch Logs
//!   export file and one subscription payload, the last two repeating some records.
//! - `sessiontrail.toml`: the policy the data is judged against.
//! - `truth.json`: what correlating the data under that policy must give: the status of
//!   every session and every finding, computed by the generator from what it planted.
//! - With [`GenerateOptions::digests`] (`generate --digests`), instead of the one unsigned
//!   digest: every trail's hourly CloudTrail digest files, signed with an RSA key derived
//!   from the seed, each with its `head-object` sidecar `<digest>.metadata.json` (the
//!   signature), the key as `public-keys.json` (`list-public-keys` output), the
//!   [`TamperCase`]s asked for (`--tamper`), and `truth.json`'s `evidence`: each log
//!   file's expected status and each expected problem (the `digest` module says how).
//!
//! The same seed and options give byte-identical output (the generator carries its own
//! PRNG). With `target_bytes`, files are streamed to disk one at a time, so multi-GB
//! benchmark inputs need little memory.
//!
//! How it is built, one concept per module: `prng` (seeded xoshiro256**), `clock` and
//! `json` (timestamp formats, ordered JSON), `world` (accounts, users, roles and their
//! `userIdentity`), `policy` (`sessiontrail.toml`), `cloudtrail` (records and the ssm
//! session events), `noise` (background records and decoys), `broker_log` (broker
//! records, Lambda lines, the three wrappers), `scenario` (session plans turned into
//! events), `traffic` (the clean daily population), `plant` (the planted cases),
//! `truth` (`truth.json`), `layout` (S3 keys and paths), `delivery` (windows, files,
//! the unsigned digest) and `digest` (signed digests, sidecars, keys, tamper cases and
//! the evidence truth).
//!
//! ```
//! use sessiontrail_generate::{generate, GenerateOptions};
//!
//! let out = tempfile::tempdir()?;
//! let options = GenerateOptions {
//!     seed: 42,
//!     days: 1,
//!     sessions_per_day: 10,
//!     noise_per_session: 5,
//!     ..GenerateOptions::default()
//! };
//! let summary = generate(out.path(), &options)?;
//! assert!(summary.cloudtrail_files > 0 && summary.broker_records > 0);
//! assert!(out.path().join("truth.json").is_file());
//! assert!(out.path().join("sessiontrail.toml").is_file());
//! println!("{summary}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod broker_log;
mod clock;
mod cloudtrail;
mod delivery;
mod digest;
mod json;
mod layout;
mod noise;
mod options;
mod plant;
mod policy;
pub mod posture;
mod prng;
mod scenario;
mod traffic;
mod truth;
mod world;

use std::fs;
use std::path::Path;

pub use digest::{EvidenceRule, PUBLIC_KEYS_FILE, SIDECAR_SUFFIX};
pub use layout::{BROKER_DIR, CLOUDTRAIL_DIR, POLICY_FILE, TRUTH_FILE};
pub use options::{
    GenerateError, GenerateOptions, GenerateSummary, MAX_TARGET_DAYS, PlantedCase, SignedSummary,
    TamperCase,
};
pub use truth::{Rule, Status};

use delivery::NoiseBudget;
use scenario::Scenario;
use world::World;

/// Rough size of one day of output at the options' rates, to decide how many days a
/// `target_bytes` run needs before it starts adding noise instead.
fn effective_days(options: &GenerateOptions) -> u32 {
    let Some(target) = options.target_bytes else {
        return options.days;
    };
    let per_day = f64::from(options.sessions_per_day.max(1))
        * 2.0
        * (1.0 + f64::from(options.noise_per_session))
        * 1400.0;
    let needed = (target as f64 / per_day).ceil().min(f64::from(u32::MAX)) as u32;
    needed.clamp(options.days, MAX_TARGET_DAYS.max(options.days))
}

/// Creates `out`, or checks that it is an empty folder.
fn prepare(out: &Path) -> Result<(), GenerateError> {
    if out.exists() {
        let mut entries = fs::read_dir(out).map_err(|e| GenerateError::io(out, e))?;
        if entries.next().is_some() {
            return Err(GenerateError::OutputNotEmpty(out.to_path_buf()));
        }
        Ok(())
    } else {
        fs::create_dir_all(out).map_err(|e| GenerateError::io(out, e))
    }
}

/// Writes the CloudTrail files, broker log, policy and ground truth described in the
/// crate documentation into `out`, which must not exist or be empty.
pub fn generate(out: &Path, options: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    options.validate()?;
    prepare(out)?;
    let days = effective_days(options);
    let world = World::new(options);
    let start = clock::midnight(options.start_date);

    let mut scenario = Scenario::new(&world, options.seed, start, days);
    traffic::regular(&mut scenario, options.sessions_per_day);
    if options.plant_cases {
        plant::all(&mut scenario);
    }
    let Scenario {
        events,
        invocations,
        truth,
        planted,
        as_of,
        ..
    } = scenario;

    let budget = match options.target_bytes {
        Some(target) => NoiseBudget::TargetBytes(target),
        None => NoiseBudget::PerSsmEvent(options.noise_per_session),
    };
    let (mut cloudtrail, logs) = delivery::write(
        out,
        &world,
        events,
        budget,
        (start, as_of),
        options.seed,
        options.digests,
    )?;
    let evidence = if options.digests {
        let (digests, evidence) = digest::write(
            out,
            &world,
            &logs,
            (start, as_of),
            options.seed,
            &options.tamper,
        )?;
        cloudtrail.digest_files += digests;
        Some(evidence)
    } else {
        None
    };
    let broker = broker_log::write(out, invocations, options.seed, &world.accounts[0].id)?;

    let broker_roles: Vec<String> = (0..world.accounts.len())
        .map(|account| world.broker_role_arn(account))
        .collect();
    let policy_text = policy::render(options.seed, &broker_roles, &[world.automation_role_arn(0)]);
    let policy_path = out.join(POLICY_FILE);
    fs::write(&policy_path, policy_text).map_err(|e| GenerateError::io(&policy_path, e))?;

    let as_of_text = clock::event_time(as_of);
    let truth_path = out.join(TRUTH_FILE);
    let evidence_text = evidence.as_ref().map(digest::Evidence::render);
    fs::write(
        &truth_path,
        truth.render_with(&as_of_text, evidence_text.as_deref()),
    )
    .map_err(|e| GenerateError::io(&truth_path, e))?;

    Ok(GenerateSummary {
        days,
        as_of: as_of_text,
        cloudtrail_files: cloudtrail.files,
        cloudtrail_records: cloudtrail.records,
        cloudtrail_duplicates: cloudtrail.duplicates,
        ssm_session_events: cloudtrail.ssm_session_events,
        cloudtrail_bytes: cloudtrail.bytes,
        cloudtrail_compressed_bytes: cloudtrail.compressed_bytes,
        digest_files: cloudtrail.digest_files,
        broker_files: broker.files,
        broker_records: broker.records,
        broker_lines: broker.lines,
        sessions: truth.session_count() as u64,
        findings: truth.finding_count() as u64,
        planted,
        signed: evidence.map(|evidence| SignedSummary {
            digests: cloudtrail.digest_files,
            verified_log_files: evidence.verified_count(),
            tampered: options
                .tamper
                .iter()
                .map(|case| case.as_str().to_owned())
                .collect(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_bytes_adds_days_only_when_needed() {
        let small = GenerateOptions {
            target_bytes: Some(5_000_000),
            ..GenerateOptions::default()
        };
        assert_eq!(effective_days(&small), 3);
        let large = GenerateOptions {
            target_bytes: Some(4_000_000_000),
            ..GenerateOptions::default()
        };
        assert_eq!(effective_days(&large), MAX_TARGET_DAYS);
    }
}
