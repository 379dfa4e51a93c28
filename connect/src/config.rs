//! Where the broker is: `--broker-url`, else `SESSIONTRAIL_BROKER_URL`, else the config
//! file (`[profile.<name>] broker_url` of the profile in use, else the top-level
//! `broker_url`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ConnectError;

/// The environment variable naming the broker's URL.
pub const BROKER_URL_ENV: &str = "SESSIONTRAIL_BROKER_URL";
/// The environment variable naming the broker's region when its URL does not show it.
pub const BROKER_REGION_ENV: &str = "SESSIONTRAIL_BROKER_REGION";

/// `connect.toml`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The broker's function URL.
    pub broker_url: Option<String>,
    /// Per AWS profile: `[profile.<name>] broker_url = "..."`.
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileConfig>,
}

/// One `[profile.<name>]` table.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileConfig {
    /// The broker's function URL for this profile.
    pub broker_url: Option<String>,
}

/// Where a broker URL came from (for messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlSource {
    Flag,
    Environment,
    ProfileInFile,
    File,
}

/// The config file's path: `$XDG_CONFIG_HOME/sessiontrail/connect.toml`, else
/// `$HOME/.config/sessiontrail/connect.toml`.
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let base = match env("XDG_CONFIG_HOME").filter(|dir| Path::new(dir).is_absolute()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env("HOME").filter(|home| !home.is_empty())?).join(".config"),
    };
    Some(base.join("sessiontrail").join("connect.toml"))
}

/// Reads the config file; a missing file is `None`, an unreadable or invalid one an error.
pub fn read_config_file(path: &Path) -> Result<Option<ConfigFile>, ConnectError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(ConnectError::Config(format!(
                "cannot read {}: {error}",
                path.display()
            )));
        }
    };
    toml::from_str(&text).map(Some).map_err(|error| {
        ConnectError::Config(format!(
            "{} is not a valid config file ({}): it takes broker_url = \"https://...\" and [profile.<name>] tables with broker_url",
            path.display(),
            error.message()
        ))
    })
}

fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The broker URL by precedence: the flag, the environment variable, the profile's entry
/// in the file, the file's top-level entry. Empty values count as absent.
pub fn resolve_broker_url(
    flag: Option<&str>,
    env_value: Option<&str>,
    file: Option<&ConfigFile>,
    profile: Option<&str>,
) -> Option<(String, UrlSource)> {
    if let Some(url) = given(flag) {
        return Some((url.to_string(), UrlSource::Flag));
    }
    if let Some(url) = given(env_value) {
        return Some((url.to_string(), UrlSource::Environment));
    }
    let file = file?;
    if let Some(url) = profile
        .and_then(|name| file.profile.get(name))
        .and_then(|entry| given(entry.broker_url.as_deref()))
    {
        return Some((url.to_string(), UrlSource::ProfileInFile));
    }
    given(file.broker_url.as_deref()).map(|url| (url.to_string(), UrlSource::File))
}

/// A broker URL that may be called: `https://`, or `http://` to a loopback host only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// The URL as sent (path `/` when none was given).
    pub uri: http::Uri,
    /// `host[:port]`, the signed `host` header.
    pub authority: String,
    /// The region in a function URL's host (`<id>.lambda-url.<region>.on.aws`).
    pub region: Option<String>,
}

impl BrokerUrl {
    /// Parses and checks a broker URL.
    pub fn parse(text: &str) -> Result<BrokerUrl, ConnectError> {
        let bad = |why: &str| {
            ConnectError::Config(format!(
                "the broker URL {text:?} {why}; it is the broker's function URL, https://<id>.lambda-url.<region>.on.aws/"
            ))
        };
        let uri: http::Uri = text.parse().map_err(|_| bad("is not a URL"))?;
        let scheme = uri.scheme_str().ok_or_else(|| bad("has no scheme"))?;
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("must not carry a user name or password"));
        }
        let host = authority.host().to_ascii_lowercase();
        match scheme {
            "https" => {}
            "http" if is_loopback(&host) => {}
            "http" => {
                return Err(bad(
                    "is http:// to a host that is not loopback (http is only for 127.0.0.1, ::1 or localhost)",
                ));
            }
            _ => return Err(bad("is not https://")),
        }
        let authority = match authority.port_u16() {
            Some(port) => {
                let default = if scheme == "https" { 443 } else { 80 };
                if port == default {
                    host.clone()
                } else {
                    format!("{host}:{port}")
                }
            }
            None => host.clone(),
        };
        let path_and_query = uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .filter(|pq| !pq.is_empty())
            .unwrap_or("/");
        let uri = http::Uri::builder()
            .scheme(scheme)
            .authority(authority.as_str())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| bad("is not a URL"))?;
        Ok(BrokerUrl {
            uri,
            region: function_url_region(&host),
            authority,
        })
    }
}

/// The region of a function URL's host: `<id>.lambda-url.<region>.on.aws` (and the other
/// partitions' `lambda-url.<region>.<suffix>`).
pub fn function_url_region(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() >= 4 && labels[1] == "lambda-url" && !labels[2].is_empty() {
        Some(labels[2].to_string())
    } else {
        None
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare == "localhost" {
        return true;
    }
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn precedence_flag_env_profile_file() {
        let f =
            file("broker_url = \"https://top\"\n[profile.admin]\nbroker_url = \"https://admin\"\n");
        let r = |flag, env, profile| resolve_broker_url(flag, env, Some(&f), profile);
        assert_eq!(
            r(Some("https://flag"), Some("https://env"), Some("admin")),
            Some(("https://flag".into(), UrlSource::Flag))
        );
        assert_eq!(
            r(None, Some("https://env"), Some("admin")),
            Some(("https://env".into(), UrlSource::Environment))
        );
        assert_eq!(
            r(None, Some(" "), Some("admin")),
            Some(("https://admin".into(), UrlSource::ProfileInFile))
        );
        assert_eq!(
            r(None, None, Some("dev")),
            Some(("https://top".into(), UrlSource::File))
        );
        assert_eq!(
            r(None, None, None),
            Some(("https://top".into(), UrlSource::File))
        );
        assert_eq!(resolve_broker_url(None, None, None, Some("admin")), None);
        assert_eq!(
            resolve_broker_url(None, None, Some(&ConfigFile::default()), None),
            None
        );
    }

    #[test]
    fn config_file_refuses_unknown_keys() {
        assert!(toml::from_str::<ConfigFile>("brokerurl = \"x\"").is_err());
        assert!(toml::from_str::<ConfigFile>("[profile.a]\nurl = \"x\"").is_err());
    }

    #[test]
    fn config_path_prefers_xdg() {
        let env = |xdg: Option<&'static str>, home: Option<&'static str>| {
            move |name: &str| match name {
                "XDG_CONFIG_HOME" => xdg.map(String::from),
                "HOME" => home.map(String::from),
                _ => None,
            }
        };
        assert_eq!(
            config_path(&env(Some("/x"), Some("/h"))),
            Some(PathBuf::from("/x/sessiontrail/connect.toml"))
        );
        assert_eq!(
            config_path(&env(Some("relative"), Some("/h"))),
            Some(PathBuf::from("/h/.config/sessiontrail/connect.toml"))
        );
        assert_eq!(config_path(&env(None, None)), None);
    }

    #[test]
    fn urls() {
        let u = BrokerUrl::parse("https://abc123.lambda-url.eu-west-1.on.aws/").unwrap();
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.authority, "abc123.lambda-url.eu-west-1.on.aws");
        let u = BrokerUrl::parse("https://ABC.lambda-url.us-gov-west-1.on.aws:443").unwrap();
        assert_eq!(
            u.uri.to_string(),
            "https://abc.lambda-url.us-gov-west-1.on.aws/"
        );
        assert_eq!(u.region.as_deref(), Some("us-gov-west-1"));
        let u = BrokerUrl::parse("http://127.0.0.1:9001/").unwrap();
        assert_eq!(u.authority, "127.0.0.1:9001");
        assert_eq!(u.region, None);
        assert!(BrokerUrl::parse("http://[::1]:8080/").is_ok());
        assert!(BrokerUrl::parse("http://localhost:8080").is_ok());
        for bad in [
            "http://broker.example.com/",
            "http://10.0.0.1/",
            "ftp://x/",
            "abc.lambda-url.eu-west-1.on.aws",
            "https://user:pw@abc.lambda-url.eu-west-1.on.aws/",
            "not a url",
        ] {
            let error = BrokerUrl::parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 3, "{bad}");
        }
    }
}
