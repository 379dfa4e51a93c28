-- Which findings were withdrawn in the month, and why?
--
-- Asked by: compliance (an alert that was sent for a finding the other figures no
-- longer count must be accounted for) and security analysts. A later run withdraws a
-- finding (sets resolved_time and resolution) when records that arrived after its
-- session had left the retention window show it no longer holds; the finding stays in
-- findings/ as evidence, and the other figures count open findings only. A finding is
-- listed in the month of its resolved_time (UTC), whatever the month of its
-- event_time: this query reads every partition of findings. Oldest resolution first.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: resolved_time, severity, rule, event_time, finding_id, session_id,
--   account_id, target, principal_arn, resolution
SELECT
    resolved_time,
    severity,
    rule,
    event_time,
    finding_id,
    session_id,
    account_id,
    target,
    principal_arn,
    resolution
FROM findings
WHERE resolved_time IS NOT NULL
    AND CAST(CAST(resolved_time AS DATE) AS VARCHAR) BETWEEN $first_day AND $last_day
ORDER BY resolved_time, event_time, finding_id
