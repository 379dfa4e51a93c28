-- Which StartSession calls failed (CloudTrail errorCode, no session id)?
--
-- Asked by: on-call and security analysts (repeated failures can be probing or a
-- broken broker). Keyed by cloudtrail_event_id; failed sessions are never flagged as
-- unattributed.
-- Columns: start_time, cloudtrail_event_id, via_broker, account_id, region, target,
--   document_name, cloudtrail_principal_arn, original_user, source_ip, user_agent
SELECT
    start_time,
    cloudtrail_event_id,
    via_broker,
    account_id,
    region,
    target,
    document_name,
    cloudtrail_principal_arn,
    original_user,
    source_ip,
    user_agent
FROM sessions
WHERE status = 'failed'
ORDER BY start_time, cloudtrail_event_id NULLS LAST
