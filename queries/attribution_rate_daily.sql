-- What share of broker sessions could be tied to a human, day by day (UTC)?
--
-- Asked by: compliance (evidence that the compensating control works) and on-call
-- (a falling rate means broker logs are missing). broker_sessions counts sessions
-- via the broker that are neither failed nor pending (attributed, unattributed,
-- orphan); attribution_rate is attributed / broker_sessions, NULL on a day with
-- none. The monthly report uses the same definition.
-- Columns: day, broker_sessions, attributed, unattributed, orphan, attribution_rate
WITH daily AS (
    SELECT
        CAST(start_time AS DATE) AS day,
        SUM(CASE WHEN status IN ('attributed', 'unattributed', 'orphan') THEN 1 ELSE 0 END)
            AS broker_sessions,
        SUM(CASE WHEN status = 'attributed' THEN 1 ELSE 0 END) AS attributed,
        SUM(CASE WHEN status = 'unattributed' THEN 1 ELSE 0 END) AS unattributed,
        SUM(CASE WHEN status = 'orphan' THEN 1 ELSE 0 END) AS orphan
    FROM sessions
    GROUP BY CAST(start_time AS DATE)
)
SELECT
    day,
    broker_sessions,
    attributed,
    unattributed,
    orphan,
    CASE
        WHEN broker_sessions = 0 THEN NULL
        ELSE CAST(attributed AS DOUBLE) / CAST(broker_sessions AS DOUBLE)
    END AS attribution_rate
FROM daily
ORDER BY day
