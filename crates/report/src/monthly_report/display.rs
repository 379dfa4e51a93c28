//! How cells read for a human (HTML and Markdown): counts as integers, rates as
//! percentages, changes with their sign, NULL as a dash. `report.json` keeps the raw
//! values.

use serde_json::Value;

use super::figures::{ColumnKind, Figure};

/// What a NULL cell shows.
pub const NULL_TEXT: &str = "—";

/// A fraction (0.975) as a percentage with two decimals (`97.50 %`).
pub fn percent(fraction: f64) -> String {
    format!("{:.2} %", fraction * 100.0)
}

/// A change of a fraction in percentage points, signed (`+1.25 pp`, `−8.33 pp`).
pub fn percentage_points(change: f64) -> String {
    let points = change * 100.0;
    if points.abs() < 0.005 {
        return "±0.00 pp".to_string();
    }
    let sign = if points > 0.0 { "+" } else { "−" };
    format!("{sign}{:.2} pp", points.abs())
}

/// A signed whole number (`+3`, `−2`, `±0`).
pub fn signed(n: i64) -> String {
    match n {
        0 => "±0".to_string(),
        n if n > 0 => format!("+{n}"),
        n => format!("−{}", n.unsigned_abs()),
    }
}

/// Whether the column holds a fraction shown as a percentage: its name ends in `rate`
/// (`attribution_rate`) or `share` (`session_evidence`'s share of the month's sessions).
pub fn is_rate(name: &str) -> bool {
    name.ends_with("rate") || name.ends_with("share")
}

/// Whether row `row` of `figure` holds differences (the `change` row of
/// `month_over_month`), shown signed.
pub fn is_change_row(figure: &Figure, row: usize) -> bool {
    figure.column_index("period").is_some() && figure.text(row, "period") == Some("change")
}

/// The text a human reads for the cell at (`row`, `column`) of `figure`, unescaped.
pub fn cell_text(figure: &Figure, row: usize, column: usize) -> String {
    let cell = &figure.rows[row][column];
    let meta = &figure.columns[column];
    let change = is_change_row(figure, row);
    match cell {
        Value::Null => NULL_TEXT.to_string(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "no".to_string(),
        Value::Number(number) if is_rate(&meta.name) => match number.as_f64() {
            Some(f) if change => percentage_points(f),
            Some(f) => percent(f),
            None => number.to_string(),
        },
        Value::Number(number) if change && meta.kind == ColumnKind::Integer => {
            number.as_i64().map_or_else(|| number.to_string(), signed)
        }
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A machine-sortable key for the cell: the number itself for numbers, empty for
/// NULL, the text otherwise (RFC 3339 times sort as text).
pub fn sort_key(figure: &Figure, row: usize, column: usize) -> String {
    match &figure.rows[row][column] {
        Value::Null => String::new(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A column name as a table heading: `broker_sessions` reads `broker sessions`.
pub fn heading(name: &str) -> String {
    name.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(percent(2.0 / 3.0), "66.67 %");
        assert_eq!(percent(1.0), "100.00 %");
        assert!(is_rate("attribution_rate") && is_rate("share") && !is_rate("sessions"));
        assert_eq!(percentage_points(-1.0 / 12.0), "−8.33 pp");
        assert_eq!(percentage_points(0.0125), "+1.25 pp");
        assert_eq!(percentage_points(0.0), "±0.00 pp");
        assert_eq!(signed(7), "+7");
        assert_eq!(signed(-2), "−2");
        assert_eq!(signed(0), "±0");
        assert_eq!(heading("broker_sessions"), "broker sessions");
    }
}
