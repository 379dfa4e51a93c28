//! `report.md`: the same figures as the HTML page, as GitHub-flavoured Markdown
//! tables, each followed by its SQL. Charts are only in `report.html`.
//!
//! Every string from the dataset is escaped with [`markdown`], so raw HTML in the data
//! shows as text, and a URL, `www.` or e-mail address in the data shows as text but
//! never as a GFM autolink.

use std::fmt::Write;

use super::MonthlyReport;
use super::display::{self, NULL_TEXT, percent};
use super::escape::markdown;
use super::figures::Figure;

/// The whole document.
pub fn render(report: &MonthlyReport) -> String {
    let s = &report.summary;
    let month = report.month_label();
    let mut out = String::with_capacity(32 * 1024);
    let _ = writeln!(out, "# SSM session attribution report: {month}\n");
    let _ = writeln!(
        out,
        "UTC calendar month {} to {} · generated {} by sessiontrail {}\n",
        report.month.first_day(),
        report.month.last_day(),
        markdown(&report.generated_at),
        env!("CARGO_PKG_VERSION"),
    );
    if let Some(reason) = report.finality.provisional_reason() {
        let _ = writeln!(
            out,
            "> **PROVISIONAL: this report is not final.** Its figures can still change: {}.\n",
            markdown(&reason)
        );
    }
    out.push_str("## Summary for compliance\n\n");
    if s.sessions == 0 {
        let _ = writeln!(
            out,
            "**There were no sessions in {month}**: no StartSession call and no broker record \
             in the dataset for this month.\n"
        );
    }
    let _ = writeln!(
        out,
        "**Verdict: {}**: {}\n",
        s.verdict.label(),
        markdown(&s.verdict_text(report.min_attribution_rate))
    );
    let rate = s
        .attribution_rate
        .map_or_else(|| NULL_TEXT.to_string(), percent);
    let _ = writeln!(
        out,
        "| figure | value |\n|---|---:|\n\
         | attribution rate | {rate} |\n\
         | broker sessions | {} |\n\
         | attributed | {} |\n\
         | unattributed sessions | {} |\n\
         | orphan broker records | {} |\n\
         | pending (not yet decided) | {} |\n\
         | direct sessions | {} |\n\
         | failed StartSession calls | {} |\n\
         | sessions in all | {} |\n\
         | findings | {} |\n\
         | critical findings | {} |\n\
         | high findings | {} |\n",
        s.broker_sessions,
        s.attributed,
        s.unattributed,
        s.orphan,
        s.pending,
        s.direct,
        s.failed,
        s.sessions,
        s.findings,
        s.critical_findings,
        s.high_findings,
    );
    out.push_str(
        "The attribution rate is attributed ÷ (attributed + unattributed + orphan), over the \
         sessions started through the broker in the month (UTC) that are neither failed nor \
         pending.\n\n",
    );
    for name in [
        "attribution_rate",
        "unattributed_sessions",
        "orphan_sessions",
    ] {
        figure(&mut out, report, name);
    }
    for (heading, names) in [
        ("Sessions", &["sessions_by_status", "sessions_by_day"][..]),
        ("Attribution per day", &["attribution_rate_daily"][..]),
        (
            "Findings",
            &[
                "findings_by_severity",
                "findings_by_rule",
                "critical_high_findings",
                "resolved_findings",
            ][..],
        ),
        (
            "Who and where",
            &[
                "sessions_by_permission_set",
                "sessions_by_user",
                "sessions_by_target",
            ][..],
        ),
        ("Direct sessions", &["direct_sessions"][..]),
        (
            "Evidence",
            &[
                "session_evidence",
                "log_files_not_verified",
                "digest_problems",
            ][..],
        ),
        (
            "Change against the previous month",
            &["month_over_month"][..],
        ),
    ] {
        let _ = writeln!(out, "## {heading}\n");
        for name in names {
            figure(&mut out, report, name);
        }
    }
    out.push_str(
        "---\n\nEvery figure is the result of the SQL shown under it, run with DataFusion over \
         the attributed dataset (files in queries/report/). The charts are in report.html; \
         report.json holds every figure for machines. The finding figures count open \
         findings; a finding a later run withdrew (resolved) is kept as evidence and listed \
         under \"Findings resolved in the month\" in the month it was resolved.\n",
    );
    out
}

fn figure(out: &mut String, report: &MonthlyReport, name: &str) {
    let Some(figure) = report.figure(name) else {
        return;
    };
    let _ = writeln!(out, "### {}\n", figure.query.title);
    let _ = writeln!(out, "_{}_\n", markdown(&figure.query.question()));
    table(out, figure);
    let _ = writeln!(
        out,
        "<details><summary>SQL: {}</summary>\n\n```sql\n{}\n```\n\n</details>\n",
        figure.query.path(),
        figure.query.sql.trim_end()
    );
}

fn table(out: &mut String, figure: &Figure) {
    if figure.rows.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push('|');
    for column in &figure.columns {
        let _ = write!(out, " {} |", markdown(&display::heading(&column.name)));
    }
    out.push_str("\n|");
    for column in &figure.columns {
        out.push_str(if column.kind.is_numeric() {
            "---:|"
        } else {
            "---|"
        });
    }
    out.push('\n');
    for row in 0..figure.rows.len() {
        out.push('|');
        for index in 0..figure.columns.len() {
            let cell = markdown(&display::cell_text(figure, row, index));
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
}
