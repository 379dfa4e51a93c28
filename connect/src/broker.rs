//! The broker call: the body of docs/contracts.md "Broker API", signed with SigV4 for
//! `lambda`, sent, and its answer read.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::config::BrokerUrl;
use crate::error::{ConnectError, chain, printable};

/// The service a function URL is signed for.
pub const SIGNING_SERVICE: &str = "lambda";
/// Connect timeout, and the whole call's.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read (the broker's are well under 4 KiB).
pub const MAX_ANSWER: usize = 64 * 1024;

/// The request body: `target`, `region`, `reason` when given.
pub fn request_body(target: &str, region: &str, reason: Option<&str>) -> Vec<u8> {
    let mut body = serde_json::Map::new();
    body.insert("target".into(), target.into());
    body.insert("region".into(), region.into());
    if let Some(reason) = reason {
        body.insert("reason".into(), reason.into());
    }
    serde_json::to_vec(&body).expect("a JSON object serialises")
}

/// The signed POST: `host`, `content-type`, `x-amz-date`, `x-amz-content-sha256` (the
/// body's hash: function URLs take no unsigned payload) and, with temporary credentials,
/// `x-amz-security-token`, all signed for `lambda` in `signing_region`.
pub fn signed_request(
    url: &BrokerUrl,
    body: Vec<u8>,
    credentials: &Credentials,
    signing_region: &str,
    time: SystemTime,
) -> Result<http::Request<Vec<u8>>, ConnectError> {
    let uri = url.uri.to_string();
    let headers = [
        ("host", url.authority.as_str()),
        ("content-type", "application/json"),
    ];
    let signable = SignableRequest::new(
        "POST",
        &uri,
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )
    .map_err(|error| ConnectError::Config(format!("cannot sign a request to {uri}: {error}")))?;
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(signing_region)
        .name(SIGNING_SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|error| ConnectError::Config(format!("cannot sign: {error}")))?
        .into();
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|error| ConnectError::Config(format!("cannot sign: {}", chain(&error))))?
        .into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri(url.uri.clone())
        .header("host", url.authority.as_str())
        .header("content-type", "application/json")
        .body(body)
        .map_err(|error| ConnectError::Config(format!("cannot build the request: {error}")))?;
    instructions.apply_to_request_http1x(&mut request);
    request.headers_mut().insert(
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("sessiontrail-connect/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(request)
}

/// An answer: status, `x-amzn-errortype` (AWS's own refusals carry it), body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// Sends the request (TLS for `https`, rustls on aws-lc with the system's roots; plain
/// HTTP only for the loopback URLs [`BrokerUrl`] admits).
pub async fn send(request: http::Request<Vec<u8>>) -> Result<Answer, ConnectError> {
    let url = request.uri().to_string();
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.set_nodelay(true);
    if request.uri().scheme_str() == Some("https") {
        http.enforce_http(false);
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|error| ConnectError::Network {
                url: url.clone(),
                detail: format!("no trusted root certificates on this machine: {error}"),
            })?
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        send_with(tls, request, url).await
    } else {
        send_with(http, request, url).await
    }
}

async fn send_with<C>(
    connector: C,
    request: http::Request<Vec<u8>>,
    url: String,
) -> Result<Answer, ConnectError>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let client: Client<C, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let request = request.map(|body| Full::new(Bytes::from(body)));
    let network = |detail: String| ConnectError::Network {
        url: url.clone(),
        detail,
    };
    let call = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| network(chain(&error)))?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(String::from);
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|error| network(format!("reading the answer: {error}")))?
            .to_bytes();
        Ok(Answer {
            status,
            error_type,
            body,
        })
    };
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| network(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))?
}

/// A started session: StartSession's three fields, and the broker's document and user.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Session {
    #[serde(rename = "SessionId")]
    pub session_id: String,
    #[serde(rename = "StreamUrl")]
    pub stream_url: String,
    #[serde(rename = "TokenValue")]
    pub token_value: String,
    #[serde(rename = "DocumentName", default)]
    pub document_name: Option<String>,
    #[serde(rename = "RunAs", default)]
    pub run_as: Option<String>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("session_id", &self.session_id)
            .field("stream_url", &"<redacted>")
            .field("token_value", &"<redacted>")
            .field("document_name", &self.document_name)
            .field("run_as", &self.run_as)
            .finish()
    }
}

impl Session {
    /// The StartSession response the plugin reads: exactly `SessionId`, `TokenValue`,
    /// `StreamUrl`.
    pub fn start_session_response(&self) -> String {
        serde_json::json!({
            "SessionId": self.session_id,
            "TokenValue": self.token_value,
            "StreamUrl": self.stream_url,
        })
        .to_string()
    }
}

/// The broker's error body: `error` and `reason` (4xx) or `message` and `call` (5xx).
#[derive(Debug, Deserialize)]
struct BrokerError {
    error: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    call: Option<String>,
}

/// AWS's own error body (`{"Message":"Forbidden"}`, `{"message":...}`).
#[derive(Debug, Deserialize)]
struct AwsError {
    #[serde(alias = "message")]
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// Reads an answer. `profile` names the profile in use for the sign-in hint.
pub fn read_answer(
    answer: &Answer,
    url: &str,
    profile: Option<&str>,
) -> Result<Session, ConnectError> {
    let status = answer.status;
    let unexpected = |detail: String| ConnectError::Unexpected {
        url: url.to_string(),
        detail,
    };
    if status == 200 {
        let session: Session = serde_json::from_slice(&answer.body).map_err(|_| {
            unexpected("200 without SessionId, StreamUrl and TokenValue".to_string())
        })?;
        if session.session_id.is_empty()
            || session.stream_url.is_empty()
            || session.token_value.is_empty()
        {
            return Err(unexpected(
                "200 with an empty SessionId, StreamUrl or TokenValue".to_string(),
            ));
        }
        return Ok(session);
    }
    if let Ok(broker) = serde_json::from_slice::<BrokerError>(&answer.body) {
        let text = broker
            .reason
            .clone()
            .or(broker.message.clone())
            .unwrap_or_default();
        return Err(match status {
            403 if broker.error == "denied" => ConnectError::Denied { reason: text },
            400..=499 => ConnectError::Refused {
                status,
                error: broker.error,
                reason: text,
            },
            500..=599 => ConnectError::Broker {
                status,
                code: broker.error,
                message: text,
                call: broker.call,
            },
            _ => unexpected(format!("{status} {}", printable(&broker.error))),
        });
    }
    // Not the broker: the function URL (or Lambda) answered itself.
    let message = serde_json::from_slice::<AwsError>(&answer.body)
        .ok()
        .and_then(|e| e.message)
        .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).trim().to_string());
    let error_type = answer
        .error_type
        .as_deref()
        .map(|t| t.split(':').next().unwrap_or(t).trim().to_string())
        .unwrap_or_default();
    let said = if error_type.is_empty() {
        printable(&message)
    } else {
        format!("{}: {}", printable(&error_type), printable(&message))
    };
    let login = sso_login(profile);
    match status {
        403 | 401 => {
            let lower = format!("{error_type} {message}").to_ascii_lowercase();
            if lower.contains("expired") {
                Err(ConnectError::Credentials(format!(
                    "the broker's URL refused expired credentials ({said}); sign in again: {login}"
                )))
            } else if error_type.contains("UnrecognizedClient")
                || lower.contains("security token included in the request is invalid")
            {
                Err(ConnectError::Credentials(format!(
                    "the broker's URL does not know these credentials ({said}); sign in again: {login}"
                )))
            } else if lower.contains("signature") {
                Err(ConnectError::UrlForbidden(format!(
                    "the broker's URL refused the request's signature ({said}); is this machine's clock right, and the broker's region the URL's?"
                )))
            } else {
                Err(ConnectError::UrlForbidden(format!(
                    "the broker's URL answered {status} ({said}): the permission set you signed in with may not invoke the broker (lambda:InvokeFunctionUrl); pick a permission set mapped in the broker's policy with --profile, or ask your platform team"
                )))
            }
        }
        _ => Err(unexpected(format!("{status} not from the broker ({said})"))),
    }
}

/// The sign-in command for a profile.
pub fn sso_login(profile: Option<&str>) -> String {
    match profile {
        Some(profile) => format!("aws sso login --profile {profile}"),
        None => "aws sso login".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, error_type: Option<&str>, body: &str) -> Answer {
        Answer {
            status,
            error_type: error_type.map(String::from),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn success_and_errors() {
        let ok = read_answer(
            &answer(
                200,
                None,
                r#"{"SessionId":"s-1","StreamUrl":"wss://x","TokenValue":"T","DocumentName":"D","RunAs":null}"#,
            ),
            "u",
            None,
        )
        .unwrap();
        assert_eq!(ok.run_as, None);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ok.start_session_response()).unwrap(),
            serde_json::json!({"SessionId":"s-1","TokenValue":"T","StreamUrl":"wss://x"})
        );
        assert!(!format!("{ok:?}").contains("wss://x"));
        let code = |a: Answer| read_answer(&a, "u", Some("p")).unwrap_err().exit_code();
        assert_eq!(code(answer(200, None, "{}")), 11);
        assert_eq!(
            code(answer(403, None, r#"{"error":"denied","reason":"no"}"#)),
            7
        );
        assert_eq!(
            code(answer(
                400,
                None,
                r#"{"error":"invalid_request","reason":"x"}"#
            )),
            8
        );
        assert_eq!(
            code(answer(
                502,
                None,
                r#"{"error":"TargetNotConnected","message":"m","call":"ssm:StartSession"}"#
            )),
            9
        );
        assert_eq!(
            code(answer(
                403,
                Some("AccessDeniedException"),
                r#"{"Message":"Forbidden"}"#
            )),
            6
        );
        assert_eq!(
            code(answer(
                403,
                Some("InvalidSignatureException"),
                r#"{"message":"The request signature we calculated does not match"}"#
            )),
            6
        );
        assert_eq!(
            code(answer(
                403,
                Some("ExpiredTokenException"),
                r#"{"message":"The security token included in the request is expired"}"#
            )),
            5
        );
        assert_eq!(
            code(answer(429, None, r#"{"Message":"Rate Exceeded."}"#)),
            11
        );
    }
}
