//! The z-score degradation label and the five-minutes-ahead target.
//!
//! A minute is degraded when its latency rises more than `k` standard
//! deviations above its trailing mean; the training target of a minute is
//! whether the minute `horizon` bins later is degraded.

use serde::Serialize;

use crate::features::FeatureFrame;
use crate::rolling::rolling_mean_std;

/// Parameters of the labeller.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LabelConfig {
    /// Standard deviations above the rolling mean (default 2.5).
    pub k: f64,
    /// Trailing window of the baseline, in bins (default 60).
    pub window: usize,
    /// How many bins ahead the target looks (default 5).
    pub horizon: usize,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            k: 2.5,
            window: 60,
            horizon: 5,
        }
    }
}

/// Labels of a frame, one entry per row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Labels {
    /// rolling_mean + k x rolling_std (NaN while the std is undefined).
    pub threshold: Vec<f64>,
    /// avg_latency > threshold (false where the threshold is NaN).
    pub is_degraded: Vec<bool>,
    /// is_degraded `horizon` rows later; `None` for the last rows.
    pub target: Vec<Option<bool>>,
}

impl Labels {
    /// Number of rows with a target that is true.
    pub fn positives(&self) -> usize {
        self.target.iter().filter(|t| **t == Some(true)).count()
    }
}

/// Labels every row of `frame`.
///
/// When `config.window` equals the frame's feature window the frame's own
/// rolling statistics are used; otherwise they are recomputed for the
/// label window, with the same arithmetic.
///
/// ```
/// use netprophet_core::features::{FeatureConfig, FeatureFrame};
/// use netprophet_core::labels::{label, LabelConfig};
///
/// let mut lat = vec![10.0; 20];
/// lat[12] = 50.0; // a spike
/// let n = lat.len();
/// let frame = FeatureFrame::from_minutes(
///     (0..n as i64).map(|i| i * 60).collect(),
///     lat.clone(), vec![0.5; n], lat.clone(), lat, vec![3; n],
///     FeatureConfig::default(),
/// );
/// let labels = label(&frame, LabelConfig::default());
/// assert!(labels.is_degraded[12]);
/// assert_eq!(labels.target[7], Some(true)); // five minutes before the spike
/// assert_eq!(labels.target[n - 1], None);
/// ```
pub fn label(frame: &FeatureFrame, config: LabelConfig) -> Labels {
    let recomputed;
    let (mean, std) = if config.window == frame.config.window {
        (&frame.rolling_mean, &frame.rolling_std)
    } else {
        recomputed = rolling_mean_std(&frame.avg_latency, config.window);
        (&recomputed.0, &recomputed.1)
    };
    let threshold: Vec<f64> = mean
        .iter()
        .zip(std)
        .map(|(m, s)| m + config.k * s)
        .collect();
    // A NaN comparison is false, as in pandas.
    let is_degraded: Vec<bool> = frame
        .avg_latency
        .iter()
        .zip(&threshold)
        .map(|(a, t)| a > t)
        .collect();
    let n = is_degraded.len();
    let target = (0..n)
        .map(|i| is_degraded.get(i + config.horizon).copied())
        .collect();
    Labels {
        threshold,
        is_degraded,
        target,
    }
}
