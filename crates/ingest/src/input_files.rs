//! Finding input files and opening them.
//!
//! A path on the command line is a file (read whatever its name) or a folder, walked
//! in sorted order for `.json`, `.jsonl`, `.log` and `.gz` files. CloudTrail-Digest and
//! CloudTrail-Insight files are skipped: their keys sit under a `CloudTrail-Digest/` or
//! `CloudTrail-Insight/` folder and their names carry the same marker. Symlinked folders
//! are followed once (a loop is reported, not walked forever). Compression is detected
//! from the content (gzip magic), not the name.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::IngestError;

/// What walking the inputs found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputFiles {
    pub files: Vec<PathBuf>,
    /// Digest and Insight files that were skipped.
    pub skipped: Vec<PathBuf>,
    /// Folders that could not be walked (symlink loops, permissions), with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

const EXTENSIONS: [&str; 4] = ["json", "jsonl", "log", "gz"];

/// Lists the files under `paths`. A path that does not exist is an error (a typo
/// should not look like an empty month).
pub fn list_input_files(paths: &[PathBuf]) -> Result<InputFiles, IngestError> {
    let mut found = InputFiles::default();
    let mut visited = HashSet::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| IngestError::Input {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &mut visited, &mut found);
        } else if is_digest_or_insight(path) {
            found.skipped.push(path.clone());
        } else {
            found.files.push(path.clone());
        }
    }
    Ok(found)
}

fn walk(dir: &Path, visited: &mut HashSet<PathBuf>, found: &mut InputFiles) {
    let canonical = match dir.canonicalize() {
        Ok(path) => path,
        Err(err) => {
            found.unreadable.push((dir.to_path_buf(), err.to_string()));
            return;
        }
    };
    if !visited.insert(canonical) {
        found.unreadable.push((
            dir.to_path_buf(),
            "folder already walked (symlink loop?)".to_string(),
        ));
        return;
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            found.unreadable.push((dir.to_path_buf(), err.to_string()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk(&path, visited, found),
            Ok(_) => {
                let wanted = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| EXTENSIONS.contains(&e));
                if !wanted {
                    continue;
                }
                if is_digest_or_insight(&path) {
                    found.skipped.push(path);
                } else {
                    found.files.push(path);
                }
            }
            Err(err) => found.unreadable.push((path, err.to_string())),
        }
    }
}

/// CloudTrail-Digest and CloudTrail-Insight objects, by folder or by file name.
pub fn is_digest_or_insight(path: &Path) -> bool {
    path.components().any(|c| {
        let part = c.as_os_str().to_string_lossy();
        part == "CloudTrail-Digest"
            || part == "CloudTrail-Insight"
            || part.contains("_CloudTrail-Digest_")
            || part.contains("_CloudTrail-Insight_")
    })
}

/// Opens a file for reading its content, gunzipping it when it starts with the gzip
/// magic bytes (multi-member streams included, as CloudWatch Logs exports are).
pub fn open_input(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut file = BufReader::with_capacity(256 << 10, File::open(path)?);
    let magic = {
        use std::io::BufRead;
        let head = file.fill_buf()?;
        head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
    };
    if magic {
        Ok(Box::new(MultiGzDecoder::new(file)))
    } else {
        Ok(Box::new(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_insight_keys_are_recognised() {
        assert!(is_digest_or_insight(Path::new(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20260101T000000Z.json.gz"
        )));
        assert!(is_digest_or_insight(Path::new(
            "AWSLogs/o-x/1/CloudTrail-Insight/us-east-1/2026/01/01/f.json.gz"
        )));
        assert!(!is_digest_or_insight(Path::new(
            "AWSLogs/o-x/1/CloudTrail/us-east-1/2026/01/01/1_CloudTrail_us-east-1_20260101T0000Z_abc.json.gz"
        )));
    }

    #[test]
    fn walking_sorts_filters_and_survives_symlink_loops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/CloudTrail-Digest")).unwrap();
        std::fs::write(root.join("b/2.json.gz"), b"").unwrap();
        std::fs::write(root.join("b/CloudTrail-Digest/d.json.gz"), b"").unwrap();
        std::fs::write(root.join("a.jsonl"), b"").unwrap();
        std::fs::write(root.join("notes.txt"), b"").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root, root.join("b/loop")).unwrap();
        let found = list_input_files(&[root.to_path_buf()]).unwrap();
        assert_eq!(
            found.files,
            vec![root.join("a.jsonl"), root.join("b/2.json.gz")]
        );
        assert_eq!(
            found.skipped,
            vec![root.join("b/CloudTrail-Digest/d.json.gz")]
        );
        #[cfg(unix)]
        assert_eq!(found.unreadable.len(), 1);
        assert!(list_input_files(&[root.join("missing")]).is_err());
    }
}
