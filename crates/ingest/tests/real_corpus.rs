//! Every SSM session event in the real samples (`../shared/corpus/real`) parses into a
//! session event, none rejected. The corpus is not shipped with the project: where the
//! folder is absent (a user's machine) the test says so and passes without checking.

use std::path::PathBuf;

use sessiontrail_ingest::cloudtrail::{CloudTrailRead, read_cloudtrail_file};
use sessiontrail_ingest::input_files::list_input_files;

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/real");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: {} is absent; real-sample tests not run",
            dir.display()
        );
        None
    }
}

/// Independent count: records whose text names the ssm source and a session event.
fn expected_session_events(text: &str) -> usize {
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    let mut records = Vec::new();
    match &value {
        serde_json::Value::Array(items) => records.extend(items.iter()),
        serde_json::Value::Object(o) if o.contains_key("detail") => records.push(&o["detail"]),
        serde_json::Value::Object(o) if o.contains_key("Records") => {
            records.extend(o["Records"].as_array().unwrap().iter())
        }
        other => records.push(other),
    }
    records
        .iter()
        .filter(|r| {
            r["eventSource"] == "ssm.amazonaws.com"
                && ["StartSession", "ResumeSession", "TerminateSession"]
                    .contains(&r["eventName"].as_str().unwrap_or(""))
        })
        .count()
}

#[test]
fn every_real_ssm_session_event_parses() {
    let Some(dir) = corpus() else { return };
    let files = list_input_files(&[dir]).unwrap().files;
    assert!(!files.is_empty());
    let mut total = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected = expected_session_events(&text);
        let mut out = CloudTrailRead::default();
        read_cloudtrail_file(file, &mut out);
        assert!(
            out.rejects.is_empty(),
            "{}: {:?}",
            file.display(),
            out.rejects
        );
        assert_eq!(out.events.len(), expected, "{}", file.display());
        for event in &out.events {
            assert!(event.session_id.is_some(), "{}: {event:?}", file.display());
        }
        total += expected;
    }
    assert!(
        total >= 4,
        "the corpus holds at least the four known samples"
    );
}

#[test]
fn real_samples_keep_their_identities() {
    let Some(dir) = corpus() else { return };
    let mut out = CloudTrailRead::default();
    read_cloudtrail_file(
        &dir.join("fallback/sso-portforward-startsessions-filtered.json"),
        &mut out,
    );
    let event = &out.events[0];
    assert_eq!(
        event.session_id.as_deref(),
        Some("quang.tranminh-ilpxvkhghl9vs9ia2xfdyp4dka")
    );
    assert_eq!(
        sessiontrail_ingest::arn::permission_set_of_arn(event.principal_arn.as_deref().unwrap()),
        Some("TF4-AuditReadOnlyAndAnalyze")
    );
    let mut out = CloudTrailRead::default();
    read_cloudtrail_file(
        &dir.join("fallback/eventbridge-startsession-console.json"),
        &mut out,
    );
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
