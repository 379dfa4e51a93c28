//! The policy the generated data is judged against, written as `sessiontrail.toml`
//! (docs/contracts.md "Policy"), and the permission sets the generator knows.

use crate::clock::{MINUTE, Millis};

/// What a StartSession without `documentName` used.
pub const DEFAULT_DOCUMENT: &str = "SSM-SessionManagerRunShell";
/// `broker.grace`.
pub const GRACE: Millis = 30 * MINUTE;
/// `broker.max_clock_skew`.
pub const MAX_CLOCK_SKEW: Millis = 5 * MINUTE;

/// A permission set: its session document and Linux user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PermissionSet {
    pub name: &'static str,
    pub document: &'static str,
    pub run_as: &'static str,
}

/// The permission sets in the policy.
pub const POLICY_SETS: [PermissionSet; 4] = [
    PermissionSet {
        name: "Admin",
        document: "SSMRunAs-Admin-Session",
        run_as: "admin",
    },
    PermissionSet {
        name: "ReadOnly",
        document: "SSMRunAs-ReadOnly-Session",
        run_as: "readonly",
    },
    PermissionSet {
        name: "Data_Engineer",
        document: "SSMRunAs-DataEng-Session",
        run_as: "dataeng",
    },
    PermissionSet {
        name: "Dev",
        document: DEFAULT_DOCUMENT,
        run_as: "dev",
    },
];

/// Allowed to start sessions without the broker (`[direct] allowed_permission_sets`).
pub const BREAK_GLASS: &str = "BreakGlass";

/// A permission set that exists in Identity Center but not in the policy.
pub const UNKNOWN_SET: PermissionSet = PermissionSet {
    name: "Billing",
    document: "SSMRunAs-Billing-Session",
    run_as: "billing",
};

/// Every permission set that has a role in the generated accounts.
pub fn all_sets() -> Vec<&'static str> {
    POLICY_SETS
        .iter()
        .map(|set| set.name)
        .chain([BREAK_GLASS, UNKNOWN_SET.name])
        .collect()
}

/// The policy entry of a permission set, or the unknown set's made-up entry.
pub fn lookup(name: &str) -> PermissionSet {
    POLICY_SETS
        .iter()
        .copied()
        .find(|set| set.name == name)
        .unwrap_or(PermissionSet {
            name: UNKNOWN_SET.name,
            document: if name == BREAK_GLASS {
                DEFAULT_DOCUMENT
            } else {
                UNKNOWN_SET.document
            },
            run_as: UNKNOWN_SET.run_as,
        })
}

fn toml_list(items: &[String]) -> String {
    if items.is_empty() {
        return "[]".to_owned();
    }
    let mut out = String::from("[\n");
    for item in items {
        out.push_str(&format!("  \"{item}\",\n"));
    }
    out.push(']');
    out
}

/// The text of `sessiontrail.toml`.
pub fn render(seed: u64, broker_role_arns: &[String], allowed_principals: &[String]) -> String {
    let mut out = format!(
        "# Policy of the data written by `sessiontrail generate --seed {seed}`.\n\
         # truth.json holds what correlating that data under this policy must give.\n\
         default_document = \"{DEFAULT_DOCUMENT}\"\n\n\
         [broker]\n\
         role_arns = {}\n\
         role_names = []\n\
         grace = \"30m\"\n\
         max_clock_skew = \"5m\"\n\
         retention = \"14d\"\n",
        toml_list(broker_role_arns)
    );
    for set in &POLICY_SETS {
        out.push_str(&format!(
            "\n[[permission_set]]\nname = \"{}\"\ndocument = \"{}\"\nrun_as = \"{}\"\n",
            set.name, set.document, set.run_as
        ));
    }
    out.push_str(&format!(
        "\n[direct]\nallowed_permission_sets = [\"{BREAK_GLASS}\"]\nallowed_principals = {}\n",
        toml_list(allowed_principals)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_set_and_list() {
        let text = render(
            5,
            &["arn:aws:iam::111122223333:role/ssm-session-broker".to_owned()],
            &[],
        );
        assert!(text.contains("name = \"Data_Engineer\""));
        assert!(text.contains("document = \"SSMRunAs-DataEng-Session\""));
        assert!(text.contains("\"arn:aws:iam::111122223333:role/ssm-session-broker\",\n"));
        assert!(text.contains("allowed_permission_sets = [\"BreakGlass\"]"));
        assert!(text.contains("allowed_principals = []"));
    }

    #[test]
    fn lookup_knows_policy_sets() {
        assert_eq!(lookup("Dev").document, DEFAULT_DOCUMENT);
        assert_eq!(lookup("Billing"), UNKNOWN_SET);
    }
}
