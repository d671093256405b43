//! Branch-free layout: every tree padded to a complete binary tree of the
//! forest's largest depth `D`, stored in heap order (children of `k` at
//! `2k+1` and `2k+2`).
//!
//! A row then takes exactly `D` steps per tree with no data-dependent
//! branch: the next index is computed from the comparison. Because every
//! tree has the same shape, several trees (for one row) or many rows (for
//! one tree) advance in lock-step, which gives the CPU independent chains
//! of loads to overlap instead of one long dependent chain.
//!
//! Padding: a leaf above the bottom level becomes a subtree whose leaves
//! all carry its value, so whichever way a row is routed below it, the
//! result is the same.

use crate::Tree;

/// Forests deeper than this use the sparse layout: a complete tree of
/// depth 8 already has 511 slots, and padding cost grows as `2^D`.
pub(super) const MAX_DEPTH: usize = 8;
/// Trees advanced together for one row.
const TREE_LANES: usize = 32;
/// Rows up to this width are copied into a fixed-size buffer (a power of
/// two) for scoring.
const SMALL_ROW: usize = 16;

const DEFAULT_LEFT: u32 = 1 << 31;

/// A split: 8 bytes.
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f32,
    /// Feature index, with [`DEFAULT_LEFT`] set when missing goes left.
    feature: u32,
}

/// All trees in the complete layout.
#[derive(Debug, Clone)]
pub(super) struct CompleteTrees {
    splits: Vec<Split>,
    leaves: Vec<f32>,
    depth: usize,
    num_trees: usize,
}

/// Depth of `tree`: the number of splits on its longest root-to-leaf path.
pub(super) fn depth(tree: &Tree) -> usize {
    let mut max = 0;
    let mut stack = vec![(0usize, 0usize)];
    while let Some((n, d)) = stack.pop() {
        if tree.is_leaf(n) {
            max = max.max(d);
        } else {
            stack.push((tree.left[n] as usize, d + 1));
            stack.push((tree.right[n] as usize, d + 1));
        }
    }
    max
}

#[inline(always)]
fn step<const MAY_BE_NAN: bool>(split: Split, value: f32, k: usize) -> usize {
    let left = if MAY_BE_NAN {
        let missing_left = value.is_nan() & (split.feature & DEFAULT_LEFT != 0);
        (value < split.threshold) | missing_left
    } else {
        value < split.threshold
    };
    2 * k + 1 + usize::from(!left)
}

impl CompleteTrees {
    /// Lays out `trees`, padded to depth `depth` (at least every tree's
    /// own depth, at most [`MAX_DEPTH`]).
    pub(super) fn new(trees: &[Tree], depth: usize) -> CompleteTrees {
        let n_splits = (1usize << depth) - 1;
        // A pseudo split sends every row left; its value never matters
        // because both sides lead to the same leaf value.
        let pseudo = Split {
            threshold: f32::INFINITY,
            feature: DEFAULT_LEFT,
        };
        let mut splits = vec![pseudo; n_splits * trees.len()];
        let mut leaves = vec![0.0f32; (n_splits + 1) * trees.len()];
        for (t, tree) in trees.iter().enumerate() {
            let splits = &mut splits[t * n_splits..(t + 1) * n_splits];
            let leaves = &mut leaves[t * (n_splits + 1)..(t + 1) * (n_splits + 1)];
            // (original node, heap index, level)
            let mut stack = vec![(0usize, 0usize, 0usize)];
            while let Some((n, k, level)) = stack.pop() {
                if tree.is_leaf(n) {
                    let below = depth - level;
                    let first = ((k + 1) << below) - 1 - n_splits;
                    leaves[first..first + (1 << below)].fill(tree.split_condition[n]);
                    continue;
                }
                let mut feature = tree.split_feature[n];
                if tree.default_left[n] {
                    feature |= DEFAULT_LEFT;
                }
                splits[k] = Split {
                    threshold: tree.split_condition[n],
                    feature,
                };
                stack.push((tree.left[n] as usize, 2 * k + 1, level + 1));
                stack.push((tree.right[n] as usize, 2 * k + 2, level + 1));
            }
        }
        CompleteTrees {
            splits,
            leaves,
            depth,
            num_trees: trees.len(),
        }
    }

    /// Calls `emit(t, leaf)` for every tree `t` in boosting order, for one
    /// row.
    #[inline]
    pub(super) fn for_each_leaf(&self, row: &[f32], emit: impl FnMut(usize, f32)) {
        // Most rows have no missing value; they skip the default-direction
        // test at every step.
        let nan = row.iter().any(|v| v.is_nan());
        if row.len() <= SMALL_ROW {
            // A fixed-size copy indexed with a mask needs no bounds check
            // per step; the mask never changes an index, as every split
            // feature is below the row width.
            let mut buf = [0.0f32; SMALL_ROW];
            buf[..row.len()].copy_from_slice(row);
            let get = |f: usize| buf[f & (SMALL_ROW - 1)];
            if nan {
                self.leaves_of::<true>(get, emit)
            } else {
                self.leaves_of::<false>(get, emit)
            }
        } else {
            let get = |f: usize| row[f];
            if nan {
                self.leaves_of::<true>(get, emit)
            } else {
                self.leaves_of::<false>(get, emit)
            }
        }
    }

    #[inline(always)]
    fn leaves_of<const MAY_BE_NAN: bool>(
        &self,
        row: impl Fn(usize) -> f32,
        mut emit: impl FnMut(usize, f32),
    ) {
        let n_splits = (1usize << self.depth) - 1;
        let stride = n_splits + 1;
        let mut t = 0;
        while t + TREE_LANES <= self.num_trees {
            let mut k = [0usize; TREE_LANES];
            for _ in 0..self.depth {
                for (j, kj) in k.iter_mut().enumerate() {
                    let s = self.splits[(t + j) * n_splits + *kj];
                    *kj = step::<MAY_BE_NAN>(s, row((s.feature & !DEFAULT_LEFT) as usize), *kj);
                }
            }
            for (j, kj) in k.iter().enumerate() {
                emit(t + j, self.leaves[(t + j) * stride + kj - n_splits]);
            }
            t += TREE_LANES;
        }
        for t in t..self.num_trees {
            let mut k = 0;
            for _ in 0..self.depth {
                let s = self.splits[t * n_splits + k];
                k = step::<MAY_BE_NAN>(s, row((s.feature & !DEFAULT_LEFT) as usize), k);
            }
            emit(t, self.leaves[t * stride + k - n_splits]);
        }
    }
}
