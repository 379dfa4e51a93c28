//! The sessiontrail Lambda function (provided.al2023): a thin binary over the library
//! it calls, `sessiontrail_aws::lambda_handler`. It installs the JSON log subscriber
//! (one JSON object per line on stderr; EMF metric lines go to stdout), builds the
//! handler from the environment (README, "Run in AWS") and hands it each event.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use sessiontrail_aws::lambda_handler::{Handler, json_log_subscriber};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::subscriber::set_global_default(json_log_subscriber(std::io::stderr))?;
    let handler = Handler::from_env().await?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler
            .handle(event.payload, handler.now())
            .await
            .map_err(Error::from)
    }))
    .await
}
