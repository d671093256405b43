//! Classification metrics with scikit-learn's definitions: per-class
//! precision / recall / F1 / support (zero division gives 0), accuracy,
//! the confusion matrix, ROC-AUC, average precision (PR-AUC), the
//! precision-recall curve, log loss, and the F1-best threshold.

use std::fmt;

/// Inputs that metrics cannot be computed from.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricError {
    /// Labels and scores differ in length.
    #[error("{labels} labels but {scores} scores")]
    Length {
        /// Number of labels.
        labels: usize,
        /// Number of scores.
        scores: usize,
    },
    /// Nothing to score.
    #[error("no rows to score")]
    Empty,
    /// A score is NaN.
    #[error("score {index} is NaN")]
    NaN {
        /// Its position.
        index: usize,
    },
    /// The metric needs both classes.
    #[error("{0} is undefined when only one class is present")]
    OneClass(&'static str),
    /// The decision threshold is NaN (no score would ever reach it).
    #[error("decision threshold {0} is not a number")]
    Threshold(f64),
}

/// A score or probability the metrics take: `f64`, or the `f32` a
/// predictor returns, read without a converted copy.
pub trait Score: Copy + Send + Sync {
    /// The value as `f64`.
    fn value(self) -> f64;
}

impl Score for f64 {
    fn value(self) -> f64 {
        self
    }
}

impl Score for f32 {
    fn value(self) -> f64 {
        f64::from(self)
    }
}

/// As many scores (or predictions) as labels, and at least one.
fn check_lengths(labels: usize, scores: usize) -> Result<(), MetricError> {
    if labels != scores {
        return Err(MetricError::Length { labels, scores });
    }
    if labels == 0 {
        return Err(MetricError::Empty);
    }
    Ok(())
}

fn check<S: Score>(y: &[u8], scores: &[S]) -> Result<(), MetricError> {
    check_lengths(y.len(), scores.len())?;
    if let Some(index) = scores.iter().position(|s| s.value().is_nan()) {
        return Err(MetricError::NaN { index });
    }
    Ok(())
}

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassScores {
    /// tp / (tp + fp), 0 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn), 0 when the class is absent.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
    /// Rows of this class.
    pub support: usize,
}

impl ClassScores {
    fn new(tp: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        ClassScores {
            precision,
            recall,
            f1,
            support: tp + fn_,
        }
    }
}

/// The report for binary labels (0 = healthy, 1 = degraded).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClassificationReport {
    /// Class 0 then class 1.
    pub classes: [ClassScores; 2],
    /// Fraction of rows predicted right.
    pub accuracy: f64,
    /// Unweighted mean over the two classes.
    pub macro_avg: ClassScores,
    /// Support-weighted mean over the two classes.
    pub weighted_avg: ClassScores,
    /// `[[tn, fp], [fn, tp]]`.
    pub confusion: [[usize; 2]; 2],
}

impl ClassificationReport {
    /// Report of hard predictions.
    pub fn new(y: &[u8], predicted: &[u8]) -> Result<Self, MetricError> {
        check_lengths(y.len(), predicted.len())?;
        let mut c = [[0usize; 2]; 2];
        for (&t, &p) in y.iter().zip(predicted) {
            c[usize::from(t == 1)][usize::from(p == 1)] += 1;
        }
        let [[tn, fp], [fn_, tp]] = c;
        let classes = [ClassScores::new(tn, fn_, fp), ClassScores::new(tp, fp, fn_)];
        let n = y.len() as f64;
        let avg = |w: [f64; 2]| ClassScores {
            precision: w[0] * classes[0].precision + w[1] * classes[1].precision,
            recall: w[0] * classes[0].recall + w[1] * classes[1].recall,
            f1: w[0] * classes[0].f1 + w[1] * classes[1].f1,
            support: y.len(),
        };
        Ok(ClassificationReport {
            classes,
            accuracy: (tn + tp) as f64 / n,
            macro_avg: avg([0.5, 0.5]),
            weighted_avg: avg([classes[0].support as f64 / n, classes[1].support as f64 / n]),
            confusion: c,
        })
    }

    /// Report of scores thresholded at `threshold` (positive when >=).
    pub fn at_threshold<S: Score>(
        y: &[u8],
        scores: &[S],
        threshold: f64,
    ) -> Result<Self, MetricError> {
        check(y, scores)?;
        if threshold.is_nan() {
            return Err(MetricError::Threshold(threshold));
        }
        let predicted: Vec<u8> = scores
            .iter()
            .map(|&s| u8::from(s.value() >= threshold))
            .collect();
        Self::new(y, &predicted)
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:>14} {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        let line = |f: &mut fmt::Formatter<'_>, name: &str, c: &ClassScores| {
            writeln!(
                f,
                "{name:>14} {:>9.2} {:>9.2} {:>9.2} {:>9}",
                c.precision, c.recall, c.f1, c.support
            )
        };
        line(f, "healthy (0)", &self.classes[0])?;
        line(f, "degraded (1)", &self.classes[1])?;
        writeln!(f)?;
        writeln!(
            f,
            "{:>14} {:>9} {:>9} {:>9.2} {:>9}",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        )?;
        line(f, "macro avg", &self.macro_avg)?;
        line(f, "weighted avg", &self.weighted_avg)?;
        let [[tn, fp], [fn_, tp]] = self.confusion;
        writeln!(f)?;
        writeln!(f, "confusion matrix (rows: true, columns: predicted)")?;
        writeln!(f, "{:>14} {:>9} {:>9}", "", "healthy", "degraded")?;
        writeln!(f, "{:>14} {tn:>9} {fp:>9}", "healthy")?;
        write!(f, "{:>14} {fn_:>9} {tp:>9}", "degraded")
    }
}

/// Cumulative true and false positives at each distinct score, highest
/// score first: (threshold, tps, fps).
fn cumulative<S: Score>(y: &[u8], scores: &[S]) -> Vec<(f64, usize, usize)> {
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    for_each_threshold(y, scores, |t, tp, fp| out.push((t, tp, fp)));
    out
}

/// Calls `f(threshold, tp, fp)` for each distinct score, highest first,
/// with the positives and negatives scored at or above it. The order is
/// held as `u32` indices when the rows allow it, so a million-row
/// evaluation sorts 4 MB, not 8, and nothing else is allocated.
fn for_each_threshold<S: Score>(y: &[u8], scores: &[S], mut f: impl FnMut(f64, usize, usize)) {
    fn walk<I: Copy + Into<usize>, S: Score>(
        order: &[I],
        y: &[u8],
        scores: &[S],
        f: &mut impl FnMut(f64, usize, usize),
    ) {
        let (mut tp, mut fp) = (0, 0);
        for (k, &i) in order.iter().enumerate() {
            let i: usize = i.into();
            if y[i] == 1 {
                tp += 1;
            } else {
                fp += 1;
            }
            let last_of_tie = order
                .get(k + 1)
                .is_none_or(|&j| scores[j.into()].value() != scores[i].value());
            if last_of_tie {
                f(scores[i].value(), tp, fp);
            }
        }
    }
    match u32::try_from(y.len()) {
        Ok(n) => {
            let mut order: Vec<u32> = (0..n).collect();
            order.sort_unstable_by(|&a, &b| {
                scores[b as usize]
                    .value()
                    .total_cmp(&scores[a as usize].value())
            });
            let order: Vec<U32> = order.into_iter().map(U32).collect();
            walk(&order, y, scores, &mut f);
        }
        Err(_) => {
            let mut order: Vec<usize> = (0..y.len()).collect();
            order.sort_unstable_by(|&a, &b| scores[b].value().total_cmp(&scores[a].value()));
            walk(&order, y, scores, &mut f);
        }
    }
}

/// A `u32` row index usable where a `usize` is expected.
#[derive(Clone, Copy)]
struct U32(u32);

impl From<U32> for usize {
    fn from(v: U32) -> usize {
        v.0 as usize
    }
}

/// Area under the ROC curve (trapezoids over distinct thresholds, ties
/// counted as half, as `roc_auc_score`).
pub fn roc_auc<S: Score>(y: &[u8], scores: &[S]) -> Result<f64, MetricError> {
    check(y, scores)?;
    let pos = y.iter().filter(|&&v| v == 1).count();
    let neg = y.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(MetricError::OneClass("ROC-AUC"));
    }
    let mut area = 0.0;
    let (mut prev_tpr, mut prev_fpr) = (0.0, 0.0);
    for_each_threshold(y, scores, |_, tp, fp| {
        let (tpr, fpr) = (tp as f64 / pos as f64, fp as f64 / neg as f64);
        area += (fpr - prev_fpr) * (tpr + prev_tpr) / 2.0;
        prev_tpr = tpr;
        prev_fpr = fpr;
    });
    Ok(area)
}

/// Average precision (the PR-AUC `average_precision_score` reports):
/// the sum over thresholds of (recall gain) x precision. Its baseline is
/// the positive rate.
pub fn average_precision<S: Score>(y: &[u8], scores: &[S]) -> Result<f64, MetricError> {
    check(y, scores)?;
    let pos = y.iter().filter(|&&v| v == 1).count();
    if pos == 0 {
        return Err(MetricError::OneClass("average precision"));
    }
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for_each_threshold(y, scores, |_, tp, fp| {
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    });
    Ok(ap)
}

/// One point of the precision-recall curve.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PrPoint {
    /// Scores >= this are positive.
    pub threshold: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
}

/// The precision-recall curve, highest threshold first (as
/// `precision_recall_curve`, without its final (1, 0) point).
pub fn pr_curve<S: Score>(y: &[u8], scores: &[S]) -> Result<Vec<PrPoint>, MetricError> {
    check(y, scores)?;
    let pos = y.iter().filter(|&&v| v == 1).count();
    if pos == 0 {
        return Err(MetricError::OneClass("the precision-recall curve"));
    }
    Ok(cumulative(y, scores)
        .into_iter()
        .map(|(threshold, tp, fp)| PrPoint {
            threshold,
            precision: tp as f64 / (tp + fp) as f64,
            recall: tp as f64 / pos as f64,
        })
        .collect())
}

/// The threshold with the best F1 of the positive class, and that F1
/// (the highest threshold wins a tie).
pub fn best_f1_threshold<S: Score>(y: &[u8], scores: &[S]) -> Result<(f64, f64), MetricError> {
    let mut best = (0.5, 0.0);
    for p in pr_curve(y, scores)? {
        let f1 = if p.precision + p.recall == 0.0 {
            0.0
        } else {
            2.0 * p.precision * p.recall / (p.precision + p.recall)
        };
        if f1 > best.1 {
            best = (p.threshold, f1);
        }
    }
    Ok(best)
}

/// Mean binary cross-entropy, probabilities clipped to [eps, 1 - eps]
/// with eps the f64 machine epsilon (scikit-learn's default).
pub fn log_loss<S: Score>(y: &[u8], probabilities: &[S]) -> Result<f64, MetricError> {
    check(y, probabilities)?;
    let eps = f64::EPSILON;
    let total: f64 = y
        .iter()
        .zip(probabilities)
        .map(|(&t, &p)| {
            let p = p.value().clamp(eps, 1.0 - eps);
            if t == 1 {
                -p.ln()
            } else {
                -(1.0 - p).ln()
            }
        })
        .sum();
    Ok(total / y.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        let y = [0, 0, 1, 1];
        let s = [0.1, 0.4, 0.35, 0.8];
        assert_eq!(roc_auc(&y, &s).unwrap(), 0.75);
        assert!((average_precision(&y, &s).unwrap() - 0.8333333333333333).abs() < 1e-15);
        let r = ClassificationReport::at_threshold(&y, &s, 0.5).unwrap();
        assert_eq!(r.confusion, [[2, 0], [1, 1]]);
        assert_eq!(r.classes[1].recall, 0.5);
        assert_eq!(r.classes[1].precision, 1.0);
        assert!(r.to_string().contains("degraded (1)"));
        assert_eq!(best_f1_threshold(&y, &s).unwrap(), (0.35, 0.8));
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(
            roc_auc(&[1, 1], &[0.1, 0.2]),
            Err(MetricError::OneClass("ROC-AUC"))
        );
        assert_eq!(
            roc_auc(&[1], &[0.1, 0.2]),
            Err(MetricError::Length {
                labels: 1,
                scores: 2
            })
        );
        assert_eq!(
            average_precision(&[0, 1], &[f64::NAN, 0.2]),
            Err(MetricError::NaN { index: 0 })
        );
        let r = ClassificationReport::new(&[0, 0], &[0, 0]).unwrap();
        assert_eq!(r.classes[1].f1, 0.0, "zero division gives 0");
    }
}
