//! Features that look further back than the rolling hour: recent spike
//! history, the daily pattern, and the level against a day-long baseline.
//!
//! All of them are causal (a minute's values use only that minute and
//! earlier ones of the same segment) and are computed by one streaming
//! state machine, [`HistoryState`], fed one [`FeatureRow`] at a time. The
//! batch path ([`history_columns`]) runs the same machine over a frame's
//! rows, so batch, live and feature-CSV values are the same numbers bit
//! for bit by construction; tests check it anyway.
//!
//! Each feature looks back at most [`LOOKBACK_MINUTES`]; a live cycle that
//! fetches that much telemetry (plus the forward-fill limit) computes the
//! same values as a run over the whole archive.
//!
//! A *spike minute* is a minute with a reply whose latency is above its
//! rolling mean by more than `2.5 x rolling_std` and by at least
//! [`RISE_FLOOR_MS`]: the floor keeps a 0.1 ms wobble on a quiet path from
//! counting.

use std::collections::VecDeque;

use crate::minute::{FeatureRow, BIN_SECONDS};
use crate::rolling::Rolling;

/// Recent history: the latency against the hour before the last 15
/// minutes, how many recent minutes were high, how many spikes in the
/// last hour, 4 hours and day, and how long since the last one.
pub const RECENT: [&str; 9] = [
    "zscore_lagged",
    "rise_over_floor",
    "elevated_15m",
    "measured_15m",
    "spikes_60m",
    "spikes_240m",
    "spikes_1440m",
    "minutes_since_spike",
    "rise_lagged_ms",
];

/// The daily pattern: hour of day (UTC), spikes around the same time
/// yesterday, and the z-score exactly a day ago.
pub const DAILY: [&str; 3] = ["hour_of_day", "spikes_yesterday", "zscore_yesterday"];

/// The level against a day-long baseline: latency above the day's median
/// of measured minutes, and the rolling std against the day's.
pub const LEVEL: [&str; 2] = ["level_vs_day", "rolling_std_vs_day"];

/// Every history feature, in a fixed order: [`RECENT`], [`DAILY`],
/// [`LEVEL`].
pub const ALL: [&str; RECENT.len() + DAILY.len() + LEVEL.len()] = concat(RECENT, DAILY, LEVEL);

/// Three name lists joined, at compile time.
const fn concat<const A: usize, const B: usize, const C: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
    c: [&'static str; C],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < A + B {
        out[i] = b[i - A];
        i += 1;
    }
    while i < N {
        out[i] = c[i - A - B];
        i += 1;
    }
    out
}

/// Smallest rise (ms) over the rolling mean that counts as a spike or an
/// elevated minute.
pub const RISE_FLOOR_MS: f64 = 2.0;

/// Standard deviations above the mean that count as high (the labels'
/// default k).
const K: f64 = 2.5;

/// The longest look back of any history feature, in minutes: the day
/// plus an hour either side of the same time yesterday.
pub const LOOKBACK_MINUTES: usize = DAY + HALF_HOUR_WINDOW;

const DAY: usize = 1440;
/// Half of the window around the same time yesterday.
const HALF_HOUR_WINDOW: usize = 60;
/// Minutes skipped before the lagged baseline (the recent past an
/// episode may already be in).
const LAG: usize = 15;
/// Length of the lagged baseline window.
const LAG_WINDOW: usize = 60;
/// Fewest measured minutes for a day baseline.
const MIN_DAY_SAMPLES: usize = 60;

/// Whether `name` is one of [`ALL`].
pub fn is_history(name: &str) -> bool {
    ALL.contains(&name)
}

/// Look-back in minutes of a model whose features are `names`: what a
/// live cycle must have in hand to compute its features as the batch path
/// does (60 for the original features).
pub fn lookback_minutes<S: AsRef<str>>(names: &[S]) -> usize {
    names
        .iter()
        .map(|n| match n.as_ref() {
            "hour_of_day" => 0,
            "rolling_mean_240m" | "rolling_std_240m" | "spikes_240m" => 240,
            "spikes_yesterday" => LOOKBACK_MINUTES,
            n if is_history(n) && n != "zscore_lagged" && n != "rise_lagged_ms" => DAY,
            "zscore_lagged" | "rise_lagged_ms" => LAG + LAG_WINDOW,
            _ => 65,
        })
        .max()
        .unwrap_or(65)
}

/// The streaming state: push a segment's rows in time order and get each
/// minute's history features. A row that does not follow the previous
/// one by a minute starts a new segment (all state cleared).
#[derive(Clone, Debug)]
pub struct HistoryState {
    last_minute: Option<i64>,
    /// avg_latency of the last `LAG + LAG_WINDOW` minutes (newest last).
    recent_avg: VecDeque<f64>,
    /// Per minute of the last 15: elevated against its lagged baseline,
    /// and measured.
    recent15: VecDeque<(bool, bool)>,
    /// Spike flags of the last `LOOKBACK_MINUTES + 1` minutes (newest last).
    spikes: VecDeque<bool>,
    spike_counts: [u32; 3],
    since_spike: Option<usize>,
    age: usize,
    /// zscore of the last `DAY + 1` minutes.
    zscores: VecDeque<f64>,
    /// Measured latencies of the last day, by minute (NaN = no reply),
    /// and the same values sorted, for the median.
    day: VecDeque<f64>,
    day_sorted: Vec<f64>,
    day_stats: Rolling,
}

impl Default for HistoryState {
    fn default() -> Self {
        HistoryState::new()
    }
}

impl HistoryState {
    /// A state with no history.
    pub fn new() -> Self {
        HistoryState {
            last_minute: None,
            recent_avg: VecDeque::with_capacity(LAG + LAG_WINDOW + 1),
            recent15: VecDeque::with_capacity(LAG + 1),
            spikes: VecDeque::with_capacity(LOOKBACK_MINUTES + 2),
            spike_counts: [0; 3],
            since_spike: None,
            age: 0,
            zscores: VecDeque::with_capacity(DAY + 2),
            day: VecDeque::with_capacity(DAY + 1),
            day_sorted: Vec::with_capacity(DAY + 1),
            day_stats: Rolling::new(),
        }
    }

    /// The history features of `row` (in [`ALL`]'s order), given every
    /// earlier row of its segment.
    pub fn push(&mut self, row: &FeatureRow) -> [f64; ALL.len()] {
        if self
            .last_minute
            .is_some_and(|m| row.timestamp != m + BIN_SECONDS)
        {
            *self = HistoryState::new();
        }
        self.last_minute = Some(row.timestamp);
        self.age += 1;
        let avg = row.avg_latency;
        let measured = row.packet_count > 0;
        let zscore = if row.rolling_std > 0.0 {
            (avg - row.rolling_mean) / row.rolling_std
        } else {
            f64::NAN
        };
        let (zscore_lagged, rise_lagged, elevated_15m, measured_15m) = self.lagged(avg, measured);

        let rise = avg - row.rolling_mean;
        let floor = (K * row.rolling_std).max(RISE_FLOOR_MS);
        let spike = measured && !row.rolling_std.is_nan() && rise > floor;
        let (minutes_since_spike, spikes_yesterday) = self.spikes(spike);

        push_capped(&mut self.zscores, zscore, DAY + 1);
        let zscore_yesterday = if self.zscores.len() == DAY + 1 {
            self.zscores[0]
        } else {
            f64::NAN
        };
        let (level_vs_day, rolling_std_vs_day) =
            self.day_level(measured.then_some(avg), avg, row.rolling_std);

        [
            zscore_lagged,
            rise / floor,
            elevated_15m,
            measured_15m,
            f64::from(self.spike_counts[0]),
            f64::from(self.spike_counts[1]),
            f64::from(self.spike_counts[2]),
            minutes_since_spike,
            rise_lagged,
            row.timestamp.rem_euclid(86_400) as f64 / 3600.0,
            spikes_yesterday,
            zscore_yesterday,
            level_vs_day,
            rolling_std_vs_day,
        ]
    }

    /// The latency against the hour before the last 15 minutes: its
    /// z-score and rise, and how many of the last 15 minutes were measured
    /// and how many were high against it.
    fn lagged(&mut self, avg: f64, measured: bool) -> (f64, f64, f64, f64) {
        let (lag_mean, lag_std) = if self.recent_avg.len() >= LAG + LAG_WINDOW {
            let older = self
                .recent_avg
                .range(self.recent_avg.len() - LAG - LAG_WINDOW..);
            mean_std(older.take(LAG_WINDOW).copied())
        } else {
            (f64::NAN, f64::NAN)
        };
        push_capped(&mut self.recent_avg, avg, LAG + LAG_WINDOW);
        let zscore_lagged = if lag_std > 0.0 {
            (avg - lag_mean) / lag_std
        } else {
            f64::NAN
        };
        let rise_lagged = avg - lag_mean;
        let elevated = measured && avg > lag_mean + K * lag_std && rise_lagged >= RISE_FLOOR_MS;
        push_capped(&mut self.recent15, (elevated, measured), LAG);
        let elevated_15m = self.recent15.iter().filter(|e| e.0).count() as f64;
        let measured_15m = self.recent15.iter().filter(|e| e.1).count() as f64;
        (zscore_lagged, rise_lagged, elevated_15m, measured_15m)
    }

    /// Records whether this minute is a spike; the minutes since the last
    /// one and the spikes around this time yesterday. The 1 h, 4 h and day
    /// counts are kept in `spike_counts`.
    fn spikes(&mut self, spike: bool) -> (f64, f64) {
        self.spikes.push_back(spike);
        let n = self.spikes.len();
        for (count, window) in self.spike_counts.iter_mut().zip([60, 240, DAY]) {
            *count += u32::from(spike);
            if n > window && self.spikes[n - 1 - window] {
                *count -= 1;
            }
        }
        if n > LOOKBACK_MINUTES + 1 {
            self.spikes.pop_front();
        }
        self.since_spike = if spike {
            Some(0)
        } else {
            self.since_spike.map(|s| s + 1)
        };
        let minutes_since_spike = match self.since_spike {
            Some(s) if s < DAY => s as f64,
            _ if self.age > DAY => DAY as f64,
            _ => f64::NAN,
        };
        let n = self.spikes.len();
        let spikes_yesterday = if n > LOOKBACK_MINUTES {
            // Minutes t-1500 ..= t-1380: the two hours around this time
            // yesterday.
            self.spikes
                .range(n - 1 - LOOKBACK_MINUTES..n - 1 - (DAY - HALF_HOUR_WINDOW) + 1)
                .filter(|&&s| s)
                .count() as f64
        } else {
            f64::NAN
        };
        (minutes_since_spike, spikes_yesterday)
    }

    /// Adds this minute's measured latency (`None` without a reply) to the
    /// day's; the latency above the day's median and the rolling std
    /// against the day's.
    fn day_level(&mut self, measured: Option<f64>, avg: f64, rolling_std: f64) -> (f64, f64) {
        let value = measured.unwrap_or(f64::NAN);
        self.day.push_back(value);
        if !value.is_nan() {
            let at = self.day_sorted.partition_point(|&v| v < value);
            self.day_sorted.insert(at, value);
            self.day_stats.add(value);
        }
        if self.day.len() > DAY {
            if let Some(old) = self.day.pop_front() {
                if !old.is_nan() {
                    let at = self.day_sorted.partition_point(|&v| v < old);
                    self.day_sorted.remove(at);
                    self.day_stats.remove(old);
                }
            }
        }
        if self.day_sorted.len() < MIN_DAY_SAMPLES {
            return (f64::NAN, f64::NAN);
        }
        let k = self.day_sorted.len();
        let median = if k % 2 == 1 {
            self.day_sorted[k / 2]
        } else {
            (self.day_sorted[k / 2 - 1] + self.day_sorted[k / 2]) / 2.0
        };
        let day_std = self.day_stats.std();
        (
            avg - median,
            if day_std > 0.0 {
                rolling_std / day_std
            } else {
                f64::NAN
            },
        )
    }
}

/// Each history feature's column over `rows` (in [`ALL`]'s order), from
/// one pass of [`HistoryState`].
pub fn history_columns(rows: impl IntoIterator<Item = FeatureRow>) -> Vec<Vec<f64>> {
    let mut state = HistoryState::new();
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); ALL.len()];
    for row in rows {
        for (col, v) in columns.iter_mut().zip(state.push(&row)) {
            col.push(v);
        }
    }
    columns
}

fn push_capped<T>(q: &mut VecDeque<T>, v: T, cap: usize) {
    q.push_back(v);
    if q.len() > cap {
        q.pop_front();
    }
}

/// Mean and sample std of finite values (NaN when fewer than two).
fn mean_std(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut n, mut mean, mut m2) = (0.0f64, 0.0f64, 0.0f64);
    for v in values.filter(|v| !v.is_nan()) {
        n += 1.0;
        let d = v - mean;
        mean += d / n;
        m2 += d * (v - mean);
    }
    if n < 2.0 {
        return (if n == 1.0 { mean } else { f64::NAN }, f64::NAN);
    }
    (mean, (m2 / (n - 1.0)).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{FeatureConfig, FeatureFrame};

    fn frame(lat: &[f64], measured_every: usize) -> FeatureFrame {
        let n = lat.len();
        FeatureFrame::from_minutes(
            (0..n as i64)
                .map(|i| 1_700_000_000 / 60 * 60 + i * 60)
                .collect(),
            lat.to_vec(),
            vec![f64::NAN; n],
            lat.to_vec(),
            lat.to_vec(),
            (0..n).map(|i| u32::from(i % measured_every == 0)).collect(),
            FeatureConfig::default(),
        )
    }

    fn col<'a>(cols: &'a [Vec<f64>], name: &str) -> &'a [f64] {
        &cols[ALL.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn spikes_are_counted_over_their_windows() {
        let mut lat: Vec<f64> = (0..3600).map(|i| 50.0 + (i % 5) as f64 * 0.05).collect();
        for &at in &[500usize, 900, 2000] {
            lat[at] += 40.0;
        }
        let cols = history_columns(frame(&lat, 1).rows());
        let spikes60 = col(&cols, "spikes_60m");
        assert_eq!(spikes60[499], 0.0);
        assert_eq!(spikes60[500], 1.0);
        assert_eq!(spikes60[559], 1.0);
        assert_eq!(spikes60[560], 0.0);
        assert_eq!(col(&cols, "spikes_1440m")[1000], 2.0);
        assert_eq!(col(&cols, "minutes_since_spike")[910], 10.0);
        assert!(col(&cols, "minutes_since_spike")[100].is_nan());
        assert_eq!(col(&cols, "minutes_since_spike")[2000 + 1440], 1440.0);
        // Around this time yesterday: the spikes at 500 and 900 are
        // yesterday for minutes 1940 and 2340.
        assert_eq!(col(&cols, "spikes_yesterday")[1940], 1.0);
        assert_eq!(col(&cols, "spikes_yesterday")[2340], 1.0);
        assert_eq!(col(&cols, "spikes_yesterday")[2600], 0.0);
        assert!(col(&cols, "spikes_yesterday")[1400].is_nan());
    }

    #[test]
    fn a_small_wobble_on_a_quiet_path_is_no_spike() {
        let mut lat: Vec<f64> = (0..300).map(|i| 50.0 + (i % 3) as f64 * 0.01).collect();
        lat[200] += 1.0; // 50 std, but 1 ms
        let cols = history_columns(frame(&lat, 1).rows());
        assert_eq!(col(&cols, "spikes_60m")[200], 0.0);
        assert!(col(&cols, "rise_over_floor")[200] < 1.0);
    }

    #[test]
    fn lagged_baseline_and_elevated_minutes() {
        let mut lat = vec![100.0; 200];
        for (i, v) in lat.iter_mut().enumerate() {
            *v += (i % 4) as f64 * 0.5;
        }
        for v in &mut lat[150..] {
            *v += 20.0;
        }
        let cols = history_columns(frame(&lat, 2).rows());
        // Before 75 minutes of history there is no lagged baseline.
        assert!(col(&cols, "zscore_lagged")[70].is_nan());
        assert!(col(&cols, "zscore_lagged")[152] > 10.0);
        assert!((col(&cols, "rise_lagged_ms")[152] - 20.0).abs() < 1.0);
        // Measured every other minute: 8 of the last 15 at most.
        assert_eq!(col(&cols, "measured_15m")[160], 8.0);
        assert_eq!(col(&cols, "elevated_15m")[160], 6.0);
        assert_eq!(col(&cols, "elevated_15m")[140], 0.0);
    }

    #[test]
    fn daily_level_and_hour() {
        let lat: Vec<f64> = (0..2000)
            .map(|i| 80.0 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let f = frame(&lat, 1);
        let cols = history_columns(f.rows());
        assert!(col(&cols, "level_vs_day")[30].is_nan(), "too few minutes");
        assert_eq!(col(&cols, "level_vs_day")[1500], 1.0);
        let h = col(&cols, "hour_of_day")[0];
        assert_eq!(h, (f.timestamp[0] % 86_400) as f64 / 3600.0);
        assert!(col(&cols, "zscore_yesterday")[1439].is_nan());
        let z = |i: usize| {
            let r = f.row(i);
            (r.avg_latency - r.rolling_mean) / r.rolling_std
        };
        assert_eq!(col(&cols, "zscore_yesterday")[1500], z(60));
    }

    #[test]
    fn a_new_segment_starts_from_nothing() {
        let lat: Vec<f64> = (0..200).map(|i| 10.0 + (i % 7) as f64).collect();
        let f = frame(&lat, 1);
        let mut rows: Vec<FeatureRow> = f.rows().collect();
        for r in &mut rows[100..] {
            r.timestamp += 3600; // a gap: the rest is another segment
        }
        let cols = history_columns(rows.iter().copied());
        let fresh = history_columns(rows[100..].iter().copied());
        for (a, b) in cols.iter().zip(&fresh) {
            assert_eq!(format!("{:?}", &a[100..]), format!("{b:?}"));
        }
    }

    #[test]
    fn lookback_follows_the_features() {
        assert_eq!(lookback_minutes(&crate::schema::FEATURE_COLUMNS), 65);
        assert_eq!(lookback_minutes(&["zscore", "spikes_240m"]), 240);
        assert_eq!(lookback_minutes(&ALL), LOOKBACK_MINUTES);
        assert_eq!(lookback_minutes(&["zscore_lagged"]), 75);
    }
}
