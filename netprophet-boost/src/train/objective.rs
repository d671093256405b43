//! Objectives (XGBoost's `objective/regression_obj`): the starting
//! prediction and every row's gradient and hessian, in float32 as XGBoost
//! computes them.

use rayon::prelude::*;

use super::histogram::Grad32;
use super::tree::{BinTree, Settled};
use super::{Binned, TrainObjective, TrainParams};
use crate::error::ModelError;
use crate::model::Objective;

/// Row `i`'s weight as the objective sees it: its own times
/// `scale_pos_weight` for a positive row of `binary:logistic`. Computed
/// when needed rather than stored, so no row costs 8 more bytes.
#[inline]
fn row_weight(y: &[f32], weight: Option<&[f32]>, p: &TrainParams, i: usize) -> f64 {
    let w = weight.map_or(1.0, |w| f64::from(w[i]));
    if y[i] == 1.0 && p.objective == TrainObjective::BinaryLogistic {
        w * p.scale_pos_weight
    } else {
        w
    }
}

/// Each row's weight in float32, as the gradients are scaled.
pub(crate) fn row_weights(
    y: &[f32],
    weight: Option<&[f32]>,
    p: &TrainParams,
) -> Result<Vec<f32>, ModelError> {
    let total: f64 = (0..y.len()).map(|i| row_weight(y, weight, p, i)).sum();
    if total <= 0.0 {
        return Err(ModelError::Input("all training weights are 0".into()));
    }
    Ok((0..y.len())
        .map(|i| row_weight(y, weight, p, i) as f32)
        .collect())
}

/// The base score (in output space) and the model objective with its
/// starting margin.
pub(crate) fn base_score(
    y: &[f32],
    weights: Option<&[f32]>,
    p: &TrainParams,
) -> Result<(f64, Objective, f32), ModelError> {
    let weight = |i: usize| row_weight(y, weights, p, i);
    let total_w: f64 = (0..y.len()).map(weight).sum();
    let base_score = match p.base_score {
        Some(b) => b,
        // With re-weighted positives the weighted mean is no longer the
        // best constant; XGBoost then takes one Newton step from margin 0
        // (sums in f64 of float32 gradients), and so does this.
        None if p.objective == TrainObjective::BinaryLogistic
            && (p.scale_pos_weight - 1.0).abs() > 1e-6 =>
        {
            let (mut g, mut h) = (0f64, 0f64);
            for (i, &y) in y.iter().enumerate() {
                let w = weight(i) as f32;
                g += f64::from((0.5 - y) * w);
                h += f64::from(0.25 * w);
            }
            let m = if h > 0.0 { (-g / h) as f32 } else { 0.0 };
            f64::from(1.0 / (1.0 + (-m).exp())).clamp(1e-6, 1.0 - 1e-6)
        }
        None => {
            let mean = (0..y.len())
                .map(|i| weight(i) * f64::from(y[i]))
                .sum::<f64>()
                / total_w;
            match p.objective {
                // The optimal constant; kept away from 0 and 1 so its logit
                // is finite.
                TrainObjective::BinaryLogistic => mean.clamp(1e-6, 1.0 - 1e-6),
                TrainObjective::SquaredError => mean,
            }
        }
    };
    match p.objective {
        TrainObjective::BinaryLogistic => {
            if !(base_score > 0.0 && base_score < 1.0) {
                return Err(ModelError::Input(format!(
                    "base_score {base_score} must be in (0, 1) for binary:logistic"
                )));
            }
            // XGBoost's `ProbToMargin`, as the predictor computes it.
            let b = base_score as f32;
            Ok((base_score, Objective::BinaryLogistic, -(1.0 / b - 1.0).ln()))
        }
        TrainObjective::SquaredError => {
            Ok((base_score, Objective::RegSquaredError, base_score as f32))
        }
    }
}

/// A row's gradient and hessian at margin `m` (float32, as XGBoost).
#[inline]
pub(crate) fn gradient(objective: TrainObjective, m: f32, y: f32, w: f32) -> Grad32 {
    match objective {
        TrainObjective::BinaryLogistic => logistic((-m).exp(), y, w),
        TrainObjective::SquaredError => Grad32 {
            g: (m - y) * w,
            h: w,
        },
    }
}

/// binary:logistic's gradient and hessian from `e`, `exp(-margin)`.
#[inline(always)]
fn logistic(e: f32, y: f32, w: f32) -> Grad32 {
    let p = 1.0 / (1.0 + e);
    Grad32 {
        g: (p - y) * w,
        h: (p * (1.0 - p)).max(1e-16) * w,
    }
}

/// Rows per chunk of the parallel gradient pass.
const CHUNK: usize = 16 * 1024;

/// Adds the last tree's leaf values to the margins (when its rows are
/// known by leaf) and computes every row's gradient, in one parallel pass
/// over row chunks: each chunk finds its rows in every settled range by
/// binary search, since the ranges hold ascending row numbers.
pub(crate) fn gradients(
    margin: &mut [f32],
    grad: &mut [Grad32],
    last: Option<(&BinTree, &[u32], &[Settled])>,
    binned: &Binned,
    y: &[f32],
    weight: &[f32],
    objective: TrainObjective,
) {
    margin
        .par_chunks_mut(CHUNK)
        .zip(grad.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (margin, grad))| {
            let start = c * CHUNK;
            let end = start + margin.len();
            if let Some((tree, idx, settled)) = last {
                tree.add_leaves(binned, idx, settled, start..end, margin);
            }
            let (y, weight) = (&y[start..end], &weight[start..end]);
            match objective {
                TrainObjective::BinaryLogistic => {
                    // The exponentials first, then the rest: `exp` is a
                    // call, which would otherwise spill every vector
                    // register of the arithmetic around it, row by row.
                    for (gp, &m) in grad.iter_mut().zip(margin.iter()) {
                        gp.g = (-m).exp();
                    }
                    for ((gp, &y), &w) in grad.iter_mut().zip(y).zip(weight) {
                        *gp = logistic(gp.g, y, w);
                    }
                }
                TrainObjective::SquaredError => {
                    for (((gp, &m), &y), &w) in
                        grad.iter_mut().zip(margin.iter()).zip(y).zip(weight)
                    {
                        *gp = gradient(objective, m, y, w);
                    }
                }
            }
        });
}
