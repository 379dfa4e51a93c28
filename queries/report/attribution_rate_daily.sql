-- What share of broker sessions could be tied to a human, on each day of the month?
--
-- Asked by: compliance (monthly report chart) and on-call (a falling rate means broker
-- logs are missing). Same definition as attribution_rate.sql, per UTC day:
-- broker_sessions are the day's sessions via the broker that are neither failed nor
-- pending (attributed + unattributed + orphan); attribution_rate is
-- attributed / broker_sessions, NULL on a day without broker sessions. One row per
-- day of the month, days without sessions included.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: day, broker_sessions, attributed, unattributed, orphan, attribution_rate
WITH RECURSIVE days (day) AS (
    SELECT CAST($first_day AS DATE)
    UNION ALL
    SELECT CAST(day + INTERVAL '1' DAY AS DATE)
    FROM days
    WHERE day < CAST($last_day AS DATE)
),
daily AS (
    SELECT
        dt,
        SUM(CASE WHEN status IN ('attributed', 'unattributed', 'orphan')
            THEN 1 ELSE 0 END) AS broker_sessions,
        SUM(CASE WHEN via_broker AND status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
        SUM(CASE WHEN via_broker AND status = 'unattributed' THEN 1 ELSE 0 END)
            AS unattributed,
        SUM(CASE WHEN via_broker AND status = 'orphan' THEN 1 ELSE 0 END) AS orphan
    FROM sessions
    WHERE dt BETWEEN $first_day AND $last_day
    GROUP BY dt
)
SELECT
    CAST(d.day AS VARCHAR) AS day,
    COALESCE(s.broker_sessions, 0) AS broker_sessions,
    COALESCE(s.attributed, 0) AS attributed,
    COALESCE(s.unattributed, 0) AS unattributed,
    COALESCE(s.orphan, 0) AS orphan,
    CASE
        WHEN COALESCE(s.broker_sessions, 0) = 0 THEN NULL
        ELSE CAST(s.attributed AS DOUBLE) / CAST(s.broker_sessions AS DOUBLE)
    END AS attribution_rate
FROM days d
LEFT JOIN daily s ON s.dt = CAST(d.day AS VARCHAR)
ORDER BY day
