//! The broker's speed (BENCHMARKS.md "Broker"): run by `bench/broker_bench.sh`, which
//! builds the release binaries first.
//!
//! 1. Overhead in process: `handle()` over function URL events with an in-memory
//!    starter (parse, caller, body, mapping, log line, answer): what the broker adds to
//!    every request, percentiles over many requests.
//! 2. The same handler with the real starter (aws-sdk-sts, aws-sdk-ssm) against the
//!    loopback stand-in (crates/test-support/standin): end-to-end latency beside the
//!    stand-in's own server time for the calls, so the broker's share (SDK included)
//!    is the difference.
//! 3. Cold start: the release `sessiontrail-broker` spawned under a minimal Lambda
//!    Runtime API (this file's, on loopback), timed from spawn to its first `next`
//!    (init) and to its first answer (init and the first, cold, invocation); then warm
//!    invocations in the same process.
//! 4. The client: release `sessiontrail-connect` through the stand-in's function URL
//!    to the broker, timed from spawn to the stand-in plugin's first instruction.
//!
//! Usage: broker_bench TARGET_RELEASE_DIR [--quick]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sessiontrail_broker::log::LogSink;
use sessiontrail_broker::{AwsSessionStarter, Broker, Config, FakeStarter, Mapping, handle};
use sessiontrail_test_support::standin::{self, AwsStandin, world};
use sessiontrail_test_support::workspace_root;

/// Percentiles of durations, in milliseconds.
fn summary(name: &str, mut ms: Vec<f64>) -> Value {
    ms.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    let line = json!({
        "what": name, "n": ms.len(),
        "p50_ms": round(at(0.5)), "p90_ms": round(at(0.9)), "p99_ms": round(at(0.99)),
        "max_ms": round(*ms.last().unwrap()),
    });
    println!("{line}");
    line
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The broker log as the Lambda writes it: one line per request to a file descriptor.
struct DevNull(Mutex<std::fs::File>);

impl LogSink for DevNull {
    fn write_line(&self, line: &str) {
        let mut f = self.0.lock().unwrap();
        let _ = f
            .write_all(line.as_bytes())
            .and_then(|()| f.write_all(b"\n"));
    }
}

fn event(caller: &standin::Caller, n: usize) -> Value {
    let target = world::INSTANCES[n % 2];
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws"},
        "requestContext": {
            "accountId": world::BROKER_ACCOUNT, "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "authorizer": {"iam": {
                "accessKey": caller.access_key_id, "accountId": world::MEMBER_ACCOUNT,
                "callerId": format!("AROAEXAMPLE:{}", caller.name), "cognitoIdentity": null,
                "principalOrgId": world::ORG, "userArn": caller.arn,
                "userId": format!("AROAEXAMPLE:{}", caller.name)}},
            "domainName": "abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "sessiontrail-connect/0.1.0"},
            "requestId": format!("url-request-{n}"), "routeKey": "$default", "stage": "$default",
            "time": "03/Dec/2026:10:15:02 +0000", "timeEpoch": 1796292902250u64
        },
        "body": format!(r#"{{"target":"{target}","region":"eu-west-1","reason":"CHG-{n}: routine"}}"#),
        "isBase64Encoded": false
    })
}

fn context(n: usize) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = format!("bench-{n}");
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:999988887777:function:sessiontrail-broker".into();
    context
}

fn policy() -> PathBuf {
    workspace_root().join("deploy/broker/sessiontrail.example.toml")
}

fn config() -> Config {
    Config {
        policy: policy(),
        starter_role: world::STARTER_ROLE_NAME.into(),
        organisation: Some(world::ORG.into()),
        partition: None,
    }
}

fn broker<S: sessiontrail_broker::SessionStarter>(starter: S) -> Broker<S> {
    let mut broker = Broker::new(
        Mapping::load(&policy()).expect("the example policy loads"),
        starter,
        &config(),
    );
    broker.log = Arc::new(DevNull(Mutex::new(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .unwrap(),
    )));
    broker
}

fn users() -> Vec<standin::Caller> {
    world::USERS.iter().map(|(n, _)| standin::user(n)).collect()
}

async fn in_process_overhead(n: usize) -> Value {
    let broker = broker(FakeStarter::new());
    let users = users();
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let event = event(&users[i % users.len()], i);
        let context = context(i);
        let t = Instant::now();
        let response = handle(&event, &context, &broker).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(response.to_function_url()["statusCode"], 200);
    }
    summary("handler overhead, in-memory starter", ms)
}

async fn with_standin(aws: &AwsStandin, n: usize) -> Vec<Value> {
    let caller = standin::broker_caller();
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&aws.endpoint)
        .credentials_provider(aws_sdk_sts_credentials(&caller))
        .region(aws_config::Region::new(world::REGION))
        .build();
    let broker = broker(AwsSessionStarter::new(sdk));
    let users = users();
    let before = aws.stats();
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let event = event(&users[i % users.len()], i);
        let context = context(i);
        let t = Instant::now();
        let response = handle(&event, &context, &broker).await;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let answer = response.to_function_url();
        assert_eq!(answer["statusCode"], 200, "{answer}");
    }
    let after = aws.stats();
    let server: Vec<f64> = ["StartSession", "sts"]
        .iter()
        .flat_map(|op| {
            let skip = before["server_ms"][op].as_array().map_or(0, Vec::len);
            after["server_ms"][op]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .skip(skip)
                .filter_map(|v| v.as_f64())
        })
        .collect();
    let server_total: f64 = server.iter().sum();
    let total: f64 = ms.iter().sum();
    let mut out = vec![summary(
        "handler, real SDK against the stand-in (end to end)",
        ms,
    )];
    let per = json!({
        "what": "mean per request: stand-in server time vs broker share (SDK, signing, loopback)",
        "stand_in_ms": round(server_total / n as f64),
        "broker_share_ms": round((total - server_total) / n as f64),
        "assume_role_calls": after["counts"]["sts"].as_u64().unwrap_or(0)
            - before["counts"]["sts"].as_u64().unwrap_or(0),
    });
    println!("{per}");
    out.push(per);
    out
}

fn aws_sdk_sts_credentials(
    caller: &standin::Caller,
) -> aws_sdk_sts::config::SharedCredentialsProvider {
    aws_sdk_sts::config::SharedCredentialsProvider::new(aws_sdk_sts::config::Credentials::new(
        caller.access_key_id.clone(),
        caller.secret_access_key.clone(),
        caller.session_token.clone(),
        None,
        "bench",
    ))
}

// ---------------------------------------------------------------------------------------
// A minimal Lambda Runtime API (2018-06-01) and Invoke endpoint on loopback.

type Waiters = Arc<Mutex<HashMap<String, Sender<(Instant, Vec<u8>)>>>>;

struct RuntimeApi {
    port: u16,
    queue: Sender<(String, Vec<u8>)>,
    waiters: Waiters,
    /// When the function first asked for an event.
    first_next: Arc<Mutex<Option<Instant>>>,
}

impl RuntimeApi {
    fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (queue, events) = channel::<(String, Vec<u8>)>();
        let events = Arc::new(Mutex::new(events));
        let waiters: Waiters = Arc::default();
        let first_next = Arc::new(Mutex::new(None));
        let api = RuntimeApi {
            port,
            queue: queue.clone(),
            waiters: Arc::clone(&waiters),
            first_next: Arc::clone(&first_next),
        };
        let counter = Arc::new(Mutex::new(0u64));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let events = Arc::clone(&events);
                let waiters = Arc::clone(&waiters);
                let first_next = Arc::clone(&first_next);
                let queue = queue.clone();
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    serve(stream, &events, &waiters, &first_next, &queue, &counter)
                });
            }
        });
        api
    }

    /// Invokes the function with `event`; its answer and when it arrived.
    fn invoke(&self, id: &str, event: &Value) -> (Instant, Vec<u8>) {
        let (tx, rx) = channel();
        self.waiters.lock().unwrap().insert(id.to_string(), tx);
        self.queue
            .send((id.to_string(), serde_json::to_vec(event).unwrap()))
            .unwrap();
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the function answers within 60 s")
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} OK\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
}

fn serve(
    stream: TcpStream,
    events: &Mutex<Receiver<(String, Vec<u8>)>>,
    waiters: &Waiters,
    first_next: &Mutex<Option<Instant>>,
    queue: &Sender<(String, Vec<u8>)>,
    counter: &Mutex<u64>,
) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some((method, path, body)) = read_request(&mut reader) {
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            first_next.lock().unwrap().get_or_insert_with(Instant::now);
            let (id, event) = events.lock().unwrap().recv().unwrap();
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            respond(
                &mut writer,
                200,
                &[
                    ("lambda-runtime-aws-request-id", id),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:eu-west-1:999988887777:function:sessiontrail-broker".into(),
                    ),
                    (
                        "lambda-runtime-trace-id",
                        "Root=1-00000000-000000000000000000000000".into(),
                    ),
                    ("content-type", "application/json".into()),
                ],
                &event,
            );
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let id = path.split('/').nth(4).unwrap_or_default().to_string();
            let at = Instant::now();
            respond(&mut writer, 202, &[], b"{}");
            if let Some(waiter) = waiters.lock().unwrap().remove(&id) {
                let _ = waiter.send((at, body));
            }
        } else if method == "POST" && path.starts_with("/2015-03-31/functions/") {
            // The Invoke API, for the stand-in's function URL.
            let id = {
                let mut c = counter.lock().unwrap();
                *c += 1;
                format!("invoke-{c}")
            };
            let (tx, rx) = channel();
            waiters.lock().unwrap().insert(id.clone(), tx);
            queue.send((id, body)).unwrap();
            let (_, payload) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
            respond(
                &mut writer,
                200,
                &[("content-type", "application/json".into())],
                &payload,
            );
        } else {
            respond(&mut writer, 404, &[], b"{}");
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_broker(bin: &Path, api: &RuntimeApi, endpoint: &str) -> Killed {
    let caller = standin::broker_caller();
    Killed(
        Command::new(bin)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", api.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "sessiontrail-broker")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_ACCESS_KEY_ID", &caller.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &caller.secret_access_key)
            .env(
                "AWS_SESSION_TOKEN",
                caller.session_token.as_deref().unwrap(),
            )
            .env("AWS_REGION", world::REGION)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SESSIONTRAIL_POLICY", policy())
            .env("SESSIONTRAIL_BROKER_STARTER_ROLE", world::STARTER_ROLE_NAME)
            .env("SESSIONTRAIL_BROKER_ORGANIZATION_ID", world::ORG)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the broker binary runs"),
    )
}

fn cold_starts(bin: &Path, endpoint: &str, runs: usize, warm: usize) -> Vec<Value> {
    let users = users();
    let (mut init, mut first, mut warm_ms) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let api = RuntimeApi::start();
        let spawned = Instant::now();
        let _function = spawn_broker(bin, &api, endpoint);
        let (answered, payload) = api.invoke(&format!("cold-{run}"), &event(&users[run % 4], run));
        let answer: Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let next = api
            .first_next
            .lock()
            .unwrap()
            .expect("the function asked for an event");
        init.push((next - spawned).as_secs_f64() * 1000.0);
        first.push((answered - spawned).as_secs_f64() * 1000.0);
        if run == 0 {
            for i in 0..warm {
                let sent = Instant::now();
                let (at, payload) = api.invoke(&format!("warm-{i}"), &event(&users[i % 4], i));
                warm_ms.push((at - sent).as_secs_f64() * 1000.0);
                let answer: Value = serde_json::from_slice(&payload).unwrap();
                assert_eq!(answer["statusCode"], 200, "{answer}");
            }
        }
    }
    vec![
        summary("cold start: spawn to the first `next` (init)", init),
        summary(
            "cold start: spawn to the first answer (init + first invocation)",
            first,
        ),
        summary(
            "warm invocation through the Runtime API, real SDK against the stand-in",
            warm_ms,
        ),
    ]
}

fn client(release: &Path, aws: &AwsStandin, runs: usize) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let record = scratch.path().join("started");
    let plugin = bin.join("session-manager-plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 1.2.707.0; exit 0; fi\ndate +%s%N > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let alice = standin::user("alice@example.com");
    let mut ms = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_file(&record);
        let spawned = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let out = Command::new(release.join("sessiontrail-connect"))
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", scratch.path())
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", world::REGION)
            .env("SESSIONTRAIL_BROKER_URL", format!("{}/", aws.endpoint))
            .env("SESSIONTRAIL_BROKER_REGION", world::REGION)
            .env("AWS_ACCESS_KEY_ID", &alice.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &alice.secret_access_key)
            .env("AWS_SESSION_TOKEN", alice.session_token.as_deref().unwrap())
            .args(["--target", world::INSTANCES[0]])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let started: u128 = std::fs::read_to_string(&record)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        ms.push((started - spawned) as f64 / 1e6);
    }
    summary(
        "client: sessiontrail-connect spawned to the plugin started (through the stand-in URL and the broker)",
        ms,
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let release = PathBuf::from(
        args.get(1)
            .expect("usage: broker_bench TARGET_RELEASE_DIR [--quick]"),
    );
    let quick = args.iter().any(|a| a == "--quick");
    let scale = |n: usize| if quick { n / 10 } else { n };
    let scratch = tempfile::tempdir().unwrap();
    let api = RuntimeApi::start();
    let invoke = format!(
        "http://127.0.0.1:{}/2015-03-31/functions/_/invocations",
        api.port
    );
    let aws = AwsStandin::start(
        "broker_bench",
        &standin::world_config(&scratch.path().join("cloudtrail"), Some(&invoke)),
        scratch.path(),
    )
    .expect("the stand-in (python3 with botocore) runs");
    let mut results = vec![in_process_overhead(scale(20_000)).await];
    results.extend(with_standin(&aws, scale(1_000)).await);
    results.extend(cold_starts(
        &release.join("sessiontrail-broker"),
        &aws.endpoint,
        scale(30).max(3),
        scale(500),
    ));
    // The client goes through the stand-in's URL to a broker on `api`.
    let _function = spawn_broker(&release.join("sessiontrail-broker"), &api, &aws.endpoint);
    results.push(client(&release, &aws, scale(50).max(5)));
    let stats = aws.stats();
    assert_eq!(stats["violations"], json!([]), "{stats}");
    println!("{}", json!({"results": results}));
}
