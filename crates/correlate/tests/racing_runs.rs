//! Runs racing on one local dataset (conditional state writes under a lock file): no
//! update is lost, and the dataset equals one run over all the inputs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sessiontrail_correlate::storage::LocalStorage;
use sessiontrail_correlate::{Policy, RunOptions, RunSettings, read_local_inputs, run_on};
use sessiontrail_ingest::input_files::files_under;

fn generated() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/generated")
}

/// The sessions/ and findings/ Parquet files: relative path and bytes, sorted.
fn tables(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["sessions", "findings"]
        .iter()
        .flat_map(|table| files_under(&dir.join(table)))
        .map(|file| {
            let bytes = std::fs::read(&file).unwrap();
            (file.strip_prefix(dir).unwrap().display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn racing_runs_on_one_folder_lose_no_update() {
    let policy = Arc::new(Policy::load(&generated().join("sessiontrail.toml")).unwrap());
    let mut options = RunOptions::new(
        vec![generated().join("cloudtrail")],
        vec![generated().join("broker")],
        PathBuf::new(),
    );
    options.as_of = sessiontrail_ingest::time::parse_rfc3339_millis("2026-02-03T01:00:00Z");
    let inputs = Arc::new(read_local_inputs(&options).unwrap());
    let one = tempfile::tempdir().unwrap();
    options.out = one.path().to_path_buf();
    sessiontrail_correlate::run(&policy, &options).unwrap();
    let expected = tables(one.path());

    for round in 0..3 {
        let raced = tempfile::tempdir().unwrap();
        let settings = RunSettings {
            as_of: options.as_of,
            outbox: false,
        };
        let lost: u32 = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..6)
                .map(|i| {
                    let (policy, inputs, settings) = (&policy, &inputs, &settings);
                    let storage = LocalStorage::new(raced.path());
                    scope.spawn(move || {
                        run_on(policy, &storage, inputs.every_nth(i, 6), settings)
                            .unwrap()
                            .lost_races
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).sum()
        });
        let actual = tables(raced.path());
        let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&actual), names(&expected), "round {round}");
        for ((name, a), (_, e)) in actual.iter().zip(&expected) {
            assert!(
                a == e,
                "round {round}: {name} differs from one run over all inputs"
            );
        }
        eprintln!("round {round}: {lost} lost races");
    }
}
