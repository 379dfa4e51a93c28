//! Runs carry state: day 1 then day 2 gives the same dataset as one run over both, and
//! a rerun over the same inputs changes nothing.

mod common;

use std::path::{Path, PathBuf};

use common::{parquet_files_under, path_str, run_ok};

fn generate(dir: &Path) -> String {
    run_ok(&[
        "generate",
        "--out",
        path_str(dir),
        "--seed",
        "21",
        "--days",
        "2",
        "--sessions-per-day",
        "12",
        "--noise-per-session",
        "6",
    ]);
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    truth["as_of"].as_str().unwrap().to_string()
}

/// Files whose S3 date folder (`.../YYYY/MM/DD/...`) is before `day` go to the first
/// run; everything else (later days, the export and subscription wrappers) to the second.
fn split_by_delivery_day(root: &Path, day: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let parts: Vec<&str> = relative.split('/').collect();
            let date = parts.windows(3).find_map(|w| {
                (w[0].len() == 4
                    && w[1].len() == 2
                    && w[2].len() == 2
                    && w.iter().all(|p| p.chars().all(|c| c.is_ascii_digit())))
                .then(|| format!("{}-{}-{}", w[0], w[1], w[2]))
            });
            match date {
                Some(date) if date.as_str() < day => first.push(path),
                _ => second.push(path),
            }
        }
    }
    first.sort();
    second.sort();
    (first, second)
}

fn correlate(input: &Path, cloudtrail: &[PathBuf], broker: &[PathBuf], out: &Path, as_of: &str) {
    let mut args: Vec<String> = vec![
        "correlate".into(),
        "--policy".into(),
        path_str(&input.join("sessiontrail.toml")).into(),
        "--out".into(),
        path_str(out).into(),
        "--as-of".into(),
        as_of.into(),
        "--cloudtrail".into(),
    ];
    args.extend(cloudtrail.iter().map(|p| path_str(p).to_string()));
    args.push("--broker-log".into());
    args.extend(broker.iter().map(|p| path_str(p).to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_ok(&args);
}

fn dataset(out: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = parquet_files_under(&out.join("sessions"));
    for (path, bytes) in parquet_files_under(&out.join("findings")) {
        files.insert(Path::new("findings").join(path), bytes);
    }
    files
}

#[test]
fn day_one_then_day_two_equals_one_run_over_both() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let as_of = generate(&input);

    let single = dir.path().join("single");
    correlate(
        &input,
        &[input.join("cloudtrail")],
        &[input.join("broker")],
        &single,
        &as_of,
    );

    let (ct1, ct2) = split_by_delivery_day(&input.join("cloudtrail"), "2026-02-02");
    let (br1, br2) = split_by_delivery_day(&input.join("broker"), "2026-02-02");
    assert!(!ct1.is_empty() && !ct2.is_empty() && !br1.is_empty() && !br2.is_empty());
    let split = dir.path().join("split");
    // Day 1 is judged at the end of day 1: some sessions are pending or flagged then.
    correlate(&input, &ct1, &br1, &split, "2026-02-02T00:10:00Z");
    let after_day_one = dataset(&split);
    correlate(&input, &ct2, &br2, &split, &as_of);

    let want = dataset(&single);
    let got = dataset(&split);
    assert!(!want.is_empty());
    assert_ne!(
        after_day_one, want,
        "day 1 alone differs (the test would prove nothing otherwise)"
    );
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "same partitions"
    );
    for (path, bytes) in &want {
        assert!(
            got[path] == *bytes,
            "{} differs between split and single runs",
            path.display()
        );
    }
}

#[test]
fn rerunning_over_the_same_inputs_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let as_of = generate(&input);
    let out = dir.path().join("out");
    correlate(
        &input,
        &[input.join("cloudtrail")],
        &[input.join("broker")],
        &out,
        &as_of,
    );
    let first = dataset(&out);
    let modified: Vec<_> = parquet_files_under(&out)
        .keys()
        .map(|p| std::fs::metadata(out.join(p)).unwrap().modified().unwrap())
        .collect();
    let summary = {
        let mut args = vec!["correlate", "--policy"];
        let policy = input.join("sessiontrail.toml");
        let cloudtrail = input.join("cloudtrail");
        let broker = input.join("broker");
        args.extend([
            path_str(&policy),
            "--cloudtrail",
            path_str(&cloudtrail),
            "--broker-log",
            path_str(&broker),
        ]);
        args.extend(["--out", path_str(&out), "--as-of", &as_of]);
        run_ok(&args)
    };
    assert_eq!(dataset(&out), first);
    let modified_again: Vec<_> = parquet_files_under(&out)
        .keys()
        .map(|p| std::fs::metadata(out.join(p)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(modified, modified_again, "no file was rewritten");
    assert!(
        summary.contains("(0 partition files rewritten)"),
        "{summary}"
    );
}
