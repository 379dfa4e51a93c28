//! The Lambda function's handler: the library `lambda/src/main.rs` calls. The binary
//! only installs the JSON log subscriber ([`json_log_subscriber`]), builds a
//! [`Handler`] from the environment ([`Handler::from_env`]) and hands each event to
//! [`Handler::handle`]; everything an invocation does is here: what triggered it, and
//! the run it makes.
//!
//! - EventBridge "AWS API Call via CloudTrail" (ssm StartSession / ResumeSession /
//!   TerminateSession): the real-time path. The event is read by the same lenient
//!   reader as files (the envelope is one of its input forms) and correlated with the
//!   broker records already in the state; a session whose broker record has not
//!   arrived stays `pending` until a later invocation brings it or grace runs out.
//! - EventBridge S3 "Object Created": one new CloudTrail log file or broker log file.
//! - A scheduled event: no input; sweeps pending sessions past grace (late findings),
//!   then writes the previous month's report to `OUT/reports/YYYY-MM/` once it is final
//!   (see [`Handler::write_monthly_report_once`]).
//!
//! Every invocation ends with one EMF line per account (alerts) and sends new findings
//! to the event bus. An event that cannot be understood fails the invocation (so
//! EventBridge retries it and the DLQ keeps it) after it is logged with its id.
//!
//! An event that is understood but that the configuration does not allow is *refused*
//! ([`classify`]): an API-call event whose `source` is not `aws.ssm`, whose record is
//! not ssm's, whose `account` is not in `SESSIONTRAIL_ACCOUNTS` (when set) or disagrees
//! with the record's `recipientAccountId` / `awsRegion`; an Object Created event whose
//! `source` is not `aws.s3` or whose object is under no configured location; a
//! scheduled event from another source than `aws.events` / `aws.scheduler`. It is
//! logged (a `WARN` line with the event id and the reason) and counted (EMF
//! `events_refused`), nothing is read or written, and the invocation succeeds: retrying
//! it cannot change the answer, so it must not cycle through retries into the DLQ.
//!
//! The policy is read at start-up and, when it is an `s3://` object, again whenever its
//! ETag changes: each invocation that needs it makes a conditional GET
//! (`If-None-Match`), answered `304 Not Modified` while it is unchanged.
//!
//! Logs are [`tracing`] events, written by the function as one JSON object per line
//! on stderr ([`json_log_subscriber`]: `timestamp`, `level`, `message`, the event's
//! fields such as `event_id`, and `target`). EMF metric lines are not logs: they are
//! printed on stdout as they are, one JSON object per line, for CloudWatch to parse.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sessiontrail_correlate::state::{State, StateError};
use sessiontrail_correlate::storage::{Storage, StorageError};
use sessiontrail_correlate::{Inputs, Policy, RunError, RunSettings, RunSummary, run_on};
use sessiontrail_evidence::PublicKeys;
use sessiontrail_evidence::digest_key::parse_digest_file_name;
use sessiontrail_ingest::InputKind;
use sessiontrail_ingest::canonical_json::to_canonical_string;
use sessiontrail_ingest::cloudtrail::read_cloudtrail_object;
use sessiontrail_ingest::input_files::{ReadBuffers, is_digest_or_insight};
use sessiontrail_ingest::time::EpochMillis;
use sessiontrail_report::monthly_report::{JSON_FILE, Month, rendered_files};
use sessiontrail_report::{ReportSettings, compute_monthly_report, partitions_needed};

use crate::alerts::{
    FindingPublisher, Outcome, PublishReport, apply_outbox_update, cut, emf_counts, emf_lines,
    pending_alerts, undeliverable_alerts, update_outbox,
};
use crate::digest_arrival::{ArrivalError, CheckedArrival, check_arrived_digest};
use crate::lambda_config::{Accounts, ConfigError, LambdaConfig};
use crate::location::{DatasetStorage, read_s3_objects};
use crate::mirror::mirror_dataset;
use crate::s3::{S3, sdk_error_text};
use crate::s3_url::S3Url;

/// What an event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    CloudTrailApiCall {
        id: String,
        event: Value,
    },
    ObjectCreated {
        id: String,
        bucket: String,
        key: String,
    },
    Scheduled {
        id: String,
    },
}

impl Trigger {
    pub fn id(&self) -> &str {
        match self {
            Trigger::CloudTrailApiCall { id, .. }
            | Trigger::ObjectCreated { id, .. }
            | Trigger::Scheduled { id } => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::CloudTrailApiCall { .. } => "cloudtrail_api_call",
            Trigger::ObjectCreated { .. } => "object_created",
            Trigger::Scheduled { .. } => "scheduled",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("event {id}: {reason}")]
    Malformed { id: String, reason: String },
    /// Understood, but not allowed by the configuration: [`Handler::handle`] logs it and
    /// succeeds without doing anything.
    #[error("event {id} refused: {reason}")]
    Refused { id: String, reason: String },
    #[error("event {id}: {source}")]
    Run {
        id: String,
        #[source]
        source: RunError,
    },
    #[error("event {id}: {source}")]
    Storage {
        id: String,
        #[source]
        source: StorageError,
    },
    #[error("event {id}: monthly report: {message}")]
    Report { id: String, message: String },
    #[error("policy {location}: {message}")]
    Policy { location: String, message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Untrusted text in a log line or a reason: at most 200 bytes.
fn clip(text: &str) -> String {
    cut(text, 200)
}

/// Reads what an EventBridge event is about, and whether the configuration allows it
/// (see the module's documentation): `Malformed` when it cannot be understood,
/// `Refused` when it is not allowed. A CloudTrail record's own fields are the reader's
/// business.
pub fn classify(
    event: &Value,
    config: &LambdaConfig,
    accounts: &Accounts,
) -> Result<Trigger, InvocationError> {
    let id = clip(&event_id(event));
    let malformed = |reason: String| InvocationError::Malformed {
        id: id.clone(),
        reason,
    };
    let refused = |reason: String| InvocationError::Refused {
        id: id.clone(),
        reason,
    };
    let text = |name: &str| event.get(name).and_then(Value::as_str);
    let detail_type = text("detail-type")
        .ok_or_else(|| malformed("not an EventBridge event: no detail-type".into()))?;
    let source = text("source").unwrap_or_default();
    match detail_type {
        "AWS API Call via CloudTrail" => {
            if source != "aws.ssm" {
                return Err(refused(format!(
                    "an API-call event from source {:?}: ssm's come from aws.ssm (a source no one but AWS can send)",
                    clip(source)
                )));
            }
            let detail = event
                .get("detail")
                .filter(|d| d.is_object())
                .ok_or_else(|| {
                    malformed("a CloudTrail API call event without a detail object".into())
                })?;
            let field = |name: &str| detail.get(name).and_then(Value::as_str);
            if field("eventSource") != Some("ssm.amazonaws.com") {
                return Err(refused(format!(
                    "a CloudTrail API call from {:?}, not ssm.amazonaws.com (check the rule's pattern)",
                    field("eventSource").map(clip)
                )));
            }
            let account = text("account");
            if accounts.is_listed() && !account.is_some_and(|a| accounts.allows(a)) {
                return Err(refused(format!(
                    "account {:?} is not in {}",
                    account.map(clip),
                    Accounts::VARIABLE
                )));
            }
            if let (Some(account), Some(recipient)) = (account, field("recipientAccountId"))
                && account != recipient
            {
                return Err(refused(format!(
                    "the record's recipientAccountId {:?} is not the event's account {:?}",
                    clip(recipient),
                    clip(account)
                )));
            }
            if let (Some(region), Some(record_region)) = (text("region"), field("awsRegion"))
                && region != record_region
            {
                return Err(refused(format!(
                    "the record's awsRegion {:?} is not the event's region {:?}",
                    clip(record_region),
                    clip(region)
                )));
            }
            Ok(Trigger::CloudTrailApiCall {
                id,
                event: event.clone(),
            })
        }
        "Object Created" => {
            if source != "aws.s3" {
                return Err(refused(format!(
                    "an Object Created event from source {:?}, not aws.s3",
                    clip(source)
                )));
            }
            let detail = event.get("detail");
            let field = |path: [&str; 2]| {
                detail
                    .and_then(|d| d.get(path[0]))
                    .and_then(|d| d.get(path[1]))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            let bucket = field(["bucket", "name"]).ok_or_else(|| {
                malformed("an Object Created event without detail.bucket.name".into())
            })?;
            let key = field(["object", "key"]).ok_or_else(|| {
                malformed("an Object Created event without detail.object.key".into())
            })?;
            let configured = config
                .broker_logs
                .iter()
                .chain(&config.cloudtrail)
                .any(|location| location.contains(&bucket, &key));
            if !configured {
                return Err(refused(format!(
                    "s3://{}/{} is under neither SESSIONTRAIL_CLOUDTRAIL nor SESSIONTRAIL_BROKER_LOG",
                    clip(&bucket),
                    clip(&key)
                )));
            }
            Ok(Trigger::ObjectCreated { id, bucket, key })
        }
        "Scheduled Event" => {
            if !matches!(source, "aws.events" | "aws.scheduler") {
                return Err(refused(format!(
                    "a scheduled event from source {:?}, not aws.events or aws.scheduler",
                    clip(source)
                )));
            }
            Ok(Trigger::Scheduled { id })
        }
        detail_type => Err(malformed(format!(
            "no handling for source {:?} detail-type {:?}",
            clip(source),
            clip(detail_type)
        ))),
    }
}

/// The policy in use, and the ETag of the `s3://` object it was read from.
#[derive(Debug)]
struct LoadedPolicy {
    policy: Arc<Policy>,
    /// None for a policy in the package (read once).
    etag: Option<String>,
}

/// The function's clients and configuration, made once per cold start.
#[derive(Debug, Clone)]
pub struct Handler {
    pub config: LambdaConfig,
    pub s3: S3,
    pub publisher: Option<FindingPublisher>,
    /// `SESSIONTRAIL_ACCOUNTS` (any account unless set; see [`Handler::with_accounts`]).
    pub accounts: Accounts,
    /// The AWS configuration, for CloudTrail `ListPublicKeys` when
    /// `SESSIONTRAIL_PUBLIC_KEYS=live` (see [`Handler::with_sdk`]).
    pub sdk: Option<aws_config::SdkConfig>,
    policy: Arc<Mutex<LoadedPolicy>>,
}

impl Handler {
    /// Checks the configuration ([`LambdaConfig::check`]), loads the policy (from S3 or
    /// the package) and builds the clients. Events of any account are taken: see
    /// [`Handler::with_accounts`].
    pub async fn new(
        config: LambdaConfig,
        s3: S3,
        eventbridge: aws_sdk_eventbridge::Client,
    ) -> Result<Handler, InvocationError> {
        config.check()?;
        let (policy, etag) = load_policy_versioned(&s3, &config.policy).await?;
        let publisher = config.event_bus.clone().map(|bus| FindingPublisher {
            client: eventbridge,
            bus,
            dataset: format!("s3://{}/{}", config.out.bucket, config.out.folder()),
        });
        Ok(Handler {
            config,
            s3,
            publisher,
            accounts: Accounts::any(),
            sdk: None,
            policy: Arc::new(Mutex::new(LoadedPolicy {
                policy: Arc::new(policy),
                etag,
            })),
        })
    }

    /// Takes only events of these accounts (`SESSIONTRAIL_ACCOUNTS`).
    pub fn with_accounts(mut self, accounts: Accounts) -> Handler {
        self.accounts = accounts;
        self
    }

    /// Calls other AWS services (CloudTrail `ListPublicKeys`) with this configuration.
    pub fn with_sdk(mut self, sdk: aws_config::SdkConfig) -> Handler {
        self.sdk = Some(sdk);
        self
    }

    /// The handler of a function: configuration from the environment, clients from the
    /// default AWS configuration.
    pub async fn from_env() -> Result<Handler, Box<dyn std::error::Error + Send + Sync>> {
        let var = |name: &str| std::env::var(name).ok();
        let config = LambdaConfig::from_env(var)?;
        let accounts = Accounts::from_env(var)?;
        let sdk = crate::s3::load_aws_config().await;
        let s3 = S3::new(
            crate::s3::s3_client(&sdk),
            tokio::runtime::Handle::current(),
        );
        let eventbridge = aws_sdk_eventbridge::Client::new(&sdk);
        Ok(Handler::new(config, s3, eventbridge)
            .await?
            .with_accounts(accounts)
            .with_sdk(sdk))
    }

    /// The instant an invocation measures grace at: `SESSIONTRAIL_AS_OF`, else now.
    pub fn now(&self) -> EpochMillis {
        self.config
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
    }

    /// The policy, read again if its `s3://` object changed since it was read (a GET
    /// with `If-None-Match` on the ETag: `304 Not Modified` keeps the one in memory). A
    /// changed policy that does not parse is an error naming it, and is not kept: the
    /// next invocation reads it again.
    pub async fn policy(&self) -> Result<Arc<Policy>, InvocationError> {
        let (current, etag) = {
            let loaded = self.policy.lock().expect("the policy lock is not poisoned");
            (Arc::clone(&loaded.policy), loaded.etag.clone())
        };
        let Some(etag) = etag else {
            return Ok(current);
        };
        let location = &self.config.policy;
        let error = |message: String| InvocationError::Policy {
            location: location.clone(),
            message,
        };
        let url = S3Url::parse(location).map_err(|e| error(e.to_string()))?;
        let response = self
            .s3
            .client
            .get_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .if_none_match(&etag)
            .send()
            .await;
        let output = match response {
            Ok(output) => output,
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 304) =>
            {
                return Ok(current);
            }
            Err(err) => return Err(error(sdk_error_text(&err))),
        };
        let new_etag = output.e_tag().unwrap_or_default().to_string();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| error(e.to_string()))?
            .to_vec();
        let text = String::from_utf8(bytes).map_err(|e| error(e.to_string()))?;
        let policy = Arc::new(Policy::parse(&text).map_err(error)?);
        tracing::info!(
            policy = %location,
            "policy {location} changed (ETag {etag} -> {new_etag}): read again"
        );
        let mut loaded = self.policy.lock().expect("the policy lock is not poisoned");
        loaded.policy = Arc::clone(&policy);
        loaded.etag = Some(new_etag);
        Ok(policy)
    }

    /// Handles one event; `now` is the instant grace is measured at.
    pub async fn handle(&self, event: Value, now: EpochMillis) -> Result<Value, InvocationError> {
        let trigger = match classify(&event, &self.config, &self.accounts) {
            Ok(trigger) => trigger,
            Err(InvocationError::Refused { id, reason }) => {
                log_refused(&id, &reason);
                self.print_emf(&emf_counts(
                    &self.config.metrics_namespace,
                    &[("events_refused", 1)],
                    now,
                ));
                return Ok(json!({"refused": reason}));
            }
            Err(err) => {
                log_failed(&clip(&event_id(&event)), &err);
                return Err(err);
            }
        };
        let started = std::time::Instant::now();
        let mut result = self.handle_trigger(&trigger, now).await;
        if let Ok(outcome) = &mut result {
            outcome["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
        }
        match &result {
            Ok(outcome) => log_done(&trigger, outcome),
            Err(err) => log_failed(trigger.id(), err),
        }
        result
    }

    async fn handle_trigger(
        &self,
        trigger: &Trigger,
        now: EpochMillis,
    ) -> Result<Value, InvocationError> {
        let id = trigger.id().to_string();
        let storage_err = |source| InvocationError::Storage {
            id: id.clone(),
            source,
        };
        // What a digest's check found, when the object is a digest.
        let mut digest_checked = None;
        let inputs = match trigger {
            Trigger::CloudTrailApiCall { event, .. } => {
                // Canonical bytes: what the reader sees (and a reject's offset) must not
                // depend on serde_json's features.
                let bytes = to_canonical_string(event).into_bytes();
                let name = format!("eventbridge:{id}");
                let read = tokio::task::spawn_blocking(move || {
                    let mut out = Default::default();
                    read_cloudtrail_object(&name, bytes, &mut out, &mut ReadBuffers::default());
                    out
                })
                .await
                .map_err(|err| InvocationError::Malformed {
                    id: id.clone(),
                    reason: err.to_string(),
                })?;
                let read: sessiontrail_ingest::CloudTrailRead = read;
                if let Some(reject) = read.rejects.first() {
                    return Err(InvocationError::Malformed {
                        id: id.clone(),
                        reason: format!(
                            "the CloudTrail record could not be read: {}",
                            reject.reason
                        ),
                    });
                }
                if read.events.is_empty() {
                    return Ok(json!({"ignored": "not an ssm session event"}));
                }
                Inputs {
                    cloudtrail: read,
                    ..Default::default()
                }
            }
            Trigger::ObjectCreated { bucket, key, .. } => {
                let url = S3Url {
                    bucket: bucket.clone(),
                    key: key.clone(),
                };
                // classify() refused objects under no configured location.
                let broker_log = self
                    .config
                    .broker_logs
                    .iter()
                    .any(|b| b.contains(bucket, key));
                if !broker_log && is_digest_or_insight(std::path::Path::new(key)) {
                    if !is_digest_key(key) {
                        return Ok(json!({"ignored": "a CloudTrail insight file"}));
                    }
                    let Some(keys) = &self.config.public_keys else {
                        return Ok(json!({
                            "ignored": "a CloudTrail digest file (SESSIONTRAIL_PUBLIC_KEYS is unset: digests are not checked)"
                        }));
                    };
                    let checked = self.check_digest(&id, &url, keys).await?;
                    digest_checked = Some(json!({
                        "log_files": checked.log_files,
                        "problems": checked.problems,
                    }));
                    Inputs {
                        evidence: Some(checked.evidence),
                        ..Default::default()
                    }
                } else {
                    let kind = if broker_log {
                        InputKind::BrokerLog
                    } else {
                        InputKind::Cloudtrail
                    };
                    read_s3_objects(&self.s3, kind, vec![url])
                        .await
                        .map_err(storage_err)?
                }
            }
            Trigger::Scheduled { .. } => Inputs::default(),
        };
        let nothing_to_add = inputs.evidence.is_none()
            && inputs.cloudtrail.events.is_empty()
            && inputs.broker.records.is_empty()
            && inputs.cloudtrail.rejects.is_empty()
            && inputs.broker.rejects.is_empty();
        let mut outcome = json!({});
        if nothing_to_add && !matches!(trigger, Trigger::Scheduled { .. }) {
            // A log file without ssm session events changes nothing: no state round trip.
            outcome["files_without_session_events"] =
                json!(inputs.cloudtrail.stats.files_without_session_events);
            self.emit_metrics(&[], now);
        } else {
            let policy = self.policy().await?;
            let summary =
                self.run(policy, inputs, now)
                    .await
                    .map_err(|source| InvocationError::Run {
                        id: id.clone(),
                        source,
                    })?;
            self.emit_metrics(&summary.new_findings, now);
            outcome = summary_json(&summary);
        }
        if let Some(checked) = digest_checked {
            outcome["digest_checked"] = checked;
        }
        if let Some(publisher) = &self.publisher {
            let alerts = self
                .publish_outbox(publisher, now)
                .await
                .map_err(|source| InvocationError::Storage {
                    id: id.clone(),
                    source,
                })?;
            outcome["published"] = json!(alerts.sent);
            outcome["alerts"] = alerts.to_json();
            self.print_emf(&emf_counts(
                &self.config.metrics_namespace,
                &[
                    ("alerts_sent", alerts.sent as u64),
                    ("alerts_truncated", alerts.truncated as u64),
                    ("alerts_undeliverable", alerts.set_aside as u64),
                    ("alerts_waiting", alerts.waiting as u64),
                ],
                now,
            ));
        }
        if matches!(trigger, Trigger::Scheduled { .. }) && self.config.monthly_report {
            let month = Month::containing(
                chrono::DateTime::from_timestamp_millis(now)
                    .unwrap_or_default()
                    .date_naive(),
            )
            .previous();
            let report = self
                .write_monthly_report_once(month, now)
                .await
                .map_err(|message| InvocationError::Report {
                    id: id.clone(),
                    message,
                })?;
            outcome["monthly_report"] = report.to_json(month);
        }
        Ok(outcome)
    }

    /// A digest file arrived: checked ([`check_arrived_digest`]), for what it found to
    /// be recorded as `correlate --verify` records it.
    async fn check_digest(
        &self,
        id: &str,
        digest: &S3Url,
        keys: &str,
    ) -> Result<CheckedArrival, InvocationError> {
        let storage_err = |source| InvocationError::Storage {
            id: id.to_string(),
            source,
        };
        let checked = match keys {
            "live" => {
                let Some(sdk) = &self.sdk else {
                    return Err(InvocationError::Malformed {
                        id: id.to_string(),
                        reason:
                            "SESSIONTRAIL_PUBLIC_KEYS=live needs the function's AWS configuration"
                                .into(),
                    });
                };
                let keys = crate::public_keys::LivePublicKeys {
                    runtime: tokio::runtime::Handle::current(),
                    sdk: sdk.clone(),
                };
                check_arrived_digest(&self.s3, digest, keys).await
            }
            saved => {
                let keys = self.saved_public_keys(saved).await.map_err(storage_err)?;
                check_arrived_digest(&self.s3, digest, keys).await
            }
        };
        checked.map_err(|err| match err {
            ArrivalError::Storage(source) => InvocationError::Storage {
                id: id.to_string(),
                source,
            },
            ArrivalError::Verify(reason) => InvocationError::Malformed {
                id: id.to_string(),
                reason,
            },
        })
    }

    /// A saved `aws cloudtrail list-public-keys` output: an `s3://` URL or a path in the
    /// package.
    async fn saved_public_keys(&self, at: &str) -> Result<PublicKeys, StorageError> {
        let bytes = if S3Url::is_s3(at) {
            let url = S3Url::parse(at).map_err(|e| StorageError::Remote {
                location: at.to_string(),
                message: e.to_string(),
            })?;
            self.s3
                .get(&url)
                .await?
                .ok_or_else(|| StorageError::Remote {
                    location: at.to_string(),
                    message: "not found (SESSIONTRAIL_PUBLIC_KEYS)".into(),
                })?
                .bytes
        } else {
            std::fs::read(at).map_err(|source| StorageError::Io {
                location: at.to_string(),
                source,
            })?
        };
        PublicKeys::from_list_public_keys_json(&bytes, at).map_err(|e| StorageError::Remote {
            location: at.to_string(),
            message: e.to_string(),
        })
    }

    fn storage(&self) -> DatasetStorage {
        DatasetStorage::s3(&self.s3, &self.config.out)
    }

    async fn run(
        &self,
        policy: Arc<Policy>,
        inputs: Inputs,
        now: EpochMillis,
    ) -> Result<RunSummary, RunError> {
        let storage = self.storage();
        let settings = RunSettings {
            as_of: Some(now),
            outbox: self.publisher.is_some(),
        };
        tokio::task::spawn_blocking(move || run_on(&policy, &storage, inputs, &settings))
            .await
            .expect("the correlation task does not panic")
    }

    fn emit_metrics(&self, new_findings: &[sessiontrail_correlate::Finding], now: EpochMillis) {
        for line in emf_lines(
            &self.config.metrics_namespace,
            new_findings,
            &self.accounts,
            now,
        ) {
            self.print_emf(&line);
        }
    }

    fn print_emf(&self, line: &Value) {
        println!("{}", to_canonical_string(line));
    }

    /// Sends the alerts the state's outbox holds, then updates the outbox with what
    /// PutEvents answered ([`update_outbox`]: accepted entries removed, entries refused
    /// for good set aside, the rest kept), as a conditional update of the state retried
    /// when another invocation changed it meanwhile. A failed publish is not an error
    /// of the invocation (its work is saved; the outbox is how alerts are retried, by
    /// the next invocation): it is logged and reported. Undeliverable and cut-down
    /// alerts are logged one line each.
    async fn publish_outbox(
        &self,
        publisher: &FindingPublisher,
        now: EpochMillis,
    ) -> Result<AlertsOutcome, StorageError> {
        let storage = self.storage();
        let (state, _) = blocking_state(storage.clone(), |storage| State::load(storage)).await?;
        let pending: Vec<Value> = pending_alerts(&state).into_iter().cloned().collect();
        let mut outcome = AlertsOutcome {
            undeliverable_total: undeliverable_alerts(&state).len(),
            ..AlertsOutcome::default()
        };
        if pending.is_empty() {
            return Ok(outcome);
        }
        let report = publisher.publish(&pending).await;
        log_publish_report(&publisher.bus, &report);
        outcome.sent = report.accepted();
        outcome.truncated = report.truncated.len();
        outcome.requests = report.requests;
        outcome.error = report.error.clone();
        outcome.waiting = pending.len() - report.accepted() - report.undeliverable();
        if report.accepted() == 0 && report.undeliverable() == 0 {
            return Ok(outcome);
        }
        let report = Arc::new(report);
        for _ in 0..20 {
            let report = Arc::clone(&report);
            let saved = blocking_state(storage.clone(), move |storage| {
                let (mut state, version) = State::load(storage)?;
                let update = update_outbox(std::mem::take(&mut state.outbox), &report, now);
                let set_aside = update.set_aside.len();
                apply_outbox_update(&mut state, update);
                let counts = (
                    set_aside,
                    pending_alerts(&state).len(),
                    undeliverable_alerts(&state).len(),
                );
                Ok(state
                    .save_if(storage, version.as_deref())?
                    .then_some(counts))
            })
            .await?;
            if let Some((set_aside, waiting, undeliverable_total)) = saved {
                outcome.set_aside = set_aside;
                outcome.waiting = waiting;
                outcome.undeliverable_total = undeliverable_total;
                return Ok(outcome);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(StorageError::Remote {
            location: storage.locate(sessiontrail_correlate::state::STATE_FILE),
            message: "the state kept changing while updating the outbox after a publish".into(),
        })
    }

    /// Writes the report of `month` to `OUT/reports/YYYY-MM/` (report.html, report.md,
    /// then report.json) if it is not there yet and is final at `now`.
    ///
    /// Final means the policy's grace has passed since the month's end and no session
    /// of the month is still pending in the dataset (the sweep of the same invocation
    /// ran just before). Until then nothing is written and the outcome says why: every
    /// scheduled invocation tries again (the template's schedule runs every 15
    /// minutes), and the first one after the month is final writes it. So a report in
    /// `reports/` is never provisional, and is written once: `report.json` is put only
    /// if absent (`If-None-Match: *`), so of two racing invocations one writes it, and
    /// its presence stops every later attempt.
    ///
    /// The report reads the partitions [`partitions_needed`] names (the month and the
    /// whole previous month), copied from the dataset to a temporary folder.
    pub async fn write_monthly_report_once(
        &self,
        month: Month,
        now: EpochMillis,
    ) -> Result<MonthlyReportOutcome, String> {
        let folder = format!("{}reports/{month}/", self.config.out.folder());
        let marker = self.config.out.with_key(&format!("{folder}{JSON_FILE}"));
        if self
            .s3
            .get_exists(&marker)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(MonthlyReportOutcome::AlreadyWritten);
        }
        let work = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
        let data = work.path().join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        mirror_dataset(&self.s3, &self.config.out, &data, &partitions_needed(month))
            .await
            .map_err(|e| e.to_string())?;
        let policy = self.policy().await.map_err(|e| e.to_string())?;
        let settings = ReportSettings {
            min_attribution_rate: policy.min_attribution_rate,
            as_of: Some(chrono::DateTime::from_timestamp_millis(now).unwrap_or_default()),
            grace: policy.grace,
        };
        let report = compute_monthly_report(&data, month, &settings)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(reason) = report.finality.provisional_reason() {
            return Ok(MonthlyReportOutcome::NotFinal { reason });
        }
        for (name, text) in rendered_files(&report) {
            let url = self.config.out.with_key(&format!("{folder}{name}"));
            // report.json last, and only if absent.
            let condition = (name == JSON_FILE).then_some(None);
            let put = self
                .s3
                .put(&url, text.as_bytes(), condition)
                .await
                .map_err(|e| e.to_string())?;
            if name == JSON_FILE && !put {
                return Ok(MonthlyReportOutcome::AlreadyWritten);
            }
        }
        Ok(MonthlyReportOutcome::Written)
    }
}

/// What a scheduled invocation did about the previous month's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonthlyReportOutcome {
    /// It wrote `reports/YYYY-MM/`.
    Written,
    /// `reports/YYYY-MM/report.json` was already there (an earlier invocation wrote it).
    AlreadyWritten,
    /// The month's figures can still change (why in `reason`): nothing written, a later
    /// schedule tries again.
    NotFinal { reason: String },
}

impl MonthlyReportOutcome {
    /// The invocation outcome's `monthly_report` member.
    pub fn to_json(&self, month: Month) -> Value {
        let month = month.to_string();
        match self {
            MonthlyReportOutcome::Written => json!({"month": month, "written": true}),
            MonthlyReportOutcome::AlreadyWritten => {
                json!({"month": month, "written": false, "already_written": true})
            }
            MonthlyReportOutcome::NotFinal { reason } => json!({
                "month": month,
                "written": false,
                "final": false,
                "provisional_reason": reason,
            }),
        }
    }
}

/// What an invocation did with the outbox (its `alerts` outcome member).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertsOutcome {
    /// Accepted by PutEvents.
    pub sent: usize,
    /// Sent cut down.
    pub truncated: usize,
    /// Set aside as undeliverable in this invocation.
    pub set_aside: usize,
    /// Left in the outbox for the next invocation.
    pub waiting: usize,
    /// Undeliverable alerts in the state, this invocation's included.
    pub undeliverable_total: usize,
    pub requests: usize,
    pub error: Option<String>,
}

impl AlertsOutcome {
    pub fn to_json(&self) -> Value {
        json!({
            "sent": self.sent,
            "truncated": self.truncated,
            "undeliverable": self.set_aside,
            "undeliverable_total": self.undeliverable_total,
            "waiting": self.waiting,
            "requests": self.requests,
            "error": self.error,
        })
    }
}

/// One line per alert set aside or cut down, and one for a publish that stopped.
fn log_publish_report(bus: &str, report: &PublishReport) {
    for (finding_id, outcome) in &report.outcomes {
        if let Outcome::Undeliverable { code, message } = outcome {
            tracing::error!(
                finding_id = %finding_id,
                error_code = %code,
                "alert undeliverable: PutEvents refused it for good ({code}: {}); set aside in the state, not sent again",
                clip(message)
            );
        }
    }
    for finding_id in &report.truncated {
        tracing::warn!(
            finding_id = %finding_id,
            "alert cut down to fit PutEvents' limits; the whole finding is in the dataset's findings/"
        );
    }
    if let Some(error) = &report.error {
        tracing::error!(
            event_bus = %bus,
            waiting = report.waiting(),
            "publishing findings to the event bus {bus}: {error}; {} alerts wait in the outbox for the next invocation",
            report.waiting()
        );
    }
}

fn state_storage_error(err: StateError) -> StorageError {
    match err {
        StateError::Storage(source) => source,
        other => StorageError::Remote {
            location: sessiontrail_correlate::state::STATE_FILE.into(),
            message: other.to_string(),
        },
    }
}

async fn blocking_state<T: Send + 'static>(
    storage: DatasetStorage,
    work: impl FnOnce(&DatasetStorage) -> Result<T, StateError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(move || work(&storage))
        .await
        .expect("state work does not panic")
        .map_err(state_storage_error)
}

/// Loads a policy from an `s3://` URL or a path.
pub async fn load_policy(s3: &S3, location: &str) -> Result<Policy, InvocationError> {
    Ok(load_policy_versioned(s3, location).await?.0)
}

/// A policy from an `s3://` URL (with the object's ETag) or a path (no ETag).
async fn load_policy_versioned(
    s3: &S3,
    location: &str,
) -> Result<(Policy, Option<String>), InvocationError> {
    let error = |message: String| InvocationError::Policy {
        location: location.to_string(),
        message,
    };
    if S3Url::is_s3(location) {
        let url = S3Url::parse(location).map_err(|e| error(e.to_string()))?;
        let stored = s3
            .get(&url)
            .await
            .map_err(|e| error(e.to_string()))?
            .ok_or_else(|| error("no such object".into()))?;
        let text = String::from_utf8(stored.bytes).map_err(|e| error(e.to_string()))?;
        Ok((Policy::parse(&text).map_err(error)?, Some(stored.version)))
    } else {
        let policy =
            Policy::load(std::path::Path::new(location)).map_err(|e| error(e.to_string()))?;
        Ok((policy, None))
    }
}

/// Whether an object's key names a CloudTrail digest file (not an Insight file).
fn is_digest_key(key: &str) -> bool {
    parse_digest_file_name(key.rsplit('/').next().unwrap_or(key)).is_ok()
}

fn summary_json(summary: &RunSummary) -> Value {
    json!({
        "session_events": summary.cloudtrail.session_events,
        "broker_records": summary.broker.records,
        "rejects": summary.rejects.len(),
        "sessions": summary.sessions_by_status.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "new_findings": summary.new_findings.len(),
        "partitions_rewritten": summary.partitions_rewritten,
        "lost_races": summary.lost_races,
    })
}

fn event_id(event: &Value) -> String {
    event
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("(no id)")
        .to_string()
}

/// A refused event: understood, not allowed, nothing read or written.
fn log_refused(event_id: &str, reason: &str) {
    tracing::warn!(
        event_id = %event_id,
        refused = true,
        reason = %reason,
        "event refused, nothing read or written: {reason}"
    );
}

/// An invocation that fails (EventBridge retries it, then the DLQ keeps the event).
fn log_failed(event_id: &str, err: &InvocationError) {
    tracing::error!(event_id = %event_id, "{err}");
}

/// An invocation that did its work: `outcome` is its answer, as canonical JSON text.
fn log_done(trigger: &Trigger, outcome: &Value) {
    tracing::info!(
        event_id = %trigger.id(),
        trigger = trigger.kind(),
        outcome = %to_canonical_string(outcome),
        "event handled"
    );
}

/// The function's log subscriber: every [`tracing`] event as one JSON object per line
/// on `writer` (the function gives stderr; EMF lines go to stdout), its fields at the
/// top level next to `timestamp`, `level` (`INFO`, `WARN`, `ERROR`), `message` and
/// `target`. `RUST_LOG` filters (default: `info` for sessiontrail's crates, `warn` for
/// the rest, such as the AWS SDK and the Lambda runtime).
pub fn json_log_subscriber<W>(writer: W) -> impl tracing::Subscriber + Send + Sync + 'static
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        .with_env_filter(filter)
        .finish()
}

/// What is logged unless `RUST_LOG` says otherwise.
pub const DEFAULT_LOG_FILTER: &str = "warn,sessiontrail_aws=info,sessiontrail_correlate=info,sessiontrail_ingest=info,sessiontrail_report=info,sessiontrail_lambda=info";

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LambdaConfig {
        LambdaConfig::from_env(|name| {
            match name {
                "SESSIONTRAIL_OUT" => Some("s3://audit-out/sessiontrail"),
                "SESSIONTRAIL_POLICY" => Some("p.toml"),
                "SESSIONTRAIL_CLOUDTRAIL" => Some("s3://trail/AWSLogs/"),
                "SESSIONTRAIL_BROKER_LOG" => Some("s3://broker-logs/broker/"),
                _ => None,
            }
            .map(str::to_string)
        })
        .unwrap()
    }

    fn accounts() -> Accounts {
        Accounts::parse("300226798666, 111122223333").unwrap()
    }

    fn api_call() -> Value {
        json!({"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm",
            "account":"300226798666","region":"eu-west-1",
            "detail":{"eventSource":"ssm.amazonaws.com","eventName":"StartSession",
                "recipientAccountId":"300226798666","awsRegion":"eu-west-1"}})
    }

    #[test]
    fn tells_the_three_triggers_apart() {
        let api = api_call();
        assert_eq!(
            classify(&api, &config(), &accounts()).unwrap().kind(),
            "cloudtrail_api_call"
        );
        let created = json!({"version":"0","id":"e2","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/x.json.gz"}}});
        assert_eq!(
            classify(&created, &config(), &accounts()).unwrap(),
            Trigger::ObjectCreated {
                id: "e2".into(),
                bucket: "trail".into(),
                key: "AWSLogs/1/CloudTrail/x.json.gz".into()
            }
        );
        let scheduled = json!({"version":"0","id":"e3","detail-type":"Scheduled Event","source":"aws.events","detail":{}});
        assert_eq!(
            classify(&scheduled, &config(), &accounts()).unwrap(),
            Trigger::Scheduled { id: "e3".into() }
        );
    }

    #[test]
    fn a_malformed_event_is_an_error_naming_its_id() {
        for (event, needle) in [
            (json!({"id":"x1"}), "no detail-type"),
            (
                json!({"id":"x2","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"}}}),
                "object.key",
            ),
            (
                json!({"id":"x4","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm","detail":"text"}),
                "detail object",
            ),
            (
                json!({"id":"x5","detail-type":"Something Else","source":"custom"}),
                "no handling",
            ),
        ] {
            let err = classify(&event, &config(), &accounts()).unwrap_err();
            assert!(matches!(err, InvocationError::Malformed { .. }), "{err}");
            let err = err.to_string();
            assert!(err.contains(event["id"].as_str().unwrap()), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    /// What anyone who may invoke the function (or put events on its bus) could send:
    /// each is refused, naming why, and never read.
    #[test]
    fn forged_and_foreign_events_are_refused_naming_why() {
        let with = |path: &[&str], value: Value| {
            let mut event = api_call();
            let mut at = &mut event;
            for key in &path[..path.len() - 1] {
                at = &mut at[*key];
            }
            at[path[path.len() - 1]] = value;
            event
        };
        let created = |source: &str, bucket: &str, key: &str| {
            json!({"id":"c1","detail-type":"Object Created","source":source,"account":"999999999999",
                "detail":{"bucket":{"name":bucket},"object":{"key":key}}})
        };
        for (event, needle) in [
            // A custom application's PutEvents cannot use an aws.* source.
            (with(&["source"], json!("attacker.app")), "\"attacker.app\""),
            (
                with(&["source"], json!("aws.ec2")),
                "from source \"aws.ec2\"",
            ),
            (
                with(&["detail", "eventSource"], json!("ec2.amazonaws.com")),
                "not ssm.amazonaws.com",
            ),
            (
                with(&["account"], json!("999999999999")),
                "account Some(\"999999999999\") is not in SESSIONTRAIL_ACCOUNTS",
            ),
            (
                with(&["account"], Value::Null),
                "account None is not in SESSIONTRAIL_ACCOUNTS",
            ),
            (
                with(&["detail", "recipientAccountId"], json!("111122223333")),
                "recipientAccountId \"111122223333\" is not the event's account \"300226798666\"",
            ),
            (
                with(&["detail", "awsRegion"], json!("us-east-1")),
                "awsRegion \"us-east-1\"",
            ),
            (
                created("attacker.app", "trail", "AWSLogs/x.json.gz"),
                "not aws.s3",
            ),
            (
                created("aws.s3", "attacker-bucket", "AWSLogs/x.json.gz"),
                "s3://attacker-bucket/AWSLogs/x.json.gz is under neither",
            ),
            // The function's own dataset is no input.
            (
                created("aws.s3", "audit-out", "sessiontrail/state/state.jsonl.gz"),
                "is under neither",
            ),
            (
                created("aws.s3", "broker-logs", "brokers/x.jsonl"),
                "is under neither",
            ),
            (
                json!({"id":"s1","detail-type":"Scheduled Event","source":"attacker.app"}),
                "not aws.events",
            ),
        ] {
            let err = classify(&event, &config(), &accounts()).unwrap_err();
            let InvocationError::Refused { reason, .. } = &err else {
                panic!("{event}: {err} is not a refusal");
            };
            assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
        }
        // Without SESSIONTRAIL_ACCOUNTS any account is taken, but the record must
        // still agree with its envelope.
        let other = with(&["account"], json!("999999999999"));
        assert!(classify(&other, &config(), &Accounts::any()).is_err());
        let mut other = other;
        other["detail"]["recipientAccountId"] = json!("999999999999");
        assert!(classify(&other, &config(), &Accounts::any()).is_ok());
        assert!(classify(&other, &config(), &accounts()).is_err());
    }

    /// What the function's log subscriber writes for a log call: its JSON lines, parsed.
    fn logged(log: impl FnOnce()) -> Vec<Value> {
        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let captured = Captured::default();
        let writer = captured.clone();
        tracing::subscriber::with_default(json_log_subscriber(move || writer.clone()), log);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn logs_are_json_lines_with_their_fields_at_the_top_level() {
        let lines = logged(|| log_refused("e1", "account \"9\" is not in SESSIONTRAIL_ACCOUNTS"));
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["event_id"], "e1", "{line}");
        assert_eq!(line["refused"], true, "{line}");
        assert_eq!(
            line["reason"], "account \"9\" is not in SESSIONTRAIL_ACCOUNTS",
            "{line}"
        );
        assert!(
            line["message"]
                .as_str()
                .unwrap()
                .starts_with("event refused, nothing read or written: account"),
            "{line}"
        );
        assert_eq!(line["target"], "sessiontrail_aws::lambda_handler", "{line}");
        assert!(line["timestamp"].is_string(), "{line}");

        let err = classify(&json!({"id": "x1"}), &config(), &accounts()).unwrap_err();
        let lines = logged(|| log_failed("x1", &err));
        assert_eq!(lines[0]["level"], "ERROR", "{:?}", lines);
        assert_eq!(lines[0]["event_id"], "x1");
        assert_eq!(lines[0]["message"], err.to_string());

        let trigger = Trigger::Scheduled { id: "s1".into() };
        let outcome = json!({"sessions": {"attributed": 2}, "new_findings": 0});
        let lines = logged(|| log_done(&trigger, &outcome));
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["trigger"], "scheduled");
        let logged_outcome: Value =
            serde_json::from_str(lines[0]["outcome"].as_str().unwrap()).unwrap();
        assert_eq!(logged_outcome, outcome);
    }

    #[test]
    fn untrusted_text_in_a_refusal_is_clipped() {
        let long = "x".repeat(100_000);
        let event = json!({"id": long, "detail-type":"Object Created","source": long,
            "detail":{"bucket":{"name":"b"},"object":{"key":"k"}}});
        let err = classify(&event, &config(), &accounts()).unwrap_err();
        assert!(err.to_string().len() < 600, "{}", err.to_string().len());
    }
}
