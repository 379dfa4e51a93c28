//! Any bytes as a broker log in any wrapper (JSON lines, CloudWatch export lines,
//! subscription payloads, encoded or decoded).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sessiontrail_ingest::invariants::check_broker_log_bytes(data));
