//! The sessiontrail Lambda function (provided.al2023): configuration from the
//! environment (README, "Run in AWS"), the work in `sessiontrail_aws::Handler`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use sessiontrail_aws::Handler;

#[tokio::main]
async fn main() -> Result<(), Error> {
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
