//! Latency samples to per-probe 1-minute feature frames.
//!
//! The semantics are pandas' (`resample('1min').agg(mean, std, min, max,
//! count)`, `.ffill()`, `.diff(5)`, `.rolling(60, min_periods=1)`), so that
//! rows built here score exactly like the rows the original models were
//! trained on. [`FeatureFrame::from_bins`] builds whole frames;
//! [`StreamingFeatures`] builds the same rows one minute at a time for live
//! prediction, with bit-identical numbers.
//!
//! Forward filling has a limit: a stretch of more than
//! [`FeatureConfig::max_fill`] minutes without any observation (no reply
//! and no lost packet) ends a *segment*. Nothing is filled across it, and
//! every rolling statistic, label and target starts again after it, so a
//! probe that was offline for a day yields two frames, not a day of
//! invented minutes.

mod bins;
mod frame;
mod streaming;

pub use crate::minute::{bin_of, FeatureRow, BIN_SECONDS};
pub use bins::{Bin, ProbeBins, ProbeCollector};
pub use frame::{row_major, FeatureFrame, RaggedColumns};
pub use streaming::{StreamError, StreamingFeatures};

/// Parameters of the derived features.
///
/// ```
/// use netprophet_core::features::FeatureConfig;
/// let config = FeatureConfig::default().window(30).max_fill(10);
/// assert_eq!((config.window, config.change_lag, config.max_fill), (30, 5, 10));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct FeatureConfig {
    /// Trailing window of the rolling statistics, in bins (default 60).
    pub window: usize,
    /// Lag of `latency_change_5m`, in bins (default 5).
    pub change_lag: usize,
    /// Most consecutive minutes without any observation that are forward
    /// filled (default 30: Atlas built-in pings come every 4 minutes, so
    /// this spans several lost results but not an outage). A longer gap
    /// ends the segment.
    pub max_fill: usize,
}

impl FeatureConfig {
    /// With a rolling window of `minutes` (at least 1).
    pub fn window(mut self, minutes: usize) -> Self {
        self.window = minutes.max(1);
        self
    }

    /// With the lag of `latency_change_5m` set to `minutes`.
    pub fn change_lag(mut self, minutes: usize) -> Self {
        self.change_lag = minutes;
        self
    }

    /// With at most `minutes` forward-filled minutes before a segment ends.
    pub fn max_fill(mut self, minutes: usize) -> Self {
        self.max_fill = minutes;
        self
    }
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            window: 60,
            change_lag: 5,
            max_fill: 30,
        }
    }
}

/// Splits non-empty bins (in time order, as [`ProbeBins::bins`] gives
/// them) into segments: more than `max_fill` empty minutes between two
/// bins start a new one.
///
/// ```
/// use netprophet_core::features::{segments, Bin};
///
/// let bins: Vec<(i64, Bin)> = [0, 60, 240, 3600].iter().map(|&m| (m, Bin::default())).collect();
/// let parts: Vec<usize> = segments(&bins, 30).map(|s| s.len()).collect();
/// assert_eq!(parts, [3, 1]); // 2 empty minutes are filled, 55 are not
/// ```
pub fn segments(bins: &[(i64, Bin)], max_fill: usize) -> impl Iterator<Item = &[(i64, Bin)]> {
    bins.chunk_by(move |a, b| continues(a.0, b.0, max_fill))
}

/// Whether minute `next` continues the segment whose last observed minute
/// is `last` (at most `max_fill` empty minutes between them).
pub(crate) fn continues(last: i64, next: i64, max_fill: usize) -> bool {
    let empty = (next - last) / BIN_SECONDS - 1;
    empty <= max_fill as i64
}

/// Columns that describe the latency relative to the path's own recent
/// past, not its level: the z-score against the rolling window, the
/// 1- and 5-minute changes and the trend of the rolling std. A model on
/// these alone carries over to a later period whose baseline latency has
/// moved, where one on absolute levels does not (see the README's
/// evaluation table).
pub const RELATIVE: [&str; 4] = [
    "zscore",
    "latency_change_5m",
    "latency_change_1m",
    "rolling_std_trend_5m",
];

/// Extra columns [`FeatureFrame::column`] derives beyond the eight model
/// features: packet loss, time since the last real sample, the latency of
/// measured minutes only, multi-scale windows and the trend of the rolling
/// std. They may be missing (NaN); the trees learn where missing goes.
pub const EXTENDED: [&str; 13] = [
    "lost",
    "loss_rate",
    "loss_15m",
    "minutes_since_sample",
    "measured_latency",
    "zscore",
    "rolling_std_trend_5m",
    "rolling_mean_15m",
    "rolling_std_15m",
    "rolling_mean_240m",
    "rolling_std_240m",
    "latency_change_1m",
    "latency_change_15m",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn gaps_are_filled_and_counts_stay_zero() {
        let mut p = ProbeBins::default();
        p.push(0, Some(10.0));
        p.push(30, Some(14.0));
        p.push(200, Some(20.0));
        let f = FeatureFrame::from_bins(Some(1), &p.bins(), FeatureConfig::default()).remove(0);
        assert_eq!(f.timestamp, vec![0, 60, 120, 180]);
        assert_eq!(f.avg_latency, vec![12.0, 12.0, 12.0, 20.0]);
        assert_eq!(f.packet_count, vec![2, 0, 0, 1]);
        assert_eq!(f.minutes_since_sample[1..], [1.0, 2.0, 0.0]);
        assert!(
            (f.jitter[3] - 8f64.sqrt()).abs() < 1e-15,
            "single sample keeps the filled jitter"
        );
    }

    #[test]
    fn a_gap_longer_than_max_fill_ends_the_segment() {
        let config = FeatureConfig::default().max_fill(3);
        let mut p = ProbeBins::default();
        p.push(0, Some(10.0));
        p.push(4 * 60, Some(11.0)); // 3 empty minutes: filled
        p.push(9 * 60, Some(30.0)); // 4 empty minutes: a new segment
        p.push(10 * 60, None);
        let frames = FeatureFrame::from_bins(Some(1), &p.bins(), config);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].timestamp, vec![0, 60, 120, 180, 240]);
        assert_eq!(frames[1].timestamp, vec![540, 600]);
        // Nothing carries over: the new segment's rolling mean is its own.
        assert_eq!(frames[1].rolling_mean, vec![30.0, 30.0]);
        assert!(frames[1].latency_change_5m.iter().all(|v| v.is_nan()));

        let mut live = StreamingFeatures::new(config);
        let mut rows = vec![];
        for (minute, bin) in p.bins() {
            live.push_bin(minute, bin, &mut rows).unwrap();
        }
        live.close_through(600, &mut rows);
        let batch: Vec<FeatureRow> = frames.iter().flat_map(|f| f.rows()).collect();
        assert_eq!(format!("{rows:?}"), format!("{batch:?}"));
    }

    #[test]
    fn filling_towards_now_stops_at_max_fill() {
        let config = FeatureConfig::default().max_fill(2);
        let mut live = StreamingFeatures::new(config);
        let mut rows = vec![];
        live.push(0, Some(5.0), &mut rows).unwrap();
        live.close_through(3600, &mut rows);
        assert_eq!(
            rows.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
            [0, 60, 120]
        );
        // A sample within the limit continues the segment ...
        live.push(180, Some(6.0), &mut rows).unwrap();
        live.close_through(180, &mut rows);
        assert_eq!(rows.last().unwrap().rolling_mean, 5.25);
        // ... and one after a longer gap starts afresh.
        live.push(600, Some(9.0), &mut rows).unwrap();
        live.close_through(600, &mut rows);
        assert_eq!(rows.last().unwrap().rolling_mean, 9.0);
    }

    #[test]
    fn a_far_future_record_first_does_not_crowd_out_the_rest() {
        let mut p = ProbeBins::default();
        p.push(253_402_300_000, Some(9.0)); // year 9999, placed first
        for i in 0..30 {
            p.push(1_770_621_662 + i * 240, Some(7.7));
        }
        assert_eq!(p.samples(), 31);
        let frames = FeatureFrame::from_bins(Some(1), &p.bins(), FeatureConfig::default());
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].packet_count.iter().sum::<u32>(), 30);
        assert_eq!(frames[1].len(), 1);
    }

    #[test]
    fn a_record_at_time_zero_does_not_fill_decades() {
        let mut p = ProbeBins::default();
        p.push(0, Some(1.0));
        for i in 0..100 {
            p.push(1_770_000_000 + i * 240, Some(20.0));
        }
        let frames = FeatureFrame::from_bins(Some(1), &p.bins(), FeatureConfig::default());
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].len(), 1);
        assert_eq!(frames[1].len(), 99 * 4 + 1);
    }

    #[test]
    fn compact_storage_gives_back_the_exact_rtts() {
        let mut p = ProbeBins::default();
        let values = [
            7.78,
            14.659,
            0.001,
            1e-9,
            123456.789,
            5000000.5,
            0.1 + 0.2,
            26.766299890804596,
        ];
        for (i, v) in values.iter().enumerate() {
            p.push(i as i64 * 60, Some(*v));
        }
        p.push(1 << 40, Some(1.0));
        assert_eq!(p.out_of_range(), 1);
        let got: Vec<f64> = p.bins().iter().map(|(_, b)| b.rtt.mean()).collect();
        assert_eq!(got[..values.len()], values);
        assert_eq!(got[values.len()], 1.0, "a far sample is kept, last");
    }

    #[test]
    fn out_of_order_samples_land_in_their_minute() {
        let mut p = ProbeBins::default();
        p.push(200, Some(1.0));
        p.push(10, Some(2.0));
        p.push(130, None);
        let minutes: Vec<i64> = p.bins().iter().map(|b| b.0).collect();
        assert_eq!(minutes, vec![0, 120, 180]);
    }

    #[test]
    fn streaming_equals_batch() {
        let mut p = ProbeBins::default();
        let mut live = StreamingFeatures::new(FeatureConfig::default());
        let mut rows = vec![];
        let mut t = 17;
        for i in 0..600 {
            let rtt = if i % 13 == 0 {
                None
            } else {
                Some(20.0 + ((i * 7919) % 97) as f64 / 7.0)
            };
            p.push(t, rtt);
            live.push(t, rtt, &mut rows).unwrap();
            t += 30 + (i % 5) * 70;
        }
        let f = FeatureFrame::from_bins(Some(1), &p.bins(), FeatureConfig::default()).remove(0);
        live.close_through(*f.timestamp.last().unwrap(), &mut rows);
        assert_eq!(rows.len(), f.len());
        for (i, r) in rows.iter().enumerate() {
            let b = f.row(i);
            for name in crate::schema::FEATURE_COLUMNS
                .iter()
                .chain(&["lost", "minutes_since_sample"])
            {
                assert!(
                    same(r.get(name).unwrap(), b.get(name).unwrap()),
                    "row {i} {name}"
                );
            }
        }
        assert_eq!(
            live.push(0, Some(1.0), &mut rows).unwrap_err(),
            StreamError::OutOfOrder {
                timestamp: 0,
                open: f.timestamp.last().unwrap() + 60
            }
        );
    }
}
