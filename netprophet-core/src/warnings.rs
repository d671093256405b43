//! What an operator sees of a model: its warnings against the episodes
//! that came, its probabilities against what happened, and how sure the
//! numbers are.
//!
//! - Episodes and warnings ([`warning_record`]): an *event* is a run of
//!   consecutive minutes whose target is true; it is *caught* when the
//!   model raised an alarm (score at or above the threshold) during the
//!   run; a *false alarm* is a run of alarms that touches no event. The
//!   *warning time* of a caught event is how many minutes its first alarm
//!   came before the path was degraded in the target's own terms (the
//!   first minute whose "degraded now" state is true).
//! - Calibration ([`brier`], [`calibration_bins`], [`expected_calibration_error`]):
//!   does a 40 % risk come true 40 % of the time?
//! - Uncertainty ([`GroupedScores`]): a percentile bootstrap over probes,
//!   so an interval says how much the result depends on which paths were
//!   measured.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::metrics::{MetricError, Score};

/// Warnings against episodes on one probe's (or many probes') rows.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct WarningRecord {
    /// Events (runs of positive minutes).
    pub events: usize,
    /// Events with an alarm during them.
    pub caught: usize,
    /// Runs of alarms that touch no event.
    pub false_alarms: usize,
    /// Minutes scored (for rates per probe-day).
    pub minutes: usize,
    /// For each caught event, minutes from its first alarm to the start
    /// of the degradation (negative: the alarm came after it started).
    pub warning_minutes: Vec<i64>,
}

impl WarningRecord {
    /// Adds another record (another probe's).
    pub fn merge(&mut self, other: &WarningRecord) {
        self.events += other.events;
        self.caught += other.caught;
        self.false_alarms += other.false_alarms;
        self.minutes += other.minutes;
        self.warning_minutes
            .extend_from_slice(&other.warning_minutes);
    }

    /// False alarms per 1 440 scored minutes.
    pub fn false_alarms_per_day(&self) -> f64 {
        if self.minutes == 0 {
            0.0
        } else {
            self.false_alarms as f64 * 1440.0 / self.minutes as f64
        }
    }

    /// Median warning time of the caught events, minutes.
    pub fn median_warning(&self) -> Option<f64> {
        if self.warning_minutes.is_empty() {
            return None;
        }
        let mut w = self.warning_minutes.clone();
        w.sort_unstable();
        let n = w.len();
        Some(if n % 2 == 1 {
            w[n / 2] as f64
        } else {
            (w[n / 2 - 1] + w[n / 2]) as f64 / 2.0
        })
    }
}

/// Events, catches, false alarms and warning times of one probe's rows
/// in time order: `minutes` (Unix seconds of each row's minute), the
/// target `y`, `alarm` per row, and `now`, whether the path is degraded
/// at that row in the target's terms. A jump in `minutes` ends any run.
pub fn warning_record(
    minutes: &[i64],
    y: &[u8],
    alarm: &[bool],
    now: &[bool],
) -> Result<WarningRecord, MetricError> {
    let n = minutes.len();
    for len in [y.len(), alarm.len(), now.len()] {
        if len != n {
            return Err(MetricError::Length {
                labels: n,
                scores: len,
            });
        }
    }
    let mut rec = WarningRecord {
        minutes: n,
        ..WarningRecord::default()
    };
    let next = |i: usize| i + 1 < n && minutes[i + 1] == minutes[i] + 60;
    let mut i = 0;
    while i < n {
        // An event: a run of positives.
        if y[i] == 1 {
            let start = i;
            let mut end = i;
            while next(end) && y[end + 1] == 1 {
                end += 1;
            }
            rec.events += 1;
            if let Some(first) = (start..=end).find(|&j| alarm[j]) {
                rec.caught += 1;
                // The degradation starts at the first minute in or after
                // the run (before the next break) that is degraded now.
                let mut j = start;
                let mut onset = None;
                loop {
                    if now[j] {
                        onset = Some(j);
                        break;
                    }
                    if !next(j) || (j > end && y[j] == 1) {
                        break;
                    }
                    j += 1;
                }
                let onset_minute = onset.map_or(minutes[end] + 60, |j| minutes[j]);
                rec.warning_minutes
                    .push((onset_minute - minutes[first]) / 60);
            }
            i = end + 1;
            continue;
        }
        i += 1;
    }
    // False alarms: alarm runs with no positive row.
    let mut i = 0;
    while i < n {
        if alarm[i] {
            let mut end = i;
            let mut touches = y[i] == 1;
            while next(end) && alarm[end + 1] {
                end += 1;
                touches |= y[end] == 1;
            }
            if !touches {
                rec.false_alarms += 1;
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    Ok(rec)
}

/// Mean squared difference between probability and outcome.
pub fn brier<S: Score>(y: &[u8], p: &[S]) -> Result<f64, MetricError> {
    check(y, p)?;
    Ok(y.iter()
        .zip(p)
        .map(|(&y, &p)| (p.value() - f64::from(y)).powi(2))
        .sum::<f64>()
        / y.len() as f64)
}

/// One bin of a reliability diagram.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReliabilityBin {
    /// Mean predicted probability of the rows in the bin.
    pub predicted: f64,
    /// Fraction of them that were positive.
    pub observed: f64,
    /// Rows in the bin.
    pub rows: usize,
}

/// How to form reliability bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binning {
    /// `n` bins of equal width over [0, 1] (the usual ECE).
    EqualWidth(usize),
    /// `n` bins of (about) equal row count, which resolves the low
    /// probabilities where almost every row of a rare event lies.
    EqualMass(usize),
}

/// Rows grouped by predicted probability (empty bins left out).
pub fn calibration_bins(
    y: &[u8],
    p: &[f64],
    binning: Binning,
) -> Result<Vec<ReliabilityBin>, MetricError> {
    check(y, p)?;
    let mut acc: Vec<(f64, f64, usize)> = Vec::new();
    match binning {
        Binning::EqualWidth(n) => {
            let n = n.max(1);
            acc.resize(n, (0.0, 0.0, 0));
            for (&y, &p) in y.iter().zip(p) {
                let b = ((p * n as f64) as usize).min(n - 1);
                acc[b].0 += p;
                acc[b].1 += f64::from(y);
                acc[b].2 += 1;
            }
        }
        Binning::EqualMass(n) => {
            let n = n.max(1);
            // u32 indices: a million rows sort 4 MB, not 8.
            let mut order: Vec<u32> = (0..p.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| p[a as usize].total_cmp(&p[b as usize]));
            let at = |k: usize| order[k] as usize;
            acc.resize(n, (0.0, 0.0, 0));
            let len = order.len();
            let mut b = 0;
            let mut k = 0;
            while k < len {
                // Equal probabilities stay in one bin.
                let mut end = k + 1;
                while end < len && p[at(end)] == p[at(k)] {
                    end += 1;
                }
                for j in k..end {
                    let i = at(j);
                    acc[b].0 += p[i];
                    acc[b].1 += f64::from(y[i]);
                    acc[b].2 += 1;
                }
                if acc[b].2 * n >= len && b + 1 < n {
                    b += 1;
                }
                k = end;
            }
        }
    }
    Ok(acc
        .into_iter()
        .filter(|a| a.2 > 0)
        .map(|(sp, sy, rows)| ReliabilityBin {
            predicted: sp / rows as f64,
            observed: sy / rows as f64,
            rows,
        })
        .collect())
}

/// Expected calibration error: the row-weighted mean gap between predicted
/// and observed rates over `binning`'s bins.
pub fn expected_calibration_error(
    y: &[u8],
    p: &[f64],
    binning: Binning,
) -> Result<f64, MetricError> {
    let bins = calibration_bins(y, p, binning)?;
    let total: usize = bins.iter().map(|b| b.rows).sum();
    Ok(bins
        .iter()
        .map(|b| (b.predicted - b.observed).abs() * b.rows as f64)
        .sum::<f64>()
        / total as f64)
}

fn check<S: Score>(y: &[u8], p: &[S]) -> Result<(), MetricError> {
    if y.len() != p.len() {
        return Err(MetricError::Length {
            labels: y.len(),
            scores: p.len(),
        });
    }
    if y.is_empty() {
        return Err(MetricError::Empty);
    }
    if let Some(index) = p.iter().position(|v| v.value().is_nan()) {
        return Err(MetricError::NaN { index });
    }
    Ok(())
}

/// A 95 % percentile interval.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Interval {
    /// 2.5th percentile.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
}

/// Scores of many probes, summarised per probe so that a bootstrap over
/// probes costs a few thousand additions per replicate, not a sort of
/// every row: scores are placed in up to [`GroupedScores::LEVELS`]
/// quantile levels of the pooled scores, and each probe keeps its
/// positives and negatives per level and its counts at the threshold.
#[derive(Clone, Debug)]
pub struct GroupedScores {
    levels: usize,
    /// Per probe: positives and negatives per level, then (tp, fp, fn) at
    /// the threshold and the Brier sum.
    groups: Vec<Group>,
}

#[derive(Clone, Debug)]
struct Group {
    pos: Vec<u32>,
    neg: Vec<u32>,
    tp: u64,
    fp: u64,
    fn_: u64,
    brier: f64,
    rows: u64,
}

/// The bootstrap intervals of PR-AUC, F1 (at the threshold) and Brier.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BootstrapIntervals {
    /// Average precision.
    pub pr_auc: Interval,
    /// F1 of the positive class at the threshold.
    pub f1: Interval,
    /// Brier score.
    pub brier: Interval,
}

impl GroupedScores {
    /// Most quantile levels the scores are placed in.
    pub const LEVELS: usize = 4096;

    /// Summarises rows with their `group` (probe), label, probability and
    /// whether an alarm was raised (the probability against its decision
    /// threshold, which may differ between folds).
    pub fn new<G: Ord + Copy>(
        group: &[G],
        y: &[u8],
        p: &[f64],
        alarm: &[bool],
    ) -> Result<GroupedScores, MetricError> {
        check(y, p)?;
        for len in [group.len(), alarm.len()] {
            if len != y.len() {
                return Err(MetricError::Length {
                    labels: y.len(),
                    scores: len,
                });
            }
        }
        // The cut points come from at most ~64k of the scores (every k-th):
        // their quantiles place the levels as well as all of them would,
        // without a sorted copy of a million rows.
        let stride = (p.len() / 65_536).max(1);
        let mut sorted: Vec<f64> = p.iter().step_by(stride).copied().collect();
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        // Cut points: quantiles of the distinct scores, so ties share a
        // level and the top of the ranking keeps its resolution.
        let step = (sorted.len() as f64 / Self::LEVELS as f64).max(1.0);
        let cuts: Vec<f64> = (1..Self::LEVELS)
            .map(|k| (k as f64 * step) as usize)
            .take_while(|&i| i < sorted.len())
            .map(|i| sorted[i])
            .collect();
        let levels = cuts.len() + 1;
        let mut ids: Vec<G> = Vec::new();
        for &g in group {
            if ids.last() != Some(&g) {
                ids.push(g);
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut groups: Vec<Group> = ids
            .iter()
            .map(|_| Group {
                pos: vec![0; levels],
                neg: vec![0; levels],
                tp: 0,
                fp: 0,
                fn_: 0,
                brier: 0.0,
                rows: 0,
            })
            .collect();
        for i in 0..y.len() {
            let g = &mut groups[ids.binary_search(&group[i]).unwrap_or(0)];
            let level = cuts.partition_point(|&c| c <= p[i]);
            let alarm = alarm[i];
            if y[i] == 1 {
                g.pos[level] += 1;
                if alarm {
                    g.tp += 1;
                } else {
                    g.fn_ += 1;
                }
            } else {
                g.neg[level] += 1;
                if alarm {
                    g.fp += 1;
                }
            }
            g.brier += (p[i] - f64::from(y[i])).powi(2);
            g.rows += 1;
        }
        Ok(GroupedScores { levels, groups })
    }

    /// Number of groups (probes).
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// The pooled precision-recall curve at the level boundaries, highest
    /// level first, as (recall, precision): at most [`GroupedScores::LEVELS`]
    /// points, enough to draw.
    pub fn pr_curve(&self) -> Vec<(f64, f64)> {
        let mut pos = vec![0u64; self.levels];
        let mut neg = vec![0u64; self.levels];
        for g in &self.groups {
            for l in 0..self.levels {
                pos[l] += u64::from(g.pos[l]);
                neg[l] += u64::from(g.neg[l]);
            }
        }
        let total: u64 = pos.iter().sum();
        if total == 0 {
            return Vec::new();
        }
        let (mut tp, mut fp) = (0u64, 0u64);
        let mut out = Vec::new();
        for l in (0..self.levels).rev() {
            if pos[l] + neg[l] == 0 {
                continue;
            }
            tp += pos[l];
            fp += neg[l];
            out.push((tp as f64 / total as f64, tp as f64 / (tp + fp) as f64));
        }
        out
    }

    /// Percentile intervals from `replicates` resamplings of the groups
    /// with replacement (seeded, so reports are reproducible). A
    /// replicate without a positive row is skipped.
    pub fn bootstrap(&self, replicates: usize, seed: u64) -> Option<BootstrapIntervals> {
        let k = self.groups.len();
        if k == 0 || replicates == 0 {
            return None;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut aps, mut f1s, mut briers) = (Vec::new(), Vec::new(), Vec::new());
        let mut pos = vec![0u64; self.levels];
        let mut neg = vec![0u64; self.levels];
        for _ in 0..replicates {
            pos.iter_mut().for_each(|v| *v = 0);
            neg.iter_mut().for_each(|v| *v = 0);
            let (mut tp, mut fp, mut fn_, mut brier, mut rows) = (0u64, 0u64, 0u64, 0.0, 0u64);
            for _ in 0..k {
                let g = &self.groups[rng.random_range(0..k)];
                for l in 0..self.levels {
                    pos[l] += u64::from(g.pos[l]);
                    neg[l] += u64::from(g.neg[l]);
                }
                tp += g.tp;
                fp += g.fp;
                fn_ += g.fn_;
                brier += g.brier;
                rows += g.rows;
            }
            let total_pos: u64 = pos.iter().sum();
            if total_pos == 0 {
                continue;
            }
            // Average precision over levels, highest first.
            let (mut ctp, mut cfp, mut ap, mut prev_recall) = (0u64, 0u64, 0.0, 0.0);
            for l in (0..self.levels).rev() {
                if pos[l] + neg[l] == 0 {
                    continue;
                }
                ctp += pos[l];
                cfp += neg[l];
                let recall = ctp as f64 / total_pos as f64;
                ap += (recall - prev_recall) * ctp as f64 / (ctp + cfp) as f64;
                prev_recall = recall;
            }
            aps.push(ap);
            f1s.push(if tp == 0 {
                0.0
            } else {
                2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
            });
            briers.push(brier / rows as f64);
        }
        if aps.is_empty() {
            return None;
        }
        Some(BootstrapIntervals {
            pr_auc: interval(&mut aps),
            f1: interval(&mut f1s),
            brier: interval(&mut briers),
        })
    }
}

fn interval(v: &mut [f64]) -> Interval {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Interval {
        low: at(0.025),
        high: at(0.975),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 60).collect()
    }

    #[test]
    fn events_catches_and_false_alarms() {
        //        0  1  2  3  4  5  6  7  8  9
        let y = [0, 1, 1, 1, 0, 0, 0, 1, 1, 0];
        let a = [1, 1, 0, 0, 0, 1, 1, 0, 0, 0].map(|v| v == 1);
        let now = [0, 0, 0, 1, 1, 0, 0, 0, 0, 1].map(|v| v == 1);
        let r = warning_record(&minutes(10), &y, &a, &now).unwrap();
        assert_eq!((r.events, r.caught, r.false_alarms), (2, 1, 1));
        // First alarm in the first event at minute 1, degraded from 3.
        assert_eq!(r.warning_minutes, vec![2]);
        assert_eq!(r.median_warning(), Some(2.0));
        // 1 false alarm in 10 minutes.
        assert_eq!(r.false_alarms_per_day(), 144.0);
    }

    #[test]
    fn a_gap_in_time_splits_runs() {
        let m = [0, 60, 600, 660];
        let r = warning_record(&m, &[1, 1, 1, 1], &[false; 4], &[false; 4]).unwrap();
        assert_eq!(r.events, 2);
        assert!(warning_record(&m, &[1], &[false], &[false]).is_err());
    }

    #[test]
    fn calibration_measures() {
        let y = [0, 0, 1, 1];
        let p = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(brier(&y, &p).unwrap(), 0.0);
        assert_eq!(
            expected_calibration_error(&y, &p, Binning::EqualWidth(10)).unwrap(),
            0.0
        );
        let p = [0.5; 4];
        assert_eq!(brier(&y, &p).unwrap(), 0.25);
        assert_eq!(
            expected_calibration_error(&y, &p, Binning::EqualWidth(10)).unwrap(),
            0.0,
            "50 % that comes true half the time is calibrated"
        );
        let p = [0.2, 0.2, 0.2, 0.2];
        let ece = expected_calibration_error(&y, &p, Binning::EqualWidth(10)).unwrap();
        assert!((ece - 0.3).abs() < 1e-12);
        let bins = calibration_bins(&y, &[0.1, 0.2, 0.3, 0.4], Binning::EqualMass(2)).unwrap();
        assert_eq!(bins.len(), 2);
        assert_eq!((bins[0].rows, bins[1].rows), (2, 2));
        assert!((bins[1].observed - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_brackets_the_pooled_value() {
        // 20 probes; the score is informative on every probe.
        let mut group = vec![];
        let mut y = vec![];
        let mut p = vec![];
        for g in 0..20u64 {
            for i in 0..200u64 {
                let positive = (i * 7 + g) % 13 == 0;
                group.push(g);
                y.push(u8::from(positive));
                let noise = ((i * 31 + g * 17) % 100) as f64 / 100.0;
                p.push(if positive {
                    0.3 + 0.6 * noise
                } else {
                    0.5 * noise
                });
            }
        }
        let pooled = crate::metrics::average_precision(&y, &p).unwrap();
        let alarm: Vec<bool> = p.iter().map(|&v| v >= 0.5).collect();
        let s = GroupedScores::new(&group, &y, &p, &alarm).unwrap();
        assert_eq!(s.groups(), 20);
        let ci = s.bootstrap(300, 7).unwrap();
        assert!(
            ci.pr_auc.low <= pooled && pooled <= ci.pr_auc.high,
            "{ci:?} {pooled}"
        );
        assert!(ci.pr_auc.high - ci.pr_auc.low < 0.2);
        assert_eq!(s.bootstrap(300, 7).unwrap(), ci, "seeded");
    }
}
