//! Alerts: one CloudWatch Embedded Metric Format line per invocation, and each new
//! finding published once to an EventBridge bus.
//!
//! EMF: namespace `SessionTrail` (configurable), one metric per rule id and per severity
//! (`severity_critical`, ...), counts of the findings new in this invocation, with two
//! dimension sets: `Account` and none (the aggregate alarms watch, so an alarm needs no
//! account list). A line per account with new findings; an invocation without new
//! findings prints one aggregate line of zeros, so the metric has data points.
//!
//! EventBridge: source `sessiontrail`, detail-type `SessionTrail Finding`, detail the
//! finding's JSON (its `finding_id` is stable, for consumers that deduplicate). New
//! findings wait in the state's outbox until they are sent; a finding leaves the outbox
//! only after PutEvents accepted it, so a publisher that dies mid-way is followed by
//! one that sends the rest (at least once then; exactly once otherwise).

use std::collections::BTreeMap;

use aws_sdk_eventbridge::Client as EventBridgeClient;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Map, Value, json};
use sessiontrail_correlate::rule::{Rule, Severity};
use sessiontrail_correlate::{Finding, state::State};
use sessiontrail_ingest::canonical_json::to_canonical_string;

pub const DEFAULT_NAMESPACE: &str = "SessionTrail";
pub const EVENT_SOURCE: &str = "sessiontrail";
pub const EVENT_DETAIL_TYPE: &str = "SessionTrail Finding";
/// PutEvents takes at most 10 entries per call.
const PUT_EVENTS_BATCH: usize = 10;

/// The EMF lines of one invocation (`timestamp` in epoch ms); print each with
/// [`to_canonical_string`].
pub fn emf_lines(namespace: &str, new_findings: &[Finding], timestamp: i64) -> Vec<Value> {
    let mut by_account: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for finding in new_findings {
        by_account
            .entry(
                finding
                    .account_id
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
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

#[derive(Debug, thiserror::Error)]
#[error("publishing findings to the event bus {bus}: {message}")]
pub struct PublishError {
    pub bus: String,
    pub message: String,
}

/// Sends findings to an EventBridge bus.
#[derive(Debug, Clone)]
pub struct FindingPublisher {
    pub client: EventBridgeClient,
    /// A bus name or ARN.
    pub bus: String,
}

impl FindingPublisher {
    /// Sends `findings` (JSON objects) in batches of 10; entries EventBridge refuses
    /// (throttling, internal errors) are sent again, up to 5 times. Returns how many of
    /// `findings`, from the start, were accepted: all of them, or an error.
    pub async fn publish(&self, findings: &[Value]) -> Result<usize, PublishError> {
        let error = |message: String| PublishError {
            bus: self.bus.clone(),
            message,
        };
        let mut accepted = 0;
        for batch in findings.chunks(PUT_EVENTS_BATCH) {
            let mut pending: Vec<&Value> = batch.iter().collect();
            for attempt in 0..5u32 {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(100 << attempt)).await;
                }
                let entries = pending
                    .iter()
                    .map(|finding| {
                        PutEventsRequestEntry::builder()
                            .event_bus_name(&self.bus)
                            .source(EVENT_SOURCE)
                            .detail_type(EVENT_DETAIL_TYPE)
                            .detail(event_detail(finding))
                            .build()
                    })
                    .collect::<Vec<_>>();
                let output = self
                    .client
                    .put_events()
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|err| error(crate::s3::sdk_error_text(&err)))?;
                let results = output.entries();
                pending = pending
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| results.get(*i).is_none_or(|r| r.error_code().is_some()))
                    .map(|(_, f)| f)
                    .collect();
            }
            if !pending.is_empty() {
                return Err(error(format!(
                    "{} findings refused after 5 attempts",
                    pending.len()
                )));
            }
            accepted += batch.len();
        }
        Ok(accepted)
    }
}

/// The `detail` of a finding's event: its JSON with keys sorted at every depth, the
/// same bytes whatever serde_json's features (consumers that hash or compare
/// events see one text per finding).
pub fn event_detail(finding: &Value) -> String {
    to_canonical_string(finding)
}

/// The finding ids of an outbox, for removing the sent ones.
pub fn outbox_ids(findings: &[Value]) -> Vec<String> {
    findings
        .iter()
        .filter_map(|f| {
            f.get("finding_id")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// Removes sent findings from a state's outbox.
pub fn remove_sent(state: &mut State, sent: &[String]) {
    state.outbox.retain(|f| {
        f.get("finding_id")
            .and_then(Value::as_str)
            .is_none_or(|id| !sent.iter().any(|s| s == id))
    });
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
        let lines = emf_lines("SessionTrail", &findings, 1_714_557_600_000);
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
        assert_eq!(directive["Metrics"].as_array().unwrap().len(), 11 + 4);
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
        let line = to_canonical_string(&emf_lines("SessionTrail", &[], 1)[0]);
        assert!(
            line.starts_with(
                r#"{"_aws":{"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"#
            ),
            "{line}"
        );
    }

    #[test]
    fn an_invocation_without_findings_reports_zeros() {
        let lines = emf_lines("SessionTrail", &[], 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["unattributed_session"], 0);
        assert!(lines[0].get("Account").is_none());
        assert_eq!(
            lines[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
