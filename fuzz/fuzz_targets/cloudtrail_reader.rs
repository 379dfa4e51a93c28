//! Any bytes as a CloudTrail input of any form (log file, EventBridge envelope,
//! lookup-events output, JSON lines): form detection, the structural splitter and the
//! record reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sessiontrail_ingest::invariants::check_cloudtrail_bytes(data));
