-- Which sessions of the month does the broker say it started that CloudTrail never recorded?
--
-- Asked by: compliance (the audit trail has a hole) and security analysts. Status
-- 'orphan' (an orphan_broker_record finding): a started broker record with no
-- matching StartSession past the grace period; start_time is the broker record's ts,
-- and the session belongs to the month of that time (UTC): the partitions
-- dt = $first_day .. $last_day.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: start_time, session_id, broker_request_id, original_user,
--   original_principal_arn, permission_set, account_id, region, target, document_name
SELECT
    start_time,
    session_id,
    broker_request_id,
    original_user,
    original_principal_arn,
    permission_set,
    account_id,
    region,
    target,
    document_name
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND status = 'orphan'
ORDER BY start_time, broker_request_id NULLS LAST, session_id NULLS LAST
