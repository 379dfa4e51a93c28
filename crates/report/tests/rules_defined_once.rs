//! The report's lists of rules and severities agree with `crates/correlate/src/rule.rs`:
//! the SQL that names them (queries/report/findings_by_rule.sql lists every rule, so
//! that a rule which raised nothing still has its row; the severity orderings), the
//! rules the export tests use, and each rule's title and ASFF Types. A rule added to
//! `Rule::ALL` and missed in one of them fails here, naming the file.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use sessiontrail_correlate::{Rule, Severity};
use sessiontrail_report::findings_export::finding_title;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// (id, severity) of every rule, in the order of `Rule::ALL`.
fn rules() -> Vec<(&'static str, &'static str)> {
    Rule::ALL
        .iter()
        .map(|rule| (rule.as_str(), rule.severity().as_str()))
        .collect()
}

fn severities() -> Vec<&'static str> {
    Severity::ALL.iter().map(|s| s.as_str()).collect()
}

/// The SQL without its `--` comments.
fn code(sql: &str) -> String {
    sql.lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of `sql` from `start` to the first `end` after it.
fn between<'a>(sql: &'a str, path: &str, start: &str, end: &str) -> &'a str {
    let from = sql
        .find(start)
        .unwrap_or_else(|| panic!("{path} has no {start:?}"))
        + start.len();
    let to = sql[from..]
        .find(end)
        .unwrap_or_else(|| panic!("{path}: no {end:?} after {start:?}"))
        + from;
    &sql[from..to]
}

/// The single-quoted SQL string literals of `text`, in order (none holds a quote).
fn literals(text: &str) -> Vec<&str> {
    text.split('\'').skip(1).step_by(2).collect()
}

#[test]
fn findings_by_rule_lists_every_rule_with_its_severity() {
    let path = "queries/report/findings_by_rule.sql";
    let sql = code(&read(path));
    let values = literals(between(
        &sql,
        path,
        "WITH rules (rule, severity) AS (",
        "\n),",
    ));
    let listed: Vec<(&str, &str)> = values.chunks(2).map(|pair| (pair[0], pair[1])).collect();
    assert_eq!(
        listed,
        rules(),
        "{path}: the rules CTE must list every rule of Rule::ALL with its severity, in order"
    );
}

#[test]
fn the_sql_orders_every_severity_most_severe_first() {
    for path in [
        "queries/report/findings_by_rule.sql",
        "queries/findings_by_severity.sql",
    ] {
        let sql = code(&read(path));
        let case = literals(between(&sql, path, "CASE severity", "END"));
        assert_eq!(
            case,
            severities(),
            "{path}: CASE severity must rank every severity, most severe first"
        );
    }
    let path = "queries/report/findings_by_severity.sql";
    let sql = code(&read(path));
    let values = literals(between(&sql, path, "WITH severities", "\n),"));
    assert_eq!(
        values,
        severities(),
        "{path}: the severities CTE must list every severity, most severe first"
    );
}

#[test]
fn every_rule_the_sql_names_is_a_rule() {
    let ids: BTreeSet<&str> = rules().into_iter().map(|(id, _)| id).collect();
    let mut named = 0;
    for folder in ["queries", "queries/report"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(folder);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let file = entry.unwrap().path();
            if file.extension().is_none_or(|e| e != "sql") {
                continue;
            }
            let sql = code(&std::fs::read_to_string(&file).unwrap());
            for part in sql.split("rule = '").skip(1) {
                let id = part.split('\'').next().unwrap();
                assert!(
                    ids.contains(id),
                    "{}: names rule {id:?}, which is not in Rule::ALL",
                    file.display()
                );
                named += 1;
            }
        }
    }
    assert!(
        named >= 2,
        "the scan found the queries' rule names ({named})"
    );
}

#[test]
fn the_export_tests_use_every_rule() {
    assert_eq!(
        common::RULES.to_vec(),
        rules(),
        "crates/report/tests/common/mod.rs: RULES must list every rule with its severity, \
         in order"
    );
}

#[test]
fn every_rule_has_its_own_title() {
    let mut titles = BTreeSet::new();
    for rule in Rule::ALL {
        let title = finding_title(rule.as_str());
        assert_eq!(title, rule.info().title);
        assert!(
            !title.is_empty() && title.chars().count() <= 256 && !title.contains(rule.as_str()),
            "{rule}: a title for a human, at most ASFF's 256 characters: {title:?}"
        );
        assert!(titles.insert(title), "{rule}: another rule has its title");
    }
    assert_eq!(
        finding_title("not_a_rule"),
        "sessiontrail finding: not_a_rule"
    );
}

#[test]
fn every_rules_asff_types_are_namespace_category_of_the_taxonomy() {
    // The valid namespaces of ASFF `Types` (Security Hub API reference, Types:
    // "namespace/category/classifier").
    let namespaces = [
        "Software and Configuration Checks",
        "TTPs",
        "Effects",
        "Unusual Behaviors",
        "Sensitive Data Identifications",
    ];
    for rule in Rule::ALL {
        let types = rule.info().asff_types;
        assert!(!types.is_empty() && types.len() <= 50, "{rule}: {types:?}");
        for kind in types {
            let parts: Vec<&str> = kind.split('/').collect();
            assert!(
                (2..=3).contains(&parts.len())
                    && parts.iter().all(|part| !part.trim().is_empty())
                    && namespaces.contains(&parts[0]),
                "{rule}: ASFF type {kind:?} is not namespace/category[/classifier]"
            );
        }
    }
}
