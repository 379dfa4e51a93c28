-- How many findings of each rule are there, most severe first?
--
-- Asked by: security analysts (triage) and compliance (monthly report summary).
-- Ordered critical, high, medium, low (unknown severities last), then by rule.
-- Columns: severity, rule, findings, sessions, first_event_time, last_event_time
SELECT
    severity,
    rule,
    COUNT(*) AS findings,
    COUNT(DISTINCT session_id) AS sessions,
    MIN(event_time) AS first_event_time,
    MAX(event_time) AS last_event_time
FROM findings
WHERE resolved_time IS NULL
GROUP BY severity, rule
ORDER BY
    CASE severity
        WHEN 'critical' THEN 1
        WHEN 'high' THEN 2
        WHEN 'medium' THEN 3
        WHEN 'low' THEN 4
        ELSE 5
    END,
    severity,
    rule
