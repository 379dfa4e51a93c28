-- Which of the month's CloudTrail log files did not verify against their digests, and why?
--
-- Asked by: auditors and security analysts. One row per log file `correlate --verify`
-- checked whose status is not verified: tampered (its SHA-256 differs from the hash a
-- digest with a valid signature lists), missing (a digest lists it, it was not found),
-- not_covered (no digest lists it), unsigned (the digest that lists it did not verify).
-- A log file belongs to the month of the time in its name (UTC): the partitions
-- dt = $first_day .. $last_day. Empty when every file verified, or none was checked
-- (the session_evidence figure says which). Oldest file first.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: log_file_time, status, log_file, account_id, region, digest_file,
--   expected_sha256, actual_sha256, detail, checked_at
SELECT
    log_file_time,
    status,
    log_file,
    account_id,
    region,
    digest_file,
    expected_sha256,
    actual_sha256,
    detail,
    checked_at
FROM evidence
WHERE dt BETWEEN $first_day AND $last_day
    AND status <> 'verified'
ORDER BY log_file_time, log_file
