//! Instants as UTC epoch milliseconds, and the timestamp formats the AWS files use.
//!
//! Formatting is written out by hand: the generator formats millions of `eventTime`s
//! when asked for gigabytes, and this avoids parsing a format string each time.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// UTC milliseconds since the Unix epoch.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// 00:00:00 UTC of `date`.
pub fn midnight(date: NaiveDate) -> Millis {
    date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

fn civil(ms: Millis) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .naive_utc()
}

/// `2026-02-01T10:00:24Z` (CloudTrail `eventTime`).
pub fn event_time(ms: Millis) -> String {
    let t = civil(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2026-02-01T10:00:24.123Z` (broker `ts`, CloudWatch export lines).
pub fn rfc3339_millis(ms: Millis) -> String {
    rfc3339_offset(ms, 0)
}

/// The same instant written in a UTC offset of `offset_minutes`, e.g.
/// `2026-02-01T12:00:24.123+02:00`; `Z` when the offset is 0.
pub fn rfc3339_offset(ms: Millis, offset_minutes: i32) -> String {
    let t = civil(ms + Millis::from(offset_minutes) * MINUTE);
    let zone = if offset_minutes == 0 {
        "Z".to_owned()
    } else {
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let abs = offset_minutes.unsigned_abs();
        format!("{sign}{:02}:{:02}", abs / 60, abs % 60)
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{zone}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        ms.rem_euclid(1000)
    )
}

/// `20260201T100024Z` (basic ISO 8601: digest file names, `creationDate`).
pub fn basic(ms: Millis) -> String {
    let t = civil(ms);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `20260201T1000Z` (CloudTrail log file names: delivery minute).
pub fn basic_minutes(ms: Millis) -> String {
    let t = civil(ms);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `2026/02/01` (date folders of S3 keys).
pub fn date_path(ms: Millis) -> String {
    let t = civil(ms);
    format!("{:04}/{:02}/{:02}", t.year(), t.month(), t.day())
}

/// `Feb 1, 2026, 3:04:05 PM` (how CloudTrail writes STS credential expirations).
pub fn sts_expiration(ms: Millis) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = civil(ms);
    let (pm, hour12) = t.hour12();
    format!(
        "{} {}, {}, {}:{:02}:{:02} {}",
        MONTHS[t.month0() as usize],
        t.day(),
        t.year(),
        hour12,
        t.minute(),
        t.second(),
        if pm { "PM" } else { "AM" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let date = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap();
        let t = midnight(date) + 10 * HOUR + 24 * SECOND + 123;
        assert_eq!(event_time(t), "2026-02-01T10:00:24Z");
        assert_eq!(rfc3339_millis(t), "2026-02-01T10:00:24.123Z");
        assert_eq!(rfc3339_offset(t, 120), "2026-02-01T12:00:24.123+02:00");
        assert_eq!(rfc3339_offset(t, -330), "2026-02-01T04:30:24.123-05:30");
        assert_eq!(basic(t), "20260201T100024Z");
        assert_eq!(basic_minutes(t), "20260201T1000Z");
        assert_eq!(date_path(t), "2026/02/01");
        assert_eq!(sts_expiration(t + 5 * HOUR), "Feb 1, 2026, 3:00:24 PM");
    }
}
