//! A session row of the dataset (`sessions/`). Its conversion to Arrow is at the edge,
//! in `crate::schema` (feature `dataset`).

use sessiontrail_ingest::SessionEvent;
use sessiontrail_ingest::time::{EpochMillis, utc_date};

use crate::status::SessionStatus;

/// One session. Field meanings are documented on the `sessions` schema
/// (`crate::schema::sessions_schema`, feature `dataset`).
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
    /// The identity the StartSession itself names (see [`InBandIdentity`]).
    pub in_band_identity: Option<String>,
    pub in_band_source: Option<InBandSource>,
    /// `onBehalfOf.identityStoreArn` when the in-band identity is an `onBehalfOf` user id.
    pub in_band_identity_store: Option<String>,
    /// StartSession's `requestParameters.reason`.
    pub reason: Option<String>,
    /// Where StartSession's CloudTrail record was read (a local path or `s3://` URL),
    /// and its byte offset there.
    pub cloudtrail_file: Option<String>,
    pub cloudtrail_byte_offset: Option<u64>,
    /// The `evidence` status of that file (`correlate --verify`); None: not checked.
    pub cloudtrail_evidence: Option<crate::evidence::LogFileStatus>,
    /// Where the broker record the session was matched to was read (file and 1-based
    /// line); None for a session without one.
    pub broker_file: Option<String>,
    pub broker_line: Option<u64>,
}

/// Where a StartSession's in-band identity was read (the `in_band_source` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InBandSource {
    /// `userIdentity.sessionContext.sourceIdentity`: a name (sessiontrail's broker sets
    /// the Identity Center user name), comparable with the broker record's caller.
    SourceIdentity,
    /// `userIdentity.onBehalfOf.userId`: an Identity Center user id, which no broker
    /// record carries: recorded, never compared.
    OnBehalfOf,
}

impl InBandSource {
    pub fn as_str(self) -> &'static str {
        match self {
            InBandSource::SourceIdentity => "source_identity",
            InBandSource::OnBehalfOf => "on_behalf_of",
        }
    }

    /// How a finding's detail names the field.
    pub fn field_name(self) -> &'static str {
        match self {
            InBandSource::SourceIdentity => "sourceIdentity",
            InBandSource::OnBehalfOf => "onBehalfOf",
        }
    }
}

/// The identity a StartSession record carries in band, whoever called it
/// (docs/contracts.md "In-band identity"): its `sourceIdentity` when it has one, else
/// its `onBehalfOf.userId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InBandIdentity {
    pub identity: String,
    pub source: InBandSource,
    /// `onBehalfOf.identityStoreArn`, for an `onBehalfOf` identity.
    pub identity_store: Option<String>,
}

impl InBandIdentity {
    pub fn of(start: &SessionEvent) -> Option<Self> {
        if let Some(name) = &start.source_identity {
            return Some(InBandIdentity {
                identity: name.clone(),
                source: InBandSource::SourceIdentity,
                identity_store: None,
            });
        }
        start
            .on_behalf_of_user_id
            .as_ref()
            .map(|user_id| InBandIdentity {
                identity: user_id.clone(),
                source: InBandSource::OnBehalfOf,
                identity_store: start.on_behalf_of_identity_store_arn.clone(),
            })
    }
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
