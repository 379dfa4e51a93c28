-- Who started sessions without going through the broker, and was it allowed?
--
-- Asked by: security analysts and compliance. Status 'direct': the StartSession
-- caller was not the broker. flagged is true when the session raised a
-- direct_session finding (not allowed under the policy's [direct] section).
-- Columns: start_time, end_time, session_id, account_id, region, target,
--   original_user, original_principal_arn, permission_set, document_name,
--   source_ip, user_agent, flagged
SELECT
    s.start_time,
    s.end_time,
    s.session_id,
    s.account_id,
    s.region,
    s.target,
    s.original_user,
    s.original_principal_arn,
    s.permission_set,
    s.document_name,
    s.source_ip,
    s.user_agent,
    (f.finding_id IS NOT NULL) AS flagged
FROM sessions s
LEFT JOIN findings f ON f.session_id = s.session_id AND f.rule = 'direct_session'
WHERE s.status = 'direct'
ORDER BY s.start_time, s.session_id NULLS LAST, s.cloudtrail_event_id NULLS LAST
