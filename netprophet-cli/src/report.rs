//! Test-set reports shared by `train`, `tune` and `evaluate`.

use netprophet_core::metrics::{
    average_precision, best_f1_threshold, roc_auc, ClassificationReport,
};
use serde::Serialize;

/// How a model (or baseline) did on labelled rows.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    /// Rows scored.
    pub rows: usize,
    /// Positive rows.
    pub positives: usize,
    /// Positive rate: the PR-AUC of a model that knows nothing.
    pub base_rate: f64,
    /// Average precision; `None` without positives.
    pub pr_auc: Option<f64>,
    /// ROC-AUC; `None` with one class only.
    pub roc_auc: Option<f64>,
    /// Decision threshold of `report`.
    pub threshold: f64,
    /// Per-class report and confusion matrix at `threshold`.
    pub report: ClassificationReport,
    /// The threshold with the best F1 of the degraded class on these rows
    /// (optimistic: chosen on the rows it is measured on), and that F1.
    pub best_f1: Option<(f64, f64)>,
}

impl Evaluation {
    /// Evaluates scores at `threshold`.
    pub fn new(y: &[u8], scores: &[f64], threshold: f64) -> anyhow::Result<Self> {
        let positives = y.iter().filter(|&&v| v == 1).count();
        Ok(Evaluation {
            rows: y.len(),
            positives,
            base_rate: positives as f64 / y.len().max(1) as f64,
            pr_auc: average_precision(y, scores).ok(),
            roc_auc: roc_auc(y, scores).ok(),
            threshold,
            report: ClassificationReport::at_threshold(y, scores, threshold)?,
            best_f1: best_f1_threshold(y, scores).ok(),
        })
    }

    /// `precision 0.27 recall 0.40 F1 0.32 PR-AUC 0.21 (base rate 0.05)`.
    pub fn line(&self) -> String {
        let c = &self.report.classes[1];
        let [[_, fp], [fn_, tp]] = self.report.confusion;
        format!(
            "precision {:.2} recall {:.2} F1 {:.2} (caught {tp} of {} events, {fp} false alarms); PR-AUC {} vs base rate {:.3}; ROC-AUC {}",
            c.precision,
            c.recall,
            c.f1,
            tp + fn_,
            opt(self.pr_auc),
            self.base_rate,
            opt(self.roc_auc),
        )
    }
}

/// A metric with three decimals, or `n/a`.
pub fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_string(), |v| format!("{v:.3}"))
}
