//! A tree while it is trained (XGBoost's `RegTree` as its updater fills
//! it): nodes in bin space, numbered in the order they are expanded, and
//! turned into a model [`Tree`] at the end.

use std::ops::Range;

use super::bins::Binned;
use super::evaluator::{Applied, SplitEntry};
use super::partitioner::{RowTest, SplitTest};
use crate::model::Tree;
use crate::prefetch::ROWS_AHEAD;

/// Where some of a tree's rows ended: a range of the row buffer and the
/// node they reached, either a leaf or a split whose children are leaves
/// (a last level need not be partitioned: its rows only need their leaf
/// value, found by one comparison when the margins are updated).
pub(crate) type Settled = (Range<usize>, usize);

/// A tree in bin space, its nodes in expansion order (XGBoost's ids).
#[derive(Debug, Default)]
pub(crate) struct BinTree {
    pub feature: Vec<u32>,
    pub bin: Vec<i32>,
    pub default_left: Vec<bool>,
    pub left: Vec<i32>,
    pub right: Vec<i32>,
    pub parent: Vec<i32>,
    /// Leaf value (weight x eta) of a leaf.
    pub leaf: Vec<f32>,
    pub gain: Vec<f32>,
    pub cover: Vec<f32>,
    pub base_weight: Vec<f32>,
}

impl BinTree {
    /// A tree of one leaf: the root, of weight `weight` and hessian sum
    /// `hess`, its value `eta x weight`.
    pub fn root(weight: f32, hess: f32, eta: f32) -> BinTree {
        let mut t = BinTree::default();
        t.push(i32::MAX, eta * weight, hess, weight);
        t
    }

    fn push(&mut self, parent: i32, leaf: f32, cover: f32, base_weight: f32) -> usize {
        self.feature.push(0);
        self.bin.push(0);
        self.default_left.push(false);
        self.left.push(-1);
        self.right.push(-1);
        self.parent.push(parent);
        self.leaf.push(leaf);
        self.gain.push(0.0);
        self.cover.push(cover);
        self.base_weight.push(base_weight);
        self.left.len() - 1
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.left.len()
    }

    /// Splits leaf `node` by `e`; the two new leaves are numbered next
    /// (XGBoost's `ExpandNode`). Returns their ids.
    pub fn expand(&mut self, node: usize, e: &SplitEntry, a: &Applied) -> [usize; 2] {
        let parent = node as i32;
        // A leaf's base weight is its value, as XGBoost stores it.
        let l = self.push(parent, a.leaf[0], a.hess[0], a.leaf[0]);
        let r = self.push(parent, a.leaf[1], a.hess[1], a.leaf[1]);
        self.feature[node] = e.feature;
        self.bin[node] = e.bin;
        self.default_left[node] = e.default_left;
        self.left[node] = l as i32;
        self.right[node] = r as i32;
        self.leaf[node] = 0.0;
        self.gain[node] = e.loss_chg;
        self.cover[node] = a.sum_hess;
        self.base_weight[node] = a.base_weight;
        [l, r]
    }

    /// The split rule of split node `node`.
    pub fn test<'a>(&self, binned: &'a Binned, node: usize) -> SplitTest<'a> {
        SplitTest::new(
            binned,
            self.feature[node] as usize,
            self.bin[node],
            self.default_left[node],
        )
    }

    /// The leaf value `row` reaches.
    pub fn leaf_of(&self, binned: &Binned, row: u32) -> f32 {
        let mut node = 0;
        while self.left[node] >= 0 {
            node = if self.test(binned, node).goes_left(row) {
                self.left[node]
            } else {
                self.right[node]
            } as usize;
        }
        self.leaf[node]
    }

    /// Adds the leaf value of every settled row in `rows` to its margin
    /// (`margin[0]` is row `rows.start`). `idx` is the row buffer the
    /// settled ranges index, each range ascending.
    ///
    /// The leaf values are written to a buffer first and added to the
    /// margins in one pass: the vector kernel then only stores, where
    /// adding in place would gather margins that wait for the previous
    /// block's scatter. Each margin still gets exactly one add; a row in
    /// no settled range (none, without row sampling) adds +0.0.
    pub fn add_leaves(
        &self,
        binned: &Binned,
        idx: &[u32],
        settled: &[Settled],
        rows: Range<usize>,
        margin: &mut [f32],
    ) {
        let (start, end) = (rows.start, rows.end);
        let mut value = vec![0.0f32; margin.len()];
        for (range, node) in settled {
            let set = &idx[range.clone()];
            let lo = set.partition_point(|&r| (r as usize) < start);
            let hi = lo + set[lo..].partition_point(|&r| (r as usize) < end);
            let set = &set[lo..hi];
            let (l, r) = (self.left[*node], self.right[*node]);
            if l < 0 {
                let v = self.leaf[*node];
                for &row in set {
                    value[row as usize - start] = v;
                }
                continue;
            }
            let test = self.test(binned, *node);
            let (left, right) = (self.leaf[l as usize], self.leaf[r as usize]);
            let done = test.column().map_or(0, |(slots, first, span)| {
                crate::simd::leaf_blocks(
                    set,
                    slots,
                    first,
                    span,
                    (left, right),
                    start as u32,
                    &mut value,
                )
            });
            let (left, right) = (left.to_bits(), right.to_bits());
            for (i, &row) in set.iter().enumerate().skip(done) {
                if let Some(&ahead) = set.get(i + ROWS_AHEAD) {
                    test.prefetch(ahead);
                }
                // A select by mask: which way a row goes is
                // unpredictable, and the compiler made a branch of an
                // indexed pair.
                let mask = u32::from(test.goes_left(row)).wrapping_neg();
                value[row as usize - start] = f32::from_bits((left & mask) | (right & !mask));
            }
        }
        for (m, v) in margin.iter_mut().zip(&value) {
            *m += v;
        }
    }

    /// The model tree: bins become XGBoost's thresholds.
    pub fn to_model(&self, binned: &Binned) -> Tree {
        let n = self.len();
        let mut t = Tree {
            left: self.left.clone(),
            right: self.right.clone(),
            parent: self.parent.clone(),
            split_feature: vec![0; n],
            split_condition: vec![0.0; n],
            default_left: vec![false; n],
            loss_change: vec![0.0; n],
            sum_hessian: self.cover.clone(),
            base_weight: self.base_weight.clone(),
        };
        for i in 0..n {
            if self.left[i] >= 0 {
                let f = self.feature[i] as usize;
                t.split_feature[i] = self.feature[i];
                t.split_condition[i] = binned.threshold(f, self.bin[i]);
                t.default_left[i] = self.default_left[i];
                t.loss_change[i] = self.gain[i];
            } else {
                t.split_condition[i] = self.leaf[i];
            }
        }
        t
    }
}
