//! Scoring: a compact, flattened copy of the forest built once, and the
//! margin and output computations exactly as XGBoost's CPU predictor does
//! them.
//!
//! Parity rules (from XGBoost's `cpu_predictor.cc` and `tree_model.h`):
//! inputs are `f32`; a row goes left when `value < threshold` and to the
//! default side when the value is NaN; leaf values are added to the base
//! margin in `f32`, tree by tree, in boosting order; the base margin is the
//! objective's link applied to `base_score` in `f32`; sigmoid and softmax are
//! computed in `f32`. `exp`/`ln` come from the platform's libm as in
//! XGBoost, so results are bit-identical on the same platform; across
//! platforms the last bit of a probability may differ where libm does.
//!
//! Layouts: one row walks every tree padded to a complete tree
//! ([`complete`]); batches of a forest of depth 6 or less go 16 rows at a
//! time through bit vectors ([`bitvector`]); deeper
//! forests use a pointer layout ([`sparse`]). All give the same bits.

use rayon::prelude::*;

use crate::{Forest, ModelError, Objective};

#[cfg(feature = "ndarray")]
mod array;
mod bitvector;
mod complete;
mod shap;
mod sparse;

use bitvector::BitvectorTrees;
use complete::CompleteTrees;
use shap::ShapTrees;
use sparse::SparseTrees;

/// Rows handed to one parallel task: enough to amortise scheduling, small
/// enough to balance work across threads.
const BLOCK_ROWS: usize = 128;
/// Below this many rows, a batch is scored on the calling thread: spawning
/// work costs more than it saves.
const PARALLEL_MIN_ROWS: usize = 256;

/// The node layout chosen for a forest: complete (branch-free) when every
/// tree is shallow enough to pad, sparse otherwise.
#[derive(Debug, Clone)]
enum Layout {
    Complete(CompleteTrees),
    Sparse(SparseTrees),
}

impl Layout {
    /// Calls `emit(t, leaf)` for every tree in boosting order.
    #[inline]
    fn for_each_leaf(&self, row: &[f32], mut emit: impl FnMut(usize, f32)) {
        match self {
            Layout::Complete(c) => c.for_each_leaf(row, emit),
            Layout::Sparse(s) => (0..s.num_trees()).for_each(|t| emit(t, s.leaf(t, row))),
        }
    }

    /// `m` plus every tree's leaf, added in boosting order (a
    /// single-output forest): by the vector walk where it runs, else
    /// through [`for_each_leaf`](Self::for_each_leaf), with the same bits.
    #[inline]
    fn sum_row(&self, row: &[f32], mut m: f32) -> f32 {
        if let Layout::Complete(c) = self {
            if let Some(sum) = c.sum_row(row, m) {
                return sum;
            }
        }
        self.for_each_leaf(row, |_, leaf| m += leaf);
        m
    }
}

/// A forest compiled for fast scoring. Build it once with
/// [`Predictor::new`] and share it (it is `Send + Sync`).
///
/// ```
/// use netprophet_boost::{Forest, Objective, Predictor, Tree};
///
/// let forest = Forest::new(
///     vec![Tree::stump(0, 10.0, true, -1.0, 1.0)],
///     Objective::BinaryLogistic,
///     vec![0.5],
///     1,
/// )?;
/// let p = Predictor::new(&forest)?;
/// assert_eq!(p.margin_row(&[12.0])?, 1.0);
/// assert_eq!(p.margin_row(&[f32::NAN])?, -1.0); // missing goes left
/// assert!((p.predict_row(&[12.0])? - 0.7310586).abs() < 1e-7);
/// # Ok::<(), netprophet_boost::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Predictor {
    layout: Layout,
    /// The same trees as bit vectors, for batches of a forest of depth 6
    /// or less: there they measured about twice as fast as the complete
    /// layout's walk, with the same output bits.
    bitvector: Option<BitvectorTrees>,
    /// Output group of each tree.
    groups: Vec<u32>,
    base_margin: Vec<f32>,
    num_feature: usize,
    num_group: usize,
    objective: Objective,
    /// The trees as TreeSHAP reads them.
    shap: ShapTrees,
}

/// XGBoost's sigmoid, in `f32`, with its overflow clamp.
#[inline]
fn sigmoid(x: f32) -> f32 {
    let e = (-x).min(88.7).exp();
    1.0 / (e + 1.0 + 1e-16)
}

fn link(objective: &Objective, base_score: f32) -> f32 {
    match objective {
        Objective::BinaryLogistic | Objective::RegLogistic | Objective::BinaryLogitRaw => {
            -(1.0f32 / base_score - 1.0).ln()
        }
        _ => base_score,
    }
}

impl Predictor {
    /// Validates `forest` ([`Forest::validate`]) and compiles it into the
    /// flattened layout. The check is repeated here, not trusted from the
    /// loader, because a forest's fields are public: one edited after
    /// loading (a child index out of range, a cycle, a short array) is an
    /// error, never a panic or an endless walk.
    pub fn new(forest: &Forest) -> Result<Predictor, ModelError> {
        forest.validate()?;
        let depth = forest.trees.iter().map(complete::depth).max().unwrap_or(0);
        let num_group = forest.num_output_group();
        // The vector walk for one row sums a single output only.
        let layout = match CompleteTrees::new(&forest.trees, depth, num_group == 1) {
            Some(c) => Layout::Complete(c),
            None => {
                let mut s = SparseTrees::default();
                forest.trees.iter().for_each(|t| s.push(t));
                Layout::Sparse(s)
            }
        };
        let bitvector = BitvectorTrees::new(&forest.trees, depth);
        let base_margin = (0..num_group)
            .map(|g| {
                let b = forest
                    .base_score
                    .get(g)
                    .or(forest.base_score.first())
                    .copied()
                    .unwrap_or(0.5);
                link(&forest.objective, b)
            })
            .collect();
        Ok(Predictor {
            layout,
            bitvector,
            groups: forest.tree_group.clone(),
            base_margin,
            num_feature: forest.num_feature,
            num_group,
            objective: forest.objective.clone(),
            shap: ShapTrees::new(&forest.trees),
        })
    }

    /// Number of features a row must have.
    pub fn num_feature(&self) -> usize {
        self.num_feature
    }

    /// Number of margins (and outputs) per row.
    pub fn num_group(&self) -> usize {
        self.num_group
    }

    fn check_width(&self, len: usize, what: &str) -> Result<(), ModelError> {
        if len < self.num_feature {
            return Err(ModelError::Input(format!(
                "{what} has {len} values, the model needs {}",
                self.num_feature
            )));
        }
        Ok(())
    }

    /// Margins of one row into `out` (length [`num_group`](Self::num_group)).
    pub fn margins_row_into(&self, row: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        self.check_width(row.len(), "row")?;
        if out.len() != self.num_group {
            return Err(ModelError::Input(format!(
                "output has {} slots, the model has {} groups",
                out.len(),
                self.num_group
            )));
        }
        out.copy_from_slice(&self.base_margin);
        if self.num_group == 1 {
            out[0] = self.layout.sum_row(row, out[0]);
        } else {
            let groups = &self.groups;
            self.layout
                .for_each_leaf(row, |t, leaf| out[groups[t] as usize] += leaf);
        }
        Ok(())
    }

    /// Margin of one row of a single-output model.
    pub fn margin_row(&self, row: &[f32]) -> Result<f32, ModelError> {
        self.single_output()?;
        let mut out = [0.0f32];
        self.margins_row_into(row, &mut out)?;
        Ok(out[0])
    }

    /// Output (probability for logistic objectives) of one row of a
    /// single-output model.
    pub fn predict_row(&self, row: &[f32]) -> Result<f32, ModelError> {
        let mut m = [self.margin_row(row)?];
        self.transform(&mut m);
        Ok(m[0])
    }

    fn single_output(&self) -> Result<(), ModelError> {
        if self.num_group != 1 {
            return Err(ModelError::Input(format!(
                "the model has {} outputs per row; use the *_into methods",
                self.num_group
            )));
        }
        Ok(())
    }

    /// Applies the objective's output transform to the margins of rows laid
    /// out one after another (`num_group` values per row).
    pub fn transform(&self, margins: &mut [f32]) {
        match self.objective {
            Objective::BinaryLogistic | Objective::RegLogistic => {
                margins.iter_mut().for_each(|m| *m = sigmoid(*m))
            }
            Objective::MultiSoftprob { .. } => {
                for row in margins.chunks_mut(self.num_group) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    // XGBoost accumulates the denominator in f64 and divides
                    // by it rounded to f32; doing the same keeps bit parity.
                    let mut sum = 0.0f64;
                    for v in row.iter_mut() {
                        *v = (*v - max).exp();
                        sum += f64::from(*v);
                    }
                    let sum = sum as f32;
                    row.iter_mut().for_each(|v| *v /= sum);
                }
            }
            Objective::MultiSoftmax { .. } => {
                let g = self.num_group;
                let mut labels = Vec::with_capacity(margins.len() / g);
                for row in margins.chunks(g) {
                    let mut best = 0;
                    for (i, v) in row.iter().enumerate() {
                        if *v > row[best] {
                            best = i;
                        }
                    }
                    labels.push(best as f32);
                }
                // Softmax yields one label per row: compact them to the front.
                margins[..labels.len()].copy_from_slice(&labels);
            }
            Objective::BinaryLogitRaw | Objective::RegSquaredError => {}
        }
    }

    /// Margins of a batch of rows stored row-major with `width` values per
    /// row (`width >= num_feature`); returns `rows * num_group` margins.
    /// Large batches are scored in parallel (rayon).
    pub fn margins(&self, data: &[f32], width: usize) -> Result<Vec<f32>, ModelError> {
        let rows = self.check_batch(data, width)?;
        let mut out = vec![0.0f32; rows * self.num_group];
        self.margins_into(data, width, &mut out)?;
        Ok(out)
    }

    /// [`margins`](Self::margins) into `out`, of length `rows *
    /// num_group`: no allocation.
    pub fn margins_into(
        &self,
        data: &[f32],
        width: usize,
        out: &mut [f32],
    ) -> Result<(), ModelError> {
        let rows = self.check_batch(data, width)?;
        self.check_out(out.len(), rows * self.num_group)?;
        let g = self.num_group;
        if rows >= PARALLEL_MIN_ROWS {
            data.par_chunks(BLOCK_ROWS * width)
                .zip(out.par_chunks_mut(BLOCK_ROWS * g))
                .for_each(|(d, o)| self.score_block(d, width, o));
        } else {
            data.chunks(BLOCK_ROWS * width)
                .zip(out.chunks_mut(BLOCK_ROWS * g))
                .for_each(|(d, o)| self.score_block(d, width, o));
        }
        Ok(())
    }

    /// How many rows of `width` values `data` holds, if that is a whole
    /// number of rows wide enough for the model.
    fn check_batch(&self, data: &[f32], width: usize) -> Result<usize, ModelError> {
        self.check_row_width(width)?;
        if !data.len().is_multiple_of(width) {
            return Err(ModelError::Input(format!(
                "{} values is not a whole number of rows of width {width}",
                data.len()
            )));
        }
        Ok(data.len() / width)
    }

    /// Whether rows of `width` values can be scored as a batch: wide
    /// enough for the model, and not empty (a batch is cut into blocks of
    /// rows, and rows of no values cannot be counted or cut).
    fn check_row_width(&self, width: usize) -> Result<(), ModelError> {
        self.check_width(width, "each row")?;
        if width == 0 {
            return Err(ModelError::Input(
                "rows of width 0 hold no values to score".into(),
            ));
        }
        Ok(())
    }

    fn check_out(&self, len: usize, want: usize) -> Result<(), ModelError> {
        if len != want {
            return Err(ModelError::Input(format!(
                "output has {len} slots, the rows need {want}"
            )));
        }
        Ok(())
    }

    /// Margins of the rows `rows_in` (row-major, `width` values each) into
    /// `out_block`, `num_group` per row, on this thread.
    fn score_block(&self, rows_in: &[f32], width: usize, out_block: &mut [f32]) {
        let g = self.num_group;
        for o in out_block.chunks_mut(g) {
            o.copy_from_slice(&self.base_margin);
        }
        // Tree by tree over the block, so each row's sum is built in
        // boosting order exactly as XGBoost builds it.
        match &self.layout {
            Layout::Complete(c) => {
                // Whole blocks of rows through the bit vectors; the few
                // rows after the last block walk the trees (the bit vectors
                // cost about the same for one row as for a whole block).
                let done = match &self.bitvector {
                    Some(bv) => bv.add_leaves(rows_in, width, out_block, &self.groups, g),
                    None => 0,
                };
                let (rows_in, out_block) = (&rows_in[done * width..], &mut out_block[done * g..]);
                if g == 1 {
                    c.add_leaves(rows_in, width, out_block);
                } else {
                    let groups = &self.groups;
                    for (o, row) in out_block.chunks_mut(g).zip(rows_in.chunks(width)) {
                        c.for_each_leaf(row, |t, leaf| o[groups[t] as usize] += leaf);
                    }
                }
            }
            Layout::Sparse(s) => {
                for (t, &grp) in self.groups.iter().enumerate() {
                    for (o, row) in out_block.chunks_mut(g).zip(rows_in.chunks(width)) {
                        o[grp as usize] += s.leaf(t, row);
                    }
                }
            }
        }
    }

    /// Outputs (probabilities for logistic objectives) of a batch; see
    /// [`margins`](Self::margins). `multi:softmax` yields one label per row.
    pub fn predict(&self, data: &[f32], width: usize) -> Result<Vec<f32>, ModelError> {
        let mut m = self.margins(data, width)?;
        self.transform(&mut m);
        if let Objective::MultiSoftmax { .. } = self.objective {
            m.truncate(m.len() / self.num_group);
        }
        Ok(m)
    }

    /// Values per row of [`contributions`](Self::contributions): one per
    /// feature and the bias, for each output group.
    pub fn contributions_width(&self) -> usize {
        self.num_group * (self.num_feature + 1)
    }

    /// Exact TreeSHAP contributions of one row (XGBoost's
    /// `predict(pred_contribs=True)`) into `out`, of length
    /// [`contributions_width`](Self::contributions_width): per output
    /// group, one value per feature, then the bias (the expected margin).
    /// They add up to the row's margin, to float rounding.
    pub fn contributions_row_into(&self, row: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        self.check_width(row.len(), "row")?;
        self.check_shap_depth()?;
        if out.len() != self.contributions_width() {
            return Err(ModelError::Input(format!(
                "output has {} slots, contributions need {}",
                out.len(),
                self.contributions_width()
            )));
        }
        let mut path = self.shap.path_buffer();
        let mut tree_out = vec![0f32; self.num_feature + 1];
        self.contributions_with(row, out, &mut path, &mut tree_out);
        Ok(())
    }

    fn check_shap_depth(&self) -> Result<(), ModelError> {
        if self.shap.max_depth() > shap::MAX_SHAP_DEPTH {
            return Err(ModelError::Unsupported(format!(
                "contributions of a tree {} levels deep (at most {})",
                self.shap.max_depth(),
                shap::MAX_SHAP_DEPTH
            )));
        }
        Ok(())
    }

    fn contributions_with(
        &self,
        row: &[f32],
        out: &mut [f32],
        path: &mut [shap::PathElement],
        tree_out: &mut [f32],
    ) {
        out.fill(0.0);
        let columns = self.num_feature + 1;
        for (g, out) in out.chunks_mut(columns).enumerate() {
            for (t, &group) in self.groups.iter().enumerate() {
                if group as usize == g {
                    self.shap.add_tree(t, row, tree_out, path, out);
                }
            }
            out[columns - 1] += self.base_margin[g];
        }
    }

    /// Exact TreeSHAP contributions of a batch stored row-major with
    /// `width` values per row: [`contributions_width`](Self::contributions_width)
    /// values per row (XGBoost's `pred_contribs` layout: rows, then
    /// groups, then features and the bias). Large batches run in parallel.
    ///
    /// ```
    /// use netprophet_boost::{Forest, Objective, Predictor, Tree};
    ///
    /// // One split on feature 0 (covers 3 left, 1 right).
    /// let mut tree = Tree::stump(0, 10.0, true, -1.0, 1.0);
    /// tree.sum_hessian = vec![4.0, 3.0, 1.0];
    /// let forest = Forest::new(vec![tree], Objective::RegSquaredError, vec![0.5], 2)?;
    /// let p = Predictor::new(&forest)?;
    /// let c = p.contributions(&[12.0, 7.0], 2)?;
    /// // Expected margin 0.5 + (3 x -1 + 1 x 1) / 4 = 0; feature 0 moves it to 1.5.
    /// assert_eq!(c, vec![1.5, 0.0, 0.0]);
    /// assert_eq!(c.iter().sum::<f32>(), p.margin_row(&[12.0, 7.0])?);
    /// # Ok::<(), netprophet_boost::ModelError>(())
    /// ```
    pub fn contributions(&self, data: &[f32], width: usize) -> Result<Vec<f32>, ModelError> {
        let rows = self.check_batch(data, width)?;
        self.check_shap_depth()?;
        let cw = self.contributions_width();
        let mut out = vec![0f32; rows * cw];
        let block = |(rows_in, out_block): (&[f32], &mut [f32])| {
            let mut path = self.shap.path_buffer();
            let mut tree_out = vec![0f32; self.num_feature + 1];
            for (row, o) in rows_in.chunks(width).zip(out_block.chunks_mut(cw)) {
                self.contributions_with(row, o, &mut path, &mut tree_out);
            }
        };
        if rows >= PARALLEL_MIN_ROWS / 16 {
            data.par_chunks(8 * width)
                .zip(out.par_chunks_mut(8 * cw))
                .for_each(block);
        } else {
            block((data, &mut out));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tree;

    fn two_trees() -> Forest {
        Forest::new(
            vec![
                Tree::stump(0, 1.0, false, 0.25, -0.5),
                Tree::stump(1, 0.0, true, 1.0, 2.0),
            ],
            Objective::RegSquaredError,
            vec![0.5],
            2,
        )
        .unwrap()
    }

    #[test]
    fn threshold_equal_goes_right() {
        let p = Predictor::new(&two_trees()).unwrap();
        // 1.0 < 1.0 is false: right leaf -0.5; 0.0 < 0.0 false: right 2.0.
        assert_eq!(p.margin_row(&[1.0, 0.0]).unwrap(), 0.5 - 0.5 + 2.0);
    }

    #[test]
    fn missing_follows_default() {
        let p = Predictor::new(&two_trees()).unwrap();
        assert_eq!(
            p.margin_row(&[f32::NAN, f32::NAN]).unwrap(),
            0.5 - 0.5 + 1.0
        );
    }

    #[test]
    fn batch_equals_rows() {
        let p = Predictor::new(&two_trees()).unwrap();
        let data: Vec<f32> = (0..5000).map(|i| (i % 7) as f32 * 0.4 - 1.0).collect();
        let batch = p.margins(&data, 2).unwrap();
        for (i, row) in data.chunks(2).enumerate() {
            assert_eq!(batch[i], p.margin_row(row).unwrap());
        }
    }

    #[test]
    fn complete_and_sparse_layouts_agree_on_an_unbalanced_tree() {
        // Left spine of depth 3, right child a leaf at depth 1: padding must
        // copy the shallow leaf into every bottom slot below it.
        let tree = Tree {
            left: vec![1, 3, -1, 5, -1, -1, -1],
            right: vec![2, 4, -1, 6, -1, -1, -1],
            parent: vec![i32::MAX, 0, 0, 1, 1, 3, 3],
            split_feature: vec![0, 1, 0, 0, 0, 0, 0],
            split_condition: vec![0.5, 1.5, 7.0, 2.5, 5.0, 3.0, 4.0],
            default_left: vec![false, true, false, true, false, false, false],
            loss_change: vec![0.0; 7],
            sum_hessian: vec![0.0; 7],
            base_weight: vec![0.0; 7],
        };
        let forest = Forest::new(vec![tree], Objective::RegSquaredError, vec![0.0], 2).unwrap();
        let complete = Predictor::new(&forest).unwrap();
        assert!(matches!(complete.layout, Layout::Complete(_)));
        let mut sparse = complete.clone();
        let mut s = SparseTrees::default();
        forest.trees.iter().for_each(|t| s.push(t));
        sparse.layout = Layout::Sparse(s);
        let values = [f32::NAN, -1.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 10.0];
        for &a in &values {
            for &b in &values {
                let row = [a, b];
                assert_eq!(
                    complete.margin_row(&row).unwrap().to_bits(),
                    sparse.margin_row(&row).unwrap().to_bits(),
                    "{row:?}"
                );
            }
        }
        assert_eq!(complete.margin_row(&[1.0, 0.0]).unwrap(), 7.0);
        assert_eq!(complete.margin_row(&[0.0, f32::NAN]).unwrap(), 3.0);
    }

    #[test]
    fn features_past_the_row_buffer_are_read_from_the_row() {
        // Feature 300 needs the wide-row path; feature 255 is the last slot
        // of the fixed buffer; 40 trees cover full lane groups and a tail.
        for (feature, width) in [(255u32, 256usize), (300, 301)] {
            let trees = (0..40)
                .map(|i| Tree::stump(feature, i as f32, true, -1.0, 1.0))
                .collect();
            let forest = Forest::new(trees, Objective::RegSquaredError, vec![0.0], width).unwrap();
            let p = Predictor::new(&forest).unwrap();
            let mut row = vec![0.0f32; width];
            row[feature as usize] = 10.5;
            // Trees with threshold 0..=10 send 10.5 right (+1), 11..40 left.
            assert_eq!(
                p.margin_row(&row).unwrap(),
                11.0 - 29.0,
                "feature {feature}"
            );
            row[feature as usize] = f32::NAN;
            assert_eq!(p.margin_row(&row).unwrap(), -40.0, "feature {feature}");
            // The same rows in a batch (wide rows score one at a time,
            // narrow ones in blocks): 9 rows, so a block and a tail.
            let mut batch = Vec::new();
            let mut want = Vec::new();
            for r in 0..9 {
                let mut row = vec![0.0f32; width];
                row[feature as usize] = if r == 4 {
                    f32::NAN
                } else {
                    r as f32 * 5.0 + 0.5
                };
                want.push(p.margin_row(&row).unwrap());
                batch.extend(row);
            }
            assert_eq!(p.margins(&batch, width).unwrap(), want, "feature {feature}");
        }
    }

    #[test]
    fn contributions_of_a_degenerate_deep_tree_are_refused_not_overflowed() {
        // A chain of 300 splits: scored as usual, but TreeSHAP would need
        // a path buffer quadratic in the depth.
        let depth = 300;
        let n = 2 * depth + 1;
        let mut t = Tree::leaf(0.0);
        t.left = vec![-1; n];
        t.right = vec![-1; n];
        t.parent = vec![i32::MAX; n];
        t.split_feature = vec![0; n];
        t.split_condition = vec![0.5; n];
        t.default_left = vec![false; n];
        t.loss_change = vec![0.0; n];
        t.sum_hessian = vec![1.0; n];
        t.base_weight = vec![0.0; n];
        for k in 0..depth {
            let (split, leaf, next) = (2 * k, 2 * k + 1, 2 * k + 2);
            t.left[split] = leaf as i32;
            t.right[split] = next as i32;
            t.parent[leaf] = split as i32;
            t.parent[next] = split as i32;
            t.split_condition[split] = k as f32;
        }
        let forest = Forest::new(vec![t], Objective::RegSquaredError, vec![0.0], 1).unwrap();
        let p = Predictor::new(&forest).unwrap();
        assert!(p.margin_row(&[1e9]).is_ok());
        let err = p.contributions(&[1.0], 1).unwrap_err().to_string();
        assert!(err.contains("300 levels"), "{err}");
    }

    #[test]
    fn short_row_is_an_error() {
        let p = Predictor::new(&two_trees()).unwrap();
        assert!(p.margin_row(&[1.0]).is_err());
        assert!(p.margins(&[1.0, 2.0, 3.0], 2).is_err());
    }
}
