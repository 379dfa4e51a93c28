//! The answers (docs/contracts.md "Broker API"): a function URL response
//! (`statusCode`, `headers`, `body`), always JSON, never cached.
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | session started | `SessionId`, `StreamUrl`, `TokenValue`, `DocumentName`, `RunAs` |
//! | 400 | the event or body is malformed or invalid | `{"error":"invalid_request","reason":...}` |
//! | 403 | the caller or its permission set is not allowed | `{"error":"denied","reason":...}` |
//! | 405 | a method other than POST | `{"error":"method_not_allowed","reason":...}` |
//! | 413 | a body over 4 KiB | `{"error":"too_large","reason":...}` |
//! | 502 | STS or SSM refused or failed | `{"error":<AWS code>,"message":...,"call":...}` |
//! | 503 | throttled, timed out, or unavailable after the SDK's retries | same as 502 |

use serde::Serialize;
use serde_json::{Value, json};

use crate::start::{StartError, StartedSession};

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
    /// `Allow` for a 405.
    pub allow: Option<&'static str>,
}

/// A refusal: its status and the `error` word of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Invalid,
    Denied,
    MethodNotAllowed,
    TooLarge,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Invalid => 400,
            Refusal::Denied => 403,
            Refusal::MethodNotAllowed => 405,
            Refusal::TooLarge => 413,
        }
    }

    /// The body's `error` (and the log record's `error_code`).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Invalid => "invalid_request",
            Refusal::Denied => "denied",
            Refusal::MethodNotAllowed => "method_not_allowed",
            Refusal::TooLarge => "too_large",
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Started<'a> {
    session_id: &'a str,
    stream_url: &'a str,
    token_value: &'a str,
    document_name: &'a str,
    run_as: Option<&'a str>,
}

impl Response {
    fn json(status: u16, body: &impl Serialize) -> Response {
        Response {
            status,
            body: serde_json::to_string(body).expect("a JSON object serialises"),
            allow: None,
        }
    }

    /// 200 with exactly StartSession's `SessionId`, `StreamUrl`, `TokenValue`, plus the
    /// document and the Linux user (`RunAs`, null when the policy names none).
    pub fn started(
        session: &StartedSession,
        document_name: &str,
        run_as: Option<&str>,
    ) -> Response {
        Response::json(
            200,
            &Started {
                session_id: &session.session_id,
                stream_url: session.stream_url.expose(),
                token_value: session.token_value.expose(),
                document_name,
                run_as,
            },
        )
    }

    pub fn refused(refusal: Refusal, reason: &str) -> Response {
        let mut response = Response::json(
            refusal.status(),
            &json!({"error": refusal.code(), "reason": reason}),
        );
        if refusal == Refusal::MethodNotAllowed {
            response.allow = Some("POST");
        }
        response
    }

    /// Any other error answer: `{"error": code, "message": ...}`.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        Response::json(status, &json!({"error": code, "message": message}))
    }

    /// 503 for a transient failure, 502 for every other; the AWS error code is kept.
    pub fn failed(error: &StartError) -> Response {
        Response::json(
            if error.transient { 503 } else { 502 },
            &json!({"error": error.code, "message": error.message, "call": error.call.as_str()}),
        )
    }

    /// The function URL response (payload format 2.0).
    pub fn to_function_url(&self) -> Value {
        let mut headers = json!({
            "content-type": "application/json",
            "cache-control": "no-store",
        });
        if let Some(allow) = self.allow {
            headers["allow"] = Value::String(allow.into());
        }
        json!({
            "statusCode": self.status,
            "headers": headers,
            "body": self.body,
            "isBase64Encoded": false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start::{Call, FakeStarter, Secret};

    #[test]
    fn a_started_session_answers_exactly_the_five_fields() {
        let session = StartedSession {
            session_id: "alice-0a1b2c3d4e5f60718".into(),
            stream_url: Secret::new(
                "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0a1b2c3d4e5f60718?role=publish_subscribe",
            ),
            token_value: Secret::new("AAEAAHtoken"),
            ssm_request_id: None,
        };
        let response = Response::started(&session, "SSMRunAs-Admin-Session", Some("admin"));
        assert_eq!(response.status, 200);
        let body: Value = serde_json::from_str(&response.body).unwrap();
        assert_eq!(
            body,
            json!({
                "SessionId": "alice-0a1b2c3d4e5f60718",
                "StreamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/alice-0a1b2c3d4e5f60718?role=publish_subscribe",
                "TokenValue": "AAEAAHtoken",
                "DocumentName": "SSMRunAs-Admin-Session",
                "RunAs": "admin"
            })
        );
        let url =
            Response::started(&FakeStarter::session(1, "eu-west-1"), "D", None).to_function_url();
        assert_eq!(url["statusCode"], 200);
        assert_eq!(url["headers"]["cache-control"], "no-store");
        assert_eq!(url["headers"]["content-type"], "application/json");
        assert_eq!(url["isBase64Encoded"], false);
    }

    #[test]
    fn refusals_and_failures() {
        let denied = Response::refused(Refusal::Denied, "ask for access");
        assert_eq!(denied.status, 403);
        assert_eq!(
            serde_json::from_str::<Value>(&denied.body).unwrap(),
            json!({"error": "denied", "reason": "ask for access"})
        );
        let method = Response::refused(Refusal::MethodNotAllowed, "use POST");
        assert_eq!(method.status, 405);
        assert_eq!(method.to_function_url()["headers"]["allow"], "POST");
        assert_eq!(Response::refused(Refusal::Invalid, "x").status, 400);
        assert_eq!(Response::refused(Refusal::TooLarge, "x").status, 413);
        let mut error = StartError {
            call: Call::StartSession,
            code: "TargetNotConnected".into(),
            message: "i-0123abcd is not connected.".into(),
            request_id: Some("r-1".into()),
            transient: false,
        };
        let failed = Response::failed(&error);
        assert_eq!(failed.status, 502);
        assert_eq!(
            serde_json::from_str::<Value>(&failed.body).unwrap(),
            json!({"error": "TargetNotConnected", "message": "i-0123abcd is not connected.", "call": "ssm:StartSession"})
        );
        error.code = "ThrottlingException".into();
        error.transient = true;
        assert_eq!(Response::failed(&error).status, 503);
    }
}
