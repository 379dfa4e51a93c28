//! `correlate` killed with SIGKILL at 50 points of a run, then rerun: the dataset equals
//! a clean run's, and at every kill point every file a reader can see is whole.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::{parquet_files_under, path_str};

fn correlate(out: &Path) -> Command {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/generated");
    let mut command = common::bin();
    command.args([
        "correlate",
        "--policy",
        path_str(&fixtures.join("sessiontrail.toml")),
        "--cloudtrail",
        path_str(&fixtures.join("cloudtrail")),
        "--broker-log",
        path_str(&fixtures.join("broker")),
        "--out",
        path_str(out),
        "--as-of",
        "2026-02-03T01:00:00Z",
        "--quiet",
    ]);
    command
}

/// sessions/, findings/ and the state's content.
fn snapshot(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all: Vec<(String, Vec<u8>)> = parquet_files_under(out)
        .into_iter()
        .map(|(path, bytes)| (path.display().to_string(), bytes))
        .collect();
    if let Ok(bytes) = std::fs::read(out.join("state/state.jsonl.gz")) {
        let mut state = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(bytes.as_slice()),
            &mut state,
        )
        .unwrap();
        all.push(("state".into(), state));
    }
    all
}

/// Every parquet file a reader can see parses completely.
fn assert_readable(out: &Path, point: usize) {
    for path in parquet_files_under(out).into_keys() {
        let file = std::fs::File::open(out.join(&path)).unwrap();
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                file,
            );
        let whole = reader
            .and_then(|r| r.build())
            .map(|batches| batches.into_iter().all(|b| b.is_ok()));
        assert!(
            matches!(whole, Ok(true)),
            "kill point {point}: {} is not a whole parquet file",
            path.display()
        );
    }
}

#[test]
fn killed_runs_leave_whole_files_and_reruns_converge() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let started = Instant::now();
    assert!(correlate(&clean).status().unwrap().success());
    let duration = started.elapsed();
    let want = snapshot(&clean);
    assert!(want.len() > 2);

    let points = 50;
    let mut killed_mid_run = 0;
    for point in 0..points {
        let out = dir.path().join(format!("run-{point}"));
        // Half the points kill a first run, half a rerun over an existing dataset.
        if point % 2 == 1 {
            assert!(correlate(&out).status().unwrap().success());
        }
        let mut child = correlate(&out).spawn().unwrap();
        std::thread::sleep(duration.mul_f64(point as f64 / points as f64 * 1.2));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert_readable(&out, point);
        assert!(!out.join("sessions/.tmp").exists() && !out.join("findings/.tmp").exists());
        assert!(
            correlate(&out).status().unwrap().success(),
            "rerun after kill point {point}"
        );
        assert_eq!(
            snapshot(&out),
            want,
            "kill point {point}: the rerun differs from a clean run"
        );
        std::fs::remove_dir_all(&out).unwrap();
    }
    eprintln!("{killed_mid_run} of {points} kills landed while correlate was running");
    assert!(
        killed_mid_run >= points / 2,
        "only {killed_mid_run} kills landed mid-run"
    );
}
