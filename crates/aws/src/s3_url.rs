//! `s3://bucket/prefix` locations, as the command line and the Lambda's configuration
//! name them.

use std::fmt;

/// A bucket and a key prefix (no leading `/`; empty for the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{url:?} is not an S3 location: {reason} (expected s3://bucket/prefix)")]
pub struct S3UrlError {
    pub url: String,
    pub reason: &'static str,
}

impl S3Url {
    /// Whether `text` names an S3 location at all (`s3://...`).
    pub fn is_s3(text: &str) -> bool {
        text.starts_with("s3://")
    }

    pub fn parse(text: &str) -> Result<S3Url, S3UrlError> {
        let error = |reason| S3UrlError {
            url: text.to_string(),
            reason,
        };
        let rest = text
            .strip_prefix("s3://")
            .ok_or_else(|| error("it does not start with s3://"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        // Bucket naming rules: 3-63 of lowercase letters, digits, dots and hyphens.
        if bucket.len() < 3
            || bucket.len() > 63
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Err(error("the bucket name is not a valid S3 bucket name"));
        }
        if key.split('/').any(|segment| segment == "..") {
            return Err(error("the key contains a `..` segment"));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The key as a folder prefix: empty, or ending in `/`.
    pub fn folder(&self) -> String {
        if self.key.is_empty() || self.key.ends_with('/') {
            self.key.clone()
        } else {
            format!("{}/", self.key)
        }
    }

    /// The location of `key` (a full key in this bucket).
    pub fn with_key(&self, key: &str) -> S3Url {
        S3Url {
            bucket: self.bucket.clone(),
            key: key.to_string(),
        }
    }

    /// Whether the object `bucket`/`key` lies under this location.
    pub fn contains(&self, bucket: &str, key: &str) -> bool {
        bucket == self.bucket
            && (self.key.is_empty() || key.starts_with(&self.folder()) || key == self.key)
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_prefix() {
        let url = S3Url::parse("s3://trail-bucket/AWSLogs/o-abc/").unwrap();
        assert_eq!(url.bucket, "trail-bucket");
        assert_eq!(url.key, "AWSLogs/o-abc/");
        assert_eq!(url.folder(), "AWSLogs/o-abc/");
        let root = S3Url::parse("s3://trail-bucket").unwrap();
        assert_eq!(root.key, "");
        assert_eq!(root.folder(), "");
        assert_eq!(
            S3Url::parse("s3://out.bucket/sessiontrail")
                .unwrap()
                .folder(),
            "sessiontrail/"
        );
    }

    #[test]
    fn rejects_what_is_not_a_bucket() {
        for bad in [
            "s3://",
            "s3://ab/x",
            "s3://Upper/x",
            "s3://b_c/x",
            "file:///tmp",
            "s3://bucket/a/../b",
        ] {
            assert!(S3Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contains_only_keys_under_the_folder() {
        let url = S3Url::parse("s3://broker-logs/broker").unwrap();
        assert!(url.contains("broker-logs", "broker/2026/02/01/a.jsonl"));
        assert!(!url.contains("broker-logs", "brokers/a.jsonl"));
        assert!(!url.contains("other", "broker/a.jsonl"));
        assert!(
            S3Url::parse("s3://broker-logs")
                .unwrap()
                .contains("broker-logs", "x")
        );
    }
}
