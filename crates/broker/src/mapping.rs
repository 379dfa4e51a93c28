//! Permission set -> session document and Linux user, from the policy file the audit
//! reads (`sessiontrail.toml`, `[[permission_set]]`: docs/contracts.md "Policy"), so
//! broker and audit hold one mapping.

use std::path::Path;

use sessiontrail_correlate::Policy;
use sessiontrail_correlate::policy::PolicyError;

/// What a permission set's sessions are started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMapping {
    pub document_name: String,
    /// The Linux user the document runs as (`runAsDefaultUser`), as the policy names it.
    pub run_as: Option<String>,
}

/// The permission sets the broker starts sessions for.
#[derive(Debug, Clone)]
pub struct Mapping {
    policy: Policy,
}

impl Mapping {
    pub fn new(policy: Policy) -> Self {
        Mapping { policy }
    }

    /// Loads the policy file (the same file and rules as `sessiontrail --policy`).
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        Policy::load(path).map(Mapping::new)
    }

    /// The mapping of a permission set; None for one the policy does not list (the
    /// policy's `default_document` is not a mapping: such a request is denied).
    pub fn lookup(&self, permission_set: &str) -> Option<SessionMapping> {
        self.policy
            .permission_sets
            .get(permission_set)
            .map(|p| SessionMapping {
                document_name: p.document.clone(),
                run_as: p.run_as.clone(),
            })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
default_document = "SSM-SessionManagerRunShell"

[broker]
role_names = ["ssm-session-broker"]

[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"

[[permission_set]]
name = "Data_Engineer"
document = "SSMRunAs-Data-Session"
"#;

    #[test]
    fn permission_sets_map_to_their_document_and_user() {
        let mapping = Mapping::new(Policy::parse(POLICY).unwrap());
        assert_eq!(
            mapping.lookup("Admin"),
            Some(SessionMapping {
                document_name: "SSMRunAs-Admin-Session".into(),
                run_as: Some("admin".into())
            })
        );
        assert_eq!(
            mapping.lookup("Data_Engineer"),
            Some(SessionMapping {
                document_name: "SSMRunAs-Data-Session".into(),
                run_as: None
            })
        );
        assert_eq!(mapping.lookup("admin"), None);
        assert_eq!(mapping.lookup("ReadOnly"), None);
    }

    #[test]
    fn the_policy_file_is_read_with_the_audits_rules() {
        let dir = std::env::temp_dir().join(format!("broker-mapping-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sessiontrail.toml");
        std::fs::write(&path, POLICY).unwrap();
        assert!(Mapping::load(&path).unwrap().lookup("Admin").is_some());
        std::fs::write(&path, format!("{POLICY}\nunknown_key = 1\n")).unwrap();
        let err = Mapping::load(&path).unwrap_err().to_string();
        assert!(err.contains("unknown_key"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
