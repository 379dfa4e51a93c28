//! One Lambda invocation: what triggered it, and the run it makes.
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

use std::sync::Arc;

use serde_json::{Value, json};
use sessiontrail_correlate::state::State;
use sessiontrail_correlate::storage::{Storage, StorageError};
use sessiontrail_correlate::{Inputs, Policy, RunError, RunSettings, RunSummary, run_on};
use sessiontrail_ingest::canonical_json::to_canonical_string;
use sessiontrail_ingest::cloudtrail::read_cloudtrail_object;
use sessiontrail_ingest::input_files::{ReadBuffers, is_digest_or_insight};
use sessiontrail_ingest::time::EpochMillis;
use sessiontrail_report::monthly_report::{JSON_FILE, Month, rendered_files};
use sessiontrail_report::{ReportSettings, compute_monthly_report, partitions_needed};

use crate::alerts::{FindingPublisher, PublishError, emf_lines, outbox_ids, remove_sent};
use crate::lambda_config::LambdaConfig;
use crate::mirror::mirror_dataset;
use crate::s3::{S3, S3Storage};
use crate::s3_inputs::{read_broker_log_objects, read_cloudtrail_objects};
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
    #[error("event {id}: {source}")]
    Publish {
        id: String,
        #[source]
        source: PublishError,
    },
    #[error("event {id}: monthly report: {message}")]
    Report { id: String, message: String },
    #[error("policy {location}: {message}")]
    Policy { location: String, message: String },
}

/// Reads what an EventBridge event is about. Only the envelope is checked here; a
/// CloudTrail record's own fields are the reader's business.
pub fn classify(event: &Value) -> Result<Trigger, InvocationError> {
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("(no id)")
        .to_string();
    let malformed = |reason: String| InvocationError::Malformed {
        id: id.clone(),
        reason,
    };
    let text = |name: &str| event.get(name).and_then(Value::as_str);
    let detail_type = text("detail-type")
        .ok_or_else(|| malformed("not an EventBridge event: no detail-type".into()))?;
    let source = text("source").unwrap_or_default();
    match (source, detail_type) {
        (_, "AWS API Call via CloudTrail") => {
            let detail = event
                .get("detail")
                .filter(|d| d.is_object())
                .ok_or_else(|| {
                    malformed("a CloudTrail API call event without a detail object".into())
                })?;
            if detail.get("eventSource").and_then(Value::as_str) != Some("ssm.amazonaws.com") {
                return Err(malformed(format!(
                    "a CloudTrail API call from {:?}, not ssm.amazonaws.com (check the rule's pattern)",
                    detail.get("eventSource")
                )));
            }
            Ok(Trigger::CloudTrailApiCall {
                id,
                event: event.clone(),
            })
        }
        ("aws.s3", "Object Created") => {
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
            Ok(Trigger::ObjectCreated { id, bucket, key })
        }
        ("aws.events" | "aws.scheduler", "Scheduled Event") => Ok(Trigger::Scheduled { id }),
        (source, detail_type) => Err(malformed(format!(
            "no handling for source {source:?} detail-type {detail_type:?}"
        ))),
    }
}

/// The function's clients and configuration, made once per cold start.
#[derive(Debug, Clone)]
pub struct Handler {
    pub config: LambdaConfig,
    pub s3: S3,
    pub publisher: Option<FindingPublisher>,
    pub policy: Arc<Policy>,
}

impl Handler {
    /// Loads the policy (from S3 or the package) and builds the clients.
    pub async fn new(
        config: LambdaConfig,
        s3: S3,
        eventbridge: aws_sdk_eventbridge::Client,
    ) -> Result<Handler, InvocationError> {
        let policy = load_policy(&s3, &config.policy).await?;
        let publisher = config.event_bus.clone().map(|bus| FindingPublisher {
            client: eventbridge,
            bus,
        });
        Ok(Handler {
            config,
            s3,
            publisher,
            policy: Arc::new(policy),
        })
    }

    /// The handler of a function: configuration from the environment, clients from the
    /// default AWS configuration.
    pub async fn from_env() -> Result<Handler, Box<dyn std::error::Error + Send + Sync>> {
        let config = LambdaConfig::from_env(|name| std::env::var(name).ok())?;
        let sdk = crate::s3::load_aws_config().await;
        let s3 = S3::new(
            crate::s3::s3_client(&sdk),
            tokio::runtime::Handle::current(),
        );
        let eventbridge = aws_sdk_eventbridge::Client::new(&sdk);
        Ok(Handler::new(config, s3, eventbridge).await?)
    }

    /// The instant an invocation measures grace at: `SESSIONTRAIL_AS_OF`, else now.
    pub fn now(&self) -> EpochMillis {
        self.config
            .as_of
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
    }

    /// Handles one event; `now` is the instant grace is measured at.
    pub async fn handle(&self, event: Value, now: EpochMillis) -> Result<Value, InvocationError> {
        let trigger = match classify(&event) {
            Ok(trigger) => trigger,
            Err(err) => {
                log("error", &err.to_string(), &event_id(&event));
                return Err(err);
            }
        };
        let started = std::time::Instant::now();
        let mut result = self.handle_trigger(&trigger, now).await;
        if let Ok(outcome) = &mut result {
            outcome["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
        }
        match &result {
            Ok(outcome) => log_value(json!({
                "level": "info",
                "event_id": trigger.id(),
                "trigger": trigger.kind(),
                "outcome": outcome,
            })),
            Err(err) => log("error", &err.to_string(), trigger.id()),
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
                    broker: Default::default(),
                }
            }
            Trigger::ObjectCreated { bucket, key, .. } => {
                let url = S3Url {
                    bucket: bucket.clone(),
                    key: key.clone(),
                };
                if self
                    .config
                    .broker_logs
                    .iter()
                    .any(|b| b.contains(bucket, key))
                {
                    let broker = read_broker_log_objects(&self.s3, vec![url])
                        .await
                        .map_err(storage_err)?;
                    Inputs {
                        cloudtrail: Default::default(),
                        broker,
                    }
                } else if self
                    .config
                    .cloudtrail
                    .iter()
                    .any(|c| c.contains(bucket, key))
                {
                    if is_digest_or_insight(std::path::Path::new(key)) {
                        return Ok(json!({"ignored": "a CloudTrail digest or insight file"}));
                    }
                    let cloudtrail = read_cloudtrail_objects(&self.s3, vec![url], &|_, _| {})
                        .await
                        .map_err(storage_err)?;
                    Inputs {
                        cloudtrail,
                        broker: Default::default(),
                    }
                } else {
                    return Ok(json!({
                        "ignored": format!("s3://{bucket}/{key} is under neither SESSIONTRAIL_CLOUDTRAIL nor SESSIONTRAIL_BROKER_LOG")
                    }));
                }
            }
            Trigger::Scheduled { .. } => Inputs::default(),
        };
        let nothing_to_add = inputs.cloudtrail.events.is_empty()
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
            let summary = self
                .run(inputs, now)
                .await
                .map_err(|source| InvocationError::Run {
                    id: id.clone(),
                    source,
                })?;
            self.emit_metrics(&summary.new_findings, now);
            outcome = summary_json(&summary);
        }
        if let Some(publisher) = &self.publisher {
            let published = self
                .publish_outbox(publisher)
                .await
                .map_err(|err| match err {
                    OutboxError::Storage(source) => InvocationError::Storage {
                        id: id.clone(),
                        source,
                    },
                    OutboxError::Publish(source) => InvocationError::Publish {
                        id: id.clone(),
                        source,
                    },
                })?;
            outcome["published"] = json!(published);
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

    fn storage(&self) -> S3Storage {
        S3Storage::new(self.s3.clone(), self.config.out.clone())
    }

    async fn run(&self, inputs: Inputs, now: EpochMillis) -> Result<RunSummary, RunError> {
        let storage = self.storage();
        let policy = Arc::clone(&self.policy);
        let settings = RunSettings {
            as_of: Some(now),
            outbox: self.publisher.is_some(),
        };
        tokio::task::spawn_blocking(move || run_on(&policy, &storage, inputs, &settings))
            .await
            .expect("the correlation task does not panic")
    }

    fn emit_metrics(&self, new_findings: &[sessiontrail_correlate::Finding], now: EpochMillis) {
        for line in emf_lines(&self.config.metrics_namespace, new_findings, now) {
            println!("{}", to_canonical_string(&line));
        }
    }

    /// Sends what the state's outbox holds, then removes what was sent (a conditional
    /// update, retried when another invocation changed the state meanwhile).
    async fn publish_outbox(&self, publisher: &FindingPublisher) -> Result<usize, OutboxError> {
        let storage = self.storage();
        let (state, _) = blocking_state(storage.clone(), |storage| State::load(storage)).await?;
        if state.outbox.is_empty() {
            return Ok(0);
        }
        let sent = publisher
            .publish(&state.outbox)
            .await
            .map_err(OutboxError::Publish)?;
        let ids = outbox_ids(&state.outbox[..sent]);
        for _ in 0..20 {
            let ids = ids.clone();
            let saved = blocking_state(storage.clone(), move |storage| {
                let (mut state, version) = State::load(storage)?;
                remove_sent(&mut state, &ids);
                state.save_if(storage, version.as_deref())
            })
            .await?;
            if saved {
                return Ok(sent);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(OutboxError::Storage(StorageError::Remote {
            location: storage.locate(sessiontrail_correlate::state::STATE_FILE),
            message: "the state kept changing while removing sent findings from the outbox".into(),
        }))
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
        let settings = ReportSettings {
            min_attribution_rate: self.policy.min_attribution_rate,
            as_of: Some(chrono::DateTime::from_timestamp_millis(now).unwrap_or_default()),
            grace: self.policy.grace,
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

enum OutboxError {
    Storage(StorageError),
    Publish(PublishError),
}

impl From<sessiontrail_correlate::state::StateError> for OutboxError {
    fn from(err: sessiontrail_correlate::state::StateError) -> Self {
        OutboxError::Storage(StorageError::Remote {
            location: "state".into(),
            message: err.to_string(),
        })
    }
}

async fn blocking_state<T: Send + 'static>(
    storage: S3Storage,
    work: impl FnOnce(&S3Storage) -> Result<T, sessiontrail_correlate::state::StateError>
    + Send
    + 'static,
) -> Result<T, OutboxError> {
    Ok(tokio::task::spawn_blocking(move || work(&storage))
        .await
        .expect("state work does not panic")?)
}

/// Loads a policy from an `s3://` URL or a path.
pub async fn load_policy(s3: &S3, location: &str) -> Result<Policy, InvocationError> {
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
        Policy::parse(&text).map_err(error)
    } else {
        Policy::load(std::path::Path::new(location)).map_err(|e| error(e.to_string()))
    }
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

fn log(level: &str, message: &str, event_id: &str) {
    log_value(json!({"level": level, "event_id": event_id, "message": message}));
}

/// One JSON log line on stderr (CloudWatch Logs keeps both streams; EMF lines go to
/// stdout).
fn log_value(value: Value) {
    eprintln!("{}", to_canonical_string(&value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_three_triggers_apart() {
        let api = json!({"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.ssm",
            "detail":{"eventSource":"ssm.amazonaws.com","eventName":"StartSession"}});
        assert_eq!(classify(&api).unwrap().kind(), "cloudtrail_api_call");
        let created = json!({"version":"0","id":"e2","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/x.json.gz"}}});
        assert_eq!(
            classify(&created).unwrap(),
            Trigger::ObjectCreated {
                id: "e2".into(),
                bucket: "trail".into(),
                key: "AWSLogs/1/CloudTrail/x.json.gz".into()
            }
        );
        let scheduled = json!({"version":"0","id":"e3","detail-type":"Scheduled Event","source":"aws.events","detail":{}});
        assert_eq!(
            classify(&scheduled).unwrap(),
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
                json!({"id":"x3","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","detail":{"eventSource":"ec2.amazonaws.com"}}),
                "not ssm",
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
            let err = classify(&event).unwrap_err().to_string();
            assert!(err.contains(event["id"].as_str().unwrap()), "{err}");
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }
}
