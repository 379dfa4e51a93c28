//! A tiny ordered JSON value and its compact writer.
//!
//! CloudTrail writes the keys of a record in a fixed order (`eventVersion`,
//! `userIdentity`, `eventTime`, ...). `serde_json::Value` sorts object keys unless the
//! workspace-wide `preserve_order` feature is on, so the generator builds records with
//! this value type, which keeps keys in insertion order and writes them without
//! allocating an intermediate tree of maps.

use std::borrow::Cow;
use std::fmt::Write as _;

/// An object key: usually a `&'static str`, sometimes built at run time.
pub type Key = Cow<'static, str>;

/// A JSON value whose objects keep their keys in insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(Key, J)>),
}

/// Builder for a JSON object (keys in insertion order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Obj(Vec<(Key, J)>);

impl Obj {
    /// An empty object.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds `key: value`.
    pub fn with(mut self, key: impl Into<Key>, value: impl Into<J>) -> Self {
        self.0.push((key.into(), value.into()));
        self
    }

    /// Adds `key: value` when `value` is `Some`, leaves the key out otherwise.
    pub fn maybe<V: Into<J>>(self, key: impl Into<Key>, value: Option<V>) -> Self {
        match value {
            Some(value) => self.with(key, value),
            None => self,
        }
    }

    /// Adds `key: value` in place.
    pub fn push(&mut self, key: impl Into<Key>, value: impl Into<J>) {
        self.0.push((key.into(), value.into()));
    }
}

impl From<Obj> for J {
    fn from(obj: Obj) -> Self {
        J::Obj(obj.0)
    }
}

impl From<&str> for J {
    fn from(s: &str) -> Self {
        J::Str(s.to_owned())
    }
}

impl From<&String> for J {
    fn from(s: &String) -> Self {
        J::Str(s.clone())
    }
}

impl From<String> for J {
    fn from(s: String) -> Self {
        J::Str(s)
    }
}

impl From<bool> for J {
    fn from(b: bool) -> Self {
        J::Bool(b)
    }
}

impl From<i64> for J {
    fn from(n: i64) -> Self {
        J::Int(n)
    }
}

impl From<u32> for J {
    fn from(n: u32) -> Self {
        J::Int(i64::from(n))
    }
}

impl From<Vec<J>> for J {
    fn from(items: Vec<J>) -> Self {
        J::Arr(items)
    }
}

/// A JSON array of strings.
pub fn strings<I, S>(items: I) -> J
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    J::Arr(items.into_iter().map(|s| J::Str(s.into())).collect())
}

impl J {
    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        self.write_to(&mut out);
        out
    }

    /// Appends compact JSON text to `out`.
    pub fn write_to(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(true) => out.push_str("true"),
            J::Bool(false) => out.push_str("false"),
            J::Int(n) => {
                let _ = write!(out, "{n}");
            }
            J::Str(s) => write_str(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_to(out);
                }
                out.push(']');
            }
            J::Obj(entries) => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write_to(out);
                }
                out.push('}');
            }
        }
    }
}

impl J {
    /// JSON text indented by four spaces, keys in order, `{}`/`[]` when empty: how the
    /// AWS CLI prints a response (`aws s3api head-object`, `aws cloudtrail
    /// list-public-keys`), with a final newline.
    pub fn to_pretty(&self) -> String {
        let mut out = String::with_capacity(512);
        self.write_pretty(&mut out, 0);
        out.push('\n');
        out
    }

    fn write_pretty(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, depth: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 4 * depth));
        };
        match self {
            J::Arr(items) if !items.is_empty() => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    item.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            J::Obj(entries) if !entries.is_empty() => {
                out.push('{');
                for (i, (key, value)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    write_str(key, out);
                    out.push_str(": ");
                    value.write_pretty(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
            other => other.write_to(out),
        }
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_escapes() {
        let value: J = Obj::new()
            .with("z", "a\"b\\c\n\u{1}")
            .with("a", 5i64)
            .maybe("skipped", None::<&str>)
            .with("list", vec![J::Null, true.into()])
            .into();
        let text = value.to_json();
        assert_eq!(text, r#"{"z":"a\"b\\c\n\u0001","a":5,"list":[null,true]}"#);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["z"], "a\"b\\c\n\u{1}");
    }

    #[test]
    fn pretty_is_the_cli_layout() {
        let value: J = Obj::new()
            .with("A", 1i64)
            .with("M", Obj::new().with("k", "v"))
            .with("E", Obj::new())
            .with("L", vec![J::Null])
            .into();
        assert_eq!(
            value.to_pretty(),
            "{\n    \"A\": 1,\n    \"M\": {\n        \"k\": \"v\"\n    },\n    \"E\": {},\n    \"L\": [\n        null\n    ]\n}\n"
        );
    }
}
