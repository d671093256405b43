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
/// Trees advanced together for one row: enough independent chains to
/// hide load latency, few enough that every lane's index stays in a
/// register.
const TREE_LANES: usize = 16;
/// Rows up to this width are copied into a buffer of exactly this size, so
/// that the low byte of a split's feature field indexes it directly: no
/// mask and no bounds check per step.
const SMALL_ROW: usize = 256;

const DEFAULT_LEFT: u32 = 1 << 31;

/// A split: 8 bytes.
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f32,
    /// Feature index, with [`DEFAULT_LEFT`] set when missing goes left.
    feature: u32,
}

/// All trees in the complete layout. Each tree owns `2^depth` slots of
/// both arrays (the last split slot is unused), so a tree's slots are a
/// fixed-size power-of-two block and an index masked to it needs no
/// bounds check.
#[derive(Debug, Clone)]
pub(super) struct CompleteTrees {
    splits: Vec<Split>,
    leaves: Vec<f32>,
    depth: usize,
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
        let slots = 1usize << depth;
        // A pseudo split sends every row left; its value never matters
        // because both sides lead to the same leaf value.
        let pseudo = Split {
            threshold: f32::INFINITY,
            feature: DEFAULT_LEFT,
        };
        let mut splits = vec![pseudo; slots * trees.len()];
        let mut leaves = vec![0.0f32; slots * trees.len()];
        for (t, tree) in trees.iter().enumerate() {
            let splits = &mut splits[t * slots..(t + 1) * slots];
            let leaves = &mut leaves[t * slots..(t + 1) * slots];
            // (original node, heap index, level)
            let mut stack = vec![(0usize, 0usize, 0usize)];
            while let Some((n, k, level)) = stack.pop() {
                if tree.is_leaf(n) {
                    let below = depth - level;
                    let first = ((k + 1) << below) - slots;
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
        }
    }

    /// Calls `emit(t, leaf)` for every tree `t` in boosting order, for one
    /// row.
    #[inline]
    pub(super) fn for_each_leaf(&self, row: &[f32], emit: impl FnMut(usize, f32)) {
        // One copy of the walk per depth: with the block size a constant,
        // the depth loop unrolls and every slot index is masked instead of
        // bounds-checked.
        match self.depth {
            0 => self.walk::<1>(row, emit),
            1 => self.walk::<2>(row, emit),
            2 => self.walk::<4>(row, emit),
            3 => self.walk::<8>(row, emit),
            4 => self.walk::<16>(row, emit),
            5 => self.walk::<32>(row, emit),
            6 => self.walk::<64>(row, emit),
            7 => self.walk::<128>(row, emit),
            _ => self.walk::<256>(row, emit),
        }
    }

    #[inline(always)]
    fn walk<const SLOTS: usize>(&self, row: &[f32], emit: impl FnMut(usize, f32)) {
        // Most rows have no missing value; they skip the default-direction
        // test at every step.
        let nan = row.iter().any(|v| v.is_nan());
        if row.len() <= SMALL_ROW {
            // Every split feature is below the row width, so its low byte
            // is the feature itself.
            let mut buf = [0.0f32; SMALL_ROW];
            buf[..row.len()].copy_from_slice(row);
            let get = |f: u32| buf[usize::from(f as u8)];
            if nan {
                self.leaves_of::<SLOTS, true>(get, emit)
            } else {
                self.leaves_of::<SLOTS, false>(get, emit)
            }
        } else {
            let get = |f: u32| {
                row.get((f & !DEFAULT_LEFT) as usize)
                    .copied()
                    .unwrap_or(0.0)
            };
            if nan {
                self.leaves_of::<SLOTS, true>(get, emit)
            } else {
                self.leaves_of::<SLOTS, false>(get, emit)
            }
        }
    }

    #[inline(always)]
    fn leaves_of<const SLOTS: usize, const MAY_BE_NAN: bool>(
        &self,
        row: impl Fn(u32) -> f32,
        mut emit: impl FnMut(usize, f32),
    ) {
        let depth = SLOTS.trailing_zeros();
        let mask = SLOTS - 1;
        let (splits, _) = self.splits.as_chunks::<SLOTS>();
        let (leaves, _) = self.leaves.as_chunks::<SLOTS>();
        let lanes = splits
            .chunks_exact(TREE_LANES)
            .zip(leaves.chunks_exact(TREE_LANES));
        let mut t = 0;
        for (splits, leaves) in lanes {
            let mut k = [0usize; TREE_LANES];
            for _ in 0..depth {
                for (kj, tree) in k.iter_mut().zip(splits) {
                    let s = tree[*kj & mask];
                    *kj = step::<MAY_BE_NAN>(s, row(s.feature), *kj);
                }
            }
            for (kj, tree) in k.iter().zip(leaves) {
                emit(t, tree[(kj + 1) & mask]);
                t += 1;
            }
        }
        // The trees left over from the last full group of lanes.
        for (tree, leaves) in splits[t..].iter().zip(&leaves[t..]) {
            let mut k = 0;
            for _ in 0..depth {
                let s = tree[k & mask];
                k = step::<MAY_BE_NAN>(s, row(s.feature), k);
            }
            emit(t, leaves[(k + 1) & mask]);
            t += 1;
        }
    }
}
