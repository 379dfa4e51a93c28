//! A full disk gives a clear error (exit 1, naming the file) and leaves the previous
//! dataset intact; once space is back, the same run succeeds. Needs root to mount a
//! small tmpfs; elsewhere the test says SKIPPED and passes without checking.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{parquet_files_under, path_str, run};
use sessiontrail_ingest::input_files::files_under as all_files;

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
    let mounted = root
        && Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                path_str(dir),
            ])
            .status()
            .is_ok_and(|s| s.success());
    mounted.then(|| Mount(dir.to_path_buf()))
}

fn correlate(case: &Path, out: &Path) -> std::process::Output {
    run(&[
        "correlate",
        "--policy",
        path_str(&case.join("sessiontrail.toml")),
        "--cloudtrail",
        path_str(&case.join("cloudtrail")),
        "--broker-log",
        path_str(&case.join("broker")),
        "--out",
        path_str(out),
        "--as-of",
        "2026-02-03T01:00:00Z",
    ])
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_previous_dataset_survives() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let Some(_mount) = mount_tmpfs(&disk, "4m") else {
        sessiontrail_test_support::skip(
            "a_full_disk_is_a_clear_error_and_the_previous_dataset_survives",
            sessiontrail_test_support::Prerequisite::RootTmpfs,
            "not root, or a tmpfs could not be mounted",
        );
        return;
    };
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/generated");
    let out = disk.join("out");
    // A first, small dataset: the fixture set as it stood on day one.
    let day_one = dir.path().join("day-one");
    for sub in ["cloudtrail", "broker"] {
        std::fs::create_dir_all(day_one.join(sub)).unwrap();
    }
    std::fs::copy(
        fixtures.join("sessiontrail.toml"),
        day_one.join("sessiontrail.toml"),
    )
    .unwrap();
    for file in all_files(&fixtures.join("cloudtrail"))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/2026/02/01/"))
    {
        let name = file.file_name().unwrap();
        std::fs::copy(&file, day_one.join("cloudtrail").join(name)).unwrap();
    }
    assert!(correlate(&day_one, &out).status.success());
    let before: Vec<_> = parquet_files_under(&out).into_iter().collect();
    let state_before = std::fs::read(out.join("state/state.jsonl.gz")).unwrap();
    assert!(!before.is_empty());

    // Fill the disk.
    let filler_path = disk.join("filler");
    let mut filler = std::fs::File::create(&filler_path).unwrap();
    let block = vec![0u8; 4096];
    while filler.write_all(&block).is_ok() {}
    drop(filler);

    let output = correlate(&fixtures, &out);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains(path_str(&out)), "names the file: {stderr}");
    let after: Vec<_> = parquet_files_under(&out).into_iter().collect();
    assert_eq!(after, before, "the previous dataset is untouched");
    assert_eq!(
        std::fs::read(out.join("state/state.jsonl.gz")).unwrap(),
        state_before
    );

    std::fs::remove_file(&filler_path).unwrap();
    let output = correlate(&fixtures, &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
