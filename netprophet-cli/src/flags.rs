//! Value parsers for numeric flags. clap's own `f64` parser accepts `nan`,
//! `inf` and `1e400`; every number a command takes goes through one of
//! these instead, so a value out of range is a usage error (exit 2) that
//! names the flag, never a NaN that flows into a model or a panic in
//! `Duration::from_secs_f64`.

fn number(text: &str) -> Result<f64, String> {
    let v: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{text:?} is not a finite number"))
    }
}

fn within(text: &str, ok: impl Fn(f64) -> bool, range: &str) -> Result<f64, String> {
    let v = number(text)?;
    if ok(v) {
        Ok(v)
    } else {
        Err(format!("{v} is not {range}"))
    }
}

/// A finite number > 0.
pub fn positive(text: &str) -> Result<f64, String> {
    within(text, |v| v > 0.0, "a number > 0")
}

/// A probability: a number in [0, 1].
pub fn probability(text: &str) -> Result<f64, String> {
    within(text, |v| (0.0..=1.0).contains(&v), "in [0, 1]")
}

/// A share of rows held out: a number strictly between 0 and 1.
pub fn fraction(text: &str) -> Result<f64, String> {
    within(text, |v| v > 0.0 && v < 1.0, "in (0, 1)")
}

/// Seconds of a network timeout: more than 0, at most a day.
pub fn timeout_seconds(text: &str) -> Result<f64, String> {
    within(text, |v| v > 0.0 && v <= 86_400.0, "in (0, 86400] seconds")
}

/// Seconds of a retry backoff: 0 to an hour.
pub fn backoff_seconds(text: &str) -> Result<f64, String> {
    within(
        text,
        |v| (0.0..=3600.0).contains(&v),
        "in [0, 3600] seconds",
    )
}

/// Hours per fetched chunk: a minute to a year.
pub fn chunk_hours(text: &str) -> Result<f64, String> {
    within(
        text,
        |v| (1.0 / 60.0..=8784.0).contains(&v),
        "in [1/60, 8784] hours",
    )
}

/// Real seconds per simulated minute of the demo: 0 to an hour.
pub fn tick_seconds(text: &str) -> Result<f64, String> {
    within(
        text,
        |v| (0.0..=3600.0).contains(&v),
        "in [0, 3600] seconds",
    )
}

/// A finite number >= 0.
pub fn non_negative(text: &str) -> Result<f64, String> {
    within(text, |v| v >= 0.0, "a number >= 0")
}

/// A count of minutes that may be 0 (a forward-fill limit): 0 to a week.
pub fn minutes_or_zero(text: &str) -> Result<usize, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    minutes(text)
}

/// A count of minutes (a window, a horizon): 1 to a week.
pub fn minutes(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of minutes"))?;
    if (1..=10_080).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} is not in 1..=10080 minutes (a week)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_and_out_of_range_values_are_refused() {
        for bad in ["nan", "NaN", "inf", "-inf", "1e400", "x", ""] {
            assert!(positive(bad).is_err(), "{bad}");
            assert!(probability(bad).is_err(), "{bad}");
        }
        assert_eq!(positive("2.5"), Ok(2.5));
        assert!(positive("0").is_err() && positive("-1").is_err());
        assert_eq!(probability("0"), Ok(0.0));
        assert!(probability("1.01").is_err());
        assert!(fraction("0").is_err() && fraction("1").is_err());
        assert!(timeout_seconds("1e300").is_err());
        assert_eq!(minutes("60"), Ok(60));
        assert!(minutes("0").is_err() && minutes("18446744073709551615").is_err());
    }
}
