//! sessiontrail in AWS: a dataset in S3 behind the same [`Storage`] interface as a
//! local folder, input objects listed and streamed from S3, the Lambda's event
//! dispatch, alerts (EMF lines and an EventBridge bus), and backfill through CloudTrail
//! LookupEvents.
//!
//! [`Storage`]: sessiontrail_correlate::storage::Storage

pub mod alerts;
pub mod backfill;
pub mod invocation;
pub mod lambda_config;
pub mod location;
pub mod mirror;
pub mod s3;
pub mod s3_inputs;
pub mod s3_url;

pub use invocation::{AlertsOutcome, Handler, InvocationError, Trigger, classify};
pub use lambda_config::{Accounts, LambdaConfig};
pub use location::{Location, split_locations};
pub use s3::{S3, S3Storage, load_aws_config, s3_client};
pub use s3_url::S3Url;
