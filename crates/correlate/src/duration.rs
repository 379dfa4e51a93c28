//! Durations in the policy file: `90s`, `30m`, `1h30m`, `14d`.

use std::time::Duration;

/// The longest duration accepted, in seconds: its milliseconds still fit the `i64`
/// instants (epoch milliseconds) it is compared with and subtracted from (about 292
/// million years).
pub const MAX_DURATION_SECS: u64 = i64::MAX as u64 / 1000;

/// Parses a sequence of `<integer><unit>` with units s, m, h, d, w. Every step is
/// checked: a value too large for [`MAX_DURATION_SECS`] is an error, never an
/// overflow.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_string());
    }
    let too_long =
        || format!("{text:?} is too long (the longest duration accepted is {MAX_DURATION_SECS}s)");
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "unknown unit {c:?} in {text:?} (use s, m, h, d or w)"
                ));
            }
        };
        if number.is_empty() {
            return Err(format!("{text:?} has a unit without a number before it"));
        }
        // All digits: parsing fails only when the number does not fit a u64.
        let value: u64 = number.parse().map_err(|_| too_long())?;
        total = value
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .filter(|&total| total <= MAX_DURATION_SECS)
            .ok_or_else(too_long)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("{text:?} ends without a unit (e.g. 30m, 14d)"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_combinations() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("14d"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn overlong_durations_are_errors_not_overflows() {
        // 30000000000000 weeks is 1.8144e19 s: it fits a u64 of seconds, but not an
        // i64 of milliseconds.
        let err = parse_duration("30000000000000w").unwrap_err();
        assert!(err.starts_with("\"30000000000000w\" is too long"), "{err}");
        // A number that does not fit a u64 at all.
        let err = parse_duration("99999999999999999999999s").unwrap_err();
        assert!(err.contains("is too long"), "{err}");
        // A sum that overflows.
        let err = parse_duration("18446744073709551615s1s").unwrap_err();
        assert!(err.contains("is too long"), "{err}");
        // The longest accepted: i64::MAX ms is 9223372036854775807 ms, so
        // 9223372036854775 s (rounded down) passes and one second more does not.
        assert_eq!(
            parse_duration("9223372036854775s"),
            Ok(Duration::from_secs(9_223_372_036_854_775))
        );
        assert!(parse_duration("9223372036854776s").is_err());
        assert!(Duration::from_secs(MAX_DURATION_SECS).as_millis() <= i64::MAX as u128);
    }

    #[test]
    fn an_overlong_duration_is_a_policy_error_naming_the_key() {
        let policy = |grace: &str| {
            format!(
                "[broker]\nrole_arns = [\"arn:aws:iam::111122223333:role/broker\"]\ngrace = \"{grace}\"\n"
            )
        };
        assert!(crate::policy::Policy::parse(&policy("30m")).is_ok());
        for grace in ["30000000000000w", "99999999999999999999w"] {
            let err = crate::policy::Policy::parse(&policy(grace)).unwrap_err();
            assert!(
                err.starts_with(&format!("line 3: broker.grace: \"{grace}\" is too long")),
                "{err}"
            );
        }
    }
}
