//! session-manager-plugin, run as the AWS CLI runs it (awscli/customizations/
//! sessionmanager.py): six positional arguments, the StartSession response passed by an
//! environment variable whose name the first argument gives. The plugin reads a first
//! argument starting with `AWS_SSM_START_SESSION_RESPONSE` as that variable's name, reads
//! it and unsets it, so the token is never on a command line.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::broker::Session;
use crate::error::ConnectError;

/// The plugin's program name.
pub const PLUGIN: &str = "session-manager-plugin";
/// The variable the StartSession response is passed in (the AWS CLI's name).
pub const RESPONSE_ENV: &str = "AWS_SSM_START_SESSION_RESPONSE";
/// The last plugin version that took the response only on the command line (the AWS
/// CLI's `LAST_PLUGIN_VERSION_WITHOUT_ENV_VAR`): a newer one is required.
pub const LAST_VERSION_WITHOUT_ENV: [u64; 4] = [1, 2, 497, 0];

/// The plugin on `PATH` (an executable file named `session-manager-plugin`).
pub fn find_plugin(path: Option<&OsStr>) -> Result<PathBuf, ConnectError> {
    let path = path.ok_or(ConnectError::PluginNotFound)?;
    let names: &[&str] = if cfg!(windows) {
        &["session-manager-plugin.exe", PLUGIN]
    } else {
        &[PLUGIN]
    };
    for dir in std::env::split_paths(path) {
        if dir.as_os_str().is_empty() {
            continue;
        }
        for name in names {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(ConnectError::PluginNotFound)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `session-manager-plugin --version` and checks it takes the response by
/// environment variable (newer than 1.2.497.0); never falls back to the command line.
pub fn check_plugin_version(plugin: &Path) -> Result<String, ConnectError> {
    let output = Command::new(plugin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|error| {
            ConnectError::PluginUnusable(format!(
                "cannot run {} --version: {error}",
                plugin.display()
            ))
        })?;
    let version: String = String::from_utf8_lossy(&output.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    match parse_version(&version) {
        Some(parts) if newer_than(&parts, &LAST_VERSION_WITHOUT_ENV) => Ok(version),
        Some(_) => Err(ConnectError::PluginUnusable(format!(
            "session-manager-plugin {version} is too old: it takes the session token only on the command line, where other users could read it; update it (newer than 1.2.497.0) as {} says",
            crate::error::PLUGIN_INSTALL_URL
        ))),
        None => Err(ConnectError::PluginUnusable(format!(
            "{} --version did not print a version ({:?}); reinstall session-manager-plugin as {} says",
            plugin.display(),
            crate::error::printable(&version),
            crate::error::PLUGIN_INSTALL_URL
        ))),
    }
}

/// `1.2.650.0` as numbers (one to four parts).
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = text.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| (1..=4).contains(&p.len()))
}

fn newer_than(version: &[u64], floor: &[u64]) -> bool {
    let n = version.len().max(floor.len());
    let pad = |v: &[u64]| {
        let mut v = v.to_vec();
        v.resize(n, 0);
        v
    };
    pad(version) > pad(floor)
}

/// SSM's endpoint in a region, as the AWS CLI passes it (`client.meta.endpoint_url`).
pub fn ssm_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else if region.starts_with("eusc-") {
        "amazonaws.eu"
    } else {
        "amazonaws.com"
    };
    format!("https://ssm.{region}.{suffix}")
}

/// The plugin's command: `<RESPONSE_ENV> <region> StartSession <profile or ""> <request
/// parameters JSON> <SSM endpoint>`, with the response in `RESPONSE_ENV`.
pub fn plugin_command(
    plugin: &Path,
    session: &Session,
    target: &str,
    region: &str,
    profile: Option<&str>,
) -> Command {
    let mut parameters = serde_json::Map::new();
    parameters.insert("Target".into(), target.into());
    if let Some(document) = &session.document_name {
        parameters.insert("DocumentName".into(), document.as_str().into());
    }
    let mut command = Command::new(plugin);
    command
        .arg(RESPONSE_ENV)
        .arg(region)
        .arg("StartSession")
        .arg(profile.unwrap_or(""))
        .arg(serde_json::Value::Object(parameters).to_string())
        .arg(ssm_endpoint(region))
        .env(RESPONSE_ENV, session.start_session_response());
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(newer_than(
            &parse_version("1.2.650.0").unwrap(),
            &LAST_VERSION_WITHOUT_ENV
        ));
        assert!(newer_than(
            &parse_version("1.3").unwrap(),
            &LAST_VERSION_WITHOUT_ENV
        ));
        assert!(!newer_than(
            &parse_version("1.2.497.0").unwrap(),
            &LAST_VERSION_WITHOUT_ENV
        ));
        assert!(!newer_than(
            &parse_version("1.2.463").unwrap(),
            &LAST_VERSION_WITHOUT_ENV
        ));
        assert_eq!(parse_version("1.2.x"), None);
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("1.2.3.4.5"), None);
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            ssm_endpoint("eu-west-1"),
            "https://ssm.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            ssm_endpoint("cn-north-1"),
            "https://ssm.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            ssm_endpoint("us-gov-west-1"),
            "https://ssm.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            ssm_endpoint("us-iso-east-1"),
            "https://ssm.us-iso-east-1.c2s.ic.gov"
        );
        assert_eq!(
            ssm_endpoint("us-isob-east-1"),
            "https://ssm.us-isob-east-1.sc2s.sgov.gov"
        );
    }

    #[test]
    fn command_keeps_the_token_off_the_command_line() {
        let session = Session {
            session_id: "alice-0123".into(),
            stream_url: "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0123"
                .into(),
            token_value: "SECRET-TOKEN".into(),
            document_name: Some("Broker-Admin".into()),
            run_as: Some("admin".into()),
        };
        let command = plugin_command(
            Path::new("/opt/session-manager-plugin"),
            &session,
            "i-0123456789abcdef0",
            "eu-west-1",
            Some("admin"),
        );
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.len(), 6);
        assert_eq!(
            args[..4],
            [
                "AWS_SSM_START_SESSION_RESPONSE",
                "eu-west-1",
                "StartSession",
                "admin"
            ]
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&args[4]).unwrap(),
            serde_json::json!({"Target": "i-0123456789abcdef0", "DocumentName": "Broker-Admin"})
        );
        assert_eq!(args[5], "https://ssm.eu-west-1.amazonaws.com");
        assert!(args.iter().all(|a| !a.contains("SECRET-TOKEN")));
        let envs: Vec<_> = command.get_envs().collect();
        assert_eq!(envs.len(), 1);
        assert_eq!(envs[0].0, RESPONSE_ENV);
        let value: serde_json::Value =
            serde_json::from_str(envs[0].1.unwrap().to_str().unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "SessionId": "alice-0123",
                "TokenValue": "SECRET-TOKEN",
                "StreamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0123",
            })
        );
    }
}
