//! CloudTrail's public keys fetched live for `sessiontrail verify --live`: CloudTrail
//! `ListPublicKeys` in each region the digests come from, every page.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::primitives::DateTime;
use chrono::Utc;
use sessiontrail_evidence::{KeyFileError, PublicKeyEntry, PublicKeySource, PublicKeys};
use tokio::runtime::Handle;

use crate::backfill::cloudtrail_client;

/// Every key `ListPublicKeys` returns for `start`..`end`, as entries to check
/// ([`PublicKeys::from_entries`]). Keys without validity times are left out.
pub async fn list_public_keys(
    client: &Client,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
) -> Result<Vec<PublicKeyEntry>, String> {
    let time = |t: Option<&DateTime>| {
        t.and_then(|t| t.to_millis().ok())
            .and_then(chrono::DateTime::from_timestamp_millis)
    };
    let mut entries = Vec::new();
    let mut next_token = None;
    loop {
        let page = client
            .list_public_keys()
            .start_time(DateTime::from_secs(start.timestamp()))
            .end_time(DateTime::from_secs(end.timestamp()))
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|e| aws_sdk_cloudtrail::error::DisplayErrorContext(e).to_string())?;
        for key in page.public_key_list() {
            let (Some(valid_from), Some(valid_to)) = (
                time(key.validity_start_time()),
                time(key.validity_end_time()),
            ) else {
                continue;
            };
            entries.push(PublicKeyEntry {
                der: key.value().map(|v| v.as_ref().to_vec()).unwrap_or_default(),
                valid_from,
                valid_to,
                stated_fingerprint: key.fingerprint().map(str::to_string),
            });
        }
        next_token = page.next_token().map(str::to_string);
        if next_token.is_none() {
            return Ok(entries);
        }
    }
}

/// Keys from `ListPublicKeys`, for synchronous callers (`verify_folder`).
pub struct LivePublicKeys {
    pub runtime: Handle,
    pub sdk: aws_config::SdkConfig,
}

impl PublicKeySource for LivePublicKeys {
    fn public_keys(
        &mut self,
        region: &str,
        start: chrono::DateTime<Utc>,
        end: chrono::DateTime<Utc>,
    ) -> Result<PublicKeys, KeyFileError> {
        let source_name = format!("ListPublicKeys in {region}");
        let client = cloudtrail_client(&self.sdk, region);
        let entries = self
            .runtime
            .block_on(list_public_keys(&client, start, end))
            .map_err(|reason| KeyFileError {
                source_name: source_name.clone(),
                reason,
            })?;
        PublicKeys::from_entries(entries, &source_name)
    }
}
