//! Where every output file goes: S3-style keys of CloudTrail log and digest files,
//! and the paths of the broker log files, relative to the output folder.

use crate::clock::{self, Millis};
use crate::world::{Account, ORG_ID};

/// Folder (inside OUT) that plays the CloudTrail bucket.
pub const CLOUDTRAIL_DIR: &str = "cloudtrail";
/// Folder (inside OUT) of the broker log.
pub const BROKER_DIR: &str = "broker";
/// The ground truth file.
pub const TRUTH_FILE: &str = "truth.json";
/// The policy file.
pub const POLICY_FILE: &str = "sessiontrail.toml";

fn account_prefix(account: &Account) -> String {
    if account.org_trail {
        format!("AWSLogs/{ORG_ID}/{}", account.id)
    } else {
        format!("AWSLogs/{}", account.id)
    }
}

/// S3 key of a log file delivered at `delivery`:
/// `AWSLogs/[o-id/]<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz`.
pub fn cloudtrail_key(account: &Account, region: &str, delivery: Millis, unique: &str) -> String {
    format!(
        "{}/CloudTrail/{region}/{}/{}_CloudTrail_{region}_{}_{unique}.json.gz",
        account_prefix(account),
        clock::date_path(delivery),
        account.id,
        clock::basic_minutes(delivery)
    )
}

/// S3 key of a digest file for the hour that ends at `end`:
/// `AWSLogs/[o-id/]<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/<acct>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>.json.gz`,
/// ending `_backfill.json.gz` for a backfill digest.
pub fn digest_key(
    account: &Account,
    region: &str,
    trail: &str,
    home_region: &str,
    end: Millis,
    backfill: bool,
) -> String {
    format!(
        "{}/CloudTrail-Digest/{region}/{}/{}_CloudTrail-Digest_{region}_{trail}_{home_region}_{}{}.json.gz",
        account_prefix(account),
        clock::date_path(end),
        account.id,
        clock::basic(end),
        if backfill { "_backfill" } else { "" }
    )
}

/// `broker/YYYY/MM/DD/broker-<n>.jsonl.gz` (`date_path` is `YYYY/MM/DD`).
pub fn broker_jsonl(date_path: &str, n: u8) -> String {
    format!("{BROKER_DIR}/{date_path}/broker-{n}.jsonl.gz")
}

/// `broker/exportedlogs/<taskId>/<logStreamName>/000000.gz` (the stream name has `/`s).
pub fn broker_export(task_id: &str, stream: &str) -> String {
    format!("{BROKER_DIR}/exportedlogs/{task_id}/{stream}/000000.gz")
}

/// `broker/subscription-<n>.json`.
pub fn broker_subscription(n: u32) -> String {
    format!("{BROKER_DIR}/subscription-{n}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::GenerateOptions;
    use crate::world::World;

    #[test]
    fn keys_follow_the_s3_layout() {
        let world = World::new(&GenerateOptions::default());
        let plain = &world.accounts[0];
        let org = &world.accounts[1];
        let t = 1_769_940_024_000; // 2026-02-01T10:00:24Z
        assert_eq!(
            cloudtrail_key(plain, "us-east-2", t, "Mu0KsOhtH1ar15ZZ"),
            format!(
                "AWSLogs/{0}/CloudTrail/us-east-2/2026/02/01/{0}_CloudTrail_us-east-2_20260201T1000Z_Mu0KsOhtH1ar15ZZ.json.gz",
                plain.id
            )
        );
        assert!(
            cloudtrail_key(org, "eu-west-1", t, "x").starts_with(&format!(
                "AWSLogs/o-exampleorgid/{}/CloudTrail/eu-west-1/",
                org.id
            ))
        );
        assert_eq!(
            digest_key(
                plain,
                "eu-west-1",
                "management-events",
                "eu-west-1",
                t,
                false
            ),
            format!(
                "AWSLogs/{0}/CloudTrail-Digest/eu-west-1/2026/02/01/{0}_CloudTrail-Digest_eu-west-1_management-events_eu-west-1_20260201T100024Z.json.gz",
                plain.id
            )
        );
        assert!(
            digest_key(org, "us-east-1", "org-trail", "eu-west-1", t, true).ends_with(&format!(
                "/CloudTrail-Digest/us-east-1/2026/02/01/{}_CloudTrail-Digest_us-east-1_org-trail_eu-west-1_20260201T100024Z_backfill.json.gz",
                org.id
            ))
        );
        assert_eq!(
            broker_jsonl("2026/02/01", 2),
            "broker/2026/02/01/broker-2.jsonl.gz"
        );
    }
}
