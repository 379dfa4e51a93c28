//! The CloudTrail user guide's published samples (tests/data/README.md), parsed.

use sessiontrail_evidence::digest::parse_digest;
use sessiontrail_evidence::digest_key::parse_digest_key;

#[test]
fn the_user_guide_s_sample_digest_parses_with_its_values() {
    let content = include_bytes!("data/user-guide-digest.json");
    let digest = parse_digest(content, "user-guide-digest.json").unwrap();
    assert_eq!(digest.aws_account_id, "111122223333");
    assert_eq!(
        digest.digest_start_time.to_rfc3339(),
        "2015-08-17T14:01:31+00:00"
    );
    assert_eq!(digest.digest_end_time_text, "2015-08-17T15:01:31Z");
    assert_eq!(digest.digest_s3_bucket, "S3-bucket-name");
    assert_eq!(
        digest.digest_public_key_fingerprint,
        "31e8b5433410dfb61a9dc45cc65b22ff"
    );
    assert_eq!(digest.digest_signature_algorithm, "SHA256withRSA");
    let previous = digest.previous.as_ref().unwrap();
    assert_eq!(
        previous.hash_value.to_hex(),
        "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d"
    );
    assert_eq!(previous.hash_algorithm, "SHA-256");
    assert_eq!(previous.signature.len(), 512);
    assert_eq!(digest.log_files.len(), 1);
    let log = &digest.log_files[0];
    assert_eq!(
        log.s3_object,
        "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz"
    );
    assert_eq!(
        log.hash_value.to_hex(),
        "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6"
    );
    let key = parse_digest_key(&digest.digest_s3_object).unwrap();
    assert_eq!(key.trail.trail_name, "your-trail-name");
    assert_eq!(key.end_time, digest.digest_end_time);
    let previous_key = parse_digest_key(&previous.s3_object).unwrap();
    assert_eq!(
        previous_key.end_time.to_rfc3339(),
        "2015-08-17T14:01:31+00:00"
    );
}

#[test]
fn the_user_guide_s_empty_digest_parses() {
    let content = include_bytes!("data/user-guide-empty-digest.json");
    let digest = parse_digest(content, "user-guide-empty-digest.json").unwrap();
    assert!(digest.log_files.is_empty());
    assert_eq!(digest.newest_event_time, None);
    assert!(digest.previous.is_some());
}

#[test]
fn a_previous_hash_of_63_hex_digits_is_refused_naming_the_field() {
    // As in a public test corpus (elastic/integrations, packages/aws/.../test-cloudtrail-digest-json.log).
    let text = String::from_utf8(include_bytes!("data/user-guide-digest.json").to_vec()).unwrap();
    let short = text.replace(
        "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
        "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2",
    );
    let err = parse_digest(short.as_bytes(), "d.json.gz").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("previousDigestHashValue"));
    assert_eq!(
        err.to_string(),
        "d.json.gz: field previousDigestHashValue: \"97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2\" is 63 hex digits, not the 64 hex digits of a SHA-256 hash"
    );
}
