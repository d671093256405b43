//! Bit-vector scoring for batches of shallow trees, after QuickScorer
//! (Lucchese et al., SIGIR 2015) and its vectorised form (V-QuickScorer,
//! SIGIR 2016).
//!
//! Each tree keeps, per row, one bit per leaf slot of the tree padded to
//! a complete one (32 slots up to depth 5, in a `u32`; 64 at depth 6, in a
//! `u64`), all set at first. A split that sends a row right clears the
//! bits of its left subtree; once every split of a tree has been applied,
//! the lowest bit still set is the leaf the row's walk ends in (slots are
//! numbered left to right, and a walk ends in the leftmost leaf that no
//! split on its way turned away from).
//!
//! The splits of the whole forest are grouped by feature and sorted by
//! threshold, so a block of rows goes through them feature by feature:
//! one comparison of a threshold against all the block's values and one
//! masked AND per row, with no walk and no dependent chain of loads. For a
//! feature, the splits whose threshold is above every value of the block
//! send no row right and are skipped at once. The lanes are plain arrays,
//! and the per-row loops are written so that the compiler turns them into
//! vector instructions (safe code, any target; the split scan is also
//! compiled for AVX2 and picked at run time, see [`apply`]).
//!
//! Results are the same bits as the tree walk: the comparisons are the
//! walk's (`value < threshold` goes left, a missing value goes its
//! default way), and each row's leaves are added in boosting order.

use std::fmt::Debug;
use std::ops::{BitAnd, BitAndAssign, BitOr, Not};

use crate::Tree;

/// Rows scored together: every split's threshold is compared against all
/// of them at once. Measured on the original model (100 000 rows, one
/// thread): 8 rows 20 % slower than 16, 32 within noise of 16.
pub(super) const LANES: usize = 16;

/// Set in [`Split::tree`] when a missing value goes right.
const MISSING_RIGHT: u32 = 1 << 31;

/// One bit per leaf slot of a complete tree.
pub(super) trait LeafBits:
    Copy
    + Debug
    + Send
    + Sync
    + BitAnd<Output = Self>
    + BitAndAssign
    + BitOr<Output = Self>
    + Not<Output = Self>
{
    /// Depth of the complete tree whose leaves the bits stand for.
    const DEPTH: usize;
    /// Every bit set.
    const ALL: Self;
    /// `count` bits set from slot `first` up.
    fn slots(first: usize, count: usize) -> Self;
    /// Every bit set when `b`, none otherwise.
    fn all_if(b: bool) -> Self;
    /// The lowest set bit's slot.
    fn lowest(self) -> usize;
}

macro_rules! leaf_bits {
    ($t:ty, $depth:expr) => {
        impl LeafBits for $t {
            const DEPTH: usize = $depth;
            const ALL: Self = <$t>::MAX;
            fn slots(first: usize, count: usize) -> Self {
                // `count` is at most half the slots, so the shift fits.
                (((1 as $t) << count) - 1) << first
            }
            #[inline(always)]
            fn all_if(b: bool) -> Self {
                (0 as $t).wrapping_sub(<$t>::from(b))
            }
            #[inline(always)]
            fn lowest(self) -> usize {
                // Never 0 (the exit leaf's bit survives); the mask keeps
                // the index in the tree's slots regardless.
                self.trailing_zeros() as usize & ((1 << $depth) - 1)
            }
        }
    };
}
leaf_bits!(u32, 5);
leaf_bits!(u64, 6);

/// One split of the forest.
#[derive(Debug, Clone, Copy)]
struct Split<M> {
    threshold: f32,
    /// Tree index, with [`MISSING_RIGHT`] set when missing goes right.
    tree: u32,
    /// Every leaf slot but those of the left subtree: the bits a row that
    /// goes right keeps.
    keep: M,
}

/// All splits of a forest, grouped by feature and sorted by threshold,
/// and every tree's leaf values in slot order.
#[derive(Debug, Clone)]
pub(super) struct Bitvectors<M> {
    splits: Vec<Split<M>>,
    /// `(f, end)`: the splits from the previous entry's end (0 for the
    /// first) to `end` split on feature `f`. Only features that some split
    /// uses are listed, so a model that claims billions of features costs
    /// nothing for those it never splits on.
    features: Vec<(usize, usize)>,
    /// `2^M::DEPTH` values per tree (a padded leaf repeats its value).
    leaves: Vec<f32>,
}

/// A forest as bit vectors: the narrowest that holds its depth.
#[derive(Debug, Clone)]
pub(super) enum BitvectorTrees {
    /// Depth 5 or less.
    Narrow(Bitvectors<u32>),
    /// Depth 6.
    Wide(Bitvectors<u64>),
}

impl BitvectorTrees {
    /// Lays out `trees`, whose deepest is `depth`; `None` when that is
    /// deeper than 6 or a threshold is NaN (a NaN threshold sends every
    /// value right, which the sorted scan cannot express).
    pub(super) fn new(trees: &[Tree], depth: usize) -> Option<BitvectorTrees> {
        if depth <= u32::DEPTH {
            Bitvectors::new(trees).map(BitvectorTrees::Narrow)
        } else if depth <= u64::DEPTH {
            Bitvectors::new(trees).map(BitvectorTrees::Wide)
        } else {
            None
        }
    }

    /// Adds every tree's leaf to the margins `out` of the rows `rows`
    /// (row-major, `width` values each; `out` has `g` margins per row, and
    /// tree `t` adds to margin `groups[t]`), in boosting order, for the
    /// largest whole number of [`LANES`]-row blocks; returns how many rows
    /// that was (the caller scores the rest).
    pub(super) fn add_leaves(
        &self,
        rows: &[f32],
        width: usize,
        out: &mut [f32],
        groups: &[u32],
        g: usize,
    ) -> usize {
        match self {
            BitvectorTrees::Narrow(b) => b.add_leaves(rows, width, out, groups, g),
            BitvectorTrees::Wide(b) => b.add_leaves(rows, width, out, groups, g),
        }
    }
}

impl<M: LeafBits> Bitvectors<M> {
    fn trees(&self) -> usize {
        self.leaves.len() >> M::DEPTH
    }

    fn new(trees: &[Tree]) -> Option<Bitvectors<M>> {
        let slots = 1usize << M::DEPTH;
        let mut by_feature: Vec<(usize, Split<M>)> = Vec::new();
        let mut leaves = vec![0.0f32; slots * trees.len()];
        for (t, tree) in trees.iter().enumerate() {
            let leaves = &mut leaves[t * slots..(t + 1) * slots];
            super::complete::pad(tree, M::DEPTH, leaves, |n, k, level| {
                let threshold = tree.split_condition[n];
                if threshold.is_nan() {
                    return None;
                }
                // The left subtree's slots: the first half of those below
                // heap index `k`.
                let below = M::DEPTH - level;
                let first = (k << below) - slots;
                let missing = if tree.default_left[n] {
                    0
                } else {
                    MISSING_RIGHT
                };
                let split = Split {
                    threshold,
                    tree: u32::try_from(t).ok().filter(|t| t & MISSING_RIGHT == 0)? | missing,
                    keep: !M::slots(first, 1 << (below - 1)),
                };
                by_feature.push((tree.split_feature[n] as usize, split));
                Some(())
            })?;
        }
        by_feature.sort_by(|(f, a), (g, b)| f.cmp(g).then(a.threshold.total_cmp(&b.threshold)));
        let mut features: Vec<(usize, usize)> = Vec::new();
        for (end, &(f, _)) in by_feature.iter().enumerate() {
            match features.last_mut() {
                Some((last, e)) if *last == f => *e = end + 1,
                _ => features.push((f, end + 1)),
            }
        }
        let splits = by_feature.into_iter().map(|(_, s)| s).collect();
        Some(Bitvectors {
            splits,
            features,
            leaves,
        })
    }

    fn add_leaves(
        &self,
        rows: &[f32],
        width: usize,
        out: &mut [f32],
        groups: &[u32],
        g: usize,
    ) -> usize {
        let mut bits = vec![[M::ALL; LANES]; self.trees()];
        if g == 1 {
            let (outs, _) = out.as_chunks_mut::<LANES>();
            for (out, rows) in outs.iter_mut().zip(rows.chunks(LANES * width)) {
                self.scan(rows, width, &mut bits);
                self.add_exits(&bits, out);
            }
            outs.len() * LANES
        } else {
            self.add_grouped(rows, width, &mut bits, out, groups, g)
        }
    }

    /// [`add_leaves`](Self::add_leaves) for `g > 1` margins per row. Out of
    /// line: inlined, the single-output loop beside it measured 5 % slower.
    #[inline(never)]
    fn add_grouped(
        &self,
        rows: &[f32],
        width: usize,
        bits: &mut [[M; LANES]],
        out: &mut [f32],
        groups: &[u32],
        g: usize,
    ) -> usize {
        let mut done = 0;
        for (out, rows) in out
            .chunks_exact_mut(LANES * g)
            .zip(rows.chunks(LANES * width))
        {
            self.scan(rows, width, bits);
            self.add_grouped_exits(bits, out, groups, g);
            done += LANES;
        }
        done
    }

    /// Applies every split to one block of rows: afterwards, the lowest
    /// bit of `bits[t][l]` is the exit leaf of tree `t` for row `l`.
    #[inline(always)]
    fn scan(&self, rows: &[f32], width: usize, bits: &mut [[M; LANES]]) {
        bits.fill([M::ALL; LANES]);
        let mut start = 0;
        for &(f, end) in &self.features {
            let splits = &self.splits[start..end];
            start = end;
            // A feature past the row's width reads as 0, as in the walk.
            let x: [f32; LANES] = std::array::from_fn(|l| match f < width {
                true => rows.get(l * width + f).copied().unwrap_or(0.0),
                false => 0.0,
            });
            if x.iter().any(|v| v.is_nan()) {
                apply_with_missing(splits, &x, bits);
            } else {
                apply(splits, &x, bits);
            }
        }
    }

    /// Adds each row's exit leaves to its sum in `out`.
    #[inline(always)]
    fn add_exits(&self, bits: &[[M; LANES]], out: &mut [f32; LANES]) {
        // Tree by tree for all rows at once: each row's sum still takes
        // the trees in boosting order, and the rows' sums are independent
        // chains of additions instead of one long one.
        let mut m = *out;
        for (b, leaves) in bits.iter().zip(self.leaves.chunks_exact(1 << M::DEPTH)) {
            for (m, b) in m.iter_mut().zip(b) {
                *m += leaves[b.lowest()];
            }
        }
        *out = m;
    }

    /// [`add_exits`](Self::add_exits) for `g` margins per row: tree `t`
    /// adds to margin `groups[t]`, and each margin takes its trees in
    /// boosting order.
    fn add_grouped_exits(&self, bits: &[[M; LANES]], out: &mut [f32], groups: &[u32], g: usize) {
        let trees = bits.iter().zip(self.leaves.chunks_exact(1 << M::DEPTH));
        for ((b, leaves), &group) in trees.zip(groups) {
            for (b, out) in b.iter().zip(out.chunks_exact_mut(g)) {
                if let Some(m) = out.get_mut(group as usize) {
                    *m += leaves[b.lowest()];
                }
            }
        }
    }
}

/// Applies the splits of one feature to a block without missing values.
///
/// Compiled twice, for any x86-64 (SSE2: four lanes per instruction) and
/// with AVX2 (eight), and the AVX2 copy is used when the CPU reports it at
/// run time. The source is this safe function either way; the dispatch is
/// `multiversion`'s, whose only unsafe step is calling the AVX2 copy, and
/// it does so only after `is_x86_feature_detected!("avx2")` said yes. It
/// pays: 100 000 rows of the original model on one thread, alternated
/// runs, 28.3 -> 21.6 ms (fastest of 8), 30.2 -> 24.2 ms (median).
/// (AVX-512 measured no faster than AVX2 on the same machine; the leaf
/// sums below, compiled for AVX2 too, were 10 % slower, so they are not.)
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn apply<M: LeafBits>(splits: &[Split<M>], x: &[f32; LANES], bits: &mut [[M; LANES]]) {
    let max = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for s in splits {
        // Sorted by threshold: from here on, every row goes left.
        if s.threshold > max {
            break;
        }
        let Some(b) = bits.get_mut((s.tree & !MISSING_RIGHT) as usize) else {
            continue;
        };
        for (b, &v) in b.iter_mut().zip(x) {
            *b &= s.keep | M::all_if(v < s.threshold);
        }
    }
}

/// [`apply`] for a block where some value of the feature is missing:
/// those go right at the splits whose default is right, so no split can
/// be skipped. Compiled and dispatched as [`apply`] is.
#[multiversion::multiversion(targets("x86_64+avx2"))]
fn apply_with_missing<M: LeafBits>(splits: &[Split<M>], x: &[f32; LANES], bits: &mut [[M; LANES]]) {
    for s in splits {
        let Some(b) = bits.get_mut((s.tree & !MISSING_RIGHT) as usize) else {
            continue;
        };
        let missing_left = s.tree & MISSING_RIGHT == 0;
        for (b, &v) in b.iter_mut().zip(x) {
            let left = (v < s.threshold) | (v.is_nan() & missing_left);
            *b &= s.keep | M::all_if(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of depth `d` on feature 0: the split at level `i` has
    /// threshold `i`, its left child is a leaf of value `i + 1`, and its
    /// right child the next split (after the last, a leaf of 100).
    fn right_spine(d: usize) -> Tree {
        let mut t = Tree::leaf(100.0);
        let mut n = 0;
        for level in 0..d {
            let l = t.left.len();
            t.left[n] = l as i32;
            t.right[n] = l as i32 + 1;
            t.split_condition[n] = level as f32;
            for v in [(level + 1) as f32, 100.0] {
                t.left.push(-1);
                t.right.push(-1);
                t.parent.push(n as i32);
                t.split_feature.push(0);
                t.split_condition.push(v);
                t.default_left.push(false);
                t.loss_change.push(0.0);
                t.sum_hessian.push(0.0);
                t.base_weight.push(0.0);
            }
            n = l + 1;
        }
        t
    }

    fn block_sums(bv: &BitvectorTrees, column: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; column.len()];
        let done = bv.add_leaves(column, 1, &mut out, &[], 1);
        assert_eq!(done, column.len() / LANES * LANES);
        out
    }

    #[test]
    fn a_split_that_sends_a_row_right_keeps_every_slot_but_its_left_subtree() {
        let bv = Bitvectors::<u32>::new(&[Tree::stump(0, 1.0, true, -1.0, 1.0)]).unwrap();
        assert_eq!(bv.splits.len(), 1);
        assert_eq!(bv.splits[0].keep, 0xffff_0000);
        assert_eq!(bv.splits[0].tree & MISSING_RIGHT, 0);
        assert_eq!(&bv.leaves[..16], &[-1.0; 16]);
        assert_eq!(&bv.leaves[16..], &[1.0; 16]);
    }

    #[test]
    fn a_split_on_a_huge_feature_index_costs_one_entry() {
        // A model may claim billions of features; only those split on are
        // listed (this once allocated a list per feature up to the index).
        let far = 3_000_000_000u32;
        let trees = [
            Tree::stump(far, 1.0, true, -1.0, 1.0),
            Tree::stump(2, 0.5, true, -2.0, 2.0),
            Tree::stump(far, 0.0, true, -4.0, 4.0),
        ];
        let BitvectorTrees::Narrow(bv) = BitvectorTrees::new(&trees, 1).unwrap() else {
            panic!("depth 1 is narrow");
        };
        assert_eq!(bv.features, [(2, 1), (far as usize, 3)]);
        let thresholds: Vec<f32> = bv.splits.iter().map(|s| s.threshold).collect();
        assert_eq!(thresholds, [0.5, 0.0, 1.0]);
        // Rows of 3 values: feature 2 is 7, the far feature reads as 0.
        let rows: Vec<f32> = (0..LANES).flat_map(|_| [0.0, 0.0, 7.0]).collect();
        let mut out = [0.0; LANES];
        assert_eq!(bv.add_leaves(&rows, 3, &mut out, &[], 1), LANES);
        assert_eq!(out, [-1.0 + 2.0 + 4.0; LANES]);
    }

    #[test]
    fn depth_picks_the_width_and_deeper_or_nan_is_refused() {
        for d in 0..=5 {
            let b = BitvectorTrees::new(&[right_spine(d)], d);
            assert!(matches!(b, Some(BitvectorTrees::Narrow(_))), "depth {d}");
        }
        assert!(matches!(
            BitvectorTrees::new(&[right_spine(6)], 6),
            Some(BitvectorTrees::Wide(_))
        ));
        assert!(BitvectorTrees::new(&[right_spine(7)], 7).is_none());
        // A depth understated by the caller is caught, not overflowed.
        assert!(BitvectorTrees::new(&[right_spine(7)], 5).is_none());
        let mut nan = Tree::stump(0, 1.0, true, -1.0, 1.0);
        nan.split_condition[0] = f32::NAN;
        assert!(BitvectorTrees::new(&[nan], 1).is_none());
    }

    #[test]
    fn a_deep_right_spine_ends_in_the_leaf_the_walk_ends_in() {
        // Value v passes the splits at 0, 1, ..., floor(v) and stops at the
        // next level's left leaf; past the last level it reaches 100.
        let bv = BitvectorTrees::new(&[right_spine(6)], 6).unwrap();
        let column: Vec<f32> = (0..2 * LANES).map(|i| i as f32 / 2.0 - 1.0).collect();
        let sums = block_sums(&bv, &column);
        for (v, s) in column.iter().zip(&sums) {
            let want = if *v < 0.0 {
                1.0
            } else if *v >= 5.0 {
                100.0
            } else {
                (v.floor() + 2.0).min(6.0)
            };
            assert_eq!(*s, want, "value {v}");
        }
    }

    #[test]
    fn missing_values_go_their_default_way_and_equal_goes_right() {
        let trees = [
            Tree::stump(0, 1.0, true, -1.0, 1.0),
            Tree::stump(0, 1.0, false, -10.0, 10.0),
        ];
        let bv = BitvectorTrees::new(&trees, 1).unwrap();
        let mut column = vec![0.0; LANES];
        column[0] = f32::NAN;
        column[1] = 1.0;
        let sums = block_sums(&bv, &column);
        assert_eq!(sums[0], -1.0 + 10.0);
        assert_eq!(sums[1], 1.0 + 10.0);
        assert_eq!(sums[2], -1.0 - 10.0);
        // A partial block is left to the caller.
        let mut out = vec![0.0; LANES - 1];
        assert_eq!(bv.add_leaves(&column[1..], 1, &mut out, &[], 1), 0);
        assert_eq!(out, vec![0.0; LANES - 1]);
    }
}
