-- Which sessions ran a session document (and so a Linux user) other than the one
-- their permission set is assigned?
--
-- Asked by: security analysts and compliance. One row per document_mismatch finding,
-- joined to its session for the human and the documents involved.
-- Columns: event_time, finding_id, session_id, account_id, region, target,
--   original_user, original_principal_arn, permission_set, document_name,
--   expected_document, run_as, detail
SELECT
    f.event_time,
    f.finding_id,
    f.session_id,
    f.account_id,
    f.region,
    f.target,
    s.original_user,
    s.original_principal_arn,
    f.permission_set,
    s.document_name,
    s.expected_document,
    s.run_as,
    f.detail
FROM findings f
LEFT JOIN sessions s ON s.session_id = f.session_id
WHERE f.rule = 'document_mismatch'
    AND f.resolved_time IS NULL
ORDER BY f.event_time, f.finding_id
