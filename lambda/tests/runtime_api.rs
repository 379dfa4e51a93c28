//! The function binary under a real Lambda Runtime API: cargo-lambda's emulator
//! (`cargo lambda watch --only-lambda-apis`) on loopback, the events of
//! fixtures/events/ sent with `cargo lambda invoke`, S3 and EventBridge from moto's
//! server. Skips (saying so) where cargo-lambda or moto is missing, except under CI.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sessiontrail_test_support::moto::Moto;
use sessiontrail_test_support::{Prerequisite, skip};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cargo_lambda_installed() -> bool {
    Command::new("cargo")
        .args(["lambda", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `cargo lambda invoke`, bounded: a function that died would leave it waiting.
fn invoke(port: u16, event: &str) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = Command::new("cargo")
        .current_dir(repo())
        .args([
            "lambda",
            "invoke",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .args(["--output-format", "json", "--data-file"])
        .arg(repo().join("fixtures/events").join(event))
        .arg("_")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo lambda invoke runs");
    while child.try_wait().expect("waiting works").is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{event}: no answer within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().expect("output"), started.elapsed())
}

/// Peak resident memory of a process, in MB (VmHWM).
fn peak_rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
fn the_function_answers_every_trigger_under_the_runtime_api() {
    if !cargo_lambda_installed() {
        skip(
            "the_function_answers_every_trigger_under_the_runtime_api",
            Prerequisite::CargoLambda,
            "cargo-lambda is not installed",
        );
        return;
    }
    let Some(moto) = Moto::start("runtime_api") else {
        return;
    };
    let generated = repo().join("fixtures/generated");
    moto.python(&format!(
        r#"
import boto3, os
s3 = boto3.client("s3")
for bucket in ["trail-bucket", "broker-logs", "audit-out"]:
    s3.create_bucket(Bucket=bucket)
root = "{root}"
for base, prefix, bucket in [("cloudtrail", "", "trail-bucket"), ("broker", "broker/", "broker-logs")]:
    top = os.path.join(root, base)
    for folder, _, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            s3.upload_file(path, bucket, prefix + os.path.relpath(path, top))
s3.upload_file(os.path.join(root, "sessiontrail.toml"), "audit-out", "config/sessiontrail.toml")
boto3.client("events").create_event_bus(Name="sessiontrail-findings")
"#,
        root = generated.display()
    ));

    let port = free_port();
    let emulator = Killed(
        Command::new("cargo")
            .current_dir(repo())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cargo lambda watch starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the Runtime API did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    let function = Killed(
        Command::new(env!("CARGO_BIN_EXE_sessiontrail-lambda"))
            .envs(moto.env())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("SESSIONTRAIL_OUT", "s3://audit-out/sessiontrail")
            .env(
                "SESSIONTRAIL_POLICY",
                "s3://audit-out/config/sessiontrail.toml",
            )
            .env("SESSIONTRAIL_CLOUDTRAIL", "s3://trail-bucket/AWSLogs/")
            .env("SESSIONTRAIL_BROKER_LOG", "s3://broker-logs/broker/")
            .env("SESSIONTRAIL_EVENT_BUS", "sessiontrail-findings")
            .env("SESSIONTRAIL_AS_OF", "2026-02-03T01:00:00Z")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the function starts"),
    );

    // In the order AWS would fire them for one session, then the sweep.
    for event in [
        "object_created_broker_log.json",
        "cloudtrail_start_session.json",
        "object_created_cloudtrail.json",
        "scheduled.json",
    ] {
        let (output, took) = invoke(port, event);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{event}: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let response: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{event}: {e}: {stdout}"));
        assert!(response.get("ignored").is_none(), "{event}: {response}");
        eprintln!("{event}: {} ms: {response}", took.as_millis());
    }
    let (output, _) = invoke(port, "malformed_object_created.json");
    assert!(
        !output.status.success(),
        "a malformed event must fail the invocation"
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("0badeeee-0000-4000-8000-000000000006"),
        "{said}"
    );

    eprintln!("function peak RSS {:.1} MB", peak_rss_mb(function.0.id()));
    // The dataset is in S3.
    let listed = moto.python(
        r#"
import boto3
s3 = boto3.client("s3")
for o in s3.list_objects_v2(Bucket="audit-out", Prefix="sessiontrail/").get("Contents", []):
    print(o["Key"])
"#,
    );
    assert!(
        listed.contains("sessiontrail/state/state.jsonl.gz"),
        "{listed}"
    );
    assert!(
        listed.contains("sessiontrail/sessions/dt=2026-02-01/part-0.parquet"),
        "{listed}"
    );
    drop(function);
    drop(emulator);
}
