//! Exporting findings: JSON lines and CSV as the table is, OCSF 1.1.0 Detection
//! Findings, and ASFF batches for BatchImportFindings, checked field by field against
//! the required lists of the Security Hub API model and OCSF 1.1.0, over findings planted as Parquet.

mod common;

use common::{A, ALICE, FindingRow as Row, PAYLOAD};

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};
use sessiontrail_correlate::schema::findings_schema;
use sessiontrail_report::findings_export::{ASFF_MAX_BATCH, finding_title};

/// The titles a Security Hub or SIEM user sees, written out here (not read from the
/// program): changing one is changing what users filter on.
const TITLES: [(&str, &str); 17] = [
    (
        "unattributed_session",
        "SSM session started by the broker is not attributed to a human",
    ),
    (
        "document_mismatch",
        "SSM session used a session document other than its permission set's",
    ),
    (
        "unknown_permission_set",
        "SSM session by a permission set that is not in the policy",
    ),
    (
        "run_as_mismatch",
        "Broker ran an SSM session as a Linux user other than the policy's",
    ),
    (
        "field_mismatch",
        "CloudTrail and the broker log disagree about an SSM session",
    ),
    (
        "in_band_identity_mismatch",
        "CloudTrail's in-band identity contradicts the broker record's caller",
    ),
    (
        "duplicate_broker_claim",
        "Several broker records claim the same SSM session",
    ),
    (
        "orphan_broker_record",
        "Broker started an SSM session that CloudTrail never recorded",
    ),
    (
        "secret_in_broker_log",
        "Session token written to the broker log",
    ),
    ("direct_session", "SSM session started without the broker"),
    (
        "foreign_session_control",
        "SSM session resumed or terminated by a principal other than its owner",
    ),
    (
        "clock_skew",
        "Broker and CloudTrail clocks disagree about an SSM session",
    ),
    (
        "log_file_tampered",
        "CloudTrail log file differs from the one its signed digest lists",
    ),
    (
        "digest_signature_invalid",
        "CloudTrail digest file's signature does not verify",
    ),
    (
        "log_file_missing",
        "CloudTrail log file listed by a digest is not there",
    ),
    ("digest_chain_broken", "CloudTrail digest chain is broken"),
    (
        "log_file_not_covered",
        "CloudTrail log file is listed by no digest",
    ),
];

fn expected_title(rule: &str) -> String {
    TITLES.iter().find(|(id, _)| *id == rule).map_or_else(
        || format!("sessiontrail finding: {rule}"),
        |(_, t)| t.to_string(),
    )
}

#[test]
fn every_rule_has_its_title_listed_here() {
    let listed: Vec<&str> = TITLES.iter().map(|(id, _)| *id).collect();
    let rules: Vec<&str> = sessiontrail_correlate::rule::Rule::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(listed, rules, "a rule was added: give its title here");
    for (id, title) in TITLES {
        assert_eq!(finding_title(id), title);
    }
}
use sessiontrail_report::{
    FindingsFormat, ReportError, export_findings, export_findings_with_summary,
};
use tempfile::TempDir;

const B: &str = "444455556666";
const GOV: &str =
    "arn:aws-us-gov:sts::444455556666:assumed-role/AWSReservedSSO_Admin_9f8e7d6c/gwen@example.com";

/// Findings that exercise the edges: the payload, a managed node, no target and no
/// session, GovCloud, an unknown rule, a detail longer than ASFF allows.
fn special() -> Vec<Row> {
    let base = |id: &str, time: &str| -> Row {
        vec![
            ("finding_id", id.to_string()),
            ("rule", "direct_session".to_string()),
            ("severity", "medium".to_string()),
            ("event_time", time.to_string()),
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
    vec![
        with(
            base("x-payload", "2026-02-02T00:00:00Z"),
            &[
                ("finding_id", PAYLOAD),
                ("rule", "secret_in_broker_log"),
                ("severity", "high"),
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
            base("x-managed-node", "2026-02-02T00:01:00Z"),
            &[("session_id", "s-mi"), ("target", "mi-0123456789abcdef0")],
        ),
        // Keyed by request id: no session, no target.
        with(
            base("x-no-target", "2026-02-02T00:02:00Z"),
            &[("rule", "secret_in_broker_log"), ("severity", "high")],
        ),
        with(
            base("x-gov", "2026-02-02T00:03:00Z"),
            &[
                ("session_id", "s-gov"),
                ("account_id", B),
                ("region", "us-gov-west-1"),
                ("target", "i-0abc"),
                ("principal_arn", GOV),
                ("severity", "critical"),
                ("rule", "unattributed_session"),
            ],
        ),
        with(
            base("x-unknown-rule", "2026-02-02T00:04:00Z"),
            &[
                ("rule", "future_rule"),
                ("severity", "low"),
                ("target", "i-0abc"),
            ],
        ),
        with(
            base("x-long", "2026-02-02T00:05:00Z"),
            &[("target", "i-0abc"), ("detail", &long_detail)],
        ),
    ]
}

/// 205 ordinary findings and the special ones: 211 in all.
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

const TOTAL: usize = 211;

async fn export(data: &Path, format: FindingsFormat) -> (usize, String) {
    let mut out = Vec::new();
    let count = export_findings(data, format, &mut out).await.unwrap();
    (count, String::from_utf8(out).unwrap())
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Epoch milliseconds of an RFC 3339 UTC time.
fn millis(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_millis()
}

fn column_names() -> Vec<String> {
    findings_schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect()
}

// ---------------------------------------------------------------------------------
// Formats.
// ---------------------------------------------------------------------------------

#[test]
fn format_names_round_trip() {
    for format in FindingsFormat::ALL {
        assert_eq!(
            format.to_string().parse::<FindingsFormat>().unwrap(),
            format
        );
    }
    assert_eq!(
        "OCSF".parse::<FindingsFormat>().unwrap(),
        FindingsFormat::Ocsf
    );
    let err = "sarif".parse::<FindingsFormat>().unwrap_err();
    assert!(matches!(err, ReportError::UnknownFindingsFormat(_)));
    assert!(err.to_string().contains("jsonl, csv, ocsf, asff"), "{err}");
}

#[tokio::test]
async fn jsonl_is_the_findings_table_as_is() {
    let data = fixture();
    let (count, text) = export(data.path(), FindingsFormat::Jsonl).await;
    assert_eq!(count, TOTAL);
    let rows = json_lines(&text);
    assert_eq!(rows.len(), TOTAL);
    let expected: BTreeSet<String> = column_names().into_iter().collect();
    for row in &rows {
        let keys: BTreeSet<String> = row.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, expected, "exactly the schema's columns, no dt");
    }
    // Oldest first; times as RFC 3339.
    assert_eq!(
        rows[0]["finding_id"],
        "unattributed_session-0000000000000000"
    );
    assert_eq!(rows[0]["event_time"], "2026-02-01T00:00:00Z");
    assert_eq!(rows[3]["event_time"], "2026-02-01T00:03:00.250Z");
    let payload = rows.iter().find(|row| row["detail"] == PAYLOAD).unwrap();
    assert_eq!(payload["finding_id"], PAYLOAD);
    let no_target = rows
        .iter()
        .find(|row| row["finding_id"] == "x-no-target")
        .unwrap();
    assert_eq!(no_target["session_id"], Value::Null);
}

#[tokio::test]
async fn csv_is_the_findings_table_as_is() {
    let data = fixture();
    let (count, text) = export(data.path(), FindingsFormat::Csv).await;
    assert_eq!(count, TOTAL);
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), column_names().join(","));
    assert_eq!(lines.count(), TOTAL);
    assert!(
        text.contains("\"finding number 0, with a comma\""),
        "quoted"
    );
}

// ---------------------------------------------------------------------------------
// OCSF.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn ocsf_events_have_the_required_fields_and_values() {
    let data = fixture();
    let (count, text) = export(data.path(), FindingsFormat::Ocsf).await;
    assert_eq!(count, TOTAL);
    let events = json_lines(&text);
    assert_eq!(events.len(), TOTAL, "one event per line");
    let table = json_lines(&export(data.path(), FindingsFormat::Jsonl).await.1);
    for (event, row) in events.iter().zip(&table) {
        let id = &row["finding_id"];
        // Required by the class (ocsf-schema v1.1.0).
        assert_eq!(event["class_uid"], 2004, "{id}");
        assert_eq!(event["category_uid"], 2);
        assert_eq!(event["activity_id"], 1);
        assert_eq!(event["type_uid"], 200401);
        assert_eq!(event["time"], millis(row["event_time"].as_str().unwrap()));
        assert!(event["time"].is_i64(), "time is epoch ms, an integer");
        let severity_id = match row["severity"].as_str().unwrap() {
            "low" => 2,
            "medium" => 3,
            "high" => 4,
            "critical" => 5,
            other => panic!("unexpected severity {other}"),
        };
        assert_eq!(event["severity_id"], severity_id, "{id}");
        assert_eq!(event["metadata"]["version"], "1.1.0");
        assert_eq!(event["metadata"]["product"]["vendor_name"], "sessiontrail");
        assert_eq!(event["metadata"]["product"]["name"], "sessiontrail");
        assert_eq!(event["finding_info"]["uid"], *id);
        let title = event["finding_info"]["title"].as_str().unwrap();
        assert!(!title.is_empty());
        assert_eq!(title, expected_title(row["rule"].as_str().unwrap()), "{id}");
        assert_eq!(event["finding_info"]["desc"], row["detail"]);
        assert_eq!(event["finding_info"]["types"], json!([row["rule"]]));
        // The cloud profile.
        assert_eq!(event["cloud"]["provider"], "AWS");
        assert_eq!(event["cloud"]["account"]["uid"], row["account_id"]);
        assert_eq!(event["cloud"]["region"], row["region"]);
        // Recommended: resources, evidences, message.
        match row["target"].as_str() {
            Some(target) => {
                assert_eq!(event["resources"][0]["uid"], target);
                assert!(event["resources"][0]["type"].is_string());
            }
            None => assert!(event.get("resources").is_none(), "{id}"),
        }
        let evidence: Value = serde_json::from_str(row["evidence"].as_str().unwrap()).unwrap();
        assert_eq!(event["evidences"][0]["data"], evidence);
        assert_eq!(event["message"], row["detail"]);
        assert_eq!(event["unmapped"]["session_id"], row["session_id"]);
    }
    let by_id = |id: &str| {
        events
            .iter()
            .find(|e| e["finding_info"]["uid"] == id)
            .unwrap()
    };
    assert_eq!(
        by_id("x-managed-node")["resources"][0]["type"],
        "AWS::SSM::ManagedInstance"
    );
    assert_eq!(
        by_id("unattributed_session-0000000000000000")["resources"][0]["type"],
        "AWS::EC2::Instance"
    );
    assert_eq!(
        by_id("x-gov")["resources"][0]["cloud_partition"],
        "aws-us-gov"
    );
    assert_eq!(
        by_id("x-unknown-rule")["finding_info"]["title"],
        "sessiontrail finding: future_rule"
    );
    assert_eq!(by_id(PAYLOAD)["finding_info"]["desc"], PAYLOAD);
}

// ---------------------------------------------------------------------------------
// ASFF.
// ---------------------------------------------------------------------------------

/// The `AwsSecurityFinding` required list of the current API model, plus Severity and
/// Types that the Security Hub user guide still requires ("Required top-level
/// attributes in ASFF").
const ASFF_REQUIRED: [&str; 12] = [
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "CreatedAt",
    "UpdatedAt",
    "Title",
    "Description",
    "Resources",
    "Severity",
    "Types",
];

const ASFF_NAMESPACES: [&str; 5] = [
    "Software and Configuration Checks",
    "TTPs",
    "Effects",
    "Unusual Behaviors",
    "Sensitive Data Identifications",
];

#[tokio::test]
async fn asff_batches_hold_at_most_100_findings() {
    let data = fixture();
    let (count, text) = export(data.path(), FindingsFormat::Asff).await;
    assert_eq!(count, TOTAL);
    let batches = json_lines(&text);
    assert_eq!(batches.len(), TOTAL.div_ceil(ASFF_MAX_BATCH));
    assert_eq!(ASFF_MAX_BATCH, 100);
    let sizes: Vec<usize> = batches
        .iter()
        .map(|batch| {
            let object = batch.as_object().unwrap();
            assert_eq!(
                object.keys().collect::<Vec<_>>(),
                ["Findings"],
                "a request body"
            );
            batch["Findings"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes, [100, 100, 11]);
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|batch| batch["Findings"].as_array().unwrap().clone())
        .map(|finding| finding["Id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        TOTAL,
        "every finding once"
    );
}

#[tokio::test]
async fn asff_findings_have_the_required_fields_with_the_right_types() {
    let data = fixture();
    let table = json_lines(&export(data.path(), FindingsFormat::Jsonl).await.1);
    let (_, text) = export(data.path(), FindingsFormat::Asff).await;
    let findings: Vec<Value> = json_lines(&text)
        .iter()
        .flat_map(|batch| batch["Findings"].as_array().unwrap().clone())
        .collect();
    assert_eq!(findings.len(), TOTAL);
    for (finding, row) in findings.iter().zip(&table) {
        let id = row["finding_id"].as_str().unwrap();
        for field in ASFF_REQUIRED {
            assert!(finding.get(field).is_some(), "{id}: no {field}");
        }
        for field in [
            "SchemaVersion",
            "Id",
            "ProductArn",
            "GeneratorId",
            "AwsAccountId",
            "CreatedAt",
            "UpdatedAt",
            "Title",
            "Description",
        ] {
            assert!(finding[field].is_string(), "{id}: {field} is not a string");
        }
        assert_eq!(finding["SchemaVersion"], "2018-10-08");
        assert_eq!(finding["Id"], format!("sessiontrail/{id}"));
        assert!(finding["Id"].as_str().unwrap().chars().count() <= 512);
        assert_eq!(
            finding["GeneratorId"],
            format!("sessiontrail/{}", row["rule"].as_str().unwrap())
        );
        let account = finding["AwsAccountId"].as_str().unwrap();
        assert_eq!(account, row["account_id"].as_str().unwrap());
        assert!(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
        let region = row["region"].as_str().unwrap();
        let partition = if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        assert_eq!(
            finding["ProductArn"],
            format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
        );
        // CreatedAt = UpdatedAt = event_time, RFC 3339.
        assert_eq!(finding["CreatedAt"], row["event_time"]);
        assert_eq!(finding["UpdatedAt"], finding["CreatedAt"]);
        chrono::DateTime::parse_from_rfc3339(finding["CreatedAt"].as_str().unwrap()).unwrap();
        let label = finding["Severity"]["Label"].as_str().unwrap();
        assert_eq!(label, row["severity"].as_str().unwrap().to_uppercase());
        assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label));
        let types = finding["Types"].as_array().unwrap();
        assert!(!types.is_empty());
        for kind in types {
            let kind = kind.as_str().unwrap();
            let parts: Vec<_> = kind.split('/').collect();
            assert!((2..=3).contains(&parts.len()), "{kind}");
            assert!(ASFF_NAMESPACES.contains(&parts[0]), "{kind}");
        }
        assert!(finding["Title"].as_str().unwrap().chars().count() <= 256);
        let description = finding["Description"].as_str().unwrap();
        assert!(!description.is_empty());
        assert!(
            description.chars().count() <= 1024,
            "{id}: Description too long"
        );
        let resources = finding["Resources"].as_array().unwrap();
        assert!(!resources.is_empty());
        for resource in resources {
            assert!(resource["Type"].is_string(), "{id}");
            assert!(resource["Id"].is_string(), "{id}");
        }
    }
    let by_id = |id: &str| {
        findings
            .iter()
            .find(|f| f["Id"] == format!("sessiontrail/{id}"))
            .unwrap()
    };
    let ordinary = by_id("unattributed_session-0000000000000000");
    assert_eq!(ordinary["Types"], json!(["Unusual Behaviors/User"]));
    assert_eq!(
        ordinary["Resources"][0],
        json!({"Type": "AwsEc2Instance",
               "Id": "arn:aws:ec2:eu-west-1:111122223333:instance/i-00000000000000000",
               "Partition": "aws", "Region": "eu-west-1"})
    );
    assert_eq!(
        by_id("document_mismatch-0000000000000001")["Types"],
        json!(["Software and Configuration Checks/AWS Security Best Practices"])
    );
    assert_eq!(by_id("x-managed-node")["Resources"][0]["Type"], "Other");
    assert_eq!(
        by_id("x-no-target")["Resources"][0],
        json!({"Type": "Other", "Id": ALICE, "Partition": "aws", "Region": "us-east-1"})
    );
    let gov = by_id("x-gov");
    assert_eq!(
        gov["Resources"][0]["Id"],
        "arn:aws-us-gov:ec2:us-gov-west-1:444455556666:instance/i-0abc"
    );
    assert_eq!(
        by_id("x-long")["Description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        1024
    );
    let payload = by_id(PAYLOAD);
    assert!(
        payload["Description"]
            .as_str()
            .unwrap()
            .starts_with(PAYLOAD)
    );
    assert_eq!(
        payload["Resources"][0],
        json!({"Type": "Other", "Id": PAYLOAD,
        "Partition": "aws", "Region": "us-east-1"})
    );
    assert_eq!(
        by_id("unattributed_session-0000000000000000")["ProductFields"]["sessiontrail/rule"],
        "unattributed_session"
    );
}

/// Rows whose partition, account or region would be spliced into ARNs as they are, or
/// that ASFF cannot express at all, between two good ones.
fn hostile_asff_rows() -> Vec<Row> {
    let mut rows = common::ordinary_findings(2);
    let bad = |id: &str, change: &[(&'static str, Option<&str>)]| -> Row {
        let mut row = common::ordinary_findings(1).remove(0);
        row.retain(|(column, _)| *column != "finding_id");
        row.push(("finding_id", id.to_string()));
        for &(column, value) in change {
            row.retain(|(c, _)| *c != column);
            if let Some(value) = value {
                row.push((column, value.to_string()));
            }
        }
        row
    };
    rows.extend([
        // No account anywhere: neither account_id nor an account in the principal ARN.
        bad(
            "x-no-account",
            &[("account_id", None), ("principal_arn", None)],
        ),
        bad("x-short-account", &[("account_id", Some("12345"))]),
        // An ARN smuggled in through the account.
        bad(
            "x-arn-account",
            &[("account_id", Some("111122223333:role/evil"))],
        ),
        bad("x-no-region", &[("region", None)]),
        bad(
            "x-arn-region",
            &[("region", Some("eu-west-1:999988887777"))],
        ),
        bad("x-upper-region", &[("region", Some("EU-WEST-1"))]),
        // A terminal escape in the region: the summary must not print it raw.
        bad("x-escape-region", &[("region", Some("\u{1b}[2J"))]),
        bad(
            "x-partition",
            &[(
                "principal_arn",
                Some("arn:aws-evil:sts::111122223333:assumed-role/r/alice@example.com"),
            )],
        ),
        bad("x-severity", &[("severity", Some("catastrophic"))]),
    ]);
    rows
}

#[tokio::test]
async fn asff_skips_each_finding_it_cannot_express_and_says_which_and_why() {
    let data = tempfile::tempdir().unwrap();
    common::write_partitioned(
        data.path(),
        "findings",
        &findings_schema(),
        "event_time",
        &hostile_asff_rows(),
        50,
    );
    let mut out = Vec::new();
    let asff = export_findings_with_summary(data.path(), FindingsFormat::Asff, &mut out)
        .await
        .unwrap();
    assert_eq!(asff.findings, 11);
    assert_eq!(asff.written, 2);
    let skipped: Vec<(&str, String)> = asff
        .skipped
        .iter()
        .map(|s| (s.finding_id.as_str(), s.reason.to_string()))
        .collect();
    // The rows all share one event time, so they come in finding_id order.
    assert_eq!(
        skipped,
        [
            (
                "x-arn-account",
                r#"account "111122223333:role/evil" is not 12 digits"#.into()
            ),
            (
                "x-arn-region",
                r#"region "eu-west-1:999988887777" is not an AWS region name"#.into()
            ),
            (
                "x-escape-region",
                r#"region "\u{1b}[2J" is not an AWS region name"#.into()
            ),
            (
                "x-no-account",
                "no account_id (AwsAccountId and ProductArn need one)".into()
            ),
            ("x-no-region", "no region (ProductArn needs one)".into()),
            (
                "x-partition",
                "partition \"aws-evil\" is not one of aws, aws-cn, aws-us-gov, aws-iso, \
                 aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc"
                    .into()
            ),
            ("x-severity", r#"unknown severity "catastrophic""#.into()),
            (
                "x-short-account",
                r#"account "12345" is not 12 digits"#.into()
            ),
            (
                "x-upper-region",
                r#"region "EU-WEST-1" is not an AWS region name"#.into()
            ),
        ]
    );
    assert_eq!(
        asff.summary(),
        "2 of 11 findings as asff; 9 skipped, not expressible in ASFF: \
         2 with an account that is not 12 digits (\"x-arn-account\": account \
         \"111122223333:role/evil\" is not 12 digits; \"x-short-account\": account \"12345\" \
         is not 12 digits), \
         3 with a region that is not an AWS region name (\"x-arn-region\": region \
         \"eu-west-1:999988887777\" is not an AWS region name; \"x-escape-region\": region \
         \"\\u{1b}[2J\" is not an AWS region name; \"x-upper-region\": region \"EU-WEST-1\" is \
         not an AWS region name), \
         1 with no account (\"x-no-account\": no account_id (AwsAccountId and ProductArn \
         need one)), \
         1 with no region (\"x-no-region\": no region (ProductArn needs one)), \
         1 with a partition that is not an AWS partition (\"x-partition\": partition \
         \"aws-evil\" is not one of aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, \
         aws-iso-f, aws-eusc), \
         1 with an unknown severity (\"x-severity\": unknown severity \"catastrophic\")"
    );
    assert!(!asff.summary().contains('\u{1b}'), "no raw escape");
    // The good findings are written, the bad ones nowhere.
    let text = String::from_utf8(out).unwrap();
    let findings: Vec<Value> = json_lines(&text)
        .iter()
        .flat_map(|batch| batch["Findings"].as_array().unwrap().clone())
        .collect();
    let ids: Vec<&str> = findings.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "sessiontrail/unattributed_session-0000000000000000",
            "sessiontrail/document_mismatch-0000000000000001"
        ]
    );
    for bad in ["evil", "999988887777", "12345", "EU-WEST-1", "catastrophic"] {
        assert!(!text.contains(bad), "{bad} in the export");
    }
    // export_findings counts what it wrote.
    let mut out = Vec::new();
    assert_eq!(
        export_findings(data.path(), FindingsFormat::Asff, &mut out)
            .await
            .unwrap(),
        2
    );
    // OCSF splices nothing into ARNs: every finding is written.
    let (count, _) = export(data.path(), FindingsFormat::Ocsf).await;
    assert_eq!(count, 11);
    let mut out = Vec::new();
    let ocsf = export_findings_with_summary(data.path(), FindingsFormat::Ocsf, &mut out)
        .await
        .unwrap();
    assert!(ocsf.skipped.is_empty());
    assert_eq!(ocsf.summary(), "11 findings as ocsf");
}

#[tokio::test]
async fn a_resolved_finding_is_resolved_in_ocsf_and_asff_and_stays_active() {
    let data = tempfile::tempdir().unwrap();
    let mut rows = common::ordinary_findings(2);
    rows[1].extend([
        ("resolved_time", "2026-03-01T12:00:00.500Z".to_string()),
        (
            "resolution",
            "withdrawn by the run as of 2026-03-01T12:00:00.500Z".to_string(),
        ),
    ]);
    common::write_partitioned(
        data.path(),
        "findings",
        &findings_schema(),
        "event_time",
        &rows,
        50,
    );
    let events = json_lines(&export(data.path(), FindingsFormat::Ocsf).await.1);
    assert_eq!(events[0]["status_id"], 1);
    assert_eq!(events[0]["status"], "New");
    assert!(events[0].get("status_detail").is_none());
    assert!(events[0]["finding_info"].get("modified_time").is_none());
    assert_eq!(events[1]["status_id"], 4);
    assert_eq!(events[1]["status"], "Resolved");
    assert_eq!(
        events[1]["status_detail"],
        "withdrawn by the run as of 2026-03-01T12:00:00.500Z"
    );
    assert_eq!(
        events[1]["finding_info"]["modified_time"],
        millis("2026-03-01T12:00:00.500Z")
    );
    // Still a finding that was raised when it was: time and first_seen_time unchanged.
    assert_eq!(events[1]["time"], millis("2026-02-01T00:01:00Z"));
    assert_eq!(
        events[1]["finding_info"]["first_seen_time"],
        millis("2026-02-01T00:01:00Z")
    );

    let batches = json_lines(&export(data.path(), FindingsFormat::Asff).await.1);
    let findings = batches[0]["Findings"].as_array().unwrap();
    assert_eq!(findings[0]["Workflow"], json!({"Status": "NEW"}));
    assert_eq!(findings[0]["RecordState"], "ACTIVE");
    assert_eq!(findings[0]["UpdatedAt"], "2026-02-01T00:00:00Z");
    assert!(
        findings[0]["ProductFields"]
            .get("sessiontrail/resolved_time")
            .is_none()
    );
    assert_eq!(findings[1]["Workflow"], json!({"Status": "RESOLVED"}));
    assert_eq!(findings[1]["RecordState"], "ACTIVE");
    assert_eq!(findings[1]["CreatedAt"], "2026-02-01T00:01:00Z");
    assert_eq!(findings[1]["UpdatedAt"], "2026-03-01T12:00:00.500Z");
    assert_eq!(
        findings[1]["ProductFields"]["sessiontrail/resolved_time"],
        "2026-03-01T12:00:00.500Z"
    );
    assert_eq!(
        findings[1]["ProductFields"]["sessiontrail/resolution"],
        "withdrawn by the run as of 2026-03-01T12:00:00.500Z"
    );
}

#[tokio::test]
async fn an_empty_dataset_exports_nothing() {
    let data = tempfile::tempdir().unwrap();
    for format in FindingsFormat::ALL {
        let (count, text) = export(data.path(), format).await;
        assert_eq!(count, 0, "{format}");
        let expected = match format {
            FindingsFormat::Csv => format!("{}\n", column_names().join(",")),
            _ => String::new(),
        };
        assert_eq!(text, expected, "{format}");
    }
}

#[tokio::test]
async fn a_missing_data_folder_is_an_error() {
    let parent = tempfile::tempdir().unwrap();
    let mut out = Vec::new();
    let err = export_findings(&parent.path().join("nope"), FindingsFormat::Ocsf, &mut out)
        .await
        .unwrap_err();
    assert!(matches!(err, ReportError::MissingData { .. }), "{err:?}");
}
