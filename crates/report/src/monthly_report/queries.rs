//! The report queries: the `.sql` files of the repository's `queries/report/` folder,
//! embedded at build time like the named queries, and run with the month's bounds as
//! bound parameters.
//!
//! Each file starts with a `--` header (the question it answers, who asks it, the
//! definitions it relies on, its `Parameters:` and `Columns:`). Parameters are named
//! placeholders (`$first_day`) bound to [`Month`]-derived values: user text never
//! becomes SQL text.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::month::Month;
use crate::{ReportError, TablePartitions};

/// One figure's query: its name (the file stem), the heading it has in the report,
/// and its SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportQuery {
    /// The file stem: `sessions_by_status` is `queries/report/sessions_by_status.sql`.
    pub name: &'static str,
    /// The figure's heading in the report.
    pub title: &'static str,
    /// The SQL text, header comment included.
    pub sql: &'static str,
}

impl ReportQuery {
    /// The path of the file in the repository: `queries/report/<name>.sql`.
    pub fn path(&self) -> String {
        format!("queries/report/{}.sql", self.name)
    }

    /// The question the query answers: the first paragraph of its header.
    pub fn question(&self) -> String {
        crate::header_lines(self.sql)
            .take_while(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Embeds `queries/report/<name>.sql` for each (name, title), in the order given.
macro_rules! embed_report_queries {
    ($(($name:literal, $title:literal)),* $(,)?) => {
        &[$(ReportQuery {
            name: $name,
            title: $title,
            sql: include_str!(concat!("../../../../queries/report/", $name, ".sql")),
        }),*]
    };
}

/// Every report query, in the order of the report. The one place that lists them: a
/// test checks that it matches the files in `queries/report/`.
static REPORT_QUERIES: &[ReportQuery] = embed_report_queries![
    ("attribution_rate", "Attribution rate of the month"),
    ("sessions_by_status", "Sessions by status"),
    ("unattributed_sessions", "Unattributed sessions"),
    ("orphan_sessions", "Orphan sessions"),
    ("sessions_by_day", "Sessions per day, by status"),
    ("attribution_rate_daily", "Attribution rate per day"),
    ("findings_by_severity", "Findings by severity"),
    ("findings_by_rule", "Findings by rule and severity"),
    ("critical_high_findings", "Open critical and high findings"),
    ("resolved_findings", "Findings resolved in the month"),
    ("sessions_by_permission_set", "Sessions per permission set"),
    ("sessions_by_user", "Sessions per user"),
    ("sessions_by_target", "Sessions per target"),
    ("direct_sessions", "Direct sessions"),
    (
        "session_evidence",
        "Sessions by the evidence of their CloudTrail record"
    ),
    (
        "log_files_not_verified",
        "CloudTrail log files that did not verify"
    ),
    (
        "digest_problems",
        "CloudTrail digest files that did not verify"
    ),
    ("month_over_month", "Change against the previous month"),
];

/// Every report query, in the order of the report.
pub fn report_queries() -> &'static [ReportQuery] {
    REPORT_QUERIES
}

/// The report query `name`, if there is one.
pub fn report_query(name: &str) -> Option<&'static ReportQuery> {
    REPORT_QUERIES.iter().find(|query| query.name == name)
}

/// The values of the placeholders the report queries use, for `month`: every value is
/// derived from a validated [`Month`].
///
/// `$month`, `$previous_month` (`YYYY-MM`); `$first_day`, `$last_day`,
/// `$previous_first_day` (`YYYY-MM-DD`, compared with the partition column `dt`).
pub fn parameters(month: Month) -> Vec<(&'static str, String)> {
    let previous = month.previous();
    vec![
        ("month", month.to_string()),
        ("previous_month", previous.to_string()),
        ("first_day", month.first_day().to_string()),
        ("last_day", month.last_day().to_string()),
        ("previous_first_day", previous.first_day().to_string()),
    ]
}

/// The partitions of each table the report of `month` reads: every table a report
/// query names after `FROM` or `JOIN`, from the earliest to the latest date the
/// queries are given (`$previous_first_day` .. `$last_day`: the month and the whole
/// previous month, for `month_over_month`); and every partition of a table that a
/// query reads without naming the partition column `dt` (`resolved_findings` lists the
/// findings resolved in the month, raised in any month before: all of `findings`).
///
/// The one answer to "what must a copy of the dataset hold for this report": the CLI's
/// `report --data s3://...` and the Lambda's monthly report copy exactly these.
pub fn partitions_needed(month: Month) -> Vec<TablePartitions> {
    let values = parameters(month);
    let mut days: Option<(NaiveDate, NaiveDate)> = None;
    let mut read = Vec::new();
    let mut read_whole = Vec::new();
    for query in report_queries() {
        for name in placeholders(query.sql) {
            let date = values
                .iter()
                .find(|(known, _)| *known == name)
                .and_then(|(_, value)| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok());
            if let Some(date) = date {
                days = Some(match days {
                    None => (date, date),
                    Some((first, last)) => (first.min(date), last.max(date)),
                });
            }
        }
        let whole = !code_words(query.sql).contains(&crate::PARTITION_COLUMN);
        for table in table_references(query.sql) {
            let list = if whole { &mut read_whole } else { &mut read };
            if !list.contains(&table) {
                list.push(table);
            }
        }
    }
    crate::tables()
        .into_iter()
        .filter(|(table, _)| read.contains(table) || read_whole.contains(table))
        .map(|(table, _)| TablePartitions {
            table,
            days: if read_whole.contains(&table) {
                None
            } else {
                days
            },
        })
        .collect()
}

/// The words that follow `FROM` or `JOIN` in `sql`, outside comments and string
/// literals (tables and common table expressions alike), in order.
pub fn table_references(sql: &str) -> Vec<&str> {
    code_words(sql)
        .windows(2)
        .filter(|pair| pair[0].eq_ignore_ascii_case("from") || pair[0].eq_ignore_ascii_case("join"))
        .map(|pair| pair[1])
        .collect()
}

/// The words (letters, digits, `_`) of `sql` outside comments and string literals, in
/// order.
fn code_words(sql: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        let mut in_string = false;
        let mut start = None;
        for (i, c) in code
            .char_indices()
            .chain(std::iter::once((code.len(), ' ')))
        {
            let word_char = c.is_ascii_alphanumeric() || c == '_';
            if c == '\'' {
                in_string = !in_string;
            }
            match (start, word_char && !in_string) {
                (None, true) => start = Some(i),
                (Some(from), false) => {
                    words.push(&code[from..i]);
                    start = None;
                }
                _ => {}
            }
        }
    }
    words
}

/// The names of the `$name` placeholders in `sql`, outside comments and string
/// literals, each once, in order of appearance.
pub fn placeholders(sql: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        let mut in_string = false;
        let mut chars = code.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => in_string = !in_string,
                '$' if !in_string => {
                    let start = i + 1;
                    let mut end = start;
                    while let Some(&(j, next)) = chars.peek() {
                        if next.is_ascii_alphanumeric() || next == '_' {
                            end = j + next.len_utf8();
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    let name = &code[start..end];
                    if !name.is_empty() && !names.contains(&name) {
                        names.push(name);
                    }
                }
                _ => {}
            }
        }
    }
    names
}

/// Runs `query` for `month` in `ctx` (see [`crate::open_dataset`]): read-only, the
/// placeholders it names bound to [`parameters`]. The result holds at least one
/// batch, so its schema is known even without rows.
pub async fn run_report_query(
    ctx: &SessionContext,
    query: &ReportQuery,
    month: Month,
) -> Result<Vec<RecordBatch>, ReportError> {
    let label = format!("report query `{}` ({})", query.name, query.path());
    run_bound_query(ctx, &label, query.sql, &parameters(month)).await
}

/// Runs read-only `sql` in `ctx` with each `$name` placeholder it uses bound to its
/// text value in `values` (user text never becomes SQL text); a placeholder without a
/// value is an error naming `label`. The result holds at least one batch.
pub(crate) async fn run_bound_query(
    ctx: &SessionContext,
    label: &str,
    sql: &str,
    values: &[(&str, String)],
) -> Result<Vec<RecordBatch>, ReportError> {
    let failed = |source: DataFusionError| ReportError::Query {
        query: label.to_string(),
        source: Box::new(source),
    };
    let mut bound = Vec::new();
    for name in placeholders(sql) {
        let value = values
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, value)| value.clone())
            .ok_or_else(|| {
                failed(DataFusionError::Plan(format!(
                    "unknown parameter ${name}; known: {}",
                    values
                        .iter()
                        .map(|(known, _)| format!("${known}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            })?;
        bound.push((name, ScalarValue::Utf8(Some(value))));
    }
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let mut frame = ctx.sql_with_options(sql, read_only).await.map_err(failed)?;
    if !bound.is_empty() {
        frame = frame
            .with_param_values(ParamValues::from(bound))
            .map_err(failed)?;
    }
    let schema = Arc::new(frame.schema().as_arrow().clone());
    let mut batches = frame.collect().await.map_err(failed)?;
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema));
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_placeholders_outside_comments_and_strings() {
        let sql = "-- uses $not_this\nSELECT '$nor_this', $a, $b_2 -- $c\nWHERE x = $a";
        assert_eq!(placeholders(sql), ["a", "b_2"]);
    }

    #[test]
    fn finds_the_tables_after_from_and_join() {
        let sql = "-- FROM comment\nWITH d AS (SELECT 1 FROM sessions)\nSELECT 'from x' FROM d\n\
                   LEFT JOIN findings f ON true JOIN\n  rejects r ON true";
        assert_eq!(
            table_references(sql),
            ["sessions", "d", "findings", "rejects"]
        );
    }

    #[test]
    fn the_report_needs_its_month_the_whole_previous_month_and_every_finding() {
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let needed = partitions_needed("2026-03".parse().unwrap());
        let expected = Some((day("2026-02-01"), day("2026-03-31")));
        assert_eq!(
            needed,
            [
                TablePartitions {
                    table: "sessions",
                    days: expected
                },
                // resolved_findings: a finding of any month can be resolved in this one.
                TablePartitions {
                    table: "findings",
                    days: None
                },
                // log_files_not_verified: the month's log files (and the previous month's:
                // the range is one for every table).
                TablePartitions {
                    table: "evidence",
                    days: expected
                },
            ]
        );
        let january = partitions_needed("2026-01".parse().unwrap());
        assert_eq!(
            january[0].days,
            Some((day("2025-12-01"), day("2026-01-31")))
        );
    }

    #[test]
    fn a_query_that_names_no_dt_reads_every_partition_of_its_tables() {
        assert!(code_words("SELECT dt FROM t").contains(&"dt"));
        for sql in [
            "-- dt\nSELECT 1 FROM t",
            "SELECT 'dt' FROM t",
            "SELECT dtx FROM t",
        ] {
            assert!(!code_words(sql).contains(&"dt"), "{sql}");
        }
        let resolved = report_query("resolved_findings").unwrap();
        assert!(!code_words(resolved.sql).contains(&"dt"));
        for query in report_queries() {
            if query.name != "resolved_findings" {
                assert!(code_words(query.sql).contains(&"dt"), "{}", query.name);
            }
        }
    }

    #[test]
    fn every_query_uses_only_known_parameters() {
        let known: Vec<_> = parameters("2026-02".parse().unwrap())
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for query in report_queries() {
            for name in placeholders(query.sql) {
                assert!(known.contains(&name), "{}: ${name}", query.name);
            }
        }
    }
}
