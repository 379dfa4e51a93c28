-- Who started sessions in the month without going through the broker, and was it allowed?
--
-- Asked by: compliance and security analysts. Status 'direct': the StartSession caller
-- was not the broker. flagged is true when the session raised a direct_session finding
-- (not allowed under the policy's [direct] section; the finding's event_time is the
-- session's start_time, so it lies in the same month). A session belongs to the month
-- of its start_time (UTC): the partitions dt = $first_day .. $last_day.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: start_time, session_id, account_id, region, target, original_user,
--   original_principal_arn, permission_set, document_name, source_ip, flagged
SELECT
    s.start_time,
    s.session_id,
    s.account_id,
    s.region,
    s.target,
    s.original_user,
    s.original_principal_arn,
    s.permission_set,
    s.document_name,
    s.source_ip,
    (f.session_id IS NOT NULL) AS flagged
FROM sessions s
LEFT JOIN (
    SELECT DISTINCT session_id
    FROM findings
    WHERE dt BETWEEN $first_day AND $last_day
        AND rule = 'direct_session'
        AND resolved_time IS NULL
) f ON f.session_id = s.session_id
WHERE s.dt BETWEEN $first_day AND $last_day
    AND s.status = 'direct'
ORDER BY s.start_time, s.session_id NULLS LAST, s.cloudtrail_event_id NULLS LAST
