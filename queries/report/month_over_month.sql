-- How did sessions, the attribution rate and findings change against the previous month?
--
-- Asked by: compliance (trend of the control) and security leads. One row per month
-- ('previous', 'current') and a 'change' row (current minus previous; for
-- attribution_rate the difference of the two rates, NULL when either is NULL).
-- sessions counts every session, failed StartSession calls included; broker_sessions,
-- attributed and attribution_rate are defined as in attribution_rate.sql.
-- critical_high_findings counts findings of severity critical or high. Months are UTC
-- calendar months: the previous month is the partitions
-- dt = $previous_first_day .. $first_day (excluded), the month dt = $first_day .. $last_day.
-- Parameters: $previous_month, $month (YYYY-MM), $previous_first_day, $first_day,
--   $last_day (YYYY-MM-DD)
-- Columns: period, month, sessions, broker_sessions, attributed, attribution_rate,
--   findings, critical_high_findings
WITH months (period, month, position) AS (
    VALUES
        ('previous', $previous_month, 1),
        ('current', $month, 2)
),
session_counts AS (
    SELECT
        CASE WHEN dt >= $first_day THEN 'current' ELSE 'previous' END AS period,
        COUNT(*) AS sessions,
        SUM(CASE WHEN status IN ('attributed', 'unattributed', 'orphan')
            THEN 1 ELSE 0 END) AS broker_sessions,
        SUM(CASE WHEN via_broker AND status = 'attributed' THEN 1 ELSE 0 END)
            AS attributed
    FROM sessions
    WHERE dt BETWEEN $previous_first_day AND $last_day
    GROUP BY CASE WHEN dt >= $first_day THEN 'current' ELSE 'previous' END
),
finding_counts AS (
    SELECT
        CASE WHEN dt >= $first_day THEN 'current' ELSE 'previous' END AS period,
        COUNT(*) AS findings,
        SUM(CASE WHEN severity IN ('critical', 'high') THEN 1 ELSE 0 END)
            AS critical_high_findings
    FROM findings
    WHERE dt BETWEEN $previous_first_day AND $last_day
        AND resolved_time IS NULL
    GROUP BY CASE WHEN dt >= $first_day THEN 'current' ELSE 'previous' END
),
per_month AS (
    SELECT
        m.period,
        m.month,
        m.position,
        COALESCE(s.sessions, 0) AS sessions,
        COALESCE(s.broker_sessions, 0) AS broker_sessions,
        COALESCE(s.attributed, 0) AS attributed,
        CASE
            WHEN COALESCE(s.broker_sessions, 0) = 0 THEN NULL
            ELSE CAST(s.attributed AS DOUBLE) / CAST(s.broker_sessions AS DOUBLE)
        END AS attribution_rate,
        COALESCE(f.findings, 0) AS findings,
        COALESCE(f.critical_high_findings, 0) AS critical_high_findings
    FROM months m
    LEFT JOIN session_counts s ON s.period = m.period
    LEFT JOIN finding_counts f ON f.period = m.period
),
change AS (
    SELECT
        'change' AS period,
        CAST(NULL AS VARCHAR) AS month,
        3 AS position,
        c.sessions - p.sessions AS sessions,
        c.broker_sessions - p.broker_sessions AS broker_sessions,
        c.attributed - p.attributed AS attributed,
        c.attribution_rate - p.attribution_rate AS attribution_rate,
        c.findings - p.findings AS findings,
        c.critical_high_findings - p.critical_high_findings AS critical_high_findings
    FROM per_month c
    CROSS JOIN per_month p
    WHERE c.period = 'current' AND p.period = 'previous'
)
SELECT period, month, sessions, broker_sessions, attributed, attribution_rate, findings,
    critical_high_findings
FROM (
    SELECT * FROM per_month
    UNION ALL
    SELECT * FROM change
) AS periods
ORDER BY position
