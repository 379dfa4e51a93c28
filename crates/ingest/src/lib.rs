//! Reading AWS inputs into session events and broker records.
//!
//! `sessiontrail-ingest` knows AWS formats and nothing of rules: it finds input files,
//! detects their form per file, and turns CloudTrail into [`SessionEvent`]s (SSM
//! StartSession / ResumeSession / TerminateSession only) and the session broker's log
//! into [`BrokerRecord`]s. Every record that can't be read becomes a [`Reject`] with its
//! file, line, byte offset and reason; every file of a walked folder that is not read is
//! a [`SkippedFile`] with the reason; a token in a broker log line that gave no record
//! is a [`TokenLeak`]; reading never stops a run. Files may be UTF-8 (with or without
//! a byte-order mark) or UTF-16 ([`text_encoding`]). Every decoder works within byte
//! limits ([`limits`]), so memory stays bounded whatever the input.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use sessiontrail_ingest::{read_cloudtrail_paths, read_broker_log_paths};
//!
//! let cloudtrail = read_cloudtrail_paths(&[PathBuf::from("fixtures/cloudtrail")], 2).unwrap();
//! let broker = read_broker_log_paths(&[PathBuf::from("fixtures/broker")], 2).unwrap();
//! println!("{} session events, {} broker records, {} rejects",
//!     cloudtrail.events.len(), broker.records.len(),
//!     cloudtrail.rejects.len() + broker.rejects.len());
//! ```

pub mod arn;
pub mod broker_log;
pub mod canonical_json;
pub mod cloudtrail;
pub mod input_files;
pub mod invariants;
pub mod json_split;
pub mod limits;
pub mod reject;
pub mod session_event;
pub mod text_encoding;
pub mod time;
pub mod token_leak;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use broker_log::{BrokerOutcome, BrokerRead, BrokerRecord, read_broker_log_file};
pub use cloudtrail::{CloudTrailRead, ContentTap, read_cloudtrail_file};
pub use input_files::{InputFiles, SkippedFile, list_input_files};
pub use limits::InputLimits;
pub use reject::{InputKind, Location, Reject};
pub use session_event::{RecordSource, SessionEvent, SessionEventName};
pub use token_leak::TokenLeak;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("input {path}: {source}")]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Called after each file with (files done, files in all).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Reads every CloudTrail file under `paths` on `threads` threads. The result does not
/// depend on the thread count: per-file results are merged in file order.
pub fn read_cloudtrail_paths(
    paths: &[PathBuf],
    threads: usize,
) -> Result<CloudTrailRead, IngestError> {
    read_cloudtrail_paths_with_progress(paths, threads, &|_, _| {})
}

/// [`read_cloudtrail_paths`], reporting progress after each file.
pub fn read_cloudtrail_paths_with_progress(
    paths: &[PathBuf],
    threads: usize,
    progress: Progress<'_>,
) -> Result<CloudTrailRead, IngestError> {
    let inputs = list_input_files(paths)?;
    let mut read = read_files_parallel(
        &inputs.files,
        threads,
        |path, out: &mut CloudTrailRead, buffers| {
            cloudtrail::read_cloudtrail_file_with(path, out, buffers)
        },
        progress,
    );
    add_unlisted(&mut read, &inputs);
    Ok(read)
}

/// What [`read_cloudtrail_listed_tapped`] gives: the read, and each file's tap (only of
/// the files whose content was read to its end), in file order.
pub struct TappedRead<T> {
    pub read: CloudTrailRead,
    pub taps: Vec<(PathBuf, T)>,
}

impl<T> Default for TappedRead<T> {
    fn default() -> Self {
        TappedRead {
            read: CloudTrailRead::default(),
            taps: Vec::new(),
        }
    }
}

impl<T: Send> Mergeable for TappedRead<T> {
    fn merge_from(&mut self, other: Self) {
        self.read.merge(other.read);
        self.taps.extend(other.taps);
    }
}

/// [`read_cloudtrail_paths_with_progress`] over files listed already
/// ([`list_input_files`]: the caller needs the listing too), feeding a tap made by
/// `new_tap` with each file's uncompressed content as it is read
/// ([`cloudtrail::ContentTap`]): one pass.
pub fn read_cloudtrail_listed_tapped<T: cloudtrail::ContentTap + Send>(
    inputs: &InputFiles,
    threads: usize,
    progress: Progress<'_>,
    new_tap: &(dyn Fn() -> T + Sync),
) -> TappedRead<T> {
    let mut tapped = read_files_parallel(
        &inputs.files,
        threads,
        |path, out: &mut TappedRead<T>, buffers| {
            let mut tap = new_tap();
            if cloudtrail::read_cloudtrail_file_tapped(path, &mut out.read, buffers, &mut tap)
                .is_ok()
            {
                out.taps.push((path.to_path_buf(), tap));
            }
        },
        progress,
    );
    add_unlisted(&mut tapped.read, inputs);
    tapped
}

/// The files a folder walk did not read: rejects for the unreadable, counts and
/// reasons for the skipped.
fn add_unlisted(read: &mut CloudTrailRead, inputs: &InputFiles) {
    for (path, reason) in &inputs.unreadable {
        read.stats.rejected += 1;
        read.rejects.push(Reject::new(
            InputKind::Cloudtrail,
            Location::file(path.display().to_string()),
            format!("not read: {reason}"),
        ));
    }
    read.stats.digest_or_insight_files += inputs.skipped.len() as u64;
    read.skipped_files
        .extend(inputs.skipped_files.iter().cloned());
}

/// Reads every broker log file under `paths` on `threads` threads.
pub fn read_broker_log_paths(paths: &[PathBuf], threads: usize) -> Result<BrokerRead, IngestError> {
    let inputs = list_input_files(paths)?;
    let mut read = read_files_parallel(
        &inputs.files,
        threads,
        |path, out: &mut BrokerRead, _| read_broker_log_file(path, out),
        &|_, _| {},
    );
    for (path, reason) in &inputs.unreadable {
        read.stats.rejected += 1;
        read.rejects.push(Reject::new(
            InputKind::BrokerLog,
            Location::file(path.display().to_string()),
            format!("not read: {reason}"),
        ));
    }
    read.skipped_files
        .extend(inputs.skipped_files.iter().cloned());
    Ok(read)
}

/// Something per-file results can be merged into.
pub trait Mergeable: Default + Send {
    fn merge_from(&mut self, other: Self);
}

impl Mergeable for CloudTrailRead {
    fn merge_from(&mut self, other: Self) {
        self.merge(other);
    }
}

impl Mergeable for BrokerRead {
    fn merge_from(&mut self, other: Self) {
        self.merge(other);
    }
}

/// Reads files on a small pool of threads pulling from a shared index; results are
/// merged in file order so output is deterministic.
fn read_files_parallel<T: Mergeable>(
    files: &[PathBuf],
    threads: usize,
    read_one: impl Fn(&Path, &mut T, &mut input_files::ReadBuffers) + Sync,
    progress: Progress<'_>,
) -> T {
    let done = AtomicUsize::new(0);
    let threads = threads.clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(files.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut buffers = input_files::ReadBuffers::default();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(index) else { break };
                    let mut out = T::default();
                    read_one(path, &mut out, &mut buffers);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, files.len());
                    results
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push((index, out));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(index, _)| *index);
    let mut all = T::default();
    for (_, out) in results {
        all.merge_from(out);
    }
    all
}
