//! The text encodings input files really come in, and their transcoding to UTF-8.
//!
//! Most files are UTF-8 and are read as they are, without a copy. Two other forms are
//! common: UTF-8 with a byte-order mark (editors, `Out-File -Encoding utf8` in Windows
//! PowerShell), and UTF-16LE with a byte-order mark and CRLF line ends, which is what
//! `aws cloudtrail lookup-events ... > file.json` writes in Windows PowerShell 5.1.
//!
//! Detection looks at the first four bytes of the (decompressed) content: a byte-order
//! mark (`EF BB BF`, `FF FE`, `FE FF`) decides; without one, the pattern of NUL bytes
//! does, as RFC 4627 section 3 describes (the first two characters of JSON, and of every
//! log line these readers take, are ASCII, so UTF-16 text starts `xx 00` or `00 xx`).
//! UTF-32 is recognised only to be refused with a clear message.
//!
//! Locations after transcoding: line numbers are the file's own (line ends survive
//! transcoding). Byte offsets are the file's own for UTF-8, with or without a mark (the
//! three bytes of the mark are counted); for UTF-16 they count bytes of the file's UTF-8
//! transcoding without its mark, and every reject from such a file says so
//! ([`TextEncoding::offset_note`]).
//!
//! Bad UTF-16 (an unpaired surrogate) is not replaced: it becomes bytes that are not
//! UTF-8, so the one record holding it is rejected as invalid text; a file with an odd
//! number of bytes ends with a read error, reported where it happens.

use std::borrow::Cow;
use std::io::{self, Read};

/// The UTF-8 byte-order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without a byte-order mark (or anything that is not recognisably another
    /// encoding): read as it is.
    Utf8,
    /// UTF-8 starting with `EF BB BF`: the mark is skipped.
    Utf8Bom,
    /// UTF-16, little- or big-endian, with or without a byte-order mark.
    Utf16 { big_endian: bool, bom: bool },
    /// UTF-32 (by its mark or NUL pattern): refused.
    Utf32 { big_endian: bool },
}

impl TextEncoding {
    /// Detects the encoding from the first (up to) four bytes of the content.
    pub fn detect(head: &[u8]) -> TextEncoding {
        let byte = |i: usize| head.get(i).copied();
        match (byte(0), byte(1), byte(2), byte(3)) {
            (Some(0xEF), Some(0xBB), Some(0xBF), _) => TextEncoding::Utf8Bom,
            (Some(0xFF), Some(0xFE), Some(0), Some(0)) => TextEncoding::Utf32 { big_endian: false },
            (Some(0), Some(0), Some(0xFE), Some(0xFF)) => TextEncoding::Utf32 { big_endian: true },
            (Some(0xFF), Some(0xFE), _, _) => TextEncoding::Utf16 {
                big_endian: false,
                bom: true,
            },
            (Some(0xFE), Some(0xFF), _, _) => TextEncoding::Utf16 {
                big_endian: true,
                bom: true,
            },
            (Some(a), Some(0), Some(0), Some(0)) if a != 0 => {
                TextEncoding::Utf32 { big_endian: false }
            }
            (Some(0), Some(0), Some(0), Some(d)) if d != 0 => {
                TextEncoding::Utf32 { big_endian: true }
            }
            (Some(a), Some(0), _, _) if a != 0 => TextEncoding::Utf16 {
                big_endian: false,
                bom: false,
            },
            (Some(0), Some(b), _, _) if b != 0 => TextEncoding::Utf16 {
                big_endian: true,
                bom: false,
            },
            _ => TextEncoding::Utf8,
        }
    }

    /// Length of the byte-order mark at the start of the content.
    pub fn bom_len(self) -> usize {
        match self {
            TextEncoding::Utf8 => 0,
            TextEncoding::Utf8Bom => 3,
            TextEncoding::Utf16 { bom, .. } => {
                if bom {
                    2
                } else {
                    0
                }
            }
            TextEncoding::Utf32 { .. } => 0,
        }
    }

    /// What to add to an offset in the text handed to the parsers to get the offset in
    /// the file: the mark's length where the text is the file's own bytes.
    pub fn offset_bias(self) -> u64 {
        match self {
            TextEncoding::Utf8Bom => 3,
            _ => 0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 with a byte-order mark",
            TextEncoding::Utf16 {
                big_endian: false, ..
            } => "UTF-16LE",
            TextEncoding::Utf16 {
                big_endian: true, ..
            } => "UTF-16BE",
            TextEncoding::Utf32 { big_endian: false } => "UTF-32LE",
            TextEncoding::Utf32 { big_endian: true } => "UTF-32BE",
        }
    }

    /// Is the text handed to the parsers a transcoding (so byte offsets are not the
    /// file's)?
    pub fn is_transcoded(self) -> bool {
        matches!(self, TextEncoding::Utf16 { .. })
    }

    /// Appended to the reason of every reject from a transcoded file, saying what its
    /// byte offset counts.
    pub fn offset_note(self) -> Option<&'static str> {
        match self {
            TextEncoding::Utf16 {
                big_endian: false, ..
            } => Some(
                " (the file is UTF-16LE: its byte offset counts bytes of the file's UTF-8 transcoding)",
            ),
            TextEncoding::Utf16 {
                big_endian: true, ..
            } => Some(
                " (the file is UTF-16BE: its byte offset counts bytes of the file's UTF-8 transcoding)",
            ),
            _ => None,
        }
    }
}

/// The message of the read error a UTF-32 file gives.
fn utf32_message(encoding: TextEncoding) -> String {
    format!(
        "the file is {} text, which is not read: save it as UTF-8 (or UTF-16)",
        encoding.name()
    )
}

/// Content as UTF-8 text: the bytes themselves (a mark skipped) or their transcoding.
#[derive(Debug)]
pub struct DecodedText<'a> {
    pub text: Cow<'a, [u8]>,
    pub encoding: TextEncoding,
    /// A problem at the end of the text (an odd trailing byte, an unsupported
    /// encoding): what precedes it is in `text`.
    pub error: Option<String>,
}

/// Decodes content already in memory. Plain UTF-8 is borrowed, not copied.
pub fn decode_text(bytes: &[u8]) -> DecodedText<'_> {
    let encoding = TextEncoding::detect(&bytes[..bytes.len().min(4)]);
    match encoding {
        TextEncoding::Utf8 => DecodedText {
            text: Cow::Borrowed(bytes),
            encoding,
            error: None,
        },
        TextEncoding::Utf8Bom => DecodedText {
            text: Cow::Borrowed(&bytes[3..]),
            encoding,
            error: None,
        },
        TextEncoding::Utf16 { .. } | TextEncoding::Utf32 { .. } => {
            let mut text = Vec::with_capacity(bytes.len() / 2 + 16);
            let error = TextReader::new(bytes)
                .read_to_end(&mut text)
                .err()
                .map(|e| e.to_string());
            DecodedText {
                text: Cow::Owned(text),
                encoding,
                error,
            }
        }
    }
}

/// A reader of UTF-8 text over content in any [`TextEncoding`]: plain UTF-8 passes
/// through untouched (reads go straight to the inner reader), a UTF-8 mark is skipped,
/// UTF-16 is transcoded as it streams, UTF-32 gives a read error.
pub struct TextReader<R> {
    inner: R,
    encoding: TextEncoding,
    /// The first bytes, read for detection, not yet handed on (mark excluded).
    head: [u8; 4],
    head_start: usize,
    head_end: usize,
    /// A read error of the inner reader, handed on after what was read before it.
    error: Option<io::Error>,
    /// UTF-16: raw bytes not yet decoded (at most one), transcoded bytes not yet handed
    /// on, and a high surrogate waiting for its pair.
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    high_surrogate: Option<u16>,
    eof: bool,
}

const UTF16_CHUNK: usize = 64 << 10;

impl<R: Read> TextReader<R> {
    /// Reads the first bytes of `inner` to detect its encoding.
    pub fn new(mut inner: R) -> Self {
        let mut head = [0u8; 4];
        let mut len = 0;
        let mut error = None;
        while len < head.len() {
            match inner.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let encoding = TextEncoding::detect(&head[..len]);
        TextReader {
            inner,
            encoding,
            head,
            head_start: encoding.bom_len().min(len),
            head_end: len,
            error,
            raw: Vec::new(),
            out: Vec::new(),
            out_pos: 0,
            high_surrogate: None,
            eof: false,
        }
    }

    pub fn encoding(&self) -> TextEncoding {
        self.encoding
    }

    fn take_head(&mut self, buf: &mut [u8]) -> usize {
        let n = (self.head_end - self.head_start).min(buf.len());
        buf[..n].copy_from_slice(&self.head[self.head_start..self.head_start + n]);
        self.head_start += n;
        n
    }

    /// Transcodes the next piece of UTF-16 into `out`; Ok(false) at the end.
    fn fill_utf16(&mut self, big_endian: bool) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        loop {
            if !self.out.is_empty() {
                return Ok(true);
            }
            if self.eof {
                if let Some(err) = self.error.take() {
                    return Err(err);
                }
                if let Some(high) = self.high_surrogate.take() {
                    push_lone_surrogate(&mut self.out, high);
                    continue;
                }
                if !self.raw.is_empty() {
                    self.raw.clear();
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} text ends in the middle of a character (an odd number of bytes)",
                            self.encoding.name()
                        ),
                    ));
                }
                return Ok(false);
            }
            self.raw
                .extend_from_slice(&self.head[self.head_start..self.head_end]);
            self.head_start = self.head_end;
            if self.error.is_none() {
                let start = self.raw.len();
                self.raw.resize(start + UTF16_CHUNK, 0);
                let read = loop {
                    match self.inner.read(&mut self.raw[start..]) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other,
                    }
                };
                match read {
                    Ok(n) => {
                        self.raw.truncate(start + n);
                        self.eof = n == 0;
                    }
                    Err(err) => {
                        self.raw.truncate(start);
                        self.error = Some(err);
                    }
                }
            }
            self.decode_units(big_endian);
            if self.error.is_some() {
                // The read error is what is reported, not a byte cut off by it.
                self.eof = true;
                self.raw.clear();
            }
        }
    }

    /// Decodes the complete code units in `raw` into `out`, keeping an odd last byte.
    fn decode_units(&mut self, big_endian: bool) {
        let complete = self.raw.len() & !1;
        self.out.reserve(complete);
        for pair in self.raw[..complete].chunks_exact(2) {
            let unit = if big_endian {
                u16::from_be_bytes([pair[0], pair[1]])
            } else {
                u16::from_le_bytes([pair[0], pair[1]])
            };
            if let Some(high) = self.high_surrogate.take() {
                if (0xDC00..0xE000).contains(&unit) {
                    let code = 0x10000 + (((high as u32) - 0xD800) << 10) + (unit as u32 - 0xDC00);
                    push_char(&mut self.out, code);
                    continue;
                }
                push_lone_surrogate(&mut self.out, high);
            }
            match unit {
                0..0x80 => self.out.push(unit as u8),
                0xD800..0xDC00 => self.high_surrogate = Some(unit),
                0xDC00..0xE000 => push_lone_surrogate(&mut self.out, unit),
                _ => push_char(&mut self.out, unit as u32),
            }
        }
        self.raw.drain(..complete);
    }
}

fn push_char(out: &mut Vec<u8>, code: u32) {
    match char::from_u32(code) {
        Some(c) => {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        None => push_lone_surrogate(out, code as u16),
    }
}

/// An unpaired surrogate, written as its generalised UTF-8 form (`ED A0..BF xx`), which
/// is not UTF-8: the record holding it is rejected rather than silently altered.
fn push_lone_surrogate(out: &mut Vec<u8>, unit: u16) {
    out.extend_from_slice(&[
        0xE0 | (unit >> 12) as u8,
        0x80 | ((unit >> 6) & 0x3F) as u8,
        0x80 | (unit & 0x3F) as u8,
    ]);
}

impl<R: Read> Read for TextReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match self.encoding {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => {
                if self.head_start < self.head_end {
                    return Ok(self.take_head(buf));
                }
                if let Some(err) = self.error.take() {
                    return Err(err);
                }
                self.inner.read(buf)
            }
            TextEncoding::Utf32 { .. } => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                utf32_message(self.encoding),
            )),
            TextEncoding::Utf16 { big_endian, .. } => {
                if self.out_pos >= self.out.len() && !self.fill_utf16(big_endian)? {
                    return Ok(0);
                }
                let n = (self.out.len() - self.out_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                Ok(n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, big_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let units = bom
            .then_some(0xFEFFu16)
            .into_iter()
            .chain(text.encode_utf16());
        for unit in units {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        bytes
    }

    /// Reads through a reader that hands out one byte at a time, so every chunk
    /// boundary is exercised.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.split_first() {
                Some((first, rest)) if !buf.is_empty() => {
                    buf[0] = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn detection_by_mark_and_by_nul_pattern() {
        assert_eq!(TextEncoding::detect(b"{\"a\""), TextEncoding::Utf8);
        assert_eq!(TextEncoding::detect(b""), TextEncoding::Utf8);
        assert_eq!(
            TextEncoding::detect(b"\xEF\xBB\xBF{"),
            TextEncoding::Utf8Bom
        );
        assert_eq!(
            TextEncoding::detect(b"\xFF\xFE{\0"),
            TextEncoding::Utf16 {
                big_endian: false,
                bom: true
            }
        );
        assert_eq!(
            TextEncoding::detect(b"\xFE\xFF\0{"),
            TextEncoding::Utf16 {
                big_endian: true,
                bom: true
            }
        );
        assert_eq!(
            TextEncoding::detect(b"{\0\"\0"),
            TextEncoding::Utf16 {
                big_endian: false,
                bom: false
            }
        );
        assert_eq!(
            TextEncoding::detect(b"\0{\0\""),
            TextEncoding::Utf16 {
                big_endian: true,
                bom: false
            }
        );
        assert_eq!(
            TextEncoding::detect(b"\xFF\xFE\0\0"),
            TextEncoding::Utf32 { big_endian: false }
        );
        assert_eq!(
            TextEncoding::detect(b"{\0\0\0"),
            TextEncoding::Utf32 { big_endian: false }
        );
    }

    #[test]
    fn utf16_both_orders_with_surrogate_pairs_and_crlf() {
        // U+00E9 (2 UTF-8 bytes), U+4E2D (3), U+1F600 (a surrogate pair, 4).
        let text = "{\"a\":\"\u{e9}\u{4e2d}\u{1f600}\"}\r\n";
        for big_endian in [false, true] {
            for bom in [true, false] {
                let bytes = utf16(text, big_endian, bom);
                let decoded = decode_text(&bytes);
                assert_eq!(decoded.text.as_ref(), text.as_bytes());
                assert_eq!(decoded.error, None);
                let mut trickled = Vec::new();
                TextReader::new(Trickle(&bytes))
                    .read_to_end(&mut trickled)
                    .unwrap();
                assert_eq!(trickled, text.as_bytes(), "big_endian {big_endian}");
            }
        }
    }

    #[test]
    fn plain_and_marked_utf8_are_not_copied_or_changed() {
        let decoded = decode_text(b"{\"a\":1}\n");
        assert!(matches!(decoded.text, Cow::Borrowed(b"{\"a\":1}\n")));
        let decoded = decode_text(b"\xEF\xBB\xBF{\"a\":1}\n");
        assert!(matches!(decoded.text, Cow::Borrowed(b"{\"a\":1}\n")));
        let mut read = Vec::new();
        TextReader::new(Trickle(b"\xEF\xBB\xBFab"))
            .read_to_end(&mut read)
            .unwrap();
        assert_eq!(read, b"ab");
        let mut read = Vec::new();
        TextReader::new(&b"a"[..]).read_to_end(&mut read).unwrap();
        assert_eq!(read, b"a");
    }

    #[test]
    fn lone_surrogates_become_invalid_utf8_and_an_odd_byte_is_an_error() {
        // "a", a lone high surrogate D83D, "b".
        let bytes = [0xFF, 0xFE, b'a', 0, 0x3D, 0xD8, b'b', 0];
        let decoded = decode_text(&bytes);
        assert_eq!(decoded.text.as_ref(), b"a\xED\xA0\xBDb");
        assert!(std::str::from_utf8(&decoded.text).is_err());
        let decoded = decode_text(&[0xFF, 0xFE, b'a', 0, b'b']);
        assert_eq!(decoded.text.as_ref(), b"a");
        assert!(
            decoded
                .error
                .as_deref()
                .unwrap()
                .contains("odd number of bytes"),
            "{decoded:?}"
        );
        let decoded = decode_text(b"\xFF\xFE\0\0{\0\0\0");
        assert!(decoded.error.unwrap().contains("UTF-32LE"));
    }

    #[test]
    fn a_read_error_comes_after_what_was_read_before_it() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated"));
                }
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        // "ab" then an odd byte cut by the error: "ab" arrives, then the read error
        // (not an odd-length complaint).
        let bytes = [0xFF, 0xFE, b'a', 0, b'b', 0, b'c'];
        let mut reader = TextReader::new(Failing(&bytes));
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"ab");
        assert_eq!(err.to_string(), "truncated");
        // Plain UTF-8: the head, then the error.
        let mut reader = TextReader::new(Failing(b"{\"a\""));
        let mut got = Vec::new();
        assert!(reader.read_to_end(&mut got).is_err());
        assert_eq!(got, b"{\"a\"");
    }
}
