//! Backfill through CloudTrail LookupEvents, for accounts without a trail bucket.
//!
//! One lookup attribute per call (the API takes at most one): `EventName` for each of
//! StartSession, ResumeSession and TerminateSession, over [since, until), paginated
//! with NextToken (re-sent with the same parameters), at most 2 requests per second per
//! client (the API's limit per account and region), throttling and 5xx retried with
//! backoff by the SDK's standard retry. LookupEvents returns each record as a JSON
//! string (`CloudTrailEvent`); pages are read by the same reader as `lookup-events`
//! output files, so a record that cannot be read is a reject like any other.

use std::time::Duration;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde_json::{Value, json};
use sessiontrail_ingest::CloudTrailRead;
use sessiontrail_ingest::cloudtrail::read_cloudtrail_object;
use sessiontrail_ingest::input_files::ReadBuffers;
use sessiontrail_ingest::time::EpochMillis;

/// The ssm session events a backfill asks for.
pub const SESSION_EVENT_NAMES: [&str; 3] = ["StartSession", "ResumeSession", "TerminateSession"];
/// LookupEvents' limit: 2 requests per second per account and region.
pub const MIN_REQUEST_INTERVAL: Duration = Duration::from_millis(500);
/// Records per page (the API's maximum).
const PAGE_SIZE: i32 = 50;
/// A bound on pages per event name (50 records each: 5 million records).
const MAX_PAGES: usize = 100_000;

#[derive(Debug, thiserror::Error)]
#[error("LookupEvents in {region} ({event_name}, page {page}): {message}")]
pub struct BackfillError {
    pub region: String,
    pub event_name: String,
    pub page: usize,
    pub message: String,
}

/// Spaces requests at least `interval` apart.
#[derive(Debug)]
pub struct RequestPacer {
    interval: Duration,
    last: Option<tokio::time::Instant>,
}

impl RequestPacer {
    pub fn new(interval: Duration) -> Self {
        RequestPacer {
            interval,
            last: None,
        }
    }

    pub async fn wait(&mut self) {
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + self.interval).await;
        }
        self.last = Some(tokio::time::Instant::now());
    }
}

/// A CloudTrail client for `region`, with the SDK's standard retry (throttling and 5xx
/// with exponential backoff).
pub fn cloudtrail_client(sdk: &aws_config::SdkConfig, region: &str) -> Client {
    let config = aws_sdk_cloudtrail::config::Builder::from(sdk)
        .region(aws_sdk_cloudtrail::config::Region::new(region.to_string()))
        .build();
    Client::from_conf(config)
}

/// What a backfill of one region read.
#[derive(Debug, Default)]
pub struct BackfillRead {
    pub cloudtrail: CloudTrailRead,
    pub requests: usize,
}

/// Looks up the ssm session events of one region in [since, until).
pub async fn lookup_session_events(
    client: &Client,
    region: &str,
    since: EpochMillis,
    until: EpochMillis,
    pacer: &mut RequestPacer,
    progress: &(dyn Fn(&str, usize) + Sync),
) -> Result<BackfillRead, BackfillError> {
    let mut read = BackfillRead::default();
    for event_name in SESSION_EVENT_NAMES {
        let mut token: Option<String> = None;
        for page in 1..=MAX_PAGES {
            let error = |message: String| BackfillError {
                region: region.to_string(),
                event_name: event_name.to_string(),
                page,
                message,
            };
            pacer.wait().await;
            read.requests += 1;
            let output = client
                .lookup_events()
                .lookup_attributes(
                    LookupAttribute::builder()
                        .attribute_key(LookupAttributeKey::EventName)
                        .attribute_value(event_name)
                        .build()
                        .map_err(|e| error(e.to_string()))?,
                )
                .start_time(DateTime::from_millis(since))
                .end_time(DateTime::from_millis(until))
                .max_results(PAGE_SIZE)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| error(crate::s3::sdk_error_text(&e)))?;
            let events: Vec<Value> = output
                .events()
                .iter()
                .map(|event| {
                    json!({
                        "EventId": event.event_id(),
                        "EventName": event.event_name(),
                        "CloudTrailEvent": event.cloud_trail_event(),
                    })
                })
                .collect();
            if !events.is_empty() {
                let name = format!("lookup-events:{region}:{event_name}:page-{page}");
                // Canonical bytes: a reject's offset in the page must not depend on
                // serde_json's features.
                let bytes = sessiontrail_ingest::canonical_json::to_canonical_string(
                    &json!({ "Events": events }),
                )
                .into_bytes();
                let mut page_read = CloudTrailRead::default();
                read_cloudtrail_object(&name, bytes, &mut page_read, &mut ReadBuffers::default());
                // A page is not a file: count files once per region below.
                page_read.stats.files = 0;
                read.cloudtrail.merge(page_read);
            }
            progress(event_name, page);
            token = output
                .next_token()
                .map(str::to_string)
                .filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
            if page == MAX_PAGES {
                return Err(error(format!(
                    "more than {MAX_PAGES} pages; narrow --since/--until"
                )));
            }
        }
    }
    Ok(read)
}
