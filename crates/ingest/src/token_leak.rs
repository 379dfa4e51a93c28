//! Session tokens in the broker's log: finding them, and keeping them out of everything
//! the readers keep.
//!
//! A token is found
//! - under a JSON key named like a token at any depth (`token`, `token_value`,
//!   `TokenValue`, `session_token`, `X-Amz-Security-Token`: the key's letters and digits,
//!   lower-cased, end in `token` or `tokenvalue`) holding a value other than null, an
//!   empty string or a boolean;
//! - inside any text (a JSON string value, or a line that is not JSON at all, such as a
//!   Python `print(response)`), as `name=value` (a URL parameter, logfmt) or as a quoted
//!   `"name": value` / `'name': value`, with a name like the above and a value other
//!   than empty, `null`, `None`, `nil`, `undefined`, `true`, `false` or `REDACTED`
//!   (what redaction leaves, so a redacted value holds no token). So a `wss://`
//!   stream URL with a `token=` parameter is found; the word "token" in prose is not.
//!
//! Only paths are kept: the JSON path of the key or of the string holding the text
//! (`ssm_response.TokenValue`, `reason`), or for a line that is not JSON the name as
//! written in it. A value kept from a line (a broker record's field, a [`TokenLeak`]'s
//! field, a key in a kept path) has every token in it replaced by `REDACTED`
//! ([`redact_tokens`]), and so has every other occurrence of a token value the line
//! holds somewhere ([`LineSecrets`]): a `reason` quoting the `TokenValue` beside it
//! keeps no copy of it.
//!
//! [`TokenLeak`] carries a token found in a line that gave no accepted broker record
//! (a line without `v`, a record that was rejected, text that is not JSON), so the
//! secret is still reported; an accepted record carries its own
//! [`BrokerRecord::token_paths`](crate::broker_log::BrokerRecord::token_paths).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::time::EpochMillis;

/// What replaces a token's value in a kept string.
pub const REDACTED: &str = "REDACTED";

/// A token in a broker log line that gave no accepted broker record. The fields are
/// those of the line (of the broker record it was meant to be) that are present and
/// strings, with any token in them redacted; the token itself is nowhere in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenLeak {
    /// The file (for a subscription payload: `file#logEvents[i]`), as rejects name it.
    pub source_file: String,
    /// 1-based line of the message in the file.
    pub line: u64,
    /// 0-based byte offset of the line, as [`Location`](crate::reject::Location) counts it.
    pub byte_offset: u64,
    /// `request_id`, else a Lambda JSON log line's `requestId`.
    pub request_id: Option<String>,
    pub session_id: Option<String>,
    /// `ts`, else the time the wrapper gave the message (a Lambda JSON log line's
    /// `time`/`timestamp`, a CloudWatch export line's timestamp, a subscription log
    /// event's `timestamp`).
    pub ts: Option<EpochMillis>,
    pub caller_arn: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub target: Option<String>,
    /// Where the tokens were: JSON paths, or names as written in a line that is not JSON.
    pub token_paths: Vec<String>,
}

/// A token value shorter than this is redacted where it was found but not looked for
/// elsewhere in the line (it would redact ordinary words); session tokens are hundreds
/// of characters long.
pub const MIN_REPEATED_SECRET_LEN: usize = 8;

/// The token values one log line holds, known only while the line is read, so that a
/// copy of one anywhere else in the line is redacted too ([`LineSecrets::redact`]).
/// Never stored, never printed: its `Debug` shows only how many there are.
#[derive(Default, Clone)]
pub struct LineSecrets {
    /// Longest first, so a value containing another is replaced whole.
    values: Vec<String>,
}

impl std::fmt::Debug for LineSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LineSecrets({} values)", self.values.len())
    }
}

impl LineSecrets {
    /// The values under token-named keys (every string and number inside them) and
    /// the values of tokens in any string or key text, at any depth of `objects`.
    pub fn of_objects(objects: &[&Map<String, Value>]) -> Self {
        let mut secrets = LineSecrets::default();
        for object in objects {
            secrets.collect_object(object);
        }
        secrets.finish()
    }

    /// The values of the tokens in a text that is not JSON.
    pub fn of_text(text: &str) -> Self {
        let mut secrets = LineSecrets::default();
        secrets.collect_text(text);
        secrets.finish()
    }

    /// Whether the line holds no token value long enough to be looked for elsewhere.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every token in it and every copy of a value of this line's tokens
    /// replaced by [`REDACTED`]; borrowed when there is none.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = redact_tokens(text);
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(value.as_str(), REDACTED));
            }
        }
        out
    }

    fn finish(mut self) -> Self {
        self.values
            .retain(|v| v.len() >= MIN_REPEATED_SECRET_LEN && v != REDACTED);
        self.values
            .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
        self
    }

    fn collect_text(&mut self, text: &str) {
        for span in token_spans(text) {
            self.values.push(text[span.value].trim().to_string());
        }
    }

    fn collect_object(&mut self, object: &Map<String, Value>) {
        for (key, inner) in object {
            self.collect_text(key);
            if is_token_name(key) {
                self.collect_all(inner);
            }
            self.collect_value(inner);
        }
    }

    fn collect_value(&mut self, value: &Value) {
        match value {
            Value::Object(object) => self.collect_object(object),
            Value::Array(items) => items.iter().for_each(|v| self.collect_value(v)),
            Value::String(text) => self.collect_text(text),
            _ => {}
        }
    }

    /// Everything under a token-named key is a secret.
    fn collect_all(&mut self, value: &Value) {
        match value {
            Value::String(text) => self.values.push(text.trim().to_string()),
            Value::Number(n) => self.values.push(n.to_string()),
            Value::Object(object) => object.values().for_each(|v| self.collect_all(v)),
            Value::Array(items) => items.iter().for_each(|v| self.collect_all(v)),
            Value::Null | Value::Bool(_) => {}
        }
    }
}

/// Paths of the tokens in a JSON object (see the module doc), sorted, without
/// duplicates; never their values (a key holding a token, or a token value, has it
/// redacted in the path).
pub fn token_paths(object: &Map<String, Value>) -> Vec<String> {
    token_paths_redacted(object, &LineSecrets::of_objects(&[object]))
}

/// [`token_paths`], redacting with the secrets of the whole line.
pub fn token_paths_redacted(object: &Map<String, Value>, secrets: &LineSecrets) -> Vec<String> {
    let mut paths = Vec::new();
    visit_object(object, "", &mut paths);
    finish_paths(paths, secrets)
}

/// [`token_paths`] of an object without one of its keys.
pub fn token_paths_except(object: &Map<String, Value>, except: &str) -> Vec<String> {
    let mut paths = Vec::new();
    for (key, inner) in object.iter().filter(|(key, _)| *key != except) {
        visit_entry(key, inner, "", &mut paths);
    }
    finish_paths(paths, &LineSecrets::of_objects(&[object]))
}

fn finish_paths(paths: Vec<String>, secrets: &LineSecrets) -> Vec<String> {
    let mut paths: Vec<String> = paths
        .into_iter()
        .map(|p| secrets.redact(&p).into_owned())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// The names of the tokens in a text that is not JSON, sorted, without duplicates.
pub fn text_token_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = token_spans(text)
        .into_iter()
        .map(|span| text[span.name].to_string())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `text` with the value of every token in it replaced by [`REDACTED`]; borrowed when
/// there is none. The result holds no token: `redact_tokens` of it is itself.
pub fn redact_tokens(text: &str) -> std::borrow::Cow<'_, str> {
    let spans = token_spans(text);
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.value.start < at {
            continue;
        }
        out.push_str(&text[at..span.value.start]);
        out.push_str(REDACTED);
        at = span.value.end;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

fn visit_object(object: &Map<String, Value>, path: &str, paths: &mut Vec<String>) {
    for (key, inner) in object {
        visit_entry(key, inner, path, paths);
    }
}

fn visit_entry(key: &str, inner: &Value, path: &str, paths: &mut Vec<String>) {
    let child = if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    };
    let holds_value = match inner {
        Value::Null | Value::Bool(_) => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    };
    if is_token_name(key) && holds_value {
        paths.push(child.clone());
    }
    visit(inner, child, paths);
}

fn visit(value: &Value, path: String, paths: &mut Vec<String>) {
    match value {
        Value::Object(object) => visit_object(object, &path, paths),
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                visit(inner, format!("{path}[{index}]"), paths);
            }
        }
        Value::String(text) if !token_spans(text).is_empty() => paths.push(path),
        _ => {}
    }
}

/// A key named like a token: its letters and digits, lower-cased, end in `token` or
/// `tokenvalue`.
pub fn is_token_name(key: &str) -> bool {
    let normalized: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    normalized.ends_with("token") || normalized.ends_with("tokenvalue")
}

/// A token in a text: the byte ranges of its name and of its value.
struct TokenSpan {
    name: std::ops::Range<usize>,
    value: std::ops::Range<usize>,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Every `name=value` and quoted `"name": value` in `text` whose name is a token name
/// and whose value is a value, in order.
fn token_spans(text: &str) -> Vec<TokenSpan> {
    let bytes = text.as_bytes();
    let mut spans: Vec<TokenSpan> = Vec::new();
    let mut hits: Vec<usize> = memchr::memmem::find_iter(bytes, b"oken")
        .chain(memchr::memmem::find_iter(bytes, b"OKEN"))
        .filter(|&at| at > 0 && bytes[at - 1].eq_ignore_ascii_case(&b't'))
        .map(|at| at - 1)
        .collect();
    if hits.is_empty() {
        return spans;
    }
    hits.sort_unstable();
    for start_of_token in hits {
        if spans
            .last()
            .is_some_and(|last| start_of_token < last.value.end)
        {
            continue;
        }
        // The name ends at "token" or "token[_-]value".
        let mut end = start_of_token + 5;
        let mut after_value = end;
        while after_value < bytes.len() && matches!(bytes[after_value], b'_' | b'-') {
            after_value += 1;
        }
        if bytes
            .get(after_value..after_value + 5)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"value"))
        {
            end = after_value + 5;
        }
        if bytes.get(end).copied().is_some_and(is_name_byte) {
            continue; // "tokens", "token_count", "tokenizer"
        }
        let mut start = start_of_token;
        while start > 0 && is_name_byte(bytes[start - 1]) {
            start -= 1;
        }
        // `%26token%3D...`: a URL-encoded `&` is not part of the name.
        if start > 0
            && bytes[start - 1] == b'%'
            && start + 2 <= start_of_token
            && bytes[start..start + 2].iter().all(u8::is_ascii_hexdigit)
        {
            start += 2;
        }
        let Some(value) = value_after_name(bytes, start, end) else {
            continue;
        };
        let raw = &text[value.clone()];
        let empty = raw.trim().is_empty()
            || [
                "null",
                "none",
                "nil",
                "undefined",
                "true",
                "false",
                REDACTED,
            ]
            .iter()
            .any(|word| raw.trim().eq_ignore_ascii_case(word));
        if !empty {
            spans.push(TokenSpan {
                name: start..end,
                value,
            });
        }
    }
    spans
}

/// The value after a name at `start..end`: `name=value`, or a quoted name (`"name"`,
/// `'name'`, `\"name\"`) followed by `:` or `=`. None when the name is not followed by
/// a value this way (prose).
fn value_after_name(bytes: &[u8], start: usize, end: usize) -> Option<std::ops::Range<usize>> {
    let quote = start
        .checked_sub(1)
        .map(|i| bytes[i])
        .filter(|q| matches!(q, b'"' | b'\''));
    let mut at = end;
    if let Some(quote) = quote {
        if bytes.get(at) == Some(&b'\\') {
            at += 1;
        }
        if bytes.get(at) != Some(&quote) {
            return None;
        }
        at += 1;
    }
    let skip_spaces = |mut at: usize| {
        while at < bytes.len() && matches!(bytes[at], b' ' | b'\t') {
            at += 1;
        }
        at
    };
    if quote.is_some() {
        at = skip_spaces(at);
        match bytes.get(at) {
            Some(b':') => at += 1,
            Some(b'=') => {
                at += 1;
                if bytes.get(at) == Some(&b'>') {
                    at += 1;
                }
            }
            _ => return None,
        }
        at = skip_spaces(at);
    } else if bytes.get(at) == Some(&b'=') {
        at += 1;
    } else if bytes
        .get(at..at + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"%3D"))
    {
        // URL-encoded (`...%26token%3D<value>%26...`, a stream URL inside another URL).
        at += 3;
    } else {
        return None;
    }
    // A quoted value (`"v"`, `'v'`, `\"v\"`) or a bare one.
    let escaped = bytes.get(at) == Some(&b'\\') && matches!(bytes.get(at + 1), Some(b'"'));
    if escaped {
        let from = at + 2;
        let len = memchr::memmem::find(&bytes[from..], b"\\\"").unwrap_or(bytes.len() - from);
        return Some(from..from + len);
    }
    if let Some(&q) = bytes.get(at).filter(|q| matches!(q, b'"' | b'\'')) {
        let from = at + 1;
        let len = memchr::memchr(q, &bytes[from..]).unwrap_or(bytes.len() - from);
        return Some(from..from + len);
    }
    let from = at;
    let len = bytes[from..]
        .iter()
        .position(|b| {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b'&' | b',' | b';' | b')' | b']' | b'}' | b'"' | b'\'' | b'<' | b'>' | b'\\'
                )
        })
        .unwrap_or(bytes.len() - from);
    // A URL-encoded `&` ends a URL-encoded value.
    let len = memchr::memmem::find(&bytes[from..from + len], b"%26").unwrap_or(len);
    Some(from..from + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        text_token_names(text)
    }

    #[test]
    fn names_like_a_token() {
        for name in [
            "token",
            "Token",
            "token_value",
            "TokenValue",
            "tokenValue",
            "session_token",
            "SessionToken",
            "X-Amz-Security-Token",
        ] {
            assert!(is_token_name(name), "{name}");
        }
        for name in [
            "tokens",
            "token_count",
            "tokenizer",
            "stream_url",
            "cell-number",
        ] {
            assert!(!is_token_name(name), "{name}");
        }
    }

    #[test]
    fn tokens_in_text_by_parameter_and_quoted_key() {
        assert_eq!(
            names(
                "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&token=abc"
            ),
            vec!["token"]
        );
        assert_eq!(
            names(
                "{'SessionId': 'alice-0a', 'TokenValue': 'AAEAAH1x', 'StreamUrl': 'wss://x/y?role=publish_subscribe'}"
            ),
            vec!["TokenValue"]
        );
        assert_eq!(
            names(r#"got {"token_value" : "s3cr3t"}"#),
            vec!["token_value"]
        );
        assert_eq!(
            names(r#"escaped {\"TokenValue\":\"s3cr3t\"}"#),
            vec!["TokenValue"]
        );
        assert_eq!(
            names("https://x/?X-Amz-Security-Token=FwoG%2F&X-Amz-Date=1"),
            vec!["X-Amz-Security-Token"]
        );
        assert_eq!(
            names(r#"session_token=abc token=def"#),
            vec!["session_token", "token"]
        );
    }

    #[test]
    fn prose_empty_values_and_other_words_are_not_tokens() {
        for text in [
            "client asked for a token refresh after MFA",
            "Token: expired",
            "token=",
            "token=null",
            "'token': None",
            "\"TokenValue\": \"\"",
            "tokens=5",
            "token_count=3",
            "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s?role=publish_subscribe&cell-number=AAEAAWTagu9ID0FSQS0X",
            "\"has_token\": true",
        ] {
            assert!(names(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn redaction_replaces_only_the_values() {
        assert_eq!(
            redact_tokens("wss://h/v1/data-channel/s?role=publish_subscribe&token=abc&x=1"),
            "wss://h/v1/data-channel/s?role=publish_subscribe&token=REDACTED&x=1"
        );
        assert_eq!(
            redact_tokens("{'TokenValue': 'AAE', 'token': \"x y\"}"),
            "{'TokenValue': 'REDACTED', 'token': \"REDACTED\"}"
        );
        assert_eq!(redact_tokens("token=abc"), "token=REDACTED");
        assert!(matches!(
            redact_tokens("no secret here"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn url_encoded_tokens_are_found() {
        let text = "https://console/?next=wss%3A%2F%2Fh%2Fv1%2Fdata-channel%2Fs%3Frole%3Dpublish_subscribe%26token%3DAAEAAsecret%26x%3D1";
        assert_eq!(names(text), vec!["token"]);
        assert_eq!(
            redact_tokens(text),
            "https://console/?next=wss%3A%2F%2Fh%2Fv1%2Fdata-channel%2Fs%3Frole%3Dpublish_subscribe%26token%3DREDACTED%26x%3D1"
        );
    }

    #[test]
    fn line_secrets_redact_every_copy_of_a_token_value() {
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"resp":{"TokenValue":"AAEAAsecret-1","Nested":{"SessionToken":{"v":["AAEAAsecret-2"]}}},"url":"wss://h/?token=AAEAAsecret-3","short":{"token":"abc"},"n":{"token_value":123456789}}"#,
        )
        .unwrap();
        let secrets = LineSecrets::of_objects(&[&object]);
        assert_eq!(format!("{secrets:?}"), "LineSecrets(4 values)");
        assert_eq!(
            secrets.redact("got AAEAAsecret-1, AAEAAsecret-2 and AAEAAsecret-3 (123456789) abc"),
            "got REDACTED, REDACTED and REDACTED (REDACTED) abc"
        );
        assert!(matches!(
            secrets.redact("nothing"),
            std::borrow::Cow::Borrowed(_)
        ));
        let text = LineSecrets::of_text("INFO {'TokenValue': 'AAEAAsecret-4'} then AAEAAsecret-4");
        assert_eq!(text.redact("AAEAAsecret-4"), "REDACTED");
    }

    #[test]
    fn keys_holding_a_token_are_redacted_in_paths() {
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"x?token=AAEAAsecret":"token=AAEAAsecret","a":{"b&session_token=AAEAAother&c_token":"x"}}"#,
        )
        .unwrap();
        let paths = token_paths(&object);
        assert_eq!(
            paths,
            vec!["a.b&session_token=REDACTED&c_token", "x?token=REDACTED"]
        );
    }

    #[test]
    fn json_paths_by_key_and_by_string() {
        let object: Map<String, Value> = serde_json::from_str(
            r#"{"a":{"TokenValue":"x","list":[{"u":"wss://h/?token=y"}]},"token":null,"has_token":false,"note":"token=z","tokens":3}"#,
        )
        .unwrap();
        assert_eq!(
            token_paths(&object),
            vec!["a.TokenValue", "a.list[0].u", "note"]
        );
    }
}
