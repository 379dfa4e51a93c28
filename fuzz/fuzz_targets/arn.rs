//! ARN parsing and the permission-set rule on any string.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sessiontrail_ingest::invariants::check_arn_text(data));
