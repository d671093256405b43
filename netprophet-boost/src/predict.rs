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

use rayon::prelude::*;

use crate::{Forest, ModelError, Objective};

/// Marks a leaf in [`Node::feature`].
const LEAF: u32 = u32::MAX;
/// Bit of [`Node::feature`] that says missing values go left.
const DEFAULT_LEFT: u32 = 1 << 31;
/// Rows scored per tree pass in batch mode: enough to reuse a tree while
/// it is in cache, few enough that the rows stay in L1/L2.
const BLOCK_ROWS: usize = 64;
/// Below this many rows, a batch is scored on the calling thread: spawning
/// work costs more than it saves.
const PARALLEL_MIN_ROWS: usize = 2048;

/// One node, 12 bytes. Children of a node are stored next to each other,
/// so only the left index is kept (`right = left + 1`).
#[derive(Debug, Clone, Copy)]
struct Node {
    /// Threshold for a split, the value for a leaf.
    value: f32,
    /// Feature index, with [`DEFAULT_LEFT`] set when missing goes left;
    /// [`LEAF`] for a leaf.
    feature: u32,
    /// Absolute index of the left child in the node array.
    left: u32,
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
/// let p = Predictor::new(&forest);
/// assert_eq!(p.margin_row(&[12.0])?, 1.0);
/// assert_eq!(p.margin_row(&[f32::NAN])?, -1.0); // missing goes left
/// assert!((p.predict_row(&[12.0])? - 0.7310586).abs() < 1e-7);
/// # Ok::<(), netprophet_boost::ModelError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Predictor {
    nodes: Vec<Node>,
    /// Index of each tree's root in `nodes`.
    roots: Vec<u32>,
    /// Output group of each tree.
    groups: Vec<u32>,
    base_margin: Vec<f32>,
    num_feature: usize,
    num_group: usize,
    objective: Objective,
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
    /// Compiles `forest` into the flattened layout.
    pub fn new(forest: &Forest) -> Predictor {
        let total: usize = forest.trees.iter().map(|t| t.num_nodes()).sum();
        let mut nodes = Vec::with_capacity(total);
        let mut roots = Vec::with_capacity(forest.trees.len());
        let mut queue = std::collections::VecDeque::new();
        for tree in &forest.trees {
            // Breadth-first renumbering puts siblings side by side and the
            // top levels, visited by every row, at the front.
            let root = nodes.len();
            roots.push(root as u32);
            nodes.push(Node {
                value: 0.0,
                feature: LEAF,
                left: 0,
            });
            queue.clear();
            queue.push_back((0usize, root));
            while let Some((old, new)) = queue.pop_front() {
                if tree.is_leaf(old) {
                    nodes[new] = Node {
                        value: tree.split_condition[old],
                        feature: LEAF,
                        left: 0,
                    };
                    continue;
                }
                let left = nodes.len();
                let placeholder = Node {
                    value: 0.0,
                    feature: LEAF,
                    left: 0,
                };
                nodes.push(placeholder);
                nodes.push(placeholder);
                let mut feature = tree.split_feature[old];
                if tree.default_left[old] {
                    feature |= DEFAULT_LEFT;
                }
                nodes[new] = Node {
                    value: tree.split_condition[old],
                    feature,
                    left: left as u32,
                };
                queue.push_back((tree.left[old] as usize, left));
                queue.push_back((tree.right[old] as usize, left + 1));
            }
        }
        let num_group = forest.num_output_group();
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
        Predictor {
            nodes,
            roots,
            groups: forest.tree_group.clone(),
            base_margin,
            num_feature: forest.num_feature,
            num_group,
            objective: forest.objective.clone(),
        }
    }

    /// Number of features a row must have.
    pub fn num_feature(&self) -> usize {
        self.num_feature
    }

    /// Number of margins (and outputs) per row.
    pub fn num_group(&self) -> usize {
        self.num_group
    }

    #[inline]
    fn leaf(&self, root: u32, row: &[f32]) -> f32 {
        let mut i = root as usize;
        loop {
            let n = self.nodes[i];
            if n.feature == LEAF {
                return n.value;
            }
            let v = row[(n.feature & !DEFAULT_LEFT) as usize];
            let go_left = if v.is_nan() {
                n.feature & DEFAULT_LEFT != 0
            } else {
                v < n.value
            };
            i = n.left as usize + usize::from(!go_left);
        }
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
            let mut m = out[0];
            for &root in &self.roots {
                m += self.leaf(root, row);
            }
            out[0] = m;
        } else {
            for (&root, &g) in self.roots.iter().zip(&self.groups) {
                out[g as usize] += self.leaf(root, row);
            }
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
        self.check_width(width, "each row")?;
        if width == 0 || data.len() % width != 0 {
            return Err(ModelError::Input(format!(
                "{} values is not a whole number of rows of width {width}",
                data.len()
            )));
        }
        let rows = data.len() / width;
        let g = self.num_group;
        let mut out = vec![0.0f32; rows * g];
        let block = |(rows_in, out_block): (&[f32], &mut [f32])| {
            for (o, _) in out_block.chunks_mut(g).zip(rows_in.chunks(width)) {
                o.copy_from_slice(&self.base_margin);
            }
            for (&root, &grp) in self.roots.iter().zip(&self.groups) {
                for (o, row) in out_block.chunks_mut(g).zip(rows_in.chunks(width)) {
                    o[grp as usize] += self.leaf(root, row);
                }
            }
        };
        let in_blocks = data.chunks(BLOCK_ROWS * width);
        let out_blocks = out.chunks_mut(BLOCK_ROWS * g);
        if rows >= PARALLEL_MIN_ROWS {
            in_blocks
                .zip(out_blocks)
                .collect::<Vec<_>>()
                .into_par_iter()
                .for_each(block);
        } else {
            in_blocks.zip(out_blocks).for_each(block);
        }
        Ok(out)
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
        let p = Predictor::new(&two_trees());
        // 1.0 < 1.0 is false: right leaf -0.5; 0.0 < 0.0 false: right 2.0.
        assert_eq!(p.margin_row(&[1.0, 0.0]).unwrap(), 0.5 - 0.5 + 2.0);
    }

    #[test]
    fn missing_follows_default() {
        let p = Predictor::new(&two_trees());
        assert_eq!(
            p.margin_row(&[f32::NAN, f32::NAN]).unwrap(),
            0.5 - 0.5 + 1.0
        );
    }

    #[test]
    fn batch_equals_rows() {
        let p = Predictor::new(&two_trees());
        let data: Vec<f32> = (0..5000).map(|i| (i % 7) as f32 * 0.4 - 1.0).collect();
        let batch = p.margins(&data, 2).unwrap();
        for (i, row) in data.chunks(2).enumerate() {
            assert_eq!(batch[i], p.margin_row(row).unwrap());
        }
    }

    #[test]
    fn short_row_is_an_error() {
        let p = Predictor::new(&two_trees());
        assert!(p.margin_row(&[1.0]).is_err());
        assert!(p.margins(&[1.0, 2.0, 3.0], 2).is_err());
    }
}
