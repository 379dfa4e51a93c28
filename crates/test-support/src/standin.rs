//! The loopback stand-in for STS, SSM and a Lambda function URL
//! (`standin/aws_standin.py`): the AWS calls around the session broker that moto lacks,
//! each request's SigV4 signature recomputed and its parameters validated against
//! botocore's service model, and the CloudTrail records AWS writes for the calls
//! delivered as log files on [`AwsStandin::flush`]. The script's docstring says what it
//! plays and how.
//!
//! Needs python3 with botocore (installed with moto); where it is missing the test
//! skips, saying so, except under CI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct AwsStandin {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    port: u16,
    pub endpoint: String,
}

/// The stand-in script.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("standin/aws_standin.py")
}

impl AwsStandin {
    /// Starts the stand-in with `config` (the keys `load_config` in the script
    /// describes), or None when botocore is missing outside CI.
    pub fn start(test: &str, config: &Value, scratch: &Path) -> Option<AwsStandin> {
        if !crate::python_has(&["botocore.validate"]) {
            crate::skip(test, crate::Prerequisite::Moto, "botocore is not installed");
            return None;
        }
        let config_path = scratch.join("standin-config.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap())
            .expect("the stand-in's configuration is written");
        let mut child = Command::new("python3")
            .arg(script())
            .arg("--config")
            .arg(&config_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        // The first line says where it listens (bounded: the child prints it or exits).
        stdout
            .read_line(&mut line)
            .expect("the stand-in's first line");
        let endpoint = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("{test}: the stand-in did not start: {line:?}"))
            .to_string();
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        let standin = AwsStandin {
            child,
            _stdout: stdout,
            port,
            endpoint,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while standin.get("/_standin/health").is_err() {
            assert!(
                Instant::now() < deadline,
                "{test}: the stand-in never answered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(standin)
    }

    fn call(&self, method: &str, path: &str) -> std::io::Result<Value> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer);
        let (_, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP answer"))?;
        serde_json::from_str(body).map_err(std::io::Error::other)
    }

    fn get(&self, path: &str) -> std::io::Result<Value> {
        self.call("GET", path)
    }

    /// Delivers the CloudTrail records not yet delivered as log files; their paths.
    pub fn flush(&self) -> Vec<PathBuf> {
        let written = self.call("POST", "/_standin/flush").expect("flush answers");
        written
            .as_array()
            .expect("a list")
            .iter()
            .map(|p| PathBuf::from(p.as_str().expect("a path")))
            .collect()
    }

    /// The next `n` calls of `operation` answer ThrottlingException.
    pub fn throttle(&self, operation: &str, n: u32) {
        self.call("POST", &format!("/_standin/throttle?op={operation}&n={n}"))
            .expect("throttle answers");
    }

    /// Requests per operation, `violations` (requests that failed the model or the
    /// protocol: the broker must send none), server milliseconds per call, sessions.
    pub fn stats(&self) -> Value {
        self.get("/_standin/stats").expect("stats answer")
    }
}

impl Drop for AwsStandin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One caller the stand-in knows: its credentials and who AWS says it is.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The name in the ARN (`<user>` of an Identity Center role session).
    pub name: &'static str,
    /// The permission set, for an Identity Center user.
    pub permission_set: Option<&'static str>,
    pub arn: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The world of the broker's tests and benchmark: a broker account, one member account
/// with the session-starter role of the guard rails' StackSet, Identity Center users of
/// three permission sets, a caller outside Identity Center, instances.
pub mod world {
    pub const ORG: &str = "o-abc123defg";
    pub const BROKER_ACCOUNT: &str = "999988887777";
    pub const BROKER_ROLE: &str =
        "arn:aws:iam::999988887777:role/sessiontrail-broker-BrokerFunctionRole-1A2B3C4D5E6F";
    pub const MEMBER_ACCOUNT: &str = "111122223333";
    pub const STARTER_ROLE_NAME: &str = "sessiontrail-session-starter";
    pub const STARTER_ROLE: &str = "arn:aws:iam::111122223333:role/sessiontrail-session-starter";
    pub const REGION: &str = "eu-west-1";
    /// Connected instances.
    pub const INSTANCES: [&str; 2] = ["i-0123456789abcdef0", "i-0fedcba9876543210"];
    /// An instance whose agent is not connected.
    pub const DISCONNECTED: &str = "i-0aaaaaaaaaaaaaaaa";
    /// The permission sets of deploy/broker/sessiontrail.example.toml: name, document,
    /// Linux user.
    pub const PERMISSION_SETS: [(&str, &str, &str); 3] = [
        ("Admin", "SSMRunAs-Admin-Session", "admin"),
        ("Developer", "SSMRunAs-Developer-Session", "dev"),
        ("ReadOnly", "SSMRunAs-ReadOnly-Session", "readonly"),
    ];
    /// Identity Center users and their permission sets.
    pub const USERS: [(&str, &str); 4] = [
        ("alice@example.com", "Admin"),
        ("bob@example.com", "Developer"),
        ("carol@example.com", "ReadOnly"),
        ("dave@example.com", "Developer"),
    ];
    /// An IAM user: inside the organisation (the URL admits it), outside Identity Center.
    pub const IAM_USER: &str = "mallory";
}

fn key_of(name: &str, kind: &str) -> String {
    // Deterministic, distinct per caller: a test's keys are reproducible.
    let tag: String = name
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase() as char)
        .chain(std::iter::repeat('X'))
        .take(12)
        .collect();
    format!("{kind}{tag}TEST")
}

/// The broker's own credentials (its execution role's session in the Lambda).
pub fn broker_caller() -> Caller {
    Caller {
        name: "sessiontrail-broker",
        permission_set: None,
        arn: format!(
            "arn:aws:sts::{}:assumed-role/{}/sessiontrail-broker",
            world::BROKER_ACCOUNT,
            world::BROKER_ROLE.rsplit('/').next().unwrap_or_default()
        ),
        access_key_id: key_of("broker", "ASIA"),
        secret_access_key: "broker-secret-0123456789abcdefghijklmnopq".into(),
        session_token: Some("IQoJb3JpZ2luX2VjBROKERSESSIONTOKEN".into()),
    }
}

/// The Identity Center user `name` of [`world::USERS`].
pub fn user(name: &'static str) -> Caller {
    let (_, set) = world::USERS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("{name} is not a user of the world"));
    Caller {
        name,
        permission_set: Some(set),
        arn: format!(
            "arn:aws:sts::{}:assumed-role/AWSReservedSSO_{set}_0123456789abcdef/{name}",
            world::MEMBER_ACCOUNT
        ),
        access_key_id: key_of(name, "ASIA"),
        secret_access_key: format!("secret-of-{name}-0123456789"),
        session_token: Some(format!("IQoJb3JpZ2luX2VjSSO{}", key_of(name, ""))),
    }
}

/// The IAM user outside Identity Center.
pub fn iam_user() -> Caller {
    Caller {
        name: world::IAM_USER,
        permission_set: None,
        arn: format!(
            "arn:aws:iam::{}:user/{}",
            world::MEMBER_ACCOUNT,
            world::IAM_USER
        ),
        access_key_id: key_of(world::IAM_USER, "AKIA"),
        secret_access_key: "mallory-secret-0123456789".into(),
        session_token: None,
    }
}

/// The stand-in's configuration for the world: CloudTrail to `trail_out`, the function
/// URL's events to `invoke_url` (a Runtime API emulator's Invoke endpoint), if any.
pub fn world_config(trail_out: &Path, invoke_url: Option<&str>) -> Value {
    use serde_json::json;
    let broker = broker_caller();
    let mut principals = vec![json!({
        "access_key_id": broker.access_key_id,
        "secret_access_key": broker.secret_access_key,
        "session_token": broker.session_token,
        "arn": broker.arn,
        "principal_id": "AROABROKERROLEEXAMPLE:sessiontrail-broker",
        "account_id": world::BROKER_ACCOUNT,
        "type": "AssumedRole",
        "issuer_arn": world::BROKER_ROLE,
        "org_id": world::ORG,
        "invoke_url": false,
        "documents": [],
    })];
    for (name, set) in world::USERS {
        let caller = user(name);
        let document = world::PERMISSION_SETS
            .iter()
            .find(|(s, _, _)| *s == set)
            .map(|(_, d, _)| *d);
        principals.push(json!({
            "access_key_id": caller.access_key_id,
            "secret_access_key": caller.secret_access_key,
            "session_token": caller.session_token,
            "arn": caller.arn,
            "principal_id": format!("AROA{}SSOROLE:{name}", set.to_ascii_uppercase()),
            "account_id": world::MEMBER_ACCOUNT,
            "type": "AssumedRole",
            "issuer_arn": format!(
                "arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_{set}_0123456789abcdef",
                world::MEMBER_ACCOUNT
            ),
            "org_id": world::ORG,
            "invoke_url": true,
            // The permission-set policy of the guard rails: its own document only.
            "documents": [document],
        }));
    }
    let mallory = iam_user();
    principals.push(json!({
        "access_key_id": mallory.access_key_id,
        "secret_access_key": mallory.secret_access_key,
        "session_token": null,
        "arn": mallory.arn,
        "principal_id": "AIDAMALLORYEXAMPLE",
        "account_id": world::MEMBER_ACCOUNT,
        "type": "IAMUser",
        "org_id": world::ORG,
        "invoke_url": true,
        "documents": null,
    }));
    let mut instances = serde_json::Map::new();
    for id in world::INSTANCES {
        instances.insert(id.into(), json!({"connected": true}));
    }
    instances.insert(world::DISCONNECTED.into(), json!({"connected": false}));
    json!({
        "trail_out": trail_out,
        "principals": principals,
        "roles": [{
            "arn": world::STARTER_ROLE,
            "role_id": "AROASTARTERROLEEXAMPLE",
            "trusts": [world::BROKER_ROLE],
            "documents": world::PERMISSION_SETS.iter().map(|(_, d, _)| *d).collect::<Vec<_>>(),
        }],
        "instances": instances,
        "function": {
            "invoke_url": invoke_url,
            "account_id": world::BROKER_ACCOUNT,
            "region": world::REGION,
            "org_id": world::ORG,
            "url_id": "abcdefghijklmnopqrstuvwxyz012345",
        },
        "throttle": {},
    })
}
