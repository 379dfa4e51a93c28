//! ARNs of the principals that appear in CloudTrail and the broker log.
//!
//! Only what correlation needs: the partition-independent pieces of an ARN, the role
//! name of an IAM role or STS assumed-role ARN, and the IAM Identity Center permission
//! set name carried by `AWSReservedSSO_<PermissionSet>_<suffix>` role names.

/// An ARN split into its six parts. `resource` keeps everything after the fifth colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses `arn:<partition>:<service>:<region>:<account>:<resource>`; any partition
    /// (`aws`, `aws-us-gov`, `aws-cn`, `aws-iso*`, ...). None for anything else.
    pub fn parse(text: &'a str) -> Option<Self> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?;
        let service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        let resource = parts.next()?;
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }

    /// The role name of an IAM role ARN (`role/[path/]name`) or of an STS assumed-role
    /// ARN (`assumed-role/name/session`).
    pub fn role_name(&self) -> Option<&'a str> {
        match self.service {
            "iam" => {
                let path_and_name = self.resource.strip_prefix("role/")?;
                let name = path_and_name.rsplit('/').next()?;
                (!name.is_empty()).then_some(name)
            }
            "sts" => {
                let rest = self.resource.strip_prefix("assumed-role/")?;
                let (name, _session) = rest.split_once('/')?;
                (!name.is_empty()).then_some(name)
            }
            _ => None,
        }
    }

    /// The role session name of an STS assumed-role ARN, or the user name of an IAM
    /// user ARN: for the principals in this domain, the human's user name.
    pub fn user_name(&self) -> Option<&'a str> {
        match self.service {
            "sts" => {
                let rest = self.resource.strip_prefix("assumed-role/")?;
                let (_role, session) = rest.split_once('/')?;
                (!session.is_empty()).then_some(session)
            }
            "iam" => {
                let path_and_name = self.resource.strip_prefix("user/")?;
                let name = path_and_name.rsplit('/').next()?;
                (!name.is_empty()).then_some(name)
            }
            _ => None,
        }
    }
}

/// Whether `text` is an AWS account id: 12 ASCII digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS partitions (`arn:<partition>:...`): standard, China, GovCloud (US), the ISO
/// partitions and the European Sovereign Cloud. Broker, guard rails and findings exports
/// accept these and no other.
pub const PARTITIONS: [&str; 8] = [
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-iso-e",
    "aws-iso-f",
    "aws-eusc",
];

/// The permission set of an IAM Identity Center role name
/// `AWSReservedSSO_<PermissionSet>_<suffix>`: only the final `_<suffix>` is stripped,
/// so permission set names may themselves contain `_`.
pub fn permission_set_of_role_name(role_name: &str) -> Option<&str> {
    let rest = role_name.strip_prefix("AWSReservedSSO_")?;
    let (name, suffix) = rest.rsplit_once('_')?;
    (!name.is_empty() && !suffix.is_empty()).then_some(name)
}

/// The permission set of a principal ARN: an STS assumed-role ARN or an IAM role ARN
/// (with or without the `aws-reserved/sso.amazonaws.com/[region/]` path).
pub fn permission_set_of_arn(arn: &str) -> Option<&str> {
    permission_set_of_role_name(Arn::parse(arn)?.role_name()?)
}

/// The user name carried by a principal ARN (see [`Arn::user_name`]).
pub fn user_name_of_arn(arn: &str) -> Option<&str> {
    Arn::parse(arn)?.user_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_set_names_may_contain_underscores() {
        assert_eq!(
            permission_set_of_role_name("AWSReservedSSO_Data_Engineer_0123456789abcdef"),
            Some("Data_Engineer")
        );
        assert_eq!(
            permission_set_of_role_name("AWSReservedSSO_Admin_a1b2c3d4e5f60718"),
            Some("Admin")
        );
        assert_eq!(permission_set_of_role_name("AWSReservedSSO_Admin"), None);
        assert_eq!(permission_set_of_role_name("AWSReservedSSO__abc"), None);
        assert_eq!(permission_set_of_role_name("Admin_abc"), None);
    }

    #[test]
    fn sts_and_iam_forms_with_and_without_region_path_in_every_partition() {
        let cases = [
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882/quang.tranminh",
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882",
            "arn:aws-us-gov:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-gov-west-1/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882",
            "arn:aws-cn:sts::111122223333:assumed-role/AWSReservedSSO_TF4-AuditReadOnlyAndAnalyze_2b03e7d876722882/u@example.com",
        ];
        for arn in cases {
            assert_eq!(
                permission_set_of_arn(arn),
                Some("TF4-AuditReadOnlyAndAnalyze"),
                "{arn}"
            );
        }
    }

    #[test]
    fn non_sso_principals_have_no_permission_set() {
        assert_eq!(
            permission_set_of_arn("arn:aws:iam::354114410416:user/garland.kan.temp"),
            None
        );
        assert_eq!(
            permission_set_of_arn("arn:aws:sts::123456789012:assumed-role/Admin/jojithom"),
            None
        );
        assert_eq!(permission_set_of_arn("not an arn"), None);
        assert_eq!(permission_set_of_arn("arn:aws:sts::1:assumed-role/"), None);
    }

    #[test]
    fn user_names() {
        assert_eq!(
            user_name_of_arn(
                "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_abc/alice@example.com"
            ),
            Some("alice@example.com")
        );
        assert_eq!(
            user_name_of_arn("arn:aws:iam::1:user/path/bob"),
            Some("bob")
        );
        assert_eq!(user_name_of_arn("arn:aws:iam::1:role/broker"), None);
    }
}
