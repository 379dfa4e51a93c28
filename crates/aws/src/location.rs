//! Where a run's inputs and its dataset are, local or in S3, decided in one place for
//! the command line and the Lambda.
//!
//! - [`Location`]: a local path or an `s3://` location, as given.
//! - [`InputLocations`]: the CloudTrail and broker log locations of a run, read as one
//!   [`Inputs`]: local files and folders first ([`InputLocations::read_local`]), then
//!   the `s3://` locations, listed then read ([`InputLocations::read_s3`]).
//! - [`DatasetStorage`]: the dataset behind the [`Storage`] interface, a local folder
//!   ([`LocalStorage`]) or an S3 prefix ([`S3Storage`]).
//!
//! The Lambda's dataset is always an S3 prefix ([`DatasetStorage::s3`]) and its inputs
//! are the objects its events name, read by [`read_s3_objects`].

use std::path::{Path, PathBuf};

use sessiontrail_correlate::storage::{LocalStorage, Storage, StorageError, Stored};
use sessiontrail_correlate::{Inputs, RunError, RunOptions, read_local_inputs_reporting};
use sessiontrail_ingest::InputKind;

use crate::s3::{S3, S3Storage};
use crate::s3_inputs::{
    CloudTrailScope, read_broker_log_objects, read_cloudtrail_objects, read_s3_inputs,
};
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

/// The CloudTrail and broker log locations of a run, each list in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputLocations {
    pub cloudtrail: Vec<Location>,
    pub broker_logs: Vec<Location>,
}

impl InputLocations {
    /// Locations as given on the command line (`--cloudtrail`, `--broker-log`).
    pub fn parse(cloudtrail: &[String], broker_logs: &[String]) -> Result<Self, S3UrlError> {
        let parse = |texts: &[String]| {
            texts
                .iter()
                .map(|t| Location::parse(t))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(InputLocations {
            cloudtrail: parse(cloudtrail)?,
            broker_logs: parse(broker_logs)?,
        })
    }

    /// Whether any CloudTrail location is in S3 (what a [`CloudTrailScope`] narrows).
    pub fn has_s3_cloudtrail(&self) -> bool {
        self.cloudtrail.iter().any(Location::is_s3)
    }

    /// Whether reading them needs the AWS configuration.
    pub fn has_s3(&self) -> bool {
        self.has_s3_cloudtrail() || self.broker_logs.iter().any(Location::is_s3)
    }

    /// The local files and folders, walked and read on `threads` threads (default: one
    /// per core); `progress` gets (files read, files found) for CloudTrail. A path that
    /// does not exist is an error naming it.
    pub fn read_local(
        &self,
        threads: Option<usize>,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Inputs, RunError> {
        let (cloudtrail, _) = split_locations(&self.cloudtrail);
        let (broker_logs, _) = split_locations(&self.broker_logs);
        let mut options = RunOptions::new(cloudtrail, broker_logs, PathBuf::new());
        if let Some(threads) = threads {
            options.threads = threads.max(1);
        }
        read_local_inputs_reporting(&options, progress)
    }

    /// The `s3://` locations, every one listed (CloudTrail narrowed by `scope`) before
    /// any object is read; `progress` gets (objects read, objects listed) for
    /// CloudTrail. A location that lists no input object is an error naming it.
    pub async fn read_s3(
        &self,
        s3: &S3,
        scope: &CloudTrailScope,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Inputs, StorageError> {
        let (_, cloudtrail) = split_locations(&self.cloudtrail);
        let (_, broker_logs) = split_locations(&self.broker_logs);
        read_s3_inputs(s3, &cloudtrail, &broker_logs, scope, progress).await
    }
}

/// Adds what `more` read to `inputs`.
pub fn merge_inputs(inputs: &mut Inputs, more: Inputs) {
    inputs.cloudtrail.merge(more.cloudtrail);
    inputs.broker.merge(more.broker);
}

/// Reads these objects, all of one kind, as [`InputLocations::read_s3`] reads what it
/// lists (the Lambda reads the object an event names this way).
pub async fn read_s3_objects(
    s3: &S3,
    kind: InputKind,
    objects: Vec<S3Url>,
) -> Result<Inputs, StorageError> {
    Ok(match kind {
        InputKind::Cloudtrail => Inputs {
            cloudtrail: read_cloudtrail_objects(s3, objects, &|_, _| {}).await?,
            ..Default::default()
        },
        InputKind::BrokerLog => Inputs {
            broker: read_broker_log_objects(s3, objects).await?,
            ..Default::default()
        },
    })
}

/// A dataset: a local folder or an S3 prefix, behind one [`Storage`].
#[derive(Debug, Clone)]
pub enum DatasetStorage {
    Local(LocalStorage),
    S3(S3Storage),
}

/// An `s3://` dataset without AWS clients to reach it.
#[derive(Debug, thiserror::Error)]
#[error("an s3:// dataset needs the AWS configuration")]
pub struct NeedsAws;

impl DatasetStorage {
    /// The dataset a run writes at `location`; `s3` is needed for an `s3://` one. A
    /// local folder's temporary files of a run that was killed (never visible to
    /// readers) are removed.
    pub fn for_run(location: &Location, s3: Option<&S3>) -> Result<DatasetStorage, NeedsAws> {
        match (location, s3) {
            (Location::S3(url), Some(s3)) => Ok(DatasetStorage::s3(s3, url)),
            (Location::Local(dir), _) => Ok(DatasetStorage::Local(LocalStorage::for_run(dir))),
            (Location::S3(_), None) => Err(NeedsAws),
        }
    }

    /// The dataset under an S3 prefix.
    pub fn s3(s3: &S3, root: &S3Url) -> DatasetStorage {
        DatasetStorage::S3(S3Storage::new(s3.clone(), root.clone()))
    }

    fn inner(&self) -> &dyn Storage {
        match self {
            DatasetStorage::Local(storage) => storage,
            DatasetStorage::S3(storage) => storage,
        }
    }
}

impl Storage for DatasetStorage {
    fn locate(&self, key: &str) -> String {
        self.inner().locate(key)
    }

    fn get(&self, key: &str) -> Result<Option<Stored>, StorageError> {
        self.inner().get(key)
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.inner().put(key, bytes)
    }

    fn put_if(
        &self,
        key: &str,
        bytes: &[u8],
        expected: Option<&str>,
    ) -> Result<bool, StorageError> {
        self.inner().put_if(key, bytes, expected)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.inner().delete(key)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner().list(prefix)
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner().list_folders(prefix)
    }

    fn local_root(&self) -> Option<&Path> {
        self.inner().local_root()
    }
}
