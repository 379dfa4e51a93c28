//! Finding and reading input objects in S3: CloudTrail log files and broker logs.
//!
//! A location is one object (its exact key) or a folder prefix. For CloudTrail, a
//! [`CloudTrailScope`] narrows the listing to accounts, regions and delivery dates by
//! walking the trail's key layout (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`)
//! with delimiter listings, so a month of one region is listed without listing the
//! whole bucket; `CloudTrail-Digest/` and `CloudTrail-Insight/` are never entered.
//!
//! A prefix is read as a local folder is walked: keys with the walk's extensions, in any
//! case ([`has_input_extension`]); every other key is named in `skipped_files` with the
//! reason, as the walk names files; Digest and Insight keys are counted.
//!
//! Memory: an object larger than [`InputLimits::max_object_bytes`] is a reject naming
//! it and its size, never downloaded; one up to
//! [`WHOLE_FILE_COMPRESSED_LIMIT`] (32 MiB) is downloaded whole (at most
//! [`WHOLE_BYTES_IN_FLIGHT`] of them at once) and read as a file is; a larger one is
//! read as it downloads. At most [`reads_at_once`] objects are parsed at once.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use sessiontrail_correlate::storage::StorageError;
use sessiontrail_ingest::arn::is_account_id;
use sessiontrail_ingest::broker_log::{read_broker_log_object, read_broker_log_object_stream};
use sessiontrail_ingest::cloudtrail::{read_cloudtrail_object, read_cloudtrail_object_stream};
use sessiontrail_ingest::input_files::{
    ReadBuffers, WHOLE_FILE_COMPRESSED_LIMIT, has_input_extension, is_digest_or_insight,
    skipped_key_reason,
};
use sessiontrail_ingest::{
    BrokerRead, CloudTrailRead, InputKind, InputLimits, Mergeable, Reject, SkippedFile,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::s3::{BodyReader, S3};
use crate::s3_url::S3Url;

/// Objects downloaded at once (each is parsed on a blocking thread as it arrives).
pub const DOWNLOADS_IN_FLIGHT: usize = 16;

/// Bytes of whole objects (as stored) held at once, downloaded or being read.
pub const WHOLE_BYTES_IN_FLIGHT: u64 = 256 << 20;

/// Objects parsed at once: one per core (each may hold up to 64 MiB of inflated
/// content and one parsed record), at most [`DOWNLOADS_IN_FLIGHT`].
pub fn reads_at_once() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, DOWNLOADS_IN_FLIGHT)
}

/// Which part of a trail to read. Dates are delivery dates (the key's date folders);
/// `until` includes the next day's folder, where CloudTrail delivers late events of a
/// day's last minutes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudTrailScope {
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl CloudTrailScope {
    pub fn is_everything(&self) -> bool {
        *self == CloudTrailScope::default()
    }

    fn wants_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }

    fn wants_region(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }

    /// Whether a key's `YYYY/MM/DD` folders (when it has them) fall in the range.
    fn wants_key(&self, key: &str) -> bool {
        let Some(date) = delivery_date(key) else {
            return true;
        };
        self.since.is_none_or(|since| date >= since)
            && self
                .until
                .is_none_or(|until| date <= until.succ_opt().unwrap_or(until))
    }
}

/// The `YYYY/MM/DD` date folders of a CloudTrail key.
fn delivery_date(key: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = key.split('/').collect();
    parts.windows(3).find_map(|w| {
        if w[0].len() == 4 && w[1].len() == 2 && w[2].len() == 2 {
            NaiveDate::from_ymd_opt(w[0].parse().ok()?, w[1].parse().ok()?, w[2].parse().ok()?)
        } else {
            None
        }
    })
}

/// What a listed key is to a folder walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// Read: one of the walk's extensions, in any case.
    Input,
    /// A CloudTrail-Digest or CloudTrail-Insight object: counted, not read.
    DigestOrInsight,
    /// A folder marker (`prefix/`): nothing.
    Folder,
    /// Any other key: named as skipped, with the reason.
    Other,
}

fn key_kind(key: &str) -> KeyKind {
    if key.ends_with('/') {
        KeyKind::Folder
    } else if !has_input_extension(key) {
        KeyKind::Other
    } else if is_digest_or_insight(std::path::Path::new(key)) {
        KeyKind::DigestOrInsight
    } else {
        KeyKind::Input
    }
}

/// Keys a folder walk reads: the local walk's extensions, without Digest and Insight.
#[cfg(test)]
fn is_input_key(key: &str) -> bool {
    key_kind(key) == KeyKind::Input
}

/// What listing an input location found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputListing {
    /// The objects to read, sorted by key.
    pub objects: Vec<S3Url>,
    /// Keys not read for their name, as a folder walk names files it does not read.
    pub skipped_files: Vec<SkippedFile>,
    /// CloudTrail-Digest and CloudTrail-Insight keys left out.
    pub digest_or_insight: u64,
}

/// The objects under `url`: the object itself when the key names one, else every input
/// key under it as a folder, narrowed by `scope` for CloudTrail.
pub async fn list_input_objects(
    s3: &S3,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<Vec<S3Url>, StorageError> {
    Ok(list_inputs(s3, url, scope).await?.objects)
}

/// [`list_input_objects`], with the keys it leaves out.
pub async fn list_inputs(
    s3: &S3,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<InputListing, StorageError> {
    if !url.key.is_empty() && !url.key.ends_with('/') && s3.get_exists(url).await? {
        return Ok(InputListing {
            objects: vec![url.clone()],
            ..Default::default()
        });
    }
    let prefixes = if scope.is_everything() {
        vec![url.with_key(&url.folder())]
    } else {
        cloudtrail_prefixes(s3, url, scope).await?
    };
    let mut listing = InputListing::default();
    for prefix in prefixes {
        for key in s3.list(&prefix).await? {
            if !scope.wants_key(&key) {
                continue;
            }
            match key_kind(&key) {
                KeyKind::Input => listing.objects.push(url.with_key(&key)),
                KeyKind::DigestOrInsight => listing.digest_or_insight += 1,
                KeyKind::Folder => {}
                KeyKind::Other => listing.skipped_files.push(SkippedFile {
                    path: url.with_key(&key).to_string(),
                    reason: skipped_key_reason(&key),
                }),
            }
        }
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.objects.dedup();
    listing.skipped_files.sort();
    listing.skipped_files.dedup();
    Ok(listing)
}

#[derive(Debug, Clone, Copy)]
enum Level {
    /// Above `AWSLogs/` (a bucket root or a prefix before it), at this depth.
    Above(u8),
    /// Children are account ids or organization ids.
    AwsLogs,
    /// Children are `CloudTrail/`, `CloudTrail-Digest/`, ...
    Account,
    /// Children are regions.
    Trail,
    /// Children are `YYYY/`.
    Region,
    /// Inside a region's dates: list everything.
    Dates,
}

/// Where a prefix sits in the trail layout.
fn level_of(folder: &str) -> Level {
    let segments: Vec<&str> = folder.split('/').filter(|s| !s.is_empty()).collect();
    let Some(at) = segments.iter().rposition(|s| *s == "AWSLogs") else {
        return Level::Above(0);
    };
    let mut rest = &segments[at + 1..];
    if rest.first().is_some_and(|s| s.starts_with("o-")) {
        rest = &rest[1..];
    }
    match rest.len() {
        0 => Level::AwsLogs,
        1 => Level::Account,
        2 => Level::Trail,
        3 => Level::Region,
        _ => Level::Dates,
    }
}

/// The prefixes to list for `scope` under `url`, found by delimiter listings.
async fn cloudtrail_prefixes(
    s3: &S3,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<Vec<S3Url>, StorageError> {
    let mut out = Vec::new();
    let start = url.folder();
    let mut frontier = vec![(start.clone(), level_of(&start))];
    // Bounded: a trail layout is at most a few levels deep.
    let mut budget = 100_000usize;
    while let Some((prefix, level)) = frontier.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            return Err(StorageError::Remote {
                location: url.to_string(),
                message: "too many folders while looking for the trail's layout".into(),
            });
        }
        let child = |name: &str| format!("{prefix}{name}/");
        match level {
            Level::Above(depth) => {
                for folder in s3.list_folders(&url.with_key(&prefix)).await? {
                    let name = folder[prefix.len()..].trim_end_matches('/').to_string();
                    if name == "AWSLogs" {
                        frontier.push((folder, Level::AwsLogs));
                    } else if depth < 3 {
                        frontier.push((folder, Level::Above(depth + 1)));
                    }
                }
            }
            Level::AwsLogs => {
                for folder in s3.list_folders(&url.with_key(&prefix)).await? {
                    let name = folder[prefix.len()..].trim_end_matches('/').to_string();
                    if name.starts_with("o-") {
                        frontier.push((folder, Level::AwsLogs));
                    } else if is_account_id(&name) && scope.wants_account(&name) {
                        frontier.push((folder, Level::Account));
                    }
                }
            }
            Level::Account => {
                let account = prefix
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                if scope.wants_account(account) {
                    frontier.push((child("CloudTrail"), Level::Trail));
                }
            }
            Level::Trail => {
                for folder in s3.list_folders(&url.with_key(&prefix)).await? {
                    let name = folder[prefix.len()..].trim_end_matches('/').to_string();
                    if scope.wants_region(&name) {
                        frontier.push((folder, Level::Region));
                    }
                }
            }
            Level::Region => match (scope.since, scope.until) {
                (Some(since), Some(until)) if since <= until => {
                    let last = until.succ_opt().unwrap_or(until);
                    let mut day = since;
                    while day <= last {
                        out.push(url.with_key(&format!(
                            "{prefix}{:04}/{:02}/{:02}/",
                            day.year(),
                            day.month(),
                            day.day()
                        )));
                        let Some(next) = day.succ_opt() else { break };
                        day = next;
                    }
                }
                _ => out.push(url.with_key(&prefix)),
            },
            Level::Dates => out.push(url.with_key(&prefix)),
        }
    }
    Ok(out)
}

/// An input object as it is read: its bytes, its download, or the reject for its size.
enum ObjectBody {
    Whole(Vec<u8>),
    Stream {
        reader: BodyReader,
        size: Option<u64>,
    },
    TooLarge(Reject),
}

/// Downloads `objects` (at most [`DOWNLOADS_IN_FLIGHT`] at once, whole ones within
/// [`WHOLE_BYTES_IN_FLIGHT`]) and reads each with `read` on a blocking thread (at most
/// [`reads_at_once`] at once); results are merged in the objects' order, so the outcome
/// does not depend on download timing. `progress` gets (done, total). An object over
/// the size limit is a reject; a download that fails midway fails the whole read (so
/// it is retried), never a reject of what the network cut.
async fn read_objects<T: Mergeable + 'static>(
    s3: &S3,
    objects: Vec<S3Url>,
    read: fn(&str, ObjectBody, &InputLimits, &mut T),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<T, StorageError> {
    let total = objects.len();
    let downloads = Arc::new(Semaphore::new(DOWNLOADS_IN_FLIGHT));
    let whole_mib = (WHOLE_BYTES_IN_FLIGHT >> 20) as u32;
    let whole_bytes = Arc::new(Semaphore::new(whole_mib as usize));
    let reads = Arc::new(Semaphore::new(reads_at_once()));
    let mut tasks = JoinSet::new();
    let mut results: Vec<(usize, T)> = Vec::with_capacity(total);
    let mut done = 0;
    let mut collect = |joined: Result<(usize, Result<T, StorageError>), tokio::task::JoinError>,
                       results: &mut Vec<(usize, T)>|
     -> Result<(), StorageError> {
        let (index, read) = joined.map_err(|err| StorageError::Remote {
            location: "reading S3 objects".into(),
            message: err.to_string(),
        })?;
        results.push((index, read?));
        done += 1;
        progress(done, total);
        Ok(())
    };
    for (index, url) in objects.into_iter().enumerate() {
        let permit = Arc::clone(&downloads)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (s3, whole_bytes, reads) = (s3.clone(), whole_bytes.clone(), reads.clone());
        tasks.spawn(async move {
            let result = async {
                let gone = || StorageError::Remote {
                    location: url.to_string(),
                    message: "the object was listed but is gone".into(),
                };
                let (size, body) = s3.get_body(&url).await?.ok_or_else(gone)?;
                let name = url.to_string();
                let limits = s3.input_limits;
                let too_large = size.and_then(|size| {
                    let kind = InputKind::Cloudtrail; // relabelled by `read`
                    limits.object_too_large(kind, &name, size)
                });
                let mut _whole_permit = None;
                let mut failure = None;
                let body = match (too_large, size) {
                    (Some(reject), _) => ObjectBody::TooLarge(reject),
                    (None, Some(size)) if size <= WHOLE_FILE_COMPRESSED_LIMIT => {
                        let mib = size.div_ceil(1 << 20).clamp(1, u64::from(whole_mib)) as u32;
                        _whole_permit = Some(
                            whole_bytes
                                .acquire_many_owned(mib)
                                .await
                                .expect("the semaphore is never closed"),
                        );
                        ObjectBody::Whole(S3::collect_body(&url, body).await?)
                    }
                    (None, size) => {
                        let reader = BodyReader::new(&url, body, s3.runtime.clone());
                        failure = Some(reader.failure());
                        ObjectBody::Stream { reader, size }
                    }
                };
                let _read_permit = reads
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let out = tokio::task::spawn_blocking(move || {
                    let mut out = T::default();
                    read(&name, body, &limits, &mut out);
                    out
                })
                .await
                .map_err(|err| StorageError::Remote {
                    location: url.to_string(),
                    message: err.to_string(),
                })?;
                let failed = failure.and_then(|f| {
                    f.lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .take()
                });
                match failed {
                    Some(message) => Err(StorageError::Remote {
                        location: url.to_string(),
                        message,
                    }),
                    None => Ok(out),
                }
            }
            .await;
            drop(permit);
            (index, result)
        });
        while let Some(joined) = tasks.try_join_next() {
            collect(joined, &mut results)?;
        }
    }
    while let Some(joined) = tasks.join_next().await {
        collect(joined, &mut results)?;
    }
    results.sort_by_key(|(index, _)| *index);
    let mut all = T::default();
    for (_, read) in results {
        all.merge_from(read);
    }
    Ok(all)
}

fn read_cloudtrail_body(
    name: &str,
    body: ObjectBody,
    limits: &InputLimits,
    out: &mut CloudTrailRead,
) {
    match body {
        ObjectBody::Whole(bytes) => {
            read_cloudtrail_object(name, bytes, out, &mut ReadBuffers::default())
        }
        ObjectBody::Stream { reader, size } => {
            read_cloudtrail_object_stream(name, reader, size, limits, out)
        }
        ObjectBody::TooLarge(mut reject) => {
            reject.kind = InputKind::Cloudtrail;
            out.stats.files += 1;
            out.stats.rejected += 1;
            out.rejects.push(reject);
        }
    }
}

fn read_broker_body(name: &str, body: ObjectBody, limits: &InputLimits, out: &mut BrokerRead) {
    match body {
        ObjectBody::Whole(bytes) => read_broker_log_object(name, bytes, out),
        ObjectBody::Stream { reader, size } => {
            read_broker_log_object_stream(name, reader, size, limits, out)
        }
        ObjectBody::TooLarge(mut reject) => {
            reject.kind = InputKind::BrokerLog;
            out.stats.files += 1;
            out.stats.rejected += 1;
            out.rejects.push(reject);
        }
    }
}

pub async fn read_cloudtrail_objects(
    s3: &S3,
    objects: Vec<S3Url>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CloudTrailRead, StorageError> {
    read_objects(s3, objects, read_cloudtrail_body, progress).await
}

pub async fn read_broker_log_objects(
    s3: &S3,
    objects: Vec<S3Url>,
) -> Result<BrokerRead, StorageError> {
    read_objects(s3, objects, read_broker_body, &|_, _| {}).await
}

/// The objects of one input location given on the command line: as
/// [`list_input_objects`], and an error naming the location when it holds none, as a
/// local path that does not exist is one (a typo, or a prefix of another bucket,
/// should not look like a quiet month). `flag` names the option (`--cloudtrail`).
pub async fn list_named_input(
    s3: &S3,
    flag: &str,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<Vec<S3Url>, StorageError> {
    Ok(list_named_inputs(s3, flag, url, scope).await?.objects)
}

/// [`list_named_input`], with the keys it leaves out.
pub async fn list_named_inputs(
    s3: &S3,
    flag: &str,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<InputListing, StorageError> {
    let listing = list_inputs(s3, url, scope).await?;
    if listing.objects.is_empty() {
        let narrowed = if scope.is_everything() {
            ""
        } else {
            " within --since, --until, --account and --region"
        };
        let skipped = match listing.skipped_files.first() {
            Some(first) => format!(
                "; {} other keys not read, the first {}",
                listing.skipped_files.len(),
                first.path
            ),
            None => String::new(),
        };
        return Err(StorageError::Remote {
            location: format!("{flag} {url}"),
            message: format!(
                "no input object under this prefix{narrowed} (.json, .jsonl, .log or .gz \
                 keys in any case, CloudTrail-Digest and CloudTrail-Insight left out{skipped})"
            ),
        });
    }
    Ok(listing)
}

/// Lists and reads every CloudTrail and broker log location (CloudTrail narrowed by
/// `scope`); `progress` gets (objects read, objects listed) for CloudTrail. A location
/// that lists no input object is an error naming it ([`list_named_input`]).
pub async fn read_s3_inputs(
    s3: &S3,
    cloudtrail: &[S3Url],
    broker_logs: &[S3Url],
    scope: &CloudTrailScope,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<sessiontrail_correlate::Inputs, StorageError> {
    let mut trail = InputListing::default();
    for url in cloudtrail {
        let listing = list_named_inputs(s3, "--cloudtrail", url, scope).await?;
        trail.objects.extend(listing.objects);
        trail.skipped_files.extend(listing.skipped_files);
        trail.digest_or_insight += listing.digest_or_insight;
    }
    let mut broker_listing = InputListing::default();
    for url in broker_logs {
        let listing =
            list_named_inputs(s3, "--broker-log", url, &CloudTrailScope::default()).await?;
        broker_listing.objects.extend(listing.objects);
        broker_listing.skipped_files.extend(listing.skipped_files);
    }
    // Everything is listed before anything is downloaded: a mistyped location fails
    // the command at once.
    let mut cloudtrail = read_cloudtrail_objects(s3, trail.objects, progress).await?;
    cloudtrail.skipped_files.extend(trail.skipped_files);
    cloudtrail.stats.digest_or_insight_files += trail.digest_or_insight;
    let mut broker = read_broker_log_objects(s3, broker_listing.objects).await?;
    broker.skipped_files.extend(broker_listing.skipped_files);
    Ok(sessiontrail_correlate::Inputs {
        cloudtrail,
        broker,
        evidence: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_where_a_prefix_sits_in_the_trail_layout() {
        assert!(matches!(level_of(""), Level::Above(0)));
        assert!(matches!(level_of("logs/AWSLogs/"), Level::AwsLogs));
        assert!(matches!(level_of("AWSLogs/o-abc123/"), Level::AwsLogs));
        assert!(matches!(level_of("AWSLogs/111122223333/"), Level::Account));
        assert!(matches!(
            level_of("AWSLogs/o-abc123/111122223333/CloudTrail/"),
            Level::Trail
        ));
        assert!(matches!(
            level_of("AWSLogs/111122223333/CloudTrail/eu-west-1/"),
            Level::Region
        ));
        assert!(matches!(
            level_of("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/"),
            Level::Dates
        ));
    }

    #[test]
    fn reads_the_delivery_date_of_a_key() {
        let key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/111122223333_CloudTrail_eu-west-1_20260201T0005Z_abc.json.gz";
        assert_eq!(delivery_date(key), NaiveDate::from_ymd_opt(2026, 2, 1));
        let scope = CloudTrailScope {
            since: NaiveDate::from_ymd_opt(2026, 2, 1),
            until: NaiveDate::from_ymd_opt(2026, 2, 1),
            ..Default::default()
        };
        assert!(scope.wants_key(key));
        // The next day's folder holds late deliveries of the last day.
        assert!(scope.wants_key(&key.replace("2026/02/01", "2026/02/02")));
        assert!(!scope.wants_key(&key.replace("2026/02/01", "2026/02/03")));
        assert!(!scope.wants_key(&key.replace("2026/02/01", "2026/01/31")));
    }

    #[test]
    fn reads_only_input_keys() {
        assert!(is_input_key("AWSLogs/1/CloudTrail/r/2026/02/01/x.json.gz"));
        assert!(is_input_key("broker/2026-02-01.jsonl"));
        assert!(!is_input_key(
            "AWSLogs/1/CloudTrail-Digest/r/2026/02/01/x.json.gz"
        ));
        assert!(!is_input_key("broker/"));
        assert!(!is_input_key("broker/readme.txt"));
        // The local walk's rule: extensions in any case.
        assert!(is_input_key("AWSLogs/1/CloudTrail/r/2026/02/01/X.JSON.GZ"));
        assert!(is_input_key("broker/2026-02-01.Log"));
        assert!(!is_input_key("broker/.gz"));
        assert_eq!(key_kind("broker/readme.txt"), KeyKind::Other);
        assert_eq!(key_kind("broker/sub/"), KeyKind::Folder);
        assert_eq!(
            key_kind("AWSLogs/1/CloudTrail-Insight/r/2026/02/01/x.json.gz"),
            KeyKind::DigestOrInsight
        );
        assert_eq!(
            skipped_key_reason("broker/readme.txt"),
            "not read: its extension .txt is not one read (folders are walked for .json, .jsonl, .log and .gz files; name a file itself to read it whatever its name)"
        );
    }
}
