//! The SSM session event: one CloudTrail record of `ssm.amazonaws.com`
//! StartSession, ResumeSession or TerminateSession, reduced to what correlation needs.
//!
//! Reading is lenient where real records vary (docs/contracts.md "CloudTrail input"): any
//! eventVersion 1.x, `documentName` absent, `responseElements` null on failure,
//! `recipientAccountId` absent (older records, EventBridge copies), a flattened
//! `userIdentity.sessionIssuerArn` (filtered exports), and the `responseElements` of a
//! successful StartSession nulled or dropped by a pipeline or sanitiser (the start is
//! still evidence of a session: an event without a session id, see
//! [`SessionEvent::response_withheld`]). It is strict where a wrong value would corrupt
//! the dataset: the id, the time, a session id that is there, and the JSON type of every
//! field it reads.
//!
//! The in-band attribution (docs/contracts.md "CloudTrail input"), each optional:
//! `userIdentity.sessionContext.sourceIdentity`, `userIdentity.onBehalfOf`
//! (`userId`, `identityStoreArn`) and `requestParameters.reason`. Absent, null or an
//! empty string is no value; another JSON type is a reject naming the field.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::{EpochMillis, parse_rfc3339_millis};

pub const SSM_EVENT_SOURCE: &str = "ssm.amazonaws.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SessionEventName {
    StartSession,
    ResumeSession,
    TerminateSession,
}

impl SessionEventName {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "StartSession" => Some(SessionEventName::StartSession),
            "ResumeSession" => Some(SessionEventName::ResumeSession),
            "TerminateSession" => Some(SessionEventName::TerminateSession),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SessionEventName::StartSession => "StartSession",
            SessionEventName::ResumeSession => "ResumeSession",
            SessionEventName::TerminateSession => "TerminateSession",
        }
    }
}

/// One SSM session event. `None` means the record did not carry the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// CloudTrail `eventID`: records with the same id are one record.
    pub event_id: String,
    pub event_name: SessionEventName,
    pub event_time: EpochMillis,
    pub event_version: Option<String>,
    /// `recipientAccountId`, else the EventBridge envelope's `account`, else
    /// `userIdentity.accountId`.
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// CloudTrail `requestID` (the SSM API request id).
    pub request_id: Option<String>,
    pub principal_type: Option<String>,
    /// `userIdentity.arn`.
    pub principal_arn: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.arn` (role ARN, path included).
    pub issuer_arn: Option<String>,
    /// `userIdentity.sessionContext.sessionIssuer.userName` (the role name).
    pub issuer_name: Option<String>,
    /// StartSession: `responseElements.sessionId` (None when failed, or when the
    /// record's `responseElements` was nulled: see [`SessionEvent::response_withheld`]);
    /// Resume/Terminate: the session acted on.
    pub session_id: Option<String>,
    pub target: Option<String>,
    /// `requestParameters.documentName` as recorded (absent: the default document).
    pub document_name: Option<String>,
    pub error_code: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// `userIdentity.sessionContext.sourceIdentity`: the source identity the caller's
    /// role session was assumed with (sessiontrail's broker sets the Identity Center
    /// user name). Fields below are left out of the state when absent, so events read
    /// before they existed are written as they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// `userIdentity.onBehalfOf.userId`: an IAM Identity Center user id (a UUID, not a
    /// user name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of_user_id: Option<String>,
    /// `userIdentity.onBehalfOf.identityStoreArn`: the identity store of that user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of_identity_store_arn: Option<String>,
    /// `requestParameters.reason` (StartSession's optional reason, 1 to 256 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the record was read: the chain of custody of `sessiontrail evidence`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RecordSource>,
}

/// The place a CloudTrail record was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSource {
    /// The file as named when read: a local path, or the object's `s3://bucket/key`.
    pub file: String,
    /// The record's first byte in the file's uncompressed content (of its UTF-8
    /// transcoding for a UTF-16 file).
    pub byte_offset: u64,
    /// Its 1-based line.
    pub line: u64,
}

impl SessionEvent {
    /// The call failed (`errorCode`): no session was started.
    pub fn failed(&self) -> bool {
        self.error_code.is_some()
    }

    /// A successful StartSession whose answer the record does not carry: its
    /// `responseElements` is null, absent or `{}` (a pipeline or sanitiser removed it),
    /// so the session id is unknown. Not failed: a session was started.
    pub fn response_withheld(&self) -> bool {
        self.event_name == SessionEventName::StartSession
            && self.error_code.is_none()
            && self.session_id.is_none()
    }
}

/// Is this parsed record an SSM session event? (Athena has StartSession too: the
/// source decides.)
pub fn is_session_record(record: &Map<String, Value>) -> bool {
    record.get("eventSource").and_then(Value::as_str) == Some(SSM_EVENT_SOURCE)
        && record
            .get("eventName")
            .and_then(Value::as_str)
            .and_then(SessionEventName::parse)
            .is_some()
}

/// Builds a [`SessionEvent`] from a CloudTrail record already known to be one
/// ([`is_session_record`]). `envelope_account` is the EventBridge envelope's account.
/// The error names the field at fault and never quotes a value.
pub fn session_event_from_record(
    record: &Map<String, Value>,
    envelope_account: Option<&str>,
) -> Result<SessionEvent, String> {
    let event_name = opt_str(record, "eventName")?
        .and_then(SessionEventName::parse)
        .ok_or("eventName is not an SSM session event")?;
    let event_id = required_str(record, "eventID")?.to_string();
    let event_time_text = required_str(record, "eventTime")?;
    let event_time =
        parse_rfc3339_millis(event_time_text).ok_or("eventTime is not an RFC 3339 timestamp")?;
    if let Some(version) = opt_str(record, "eventVersion")? {
        check_event_version(version)?;
    }

    let identity = opt_object(record, "userIdentity")?;
    let mut in_band = InBand::default();
    let (principal_type, principal_arn, identity_account, issuer_arn, issuer_name) = match identity
    {
        None => (None, None, None, None, None),
        Some(identity) => {
            let context =
                opt_object(identity, "sessionContext").map_err(|e| format!("userIdentity.{e}"))?;
            let issuer = match context {
                Some(context) => opt_object(context, "sessionIssuer")
                    .map_err(|e| format!("userIdentity.sessionContext.{e}"))?,
                None => None,
            };
            if let Some(context) = context {
                in_band.source_identity = non_empty(
                    opt_str(context, "sourceIdentity")
                        .map_err(|e| format!("userIdentity.sessionContext.{e}"))?,
                );
            }
            if let Some(on_behalf_of) =
                opt_object(identity, "onBehalfOf").map_err(|e| format!("userIdentity.{e}"))?
            {
                let at = |e: String| format!("userIdentity.onBehalfOf.{e}");
                in_band.user_id = non_empty(opt_str(on_behalf_of, "userId").map_err(at)?);
                in_band.identity_store_arn =
                    non_empty(opt_str(on_behalf_of, "identityStoreArn").map_err(at)?);
            }
            let (issuer_arn, issuer_name) = match issuer {
                Some(issuer) => (
                    opt_str(issuer, "arn")
                        .map_err(|e| format!("userIdentity.sessionContext.sessionIssuer.{e}"))?,
                    opt_str(issuer, "userName")
                        .map_err(|e| format!("userIdentity.sessionContext.sessionIssuer.{e}"))?,
                ),
                // Filtered exports flatten the issuer to `sessionIssuerArn`.
                None => (
                    opt_str(identity, "sessionIssuerArn")
                        .map_err(|e| format!("userIdentity.{e}"))?,
                    None,
                ),
            };
            let issuer_name = issuer_name.or_else(|| {
                issuer_arn
                    .and_then(crate::arn::Arn::parse)
                    .and_then(|arn| arn.role_name())
            });
            (
                opt_str(identity, "type").map_err(|e| format!("userIdentity.{e}"))?,
                opt_str(identity, "arn").map_err(|e| format!("userIdentity.{e}"))?,
                opt_str(identity, "accountId").map_err(|e| format!("userIdentity.{e}"))?,
                issuer_arn,
                issuer_name,
            )
        }
    };

    let request = opt_object(record, "requestParameters")?;
    let response = opt_object(record, "responseElements")?;
    let error_code = opt_str(record, "errorCode")?.map(str::to_string);
    let session_id = match event_name {
        SessionEventName::StartSession => field(response, "responseElements", "sessionId")?,
        _ => field(request, "requestParameters", "sessionId")?.or(field(
            response,
            "responseElements",
            "sessionId",
        )?),
    };
    if session_id.is_none() && error_code.is_none() {
        match event_name {
            // Nulled or dropped by a pipeline: a start whose answer is withheld.
            SessionEventName::StartSession if response.is_none_or(Map::is_empty) => {}
            SessionEventName::StartSession => {
                return Err(
                    "StartSession without errorCode has a responseElements without sessionId"
                        .to_string(),
                );
            }
            other => return Err(format!("{} has no sessionId", other.as_str())),
        }
    }
    if let Some(id) = session_id
        && (id.is_empty() || id.len() > 96)
    {
        return Err("sessionId is not 1 to 96 characters long".to_string());
    }

    let account_id = opt_str(record, "recipientAccountId")?
        .or(envelope_account)
        .or(identity_account);
    Ok(SessionEvent {
        event_id,
        event_name,
        event_time,
        event_version: opt_str(record, "eventVersion")?.map(str::to_string),
        account_id: account_id.map(str::to_string),
        region: opt_str(record, "awsRegion")?.map(str::to_string),
        request_id: opt_str(record, "requestID")?.map(str::to_string),
        principal_type: principal_type.map(str::to_string),
        principal_arn: principal_arn.map(str::to_string),
        issuer_arn: issuer_arn.map(str::to_string),
        issuer_name: issuer_name.map(str::to_string),
        session_id: session_id.map(str::to_string),
        target: field(request, "requestParameters", "target")?.map(str::to_string),
        document_name: field(request, "requestParameters", "documentName")?.map(str::to_string),
        error_code,
        source_ip: opt_str(record, "sourceIPAddress")?.map(str::to_string),
        user_agent: opt_str(record, "userAgent")?.map(str::to_string),
        source_identity: in_band.source_identity.map(str::to_string),
        on_behalf_of_user_id: in_band.user_id.map(str::to_string),
        on_behalf_of_identity_store_arn: in_band.identity_store_arn.map(str::to_string),
        reason: non_empty(field(request, "requestParameters", "reason")?).map(str::to_string),
        source: None,
    })
}

/// The in-band attribution of `userIdentity`, as read.
#[derive(Default)]
struct InBand<'a> {
    source_identity: Option<&'a str>,
    user_id: Option<&'a str>,
    identity_store_arn: Option<&'a str>,
}

/// An empty string names nothing: no value.
fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !text.is_empty())
}

/// `major.minor` with major 1; the minor is compared as an integer (1.10 > 1.9) and any
/// minor is accepted (unknown fields are ignored, as AWS advises).
fn check_event_version(version: &str) -> Result<(), String> {
    let (major, minor) = version
        .split_once('.')
        .ok_or("eventVersion is not of the form major.minor")?;
    if major != "1" {
        return Err("eventVersion has a major version other than 1".to_string());
    }
    minor
        .parse::<u32>()
        .map_err(|_| "eventVersion minor is not a number".to_string())?;
    Ok(())
}

/// A string field of an optional object, errors prefixed with the object's name.
fn field<'a>(
    object: Option<&'a Map<String, Value>>,
    parent: &str,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match object {
        None => Ok(None),
        Some(object) => opt_str(object, key).map_err(|e| format!("{parent}.{e}")),
    }
}

fn opt_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        Some(other) => Err(format!(
            "{key} is {} where a string was expected",
            type_name(other)
        )),
    }
}

fn required_str<'a>(object: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match opt_str(object, key)? {
        Some(text) if !text.is_empty() => Ok(text),
        Some(_) => Err(format!("{key} is empty")),
        None => Err(format!("{key} is missing")),
    }
}

fn opt_object<'a>(
    object: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(other) => Err(format!(
            "{key} is {} where an object was expected",
            type_name(other)
        )),
    }
}

/// The JSON type of a value, for messages that must not quote the value.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(record: Value) -> Result<SessionEvent, String> {
        let record = record.as_object().unwrap().clone();
        assert!(is_session_record(&record));
        session_event_from_record(&record, None)
    }

    fn start() -> Value {
        json!({
            "eventVersion": "1.10", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
            "eventTime": "2025-03-04T09:15:02Z", "awsRegion": "eu-west-1", "eventID": "e1",
            "requestID": "r1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/broker/fn",
                "accountId": "111122223333",
                "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111122223333:role/broker", "userName": "broker"},
                    "attributes": {"creationDate": "20131102T010628Z", "mfaAuthenticated": "false"}}},
            "requestParameters": {"target": "i-0abc"},
            "responseElements": {"sessionId": "fn-0123456789abcdef0", "tokenValue": "Value hidden due to security reasons."}
        })
    }

    #[test]
    fn a_start_session_without_document_name() {
        let e = event(start()).unwrap();
        assert_eq!(e.session_id.as_deref(), Some("fn-0123456789abcdef0"));
        assert_eq!(e.document_name, None);
        assert_eq!(e.issuer_name.as_deref(), Some("broker"));
        assert_eq!(e.account_id.as_deref(), Some("111122223333"));
        assert!(!e.failed());
    }

    #[test]
    fn failures_have_no_session_and_null_response() {
        let mut r = start();
        r["errorCode"] = json!("AccessDenied");
        r["responseElements"] = Value::Null;
        let e = event(r).unwrap();
        assert!(e.failed());
        assert_eq!(e.session_id, None);
    }

    #[test]
    fn a_start_whose_response_was_nulled_is_an_event_without_session_id() {
        for withheld in [Some(Value::Null), Some(json!({})), None] {
            let mut r = start();
            match &withheld {
                Some(value) => r["responseElements"] = value.clone(),
                None => {
                    r.as_object_mut().unwrap().remove("responseElements");
                }
            }
            let e = event(r).unwrap();
            assert_eq!(e.session_id, None, "{withheld:?}");
            assert_eq!(e.error_code, None);
            assert!(!e.failed() && e.response_withheld());
            assert_eq!(e.target.as_deref(), Some("i-0abc"));
            assert_eq!(e.request_id.as_deref(), Some("r1"));
        }
        // A Terminate without any session id still tells nothing: a reject.
        let mut r = start();
        r["eventName"] = json!("TerminateSession");
        r["responseElements"] = Value::Null;
        assert_eq!(event(r).unwrap_err(), "TerminateSession has no sessionId");
        let e = event(start()).unwrap();
        assert!(!e.response_withheld());
    }

    #[test]
    fn versions_compare_minor_as_integer_and_reject_major_2() {
        for v in ["1.0", "1.05", "1.11", "1.123"] {
            let mut r = start();
            r["eventVersion"] = json!(v);
            assert!(event(r).is_ok(), "{v}");
        }
        let mut r = start();
        r["eventVersion"] = json!("2.0");
        assert!(event(r).unwrap_err().contains("major"));
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field_not_the_value() {
        let mut r = start();
        r["userIdentity"]["arn"] = json!(42);
        let message = event(r).unwrap_err();
        assert_eq!(
            message,
            "userIdentity.arn is a number where a string was expected"
        );
        let mut r = start();
        r.as_object_mut().unwrap().remove("eventID");
        assert_eq!(event(r).unwrap_err(), "eventID is missing");
        let mut r = start();
        r["responseElements"] = json!({"tokenValue": "Value hidden due to security reasons."});
        assert_eq!(
            event(r).unwrap_err(),
            "StartSession without errorCode has a responseElements without sessionId"
        );
        let mut r = start();
        r["eventTime"] = json!("secret-looking-value");
        let message = event(r).unwrap_err();
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn flattened_issuer_arn_gives_role_name() {
        let mut r = start();
        r["userIdentity"] = json!({"type": "AssumedRole",
            "sessionIssuerArn": "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_X_1"});
        let e = event(r).unwrap();
        assert_eq!(e.issuer_name.as_deref(), Some("AWSReservedSSO_X_1"));
    }

    /// A StartSession of sessiontrail's broker as AWS records it: the session-starter
    /// role assumed with `SourceIdentity` (in `sessionContext`, beside `sessionIssuer`
    /// and `attributes`, as CloudTrail's userIdentity reference shows it) and
    /// RoleSessionName derived from the user, StartSession with a reason.
    fn broker_start() -> Value {
        json!({
            "eventVersion": "1.11", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
            "eventTime": "2026-07-15T12:45:55Z", "awsRegion": "eu-west-1", "eventID": "e2",
            "requestID": "r2", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole",
                "principalId": "AROAEXAMPLESTARTER01:alice@example.com",
                "arn": "arn:aws:sts::111122223333:assumed-role/sessiontrail-session-starter/alice@example.com",
                "accountId": "111122223333", "accessKeyId": "ASIAXXXXXXXXXXXXXXXX",
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLESTARTER01",
                        "arn": "arn:aws:iam::111122223333:role/sessiontrail-session-starter",
                        "accountId": "111122223333", "userName": "sessiontrail-session-starter"},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": "2026-07-15T12:45:54Z", "mfaAuthenticated": "false"},
                    "sourceIdentity": "alice@example.com"}},
            "requestParameters": {"target": "i-0123456789abcdef0", "documentName": "SSMRunAs-Admin-Session",
                "reason": "OPS-42 disk full"},
            "responseElements": {"sessionId": "alice@example.com-z5ben3ohh9prb46i23lrren3xi",
                "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        })
    }

    #[test]
    fn source_identity_and_reason_of_a_broker_start() {
        let e = event(broker_start()).unwrap();
        assert_eq!(e.source_identity.as_deref(), Some("alice@example.com"));
        assert_eq!(e.reason.as_deref(), Some("OPS-42 disk full"));
        assert_eq!(e.on_behalf_of_user_id, None);
        assert_eq!(e.on_behalf_of_identity_store_arn, None);
        assert_eq!(
            e.issuer_name.as_deref(),
            Some("sessiontrail-session-starter")
        );
    }

    #[test]
    fn on_behalf_of_of_an_identity_center_start() {
        // userIdentity of the first event of the lookup-events sample in
        // ../shared/corpus/real (tf4-phase3-lookup-events-bastion-startsessions-redacted.json).
        let mut r = start();
        r["userIdentity"] = json!({"type":"AssumedRole","principalId":"AROAXOKZSY7W74IQD5ZRM:hoang.nguyenduy",
            "arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882/hoang.nguyenduy",
            "accountId":"123456789012","accessKeyId":"ASIAXXXXXXXXXXXXXXXX",
            "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAXOKZSY7W74IQD5ZRM",
                "arn":"arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882",
                "accountId":"123456789012","userName":"AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882"},
                "attributes":{"creationDate":"2026-07-15T12:41:55Z","mfaAuthenticated":"false"}},
            "onBehalfOf":{"userId":"d4d8e488-b081-7057-982d-5fbc2662f519",
                "identityStoreArn":"arn:aws:identitystore::123456789012:identitystore/d-9066740a19"}});
        let e = event(r).unwrap();
        assert_eq!(
            e.on_behalf_of_user_id.as_deref(),
            Some("d4d8e488-b081-7057-982d-5fbc2662f519")
        );
        assert_eq!(
            e.on_behalf_of_identity_store_arn.as_deref(),
            Some("arn:aws:identitystore::123456789012:identitystore/d-9066740a19")
        );
        assert_eq!(e.source_identity, None);
        assert_eq!(e.reason, None);
    }

    #[test]
    fn in_band_fields_absent_null_or_empty_are_no_value() {
        let none = |e: &SessionEvent| {
            [
                e.source_identity.clone(),
                e.on_behalf_of_user_id.clone(),
                e.on_behalf_of_identity_store_arn.clone(),
                e.reason.clone(),
            ]
        };
        let nothing: [Option<String>; 4] = [None, None, None, None];
        assert_eq!(none(&event(start()).unwrap()), nothing);
        for value in [Value::Null, json!("")] {
            let mut r = broker_start();
            r["userIdentity"]["sessionContext"]["sourceIdentity"] = value.clone();
            r["requestParameters"]["reason"] = value.clone();
            r["userIdentity"]["onBehalfOf"] = json!({"userId": value, "identityStoreArn": value});
            assert_eq!(none(&event(r).unwrap()), nothing, "{value:?}");
        }
        let mut r = broker_start();
        r["userIdentity"]["onBehalfOf"] = Value::Null;
        r["userIdentity"]["sessionContext"] = Value::Null;
        assert_eq!(event(r).unwrap().source_identity, None);
    }

    #[test]
    fn in_band_fields_of_the_wrong_type_are_rejects_naming_the_field() {
        type Break = fn(&mut Value);
        let cases: [(&str, Break, &str); 5] = [
            (
                "sourceIdentity",
                |r| r["userIdentity"]["sessionContext"]["sourceIdentity"] = json!(42),
                "userIdentity.sessionContext.sourceIdentity is a number where a string was expected",
            ),
            (
                "onBehalfOf",
                |r| r["userIdentity"]["onBehalfOf"] = json!("d-9066740a19"),
                "userIdentity.onBehalfOf is a string where an object was expected",
            ),
            (
                "userId",
                |r| r["userIdentity"]["onBehalfOf"] = json!({"userId": ["alice-secret"]}),
                "userIdentity.onBehalfOf.userId is an array where a string was expected",
            ),
            (
                "identityStoreArn",
                |r| {
                    r["userIdentity"]["onBehalfOf"] =
                        json!({"userId": "u", "identityStoreArn": true})
                },
                "userIdentity.onBehalfOf.identityStoreArn is a boolean where a string was expected",
            ),
            (
                "reason",
                |r| r["requestParameters"]["reason"] = json!({"text": "alice-secret"}),
                "requestParameters.reason is an object where a string was expected",
            ),
        ];
        for (name, break_it, message) in cases {
            let mut r = broker_start();
            break_it(&mut r);
            assert_eq!(event(r).unwrap_err(), message, "{name}");
        }
    }

    #[test]
    fn the_state_form_of_an_event_without_in_band_fields_is_unchanged() {
        // Events are kept in the state as JSON: one read before these fields existed
        // has none of their keys, and is written back the same.
        let e = event(start()).unwrap();
        let text = serde_json::to_value(&e).unwrap();
        for key in [
            "source_identity",
            "on_behalf_of_user_id",
            "on_behalf_of_identity_store_arn",
            "reason",
        ] {
            assert!(text.get(key).is_none(), "{key}");
        }
        assert_eq!(serde_json::from_value::<SessionEvent>(text).unwrap(), e);
        let with = event(broker_start()).unwrap();
        let text = serde_json::to_value(&with).unwrap();
        assert_eq!(text["source_identity"], "alice@example.com");
        assert_eq!(serde_json::from_value::<SessionEvent>(text).unwrap(), with);
    }
}
