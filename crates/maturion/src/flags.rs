//! Values of flags that clap's own parsers would accept but the commands cannot use: a
//! duration must be finite, not negative and not absurd (a deadline far enough away overflows
//! the clock, and PostgreSQL's lock_timeout stops at about 24 days).

use std::time::Duration;

/// The longest wait any flag may ask for.
const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);

/// `30s`, `500ms`, `2m`, `1h`, or plain seconds (`2.5`).
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[number.len()..];
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ if number.trim().parse::<f64>().is_err() => return Err(not_a_duration(text)),
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use ms, s, m or h (e.g. 30s)"
            ))
        }
    };
    let value: f64 = number.trim().parse().map_err(|_| not_a_duration(text))?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!(
            "{text:?} is not a duration: it must be finite and not negative"
        ));
    }
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| *d <= LONGEST)
        .ok_or_else(|| format!("{text:?} is longer than the longest wait allowed (7 days)"))
}

fn not_a_duration(text: &str) -> String {
    format!("{text:?} is not a duration (e.g. 30s, 500ms, 2m)")
}

/// A duration flag that is named in seconds (`--notify-seconds 2.5`), as seconds.
pub fn seconds(text: &str) -> Result<f64, String> {
    duration(text).map(|d| d.as_secs_f64())
}

/// A count that must be at least 1 (a benchmark of zero rows or rounds measures nothing and
/// divides by zero).
pub fn positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_plain_seconds() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn counts_are_whole_and_positive() {
        assert_eq!(positive("3"), Ok(3));
        for bad in ["0", "-1", "1.5", "NaN", ""] {
            assert!(positive(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negative_nan_infinite_and_huge_durations_are_refused() {
        for bad in [
            "-1", "-0.5s", "NaN", "nan", "inf", "-inf", "infinity", "1e300", "8d", "", "s", "1x",
            "169h",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
