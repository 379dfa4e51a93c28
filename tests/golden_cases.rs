//! Hand-written golden cases: every folder under `fixtures/cases/` with an `expected*.txt`
//! is run through `sessiontrail correlate` and the dataset it writes is turned into the
//! same text as the expectation:
//!
//! ```text
//! session <key> <status>        one per row of sessions/ (key: session id; StartSession
//!                               eventID when failed; broker:<request_id> without session id)
//! finding <rule> <key>          one per row of findings/ (key: the session's key; the
//!                               Resume/TerminateSession eventID for foreign_session_control)
//! rejects <n>                   rows of rejects/, when there are any
//! ```
//!
//! A case folder holds `cloudtrail/`, `broker/`, `case.toml` (`as_of`, a description,
//! optionally `never_stored` values that must appear nowhere in OUT) and `expected.txt`;
//! the shared policy is `fixtures/cases/sessiontrail.toml` unless the case has its own.
//! A single-run case is run twice into the same OUT: the second run over the same inputs
//! must give the same text. A multi-run case has `expected_run1.txt`, `expected_run2.txt`,
//! ... and `runN_as_of`, `runN_cloudtrail`, `runN_broker` (folders of the case; an empty
//! list is an empty folder) in case.toml; its runs go into one OUT.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::{path_str, read_table, run, session_key};
use sessiontrail_ingest::input_files::files_under;

const STATUSES: [&str; 7] = [
    "denied",
    "attributed",
    "unattributed",
    "pending",
    "direct",
    "orphan",
    "failed",
];
const RULES: [&str; 12] = [
    "unattributed_session",
    "document_mismatch",
    "unknown_permission_set",
    "run_as_mismatch",
    "field_mismatch",
    "in_band_identity_mismatch",
    "duplicate_broker_claim",
    "orphan_broker_record",
    "secret_in_broker_log",
    "direct_session",
    "foreign_session_control",
    "clock_skew",
];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("cases")
}

#[derive(Debug, Clone)]
enum TomlValue {
    Str(String),
    List(Vec<String>),
}

/// The subset of TOML the case files use: `key = "string"`, `key = ["a", "b"]` (one line
/// each), comments and blank lines.
fn parse_case_toml(text: &str) -> Result<BTreeMap<String, TomlValue>, String> {
    fn string(chars: &mut std::iter::Peekable<std::str::Chars>) -> Result<String, String> {
        if chars.next() != Some('"') {
            return Err("expected '\"'".into());
        }
        let mut out = String::new();
        loop {
            match chars.next() {
                Some('"') => return Ok(out),
                Some('\\') => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(c @ ('"' | '\\')) => out.push(c),
                    other => return Err(format!("unsupported escape {other:?}")),
                },
                Some(c) => out.push(c),
                None => return Err("unterminated string".into()),
            }
        }
    }
    fn skip_spaces(chars: &mut std::iter::Peekable<std::str::Chars>) {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    }
    let mut map = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let at = |message: String| format!("line {}: {message}", number + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at("expected key = value".into()))?;
        let mut chars = value.trim().chars().peekable();
        let value = if chars.peek() == Some(&'[') {
            chars.next();
            let mut items = Vec::new();
            loop {
                skip_spaces(&mut chars);
                match chars.peek() {
                    Some(']') => break,
                    Some('"') => items.push(string(&mut chars).map_err(at)?),
                    other => return Err(at(format!("unexpected {other:?} in list"))),
                }
                skip_spaces(&mut chars);
                match chars.next() {
                    Some(',') => {}
                    Some(']') => break,
                    other => return Err(at(format!("expected ',' or ']', got {other:?}"))),
                }
            }
            TomlValue::List(items)
        } else {
            TomlValue::Str(string(&mut chars).map_err(at)?)
        };
        map.insert(key.trim().to_string(), value);
    }
    Ok(map)
}

#[derive(Debug)]
struct Run {
    as_of: String,
    /// Case-relative input folders; empty means one empty folder.
    cloudtrail: Vec<String>,
    broker: Vec<String>,
    expected: PathBuf,
    label: String,
}

#[derive(Debug)]
struct Case {
    name: String,
    dir: PathBuf,
    description: String,
    policy: PathBuf,
    runs: Vec<Run>,
    never_stored: Vec<String>,
    /// Set when the engine disagrees with the hand expectation and the expectation is
    /// kept (the reason, with docs/contracts.md's words); such a case runs only under --ignored.
    disagreement: Option<String>,
}

fn load_case(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let toml_path = dir.join("case.toml");
    let text =
        std::fs::read_to_string(&toml_path).map_err(|e| format!("{}: {e}", toml_path.display()))?;
    let config = parse_case_toml(&text).map_err(|e| format!("{}: {e}", toml_path.display()))?;
    let str_of = |key: &str| match config.get(key) {
        Some(TomlValue::Str(s)) => Ok(Some(s.clone())),
        Some(TomlValue::List(_)) => Err(format!("{}: {key} must be a string", toml_path.display())),
        None => Ok(None),
    };
    let list_of = |key: &str| match config.get(key) {
        Some(TomlValue::List(items)) => Ok(Some(items.clone())),
        Some(TomlValue::Str(_)) => Err(format!("{}: {key} must be a list", toml_path.display())),
        None => Ok(None),
    };
    let own_policy = dir.join("sessiontrail.toml");
    let policy = if own_policy.exists() {
        own_policy
    } else {
        cases_dir().join("sessiontrail.toml")
    };
    let mut runs = Vec::new();
    if dir.join("expected.txt").exists() {
        runs.push(Run {
            as_of: str_of("as_of")?
                .ok_or_else(|| format!("{}: as_of missing", toml_path.display()))?,
            cloudtrail: list_of("cloudtrail")?.unwrap_or_else(|| vec!["cloudtrail".into()]),
            broker: list_of("broker")?.unwrap_or_else(|| vec!["broker".into()]),
            expected: dir.join("expected.txt"),
            label: "run 1 of 1".into(),
        });
    }
    let mut n = 1;
    while dir.join(format!("expected_run{n}.txt")).exists() {
        let as_of = str_of(&format!("run{n}_as_of"))?
            .or(str_of("as_of")?)
            .ok_or_else(|| format!("{}: run{n}_as_of missing", toml_path.display()))?;
        runs.push(Run {
            as_of,
            cloudtrail: list_of(&format!("run{n}_cloudtrail"))?
                .unwrap_or_else(|| vec!["cloudtrail".into()]),
            broker: list_of(&format!("run{n}_broker"))?.unwrap_or_else(|| vec!["broker".into()]),
            expected: dir.join(format!("expected_run{n}.txt")),
            label: format!("run {n}"),
        });
        n += 1;
    }
    if runs.len() > 1 && dir.join("expected.txt").exists() {
        return Err(format!("{name}: both expected.txt and expected_run1.txt"));
    }
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        description: str_of("description")?.unwrap_or_default(),
        policy,
        runs,
        never_stored: list_of("never_stored")?.unwrap_or_default(),
        disagreement: str_of("disagreement")?,
    })
}

/// Every case folder (one with an expected*.txt), sorted by name.
fn discover() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("fixtures/cases exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            std::fs::read_dir(p).unwrap().flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("expected") && name.ends_with(".txt")
            })
        })
        .collect();
    dirs.sort();
    dirs
}

fn expected_lines(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    lines.sort();
    Ok(lines)
}

/// The key a finding is raised on: the controlling event for foreign_session_control,
/// else the session's key (the session id a leaking record names, or
/// `broker:<request_id>` when the finding has no session id).
fn finding_key(row: &BTreeMap<String, String>) -> Result<String, String> {
    let evidence: serde_json::Value = serde_json::from_str(&row["evidence"]).map_err(|e| {
        format!(
            "finding {} has evidence that is not JSON ({e})",
            row["finding_id"]
        )
    })?;
    let key = if row["rule"] == "foreign_session_control" {
        evidence["event_id"].as_str().map(str::to_string)
    } else if !row["session_id"].is_empty() {
        Some(row["session_id"].clone())
    } else if let Some(claimed) = evidence["session_id"].as_str() {
        // secret_in_broker_log on a record naming a session no row has.
        Some(claimed.to_string())
    } else {
        evidence["request_ids"]
            .as_array()
            .and_then(|ids| ids.first())
            .and_then(|id| id.as_str())
            .or_else(|| evidence["request_id"].as_str())
            .map(|id| format!("broker:{id}"))
    };
    key.ok_or_else(|| {
        format!(
            "finding {} ({}) has no key in its row or evidence {evidence}",
            row["finding_id"], row["rule"]
        )
    })
}

/// The dataset in OUT as expectation text, sorted.
fn actual_lines(out: &Path) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for row in read_table(out, "sessions") {
        lines.push(format!("session {} {}", session_key(&row), row["status"]));
    }
    for row in read_table(out, "findings") {
        lines.push(format!("finding {} {}", row["rule"], finding_key(&row)?));
    }
    let rejects = read_table(out, "rejects").len();
    if rejects > 0 {
        lines.push(format!("rejects {rejects}"));
    }
    lines.sort();
    Ok(lines)
}

/// Lines in `want` not in `got` and the other way round, counting repeats (a session
/// written twice is an extra line).
fn diff(want: &[String], got: &[String]) -> (Vec<String>, Vec<String>) {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for line in want {
        *counts.entry(line).or_default() += 1;
    }
    for line in got {
        *counts.entry(line).or_default() -= 1;
    }
    let mut missing = Vec::new();
    let mut extra = Vec::new();
    for (line, n) in counts {
        for _ in 0..n.max(0) {
            missing.push(line.to_string());
        }
        for _ in 0..(-n).max(0) {
            extra.push(line.to_string());
        }
    }
    (missing, extra)
}

/// Where a value that must never be stored shows up in OUT (table cells or raw file bytes).
fn stored_secrets(out: &Path, secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        for table in ["sessions", "findings", "rejects"] {
            for row in read_table(out, table) {
                for (column, value) in &row {
                    if value.contains(secret.as_str()) {
                        found.push(format!(
                            "{table}.{column} holds never_stored value {secret}"
                        ));
                    }
                }
            }
        }
        for file in files_under(out) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                found.push(format!(
                    "{} holds never_stored value {secret}",
                    file.display()
                ));
            }
        }
    }
    found
}

fn inputs(case: &Case, folders: &[String], empty: &Path) -> Result<Vec<String>, String> {
    if folders.is_empty() {
        return Ok(vec![path_str(empty).to_string()]);
    }
    folders
        .iter()
        .map(|f| {
            let path = case.dir.join(f);
            if path.exists() {
                Ok(path_str(&path).to_string())
            } else {
                Err(format!("input folder {} does not exist", path.display()))
            }
        })
        .collect()
}

/// Runs one correlate into `out`; Err(report) when the binary fails or the dataset
/// differs from `expected`.
fn check_run(
    case: &Case,
    run_spec: &Run,
    out: &Path,
    empty: &Path,
    label: &str,
) -> Result<(), String> {
    let cloudtrail = inputs(case, &run_spec.cloudtrail, empty)?;
    let broker = inputs(case, &run_spec.broker, empty)?;
    let mut args: Vec<&str> = vec![
        "correlate",
        "--policy",
        path_str(&case.policy),
        "--cloudtrail",
    ];
    args.extend(cloudtrail.iter().map(String::as_str));
    args.push("--broker-log");
    args.extend(broker.iter().map(String::as_str));
    args.extend([
        "--out",
        path_str(out),
        "--as-of",
        &run_spec.as_of,
        "--quiet",
    ]);
    let output = run(&args);
    if !output.status.success() {
        return Err(format!(
            "{label}: sessiontrail exited {:?}\n{}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let want = expected_lines(&run_spec.expected)?;
    let got = actual_lines(out)?;
    let (missing, extra) = diff(&want, &got);
    let leaks = stored_secrets(out, &case.never_stored);
    if missing.is_empty() && extra.is_empty() && leaks.is_empty() {
        return Ok(());
    }
    let mut report = format!(
        "{label} (as_of {}, expected {}):\n",
        run_spec.as_of,
        run_spec
            .expected
            .strip_prefix(cases_dir())
            .unwrap_or(&run_spec.expected)
            .display()
    );
    for line in &missing {
        let _ = writeln!(report, "    missing: {line}");
    }
    for line in &extra {
        let _ = writeln!(report, "    extra:   {line}");
    }
    for leak in &leaks {
        let _ = writeln!(report, "    secret:  {leak}");
    }
    Err(report)
}

/// All runs of one case; the list of failures (empty when the case passes).
fn check_case(case: &Case) -> Vec<String> {
    let temp = tempfile::tempdir().unwrap();
    let out = temp.path().join("out");
    let empty = temp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut failures = Vec::new();
    let single = case.runs.len() == 1;
    for run_spec in &case.runs {
        let result =
            std::panic::catch_unwind(|| check_run(case, run_spec, &out, &empty, &run_spec.label))
                .unwrap_or_else(|_| {
                    Err(format!("{}: panicked reading the dataset", run_spec.label))
                });
        if let Err(report) = result {
            failures.push(report);
        }
    }
    if single && failures.is_empty() {
        // Reruns over the same inputs give the same rows (records dedup across runs).
        let run_spec = &case.runs[0];
        let result = std::panic::catch_unwind(|| {
            check_run(
                case,
                run_spec,
                &out,
                &empty,
                "rerun over the same inputs into the same OUT",
            )
        })
        .unwrap_or_else(|_| Err("rerun: panicked reading the dataset".into()));
        if let Err(report) = result {
            failures.push(report);
        }
    }
    failures
}

/// Runs the cases `select` picks and panics with one report naming every failing case.
fn check_cases(select: impl Fn(&Case) -> bool) -> usize {
    let dirs = discover();
    assert!(!dirs.is_empty(), "no case under {}", cases_dir().display());
    let mut report = String::new();
    let mut failed = Vec::new();
    let mut checked = 0;
    for dir in &dirs {
        let case = match load_case(dir) {
            Ok(case) => case,
            Err(e) => {
                failed.push(dir.file_name().unwrap().to_string_lossy().into_owned());
                let _ = writeln!(report, "\n== case {}: {e}", dir.display());
                continue;
            }
        };
        if !select(&case) {
            continue;
        }
        checked += 1;
        let failures = check_case(&case);
        if !failures.is_empty() {
            failed.push(case.name.clone());
            let _ = writeln!(
                report,
                "\n== case {} ({})\n   {}",
                case.name,
                case.dir.display(),
                case.description
            );
            if let Some(reason) = &case.disagreement {
                let _ = writeln!(report, "   disagreement on record: {reason}");
            }
            for failure in failures {
                let _ = write!(report, "  {failure}");
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {checked} golden cases differ from their expectation: {}\n{report}",
        failed.len(),
        failed.join(", ")
    );
    checked
}

#[test]
fn golden_cases_match_their_expectations() {
    check_cases(|_| true);
}

#[test]
fn every_status_and_rule_is_pinned_by_a_case() {
    let mut statuses = BTreeSet::new();
    let mut rules = BTreeSet::new();
    for dir in discover() {
        let case = load_case(&dir).unwrap();
        assert!(
            !case.description.is_empty() || dir.join("README.md").exists(),
            "case {} says nowhere what it pins (case.toml description or README.md)",
            case.name
        );
        for run_spec in &case.runs {
            for line in expected_lines(&run_spec.expected).unwrap() {
                let words: Vec<&str> = line.split(' ').collect();
                match words.as_slice() {
                    ["session", _, status] => {
                        statuses.insert(status.to_string());
                    }
                    ["finding", rule, _] => {
                        rules.insert(rule.to_string());
                    }
                    ["rejects", n] if n.parse::<usize>().is_ok() => {}
                    _ => panic!("{}: malformed line {line:?}", run_spec.expected.display()),
                }
            }
        }
    }
    let missing_statuses: Vec<_> = STATUSES
        .iter()
        .filter(|s| !statuses.contains(**s))
        .collect();
    let missing_rules: Vec<_> = RULES.iter().filter(|r| !rules.contains(**r)).collect();
    assert!(
        missing_statuses.is_empty() && missing_rules.is_empty(),
        "no expected*.txt pins statuses {missing_statuses:?} / rules {missing_rules:?}"
    );
    let unknown: Vec<_> = statuses
        .iter()
        .filter(|s| !STATUSES.contains(&s.as_str()))
        .chain(rules.iter().filter(|r| !RULES.contains(&r.as_str())))
        .collect();
    assert!(
        unknown.is_empty(),
        "expectations name unknown statuses or rules: {unknown:?}"
    );
}

#[test]
fn case_toml_subset_parses() {
    let parsed = parse_case_toml(
        "# comment\ndescription = \"a \\\"quoted\\\" `x`\"\nrun1_broker = []\nlist = [\"a\", \"b\",]\n",
    )
    .unwrap();
    assert!(matches!(&parsed["description"], TomlValue::Str(s) if s == "a \"quoted\" `x`"));
    assert!(matches!(&parsed["run1_broker"], TomlValue::List(v) if v.is_empty()));
    assert!(matches!(&parsed["list"], TomlValue::List(v) if v == &["a", "b"]));
}
