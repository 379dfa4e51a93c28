//! Replays the fuzz regressions (`fuzz/regressions/<target>/`, committed: every crash
//! the fuzzers found) and, when seeded, the corpora (`fuzz/corpus/<target>/`), plus
//! every fixture input, through the same checks the fuzz targets run.

use std::path::PathBuf;

use sessiontrail_ingest::input_files::files_under;
use sessiontrail_ingest::invariants::{
    check_arn_text, check_broker_log_bytes, check_cloudtrail_bytes,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["regressions", "corpus"] {
        for file in files_under(&root().join("fuzz").join(kind).join(target)) {
            let bytes = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(outcome.is_ok(), "{} breaks a promise", file.display());
            count += 1;
        }
    }
    count
}

fn inflate(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(bytes.as_slice()),
            &mut out,
        );
        out
    } else {
        bytes
    }
}

#[test]
fn cloudtrail_reader_corpus_and_fixtures() {
    replay("cloudtrail_reader", check_cloudtrail_bytes);
    let cases = files_under(&root().join("fixtures/cases"));
    for file in cases
        .iter()
        .filter(|f| f.to_string_lossy().contains("/cloudtrail/"))
    {
        check_cloudtrail_bytes(&inflate(std::fs::read(file).unwrap()));
    }
}

#[test]
fn broker_log_reader_corpus_and_fixtures() {
    replay("broker_log_reader", check_broker_log_bytes);
    let cases = files_under(&root().join("fixtures"));
    for file in cases
        .iter()
        .filter(|f| f.to_string_lossy().contains("/broker/"))
    {
        check_broker_log_bytes(&inflate(std::fs::read(file).unwrap()));
    }
}

#[test]
fn arn_corpus() {
    replay("arn", check_arn_text);
    for text in [
        "AWSReservedSSO_A_B_c",
        "AWSReservedSSO__",
        "arn:aws:sts::1:assumed-role/AWSReservedSSO_x_y/z",
    ] {
        check_arn_text(text.as_bytes());
    }
}
