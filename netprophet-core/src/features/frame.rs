//! A probe's features as columns, one row per minute of a segment
//! ([`FeatureFrame`]), and every named column derived from them.

use super::{segments, Bin, FeatureConfig};
use crate::history;
use crate::minute::{FeatureRow, BIN_SECONDS};
use crate::rolling::{diff, ffill};
use crate::schema::{Feature, UnknownFeature};

/// Columns of different lengths cannot be read as rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column} has {len} values but column 0 has {rows}")]
pub struct RaggedColumns {
    /// The first column of another length.
    pub column: usize,
    /// Its length.
    pub len: usize,
    /// The length of the first column.
    pub rows: usize,
}

/// Equal-length columns as row-major `f32` rows (one value per column per
/// row), the layout a predictor scores.
///
/// ```
/// use netprophet_core::features::row_major;
/// assert_eq!(row_major(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap(), [1.0, 3.0, 2.0, 4.0]);
/// assert!(row_major(&[vec![1.0, 2.0], vec![3.0]]).is_err());
/// ```
pub fn row_major(columns: &[Vec<f64>]) -> Result<Vec<f32>, RaggedColumns> {
    let rows = columns.first().map_or(0, Vec::len);
    if let Some((column, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
        return Err(RaggedColumns {
            column,
            len: c.len(),
            rows,
        });
    }
    Ok((0..rows)
        .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
        .collect())
}

/// One probe's features, one row per minute from its first to its last
/// observed minute, without gaps. Columns are stored separately.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
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
    /// [`ProbeBins::bins`](super::ProbeBins::bins) gives them): one frame per segment (see
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

    /// Builds a frame from rows (as [`StreamingFeatures`](super::StreamingFeatures) emits them).
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

    /// The named columns, in the order given (a model's features, say); a
    /// name this crate does not compute is an error that lists the ones it
    /// does.
    pub fn columns<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<Vec<f64>>, UnknownFeature> {
        let features: Vec<Feature> = names
            .iter()
            .map(|n| n.as_ref().parse())
            .collect::<Result<_, _>>()?;
        // History features come from one pass over the rows, shared by
        // every one of them that is asked for.
        let mut history = features
            .iter()
            .any(|f| history::is_history(f.name()))
            .then(|| history::history_columns(self.rows()));
        Ok(features
            .iter()
            .map(|&f| {
                if let (Some(h), Some(i)) = (
                    history.as_mut(),
                    history::ALL.iter().position(|a| *a == f.name()),
                ) {
                    return std::mem::take(&mut h[i]);
                }
                self.column_of(f)
            })
            .collect())
    }

    /// The named columns as row-major `f32` rows: what a predictor
    /// scores.
    pub fn matrix<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<f32>, UnknownFeature> {
        let columns = self.columns(names)?;
        // A frame's columns all have one value per minute.
        Ok((0..self.len())
            .flat_map(|i| columns.iter().map(move |c| c[i] as f32))
            .collect())
    }

    /// A named column ([`Feature`] lists them), or `None` for a name this
    /// crate does not compute.
    pub fn column(&self, name: &str) -> Option<Vec<f64>> {
        name.parse().ok().map(|f| self.column_of(f))
    }

    /// A feature's column: the eight model features, the extended and
    /// relative columns, and the history features ([`crate::history`]).
    pub fn column_of(&self, feature: Feature) -> Vec<f64> {
        let f = |v: &[u32]| v.iter().map(|&c| f64::from(c)).collect::<Vec<f64>>();
        match feature {
            Feature::AvgLatency => self.avg_latency.clone(),
            Feature::Jitter => self.jitter.clone(),
            Feature::RttMin => self.rtt_min.clone(),
            Feature::RttMax => self.rtt_max.clone(),
            Feature::PacketCount => f(&self.packet_count),
            Feature::LatencyChange5m => self.latency_change_5m.clone(),
            Feature::RollingMean => self.rolling_mean.clone(),
            Feature::RollingStd => self.rolling_std.clone(),
            Feature::Lost => f(&self.lost),
            Feature::MinutesSinceSample => self.minutes_since_sample.clone(),
            Feature::LossRate => self
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
            Feature::MeasuredLatency => self
                .avg_latency
                .iter()
                .zip(&self.packet_count)
                .map(|(&a, &c)| if c > 0 { a } else { f64::NAN })
                .collect(),
            Feature::Zscore => self
                .avg_latency
                .iter()
                .zip(&self.rolling_mean)
                .zip(&self.rolling_std)
                .map(|((a, m), s)| if *s > 0.0 { (a - m) / s } else { f64::NAN })
                .collect(),
            Feature::RollingStdTrend5m => diff(&self.rolling_std, 5),
            Feature::RollingMean15m => crate::rolling::rolling_mean_std(&self.avg_latency, 15).0,
            Feature::RollingStd15m => crate::rolling::rolling_mean_std(&self.avg_latency, 15).1,
            Feature::RollingMean240m => crate::rolling::rolling_mean_std(&self.avg_latency, 240).0,
            Feature::RollingStd240m => crate::rolling::rolling_mean_std(&self.avg_latency, 240).1,
            Feature::LatencyChange1m => diff(&self.avg_latency, 1),
            Feature::LatencyChange15m => diff(&self.avg_latency, 15),
            Feature::Loss15m => {
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
            _ => {
                let i = history::ALL
                    .iter()
                    .position(|n| *n == feature.name())
                    .expect("every other feature is a history feature");
                history::history_columns(self.rows()).swap_remove(i)
            }
        }
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
