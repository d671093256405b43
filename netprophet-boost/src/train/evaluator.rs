//! Split evaluation (XGBoost's `hist/evaluate_splits.h`,
//! `split_evaluator.h` and the loss formulas of `param.h`): leaf weights,
//! gains, the scan over a feature's bins, monotone bounds, and which
//! split a node takes.
//!
//! Written to give XGBoost's numbers, not only its formulas: sums are
//! float64, weights and gains float32, converted where XGBoost converts;
//! bins are scanned in its order (upwards with missing values right, then,
//! if the node has missing values, downwards with them left) and ties go
//! where its comparison sends them. A split XGBoost would take by a hair
//! is the split taken here.

use super::bins::Binned;
use super::histogram::GradPair;
use super::params::TreeParams;

/// XGBoost's `kRtEps`: a split must gain more than this.
pub(crate) const RT_EPS: f32 = 1e-6;

/// Bounds on a node's leaf weight under monotone constraints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bounds {
    pub lower: f32,
    pub upper: f32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            lower: -f32::MAX,
            upper: f32::MAX,
        }
    }
}

/// A node's gradient totals and its loss without a split.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeStats {
    pub sum: GradPair,
    pub root_gain: f32,
}

/// A candidate split (XGBoost's `SplitEntry`): rows whose bin is at most
/// `bin` go left (`-1`: none but the missing ones), missing values go
/// left when `default_left`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SplitEntry {
    pub loss_chg: f32,
    pub feature: u32,
    pub bin: i32,
    pub default_left: bool,
    pub left: GradPair,
    pub right: GradPair,
}

impl SplitEntry {
    /// XGBoost's `NeedReplace`: a larger gain wins; an equal one wins only
    /// against a higher feature index, so the result does not depend on
    /// the order features were scanned in. An infinite gain (a monotone
    /// constraint broken) never does.
    fn need_replace(&self, loss_chg: f32, feature: u32) -> bool {
        if loss_chg.is_infinite() {
            false
        } else if self.feature <= feature {
            loss_chg > self.loss_chg
        } else {
            // `!(best > new)`: also true when either is NaN.
            self.loss_chg.partial_cmp(&loss_chg) != Some(std::cmp::Ordering::Greater)
        }
    }

    /// Takes `other` if it is better.
    pub fn update(&mut self, other: &SplitEntry) {
        if self.need_replace(other.loss_chg, other.feature) {
            *self = *other;
        }
    }
}

/// What applying a split gives the tree and the children (XGBoost's
/// `ApplyTreeSplit`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Applied {
    /// The split node's weight (from its children's sums added).
    pub base_weight: f32,
    /// The split node's hessian sum.
    pub sum_hess: f32,
    /// The children's leaf values (weight x eta), which they keep unless
    /// they are split in turn.
    pub leaf: [f32; 2],
    /// The children's hessian sums.
    pub hess: [f32; 2],
    /// The children's totals, as split finding sees them.
    pub stats: [NodeStats; 2],
    /// The children's weight bounds.
    pub bounds: [Bounds; 2],
}

/// XGBoost's `ThresholdL1`: the gradient sum shrunk towards 0 by `alpha`.
#[inline]
fn threshold_l1(g: f64, alpha: f32) -> f64 {
    let alpha = f64::from(alpha);
    if g > alpha {
        g - alpha
    } else if g < -alpha {
        g + alpha
    } else {
        0.0
    }
}

/// Gains and weights under one set of tree parameters.
#[derive(Clone, Copy)]
pub(crate) struct Evaluator<'a> {
    pub p: &'a TreeParams,
}

impl Evaluator<'_> {
    fn has_constraint(&self) -> bool {
        !self.p.monotone.is_empty()
    }

    /// The optimal leaf weight of `s` (`CalcWeight` of `param.h`, in
    /// float64), before bounds.
    fn raw_weight(&self, s: GradPair) -> f64 {
        let p = self.p;
        if s.h < f64::from(p.min_child_weight) || s.h <= 0.0 {
            return 0.0;
        }
        let mut dw = -threshold_l1(s.g, p.alpha) / (s.h + f64::from(p.lambda));
        if p.max_delta_step != 0.0 && dw.abs() > f64::from(p.max_delta_step) {
            dw = f64::from(p.max_delta_step).copysign(dw);
        }
        dw
    }

    /// The leaf weight of `s` in a node bounded by `b`, float32.
    pub fn weight(&self, b: Bounds, s: GradPair) -> f32 {
        let w = self.raw_weight(s) as f32;
        if !self.has_constraint() {
            w
        } else if w < b.lower {
            b.lower
        } else if w > b.upper {
            b.upper
        } else {
            w
        }
    }

    /// Whether a gain needs no leaf weight: neither `max_delta_step` nor
    /// a monotone constraint bounds the weights.
    fn weightless(&self) -> bool {
        self.p.max_delta_step == 0.0 && !self.has_constraint()
    }

    /// The loss reduction of a leaf over `s` when [`Self::weightless`]:
    /// G^2 / (H + lambda), the square in float64 and the division in
    /// float32 (XGBoost's comment: fewer rounding errors than going
    /// through the weight).
    fn gain_from_sums(&self, s: GradPair) -> f32 {
        if s.h <= 0.0 {
            return 0.0;
        }
        let g = threshold_l1(s.g, self.p.alpha);
        (g * g) as f32 / (s.h + f64::from(self.p.lambda)) as f32
    }

    /// The loss reduction of a leaf of weight `w` over `s`
    /// (`CalcGainGivenWeight` of the split evaluator).
    fn gain_given_weight(&self, s: GradPair, w: f32) -> f32 {
        if self.weightless() {
            return self.gain_from_sums(s);
        }
        if s.h <= 0.0 {
            return 0.0;
        }
        let (g, h) = (s.g as f32, s.h as f32);
        -(2.0 * g * w + (h + self.p.lambda) * (w * w))
    }

    /// A node's loss without a split, its weight bounded by `b`.
    pub fn gain(&self, b: Bounds, s: GradPair) -> f32 {
        self.gain_given_weight(s, self.weight(b, s))
    }

    /// The children's gains added (`CalcSplitGain`); minus infinity when
    /// the split breaks feature `f`'s monotone constraint.
    fn split_gain(&self, b: Bounds, f: usize, left: GradPair, right: GradPair) -> f32 {
        if self.weightless() {
            // No weight to compute (two divisions per bin): the gains come
            // from the sums alone, and no constraint compares the weights.
            return self.gain_from_sums(left) + self.gain_from_sums(right);
        }
        let wl = self.weight(b, left);
        let wr = self.weight(b, right);
        let gain = self.gain_given_weight(left, wl) + self.gain_given_weight(right, wr);
        match self.p.monotone.get(f).copied().unwrap_or(0) {
            0 => gain,
            c if c > 0 => {
                if wl <= wr {
                    gain
                } else {
                    f32::NEG_INFINITY
                }
            }
            _ => {
                if wl >= wr {
                    gain
                } else {
                    f32::NEG_INFINITY
                }
            }
        }
    }

    fn child_valid(&self, left: GradPair, right: GradPair) -> bool {
        let mcw = f64::from(self.p.min_child_weight);
        left.h >= mcw && right.h >= mcw
    }

    /// The best split of a node over `features` (ascending), from its
    /// histogram; `loss_chg` 0 when none gains anything.
    pub fn best_split(
        &self,
        binned: &Binned,
        hist: &[GradPair],
        node: &NodeStats,
        bounds: Bounds,
        features: &[usize],
    ) -> SplitEntry {
        let mut best = SplitEntry::default();
        for &f in features {
            best.update(&self.scan_feature(binned, hist, f, node, bounds));
        }
        best
    }

    /// XGBoost's `EnumerateSplit` of one feature, both directions.
    fn scan_feature(
        &self,
        binned: &Binned,
        hist: &[GradPair],
        f: usize,
        node: &NodeStats,
        bounds: Bounds,
    ) -> SplitEntry {
        let off = binned.offsets[f];
        let bins = &hist[off..off + binned.cuts[f].len()];
        let parent = node.sum;
        let feature = f as u32;
        let mut best = SplitEntry::default();
        let mut consider = |loss_chg: f32, bin: i32, default_left, left, right| {
            if best.need_replace(loss_chg, feature) {
                best = SplitEntry {
                    loss_chg,
                    feature,
                    bin,
                    default_left,
                    left,
                    right,
                };
            }
        };
        // Upwards: bins ..=i left, the rest and the missing values right.
        let mut left = GradPair::default();
        for (i, &h) in bins.iter().enumerate() {
            left += h;
            let right = parent - left;
            if self.child_valid(left, right) {
                let loss_chg = self.split_gain(bounds, f, left, right) - node.root_gain;
                consider(loss_chg, i as i32, false, left, right);
            }
        }
        // Downwards, only when the bins do not add up to the node (there
        // are missing values, or rounding says so, as in XGBoost): bins
        // i.. right, the rest and the missing values left.
        if left != parent {
            let mut upper = GradPair::default();
            for (i, &h) in bins.iter().enumerate().rev() {
                upper += h;
                let lower = parent - upper;
                if self.child_valid(upper, lower) {
                    let loss_chg = self.split_gain(bounds, f, lower, upper) - node.root_gain;
                    consider(loss_chg, i as i32 - 1, true, lower, upper);
                }
            }
        }
        best
    }

    /// Whether a node may be split by `e` (XGBoost's `IsValid` of an
    /// expand entry): it gains more than `RT_EPS` and at least `gamma`,
    /// both children have a hessian, and the depth and leaf limits allow
    /// it. `gamma` is applied here, top-down: a node that gains too
    /// little is not split, whatever its descendants would gain.
    pub fn expandable(&self, e: &SplitEntry, depth: usize, leaves: usize) -> bool {
        let p = self.p;
        e.loss_chg > RT_EPS
            && e.left.h != 0.0
            && e.right.h != 0.0
            && e.loss_chg >= p.gamma
            && !(p.max_depth > 0 && depth == p.max_depth)
            && !(p.max_leaves > 0 && leaves == p.max_leaves)
    }

    /// Applies split `e` to a node bounded by `b`.
    pub fn apply(&self, b: Bounds, e: &SplitEntry) -> Applied {
        let parent_sum = e.left + e.right;
        let wl = self.weight(b, e.left);
        let wr = self.weight(b, e.right);
        let mut bounds = [b, b];
        if let Some(&c) = self.p.monotone.get(e.feature as usize) {
            let mid = (wl + wr) / 2.0;
            if c < 0 {
                bounds[0].lower = mid;
                bounds[1].upper = mid;
            } else if c > 0 {
                bounds[0].upper = mid;
                bounds[1].lower = mid;
            }
        }
        Applied {
            base_weight: self.weight(b, parent_sum),
            sum_hess: parent_sum.h as f32,
            leaf: [wl * self.p.eta, wr * self.p.eta],
            hess: [e.left.h as f32, e.right.h as f32],
            // The children's own losses are taken under the parent's
            // bounds, as XGBoost does.
            stats: [
                NodeStats {
                    sum: e.left,
                    root_gain: self.gain(b, e.left),
                },
                NodeStats {
                    sum: e.right,
                    root_gain: self.gain(b, e.right),
                },
            ],
            bounds,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::TrainParams;

    fn params(p: TrainParams) -> TreeParams {
        p.tree_params(3)
    }

    #[test]
    fn weights_follow_alpha_max_delta_step_and_bounds() {
        let tp = params(TrainParams {
            alpha: 1.0,
            max_delta_step: 0.5,
            lambda: 1.0,
            ..TrainParams::default()
        });
        let e = Evaluator { p: &tp };
        let b = Bounds::default();
        // -(g - alpha) / (h + lambda) = -(5 - 1) / (3 + 1) = -1, capped at -0.5.
        let s = GradPair { g: 5.0, h: 3.0 };
        assert_eq!(e.weight(b, s), -0.5);
        // |g| <= alpha: no weight, no gain.
        let small = GradPair { g: 0.5, h: 3.0 };
        assert_eq!(e.weight(b, small), 0.0);
        assert_eq!(e.gain(b, small), 0.0);
        // Below min_child_weight: weight 0.
        assert_eq!(e.weight(b, GradPair { g: 5.0, h: 0.5 }), 0.0);
        let mono = params(TrainParams {
            monotone_constraints: vec![1],
            ..TrainParams::default()
        });
        let e = Evaluator { p: &mono };
        let bounded = Bounds {
            lower: -0.1,
            upper: 0.2,
        };
        assert_eq!(e.weight(bounded, GradPair { g: -10.0, h: 1.0 }), 0.2);
        assert_eq!(e.weight(bounded, GradPair { g: 10.0, h: 1.0 }), -0.1);
    }

    #[test]
    fn an_increasing_constraint_refuses_a_falling_split_and_bounds_the_children() {
        let tp = params(TrainParams {
            monotone_constraints: vec![1, -1],
            ..TrainParams::default()
        });
        let e = Evaluator { p: &tp };
        let b = Bounds::default();
        // Left weight 1, right weight -1: the prediction falls with the feature.
        let (l, r) = (GradPair { g: -2.0, h: 1.0 }, GradPair { g: 2.0, h: 1.0 });
        assert_eq!(e.split_gain(b, 0, l, r), f32::NEG_INFINITY);
        assert!(e.split_gain(b, 1, l, r) > 0.0);
        assert!(e.split_gain(b, 0, r, l) > 0.0);
        let split = SplitEntry {
            loss_chg: 1.0,
            feature: 0,
            bin: 0,
            default_left: false,
            left: r,
            right: l,
        };
        let a = e.apply(b, &split);
        // Children meet at the mid weight.
        assert_eq!(a.bounds[0].upper, 0.0);
        assert_eq!(a.bounds[1].lower, 0.0);
        assert_eq!(a.leaf, [-0.3, 0.3]);
    }

    #[test]
    fn ties_go_to_the_lower_feature_whatever_the_order() {
        let mut a = SplitEntry {
            loss_chg: 2.0,
            feature: 3,
            ..SplitEntry::default()
        };
        let b = SplitEntry {
            loss_chg: 2.0,
            feature: 1,
            ..SplitEntry::default()
        };
        a.update(&b);
        assert_eq!(a.feature, 1);
        let c = SplitEntry {
            loss_chg: 2.0,
            feature: 2,
            ..SplitEntry::default()
        };
        a.update(&c);
        assert_eq!(a.feature, 1);
        let inf = SplitEntry {
            loss_chg: f32::INFINITY,
            feature: 0,
            ..SplitEntry::default()
        };
        a.update(&inf);
        assert_eq!(a.loss_chg, 2.0);
    }
}
