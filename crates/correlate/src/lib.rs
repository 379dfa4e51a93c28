//! Correlation: statuses, rules and the attributed dataset.
//!
//! `sessiontrail-correlate` knows the rules and the dataset, not file formats: it
//! takes the session events and broker records that `sessiontrail-ingest` read, the
//! [`Policy`], and the state carried from earlier runs, and writes the Hive-partitioned
//! Parquet dataset of DESIGN.md (`sessions/`, `findings/`, `rejects/`, `state/`).
//!
//! The Parquet dataset and the run that writes it (`dataset`, `schema`, `run`) are the
//! default feature `dataset`, the only part that needs datafusion. Without it
//! (`default-features = false`) the crate is its pure core: [`policy`], [`rule`],
//! [`status`], [`finding`], [`session`], [`correlation`], [`duration`], the state,
//! archive and storage, and [`summary`]; the policy fuzz target builds on that alone.
//!
//! ```no_run
//! # #[cfg(feature = "dataset")] {
//! use std::path::Path;
//! use sessiontrail_correlate::{Policy, RunOptions, run};
//!
//! let policy = Policy::load(Path::new("fixtures/sessiontrail.toml")).unwrap();
//! let options = RunOptions::new(vec!["fixtures/cloudtrail".into()], vec!["fixtures/broker".into()], "out".into());
//! let summary = run(&policy, &options).unwrap();
//! println!("{summary}");
//! # }
//! ```

pub mod archive;
pub mod correlation;
#[cfg(feature = "dataset")]
pub mod dataset;
pub mod duration;
pub mod evidence;
pub mod finding;
pub mod policy;
#[cfg(feature = "dataset")]
mod rewrite;
pub mod rule;
#[cfg(feature = "dataset")]
pub mod run;
#[cfg(feature = "dataset")]
pub mod schema;
pub mod session;
pub mod state;
pub mod status;
pub mod storage;
pub mod summary;

pub use correlation::{Correlation, correlate};
pub use evidence::{EvidenceInput, LogFileRecord, LogFileStatus};
pub use finding::Finding;
pub use policy::Policy;
pub use rule::{Rule, RuleInfo, Severity, Subject};
#[cfg(feature = "dataset")]
pub use run::{
    Inputs, RunError, RunOptions, RunSettings, read_local_inputs, read_local_inputs_reporting, run,
    run_on,
};
pub use session::Session;
pub use status::SessionStatus;
pub use summary::RunSummary;
