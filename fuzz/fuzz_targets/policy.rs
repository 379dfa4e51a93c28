//! The policy parser on any text. sessiontrail-correlate is built without its
//! `dataset` feature (fuzz/Cargo.toml), so the fuzzer does not build datafusion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sessiontrail_correlate::policy::check_parse_invariants;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_parse_invariants(text);
    }
});
