//! CloudTrail records: the common envelope of every record, and the ssm
//! StartSession / ResumeSession / TerminateSession events shaped like the real samples.

use crate::clock::{self, Millis};
use crate::json::{J, Obj};
use crate::prng::Prng;
use crate::world::{Actor, Identity};

/// What CloudTrail writes instead of a session token.
pub const TOKEN_HIDDEN: &str = "Value hidden due to security reasons.";
/// `eventSource` of Systems Manager.
pub const SSM_SOURCE: &str = "ssm.amazonaws.com";

const EVENT_VERSIONS: [&str; 4] = ["1.08", "1.09", "1.10", "1.11"];
const EVENT_VERSION_WEIGHTS: [u32; 4] = [2, 4, 3, 2];

/// One API call to record.
#[derive(Clone, Debug)]
pub struct Call<'a> {
    pub at: Millis,
    pub region: &'a str,
    /// `recipientAccountId`.
    pub account: &'a str,
    pub actor: &'a Actor,
    /// `eventSource`, e.g. `ssm.amazonaws.com`.
    pub source: &'a str,
    pub name: &'a str,
    pub read_only: bool,
    pub request: J,
    pub response: J,
    /// `errorCode` and `errorMessage`.
    pub error: Option<(String, String)>,
    pub resources: Option<J>,
    pub additional: Option<J>,
    /// `tlsDetails.clientProvidedHostHeader`; derived from the source when `None`.
    pub host: Option<String>,
    pub request_id: String,
    pub event_id: String,
}

impl<'a> Call<'a> {
    /// A call with fresh request and event ids, no parameters and no error.
    pub fn new(
        prng: &mut Prng,
        at: Millis,
        (region, account): (&'a str, &'a str),
        actor: &'a Actor,
        (source, name): (&'a str, &'a str),
        read_only: bool,
    ) -> Self {
        Call {
            at,
            region,
            account,
            actor,
            source,
            name,
            read_only,
            request: J::Null,
            response: J::Null,
            error: None,
            resources: None,
            additional: None,
            host: None,
            request_id: prng.uuid(),
            event_id: prng.uuid(),
        }
    }
}

fn default_host(source: &str, region: &str) -> String {
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    match service {
        "iam" => "iam.amazonaws.com".to_owned(),
        "monitoring" => format!("monitoring.{region}.amazonaws.com"),
        _ => format!("{service}.{region}.amazonaws.com"),
    }
}

/// The CloudTrail record of `call`, keys in CloudTrail's order.
pub fn record(call: Call<'_>, prng: &mut Prng) -> J {
    let version = EVENT_VERSIONS[prng.weighted(&EVENT_VERSION_WEIGHTS)];
    let service = matches!(call.actor.identity, Identity::Service { .. });
    let (source_ip, user_agent) = match &call.actor.identity {
        Identity::Service { invoked_by } => (invoked_by.clone(), invoked_by.clone()),
        _ => (call.actor.source_ip.clone(), call.actor.user_agent.clone()),
    };
    let mut obj = Obj::new()
        .with("eventVersion", version)
        .with("userIdentity", call.actor.identity.to_json(call.at, prng))
        .with("eventTime", clock::event_time(call.at))
        .with("eventSource", call.source)
        .with("eventName", call.name)
        .with("awsRegion", call.region)
        .with("sourceIPAddress", source_ip)
        .with("userAgent", user_agent);
    if let Some((code, message)) = call.error {
        obj.push("errorCode", code);
        obj.push("errorMessage", message);
    }
    obj = obj
        .with("requestParameters", call.request)
        .with("responseElements", call.response)
        .maybe("additionalEventData", call.additional)
        .with("requestID", call.request_id)
        .with("eventID", call.event_id)
        .with("readOnly", call.read_only)
        .maybe("resources", call.resources)
        .with("eventType", "AwsApiCall")
        .with("managementEvent", true)
        .with("recipientAccountId", call.account)
        .with("eventCategory", "Management");
    if !service {
        let host = call
            .host
            .unwrap_or_else(|| default_host(call.source, call.region));
        let (tls, suite) = if prng.chance(0.8) {
            ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
        } else {
            ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
        };
        obj.push(
            "tlsDetails",
            Obj::new()
                .with("tlsVersion", tls)
                .with("cipherSuite", suite)
                .with("clientProvidedHostHeader", host),
        );
    }
    if call.actor.console {
        obj.push("sessionCredentialFromConsole", "true");
    }
    obj.into()
}

/// `wss://ssmmessages.<region>.amazonaws.com/v1/data-channel/<id>?role=publish_subscribe`.
pub fn stream_url(region: &str, session_id: &str) -> String {
    format!(
        "wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe"
    )
}

/// The parameters of a StartSession call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartRequest {
    pub target: String,
    /// `None` when the default document was used: the key is left out.
    pub document: Option<String>,
    /// `parameters` (name -> list of values).
    pub parameters: Vec<(String, Vec<String>)>,
    pub reason: Option<String>,
}

impl StartRequest {
    /// `requestParameters` of StartSession.
    pub fn to_json(&self) -> J {
        let mut obj = Obj::new()
            .with("target", &self.target)
            .maybe("documentName", self.document.as_deref());
        if !self.parameters.is_empty() {
            let mut params = Obj::new();
            for (name, values) in &self.parameters {
                params.push(name.clone(), crate::json::strings(values.iter().cloned()));
            }
            obj.push("parameters", params);
        }
        obj.maybe("reason", self.reason.as_deref()).into()
    }
}

/// The ssm calls on a started session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionCall {
    Resume,
    Terminate,
}

impl SessionCall {
    pub fn name(self) -> &'static str {
        match self {
            SessionCall::Resume => "ResumeSession",
            SessionCall::Terminate => "TerminateSession",
        }
    }
}

/// `responseElements` of a successful StartSession or ResumeSession.
pub fn session_response(prng: &mut Prng, region: &str, session_id: &str) -> J {
    let mut url = stream_url(region, session_id);
    if prng.chance(0.1) {
        url.push_str(&format!("&cell-number={}", prng.alnum(40)));
    }
    Obj::new()
        .with("sessionId", session_id)
        .with("tokenValue", TOKEN_HIDDEN)
        .with("streamUrl", url)
        .into()
}

/// `requestParameters` of ResumeSession / TerminateSession.
pub fn session_id_params(session_id: &str) -> J {
    Obj::new().with("sessionId", session_id).into()
}

/// The `errorMessage` SSM gives a caller not allowed to start a session on `target`.
pub fn access_denied_message(
    caller_arn: &str,
    action: &str,
    resource_arn: &str,
) -> (String, String) {
    (
        "AccessDenied".to_owned(),
        format!(
            "User: {caller_arn} is not authorized to perform: ssm:{action} on resource: {resource_arn} because no identity-based policy allows the ssm:{action} action"
        ),
    )
}

/// The `errorMessage` of StartSession on a target whose agent is offline.
pub fn target_not_connected(target: &str) -> (String, String) {
    (
        "TargetNotConnected".to_owned(),
        format!("{target} is not connected."),
    )
}

/// ARN of a managed node (`arn:aws:ec2:...:instance/i-...` or `...:ssm:...:managed-instance/mi-...`).
pub fn target_arn(region: &str, account: &str, target: &str) -> String {
    if target.starts_with("mi-") {
        format!("arn:aws:ssm:{region}:{account}:managed-instance/{target}")
    } else {
        format!("arn:aws:ec2:{region}:{account}:instance/{target}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::RoleSession;

    #[test]
    fn start_session_record_has_the_sample_shape() {
        let mut prng = Prng::new(1);
        let actor = Actor {
            identity: Identity::Role(RoleSession {
                account: "111122223333".into(),
                role_name: "ssm-session-broker".into(),
                path: "/".into(),
                role_id: "AROAEXAMPLE".into(),
                session_name: "session-broker".into(),
            }),
            source_ip: "203.0.113.9".into(),
            user_agent: "ua".into(),
            console: false,
        };
        let mut call = Call::new(
            &mut prng,
            0,
            ("eu-west-1", "111122223333"),
            &actor,
            (SSM_SOURCE, "StartSession"),
            false,
        );
        call.request = StartRequest {
            target: "i-0123".into(),
            ..StartRequest::default()
        }
        .to_json();
        call.response = session_response(&mut prng, "eu-west-1", "session-broker-0123");
        let text = record(call, &mut prng).to_json();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value["requestParameters"],
            serde_json::json!({"target": "i-0123"})
        );
        assert_eq!(value["responseElements"]["tokenValue"], TOKEN_HIDDEN);
        assert_eq!(
            value["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::111122223333:role/ssm-session-broker"
        );
        assert_eq!(
            value["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
            "false"
        );
        assert_eq!(value["readOnly"], false);
        assert_eq!(value["managementEvent"], true);
        assert!(text.starts_with("{\"eventVersion\":\"1."), "{text}");
    }
}
