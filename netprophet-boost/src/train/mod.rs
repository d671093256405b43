//! Native histogram gradient boosting (XGBoost's `hist` method, written
//! from its published description and behaviour). Given the same rows
//! and parameters it grows the trees XGBoost 3.x grows, margins equal to
//! float rounding (the crate's `xgboost_training_parity` test); only row
//! and column sampling draw from a different random generator.
//!
//! Features are cut into quantile bins once; every node keeps a histogram
//! of gradient and hessian sums per bin, and a sibling's histogram is the
//! parent's minus the other child's, so only the smaller child is ever
//! built from rows. Splits maximise the regularised gain
//! `G_L^2/(H_L+lambda) + G_R^2/(H_R+lambda) - G^2/(H+lambda)`, missing
//! values try both sides and keep the better one as the default direction,
//! trees grow depth-wise (every node above `max_depth` is split if it
//! can be), and splits whose gain is below `gamma` are pruned bottom-up
//! afterwards. The result is an ordinary [`Forest`], so it scores with
//! [`crate::Predictor`] and saves as XGBoost JSON.
//!
//! Where the time goes, and why the code is shaped as it is: a node's
//! rows are a range of one row buffer, partitioned in place; the two
//! children of a split grow in parallel (no barrier per level); the
//! root's histogram is summed while the gradients are computed; and the
//! last level's rows are never partitioned, since the next gradient pass
//! needs only their leaf values. None of this changes a model: the same
//! rows are added in the same order as in a plain level-by-level build.

mod bins;

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::ops::Range;

use crate::error::{BadParam, ModelError};
use crate::model::{Forest, Objective, Tree};
use bins::Binned;

/// Training objective.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrainObjective {
    /// `binary:logistic` (labels 0 or 1).
    BinaryLogistic,
    /// `reg:squarederror`.
    SquaredError,
}

/// Training parameters; the defaults are XGBoost's. They serialise to
/// JSON and back (fields left out take their defaults), so a run's
/// parameters can be stored beside its model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainParams {
    /// Objective (default binary:logistic).
    pub objective: TrainObjective,
    /// Boosting rounds (default 100).
    pub n_estimators: usize,
    /// Maximum tree depth (default 6).
    pub max_depth: usize,
    /// Shrinkage `eta` (default 0.3).
    pub learning_rate: f64,
    /// Minimum hessian sum in a child (default 1).
    pub min_child_weight: f64,
    /// L2 regularisation on leaf weights (default 1).
    pub lambda: f64,
    /// Minimum gain for a split to be kept (default 0).
    pub gamma: f64,
    /// Fraction of rows sampled per tree (default 1).
    pub subsample: f64,
    /// Fraction of features sampled per tree (default 1).
    pub colsample_bytree: f64,
    /// Maximum bins per feature (default 256).
    pub max_bin: usize,
    /// Weight multiplier of positive rows (default 1), an alternative to
    /// oversampling.
    pub scale_pos_weight: f64,
    /// Initial prediction in output space; `None` estimates it from the
    /// labels as XGBoost does: their weighted mean, or with
    /// `scale_pos_weight` one Newton step from margin 0.
    pub base_score: Option<f64>,
    /// Seed of row and feature sampling (default 0).
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            objective: TrainObjective::BinaryLogistic,
            n_estimators: 100,
            max_depth: 6,
            learning_rate: 0.3,
            min_child_weight: 1.0,
            lambda: 1.0,
            gamma: 0.0,
            subsample: 1.0,
            colsample_bytree: 1.0,
            max_bin: 256,
            scale_pos_weight: 1.0,
            base_score: None,
            seed: 0,
        }
    }
}

/// Training rows: row-major features (NaN = missing), labels and optional
/// weights.
#[derive(Clone, Copy, Debug)]
pub struct TrainData<'a> {
    /// Row-major features, `rows x width`.
    pub x: &'a [f32],
    /// Features per row.
    pub width: usize,
    /// Label per row.
    pub y: &'a [f32],
    /// Weight per row (default 1).
    pub weight: Option<&'a [f32]>,
    /// Feature names, stored in the model when given.
    pub feature_names: Option<&'a [String]>,
}

impl<'a> TrainData<'a> {
    /// Unweighted rows without feature names.
    pub fn new(x: &'a [f32], width: usize, y: &'a [f32]) -> Self {
        TrainData {
            x,
            width,
            y,
            weight: None,
            feature_names: None,
        }
    }

    /// The same rows, with feature names to store in the model.
    pub fn with_feature_names(self, names: &'a [String]) -> Self {
        TrainData {
            feature_names: Some(names),
            ..self
        }
    }
}

fn invalid(msg: String) -> ModelError {
    ModelError::Input(msg)
}

/// Most boosting rounds accepted: far beyond any useful model, and low
/// enough that a mistyped count fails at once instead of exhausting memory.
pub const MAX_ROUNDS: usize = 1_000_000;
/// Most bins per feature: bins are stored as 16-bit slots.
pub const MAX_BINS: usize = 65_535;

impl TrainParams {
    /// Checks every parameter against its range and reports all that are
    /// out of it at once ([`ModelError::Params`]). A NaN or infinite rate,
    /// weight or penalty is refused: it trains a model whose leaves are
    /// NaN (saved as `null`), which no reader accepts.
    pub fn validate(&self) -> Result<(), ModelError> {
        let mut bad = Vec::new();
        let mut check = |name: &'static str, value: String, ok: bool, expected: &'static str| {
            if !ok {
                bad.push(BadParam {
                    name,
                    value,
                    expected,
                });
            }
        };
        let positive = |v: f64| v.is_finite() && v > 0.0;
        let non_negative = |v: f64| v.is_finite() && v >= 0.0;
        let fraction = |v: f64| v > 0.0 && v <= 1.0;
        let p = self;
        check(
            "n_estimators",
            p.n_estimators.to_string(),
            p.n_estimators <= MAX_ROUNDS,
            "at most 1000000",
        );
        check(
            "max_depth",
            p.max_depth.to_string(),
            (1..=30).contains(&p.max_depth),
            "in 1..=30",
        );
        check(
            "learning_rate",
            p.learning_rate.to_string(),
            positive(p.learning_rate),
            "a finite number > 0",
        );
        for (name, v) in [
            ("min_child_weight", p.min_child_weight),
            ("lambda", p.lambda),
            ("gamma", p.gamma),
        ] {
            check(name, v.to_string(), non_negative(v), "a finite number >= 0");
        }
        check(
            "subsample",
            p.subsample.to_string(),
            fraction(p.subsample),
            "in (0, 1]",
        );
        check(
            "colsample_bytree",
            p.colsample_bytree.to_string(),
            fraction(p.colsample_bytree),
            "in (0, 1]",
        );
        check(
            "max_bin",
            p.max_bin.to_string(),
            (2..=MAX_BINS).contains(&p.max_bin),
            "in 2..=65535",
        );
        check(
            "scale_pos_weight",
            p.scale_pos_weight.to_string(),
            positive(p.scale_pos_weight),
            "a finite number > 0",
        );
        if let Some(b) = p.base_score {
            match p.objective {
                // XGBoost's rule (ProbToMargin of the logistic losses):
                // the base score is a probability strictly inside (0, 1),
                // or its logit is infinite.
                TrainObjective::BinaryLogistic => check(
                    "base_score",
                    b.to_string(),
                    b > 0.0 && b < 1.0,
                    "in (0, 1) for binary:logistic",
                ),
                TrainObjective::SquaredError => {
                    check("base_score", b.to_string(), b.is_finite(), "finite")
                }
            }
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(ModelError::Params(bad))
        }
    }
}

fn check_data(d: &TrainData<'_>, objective: TrainObjective) -> Result<usize, ModelError> {
    if d.width == 0 {
        return Err(invalid("training rows have no features".into()));
    }
    if d.x.len() != d.y.len() * d.width {
        return Err(invalid(format!(
            "{} values do not make {} rows of {} features",
            d.x.len(),
            d.y.len(),
            d.width
        )));
    }
    if d.y.is_empty() {
        return Err(invalid("no training rows".into()));
    }
    if let Some(w) = d.weight {
        if w.len() != d.y.len() {
            return Err(invalid(format!(
                "{} weights for {} rows",
                w.len(),
                d.y.len()
            )));
        }
        if let Some(i) = w.iter().position(|w| !(w.is_finite() && *w >= 0.0)) {
            return Err(invalid(format!(
                "row {i}: weight {} is not a finite number >= 0",
                w[i]
            )));
        }
    }
    if let Some(names) = d.feature_names {
        if let Some(name) = crate::model::first_duplicate(names) {
            return Err(ModelError::DuplicateFeature(name.to_owned()));
        }
        if names.len() != d.width {
            return Err(invalid(format!(
                "{} feature names for {} features",
                names.len(),
                d.width
            )));
        }
    }
    if let Some(i) = d.x.iter().position(|v| v.is_infinite()) {
        return Err(invalid(format!(
            "row {}, feature {}: {} is infinite",
            i / d.width,
            i % d.width,
            d.x[i]
        )));
    }
    for (i, &y) in d.y.iter().enumerate() {
        let ok = match objective {
            TrainObjective::BinaryLogistic => y == 0.0 || y == 1.0,
            TrainObjective::SquaredError => y.is_finite(),
        };
        if !ok {
            return Err(invalid(format!(
                "row {i}: label {y} is not valid for {objective:?}"
            )));
        }
    }
    Ok(d.y.len())
}

/// A row's gradient and hessian as computed, in float32 (as XGBoost keeps
/// them): half the bytes of [`GradPair`], which matters because histogram
/// building reads them in row order from a partitioned row list.
#[derive(Clone, Copy, Default)]
struct Grad32 {
    g: f32,
    h: f32,
}

impl From<Grad32> for GradPair {
    #[inline]
    fn from(x: Grad32) -> GradPair {
        GradPair {
            g: f64::from(x.g),
            h: f64::from(x.h),
        }
    }
}

/// Sums of gradients and hessians (histogram bins, node totals), in f64.
#[derive(Clone, Copy, Default)]
struct GradPair {
    g: f64,
    h: f64,
}

impl std::ops::AddAssign for GradPair {
    fn add_assign(&mut self, o: Self) {
        self.g += o.g;
        self.h += o.h;
    }
}

impl std::ops::Sub for GradPair {
    type Output = GradPair;
    fn sub(self, o: Self) -> GradPair {
        GradPair {
            g: self.g - o.g,
            h: self.h - o.h,
        }
    }
}

/// Progress of one boosting round, for callers that report it.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Round number, from 1.
    pub round: usize,
    /// Of how many.
    pub of: usize,
}

/// Trains a forest.
///
/// ```
/// use netprophet_boost::train::{train, TrainData, TrainParams};
///
/// // y = 1 when x0 > 5.
/// let x: Vec<f32> = (0..100).flat_map(|i| [(i % 10) as f32, (i / 10) as f32]).collect();
/// let y: Vec<f32> = (0..100).map(|i| if i % 10 > 5 { 1.0 } else { 0.0 }).collect();
/// let data = TrainData::new(&x, 2, &y);
/// let forest = train(&data, &TrainParams { n_estimators: 20, ..TrainParams::default() }).unwrap();
/// let p = netprophet_boost::Predictor::new(&forest);
/// assert!(p.predict_row(&[8.0, 0.0]).unwrap() > 0.9);
/// assert!(p.predict_row(&[2.0, 0.0]).unwrap() < 0.1);
/// ```
pub fn train(data: &TrainData<'_>, params: &TrainParams) -> Result<Forest, ModelError> {
    train_with_progress(data, params, |_| {})
}

/// [`train`], calling `progress` after each round.
pub fn train_with_progress(
    data: &TrainData<'_>,
    params: &TrainParams,
    mut progress: impl FnMut(Round),
) -> Result<Forest, ModelError> {
    params.validate()?;
    let n = check_data(data, params.objective)?;
    let width = data.width;
    let binned = Binned::new(data.x, width, data.weight, params.max_bin);

    let weight: Vec<f64> = (0..n)
        .map(|i| {
            let w = data.weight.map_or(1.0, |w| f64::from(w[i]));
            if data.y[i] == 1.0 && params.objective == TrainObjective::BinaryLogistic {
                w * params.scale_pos_weight
            } else {
                w
            }
        })
        .collect();
    let total_w: f64 = weight.iter().sum();
    if total_w <= 0.0 {
        return Err(invalid("all training weights are 0".into()));
    }
    let base_score = match params.base_score {
        Some(b) => b,
        // With re-weighted positives the weighted mean is no longer the
        // best constant; XGBoost then takes one Newton step from margin 0
        // (sums in f64 of float32 gradients), and so does this.
        None if params.objective == TrainObjective::BinaryLogistic
            && (params.scale_pos_weight - 1.0).abs() > 1e-6 =>
        {
            let (mut g, mut h) = (0f64, 0f64);
            for (&w, &y) in weight.iter().zip(data.y) {
                let w = w as f32;
                g += f64::from((0.5 - y) * w);
                h += f64::from(0.25 * w);
            }
            let m = if h > 0.0 { (-g / h) as f32 } else { 0.0 };
            f64::from(1.0 / (1.0 + (-m).exp())).clamp(1e-6, 1.0 - 1e-6)
        }
        None => {
            let mean = weight
                .iter()
                .zip(data.y)
                .map(|(w, &y)| w * f64::from(y))
                .sum::<f64>()
                / total_w;
            match params.objective {
                // The optimal constant; kept away from 0 and 1 so its logit
                // is finite.
                TrainObjective::BinaryLogistic => mean.clamp(1e-6, 1.0 - 1e-6),
                TrainObjective::SquaredError => mean,
            }
        }
    };
    let (objective, base_margin) = match params.objective {
        TrainObjective::BinaryLogistic => {
            if !(base_score > 0.0 && base_score < 1.0) {
                return Err(invalid(format!(
                    "base_score {base_score} must be in (0, 1) for binary:logistic"
                )));
            }
            let b = base_score as f32;
            (Objective::BinaryLogistic, (b / (1.0 - b)).ln())
        }
        TrainObjective::SquaredError => (Objective::RegSquaredError, base_score as f32),
    };

    // Gradients are float32 (as XGBoost computes them): so is the weight
    // that scales them.
    let weight: Vec<f32> = weight.into_iter().map(|w| w as f32).collect();
    // Margins are float32, as XGBoost's prediction cache.
    let mut margin = vec![base_margin; n];
    let mut grad = vec![Grad32::default(); n];
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut trees = Vec::with_capacity(params.n_estimators.min(4096));
    let all_features: Vec<usize> = (0..width).collect();
    let mut buffers = RowBuffers {
        idx: Vec::with_capacity(n),
        scratch: vec![0; n],
    };
    // The last tree and where its rows settled, when its leaf values are
    // still to be added to the margins (in the next gradient pass).
    let mut pending: Option<(BinTree, Vec<Settled>)> = None;
    for round in 0..params.n_estimators {
        let last = pending
            .as_ref()
            .map(|(tree, settled)| (tree, &buffers.idx[..], &settled[..]));
        // With every row in the tree, the root's histogram is built in
        // the gradient pass.
        let root_hist = gradients(
            &mut margin,
            &mut grad,
            last,
            &binned,
            data.y,
            &weight,
            params.objective,
            params.subsample >= 1.0,
        );
        buffers.idx.clear();
        if params.subsample < 1.0 {
            buffers
                .idx
                .extend((0..n as u32).filter(|_| rng.random::<f64>() < params.subsample));
        } else {
            buffers.idx.extend(0..n as u32);
        }
        let features: Vec<usize> = if params.colsample_bytree < 1.0 {
            let k = ((params.colsample_bytree * width as f64) as usize).max(1);
            let mut f = all_features.clone();
            f.shuffle(&mut rng);
            f.truncate(k);
            f.sort_unstable();
            f
        } else {
            all_features.clone()
        };
        let (tree, settled) = grow(&binned, &grad, &mut buffers, root_hist, &features, params);
        trees.push(tree.to_model(&binned));
        pending = if params.subsample >= 1.0 {
            Some((tree, settled))
        } else {
            // Rows left out of this tree's sample still move by their
            // leaf: walk the tree for every row.
            margin.par_iter_mut().enumerate().for_each(|(i, m)| {
                *m += tree.leaf_of(&binned, i as u32);
            });
            None
        };
        progress(Round {
            round: round + 1,
            of: params.n_estimators,
        });
    }
    let mut forest = Forest::new(trees, objective, vec![base_score as f32], width)?;
    forest.feature_names = data.feature_names.map(<[String]>::to_vec);
    Ok(forest)
}

/// Row index buffers, allocated once per training and reused by every
/// tree: a node's rows are a range of `idx`, and `scratch` is where a
/// partition puts the rows going right before they are copied back.
struct RowBuffers {
    idx: Vec<u32>,
    scratch: Vec<u32>,
}

/// Where some of a tree's rows ended: a range of the row buffer and the
/// node they reached, either a leaf or a split whose children are leaves
/// (the last level is never partitioned: its rows only need their leaf
/// value, found by one comparison when the margins are updated).
type Settled = (Range<usize>, usize);

/// A grown subtree, before its nodes are numbered.
enum Grown {
    /// No split worth making, or one pruned away. Its rows are one range
    /// of the row buffer, or, after pruning, the ranges its children's
    /// rows were partitioned into: each range stays in ascending row
    /// order, which the margin update's binary search needs.
    Leaf {
        sum: GradPair,
        rows: Vec<Range<usize>>,
    },
    /// A split; `children` is `None` when they are leaves at the depth
    /// limit, whose rows were never partitioned.
    Split {
        sum: GradPair,
        choice: SplitChoice,
        rows: Range<usize>,
        children: Option<Box<[Grown; 2]>>,
    },
}

/// A node while growing: its rows (a range of the row buffer, in
/// ascending row order) and statistics.
struct GrowNode {
    rows: Range<usize>,
    sum: GradPair,
    depth: usize,
    hist: Vec<GradPair>,
}

/// The best split of a node.
#[derive(Clone, Copy)]
struct SplitChoice {
    gain: f64,
    feature: usize,
    bin: usize,
    default_left: bool,
    left: GradPair,
}

/// A tree in bin space, turned into a model tree at the end.
#[derive(Default)]
struct BinTree {
    feature: Vec<usize>,
    bin: Vec<usize>,
    default_left: Vec<bool>,
    left: Vec<i32>,
    right: Vec<i32>,
    parent: Vec<i32>,
    leaf: Vec<f32>,
    gain: Vec<f64>,
    cover: Vec<f64>,
    weight: Vec<f64>,
}

impl BinTree {
    /// Appends a node with its gradient totals (no split yet); returns
    /// its id.
    fn add_node(&mut self, parent: i32, sum: GradPair, lambda: f64) -> usize {
        self.feature.push(0);
        self.bin.push(0);
        self.default_left.push(false);
        self.left.push(-1);
        self.right.push(-1);
        self.parent.push(parent);
        self.leaf.push(0.0);
        self.gain.push(0.0);
        self.cover.push(sum.h);
        self.weight.push(calc_weight(sum, lambda));
        self.left.len() - 1
    }

    /// Gives leaf `node` its value: its weight, shrunk by the learning
    /// rate.
    fn make_leaf(&mut self, node: usize, learning_rate: f64) {
        self.leaf[node] = (self.weight[node] * learning_rate) as f32;
    }

    /// The leaf value `row` reaches.
    fn leaf_of(&self, binned: &Binned, row: u32) -> f32 {
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

    /// The split rule of split node `node`.
    fn test<'a>(&self, binned: &'a Binned, node: usize) -> SplitTest<'a> {
        SplitTest::new(
            binned,
            self.feature[node],
            self.bin[node],
            self.default_left[node],
        )
    }

    fn to_model(&self, binned: &Binned) -> Tree {
        let n = self.left.len();
        let mut t = Tree {
            left: self.left.clone(),
            right: self.right.clone(),
            parent: self.parent.clone(),
            split_feature: vec![0; n],
            split_condition: vec![0.0; n],
            default_left: vec![false; n],
            loss_change: vec![0.0; n],
            sum_hessian: self.cover.iter().map(|&c| c as f32).collect(),
            base_weight: self.weight.iter().map(|&w| w as f32).collect(),
        };
        for i in 0..n {
            if self.left[i] >= 0 {
                t.split_feature[i] = self.feature[i] as u32;
                t.split_condition[i] = binned.cuts[self.feature[i]][self.bin[i]];
                t.default_left[i] = self.default_left[i];
                t.loss_change[i] = self.gain[i] as f32;
            } else {
                t.split_condition[i] = self.leaf[i];
            }
        }
        t
    }
}

/// Adds the last tree's leaf values to the margins (when its rows are
/// known by leaf) and computes every row's gradient, in one parallel pass
/// over row chunks: each chunk finds its rows in every settled range by
/// binary search, since the ranges hold ascending row numbers.
///
/// With `root_hist`, each chunk also adds its rows to a histogram while
/// their gradients are at hand, and the chunks' histograms are summed:
/// the same chunks and the same order of additions as [`build_hist`] over
/// all rows, so the root's histogram comes out bit for bit the same,
/// without a second pass over the rows.
#[allow(clippy::too_many_arguments)]
fn gradients(
    margin: &mut [f32],
    grad: &mut [Grad32],
    last: Option<(&BinTree, &[u32], &[Settled])>,
    binned: &Binned,
    y: &[f32],
    weight: &[f32],
    objective: TrainObjective,
    root_hist: bool,
) -> Option<Vec<GradPair>> {
    let chunk = if root_hist {
        hist_chunk(margin.len())
    } else {
        16 * 1024
    };
    let width = binned.width;
    margin
        .par_chunks_mut(chunk)
        .zip(grad.par_chunks_mut(chunk))
        .enumerate()
        .map(|(c, (margin, grad))| {
            let start = c * chunk;
            let end = start + margin.len();
            if let Some((tree, idx, settled)) = last {
                for (range, node) in settled {
                    let rows = &idx[range.clone()];
                    let lo = rows.partition_point(|&r| (r as usize) < start);
                    let hi = lo + rows[lo..].partition_point(|&r| (r as usize) < end);
                    let rows = &rows[lo..hi];
                    let (l, r) = (tree.left[*node], tree.right[*node]);
                    if l < 0 {
                        let v = tree.leaf[*node];
                        for &row in rows {
                            margin[row as usize - start] += v;
                        }
                    } else {
                        let test = tree.test(binned, *node);
                        let v = [tree.leaf[r as usize], tree.leaf[l as usize]];
                        for &row in rows {
                            margin[row as usize - start] += v[usize::from(test.goes_left(row))];
                        }
                    }
                }
            }
            let mut hist = root_hist.then(|| vec![GradPair::default(); binned.slots]);
            let slots = &binned.row_slots[start * width..end * width];
            for (k, (gp, &m)) in grad.iter_mut().zip(margin.iter()).enumerate() {
                let (y, w) = (y[start + k], weight[start + k]);
                // Gradients in float32, as XGBoost computes them; sums
                // stay f64.
                let (g, h) = match objective {
                    TrainObjective::BinaryLogistic => {
                        let p = 1.0 / (1.0 + (-m).exp());
                        ((p - y) * w, (p * (1.0 - p)).max(1e-16) * w)
                    }
                    TrainObjective::SquaredError => ((m - y) * w, w),
                };
                *gp = Grad32 { g, h };
                if let Some(hist) = hist.as_mut() {
                    add_row(hist, &slots[k * width..(k + 1) * width], *gp);
                }
            }
            hist
        })
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some(a), Some(b)) => Some(add_hists(a, b)),
                (a, None) => a,
                (None, b) => b,
            },
        )
}

fn calc_gain(g: GradPair, lambda: f64) -> f64 {
    g.g * g.g / (g.h + lambda)
}

fn calc_weight(g: GradPair, lambda: f64) -> f64 {
    -g.g / (g.h + lambda)
}

/// Row histograms are built in parallel above this many rows.
const PARALLEL_ROWS: usize = 8192;

/// Rows per chunk of a histogram built in parallel: one chunk per thread
/// (twice over, for balance), since every chunk costs a zeroed histogram
/// and a reduction, so fewer, larger chunks win; small nodes are one chunk.
fn hist_chunk(rows: usize) -> usize {
    if rows < PARALLEL_ROWS {
        return rows.max(1);
    }
    (rows / (2 * rayon::current_num_threads().max(1))).max(PARALLEL_ROWS / 2)
}

/// Adds one row (its slots and gradient) to a histogram.
#[inline]
fn add_row(hist: &mut [GradPair], slots: &[u16], gp: Grad32) {
    let gp = GradPair::from(gp);
    for &slot in slots {
        hist[slot as usize] += gp;
    }
}

/// Sums two histograms into the first.
fn add_hists(mut a: Vec<GradPair>, b: Vec<GradPair>) -> Vec<GradPair> {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
    a
}

fn build_hist(binned: &Binned, grad: &[Grad32], rows: &[u32]) -> Vec<GradPair> {
    let width = binned.width;
    let fill = |rows: &[u32]| {
        let mut h = vec![GradPair::default(); binned.slots];
        for &r in rows {
            let r = r as usize;
            add_row(
                &mut h,
                &binned.row_slots[r * width..(r + 1) * width],
                grad[r],
            );
        }
        h
    };
    let chunk = hist_chunk(rows.len());
    if chunk >= rows.len() {
        return fill(rows);
    }
    rows.par_chunks(chunk)
        .map(fill)
        .reduce(|| vec![GradPair::default(); binned.slots], add_hists)
}

fn best_split(
    binned: &Binned,
    hist: &[GradPair],
    sum: GradPair,
    features: &[usize],
    p: &TrainParams,
) -> Option<SplitChoice> {
    let parent_gain = calc_gain(sum, p.lambda);
    let mut best: Option<SplitChoice> = None;
    for &f in features {
        let nb = binned.cuts[f].len();
        if nb == 0 {
            continue;
        }
        let off = binned.offsets[f];
        let missing = hist[binned.missing_slot(f)];
        let mut acc = GradPair::default();
        // Splitting after bin b (left = bins 0..=b); the last bin would
        // leave the right side without observed values.
        for b in 0..nb {
            acc += hist[off + b];
            // Missing values right, then left.
            for default_left in [false, true] {
                if default_left && missing.h == 0.0 && missing.g == 0.0 {
                    continue;
                }
                let mut left = acc;
                if default_left {
                    left += missing;
                }
                let right = sum - left;
                if left.h < p.min_child_weight || right.h < p.min_child_weight {
                    continue;
                }
                let gain = calc_gain(left, p.lambda) + calc_gain(right, p.lambda) - parent_gain;
                if gain > 1e-6 && best.is_none_or(|b| gain > b.gain) {
                    best = Some(SplitChoice {
                        gain,
                        feature: f,
                        bin: b,
                        default_left,
                        left,
                    });
                }
            }
        }
    }
    best
}

/// Which way a split sends a row, from the feature's column of slots.
struct SplitTest<'a> {
    slots: &'a [u16],
    off: usize,
    missing: usize,
    bin: usize,
    default_left: bool,
}

impl<'a> SplitTest<'a> {
    fn new(binned: &'a Binned, feature: usize, bin: usize, default_left: bool) -> Self {
        SplitTest {
            slots: &binned.col_slots[feature * binned.rows..(feature + 1) * binned.rows],
            off: binned.offsets[feature],
            missing: binned.missing_slot(feature),
            bin,
            default_left,
        }
    }

    #[inline]
    fn goes_left(&self, row: u32) -> bool {
        let slot = usize::from(self.slots[row as usize]);
        (slot == self.missing && self.default_left)
            | (slot != self.missing && slot.wrapping_sub(self.off) <= self.bin)
    }
}

/// Moves the rows going left to the front of `rows`, in their order, and
/// the rows going right to the front of `scratch`, in theirs; returns how
/// many go left.
///
/// Branch-free: every row is written to both sides and only the side it
/// belongs to advances, since which way a row goes is unpredictable to the
/// CPU. Writing left rows in place is safe because the write position
/// never passes the read position.
fn partition_piece(
    rows: &mut [u32],
    scratch: &mut [u32],
    goes_left: impl Fn(u32) -> bool,
) -> usize {
    let (mut l, mut r) = (0usize, 0usize);
    for i in 0..rows.len() {
        let row = rows[i];
        let go_left = goes_left(row);
        rows[l] = row;
        scratch[r] = row;
        l += usize::from(go_left);
        r += usize::from(!go_left);
    }
    l
}

/// Stable partition of `rows` (left rows first) using `scratch`, which is
/// at least as long; returns how many go left. Large nodes (the root and
/// its children) are cut into pieces partitioned in parallel, then joined.
fn partition(
    rows: &mut [u32],
    scratch: &mut [u32],
    goes_left: impl Fn(u32) -> bool + Sync,
) -> usize {
    let n = rows.len();
    let scratch = &mut scratch[..n];
    if n < 4 * PARALLEL_ROWS {
        let l = partition_piece(rows, scratch, goes_left);
        rows[l..].copy_from_slice(&scratch[..n - l]);
        return l;
    }
    let piece = n.div_ceil(2 * rayon::current_num_threads().max(1));
    let lefts: Vec<usize> = rows
        .par_chunks_mut(piece)
        .zip(scratch.par_chunks_mut(piece))
        .map(|(rows, scratch)| partition_piece(rows, scratch, &goes_left))
        .collect();
    // Left rows move down (never past a piece's own start), then the right
    // rows come back from scratch behind them.
    let mut at = 0;
    for (p, &l) in lefts.iter().enumerate() {
        rows.copy_within(p * piece..p * piece + l, at);
        at += l;
    }
    let n_left = at;
    for (p, &l) in lefts.iter().enumerate() {
        let r = piece.min(n - p * piece) - l;
        rows[at..at + r].copy_from_slice(&scratch[p * piece..p * piece + r]);
        at += r;
    }
    n_left
}

/// Splits a node's rows by `c` and builds the children's histograms: the
/// smaller child's from its rows, the larger one's as the parent's minus
/// the smaller's.
fn split_node(
    binned: &Binned,
    grad: &[Grad32],
    node: &GrowNode,
    c: &SplitChoice,
    rows: &mut [u32],
    scratch: &mut [u32],
) -> [GrowNode; 2] {
    let test = SplitTest::new(binned, c.feature, c.bin, c.default_left);
    let n_left = partition(rows, scratch, |row| test.goes_left(row));
    let (left_rows, right_rows) = rows.split_at(n_left);
    let left_small = left_rows.len() <= right_rows.len();
    let small = build_hist(
        binned,
        grad,
        if left_small { left_rows } else { right_rows },
    );
    let large: Vec<GradPair> = node.hist.iter().zip(&small).map(|(&a, &b)| a - b).collect();
    let (left_hist, right_hist) = if left_small {
        (small, large)
    } else {
        (large, small)
    };
    let mid = node.rows.start + n_left;
    [
        GrowNode {
            rows: node.rows.start..mid,
            sum: c.left,
            depth: node.depth + 1,
            hist: left_hist,
        },
        GrowNode {
            rows: mid..node.rows.end,
            sum: node.sum - c.left,
            depth: node.depth + 1,
            hist: right_hist,
        },
    ]
}

/// Grows one tree from the rows in `buf.idx` (the root's histogram is
/// built here unless given); also returns where the rows settled.
fn grow(
    binned: &Binned,
    grad: &[Grad32],
    buf: &mut RowBuffers,
    root_hist: Option<Vec<GradPair>>,
    features: &[usize],
    p: &TrainParams,
) -> (BinTree, Vec<Settled>) {
    let hist = root_hist.unwrap_or_else(|| build_hist(binned, grad, &buf.idx));
    // Every row falls in exactly one slot of any feature (its missing
    // slot included), so one feature's slots add up to the root's total:
    // a few hundred additions instead of a chain of one per row.
    let mut sum = GradPair::default();
    for &s in &hist[binned.offsets[0]..=binned.missing_slot(0)] {
        sum += s;
    }
    let n = buf.idx.len();
    let root = GrowNode {
        rows: 0..n,
        sum,
        depth: 0,
        hist,
    };
    let ctx = Grower {
        binned,
        grad,
        features,
        p,
    };
    let grown = ctx.grow_node(root, &mut buf.idx, &mut buf.scratch[..n]);
    number(&prune(grown, p.gamma), p)
}

/// What growing a tree reads.
struct Grower<'a> {
    binned: &'a Binned,
    grad: &'a [Grad32],
    features: &'a [usize],
    p: &'a TrainParams,
}

impl Grower<'_> {
    /// Grows the subtree under `node`, whose rows are `rows`.
    ///
    /// Depth first, the two children of a split in parallel (rayon::join):
    /// no waiting for a whole level to finish, and a node's rows are
    /// still in cache when its children start.
    fn grow_node(&self, node: GrowNode, rows: &mut [u32], scratch: &mut [u32]) -> Grown {
        let (binned, p) = (self.binned, self.p);
        let Some(choice) = best_split(binned, &node.hist, node.sum, self.features, p) else {
            return Grown::Leaf {
                sum: node.sum,
                rows: vec![node.rows],
            };
        };
        if node.depth + 1 >= p.max_depth {
            // Children at the depth limit are leaves: no partition.
            return Grown::Split {
                sum: node.sum,
                choice,
                rows: node.rows,
                children: None,
            };
        }
        let [left, right] = split_node(binned, self.grad, &node, &choice, rows, scratch);
        // The parent's histogram is dropped before the children grow.
        let GrowNode {
            sum, rows: range, ..
        } = node;
        let n_left = left.rows.len();
        let (left_rows, right_rows) = rows.split_at_mut(n_left);
        let (left_scratch, right_scratch) = scratch.split_at_mut(n_left);
        let children = rayon::join(
            || self.grow_node(left, left_rows, left_scratch),
            || self.grow_node(right, right_rows, right_scratch),
        );
        Grown::Split {
            sum,
            choice,
            rows: range,
            children: Some(Box::new([children.0, children.1])),
        }
    }
}

/// Numbers a grown tree's nodes breadth first (children of a node next
/// to each other, left first), the order XGBoost writes; also lists where
/// its rows settled.
fn number(root: &Grown, p: &TrainParams) -> (BinTree, Vec<Settled>) {
    let sum = match root {
        Grown::Leaf { sum, .. } | Grown::Split { sum, .. } => *sum,
    };
    let mut t = BinTree::default();
    t.add_node(i32::MAX, sum, p.lambda);
    let mut settled = Vec::new();
    let mut queue = std::collections::VecDeque::from([(root, 0usize)]);
    while let Some((grown, id)) = queue.pop_front() {
        let (sum, c, rows, children) = match grown {
            Grown::Leaf { rows, .. } => {
                t.make_leaf(id, p.learning_rate);
                settled.extend(rows.iter().map(|r| (r.clone(), id)));
                continue;
            }
            Grown::Split {
                sum,
                choice,
                rows,
                children,
            } => (*sum, choice, rows, children),
        };
        let l = t.left.len();
        for sum in [c.left, sum - c.left] {
            let child = t.add_node(id as i32, sum, p.lambda);
            if children.is_none() {
                // Leaves at the depth limit: nothing below them to number.
                t.make_leaf(child, p.learning_rate);
            }
        }
        match children {
            Some(pair) => {
                queue.push_back((&pair[0], l));
                queue.push_back((&pair[1], l + 1));
            }
            None => settled.push((rows.clone(), id)),
        }
        t.feature[id] = c.feature;
        t.bin[id] = c.bin;
        t.default_left[id] = c.default_left;
        t.left[id] = l as i32;
        t.right[id] = l as i32 + 1;
        t.gain[id] = c.gain;
    }
    (t, settled)
}

/// Turns splits whose gain is below `gamma` and whose children are
/// leaves back into leaves, bottom-up, as XGBoost's pruner does. A pruned
/// node's rows settle where its children's did.
fn prune(grown: Grown, gamma: f64) -> Grown {
    let Grown::Split {
        sum,
        choice,
        rows,
        children,
    } = grown
    else {
        return grown;
    };
    let children = children.map(|pair| {
        let [l, r] = *pair;
        [prune(l, gamma), prune(r, gamma)]
    });
    if choice.gain >= gamma {
        return Grown::Split {
            sum,
            choice,
            rows,
            children: children.map(Box::new),
        };
    }
    match children {
        // Leaf children at the depth limit: the rows were never split.
        None => Grown::Leaf {
            sum,
            rows: vec![rows],
        },
        Some([Grown::Leaf { rows: mut l, .. }, Grown::Leaf { rows: r, .. }]) => {
            l.extend(r);
            Grown::Leaf { sum, rows: l }
        }
        Some(pair) => Grown::Split {
            sum,
            choice,
            rows,
            children: Some(Box::new(pair)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Predictor;

    fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let a = (i * 37 % 101) as f32 / 10.0;
            let b = (i * 53 % 97) as f32 / 10.0;
            let c = if i % 7 == 0 {
                f32::NAN
            } else {
                (i % 13) as f32
            };
            x.extend_from_slice(&[a, b, c]);
            y.push(if a + b > 10.0 || c.is_nan() { 1.0 } else { 0.0 });
        }
        (x, y)
    }

    /// `n` rows of [`data`] binned, their gradients at varied margins,
    /// and the root histogram the gradient pass built with them.
    fn with_gradients(n: usize) -> (Binned, Vec<Grad32>, Vec<GradPair>) {
        let (x, y) = data(n);
        let binned = Binned::new(&x, 3, None, 256);
        let mut margin: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 4.0 - 2.0).collect();
        let mut grad = vec![Grad32::default(); n];
        let hist = gradients(
            &mut margin,
            &mut grad,
            None,
            &binned,
            &y,
            &vec![1.0; n],
            TrainObjective::BinaryLogistic,
            true,
        )
        .expect("the root histogram");
        (binned, grad, hist)
    }

    #[test]
    fn learns_and_the_forest_scores_the_training_margins() {
        let (x, y) = data(3000);
        let d = TrainData::new(&x, 3, &y);
        let params = TrainParams {
            n_estimators: 30,
            max_depth: 4,
            ..TrainParams::default()
        };
        let forest = train(&d, &params).unwrap();
        let p = Predictor::new(&forest);
        let probs = p.predict(&x, 3).unwrap();
        let errors = probs
            .iter()
            .zip(&y)
            .filter(|(p, y)| (**p > 0.5) != (**y == 1.0))
            .count();
        assert!(errors < 60, "{errors} training errors");
        // Missing values learned a direction: rows with c missing are 1.
        assert!(p.predict_row(&[0.1, 0.1, f32::NAN]).unwrap() > 0.8);
    }

    #[test]
    fn gamma_prunes_and_parameters_are_checked() {
        let (x, y) = data(500);
        let d = TrainData::new(&x, 3, &y);
        let full = train(
            &d,
            &TrainParams {
                n_estimators: 3,
                ..TrainParams::default()
            },
        )
        .unwrap();
        let pruned = train(
            &d,
            &TrainParams {
                n_estimators: 3,
                gamma: 5.0,
                ..TrainParams::default()
            },
        )
        .unwrap();
        let nodes = |f: &Forest| f.trees.iter().map(|t| t.left.len()).sum::<usize>();
        assert!(nodes(&pruned) < nodes(&full));
        for t in &pruned.trees {
            for (i, &l) in t.left.iter().enumerate() {
                if l >= 0 {
                    assert!(
                        t.loss_change[i] >= 5.0
                            || t.left[l as usize] >= 0
                            || t.left[t.right[i] as usize] >= 0
                    );
                }
            }
        }
        let bad = TrainParams {
            subsample: 0.0,
            ..TrainParams::default()
        };
        assert!(train(&d, &bad)
            .unwrap_err()
            .to_string()
            .contains("subsample"));
        let y2: Vec<f32> = y.iter().map(|v| v * 2.0).collect();
        let d2 = TrainData { y: &y2, ..d };
        assert!(train(&d2, &TrainParams::default())
            .unwrap_err()
            .to_string()
            .contains("label 2"));
    }

    #[test]
    fn every_bad_parameter_is_reported_at_once() {
        let (x, y) = data(100);
        let d = TrainData::new(&x, 3, &y);
        let bad = TrainParams {
            learning_rate: f64::INFINITY,
            lambda: f64::NAN,
            gamma: -1.0,
            min_child_weight: f64::INFINITY,
            subsample: 1.5,
            colsample_bytree: f64::NAN,
            max_depth: 0,
            max_bin: 1,
            scale_pos_weight: f64::INFINITY,
            n_estimators: usize::MAX,
            base_score: Some(1.0),
            ..TrainParams::default()
        };
        let Err(ModelError::Params(list)) = train(&d, &bad) else {
            panic!("expected a parameter error");
        };
        let names: Vec<&str> = list.iter().map(|b| b.name).collect();
        assert_eq!(
            names,
            [
                "n_estimators",
                "max_depth",
                "learning_rate",
                "min_child_weight",
                "lambda",
                "gamma",
                "subsample",
                "colsample_bytree",
                "max_bin",
                "scale_pos_weight",
                "base_score"
            ]
        );
        assert_eq!(
            list[2].to_string(),
            "learning_rate = inf (must be a finite number > 0)"
        );
        // NaN and infinite rates used to train a model of NaN leaves.
        for rate in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0] {
            let p = TrainParams {
                learning_rate: rate,
                ..TrainParams::default()
            };
            assert!(matches!(p.validate(), Err(ModelError::Params(_))), "{rate}");
        }
        TrainParams::default().validate().unwrap();
        let names = ["a".to_string(), "b".to_string(), "a".to_string()];
        let err = train(&d.with_feature_names(&names), &TrainParams::default()).unwrap_err();
        assert!(
            matches!(err, ModelError::DuplicateFeature(ref n) if n == "a"),
            "{err}"
        );
    }

    #[test]
    fn seeded_sampling_is_reproducible() {
        let (x, y) = data(1000);
        let d = TrainData::new(&x, 3, &y);
        let p = TrainParams {
            n_estimators: 5,
            subsample: 0.7,
            colsample_bytree: 0.67,
            seed: 3,
            ..TrainParams::default()
        };
        assert_eq!(train(&d, &p).unwrap(), train(&d, &p).unwrap());
    }

    #[test]
    fn every_row_settles_at_the_leaf_the_tree_sends_it_to() {
        // Enough rows for several gradient chunks, with and without gamma
        // pruning: the margin update finds each chunk's rows in every
        // settled range by binary search, so each range must ascend, and
        // each row must get the leaf value a walk of the tree gives.
        let n = 6 * PARALLEL_ROWS;
        let (binned, grad, _) = with_gradients(n);
        let mut pruned_inner = false;
        for gamma in [0.0, 5.0, 400.0] {
            let p = TrainParams {
                gamma,
                max_depth: 5,
                ..TrainParams::default()
            };
            let mut buf = RowBuffers {
                idx: (0..n as u32).collect(),
                scratch: vec![0; n],
            };
            let (tree, settled) = grow(&binned, &grad, &mut buf, None, &[0, 1, 2], &p);
            // A pruned split whose children had been partitioned settles
            // in more than one range.
            let nodes: std::collections::HashSet<usize> = settled.iter().map(|s| s.1).collect();
            pruned_inner |= nodes.len() < settled.len();
            let mut seen = vec![false; n];
            for (range, node) in &settled {
                let rows = &buf.idx[range.clone()];
                assert!(rows.windows(2).all(|w| w[0] < w[1]), "gamma {gamma}");
                for &r in rows {
                    let v = if tree.left[*node] < 0 {
                        tree.leaf[*node]
                    } else if tree.test(&binned, *node).goes_left(r) {
                        tree.leaf[tree.left[*node] as usize]
                    } else {
                        tree.leaf[tree.right[*node] as usize]
                    };
                    assert_eq!(v, tree.leaf_of(&binned, r), "row {r}, gamma {gamma}");
                    seen[r as usize] = true;
                }
            }
            assert!(
                seen.iter().all(|&s| s),
                "gamma {gamma}: a row settled nowhere"
            );
        }
        assert!(
            pruned_inner,
            "no partitioned split was pruned: the test lost its point"
        );
    }

    #[test]
    fn partition_is_stable_in_one_piece_and_in_parallel_pieces() {
        // Both sizes: one serial piece, and several joined pieces.
        for n in [1000, 10 * PARALLEL_ROWS + 7] {
            let rows: Vec<u32> = (0..n as u32).map(|i| i * 3 + 1).collect();
            let goes_left = |r: u32| r.wrapping_mul(2_654_435_761) % 7 < 3;
            let mut parted = rows.clone();
            let mut scratch = vec![0; n + 5];
            let n_left = partition(&mut parted, &mut scratch, goes_left);
            let want: Vec<u32> = rows
                .iter()
                .copied()
                .filter(|&r| goes_left(r))
                .chain(rows.iter().copied().filter(|&r| !goes_left(r)))
                .collect();
            assert_eq!(parted, want, "{n} rows");
            assert_eq!(n_left, rows.iter().filter(|&&r| goes_left(r)).count());
        }
    }

    #[test]
    fn the_gradient_pass_builds_the_root_histogram_bit_for_bit() {
        let n = 5 * PARALLEL_ROWS + 3;
        let (binned, grad, fused) = with_gradients(n);
        let rows: Vec<u32> = (0..n as u32).collect();
        let built = build_hist(&binned, &grad, &rows);
        assert_eq!(fused.len(), built.len());
        for (a, b) in fused.iter().zip(&built) {
            assert_eq!(
                (a.g.to_bits(), a.h.to_bits()),
                (b.g.to_bits(), b.h.to_bits())
            );
        }
    }
}
