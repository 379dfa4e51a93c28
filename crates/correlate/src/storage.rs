//! Where a dataset lives: a local folder or an object store (S3, in `sessiontrail-aws`),
//! behind one interface of keys (`sessions/dt=2026-02-01/part-0.parquet`,
//! `state/state.jsonl.gz`) relative to the dataset's root.
//!
//! Every write replaces a whole object atomically: a reader sees the old bytes or the
//! new ones. The state is written with a precondition on the version read
//! ([`Storage::put_if`]), so two writers racing on one dataset never lose an update:
//! the one that loses is told so and starts over from the newer state.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An object's bytes and the version a conditional write must name to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// A remote store refused or failed a request (after its own retries).
    #[error("{location}: {message}")]
    Remote { location: String, message: String },
}

pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Where `key` lives, for messages a user reads (a path or an `s3://` URL).
    fn locate(&self, key: &str) -> String;

    /// The object at `key`, or None when there is none.
    fn get(&self, key: &str) -> Result<Option<Stored>, StorageError>;

    /// Replaces (or creates) the object at `key` atomically.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError>;

    /// Writes `bytes` at `key` only if the object there is still at `expected` (None:
    /// only if there is no object). False when another writer got there first.
    fn put_if(&self, key: &str, bytes: &[u8], expected: Option<&str>)
    -> Result<bool, StorageError>;

    /// Removes the object at `key`; removing what is not there is not an error.
    fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Every key under `prefix` (a folder-like prefix ending in `/`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;

    /// The names directly under `prefix` that are folders (`dt=2026-02-01`), sorted.
    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StorageError>;

    /// The local folder of this storage, when it is one (queries read it in place).
    fn local_root(&self) -> Option<&Path> {
        None
    }
}

/// A dataset in a local folder. Writes go to `ROOT/.tmp/` first and are renamed into
/// place; conditional writes hold an exclusive lock on `ROOT/.lock` while they compare
/// and replace, so concurrent runs on one machine serialize their state updates.
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStorage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// The dataset in the folder `root` for a run: the temporary files a killed run
    /// left there are removed first ([`LocalStorage::remove_temporary_files`]). For one
    /// run at a time on a folder: runs racing on one folder each use
    /// [`LocalStorage::new`].
    pub fn for_run(root: impl Into<PathBuf>) -> Self {
        let storage = LocalStorage::new(root);
        storage.remove_temporary_files();
        storage
    }

    /// Removes temporary files of a run that was killed (never visible to readers).
    pub fn remove_temporary_files(&self) {
        let _ = std::fs::remove_dir_all(self.root.join(".tmp"));
    }

    fn io(&self, key: &str, source: std::io::Error) -> StorageError {
        StorageError::Io {
            location: self.locate(key),
            source,
        }
    }
}

/// The version of local bytes: their FNV-1a 64 digest and length.
fn content_version(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}-{}", bytes.len())
}

impl Storage for LocalStorage {
    fn locate(&self, key: &str) -> String {
        self.path(key).display().to_string()
    }

    fn get(&self, key: &str) -> Result<Option<Stored>, StorageError> {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(Stored {
                version: content_version(&bytes),
                bytes,
            })),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(self.io(key, err)),
        }
    }

    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let target = self.path(key);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(key, e))?;
        }
        write_atomically(&self.root, &target, bytes).map_err(|e| self.io(key, e))
    }

    fn put_if(
        &self,
        key: &str,
        bytes: &[u8],
        expected: Option<&str>,
    ) -> Result<bool, StorageError> {
        std::fs::create_dir_all(&self.root).map_err(|e| self.io(".lock", e))?;
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(".lock"))
            .map_err(|e| self.io(".lock", e))?;
        lock.lock().map_err(|e| self.io(".lock", e))?;
        let current = self.get(key)?;
        if current.as_ref().map(|c| c.version.as_str()) != expected {
            return Ok(false);
        }
        self.put(key, bytes)?;
        Ok(true)
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                if let Some(dir) = path.parent() {
                    // Leave no empty partition folder behind; a folder with files stays.
                    let _ = std::fs::remove_dir(dir);
                }
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(self.io(key, err)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut folders = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(folder) = folders.pop() {
            let entries = match std::fs::read_dir(self.path(&folder)) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(self.io(&folder, err)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.io(&folder, e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let key = if folder.is_empty() {
                    name
                } else {
                    format!("{folder}/{name}")
                };
                let kind = entry.file_type().map_err(|e| self.io(&key, e))?;
                if kind.is_dir() {
                    folders.push(key);
                } else {
                    keys.push(key);
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn list_folders(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let entries = match std::fs::read_dir(self.path(prefix.trim_end_matches('/'))) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io(prefix, err)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

/// Writes `bytes` to a temporary file under `ROOT/.tmp/` and renames it to `target`
/// ([`replace_file`]).
pub fn write_atomically(root: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp_dir = root.join(".tmp");
    std::fs::create_dir_all(&tmp_dir)?;
    let tmp = tmp_dir.join(format!(
        "{}.{}.{:?}",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file"),
        std::process::id(),
        std::thread::current().id(),
    ));
    replace_file(&tmp, target, bytes)
}

/// Replaces `target` by `bytes` through the file `temporary` (on the same file system):
/// written, synced and renamed over `target`, so a reader sees the old file or the new
/// one, never half of one. When a step fails the temporary file is removed. The one
/// way files are replaced: a local dataset's ([`write_atomically`]) and the monthly
/// report's (`sessiontrail-report`). What a killed process leaves is removed by
/// [`LocalStorage::remove_temporary_files`] for a dataset.
pub fn replace_file(temporary: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let replaced = (|| {
        let mut file = File::create(temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(temporary, target)
    })();
    if replaced.is_err() {
        let _ = std::fs::remove_file(temporary);
    }
    replaced
}

/// The behaviour every [`Storage`] must have, checked on an empty one: the tests of each
/// implementation (a folder here, S3 in `sessiontrail-aws`) run it. Panics on the first
/// broken promise.
pub fn check_storage_contract(storage: &dyn Storage) {
    // Conditional writes: create only if absent, replace only the version read.
    assert!(storage.get("state/s").unwrap().is_none());
    assert!(storage.put_if("state/s", b"one", None).unwrap());
    assert!(
        !storage.put_if("state/s", b"two", None).unwrap(),
        "a second creator loses"
    );
    let first = storage.get("state/s").unwrap().unwrap();
    assert_eq!(first.bytes, b"one");
    assert!(
        storage
            .put_if("state/s", b"two", Some(&first.version))
            .unwrap()
    );
    assert!(
        !storage
            .put_if("state/s", b"three", Some(&first.version))
            .unwrap(),
        "a writer that read the older version is behind and loses"
    );
    assert_eq!(storage.get("state/s").unwrap().unwrap().bytes, b"two");
    // Listing: keys recursively, folders one level, both sorted.
    for (key, bytes) in [
        ("sessions/dt=2026-02-02/part-0.parquet", b"b"),
        ("sessions/dt=2026-02-01/part-0.parquet", b"a"),
        ("findings/dt=2026-02-01/part-0.parquet", b"c"),
    ] {
        storage.put(key, bytes).unwrap();
    }
    assert_eq!(
        storage.list("sessions/").unwrap(),
        [
            "sessions/dt=2026-02-01/part-0.parquet",
            "sessions/dt=2026-02-02/part-0.parquet"
        ]
    );
    assert_eq!(
        storage.list_folders("sessions/").unwrap(),
        ["dt=2026-02-01", "dt=2026-02-02"]
    );
    // Deleting twice is fine; an emptied folder is gone.
    for _ in 0..2 {
        storage
            .delete("sessions/dt=2026-02-01/part-0.parquet")
            .unwrap();
    }
    assert_eq!(
        storage.list_folders("sessions/").unwrap(),
        ["dt=2026-02-02"]
    );
    assert!(storage.list("nothing/").unwrap().is_empty());
    assert!(storage.locate("state/s").ends_with("state/s"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_keeps_the_storage_contract() {
        let dir = tempfile::tempdir().unwrap();
        check_storage_contract(&LocalStorage::new(dir.path()));
    }
}
