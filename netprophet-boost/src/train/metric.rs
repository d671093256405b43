//! Evaluation metrics and early stopping (XGBoost's
//! `metric/elementwise_metric.cu`, `metric/auc.cc` and the Python
//! package's `EarlyStopping` callback).
//!
//! Each metric is computed as XGBoost computes it: per-row losses in
//! float32 on float32 predictions, summed in float64 blocks of 2 048 rows;
//! ROC and precision-recall areas over rows sorted by prediction, ties
//! taken as one step. Early stopping compares the scores as XGBoost's
//! callback sees them, printed with 17 decimals and read back, and
//! records the best round in the model's attributes as it does.

use super::params::EvalMetric;
use super::TrainObjective;

/// XGBoost's block of rows summed before it is added to the total.
const BLOCK: usize = 2048;

/// The prediction a metric sees for margin `m` (XGBoost's
/// `EvalTransform`).
fn transform(objective: TrainObjective, m: f32) -> f32 {
    match objective {
        TrainObjective::BinaryLogistic => 1.0 / (1.0 + (-m).exp()),
        TrainObjective::SquaredError => m,
    }
}

/// Sums `loss(label, prediction) x weight` and the weights, XGBoost's way.
fn weighted_sum(
    pred: &[f32],
    y: &[f32],
    w: Option<&[f32]>,
    loss: impl Fn(f32, f32) -> f32,
) -> (f64, f64) {
    let (mut score, mut weight) = (0f64, 0f64);
    for start in (0..pred.len()).step_by(BLOCK) {
        let end = (start + BLOCK).min(pred.len());
        let (mut s, mut sw) = (0f64, 0f64);
        for i in start..end {
            let wt = w.map_or(1.0, |w| w[i]);
            s += f64::from(loss(y[i], pred[i]) * wt);
            sw += f64::from(wt);
        }
        score += s;
        weight += sw;
    }
    (score, weight)
}

fn log_loss(y: f32, py: f32) -> f32 {
    let xlogy = |x: f32, y: f32| {
        if x - 0.0 == 0.0 {
            0.0
        } else {
            x * y.max(1e-16).ln()
        }
    };
    xlogy(-y, py) + xlogy(-(1.0 - y), 1.0 - py)
}

/// `metric` of margins `margin` against labels `y` (weights `w`).
pub fn evaluate(
    metric: EvalMetric,
    objective: TrainObjective,
    margin: &[f32],
    y: &[f32],
    w: Option<&[f32]>,
) -> f64 {
    let pred: Vec<f32> = margin.iter().map(|&m| transform(objective, m)).collect();
    let ratio = |(s, sw): (f64, f64)| if sw == 0.0 { s } else { s / sw };
    match metric {
        EvalMetric::LogLoss => ratio(weighted_sum(&pred, y, w, log_loss)),
        EvalMetric::Error => ratio(weighted_sum(
            &pred,
            y,
            w,
            |y, p| {
                if p > 0.5 {
                    1.0 - y
                } else {
                    y
                }
            },
        )),
        EvalMetric::Rmse => {
            let (s, sw) = weighted_sum(&pred, y, w, |y, p| {
                let d = y - p;
                d * d
            });
            if sw == 0.0 {
                s.sqrt()
            } else {
                (s / sw).sqrt()
            }
        }
        EvalMetric::Auc => roc_auc(&pred, y, w),
        EvalMetric::AucPr => pr_auc(&pred, y, w),
    }
}

/// Row numbers by prediction, highest first, ties in row order.
fn by_prediction(pred: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..pred.len()).collect();
    idx.sort_by(|&a, &b| {
        pred[b]
            .partial_cmp(&pred[a])
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    idx
}

/// XGBoost's `BinaryAUC`: walks the rows by prediction, adding an area
/// each time the prediction changes; returns (negatives, positives, area).
fn binary_area(
    pred: &[f32],
    y: &[f32],
    w: Option<&[f32]>,
    area: impl Fn(f64, f64, f64, f64) -> f64,
) -> (f64, f64, f64) {
    let idx = by_prediction(pred);
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let mut auc = 0f64;
    let (label, wt) = (y[idx[0]], weight(idx[0]));
    let mut fp = f64::from((1.0 - label) * wt);
    let mut tp = f64::from(label * wt);
    let (mut tp_prev, mut fp_prev) = (0f64, 0f64);
    for k in 1..idx.len() {
        if pred[idx[k]] != pred[idx[k - 1]] {
            auc += area(fp_prev, fp, tp_prev, tp);
            tp_prev = tp;
            fp_prev = fp;
        }
        let (label, wt) = (y[idx[k]], weight(idx[k]));
        fp += f64::from((1.0 - label) * wt);
        tp += f64::from(label * wt);
    }
    auc += area(fp_prev, fp, tp_prev, tp);
    if fp <= 0.0 || tp <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    (fp, tp, auc)
}

/// Area under the ROC curve (NaN when one class is absent).
fn roc_auc(pred: &[f32], y: &[f32], w: Option<&[f32]>) -> f64 {
    if pred.is_empty() {
        return f64::NAN;
    }
    let trapezoid = |x0: f64, x1: f64, y0: f64, y1: f64| (x0 - x1).abs() * (y0 + y1) * 0.5;
    let (fp, tp, auc) = binary_area(pred, y, w, trapezoid);
    let area = fp * tp;
    if area == 0.0 {
        return f64::NAN;
    }
    (auc / area).min(1.0)
}

/// Area under the precision-recall curve, with XGBoost's interpolation
/// between steps (Keilwagen et al. 2014); NaN when one class is absent.
fn pr_auc(pred: &[f32], y: &[f32], w: Option<&[f32]>) -> f64 {
    if pred.is_empty() {
        return f64::NAN;
    }
    let (mut total_pos, mut total_neg) = (0f64, 0f64);
    for (i, &label) in y.iter().enumerate() {
        let wt = w.map_or(1.0, |w| w[i]);
        total_pos += f64::from(wt * label);
        total_neg += f64::from(wt * (1.0 - label));
    }
    if total_pos <= 0.0 || total_neg <= 0.0 {
        return f64::NAN;
    }
    let delta = |fp_prev: f64, fp: f64, tp_prev: f64, tp: f64| {
        let (pr_prev, pr) = (tp_prev / total_pos, tp / total_pos);
        let (a, b) = if tp == tp_prev {
            (1.0, 0.0)
        } else {
            let h = (fp - fp_prev) / (tp - tp_prev);
            (h + 1.0, (fp_prev - h * tp_prev) / total_pos)
        };
        if b != 0.0 {
            (pr - pr_prev - b / a * ((a * pr + b).ln() - (a * pr_prev + b).ln())) / a
        } else {
            (pr - pr_prev) / a
        }
    };
    let (_, _, auc) = binary_area(pred, y, w, delta);
    auc.min(1.0)
}

/// A score as XGBoost's Python callback reads it: the C++ evaluation
/// prints it with 17 decimals, and Python parses the text.
pub fn as_logged(score: f64) -> f64 {
    format!("{score:.17}").parse().unwrap_or(score)
}

/// A float as Python's `str` writes it (shortest round trip, exponent
/// form below 1e-4 and from 1e16), how XGBoost stores `best_score`.
pub fn python_str(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    let a = x.abs();
    if x == 0.0 || (1e-4..1e16).contains(&a) {
        let s = format!("{x}");
        return if s.contains('.') { s } else { s + ".0" };
    }
    // Rust's `{:e}` is the shortest round trip too: 1.5e-5 -> "1.5e-5";
    // Python writes "1.5e-05".
    let s = format!("{x:e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// XGBoost's early stopping: the best score so far and how many rounds
/// have passed without beating it.
#[derive(Debug)]
pub(crate) struct EarlyStopping {
    rounds: usize,
    maximize: bool,
    best: Option<(usize, f64)>,
    since_best: usize,
}

impl EarlyStopping {
    pub fn new(rounds: usize, metric: EvalMetric) -> Self {
        EarlyStopping {
            rounds,
            maximize: metric.maximize(),
            best: None,
            since_best: 0,
        }
    }

    /// Records round `round`'s score; returns whether training stops.
    pub fn update(&mut self, round: usize, score: f64) -> bool {
        let score = as_logged(score);
        match self.best {
            None => {
                self.best = Some((round, score));
                self.since_best = 0;
            }
            Some((_, best)) => {
                let improved = if self.maximize {
                    score > best
                } else {
                    best > score
                };
                if improved {
                    self.best = Some((round, score));
                    self.since_best = 0;
                } else {
                    self.since_best += 1;
                }
            }
        }
        self.since_best >= self.rounds
    }

    /// The best round (from 0) and its score.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_match_their_definitions_on_a_small_case() {
        // Scores with a tie across classes.
        let pred = [0.9f32, 0.8, 0.8, 0.3, 0.1];
        let y = [1.0f32, 1.0, 0.0, 0.0, 0.0];
        // ROC: pairs ranked right 5 of 6, the tie counts half: 5.5 / 6.
        let auc = roc_auc(&pred, &y, None);
        assert!((auc - 5.5 / 6.0).abs() < 1e-12, "{auc}");
        let m: Vec<f32> = pred.iter().map(|p| (p / (1.0 - p)).ln()).collect();
        let via_margins = evaluate(
            EvalMetric::Auc,
            TrainObjective::BinaryLogistic,
            &m,
            &y,
            None,
        );
        assert!((via_margins - auc).abs() < 1e-12);
        // One class only: undefined.
        assert!(roc_auc(&pred, &[1.0; 5], None).is_nan());
        let pr = pr_auc(&pred, &y, None);
        assert!(pr > 0.8 && pr <= 1.0, "{pr}");
        // A perfect ranking has PR area 1.
        assert_eq!(pr_auc(&[0.9, 0.8, 0.2], &[1.0, 1.0, 0.0], None), 1.0);
    }

    #[test]
    fn elementwise_metrics_are_weighted_means() {
        let y = [1.0f32, 0.0, 1.0];
        let margin = [0.0f32, 0.0, 2.0];
        let w = [1.0f32, 2.0, 1.0];
        let ll = evaluate(
            EvalMetric::LogLoss,
            TrainObjective::BinaryLogistic,
            &margin,
            &y,
            Some(&w),
        );
        let p2 = 1.0 / (1.0 + (-2.0f64).exp());
        let want = (3.0 * 2f64.ln() - p2.ln()) / 4.0;
        assert!((ll - want).abs() < 1e-6, "{ll} {want}");
        let err = evaluate(
            EvalMetric::Error,
            TrainObjective::BinaryLogistic,
            &margin,
            &y,
            Some(&w),
        );
        // Margin 0 is probability 0.5, not above it: rows 0 (wrong) and 1 (right).
        assert!((err - 0.25).abs() < 1e-12);
        let rmse = evaluate(
            EvalMetric::Rmse,
            TrainObjective::SquaredError,
            &[1.0, 2.0],
            &[0.0, 0.0],
            None,
        );
        assert!((rmse - 2.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn early_stopping_counts_rounds_without_improvement() {
        let mut es = EarlyStopping::new(2, EvalMetric::LogLoss);
        assert!(!es.update(0, 0.5));
        assert!(!es.update(1, 0.4));
        // Equal is not better.
        assert!(!es.update(2, 0.4));
        assert!(es.update(3, 0.45));
        assert_eq!(es.best(), Some((1, 0.4)));
        let mut up = EarlyStopping::new(1, EvalMetric::Auc);
        assert!(!up.update(0, 0.7));
        assert!(!up.update(1, 0.8));
        assert!(up.update(2, 0.8));
        assert_eq!(up.best(), Some((1, 0.8)));
    }

    #[test]
    fn scores_are_written_as_python_writes_them() {
        assert_eq!(python_str(0.5), "0.5");
        assert_eq!(python_str(1.0), "1.0");
        assert_eq!(python_str(0.123456789012345), "0.123456789012345");
        assert_eq!(python_str(1.5e-5), "1.5e-05");
        assert_eq!(python_str(2e20), "2e+20");
        assert_eq!(as_logged(0.1), 0.1);
    }
}
