//! `verify` over a local folder: find the digests, their sidecars and the log files;
//! check each digest's signature, the chains, and every listed log file's hash.
//!
//! The folder may be the bucket's copy (holding `AWSLogs/`), the `AWSLogs` folder, or
//! any folder below it, as `correlate --cloudtrail` takes them: it is walked whole. A
//! file's S3 key is its path from the last `AWSLogs` folder on; a copy laid out without
//! one (`ACCOUNT/CloudTrail/...`) gets it from the `CloudTrail`/`CloudTrail-Digest`
//! folder and the account above it; files in no such layout are matched by name.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use sessiontrail_ingest::input_files::{
    InputContent, InputFiles, ReadBuffers, content_from_bytes, list_input_files,
};

use crate::chain::{ChainDigest, PreviousLink, Resolved, chain_breaks};
use crate::digest::{Digest, parse_digest};
use crate::digest_key::{
    DigestKey, awslogs_tail, is_organization_id, parse_digest_file_name, parse_digest_key,
    parse_log_file_name,
};
use crate::hex;
use crate::in_order::{default_threads, map_in_order};
use crate::log_hash::{LogHasher, Sha256Hash, hash_file};
use crate::public_keys::{KeyChoice, KeyFileError, PublicKeySource, PublicKeys, VALIDITY_SLACK};
use crate::rule::LogFileStatus;
use crate::signature::{
    DigestMetadata, SIDECAR_SUFFIX, parse_sidecar, sidecar_path, signature_is_valid, string_to_sign,
};
use sessiontrail_correlate::Rule;

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Only digests that end at or after this, and log files named at or after it.
    pub from: Option<DateTime<Utc>>,
    /// Only digests that start at most an hour after this (late deliveries), and log
    /// files named at or before it.
    pub to: Option<DateTime<Utc>>,
    /// Threads hashing log files (default: the number of cores).
    pub threads: Option<usize>,
    /// SHA-256 of log files computed already, in the pass that read them for
    /// correlation ([`LogHasher`], [`crate::HashingReader`]), by path as the folder walk
    /// names them (the folder joined with the path below it): these are not read again.
    pub known_hashes: HashMap<PathBuf, Sha256Hash>,
    /// The bucket the folder is a copy of, when known: digests must name it as their
    /// `digestS3Bucket` (a local copy's bucket is not known, and not checked).
    pub bucket: Option<String>,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    pub rule: Rule,
    /// The file it is about: a local path, or `s3://bucket/key` of a file not found.
    pub file: String,
    /// Its S3 key (from `AWSLogs/` on), or its file name when its place gives none:
    /// what its finding is keyed by (`file:<key>`).
    pub key: String,
    /// What is wrong, in one sentence.
    pub detail: String,
}

/// What is known of one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileEvidence {
    /// Its local path, or `s3://bucket/key` when it is missing.
    pub file: String,
    /// Its S3 key (from `AWSLogs/` on), or its file name when its place gives none.
    pub key: String,
    pub status: LogFileStatus,
    /// The digest whose listing decided the status (its local path).
    pub digest: Option<String>,
    pub expected_sha256: Option<Sha256Hash>,
    pub actual_sha256: Option<Sha256Hash>,
}

/// What is known of one digest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestEvidence {
    pub file: String,
    /// Its S3 key (from `AWSLogs/` on), or its file name when its place gives none.
    pub key: String,
    pub backfill: bool,
    /// Its signature verified with CloudTrail's key.
    pub signature_verified: bool,
    /// Its link to the previous digest holds (no chain problem on it).
    pub chain_verified: bool,
    /// Its link to the previous digest was judged: false when the previous digest it
    /// names is not at hand and nothing showed it was due (the first digest of a copy
    /// that starts later), so `chain_verified` says nothing about it.
    pub chain_judged: bool,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Sorted by rule (in [`Rule::ALL`] order), then file.
    pub problems: Vec<Problem>,
    /// Digests in the window, sorted by file.
    pub digests: Vec<DigestEvidence>,
    /// Log files in the window, and those the window's digests list; sorted by file.
    pub log_files: Vec<LogFileEvidence>,
    /// Files under the folder that are neither digests, their sidecars nor log files.
    pub other_files: usize,
}

impl Verification {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn count(&self, status: LogFileStatus) -> usize {
        self.log_files.iter().filter(|f| f.status == status).count()
    }

    pub fn problem_count(&self, rule: Rule) -> usize {
        self.problems.iter().filter(|p| p.rule == rule).count()
    }
}

/// Why verification could not run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{}: {source}", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot be read ({reason}), so what is in it cannot be verified", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: is not a folder", path.display())]
    NotAFolder { path: PathBuf },
    #[error(
        "{}: no CloudTrail digest files (ACCOUNT_CloudTrail-Digest_...json.gz under AWSLogs/.../CloudTrail-Digest/) were found: is log file validation enabled on the trail, and were the digests copied with the logs?",
        path.display()
    )]
    NoDigests { path: PathBuf },
    #[error(transparent)]
    Keys(#[from] KeyFileError),
}

/// A file found under the folder, with the S3 key its place implies (when it has one).
struct LocalFile {
    path: PathBuf,
    display: String,
    key: Option<String>,
    name: String,
}

impl LocalFile {
    /// What its evidence is keyed by.
    fn evidence_key(&self) -> String {
        self.key.clone().unwrap_or_else(|| self.name.clone())
    }

    /// A problem with it.
    fn problem(&self, rule: Rule, detail: String) -> Problem {
        Problem {
            rule,
            file: self.display.clone(),
            key: self.evidence_key(),
            detail,
        }
    }
}

/// Finds files by the S3 key a digest names: by key where the local layout gives one,
/// else by file name.
#[derive(Default)]
struct FileIndex {
    by_key: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl FileIndex {
    fn insert(&mut self, file: &LocalFile, index: usize) {
        match &file.key {
            Some(key) => self.by_key.entry(key.clone()).or_insert(index),
            None => self.by_name.entry(file.name.clone()).or_insert(index),
        };
    }

    /// The index of an earlier file at the same place.
    fn get(&self, file: &LocalFile) -> Option<&usize> {
        match &file.key {
            Some(key) => self.by_key.get(key),
            None => self.by_name.get(&file.name),
        }
    }

    fn find(&self, s3_key: &str) -> Option<usize> {
        let tail = awslogs_tail(s3_key).unwrap_or(s3_key);
        self.by_key
            .get(tail)
            .or_else(|| self.by_name.get(file_name(s3_key)))
            .copied()
    }
}

fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The S3 key a local file's place implies: its path from the last `AWSLogs` folder on,
/// or rebuilt from `[o-id/]ACCOUNT/CloudTrail[-Digest]/...` when there is no `AWSLogs`.
fn implied_key(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    let parts: Vec<&str> = text
        .split(std::path::MAIN_SEPARATOR)
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if let Some(at) = parts.iter().rposition(|p| *p == "AWSLogs") {
        return Some(parts[at..].join("/"));
    }
    let at = parts
        .iter()
        .rposition(|p| *p == "CloudTrail" || *p == "CloudTrail-Digest")?;
    let account = at.checked_sub(1)?;
    if !(parts[account].len() == 12 && parts[account].bytes().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let start = match account.checked_sub(1) {
        Some(org) if is_organization_id(parts[org]) => org,
        _ => account,
    };
    Some(format!("AWSLogs/{}", parts[start..].join("/")))
}

struct LoadedDigest {
    file: usize,
    key: DigestKey,
    digest: Digest,
    content_hash: Sha256Hash,
    /// The sidecar's metadata; `Err` when the sidecar is there but unusable.
    metadata: Option<Result<DigestMetadata, String>>,
}

/// Verifies the digests and log files under `dir`, with keys from `keys`. The log
/// files in the window are hashed while the digests are checked (the hashes are what
/// takes the time); a file a digest lists that was not among them is hashed after.
pub fn verify_folder(
    dir: &Path,
    options: &VerifyOptions,
    keys: &mut dyn PublicKeySource,
) -> Result<Verification, VerifyError> {
    let walked = walk(dir)?;
    let threads = options.threads.unwrap_or_else(default_threads);
    // Log files named in the window, with room for late deliveries.
    let named_from = options
        .from
        .map(|from| from.checked_sub_signed(TimeDelta::hours(1)).unwrap_or(from));
    let named_to = options
        .to
        .map(|to| to.checked_add_signed(TimeDelta::hours(2)).unwrap_or(to));
    let to_hash: Vec<&PathBuf> = walked
        .files
        .iter()
        .filter(|path| !options.known_hashes.contains_key(*path))
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            parse_log_file_name(&name).is_ok_and(|log| {
                named_from.is_none_or(|from| log.time >= from)
                    && named_to.is_none_or(|to| log.time <= to)
            })
        })
        .collect();
    let (checked, hashes) = std::thread::scope(|scope| {
        let checking = scope.spawn(|| check_digests_listed(dir, &walked, options, keys));
        let hashes = map_in_order(&to_hash, threads, ReadBuffers::default, |buffers, path| {
            hash_file(path, buffers).ok().map(|(hash, _)| hash)
        });
        let checked = checking
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (checked, hashes)
    });
    let mut known_hashes = options.known_hashes.clone();
    // A file that could not be hashed is tried again, and its error reported, after.
    known_hashes.extend(
        to_hash
            .iter()
            .zip(hashes)
            .filter_map(|(path, hash)| Some(((*path).clone(), hash?))),
    );
    let options = VerifyOptions {
        known_hashes,
        ..options.clone()
    };
    Ok(checked?.verify_log_files(&options))
}

/// The walk `correlate --cloudtrail` makes of `dir`: the files it reads and the digest
/// (and Insight) files it skips.
fn walk(dir: &Path) -> Result<InputFiles, VerifyError> {
    let meta = std::fs::metadata(dir).map_err(|source| VerifyError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(VerifyError::NotAFolder {
            path: dir.to_path_buf(),
        });
    }
    list_input_files(&[dir.to_path_buf()]).map_err(|e| VerifyError::Folder {
        path: dir.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// A folder's digests checked (loaded, placed, signatures, chains): what its
/// verification knows before any log file is hashed, so that it can be worked out while
/// the log files are read.
pub struct CheckedDigests {
    files: Vec<LocalFile>,
    other_files: usize,
    problems: Vec<Problem>,
    /// The log files here that the window's digests list (by index), and those listings.
    listings: BTreeMap<usize, Vec<Listing>>,
    /// The log files' evidence known without their hashes: the missing, the not covered.
    evidence: Vec<LogFileEvidence>,
    /// The window's digests.
    digests: Vec<DigestEvidence>,
}

/// A digest's listing of a log file.
struct Listing {
    /// The digest (its index in the files).
    digest_file: usize,
    /// Its signature verified.
    signed: bool,
    expected: Sha256Hash,
}

/// The first half of [`verify_folder`]: the folder's digests found, loaded and checked,
/// on `options.threads` threads. [`CheckedDigests::verify_log_files`] is the second.
pub fn check_digests(
    dir: &Path,
    options: &VerifyOptions,
    keys: &mut dyn PublicKeySource,
) -> Result<CheckedDigests, VerifyError> {
    check_digests_listed(dir, &walk(dir)?, options, keys)
}

/// [`check_digests`] with the folder's files listed already (`walked`: the
/// [`list_input_files`] of `dir` alone), as the read for correlation listed them.
pub fn check_digests_listed(
    dir: &Path,
    walked: &InputFiles,
    options: &VerifyOptions,
    keys: &mut dyn PublicKeySource,
) -> Result<CheckedDigests, VerifyError> {
    let root = dir.canonicalize().map_err(|source| VerifyError::Folder {
        path: dir.to_path_buf(),
        source,
    })?;
    let threads = options.threads.unwrap_or_else(default_threads);

    // Sort what is there into digests, sidecars, log files and the rest.
    let mut files = Vec::new();
    let mut digest_files = Vec::new();
    let mut log_files = Vec::new();
    let mut sidecars: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut other_files = 0;
    // A folder the walk could not read is an error here.
    if let Some((path, reason)) = walked.unreadable.first() {
        return Err(VerifyError::Unreadable {
            path: path.clone(),
            reason: reason.clone(),
        });
    }
    let mut paths: Vec<&PathBuf> = walked.files.iter().chain(&walked.skipped).collect();
    paths.sort();
    for path in paths {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(digest_name) = name.strip_suffix(SIDECAR_SUFFIX)
            && parse_digest_file_name(digest_name).is_ok()
        {
            sidecars.insert(path.with_file_name(digest_name), path.clone());
            continue;
        }
        let is_digest = parse_digest_file_name(&name).is_ok();
        let is_log = !is_digest && parse_log_file_name(&name).is_ok();
        if !is_digest && !is_log {
            other_files += 1;
            continue;
        }
        let relative = path.strip_prefix(dir).unwrap_or(path);
        let key = implied_key(&root.join(relative));
        let index = files.len();
        files.push(LocalFile {
            display: path.display().to_string(),
            path: path.clone(),
            key,
            name,
        });
        if is_digest {
            digest_files.push(index);
        } else {
            log_files.push(index);
        }
    }
    if digest_files.is_empty() {
        return Err(VerifyError::NoDigests {
            path: dir.to_path_buf(),
        });
    }

    // Read every digest (and its sidecar) on the threads; then, in the folder's order,
    // one that is not a valid digest (or not where it says it is) is a problem, and
    // takes no further part.
    let read = map_in_order(
        &digest_files,
        threads,
        ReadBuffers::default,
        |buffers, &f| {
            let file = &files[f];
            let digest = load_digest(file, buffers);
            let metadata = match &digest {
                Ok(_) => sidecars.get(&file.path).map(|sidecar| {
                    std::fs::read(sidecar)
                        .map_err(|e| format!("{}: {e}", sidecar.display()))
                        .and_then(|bytes| parse_sidecar(&bytes, &sidecar.display().to_string()))
                }),
                Err(_) => None,
            };
            (digest, metadata)
        },
    );
    let mut problems = Vec::new();
    let mut digest_index = FileIndex::default();
    let mut not_valid = FileIndex::default();
    let mut loaded: Vec<LoadedDigest> = Vec::new();
    for (&f, (digest, metadata)) in digest_files.iter().zip(read) {
        let file = &files[f];
        let (key, digest, content_hash) = match digest {
            Ok(digest) => digest,
            Err(reason) => {
                problems.push(file.problem(
                    Rule::DigestSignatureInvalid,
                    format!("not a valid digest: {reason}"),
                ));
                not_valid.insert(file, f);
                continue;
            }
        };
        if let Some(reason) = misplaced(file, &key, &digest, options.bucket.as_deref()) {
            problems.push(file.problem(Rule::DigestSignatureInvalid, reason));
            not_valid.insert(file, f);
            continue;
        }
        if let Some(&first) = digest_index.get(file) {
            // A second copy of the same object (two copies of the bucket under the
            // folder): the first is checked; a different one is a problem.
            let first: &LoadedDigest = &loaded[first];
            if first.content_hash != content_hash {
                problems.push(file.problem(
                    Rule::DigestSignatureInvalid,
                    format!(
                        "another copy of the same digest, {}, has other content: only one can be what CloudTrail wrote",
                        files[first.file].display
                    ),
                ));
            }
            continue;
        }
        digest_index.insert(file, loaded.len());
        loaded.push(LoadedDigest {
            file: f,
            key,
            digest,
            content_hash,
            metadata,
        });
    }

    // Files delivered late are listed by the next hour's digest: the window's digests
    // reach an hour past its end, as `aws cloudtrail validate-logs` looks.
    let digests_to = options
        .to
        .map(|to| to.checked_add_signed(TimeDelta::hours(1)).unwrap_or(to));
    let in_window = |d: &Digest| {
        options.from.is_none_or(|from| d.digest_end_time >= from)
            && digests_to.is_none_or(|to| d.digest_start_time <= to)
    };
    let members: Vec<usize> = (0..loaded.len())
        .filter(|&i| in_window(&loaded[i].digest))
        .collect();

    // The keys, per region the window's digests come from.
    let mut public_keys = PublicKeys::default();
    let mut regions: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for &i in &members {
        let d = &loaded[i];
        let range = regions
            .entry(d.key.trail.region.as_str())
            .or_insert((d.digest.digest_start_time, d.digest.digest_end_time));
        range.0 = range.0.min(d.digest.digest_start_time);
        range.1 = range.1.max(d.digest.digest_end_time);
    }
    for (region, (start, end)) in regions {
        let start = start.checked_sub_signed(VALIDITY_SLACK).unwrap_or(start);
        let end = end.checked_add_signed(VALIDITY_SLACK).unwrap_or(end);
        public_keys.extend(keys.public_keys(region, start, end)?);
    }

    // Links to previous digests, and the signatures later digests give for them.
    let resolve = |object: &str| match digest_index.find(object) {
        Some(i) => Resolved::Digest(i),
        None if not_valid.find(object).is_some() => Resolved::NotValid,
        None => Resolved::NotFound,
    };
    let chain_digests: Vec<ChainDigest> = loaded
        .iter()
        .map(|d| ChainDigest {
            trail: d.key.trail.clone(),
            backfill: d.key.backfill,
            file: files[d.file].display.clone(),
            start: d.digest.digest_start_time,
            end: d.digest.digest_end_time,
            bucket: d.digest.digest_s3_bucket.clone(),
            content_hash: d.content_hash,
            signature: d
                .metadata
                .as_ref()
                .and_then(|m| m.as_ref().ok())
                .map(|m| m.signature.clone()),
            previous: d.digest.previous.as_ref().map(|p| PreviousLink {
                object: p.s3_object.clone(),
                bucket: p.s3_bucket.clone(),
                hash: p.hash_value,
                signature: p.signature.clone(),
                resolved: resolve(&p.s3_object),
            }),
        })
        .collect();
    let mut signature_from_later: HashMap<usize, String> = HashMap::new();
    for d in &chain_digests {
        if let Some(PreviousLink {
            resolved: Resolved::Digest(p),
            signature,
            ..
        }) = &d.previous
        {
            signature_from_later
                .entry(*p)
                .or_insert_with(|| signature.clone());
        }
    }

    // Each digest's signature, checked on the threads.
    let checks = map_in_order(
        &members,
        threads,
        || (),
        |_, &i| {
            let d = &loaded[i];
            check_signature(
                d,
                &files[d.file],
                signature_from_later.get(&i),
                &public_keys,
            )
        },
    );
    let mut signature_verified = vec![false; loaded.len()];
    for (&i, check) in members.iter().zip(checks) {
        match check {
            Ok(()) => signature_verified[i] = true,
            Err(reason) => {
                problems.push(files[loaded[i].file].problem(Rule::DigestSignatureInvalid, reason))
            }
        }
    }

    // The chains. A link to a previous digest not at hand is judged only by a break.
    let mut chain_verified = vec![true; loaded.len()];
    let link_at_hand: Vec<bool> = chain_digests
        .iter()
        .map(|d| {
            d.previous
                .as_ref()
                .is_none_or(|link| matches!(link.resolved, Resolved::Digest(_)))
        })
        .collect();
    for broken in chain_breaks(&chain_digests, &members, options.from) {
        chain_verified[broken.digest] = false;
        problems.push(
            files[loaded[broken.digest].file].problem(Rule::DigestChainBroken, broken.reason),
        );
    }

    // The log files the window's digests list.
    let mut log_index = FileIndex::default();
    for &f in &log_files {
        log_index.insert(&files[f], f);
    }
    let mut listings: BTreeMap<usize, Vec<Listing>> = BTreeMap::new();
    let mut missing: BTreeMap<String, (usize, Sha256Hash, String)> = BTreeMap::new();
    for &i in &members {
        for listed in &loaded[i].digest.log_files {
            match log_index.find(&listed.s3_object) {
                Some(f) => listings.entry(f).or_default().push(Listing {
                    digest_file: loaded[i].file,
                    signed: signature_verified[i],
                    expected: listed.hash_value,
                }),
                None => {
                    let at = format!("s3://{}/{}", listed.s3_bucket, listed.s3_object);
                    let key = awslogs_tail(&listed.s3_object).unwrap_or(&listed.s3_object);
                    missing
                        .entry(at)
                        .or_insert((i, listed.hash_value, key.to_string()));
                }
            }
        }
    }
    // Files not found have no local file. The evidence of every file but those listed
    // and found is known now: only theirs waits for their hashes.
    let mut evidence = Vec::new();
    for (at, (digest, expected, key)) in missing {
        let digest_file = &files[loaded[digest].file].display;
        let trust = if signature_verified[digest] {
            "whose signature verified"
        } else {
            "whose signature did not verify"
        };
        problems.push(Problem {
            rule: Rule::LogFileMissing,
            file: at.clone(),
            key: key.clone(),
            detail: format!(
                "listed by {digest_file} ({trust}), not found under {}",
                dir.display()
            ),
        });
        evidence.push(LogFileEvidence {
            file: at,
            key,
            status: LogFileStatus::Missing,
            digest: Some(digest_file.clone()),
            expected_sha256: Some(expected),
            actual_sha256: None,
        });
    }

    // Log files in the window that no digest lists.
    let mut listed_anywhere = vec![false; files.len()];
    for d in &loaded {
        for listed in &d.digest.log_files {
            if let Some(f) = log_index.find(&listed.s3_object) {
                listed_anywhere[f] = true;
            }
        }
    }
    let mut newest: HashMap<(&str, &str), DateTime<Utc>> = HashMap::new();
    for d in &loaded {
        let at = newest
            .entry((d.key.trail.account_id.as_str(), d.key.trail.region.as_str()))
            .or_insert(d.digest.digest_end_time);
        *at = (*at).max(d.digest.digest_end_time);
    }
    for &f in &log_files {
        if listed_anywhere[f] {
            continue;
        }
        let file = &files[f];
        let copy_of = log_index
            .get(file)
            .filter(|&&first| first != f)
            .map(|&first| files[first].display.clone());
        let name = parse_log_file_name(&file.name).expect("sorted as a log file by its name");
        let in_window = options.from.is_none_or(|from| {
            name.time
                >= from
                    .checked_sub_signed(TimeDelta::minutes(5))
                    .unwrap_or(from)
        }) && options.to.is_none_or(|to| name.time <= to);
        if !in_window {
            continue;
        }
        let hint = match newest.get(&(name.account_id.as_str(), name.region.as_str())) {
            Some(end)
                if name.time
                    >= end
                        .checked_sub_signed(TimeDelta::minutes(5))
                        .unwrap_or(*end) =>
            {
                format!(
                    "; it is as new as the newest digest of {} {} (ending {}): its digest may not have been delivered yet",
                    name.account_id,
                    name.region,
                    end.to_rfc3339()
                )
            }
            None => format!(
                "; there are no digests of {} {} here",
                name.account_id, name.region
            ),
            Some(_) => String::new(),
        };
        let detail = match copy_of {
            Some(first) => format!(
                "a second copy of {first} (the same S3 key): the first is the one checked against the digests"
            ),
            None => format!("no digest lists it{hint}"),
        };
        problems.push(file.problem(Rule::LogFileNotCovered, detail));
        evidence.push(LogFileEvidence {
            file: file.display.clone(),
            key: file.evidence_key(),
            status: LogFileStatus::NotCovered,
            digest: None,
            expected_sha256: None,
            actual_sha256: None,
        });
    }

    let digests: Vec<DigestEvidence> = members
        .iter()
        .map(|&i| DigestEvidence {
            file: files[loaded[i].file].display.clone(),
            key: files[loaded[i].file].evidence_key(),
            backfill: loaded[i].key.backfill,
            signature_verified: signature_verified[i],
            chain_verified: chain_verified[i],
            chain_judged: link_at_hand[i] || !chain_verified[i],
        })
        .collect();
    Ok(CheckedDigests {
        files,
        other_files,
        problems,
        listings,
        evidence,
        digests,
    })
}

impl CheckedDigests {
    /// The second half of [`verify_folder`]: every log file the window's digests list
    /// and that is here hashed (or its hash taken from `options.known_hashes`) and
    /// compared; with what [`check_digests`] found, the whole verification.
    pub fn verify_log_files(self, options: &VerifyOptions) -> Verification {
        let CheckedDigests {
            files,
            other_files,
            mut problems,
            listings,
            mut evidence,
            mut digests,
        } = self;
        let to_hash: Vec<usize> = listings.keys().copied().collect();
        let hashes = hash_files(&files, &to_hash, options);
        for (f, actual) in to_hash.iter().zip(hashes) {
            let file = &files[*f];
            let mut best: Option<(LogFileStatus, usize, Sha256Hash)> = None;
            for listing in &listings[f] {
                let status = match (&actual, listing.signed) {
                    (_, false) => LogFileStatus::Unsigned,
                    (Ok(actual), true) if *actual == listing.expected => LogFileStatus::Verified,
                    (_, true) => LogFileStatus::Tampered,
                };
                let rank = |s: LogFileStatus| match s {
                    LogFileStatus::Tampered => 3,
                    LogFileStatus::Verified => 2,
                    _ => 1,
                };
                if best.is_none_or(|(s, _, _)| rank(status) > rank(s)) {
                    best = Some((status, listing.digest_file, listing.expected));
                }
            }
            let (status, digest, expected) = best.expect("a listed file has a listing");
            let digest_file = &files[digest].display;
            if status == LogFileStatus::Tampered {
                let detail = match &actual {
                    Ok(actual) => format!(
                        "the SHA-256 of its uncompressed content is {actual}, but {digest_file} lists {expected}"
                    ),
                    Err(e) => {
                        format!("it cannot be read ({e}); {digest_file} lists SHA-256 {expected}")
                    }
                };
                problems.push(file.problem(Rule::LogFileTampered, detail));
            }
            evidence.push(LogFileEvidence {
                file: file.display.clone(),
                key: file.evidence_key(),
                status,
                digest: Some(digest_file.clone()),
                expected_sha256: Some(expected),
                actual_sha256: actual.ok(),
            });
        }
        digests.sort_by(|a, b| a.file.cmp(&b.file));
        evidence.sort_by(|a, b| a.file.cmp(&b.file));
        problems.sort();
        Verification {
            problems,
            digests,
            log_files: evidence,
            other_files,
        }
    }
}

/// Reads, inflates, hashes and parses one digest file.
fn load_digest(
    file: &LocalFile,
    buffers: &mut ReadBuffers,
) -> Result<(DigestKey, Digest, Sha256Hash), String> {
    let content = digest_content(&file.path, &file.display, buffers)?;
    let mut hasher = LogHasher::new();
    hasher.update(&content);
    let (content_hash, _) = hasher.finish();
    let digest = parse_digest(&content, &file.display).map_err(|e| e.to_string())?;
    let key = match &file.key {
        Some(key) => parse_digest_key(key).or_else(|_| parse_digest_file_name(&file.name)),
        None => parse_digest_file_name(&file.name),
    }
    .map_err(|e| format!("{}: {e}", file.display))?;
    Ok((key, digest, content_hash))
}

/// A digest file's uncompressed content (`shown` names it in errors).
fn digest_content(path: &Path, shown: &str, buffers: &mut ReadBuffers) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    Ok(match content_from_bytes(bytes, buffers) {
        InputContent::Whole(content) => content.to_vec(),
        InputContent::Stream(mut stream) => {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut stream, &mut content)
                .map_err(|e| format!("{shown}: cannot be inflated ({e})"))?;
            content
        }
    })
}

/// The digest in a file, read as the verification reads it (`shown` names it in
/// errors): for a caller that needs what a digest lists before verifying it.
pub fn read_digest_file(path: &Path, shown: &str) -> Result<Digest, String> {
    let content = digest_content(path, shown, &mut ReadBuffers::default())?;
    parse_digest(&content, shown).map_err(|e| e.to_string())
}

/// Why a digest is not where it says it is (CloudTrail's step "verify that the digest
/// file has been retrieved from its original location"), if it is not.
fn misplaced(
    file: &LocalFile,
    key: &DigestKey,
    digest: &Digest,
    bucket: Option<&str>,
) -> Option<String> {
    if let Some(bucket) = bucket
        && digest.digest_s3_bucket != bucket
    {
        return Some(format!(
            "it names bucket {} as its digestS3Bucket, but was found in {bucket}: a digest is only valid where CloudTrail put it",
            digest.digest_s3_bucket
        ));
    }
    let named = awslogs_tail(&digest.digest_s3_object).unwrap_or(&digest.digest_s3_object);
    let found = file.key.as_deref().unwrap_or(&file.name);
    let same = match &file.key {
        Some(key) => key == named,
        None => file_name(named) == file.name,
    };
    if !same {
        return Some(format!(
            "it names itself s3://{}/{} but was found at {found}: a digest is only valid where CloudTrail put it (moved, copied or renamed?)",
            digest.digest_s3_bucket, digest.digest_s3_object
        ));
    }
    if digest.aws_account_id != key.trail.account_id {
        return Some(format!(
            "awsAccountId {} differs from the account {} its name gives",
            digest.aws_account_id, key.trail.account_id
        ));
    }
    None
}

fn check_signature(
    d: &LoadedDigest,
    file: &LocalFile,
    from_later: Option<&String>,
    keys: &PublicKeys,
) -> Result<(), String> {
    let sidecar = sidecar_path(&file.path);
    let signature = match (&d.metadata, from_later) {
        (Some(Ok(metadata)), _) => metadata.signature.clone(),
        (Some(Err(reason)), _) => return Err(format!("its sidecar is not usable: {reason}")),
        (None, Some(signature)) => signature.clone(),
        (None, None) => {
            return Err(format!(
                "no signature: there is no sidecar {} (save `aws s3api head-object --bucket {} --key {}` there) and no later digest names it as previous",
                sidecar.display(),
                d.digest.digest_s3_bucket,
                d.digest.digest_s3_object
            ));
        }
    };
    let signature = hex::decode(&signature).ok_or("its signature is not hex")?;
    let signed_at = d
        .metadata
        .as_ref()
        .and_then(|m| m.as_ref().ok())
        .and_then(|m| m.backfill_generation_timestamp.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(d.digest.digest_end_time);
    let fingerprint = &d.digest.digest_public_key_fingerprint;
    let key = match keys.choose(fingerprint, signed_at) {
        KeyChoice::Found(key) => key,
        KeyChoice::NotValidAt(found) => {
            let windows: Vec<String> = found
                .iter()
                .map(|k| {
                    format!(
                        "{} to {}",
                        k.valid_from.to_rfc3339(),
                        k.valid_to.to_rfc3339()
                    )
                })
                .collect();
            return Err(format!(
                "the public key with fingerprint {fingerprint} is valid {}, not at {}",
                windows.join(", "),
                signed_at.to_rfc3339()
            ));
        }
        KeyChoice::Unknown => {
            return Err(format!(
                "no public key with fingerprint {fingerprint} among the keys given (`aws cloudtrail list-public-keys --region {}` for the digest's time)",
                d.key.trail.region
            ));
        }
    };
    let message = string_to_sign(&d.digest, &d.content_hash);
    if signature_is_valid(key, message.as_bytes(), &signature) {
        Ok(())
    } else {
        Err(format!(
            "the signature does not verify with the public key {fingerprint}: the digest, its name or its signature was changed"
        ))
    }
}

/// The SHA-256 of each file at `which` (known already, or hashed on the threads).
fn hash_files(
    files: &[LocalFile],
    which: &[usize],
    options: &VerifyOptions,
) -> Vec<Result<Sha256Hash, String>> {
    let threads = options.threads.unwrap_or_else(default_threads);
    map_in_order(
        which,
        threads,
        ReadBuffers::default,
        |buffers, &f| match options.known_hashes.get(&files[f].path) {
            Some(known) => Ok(*known),
            None => hash_file(&files[f].path, buffers)
                .map(|(hash, _)| hash)
                .map_err(|e| e.to_string()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_s_key_comes_from_its_awslogs_folder_or_its_layout() {
        assert_eq!(
            implied_key(Path::new(
                "/x/bucket/prefix/AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/f.json.gz"
            ))
            .as_deref(),
            Some("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/01/f.json.gz")
        );
        assert_eq!(
            implied_key(Path::new(
                "/copy/o-aa111bb222/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/d.json.gz"
            ))
            .as_deref(),
            Some(
                "AWSLogs/o-aa111bb222/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/d.json.gz"
            )
        );
        assert_eq!(implied_key(Path::new("/flat/d.json.gz")), None);
    }
}
