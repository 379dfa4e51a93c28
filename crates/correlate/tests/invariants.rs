//! Invariants of correlation over generated inputs (proptest):
//! - the result does not depend on the order of the records;
//! - every StartSession and every started broker record ends up in exactly one session,
//!   and every session has exactly one status;
//! - every finding belongs to a session that exists (or, for a leaked token in a record
//!   that names no session, to that record);
//! - finding ids are unique.

use std::collections::BTreeSet;

use proptest::prelude::*;
use sessiontrail_correlate::{Policy, correlate};
use sessiontrail_ingest::{BrokerOutcome, BrokerRecord, SessionEvent, SessionEventName};

const POLICY: &str = r#"
[broker]
role_arns = ["arn:aws:iam::111122223333:role/broker"]
[[permission_set]]
name = "Admin"
document = "Admin-Doc"
run_as = "admin"
[[permission_set]]
name = "Data_Engineer"
document = "Data-Doc"
"#;

const T0: i64 = 1_770_000_000_000;
const BROKER_PRINCIPAL: &str = "arn:aws:sts::111122223333:assumed-role/broker/fn";
const BROKER_ROLE: &str = "arn:aws:iam::111122223333:role/broker";

/// One planned session: which sides exist and how they look.
#[derive(Debug, Clone)]
struct Plan {
    via_broker: bool,
    start: bool,
    failed: bool,
    record: Option<u8>,
    by_request_id: bool,
    minute: i64,
    skew_s: i64,
    set: u8,
    document: u8,
    terminate: Option<u8>,
    second_claim: bool,
    token: bool,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.1),
            prop::option::of(0u8..3),
            any::<bool>(),
        ),
        (
            0i64..600,
            -400i64..400,
            0u8..3,
            0u8..3,
            prop::option::of(0u8..3),
        ),
        (prop::bool::weighted(0.1), prop::bool::weighted(0.1)),
    )
        .prop_map(
            |(
                (via_broker, start, failed, record, by_request_id),
                (minute, skew_s, set, document, terminate),
                (second_claim, token),
            )| Plan {
                via_broker,
                start,
                failed,
                record,
                by_request_id,
                minute,
                skew_s,
                set,
                document,
                terminate,
                second_claim,
                token,
            },
        )
}

fn start_event(i: usize, p: &Plan, caller: &str, set: &str) -> SessionEvent {
    let (principal, issuer) = if p.via_broker {
        (BROKER_PRINCIPAL.to_string(), BROKER_ROLE.to_string())
    } else {
        (
            caller.to_string(),
            format!(
                "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_{set}_0123456789abcdef"
            ),
        )
    };
    SessionEvent {
        event_id: format!("e-{i}"),
        event_name: SessionEventName::StartSession,
        event_time: T0 + p.minute * 60_000,
        event_version: Some("1.09".into()),
        account_id: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        request_id: Some(format!("r-{i}")),
        principal_type: Some("AssumedRole".into()),
        principal_arn: Some(principal),
        issuer_arn: Some(issuer),
        issuer_name: None,
        session_id: (!p.failed).then(|| format!("s-{i:04}")),
        target: Some("i-1".into()),
        document_name: document(p),
        error_code: p.failed.then(|| "AccessDenied".into()),
        source_ip: None,
        user_agent: None,
        source_identity: None,
        on_behalf_of_user_id: None,
        on_behalf_of_identity_store_arn: None,
        reason: None,
        source: None,
    }
}

fn document(p: &Plan) -> Option<String> {
    [None, Some("Admin-Doc"), Some("Data-Doc")][p.document as usize].map(str::to_string)
}

fn build(plans: &[Plan]) -> (Vec<SessionEvent>, Vec<BrokerRecord>) {
    let mut events = Vec::new();
    let mut records = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let session_id = format!("s-{i:04}");
        let set = ["Admin", "Data_Engineer", "Other"][p.set as usize];
        let caller = format!(
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_{set}_0123456789abcdef/user{i}@example.com"
        );
        if p.start {
            let start = start_event(i, p, &caller, set);
            if let Some(who) = p.terminate {
                events.push(SessionEvent {
                    event_id: format!("t-{i}"),
                    event_name: SessionEventName::TerminateSession,
                    event_time: start.event_time + 60_000,
                    principal_arn: Some(match who {
                        0 => caller.clone(),
                        1 => BROKER_PRINCIPAL.into(),
                        _ => "arn:aws:iam::111122223333:user/mallory".into(),
                    }),
                    issuer_arn: (who == 1).then(|| BROKER_ROLE.into()),
                    session_id: Some(session_id.clone()),
                    request_id: Some(format!("rt-{i}")),
                    document_name: None,
                    error_code: None,
                    ..start.clone()
                });
            }
            events.push(start);
        }
        if let Some(outcome) = p.record {
            let outcome = [
                BrokerOutcome::Started,
                BrokerOutcome::Denied,
                BrokerOutcome::Error,
            ][outcome as usize];
            let record = BrokerRecord {
                request_id: format!("b-{i}"),
                ts: T0 + p.minute * 60_000 + p.skew_s * 1000,
                caller_arn: caller.clone(),
                caller_user_id: None,
                permission_set: Some(set.into()),
                account_id: "111122223333".into(),
                region: "eu-west-1".into(),
                target: "i-1".into(),
                document_name: Some(
                    document(p).unwrap_or_else(|| "SSM-SessionManagerRunShell".into()),
                ),
                run_as: None,
                outcome,
                session_id: (!p.by_request_id).then(|| session_id.clone()),
                ssm_request_id: Some(format!("r-{i}")),
                reason: None,
                source_ip: None,
                token_paths: if p.token {
                    vec!["token_value".into()]
                } else {
                    vec![]
                },
                source: None,
            };
            if p.second_claim {
                records.push(BrokerRecord {
                    request_id: format!("b2-{i}"),
                    caller_arn: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/eve".into(),
                    ..record.clone()
                });
            }
            records.push(record);
        }
    }
    (events, records)
}

fn shuffle<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut items = items.to_vec();
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
    items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn order_does_not_matter(
        plans in prop::collection::vec(plan(), 0..40),
        seed in any::<u64>(),
        as_of_minute in 0i64..700,
    ) {
        let policy = Policy::parse(POLICY).unwrap();
        let (events, records) = build(&plans);
        let as_of = T0 + as_of_minute * 60_000;
        let a = correlate(&events, &records, &policy, as_of);
        let b = correlate(&shuffle(&events, seed), &shuffle(&records, seed.rotate_left(7)), &policy, as_of);
        prop_assert_eq!(&a.sessions, &b.sessions);
        prop_assert_eq!(&a.findings, &b.findings);
    }

    #[test]
    fn every_input_lands_in_exactly_one_session_and_findings_have_owners(
        plans in prop::collection::vec(plan(), 0..40),
        as_of_minute in 0i64..700,
    ) {
        let policy = Policy::parse(POLICY).unwrap();
        let (events, records) = build(&plans);
        let result = correlate(&events, &records, &policy, T0 + as_of_minute * 60_000);
        let keys: Vec<String> = result.sessions.iter().map(|s| s.key()).collect();
        let unique: BTreeSet<&String> = keys.iter().collect();
        prop_assert_eq!(unique.len(), keys.len(), "one row per session key");
        for start in events.iter().filter(|e| e.event_name == SessionEventName::StartSession) {
            let count = result
                .sessions
                .iter()
                .filter(|s| s.cloudtrail_event_id.as_deref() == Some(start.event_id.as_str()))
                .count();
            prop_assert_eq!(count, 1, "StartSession {} in one session", start.event_id);
        }
        for record in records.iter().filter(|r| r.outcome == BrokerOutcome::Started) {
            let claimed = result.owners.values().any(|o| o.request_ids.contains(&record.request_id));
            prop_assert!(claimed, "started record {} belongs to a session", record.request_id);
        }
        let ids: BTreeSet<&String> = result.findings.iter().map(|f| &f.finding_id).collect();
        prop_assert_eq!(ids.len(), result.findings.len(), "finding ids are unique");
        for finding in &result.findings {
            let owned = unique.contains(&finding.owner) || finding.owner.starts_with("broker:");
            prop_assert!(owned, "finding {} has owner {}", finding.finding_id, finding.owner);
        }
    }
}
