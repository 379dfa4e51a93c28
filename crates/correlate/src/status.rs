//! Session statuses (DESIGN.md "Session status"): every session has exactly one.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// StartSession with an errorCode: no session was started. Wins over every other status.
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
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 6] = [
        SessionStatus::Failed,
        SessionStatus::Attributed,
        SessionStatus::Unattributed,
        SessionStatus::Pending,
        SessionStatus::Direct,
        SessionStatus::Orphan,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Failed => "failed",
            SessionStatus::Attributed => "attributed",
            SessionStatus::Unattributed => "unattributed",
            SessionStatus::Pending => "pending",
            SessionStatus::Direct => "direct",
            SessionStatus::Orphan => "orphan",
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
