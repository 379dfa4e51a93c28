-- How many findings of each severity were raised in the month?
--
-- Asked by: compliance (monthly report summary) and security analysts (triage). A
-- finding belongs to the month of its event_time (UTC): the partitions
-- dt = $first_day .. $last_day. Every severity has a row, with 0 when none, most
-- severe first; an unknown severity gets a row too. sessions counts distinct
-- session ids (findings without a session are not counted there).
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: severity, findings, sessions
WITH severities (severity, position) AS (
    VALUES ('critical', 1), ('high', 2), ('medium', 3), ('low', 4)
),
counts AS (
    SELECT severity, COUNT(*) AS findings, COUNT(DISTINCT session_id) AS sessions
    FROM findings
    WHERE dt BETWEEN $first_day AND $last_day
        AND resolved_time IS NULL
    GROUP BY severity
)
SELECT
    COALESCE(s.severity, c.severity) AS severity,
    COALESCE(c.findings, 0) AS findings,
    COALESCE(c.sessions, 0) AS sessions
FROM severities s
FULL OUTER JOIN counts c ON c.severity = s.severity
ORDER BY COALESCE(s.position, 99), COALESCE(s.severity, c.severity)
