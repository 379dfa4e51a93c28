//! Where CloudTrail puts digest and log files, and what their names say.
//!
//! Digest files:
//! `[prefix/]AWSLogs/[o-id/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz`,
//! backfill digests ending `_backfill.json.gz`. Log files:
//! `[prefix/]AWSLogs/[o-id/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz`.
//! Trail names may hold `_`; region names never do, so the name splits unambiguously.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The trail a digest belongs to: one chain of digests per trail (and per kind, since
/// backfill digests chain among themselves).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrailId {
    pub organization_id: Option<String>,
    pub account_id: String,
    /// The region the digest was delivered from.
    pub region: String,
    pub trail_name: String,
    /// The region the trail was created in.
    pub home_region: String,
}

/// A digest file's key or file name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestKey {
    pub trail: TrailId,
    /// The digest's end time, from its name.
    pub end_time: DateTime<Utc>,
    pub backfill: bool,
    pub file_name: String,
}

/// A log file's key or file name, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileKey {
    pub organization_id: Option<String>,
    pub account_id: String,
    pub region: String,
    /// The time in its name (minutes).
    pub time: DateTime<Utc>,
    pub file_name: String,
}

/// The part of an S3 key from its `AWSLogs/` segment on: the same for a key with or
/// without the trail's optional prefix, and what a local copy's path ends with.
pub fn awslogs_tail(key: &str) -> Option<&str> {
    if key.starts_with("AWSLogs/") {
        return Some(key);
    }
    key.find("/AWSLogs/").map(|at| &key[at + 1..])
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|c| c.is_ascii_digit())
}

/// `o-` and 10 to 32 lowercase letters or digits (Organizations' id pattern).
pub fn is_organization_id(text: &str) -> bool {
    text.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

fn is_region(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && text.contains('-')
}

/// Parses a digest file's S3 key (or the path of a local copy, from its `AWSLogs/`
/// segment on). Folder and name must agree (account, region, date).
pub fn parse_digest_key(key: &str) -> Result<DigestKey, String> {
    let tail = awslogs_tail(key).ok_or_else(|| format!("{key:?} has no AWSLogs/ segment"))?;
    let parts: Vec<&str> = tail.split('/').collect();
    let (organization_id, rest) = match parts.get(1) {
        Some(p) if is_organization_id(p) => (Some(p.to_string()), &parts[2..]),
        _ => (None, &parts[1..]),
    };
    let [account, kind, region, year, month, day, name] = rest else {
        return Err(format!(
            "{key:?} is not AWSLogs/[o-id/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/NAME"
        ));
    };
    if *kind != "CloudTrail-Digest" {
        return Err(format!("{key:?} is not under a CloudTrail-Digest folder"));
    }
    let mut parsed = parse_digest_file_name(name)?;
    parsed.trail.organization_id = organization_id;
    check_folder(
        key,
        account,
        region,
        [year, month, day],
        &parsed.trail.account_id,
        &parsed.trail.region,
        parsed.end_time,
    )?;
    Ok(parsed)
}

fn check_folder(
    key: &str,
    account: &str,
    region: &str,
    date: [&str; 3],
    name_account: &str,
    name_region: &str,
    time: DateTime<Utc>,
) -> Result<(), String> {
    if account != name_account || region != name_region {
        return Err(format!(
            "{key:?}: the folder's account/region {account}/{region} differ from the name's {name_account}/{name_region}"
        ));
    }
    let folder_date = date.join("/");
    let name_date = time.format("%Y/%m/%d").to_string();
    if folder_date != name_date {
        return Err(format!(
            "{key:?}: the folder's date {folder_date} differs from the name's {name_date}"
        ));
    }
    Ok(())
}

/// Parses a digest file's name alone (its folder unknown: no organization id).
pub fn parse_digest_file_name(name: &str) -> Result<DigestKey, String> {
    let bad = |why: &str| {
        format!(
            "{name:?} is not a digest file name (ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ[_backfill].json.gz): {why}"
        )
    };
    let stem = name
        .strip_suffix(".json.gz")
        .ok_or_else(|| bad("it does not end in .json.gz"))?;
    let (stem, backfill) = match stem.strip_suffix("_backfill") {
        Some(stem) => (stem, true),
        None => (stem, false),
    };
    let (account, rest) = stem
        .split_once("_CloudTrail-Digest_")
        .ok_or_else(|| bad("no _CloudTrail-Digest_"))?;
    if !is_account_id(account) {
        return Err(bad("it does not start with a 12-digit account id"));
    }
    let (region, rest) = rest.split_once('_').ok_or_else(|| bad("no region"))?;
    let (rest, timestamp) = rest.rsplit_once('_').ok_or_else(|| bad("no timestamp"))?;
    let (trail_name, home_region) = rest
        .rsplit_once('_')
        .ok_or_else(|| bad("no trail name and home region"))?;
    if !is_region(region) || !is_region(home_region) {
        return Err(bad("the regions are not region names"));
    }
    if trail_name.is_empty() {
        return Err(bad("the trail name is empty"));
    }
    let end_time = NaiveDateTime::parse_from_str(timestamp, "%Y%m%dT%H%M%SZ")
        .map_err(|_| bad("the timestamp is not YYYYMMDDTHHMMSSZ"))?
        .and_utc();
    Ok(DigestKey {
        trail: TrailId {
            organization_id: None,
            account_id: account.to_string(),
            region: region.to_string(),
            trail_name: trail_name.to_string(),
            home_region: home_region.to_string(),
        },
        end_time,
        backfill,
        file_name: name.to_string(),
    })
}

/// Parses a log file's S3 key (or a local copy's path from `AWSLogs/` on).
pub fn parse_log_file_key(key: &str) -> Result<LogFileKey, String> {
    let tail = awslogs_tail(key).ok_or_else(|| format!("{key:?} has no AWSLogs/ segment"))?;
    let parts: Vec<&str> = tail.split('/').collect();
    let (organization_id, rest) = match parts.get(1) {
        Some(p) if is_organization_id(p) => (Some(p.to_string()), &parts[2..]),
        _ => (None, &parts[1..]),
    };
    let [account, kind, region, year, month, day, name] = rest else {
        return Err(format!(
            "{key:?} is not AWSLogs/[o-id/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/NAME"
        ));
    };
    if *kind != "CloudTrail" {
        return Err(format!("{key:?} is not under a CloudTrail folder"));
    }
    let mut parsed = parse_log_file_name(name)?;
    parsed.organization_id = organization_id;
    check_folder(
        key,
        account,
        region,
        [year, month, day],
        &parsed.account_id,
        &parsed.region,
        parsed.time,
    )?;
    Ok(parsed)
}

/// Parses a log file's name alone.
pub fn parse_log_file_name(name: &str) -> Result<LogFileKey, String> {
    let bad = |why: &str| {
        format!(
            "{name:?} is not a CloudTrail log file name (ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz): {why}"
        )
    };
    let stem = name
        .strip_suffix(".json.gz")
        .ok_or_else(|| bad("it does not end in .json.gz"))?;
    let (account, rest) = stem
        .split_once("_CloudTrail_")
        .ok_or_else(|| bad("no _CloudTrail_"))?;
    if !is_account_id(account) {
        return Err(bad("it does not start with a 12-digit account id"));
    }
    let mut fields = rest.splitn(3, '_');
    let (Some(region), Some(timestamp), Some(unique)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return Err(bad("no region, timestamp and unique part"));
    };
    if !is_region(region) || unique.is_empty() {
        return Err(bad("the region or unique part is malformed"));
    }
    let minutes = timestamp.strip_suffix('Z').map(|t| format!("{t}00Z"));
    let time = NaiveDateTime::parse_from_str(minutes.as_deref().unwrap_or(""), "%Y%m%dT%H%M%SZ")
        .or_else(|_| NaiveDateTime::parse_from_str(timestamp, "%Y%m%dT%H%M%SZ"))
        .map_err(|_| bad("the timestamp is not YYYYMMDDTHHMMZ"))?
        .and_utc();
    Ok(LogFileKey {
        organization_id: None,
        account_id: account.to_string(),
        region: region.to_string(),
        time,
        file_name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE_KEY: &str = "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz";

    #[test]
    fn parses_the_user_guide_s_digest_key() {
        let key = parse_digest_key(GUIDE_KEY).unwrap();
        assert_eq!(key.trail.account_id, "111122223333");
        assert_eq!(key.trail.region, "us-east-2");
        assert_eq!(key.trail.trail_name, "your-trail-name");
        assert_eq!(key.trail.home_region, "us-east-2");
        assert_eq!(key.trail.organization_id, None);
        assert_eq!(key.end_time.to_rfc3339(), "2015-08-17T15:01:31+00:00");
        assert!(!key.backfill);
    }

    #[test]
    fn parses_organisation_prefixed_and_backfill_keys_and_trail_names_with_underscores() {
        let key = parse_digest_key(
            "audit/AWSLogs/o-aa111bb222/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/111122223333_CloudTrail-Digest_eu-west-1_org_trail_us-east-1_20260201T100000Z_backfill.json.gz",
        )
        .unwrap();
        assert_eq!(key.trail.organization_id.as_deref(), Some("o-aa111bb222"));
        assert_eq!(key.trail.region, "eu-west-1");
        assert_eq!(key.trail.trail_name, "org_trail");
        assert_eq!(key.trail.home_region, "us-east-1");
        assert!(key.backfill);
        assert_eq!(awslogs_tail("audit/AWSLogs/x"), Some("AWSLogs/x"));
    }

    #[test]
    fn refuses_keys_whose_folder_and_name_disagree_or_are_not_digests() {
        let moved_day = GUIDE_KEY.replace("2015/08/17/", "2015/08/18/");
        assert!(parse_digest_key(&moved_day).unwrap_err().contains("date"));
        let other_account = GUIDE_KEY.replacen("AWSLogs/111122223333", "AWSLogs/444455556666", 1);
        assert!(parse_digest_key(&other_account).is_err());
        assert!(
            parse_digest_file_name(
                "111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_2015.json.gz"
            )
            .is_err()
        );
        assert!(parse_digest_file_name("notes.txt").is_err());
        assert!(
            parse_digest_key("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/x.json.gz")
                .is_err()
        );
    }

    #[test]
    fn parses_log_file_keys() {
        let key = parse_log_file_key(
            "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
        )
        .unwrap();
        assert_eq!(key.account_id, "111122223333");
        assert_eq!(key.time.to_rfc3339(), "2015-08-17T14:45:00+00:00");
        assert!(
            parse_log_file_name(
                "111122223333_CloudTrail-Digest_us-east-2_t_us-east-2_20150817T150131Z.json.gz"
            )
            .is_err()
        );
    }
}
