//! Starting the session: assume the session-starter role in the caller's account with
//! the user's name as `SourceIdentity`, then SSM `StartSession` with those credentials
//! (docs/contracts.md "Broker API").
//!
//! The AWS calls sit behind [`SessionStarter`]: [`AwsSessionStarter`] on aws-sdk-sts
//! and aws-sdk-ssm (the SDK's standard retry mode: throttling and transient errors are
//! retried, 3 attempts in all, before they are answered), [`FakeStarter`] in memory for
//! tests. The real starter keeps each user's assumed credentials (15 minutes from STS)
//! for their next connects while 5 minutes of their life are left: one AssumeRole per
//! user every 10 minutes at most, not one per session.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ssm::error::ProvideErrorMetadata;
use aws_sdk_ssm::operation::RequestId;

use crate::caller::is_sts_name_byte;

/// A value that must never be logged or printed: `Debug` shows only that it is there.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// One session to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// The session-starter role in the caller's account.
    pub starter_role_arn: String,
    /// The user's name, as the caller's ARN carries it.
    pub source_identity: String,
    pub role_session_name: String,
    pub region: String,
    pub target: String,
    pub document_name: String,
    pub reason: Option<String>,
}

/// StartSession's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedSession {
    pub session_id: String,
    pub stream_url: Secret,
    pub token_value: Secret,
    /// SSM's request id (CloudTrail's `requestID` of the StartSession record).
    pub ssm_request_id: Option<String>,
}

/// Which call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    AssumeRole,
    StartSession,
}

impl Call {
    pub fn as_str(self) -> &'static str {
        match self {
            Call::AssumeRole => "sts:AssumeRole",
            Call::StartSession => "ssm:StartSession",
        }
    }
}

/// A failed call, with the AWS error code (`TargetNotConnected`, `InvalidDocument`,
/// `AccessDeniedException`, `ThrottlingException`...) or one of the broker's own for a
/// failure without one (`Timeout`, `NetworkError`, `InvalidResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub call: Call,
    pub code: String,
    pub message: String,
    /// The failed request's id at the service, when it answered.
    pub request_id: Option<String>,
    /// A failure worth retrying later (throttling, a timeout, the service unavailable).
    pub transient: bool,
}

/// The two AWS calls that start a session.
pub trait SessionStarter: Send + Sync {
    fn start(
        &self,
        request: &StartRequest,
    ) -> impl Future<Output = Result<StartedSession, StartError>> + Send;
}

/// The session-starter role's ARN in an account: `role` is `[path/]name`.
pub fn starter_role_arn(partition: &str, account_id: &str, role: &str) -> String {
    format!(
        "arn:{partition}:iam::{account_id}:role/{}",
        role.trim_matches('/')
    )
}

/// Whether a configured starter role (`[path/]name`) is a valid IAM role name and path.
pub fn is_starter_role(role: &str) -> bool {
    let role = role.trim_matches('/');
    let (path, name) = role.rsplit_once('/').unwrap_or(("", role));
    (1..=64).contains(&name.len())
        && name.bytes().all(is_sts_name_byte)
        && path.len() <= 510
        && path
            .bytes()
            .all(|b| b == b'/' || (0x21..=0x7e).contains(&b))
}

/// The `RoleSessionName` for a user: the name with every character outside
/// `[\w+=,.@-]` replaced by `-`, cut to 64 characters, and at least 2 (padded with
/// `-`), so the session-starter role's CloudTrail records name the user.
pub fn role_session_name(user: &str) -> String {
    let mut name: String = user
        .chars()
        .map(|c| {
            if c.is_ascii() && is_sts_name_byte(c as u8) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

/// How long assumed credentials are asked for: the least STS allows.
const ASSUMED_SECONDS: i32 = 900;

/// Assumed credentials are reused while at least this much of their life is left, so a
/// session is never started on credentials about to expire.
const REUSE_MARGIN: Duration = Duration::from_secs(300);

/// Credentials cached per starter role, source identity and role session name: a
/// user's next connect within a few minutes skips AssumeRole. Each entry belongs to one
/// user (its `SourceIdentity`), so a cached key never starts another user's session.
type CacheKey = (String, String, String);

/// The real calls, on the SDK clients built from the Lambda's configuration.
pub struct AwsSessionStarter {
    sts: aws_sdk_sts::Client,
    config: aws_config::SdkConfig,
    cache: Mutex<HashMap<CacheKey, (aws_sdk_ssm::config::Credentials, Instant)>>,
}

impl AwsSessionStarter {
    /// `config` gives the broker's own credentials (its execution role), HTTP client
    /// and retry settings; STS is called in the broker's region.
    pub fn new(config: aws_config::SdkConfig) -> Self {
        AwsSessionStarter {
            sts: aws_sdk_sts::Client::new(&config),
            config,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn ssm_client(
        &self,
        credentials: aws_sdk_ssm::config::Credentials,
        region: &str,
    ) -> aws_sdk_ssm::Client {
        let config = aws_sdk_ssm::config::Builder::from(&self.config)
            .credentials_provider(credentials)
            .region(aws_sdk_ssm::config::Region::new(region.to_string()))
            .build();
        aws_sdk_ssm::Client::from_conf(config)
    }
}

/// An SDK error as a [`StartError`], keeping the service's error code.
fn sdk_error<E, R>(call: Call, error: aws_sdk_ssm::error::SdkError<E, R>) -> StartError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
    aws_sdk_ssm::error::SdkError<E, R>: RequestId,
{
    use aws_sdk_ssm::error::SdkError;
    let request_id = error.request_id().map(str::to_string);
    let (code, message, transient) = match &error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let code = err.code().unwrap_or("UnknownError").to_string();
            let transient = matches!(
                code.as_str(),
                "ThrottlingException"
                    | "Throttling"
                    | "TooManyRequestsException"
                    | "RequestLimitExceeded"
                    | "ServiceUnavailable"
                    | "InternalServerError"
                    | "InternalFailure"
            );
            let message = err.message().unwrap_or("").to_string();
            (code, message, transient)
        }
        SdkError::TimeoutError(_) => ("Timeout".into(), "the call timed out".into(), true),
        SdkError::DispatchFailure(failure) => (
            "NetworkError".into(),
            if failure.is_timeout() {
                "the call timed out".into()
            } else {
                "the service could not be reached".into()
            },
            true,
        ),
        SdkError::ResponseError(_) => (
            "InvalidResponse".into(),
            "the service's answer could not be read".into(),
            true,
        ),
        _ => (
            "RequestNotSent".into(),
            aws_sdk_ssm::error::DisplayErrorContext(&error).to_string(),
            false,
        ),
    };
    StartError {
        call,
        code,
        message,
        request_id,
        transient,
    }
}

impl AwsSessionStarter {
    /// The session-starter role's credentials for this user: cached ones with at least
    /// [`REUSE_MARGIN`] left, else a new AssumeRole.
    async fn credentials(
        &self,
        request: &StartRequest,
    ) -> Result<aws_sdk_ssm::config::Credentials, StartError> {
        let key = (
            request.starter_role_arn.clone(),
            request.source_identity.clone(),
            request.role_session_name.clone(),
        );
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            cache.retain(|_, (_, expires)| *expires > now + REUSE_MARGIN);
            if let Some((credentials, _)) = cache.get(&key) {
                return Ok(credentials.clone());
            }
        }
        let asked = Instant::now();
        let assumed = self
            .sts
            .assume_role()
            .role_arn(&request.starter_role_arn)
            .role_session_name(&request.role_session_name)
            .source_identity(&request.source_identity)
            // The least STS allows: the credentials only start this user's sessions.
            .duration_seconds(ASSUMED_SECONDS)
            .send()
            .await
            .map_err(|e| sdk_error(Call::AssumeRole, e))?;
        let invalid = |what: &str| StartError {
            call: Call::AssumeRole,
            code: "InvalidResponse".into(),
            message: format!("AssumeRole answered without {what}"),
            request_id: assumed.request_id().map(str::to_string),
            transient: false,
        };
        let credentials = assumed
            .credentials()
            .ok_or_else(|| invalid("credentials"))?;
        // The life STS gave, counted from when it was asked (the Expiration it sends is
        // on STS's clock; the duration asked for is what bounds it).
        let life = credentials
            .expiration()
            .secs()
            .checked_sub(
                aws_sdk_sts::primitives::DateTime::from(std::time::SystemTime::now()).secs(),
            )
            .map_or(Duration::ZERO, |s| Duration::from_secs(s.max(0) as u64))
            .min(Duration::from_secs(ASSUMED_SECONDS as u64));
        let credentials = aws_sdk_ssm::config::Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_string()),
            None,
            "sessiontrail-broker-starter",
        );
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (credentials.clone(), asked + life));
        Ok(credentials)
    }

    /// Forgets a user's cached credentials (SSM refused them).
    fn forget(&self, request: &StartRequest) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(role, identity, name), _| {
                !(role == &request.starter_role_arn
                    && identity == &request.source_identity
                    && name == &request.role_session_name)
            });
    }
}

impl SessionStarter for AwsSessionStarter {
    async fn start(&self, request: &StartRequest) -> Result<StartedSession, StartError> {
        let credentials = self.credentials(request).await?;
        let output = self
            .ssm_client(credentials, &request.region)
            .start_session()
            .target(&request.target)
            .document_name(&request.document_name)
            .set_reason(request.reason.clone())
            .send()
            .await
            .map_err(|e| {
                let error = sdk_error(Call::StartSession, e);
                if matches!(
                    error.code.as_str(),
                    "UnrecognizedClientException"
                        | "ExpiredTokenException"
                        | "InvalidSignatureException"
                ) {
                    self.forget(request);
                }
                error
            })?;
        let ssm_request_id = output.request_id().map(str::to_string);
        let missing = |what: &str| StartError {
            call: Call::StartSession,
            code: "InvalidResponse".into(),
            message: format!("StartSession answered without {what}"),
            request_id: ssm_request_id.clone(),
            transient: false,
        };
        Ok(StartedSession {
            session_id: output
                .session_id()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| missing("SessionId"))?
                .to_string(),
            stream_url: Secret::new(output.stream_url().ok_or_else(|| missing("StreamUrl"))?),
            token_value: Secret::new(output.token_value().ok_or_else(|| missing("TokenValue"))?),
            ssm_request_id: ssm_request_id.clone(),
        })
    }
}

/// An in-memory [`SessionStarter`]: answers from a queue (a started session when it is
/// empty) and records every request it was given.
#[derive(Default)]
pub struct FakeStarter {
    answers: Mutex<VecDeque<Result<StartedSession, StartError>>>,
    requests: Mutex<Vec<StartRequest>>,
}

impl FakeStarter {
    pub fn new() -> Self {
        FakeStarter::default()
    }

    /// The next call answers this.
    pub fn answer(&self, answer: Result<StartedSession, StartError>) {
        self.answers.lock().unwrap().push_back(answer);
    }

    /// The requests made so far.
    pub fn requests(&self) -> Vec<StartRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// What the fake answers by default for the `n`th call (from 1).
    pub fn session(n: usize, region: &str) -> StartedSession {
        let session_id = format!("alice@example.com-0{n:016x}");
        StartedSession {
            stream_url: Secret::new(format!(
                "wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}?role=publish_subscribe&cell-number=AAEAAQ"
            )),
            token_value: Secret::new(format!("AAEAAFAKETOKEN{n:04}xyzxyzxyzxyzxyzxyzxyzxyz")),
            session_id,
            ssm_request_id: Some(format!("0000000{n}-aaaa-bbbb-cccc-dddddddddddd")),
        }
    }
}

impl SessionStarter for FakeStarter {
    async fn start(&self, request: &StartRequest) -> Result<StartedSession, StartError> {
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len()
        };
        let queued = self.answers.lock().unwrap().pop_front();
        queued.unwrap_or_else(|| Ok(FakeStarter::session(n, &request.region)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_session_names() {
        assert_eq!(role_session_name("alice@example.com"), "alice@example.com");
        assert_eq!(role_session_name("a+b=c,d.e_f-g"), "a+b=c,d.e_f-g");
        assert_eq!(role_session_name("renée o'brien"), "ren-e-o-brien");
        assert_eq!(role_session_name("x"), "x-");
        assert_eq!(role_session_name(""), "--");
        assert_eq!(role_session_name(&"u".repeat(80)), "u".repeat(64));
    }

    #[test]
    fn starter_role_arns_in_each_partition() {
        assert_eq!(
            starter_role_arn("aws", "111122223333", "sessiontrail-session-starter"),
            "arn:aws:iam::111122223333:role/sessiontrail-session-starter"
        );
        assert_eq!(
            starter_role_arn("aws-us-gov", "111122223333", "/ssm/session-starter"),
            "arn:aws-us-gov:iam::111122223333:role/ssm/session-starter"
        );
        assert!(is_starter_role("sessiontrail-session-starter"));
        assert!(is_starter_role("ssm/broker/session-starter"));
        assert!(!is_starter_role(""));
        assert!(!is_starter_role("bad name"));
        assert!(!is_starter_role(&"r".repeat(65)));
        assert!(!is_starter_role("path with space/starter"));
    }

    #[test]
    fn secrets_do_not_print() {
        let session = FakeStarter::session(1, "eu-west-1");
        let printed = format!("{session:?}");
        assert!(!printed.contains("FAKETOKEN"), "{printed}");
        assert!(!printed.contains("wss://"), "{printed}");
        assert!(printed.contains("alice@example.com-0"), "{printed}");
    }

    #[tokio::test]
    async fn the_fake_records_requests_and_answers_in_order() {
        let fake = FakeStarter::new();
        fake.answer(Err(StartError {
            call: Call::StartSession,
            code: "TargetNotConnected".into(),
            message: "i-0123abcd is not connected.".into(),
            request_id: None,
            transient: false,
        }));
        let request = StartRequest {
            starter_role_arn: "arn:aws:iam::111122223333:role/starter".into(),
            source_identity: "alice".into(),
            role_session_name: "alice".into(),
            region: "eu-west-1".into(),
            target: "i-0123abcd".into(),
            document_name: "D".into(),
            reason: None,
        };
        assert_eq!(
            fake.start(&request).await.unwrap_err().code,
            "TargetNotConnected"
        );
        assert_eq!(
            fake.start(&request).await.unwrap().session_id,
            "alice@example.com-00000000000000002"
        );
        assert_eq!(fake.requests().len(), 2);
    }
}
