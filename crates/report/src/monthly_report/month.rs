//! The month a report covers: a UTC calendar month written `YYYY-MM`.
//!
//! The text is validated before anything reaches SQL: a [`Month`] only exists for a
//! real month, and the queries receive its bounds as bound parameters, never as text
//! pasted into the SQL.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Months, NaiveDate};

use crate::ReportError;

/// A UTC calendar month (`2026-02`), the unit of the monthly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Its first day; always day 1.
    first_day: NaiveDate,
}

impl Month {
    /// The month holding `day`.
    pub fn containing(day: NaiveDate) -> Month {
        Month {
            first_day: day.with_day(1).expect("day 1 exists in every month"),
        }
    }

    /// The year, e.g. 2026.
    pub fn year(self) -> i32 {
        self.first_day.year()
    }

    /// The month of the year, 1 to 12.
    pub fn number(self) -> u32 {
        self.first_day.month()
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// The last day of the month (28th to 31st).
    pub fn last_day(self) -> NaiveDate {
        self.next()
            .first_day
            .pred_opt()
            .expect("the day before a month's first day exists")
    }

    /// The number of days in the month.
    pub fn days(self) -> u32 {
        self.last_day().day()
    }

    /// Every day of the month, in order.
    pub fn iter_days(self) -> impl Iterator<Item = NaiveDate> {
        self.first_day.iter_days().take(self.days() as usize)
    }

    /// The month before.
    pub fn previous(self) -> Month {
        Month {
            first_day: self
                .first_day
                .checked_sub_months(Months::new(1))
                .expect("Month only holds years 1..=9999"),
        }
    }

    /// The month after.
    pub fn next(self) -> Month {
        Month {
            first_day: self
                .first_day
                .checked_add_months(Months::new(1))
                .expect("the month after a year-9999 month exists in chrono"),
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.number())
    }
}

impl FromStr for Month {
    type Err = ReportError;

    /// Exactly `YYYY-MM`: four digits (year 0002 to 9999), a hyphen, two digits
    /// (01 to 12). No spaces, no day, no other separator.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || ReportError::InvalidMonth {
            month: text.to_string(),
        };
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes[..4].iter().all(u8::is_ascii_digit)
            && bytes[5..].iter().all(u8::is_ascii_digit);
        if !shape_ok {
            return Err(invalid());
        }
        let year: i32 = text[..4].parse().map_err(|_| invalid())?;
        let month: u32 = text[5..].parse().map_err(|_| invalid())?;
        // Year 1 has no previous month to compare with.
        if year < 2 {
            return Err(invalid());
        }
        let first_day = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(invalid)?;
        Ok(Month { first_day })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_yyyy_mm() {
        let month: Month = "2026-02".parse().unwrap();
        assert_eq!(month.to_string(), "2026-02");
        assert_eq!(month.first_day().to_string(), "2026-02-01");
        assert_eq!(month.last_day().to_string(), "2026-02-28");
        assert_eq!(month.days(), 28);
        assert_eq!(month.previous().to_string(), "2026-01");
        assert_eq!("2024-02".parse::<Month>().unwrap().days(), 29);
        assert_eq!(
            "2026-01".parse::<Month>().unwrap().previous().to_string(),
            "2025-12"
        );
        assert_eq!(
            "2026-12".parse::<Month>().unwrap().last_day().to_string(),
            "2026-12-31"
        );
        assert_eq!(month.iter_days().count(), 28);
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "",
            "2026",
            "2026-2",
            "2026-13",
            "2026-00",
            "26-02",
            "2026/02",
            " 2026-02",
            "2026-02 ",
            "2026-02-01",
            "2026-0a",
            "+026-02",
            "0001-05",
            "２０２６-02",
            "2026-02'; DROP TABLE sessions; --",
        ] {
            let err = text.parse::<Month>().unwrap_err();
            assert!(matches!(err, ReportError::InvalidMonth { .. }), "{text:?}");
        }
    }
}
