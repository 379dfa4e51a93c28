-- Which sessions of the month did the broker start that no broker log record ties to a human?
--
-- Asked by: compliance (each one is an attribution gap: a session nobody can be held
-- accountable for) and security analysts. Status 'unattributed' (an
-- unattributed_session finding, severity critical): CloudTrail recorded a StartSession
-- by the broker's role and no broker record matched it within the grace period. A
-- session belongs to the month of its start_time (UTC): the partitions
-- dt = $first_day .. $last_day.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: start_time, session_id, account_id, region, target, document_name,
--   cloudtrail_event_id, cloudtrail_principal_arn, source_ip, user_agent
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
    user_agent
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND status = 'unattributed'
ORDER BY start_time, session_id NULLS LAST, cloudtrail_event_id NULLS LAST
