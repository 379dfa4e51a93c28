//! Rendering query results: an aligned text table, CSV with a header row, or JSON lines.
//!
//! Whatever the format, timestamp columns print as RFC 3339 UTC instants
//! (`2024-03-01T09:00:00Z`, `2024-03-01T14:15:30.250Z`: fractional seconds only when
//! not zero) and nulls as empty cells (table, CSV) or `null` (JSON).
//!
//! CSV is written for spreadsheets too: a text cell that a spreadsheet would run as a
//! formula (`=HYPERLINK(...)`, `+`, `-`, `@`...) is written `'`-prefixed and quoted
//! ([`crate::neutralise_formula`]; the module `csv_writer` says which cells).

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json;
use datafusion::arrow::util::display::FormatOptions;
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::ReportError;
use crate::csv_writer::{self, CsvError};

/// The `chrono` format of timestamps once converted to UTC.
const RFC3339_UTC: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// How [`write_batches`] renders a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// An aligned text table for a terminal.
    Table,
    /// CSV (RFC 4180) with a header row; text cells that would start a spreadsheet
    /// formula are `'`-prefixed and quoted ([`crate::neutralise_formula`]).
    Csv,
    /// JSON lines: one object per row, every column present (`null` when null).
    Json,
}

impl OutputFormat {
    /// Every format, in the order of `--help`.
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Table, OutputFormat::Csv, OutputFormat::Json];

    /// The name accepted by [`FromStr`] and printed by [`fmt::Display`].
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OutputFormat {
    type Err = ReportError;

    /// `table`, `csv` or `json`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ReportError::UnknownFormat(s.to_string()))
    }
}

/// Writes `batches` (one result: all batches share a schema) to `out` as `format`.
///
/// The table and the CSV header come from the first batch's schema, so a result with
/// no rows should still hold one empty batch ([`crate::run_query`] guarantees that);
/// with no batch at all, nothing is written.
pub fn write_batches(
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut impl Write,
) -> Result<(), ReportError> {
    let render = |source: ArrowError| ReportError::Render { format, source };
    // Which columns are text from the data, decided before timestamps become text.
    let text_columns: Vec<bool> = batches
        .first()
        .map(|batch| {
            batch
                .schema()
                .fields()
                .iter()
                .map(|field| csv_writer::is_text(field.data_type()))
                .collect()
        })
        .unwrap_or_default();
    let batches = batches
        .iter()
        .map(timestamps_as_rfc3339)
        .collect::<Result<Vec<_>, _>>()
        .map_err(render)?;
    if batches.is_empty() {
        return Ok(());
    }
    match format {
        OutputFormat::Table => {
            let table = pretty_format_batches(&batches).map_err(render)?;
            writeln!(out, "{table}").map_err(|source| ReportError::Write { format, source })?;
        }
        OutputFormat::Csv => {
            csv_writer::write_csv(&batches, &text_columns, &mut *out).map_err(|e| match e {
                CsvError::Render(source) => render(source),
                CsvError::Write(source) => ReportError::Write { format, source },
            })?;
        }
        OutputFormat::Json => {
            let mut writer = json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, json::writer::LineDelimited>(&mut *out);
            for batch in &batches {
                writer.write(batch).map_err(render)?;
            }
            writer.finish().map_err(render)?;
        }
    }
    out.flush()
        .map_err(|source| ReportError::Write { format, source })
}

/// Replaces every top-level timestamp column by its RFC 3339 UTC text (a timestamp
/// without a time zone is taken as UTC), so that all formats print instants alike.
pub(crate) fn timestamps_as_rfc3339(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|field| matches!(field.data_type(), DataType::Timestamp(..)))
    {
        return Ok(batch.clone());
    }
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default().with_timestamp_tz_format(Some(RFC3339_UTC)),
    };
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match field.data_type() {
            DataType::Timestamp(unit, _) => {
                let utc = cast(column, &DataType::Timestamp(*unit, Some("UTC".into())))?;
                columns.push(cast_with_options(&utc, &DataType::Utf8, &options)?);
                fields.push(Arc::new(
                    Field::new(field.name(), DataType::Utf8, field.is_nullable())
                        .with_metadata(field.metadata().clone()),
                ));
            }
            _ => {
                columns.push(Arc::clone(column));
                fields.push(Arc::clone(field));
            }
        }
    }
    let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
    RecordBatch::try_new(Arc::new(schema), columns)
}
