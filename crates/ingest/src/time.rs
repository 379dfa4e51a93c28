//! Instants as milliseconds since the Unix epoch (UTC), parsed from the forms AWS writes.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type EpochMillis = i64;

/// Parses RFC 3339 with any offset (`2025-03-04T09:15:02Z`, `...+02:00`,
/// fractional seconds) into UTC milliseconds.
pub fn parse_rfc3339_millis(text: &str) -> Option<EpochMillis> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// Formats UTC milliseconds as RFC 3339 (`2025-03-04T09:15:02Z`, milliseconds shown
/// only when not zero).
pub fn format_rfc3339_millis(millis: EpochMillis) -> String {
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(t) if millis % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => millis.to_string(),
    }
}

/// The UTC date (`YYYY-MM-DD`) of an instant: the `dt` partition value.
pub fn utc_date(millis: EpochMillis) -> String {
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => "1970-01-01".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_fractions_normalise_to_utc() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            parse_rfc3339_millis("1970-01-01T01:00:01.5+01:00"),
            Some(1500)
        );
        assert_eq!(parse_rfc3339_millis("20131102T010628Z"), None);
        assert_eq!(parse_rfc3339_millis(""), None);
    }

    #[test]
    fn formatting_round_trips() {
        let t = parse_rfc3339_millis("2025-03-04T09:15:02Z").unwrap();
        assert_eq!(format_rfc3339_millis(t), "2025-03-04T09:15:02Z");
        assert_eq!(format_rfc3339_millis(t + 250), "2025-03-04T09:15:02.250Z");
        assert_eq!(utc_date(t), "2025-03-04");
    }
}
