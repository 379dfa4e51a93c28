//! A local copy of what `sessiontrail verify` checks in an s3:// CloudTrail location:
//! the digest files, each with a sidecar `<digest file name>.metadata.json` holding its
//! S3 metadata as `aws s3api head-object` prints it (the signature is the object's
//! `x-amz-meta-signature`), and the log files, laid out by key.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use sessiontrail_correlate::storage::StorageError;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::s3::{S3, sdk_error_text};
use crate::s3_url::S3Url;

/// Objects downloaded at once.
const IN_FLIGHT: usize = 16;

/// What was copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TrailCopy {
    pub digests: usize,
    pub log_files: usize,
}

/// Whether a key's name is a CloudTrail digest or log file (`.json.gz`).
fn kind(key: &str) -> Option<bool> {
    let name = key.rsplit('/').next()?;
    if !name.ends_with(".json.gz") {
        return None;
    }
    if name.contains("_CloudTrail-Digest_") {
        Some(true)
    } else if name.contains("_CloudTrail_") {
        Some(false)
    } else {
        None
    }
}

/// `key` as a path below the copy, when it is one (no `..`, no absolute path).
fn local_path(into: &Path, key: &str) -> Option<PathBuf> {
    let relative = Path::new(key);
    relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| into.join(relative))
}

/// Copies the digests (with their metadata) and log files under `url` into `into`, at
/// `into/<key>`. A listing with no digest file is not an error here: `verify` says so.
pub async fn copy_trail(s3: &S3, url: &S3Url, into: &Path) -> Result<TrailCopy, StorageError> {
    let keys = s3.list(url).await?;
    copy_keys(s3, &url.bucket, keys, into).await
}

/// Copies these objects of `bucket` into `into/<key>`, those that are digests with their
/// metadata, at most [`IN_FLIGHT`] at once. Keys that are not a digest or log file, or
/// not a path inside the copy, are left out; an object that is not there is not copied.
pub async fn copy_keys(
    s3: &S3,
    bucket: &str,
    keys: impl IntoIterator<Item = String>,
    into: &Path,
) -> Result<TrailCopy, StorageError> {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut copied = TrailCopy::default();
    for key in keys {
        let (Some(is_digest), Some(path)) = (kind(&key), local_path(into, &key)) else {
            continue;
        };
        if is_digest {
            copied.digests += 1;
        } else {
            copied.log_files += 1;
        }
        let s3 = s3.clone();
        let object = S3Url {
            bucket: bucket.to_string(),
            key,
        };
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("never closed");
            copy_object(&s3, &object, &path, is_digest).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a copy task does not panic")?;
    }
    Ok(copied)
}

/// Where [`copy_keys`] puts `key` under `into`, when it copies it.
pub fn copied_path(into: &Path, key: &str) -> Option<PathBuf> {
    kind(key)?;
    local_path(into, key)
}

async fn copy_object(
    s3: &S3,
    object: &S3Url,
    path: &Path,
    is_digest: bool,
) -> Result<(), StorageError> {
    let io = |source| StorageError::Io {
        location: path.display().to_string(),
        source,
    };
    let Some(stored) = s3.get(object).await? else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, &stored.bytes).map_err(io)?;
    if !is_digest {
        return Ok(());
    }
    let head = s3
        .client
        .head_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|err| StorageError::Remote {
            location: object.to_string(),
            message: sdk_error_text(&err),
        })?;
    let sidecar = serde_json::json!({
        "ContentLength": head.content_length(),
        "ETag": head.e_tag(),
        "Metadata": head.metadata(),
    });
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".metadata.json");
    let sidecar_path = path.with_file_name(name);
    std::fs::write(&sidecar_path, sidecar.to_string()).map_err(|source| StorageError::Io {
        location: sidecar_path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digest_and_log_file_keys_inside_the_copy_are_taken() {
        assert_eq!(
            kind(
                "AWSLogs/1/CloudTrail-Digest/r/2026/02/01/1_CloudTrail-Digest_r_t_r_20260201T010000Z.json.gz"
            ),
            Some(true)
        );
        assert_eq!(
            kind("AWSLogs/1/CloudTrail/r/2026/02/01/1_CloudTrail_r_20260201T0105Z_x.json.gz"),
            Some(false)
        );
        assert_eq!(
            kind("AWSLogs/1/CloudTrail-Insight/r/x_CloudTrail-Insight_r.json.gz"),
            None
        );
        assert_eq!(kind("notes.txt"), None);
        assert!(local_path(Path::new("/c"), "../x_CloudTrail_.json.gz").is_none());
        assert!(local_path(Path::new("/c"), "/x").is_none());
        assert_eq!(
            local_path(Path::new("/c"), "a/b"),
            Some(PathBuf::from("/c/a/b"))
        );
    }
}

/// How what is read from a copy is named: as the S3 objects it copies. `into/<key>`
/// (the copy's folder, as it is displayed) reads `s3://<bucket>/<key>` wherever it
/// appears, in a file name or in a sentence about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyNames {
    copy: String,
    objects: String,
}

impl CopyNames {
    pub fn new(into: &Path, bucket: &str) -> Self {
        CopyNames {
            copy: into.display().to_string(),
            objects: format!("s3://{bucket}"),
        }
    }

    /// `text` with the copy's folder named as the bucket.
    pub fn show(&self, text: &str) -> String {
        text.replace(&self.copy, &self.objects)
    }

    /// Every file a read of the copy names (the records' sources, the rejects, the files
    /// skipped), named as its object.
    pub fn rename_read(&self, read: &mut sessiontrail_ingest::CloudTrailRead) {
        for event in &mut read.events {
            if let Some(source) = &mut event.source {
                source.file = self.show(&source.file);
            }
        }
        for reject in &mut read.rejects {
            reject.location.file = self.show(&reject.location.file);
            reject.reason = self.show(&reject.reason);
        }
        for skipped in &mut read.skipped_files {
            skipped.path = self.show(&skipped.path);
        }
    }
}
