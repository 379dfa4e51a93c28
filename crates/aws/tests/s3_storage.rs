//! The dataset in S3 (moto's server on loopback): conditional writes, and runs racing
//! on one dataset losing no update.

mod support;

use std::sync::Arc;

use sessiontrail_aws::{S3, S3Storage, S3Url, s3_client};
use sessiontrail_correlate::storage::{Storage, check_storage_contract};
use sessiontrail_correlate::{Policy, RunOptions, RunSettings, read_local_inputs, run_on};
use sessiontrail_ingest::time::parse_rfc3339_millis;
use support::fixtures::{self, AS_OF};
use support::moto::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keeps_the_storage_contract() {
    let Some(moto) = Moto::start("s3_keeps_the_storage_contract") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    fixtures::create_bucket(&client, "audit-out").await;
    let storage = S3Storage::new(
        S3::new(client, tokio::runtime::Handle::current()),
        S3Url::parse("s3://audit-out/ds").unwrap(),
    );
    tokio::task::spawn_blocking(move || {
        check_storage_contract(&storage);
        assert_eq!(storage.locate("state/s"), "s3://audit-out/ds/state/s");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_runs_lose_no_update() {
    let Some(moto) = Moto::start("racing_runs_lose_no_update") else {
        return;
    };
    let sdk = fixtures::sdk_config(&moto).await;
    let client = s3_client(&sdk);
    fixtures::create_bucket(&client, "audit-out").await;
    let generated = fixtures::generated();
    let policy = Arc::new(Policy::load(&generated.join("sessiontrail.toml")).unwrap());
    let mut options = RunOptions::new(
        vec![generated.join("cloudtrail")],
        vec![generated.join("broker")],
        std::path::PathBuf::new(),
    );
    let as_of = parse_rfc3339_millis(AS_OF).unwrap();
    options.as_of = Some(as_of);
    let inputs = read_local_inputs(&options).unwrap();

    // Six runs at once, each with a sixth of the records, on one S3 dataset.
    let s3 = S3::new(client.clone(), tokio::runtime::Handle::current());
    let settings = RunSettings {
        as_of: Some(as_of),
        outbox: false,
    };
    let mut runs = Vec::new();
    for piece in (0..6).map(|i| inputs.every_nth(i, 6)) {
        let storage = S3Storage::new(s3.clone(), S3Url::parse("s3://audit-out/raced").unwrap());
        let policy = Arc::clone(&policy);
        let settings = settings.clone();
        runs.push(std::thread::spawn(move || {
            run_on(&policy, &storage, piece, &settings)
                .unwrap()
                .lost_races
        }));
    }
    let lost: u32 =
        tokio::task::spawn_blocking(move || runs.into_iter().map(|r| r.join().unwrap()).sum())
            .await
            .unwrap();

    // The same as one local run over everything.
    let local = tempfile::tempdir().unwrap();
    options.out = local.path().to_path_buf();
    sessiontrail_correlate::run(&policy, &options).unwrap();
    let expected = fixtures::local_tables(local.path());
    let actual = fixtures::s3_tables(&client, "audit-out", "raced/").await;
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (key, bytes) in &expected {
        assert!(
            actual[key] == *bytes,
            "{key} differs from one run over all inputs"
        );
    }
    eprintln!("6 racing runs: {lost} lost races, each started over");
}
