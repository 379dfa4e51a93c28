//! A short title for each rule, shared by the OCSF and ASFF exports.

use sessiontrail_correlate::Rule;

/// The title of a finding of `rule` (a rule id from DESIGN.md); an unknown rule id
/// gets a generic title naming it.
pub fn finding_title(rule: &str) -> String {
    let Some(rule) = Rule::parse(rule) else {
        return format!("sessiontrail finding: {rule}");
    };
    match rule {
        Rule::UnattributedSession => {
            "SSM session started by the broker is not attributed to a human"
        }
        Rule::DocumentMismatch => {
            "SSM session used a session document other than its permission set's"
        }
        Rule::UnknownPermissionSet => "SSM session by a permission set that is not in the policy",
        Rule::RunAsMismatch => "Broker ran an SSM session as a Linux user other than the policy's",
        Rule::FieldMismatch => "CloudTrail and the broker log disagree about an SSM session",
        Rule::DuplicateBrokerClaim => "Several broker records claim the same SSM session",
        Rule::OrphanBrokerRecord => "Broker started an SSM session that CloudTrail never recorded",
        Rule::SecretInBrokerLog => "Session token written to the broker log",
        Rule::DirectSession => "SSM session started without the broker",
        Rule::ForeignSessionControl => {
            "SSM session resumed or terminated by a principal other than its owner"
        }
        Rule::ClockSkew => "Broker and CloudTrail clocks disagree about an SSM session",
    }
    .to_string()
}
