//! A place the command line reads or writes: a local path or an `s3://` location.

use std::path::PathBuf;

use crate::s3_url::{S3Url, S3UrlError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3(S3Url),
}

impl Location {
    pub fn parse(text: &str) -> Result<Location, S3UrlError> {
        if S3Url::is_s3(text) {
            S3Url::parse(text).map(Location::S3)
        } else {
            Ok(Location::Local(PathBuf::from(text)))
        }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Location::S3(_))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::S3(url) => write!(f, "{url}"),
        }
    }
}

/// Local paths and S3 locations of a list, each in the order given.
pub fn split_locations(locations: &[Location]) -> (Vec<PathBuf>, Vec<S3Url>) {
    let mut local = Vec::new();
    let mut s3 = Vec::new();
    for location in locations {
        match location {
            Location::Local(path) => local.push(path.clone()),
            Location::S3(url) => s3.push(url.clone()),
        }
    }
    (local, s3)
}
