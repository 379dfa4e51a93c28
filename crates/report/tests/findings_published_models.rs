//! The OCSF and ASFF exports checked against the published models, not hand-written
//! field lists: `validate_findings.py` validates ASFF batches against botocore's
//! Security Hub service model (BatchImportFindings / AwsSecurityFinding) and OCSF events
//! against the OCSF 1.1.0 Detection Finding schema shipped by `ocsf-json-schema`.
//!
//! Without python3 or those packages (a user's machine) the tests print `SKIPPED: ...`
//! and pass, except under `CI=true`, where .ci/run installs them and a skip would hide
//! a missing install: there they fail.

mod common;

use common::{A, ALICE, FindingRow as Row, PAYLOAD, RULES};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use sessiontrail_correlate::schema::findings_schema;
use sessiontrail_report::{FindingsFormat, export_findings};
use tempfile::TempDir;

const GOV: &str =
    "arn:aws-us-gov:sts::444455556666:assumed-role/AWSReservedSSO_Admin_9f8e7d6c/gwen@example.com";

/// The edges, each rule once more: the payload, a managed node, no target, no session
/// nor target, GovCloud, China, an ISO partition, an unknown rule, long texts, evidence
/// that is not JSON, a resolved finding.
fn special() -> Vec<Row> {
    let base = |id: &str, minute: usize| -> Row {
        let (rule, severity) = RULES[minute % RULES.len()];
        vec![
            ("finding_id", id.to_string()),
            ("rule", rule.to_string()),
            ("severity", severity.to_string()),
            ("event_time", format!("2026-02-02T00:{minute:02}:00Z")),
            ("account_id", A.to_string()),
            ("region", "us-east-1".to_string()),
            ("principal_arn", ALICE.to_string()),
            ("detail", "Direct session".to_string()),
            ("evidence", "{}".to_string()),
        ]
    };
    let with = |mut row: Row, more: &[(&'static str, &str)]| {
        for &(column, value) in more {
            row.retain(|(c, _)| *c != column);
            row.push((column, value.to_string()));
        }
        row
    };
    let long_detail = "é".repeat(1500);
    let long_evidence = format!(r#"{{"note":"{}"}}"#, "x".repeat(3000));
    vec![
        with(
            base("x-payload", 0),
            &[
                ("finding_id", PAYLOAD),
                ("session_id", PAYLOAD),
                ("target", PAYLOAD),
                ("permission_set", PAYLOAD),
                ("detail", PAYLOAD),
                (
                    "evidence",
                    r#"{"note":"<script>alert(1)</script> \"q\" 'a' & b"}"#,
                ),
            ],
        ),
        with(
            base("x-managed-node", 1),
            &[("session_id", "s-mi"), ("target", "mi-0123456789abcdef0")],
        ),
        with(base("x-no-target", 2), &[("session_id", "s-no-target")]),
        // Keyed by request id: no session, no target.
        with(base("x-nothing", 3), &[]),
        with(
            base("x-gov", 4),
            &[
                ("session_id", "s-gov"),
                ("account_id", "444455556666"),
                ("region", "us-gov-west-1"),
                ("target", "i-0abc"),
                ("principal_arn", GOV),
            ],
        ),
        with(
            base("x-china", 5),
            &[
                ("session_id", "s-cn"),
                ("region", "cn-north-1"),
                ("target", "i-0abc"),
                ("principal_arn", "arn:aws-cn:iam::111122223333:user/chen"),
            ],
        ),
        with(
            base("x-iso", 6),
            &[
                ("session_id", "s-iso"),
                ("region", "us-iso-east-1"),
                ("target", "i-0abc"),
                ("principal_arn", "arn:aws-iso:iam::111122223333:user/ivy"),
            ],
        ),
        with(
            base("x-iso-b", 7),
            &[("region", "us-isob-east-1"), ("principal_arn", "")],
        ),
        with(
            base("x-unknown-rule", 8),
            &[("rule", "future_rule"), ("target", "i-0abc")],
        ),
        with(
            base("x-long", 9),
            &[
                ("target", "i-0abc"),
                ("detail", &long_detail),
                ("evidence", &long_evidence),
            ],
        ),
        with(
            base("x-not-json-evidence", 10),
            &[("session_id", "s-text"), ("evidence", "not json")],
        ),
        // Withdrawn by a later run: Resolved in OCSF, Workflow RESOLVED in ASFF.
        with(
            base("x-resolved", 11),
            &[
                ("session_id", "s-resolved"),
                ("target", "i-0abc"),
                ("resolved_time", "2026-03-01T12:00:00.500Z"),
                (
                    "resolution",
                    "withdrawn by the run as of 2026-03-01T12:00:00.500Z: records that \
                     arrived after the session had left the retention window show it no \
                     longer holds",
                ),
            ],
        ),
    ]
}

/// 205 ordinary findings (three ASFF batches) and the special ones.
fn fixture() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = common::ordinary_findings(205);
    rows.extend(special());
    common::write_partitioned(
        dir.path(),
        "findings",
        &findings_schema(),
        "event_time",
        &rows,
        50,
    );
    dir
}

const TOTAL: usize = 205 + 12;

async fn export(data: &Path, format: FindingsFormat) -> String {
    let mut out = Vec::new();
    let count = export_findings(data, format, &mut out).await.unwrap();
    assert_eq!(count, TOTAL, "{format}");
    String::from_utf8(out).unwrap()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate_findings.py")
}

/// What `validate_findings.py` said.
enum Verdict {
    Valid(String),
    Invalid(String),
    /// python3 or a package is missing here.
    Skipped(String),
}

fn validate(format: &str, input: &str) -> Verdict {
    let child = Command::new("python3")
        .arg(script())
        .arg(format)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => return Verdict::Skipped(format!("python3 cannot be run: {e}")),
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    // The validator may stop reading early (a missing package): ignore a broken pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    match output.status.code() {
        Some(0) => Verdict::Valid(text),
        Some(3) => Verdict::Skipped(text.trim().to_string()),
        _ => Verdict::Invalid(text),
    }
}

/// Passes on a skip outside CI, and prints why.
fn skip(format: &str, why: &str) {
    sessiontrail_test_support::skip(
        &format!("{format} against the published model"),
        sessiontrail_test_support::Prerequisite::ExportValidators,
        why,
    );
}

fn assert_valid(format: &str, text: &str) {
    match validate(format, text) {
        Verdict::Valid(report) => println!("{report}"),
        Verdict::Invalid(report) => {
            panic!("{format} export violates the published model:\n{report}")
        }
        Verdict::Skipped(why) => skip(format, &why),
    }
}

/// The validator must reject what is wrong, with the JSON path, or its `valid` means
/// nothing.
fn assert_invalid(format: &str, text: &str, expected: &[&str]) {
    match validate(format, text) {
        Verdict::Invalid(report) => {
            for needle in expected {
                assert!(report.contains(needle), "no `{needle}` in:\n{report}");
            }
        }
        Verdict::Valid(report) => panic!("broken {format} accepted:\n{report}"),
        Verdict::Skipped(why) => skip(format, &why),
    }
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn to_lines(values: &[Value]) -> String {
    values.iter().map(|value| format!("{value}\n")).collect()
}

#[tokio::test]
async fn asff_batches_match_botocores_security_hub_model() {
    let data = fixture();
    let text = export(data.path(), FindingsFormat::Asff).await;
    assert_eq!(text.lines().count(), TOTAL.div_ceil(100));
    assert_valid("asff", &text);
}

#[tokio::test]
async fn ocsf_events_match_the_ocsf_1_1_0_detection_finding_schema() {
    let data = fixture();
    let text = export(data.path(), FindingsFormat::Ocsf).await;
    assert_eq!(text.lines().count(), TOTAL);
    assert_valid("ocsf", &text);
}

#[tokio::test]
async fn the_asff_validator_rejects_what_the_model_forbids() {
    let data = fixture();
    let mut batches = lines(&export(data.path(), FindingsFormat::Asff).await);
    let findings = batches[0]["Findings"].as_array_mut().unwrap();
    findings[0].as_object_mut().unwrap().remove("Title");
    findings[1]["Bogus"] = json!(1);
    findings[2]["Severity"]["Label"] = json!("SEVERE");
    findings[3]["Description"] = json!("x".repeat(1025));
    findings[4]["CreatedAt"] = json!("yesterday");
    findings[5]["Severity"]["Normalized"] = json!("40");
    findings[6]["Resources"][0]["Partition"] = json!("aws-iso");
    findings[7]["Types"] = json!(["Made Up/Thing"]);
    let extra = findings[8].clone();
    batches[2]["Findings"]
        .as_array_mut()
        .unwrap()
        .extend(std::iter::repeat_n(extra, 100));
    assert_invalid(
        "asff",
        &to_lines(&batches),
        &[
            "$.Findings[0]: required member Title is missing",
            "$.Findings[1].Bogus: unknown member",
            "$.Findings[2].Severity.Label: 'SEVERE' is not one of",
            "$.Findings[3].Description: 1025 characters",
            "$.Findings[4].CreatedAt: 'yesterday' is not an ISO 8601 timestamp",
            "$.Findings[5].Severity.Normalized: is a JSON string",
            "$.Findings[6].Resources[0].Partition: 'aws-iso' is not one of",
            "$.Findings[7].Types[0]: namespace 'Made Up'",
            "line 3: $.Findings: 117 items, the maximum is 100",
        ],
    );
}

#[tokio::test]
async fn the_ocsf_validator_rejects_what_the_schema_forbids() {
    let data = fixture();
    let mut events = lines(&export(data.path(), FindingsFormat::Ocsf).await);
    events[0].as_object_mut().unwrap().remove("finding_info");
    events[1]["severity_id"] = json!(7);
    events[2]["time"] = json!("2026-02-01T00:00:00Z");
    events[3]["bogus"] = json!(true);
    events[4]["type_uid"] = json!(200402);
    events[5]["severity"] = json!("Catastrophic");
    events[6]["cloud"]
        .as_object_mut()
        .unwrap()
        .remove("provider");
    assert_invalid(
        "ocsf",
        &to_lines(&events[..7]),
        &[
            "line 1: $: 'finding_info' is a required property",
            "line 2: $.severity_id: 7 is not one of",
            "line 3: $.time: '2026-02-01T00:00:00Z' is not of type 'integer'",
            "line 4: $: Additional properties are not allowed ('bogus'",
            "line 5: $.type_uid",
            "line 6: $.severity: is 'Catastrophic'",
            "line 7: $.cloud: 'provider' is a required property",
        ],
    );
}
