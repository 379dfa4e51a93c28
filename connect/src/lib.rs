//! `sessiontrail-connect`: asks the session broker (docs/contracts.md "Broker API") for a
//! session, SigV4-signed with the standard credential chain (SSO profiles included), and
//! hands it to session-manager-plugin at once, the token by environment variable only.
//!
//! [`prepare`] does everything up to the plugin and returns its [`std::process::Command`];
//! `main` runs it (on Unix by `exec`, so the plugin gets the terminal and the signals).

pub mod broker;
pub mod config;
pub mod error;
pub mod plugin;

use std::path::PathBuf;
use std::process::Command;
use std::time::SystemTime;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;

pub use broker::Session;
pub use error::ConnectError;

use config::{BROKER_REGION_ENV, BROKER_URL_ENV, BrokerUrl};

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The instance (`i-...`, `mi-...`).
    pub target: String,
    /// The AWS profile (`--profile`); else `AWS_PROFILE` or the default chain.
    pub profile: Option<String>,
    /// The instance's region; else the profile's, else the broker URL's.
    pub region: Option<String>,
    /// Why (logged by the broker, passed to StartSession).
    pub reason: Option<String>,
    /// `--broker-url`.
    pub broker_url: Option<String>,
}

/// A session ready for the plugin.
#[derive(Debug)]
pub struct Prepared {
    pub session: Session,
    /// The region the session was started in.
    pub region: String,
    /// session-manager-plugin, with its six arguments and the response in its environment.
    pub command: Command,
}

/// The process environment (for the crate's own variables; aws-config reads its own).
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Resolves the broker URL, finds and checks the plugin, loads credentials, calls the
/// broker and returns the plugin's command. The plugin is checked before the broker is
/// called, so a missing plugin never leaves a started session behind.
pub async fn prepare(options: &Options) -> Result<Prepared, ConnectError> {
    let profile = options
        .profile
        .clone()
        .filter(|p| !p.is_empty())
        .or_else(|| env_var("AWS_PROFILE"));

    let url = broker_url(options, profile.as_deref())?;

    let plugin = plugin::find_plugin(std::env::var_os("PATH").as_deref())?;
    let version_check = {
        let plugin = plugin.clone();
        std::thread::spawn(move || plugin::check_plugin_version(&plugin))
    };

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(name) = &options.profile {
        loader = loader.profile_name(name);
    }
    if let Some(region) = &options.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let region = options
        .region
        .clone()
        .or_else(|| sdk.region().map(|r| r.to_string()))
        .or_else(|| url.region.clone())
        .ok_or_else(|| {
            ConnectError::Config(
                "no region for the session: pass --region, or set region in the profile or AWS_REGION"
                    .to_string(),
            )
        })?;
    let provider = sdk.credentials_provider().ok_or_else(|| {
        ConnectError::Credentials(credentials_message(
            "no credentials provider",
            profile.as_deref(),
        ))
    })?;
    let credentials = provider.provide_credentials().await.map_err(|error| {
        ConnectError::Credentials(credentials_message(
            &error::chain(&error),
            profile.as_deref(),
        ))
    })?;

    version_check.join().map_err(|_| {
        ConnectError::PluginUnusable("session-manager-plugin --version did not finish".into())
    })??;

    let signing_region = url
        .region
        .clone()
        .or_else(|| env_var(BROKER_REGION_ENV))
        .unwrap_or_else(|| region.clone());
    let body = broker::request_body(&options.target, &region, options.reason.as_deref());
    let request =
        broker::signed_request(&url, body, &credentials, &signing_region, SystemTime::now())?;
    let url_text = url.uri.to_string();
    let answer = broker::send(request).await?;
    let session = broker::read_answer(&answer, &url_text, profile.as_deref())?;
    let command = plugin::plugin_command(
        &plugin,
        &session,
        &options.target,
        &region,
        options.profile.as_deref().filter(|p| !p.is_empty()),
    );
    Ok(Prepared {
        session,
        region,
        command,
    })
}

fn broker_url(options: &Options, profile: Option<&str>) -> Result<BrokerUrl, ConnectError> {
    let flag = options.broker_url.as_deref();
    let env_value = env_var(BROKER_URL_ENV);
    let path: Option<PathBuf> = config::config_path(&env_var);
    let file = if flag.is_none() && env_value.is_none() {
        match &path {
            Some(path) => config::read_config_file(path)?,
            None => None,
        }
    } else {
        None
    };
    let (text, _source) =
        config::resolve_broker_url(flag, env_value.as_deref(), file.as_ref(), profile).ok_or_else(
            || ConnectError::NoBrokerUrl {
                config_path: path.map(|p| p.display().to_string()),
            },
        )?;
    BrokerUrl::parse(&text)
}

/// The sentence for a credentials failure: an SSO sign-in when the chain's error is an
/// SSO one (expired or missing token), else where credentials come from.
pub fn credentials_message(detail: &str, profile: Option<&str>) -> String {
    let login = broker::sso_login(profile);
    let which = match profile {
        Some(p) => format!("profile {p}"),
        None => "the default profile".to_string(),
    };
    let lower = detail.to_ascii_lowercase();
    // The chain's own list of every provider it tried says nothing a user can act on.
    let detail = if lower.contains("no credentials found in chain") {
        "none in the environment, the profile files, or the instance's role".to_string()
    } else {
        error::printable(detail)
    };
    if lower.contains("sso") || lower.contains("unauthorizedexception") {
        if lower.contains("expired") {
            format!(
                "the IAM Identity Center (SSO) sign-in of {which} has expired; sign in again: {login} ({detail})"
            )
        } else {
            format!(
                "no IAM Identity Center (SSO) credentials for {which}; sign in: {login} ({detail})"
            )
        }
    } else if lower.contains("expired") {
        format!(
            "the AWS credentials of {which} have expired; renew them (for an SSO profile: {login}) ({detail})"
        )
    } else {
        format!(
            "no AWS credentials for {which}: set up an IAM Identity Center profile (aws configure sso), pass it with --profile, and sign in ({login}) ({detail})"
        )
    }
}
