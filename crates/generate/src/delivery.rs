//! CloudTrail delivery: every trail (account, region) publishes one log file per
//! delivery window of 5-15 minutes, a little after the window closes, holding that
//! window's records in no particular order plus background noise. Files are written
//! one at a time, straight to disk, so the output size is bounded by the disk only.
//!
//! A few records arrive a file late, a few twice (same eventID in two files), and
//! windows that close just before midnight land in the next day's folder. One
//! CloudTrail-Digest file (which readers must skip) lists the first hour's files;
//! with `digests`, [`crate::digest`] writes every trail's signed digests instead, from
//! the [`WrittenLog`]s (each file's SHA-256, taken as it is written).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

use crate::clock::{self, HOUR, MINUTE, Millis, SECOND};
use crate::json::{J, Obj};
use crate::layout::{self, CLOUDTRAIL_DIR};
use crate::noise;
use crate::options::GenerateError;
use crate::prng::Prng;
use crate::scenario::CtEvent;
use crate::world::{TRAIL_NAME, World};

/// A delivery window of one trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Events with `start <= eventTime < end` belong to this window.
    pub start: Millis,
    pub end: Millis,
    /// When the file is published (its key's date and minute).
    pub delivery: Millis,
}

/// How much background noise to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseBudget {
    /// This many noise records per ssm session event, spread evenly over time and trails.
    PerSsmEvent(u32),
    /// As much noise as needed for about this many uncompressed bytes in total.
    TargetBytes(u64),
}

/// Counts of what [`write()`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CtStats {
    pub files: u64,
    pub records: u64,
    pub duplicates: u64,
    pub ssm_session_events: u64,
    pub bytes: u64,
    pub compressed_bytes: u64,
    pub digest_files: u64,
}

/// A log file as written, for the digests that list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenLog {
    /// The trail (`account * regions + region`).
    pub stream: usize,
    /// S3 key (path under `cloudtrail/`).
    pub key: String,
    /// When it was delivered (its key's minute, plus seconds).
    pub delivery: Millis,
    pub oldest: Millis,
    pub newest: Millis,
    /// SHA-256 of the uncompressed file.
    pub sha256: [u8; 32],
    /// Holds only background noise: no record of the scenario (no ssm session event, no
    /// decoy the ground truth depends on), so deleting or changing it leaves the
    /// sessions and findings of `truth.json` as they are.
    pub background_only: bool,
}

/// The windows of `streams` trails covering `from..to`.
pub fn plan_windows(seed: u64, streams: usize, from: Millis, to: Millis) -> Vec<Vec<Window>> {
    (0..streams)
        .map(|stream| {
            let mut prng = Prng::derive(seed, "windows", stream as u64);
            let mut windows = Vec::new();
            let mut start = from;
            while start < to {
                let length = prng.between(5 * 60, 15 * 60 + 1) * SECOND;
                let end = (start + length).min(to);
                let delivery = end + prng.between(60, 301) * SECOND;
                windows.push(Window {
                    start,
                    end,
                    delivery,
                });
                start = end;
            }
            windows
        })
        .collect()
}

/// A writer that counts the bytes going through it.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Creates parent folders once each.
#[derive(Default)]
struct Folders(BTreeSet<PathBuf>);

impl Folders {
    fn ensure(&mut self, path: &Path) -> Result<(), GenerateError> {
        if let Some(parent) = path.parent()
            && !self.0.contains(parent)
        {
            fs::create_dir_all(parent).map_err(|e| GenerateError::io(parent, e))?;
            self.0.insert(parent.to_path_buf());
        }
        Ok(())
    }
}

/// Writes `{"Records":[...]}` gzipped to `path`; returns (uncompressed, compressed) bytes.
/// With `hasher`, the uncompressed bytes also go through it.
fn write_log_file(
    path: &Path,
    records: &[(Millis, String)],
    level: Compression,
    mut hasher: Option<&mut Sha256>,
) -> Result<(u64, u64), GenerateError> {
    let io_err = |e| GenerateError::io(path, e);
    let file = File::create(path).map_err(io_err)?;
    let counter = Counting {
        inner: BufWriter::with_capacity(1 << 17, file),
        count: 0,
    };
    let mut gz = GzEncoder::new(counter, level);
    let mut bytes = 0u64;
    let mut put = |gz: &mut GzEncoder<Counting<BufWriter<File>>>, data: &[u8]| {
        bytes += data.len() as u64;
        if let Some(hasher) = hasher.as_deref_mut() {
            hasher.update(data);
        }
        gz.write_all(data)
    };
    put(&mut gz, b"{\"Records\":[").map_err(io_err)?;
    for (i, (_, body)) in records.iter().enumerate() {
        if i > 0 {
            put(&mut gz, b",").map_err(io_err)?;
        }
        put(&mut gz, body.as_bytes()).map_err(io_err)?;
    }
    put(&mut gz, b"]}").map_err(io_err)?;
    let mut counter = gz.finish().map_err(io_err)?;
    counter.flush().map_err(io_err)?;
    Ok((bytes, counter.count))
}

/// A file the digest lists.
struct Listed {
    key: String,
    oldest: Millis,
    newest: Millis,
}

/// Writes every trail's log files for `from..to` under `out/cloudtrail/`. With
/// `signed`, returns each file written and writes no digest (the caller signs them);
/// otherwise writes the one unsigned digest and returns no file.
pub fn write(
    out: &Path,
    world: &World,
    events: Vec<CtEvent>,
    budget: NoiseBudget,
    (from, to): (Millis, Millis),
    seed: u64,
    signed: bool,
) -> Result<(CtStats, Vec<WrittenLog>), GenerateError> {
    let regions = world.regions.len();
    let streams = world.accounts.len() * regions;
    let windows = plan_windows(seed, streams, from, to);
    let level = match budget {
        NoiseBudget::TargetBytes(_) => Compression::fast(),
        NoiseBudget::PerSsmEvent(_) => Compression::default(),
    };
    let mut stats = CtStats::default();

    // Place the scenario's records in their windows.
    let mut fixed: Vec<Vec<Vec<(Millis, String)>>> = windows
        .iter()
        .map(|ws| vec![Vec::new(); ws.len()])
        .collect();
    let mut remaining_fixed = 0u64;
    for event in events {
        let stream = event.account * regions + event.region;
        let ws = &windows[stream];
        debug_assert!(
            event.at >= from && event.at < to,
            "event outside the period"
        );
        let own = ws.partition_point(|w| w.end <= event.at).min(ws.len() - 1);
        let index = (own + usize::from(event.delay)).min(ws.len() - 1);
        if event.ssm_session {
            stats.ssm_session_events += 1;
        }
        remaining_fixed += event.body.len() as u64 + 1;
        if event.duplicate && index + 1 < ws.len() {
            remaining_fixed += event.body.len() as u64 + 1;
            stats.duplicates += 1;
            fixed[stream][index + 1].push((event.at, event.body.clone()));
        }
        fixed[stream][index].push((event.at, event.body));
    }

    let mut order: Vec<(Millis, usize, usize)> = windows
        .iter()
        .enumerate()
        .flat_map(|(stream, ws)| {
            ws.iter()
                .enumerate()
                .map(move |(index, w)| (w.end, stream, index))
        })
        .collect();
    order.sort_unstable();

    let total_ms: f64 = windows
        .iter()
        .flatten()
        .map(|w| (w.end - w.start) as f64)
        .sum();
    let rate = match budget {
        NoiseBudget::PerSsmEvent(n) => {
            stats.ssm_session_events as f64 * f64::from(n) / total_ms.max(1.0)
        }
        NoiseBudget::TargetBytes(_) => 0.0,
    };
    let mut consumed_ms = 0.0f64;
    let mut carry = vec![0.0f64; streams];
    let mut late: Vec<BTreeMap<usize, Vec<(Millis, String)>>> = vec![BTreeMap::new(); streams];
    let (mut noise_bytes, mut noise_records) = (0u64, 0u64);
    let mut folders = Folders::default();
    let mut listed = Vec::new();
    let mut written = Vec::new();
    let mut files_prng = Prng::derive(seed, "files", 0);

    for (sequence, (_, stream, index)) in order.into_iter().enumerate() {
        let window = windows[stream][index];
        let (account, region) = (stream / regions, stream % regions);
        let length = (window.end - window.start) as f64;
        let mut records = std::mem::take(&mut fixed[stream][index]);
        let fixed_here: u64 = records.iter().map(|(_, b)| b.len() as u64 + 1).sum();
        remaining_fixed = remaining_fixed.saturating_sub(fixed_here);
        if let Some(arrived) = late[stream].remove(&index) {
            records.extend(arrived);
        }
        let wanted = match budget {
            NoiseBudget::PerSsmEvent(_) => rate * length + carry[stream],
            NoiseBudget::TargetBytes(target) => {
                let remaining_ms = (total_ms - consumed_ms).max(1.0);
                let here: u64 = records.iter().map(|(_, b)| b.len() as u64 + 1).sum();
                let need = target as f64
                    - stats.bytes as f64
                    - remaining_fixed as f64
                    - here as f64
                    - 14.0;
                let average = if noise_records > 0 {
                    noise_bytes as f64 / noise_records as f64
                } else {
                    1400.0
                };
                need.max(0.0) * length / remaining_ms / average + carry[stream]
            }
        };
        let count = wanted.max(0.0).floor();
        carry[stream] = wanted - count;
        consumed_ms += length;

        let mut prng = Prng::derive(seed, "noise", sequence as u64);
        let last = index + 1 >= windows[stream].len();
        for _ in 0..count as u64 {
            let at = prng.between(window.start, window.end);
            let body = noise::random(world, account, region, at, &mut prng).to_json();
            noise_bytes += body.len() as u64 + 1;
            noise_records += 1;
            if !last && prng.chance(0.002) {
                // Delivered one file late.
                late[stream].entry(index + 1).or_default().push((at, body));
                continue;
            }
            if !last && prng.chance(0.0003) {
                // Delivered twice: here and in the next file.
                stats.duplicates += 1;
                late[stream]
                    .entry(index + 1)
                    .or_default()
                    .push((at, body.clone()));
            }
            records.push((at, body));
        }
        if records.is_empty() {
            continue;
        }
        prng.shuffle(&mut records);
        let acct = &world.accounts[account];
        let key = layout::cloudtrail_key(
            acct,
            &world.regions[region],
            window.delivery,
            &files_prng.alnum(16),
        );
        let path = out.join(CLOUDTRAIL_DIR).join(&key);
        folders.ensure(&path)?;
        let mut hasher = signed.then(Sha256::new);
        let (bytes, compressed) = write_log_file(&path, &records, level, hasher.as_mut())?;
        stats.files += 1;
        stats.records += records.len() as u64;
        stats.bytes += bytes;
        stats.compressed_bytes += compressed;
        if let Some(hasher) = hasher {
            written.push(WrittenLog {
                stream,
                key,
                // The key names the minute; the object appears within it.
                delivery: window.delivery,
                oldest: records.iter().map(|(at, _)| *at).min().unwrap_or(from),
                newest: records.iter().map(|(at, _)| *at).max().unwrap_or(from),
                sha256: hasher.finalize().into(),
                background_only: fixed_here == 0,
            });
        } else if stream == 0 && window.delivery < from + HOUR {
            listed.push(Listed {
                key,
                oldest: records.iter().map(|(at, _)| *at).min().unwrap_or(from),
                newest: records.iter().map(|(at, _)| *at).max().unwrap_or(from),
            });
        }
    }

    if !signed {
        write_digest(out, world, &listed, from, &mut files_prng)?;
        stats.digest_files += 1;
    }
    Ok((stats, written))
}

/// The digest of the first account's first trail for the first hour.
fn write_digest(
    out: &Path,
    world: &World,
    listed: &[Listed],
    from: Millis,
    prng: &mut Prng,
) -> Result<(), GenerateError> {
    let account = &world.accounts[0];
    let region = &world.regions[0];
    let end = from + HOUR;
    let published = end + prng.between(1, 15) * MINUTE + prng.between(0, 60) * SECOND;
    let key = layout::digest_key(account, region, TRAIL_NAME, region, published, false);
    let bucket = format!("aws-cloudtrail-logs-{}-{}", account.id, prng.hex(8));
    let files: Vec<J> = listed
        .iter()
        .map(|file| {
            Obj::new()
                .with("s3Bucket", bucket.clone())
                .with("s3Object", file.key.clone())
                .with("hashValue", prng.hex(64))
                .with("hashAlgorithm", "SHA-256")
                .with("newestEventTime", clock::event_time(file.newest))
                .with("oldestEventTime", clock::event_time(file.oldest))
                .into()
        })
        .collect();
    let newest = listed.iter().map(|f| f.newest).max().unwrap_or(from);
    let oldest = listed.iter().map(|f| f.oldest).min().unwrap_or(from);
    let digest: J = Obj::new()
        .with("awsAccountId", account.id.clone())
        .with("digestStartTime", clock::event_time(from))
        .with("digestEndTime", clock::event_time(end))
        .with("digestS3Bucket", bucket.clone())
        .with("digestS3Object", key.clone())
        .with("digestPublicKeyFingerprint", prng.hex(32))
        .with("digestSignatureAlgorithm", "SHA256withRSA")
        .with("newestEventTime", clock::event_time(newest))
        .with("oldestEventTime", clock::event_time(oldest))
        .with("previousDigestS3Bucket", J::Null)
        .with("previousDigestS3Object", J::Null)
        .with("previousDigestHashValue", J::Null)
        .with("previousDigestHashAlgorithm", J::Null)
        .with("previousDigestSignature", J::Null)
        .with("logFiles", files)
        .into();
    let path = out.join(CLOUDTRAIL_DIR).join(&key);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| GenerateError::io(parent, e))?;
    }
    let io_err = |e| GenerateError::io(&path, e);
    let mut gz = GzEncoder::new(
        BufWriter::new(File::create(&path).map_err(io_err)?),
        Compression::default(),
    );
    gz.write_all(digest.to_json().as_bytes()).map_err(io_err)?;
    gz.finish().map_err(io_err)?.flush().map_err(io_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_period_and_deliver_after_closing() {
        let windows = plan_windows(3, 2, 0, 3 * HOUR);
        for ws in &windows {
            assert_eq!(ws[0].start, 0);
            assert_eq!(ws.last().unwrap().end, 3 * HOUR);
            for pair in ws.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
            for w in ws {
                assert!(w.end - w.start <= 15 * MINUTE);
                assert!(w.delivery >= w.end + MINUTE);
            }
        }
    }
}
