-- Was the CloudTrail record of each of the month's sessions checked against its digest, and what did the check find?
--
-- Asked by: compliance and auditors (a session's CloudTrail record is evidence only as
-- far as the log file that holds it is). cloudtrail_evidence is the status, in the
-- evidence table, of the log file the session's StartSession record was read from, when
-- `correlate --verify` checked that file: verified | tampered | missing | not_covered |
-- unsigned. 'not checked': no check recorded one (the dataset was made without
-- --verify, or the record came by EventBridge or LookupEvents, which name no log file).
-- Sessions with no CloudTrail record (orphan: the broker's record alone) are not counted.
-- A session belongs to the month of its start_time (UTC): the partitions
-- dt = $first_day .. $last_day. share: of the sessions counted (0 to 1). The worst
-- status first.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: evidence, sessions, share, first_start, last_start
SELECT
    coalesce(cloudtrail_evidence, 'not checked') AS evidence,
    count(*) AS sessions,
    CAST(count(*) AS DOUBLE) / sum(count(*)) OVER () AS share,
    min(start_time) AS first_start,
    max(start_time) AS last_start
FROM sessions
WHERE dt BETWEEN $first_day AND $last_day
    AND cloudtrail_event_id IS NOT NULL
GROUP BY coalesce(cloudtrail_evidence, 'not checked')
ORDER BY
    CASE coalesce(cloudtrail_evidence, 'not checked')
        WHEN 'tampered' THEN 0
        WHEN 'missing' THEN 1
        WHEN 'unsigned' THEN 2
        WHEN 'not_covered' THEN 3
        WHEN 'not checked' THEN 4
        ELSE 5
    END,
    evidence
