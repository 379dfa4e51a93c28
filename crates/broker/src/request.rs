//! The request: a Lambda function URL event (payload format version 2.0) and the body
//! the client sends (docs/contracts.md "Broker API").
//!
//! The event is read with structs of our own holding only the fields the broker uses
//! (AWS adds fields to it; they are ignored). The caller comes only from
//! `requestContext.authorizer.iam`, which the `AWS_IAM` authorizer verified; the body
//! is `{"target": ..., "region": ..., "reason": ...}`, at most [`MAX_BODY_BYTES`], and
//! any other field in it is refused.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::caller::IamAuthorizer;

/// The largest body accepted, decoded.
pub const MAX_BODY_BYTES: usize = 4096;
/// The longest `reason` accepted, in characters (StartSession's own limit).
pub const MAX_REASON_CHARS: usize = 256;

/// What the broker takes from a function URL event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlRequest {
    pub method: String,
    /// `requestContext.requestId` (the Lambda request id is the context's).
    pub url_request_id: Option<String>,
    pub source_ip: Option<String>,
    pub iam: Option<IamAuthorizer>,
    pub body: Option<String>,
    pub is_base64_encoded: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    request_context: Option<RequestContext>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    http: Option<Http>,
    #[serde(default)]
    authorizer: Option<Authorizer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Http {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    source_ip: Option<String>,
}

#[derive(Deserialize)]
struct Authorizer {
    #[serde(default)]
    iam: Option<Iam>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Iam {
    #[serde(default)]
    user_arn: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    caller_id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    principal_org_id: Option<String>,
}

/// Reads a function URL event; None when it is not one (no `requestContext.http`).
pub fn parse_event(event: &Value) -> Option<UrlRequest> {
    let event = Event::deserialize(event).ok()?;
    let context = event.request_context?;
    let http = context.http?;
    Some(UrlRequest {
        method: http.method.unwrap_or_default(),
        url_request_id: context.request_id.filter(|id| !id.is_empty()),
        source_ip: http.source_ip.filter(|ip| !ip.is_empty()),
        iam: context
            .authorizer
            .and_then(|a| a.iam)
            .map(|iam| IamAuthorizer {
                user_arn: iam.user_arn,
                account_id: iam.account_id,
                caller_id: iam.caller_id.or(iam.user_id),
                principal_org_id: iam.principal_org_id,
            }),
        body: event.body,
        is_base64_encoded: event.is_base64_encoded,
    })
}

/// A validated body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartBody {
    pub target: String,
    pub region: String,
    pub reason: Option<String>,
}

/// Why a body is refused. Messages never quote the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("the body is not valid base64")]
    NotBase64,
    #[error("the body is missing: send {{\"target\": \"i-...\", \"region\": \"...\"}}")]
    Missing,
    #[error(
        "the body is not a JSON object with target, region and optionally reason (and nothing else): {0}"
    )]
    NotJson(String),
    #[error(
        "target is not an instance id (i- and 8 or 17 lowercase hex digits) or a managed instance id (mi- and 17)"
    )]
    Target,
    #[error("region is not an AWS region name (like eu-west-1)")]
    Region,
    #[error("region is not in this broker's partition ({0})")]
    RegionPartition(String),
    #[error(
        "reason must be 1 to {MAX_REASON_CHARS} characters without control or formatting characters"
    )]
    Reason,
    #[error(
        "reason must not hold a token (name=value with a name ending in token): it would be a secret in the broker log"
    )]
    ReasonToken,
}

/// The fields as sent, kept only when valid (for the log of a refused request).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyFields {
    pub target: Option<String>,
    pub region: Option<String>,
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBody {
    target: String,
    region: String,
    #[serde(default)]
    reason: Option<String>,
}

/// Decodes and validates the body for a broker in `partition`. On error, the fields
/// that were valid come back with it, for the log.
pub fn parse_body(
    request: &UrlRequest,
    partition: &str,
) -> Result<StartBody, (BodyError, BodyFields)> {
    let none = |e| (e, BodyFields::default());
    let raw = request
        .body
        .as_deref()
        .ok_or_else(|| none(BodyError::Missing))?;
    // Base64 takes 4 bytes for 3: refuse before decoding what cannot fit.
    let bytes: std::borrow::Cow<[u8]> = if request.is_base64_encoded {
        if raw.len() > MAX_BODY_BYTES.div_ceil(3) * 4 + 4 {
            return Err(none(BodyError::TooLarge));
        }
        base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .map_err(|_| none(BodyError::NotBase64))?
            .into()
    } else {
        raw.as_bytes().into()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(none(BodyError::TooLarge));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(none(BodyError::Missing));
    }
    let body: RawBody = serde_json::from_slice(&bytes)
        .map_err(|e| none(BodyError::NotJson(describe_json_error(&e))))?;
    let mut fields = BodyFields::default();
    let target_ok = is_target(&body.target);
    let region_ok = is_region(&body.region);
    let region_partition = region_ok && partition_of_region(&body.region) == Some(partition);
    let reason = match &body.reason {
        None => Ok(None),
        Some(reason) => check_reason(reason).map(|()| Some(reason.clone())),
    };
    if target_ok {
        fields.target = Some(body.target.clone());
    }
    if region_partition {
        fields.region = Some(body.region.clone());
    }
    if let Ok(reason) = &reason {
        fields.reason = reason.clone();
    }
    let error = if !target_ok {
        Some(BodyError::Target)
    } else if !region_ok {
        Some(BodyError::Region)
    } else if !region_partition {
        Some(BodyError::RegionPartition(partition.to_string()))
    } else {
        reason.as_ref().err().cloned()
    };
    match error {
        Some(error) => Err((error, fields)),
        None => Ok(StartBody {
            target: body.target,
            region: body.region,
            reason: reason.unwrap_or(None),
        }),
    }
}

/// What was wrong with the body, in words that never quote it: serde_json's messages
/// may quote a value or an unknown key the client sent, and this text is logged.
fn describe_json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let ours = ["`target`", "`region`", "`reason`"];
    let known_field = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| ours.iter().find(|field| rest.starts_with(*field)))
            .map(|field| format!("{prefix}{field}"))
    };
    match error.classify() {
        serde_json::error::Category::Data => known_field("missing field ")
            .or_else(|| known_field("duplicate field "))
            .unwrap_or_else(|| {
                if message.starts_with("unknown field") {
                    "a field other than target, region and reason".to_string()
                } else if message.starts_with("invalid type") {
                    "a field is not a string, or the body is not an object".to_string()
                } else {
                    "a field has a value that is not accepted".to_string()
                }
            }),
        _ => format!(
            "not JSON at line {} column {}",
            error.line(),
            error.column()
        ),
    }
}

/// An EC2 instance id (`i-` and 8 or 17 lowercase hex digits) or a managed instance id
/// (`mi-` and 17).
pub fn is_target(text: &str) -> bool {
    let hex = |s: &str, lengths: &[usize]| {
        lengths.contains(&s.len()) && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    if let Some(rest) = text.strip_prefix("mi-") {
        hex(rest, &[17])
    } else if let Some(rest) = text.strip_prefix("i-") {
        hex(rest, &[8, 17])
    } else {
        false
    }
}

/// An AWS region name: `<area>[-gov|-iso|-isob|-isoe|-isof]-<direction>-<n>`, like
/// `eu-west-1`, `us-gov-west-1`, `us-isob-east-1`, `ap-southeast-5`, or the European
/// Sovereign Cloud's `eusc-de-east-1`.
pub fn is_region(text: &str) -> bool {
    partition_of_region(text).is_some()
}

/// The partition a region name belongs to.
pub fn partition_of_region(text: &str) -> Option<&'static str> {
    let parts: Vec<&str> = text.split('-').collect();
    let letters = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase())
    };
    let number = |s: &str| {
        (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0')
    };
    match parts.as_slice() {
        ["eusc", area, direction, n]
            if letters(area, 2..=2) && letters(direction, 3..=12) && number(n) =>
        {
            Some("aws-eusc")
        }
        [area, kind, direction, n]
            if letters(area, 2..=2) && letters(direction, 3..=12) && number(n) =>
        {
            match (*area, *kind) {
                ("us", "gov") => Some("aws-us-gov"),
                ("us", "iso") => Some("aws-iso"),
                ("us", "isob") => Some("aws-iso-b"),
                ("eu", "isoe") => Some("aws-iso-e"),
                ("us", "isof") => Some("aws-iso-f"),
                _ => None,
            }
        }
        [area, direction, n] if letters(area, 2..=2) && letters(direction, 3..=12) && number(n) => {
            Some(if *area == "cn" { "aws-cn" } else { "aws" })
        }
        _ => None,
    }
}

fn check_reason(reason: &str) -> Result<(), BodyError> {
    let chars = reason.chars().count();
    if chars == 0 || chars > MAX_REASON_CHARS || reason.trim().is_empty() {
        return Err(BodyError::Reason);
    }
    if reason.chars().any(is_refused_char) {
        return Err(BodyError::Reason);
    }
    if sessiontrail_ingest::token_leak::redact_tokens(reason) != reason {
        return Err(BodyError::ReasonToken);
    }
    Ok(())
}

/// Control characters, line and paragraph separators, and the invisible formatting
/// characters that make a log line read differently from what it holds (bidirectional
/// overrides and isolates, zero-width characters, the byte-order mark).
fn is_refused_char(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(text: &str) -> UrlRequest {
        UrlRequest {
            method: "POST".into(),
            body: Some(text.into()),
            ..UrlRequest::default()
        }
    }

    fn parse(text: &str) -> Result<StartBody, BodyError> {
        parse_body(&body(text), "aws").map_err(|(e, _)| e)
    }

    #[test]
    fn the_function_url_event_of_the_aws_docs() {
        // The example request of "Invoking Lambda function URLs" (payload format 2.0).
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": "/",
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "abc.lambda-url.us-east-1.on.aws"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc",
                "authorizer": {"iam": {
                    "accessKey": "ASIAEXAMPLE",
                    "accountId": "111122223333",
                    "callerId": "AROAEXAMPLEID:alice@example.com",
                    "cognitoIdentity": null,
                    "principalOrgId": "o-abc123defg",
                    "userArn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com",
                    "userId": "AROAEXAMPLEID:alice@example.com"
                }},
                "domainName": "abc.lambda-url.us-east-1.on.aws",
                "domainPrefix": "abc",
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                         "sourceIp": "198.51.100.7", "userAgent": "sessiontrail-connect"},
                "requestId": "id-1",
                "routeKey": "$default",
                "stage": "$default",
                "time": "12/Mar/2025:19:03:58 +0000",
                "timeEpoch": 1741806238000u64
            },
            "body": "eyJ0YXJnZXQiOiJpLTAxMjM0NTY3IiwicmVnaW9uIjoiZXUtd2VzdC0xIn0=",
            "isBase64Encoded": true
        });
        let request = parse_event(&event).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.source_ip.as_deref(), Some("198.51.100.7"));
        assert_eq!(request.url_request_id.as_deref(), Some("id-1"));
        let iam = request.iam.clone().unwrap();
        assert_eq!(iam.account_id.as_deref(), Some("111122223333"));
        assert_eq!(
            iam.caller_id.as_deref(),
            Some("AROAEXAMPLEID:alice@example.com")
        );
        assert_eq!(iam.principal_org_id.as_deref(), Some("o-abc123defg"));
        // {"target":"i-01234567","region":"eu-west-1"}
        assert_eq!(
            parse_body(&request, "aws").unwrap(),
            StartBody {
                target: "i-01234567".into(),
                region: "eu-west-1".into(),
                reason: None
            }
        );
    }

    #[test]
    fn events_that_are_not_function_url_events() {
        assert_eq!(parse_event(&json!({"source": "aws.events"})), None);
        assert_eq!(parse_event(&json!([1, 2])), None);
        assert_eq!(parse_event(&json!({"requestContext": {"http": 3}})), None);
        assert_eq!(
            parse_event(&json!({"requestContext": {}, "body": "{}"})),
            None
        );
    }

    #[test]
    fn targets() {
        for ok in ["i-0123abcd", "i-0123456789abcdef0", "mi-0123456789abcdef0"] {
            assert!(is_target(ok), "{ok}");
        }
        for bad in [
            "i-0123abc",
            "i-0123456789ABCDEF0",
            "i-0123456789abcdef",
            "mi-0123abcd",
            "i-0123abcd ",
            "i-0123abcd\n",
            "i-0123abcd;rm -rf /",
            "i-0123abcd\",\"outcome\":\"started",
            "I-0123abcd",
            "",
            "arn:aws:ec2:eu-west-1:111122223333:instance/i-0123abcd",
            "i-０１２３abcd",
        ] {
            assert!(!is_target(bad), "{bad:?}");
        }
    }

    #[test]
    fn regions_and_their_partitions() {
        let cases = [
            ("eu-west-1", "aws"),
            ("ap-southeast-5", "aws"),
            ("me-central-1", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ];
        for (region, partition) in cases {
            assert_eq!(partition_of_region(region), Some(partition), "{region}");
        }
        for bad in [
            "eu-west",
            "EU-WEST-1",
            "eu-west-01",
            "eu-west-1 ",
            "eu_west_1",
            "euw-west-1",
            "us-foo-west-1",
            "eu-west-1\u{0}",
            "../eu-west-1",
            "",
            "aws-global",
        ] {
            assert!(!is_region(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_body_with_a_reason() {
        assert_eq!(
            parse(r#"{"target":"mi-0123456789abcdef0","region":"us-east-2","reason":"INC-42: disk full"}"#)
                .unwrap(),
            StartBody {
                target: "mi-0123456789abcdef0".into(),
                region: "us-east-2".into(),
                reason: Some("INC-42: disk full".into())
            }
        );
        assert_eq!(
            parse(r#"{"target":"i-0123abcd","region":"us-east-2","reason":null}"#)
                .unwrap()
                .reason,
            None
        );
    }

    #[test]
    fn bodies_that_are_refused() {
        let cases: &[(&str, BodyError)] = &[
            ("", BodyError::Missing),
            ("   ", BodyError::Missing),
            ("not json", BodyError::NotJson(String::new())),
            ("[1]", BodyError::NotJson(String::new())),
            (
                r#"{"target":"i-0123abcd"}"#,
                BodyError::NotJson(String::new()),
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","user":"root"}"#,
                BodyError::NotJson(String::new()),
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","caller_arn":"arn:aws:sts::1:x"}"#,
                BodyError::NotJson(String::new()),
            ),
            (
                r#"{"target":"i-0123abcd","target":"i-0123abce","region":"eu-west-1"}"#,
                BodyError::NotJson(String::new()),
            ),
            (
                r#"{"target":1,"region":"eu-west-1"}"#,
                BodyError::NotJson(String::new()),
            ),
            (
                r#"{"target":"i-xyz","region":"eu-west-1"}"#,
                BodyError::Target,
            ),
            (
                r#"{"target":"i-0123abcd","region":"mars-1"}"#,
                BodyError::Region,
            ),
            (
                r#"{"target":"i-0123abcd","region":"cn-north-1"}"#,
                BodyError::RegionPartition("aws".into()),
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","reason":""}"#,
                BodyError::Reason,
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"a\nb"}"#,
                BodyError::Reason,
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"fix\u202Edesrever"}"#,
                BodyError::Reason,
            ),
            (
                r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"see wss://x/?token=abcdefghijkl"}"#,
                BodyError::ReasonToken,
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err();
            match (expected, &err) {
                (BodyError::NotJson(_), BodyError::NotJson(_)) => {}
                _ => assert_eq!(&err, expected, "{text}"),
            }
        }
        let long = format!(
            r#"{{"target":"i-0123abcd","region":"eu-west-1","reason":"{}"}}"#,
            "é".repeat(257)
        );
        assert_eq!(parse(&long).unwrap_err(), BodyError::Reason);
        let just_fits = format!(
            r#"{{"target":"i-0123abcd","region":"eu-west-1","reason":"{}"}}"#,
            "é".repeat(256)
        );
        assert!(parse(&just_fits).is_ok());
    }

    #[test]
    fn size_limits_before_and_after_base64() {
        let padding = " ".repeat(MAX_BODY_BYTES);
        let huge = format!(r#"{{"target":"i-0123abcd","region":"eu-west-1"}}{padding}"#);
        assert_eq!(parse(&huge).unwrap_err(), BodyError::TooLarge);
        let mut encoded = body(&base64::engine::general_purpose::STANDARD.encode(&huge));
        encoded.is_base64_encoded = true;
        assert_eq!(
            parse_body(&encoded, "aws").unwrap_err().0,
            BodyError::TooLarge
        );
        let mut not_base64 = body("{\"target\"");
        not_base64.is_base64_encoded = true;
        assert_eq!(
            parse_body(&not_base64, "aws").unwrap_err().0,
            BodyError::NotBase64
        );
    }

    #[test]
    fn valid_fields_of_a_refused_body_are_kept_for_the_log() {
        let (err, fields) = parse_body(
            &body(r#"{"target":"i-0123abcd","region":"eu-west-1","reason":"a\u0007"}"#),
            "aws",
        )
        .unwrap_err();
        assert_eq!(err, BodyError::Reason);
        assert_eq!(fields.target.as_deref(), Some("i-0123abcd"));
        assert_eq!(fields.region.as_deref(), Some("eu-west-1"));
        assert_eq!(fields.reason, None);
        let (_, fields) = parse_body(
            &body(r#"{"target":"i-0123abcd\"x","region":"eu-west-1"}"#),
            "aws",
        )
        .unwrap_err();
        assert_eq!(fields.target, None);
    }
}
