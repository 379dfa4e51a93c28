//! The real starter (aws-sdk-sts, aws-sdk-ssm) on the wire against the loopback
//! stand-in (crates/test-support/standin/aws_standin.py): every request's SigV4
//! signature recomputed, its parameters validated against botocore's STS and SSM
//! models, and the CloudTrail records the stand-in writes for the calls read back.

use std::io::Read;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use serde_json::Value;
use sessiontrail_broker::SessionStarter;
use sessiontrail_broker::start::{AwsSessionStarter, Call, StartRequest, role_session_name};
use sessiontrail_test_support::standin::{self, AwsStandin, world};

fn starter(endpoint: &str) -> AwsSessionStarter {
    AwsSessionStarter::new(starter_config(endpoint, standin::broker_caller()))
}

fn starter_config(endpoint: &str, broker: standin::Caller) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            broker.access_key_id,
            broker.secret_access_key,
            broker.session_token,
            None,
            "test",
        )))
        .region(Region::new(world::REGION))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build()
}

fn request(user: &str, document: &str, target: &str) -> StartRequest {
    StartRequest {
        starter_role_arn: world::STARTER_ROLE.into(),
        source_identity: user.into(),
        role_session_name: role_session_name(user),
        region: world::REGION.into(),
        target: target.into(),
        document_name: document.into(),
        reason: Some("INC-42: disk full".into()),
    }
}

fn records(files: &[std::path::PathBuf]) -> Vec<Value> {
    let mut out = Vec::new();
    for file in files {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(file).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        out.extend(doc["Records"].as_array().unwrap().iter().cloned());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_starter_speaks_sts_and_ssm_and_cloudtrail_names_the_human() {
    let scratch = tempfile::tempdir().unwrap();
    let trail = scratch.path().join("cloudtrail");
    let Some(aws) = AwsStandin::start(
        "standin_wire",
        &standin::world_config(&trail, None),
        scratch.path(),
    ) else {
        return;
    };
    let starter = starter(&aws.endpoint);
    let admin = request(
        "alice@example.com",
        "SSMRunAs-Admin-Session",
        world::INSTANCES[0],
    );

    // Started: the session id is the role session's name and a suffix, as SSM makes it.
    let first = starter.start(&admin).await.expect("started");
    assert!(
        first.session_id.starts_with("alice@example.com-"),
        "{}",
        first.session_id
    );
    assert!(
        first
            .stream_url
            .expose()
            .starts_with("wss://ssmmessages.eu-west-1.amazonaws.com/")
    );
    assert!(first.ssm_request_id.is_some());
    // The same user again: the cached credentials, no second AssumeRole.
    let second = starter.start(&admin).await.expect("started again");
    assert_ne!(first.session_id, second.session_id);

    // SSM's refusals keep their codes.
    let offline = starter
        .start(&request(
            "alice@example.com",
            "SSMRunAs-Admin-Session",
            world::DISCONNECTED,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (offline.call, offline.code.as_str(), offline.transient),
        (Call::StartSession, "TargetNotConnected", false)
    );
    let unmapped = starter
        .start(&request(
            "bob@example.com",
            "SSM-SessionManagerRunShell",
            world::INSTANCES[1],
        ))
        .await
        .unwrap_err();
    assert_eq!(unmapped.code, "AccessDeniedException");
    // Throttling is retried (3 attempts): two throttled answers, then the session.
    aws.throttle("StartSession", 2);
    starter
        .start(&request(
            "carol@example.com",
            "SSMRunAs-ReadOnly-Session",
            world::INSTANCES[1],
        ))
        .await
        .expect("started after two throttled attempts");
    aws.throttle("StartSession", 3);
    let throttled = starter
        .start(&request(
            "carol@example.com",
            "SSMRunAs-ReadOnly-Session",
            world::INSTANCES[1],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (throttled.code.as_str(), throttled.transient),
        ("ThrottlingException", true)
    );
    // A role the broker's role may not assume.
    let mut foreign = admin.clone();
    foreign.starter_role_arn = "arn:aws:iam::444455556666:role/sessiontrail-session-starter".into();
    let refused = starter.start(&foreign).await.unwrap_err();
    assert_eq!(
        (refused.call, refused.code.as_str()),
        (Call::AssumeRole, "AccessDenied")
    );

    // The stand-in checks signatures: the broker's key with another secret is refused.
    let mut forged = standin::broker_caller();
    forged.secret_access_key = "not-the-secret".into();
    let forged = AwsSessionStarter::new(starter_config(&aws.endpoint, forged));
    let refused = forged
        .start(&request(
            "dave@example.com",
            "SSMRunAs-Developer-Session",
            world::INSTANCES[0],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (refused.call, refused.code.as_str()),
        (Call::AssumeRole, "SignatureDoesNotMatch")
    );

    let stats = aws.stats();
    assert_eq!(
        stats["violations"],
        serde_json::json!([]),
        "requests that fail botocore's model: {stats}"
    );
    // One AssumeRole per user (alice, bob, carol), the refused and the forged one: the
    // cache held.
    assert_eq!(stats["counts"]["sts"], 5, "{stats}");

    let all = records(&aws.flush());
    let starts: Vec<&Value> = all
        .iter()
        .filter(|r| r["eventName"] == "StartSession" && r.get("errorCode").is_none())
        .collect();
    assert_eq!(starts.len(), 3, "{all:#?}");
    let record = starts
        .iter()
        .find(|r| r["responseElements"]["sessionId"] == first.session_id.as_str())
        .expect("the first session's record");
    let identity = &record["userIdentity"];
    assert_eq!(
        identity["arn"],
        "arn:aws:sts::111122223333:assumed-role/sessiontrail-session-starter/alice@example.com"
    );
    assert_eq!(
        identity["sessionContext"]["sourceIdentity"],
        "alice@example.com"
    );
    assert_eq!(
        identity["sessionContext"]["sessionIssuer"]["userName"],
        world::STARTER_ROLE_NAME
    );
    assert_eq!(
        record["requestParameters"]["documentName"],
        "SSMRunAs-Admin-Session"
    );
    assert_eq!(record["requestParameters"]["reason"], "INC-42: disk full");
    assert_eq!(
        record["responseElements"]["tokenValue"],
        "Value hidden due to security reasons."
    );
    assert_eq!(
        record["requestID"],
        first.ssm_request_id.as_deref().unwrap()
    );
    assert_eq!(record["recipientAccountId"], world::MEMBER_ACCOUNT);
    // The AssumeRole records carry the source identity the broker set.
    let assumed: Vec<&Value> = all
        .iter()
        .filter(|r| r["eventName"] == "AssumeRole" && r.get("errorCode").is_none())
        .collect();
    assert_eq!(assumed.len(), 3);
    assert!(
        assumed
            .iter()
            .all(|r| r["requestParameters"]["durationSeconds"] == 900
                && r["requestParameters"]["sourceIdentity"]
                    == r["requestParameters"]["roleSessionName"]),
        "{assumed:#?}"
    );
    // Failed calls are records too, with AWS's error.
    assert!(
        all.iter()
            .any(|r| r["eventName"] == "StartSession" && r["errorCode"] == "TargetNotConnected")
    );
    // No token value anywhere in what CloudTrail keeps.
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(first.token_value.expose()));
}
