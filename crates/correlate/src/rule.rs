//! The rules (docs/contracts.md "Rules"): each rule's id, severity, title, description
//! and export mappings are defined here once, in the one list below, and every consumer
//! derives from [`Rule::info`] or is checked against [`Rule::ALL`] by a test.
//!
//! Adding a rule: one entry in the list, its logic in `crate::correlation` (one
//! function), and whatever the consistency tests then name as missing
//! (`tests/rules_defined_once.rs` at the workspace root,
//! `crates/report/tests/rules_defined_once.rs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first.
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// A severity named in any case (`High`): for flags and other text a human typed.
    pub fn parse(text: &str) -> Option<Self> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// The severity whose id is exactly `text` (`high`), as the dataset holds it.
    pub fn from_id(text: &str) -> Option<Self> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The OCSF class a rule's findings are exported as (OCSF 1.1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfMapping {
    /// `class_uid`.
    pub class_uid: u32,
    /// `class_name`, also the start of `type_name` (`Detection Finding: Create`).
    pub class_name: &'static str,
    /// `category_uid`.
    pub category_uid: u32,
    /// `category_name`.
    pub category_name: &'static str,
}

impl OcsfMapping {
    /// Detection Finding (class 2004) in the Findings category (2).
    pub const DETECTION_FINDING: OcsfMapping = OcsfMapping {
        class_uid: 2004,
        class_name: "Detection Finding",
        category_uid: 2,
        category_name: "Findings",
    };
}

/// ASFF `Types` (`namespace/category[/classifier]`) the rules use: behaviour of a
/// principal is "Unusual Behaviors/User"; a broken or bypassed control is a
/// "Software and Configuration Checks" finding.
pub mod asff_types {
    pub const UNUSUAL_USER: &str = "Unusual Behaviors/User";
    pub const BEST_PRACTICES: &str =
        "Software and Configuration Checks/AWS Security Best Practices";
    pub const SENSITIVE_DATA: &str = "Sensitive Data Identifications/Security";
    /// Evidence of what happened was changed or removed.
    pub const DEFENSE_EVASION: &str = "TTPs/Defense Evasion";
}

use asff_types::{BEST_PRACTICES, DEFENSE_EVASION, SENSITIVE_DATA, UNUSUAL_USER};

/// What a finding of a rule is about, and so what its key (the finding's `owner`) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A session (or a broker record, or a token in the broker log): keyed by the
    /// session key ([`crate::session::session_key`]) or `broker:`/`leak:` keys.
    Session,
    /// A CloudTrail log file or digest file: keyed `file:<its S3 key>` (the path from
    /// `AWSLogs/` on; a file in no such layout by its file name).
    LogFile,
    /// A control of the deployment (a session document, a policy, a role): keyed by
    /// the control checked.
    Control,
}

impl Subject {
    pub const ALL: [Subject; 3] = [Subject::Session, Subject::LogFile, Subject::Control];

    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Session => "session",
            Subject::LogFile => "log_file",
            Subject::Control => "control",
        }
    }
}

/// Everything about a rule but its logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The rule id: the `rule` column, the start of each finding id, the EMF metric.
    pub id: &'static str,
    pub severity: Severity,
    /// A short title for a human: OCSF `finding_info.title`, ASFF `Title`.
    pub title: &'static str,
    /// When the rule fires: docs/contracts.md's "fires when", word for word (a test
    /// compares them).
    pub description: &'static str,
    /// ASFF `Types`.
    pub asff_types: &'static [&'static str],
    /// The OCSF class of its findings.
    pub ocsf: OcsfMapping,
    /// Whether deploy/template.yaml has a CloudWatch alarm on the rule's EMF metric (a
    /// test checks the template both ways).
    pub alarmed: bool,
    /// What its findings are about.
    pub subject: Subject,
}

/// Defines [`Rule`], [`Rule::ALL`] (in the order given) and [`Rule::info`] from one
/// list of `Variant => RuleInfo`.
macro_rules! rules {
    ($($variant:ident => $info:expr,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Rule {
            $($variant,)*
        }

        impl Rule {
            /// Every rule, in the order of docs/contracts.md.
            pub const ALL: [Rule; [$(Rule::$variant),*].len()] = [$(Rule::$variant),*];

            /// The rule's id, severity, title, description and export mappings.
            pub const fn info(self) -> &'static RuleInfo {
                match self {
                    $(Rule::$variant => &$info,)*
                }
            }
        }
    };
}

rules! {
    UnattributedSession => RuleInfo {
        id: "unattributed_session",
        severity: Severity::Critical,
        title: "SSM session started by the broker is not attributed to a human",
        description: "status unattributed",
        asff_types: &[UNUSUAL_USER],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: true,
        subject: Subject::Session,
    },
    DocumentMismatch => RuleInfo {
        id: "document_mismatch",
        severity: Severity::High,
        title: "SSM session used a session document other than its permission set's",
        description: "a session whose permission set is in the policy used a document \
            (absent: `default_document`) other than that permission set's",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    UnknownPermissionSet => RuleInfo {
        id: "unknown_permission_set",
        severity: Severity::High,
        title: "SSM session by a permission set that is not in the policy",
        description: "a matched broker session whose permission set is not in the policy \
            (no document/run_as finding then)",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    RunAsMismatch => RuleInfo {
        id: "run_as_mismatch",
        severity: Severity::High,
        title: "Broker ran an SSM session as a Linux user other than the policy's",
        description: "a matched broker record's `run_as` (when present) differs from the \
            policy's for its permission set",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    FieldMismatch => RuleInfo {
        id: "field_mismatch",
        severity: Severity::High,
        title: "CloudTrail and the broker log disagree about an SSM session",
        description: "a matched pair disagrees on target, account (`recipientAccountId`), \
            region, document (absent: `default_document`), or the record's `permission_set` \
            vs its `caller_arn`; one finding per session, the fields in its evidence",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    InBandIdentityMismatch => RuleInfo {
        id: "in_band_identity_mismatch",
        severity: Severity::High,
        title: "CloudTrail's in-band identity contradicts the broker record's caller",
        description: "a matched broker session's StartSession `sourceIdentity` differs \
            (case-sensitively) from its `original_user`, the user of the broker record's \
            `caller_arn`",
        asff_types: &[UNUSUAL_USER],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    DuplicateBrokerClaim => RuleInfo {
        id: "duplicate_broker_claim",
        severity: Severity::High,
        title: "Several broker records claim the same SSM session",
        description: "broker records with different `request_id` claim the same session",
        asff_types: &[UNUSUAL_USER],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    OrphanBrokerRecord => RuleInfo {
        id: "orphan_broker_record",
        severity: Severity::High,
        title: "Broker started an SSM session that CloudTrail never recorded",
        description: "status orphan",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: true,
        subject: Subject::Session,
    },
    SecretInBrokerLog => RuleInfo {
        id: "secret_in_broker_log",
        severity: Severity::High,
        title: "Session token written to the broker log",
        description: "a broker record holds a token (keyed by its session, else \
            `broker:<request_id>`), or a token outside any broker record (keyed \
            `leak:broker:<request_id>`, else `leak:<file>:<line>`)",
        asff_types: &[BEST_PRACTICES, SENSITIVE_DATA],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    DirectSession => RuleInfo {
        id: "direct_session",
        severity: Severity::Medium,
        title: "SSM session started without the broker",
        description: "status direct, and neither the permission set nor the sessionIssuer \
            ARN is allowed under `[direct]`",
        asff_types: &[UNUSUAL_USER],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    ForeignSessionControl => RuleInfo {
        id: "foreign_session_control",
        severity: Severity::Medium,
        title: "SSM session resumed or terminated by a principal other than its owner",
        description: "Resume/TerminateSession of a known session by a principal that is \
            neither a broker principal nor the session's original principal (any non-broker \
            principal when that is unknown)",
        asff_types: &[UNUSUAL_USER],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    ClockSkew => RuleInfo {
        id: "clock_skew",
        severity: Severity::Low,
        title: "Broker and CloudTrail clocks disagree about an SSM session",
        description: "a matched pair's broker `ts` and `eventTime` differ by more than \
            `max_clock_skew`",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::Session,
    },
    // Evidence (docs/contracts.md "Evidence verification"): `correlate --verify`.
    LogFileTampered => RuleInfo {
        id: "log_file_tampered",
        severity: Severity::Critical,
        title: "CloudTrail log file differs from the one its signed digest lists",
        description: "a log file's SHA-256 differs from the hash a digest whose signature \
            verified lists for it (evidence status tampered)",
        asff_types: &[DEFENSE_EVASION],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::LogFile,
    },
    DigestSignatureInvalid => RuleInfo {
        id: "digest_signature_invalid",
        severity: Severity::Critical,
        title: "CloudTrail digest file's signature does not verify",
        description: "a digest's signature does not verify with CloudTrail's key: wrong or \
            forged, no key with its fingerprint, no signature, not a valid digest, or naming \
            another location than where it was found",
        asff_types: &[DEFENSE_EVASION],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::LogFile,
    },
    LogFileMissing => RuleInfo {
        id: "log_file_missing",
        severity: Severity::High,
        title: "CloudTrail log file listed by a digest is not there",
        description: "a log file a digest lists is not found (evidence status missing)",
        asff_types: &[DEFENSE_EVASION],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::LogFile,
    },
    DigestChainBroken => RuleInfo {
        id: "digest_chain_broken",
        severity: Severity::High,
        title: "CloudTrail digest chain is broken",
        description: "a digest's previous digest is missing or not the one before it, its \
            `previousDigestHashValue` or `previousDigestSignature` differs, or an hour has no \
            digest",
        asff_types: &[DEFENSE_EVASION],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::LogFile,
    },
    LogFileNotCovered => RuleInfo {
        id: "log_file_not_covered",
        severity: Severity::Low,
        title: "CloudTrail log file is listed by no digest",
        description: "a log file that no digest lists (evidence status not_covered)",
        asff_types: &[BEST_PRACTICES],
        ocsf: OcsfMapping::DETECTION_FINDING,
        alarmed: false,
        subject: Subject::LogFile,
    },
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        self.info().id
    }

    pub fn severity(self) -> Severity {
        self.info().severity
    }

    pub fn subject(self) -> Subject {
        self.info().subject
    }

    /// The rule whose id is exactly `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Rule::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_serde_names_and_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let serialized = serde_json::to_value(rule).unwrap();
            assert_eq!(serialized, serde_json::json!(rule.as_str()));
            assert_eq!(serde_json::from_value::<Rule>(serialized).unwrap(), rule);
            assert_eq!(Rule::parse(rule.as_str()), Some(rule));
            assert!(seen.insert(rule.as_str()), "{rule} twice");
            let info = rule.info();
            assert!(
                !info.title.is_empty() && !info.description.is_empty(),
                "{rule}"
            );
            assert!(!info.asff_types.is_empty(), "{rule}");
            assert!(
                !info.description.contains("  "),
                "{rule}: a line join left a gap"
            );
        }
    }

    #[test]
    fn severities_parse_exactly_or_in_any_case() {
        for severity in Severity::ALL {
            assert_eq!(
                serde_json::to_value(severity).unwrap(),
                serde_json::json!(severity.as_str())
            );
            assert_eq!(Severity::from_id(severity.as_str()), Some(severity));
            let upper = severity.as_str().to_uppercase();
            assert_eq!(Severity::from_id(&upper), None);
            assert_eq!(Severity::parse(&upper), Some(severity));
        }
        assert!(Severity::ALL.windows(2).all(|w| w[0] > w[1]));
    }
}
