//! How much one input may cost: the byte limits every decoder works within, so memory
//! stays bounded whatever the input (a gzip bomb, a huge line, a payload of a million
//! tiny values), and what cannot be read within them is a [`Reject`] naming the input,
//! never an error that fails a run or a Lambda invocation forever.
//!
//! | what | limit | beyond it |
//! |---|---|---|
//! | an S3 object (as stored, compressed) | [`InputLimits::max_object_bytes`], default [`MAX_OBJECT_BYTES`] (2 GiB) | a reject naming the object and its size; not downloaded |
//! | content inflated from one gzip stream | [`InputLimits::max_inflated_bytes`] (16 GiB) and [`InputLimits::max_inflation_ratio`] (256 times the compressed size, once past [`INFLATION_RATIO_FLOOR`], 64 MiB) | what came before is read; a reject "could not be read past byte N" |
//! | one CloudTrail record, one broker log line | [`MAX_RECORD_BYTES`] (64 MiB) | a reject; skipped without being buffered |
//! | a decoded `awslogs.data` subscription payload | [`MAX_SUBSCRIPTION_PAYLOAD_BYTES`] (16 MiB; its values parsed within 32 MiB) | a reject |
//! | what parsing one JSON text into values may take | [`MAX_PARSED_JSON_BYTES`] (128 MiB, estimated by [`parsed_json_bound`] before parsing) | a reject |
//! | rejects and token leaks kept per file | [`MAX_REJECTS_PER_FILE`], [`MAX_LEAKS_PER_FILE`] | counted; one reject (one leak) stands for the rest |
//!
//! Files and objects up to [`crate::input_files::WHOLE_FILE_COMPRESSED_LIMIT`] (32 MiB)
//! whose gzip trailer states at most 64 MiB (and at most 64 times their size) are
//! inflated whole; everything else is streamed, so a reading thread holds at most one
//! record or line, one read buffer and one parsed record.

use std::io::{self, Read};

use crate::reject::{InputKind, Location, Reject};

/// A CloudTrail record (or broker log line) larger than this is rejected without being
/// buffered whole.
pub use crate::json_split::MAX_RECORD_BYTES;

/// Default [`InputLimits::max_object_bytes`]: 2 GiB as stored.
pub const MAX_OBJECT_BYTES: u64 = 2 << 30;
/// Default [`InputLimits::max_inflated_bytes`]: 16 GiB.
pub const MAX_INFLATED_BYTES: u64 = 16 << 30;
/// Default [`InputLimits::max_inflation_ratio`]. CloudTrail and broker logs compress
/// 10 to 70 times (the generator's 1 GB single-file set: 67); deflate's ceiling is
/// about 1,032, which only a bomb reaches.
pub const MAX_INFLATION_RATIO: u64 = 256;
/// Content up to this size is never held to the ratio (a small file compressing very
/// well is harmless).
pub const INFLATION_RATIO_FLOOR: u64 = 64 << 20;
/// A decoded subscription payload (`awslogs.data`) larger than this is a reject.
/// CloudWatch Logs puts at most about 1 MB of log events in one payload.
pub const MAX_SUBSCRIPTION_PAYLOAD_BYTES: u64 = 16 << 20;
/// What parsing one JSON text into `serde_json::Value`s may take, as estimated by
/// [`parsed_json_bound`]: twice the record limit, so any record of plain strings within
/// [`MAX_RECORD_BYTES`] is parsed.
pub const MAX_PARSED_JSON_BYTES: u64 = 2 * MAX_RECORD_BYTES as u64;
/// Rejects kept per file; past it they are counted and one reject says how many more.
pub const MAX_REJECTS_PER_FILE: usize = 10_000;
/// Token leaks kept per file; past it one more leak, at the first line not kept,
/// stands for the rest (its paths the union of theirs, at most [`MAX_LEAK_PATHS`]).
pub const MAX_LEAKS_PER_FILE: usize = 1_000;
/// Distinct token paths kept for the leak standing for the rest of a file.
pub const MAX_LEAK_PATHS: usize = 100;

/// The limits one read works within. [`InputLimits::default`] is what the command line
/// and the Lambda use; `sessiontrail_aws::s3::S3::with_input_limits` sets them for S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// An S3 object larger than this, as stored, is not read: a reject naming the
    /// object and its size. Local files are streamed whatever their size.
    pub max_object_bytes: u64,
    /// Content inflated from one gzip stream (a file, an object) past this is not read.
    pub max_inflated_bytes: u64,
    /// Content inflated past this many times its compressed size (once past
    /// [`INFLATION_RATIO_FLOOR`]) is not read: a gzip bomb.
    pub max_inflation_ratio: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_object_bytes: MAX_OBJECT_BYTES,
            max_inflated_bytes: MAX_INFLATED_BYTES,
            max_inflation_ratio: MAX_INFLATION_RATIO,
        }
    }
}

impl InputLimits {
    /// How many bytes a gzip stream of `compressed` bytes may inflate to (`None`: the
    /// compressed size is not known).
    pub fn inflated_limit(&self, compressed: Option<u64>) -> u64 {
        let by_ratio = compressed.map_or(u64::MAX, |c| {
            c.saturating_mul(self.max_inflation_ratio)
                .max(INFLATION_RATIO_FLOOR)
        });
        by_ratio.min(self.max_inflated_bytes)
    }

    /// The reject for an object larger than [`InputLimits::max_object_bytes`], or None.
    pub fn object_too_large(&self, kind: InputKind, name: &str, size: u64) -> Option<Reject> {
        (size > self.max_object_bytes).then(|| {
            Reject::new(
                kind,
                Location::file(name),
                format!(
                    "object of {size} bytes is larger than the {} byte limit for an input object ({}): not read",
                    self.max_object_bytes,
                    human_bytes(self.max_object_bytes)
                ),
            )
        })
    }
}

/// The rejects of one file past [`MAX_REJECTS_PER_FILE`]: not listed but counted, and
/// one reject, at the first not listed, says how many.
#[derive(Debug, Default, Clone)]
pub struct RejectOverflow {
    listed: usize,
    more: Option<(Location, u64)>,
}

impl RejectOverflow {
    /// Whether a reject at `location` is listed; when it is not, it is counted.
    pub fn admit(&mut self, location: &Location) -> bool {
        if self.listed < MAX_REJECTS_PER_FILE {
            self.listed += 1;
            return true;
        }
        self.more.get_or_insert_with(|| (location.clone(), 0)).1 += 1;
        false
    }

    /// The reject standing for those not listed: "N more `what` (only the first ...".
    pub fn finish(self, kind: InputKind, what: &str) -> Option<Reject> {
        self.more.map(|(location, count)| {
            Reject::new(
                kind,
                location,
                format!(
                    "{count} more {what} (only the first {MAX_REJECTS_PER_FILE} rejects of a file are listed)"
                ),
            )
        })
    }
}

/// `2 GiB`, `64 MiB`, `254.8 MiB`, `512 bytes`.
pub fn human_bytes(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    if bytes >= 1 << 20 {
        return format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20));
    }
    if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        return format!("{} KiB", bytes >> 10);
    }
    format!("{bytes} bytes")
}

/// A reader of inflated content that fails (with [`io::ErrorKind::InvalidData`]) once
/// more than `limit` bytes came out of it, so whoever reads it rejects the rest and
/// keeps what came before.
pub struct InflateLimit<R> {
    inner: R,
    limit: u64,
    compressed: Option<u64>,
    read: u64,
}

impl<R: Read> InflateLimit<R> {
    pub fn new(inner: R, limit: u64, compressed: Option<u64>) -> Self {
        InflateLimit {
            inner,
            limit,
            compressed,
            read: 0,
        }
    }
}

impl<R: Read> Read for InflateLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read >= self.limit {
            // One byte more tells a stream that ends exactly at the limit from one
            // that goes on.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            let ratio = match self.compressed {
                Some(compressed) if compressed > 0 => {
                    format!(
                        ", more than {} times its {compressed} compressed bytes",
                        self.limit / compressed
                    )
                }
                _ => String::new(),
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "gzip content inflates past the {} limit ({} bytes{ratio}): not read further (a gzip bomb?)",
                    human_bytes(self.limit),
                    self.limit
                ),
            ));
        }
        let room = (self.limit - self.read).min(buf.len() as u64) as usize;
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        Ok(n)
    }
}

/// An upper bound of what parsing `json` into `serde_json::Value`s takes in memory: its
/// bytes (strings), plus for every `{` a map node (serde_json's `BTreeMap` allocates
/// about 630 bytes for a map's first entries), plus for every `[`, `,` and `:` a value
/// with room for its array to grow (96 bytes). Brackets and separators inside strings
/// count too, so the bound only errs high. Counted before parsing, so a line of a
/// million `{"a":0}` is a reject rather than gigabytes of maps.
pub fn parsed_json_bound(json: &[u8]) -> u64 {
    let (mut maps, mut values) = (0u64, 0u64);
    for &byte in json {
        match byte {
            b'{' => maps += 1,
            b'[' | b',' | b':' => values += 1,
            _ => {}
        }
    }
    json.len() as u64 + maps * 640 + values * 96
}

/// The reason a JSON text is not parsed (it could take more than `limit` bytes once
/// parsed, usually [`MAX_PARSED_JSON_BYTES`]), or None.
pub fn json_too_costly(json: &[u8], limit: u64) -> Option<String> {
    let bound = parsed_json_bound(json);
    (bound > limit).then(|| {
        format!(
            "JSON of {} bytes holds too many values: parsing it could take up to {} MiB, more than the {} limit",
            json.len(),
            bound >> 20,
            human_bytes(limit)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflated_limit_by_ratio_floor_and_cap() {
        let limits = InputLimits::default();
        assert_eq!(limits.inflated_limit(Some(1 << 20)), 256 << 20);
        assert_eq!(limits.inflated_limit(Some(10)), INFLATION_RATIO_FLOOR);
        assert_eq!(limits.inflated_limit(Some(1 << 30)), MAX_INFLATED_BYTES);
        assert_eq!(limits.inflated_limit(None), MAX_INFLATED_BYTES);
    }

    #[test]
    fn the_inflate_limit_passes_content_up_to_it_and_fails_past_it() {
        let mut out = Vec::new();
        InflateLimit::new(&[7u8; 100][..], 100, Some(1))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), 100);
        let mut out = Vec::new();
        let err = InflateLimit::new(&[7u8; 101][..], 100, Some(1))
            .read_to_end(&mut out)
            .unwrap_err();
        assert_eq!(out.len(), 100);
        assert_eq!(
            err.to_string(),
            "gzip content inflates past the 100 bytes limit (100 bytes, more than 100 times its 1 compressed bytes): not read further (a gzip bomb?)"
        );
    }

    #[test]
    fn object_size_and_parse_cost() {
        let limits = InputLimits {
            max_object_bytes: 1 << 30,
            ..Default::default()
        };
        assert!(
            limits
                .object_too_large(InputKind::Cloudtrail, "s3://b/k", 1 << 30)
                .is_none()
        );
        let reject = limits
            .object_too_large(InputKind::Cloudtrail, "s3://b/k", (1 << 30) + 1)
            .unwrap();
        assert_eq!(
            reject.reason,
            "object of 1073741825 bytes is larger than the 1073741824 byte limit for an input object (1 GiB): not read"
        );
        assert_eq!(reject.location.file, "s3://b/k");
        assert_eq!(parsed_json_bound(br#"{"a":[1,2]}"#), 11 + 640 + 3 * 96);
        assert_eq!(human_bytes(2 << 30), "2 GiB");
        assert_eq!(human_bytes(267_175_936), "254.8 MiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
        assert!(json_too_costly(&vec![b'x'; MAX_RECORD_BYTES], MAX_PARSED_JSON_BYTES).is_none());
        let maps = br#"{"a":0},"#.repeat(300_000);
        assert!(json_too_costly(&maps, MAX_PARSED_JSON_BYTES).is_some());
    }
}
