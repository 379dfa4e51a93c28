-- How many findings did each rule raise in the month, and how severe are they?
--
-- Asked by: compliance (which controls failed, and which were checked without a
-- finding) and security analysts. Every rule of docs/contracts.md has a row, with 0 when it
-- raised nothing; a rule or severity the dataset holds beyond those gets its own row.
-- Ordered critical, high, medium, low, then by rule. A finding belongs to the month
-- of its event_time (UTC): the partitions dt = $first_day .. $last_day.
-- Parameters: $first_day, $last_day (YYYY-MM-DD, the month's first and last day)
-- Columns: rule, severity, findings, sessions
WITH rules (rule, severity) AS (
    VALUES
        ('unattributed_session', 'critical'),
        ('document_mismatch', 'high'),
        ('unknown_permission_set', 'high'),
        ('run_as_mismatch', 'high'),
        ('field_mismatch', 'high'),
        ('in_band_identity_mismatch', 'high'),
        ('duplicate_broker_claim', 'high'),
        ('orphan_broker_record', 'high'),
        ('secret_in_broker_log', 'high'),
        ('direct_session', 'medium'),
        ('foreign_session_control', 'medium'),
        ('clock_skew', 'low'),
        ('log_file_tampered', 'critical'),
        ('digest_signature_invalid', 'critical'),
        ('log_file_missing', 'high'),
        ('digest_chain_broken', 'high'),
        ('log_file_not_covered', 'low')
),
counts AS (
    SELECT rule, severity, COUNT(*) AS findings, COUNT(DISTINCT session_id) AS sessions
    FROM findings
    WHERE dt BETWEEN $first_day AND $last_day
        AND resolved_time IS NULL
    GROUP BY rule, severity
),
merged AS (
    SELECT
        COALESCE(r.rule, c.rule) AS rule,
        COALESCE(r.severity, c.severity) AS severity,
        COALESCE(c.findings, 0) AS findings,
        COALESCE(c.sessions, 0) AS sessions
    FROM rules r
    FULL OUTER JOIN counts c ON c.rule = r.rule AND c.severity = r.severity
)
SELECT rule, severity, findings, sessions
FROM merged
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
