//! `report.html`: one self-contained page (inline CSS, inline SVG charts, a few lines
//! of inline script to sort tables; no external resource of any kind, enforced by a
//! Content-Security-Policy), readable without script and printable to PDF.
//!
//! Every string from the dataset is escaped with [`html`]; the only unescaped text is
//! this module's own markup and the SQL of `queries/report/` (escaped too, as it is
//! shown as text).

use std::fmt::Write;

use super::MonthlyReport;
use super::display::{self, NULL_TEXT, percent};
use super::escape::html;
use super::figures::{ColumnKind, Figure};
use super::summary::Verdict;
use super::svg;

const STYLE: &str = r#"
:root { --fg: #1b1b1b; --muted: #5a5a5a; --line: #d9d9d9; --band: #f5f6f8;
  --pass: #0b6e3a; --fail: #a30d1e; --none: #5a5a5a; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0 auto; max-width: 1200px; padding: 24px 32px 48px; color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--fg); }
h3 { font-size: 16px; margin: 24px 0 4px; }
p.meta, p.question, .muted { color: var(--muted); }
p.question { margin: 0 0 8px; font-size: 13px; }
nav ol { columns: 2; margin: 8px 0 0; padding-left: 20px; }
a { color: #0b57a4; }
section.summary { border: 1px solid var(--line); border-radius: 6px; padding: 4px 20px 16px; margin-top: 20px; }
section.summary h2 { border-bottom: none; margin-top: 16px; }
.verdict { display: flex; align-items: center; gap: 16px; margin: 8px 0 16px; }
.badge { font-weight: 700; font-size: 22px; letter-spacing: .06em; padding: 6px 18px; border-radius: 4px;
  color: #fff; border: 2px solid transparent; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.none { background: #fff; color: var(--none); border-color: var(--none); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin: 8px 0 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; background: var(--band); }
.card .value { display: block; font-size: 24px; font-weight: 700; }
.card .label { display: block; font-size: 12px; color: var(--muted); }
.card.alert .value { color: var(--fail); }
.provisional { font-size: 15px; padding: 10px 14px; margin: 16px 0 0; border: 2px solid #8a5a00;
  border-left-width: 8px; background: #fff6e0; color: #4a3000; }
.empty-month { font-size: 16px; font-weight: 600; padding: 10px 14px; border-left: 4px solid var(--none); background: var(--band); }
figure { margin: 12px 0 24px; }
figcaption { font-weight: 600; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td { overflow-wrap: break-word; }
td.long { min-width: 16em; overflow-wrap: anywhere; }
td.nowrap { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.null { color: #999; }
details.rows { margin: 4px 0; }
details.rows > summary { cursor: pointer; color: var(--muted); font-size: 13px; }
.findings-list { display: grid; gap: 10px; margin: 8px 0; }
article.finding { border: 1px solid var(--line); border-left: 6px solid #777; border-radius: 4px; padding: 8px 12px; }
article.finding.sev-critical { border-left-color: #8E0E1F; }
article.finding.sev-high { border-left-color: #D55E00; }
article.finding h4 { margin: 0 0 4px; font-size: 14px; display: flex; flex-wrap: wrap; gap: 4px 12px; align-items: baseline; }
article.finding .sev { font-weight: 700; letter-spacing: .04em; }
article.finding .sev-critical { color: #8E0E1F; }
article.finding .sev-high { color: #B34700; }
article.finding .time { color: var(--muted); font-weight: 400; }
article.finding p.detail { margin: 2px 0 6px; }
article.finding dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 6px; font-size: 13px; }
article.finding dt { color: var(--muted); }
article.finding dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
article.finding pre.evidence { margin: 0; padding: 6px 8px; background: var(--band); border: 1px solid var(--line);
  font-size: 11.5px; white-space: pre-wrap; overflow-wrap: anywhere; }
tr.change td { font-weight: 600; }
.js table.sortable th { cursor: pointer; user-select: none; }
.js table.sortable th::after { content: " \2195"; color: #aaa; font-size: 11px; }
.js table.sortable th[aria-sort="ascending"]::after { content: " \25B2"; color: var(--fg); }
.js table.sortable th[aria-sort="descending"]::after { content: " \25BC"; color: var(--fg); }
p.no-rows { color: var(--muted); font-style: italic; margin: 4px 0; }
details.sql { margin: 4px 0 0; font-size: 12px; }
details.sql summary { cursor: pointer; color: var(--muted); }
details.sql pre { background: var(--band); border: 1px solid var(--line); padding: 8px; overflow-x: auto;
  font-size: 12px; line-height: 1.35; white-space: pre; }
dl.definitions dt { font-weight: 600; margin-top: 6px; }
dl.definitions dd { margin-left: 16px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  nav, details.sql > pre { display: none; }
  details.sql summary { list-style: none; cursor: auto; }
  details.sql summary::-webkit-details-marker { display: none; }
  section.summary { border: none; padding: 0; break-after: page; }
  h2, h3, figcaption { break-after: avoid; }
  svg.chart, .cards, .verdict { break-inside: avoid; }
  .table-wrap { overflow: visible; }
  table { font-size: 8pt; }
  td, td.long, td.nowrap { min-width: 0; white-space: normal; overflow-wrap: anywhere; }
  details.rows > summary { display: none; }
  article.finding { break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  .js table.sortable th::after { content: none; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Sorts a table when a column heading is clicked (or activated with Enter/Space):
/// numbers by value, other cells as text; empty cells last. The markup reads and
/// prints the same without it.
const SCRIPT: &str = r#"
(function () {
  document.documentElement.classList.add("js");
  function key(cell) {
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  function sortBy(table, index, th) {
    var body = table.tBodies[0];
    var numeric = th.classList.contains("num");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }
      var c = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return ascending ? c : -c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, index, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, index, th); }
      });
    });
  });
})();
"#;

/// The whole page.
pub fn render(report: &MonthlyReport) -> String {
    let month = report.month_label();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"generator\" content=\"sessiontrail {version}\">\n\
         <title>SSM session attribution report {m}{provisional}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        version = env!("CARGO_PKG_VERSION"),
        m = html(&report.month.to_string()),
        provisional = if report.is_final() {
            ""
        } else {
            " (provisional)"
        },
    );
    let _ = write!(
        out,
        "<header>\n<h1>SSM session attribution report: {month}</h1>\n\
         <p class=\"meta\">UTC calendar month {first} to {last} · generated {generated} by \
         sessiontrail {version}</p>\n</header>\n",
        month = html(&month),
        first = report.month.first_day(),
        last = report.month.last_day(),
        generated = html(&report.generated_at),
        version = env!("CARGO_PKG_VERSION"),
    );
    if let Some(reason) = report.finality.provisional_reason() {
        let _ = writeln!(
            out,
            "<p class=\"provisional\" id=\"provisional\" role=\"status\"><strong>PROVISIONAL: \
             this report is not final.</strong> Its figures can still change: {}.</p>",
            html(&reason)
        );
    }
    out.push_str(
        "<nav aria-label=\"Contents\"><ol>\
         <li><a href=\"#summary\">Summary for compliance</a></li>\
         <li><a href=\"#sessions\">Sessions</a></li>\
         <li><a href=\"#attribution\">Attribution per day</a></li>\
         <li><a href=\"#findings\">Findings</a></li>\
         <li><a href=\"#access\">Who and where</a></li>\
         <li><a href=\"#direct\">Direct sessions</a></li>\
         <li><a href=\"#evidence\">Evidence</a></li>\
         <li><a href=\"#trend\">Change against the previous month</a></li>\
         <li><a href=\"#definitions\">Definitions</a></li></ol></nav>\n",
    );
    summary_section(&mut out, report);

    section(&mut out, "sessions", "Sessions");
    figure(&mut out, report, "sessions_by_status", None);
    let chart = report
        .figure("sessions_by_day")
        .map(|f| svg::daily_sessions_chart(f, &month));
    figure(&mut out, report, "sessions_by_day", chart);
    out.push_str("</section>\n");

    section(&mut out, "attribution", "Attribution per day");
    let chart = report
        .figure("attribution_rate_daily")
        .map(|f| svg::daily_rate_chart(f, report.min_attribution_rate, &month));
    figure(&mut out, report, "attribution_rate_daily", chart);
    out.push_str("</section>\n");

    section(&mut out, "findings", "Findings");
    figure(&mut out, report, "findings_by_severity", None);
    let chart = report
        .figure("findings_by_rule")
        .map(|f| svg::findings_by_rule_chart(f, &month));
    figure(&mut out, report, "findings_by_rule", chart);
    figure(&mut out, report, "critical_high_findings", None);
    figure(&mut out, report, "resolved_findings", None);
    out.push_str("</section>\n");

    section(&mut out, "access", "Who and where");
    figure(&mut out, report, "sessions_by_permission_set", None);
    figure(&mut out, report, "sessions_by_user", None);
    figure(&mut out, report, "sessions_by_target", None);
    out.push_str("</section>\n");

    section(&mut out, "direct", "Direct sessions");
    figure(&mut out, report, "direct_sessions", None);
    out.push_str("</section>\n");

    section(&mut out, "evidence", "Evidence");
    figure(&mut out, report, "session_evidence", None);
    figure(&mut out, report, "log_files_not_verified", None);
    figure(&mut out, report, "digest_problems", None);
    out.push_str("</section>\n");

    section(&mut out, "trend", "Change against the previous month");
    figure(&mut out, report, "month_over_month", None);
    out.push_str("</section>\n");

    definitions(&mut out);
    let _ = write!(
        out,
        "<footer>Every figure is the result of the SQL shown beside it, run with DataFusion \
         over the attributed dataset; the same files are in the repository under \
         queries/report/. report.json holds every figure for machines.</footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}

fn section(out: &mut String, id: &str, title: &str) {
    let _ = write!(out, "<section id=\"{id}\">\n<h2>{}</h2>\n", html(title));
}

/// The first section: what a compliance officer needs, readable alone (and printed
/// alone on the first page).
fn summary_section(out: &mut String, report: &MonthlyReport) {
    let s = &report.summary;
    let month = report.month_label();
    out.push_str("<section id=\"summary\" class=\"summary\">\n<h2>Summary for compliance</h2>\n");
    if s.sessions == 0 {
        let _ = writeln!(
            out,
            "<p class=\"empty-month\" id=\"no-sessions\">There were no sessions in {}: no \
             StartSession call and no broker record in the dataset for this month.</p>",
            html(&month)
        );
    }
    let class = match s.verdict {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::NoThreshold | Verdict::NoBrokerSessions => "none",
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict\"><span class=\"badge {class}\" id=\"verdict\" \
         data-verdict=\"{name}\">{label}</span><span>{text}</span></div>",
        name = s.verdict.name(),
        label = s.verdict.label(),
        text = html(&s.verdict_text(report.min_attribution_rate)),
    );
    let rate = s
        .attribution_rate
        .map_or_else(|| NULL_TEXT.to_string(), percent);
    let cards: [(&str, String, &str, bool); 8] = [
        (
            "attribution-rate",
            rate,
            "attribution rate",
            s.verdict == Verdict::Fail,
        ),
        (
            "broker-sessions",
            s.broker_sessions.to_string(),
            "broker sessions",
            false,
        ),
        ("attributed", s.attributed.to_string(), "attributed", false),
        (
            "unattributed",
            s.unattributed.to_string(),
            "unattributed sessions",
            s.unattributed > 0,
        ),
        (
            "orphans",
            s.orphan.to_string(),
            "orphan broker records",
            s.orphan > 0,
        ),
        (
            "pending",
            s.pending.to_string(),
            "pending (not yet decided)",
            false,
        ),
        ("direct", s.direct.to_string(), "direct sessions", false),
        (
            "critical-high",
            (s.critical_findings + s.high_findings).to_string(),
            "critical and high findings",
            s.critical_findings + s.high_findings > 0,
        ),
    ];
    out.push_str("<div class=\"cards\">");
    for (id, value, label, alert) in cards {
        let _ = write!(
            out,
            "<div class=\"card{}\" id=\"card-{id}\"><span class=\"value\">{}</span>\
             <span class=\"label\">{}</span></div>",
            if alert { " alert" } else { "" },
            html(&value),
            html(label)
        );
    }
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<p>The attribution rate is the share of broker sessions tied to a human: \
         attributed ÷ (attributed + unattributed + orphan), over the sessions started \
         through the broker in {} (UTC) that are neither failed nor pending. {} sessions \
         in all, {} of them failed StartSession calls; {} findings, {} critical and {} high.</p>",
        html(&month),
        s.sessions,
        s.failed,
        s.findings,
        s.critical_findings,
        s.high_findings,
    );
    figure(out, report, "attribution_rate", None);
    figure(out, report, "unattributed_sessions", None);
    figure(out, report, "orphan_sessions", None);
    out.push_str("</section>\n");
}

/// How a figure's rows are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// A sortable table.
    Table,
    /// A sortable table folded under a `<details>` (the chart above carries the
    /// figure; not printed).
    Folded,
    /// One card per row with every field (findings listed in full).
    Cards,
}

/// One figure: heading, question, optional chart, its rows (or "None."), and the SQL.
fn figure(out: &mut String, report: &MonthlyReport, name: &str, chart: Option<String>) {
    let rows = match name {
        "sessions_by_day" | "attribution_rate_daily" => Rows::Folded,
        "critical_high_findings" => Rows::Cards,
        _ => Rows::Table,
    };
    figure_with(out, report, name, chart, rows);
}

fn figure_with(
    out: &mut String,
    report: &MonthlyReport,
    name: &str,
    chart: Option<String>,
    rows: Rows,
) {
    let Some(figure) = report.figure(name) else {
        return;
    };
    let query = &figure.query;
    let _ = write!(
        out,
        "<figure id=\"figure-{name}\" data-query=\"{name}\">\n<figcaption>{}</figcaption>\n\
         <p class=\"question\">{}</p>\n",
        html(query.title),
        html(&query.question()),
        name = html(name),
    );
    if let Some(chart) = chart {
        out.push_str(&chart);
        out.push('\n');
    }
    match rows {
        Rows::Table => table(out, figure),
        Rows::Folded => {
            let _ = writeln!(
                out,
                "<details class=\"rows\"><summary>Table ({} rows)</summary>",
                figure.rows.len()
            );
            table(out, figure);
            out.push_str("</details>\n");
        }
        Rows::Cards => cards(out, figure),
    }
    let _ = write!(
        out,
        "<details class=\"sql\"><summary>SQL: {}</summary><pre><code>{}</code></pre></details>\n\
         </figure>\n",
        html(&query.path()),
        html(query.sql.trim_end()),
    );
}

fn table(out: &mut String, figure: &Figure) {
    if figure.rows.is_empty() {
        out.push_str("<p class=\"no-rows\">None.</p>\n");
        return;
    }
    let _ = write!(
        out,
        "<div class=\"table-wrap\"><table class=\"sortable\" id=\"table-{}\">\n<thead><tr>",
        html(figure.name())
    );
    for column in &figure.columns {
        let class = if column.kind.is_numeric() {
            " class=\"num\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<th scope=\"col\"{class} title=\"{}\">{}</th>",
            html(&column.name),
            html(&display::heading(&column.name))
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in 0..figure.rows.len() {
        if display::is_change_row(figure, row) {
            out.push_str("<tr class=\"change\">");
        } else {
            out.push_str("<tr>");
        }
        for (index, column) in figure.columns.iter().enumerate() {
            let text = display::cell_text(figure, row, index);
            let mut classes = Vec::new();
            if column.kind.is_numeric() {
                classes.push("num");
            }
            if figure.rows[row][index].is_null() {
                classes.push("null");
            }
            if matches!(column.name.as_str(), "evidence" | "detail")
                || column.name.ends_with("_arn")
                || column.kind == ColumnKind::Text && text.chars().count() > 40
            {
                classes.push("long");
            } else if !text.contains(char::is_whitespace) {
                classes.push("nowrap");
            }
            let class = if classes.is_empty() {
                String::new()
            } else {
                format!(" class=\"{}\"", classes.join(" "))
            };
            let key = display::sort_key(figure, row, index);
            let _ = write!(
                out,
                "<td{class} data-sort=\"{}\">{}</td>",
                html(&key),
                html(&text)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The columns a finding card shows in its heading, paragraph and evidence block
/// rather than in its field list.
const CARD_HEADING_COLUMNS: [&str; 5] = ["severity", "rule", "event_time", "detail", "evidence"];

/// One card per row of a findings figure: severity, rule and time as its heading, the
/// detail as a paragraph, every other column as a field, the evidence pretty-printed.
fn cards(out: &mut String, figure: &Figure) {
    if figure.rows.is_empty() {
        out.push_str("<p class=\"no-rows\">None.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<div class=\"findings-list\" id=\"cards-{}\">",
        html(figure.name())
    );
    for row in 0..figure.rows.len() {
        let text = |name: &str| {
            figure.column_index(name).map_or_else(
                || NULL_TEXT.to_string(),
                |i| display::cell_text(figure, row, i),
            )
        };
        let severity = text("severity");
        let _ = write!(
            out,
            "<article class=\"finding sev-{sev}\" data-finding-id=\"{id}\">\
             <h4><span class=\"sev sev-{sev}\">{label}</span><span class=\"rule\">{rule}</span>\
             <span class=\"time\">{time}</span></h4>\n<p class=\"detail\">{detail}</p>\n<dl>",
            sev = html(&severity),
            id = html(&text("finding_id")),
            label = html(&severity.to_uppercase()),
            rule = html(&text("rule")),
            time = html(&text("event_time")),
            detail = html(&text("detail")),
        );
        for (index, column) in figure.columns.iter().enumerate() {
            if CARD_HEADING_COLUMNS.contains(&column.name.as_str()) {
                continue;
            }
            let _ = write!(
                out,
                "<dt>{}</dt><dd>{}</dd>",
                html(&display::heading(&column.name)),
                html(&display::cell_text(figure, row, index))
            );
        }
        out.push_str("</dl>\n");
        if let Some(index) = figure.column_index("evidence") {
            let evidence = match &figure.rows[row][index] {
                serde_json::Value::String(raw) => serde_json::from_str::<serde_json::Value>(raw)
                    .ok()
                    .and_then(|json| serde_json::to_string_pretty(&json).ok())
                    .unwrap_or_else(|| raw.clone()),
                _ => display::cell_text(figure, row, index),
            };
            let _ = writeln!(
                out,
                "<pre class=\"evidence\" aria-label=\"evidence\">{}</pre>",
                html(&evidence)
            );
        }
        out.push_str("</article>\n");
    }
    out.push_str("</div>\n");
}

fn definitions(out: &mut String) {
    out.push_str(
        "<section id=\"definitions\">\n<h2>Definitions</h2>\n<dl class=\"definitions\">\
         <dt>Month</dt><dd>A UTC calendar month. A session belongs to the month of its \
         start time (for an orphan, the broker record's time); a finding to the month of its \
         event time.</dd>\
         <dt>attributed</dt><dd>Started by the broker and matched with the broker's log \
         record, which names the human.</dd>\
         <dt>unattributed</dt><dd>Started by the broker, but no broker record matched it \
         within the grace period: nobody can be held accountable for the session.</dd>\
         <dt>orphan</dt><dd>The broker logged a started session that CloudTrail never \
         recorded, past the grace period.</dd>\
         <dt>pending</dt><dd>Waiting for its counterpart, still within the grace period; \
         decided by a later run, and not counted in the attribution rate.</dd>\
         <dt>direct</dt><dd>Started without the broker. Allowed only for the principals and \
         permission sets of the policy's [direct] section; the others raise a direct_session \
         finding.</dd>\
         <dt>failed</dt><dd>A StartSession call that returned an error: no session ran.</dd>\
         <dt>Attribution rate</dt><dd>attributed ÷ (attributed + unattributed + orphan), \
         over the sessions via the broker that are neither failed nor pending.</dd>\
         <dt>Open finding</dt><dd>A finding no later run has withdrawn. Every finding figure \
         counts open findings only.</dd>\
         <dt>Resolved finding</dt><dd>A finding a later run withdrew (its resolved time and \
         resolution say when and why): records that arrived after its session had left the \
         retention window show it no longer holds. It is kept as evidence, and listed in \
         the month it was resolved.</dd></dl>\n</section>\n",
    );
}
