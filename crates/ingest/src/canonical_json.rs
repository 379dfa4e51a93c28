//! JSON bytes that do not depend on how the binary was built.
//!
//! `serde_json::Map` is a `BTreeMap` (keys sorted) unless serde_json's
//! `preserve_order` feature is on somewhere in the build, and then it is an `IndexMap`
//! (keys in insertion order). Cargo unifies features over everything one command
//! builds, so a dev-dependency that turns `preserve_order` on (aws-smithy-http-client's
//! `test-util` does) makes `cargo test` binaries write objects in insertion order while
//! `cargo run` writes sorted keys. Whatever is persisted or compared (the dataset's
//! JSON columns, the state, report.json, exports, alerts) goes through this module,
//! which writes every object's keys sorted (byte order, as `BTreeMap<String, _>`
//! sorts them), at every depth, whatever the features.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A [`Value`] that serializes with every object's keys sorted, at any depth, with
/// any serde serializer (`serde_json::to_string_pretty(&Canonical(&value))`,
/// `serde_json::to_writer(w, &Canonical(&value))`).
#[derive(Debug, Clone, Copy)]
pub struct Canonical<'a>(pub &'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &Canonical(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Canonical(item))?;
                }
                out.end()
            }
            scalar => scalar.serialize(serializer),
        }
    }
}

/// `value` as compact JSON (as `serde_json::to_string` writes it), keys sorted at
/// every depth.
pub fn to_canonical_string(value: &Value) -> String {
    serde_json::to_string(&Canonical(value)).expect("a serde_json::Value always serializes")
}

/// `value` as indented JSON (as `serde_json::to_string_pretty` writes it), keys sorted
/// at every depth.
pub fn to_canonical_string_pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&Canonical(value)).expect("a serde_json::Value always serializes")
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;

    /// Keys inserted out of order at three depths, and in an array.
    fn unsorted() -> Value {
        let mut inner = Map::new();
        inner.insert("zeta".into(), json!(1));
        inner.insert("alpha".into(), json!([{"y": 1, "b": 2}]));
        let mut outer = Map::new();
        outer.insert("b".into(), Value::Object(inner));
        outer.insert("a".into(), json!(null));
        outer.insert("B".into(), json!("upper sorts before lower"));
        outer.insert("é".into(), json!(2.5));
        Value::Object(outer)
    }

    #[test]
    fn keys_are_sorted_at_every_depth_whatever_the_features() {
        // The expectation is written out by hand: with serde_json's preserve_order on
        // (any `cargo test` of the workspace), plain `to_string` writes b, a, B, é.
        assert_eq!(
            to_canonical_string(&unsorted()),
            r#"{"B":"upper sorts before lower","a":null,"b":{"alpha":[{"b":2,"y":1}],"zeta":1},"é":2.5}"#
        );
        assert_eq!(
            to_canonical_string_pretty(&json!({"b": [1], "a": {}})),
            "{\n  \"a\": {},\n  \"b\": [\n    1\n  ]\n}"
        );
    }

    #[test]
    fn reads_back_as_the_same_value() {
        let value = unsorted();
        let back: Value = serde_json::from_str(&to_canonical_string(&value)).unwrap();
        assert_eq!(back, value);
        assert_eq!(to_canonical_string(&json!("x\"\n")), r#""x\"\n""#);
    }
}
