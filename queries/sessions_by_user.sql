-- Who opened sessions, under which permission set, how often, and when first and last?
--
-- Asked by: compliance (monthly access review) and security analysts. Counts every
-- session that was not a failed StartSession. Sessions nobody could be tied to
-- (unattributed, or pending without a broker record) form the last row, with empty
-- user columns. The same human in two accounts has two principal ARNs, so two rows.
-- Columns: original_user, original_principal_arn, permission_set, sessions,
--   first_start_time, last_start_time
SELECT
    original_user,
    original_principal_arn,
    permission_set,
    COUNT(*) AS sessions,
    MIN(start_time) AS first_start_time,
    MAX(start_time) AS last_start_time
FROM sessions
WHERE status NOT IN ('failed', 'denied')
GROUP BY original_user, original_principal_arn, permission_set
ORDER BY
    original_user NULLS LAST,
    original_principal_arn NULLS LAST,
    permission_set NULLS LAST
