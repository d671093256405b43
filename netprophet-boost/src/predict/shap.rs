//! Exact TreeSHAP feature contributions, as XGBoost's
//! `predict(pred_contribs=True)` computes them (`predictor/treeshap.cc`:
//! Lundberg, Erion and Lee's polynomial-time algorithm, with XGBoost's
//! float32 arithmetic in its order of operations).
//!
//! For each row and output group: one value per feature and a last "bias"
//! value, the tree ensemble's expected margin (each tree's cover-weighted
//! mean leaf value, plus the base margin). They add up to the row's margin
//! up to float rounding.

use crate::Tree;

/// One tree's nodes, flattened, with what TreeSHAP reads.
#[derive(Debug, Clone)]
struct ShapTree {
    /// Node index of the first node in the shared arrays.
    start: usize,
    /// Splits on the longest path.
    depth: usize,
    /// The tree's expected value: its root's cover-weighted mean leaf.
    mean: f32,
}

/// Every tree of a forest, for contributions.
#[derive(Debug, Clone, Default)]
pub(super) struct ShapTrees {
    trees: Vec<ShapTree>,
    /// Per node (all trees, tree after tree): children (local indices,
    /// `-1` for a leaf), feature, threshold or leaf value, missing-goes-left
    /// and hessian sum.
    left: Vec<i32>,
    right: Vec<i32>,
    feature: Vec<u32>,
    value: Vec<f32>,
    default_left: Vec<bool>,
    cover: Vec<f32>,
    max_depth: usize,
}

/// Deepest tree contributions are computed for: the path buffer grows
/// with the square of the depth and the walk recurses once per level.
pub(super) const MAX_SHAP_DEPTH: usize = 256;

/// XGBoost's `FillNodeMeanValues` for the root: a leaf's value, or the
/// children's means weighted by their hessian sums (float32), computed
/// children first without recursion, so a degenerate deep tree cannot
/// exhaust the stack.
fn root_mean(tree: &Tree) -> f32 {
    let n = tree.left.len();
    let mut order = Vec::with_capacity(n);
    let mut stack = vec![0usize];
    while let Some(k) = stack.pop() {
        order.push(k);
        if !tree.is_leaf(k) {
            stack.push(tree.left[k] as usize);
            stack.push(tree.right[k] as usize);
        }
    }
    let mut mean = vec![0f32; n];
    for &k in order.iter().rev() {
        mean[k] = if tree.is_leaf(k) {
            tree.split_condition[k]
        } else {
            let (l, r) = (tree.left[k] as usize, tree.right[k] as usize);
            let mut result = mean[l] * tree.sum_hessian[l];
            result += mean[r] * tree.sum_hessian[r];
            result / tree.sum_hessian[k]
        };
    }
    mean.first().copied().unwrap_or(0.0)
}

impl ShapTrees {
    pub(super) fn new(trees: &[Tree]) -> ShapTrees {
        let mut s = ShapTrees::default();
        for t in trees {
            let depth = super::complete::depth(t);
            s.max_depth = s.max_depth.max(depth);
            s.trees.push(ShapTree {
                start: s.left.len(),
                depth,
                mean: root_mean(t),
            });
            s.left.extend_from_slice(&t.left);
            s.right.extend_from_slice(&t.right);
            s.feature.extend_from_slice(&t.split_feature);
            s.value.extend_from_slice(&t.split_condition);
            s.default_left.extend_from_slice(&t.default_left);
            s.cover.extend_from_slice(&t.sum_hessian);
        }
        s
    }

    /// Splits on the longest path of any tree.
    pub(super) fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// A path buffer long enough for any tree of the forest.
    pub(super) fn path_buffer(&self) -> Vec<PathElement> {
        let maxd = self.max_depth + 2;
        vec![PathElement::default(); maxd * (maxd + 1) / 2]
    }

    /// Adds tree `t`'s contributions for `row` to `out` (features, then
    /// the bias), as XGBoost does: the tree's own values are summed
    /// first, then added to `out` one column at a time.
    pub(super) fn add_tree(
        &self,
        t: usize,
        row: &[f32],
        tree_out: &mut [f32],
        path: &mut [PathElement],
        out: &mut [f32],
    ) {
        let tree = &self.trees[t];
        tree_out.fill(0.0);
        let bias = tree_out.len() - 1;
        tree_out[bias] += tree.mean;
        let maxd = tree.depth + 2;
        let path = &mut path[..maxd * (maxd + 1) / 2];
        let view = TreeView {
            s: self,
            start: tree.start,
        };
        view.shap(row, tree_out, 0, 0, path, 1.0, 1.0, -1);
        for (o, v) in out.iter_mut().zip(tree_out.iter()) {
            *o += *v;
        }
    }
}

/// XGBoost's `PathElement`: one feature on the path to a node, with the
/// fractions of the paths that go through it when it is left out (zero)
/// or fixed to the row's value (one), and a permutation weight.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct PathElement {
    feature_index: i32,
    zero_fraction: f32,
    one_fraction: f32,
    pweight: f32,
}

/// XGBoost's `ExtendPath`.
fn extend_path(path: &mut [PathElement], d: usize, zero: f32, one: f32, feature: i32) {
    path[d] = PathElement {
        feature_index: feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if d == 0 { 1.0 } else { 0.0 },
    };
    for i in (0..d).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f32 / (d + 1) as f32;
        path[i].pweight = zero * path[i].pweight * (d - i) as f32 / (d + 1) as f32;
    }
}

/// XGBoost's `UnwindPath`: undoes the extension by element `pi`.
fn unwind_path(path: &mut [PathElement], d: usize, pi: usize) {
    let one = path[pi].one_fraction;
    let zero = path[pi].zero_fraction;
    let mut next_one = path[d].pweight;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * (d + 1) as f32 / ((i + 1) as f32 * one);
            next_one = tmp - path[i].pweight * zero * (d - i) as f32 / (d + 1) as f32;
        } else {
            path[i].pweight = (path[i].pweight * (d + 1) as f32) / (zero * (d - i) as f32);
        }
    }
    for i in pi..d {
        path[i].feature_index = path[i + 1].feature_index;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// XGBoost's `UnwoundPathSum`: the total permutation weight if element
/// `pi` were unwound.
fn unwound_path_sum(path: &[PathElement], d: usize, pi: usize) -> f32 {
    let one = path[pi].one_fraction;
    let zero = path[pi].zero_fraction;
    let mut next_one = path[d].pweight;
    let mut total = 0f32;
    for i in (0..d).rev() {
        if one != 0.0 {
            let tmp = next_one * (d + 1) as f32 / ((i + 1) as f32 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * ((d - i) as f32 / (d + 1) as f32);
        } else if zero != 0.0 {
            total += (path[i].pweight / zero) / ((d - i) as f32 / (d + 1) as f32);
        }
    }
    total
}

/// One tree of the shared arrays.
struct TreeView<'a> {
    s: &'a ShapTrees,
    start: usize,
}

impl TreeView<'_> {
    /// XGBoost's `TreeShap` (without conditioning): walks every path of
    /// the tree below `node`, carrying the path's feature fractions in
    /// `parent_path[..=d]`; the rest of `parent_path` is scratch for the
    /// levels below.
    #[allow(clippy::too_many_arguments)]
    fn shap(
        &self,
        row: &[f32],
        phi: &mut [f32],
        node: usize,
        d: usize,
        parent_path: &mut [PathElement],
        parent_zero: f32,
        parent_one: f32,
        parent_feature: i32,
    ) {
        let s = self.s;
        let g = self.start + node;
        let (parent, path) = parent_path.split_at_mut(d + 1);
        path[..=d].copy_from_slice(parent);
        extend_path(path, d, parent_zero, parent_one, parent_feature);
        let mut d = d;
        if s.left[g] < 0 {
            let leaf = s.value[g];
            for i in 1..=d {
                let w = unwound_path_sum(path, d, i);
                let el = path[i];
                phi[el.feature_index as usize] += w * (el.one_fraction - el.zero_fraction) * leaf;
            }
            return;
        }
        let split = s.feature[g];
        let (l, r) = (s.left[g] as usize, s.right[g] as usize);
        let v = row[split as usize];
        let go_left = if v.is_nan() {
            s.default_left[g]
        } else {
            v < s.value[g]
        };
        let (hot, cold) = if go_left { (l, r) } else { (r, l) };
        let w = s.cover[g];
        let hot_zero = s.cover[self.start + hot] / w;
        let cold_zero = s.cover[self.start + cold] / w;
        let (mut incoming_zero, mut incoming_one) = (1f32, 1f32);
        // A feature split on again: undo its earlier extension and redo it
        // here.
        if let Some(pi) = (0..=d).find(|&i| path[i].feature_index as u32 == split) {
            incoming_zero = path[pi].zero_fraction;
            incoming_one = path[pi].one_fraction;
            unwind_path(path, d, pi);
            d -= 1;
        }
        self.shap(
            row,
            phi,
            hot,
            d + 1,
            path,
            hot_zero * incoming_zero,
            incoming_one,
            split as i32,
        );
        self.shap(
            row,
            phi,
            cold,
            d + 1,
            path,
            cold_zero * incoming_zero,
            0.0,
            split as i32,
        );
    }
}
