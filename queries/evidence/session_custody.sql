-- What is the chain of custody of one session: the CloudTrail record it rests on (the log file, the record's byte offset in it, the file's SHA-256, the digest that lists it and whether that digest's signature and chain verified) and the broker record that names its human (file, line)?
--
-- Asked by: compliance, defending one session to an auditor (`sessiontrail evidence
-- --session ID` runs it; rerun it with any SQL engine over the same tables).
-- $session is a session id, or a StartSession's eventID (a failed session has no
-- session id). The log file's row in `evidence` is the one found at the path the record
-- was read from, or whose S3 key (from AWSLogs/ on) that path ends with; its columns are
-- null when `correlate --verify` never checked the file. The broker columns are null
-- when no broker record was matched (a direct session).
-- Parameters: $session
-- Columns: dt, session_id, status, start_time, end_time, account_id, region, target,
--   original_user, original_principal_arn, permission_set, document_name, run_as,
--   cloudtrail_event_id, cloudtrail_file, cloudtrail_byte_offset, cloudtrail_evidence,
--   log_file, actual_sha256, expected_sha256, digest_file, digest_signature_verified,
--   digest_chain_verified, evidence_detail, evidence_checked_at,
--   broker_request_id, broker_file, broker_line
SELECT
    s.dt,
    s.session_id,
    s.status,
    s.start_time,
    s.end_time,
    s.account_id,
    s.region,
    s.target,
    s.original_user,
    s.original_principal_arn,
    s.permission_set,
    s.document_name,
    s.run_as,
    s.cloudtrail_event_id,
    s.cloudtrail_file,
    s.cloudtrail_byte_offset,
    s.cloudtrail_evidence,
    e.log_file,
    e.actual_sha256,
    e.expected_sha256,
    e.digest_file,
    e.digest_signature_verified,
    e.digest_chain_verified,
    e.detail AS evidence_detail,
    e.checked_at AS evidence_checked_at,
    s.broker_request_id,
    s.broker_file,
    s.broker_line
FROM sessions s
LEFT JOIN evidence e
    ON e.found_at = s.cloudtrail_file
    OR e.log_file = s.cloudtrail_file
    OR (length(s.cloudtrail_file) > length(e.log_file)
        AND substr(s.cloudtrail_file, length(s.cloudtrail_file) - length(e.log_file)) = '/' || e.log_file)
WHERE s.session_id = $session OR s.cloudtrail_event_id = $session
ORDER BY s.start_time, s.cloudtrail_event_id NULLS LAST
