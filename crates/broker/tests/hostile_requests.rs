//! Generated hostile requests: any method, any body (text or base64, any size up to
//! twice the limit), any caller ARN. Whatever comes, the handler does not panic,
//! answers a status of the contract, writes exactly one record that the ingest reader
//! takes without a reject, and starts a session only for a valid request of an
//! Identity Center caller.

mod common;

use common::*;
use proptest::prelude::*;
use sessiontrail_broker::handle;
use sessiontrail_ingest::broker_log::{BrokerRead, read_broker_log};

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("POST".to_string()),
        1 => Just("GET".to_string()),
        1 => Just("post".to_string()),
        1 => "[A-Z]{0,8}",
        1 => ".{0,12}",
    ]
}

fn body() -> impl Strategy<Value = String> {
    let target = prop_oneof![
        3 => Just("i-0123abcd".to_string()),
        1 => "i-[0-9a-f]{8,17}",
        1 => "mi-[0-9a-fA-F]{17}",
        1 => ".{0,40}",
    ];
    let region = prop_oneof![
        3 => Just("eu-west-1".to_string()),
        1 => "[a-z]{2}-[a-z]{3,9}-[0-9]",
        1 => "[a-z-]{0,20}[0-9]?",
        1 => ".{0,20}",
    ];
    let reason = prop_oneof![
        3 => Just(None),
        1 => "[ -~]{1,80}".prop_map(Some),
        1 => ".{0,300}".prop_map(Some),
        1 => "[a-zA-Z ]{1,30}(token|TokenValue)=[A-Za-z0-9]{8,20}".prop_map(Some),
    ];
    let extra = prop_oneof![
        4 => Just(None),
        1 => Just(Some(("caller_arn".to_string(), ALICE.to_string()))),
        1 => ("[a-z_]{1,12}", ".{0,20}").prop_map(Some),
    ];
    let object = (target, region, reason, extra).prop_map(|(target, region, reason, extra)| {
        let mut object = serde_json::json!({"target": target, "region": region});
        if let Some(reason) = reason {
            object["reason"] = reason.into();
        }
        if let Some((key, value)) = extra {
            object[key] = value.into();
        }
        object.to_string()
    });
    prop_oneof![
        4 => object,
        1 => ".{0,200}",
        1 => (0usize..9000).prop_map(|n| format!("{{\"target\":\"{}\"}}", "x".repeat(n))),
    ]
}

fn caller() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(ALICE.to_string()),
        2 => Just(BOB.to_string()),
        2 => "arn:aws(-cn|-us-gov|-moon)?:(sts|iam)::[0-9]{11,12}:assumed-role/AWSReservedSSO[X]?_(Admin|Developer|Other)_[0-9a-f]{15,17}/[a-z@.]{0,10}",
        1 => ".{0,60}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_an_answer_of_the_contract_and_one_readable_record(
        method in method(),
        body in body(),
        caller in caller(),
        base64 in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let test = broker();
        let mut event = event(&caller, &body);
        event["requestContext"]["http"]["method"] = method.clone().into();
        if base64 {
            use base64::Engine;
            event["body"] = base64::engine::general_purpose::STANDARD.encode(&body).into();
            event["isBase64Encoded"] = true.into();
        }
        let response = runtime.block_on(handle(&event, &context("req-p"), &test.broker));
        prop_assert!([200, 400, 403, 405, 413].contains(&response.status), "{}", response.status);
        let lines = test.log.lines();
        prop_assert_eq!(lines.len(), 1);
        let mut read = BrokerRead::default();
        read_broker_log(lines[0].as_bytes(), "broker.log", &mut read);
        prop_assert_eq!(read.rejects.len(), 0, "{}", &lines[0]);
        prop_assert_eq!(read.records.len(), 1);
        let record = &read.records[0];
        prop_assert!(record.token_paths.is_empty(), "{}", &lines[0]);
        let started = !test.broker.starter.requests().is_empty();
        prop_assert_eq!(started, response.status == 200);
        if started {
            prop_assert_eq!(method.as_str().to_ascii_uppercase(), "POST");
            prop_assert!(caller == ALICE || caller == BOB || caller.starts_with("arn:aws:sts::"));
            prop_assert_eq!(record.outcome, sessiontrail_ingest::BrokerOutcome::Started);
        } else {
            prop_assert_eq!(record.outcome, sessiontrail_ingest::BrokerOutcome::Denied);
        }
    }
}
