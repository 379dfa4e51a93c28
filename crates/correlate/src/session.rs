//! A session row of the dataset (`sessions/`), and its conversion to Arrow at the edge.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray,
};
use datafusion::arrow::error::ArrowError;
use sessiontrail_ingest::time::{EpochMillis, utc_date};

use crate::schema::sessions_schema;
use crate::status::SessionStatus;

/// One session. Field meanings are documented on [`sessions_schema`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: Option<String>,
    pub status: SessionStatus,
    pub start_time: EpochMillis,
    pub end_time: Option<EpochMillis>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub target: Option<String>,
    pub document_name: Option<String>,
    pub via_broker: bool,
    pub cloudtrail_event_id: Option<String>,
    pub cloudtrail_principal_arn: Option<String>,
    pub original_principal_arn: Option<String>,
    pub original_user: Option<String>,
    pub permission_set: Option<String>,
    pub expected_document: Option<String>,
    pub run_as: Option<String>,
    pub broker_request_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The key a session (and the findings raised on it) is known by between runs: its
/// session id; the StartSession eventID for failed sessions and starts without a session
/// id; `broker:<request_id>` for a broker record that carries no session id, and for
/// every denied or failed broker-only attempt (each its own row).
pub fn session_key(
    session_id: Option<&str>,
    status: &str,
    cloudtrail_event_id: Option<&str>,
    broker_request_id: Option<&str>,
) -> String {
    let attempt =
        status == SessionStatus::Failed.as_str() || status == SessionStatus::Denied.as_str();
    match (session_id, cloudtrail_event_id, broker_request_id) {
        (Some(id), _, _) if !attempt => id.to_string(),
        (_, Some(event_id), _) => event_id.to_string(),
        (_, _, Some(request_id)) => format!("broker:{request_id}"),
        (Some(id), None, None) => id.to_string(),
        (None, None, None) => String::new(),
    }
}

impl Session {
    pub fn key(&self) -> String {
        session_key(
            self.session_id.as_deref(),
            self.status.as_str(),
            self.cloudtrail_event_id.as_deref(),
            self.broker_request_id.as_deref(),
        )
    }

    /// The `dt` partition: the UTC date of `start_time`.
    pub fn partition(&self) -> String {
        utc_date(self.start_time)
    }
}

/// Rows to columns, at the edge where sessions are written.
pub fn sessions_to_batch(rows: &[Session]) -> Result<RecordBatch, ArrowError> {
    fn text<'a>(rows: &'a [Session], get: impl Fn(&'a Session) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<StringArray>())
    }
    let utc = |array: TimestampMillisecondArray| array.with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        text(rows, |r| r.session_id.as_deref()),
        text(rows, |r| Some(r.status.as_str())),
        Arc::new(utc(rows.iter().map(|r| Some(r.start_time)).collect())),
        Arc::new(utc(rows.iter().map(|r| r.end_time).collect())),
        text(rows, |r| r.account_id.as_deref()),
        text(rows, |r| r.region.as_deref()),
        text(rows, |r| r.target.as_deref()),
        text(rows, |r| r.document_name.as_deref()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.via_broker))
                .collect::<BooleanArray>(),
        ),
        text(rows, |r| r.cloudtrail_event_id.as_deref()),
        text(rows, |r| r.cloudtrail_principal_arn.as_deref()),
        text(rows, |r| r.original_principal_arn.as_deref()),
        text(rows, |r| r.original_user.as_deref()),
        text(rows, |r| r.permission_set.as_deref()),
        text(rows, |r| r.expected_document.as_deref()),
        text(rows, |r| r.run_as.as_deref()),
        text(rows, |r| r.broker_request_id.as_deref()),
        text(rows, |r| r.source_ip.as_deref()),
        text(rows, |r| r.user_agent.as_deref()),
    ];
    RecordBatch::try_new(sessions_schema(), columns)
}
