//! Checks of the readers' promises on arbitrary input, shared by the fuzz targets
//! (`fuzz/`) and the test that replays their corpora and regressions in CI. Each
//! function reads the bytes and panics if a promise is broken.

use crate::arn::{Arn, permission_set_of_arn, permission_set_of_role_name, user_name_of_arn};
use crate::broker_log::{BrokerRead, read_broker_log};
use crate::cloudtrail::{CloudTrailRead, read_cloudtrail};
use crate::limits::MAX_REJECTS_PER_FILE;
use crate::text_encoding::decode_text;
use crate::token_leak::{redact_tokens, token_paths};

/// CloudTrail input of any form: no panic, every reject located inside the input,
/// every byte accounted for, every event with an id and a session id unless failed.
pub fn check_cloudtrail_bytes(data: &[u8]) {
    let mut out = CloudTrailRead::default();
    read_cloudtrail(data, "input", &mut out);
    assert_eq!(out.stats.bytes, data.len() as u64, "every byte is read");
    assert_eq!(listed_rejects(out.stats.rejected), out.rejects.len());
    assert_eq!(out.stats.session_events as usize, out.events.len());
    // Offsets count in the text the parsers saw (a UTF-16 input's UTF-8 transcoding),
    // plus a UTF-8 byte-order mark.
    let decoded = decode_text(data);
    let text_end = decoded.text.len() as u64 + decoded.encoding.offset_bias();
    for reject in &out.rejects {
        let offset = reject
            .location
            .byte_offset
            .expect("rejects carry an offset");
        assert!(offset <= text_end, "{reject}");
        assert!(!reject.reason.is_empty());
    }
    for event in &out.events {
        assert!(!event.event_id.is_empty());
        assert!(event.failed() || event.session_id.is_some() || event.response_withheld());
    }
}

/// A broker log in any wrapper: no panic, counts agree, identifiers are never empty,
/// and no kept value (of a record or of a token leak) holds a token.
pub fn check_broker_log_bytes(data: &[u8]) {
    let mut out = BrokerRead::default();
    read_broker_log(data, "input", &mut out);
    assert_eq!(out.stats.records as usize, out.records.len());
    assert_eq!(listed_rejects(out.stats.rejected), out.rejects.len());
    assert_eq!(out.stats.bytes, data.len() as u64, "every byte is read");
    assert!(out.stats.records + out.stats.ignored + out.stats.rejected >= out.stats.messages);
    for record in &out.records {
        assert!(!record.request_id.trim().is_empty());
        assert!(!record.caller_arn.trim().is_empty());
        assert!(
            record
                .session_id
                .as_ref()
                .is_none_or(|s| !s.trim().is_empty())
        );
        let kept = serde_json::to_value(record).expect("a record serialises");
        let kept = kept.as_object().expect("an object");
        assert!(
            token_paths(kept)
                .iter()
                .all(|p| p.starts_with("token_paths")),
            "a kept value holds a token: {record:?}"
        );
    }
    for leak in &out.leaks {
        assert!(!leak.token_paths.is_empty());
        for value in [
            &leak.request_id,
            &leak.session_id,
            &leak.caller_arn,
            &leak.account_id,
            &leak.region,
            &leak.target,
        ]
        .into_iter()
        .flatten()
        {
            assert_eq!(redact_tokens(value), value.as_str(), "{leak:?}");
        }
    }
}

/// How many rejects a file of `rejected` rejected records lists: all of them, or the
/// first [`MAX_REJECTS_PER_FILE`] and one for the rest.
fn listed_rejects(rejected: u64) -> usize {
    (rejected as usize).min(MAX_REJECTS_PER_FILE + 1)
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
