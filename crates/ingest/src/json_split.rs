//! Splits a stream of JSON into records without parsing them.
//!
//! CloudTrail delivers `{"Records":[...]}` files of up to tens of MB in which about
//! one record in a thousand is an SSM session event. Parsing every record would make
//! the engine slow; instead this module tracks only JSON structure (strings, brackets,
//! the keys of the top-level object) and hands each record's bytes to the caller,
//! which looks for a cheap marker before parsing anything.
//!
//! What counts as a record ([`Piece`]):
//! - each element of the array under a top-level key `Records` (CloudTrail log file)
//!   or `Events` (`aws cloudtrail lookup-events` output),
//! - each element of a top-level array (a bare JSON array of records),
//! - any other top-level value as a whole (one record or one EventBridge envelope per
//!   line, or one pretty-printed record per file).
//!
//! Memory is bounded by the largest single record (capped at [`MAX_RECORD_BYTES`]) plus
//! the read buffer, however large the file: a 1 GB `Records` array is streamed.
//!
//! Errors: when the first top-level value fits on one line the input is treated as
//! JSON lines, and a broken line costs only that line; otherwise (pretty-printed JSON)
//! a structural error ends the file, and everything before it has been delivered.

use std::io::{self, Read};

/// A record larger than this is rejected without being buffered whole.
pub const MAX_RECORD_BYTES: usize = 64 << 20;
/// Nesting deeper than this is rejected (serde_json itself stops at 128).
pub const MAX_DEPTH: usize = 1024;

const READ_CHUNK: usize = 1 << 20;

/// One unit handed to the caller.
#[derive(Debug)]
pub enum Piece<'a> {
    Record {
        bytes: &'a [u8],
        /// Decompressed byte offset of the record's first byte.
        offset: u64,
        /// 1-based line of the record's first byte.
        line: u64,
        /// The top-level key of the enclosing array (`Records`, `Events`), if any.
        container: Container,
    },
    Error {
        offset: u64,
        line: u64,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// A top-level value on its own.
    None,
    /// An element of a top-level array.
    Array,
    /// An element of `{"Records":[...]}`.
    Records,
    /// An element of `{"Events":[...]}`.
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    Lines,
    Document,
}

/// Where the scanner is relative to the structure that matters.
struct Scan {
    /// Open brackets, innermost last.
    stack: Vec<u8>,
    in_string: bool,
    /// Depth at which elements are emitted (1 for a top-level array, 2 for Records).
    element_depth: Option<usize>,
    container: Container,
    /// Start (absolute offset) of the value being collected, if any.
    value_start: Option<u64>,
    /// The value being collected is too large: skip it, then report.
    oversized: bool,
    /// Line of the oversized value's start.
    oversized_line: u64,
    /// In the top-level object: the next string is a key.
    expect_key: bool,
    /// Absolute offset of the start of the last top-level key string (after the quote).
    key_start: u64,
    /// The last top-level key, when it names a container.
    pending_container: Container,
    /// Set once a newline has been seen inside the first top-level value.
    newline_in_first_value: bool,
    first_value_done: bool,
}

impl Scan {
    fn new() -> Self {
        Scan {
            stack: Vec::with_capacity(64),
            in_string: false,
            element_depth: None,
            container: Container::None,
            value_start: None,
            oversized: false,
            oversized_line: 0,
            expect_key: false,
            key_start: 0,
            pending_container: Container::None,
            newline_in_first_value: false,
            first_value_done: false,
        }
    }

    fn reset(&mut self) {
        let first_value_done = self.first_value_done;
        *self = Scan::new();
        self.first_value_done = first_value_done;
    }
}

/// Splits `reader` into [`Piece`]s, calling `on_piece` for each. I/O errors from the
/// reader (a truncated gzip stream, say) become a final [`Piece::Error`].
pub fn split_records<R: Read>(reader: R, on_piece: impl FnMut(Piece<'_>)) {
    Splitter::new(reader, on_piece).run();
}

/// The bytes read and not dropped yet, where they start in the stream, and the
/// newlines counted so far (lazily: only up to where a line number was needed).
struct Window {
    buf: Vec<u8>,
    /// Absolute offset of buf[0].
    base: u64,
    /// Newlines counted in the stream before absolute offset `counted_to`.
    lines_before: u64,
    counted_to: u64,
}

impl Window {
    fn new() -> Self {
        Window {
            buf: Vec::with_capacity(READ_CHUNK * 2),
            base: 0,
            lines_before: 0,
            counted_to: 0,
        }
    }

    /// Absolute offset just past the last byte read.
    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Line number (1-based) of absolute offset `at`, counting newlines lazily.
    fn line_of(&mut self, at: u64) -> u64 {
        if at > self.counted_to {
            let from = (self.counted_to - self.base) as usize;
            let to = (at - self.base) as usize;
            self.lines_before += memchr::memchr_iter(b'\n', &self.buf[from..to]).count() as u64;
            self.counted_to = at;
        }
        self.lines_before + 1
    }

    /// Drops the bytes before absolute offset `keep`, after counting their newlines;
    /// returns how many were dropped.
    fn drop_before(&mut self, keep: u64) -> usize {
        if keep > self.counted_to {
            self.line_of(keep);
        }
        let dropped = (keep - self.base) as usize;
        self.buf.drain(..dropped);
        self.base = keep;
        dropped
    }

    /// The bytes between two absolute offsets, both in the window.
    fn bytes(&self, start: u64, end: u64) -> &[u8] {
        &self.buf[(start - self.base) as usize..(end - self.base) as usize]
    }
}

/// One split in progress: the reader, the caller's callback, the window over the
/// stream, the position in it and what the scan has seen.
struct Splitter<R, F> {
    reader: R,
    on_piece: F,
    window: Window,
    /// Position in `window.buf` of the next byte to look at.
    pos: usize,
    scan: Scan,
    mode: Mode,
    eof: bool,
    /// An I/O error (a truncated gzip stream, say): its offset and message.
    read_error: Option<(u64, String)>,
    /// In lines mode after an error: skip to the next newline.
    skipping_line: bool,
}

impl<R: Read, F: FnMut(Piece<'_>)> Splitter<R, F> {
    fn new(reader: R, on_piece: F) -> Self {
        Splitter {
            reader,
            on_piece,
            window: Window::new(),
            pos: 0,
            scan: Scan::new(),
            mode: Mode::Unknown,
            eof: false,
            read_error: None,
            skipping_line: false,
        }
    }

    fn run(mut self) {
        // Reports a structural error at `offset`; ends the scan when the input is not
        // JSON lines (see `Splitter::fail`).
        macro_rules! fail {
            ($offset:expr, $message:expr) => {
                if self.fail($offset, $message) {
                    return;
                }
            };
        }

        loop {
            if self.pos >= self.window.buf.len() {
                if self.eof {
                    break;
                }
                self.read_more();
                continue;
            }

            if self.skipping_line {
                match memchr::memchr(b'\n', &self.window.buf[self.pos..]) {
                    Some(i) => {
                        self.pos += i + 1;
                        self.skipping_line = false;
                    }
                    None => self.pos = self.window.buf.len(),
                }
                continue;
            }

            if self.scan.in_string {
                let buf = &self.window.buf;
                match memchr::memchr3(b'"', b'\\', b'\n', &buf[self.pos..]) {
                    None => self.pos = buf.len(),
                    Some(i) => {
                        let at = self.pos + i;
                        match buf[at] {
                            b'\\' => {
                                if at + 1 >= buf.len() {
                                    if self.eof {
                                        self.pos = buf.len();
                                    } else {
                                        // Need the escaped byte: read more first.
                                        self.pos = at;
                                        if !refill_pending(
                                            &mut self.reader,
                                            &mut self.window.buf,
                                            &mut self.eof,
                                        ) {
                                            self.pos = self.window.buf.len();
                                        }
                                    }
                                } else {
                                    self.pos = at + 2;
                                }
                            }
                            b'\n' => {
                                self.pos = at;
                                let offset = self.window.base + at as u64;
                                let message = "line break inside a JSON string".to_string();
                                fail!(offset, message);
                            }
                            _ => {
                                self.scan.in_string = false;
                                self.pos = at + 1;
                                if self.scan.expect_key && self.scan.stack.len() == 1 {
                                    let key = self
                                        .window
                                        .bytes(self.scan.key_start, self.window.base + at as u64);
                                    self.scan.pending_container = match key {
                                        b"Records" => Container::Records,
                                        b"Events" => Container::Events,
                                        _ => Container::None,
                                    };
                                    self.scan.expect_key = false;
                                }
                            }
                        }
                    }
                }
                continue;
            }

            // Inside a record of an array: only strings and brackets matter until it
            // closes.
            if let Some(element_depth) = self.scan.element_depth
                && self.scan.stack.len() > element_depth
            {
                let next =
                    skip_inside_element(&self.window.buf, self.pos, &mut self.scan, element_depth);
                if next != self.pos {
                    self.pos = next;
                    continue;
                }
            }

            let byte = self.window.buf[self.pos];
            let offset = self.window.base + self.pos as u64;
            self.pos += 1;
            let scan = &mut self.scan;
            let depth = scan.stack.len();
            match byte {
                b' ' | b'\t' | b'\r' => {}
                b'\n' => {
                    if depth > 0 {
                        if !scan.first_value_done {
                            scan.newline_in_first_value = true;
                        }
                        if self.mode == Mode::Lines {
                            let message =
                                "JSON value not complete at the end of its line".to_string();
                            fail!(offset, message);
                            // The newline itself ends the skipped line.
                            self.skipping_line = false;
                        }
                    }
                }
                b'"' => {
                    if depth == 0 {
                        let message = "expected a JSON object or array".to_string();
                        fail!(offset, message);
                        continue;
                    }
                    scan.in_string = true;
                    if depth == 1 && scan.stack[0] == b'{' && scan.expect_key {
                        scan.key_start = offset + 1;
                    }
                    start_element(scan, offset);
                }
                b'{' | b'[' => {
                    if depth >= MAX_DEPTH {
                        let message = format!("JSON nested deeper than {MAX_DEPTH} levels");
                        fail!(offset, message);
                        continue;
                    }
                    if depth == 0 {
                        scan.value_start = Some(offset);
                        scan.container = Container::None;
                        scan.element_depth = None;
                        if byte == b'[' {
                            scan.element_depth = Some(1);
                            scan.container = Container::Array;
                            scan.value_start = None;
                        } else {
                            scan.expect_key = true;
                        }
                    } else if depth == 1
                        && byte == b'['
                        && scan.stack[0] == b'{'
                        && scan.element_depth.is_none()
                        && scan.pending_container != Container::None
                    {
                        // `{"Records": [` : records are the elements of this array.
                        scan.element_depth = Some(2);
                        scan.container = scan.pending_container;
                        scan.value_start = None;
                    } else {
                        start_element(scan, offset);
                    }
                    scan.stack.push(byte);
                }
                b'}' | b']' => {
                    let open = if byte == b'}' { b'{' } else { b'[' };
                    if scan.stack.last() != Some(&open) {
                        let message = format!("unbalanced '{}'", byte as char);
                        fail!(offset, message);
                        continue;
                    }
                    if Some(depth) == scan.element_depth {
                        // `]` closes the container array: emit its last element.
                        self.emit_element(offset);
                    }
                    let scan = &mut self.scan;
                    scan.stack.pop();
                    if scan.stack.is_empty() {
                        if scan.element_depth.is_none() {
                            self.emit_element(offset + 1);
                        }
                        let scan = &mut self.scan;
                        scan.element_depth = None;
                        scan.container = Container::None;
                        scan.value_start = None;
                        scan.expect_key = false;
                        if !scan.first_value_done {
                            scan.first_value_done = true;
                            self.mode = if scan.newline_in_first_value {
                                Mode::Document
                            } else {
                                Mode::Lines
                            };
                        }
                    }
                }
                b',' => {
                    if Some(depth) == scan.element_depth {
                        self.emit_element(offset);
                    } else if depth == 1 && scan.stack[0] == b'{' {
                        scan.expect_key = true;
                        scan.pending_container = Container::None;
                    }
                }
                _ => {
                    if depth == 0 {
                        let message = "expected a JSON object or array".to_string();
                        fail!(offset, message);
                        continue;
                    }
                    if byte != b':' {
                        start_element(scan, offset);
                    }
                }
            }
        }
        self.finish();
    }

    /// The window is used up: drops what the current value (or top-level key) does not
    /// need, then reads the next chunk (or notes the end of input or a read error).
    fn read_more(&mut self) {
        let scan = &mut self.scan;
        // A value past the size limit is not kept: it is skipped, then reported.
        if let Some(start) = scan.value_start
            && !scan.oversized
            && (self.window.end() - start) as usize > MAX_RECORD_BYTES
        {
            scan.oversized = true;
            scan.oversized_line = self.window.line_of(start);
        }
        let mut keep = self.window.end();
        if let Some(start) = scan.value_start
            && !scan.oversized
        {
            keep = keep.min(start);
        }
        if scan.in_string && scan.expect_key {
            keep = keep.min(scan.key_start);
        }
        self.pos -= self.window.drop_before(keep);
        match read_chunk(&mut self.reader, &mut self.window.buf) {
            Ok(0) => self.eof = true,
            Ok(_) => {}
            Err(err) => {
                // Deliver what was read before the error, then report it.
                self.read_error = Some((self.window.end(), err.to_string()));
                self.eof = true;
            }
        }
    }

    /// The end of input: a read error, or a value left open, is a last error.
    fn finish(mut self) {
        let base = self.window.base;
        if let Some((at, err)) = self.read_error.take() {
            let start = match self.scan.value_start {
                Some(start) if !self.scan.stack.is_empty() && start >= base => start,
                _ => at,
            };
            let line = self.window.line_of(start);
            (self.on_piece)(Piece::Error {
                offset: start,
                line,
                message: format!("input could not be read past byte {at}: {err}"),
            });
            return;
        }
        if !self.scan.stack.is_empty() || self.scan.in_string {
            let at = self.window.end();
            let start = self.scan.value_start.unwrap_or(at);
            let line = self.window.line_of(start.max(base));
            (self.on_piece)(Piece::Error {
                offset: start,
                line,
                message: "file ends inside a JSON value (truncated?)".to_string(),
            });
        }
    }

    /// Hands the value being collected, which ends at absolute offset `end`, to the
    /// caller (an error when it was too large to keep).
    fn emit_element(&mut self, end: u64) {
        let Some(start) = self.scan.value_start.take() else {
            return;
        };
        if self.scan.oversized {
            self.scan.oversized = false;
            let line = self.scan.oversized_line;
            (self.on_piece)(Piece::Error {
                offset: start,
                line,
                message: format!(
                    "record of {} bytes is larger than the {} MiB limit",
                    end - start,
                    MAX_RECORD_BYTES >> 20
                ),
            });
            return;
        }
        let line = self.window.line_of(start);
        let bytes = trim_ascii_end(self.window.bytes(start, end));
        (self.on_piece)(Piece::Record {
            bytes,
            offset: start,
            line,
            container: self.scan.container,
        });
    }

    /// Reports a structural error at absolute offset `offset`. In lines mode the rest
    /// of the line is skipped and the scan goes on; otherwise the scan ends (returns
    /// true).
    fn fail(&mut self, offset: u64, message: String) -> bool {
        let start = match self.scan.value_start {
            Some(start) if start >= self.window.base => start,
            _ => offset,
        };
        let line = self.window.line_of(start);
        let error_line = self.window.line_of(offset);
        let where_ = if error_line != line {
            format!(" (at line {error_line})")
        } else {
            String::new()
        };
        let lines_mode = self.mode == Mode::Lines
            || (self.mode == Mode::Unknown && !self.scan.newline_in_first_value);
        let tail = if lines_mode {
            ""
        } else {
            "; the rest of the file was not read"
        };
        (self.on_piece)(Piece::Error {
            offset: start,
            line,
            message: format!("{message}{where_}{tail}"),
        });
        if lines_mode {
            self.mode = Mode::Lines;
            self.scan.reset();
            self.scan.first_value_done = true;
            self.skipping_line = true;
            false
        } else {
            true
        }
    }
}

/// The fast path through the inside of an array element: a tight loop over brackets
/// and strings, leaving every other concern (newlines, errors, the element's end, the
/// end of the buffer inside an escape) to the general loop. Returns the position to
/// continue from; the same position when the general loop must look at this byte.
#[inline]
fn skip_inside_element(buf: &[u8], mut pos: usize, scan: &mut Scan, element_depth: usize) -> usize {
    while pos < buf.len() {
        match buf[pos] {
            b'"' => {
                let mut at = pos + 1;
                loop {
                    match memchr::memchr3(b'"', b'\\', b'\n', &buf[at..]) {
                        Some(i) if buf[at + i] == b'"' => {
                            pos = at + i + 1;
                            break;
                        }
                        Some(i) if buf[at + i] == b'\\' && at + i + 2 <= buf.len() => at += i + 2,
                        _ => {
                            // A newline, or the buffer ends inside the string: let the
                            // general loop continue the string from here.
                            scan.in_string = true;
                            return pos + 1;
                        }
                    }
                }
            }
            open @ (b'{' | b'[') => {
                if scan.stack.len() >= MAX_DEPTH {
                    return pos;
                }
                scan.stack.push(open);
                pos += 1;
            }
            close @ (b'}' | b']') => {
                let open = if close == b'}' { b'{' } else { b'[' };
                if scan.stack.last() != Some(&open) || scan.stack.len() == element_depth + 1 {
                    // A mismatch, or the element's own end: the general loop's business.
                    return pos;
                }
                scan.stack.pop();
                pos += 1;
            }
            b'\n' => return pos,
            _ => pos += 1,
        }
    }
    pos
}

/// A value starts at `offset` inside an element array, unless one is already open.
fn start_element(scan: &mut Scan, offset: u64) {
    if let Some(depth) = scan.element_depth
        && scan.stack.len() == depth
        && scan.value_start.is_none()
    {
        scan.value_start = Some(offset);
        scan.oversized = false;
    }
}

fn trim_ascii_end(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    &bytes[..end]
}

/// Appends up to [`READ_CHUNK`] bytes to `buf` without zeroing them first; 0 at the
/// end of input. Bytes read before an error stay in `buf`.
fn read_chunk(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.reserve(READ_CHUNK);
    reader.take(READ_CHUNK as u64).read_to_end(buf)
}

/// Appends at least one more byte to `buf` (false at end of input or on error; the
/// error resurfaces on the next regular read).
fn refill_pending(reader: &mut impl Read, buf: &mut Vec<u8>, eof: &mut bool) -> bool {
    match read_chunk(reader, buf) {
        Ok(0) => {
            *eof = true;
            false
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum Got {
        Rec(String, u64, Container),
        Err(u64, String),
    }

    fn split(input: &str) -> Vec<Got> {
        let mut got = Vec::new();
        split_records(input.as_bytes(), |piece| match piece {
            Piece::Record {
                bytes,
                line,
                container,
                ..
            } => got.push(Got::Rec(
                String::from_utf8(bytes.to_vec()).unwrap(),
                line,
                container,
            )),
            Piece::Error { line, message, .. } => got.push(Got::Err(line, message)),
        });
        got
    }

    fn rec(text: &str, line: u64, container: Container) -> Got {
        Got::Rec(text.to_string(), line, container)
    }

    #[test]
    fn cloudtrail_file_elements() {
        let got = split(r#"{"Records":[{"a":"x,]}"},{"b":[1,{"c":2}]} , {"d":"\"}"}]}"#);
        assert_eq!(
            got,
            vec![
                rec(r#"{"a":"x,]}"}"#, 1, Container::Records),
                rec(r#"{"b":[1,{"c":2}]}"#, 1, Container::Records),
                rec(r#"{"d":"\"}"}"#, 1, Container::Records),
            ]
        );
    }

    #[test]
    fn records_key_need_not_come_first_and_nested_records_keys_do_not_count() {
        let got = split(r#"{"x":{"Records":[1]},"Records":[{"a":1}]}"#);
        assert_eq!(got, vec![rec(r#"{"a":1}"#, 1, Container::Records)]);
        let got = split("{\"NextToken\":\"t\",\"Events\":[\n{\"e\":1},\n{\"e\":2}\n]}\n");
        assert_eq!(
            got,
            vec![
                rec(r#"{"e":1}"#, 2, Container::Events),
                rec(r#"{"e":2}"#, 3, Container::Events)
            ]
        );
    }

    #[test]
    fn json_lines_and_a_bare_array() {
        let got = split("{\"a\":1}\n\n{\"b\":2}\r\n[{\"c\":3},{\"d\":4}]\n");
        assert_eq!(
            got,
            vec![
                rec(r#"{"a":1}"#, 1, Container::None),
                rec(r#"{"b":2}"#, 3, Container::None),
                rec(r#"{"c":3}"#, 4, Container::Array),
                rec(r#"{"d":4}"#, 4, Container::Array),
            ]
        );
    }

    #[test]
    fn a_broken_line_costs_only_that_line() {
        let got = split("{\"a\":1}\n{\"b\":\nnot json\n}{\"c\":3}\n{\"d\":4}\n");
        assert_eq!(got[0], rec(r#"{"a":1}"#, 1, Container::None));
        assert!(
            matches!(&got[1], Got::Err(2, m) if m.contains("not complete")),
            "{got:?}"
        );
        assert!(
            matches!(&got[2], Got::Err(3, m) if m.contains("object or array")),
            "{got:?}"
        );
        assert!(
            matches!(&got[3], Got::Err(4, m) if m.contains("unbalanced")),
            "{got:?}"
        );
        assert_eq!(got[4], rec(r#"{"d":4}"#, 5, Container::None));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn pretty_printed_document_and_its_truncation() {
        let doc = "{\n  \"eventName\": \"StartSession\",\n  \"x\": [1, 2]\n}\n";
        assert_eq!(split(doc), vec![rec(doc.trim_end(), 1, Container::None)]);
        let got = split("{\"Records\": [\n {\"a\": 1},\n {\"b\": ");
        assert_eq!(got[0], rec(r#"{"a": 1}"#, 2, Container::Records));
        assert!(
            matches!(&got[1], Got::Err(3, m) if m.contains("truncated")),
            "{got:?}"
        );
    }

    #[test]
    fn nesting_and_size_limits() {
        let deep = "[".repeat(MAX_DEPTH + 5);
        let got = split(&deep);
        assert!(
            matches!(&got[0], Got::Err(1, m) if m.contains("nested deeper")),
            "{got:?}"
        );
    }

    #[test]
    fn reads_across_chunk_boundaries() {
        let record = format!(r#"{{"pad":"{}","q":"a\"b"}}"#, "x".repeat(READ_CHUNK / 3));
        let file = format!("{{\"Records\":[{}]}}", [record.as_str(); 7].join(","));
        let got = split(&file);
        assert_eq!(got.len(), 7);
        assert!(
            got.iter()
                .all(|g| *g == rec(&record, 1, Container::Records))
        );
    }

    #[test]
    fn a_read_error_keeps_what_came_before_it() {
        use std::io::Read;
        let good = br#"{"Records":[{"a":1},{"b":2},{"c":"#;
        let failing = good.chain(FailingReader);
        let mut got = Vec::new();
        split_records(failing, |piece| match piece {
            Piece::Record { bytes, .. } => got.push(String::from_utf8(bytes.to_vec()).unwrap()),
            Piece::Error {
                offset, message, ..
            } => got.push(format!("error at {offset}: {message}")),
        });
        assert_eq!(
            got[..2],
            [r#"{"a":1}"#.to_string(), r#"{"b":2}"#.to_string()]
        );
        assert!(
            got[2].starts_with("error at 28: input could not be read past byte 33"),
            "{got:?}"
        );
        assert_eq!(got.len(), 3);
    }

    struct FailingReader;

    impl std::io::Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "corrupt deflate stream",
            ))
        }
    }

    #[test]
    fn a_long_string_spanning_chunks_then_another_line() {
        let long = format!(
            "{{\"pad\":\"{}\"}}\n{{\"b\":1}}\n",
            "x".repeat(READ_CHUNK * 3 + 7)
        );
        let got = split(&long);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], rec(r#"{"b":1}"#, 2, Container::None));
    }
}
