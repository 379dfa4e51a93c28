//! The policy parser on any text. The policy module is compiled here on its own (it
//! needs only serde and toml), so the fuzzer does not build datafusion.
#![no_main]

#[path = "../../crates/correlate/src/duration.rs"]
#[allow(dead_code)]
mod duration;
#[path = "../../crates/correlate/src/policy.rs"]
#[allow(dead_code)]
mod policy;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        policy::check_parse_invariants(text);
    }
});
