//! Broken and hostile input: each case gives a reject with its location (or is skipped
//! as not a session event), never a panic, and the good records around it are kept.

use std::io::Write;

use sessiontrail_ingest::broker_log::{BrokerRead, read_broker_log_file};
use sessiontrail_ingest::cloudtrail::{CloudTrailRead, read_cloudtrail, read_cloudtrail_file};

const GOOD: &str = r#"{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T10:00:00Z","eventID":"GOOD","awsRegion":"eu-west-1","requestParameters":{"target":"i-1"},"responseElements":{"sessionId":"u-0a"}}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn read_file(bytes: &[u8]) -> CloudTrailRead {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.json.gz");
    std::fs::write(&path, bytes).unwrap();
    let mut out = CloudTrailRead::default();
    read_cloudtrail_file(&path, &mut out);
    out
}

fn read(text: &[u8]) -> CloudTrailRead {
    let mut out = CloudTrailRead::default();
    read_cloudtrail(text, "t.json", &mut out);
    out
}

#[test]
fn truncated_gzip_keeps_the_records_before_the_cut() {
    let records: Vec<String> = (0..2000)
        .map(|i| GOOD.replace("GOOD", &format!("E{i}")))
        .collect();
    let file = gzip(format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes());
    let out = read_file(&file[..file.len() * 2 / 3]);
    assert!(
        out.events.len() > 100 && out.events.len() < 2000,
        "{}",
        out.events.len()
    );
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert!(
        out.rejects[0].reason.contains("could not be read past"),
        "{}",
        out.rejects[0].reason
    );
    assert!(out.rejects[0].location.byte_offset.is_some());
}

#[test]
fn gzip_of_garbage_and_garbage_with_gzip_magic() {
    let out = read_file(&gzip(&[0xff, 0xfe, 0x00, 0x01, 0x80].repeat(1000)));
    assert_eq!(out.events.len(), 0);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    let mut fake = vec![0x1f, 0x8b];
    fake.extend([0x42u8; 5000]);
    let out = read_file(&fake);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert!(
        out.rejects[0].reason.contains("could not be read"),
        "{}",
        out.rejects[0].reason
    );
}

#[test]
fn invalid_utf8_inside_a_session_record_is_a_reject_and_elsewhere_harmless() {
    let bad = GOOD.replace("i-1", "i-\u{1}").into_bytes();
    let mut bad_utf8 = GOOD.as_bytes().to_vec();
    let at = GOOD.find("i-1").unwrap();
    bad_utf8[at] = 0xff;
    let noise = b"{\"eventSource\":\"ec2.amazonaws.com\",\"x\":\"\xff\xfe\"}".to_vec();
    let mut text = Vec::new();
    for line in [bad_utf8, noise, GOOD.as_bytes().to_vec(), bad] {
        text.extend(line);
        text.push(b'\n');
    }
    let out = read(&text);
    assert_eq!(out.rejects.len(), 2, "{:?}", out.rejects);
    assert_eq!(out.rejects[0].location.line, Some(1));
    assert_eq!(out.events.len(), 1);
}

#[test]
fn a_100_mb_single_line_is_rejected_in_bounded_memory() {
    let mut line =
        br#"{"eventSource":"ssm.amazonaws.com","eventName":"StartSession","pad":""#.to_vec();
    line.extend(std::iter::repeat_n(b'x', 100 << 20));
    line.extend(b"\"}\n");
    line.extend(GOOD.as_bytes());
    line.push(b'\n');
    let out = read(&line);
    assert_eq!(out.events.len(), 1, "the next line is still read");
    assert_eq!(out.rejects.len(), 1);
    assert!(
        out.rejects[0].reason.contains("larger than"),
        "{}",
        out.rejects[0].reason
    );
    assert_eq!(out.rejects[0].location.line, Some(1));
}

#[test]
fn deep_nesting_is_a_reject() {
    let deep = format!(
        "{{\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"StartSession\",\"x\":{}1{}}}\n{GOOD}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let out = read(deep.as_bytes());
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    let shallow_but_past_serde = format!(
        "{{\"eventSource\":\"ssm.amazonaws.com\",\"eventName\":\"StartSession\",\"x\":{}1{}}}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let out = read(shallow_but_past_serde.as_bytes());
    assert_eq!(
        out.rejects.len(),
        1,
        "serde_json's recursion limit gives a reject"
    );
}

#[test]
fn wrong_json_types_in_every_field_read() {
    let record: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    let fields = [
        "/eventVersion",
        "/eventTime",
        "/eventID",
        "/awsRegion",
        "/requestParameters",
        "/requestParameters/target",
        "/responseElements",
        "/responseElements/sessionId",
    ];
    for field in fields {
        for wrong in [
            serde_json::json!(7),
            serde_json::json!([1]),
            serde_json::json!(true),
        ] {
            let mut broken = record.clone();
            *broken.pointer_mut(field).unwrap() = wrong.clone();
            let out = read(broken.to_string().as_bytes());
            assert_eq!(out.rejects.len(), 1, "{field} = {wrong}: {:?}", out.events);
            assert!(!out.rejects[0].reason.is_empty());
        }
    }
    for wrong in [serde_json::json!(7), serde_json::json!("StopSession")] {
        let mut other = record.clone();
        other["eventName"] = wrong;
        let out = read(other.to_string().as_bytes());
        assert_eq!(
            (out.events.len(), out.rejects.len()),
            (0, 0),
            "not a session event: skipped"
        );
    }
}

#[test]
fn unknown_event_versions() {
    for (version, ok) in [
        ("1.99", true),
        ("1.12", true),
        ("2.0", false),
        ("one", false),
    ] {
        let out = read(GOOD.replace("1.09", version).as_bytes());
        assert_eq!(out.events.len() == 1, ok, "{version}: {:?}", out.rejects);
    }
}

#[test]
fn records_missing_each_field_in_turn() {
    let record: serde_json::Value = serde_json::from_str(GOOD).unwrap();
    for key in record.as_object().unwrap().keys() {
        let mut missing = record.clone();
        missing.as_object_mut().unwrap().remove(key);
        let out = read(missing.to_string().as_bytes());
        // Without responseElements (a sanitised record) the start is still an event,
        // with no session id.
        let required = ["eventTime", "eventID"].contains(&key.as_str());
        let skipped = ["eventSource", "eventName"].contains(&key.as_str());
        match (required, skipped) {
            (true, _) => assert_eq!(out.rejects.len(), 1, "without {key}"),
            _ if key == "responseElements" => {
                assert_eq!(out.events.len(), 1, "without {key}: {:?}", out.rejects);
                assert_eq!(out.events[0].session_id, None);
                assert_eq!(out.events[0].error_code, None);
            }
            (_, true) => assert_eq!(
                (out.events.len(), out.rejects.len()),
                (0, 0),
                "without {key}"
            ),
            _ => assert_eq!(out.events.len(), 1, "without {key}: {:?}", out.rejects),
        }
    }
}

#[test]
fn hostile_strings_in_broker_records_are_kept_as_data() {
    let hostile = r#"<script>alert("x")</script>'; DROP TABLE sessions; --\n\u0000"#;
    let record = serde_json::json!({"v": 1, "ts": "2026-02-01T10:00:00Z", "request_id": hostile,
        "caller_arn": hostile, "account_id": hostile, "region": hostile, "target": hostile,
        "document_name": hostile, "permission_set": hostile, "outcome": "started", "session_id": hostile});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.jsonl");
    std::fs::write(&path, format!("{record}\n")).unwrap();
    let mut out = BrokerRead::default();
    read_broker_log_file(&path, &mut out);
    assert_eq!(out.records.len(), 1, "{:?}", out.rejects);
    assert_eq!(
        out.records[0].target,
        serde_json::from_value::<String>(serde_json::json!(hostile)).unwrap()
    );
}
