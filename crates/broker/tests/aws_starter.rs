//! The real starter (aws-sdk-sts, aws-sdk-ssm) against the SDK's recorded-HTTP test
//! client: the AssumeRole it sends (SourceIdentity, RoleSessionName, the starter role in
//! the caller's account), StartSession signed with the assumed credentials in the
//! requested region, and SSM's error codes kept, throttling after the standard retries.
//! Wire shapes from the STS (awsQuery XML) and SSM (JSON 1.1) API references.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::{Credentials, SharedCredentialsProvider};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use sessiontrail_broker::SessionStarter;
use sessiontrail_broker::start::{AwsSessionStarter, Call, StartRequest};

const ASSUME_ROLE: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>alice@example.com</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/sessiontrail-session-starter/alice@example.com</Arn>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:alice@example.com</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN</SessionToken>
      <Expiration>2026-03-04T10:30:02Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;

fn request(uri: &str) -> http::Request<SdkBody> {
    http::Request::builder()
        .uri(uri)
        .body(SdkBody::empty())
        .unwrap()
}

fn response(
    status: u16,
    content_type: &str,
    request_id: &str,
    body: &str,
) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-RequestId", request_id)
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn assumed() -> ReplayEvent {
    ReplayEvent::new(
        request("https://sts.eu-west-1.amazonaws.com/"),
        response(
            200,
            "text/xml",
            "c6104cbe-af31-11e0-8154-cbc7ccf896c7",
            ASSUME_ROLE,
        ),
    )
}

fn ssm(status: u16, request_id: &str, body: &str) -> ReplayEvent {
    ReplayEvent::new(
        request("https://ssm.us-east-2.amazonaws.com/"),
        response(status, "application/x-amz-json-1.1", request_id, body),
    )
}

fn starter(replay: &StaticReplayClient) -> AwsSessionStarter {
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(replay.clone())
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIABROKEREXAMPLE",
            "broker-secret",
            None,
            None,
            "test",
        )))
        .region(Region::new("eu-west-1"))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build();
    AwsSessionStarter::new(config)
}

fn start_request() -> StartRequest {
    StartRequest {
        starter_role_arn: "arn:aws:iam::111122223333:role/sessiontrail-session-starter".into(),
        source_identity: "alice@example.com".into(),
        role_session_name: "alice@example.com".into(),
        region: "us-east-2".into(),
        target: "i-0123456789abcdef0".into(),
        document_name: "SSMRunAs-Admin-Session".into(),
        reason: Some("INC-42".into()),
    }
}

#[tokio::test]
async fn assume_role_with_source_identity_then_start_session_with_its_credentials() {
    let replay = StaticReplayClient::new(vec![
        assumed(),
        ssm(
            200,
            "ssm-req-1",
            r#"{"SessionId":"alice@example.com-0123456789abcdef0","StreamUrl":"wss://ssmmessages.us-east-2.amazonaws.com/v1/data-channel/alice@example.com-0123456789abcdef0?role=publish_subscribe","TokenValue":"AAEAAWEXAMPLETOKEN"}"#,
        ),
    ]);
    let session = starter(&replay).start(&start_request()).await.unwrap();
    assert_eq!(session.session_id, "alice@example.com-0123456789abcdef0");
    assert_eq!(session.token_value.expose(), "AAEAAWEXAMPLETOKEN");
    assert_eq!(
        session.stream_url.expose(),
        "wss://ssmmessages.us-east-2.amazonaws.com/v1/data-channel/alice@example.com-0123456789abcdef0?role=publish_subscribe"
    );
    assert_eq!(session.ssm_request_id.as_deref(), Some("ssm-req-1"));

    let requests: Vec<_> = replay.actual_requests().collect();
    assert_eq!(requests.len(), 2);
    let body_text =
        |i: usize| String::from_utf8(requests[i].body().bytes().unwrap().to_vec()).unwrap();
    // AssumeRole: awsQuery form parameters, signed with the broker's own credentials.
    let sts = body_text(0);
    for parameter in [
        "Action=AssumeRole",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fsessiontrail-session-starter",
        "RoleSessionName=alice%40example.com",
        "SourceIdentity=alice%40example.com",
        "DurationSeconds=900",
    ] {
        assert!(
            sts.split('&').any(|p| p == parameter),
            "{parameter} in {sts}"
        );
    }
    assert!(
        requests[0]
            .uri()
            .starts_with("https://sts.eu-west-1.amazonaws.com")
    );
    let authorization = |i: usize| {
        requests[i]
            .headers()
            .get("authorization")
            .unwrap()
            .to_string()
    };
    assert!(authorization(0).contains("Credential=AKIABROKEREXAMPLE/"));
    // StartSession: in the requested region, with the assumed role's credentials.
    assert!(
        requests[1]
            .uri()
            .starts_with("https://ssm.us-east-2.amazonaws.com")
    );
    assert_eq!(
        requests[1].headers().get("x-amz-target"),
        Some("AmazonSSM.StartSession")
    );
    assert!(authorization(1).contains("Credential=ASIAIOSFODNN7EXAMPLE/"));
    assert!(authorization(1).contains("/us-east-2/ssm/aws4_request"));
    assert_eq!(
        requests[1].headers().get("x-amz-security-token"),
        Some("IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN")
    );
    let ssm: serde_json::Value = serde_json::from_str(&body_text(1)).unwrap();
    assert_eq!(
        ssm,
        serde_json::json!({"Target": "i-0123456789abcdef0", "DocumentName": "SSMRunAs-Admin-Session", "Reason": "INC-42"})
    );
}

#[tokio::test]
async fn ssm_error_codes_are_kept() {
    for code in [
        "TargetNotConnected",
        "InvalidDocument",
        "AccessDeniedException",
    ] {
        let replay = StaticReplayClient::new(vec![
            assumed(),
            ssm(
                400,
                "ssm-req-err",
                &format!(r#"{{"__type":"{code}","Message":"refused: {code}"}}"#),
            ),
        ]);
        let error = starter(&replay).start(&start_request()).await.unwrap_err();
        assert_eq!(error.call, Call::StartSession);
        assert_eq!(error.code, code);
        assert_eq!(error.message, format!("refused: {code}"));
        assert_eq!(error.request_id.as_deref(), Some("ssm-req-err"));
        assert!(!error.transient);
        assert_eq!(replay.actual_requests().count(), 2, "{code} is not retried");
    }
}

#[tokio::test]
async fn throttling_is_answered_after_the_standard_retries() {
    let throttled = || {
        ssm(
            400,
            "ssm-req-throttled",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        )
    };
    let replay = StaticReplayClient::new(vec![assumed(), throttled(), throttled(), throttled()]);
    let error = starter(&replay).start(&start_request()).await.unwrap_err();
    assert_eq!(error.code, "ThrottlingException");
    assert!(error.transient);
    // One AssumeRole, and StartSession three times (the standard mode's attempts).
    assert_eq!(replay.actual_requests().count(), 4);
}

#[tokio::test]
async fn an_assume_role_refusal_is_stss_code() {
    let denied = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:SetSourceIdentity</Message></Error>
  <RequestId>sts-req-denied</RequestId>
</ErrorResponse>"#;
    let replay = StaticReplayClient::new(vec![ReplayEvent::new(
        request("https://sts.eu-west-1.amazonaws.com/"),
        response(403, "text/xml", "sts-req-denied", denied),
    )]);
    let error = starter(&replay).start(&start_request()).await.unwrap_err();
    assert_eq!(error.call, Call::AssumeRole);
    assert_eq!(error.code, "AccessDenied");
    assert!(
        error.message.contains("sts:SetSourceIdentity"),
        "{}",
        error.message
    );
    assert_eq!(
        replay.actual_requests().count(),
        1,
        "no StartSession without credentials"
    );
}
