//! A figure of the report: the result of one report query, as typed columns and
//! JSON-valued cells that every renderer (HTML, Markdown, JSON, SVG) reads.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType,
};
use datafusion::arrow::error::ArrowError;
use datafusion::prelude::SessionContext;
use serde_json::Value;

use super::month::Month;
use super::queries::{ReportQuery, report_queries, run_report_query};
use crate::ReportError;

/// What a column holds, for rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// Text; a JSON string.
    Text,
    /// A whole number (counts, differences of counts); a JSON integer.
    Integer,
    /// A fraction or other real number; a JSON number.
    Number,
    /// `true` / `false`.
    Boolean,
    /// A UTC instant; a JSON string in RFC 3339 (`2026-02-01T09:00:00Z`).
    Timestamp,
}

impl ColumnKind {
    /// The name used in `report.json`.
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Text => "text",
            ColumnKind::Integer => "integer",
            ColumnKind::Number => "number",
            ColumnKind::Boolean => "boolean",
            ColumnKind::Timestamp => "timestamp",
        }
    }

    /// Numbers sort and align as numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, ColumnKind::Integer | ColumnKind::Number)
    }
}

/// A result column: its SQL name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name of the query result.
    pub name: String,
    /// What it holds.
    pub kind: ColumnKind,
}

/// One figure: a report query and its result.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// The query that made it (name, title, SQL text).
    pub query: ReportQuery,
    /// The result columns, in order.
    pub columns: Vec<Column>,
    /// The result rows; each holds one JSON value per column (`null` for SQL NULL).
    pub rows: Vec<Vec<Value>>,
}

impl Figure {
    /// The query's name (`sessions_by_status`).
    pub fn name(&self) -> &'static str {
        self.query.name
    }

    /// The index of the column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|column| column.name == name)
    }

    /// The value of column `name` in row `row` (`null` when either is absent).
    pub fn value(&self, row: usize, name: &str) -> &Value {
        self.column_index(name)
            .and_then(|index| self.rows.get(row).and_then(|cells| cells.get(index)))
            .unwrap_or(&Value::Null)
    }

    /// Column `name` of row `row` as an integer, if it is one.
    pub fn int(&self, row: usize, name: &str) -> Option<i64> {
        self.value(row, name).as_i64()
    }

    /// Column `name` of row `row` as a real number, if it is a number.
    pub fn float(&self, row: usize, name: &str) -> Option<f64> {
        self.value(row, name).as_f64()
    }

    /// Column `name` of row `row` as text, if it is text.
    pub fn text(&self, row: usize, name: &str) -> Option<&str> {
        self.value(row, name).as_str()
    }

    /// The first row whose column `key` is the text `value`.
    pub fn row_where(&self, key: &str, value: &str) -> Option<usize> {
        (0..self.rows.len()).find(|&row| self.text(row, key) == Some(value))
    }

    /// The sum of the integer column `name` over all rows.
    pub fn sum(&self, name: &str) -> i64 {
        (0..self.rows.len())
            .filter_map(|row| self.int(row, name))
            .sum()
    }

    /// The rows as JSON objects keyed by column name, for `report.json`.
    pub fn rows_as_objects(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|cells| {
                Value::Object(
                    self.columns
                        .iter()
                        .zip(cells)
                        .map(|(column, cell)| (column.name.clone(), cell.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

/// Runs every report query for `month` in `ctx`, in the order of the report.
pub async fn compute_figures(
    ctx: &SessionContext,
    month: Month,
) -> Result<Vec<Figure>, ReportError> {
    let mut figures = Vec::with_capacity(report_queries().len());
    for query in report_queries() {
        let batches = run_report_query(ctx, query, month).await?;
        let figure = figure_of(*query, &batches).map_err(|source| ReportError::Query {
            query: format!("report query `{}` ({})", query.name, query.path()),
            source: Box::new(source.into()),
        })?;
        figures.push(figure);
    }
    Ok(figures)
}

/// The figure of `query` from its result `batches` (all of one schema; at least one).
pub fn figure_of(query: ReportQuery, batches: &[RecordBatch]) -> Result<Figure, ArrowError> {
    let Some(first) = batches.first() else {
        return Ok(Figure {
            query,
            columns: Vec::new(),
            rows: Vec::new(),
        });
    };
    let columns: Vec<Column> = first
        .schema()
        .fields()
        .iter()
        .map(|field| Column {
            name: field.name().clone(),
            kind: kind_of(field.data_type()),
        })
        .collect();
    let mut rows = Vec::new();
    for batch in batches {
        let cells = batch
            .columns()
            .iter()
            .zip(&columns)
            .map(|(array, column)| cells_of(array, column.kind))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(cells.iter().map(|column| column[row].clone()).collect());
        }
    }
    Ok(Figure {
        query,
        columns,
        rows,
    })
}

fn kind_of(data_type: &DataType) -> ColumnKind {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => ColumnKind::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColumnKind::Number,
        DataType::Boolean => ColumnKind::Boolean,
        DataType::Timestamp(..) => ColumnKind::Timestamp,
        _ => ColumnKind::Text,
    }
}

/// One column's cells as JSON values.
fn cells_of(array: &ArrayRef, kind: ColumnKind) -> Result<Vec<Value>, ArrowError> {
    let values = match kind {
        ColumnKind::Integer => {
            let ints = cast(array, &DataType::Int64)?;
            let ints = ints.as_primitive::<Int64Type>();
            (0..ints.len())
                .map(|i| match ints.is_null(i) {
                    true => Value::Null,
                    false => Value::from(ints.value(i)),
                })
                .collect()
        }
        ColumnKind::Number => {
            let floats = cast(array, &DataType::Float64)?;
            let floats = floats.as_primitive::<Float64Type>();
            (0..floats.len())
                .map(|i| match floats.is_null(i) {
                    true => Value::Null,
                    false => serde_json::Number::from_f64(floats.value(i))
                        .map_or(Value::Null, Value::Number),
                })
                .collect()
        }
        ColumnKind::Boolean => {
            let bools: &BooleanArray = array.as_boolean();
            (0..bools.len())
                .map(|i| match bools.is_null(i) {
                    true => Value::Null,
                    false => Value::Bool(bools.value(i)),
                })
                .collect()
        }
        ColumnKind::Timestamp => {
            let utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
            let millis = cast(array, &utc)?;
            let millis = millis.as_primitive::<TimestampMillisecondType>();
            (0..millis.len())
                .map(|i| match millis.is_null(i) {
                    true => Ok(Value::Null),
                    false => rfc3339_millis(millis.value(i)).map(Value::String),
                })
                .collect::<Result<_, _>>()?
        }
        ColumnKind::Text => {
            let text = cast(array, &DataType::Utf8)?;
            let text: &StringArray = text.as_string::<i32>();
            (0..text.len())
                .map(|i| match text.is_null(i) {
                    true => Value::Null,
                    false => Value::String(text.value(i).to_string()),
                })
                .collect()
        }
    };
    Ok(values)
}

/// Epoch milliseconds as RFC 3339 UTC: `2026-02-01T09:00:00Z`, with `.250` only when
/// the milliseconds are not zero (as `sessiontrail query` prints them).
pub fn rfc3339_millis(millis: i64) -> Result<String, ArrowError> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|time| time.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
        .ok_or_else(|| ArrowError::ComputeError(format!("timestamp {millis} ms is out of range")))
}
