//! The named queries: the `.sql` files of the repository's `queries/` folder, embedded
//! into the binary at build time so that an installed `sessiontrail` needs no checkout.
//!
//! Each file starts with a `--` comment header: its first paragraph is the question the
//! query answers (see [`description`]), then who asks it and the columns it returns.
//! The SQL sticks to what DataFusion and Athena/Trino both understand.

use crate::ReportError;

/// Embeds `queries/<name>.sql` for each name, in the order given.
macro_rules! embed_queries {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../../queries/", $name, ".sql")))),*]
    };
}

/// Every named query as (name, SQL), sorted by name. The one place that lists them:
/// a test checks that it matches the files in `queries/`.
static NAMED_QUERIES: &[(&str, &str)] = embed_queries![
    "attribution_rate_daily",
    "direct_sessions",
    "document_mismatch",
    "failed",
    "findings_by_severity",
    "orphans",
    "pending",
    "permission_set_usage",
    "sessions_by_user",
    "unattributed",
];

/// Every named query as (name, SQL text), sorted by name.
pub fn named_queries() -> &'static [(&'static str, &'static str)] {
    NAMED_QUERIES
}

/// The SQL of the named query `name` (`unattributed` is `queries/unattributed.sql`).
///
/// An unknown name gives [`ReportError::UnknownQuery`] listing the available names.
pub fn named_query(name: &str) -> Result<&'static str, ReportError> {
    NAMED_QUERIES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, sql)| *sql)
        .ok_or_else(|| ReportError::UnknownQuery {
            name: name.to_string(),
            available: NAMED_QUERIES.iter().map(|(known, _)| *known).collect(),
        })
}

/// The question the named query `name` answers, on one line: the first paragraph of its
/// header comment (up to the first empty `--` line), its lines joined with spaces.
pub fn description(name: &str) -> Result<String, ReportError> {
    let sql = named_query(name)?;
    Ok(header_lines(sql)
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" "))
}

/// The text of the leading `--` comment lines of `sql`, without the `--` and
/// surrounding blanks; an empty `--` line gives an empty string. Stops at the first
/// line that is not a comment.
pub fn header_lines(sql: &str) -> impl Iterator<Item = &str> {
    sql.lines()
        .map(str::trim)
        .map_while(|line| line.strip_prefix("--"))
        .map(str::trim)
}

/// The name of the named query whose text is exactly `sql`, if any.
pub fn name_of(sql: &str) -> Option<&'static str> {
    NAMED_QUERIES
        .iter()
        .find(|(_, known)| *known == sql)
        .map(|(name, _)| *name)
}
