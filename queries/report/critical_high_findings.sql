-- Which critical and high findings were raised in the month, in full?
--
-- Asked by: compliance (each one needs an owner and an answer) and security analysts.
-- The dataset keeps no closed state for findings, so every finding of the month is
-- open. A finding belongs to the month of its event_time (UTC): the partitions
-- dt = $first_day .. $last_day. Critical first, then by event_time. evidence is the
-- finding's JSON evidence as text.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: severity, rule, event_time, finding_id, session_id, account_id, region,
--   target, principal_arn, permission_set, detail, evidence
SELECT
    severity,
    rule,
    event_time,
    finding_id,
    session_id,
    account_id,
    region,
    target,
    principal_arn,
    permission_set,
    detail,
    evidence
FROM findings
WHERE dt BETWEEN $first_day AND $last_day
    AND severity IN ('critical', 'high')
    AND resolved_time IS NULL
ORDER BY
    CASE severity WHEN 'critical' THEN 1 ELSE 2 END,
    event_time,
    finding_id
