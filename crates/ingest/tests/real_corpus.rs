//! Every SSM session event in the real samples (`../shared/corpus/real`) parses into a
//! session event, none rejected, in UTF-8 as published and in the other encodings people
//! save them in. The corpus is not shipped with the project: where the folder is absent
//! (a user's machine) each test says so and passes without checking.
//!
//! The expected figures are read off the samples and their SOURCES.md by hand, not
//! taken from the reader's output.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use sessiontrail_ingest::arn::permission_set_of_arn;
use sessiontrail_ingest::cloudtrail::{CloudTrailRead, read_cloudtrail_file};
use sessiontrail_ingest::input_files::list_input_files;
use sessiontrail_ingest::{SessionEvent, SessionEventName};

fn corpus() -> Option<PathBuf> {
    sessiontrail_test_support::real_corpus("real_corpus")
}

/// Per sample: StartSessions, TerminateSessions, failed starts (errorCode), starts
/// whose responseElements was nulled.
struct Expected {
    file: &'static str,
    starts: usize,
    terminates: usize,
    failed: usize,
    withheld: usize,
}

const EXPECTED: [Expected; 8] = [
    Expected {
        file: "fallback/iamuser-startsession-record.json",
        starts: 1,
        terminates: 0,
        failed: 0,
        withheld: 0,
    },
    Expected {
        file: "fallback/eventbridge-startsession-console.json",
        starts: 1,
        terminates: 0,
        failed: 0,
        withheld: 0,
    },
    Expected {
        file: "fallback/sso-portforward-startsessions-filtered.json",
        starts: 2,
        terminates: 0,
        failed: 0,
        withheld: 0,
    },
    // A JSON array of 29 records: 3 Start/Terminate pairs, 23 DescribeInstanceInformation.
    Expected {
        file: "stratus-red-team-ssm-start-session-detonation.json",
        starts: 3,
        terminates: 3,
        failed: 0,
        withheld: 0,
    },
    // responseElements nulled by the publisher's sanitiser.
    Expected {
        file: "elastic-integrations-test-start-session-json.log",
        starts: 1,
        terminates: 0,
        failed: 0,
        withheld: 1,
    },
    Expected {
        file: "elastic-integrations-test-terminate-session-json.log",
        starts: 0,
        terminates: 1,
        failed: 0,
        withheld: 0,
    },
    // lookup-events output: 20 StartSessions by IAM Identity Center roles with
    // onBehalfOf, one AccessDenied.
    Expected {
        file: "tf4-phase3-lookup-events-bastion-startsessions-redacted.json",
        starts: 20,
        terminates: 0,
        failed: 1,
        withheld: 0,
    },
    Expected {
        file: "tf4-phase3-task24-sso-startsessions-filtered.json",
        starts: 3,
        terminates: 0,
        failed: 0,
        withheld: 0,
    },
];

fn read(path: &Path) -> CloudTrailRead {
    let mut out = CloudTrailRead::default();
    read_cloudtrail_file(path, &mut out);
    out
}

fn count(events: &[SessionEvent], name: SessionEventName) -> usize {
    events.iter().filter(|e| e.event_name == name).count()
}

#[test]
fn every_real_ssm_session_event_parses() {
    let Some(dir) = corpus() else { return };
    let files = list_input_files(std::slice::from_ref(&dir)).unwrap().files;
    let listed: BTreeSet<PathBuf> = files.iter().cloned().collect();
    let expected: BTreeSet<PathBuf> = EXPECTED.iter().map(|e| dir.join(e.file)).collect();
    assert_eq!(
        listed, expected,
        "a sample without expectations, or one missing"
    );
    for want in &EXPECTED {
        let path = dir.join(want.file);
        let out = read(&path);
        assert!(out.rejects.is_empty(), "{}: {:?}", want.file, out.rejects);
        let events = &out.events;
        assert_eq!(
            (
                count(events, SessionEventName::StartSession),
                count(events, SessionEventName::TerminateSession),
                count(events, SessionEventName::ResumeSession),
                events.iter().filter(|e| e.failed()).count(),
                events.iter().filter(|e| e.response_withheld()).count(),
            ),
            (want.starts, want.terminates, 0, want.failed, want.withheld),
            "{}",
            want.file
        );
        for event in events {
            assert!(
                event.session_id.is_some() || event.failed() || event.response_withheld(),
                "{}: {event:?}",
                want.file
            );
        }
    }
}

#[test]
fn start_and_terminate_pairs_share_their_session_ids() {
    let Some(dir) = corpus() else { return };
    let out = read(&dir.join("stratus-red-team-ssm-start-session-detonation.json"));
    let ids = |name| -> BTreeSet<String> {
        out.events
            .iter()
            .filter(|e| e.event_name == name)
            .filter_map(|e| e.session_id.clone())
            .collect()
    };
    let expected: BTreeSet<String> = [
        "christophe-bkqs75qpcrtlxk5paaytrydm2e",
        "christophe-s7uathgenk3m4qa2s33wio5gpu",
        "christophe-wzleysigzmbd6fmkefjqvt5w4u",
    ]
    .map(String::from)
    .into();
    assert_eq!(ids(SessionEventName::StartSession), expected);
    assert_eq!(ids(SessionEventName::TerminateSession), expected);
    assert_eq!(out.stats.records, 29);
    assert!(out.events.iter().all(|e| {
        e.principal_arn.as_deref() == Some("arn:aws:iam::294599468799:user/christophe")
    }));
}

#[test]
fn lookup_events_of_identity_center_roles_with_on_behalf_of() {
    let Some(dir) = corpus() else { return };
    let out = read(&dir.join("tf4-phase3-lookup-events-bastion-startsessions-redacted.json"));
    let mut sets = std::collections::BTreeMap::new();
    for event in &out.events {
        let set = permission_set_of_arn(event.principal_arn.as_deref().unwrap()).unwrap();
        *sets.entry(set).or_insert(0) += 1;
        assert!(
            event
                .issuer_name
                .as_deref()
                .unwrap()
                .starts_with("AWSReservedSSO_TF4-")
        );
    }
    assert_eq!(
        sets.into_iter().collect::<Vec<_>>(),
        vec![
            ("TF4-AuditReadOnlyAndAnalyze", 15),
            ("TF4-SecReliabilityReadOnlyAudit", 4),
            ("TF4-SecurityIAMSSOManager", 1)
        ]
    );
    let failed: Vec<&SessionEvent> = out.events.iter().filter(|e| e.failed()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].event_id, "07e6b552-3c48-48f4-9c26-4e7899818953");
    assert_eq!(failed[0].error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(failed[0].session_id, None);
    let port_forwarding = out
        .events
        .iter()
        .filter(|e| e.document_name.as_deref() == Some("AWS-StartPortForwardingSession"))
        .count();
    assert_eq!(port_forwarding, 19);
    let first = &out.events[0];
    assert_eq!(
        first.session_id.as_deref(),
        Some("hoang.nguyenduy-z5ben3ohh9prb46i23lrren3xi")
    );
    assert_eq!(first.account_id.as_deref(), Some("123456789012"));
}

#[test]
fn a_start_whose_response_a_sanitiser_nulled_is_still_a_start() {
    let Some(dir) = corpus() else { return };
    let out = read(&dir.join("elastic-integrations-test-start-session-json.log"));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let event = &out.events[0];
    assert_eq!(event.event_id, "c3c698fc-eaa1-493e-94bf-784c7341ade9");
    assert_eq!(event.event_name, SessionEventName::StartSession);
    assert_eq!(
        (event.session_id.as_deref(), event.error_code.as_deref()),
        (None, None)
    );
    assert_eq!(event.target.as_deref(), Some("i-1234567890abcdef0"));
    assert_eq!(
        event.request_id.as_deref(),
        Some("8e17f548-5e38-4583-b2a2-4f9f226828e1")
    );
    let out = read(&dir.join("elastic-integrations-test-terminate-session-json.log"));
    let event = &out.events[0];
    assert_eq!(
        event.session_id.as_deref(),
        Some("root-5hvouhyykagjjk3f6glxk8o6bu")
    );
    assert_eq!(event.principal_type.as_deref(), Some("Root"));
}

#[test]
fn real_samples_keep_their_identities() {
    let Some(dir) = corpus() else { return };
    let out = read(&dir.join("fallback/sso-portforward-startsessions-filtered.json"));
    let event = &out.events[0];
    assert_eq!(
        event.session_id.as_deref(),
        Some("quang.tranminh-ilpxvkhghl9vs9ia2xfdyp4dka")
    );
    assert_eq!(
        permission_set_of_arn(event.principal_arn.as_deref().unwrap()),
        Some("TF4-AuditReadOnlyAndAnalyze")
    );
    let out = read(&dir.join("fallback/eventbridge-startsession-console.json"));
    let event = &out.events[0];
    assert_eq!(event.document_name, None);
    assert_eq!(
        event.account_id.as_deref(),
        Some("123456789012"),
        "from the envelope"
    );
    assert_eq!(
        event.issuer_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/Admin")
    );
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    std::iter::once(0xFEFFu16)
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

/// Each sample saved as Windows PowerShell (`> file.json`: UTF-16LE, mark, CRLF), as
/// UTF-8 with a mark, as UTF-16BE, and gzipped, gives the same events as published.
#[test]
fn every_sample_reads_the_same_in_every_encoding() {
    let Some(dir) = corpus() else { return };
    let temp = tempfile::tempdir().unwrap();
    for want in &EXPECTED {
        let published = read(&dir.join(want.file));
        let text = std::fs::read_to_string(dir.join(want.file)).unwrap();
        let crlf = text.replace('\n', "\r\n");
        let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
        utf8_bom.extend(text.as_bytes());
        let forms: [(&str, Vec<u8>); 5] = [
            ("utf16le-crlf", utf16(&crlf, false)),
            ("utf16le-crlf.gz", gzip(&utf16(&crlf, false))),
            ("utf16be", utf16(&text, true)),
            ("utf8-bom", utf8_bom.clone()),
            ("utf8-bom.gz", gzip(&utf8_bom)),
        ];
        for (form, bytes) in forms {
            let path = temp.path().join(format!("{form}.json"));
            std::fs::write(&path, bytes).unwrap();
            let out = read(&path);
            assert!(
                out.rejects.is_empty(),
                "{} {form}: {:?}",
                want.file,
                out.rejects
            );
            // The same records, each named at the same line of the file it was read
            // from (a byte offset depends on the encoding).
            let (events, places) = without_source(&out.events);
            let (published_events, published_places) = without_source(&published.events);
            assert_eq!(events, published_events, "{} {form}", want.file);
            let lines = |places: &[(String, u64)]| places.iter().map(|p| p.1).collect::<Vec<_>>();
            assert_eq!(
                lines(&places),
                lines(&published_places),
                "{} {form}",
                want.file
            );
            let named = path.display().to_string();
            assert!(
                places.iter().all(|(file, _)| *file == named),
                "{form}: {places:?}"
            );
        }
    }
}

/// The IAM Identity Center StartSessions of the lookup-events sample carry
/// `userIdentity.onBehalfOf` (SOURCES.md): all 20 (the AccessDenied one too), 7 users
/// of one identity store, and none has a `sourceIdentity` or a `reason`.
#[test]
fn identity_center_starts_carry_on_behalf_of() {
    let Some(dir) = corpus() else { return };
    let out = read(&dir.join("tf4-phase3-lookup-events-bastion-startsessions-redacted.json"));
    assert_eq!(out.events.len(), 20);
    let users: BTreeSet<&str> = out
        .events
        .iter()
        .map(|e| {
            e.on_behalf_of_user_id
                .as_deref()
                .expect("onBehalfOf.userId")
        })
        .collect();
    assert_eq!(users.len(), 7, "{users:?}");
    assert!(users.contains("d4d8e488-b081-7057-982d-5fbc2662f519"));
    for event in &out.events {
        assert_eq!(
            event.on_behalf_of_identity_store_arn.as_deref(),
            Some("arn:aws:identitystore::123456789012:identitystore/d-9066740a19")
        );
        assert_eq!((&event.source_identity, &event.reason), (&None, &None));
    }
}

/// The events without where they were read, and where (file, line) each was read.
fn without_source(
    events: &[sessiontrail_ingest::SessionEvent],
) -> (Vec<sessiontrail_ingest::SessionEvent>, Vec<(String, u64)>) {
    let mut places = Vec::new();
    let events = events
        .iter()
        .cloned()
        .map(|mut event| {
            let source = event.source.take().expect("a record read names its place");
            places.push((source.file, source.line));
            event
        })
        .collect();
    (events, places)
}
