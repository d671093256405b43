//! Probability calibration: a monotone map from a model's raw probability
//! to the frequency actually observed.
//!
//! A boosted model trained with re-weighted classes (or on oversampled
//! rows) ranks well but says "40 %" for events that happen 5 % of the
//! time. An isotonic calibration, fit on rows the model did not train on,
//! maps each raw probability to the observed rate of positives around it,
//! so a calibrated 40 % comes true about 40 % of the time.
//!
//! The map travels inside the model file, in XGBoost's
//! `learner.attributes` under [`ATTRIBUTE`], which XGBoost keeps when it
//! loads and saves a model; XGBoost itself ignores it, so its own
//! predictions are the raw ones.
//!
//! ```
//! use netprophet_boost::calibration::Calibration;
//!
//! // Raw scores that overstate a 25 % rate.
//! let raw = [0.2, 0.4, 0.6, 0.8, 0.6, 0.8, 0.2, 0.4];
//! let y = [0, 0, 0, 1, 0, 0, 0, 1];
//! let cal = Calibration::fit_isotonic(&raw, &y, None).unwrap();
//! assert_eq!(cal.apply(0.2), 0.0);
//! assert!((cal.apply(0.8) - 0.5).abs() < 1e-12);
//! // It survives the trip through the model file's attribute.
//! let back = Calibration::from_attribute(&cal.to_attribute()).unwrap();
//! assert_eq!(back, cal);
//! ```

use serde::{Deserialize, Serialize};

/// Key of the calibration in a model's `learner.attributes`.
pub const ATTRIBUTE: &str = "netprophet_calibration";

/// Most knots a fitted map keeps. Isotonic fits on large validation sets
/// can have thousands of steps; neighbouring steps are merged (by row
/// weight) down to this many, which changes calibrated values by far less
/// than their sampling error and keeps model files small.
pub const MAX_KNOTS: usize = 512;

/// Why a calibration cannot be fit or read.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CalibrationError {
    /// Scores and labels (or weights) differ in length.
    #[error("{scores} scores but {labels} labels")]
    Length {
        /// Number of scores.
        scores: usize,
        /// Number of labels or weights.
        labels: usize,
    },
    /// No usable row (all weights 0, or no rows).
    #[error("no rows to calibrate on")]
    Empty,
    /// A score, label or weight is not usable.
    #[error("row {row}: {message}")]
    Value {
        /// Index of the row.
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// The stored attribute does not describe a calibration.
    #[error("calibration attribute `{ATTRIBUTE}`: {0}")]
    Attribute(String),
}

/// A monotone (non-decreasing) piecewise-linear map from raw probability
/// to calibrated probability: constant within each fitted block, linear
/// between neighbouring blocks, and clamped outside the fitted range (as
/// scikit-learn's `IsotonicRegression(out_of_bounds="clip")`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Always `"isotonic"`; named so other kinds can be added.
    pub kind: String,
    /// Raw probabilities of the knots, ascending.
    pub x: Vec<f64>,
    /// Calibrated probability at each knot, non-decreasing, in [0, 1].
    pub y: Vec<f64>,
    /// Rows the map was fit on (for reports).
    pub rows: u64,
}

impl Calibration {
    /// Fits an isotonic regression of `labels` (0 or 1) on `scores`
    /// (pool-adjacent-violators), with optional row weights.
    pub fn fit_isotonic(
        scores: &[f64],
        labels: &[u8],
        weights: Option<&[f64]>,
    ) -> Result<Calibration, CalibrationError> {
        if scores.len() != labels.len() {
            return Err(CalibrationError::Length {
                scores: scores.len(),
                labels: labels.len(),
            });
        }
        if let Some(w) = weights {
            if w.len() != scores.len() {
                return Err(CalibrationError::Length {
                    scores: scores.len(),
                    labels: w.len(),
                });
            }
        }
        for (row, (&s, &l)) in scores.iter().zip(labels).enumerate() {
            let w = weights.map_or(1.0, |w| w[row]);
            if !s.is_finite() {
                return Err(CalibrationError::Value {
                    row,
                    message: format!("score {s} is not finite"),
                });
            }
            if l > 1 {
                return Err(CalibrationError::Value {
                    row,
                    message: format!("label {l} is not 0 or 1"),
                });
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err(CalibrationError::Value {
                    row,
                    message: format!("weight {w} is not a finite number >= 0"),
                });
            }
        }
        let mut order: Vec<usize> = (0..scores.len())
            .filter(|&i| weights.is_none_or(|w| w[i] > 0.0))
            .collect();
        if order.is_empty() {
            return Err(CalibrationError::Empty);
        }
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));

        // Blocks of equal scores first (ties must share one value), then
        // pool adjacent violators.
        let mut blocks: Vec<Block> = Vec::new();
        for &i in &order {
            let w = weights.map_or(1.0, |w| w[i]);
            let b = Block {
                lo: scores[i],
                hi: scores[i],
                weight: w,
                sum: w * f64::from(labels[i]),
            };
            match blocks.last_mut() {
                Some(last) if last.hi == scores[i] => last.absorb(b),
                _ => blocks.push(b),
            }
        }
        let mut pooled: Vec<Block> = Vec::with_capacity(blocks.len());
        for b in blocks {
            pooled.push(b);
            while pooled.len() > 1 {
                let n = pooled.len();
                if pooled[n - 2].mean() <= pooled[n - 1].mean() {
                    break;
                }
                let last = pooled.pop().expect("two blocks");
                pooled[n - 2].absorb(last);
            }
        }
        let pooled = thin(pooled, MAX_KNOTS / 2);
        let mut x = Vec::with_capacity(pooled.len() * 2);
        let mut y = Vec::with_capacity(pooled.len() * 2);
        for b in &pooled {
            let v = b.mean().clamp(0.0, 1.0);
            x.push(b.lo);
            y.push(v);
            if b.hi > b.lo {
                x.push(b.hi);
                y.push(v);
            }
        }
        Ok(Calibration {
            kind: "isotonic".into(),
            x,
            y,
            rows: order.len() as u64,
        })
    }

    /// The calibrated probability of raw probability `p` (NaN stays NaN).
    pub fn apply(&self, p: f64) -> f64 {
        if p.is_nan() || self.x.is_empty() {
            return p;
        }
        let i = self.x.partition_point(|&k| k <= p);
        if i == 0 {
            return self.y[0];
        }
        if i == self.x.len() {
            return self.y[i - 1];
        }
        let (x0, x1, y0, y1) = (self.x[i - 1], self.x[i], self.y[i - 1], self.y[i]);
        y0 + (y1 - y0) * (p - x0) / (x1 - x0)
    }

    /// The map as the JSON text stored in a model's attributes.
    pub fn to_attribute(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a map stored by [`Calibration::to_attribute`], checking that
    /// it is monotone and within [0, 1].
    pub fn from_attribute(text: &str) -> Result<Calibration, CalibrationError> {
        let c: Calibration =
            serde_json::from_str(text).map_err(|e| CalibrationError::Attribute(e.to_string()))?;
        let bad = |m: &str| Err(CalibrationError::Attribute(m.to_string()));
        if c.kind != "isotonic" {
            return bad(&format!("unknown kind `{}`", c.kind));
        }
        if c.x.is_empty() || c.x.len() != c.y.len() {
            return bad("x and y must be non-empty and of equal length");
        }
        if c.x.iter().any(|v| !v.is_finite()) || c.x.windows(2).any(|w| w[0] > w[1]) {
            return bad("x must be finite and ascending");
        }
        if c.y.iter().any(|v| !(0.0..=1.0).contains(v)) || c.y.windows(2).any(|w| w[0] > w[1]) {
            return bad("y must be non-decreasing probabilities");
        }
        Ok(c)
    }
}

/// A run of sorted rows sharing one calibrated value.
#[derive(Clone, Copy, Debug)]
struct Block {
    lo: f64,
    hi: f64,
    weight: f64,
    sum: f64,
}

impl Block {
    fn mean(&self) -> f64 {
        if self.weight > 0.0 {
            self.sum / self.weight
        } else {
            0.0
        }
    }

    fn absorb(&mut self, other: Block) {
        self.lo = self.lo.min(other.lo);
        self.hi = self.hi.max(other.hi);
        self.weight += other.weight;
        self.sum += other.sum;
    }
}

/// Merges runs of neighbouring blocks so that at most about `max`
/// remain, each holding at least 1/`max` of the total weight (one pass);
/// merging neighbours of a monotone sequence keeps it monotone.
fn thin(blocks: Vec<Block>, max: usize) -> Vec<Block> {
    if blocks.len() <= max {
        return blocks;
    }
    let total: f64 = blocks.iter().map(|b| b.weight).sum();
    let quantum = total / max.max(1) as f64;
    let mut out: Vec<Block> = Vec::with_capacity(max + 1);
    for b in blocks {
        match out.last_mut() {
            Some(last) if last.weight < quantum => last.absorb(b),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pav_pools_violators() {
        let cal = Calibration::fit_isotonic(&[0.1, 0.2, 0.3, 0.4], &[1, 0, 0, 1], None).unwrap();
        // 0.1..0.3 pool to 1/3, then 1.
        assert!((cal.apply(0.2) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(cal.apply(0.4), 1.0);
        assert!((cal.apply(0.35) - (1.0 / 3.0 + 2.0 / 3.0 * 0.5)).abs() < 1e-12);
        assert_eq!(cal.apply(0.0), cal.apply(0.1), "clamped below");
        assert_eq!(cal.apply(0.9), 1.0, "clamped above");
        assert!(cal.apply(f64::NAN).is_nan());
    }

    #[test]
    fn weights_count_as_repeated_rows() {
        let a = Calibration::fit_isotonic(&[0.5, 0.5, 0.5], &[1, 0, 0], None).unwrap();
        let b = Calibration::fit_isotonic(&[0.5, 0.5], &[1, 0], Some(&[1.0, 2.0])).unwrap();
        assert_eq!(a.apply(0.5), b.apply(0.5));
        let zero = Calibration::fit_isotonic(&[0.5], &[1], Some(&[0.0]));
        assert_eq!(zero, Err(CalibrationError::Empty));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Calibration::fit_isotonic(&[0.5], &[2], None).is_err());
        assert!(Calibration::fit_isotonic(&[f64::NAN], &[1], None).is_err());
        assert!(Calibration::fit_isotonic(&[0.5, 0.6], &[1], None).is_err());
        for text in [
            "{}",
            r#"{"kind":"isotonic","x":[0.5,0.1],"y":[0,1],"rows":2}"#,
            r#"{"kind":"isotonic","x":[0.1,0.5],"y":[1,0],"rows":2}"#,
            r#"{"kind":"isotonic","x":[0.1,0.5],"y":[0,2],"rows":2}"#,
            r#"{"kind":"platt","x":[0.1],"y":[0],"rows":2}"#,
        ] {
            assert!(Calibration::from_attribute(text).is_err(), "{text}");
        }
    }

    #[test]
    fn many_steps_are_thinned_to_the_limit() {
        let n = 20_000;
        let scores: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
        // Rate rising with the score, deterministic pattern.
        let labels: Vec<u8> = (0..n).map(|i| u8::from((i * 7919) % n < i)).collect();
        let cal = Calibration::fit_isotonic(&scores, &labels, None).unwrap();
        assert!(cal.x.len() <= MAX_KNOTS, "{}", cal.x.len());
        assert!((cal.apply(0.5) - 0.5).abs() < 0.05, "{}", cal.apply(0.5));
    }

    proptest! {
        #[test]
        fn the_map_is_monotone_and_a_probability(
            rows in proptest::collection::vec((0.0f64..1.0, 0u8..2), 1..300),
            probes in proptest::collection::vec(-0.5f64..1.5, 1..50),
        ) {
            let (s, y): (Vec<f64>, Vec<u8>) = rows.into_iter().unzip();
            let cal = Calibration::fit_isotonic(&s, &y, None).unwrap();
            let mut sorted = probes;
            sorted.sort_by(f64::total_cmp);
            let mapped: Vec<f64> = sorted.iter().map(|&p| cal.apply(p)).collect();
            prop_assert!(mapped.iter().all(|v| (0.0..=1.0).contains(v)));
            prop_assert!(mapped.windows(2).all(|w| w[0] <= w[1] + 1e-12));
            // Weighted mean is preserved on the fitted rows (PAV keeps
            // each block's mean), before thinning merges blocks.
            if cal.x.len() < MAX_KNOTS {
                let fitted: f64 = s.iter().map(|&p| cal.apply(p)).sum();
                let observed: f64 = y.iter().map(|&v| f64::from(v)).sum();
                prop_assert!((fitted - observed).abs() < 1e-6 * s.len() as f64);
            }
            prop_assert_eq!(Calibration::from_attribute(&cal.to_attribute()).unwrap(), cal);
        }
    }
}
