//! The session broker (issue 14; docs/contracts.md "Broker API"): a Lambda behind a
//! function URL with `AuthType: AWS_IAM` that starts SSM sessions with the session
//! document and Linux user of the caller's IAM Identity Center permission set, taken
//! from the policy file the audit reads, and writes one broker log record per request
//! in the contract sessiontrail reads.
//!
//! - [`request`]: the function URL event and the body;
//! - [`caller`]: who is calling (`AWSReservedSSO_*` assumed roles only);
//! - [`mapping`]: permission set -> document and Linux user, from the policy;
//! - [`start`]: AssumeRole with `SourceIdentity`, then StartSession, behind
//!   [`SessionStarter`];
//! - [`response`]: the answers and their status codes;
//! - [`log`]: the broker log record;
//! - [`handler`]: one request, start to finish;
//! - [`config`]: the environment;
//! - [`guard_rails`]: the member-account template and permission-set policies generated
//!   from the policy file.

pub mod caller;
pub mod config;
pub mod guard_rails;
pub mod handler;
pub mod log;
pub mod mapping;
pub mod request;
pub mod response;
pub mod start;

pub use config::Config;
pub use handler::{Broker, handle};
pub use mapping::Mapping;
pub use response::Response;
pub use start::{AwsSessionStarter, FakeStarter, SessionStarter};
