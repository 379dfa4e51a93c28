//! Who is calling: the IAM Identity Center user behind the function URL request
//! (docs/contracts.md "Broker API", "Caller").
//!
//! The identity is the `userArn` that the function URL's `AWS_IAM` authorizer verified
//! (`requestContext.authorizer.iam`), never anything in the body. Only
//! `arn:<partition>:sts::<12 digits>:assumed-role/AWSReservedSSO_<PermissionSet>_<16 hex>/<user>`
//! is accepted, in a partition of [`PARTITIONS`] that is the broker's own.
//!
//! The path. IAM Identity Center creates its roles under the path
//! `aws-reserved/sso.amazonaws.com/[region/]`, but an STS assumed-role ARN does not carry
//! the role's path, so the broker cannot see it in `userArn`, and a Lambda resource
//! policy cannot test `aws:PrincipalArn`. The function URL admits only the
//! organisation's principals (`PrincipalOrgID`), only the permission sets' policies grant
//! the invoke (docs/contracts.md "Caller" says what is left), and the broker asserts what
//! the ARN does show: the role
//! name's `AWSReservedSSO_` prefix and the 16 lowercase hex digits of its suffix, which
//! Identity Center always gives it. The permission set is parsed by the same function
//! the audit uses ([`sessiontrail_ingest::arn`]), so broker and audit agree on it.

use sessiontrail_ingest::arn::{Arn, is_account_id, permission_set_of_role_name};

/// The partitions whose STS assumed-role ARNs are understood.
pub use sessiontrail_ingest::arn::PARTITIONS;

/// The verified identity of a caller the broker accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The assumed-role ARN, as the authorizer gave it.
    pub arn: String,
    pub partition: String,
    /// The caller's account: the account the session is started in.
    pub account_id: String,
    /// `AWSReservedSSO_<PermissionSet>_<suffix>`.
    pub role_name: String,
    pub permission_set: String,
    /// The role session name Identity Center set: the user's name.
    pub user: String,
}

/// Why a caller is refused; each says what the user can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    #[error(
        "the request carries no IAM identity: call the broker's function URL with SigV4-signed requests (AuthType AWS_IAM)"
    )]
    Missing,
    #[error(
        "the caller is not an IAM Identity Center user session: sign in with `aws sso login` and call the broker with a permission set's credentials (assumed-role/AWSReservedSSO_<PermissionSet>_<suffix>/<user>)"
    )]
    NotIdentityCenter,
    #[error(
        "the caller is in the {caller} partition, and this broker serves {broker}: use the broker deployed in your partition"
    )]
    WrongPartition { caller: String, broker: String },
    #[error(
        "the caller's account does not match the account the request was signed for: sign the request with your own permission set's credentials"
    )]
    AccountMismatch,
    #[error(
        "the caller's user name cannot be carried as an STS source identity (2 to 64 of A-Z a-z 0-9 _ + = , . @ -): ask your platform team"
    )]
    UnusableUserName,
    #[error(
        "the caller is not in the organisation this broker serves: use your organisation's broker"
    )]
    WrongOrganisation,
}

/// What the function URL's `AWS_IAM` authorizer says about the caller
/// (`requestContext.authorizer.iam`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamAuthorizer {
    pub user_arn: Option<String>,
    pub account_id: Option<String>,
    /// `callerId` (else `userId`): `AROA...:alice@example.com`.
    pub caller_id: Option<String>,
    pub principal_org_id: Option<String>,
}

/// Accepts or refuses the caller. `broker_partition` is the partition the broker runs
/// in; `organisation`, when configured, is the only `principalOrgId` accepted.
pub fn identify(
    iam: Option<&IamAuthorizer>,
    broker_partition: &str,
    organisation: Option<&str>,
) -> Result<Caller, CallerError> {
    let iam = iam.ok_or(CallerError::Missing)?;
    let user_arn = iam
        .user_arn
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or(CallerError::Missing)?;
    let caller = parse_identity_center_arn(user_arn)?;
    if caller.partition != broker_partition {
        return Err(CallerError::WrongPartition {
            caller: caller.partition,
            broker: broker_partition.to_string(),
        });
    }
    if iam
        .account_id
        .as_deref()
        .is_some_and(|account| account != caller.account_id)
    {
        return Err(CallerError::AccountMismatch);
    }
    if let Some(organisation) = organisation
        && iam.principal_org_id.as_deref() != Some(organisation)
    {
        return Err(CallerError::WrongOrganisation);
    }
    Ok(caller)
}

/// Parses an IAM Identity Center user's assumed-role ARN (see the module docs).
pub fn parse_identity_center_arn(text: &str) -> Result<Caller, CallerError> {
    let arn = Arn::parse(text).ok_or(CallerError::NotIdentityCenter)?;
    if !PARTITIONS.contains(&arn.partition) {
        return Err(CallerError::NotIdentityCenter);
    }
    if arn.service != "sts" || !arn.region.is_empty() || !is_account_id(arn.account) {
        return Err(CallerError::NotIdentityCenter);
    }
    let rest = arn
        .resource
        .strip_prefix("assumed-role/")
        .ok_or(CallerError::NotIdentityCenter)?;
    let (role_name, user) = rest.split_once('/').ok_or(CallerError::NotIdentityCenter)?;
    let permission_set =
        permission_set_of_role_name(role_name).ok_or(CallerError::NotIdentityCenter)?;
    let suffix = &role_name["AWSReservedSSO_".len() + permission_set.len() + 1..];
    if !(suffix.len() == 16 && is_lower_hex(suffix) && is_role_name(role_name)) {
        return Err(CallerError::NotIdentityCenter);
    }
    if user.is_empty() || user.contains('/') {
        return Err(CallerError::NotIdentityCenter);
    }
    if !is_source_identity(user) {
        return Err(CallerError::UnusableUserName);
    }
    Ok(Caller {
        arn: text.to_string(),
        partition: arn.partition.to_string(),
        account_id: arn.account.to_string(),
        role_name: role_name.to_string(),
        permission_set: permission_set.to_string(),
        user: user.to_string(),
    })
}

/// The partition of an ARN (the function's own ARN gives the broker's partition).
pub fn partition_of_arn(arn: &str) -> Option<&str> {
    Arn::parse(arn)
        .map(|a| a.partition)
        .filter(|p| PARTITIONS.contains(p))
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// IAM role names: 1 to 64 of `[\w+=,.@-]`.
fn is_role_name(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(is_sts_name_byte)
}

/// STS `SourceIdentity` (and `RoleSessionName`): 2 to 64 of `[\w+=,.@-]`.
pub fn is_source_identity(text: &str) -> bool {
    (2..=64).contains(&text.len()) && text.bytes().all(is_sts_name_byte)
}

/// `[\w+=,.@-]`, ASCII.
pub fn is_sts_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b',' | b'.' | b'@' | b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice@example.com";

    fn iam(arn: &str) -> IamAuthorizer {
        IamAuthorizer {
            user_arn: Some(arn.to_string()),
            account_id: Some("111122223333".into()),
            caller_id: Some("AROAEXAMPLEID:alice@example.com".into()),
            principal_org_id: Some("o-abc123defg".into()),
        }
    }

    #[test]
    fn an_identity_center_user_is_accepted() {
        let caller = identify(Some(&iam(ALICE)), "aws", None).unwrap();
        assert_eq!(caller.permission_set, "Admin");
        assert_eq!(caller.user, "alice@example.com");
        assert_eq!(caller.account_id, "111122223333");
        assert_eq!(caller.partition, "aws");
        assert_eq!(caller.role_name, "AWSReservedSSO_Admin_0123456789abcdef");
    }

    #[test]
    fn permission_sets_with_underscores_and_every_partition() {
        for partition in PARTITIONS {
            let arn = format!(
                "arn:{partition}:sts::111122223333:assumed-role/AWSReservedSSO_Data_Engineer_a1b2c3d4e5f60718/bob"
            );
            let caller = identify(Some(&iam(&arn)), partition, None).unwrap();
            assert_eq!(caller.permission_set, "Data_Engineer", "{arn}");
            assert_eq!(caller.user, "bob");
        }
    }

    #[test]
    fn look_alikes_are_refused() {
        let refused = [
            // Not the reserved prefix.
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSOX_Admin_0123456789abcdef/alice",
            "arn:aws:sts::111122223333:assumed-role/awsreservedsso_Admin_0123456789abcdef/alice",
            "arn:aws:sts::111122223333:assumed-role/XAWSReservedSSO_Admin_0123456789abcdef/alice",
            // A role the customer named like it, without Identity Center's suffix.
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_x/alice",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789ABCDEF/alice",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef0/alice",
            // The role itself, the wrong service, no user, extra path.
            "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
            "arn:aws:iam::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef",
            "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice/x",
            "arn:aws:sts::111122223333:federated-user/alice",
            "arn:aws:sts::111122223333:assumed-role/broker/alice",
            "arn:aws:iam::111122223333:user/alice",
            // Not a 12-digit account, a region where STS ARNs have none, unknown partition.
            "arn:aws:sts::1111222233:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
            "arn:aws:sts:us-east-1:111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
            "arn:aws-moon:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice",
            "not an arn",
            "",
        ];
        for arn in refused {
            let err = identify(Some(&iam(arn)), "aws", None).unwrap_err();
            let expected = if arn.is_empty() {
                CallerError::Missing
            } else {
                CallerError::NotIdentityCenter
            };
            assert_eq!(err, expected, "{arn}");
        }
    }

    #[test]
    fn another_partition_the_wrong_account_or_organisation_is_refused() {
        let gov = "arn:aws-us-gov:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice";
        assert_eq!(
            identify(Some(&iam(gov)), "aws", None).unwrap_err(),
            CallerError::WrongPartition {
                caller: "aws-us-gov".into(),
                broker: "aws".into()
            }
        );
        let mut other_account = iam(ALICE);
        other_account.account_id = Some("444455556666".into());
        assert_eq!(
            identify(Some(&other_account), "aws", None).unwrap_err(),
            CallerError::AccountMismatch
        );
        assert_eq!(
            identify(Some(&iam(ALICE)), "aws", Some("o-other00000")).unwrap_err(),
            CallerError::WrongOrganisation
        );
        assert!(identify(Some(&iam(ALICE)), "aws", Some("o-abc123defg")).is_ok());
        assert_eq!(
            identify(None, "aws", None).unwrap_err(),
            CallerError::Missing
        );
    }

    #[test]
    fn user_names_that_cannot_be_a_source_identity_are_refused() {
        for user in ["a", "alice smith", "al!ce", &"a".repeat(65)] {
            let arn = format!(
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/{user}"
            );
            assert_eq!(
                parse_identity_center_arn(&arn).unwrap_err(),
                CallerError::UnusableUserName,
                "{user}"
            );
        }
        assert!(is_source_identity("a+b=c,d.e@f-g_h"));
    }

    #[test]
    fn partition_of_the_function_arn() {
        assert_eq!(
            partition_of_arn("arn:aws-cn:lambda:cn-north-1:111122223333:function:broker"),
            Some("aws-cn")
        );
        assert_eq!(partition_of_arn("arn:aws-moon:lambda:x:1:function:b"), None);
        assert_eq!(partition_of_arn(""), None);
    }
}
