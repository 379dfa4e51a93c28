//! A short title for each rule, shared by the OCSF and ASFF exports: the rule's
//! [`RuleInfo::title`](sessiontrail_correlate::rule::RuleInfo::title).

use sessiontrail_correlate::Rule;

use super::row::Named;

/// The title of a finding of `rule` (a rule id from docs/contracts.md); an unknown rule
/// id gets a generic title naming it.
pub fn finding_title(rule: &str) -> String {
    title_of(&Named::of_id(rule))
}

/// The title of a finding of `rule`, known or not.
pub(super) fn title_of(rule: &Named<Rule>) -> String {
    match rule {
        Named::Known(rule) => rule.info().title.to_string(),
        Named::Other(rule) => format!("sessiontrail finding: {rule}"),
    }
}
