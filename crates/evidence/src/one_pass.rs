//! `correlate --verify`: the CloudTrail folders read for correlation and verified
//! against their digests, each log file hashed in the pass that parses it (its content
//! is read once: [`sessiontrail_ingest::read_cloudtrail_listed_tapped`] feeds a
//! [`LogHasher`] as it inflates). The digests are loaded and their signatures and chain
//! checked meanwhile, on a thread of their own; the listed files' hashes are compared
//! once the read is done.

use std::collections::HashMap;
use std::path::PathBuf;

use sessiontrail_ingest::cloudtrail::ContentTap;
use sessiontrail_ingest::{
    CloudTrailRead, IngestError, Progress, list_input_files, read_cloudtrail_listed_tapped,
};

use crate::log_hash::LogHasher;
use crate::public_keys::PublicKeySource;
use crate::verify::{
    Verification, VerifyError, VerifyOptions, check_digests, check_digests_listed,
};

impl ContentTap for LogHasher {
    fn update(&mut self, bytes: &[u8]) {
        LogHasher::update(self, bytes);
    }
}

/// Why a read-and-verify could not run.
#[derive(Debug, thiserror::Error)]
pub enum OnePassError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(
        "{}: --verify checks folders of a trail's copy (digests beside the log files); give the folder that holds it, not a file",
        path.display()
    )]
    NotAFolder { path: PathBuf },
}

/// What [`read_and_verify`] gives: the read, and each folder's verification.
pub struct ReadAndVerified {
    pub cloudtrail: CloudTrailRead,
    pub verifications: Vec<(PathBuf, Verification)>,
    /// Log files whose hash came from the reading pass (the rest, unreadable to the
    /// end, were hashed by the verification itself).
    pub hashed_in_pass: usize,
}

/// Reads every CloudTrail file under `folders` (as `correlate --cloudtrail` does) and
/// verifies each folder, hashing each file while it is read. Each folder comes with the
/// bucket it is a copy of, when known (its digests must name it: [`VerifyOptions::bucket`]).
pub fn read_and_verify(
    folders: &[(PathBuf, Option<String>)],
    threads: usize,
    progress: Progress<'_>,
    options: &VerifyOptions,
    keys: &mut dyn PublicKeySource,
) -> Result<ReadAndVerified, OnePassError> {
    let buckets: Vec<Option<String>> = folders.iter().map(|(_, b)| b.clone()).collect();
    let folders: Vec<PathBuf> = folders.iter().map(|(f, _)| f.clone()).collect();
    for folder in &folders {
        if folder.exists() && !folder.is_dir() {
            return Err(OnePassError::NotAFolder {
                path: folder.clone(),
            });
        }
    }
    // One walk serves the read and (for one folder, its usual use) the verification.
    let listing = list_input_files(&folders)?;
    // The digests are checked on a thread of their own while the log files are read:
    // only the log files' hashes wait for the read.
    let (tapped, checked) = std::thread::scope(|scope| {
        let checking = scope.spawn(|| {
            let options = |bucket: &Option<String>| VerifyOptions {
                threads: Some(threads),
                bucket: bucket.clone(),
                ..options.clone()
            };
            match folders.as_slice() {
                [folder] => check_digests_listed(folder, &listing, &options(&buckets[0]), keys)
                    .map(|c| vec![c]),
                _ => folders
                    .iter()
                    .zip(&buckets)
                    .map(|(folder, bucket)| check_digests(folder, &options(bucket), keys))
                    .collect::<Result<Vec<_>, _>>(),
            }
        });
        let tapped = read_cloudtrail_listed_tapped(&listing, threads, progress, &LogHasher::new);
        let checked = checking
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (tapped, checked)
    });
    let checked = checked?;
    let known: HashMap<PathBuf, _> = tapped
        .taps
        .into_iter()
        .map(|(path, hasher)| (path, hasher.finish().0))
        .collect();
    let hashed_in_pass = known.len();
    let options = VerifyOptions {
        known_hashes: known,
        threads: Some(threads),
        ..options.clone()
    };
    let verifications = folders
        .iter()
        .cloned()
        .zip(checked)
        .map(|(folder, digests)| (folder, digests.verify_log_files(&options)))
        .collect();
    Ok(ReadAndVerified {
        cloudtrail: tapped.read,
        verifications,
        hashed_in_pass,
    })
}
