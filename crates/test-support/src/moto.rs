//! moto's server on 127.0.0.1 for tests: S3, EventBridge and SQS, started per test on a
//! free port and killed when dropped. Where moto is not installed the test says so
//! ([`crate::skip`]) and skips, except under CI (`CI=true`), where .ci/run installs it
//! and a skip would hide a failure.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts a server, or None when moto is missing outside CI.
    pub fn start(test: &str) -> Option<Moto> {
        if !crate::python_has(&["moto.server", "flask"]) {
            crate::skip(
                test,
                crate::Prerequisite::Moto,
                "moto's server is not installed",
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        // Bounded wait for the server to listen.
        for _ in 0..300 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{test}: moto's server did not listen on 127.0.0.1:{port} within 15 s");
    }

    /// The environment a child process (the CLI, boto3) needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Runs a Python snippet with boto3 pointed at this server; returns its stdout.
    pub fn python(&self, code: &str) -> String {
        let output = Command::new("python3")
            .args(["-c", code])
            .envs(self.env())
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "python failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
