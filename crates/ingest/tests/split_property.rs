//! The structural splitter against serde_json as the reference: for any JSON values
//! laid out as a CloudTrail file, a bare array or JSON lines, compact or pretty, the
//! records it hands out parse to exactly the values that were written, in order.

use proptest::prelude::*;
use serde_json::Value;
use sessiontrail_ingest::json_split::{Piece, split_records};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        // Strings full of the characters that matter: quotes, backslashes, brackets.
        "[a-z\"\\\\{}\\[\\],:\u{e9}\u{1F600} \\t\\n]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z\"\\[{]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn split(text: &str) -> (Vec<Value>, Vec<String>) {
    let mut values = Vec::new();
    let mut errors = Vec::new();
    split_records(text.as_bytes(), |piece| match piece {
        Piece::Record { bytes, .. } => {
            values.push(serde_json::from_slice(bytes).expect("a whole value"))
        }
        Piece::Error { message, .. } => errors.push(message),
    });
    (values, errors)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn records_arrays_split_into_their_elements(records in prop::collection::vec(json(), 0..12), pretty in any::<bool>()) {
        let file = serde_json::json!({"Records": records});
        let text = if pretty { serde_json::to_string_pretty(&file).unwrap() } else { file.to_string() };
        let (values, errors) = split(&text);
        prop_assert!(errors.is_empty(), "{errors:?}");
        prop_assert_eq!(values, records);
    }

    #[test]
    fn json_lines_split_into_their_lines(records in prop::collection::vec(json(), 1..12)) {
        let objects: Vec<Value> = records
            .into_iter()
            .map(|v| match v {
                Value::Object(_) | Value::Array(_) => v,
                other => serde_json::json!({"v": other}),
            })
            .collect();
        let text: String = objects.iter().map(|v| format!("{v}\n")).collect();
        let (values, errors) = split(&text);
        prop_assert!(errors.is_empty(), "{errors:?}");
        let expected: Vec<Value> = objects
            .into_iter()
            .flat_map(|v| match v {
                // A top-level array's elements are records of their own.
                Value::Array(items) => items,
                other => vec![other],
            })
            .collect();
        prop_assert_eq!(values, expected);
    }
}
