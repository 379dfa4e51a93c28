//! sessiontrail in AWS: a dataset in S3 behind the same [`Storage`] interface as a
//! local folder, input objects listed and streamed from S3, where inputs and the
//! dataset are for the command line and the Lambda ([`location`]), the library the
//! Lambda function calls ([`lambda_handler`]: its event dispatch), alerts (EMF lines and
//! an EventBridge bus), and backfill through CloudTrail LookupEvents.
//!
//! [`Storage`]: sessiontrail_correlate::storage::Storage

pub mod alerts;
pub mod backfill;
pub mod digest_arrival;
pub mod lambda_config;
pub mod lambda_handler;
pub mod location;
pub mod mirror;
pub mod posture_live;
pub mod public_keys;
pub mod s3;
pub mod s3_inputs;
pub mod s3_url;
pub mod trail_copy;

pub use lambda_config::{Accounts, LambdaConfig};
pub use lambda_handler::{AlertsOutcome, Handler, InvocationError, Trigger, classify};
pub use location::{DatasetStorage, InputLocations, Location, merge_inputs, split_locations};
pub use s3::{S3, S3Storage, load_aws_config, s3_client};
pub use s3_url::S3Url;
