//! The evidence crate's parsers of outside bytes: a digest file's JSON, a sidecar
//! (head-object output), a list-public-keys file, digest and log file keys. Each
//! returns an error or a value, never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiontrail_evidence::digest_key::{parse_digest_key, parse_log_file_key};
use sessiontrail_evidence::signature::{parse_sidecar, string_to_sign};
use sessiontrail_evidence::{PublicKeys, Sha256Hash, parse_digest};

fuzz_target!(|data: &[u8]| {
    if let Ok(digest) = parse_digest(data, "fuzz") {
        let text = string_to_sign(&digest, &Sha256Hash::of(data));
        assert!(text.starts_with(&digest.digest_end_time_text));
        assert!(digest.previous.is_some() || text.ends_with("\nnull"));
    }
    let _ = parse_sidecar(data, "fuzz");
    let _ = PublicKeys::from_list_public_keys_json(data, "fuzz");
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_digest_key(text);
        let _ = parse_log_file_key(text);
    }
});
