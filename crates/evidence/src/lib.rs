//! Evidence that the CloudTrail log files sessiontrail reads are the ones CloudTrail
//! wrote: CloudTrail digest files verified as AWS defines them (CloudTrail user guide,
//! "CloudTrail digest file structure" and "Custom implementations of CloudTrail log
//! file integrity validation").
//!
//! - [`digest_key`]: digest and log file keys (organisation trails, backfill digests);
//! - [`digest`]: the digest JSON, read strictly;
//! - [`public_keys`]: CloudTrail's public keys (`list-public-keys` output, or live);
//! - [`signature`]: the string CloudTrail signs, the sidecar holding a local digest's
//!   S3 metadata, and the RSA check (aws-lc);
//! - [`log_hash`]: SHA-256 over uncompressed content, fed in the pass that reads it;
//! - [`chain`]: each digest's link to the previous one, gaps, restarts;
//! - [`verify`]: all of it over a local folder, as [`Problem`]s with a rule id
//!   ([`Rule`], of [`evidence_rules`]) and a [`LogFileStatus`] per log file;
//! - [`record`]: a verification as the rows `correlate --verify` records.
//!
//! ```no_run
//! use sessiontrail_evidence::{PublicKeys, VerifyOptions, verify_folder};
//!
//! let content = std::fs::read("keys-eu-west-1.json")?;
//! let mut keys = PublicKeys::from_list_public_keys_json(&content, "keys-eu-west-1.json")?;
//! let verification = verify_folder("trail-copy/AWSLogs".as_ref(), &VerifyOptions::default(), &mut keys)?;
//! for problem in &verification.problems {
//!     println!("{}\t{}\t{}", problem.rule.as_str(), problem.file, problem.detail);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod chain;
pub mod digest;
pub mod digest_key;
mod hex;
mod in_order;
pub mod log_hash;
pub mod one_pass;
pub mod public_keys;
pub mod record;
pub mod rule;
pub mod signature;
pub mod verify;

pub use digest::{Digest, DigestError, parse_digest};
pub use log_hash::{HashingReader, LogHasher, Sha256Hash};
pub use one_pass::{OnePassError, ReadAndVerified, read_and_verify};
pub use public_keys::{KeyFileError, PublicKey, PublicKeyEntry, PublicKeySource, PublicKeys};
pub use record::evidence_input;
pub use rule::{LogFileStatus, evidence_rules};
pub use sessiontrail_correlate::{Rule, Severity};
pub use verify::{
    CheckedDigests, DigestEvidence, LogFileEvidence, Problem, Verification, VerifyError,
    VerifyOptions, check_digests, check_digests_listed, read_digest_file, verify_folder,
};
