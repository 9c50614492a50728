//! Durations as definitions (and commands) write them, and their bound.
//!
//! Every duration — a job's `timeout`, a precondition's `check_interval`, `expected_runtime`,
//! `max_runtime` and `min_runtime`, `+2h` in a start or end time, a human task's `due`,
//! `expires_after` and escalation `after` — is humantime (`2h 30m`, `3 days`) or ISO 8601
//! (`PT2H`, `P1DT12H`, `P2W`; years and months are refused, having no fixed length), and at
//! most [`MAX_DURATION`]: 100 years. Durations are added to instants to set timers, and the
//! instants must stay ones the store can hold (see [`crate::timestamp::after`]); a bound checked
//! at deploy, with the position, turns `300000000years` into a clear refusal instead of a step
//! that cannot be computed.

use std::time::Duration;

/// The longest duration: 100 years of 365.25 days (36,525 days), as humantime counts a year.
pub const MAX_DURATION: Duration = Duration::from_secs(36_525 * 86_400);

/// How to write a duration, for messages.
pub const HINT: &str =
    "write it like `30s`, `5m`, `1h 30m`, `3 days` or as ISO 8601, e.g. `PT2H` or `P3D`";

/// Why a duration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all.
    #[error("{0}")]
    Unreadable(String),
    /// Longer than [`MAX_DURATION`].
    #[error("is longer than the limit of 100 years (36,525 days)")]
    TooLong,
}

/// Parses a duration written like `2h 30m` (humantime) or as ISO 8601 (`PT2H30M`, `P3D`, `P1W`),
/// at most [`MAX_DURATION`].
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    check(parse_unbounded(text)?)
}

/// [`parse`] without the bound: how a definition stored by a release without the bound is
/// read back (adding its durations to instants saturates, so they do no harm).
pub fn parse_unbounded(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let duration = match text.strip_prefix('P') {
        Some(rest) => parse_iso8601(rest)?,
        None => humantime::parse_duration(text).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => DurationError::TooLong,
            other => DurationError::Unreadable(other.to_string()),
        })?,
    };
    Ok(duration)
}

/// Checks a duration that came in another way (a command's JSON) against the bound.
pub fn check(duration: Duration) -> Result<Duration, DurationError> {
    if duration > MAX_DURATION {
        return Err(DurationError::TooLong);
    }
    Ok(duration)
}

/// The part of an ISO 8601 duration after its `P`: weeks, days, and after `T` hours, minutes
/// and (fractional) seconds. Years and months have no fixed length, so they are refused.
fn parse_iso8601(rest: &str) -> Result<Duration, DurationError> {
    let unreadable = |message: String| DurationError::Unreadable(message);
    let (date, time) = match rest.split_once('T') {
        Some((d, "")) => return Err(unreadable(format!("nothing follows `T` in `P{d}T`"))),
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    if date.is_empty() && time.is_none() {
        return Err(unreadable(
            "an ISO 8601 duration needs at least one number and unit after `P`".into(),
        ));
    }
    let mut seconds = 0f64;
    let mut add = |part: &str, units: &[(char, f64)], in_time: bool| -> Result<(), DurationError> {
        let mut number = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' {
                number.push(if c == ',' { '.' } else { c });
                continue;
            }
            let Some(at) = units.iter().position(|(u, _)| *u == c) else {
                let hint = match (c, in_time) {
                    ('Y', _) | ('M', false) => {
                        "years and months have no fixed length; use days (`P30D`) or weeks"
                    }
                    _ => "use W or D before `T`, and H, M or S after it",
                };
                return Err(unreadable(format!(
                    "unknown unit `{c}` in an ISO 8601 duration ({hint})"
                )));
            };
            if at < last_unit || number.is_empty() {
                return Err(unreadable(
                    "each unit of an ISO 8601 duration comes once, in order, after its number"
                        .into(),
                ));
            }
            let n: f64 = number
                .parse()
                .map_err(|_| unreadable(format!("`{number}` is not a number")))?;
            seconds += n * units[at].1;
            number.clear();
            last_unit = at + 1;
        }
        if !number.is_empty() {
            return Err(unreadable(format!("the number `{number}` has no unit")));
        }
        Ok(())
    };
    add(date, &[('W', 604_800.0), ('D', 86_400.0)], false)?;
    if let Some(time) = time {
        add(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)], true)?;
    }
    // A number too large for a `Duration` is too long, not unreadable.
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        if seconds.is_nan() {
            unreadable("not a number".into())
        } else {
            DurationError::TooLong
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humantime_and_iso_8601_are_both_read() {
        assert_eq!(parse("PT2H"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("P1DT30M"), Ok(Duration::from_secs(86_400 + 1800)));
        assert_eq!(parse("P2W"), Ok(Duration::from_secs(2 * 604_800)));
        assert_eq!(parse("PT0.5S"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2h 30m"), Ok(Duration::from_secs(9000)));
        assert!(parse("P1M").unwrap_err().to_string().contains("months"));
        assert!(parse("PT").is_err());
        assert!(parse("PT2").is_err());
        assert!(parse("PT1M2H").is_err());
    }

    #[test]
    fn durations_are_at_most_one_hundred_years() {
        assert_eq!(parse("100years"), Ok(MAX_DURATION));
        assert_eq!(parse("36525days"), Ok(MAX_DURATION));
        assert_eq!(parse("P5217W6D"), Ok(MAX_DURATION));
        for longer in [
            "101years",
            "36525days 1s",
            "P36526D",
            "P999999999999W",
            "300000000years",
            "99999999999999999999s",
            "PT99999999999999999999H",
        ] {
            assert_eq!(parse(longer), Err(DurationError::TooLong), "{longer}");
        }
        assert_eq!(
            parse_unbounded("300000000years"),
            Ok(Duration::from_secs(300_000_000 * 31_557_600))
        );
        assert_eq!(
            format!("`timeout` {}", DurationError::TooLong),
            "`timeout` is longer than the limit of 100 years (36,525 days)"
        );
    }
}
