//! A finding as the exporters read it: one row of the `findings` table, typed.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::arrow::error::ArrowError;
use sessiontrail_correlate::{Rule, Severity};

/// One row of `findings/` (docs/contracts.md "Dataset").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingRow {
    /// Stable id: the same rule on the same key has the same id in every run.
    pub finding_id: String,
    /// The rule (`unattributed_session`).
    pub rule: Named<Rule>,
    /// `critical`, `high`, `medium` or `low`.
    pub severity: Named<Severity>,
    /// The SSM session, when the finding is about one.
    pub session_id: Option<String>,
    /// When it happened: epoch milliseconds, UTC.
    pub event_time: i64,
    /// The account the session ran in.
    pub account_id: Option<String>,
    /// The region the session ran in.
    pub region: Option<String>,
    /// The instance (or managed node) the session ran on.
    pub target: Option<String>,
    /// The principal the finding is about.
    pub principal_arn: Option<String>,
    /// Its permission set, when known.
    pub permission_set: Option<String>,
    /// One sentence for a human.
    pub detail: String,
    /// A JSON object (as text): the ids and values that prove the finding.
    pub evidence: String,
    /// When the finding was withdrawn (epoch milliseconds, UTC): a later run learnt
    /// that it no longer holds, and kept it as evidence. None: the finding is open.
    pub resolved_time: Option<i64>,
    /// Why it was withdrawn, for a human (set with `resolved_time`).
    pub resolution: Option<String>,
}

/// A value of a closed set ([`Rule`], [`Severity`]) as a findings row holds it: one of
/// the set, or other text (a dataset written by hand or by another version) kept as
/// it is, which each export handles in its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named<T> {
    /// The text is the id of one of the set.
    Known(T),
    /// Any other text.
    Other(String),
}

/// A closed set whose members have a text id ([`Named`]).
pub trait Identified: Copy + Sized {
    /// The member's id.
    fn id(self) -> &'static str;
    /// The member whose id is exactly `text`.
    fn from_id(text: &str) -> Option<Self>;
}

impl Identified for Rule {
    fn id(self) -> &'static str {
        self.as_str()
    }

    fn from_id(text: &str) -> Option<Self> {
        Rule::parse(text)
    }
}

impl Identified for Severity {
    fn id(self) -> &'static str {
        self.as_str()
    }

    fn from_id(text: &str) -> Option<Self> {
        Severity::from_id(text)
    }
}

impl<T: Identified> Named<T> {
    /// `text` as a member of the set (exactly its id), else as other text.
    pub fn of_id(text: &str) -> Self {
        T::from_id(text).map_or_else(|| Named::Other(text.to_string()), Named::Known)
    }

    /// The text as the dataset holds it.
    pub fn as_str(&self) -> &str {
        match self {
            Named::Known(member) => member.id(),
            Named::Other(text) => text,
        }
    }

    /// The member, when the text is one's id.
    pub fn known(&self) -> Option<T> {
        match self {
            Named::Known(member) => Some(*member),
            Named::Other(_) => None,
        }
    }
}

/// The rows of `batches`, which hold the columns of the findings schema (by name; other
/// columns are ignored).
pub fn rows_of(batches: &[RecordBatch]) -> Result<Vec<FindingRow>, ArrowError> {
    let mut rows = Vec::new();
    for batch in batches {
        let text = |name: &str| -> Result<Vec<Option<String>>, ArrowError> {
            let column = batch.column_by_name(name).ok_or_else(|| {
                ArrowError::SchemaError(format!("the findings table has no column {name}"))
            })?;
            let column = cast(column, &DataType::Utf8)?;
            let column = column.as_string::<i32>();
            Ok((0..column.len())
                .map(|i| (!column.is_null(i)).then(|| column.value(i).to_string()))
                .collect())
        };
        let required = |name: &str| -> Result<Vec<String>, ArrowError> {
            text(name)?
                .into_iter()
                .map(|value| {
                    value.ok_or_else(|| {
                        ArrowError::InvalidArgumentError(format!("findings.{name} is null"))
                    })
                })
                .collect()
        };
        let millis = |name: &str| -> Result<Option<Vec<Option<i64>>>, ArrowError> {
            let Some(column) = batch.column_by_name(name) else {
                return Ok(None);
            };
            let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
            let column = cast(column, &utc)?;
            let column = column.as_primitive::<TimestampMillisecondType>();
            Ok(Some(
                (0..column.len())
                    .map(|i| (!column.is_null(i)).then(|| column.value(i)))
                    .collect(),
            ))
        };
        let times = millis("event_time")?
            .ok_or_else(|| {
                ArrowError::SchemaError("the findings table has no column event_time".into())
            })?
            .into_iter()
            .map(|time| {
                time.ok_or_else(|| {
                    ArrowError::InvalidArgumentError("findings.event_time is null".into())
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Columns added with resolutions: a result without them reads as all open.
        let resolved_time = millis("resolved_time")?;
        let resolution = match batch.column_by_name("resolution") {
            Some(_) => Some(text("resolution")?),
            None => None,
        };
        let finding_id = required("finding_id")?;
        let rule = required("rule")?;
        let severity = required("severity")?;
        let session_id = text("session_id")?;
        let account_id = text("account_id")?;
        let region = text("region")?;
        let target = text("target")?;
        let principal_arn = text("principal_arn")?;
        let permission_set = text("permission_set")?;
        let detail = required("detail")?;
        let evidence = required("evidence")?;
        for i in 0..batch.num_rows() {
            rows.push(FindingRow {
                finding_id: finding_id[i].clone(),
                rule: Named::of_id(&rule[i]),
                severity: Named::of_id(&severity[i]),
                session_id: session_id[i].clone(),
                event_time: times[i],
                account_id: account_id[i].clone(),
                region: region[i].clone(),
                target: target[i].clone(),
                principal_arn: principal_arn[i].clone(),
                permission_set: permission_set[i].clone(),
                detail: detail[i].clone(),
                evidence: evidence[i].clone(),
                resolved_time: resolved_time.as_ref().and_then(|times| times[i]),
                resolution: resolution.as_ref().and_then(|texts| texts[i].clone()),
            });
        }
    }
    Ok(rows)
}

impl FindingRow {
    /// `event_time` as RFC 3339 UTC (`2026-02-01T09:00:00Z`, `.250Z` when the
    /// milliseconds are not zero).
    pub fn event_time_rfc3339(&self) -> String {
        rfc3339(self.event_time)
    }

    /// `resolved_time` as RFC 3339 UTC, when the finding is resolved.
    pub fn resolved_time_rfc3339(&self) -> Option<String> {
        self.resolved_time.map(rfc3339)
    }

    /// Whether a later run withdrew the finding (`resolved_time` is set).
    pub fn is_resolved(&self) -> bool {
        self.resolved_time.is_some()
    }

    /// `evidence` parsed; a value that is not JSON is kept as a string.
    pub fn evidence_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.evidence)
            .unwrap_or_else(|_| serde_json::Value::String(self.evidence.clone()))
    }

    /// The AWS partition: from `principal_arn` (`arn:aws-us-gov:...`), else from the
    /// region's prefix, else `aws`.
    pub fn partition(&self) -> &str {
        if let Some(partition) = self
            .principal_arn
            .as_deref()
            .and_then(|arn| arn.strip_prefix("arn:"))
            .and_then(|rest| rest.split(':').next())
            .filter(|partition| !partition.is_empty())
        {
            return partition;
        }
        match self.region.as_deref() {
            Some(region) if region.starts_with("cn-") => "aws-cn",
            Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
            Some(region) if region.starts_with("us-isob-") => "aws-iso-b",
            Some(region) if region.starts_with("us-iso-") => "aws-iso",
            _ => "aws",
        }
    }

    /// The account: `account_id`, else the account field of `principal_arn`.
    pub fn account(&self) -> Option<&str> {
        self.account_id
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .or_else(|| {
                self.principal_arn
                    .as_deref()
                    .and_then(|arn| arn.split(':').nth(4))
                    .filter(|account| !account.is_empty())
            })
    }

    /// The kind of the target: an EC2 instance (`i-`), a hybrid managed node (`mi-`),
    /// or something else.
    pub fn target_kind(&self) -> TargetKind {
        match self.target.as_deref() {
            Some(target) if is_id(target, "i-") => TargetKind::Ec2Instance,
            Some(target) if is_id(target, "mi-") => TargetKind::ManagedInstance,
            Some(_) => TargetKind::Other,
            None => TargetKind::None,
        }
    }
}

/// What a session target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `i-0123456789abcdef0`.
    Ec2Instance,
    /// `mi-0123456789abcdef0` (a hybrid activation's managed node).
    ManagedInstance,
    /// Anything else.
    Other,
    /// No target.
    None,
}

/// Epoch milliseconds as RFC 3339 UTC (`.250Z` only when the milliseconds are not zero).
fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .unwrap_or_default()
}

fn is_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix)
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}
