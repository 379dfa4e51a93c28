//! `report.json`: every figure of the report for machines, with the summary and the
//! SQL that made each figure. Numbers stay numbers (rates as fractions, not
//! percentages), SQL NULL is `null`, times are RFC 3339 UTC.
//!
//! `final` says whether any figure can still change (see [`super::Finality`]):
//! `false` with `provisional_reason` saying why, `true` with `provisional_reason`
//! `null`; `final_from` is the month's end plus the policy's grace.

use serde_json::{Map, Value, json};

use super::MonthlyReport;

/// The version of the `report.json` layout; bumped when a field changes meaning.
pub const REPORT_JSON_VERSION: u32 = 1;

/// The document.
pub fn render(report: &MonthlyReport) -> Value {
    let s = &report.summary;
    let figures: Map<String, Value> = report
        .figures
        .iter()
        .map(|figure| {
            let columns: Vec<Value> = figure
                .columns
                .iter()
                .map(|column| json!({"name": column.name, "type": column.kind.name()}))
                .collect();
            (
                figure.name().to_string(),
                json!({
                    "title": figure.query.title,
                    "question": figure.query.question(),
                    "query": figure.query.path(),
                    "sql": figure.query.sql,
                    "columns": columns,
                    "rows": figure.rows_as_objects(),
                }),
            )
        })
        .collect();
    json!({
        "report": "sessiontrail monthly report",
        "version": REPORT_JSON_VERSION,
        "generator": format!("sessiontrail {}", env!("CARGO_PKG_VERSION")),
        "generated_at": report.generated_at,
        "month": report.month.to_string(),
        "previous_month": report.month.previous().to_string(),
        "first_day": report.month.first_day().to_string(),
        "last_day": report.month.last_day().to_string(),
        "min_attribution_rate": report.min_attribution_rate,
        "final": report.finality.is_final(),
        "provisional_reason": report.finality.provisional_reason(),
        "final_from": super::finality::rfc3339(report.finality.final_from),
        "summary": {
            "sessions": s.sessions,
            "broker_sessions": s.broker_sessions,
            "attributed": s.attributed,
            "unattributed": s.unattributed,
            "orphan": s.orphan,
            "pending": s.pending,
            "direct": s.direct,
            "failed": s.failed,
            "attribution_rate": s.attribution_rate,
            "findings": s.findings,
            "critical_findings": s.critical_findings,
            "high_findings": s.high_findings,
            "verdict": s.verdict.name(),
            "verdict_text": s.verdict_text(report.min_attribution_rate),
            "no_sessions": s.sessions == 0,
        },
        "figures": figures,
    })
}
