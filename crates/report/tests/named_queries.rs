//! The named queries over a small fixed dataset, sqllogictest-style: the test plants
//! sessions and findings (exact schemas, Parquet, `dt=` folders), runs every query of
//! `queries/` and compares its CSV output with `tests/expected/<name>.csv`, written by
//! hand from the rows below.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use sessiontrail_report::{
    OutputFormat, ReportError, description, header_lines, named_queries, named_query, open_dataset,
    query, run_named_query, run_query, tables, write_batches,
};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------
// The fixed dataset.
// ---------------------------------------------------------------------------------

const A: &str = "111122223333";
const B: &str = "444455556666";
const BROKER_A: &str = "arn:aws:sts::111122223333:assumed-role/ssm-session-broker/broker-lambda";
const BROKER_B: &str = "arn:aws:sts::444455556666:assumed-role/ssm-session-broker/broker-lambda";
const ALICE_A: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d/alice@example.com";
const ALICE_B: &str =
    "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Admin_9f8e7d6c/alice@example.com";
const BOB: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_0a1b2c3d/bob@example.com";
const CAROL: &str =
    "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_BreakGlass_5e6f7a8b/carol@example.com";
const DAVE: &str = "arn:aws:iam::111122223333:user/dave";
const ERIN: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d/erin@example.com";
const FRANK: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_ReadOnly_0a1b2c3d/frank@example.com";
const ADMIN_DOC: &str = "SSMRunAs-Admin-Session";
const READONLY_DOC: &str = "SSMRunAs-ReadOnly-Session";
const DEFAULT_DOC: &str = "SSM-SessionManagerRunShell";

/// A row: (column, value as text) pairs; absent columns are null. Timestamps are
/// RFC 3339, booleans `true`/`false`: each column is cast to its schema type.
type Row = Vec<(&'static str, &'static str)>;

/// Fields shared by the sessions of one kind, completed per session.
fn row(common: &[(&'static str, &'static str)], own: &[(&'static str, &'static str)]) -> Row {
    let mut row: Row = common.to_vec();
    for &(column, value) in own {
        row.retain(|(c, _)| *c != column);
        row.push((column, value));
    }
    row
}

fn sessions() -> Vec<Row> {
    let broker = [
        ("account_id", A),
        ("region", "us-east-1"),
        ("via_broker", "true"),
        ("cloudtrail_principal_arn", BROKER_A),
    ];
    let alice = [
        ("original_principal_arn", ALICE_A),
        ("original_user", "alice@example.com"),
        ("permission_set", "Admin"),
        ("expected_document", ADMIN_DOC),
        ("run_as", "admin"),
        ("source_ip", "198.51.100.10"),
        ("user_agent", "aws-cli/2.15.0"),
    ];
    let broker_alice: Vec<_> = broker.iter().chain(alice.iter()).copied().collect();
    let carol = [
        ("status", "direct"),
        ("account_id", B),
        ("region", "us-east-1"),
        ("target", "i-0eee"),
        ("document_name", DEFAULT_DOC),
        ("via_broker", "false"),
        ("cloudtrail_principal_arn", CAROL),
        ("original_principal_arn", CAROL),
        ("original_user", "carol@example.com"),
        ("permission_set", "BreakGlass"),
        ("source_ip", "192.0.2.7"),
        ("user_agent", "aws-cli/2.13.1"),
    ];
    let dave = [
        ("account_id", A),
        ("region", "us-east-1"),
        ("target", "i-0aaa"),
        ("document_name", DEFAULT_DOC),
        ("via_broker", "false"),
        ("cloudtrail_principal_arn", DAVE),
        ("original_principal_arn", DAVE),
        ("original_user", "dave"),
        ("source_ip", "192.0.2.9"),
        ("user_agent", "aws-cli/2.9.0"),
    ];
    vec![
        // 2024-03-01
        row(
            &broker_alice,
            &[
                ("session_id", "alice-0a1"),
                ("status", "attributed"),
                ("start_time", "2024-03-01T09:00:00Z"),
                ("end_time", "2024-03-01T09:30:00Z"),
                ("target", "i-0aaa"),
                ("document_name", ADMIN_DOC),
                ("cloudtrail_event_id", "ev-01"),
                ("run_as", "root"),
                ("broker_request_id", "req-01"),
            ],
        ),
        row(
            &broker_alice,
            &[
                ("session_id", "alice-0a2"),
                ("status", "attributed"),
                ("start_time", "2024-03-01T14:15:30.250Z"),
                ("target", "i-0bbb"),
                ("document_name", READONLY_DOC),
                ("cloudtrail_event_id", "ev-02"),
                ("broker_request_id", "req-02"),
            ],
        ),
        row(
            &broker,
            &[
                ("status", "failed"),
                ("start_time", "2024-03-01T16:00:00Z"),
                ("target", "i-0ddd"),
                ("document_name", ADMIN_DOC),
                ("cloudtrail_event_id", "ev-10"),
                ("source_ip", "203.0.113.5"),
                ("user_agent", "Boto3/1.34.0"),
            ],
        ),
        // 2024-03-02
        row(
            &broker,
            &[
                ("session_id", "bob-0b1"),
                ("status", "attributed"),
                ("start_time", "2024-03-02T08:00:00Z"),
                ("end_time", "2024-03-02T08:20:00Z"),
                ("target", "i-0aaa"),
                ("document_name", READONLY_DOC),
                ("cloudtrail_event_id", "ev-03"),
                ("original_principal_arn", BOB),
                ("original_user", "bob@example.com"),
                ("permission_set", "ReadOnly"),
                ("expected_document", READONLY_DOC),
                ("run_as", "readonly"),
                ("broker_request_id", "req-03"),
                ("source_ip", "198.51.100.20"),
                ("user_agent", "aws-cli/2.15.0"),
            ],
        ),
        row(
            &broker,
            &[
                ("session_id", "broker-0u1"),
                ("status", "unattributed"),
                ("start_time", "2024-03-02T10:00:00Z"),
                ("target", "i-0ccc"),
                ("document_name", ADMIN_DOC),
                ("cloudtrail_event_id", "ev-04"),
                ("source_ip", "203.0.113.5"),
                ("user_agent", "Boto3/1.34.0"),
            ],
        ),
        row(
            &carol,
            &[
                ("session_id", "carol-0d1"),
                ("start_time", "2024-03-02T11:00:00Z"),
                ("end_time", "2024-03-02T11:45:00Z"),
                ("cloudtrail_event_id", "ev-05"),
            ],
        ),
        row(
            &dave,
            &[
                ("status", "failed"),
                ("start_time", "2024-03-02T17:00:00Z"),
                ("cloudtrail_event_id", "ev-11"),
            ],
        ),
        // 2024-03-03
        row(
            &dave,
            &[
                ("session_id", "dave-0d2"),
                ("status", "direct"),
                ("start_time", "2024-03-03T07:45:00Z"),
                ("cloudtrail_event_id", "ev-06"),
            ],
        ),
        vec![
            ("session_id", "erin-0o1"),
            ("status", "orphan"),
            ("start_time", "2024-03-03T09:00:00.500Z"),
            ("account_id", A),
            ("region", "us-east-1"),
            ("target", "i-0bbb"),
            ("document_name", ADMIN_DOC),
            ("via_broker", "true"),
            ("original_principal_arn", ERIN),
            ("original_user", "erin@example.com"),
            ("permission_set", "Admin"),
            ("expected_document", ADMIN_DOC),
            ("run_as", "admin"),
            ("broker_request_id", "req-07"),
            ("source_ip", "198.51.100.30"),
        ],
        row(
            &broker,
            &[
                ("session_id", "broker-0p1"),
                ("status", "pending"),
                ("start_time", "2024-03-03T12:00:00Z"),
                ("target", "i-0ccc"),
                ("document_name", ADMIN_DOC),
                ("cloudtrail_event_id", "ev-08"),
                ("source_ip", "203.0.113.5"),
                ("user_agent", "Boto3/1.34.0"),
            ],
        ),
        vec![
            ("session_id", "frank-0p2"),
            ("status", "pending"),
            ("start_time", "2024-03-03T12:05:00Z"),
            ("account_id", A),
            ("region", "us-east-1"),
            ("target", "i-0ddd"),
            ("document_name", READONLY_DOC),
            ("via_broker", "true"),
            ("original_principal_arn", FRANK),
            ("original_user", "frank@example.com"),
            ("permission_set", "ReadOnly"),
            ("expected_document", READONLY_DOC),
            ("run_as", "readonly"),
            ("broker_request_id", "req-09"),
            ("source_ip", "198.51.100.40"),
        ],
        row(
            &broker_alice,
            &[
                ("session_id", "alice-0a3"),
                ("status", "attributed"),
                ("start_time", "2024-03-03T15:00:00Z"),
                ("end_time", "2024-03-03T16:00:00Z"),
                ("account_id", B),
                ("region", "eu-west-1"),
                ("target", "i-0fff"),
                ("document_name", DEFAULT_DOC),
                ("cloudtrail_event_id", "ev-12"),
                ("cloudtrail_principal_arn", BROKER_B),
                ("original_principal_arn", ALICE_B),
                ("broker_request_id", "req-12"),
            ],
        ),
        // 2024-03-04: only a direct session, no broker activity.
        row(
            &carol,
            &[
                ("session_id", "carol-0d3"),
                ("start_time", "2024-03-04T03:00:00Z"),
                ("cloudtrail_event_id", "ev-13"),
            ],
        ),
    ]
}

fn findings() -> Vec<Row> {
    let finding = |id, rule, severity, session, time, principal, detail| -> Row {
        let mut row = vec![
            ("finding_id", id),
            ("rule", rule),
            ("severity", severity),
            ("event_time", time),
            ("account_id", A),
            ("region", "us-east-1"),
            ("principal_arn", principal),
            ("detail", detail),
            ("evidence", "{}"),
        ];
        if let Some(session) = session {
            row.push(("session_id", session));
        }
        row
    };
    let with = |mut row: Row, more: &[(&'static str, &'static str)]| {
        row.extend_from_slice(more);
        row
    };
    vec![
        with(
            finding(
                "f-01-doc",
                "document_mismatch",
                "high",
                Some("alice-0a2"),
                "2024-03-01T14:15:30.250Z",
                ALICE_A,
                "Admin session used SSMRunAs-ReadOnly-Session instead of SSMRunAs-Admin-Session",
            ),
            &[("target", "i-0bbb"), ("permission_set", "Admin")],
        ),
        finding(
            "f-02-unattr",
            "unattributed_session",
            "critical",
            Some("broker-0u1"),
            "2024-03-02T10:00:00Z",
            BROKER_A,
            "No broker record for broker session broker-0u1",
        ),
        finding(
            "f-03-direct",
            "direct_session",
            "medium",
            Some("dave-0d2"),
            "2024-03-03T07:45:00Z",
            DAVE,
            "Direct session by an IAM user",
        ),
        with(
            finding(
                "f-04-orphan",
                "orphan_broker_record",
                "high",
                Some("erin-0o1"),
                "2024-03-03T09:00:00.500Z",
                ERIN,
                "Broker record req-07 has no StartSession in CloudTrail",
            ),
            &[("target", "i-0bbb"), ("permission_set", "Admin")],
        ),
        finding(
            "f-05-skew",
            "clock_skew",
            "low",
            Some("bob-0b1"),
            "2024-03-02T08:00:00Z",
            BOB,
            "Broker ts and eventTime differ by 7 minutes",
        ),
        with(
            finding(
                "f-06-doc",
                "document_mismatch",
                "high",
                Some("alice-0a3"),
                "2024-03-03T15:00:00Z",
                ALICE_B,
                "Admin session used SSM-SessionManagerRunShell instead of SSMRunAs-Admin-Session",
            ),
            &[
                ("account_id", B),
                ("region", "eu-west-1"),
                ("target", "i-0fff"),
                ("permission_set", "Admin"),
            ],
        ),
        finding(
            "f-07-runas",
            "run_as_mismatch",
            "high",
            Some("alice-0a1"),
            "2024-03-01T09:00:00Z",
            ALICE_A,
            "Broker run_as root differs from admin",
        ),
        finding(
            "f-08-secret",
            "secret_in_broker_log",
            "high",
            Some("alice-0a1"),
            "2024-03-01T09:00:00Z",
            ALICE_A,
            "Broker record req-01 holds a token",
        ),
        // Keyed by request id: a denied broker record has no session.
        finding(
            "f-09-secret",
            "secret_in_broker_log",
            "high",
            None,
            "2024-03-02T09:30:00Z",
            BOB,
            "Broker record req-x1 holds a token",
        ),
    ]
}

fn schema_of(table: &str) -> SchemaRef {
    tables()
        .into_iter()
        .find(|(name, _)| *name == table)
        .expect("known table")
        .1
}

/// A temporary data folder holding the fixed dataset.
fn fixture() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sessions_schema = schema_of("sessions");
    let findings_schema = schema_of("findings");
    write_table(
        dir.path(),
        "sessions",
        &sessions_schema,
        "start_time",
        sessions(),
    );
    write_table(
        dir.path(),
        "findings",
        &findings_schema,
        "event_time",
        findings(),
    );
    dir
}

// ---------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------

fn render(batches: &[RecordBatch], format: OutputFormat) -> String {
    let mut out = Vec::new();
    write_batches(batches, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn queries_dir() -> PathBuf {
    manifest_dir().join("../../queries")
}

fn expected_dir() -> PathBuf {
    manifest_dir().join("tests/expected")
}

/// The stems of the files with extension `ext` in `dir`.
fn stems(dir: &Path, ext: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == ext))
        .map(|path| path.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The column names listed after `Columns:` in a query's header.
fn header_columns(sql: &str) -> Vec<String> {
    let mut lines = header_lines(sql).skip_while(|line| !line.starts_with("Columns:"));
    let first = lines
        .next()
        .expect("header has a Columns: line")
        .trim_start_matches("Columns:");
    std::iter::once(first)
        .chain(lines.take_while(|line| !line.is_empty()))
        .flat_map(|line| line.split(','))
        .map(|column| column.trim().to_string())
        .filter(|column| !column.is_empty())
        .collect()
}

fn column_names(batches: &[RecordBatch]) -> Vec<String> {
    batches[0]
        .schema()
        .fields()
        .iter()
        .map(|field| field.name().clone())
        .collect()
}

fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

// ---------------------------------------------------------------------------------
// The named queries.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn every_named_query_gives_its_expected_rows() {
    let data = fixture();
    let mut failures = Vec::new();
    for (name, sql) in named_queries() {
        let batches = run_query(data.path(), sql)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let actual = render(&batches, OutputFormat::Csv);
        let path = expected_dir().join(format!("{name}.csv"));
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        if actual != expected {
            failures.push(format!(
                "{name}: output differs from {}\n--- expected\n{expected}--- actual\n{actual}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn run_named_query_runs_the_embedded_text() {
    let data = fixture();
    let by_name = run_named_query(data.path(), "pending").await.unwrap();
    let by_text = run_query(data.path(), named_query("pending").unwrap())
        .await
        .unwrap();
    assert_eq!(
        render(&by_name, OutputFormat::Csv),
        render(&by_text, OutputFormat::Csv)
    );
    assert_eq!(row_count(&by_name), 2);
}

#[test]
fn queries_folder_and_embedded_table_agree() {
    let on_disk = stems(&queries_dir(), "sql");
    let embedded: BTreeSet<String> = named_queries()
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(
        on_disk, embedded,
        "queries/*.sql and the table in named_query.rs differ"
    );
    for (name, sql) in named_queries() {
        let file = std::fs::read_to_string(queries_dir().join(format!("{name}.sql"))).unwrap();
        assert_eq!(file, *sql, "{name}: embedded text is stale");
    }
    let names: Vec<_> = named_queries().iter().map(|(name, _)| *name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "the embedded table is sorted by name");
}

#[test]
fn every_query_has_an_expected_file_and_vice_versa() {
    let expected = stems(&expected_dir(), "csv");
    let embedded: BTreeSet<String> = named_queries()
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(expected, embedded);
}

#[test]
fn every_query_has_a_header_comment() {
    for (name, sql) in named_queries() {
        assert!(
            sql.starts_with("-- "),
            "{name}: does not start with a -- header"
        );
        let header: Vec<_> = header_lines(sql).collect();
        let question = description(name).unwrap();
        assert!(
            question.ends_with('?'),
            "{name}: first header paragraph is not a question: {question:?}"
        );
        assert!(
            header.iter().any(|line| line.starts_with("Asked by:")),
            "{name}: header does not say who asks"
        );
        assert!(
            !header_columns(sql).is_empty(),
            "{name}: header lists no columns"
        );
        assert!(
            !sql.trim_end().ends_with(';'),
            "{name}: trailing ';' (Athena rejects it)"
        );
    }
}

#[test]
fn description_is_the_first_header_paragraph() {
    assert_eq!(
        description("unattributed").unwrap(),
        "Which sessions did the broker start that no broker log record ties to a human?"
    );
    assert_eq!(
        description("document_mismatch").unwrap(),
        "Which sessions ran a session document (and so a Linux user) other than the one \
         their permission set is assigned?"
    );
    assert!(matches!(
        description("nope"),
        Err(ReportError::UnknownQuery { .. })
    ));
}

#[tokio::test]
async fn header_columns_are_the_result_columns() {
    let data = fixture();
    for (name, sql) in named_queries() {
        let batches = run_query(data.path(), sql).await.unwrap();
        assert_eq!(
            column_names(&batches),
            header_columns(sql),
            "{name}: header Columns: and result differ"
        );
    }
}

#[test]
fn unknown_query_lists_the_available_names() {
    let err = named_query("unatributed").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("unatributed"), "{message}");
    for (name, _) in named_queries() {
        assert!(message.contains(name), "{message} lacks {name}");
    }
}

// ---------------------------------------------------------------------------------
// The dataset.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn every_query_runs_on_an_empty_dataset() {
    let bare = tempfile::tempdir().unwrap();
    let with_folders = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(with_folders.path().join("sessions/dt=2024-03-01")).unwrap();
    std::fs::create_dir_all(with_folders.path().join("findings")).unwrap();
    for data in [bare.path(), with_folders.path()] {
        for (name, sql) in named_queries() {
            let batches = run_query(data, sql)
                .await
                .unwrap_or_else(|e| panic!("{name} on an empty dataset: {e}"));
            assert_eq!(row_count(&batches), 0, "{name}");
            assert_eq!(column_names(&batches), header_columns(sql), "{name}");
            let csv = render(&batches, OutputFormat::Csv);
            assert_eq!(
                csv,
                format!("{}\n", header_columns(sql).join(",")),
                "{name}: CSV of no rows is the header alone"
            );
        }
    }
}

#[tokio::test]
async fn aggregates_over_an_empty_dataset_count_zero() {
    let data = tempfile::tempdir().unwrap();
    let batches = run_query(
        data.path(),
        "SELECT COUNT(*) AS sessions FROM sessions UNION ALL SELECT COUNT(*) FROM findings",
    )
    .await
    .unwrap();
    assert_eq!(render(&batches, OutputFormat::Csv), "sessions\n0\n0\n");
}

#[tokio::test]
async fn tables_have_the_schema_columns_and_dt() {
    let data = tempfile::tempdir().unwrap();
    let ctx = open_dataset(data.path()).await.unwrap();
    for (table, schema) in tables() {
        let provider = ctx.table_provider(table).await.unwrap();
        let mut expected: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        expected.push("dt".to_string());
        let actual: Vec<_> = provider
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(actual, expected, "{table}");
    }
}

#[tokio::test]
async fn dt_comes_from_the_folder_names() {
    let data = fixture();
    let batches = run_query(
        data.path(),
        "SELECT dt, COUNT(*) AS sessions FROM sessions GROUP BY dt ORDER BY dt",
    )
    .await
    .unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Csv),
        "dt,sessions\n2024-03-01,3\n2024-03-02,4\n2024-03-03,5\n2024-03-04,1\n"
    );
}

#[tokio::test]
async fn a_context_runs_several_queries() {
    let data = fixture();
    let ctx = open_dataset(data.path()).await.unwrap();
    let sessions = query(&ctx, "SELECT COUNT(*) AS n FROM sessions")
        .await
        .unwrap();
    let findings = query(&ctx, "SELECT COUNT(*) AS n FROM findings")
        .await
        .unwrap();
    assert_eq!(render(&sessions, OutputFormat::Csv), "n\n13\n");
    assert_eq!(render(&findings, OutputFormat::Csv), "n\n9\n");
}

#[tokio::test]
async fn folder_names_with_glob_and_url_characters_work() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("out [1] *?#%é");
    std::fs::create_dir(&data).unwrap();
    write_table(
        &data,
        "findings",
        &schema_of("findings"),
        "event_time",
        findings(),
    );
    let batches = run_query(&data, "SELECT COUNT(*) AS n FROM findings")
        .await
        .unwrap();
    assert_eq!(render(&batches, OutputFormat::Csv), "n\n9\n");
}

#[tokio::test]
async fn a_missing_data_folder_is_an_error_naming_it() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("no-such-out");
    let err = run_query(&missing, "SELECT 1").await.unwrap_err();
    assert!(
        matches!(&err, ReportError::MissingData { path } if *path == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains("no-such-out"), "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[tokio::test]
async fn a_data_path_that_is_a_file_is_an_error() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("out.parquet");
    std::fs::write(&file, b"not a folder").unwrap();
    let Err(err) = open_dataset(&file).await else {
        panic!("a file as data folder was accepted");
    };
    assert!(matches!(&err, ReportError::NotADirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("out.parquet"), "{err}");
}

// ---------------------------------------------------------------------------------
// Errors name the query.
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn an_sql_error_names_the_ad_hoc_sql() {
    let data = tempfile::tempdir().unwrap();
    let err = run_query(data.path(), "SELECT no_such_column\nFROM sessions")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ReportError::Query { .. }), "{err:?}");
    assert!(
        message.contains("SQL \"SELECT no_such_column FROM sessions\""),
        "{message}"
    );
    assert!(message.contains("no_such_column"), "{message}");
}

#[tokio::test]
async fn an_error_in_a_named_query_names_it() {
    let data = tempfile::tempdir().unwrap();
    let folder = data.path().join("sessions/dt=2024-03-01");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("broken.parquet"), b"not parquet at all").unwrap();
    let err = run_named_query(data.path(), "unattributed")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("query `unattributed` (queries/unattributed.sql)"),
        "{message}"
    );
}

#[tokio::test]
async fn only_queries_are_allowed() {
    let data = tempfile::tempdir().unwrap();
    let copy_target = data.path().join("copy.csv");
    for sql in [
        "CREATE TABLE t AS SELECT 1 AS x".to_string(),
        "DROP TABLE sessions".to_string(),
        format!("COPY (SELECT 1) TO '{}'", copy_target.display()),
        "SET datafusion.execution.batch_size = 1".to_string(),
    ] {
        let err = run_query(data.path(), &sql).await.unwrap_err();
        assert!(matches!(err, ReportError::Query { .. }), "{sql}: {err:?}");
    }
    assert!(!copy_target.exists());
}

// ---------------------------------------------------------------------------------
// Output formats.
// ---------------------------------------------------------------------------------

const SAMPLE: &str = "SELECT session_id, start_time, end_time, via_broker, permission_set \
                      FROM sessions WHERE original_user = 'alice@example.com' \
                      ORDER BY start_time";

#[tokio::test]
async fn csv_has_a_header_row_and_rfc3339_utc_times() {
    let data = fixture();
    let batches = run_query(data.path(), SAMPLE).await.unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Csv),
        "session_id,start_time,end_time,via_broker,permission_set\n\
         alice-0a1,2024-03-01T09:00:00Z,2024-03-01T09:30:00Z,true,Admin\n\
         alice-0a2,2024-03-01T14:15:30.250Z,,true,Admin\n\
         alice-0a3,2024-03-03T15:00:00Z,2024-03-03T16:00:00Z,true,Admin\n"
    );
}

#[tokio::test]
async fn json_lines_parse_back_one_object_per_row() {
    let data = fixture();
    let batches = run_query(data.path(), SAMPLE).await.unwrap();
    let text = render(&batches, OutputFormat::Json);
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1],
        serde_json::json!({
            "session_id": "alice-0a2",
            "start_time": "2024-03-01T14:15:30.250Z",
            "end_time": null,
            "via_broker": true,
            "permission_set": "Admin",
        })
    );
    assert_eq!(rows[0]["start_time"], "2024-03-01T09:00:00Z");
}

#[tokio::test]
async fn json_numbers_stay_numbers() {
    let data = fixture();
    let batches = run_named_query(data.path(), "attribution_rate_daily")
        .await
        .unwrap();
    let text = render(&batches, OutputFormat::Json);
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1]["day"], "2024-03-02");
    assert_eq!(rows[1]["broker_sessions"], 2);
    assert_eq!(rows[1]["attribution_rate"], 0.5);
    assert_eq!(rows[3]["attribution_rate"], serde_json::Value::Null);
}

#[tokio::test]
async fn table_is_aligned_with_a_header() {
    let data = fixture();
    let batches = run_query(data.path(), SAMPLE).await.unwrap();
    let table = render(&batches, OutputFormat::Table);
    let lines: Vec<_> = table.lines().collect();
    // border, header, border, 3 rows, border
    assert_eq!(lines.len(), 7, "{table}");
    assert!(lines[1].contains("session_id") && lines[1].contains("permission_set"));
    assert!(lines[4].contains("2024-03-01T14:15:30.250Z"), "{table}");
    let width = lines[0].chars().count();
    assert!(
        lines.iter().all(|line| line.chars().count() == width),
        "{table}"
    );
}

#[tokio::test]
async fn empty_results_still_have_headers() {
    let data = tempfile::tempdir().unwrap();
    let batches = run_query(data.path(), SAMPLE).await.unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Csv),
        "session_id,start_time,end_time,via_broker,permission_set\n"
    );
    assert_eq!(render(&batches, OutputFormat::Json), "");
    assert!(render(&batches, OutputFormat::Table).contains("session_id"));
    assert_eq!(render(&[], OutputFormat::Csv), "");
}

#[test]
fn output_format_names_round_trip() {
    for format in OutputFormat::ALL {
        assert_eq!(format.to_string().parse::<OutputFormat>().unwrap(), format);
    }
    assert_eq!("CSV".parse::<OutputFormat>().unwrap(), OutputFormat::Csv);
    let err = "yaml".parse::<OutputFormat>().unwrap_err();
    assert!(err.to_string().contains("yaml"), "{err}");
    assert!(err.to_string().contains("table, csv, json"), "{err}");
}

#[test]
fn reads_the_same_schemas_as_the_writer() {
    let names: Vec<_> = tables().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["sessions", "findings", "rejects", "evidence"]);
    assert_eq!(
        schema_of("sessions"),
        sessiontrail_correlate::schema::sessions_schema()
    );
    assert_eq!(
        schema_of("findings"),
        sessiontrail_correlate::schema::findings_schema()
    );
    assert_eq!(
        schema_of("rejects"),
        sessiontrail_correlate::schema::rejects_schema()
    );
    assert_eq!(
        schema_of("evidence"),
        sessiontrail_correlate::schema::evidence_schema()
    );
}

#[tokio::test]
async fn rejects_are_queried_like_the_other_tables() {
    let data = tempfile::tempdir().unwrap();
    // A dataset that never rejected a record has no rejects/ folder: an empty table.
    let sql = "SELECT input_kind, source_file, line, byte_offset, reason, dt FROM rejects \
               ORDER BY dt, source_file, line";
    let batches = run_query(data.path(), sql).await.unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Csv),
        "input_kind,source_file,line,byte_offset,reason,dt\n"
    );
    let rejects = [
        (
            "2026-02-02",
            vec![
                ("input_kind", "cloudtrail"),
                ("source_file", "ct/a.jsonl"),
                ("line", "3"),
                ("byte_offset", "120"),
                ("reason", "JSON value not complete at the end of its line"),
            ],
        ),
        (
            "2026-02-03",
            vec![
                ("input_kind", "broker_log"),
                ("source_file", "broker/b.jsonl"),
                ("reason", "v: expected 1"),
            ],
        ),
    ];
    let schema = schema_of("rejects");
    for (dt, row) in rejects {
        let folder = data.path().join("rejects").join(format!("dt={dt}"));
        std::fs::create_dir_all(&folder).unwrap();
        let batch = common::text_batch(&schema, &[row]);
        let file = std::fs::File::create(folder.join("part-0.parquet")).unwrap();
        let mut writer =
            datafusion::parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }
    let batches = run_query(data.path(), sql).await.unwrap();
    assert_eq!(
        render(&batches, OutputFormat::Csv),
        "input_kind,source_file,line,byte_offset,reason,dt\n\
         cloudtrail,ct/a.jsonl,3,120,JSON value not complete at the end of its line,2026-02-02\n\
         broker_log,broker/b.jsonl,,,v: expected 1,2026-02-03\n"
    );
}

/// Writes `rows` under `data/table/dt=<date of time_column>/part-N.parquet`, at most
/// two rows per file (so partitions hold several files).
fn write_table(data: &Path, table: &str, schema: &SchemaRef, time_column: &str, rows: Vec<Row>) {
    common::write_partitioned(data, table, schema, time_column, &rows, 2);
}
