//! Row and column sampling (XGBoost's `hist/sampler.h` and
//! `common/random.h` `ColumnSampler`).
//!
//! The sizes and the nesting are XGBoost's: each tree keeps
//! `max(1, floor(colsample_bytree x features))` features, each depth of
//! the tree `colsample_bylevel` of the tree's, each node
//! `colsample_bynode` of its depth's, every set drawn uniformly without
//! replacement and kept in feature order; each row enters a tree with
//! probability `subsample`. The random numbers are not XGBoost's (it draws
//! from C++'s `std::mt19937`): a seeded model is reproducible here, on any
//! number of threads, but is not the tree XGBoost grows with sampling on.
//! Per-depth and per-node draws come from their own generators, derived
//! from the seed, the round and the depth or node, so the order in which
//! threads reach nodes changes nothing.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;

use super::params::TrainParams;

/// How many of `n` features a fraction keeps, as XGBoost counts
/// (`max(1, int(fraction x n))` in float32).
pub(crate) fn keep_count(fraction: f64, n: usize) -> usize {
    ((fraction as f32 * n as f32) as usize).clamp(1, n.max(1))
}

/// `k` of `features`, uniformly without replacement, in ascending order.
fn sample(features: &[usize], fraction: f64, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let k = keep_count(fraction, features.len());
    let mut f = features.to_vec();
    f.shuffle(rng);
    f.truncate(k);
    f.sort_unstable();
    f
}

/// SplitMix64's finaliser: spreads a key over 64 bits.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The feature sets of one tree.
pub(crate) struct ColumnSampler {
    tree: Vec<usize>,
    bylevel: f64,
    bynode: f64,
    /// Seed of this tree's per-depth and per-node draws.
    key: u64,
    /// Per depth, drawn on first use.
    levels: std::sync::Mutex<Vec<Option<std::sync::Arc<Vec<usize>>>>>,
}

impl ColumnSampler {
    /// The tree's features (`colsample_bytree`, drawn from `rng`, the
    /// generator of the whole run) and what it needs for the rest.
    pub fn new(width: usize, p: &TrainParams, round: usize, rng: &mut ChaCha8Rng) -> Self {
        let all: Vec<usize> = (0..width).collect();
        let tree = if p.colsample_bytree < 1.0 {
            sample(&all, p.colsample_bytree, rng)
        } else {
            all
        };
        ColumnSampler {
            tree,
            bylevel: p.colsample_bylevel,
            bynode: p.colsample_bynode,
            key: mix(p.seed, round as u64),
            levels: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The features of the tree.
    #[cfg(test)]
    pub fn tree_features(&self) -> &[usize] {
        &self.tree
    }

    fn level(&self, depth: usize) -> std::sync::Arc<Vec<usize>> {
        // A poisoned lock only means another thread panicked; the sets
        // already drawn are still right.
        let mut levels = self
            .levels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if levels.len() <= depth {
            levels.resize(depth + 1, None);
        }
        levels[depth]
            .get_or_insert_with(|| {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(mix(self.key, 1), depth as u64));
                std::sync::Arc::new(sample(&self.tree, self.bylevel, &mut rng))
            })
            .clone()
    }

    /// The features node `node` (any number unique within the tree) at
    /// `depth` may split on.
    pub fn node_features(&self, depth: usize, node: u64) -> Cow<'_, [usize]> {
        if self.bylevel >= 1.0 && self.bynode >= 1.0 {
            return Cow::Borrowed(&self.tree);
        }
        let level = if self.bylevel >= 1.0 {
            Cow::Borrowed(&self.tree[..])
        } else {
            Cow::Owned(self.level(depth).to_vec())
        };
        if self.bynode >= 1.0 {
            return level;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(mix(self.key, 2), node));
        Cow::Owned(sample(&level, self.bynode, &mut rng))
    }
}

/// The rows of one tree: each with probability `subsample`, in order.
pub(crate) fn sample_rows(n: usize, subsample: f64, rng: &mut ChaCha8Rng, out: &mut Vec<u32>) {
    out.clear();
    if subsample < 1.0 {
        out.extend((0..n as u32).filter(|_| rng.random::<f64>() < subsample));
    } else {
        out.extend(0..n as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_xgboosts_count() {
        assert_eq!(keep_count(0.5, 8), 4);
        assert_eq!(keep_count(0.01, 8), 1);
        assert_eq!(keep_count(0.7, 10), 7);
        assert_eq!(keep_count(1.0, 3), 3);
    }

    #[test]
    fn levels_and_nodes_nest_and_repeat() {
        let p = TrainParams {
            colsample_bytree: 0.8,
            colsample_bylevel: 0.5,
            colsample_bynode: 0.5,
            seed: 11,
            ..TrainParams::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let s = ColumnSampler::new(20, &p, 3, &mut rng);
        let tree = s.tree_features().to_vec();
        assert_eq!(tree.len(), 16);
        for depth in 0..4 {
            let level = s.level(depth);
            assert_eq!(level.len(), 8);
            assert!(level.iter().all(|f| tree.contains(f)));
            for node in 0..5 {
                let set = s.node_features(depth, node);
                assert_eq!(set.len(), 4);
                assert!(set.windows(2).all(|w| w[0] < w[1]));
                assert!(set.iter().all(|f| level.contains(f)));
                // The same node draws the same set every time.
                assert_eq!(set, s.node_features(depth, node));
            }
        }
    }

    /// Every feature is as likely as any other to be drawn, at every
    /// stage: over many trees, each feature's share of the node sets is
    /// within a few standard errors of `k / n`.
    #[test]
    fn every_feature_is_drawn_equally_often() {
        let p = TrainParams {
            colsample_bytree: 0.75,
            colsample_bylevel: 0.67,
            colsample_bynode: 0.5,
            ..TrainParams::default()
        };
        let width = 12;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut counts = vec![0usize; width];
        let trials = 4000;
        for round in 0..trials {
            let s = ColumnSampler::new(width, &p, round, &mut rng);
            for &f in s.node_features(round % 5, round as u64 * 7).iter() {
                counts[f] += 1;
            }
        }
        // 12 -> 9 -> 6 -> 3 features: each drawn with probability 1/4.
        let expected = trials as f64 * 3.0 / 12.0;
        let sd = (trials as f64 * 0.25 * 0.75).sqrt();
        for (f, &c) in counts.iter().enumerate() {
            assert!(
                (c as f64 - expected).abs() < 5.0 * sd,
                "feature {f}: {c} draws, expected {expected}"
            );
        }
    }

    #[test]
    fn rows_are_sampled_at_the_rate() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut rows = Vec::new();
        sample_rows(100_000, 0.3, &mut rng, &mut rows);
        assert!(rows.windows(2).all(|w| w[0] < w[1]));
        let share = rows.len() as f64 / 100_000.0;
        assert!((share - 0.3).abs() < 0.01, "{share}");
    }
}
