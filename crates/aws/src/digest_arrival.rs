//! A CloudTrail digest checked as it arrives (the Lambda's S3 Object Created path): the
//! digest and its signature, its link to the previous digest, and the log files it
//! lists, each hashed, with the checks of `verify` (`sessiontrail_evidence`).
//!
//! What is fetched, into a temporary copy laid out by key: the digest with its
//! HeadObject metadata (the signature), the previous digest it names with its metadata,
//! and the log files both list. The previous digest's files come too, so that it is
//! checked whole beside the new one: a log file listed by either and not in the bucket
//! is `missing`. Its own chain link was checked when it arrived, and is not judged again
//! (its predecessor is not at hand). A previous digest that
//! is not in the bucket breaks the chain (`digest_chain_broken` on the new digest).
//! Log files no digest lists (`log_file_not_covered`) are not seen here: that takes the
//! whole folder (`sessiontrail verify`, `correlate --verify`).

use chrono::TimeDelta;
use sessiontrail_correlate::EvidenceInput;
use sessiontrail_correlate::storage::StorageError;
use sessiontrail_evidence::{
    PublicKeySource, VerifyOptions, evidence_input, read_digest_file, verify_folder,
};

use crate::s3::S3;
use crate::s3_url::S3Url;
use crate::trail_copy::{CopyNames, copied_path, copy_keys};

/// Why a digest could not be checked (a check that fails is evidence, not this).
#[derive(Debug, thiserror::Error)]
pub enum ArrivalError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Verify(String),
}

/// What checking one arrived digest found: as `correlate --verify` records it.
pub struct CheckedArrival {
    pub evidence: EvidenceInput,
    /// The checks that failed.
    pub problems: usize,
    /// The log files whose status was decided.
    pub log_files: usize,
}

/// Checks the digest at `digest` (in the bucket where CloudTrail put it) with keys
/// from `keys` (called on a blocking thread). Files are named by their s3:// URLs.
pub async fn check_arrived_digest<K>(
    s3: &S3,
    digest: &S3Url,
    keys: K,
) -> Result<CheckedArrival, ArrivalError>
where
    K: PublicKeySource + 'static,
{
    let copy = tempfile::tempdir().map_err(|source| StorageError::Io {
        location: "a temporary folder".into(),
        source,
    })?;
    let into = copy.path().to_path_buf();
    let bucket = digest.bucket.clone();
    copy_keys(s3, &bucket, [digest.key.clone()], &into).await?;
    let Some(local) = copied_path(&into, &digest.key).filter(|p| p.exists()) else {
        // Gone already (or not a digest's key): nothing to check.
        return Err(ArrivalError::Verify(format!(
            "{digest}: not found, or not a CloudTrail digest file's key"
        )));
    };
    // What it names: read here only to know what to fetch (the verification reads it
    // again, strictly, and says what is wrong with it).
    let named = read_digest_file(&local, &digest.to_string()).ok();
    let mut start = None;
    let mut previous_fetched = true;
    if let Some(named) = &named {
        start = Some(named.digest_start_time);
        let mut keys: Vec<String> = named
            .log_files
            .iter()
            .map(|f| f.s3_object.clone())
            .collect();
        if let Some(previous) = &named.previous {
            copy_keys(s3, &bucket, [previous.s3_object.clone()], &into).await?;
            let previous_local =
                copied_path(&into, &previous.s3_object).filter(|path| path.exists());
            previous_fetched = previous_local.is_some();
            if let Some(previous_named) =
                previous_local.and_then(|path| read_digest_file(&path, &previous.s3_object).ok())
            {
                keys.extend(previous_named.log_files.into_iter().map(|f| f.s3_object));
            }
        }
        keys.sort();
        keys.dedup();
        copy_keys(s3, &bucket, keys, &into).await?;
    }
    let options = VerifyOptions {
        bucket: Some(bucket.clone()),
        // A previous digest not in the bucket is a break: the window reaches back past
        // the new digest's start, so its predecessor must be at hand.
        from: start
            .filter(|_| !previous_fetched)
            .map(|s| s.checked_sub_signed(TimeDelta::seconds(1)).unwrap_or(s)),
        ..Default::default()
    };
    let names = CopyNames::new(&into, &bucket);
    let checked = tokio::task::spawn_blocking(move || {
        let mut keys = keys;
        let verification = verify_folder(&into, &options, &mut keys)
            .map_err(|e| ArrivalError::Verify(names.show(&e.to_string())))?;
        // The previous digest's own link is not judged here (its predecessor is not at
        // hand): what was found about it when it arrived stays (`chains_not_judged`).
        let evidence = evidence_input(&verification, &|text| names.show(text));
        drop(copy);
        Ok::<_, ArrivalError>(CheckedArrival {
            evidence,
            problems: verification.problems.len(),
            log_files: verification.log_files.len(),
        })
    })
    .await
    .expect("the verification does not panic")?;
    Ok(checked)
}
