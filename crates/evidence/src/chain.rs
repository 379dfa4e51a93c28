//! The chain of digests: per trail (account, region, trail name, home region) digests
//! are ordered by time, and each digest's `previousDigest*` fields must name the digest
//! before it, with that digest's actual SHA-256 and signature.
//!
//! What breaks a chain here: a previous digest that is missing or renamed, or is not
//! the one before it; a `previousDigestHashValue` or `previousDigestSignature` that
//! differs from the previous digest's; time between two digests that no digest covers
//! (a gap); a starting digest after earlier ones (the chain restarts: validation or
//! logging was off). Backfill digests form their own chains; only their links are
//! checked (they are not hourly, so there are no gaps or order to check).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::digest_key::TrailId;
use crate::log_hash::Sha256Hash;

/// Time between one digest's end and the next one's start that is not a gap.
pub const GAP_TOLERANCE: TimeDelta = TimeDelta::minutes(15);

/// What the chain check needs of one digest.
#[derive(Debug, Clone)]
pub struct ChainDigest {
    pub trail: TrailId,
    pub backfill: bool,
    /// Its file, as reported.
    pub file: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bucket: String,
    /// SHA-256 of its uncompressed content.
    pub content_hash: Sha256Hash,
    /// Its own signature, when known from its S3 metadata (a sidecar).
    pub signature: Option<String>,
    /// What it says of the previous digest; None on a starting digest.
    pub previous: Option<PreviousLink>,
}

/// A digest's `previousDigest*` fields and what they point at.
#[derive(Debug, Clone)]
pub struct PreviousLink {
    /// `previousDigestS3Object`.
    pub object: String,
    pub bucket: String,
    pub hash: Sha256Hash,
    pub signature: String,
    pub resolved: Resolved,
}

/// The digest a `previousDigestS3Object` names, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// This index into the digests given.
    Digest(usize),
    /// There is a file of that name, but it is not a valid digest.
    NotValid,
    NotFound,
}

/// One chain problem: the digest it is about (index) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub digest: usize,
    pub reason: String,
}

/// Checks the chains of the digests at `members` (indices into `digests`: those in the
/// time window; links may point at any digest). A missing previous digest of a chain's
/// first digest is not a break when the window has no start before that digest (its
/// predecessor is simply not at hand).
pub fn chain_breaks(
    digests: &[ChainDigest],
    members: &[usize],
    window_start: Option<DateTime<Utc>>,
) -> Vec<ChainBreak> {
    let mut chains: BTreeMap<(&TrailId, bool), Vec<usize>> = BTreeMap::new();
    for &i in members {
        chains
            .entry((&digests[i].trail, digests[i].backfill))
            .or_default()
            .push(i);
    }
    let mut breaks = Vec::new();
    for ((_, backfill), mut chain) in chains {
        chain.sort_by(|&a, &b| {
            (digests[a].end, &digests[a].file).cmp(&(digests[b].end, &digests[b].file))
        });
        for (position, &i) in chain.iter().enumerate() {
            let before = position.checked_sub(1).map(|p| chain[p]);
            let mut say = |reason: String| breaks.push(ChainBreak { digest: i, reason });
            let digest = &digests[i];
            let Some(link) = &digest.previous else {
                if let (Some(b), false) = (before, backfill) {
                    say(format!(
                        "a starting digest (no previous digest) after {} (ending {}): the chain restarts, so log file validation or logging was off in between",
                        digests[b].file,
                        digests[b].end.to_rfc3339()
                    ));
                }
                continue;
            };
            match link.resolved {
                Resolved::NotFound | Resolved::NotValid => {
                    let window_reaches_back = window_start.is_some_and(|s| s < digest.start);
                    if before.is_some() || window_reaches_back {
                        let what = if link.resolved == Resolved::NotValid {
                            "is not a valid digest"
                        } else {
                            "is not here (deleted or renamed?)"
                        };
                        say(format!(
                            "the previous digest it names, {}, {what}",
                            link.object
                        ));
                    }
                }
                Resolved::Digest(p) => {
                    let previous = &digests[p];
                    if !backfill
                        && let Some(b) = before
                        && b != p
                    {
                        say(format!(
                            "it names {} as its previous digest, but the digest before it is {}",
                            previous.file, digests[b].file
                        ));
                    }
                    if link.hash != previous.content_hash {
                        say(format!(
                            "previousDigestHashValue is {} but {} hashes to {} (changed after this digest was signed)",
                            link.hash, previous.file, previous.content_hash
                        ));
                    }
                    if let Some(signature) = &previous.signature
                        && !signature.eq_ignore_ascii_case(&link.signature)
                    {
                        say(format!(
                            "previousDigestSignature differs from the signature in {}'s S3 metadata",
                            previous.file
                        ));
                    }
                    if link.bucket != previous.bucket {
                        say(format!(
                            "previousDigestS3Bucket is {} but {} names bucket {}",
                            link.bucket, previous.file, previous.bucket
                        ));
                    }
                }
            }
            if let (Some(b), false) = (before, backfill) {
                let gap_start = digests[b].end;
                if digest.start - gap_start > GAP_TOLERANCE {
                    say(format!(
                        "a gap: no digest covers {} to {} (after {})",
                        gap_start.to_rfc3339(),
                        digest.start.to_rfc3339(),
                        digests[b].file
                    ));
                }
            }
        }
    }
    breaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trail() -> TrailId {
        TrailId {
            organization_id: None,
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            trail_name: "t".into(),
            home_region: "eu-west-1".into(),
        }
    }

    fn hour(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_769_904_000 + h * 3600, 0).unwrap()
    }

    /// Hourly digests 0..n, each linked to the one before (the first a starting digest).
    fn chain(n: usize) -> Vec<ChainDigest> {
        (0..n)
            .map(|i| ChainDigest {
                trail: trail(),
                backfill: false,
                file: format!("d{i}"),
                start: hour(i as i64),
                end: hour(i as i64 + 1),
                bucket: "b".into(),
                content_hash: Sha256Hash([i as u8; 32]),
                signature: Some(format!("{i:02x}")),
                previous: i.checked_sub(1).map(|p| PreviousLink {
                    object: format!("d{p}"),
                    bucket: "b".into(),
                    hash: Sha256Hash([p as u8; 32]),
                    signature: format!("{p:02x}"),
                    resolved: Resolved::Digest(p),
                }),
            })
            .collect()
    }

    fn reasons(digests: &[ChainDigest], members: &[usize]) -> Vec<(usize, String)> {
        chain_breaks(digests, members, None)
            .into_iter()
            .map(|b| (b.digest, b.reason))
            .collect()
    }

    #[test]
    fn an_intact_chain_has_no_breaks() {
        assert!(reasons(&chain(4), &[3, 1, 0, 2]).is_empty());
    }

    #[test]
    fn a_removed_digest_is_a_missing_previous_and_a_gap() {
        let mut digests = chain(4);
        digests[2].previous.as_mut().unwrap().resolved = Resolved::NotFound;
        let found = reasons(&digests, &[0, 2, 3]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|(i, _)| *i == 2));
        assert!(found[0].1.contains("is not here"));
        assert!(found[1].1.contains("a gap"));
    }

    #[test]
    fn a_changed_hash_or_signature_of_the_previous_breaks_the_link() {
        let mut digests = chain(3);
        digests[1].content_hash = Sha256Hash([9; 32]);
        digests[0].signature = Some("ff".into());
        let found = reasons(&digests, &[0, 1, 2]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].0, 1);
        assert!(found[0].1.contains("previousDigestSignature"));
        assert_eq!(found[1].0, 2);
        assert!(found[1].1.contains("previousDigestHashValue"));
    }

    #[test]
    fn the_first_digest_s_predecessor_may_be_outside_what_is_at_hand() {
        let mut digests = chain(3);
        digests[1].previous.as_mut().unwrap().resolved = Resolved::NotFound;
        assert!(reasons(&digests, &[1, 2]).is_empty());
        // ... unless the window starts before it.
        assert_eq!(chain_breaks(&digests, &[1, 2], Some(hour(0))).len(), 1);
    }

    #[test]
    fn a_restart_is_a_break() {
        let mut digests = chain(3);
        digests[2].previous = None;
        let found = reasons(&digests, &[0, 1, 2]);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("starting digest"));
    }
}
