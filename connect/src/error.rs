//! What can go wrong before the plugin runs: one sentence each, and a distinct exit code
//! (docs/contracts.md, "Client").

use std::fmt;

/// Where to get session-manager-plugin.
pub const PLUGIN_INSTALL_URL: &str = "https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html";

/// Everything that stops a connect before session-manager-plugin runs.
#[derive(Debug)]
pub enum ConnectError {
    /// No broker URL from the flag, the environment or the config file.
    NoBrokerUrl { config_path: Option<String> },
    /// A broker URL, config file or region that cannot be used.
    Config(String),
    /// session-manager-plugin is not on PATH.
    PluginNotFound,
    /// session-manager-plugin is there but cannot be used (too old, no version, cannot run).
    PluginUnusable(String),
    /// No credentials, or expired ones (an SSO sign-in to renew).
    Credentials(String),
    /// The function URL itself answered 403 (not the broker): the caller may not invoke it,
    /// or the signature was refused.
    UrlForbidden(String),
    /// The broker's own 403: `{"error":"denied","reason":...}`.
    Denied { reason: String },
    /// The broker's other 4xx: the request was refused (`invalid_request`, `too_large`...).
    Refused {
        status: u16,
        error: String,
        reason: String,
    },
    /// The broker's 5xx: STS or SSM answered an error, or the broker is misconfigured.
    Broker {
        status: u16,
        code: String,
        message: String,
        call: Option<String>,
    },
    /// The broker could not be reached (DNS, connect, TLS, timeout).
    Network { url: String, detail: String },
    /// An answer outside the broker's contract.
    Unexpected { url: String, detail: String },
}

impl ConnectError {
    /// The process exit code (documented in docs/contracts.md, "Client").
    pub fn exit_code(&self) -> u8 {
        match self {
            ConnectError::NoBrokerUrl { .. } | ConnectError::Config(_) => 3,
            ConnectError::PluginNotFound | ConnectError::PluginUnusable(_) => 4,
            ConnectError::Credentials(_) => 5,
            ConnectError::UrlForbidden(_) => 6,
            ConnectError::Denied { .. } => 7,
            ConnectError::Refused { .. } => 8,
            ConnectError::Broker { .. } => 9,
            ConnectError::Network { .. } => 10,
            ConnectError::Unexpected { .. } => 11,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::NoBrokerUrl { config_path } => {
                write!(
                    f,
                    "no broker URL: pass --broker-url https://<id>.lambda-url.<region>.on.aws/, set SESSIONTRAIL_BROKER_URL, or put broker_url in "
                )?;
                match config_path {
                    Some(path) => f.write_str(path),
                    None => f.write_str("~/.config/sessiontrail/connect.toml"),
                }
            }
            ConnectError::Config(message) => f.write_str(message),
            ConnectError::PluginNotFound => write!(
                f,
                "session-manager-plugin is not installed (not found on PATH); install it as {PLUGIN_INSTALL_URL} says, then run sessiontrail-connect again"
            ),
            ConnectError::PluginUnusable(message) => write!(f, "{message}"),
            ConnectError::Credentials(message) => f.write_str(message),
            ConnectError::UrlForbidden(message) => f.write_str(message),
            ConnectError::Denied { reason } => {
                write!(f, "the broker denied the session: {}", printable(reason))
            }
            ConnectError::Refused {
                status,
                error,
                reason,
            } => write!(
                f,
                "the broker refused the request ({status} {}): {}",
                printable(error),
                printable(reason)
            ),
            ConnectError::Broker {
                status,
                code,
                message,
                call,
            } => {
                let code = printable(code);
                match call {
                    Some(call) => write!(
                        f,
                        "the broker could not start the session: {} answered {code}: {}",
                        printable(call),
                        printable(message)
                    )?,
                    None => write!(
                        f,
                        "the broker failed ({status} {code}): {}",
                        printable(message)
                    )?,
                }
                match code.as_str() {
                    "TargetNotConnected" => f.write_str(
                        " (is the instance running, its SSM agent online, and --region the instance's region?)",
                    ),
                    _ if *status == 503 => f.write_str(" (AWS is busy or unavailable: try again)"),
                    _ => Ok(()),
                }
            }
            ConnectError::Network { url, detail } => {
                write!(f, "cannot reach the broker at {url}: {detail}")
            }
            ConnectError::Unexpected { url, detail } => {
                write!(f, "unexpected answer from the broker at {url}: {detail}")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// A server's text made safe for a terminal: control characters become spaces, at most
/// 500 characters.
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(500)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().count() > 500 {
        out.push('…');
    }
    out
}

/// An error and its sources, joined with ": ".
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
