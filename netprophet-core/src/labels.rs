//! Degradation labels and the targets a model learns to predict.
//!
//! A minute is degraded when its latency rises more than `k` standard
//! deviations above its trailing mean. Three targets are built on that
//! threshold (picture in the README, "What each target labels"):
//!
//! - [`Target::Original`], the original system's: the minute `horizon`
//!   bins later is degraded. One high ping is enough, and with Atlas'
//!   4-minute cadence such a minute is usually a lone spike.
//! - [`Target::Sustained`]: the median latency of the `span` minutes that
//!   end `horizon` minutes ahead is above the threshold known *now* (and,
//!   with `min_rise`, at least that many ms above the trailing mean). A
//!   median needs most of the window to be high, so lone spikes do not
//!   count, and the threshold is the one in force before the episode, so
//!   the episode cannot raise its own bar.
//! - [`Target::Onset`]: a sustained episode ahead while the path is not in
//!   one now (rows already in an episode have no target): the warning an
//!   operator wants before a path degrades.

use crate::features::FeatureFrame;
use crate::rolling::rolling_mean_std;

/// What a model learns to predict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Target {
    /// The minute `horizon` bins ahead is degraded (the original system's
    /// `target_5m_degraded`).
    #[default]
    Original,
    /// The median of the `span` minutes ending `horizon` bins ahead is
    /// above the current threshold.
    Sustained,
    /// A sustained episode ahead while none is under way now.
    Onset,
}

impl Target {
    /// Every target, in report order.
    pub const ALL: [Target; 3] = [Target::Original, Target::Sustained, Target::Onset];

    /// Stable lower-case name (`original`, `sustained`, `onset`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Original => "original",
            Target::Sustained => "sustained",
            Target::Onset => "onset",
        }
    }

    /// The target named `name` (as [`Target::name`] spells it).
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of the labeller; [`LabelConfig::problems`] says which
/// values cannot work.
///
/// ```
/// use netprophet_core::labels::{LabelConfig, Target};
/// let config = LabelConfig::sustained().min_rise(5.0).span(10);
/// assert_eq!((config.target, config.horizon, config.span), (Target::Sustained, 15, 10));
/// assert!(config.problems().is_empty());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
#[non_exhaustive]
pub struct LabelConfig {
    /// What is predicted (default: the original target).
    pub target: Target,
    /// Standard deviations above the rolling mean (default 2.5).
    pub k: f64,
    /// Trailing window of the baseline, in bins (default 60).
    pub window: usize,
    /// How many bins ahead the target looks (default 5; for the sustained
    /// targets, where the median window ends).
    pub horizon: usize,
    /// Sustained targets: minutes whose median latency is compared
    /// (default 15).
    pub span: usize,
    /// Sustained targets: the median must also be this many ms above the
    /// trailing mean (default 0). On a quiet path the rolling std is a
    /// few hundredths of a ms, and without a floor a 0.1 ms wobble is an
    /// "episode".
    pub min_rise: f64,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            target: Target::Original,
            k: 2.5,
            window: 60,
            horizon: 5,
            span: 15,
            min_rise: 0.0,
        }
    }
}

impl LabelConfig {
    /// The sustained-episode target with its defaults: the median of the
    /// next 15 minutes, at least 2 ms above the trailing mean.
    pub fn sustained() -> Self {
        LabelConfig {
            target: Target::Sustained,
            horizon: 15,
            min_rise: 2.0,
            ..LabelConfig::default()
        }
    }

    /// The onset target with the sustained defaults.
    pub fn onset() -> Self {
        LabelConfig {
            target: Target::Onset,
            ..LabelConfig::sustained()
        }
    }

    /// The default configuration of `target`.
    pub fn for_target(target: Target) -> Self {
        match target {
            Target::Original => LabelConfig::default(),
            Target::Sustained => LabelConfig::sustained(),
            Target::Onset => LabelConfig::onset(),
        }
    }

    /// With the target set to `target` (its other parameters unchanged).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// With `k` standard deviations above the rolling mean.
    pub fn k(mut self, k: f64) -> Self {
        self.k = k;
        self
    }

    /// With a trailing window of `minutes`.
    pub fn window(mut self, minutes: usize) -> Self {
        self.window = minutes;
        self
    }

    /// With the target looking `minutes` ahead.
    pub fn horizon(mut self, minutes: usize) -> Self {
        self.horizon = minutes;
        self
    }

    /// With a median window of `minutes` (sustained targets).
    pub fn span(mut self, minutes: usize) -> Self {
        self.span = minutes;
        self
    }

    /// With a least rise of `ms` over the rolling mean (sustained targets).
    pub fn min_rise(mut self, ms: f64) -> Self {
        self.min_rise = ms;
        self
    }

    /// Every parameter that cannot work, each with the reason; empty when
    /// the configuration is usable.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(self.k.is_finite() && self.k >= 0.0) {
            out.push(format!("k = {} must be a finite number >= 0", self.k));
        }
        if self.window == 0 {
            out.push("window must be at least 1 minute".into());
        }
        if self.horizon == 0 {
            out.push("horizon must be at least 1 minute".into());
        }
        if self.target != Target::Original {
            if self.span == 0 || self.span > self.horizon {
                out.push(format!(
                    "span = {} must be between 1 and the horizon ({}): the median window lies ahead",
                    self.span, self.horizon
                ));
            }
            if !(self.min_rise.is_finite() && self.min_rise >= 0.0) {
                out.push(format!(
                    "min_rise = {} must be a finite number of ms >= 0",
                    self.min_rise
                ));
            }
        }
        out
    }
}

/// Labels of a frame, one entry per row.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Labels {
    /// rolling_mean + k x rolling_std (NaN while the std is undefined).
    pub threshold: Vec<f64>,
    /// avg_latency > threshold (false where the threshold is NaN).
    pub is_degraded: Vec<bool>,
    /// The target of each row; `None` where it cannot be known (the last
    /// rows, or an onset while an episode is under way).
    pub target: Vec<Option<bool>>,
    /// Whether the path is degraded now, in the target's own terms: the
    /// minute itself for the original target, the last `span` minutes'
    /// median for the sustained ones. "The same ahead as now" is the
    /// persistence baseline.
    pub now: Vec<bool>,
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
/// // One high minute is no sustained episode.
/// let sustained = label(&frame, LabelConfig::sustained());
/// assert!(sustained.target.iter().all(|t| *t != Some(true)));
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
    let (target, now) = match config.target {
        Target::Original => (
            (0..n)
                .map(|i| is_degraded.get(i + config.horizon).copied())
                .collect(),
            is_degraded.clone(),
        ),
        Target::Sustained | Target::Onset => sustained(frame, mean, &threshold, config),
    };
    Labels {
        threshold,
        is_degraded,
        target,
        now,
    }
}

/// The sustained (or onset) target and the "episode under way" state.
fn sustained(
    frame: &FeatureFrame,
    mean: &[f64],
    threshold: &[f64],
    config: LabelConfig,
) -> (Vec<Option<bool>>, Vec<bool>) {
    let n = frame.len();
    let span = config.span.max(1);
    // medians[j]: median of avg_latency over minutes j+1-span ..= j.
    let medians = trailing_medians(&frame.avg_latency, span);
    // Above the threshold of minute `at`, and by at least min_rise ms.
    let high =
        |median: f64, at: usize| median > threshold[at] && median - mean[at] >= config.min_rise;
    let now: Vec<bool> = (0..n)
        .map(|i| i >= span && high(medians[i], i - span))
        .collect();
    let target = (0..n)
        .map(|i| {
            let end = i + config.horizon;
            let median = *medians.get(end)?;
            if median.is_nan() || threshold[i].is_nan() {
                return None;
            }
            let ahead = high(median, i);
            match config.target {
                Target::Onset if now[i] => None,
                _ => Some(ahead),
            }
        })
        .collect();
    (target, now)
}

/// Median of each trailing window of `span` values; NaN where the window
/// is not full or holds a missing value.
fn trailing_medians(values: &[f64], span: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    let mut window: Vec<f64> = Vec::with_capacity(span);
    for end in span.saturating_sub(1)..values.len() {
        let w = &values[end + 1 - span..=end];
        if w.iter().any(|v| v.is_nan()) {
            continue;
        }
        window.clear();
        window.extend_from_slice(w);
        window.sort_unstable_by(f64::total_cmp);
        out[end] = if span % 2 == 1 {
            window[span / 2]
        } else {
            (window[span / 2 - 1] + window[span / 2]) / 2.0
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureConfig;

    fn frame(lat: &[f64]) -> FeatureFrame {
        let n = lat.len();
        FeatureFrame::from_minutes(
            (0..n as i64).map(|i| i * 60).collect(),
            lat.to_vec(),
            vec![f64::NAN; n],
            lat.to_vec(),
            lat.to_vec(),
            vec![1; n],
            FeatureConfig::default(),
        )
    }

    /// A quiet path with a little noise, then a 20-minute rise of 30 ms.
    fn episode() -> Vec<f64> {
        let mut lat: Vec<f64> = (0..120).map(|i| 50.0 + (i % 3) as f64 * 0.1).collect();
        for v in &mut lat[80..100] {
            *v += 30.0;
        }
        lat
    }

    #[test]
    fn sustained_marks_the_minutes_before_an_episode() {
        let labels = label(&frame(&episode()), LabelConfig::sustained());
        let positives: Vec<usize> = (0..120)
            .filter(|&i| labels.target[i] == Some(true))
            .collect();
        // The next 15 minutes' median is high once 8 of them are in the
        // episode: from minute 72 on, until the threshold has caught up.
        assert_eq!(positives.first(), Some(&72));
        assert!(positives.iter().all(|&i| i < 100));
        // Under way once the last 15 minutes' median is high.
        assert!(labels.now[88] && !labels.now[79]);
        assert_eq!(labels.target[119], None);
    }

    #[test]
    fn onset_has_no_target_during_an_episode() {
        let f = frame(&episode());
        let sustained = label(&f, LabelConfig::sustained());
        let onset = label(&f, LabelConfig::onset());
        for i in 0..120 {
            if sustained.now[i] {
                assert_eq!(onset.target[i], None, "minute {i}");
            } else {
                assert_eq!(onset.target[i], sustained.target[i], "minute {i}");
            }
        }
        assert!(onset.target.contains(&Some(true)));
    }

    #[test]
    fn min_rise_ignores_wobbles_on_a_quiet_path() {
        let mut lat: Vec<f64> = (0..120).map(|i| 50.0 + (i % 3) as f64 * 0.01).collect();
        for v in &mut lat[80..100] {
            *v += 0.5; // far above a 0.01 ms std, but only half a ms
        }
        let strict = label(&frame(&lat), LabelConfig::sustained());
        assert!(!strict.target.contains(&Some(true)));
        let loose = LabelConfig {
            min_rise: 0.0,
            ..LabelConfig::sustained()
        };
        assert!(label(&frame(&lat), loose).target.contains(&Some(true)));
    }

    #[test]
    fn original_target_is_unchanged() {
        let l = label(&frame(&episode()), LabelConfig::default());
        assert_eq!(l.now, l.is_degraded);
        for i in 0..115 {
            assert_eq!(l.target[i], Some(l.is_degraded[i + 5]));
        }
    }

    #[test]
    fn medians_need_a_full_window() {
        let m = trailing_medians(&[1.0, 5.0, 2.0, f64::NAN, 4.0, 3.0, 9.0], 3);
        assert!(m[0].is_nan() && m[1].is_nan());
        assert_eq!(m[2], 2.0);
        assert!(m[3].is_nan() && m[4].is_nan() && m[5].is_nan());
        assert_eq!(m[6], 4.0);
        assert_eq!(trailing_medians(&[1.0, 2.0, 4.0, 8.0], 2)[3], 6.0);
    }

    #[test]
    fn problems_name_every_bad_parameter() {
        let bad = LabelConfig {
            k: f64::NAN,
            span: 20,
            min_rise: -1.0,
            ..LabelConfig::sustained()
        };
        let p = bad.problems();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(LabelConfig::sustained().problems().is_empty());
    }
}
