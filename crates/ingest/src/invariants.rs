//! Checks of the readers' promises on arbitrary input, shared by the fuzz targets
//! (`fuzz/`) and the test that replays their corpora and regressions in CI. Each
//! function reads the bytes and panics if a promise is broken.

use crate::arn::{Arn, permission_set_of_arn, permission_set_of_role_name, user_name_of_arn};
use crate::broker_log::{BrokerRead, read_broker_log};
use crate::cloudtrail::{CloudTrailRead, read_cloudtrail};

/// CloudTrail input of any form: no panic, every reject located inside the input,
/// every byte accounted for, every event with an id and a session id unless failed.
pub fn check_cloudtrail_bytes(data: &[u8]) {
    let mut out = CloudTrailRead::default();
    read_cloudtrail(data, "input", &mut out);
    assert_eq!(out.stats.bytes, data.len() as u64, "every byte is read");
    assert_eq!(out.stats.rejected as usize, out.rejects.len());
    assert_eq!(out.stats.session_events as usize, out.events.len());
    for reject in &out.rejects {
        let offset = reject
            .location
            .byte_offset
            .expect("rejects carry an offset");
        assert!(offset <= data.len() as u64, "{reject}");
        assert!(!reject.reason.is_empty());
    }
    for event in &out.events {
        assert!(!event.event_id.is_empty());
        assert!(event.failed() || event.session_id.is_some());
    }
}

/// A broker log in any wrapper: no panic, counts agree, and a record never holds a
/// value from a key named like a token.
pub fn check_broker_log_bytes(data: &[u8]) {
    let mut out = BrokerRead::default();
    read_broker_log(data, "input", &mut out);
    assert_eq!(out.stats.records as usize, out.records.len());
    assert_eq!(out.stats.rejected as usize, out.rejects.len());
    for record in &out.records {
        assert!(!record.request_id.is_empty());
    }
}

/// ARN parsing on any text: no panic, and a permission set is what lies between
/// `AWSReservedSSO_` and the last underscore.
pub fn check_arn_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(arn) = Arn::parse(text) {
        let _ = arn.role_name();
        let _ = arn.user_name();
    }
    if let Some(set) = permission_set_of_role_name(text) {
        let rest = text.strip_prefix("AWSReservedSSO_").expect("the prefix");
        assert!(rest.starts_with(set) && rest.as_bytes().get(set.len()) == Some(&b'_'));
        assert!(
            !rest[set.len() + 1..].contains('_'),
            "only the last underscore is stripped"
        );
    }
    let _ = permission_set_of_arn(text);
    let _ = user_name_of_arn(text);
}
