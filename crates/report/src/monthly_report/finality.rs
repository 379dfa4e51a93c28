//! Whether a month's report is final: no figure of it can change any more.
//!
//! A session is `pending` while its counterpart (the broker record, or CloudTrail's
//! StartSession) may still arrive, that is until it is `grace` old (the policy's
//! `[broker] grace`). So the figures of a month can change until `grace` after the
//! month's end, and after that until a correlation run has decided every session of
//! the month that was still pending. A report computed before both is provisional, and
//! says so and why on its face (report.json `final` and `provisional_reason`, a banner
//! in report.html and report.md); the Lambda writes `reports/YYYY-MM/` only once it is
//! final.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::month::Month;

/// When a month's report can be final, and why it is not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finality {
    /// The month's end plus grace: from this instant on no session of the month can
    /// still be waiting for its counterpart.
    pub final_from: DateTime<Utc>,
    /// Why the report is provisional, one sentence each; empty when it is final.
    pub reasons: Vec<String>,
}

impl Finality {
    /// The finality of `month`'s report computed at `as_of`, with the policy's `grace`
    /// and `pending` sessions of the month still undecided in the dataset.
    pub fn of(month: Month, as_of: DateTime<Utc>, grace: Duration, pending: i64) -> Finality {
        let month_end = month
            .next()
            .first_day()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        let final_from = chrono::Duration::from_std(grace)
            .ok()
            .and_then(|grace| month_end.checked_add_signed(grace))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut reasons = Vec::new();
        if as_of < final_from {
            reasons.push(format!(
                "computed at {} while sessions of the month may still be pending: the month \
                 ends at {} and a session waits up to the policy's grace ({}) for its \
                 counterpart, so the figures can change until {}",
                rfc3339(as_of),
                rfc3339(month_end),
                duration_text(grace),
                rfc3339(final_from)
            ));
        }
        if pending > 0 {
            let sessions = if pending == 1 {
                "1 session of the month is".to_string()
            } else {
                format!("{pending} sessions of the month are")
            };
            reasons.push(format!(
                "{sessions} still pending in the dataset: a later correlation run (sessiontrail \
                 correlate, or the Lambda's schedule) decides them"
            ));
        }
        Finality {
            final_from,
            reasons,
        }
    }

    /// Whether no figure of the report can change any more.
    pub fn is_final(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Why the report is provisional (the reasons in one text), or None when final.
    pub fn provisional_reason(&self) -> Option<String> {
        (!self.is_final()).then(|| self.reasons.join("; "))
    }
}

/// An instant as RFC 3339 UTC to the second, as `generated_at` is written.
pub fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A duration as a policy writes it: `30m`, `1h30m`, `40d`, `45s`, `0s` (days,
/// hours, minutes and seconds; no weeks).
pub fn duration_text(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn final_once_grace_has_passed_after_the_month_and_nothing_is_pending() {
        let february: Month = "2026-02".parse().unwrap();
        let grace = Duration::from_secs(30 * 60);
        let done = Finality::of(february, at("2026-03-01T00:30:00Z"), grace, 0);
        assert_eq!(done.final_from, at("2026-03-01T00:30:00Z"));
        assert!(done.is_final(), "{:?}", done.reasons);
        assert_eq!(done.provisional_reason(), None);

        let early = Finality::of(february, at("2026-03-01T00:29:59Z"), grace, 0);
        assert!(!early.is_final());
        let reason = early.provisional_reason().unwrap();
        assert!(
            reason.contains("2026-03-01T00:30:00Z") && reason.contains("(30m)"),
            "{reason}"
        );

        let pending = Finality::of(february, at("2026-04-01T00:00:00Z"), grace, 2);
        assert_eq!(pending.reasons.len(), 1);
        assert!(pending.reasons[0].starts_with("2 sessions of the month are still pending"));

        let both = Finality::of(february, at("2026-02-10T00:00:00Z"), grace, 1);
        assert_eq!(both.reasons.len(), 2, "{:?}", both.reasons);
        assert!(both.reasons[1].starts_with("1 session of the month is still pending"));
    }

    #[test]
    fn durations_read_as_the_policy_writes_them() {
        assert_eq!(duration_text(Duration::from_secs(1800)), "30m");
        assert_eq!(duration_text(Duration::from_secs(5400)), "1h30m");
        assert_eq!(duration_text(Duration::from_secs(86_400 * 40)), "40d");
        assert_eq!(duration_text(Duration::from_secs(86_400 + 1)), "1d1s");
        assert_eq!(duration_text(Duration::from_secs(0)), "0s");
        assert_eq!(duration_text(Duration::from_secs(61)), "1m1s");
    }
}
