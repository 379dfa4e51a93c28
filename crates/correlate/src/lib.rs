//! Correlation: statuses, rules and the attributed dataset.
//!
//! `sessiontrail-correlate` knows the rules and the dataset, not file formats: it
//! takes the session events and broker records that `sessiontrail-ingest` read, the
//! [`Policy`], and the state carried from earlier runs, and writes the Hive-partitioned
//! Parquet dataset of DESIGN.md (`sessions/`, `findings/`, `rejects/`, `state/`).
//!
//! ```no_run
//! use std::path::Path;
//! use sessiontrail_correlate::{Policy, RunOptions, run};
//!
//! let policy = Policy::load(Path::new("fixtures/sessiontrail.toml")).unwrap();
//! let options = RunOptions::new(vec!["fixtures/cloudtrail".into()], vec!["fixtures/broker".into()], "out".into());
//! let summary = run(&policy, &options).unwrap();
//! println!("{summary}");
//! ```

pub mod archive;
pub mod correlation;
pub mod dataset;
pub mod duration;
pub mod finding;
pub mod policy;
pub mod rule;
pub mod run;
pub mod schema;
pub mod session;
pub mod state;
pub mod status;
pub mod storage;

pub use correlation::{Correlation, correlate};
pub use finding::Finding;
pub use policy::Policy;
pub use rule::{Rule, RuleInfo, Severity};
pub use run::{
    Inputs, RunError, RunOptions, RunSettings, RunSummary, read_local_inputs,
    read_local_inputs_reporting, run, run_on,
};
pub use session::Session;
pub use status::SessionStatus;
