//! The compliance summary: the month's headline counts, its attribution rate, and the
//! verdict against the minimum attribution rate. Every number is read from a figure
//! (so from SQL), never recomputed.

use std::fmt;

use sessiontrail_correlate::Severity;

use super::display::percent;
use super::figures::Figure;

/// The outcome of the month against the minimum attribution rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The attribution rate is at least the minimum.
    Pass,
    /// The attribution rate is below the minimum.
    Fail,
    /// No minimum was set: no verdict.
    NoThreshold,
    /// A minimum was set but the month had no broker sessions (attributed,
    /// unattributed or orphan), so there is no rate to compare.
    NoBrokerSessions,
}

impl Verdict {
    /// The verdict for `rate` against `minimum`.
    pub fn of(rate: Option<f64>, minimum: Option<f64>) -> Verdict {
        match (rate, minimum) {
            (_, None) => Verdict::NoThreshold,
            (None, Some(_)) => Verdict::NoBrokerSessions,
            (Some(rate), Some(minimum)) if rate >= minimum => Verdict::Pass,
            (Some(_), Some(_)) => Verdict::Fail,
        }
    }

    /// The name in `report.json`: `pass`, `fail`, `no_threshold`, `no_broker_sessions`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NoThreshold => "no_threshold",
            Verdict::NoBrokerSessions => "no_broker_sessions",
        }
    }

    /// The label of the verdict badge: `PASS`, `FAIL`, `NO VERDICT`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NoThreshold | Verdict::NoBrokerSessions => "NO VERDICT",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The month's headline figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Every session of the month, whatever its status (failed StartSession calls included).
    pub sessions: i64,
    /// Sessions via the broker that are neither failed nor pending:
    /// attributed + unattributed + orphan. The denominator of the attribution rate.
    pub broker_sessions: i64,
    /// Broker sessions tied to a human.
    pub attributed: i64,
    /// Broker sessions no broker record ties to a human.
    pub unattributed: i64,
    /// Broker records of a started session that CloudTrail never recorded.
    pub orphan: i64,
    /// Sessions still waiting for their counterpart (not in the rate).
    pub pending: i64,
    /// Sessions started without the broker.
    pub direct: i64,
    /// Failed StartSession calls.
    pub failed: i64,
    /// attributed / broker_sessions; `None` without broker sessions.
    pub attribution_rate: Option<f64>,
    /// Findings raised in the month.
    pub findings: i64,
    /// Of which critical.
    pub critical_findings: i64,
    /// Of which high.
    pub high_findings: i64,
    /// The verdict against the minimum attribution rate.
    pub verdict: Verdict,
}

impl Summary {
    /// Reads the summary from the figures `attribution_rate`, `sessions_by_status` and
    /// `findings_by_severity` (absent figures count zero).
    pub fn from_figures(figures: &[Figure], minimum: Option<f64>) -> Summary {
        let figure = |name: &str| figures.iter().find(|figure| figure.name() == name);
        let rate = figure("attribution_rate");
        let from_rate = |column: &str| rate.and_then(|f| f.int(0, column)).unwrap_or(0);
        let attribution_rate = rate.and_then(|f| f.float(0, "attribution_rate"));
        let status = figure("sessions_by_status");
        let of_status = |name: &str| {
            status
                .and_then(|f| {
                    f.row_where("status", name)
                        .and_then(|row| f.int(row, "sessions"))
                })
                .unwrap_or(0)
        };
        let severity = figure("findings_by_severity");
        let of_severity = |name: Severity| {
            severity
                .and_then(|f| {
                    f.row_where("severity", name.as_str())
                        .and_then(|row| f.int(row, "findings"))
                })
                .unwrap_or(0)
        };
        Summary {
            sessions: status.map_or(0, |f| f.sum("sessions")),
            broker_sessions: from_rate("broker_sessions"),
            attributed: from_rate("attributed"),
            unattributed: from_rate("unattributed"),
            orphan: from_rate("orphan"),
            pending: from_rate("pending"),
            direct: of_status("direct"),
            failed: of_status("failed"),
            attribution_rate,
            findings: severity.map_or(0, |f| f.sum("findings")),
            critical_findings: of_severity(Severity::Critical),
            high_findings: of_severity(Severity::High),
            verdict: Verdict::of(attribution_rate, minimum),
        }
    }

    /// One sentence explaining the verdict, for the report's first section.
    pub fn verdict_text(&self, minimum: Option<f64>) -> String {
        match (self.verdict, self.attribution_rate, minimum) {
            (Verdict::Pass, Some(rate), Some(min)) => {
                let (rate, min) = distinct_percentages(rate, min);
                format!("The attribution rate {rate} meets the minimum of {min}.")
            }
            (Verdict::Fail, Some(rate), Some(min)) => {
                let (rate, min) = distinct_percentages(rate, min);
                format!("The attribution rate {rate} is below the minimum of {min}.")
            }
            (Verdict::NoBrokerSessions, _, Some(min)) => format!(
                "There were no broker sessions this month, so there is no attribution rate \
                 to compare with the minimum of {}.",
                percent(min)
            ),
            _ => {
                "No minimum attribution rate was set, so there is no PASS/FAIL verdict.".to_string()
            }
        }
    }
}

/// `rate` and `minimum` as percentages, with more decimals when two would show a
/// rate below the minimum as equal to it (94.996 % against 95 %).
fn distinct_percentages(rate: f64, minimum: f64) -> (String, String) {
    if rate != minimum && percent(rate) == percent(minimum) {
        return (
            format!("{:.4} %", rate * 100.0),
            format!("{:.4} %", minimum * 100.0),
        );
    }
    (percent(rate), percent(minimum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(Verdict::of(Some(0.95), Some(0.95)), Verdict::Pass);
        assert_eq!(Verdict::of(Some(19.0 / 20.0), Some(0.95)), Verdict::Pass);
        assert_eq!(Verdict::of(Some(0.9499), Some(0.95)), Verdict::Fail);
        assert_eq!(Verdict::of(None, Some(0.95)), Verdict::NoBrokerSessions);
        assert_eq!(Verdict::of(Some(0.1), None), Verdict::NoThreshold);
        assert_eq!(Verdict::of(None, None), Verdict::NoThreshold);
    }

    #[test]
    fn a_rate_just_below_the_minimum_does_not_read_as_equal() {
        assert_eq!(
            distinct_percentages(0.94996, 0.95),
            ("94.9960 %".to_string(), "95.0000 %".to_string())
        );
        assert_eq!(
            distinct_percentages(0.9, 0.95),
            ("90.00 %".to_string(), "95.00 %".to_string())
        );
    }
}
