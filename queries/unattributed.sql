-- Which sessions did the broker start that no broker log record ties to a human?
--
-- Asked by: security analysts and on-call. Every row is an attribution gap (an
-- unattributed_session finding, severity critical): CloudTrail recorded a StartSession
-- by the broker's role, and no broker record matched it within the grace period.
-- Columns: start_time, session_id, account_id, region, target, document_name,
--   cloudtrail_event_id, cloudtrail_principal_arn, source_ip, user_agent, end_time
SELECT
    start_time,
    session_id,
    account_id,
    region,
    target,
    document_name,
    cloudtrail_event_id,
    cloudtrail_principal_arn,
    source_ip,
    user_agent,
    end_time
FROM sessions
WHERE status = 'unattributed'
ORDER BY start_time, session_id NULLS LAST, cloudtrail_event_id NULLS LAST
