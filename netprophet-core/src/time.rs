//! UTC timestamps as the CSV files write them (`2026-02-09 07:21:00`).
//!
//! Only UTC is needed in the data path, so a small civil-calendar
//! conversion (Howard Hinnant's days-from-civil algorithm) replaces a
//! time-zone library here. A library such as jiff was weighed and left
//! out: the inputs are three fixed layouts (ISO date-time, day-first
//! dates, Unix seconds), the conversion is exact over any `i64` second
//! (property-tested against its inverse), and a default build of
//! netprophet-core stays free of time-zone data and its crates.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
///
/// ```
/// assert_eq!(netprophet_core::time::format_utc(1770621660), "2026-02-09 07:21:00");
/// ```
pub fn format_utc(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses `YYYY-MM-DD HH:MM[:SS]`, with `T` instead of the space allowed
/// and an optional `Z` or `+00:00` suffix, a bare `YYYY-MM-DD`, the
/// day-first `DD/MM/YYYY HH:MM[:SS]` that spreadsheet exports write (as
/// some published RTT traces are), or Unix seconds. Returns `None` for
/// anything else (including other offsets).
///
/// ```
/// use netprophet_core::time::parse_utc;
/// assert_eq!(parse_utc("2026-02-09 07:21:00"), Some(1770621660));
/// assert_eq!(parse_utc("2026-02-09T07:21:00Z"), Some(1770621660));
/// assert_eq!(parse_utc("09/02/2026 07:21"), Some(1770621660));
/// assert_eq!(parse_utc("1770621660"), Some(1770621660));
/// assert_eq!(parse_utc("2026-02-30"), None);
/// ```
pub fn parse_utc(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .unwrap_or(t);
    let (date, time) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let num = |s: &str, len: usize| -> Option<i64> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, m, d) = if date.contains('/') {
        let mut dp = date.split('/');
        let d = num(dp.next()?, 2)?;
        let m = num(dp.next()?, 2)?;
        let y = num(dp.next()?, 4)?;
        if dp.next().is_some() {
            return None;
        }
        (y, m, d)
    } else {
        let mut dp = date.split('-');
        let y = num(dp.next()?, 4)?;
        let m = num(dp.next()?, 2)?;
        let d = num(dp.next()?, 2)?;
        if dp.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    if !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_days[(m - 1) as usize] {
        return None;
    }
    let mut secs = 0;
    if let Some(time) = time {
        let mut tp = time.split(':');
        let h = num(tp.next()?, 2)?;
        let mi = num(tp.next()?, 2)?;
        let s = match tp.next() {
            Some(s) => num(s, 2)?,
            None => 0,
        };
        if tp.next().is_some() || h > 23 || mi > 59 || s > 59 {
            return None;
        }
        secs = h * 3600 + mi * 60 + s;
    }
    Some(days_from_civil(y, m, d) * 86_400 + secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn format_then_parse_is_identity(secs in -62_000_000_000i64..250_000_000_000) {
            let text = format_utc(secs);
            if (-62_135_596_800..253_402_300_800).contains(&secs) {
                prop_assert_eq!(parse_utc(&text), Some(secs));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,30}") {
            let _ = parse_utc(&s);
        }
    }

    #[test]
    fn day_first_dates() {
        assert_eq!(
            parse_utc("14/10/2016 21:17"),
            parse_utc("2016-10-14 21:17:00")
        );
        assert_eq!(
            parse_utc("29/02/2016 00:00:59"),
            parse_utc("2016-02-29 00:00:59")
        );
        assert_eq!(parse_utc("30/02/2016 00:00"), None);
        assert_eq!(
            parse_utc("10/14/2016 21:17"),
            None,
            "month first is not guessed"
        );
        assert_eq!(parse_utc("1/2/2016 00:00"), None);
    }

    #[test]
    fn leap_days() {
        assert!(parse_utc("2024-02-29").is_some());
        assert!(parse_utc("2026-02-29").is_none());
        assert!(parse_utc("2000-02-29").is_some());
        assert!(parse_utc("1900-02-29").is_none());
    }
}
