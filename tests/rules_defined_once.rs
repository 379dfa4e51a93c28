//! Every list of the rules outside `crates/correlate/src/rule.rs` that cannot derive
//! from it agrees with it: the generator's own rule ids (an independent oracle, so it
//! shares no code), the rule lists of the tests, the rules tables of
//! docs/contracts.md and README.md, and the CloudWatch alarms of deploy/template.yaml.
//! A rule added to `Rule::ALL` and missed in one of them fails here, naming the file.

use std::collections::BTreeSet;
use std::path::Path;

use sessiontrail_correlate::{Rule, Severity, Subject};

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// (id, severity) of every rule, in the order of `Rule::ALL`.
fn rules() -> Vec<(&'static str, &'static str)> {
    Rule::ALL
        .iter()
        .map(|rule| (rule.as_str(), rule.severity().as_str()))
        .collect()
}

/// The text of the array literal of `const <name>` in Rust source: from its `= [` to
/// the `];` that closes it.
fn const_array<'a>(source: &'a str, path: &str, name: &str) -> &'a str {
    let start = source
        .find(&format!("const {name}:"))
        .unwrap_or_else(|| panic!("{path} has no const {name}"));
    let rest = &source[start..];
    let open = rest.find("= [").expect("an array literal") + 3;
    let close = rest[open..].find("];").expect("the array's end") + open;
    &rest[open..close]
}

/// The double-quoted string literals of `text`, in order (none of them escapes a quote).
fn quoted(text: &str) -> Vec<&str> {
    text.split('"').skip(1).step_by(2).collect()
}

#[test]
fn the_generators_rule_ids_are_the_rules() {
    // The generator's correlation rules, then its evidence rules (crates/generate/src/
    // digest.rs), each its own copy.
    let generator: Vec<&str> = sessiontrail_generate::Rule::ALL
        .iter()
        .map(|rule| rule.as_str())
        .chain(
            sessiontrail_generate::EvidenceRule::ALL
                .iter()
                .map(|rule| rule.as_str()),
        )
        .collect();
    let ids: Vec<&str> = rules().into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        generator, ids,
        "crates/generate/src/truth.rs (Rule::ALL) then crates/generate/src/digest.rs \
         (EvidenceRule::ALL) must list the rules of crates/correlate/src/rule.rs, in order: \
         the generator keeps its own copy"
    );
}

#[test]
fn the_golden_cases_list_every_session_rule() {
    // Rules about a log file are pinned by crates/evidence/tests/verify_signed_set.rs and
    // tests/verify_cli.rs (the generator's tampered digest sets), not by golden cases.
    let path = "tests/golden_cases.rs";
    let source = read(path);
    let listed = quoted(const_array(&source, path, "RULES"));
    let ids: Vec<&str> = Rule::ALL
        .iter()
        .filter(|rule| rule.subject() == Subject::Session)
        .map(|rule| rule.as_str())
        .collect();
    assert_eq!(
        listed, ids,
        "{path}: RULES must list every rule about a session in order (and then a golden \
         case must pin it)"
    );
}

#[test]
fn the_report_ground_truth_knows_every_rules_severity() {
    let path = "tests/report_ground_truth.rs";
    let source = read(path);
    let literals = quoted(const_array(&source, path, "SEVERITY"));
    let listed: Vec<(&str, &str)> = literals.chunks(2).map(|pair| (pair[0], pair[1])).collect();
    assert_eq!(
        listed,
        rules(),
        "{path}: SEVERITY must give every rule its severity, in order"
    );
}

#[test]
fn the_contracts_rules_table_is_the_rules() {
    let path = "docs/contracts.md";
    let text = read(path);
    let section = text
        .split("\n## ")
        .find(|section| section.starts_with("Rules"))
        .unwrap_or_else(|| panic!("{path} has no Rules section"));
    let rows: Vec<(String, String, String)> = section
        .lines()
        .skip_while(|line| !line.starts_with("| rule |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            assert_eq!(cells.len(), 3, "{path}: row {line:?} has not 3 cells");
            (
                cells[0].trim_matches('`').to_string(),
                cells[1].to_string(),
                cells[2].to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = Rule::ALL
        .iter()
        .map(|rule| {
            let info = rule.info();
            (
                info.id.to_string(),
                info.severity.as_str().to_string(),
                info.description.to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows, expected,
        "{path}'s rules table (rule, severity, fires when) must equal Rule::info of \
         Rule::ALL, row by row"
    );
}

#[test]
fn the_readmes_rules_table_gives_every_rule_its_severity() {
    let path = "README.md";
    let text = read(path);
    let mut listed: Vec<(String, String)> = text
        .lines()
        .skip_while(|line| *line != "| rule | severity |")
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .flat_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 2, "{path}: row {line:?} has not 2 cells");
            let severity = cells[1].to_string();
            cells[0]
                .split(',')
                .map(|id| (id.trim().to_string(), severity.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String)> = rules()
        .into_iter()
        .map(|(id, severity)| (id.to_string(), severity.to_string()))
        .collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "{path}'s `| rule | severity |` table must name every rule once, with its severity"
    );
}

#[test]
fn the_template_alarms_on_the_rules_marked_alarmed() {
    let path = "deploy/template.yaml";
    let text = read(path);
    // The metrics of sessiontrail's EMF namespace the alarms watch.
    let mut metrics = BTreeSet::new();
    let mut namespace = None;
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Namespace:") {
            namespace = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("MetricName:") {
            if namespace.as_deref() == Some("!Ref MetricsNamespace") {
                metrics.insert(value.trim().to_string());
            }
            namespace = None;
        }
    }
    let alarmed: BTreeSet<String> = Rule::ALL
        .iter()
        .filter(|rule| rule.info().alarmed)
        .map(|rule| rule.as_str().to_string())
        .collect();
    let watched: BTreeSet<String> = Rule::ALL
        .iter()
        .map(|rule| rule.as_str().to_string())
        .filter(|id| metrics.contains(id))
        .collect();
    assert!(!alarmed.is_empty(), "no rule is alarmed: {metrics:?}");
    assert_eq!(
        watched, alarmed,
        "{path}: an alarm on the EMF metric of exactly the rules whose RuleInfo::alarmed is \
         true"
    );
    for metric in metrics.iter().filter(|m| m.starts_with("severity_")) {
        let severity = &metric["severity_".len()..];
        assert!(
            Severity::from_id(severity).is_some(),
            "{path}: alarm on {metric}, of no severity"
        );
    }
}

#[test]
fn the_table_parsers_see_what_they_should() {
    assert_eq!(quoted(r#"[ "a", "b" ]"#), ["a", "b"]);
    let source = "const X: [&str; 2] = [\n    \"a\",\n    \"b\",\n];\nconst Y: u8 = 1;";
    assert_eq!(quoted(const_array(source, "x.rs", "X")), ["a", "b"]);
}
