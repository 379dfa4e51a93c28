//! The session broker Lambda function (provided.al2023, behind a function URL with
//! `AuthType: AWS_IAM`): configuration from the environment (docs/contracts.md "Broker
//! API"), the work in `sessiontrail_broker::handle`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use sessiontrail_broker::{AwsSessionStarter, Broker, Config, Mapping, handle};

/// A configuration the broker cannot start with: said once, in words, and the init fails.
fn exit(error: &dyn std::fmt::Display) -> ! {
    eprintln!("sessiontrail-broker: {error}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env().unwrap_or_else(|e| exit(&e));
    let mapping = Mapping::load(&config.policy).unwrap_or_else(|e| exit(&e));
    // The broker's own credentials (its execution role) and region; the SDK's standard
    // retry mode (3 attempts) for STS and SSM.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let broker = Broker::new(mapping, AwsSessionStarter::new(sdk), &config);
    let broker = &broker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let response = handle(&event.payload, &event.context, broker).await;
        Ok::<Value, Error>(response.to_function_url())
    }))
    .await
}
