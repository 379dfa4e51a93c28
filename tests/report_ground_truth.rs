//! The monthly report of a generated month, cross-checked against the generator's
//! ground truth: every status count, the attribution rate and the findings by severity
//! are recomputed here from truth.json (not from the dataset) and compared with
//! report.json.

mod common;

use std::collections::BTreeMap;

use common::{path_str, run_ok};

const SEVERITY: [(&str, &str); 17] = [
    ("unattributed_session", "critical"),
    ("document_mismatch", "high"),
    ("unknown_permission_set", "high"),
    ("run_as_mismatch", "high"),
    ("field_mismatch", "high"),
    ("in_band_identity_mismatch", "high"),
    ("duplicate_broker_claim", "high"),
    ("orphan_broker_record", "high"),
    ("secret_in_broker_log", "high"),
    ("direct_session", "medium"),
    ("foreign_session_control", "medium"),
    ("clock_skew", "low"),
    ("log_file_tampered", "critical"),
    ("digest_signature_invalid", "critical"),
    ("log_file_missing", "high"),
    ("digest_chain_broken", "high"),
    ("log_file_not_covered", "low"),
];

#[test]
fn report_figures_equal_the_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let out = dir.path().join("out");
    let report = dir.path().join("report");
    run_ok(&[
        "generate",
        "--out",
        path_str(&input),
        "--seed",
        "17",
        "--days",
        "3",
        "--sessions-per-day",
        "15",
        "--noise-per-session",
        "4",
        "--start-date",
        "2026-02-10",
    ]);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(input.join("truth.json")).unwrap()).unwrap();
    run_ok(&[
        "correlate",
        "--policy",
        path_str(&input.join("sessiontrail.toml")),
        "--cloudtrail",
        path_str(&input.join("cloudtrail")),
        "--broker-log",
        path_str(&input.join("broker")),
        "--out",
        path_str(&out),
        "--as-of",
        truth["as_of"].as_str().unwrap(),
        "--quiet",
    ]);
    run_ok(&[
        "report",
        "--data",
        path_str(&out),
        "--month",
        "2026-02",
        "--out",
        path_str(&report),
        "--min-attribution-rate",
        "0.9",
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let summary = &json["summary"];

    let mut statuses: BTreeMap<&str, i64> = BTreeMap::new();
    for session in truth["sessions"].as_array().unwrap() {
        *statuses
            .entry(session["status"].as_str().unwrap())
            .or_default() += 1;
    }
    let count = |s: &str| statuses.get(s).copied().unwrap_or(0);
    for status in [
        "attributed",
        "unattributed",
        "orphan",
        "pending",
        "direct",
        "failed",
    ] {
        assert_eq!(summary[status].as_i64(), Some(count(status)), "{status}");
    }
    let total: i64 = statuses.values().sum();
    assert_eq!(summary["sessions"].as_i64(), Some(total));
    let broker = count("attributed") + count("unattributed") + count("orphan");
    assert_eq!(summary["broker_sessions"].as_i64(), Some(broker));
    let rate = count("attributed") as f64 / broker as f64;
    assert!((summary["attribution_rate"].as_f64().unwrap() - rate).abs() < 1e-9);
    assert_eq!(
        summary["verdict"],
        if rate >= 0.9 { "pass" } else { "fail" }
    );

    let severity: BTreeMap<&str, &str> = SEVERITY.into_iter().collect();
    let findings = truth["findings"].as_array().unwrap();
    let of = |level: &str| {
        findings
            .iter()
            .filter(|f| severity[f["rule"].as_str().unwrap()] == level)
            .count() as i64
    };
    assert_eq!(summary["findings"].as_i64(), Some(findings.len() as i64));
    assert_eq!(summary["critical_findings"].as_i64(), Some(of("critical")));
    assert_eq!(summary["high_findings"].as_i64(), Some(of("high")));

    // What a reader of report.md and report.html sees: the same figures, from truth.
    let percent = format!("{:.2} %", rate * 100.0);
    let verdict = if rate >= 0.9 { "PASS" } else { "FAIL" };
    let expected: Vec<(&str, String, &str)> = vec![
        ("attribution rate", percent.clone(), "card-attribution-rate"),
        (
            "broker sessions",
            broker.to_string(),
            "card-broker-sessions",
        ),
        (
            "attributed",
            count("attributed").to_string(),
            "card-attributed",
        ),
        (
            "unattributed sessions",
            count("unattributed").to_string(),
            "card-unattributed",
        ),
        (
            "orphan broker records",
            count("orphan").to_string(),
            "card-orphans",
        ),
        (
            "pending (not yet decided)",
            count("pending").to_string(),
            "card-pending",
        ),
        (
            "direct sessions",
            count("direct").to_string(),
            "card-direct",
        ),
        ("failed StartSession calls", count("failed").to_string(), ""),
        ("sessions in all", total.to_string(), ""),
        ("findings", findings.len().to_string(), ""),
        ("critical findings", of("critical").to_string(), ""),
        ("high findings", of("high").to_string(), ""),
    ];
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    let summary_md = md
        .split("## Summary for compliance")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("report.md has a summary section");
    assert!(
        summary_md.contains(&format!("**Verdict: {verdict}**")),
        "{summary_md}"
    );
    let table: BTreeMap<&str, &str> = summary_md
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            (cells.len() == 2).then(|| (cells[0], cells[1]))
        })
        .collect();
    for (label, value, _) in &expected {
        assert_eq!(
            table.get(label),
            Some(&value.as_str()),
            "report.md: {label}"
        );
    }

    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(
        html.contains(&format!(
            r#"data-verdict="{}">{verdict}<"#,
            verdict.to_lowercase()
        )),
        "report.html verdict"
    );
    let critical_high = (of("critical") + of("high")).to_string();
    let cards = expected
        .iter()
        .filter(|(_, _, card)| !card.is_empty())
        .map(|(label, value, card)| (*label, value.as_str(), *card))
        .chain([(
            "critical and high findings",
            critical_high.as_str(),
            "card-critical-high",
        )]);
    for (label, value, card) in cards {
        let at = html
            .find(&format!(r#"id="{card}""#))
            .unwrap_or_else(|| panic!("report.html has no {card}"));
        let card_html = &html[at..at + html[at..].find("</div>").unwrap()];
        assert!(
            card_html.contains(&format!(r#"<span class="value">{value}</span>"#))
                && card_html.contains(&format!(r#"<span class="label">{label}</span>"#)),
            "report.html {card}: {card_html}"
        );
    }
    // The three charts, each an inline SVG.
    for chart in [
        "chart-sessions-by-day",
        "chart-attribution-rate-daily",
        "chart-findings-by-rule",
    ] {
        assert!(
            html.contains(&format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{chart}""#
            )),
            "{chart}"
        );
    }
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.contains(&format!(
        "{total} sessions in all, {} of them failed StartSession calls; {} findings, {} critical and {} high.",
        count("failed"),
        findings.len(),
        of("critical"),
        of("high")
    )));
}
