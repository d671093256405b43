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

use std::collections::{HashMap, VecDeque};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::atlas::Sample;
use crate::dataset::DatasetError;
use crate::rolling::{diff, ffill, BinStats, Rolling};

/// Width of a bin in seconds.
pub const BIN_SECONDS: i64 = 60;

/// The minute bin a Unix timestamp falls in (its start, in seconds).
pub fn bin_of(timestamp: i64) -> i64 {
    timestamp.div_euclid(BIN_SECONDS) * BIN_SECONDS
}

/// Parameters of the derived features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
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
fn continues(last: i64, next: i64, max_fill: usize) -> bool {
    let empty = (next - last) / BIN_SECONDS - 1;
    empty <= max_fill as i64
}

/// One probe's observations in one minute: rtt statistics and lost packets.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bin {
    /// rtt statistics of the replies.
    pub rtt: BinStats,
    /// Packets sent without a usable reply.
    pub lost: u32,
}

impl Bin {
    fn push(&mut self, rtt: Option<f64>) {
        match rtt {
            Some(v) => self.rtt.push(v),
            None => self.lost += 1,
        }
    }
}

/// One probe's samples, kept compactly until its bins are needed.
///
/// Samples may arrive in any order. Bins are formed after a stable sort by
/// timestamp, so within a minute values are accumulated in time order (and
/// in arrival order for equal timestamps), exactly as pandas does after
/// `sort_values(kind="stable")`.
///
/// A sample takes 8 bytes: its time as an offset and its rtt in whole
/// microseconds when the rtt is exactly such a value (Atlas writes rtts
/// with three decimals, and `k / 1000.0` is the same correctly rounded
/// double as parsing the decimal text). Other rtts are kept aside in full.
#[derive(Clone, Debug, Default)]
pub struct ProbeBins {
    base: i64,
    /// (time offset from `base`, rtt code), one allocation per probe: a
    /// live refresh holds thousands of probes with a few dozen samples
    /// each, where a second vector's header and slack would cost as much
    /// as the samples.
    stored: Vec<(u32, u32)>,
    exact: Vec<(u32, f64)>,
    /// Samples more than 68 years from the first one (a corrupt record at
    /// time 0, or one far in the future placed first), kept in full: rare,
    /// and dropping them, or the samples they crowd out, would lose data.
    far: Vec<(i64, Option<f64>)>,
    samples: u64,
    sorted: bool,
}

const LOST: u32 = u32::MAX;
const ASIDE: u32 = u32::MAX - 1;

impl ProbeBins {
    /// Adds one sample. A timestamp more than 68 years away from the
    /// probe's first one is kept aside in full (see
    /// [`ProbeBins::out_of_range`]); it lands in its own segment.
    pub fn push(&mut self, timestamp: i64, rtt: Option<f64>) {
        if self.stored.is_empty() && self.far.is_empty() {
            self.base = timestamp.saturating_sub(1 << 31);
            self.sorted = true;
        }
        if rtt.is_some() {
            self.samples += 1;
        }
        self.store(timestamp, rtt);
        if self.far.len() > 16 && self.far.len() > self.stored.len() {
            self.rebase();
        }
    }

    /// Stores a sample against the current base (aside when it does not
    /// fit); counts nothing.
    fn store(&mut self, timestamp: i64, rtt: Option<f64>) {
        let Ok(offset) = u32::try_from(timestamp.saturating_sub(self.base)) else {
            self.far.push((timestamp, rtt));
            return;
        };
        if self.sorted && self.stored.last().is_some_and(|&(o, _)| o > offset) {
            self.sorted = false;
        }
        let code = match rtt {
            None => LOST,
            Some(v) => {
                let micros = (v * 1000.0).round();
                if v.is_sign_positive()
                    && (0.0..ASIDE as f64).contains(&micros)
                    && micros / 1000.0 == v
                {
                    micros as u32
                } else {
                    self.exact.push((self.stored.len() as u32, v));
                    ASIDE
                }
            }
        };
        self.stored.push((offset, code));
    }

    /// Re-stores every sample around the ones kept aside once they
    /// outnumber the rest (the first sample was the odd one out), so the
    /// bulk of a probe keeps its 8-byte form. Arrival order is kept within
    /// each group, and the groups are decades apart, so bins are unchanged.
    fn rebase(&mut self) {
        let far = std::mem::take(&mut self.far);
        let stored: Vec<(i64, Option<f64>)> = (0..self.stored.len())
            .map(|i| (self.base + i64::from(self.stored[i].0), self.rtt(i)))
            .collect();
        self.base = far[0].0.saturating_sub(1 << 31);
        self.stored.clear();
        self.exact.clear();
        self.sorted = true;
        for (timestamp, rtt) in far.into_iter().chain(stored) {
            self.store(timestamp, rtt);
        }
    }

    /// Number of latency samples (replies) added.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples kept aside because their time was more than 68 years from
    /// the first one's (they are still binned, in their own segments).
    pub fn out_of_range(&self) -> u64 {
        self.far.len() as u64
    }

    fn rtt(&self, i: usize) -> Option<f64> {
        match self.stored[i].1 {
            LOST => None,
            ASIDE => {
                let at = self.exact.partition_point(|(j, _)| (*j as usize) < i);
                self.exact.get(at).map(|(_, v)| *v)
            }
            micros => Some(f64::from(micros) / 1000.0),
        }
    }

    /// The non-empty bins, as (minute start, bin), in time order.
    pub fn bins(&self) -> Vec<(i64, Bin)> {
        let mut order: Vec<u32> = (0..self.stored.len() as u32).collect();
        if !self.sorted {
            order.sort_by_key(|&i| self.stored[i as usize].0);
        }
        let mut far = self.far.clone();
        far.sort_by_key(|f| f.0);
        // Samples kept aside lie wholly before or after the stored ones.
        let (before, after): (Vec<_>, Vec<_>) = far.into_iter().partition(|f| f.0 < self.base);
        let stored = order.into_iter().map(|i| {
            let i = i as usize;
            (self.base + i64::from(self.stored[i].0), self.rtt(i))
        });
        let mut bins: Vec<(i64, Bin)> = Vec::new();
        for (timestamp, rtt) in before.into_iter().chain(stored).chain(after) {
            let minute = bin_of(timestamp);
            match bins.last_mut() {
                Some((m, bin)) if *m == minute => bin.push(rtt),
                _ => {
                    let mut bin = Bin::default();
                    bin.push(rtt);
                    bins.push((minute, bin));
                }
            }
        }
        bins
    }
}

/// Samples of many probes, grouped per probe.
#[derive(Clone, Debug, Default)]
pub struct ProbeCollector {
    probes: HashMap<u64, ProbeBins>,
}

impl ProbeCollector {
    /// An empty collector.
    pub fn new() -> Self {
        ProbeCollector::default()
    }

    /// Adds samples.
    pub fn extend(&mut self, samples: &[Sample]) {
        // Samples come a result at a time, so runs share a probe: one map
        // lookup per run.
        for run in samples.chunk_by(|a, b| a.probe_id == b.probe_id) {
            let bins = self.probes.entry(run[0].probe_id).or_default();
            for s in run {
                bins.push(s.timestamp, s.rtt);
            }
        }
    }

    /// Probe ids, ascending.
    pub fn probe_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.probes.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// The probe with the most latency samples (lowest id on a tie).
    pub fn most_active(&self) -> Option<u64> {
        self.probes
            .iter()
            .max_by(|a, b| a.1.samples.cmp(&b.1.samples).then(b.0.cmp(a.0)))
            .map(|(id, _)| *id)
    }

    /// Adds another collector's samples (e.g. from another chunk).
    pub fn merge(&mut self, other: ProbeCollector) {
        for (id, bins) in other.probes {
            match self.probes.get_mut(&id) {
                None => {
                    self.probes.insert(id, bins);
                }
                Some(mine) => {
                    for i in 0..bins.stored.len() {
                        mine.push(bins.base + i64::from(bins.stored[i].0), bins.rtt(i));
                    }
                    for (timestamp, rtt) in bins.far {
                        mine.push(timestamp, rtt);
                    }
                }
            }
        }
    }

    /// Drops every probe but `keep`.
    pub fn retain(&mut self, keep: &[u64]) {
        self.probes.retain(|id, _| keep.contains(id));
    }

    /// One probe's samples.
    pub fn probe(&self, id: u64) -> Option<&ProbeBins> {
        self.probes.get(&id)
    }

    /// The frames of one probe, one per segment in time order (empty when
    /// the probe has no sample).
    pub fn probe_frames(&self, id: u64, config: FeatureConfig) -> Vec<FeatureFrame> {
        self.probes
            .get(&id)
            .map(|b| FeatureFrame::from_bins(Some(id), &b.bins(), config))
            .unwrap_or_default()
    }

    /// How many minute rows the frames of every probe will have, without
    /// building them (to size buffers once instead of growing them).
    pub fn minutes(&self, config: FeatureConfig) -> usize {
        self.probes
            .values()
            .map(|b| {
                segments(&b.bins(), config.max_fill)
                    .map(|seg| {
                        let first = seg.first().map_or(0, |s| s.0);
                        let last = seg.last().map_or(0, |s| s.0);
                        ((last - first) / BIN_SECONDS) as usize + 1
                    })
                    .sum::<usize>()
            })
            .sum()
    }

    /// Frames of every probe (one per segment), built in parallel, ordered
    /// by probe id, then time.
    pub fn frames(&self, config: FeatureConfig) -> Vec<FeatureFrame> {
        let per_probe: Vec<Vec<FeatureFrame>> = self
            .probe_ids()
            .par_iter()
            .map(|&id| FeatureFrame::from_bins(Some(id), &self.probes[&id].bins(), config))
            .collect();
        per_probe.into_iter().flatten().collect()
    }

    /// Samples kept aside because their time was far from the first one
    /// of their probe (see [`ProbeBins::out_of_range`]), over all probes.
    pub fn out_of_range(&self) -> u64 {
        self.probes.values().map(ProbeBins::out_of_range).sum()
    }
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

/// Equal-length columns as row-major `f32` rows (one value per column per
/// row), the layout a predictor scores.
pub fn row_major(columns: &[Vec<f64>]) -> Vec<f32> {
    let rows = columns.first().map_or(0, Vec::len);
    (0..rows)
        .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
        .collect()
}

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

/// One row of features for one minute.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FeatureRow {
    /// Start of the minute, Unix seconds (UTC).
    pub timestamp: i64,
    /// Mean rtt in the minute (forward-filled when empty), ms.
    pub avg_latency: f64,
    /// Sample std of rtt in the minute (forward-filled), ms.
    pub jitter: f64,
    /// Minimum rtt (forward-filled), ms.
    pub rtt_min: f64,
    /// Maximum rtt (forward-filled), ms.
    pub rtt_max: f64,
    /// Replies in the minute (0 when empty; never filled).
    pub packet_count: u32,
    /// avg_latency now minus `change_lag` minutes ago.
    pub latency_change_5m: f64,
    /// Trailing-window mean of avg_latency.
    pub rolling_mean: f64,
    /// Trailing-window sample std of avg_latency.
    pub rolling_std: f64,
    /// Packets sent without a usable reply in the minute.
    pub lost: u32,
    /// Minutes since the last minute with a reply (0 when this one has one;
    /// NaN before the first).
    pub minutes_since_sample: f64,
}

impl FeatureRow {
    /// Value of a named feature column (see [`crate::schema`]).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "avg_latency" => self.avg_latency,
            "jitter" => self.jitter,
            "rtt_min" => self.rtt_min,
            "rtt_max" => self.rtt_max,
            "packet_count" => self.packet_count as f64,
            "latency_change_5m" => self.latency_change_5m,
            "rolling_mean" => self.rolling_mean,
            "rolling_std" => self.rolling_std,
            "lost" => self.lost as f64,
            "loss_rate" => {
                let sent = self.lost + self.packet_count;
                if sent == 0 {
                    f64::NAN
                } else {
                    self.lost as f64 / sent as f64
                }
            }
            "minutes_since_sample" => self.minutes_since_sample,
            _ => return None,
        })
    }
}

/// One probe's features, one row per minute from its first to its last
/// observed minute, without gaps. Columns are stored separately.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FeatureFrame {
    /// The probe, when the frame is per probe.
    pub probe_id: Option<u64>,
    /// Parameters used.
    pub config: FeatureConfig,
    /// Minute starts, Unix seconds.
    pub timestamp: Vec<i64>,
    /// See [`FeatureRow::avg_latency`].
    pub avg_latency: Vec<f64>,
    /// See [`FeatureRow::jitter`].
    pub jitter: Vec<f64>,
    /// See [`FeatureRow::rtt_min`].
    pub rtt_min: Vec<f64>,
    /// See [`FeatureRow::rtt_max`].
    pub rtt_max: Vec<f64>,
    /// See [`FeatureRow::packet_count`].
    pub packet_count: Vec<u32>,
    /// See [`FeatureRow::latency_change_5m`].
    pub latency_change_5m: Vec<f64>,
    /// See [`FeatureRow::rolling_mean`].
    pub rolling_mean: Vec<f64>,
    /// See [`FeatureRow::rolling_std`].
    pub rolling_std: Vec<f64>,
    /// See [`FeatureRow::lost`].
    pub lost: Vec<u32>,
    /// See [`FeatureRow::minutes_since_sample`].
    pub minutes_since_sample: Vec<f64>,
}

impl FeatureFrame {
    /// Builds frames from non-empty bins sorted by minute (as
    /// [`ProbeBins::bins`] gives them): one frame per segment (see
    /// [`segments`]), in time order.
    pub fn from_bins(
        probe_id: Option<u64>,
        bins: &[(i64, Bin)],
        config: FeatureConfig,
    ) -> Vec<FeatureFrame> {
        segments(bins, config.max_fill)
            .map(|seg| FeatureFrame::from_segment(probe_id, seg, config))
            .collect()
    }

    /// One segment's frame: the bins are within `max_fill` empty minutes
    /// of each other, so the frame's length is bounded by theirs.
    fn from_segment(probe_id: Option<u64>, bins: &[(i64, Bin)], config: FeatureConfig) -> Self {
        let mut f = FeatureFrame {
            probe_id,
            config,
            ..FeatureFrame::default()
        };
        let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
            return f;
        };
        let n = ((last.0 - first.0) / BIN_SECONDS) as usize + 1;
        f.timestamp = (0..n as i64).map(|i| first.0 + i * BIN_SECONDS).collect();
        f.avg_latency = vec![f64::NAN; n];
        f.jitter = vec![f64::NAN; n];
        f.rtt_min = vec![f64::NAN; n];
        f.rtt_max = vec![f64::NAN; n];
        f.packet_count = vec![0; n];
        f.lost = vec![0; n];
        for (minute, bin) in bins {
            let i = ((minute - first.0) / BIN_SECONDS) as usize;
            f.avg_latency[i] = bin.rtt.mean();
            f.jitter[i] = bin.rtt.std();
            f.rtt_min[i] = bin.rtt.min();
            f.rtt_max[i] = bin.rtt.max();
            f.packet_count[i] = bin.rtt.count();
            f.lost[i] = bin.lost;
        }
        f.minutes_since_sample = since_sample(&f.packet_count);
        ffill(&mut f.avg_latency);
        ffill(&mut f.jitter);
        ffill(&mut f.rtt_min);
        ffill(&mut f.rtt_max);
        f.derive();
        f
    }

    /// Builds a frame from rows (as [`StreamingFeatures`] emits them).
    pub fn from_rows(probe_id: Option<u64>, rows: &[FeatureRow], config: FeatureConfig) -> Self {
        FeatureFrame {
            probe_id,
            config,
            timestamp: rows.iter().map(|r| r.timestamp).collect(),
            avg_latency: rows.iter().map(|r| r.avg_latency).collect(),
            jitter: rows.iter().map(|r| r.jitter).collect(),
            rtt_min: rows.iter().map(|r| r.rtt_min).collect(),
            rtt_max: rows.iter().map(|r| r.rtt_max).collect(),
            packet_count: rows.iter().map(|r| r.packet_count).collect(),
            latency_change_5m: rows.iter().map(|r| r.latency_change_5m).collect(),
            rolling_mean: rows.iter().map(|r| r.rolling_mean).collect(),
            rolling_std: rows.iter().map(|r| r.rolling_std).collect(),
            lost: rows.iter().map(|r| r.lost).collect(),
            minutes_since_sample: rows.iter().map(|r| r.minutes_since_sample).collect(),
        }
    }

    /// Builds a frame from already-binned, already-filled per-minute
    /// columns (such as the original system's `training_data.csv`),
    /// computing only the derived columns.
    #[allow(clippy::too_many_arguments)]
    pub fn from_minutes(
        timestamp: Vec<i64>,
        avg_latency: Vec<f64>,
        jitter: Vec<f64>,
        rtt_min: Vec<f64>,
        rtt_max: Vec<f64>,
        packet_count: Vec<u32>,
        config: FeatureConfig,
    ) -> Self {
        let n = timestamp.len();
        let mut f = FeatureFrame {
            probe_id: None,
            config,
            minutes_since_sample: since_sample(&packet_count),
            timestamp,
            avg_latency,
            jitter,
            rtt_min,
            rtt_max,
            packet_count,
            lost: vec![0; n],
            ..FeatureFrame::default()
        };
        f.derive();
        f
    }

    fn derive(&mut self) {
        self.latency_change_5m = diff(&self.avg_latency, self.config.change_lag);
        let (mean, std) = crate::rolling::rolling_mean_std(&self.avg_latency, self.config.window);
        self.rolling_mean = mean;
        self.rolling_std = std;
    }

    /// The named columns, in the order given (a model's features, say);
    /// a name this crate does not compute is an error naming it.
    pub fn columns(&self, names: &[String]) -> Result<Vec<Vec<f64>>, DatasetError> {
        // History features come from one pass over the rows, shared by
        // every one of them that is asked for.
        let mut history = names
            .iter()
            .any(|n| crate::history::is_history(n))
            .then(|| crate::history::history_columns(self.rows()));
        names
            .iter()
            .map(|n| {
                if let (Some(h), Some(i)) = (
                    history.as_mut(),
                    crate::history::ALL.iter().position(|a| a == n),
                ) {
                    return Ok(std::mem::take(&mut h[i]));
                }
                self.column(n)
                    .ok_or_else(|| DatasetError::UnknownFeature(n.clone()))
            })
            .collect()
    }

    /// The named columns as row-major `f32` rows: what a predictor
    /// scores.
    pub fn matrix(&self, names: &[String]) -> Result<Vec<f32>, DatasetError> {
        Ok(row_major(&self.columns(names)?))
    }

    /// A named column: one of the eight model features, `lost`,
    /// `loss_rate`, `minutes_since_sample`, one of [`EXTENDED`] or one of
    /// the history features ([`crate::history::ALL`]).
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        if let Some(i) = crate::history::ALL.iter().position(|a| *a == name) {
            return crate::history::history_columns(self.rows())
                .into_iter()
                .nth(i);
        }
        let f = |v: &[u32]| v.iter().map(|&c| f64::from(c)).collect::<Vec<f64>>();
        Some(match name {
            "avg_latency" => self.avg_latency.clone(),
            "jitter" => self.jitter.clone(),
            "rtt_min" => self.rtt_min.clone(),
            "rtt_max" => self.rtt_max.clone(),
            "packet_count" => f(&self.packet_count),
            "latency_change_5m" => self.latency_change_5m.clone(),
            "rolling_mean" => self.rolling_mean.clone(),
            "rolling_std" => self.rolling_std.clone(),
            "lost" => f(&self.lost),
            "minutes_since_sample" => self.minutes_since_sample.clone(),
            "loss_rate" => self
                .lost
                .iter()
                .zip(&self.packet_count)
                .map(|(&l, &c)| {
                    if l + c == 0 {
                        f64::NAN
                    } else {
                        f64::from(l) / f64::from(l + c)
                    }
                })
                .collect(),
            // The minute's own latency, missing when nothing was measured
            // (instead of a forward-filled copy).
            "measured_latency" => self
                .avg_latency
                .iter()
                .zip(&self.packet_count)
                .map(|(&a, &c)| if c > 0 { a } else { f64::NAN })
                .collect(),
            "zscore" => self
                .avg_latency
                .iter()
                .zip(&self.rolling_mean)
                .zip(&self.rolling_std)
                .map(|((a, m), s)| if *s > 0.0 { (a - m) / s } else { f64::NAN })
                .collect(),
            "rolling_std_trend_5m" => diff(&self.rolling_std, 5),
            "rolling_mean_15m" => crate::rolling::rolling_mean_std(&self.avg_latency, 15).0,
            "rolling_std_15m" => crate::rolling::rolling_mean_std(&self.avg_latency, 15).1,
            "rolling_mean_240m" => crate::rolling::rolling_mean_std(&self.avg_latency, 240).0,
            "rolling_std_240m" => crate::rolling::rolling_mean_std(&self.avg_latency, 240).1,
            "latency_change_1m" => diff(&self.avg_latency, 1),
            "latency_change_15m" => diff(&self.avg_latency, 15),
            "loss_15m" => {
                // Packets lost over the last 15 minutes.
                let lost = f(&self.lost);
                let mut acc = 0.0;
                (0..lost.len())
                    .map(|i| {
                        acc += lost[i];
                        if i >= 15 {
                            acc -= lost[i - 15];
                        }
                        acc
                    })
                    .collect()
            }
            _ => return None,
        })
    }

    /// Number of rows (minutes).
    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    /// Whether the frame has no rows.
    pub fn is_empty(&self) -> bool {
        self.timestamp.is_empty()
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> FeatureRow {
        FeatureRow {
            timestamp: self.timestamp[i],
            avg_latency: self.avg_latency[i],
            jitter: self.jitter[i],
            rtt_min: self.rtt_min[i],
            rtt_max: self.rtt_max[i],
            packet_count: self.packet_count[i],
            latency_change_5m: self.latency_change_5m[i],
            rolling_mean: self.rolling_mean[i],
            rolling_std: self.rolling_std[i],
            lost: self.lost[i],
            minutes_since_sample: self.minutes_since_sample[i],
        }
    }

    /// All rows.
    pub fn rows(&self) -> impl Iterator<Item = FeatureRow> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }
}

fn since_sample(packet_count: &[u32]) -> Vec<f64> {
    let mut since = f64::NAN;
    packet_count
        .iter()
        .map(|&c| {
            since = if c > 0 { 0.0 } else { since + 1.0 };
            since
        })
        .collect()
}

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

    /// Adds a whole minute's bin (as [`ProbeBins::bins`] gives them); rows
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
        let config = FeatureConfig {
            max_fill: 3,
            ..FeatureConfig::default()
        };
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
        let config = FeatureConfig {
            max_fill: 2,
            ..FeatureConfig::default()
        };
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
