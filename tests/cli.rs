//! The command line's contract: exit codes, errors that name the file and line at
//! fault, rejects that don't stop a run, and no token value in any output.

mod common;

use std::path::Path;

use common::{path_str, read_table, run};

const POLICY: &str = r#"default_document = "SSM-SessionManagerRunShell"

[broker]
role_arns = ["arn:aws:iam::111122223333:role/ssm-session-broker"]
grace = "30m"

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"
"#;

fn start_session(event_id: &str, session_id: &str, time: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session-broker","arn":"arn:aws:sts::111122223333:assumed-role/ssm-session-broker/session-broker","accountId":"111122223333","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/ssm-session-broker","accountId":"111122223333","userName":"ssm-session-broker"}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}}}},"eventTime":"{time}","eventSource":"ssm.amazonaws.com","eventName":"StartSession","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userAgent":"aws-sdk-rust","requestParameters":{{"target":"i-0abc","documentName":"SSMRunAs-Admin-Session"}},"responseElements":{{"sessionId":"{session_id}","tokenValue":"Value hidden due to security reasons.","streamUrl":"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe"}},"requestID":"req-{event_id}","eventID":"{event_id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}}"#
    )
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    /// One attributed session, one unattributed, a broken CloudTrail line and a broker
    /// record that leaks a token.
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("policy.toml"), POLICY).unwrap();
        std::fs::create_dir_all(root.join("ct")).unwrap();
        std::fs::create_dir_all(root.join("broker")).unwrap();
        let lines = [
            start_session("e-1", "session-broker-0a", "2026-02-01T10:00:00Z"),
            start_session("e-2", "session-broker-0b", "2026-02-01T11:00:00Z"),
            "{\"eventSource\": \"ssm.amazonaws.com\", \"eventName\": ".to_string(),
        ];
        std::fs::write(root.join("ct/events.jsonl"), lines.join("\n") + "\n").unwrap();
        let record = r#"{"v":1,"ts":"2026-02-01T10:00:00.300Z","request_id":"b-1","caller_arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com","permission_set":"Admin","account_id":"111122223333","region":"eu-west-1","target":"i-0abc","document_name":"SSMRunAs-Admin-Session","run_as":"admin","outcome":"started","session_id":"session-broker-0a","TokenValue":"AAEAAsecret-token-value-42"}"#;
        std::fs::write(
            root.join("broker/broker.jsonl"),
            format!("START RequestId: x\n{record}\n"),
        )
        .unwrap();
        Case { dir }
    }

    fn path(&self, name: &str) -> String {
        path_str(&self.dir.path().join(name)).to_string()
    }

    fn correlate(&self, extra: &[&str]) -> std::process::Output {
        self.correlate_as_of("2026-02-02T00:00:00Z", extra)
    }

    fn correlate_as_of(&self, as_of: &str, extra: &[&str]) -> std::process::Output {
        let (policy, ct, broker, out) = (
            self.path("policy.toml"),
            self.path("ct"),
            self.path("broker"),
            self.path("out"),
        );
        let mut args = vec![
            "correlate",
            "--policy",
            &policy,
            "--cloudtrail",
            &ct,
            "--broker-log",
            &broker,
            "--out",
            &out,
            "--as-of",
            as_of,
        ];
        args.extend_from_slice(extra);
        run(&args)
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn rejects_are_recorded_with_their_location_and_do_not_stop_the_run() {
    let case = Case::new();
    let output = case.correlate(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = case.dir.path().join("out");
    let rejects = read_table(&out, "rejects");
    assert_eq!(rejects.len(), 1);
    assert!(rejects[0]["source_file"].ends_with("ct/events.jsonl"));
    assert_eq!(rejects[0]["line"], "3");
    let statuses: Vec<String> = read_table(&out, "sessions")
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, ["attributed", "unattributed"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 records could not be read"), "{stdout}");
    assert!(stdout.contains("events.jsonl:3"), "{stdout}");
}

#[test]
fn strict_turns_a_reject_into_exit_1_and_fail_on_gives_exit_3() {
    let case = Case::new();
    assert_eq!(case.correlate(&["--strict"]).status.code(), Some(1));
    // The --strict run wrote the dataset: its findings are not new any more, so only
    // --fail-on-scope all still sees the unattributed session.
    let output = case.correlate(&["--fail-on", "critical", "--fail-on-scope", "all"]);
    assert_eq!(
        output.status.code(),
        Some(3),
        "an unattributed session is critical"
    );
    let case = Case::new();
    assert_eq!(
        case.correlate_as_of("2026-02-01T11:10:00Z", &["--fail-on", "critical"])
            .status
            .code(),
        Some(0),
        "still pending within grace: nothing critical yet, only the high secret finding"
    );
    // A value outside the closed set is a usage error from clap, listing the values.
    let output = case.correlate(&["--fail-on", "severe"]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--fail-on") && err.contains("low, medium, high, critical"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        run(&["correlate", "--policy", "p.toml"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["no-such-command"]).status.code(), Some(2));
}

#[test]
fn a_bad_policy_is_exit_1_naming_the_key_and_line() {
    let case = Case::new();
    std::fs::write(
        case.dir.path().join("policy.toml"),
        POLICY.replace("grace = \"30m\"", "grace = \"half an hour\""),
    )
    .unwrap();
    let output = case.correlate(&[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("line 5") && message.contains("broker.grace"),
        "{message}"
    );
    assert!(message.contains("policy.toml"), "{message}");
    assert!(!case.dir.path().join("out").exists(), "nothing written");
}

#[test]
fn a_missing_input_is_exit_1_naming_it() {
    let case = Case::new();
    let missing = case.path("nope");
    let (policy, broker, out) = (
        case.path("policy.toml"),
        case.path("broker"),
        case.path("out"),
    );
    let output = run(&[
        "correlate",
        "--policy",
        &policy,
        "--cloudtrail",
        &missing,
        "--broker-log",
        &broker,
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("nope"), "{}", stderr(&output));
}

#[test]
fn no_token_value_is_written_anywhere() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let out = case.dir.path().join("out");
    let findings = read_table(&out, "findings");
    assert!(findings.iter().any(|f| f["rule"] == "secret_in_broker_log"));
    // Every file of the dataset, as bytes (gzip inflated); Parquet pages are
    // Snappy-compressed, so their values are read as values too.
    let mut stack = vec![out.clone()];
    let mut checked: Vec<String> = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if path.extension().is_some_and(|e| e == "gz") {
                let mut plain = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(bytes.as_slice()),
                    &mut plain,
                )
                .unwrap();
                bytes = plain;
            }
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("secret-token-value"),
                "token in {}",
                path.display()
            );
            let relative = path
                .strip_prefix(&out)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            checked.push(relative);
        }
    }
    for table in ["sessions", "findings", "rejects"] {
        for row in read_table(&out, table) {
            for (column, value) in row {
                assert!(
                    !value.contains("secret-token-value"),
                    "token in {table}.{column}"
                );
            }
        }
    }
    // The files a run writes: the state, and a partition of sessions and of findings
    // (the case has both); nothing else but rejects and the lock.
    checked.sort();
    assert!(
        checked.iter().any(|f| f == "state/state.jsonl.gz"),
        "{checked:?}"
    );
    for table in ["sessions", "findings"] {
        assert!(
            checked
                .iter()
                .any(|f| f.starts_with(&format!("{table}/dt=")) && f.ends_with(".parquet")),
            "no {table} partition in {checked:?}"
        );
    }
    for file in &checked {
        assert!(
            ["state/", "sessions/dt=", "findings/dt=", "rejects/dt="]
                .iter()
                .any(|p| file.starts_with(p))
                || file == ".lock",
            "an unexpected file {file} was not checked for the token by kind"
        );
    }
}

#[test]
fn query_runs_named_queries_and_sql_in_every_format() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let data = case.path("out");
    let output = run(&[
        "query",
        "--data",
        &data,
        "--name",
        "unattributed",
        "--format",
        "csv",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let csv = String::from_utf8_lossy(&output.stdout);
    assert!(
        csv.lines().count() == 2 && csv.contains("session-broker-0b"),
        "{csv}"
    );
    let output = run(&[
        "query",
        "--data",
        &data,
        "--format",
        "json",
        "SELECT status, count(*) AS n FROM sessions GROUP BY status ORDER BY status",
    ]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], "attributed");
    assert_eq!(lines[0]["n"], 1);
    let output = run(&["query", "--data", &data, "--name", "no_such_query"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("unattributed"),
        "lists the names: {}",
        stderr(&output)
    );
    let output = run(&["query", "--list"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("attribution_rate_daily"));
}

#[test]
fn report_and_findings_exports_over_a_correlated_dataset() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let (data, report) = (case.path("out"), case.path("report"));
    let output = run(&[
        "report",
        "--data",
        &data,
        "--month",
        "2026-02",
        "--out",
        &report,
        "--min-attribution-rate",
        "0.9",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // One attributed and one unattributed broker session: 50 %, below 0.9.
    assert!(
        stdout.contains("attribution rate 50.00 %") && stdout.contains("fail"),
        "{stdout}"
    );
    for file in ["report.html", "report.md", "report.json"] {
        assert!(
            case.dir.path().join("report").join(file).is_file(),
            "{file}"
        );
    }
    let output = run(&[
        "report", "--data", &data, "--month", "February", "--out", &report,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("YYYY-MM"), "{}", stderr(&output));

    let output = run(&["findings", "--data", &data, "--format", "asff"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let batches: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let findings: Vec<&serde_json::Value> = batches
        .iter()
        .flat_map(|b| b["Findings"].as_array().unwrap())
        .collect();
    let rules: Vec<&str> = findings
        .iter()
        .map(|f| f["GeneratorId"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"sessiontrail/unattributed_session"),
        "{rules:?}"
    );
    assert!(
        rules.contains(&"sessiontrail/secret_in_broker_log"),
        "{rules:?}"
    );
    let output = run(&["findings", "--data", &data, "--format", "ocsf"]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["class_uid"], 2004);
    assert_eq!(first["type_uid"], 200401);
    assert_eq!(
        run(&["findings", "--data", &data, "--format", "xml"])
            .status
            .code(),
        Some(2)
    );
}

/// The exit code and stderr of a run.
fn code_and_stderr(output: &std::process::Output) -> (Option<i32>, String) {
    (output.status.code(), stderr(output))
}

#[test]
fn fail_on_looks_at_the_findings_new_in_this_run_so_a_rerun_exits_0() {
    let case = Case::new();
    // First run: the unattributed session (critical) and the leaked token (high) are new.
    let (code, err) = code_and_stderr(&case.correlate(&["--fail-on", "high"]));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("new in this run"), "{err}");
    // The same inputs again: nothing new, whatever is still in the window.
    let (code, err) = code_and_stderr(&case.correlate(&["--fail-on", "high"]));
    assert_eq!(code, Some(0), "a rerun raises no new finding: {err}");
    let (code, err) =
        code_and_stderr(&case.correlate(&["--fail-on", "high", "--fail-on-scope", "new"]));
    assert_eq!(code, Some(0), "{err}");
    // The old behaviour, on request: every finding of the run's window.
    let (code, err) =
        code_and_stderr(&case.correlate(&["--fail-on", "critical", "--fail-on-scope", "all"]));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("in the run's window"), "{err}");
    // A scope that is neither, or a scope without --fail-on, is a usage error.
    let (code, _) =
        code_and_stderr(&case.correlate(&["--fail-on", "high", "--fail-on-scope", "everything"]));
    assert_eq!(code, Some(2));
    let (code, err) = code_and_stderr(&case.correlate(&["--fail-on-scope", "all"]));
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn fail_on_help_says_which_findings_it_looks_at() {
    let help = String::from_utf8(run(&["correlate", "--help"]).stdout).unwrap();
    let one_line = help.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "--fail-on <SEVERITY>",
        "a finding this run raised that no earlier run over the dataset had",
        "--fail-on-scope <SCOPE>",
        "`new` (raised by this run, not by an earlier run over the dataset) or `all` (every finding of the run's window",
        "[default: new]",
    ] {
        assert!(one_line.contains(needle), "{needle:?} not in:\n{help}");
    }
}

#[test]
fn an_as_of_earlier_than_the_last_run_is_a_usage_error() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let out = case.dir.path().join("out");
    let everything = || {
        sessiontrail_ingest::input_files::files_under(&out)
            .into_iter()
            .map(|path| {
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect::<Vec<_>>()
    };
    let before = everything();
    let (code, err) = code_and_stderr(&case.correlate_as_of("2026-02-01T12:00:00Z", &[]));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("2026-02-01T12:00:00"),
        "names the --as-of: {err}"
    );
    assert!(before == everything(), "nothing was written");
}

#[test]
fn rejects_are_a_table_of_the_query_command() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let data = case.path("out");
    let output = run(&[
        "query",
        "--data",
        &data,
        "--format",
        "csv",
        "SELECT input_kind, line, byte_offset, dt FROM rejects",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The third line of ct/events.jsonl, after two lines of known length, read by the
    // run of --as-of 2026-02-02.
    let events = std::fs::read_to_string(case.dir.path().join("ct/events.jsonl")).unwrap();
    let offset: usize = events.lines().take(2).map(|l| l.len() + 1).sum();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("input_kind,line,byte_offset,dt\ncloudtrail,3,{offset},2026-02-02\n")
    );
    let output = run(&[
        "query",
        "--data",
        &data,
        "--format",
        "csv",
        "SELECT source_file FROM rejects",
    ]);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("ct/events.jsonl"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn a_dataset_without_rejects_has_an_empty_rejects_table() {
    let case = Case::new();
    // Only the two good lines: nothing is rejected, and no rejects/ folder is written.
    let events = std::fs::read_to_string(case.dir.path().join("ct/events.jsonl")).unwrap();
    let good: Vec<&str> = events.lines().take(2).collect();
    std::fs::write(
        case.dir.path().join("ct/events.jsonl"),
        good.join("\n") + "\n",
    )
    .unwrap();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    assert!(!case.dir.path().join("out/rejects").exists());
    for data in [case.path("out"), {
        let empty = case.dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        path_str(&empty).to_string()
    }] {
        let output = run(&[
            "query",
            "--data",
            &data,
            "--format",
            "csv",
            "SELECT COUNT(*) AS rejects FROM rejects",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(String::from_utf8_lossy(&output.stdout), "rejects\n0\n");
    }
}

/// report.json of `sessiontrail report --month MONTH --as-of AS_OF` over the case's
/// dataset, with the other two files' text.
fn report_as_of(case: &Case, month: &str, as_of: &str) -> (serde_json::Value, String, String) {
    let (data, out) = (case.path("out"), case.path(&format!("report-{as_of}")));
    let policy = case.path("policy.toml");
    let output = run(&[
        "report", "--data", &data, "--month", month, "--out", &out, "--as-of", as_of, "--policy",
        &policy,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let read = |name: &str| std::fs::read_to_string(Path::new(&out).join(name)).unwrap();
    (
        serde_json::from_str(&read("report.json")).unwrap(),
        read("report.html"),
        read("report.md"),
    )
}

#[test]
fn a_report_of_a_month_still_open_says_it_is_provisional_and_why() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    // The policy's grace is 30m: February's figures can change until March 1st, 00:30.
    for as_of in ["2026-02-15T00:00:00Z", "2026-03-01T00:29:59Z"] {
        let (json, html, md) = report_as_of(&case, "2026-02", as_of);
        assert_eq!(json["final"], false, "{as_of}");
        assert_eq!(json["generated_at"], as_of);
        assert_eq!(json["final_from"], "2026-03-01T00:30:00Z");
        let reason = json["provisional_reason"].as_str().unwrap();
        assert!(
            reason.contains("2026-03-01T00:30:00Z") && reason.contains("30m"),
            "{reason}"
        );
        assert!(html.contains(r#"<p class="provisional" id="provisional""#));
        assert!(html.contains("PROVISIONAL: this report is not final."));
        assert!(
            html.contains("<title>SSM session attribution report 2026-02 (provisional)</title>")
        );
        assert!(
            md.contains("> **PROVISIONAL: this report is not final.**"),
            "{md}"
        );
    }
    let (json, html, md) = report_as_of(&case, "2026-02", "2026-03-01T00:30:00Z");
    assert_eq!(json["final"], true);
    assert_eq!(json["provisional_reason"], serde_json::Value::Null);
    assert!(!html.contains("PROVISIONAL") && !md.contains("PROVISIONAL"));
}

#[test]
fn a_report_with_pending_sessions_is_provisional_however_late() {
    let case = Case::new();
    // At 11:10 the 11:00 session is within grace: pending in the dataset.
    let output = case.correlate_as_of("2026-02-01T11:10:00Z", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let (json, html, _) = report_as_of(&case, "2026-02", "2026-06-01T00:00:00Z");
    assert_eq!(json["summary"]["pending"], 1);
    assert_eq!(json["final"], false);
    let reason = json["provisional_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("1 session of the month is still pending"),
        "{reason}"
    );
    assert!(html.contains("PROVISIONAL"));
    // A later run decides it; then the same report is final.
    assert_eq!(
        case.correlate_as_of("2026-02-02T00:00:00Z", &[])
            .status
            .code(),
        Some(0)
    );
    let (json, _, _) = report_as_of(&case, "2026-02", "2026-06-01T00:00:00Z");
    assert_eq!(json["final"], true, "{}", json["provisional_reason"]);
}

#[test]
fn closed_sets_and_malformed_values_are_usage_errors_from_clap() {
    let case = Case::new();
    let data = case.path("out");
    let cases: [(&[&str], &str); 5] = [
        (&["--as-of", "yesterday"], "--as-of"),
        (&["--fail-on", "severe"], "--fail-on"),
        (&["--since", "last week"], "--since"),
        (&["--threads", "many"], "--threads"),
        (&["--fail-on-scope", "all"], "--fail-on"),
    ];
    for (extra, flag) in cases {
        let (code, err) = code_and_stderr(&case.correlate(extra));
        assert_eq!(code, Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
    }
    for args in [
        vec![
            "query",
            "--data",
            data.as_str(),
            "--format",
            "xml",
            "SELECT 1",
        ],
        vec!["query", "--data", data.as_str()],
        vec!["findings", "--data", data.as_str(), "--format", "sarif"],
        vec![
            "report",
            "--data",
            data.as_str(),
            "--month",
            "2026-13",
            "--out",
            data.as_str(),
        ],
    ] {
        let (code, err) = code_and_stderr(&run(&args));
        assert_eq!(code, Some(2), "{args:?}: {err}");
    }
}

#[test]
fn one_name_per_meaning_with_the_old_spellings_kept() {
    let case = Case::new();
    let out = case.path("out");
    // correlate over the fixtures first, so queries have something to read
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let jsonl = run(&[
        "query",
        "--data",
        &out,
        "--format",
        "jsonl",
        "SELECT 1 AS one",
    ]);
    let json = run(&[
        "query",
        "--data",
        &out,
        "--format",
        "json",
        "SELECT 1 AS one",
    ]);
    assert_eq!(jsonl.status.code(), Some(0), "{}", stderr(&jsonl));
    assert_eq!(
        String::from_utf8_lossy(&jsonl.stdout).trim(),
        r#"{"one":1}"#
    );
    assert_eq!(jsonl.stdout, json.stdout);
    let jsonl = run(&["findings", "--data", &out, "--format", "jsonl"]);
    let json = run(&["findings", "--data", &out, "--format", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    assert_eq!(jsonl.stdout, json.stdout);
    let help = String::from_utf8_lossy(&run(&["backfill", "--help"]).stdout).to_string();
    assert!(
        help.contains("--lookup-region") && help.contains("--since <WHEN>"),
        "{help}"
    );
}

#[test]
fn correlate_runs_with_only_a_broker_log_and_needs_one_input() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let policy = case.path("policy.toml");
    let out = case.path("out");
    let broker = case.path("broker");
    let sweep = run(&[
        "correlate",
        "--policy",
        &policy,
        "--broker-log",
        &broker,
        "--out",
        &out,
        "--as-of",
        "2026-03-01T00:00:00Z",
        "--quiet",
    ]);
    assert_eq!(sweep.status.code(), Some(0), "{}", stderr(&sweep));
    let neither = run(&["correlate", "--policy", &policy, "--out", &out]);
    assert_eq!(neither.status.code(), Some(2), "{}", stderr(&neither));
}

#[test]
fn a_datafusion_error_is_printed_once() {
    let case = Case::new();
    assert_eq!(case.correlate(&[]).status.code(), Some(0));
    let out = case.path("out");
    let (code, err) = code_and_stderr(&run(&[
        "query",
        "--data",
        &out,
        "SELECT nope FROM sessions",
    ]));
    assert_eq!(code, Some(1));
    assert_eq!(err.matches("No field named nope").count(), 1, "{err}");
}

#[test]
fn the_start_with_example_gives_the_readme_counts() {
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).to_string();
    assert!(help.contains("--as-of 2026-02-03T01:00:00Z"), "{help}");
    // Every wrapped example line ends with a continuation or is a whole command.
    for text in [
        help,
        String::from_utf8_lossy(&run(&["correlate", "--help"]).stdout).to_string(),
    ] {
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.windows(2) {
            if pair[1].starts_with("      --") && pair[0].trim_start().starts_with("sessiontrail ")
            {
                assert!(pair[0].ends_with('\\'), "not copy-pasteable: {pair:?}");
            }
        }
    }
}

#[test]
fn guard_rails_are_written_from_the_policy_and_refused_with_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("guard-rails");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let arn = "arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker";
    let output = run(&[
        "guard-rails",
        "--policy",
        path_str(&root.join("deploy/broker/sessiontrail.example.toml")),
        "--out",
        path_str(&out),
        "--broker-function-arn",
        arn,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // The files deploy/check.sh lints are the ones the command writes.
    for name in [
        "member-stackset.json",
        "permission-set-Admin.json",
        "permission-set-Developer.json",
        "permission-set-ReadOnly.json",
    ] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(root.join("deploy/broker/example").join(name)).unwrap(),
            "{name}"
        );
    }
    // The fixture policy maps Dev to the account's default preferences document.
    let output = run(&[
        "guard-rails",
        "--policy",
        path_str(&root.join("fixtures/generated/sessiontrail.toml")),
        "--out",
        path_str(&dir.path().join("refused")),
        "--broker-function-arn",
        arn,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("permission set Dev is mapped to SSM-SessionManagerRunShell")
            && stderr.contains("SSMRunAs-Dev-Session"),
        "{stderr}"
    );
    assert!(!dir.path().join("refused").exists(), "nothing written");
    // A wildcard in the broker ARN would become an IAM wildcard: refused.
    let output = run(&[
        "guard-rails",
        "--policy",
        path_str(&root.join("deploy/broker/sessiontrail.example.toml")),
        "--out",
        path_str(&dir.path().join("wild")),
        "--broker-function-arn",
        "arn:aws:lambda:eu-west-1:111122223333:function:*",
    ]);
    assert_eq!(output.status.code(), Some(1));
}
