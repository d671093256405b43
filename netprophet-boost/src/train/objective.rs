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
                TrainObjective::BinaryLogistic if crate::simd::vector_exp_agrees() => {
                    let mut i = 0;
                    while i < margin.len() {
                        i += crate::simd::logistic_blocks(
                            &margin[i..],
                            &y[i..],
                            &weight[i..],
                            &mut grad[i..],
                        );
                        // The block the kernel stopped at (a margin it
                        // does not cover), or the last rows.
                        let next = (i + 16).min(margin.len());
                        for j in i..next {
                            grad[j] = gradient(objective, margin[j], y[j], weight[j]);
                        }
                        i = next;
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient pass against [`gradient`] row by row, bit for bit.
    fn same_as_scalar(margin: &[f32], y: &[f32], w: &[f32]) -> Result<(), String> {
        let n = margin.len();
        // No last tree, so the bins are not read.
        let binned = Binned::new(&[0.0, 1.0], 1, None, 16).map_err(|e| e.to_string())?;
        let mut got_margin = margin.to_vec();
        let mut grad = vec![Grad32::default(); n];
        let objective = TrainObjective::BinaryLogistic;
        gradients(&mut got_margin, &mut grad, None, &binned, y, w, objective);
        for i in 0..n {
            let want = gradient(objective, margin[i], y[i], w[i]);
            let (a, b) = (grad[i], want);
            if (a.g.to_bits(), a.h.to_bits()) != (b.g.to_bits(), b.h.to_bits()) {
                return Err(format!(
                    "row {i} of {n}, margin {:e}: {a:?}, want {b:?}",
                    margin[i]
                ));
            }
        }
        Ok(())
    }

    #[test]
    fn logistic_gradients_are_the_scalar_ones_at_every_kind_of_margin() {
        // Every 65 537th float (NaN, infinities, subnormals, both signs,
        // magnitudes on both sides of 88, where the vector exponential
        // hands over), then the edges themselves, in runs whose lengths
        // are not multiples of 16.
        let mut margin: Vec<f32> = (0..=u32::MAX / 65_537)
            .map(|k| f32::from_bits(k * 65_537))
            .collect();
        let below_88 = f32::from_bits(88.0f32.to_bits() - 1);
        margin.extend([88.0, -88.0, below_88, -below_88, 0.0, -0.0, 1e-45, -1e-45]);
        margin.extend([
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ]);
        let n = margin.len();
        let y: Vec<f32> = (0..n).map(|i| (i % 3 == 0) as u8 as f32).collect();
        let w: Vec<f32> = (0..n).map(|i| [1.0, 0.5, 3.25, 1e-3][i % 4]).collect();
        for len in [n, n - 5, 37, 16, 15, 0] {
            same_as_scalar(&margin[..len], &y[..len], &w[..len]).unwrap();
        }
        // Margins the training meets: small, all in range.
        let small: Vec<f32> = (0..4099).map(|i| (i as f32 - 2000.0) / 97.0).collect();
        same_as_scalar(&small, &y[..small.len()], &w[..small.len()]).unwrap();
    }

    proptest::proptest! {
        #[test]
        fn logistic_gradients_are_the_scalar_ones(
            rows in proptest::collection::vec(
                (
                    // Mostly margins the vector exponential takes, some
                    // anything at all.
                    proptest::prop_oneof![4 => -100.0f32..100.0, 1 => proptest::num::f32::ANY],
                    proptest::bool::ANY,
                    0.0f32..10.0,
                ),
                0..200,
            ),
        ) {
            let margin: Vec<f32> = rows.iter().map(|r| r.0).collect();
            let y: Vec<f32> = rows.iter().map(|r| f32::from(u8::from(r.1))).collect();
            let w: Vec<f32> = rows.iter().map(|r| r.2).collect();
            proptest::prop_assert_eq!(same_as_scalar(&margin, &y, &w), Ok(()));
        }
    }
}
