-- What share of the month's broker sessions could be tied to a human?
--
-- Asked by: compliance (the headline figure of the monthly report, compared with the
-- minimum attribution rate) and security analysts.
-- broker_sessions: sessions of the month via the broker (via_broker) that are neither
-- failed nor pending, that is attributed + unattributed + orphan. attribution_rate:
-- attributed / broker_sessions, NULL when there were no broker sessions. Pending
-- sessions are not decided yet and are counted apart.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: broker_sessions, attributed, unattributed, orphan, pending, attribution_rate
WITH month AS (
    SELECT
        COALESCE(SUM(CASE WHEN status IN ('attributed', 'unattributed', 'orphan')
            THEN 1 ELSE 0 END), 0) AS broker_sessions,
        COALESCE(SUM(CASE WHEN via_broker AND status = 'attributed' THEN 1 ELSE 0 END), 0)
            AS attributed,
        COALESCE(SUM(CASE WHEN via_broker AND status = 'unattributed' THEN 1 ELSE 0 END), 0)
            AS unattributed,
        COALESCE(SUM(CASE WHEN via_broker AND status = 'orphan' THEN 1 ELSE 0 END), 0)
            AS orphan,
        COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending
    FROM sessions
    WHERE dt BETWEEN $first_day AND $last_day
)
SELECT
    broker_sessions,
    attributed,
    unattributed,
    orphan,
    pending,
    CASE
        WHEN broker_sessions = 0 THEN NULL
        ELSE CAST(attributed AS DOUBLE) / CAST(broker_sessions AS DOUBLE)
    END AS attribution_rate
FROM month
