//! Signed CloudTrail digest files (`digests`), as CloudTrail writes them with log file
//! integrity validation on, their S3 metadata, the public key, tampered variants and
//! what a verifier must conclude (`truth.json`'s `evidence`).
//!
//! Every trail (account, region; the organisation trail's member account too) gets one
//! digest chain: hourly digests from the start of the period until every log file
//! delivered is covered, each listing the log files *delivered* in
//! `[digestStartTime, digestEndTime)` (an hour without one lists none), with the hex
//! SHA-256 of each uncompressed log file. Keys:
//!
//! ```text
//! cloudtrail/AWSLogs/[o-id/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/
//!     ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz
//! cloudtrail/...same....json.gz.metadata.json      its S3 metadata (the signature)
//! public-keys.json                                 the keys, as list-public-keys prints them
//! ```
//!
//! The first digest of a chain has null `previous*` fields; each later one names the
//! previous digest, the hex SHA-256 of its uncompressed bytes and its signature. The
//! signature is RSA PKCS#1 v1.5 with SHA-256 (`SHA256withRSA`) over
//! `digestEndTime \n digestS3Bucket/digestS3Object \n hex SHA-256 of the uncompressed
//! digest \n previousDigestSignature` (`null` on a starting digest), hex-encoded. S3
//! keeps it in the object's user metadata (`x-amz-meta-signature`); offline, it sits in
//! a sidecar `<digest file name>.metadata.json` holding what `aws s3api head-object`
//! prints for the object (`Metadata.signature`, `Metadata.signature-algorithm`, and
//! `backfill-generation-timestamp` on a backfill digest).
//!
//! The keys are RSA 2048, drawn from a ChaCha20 stream seeded by the generator's seed,
//! so the same seed gives the same keys, signatures and files. The key rotates halfway
//! through the period (at a whole hour): a digest is signed with the key valid at its
//! `digestEndTime` (a backfill digest: when it was generated) and names it by
//! `digestPublicKeyFingerprint`. `public-keys.json` is the output of `aws cloudtrail
//! list-public-keys` for the period: both keys, `Value` the base64 of the DER public key
//! (the first key as PKCS#1 `RSAPublicKey`, the second as `SubjectPublicKeyInfo`: AWS
//! has published both forms), `Fingerprint` the hex MD5 of that DER, and each key's
//! validity window (the first from 30 days before the period to the rotation, the
//! second from the rotation to 30 days after).
//!
//! Tamper cases ([`TamperCase`]) each hit one digest of one trail (spread over the
//! trails, never the first or last digest of a chain, never next to another case); a
//! deleted or changed log file holds only background noise, so the sessions and findings
//! of the ground truth stay as they are. `truth.json` gains:
//!
//! ```json
//! "evidence": {
//!   "bucket": "aws-cloudtrail-logs-...", "public_keys": "public-keys.json",
//!   "cases": [{"case": "log_file_tampered", "key": "AWSLogs/.../...json.gz"}],
//!   "digests": [{"key": "AWSLogs/.../CloudTrail-Digest/...json.gz", "signature": "valid"}],
//!   "log_files": [{"key": "AWSLogs/...", "status": "verified", "digest": "AWSLogs/..."}],
//!   "problems": [{"rule": "log_file_tampered", "key": "AWSLogs/..."}]
//! }
//! ```
//!
//! Keys are S3 keys (paths under `cloudtrail/`). `cases`: what each case hit (the digest
//! for `digest_removed`, `signature_forged` and `wrong_key`, the log file for the others;
//! for `backfill`, the log file the backfill digest lists). `digests`: every digest present, its
//! signature `valid` or `invalid`. `log_files`: every log file written (deleted ones
//! included), its status (`verified`: listed by a digest whose signature is valid, same
//! hash; `tampered`: listed, another hash; `missing`: listed, absent; `not_covered`: no
//! digest present lists it; `unsigned`: listed only by a digest whose signature is
//! invalid) and the digest that lists it (null when none). `problems`: one per rule and
//! file: `log_file_tampered`, `log_file_missing`, `log_file_not_covered` on the log file,
//! `digest_signature_invalid` on the digest, `digest_chain_broken` on the digest whose
//! previous digest is gone. Sorted by key (problems by rule, then key).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use md5::Md5;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest as _, Sha256};

use crate::clock::{self, DAY, HOUR, MINUTE, Millis, SECOND};
use crate::delivery::WrittenLog;
use crate::json::{J, Obj};
use crate::layout::{self, CLOUDTRAIL_DIR};
use crate::options::{GenerateError, TamperCase};
use crate::prng::Prng;
use crate::world::{TRAIL_NAME, World};

/// The published key, beside `truth.json`.
pub const PUBLIC_KEYS_FILE: &str = "public-keys.json";
/// What a digest's sidecar name adds to the digest's file name.
pub const SIDECAR_SUFFIX: &str = ".metadata.json";
/// Name of the organisation trail (the member account's digests carry it).
pub const ORG_TRAIL_NAME: &str = "organization-trail";
const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
const KEY_BITS: usize = 2048;

/// What a verifier must say about a log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogStatus {
    Verified,
    Tampered,
    Missing,
    NotCovered,
    Unsigned,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Verified => "verified",
            LogStatus::Tampered => "tampered",
            LogStatus::Missing => "missing",
            LogStatus::NotCovered => "not_covered",
            LogStatus::Unsigned => "unsigned",
        }
    }
}

/// An evidence rule id (issue 15; docs/contracts.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EvidenceRule {
    LogFileTampered,
    DigestSignatureInvalid,
    LogFileMissing,
    DigestChainBroken,
    LogFileNotCovered,
}

impl EvidenceRule {
    pub const ALL: [EvidenceRule; 5] = [
        EvidenceRule::LogFileTampered,
        EvidenceRule::DigestSignatureInvalid,
        EvidenceRule::LogFileMissing,
        EvidenceRule::DigestChainBroken,
        EvidenceRule::LogFileNotCovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceRule::LogFileTampered => "log_file_tampered",
            EvidenceRule::DigestSignatureInvalid => "digest_signature_invalid",
            EvidenceRule::LogFileMissing => "log_file_missing",
            EvidenceRule::DigestChainBroken => "digest_chain_broken",
            EvidenceRule::LogFileNotCovered => "log_file_not_covered",
        }
    }
}

/// The evidence ground truth.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    pub bucket: String,
    /// (case, the log file or digest it hit).
    pub cases: Vec<(TamperCase, String)>,
    /// Digest key -> signature valid.
    pub digests: BTreeMap<String, bool>,
    /// Log file key -> (status, listing digest).
    pub log_files: BTreeMap<String, (LogStatus, Option<String>)>,
    pub problems: BTreeSet<(EvidenceRule, String)>,
}

impl Evidence {
    /// Log files a verifier must find verified.
    pub fn verified_count(&self) -> u64 {
        self.log_files
            .values()
            .filter(|(status, _)| *status == LogStatus::Verified)
            .count() as u64
    }

    /// The `evidence` member of `truth.json`: one entry per line, indented for it.
    pub fn render(&self) -> String {
        fn list(out: &mut String, name: &str, rows: Vec<J>, last: bool) {
            out.push_str(&format!("    \"{name}\": ["));
            for (i, row) in rows.iter().enumerate() {
                out.push_str(if i == 0 { "\n      " } else { ",\n      " });
                row.write_to(out);
            }
            out.push_str(if rows.is_empty() { "]" } else { "\n    ]" });
            out.push_str(if last { "\n" } else { ",\n" });
        }
        let mut out = String::from("{\n    \"bucket\": ");
        crate::json::write_str(&self.bucket, &mut out);
        out.push_str(",\n    \"public_keys\": ");
        crate::json::write_str(PUBLIC_KEYS_FILE, &mut out);
        out.push_str(",\n");
        let mut cases: Vec<(&str, &str)> = self
            .cases
            .iter()
            .map(|(case, key)| (case.as_str(), key.as_str()))
            .collect();
        cases.sort_unstable();
        let cases = cases
            .into_iter()
            .map(|(case, key)| Obj::new().with("case", case).with("key", key).into())
            .collect();
        list(&mut out, "cases", cases, false);
        let digests = self
            .digests
            .iter()
            .map(|(key, valid)| {
                Obj::new()
                    .with("key", key)
                    .with("signature", if *valid { "valid" } else { "invalid" })
                    .into()
            })
            .collect();
        list(&mut out, "digests", digests, false);
        let files = self
            .log_files
            .iter()
            .map(|(key, (status, digest))| {
                Obj::new()
                    .with("key", key)
                    .with("status", status.as_str())
                    .with("digest", digest.as_ref().map_or(J::Null, J::from))
                    .into()
            })
            .collect();
        list(&mut out, "log_files", files, false);
        let mut problems: Vec<(&str, &str)> = self
            .problems
            .iter()
            .map(|(rule, key)| (rule.as_str(), key.as_str()))
            .collect();
        problems.sort_unstable();
        let problems = problems
            .into_iter()
            .map(|(rule, key)| Obj::new().with("rule", rule).with("key", key).into())
            .collect();
        list(&mut out, "problems", problems, true);
        out.push_str("  }");
        out
    }
}

/// The RSA key `index` of `seed` (0: the published key, 1: the wrong key), generated
/// once per process.
fn signing_key(seed: u64, index: u64) -> Result<SigningKey<Sha256>, GenerateError> {
    static KEYS: OnceLock<Mutex<BTreeMap<(u64, u64), rsa::PrivateKey>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(key) = keys.get(&(seed, index)) {
        return Ok(SigningKey::new(key.clone()));
    }
    let mut prng = Prng::derive(seed, "digest-key", index);
    let mut chacha_seed = [0u8; 32];
    for chunk in chacha_seed.chunks_exact_mut(8) {
        chunk.copy_from_slice(&prng.next_u64().to_le_bytes());
    }
    let mut rng = ChaCha20Rng::from_seed(chacha_seed);
    let key = rsa::PrivateKey::new(&mut rng, KEY_BITS)
        .map_err(|e| GenerateError::Signing(format!("RSA key generation: {e}")))?;
    keys.insert((seed, index), key.clone());
    Ok(SigningKey::new(key))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// `2026-02-01T01:05:12+00:00`: how the AWS CLI prints a timestamp.
fn cli_time(ms: Millis) -> String {
    let text = clock::event_time(ms);
    format!("{}+00:00", text.trim_end_matches('Z'))
}

/// The DER public key of `key`: PKCS#1 `RSAPublicKey`, or `SubjectPublicKeyInfo`
/// (`spki`); `list-public-keys` has given both.
fn public_der(key: &SigningKey<Sha256>, spki: bool) -> Result<Vec<u8>, GenerateError> {
    let public = key.as_ref().to_public_key();
    let der = if spki {
        public
            .to_public_key_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    } else {
        public
            .to_pkcs1_der()
            .map(|doc| doc.as_bytes().to_vec())
            .map_err(|e| e.to_string())
    };
    der.map_err(|e| GenerateError::Signing(format!("encoding the public key: {e}")))
}

/// A published key: CloudTrail signs with it during its validity window.
struct PublishedKey {
    key: SigningKey<Sha256>,
    der: Vec<u8>,
    fingerprint: String,
    from: Millis,
    until: Millis,
}

/// The two keys of the period: the region's key rotates halfway through it (at a whole
/// hour), the first published as PKCS#1 DER, the second as SubjectPublicKeyInfo.
fn published_keys(
    seed: u64,
    (from, to): (Millis, Millis),
) -> Result<[PublishedKey; 2], GenerateError> {
    let rotation = from + (to - from) / 2 / HOUR * HOUR;
    let make = |index: u64, spki: bool, from: Millis, until: Millis| {
        let key = signing_key(seed, index)?;
        let der = public_der(&key, spki)?;
        Ok::<_, GenerateError>(PublishedKey {
            fingerprint: hex(&Md5::digest(&der)),
            key,
            der,
            from,
            until,
        })
    };
    Ok([
        make(0, false, from - 30 * DAY, rotation)?,
        make(2, true, rotation, to + 30 * DAY)?,
    ])
}

/// The key that signs at `at`.
fn key_at(keys: &[PublishedKey; 2], at: Millis) -> &PublishedKey {
    if at < keys[1].from {
        &keys[0]
    } else {
        &keys[1]
    }
}

/// The previous digest, as the next one names it.
struct Previous {
    key: String,
    sha256: String,
    signature: String,
}

/// A digest period of one trail and the files delivered in it (indices into the logs).
struct Period {
    start: Millis,
    end: Millis,
    files: Vec<usize>,
}

/// What a tamper case was planted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Target {
    stream: usize,
    period: usize,
    /// The log file (index into the logs), for the cases on a file.
    file: Option<usize>,
}

fn needs_file(case: TamperCase) -> bool {
    matches!(
        case,
        TamperCase::LogFileTampered
            | TamperCase::LogFileMissing
            | TamperCase::Backfill
            | TamperCase::LogFileNotCovered
    )
}

/// A file the case may hit: one whose loss or change leaves the session truth intact.
fn file_fits(case: TamperCase, log: &WrittenLog) -> bool {
    match case {
        TamperCase::LogFileTampered | TamperCase::LogFileMissing => log.background_only,
        _ => true,
    }
}

/// Chooses where each case goes: a different trail for each case while there are
/// trails, an inner digest two or more away from every other case.
fn place_cases(
    cases: &[TamperCase],
    periods: &[Vec<Period>],
    logs: &[WrittenLog],
    prng: &mut Prng,
) -> Result<BTreeMap<TamperCase, Target>, GenerateError> {
    let streams = periods.len();
    let mut used: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut placed = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let mut target = None;
        for offset in 0..streams {
            let stream = (i + offset) % streams;
            let ps = &periods[stream];
            let candidates: Vec<(usize, Vec<usize>)> = (1..ps.len().saturating_sub(1))
                .filter(|k| !(k - 1..=k + 1).any(|j| used.contains(&(stream, j))))
                .map(|k| {
                    let files: Vec<usize> = ps[k]
                        .files
                        .iter()
                        .copied()
                        .filter(|f| file_fits(*case, &logs[*f]))
                        .collect();
                    (k, files)
                })
                .filter(|(_, files)| !needs_file(*case) || !files.is_empty())
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let (period, files) = &candidates[prng.index(candidates.len())];
            let file = needs_file(*case).then(|| files[prng.index(files.len())]);
            target = Some(Target {
                stream,
                period: *period,
                file,
            });
            break;
        }
        let Some(target) = target else {
            return Err(GenerateError::InvalidOptions(format!(
                "no room for tamper case {}: it needs an inner digest of a trail, apart from the other cases{}; generate more days, trails or noise",
                case.as_str(),
                if needs_file(*case) {
                    ", listing a log file of background records only"
                } else {
                    ""
                }
            )));
        };
        for j in target.period.saturating_sub(1)..=target.period + 1 {
            used.insert((target.stream, j));
        }
        placed.insert(*case, target);
    }
    Ok(placed)
}

/// The digest periods of every trail: the first from `from`, then hourly, ending at a
/// per-trail second of the hour, until every delivered file (and `to`) is covered.
fn plan_periods(
    logs: &[WrittenLog],
    streams: usize,
    (from, to): (Millis, Millis),
    seed: u64,
) -> Vec<Vec<Period>> {
    (0..streams)
        .map(|stream| {
            let mut prng = Prng::derive(seed, "digest-periods", stream as u64);
            let mut mine: Vec<usize> = (0..logs.len())
                .filter(|i| logs[*i].stream == stream)
                .collect();
            mine.sort_by(|a, b| {
                (logs[*a].delivery, &logs[*a].key).cmp(&(logs[*b].delivery, &logs[*b].key))
            });
            let last = mine.last().map_or(to, |i| logs[*i].delivery.max(to));
            let mut periods = Vec::new();
            let mut start = from;
            let mut end = from + prng.between(MINUTE, HOUR) / SECOND * SECOND;
            let mut next = 0;
            loop {
                let mut files = Vec::new();
                while next < mine.len() && logs[mine[next]].delivery < end {
                    files.push(mine[next]);
                    next += 1;
                }
                periods.push(Period { start, end, files });
                if end > last {
                    break;
                }
                start = end;
                end += HOUR;
            }
            periods
        })
        .collect()
}

/// Writes `bytes` to `out/cloudtrail/<key>`, creating folders.
fn put(out: &Path, key: &str, bytes: &[u8]) -> Result<(), GenerateError> {
    let path = out.join(CLOUDTRAIL_DIR).join(key);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| GenerateError::io(parent, e))?;
    }
    fs::write(&path, bytes).map_err(|e| GenerateError::io(&path, e))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, GenerateError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .map_err(|e| GenerateError::io("gzip", e))
}

/// The sidecar: what `aws s3api head-object` prints for the digest object.
fn sidecar(gz: &[u8], last_modified: Millis, metadata: Obj) -> J {
    let etag = hex(&Md5::digest(gz));
    Obj::new()
        .with("AcceptRanges", "bytes")
        .with("LastModified", cli_time(last_modified))
        .with("ContentLength", gz.len() as i64)
        .with("ETag", format!("\"{etag}\""))
        .with("ContentEncoding", "gzip")
        .with("ContentType", "application/json")
        .with("ServerSideEncryption", "AES256")
        .with("Metadata", metadata)
        .into()
}

/// The fields of one digest, in CloudTrail's order.
struct DigestFields<'a> {
    account: &'a str,
    bucket: &'a str,
    key: &'a str,
    fingerprint: &'a str,
    start: Millis,
    end: Millis,
    files: Vec<&'a WrittenLog>,
    previous: Option<&'a Previous>,
}

impl DigestFields<'_> {
    fn to_json(&self) -> String {
        let time = |t: Option<Millis>| t.map_or(J::Null, |t| J::from(clock::event_time(t)));
        let newest = self.files.iter().map(|f| f.newest).max();
        let oldest = self.files.iter().map(|f| f.oldest).min();
        let previous = |field: fn(&Previous) -> &str| {
            self.previous
                .map_or(J::Null, |p| J::from(field(p).to_owned()))
        };
        let files: Vec<J> = self
            .files
            .iter()
            .map(|file| {
                Obj::new()
                    .with("s3Bucket", self.bucket)
                    .with("s3Object", file.key.as_str())
                    .with("hashValue", hex(&file.sha256))
                    .with("hashAlgorithm", "SHA-256")
                    .with("newestEventTime", clock::event_time(file.newest))
                    .with("oldestEventTime", clock::event_time(file.oldest))
                    .into()
            })
            .collect();
        let digest: J = Obj::new()
            .with("awsAccountId", self.account)
            .with("digestStartTime", clock::event_time(self.start))
            .with("digestEndTime", clock::event_time(self.end))
            .with("digestS3Bucket", self.bucket)
            .with("digestS3Object", self.key)
            .with("digestPublicKeyFingerprint", self.fingerprint)
            .with("digestSignatureAlgorithm", SIGNATURE_ALGORITHM)
            .with("newestEventTime", time(newest))
            .with("oldestEventTime", time(oldest))
            .with(
                "previousDigestS3Bucket",
                self.previous.map_or(J::Null, |_| J::from(self.bucket)),
            )
            .with("previousDigestS3Object", previous(|p| &p.key))
            .with("previousDigestHashValue", previous(|p| &p.sha256))
            .with(
                "previousDigestHashAlgorithm",
                self.previous.map_or(J::Null, |_| J::from("SHA-256")),
            )
            .with("previousDigestSignature", previous(|p| &p.signature))
            .with("logFiles", files)
            .into();
        digest.to_json()
    }

    /// The string CloudTrail signs.
    fn string_to_sign(&self, digest_sha256: &str) -> String {
        format!(
            "{}\n{}/{}\n{digest_sha256}\n{}",
            clock::event_time(self.end),
            self.bucket,
            self.key,
            self.previous.map_or("null", |p| p.signature.as_str())
        )
    }
}

/// Changes one character of a background record's `eventID` in the log file at `key`
/// (the file stays valid JSON of the same records, only its bytes and hash change).
fn change_a_byte(out: &Path, key: &str) -> Result<(), GenerateError> {
    let path = out.join(CLOUDTRAIL_DIR).join(key);
    let compressed = fs::read(&path).map_err(|e| GenerateError::io(&path, e))?;
    let mut text = Vec::new();
    GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut text)
        .map_err(|e| GenerateError::io(&path, e))?;
    let marker = b"\"eventID\":\"";
    let at = text
        .windows(marker.len())
        .position(|w| w == marker)
        .map(|i| i + marker.len())
        .ok_or_else(|| GenerateError::Signing(format!("{key}: no eventID to change")))?;
    text[at] = if text[at] == b'a' { b'b' } else { b'a' };
    fs::write(&path, gzip(&text)?).map_err(|e| GenerateError::io(&path, e))
}

/// Writes the signed digests of every trail, their sidecars, `public-keys.json`, and
/// plants `cases`; returns the digest files written and the evidence truth.
pub fn write(
    out: &Path,
    world: &World,
    logs: &[WrittenLog],
    period: (Millis, Millis),
    seed: u64,
    cases: &[TamperCase],
) -> Result<(u64, Evidence), GenerateError> {
    let regions = world.regions.len();
    let streams = world.accounts.len() * regions;
    let home_region = &world.regions[0];
    let keys = published_keys(seed, period)?;
    let wrong_key = if cases.contains(&TamperCase::WrongKey) {
        Some(signing_key(seed, 1)?)
    } else {
        None
    };

    let mut prng = Prng::derive(seed, "digests", 0);
    let bucket = format!(
        "aws-cloudtrail-logs-{}-{}",
        world.accounts[0].id,
        prng.hex(8)
    );
    let periods = plan_periods(logs, streams, period, seed);
    let placed = place_cases(cases, &periods, logs, &mut Prng::derive(seed, "tamper", 0))?;
    let at = |case: TamperCase, stream: usize, k: usize| {
        placed
            .get(&case)
            .is_some_and(|t| t.stream == stream && t.period == k)
    };
    let left_out: BTreeSet<usize> = [TamperCase::Backfill, TamperCase::LogFileNotCovered]
        .iter()
        .filter_map(|case| placed.get(case).and_then(|t| t.file))
        .collect();

    let mut evidence = Evidence {
        bucket: bucket.clone(),
        ..Evidence::default()
    };
    let mut written = 0u64;
    let sign = |key: &SigningKey<Sha256>, text: &str| hex(&key.sign(text.as_bytes()).to_bytes());

    for (stream, ps) in periods.iter().enumerate() {
        let account = &world.accounts[stream / regions];
        let region = &world.regions[stream % regions];
        let trail = if account.org_trail {
            ORG_TRAIL_NAME
        } else {
            TRAIL_NAME
        };
        let mut previous: Option<Previous> = None;
        let mut removed_files: Vec<usize> = Vec::new();
        for (k, p) in ps.iter().enumerate() {
            let digest_key = layout::digest_key(account, region, trail, home_region, p.end, false);
            let signer = key_at(&keys, p.end);
            let fields = DigestFields {
                account: &account.id,
                bucket: &bucket,
                key: &digest_key,
                fingerprint: &signer.fingerprint,
                start: p.start,
                end: p.end,
                files: p
                    .files
                    .iter()
                    .filter(|f| !left_out.contains(f))
                    .map(|f| &logs[*f])
                    .collect(),
                previous: previous.as_ref(),
            };
            let body = fields.to_json();
            let digest_sha256 = hex(&Sha256::digest(body.as_bytes()));
            let to_sign = fields.string_to_sign(&digest_sha256);
            let (signature, valid) = if at(TamperCase::SignatureForged, stream, k) {
                (prng.hex(KEY_BITS / 4), false)
            } else if let (Some(wrong), true) = (&wrong_key, at(TamperCase::WrongKey, stream, k)) {
                (sign(wrong, &to_sign), false)
            } else {
                (sign(&signer.key, &to_sign), true)
            };
            let listed: Vec<usize> = p
                .files
                .iter()
                .copied()
                .filter(|f| !left_out.contains(f))
                .collect();
            if at(TamperCase::DigestRemoved, stream, k) {
                evidence
                    .cases
                    .push((TamperCase::DigestRemoved, digest_key.clone()));
                removed_files = listed;
            } else {
                let gz = gzip(body.as_bytes())?;
                put(out, &digest_key, &gz)?;
                let metadata = Obj::new()
                    .with("signature", signature.as_str())
                    .with("signature-algorithm", SIGNATURE_ALGORITHM);
                let published = p.end + prng.between(5, 121) * SECOND;
                put(
                    out,
                    &format!("{digest_key}{SIDECAR_SUFFIX}"),
                    sidecar(&gz, published, metadata).to_pretty().as_bytes(),
                )?;
                written += 1;
                evidence.digests.insert(digest_key.clone(), valid);
                if !valid {
                    let case = if at(TamperCase::SignatureForged, stream, k) {
                        TamperCase::SignatureForged
                    } else {
                        TamperCase::WrongKey
                    };
                    evidence.cases.push((case, digest_key.clone()));
                    evidence
                        .problems
                        .insert((EvidenceRule::DigestSignatureInvalid, digest_key.clone()));
                }
                let status = if valid {
                    LogStatus::Verified
                } else {
                    LogStatus::Unsigned
                };
                for f in &listed {
                    evidence
                        .log_files
                        .insert(logs[*f].key.clone(), (status, Some(digest_key.clone())));
                }
                for f in removed_files.drain(..) {
                    evidence
                        .log_files
                        .insert(logs[f].key.clone(), (LogStatus::NotCovered, None));
                    evidence
                        .problems
                        .insert((EvidenceRule::LogFileNotCovered, logs[f].key.clone()));
                }
                if k > 0 && at(TamperCase::DigestRemoved, stream, k - 1) {
                    evidence
                        .problems
                        .insert((EvidenceRule::DigestChainBroken, digest_key.clone()));
                }
            }
            previous = Some(Previous {
                key: digest_key,
                sha256: digest_sha256,
                signature,
            });
        }
    }

    // The file-level cases.
    if let Some(Target {
        stream,
        period: k,
        file: Some(f),
    }) = placed.get(&TamperCase::Backfill).copied()
    {
        let account = &world.accounts[stream / regions];
        let region = &world.regions[stream % regions];
        let trail = if account.org_trail {
            ORG_TRAIL_NAME
        } else {
            TRAIL_NAME
        };
        let p = &periods[stream][k];
        let backfill_key = layout::digest_key(account, region, trail, home_region, p.end, true);
        // Signed when generated, hours later, with the key of that time.
        let generated = p.end + 3 * HOUR + prng.between(0, 3600) * SECOND;
        let signer = key_at(&keys, generated);
        let fields = DigestFields {
            account: &account.id,
            bucket: &bucket,
            key: &backfill_key,
            fingerprint: &signer.fingerprint,
            start: p.start,
            end: p.end,
            files: vec![&logs[f]],
            previous: None,
        };
        let body = fields.to_json();
        let digest_sha256 = hex(&Sha256::digest(body.as_bytes()));
        let signature = sign(&signer.key, &fields.string_to_sign(&digest_sha256));
        let gz = gzip(body.as_bytes())?;
        put(out, &backfill_key, &gz)?;
        let metadata = Obj::new()
            .with("signature", signature.as_str())
            .with("signature-algorithm", SIGNATURE_ALGORITHM)
            .with(
                "backfill-generation-timestamp",
                clock::event_time(generated),
            );
        put(
            out,
            &format!("{backfill_key}{SIDECAR_SUFFIX}"),
            sidecar(&gz, generated + prng.between(1, 30) * SECOND, metadata)
                .to_pretty()
                .as_bytes(),
        )?;
        written += 1;
        evidence.digests.insert(backfill_key.clone(), true);
        evidence.log_files.insert(
            logs[f].key.clone(),
            (LogStatus::Verified, Some(backfill_key.clone())),
        );
        evidence
            .cases
            .push((TamperCase::Backfill, logs[f].key.clone()));
    }
    if let Some(f) = placed
        .get(&TamperCase::LogFileNotCovered)
        .and_then(|t| t.file)
    {
        let key = &logs[f].key;
        evidence
            .log_files
            .insert(key.clone(), (LogStatus::NotCovered, None));
        evidence
            .problems
            .insert((EvidenceRule::LogFileNotCovered, key.clone()));
        evidence
            .cases
            .push((TamperCase::LogFileNotCovered, key.clone()));
    }
    for (case, status, rule) in [
        (
            TamperCase::LogFileTampered,
            LogStatus::Tampered,
            EvidenceRule::LogFileTampered,
        ),
        (
            TamperCase::LogFileMissing,
            LogStatus::Missing,
            EvidenceRule::LogFileMissing,
        ),
    ] {
        let Some(f) = placed.get(&case).and_then(|t| t.file) else {
            continue;
        };
        let key = &logs[f].key;
        if case == TamperCase::LogFileTampered {
            change_a_byte(out, key)?;
        } else {
            let path = out.join(CLOUDTRAIL_DIR).join(key);
            fs::remove_file(&path).map_err(|e| GenerateError::io(&path, e))?;
        }
        if let Some(entry) = evidence.log_files.get_mut(key) {
            entry.0 = status;
        }
        evidence.problems.insert((rule, key.clone()));
        evidence.cases.push((case, key.clone()));
    }

    // Every log file has a status, covered or not.
    for log in logs {
        evidence
            .log_files
            .entry(log.key.clone())
            .or_insert((LogStatus::NotCovered, None));
    }

    let list: Vec<J> = keys
        .iter()
        .map(|published| {
            Obj::new()
                .with(
                    "Value",
                    base64::engine::general_purpose::STANDARD.encode(&published.der),
                )
                .with("ValidityStartTime", cli_time(published.from))
                .with("ValidityEndTime", cli_time(published.until))
                .with("Fingerprint", published.fingerprint.as_str())
                .into()
        })
        .collect();
    let public_keys: J = Obj::new().with("PublicKeyList", list).into();
    let path = out.join(PUBLIC_KEYS_FILE);
    fs::write(&path, public_keys.to_pretty()).map_err(|e| GenerateError::io(&path, e))?;
    Ok((written, evidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_fixed_by_the_seed() {
        let a = public_der(&signing_key(9, 0).unwrap(), false).unwrap();
        let b = public_der(&signing_key(9, 0).unwrap(), false).unwrap();
        let other = public_der(&signing_key(9, 1).unwrap(), false).unwrap();
        let spki = public_der(&signing_key(9, 0).unwrap(), true).unwrap();
        // SubjectPublicKeyInfo: the rsaEncryption algorithm, then the PKCS#1 key as a
        // BIT STRING.
        assert!(spki.ends_with(&a));
        assert_eq!(&spki[..4], &[0x30, 0x82, 0x01, 0x22]);
        assert_eq!(a, b);
        assert_ne!(a, other);
        // DER SEQUENCE of a 2048-bit modulus and the exponent 65537.
        assert_eq!(&a[..4], &[0x30, 0x82, 0x01, 0x0a]);
        assert!(a.ends_with(&[0x02, 0x03, 0x01, 0x00, 0x01]));
    }

    #[test]
    fn cli_times_have_an_offset() {
        assert_eq!(cli_time(0), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn tamper_case_names_parse() {
        assert_eq!(
            TamperCase::parse_list(&["wrong_key", "backfill", "wrong_key"]).unwrap(),
            vec![TamperCase::WrongKey, TamperCase::Backfill]
        );
        assert_eq!(TamperCase::parse_list(&["all"]).unwrap(), TamperCase::ALL);
        assert!(TamperCase::parse_list(&["nope"]).is_err());
    }
}
