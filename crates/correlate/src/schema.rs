//! The Arrow schemas of the tables of the attributed dataset, and the conversion of
//! rows ([`Session`], [`Finding`], [`Reject`]) to their columns, defined once.
//!
//! `sessions/dt=YYYY-MM-DD/*.parquet` holds one row per session,
//! `findings/dt=YYYY-MM-DD/*.parquet` one row per finding and
//! `rejects/dt=YYYY-MM-DD/*.parquet` one row per input record that could not be read. The partition column `dt`
//! (the UTC date of `start_time` / `event_time`) lives in the folder name, not in the
//! files. Column names are a contract (DESIGN.md): analysts, Athena tables and the
//! queries in `queries/` depend on them.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, RecordBatch, StringArray, TimestampMillisecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use sessiontrail_ingest::Reject;
use sessiontrail_ingest::canonical_json::to_canonical_string;

use crate::evidence::LogFileRecord;
use crate::finding::Finding;
use crate::session::Session;

/// Timestamps are UTC instants with millisecond precision (CloudTrail has seconds,
/// the broker log milliseconds).
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

static SESSIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        // SSM SessionId; null for `failed` StartSessions (keyed by cloudtrail_event_id),
        // a StartSession whose responseElements was nulled (keyed the same way), orphan
        // broker records that carry only an ssm_request_id and broker-only `denied` /
        // `failed` attempts (keyed `broker:<request_id>`).
        text("session_id"),
        // failed | attributed | unattributed | pending | direct | orphan | denied
        Field::new("status", DataType::Utf8, false),
        // StartSession eventTime; the broker record's ts for orphans.
        Field::new("start_time", timestamp_type(), false),
        // eventTime of the first successful TerminateSession, when seen.
        Field::new("end_time", timestamp_type(), true),
        text("account_id"),
        text("region"),
        text("target"),
        // The session document used (default_document when StartSession named none).
        text("document_name"),
        Field::new("via_broker", DataType::Boolean, false),
        text("cloudtrail_event_id"),
        // userIdentity.arn of StartSession (the broker's role for broker sessions).
        text("cloudtrail_principal_arn"),
        // The human: the broker record's caller_arn, or userIdentity.arn for direct sessions.
        text("original_principal_arn"),
        // Role session name (Identity Center user name) or IAM user name of the original principal.
        text("original_user"),
        text("permission_set"),
        // The document the policy assigns to permission_set.
        text("expected_document"),
        // The Linux user: the broker record's run_as, else the policy's for permission_set.
        text("run_as"),
        text("broker_request_id"),
        text("source_ip"),
        text("user_agent"),
        // Added after user_agent (files written before read these as null).
        // The identity StartSession's CloudTrail record names itself, whoever called it:
        // userIdentity.sessionContext.sourceIdentity, else userIdentity.onBehalfOf.userId.
        text("in_band_identity"),
        // source_identity | on_behalf_of: where in_band_identity was read.
        text("in_band_source"),
        // onBehalfOf.identityStoreArn, when in_band_source is on_behalf_of.
        text("in_band_identity_store"),
        // StartSession's requestParameters.reason.
        text("reason"),
        // Added after reason. Where StartSession's CloudTrail record was read: the local
        // path or s3:// URL of its file, and the record's byte offset in the file's
        // uncompressed content.
        text("cloudtrail_file"),
        Field::new("cloudtrail_byte_offset", DataType::UInt64, true),
        // That file's status in `evidence` (verified | tampered | missing | not_covered |
        // unsigned) when `correlate --verify` checked it; null: not checked.
        text("cloudtrail_evidence"),
        // The matched broker record's file and 1-based line.
        text("broker_file"),
        Field::new("broker_line", DataType::UInt64, true),
    ]))
});

static EVIDENCE: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        // The log file's S3 key from AWSLogs/ on (its file name when its place gives none).
        Field::new("log_file", DataType::Utf8, false),
        // Where the check found it: a local path, or the s3:// URL its digest names
        // (status missing).
        Field::new("found_at", DataType::Utf8, false),
        // verified | tampered | missing | not_covered | unsigned
        Field::new("status", DataType::Utf8, false),
        // The time in the file's name (dt is its UTC date).
        Field::new("log_file_time", timestamp_type(), false),
        text("account_id"),
        text("region"),
        // The digest whose listing decided the status (its S3 key).
        text("digest_file"),
        // Hex SHA-256 the digest lists for the file, and of its uncompressed content.
        text("expected_sha256"),
        text("actual_sha256"),
        // Whether that digest's signature, and its link to the previous digest, verified.
        Field::new("digest_signature_verified", DataType::Boolean, true),
        Field::new("digest_chain_verified", DataType::Boolean, true),
        // What is wrong, when the status raises a finding.
        text("detail"),
        // The as-of of the run whose check recorded this row.
        Field::new("checked_at", timestamp_type(), false),
    ]))
});

/// Schema of `evidence/` (without the `dt` partition column).
pub fn evidence_schema() -> SchemaRef {
    EVIDENCE.clone()
}

/// Rows to columns, at the edge where evidence is written.
pub fn evidence_to_batch(rows: &[&LogFileRecord]) -> Result<RecordBatch, ArrowError> {
    let text = |get: &dyn Fn(&LogFileRecord) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| get(r)).collect::<StringArray>())
    };
    let flag = |get: &dyn Fn(&LogFileRecord) -> Option<bool>| -> ArrayRef {
        Arc::new(rows.iter().map(|r| get(r)).collect::<BooleanArray>())
    };
    let time = |get: &dyn Fn(&LogFileRecord) -> i64| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(|r| Some(get(r)))
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        text(&|r| Some(r.key.as_str())),
        text(&|r| Some(r.file.as_str())),
        text(&|r| Some(r.status.as_str())),
        time(&|r| r.file_time),
        text(&|r| r.account_id.as_deref()),
        text(&|r| r.region.as_deref()),
        text(&|r| r.digest.as_deref()),
        text(&|r| r.expected_sha256.as_deref()),
        text(&|r| r.actual_sha256.as_deref()),
        flag(&|r| r.digest_signature_verified),
        flag(&|r| r.digest_chain_verified),
        text(&|r| r.detail.as_deref()),
        time(&|r| r.checked_at),
    ];
    RecordBatch::try_new(evidence_schema(), columns)
}

static FINDINGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        // Stable across reruns: a hash of the rule and the key it is raised on.
        Field::new("finding_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        // critical | high | medium | low
        Field::new("severity", DataType::Utf8, false),
        text("session_id"),
        Field::new("event_time", timestamp_type(), false),
        text("account_id"),
        text("region"),
        text("target"),
        text("principal_arn"),
        text("permission_set"),
        // One sentence for a human.
        Field::new("detail", DataType::Utf8, false),
        // A JSON object: the ids and values that prove the finding.
        Field::new("evidence", DataType::Utf8, false),
        // Set when records that arrived after the finding's session had left the
        // retention window show it no longer holds: the finding stays, as evidence of
        // what was known and alerted, with when and why it was withdrawn. Null: open.
        Field::new("resolved_time", timestamp_type(), true),
        text("resolution"),
    ]))
});

/// Schema of `sessions/` (without the `dt` partition column).
pub fn sessions_schema() -> SchemaRef {
    SESSIONS.clone()
}

/// Schema of `findings/` (without the `dt` partition column).
pub fn findings_schema() -> SchemaRef {
    FINDINGS.clone()
}

static REJECTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        // cloudtrail | broker_log
        Field::new("input_kind", DataType::Utf8, false),
        // The input file as named on the command line or found in a walked folder.
        Field::new("source_file", DataType::Utf8, false),
        // 1-based line of the record's first byte (decompressed content), when known.
        Field::new("line", DataType::UInt64, true),
        // 0-based byte offset of the record's first byte (decompressed content).
        Field::new("byte_offset", DataType::UInt64, true),
        // Why it could not be read; never quotes the record.
        Field::new("reason", DataType::Utf8, false),
    ]))
});

/// Schema of `rejects/` (partitioned by the `dt` of the run that read them).
pub fn rejects_schema() -> SchemaRef {
    REJECTS.clone()
}

/// Rows to columns, at the edge where rejects are written.
pub fn rejects_to_batch(rejects: &[Reject]) -> Result<RecordBatch, ArrowError> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.kind.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.location.file.as_str()),
        )),
        Arc::new(UInt64Array::from_iter(
            rejects.iter().map(|r| r.location.line),
        )),
        Arc::new(UInt64Array::from_iter(
            rejects.iter().map(|r| r.location.byte_offset),
        )),
        Arc::new(StringArray::from_iter_values(
            rejects.iter().map(|r| r.reason.as_str()),
        )),
    ];
    RecordBatch::try_new(rejects_schema(), columns)
}

/// Rows to columns, at the edge where sessions are written.
pub fn sessions_to_batch(rows: &[Session]) -> Result<RecordBatch, ArrowError> {
    fn text<'a>(rows: &'a [Session], get: impl Fn(&'a Session) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<StringArray>())
    }
    let utc = |array: TimestampMillisecondArray| array.with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        text(rows, |r| r.session_id.as_deref()),
        text(rows, |r| Some(r.status.as_str())),
        Arc::new(utc(rows.iter().map(|r| Some(r.start_time)).collect())),
        Arc::new(utc(rows.iter().map(|r| r.end_time).collect())),
        text(rows, |r| r.account_id.as_deref()),
        text(rows, |r| r.region.as_deref()),
        text(rows, |r| r.target.as_deref()),
        text(rows, |r| r.document_name.as_deref()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.via_broker))
                .collect::<BooleanArray>(),
        ),
        text(rows, |r| r.cloudtrail_event_id.as_deref()),
        text(rows, |r| r.cloudtrail_principal_arn.as_deref()),
        text(rows, |r| r.original_principal_arn.as_deref()),
        text(rows, |r| r.original_user.as_deref()),
        text(rows, |r| r.permission_set.as_deref()),
        text(rows, |r| r.expected_document.as_deref()),
        text(rows, |r| r.run_as.as_deref()),
        text(rows, |r| r.broker_request_id.as_deref()),
        text(rows, |r| r.source_ip.as_deref()),
        text(rows, |r| r.user_agent.as_deref()),
        text(rows, |r| r.in_band_identity.as_deref()),
        text(rows, |r| r.in_band_source.map(|s| s.as_str())),
        text(rows, |r| r.in_band_identity_store.as_deref()),
        text(rows, |r| r.reason.as_deref()),
        text(rows, |r| r.cloudtrail_file.as_deref()),
        Arc::new(UInt64Array::from_iter(
            rows.iter().map(|r| r.cloudtrail_byte_offset),
        )),
        text(rows, |r| r.cloudtrail_evidence.map(|s| s.as_str())),
        text(rows, |r| r.broker_file.as_deref()),
        Arc::new(UInt64Array::from_iter(rows.iter().map(|r| r.broker_line))),
    ];
    RecordBatch::try_new(sessions_schema(), columns)
}

/// Rows to columns, at the edge where findings are written.
pub fn findings_to_batch(rows: &[Finding]) -> Result<RecordBatch, ArrowError> {
    fn text<'a>(rows: &'a [Finding], get: impl Fn(&'a Finding) -> Option<&'a str>) -> ArrayRef {
        Arc::new(rows.iter().map(get).collect::<StringArray>())
    }
    // Keys sorted whatever serde_json's features in this build (see canonical_json).
    let evidence: StringArray = rows
        .iter()
        .map(|r| Some(to_canonical_string(&r.evidence)))
        .collect();
    let columns: Vec<ArrayRef> = vec![
        text(rows, |r| Some(r.finding_id.as_str())),
        text(rows, |r| Some(r.rule.as_str())),
        text(rows, |r| Some(r.severity().as_str())),
        text(rows, |r| r.session_id.as_deref()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.event_time))
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        text(rows, |r| r.account_id.as_deref()),
        text(rows, |r| r.region.as_deref()),
        text(rows, |r| r.target.as_deref()),
        text(rows, |r| r.principal_arn.as_deref()),
        text(rows, |r| r.permission_set.as_deref()),
        text(rows, |r| Some(r.detail.as_str())),
        Arc::new(evidence),
        // A finding the correlation raises is open; resolutions are made where a
        // partition is rewritten (crate::rewrite).
        Arc::new(
            std::iter::repeat_n(None::<i64>, rows.len())
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        text(rows, |_| None),
    ];
    RecordBatch::try_new(findings_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;

    #[test]
    fn evidence_is_written_with_sorted_keys_whatever_the_build() {
        // Inserted out of order: with serde_json's preserve_order (switched on in test
        // builds by a dev-dependency) a plain to_string would keep this order.
        let mut evidence = serde_json::Map::new();
        evidence.insert("zeta".into(), serde_json::json!(1));
        evidence.insert("alpha".into(), serde_json::json!({"y": 2, "b": 3}));
        let finding = Finding {
            finding_id: "x".into(),
            rule: Rule::ClockSkew,
            session_id: None,
            event_time: 0,
            account_id: None,
            region: None,
            target: None,
            principal_arn: None,
            permission_set: None,
            detail: String::new(),
            evidence: serde_json::Value::Object(evidence),
            owner: String::new(),
        };
        let batch = findings_to_batch(&[finding]).unwrap();
        let column = batch
            .column_by_name("evidence")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(column.value(0), r#"{"alpha":{"b":3,"y":2},"zeta":1}"#);
    }
}
