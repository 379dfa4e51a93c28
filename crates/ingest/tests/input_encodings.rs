//! Input encodings people really produce: every CloudTrail form and every broker log
//! wrapper, saved as UTF-8, UTF-8 with a byte-order mark, UTF-16LE with a mark and CRLF
//! (Windows PowerShell's `aws ... > file.json`), UTF-16BE, UTF-16LE without a mark, and
//! gzipped, is read as the same records; and reject locations keep their meaning.
//! Inputs are written here by hand; expected ids and offsets are worked out from them.

use std::io::Write;

use sessiontrail_ingest::broker_log::{BrokerRead, read_broker_log_file};
use sessiontrail_ingest::cloudtrail::{CloudTrailRead, read_cloudtrail_file};
use sessiontrail_ingest::input_files::EVENT_HISTORY_CSV_REASON;
use sessiontrail_ingest::{read_broker_log_paths, read_cloudtrail_paths};

fn start(id: &str, session: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T09:15:00Z","eventID":"{id}","awsRegion":"eu-west-1","userAgent":"aws-cli/2 café 中 😀","requestParameters":{{"target":"i-0abc"}},"responseElements":{{"sessionId":"{session}"}}}}"#
    )
}

const NOISE: &str = r#"{"eventVersion":"1.09","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","eventTime":"2026-02-01T09:15:00Z","eventID":"N1"}"#;

/// A form's name, its text, and the (eventID, sessionId) pairs it holds.
type Form = (&'static str, String, Vec<(&'static str, &'static str)>);

fn cloudtrail_forms() -> Vec<Form> {
    let a = start("E1", "alice-0a1b2c3d4e5f60718");
    let b = start("E2", "bob-0f1e2d3c4b5a69788");
    let envelope = |record: &str| {
        format!(
            r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm","account":"111122223333","region":"eu-west-1","detail":{record}}}"#
        )
    };
    let lookup = serde_json::to_string_pretty(&serde_json::json!({
        "Events": [
            {"EventId": "E1", "EventName": "StartSession", "CloudTrailEvent": a},
            {"EventId": "N1", "EventName": "DescribeInstances", "CloudTrailEvent": NOISE},
            {"EventId": "E2", "EventName": "StartSession", "CloudTrailEvent": b},
        ],
        "NextToken": "abc"
    }))
    .unwrap();
    let both = vec![
        ("E1", "alice-0a1b2c3d4e5f60718"),
        ("E2", "bob-0f1e2d3c4b5a69788"),
    ];
    vec![
        (
            "log file",
            format!(r#"{{"Records":[{a},{NOISE},{b}]}}"#),
            both.clone(),
        ),
        ("lookup-events output (pretty)", lookup, both.clone()),
        (
            "EventBridge envelopes, one per line",
            format!("{}\n{}\n", envelope(&a), envelope(&b)),
            both.clone(),
        ),
        (
            "JSON lines of records",
            format!("{a}\n{NOISE}\n{b}\n"),
            both.clone(),
        ),
        (
            "a pretty-printed array",
            serde_json::to_string_pretty(&serde_json::json!([
                serde_json::from_str::<serde_json::Value>(&a).unwrap(),
                serde_json::from_str::<serde_json::Value>(&b).unwrap()
            ]))
            .unwrap(),
            both.clone(),
        ),
        (
            "one EventBridge envelope per file",
            serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(&envelope(&a)).unwrap(),
            )
            .unwrap(),
            vec![("E1", "alice-0a1b2c3d4e5f60718")],
        ),
    ]
}

fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
    bom.then_some(0xFEFFu16)
        .into_iter()
        .chain(text.encode_utf16())
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The text in every encoding, each with its name.
fn encodings(text: &str) -> Vec<(&'static str, Vec<u8>)> {
    let crlf = text.replace('\n', "\r\n");
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(text.as_bytes());
    vec![
        ("UTF-8", text.as_bytes().to_vec()),
        ("UTF-8 with BOM", bom.clone()),
        ("UTF-8 with BOM, gzipped", gzip(&bom)),
        ("UTF-16LE with BOM and CRLF", utf16(&crlf, false, true)),
        (
            "UTF-16LE with BOM and CRLF, gzipped",
            gzip(&utf16(&crlf, false, true)),
        ),
        ("UTF-16BE with BOM", utf16(text, true, true)),
        ("UTF-16LE without BOM", utf16(text, false, false)),
    ]
}

fn read_cloudtrail_bytes(bytes: &[u8]) -> CloudTrailRead {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.json");
    std::fs::write(&path, bytes).unwrap();
    let mut out = CloudTrailRead::default();
    read_cloudtrail_file(&path, &mut out);
    out
}

#[test]
fn every_cloudtrail_form_in_every_encoding() {
    for (form, text, expected) in cloudtrail_forms() {
        for (encoding, bytes) in encodings(&text) {
            let out = read_cloudtrail_bytes(&bytes);
            assert!(
                out.rejects.is_empty(),
                "{form}, {encoding}: {:?}",
                out.rejects
            );
            let got: Vec<(&str, &str)> = out
                .events
                .iter()
                .map(|e| (e.event_id.as_str(), e.session_id.as_deref().unwrap()))
                .collect();
            assert_eq!(got, expected, "{form}, {encoding}");
            // Non-ASCII text (a surrogate pair in UTF-16 too) survives transcoding.
            assert!(
                out.events
                    .iter()
                    .all(|e| e.user_agent.as_deref() == Some("aws-cli/2 café 中 😀")),
                "{form}, {encoding}"
            );
            assert_eq!(out.stats.bytes, {
                let mut raw = Vec::new();
                let _ = std::io::Read::read_to_end(
                    &mut flate2::read::MultiGzDecoder::new(bytes.as_slice()),
                    &mut raw,
                );
                if bytes.starts_with(&[0x1f, 0x8b]) {
                    raw.len() as u64
                } else {
                    bytes.len() as u64
                }
            });
        }
    }
}

#[test]
fn cloudtrail_reject_locations_after_transcoding() {
    let good = start("E1", "alice-0a1b2c3d4e5f60718");
    // Line 2 lacks its eventID: a reject at line 2.
    let bad = r#"{"eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T09:15:00Z"}"#;
    let text = format!("{good}\n{bad}\n");
    // UTF-8: line 2 starts after line 1 and its LF.
    let utf8_offset = good.len() as u64 + 1;
    let cases = [
        ("UTF-8", text.as_bytes().to_vec(), utf8_offset, false),
        (
            "UTF-8 with BOM",
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            utf8_offset + 3,
            false,
        ),
        (
            "UTF-16LE with BOM and CRLF",
            utf16(&text.replace('\n', "\r\n"), false, true),
            utf8_offset + 1,
            true,
        ),
    ];
    for (encoding, bytes, offset, transcoded) in cases {
        let out = read_cloudtrail_bytes(&bytes);
        assert_eq!(out.events.len(), 1, "{encoding}");
        assert_eq!(out.rejects.len(), 1, "{encoding}: {:?}", out.rejects);
        let reject = &out.rejects[0];
        assert_eq!(reject.location.line, Some(2), "{encoding}");
        assert_eq!(reject.location.byte_offset, Some(offset), "{encoding}");
        assert!(
            reject.reason.starts_with("eventID is missing"),
            "{}",
            reject.reason
        );
        assert_eq!(
            reject.reason.contains("UTF-8 transcoding"),
            transcoded,
            "{encoding}: {}",
            reject.reason
        );
    }
}

#[test]
fn broken_utf16_costs_only_what_is_broken() {
    let a = start("E1", "alice-0a1b2c3d4e5f60718");
    let b = start("E2", "bob-0f1e2d3c4b5a69788");
    // A lone surrogate (D800) inside line 2's session id, then line 3 intact.
    let mut bytes = utf16(&format!("{a}\r\n"), false, true);
    let line2 = utf16(&b.replace("bob-0f", "bob-\u{1}"), false, false);
    let at = line2
        .windows(2)
        .position(|w| w == [1, 0])
        .expect("the placeholder");
    let mut line2 = line2;
    line2[at] = 0x00;
    line2[at + 1] = 0xD8;
    bytes.extend(line2);
    bytes.extend(utf16("\r\n", false, false));
    bytes.extend(utf16(
        &format!("{}\r\n", start("E3", "carol-0123")),
        false,
        false,
    ));
    let out = read_cloudtrail_bytes(&bytes);
    let ids: Vec<&str> = out.events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["E1", "E3"]);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_eq!(out.rejects[0].location.line, Some(2));
    // An odd number of bytes: what precedes is read, the end is a reject.
    let mut odd = utf16(&format!("{a}\r\n"), false, true);
    odd.push(b'x');
    let out = read_cloudtrail_bytes(&odd);
    assert_eq!(out.events.len(), 1);
    assert_eq!(out.rejects.len(), 1);
    assert!(
        out.rejects[0].reason.contains("odd number of bytes"),
        "{}",
        out.rejects[0].reason
    );
    // UTF-32 is refused in one reject, not one per line.
    let utf32: Vec<u8> = std::iter::once('\u{feff}')
        .chain(a.chars())
        .flat_map(|c| (c as u32).to_le_bytes())
        .collect();
    let out = read_cloudtrail_bytes(&utf32);
    assert_eq!((out.events.len(), out.rejects.len()), (0, 1));
    assert!(
        out.rejects[0].reason.contains("UTF-32LE"),
        "{}",
        out.rejects[0].reason
    );
}

const RECORD_1: &str = r#"{"v":1,"ts":"2026-02-01T09:15:02.412Z","request_id":"req-1","caller_arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com","permission_set":"Admin","account_id":"111122223333","region":"eu-west-1","target":"i-0abc","document_name":"SSMRunAs-Admin-Session","outcome":"started","session_id":"broker-0a","reason":"résumé 😀"}"#;
const RECORD_2: &str = r#"{"v":1,"ts":"2026-02-01T09:20:00Z","request_id":"req-2","caller_arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/bob@example.com","permission_set":"Dev","account_id":"111122223333","region":"eu-west-1","target":"i-0def","document_name":"SSM-SessionManagerRunShell","outcome":"started","session_id":"broker-0b"}"#;

fn broker_forms() -> Vec<(&'static str, String)> {
    let decoded = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/lambda/broker", "logStream": "s", "subscriptionFilters": ["f"],
        "logEvents": [
            {"id": "1", "timestamp": 1769937302412i64, "message": RECORD_1},
            {"id": "2", "timestamp": 1769937600000i64, "message": "END RequestId: req-1"},
            {"id": "3", "timestamp": 1769937600000i64, "message": RECORD_2}]});
    vec![
        (
            "JSON lines",
            format!("START RequestId: req-1 Version: $LATEST\n{RECORD_1}\n{RECORD_2}\n"),
        ),
        (
            "CloudWatch export lines",
            format!(
                "2026-02-01T09:15:02.000Z START RequestId: req-1\n2026-02-01T09:15:02.412Z {RECORD_1}\n2026-02-01T09:20:00.000Z {RECORD_2}\n"
            ),
        ),
        (
            "a pretty-printed subscription payload",
            serde_json::to_string_pretty(&decoded).unwrap(),
        ),
        ("a subscription payload per line", format!("{decoded}\n")),
    ]
}

#[test]
fn every_broker_log_wrapper_in_every_encoding() {
    for (form, text) in broker_forms() {
        for (encoding, bytes) in encodings(&text) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("broker.log");
            std::fs::write(&path, &bytes).unwrap();
            let mut out = BrokerRead::default();
            read_broker_log_file(&path, &mut out);
            assert!(
                out.rejects.is_empty(),
                "{form}, {encoding}: {:?}",
                out.rejects
            );
            let got: Vec<(&str, Option<&str>)> = out
                .records
                .iter()
                .map(|r| (r.request_id.as_str(), r.session_id.as_deref()))
                .collect();
            assert_eq!(
                got,
                [("req-1", Some("broker-0a")), ("req-2", Some("broker-0b"))],
                "{form}, {encoding}"
            );
            assert_eq!(
                out.records[0].reason.as_deref(),
                Some("résumé 😀"),
                "{form}, {encoding}"
            );
            assert_eq!(out.stats.ignored, 1, "{form}, {encoding}");
        }
    }
}

#[test]
fn broker_reject_locations_after_transcoding() {
    let bad = RECORD_2.replace(r#""target":"i-0def","#, "");
    let text = format!("{RECORD_1}\n{bad}\n");
    let line_2 = RECORD_1.len() as u64 + 1;
    for (encoding, bytes, offset, transcoded) in [
        ("UTF-8", text.as_bytes().to_vec(), line_2, false),
        (
            "UTF-8 with BOM",
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
            line_2 + 3,
            false,
        ),
        (
            "UTF-16LE with BOM and CRLF",
            utf16(&text.replace('\n', "\r\n"), false, true),
            line_2 + 1,
            true,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broker.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        let mut out = BrokerRead::default();
        read_broker_log_file(&path, &mut out);
        assert_eq!(out.records.len(), 1, "{encoding}");
        assert_eq!(out.rejects.len(), 1, "{encoding}");
        let reject = &out.rejects[0];
        assert_eq!(reject.location.line, Some(2), "{encoding}");
        assert_eq!(reject.location.byte_offset, Some(offset), "{encoding}");
        assert!(
            reject.reason.starts_with("target is missing"),
            "{}",
            reject.reason
        );
        assert_eq!(reject.reason.contains("UTF-8 transcoding"), transcoded);
    }
}

#[test]
fn files_walked_but_not_read_are_named_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("AWSLogs/1/CloudTrail-Digest")).unwrap();
    std::fs::write(root.join("AWSLogs/1/CloudTrail-Digest/d.json.gz"), b"{}").unwrap();
    std::fs::write(
        root.join("a.json"),
        format!(
            "{{\"Records\":[{}]}}",
            start("E1", "alice-0a1b2c3d4e5f60718")
        ),
    )
    .unwrap();
    std::fs::write(root.join("UPPER.JSON"), format!("{NOISE}\n")).unwrap();
    let csv = "Event ID,Event time,User name,Event name,Resource type,Resource name,AWS access key,Event source,Error code\r\n7a1f,2026-02-01T09:15:00Z,alice,StartSession,,,ASIA,ssm.amazonaws.com,\r\n";
    std::fs::write(root.join("event_history.csv"), csv).unwrap();
    std::fs::write(root.join("utf16-history.csv"), utf16(csv, false, true)).unwrap();
    std::fs::write(root.join("other.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(root.join("notes.txt"), "hello").unwrap();
    std::fs::write(root.join("README"), "hello").unwrap();

    let read = read_cloudtrail_paths(&[root.to_path_buf()], 2).unwrap();
    assert_eq!(read.events.len(), 1);
    assert!(read.rejects.is_empty(), "{:?}", read.rejects);
    assert_eq!(read.stats.files, 2, "a.json and UPPER.JSON");
    assert_eq!(read.stats.digest_or_insight_files, 1);
    let skipped: Vec<(String, String)> = read
        .skipped_files
        .iter()
        .map(|s| {
            let name = std::path::Path::new(&s.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (name, s.reason.clone())
        })
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "README",
            "event_history.csv",
            "notes.txt",
            "other.csv",
            "utf16-history.csv"
        ]
    );
    assert_eq!(skipped[1].1, EVENT_HISTORY_CSV_REASON);
    assert_eq!(skipped[4].1, EVENT_HISTORY_CSV_REASON);
    assert!(EVENT_HISTORY_CSV_REASON.contains("lookup-events"));
    assert!(EVENT_HISTORY_CSV_REASON.contains("responseElements"));
    assert!(skipped[0].1.contains("no extension"), "{}", skipped[0].1);
    assert!(skipped[2].1.contains(".txt"), "{}", skipped[2].1);
    assert!(skipped[3].1.contains(".csv"), "{}", skipped[3].1);

    let broker = read_broker_log_paths(&[root.to_path_buf()], 1).unwrap();
    assert_eq!(broker.skipped_files.len(), 5);

    // Named on the command line, an Event history CSV is one reject saying why.
    let read = read_cloudtrail_paths(&[root.join("event_history.csv")], 1).unwrap();
    assert_eq!(read.rejects.len(), 1);
    assert_eq!(read.rejects[0].reason, EVENT_HISTORY_CSV_REASON);
    assert_eq!(read.rejects[0].location.line, None);
}
