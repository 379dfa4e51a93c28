-- Which sessions does the broker say it started that CloudTrail never recorded?
--
-- Asked by: security analysts and on-call. Status 'orphan' (an orphan_broker_record
-- finding): a started broker record with no matching StartSession past the grace
-- period; start_time is the broker record's ts.
-- Columns: start_time, session_id, broker_request_id, original_user,
--   original_principal_arn, permission_set, account_id, region, target,
--   document_name, run_as, source_ip
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
    document_name,
    run_as,
    source_ip
FROM sessions
WHERE status = 'orphan'
ORDER BY start_time, broker_request_id NULLS LAST, session_id NULLS LAST
