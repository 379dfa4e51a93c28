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

// ---------------------------------------------------------------------------------
// Gzip bombs and other inputs built to exhaust memory (issue 12, item 2). Each is read
// in a child process (this test binary, running `child_reads_one_input`) under
// `/usr/bin/time -v`, so its peak resident set size is measured; run with
// `--nocapture` to see the figures. Where /usr/bin/time is missing (`apt-get install
// time`), the peak is not measured and only the outcome is checked.

use std::path::Path;
use std::process::Command;

use sessiontrail_ingest::broker_log::read_broker_log_object;
use sessiontrail_ingest::cloudtrail::read_cloudtrail_object;
use sessiontrail_ingest::input_files::ReadBuffers;
use sessiontrail_ingest::limits::{MAX_LEAKS_PER_FILE, MAX_REJECTS_PER_FILE};

/// Set in the child: `<kind>:<path>`.
const CHILD_INPUT: &str = "SESSIONTRAIL_HOSTILE_INPUT";

/// What a child read, as it printed it.
#[derive(Debug)]
struct ChildRead {
    peak_rss_kib: Option<u64>,
    seconds: f64,
    summary: serde_json::Value,
}

impl ChildRead {
    fn reasons(&self) -> Vec<String> {
        self.summary["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    }

    fn count(&self, key: &str) -> u64 {
        self.summary[key].as_u64().unwrap()
    }

    /// Asserts the peak (when measured) is below `mib` MiB, and prints it.
    fn assert_peak_below(&self, what: &str, mib: u64) {
        match self.peak_rss_kib {
            Some(kib) => {
                eprintln!(
                    "peak RSS reading {what}: {:.1} MB ({kib} KiB), {:.2} s",
                    kib as f64 * 1024.0 / 1e6,
                    self.seconds
                );
                assert!(
                    kib < mib * 1024,
                    "{what}: peak RSS {kib} KiB is not below {mib} MiB"
                );
            }
            None => eprintln!("{what}: peak RSS not measured (/usr/bin/time is missing)"),
        }
    }
}

/// Reads `path` as `kind` in a child process, under `/usr/bin/time -v` when present.
fn read_in_child(kind: &str, path: &Path) -> ChildRead {
    let exe = std::env::current_exe().unwrap();
    let time = Path::new("/usr/bin/time");
    let mut command = if time.exists() {
        let mut command = Command::new(time);
        command.arg("-v").arg(&exe);
        command
    } else {
        Command::new(&exe)
    };
    command
        .args([
            "--exact",
            "child_reads_one_input",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_INPUT, format!("{kind}:{}", path.display()));
    let started = std::time::Instant::now();
    let output = command.output().expect("the test binary runs");
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child failed ({:?}):\n{stdout}\n{stderr}",
        output.status
    );
    let summary = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-READ ").map(|(_, summary)| summary))
        .unwrap_or_else(|| panic!("no summary in:\n{stdout}\n{stderr}"));
    let peak_rss_kib = stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes):")
            .map(|v| v.trim().parse().unwrap())
    });
    ChildRead {
        peak_rss_kib,
        seconds,
        summary: serde_json::from_str(summary).unwrap(),
    }
}

/// The child half of [`read_in_child`]; does nothing in an ordinary test run.
#[test]
fn child_reads_one_input() {
    let Ok(spec) = std::env::var(CHILD_INPUT) else {
        return;
    };
    let (kind, path) = spec.split_once(':').unwrap();
    let path = Path::new(path);
    let name = path.display().to_string();
    let summary = match kind {
        "cloudtrail" | "cloudtrail-object" => {
            let mut out = CloudTrailRead::default();
            if kind == "cloudtrail" {
                read_cloudtrail_file(path, &mut out);
            } else {
                let bytes = std::fs::read(path).unwrap();
                read_cloudtrail_object(&name, bytes, &mut out, &mut ReadBuffers::default());
            }
            serde_json::json!({"events": out.events.len(), "records": out.stats.records,
                "rejected": out.stats.rejected, "listed": out.rejects.len(), "leaks": 0,
                "bytes": out.stats.bytes,
                "reasons": out.rejects.iter().map(|r| r.reason.clone()).collect::<Vec<_>>()})
        }
        "broker" | "broker-object" => {
            let mut out = BrokerRead::default();
            if kind == "broker" {
                read_broker_log_file(path, &mut out);
            } else {
                read_broker_log_object(&name, std::fs::read(path).unwrap(), &mut out);
            }
            serde_json::json!({"events": 0, "records": out.records.len(),
                "rejected": out.stats.rejected, "listed": out.rejects.len(),
                "leaks": out.leaks.len(), "bytes": out.stats.bytes,
                "reasons": out.rejects.iter().map(|r| r.reason.clone()).collect::<Vec<_>>()})
        }
        other => panic!("unknown kind {other}"),
    };
    println!("CHILD-READ {summary}");
}

/// `head`, then `unit` repeated until `size` bytes, then `tail`, as one gzip member,
/// compressed in pieces (the content is never held whole).
fn gzip_bomb(head: &[u8], unit: &[u8], size: u64, tail: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(head).unwrap();
    let piece = unit.repeat(((1 << 20) / unit.len()).max(1));
    let mut written = head.len() as u64;
    while written < size {
        let n = (piece.len() as u64).min(size - written) as usize;
        gz.write_all(&piece[..n]).unwrap();
        written += n as u64;
    }
    gz.write_all(tail).unwrap();
    gz.finish().unwrap()
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_cloudtrail_gzip_bomb_is_a_reject_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    // 1 GiB of zeros inside a Records array: about 1 MB as stored.
    let bomb = gzip_bomb(br#"{"Records":["#, &[0], 1 << 30, b"]}");
    assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
    let path = write_temp(dir.path(), "bomb.json.gz", &bomb);
    for kind in ["cloudtrail", "cloudtrail-object"] {
        let read = read_in_child(kind, &path);
        assert_eq!(read.count("events"), 0);
        assert_eq!(read.reasons().len(), 1, "{kind}: {:?}", read.reasons());
        let reason = &read.reasons()[0];
        assert!(
            reason.contains("could not be read past byte") && reason.contains("gzip bomb"),
            "{reason}"
        );
        // Read up to the inflation limit (256 times the stored size), not to the end.
        assert!(read.count("bytes") <= 256 * bomb.len() as u64);
        read.assert_peak_below(&format!("a 1 GiB CloudTrail gzip bomb ({kind})"), 200);
    }
}

#[test]
fn a_broker_log_gzip_bomb_is_a_reject_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = gzip_bomb(b"", &[0], 1 << 30, b"");
    let path = write_temp(dir.path(), "bomb.jsonl.gz", &bomb);
    // As a file, and as an S3 object is read (in memory).
    for kind in ["broker", "broker-object"] {
        let read = read_in_child(kind, &path);
        assert_eq!(read.count("records"), 0);
        let reasons = read.reasons();
        assert_eq!(reasons.len(), 1, "{kind}: {reasons:?}");
        assert!(
            reasons[0].starts_with(
                "file could not be read past this point: gzip content inflates past the"
            ) && reasons[0].contains("gzip bomb"),
            "{}",
            reasons[0]
        );
        read.assert_peak_below(&format!("a 1 GiB broker log gzip bomb ({kind})"), 200);
    }
    // Lines of JSON objects (each parsed, each ignored) stop at the same limit.
    let line = format!(
        "{{\"level\":\"INFO\",\"msg\":\"{}\"}}\n",
        " ".repeat(64 << 10)
    );
    let lines = gzip_bomb(b"", line.as_bytes(), 1 << 30, b"");
    let path = write_temp(dir.path(), "lines.jsonl.gz", &lines);
    let read = read_in_child("broker", &path);
    assert_eq!(read.reasons().len(), 1, "{:?}", read.reasons());
    assert!(read.reasons()[0].contains("gzip bomb"));
    read.assert_peak_below("a 1 GiB broker log gzip bomb of log lines", 200);
}

#[test]
fn an_awslogs_data_bomb_is_a_reject_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let inner = gzip_bomb(b"", &[0], 1 << 30, b"");
    let line = format!("{{\"awslogs\":{{\"data\":\"{}\"}}}}\n", base64(&inner));
    let path = write_temp(dir.path(), "subscription.json", line.as_bytes());
    let read = read_in_child("broker", &path);
    assert_eq!(
        read.reasons(),
        [
            "awslogs.data inflates past the 16 MiB limit for a subscription payload: not read (a gzip bomb?)"
        ]
    );
    read.assert_peak_below("an awslogs.data payload inflating to 1 GiB", 120);
}

#[test]
fn subscription_payloads_in_a_gzipped_file_cost_no_more_than_one_bomb() {
    // Gzip in gzip: a gzipped file of 2,000 identical lines, each a payload inflating
    // to 20 MiB. Without a budget for the file that is 40 GB of inflating; the file's
    // payloads may inflate together only as much as the file itself may (64 MiB here).
    let dir = tempfile::tempdir().unwrap();
    let inner = gzip_bomb(b"", &[0], 20 << 20, b"");
    let line = format!("{{\"awslogs\":{{\"data\":\"{}\"}}}}\n", base64(&inner));
    assert!(
        line.len() < 32 << 10,
        "within deflate's window: {}",
        line.len()
    );
    let outer = gzip_bomb(b"", line.as_bytes(), 2000 * line.len() as u64, b"");
    let path = write_temp(dir.path(), "payloads.json.gz", &outer);
    let read = read_in_child("broker", &path);
    let reasons = read.reasons();
    assert_eq!(reasons.len(), 2000);
    let single = reasons
        .iter()
        .filter(|r| r.contains("inflates past the 16 MiB limit for a subscription payload"))
        .count();
    let together = reasons
        .iter()
        .filter(|r| r.contains("together inflate past the 64 MiB"))
        .count();
    // Each payload found too large has inflated one byte past 16 MiB: three of them,
    // and the fourth finds less than 16 MiB of the file's 64 MiB left.
    assert_eq!((single, together), (3, 1997), "{:?}", &reasons[..6]);
    read.assert_peak_below("2,000 gzipped awslogs.data payloads of 20 MiB each", 150);
    assert!(read.seconds < 60.0, "{} s", read.seconds);
}

#[test]
fn rejects_and_token_leaks_of_one_file_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    // 50,000 session records without eventID: each a reject.
    let broken = r#"{"eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"2026-02-01T10:00:00Z"}"#;
    let text = format!("{broken}\n").repeat(50_000) + GOOD + "\n";
    let path = write_temp(dir.path(), "broken.jsonl.gz", &gzip(text.as_bytes()));
    let read = read_in_child("cloudtrail", &path);
    assert_eq!(read.count("events"), 1);
    assert_eq!(read.count("rejected"), 50_000);
    assert_eq!(read.count("listed"), MAX_REJECTS_PER_FILE as u64 + 1);
    let reasons = read.reasons();
    assert_eq!(
        reasons.last().unwrap(),
        "40000 more records of this file from here on could not be read (only the first 10000 rejects of a file are listed)"
    );
    read.assert_peak_below("50,000 rejected CloudTrail records", 100);

    // 50,000 broken broker records, and 5,000 lines holding a token.
    let text = "{\"v\":1}\n".repeat(50_000) + &"token=AAEAAsecret-value\n".repeat(5_000);
    let path = write_temp(dir.path(), "broken.jsonl", text.as_bytes());
    let read = read_in_child("broker", &path);
    assert_eq!(read.count("rejected"), 50_000);
    assert_eq!(read.count("listed"), MAX_REJECTS_PER_FILE as u64 + 1);
    assert_eq!(read.count("leaks"), MAX_LEAKS_PER_FILE as u64 + 1);
    assert!(
        read.reasons()
            .last()
            .unwrap()
            .starts_with("40000 more lines of this file"),
        "{:?}",
        read.reasons().last()
    );
    // In process: the leak standing for the rest is at the first line not kept.
    let mut out = BrokerRead::default();
    read_broker_log_file(&path, &mut out);
    let standing = out.leaks.last().unwrap();
    assert_eq!(standing.line, 50_000 + MAX_LEAKS_PER_FILE as u64 + 1);
    assert_eq!(standing.token_paths, ["token"]);
}

#[test]
fn json_of_a_million_tiny_values_is_a_reject_not_gigabytes_of_maps() {
    // 16 MiB of `{"a":0},` in one session record and one broker record: parsed into
    // serde_json values that would be about 1.3 GB of maps.
    let dir = tempfile::tempdir().unwrap();
    let maps = r#"{"a":0},"#.repeat(2 << 20);
    let record = format!(
        r#"{{"eventSource":"ssm.amazonaws.com","eventName":"StartSession","x":[{maps}0]}}"#
    );
    let path = write_temp(
        dir.path(),
        "maps.json",
        format!("{record}\n{GOOD}\n").as_bytes(),
    );
    let read = read_in_child("cloudtrail", &path);
    assert_eq!(read.count("events"), 1, "the next record is read");
    assert_eq!(read.reasons().len(), 1);
    assert!(
        read.reasons()[0].contains("holds too many values"),
        "{:?}",
        read.reasons()
    );
    read.assert_peak_below("a 16 MiB CloudTrail record of 2 million maps", 150);

    let broker = format!("{{\"v\":1,\"x\":[{maps}0]}}\n");
    let path = write_temp(dir.path(), "maps.jsonl", broker.as_bytes());
    let read = read_in_child("broker", &path);
    assert_eq!(read.reasons().len(), 1);
    assert!(
        read.reasons()[0].starts_with("broker record not read: JSON of"),
        "{:?}",
        read.reasons()
    );
    read.assert_peak_below("a 16 MiB broker line of 2 million maps", 150);
}

#[test]
fn a_broker_log_larger_than_the_whole_content_limit_is_read_line_by_line() {
    // 40 MiB of records (past the 16 MiB read whole), with an over-long line, a
    // broken line and a UTF-8 mark: the same records and rejects as read whole.
    let record = r#"{"v":1,"ts":"2026-02-01T10:00:00Z","request_id":"R","caller_arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/a@example.com","permission_set":"Admin","account_id":"1","region":"eu-west-1","target":"i-1","document_name":"D","outcome":"started","session_id":"S"}"#;
    let mut text = String::from("\u{feff}");
    let count = (40 << 20) / (record.len() + 1);
    for i in 0..count {
        text.push_str(&record.replace("\"R\"", &format!("\"r-{i}\"")));
        text.push('\n');
        if i == count / 2 {
            text.push_str("{\"v\":1,\"broken\n");
        }
    }
    let long = format!("{{\"v\":1,\"pad\":\"{}\"}}\n", "x".repeat(70 << 20));
    text.push_str(&long);
    text.push_str(&record.replace("\"R\"", "\"last\""));
    text.push('\n');
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "big.jsonl.gz", &gzip(text.as_bytes()));
    let mut out = BrokerRead::default();
    read_broker_log_file(&path, &mut out);
    assert_eq!(out.records.len(), count + 1);
    assert_eq!(out.records.last().unwrap().request_id, "last");
    let reasons: Vec<(&str, Option<u64>)> = out
        .rejects
        .iter()
        .map(|r| (r.reason.as_str(), r.location.line))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].0.starts_with("broker record is not valid JSON"));
    assert_eq!(reasons[0].1, Some(count as u64 / 2 + 2));
    assert_eq!(
        reasons[1],
        (
            format!(
                "line of {} bytes is larger than the 64 MiB limit",
                long.len() - 1
            )
            .as_str(),
            Some(count as u64 + 2)
        )
    );
    // Offsets count the mark's three bytes, as the file does.
    let broken_at = text.find("{\"v\":1,\"broken").unwrap() as u64;
    assert_eq!(out.rejects[0].location.byte_offset, Some(broken_at));
    assert_eq!(out.stats.bytes, text.len() as u64);
    let path = write_temp(
        dir.path(),
        "big-copy.jsonl.gz",
        &std::fs::read(&path).unwrap(),
    );
    let read = read_in_child("broker", &path);
    read.assert_peak_below("a 110 MiB broker log with a 70 MiB line", 200);
}
