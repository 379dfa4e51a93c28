-- Which sessions are still waiting for their other half, and for which?
--
-- Asked by: on-call. Status 'pending': a broker StartSession without a broker record,
-- or a started broker record without a StartSession, younger than the grace period.
-- Oldest first: those are flagged next. waiting_for is 'broker_record' or 'cloudtrail'.
-- Columns: start_time, waiting_for, session_id, account_id, region, target,
--   via_broker, cloudtrail_event_id, broker_request_id, original_user, permission_set
SELECT
    start_time,
    CASE WHEN broker_request_id IS NULL THEN 'broker_record' ELSE 'cloudtrail' END AS waiting_for,
    session_id,
    account_id,
    region,
    target,
    via_broker,
    cloudtrail_event_id,
    broker_request_id,
    original_user,
    permission_set
FROM sessions
WHERE status = 'pending'
ORDER BY
    start_time,
    session_id NULLS LAST,
    cloudtrail_event_id NULLS LAST,
    broker_request_id NULLS LAST
