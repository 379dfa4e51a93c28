//! The posture rules: each `posture_*` id with its severity and title, defined once
//! (docs/contracts.md "Posture" lists them from here).

use sessiontrail_correlate::Severity;

/// One posture rule. A finding names one rule; its id is [`PostureRule::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PostureRule {
    /// A mapped permission set's session document does not exist in an account/region.
    DocumentMissing,
    /// The document's `sessionType` is not `Standard_Stream`.
    DocumentNotStandardStream,
    /// The document's `inputs.runAsEnabled` is not true: sessions run as `ssm-user`.
    DocumentNotRunAs,
    /// The document's `inputs.runAsDefaultUser` is not the policy's `run_as`.
    RunAsMismatch,
    /// `idleSessionTimeout` or `maxSessionDuration` exceeds the bounds (or is absent).
    SessionBounds,
    /// Neither `s3BucketName` nor `cloudWatchLogGroupName` is set.
    SessionLogging,
    /// No `kmsKeyId`: the session data stream is not KMS-encrypted.
    SessionEncryption,
    /// The account's `SSM-SessionManagerRunShell` preferences would run a session that
    /// bypasses the broker as `ssm-user` or root.
    DefaultRunAs,
    /// IAM Identity Center's attributes for access control pass `SSMSessionRunAs`.
    AbacRunAs,
    /// The broker's role or a session-starter role carries an `SSMSessionRunAs` tag.
    RoleRunAsTag,
    /// A permission set's policies allow `ssm:StartSession` with another document.
    PermissionSetUnrestricted,
    /// A permission set's policies allow `ssm:StartSession` on instances without
    /// `ssm:SessionDocumentAccessCheck`: a session without a document name runs the
    /// default document unchecked.
    DocumentAccessCheckMissing,
    /// The broker's function URL does not use `AuthType` `AWS_IAM` (or has none).
    UrlAuth,
    /// A check could not be made: a command's output is missing, an error or malformed.
    CheckNotMade,
}

impl PostureRule {
    pub const ALL: [PostureRule; 14] = [
        PostureRule::DocumentMissing,
        PostureRule::DocumentNotStandardStream,
        PostureRule::DocumentNotRunAs,
        PostureRule::RunAsMismatch,
        PostureRule::SessionBounds,
        PostureRule::SessionLogging,
        PostureRule::SessionEncryption,
        PostureRule::DefaultRunAs,
        PostureRule::AbacRunAs,
        PostureRule::RoleRunAsTag,
        PostureRule::PermissionSetUnrestricted,
        PostureRule::DocumentAccessCheckMissing,
        PostureRule::UrlAuth,
        PostureRule::CheckNotMade,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostureRule::DocumentMissing => "posture_document_missing",
            PostureRule::DocumentNotStandardStream => "posture_document_not_standard_stream",
            PostureRule::DocumentNotRunAs => "posture_document_not_run_as",
            PostureRule::RunAsMismatch => "posture_run_as_mismatch",
            PostureRule::SessionBounds => "posture_session_bounds",
            PostureRule::SessionLogging => "posture_session_logging",
            PostureRule::SessionEncryption => "posture_session_encryption",
            PostureRule::DefaultRunAs => "posture_default_run_as",
            PostureRule::AbacRunAs => "posture_abac_run_as",
            PostureRule::RoleRunAsTag => "posture_role_run_as_tag",
            PostureRule::PermissionSetUnrestricted => "posture_permission_set_unrestricted",
            PostureRule::DocumentAccessCheckMissing => "posture_document_access_check_missing",
            PostureRule::UrlAuth => "posture_url_auth",
            PostureRule::CheckNotMade => "posture_check_not_made",
        }
    }

    pub fn parse(id: &str) -> Option<PostureRule> {
        PostureRule::ALL.into_iter().find(|r| r.as_str() == id)
    }

    pub fn severity(self) -> Severity {
        match self {
            PostureRule::AbacRunAs | PostureRule::RoleRunAsTag | PostureRule::UrlAuth => {
                Severity::Critical
            }
            PostureRule::DocumentMissing
            | PostureRule::DocumentNotStandardStream
            | PostureRule::DocumentNotRunAs
            | PostureRule::RunAsMismatch
            | PostureRule::PermissionSetUnrestricted
            | PostureRule::DocumentAccessCheckMissing => Severity::High,
            PostureRule::SessionBounds
            | PostureRule::SessionLogging
            | PostureRule::SessionEncryption
            | PostureRule::CheckNotMade => Severity::Medium,
            PostureRule::DefaultRunAs => Severity::Low,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PostureRule::DocumentMissing => "Session document missing",
            PostureRule::DocumentNotStandardStream => "Session document is not Standard_Stream",
            PostureRule::DocumentNotRunAs => "Session document does not enable Run As",
            PostureRule::RunAsMismatch => "Session document runs as another Linux user",
            PostureRule::SessionBounds => "Session timeouts beyond bounds",
            PostureRule::SessionLogging => "Session transcripts not logged",
            PostureRule::SessionEncryption => "Session data not KMS-encrypted",
            PostureRule::DefaultRunAs => "Sessions bypassing the broker run as ssm-user or root",
            PostureRule::AbacRunAs => "Identity Center passes SSMSessionRunAs",
            PostureRule::RoleRunAsTag => "Role tagged SSMSessionRunAs",
            PostureRule::PermissionSetUnrestricted => {
                "Permission set may start sessions with other documents"
            }
            PostureRule::DocumentAccessCheckMissing => {
                "Permission set starts sessions without ssm:SessionDocumentAccessCheck"
            }
            PostureRule::UrlAuth => "Broker function URL not AWS_IAM",
            PostureRule::CheckNotMade => "Posture check not made",
        }
    }
}

impl std::fmt::Display for PostureRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
