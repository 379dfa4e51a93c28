//! The monthly report over a small fixed dataset: the test plants sessions and findings
//! (exact schemas, Parquet, `dt=` folders) in February 2026, its previous month and
//! the months around, and compares every figure of `report.json` with values computed
//! by hand from the rows below. It also checks that data strings are escaped in the
//! HTML and Markdown, the empty month, bad input, and (when Chromium is installed) the
//! page as a browser renders it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sessiontrail_report::monthly_report::{HTML_FILE, JSON_FILE, MARKDOWN_FILE, report_query};
use sessiontrail_report::{
    Month, MonthlyReport, ReportError, ReportSettings, Verdict, compute_monthly_report,
    header_lines, query, report_queries, tables, write_monthly_report,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------
// The fixed dataset.
// ---------------------------------------------------------------------------------

/// An instant long after every month of the fixture: its reports are final unless a
/// session is pending.
const LATER: &str = "2027-01-01T00:00:00Z";

/// The report settings of most tests: `minimum`, computed at [`LATER`], a 30 minute grace.
fn settings(minimum: Option<f64>) -> ReportSettings {
    ReportSettings {
        min_attribution_rate: minimum,
        as_of: Some(at(LATER)),
        grace: Duration::from_secs(30 * 60),
    }
}

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// Goes into every string column of two sessions and one finding: markup, both kinds
/// of quotes and an ampersand.
const PAYLOAD: &str = r#"<script>alert(1)</script> "q" 'a' & b"#;
/// The same as JSON, for the `evidence` column.
const PAYLOAD_EVIDENCE: &str = r#"{"note":"<script>alert(1)</script> \"q\" 'a' & b"}"#;

const A: &str = "111122223333";
const REGION: &str = "us-east-1";
const BROKER: &str = "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda";
const ALICE: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d/alice@example.com";
const BOB: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_0a1b2c3d/bob@example.com";
const CAROL: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_BreakGlass_5e6f7a8b/carol@example.com";
const DAVE: &str = "arn:aws:iam::111122223333:user/dave";
const ERIN: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d/erin@example.com";
const ADMIN_DOC: &str = "SSMRunAs-Admin-Session";
const READONLY_DOC: &str = "SSMRunAs-ReadOnly-Session";
const DEFAULT_DOC: &str = "SSM-SessionManagerRunShell";

/// A row: (column, value as text) pairs; absent columns are null.
type Row = Vec<(&'static str, &'static str)>;

fn with(base: &[(&'static str, &'static str)], own: &[(&'static str, &'static str)]) -> Row {
    let mut row: Row = base.to_vec();
    for &(column, value) in own {
        row.retain(|(c, _)| *c != column);
        row.push((column, value));
    }
    row
}

/// A broker session matched with alice's broker record (Admin).
fn alice(id: &'static str, time: &'static str, target: &'static str, doc: &'static str) -> Row {
    vec![
        ("session_id", id),
        ("status", "attributed"),
        ("start_time", time),
        ("account_id", A),
        ("region", REGION),
        ("target", target),
        ("document_name", doc),
        ("via_broker", "true"),
        ("cloudtrail_event_id", id),
        ("cloudtrail_principal_arn", BROKER),
        ("original_principal_arn", ALICE),
        ("original_user", "alice@example.com"),
        ("permission_set", "Admin"),
        ("expected_document", ADMIN_DOC),
        ("run_as", "admin"),
        ("broker_request_id", id),
    ]
}

fn bob(id: &'static str, time: &'static str, target: &'static str) -> Row {
    with(
        &alice(id, time, target, READONLY_DOC),
        &[
            ("original_principal_arn", BOB),
            ("original_user", "bob@example.com"),
            ("permission_set", "ReadOnly"),
            ("expected_document", READONLY_DOC),
            ("run_as", "readonly"),
        ],
    )
}

/// A broker StartSession without a broker record.
fn broker_only(id: &'static str, status: &'static str, time: &'static str) -> Row {
    vec![
        ("session_id", id),
        ("status", status),
        ("start_time", time),
        ("account_id", A),
        ("region", REGION),
        ("target", "i-0ccc"),
        ("document_name", ADMIN_DOC),
        ("via_broker", "true"),
        ("cloudtrail_event_id", id),
        ("cloudtrail_principal_arn", BROKER),
        ("source_ip", "203.0.113.5"),
    ]
}

/// A session with the payload in every string column.
fn payload_session(status: &'static str, time: &'static str, via_broker: &'static str) -> Row {
    let mut row: Row = [
        "session_id",
        "account_id",
        "region",
        "target",
        "document_name",
    ]
    .into_iter()
    .chain([
        "cloudtrail_event_id",
        "cloudtrail_principal_arn",
        "original_principal_arn",
        "original_user",
        "permission_set",
        "expected_document",
        "run_as",
        "broker_request_id",
        "source_ip",
        "user_agent",
    ])
    .map(|column| (column, PAYLOAD))
    .collect();
    row.extend([
        ("status", status),
        ("start_time", time),
        ("via_broker", via_broker),
    ]);
    row
}

fn sessions() -> Vec<Row> {
    let direct = |id, time, target, principal, user| -> Row {
        vec![
            ("session_id", id),
            ("status", "direct"),
            ("start_time", time),
            ("account_id", A),
            ("region", REGION),
            ("target", target),
            ("document_name", DEFAULT_DOC),
            ("via_broker", "false"),
            ("cloudtrail_event_id", id),
            ("cloudtrail_principal_arn", principal),
            ("original_principal_arn", principal),
            ("original_user", user),
        ]
    };
    vec![
        // December 2025: in neither month.
        alice("d1", "2025-12-31T23:00:00Z", "i-0aaa", ADMIN_DOC),
        // January 2026, the previous month: 4 sessions, 3 of 4 broker sessions attributed.
        alice("j1", "2026-01-10T09:00:00Z", "i-0aaa", ADMIN_DOC),
        bob("j2", "2026-01-15T09:00:00Z", "i-0bbb"),
        alice("j3", "2026-01-20T09:00:00Z", "i-0aaa", ADMIN_DOC),
        broker_only("j4", "unattributed", "2026-01-31T23:59:59Z"),
        // February 2026.
        alice("f1", "2026-02-01T00:00:00Z", "i-0aaa", ADMIN_DOC),
        alice("f2", "2026-02-01T10:00:00Z", "i-0bbb", READONLY_DOC),
        bob("f3", "2026-02-02T08:00:00Z", "i-0aaa"),
        broker_only("f4", "unattributed", "2026-02-02T10:00:00Z"),
        with(
            &alice("f5", "2026-02-03T09:00:00.500Z", "i-0bbb", ADMIN_DOC),
            &[
                ("status", "orphan"),
                ("original_principal_arn", ERIN),
                ("original_user", "erin@example.com"),
            ],
        )
        .into_iter()
        .filter(|(column, _)| {
            !matches!(*column, "cloudtrail_event_id" | "cloudtrail_principal_arn")
        })
        .collect(),
        broker_only("f6", "pending", "2026-02-28T23:59:59.999Z"),
        with(
            &direct(
                "f7",
                "2026-02-03T11:00:00Z",
                "i-0eee",
                CAROL,
                "carol@example.com",
            ),
            &[("permission_set", "BreakGlass")],
        ),
        direct("f8", "2026-02-05T07:45:00Z", "i-0aaa", DAVE, "dave"),
        with(
            &direct("fx", "2026-02-05T17:00:00Z", "i-0ddd", DAVE, "dave"),
            &[("status", "failed")],
        )
        .into_iter()
        .filter(|(column, _)| *column != "session_id")
        .collect(),
        payload_session("attributed", "2026-02-10T12:00:00Z", "true"),
        payload_session(PAYLOAD, "2026-02-10T13:00:00Z", "false"),
        // March 2026: in neither month.
        alice("m1", "2026-03-01T00:00:00Z", "i-0aaa", ADMIN_DOC),
    ]
}

#[allow(clippy::too_many_arguments)]
fn finding(
    id: &'static str,
    rule: &'static str,
    severity: &'static str,
    session: Option<&'static str>,
    time: &'static str,
    target: Option<&'static str>,
    principal: &'static str,
    detail: &'static str,
) -> Row {
    let mut row = vec![
        ("finding_id", id),
        ("rule", rule),
        ("severity", severity),
        ("event_time", time),
        ("account_id", A),
        ("region", REGION),
        ("principal_arn", principal),
        ("detail", detail),
        ("evidence", r#"{"request_id":"req"}"#),
    ];
    if let Some(session) = session {
        row.push(("session_id", session));
    }
    if let Some(target) = target {
        row.push(("target", target));
    }
    row
}

fn findings() -> Vec<Row> {
    let payload: Row = [
        "finding_id",
        "rule",
        "session_id",
        "account_id",
        "region",
        "target",
        "principal_arn",
        "permission_set",
        "detail",
    ]
    .into_iter()
    .map(|column| (column, PAYLOAD))
    .chain([
        ("severity", "high"),
        ("event_time", "2026-02-10T12:00:00Z"),
        ("evidence", PAYLOAD_EVIDENCE),
    ])
    .collect();
    vec![
        finding(
            "fj4",
            "unattributed_session",
            "critical",
            Some("j4"),
            "2026-01-31T23:59:59Z",
            Some("i-0ccc"),
            BROKER,
            "No broker record for j4",
        ),
        finding(
            "ff1",
            "document_mismatch",
            "high",
            Some("f2"),
            "2026-02-01T10:00:00Z",
            Some("i-0bbb"),
            ALICE,
            "Admin session used SSMRunAs-ReadOnly-Session",
        ),
        finding(
            "ff2",
            "unattributed_session",
            "critical",
            Some("f4"),
            "2026-02-02T10:00:00Z",
            Some("i-0ccc"),
            BROKER,
            "No broker record for f4",
        ),
        finding(
            "ff3",
            "orphan_broker_record",
            "high",
            Some("f5"),
            "2026-02-03T09:00:00.500Z",
            Some("i-0bbb"),
            ERIN,
            "Broker record f5 has no StartSession",
        ),
        finding(
            "ff4",
            "direct_session",
            "medium",
            Some("f8"),
            "2026-02-05T07:45:00Z",
            Some("i-0aaa"),
            DAVE,
            "Direct session by an IAM user",
        ),
        finding(
            "ff5",
            "clock_skew",
            "low",
            Some("f3"),
            "2026-02-02T08:00:00Z",
            Some("i-0aaa"),
            BOB,
            "Clocks 7 minutes apart",
        ),
        payload,
        finding(
            "ff6",
            "secret_in_broker_log",
            "high",
            None,
            "2026-02-28T23:59:59Z",
            None,
            BOB,
            "Broker record req-x holds a token",
        ),
        // Withdrawn by a later run (kept as evidence): counted by no figure, listed in
        // the month of its resolution. fr1 was raised in November 2025, resolved in
        // February; fr2 raised in February, resolved in March.
        with(
            &finding(
                "fr1",
                "unattributed_session",
                "critical",
                Some("n1"),
                "2025-11-20T08:00:00Z",
                Some("i-0ccc"),
                BROKER,
                "No broker record for n1",
            ),
            &[
                ("resolved_time", "2026-02-15T06:00:00Z"),
                ("resolution", RESOLUTION),
            ],
        ),
        with(
            &finding(
                "fr2",
                "unattributed_session",
                "critical",
                Some("f9"),
                "2026-02-20T08:00:00Z",
                Some("i-0ccc"),
                BROKER,
                "No broker record for f9",
            ),
            &[
                ("resolved_time", "2026-03-02T06:00:00.250Z"),
                ("resolution", RESOLUTION),
            ],
        ),
        finding(
            "fm1",
            "clock_skew",
            "low",
            Some("m1"),
            "2026-03-01T00:00:00Z",
            Some("i-0aaa"),
            ALICE,
            "Clocks 6 minutes apart",
        ),
    ]
}

/// Why fr1 and fr2 were withdrawn.
const RESOLUTION: &str = "withdrawn: the broker record arrived after the session had left \
    the retention window";

/// A temporary data folder holding the fixed dataset.
fn fixture() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_table(dir.path(), "sessions", "start_time", sessions());
    write_table(dir.path(), "findings", "event_time", findings());
    dir
}

/// The report of February 2026 over the fixture, as written: the files read back.
struct Written {
    report: MonthlyReport,
    /// File name -> content, for every file in the output folder.
    files: BTreeMap<String, String>,
}

impl Written {
    fn read(&self, file: &str) -> String {
        self.files[file].clone()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.read(JSON_FILE)).unwrap()
    }
}

/// Writes the report of February 2026 over the fixture with `minimum`, in a folder
/// deleted afterwards.
fn write_february(minimum: Option<f64>) -> Written {
    // On a thread of its own: the callers run inside a test's runtime.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let data = fixture();
            let out = tempfile::tempdir().unwrap();
            let report =
                write_monthly_report(data.path(), "2026-02", out.path(), &settings(minimum))
                    .await
                    .unwrap();
            let files = std::fs::read_dir(out.path())
                .unwrap()
                .map(|entry| {
                    let entry = entry.unwrap();
                    let name = entry.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(entry.path()).unwrap())
                })
                .collect();
            Written { report, files }
        })
    })
    .join()
    .unwrap()
}

/// The report of February 2026 with the minimum 0.6 (`Some`) or none, written once
/// for all the tests that only read it.
fn february(minimum: Option<f64>) -> &'static Written {
    static WITHOUT: OnceLock<Written> = OnceLock::new();
    static WITH: OnceLock<Written> = OnceLock::new();
    match minimum {
        None => WITHOUT.get_or_init(|| write_february(None)),
        Some(0.6) => WITH.get_or_init(|| write_february(Some(0.6))),
        Some(other) => panic!("no shared report for the minimum {other}"),
    }
}

/// The rows of figure `name` in `report.json`.
fn rows(json: &Value, name: &str) -> Vec<Value> {
    json["figures"][name]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("report.json has no figure {name}"))
        .clone()
}

// ---------------------------------------------------------------------------------
// The figures, computed by hand from the rows above.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn summary_figures_are_the_hand_computed_ones() {
    let written = february(Some(0.6));
    let json = written.json();
    assert_eq!(json["month"], "2026-02");
    assert_eq!(json["previous_month"], "2026-01");
    assert_eq!(json["first_day"], "2026-02-01");
    assert_eq!(json["last_day"], "2026-02-28");
    assert_eq!(json["min_attribution_rate"], 0.6);
    let summary = &json["summary"];
    // 11 sessions in February: 4 attributed (f1 f2 f3 payload), f4 unattributed, f5
    // orphan, f6 pending, f7 f8 direct, fx failed, and one with an unknown status.
    assert_eq!(summary["sessions"], 11);
    assert_eq!(summary["broker_sessions"], 6);
    assert_eq!(summary["attributed"], 4);
    assert_eq!(summary["unattributed"], 1);
    assert_eq!(summary["orphan"], 1);
    assert_eq!(summary["pending"], 1);
    assert_eq!(summary["direct"], 2);
    assert_eq!(summary["failed"], 1);
    assert_eq!(summary["attribution_rate"], 4.0 / 6.0);
    assert_eq!(summary["findings"], 7);
    assert_eq!(summary["critical_findings"], 1);
    assert_eq!(summary["high_findings"], 4);
    assert_eq!(summary["verdict"], "pass");
    assert_eq!(summary["no_sessions"], false);
    assert_eq!(written.report.summary.verdict, Verdict::Pass);
    assert_eq!(written.report.summary.attribution_rate, Some(4.0 / 6.0));
}

#[tokio::test]
async fn sessions_by_status_and_month_rate() {
    let json = february(None).json();
    assert_eq!(
        rows(&json, "sessions_by_status"),
        [
            json!({"status": "attributed", "sessions": 4}),
            json!({"status": "unattributed", "sessions": 1}),
            json!({"status": "orphan", "sessions": 1}),
            json!({"status": "pending", "sessions": 1}),
            json!({"status": "direct", "sessions": 2}),
            json!({"status": "failed", "sessions": 1}),
            json!({"status": PAYLOAD, "sessions": 1}),
        ]
    );
    assert_eq!(
        rows(&json, "attribution_rate"),
        [json!({
            "broker_sessions": 6, "attributed": 4, "unattributed": 1, "orphan": 1,
            "pending": 1, "attribution_rate": 4.0 / 6.0,
        })]
    );
}

#[tokio::test]
async fn daily_figures_cover_every_day_of_the_month() {
    let json = february(None).json();
    let by_day = rows(&json, "sessions_by_day");
    assert_eq!(by_day.len(), 28);
    let zero = |day: &str| {
        json!({"day": day, "sessions": 0, "attributed": 0, "unattributed": 0, "orphan": 0,
               "pending": 0, "direct": 0, "failed": 0, "denied": 0})
    };
    let mut expected: Vec<Value> = (1..=28).map(|d| zero(&format!("2026-02-{d:02}"))).collect();
    let mut set = |day: usize, pairs: &[(&str, i64)]| {
        for (column, value) in pairs {
            expected[day - 1][*column] = json!(value);
        }
    };
    set(1, &[("sessions", 2), ("attributed", 2)]);
    set(
        2,
        &[("sessions", 2), ("attributed", 1), ("unattributed", 1)],
    );
    set(3, &[("sessions", 2), ("orphan", 1), ("direct", 1)]);
    set(5, &[("sessions", 2), ("direct", 1), ("failed", 1)]);
    set(10, &[("sessions", 2), ("attributed", 1)]);
    set(28, &[("sessions", 1), ("pending", 1)]);
    assert_eq!(by_day, expected);

    let rate = rows(&json, "attribution_rate_daily");
    assert_eq!(rate.len(), 28);
    let day = |d: usize| rate[d - 1].clone();
    assert_eq!(
        day(1),
        json!({"day": "2026-02-01", "broker_sessions": 2, "attributed": 2, "unattributed": 0,
               "orphan": 0, "attribution_rate": 1.0})
    );
    assert_eq!(
        day(2),
        json!({"day": "2026-02-02", "broker_sessions": 2, "attributed": 1, "unattributed": 1,
               "orphan": 0, "attribution_rate": 0.5})
    );
    assert_eq!(
        day(3),
        json!({"day": "2026-02-03", "broker_sessions": 1, "attributed": 0, "unattributed": 0,
               "orphan": 1, "attribution_rate": 0.0})
    );
    // Direct and failed sessions only: no broker session, no rate.
    assert_eq!(
        day(5),
        json!({"day": "2026-02-05", "broker_sessions": 0, "attributed": 0, "unattributed": 0,
               "orphan": 0, "attribution_rate": null})
    );
    assert_eq!(day(10)["attribution_rate"], 1.0);
    // Pending only: not decided, not in the rate.
    assert_eq!(day(28)["broker_sessions"], 0);
    assert_eq!(day(28)["attribution_rate"], Value::Null);
    assert_eq!(day(4)["attribution_rate"], Value::Null);
}

#[tokio::test]
async fn findings_by_severity_and_rule() {
    let json = february(None).json();
    assert_eq!(
        rows(&json, "findings_by_severity"),
        [
            json!({"severity": "critical", "findings": 1, "sessions": 1}),
            json!({"severity": "high", "findings": 4, "sessions": 3}),
            json!({"severity": "medium", "findings": 1, "sessions": 1}),
            json!({"severity": "low", "findings": 1, "sessions": 1}),
        ]
    );
    let rule = |rule: &str, severity: &str, findings: i64, sessions: i64| json!({"rule": rule, "severity": severity, "findings": findings, "sessions": sessions});
    assert_eq!(
        rows(&json, "findings_by_rule"),
        [
            rule("digest_signature_invalid", "critical", 0, 0),
            rule("log_file_tampered", "critical", 0, 0),
            rule("unattributed_session", "critical", 1, 1),
            // An unknown rule gets its own row; '<' sorts before the letters.
            rule(PAYLOAD, "high", 1, 1),
            rule("digest_chain_broken", "high", 0, 0),
            rule("document_mismatch", "high", 1, 1),
            rule("duplicate_broker_claim", "high", 0, 0),
            rule("field_mismatch", "high", 0, 0),
            rule("in_band_identity_mismatch", "high", 0, 0),
            rule("log_file_missing", "high", 0, 0),
            rule("orphan_broker_record", "high", 1, 1),
            rule("run_as_mismatch", "high", 0, 0),
            rule("secret_in_broker_log", "high", 1, 0),
            rule("unknown_permission_set", "high", 0, 0),
            rule("direct_session", "medium", 1, 1),
            rule("foreign_session_control", "medium", 0, 0),
            rule("clock_skew", "low", 1, 1),
            rule("log_file_not_covered", "low", 0, 0),
        ]
    );
}

#[tokio::test]
async fn critical_and_high_findings_are_listed_in_full() {
    let json = february(None).json();
    let listed = rows(&json, "critical_high_findings");
    let ids: Vec<_> = listed.iter().map(|row| row["finding_id"].clone()).collect();
    assert_eq!(
        ids,
        [
            json!("ff2"),
            json!("ff1"),
            json!("ff3"),
            json!(PAYLOAD),
            json!("ff6")
        ]
    );
    assert_eq!(
        listed[0],
        json!({
            "severity": "critical", "rule": "unattributed_session",
            "event_time": "2026-02-02T10:00:00Z", "finding_id": "ff2", "session_id": "f4",
            "account_id": A, "region": REGION, "target": "i-0ccc", "principal_arn": BROKER,
            "permission_set": null, "detail": "No broker record for f4",
            "evidence": r#"{"request_id":"req"}"#,
        })
    );
    assert_eq!(listed[2]["event_time"], "2026-02-03T09:00:00.500Z");
    assert_eq!(listed[3]["evidence"], PAYLOAD_EVIDENCE);
    assert_eq!(listed[4]["session_id"], Value::Null);
}

#[tokio::test]
async fn findings_resolved_in_the_month_are_listed_and_counted_nowhere_else() {
    let written = february(None);
    let json = written.json();
    // fr1, raised in November and resolved in February, is February's; fr2, raised in
    // February and resolved in March, is not (and no February figure counts it: the
    // summary's 7 findings and 1 critical are ff1..ff6, the payload and ff2).
    assert_eq!(
        rows(&json, "resolved_findings"),
        [json!({
            "resolved_time": "2026-02-15T06:00:00Z", "severity": "critical",
            "rule": "unattributed_session", "event_time": "2025-11-20T08:00:00Z",
            "finding_id": "fr1", "session_id": "n1", "account_id": A, "target": "i-0ccc",
            "principal_arn": BROKER, "resolution": RESOLUTION,
        })]
    );
    assert_eq!(json["summary"]["critical_findings"], 1);
    let by_rule = rows(&json, "findings_by_rule");
    let unattributed = by_rule
        .iter()
        .find(|row| row["rule"] == "unattributed_session")
        .unwrap();
    assert_eq!(unattributed["findings"], 1, "ff2 only");
    assert_eq!(
        json["figures"]["resolved_findings"]["title"],
        "Findings resolved in the month"
    );
    // Shown in the HTML and the Markdown, under Findings.
    let html = written.read(HTML_FILE);
    let findings_section = &html[html.find("<section id=\"findings\">").unwrap()..];
    let findings_section = &findings_section[..findings_section.find("</section>").unwrap()];
    assert!(findings_section.contains("id=\"figure-resolved_findings\""));
    assert!(findings_section.contains("withdrawn: the broker record arrived"));
    let md = written.read(MARKDOWN_FILE);
    let at = md.find("### Findings resolved in the month").unwrap();
    assert!(at > md.find("## Findings").unwrap() && at < md.find("## Who and where").unwrap());
    assert!(md[at..].contains("| 2026-02-15T06:00:00Z | critical | unattributed\\_session |"));

    // March lists fr2, whose event lies in February: a finding of any month can be
    // resolved in this one.
    let data = fixture();
    let march = compute_monthly_report(data.path(), "2026-03".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    let resolved = march.figure("resolved_findings").unwrap();
    assert_eq!(resolved.rows.len(), 1);
    assert_eq!(resolved.text(0, "finding_id"), Some("fr2"));
    assert_eq!(
        resolved.text(0, "resolved_time"),
        Some("2026-03-02T06:00:00.250Z")
    );
    assert_eq!(resolved.text(0, "event_time"), Some("2026-02-20T08:00:00Z"));
    // January: none.
    let january = compute_monthly_report(data.path(), "2026-01".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    assert!(january.figure("resolved_findings").unwrap().rows.is_empty());
}

#[tokio::test]
async fn sessions_per_permission_set_user_and_target() {
    let json = february(None).json();
    let counts = |sessions, attributed, unattributed, orphan, pending, direct| {
        json!({"sessions": sessions, "attributed": attributed, "unattributed": unattributed,
               "orphan": orphan, "pending": pending, "direct": direct})
    };
    let merge = |mut base: Value, more: Value| {
        for (key, value) in more.as_object().unwrap() {
            base[key] = value.clone();
        }
        base
    };
    // Failed StartSession calls (fx) are not counted here.
    assert_eq!(
        rows(&json, "sessions_by_permission_set"),
        [
            merge(
                counts(3, 2, 0, 1, 0, 0),
                json!({"permission_set": "Admin", "users": 2, "targets": 2})
            ),
            merge(
                counts(3, 0, 1, 0, 1, 1),
                json!({"permission_set": null, "users": 1, "targets": 2})
            ),
            merge(
                counts(2, 1, 0, 0, 0, 0),
                json!({"permission_set": PAYLOAD, "users": 1, "targets": 1})
            ),
            merge(
                counts(1, 0, 0, 0, 0, 1),
                json!({"permission_set": "BreakGlass", "users": 1, "targets": 1})
            ),
            merge(
                counts(1, 1, 0, 0, 0, 0),
                json!({"permission_set": "ReadOnly", "users": 1, "targets": 1})
            ),
        ]
    );
    let user = |name: Value, counts: Value, sets: i64, targets: i64, first: &str, last: &str| {
        merge(
            counts,
            json!({"original_user": name, "permission_sets": sets, "targets": targets,
                   "first_start_time": first, "last_start_time": last}),
        )
    };
    assert_eq!(
        rows(&json, "sessions_by_user"),
        [
            user(
                json!(PAYLOAD),
                counts(2, 1, 0, 0, 0, 0),
                1,
                1,
                "2026-02-10T12:00:00Z",
                "2026-02-10T13:00:00Z"
            ),
            user(
                json!("alice@example.com"),
                counts(2, 2, 0, 0, 0, 0),
                1,
                2,
                "2026-02-01T00:00:00Z",
                "2026-02-01T10:00:00Z"
            ),
            user(
                Value::Null,
                counts(2, 0, 1, 0, 1, 0),
                0,
                1,
                "2026-02-02T10:00:00Z",
                "2026-02-28T23:59:59.999Z"
            ),
            user(
                json!("bob@example.com"),
                counts(1, 1, 0, 0, 0, 0),
                1,
                1,
                "2026-02-02T08:00:00Z",
                "2026-02-02T08:00:00Z"
            ),
            user(
                json!("carol@example.com"),
                counts(1, 0, 0, 0, 0, 1),
                1,
                1,
                "2026-02-03T11:00:00Z",
                "2026-02-03T11:00:00Z"
            ),
            user(
                json!("dave"),
                counts(1, 0, 0, 0, 0, 1),
                0,
                1,
                "2026-02-05T07:45:00Z",
                "2026-02-05T07:45:00Z"
            ),
            user(
                json!("erin@example.com"),
                counts(1, 0, 0, 1, 0, 0),
                1,
                1,
                "2026-02-03T09:00:00.500Z",
                "2026-02-03T09:00:00.500Z"
            ),
        ]
    );
    let target =
        |account: &str, region: &str, target: &str, counts: Value, users: i64, sets: i64| {
            merge(
                counts,
                json!({"account_id": account, "region": region, "target": target, "users": users,
                   "permission_sets": sets}),
            )
        };
    assert_eq!(
        rows(&json, "sessions_by_target"),
        [
            target(A, REGION, "i-0aaa", counts(3, 2, 0, 0, 0, 1), 3, 2),
            target(A, REGION, "i-0bbb", counts(2, 1, 0, 1, 0, 0), 2, 1),
            target(A, REGION, "i-0ccc", counts(2, 0, 1, 0, 1, 0), 0, 0),
            target(PAYLOAD, PAYLOAD, PAYLOAD, counts(2, 1, 0, 0, 0, 0), 1, 1),
            target(A, REGION, "i-0eee", counts(1, 0, 0, 0, 0, 1), 1, 1),
        ]
    );
}

#[tokio::test]
async fn direct_orphan_and_unattributed_sessions() {
    let json = february(None).json();
    let direct = rows(&json, "direct_sessions");
    assert_eq!(direct.len(), 2);
    assert_eq!(direct[0]["session_id"], "f7");
    assert_eq!(direct[0]["permission_set"], "BreakGlass");
    assert_eq!(direct[0]["flagged"], false);
    assert_eq!(direct[1]["session_id"], "f8");
    assert_eq!(direct[1]["original_principal_arn"], DAVE);
    assert_eq!(direct[1]["flagged"], true);

    assert_eq!(
        rows(&json, "orphan_sessions"),
        [json!({
            "start_time": "2026-02-03T09:00:00.500Z", "session_id": "f5",
            "broker_request_id": "f5", "original_user": "erin@example.com",
            "original_principal_arn": ERIN, "permission_set": "Admin", "account_id": A,
            "region": REGION, "target": "i-0bbb", "document_name": ADMIN_DOC,
        })]
    );
    assert_eq!(
        rows(&json, "unattributed_sessions"),
        [json!({
            "start_time": "2026-02-02T10:00:00Z", "session_id": "f4", "account_id": A,
            "region": REGION, "target": "i-0ccc", "document_name": ADMIN_DOC,
            "cloudtrail_event_id": "f4", "cloudtrail_principal_arn": BROKER,
            "source_ip": "203.0.113.5", "user_agent": null,
        })]
    );
}

#[tokio::test]
async fn change_against_the_previous_month() {
    let json = february(None).json();
    assert_eq!(
        rows(&json, "month_over_month"),
        [
            json!({"period": "previous", "month": "2026-01", "sessions": 4, "broker_sessions": 4,
                   "attributed": 3, "attribution_rate": 0.75, "findings": 1,
                   "critical_high_findings": 1}),
            json!({"period": "current", "month": "2026-02", "sessions": 11, "broker_sessions": 6,
                   "attributed": 4, "attribution_rate": 4.0 / 6.0, "findings": 7,
                   "critical_high_findings": 5}),
            json!({"period": "change", "month": null, "sessions": 7, "broker_sessions": 2,
                   "attributed": 1, "attribution_rate": 4.0 / 6.0 - 0.75, "findings": 6,
                   "critical_high_findings": 4}),
        ]
    );
}

#[tokio::test]
async fn a_month_without_a_previous_one_has_a_null_previous_rate() {
    let data = fixture();
    let report = compute_monthly_report(data.path(), "2026-01".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    let trend = report.figure("month_over_month").unwrap();
    // December 2025 has one session (d1) but the rate exists; January's change is
    // against it.
    assert_eq!(trend.int(0, "sessions"), Some(1));
    assert_eq!(trend.float(0, "attribution_rate"), Some(1.0));
    assert_eq!(trend.float(1, "attribution_rate"), Some(0.75));
    let report = compute_monthly_report(data.path(), "2025-12".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    let trend = report.figure("month_over_month").unwrap();
    assert_eq!(trend.int(0, "sessions"), Some(0));
    assert_eq!(trend.float(0, "attribution_rate"), None);
    assert_eq!(
        trend.float(2, "attribution_rate"),
        None,
        "change against no rate"
    );
}

// ---------------------------------------------------------------------------------
// The verdict.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn verdict_against_the_minimum_attribution_rate() {
    let data = fixture();
    let month: Month = "2026-02".parse().unwrap();
    for (minimum, expected) in [
        (Some(0.6), Verdict::Pass),
        (Some(4.0 / 6.0), Verdict::Pass),
        (Some(0.9), Verdict::Fail),
        (None, Verdict::NoThreshold),
    ] {
        let report = compute_monthly_report(data.path(), month, &settings(minimum))
            .await
            .unwrap();
        assert_eq!(report.summary.verdict, expected, "{minimum:?}");
    }

    let out = tempfile::tempdir().unwrap();
    write_monthly_report(data.path(), "2026-02", out.path(), &settings(Some(0.9)))
        .await
        .unwrap();
    let html = std::fs::read_to_string(out.path().join(HTML_FILE)).unwrap();
    assert!(
        html.contains(r#"data-verdict="fail">FAIL</span>"#),
        "FAIL badge"
    );
    assert!(html.contains("The attribution rate 66.67 % is below the minimum of 90.00 %."));
    let md = std::fs::read_to_string(out.path().join(MARKDOWN_FILE)).unwrap();
    assert!(md.contains("**Verdict: FAIL**"), "{md}");

    write_monthly_report(data.path(), "2026-02", out.path(), &settings(None))
        .await
        .unwrap();
    let html = std::fs::read_to_string(out.path().join(HTML_FILE)).unwrap();
    assert!(html.contains(r#"data-verdict="no_threshold">NO VERDICT</span>"#));
    assert!(html.contains("No minimum attribution rate was set"));
}

#[tokio::test]
async fn a_minimum_outside_zero_to_one_is_an_error() {
    let data = fixture();
    let out = tempfile::tempdir().unwrap();
    for minimum in [-0.1, 1.5, 95.0, f64::NAN] {
        let err =
            write_monthly_report(data.path(), "2026-02", out.path(), &settings(Some(minimum)))
                .await
                .unwrap_err();
        assert!(
            matches!(err, ReportError::InvalidThreshold { .. }),
            "{minimum}: {err:?}"
        );
        assert!(err.to_string().contains("from 0 to 1"), "{err}");
    }
    for minimum in [0.0, 1.0] {
        write_monthly_report(data.path(), "2026-02", out.path(), &settings(Some(minimum)))
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------
// The files.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn the_three_files_are_written_and_nothing_else() {
    let written = february(Some(0.6));
    let names: BTreeSet<&str> = written.files.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from([HTML_FILE, MARKDOWN_FILE, JSON_FILE]));
    // The output folder is created when missing.
    let data = fixture();
    let parent = tempfile::tempdir().unwrap();
    let nested = parent.path().join("reports/2026-02");
    write_monthly_report(data.path(), "2026-02", &nested, &settings(None))
        .await
        .unwrap();
    assert!(nested.join(HTML_FILE).is_file());
}

#[tokio::test]
async fn every_figure_shows_the_sql_that_made_it() {
    let written = february(None);
    let html = written.read(HTML_FILE);
    let md = written.read(MARKDOWN_FILE);
    let json = written.json();
    for query in report_queries() {
        let figure = format!("<figure id=\"figure-{}\"", query.name);
        assert!(
            html.contains(&figure),
            "{}: no figure in the HTML",
            query.name
        );
        let sql_html = format!(
            "<summary>SQL: queries/report/{}.sql</summary><pre><code>",
            query.name
        );
        assert!(
            html.contains(&sql_html),
            "{}: no SQL in the HTML",
            query.name
        );
        // The SQL text itself, escaped (it holds quotes and `<>`).
        let first_line = query.sql.lines().nth(1).unwrap();
        let escaped = first_line
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(
            html.contains(&escaped),
            "{}: SQL text not shown",
            query.name
        );
        assert!(
            md.contains(&format!("```sql\n{}", query.sql.trim_end())),
            "{}: no SQL in the Markdown",
            query.name
        );
        assert_eq!(json["figures"][query.name]["sql"], query.sql);
        assert_eq!(
            json["figures"][query.name]["query"],
            format!("queries/report/{}.sql", query.name)
        );
    }
    assert_eq!(
        json["figures"].as_object().unwrap().len(),
        report_queries().len()
    );
}

#[tokio::test]
async fn the_html_is_self_contained_with_charts_and_print_css() {
    let html = february(Some(0.6)).read(HTML_FILE);
    assert!(html.starts_with("<!DOCTYPE html>"));
    for forbidden in ["http://", "https://", "src=", "<link", "@import", "url("] {
        let allowed_svg_namespace = forbidden == "http://";
        let count = html.matches(forbidden).count();
        let svg_namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
        if allowed_svg_namespace {
            assert_eq!(
                count, svg_namespaces,
                "an http:// reference besides the SVG namespace"
            );
        } else {
            assert_eq!(count, 0, "{forbidden} in a self-contained page");
        }
    }
    assert!(html.contains("Content-Security-Policy"));
    assert!(html.contains("@media print"));
    assert_eq!(html.matches("<svg").count(), 3);
    for chart in [
        "chart-sessions-by-day",
        "chart-attribution-rate-daily",
        "chart-findings-by-rule",
    ] {
        assert!(html.contains(&format!("id=\"{chart}\"")), "{chart}");
    }
    // Stacked bars: one rect per (day, status) with sessions, 9 in the fixture.
    let marks = html.matches("<rect class=\"mark\" data-day=").count();
    assert_eq!(marks, 9);
    assert!(html.contains(
        r#"<rect class="mark" data-day="2026-02-01" data-status="attributed" data-value="2""#
    ));
    // Rate line: one point per day with broker sessions, and the minimum as a line.
    assert_eq!(html.matches("<circle class=\"mark\"").count(), 4);
    assert!(html.contains(r#"data-series="attribution_rate" data-points="4""#));
    assert!(html.contains("minimum 60.00 %"));
    // Findings bars: one per rule with findings (7, the unknown rule included).
    assert_eq!(html.matches("<rect class=\"mark\" data-rule=").count(), 7);
    // Sortable tables, and cards for the findings listed in full.
    assert!(html.contains("<table class=\"sortable\""));
    assert_eq!(html.matches("<article class=\"finding").count(), 5);
    // The summary comes first.
    let summary = html.find("id=\"summary\"").unwrap();
    for later in ["id=\"sessions\"", "id=\"findings\"", "id=\"trend\""] {
        assert!(html.find(later).unwrap() > summary, "{later}");
    }
    assert!(html.contains("66.67 %"));
}

// ---------------------------------------------------------------------------------
// Escaping.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn every_data_string_is_escaped_in_the_html() {
    let html = february(None).read(HTML_FILE);
    // The one script element is the report's own.
    assert_eq!(
        html.matches("<script").count(),
        1,
        "a <script> from the data"
    );
    assert!(!html.contains("alert(1)</script>"));
    let escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; &amp; b";
    // Where the payload appears: status and rule rows, tables (permission set, user,
    // target, account, region), finding cards, chart labels and attributes.
    let count = html.matches(escaped).count();
    assert!(count >= 20, "payload shown escaped only {count} times");
    // Attribute values: the sort keys and the SVG data attributes.
    assert!(html.contains(&format!("data-sort=\"{escaped}\"")));
    assert!(html.contains(&format!("data-rule=\"{escaped}\"")));
    assert!(html.contains(&format!("data-finding-id=\"{escaped}\"")));
    // The evidence JSON is pretty-printed, then escaped.
    assert!(html.contains(
        "&quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt; \\&quot;q\\&quot; &#39;a&#39; &amp; b&quot;"
    ));
    // No raw payload piece anywhere.
    for raw in [PAYLOAD, "<script>alert", "\"q\" 'a' & b"] {
        assert!(!html.contains(raw), "raw {raw:?} in the HTML");
    }
}

#[tokio::test]
async fn every_data_string_is_escaped_in_the_markdown() {
    let md = february(None).read(MARKDOWN_FILE);
    // Every `<` and `&` of the data is backslash-escaped, so no renderer reads markup.
    for (at, _) in md.match_indices("<script").chain(md.match_indices("& b")) {
        assert!(
            md[..at].ends_with('\\'),
            "raw markup at byte {at} of the Markdown"
        );
    }
    let escaped = r#"\<script\>alert(1)\</script\> "q" 'a' \& b"#;
    assert!(
        md.matches(escaped).count() >= 10,
        "payload not shown escaped"
    );
    // Table rows keep their column count: no unescaped `|` from the data.
    for line in md.lines().filter(|line| line.starts_with('|')) {
        assert!(line.ends_with('|'), "{line}");
    }
}

// ---------------------------------------------------------------------------------
// Empty months and bad input.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_empty_month_gives_a_report_saying_so() {
    let data = fixture();
    let bare = tempfile::tempdir().unwrap();
    for (data, month, label) in [
        (data.path(), "2026-06", "June 2026 (2026-06)"),
        (bare.path(), "2024-02", "February 2024 (2024-02)"),
    ] {
        let out = tempfile::tempdir().unwrap();
        let report = write_monthly_report(data, month, out.path(), &settings(Some(0.95)))
            .await
            .unwrap();
        assert!(report.has_no_sessions());
        assert_eq!(report.summary.verdict, Verdict::NoBrokerSessions);
        let html = std::fs::read_to_string(out.path().join(HTML_FILE)).unwrap();
        assert!(
            html.contains(&format!("There were no sessions in {label}")),
            "{month}"
        );
        assert!(html.contains("No sessions in"), "the chart says so too");
        assert!(html.contains("No broker sessions in"));
        assert!(html.contains("No findings in"));
        assert!(html.contains(r#"data-verdict="no_broker_sessions">NO VERDICT"#));
        let md = std::fs::read_to_string(out.path().join(MARKDOWN_FILE)).unwrap();
        assert!(md.contains(&format!("**There were no sessions in {label}**")));
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(out.path().join(JSON_FILE)).unwrap())
                .unwrap();
        assert_eq!(json["summary"]["no_sessions"], true);
        assert_eq!(json["summary"]["sessions"], 0);
        assert_eq!(json["summary"]["attribution_rate"], Value::Null);
        assert_eq!(json["summary"]["verdict"], "no_broker_sessions");
        let days = if month == "2024-02" { 29 } else { 30 };
        assert_eq!(rows(&json, "sessions_by_day").len(), days);
        assert_eq!(rows(&json, "critical_high_findings"), Vec::<Value>::new());
        assert_eq!(rows(&json, "sessions_by_status").len(), 6);
        assert_eq!(rows(&json, "findings_by_rule").len(), 17);
    }
}

#[tokio::test]
async fn a_month_that_is_not_yyyy_mm_is_a_clear_error() {
    let data = fixture();
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    for month in [
        "2026-2",
        "2026-13",
        "2026-00",
        "02-2026",
        "2026/02",
        "2026-02-01",
        "February",
        "",
        "2026-02' OR '1'='1",
    ] {
        let err = write_monthly_report(data.path(), month, &out, &settings(None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ReportError::InvalidMonth { .. }),
            "{month:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("expected YYYY-MM"), "{message}");
        assert!(message.contains(&format!("`{month}`")), "{message}");
    }
    assert!(!out.exists(), "nothing written for a bad month");
}

#[tokio::test]
async fn only_the_partitions_of_the_two_months_are_read() {
    let data = fixture();
    // An unreadable sessions file in a month the report does not cover: the bound
    // month is pushed down to the listing as a `dt` filter, so the file is never opened.
    let broken = |folder: &str| {
        let folder = data.path().join(folder);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("broken.parquet"), b"not parquet at all").unwrap();
    };
    broken("sessions/dt=2025-06-15");
    let report = compute_monthly_report(data.path(), "2026-02".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    assert_eq!(report.summary.sessions, 11);
    // Findings of every month are read (resolved_findings: one raised in any month can
    // be resolved in this one), so an unreadable findings file anywhere is an error.
    broken("findings/dt=2025-06-15");
    let err = compute_monthly_report(data.path(), "2026-02".parse().unwrap(), &settings(None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("report query `resolved_findings`"),
        "{err}"
    );
    std::fs::remove_dir_all(data.path().join("findings/dt=2025-06-15")).unwrap();
    // The same file inside the month is an error naming the query.
    let folder = data.path().join("sessions/dt=2026-02-14");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("broken.parquet"), b"not parquet at all").unwrap();
    let err = compute_monthly_report(data.path(), "2026-02".parse().unwrap(), &settings(None))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("report query `"),
        "the error names the report query: {err}"
    );
}

#[tokio::test]
async fn a_missing_data_folder_is_an_error() {
    let parent = tempfile::tempdir().unwrap();
    let err = write_monthly_report(
        &parent.path().join("nope"),
        "2026-02",
        parent.path(),
        &settings(None),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ReportError::MissingData { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------
// The queries.
// ---------------------------------------------------------------------------------

fn report_queries_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../queries/report")
}

#[test]
fn the_embedded_queries_are_the_files_of_queries_report() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(report_queries_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let embedded: BTreeSet<String> = report_queries()
        .iter()
        .map(|query| query.name.to_string())
        .collect();
    assert_eq!(on_disk, embedded);
    for query in report_queries() {
        let file =
            std::fs::read_to_string(report_queries_dir().join(format!("{}.sql", query.name)))
                .unwrap();
        assert_eq!(file, query.sql, "{}: embedded text is stale", query.name);
        assert_eq!(report_query(query.name), Some(query));
    }
}

/// The column names listed after `Columns:` in a query's header.
fn header_columns(sql: &str) -> Vec<String> {
    let mut lines = header_lines(sql).skip_while(|line| !line.starts_with("Columns:"));
    let first = lines
        .next()
        .expect("header has a Columns: line")
        .trim_start_matches("Columns:");
    std::iter::once(first)
        .chain(lines.take_while(|line| !line.is_empty() && !line.contains(':')))
        .flat_map(|line| line.split(','))
        .map(|column| column.trim().to_string())
        .filter(|column| !column.is_empty())
        .collect()
}

#[tokio::test]
async fn every_query_has_a_header_and_its_columns_are_the_result_columns() {
    let data = fixture();
    let report = compute_monthly_report(data.path(), "2026-02".parse().unwrap(), &settings(None))
        .await
        .unwrap();
    for query in report_queries() {
        assert!(query.sql.starts_with("-- "), "{}", query.name);
        let header: Vec<_> = header_lines(query.sql).collect();
        assert!(
            query.question().ends_with('?'),
            "{}: {}",
            query.name,
            query.question()
        );
        for label in ["Asked by:", "Parameters:", "Columns:"] {
            assert!(
                header.iter().any(|line| line.contains(label)),
                "{}: header lacks {label}",
                query.name
            );
        }
        assert!(!query.sql.trim_end().ends_with(';'), "{}", query.name);
        let figure = report.figure(query.name).unwrap();
        let columns: Vec<_> = figure.columns.iter().map(|c| c.name.clone()).collect();
        assert_eq!(columns, header_columns(query.sql), "{}", query.name);
    }
}

#[tokio::test]
async fn the_month_is_bound_never_pasted_into_sql() {
    // The queries name their bounds as placeholders; none holds a literal date.
    for query in report_queries() {
        let code: String = query
            .sql
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect();
        assert!(code.contains("$first_day"), "{}", query.name);
        assert!(!code.contains("'20"), "{}: a literal date", query.name);
    }
    // And the report queries only read: the context refuses statements.
    let data = fixture();
    let ctx = sessiontrail_report::open_dataset(data.path())
        .await
        .unwrap();
    assert!(query(&ctx, "DROP TABLE sessions").await.is_err());
}

// ---------------------------------------------------------------------------------
// In a browser.
// ---------------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs Chromium headless with `args` and the page, at most `limit`; returns stdout and
/// the page's console messages (Chromium logs them to stderr as `...:CONSOLE...` lines).
fn chromium(profile: &Path, args: &[String], page: &str, limit: Duration) -> (String, Vec<String>) {
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(page)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let mut stderr = child.stderr.take().unwrap();
    let log_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let console = log_reader
        .join()
        .unwrap()
        .lines()
        .filter(|line| line.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (reader.join().unwrap(), console)
}

#[tokio::test]
async fn the_report_renders_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        sessiontrail_test_support::skip(
            "the_report_renders_in_headless_chromium",
            sessiontrail_test_support::Prerequisite::Chromium,
            &format!("{CHROMIUM} is not installed"),
        );
        return;
    }
    let written = february(Some(0.6));
    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("monthly_report");
    std::fs::create_dir_all(&artifacts).unwrap();
    let html = artifacts.join(HTML_FILE);
    std::fs::write(&html, written.read(HTML_FILE)).unwrap();
    let page = format!("file://{}", html.display());
    let profile = tempfile::tempdir().unwrap();
    let limit = Duration::from_secs(90);

    let screenshot = artifacts.join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    let (_, console) = chromium(
        profile.path(),
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1280,2000".to_string(),
        ],
        &page,
        limit,
    );
    assert!(
        console.is_empty(),
        "console messages while rendering: {console:#?}"
    );
    let png = std::fs::read(&screenshot).expect("a screenshot was written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(
        png.len() > 10_000,
        "a blank screenshot ({} bytes)",
        png.len()
    );
    println!("screenshot: {}", screenshot.display());

    let (dom, console) = chromium(profile.path(), &["--dump-dom".to_string()], &page, limit);
    assert!(console.is_empty(), "console messages: {console:#?}");
    // The console check can fail: a page with an error is caught.
    let broken = artifacts.join("console-error.html");
    std::fs::write(
        &broken,
        "<html><body><script>undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let (_, console) = chromium(
        profile.path(),
        &["--dump-dom".to_string()],
        &format!("file://{}", broken.display()),
        limit,
    );
    assert!(
        console
            .iter()
            .any(|line| line.contains("Uncaught ReferenceError")),
        "a console error is seen: {console:#?}"
    );
    // The script ran (it marks the root) and nothing from the data did.
    assert!(
        dom.contains("<html lang=\"en\" class=\"js\">"),
        "the sort script did not run"
    );
    assert!(!dom.contains("<script>alert"));
    // The charts hold their marks, with data.
    let chart = |id: &str| {
        let start = dom
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id}"));
        let end = start + dom[start..].find("</svg>").unwrap();
        dom[start..end].to_string()
    };
    let sessions = chart("chart-sessions-by-day");
    assert_eq!(sessions.matches("<rect class=\"mark\"").count(), 9);
    assert!(sessions.contains(r#"data-status="unattributed" data-value="1""#));
    let rate = chart("chart-attribution-rate-daily");
    assert!(rate.contains("<path class=\"mark\""));
    assert!(rate.contains(" d=\"M"), "the rate line has a path");
    assert_eq!(rate.matches("<circle class=\"mark\"").count(), 4);
    let findings = chart("chart-findings-by-rule");
    assert_eq!(findings.matches("<rect class=\"mark\"").count(), 7);
    assert!(
        findings.contains(
            r#"data-rule="unattributed_session" data-severity="critical" data-value="1""#
        )
    );
    // Key figures are in the DOM.
    for figure in [
        "66.67 %",
        "data-verdict=\"pass\">PASS",
        "The attribution rate 66.67 % meets the minimum of 60.00 %.",
        "<span class=\"value\">6</span><span class=\"label\">broker sessions</span>",
        "<span class=\"value\">1</span><span class=\"label\">unattributed sessions</span>",
        "<span class=\"value\">1</span><span class=\"label\">orphan broker records</span>",
    ] {
        assert!(dom.contains(figure), "{figure} not in the DOM");
    }
    println!("DOM checked: {} bytes", dom.len());
}

/// Writes `rows` under `data/table/dt=<UTC date of time_column>/part-N.parquet`, at
/// most two rows per file.
fn write_table(data: &Path, table: &str, time_column: &str, rows: Vec<Row>) {
    let schema = tables()
        .into_iter()
        .find(|(name, _)| *name == table)
        .expect("known table")
        .1;
    common::write_partitioned(data, table, &schema, time_column, &rows, 2);
}

// ---------------------------------------------------------------------------------
// What a copy of the dataset must hold, finality, the bytes.
// ---------------------------------------------------------------------------------

/// Copies the partitions of `data` that `keep(table, dt)` wants into a new folder.
fn copy_partitions(data: &Path, keep: impl Fn(&str, &str) -> bool) -> TempDir {
    let copy = tempfile::tempdir().unwrap();
    for (table, _) in tables() {
        let Ok(entries) = std::fs::read_dir(data.join(table)) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let dt = name.strip_prefix("dt=").unwrap();
            if !keep(table, dt) {
                continue;
            }
            let into = copy.path().join(table).join(&name);
            std::fs::create_dir_all(&into).unwrap();
            for file in std::fs::read_dir(entry.path()).unwrap() {
                let file = file.unwrap();
                std::fs::copy(file.path(), into.join(file.file_name())).unwrap();
            }
        }
    }
    copy
}

async fn report_json(data: &Path, month: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    write_monthly_report(data, month, out.path(), &settings(Some(0.6)))
        .await
        .unwrap();
    std::fs::read_to_string(out.path().join(JSON_FILE)).unwrap()
}

#[tokio::test]
async fn a_copy_of_the_partitions_needed_gives_the_report_of_the_whole_dataset() {
    let data = fixture();
    for month in ["2026-01", "2026-02", "2026-03"] {
        let needed = sessiontrail_report::partitions_needed(month.parse().unwrap());
        let copy = copy_partitions(data.path(), |table, dt| {
            let dt = chrono::NaiveDate::parse_from_str(dt, "%Y-%m-%d").unwrap();
            needed.iter().any(|p| p.table == table && p.contains(dt))
        });
        assert_eq!(
            report_json(copy.path(), month).await,
            report_json(data.path(), month).await,
            "{month}"
        );
    }
    // The month and a day each side (what an s3:// report used to copy) is not
    // enough: January has sessions before its last day.
    let narrow = copy_partitions(data.path(), |_, dt| {
        ("2026-01-31".."2026-03-02").contains(&dt)
    });
    let narrow: Value = serde_json::from_str(&report_json(narrow.path(), "2026-02").await).unwrap();
    let whole: Value = serde_json::from_str(&report_json(data.path(), "2026-02").await).unwrap();
    assert_eq!(rows(&whole, "month_over_month")[0]["sessions"], 4);
    assert_eq!(rows(&narrow, "month_over_month")[0]["sessions"], 1);
}

#[tokio::test]
async fn report_json_writes_its_keys_sorted_at_every_depth() {
    let written = february(Some(0.6));
    let text = written.read(JSON_FILE);
    common::assert_keys_sorted(&text);
    let objects = common::object_keys_in_text_order(&text);
    // The document, its summary, its figures and their rows: many objects.
    assert!(objects.len() > 50, "{}", objects.len());
    assert_eq!(
        objects[0][..3],
        ["figures", "final", "final_from"].map(String::from)
    );
    // The checker sees an unsorted object.
    let result = std::panic::catch_unwind(|| common::assert_keys_sorted(r#"{"b":1,"a":2}"#));
    assert!(result.is_err());
}

#[test]
fn the_default_grace_is_the_policys() {
    let policy = sessiontrail_correlate::Policy::parse(
        "[broker]\nrole_arns = [\"arn:aws:iam::111122223333:role/broker\"]\n",
    )
    .unwrap();
    assert_eq!(
        sessiontrail_report::monthly_report::DEFAULT_GRACE,
        policy.grace
    );
    assert_eq!(
        ReportSettings::default().grace,
        policy.grace,
        "without a policy the report uses the policy's default grace"
    );
}

#[tokio::test]
async fn a_report_says_whether_it_is_final_in_every_file() {
    let data = fixture();
    let grace = Duration::from_secs(3600);
    let write = |month: &'static str, as_of: &'static str| {
        let data = data.path().to_path_buf();
        async move {
            let out = tempfile::tempdir().unwrap();
            let settings = ReportSettings {
                min_attribution_rate: None,
                as_of: Some(at(as_of)),
                grace,
            };
            let report = write_monthly_report(&data, month, out.path(), &settings)
                .await
                .unwrap();
            let read = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap();
            let json: Value = serde_json::from_str(&read(JSON_FILE)).unwrap();
            (report, json, read(HTML_FILE), read(MARKDOWN_FILE))
        }
    };
    // January: final one hour (the grace) after its end, nothing of it pending.
    let (report, json, html, md) = write("2026-01", "2026-02-01T01:00:00Z").await;
    assert!(report.is_final());
    assert_eq!(json["final"], true);
    assert_eq!(json["provisional_reason"], Value::Null);
    assert_eq!(json["final_from"], "2026-02-01T01:00:00Z");
    assert_eq!(json["generated_at"], "2026-02-01T01:00:00Z");
    assert!(!html.contains("PROVISIONAL") && !md.contains("PROVISIONAL"));
    // A second earlier it is not.
    let (_, json, html, md) = write("2026-01", "2026-02-01T00:59:59Z").await;
    assert_eq!(json["final"], false);
    let reason = json["provisional_reason"].as_str().unwrap();
    assert!(
        reason.contains("(1h)") && reason.contains("2026-02-01T01:00:00Z"),
        "{reason}"
    );
    assert!(html.contains("id=\"provisional\"") && html.contains("(provisional)</title>"));
    assert!(md.contains("> **PROVISIONAL: this report is not final.**"));
    // February holds a pending session (f6): provisional however late.
    let (_, json, html, md) = write("2026-02", "2030-01-01T00:00:00Z").await;
    assert_eq!(json["final"], false);
    assert_eq!(
        json["provisional_reason"],
        "1 session of the month is still pending in the dataset: a later correlation run \
         (sessiontrail correlate, or the Lambda's schedule) decides them"
    );
    assert!(html.contains("1 session of the month is still pending"));
    assert!(md.contains("1 session of the month is still pending"));
}
