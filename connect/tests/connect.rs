//! sessiontrail-connect end to end on loopback: a stand-in broker (a bounded std
//! TcpListener thread answering canned broker responses and recording each request) and
//! a stand-in session-manager-plugin (a shell script first on PATH recording its argv and
//! environment). No AWS: static credentials from the environment or from profile files.
//! Every request's SigV4 signature is recomputed here, independently of aws-sigv4.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN";
const TARGET: &str = "i-0123456789abcdef0";
const TOKEN_VALUE: &str = "AAEAAStandInStreamTokenValue0123456789==";
const STREAM_URL: &str = "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0a1b2c3d4e5f60718?role=publish_subscribe";

/// One request the stand-in broker received.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A canned answer.
struct Canned {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

fn canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: vec![("content-type", "application/json")],
        body: body.to_string(),
    }
}

fn started() -> Canned {
    canned(
        200,
        &serde_json::json!({
            "SessionId": "alice-0a1b2c3d4e5f60718",
            "StreamUrl": STREAM_URL,
            "TokenValue": TOKEN_VALUE,
            "DocumentName": "SessionTrail-Admin",
            "RunAs": "admin",
        })
        .to_string(),
    )
}

/// The stand-in broker: serves at most `answers.len()` requests, each on its own
/// connection, until stopped.
struct StandIn {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Recorded>>,
}

impl StandIn {
    fn start(answers: Vec<Canned>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut recorded = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut answers = answers.into_iter();
            while answers.len() > 0 && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let answer = answers.next().unwrap();
                        recorded.push(serve_one(stream, &answer));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if stop_flag.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
            recorded
        });
        StandIn { port, stop, thread }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn finish(self) -> Vec<Recorded> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

fn serve_one(mut stream: TcpStream, answer: &Canned) -> Recorded {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the request's head");
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_string();
    let path = request_line.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_string())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = data[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the body's end");
        body.extend_from_slice(&buf[..n]);
    }
    let mut response = format!(
        "HTTP/1.1 {} Stand-In\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    stream.write_all(response.as_bytes()).unwrap();
    Recorded {
        method,
        path,
        headers,
        body,
    }
}

/// A scratch home with a stand-in plugin in `bin/`.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(plugin_version: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("record")).unwrap();
        let record = dir.path().join("record");
        let script = format!(
            "#!/bin/sh\n\
             if [ \"$1\" = --version ]; then echo '{plugin_version}'; exit 0; fi\n\
             date +%s%N > '{r}/started'\n\
             printf '%s\\0' \"$@\" > '{r}/argv'\n\
             env -0 > '{r}/env'\n\
             exit 0\n",
            r = record.display()
        );
        let plugin = dir.path().join("bin/session-manager-plugin");
        std::fs::write(&plugin, script).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The binary with a clean environment: PATH with the stand-in first, a scratch HOME,
    /// no profile files, no instance metadata.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sessiontrail-connect"));
        command
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.path("bin").display()),
            )
            .env("HOME", self.path("home"))
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "eu-west-1");
        command
    }

    /// With static credentials in the environment.
    fn with_credentials(&self) -> Command {
        let mut command = self.command();
        command
            .env("AWS_ACCESS_KEY_ID", AKID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_SESSION_TOKEN", SESSION_TOKEN);
        command
    }

    fn argv(&self) -> Option<Vec<String>> {
        let data = std::fs::read(self.path("record/argv")).ok()?;
        Some(split_nul(&data))
    }

    fn env(&self) -> Vec<(String, String)> {
        split_nul(&std::fs::read(self.path("record/env")).unwrap())
            .into_iter()
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect()
    }
}

fn split_nul(data: &[u8]) -> Vec<String> {
    // Each item ends with a NUL: the piece after the last one is empty, and not an item.
    let mut items: Vec<String> = data
        .split(|b| *b == 0)
        .map(|s| String::from_utf8(s.to_vec()).unwrap())
        .collect();
    assert_eq!(items.pop().as_deref(), Some(""), "not NUL-terminated");
    items
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Checks a request's SigV4 signature by recomputing it (the canonical request of the
/// SigV4 specification, for a path without query); returns the credential's access key
/// id, its scope's region and the signed headers.
fn verify_sigv4(request: &Recorded, secret: &str) -> (String, String, Vec<String>) {
    let authorization = request
        .header("authorization")
        .expect("an Authorization header");
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .expect("AWS4-HMAC-SHA256");
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').unwrap();
        match k {
            "Credential" => credential = Some(v.to_string()),
            "SignedHeaders" => signed_headers = Some(v.to_string()),
            "Signature" => signature = Some(v.to_string()),
            other => panic!("unexpected {other} in Authorization"),
        }
    }
    let credential = credential.unwrap();
    let scope: Vec<&str> = credential.split('/').collect();
    assert_eq!(scope.len(), 5, "{credential}");
    let (akid, date, region, service, terminal) =
        (scope[0], scope[1], scope[2], scope[3], scope[4]);
    assert_eq!(service, "lambda");
    assert_eq!(terminal, "aws4_request");
    let amz_date = request.header("x-amz-date").expect("x-amz-date");
    assert!(amz_date.starts_with(date), "{amz_date} is not of {date}");
    let signed_headers = signed_headers.unwrap();
    let names: Vec<String> = signed_headers.split(';').map(String::from).collect();
    let body_hash = hex(&Sha256::digest(&request.body));
    let mut canonical = format!("{}\n{}\n\n", request.method, request.path);
    for name in &names {
        let value = request
            .header(name)
            .unwrap_or_else(|| panic!("signed header {name} not sent"));
        canonical.push_str(&format!("{name}:{}\n", value.trim()));
    }
    canonical.push_str(&format!("\n{signed_headers}\n{body_hash}"));
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    let expected = hex(&hmac(&key, string_to_sign.as_bytes()));
    assert_eq!(
        signature.unwrap(),
        expected,
        "the signature does not verify; canonical request:\n{canonical}"
    );
    // The payload hash is sent too (function URLs take no unsigned payload).
    assert_eq!(
        request.header("x-amz-content-sha256"),
        Some(body_hash.as_str())
    );
    // Signed within the last five minutes.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = chrono_like_seconds(amz_date);
    assert!(
        now.abs_diff(signed) < 300,
        "x-amz-date {amz_date} is not now"
    );
    (akid.to_string(), region.to_string(), names)
}

/// Seconds since the epoch of an `x-amz-date` (`20261203T135400Z`).
fn chrono_like_seconds(amz_date: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| amz_date[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (hh, mm, ss) = (n(9..11), n(11..13), n(13..15));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    (days * 86400 + hh * 3600 + mm * 60 + ss) as u64
}

fn body_json(request: &Recorded) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[test]
fn a_started_session_goes_to_the_plugin_by_environment_variable() {
    let scratch = Scratch::new("1.2.650.0");
    let broker = StandIn::start(vec![started()]);
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let output = scratch
        .with_credentials()
        .args(["--target", TARGET, "--reason", "deploy 42", "--broker-url"])
        .arg(broker.url())
        .output()
        .unwrap();
    let requests = broker.finish();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-amz-security-token"), Some(SESSION_TOKEN));
    let (akid, region, signed) = verify_sigv4(request, SECRET);
    assert_eq!(akid, AKID);
    assert_eq!(region, "eu-west-1");
    for name in [
        "host",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-security-token",
    ] {
        assert!(
            signed.iter().any(|s| s == name),
            "{name} not signed: {signed:?}"
        );
    }
    assert_eq!(
        body_json(request),
        serde_json::json!({"target": TARGET, "region": "eu-west-1", "reason": "deploy 42"})
    );

    // The plugin: six arguments as the AWS CLI passes them, the token only in the
    // environment variable the first one names.
    let argv = scratch.argv().expect("the plugin ran");
    assert_eq!(argv.len(), 6, "{argv:?}");
    assert_eq!(argv[0], "AWS_SSM_START_SESSION_RESPONSE");
    assert_eq!(argv[1], "eu-west-1");
    assert_eq!(argv[2], "StartSession");
    assert_eq!(argv[3], "");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&argv[4]).unwrap(),
        serde_json::json!({"Target": TARGET, "DocumentName": "SessionTrail-Admin"})
    );
    assert_eq!(argv[5], "https://ssm.eu-west-1.amazonaws.com");
    for arg in &argv {
        assert!(
            !arg.contains(TOKEN_VALUE),
            "the token is on the command line"
        );
        assert!(
            !arg.contains("wss://"),
            "the stream URL is on the command line"
        );
    }
    let env = scratch.env();
    let response: Vec<&String> = env
        .iter()
        .filter(|(k, _)| k == "AWS_SSM_START_SESSION_RESPONSE")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(response.len(), 1);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(response[0]).unwrap(),
        serde_json::json!({
            "SessionId": "alice-0a1b2c3d4e5f60718",
            "TokenValue": TOKEN_VALUE,
            "StreamUrl": STREAM_URL,
        })
    );
    // Nothing on stdout (an ssh ProxyCommand's channel) before the plugin.
    assert!(output.stdout.is_empty());
    let said = stderr(&output);
    assert!(
        said.contains("alice-0a1b2c3d4e5f60718") && said.contains("as admin"),
        "{said}"
    );
    assert!(!said.contains(TOKEN_VALUE));

    // Time from command to plugin start (a figure, not a bound).
    let started: u128 = std::fs::read_to_string(scratch.path("record/started"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let millis = (started - before.as_nanos()) as f64 / 1e6;
    eprintln!("command to plugin start against the stand-in: {millis:.1} ms");
}

#[test]
fn the_profile_the_config_file_and_the_broker_region() {
    let scratch = Scratch::new("1.2.650.0");
    let broker = StandIn::start(vec![started()]);
    std::fs::write(
        scratch.path("config"),
        "[profile dev]\nregion = eu-central-1\n",
    )
    .unwrap();
    std::fs::write(
        scratch.path("credentials"),
        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = devsecret\n",
    )
    .unwrap();
    let config_dir = scratch.path("home/.config/sessiontrail");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("connect.toml"),
        format!(
            "broker_url = \"https://nowhere.invalid/\"\n[profile.dev]\nbroker_url = \"{}\"\n",
            broker.url()
        ),
    )
    .unwrap();
    let output = scratch
        .command()
        .env_remove("AWS_REGION")
        .env("AWS_CONFIG_FILE", scratch.path("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", scratch.path("credentials"))
        .env("SESSIONTRAIL_BROKER_REGION", "eu-west-1")
        .args(["--target", TARGET, "--profile", "dev", "--quiet"])
        .output()
        .unwrap();
    let requests = broker.finish();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stderr.is_empty(), "--quiet: {}", stderr(&output));
    let (akid, region, signed) = verify_sigv4(&requests[0], "devsecret");
    assert_eq!((akid.as_str(), region.as_str()), ("AKIDDEV", "eu-west-1"));
    assert!(!signed.iter().any(|s| s == "x-amz-security-token"));
    assert_eq!(
        body_json(&requests[0]),
        serde_json::json!({"target": TARGET, "region": "eu-central-1"})
    );
    let argv = scratch.argv().unwrap();
    assert_eq!(argv[1], "eu-central-1");
    assert_eq!(argv[3], "dev");
    assert_eq!(argv[5], "https://ssm.eu-central-1.amazonaws.com");
}

/// Runs the client against one canned answer (the URL from the environment variable);
/// the plugin must not run.
fn refused(answer: Canned, code: i32) -> String {
    let scratch = Scratch::new("1.2.650.0");
    let broker = StandIn::start(vec![answer]);
    let output = scratch
        .with_credentials()
        .env("SESSIONTRAIL_BROKER_URL", broker.url())
        .args(["--target", TARGET])
        .output()
        .unwrap();
    let requests = broker.finish();
    assert_eq!(requests.len(), 1);
    verify_sigv4(&requests[0], SECRET);
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    assert!(scratch.argv().is_none(), "the plugin ran");
    assert!(output.stdout.is_empty());
    stderr(&output)
}

#[test]
fn the_brokers_denial_reason_is_said() {
    let said = refused(
        canned(
            403,
            r#"{"error":"denied","reason":"permission set ReadOnly has no session document in the broker's policy: sign in with a permission set that does"}"#,
        ),
        7,
    );
    assert!(said.contains("the broker denied the session"), "{said}");
    assert!(
        said.contains("permission set ReadOnly has no session document"),
        "{said}"
    );
}

#[test]
fn a_forbidden_from_the_url_says_the_permission_set_may_not_invoke() {
    let said = refused(
        Canned {
            status: 403,
            headers: vec![
                ("content-type", "application/json"),
                ("x-amzn-errortype", "AccessDeniedException"),
            ],
            body: r#"{"Message":"Forbidden"}"#.into(),
        },
        6,
    );
    assert!(said.contains("may not invoke the broker"), "{said}");
    assert!(said.contains("Forbidden"), "{said}");
}

#[test]
fn expired_credentials_at_the_url_say_sign_in() {
    let said = refused(
        Canned {
            status: 403,
            headers: vec![("x-amzn-errortype", "ExpiredTokenException")],
            body: r#"{"message":"The security token included in the request is expired"}"#.into(),
        },
        5,
    );
    assert!(said.contains("aws sso login"), "{said}");
}

#[test]
fn an_ssm_error_keeps_its_code() {
    let said = refused(
        canned(
            502,
            r#"{"error":"TargetNotConnected","message":"i-0123456789abcdef0 is not connected.","call":"ssm:StartSession"}"#,
        ),
        9,
    );
    assert!(said.contains("TargetNotConnected"), "{said}");
    assert!(said.contains("ssm:StartSession"), "{said}");
}

#[test]
fn an_invalid_request_says_why() {
    let said = refused(
        canned(
            400,
            r#"{"error":"invalid_request","reason":"target is not an instance id"}"#,
        ),
        8,
    );
    assert!(
        said.contains("invalid_request") && said.contains("not an instance id"),
        "{said}"
    );
}

#[test]
fn a_missing_or_old_plugin_is_said_before_the_broker_is_called() {
    for (version, path_has_plugin, message) in [
        (
            "1.2.650.0",
            false,
            "session-manager-plugin is not installed",
        ),
        ("1.2.497.0", true, "too old"),
        ("not a version", true, "did not print a version"),
    ] {
        let scratch = Scratch::new(version);
        let broker = StandIn::start(vec![started()]);
        let mut command = scratch.with_credentials();
        if !path_has_plugin {
            command.env("PATH", "/usr/bin:/bin");
        }
        let output = command
            .args(["--target", TARGET, "--broker-url"])
            .arg(broker.url())
            .output()
            .unwrap();
        let requests = broker.finish();
        assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
        let said = stderr(&output);
        assert!(said.contains(message), "{said}");
        assert!(
            said.contains("https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html"),
            "{said}"
        );
        assert!(
            requests.is_empty(),
            "the broker was called without a usable plugin"
        );
    }
}

#[test]
fn no_broker_url_or_a_plain_http_one() {
    let scratch = Scratch::new("1.2.650.0");
    let output = scratch
        .with_credentials()
        .args(["--target", TARGET])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let said = stderr(&output);
    assert!(
        said.contains("no broker URL") && said.contains("SESSIONTRAIL_BROKER_URL"),
        "{said}"
    );
    assert!(said.contains("connect.toml"), "{said}");

    let output = scratch
        .with_credentials()
        .args([
            "--target",
            TARGET,
            "--broker-url",
            "http://broker.example.com/",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("not loopback"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn no_credentials_or_an_expired_sso_sign_in() {
    let scratch = Scratch::new("1.2.650.0");
    let broker = StandIn::start(vec![]);
    let output = scratch
        .command()
        .args(["--target", TARGET, "--broker-url"])
        .arg(broker.url())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no AWS credentials"),
        "{}",
        stderr(&output)
    );

    // An SSO profile whose cached token has expired (and cannot be refreshed).
    std::fs::write(
        scratch.path("config"),
        "[profile corp-admin]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = eu-west-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n",
    )
    .unwrap();
    let cache = scratch.path("home/.aws/sso/cache");
    std::fs::create_dir_all(&cache).unwrap();
    // sha1("corp")
    std::fs::write(
        cache.join("ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"startUrl":"https://corp.awsapps.com/start","region":"eu-west-1","accessToken":"expired-access-token","expiresAt":"2024-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let output = scratch
        .command()
        .env("AWS_CONFIG_FILE", scratch.path("config"))
        .args([
            "--target",
            TARGET,
            "--profile",
            "corp-admin",
            "--broker-url",
        ])
        .arg(broker.url())
        .output()
        .unwrap();
    let requests = broker.finish();
    assert!(requests.is_empty());
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(
        said.contains("aws sso login --profile corp-admin"),
        "{said}"
    );
    assert!(said.contains("expired"), "{said}");
}

#[test]
fn an_unreachable_broker_is_a_network_error() {
    let scratch = Scratch::new("1.2.650.0");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let output = scratch
        .with_credentials()
        .args(["--target", TARGET, "--broker-url"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(10), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot reach the broker"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_stand_in_plugin_is_what_runs() {
    // Guard for the tests above: the stand-in is first on PATH.
    let scratch = Scratch::new("1.2.650.0");
    let found = sessiontrail_connect::plugin::find_plugin(Some(
        format!("{}:/usr/bin:/bin", scratch.path("bin").display()).as_ref(),
    ))
    .unwrap();
    assert_eq!(found, scratch.path("bin/session-manager-plugin"));
    assert!(Path::new(&found).exists());
}

/// botocore's SigV4 over the request the stand-in received gives the client's signature.
#[test]
fn the_signature_is_the_one_botocore_computes() {
    use sessiontrail_test_support::{Prerequisite, python_has, skip};
    if !python_has(&["botocore.auth"]) {
        skip(
            "the_signature_is_the_one_botocore_computes",
            Prerequisite::ExportValidators,
            "python3 cannot import botocore",
        );
        return;
    }
    let scratch = Scratch::new("1.2.650.0");
    let broker = StandIn::start(vec![started()]);
    let output = scratch
        .with_credentials()
        .args([
            "--target",
            TARGET,
            "--reason",
            "checked by botocore",
            "--broker-url",
        ])
        .arg(broker.url())
        .output()
        .unwrap();
    let url = broker.url();
    let requests = broker.finish();
    assert!(output.status.success(), "{}", stderr(&output));
    let request = &requests[0];
    let authorization = request.header("authorization").unwrap();
    let (signed, signature) = {
        let signed = authorization
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let signature = authorization.split("Signature=").nth(1).unwrap();
        (signed.split(';').collect::<Vec<_>>(), signature.trim())
    };
    let headers: serde_json::Map<String, serde_json::Value> = signed
        .iter()
        .map(|name| (name.to_string(), request.header(name).unwrap().into()))
        .collect();
    let input = serde_json::json!({
        "method": request.method,
        "url": format!("{}{}", url.trim_end_matches('/'), request.path),
        "headers": headers,
        "body": String::from_utf8(request.body.clone()).unwrap(),
        "akid": AKID,
        "secret": SECRET,
        "token": SESSION_TOKEN,
        "region": "eu-west-1",
        "amz_date": request.header("x-amz-date").unwrap(),
    });
    let script = "import json, sys\n\
from botocore.auth import SigV4Auth\n\
from botocore.awsrequest import AWSRequest\n\
from botocore.credentials import Credentials\n\
d = json.load(sys.stdin)\n\
req = AWSRequest(method=d['method'], url=d['url'], data=d['body'].encode(), headers=d['headers'])\n\
auth = SigV4Auth(Credentials(d['akid'], d['secret'], d['token']), 'lambda', d['region'])\n\
req.context['timestamp'] = d['amz_date']\n\
cr = auth.canonical_request(req)\n\
print(auth.signature(auth.string_to_sign(req, cr), req))\n";
    let mut python = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    python
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = python.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), signature);
}
