//! One probe's feature rows built minute by minute as samples arrive
//! ([`StreamingFeatures`]), equal bit for bit to the batch frame's rows.

use std::collections::VecDeque;

use super::{continues, Bin, FeatureConfig};
use crate::minute::{bin_of, FeatureRow, BIN_SECONDS};
use crate::rolling::Rolling;

/// Something the streaming builder cannot accept.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StreamError {
    /// A sample belongs to a minute that was already emitted.
    #[error("sample at {timestamp} is older than the open minute {open} (samples must arrive in time order)")]
    OutOfOrder {
        /// The sample's timestamp.
        timestamp: i64,
        /// Start of the minute being built.
        open: i64,
    },
}

/// Builds one probe's feature rows incrementally: push samples in time
/// order, and every minute that closes comes out as a [`FeatureRow`] equal,
/// bit for bit, to the batch frame's row for that minute.
///
/// ```
/// use netprophet_core::features::{FeatureConfig, StreamingFeatures};
///
/// let mut live = StreamingFeatures::new(FeatureConfig::default());
/// let mut rows = vec![];
/// live.push(0, Some(10.0), &mut rows).unwrap();
/// live.push(61, Some(12.0), &mut rows).unwrap(); // closes minute 0
/// live.push(190, None, &mut rows).unwrap(); // a lost packet at minute 180
/// assert_eq!(rows.len(), 3); // minutes 0, 60 and the empty 120
/// assert_eq!(rows[2].packet_count, 0);
/// assert_eq!(rows[2].avg_latency, 12.0); // forward-filled
/// live.close_through(240, &mut rows); // minutes 120 (empty) ... 240
/// assert_eq!(rows.last().unwrap().timestamp, 240);
/// ```
#[derive(Clone, Debug)]
pub struct StreamingFeatures {
    config: FeatureConfig,
    open: Option<(i64, Bin)>,
    next_minute: Option<i64>,
    /// The last minute with an observation: empty minutes are filled
    /// only up to `max_fill` after it.
    last_observed: Option<i64>,
    last: [f64; 4],
    since: f64,
    rolling: Rolling,
    window: VecDeque<f64>,
    lagged: VecDeque<f64>,
}

impl StreamingFeatures {
    /// A builder with no history.
    pub fn new(config: FeatureConfig) -> Self {
        StreamingFeatures {
            config,
            open: None,
            next_minute: None,
            last_observed: None,
            last: [f64::NAN; 4],
            since: f64::NAN,
            rolling: Rolling::new(),
            window: VecDeque::with_capacity(config.window.max(1) + 1),
            lagged: VecDeque::with_capacity(config.change_lag + 1),
        }
    }

    /// Adds one sample (`None` = lost packet); rows of the minutes it closes
    /// are appended to `out`.
    pub fn push(
        &mut self,
        timestamp: i64,
        rtt: Option<f64>,
        out: &mut Vec<FeatureRow>,
    ) -> Result<(), StreamError> {
        let minute = bin_of(timestamp);
        match &mut self.open {
            Some((open, bin)) if *open == minute => {
                bin.push(rtt);
                return Ok(());
            }
            Some((open, _)) if *open > minute => {
                return Err(StreamError::OutOfOrder {
                    timestamp,
                    open: *open,
                })
            }
            _ => {}
        }
        if let Some(next) = self.next_minute {
            if minute < next {
                return Err(StreamError::OutOfOrder {
                    timestamp,
                    open: next,
                });
            }
        }
        let mut bin = Bin::default();
        bin.push(rtt);
        self.open_minute(minute, bin, out);
        Ok(())
    }

    /// Closes what precedes `minute` and opens it; after a gap longer
    /// than `max_fill` the builder starts a new segment (all state reset),
    /// exactly where the batch path starts a new frame.
    fn open_minute(&mut self, minute: i64, bin: Bin, out: &mut Vec<FeatureRow>) {
        if let Some(last) = self.last_observed {
            if !continues(last, minute, self.config.max_fill) {
                self.close_through(last, out);
                *self = StreamingFeatures::new(self.config);
            }
        }
        self.close_through(minute - BIN_SECONDS, out);
        self.open = Some((minute, bin));
        self.last_observed = Some(minute);
    }

    /// Adds a whole minute's bin (as [`ProbeBins::bins`](super::ProbeBins::bins) gives them); rows
    /// of the minutes it closes are appended to `out`. The minute must be
    /// later than any minute seen so far.
    pub fn push_bin(
        &mut self,
        minute: i64,
        bin: Bin,
        out: &mut Vec<FeatureRow>,
    ) -> Result<(), StreamError> {
        let minute = bin_of(minute);
        let open = self.open.as_ref().map(|(m, _)| *m);
        if let Some(next) = open.map(|m| m + BIN_SECONDS).or(self.next_minute) {
            if minute < next {
                return Err(StreamError::OutOfOrder {
                    timestamp: minute,
                    open: next,
                });
            }
        }
        self.open_minute(minute, bin, out);
        Ok(())
    }

    /// Emits every minute up to and including `minute`: the open one and
    /// empty (forward-filled) ones after it, but never more than
    /// [`FeatureConfig::max_fill`] empty minutes after the last
    /// observation. Nothing is emitted before the first sample.
    pub fn close_through(&mut self, minute: i64, out: &mut Vec<FeatureRow>) {
        let Some(mut next) = self.next_minute.or(self.open.as_ref().map(|(m, _)| *m)) else {
            return;
        };
        let minute = match self.last_observed {
            Some(last) => minute.min(last + self.config.max_fill as i64 * BIN_SECONDS),
            None => minute,
        };
        while next <= minute {
            let bin = match self.open {
                Some((m, bin)) if m == next => {
                    self.open = None;
                    bin
                }
                _ => Bin::default(),
            };
            out.push(self.emit(next, &bin));
            next += BIN_SECONDS;
        }
        self.next_minute = Some(next);
    }

    fn emit(&mut self, minute: i64, bin: &Bin) -> FeatureRow {
        let raw = [bin.rtt.mean(), bin.rtt.std(), bin.rtt.min(), bin.rtt.max()];
        for (last, v) in self.last.iter_mut().zip(raw) {
            if !v.is_nan() {
                *last = v;
            }
        }
        let avg = self.last[0];
        let count = bin.rtt.count();
        self.since = if count > 0 { 0.0 } else { self.since + 1.0 };

        if self.window.len() == self.config.window.max(1) {
            if let Some(old) = self.window.pop_front() {
                self.rolling.remove(old);
            }
        }
        self.rolling.add(avg);
        self.window.push_back(avg);

        self.lagged.push_back(avg);
        let change = if self.lagged.len() > self.config.change_lag {
            let old = self.lagged.pop_front().unwrap_or(f64::NAN);
            avg - old
        } else {
            f64::NAN
        };
        FeatureRow {
            timestamp: minute,
            avg_latency: avg,
            jitter: self.last[1],
            rtt_min: self.last[2],
            rtt_max: self.last[3],
            packet_count: count,
            latency_change_5m: change,
            rolling_mean: self.rolling.mean(),
            rolling_std: self.rolling.std(),
            lost: bin.lost,
            minutes_since_sample: self.since,
        }
    }
}
