//! SHA-256 over a file's uncompressed bytes, as digests list log files (and as a
//! digest's `previousDigestHashValue` names the previous digest).
//!
//! Hashing is built to sit in the pass that already inflates a file: [`LogHasher`] takes
//! the inflated bytes as they come ([`LogHasher::update`]), and [`HashingReader`] wraps
//! any reader of inflated content, so a reader that parses the content for correlation
//! hashes it at the same time, without reading the file twice. [`hash_file`] is the
//! stand-alone form `verify` uses.

use std::fmt;
use std::io::{self, Read};
use std::path::Path;

use aws_lc_rs::digest;
use sessiontrail_ingest::input_files::{InputContent, ReadBuffers, open_content};

use crate::hex;

/// A SHA-256 value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hash(pub [u8; 32]);

impl Sha256Hash {
    /// Exactly 64 hex digits (either case); anything else says what it is instead.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        if !hex::is_hex_of_len(text, 64) {
            let what = if text.bytes().all(|c| c.is_ascii_hexdigit()) {
                format!("{} hex digits", text.len())
            } else {
                format!("{} characters, not all hex digits", text.chars().count())
            };
            return Err(format!(
                "is {what}, not the 64 hex digits of a SHA-256 hash"
            ));
        }
        let bytes = hex::decode(text).expect("64 hex digits decode");
        Ok(Sha256Hash(bytes.try_into().expect("32 bytes")))
    }

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = LogHasher::new();
        hasher.update(bytes);
        hasher.finish().0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.to_hex())
    }
}

/// SHA-256 fed piece by piece with a file's uncompressed bytes (aws-lc: the CPU's SHA
/// extensions where it has them).
pub struct LogHasher {
    context: digest::Context,
    bytes: u64,
}

impl Default for LogHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl LogHasher {
    pub fn new() -> Self {
        LogHasher {
            context: digest::Context::new(&digest::SHA256),
            bytes: 0,
        }
    }

    /// The next uncompressed bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
        self.bytes += bytes.len() as u64;
    }

    /// The hash, and how many bytes it covers.
    pub fn finish(self) -> (Sha256Hash, u64) {
        let value = self.context.finish();
        let hash = Sha256Hash(value.as_ref().try_into().expect("SHA-256 is 32 bytes"));
        (hash, self.bytes)
    }
}

/// A reader of uncompressed content that hashes every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: LogHasher,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: LogHasher::new(),
        }
    }

    /// The hash of what was read so far (all of it, once the reader returned 0), and
    /// how many bytes that was.
    pub fn finish(self) -> (Sha256Hash, u64) {
        self.hasher.finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The SHA-256 of a file's content, gunzipped when it starts with the gzip magic bytes
/// (as the ingest reads it), and the content's length.
pub fn hash_file(path: &Path, buffers: &mut ReadBuffers) -> io::Result<(Sha256Hash, u64)> {
    match open_content(path, buffers)? {
        InputContent::Whole(bytes) => {
            let mut hasher = LogHasher::new();
            hasher.update(bytes);
            Ok(hasher.finish())
        }
        InputContent::Stream(stream) => {
            let mut reader = HashingReader::new(stream);
            io::copy(&mut reader, &mut io::sink())?;
            Ok(reader.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    // FIPS 180-2 test vector: SHA-256("abc").
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hashes_the_fips_test_vector_in_pieces_and_through_a_reader() {
        let mut hasher = LogHasher::new();
        hasher.update(b"a");
        hasher.update(b"bc");
        assert_eq!(hasher.finish(), (Sha256Hash::from_hex(ABC).unwrap(), 3));
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(reader.finish().0.to_hex(), ABC);
    }

    #[test]
    fn hashes_a_gzipped_file_over_its_uncompressed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"abc").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let (hash, len) = hash_file(&path, &mut ReadBuffers::default()).unwrap();
        assert_eq!((hash.to_hex().as_str(), len), (ABC, 3));
    }

    #[test]
    fn a_hash_of_63_hex_digits_is_refused_saying_so() {
        let err = Sha256Hash::from_hex(&ABC[..63]).unwrap_err();
        assert!(err.contains("63 hex digits"), "{err}");
        assert!(Sha256Hash::from_hex(&ABC.replace('b', "x")).is_err());
    }
}
