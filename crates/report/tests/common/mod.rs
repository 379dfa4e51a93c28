//! Test datasets for the report crate: rows written as text values, cast to each
//! column's type of the real schema, and stored as Hive partitions like `correlate`
//! writes them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;

/// A row: (column, value as text); columns left out are null.
pub type TextRow<V> = Vec<(&'static str, V)>;

/// A batch with exactly `schema`, from text values cast to each column's type.
pub fn text_batch<V: AsRef<str>>(schema: &SchemaRef, rows: &[TextRow<V>]) -> RecordBatch {
    for row in rows {
        for (column, _) in row {
            assert!(
                schema.column_with_name(column).is_some(),
                "test data names unknown column {column}"
            );
        }
    }
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| {
            let text: StringArray = rows
                .iter()
                .map(|row| {
                    row.iter()
                        .rev()
                        .find(|(column, _)| column == field.name())
                        .map(|(_, value)| value.as_ref())
                })
                .collect();
            cast(&text, field.data_type()).expect("test value casts to its column type")
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns).expect("test rows match the schema")
}

/// Writes `rows` under `data/<table>/dt=<date of time_column>/part-N.parquet`, at most
/// `per_file` rows per file (so partitions can hold several files).
pub fn write_partitioned<V: AsRef<str> + Clone>(
    data: &Path,
    table: &str,
    schema: &SchemaRef,
    time_column: &str,
    rows: &[TextRow<V>],
    per_file: usize,
) {
    let mut by_day: BTreeMap<String, Vec<TextRow<V>>> = BTreeMap::new();
    for row in rows {
        let time = row
            .iter()
            .find(|(column, _)| *column == time_column)
            .expect("every row has its time")
            .1
            .as_ref()
            .to_string();
        by_day
            .entry(time[..10].to_string())
            .or_default()
            .push(row.clone());
    }
    for (day, rows) in by_day {
        let folder = data.join(table).join(format!("dt={day}"));
        std::fs::create_dir_all(&folder).unwrap();
        for (n, chunk) in rows.chunks(per_file).enumerate() {
            let file = File::create(folder.join(format!("part-{n}.parquet"))).unwrap();
            let mut writer = ArrowWriter::try_new(file, schema.clone(), None).unwrap();
            writer.write(&text_batch(schema, chunk)).unwrap();
            writer.close().unwrap();
        }
    }
}

// Findings rows shared by the export tests.

pub const PAYLOAD: &str = r#"<script>alert(1)</script> "q" 'a' & b"#;
pub const A: &str = "111122223333";
pub const ALICE: &str =
    "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0a1b2c3d/alice@example.com";
/// Every rule of docs/contracts.md with its severity: every severity too.
pub const RULES: [(&str, &str); 17] = [
    ("unattributed_session", "critical"),
    ("document_mismatch", "high"),
    ("unknown_permission_set", "high"),
    ("run_as_mismatch", "high"),
    ("field_mismatch", "high"),
    ("in_band_identity_mismatch", "high"),
    ("duplicate_broker_claim", "high"),
    ("orphan_broker_record", "high"),
    ("secret_in_broker_log", "high"),
    ("direct_session", "medium"),
    ("foreign_session_control", "medium"),
    ("clock_skew", "low"),
    ("log_file_tampered", "critical"),
    ("digest_signature_invalid", "critical"),
    ("log_file_missing", "high"),
    ("digest_chain_broken", "high"),
    ("log_file_not_covered", "low"),
];

/// A finding row: (column, value) pairs; absent columns are null.
pub type FindingRow = Vec<(&'static str, String)>;

/// `n` ordinary findings, every rule in turn, one a minute from 2026-02-01T00:00Z.
pub fn ordinary_findings(n: usize) -> Vec<FindingRow> {
    (0..n)
        .map(|i| {
            let (rule, severity) = RULES[i % RULES.len()];
            let millis = if i % 7 == 3 { ".250" } else { "" };
            vec![
                ("finding_id", format!("{rule}-{i:016x}")),
                ("rule", rule.to_string()),
                ("severity", severity.to_string()),
                ("session_id", format!("alice-{i:04}")),
                (
                    "event_time",
                    format!("2026-02-01T{:02}:{:02}:00{millis}Z", i / 60, i % 60),
                ),
                ("account_id", A.to_string()),
                ("region", "eu-west-1".to_string()),
                ("target", format!("i-0{i:016x}")),
                ("principal_arn", ALICE.to_string()),
                ("permission_set", "Admin".to_string()),
                ("detail", format!("finding number {i}, with a comma")),
                ("evidence", format!(r#"{{"request_id":"req-{i}","n":{i}}}"#)),
            ]
        })
        .collect()
}

/// The keys of every JSON object in `text`, in the order the text writes them (read
/// from the bytes, not through `serde_json::Value`, whose order depends on its
/// features). Panics on text that is not JSON.
pub fn object_keys_in_text_order(text: &str) -> Vec<Vec<String>> {
    struct Scanner<'a> {
        bytes: &'a [u8],
        at: usize,
        objects: Vec<Vec<String>>,
    }
    impl Scanner<'_> {
        fn skip_space(&mut self) {
            while self.at < self.bytes.len() && self.bytes[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
        }
        fn expect(&mut self, byte: u8) {
            self.skip_space();
            assert_eq!(self.bytes.get(self.at), Some(&byte), "at byte {}", self.at);
            self.at += 1;
        }
        fn string(&mut self) -> String {
            self.skip_space();
            let start = self.at;
            self.expect(b'"');
            while self.bytes[self.at] != b'"' {
                self.at += if self.bytes[self.at] == b'\\' { 2 } else { 1 };
            }
            self.at += 1;
            serde_json::from_slice(&self.bytes[start..self.at]).expect("a JSON string")
        }
        fn value(&mut self) {
            self.skip_space();
            match self.bytes[self.at] {
                b'{' => {
                    self.at += 1;
                    let index = self.objects.len();
                    self.objects.push(Vec::new());
                    self.skip_space();
                    if self.bytes[self.at] == b'}' {
                        self.at += 1;
                        return;
                    }
                    loop {
                        let key = self.string();
                        self.objects[index].push(key);
                        self.expect(b':');
                        self.value();
                        self.skip_space();
                        self.at += 1;
                        if self.bytes[self.at - 1] == b'}' {
                            return;
                        }
                    }
                }
                b'[' => {
                    self.at += 1;
                    self.skip_space();
                    if self.bytes[self.at] == b']' {
                        self.at += 1;
                        return;
                    }
                    loop {
                        self.value();
                        self.skip_space();
                        self.at += 1;
                        if self.bytes[self.at - 1] == b']' {
                            return;
                        }
                    }
                }
                b'"' => {
                    self.string();
                }
                _ => {
                    while self.at < self.bytes.len()
                        && !matches!(self.bytes[self.at], b',' | b'}' | b']')
                        && !self.bytes[self.at].is_ascii_whitespace()
                    {
                        self.at += 1;
                    }
                }
            }
        }
    }
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
        objects: Vec::new(),
    };
    scanner.value();
    scanner.skip_space();
    assert_eq!(scanner.at, text.len(), "one JSON value");
    scanner.objects
}

/// Asserts that every object of the JSON `text` writes its keys sorted (byte order),
/// as they are whatever serde_json's features.
pub fn assert_keys_sorted(text: &str) {
    let objects = object_keys_in_text_order(text);
    assert!(!objects.is_empty(), "no object in {text}");
    for keys in objects {
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "keys out of order in {text:.300}");
    }
}
