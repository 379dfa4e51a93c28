//! Finding and reading input objects in S3: CloudTrail log files and broker logs.
//!
//! A location is one object (its exact key) or a folder prefix. For CloudTrail, a
//! [`CloudTrailScope`] narrows the listing to accounts, regions and delivery dates by
//! walking the trail's key layout (`AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`)
//! with delimiter listings, so a month of one region is listed without listing the
//! whole bucket; `CloudTrail-Digest/` and `CloudTrail-Insight/` are never entered.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use sessiontrail_correlate::storage::StorageError;
use sessiontrail_ingest::broker_log::read_broker_log_object;
use sessiontrail_ingest::cloudtrail::read_cloudtrail_object;
use sessiontrail_ingest::input_files::{ReadBuffers, is_digest_or_insight};
use sessiontrail_ingest::{BrokerRead, CloudTrailRead, Mergeable};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::s3::S3;
use crate::s3_url::S3Url;

/// Objects downloaded at once (each is parsed on a blocking thread as it arrives).
pub const DOWNLOADS_IN_FLIGHT: usize = 16;

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

/// Keys a folder walk reads: the local walk's extensions, without Digest and Insight.
fn is_input_key(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    !key.ends_with('/')
        && [".json", ".jsonl", ".log", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
        && !is_digest_or_insight(std::path::Path::new(key))
}

/// The objects under `url`: the object itself when the key names one, else every input
/// key under it as a folder, narrowed by `scope` for CloudTrail.
pub async fn list_input_objects(
    s3: &S3,
    url: &S3Url,
    scope: &CloudTrailScope,
) -> Result<Vec<S3Url>, StorageError> {
    if !url.key.is_empty() && !url.key.ends_with('/') && s3.get_exists(url).await? {
        return Ok(vec![url.clone()]);
    }
    let prefixes = if scope.is_everything() {
        vec![url.with_key(&url.folder())]
    } else {
        cloudtrail_prefixes(s3, url, scope).await?
    };
    let mut objects = Vec::new();
    for prefix in prefixes {
        for key in s3.list(&prefix).await? {
            if is_input_key(&key) && scope.wants_key(&key) {
                objects.push(url.with_key(&key));
            }
        }
    }
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    objects.dedup();
    Ok(objects)
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

fn is_account_id(name: &str) -> bool {
    name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit())
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

/// Downloads `objects` (at most [`DOWNLOADS_IN_FLIGHT`] at once) and reads each with
/// `read` on a blocking thread; results are merged in the objects' order, so the
/// outcome does not depend on download timing. `progress` gets (done, total).
async fn read_objects<T: Mergeable + 'static>(
    s3: &S3,
    objects: Vec<S3Url>,
    read: fn(&str, Vec<u8>, &mut T),
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<T, StorageError> {
    let total = objects.len();
    let semaphore = Arc::new(Semaphore::new(DOWNLOADS_IN_FLIGHT));
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
        let permit = Arc::clone(&semaphore)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let s3 = s3.clone();
        tasks.spawn(async move {
            let result = async {
                let stored = s3.get(&url).await?.ok_or_else(|| StorageError::Remote {
                    location: url.to_string(),
                    message: "the object was listed but is gone".into(),
                })?;
                let name = url.to_string();
                tokio::task::spawn_blocking(move || {
                    let mut out = T::default();
                    read(&name, stored.bytes, &mut out);
                    out
                })
                .await
                .map_err(|err| StorageError::Remote {
                    location: url.to_string(),
                    message: err.to_string(),
                })
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

pub async fn read_cloudtrail_objects(
    s3: &S3,
    objects: Vec<S3Url>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<CloudTrailRead, StorageError> {
    read_objects(
        s3,
        objects,
        |name, bytes, out: &mut CloudTrailRead| {
            read_cloudtrail_object(name, bytes, out, &mut ReadBuffers::default())
        },
        progress,
    )
    .await
}

pub async fn read_broker_log_objects(
    s3: &S3,
    objects: Vec<S3Url>,
) -> Result<BrokerRead, StorageError> {
    read_objects(s3, objects, read_broker_log_object, &|_, _| {}).await
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
    let objects = list_input_objects(s3, url, scope).await?;
    if objects.is_empty() {
        let narrowed = if scope.is_everything() {
            ""
        } else {
            " within --since, --until, --account and --region"
        };
        return Err(StorageError::Remote {
            location: format!("{flag} {url}"),
            message: format!(
                "no input object under this prefix{narrowed} (.json, .jsonl, .log or .gz \
                 keys, CloudTrail-Digest and CloudTrail-Insight left out)"
            ),
        });
    }
    Ok(objects)
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
    let mut objects = Vec::new();
    for url in cloudtrail {
        objects.extend(list_named_input(s3, "--cloudtrail", url, scope).await?);
    }
    let mut broker_objects = Vec::new();
    for url in broker_logs {
        broker_objects
            .extend(list_named_input(s3, "--broker-log", url, &CloudTrailScope::default()).await?);
    }
    // Everything is listed before anything is downloaded: a mistyped location fails
    // the command at once.
    let cloudtrail = read_cloudtrail_objects(s3, objects, progress).await?;
    let objects = broker_objects;
    let broker = read_broker_log_objects(s3, objects).await?;
    Ok(sessiontrail_correlate::Inputs { cloudtrail, broker })
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
    }
}
