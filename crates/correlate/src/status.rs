//! Session statuses (DESIGN.md "Session status"): every session has exactly one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// StartSession with an errorCode: no session was started. Wins over every other status.
    /// Also a broker record with outcome `error` that no CloudTrail StartSession matches
    /// (keyed `broker:<request_id>`).
    Failed,
    /// Started by the broker and matched with its broker record.
    Attributed,
    /// Started by the broker, no broker record, older than grace.
    Unattributed,
    /// A missing counterpart, still within grace: re-evaluated by the next run.
    Pending,
    /// Not started by the broker.
    Direct,
    /// The broker says it started a session CloudTrail never saw, older than grace.
    Orphan,
    /// The broker refused the request (broker record outcome `denied`) and no CloudTrail
    /// StartSession matches it: a session attempt that never reached SSM. Never flagged.
    Denied,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 7] = [
        SessionStatus::Failed,
        SessionStatus::Attributed,
        SessionStatus::Unattributed,
        SessionStatus::Pending,
        SessionStatus::Direct,
        SessionStatus::Orphan,
        SessionStatus::Denied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Failed => "failed",
            SessionStatus::Attributed => "attributed",
            SessionStatus::Unattributed => "unattributed",
            SessionStatus::Pending => "pending",
            SessionStatus::Direct => "direct",
            SessionStatus::Orphan => "orphan",
            SessionStatus::Denied => "denied",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        SessionStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
