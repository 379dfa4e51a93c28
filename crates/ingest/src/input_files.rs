//! Finding input files and opening them.
//!
//! A path on the command line is a file (read whatever its name) or a folder, walked
//! in sorted order for `.json`, `.jsonl`, `.log` and `.gz` files (any case). Every other
//! file in a walked folder is listed as a [`SkippedFile`] with the reason, so nothing is
//! left out silently; a CloudTrail console "Event history" CSV download is recognised by
//! its header and told apart ([`EVENT_HISTORY_CSV_REASON`]). CloudTrail-Digest and
//! CloudTrail-Insight files are skipped (counted, not named): their keys sit under a
//! `CloudTrail-Digest/` or `CloudTrail-Insight/` folder and their names carry the same
//! marker. Symlinked folders are followed once (a loop is reported, not walked forever).
//! Compression is detected from the content (gzip magic), not the name. S3 listings
//! select keys by the same rule ([`has_input_extension`], [`skipped_key_reason`]).
//!
//! Gzip content is inflated within [`InputLimits`](crate::limits::InputLimits): small
//! files whole, everything else as a stream that fails past the inflation limit
//! ([`InflateLimit`]), so a gzip bomb costs a bounded read and a reject.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::IngestError;
use crate::limits::{InflateLimit, InputLimits};

/// What walking the inputs found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputFiles {
    pub files: Vec<PathBuf>,
    /// Digest and Insight files that were skipped.
    pub skipped: Vec<PathBuf>,
    /// Folders that could not be walked (symlink loops, permissions), with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Other files in walked folders that are not read (their extension), with why.
    pub skipped_files: Vec<SkippedFile>,
}

/// A file in a walked folder that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// The extensions of the files a folder walk (or an S3 prefix listing) reads, in any
/// case: the one definition of what an input file is named.
pub const INPUT_EXTENSIONS: [&str; 4] = ["json", "jsonl", "log", "gz"];

/// Whether a file or key name (its last `/` segment) ends in one of
/// [`INPUT_EXTENSIONS`], in any case.
pub fn has_input_extension(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    name.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.is_empty()
            && INPUT_EXTENSIONS
                .iter()
                .any(|x| x.eq_ignore_ascii_case(extension))
    })
}

/// Why a file or key without an input extension is not read (its extension).
pub fn skipped_key_reason(name: &str) -> String {
    let name = name.rsplit('/').next().unwrap_or(name);
    let what = match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => {
            format!("its extension .{extension} is not one read")
        }
        _ => "it has no extension".to_string(),
    };
    format!(
        "not read: {what} (folders are walked for .json, .jsonl, .log and .gz files; name a file itself to read it whatever its name)"
    )
}

/// Why a CloudTrail console "Event history" CSV download is not read.
pub const EVENT_HISTORY_CSV_REASON: &str = "a CloudTrail console Event history CSV download: it lacks the fields sessiontrail needs (requestParameters, responseElements, userIdentity.sessionContext.sessionIssuer); use the JSON output of `aws cloudtrail lookup-events` instead";

/// Does this content start like a CloudTrail console "Event history" CSV download (a
/// header line naming `Event ID`, `Event time` and `Event name` among its columns)? Any
/// encoding [`crate::text_encoding`] reads.
pub fn is_event_history_csv(head: &[u8]) -> bool {
    let head = &head[..head.len().min(4096)];
    let decoded = crate::text_encoding::decode_text(head);
    if decoded
        .text
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_none_or(|b| matches!(b, b'{' | b'['))
    {
        return false;
    }
    let text = String::from_utf8_lossy(&decoded.text);
    let Some(first) = text.lines().next() else {
        return false;
    };
    let columns: Vec<String> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase())
        .collect();
    let has = |name: &str| columns.iter().any(|c| c == name);
    has("event name") && (has("event id") || has("event time"))
}

/// Why a file of a walked folder is not read: its extension (or an Event history CSV).
fn skip_reason(path: &Path) -> String {
    let extension = path.extension().map(|e| e.to_string_lossy().to_string());
    if extension
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        let mut head = Vec::new();
        let read = File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
        if read.is_ok() && is_event_history_csv(&head) {
            return EVENT_HISTORY_CSV_REASON.to_string();
        }
    }
    skipped_key_reason(&path.file_name().unwrap_or_default().to_string_lossy())
}

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
            walk(path, &mut visited, &mut found, Select::Inputs);
        } else if is_digest_or_insight(path) {
            found.skipped.push(path.clone());
        } else {
            found.files.push(path.clone());
        }
    }
    Ok(found)
}

/// Every file under `dir`, whatever its name, sorted; each folder is walked once
/// (symlink loops end), and what cannot be read is left out. A folder that does not
/// exist has no files.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = InputFiles::default();
    walk(dir, &mut HashSet::new(), &mut found, Select::Everything);
    found.files.sort();
    found.files
}

/// Which files a walk keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Select {
    /// Input files: the known extensions, without Digest and Insight files.
    Inputs,
    Everything,
}

fn walk(dir: &Path, visited: &mut HashSet<PathBuf>, found: &mut InputFiles, select: Select) {
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
    // The entry's type comes with the folder listing; only symlinks need a stat.
    let mut paths: Vec<(PathBuf, Option<bool>)> = entries
        .filter_map(|e| e.ok())
        .map(|e| {
            let is_dir = e
                .file_type()
                .ok()
                .filter(|t| !t.is_symlink())
                .map(|t| t.is_dir());
            (e.path(), is_dir)
        })
        .collect();
    paths.sort();
    for (path, is_dir) in paths {
        let is_dir = match is_dir {
            Some(is_dir) => Ok(is_dir),
            None => std::fs::metadata(&path).map(|m| m.is_dir()),
        };
        match is_dir {
            Ok(true) => walk(&path, visited, found, select),
            Ok(false) if select == Select::Everything => found.files.push(path),
            Ok(false) => {
                let wanted = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(has_input_extension);
                if !wanted {
                    found.skipped_files.push(SkippedFile {
                        reason: skip_reason(&path),
                        path: path.display().to_string(),
                    });
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

/// Gzip files up to this compressed size are inflated whole with libdeflate (about
/// twice as fast as streaming); larger ones are streamed.
pub const WHOLE_FILE_COMPRESSED_LIMIT: u64 = 32 << 20;
/// ... provided their content is at most this large (gzip's ISIZE field), which bounds
/// the memory a reading thread holds.
pub const WHOLE_FILE_INFLATED_LIMIT: usize = 64 << 20;

/// A file's content: whole in memory (files up to [`WHOLE_FILE_COMPRESSED_LIMIT`]), or a
/// stream (larger files, and gzip streams that are damaged or have several members).
pub enum InputContent<'a> {
    Whole(&'a [u8]),
    Stream(Box<dyn Read + Send>),
}

/// Buffers one reading thread reuses from file to file, so memory is allocated (and
/// faulted in) once rather than per file.
#[derive(Debug, Default)]
pub struct ReadBuffers {
    compressed: Vec<u8>,
    content: Vec<u8>,
    /// Made on first use, then kept.
    decompressor: Option<Decompressor>,
}

/// libdeflate's decompressor (its tables are some 10 KB: made once per reading thread,
/// not once per file).
struct Decompressor(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

impl Decompressor {
    fn new() -> Option<Self> {
        // SAFETY: allocates a decompressor, or returns null on allocation failure.
        std::ptr::NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() })
            .map(Decompressor)
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor`, freed once, here.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

// SAFETY: a libdeflate decompressor is plain memory with no tie to the thread that made
// it; it is only used through `&mut` (one thread at a time).
unsafe impl Send for Decompressor {}

impl std::fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decompressor")
    }
}

/// Opens a file for reading its content, gunzipping it when it starts with the gzip
/// magic bytes (multi-member streams included, as CloudWatch Logs exports are).
pub fn open_input(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut buffers = ReadBuffers::default();
    Ok(match open_content(path, &mut buffers)? {
        InputContent::Whole(_) => Box::new(io::Cursor::new(std::mem::take(&mut buffers.content))),
        InputContent::Stream(stream) => stream,
    })
}

/// [`open_input`], keeping small files whole (in `buffers`) so callers can look at all
/// of them at once.
pub fn open_content<'a>(path: &Path, buffers: &'a mut ReadBuffers) -> io::Result<InputContent<'a>> {
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    if length > WHOLE_FILE_COMPRESSED_LIMIT {
        return Ok(InputContent::Stream(content_stream(
            file,
            Some(length),
            &InputLimits::default(),
        )?));
    }
    buffers.compressed.clear();
    buffers.compressed.reserve(length as usize);
    // Through `take`, so the standard library does not stat and seek the file again.
    (&mut file)
        .take(WHOLE_FILE_COMPRESSED_LIMIT + 1)
        .read_to_end(&mut buffers.compressed)?;
    Ok(content_of_buffer(buffers))
}

/// The content of an object already in memory (an S3 object, an event's payload),
/// gunzipped when it starts with the gzip magic bytes. Large or damaged gzip streams
/// are streamed from memory as files are.
pub fn content_from_bytes(bytes: Vec<u8>, buffers: &mut ReadBuffers) -> InputContent<'_> {
    buffers.compressed = bytes;
    content_of_buffer(buffers)
}

/// The content of a stream of `compressed` bytes (an S3 object too large to hold, as it
/// downloads; a large file): gunzipped when it starts with the gzip magic bytes, and
/// then failing past [`InputLimits::inflated_limit`].
pub fn content_stream(
    mut reader: impl Read + Send + 'static,
    compressed: Option<u64>,
    limits: &InputLimits,
) -> io::Result<Box<dyn Read + Send>> {
    // The first two bytes, however the reader hands them out (a network chunk of one).
    let mut head = [0u8; 2];
    let mut len = 0;
    while len < head.len() {
        match reader.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    let magic = len == 2 && head == [0x1f, 0x8b];
    let whole = io::Cursor::new(head[..len].to_vec()).chain(reader);
    Ok(if magic {
        // MultiGzDecoder buffers its input itself.
        Box::new(InflateLimit::new(
            MultiGzDecoder::new(whole),
            limits.inflated_limit(compressed),
            compressed,
        ))
    } else {
        Box::new(BufReader::with_capacity(256 << 10, whole))
    })
}

fn content_of_buffer(buffers: &mut ReadBuffers) -> InputContent<'_> {
    let ReadBuffers {
        compressed,
        content,
        decompressor,
    } = buffers;
    if !(compressed.len() >= 2 && compressed[0] == 0x1f && compressed[1] == 0x8b) {
        std::mem::swap(compressed, content);
        return InputContent::Whole(content);
    }
    if compressed.len() as u64 <= WHOLE_FILE_COMPRESSED_LIMIT
        && inflate_whole(compressed, content, decompressor)
    {
        InputContent::Whole(content)
    } else {
        // Several members, a truncated or corrupt stream, a bomb, or too large: stream
        // it (the bytes move into the stream, not copied), so a damaged file still
        // yields what precedes the damage and a bomb stops at the inflation limit.
        let length = compressed.len() as u64;
        let bytes = std::mem::take(compressed);
        InputContent::Stream(Box::new(InflateLimit::new(
            MultiGzDecoder::new(io::Cursor::new(bytes)),
            InputLimits::default().inflated_limit(Some(length)),
            Some(length),
        )))
    }
}

/// Inflates a single-member gzip stream in one call into `content`, when its stated
/// size is sane; false when the stream must be read the slow way.
fn inflate_whole(
    compressed: &[u8],
    content: &mut Vec<u8>,
    decompressor: &mut Option<Decompressor>,
) -> bool {
    let Some(trailer) = compressed.len().checked_sub(4).map(|at| &compressed[at..]) else {
        return false;
    };
    let stated = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) as usize;
    // JSON rarely compresses beyond 1:40; a larger ratio means a wrapped ISIZE, a bomb
    // or garbage, all of which the streaming path handles within bounded memory.
    if stated == 0
        || stated > WHOLE_FILE_INFLATED_LIMIT
        || stated > compressed.len().saturating_mul(64)
    {
        return false;
    }
    // Not cleared first: only bytes beyond the last file's length are zeroed, and the
    // inflate must write every byte (`written == stated`) to be taken.
    content.resize(stated, 0);
    if decompressor.is_none() {
        *decompressor = Decompressor::new();
    }
    let Some(decompressor) = decompressor else {
        return false;
    };
    // Exactly one member, filling exactly the stated size: anything else is streamed.
    matches!(gzip_decompress_ex(decompressor, compressed, content), Some((consumed, written)) if consumed == compressed.len() && written == stated)
}

/// libdeflate's one-shot gzip inflate of the first member of `input` into `output`:
/// (input bytes consumed, output bytes written), or None on bad data or lack of space.
fn gzip_decompress_ex(
    decompressor: &mut Decompressor,
    input: &[u8],
    output: &mut [u8],
) -> Option<(usize, usize)> {
    use libdeflate_sys::*;
    let mut consumed = 0usize;
    let mut written = 0usize;
    // SAFETY: the decompressor is live and used by this thread only (`&mut`); the
    // pointers and lengths passed come from live slices, and libdeflate writes at most
    // `output.len()` bytes to `output` and only reads `input.len()` bytes.
    let result = unsafe {
        libdeflate_gzip_decompress_ex(
            decompressor.0.as_ptr(),
            input.as_ptr().cast(),
            input.len(),
            output.as_mut_ptr().cast(),
            output.len(),
            &mut consumed,
            &mut written,
        )
    };
    (result == libdeflate_result_LIBDEFLATE_SUCCESS).then_some((consumed, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gzip(parts: &[&[u8]]) -> Vec<u8> {
        use std::io::Write;
        let mut all = Vec::new();
        for part in parts {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part).unwrap();
            all.extend(gz.finish().unwrap());
        }
        all
    }

    /// The content of each file as one thread reads them in turn, its buffers (and
    /// decompressor) reused from file to file.
    fn read_in_turn(files: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let dir = tempfile::tempdir().unwrap();
        let mut buffers = ReadBuffers::default();
        let mut out = Vec::new();
        for (n, bytes) in files.iter().enumerate() {
            let path = dir.path().join(format!("{n}.json.gz"));
            std::fs::write(&path, bytes).unwrap();
            out.push(match open_content(&path, &mut buffers).unwrap() {
                InputContent::Whole(content) => content.to_vec(),
                InputContent::Stream(mut stream) => {
                    // What precedes damage (a bad trailer is an error at the end).
                    let mut content = Vec::new();
                    let _ = stream.read_to_end(&mut content);
                    content
                }
            });
        }
        out
    }

    #[test]
    fn a_file_read_after_a_larger_one_is_exactly_its_own_content() {
        let large = vec![b'x'; 100_000];
        let small = b"{\"Records\":[]}".to_vec();
        // A stream whose trailer states more bytes than it holds: not taken whole.
        let mut lying = gzip(&[&small]);
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&(small.len() as u32 + 50).to_le_bytes());
        let got = read_in_turn(&[gzip(&[&large]), gzip(&[&small]), gzip(&[&large]), lying]);
        assert_eq!(got[0], large);
        assert_eq!(got[1], small);
        assert_eq!(got[2], large);
        assert!(got[3].starts_with(&small) && got[3].len() <= small.len() + 50);
        assert!(
            !got[3].contains(&b'x'),
            "nothing of the earlier file shows through"
        );
    }

    fn read_all(bytes: &[u8]) -> (Vec<u8>, Option<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json.gz");
        std::fs::write(&path, bytes).unwrap();
        let mut content = Vec::new();
        let err = open_input(&path).unwrap().read_to_end(&mut content).err();
        (content, err.map(|e| e.to_string()))
    }

    #[test]
    fn gzip_single_multi_member_truncated_and_plain() {
        let text = b"{\"Records\":[]}\n".repeat(1000);
        assert_eq!(read_all(&gzip(&[&text])), (text.clone(), None));
        let (content, err) = read_all(&gzip(&[b"a\n", b"b\n"]));
        assert_eq!((content.as_slice(), err), (&b"a\nb\n"[..], None));
        let whole = gzip(&[&text]);
        let (content, err) = read_all(&whole[..whole.len() / 2]);
        assert!(err.is_some() && content.len() < text.len() && text.starts_with(&content));
        assert_eq!(read_all(b"plain"), (b"plain".to_vec(), None));
    }

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
