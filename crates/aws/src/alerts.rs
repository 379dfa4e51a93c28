//! Alerts: one CloudWatch Embedded Metric Format line per invocation, and each new
//! finding published once to an EventBridge bus.
//!
//! EMF: namespace `SessionTrail` (configurable), one metric per rule id and per severity
//! (`severity_critical`, ...), counts of the findings new in this invocation, with two
//! dimension sets: `Account` and none (the aggregate alarms watch, so an alarm needs no
//! account list). A line per account with new findings; an invocation without new
//! findings prints one aggregate line of zeros, so the metric has data points. The
//! `Account` dimension takes only the accounts of `SESSIONTRAIL_ACCOUNTS` (others are
//! counted under `other`): account ids come from input, and each value is a metric.
//!
//! EventBridge: source `sessiontrail`, detail-type `SessionTrail Finding`, detail the
//! finding's JSON (its `finding_id` is stable, for consumers that deduplicate). New
//! findings wait in the state's outbox until they are sent; a finding leaves the outbox
//! only after PutEvents accepted it, so a publisher that dies mid-way is followed by
//! one that sends the rest (at least once then; exactly once otherwise).
//!
//! PutEvents' limits are kept: an entry's size is computed as AWS computes it
//! ([`entry_size`]), an entry larger than [`MAX_ENTRY_BYTES`] carries its finding cut
//! down with where to read it whole ([`alert_detail`]), and requests are filled up to 10
//! entries and less than 256 KB ([`batches`]). PutEvents answers per entry: what it
//! accepted leaves the outbox even when another entry or a later request fails; entries
//! refused for a transient reason (throttling, internal failure) are retried and, if
//! still refused, wait for the next invocation; entries refused for good (malformed,
//! invalid) are set aside as undeliverable: logged, counted, kept in the state, never
//! sent again ([`update_outbox`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::Client as EventBridgeClient;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Map, Value, json};
use sessiontrail_correlate::rule::{Rule, Severity};
use sessiontrail_correlate::{Finding, state::State};
use sessiontrail_ingest::canonical_json::to_canonical_string;
use sessiontrail_ingest::time::{
    EpochMillis, format_rfc3339_millis, parse_rfc3339_millis, utc_date,
};

use crate::lambda_config::Accounts;

pub const DEFAULT_NAMESPACE: &str = "SessionTrail";
pub const EVENT_SOURCE: &str = "sessiontrail";
pub const EVENT_DETAIL_TYPE: &str = "SessionTrail Finding";
/// PutEvents takes at most 10 entries per request.
pub const PUT_EVENTS_MAX_ENTRIES: usize = 10;
/// PutEvents: "the total entry size must be less than 256KB" per request.
pub const PUT_EVENTS_MAX_BYTES: usize = 262_144;
/// The largest entry sent: a quarter of a request (so a request holds at least 4), and
/// well under SNS's 256 KB message limit once EventBridge wraps the detail in its event.
pub const MAX_ENTRY_BYTES: usize = 65_536;
/// Attempts per entry refused for a transient reason, within one invocation.
const ATTEMPTS: u32 = 5;
/// Publishing stops after this long; what is left waits for the next invocation.
const PUBLISH_BUDGET: Duration = Duration::from_secs(30);

/// The EMF lines of one invocation (`timestamp` in epoch ms); print each with
/// [`to_canonical_string`]. The `Account` dimension is `accounts`' (see
/// [`Accounts::dimension`]).
pub fn emf_lines(
    namespace: &str,
    new_findings: &[Finding],
    accounts: &Accounts,
    timestamp: i64,
) -> Vec<Value> {
    let mut by_account: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in new_findings {
        by_account
            .entry(accounts.dimension(finding.account_id.as_deref()))
            .or_default()
            .push(finding);
    }
    if by_account.is_empty() {
        return vec![emf_line(namespace, None, &[], timestamp)];
    }
    by_account
        .iter()
        .map(|(account, findings)| emf_line(namespace, Some(account), findings, timestamp))
        .collect()
}

fn emf_line(
    namespace: &str,
    account: Option<&str>,
    findings: &[&Finding],
    timestamp: i64,
) -> Value {
    let mut root = Map::new();
    let mut metrics = Vec::new();
    for rule in Rule::ALL {
        let count = findings.iter().filter(|f| f.rule == rule).count();
        metrics.push(json!({"Name": rule.as_str(), "Unit": "Count"}));
        root.insert(rule.as_str().to_string(), json!(count));
    }
    for severity in Severity::ALL {
        let name = format!("severity_{}", severity.as_str());
        let count = findings.iter().filter(|f| f.severity() == severity).count();
        metrics.push(json!({"Name": name, "Unit": "Count"}));
        root.insert(name, json!(count));
    }
    let dimensions = match account {
        Some(account) => {
            root.insert("Account".into(), json!(account));
            json!([["Account"], []])
        }
        None => json!([[]]),
    };
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}

/// One EMF line of counts without dimensions (the publisher's `alerts_*`, the refused
/// events' `events_refused`).
pub fn emf_counts(namespace: &str, counts: &[(&str, u64)], timestamp: i64) -> Value {
    let mut root = Map::new();
    let metrics: Vec<Value> = counts
        .iter()
        .map(|(name, count)| {
            root.insert(name.to_string(), json!(count));
            json!({"Name": name, "Unit": "Count"})
        })
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [[]], "Metrics": metrics}],
        }),
    );
    Value::Object(root)
}

/// The size of a PutEvents entry as AWS computes it ("Calculating PutEvents event entry
/// size"): 14 bytes for `Time` if present, the UTF-8 bytes of `Source`, `DetailType`,
/// `Detail` and of each of `Resources`. `EventBusName` is counted too (AWS's formula
/// leaves it out; the request carries it, and counting it only leaves a margin).
pub fn entry_size(entry: &PutEventsRequestEntry) -> usize {
    let text = |s: Option<&str>| s.map_or(0, str::len);
    (if entry.time().is_some() { 14 } else { 0 })
        + text(entry.source())
        + text(entry.detail_type())
        + text(entry.detail())
        + entry.resources().iter().map(String::len).sum::<usize>()
        + text(entry.event_bus_name())
}

/// Requests for entries of these sizes, in order: at most [`PUT_EVENTS_MAX_ENTRIES`]
/// entries and less than [`PUT_EVENTS_MAX_BYTES`] each (an entry too large on its own,
/// which [`alert_detail`] prevents, goes alone).
pub fn batches(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (index, &size) in sizes.iter().enumerate() {
        if !current.is_empty()
            && (current.len() == PUT_EVENTS_MAX_ENTRIES || bytes + size >= PUT_EVENTS_MAX_BYTES)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(index);
        bytes += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Text cut to at most `max` bytes (at a character boundary), ending in `…` when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A value cut down: strings to `max_string` bytes, arrays and objects to their first
/// `max_items` members (object keys cut too), nesting to `depth` levels.
fn shrink(value: &Value, max_string: usize, max_items: usize, depth: usize) -> Value {
    match value {
        Value::String(text) => Value::String(cut(text, max_string)),
        Value::Array(_) | Value::Object(_) if depth == 0 => Value::String("…".into()),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .take(max_items)
                .map(|v| shrink(v, max_string, max_items, depth - 1))
                .collect(),
        ),
        Value::Object(members) => {
            // In key order, so the same finding is cut the same way whatever
            // serde_json's features.
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys.into_iter().take(max_items) {
                out.entry(cut(key, max_string))
                    .or_insert_with(|| shrink(&members[key], max_string, max_items, depth - 1));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// Members of a finding kept whole in a cut-down alert (short, computed by sessiontrail).
const KEPT_WHOLE: [&str; 4] = ["finding_id", "rule", "severity", "event_time"];

/// Where a finding can be read whole: its partition of the dataset's `findings/`
/// (`dataset` is the dataset's `s3://` folder, ending in `/`).
pub fn finding_location(finding: &Value, dataset: &str) -> String {
    match finding
        .get("event_time")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_millis)
    {
        Some(time) => format!("{dataset}findings/dt={}/", utc_date(time)),
        None => format!("{dataset}findings/"),
    }
}

/// The `detail` of a finding's event, at most `budget` bytes: the finding's canonical
/// JSON (keys sorted at every depth, the same bytes whatever serde_json's features) if
/// it fits; else the finding cut down (long strings and lists shortened, the evidence
/// last) with a `truncated` member naming the `finding_id`, the size of the whole and
/// where it is (`OUT/findings/dt=YYYY-MM-DD/`). Returns the text, and the size of the
/// whole finding when it was cut.
pub fn alert_detail(finding: &Value, dataset: &str, budget: usize) -> (String, Option<usize>) {
    let whole = event_detail(finding);
    if whole.len() <= budget {
        return (whole, None);
    }
    let finding_id = finding
        .get("finding_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let truncated = json!({
        "finding_id": cut(finding_id, 256),
        "original_bytes": whole.len(),
        "full_finding_at": finding_location(finding, dataset),
    });
    let members = finding.as_object().cloned().unwrap_or_default();
    for (max_string, max_items, depth) in [(4096, 64, 16), (1024, 16, 8), (256, 8, 4), (64, 3, 2)] {
        let mut out = Map::new();
        for (key, value) in &members {
            let value = if KEPT_WHOLE.contains(&key.as_str()) {
                shrink(value, 256, 0, 0)
            } else {
                shrink(value, max_string, max_items, depth)
            };
            out.insert(cut(key, 64), value);
        }
        out.insert("truncated".into(), truncated.clone());
        let text = to_canonical_string(&Value::Object(out));
        if text.len() <= budget {
            return (text, Some(whole.len()));
        }
    }
    // The least: what the finding is, and where to read it.
    let mut out = Map::new();
    for key in KEPT_WHOLE {
        if let Some(value) = members.get(key) {
            out.insert(key.into(), shrink(value, 256, 0, 0));
        }
    }
    out.insert("truncated".into(), truncated);
    (to_canonical_string(&Value::Object(out)), Some(whole.len()))
}

/// The `detail` of a finding's event: its JSON with keys sorted at every depth, the
/// same bytes whatever serde_json's features (consumers that hash or compare
/// events see one text per finding).
pub fn event_detail(finding: &Value) -> String {
    to_canonical_string(finding)
}

/// How a PutEvents error code is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Throttling, internal failure: retried, then left for the next invocation.
    Transient,
    /// About the function's permissions or the bus, the same for every entry (the
    /// source and detail-type are constant): left in the outbox, not retried now.
    Configuration,
    /// About the entry itself (malformed, invalid, and codes not known here): the
    /// entry is set aside as undeliverable and never sent again.
    Permanent,
}

/// The kind of a per-entry `ErrorCode` (or a request's error code). PutEvents
/// documents `InternalFailure` and `ThrottlingException` as retryable;
/// `AccessDeniedException`, `NotAuthorizedForSourceException`,
/// `NotAuthorizedForDetailTypeException`, `InvalidAccountIdException` as not, and they
/// say nothing about one entry; `InvalidArgument`, `MalformedDetail`,
/// `RedactionFailure`, `ValidationException` are about the entry.
pub fn code_kind(code: &str) -> CodeKind {
    match code {
        "InternalFailure"
        | "InternalException"
        | "InternalError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "RequestTimeout"
        | "RequestTimeoutException" => CodeKind::Transient,
        "AccessDeniedException"
        | "NotAuthorizedForSourceException"
        | "NotAuthorizedForDetailTypeException"
        | "InvalidAccountIdException"
        | "ResourceNotFoundException"
        | "UnrecognizedClientException"
        | "ExpiredTokenException" => CodeKind::Configuration,
        code if code.contains("Throttl") => CodeKind::Transient,
        _ => CodeKind::Permanent,
    }
}

/// What became of one outbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// PutEvents accepted it: it leaves the outbox.
    Accepted,
    /// Refused for good: set aside, never sent again.
    Undeliverable { code: String, message: String },
    /// Refused for now, or not tried: it stays in the outbox.
    Waiting { code: String, message: String },
}

/// What one [`FindingPublisher::publish`] did, per outbox entry ([`outbox_key`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublishReport {
    pub outcomes: BTreeMap<String, Outcome>,
    /// Entries sent cut down (larger than [`MAX_ENTRY_BYTES`] whole).
    pub truncated: Vec<String>,
    /// PutEvents requests made.
    pub requests: usize,
    /// Why publishing stopped before every entry had an answer (a request that failed
    /// whole after the SDK's retries, the time budget), or why entries were kept
    /// although refused.
    pub error: Option<String>,
}

impl PublishReport {
    pub fn accepted(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Accepted))
    }

    pub fn undeliverable(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Undeliverable { .. }))
    }

    pub fn waiting(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Waiting { .. }))
    }

    fn count(&self, which: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.values().filter(|o| which(o)).count()
    }

    /// A code that refused every entry it met while nothing was accepted is taken as
    /// the function's or the bus's problem, not the entries': those entries wait.
    fn settle(&mut self) {
        if self.accepted() > 0 {
            return;
        }
        let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
        for outcome in self.outcomes.values() {
            if let Outcome::Undeliverable { code, .. } = outcome {
                *by_code.entry(code.clone()).or_default() += 1;
            }
        }
        for (code, count) in by_code {
            if count < 2 {
                continue;
            }
            for outcome in self.outcomes.values_mut() {
                if let Outcome::Undeliverable { code: c, message } = outcome
                    && *c == code
                {
                    *outcome = Outcome::Waiting {
                        code: code.clone(),
                        message: std::mem::take(message),
                    };
                }
            }
            self.error.get_or_insert_with(|| {
                format!(
                    "PutEvents refused all {count} entries with {code} and accepted none: taken as a problem of the function or the bus, the entries stay in the outbox"
                )
            });
        }
    }
}

/// An outbox entry's identity: its `finding_id` (else its canonical text).
pub fn outbox_key(entry: &Value) -> String {
    match entry.get("finding_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => to_canonical_string(entry),
    }
}

/// A set-aside (undeliverable) alert: the finding, PutEvents' code and message, and
/// when it was set aside.
pub fn undeliverable_record(finding: &Value, code: &str, message: &str, at: EpochMillis) -> Value {
    json!({
        "finding": finding,
        "error_code": cut(code, 256),
        "error_message": cut(message, 1024),
        "set_aside_at": format_rfc3339_millis(at),
    })
}

/// Whether an outbox entry is a set-aside record (see [`apply_outbox_update`]), not a
/// finding to send.
pub fn is_undeliverable_record(entry: &Value) -> bool {
    entry.get("finding_id").is_none()
        && entry.get("finding").is_some_and(Value::is_object)
        && entry.get("error_code").is_some_and(Value::is_string)
}

/// The outbox after a publish: what to keep, and what to set aside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxUpdate {
    /// Entries still to send (refused for now, untried, or added meanwhile by another
    /// invocation), in their order.
    pub keep: Vec<Value>,
    /// Undeliverable records ([`undeliverable_record`]) of the entries refused for good.
    pub set_aside: Vec<Value>,
    /// Entries removed because PutEvents accepted them.
    pub delivered: usize,
}

/// The outbox as it should be after `report`: accepted entries removed, entries
/// refused for good set aside, everything else kept. `outbox` is the state's outbox as
/// loaded for the update (it may hold entries another invocation added since the
/// publish); entries are matched by [`outbox_key`]. Pure.
pub fn update_outbox(outbox: Vec<Value>, report: &PublishReport, at: EpochMillis) -> OutboxUpdate {
    let mut update = OutboxUpdate::default();
    for entry in outbox {
        if is_undeliverable_record(&entry) {
            update.keep.push(entry);
            continue;
        }
        match report.outcomes.get(&outbox_key(&entry)) {
            Some(Outcome::Accepted) => update.delivered += 1,
            Some(Outcome::Undeliverable { code, message }) => update
                .set_aside
                .push(undeliverable_record(&entry, code, message, at)),
            Some(Outcome::Waiting { .. }) | None => update.keep.push(entry),
        }
    }
    update
}

/// Puts an [`OutboxUpdate`] into the state.
///
/// The state has no list of its own for undeliverable alerts yet: until it has, they
/// are kept in the outbox as undeliverable records, which [`pending_alerts`] and the
/// publisher skip, so they are kept with the state and never sent again.
pub fn apply_outbox_update(state: &mut State, update: OutboxUpdate) {
    state.outbox = update.keep;
    state.outbox.extend(update.set_aside);
}

/// The state's undeliverable alerts (see [`apply_outbox_update`]).
pub fn undeliverable_alerts(state: &State) -> Vec<&Value> {
    state
        .outbox
        .iter()
        .filter(|e| is_undeliverable_record(e))
        .collect()
}

/// The state's alerts still to send.
pub fn pending_alerts(state: &State) -> Vec<&Value> {
    state
        .outbox
        .iter()
        .filter(|e| !is_undeliverable_record(e))
        .collect()
}

/// Sends findings to an EventBridge bus.
#[derive(Debug, Clone)]
pub struct FindingPublisher {
    pub client: EventBridgeClient,
    /// A bus name or ARN.
    pub bus: String,
    /// The dataset's `s3://` folder (ending in `/`): where a cut-down alert says its
    /// finding is.
    pub dataset: String,
}

impl FindingPublisher {
    fn entry(&self, detail: String) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(EVENT_DETAIL_TYPE)
            .detail(detail)
            .build()
    }

    /// Sends the outbox's findings (undeliverable records are skipped), each entry
    /// capped at [`MAX_ENTRY_BYTES`], in requests of at most 10 entries and less than
    /// 256 KB. Entries refused for a transient reason are sent again, up to 5 times,
    /// with backoff; a request refused whole as invalid (`ValidationException`) is
    /// split and its entries sent one by one; any other failed request (after the SDK's
    /// own retries) stops publishing, and what has no answer yet waits. Never fails:
    /// the report says what became of each entry.
    pub async fn publish(&self, outbox: &[Value]) -> PublishReport {
        let started = Instant::now();
        let mut report = PublishReport::default();
        let overhead = entry_size(&self.entry(String::new()));
        let budget = MAX_ENTRY_BYTES.saturating_sub(overhead);
        let mut keys: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        let mut seen = BTreeSet::new();
        for finding in outbox.iter().filter(|e| !is_undeliverable_record(e)) {
            let key = outbox_key(finding);
            if !seen.insert(key.clone()) {
                continue;
            }
            let (detail, whole) = alert_detail(finding, &self.dataset, budget);
            if whole.is_some() {
                report.truncated.push(key.clone());
            }
            entries.push(self.entry(detail));
            keys.push(key);
        }
        let sizes: Vec<usize> = entries.iter().map(entry_size).collect();
        let mut queue: VecDeque<(Vec<usize>, u32)> =
            batches(&sizes).into_iter().map(|b| (b, 0)).collect();
        let wait = |report: &mut PublishReport, index: usize, code: &str, message: &str| {
            report.outcomes.insert(
                keys[index].clone(),
                Outcome::Waiting {
                    code: code.to_string(),
                    message: message.to_string(),
                },
            );
        };
        while let Some((group, attempt)) = queue.pop_front() {
            if started.elapsed() > PUBLISH_BUDGET {
                let message = format!(
                    "publishing took more than {} s; the rest waits for the next invocation",
                    PUBLISH_BUDGET.as_secs()
                );
                for index in group
                    .into_iter()
                    .chain(queue.drain(..).flat_map(|(g, _)| g))
                {
                    if !matches!(
                        report.outcomes.get(&keys[index]),
                        Some(Outcome::Waiting { .. })
                    ) {
                        wait(&mut report, index, "TimeBudget", &message);
                    }
                }
                report.error = Some(message);
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            report.requests += 1;
            let sent = self
                .client
                .put_events()
                .set_entries(Some(group.iter().map(|&i| entries[i].clone()).collect()))
                .send()
                .await;
            match sent {
                Ok(output) => {
                    let results = output.entries();
                    let mut retry = Vec::new();
                    for (n, &index) in group.iter().enumerate() {
                        let (code, message) = match results.get(n) {
                            Some(result) => match result.error_code() {
                                None => {
                                    report
                                        .outcomes
                                        .insert(keys[index].clone(), Outcome::Accepted);
                                    continue;
                                }
                                Some(code) => (code, result.error_message().unwrap_or_default()),
                            },
                            None => ("InternalFailure", "PutEvents gave no result for this entry"),
                        };
                        match code_kind(code) {
                            CodeKind::Permanent => {
                                report.outcomes.insert(
                                    keys[index].clone(),
                                    Outcome::Undeliverable {
                                        code: code.to_string(),
                                        message: message.to_string(),
                                    },
                                );
                            }
                            CodeKind::Transient => {
                                wait(&mut report, index, code, message);
                                retry.push(index);
                            }
                            CodeKind::Configuration => wait(&mut report, index, code, message),
                        }
                    }
                    if !retry.is_empty() && attempt + 1 < ATTEMPTS {
                        queue.push_back((retry, attempt + 1));
                    }
                }
                Err(err) => {
                    let code = err.code().unwrap_or("RequestFailed").to_string();
                    let text = crate::s3::sdk_error_text(&err);
                    if code == "ValidationException" {
                        if group.len() > 1 {
                            // One of them may be what is invalid: each on its own.
                            for &index in group.iter().rev() {
                                queue.push_front((vec![index], attempt));
                            }
                        } else {
                            report.outcomes.insert(
                                keys[group[0]].clone(),
                                Outcome::Undeliverable {
                                    code,
                                    message: text,
                                },
                            );
                        }
                        continue;
                    }
                    for index in group
                        .into_iter()
                        .chain(queue.drain(..).flat_map(|(g, _)| g))
                    {
                        wait(&mut report, index, &code, &text);
                    }
                    report.error =
                        Some(format!("publishing to the event bus {}: {text}", self.bus));
                    break;
                }
            }
        }
        report.settle();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: Rule, account: &str) -> Finding {
        Finding {
            finding_id: format!("{}-1", rule.as_str()),
            rule,
            session_id: None,
            event_time: 0,
            account_id: Some(account.into()),
            region: None,
            target: None,
            principal_arn: None,
            permission_set: None,
            detail: String::new(),
            evidence: json!({}),
            owner: String::new(),
        }
    }

    #[test]
    fn one_line_per_account_with_counts_per_rule_and_severity() {
        let findings = [
            finding(Rule::UnattributedSession, "111122223333"),
            finding(Rule::UnattributedSession, "111122223333"),
            finding(Rule::OrphanBrokerRecord, "444455556666"),
        ];
        let accounts = Accounts::parse("111122223333,444455556666").unwrap();
        let lines = emf_lines("SessionTrail", &findings, &accounts, 1_714_557_600_000);
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["Account"], "111122223333");
        assert_eq!(first["unattributed_session"], 2);
        assert_eq!(first["severity_critical"], 2);
        assert_eq!(first["orphan_broker_record"], 0);
        assert_eq!(lines[1]["orphan_broker_record"], 1);
        assert_eq!(lines[1]["severity_high"], 1);
        let directive = &first["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "SessionTrail");
        assert_eq!(directive["Dimensions"], json!([["Account"], []]));
        assert_eq!(first["_aws"]["Timestamp"], 1_714_557_600_000i64);
        // Every metric named is a top-level member (the EMF rule).
        for metric in directive["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(first.get(name).is_some_and(Value::is_number), "{name}");
        }
        // A metric per rule (docs/contracts.md "Rules": 12 audit, 5 evidence), per severity.
        assert_eq!(directive["Metrics"].as_array().unwrap().len(), 12 + 5 + 4);
    }

    #[test]
    fn an_event_detail_is_the_same_text_whatever_serde_json_features() {
        // Keys inserted out of order at every depth. This crate's tests build
        // serde_json with preserve_order (aws-smithy-http-client's test-util), where
        // a plain `to_string` writes them in this order; the expectation is written
        // out by hand.
        let mut evidence = Map::new();
        evidence.insert("z".into(), json!(1));
        evidence.insert("a".into(), json!([{"y": 1, "b": 2}]));
        let mut finding = Map::new();
        finding.insert("rule".into(), json!("clock_skew"));
        finding.insert("finding_id".into(), json!("f-1"));
        finding.insert("evidence".into(), Value::Object(evidence));
        assert_eq!(
            event_detail(&Value::Object(finding)),
            r#"{"evidence":{"a":[{"b":2,"y":1}],"z":1},"finding_id":"f-1","rule":"clock_skew"}"#
        );
        // An EMF line too: `_aws` was inserted last, it is written first.
        let line = to_canonical_string(&emf_lines("SessionTrail", &[], &Accounts::any(), 1)[0]);
        assert!(
            line.starts_with(
                r#"{"_aws":{"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"#
            ),
            "{line}"
        );
    }

    #[test]
    fn an_invocation_without_findings_reports_zeros() {
        let lines = emf_lines("SessionTrail", &[], &Accounts::any(), 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["unattributed_session"], 0);
        assert!(lines[0].get("Account").is_none());
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }

    #[test]
    fn the_account_dimension_takes_only_configured_accounts() {
        let junk = "x".repeat(300);
        let findings = [
            finding(Rule::UnattributedSession, "111122223333"),
            finding(Rule::UnattributedSession, "999999999999"),
            finding(Rule::OrphanBrokerRecord, &junk),
            Finding {
                account_id: None,
                ..finding(Rule::ClockSkew, "")
            },
        ];
        let accounts = Accounts::parse("111122223333").unwrap();
        let lines = emf_lines("SessionTrail", &findings, &accounts, 1);
        let by_account: BTreeMap<&str, &Value> = lines
            .iter()
            .map(|l| (l["Account"].as_str().unwrap(), l))
            .collect();
        assert_eq!(
            by_account.keys().copied().collect::<Vec<_>>(),
            ["111122223333", "other", "unknown"]
        );
        assert_eq!(by_account["other"]["unattributed_session"], 1);
        assert_eq!(by_account["other"]["orphan_broker_record"], 1);
        assert_eq!(by_account["unknown"]["clock_skew"], 1);
        // Without a list every finding is counted under `other`.
        let lines = emf_lines("SessionTrail", &findings[..3], &Accounts::any(), 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["Account"], "other");
        assert_eq!(lines[0]["severity_critical"], 2);
    }

    #[test]
    fn an_entry_is_sized_as_aws_documents() {
        // Time 14, then the UTF-8 bytes of Source, DetailType, Detail, each Resource
        // (and, as a margin, EventBusName).
        let entry = PutEventsRequestEntry::builder()
            .time(aws_smithy_types::DateTime::from_secs(0))
            .source("src")
            .detail_type("type")
            .detail(r#"{"k":"é"}"#)
            .resources("r1")
            .resources("r22")
            .event_bus_name("bus")
            .build();
        assert_eq!(entry_size(&entry), 14 + 3 + 4 + 10 + 2 + 3 + 3);
        let bare = PutEventsRequestEntry::builder()
            .source("s")
            .detail_type("d")
            .build();
        assert_eq!(entry_size(&bare), 2);
    }

    #[test]
    fn requests_hold_at_most_10_entries_and_less_than_256_kb() {
        let sizes = vec![100; 25];
        let lengths: Vec<usize> = batches(&sizes).iter().map(Vec::len).collect();
        assert_eq!(lengths, [10, 10, 5]);
        assert_eq!(
            batches(&[100_000, 100_000, 100_000, 10]),
            [vec![0, 1], vec![2, 3]]
        );
        // "less than 256KB": two entries of exactly half do not go together.
        assert_eq!(batches(&[131_072, 131_072]), [vec![0], vec![1]]);
        assert_eq!(batches(&[131_072, 131_071]), [vec![0, 1]]);
        // Every index once, in order.
        let sizes: Vec<usize> = (0..200).map(|i| (i * 7919) % 65_536).collect();
        let flat: Vec<usize> = batches(&sizes).into_iter().flatten().collect();
        assert_eq!(flat, (0..200).collect::<Vec<_>>());
        for batch in batches(&sizes) {
            assert!(batch.len() <= 10);
            assert!(batch.iter().map(|&i| sizes[i]).sum::<usize>() < PUT_EVENTS_MAX_BYTES);
        }
    }

    fn oversized() -> Value {
        // What a hostile broker log can make of a finding: thousands of request ids and
        // caller ARNs in its evidence, a broker string of 300 KB, multi-byte text.
        let ids: Vec<Value> = (0..20_000)
            .map(|i| json!(format!("5f0c{i:08}-0000-4000-8000-000000000000")))
            .collect();
        let callers: Vec<Value> = (0..5_000)
            .map(|i| json!(format!("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/user{i}@example.com")))
            .collect();
        json!({
            "finding_id": "duplicate_broker_claim-0123456789abcdef",
            "rule": "duplicate_broker_claim",
            "severity": "high",
            "session_id": "s-1",
            "event_time": "2026-02-01T09:15:02.412Z",
            "account_id": "111122223333",
            "region": "eu-west-1",
            "target": "é".repeat(150_000),
            "principal_arn": null,
            "permission_set": "Admin",
            "detail": "x".repeat(10_000),
            "evidence": {"request_ids": ids, "callers": callers},
        })
    }

    #[test]
    fn an_oversized_finding_is_cut_down_and_says_where_it_is_whole() {
        let finding = oversized();
        let whole = event_detail(&finding).len();
        assert!(whole > 1_000_000, "{whole}");
        let budget = MAX_ENTRY_BYTES - 100;
        let (text, original) = alert_detail(&finding, "s3://audit-out/sessiontrail/", budget);
        assert_eq!(original, Some(whole));
        assert!(text.len() <= budget, "{}", text.len());
        let cut: Value = serde_json::from_str(&text).unwrap();
        for kept in KEPT_WHOLE {
            assert_eq!(cut[kept], finding[kept], "{kept}");
        }
        assert_eq!(
            cut["truncated"],
            json!({"finding_id": "duplicate_broker_claim-0123456789abcdef",
                "original_bytes": whole,
                "full_finding_at": "s3://audit-out/sessiontrail/findings/dt=2026-02-01/"})
        );
        // The first request ids are still there; the multi-byte target is cut at a
        // character boundary.
        assert_eq!(
            cut["evidence"]["request_ids"][0],
            finding["evidence"]["request_ids"][0]
        );
        assert!(cut["target"].as_str().unwrap().ends_with('…'));
        // The same finding gives the same bytes every time.
        assert_eq!(
            alert_detail(&finding, "s3://audit-out/sessiontrail/", budget).0,
            text
        );
        // A finding that fits is sent whole.
        let small = json!({"finding_id": "f-1", "rule": "clock_skew"});
        assert_eq!(
            alert_detail(&small, "s3://a/", budget),
            (event_detail(&small), None)
        );
        // A budget too small for anything but the least.
        let (text, _) = alert_detail(&finding, "s3://audit-out/sessiontrail/", 600);
        assert!(text.len() <= 600, "{text}");
        let least: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(least["finding_id"], finding["finding_id"]);
        assert!(least.get("evidence").is_none());
    }

    #[test]
    fn error_codes_are_taken_as_transient_configuration_or_permanent() {
        for code in [
            "ThrottlingException",
            "InternalFailure",
            "InternalException",
        ] {
            assert_eq!(code_kind(code), CodeKind::Transient, "{code}");
        }
        for code in [
            "AccessDeniedException",
            "NotAuthorizedForSourceException",
            "NotAuthorizedForDetailTypeException",
            "InvalidAccountIdException",
        ] {
            assert_eq!(code_kind(code), CodeKind::Configuration, "{code}");
        }
        for code in [
            "InvalidArgument",
            "MalformedDetail",
            "RedactionFailure",
            "ValidationException",
            "SomethingNew",
        ] {
            assert_eq!(code_kind(code), CodeKind::Permanent, "{code}");
        }
    }

    fn alert(id: &str) -> Value {
        json!({"finding_id": id, "rule": "orphan_broker_record", "event_time": "2026-02-01T00:00:00Z"})
    }

    #[test]
    fn the_outbox_keeps_what_was_not_delivered_and_sets_aside_what_never_will_be() {
        let earlier = undeliverable_record(&alert("old"), "MalformedDetail", "bad", 1);
        let outbox = vec![
            alert("accepted"),
            alert("refused"),
            alert("throttled"),
            alert("added-meanwhile"),
            earlier.clone(),
        ];
        let mut report = PublishReport::default();
        report.outcomes.insert("accepted".into(), Outcome::Accepted);
        report.outcomes.insert(
            "refused".into(),
            Outcome::Undeliverable {
                code: "InvalidArgument".into(),
                message: "no".into(),
            },
        );
        report.outcomes.insert(
            "throttled".into(),
            Outcome::Waiting {
                code: "ThrottlingException".into(),
                message: "slow down".into(),
            },
        );
        let update = update_outbox(outbox, &report, 1_769_904_000_000);
        assert_eq!(update.delivered, 1);
        assert_eq!(
            update.keep,
            vec![
                alert("throttled"),
                alert("added-meanwhile"),
                earlier.clone()
            ]
        );
        assert_eq!(
            update.set_aside,
            vec![
                json!({"finding": alert("refused"), "error_code": "InvalidArgument",
                "error_message": "no", "set_aside_at": "2026-02-01T00:00:00Z"})
            ]
        );
        let mut state = State::default();
        apply_outbox_update(&mut state, update);
        assert_eq!(
            pending_alerts(&state),
            [&alert("throttled"), &alert("added-meanwhile")]
        );
        assert_eq!(undeliverable_alerts(&state).len(), 2);
        // Applied again (a retried conditional save), nothing changes.
        let again = update_outbox(state.outbox.clone(), &report, 1_769_904_000_000);
        assert_eq!(again.delivered, 0);
        assert!(again.set_aside.is_empty());
        assert_eq!(again.keep, state.outbox);
    }

    #[test]
    fn a_code_that_refuses_everything_is_not_blamed_on_the_entries() {
        let refused = Outcome::Undeliverable {
            code: "InvalidArgument".into(),
            message: "bus?".into(),
        };
        let mut report = PublishReport::default();
        report.outcomes.insert("a".into(), refused.clone());
        report.outcomes.insert("b".into(), refused.clone());
        report.settle();
        assert_eq!(report.undeliverable(), 0);
        assert_eq!(report.waiting(), 2);
        assert!(report.error.as_deref().unwrap().contains("InvalidArgument"));
        // With one accepted entry the others are the entries' own fault.
        let mut report = PublishReport::default();
        report.outcomes.insert("a".into(), refused.clone());
        report.outcomes.insert("b".into(), refused);
        report.outcomes.insert("c".into(), Outcome::Accepted);
        report.settle();
        assert_eq!(report.undeliverable(), 2);
    }
}
