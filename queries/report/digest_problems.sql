-- Which of the month's CloudTrail digest files failed their own checks: a signature that did not verify, or a break in the chain of digests?
--
-- Asked by: auditors and security analysts. The open findings of the rules
-- digest_signature_invalid (critical: the digest's signature does not verify with the
-- public key its fingerprint names) and digest_chain_broken (high: its
-- previousDigestHashValue or previousDigestSignature is not the previous digest's, or
-- an hour has no digest), raised by `correlate --verify`. A log file a bad digest lists
-- is unsigned (log_files_not_verified). A finding belongs to the month of its
-- event_time (UTC): the partitions dt = $first_day .. $last_day. Oldest first.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: event_time, severity, rule, account_id, region, finding_id, detail, evidence
SELECT
    event_time,
    severity,
    rule,
    account_id,
    region,
    finding_id,
    detail,
    evidence
FROM findings
WHERE dt BETWEEN $first_day AND $last_day
    AND rule IN ('digest_signature_invalid', 'digest_chain_broken')
    AND resolved_time IS NULL
ORDER BY event_time, finding_id
