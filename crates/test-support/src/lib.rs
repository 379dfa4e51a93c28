//! Helpers the workspace's tests share (a dev-dependency only, never in a shipped
//! binary): [`moto::Moto`], moto's server on loopback; [`skip`], a skip the test
//! command's own output shows; [`real_corpus`], the published CloudTrail samples
//! beside the checkout.
//!
//! A test whose prerequisite is missing passes without checking anything, and libtest
//! hides what a passing test prints. So a skip is written to the process's standard
//! error directly (libtest captures only the `print!` family of macros, not writes to
//! the handle), once per prerequisite per test binary, where `cargo test` shows it:
//!
//! ```text
//! SKIPPED (moto): 7 tests of s3_storage did not run: moto's server is not installed; install: pip install 'moto[server]==5.2.1'
//! ```
//!
//! Under CI (`CI=true`) `.ci/run` installs every prerequisite, so a missing one that
//! [`Prerequisite::required_in_ci`] is a failure there, never a skip.

pub mod moto;
pub mod standin;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Something a test needs that `cargo test` alone does not bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prerequisite {
    /// moto's server (S3, STS, EventBridge, SQS on loopback).
    Moto,
    /// cargo-lambda's Runtime API emulator.
    CargoLambda,
    /// Debian's headless Chromium (renders report.html).
    Chromium,
    /// botocore, ocsf-json-schema and jsonschema (the findings exports' published models).
    ExportValidators,
    /// cmarkgfm (GitHub's cmark-gfm, for report.md's autolinks).
    Cmarkgfm,
    /// The real CloudTrail samples in `../shared/corpus/real` beside the checkout.
    RealCorpus,
    /// Root and tmpfs (the full-disk test).
    RootTmpfs,
    /// Python's `cryptography` (the independent check of the generator's signed
    /// digests); moto's server brings it.
    Cryptography,
    /// The AWS CLI (`aws`: scripts that call it).
    AwsCli,
}

/// One command that installs every optional prerequisite (README "Tests").
pub const INSTALL_ALL: &str = "pip install 'moto[server]==5.2.1' cargo-lambda==1.9.2 botocore==1.43.11 awscli==1.45.11 ocsf-json-schema==1.2.0 jsonschema==4.26.0 cmarkgfm && sudo apt-get install -y chromium";

impl Prerequisite {
    pub fn name(self) -> &'static str {
        match self {
            Prerequisite::Moto => "moto",
            Prerequisite::CargoLambda => "cargo-lambda",
            Prerequisite::Chromium => "chromium",
            Prerequisite::ExportValidators => "export validators",
            Prerequisite::Cmarkgfm => "cmarkgfm",
            Prerequisite::RealCorpus => "real corpus",
            Prerequisite::RootTmpfs => "root and tmpfs",
            Prerequisite::Cryptography => "python cryptography",
            Prerequisite::AwsCli => "aws cli",
        }
    }

    /// How to get it.
    pub fn install(self) -> &'static str {
        match self {
            Prerequisite::Moto => "pip install 'moto[server]==5.2.1'",
            Prerequisite::CargoLambda => "pip install cargo-lambda==1.9.2",
            Prerequisite::Chromium => "sudo apt-get install -y chromium",
            Prerequisite::ExportValidators => {
                "pip install botocore==1.43.11 awscli==1.45.11 ocsf-json-schema==1.2.0 jsonschema==4.26.0"
            }
            Prerequisite::Cmarkgfm => "pip install cmarkgfm",
            Prerequisite::RealCorpus => {
                "put the published samples in ../shared/corpus/real beside the checkout"
            }
            Prerequisite::RootTmpfs => "run the tests as root on Linux",
            Prerequisite::Cryptography => "pip install cryptography (moto[server] brings it)",
            Prerequisite::AwsCli => "pip install awscli==1.45.11",
        }
    }

    /// Whether CI (`CI=true`) must have it: `.ci/run` installs it.
    pub fn required_in_ci(self) -> bool {
        matches!(
            self,
            Prerequisite::Moto
                | Prerequisite::CargoLambda
                | Prerequisite::ExportValidators
                | Prerequisite::Cryptography
                | Prerequisite::AwsCli
        )
    }
}

/// Whether this is CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

static SKIPS: Mutex<BTreeMap<Prerequisite, usize>> = Mutex::new(BTreeMap::new());

/// Says that `test` did not run because `prerequisite` is missing (`why`), on the
/// process's standard error where the test runner shows it: the first skip of a
/// prerequisite in a test binary prints a line; later ones print a shorter line naming
/// the test. Panics instead under CI when the prerequisite is required there.
pub fn skip(test: &str, prerequisite: Prerequisite, why: &str) {
    if in_ci() && prerequisite.required_in_ci() {
        panic!(
            "{test}: {why} (.ci/run installs {}: {})",
            prerequisite.name(),
            prerequisite.install()
        );
    }
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| s.rsplit_once('-').map_or(s.clone(), |(n, _)| n.to_string()))
        .unwrap_or_default();
    let mut skips = SKIPS.lock().unwrap_or_else(|e| e.into_inner());
    let count = skips.entry(prerequisite).or_insert(0);
    *count += 1;
    let line = if *count == 1 {
        format!(
            "SKIPPED ({}): {binary}::{test} did not run: {why}; install: {}\n",
            prerequisite.name(),
            prerequisite.install()
        )
    } else {
        format!("SKIPPED ({}): {binary}::{test}\n", prerequisite.name())
    };
    // Not eprintln!: libtest captures the print macros of a passing test.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// `../shared/corpus/real` beside the checkout, or None (the test then skips, saying
/// so): the real CloudTrail samples published by others, never copied into the repo.
pub fn real_corpus(test: &str) -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/corpus/real");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(
            test,
            Prerequisite::RealCorpus,
            &format!("{} is absent", dir.display()),
        );
        None
    }
}

/// Whether `python3` can import every module of `modules`.
pub fn python_has(modules: &[&str]) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    std::process::Command::new("python3")
        .args(["-c", &code])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `program` is on PATH and runs with `arg` (e.g. `--version`).
pub fn runs(program: &str, arg: &str) -> bool {
    std::process::Command::new(program)
        .arg(arg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_gives_the_one_install_command() {
        let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
        assert!(
            readme.contains(INSTALL_ALL),
            "README.md lacks `{INSTALL_ALL}`"
        );
    }

    #[test]
    fn the_one_command_installs_each_installable_prerequisite() {
        for p in [
            Prerequisite::Moto,
            Prerequisite::CargoLambda,
            Prerequisite::ExportValidators,
            Prerequisite::Cmarkgfm,
            Prerequisite::Chromium,
            Prerequisite::AwsCli,
        ] {
            for word in p
                .install()
                .split(' ')
                .filter(|w| w.contains("==") || *w == "chromium")
            {
                assert!(INSTALL_ALL.contains(word), "{word} of {p:?}");
            }
        }
    }
}
