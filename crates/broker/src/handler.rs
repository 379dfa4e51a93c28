//! One request, start to finish: read the event, check the method, the caller and the
//! body, map the permission set, start the session, answer, and write exactly one
//! broker log record (docs/contracts.md "Broker API").
//!
//! Checks run in this order and the first that fails answers: the event is a function
//! URL request (400), the method is POST (405), the caller is an IAM Identity Center
//! user of the broker's partition (403), the body is valid (413, 400), the permission
//! set is in the policy (403). Every refusal is a `denied` record and never reaches
//! AWS; a failed AWS call is an `error` record with the AWS error code.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sessiontrail_ingest::arn::Arn;

use crate::caller::{self, Caller};
use crate::config::Config;
use crate::log::{LogRecord, LogSink, Outcome, Stdout, format_ts};
use crate::mapping::Mapping;
use crate::request::{self, BodyError, StartBody};
use crate::response::{Refusal, Response};
use crate::start::{Call, SessionStarter, StartRequest, role_session_name, starter_role_arn};

/// The longest caller ARN written to the log (IAM's limit for an ARN).
const MAX_ARN_CHARS: usize = 2048;

/// The broker: its policy, configuration, AWS calls, log and clock.
pub struct Broker<S> {
    pub mapping: Mapping,
    pub starter: S,
    /// The session-starter role's `[path/]name` in each member account.
    pub starter_role: String,
    pub organisation: Option<String>,
    /// The partition when the function's ARN does not give it.
    pub partition: Option<String>,
    pub log: Arc<dyn LogSink>,
    pub clock: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
}

impl<S: SessionStarter> Broker<S> {
    /// A broker logging to stdout on the system clock.
    pub fn new(mapping: Mapping, starter: S, config: &Config) -> Self {
        Broker {
            mapping,
            starter,
            starter_role: config.starter_role.clone(),
            organisation: config.organisation.clone(),
            partition: config.partition.clone(),
            log: Arc::new(Stdout),
            clock: Box::new(Utc::now),
        }
    }
}

/// Request ids for an invocation that has none (never from Lambda, which always
/// gives one), so two such records are not taken for one.
static FALLBACK_IDS: AtomicU64 = AtomicU64::new(0);

/// Handles one function URL invocation.
pub async fn handle<S: SessionStarter>(
    event: &Value,
    context: &lambda_runtime::Context,
    broker: &Broker<S>,
) -> Response {
    let parsed = request::parse_event(event);
    let request_id = [
        Some(context.request_id.as_str()),
        parsed.as_ref().and_then(|r| r.url_request_id.as_deref()),
    ]
    .into_iter()
    .flatten()
    .find(|id| !id.trim().is_empty())
    .map(str::to_string)
    .unwrap_or_else(|| {
        format!(
            "broker-{}-{}",
            (broker.clock)().timestamp_millis(),
            FALLBACK_IDS.fetch_add(1, Ordering::Relaxed)
        )
    });
    let mut record = LogRecord::new(&request_id, (broker.clock)(), Outcome::Denied);
    let response = decide(parsed, context, broker, &mut record).await;
    if record.outcome == Outcome::Denied {
        record.ts = format_ts((broker.clock)());
    }
    broker.log.write_line(&record.to_line());
    response
}

/// A refusal: a `denied` record saying why, and its answer.
fn refuse(record: &mut LogRecord, refusal: Refusal, reason: String) -> Response {
    record.outcome = Outcome::Denied;
    record.error_code = Some(refusal.code().to_string());
    let response = Response::refused(refusal, &reason);
    record.error_message = Some(reason);
    response
}

/// Everything but the log line, which [`handle`] writes from `record`.
async fn decide<S: SessionStarter>(
    parsed: Option<request::UrlRequest>,
    context: &lambda_runtime::Context,
    broker: &Broker<S>,
    record: &mut LogRecord,
) -> Response {
    let Some(request) = parsed else {
        return refuse(
            record,
            Refusal::Invalid,
            "the broker is called through its function URL only".into(),
        );
    };
    record.source_ip = request.source_ip.clone();
    if let Some(iam) = &request.iam {
        if let Some(arn) = iam.user_arn.as_deref().filter(|a| !a.trim().is_empty()) {
            record.caller_arn = arn.chars().take(MAX_ARN_CHARS).collect();
            if let Some(account) = Arn::parse(arn)
                .map(|a| a.account)
                .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            {
                record.account_id = account.to_string();
            }
        }
        record.caller_user_id = iam
            .caller_id
            .as_ref()
            .filter(|id| !id.is_empty())
            .map(|id| id.chars().take(MAX_ARN_CHARS).collect());
    }
    let Some(partition) = caller::partition_of_arn(&context.invoked_function_arn)
        .or(broker.partition.as_deref())
        .map(str::to_string)
    else {
        record.outcome = Outcome::Error;
        record.error_code = Some("BrokerMisconfigured".into());
        let message = "the broker cannot tell its partition (no function ARN, no SESSIONTRAIL_BROKER_PARTITION)";
        record.error_message = Some(message.into());
        return Response::error(500, "broker_misconfigured", message);
    };
    let body = request::parse_body(&request, &partition);
    match &body {
        Ok(StartBody {
            target,
            region,
            reason,
        }) => {
            record.target = target.clone();
            record.region = region.clone();
            record.reason = reason.clone();
        }
        Err((_, fields)) => {
            if let Some(target) = &fields.target {
                record.target = target.clone();
            }
            if let Some(region) = &fields.region {
                record.region = region.clone();
            }
            record.reason = fields.reason.clone();
        }
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return refuse(
            record,
            Refusal::MethodNotAllowed,
            "only POST starts a session".into(),
        );
    }
    let caller: Caller = match caller::identify(
        request.iam.as_ref(),
        &partition,
        broker.organisation.as_deref(),
    ) {
        Ok(caller) => caller,
        Err(error) => return refuse(record, Refusal::Denied, error.to_string()),
    };
    record.permission_set = Some(caller.permission_set.clone());
    record.account_id = caller.account_id.clone();
    let body = match body {
        Ok(body) => body,
        Err((error, _)) => {
            let refusal = match error {
                BodyError::TooLarge => Refusal::TooLarge,
                _ => Refusal::Invalid,
            };
            return refuse(record, refusal, error.to_string());
        }
    };
    let Some(mapping) = broker.mapping.lookup(&caller.permission_set) else {
        return refuse(
            record,
            Refusal::Denied,
            format!(
                "the permission set {} has no session document in the broker's policy: ask your platform team to add it ([[permission_set]] in sessiontrail.toml), or sign in with another permission set",
                caller.permission_set
            ),
        );
    };
    record.document_name = Some(mapping.document_name.clone());
    record.run_as = mapping.run_as.clone();
    let start = StartRequest {
        starter_role_arn: starter_role_arn(
            &caller.partition,
            &caller.account_id,
            &broker.starter_role,
        ),
        source_identity: caller.user.clone(),
        role_session_name: role_session_name(&caller.user),
        region: body.region,
        target: body.target,
        document_name: mapping.document_name.clone(),
        reason: body.reason,
    };
    let answer = broker.starter.start(&start).await;
    record.ts = format_ts((broker.clock)());
    match answer {
        Ok(session) => {
            record.outcome = Outcome::Started;
            record.session_id = Some(session.session_id.clone());
            record.ssm_request_id = session.ssm_request_id.clone();
            Response::started(&session, &mapping.document_name, mapping.run_as.as_deref())
        }
        Err(error) => {
            record.outcome = Outcome::Error;
            record.error_code = Some(error.code.clone());
            record.error_message = Some(format!("{}: {}", error.call.as_str(), error.message));
            if error.call == Call::StartSession {
                record.ssm_request_id = error.request_id.clone();
            }
            Response::failed(&error)
        }
    }
}
